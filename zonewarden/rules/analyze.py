"""A parsed firewall configuration checked against the intended policy. Pure and exact.

Each rule list is flattened into first-match order (jumps and gotos inlined with
their match as a guard, ``return`` carved out of what follows), then every
question is asked of address, protocol, port and interface *boxes* with
:func:`zonewarden.rules.intervals.uncovered`, which answers exactly (no packet
is sampled) and gives a concrete packet when the answer is "no".

Findings (``kind``, with the issue's letter):

* (a) ``permit-not-in-policy``: a rule permits traffic no conduit flow allows;
* (b) ``flow-not-permitted``: a conduit flow the configuration blocks;
* (c) ``any-any`` and ``over-broad``: addresses wider than the zones' address space;
* (d) ``shadowed`` (never matches) and ``redundant`` (removing it changes nothing);
* (e) ``default-allow``, ``no-final-deny`` and ``final-deny-without-log``;
* (f) ``permit-without-log``;
* (g) ``purdue-level-skip``: traffic across more than one Purdue level with no DMZ end.

Candidate pairs come from one vectorized hull test over rank-compressed
coordinates, so the exact box work is spent only on rules that can overlap.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zonewarden.rules import intervals as iv
from zonewarden.rules.intervals import IVS, Box
from zonewarden.rules.policy import Policy, PolicyRule
from zonewarden.rules.ruleset import BLOCKING, GOTO, JUMP, PERMIT, RETURN, Rule, RuleList, Ruleset, protocols_text

SEVERITIES = ("critical", "high", "medium", "low", "info")
KINDS = {
    "permit-not-in-policy": ("a", "high"),
    "flow-not-permitted": ("b", "high"),
    "any-any": ("c", "critical"),
    "over-broad": ("c", "medium"),
    "shadowed": ("d", "medium"),
    "redundant": ("d", "low"),
    "default-allow": ("e", "high"),
    "no-final-deny": ("e", "medium"),
    "final-deny-without-log": ("e", "low"),
    "permit-without-log": ("f", "low"),
    "purdue-level-skip": ("g", "high"),
}
TRANSPORTS = {"tcp": iv.TCP, "udp": iv.UDP, "icmp": iv.ICMP}
MAX_BOXES = 64  # fragments one flattened rule may carry after carving out returns
MAX_DEPTH = 16


@dataclass(frozen=True)
class ZoneInfo:
    """What the analysis needs to know of a zone."""

    id: str
    purdue_level: float | None = None
    dmz: bool = False


@dataclass
class Finding:
    kind: str
    severity: str
    message: str
    file: str
    line: int = 0
    list: str = ""
    rule: str = ""
    example: dict[str, Any] | None = None
    conduit: str | None = None
    flow: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str:
        return KINDS[self.kind][0]

    @property
    def id(self) -> str:
        if self.kind == "flow-not-permitted":
            return f"{self.kind}@{self.file}:{self.flow}:{self.details.get('transport', '')}"
        if self.line:
            return f"{self.kind}@{self.file}:{self.line}"
        return f"{self.kind}@{self.file}:{self.list}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "category": self.category,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "list": self.list,
            "message": self.message,
        }
        if self.rule:
            out["rule"] = self.rule
        if self.example is not None:
            out["example"] = self.example
        if self.conduit:
            out["conduit"] = self.conduit
            out["flow"] = self.flow
        if self.details:
            out["details"] = self.details
        return out


@dataclass
class Report:
    findings: list[Finding]
    skipped: list[dict[str, Any]]
    summary: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.as_dict() for f in self.findings],
            "skipped": self.skipped,
            "summary": self.summary,
        }


# ------------------------------------------------------------------ flattening


@dataclass
class Entry:
    """A rule in first-match position: the boxes it matches there and what it does."""

    rule: Rule
    boxes: list[Box]
    action: str  # permit or a blocking action
    exact: bool
    index: int = 0


class _Interfaces:
    """Interface (or platform zone) names -> ids on the interface dimensions."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        names: set[str] = set()
        for r in rules:
            for group in (r.in_ifaces, r.out_ifaces, r.src_zones, r.dst_zones):
                names.update(group or ())
        self.ids = {name: i + 1 for i, name in enumerate(sorted(names))}

    def ivs(self, names: tuple[str, ...] | None, negated: bool) -> IVS:
        if not names:
            return iv.IFACE_ALL
        chosen: list[tuple[int, int]] = []
        for name in names:
            if name in ("any", "*"):
                return iv.EMPTY if negated else iv.IFACE_ALL
            chosen.append((self.ids[name],) * 2)
            if name.endswith(("+", "*")):
                prefix = name[:-1]
                chosen.extend((i, i) for other, i in self.ids.items() if other.startswith(prefix))
        result = iv.ivs(chosen)
        return iv.subtract(iv.IFACE_ALL, result) if negated else result


