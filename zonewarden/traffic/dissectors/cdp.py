"""CDP (Cisco Discovery Protocol): who a Cisco (or CDP-speaking) device says it is.

CDP rides in IEEE 802.3 length frames with an LLC/SNAP header (AA AA 03, OUI 00:00:0C,
protocol 0x2000). The capture reader hands such non-IP frames on with ``ethertype``
0 (802.3/LLC) and the payload starting at the LLC header, so this dissector listens
on EtherType 0 and checks for the CDP SNAP header (anything else on 0 gives nothing);
it also accepts EtherType 0x2000 with the CDP header first. :func:`parse_cdp` parses
the CDP PDU alone.

Contract: ``DISSECTOR.dissect(packet, state)`` returns one ``announce`` observation
about the sender (``identity_of`` = the source MAC) and never raises. Decoded TLVs:
Device ID (1) -> ``name``, Addresses (2) and Management Addresses (0x16) -> ``ip``,
Port ID (3), Capabilities (4) -> ``device_type``, Software Version (5) ->
``description`` (+ vendor/model/firmware by
:func:`~zonewarden.traffic.dissectors._describe.parse_description`), Platform (6) ->
``platform`` and ``model``, VTP domain (9), native VLAN (0x0A).
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import (
    Reader,
    Truncated,
    guarded,
    ipv4_text,
    ipv6_text,
    malformed,
    observation,
    text,
)
from zonewarden.traffic.dissectors._describe import parse_description
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "cdp"
SNAP_CDP = b"\xaa\xaa\x03\x00\x00\x0c\x20\x00"

CAPABILITIES = ("router", "trans-bridge", "source-route-bridge", "switch", "host", "igmp", "repeater", "phone")
_TYPE_ORDER = ("router", "switch", "trans-bridge", "source-route-bridge", "phone", "repeater", "host")


def capability_names(bits: int) -> list[str]:
    return [name for i, name in enumerate(CAPABILITIES) if bits & (1 << i)]


def _addresses(value: bytes) -> list[str]:
    r = Reader(value)
    out: list[str] = []
    count = r.u32be()
    for _ in range(min(count, 16)):
        r.u8()  # protocol type: 1 NLPID, 2 802.2
        proto = r.take(r.u8())
        addr = r.take(r.u16be())
        if proto == b"\xcc" and len(addr) == 4:
            out.append(ipv4_text(addr))
        elif proto.endswith(b"\x86\xdd") and len(addr) == 16:
            out.append(ipv6_text(addr))
    return out


def parse_cdp(payload: bytes) -> dict[str, Any]:
    """The header and TLVs of a CDP PDU (starting at the version byte)."""
    r = Reader(payload)
    out: dict[str, Any] = {"version": r.u8(), "ttl": r.u8()}
    r.skip(2)  # checksum
    while r.remaining >= 4:
        kind, length = r.u16be(), r.u16be()
        if length < 4:
            raise Truncated(f"TLV length {length} < 4")
        value = r.take(length - 4)
        if kind == 1:
            out["device_id"] = text(value)
        elif kind in (2, 0x16):
            try:
                found = _addresses(value)
            except Truncated:
                found = []
            key = "addresses" if kind == 2 else "management_addresses"
            out.setdefault(key, []).extend(found)
        elif kind == 3:
            out["port_id"] = text(value)
        elif kind == 4 and len(value) >= 4:
            out["capabilities"] = int.from_bytes(value[:4], "big")
        elif kind == 5:
            out["software_version"] = value.decode("utf-8", "replace").strip("\x00 \r\n")[:1024]
        elif kind == 6:
            out["platform"] = text(value)
        elif kind == 9:
            out["vtp_domain"] = text(value)
        elif kind == 0x0A and len(value) >= 2:
            out["native_vlan"] = int.from_bytes(value[:2], "big")
    return out


class CDPDissector(Dissector):
    """CDP announcements (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    ethertypes: ClassVar[tuple[int, ...]] = (0, 0x2000)

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        """One announce observation per CDP frame; other LLC frames give nothing."""
        payload = bytes(packet.payload)
        if payload.startswith(SNAP_CDP):
            payload = payload[len(SNAP_CDP) :]
        elif packet.ethertype != 0x2000:
            return []
        if len(payload) < 4 or payload[0] not in (1, 2):
            return [malformed(PROTOCOL, packet, "not a CDP v1/v2 header")]
        try:
            cdp = parse_cdp(payload)
        except Truncated as exc:
            return [malformed(PROTOCOL, packet, f"truncated TLV: {exc}")]
        sender = packet.src_mac or packet.src
        identity: dict[str, str] = {"name": cdp.get("device_id", "")}
        software = cdp.get("software_version", "")
        if software:
            identity.update(parse_description(software))
            identity["description"] = text(software.replace("\n", " ").encode())
        platform = cdp.get("platform", "")
        if platform:
            identity["platform"] = platform
            identity["model"] = platform.removeprefix("cisco ").removeprefix("Cisco ").strip()
            if "vendor" not in identity and platform.lower().startswith("cisco"):
                identity["vendor"] = "Cisco"
        caps = capability_names(cdp.get("capabilities", 0))
        identity["device_type"] = next((c for c in _TYPE_ORDER if c in caps), "")
        ips = cdp.get("management_addresses") or cdp.get("addresses") or []
        if ips:
            identity["ip"] = ips[0]
        details: dict[str, Any] = {
            k: v
            for k, v in cdp.items()
            if k in ("version", "ttl", "port_id", "addresses", "management_addresses", "vtp_domain", "native_vlan")
        }
        details["capabilities"] = caps
        return [
            observation(PROTOCOL, packet, sender, packet.dst, "announce", "CDP announcement", identity, sender, details)
        ]


DISSECTOR = CDPDissector()
