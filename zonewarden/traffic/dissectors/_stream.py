"""Helpers for dissectors of TCP streams: PDUs split across segments, and requests matched to responses.

* :func:`frames` splits one TCP segment into the length-prefixed PDUs of its stream,
  carrying an incomplete PDU over to the next segment of the same direction (a small,
  bounded buffer in the flow ``state``), so that a PDU split across segments is
  dissected once, whole (Modbus/TCP, EtherNet/IP, S7comm);
* :class:`StreamBuffer` is the simpler carry-over of the others: the caller decides
  where a PDU starts and keeps the incomplete tail;
* :func:`remember` / :func:`recall` keep a bounded number of requests per flow for
  matching their responses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zonewarden.traffic.dissectors.base import Packet

MAX_CARRY = 1 << 16  # largest partial PDU kept between two segments of a direction
MAX_PENDING = 64  # requests remembered per flow for matching their responses

# frame_length(data, offset) -> total length of the PDU starting there, NEED_MORE when the
# header itself is cut short, or INVALID when the bytes there cannot start a PDU.
NEED_MORE = 0
INVALID = -1
FrameLength = Callable[[bytes, int], int]


def frames(
    state: dict[str, Any], direction: str, payload: bytes, frame_length: FrameLength
) -> tuple[list[tuple[bytes, bool]], bool]:
    """Split ``payload`` into PDUs: ``([(pdu, complete), ...], garbage)``.

    ``complete`` is False for a PDU cut short that could not be completed (its start
    was carried over but the next segment began a new PDU). ``garbage`` is True when
    bytes that cannot start a PDU were met (the rest of the segment is then dropped).
    An incomplete PDU at the end of the segment is kept in ``state`` (at most
    :data:`MAX_CARRY` bytes) and completed by the next segment of the same direction.
    """
    carries: dict[str, bytes] = state.setdefault("_carry", {})
    out: list[tuple[bytes, bool]] = []
    data = payload
    carry = carries.pop(direction, None)
    if carry:
        total = frame_length(carry, 0)
        need = total - len(carry) if total > 0 else -1
        continuation = (
            total == NEED_MORE
            or need == len(payload)
            or (0 < need < len(payload) and frame_length(payload, need) != INVALID)
            or frame_length(payload, 0) == INVALID
        )
        if continuation:
            data = carry + payload
        else:
            out.append((carry, False))
    offset, size = 0, len(data)
    while offset < size:
        total = frame_length(data, offset)
        if total == INVALID:
            return out, True
        if total == NEED_MORE or offset + total > size:
            rest = data[offset:]
            if len(rest) <= MAX_CARRY:
                carries[direction] = rest
            else:
                out.append((rest, False))
            break
        out.append((data[offset : offset + total], True))
        offset += total
    return out, False


def remember(state: dict[str, Any], key: Any, value: Any) -> None:
    """Remember a request under ``key`` for its response (at most :data:`MAX_PENDING` per flow)."""
    pending: dict[Any, Any] = state.setdefault("_pending", {})
    if len(pending) >= MAX_PENDING:
        pending.pop(next(iter(pending)))
    pending[key] = value


def recall(state: dict[str, Any], key: Any) -> Any:
    """The request remembered under ``key`` (forgotten once recalled), or None."""
    pending: dict[Any, Any] | None = state.get("_pending")
    return pending.pop(key, None) if pending else None


class StreamBuffer:
    """Per-direction leftovers of a TCP stream, for PDUs split across segments.

    ``feed`` returns the bytes to parse (leftover + payload, or the payload alone when it
    starts a new PDU by ``starts_pdu``); ``keep`` stores an incomplete tail, bounded by ``limit``.
    """

    def __init__(self, state: dict[str, Any], key: str, limit: int) -> None:
        self.buffers: dict[tuple[str, int], bytes] = state.setdefault(key, {})
        self.limit = limit

    def feed(self, packet: Packet, starts_pdu: bool) -> bytes:
        leftover = self.buffers.pop((packet.src, packet.sport), b"")
        if leftover and not starts_pdu:
            return leftover + packet.payload
        return bytes(packet.payload)

    def keep(self, packet: Packet, tail: bytes) -> None:
        if tail and len(tail) <= self.limit:
            self.buffers[(packet.src, packet.sport)] = bytes(tail)