def rule_box(rule: Rule, ifaces: _Interfaces) -> Box:
    in_names = rule.in_ifaces if rule.in_ifaces is not None else (rule.src_zones or None)
    out_names = rule.out_ifaces if rule.out_ifaces is not None else (rule.dst_zones or None)
    return (
        rule.src,
        rule.dst,
        rule.protocols,
        rule.sport,
        rule.dport,
        ifaces.ivs(in_names, rule.in_negated),
        ifaces.ivs(out_names, rule.out_negated),
    )


def flatten(ruleset: Ruleset, rule_list: RuleList, ifaces: _Interfaces) -> list[Entry]:
    """The list's rules in first-match order with jumps inlined; only rules that see new connections.

    An entry's boxes are its rule's box within the jump guards that lead to it, less what an
    earlier ``return`` or ``goto`` took away; earlier terminal rules are not carved out (the
    analysis asks the earlier entries), so nothing fragments."""
    out: list[Entry] = []

    def walk(lst: RuleList, guards: list[Box], exact: bool, depth: int, stack: tuple[str, ...]) -> list[Box]:
        """Inline ``lst`` under ``guards``; returns the boxes that leave it (its end, a return, a goto's end)."""
        live = guards
        precise = exact
        left: list[Box] = []
        base = depth == 0
        for rule in lst.rules:
            if not live:
                break
            if rule.disabled or not rule.new_only:
                continue
            rb = rule_box(rule, ifaces)
            matched = _clip_all(live, rb)
            if not matched:
                continue
            ex = precise and rule.exact
            if rule.action in (JUMP, GOTO):
                target = ruleset.lists.get(rule.target or "")
                if target is None or depth >= MAX_DEPTH or target.name in stack:
                    continue
                fell = walk(target, matched, ex, depth + 1, (*stack, target.name))
                if rule.action == GOTO and rule.exact:
                    left.extend(fell)
                    live, precise = _carve(live, rb, precise)
                continue
            if rule.action == RETURN:
                if base:
                    out.append(Entry(rule, matched, lst.default, ex))
                elif rule.exact:
                    left.extend(matched)
                    live, precise = _carve(live, rb, precise)
                continue
            out.append(Entry(rule, matched, rule.action, ex))
        return live + left

    walk(rule_list, [iv.FULL], True, 0, (rule_list.name,))
    for i, e in enumerate(out):
        e.index = i
    return out


def _clip_all(boxes: list[Box], b: Box) -> list[Box]:
    out = []
    for x in boxes:
        z = iv.box_intersect(x, b)
        if z is not None:
            out.append(z)
    return out


def _carve(live: list[Box], b: Box, precise: bool) -> tuple[list[Box], bool]:
    """``live`` minus ``b``; past MAX_BOXES fragments it stops carving and says so."""
    out: list[Box] = []
    for x in live:
        out.extend(iv.box_subtract(x, b))
    if len(out) > MAX_BOXES:
        return live, False
    return out, precise


# ------------------------------------------------------------------ candidate index


