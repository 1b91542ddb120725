"""Mitsubishi MELSEC: SLMP / MC protocol (3E and 4E frames, binary and ASCII) and the
MELSOFT engineering framing, over TCP/UDP 5006, 5007 (SLMP/MC) and 5001, 5002, 5560
(MELSOFT connection and discovery, as in the shared captures).

Contract: ``DISSECTOR.dissect(packet, state)`` returns one observation per frame and
never raises; payloads that are none of these give nothing (MC ports are configurable,
so unknown traffic on them is not called malformed).

Decoded (SLMP/MC): subheader (3E 0x5000/0xD000, 4E 0x5400/0xD400 with serial number,
binary or ASCII), network/PC/module I/O/station, command and subcommand with name and
operation (0x0401 batch read -> read, 0x1401 batch write -> write, 0x1001 remote
run -> start, 0x1002 remote stop -> stop, 0x1003 pause -> stop, 0x1006 remote reset ->
restart, 0x0101 read CPU model -> diagnostics, file commands -> file-transfer),
responses' end code and, for a Read CPU Model response (matched to the request of the
same flow), ``identity`` ``model`` (CPU model name) and ``product_code`` (model code).
MELSOFT (GX Works / GX Developer proprietary): frames starting 0x57/0xD7 with the
0x1111 marker and UDP 5560 discovery (0x5A request, 0xDA reply) are recognised, with
no operation (the command set is not public).
"""

from __future__ import annotations

import socket
from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import Reader, Truncated, guarded, hexid, observation, text, tiles
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "melsec"
SLMP_PORTS = (5006, 5007)
MELSOFT_PORTS = (5001, 5002, 5560)
PORTS = SLMP_PORTS + MELSOFT_PORTS

COMMANDS: dict[int, tuple[str, str | None]] = {
    0x0101: ("Read CPU Model", "diagnostics"),
    0x0401: ("Batch Read", "read"),
    0x1401: ("Batch Write", "write"),
    0x0403: ("Random Read", "read"),
    0x1402: ("Random Write", "write"),
    0x0406: ("Batch Read Multiple Blocks", "read"),
    0x1406: ("Batch Write Multiple Blocks", "write"),
    0x0801: ("Entry Monitor Device", "read"),
    0x0802: ("Execute Monitor", "read"),
    0x0601: ("Read Intelligent Module Memory", "read"),
    0x1601: ("Write Intelligent Module Memory", "write"),
    0x0613: ("Read Buffer Memory", "read"),
    0x1613: ("Write Buffer Memory", "write"),
    0x0619: ("Loopback Test", "diagnostics"),
    0x1001: ("Remote Run", "start"),
    0x1002: ("Remote Stop", "stop"),
    0x1003: ("Remote Pause", "stop"),
    0x1005: ("Remote Latch Clear", "write"),
    0x1006: ("Remote Reset", "restart"),
    0x1617: ("Clear Error", "diagnostics"),
    0x1630: ("Remote Password Unlock", None),
    0x1631: ("Remote Password Lock", None),
    0x1810: ("Read Directory/File", "file-transfer"),
    0x1811: ("Search Directory/File", "file-transfer"),
    0x1820: ("New File", "file-transfer"),
    0x1822: ("Delete File", "file-transfer"),
    0x1824: ("Copy File", "file-transfer"),
    0x1825: ("Change File Attribute", "file-transfer"),
    0x1826: ("Change File Date", "file-transfer"),
    0x1827: ("Open File", "file-transfer"),
    0x1828: ("Read File", "file-transfer"),
    0x1829: ("Write File", "file-transfer"),
    0x182A: ("Close File", "file-transfer"),
}

_SUBHEADERS = {0x5000: ("3E", False, 0), 0xD000: ("3E", True, 0), 0x5400: ("4E", False, 4), 0xD400: ("4E", True, 4)}


def _ascii_hex(raw: bytes) -> int:
    """A hexadecimal ASCII field; a short or non-hex field is a truncated/garbled frame."""
    try:
        return int(raw.decode("ascii"), 16)
    except ValueError as exc:  # UnicodeDecodeError included
        raise Truncated(f"bad ASCII field {raw[:8]!r}") from exc


def _slmp_frame(payload: bytes, pos: int) -> int:
    """The size of the binary SLMP/MC frame at ``pos`` (3E or 4E subheader, its data length), or 0."""
    sub = _SUBHEADERS.get(int.from_bytes(payload[pos : pos + 2], "big"))
    if sub is None or len(payload) - pos < 11 + sub[2]:
        return 0
    at = pos + 7 + sub[2]
    return at + 2 + int.from_bytes(payload[at : at + 2], "little") - pos


