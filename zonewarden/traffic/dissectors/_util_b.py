"""Shared helpers of the DNP3, BACnet, IEC 104, OPC UA and Profinet DCP dissectors.

A bounds-checked :class:`Reader` over a payload (every read past the end raises
:class:`Truncated`), safe text decoding, per-direction reassembly buffers and the
``guarded`` wrapper that turns any exception escaping a dissector into one
``malformed`` observation, so that ``dissect`` never raises.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from zonewarden.traffic.dissectors.base import Observation, Packet

_U16LE = struct.Struct("<H")
_U16BE = struct.Struct(">H")
_U32LE = struct.Struct("<I")
_I32LE = struct.Struct("<i")
_U32BE = struct.Struct(">I")

MAX_TEXT = 256  # longest string kept from a packet


class Truncated(ValueError):
    """A read ran past the end of the data."""


class Reader:
    """Sequential, bounds-checked reads from ``data`` starting at ``pos``."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.data = memoryview(data) if not isinstance(data, memoryview) else data
        self.pos = pos
        self.end = len(self.data) if end is None else min(end, len(self.data))

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int) -> int:
        if n < 0 or self.pos + n > self.end:
            raise Truncated(f"need {n} bytes at {self.pos}, have {self.end - self.pos}")
        at = self.pos
        self.pos += n
        return at

    def u8(self) -> int:
        return int(self.data[self._need(1)])

    def u16le(self) -> int:
        return int(_U16LE.unpack_from(self.data, self._need(2))[0])

    def u16be(self) -> int:
        return int(_U16BE.unpack_from(self.data, self._need(2))[0])

    def u32le(self) -> int:
        return int(_U32LE.unpack_from(self.data, self._need(4))[0])

    def i32le(self) -> int:
        return int(_I32LE.unpack_from(self.data, self._need(4))[0])

    def u32be(self) -> int:
        return int(_U32BE.unpack_from(self.data, self._need(4))[0])

    def take(self, n: int) -> bytes:
        at = self._need(n)
        return bytes(self.data[at : at + n])

    def skip(self, n: int) -> None:
        self._need(n)


def text(raw: bytes, encoding: str = "utf-8") -> str:
    """Printable text from packet bytes: undecodable bytes replaced, NULs and control characters dropped."""
    try:
        decoded = raw[: MAX_TEXT * 4].decode(encoding, errors="replace")
    except LookupError:
        decoded = raw[: MAX_TEXT * 4].decode("latin-1")
    return "".join(ch for ch in decoded if ch.isprintable()).strip()[:MAX_TEXT]


def malformed(
    protocol: str, packet: Packet, reason: str, client: str | None = None, server: str | None = None, **details: Any
) -> Observation:
    """The one observation a payload that cannot be decoded produces."""
    return Observation(
        protocol=protocol,
        packet=packet.number,
        time=packet.time,
        client=client if client is not None else packet.src,
        server=server if server is not None else packet.dst,
        message="malformed",
        details={"reason": reason, **details},
    )


def guarded(protocol: str) -> Callable[[Callable[..., list[Observation]]], Callable[..., list[Observation]]]:
    """Wrap ``dissect`` so no exception escapes: a bug or hostile input gives one ``malformed`` observation."""

    def wrap(fn: Callable[..., list[Observation]]) -> Callable[..., list[Observation]]:
        def dissect(self: Any, packet: Packet, state: dict[str, Any]) -> list[Observation]:
            try:
                return fn(self, packet, state)
            except Exception as exc:  # the contract: never raise on any input
                try:
                    # a Truncated escaping a parser is a short packet; anything else a dissector bug
                    bug = not isinstance(exc, Truncated)
                    return [malformed(protocol, packet, f"{type(exc).__name__}: {exc}"[:200], internal_error=bug)]
                except Exception:
                    return []

        dissect.__doc__ = fn.__doc__
        dissect.__name__ = fn.__name__
        return dissect

    return wrap


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


def hexid(value: int, width: int = 4) -> str:
    return f"0x{value:0{width}x}"
