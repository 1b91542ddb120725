"""Bulk header decoding: one :class:`Headers` table (numpy columns) per :class:`RawBatch`.

Every field of every packet of a batch is gathered with a handful of vectorized numpy
operations: no Python object is created per packet. Link types: Ethernet (1), Linux
cooked SLL (113) and SLL2 (276), raw IP (101, 12, 14, 228, 229), BSD null (0) and
OpenBSD loop (108) with the address family in either byte order. 802.1Q/QinQ tags
(0x8100, 0x88a8, 0x9100) are skipped and their VLAN ids kept. Above: IPv4 (fragments
flagged; a non-first fragment has no transport header), IPv6 (hop-by-hop, routing,
fragment and destination-options headers skipped), ARP, and TCP/UDP/SCTP ports, TCP flags.
Tunnels (remote SPAN): ERSPAN I/II/III and GRE-carried Ethernet or IP, and VXLAN, are
opened in bulk and their packets decoded as the frames they carry (see :func:`tunnelled`).

Contract: decoding never raises on bad bytes; fields a packet is too short to hold are 0
and such packets have ``truncated`` set. Packets that need application-layer dissection
are turned into per-packet views with :func:`packet_views` / :func:`packets`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from zonewarden.traffic.capture import RawBatch, windows
from zonewarden.traffic.dissectors.base import Packet

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_ARP = 0x0806
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
IP_TCP, IP_UDP, IP_ICMP, IP_ICMPV6, IP_SCTP = 6, 17, 1, 58, 132
IPV6_EXTENSIONS = (0, 43, 44, 60)  # hop-by-hop, routing, fragment, destination options
TRANSPORT_NAMES = {IP_TCP: "tcp", IP_UDP: "udp", IP_ICMP: "icmp", IP_ICMPV6: "icmpv6", IP_SCTP: "sctp"}
ETHERNET_LIKE = (1, 113, 276)  # link types whose non-IP frames are handed on as "eth"

_RAW_IP = (101, 12, 14)
_AF_INET6 = (24, 28, 30)


def _be16(b: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Big-endian uint16 at each position, as int64 (two single-byte gathers beat one window)."""
    return (b[pos].astype(np.int64) << 8) | b[pos + 1]


