"""Observed flows judged against the zones and conduits: the traffic check.

Every IP flow is mapped to zones (an asset's address, else the most specific zone subnet)
and judged, in this order:

* ``broadcast``: to a broadcast or multicast address, or from 0.0.0.0 (DHCP): local
  service traffic, not a conversation between zones; not judged further;
* ``unknown-host``: an endpoint lies in no zone (not an asset address, not in a subnet);
* ``intra-zone``: both ends in the same zone;
* ``no-conduit``: two zones that no conduit joins;
* ``allowed``: a conduit flow allows it (initiator side, responder side, transport and
  destination port; when the flow was seen without its SYN, the reverse direction also
  counts, since the capture may have started in the middle of it);
* ``not-allowed``: the zones share a conduit, but none of its flows allows this.

Then, for allowed flows of industrial protocols, the operations seen in the events
(writes, program downloads, ...) are checked against the conduit flow's ``operations``.

Bulk design: addresses map to zones with sorted interval arrays and ``searchsorted``;
whole-zone conduit flows compile to sorted (zone pair, transport, port) keys looked up
with ``searchsorted`` as well. Only conduit flows narrower than their zones (an asset, a
subnet) and port ranges wider than :data:`ENUMERATED_PORTS` take a second, per zone pair
vectorized pass. No Python loop per flow. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zonewarden.model.plant import Plant
from zonewarden.model.protocols import lookup_protocol
from zonewarden.model.resolve import Resolver
from zonewarden.rules.policy import Policy, PolicyRule, build_policy

VERDICTS = ("allowed", "intra-zone", "no-conduit", "not-allowed", "unknown-host", "broadcast", "not-ip")
ALLOWED, INTRA, NO_CONDUIT, NOT_ALLOWED, UNKNOWN, BROADCAST, NOT_IP = range(len(VERDICTS))
_VERDICT_CODE = {name: code for code, name in enumerate(VERDICTS)}
VIOLATIONS = (NO_CONDUIT, NOT_ALLOWED, UNKNOWN)
RULE_BROKEN = {
    NO_CONDUIT: "no conduit joins these zones (SR 5.1, SR 5.2)",
    NOT_ALLOWED: "the conduit has no flow for this initiator, responder, transport and port (SR 5.2)",
    UNKNOWN: "an endpoint is in no zone of the model (SR 5.1: every host belongs to a zone)",
}
TRANSPORTS = {"tcp": 1, "udp": 2}
_SIXTEEN, _EIGHT, _BYTE = np.uint8(16), np.uint8(8), np.uint8(0xFF)
CHUNK = 1 << 18  # flows per classification pass: temporaries of a few MB stay in cache
ENUMERATED_PORTS = 256  # port ranges up to this size become lookup keys; wider ones take the second pass
_NO_ZONE = -1


def ipv4_values(texts: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(values as uint64, is IPv4) for address texts; non-IPv4 entries give 0 and False."""
    out = np.zeros(len(texts), np.uint64)
    ok = np.zeros(len(texts), bool)
    cache: dict[str | None, int] = {}
    for i, text in enumerate(texts):
        value = cache.get(text)
        if value is None:
            try:
                value = int.from_bytes(socket.inet_aton(text), "big") if text and text.count(".") == 3 else -1
            except OSError:
                value = -1
            cache[text] = value
        if value >= 0:
            out[i], ok[i] = value, True
    return out, ok


