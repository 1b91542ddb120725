"""Repeated packets, found in bulk, so that only the first of each is dissected.

A plant's traffic is mostly polling: the same request to the same device, answered with
the same kind of response, thousands of times per minute. Dissecting each copy in Python
says nothing new. Per batch, this module computes for every packet headed for a
dissector a *repeat key* in bulk (numpy): the flow, the direction, and a 128-bit hash of
the payload with the bytes that carry no meaning for the dissectors' findings blanked
(transaction ids, sequence counters, timestamps, process values). The first packet of
each key is dissected as usual; later packets with the same key only count: they are
added to the first packet's observations (count, last packet, last time) in bulk.
The keys held between batches are a numpy hash table (see :class:`RepeatFilter`): a
batch's distinct keys are looked up, new ones added and repeats counted by array
operations; Python runs only per new key (a :class:`Group`, which receives the first
packet's observations) and when the counts are handed over (:meth:`RepeatFilter.flush`).

What is blanked is declared per protocol in :data:`SPECS`, one entry per dissector,
written from the protocol's framing:

* a ``framing`` check: TCP packets are candidates only when they hold whole PDUs that
  tile the segment exactly (by the protocol's length field: one, or for Modbus, IEC 104,
  TPKT, EtherNet/IP, ADS and C37.118 several, each read and blanked where it lies, see
  :func:`_stream`), so a skipped packet can never be half of a message the dissector's
  stream reassembly needs. A segment that does not tile is a *partial* PDU: the dissector
  may carry its bytes over, so nothing more of that flow direction is skipped. Protocols
  with no spec are always dissected; stateless datagram and frame dissectors (CDP, LLDP,
  NetBIOS, DHCP, SNMP) are skipped when the whole payload repeats byte for byte;
* ``holes``: byte ranges blanked in every packet (e.g. the Modbus transaction id);
* ``tail``: where the don't-care tail begins (e.g. the register values of a Modbus
  read response), or the length when the whole payload counts;
* ``cacheable`` false: packets that are always dissected (identity responses, program
  transfers, pairs the dissector matches by a field the spec cannot follow);
* ``pair``: for request/response protocols whose replies are named after their request
  (EtherNet/IP CIP), the field the dissector matches them by: a reply's key includes its
  request's key, and the two are skipped or dissected together.

Hashing (:func:`payload_hash`): the hashed bytes (at most ``_CAP``) are read 8 at a time, as
little-endian words gathered at any byte offset; the bytes in holes and past the tail are
zeroed, and each word's two 32-bit halves are multiplied by random odd 64-bit weights of
their position in the payload and summed mod 2**64, twice, with independent weights (a
multilinear hash: two different inputs collide with probability about 2**-32 in each).
A word with blanked bytes also adds its blanked-byte pattern (a bit per byte) times a
weight of its own, so a blanked byte never reads as a zero byte.

Exactness: keys compare the flow exactly (and live no longer than their file); the
direction, the protocol, the hashed length and the payload (its kept bytes and which of
them are blanked) are mixed into the two hashes (a false match needs both to collide).
``tests/test_repeats.py`` checks, on every shared capture, that the hosts and events
found with repeats skipped equal those found dissecting every packet;
``tests/test_repeat_keys.py`` checks the keys against the bytes they stand for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zonewarden.traffic.dissectors import TCP_SERVICES, UDP_SERVICES, port_lookups, service_sides
from zonewarden.traffic.payoff import Payoff

MAX_GROUPS = 100_000  # repeat keys held at once (memory bound); see RepeatFilter.flush
# the filter creates keys while they pay: over a window of the last PAYS_WINDOW keys created (exponential), at
# least one repeat counted per PAYS_RATIO created; else (a network of devices that each say something of their
# own) only one batch in PROBE_BATCHES creates keys, so that creating resumes when repeats come back. A packet
# whose key is not created is dissected: exact either way
PAYS_WINDOW, PAYS_RATIO, PROBE_BATCHES = 8192, 16, 16
_CAP = 1024  # payload bytes hashed at most; longer payloads are dissected unless their tail is don't-care
_WORDS = _CAP // 8  # 8-byte words hashed at most


def _weights(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(1, 2**63, size=shape, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


# random odd weights per word position, as (low half, high half) pairs that one gather reads (16-byte
# items), for hash 1 and hash 2; and per word position, the weights of its blanked-byte pattern
_PAIRS1 = _weights(0x5EED1, (_WORDS, 2)).view("V16").ravel()
_PAIRS2 = _weights(0x5EED2, (_WORDS, 2)).view("V16").ravel()
_BLANKS1, _BLANKS2 = _weights(0x5EED3, (2, _WORDS))
_LOW = np.array([(1 << (8 * r)) - 1 for r in range(9)], dtype=np.uint64)  # _LOW[r]: a word's first r bytes
_ALL = np.uint64(2**64 - 1)
_BYTE_LSB = np.uint64(0x0101010101010101)
_GATHER_BITS = np.uint64(0x0102040810204080)  # (x & _BYTE_LSB) * this: bit 8i of x moves to bit 56 + i


class Fields:
    """Vectorized reads of payload fields: one value per packet, 0 where the payload is too short.
    Reads at a fixed position are kept (read-only): specs read a header byte as often as they like."""

    def __init__(self, data: np.ndarray, off: np.ndarray, length: np.ndarray, to_server: np.ndarray) -> None:
        self.data = data  # the batch buffer as uint8
        self.off = off  # payload offset per packet (int64)
        self.length = length  # payload length per packet (int64)
        self.to_server = to_server  # bool: the packet goes to the protocol's well-known port
        self._read: dict[int, np.ndarray] = {}

    def u8(self, pos: Any) -> np.ndarray:
        fixed = isinstance(pos, int)
        if fixed and pos in self._read:
            return self._read[pos]
        value = self.data.take(self.off + pos, mode="clip")  # past the payload: any byte, zeroed here
        value *= pos < self.length
        out = value.astype(np.int64)
        if fixed:
            out.flags.writeable = False
            self._read[pos] = out
        return out

    def be16(self, pos: Any) -> np.ndarray:
        return (self.u8(pos) << 8) | self.u8(pos + 1)

    def le16(self, pos: Any) -> np.ndarray:
        return self.u8(pos) | (self.u8(pos + 1) << 8)

    def le32(self, pos: Any) -> np.ndarray:
        return self.le16(pos) | (self.le16(pos + 2) << 16)


@dataclass
class Cut:
    """What a spec says about each packet of its protocol."""

    cacheable: np.ndarray  # bool
    tail: np.ndarray  # int64: bytes from here on are ignored (the length when all count)
    holes: list[tuple[np.ndarray | int, np.ndarray | int]] = field(default_factory=list)  # [lo, hi) ignored
    # request/response pairing: a response (from the server) is matched to the latest earlier request
    # of its flow with the same pair value (>= 0); -1: not paired. See RepeatFilter.split.
    pair: np.ndarray | None = None
    # TCP packets that are not whole PDUs: the dissector may keep their bytes for the next segment of
    # the direction, after which skipping a packet of that direction could change what it sees
    partial: np.ndarray | None = None


Spec = Callable[[Fields], Cut]


MODBUS_ADUS = 8  # MBAP frames per TCP segment followed (pipelining clients put several in one)
_FAR = 1 << 20  # past any payload


def _modbus_values() -> np.ndarray:
    """By function code + 256 * (the frame goes to the server): where a frame's don't-care values begin
    (from the frame's start; past its end: none), -1 for frames that are always dissected."""
    table = np.full(512, _FAR, dtype=np.int64)
    table[[1, 2, 3, 4]] = 9  # registers and coils read
    table[[256 + 15, 256 + 16]] = 13  # values written
    table[[256 + 5, 256 + 6]] = 10
    # identity answers (FC 43, FC 17) and UMAS (FC 90, paired by transaction id) are always dissected
    code = np.arange(512) & 0xFF
    table[np.isin(code & 0x7F, (17, 43, 90))] = -1
    return table


_MODBUS_VALUES = _modbus_values()


def _modbus(f: Fields) -> Cut:
    """Modbus/TCP: one or several whole MBAP frames; each frame's transaction id and values are blanked."""
    n = f.length
    count = len(n)
    done = np.zeros(count, dtype=bool)  # the frames tile the segment
    dissected = np.zeros(count, dtype=bool)  # a frame is always dissected (FC 17, 43, 90)
    holes: list[tuple[np.ndarray | int, np.ndarray | int]] = []
    act = np.flatnonzero(n >= 8)  # the packets whose next frame is read (sub: their fields), at offset ``at``
    sub = f if len(act) == count else Fields(f.data, f.off[act], n[act], f.to_server[act])
    at: Any = 0
    for _ in range(MODBUS_ADUS):
        if not len(act):
            break
        end = sub.be16(at + 4) + (at + 6)
        values = _MODBUS_VALUES[sub.u8(at + 7) + 256 * sub.to_server] + at
        fits = (end >= at + 8) & (end <= sub.length)
        dissected[act[fits & (values < at)]] = True
        values = np.minimum(np.maximum(values, at), end)
        if len(act) == count:  # every packet: the holes of those whose frame does not fit are never used
            holes += [(at, at + 2), (values, end)]  # transaction id, values
        else:
            cols = np.zeros((4, count), dtype=np.int64)
            cols[0, act], cols[1, act], cols[2, act], cols[3, act] = at, at + 2, values, end
            holes += [(cols[0], cols[1]), (cols[2], cols[3])]
        # a frame that does not fit: the segment is dissected, and partial (the dissector may keep its bytes)
        done[act[fits & (end == sub.length)]] = True
        more = np.flatnonzero(fits & (end < sub.length))
        act, at = act[more], end[more]
        sub = Fields(sub.data, sub.off[more], sub.length[more], sub.to_server[more])
    # an identity request or a UMAS frame is dissected, but a whole one leaves nothing behind: not partial
    return Cut(done & ~dissected, n.copy(), holes, partial=~done)


def _tpkt_pdu(f: Fields) -> Cut:
    """Port 102: one TPKT/COTP PDU carrying S7comm, S7comm-plus or MMS."""
    n = f.length
    ok = (n >= 7) & (f.u8(0) == 3) & (f.be16(2) == n)
    whole = ok.copy()
    tail = n.copy()
    holes: list[tuple[np.ndarray | int, np.ndarray | int]] = []
    s7 = (f.u8(4) == 2) & (f.u8(5) == 0xF0) & (f.u8(7) == 0x32)  # COTP DT (its 3-byte header), S7comm
    rosctr = f.u8(8)
    # userdata (SZL reads and answers, cyclic data, diagnostics): every byte counts but the sequence
    # number and the data unit reference; an answer with more data units to follow is kept by the
    # dissector until the last one, so it is a partial PDU (nothing more of that direction is skipped)
    userdata = s7 & (rosctr == 7)
    long_param = userdata & (f.u8(20) >= 8)
    more = long_param & (f.u8(26) != 0)
    holes.append((np.where(userdata, 24, 0), np.where(long_param, 26, np.where(userdata, 25, 0))))
    param = np.where(rosctr == 3, 19, 17)
    function = f.u8(param)
    # program transfer, PI services (start, ...) and stop are always dissected
    ok &= ~(s7 & ((function >= 0x1A) & (function <= 0x1F) | np.isin(function, (0x28, 0x29))))
    data = param + f.be16(13)
    values = s7 & (((rosctr == 3) & (function == 0x04)) | ((rosctr == 1) & (function == 0x05)))
    tail = np.where(values, np.minimum(data, n), tail)  # values read or written
    holes.append((np.where(s7, 11, 0), np.where(s7, 13, 0)))  # PDU reference
    # a COTP data unit (as the dissectors tell it: the high nibble) without its end-of-TSDU mark: the
    # dissector keeps it for the next one; one whose header is not 3 bytes long has its S7 PDU elsewhere
    # than where it is read here (an answer with more to follow would go unseen): taken as such too
    more |= ((f.u8(5) & 0xF0) == 0xF0) & (((f.u8(6) & 0x80) == 0) | (f.u8(4) != 2))
    return Cut(ok & ~more, tail, holes, partial=~whole | more)


def _enip_pdu(f: Fields) -> Cut:
    """One EtherNet/IP encapsulation PDU; CIP replies are named after their request, so they are paired."""
    n = f.length
    cmd = f.le16(0)
    ok = (n >= 24) & (n == 24 + f.le16(2))
    whole = ok.copy()
    tail = n.copy()
    holes: list[tuple[np.ndarray | int, np.ndarray | int]] = [(12, 20)]  # sender context
    cpf = np.isin(cmd, (0x6F, 0x70)) & (f.le16(30) == 2)
    item2 = 36 + f.le16(34)
    data = item2 + 4
    connected = cpf & (f.le16(item2) == 0x00B1)
    unconnected = cpf & (f.le16(item2) == 0x00B2)
    ok &= ~cpf | connected | unconnected
    cip = np.where(connected, data + 2, data)
    holes.append((np.where(connected, data, 0), np.where(connected, data + 2, 0)))  # sequence count
    service = f.u8(cip)
    reply = cpf & ((service & 0x80) != 0)
    # a reply's data (values, attributes) is don't-care: its key includes its request's key
    tail = np.where(reply, cip + 4 + 2 * f.u8(cip + 3), tail)
    write_like = cpf & ~reply & np.isin(service, (0x4D, 0x10, 0x53))  # the values written
    tail = np.where(write_like, cip + 2 + 2 * f.u8(cip + 1), tail)
    tail = np.minimum(tail, n)
    # the dissector matches a reply to its request by the sender context (unconnected) or the
    # sequence count (connected)
    context = f.le32(12) ^ (f.le32(16) * 0x9E3779B1)
    pair = np.where(unconnected, (context & ((1 << 62) - 1)) | (1 << 62), -1)
    pair = np.where(connected, f.le16(data), pair)
    return Cut(ok, tail, holes, pair, partial=~whole)


def _c37118_pdu(f: Fields) -> Cut:
    """One C37.118 frame: a data frame counts by its SOC, FRAMESIZE and IDCODE (the rest is don't-care)."""
    n = f.length
    ok = (n >= 16) & (f.u8(0) == 0xAA) & (f.be16(2) == n)
    data_frame = (f.u8(1) & 0x70) == 0
    tail = np.where(data_frame, np.minimum(6, n), n)  # SOC, FRACSEC, measurements, CRC
    return Cut(ok, tail, partial=~ok)


def _ads_pdu(f: Fields) -> Cut:
    """One AMS/TCP packet: every byte counts."""
    n = f.length
    ok = (n >= 38) & (n == 6 + f.le32(2))
    return Cut(ok, n.copy(), partial=~ok)


STREAM_PDUS = 16  # PDUs per TCP segment followed for TPKT, EtherNet/IP, ADS and C37.118


def _stream(pdu: Spec, size: Callable[[Fields], tuple[np.ndarray, np.ndarray]], pdus: int = STREAM_PDUS) -> Spec:
    """The spec of a TCP stream protocol whose segments may hold several whole PDUs, from the spec of
    one PDU and ``size``: per packet, the length of the PDU at the start of the payload (by its length
    field) and whether its header is one the dissectors walk on by.

    A segment that is one PDU is what ``pdu`` says of it. A segment of several whole PDUs (at most
    ``pdus``) that tile it exactly leaves nothing for the dissector to carry over, so it is
    not partial: each PDU is read on its own by ``pdu`` (its bytes only), its holes and its don't-care
    tail (a hole but in the last PDU) are blanked where it lies, and the segment is cacheable when every
    PDU is; a PDU that ``pdu`` calls partial (a COTP data unit without its end mark, an answer with
    more to follow) makes the segment partial. Pairing follows one PDU per packet: a segment of several
    with a paired PDU is dissected and stays partial (the dissector's requests of that direction are
    then never skipped), and takes the pair value ``pdu`` gives the whole segment, as when it was read
    as one PDU. Segments that do not tile are partial and dissected."""

    def spec(f: Fields) -> Cut:
        cut = pdu(f)  # the segment as one PDU: exact for single-PDU segments (and whatever is not whole)
        first, valid = size(f)
        n = f.length
        multi = np.flatnonzero(valid & (first < n))
        if not len(multi):
            return cut
        count = len(n)
        several = np.zeros(count, dtype=bool)
        several[multi] = True
        cacheable = cut.cacheable & ~several
        partial = (cut.partial if cut.partial is not None else ~cut.cacheable) | several
        tail = np.where(several, n, cut.tail)
        holes: list[tuple[np.ndarray | int, np.ndarray | int]] = []
        for lo, hi in cut.holes:  # read across PDUs: dropped for segments of several
            lo_ = np.broadcast_to(lo, (count,))
            holes.append((lo_, np.where(several, lo_, hi)))
        # the PDUs of segments of several, walked: ``act``, those whose next PDU starts at ``at``
        ok = np.ones(len(multi), dtype=bool)  # every PDU cacheable
        more = np.zeros(len(multi), dtype=bool)  # a PDU the dissector keeps for what follows
        paired = np.zeros(len(multi), dtype=bool)
        ended = np.zeros(len(multi), dtype=bool)  # the last PDU ends with the segment
        act = np.arange(len(multi))
        at = np.zeros(len(multi), dtype=np.int64)
        head = Fields(f.data, f.off[multi], n[multi], f.to_server[multi])  # from the next PDU on
        for _ in range(pdus):
            if not len(act):
                break
            length, good = size(head)
            fits = np.flatnonzero(good & (length <= head.length))
            act, at, length = act[fits], at[fits], length[fits]
            off, rest, to_server = head.off[fits], head.length[fits], head.to_server[fits]
            one = pdu(Fields(f.data, off, length, to_server))  # the PDU alone
            ok[act] &= one.cacheable
            if one.partial is not None:
                more[act] |= one.partial
            if one.pair is not None:
                paired[act] |= one.pair >= 0
            last = length == rest
            rows = multi[act]
            for lo, hi in [*one.holes, (np.where(last, length, one.tail), length)]:  # + the don't-care tail
                lo_full, hi_full = np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.int64)
                lo_full[rows], hi_full[rows] = at + lo, at + hi
                holes.append((lo_full, hi_full))
            tail[rows[last]] = (at + one.tail)[last]  # the last PDU's don't-care tail is the segment's
            ended[act[last]] = True
            keep = np.flatnonzero(~last)
            act, at = act[keep], at[keep] + length[keep]
            head = Fields(f.data, off[keep] + length[keep], rest[keep] - length[keep], to_server[keep])
        cacheable[multi] = ended & ~more & ok & ~paired
        partial[multi] = ~ended | more | paired
        return Cut(cacheable, tail, holes, cut.pair, partial)

    spec.__name__ = spec.__qualname__ = pdu.__name__.removesuffix("_pdu")
    return spec


