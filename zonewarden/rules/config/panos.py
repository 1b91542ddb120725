"""Palo Alto PAN-OS security rules, from the set format, the XML configuration (what Aerleon's
``paloalto`` target renders, and Panorama exports) or the brace ``show config`` format.

All three are flattened into the same statements as Junos (:mod:`.srx`): a path of words
per leaf (``rulebase security rules R from trust``); XML ``<entry name="x">`` is the word
``x`` and ``<member>`` a value. Paths are scoped to a vsys (``vsys1`` when unnamed), a
Panorama device-group or ``shared``; objects resolve in their scope, then in ``shared``.

Each scope's rules form one first-match list (Panorama: shared pre-rules, the device
group's pre-rules, local rules, its post-rules, shared post-rules; ``move`` lines reorder).
``from``/``to`` zones are the rules' in/out interfaces; ``rule-type intrazone`` and
``interzone`` restrict the zone pairs. After the rules come PAN-OS' predefined defaults:
``interzone-default`` deny (the list default) and ``intrazone-default`` allow, written as
one implicit permit per known zone (at the rulebase line) unless an earlier rule already
decides all of that zone's traffic or ``default-security-rules`` changes it to deny.
Services resolve through ``service``/``service-group`` and the predefined
``service-http``/``service-https``. App-ID is not modelled: a rule naming applications,
or using ``service application-default`` (whose ports depend on the application), is
inexact and matched as any protocol; so are users, URL categories, HIP profiles and
schedules. ``log-end`` is on unless set to ``no``. Disabled rules, FQDN and dynamic
address objects, NAT and other rulebases are reported as skipped. XML entity
declarations are refused (no entity is ever expanded or fetched).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.parsers import expat

from zonewarden.errors import Location
from zonewarden.rules import intervals as iv
from zonewarden.rules.config._common import LineError, address, port_span, service_rules, wildcard_ivs
from zonewarden.rules.config.srx import Flat, Stmt, flatten_braces, flatten_set, is_set_format
from zonewarden.rules.ruleset import DENY, DROP, PERMIT, REJECT, Rule, RuleList, Ruleset, protocol_ivs

DEFAULT_VSYS = "vsys1"
SHARED = "shared"
Service = tuple[iv.IVS, iv.IVS, iv.IVS]
ALL_SERVICE: Service = (iv.PROTO_ALL, iv.PORT_ALL, iv.PORT_ALL)
PREDEFINED_SERVICES = {
    "service-http": [(iv.point(6), iv.PORT_ALL, iv.ivs([(80, 80), (8080, 8080)]))],
    "service-https": [(iv.point(6), iv.PORT_ALL, iv.point(443))],
}
ACTIONS = {
    "allow": PERMIT,
    "deny": DENY,
    "drop": DROP,
    "reset-client": REJECT,
    "reset-server": REJECT,
    "reset-both": REJECT,
}
RULEBASES = ("pre-rulebase", "rulebase", "post-rulebase")
_OTHER_RULEBASES = (
    "nat",
    "pbf",
    "qos",
    "decryption",
    "application-override",
    "authentication",
    "dos",
    "tunnel-inspect",
    "sdwan",
    "network-packet-broker",
)

# ----------------------------------------------------------------------------- XML


class _Refused(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class _Frame:
    path: tuple[str, ...]
    line: int
    tag: str
    text: list[str] = field(default_factory=list)
    children: bool = False


def flatten_xml(text: str, rs: Ruleset) -> Flat:
    flat = Flat()
    parser = expat.ParserCreate()
    stack: list[_Frame] = []

    def refuse(*_args: object) -> None:
        raise _Refused(parser.CurrentLineNumber, "XML entity declarations are not accepted")

    def start(tag: str, attrs: dict[str, str]) -> None:
        parent = stack[-1] if stack else None
        base = parent.path if parent else ()
        if parent is not None:
            parent.children = True
        if tag == "entry" and "name" in attrs:
            path = (*base, attrs["name"])
        elif tag == "member":
            path = base
        else:
            path = (*base, tag)
        line = parser.CurrentLineNumber
        for n in range(1, len(path) + 1):
            flat.first_line.setdefault(path[:n], line)
        stack.append(_Frame(path, line, tag))

    def end(tag: str) -> None:
        frame = stack.pop()
        value = "".join(frame.text).strip()
        if value and not frame.children:
            flat.add((*frame.path, value), frame.line, f"<{tag}>{value[:80]}</{tag}>")
        elif not frame.children and tag != "member":
            flat.add(frame.path, frame.line, f"<{tag}/>")

    def chars(data: str) -> None:
        if stack:
            stack[-1].text.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise rs.error(exc.lineno or 1, f"not well-formed XML: {expat.ErrorString(exc.code)}") from None
    except _Refused as exc:
        raise rs.error(exc.line, str(exc)) from None
    return flat


# ----------------------------------------------------------------------------- scopes


def _scoped(words: tuple[str, ...]) -> tuple[str, int] | None:
    """(scope, number of words that named it) for a statement path; None outside any scope."""
    k = 0
    if words[:1] == ("config",):
        k = 1
        if words[1:2] == ("devices",) and len(words) > 2:
            k = 3
        elif words[1:2] == ("shared",):
            return SHARED, 2
        elif words[1:2] in (("mgt-config",), ("readonly",), ("panorama",)):
            return None
    rest = words[k:]
    if rest[:1] == ("vsys",) and len(rest) > 1:
        return rest[1], k + 2
    if rest[:1] == ("device-group",) and len(rest) > 1:
        return rest[1], k + 2
    if rest[:1] == ("shared",):
        return SHARED, k + 1
    if rest[:1] in (("template",), ("template-stack",)):
        return None
    return DEFAULT_VSYS, k


@dataclass
class _RuleDef:
    name: str
    scope: str
    base: str  # pre-rulebase, rulebase or post-rulebase
    line: int
    prefix: tuple[str, ...]
    stmts: list[tuple[tuple[str, ...], Stmt]] = field(default_factory=list)


@dataclass
class _Scope:
    addresses: dict[str, tuple[list[tuple[str, ...]], int]] = field(default_factory=dict)
    groups: dict[str, tuple[list[tuple[str, ...]], int]] = field(default_factory=dict)
    services: dict[str, tuple[list[tuple[str, ...]], int]] = field(default_factory=dict)
    service_groups: dict[str, list[str]] = field(default_factory=dict)
    zones: list[str] = field(default_factory=list)
    rules: dict[str, _RuleDef] = field(default_factory=dict)
    rulebase_line: int = 0
    other_line: int = 0  # an empty rulebase's (or the first zone's) line, when no rule names one
    intrazone: tuple[str, bool] | None = None  # (action, log) of default-security-rules intrazone-default
    interzone: tuple[str, bool] | None = None


def parse(text: str, file: str) -> Ruleset:
    rs = Ruleset("panos", file)
    moves: list[tuple[int, list[str]]] = []

    def move(number: int, words: list[str]) -> bool:
        if words[0] != "move":
            return False
        moves.append((number, words[1:]))
        return True

    stripped = text.lstrip()
    if stripped.startswith("<"):
        flat = flatten_xml(text, rs)
    elif is_set_format(text):
        flat = flatten_set(text, rs, "PAN-OS", extra=move)
    elif "{" in text:
        flat = flatten_braces(text, rs)
    else:
        raise rs.error(1, "no PAN-OS configuration found (neither 'set' lines, XML nor a '{ }' hierarchy)")
    if not flat.stmts:
        raise rs.error(1, "no PAN-OS configuration statements found")
    scopes = _collect(flat, rs)
    _apply_moves(scopes, moves, rs)
    _build(scopes, flat, rs)
    return rs


def _collect(flat: Flat, rs: Ruleset) -> dict[str, _Scope]:
    scopes: dict[str, _Scope] = {}
    reported: set[tuple[str, ...]] = set()
    for s in flat.stmts:
        found = _scoped(s.words)
        if found is None:
            continue
        name, k = found
        sc = scopes.setdefault(name, _Scope())
        w = s.words[k:]
        if not w:
            continue
        head = w[0]
        if head == "deviceconfig" and w[1:3] == ("system", "hostname") and len(w) > 3:
            rs.notes.append(f"hostname {w[3]}")
        elif head == "address" and len(w) >= 3:
            sc.addresses.setdefault(w[1], ([], s.line))[0].append(w[2:])
        elif head == "address-group" and len(w) >= 3:
            sc.groups.setdefault(w[1], ([], s.line))[0].append(w[2:])
        elif head == "service" and len(w) >= 3:
            sc.services.setdefault(w[1], ([], s.line))[0].append(w[2:])
        elif head == "service-group" and len(w) >= 4 and w[2] == "members":
            sc.service_groups.setdefault(w[1], []).append(w[3])
        elif head == "zone" and len(w) >= 2:
            if w[1] not in sc.zones:
                sc.zones.append(w[1])
                sc.other_line = sc.other_line or flat.line_of(s.words[: k + 1], s.line)
        elif head in RULEBASES and len(w) == 1:
            sc.other_line = flat.line_of(s.words[: k + 1], s.line)
        elif head in RULEBASES and len(w) >= 2:
            if w[1] == "security" and len(w) >= 5 and w[2] == "rules":
                prefix = s.words[: k + 4]
                rule = sc.rules.get(w[3])
                if rule is None:
                    rule = sc.rules[w[3]] = _RuleDef(w[3], name, head, flat.line_of(prefix, s.line), prefix)
                    if not sc.rulebase_line:
                        sc.rulebase_line = flat.line_of(s.words[: k + 2], s.line)
                rule.stmts.append((w[4:], s))
            elif w[1] == "default-security-rules" and len(w) >= 6 and w[2] == "rules" and w[4] == "action":
                which = w[3]
                setting = (w[5], False)
                if which == "intrazone-default":
                    sc.intrazone = (w[5], sc.intrazone[1] if sc.intrazone else False)
                elif which == "interzone-default":
                    sc.interzone = setting
            elif w[1] == "default-security-rules" and len(w) >= 6 and w[4] == "log-end":
                if w[3] == "intrazone-default":
                    sc.intrazone = (sc.intrazone[0] if sc.intrazone else "allow", w[5] == "yes")
            elif w[1] in _OTHER_RULEBASES and len(w) >= 4 and w[2] == "rules":
                block = s.words[: k + 4]
                if block not in reported:
                    reported.add(block)
                    rs.skip(s.line, " ".join(w[:4]), f"{w[1]} rules are not analysed")
    return scopes


def _apply_moves(scopes: dict[str, _Scope], moves: list[tuple[int, list[str]]], rs: Ruleset) -> None:
    for number, words in moves:
        found = _scoped(tuple(words))
        if found is None:
            continue
        scope, k = found
        w = words[k:]
        sc = scopes.get(scope)
        if sc is None or len(w) < 5 or w[0] not in RULEBASES or w[1:3] != ["security", "rules"]:
            rs.skip(number, "move " + " ".join(words), "'move' of something other than a security rule (ignored)")
            continue
        name, where = w[3], w[4]
        anchor = w[5] if len(w) > 5 else None
        names = list(sc.rules)
        if name not in names or (where in ("before", "after") and anchor not in names):
            rs.skip(number, "move " + " ".join(words), "'move' names a rule that is not defined")
            continue
        names.remove(name)
        if where == "top":
            names.insert(0, name)
        elif where == "bottom":
            names.append(name)
        elif where in ("before", "after") and anchor is not None:
            i = names.index(anchor)
            names.insert(i if where == "before" else i + 1, name)
        else:
            rs.skip(number, "move " + " ".join(words), f"'move ... {where}' is not understood")
            continue
        sc.rules = {n: sc.rules[n] for n in names}


# ----------------------------------------------------------------------------- objects


class _Resolver:
    def __init__(self, scopes: dict[str, _Scope], scope: str, rs: Ruleset) -> None:
        self.chain = [scopes[s] for s in (scope, SHARED) if s in scopes]
        self.rs = rs
        self.reported: set[str] = set()

    def address(self, name: str, depth: int = 0) -> iv.IVS | None:
        if name == "any":
            return iv.ADDR_ALL
        for sc in self.chain:
            if name in sc.addresses:
                return self._address_object(name, *sc.addresses[name])
            if name in sc.groups:
                members, line = sc.groups[name]
                parts = []
                for words in members:
                    if words[0] == "static" and len(words) >= 2:
                        found = self.address(words[1], depth + 1) if depth < 32 else None
                        if found is None:
                            return None
                        parts.append(found)
                    elif words[0] == "dynamic":
                        self._once(line, f"address-group {name}", "dynamic address groups are not analysed")
                        return None
                return iv.union_all(parts)
        if re.match(r"^[0-9a-fA-F:.]+(/\d+)?(-[0-9a-fA-F:.]+)?$", name):
            try:
                return address(name)
            except LineError:
                return None
        return None

    def _address_object(self, name: str, specs: list[tuple[str, ...]], line: int) -> iv.IVS | None:
        for words in specs:
            if len(words) < 2:
                continue
            kind, value = words[0], words[1]
            try:
                if kind in ("ip-netmask", "ip-range"):
                    return address(value)
                if kind == "ip-wildcard":
                    addr, _, mask = value.partition("/")
                    import ipaddress

                    inverted = (~int(ipaddress.IPv4Address(mask))) & 0xFFFFFFFF
                    return wildcard_ivs(addr, str(ipaddress.IPv4Address(inverted)))
                if kind == "fqdn":
                    self._once(line, f"address {name} fqdn {value}", "FQDN address objects are not analysed")
                    return None
            except (LineError, ValueError) as exc:
                self._once(line, f"address {name} {kind} {value}", f"address not understood: {exc}")
                return None
        return None

    def services(self, name: str, depth: int = 0) -> list[Service] | None:
        if name == "any":
            return [ALL_SERVICE]
        for sc in self.chain:
            if name in sc.services:
                return self._service_object(name, *sc.services[name])
            if name in sc.service_groups:
                out: list[Service] = []
                for member in sc.service_groups[name]:
                    found = self.services(member, depth + 1) if depth < 32 else None
                    if found is None:
                        return None
                    out += found
                return out
        return PREDEFINED_SERVICES.get(name)

    def _service_object(self, name: str, specs: list[tuple[str, ...]], line: int) -> list[Service] | None:
        by_proto: dict[str, dict[str, str]] = {}
        for words in specs:
            if words[0] == "protocol" and len(words) >= 4:
                by_proto.setdefault(words[1], {})[words[2]] = words[3]
            elif words[0] == "protocol" and len(words) == 2:
                by_proto.setdefault(words[1], {})
        out: list[Service] = []
        try:
            for proto, keys in by_proto.items():
                dport = _port_list(keys["port"]) if "port" in keys else iv.PORT_ALL
                sport = _port_list(keys["source-port"]) if "source-port" in keys else iv.PORT_ALL
                out.append((protocol_ivs(proto), sport, dport))
        except (LineError, ValueError) as exc:
            self._once(line, f"service {name}", f"service not understood: {exc}")
            return None
        return out or None

    def _once(self, line: int, text: str, reason: str) -> None:
        if text not in self.reported:
            self.reported.add(text)
            self.rs.skip(line, text, reason)


def _port_list(text: str) -> iv.IVS:
    return iv.union_all(port_span(p) for p in text.split(",") if p.strip())


# ----------------------------------------------------------------------------- rules


def _build(scopes: dict[str, _Scope], flat: Flat, rs: Ruleset) -> None:
    shared = scopes.get(SHARED, _Scope())
    targets = [s for s, sc in scopes.items() if s != SHARED and (sc.rules or sc.zones)]
    if not targets and shared.rules:
        targets = [SHARED]
    several = len(targets) > 1
    for scope in targets:
        sc = scopes[scope]
        resolver = _Resolver(scopes, scope, rs)
        ordered: list[_RuleDef] = []
        for base in RULEBASES:
            if scope != SHARED and base == "pre-rulebase":
                ordered += [r for r in shared.rules.values() if r.base == base]
            ordered += [r for r in sc.rules.values() if r.base == base]
            if scope != SHARED and base == "post-rulebase":
                ordered += [r for r in shared.rules.values() if r.base == base]
        name = f"{scope} security" if several else "security"
        interzone = sc.interzone or shared.interzone
        lst = RuleList(
            name,
            default=PERMIT if interzone and interzone[0] == "allow" else DENY,
            default_explicit=interzone is not None,
            default_location=Location(rs.file, sc.rulebase_line or shared.rulebase_line),
            hook="forward",
        )
        line = sc.rulebase_line or shared.rulebase_line or sc.other_line or 1
        lst.default_location = Location(rs.file, line)
        zones: list[str] = list(sc.zones)
        for r in ordered:
            lst.rules.extend(_rule(rs, resolver, r, name, zones))
        intrazone = sc.intrazone or shared.intrazone or ("allow", False)
        if intrazone[0] == "allow":
            lst.rules.extend(_intrazone_defaults(rs, lst, zones, intrazone[1], line, name))
        rs.add_list(lst)


def _values(keys: dict[str, list[str]], key: str) -> list[str]:
    return [v for v in keys.get(key, []) if v]


def _rule(rs: Ruleset, resolver: _Resolver, r: _RuleDef, list_name: str, zones: list[str]) -> list[Rule]:
    keys: dict[str, list[str]] = {}
    for rest, _s in r.stmts:
        if rest:
            keys.setdefault(rest[0], []).append(rest[1] if len(rest) > 1 else "")
    text = f"rule {r.name}" + (f" ({r.base})" if r.base != "rulebase" else "")
    if "yes" in keys.get("disabled", []):
        rs.skip(r.line, text, "disabled rule (matches nothing)")
        return []
    missing = [k for k in ("from", "to", "source", "destination", "action") if not _values(keys, k)]
    if missing:
        rs.skip(r.line, text, f"incomplete rule (no {', '.join(missing)}): not analysed")
        return []
    action_word = _values(keys, "action")[0]
    if action_word not in ACTIONS:
        rs.skip(r.line, text, f"unknown action '{action_word}': not analysed")
        return []
    action = ACTIONS[action_word]
    conditions: list[str] = []
    src = _addresses(resolver, r, _values(keys, "source"), "source", conditions)
    dst = _addresses(resolver, r, _values(keys, "destination"), "destination", conditions)
    if "yes" in keys.get("negate-source", []):
        src = iv.subtract(iv.ADDR_ALL, src)
    if "yes" in keys.get("negate-destination", []):
        dst = iv.subtract(iv.ADDR_ALL, dst)
    apps = _values(keys, "application") or ["any"]
    if "any" not in apps:
        conditions.append(f"application {','.join(apps)} (App-ID not analysed)")
    services: list[Service] = []
    everything = False
    for name in _values(keys, "service") or ["application-default"]:
        if name == "application-default":
            conditions.append(
                "service application-default: the ports depend on the application"
                + (" (application any: every application's default ports)" if "any" in apps else "")
            )
            everything = True
            continue
        found = resolver.services(name)
        if found is None:
            rs.skip(r.line, f"{text} service {name}", f"service '{name}' is not defined: matched as any (inexact)")
            conditions.append(f"service {name} not analysed")
            everything = True
            continue
        services += found
    if everything or not services:
        services = [ALL_SERVICE]
    services = _merge(services)
    for key in ("source-user", "category", "hip-profiles", "source-hip", "destination-hip"):
        values = [v for v in _values(keys, key) if v != "any"]
        if values:
            conditions.append(f"{key} {','.join(values)}")
    if _values(keys, "schedule"):
        conditions.append(f"schedule {_values(keys, 'schedule')[0]}")
    log = "no" not in keys.get("log-end", []) or "yes" in keys.get("log-start", [])
    froms = tuple(_values(keys, "from"))
    tos = tuple(_values(keys, "to"))
    for z in froms + tos:
        if z != "any" and z not in zones:
            zones.append(z)
    rule_type = (_values(keys, "rule-type") or ["universal"])[0]
    pairs: list[tuple[tuple[str, ...] | None, tuple[str, ...] | None]] = []
    in_any, out_any = "any" in froms, "any" in tos
    if rule_type == "intrazone":
        if in_any or out_any:
            pairs = [(None, None)]
            conditions.append("rule-type intrazone (within one zone)")
        else:
            pairs = [((z,), (z,)) for z in froms]
    elif rule_type == "interzone" and not (in_any or out_any):
        for z in froms:
            others = tuple(t for t in tos if t != z)
            if others:
                pairs.append(((z,), others))
    else:
        if rule_type == "interzone":
            conditions.append("rule-type interzone (between different zones)")
        pairs = [(None if in_any else froms, None if out_any else tos)]
    rules = []
    for in_ifaces, out_ifaces in pairs:
        rules += service_rules(
            services, action, src, dst, log=log, in_ifaces=in_ifaces, out_ifaces=out_ifaces, chain=list_name,
            location=Location(rs.file, r.line), text=text, name=r.name, conditions=conditions,
        )  # fmt: skip
    return rules


def _merge(services: list[Service]) -> list[Service]:
    """Services of one protocol and source ports as one rule (their destination ports joined)."""
    merged: dict[tuple[iv.IVS, iv.IVS], iv.IVS] = {}
    for proto, sport, dport in services:
        key = (proto, sport)
        merged[key] = iv.union_all([merged[key], dport]) if key in merged else dport
    return [(proto, sport, dport) for (proto, sport), dport in merged.items()]


def _addresses(resolver: _Resolver, r: _RuleDef, names: list[str], key: str, conditions: list[str]) -> iv.IVS:
    out: list[iv.IVS] = []
    for name in names:
        value = resolver.address(name)
        if value is None:
            conditions.append(f"{key} {name} not analysed")
            resolver._once(r.line, f"rule {r.name} {key} {name}", f"address '{name}' is not defined or not analysed")
            continue
        out.append(value)
    return iv.union_all(out)


def _decides_everything(rule: Rule, zone: str | None) -> bool:
    def covers(names: tuple[str, ...] | None) -> bool:
        return names is None or (zone is not None and zone in names)

    return (
        rule.exact
        and not rule.disabled
        and iv.contains(rule.src, iv.ADDR_ALL)
        and iv.contains(rule.dst, iv.ADDR_ALL)
        and rule.protocols == iv.PROTO_ALL
        and rule.sport == iv.PORT_ALL
        and rule.dport == iv.PORT_ALL
        and covers(rule.in_ifaces)
        and covers(rule.out_ifaces)
    )


def _intrazone_defaults(
    rs: Ruleset, lst: RuleList, zones: list[str], log: bool, line: int, list_name: str
) -> list[Rule]:
    """PAN-OS' predefined intrazone-default allow, for each zone whose traffic no rule decides."""
    if any(_decides_everything(r, None) for r in lst.rules):
        return []
    out = []
    for zone in zones:
        if any(_decides_everything(r, zone) for r in lst.rules):
            continue
        out.append(
            Rule(
                PERMIT,
                stateful=True,
                log=log,
                in_ifaces=(zone,),
                out_ifaces=(zone,),
                chain=list_name,
                location=Location(rs.file, line),
                text=f"intrazone-default (PAN-OS predefined rule: allow within zone {zone})",
                name="intrazone-default",
            )
        )
    return out