class MelsecDissector(Dissector):
    """MELSEC SLMP/MC and MELSOFT (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = PORTS
    udp_ports: ClassVar[tuple[int, ...]] = PORTS
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = tuple((0, sub.to_bytes(2, "big")) for sub in _SUBHEADERS)

    @staticmethod
    def matches(payload: bytes) -> bool:
        """Binary SLMP/MC frames (3E or 4E subheader, the request or response data length) that exactly fill the
        payload (SLMP ports are configured per PLC)."""
        return tiles(payload, _slmp_frame)

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """The subheader: 0xD000 and 0xD400 are responses."""
        return payload[0] == 0xD0 or payload[0] == 0xD4

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        data = bytes(packet.payload)
        if len(data) < 4:
            return []
        head = data[:2]
        if head in (b"\x50\x00", b"\xd0\x00", b"\x54\x00", b"\xd4\x00"):
            return self._binary(packet, state, data)
        if data[:4] in (b"5000", b"D000", b"5400", b"D400"):
            return self._ascii(packet, state, data)
        return self._melsoft(packet, data)

    def _binary(self, packet: Packet, state: dict[str, Any], data: bytes) -> list[Observation]:
        r = Reader(data)
        frame, is_response, extra = _SUBHEADERS[r.u16be()]
        details: dict[str, Any] = {"frame": f"{frame} binary"}
        if extra:
            details["serial"] = r.u16le()
            r.skip(2)
        details["network"], details["pc"] = r.u8(), r.u8()
        details["module_io"], details["station"] = hexid(r.u16le()), r.u8()
        length = r.u16le()
        body = Reader(data, r.pos, r.pos + length)
        if is_response:
            end_code = body.u16le()
            rest = body.take(body.remaining)
            return [self._response(packet, state, details, end_code, rest, binary=True)]
        details["monitoring_timer"] = body.u16le()
        command, sub = body.u16le(), body.u16le()
        return [self._request(packet, state, details, command, sub)]

    def _ascii(self, packet: Packet, state: dict[str, Any], data: bytes) -> list[Observation]:
        frame, is_response, extra = _SUBHEADERS[_ascii_hex(data[:4])]
        pos = 4 + (2 * extra)
        details: dict[str, Any] = {"frame": f"{frame} ASCII"}
        if extra:
            details["serial"] = _ascii_hex(data[4:8])
        if len(data) < pos + 14 + 4:
            return []
        details["network"], details["pc"] = _ascii_hex(data[pos : pos + 2]), _ascii_hex(data[pos + 2 : pos + 4])
        details["module_io"], details["station"] = (
            hexid(_ascii_hex(data[pos + 4 : pos + 8])),
            _ascii_hex(data[pos + 8 : pos + 10]),
        )
        pos += 14  # after the request data length
        if is_response:
            end_code = _ascii_hex(data[pos : pos + 4])
            rest = data[pos + 4 :]
            return [self._response(packet, state, details, end_code, rest, binary=False)]
        if len(data) < pos + 12:
            return []
        details["monitoring_timer"] = _ascii_hex(data[pos : pos + 4])
        command, sub = _ascii_hex(data[pos + 4 : pos + 8]), _ascii_hex(data[pos + 8 : pos + 12])
        return [self._request(packet, state, details, command, sub)]

    def _request(
        self, packet: Packet, state: dict[str, Any], details: dict[str, Any], command: int, sub: int
    ) -> Observation:
        name, operation = COMMANDS.get(command, (f"Command {hexid(command)}", None))
        details.update(command=hexid(command), subcommand=hexid(sub))
        state["melsec_last"] = command
        return observation(
            PROTOCOL, packet, packet.src, packet.dst, message="request", operation=operation,
            function=f"{name} ({hexid(command)})", details=details,
        )  # fmt: skip

    def _response(
        self, packet: Packet, state: dict[str, Any], details: dict[str, Any], end_code: int, rest: bytes, binary: bool
    ) -> Observation:
        command = state.pop("melsec_last", None)
        details["end_code"] = hexid(end_code)
        name, operation = COMMANDS.get(command, ("Response", None)) if command is not None else ("Response", None)
        identity: dict[str, str] = {}
        if command is not None:
            details["command"] = hexid(command)
        if command == 0x0101 and end_code == 0 and len(rest) >= 16:
            model = text(rest[:16], "ascii")
            if model:
                identity = {"vendor": "Mitsubishi Electric", "model": model}
                code = rest[16:18] if binary else rest[16:20]
                if len(code) == (2 if binary else 4):
                    identity["product_code"] = hexid(int.from_bytes(code, "little") if binary else _ascii_hex(code))
        return observation(
            PROTOCOL, packet, packet.dst, packet.src, message="response", operation=operation,
            function=f"{name}" + (f" ({hexid(command)})" if command is not None else ""),
            identity=identity, identity_of=packet.src if identity else None, details=details,
        )  # fmt: skip

    def _melsoft(self, packet: Packet, data: bytes) -> list[Observation]:
        if packet.transport == "udp" and data[0] in (0x5A, 0xDA) and data[1:3] == b"\0\0":
            details: dict[str, Any] = {"frame": "MELSOFT discovery", "code": hexid(data[3], 2)}
            if data[0] == 0xDA and len(data) >= 14:
                details["addresses"] = [socket.inet_ntoa(data[6:10]), socket.inet_ntoa(data[10:14])]
            reply = data[0] == 0xDA
            return [
                observation(
                    PROTOCOL, packet, packet.dst if reply else packet.src, packet.src if reply else packet.dst,
                    message="response" if reply else "request", function="MELSOFT Discovery", details=details,
                )
            ]  # fmt: skip
        if len(data) >= 8 and data[0] in (0x57, 0xD7) and data[5:7] == b"\x11\x11":
            # 0xD7: the engineering station's request, 0x57: the PLC's answer
            client, server = (packet.src, packet.dst) if data[0] == 0xD7 else (packet.dst, packet.src)
            return [
                observation(
                    PROTOCOL, packet, client, server, message="request" if data[0] == 0xD7 else "response",
                    function="MELSOFT", details={"frame": "MELSOFT", "length": len(data)},
                )
            ]  # fmt: skip
        return []


DISSECTOR = MelsecDissector()