def _tpkt_size(f: Fields) -> tuple[np.ndarray, np.ndarray]:
    # the MMS dissector walks TPKTs by version and length; the S7 one stops at a reserved byte other
    # than 0 (the rest of the segment is dropped, nothing carried): either way nothing is kept
    length = f.be16(2)
    return length, (f.u8(0) == 3) & (length >= 7)


def _enip_size(f: Fields) -> tuple[np.ndarray, np.ndarray]:
    # an unknown command ends the dissector's walk (the rest is dropped, nothing carried)
    length = 24 + f.le16(2)
    return length, length <= f.length


def _ads_size(f: Fields) -> tuple[np.ndarray, np.ndarray]:
    length = 6 + f.le32(2)
    return length, length >= 38


def _c37118_size(f: Fields) -> tuple[np.ndarray, np.ndarray]:
    length = f.be16(2)
    return length, (f.u8(0) == 0xAA) & (length >= 16)


_tpkt = _stream(_tpkt_pdu, _tpkt_size)
_enip = _stream(_enip_pdu, _enip_size)
_ads = _stream(_ads_pdu, _ads_size)
_c37118 = _stream(_c37118_pdu, _c37118_size)


def _bacnet(f: Fields) -> Cut:
    """BACnet/IP: BVLC, NPDU (variable: destination and source specifiers), APDU; the invoke id is blanked."""
    n = f.length
    ok = (f.u8(0) == 0x81) & (f.be16(2) == n)
    npdu = np.where(f.u8(1) == 0x04, 10, 4)  # Forwarded-NPDU carries the original source (6 bytes)
    ok &= f.u8(npdu) == 1
    control = f.u8(npdu + 1)
    pos = npdu + 2
    has_dst, has_src = (control & 0x20) != 0, (control & 0x08) != 0
    pos = np.where(has_dst, pos + 3 + f.u8(pos + 2), pos)
    pos = np.where(has_src, pos + 3 + f.u8(pos + 2), pos)
    pos = np.where(has_dst, pos + 1, pos)  # hop count
    apdu = (control & 0x80) == 0
    kind = f.u8(pos) >> 4
    invoke = np.where(kind == 0, pos + 2, pos + 1)
    blank = apdu & (kind != 1) & (kind <= 7)  # every APDU type but unconfirmed requests has an invoke id
    ok &= pos < n
    # the value of a ReadProperty answer or a WriteProperty request is don't-care, except for the
    # device object (whose properties are the device's identity)
    segmented = (f.u8(pos) & 0x08) != 0
    service_at = np.where(kind == 0, pos + 3, pos + 2) + np.where(segmented, 2, 0)
    service = f.u8(service_at)
    valued = apdu & (((kind == 0) & (service == 15)) | ((kind == 3) & (service == 12)))
    valued &= f.u8(service_at + 1) == 0x0C  # context tag 0: the object identifier
    device = ((f.u8(service_at + 2) << 2) | (f.u8(service_at + 3) >> 6)) == 8
    prop_tag = f.u8(service_at + 6)
    after = np.where(prop_tag == 0x19, service_at + 8, np.where(prop_tag == 0x1A, service_at + 9, -1))
    index_tag = f.u8(after)
    after = np.where(index_tag == 0x29, after + 2, np.where(index_tag == 0x2A, after + 3, after))
    valued &= ~device & (after > 0) & (f.u8(after) == 0x3E)  # the opening tag of the value
    tail = np.where(valued, np.minimum(after + 1, n), n)
    return Cut(ok, tail, [(np.where(blank, invoke, 0), np.where(blank, invoke + 1, 0))])


