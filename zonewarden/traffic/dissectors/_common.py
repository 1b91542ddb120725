"""What every dissector shares: bounds-checked reads, text, observation builders and the guard.

* :class:`Reader` reads sequentially from a payload; every read past the end raises
  :class:`Truncated` (a short packet, not a dissector bug).
* :func:`text` turns packet bytes into short printable text. One rule for every protocol:
  decode (UTF-8 unless told otherwise, undecodable bytes replaced), skip leading NULs,
  cut at the next NUL (fixed-size fields are NUL-padded C strings, and what follows a NUL
  is padding or stale memory), drop control characters, trim, keep at most
  :data:`MAX_TEXT` characters.
* :func:`observation` is the one :class:`Observation` builder: empty identity values are
  dropped, and ``identity_of`` with them when nothing is left.
* :func:`malformed` is the observation of a payload that cannot be decoded; its details
  always hold ``reason`` (text) and ``internal_error`` (bool).
* :func:`guarded` wraps ``dissect`` so that no exception escapes: a payload that trips the
  parser gives one ``malformed`` observation whose ``reason`` names the exception;
  ``internal_error`` is False for :class:`Truncated` (the packet is short) and True for
  anything else (a dissector bug or an input the parser did not foresee, which the
  fuzz tests look for).
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from collections.abc import Callable
from typing import Any

from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

MAX_TEXT = 256  # longest string kept from a packet
MAX_REASON = 200  # longest ``reason`` of a malformed observation

_U16LE = struct.Struct("<H")
_U16BE = struct.Struct(">H")
_U32LE = struct.Struct("<I")
_I32LE = struct.Struct("<i")
_U32BE = struct.Struct(">I")


class Truncated(ValueError):
    """A read ran past the end of the data."""


class Reader:
    """Sequential, bounds-checked reads from ``data`` starting at ``pos``."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.data = data  # bytes stay bytes: their slices are bytes already, and index faster than a view
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

    # the hot reads check bounds inline: one method call per field instead of two
    def u8(self) -> int:
        pos = self.pos
        if pos >= self.end:
            raise Truncated(f"need 1 bytes at {pos}, have {self.end - pos}")
        self.pos = pos + 1
        return self.data[pos]

    def u16le(self) -> int:
        pos = self.pos
        if pos + 2 > self.end:
            raise Truncated(f"need 2 bytes at {pos}, have {self.end - pos}")
        self.pos = pos + 2
        return int(_U16LE.unpack_from(self.data, pos)[0])

    def u16be(self) -> int:
        pos = self.pos
        if pos + 2 > self.end:
            raise Truncated(f"need 2 bytes at {pos}, have {self.end - pos}")
        self.pos = pos + 2
        return int(_U16BE.unpack_from(self.data, pos)[0])

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


def tiles(payload: bytes, frame: Callable[[bytes, int], int]) -> bool:
    """Whether ``payload`` is one or more whole frames end to end (a recogniser's test, see
    Dissector.matches): ``frame(payload, pos)`` is the size of the well-formed frame starting at ``pos``, or
    0 when there is none there."""
    pos, n = 0, len(payload)
    while pos < n:
        size = frame(payload, pos)
        if size <= 0:
            return False
        pos += size
    return n > 0 and pos == n


def text(raw: bytes | memoryview, encoding: str = "utf-8") -> str:
    """Printable text from packet bytes (the rule is in the module docstring)."""
    data = bytes(raw[: MAX_TEXT * 4])
    try:
        decoded = data.decode(encoding, errors="replace")
    except LookupError:
        decoded = data.decode("latin-1")
    decoded = decoded.lstrip("\x00").split("\x00", 1)[0]
    if not decoded.isprintable():  # most names are: then no character-by-character pass
        decoded = "".join(ch for ch in decoded if ch.isprintable())
    return decoded.strip()[:MAX_TEXT]


def hexid(value: int, width: int = 4) -> str:
    return f"0x{value:0{width}x}"


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def ipv4_text(raw: bytes) -> str:
    return ".".join(str(b) for b in raw[:4])


def ipv6_text(raw: bytes) -> str:
    return str(ipaddress.IPv6Address(bytes(raw[:16])))


def observation(
    protocol: str,
    packet: Packet,
    client: str,
    server: str,
    message: str = "request",
    function: str | None = None,
    identity: dict[str, str] | None = None,
    identity_of: str | None = None,
    details: dict[str, Any] | None = None,
    operation: str | None = None,
) -> Observation:
    """One observation of ``packet``; empty identity values are dropped (and ``identity_of`` when none is left)."""
    ident = {k: v for k, v in (identity or {}).items() if v is not None and v != ""}
    return Observation(
        protocol=protocol,
        packet=packet.number,
        time=packet.time,
        client=client,
        server=server,
        message=message,
        operation=operation,
        function=function,
        identity=ident,
        identity_of=identity_of if ident else None,
        details={} if details is None else details,
    )


def malformed(
    protocol: str,
    packet: Packet,
    reason: str,
    client: str | None = None,
    server: str | None = None,
    *,
    internal_error: bool = False,
    **details: Any,
) -> Observation:
    """The one observation a payload that cannot be decoded produces."""
    return Observation(
        protocol=protocol,
        packet=packet.number,
        time=packet.time,
        client=client if client is not None else packet.src,
        server=server if server is not None else packet.dst,
        message="malformed",
        details={"reason": reason[:MAX_REASON], "internal_error": internal_error, **details},
    )


Dissect = Callable[[Any, Packet, dict[str, Any]], list[Observation]]


def guarded(protocol: str, server_ports: tuple[int, ...] = ()) -> Callable[[Dissect], Dissect]:
    """Wrap ``dissect`` so no exception escapes: a bug or hostile input gives one ``malformed`` observation.

    With ``server_ports``, the observation's client and server follow :meth:`Dissector.sides`;
    without, the packet's source is the client.
    """

    def wrap(fn: Dissect) -> Dissect:
        @functools.wraps(fn)
        def dissect(self: Any, packet: Packet, state: dict[str, Any]) -> list[Observation]:
            try:
                return fn(self, packet, state)
            except Exception as exc:  # the contract: never raise on any input
                try:
                    client, server, _ = Dissector.sides(packet, server_ports)
                    reason = f"{type(exc).__name__}: {exc}"
                    bug = not isinstance(exc, Truncated)  # a short packet is not a dissector bug
                    return [malformed(protocol, packet, reason, client, server, internal_error=bug)]
                except Exception:
                    return []

        return dissect

    return wrap