def _intervals(nets: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint intervals from (first, last, prefixlen, value): the most specific network wins.

    Returns (starts, values) with ``values[i]`` valid from ``starts[i]`` up to the next start;
    -1 where nothing covers."""
    if not nets:
        return np.zeros(1, np.uint64), np.full(1, -1, np.int64)
    bounds = np.unique(
        np.array([0] + [n[0] for n in nets] + [n[1] + 1 for n in nets if n[1] + 1 < 2**64], dtype=np.uint64)
    )
    values = np.full(len(bounds), -1, np.int64)
    for first, last, _, value in sorted(nets, key=lambda n: n[2]):  # wider first, so narrower ones paint over
        lo = int(np.searchsorted(bounds, np.uint64(first)))
        hi = int(np.searchsorted(bounds, np.uint64(last + 1))) if last + 1 < 2**64 else len(bounds)
        values[lo:hi] = value
    keep = np.ones(len(values), bool)  # merge neighbours with the same zone: assets inside their own subnet
    keep[1:] = values[1:] != values[:-1]
    return bounds[keep], values[keep]


def _page_tables(starts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Direct look-up tables over the IPv4 intervals.

    ``table16[a >> 16]``: a zone index (>= 0) or -1 when the whole /16 has one answer, else
    ``-2 - p`` for page ``p``; ``pages[p, (a >> 8) & 255]``: the answer for a /24, or -2 when the
    /24 holds more than one (then the intervals are searched)."""
    if len(starts) > 1 << 20:  # absurdly fragmented address plans: the search alone is fine
        return np.zeros(0, np.int32), np.zeros((0, 256), np.int32)

    def uniform(lo: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
        first = np.searchsorted(starts, lo, side="right") - 1
        last = np.searchsorted(starts, lo + np.uint64(span - 1), side="right") - 1
        return first == last, values[first]

    blocks = np.arange(1 << 16, dtype=np.uint64) << np.uint64(16)
    same, value = uniform(blocks, 1 << 16)
    table16 = np.where(same, value, -2).astype(np.int32)
    mixed = np.flatnonzero(~same)
    table16[mixed] = -2 - np.arange(len(mixed), dtype=np.int32)
    subs = (
        (mixed.astype(np.uint64) << np.uint64(16))[:, None] + (np.arange(256, dtype=np.uint64) << np.uint64(8))
    ).ravel()
    same24, value24 = uniform(subs, 256)
    pages = np.where(same24, value24, -2).astype(np.int32).reshape(len(mixed), 256)
    return table16, pages


@dataclass
class ZoneMap:
    """Address -> zone index, in bulk for IPv4 and one at a time for IPv6."""

    zones: list[str]
    index: dict[str, int]
    starts: np.ndarray  # IPv4 interval starts (uint64)
    values: np.ndarray  # zone index per interval, -1 outside every zone
    asset_ips: np.ndarray  # sorted IPv4 addresses of declared assets
    resolver: Resolver
    table16: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # see _page_tables
    pages: np.ndarray = field(default_factory=lambda: np.zeros((0, 256), np.int32))

    @classmethod
    def build(cls, plant: Plant, resolver: Resolver | None = None) -> ZoneMap:
        resolver = resolver or Resolver(plant)
        zones = [z.id for z in plant.zones]
        index = {z: i for i, z in enumerate(zones)}
        nets: list[tuple[int, int, int, int]] = []
        for zone in plant.zones:
            for net in zone.subnets:
                if net.version == 4:
                    first = int(net.network_address)
                    nets.append((first, first + net.num_addresses - 1, net.prefixlen, index[zone.id]))
        ips: list[int] = []
        for asset in plant.assets:
            zone_id = resolver.zone_of.get(asset.id)
            for address in asset.ip:
                if address.version == 4:
                    ips.append(int(address))
                    if zone_id in index:
                        nets.append((int(address), int(address), 33, index[zone_id]))  # an asset beats any subnet
        starts, values = _intervals(nets)
        table16, pages = _page_tables(starts, values)
        return cls(zones, index, starts, values, np.unique(np.array(ips, np.uint64)), resolver, table16, pages)

    def lookup(self, addresses: np.ndarray) -> np.ndarray:
        """Zone index (int32, -1 for none) of each IPv4 address (uint64 or uint32).

        Two gathers per address (/16 table, then a /24 page); the interval search only for
        addresses in a /24 that holds more than one zone (assets declared outside their subnet's
        zone, subnets smaller than /24)."""
        if not len(self.table16):
            return self._search(addresses)
        out = self.table16[addresses >> _SIXTEEN]
        paged = np.flatnonzero(out <= -2)
        if len(paged):
            sub = self.pages[-(out[paged] + 2), (addresses[paged] >> _EIGHT) & _BYTE]
            out[paged] = sub
            fine = paged[sub == -2]
            if len(fine):
                out[fine] = self._search(addresses[fine])
        return out

    def _search(self, addresses: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.starts, addresses, side="right") - 1
        return self.values[pos]

    def is_asset(self, addresses: np.ndarray) -> np.ndarray:
        if not len(self.asset_ips):
            return np.zeros(len(addresses), bool)
        pos = np.minimum(np.searchsorted(self.asset_ips, addresses), len(self.asset_ips) - 1)
        return self.asset_ips[pos] == addresses

    def zone_of(self, text: str | None) -> str | None:
        """The zone of one address text (IPv4 or IPv6), or None."""
        if not text:
            return None
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return None
        if address.version == 4:
            z = int(self.lookup(np.array([int(address)], np.uint64))[0])
            return self.zones[z] if z >= 0 else None
        for asset in self.resolver.plant.assets:
            if address in asset.ip:
                return self.resolver.zone_of.get(asset.id)
        return self.resolver.addresses.zone_for(address)


@dataclass
class CompiledPolicy:
    """Conduit flows compiled for bulk look-up."""

    policy: Policy
    rules: list[PolicyRule]
    zone_count: int
    conduit_pairs: np.ndarray  # sorted pair keys (src * Z + dst) that some conduit joins
    conduit_of_pair: np.ndarray  # conduit index per pair key
    conduits: list[str]
    keys: np.ndarray  # sorted ((pair * 4 + transport) << 16 | port)
    key_rule: np.ndarray  # rule index per key
    slow: dict[int, list[int]]  # pair key -> rule indices needing the second pass
    rule_ranges: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    # per pair key, when zones^2 is small enough: (conduit + 1) << 48 | first key << 16 | key count
    pair_table: np.ndarray | None = None


PAIR_TABLE_LIMIT = 1 << 24  # zone pairs; above this, sorted look-ups instead of direct tables


def _pair(src: int, dst: int, z: int) -> int:
    return src * z + dst


def compile_policy(plant: Plant, zone_map: ZoneMap, policy: Policy | None = None) -> CompiledPolicy:
    policy = policy or build_policy(plant)
    z = len(zone_map.zones)
    idx = zone_map.index
    conduits = [c.id for c in plant.conduits]
    pair_conduit: dict[int, int] = {}
    for ci, conduit in enumerate(plant.conduits):
        members = [idx[m] for m in conduit.zones if m in idx]
        for a in members:
            for b in members:
                if a != b:
                    pair_conduit.setdefault(_pair(a, b, z), ci)
    conduit_index = {c: i for i, c in enumerate(conduits)}
    rules = list(policy.rules)
    keyed: dict[int, int] = {}
    slow: dict[int, list[int]] = defaultdict(list)
    ranges: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    zone_nets = {zid: set(nets) for zid, nets in policy.zone_networks.items()}
    for ri, rule in enumerate(rules):
        conduit_zones = [m for m in plant.conduits[conduit_index[rule.conduit]].zones if m in idx]
        src_zones = list(rule.src_zones) or conduit_zones
        dst_zones = list(rule.dst_zones) or conduit_zones
        whole = _whole_zones(rule.sources, rule.src_zones, zone_nets) and _whole_zones(
            rule.destinations, rule.dst_zones, zone_nets
        )
        transport = TRANSPORTS.get(rule.transport)
        narrow_ports = bool(rule.ports) and sum(hi - lo + 1 for lo, hi in rule.ports) <= ENUMERATED_PORTS
        for s in src_zones:
            for d in dst_zones:
                if s == d or s not in idx or d not in idx:
                    continue
                pk = _pair(idx[s], idx[d], z)
                if whole and transport and narrow_ports:
                    for lo, hi in rule.ports:
                        for port in range(lo, hi + 1):
                            keyed.setdefault(((pk * 4 + transport) << 16) | port, ri)
                else:
                    slow[pk].append(ri)
        if not whole:
            ranges[ri] = (*_net_ranges(rule.sources), *_net_ranges(rule.destinations))
    pairs = np.array(sorted(pair_conduit), np.int64)
    keys = np.array(sorted(keyed), np.int64)
    table: np.ndarray | None = None
    if 0 < z * z <= PAIR_TABLE_LIMIT and len(conduits) < 0xFFFF:
        # one packed word per zone pair: (conduit + 1) << 48 | first key << 16 | key count
        table = np.zeros(z * z, np.int64)
        table[pairs] = (np.array([pair_conduit[p] for p in pairs.tolist()], np.int64) + 1) << 48
        if len(keys):
            uniq, at, n = np.unique(keys >> 18, return_index=True, return_counts=True)
            table[uniq] |= (at.astype(np.int64) << 16) | np.minimum(n, 0xFFFF)
    return CompiledPolicy(
        policy,
        rules,
        z,
        pairs,
        np.array([pair_conduit[p] for p in pairs.tolist()], np.int64),
        conduits,
        keys,
        np.array([keyed[k] for k in keys.tolist()], np.int64),
        dict(slow),
        ranges,
        table,
    )


def _whole_zones(nets: tuple[Any, ...], zones: tuple[str, ...], zone_nets: dict[str, set[Any]]) -> bool:
    if not nets:
        return True  # any
    covered: set[Any] = set()
    for zid in zones:
        covered |= zone_nets.get(zid, set())
    return set(nets) == covered


def _net_ranges(nets: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    """IPv4 (first, last) arrays of networks; empty arrays with a sentinel mean any."""
    v4 = [n for n in nets if n.version == 4]
    if not nets:
        return np.array([0], np.uint64), np.array([2**32 - 1], np.uint64)
    return (
        np.array([int(n.network_address) for n in v4], np.uint64),
        np.array([int(n.broadcast_address) for n in v4], np.uint64),
    )


def _in_ranges(values: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    if not len(first):
        return np.zeros(len(values), bool)
    inside = (values[:, None] >= first[None, :]) & (values[:, None] <= last[None, :])
    return np.asarray(inside.any(axis=1))


@dataclass
class Judgement:
    """Per flow: verdict code, zone indexes, conduit index (-1) and the allowing rule index (-1)."""

    verdict: np.ndarray
    src_zone: np.ndarray
    dst_zone: np.ndarray
    conduit: np.ndarray
    rule: np.ndarray
    reversed: np.ndarray  # allowed in the reverse direction (capture started mid-flow)


def classify(
    compiled: CompiledPolicy,
    zone_map: ZoneMap,
    src: np.ndarray,
    dst: np.ndarray,
    transport: np.ndarray,
    sport: np.ndarray,
    dport: np.ndarray,
    is_ipv4: np.ndarray | None = None,
    mid_flow: np.ndarray | None = None,
) -> Judgement:
    """Judge flows in bulk. ``src``/``dst``: IPv4 as uint64; ``transport``: 1 tcp, 2 udp, 0 other;
    ``mid_flow``: True where the initiator is only a guess (no SYN seen).

    Works through the flows in chunks of :data:`CHUNK` so the temporaries stay in cache."""
    n = len(src)
    if n <= CHUNK:
        return _classify(compiled, zone_map, src, dst, transport, sport, dport, is_ipv4, mid_flow)
    parts = []
    for lo in range(0, n, CHUNK):
        part = slice(lo, lo + CHUNK)
        parts.append(
            _classify(
                compiled,
                zone_map,
                src[part],
                dst[part],
                transport[part],
                sport[part],
                dport[part],
                None if is_ipv4 is None else is_ipv4[part],
                None if mid_flow is None else mid_flow[part],
            )
        )
    return Judgement(*(np.concatenate([getattr(p, f) for p in parts]) for f in Judgement.__dataclass_fields__))


def _classify(
    compiled: CompiledPolicy,
    zone_map: ZoneMap,
    src: np.ndarray,
    dst: np.ndarray,
    transport: np.ndarray,
    sport: np.ndarray,
    dport: np.ndarray,
    is_ipv4: np.ndarray | None,
    mid_flow: np.ndarray | None,
) -> Judgement:
    n = len(src)
    v4 = np.ones(n, bool) if is_ipv4 is None else is_ipv4
    sz = zone_map.lookup(src)
    dz = zone_map.lookup(dst)
    verdict = np.full(n, NOT_ALLOWED, np.int8)
    conduit = np.full(n, -1, np.int64)
    rule = np.full(n, -1, np.int64)
    rev = np.zeros(n, bool)
    z = np.int64(compiled.zone_count)
    known = (sz >= 0) & (dz >= 0)
    cross = known & (sz != dz)
    pk = np.where(cross, sz.astype(np.int64) * z + dz, -1)
    info = None
    if compiled.pair_table is not None:
        info = compiled.pair_table[np.where(cross, pk, 0)]
        found = (info >> 48) - 1
        joined = cross & (found >= 0)
        conduit[joined] = found[joined]
    elif len(compiled.conduit_pairs):
        pos = np.minimum(np.searchsorted(compiled.conduit_pairs, pk), len(compiled.conduit_pairs) - 1)
        joined = cross & (compiled.conduit_pairs[pos] == pk)
        conduit[joined] = compiled.conduit_of_pair[pos[joined]]
    else:
        joined = np.zeros(n, bool)
    verdict[cross & ~joined] = NO_CONDUIT
    verdict[known & (sz == dz)] = INTRA
    verdict[~known] = UNKNOWN
    bcast = (dst >= np.uint64(0xE0000000)) | (src == 0) | ((dst & np.uint64(0xFF)) == np.uint64(0xFF))
    verdict[bcast & v4] = BROADCAST
    verdict[~v4] = NOT_IP
    todo_mask = (verdict == NOT_ALLOWED) & joined
    if info is not None:
        rule[:] = _match_table(compiled, np.where(todo_mask, info, 0), pk, transport, dport)
        todo = np.flatnonzero(todo_mask & (rule < 0))
    else:
        todo = np.flatnonzero(todo_mask)
    if len(todo):
        _match(compiled, todo, pk, transport, dport, rule, src, dst)
    if mid_flow is not None:
        back = np.flatnonzero(todo_mask & (rule < 0) & mid_flow)
        if len(back):
            rpk = dz[back].astype(np.int64) * z + sz[back]
            tmp = np.full(n, -1, np.int64)
            if compiled.pair_table is not None:
                tmp[back] = _match_table(compiled, compiled.pair_table[rpk], rpk, transport[back], sport[back])
                back = back[tmp[back] < 0]
            if len(back):
                pk2 = np.full(n, -1, np.int64)
                pk2[back] = dz[back].astype(np.int64) * z + sz[back]
                _match(compiled, back, pk2, transport, sport, tmp, dst, src)
            hit = np.flatnonzero(tmp >= 0)
            rule[hit] = tmp[hit]
            rev[hit] = True
    verdict[todo_mask & (rule >= 0)] = ALLOWED
    return Judgement(verdict, sz, dz, conduit, rule, rev)


def _match_table(
    compiled: CompiledPolicy, info: np.ndarray, pk: np.ndarray, transport: np.ndarray, port: np.ndarray
) -> np.ndarray:
    """Rule index (-1) per flow from the whole-zone keys of its pair (``info``: packed pair words,
    0 where no look-up is wanted). A pair's keys are contiguous in the sorted key array, so the
    k-th candidates of every flow are compared in one pass per k; no gathers of subsets."""
    rule = np.full(len(info), -1, np.int64)
    count = info & 0xFFFF
    most = int(count.max(initial=0))
    if not most or not len(compiled.keys):
        return rule
    first = (info >> 16) & 0xFFFFFFFF
    keys = ((pk * 4 + transport) << 16) | port
    last = len(compiled.keys) - 1
    for k in range(most):
        at = np.minimum(first + k, last)
        hit = (count > k) & (compiled.keys[at] == keys) & (rule < 0)
        rule[hit] = compiled.key_rule[at[hit]]
    return rule


def _match(
    compiled: CompiledPolicy,
    todo: np.ndarray,
    pk: np.ndarray,
    transport: np.ndarray,
    port: np.ndarray,
    rule: np.ndarray,
    initiator: np.ndarray,
    responder: np.ndarray,
) -> None:
    """Fill ``rule[todo]`` with an allowing rule index where one exists."""
    p = pk[todo]
    keys = ((p * 4 + transport[todo].astype(np.int64)) << 16) | port[todo].astype(np.int64)
    if compiled.pair_table is None and len(compiled.keys):
        pos = np.minimum(np.searchsorted(compiled.keys, keys), len(compiled.keys) - 1)
        hit = compiled.keys[pos] == keys
        rule[todo[hit]] = compiled.key_rule[pos[hit]]
    if not compiled.slow:
        return
    left = todo[rule[todo] < 0]
    if not len(left):
        return
    lp = pk[left]
    slow_pairs = np.array(sorted(compiled.slow), np.int64)
    sp = np.minimum(np.searchsorted(slow_pairs, lp), len(slow_pairs) - 1)
    cand = left[slow_pairs[sp] == lp]
    if not len(cand):
        return
    cp = pk[cand]
    order = np.argsort(cp, kind="stable")
    cand, cp = cand[order], cp[order]
    bounds = np.flatnonzero(np.diff(cp)) + 1
    for group in np.split(cand, bounds):
        for ri in compiled.slow[int(pk[group[0]])]:
            r = compiled.rules[ri]
            open_ = group[rule[group] < 0]
            if not len(open_):
                break
            ok = np.ones(len(open_), bool)
            t = TRANSPORTS.get(r.transport)
            if t:
                ok &= transport[open_] == t
            if r.ports:
                pv = port[open_]
                ok &= np.logical_or.reduce([(pv >= lo) & (pv <= hi) for lo, hi in r.ports])
            if ri in compiled.rule_ranges:
                s_first, s_last, d_first, d_last = compiled.rule_ranges[ri]
                ok &= _in_ranges(initiator[open_], s_first, s_last)
                ok &= _in_ranges(responder[open_], d_first, d_last)
            rule[open_[ok]] = ri


# -- flows of a discovery --------------------------------------------------------------------------


@dataclass
class CheckResult:
    """The traffic check of one capture file."""

    file: str
    flows: list[dict[str, Any]]  # the discovery's flow records, each with verdict, zones, conduit and rule added
    violations: list[dict[str, Any]]
    counts: dict[str, int]
    probes: list[dict[str, Any]] = field(default_factory=list)  # probe groups (see traffic.probes)

    def add_probes(
        self, groups: list[dict[str, Any]], violations: list[dict[str, Any]], counts: dict[str, int]
    ) -> None:
        """The probes of the file (see :func:`zonewarden.traffic.probes.check_probes`)."""
        self.probes.extend(groups)
        self.violations = sorted([*self.violations, *violations], key=violation_order)
        for verdict, n in counts.items():
            self.counts[verdict] = self.counts.get(verdict, 0) + n


def violation_order(v: dict[str, Any]) -> tuple[str, int, str]:
    return v["file"], v["packet"] or 0, v["kind"]


def judge_flows(flows: list[dict[str, Any]], compiled: CompiledPolicy, zone_map: ZoneMap) -> Judgement:
    """Bulk judgement of discovery flow records (client = initiator)."""
    src, ok_s = ipv4_values([f["client"] for f in flows])
    dst, ok_d = ipv4_values([f["server"] for f in flows])
    transport = np.array([TRANSPORTS.get(f["transport"], 0) for f in flows], np.int64)
    sport = np.array([f["client_port"] or 0 for f in flows], np.int64)
    dport = np.array([f["server_port"] or 0 for f in flows], np.int64)
    mid = np.array([f.get("initiator_from") != "syn" for f in flows], bool)
    judged = classify(compiled, zone_map, src, dst, transport, sport, dport, ok_s & ok_d, mid)
    not_ip = np.flatnonzero(~(ok_s & ok_d))
    for i in not_ip.tolist():  # IPv6 (rare on plant floors): one at a time through the resolver
        f = flows[i]
        if f["transport"] == "eth":
            continue
        a, b = zone_map.zone_of(f["client"]), zone_map.zone_of(f["server"])
        sz = zone_map.index.get(a, -1) if a else -1
        dz = zone_map.index.get(b, -1) if b else -1
        judged.src_zone[i], judged.dst_zone[i] = sz, dz
        if f["server"].startswith("ff") or f["client"] == "::":
            judged.verdict[i] = BROADCAST
        elif sz < 0 or dz < 0:
            judged.verdict[i] = UNKNOWN
        elif sz == dz:
            judged.verdict[i] = INTRA
        else:
            pair = sz * compiled.zone_count + dz
            ci = _conduit_of(compiled, pair)
            judged.conduit[i] = ci
            if ci < 0:
                judged.verdict[i] = NO_CONDUIT
                continue
            found, backwards = _permit_one(compiled, compiled.conduits[ci], f, bool(mid[i]))
            judged.rule[i], judged.reversed[i] = found, backwards
            judged.verdict[i] = ALLOWED if found >= 0 else NOT_ALLOWED
    return judged


def judge_oriented(records: Any, c: dict[str, np.ndarray], compiled: CompiledPolicy, zone_map: ZoneMap) -> Judgement:
    """Judgement of flow records in bulk from their columns (``c``: ``FlowRecords.oriented()`` of
    ``records``): IPv4 through :func:`classify`, the others (IPv6, few) through their records."""
    v4 = c["ip_version"] == 4
    transport = np.select([c["proto"] == 6, c["proto"] == 17], [TRANSPORTS["tcp"], TRANSPORTS["udp"]], 0)
    src = np.where(v4, c["client_lo"], 0).astype(np.uint64)
    dst = np.where(v4, c["server_lo"], 0).astype(np.uint64)
    judged = classify(
        compiled, zone_map, src, dst, transport, c["client_port"], c["server_port"], v4, ~c["initiator_syn"]
    )
    other = np.flatnonzero(~v4)
    if len(other):
        again = judge_flows(list(records.where(~v4)), compiled, zone_map)
        for name in Judgement.__dataclass_fields__:
            getattr(judged, name)[other] = getattr(again, name)
    return judged


def _permit_one(compiled: CompiledPolicy, conduit: str, f: dict[str, Any], mid_flow: bool) -> tuple[int, bool]:
    """(rule index or -1, reversed) for one non-IPv4 flow through ``conduit``, by the policy's own
    address arithmetic (IPv6 flows are rare on plant floors; the bulk path is IPv4 only)."""
    try:
        client, server = ipaddress.ip_address(f["client"]), ipaddress.ip_address(f["server"])
    except ValueError:
        return -1, False
    transport = f["transport"]
    for k, r in enumerate(compiled.rules):
        if r.conduit == conduit and r.permits(client, server, transport, f["server_port"]):
            return k, False
    if mid_flow:
        for k, r in enumerate(compiled.rules):
            if r.conduit == conduit and r.permits(server, client, transport, f["client_port"]):
                return k, True
    return -1, False


def _conduit_of(compiled: CompiledPolicy, pair: int) -> int:
    if compiled.pair_table is not None:
        return int(compiled.pair_table[pair] >> 48) - 1
    pos = int(np.searchsorted(compiled.conduit_pairs, pair))
    if pos < len(compiled.conduit_pairs) and compiled.conduit_pairs[pos] == pair:
        return int(compiled.conduit_of_pair[pos])
    return -1


def check_flows(
    file: str,
    flows: list[dict[str, Any]],
    events: list[Any],
    compiled: CompiledPolicy,
    zone_map: ZoneMap,
) -> CheckResult:
    """Judge the flows of one capture file and list its violations (aggregated per conversation)."""
    judged = judge_flows(flows, compiled, zone_map) if flows else None
    zones = zone_map.zones
    annotated: list[dict[str, Any]] = []
    for i, f in enumerate(flows):
        assert judged is not None
        annotated.append({**f, **annotation(file, judged, i, compiled, zones)})
    return check_annotated(file, annotated, events, compiled)


def annotation(file: str, judged: Judgement, i: int, compiled: CompiledPolicy, zones: list[str]) -> dict[str, Any]:
    """What the traffic check adds to flow record ``i`` of a judgement: file, verdict, zones, conduit,
    the conduit flow (rule) that allows it and whether it was allowed in reverse."""
    v, sz, dz = int(judged.verdict[i]), int(judged.src_zone[i]), int(judged.dst_zone[i])
    ci, ri = int(judged.conduit[i]), int(judged.rule[i])
    rule = compiled.rules[ri] if ri >= 0 else None
    return {
        "file": file,
        "verdict": VERDICTS[v],
        "src_zone": zones[sz] if sz >= 0 else None,
        "dst_zone": zones[dz] if dz >= 0 else None,
        "conduit": compiled.conduits[ci] if ci >= 0 else (rule.conduit if rule else None),
        "rule": rule.flow if rule else None,
        "reversed": bool(judged.reversed[i]),
    }


def check_annotated(
    file: str, annotated: list[dict[str, Any]], events: list[Any], compiled: CompiledPolicy
) -> CheckResult:
    """The counts and violations of flow records already judged (annotated as :func:`check_flows` does;
    a record may stand for several flows: ``flows``, see traffic.conversations)."""
    counts: dict[str, int] = defaultdict(int)
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rec in annotated:
        v = _VERDICT_CODE[rec["verdict"]]
        counts[rec["verdict"]] += rec.get("flows", 1)
        if v in VIOLATIONS:
            _add_violation(groups, rec, v)
    violations = fold_unknown(list(groups.values()))
    violations.extend(operation_violations(file, annotated, events, compiled))
    violations.sort(key=violation_order)
    return CheckResult(file, annotated, violations, dict(counts))


def _add_violation(groups: dict[tuple[Any, ...], dict[str, Any]], rec: dict[str, Any], v: int) -> None:
    kind = VERDICTS[v]
    key = (kind, rec["client"], rec["server"], rec["transport"], rec["server_port"])
    packets = rec["packets_to_server"] + rec["packets_to_client"]
    size = rec["bytes_to_server"] + rec["bytes_to_client"]
    g = groups.get(key)
    if g is None:
        pair = f"{rec['src_zone'] or '?'} -> {rec['dst_zone'] or '?'}"
        groups[key] = {
            "kind": kind,
            "file": rec["file"],
            "packet": rec["first_packet"],
            "client": rec["client"],
            "server": rec["server"],
            "transport": rec["transport"],
            "port": rec["server_port"],
            "protocol": rec.get("app_protocol"),
            "src_zone": rec["src_zone"],
            "dst_zone": rec["dst_zone"],
            "zone_pair": pair,
            "conduit": rec["conduit"],
            "rule_broken": RULE_BROKEN[v],
            "first_seen": rec["first_seen"],
            "last_seen": rec["last_seen"],
            "packets": packets,
            "bytes": size,
            "flows": rec.get("flows", 1),
        }
        return
    g["flows"] += rec.get("flows", 1)
    g["packets"] += packets
    g["bytes"] += size
    if rec["first_seen"] < g["first_seen"]:
        g["first_seen"], g["packet"] = rec["first_seen"], rec["first_packet"]
    g["last_seen"] = max(g["last_seen"], rec["last_seen"])


FOLD_PEERS = 16  # unknown-host violations with one peer raised one by one (see fold_unknown)
FOLD_SAMPLE = 10  # peers named in a folded violation


def fold_unknown(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``violations`` with the unknown-host ones folded where they are many: past ``FOLD_PEERS`` towards one
    server (the same transport, port, protocol and zones), one record stands for them, naming the first
    client (``client``), counting them (``clients``) and listing up to ``FOLD_SAMPLE`` (``sample``), with
    flows, packets and bytes summed and first and last seen over all; then the same from one client towards
    many servers (``servers``). A network the model does not describe yet (a BACnet network of thousands
    of devices announcing themselves to a broadcast address) is a handful of lines, not one per device."""
    rest = [v for v in violations if v["kind"] != "unknown-host"]
    unknown = [v for v in violations if v["kind"] == "unknown-host"]
    for side, other, count in (("client", "server", "clients"), ("server", "client", "servers")):
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
        for v in unknown:
            groups[
                (v["file"], v[other], v["transport"], v["port"], v["protocol"], v["src_zone"], v["dst_zone"])
            ].append(v)
        unknown = []
        for members in groups.values():
            if len(members) <= FOLD_PEERS:
                unknown.extend(members)
                continue
            members.sort(key=lambda v: (v["first_seen"], v["packet"]))
            folded = dict(members[0])
            folded.update(
                flows=sum(v["flows"] for v in members),
                packets=sum(v["packets"] for v in members),
                bytes=sum(v["bytes"] for v in members),
                last_seen=max(v["last_seen"] for v in members),
                sample=[v[side] for v in members[:FOLD_SAMPLE]],
            )
            folded[count] = len(members)
            rest.append(folded)
    return rest + unknown


def _same_protocol(seen: str, declared: str) -> bool:
    """Whether an event's protocol is the conduit flow's (S7comm-plus shares port 102 with S7comm)."""
    found = lookup_protocol(seen)
    name = found.name if found else seen
    return name == declared or (declared == "s7" and name == "s7comm-plus")


def operation_violations(
    file: str, flows: list[dict[str, Any]], events: list[Any], compiled: CompiledPolicy
) -> list[dict[str, Any]]:
    """Industrial operations (from the events) that the allowing conduit flow does not allow."""
    by_pair: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for f in flows:
        if f["verdict"] == "allowed" and f["rule"]:
            client, server = (f["server"], f["client"]) if f["reversed"] else (f["client"], f["server"])
            by_pair[(client, server)].append(f)
    rules = {(r.conduit, r.flow): r for r in compiled.rules}
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for ev in events:
        if ev.file != file or ev.message != "request" or not ev.operation:
            continue
        for f in by_pair.get((ev.client, ev.server), []):
            rule = rules.get((f["conduit"], f["rule"]))
            if rule is None or rule.operations is None:
                continue
            proto = lookup_protocol(rule.protocol)
            if proto is None or not proto.industrial:
                continue
            if not _same_protocol(ev.protocol, proto.name):
                continue
            if rule.operations.allowed(ev.operation):
                continue
            key = (rule.conduit, rule.flow, ev.client, ev.server, ev.operation)
            g = out.get(key)
            if g is None:
                out[key] = {
                    "kind": "operation-not-allowed",
                    "file": file,
                    "packet": ev.first_packet,
                    "client": ev.client,
                    "server": ev.server,
                    "transport": f["transport"],
                    "port": f["server_port"],
                    "protocol": ev.protocol,
                    "src_zone": f["src_zone"],
                    "dst_zone": f["dst_zone"],
                    "zone_pair": f"{f['src_zone']} -> {f['dst_zone']}",
                    "conduit": rule.conduit,
                    "rule": rule.flow,
                    "rule_broken": f"conduit flow '{rule.flow}' does not allow the operation '{ev.operation}' "
                    f"({ev.function})",
                    "operation": ev.operation,
                    "function": ev.function,
                    "first_seen": ev.first_time,
                    "last_seen": ev.last_time,
                    "packets": ev.count,
                    "bytes": None,
                    "flows": 1,
                }
            else:
                g["packets"] += ev.count
                if (ev.first_time, ev.first_packet) < (g["first_seen"], g["packet"]):
                    g["first_seen"], g["packet"] = ev.first_time, ev.first_packet
                g["last_seen"] = max(g["last_seen"], ev.last_time)
            break
    return list(out.values())