def _melsec(f: Fields) -> Cut:
    """MELSEC: SLMP/MC binary 3E/4E frames (paired: a response is named after the last request) and
    MELSOFT engineering frames (recognised by their first 8 bytes only; the rest is don't-care)."""
    n = f.length
    head = f.be16(0)
    # MELSOFT frames: the first 8 bytes decide what the dissector says (the 0x1111 marker or nothing)
    melsoft = np.isin(f.u8(0), (0x57, 0xD7))
    four_e = np.isin(head, (0x5400, 0xD400))
    binary = np.isin(head, (0x5000, 0xD000)) | four_e
    header = np.where(four_e, 13, 9)  # subheader (+ serial), network, PC, module I/O, station, length
    size = header + f.le16(header - 2)
    binary &= size == n
    response = binary & np.isin(head, (0xD000, 0xD400))
    # requests: up to the command and subcommand; responses: the end code (the data is don't-care)
    tail = np.where(melsoft, 8, np.where(response, header + 2, header + 6))
    tail = np.where(melsoft | binary, np.minimum(tail, n), n)
    holes: list[tuple[np.ndarray | int, np.ndarray | int]] = [(np.where(four_e, 2, 0), np.where(four_e, 4, 0))]
    pair = np.where(binary, 1, -1)  # the dissector keeps the last request's command per flow
    return Cut(melsoft | binary, tail, holes, pair)