class _Index:
    """Which boxes' hulls overlap, from rank-compressed coordinates and numpy."""

    def __init__(self, boxes: Sequence[Box], others: Sequence[Box] = ()) -> None:
        every = list(boxes) + list(others)
        self.n = len(boxes)
        dims = len(iv.FULL)
        self.lo = np.zeros((dims, len(every)), dtype=np.int64)
        self.hi = np.zeros((dims, len(every)), dtype=np.int64)
        for d in range(dims):
            points = sorted({v for b in every for v in (b[d][0][0], b[d][-1][1] + 1)})
            rank = {v: i for i, v in enumerate(points)}
            self.lo[d] = [rank[b[d][0][0]] for b in every]
            self.hi[d] = [rank[b[d][-1][1] + 1] - 1 for b in every]

    def overlapping(self, rows: np.ndarray, cols: slice) -> np.ndarray:
        """Boolean matrix: box ``rows[i]`` overlaps box ``j`` (in ``cols``)."""
        mask = np.ones((len(rows), cols.stop - cols.start), dtype=bool)
        for d in range(self.lo.shape[0]):
            lo_r, hi_r = self.lo[d][rows][:, None], self.hi[d][rows][:, None]
            mask &= (self.lo[d][cols][None, :] <= hi_r) & (self.hi[d][cols][None, :] >= lo_r)
        return mask

    def neighbours(self, total: int, block: int = 512) -> list[np.ndarray]:
        """For each of the first ``n`` boxes, the indices (among all ``total``) it overlaps."""
        out: list[np.ndarray] = []
        for start in range(0, self.n, block):
            rows = np.arange(start, min(start + block, self.n))
            mask = self.overlapping(rows, slice(0, total))
            out.extend(np.flatnonzero(mask[i]) for i in range(len(rows)))
        return out


# ------------------------------------------------------------------ the analysis


@dataclass
class _Atom:
    entry: Entry
    box: Box


class _ListAnalysis:
    def __init__(self, entries: list[Entry], policy_boxes: list[tuple[Box, PolicyRule]]) -> None:
        self.entries = entries
        self.atoms = [_Atom(e, b) for e in entries for b in e.boxes]
        self.policy_boxes = policy_boxes
        index = _Index([a.box for a in self.atoms], [b for b, _ in policy_boxes])
        near = index.neighbours(len(self.atoms) + len(policy_boxes))
        n = len(self.atoms)
        self.before: list[list[int]] = []
        self.after: list[list[int]] = []
        self.policy_near: list[list[int]] = []
        self.flow_atoms: list[list[int]] = [[] for _ in policy_boxes]  # policy box -> overlapping atoms, in order
        for i, idx in enumerate(near):
            rules = idx[idx < n]
            self.before.append(rules[rules < i].tolist())
            self.after.append(rules[rules > i].tolist())
            near_policy = (idx[idx >= n] - n).tolist()
            self.policy_near.append(near_policy)
            for p in near_policy:
                self.flow_atoms[p].append(i)
        self.policy_index: dict[int, int] = {}
        for k, (_, r) in enumerate(policy_boxes):
            self.policy_index.setdefault(id(r), k)
        self.scope = _scope(entries)
        self.family = "any"
        spans = {d for a in self.atoms for d in (a.box[iv.SRC], a.box[iv.DST])}
        if spans and all(not iv.overlaps(d, iv.V6_ALL) or iv.contains(d, iv.V6_ALL) for d in spans):
            self.family = "ip"  # no rule names an IPv6 address: an IPv4 catch-all is the final deny

    def atom_indices(self, entry: Entry) -> list[int]:
        return [i for i, a in enumerate(self.atoms) if a.entry is entry]

    def earlier_cover(self, i: int, exclude: Entry | None = None) -> list[Box]:
        return [
            self.atoms[j].box
            for j in self.before[i]
            if self.atoms[j].entry.exact and self.atoms[j].entry is not exclude
        ]


def _category(action: str) -> str:
    return "permit" if action == PERMIT else "block"


def policy_boxes(rules: Sequence[PolicyRule]) -> list[tuple[Box, PolicyRule]]:
    out = []
    for r in rules:
        src = iv.union_all(iv.network_ivs(n) for n in r.sources) if r.sources else iv.ADDR_ALL
        dst = iv.union_all(iv.network_ivs(n) for n in r.destinations) if r.destinations else iv.ADDR_ALL
        if r.transport == "any":
            proto, dport = iv.PROTO_ALL, iv.PORT_ALL
        else:
            proto = iv.point(TRANSPORTS[r.transport]) if r.transport in TRANSPORTS else iv.PROTO_ALL
            dport = iv.ivs(r.ports) if r.ports else iv.PORT_ALL
        out.append((iv.box(src, dst, proto, iv.PORT_ALL, dport), r))
    return out


def _mirror(b: Box) -> Box:
    """The replies of a flow box: addresses swapped, from the service port to any port."""
    return (b[iv.DST], b[iv.SRC], b[iv.PROTO], b[iv.DPORT], iv.PORT_ALL, b[iv.IOUT], b[iv.IIN])