@dataclass
class Headers:
    """Decoded headers of one batch, one row per packet (columns are numpy arrays).

    Addresses: IPv4 in ``src4``/``dst4`` (uint32, also ARP sender/target), IPv6 in
    ``src6``/``dst6`` (n x 2 uint64: high and low 64 bits). ``payload_off`` indexes
    ``raw.buf``; for IP packets the payload is the transport payload (TCP/UDP/SCTP) or
    the bytes after the IP headers (other protocols, non-first fragments); for non-IP
    frames it is everything after the EtherType and VLAN tags. ICMP has ports 0.

    A table keeps its batch's buffer (about one chunk) alive: keep the few payloads you
    need as bytes (:meth:`payload`, :func:`packet_views`), not the table.
    """

    raw: RawBatch
    vlan: np.ndarray  # uint16, outer VLAN id (0 if untagged)
    inner_vlan: np.ndarray  # uint16, second VLAN id of QinQ (0 if none)
    ethertype: np.ndarray  # uint16 after VLAN tags (0: unknown link type or 802.3 LLC)
    l3_off: np.ndarray  # int64 offset of the network header in raw.buf
    ip_version: np.ndarray  # uint8: 4, 6 or 0
    src4: np.ndarray  # uint32
    dst4: np.ndarray
    src6: np.ndarray  # (n, 2) uint64
    dst6: np.ndarray
    proto: np.ndarray  # uint8 IP protocol (after IPv6 extension headers)
    sport: np.ndarray  # uint16 (TCP, UDP, SCTP)
    dport: np.ndarray
    tcp_flags: np.ndarray  # uint16 (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE CWR NS)
    payload_off: np.ndarray  # int64 into raw.buf
    payload_len: np.ndarray  # int64
    fragment: np.ndarray  # bool: an IP fragment (first or not)
    ip_id: np.ndarray  # uint32: IPv4 identification, or the IPv6 fragment header's (0 elsewhere)
    frag_offset: np.ndarray  # int64: fragment offset in bytes (0 for unfragmented packets)
    more_fragments: np.ndarray  # bool: the MF flag (IPv4) or M flag (IPv6 fragment header)
    l4_off: np.ndarray  # int64 into raw.buf: the IP payload (transport header or fragment data)
    ip_end: np.ndarray  # int64 into raw.buf: the end of the IP datagram as captured
    truncated: np.ndarray  # bool: a header was cut by the capture length
    single_linktype: int = -1  # the link type of every row, or -1 when they differ
    tunnels: dict[str, int] = field(default_factory=dict)  # packets taken out of a tunnel, per kind
    _macs: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def number(self) -> np.ndarray:
        return self.raw.number

    @property
    def ts_ns(self) -> np.ndarray:
        return self.raw.ts_ns

    @property
    def time(self) -> np.ndarray:
        """float64 seconds since the epoch."""
        return self.raw.ts_ns / 1e9

    @property
    def linktype(self) -> np.ndarray:
        return self.raw.linktype

    @property
    def caplen(self) -> np.ndarray:
        return self.raw.caplen

    @property
    def wirelen(self) -> np.ndarray:
        return self.raw.wirelen

    def macs(self, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(src, dst) MAC addresses as uint64 (0 where the link layer has none).

        For all rows (computed once and kept) or, cheaper, for the given row numbers.
        """
        if rows is not None and self._macs is None:
            return _macs(self.raw, rows)
        if self._macs is None:
            self._macs = _macs(self.raw, np.arange(len(self)))
        return self._macs if rows is None else (self._macs[0][rows], self._macs[1][rows])

    def payload(self, i: int) -> bytes:
        start = int(self.payload_off[i])
        return self.raw.buf[start : start + int(self.payload_len[i])]


def decode(raw: RawBatch) -> Headers:
    """Decode the link, network and transport headers of every packet of ``raw``; packets that carry
    another frame in a tunnel (remote SPAN: ERSPAN, VXLAN, GRE) are decoded as that frame (see
    :func:`tunnelled`), up to ``MAX_TUNNELS`` deep, and ``Headers.tunnels`` counts them per kind."""
    h = _decode(raw)
    tunnels: dict[str, int] = {}
    for _ in range(MAX_TUNNELS):
        inner = tunnelled(h)
        if inner is None:
            break
        rows, off, linktype, kinds = inner
        for kind, count in zip(*np.unique(kinds, return_counts=True), strict=True):
            tunnels[TUNNEL_KINDS[int(kind)]] = tunnels.get(TUNNEL_KINDS[int(kind)], 0) + int(count)
        raw = _unwrapped(h.raw, rows, off, linktype)
        h = _decode(raw)
    h.tunnels = tunnels
    return h


def _decode(raw: RawBatch) -> Headers:
    n = len(raw)
    buf = raw.buf
    b = np.frombuffer(buf, np.uint8)
    d, end = raw.data_off, raw.data_off + raw.caplen
    lt = raw.linktype
    single = int(lt[0]) if n and lt[0] == lt[-1] and (lt == lt[0]).all() else -1
    if single >= 0:
        etype, l3 = _link(buf, b, d, end, single)
    else:
        etype, l3 = np.zeros(n, np.int64), d.copy()
        for value in np.unique(lt).tolist():
            rows = np.flatnonzero(lt == value)
            etype[rows], l3[rows] = _link(buf, b, d[rows], end[rows], value)
    vlan = np.zeros(n, np.uint16)
    inner = np.zeros(n, np.uint16)
    for depth in range(3):
        tagged = ((etype == 0x8100) | (etype == 0x88A8) | (etype == 0x9100)) & (l3 + 4 <= end)
        if not tagged.any():
            break
        rows = np.flatnonzero(tagged)
        tag = windows(buf, 4)[l3[rows]].view(">u2")
        (vlan if depth == 0 else inner)[rows] = tag[:, 0] & 0xFFF
        etype[rows] = tag[:, 1]
        l3[rows] += 4
    out = _network(buf, etype, l3, end)
    out.raw, out.vlan, out.inner_vlan, out.single_linktype = raw, vlan, inner, single
    return out


MAX_TUNNELS = 3  # tunnels inside tunnels taken apart at most this deep
TUNNEL_KINDS = ("erspan", "vxlan", "gre", "tzsp")
# GRE protocol types opened: ERSPAN I/II, ERSPAN III, transparent Ethernet bridging, IPv4, IPv6
_GRE_CARRIES = (0x88BE, 0x22EB, 0x6558, ETH_IPV4, ETH_IPV6)
VXLAN_PORT = 4789
TZSP_PORT = 37008


def tunnelled(h: Headers) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The packets of ``h`` that carry an Ethernet frame in a tunnel, as (rows, offset of the inner frame in
    the buffer, its link type, kind index into TUNNEL_KINDS); None when there are none.

    * GRE (IP protocol 47, version 0) with protocol 0x88BE: ERSPAN type II after an 8-byte ERSPAN header
      when the GRE sequence bit is set, type I (no ERSPAN header) when not; 0x22EB: ERSPAN type III after
      its 12-byte header and, when its O bit is set, an 8-byte platform subheader; 0x6558: an Ethernet
      frame (gretap); 0x0800/0x86DD: an IP packet. The GRE header is 4 bytes, plus 4 for each of the
      checksum, key and sequence bits; a routing bit (obsolete) is not followed.
    * VXLAN: UDP to port 4789 with the I flag, an 8-byte header then an Ethernet frame.
    * TZSP (MikroTik's packet sniffer streaming): UDP to port 37008, version 1, a received packet
      (type 0) of encapsulation 1 (Ethernet), after its tagged fields (padding, then tag, length,
      value, up to the end tag; at most 8 are followed).

    Only whole, unfragmented outer packets are opened; the inner frame ends where the outer one does."""
    end = h.raw.data_off + h.raw.caplen
    b = np.frombuffer(h.raw.buf, np.uint8)
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    gre = np.flatnonzero((h.proto == 47) & (h.ip_version > 0) & ~h.fragment & (h.l4_off + 4 <= h.ip_end))
    if len(gre):
        at = h.l4_off[gre]
        flags = _be16(b, at)
        kind = _be16(b, at + 2)
        size = 4 + 4 * (((flags >> 15) & 1) + ((flags >> 13) & 1) + ((flags >> 12) & 1))
        ok = ((flags & 0x4007) == 0) & np.isin(kind, _GRE_CARRIES)
        inner = at + size
        erspan2 = (kind == 0x88BE) & ((flags & 0x1000) != 0)
        inner = np.where(erspan2, inner + 8, inner)
        erspan3 = kind == 0x22EB
        o_bit = b[np.minimum(inner + 11, len(b) - 1)] & 1
        inner = np.where(erspan3, inner + 12 + 8 * o_bit, inner)
        ip_inside = (kind == ETH_IPV4) | (kind == ETH_IPV6)
        ok &= inner + np.where(ip_inside, 20, 14) <= end[gre]
        which = np.where((kind == 0x88BE) | erspan3, 0, 2)
        keep = np.flatnonzero(ok)
        out.append((gre[keep], inner[keep], np.where(ip_inside, 101, 1)[keep], which[keep]))
    vx = np.flatnonzero((h.proto == IP_UDP) & (h.dport == VXLAN_PORT) & (h.payload_len >= 8 + 14))
    if len(vx):
        at = h.payload_off[vx]
        keep = (b[at] & 0x08) != 0
        out.append((vx[keep], at[keep] + 8, np.ones(int(keep.sum()), np.int64), np.ones(int(keep.sum()), np.int64)))
    tz = np.flatnonzero((h.proto == IP_UDP) & (h.dport == TZSP_PORT) & (h.payload_len >= 5 + 14))
    if len(tz):
        at = h.payload_off[tz]
        ok = (b[at] == 1) & (b[at + 1] == 0) & (_be16(b, at + 2) == 1)
        pos = at + 4
        done = np.zeros(len(tz), bool)
        for _ in range(8):  # tags: 0 padding, 1 end, else tag, length, value
            tag = b[np.minimum(pos, len(b) - 2)]
            ended = ~done & (tag == 1)
            pos = np.where(done, pos, np.where(tag <= 1, pos + 1, pos + 2 + b[np.minimum(pos + 1, len(b) - 1)]))
            done |= ended
        keep = np.flatnonzero(ok & done & (pos + 14 <= end[tz]))
        out.append((tz[keep], pos[keep], np.ones(len(keep), np.int64), np.full(len(keep), 3, np.int64)))
    if not out or not sum(len(o[0]) for o in out):
        return None
    rows, off, linktype, kinds = (np.concatenate(cols) for cols in zip(*out, strict=True))
    return rows, off.astype(np.int64), linktype.astype(np.int64), kinds.astype(np.int64)


def _unwrapped(raw: RawBatch, rows: np.ndarray, off: np.ndarray, linktype: np.ndarray) -> RawBatch:
    """``raw`` with the given rows replaced by their inner frames (same buffer, packet numbers and times;
    the length on the wire is the outer one less the tunnel headers)."""
    data_off, caplen, wirelen, lt = raw.data_off.copy(), raw.caplen.copy(), raw.wirelen.copy(), raw.linktype.copy()
    cut = off - data_off[rows]
    data_off[rows] = off
    caplen[rows] -= cut
    wirelen[rows] = np.maximum(wirelen[rows] - cut, caplen[rows])
    lt[rows] = linktype
    return RawBatch(raw.buf, raw.number, raw.ts_ns, lt, data_off, caplen, wirelen, raw.file_off)


def _link(buf: bytes, b: np.ndarray, d: np.ndarray, end: np.ndarray, linktype: int) -> tuple[np.ndarray, np.ndarray]:
    """(ethertype, network header offset) for rows of one link type."""
    n = len(d)
    if linktype in (1, 113, 276):
        hlen, at = {1: (14, 12), 113: (16, 14), 276: (20, 0)}[linktype]
        ok = end >= d + hlen
        etype = _be16(b, d + at)
        etype[~ok | (etype < 0x600)] = 0
        return etype, np.where(ok, d + hlen, d)
    if linktype in (0, 108):
        ok = end >= d + 4
        af = windows(buf, 4)[d].view("<u4")[:, 0].astype(np.int64)
        af = np.where(af > 0xFFFF, af.astype(np.uint32).byteswap().astype(np.int64), af)
        etype = np.select([af == 2, np.isin(af, _AF_INET6)], [ETH_IPV4, ETH_IPV6], 0)
        return np.where(ok, etype, 0), np.where(ok, d + 4, d)
    if linktype in _RAW_IP or linktype in (228, 229):
        version = b[d] >> 4
        if linktype == 228:
            etype = np.full(n, ETH_IPV4, np.int64)
        elif linktype == 229:
            etype = np.full(n, ETH_IPV6, np.int64)
        else:
            etype = np.select([version == 4, version == 6], [ETH_IPV4, ETH_IPV6], 0)
        return np.where(end > d, etype, 0), d.copy()
    return np.zeros(n, np.int64), d.copy()


def _network(buf: bytes, etype: np.ndarray, l3: np.ndarray, end: np.ndarray) -> Headers:
    """IP, ARP and transport fields from the network header offsets ``l3``."""
    n = len(l3)
    # One 40-byte window per packet holds an IPv4 header without options and the start of
    # its TCP/UDP header (or a whole IPv6 header); other layouts are gathered again below.
    g = windows(buf, 40)[l3]
    g16 = g.view(">u2")
    ihl = (g[:, 0] & 15).astype(np.int64) << 2
    is4 = (etype == ETH_IPV4) & (l3 + 20 <= end) & ((g[:, 0] >> 4) == 4) & (ihl >= 20)
    frag = g16[:, 3]
    g32 = g.view(">u4")
    src4 = g32[:, 3] * is4
    dst4 = g32[:, 4] * is4
    proto = g[:, 9] * is4
    fragment = is4 & ((frag & 0x3FFF) != 0)
    ip_id = g16[:, 2].astype(np.uint32) * is4
    frag_offset = (frag & 0x1FFF).astype(np.int64) * 8 * is4
    more_fragments = is4 & ((frag & 0x2000) != 0)
    has_l4 = is4 & ((frag & 0x1FFF) == 0)
    l4 = l3 + ihl
    total = g16[:, 1].astype(np.int64)
    ip_end = np.where(is4 & (total >= ihl), np.minimum(end, l3 + total), end)
    version = is4.astype(np.uint8) * 4
    truncated = (etype == ETH_IPV4) & (l3 + 20 > end)
    src6 = np.zeros((n, 2), np.uint64)
    dst6 = np.zeros((n, 2), np.uint64)
    six = (etype == ETH_IPV6) & (l3 + 40 <= end) & ((g[:, 0] >> 4) == 6)
    if six.any():
        _ipv6(buf, np.flatnonzero(six), g, l3, end, src6, dst6, proto, l4, ip_end, has_l4, fragment, version,
              (ip_id, frag_offset, more_fragments))  # fmt: skip
        truncated |= (etype == ETH_IPV6) & (l3 + 40 > end)
    arp = (etype == ETH_ARP) & (l3 + 28 <= end)
    if arp.any():
        rows = np.flatnonzero(arp)
        a = windows(buf, 28)[l3[rows]]
        ok = (a[:, 4] == 6) & (a[:, 5] == 4)
        src4[rows] = a[:, 14:18].copy().view(">u4")[:, 0] * ok
        dst4[rows] = a[:, 24:28].copy().view(">u4")[:, 0] * ok
    # Transport header: columns 20.. of the window, or gathered where it starts elsewhere.
    sport = g16[:, 10].copy()
    dport = g16[:, 11].copy()
    doff = g[:, 32].copy()
    flags = g16[:, 16] & 0x1FF
    moved = np.flatnonzero(has_l4 & (ihl != 20) | six)
    if len(moved):
        t = windows(buf, 14)[np.minimum(l4[moved], end[moved])]
        t16 = t.view(">u2")
        sport[moved], dport[moved], doff[moved], flags[moved] = t16[:, 0], t16[:, 1], t[:, 12], t16[:, 6] & 0x1FF
    tcp = has_l4 & (proto == IP_TCP)
    udp = has_l4 & (proto == IP_UDP)
    sctp = has_l4 & (proto == IP_SCTP)
    ported = (tcp | udp | sctp) & (l4 + 4 <= end)
    sport *= ported
    dport *= ported
    flags *= tcp & (l4 + 14 <= end)
    tcp_ok = tcp & (l4 + 20 <= end)
    udp_ok = udp & (l4 + 8 <= end)
    truncated |= (tcp & ~tcp_ok) | (udp & ~udp_ok) | (sctp & (l4 + 12 > end))
    is_ip = version > 0
    start = np.where(tcp_ok, l4 + ((doff >> 4).astype(np.int64) << 2), l4)
    start[udp_ok] += 8
    start = np.where((tcp & ~tcp_ok) | (udp & ~udp_ok), ip_end, start)
    payload_off = np.where(is_ip, start, l3)
    payload_len = np.where(is_ip, ip_end, end) - payload_off
    np.maximum(payload_len, 0, out=payload_len)
    empty = np.zeros(0, np.uint16)
    return Headers(
        raw=None,  # type: ignore[arg-type]  # set by decode()
        vlan=empty,
        inner_vlan=empty,
        ethertype=etype.astype(np.uint16),
        l3_off=l3,
        ip_version=version,
        src4=src4,
        dst4=dst4,
        src6=src6,
        dst6=dst6,
        proto=proto.astype(np.uint8),
        sport=sport,
        dport=dport,
        tcp_flags=flags,
        payload_off=payload_off,
        payload_len=payload_len,
        fragment=fragment,
        ip_id=ip_id,
        frag_offset=frag_offset,
        more_fragments=more_fragments,
        l4_off=np.where(is_ip, l4, l3),
        ip_end=np.where(is_ip, ip_end, end),
        truncated=truncated,
    )


def _ipv6(
    buf: bytes,
    rows: np.ndarray,
    g: np.ndarray,
    l3: np.ndarray,
    end: np.ndarray,
    src6: np.ndarray,
    dst6: np.ndarray,
    proto: np.ndarray,
    l4: np.ndarray,
    ip_end: np.ndarray,
    has_l4: np.ndarray,
    fragment: np.ndarray,
    version: np.ndarray,
    frag_fields: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Fill the IPv6 rows in place from their 40-byte windows, skipping extension headers."""
    base, stop, g = l3[rows], end[rows], g[rows]
    src6[rows] = g[:, 8:24].copy().view(">u8")
    dst6[rows] = g[:, 24:40].copy().view(">u8")
    plen = g.view(">u2")[:, 2].astype(np.int64)
    nh = g[:, 6].astype(np.int64)
    x = base + 40
    frag = np.zeros(len(rows), bool)
    later = np.zeros(len(rows), bool)
    window = windows(buf, 8)
    for _ in range(8):
        ext = np.isin(nh, IPV6_EXTENSIONS) & (x + 8 <= stop)
        if not ext.any():
            break
        e = window[np.minimum(x, stop)]
        is_frag = ext & (nh == 44)
        frag |= is_frag
        if is_frag.any():  # identification, offset and M flag of the fragment header
            at = rows[is_frag]
            word = e[is_frag].view(">u2")[:, 1]
            frag_fields[0][at] = e[is_frag][:, 4:8].copy().view(">u4")[:, 0]
            frag_fields[1][at] = (word >> 3).astype(np.int64) * 8
            frag_fields[2][at] = (word & 1) != 0
        later |= is_frag & ((e.view(">u2")[:, 1] >> 3) != 0)
        size = np.where(nh == 44, 8, (e[:, 1].astype(np.int64) + 1) * 8)
        nh = np.where(ext, e[:, 0], nh)
        x = np.where(ext, x + size, x)
    proto[rows] = nh
    l4[rows] = x
    ip_end[rows] = np.where(plen > 0, np.minimum(stop, base + 40 + plen), stop)
    has_l4[rows] = ~later & ~np.isin(nh, IPV6_EXTENSIONS)
    fragment[rows] = frag
    version[rows] = 6


_MAC_BITS = np.uint64((1 << 48) - 1)
_SHIFT16 = np.uint64(16)


def _macs(raw: RawBatch, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(src, dst) MACs of ``rows``: Ethernet has both, Linux cooked captures the source only.

    Each MAC is one unaligned big-endian 8-byte read (the batch buffer is padded, so reads past a
    short frame stay inside it): the destination is the top 48 bits at the frame's start, the
    source the low 48 bits 4 bytes on."""
    n = len(rows)
    src = np.zeros(n, np.uint64)
    dst = np.zeros(n, np.uint64)
    if not n:
        return src, dst
    buf = raw.buf
    words = np.ndarray((len(buf) - 7,), ">u8", buf, 0, (1,))
    d, lt, cap = raw.data_off[rows], raw.linktype[rows], raw.caplen[rows]
    eth = np.flatnonzero((lt == 1) & (cap >= 14))
    if len(eth):
        at = d[eth]
        dst[eth] = words[at] >> _SHIFT16
        src[eth] = words[at + 4] & _MAC_BITS
    for linktype, at_, len_at in ((113, 6, 5), (276, 12, 11)):
        cooked = np.flatnonzero((lt == linktype) & (cap >= at_ + 6))
        if len(cooked):
            start = d[cooked]
            cooked = cooked[np.frombuffer(buf, np.uint8)[start + len_at] == 6]
            src[cooked] = words[d[cooked] + at_] >> _SHIFT16
    return src, dst


@lru_cache(maxsize=1 << 16)
def _mac_text(value: int) -> str:
    return int(value).to_bytes(6, "big").hex(":")


def mac_text(value: int) -> str:
    """aa:bb:cc:dd:ee:ff for a MAC held in an int (memoized: the same few MACs recur)."""
    return _mac_text(int(value))


@lru_cache(maxsize=1 << 16)
def _v4_text(value: int) -> str:
    return socket.inet_ntoa(value.to_bytes(4, "big"))


def ip_text(h: Headers, i: int, source: bool) -> str:
    """The source or destination IP address of row ``i`` as text ('' if not IP)."""
    version = int(h.ip_version[i])
    if version == 4:
        return str(ipaddress.IPv4Address(int((h.src4 if source else h.dst4)[i])))
    if version == 6:
        hi, lo = (h.src6 if source else h.dst6)[i].tolist()
        return str(ipaddress.IPv6Address((int(hi) << 64) | int(lo)))
    return ""


class PacketView(NamedTuple):
    """One packet picked for application-layer dissection (see :func:`packet_views`)."""

    number: int
    time: float
    src: str  # IP address, or the source MAC for non-IP frames
    dst: str
    sport: int
    dport: int
    transport: str  # tcp, udp, sctp, icmp, icmpv6, ip (other IP protocol), eth (non-IP frame), raw
    payload: bytes
    src_mac: str | None
    dst_mac: str | None
    ethertype: int
    vlan: int
    fragment: bool


def packet_views(h: Headers, mask: np.ndarray) -> Iterator[PacketView]:
    """Yield a :class:`PacketView` for every row where ``mask`` is true, in packet order."""
    return _picked(h, mask, PacketView)


def _picked(h: Headers, mask: np.ndarray, make: Callable[..., Any]) -> Iterator[Any]:
    """``make(number, time, src, dst, sport, dport, transport, payload, src_mac, dst_mac, ethertype, vlan,
    fragment)`` for every row where ``mask`` is true, in packet order.

    Columns are gathered for the picked rows in bulk and converted to Python values once;
    address texts are memoized, since the same hosts recur packet after packet."""
    rows = np.flatnonzero(mask)
    if not len(rows):
        return
    src_mac, dst_mac = h.macs(rows)
    number = h.raw.number[rows].tolist()
    ts = h.raw.ts_ns[rows].tolist()
    version = h.ip_version[rows].tolist()
    proto = h.proto[rows].tolist()
    sport, dport = h.sport[rows].tolist(), h.dport[rows].tolist()
    ethertype, vlan = h.ethertype[rows].tolist(), h.vlan[rows].tolist()
    fragment = h.fragment[rows].tolist()
    linktype = h.linktype[rows].tolist()
    src4, dst4 = h.src4[rows].tolist(), h.dst4[rows].tolist()
    smacs, dmacs = src_mac.tolist(), dst_mac.tolist()
    offsets, lengths = h.payload_off[rows].tolist(), h.payload_len[rows].tolist()
    buf = h.raw.buf
    for k, i in enumerate(rows.tolist()):
        smac = _mac_text(smacs[k]) if smacs[k] else None
        dmac = _mac_text(dmacs[k]) if dmacs[k] else None
        v = version[k]
        if v == 4:
            transport = TRANSPORT_NAMES.get(proto[k], "ip")
            src, dst = _v4_text(src4[k]), _v4_text(dst4[k])
        elif v == 6:
            transport = TRANSPORT_NAMES.get(proto[k], "ip")
            src, dst = ip_text(h, i, True), ip_text(h, i, False)
        else:
            transport = "eth" if linktype[k] in ETHERNET_LIKE else "raw"
            src, dst = smac or "", dmac or ""
        start = offsets[k]
        yield make(
            number[k],
            ts[k] / 1e9,
            src,
            dst,
            sport[k],
            dport[k],
            transport,
            buf[start : start + lengths[k]],
            smac,
            dmac,
            ethertype[k],
            vlan[k],
            fragment[k],
        )


def _packet(*v: Any) -> Packet:
    return Packet(*v[:11])


def packets(h: Headers, mask: np.ndarray) -> Iterator[Packet]:
    """Like :func:`packet_views`, as dissector :class:`Packet` objects (built directly, no view in between)."""
    return _picked(h, mask, _packet)
