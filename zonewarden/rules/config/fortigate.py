"""FortiGate (FortiOS) configuration: ``config firewall address/address6/addrgrp/addrgrp6``,
``service custom``/``service group``, ``firewall policy`` (and ``policy6``), with VDOMs.

Policies are one first-match list per VDOM in the order they appear, ending in
FortiOS's implicit deny; ``srcintf``/``dstintf`` are the rules' interfaces (or
FortiOS zones). ``status disable`` policies match nothing; ``logtraffic
disable`` means no log (the default, ``utm``, logs security events only and
counts as not logging traffic). Predefined services absent from a snippet come
from FortiOS's defaults. Other firewall sections that filter (local-in, DoS,
proxy policies) are reported as skipped; unrelated sections are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zonewarden.errors import Location
from zonewarden.rules import intervals as iv
from zonewarden.rules.config._common import (
    LineError,
    address,
    address_mask,
    config_lines,
    port_span,
    service_rules,
    tokens,
)
from zonewarden.rules.ruleset import DENY, PERMIT, Rule, RuleList, Ruleset

# FortiOS predefined services (used when a snippet refers to them without defining them).
PREDEFINED = {
    "ALL": "ip",
    "ALL_TCP": "tcp 1-65535",
    "ALL_UDP": "udp 1-65535",
    "ALL_ICMP": "icmp",
    "ALL_ICMP6": "58",
    "PING": "icmp",
    "HTTP": "tcp 80",
    "HTTPS": "tcp 443",
    "SSH": "tcp 22",
    "TELNET": "tcp 23",
    "FTP": "tcp 21",
    "DNS": "tcp 53 udp 53",
    "NTP": "tcp 123 udp 123",
    "SMTP": "tcp 25",
    "SMTPS": "tcp 465",
    "SNMP": "tcp 161-162 udp 161-162",
    "SYSLOG": "udp 514",
    "RDP": "tcp 3389",
    "VNC": "tcp 5900",
    "SAMBA": "tcp 139",
    "SMB": "tcp 445",
    "LDAP": "tcp 389",
    "KERBEROS": "tcp 88 udp 88",
    "TFTP": "udp 69",
    "IMAP": "tcp 143",
    "IMAPS": "tcp 993",
    "POP3": "tcp 110",
    "POP3S": "tcp 995",
    "MYSQL": "tcp 3306",
    "MS-SQL": "tcp 1433 tcp 1434",
    "RADIUS": "udp 1812 udp 1813",
    "DHCP": "udp 67-68",
    "BGP": "tcp 179",
    "IKE": "udp 500 udp 4500",
    "GRE": "47",
    "ESP": "50",
    "AH": "51",
    "OSPF": "89",
    "TRACEROUTE": "udp 33434-33535",
    "WEBPROXY": "tcp 0-65535",
}
FILTERING_SECTIONS = (
    "firewall local-in-policy",
    "firewall local-in-policy6",
    "firewall DoS-policy",
    "firewall DoS-policy6",
    "firewall proxy-policy",
    "firewall explicit-proxy-policy",
    "firewall policy46",
    "firewall policy64",
    "firewall interface-policy",
    "firewall multicast-policy",
)


@dataclass
class Edit:
    name: str
    line: int
    sets: dict[str, tuple[list[str], int, str]] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)


@dataclass
class Section:
    name: str
    line: int
    edits: list[Edit] = field(default_factory=list)
    sets: dict[str, tuple[list[str], int, str]] = field(default_factory=dict)


def _tree(text: str, rs: Ruleset) -> list[Section]:
    """The nested config/edit/set/next/end structure, with line numbers."""
    top: list[Section] = []
    stack: list[Section | Edit] = []
    statements = 0
    for number, raw in enumerate(config_lines(text), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = tokens(line)
        head = words[0]
        if head == "config":
            statements += 1
            section = Section(" ".join(words[1:]), number)
            parent = stack[-1] if stack else None
            if parent is None:
                top.append(section)
            elif isinstance(parent, Edit):
                parent.sections.append(section)
            else:  # config directly inside config (vdom blocks, global)
                holder = Edit("", number)
                holder.sections.append(section)
                parent.edits.append(holder)
            stack.append(section)
        elif head == "edit":
            if not stack or not isinstance(stack[-1], Section):
                raise rs.error(number, "'edit' outside a 'config' block")
            edit = Edit(words[1] if len(words) > 1 else "", number)
            stack[-1].edits.append(edit)
            stack.append(edit)
        elif head == "next":
            if stack and isinstance(stack[-1], Edit):
                stack.pop()
            elif not stack:
                raise rs.error(number, "'next' outside an 'edit' block")
        elif head == "end":
            if stack and isinstance(stack[-1], Edit):  # 'end' closing an edit that had no 'next'
                stack.pop()
            if not stack:
                raise rs.error(number, "'end' without a matching 'config'")
            stack.pop()
        elif head in ("set", "unset", "append", "select", "unselect"):
            if not stack:
                rs.skip(number, raw, f"'{head}' outside a 'config' block")
                continue
            if head in ("set", "append") and len(words) >= 2:
                target = stack[-1]
                values = words[2:]
                if head == "append" and words[1] in target.sets:
                    values = target.sets[words[1]][0] + values
                target.sets[words[1]] = (values, number, raw.strip())
        else:
            rs.skip(number, raw, f"not a FortiOS configuration statement ('{head}')")
    if stack:
        first = stack[0]
        raise rs.error(
            first.line,
            f"'config {first.name}' is not closed with 'end'" if isinstance(first, Section) else "block is not closed",
        )
    if statements == 0:
        raise rs.error(1, "no FortiOS 'config' blocks found")
    return top


def _vdoms(sections: list[Section]) -> list[tuple[str, list[Section]]]:
    """(vdom name, its sections); a configuration without VDOMs is one 'root'."""
    out: dict[str, list[Section]] = {}
    for s in sections:
        if s.name == "vdom":
            for e in s.edits:
                if e.name:
                    out.setdefault(e.name, []).extend(e.sections)
        elif s.name == "global":
            for e in s.edits:
                out.setdefault("global", []).extend(e.sections)
        else:
            out.setdefault("root", []).append(s)
    return [(name, secs) for name, secs in out.items() if name != "global"]


def parse(text: str, file: str) -> Ruleset:
    rs = Ruleset("fortigate", file)
    sections = _tree(text, rs)
    for s in sections:
        if s.name == "system global" and "hostname" in s.sets:
            rs.notes.append(f"hostname {s.sets['hostname'][0][0]}")
    vdoms = _vdoms(sections)
    for vdom, secs in vdoms:
        _vdom(rs, vdom, secs, len(vdoms) > 1)
    return rs


def _vdom(rs: Ruleset, vdom: str, sections: list[Section], several: bool) -> None:
    by_name: dict[str, list[Section]] = {}
    for s in sections:
        by_name.setdefault(s.name, []).append(s)
    addresses: dict[str, iv.IVS | None] = {"all": iv.V4_ALL, "none": iv.EMPTY}
    addresses6: dict[str, iv.IVS | None] = {"all": iv.V6_ALL, "none": iv.EMPTY}
    for kind, table, family_all in (("address", addresses, iv.V4_ALL), ("address6", addresses6, iv.V6_ALL)):
        for s in by_name.get(f"firewall {kind}", []):
            for e in s.edits:
                table[e.name] = _address(rs, e, family_all)
        for s in by_name.get(f"firewall addrgrp{'6' if kind == 'address6' else ''}", []):
            for e in s.edits:
                members = e.sets.get("member", ([], e.line, ""))[0]
                sets = [table.get(m) for m in members]
                table[e.name] = None if any(x is None for x in sets) else iv.union_all(x for x in sets if x)
    services: dict[str, list[tuple[iv.IVS, iv.IVS, iv.IVS]] | None] = {}
    for s in by_name.get("firewall service custom", []):
        for e in s.edits:
            services[e.name] = _service(rs, e)
    for name, spec in PREDEFINED.items():
        services.setdefault(name, _predefined(spec))
    for s in by_name.get("firewall service group", []):
        for e in s.edits:
            members = e.sets.get("member", ([], e.line, ""))[0]
            found = [services.get(m) for m in members]
            services[e.name] = None if any(x is None for x in found) else [t for x in found if x for t in x]
    for name in FILTERING_SECTIONS:
        for s in by_name.get(name, []):
            for e in s.edits:
                rs.skip(e.line, f"edit {e.name}", f"'config {name}' policies are not analysed")
    lst = RuleList(
        f"{vdom} policy" if several else "policy",
        default=DENY,
        default_location=Location(rs.file, (by_name.get("firewall policy") or [Section("", 0)])[0].line),
        hook="forward",
    )
    for section_name in ("firewall policy", "firewall policy6"):
        for s in by_name.get(section_name, []):
            for e in s.edits:
                lst.rules.extend(_policy(rs, e, addresses, addresses6, services, lst.name))
    if lst.rules or "firewall policy" in by_name:
        rs.add_list(lst)


def _set(e: Edit, key: str, default: list[str] | None = None) -> list[str]:
    return e.sets[key][0] if key in e.sets else (default or [])


def _address(rs: Ruleset, e: Edit, family_all: iv.IVS) -> iv.IVS | None:
    kind = _set(e, "type", ["ipmask"])[0]
    try:
        if kind in ("ipmask", "ipprefix") and "subnet" in e.sets:
            parts = _set(e, "subnet")
            return address(parts[0]) if len(parts) == 1 else address_mask(parts[0], parts[1])
        if kind in ("ipmask", "ipprefix") and "ip6" in e.sets:
            return address(_set(e, "ip6")[0])
        if kind == "iprange":
            return address(f"{_set(e, 'start-ip')[0]}-{_set(e, 'end-ip')[0]}")
        if kind in ("ipmask", "ipprefix"):
            return iv.ivs([(family_all[0][0], family_all[0][0])]) if family_all else iv.EMPTY
    except (LineError, IndexError) as exc:
        rs.skip(e.line, f"edit {e.name}", f"address not understood: {exc}")
        return None
    rs.skip(e.line, f"edit {e.name}", f"address type '{kind}' is not analysed (rules using it are conditional)")
    return None


def _service(rs: Ruleset, e: Edit) -> list[tuple[iv.IVS, iv.IVS, iv.IVS]] | None:
    protocol = _set(e, "protocol", ["TCP/UDP/SCTP"])[0].upper()
    out = []
    try:
        if protocol in ("TCP/UDP/SCTP", "TCP/UDP/UDP-LITE/SCTP"):
            for key, number in (("tcp-portrange", 6), ("udp-portrange", 17), ("sctp-portrange", 132)):
                for spec in _set(e, key):
                    dst, _, src = spec.partition(":")
                    dport = port_span(dst.replace("-", ":"))
                    sport = port_span(src.replace("-", ":")) if src else iv.PORT_ALL
                    out.append((iv.point(number), sport, dport))
        elif protocol in ("ICMP", "ICMP6"):
            out.append((iv.point(1 if protocol == "ICMP" else 58), iv.PORT_ALL, iv.PORT_ALL))
        elif protocol == "IP":
            number = int(_set(e, "protocol-number", ["0"])[0])
            out.append((iv.PROTO_ALL if number == 0 else iv.point(number), iv.PORT_ALL, iv.PORT_ALL))
        else:
            rs.skip(e.line, f"edit {e.name}", f"service protocol '{protocol}' is not analysed")
            return None
    except (LineError, ValueError) as exc:
        rs.skip(e.line, f"edit {e.name}", f"service not understood: {exc}")
        return None
    return out


def _predefined(spec: str) -> list[tuple[iv.IVS, iv.IVS, iv.IVS]]:
    words = spec.split()
    if words == ["ip"]:
        return [(iv.PROTO_ALL, iv.PORT_ALL, iv.PORT_ALL)]
    if words == ["icmp"]:
        return [(iv.point(1), iv.PORT_ALL, iv.PORT_ALL)]
    if len(words) == 1:
        return [(iv.point(int(words[0])), iv.PORT_ALL, iv.PORT_ALL)]
    out = []
    for proto, ports in zip(words[::2], words[1::2], strict=False):
        out.append((iv.point(6 if proto == "tcp" else 17), iv.PORT_ALL, port_span(ports.replace("-", ":"))))
    return out


def _policy(rs: Ruleset, e: Edit, addresses, addresses6, services, list_name: str) -> list[Rule]:
    text = f"edit {e.name}" + (f" ({_set(e, 'name')[0]})" if "name" in e.sets else "")
    if _set(e, "status", ["enable"])[0] == "disable":
        rs.skip(e.line, text, "disabled policy (matches nothing)")
        return []
    action = PERMIT if _set(e, "action", ["deny"])[0] == "accept" else DENY
    conditions: list[str] = []
    src = _addresses(rs, e, ("srcaddr", "srcaddr6"), (addresses, addresses6), conditions)
    dst = _addresses(rs, e, ("dstaddr", "dstaddr6"), (addresses, addresses6), conditions)
    if _set(e, "srcaddr-negate", ["disable"])[0] == "enable":
        src = iv.subtract(iv.ADDR_ALL, src)
    if _set(e, "dstaddr-negate", ["disable"])[0] == "enable":
        dst = iv.subtract(iv.ADDR_ALL, dst)
    svc_names = _set(e, "service")
    svcs: list[tuple[iv.IVS, iv.IVS, iv.IVS]] = []
    for name in svc_names:
        found = services.get(name)
        if found is None:
            conditions.append(f"service {name} not analysed")
        else:
            svcs.extend(found)
    if not svc_names:
        conditions.append("no service")
    if _set(e, "service-negate", ["disable"])[0] == "enable":
        conditions.append("service-negate")
        svcs = [(iv.PROTO_ALL, iv.PORT_ALL, iv.PORT_ALL)]
    for key in (
        "users",
        "groups",
        "fsso-groups",
        "internet-service",
        "internet-service-src",
        "application",
        "url-category",
        "app-category",
        "poolname",
    ):
        if key in e.sets and key != "poolname":
            conditions.append(f"{key} {' '.join(_set(e, key))}")
    schedule = _set(e, "schedule", ["always"])[0]
    if schedule != "always":
        conditions.append(f"schedule {schedule}")
    log = _set(e, "logtraffic", ["utm"])[0] == "all"
    if action == DENY:
        log = _set(e, "logtraffic", ["disable"])[0] != "disable"
    srcintf = tuple(_set(e, "srcintf")) or None
    dstintf = tuple(_set(e, "dstintf")) or None
    if srcintf and "any" in srcintf:
        srcintf = None
    if dstintf and "any" in dstintf:
        dstintf = None
    return service_rules(
        svcs or [(iv.EMPTY, iv.PORT_ALL, iv.PORT_ALL)], action, src, dst, log=log, in_ifaces=srcintf,
        out_ifaces=dstintf, chain=list_name, location=Location(rs.file, e.line), text=text,
        name=_set(e, "name", [e.name])[0], conditions=conditions,
    )  # fmt: skip


def _addresses(rs, e: Edit, keys, tables, conditions: list[str]) -> iv.IVS:
    out: list[iv.IVS] = []
    for key, table in zip(keys, tables, strict=True):
        for name in _set(e, key):
            value = table.get(name)
            if value is None:
                conditions.append(f"{key} {name} not analysed")
                continue
            out.append(value)
    return iv.union_all(out)
