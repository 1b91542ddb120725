"""Suricata rules for the industrial operations a conduit flow does not allow.

The firewall lets a flow's session through by address and port; inside it, a flow that
restricts ``operations`` (Modbus read-only or a function-code list, unit ids, DNP3 without
operate, S7 without stop or download, CIP without writes) needs an IPS or IDS in front of
the responder. For each such flow this module writes one rule per denied function, scoped
to the flow's exact initiators, responders and ports, in the initiator -> responder
direction (requests; responses are not judged):

* Modbus: ``modbus: function N`` per denied function code; ``modbus: function !assigned``
  for the codes outside the public table when the flow lists its function codes (and all
  of them are public); ``modbus: unit`` ranges around the allowed unit ids; Schneider UMAS
  sub-functions (FC 90) by content at fixed offsets (MBAP 7 bytes, FC, session, UMAS code);
* DNP3: ``dnp3_func: N`` per denied request function. Suricata has no DNP3 address keyword,
  so outstation addresses (``unit_ids``) are left to the DPI firewall (the profile says so);
* S7comm: Suricata has no S7 parser, so rules match content at fixed offsets of TPKT (4
  bytes), COTP DT (3 bytes) and the S7 header (protocol id 0x32, ROSCTR 1 = job, 10 bytes):
  the job function is at offset 17; PI services are named in the parameter; userdata
  requests carry 0x4<group> and the subfunction at offsets 22-23. This assumes one S7 PDU
  per TCP segment (the common case). S7comm-plus is not matched (integrity-protected);
* EtherNet/IP CIP: ``cip_service: service[,class]`` per denied service.

Each rule has a unique ``sid`` from :data:`SID_BASE` (Suricata's local range starts at
1,000,000), assigned in plant.yaml order, ``rev:1``, a ``msg`` naming the conduit, flow and
function, and ``metadata`` with the conduit, flow and operation. ``alert`` by default;
``drop`` with ``ips=True`` for an inline IPS. Other protocols with restrictions (OPC UA,
S7comm-plus, ...) get a comment here and a DPI profile.
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass

from zonewarden.model.protocols import PROTOCOLS
from zonewarden.rules.industrial import MODBUS_PUBLIC_ASSIGNED, MODBUS_UMAS, VERDICTS, Code, Verdict
from zonewarden.rules.policy import Network, Policy, PolicyRule

SID_BASE = 1_620_000
"""First sid ZoneWarden uses; one block of rules per flow follows in plant.yaml order."""


@dataclass(frozen=True)
class SuricataRule:
    sid: int
    text: str
    rule: PolicyRule


def _addresses(nets: tuple[Network, ...]) -> str:
    if not nets:
        return "any"
    parts = [str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n) for n in nets]
    return parts[0] if len(parts) == 1 else "[" + ",".join(parts) + "]"


def _ports(ranges: tuple[tuple[int, int], ...]) -> str:
    if not ranges:
        return "any"
    parts = [str(lo) if lo == hi else f"{lo}:{hi}" for lo, hi in ranges]
    return parts[0] if len(parts) == 1 else "[" + ",".join(parts) + "]"


def _msg(rule: PolicyRule, what: str) -> str:
    text = f"ZoneWarden {rule.conduit}/{rule.flow}: {what} not allowed"
    return text.replace('"', "'").replace(";", ",")


class _Writer:
    def __init__(self, ips: bool, sid_base: int) -> None:
        self.action = "drop" if ips else "alert"
        self.sid = sid_base
        self.rules: list[SuricataRule] = []

    def add(self, rule: PolicyRule, proto: str, what: str, match: str, operation: str | None) -> None:
        src, dst = _addresses(rule.sources), _addresses(rule.destinations)
        header = f"{self.action} {proto} {src} any -> {dst} {_ports(rule.ports)}"
        meta = f"zonewarden_conduit {rule.conduit}, zonewarden_flow {rule.flow}"
        if operation:
            meta += f", zonewarden_operation {operation}"
        options = (
            f'msg:"{_msg(rule, what)}"; flow:established,to_server; {match} '
            f"classtype:policy-violation; metadata:{meta}; sid:{self.sid}; rev:1;"
        )
        self.rules.append(SuricataRule(self.sid, f"{header} ({options})", rule))
        self.sid += 1


def _label(code: Code) -> str:
    return f"{code.name} ({code.operation})" if code.operation else code.name


def _modbus(w: _Writer, rule: PolicyRule, v: Verdict) -> None:
    ops = rule.operations
    assert ops is not None
    catch_all = v.strict and all(c.code in MODBUS_PUBLIC_ASSIGNED for c in v.allowed)
    for code in v.denied:
        if code.sub is not None:  # a UMAS sub-function inside an allowed FC 90
            match = (
                f'modbus: function {MODBUS_UMAS}; content:"|5a|"; offset:7; depth:1; '
                f'content:"|{code.sub:02x}|"; offset:9; depth:1;'
            )
            w.add(rule, "modbus", f"Modbus {code.name} (FC 90 0x{code.sub:02X})", match, code.operation)
        elif not (catch_all and code.code not in MODBUS_PUBLIC_ASSIGNED):
            w.add(
                rule,
                "modbus",
                f"Modbus FC {code.code} {_label(code)}",
                f"modbus: function {code.code};",
                code.operation,
            )
    if catch_all:
        w.add(rule, "modbus", "Modbus function outside the public assigned codes", "modbus: function !assigned;", None)
    if ops.unit_ids is not None:
        for text, match in _unit_gaps(sorted(set(ops.unit_ids))):
            w.add(rule, "modbus", f"Modbus unit id {text}", f"modbus: unit {match};", None)


def _unit_gaps(allowed: list[int]) -> list[tuple[str, str]]:
    """Suricata ``modbus: unit`` ranges (bounds exclusive) covering every unit id 0-255 not allowed."""
    out: list[tuple[str, str]] = []
    if not allowed:
        return [("0-255", "<256")]
    if allowed[0] > 0:
        out.append((f"below {allowed[0]}", f"<{allowed[0]}"))
    for low, high in itertools.pairwise(allowed):
        if high - low > 1:
            out.append((f"{low + 1}-{high - 1}", f"{low}<>{high}"))
    if allowed[-1] < 255:
        out.append((f"above {allowed[-1]}", f">{allowed[-1]}"))
    return out


def _dnp3(w: _Writer, rule: PolicyRule, v: Verdict) -> None:
    for code in v.denied:
        w.add(rule, "dnp3", f"DNP3 {_label(code)}", f"dnp3_func:{code.code};", code.operation)


_S7_JOB = 'content:"|03 00|"; depth:2; content:"|32 01|"; offset:7; depth:2;'


def _s7(w: _Writer, rule: PolicyRule, v: Verdict) -> None:
    for code in v.denied:
        if code.sub == -1:  # PI service: function 0x28 and the service name in the parameter
            service = code.name.split()[1]
            match = f'{_S7_JOB} content:"|28|"; offset:17; depth:1; content:"{service}"; distance:0;'
        elif code.sub is not None:  # userdata: ROSCTR 7, request type 4, group and subfunction
            match = (
                'content:"|03 00|"; depth:2; content:"|32 07|"; offset:7; depth:2; '
                f'content:"|4{code.code:x} {code.sub:02x}|"; offset:22; depth:2;'
            )
        else:
            match = f'{_S7_JOB} content:"|{code.code:02x}|"; offset:17; depth:1;'
        w.add(rule, "tcp", f"S7 {_label(code)}", match, code.operation)


def _cip(w: _Writer, rule: PolicyRule, v: Verdict) -> None:
    for code in v.denied:
        arg = f"{code.code}" if code.sub is None else f"{code.code},{code.sub}"
        w.add(rule, "enip", f"CIP {_label(code)}", f"cip_service:{arg};", code.operation)


_WRITERS = {"modbus": _modbus, "dnp3": _dnp3, "s7": _s7, "enip": _cip}


def suricata_rules(policy: Policy, ips: bool = False, sid_base: int = SID_BASE) -> tuple[list[SuricataRule], list[str]]:
    """(rules, comments): the rules for every operations-restricted flow, and a comment for each
    restricted flow Suricata cannot police (its protocol has no parser or keyword here)."""
    writer = _Writer(ips, sid_base)
    comments: list[str] = []
    seen: set[str] = set()
    for rule in policy.rules:
        if rule.operations is None or rule.name in seen:
            continue
        if rule.transport == "udp":  # the rules judge TCP sessions; DNP3/CIP over UDP is left to the DPI firewall
            continue
        seen.add(rule.name)
        verdict_of = VERDICTS.get(rule.protocol)
        if verdict_of is None:
            title = PROTOCOLS[rule.protocol].title if rule.protocol in PROTOCOLS else rule.protocol
            comments.append(f"{rule.name}: {title} operations are not matched by Suricata; see its DPI profile")
            continue
        verdict = verdict_of(rule.operations)
        _WRITERS[rule.protocol](writer, rule, verdict)
        comments.extend(f"{rule.name}: {note}" for note in verdict.notes)
        if rule.protocol == "dnp3" and rule.operations.unit_ids is not None:
            comments.append(f"{rule.name}: DNP3 outstation addresses are enforced by the DPI firewall only")
    return writer.rules, comments


def render_suricata(policy: Policy, ips: bool = False, sid_base: int = SID_BASE, site: str | None = None) -> str:
    """The rules file: a header saying what it is, then comments and rules."""
    rules, comments = suricata_rules(policy, ips, sid_base)
    mode = "drop (inline IPS)" if ips else "alert (IDS; generate with --ips to drop)"
    lines = [
        "# ZoneWarden Suricata rules: industrial operations the conduits do not allow" + (f" ({site})" if site else ""),
        f"# Action: {mode}. sids {sid_base}-{sid_base + max(len(rules) - 1, 0)} (base {sid_base}), rev 1,",
        "# in plant.yaml order. Each rule is scoped to one conduit flow: its initiators, responders and",
        "# ports, requests only (flow:established,to_server). Enable the modbus, dnp3 and enip app-layer",
        "# parsers in suricata.yaml. S7 rules match fixed offsets of TPKT/COTP/S7 (one PDU per segment).",
    ]
    lines += [f"# Note: {c}" for c in comments]
    current = None
    for r in rules:
        if r.rule.name != current:
            current = r.rule.name
            lines += [
                "",
                f"# {r.rule.name}: {r.rule.protocol} {_addresses(r.rule.sources)} -> {_addresses(r.rule.destinations)}",
            ]
        lines.append(r.text)
    return "\n".join(lines) + "\n"


def parse_address(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks of a rule address field (for tests and tools)."""
    if text == "any":
        return []
    return [ipaddress.ip_network(p) for p in text.strip("[]").split(",")]
