"""SNMP v1/v2c (BER), UDP 161/162: what an agent says about itself.

Contract: ``DISSECTOR.dissect(packet, state)`` takes one UDP datagram and returns one
observation per SNMP message, never raising. Requests and responses use port 161
(``server`` = the agent); traps and informs go to port 162 (``client`` = the agent
sending them, ``server`` = the manager).

Decoded: version, PDU type, request id, error status and the varbind OIDs
(``details["oids"]``, at most 32). Identity, about the agent (the responder, or the
trap sender / the v1 agent-addr): ``description`` from sysDescr.0
(1.3.6.1.2.1.1.1.0, plus vendor/model/firmware by
:func:`~zonewarden.traffic.dissectors._describe.parse_description`), ``name`` from
sysName.0 (1.3.6.1.2.1.1.5.0), ``sys_object_id`` from sysObjectID.0
(1.3.6.1.2.1.1.2.0, and ``vendor`` from its private enterprise number when known);
sysLocation.0/sysContact.0 go to ``details``. Communities are never stored:
``details["default_community"]`` says whether it was "public"/"private" (the name
given) or another one (False). SNMPv3 messages are reported with their version only.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import Reader, Truncated, guarded, ipv4_text, malformed, observation, text
from zonewarden.traffic.dissectors._describe import parse_description
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "snmp"
PORTS = (161,)
TRAP_PORTS = (162,)
PDUS: dict[int, tuple[str, str | None]] = {
    0xA0: ("GetRequest", "read"),
    0xA1: ("GetNextRequest", "read"),
    0xA2: ("GetResponse", None),
    0xA3: ("SetRequest", "write"),
    0xA4: ("Trap", None),
    0xA5: ("GetBulkRequest", "read"),
    0xA6: ("InformRequest", None),
    0xA7: ("SNMPv2-Trap", None),
    0xA8: ("Report", None),
}
SYS_DESCR, SYS_OBJECT_ID, SYS_CONTACT, SYS_NAME, SYS_LOCATION = (f"1.3.6.1.2.1.1.{i}.0" for i in (1, 2, 4, 5, 6))
ENTERPRISES = {
    9: "Cisco", 11: "HP", 311: "Microsoft", 2636: "Juniper", 4329: "Siemens", 248: "Hirschmann",
    8691: "Moxa", 4346: "Phoenix Contact", 14988: "MikroTik",
}  # fmt: skip
DEFAULT_COMMUNITIES = ("public", "private")
MAX_VARBINDS = 32


def tlv(r: Reader) -> tuple[int, bytes]:
    """(tag, value) of one BER TLV (single-byte tags, definite lengths up to 4 bytes)."""
    tag = r.u8()
    length = r.u8()
    if length & 0x80:
        n = length & 0x7F
        if not 1 <= n <= 4:
            raise Truncated(f"unsupported BER length form 0x{length:02x}")
        length = int.from_bytes(r.take(n), "big")
    return tag, r.take(length)


def integer(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "big", signed=True) if raw else 0


def oid_text(raw: bytes) -> str:
    if not raw:
        return ""
    parts: list[int] = []
    value = 0
    for byte in raw[:128]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    if not parts:
        return ""
    first = parts[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(p) for p in head + parts[1:])


def _value(tag: int, raw: bytes) -> str | int | None:
    if tag == 0x04:
        return text(raw)
    if tag == 0x06:
        return oid_text(raw)
    if tag in (0x02, 0x41, 0x42, 0x43, 0x46):
        return integer(raw) if tag == 0x02 else int.from_bytes(raw[:8], "big")
    if tag == 0x40 and len(raw) == 4:
        return ipv4_text(raw)
    return None


def parse_snmp(data: bytes) -> dict[str, Any]:
    """Version, community, PDU and varbinds of a v1/v2c message (v3: version only)."""
    tag, body = tlv(Reader(data))
    if tag != 0x30:
        raise Truncated(f"not a BER SEQUENCE (tag 0x{tag:02x})")
    r = Reader(body)
    tag, raw = tlv(r)
    if tag != 0x02:
        raise Truncated("no version INTEGER")
    out: dict[str, Any] = {"version": integer(raw)}
    if out["version"] not in (0, 1):
        return out
    tag, community = tlv(r)
    if tag != 0x04:
        raise Truncated("no community OCTET STRING")
    out["community"] = community
    pdu_tag, pdu = tlv(r)
    out["pdu"] = pdu_tag
    p = Reader(pdu)
    if pdu_tag == 0xA4:
        out["enterprise"] = oid_text(tlv(p)[1])
        tag, addr = tlv(p)
        if tag == 0x40 and len(addr) == 4:
            out["agent_addr"] = ipv4_text(addr)
        out["generic_trap"] = integer(tlv(p)[1])
        out["specific_trap"] = integer(tlv(p)[1])
        tlv(p)  # timestamp
    else:
        out["request_id"] = integer(tlv(p)[1])
        out["error_status"] = integer(tlv(p)[1])
        out["error_index"] = integer(tlv(p)[1])
    tag, binds = tlv(p)
    varbinds: list[tuple[str, str | int | None]] = []
    b = Reader(binds)
    while b.remaining and len(varbinds) < MAX_VARBINDS:
        _, pair = tlv(b)
        v = Reader(pair)
        _, oid = tlv(v)
        value_tag, value = tlv(v)
        varbinds.append((oid_text(oid), _value(value_tag, value)))
    out["varbinds"] = varbinds
    return out


class SNMPDissector(Dissector):
    """SNMP v1/v2c messages (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    udp_ports: ClassVar[tuple[int, ...]] = PORTS + TRAP_PORTS

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        """One observation per SNMP message."""
        data = bytes(packet.payload)
        if not data:
            return []
        trap_port = packet.dport in TRAP_PORTS or packet.sport in TRAP_PORTS
        if trap_port and packet.dport not in PORTS:
            client, server = packet.src, packet.dst
        else:
            client, server, _ = self.sides(packet, PORTS)
        try:
            msg = parse_snmp(data)
        except Truncated as exc:
            return [malformed(PROTOCOL, packet, f"bad BER: {exc}", client, server)]
        version = msg["version"]
        details: dict[str, Any] = {"version": {0: "v1", 1: "v2c", 3: "v3"}.get(version, str(version))}
        if "pdu" not in msg:
            return [
                observation(PROTOCOL, packet, client, server, "request", f"SNMP{details['version']}", {}, None, details)
            ]
        community = text(msg["community"])
        details["default_community"] = community if community in DEFAULT_COMMUNITIES else False
        name, operation = PDUS.get(msg["pdu"], (f"PDU 0x{msg['pdu']:02x}", None))
        for key in ("request_id", "error_status", "enterprise", "generic_trap", "specific_trap"):
            if key in msg:
                details[key] = msg[key]
        varbinds = msg["varbinds"]
        details["oids"] = [oid for oid, _ in varbinds]
        identity: dict[str, str] = {}
        about: str | None = None
        if msg["pdu"] in (0xA2, 0xA4, 0xA6, 0xA7):
            about = msg.get("agent_addr") or (packet.src if msg["pdu"] != 0xA2 else server)
            values = {oid: value for oid, value in varbinds if value is not None}
            descr = values.get(SYS_DESCR)
            if isinstance(descr, str) and descr:
                identity.update(parse_description(descr))
                identity["description"] = descr
            if isinstance(values.get(SYS_NAME), str):
                identity["name"] = str(values[SYS_NAME])
            object_id = values.get(SYS_OBJECT_ID)
            if isinstance(object_id, str) and object_id:
                identity["sys_object_id"] = object_id
                parts = object_id.split(".")
                if object_id.startswith("1.3.6.1.4.1.") and len(parts) > 6 and parts[6].isdigit():
                    vendor = ENTERPRISES.get(int(parts[6]))
                    if vendor and "vendor" not in identity:
                        identity["vendor"] = vendor
            for oid, key in ((SYS_LOCATION, "location"), (SYS_CONTACT, "contact")):
                if isinstance(values.get(oid), str):
                    details[key] = values[oid]
        message = {0xA2: "response", 0xA4: "event", 0xA7: "event", 0xA6: "event", 0xA8: "response"}.get(
            msg["pdu"], "request"
        )
        return [observation(PROTOCOL, packet, client, server, message, name, identity, about, details, operation)]


DISSECTOR = SNMPDissector()
