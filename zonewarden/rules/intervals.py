"""Exact integer interval sets and boxes over packet header space.

An interval set (``IVS``) is a tuple of sorted, disjoint, non-adjacent inclusive
``(lo, hi)`` pairs. A box is a tuple of interval sets, one per dimension
(:data:`DIMS`): source and destination address, IP protocol, source and
destination port, and input and output interface. A set of packets is a union of
boxes. Everything here is exact integer arithmetic: no packet is ever sampled.

Addresses of both families live in one integer line: an IPv4 address is its own
value, an IPv6 address is ``V6_BASE`` plus its value, so one interval never mixes
the two and "any" can mean either family or both.

:func:`uncovered` answers the questions the analysis asks (is this box inside the
union of those boxes, and if not, where is a packet that is not) with a k-d split
that descends only into halves whose volume proves a gap, so a rule checked
against thousands of disjoint rules costs a few linear passes, not a box
subtraction that fragments.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable, Sequence

IVS = tuple[tuple[int, int], ...]
Box = tuple[IVS, ...]

V6_BASE = 1 << 32
ADDR_MAX = V6_BASE + (1 << 128) - 1
V4_ALL: IVS = ((0, V6_BASE - 1),)
V6_ALL: IVS = ((V6_BASE, ADDR_MAX),)
ADDR_ALL: IVS = ((0, ADDR_MAX),)
PROTO_ALL: IVS = ((0, 255),)
PORT_ALL: IVS = ((0, 65535),)
IFACE_MAX = (1 << 16) - 1
IFACE_ALL: IVS = ((0, IFACE_MAX),)
EMPTY: IVS = ()

SRC, DST, PROTO, SPORT, DPORT, IIN, IOUT = range(7)
DIMS = ("src", "dst", "proto", "sport", "dport", "in", "out")
FULL: Box = (ADDR_ALL, ADDR_ALL, PROTO_ALL, PORT_ALL, PORT_ALL, IFACE_ALL, IFACE_ALL)
TCP, UDP, ICMP, SCTP, ICMP6 = 6, 17, 1, 132, 58
PORTED = ((TCP, TCP), (UDP, UDP), (SCTP, SCTP))  # protocols whose rules can name ports


# ---------------------------------------------------------------- interval sets


def ivs(pairs: Iterable[tuple[int, int]]) -> IVS:
    """Normalize any iterable of inclusive pairs (unsorted, overlapping, lo > hi dropped)."""
    items = sorted((lo, hi) for lo, hi in pairs if lo <= hi)
    out: list[tuple[int, int]] = []
    for lo, hi in items:
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def point(value: int) -> IVS:
    return ((value, value),)


def union(a: IVS, b: IVS) -> IVS:
    if not a:
        return b
    if not b:
        return a
    return ivs(a + b)


def union_all(sets: Iterable[IVS]) -> IVS:
    return ivs(pair for s in sets for pair in s)


def intersect(a: IVS, b: IVS) -> IVS:
    if not a or not b:
        return EMPTY
    if len(a) == 1 and len(b) == 1:  # the common case
        lo, hi = max(a[0][0], b[0][0]), min(a[0][1], b[0][1])
        return ((lo, hi),) if lo <= hi else EMPTY
    if len(a) == 1 or len(b) == 1:  # one interval against a long set: find the overlap by bisection
        (lo, hi), many = (a[0], b) if len(a) == 1 else (b[0], a)
        k = max(bisect.bisect_right(many, (lo, ADDR_MAX + 1)) - 1, 0)
        found = []
        while k < len(many) and many[k][0] <= hi:
            s, e = max(lo, many[k][0]), min(hi, many[k][1])
            if s <= e:
                found.append((s, e))
            k += 1
        return tuple(found)
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract(a: IVS, b: IVS) -> IVS:
    if not a or not b:
        return a
    out = []
    j = 0
    for lo, hi in a:
        cur = lo
        while j < len(b) and b[j][1] < cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > cur:
                out.append((cur, b[k][0] - 1))
            cur = max(cur, b[k][1] + 1)
            if cur > hi:
                break
            k += 1
        if cur <= hi:
            out.append((cur, hi))
    return tuple(out)


def complement(a: IVS, universe: IVS) -> IVS:
    return subtract(universe, a)


def contains(a: IVS, b: IVS) -> bool:
    """Whether ``b`` is a subset of ``a``."""
    return not subtract(b, a)


def member(a: IVS, value: int) -> bool:
    return any(lo <= value <= hi for lo, hi in a)


def size(a: IVS) -> int:
    return sum(hi - lo + 1 for lo, hi in a)


def overlaps(a: IVS, b: IVS) -> bool:
    return bool(intersect(a, b))


def below(a: IVS, value: int) -> IVS:
    """The part of ``a`` strictly below ``value``."""
    return intersect(a, ((a[0][0], value - 1),)) if a and a[0][0] < value else EMPTY


def at_or_above(a: IVS, value: int) -> IVS:
    return intersect(a, ((value, a[-1][1]),)) if a and a[-1][1] >= value else EMPTY


# ---------------------------------------------------------------- addresses


def network_ivs(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> IVS:
    base = 0 if net.version == 4 else V6_BASE
    return ((base + int(net.network_address), base + int(net.broadcast_address)),)


def address_value(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    return int(addr) if addr.version == 4 else V6_BASE + int(addr)


def parse_address_ivs(text: str) -> IVS:
    """``a.b.c.d``, a CIDR prefix, ``a.b.c.d/m.m.m.m`` or a range ``a-b`` (either family)."""
    text = text.strip()
    if "-" in text and "/" not in text:
        lo_text, hi_text = text.split("-", 1)
        lo, hi = ipaddress.ip_address(lo_text.strip()), ipaddress.ip_address(hi_text.strip())
        if lo.version != hi.version:
            raise ValueError(f"range {text!r} mixes address families")
        return ivs([(address_value(lo), address_value(hi))])
    return network_ivs(ipaddress.ip_network(text, strict=False))


def address_text(value: int) -> str:
    if value < V6_BASE:
        return str(ipaddress.IPv4Address(value))
    return str(ipaddress.IPv6Address(value - V6_BASE))


def ivs_address_text(a: IVS, limit: int = 4) -> str:
    """Readable address set: 'any', CIDR blocks or ranges."""
    if a == ADDR_ALL:
        return "any"
    if a == V4_ALL:
        return "any4"
    if a == V6_ALL:
        return "any6"
    parts: list[str] = []
    for n, (lo, hi) in enumerate(a):
        if len(parts) > limit:
            return ", ".join(parts[:limit]) + f" (+{len(a) - n} more ranges)"
        for v_lo, v_hi, base, cls in ((0, V6_BASE - 1, 0, ipaddress.IPv4Address), (V6_BASE, ADDR_MAX, V6_BASE, None)):
            s, e = max(lo, v_lo), min(hi, v_hi)
            if s > e:
                continue
            if cls is ipaddress.IPv4Address:
                nets = ipaddress.summarize_address_range(ipaddress.IPv4Address(s), ipaddress.IPv4Address(e))
            else:
                nets = ipaddress.summarize_address_range(
                    ipaddress.IPv6Address(s - base), ipaddress.IPv6Address(e - base)
                )
            blocks = list(nets)
            if len(blocks) <= 2:
                parts.extend(str(n) if n.num_addresses > 1 else str(n.network_address) for n in blocks)
            else:
                parts.append(f"{address_text(s)}-{address_text(e)}")
    if len(parts) > limit:
        return ", ".join(parts[:limit]) + f" (+{len(parts) - limit} more)"
    return ", ".join(parts)


def ivs_port_text(a: IVS) -> str:
    if a == PORT_ALL:
        return "any"
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in a)


# ---------------------------------------------------------------- boxes


def box(
    src: IVS = ADDR_ALL,
    dst: IVS = ADDR_ALL,
    proto: IVS = PROTO_ALL,
    sport: IVS = PORT_ALL,
    dport: IVS = PORT_ALL,
    iin: IVS = IFACE_ALL,
    iout: IVS = IFACE_ALL,
) -> Box:
    return (src, dst, proto, sport, dport, iin, iout)


def box_empty(b: Box) -> bool:
    return any(not d for d in b)


def box_intersect(a: Box, b: Box) -> Box | None:
    out = []
    for x, y in zip(a, b, strict=True):
        if x is y or x == y:
            out.append(x)
            continue
        z = intersect(x, y)
        if not z:
            return None
        out.append(z)
    return tuple(out)


def box_contains(a: Box, b: Box) -> bool:
    """Whether box ``b`` lies inside box ``a``."""
    return all(x is y or contains(x, y) for x, y in zip(a, b, strict=True))


def box_volume(b: Box) -> int:
    v = 1
    for d in b:
        v *= size(d)
    return v


def box_subtract(a: Box, b: Box) -> list[Box]:
    """``a`` minus ``b`` as disjoint boxes (at most one per dimension)."""
    if box_intersect(a, b) is None:
        return [a]
    out = []
    cur = list(a)
    for i in range(len(a)):
        outside = subtract(cur[i], b[i])
        if outside:
            piece = list(cur)
            piece[i] = outside
            out.append(tuple(piece))
        cur[i] = intersect(cur[i], b[i])
    return out


def _hull(a: IVS) -> tuple[int, int]:
    return a[0][0], a[-1][1]


def _split_point(region: Box, cover: Sequence[Box]) -> tuple[int, int] | None:
    """A (dimension, value) that cuts ``region`` through a boundary of some cover box."""
    best: tuple[int, int] | None = None
    best_count = 0
    for d in range(len(region)):
        lo, hi = region[d][0][0], region[d][-1][1]
        cuts = set()
        for c in cover:
            cd = c[d]
            if cd is region[d]:
                continue
            for c_lo, c_hi in cd:
                if lo < c_lo <= hi:
                    cuts.add(c_lo)
                if lo < c_hi + 1 <= hi:
                    cuts.add(c_hi + 1)
            if len(cuts) > 64:
                break
        # Multi-interval regions may have inner gaps a cover box ends at: cut there too.
        if not cuts and len(region[d]) > 1 and any(cd != region[d] for c in cover for cd in (c[d],)):
            cuts = {g_lo for g_lo, _ in region[d][1:]}
        if len(cuts) > best_count:
            ordered = sorted(cuts)
            best, best_count = (d, ordered[len(ordered) // 2]), len(cuts)
    return best


def _clip(cover: Iterable[Box], region: Box) -> list[Box]:
    out = []
    for c in cover:
        z = box_intersect(c, region)
        if z is not None:
            out.append(z)
    return out


def uncovered(region: Box, cover: Iterable[Box], *, clipped: bool = False) -> Box | None:
    """A non-empty sub-box of ``region`` that no box of ``cover`` touches, or None if the
    union of ``cover`` contains ``region``. Exact."""
    if box_empty(region):
        return None
    parts = list(cover) if clipped else _clip(cover, region)
    return _search(region, parts)


def _search(region: Box, parts: list[Box]) -> Box | None:
    while True:
        if not parts:
            return region
        for c in parts:
            if c == region:
                return None
        total = box_volume(region)
        covered_volume = 0
        for c in parts:
            covered_volume += box_volume(c)
        split = _split_point(region, parts)
        if split is None:  # every part equals the region in every dimension: handled above
            return None
        d, value = split
        low = list(region)
        high = list(region)
        low[d] = below(region[d], value)
        high[d] = at_or_above(region[d], value)
        low_box, high_box = tuple(low), tuple(high)
        low_parts = _clip(parts, low_box)
        high_parts = _clip(parts, high_box)
        if covered_volume < total:
            # A gap exists; the volume shows which half holds one, so no backtracking is needed.
            low_gap = box_volume(low_box) - sum(box_volume(c) for c in low_parts)
            if low_gap > 0:
                region, parts = low_box, low_parts
            else:
                region, parts = high_box, high_parts
            continue
        found = _search(low_box, low_parts)
        if found is not None:
            return found
        region, parts = high_box, high_parts


def covers(cover: Iterable[Box], region: Box) -> bool:
    """Whether the union of ``cover`` contains ``region``."""
    return uncovered(region, cover) is None


def sample(
    region: Box, prefer_protocols: Sequence[int] = (TCP, UDP, ICMP), prefer: dict[int, IVS] | None = None
) -> tuple[int, ...]:
    """One concrete packet (a value per dimension) inside ``region``, chosen to read well:
    inside ``prefer[dim]`` where it can be (e.g. the zones' address space), a host address
    rather than a network address, TCP or UDP where allowed, a port above 0."""
    values = []
    for d, dim in enumerate(region):
        if prefer and d in prefer:
            inside = intersect(dim, prefer[d])
            if inside:
                dim = inside
        if d == PROTO:
            chosen = next((p for p in prefer_protocols if member(dim, p)), dim[0][0])
        elif d in (SRC, DST):
            lo, hi = dim[0]
            chosen = lo + 1 if hi - lo >= 2 else lo
        elif d in (SPORT, DPORT):
            lo, hi = dim[0]
            chosen = 1 if lo == 0 and hi >= 1 else lo
        else:
            chosen = dim[0][0]
        values.append(chosen)
    return tuple(values)