class _Zones:
    def __init__(self, policy: Policy, zones: Mapping[str, ZoneInfo]) -> None:
        # (family, host bits) -> {network number: zone}: a longest-prefix lookup
        self.by_prefix: dict[tuple[int, int], dict[int, str]] = {}
        space: list[tuple[int, int]] = []
        self.levels: dict[float, IVS] = {}
        for zid, nets in policy.zone_networks.items():
            ranges = [iv.network_ivs(n)[0] for n in nets]
            space.extend(ranges)
            for n in nets:
                bits = n.max_prefixlen - n.prefixlen
                self.by_prefix.setdefault((n.version, bits), {}).setdefault(int(n.network_address) >> bits, zid)
            info = zones.get(zid)
            if info is not None and info.purdue_level is not None and not info.dmz:
                self.levels[info.purdue_level] = iv.union(self.levels.get(info.purdue_level, iv.EMPTY), iv.ivs(ranges))
        self.order = sorted(self.by_prefix, key=lambda k: k[1])
        self.space = iv.ivs(space)
        self.info = zones

    def zone_of(self, value: int) -> str | None:
        version, raw = (4, value) if value < iv.V6_BASE else (6, value - iv.V6_BASE)
        for v, bits in self.order:
            if v == version:
                hit = self.by_prefix[(v, bits)].get(raw >> bits)
                if hit is not None:
                    return hit
        return None


def _example(region: Box, zones: _Zones, ifaces: _Interfaces) -> dict[str, Any]:
    packet = iv.sample(region, prefer={iv.SRC: zones.space, iv.DST: zones.space})
    proto = packet[iv.PROTO]
    out: dict[str, Any] = {
        "src": iv.address_text(packet[iv.SRC]),
        "dst": iv.address_text(packet[iv.DST]),
        "protocol": protocols_text(iv.point(proto)),
    }
    if proto in (iv.TCP, iv.UDP, iv.SCTP):
        out["port"] = packet[iv.DPORT]
    out["src_zone"] = zones.zone_of(packet[iv.SRC])
    out["dst_zone"] = zones.zone_of(packet[iv.DST])
    names = {i: n for n, i in ifaces.ids.items()}
    if region[iv.IIN] != iv.IFACE_ALL and packet[iv.IIN] in names:
        out["in"] = names[packet[iv.IIN]]
    if region[iv.IOUT] != iv.IFACE_ALL and packet[iv.IOUT] in names:
        out["out"] = names[packet[iv.IOUT]]
    return out


def _flow_text(ex: dict[str, Any]) -> str:
    port = f":{ex['port']}" if "port" in ex else ""
    zs = f" ({ex.get('src_zone') or 'no zone'} -> {ex.get('dst_zone') or 'no zone'})"
    return f"{ex['protocol']} {ex['src']} -> {ex['dst']}{port}{zs}"


def _scope(entries: list[Entry]) -> tuple[IVS, IVS]:
    """The interfaces every entry of a list is bound to (an ASA access-group's), else any."""
    ins = {b[iv.IIN] for e in entries for b in e.boxes}
    outs = {b[iv.IOUT] for e in entries for b in e.boxes}
    return (ins.pop() if len(ins) == 1 else iv.IFACE_ALL, outs.pop() if len(outs) == 1 else iv.IFACE_ALL)


def _is_catch_all(box: Box, family: str, scope: tuple[IVS, IVS] = (iv.IFACE_ALL, iv.IFACE_ALL)) -> bool:
    addr_all = {"ip": iv.V4_ALL, "ip6": iv.V6_ALL}.get(family, iv.ADDR_ALL)
    return (
        iv.contains(box[iv.IIN], scope[0])
        and iv.contains(box[iv.IOUT], scope[1])
        and iv.contains(box[iv.SRC], addr_all)
        and iv.contains(box[iv.DST], addr_all)
        and box[iv.PROTO] == iv.PROTO_ALL
        and box[iv.SPORT] == iv.PORT_ALL
        and box[iv.DPORT] == iv.PORT_ALL
    )


def _transit_lists(ruleset: Ruleset, flat: dict[str, list[Entry]]) -> list[RuleList]:
    forward = [
        lst for lst in ruleset.lists.values() if lst.hook in ("prerouting", "forward", "postrouting") and flat[lst.name]
    ]
    forward += [
        lst
        for lst in ruleset.lists.values()
        if lst.hook == "forward" and not flat[lst.name] and lst.default in BLOCKING
    ]
    if any(lst.hook == "forward" for lst in forward):
        return forward
    return [lst for lst in ruleset.lists.values() if lst.hook in ("prerouting", "input") and flat[lst.name]]


