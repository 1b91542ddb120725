"""Beckhoff ADS/AMS over TCP 48898 (AMS/TCP) and UDP 48899 (discovery; only recognised).

Contract: ``DISSECTOR.dissect(packet, state)`` returns one observation per AMS packet
of a TCP segment (several per segment are handled; a packet cut at the segment end
is completed from the next segment of that direction), and never raises.

Decoded: the AMS/TCP header (reserved 0, length), the 32-byte AMS header (target and
sender AMS Net ID and port, command id, state flags with the response bit, data
length, error code, invoke id), the ADS command name and operation, and:
ReadDeviceInfo (1) responses give ``identity`` (``model`` = device name, ``firmware``
= major.minor.build), ReadState (4) responses give ADS state/device state, and
WriteControl (5) requests give the requested ADS state: RUN (5) -> ``start``,
STOP (6) -> ``stop``, RESET (2) / RECONFIG (16) -> ``restart``. Command ids follow the
Beckhoff specification (4 ReadState, 5 WriteControl). Read (2) and ReadWrite (9)
are ``read``, Write (3) ``write``, device notifications (6, 7, 8) ``subscribe``.
UDP 48899 packets (route add / discovery) are one ``announce`` observation each.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import Reader, guarded, malformed, observation, text
from zonewarden.traffic.dissectors._stream import StreamBuffer
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "ads"
TCP_PORT = 48898
UDP_PORT = 48899
MAX_PACKET = 65536

COMMANDS: dict[int, tuple[str, str | None]] = {
    0: ("Invalid", None),
    1: ("Read Device Info", "diagnostics"),
    2: ("Read", "read"),
    3: ("Write", "write"),
    4: ("Read State", "diagnostics"),
    5: ("Write Control", None),
    6: ("Add Device Notification", "subscribe"),
    7: ("Delete Device Notification", "subscribe"),
    8: ("Device Notification", "subscribe"),
    9: ("Read Write", "read"),
}
ADS_STATES = {
    0: "INVALID", 1: "IDLE", 2: "RESET", 3: "INIT", 4: "START", 5: "RUN", 6: "STOP", 7: "SAVECFG",
    8: "LOADCFG", 9: "POWERFAILURE", 10: "POWERGOOD", 11: "ERROR", 12: "SHUTDOWN", 13: "SUSPEND",
    14: "RESUME", 15: "CONFIG", 16: "RECONFIG",
}  # fmt: skip
_CONTROL_OPERATION = {5: "start", 4: "start", 6: "stop", 2: "restart", 16: "restart", 15: "stop", 12: "stop"}


def net_id(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


class AdsDissector(Dissector):
    """Beckhoff AMS/ADS (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = (TCP_PORT,)
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = ((0, b"\0\0"),)

    @staticmethod
    def matches(payload: bytes) -> bool:
        """An AMS/TCP header (reserved 0, the length of the rest) and an AMS header whose data length fills it,
        with a known command id."""
        return (
            len(payload) >= 38
            and payload[0:2] == b"\0\0"
            and int.from_bytes(payload[2:6], "little") == len(payload) - 6
            and int.from_bytes(payload[26:30], "little") == len(payload) - 38
            and int.from_bytes(payload[22:24], "little") <= 9
        )

    udp_ports: ClassVar[tuple[int, ...]] = (UDP_PORT,)

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """The AMS state flags' response bit."""
        return bool(payload[24] & 0x01)

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        if not packet.payload:
            return []
        if packet.transport != "tcp":
            client, server, _ = self.sides(packet, (UDP_PORT,))
            details: dict[str, Any] = {}
            if packet.payload[:4] == b"\x03\x66\x14\x71" and len(packet.payload) >= 20:
                r = Reader(packet.payload, 12)
                details["net_id"] = net_id(r.take(6))
            return [
                observation(PROTOCOL, packet, client, server, message="announce", function="AMS UDP", details=details)
            ]
        stream = StreamBuffer(state, "ads_stream", MAX_PACKET)
        data = stream.feed(packet, packet.payload[:2] == b"\0\0" and len(packet.payload) >= 38)
        out: list[Observation] = []
        pos = 0
        while pos < len(data):
            if len(data) - pos < 6:
                stream.keep(packet, data[pos:])
                break
            if data[pos : pos + 2] != b"\0\0":
                out.append(malformed(PROTOCOL, packet, "AMS/TCP reserved bytes not zero", offset=pos))
                break
            length = int.from_bytes(data[pos + 2 : pos + 6], "little")
            if length < 32 or length > MAX_PACKET:
                out.append(malformed(PROTOCOL, packet, f"AMS length {length}", offset=pos))
                break
            if len(data) - pos < 6 + length:
                stream.keep(packet, data[pos:])
                break
            out.append(self._ams(packet, state, data[pos + 6 : pos + 6 + length]))
            pos += 6 + length
        return out

    def _ams(self, packet: Packet, state: dict[str, Any], ams: bytes) -> Observation:
        r = Reader(ams)
        target, target_port = net_id(r.take(6)), r.u16le()
        sender, sender_port = net_id(r.take(6)), r.u16le()
        command, flags, length, error, invoke = r.u16le(), r.u16le(), r.u32le(), r.u32le(), r.u32le()
        is_response = bool(flags & 1)
        name, operation = COMMANDS.get(command, (f"Command {command}", None))
        details: dict[str, Any] = {
            "target_net_id": target, "target_port": target_port,
            "sender_net_id": sender, "sender_port": sender_port,
            "command_id": command, "state_flags": flags, "invoke_id": invoke,
        }  # fmt: skip
        if error:
            details["error"] = error
        data = Reader(ams, 32, 32 + length)
        identity: dict[str, str] = {}
        pending: dict[int, str | None] = state.setdefault("ads_pending", {})
        if is_response:
            client, server = packet.dst, packet.src
            operation = pending.pop(invoke, operation) if command == 5 else operation
            if command in (1, 4, 2, 3, 5, 9) and data.remaining >= 4:
                details["result"] = data.u32le()
            if command == 1 and data.remaining >= 20 and not details.get("result"):
                major, minor, build = data.u8(), data.u8(), data.u16le()
                device = text(data.take(16).split(b"\0", 1)[0], "latin-1")
                identity = {"vendor": "Beckhoff", "firmware": f"{major}.{minor}.{build}"}
                if device:
                    identity["model"] = device
                identity["ams_net_id"] = sender
                details["ads_version"] = identity["firmware"]
                details["device_name"] = device
            elif command == 4 and data.remaining >= 4:
                ads_state = data.u16le()
                details["ads_state"] = ADS_STATES.get(ads_state, str(ads_state))
                details["device_state"] = data.u16le()
        else:
            client, server = packet.src, packet.dst
            if command in (2, 3, 9) and data.remaining >= 12:
                details["index_group"] = f"0x{data.u32le():08x}"
                details["index_offset"] = data.u32le()
                details["length"] = data.u32le()
            elif command == 5 and data.remaining >= 4:
                ads_state = data.u16le()
                details["ads_state"] = ADS_STATES.get(ads_state, str(ads_state))
                details["device_state"] = data.u16le()
                operation = _CONTROL_OPERATION.get(ads_state, "write")
                if len(pending) < 256:
                    pending[invoke] = operation
        return observation(
            PROTOCOL, packet, client, server,
            message="response" if is_response else "request",
            operation=operation, function=f"{name} ({command})",
            identity=identity, identity_of=server if identity else None, details=details,
        )  # fmt: skip


DISSECTOR = AdsDissector()
