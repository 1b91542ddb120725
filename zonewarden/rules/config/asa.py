"""Cisco ASA running-config: access-lists with object and object-group expansion, access-group binding.

``name``, ``object network``/``service``, ``object-group network``/``service``/
``protocol``/``icmp-type`` (nested ``group-object`` too) resolve to exact sets.
Each access-list is a rule list ending in the implicit deny; ``access-group NAME
in interface IF`` binds it to the interface (its rules get that input interface),
``out`` to the egress, ``global`` to every interface. Lists bound in the same
direction are alternatives chosen by interface; egress lists are a second stage.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field, replace

from zonewarden.errors import Location
from zonewarden.rules import intervals as iv
from zonewarden.rules.config._common import LineError, address, address_mask, config_lines
from zonewarden.rules.ruleset import (
    DENY,
    PERMIT,
    PROTOCOL_NUMBERS,
    Rule,
    RuleList,
    Ruleset,
    port_operator,
    protocol_ivs,
)

PORT_OPS = ("eq", "neq", "lt", "gt", "range")


@dataclass
class Service:
    """A protocol set with source and destination ports (one element of a service group)."""

    protocols: iv.IVS
    sport: iv.IVS = iv.PORT_ALL
    dport: iv.IVS = iv.PORT_ALL
    exact: bool = True


@dataclass
class _Objects:
    names: dict[str, iv.IVS] = field(default_factory=dict)
    networks: dict[str, iv.IVS] = field(default_factory=dict)
    services: dict[str, list[Service]] = field(default_factory=dict)
    net_groups: dict[str, iv.IVS] = field(default_factory=dict)
    svc_groups: dict[str, list[Service]] = field(default_factory=dict)
    port_groups: dict[str, tuple[iv.IVS, iv.IVS]] = field(default_factory=dict)  # name -> (protocols, ports)
    proto_groups: dict[str, iv.IVS] = field(default_factory=dict)
    icmp_groups: set[str] = field(default_factory=set)
    interfaces: dict[str, iv.IVS] = field(default_factory=dict)  # nameif -> its own address


def parse(text: str, file: str) -> Ruleset:
    rs = Ruleset("asa", file)
    lines = config_lines(text)
    objs = _Objects()
    acls: dict[str, RuleList] = {}
    bindings: list[tuple[str, str, str | None, int]] = []  # (acl, direction, interface, line)
    context: tuple[str, str] | None = None  # (kind, name) of the object block being read
    group_proto: iv.IVS | None = None
    current_if: str | None = None
    statements = 0
    deferred: list[tuple[list[str], int, str]] = []  # access-lists: read after every object is known
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith(("!", ":")):
            if not line.startswith(" "):
                context = None
            continue
        words = stripped.split()
        indented = line[:1] in (" ", "\t")
        try:
            if indented and context is not None:
                _object_line(rs, objs, context, group_proto, words, number, raw)
                continue
            if indented and current_if is not None:
                if words[0] == "nameif" and len(words) > 1:
                    objs.interfaces.setdefault(words[1], iv.EMPTY)
                    current_if = words[1]
                elif words[:2] == ["ip", "address"] and len(words) >= 4 and current_if in objs.interfaces:
                    with contextlib.suppress(LineError):
                        objs.interfaces[current_if] = address(words[2])
                continue
            context, group_proto, current_if = None, None, None
            head = words[0]
            if head == "hostname" and len(words) > 1:
                rs.notes.append(f"hostname {words[1]}")
                statements += 1
            elif head == "interface":
                current_if = "-"
                statements += 1
            elif head == "name" and len(words) >= 3:
                objs.names[words[2]] = address(words[1])
                statements += 1
            elif head == "object" and len(words) >= 3 and words[1] in ("network", "service"):
                context = (f"object-{words[1]}", words[2])
                if words[1] == "network":
                    objs.networks.setdefault(words[2], iv.EMPTY)
                else:
                    objs.services.setdefault(words[2], [])
                statements += 1
            elif head == "object-group" and len(words) >= 3:
                kind, name = words[1], words[2]
                context = (f"group-{kind}", name)
                statements += 1
                if kind == "network":
                    objs.net_groups.setdefault(name, iv.EMPTY)
                elif kind == "service" and len(words) >= 4:
                    proto = words[3]
                    group_proto = iv.ivs([(6, 6), (17, 17)]) if proto == "tcp-udp" else protocol_ivs(proto)
                    context = ("group-ports", name)
                    objs.port_groups.setdefault(name, (group_proto, iv.EMPTY))
                elif kind == "service":
                    objs.svc_groups.setdefault(name, [])
                elif kind == "protocol":
                    objs.proto_groups.setdefault(name, iv.EMPTY)
                elif kind == "icmp-type":
                    objs.icmp_groups.add(name)
                else:
                    rs.skip(number, raw, f"object-group {kind} is not analysed")
                    context = ("ignored", name)
            elif head == "access-list" and len(words) >= 3:
                statements += 1
                deferred.append((words, number, raw))
            elif head == "access-group" and len(words) >= 3:
                statements += 1
                acl = words[1]
                if words[2] == "global":
                    bindings.append((acl, "global", None, number))
                elif len(words) >= 5 and words[2] in ("in", "out") and words[3] == "interface":
                    bindings.append((acl, words[2], words[4], number))
                else:
                    rs.skip(number, raw, "access-group form not understood")
            elif head in ("ASA", "PIX", "FWSM") or head.startswith(":"):
                statements += 1
        except LineError as exc:
            rs.skip(number, raw, str(exc))
        except (ValueError, IndexError) as exc:
            rs.skip(number, raw, f"not understood ({exc})")
    if statements == 0:
        raise rs.error(1, "no ASA statements found (expected access-list, object or access-group lines)")
    for words, number, raw in deferred:
        try:
            _access_list(rs, objs, acls, words, number, raw)
        except LineError as exc:
            rs.skip(number, raw, str(exc))
        except (ValueError, IndexError) as exc:
            rs.skip(number, raw, f"not understood ({exc})")
    _bind(rs, acls, bindings)
    return rs


def _object_line(rs, objs: _Objects, context, group_proto, words, number, raw) -> None:
    kind, name = context
    head = words[0]
    if head in ("description", "nat"):
        return
    if kind == "object-network":
        if head == "host":
            objs.networks[name] = iv.union(objs.networks[name], address(words[1]))
        elif head == "subnet":
            value = address(words[1]) if "/" in words[1] else address_mask(words[1], words[2])
            objs.networks[name] = iv.union(objs.networks[name], value)
        elif head == "range":
            objs.networks[name] = iv.union(objs.networks[name], address(f"{words[1]}-{words[2]}"))
        else:
            rs.skip(number, raw, f"network object '{head}' is not analysed (the object matches nothing here)")
    elif kind == "object-service":
        if head == "service":
            objs.services[name].append(_service_spec(words[1:], objs))
        else:
            rs.skip(number, raw, f"service object '{head}' is not analysed")
    elif kind == "group-network":
        if head == "network-object":
            objs.net_groups[name] = iv.union(objs.net_groups[name], _net_object(words[1:], objs))
        elif head == "group-object":
            objs.net_groups[name] = iv.union(objs.net_groups[name], _lookup(objs.net_groups, words[1], "group"))
        else:
            rs.skip(number, raw, f"'{head}' in a network group is not analysed")
    elif kind == "group-ports":
        protos, ports = objs.port_groups[name]
        if head == "port-object":
            objs.port_groups[name] = (protos, iv.union(ports, port_operator(words[1], words[2:])))
        elif head == "group-object":
            _, other = _lookup(objs.port_groups, words[1], "service group")
            objs.port_groups[name] = (protos, iv.union(ports, other))
        else:
            rs.skip(number, raw, f"'{head}' in a service group is not analysed")
    elif kind == "group-service":
        if head == "service-object":
            if words[1] == "object":
                objs.svc_groups[name].extend(_lookup(objs.services, words[2], "service object"))
            else:
                objs.svc_groups[name].append(_service_spec(words[1:], objs))
        elif head == "group-object":
            if words[1] in objs.svc_groups:
                objs.svc_groups[name].extend(objs.svc_groups[words[1]])
            else:
                protos, ports = _lookup(objs.port_groups, words[1], "service group")
                objs.svc_groups[name].append(Service(protos, iv.PORT_ALL, ports))
        else:
            rs.skip(number, raw, f"'{head}' in a service group is not analysed")
    elif kind == "group-protocol":
        if head == "protocol-object":
            objs.proto_groups[name] = iv.union(objs.proto_groups[name], _proto(words[1]))
        elif head == "group-object":
            objs.proto_groups[name] = iv.union(
                objs.proto_groups[name], _lookup(objs.proto_groups, words[1], "protocol group")
            )
    # icmp-type groups narrow ICMP types only (the rule becomes conditional); ignored groups: nothing


def _lookup(table: dict, name: str, what: str):
    if name not in table:
        raise LineError(f"{what} '{name}' is not defined")
    return table[name]


def _proto(word: str) -> iv.IVS:
    if word == "tcp-udp":
        return iv.ivs([(6, 6), (17, 17)])
    try:
        return protocol_ivs(word)
    except ValueError as exc:
        raise LineError(str(exc)) from None


def _net_object(words: list[str], objs: _Objects) -> iv.IVS:
    if words[0] == "host":
        return objs.names.get(words[1]) or address(words[1])
    if words[0] == "object":
        return _lookup(objs.networks, words[1], "network object")
    if "/" in words[0]:
        return address(words[0])
    if len(words) >= 2:
        base = objs.names.get(words[0])
        if base is not None:
            return address_mask(iv.address_text(base[0][0]), words[1])
        return address_mask(words[0], words[1])
    return objs.names.get(words[0]) or address(words[0])


def _service_spec(words: list[str], objs: _Objects) -> Service:
    """``tcp [source OP P] [destination OP P]``, ``tcp eq 80`` (older), ``icmp [type]``, ``ip``."""
    proto = _proto(words[0])
    svc = Service(proto)
    i = 1
    while i < len(words):
        w = words[i]
        if w in ("source", "destination") and i + 1 < len(words) and words[i + 1] in PORT_OPS:
            n = 3 if words[i + 1] == "range" else 2
            ports = port_operator(words[i + 1], words[i + 2 : i + 1 + n])
            if w == "source":
                svc.sport = ports
            else:
                svc.dport = ports
            i += 1 + n
        elif w in PORT_OPS:
            n = 3 if w == "range" else 2
            svc.dport = port_operator(w, words[i + 1 : i + n])
            i += n
        else:
            svc.exact = False  # icmp type or other qualifier
            i += 1
    return svc


def _address_spec(words: list[str], i: int, objs: _Objects) -> tuple[iv.IVS, int]:
    w = words[i]
    if w == "any":
        return iv.ADDR_ALL, i + 1
    if w == "any4":
        return iv.V4_ALL, i + 1
    if w == "any6":
        return iv.V6_ALL, i + 1
    if w == "host":
        name = words[i + 1]
        return (objs.names.get(name) or address(name)), i + 2
    if w == "object":
        return _lookup(objs.networks, words[i + 1], "network object"), i + 2
    if w == "object-group":
        return _lookup(objs.net_groups, words[i + 1], "network object-group"), i + 2
    if w == "interface":
        found = objs.interfaces.get(words[i + 1])
        if not found:
            raise LineError(f"the address of interface '{words[i + 1]}' is not known")
        return found, i + 2
    if "/" in w:
        return address(w), i + 1
    if i + 1 < len(words) and re.fullmatch(r"\d+\.\d+\.\d+\.\d+", words[i + 1]):
        base = objs.names.get(w)
        return address_mask(iv.address_text(base[0][0]) if base else w, words[i + 1]), i + 2
    if w in objs.names:
        return objs.names[w], i + 1
    raise LineError(f"address '{w}' not understood")


def _ports_spec(words: list[str], i: int, objs: _Objects) -> tuple[iv.IVS | None, int]:
    if i >= len(words):
        return None, i
    w = words[i]
    if w in PORT_OPS:
        n = 3 if w == "range" else 2
        return port_operator(w, words[i + 1 : i + n]), i + n
    if w == "object-group" and i + 1 < len(words) and words[i + 1] in objs.port_groups:
        return objs.port_groups[words[i + 1]][1], i + 2
    return None, i


def _access_list(rs: Ruleset, objs: _Objects, acls: dict[str, RuleList], words, number, raw) -> None:
    name = words[1]
    rest = words[2:]
    if rest and rest[0] == "line" and len(rest) > 1:
        rest = rest[2:]
    if not rest or rest[0] == "remark":
        return
    kind = "extended"
    if rest[0] in ("extended", "standard", "webtype", "ethertype"):
        kind = rest[0]
        rest = rest[1:]
    if kind in ("webtype", "ethertype"):
        rs.skip(number, raw, f"{kind} access-lists are not analysed")
        return
    acl = acls.setdefault(name, RuleList(name, default=DENY, default_location=Location(rs.file, number)))
    if not rest or rest[0] not in ("permit", "deny"):
        rs.skip(number, raw, "access-list entry without permit or deny")
        return
    action = PERMIT if rest[0] == "permit" else DENY
    if kind == "standard":
        dst, _ = _address_spec(rest, 1, objs)
        acl.rules.append(
            Rule(action, iv.ADDR_ALL, dst, location=Location(rs.file, number), text=raw.strip(), chain=name)
        )
        return
    i = 1
    services: list[Service]
    w = rest[i]
    if w == "object-group":
        group = rest[i + 1]
        if group in objs.svc_groups:
            services = objs.svc_groups[group]
        elif group in objs.proto_groups:
            services = [Service(objs.proto_groups[group])]
        else:
            raise LineError(f"service or protocol object-group '{group}' is not defined")
        i += 2
    elif w == "object":
        name = rest[i + 1]
        if name in objs.services:
            services = objs.services[name]
        elif name.startswith("icmp"):  # predefined ICMP type objects
            services = [Service(iv.point(1), exact=False)]
        elif name.lower() in PROTOCOL_NUMBERS:  # predefined protocol objects (ospf, gre, ...)
            services = [Service(_proto(name.lower()))]
        else:
            raise LineError(f"service object '{rest[i + 1]}' is not defined (a predefined ICMP or protocol object?)")
        i += 2
    else:
        services = [Service(_proto(w))]
        i += 1
    src, i = _address_spec(rest, i, objs)
    sport, i = _ports_spec(rest, i, objs)
    dst, i = _address_spec(rest, i, objs)
    dport, i = _ports_spec(rest, i, objs)
    log = False
    inactive = False
    conditions = []
    while i < len(rest):
        w = rest[i]
        if w == "log":
            log = True
            if i + 1 < len(rest) and (
                rest[i + 1].isdigit()
                or rest[i + 1]
                in (
                    "disable",
                    "default",
                    "emergencies",
                    "alerts",
                    "critical",
                    "errors",
                    "warnings",
                    "notifications",
                    "informational",
                    "debugging",
                )
            ):
                log = rest[i + 1] != "disable"
                i += 1
        elif w == "interval":
            i += 1
        elif w == "inactive":
            inactive = True
        elif w == "time-range":
            conditions.append(f"time-range {rest[i + 1] if i + 1 < len(rest) else ''}")
            i += 1
        elif w in ("echo", "echo-reply", "unreachable", "time-exceeded") or w.isdigit():
            conditions.append(f"icmp {w}")
        elif w == "object-group" and i + 1 < len(rest) and rest[i + 1] in objs.icmp_groups:
            conditions.append(f"icmp-type group {rest[i + 1]}")
            i += 1
        else:
            conditions.append(w)
        i += 1
    if inactive:
        rs.skip(number, raw, "inactive entry (matches nothing)")
        return
    for svc in services:
        acl.rules.append(
            Rule(
                action,
                src,
                dst,
                svc.protocols,
                sport if sport is not None else svc.sport,
                dport if dport is not None else svc.dport,
                stateful=True,
                log=log,
                chain=name,
                location=Location(rs.file, number),
                text=raw.strip(),
                exact=svc.exact and not conditions,
                conditions=tuple(conditions) + (() if svc.exact else ("service qualifier",)),
            )
        )


def _bind(rs: Ruleset, acls: dict[str, RuleList], bindings) -> None:
    if not bindings:
        for acl in acls.values():
            rs.add_list(acl)
        if acls:
            rs.notes.append("no access-group: every access-list is analysed as if applied")
        return
    bound = set()
    for name, direction, interface, number in bindings:
        acl = acls.get(name)
        if acl is None:
            rs.skip(number, f"access-group {name}", f"access-list '{name}' is not defined")
            continue
        bound.add(name)
        key = "in_ifaces" if direction in ("in", "global") else "out_ifaces"
        rules = [replace(r, **{key: (interface,)}) if interface else r for r in acl.rules]
        label = f"{name} {direction}" + (f" {interface}" if interface else "")
        rs.add_list(
            RuleList(
                label,
                rules,
                default=DENY,
                default_location=Location(rs.file, number),
                hook="forward",
                stage=1 if direction == "out" else 0,
            )
        )
    for name in acls:
        if name not in bound:
            rs.notes.append(f"access-list {name} is not applied by an access-group (not analysed)")