def analyze(
    ruleset: Ruleset,
    policy: Policy,
    zones: Mapping[str, ZoneInfo],
    device: str | None = None,
) -> Report:
    """Check ``ruleset`` against ``policy``. ``device`` limits the flows the configuration must
    permit (b) to that device's conduits; every conduit flow still counts as allowed for (a)."""
    all_rules = ruleset.rules
    ifaces = _Interfaces(all_rules)
    zone_index = _Zones(policy, zones)
    allowed = policy_boxes(policy.rules)
    if ruleset.stateless:  # a stateless list permits replies explicitly: a flow's mirror is allowed too
        allowed += [(_mirror(b), r) for b, r in allowed]
    required_rules = _required(policy, device)
    findings: list[Finding] = []
    flat = {name: flatten(ruleset, lst, ifaces) if lst.hook else [] for name, lst in ruleset.lists.items()}
    transit = _transit_lists(ruleset, flat)
    transit_names = {lst.name for lst in transit}
    reported: dict[tuple[str, int], set[str]] = {}

    def add(f: Finding) -> None:
        if f.line and f.kind != "flow-not-permitted":  # one finding of a kind per rule line
            seen = reported.setdefault((f.file, f.line), set())
            if f.kind in seen:
                return
            seen.add(f.kind)
        findings.append(f)

    analyses: dict[str, _ListAnalysis] = {}
    for name, lst in ruleset.lists.items():
        if lst.hook is None:
            continue
        entries = flat[name]
        if not entries and lst.default == PERMIT and not (lst.primary and lst.hook in ("forward", "input")):
            continue
        la = _ListAnalysis(entries, allowed if name in transit_names else [])
        analyses[name] = la
        _rule_findings(ruleset, lst, la, add, zone_index, ifaces, name in transit_names)
        _default_findings(ruleset, lst, la, add, name in transit_names)
    _flow_findings(ruleset, transit, analyses, required_rules, add, zone_index, ifaces)
    findings.sort(key=lambda f: (f.file, f.line or 10**9, SEVERITIES.index(f.severity), f.kind, f.flow or ""))
    by_kind: dict[str, int] = {}
    by_severity: dict[str, int] = {}
    for f in findings:
        by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
        by_severity[f.severity] = by_severity.get(f.severity, 0) + 1
    summary = {
        "file": ruleset.file,
        "platform": ruleset.platform,
        "device": device,
        "lists": len(ruleset.lists),
        "rules": len(all_rules),
        "analysed_lists": sorted(analyses),
        "transit_lists": sorted(transit_names),
        "policy_rules": len(policy.rules),
        "required_flows": len(required_rules),
        "findings": len(findings),
        "by_kind": dict(sorted(by_kind.items())),
        "by_severity": {s: by_severity[s] for s in SEVERITIES if s in by_severity},
        "skipped": len(ruleset.skipped),
    }
    return Report(findings, [s.as_dict() for s in ruleset.skipped], summary)


def _required(policy: Policy, device: str | None) -> list[PolicyRule]:
    """The conduit flows the configuration must forward: the device's transit rules, or every
    device's (a flow to or from a firewall itself is its own service, not forwarded)."""
    devices = policy.devices()
    if device is not None:
        return list(devices[device].transit_rules) if device in devices else []
    transit: list[PolicyRule] = []
    seen: set[int] = set()
    for d in devices.values():
        for r in d.transit_rules:
            if id(r) not in seen:
                seen.add(id(r))
                transit.append(r)
    order = {id(r): i for i, r in enumerate(policy.rules)}
    return sorted(transit, key=lambda r: order[id(r)])


def _finding(kind: str, rule: Rule, lst: RuleList, message: str, **kw: Any) -> Finding:
    return Finding(
        kind=kind,
        severity=kw.pop("severity", KINDS[kind][1]),
        message=message,
        file=rule.location.file,
        line=rule.location.line,
        list=lst.name,
        rule=rule.text,
        **kw,
    )


