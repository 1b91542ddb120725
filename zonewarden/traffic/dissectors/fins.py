"""Omron FINS over UDP 9600 and FINS/TCP 9600.

Contract: ``DISSECTOR.dissect(packet, state)`` returns one observation per FINS frame
(UDP datagram, or FINS/TCP "Frame Send" message), one ``announce`` observation per
FINS/TCP node address handshake, and never raises.

Decoded: the 10-byte FINS header (ICF command/response bit, destination and source
network/node/unit, SID), the command code MRC/SRC with its name and operation, the
end code of responses, and from a Controller Data Read (0x0501) response the
controller model and version (``identity`` of the PLC). Responses get the operation
of their command code. FINS/TCP messages split across TCP segments are not reassembled.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import Reader, guarded, hexid, malformed, observation
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "fins"
PORT = 9600

COMMANDS: dict[int, tuple[str, str | None]] = {
    0x0101: ("Memory Area Read", "read"),
    0x0102: ("Memory Area Write", "write"),
    0x0103: ("Memory Area Fill", "write"),
    0x0104: ("Multiple Memory Area Read", "read"),
    0x0105: ("Memory Area Transfer", "write"),
    0x0201: ("Parameter Area Read", "read"),
    0x0202: ("Parameter Area Write", "write"),
    0x0203: ("Parameter Area Clear", "write"),
    0x0304: ("Program Area Protect", "program-download"),
    0x0305: ("Program Area Protect Clear", "program-download"),
    0x0306: ("Program Area Read", "program-upload"),
    0x0307: ("Program Area Write", "program-download"),
    0x0308: ("Program Area Clear", "program-download"),
    0x0401: ("Run", "start"),
    0x0402: ("Stop", "stop"),
    0x0501: ("Controller Data Read", "diagnostics"),
    0x0502: ("Connection Data Read", "diagnostics"),
    0x0601: ("Controller Status Read", "diagnostics"),
    0x0620: ("Cycle Time Read", "diagnostics"),
    0x0701: ("Clock Read", "read"),
    0x0702: ("Clock Write", "time-sync"),
    0x0801: ("Internode Echo Test", "diagnostics"),
    0x0802: ("Broadcast Test Results Read", "diagnostics"),
    0x0803: ("Broadcast Test Data Send", "diagnostics"),
    0x0920: ("Message Read/Clear", "diagnostics"),
    0x0C01: ("Access Right Acquire", None),
    0x0C02: ("Access Right Forced Acquire", None),
    0x0C03: ("Access Right Release", None),
    0x2101: ("Error Clear", "diagnostics"),
    0x2102: ("Error Log Read", "diagnostics"),
    0x2103: ("Error Log Clear", "diagnostics"),
    0x2201: ("File Name Read", "file-transfer"),
    0x2202: ("Single File Read", "file-transfer"),
    0x2203: ("Single File Write", "file-transfer"),
    0x2204: ("File Memory Format", "file-transfer"),
    0x2205: ("File Delete", "file-transfer"),
    0x2207: ("File Copy", "file-transfer"),
    0x2208: ("File Name Change", "file-transfer"),
    0x220A: ("Memory Area File Transfer", "file-transfer"),
    0x220B: ("Parameter Area File Transfer", "file-transfer"),
    0x220C: ("Program Area File Transfer", "program-download"),
    0x2215: ("Create/Delete Directory", "file-transfer"),
    0x2301: ("Forced Set/Reset", "write"),
    0x2302: ("Forced Set/Reset Cancel", "write"),
}

TCP_COMMANDS = {
    0: "Node Address Data Send (client)",
    1: "Node Address Data Send (server)",
    2: "Frame Send",
    3: "Frame Send Error",
    6: "Connection Confirmation",
}


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()


class FinsDissector(Dissector):
    """Omron FINS frames (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = (PORT,)
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = ((0, b"FINS"),)

    @staticmethod
    def matches(payload: bytes) -> bool:
        """The FINS/TCP header's magic."""
        return len(payload) >= 16 and payload[:4] == b"FINS"

    udp_ports: ClassVar[tuple[int, ...]] = (PORT,)

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """A FINS frame's ICF response bit (FINS/TCP command 2 carries a frame)."""
        if len(payload) > 16 and int.from_bytes(payload[8:12], "big") == 2:
            return bool(payload[16] & 0x40)
        return None

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        data = bytes(packet.payload)
        if not data:
            return []
        if packet.transport != "tcp":
            return [self._frame(packet, state, data, {})]
        out: list[Observation] = []
        pos = 0
        while pos + 16 <= len(data) and data[pos : pos + 4] == b"FINS":
            r = Reader(data, pos + 4)
            length, command, error = r.u32be(), r.u32be(), r.u32be()
            body = data[pos + 16 : pos + 8 + length]
            tcp: dict[str, Any] = {"tcp_command": TCP_COMMANDS.get(command, hexid(command, 8)), "tcp_error": error}
            if command == 2 and body:
                out.append(self._frame(packet, state, body, tcp))
            else:
                client, server, _ = self.sides(packet, (PORT,))
                details = dict(tcp)
                if command in (0, 1) and len(body) >= 4:
                    details["client_node"] = int.from_bytes(body[0:4], "big")
                    if command == 1 and len(body) >= 8:
                        details["server_node"] = int.from_bytes(body[4:8], "big")
                out.append(
                    observation(
                        PROTOCOL,
                        packet,
                        client,
                        server,
                        message="announce",
                        function=tcp["tcp_command"],
                        details=details,
                    )
                )
            pos += 8 + max(length, 8)
        if not out:
            return [malformed(PROTOCOL, packet, "no FINS/TCP header")]
        return out

    def _frame(self, packet: Packet, state: dict[str, Any], data: bytes, extra: dict[str, Any]) -> Observation:
        if len(data) < 12:
            return malformed(PROTOCOL, packet, "FINS frame shorter than 12 bytes", **extra)
        icf = data[0]
        is_response = bool(icf & 0x40)
        code = data[10] << 8 | data[11]
        name, operation = COMMANDS.get(code, (f"Command {hexid(code)}", None))
        details: dict[str, Any] = {
            **extra,
            "command_code": hexid(code),
            "dna": data[3], "da1": data[4], "da2": data[5],
            "sna": data[6], "sa1": data[7], "sa2": data[8],
            "sid": data[9],
        }  # fmt: skip
        if is_response:
            client, server = packet.dst, packet.src
        else:
            client, server = packet.src, packet.dst
        identity: dict[str, str] = {}
        if is_response and len(data) >= 14:
            end = data[12] << 8 | data[13]
            details["end_code"] = hexid(end)
            if code == 0x0501 and end & 0x7FFF == 0 and len(data) >= 14 + 20:
                model = _cstr(data[14:34])
                version = _cstr(data[34:54]) if len(data) >= 54 else ""
                if model:
                    identity["vendor"] = "Omron"
                    identity["model"] = model
                if version:
                    identity["firmware"] = version
        return observation(
            PROTOCOL, packet, client, server,
            message="response" if is_response else "request",
            operation=operation, function=f"{name} ({hexid(code)})",
            identity=identity, identity_of=server if identity else None, details=details,
        )  # fmt: skip


DISSECTOR = FinsDissector()
