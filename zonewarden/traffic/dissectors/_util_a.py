"""Shared helpers of the Modbus/TCP, EtherNet/IP and S7comm dissectors.

* :func:`text` turns packet bytes into short printable text;
* :func:`frames` splits one TCP segment into the length-prefixed PDUs of its stream,
  carrying an incomplete PDU over to the next segment of the same direction (a small,
  bounded buffer in the flow ``state``), so that a PDU split across segments is
  dissected once, whole;
* :func:`guarded` wraps a ``dissect`` method so that no exception ever escapes it: a
  payload that trips the parser yields one ``malformed`` observation instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

MAX_TEXT = 128  # longest string kept from a packet
MAX_CARRY = 1 << 16  # largest partial PDU kept between two segments of a direction
MAX_PENDING = 64  # requests remembered per flow for matching their responses

# frame_length(data, offset) -> total length of the PDU starting there, NEED_MORE when the
# header itself is cut short, or INVALID when the bytes there cannot start a PDU.
NEED_MORE = 0
INVALID = -1
FrameLength = Callable[[bytes, int], int]

_PARSE_ERRORS = (Exception,)  # the contract: dissect never raises, whatever the bytes


def text(raw: bytes | memoryview) -> str:
    """Printable text from packet bytes: cut at the first NUL, control characters dropped, trimmed."""
    data = bytes(raw[: MAX_TEXT * 2])
    nul = data.find(b"\x00")
    if nul >= 0:
        data = data[:nul]
    decoded = data.decode("utf-8", errors="replace")
    return "".join(ch for ch in decoded if ch.isprintable()).strip()[:MAX_TEXT]


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


def guarded(protocol: str, server_ports: tuple[int, ...]) -> Callable[..., Any]:
    """Decorate ``dissect`` so that a parser error becomes one ``malformed`` observation."""

    def wrap(func: Callable[[Any, Packet, dict[str, Any]], list[Observation]]) -> Callable[..., list[Observation]]:
        @functools.wraps(func)
        def dissect(self: Any, packet: Packet, state: dict[str, Any]) -> list[Observation]:
            try:
                return func(self, packet, state)
            except _PARSE_ERRORS as exc:
                client, server, _ = Dissector.sides(packet, server_ports)
                return [
                    Observation(
                        protocol=protocol,
                        packet=packet.number,
                        time=packet.time,
                        client=client,
                        server=server,
                        message="malformed",
                        details={"error": type(exc).__name__},
                    )
                ]

        return dissect

    return wrap