def _rule_findings(ruleset, lst, la: _ListAnalysis, add, zones: _Zones, ifaces: _Interfaces, transit: bool) -> None:
    by_rule: dict[int, list[Entry]] = {}
    for e in la.entries:
        by_rule.setdefault(id(e.rule), []).append(e)
    atom_of_entry: dict[int, list[int]] = {}
    for i, a in enumerate(la.atoms):
        atom_of_entry.setdefault(id(a.entry), []).append(i)
    shadowed_rules: set[int] = set()
    last_index = len(la.entries) - 1
    # (d) shadowed: every box of every placement is covered by earlier exact rules
    for rid, entries in by_rule.items():
        covering: list[Entry] = []
        shadowed = True
        for e in entries:
            for i in atom_of_entry.get(id(e), []):
                cover = la.earlier_cover(i)
                if iv.uncovered(la.atoms[i].box, cover) is not None:
                    shadowed = False
                    break
                covering += [la.atoms[j].entry for j in la.before[i] if la.atoms[j].entry.exact]
            if not shadowed:
                break
        if shadowed and entries:
            shadowed_rules.add(rid)
            rule = entries[0].rule
            lines = sorted({c.rule.location.line for c in covering})
            opposite = any(_category(c.action) != _category(entries[0].action) for c in covering)
            where = ", ".join(f"line {n}" for n in lines[:5]) + (" and more" if len(lines) > 5 else "")
            add(
                _finding(
                    "shadowed",
                    rule,
                    lst,
                    f"never matches: earlier rules ({where}) already decide all of its traffic"
                    + (", some with the opposite action" if opposite else ""),
                    severity="medium" if opposite else "low",
                    details={"covered_by": lines[:20], "opposite_action": opposite},
                )
            )
    # (d) redundant: removing the rule changes no packet's fate
    for rid, entries in by_rule.items():
        if rid in shadowed_rules:
            continue
        rule = entries[0].rule
        if not all(e.exact for e in entries):
            continue
        if (
            len(entries) == 1
            and entries[0].index == last_index
            and entries[0].action in BLOCKING
            and all(
                _is_catch_all(b, lst.family if lst.family != "any" else la.family, la.scope) for b in entries[0].boxes
            )
        ):
            continue  # the explicit final deny: kept on purpose (SR 6.2)
        if _redundant(la, entries, atom_of_entry, lst, shadowed_rules):
            add(
                _finding(
                    "redundant",
                    rule,
                    lst,
                    "redundant: later rules (or the default) treat all of its traffic the same way without it",
                )
            )
    # permit rules: (a), (c), (f), (g)
    for rid, entries in by_rule.items():
        if rid in shadowed_rules or entries[0].action != PERMIT:
            continue
        rule = entries[0].rule
        if not rule.log:
            add(_finding("permit-without-log", rule, lst, "permits traffic without logging it (SR 6.2)"))
        if not transit:
            continue
        _breadth(rule, entries, lst, add, zones)
        _excess(la, rule, entries, atom_of_entry, lst, add, zones, ifaces)
        _purdue(la, rule, entries, atom_of_entry, lst, add, zones, ifaces)


def _redundant(
    la: _ListAnalysis, entries: list[Entry], atom_of_entry: dict[int, list[int]], lst: RuleList, dead: set[int]
) -> bool:
    """Whether the list decides every packet the same way without these entries (and without the
    rules already found shadowed, which are as good as gone)."""
    mine = {id(e) for e in entries}
    for e in entries:
        cat = _category(e.action)
        for i in atom_of_entry.get(id(e), []):
            b = la.atoms[i].box
            # only the rules overlapping this box can matter for it
            near = [
                k
                for k in la.before[i] + la.after[i]
                if la.atoms[k].entry.exact
                and id(la.atoms[k].entry) not in mine
                and id(la.atoms[k].entry.rule) not in dead
            ]
            for j in la.after[i]:
                other = la.atoms[j]
                if _category(other.entry.action) == cat or id(other.entry.rule) in dead:
                    continue
                region = iv.box_intersect(b, other.box)
                if region is None:
                    continue
                if not other.entry.exact:
                    return False
                if iv.uncovered(region, [la.atoms[k].box for k in near if k < j]) is not None:
                    return False
            # a default allow is not relied on
            reaches_default = _category(lst.default) != cat or cat == "permit"
            if reaches_default and iv.uncovered(b, [la.atoms[k].box for k in near]) is not None:
                return False
    return True


