"""Cisco IOS / IOS-XE access-lists: named (``ip access-list extended|standard NAME``, and the
unqualified form), numbered (``access-list 101 ...``) and ``ipv6 access-list``; ``object-group
network``/``service`` where IOS-XE has them; ``ip access-group NAME in|out`` under an interface.

IOS ACLs are stateless: ``established`` entries match only replies of TCP sessions (no new
connection), and the analysis reads reply entries of a stateless list as replies to the
conduit flows they mirror. ACLs applied to no interface (including zone-based firewall
class-map ACLs) are analysed as if applied; zone-based firewall policy-maps are not.
"""

from __future__ import annotations

import re
from dataclasses import replace

from zonewarden.errors import Location
from zonewarden.rules import intervals as iv
from zonewarden.rules.config._common import LineError, address, config_lines, wildcard_ivs
from zonewarden.rules.ruleset import DENY, PERMIT, Rule, RuleList, Ruleset, port_operator, protocol_ivs

PORT_OPS = ("eq", "neq", "lt", "gt", "range")
EXTRA_PROTOCOLS = {"ahp": "51", "ipv4": "4", "igrp": "9", "nd": "ipv6", "ipsec": "50", "pptp": "47"}
FLAGS = ("established", "log", "log-input", "fragments", "tracked")
_NUMBERED = re.compile(r"^\d+$")


def _proto(word: str) -> iv.IVS:
    w = word.lower()
    if w == "tcp-udp":
        return iv.ivs([(6, 6), (17, 17)])
    if w in ("ip", "ipv6"):
        return iv.PROTO_ALL
    try:
        return protocol_ivs(EXTRA_PROTOCOLS.get(w, w))
    except ValueError as exc:
        raise LineError(str(exc)) from None


def _addr(words: list[str], i: int, groups: dict[str, iv.IVS], v6: bool) -> tuple[iv.IVS, int]:
    w = words[i]
    if w == "any":
        return (iv.V6_ALL if v6 else iv.V4_ALL), i + 1
    if w == "host":
        return address(words[i + 1]), i + 2
    if w in ("object-group", "addrgroup"):
        if words[i + 1] not in groups:
            raise LineError(f"object-group '{words[i + 1]}' is not defined")
        return groups[words[i + 1]], i + 2
    if "/" in w:
        return address(w), i + 1
    if i + 1 < len(words) and re.fullmatch(r"\d+\.\d+\.\d+\.\d+", words[i + 1]):
        return wildcard_ivs(w, words[i + 1]), i + 2
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", w):  # standard ACL: a host without 'host'
        return address(w), i + 1
    raise LineError(f"address '{w}' not understood")


def _ports(words: list[str], i: int, protos: iv.IVS) -> tuple[iv.IVS, int]:
    if i < len(words) and words[i] in PORT_OPS:
        op = words[i]
        j = i + 1
        if op == "range":
            return port_operator(op, words[j : j + 2]), j + 2
        args = []
        while j < len(words) and words[j] not in FLAGS and words[j] not in PORT_OPS and not _is_address(words[j]):
            args.append(words[j])
            j += 1
            if op != "eq":
                break
        return port_operator(op, args), j
    return iv.PORT_ALL, i


def _is_address(word: str) -> bool:
    return word in ("any", "host", "object-group", "addrgroup") or bool(
        re.fullmatch(r"\d+\.\d+\.\d+\.\d+(/\d+)?|[0-9a-fA-F:]*:[0-9a-fA-F:]*(/\d+)?", word)
    )


def _entry(words: list[str], name: str, standard: bool, v6: bool, groups, services) -> Rule | str:
    """A Rule, or the reason the entry is skipped."""
    if words and words[0].isdigit():  # sequence number
        words = words[1:]
    if not words or words[0] == "remark":
        return ""
    if words[0] not in ("permit", "deny"):
        return f"'{words[0]}' entries are not analysed"
    action = PERMIT if words[0] == "permit" else DENY
    try:
        if standard:
            src, i = _addr(words, 1, groups, v6)
            return Rule(action, src, iv.V6_ALL if v6 else iv.V4_ALL, chain=name, log="log" in words[i:])
        i = 1
        svc = None
        if words[i] == "object-group" and words[i + 1] in services:
            svc = services[words[i + 1]]
            protos = iv.union_all(p for p, _ in svc)
            i += 2
        else:
            protos = _proto(words[i])
            i += 1
        src, i = _addr(words, i, groups, v6)
        sport, i = _ports(words, i, protos)
        dst, i = _addr(words, i, groups, v6)
        dport, i = _ports(words, i, protos)
    except (IndexError, ValueError) as exc:
        return f"entry not understood ({exc})"
    rest = words[i:]
    log = any(w in ("log", "log-input") for w in rest)
    new_only = "established" not in rest
    conditions = [w for w in rest if w not in ("log", "log-input", "established")]
    if svc is not None and len(svc) == 1:
        protos, dport = svc[0]
    elif svc is not None:
        conditions.append("service object-group with several protocols")
    return Rule(
        action,
        src,
        dst,
        protos,
        sport,
        dport,
        log=log,
        chain=name,
        new_only=new_only,
        exact=not conditions,
        conditions=tuple(conditions),
    )


