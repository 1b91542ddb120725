"""Repeat keys stand for the bytes they hash: equal exactly when the kept bytes, the blanked positions and
the hashed length are equal (payloads of one flow, direction and protocol)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zonewarden.traffic.repeats import _CAP, SPECS, Cut, Fields, keys

Hole = tuple[int, int]


def _canonical(payload: bytes, tail: int, holes: list[Hole]) -> tuple[int | None, ...]:
    """What a key must stand for: the first ``tail`` bytes, None where blanked."""
    blank = [False] * tail
    for lo, hi in holes:
        for i in range(max(lo, 0), min(hi, tail)):
            blank[i] = True
    return tuple(None if b else x for x, b in zip(payload[:tail], blank, strict=True))


def _keys(packets: list[tuple[bytes, int, list[Hole]]], pad: int = 256) -> list[tuple[bool, int, int]]:
    """(cacheable, key1, key2) per packet, the packets laid out at assorted alignments in one buffer that
    ends ``pad`` bytes after the last payload (capture buffers end in 256 zero bytes)."""
    buf = bytearray()
    offsets = []
    for i, (payload, _, _) in enumerate(packets):
        buf += bytes([0xA5]) * (1 + 3 * i % 8)  # bytes around the payloads must not leak into the keys
        offsets.append(len(buf))
        buf += payload
    buf += bytes(pad)
    n = len(packets)
    width = max((len(holes) for _, _, holes in packets), default=0)
    lo = np.zeros((width, n), dtype=np.int64)
    hi = np.zeros((width, n), dtype=np.int64)
    for j, (_, _, holes) in enumerate(packets):
        for k, (a, z) in enumerate(holes):
            lo[k, j], hi[k, j] = a, z

    def spec(f: Fields) -> Cut:  # the holes and tails given, in packet order (one spec: all packets)
        tail = np.array([t for _, t, _ in packets], dtype=np.int64)
        return Cut(np.ones(n, dtype=bool), tail, [(lo[k], hi[k]) for k in range(width)])

    ones = np.ones(n, dtype=np.int64)
    h = SimpleNamespace(
        raw=SimpleNamespace(buf=bytes(buf)),
        payload_off=np.array(offsets, dtype=np.int64),
        payload_len=np.array([len(p) for p, _, _ in packets], dtype=np.int64),
        ip_version=4 * ones,
        sport=40000 * ones,
        dport=502 * ones,
        src4=ones,
        dst4=2 * ones,
    )
    cacheable, key1, key2, *_ = keys(h, np.arange(n), np.ones(n, dtype=bool), [spec], np.zeros(n, dtype=np.int64))
    return list(zip(cacheable.tolist(), key1.tolist(), key2.tolist(), strict=True))


def _check(packets: list[tuple[bytes, int, list[Hole]]], pad: int = 256) -> None:
    got = _keys(packets, pad)
    want = [_canonical(p, t, holes) for p, t, holes in packets]
    for i in range(len(packets)):
        assert got[i][0] == (packets[i][1] <= _CAP)
        for j in range(i):
            if got[i][0] and got[j][0]:
                assert (got[i][1:] == got[j][1:]) == (want[i] == want[j]), (packets[i], packets[j])


def test_a_blanked_byte_is_not_a_zero_byte() -> None:
    _check([(b"\x00\x01", 2, [(0, 1)]), (b"\x00\x01", 2, []), (b"\x07\x01", 2, [(0, 1)])])


def test_the_length_counts_even_when_the_bytes_past_it_are_zero() -> None:
    _check([(b"AB", 2, []), (b"AB\x00", 3, []), (b"AB\x00" + bytes(8), 11, []), (b"", 0, [])])


def test_holes_are_compared_as_the_bytes_they_blank() -> None:
    payload = bytes(range(1, 41))
    other = bytes(b if 5 <= i < 30 else 0xEE for i, b in enumerate(payload))  # differs only outside ...
    _check(
        [
            (payload, 40, [(0, 5), (30, 40)]),  # ... these holes
            (other, 40, [(0, 5), (30, 40)]),
            (payload, 40, [(0, 2), (2, 5), (30, 45)]),  # adjacent holes, and one past the end
            (payload, 40, [(-3, 4), (1, 5), (33, 40), (30, 34), (7, 7), (9, 8)]),  # overlapping, empty
            (payload, 40, [(0, 5), (30, 40), (12, 13)]),
            (payload[:14] + b"!" + payload[15:], 40, [(0, 5), (30, 40), (12, 13)]),  # kept: byte 14
            (payload, 39, [(0, 5), (30, 40)]),
        ]
    )


def test_payloads_at_the_end_of_an_unpadded_buffer() -> None:
    _check([(b"\x01" * 13, 13, [(3, 4)]), (b"\x01" * 13, 13, [(3, 4)])], pad=0)
    _check([(bytes(range(200)), 200, [(8, 100)]), (bytes(range(3)) + bytes(range(197)), 200, [(8, 100)])], pad=0)


def test_long_payloads_and_the_cap() -> None:
    long = bytes(range(256)) * 4
    _check(
        [
            (long, _CAP, [(17, 900)]),
            (long[:17] + bytes(883) + long[900:], _CAP, [(17, 900)]),
            (long, _CAP, [(17, 899)]),
            (long + b"x", _CAP + 1, []),  # too long to hash: not cacheable
        ]
    )


@st.composite
def _packets(draw: st.DrawFn) -> tuple[list[tuple[bytes, int, list[Hole]]], int]:
    size = draw(st.sampled_from([8, 24, 70, 300, _CAP]))
    base = draw(st.binary(max_size=size))
    out: list[tuple[bytes, int, list[Hole]]] = []
    for _ in range(draw(st.integers(2, 6))):
        if out and draw(st.booleans()):  # a copy of an earlier packet: same canonical form, other bytes
            payload, tail, holes = out[draw(st.integers(0, len(out) - 1))]
            form = _canonical(payload, tail, holes)
            body = bytearray(payload)
            for i in range(len(body)):
                if i >= tail or form[i] is None:
                    body[i] = draw(st.integers(0, 255))  # noise in the holes and past the tail
            kept = [i for i, b in enumerate(form) if b is not None]
            if kept and draw(st.booleans()):  # and one kept byte changed: another canonical form
                i = draw(st.sampled_from(kept))
                body[i] = (body[i] + draw(st.integers(1, 255))) % 256
            if draw(st.booleans()):  # the blanked bytes as other holes
                runs = [i for i, b in enumerate(form) if b is None and (i == 0 or form[i - 1] is not None)]
                ends = [i + 1 for i, b in enumerate(form) if b is None and (i + 1 == tail or form[i + 1] is not None)]
                holes = []
                for a, z in zip(runs, ends, strict=True):
                    cut = draw(st.integers(a, z))
                    holes += [(a, cut), (cut - draw(st.integers(0, cut - a)), z)]
            if draw(st.booleans()):
                holes.append((tail, tail + draw(st.integers(0, 9))))  # past the tail: blanks nothing
            out.append((bytes(body), tail, holes))
            continue
        body = bytearray(base)
        for _ in range(draw(st.integers(0, 2))):
            if body:
                body[draw(st.integers(0, len(body) - 1))] = draw(st.sampled_from([0, 1, 0x80, 0xFF]))
        if body and draw(st.booleans()):
            del body[draw(st.integers(0, len(body) - 1)) :]
        n = len(body)
        tail = n if draw(st.booleans()) else draw(st.integers(0, n))
        holes = draw(st.lists(st.tuples(st.integers(-2, n + 2), st.integers(-2, n + 2)), max_size=4))
        zeros = [i for i in range(tail) if body[i] == 0]
        if zeros and draw(st.booleans()):
            i = draw(st.sampled_from(zeros))
            holes.append((i, i + 1))  # a zero byte blanked: must differ from the zero byte kept
        out.append((bytes(body), tail, holes))
    return out, draw(st.sampled_from([0, 3, 256]))


@settings(max_examples=400, deadline=None)
@given(case=_packets())
def test_keys_are_equal_exactly_when_the_kept_bytes_are(case: tuple[list[tuple[bytes, int, list[Hole]]], int]) -> None:
    packets, pad = case
    _check(packets, pad)


@settings(max_examples=200, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=12), min_size=1, max_size=8),
    pos=st.lists(st.integers(-1, 20), min_size=1, max_size=8),
)
def test_field_reads_are_zero_past_the_payload(payloads: list[bytes], pos: list[int]) -> None:
    buf = b"\xff" + b"\xff".join(payloads) + b"\xff"
    offsets, at = [], 1
    for p in payloads:
        offsets.append(at)
        at += len(p) + 1
    n = len(payloads)
    f = Fields(
        np.frombuffer(buf, dtype=np.uint8),
        np.array(offsets, dtype=np.int64),
        np.array([len(p) for p in payloads], dtype=np.int64),
        np.ones(n, dtype=bool),
    )
    where = np.resize(np.array(pos, dtype=np.int64), n)
    want = [buf[o + q] if q < len(p) else 0 for o, q, p in zip(offsets, where.tolist(), payloads, strict=True)]
    assert f.u8(where).tolist() == want
    q = pos[0]
    assert f.u8(q).tolist() == [buf[o + q] if q < len(p) else 0 for o, p in zip(offsets, payloads, strict=True)]
    assert f.u8(where).dtype == np.int64


def _spec(name: str, payloads: list[bytes], to_server: bool = True) -> list[tuple[bool, bool, int, tuple[int, int]]]:
    """(cacheable, partial, pair, key) per payload, by the spec of dissector ``name`` (one flow direction)."""
    buf = bytearray()
    offsets = []
    for payload in payloads:
        buf += b"\xa5"
        offsets.append(len(buf))
        buf += payload
    buf += bytes(256)
    n = len(payloads)
    ones = np.ones(n, dtype=np.int64)
    h = SimpleNamespace(
        raw=SimpleNamespace(buf=bytes(buf)),
        payload_off=np.array(offsets, dtype=np.int64),
        payload_len=np.array([len(p) for p in payloads], dtype=np.int64),
        ip_version=4 * ones,
        sport=40000 * ones,
        dport=102 * ones,
        src4=ones,
        dst4=2 * ones,
    )
    cacheable, key1, key2, pair, partial, _ = keys(
        h, np.arange(n), np.full(n, to_server), [SPECS[name]], np.zeros(n, dtype=np.int64)
    )
    keys_ = list(zip(key1.tolist(), key2.tolist(), strict=True))
    return list(zip(cacheable.tolist(), partial.tolist(), pair.tolist(), keys_, strict=True))


def _s7_answer(ref: int, value: int, items: int = 1) -> bytes:
    """A TPKT/COTP/S7 answer to a read (an item of two bytes)."""
    return bytes.fromhex(f"0300001b02f08032030000{ref:04x}00020006000004{items:02x}ff040010{value:04x}")


def test_segments_of_several_whole_tpkts_are_cacheable_per_pdu() -> None:
    one = _s7_answer(1, 5)
    got = _spec(
        "s7",
        [
            _s7_answer(1, 5) + _s7_answer(2, 6),
            _s7_answer(7, 9) + _s7_answer(8, 1),  # other PDU references and values: the same key
            _s7_answer(1, 5) + _s7_answer(2, 6, 2),  # an item count differs: another key
            one,
            one + one[:10],  # a PDU cut short: carried over by the dissector
            bytes.fromhex("0300000c02f0003201000000") + one,  # a COTP data unit without its end mark
        ],
        to_server=False,
    )
    assert [(c, p) for c, p, _, _ in got] == [(True, False)] * 4 + [(False, True)] * 2
    assert got[0][3] == got[1][3] != got[2][3]
    assert got[3][3] != got[0][3]


def test_segments_of_several_enip_pdus() -> None:
    identity = bytes.fromhex("630000000000000000000000010203040506070800000000")
    request = bytes.fromhex(
        "6f0018000102030400000000010203040506070800000000000000000000020000000000b20008000e03200124013001"
    )
    got = _spec("enip", [identity * 2, request, request * 2, identity + request, identity * 2 + identity[:20]])
    # several ListIdentity: whole, cacheable; a paired request among several: dissected, and partial (the
    # pairing follows one PDU per packet), with the pair value of the segment's first PDU
    assert [(c, p) for c, p, _, _ in got] == [(True, False), (True, False), (False, True), (False, True), (False, True)]
    assert got[2][2] == got[1][2] >= 0


def test_segments_of_several_ads_and_c37118_pdus() -> None:
    ads = bytes.fromhex("000020000000c0a8000101015303c0a800020101208004000400000000000000000001000000")
    got = _spec("ads", [ads * 2, ads * 3, ads + ads[:7]])
    assert [(c, p) for c, p, _, _ in got] == [(True, False), (True, False), (False, True)]
    assert got[0][3] != got[1][3]
    # C37.118 data frames: the measurements (from SOC on) are don't-care in each
    got = _spec("c37.118", [bytes.fromhex(f"aa0100100001{soc:08x}000000000000" * 2) for soc in (1, 2)], False)
    assert [(c, p) for c, p, _, _ in got] == [(True, False)] * 2
    assert got[0][3] == got[1][3]
