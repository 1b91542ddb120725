"""HART-IP over UDP and TCP port 5094.

Contract: ``DISSECTOR.dissect(packet, state)`` returns one observation per HART-IP
message in the payload (several per TCP segment are handled; no reassembly across
segments), never raises.

Decoded: the 8-byte header (version, message type, message id, status, sequence
number, byte count) and, for Pass Through messages (id 3), the HART PDU: delimiter
(frame type STX/ACK/BACK, short or long address), address, command number, byte
count, response code and device status of responses. A Command 0 (Read Unique
Identifier) response gives the field device's ``identity`` (``vendor_id`` =
manufacturer id, ``device_type`` = expanded device type, device id, HART and device
revisions); it is ``identity_of`` the HART-IP server (the gateway or device).
Operations: universal read commands 0-20 except the writes are ``read``/``diagnostics``,
commands 6, 17-19, 22, 35-38 and other writes ``write``, 42 (device reset) ``restart``,
unknown commands (device specific, 128+) get None. Session messages have no operation.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import Reader, guarded, malformed, observation, tiles
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "hart-ip"
PORT = 5094

MESSAGE_TYPES = {0: "Request", 1: "Response", 2: "Publish", 3: "Error", 15: "NAK"}
MESSAGE_IDS = {
    0: "Session Initiate",
    1: "Session Close",
    2: "Keep Alive",
    3: "Pass Through",
    4: "Direct PDU",
    128: "Read Audit Log",
}

HART_COMMANDS: dict[int, tuple[str, str | None]] = {
    0: ("Read Unique Identifier", "diagnostics"),
    1: ("Read Primary Variable", "read"),
    2: ("Read Loop Current And Percent Of Range", "read"),
    3: ("Read Dynamic Variables And Loop Current", "read"),
    6: ("Write Polling Address", "write"),
    7: ("Read Loop Configuration", "read"),
    8: ("Read Dynamic Variable Classifications", "read"),
    9: ("Read Device Variables With Status", "read"),
    11: ("Read Unique Identifier Associated With Tag", "diagnostics"),
    12: ("Read Message", "read"),
    13: ("Read Tag, Descriptor, Date", "read"),
    14: ("Read Primary Variable Transducer Information", "read"),
    15: ("Read Device Information", "read"),
    16: ("Read Final Assembly Number", "read"),
    17: ("Write Message", "write"),
    18: ("Write Tag, Descriptor, Date", "write"),
    19: ("Write Final Assembly Number", "write"),
    20: ("Read Long Tag", "read"),
    21: ("Read Unique Identifier Associated With Long Tag", "diagnostics"),
    22: ("Write Long Tag", "write"),
    33: ("Read Device Variables", "read"),
    34: ("Write Primary Variable Damping Value", "write"),
    35: ("Write Primary Variable Range Values", "write"),
    36: ("Set Primary Variable Upper Range Value", "write"),
    37: ("Set Primary Variable Lower Range Value", "write"),
    38: ("Reset Configuration Changed Flag", "write"),
    40: ("Enter/Exit Fixed Current Mode", "operate"),
    41: ("Perform Self Test", "diagnostics"),
    42: ("Perform Device Reset", "restart"),
    43: ("Set Primary Variable Zero", "write"),
    44: ("Write Primary Variable Units", "write"),
    45: ("Trim Loop Current Zero", "write"),
    46: ("Trim Loop Current Gain", "write"),
    48: ("Read Additional Device Status", "diagnostics"),
    50: ("Read Dynamic Variable Assignments", "read"),
    54: ("Read Device Variable Information", "read"),
    74: ("Read I/O System Capabilities", "diagnostics"),
    77: ("Send Command to Sub-Device", "call"),
    84: ("Read Sub-Device Identity Summary", "diagnostics"),
    103: ("Write Burst Period", "write"),
    108: ("Write Burst Mode Command Number", "write"),
    109: ("Burst Mode Control", "subscribe"),
}
FRAME_TYPES = {1: "BACK", 2: "STX", 6: "ACK"}


def _message_frame(payload: bytes, pos: int) -> int:
    """The size of the HART-IP message at ``pos`` (version 1 or 2, a known message type and id), or 0."""
    if len(payload) - pos < 8 or payload[pos] not in (1, 2) or payload[pos + 1] not in MESSAGE_TYPES:
        return 0
    count = int.from_bytes(payload[pos + 6 : pos + 8], "big")
    if payload[pos + 2] not in MESSAGE_IDS or count < 8:
        return 0
    return count


class HartIpDissector(Dissector):
    """HART-IP messages (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = (PORT,)
    udp_ports: ClassVar[tuple[int, ...]] = (PORT, PORT + 1)  # servers may answer from 5095
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = ((0, b"\x01"), (0, b"\x02"))

    @staticmethod
    def matches(payload: bytes) -> bool:
        """HART-IP headers (version 1 or 2, a known message type and id, the byte count) that exactly fill the
        payload."""
        return tiles(payload, _message_frame)

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """Responses, errors, NAKs and publishes come from the device."""
        return payload[1] in (1, 2, 3, 15)

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        data = bytes(packet.payload)
        if not data:
            return []
        out: list[Observation] = []
        pos = 0
        while pos + 8 <= len(data) and len(out) < 64:
            count = int.from_bytes(data[pos + 6 : pos + 8], "big")
            if count < 8 or data[pos] not in (1, 2):
                out.append(
                    malformed(PROTOCOL, packet, f"HART-IP header: version {data[pos]}, length {count}", offset=pos)
                )
                break
            out.append(self._message(packet, data[pos : pos + count]))
            pos += count
        if pos < len(data) and not out:
            out.append(malformed(PROTOCOL, packet, "shorter than a HART-IP header"))
        return out

    def _message(self, packet: Packet, msg: bytes) -> Observation:
        r = Reader(msg)
        version, mtype, mid, status, seq = r.u8(), r.u8(), r.u8(), r.u8(), r.u16be()
        r.skip(2)
        is_response = mtype in (1, 3, 15)
        if mtype == 2 or is_response:  # publish: the device sends
            client, server = packet.dst, packet.src
        else:
            client, server = packet.src, packet.dst
        details: dict[str, Any] = {
            "version": version,
            "message_type": MESSAGE_TYPES.get(mtype, str(mtype)),
            "message_id": MESSAGE_IDS.get(mid, str(mid)),
            "status": status,
            "sequence": seq,
        }
        function = MESSAGE_IDS.get(mid, f"Message {mid}")
        operation: str | None = None
        identity: dict[str, str] = {}
        if mid in (3, 4) and r.remaining >= 4:
            delimiter = r.u8()
            long_address = bool(delimiter & 0x80)
            r.skip((delimiter >> 5) & 0x03)  # expansion bytes
            address = r.take(5 if long_address else 1)
            details["frame_type"] = FRAME_TYPES.get(delimiter & 0x07, str(delimiter & 0x07))
            details["address"] = address.hex()
            command, length = r.u8(), r.u8()
            details["command"] = command
            name, operation = HART_COMMANDS.get(command, (f"Command {command}", None))
            function = f"{name} ({command})"
            body = Reader(msg, r.pos, r.pos + length)
            if delimiter & 0x07 in (1, 6) and body.remaining >= 2:
                details["response_code"] = body.u8()
                details["device_status"] = body.u8()
                if command in (0, 11, 21) and body.remaining >= 12:
                    identity = self._command0(body.take(body.remaining))
            if delimiter & 0x07 == 1:
                operation = "subscribe"
        return observation(
            PROTOCOL, packet, client, server,
            message="event" if mtype == 2 else ("response" if is_response else "request"),
            operation=operation, function=function,
            identity=identity, identity_of=server if identity else None, details=details,
        )  # fmt: skip

    @staticmethod
    def _command0(data: bytes) -> dict[str, str]:
        identity: dict[str, str] = {"hart_revision": str(data[4]), "device_revision": str(data[5])}
        if data[0] == 254 and len(data) >= 12:
            identity["device_id"] = data[9:12].hex()
            identity["firmware"] = str(data[6])
            identity["hardware"] = str(data[7] >> 3)
            if data[4] >= 7 and len(data) >= 19:
                identity["device_type"] = f"0x{data[1]:02x}{data[2]:02x}"
                identity["vendor_id"] = str(int.from_bytes(data[17:19], "big"))
            else:
                identity["vendor_id"] = str(data[1])
                identity["device_type"] = f"0x{data[2]:02x}"
        return identity


DISSECTOR = HartIpDissector()