def parse(text: str, file: str) -> Ruleset:
    rs = Ruleset("ios", file)
    acls: dict[str, RuleList] = {}
    kinds: dict[str, tuple[bool, bool]] = {}  # name -> (standard, v6)
    groups: dict[str, iv.IVS] = {}
    services: dict[str, list[tuple[iv.IVS, iv.IVS]]] = {}
    bindings: list[tuple[str, str, str, int]] = []
    block: tuple[str, str] | None = None  # ("acl"|"net"|"svc"|"if", name)
    statements = 0
    for number, raw in enumerate(config_lines(text), start=1):
        stripped = raw.split("!", 1)[0].strip() if not raw.strip().startswith("remark") else raw.strip()
        if not stripped:
            continue
        words = stripped.split()
        indented = raw[:1] in (" ", "\t")
        try:
            if indented and block is not None:
                kind, name = block
                if kind == "acl":
                    standard, v6 = kinds[name]
                    _add(rs, acls[name], _entry(words, name, standard, v6, groups, services), number, raw)
                elif kind == "net":
                    groups[name] = iv.union(groups[name], _group_member(words, groups))
                elif kind == "svc":
                    services[name].append(_service_member(words))
                elif (
                    kind == "if"
                    and words[:2] in (["ip", "access-group"], ["ipv6", "traffic-filter"])
                    and len(words) >= 4
                ):
                    bindings.append((words[2], words[3], name, number))
                continue
            block = None
            if words[0] == "hostname" and len(words) > 1:
                rs.notes.append(f"hostname {words[1]}")
                statements += 1
            elif words[0] == "interface" and len(words) > 1:
                block = ("if", words[1])
                statements += 1
            elif words[:2] in (["ip", "access-list"], ["ipv6", "access-list"]) and len(words) >= 3:
                statements += 1
                v6 = words[0] == "ipv6"
                kind = words[2] if words[2] in ("extended", "standard", "role-based", "resequence", "logging") else ""
                if kind in ("role-based", "resequence", "logging"):
                    rs.skip(number, raw, f"'ip access-list {kind}' is not analysed")
                    continue
                name = words[3] if kind and len(words) > 3 else (kind if kind else words[2])
                acls.setdefault(
                    name,
                    RuleList(name, default=DENY, default_location=Location(file, number), family="ip6" if v6 else "ip"),
                )
                kinds[name] = (kind == "standard", v6)
                block = ("acl", name)
            elif words[0] == "access-list" and len(words) >= 3 and _NUMBERED.match(words[1]):
                statements += 1
                n = int(words[1])
                standard = n < 100 or 1300 <= n < 2000
                name = words[1]
                acls.setdefault(
                    name, RuleList(name, default=DENY, default_location=Location(file, number), family="ip")
                )
                kinds[name] = (standard, False)
                _add(rs, acls[name], _entry(words[2:], name, standard, False, groups, services), number, raw)
            elif words[0] == "access-list" and len(words) >= 3:
                rs.skip(number, raw, "not an IOS numbered access-list (an ASA or NX-OS form?)")
            elif words[:2] == ["object-group", "network"] and len(words) >= 3:
                block = ("net", words[2])
                groups.setdefault(words[2], iv.EMPTY)
                statements += 1
            elif words[:2] == ["object-group", "service"] and len(words) >= 3:
                block = ("svc", words[2])
                services.setdefault(words[2], [])
                statements += 1
            elif words[0] in ("no", "end", "version", "service", "boot", "router", "line", "ip", "ipv6"):
                statements += 1
        except LineError as exc:
            rs.skip(number, raw, str(exc))
    if statements == 0:
        raise rs.error(1, "no IOS statements found (expected 'ip access-list', 'access-list NUMBER' or 'interface')")
    _bind(rs, acls, bindings)
    rs.stateless = True
    return rs


def _group_member(words: list[str], groups: dict[str, iv.IVS]) -> iv.IVS:
    if words[0] == "host":
        return address(words[1])
    if words[0] == "group-object":
        return groups.get(words[1], iv.EMPTY)
    if words[0] == "range":
        return address(f"{words[1]}-{words[2]}")
    if words[0] == "description":
        return iv.EMPTY
    if len(words) >= 2:
        from zonewarden.rules.config._common import address_mask

        return address_mask(words[0], words[1])
    return address(words[0])


def _service_member(words: list[str]) -> tuple[iv.IVS, iv.IVS]:
    protos = _proto(words[0])
    ports, _ = _ports(words, 1, protos)
    return protos, ports


def _add(rs: Ruleset, acl: RuleList, entry: Rule | str, number: int, raw: str) -> None:
    if isinstance(entry, str):
        if entry:
            rs.skip(number, raw, entry)
        return
    acl.rules.append(replace(entry, location=Location(rs.file, number), text=raw.strip()))


def _bind(rs: Ruleset, acls: dict[str, RuleList], bindings) -> None:
    bound: set[str] = set()
    for name, direction, interface, number in bindings:
        acl = acls.get(name)
        if acl is None:
            rs.skip(number, f"ip access-group {name} {direction}", f"access-list '{name}' is not defined")
            continue
        bound.add(name)
        key = "in_ifaces" if direction == "in" else "out_ifaces"
        rs.add_list(
            RuleList(
                f"{name} {direction} {interface}",
                [replace(r, **{key: (interface,)}) for r in acl.rules],
                default=DENY,
                default_location=Location(rs.file, number),
                stage=1 if direction == "out" else 0,
                family=acl.family,
            )
        )
    for name, acl in acls.items():
        if name not in bound:
            if bindings:
                rs.notes.append(f"access-list {name} is applied to no interface: analysed as if applied")
            rs.add_list(acl)