def _breadth(rule: Rule, entries: list[Entry], lst: RuleList, add, zones: _Zones) -> None:
    boxes = [b for e in entries for b in e.boxes]
    src = iv.union_all(b[iv.SRC] for b in boxes)
    dst = iv.union_all(b[iv.DST] for b in boxes)
    wide = [iv.V4_ALL, iv.V6_ALL]
    if any(iv.contains(src, w) for w in wide) and any(iv.contains(dst, w) for w in wide):
        add(_finding("any-any", rule, lst, "permits from any address to any address"))
        return
    outside_src = iv.subtract(src, zones.space)
    outside_dst = iv.subtract(dst, zones.space)
    if outside_src or outside_dst:
        parts = []
        if outside_src:
            parts.append(f"sources outside every zone ({iv.ivs_address_text(outside_src, 3)})")
        if outside_dst:
            parts.append(f"destinations outside every zone ({iv.ivs_address_text(outside_dst, 3)})")
        add(
            _finding(
                "over-broad",
                rule,
                lst,
                "addresses wider than the zones' address space: " + " and ".join(parts),
                details={
                    "outside_src": iv.ivs_address_text(outside_src, 10) if outside_src else None,
                    "outside_dst": iv.ivs_address_text(outside_dst, 10) if outside_dst else None,
                },
            )
        )


def _excess(la, rule, entries, atom_of_entry, lst, add, zones: _Zones, ifaces) -> None:
    for e in entries:
        for i in atom_of_entry.get(id(e), []):
            cover = la.earlier_cover(i) + [la.policy_boxes[j][0] for j in la.policy_near[i]]
            gap = iv.uncovered(la.atoms[i].box, cover)
            if gap is None:
                continue
            ex = _example(gap, zones, ifaces)
            conditional = "" if e.exact else " (the rule has conditions the check cannot model: at most this)"
            add(
                _finding(
                    "permit-not-in-policy",
                    rule,
                    lst,
                    f"permits traffic no conduit flow allows, e.g. {_flow_text(ex)}{conditional}",
                    example=ex,
                )
            )
            return


def _purdue(la, rule, entries, atom_of_entry, lst, add, zones: _Zones, ifaces) -> None:
    levels = sorted(zones.levels)
    for e in entries:
        for i in atom_of_entry.get(id(e), []):
            b = la.atoms[i].box
            for ls in levels:
                src = iv.intersect(b[iv.SRC], zones.levels[ls])
                if not src:
                    continue
                for ld in levels:
                    if abs(ls - ld) <= 1:
                        continue
                    dst = iv.intersect(b[iv.DST], zones.levels[ld])
                    if not dst:
                        continue
                    region = (src, dst, *b[2:])
                    gap = iv.uncovered(region, la.earlier_cover(i))
                    if gap is None:
                        continue
                    ex = _example(gap, zones, ifaces)
                    add(
                        _finding(
                            "purdue-level-skip",
                            rule,
                            lst,
                            f"lets traffic cross from Purdue level {_lvl(ls)} to level {_lvl(ld)} with no DMZ "
                            f"in between, e.g. {_flow_text(ex)}",
                            example=ex,
                            details={"from_level": ls, "to_level": ld},
                        )
                    )
                    return


def _lvl(level: float) -> str:
    return str(int(level)) if level == int(level) else str(level)


def _default_findings(ruleset: Ruleset, lst: RuleList, la: _ListAnalysis, add, transit: bool) -> None:
    if lst.hook not in ("forward", "input") or not lst.primary:
        return
    scope = la.scope
    loc = lst.default_location
    file, line = (loc.file, loc.line) if loc else (ruleset.file, 0)
    # a reachable permit-everything rule makes the default unreachable: an allow by default
    for e in la.entries:
        if (
            e.action == PERMIT
            and e.exact
            and all(_is_catch_all(b, lst.family if lst.family != "any" else la.family, scope) for b in e.boxes)
        ):
            covered = all(iv.uncovered(la.atoms[i].box, la.earlier_cover(i)) is None for i in la.atom_indices(e))
            if not covered:
                add(
                    _finding(
                        "default-allow",
                        e.rule,
                        lst,
                        "permits everything no earlier rule decided: the list allows by default",
                    )
                )
                return
    if lst.default == PERMIT:
        add(
            Finding(
                "default-allow",
                KINDS["default-allow"][1],
                f"{lst.name}: the default policy accepts traffic no rule matches (deny by default, SR 5.2 RE 1)",
                file,
                line,
                lst.name,
            )
        )
        return
    if not transit:
        return
    last = la.entries[-1] if la.entries else None
    if (
        last is None
        or last.action not in BLOCKING
        or not all(_is_catch_all(b, lst.family if lst.family != "any" else la.family, scope) for b in last.boxes)
    ):
        add(
            Finding(
                "no-final-deny",
                KINDS["no-final-deny"][1],
                f"{lst.name}: no explicit final deny; unmatched traffic is dropped by the default policy without a "
                "log entry (add a final deny with logging, SR 6.2)",
                file,
                line,
                lst.name,
            )
        )
    elif not last.rule.log:
        add(_finding("final-deny-without-log", last.rule, lst, "the final deny does not log what it drops (SR 6.2)"))