def _dnp3(f: Fields) -> Cut:
    """DNP3: one link frame holding a whole application fragment (FIR and FIN). The transport and
    application sequence numbers and the CRC of the first data block are blanked, a response's data
    (after function code and IIN) is don't-care, and a solicited response is paired with the request
    of the same outstation and application sequence, as the dissector pairs them."""
    n = f.length
    length = f.u8(2)
    data = np.maximum(length - 5, 0)
    size = 10 + data + 2 * ((data + 15) // 16)
    ok = (f.u8(0) == 0x05) & (f.u8(1) == 0x64) & (length >= 5) & (size == n)
    whole = ok.copy()
    control = f.u8(3)
    from_master = (control & 0x80) != 0
    ok &= from_master == f.to_server  # the link direction bit agrees with the ports
    user = ok & (data >= 3) & ((control & 0x40) != 0) & np.isin(control & 0x0F, (3, 4))
    transport = f.u8(10)
    whole = (transport & 0xC0) == 0xC0  # FIR and FIN: nothing to reassemble
    ok &= ~user | whole
    fc = f.u8(12)
    first_crc = 10 + np.minimum(data, 16)
    holes: list[tuple[np.ndarray | int, np.ndarray | int]] = [
        (np.where(user, 10, 0), np.where(user, 12, 0)),  # transport sequence, application control
        (np.where(user, first_crc, 0), np.where(user, first_crc + 2, 0)),
    ]
    response = user & np.isin(fc, (129, 130))
    tail = np.where(response, np.minimum(15, n), n)  # function code and IIN; the objects read are don't-care
    seq = f.u8(11) & 0x0F
    outstation = np.where(from_master, f.le16(4), f.le16(6))
    paired = user & ((from_master & ~np.isin(fc, (0, 129, 130, 131))) | (~from_master & (fc == 129)))
    pair = np.where(paired, outstation * 16 + seq, -1)
    return Cut(ok, tail, holes, pair, partial=~whole)


IEC104_APDUS = 32  # APDUs per TCP segment followed (a station sends several in one: spontaneous data, acks)


def _iec104_pdu(f: Fields) -> Cut:
    """One APDU: I-format sequence numbers (S-format: the receive number) blanked, the information objects
    (addresses and values, after type, VSQ, COT, originator and common address) don't-care."""
    n = f.length
    length = f.u8(1)
    whole = (f.u8(0) == 0x68) & (length >= 4) & (length + 2 == n)
    control = f.u8(2)
    i_format = (control & 1) == 0
    s_format = (control & 3) == 1
    sequence = (np.where(i_format, 2, np.where(s_format, 4, 0)), np.where(i_format | s_format, 6, 0))
    objects = (np.where(i_format, np.minimum(12, n), n), n)
    return Cut(whole, n.copy(), [sequence, objects], partial=~whole)


def _iec104_size(f: Fields) -> tuple[np.ndarray, np.ndarray]:
    length = f.u8(1)
    return length + 2, (f.u8(0) == 0x68) & (length >= 4)


_iec104 = _stream(_iec104_pdu, _iec104_size, IEC104_APDUS)


def _exact(f: Fields) -> Cut:
    """A datagram or frame skipped only when it repeats byte for byte (stateless dissectors)."""
    return Cut(np.ones(len(f.length), dtype=bool), f.length.copy())


SPECS: dict[str, Spec] = {
    "bacnet": _bacnet,
    "iec104": _iec104,
    "melsec": _melsec,
    "dnp3": _dnp3,
    "cdp": _exact,
    "lldp": _exact,
    "netbios-ns": _exact,
    "dhcp": _exact,
    "snmp": _exact,
    "modbus": _modbus,
    "s7": _tpkt,
    "mms": _tpkt,
    "enip": _enip,
    "c37.118": _c37118,
    "ads": _ads,
}


def _never(f: Fields) -> Cut:
    return Cut(np.zeros(len(f.length), dtype=bool), f.length.copy())


@dataclass(slots=True)
class Group:
    """The first packet of a repeat key: its observations and their events. Its repeats are counted in
    the filter's key table; :meth:`RepeatFilter.flush` hands them over with ``last_packet`` and
    ``last_time`` set to the last of them."""

    templates: list[Any] = field(default_factory=list)  # the observations of its first packet
    events: list[Any] = field(default_factory=list)  # their events (repeats are added to them)
    last_packet: int = 0
    last_time: float = 0.0


_TCP, _UDP, _ETH = 6, 17, 0
_MIX_ROW = np.uint64(0xD6E8FEB86659FD93)
_MIX_K2 = np.uint64(0xA0761D6478BD642F)
_MIX_SLOT = np.uint64(0x9E3779B97F4A7C15)  # a key's home slot: the top bits of its g times this
_MIN_SLOTS = 1024


class RepeatFilter:
    """Splits each batch's dissector-bound packets into first occurrences (dissected) and repeats (counted).

    ``tables`` maps 6 (TCP) and 17 (UDP) to {port: dissector names} and 0 to {EtherType: names},
    as :mod:`zonewarden.traffic.dissectors` registers them; a packet takes the spec of the first
    dissector registered for its destination port, else its source port (as ``for_packet`` does).
    Keys live until :meth:`flush` (at the end of each file, and when ``max_groups`` are held, so
    memory stays bounded).

    The keys held are an open-addressing hash table (linear probing) of numpy columns, looked up
    and filled for all the keys of a batch at once: per slot, the key (its mixed 64-bit value
    ``g``, and the flow and both hashes, compared exactly), the repeats counted since the last
    flush, the last of them (packet number, time), the last batch that created or repeated it,
    its creation order (0: an empty slot) and its :class:`Group`. The table is at most half full:
    it doubles as keys come, up to ``2 * max_groups`` slots (rounded up to a power of two).
    """

    def __init__(self, tables: dict[int, dict[int, list[Any]]], max_groups: int | None = None) -> None:
        self.max_groups = max_groups or MAX_GROUPS
        self.specs: list[Spec] = []
        index: dict[tuple[int, str], int] = {}
        self.port_spec: dict[int, np.ndarray] = {}
        for transport, table in tables.items():
            lookup = np.full(65536, -1, dtype=np.int64)
            for port, dissectors in table.items():
                name = dissectors[0].name
                spec = SPECS.get(name, _never)
                key = (transport, name)
                if key not in index:
                    index[key] = len(self.specs)
                    self.specs.append(spec)
                lookup[port] = index[key]
            self.port_spec[transport] = lookup
        self.sides = {
            _TCP: port_lookups(tables.get(_TCP, {}), TCP_SERVICES),
            _UDP: port_lookups(tables.get(_UDP, {}), UDP_SERVICES),
        }
        self.held = 0  # keys in the table
        self.created = 0  # keys created so far (their creation order)
        self.repeats = 0
        self.payoff = Payoff(PAYS_WINDOW, PAYS_RATIO, PROBE_BATCHES)  # keys created (uses), repeats counted (hits)
        self.batch = 0
        self.taint = np.zeros(1024, dtype=bool)  # per flow row * 2 + direction: a partial PDU was seen
        self._alloc(_MIN_SLOTS)

    def _alloc(self, size: int) -> None:
        """An empty table of ``size`` slots (a power of two)."""
        self.shift = np.uint64(64 - (size.bit_length() - 1))
        self.mask = size - 1
        self.key = np.zeros(size, dtype=np.uint64)  # g
        self.flow = np.zeros(size, dtype=np.int64)
        self.key1 = np.zeros(size, dtype=np.uint64)
        self.key2 = np.zeros(size, dtype=np.uint64)
        self.order = np.zeros(size, dtype=np.int64)  # creation order + 1; 0: empty
        self.count = np.zeros(size, dtype=np.int64)  # repeats since the last flush
        self.last_packet = np.zeros(size, dtype=np.int64)
        self.last_time_ns = np.zeros(size, dtype=np.int64)
        self.last_batch = np.zeros(size, dtype=np.int64)  # the last batch that created or repeated it
        self.group = np.full(size, None, dtype=object)

    def _home(self, g: np.ndarray) -> np.ndarray:
        return ((g * _MIX_SLOT) >> self.shift).astype(np.int64)

    def _find(
        self, g: np.ndarray, flow: np.ndarray, key1: np.ndarray, key2: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per key: its slot (-1: not held), and for those not held the empty slot their probe ended on."""
        found = np.full(len(g), -1, dtype=np.int64)
        free = np.full(len(g), -1, dtype=np.int64)
        act = np.arange(len(g))
        pos, gk = self._home(g), g
        while len(act):
            empty = self.order[pos] == 0
            free[act[empty]] = pos[empty]
            same = self.key[pos] == gk
            hit = np.flatnonzero(same)
            if len(hit):
                s, a = pos[hit], act[hit]
                exact = (self.flow[s] == flow[a]) & (self.key1[s] == key1[a]) & (self.key2[s] == key2[a])
                exact &= ~empty[hit]
                found[a[exact]] = s[exact]
                same[hit[~exact]] = False
            go = np.flatnonzero(~(empty | same))
            act, pos, gk = act[go], (pos[go] + 1) & self.mask, gk[go]
        return found, free

    def _insert(
        self, start: np.ndarray, g: np.ndarray, flow: np.ndarray, key1: np.ndarray, key2: np.ndarray, order: np.ndarray
    ) -> np.ndarray:
        """Places keys not held, probing from ``start`` (their home or any slot before their first empty
        one); their slots. Keys racing for a slot take it in the order given."""
        slots = np.empty(len(g), dtype=np.int64)
        act = np.arange(len(g))
        pos = start
        while len(act):
            free = np.flatnonzero(self.order[pos] == 0)
            lost = np.ones(len(act), dtype=bool)
            if len(free):
                s, first = np.unique(pos[free], return_index=True)
                won = free[first]
                slots[act[won]] = s
                self.order[s] = order[act[won]]
                lost[won] = False
            act, pos = act[lost], (pos[lost] + 1) & self.mask
        self.key[slots], self.flow[slots], self.key1[slots], self.key2[slots] = g, flow, key1, key2
        return slots

    def _rebuild(self, keep: np.ndarray, size: int) -> None:
        """The table again with ``size`` slots, holding only the keys of slots ``keep``."""
        old = (self.key, self.flow, self.key1, self.key2, self.order)
        rest = (self.count, self.last_packet, self.last_time_ns, self.last_batch, self.group)
        self._alloc(size)
        g, flow, key1, key2, order = (column[keep] for column in old)
        slots = self._insert(self._home(g), g, flow, key1, key2, order)
        for new, column in zip(
            (self.count, self.last_packet, self.last_time_ns, self.last_batch, self.group), rest, strict=True
        ):
            new[slots] = column[keep]
        self.held = len(keep)

    def split(self, h: Any, picked: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, dict[int, Group]]:
        """(batch rows to dissect, in order; {batch row: its new group} for first occurrences).

        Paired protocols keep the dissectors' request state exact: a reply's key includes the
        key of the request it answers, a reply that is dissected has its request dissected too,
        and a request is skipped only when its reply is in the same batch and skipped as well.
        """
        self.batch += 1
        if not len(picked):
            return picked, {}
        proto = h.proto[picked]
        transport = np.where(h.ip_version[picked] == 0, _ETH, proto.astype(np.int64))
        spec_index = np.full(len(picked), -1, dtype=np.int64)
        to_server = np.ones(len(picked), dtype=bool)
        for t in (_TCP, _UDP):
            sel = np.flatnonzero(transport == t)
            if len(sel):
                lookup = self.port_spec[t]
                sport, dport = h.sport[picked[sel]], h.dport[picked[sel]]
                use_dst, use_src = service_sides(self.sides[t], sport, dport)  # as for_packet chooses
                spec_index[sel] = np.where(use_dst, lookup[dport], np.where(use_src, lookup[sport], -1))
                to_server[sel] = use_dst
        sel = np.flatnonzero(transport == _ETH)
        if len(sel):
            spec_index[sel] = self.port_spec[_ETH][h.ethertype[picked[sel]]]
        flow = rows[picked].astype(np.int64, copy=False)
        usable = (spec_index >= 0) & (flow >= 0)
        cacheable, key1, key2, pair, partial, forward = keys(
            h, picked, to_server, self.specs, np.where(usable, spec_index, 0)
        )
        cacheable &= usable & ~self._tainted(flow, forward, partial & usable & (transport == _TCP))
        paired = usable & (pair >= 0)
        request_of = _match_requests(flow, pair, paired, to_server)
        replies = np.flatnonzero(request_of >= 0)
        if len(replies):  # a reply's key includes its request's key
            q = request_of[replies]
            key1[replies] ^= key1[q] * _MIX_ROW
            key2[replies] ^= key2[q] * _MIX_K2
            cacheable[replies] &= cacheable[q]
        cacheable[paired & ~to_server & (request_of < 0)] = False  # a reply whose request is not in the batch
        c = np.flatnonzero(cacheable)
        first: dict[int, Group] = {}
        if not len(c):
            return picked, first
        g = key1[c] ^ (key2[c] * _MIX_K2) ^ (flow[c].astype(np.uint64) * _MIX_ROW)
        distinct, first_pos, inverse = np.unique(g, return_index=True, return_inverse=True)
        heads = c[first_pos]  # each key's first packet in the batch
        need = min(self.held + len(heads), self.max_groups)
        if 2 * need > len(self.order):  # room for every key of the batch, the table staying half empty
            size = len(self.order)
            while 2 * need > size:
                size *= 2
            self._rebuild(np.flatnonzero(self.order), size)
        slot, free = self._find(distinct, flow[heads], key1[heads], key2[heads])
        skip = np.zeros(len(picked), dtype=bool)
        skip[c] = True
        new = np.flatnonzero(slot < 0)
        if len(new):
            # new keys in the order of their first packet (not of their hash): when the filter fills up,
            # the keys seen first are the ones cached, whatever the hash function
            new = new[np.argsort(first_pos[new], kind="stable")]
            room = max(self.max_groups - self.held, 0) if self._creates() else 0
            created, full = new[:room], new[room:]
            self.payoff.uses += len(created)
            if len(created):
                at = heads[created]
                order = np.arange(self.created + 1, self.created + 1 + len(created), dtype=np.int64)
                s = self._insert(free[created], distinct[created], flow[at], key1[at], key2[at], order)
                slot[created] = s
                self.last_batch[s] = self.batch
                grps = [Group() for _ in range(len(created))]
                self.group[s] = grps
                first = dict(zip(picked[at].tolist(), grps, strict=True))
                self.created += len(created)
                self.held += len(created)
                skip[at] = False
            if len(full):  # full: dissect them all, cache nothing new
                not_cached = np.zeros(len(first_pos), dtype=bool)
                not_cached[full] = True
                skip[c[not_cached[inverse]]] = False
        # the pairing constraints: a dissected reply needs its request dissected; a skipped request
        # needs its reply in the batch and skipped
        if paired.any():
            skip[request_of[replies[~skip[replies]]]] = False
            answered = np.zeros(len(picked), dtype=bool)
            answered[request_of[replies[skip[replies]]]] = True
            skip[paired & to_server & ~answered] = False
        repeated = np.flatnonzero(skip[c])
        if len(repeated):  # only keys held have packets skipped
            which = inverse[repeated]
            counts = np.bincount(which, minlength=len(first_pos))
            uniq = np.flatnonzero(counts)
            last = np.zeros(len(first_pos), dtype=np.int64)
            np.maximum.at(last, which, c[repeated])
            at = picked[last[uniq]]
            s, n = slot[uniq], counts[uniq]
            self.count[s] += n
            self.last_batch[s] = self.batch
            number = h.raw.number[at]
            later = number >= self.last_packet[s]
            self.last_packet[s[later]] = number[later]
            self.last_time_ns[s[later]] = h.raw.ts_ns[at[later]]
            self.repeats += int(n.sum())
            self.payoff.hits += int(n.sum())
        return picked[np.flatnonzero(~skip)], first

    def _creates(self) -> bool:
        """Whether this batch's new keys are created (see PAYS_WINDOW)."""
        return self.payoff.pays(self.batch)

    def _tainted(self, flow: np.ndarray, forward: np.ndarray, partial: np.ndarray) -> np.ndarray:
        """Per packet: an earlier packet of its flow and direction (in this batch or before) was not a
        whole PDU, so the dissector may hold a carried-over fragment: from then on, nothing of that
        direction is skipped (what it would see next depends on every byte)."""
        code = np.where(flow >= 0, flow * 2 + forward.astype(np.int64), -1)
        top = int(code.max(initial=-1)) + 1
        if top > len(self.taint):
            self.taint = np.concatenate([self.taint, np.zeros(max(top, 2 * len(self.taint)) - len(self.taint), bool)])
        out = np.zeros(len(code), dtype=bool)
        known = code >= 0
        out[known] = self.taint[code[known]]
        hit = np.flatnonzero(partial & known)
        if len(hit):
            order = np.lexsort((np.arange(len(code)), code))  # by flow direction, then packet order
            c, p = code[order], partial[order]
            start = np.ones(len(c), dtype=bool)
            start[1:] = c[1:] != c[:-1]
            first_of_group = np.maximum.accumulate(np.where(start, np.arange(len(c)), 0))
            last_partial = np.maximum.accumulate(np.where(p, np.arange(len(c)), -1))
            out[order] |= (last_partial >= first_of_group) & (c >= 0)
            self.taint[code[hit]] = True
        return out

    def flush(self, keep_recent: bool = False) -> list[tuple[Group, int]]:
        """(group, repeats) for every key with repeats since the last flush, handed over for accounting
        (in the order the keys were created), with the group's last packet and time set.

        At the end of a file everything goes (packet numbers start again). When the filter is
        full (``keep_recent``), the keys used in this or the previous batch stay: polling that
        is still going on keeps being skipped, finished conversations are forgotten."""
        counted = np.flatnonzero(self.count)
        counted = counted[np.argsort(self.order[counted])]
        out: list[tuple[Group, int]] = []
        done: list[int] = []
        columns = (self.group[counted], self.count[counted], self.last_packet[counted], self.last_time_ns[counted])
        for s, grp, n, number, ns in zip(counted.tolist(), *(col.tolist() for col in columns), strict=True):
            if grp.templates:  # none yet when created in this batch (its first packet is dissected next)
                grp.last_packet, grp.last_time = number, ns / 1e9
                out.append((grp, n))
                done.append(s)
        self.count[np.array(done, dtype=np.int64)] = 0
        if keep_recent:
            held = np.flatnonzero(self.order)
            self._rebuild(held[self.last_batch[held] >= self.batch - 1], len(self.order))
        else:
            self._alloc(_MIN_SLOTS)
            self.held = 0
        return out


def keys(
    h: Any, picked: np.ndarray, to_server: np.ndarray, specs: list[Spec], spec_index: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(cacheable, key1, key2, pair, partial, forward) per picked packet; key1/key2 hash the kept payload
    bytes and mix in the direction, the spec and (where the tail counts) the length."""
    data = np.frombuffer(h.raw.buf, dtype=np.uint8)
    off = h.payload_off[picked].astype(np.int64)
    length = h.payload_len[picked].astype(np.int64)
    n = len(picked)
    cacheable = np.zeros(n, dtype=bool)
    pair = np.full(n, -1, dtype=np.int64)
    partial = np.zeros(n, dtype=bool)
    forward = _forward(h, picked)
    key1 = np.zeros(n, dtype=np.uint64)
    key2 = np.zeros(n, dtype=np.uint64)
    if not n:
        return cacheable, key1, key2, pair, partial, forward
    # the packets hashed, spec by spec (each spec's in packet order), with their tails and holes: a hole
    # is the payload's position in that list and its bytes [lo, hi), clipped to the tail, non-empty
    rows: list[np.ndarray] = []
    tails: list[np.ndarray] = []
    hole_at: list[np.ndarray] = []
    hole_lo: list[np.ndarray] = []
    hole_hi: list[np.ndarray] = []
    hashed = 0
    order = np.argsort(spec_index, kind="stable")  # the packets of each spec, in packet order
    for sel in np.split(order, np.flatnonzero(np.diff(spec_index[order])) + 1):
        f = Fields(data, off[sel], length[sel], to_server[sel])
        cut = specs[int(spec_index[sel[0]])](f)
        tail = cut.tail
        ok = cut.cacheable & (tail <= _CAP) & (tail >= 0)
        cacheable[sel] = ok
        if cut.pair is not None:
            pair[sel] = cut.pair
        if cut.partial is not None:
            partial[sel] = cut.partial
        take = np.flatnonzero(ok)
        if not len(take):
            continue
        rows.append(sel[take])
        tails.append(tail[take])
        if cut.holes:
            position = np.cumsum(ok, dtype=np.int64) + (hashed - 1)  # a hashed packet's place in the list
        for lo, hi in cut.holes:
            lo_ = np.maximum(lo, 0)
            hi_ = np.minimum(hi, tail)
            some = np.flatnonzero((hi_ > lo_) & ok)
            if len(some):
                hole_at.append(position[some])
                hole_lo.append(np.broadcast_to(lo_, ok.shape)[some])
                hole_hi.append(hi_[some])
        hashed += len(take)
    if not hashed:
        return cacheable, key1, key2, pair, partial, forward
    idx, e = np.concatenate(rows), np.concatenate(tails)
    at, lo, hi = (np.concatenate(x) if x else np.zeros(0, dtype=np.int64) for x in (hole_at, hole_lo, hole_hi))
    h1, h2 = payload_hash(data, off[idx], e, at, lo, hi)
    key1[idx] = h1 ^ (e.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    key2[idx] = h2 ^ (
        (forward[idx].astype(np.uint64) << np.uint64(63)) | (spec_index[idx].astype(np.uint64) << np.uint64(48))
    )
    return cacheable, key1, key2, pair, partial, forward


def payload_hash(
    data: np.ndarray, off: np.ndarray, length: np.ndarray, hole_at: np.ndarray, hole_lo: np.ndarray, hole_hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of each payload ``data[off : off + length]`` (``length`` <= ``_CAP``)
    with its holes blanked: the bytes [``hole_lo``, ``hole_hi``) of payload ``hole_at`` (any number of
    holes per payload, overlapping or not; each non-empty and within its payload: ``0 <= hole_lo <
    hole_hi <= length``, as :func:`keys` clips them).

    A payload is read as little-endian 8-byte words (one unaligned gather per word), the bytes past its
    end and those in holes zeroed; each word's two 32-bit halves are multiplied by random odd 64-bit
    weights of their position and summed (mod 2**64). A word with blanked bytes also adds its blanked-byte
    pattern (one bit per byte) times a weight of its own, so a blanked byte never reads as a zero byte.
    The length is not hashed (``keys`` mixes it in)."""
    m = len(off)
    h1 = np.zeros(m, dtype=np.uint64)
    h2 = np.zeros(m, dtype=np.uint64)
    count = (length + 7) >> 3  # words per payload
    ends = np.cumsum(count)  # each payload's words end here in the flat word arrays
    total = int(ends[-1]) if m else 0
    if not total:
        return h1, h2
    start = ends - count
    some = np.flatnonzero(count) if not count.all() else None  # empty payloads have no words
    c, s, o, n = (count, start, off, length) if some is None else (count[some], start[some], off[some], length[some])
    over = int((o + 8 * c).max()) - len(data)
    if over > 0:  # batch buffers end in capture.PAD zero bytes: the last word of the last packet is readable
        data = np.concatenate([data, np.zeros(over, dtype=np.uint8)])
    # a word's position in its payload, and its first byte in the buffer: runs (cumulative sums of steps)
    rel = np.ones(total, dtype=np.int64)
    rel[0] = 0
    jump = s[1:]  # each payload's first word
    rel[jump] = 1 - c[:-1]
    np.cumsum(rel, out=rel)
    at = np.full(total, 8, dtype=np.int64)
    at[0] = o[0]
    at[jump] = o[1:] - o[:-1] - 8 * (c[:-1] - 1)
    np.cumsum(at, out=at)
    view = np.ndarray((len(data) - 7,), dtype=np.dtype("<u8"), buffer=data, strides=(1,))
    words = view[at]
    last = s + c - 1
    words[last] &= _LOW[n - 8 * (c - 1)]  # the bytes past the end
    blank = None
    if len(hole_at):
        blank = np.zeros(total, dtype=np.uint64)  # per word: 0xFF per blanked byte
        base = start[hole_at]
        hi = hole_hi - 1  # the last byte blanked
        w_lo, w_hi = base + (hole_lo >> 3), base + (hi >> 3)
        head, tail = ~_LOW[hole_lo & 7], _LOW[(hi & 7) + 1]
        multi = np.flatnonzero(w_lo != w_hi)
        tail_multi = tail[multi]
        tail[multi] = _ALL
        head &= tail  # a hole within one word: both ends in it
        np.bitwise_or.at(blank, w_lo, head)
        np.bitwise_or.at(blank, w_hi[multi], tail_multi)
        inner = w_hi[multi] - w_lo[multi] - 1
        wide = np.flatnonzero(inner > 0)
        if len(wide):
            blank[_runs(w_lo[multi[wide]] + 1, inner[wide])] = _ALL
        words &= ~blank
    halves = words.view(np.uint32)  # (low, high) per word, as the weight pairs are laid out
    p1 = _PAIRS1[rel].view(np.uint64)
    np.multiply(p1, halves, out=p1)
    p2 = _PAIRS2[rel].view(np.uint64)
    np.multiply(p2, halves, out=p2)
    if blank is not None:
        blank &= _BYTE_LSB
        blank *= _GATHER_BITS
        blank >>= np.uint64(56)  # bit i: byte i is blanked
        p1[::2] += _BLANKS1[rel] * blank
        p2[::2] += _BLANKS2[rel] * blank
    s2 = 2 * s
    if some is None:
        h1[:] = np.add.reduceat(p1, s2)
        h2[:] = np.add.reduceat(p2, s2)
    else:
        h1[some] = np.add.reduceat(p1, s2)
        h2[some] = np.add.reduceat(p2, s2)
    return h1, h2


def _runs(first: np.ndarray, count: np.ndarray, step: int = 1) -> np.ndarray:
    """first[i], first[i] + step, ... (count[i] values, count[i] > 0) for each i, concatenated."""
    out = np.full(int(count.sum()), step, dtype=np.int64)
    ends = np.cumsum(count)
    out[0] = first[0]
    out[ends[:-1]] = first[1:] - first[:-1] - step * (count[:-1] - 1)  # jump to the next run's first value
    return np.cumsum(out, out=out)


def _match_requests(flow: np.ndarray, pair: np.ndarray, paired: np.ndarray, to_server: np.ndarray) -> np.ndarray:
    """For each reply (paired, from the server): the index of the latest earlier request of its flow with
    the same pair value, or -1. Requests and unpaired packets get -1."""
    out = np.full(len(flow), -1, dtype=np.int64)
    idx = np.flatnonzero(paired)
    if not len(idx):
        return out
    order = idx[np.lexsort((idx, pair[idx], flow[idx]))]  # by flow, pair value, then packet order
    prev, cur = order[:-1], order[1:]
    hit = (flow[prev] == flow[cur]) & (pair[prev] == pair[cur]) & to_server[prev] & ~to_server[cur]
    out[cur[hit]] = prev[hit]
    return out


def _forward(h: Any, picked: np.ndarray) -> np.ndarray:
    """The packet's direction within its flow: True when (source, port) sorts before (destination, port).

    Protocols that use the same port on both sides (BACnet, C37.118 over UDP) need this: the
    well-known port alone does not tell who sent a packet."""
    v = h.ip_version[picked]
    sport, dport = h.sport[picked].astype(np.int64), h.dport[picked].astype(np.int64)
    s4, d4 = h.src4[picked].astype(np.int64), h.dst4[picked].astype(np.int64)
    out = (s4 < d4) | ((s4 == d4) & (sport < dport))
    six = np.flatnonzero(v == 6)
    if len(six):
        rows = picked[six]
        s6, d6 = h.src6[rows], h.dst6[rows]
        hi_lt, hi_eq = s6[:, 0] < d6[:, 0], s6[:, 0] == d6[:, 0]
        lo_lt, lo_eq = s6[:, 1] < d6[:, 1], s6[:, 1] == d6[:, 1]
        out[six] = hi_lt | (hi_eq & (lo_lt | (lo_eq & (sport[six] < dport[six]))))
    l2 = np.flatnonzero(v == 0)
    if len(l2):
        src_mac, dst_mac = h.macs(picked[l2])
        out[l2] = src_mac < dst_mac
    return out
