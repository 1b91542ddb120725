"""IP fragment reassembly: order, duplicates, overlaps, timeouts and limits."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from zonewarden.traffic.fragments import Reassembler

KEY = ("10.0.0.1", "10.0.0.2", 17, 0x1234)


def split(payload: bytes, size: int) -> list[tuple[int, bool, bytes]]:
    """(offset, more_fragments, bytes) pieces of ``size`` bytes (a multiple of 8, as IPv4 needs)."""
    pieces = [(at, True, payload[at : at + size]) for at in range(0, len(payload), size)]
    offset, _, last = pieces[-1]
    pieces[-1] = (offset, False, last)
    return pieces


def feed(r: Reassembler, pieces: list[tuple[int, bool, bytes]], key: Any = KEY, time: float = 0.0) -> list[bytes]:
    out = []
    for number, (offset, more, data) in enumerate(pieces, start=1):
        whole = r.add(key, offset, more, data, time, number)
        if whole is not None:
            out.append(whole)
    return out


@st.composite
def fragmented(draw: Any) -> tuple[bytes, list[tuple[int, bool, bytes]]]:
    """A payload and its fragments in random order, some sent twice, some re-cut to overlap with the same bytes."""
    payload = draw(st.binary(min_size=9, max_size=4000))
    size = 8 * draw(st.integers(1, min(185, (len(payload) - 1) // 8)))  # at least two fragments
    pieces = split(payload, size)
    extra = draw(st.lists(st.sampled_from(pieces), max_size=len(pieces)))
    # consistent overlaps: a window of the payload that straddles fragment boundaries
    for _ in range(draw(st.integers(0, 3))):
        start = 8 * draw(st.integers(0, (len(payload) - 1) // 8))
        stop = draw(st.integers(start + 1, len(payload) - (start == 0)))  # a fragment, never the whole payload
        extra.append((start, stop < len(payload), payload[start:stop]))
    order = draw(st.permutations(pieces + extra))
    return payload, list(order)


@settings(max_examples=300, deadline=None)
@given(fragmented())
def test_random_order_duplicates_and_consistent_overlaps_reassemble_exactly(case: Any) -> None:
    payload, pieces = case
    r = Reassembler()
    out = feed(r, pieces)
    assert out, "never completed"
    assert all(whole == payload for whole in out)
    assert r.counts["completed"] == len(out)
    assert all(p.kind == "overlap" and p.detail.endswith("(same)") for p in r.problems), r.problems


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=3000), st.integers(1, 100), st.randoms(use_true_random=False))
def test_in_order_and_shuffled_complete_once(payload: bytes, eights: int, rnd: Any) -> None:
    pieces = split(payload, 8 * eights)
    rnd.shuffle(pieces)
    r = Reassembler()
    assert feed(r, pieces) == [payload]
    assert r.pending == 0 and r.buffered_bytes == 0
    assert r.counts["duplicates"] == 0 and r.counts["overlap"] == 0


def test_unfragmented_packet_passes_through() -> None:
    r = Reassembler()
    assert r.add(KEY, 0, False, b"whole", 0.0, 1) == b"whole"
    assert r.pending == 0


def test_exact_duplicate_is_counted_not_a_problem() -> None:
    r = Reassembler()
    assert r.add(KEY, 0, True, b"A" * 8, 0.0, 1) is None
    assert r.add(KEY, 0, True, b"A" * 8, 0.0, 2) is None
    assert r.add(KEY, 8, False, b"BB", 0.0, 3) == b"A" * 8 + b"BB"
    assert r.counts["duplicates"] == 1 and r.counts["overlap"] == 0 and not r.problems


def test_overlap_first_wins_and_is_a_problem() -> None:
    r = Reassembler()
    assert r.add(KEY, 0, True, b"A" * 16, 0.0, 1) is None
    assert r.add(KEY, 8, False, b"X" * 16, 0.0, 2) == b"A" * 16 + b"X" * 8  # bytes 8..15 were held: the A's win
    [problem] = r.problems
    assert (problem.kind, problem.packet) == ("overlap", 2) and "different" in problem.detail


def test_conflicting_last_fragments() -> None:
    r = Reassembler()
    r.add(KEY, 16, False, b"C" * 8, 0.0, 1)  # ends at 24
    r.add(KEY, 8, False, b"B" * 8, 0.0, 2)  # says the end is 16: inconsistent, first end kept
    assert r.add(KEY, 0, True, b"A" * 8, 0.0, 3) == b"A" * 8 + b"B" * 8 + b"C" * 8
    assert r.counts["inconsistent-end"] == 1


def test_last_fragment_before_data_already_held_drops_the_datagram() -> None:
    r = Reassembler()
    r.add(KEY, 16, True, b"C" * 8, 0.0, 1)
    assert r.add(KEY, 0, False, b"A" * 8, 0.0, 2) is None
    assert r.pending == 0 and r.counts["inconsistent-end"] == 1


def test_timeout_drops_the_incomplete_datagram() -> None:
    r = Reassembler(timeout_s=30)
    r.add(KEY, 0, True, b"A" * 8, 100.0, 1)
    other = ("10.0.0.3", "10.0.0.2", 17, 1)
    r.add(other, 0, True, b"B" * 8, 131.0, 2)  # 31 s later: the first one timed out
    assert r.add(KEY, 8, False, b"Z", 131.0, 3) is None  # a new datagram, not completed from stale data
    assert r.counts["timeout"] == 1
    assert [(p.kind, p.packet) for p in r.problems] == [("timeout", 1)]
    assert r.expire(1000.0) == 2 and r.pending == 0 and r.buffered_bytes == 0


def test_max_pending_evicts_the_oldest() -> None:
    r = Reassembler(max_pending=3)
    for ident in range(5):
        r.add(("a", "b", 6, ident), 0, True, b"x" * 8, float(ident), ident + 1)
    assert r.pending == 3 and r.counts["evicted"] == 2
    assert [p.packet for p in r.problems] == [1, 2]
    assert r.add(("a", "b", 6, 4), 8, False, b"y", 5.0, 9) == b"x" * 8 + b"y"  # the newest survived


def test_byte_budget_evicts_the_oldest() -> None:
    r = Reassembler(max_bytes=100)
    r.add(("a", "b", 6, 1), 0, True, b"x" * 64, 0.0, 1)
    r.add(("a", "b", 6, 2), 0, True, b"y" * 64, 0.0, 2)
    assert r.pending == 1 and r.buffered_bytes == 64 and r.counts["evicted"] == 1


def test_oversize_and_too_many_fragments_drop_the_datagram() -> None:
    r = Reassembler(max_fragments=4)
    r.add(KEY, 0, True, b"a" * 8, 0.0, 1)
    assert r.add(KEY, 65528, True, b"b" * 16, 0.0, 2) is None  # ping of death: past 65535
    assert r.counts["oversize"] == 1 and r.pending == 0
    for n in range(6):
        r.add(KEY, 16 * n, True, b"c" * 8, 0.0, 10 + n)
    assert r.counts["too-many-fragments"] == 1


def test_bad_arguments_never_raise() -> None:
    r = Reassembler()
    assert r.add(KEY, -8, True, b"x", 0.0, 1) is None
    assert r.add(KEY, "eight", True, b"x", 0.0, 2) is None  # type: ignore[arg-type]
    assert r.add([1, 2], 0, True, b"x", 0.0, 3) is None  # type: ignore[arg-type]  # unhashable key
    assert r.add(KEY, 0, True, None, 0.0, 4) is None  # type: ignore[arg-type]
    assert r.counts["invalid"] == 4


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(-16, 70000),
            st.booleans(),
            st.binary(max_size=64),
            st.floats(allow_nan=True, allow_infinity=True),
        ),
        max_size=60,
    )
)
def test_arbitrary_fragments_never_raise_and_stay_bounded(ops: list[Any]) -> None:
    r = Reassembler(max_pending=2, max_bytes=256, max_fragments=8, timeout_s=5)
    for number, (ident, offset, more, data, time) in enumerate(ops, start=1):
        out = r.add(("s", "d", 17, ident), offset, more, data, time, number)
        assert out is None or isinstance(out, bytes)
        assert r.pending <= 2
        assert r.buffered_bytes <= 256
