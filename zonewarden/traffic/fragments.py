"""IP fragment reassembly with bounded memory: fragments in, whole L3 payloads out.

A pure module (no capture reading): the caller gives each fragment's key, offset in bytes,
more-fragments flag and payload (the bytes after the IP header, or after the IPv6
fragment header), and :meth:`Reassembler.add` returns the whole L3 payload (the
transport header and its data) when the datagram is complete, else None.

* Key: ``(src, dst, proto, ip id)`` (RFC 791; for IPv6 the fragment header's 32-bit
  identification), any hashable value the caller chooses.
* Order: fragments may come in any order; exact duplicates are counted and ignored.
* Overlaps: the bytes received first win (what most stacks and IDSes of the plant floor
  would keep is not uniform, so the choice is documented rather than clever); every
  fragment that overlaps data already held, other than an exact duplicate, is an
  ``overlap`` problem (the classic evasion and teardrop pattern).
* Bounds: at most ``max_pending`` datagrams and ``max_bytes`` buffered bytes (the oldest
  datagram is evicted first, counted as ``evicted``), at most ``max_fragments`` pieces
  per datagram and ``max_datagram`` bytes per datagram (``too-many-fragments``,
  ``oversize``: the datagram is dropped). A datagram whose first fragment is older than
  ``timeout_s`` (by capture time) when another fragment arrives is dropped as
  ``timeout``.
* Never raises: a bad argument is an ``invalid`` problem and gives None.

Counts are exact (:attr:`Reassembler.counts`); the first :data:`MAX_PROBLEMS` problems
are kept with their packet numbers (:attr:`Reassembler.problems`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

MAX_PROBLEMS = 1000  # problems kept with their details; counts stay exact beyond it
IPV4_MAX_DATAGRAM = 65535  # an IPv4 total length is 16 bits: no payload can end past it

PROBLEM_KINDS = ("overlap", "inconsistent-end", "oversize", "too-many-fragments", "timeout", "evicted", "invalid")


@dataclass(frozen=True)
class FragmentProblem:
    """Something wrong with the fragments of one datagram, located by packet number."""

    kind: str  # one of PROBLEM_KINDS
    packet: int  # the packet that showed it (for timeout/evicted: the datagram's first fragment)
    key: Hashable
    detail: str


@dataclass
class _Pending:
    first_time: float
    first_packet: int
    pieces: list[tuple[int, bytes]] = field(default_factory=list)  # (offset, bytes), sorted, disjoint
    received: int = 0  # distinct bytes held
    total: int | None = None  # payload length, known from the last fragment (more_fragments False)


class Reassembler:
    """Bounded-memory IPv4/IPv6 fragment reassembler (see the module docstring)."""

    def __init__(
        self,
        max_pending: int = 1024,
        timeout_s: float = 30.0,
        max_bytes: int = 16 << 20,
        max_fragments: int = 256,
        max_datagram: int = IPV4_MAX_DATAGRAM,
    ) -> None:
        self.max_pending = max(1, int(max_pending))
        self.timeout_s = float(timeout_s)
        self.max_bytes = max(1, int(max_bytes))
        self.max_fragments = max(1, int(max_fragments))
        self.max_datagram = max(1, int(max_datagram))
        self._pending: OrderedDict[Hashable, _Pending] = OrderedDict()  # oldest first
        self._bytes = 0
        self._next_expiry = float("inf")  # no pending datagram times out before this capture time
        self.counts: dict[str, int] = dict.fromkeys(("fragments", "completed", "duplicates", *PROBLEM_KINDS), 0)
        self.problems: list[FragmentProblem] = []

    @property
    def pending(self) -> int:
        """Datagrams waiting for fragments."""
        return len(self._pending)

    @property
    def buffered_bytes(self) -> int:
        return self._bytes

    def add(
        self, key: Hashable, offset: int, more_fragments: bool, payload: bytes, time: float, packet_number: int
    ) -> bytes | None:
        """Take one fragment; the whole L3 payload when this fragment completes its datagram, else None."""
        try:
            return self._add(key, offset, more_fragments, payload, time, packet_number)
        except Exception as exc:  # the contract: never raise, whatever the arguments
            self._problem("invalid", packet_number, key, f"{type(exc).__name__}: {exc}"[:200])
            return None

    def expire(self, now: float) -> int:
        """Drop the datagrams whose first fragment is older than ``timeout_s`` at ``now``; how many."""
        if now <= self._next_expiry:
            return 0
        dropped = 0
        for key in [k for k, p in self._pending.items() if now - p.first_time > self.timeout_s]:
            pending = self._drop(key)
            self._problem("timeout", pending.first_packet, key, f"incomplete after {self.timeout_s:g} s")
            dropped += 1
        self._next_expiry = min((p.first_time for p in self._pending.values()), default=float("inf")) + self.timeout_s
        return dropped

    # -- internals ---------------------------------------------------------------------

    def _add(
        self, key: Hashable, offset: int, more_fragments: bool, payload: bytes, time: float, packet_number: int
    ) -> bytes | None:
        data = bytes(payload)
        offset, time, more = int(offset), float(time), bool(more_fragments)
        hash(key)
        if offset < 0:
            self._problem("invalid", packet_number, key, f"negative offset {offset}")
            return None
        end = offset + len(data)
        self.expire(time)
        pending = self._pending.get(key)
        if pending is None and offset == 0 and not more:
            return data  # not fragmented at all
        self.counts["fragments"] += 1
        if pending is None:
            pending = self._start(key, time, packet_number)
        if end > self.max_datagram:
            self._drop(key)
            self._problem("oversize", packet_number, key, f"fragment ends at byte {end} > {self.max_datagram}")
            return None
        if not more:
            if pending.total is None:
                held_end = pending.pieces[-1][0] + len(pending.pieces[-1][1]) if pending.pieces else 0
                if held_end > end:
                    self._drop(key)
                    self._problem(
                        "inconsistent-end", packet_number, key, f"last fragment ends at {end}, data to {held_end}"
                    )
                    return None
                pending.total = end
            elif end != pending.total:
                self._problem(
                    "inconsistent-end", packet_number, key, f"last fragment ends at {end}, not {pending.total}"
                )
        if pending.total is not None and end > pending.total:
            self._problem(
                "inconsistent-end", packet_number, key, f"fragment ends at {end}, past the end {pending.total}"
            )
            end = max(offset, pending.total)
            data = data[: end - offset]
        if not self._merge(key, pending, offset, data, packet_number):
            return None
        if pending.total is not None and pending.received == pending.total:
            self._drop(key)
            self.counts["completed"] += 1
            return b"".join(piece for _, piece in pending.pieces)
        self._bound(key)
        return None

    def _start(self, key: Hashable, time: float, packet_number: int) -> _Pending:
        while len(self._pending) >= self.max_pending:
            self._evict(f"more than {self.max_pending} datagrams pending")
        pending = _Pending(first_time=time, first_packet=packet_number)
        self._pending[key] = pending
        self._next_expiry = min(self._next_expiry, time + self.timeout_s)
        return pending

    def _merge(self, key: Hashable, pending: _Pending, offset: int, data: bytes, packet_number: int) -> bool:
        """Add the bytes of ``data`` not already held (first wins); False when the datagram was dropped."""
        end = offset + len(data)
        gaps: list[tuple[int, bytes]] = []
        covered, same, pos = 0, True, offset
        for start, piece in pending.pieces:
            stop = start + len(piece)
            if stop <= offset:
                continue
            if start >= end:
                break
            if start > pos:
                gaps.append((pos, data[pos - offset : start - offset]))
            lo, hi = max(start, offset), min(stop, end)
            covered += hi - lo
            same = same and piece[lo - start : hi - start] == data[lo - offset : hi - offset]
            pos = max(pos, stop)
        if pos < end:
            gaps.append((pos, data[pos - offset :]))
        if covered:
            if covered == len(data) and same:
                self.counts["duplicates"] += 1
            else:
                how = "same" if same else "different"
                self._problem("overlap", packet_number, key, f"{covered} bytes at {offset}..{end} already held ({how})")
        if not gaps:
            return True
        if len(pending.pieces) + len(gaps) > self.max_fragments:
            self._drop(key)
            self._problem("too-many-fragments", packet_number, key, f"more than {self.max_fragments} pieces")
            return False
        pending.pieces.extend(gaps)
        pending.pieces.sort(key=lambda piece: piece[0])
        size = sum(len(piece) for _, piece in gaps)
        pending.received += size
        self._bytes += size
        return True

    def _bound(self, current: Hashable) -> None:
        """Evict the oldest datagrams (the current one last) until the buffered bytes fit."""
        while self._bytes > self.max_bytes and self._pending:
            oldest = next(iter(self._pending))
            if oldest == current and len(self._pending) > 1:
                self._pending.move_to_end(current)
                continue
            self._evict(f"more than {self.max_bytes} bytes buffered")

    def _evict(self, why: str) -> None:
        key = next(iter(self._pending))
        pending = self._drop(key)
        self._problem("evicted", pending.first_packet, key, why)

    def _drop(self, key: Hashable) -> _Pending:
        pending = self._pending.pop(key)
        self._bytes -= pending.received
        return pending

    def _problem(self, kind: str, packet: int, key: Hashable, detail: str) -> None:
        self.counts[kind] += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(FragmentProblem(kind, packet, key, detail))