def _flow_findings(ruleset, transit: list[RuleList], analyses, required: Sequence[PolicyRule], add, zones, ifaces):
    if not transit:
        return
    stages: dict[int, list[RuleList]] = {}
    for lst in transit:
        stages.setdefault(lst.stage, []).append(lst)
    for fbox, prule in policy_boxes(required):
        for stage in sorted(stages):
            failures = []
            for lst in stages[stage]:
                la = analyses.get(lst.name)
                gap = _blocked(la, prule, fbox, lst.default)
                if gap is None:
                    failures = []
                    break
                failures.append((lst, gap))
            if failures:
                lst, (region, blocker) = failures[0]
                ex = _example(region, zones, ifaces)
                where = (
                    f"blocked by line {blocker.rule.location.line}"
                    if blocker is not None
                    else f"no rule permits it and the default of {lst.name} is {lst.default}"
                )
                add(
                    Finding(
                        "flow-not-permitted",
                        KINDS["flow-not-permitted"][1],
                        f"conduit {prule.conduit} flow {prule.flow} ({prule.protocol}/{prule.transport}) is not "
                        f"permitted, e.g. {_flow_text(ex)}: {where}; operations would break",
                        ruleset.file,
                        blocker.rule.location.line if blocker is not None else 0,
                        lst.name,
                        rule=blocker.rule.text if blocker is not None else "",
                        example=ex,
                        conduit=prule.conduit,
                        flow=prule.name,
                        details={"transport": prule.transport, "protocol": prule.protocol},
                    )
                )
                break


def _blocked(la: _ListAnalysis | None, prule: PolicyRule, fbox: Box, default: str) -> tuple[Box, Entry | None] | None:
    """A part of the flow box the list does not permit (and the rule that blocks it), or None.
    The flow is taken to arrive where the list is bound (an access-group's interface); beyond
    that the check is optimistic where the model is unsure: interface-bound permits count for
    every interface, conditional or interface-bound blocks are ignored."""
    if la is None:
        return None if default not in BLOCKING else (fbox, None)
    scope_in, scope_out = la.scope
    fbox = (*fbox[:5], scope_in, scope_out)
    permits: list[Box] = []
    decided: list[Box] = []
    p = la.policy_index.get(id(prule))
    candidates = la.flow_atoms[p] if p is not None else range(len(la.atoms))
    for i in candidates:
        a = la.atoms[i]
        e, b = a.entry, a.box
        if e.action == PERMIT:
            z = iv.box_intersect((*b[:5], scope_in, scope_out), fbox)
            if z is not None:
                permits.append(z)
                decided.append(z)
            continue
        if not e.exact or not iv.contains(b[iv.IIN], scope_in) or not iv.contains(b[iv.IOUT], scope_out):
            continue
        z = iv.box_intersect(b, fbox)
        if z is None:
            continue
        gap = iv.uncovered(z, permits, clipped=True)
        if gap is not None:
            return gap, e
        decided.append(z)
    if default in BLOCKING:
        gap = iv.uncovered(fbox, decided, clipped=True)
        if gap is not None:
            return gap, None
    return None


def zone_infos(plant: Any) -> dict[str, ZoneInfo]:
    """ZoneInfo for each zone of a plant."""
    return {z.id: ZoneInfo(z.id, z.purdue_level, bool(z.is_dmz)) for z in plant.zones}


def address_in(net: str, value: int) -> bool:  # pragma: no cover - small helper for tests
    return iv.member(iv.network_ivs(ipaddress.ip_network(net)), value)
