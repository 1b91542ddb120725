"""MQTT 3.1 / 3.1.1 / 5.0 over TCP 1883 (8883 is TLS: not readable, not listened on).

Contract: ``DISSECTOR.dissect(packet, state)`` returns one observation per MQTT
control packet in the segment (several per segment; a packet cut at the segment end
is completed from the next segment of that direction), never raises.

Decoded: fixed header (packet type, flags, remaining length) and: CONNECT protocol
name/level, client id, user name presence, will topic -> ``details`` (client id also
``identity`` ``name`` of the client); CONNACK return code; PUBLISH topic, QoS,
retain (``write``); SUBSCRIBE / UNSUBSCRIBE topic filters (``subscribe``); other
packet types are recognised by name. MQTT 5 properties are skipped by their length.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import Reader, Truncated, guarded, malformed, observation, text
from zonewarden.traffic.dissectors._stream import StreamBuffer
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "mqtt"
PORT = 1883
MAX_PACKET = 1 << 20

TYPES: dict[int, tuple[str, str | None, str]] = {
    1: ("CONNECT", None, "request"),
    2: ("CONNACK", None, "response"),
    3: ("PUBLISH", "write", "request"),
    4: ("PUBACK", None, "response"),
    5: ("PUBREC", None, "response"),
    6: ("PUBREL", None, "request"),
    7: ("PUBCOMP", None, "response"),
    8: ("SUBSCRIBE", "subscribe", "request"),
    9: ("SUBACK", "subscribe", "response"),
    10: ("UNSUBSCRIBE", "subscribe", "request"),
    11: ("UNSUBACK", "subscribe", "response"),
    12: ("PINGREQ", None, "request"),
    13: ("PINGRESP", None, "response"),
    14: ("DISCONNECT", None, "request"),
    15: ("AUTH", None, "request"),
}


def _string(r: Reader) -> str:
    return text(r.take(r.u16be()))


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, bytes used) of an MQTT variable byte integer; raises Truncated."""
    value = 0
    for i in range(4):
        if pos + i >= len(data):
            raise Truncated("variable byte integer cut")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    raise ValueError("variable byte integer longer than 4 bytes")


class MqttDissector(Dissector):
    """MQTT control packets (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = (PORT,)
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = ((0, b"\x10"),)

    @staticmethod
    def matches(payload: bytes) -> bool:
        """A CONNECT packet (its remaining length fills the segment; protocol name MQTT or MQIsdp)."""
        if len(payload) < 10 or payload[0] != 0x10:
            return False
        try:
            length, used = _varint(payload, 1)
        except (Truncated, ValueError):
            return False
        name = payload[1 + used : 1 + used + 8]
        return 1 + used + length == len(payload) and (name[:6] == b"\x00\x04MQTT" or name == b"\x00\x06MQIsdp")

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """A CONNECT comes from the client."""
        return False

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        if not packet.payload:
            return []
        stream = StreamBuffer(state, "mqtt_stream", MAX_PACKET)
        levels: dict[str, int] = state.setdefault("mqtt_level", {})
        data = stream.feed(packet, False)
        out: list[Observation] = []
        pos = 0
        while pos < len(data) and len(out) < 256:
            try:
                length, used = _varint(data, pos + 1)
            except Truncated:
                stream.keep(packet, data[pos:])
                break
            except ValueError as exc:
                out.append(malformed(PROTOCOL, packet, str(exc), offset=pos))
                break
            start = pos + 1 + used
            if length > MAX_PACKET:
                out.append(malformed(PROTOCOL, packet, f"remaining length {length}", offset=pos))
                break
            if start + length > len(data):
                stream.keep(packet, data[pos:])
                break
            out.append(self._packet(packet, levels, data[pos], data[start : start + length]))
            pos = start + length
        return out

    def _packet(self, packet: Packet, levels: dict[str, int], first: int, body: bytes) -> Observation:
        ptype, flags = first >> 4, first & 0x0F
        client, server, _ = self.sides(packet, (PORT,))
        name, operation, message = TYPES.get(ptype, (f"type {ptype}", None, "request"))
        details: dict[str, Any] = {"packet_type": name}
        identity: dict[str, str] = {}
        level = levels.get(client, 4)
        r = Reader(body)
        try:
            if ptype == 1:
                details["protocol_name"] = _string(r)
                level = r.u8()
                levels[client] = level
                details["protocol_level"] = level
                connect_flags = r.u8()
                details["keep_alive"] = r.u16be()
                if level >= 5:
                    r.skip(self._props(body, r.pos))
                details["client_id"] = _string(r)
                if connect_flags & 0x04:
                    if level >= 5:
                        r.skip(self._props(body, r.pos))
                    details["will_topic"] = _string(r)
                    r.skip(r.u16be())
                if connect_flags & 0x80:
                    details["username"] = _string(r)
                details["password"] = bool(connect_flags & 0x40)
                if details["client_id"]:
                    identity = {"name": details["client_id"], "role": "mqtt-client"}
            elif ptype == 2:
                r.u8()
                details["return_code"] = r.u8()
            elif ptype == 3:
                details["qos"] = (flags >> 1) & 3
                details["retain"] = bool(flags & 1)
                details["topic"] = _string(r)
                message = "request" if packet.dport == PORT else "event"
            elif ptype in (8, 10):
                details["packet_id"] = r.u16be()
                if level >= 5:
                    r.skip(self._props(body, r.pos))
                topics: list[str] = []
                while r.remaining >= 2 and len(topics) < 32:
                    topics.append(_string(r))
                    if ptype == 8:
                        r.u8()
                details["topics"] = topics
        except (Truncated, ValueError):  # a field cut short or a bad MQTT 5 property length
            details["truncated"] = True
        return observation(
            PROTOCOL, packet, client, server, message=message, operation=operation, function=name,
            identity=identity, identity_of=client if identity else None, details=details,
        )  # fmt: skip

    @staticmethod
    def _props(body: bytes, pos: int) -> int:
        length, used = _varint(body, pos)
        return length + used


DISSECTOR = MqttDissector()
