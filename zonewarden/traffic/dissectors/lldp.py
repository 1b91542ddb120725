"""LLDP (IEEE 802.1AB), EtherType 0x88CC: who a switch, router or device says it is.

Contract: ``DISSECTOR.dissect(packet, state)`` takes one Ethernet frame (transport
``"eth"``, payload = the bytes after the EtherType, ``src`` = the source MAC) and
returns one ``announce`` observation about the sender (``identity_of`` = the source
MAC). It never raises.

Decoded TLVs: chassis ID (1) and port ID (2) with their subtypes, TTL (3), port
description (4), system name (5) -> identity ``name``, system description (6) ->
``description`` plus vendor/model/firmware when the description has a known layout
(:func:`~zonewarden.traffic.dissectors._describe.parse_description`), system
capabilities (7) -> ``device_type`` (router, bridge, ...; enabled ones preferred)
and management address (8) -> identity ``ip`` (IPv4/IPv6). Organisation-specific TLVs
(127) are counted by OUI in ``details["org_tlvs"]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import (
    Reader,
    Truncated,
    guarded,
    ipv4_text,
    ipv6_text,
    mac_text,
    malformed,
    observation,
    text,
)
from zonewarden.traffic.dissectors._describe import parse_description
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "lldp"
ETHERTYPE = 0x88CC

CAPABILITIES = (
    "other", "repeater", "bridge", "wlan-access-point", "router", "telephone",
    "docsis-cable-device", "station", "c-vlan", "s-vlan", "tpmr",
)  # fmt: skip
# device_type choice, most specific first
_TYPE_ORDER = ("router", "bridge", "wlan-access-point", "telephone", "docsis-cable-device", "repeater", "station")


def capability_names(bits: int) -> list[str]:
    return [name for i, name in enumerate(CAPABILITIES) if bits & (1 << i)]


def device_type(system: int, enabled: int) -> str | None:
    for bits in (enabled, system):
        names = capability_names(bits)
        for name in _TYPE_ORDER:
            if name in names:
                return name
    return None


def _id_value(subtype: int, value: bytes) -> str:
    if subtype in (3, 4) and len(value) == 6:  # MAC address (port ID 3, chassis ID 4)
        return mac_text(value)
    if subtype == 5 and len(value) >= 1:  # network address: family + address
        return _address(value[0], value[1:]) or value.hex()
    printable = text(value)
    return printable if printable and len(printable) == len(value.rstrip(b"\x00")) else value.hex()


def _address(family: int, raw: bytes) -> str | None:
    if family == 1 and len(raw) == 4:
        return ipv4_text(raw)
    if family == 2 and len(raw) == 16:
        return ipv6_text(raw)
    if family == 6 and len(raw) == 6:
        return mac_text(raw)
    return None


def parse_lldp(payload: bytes) -> dict[str, Any]:
    """The TLVs of an LLDPDU as a dict (raises :class:`Truncated` on a cut TLV)."""
    r = Reader(payload)
    out: dict[str, Any] = {}
    while r.remaining >= 2:
        head = r.u16be()
        kind, length = head >> 9, head & 0x1FF
        value = r.take(length)
        if kind == 0:
            out["end"] = True
            break
        if kind in (1, 2) and value:
            key = "chassis_id" if kind == 1 else "port_id"
            out[key] = _id_value(value[0], value[1:])
            out[key + "_subtype"] = value[0]
        elif kind == 3 and length >= 2:
            out["ttl"] = int.from_bytes(value[:2], "big")
        elif kind == 4:
            out["port_description"] = text(value)
        elif kind == 5:
            out["system_name"] = text(value)
        elif kind == 6:
            out["system_description"] = text(value)
        elif kind == 7 and length >= 4:
            out["capabilities"] = int.from_bytes(value[:2], "big")
            out["enabled_capabilities"] = int.from_bytes(value[2:4], "big")
        elif kind == 8 and length >= 2:
            alen = value[0]
            if 1 <= alen <= length - 1:
                address = _address(value[1], value[2 : 1 + alen])
                if address and address not in ("0.0.0.0", "::"):
                    key = "management_addresses" if value[1] in (1, 2) else "management_macs"
                    out.setdefault(key, []).append(address)
        elif kind == 127 and length >= 4:
            oui = value[:3].hex(":")
            orgs = out.setdefault("org_tlvs", {})
            orgs[oui] = orgs.get(oui, 0) + 1
    return out


class LLDPDissector(Dissector):
    """LLDP announcements (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    ethertypes: ClassVar[tuple[int, ...]] = (ETHERTYPE,)

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        """One announce observation per LLDPDU."""
        payload = bytes(packet.payload)
        if not payload:
            return []
        try:
            tlvs = parse_lldp(payload)
        except Truncated as exc:
            return [malformed(PROTOCOL, packet, f"truncated TLV: {exc}")]
        if "chassis_id" not in tlvs:
            return [malformed(PROTOCOL, packet, "no chassis ID TLV")]
        sender = packet.src_mac or packet.src
        identity: dict[str, str] = {}
        desc = tlvs.get("system_description", "")
        if desc:
            identity.update(parse_description(desc))
            identity["description"] = desc
        identity["name"] = tlvs.get("system_name", "")
        if "capabilities" in tlvs:
            identity["device_type"] = device_type(tlvs["capabilities"], tlvs["enabled_capabilities"]) or ""
        ips = tlvs.get("management_addresses", [])
        if ips:
            identity["ip"] = ips[0]
        details: dict[str, Any] = {
            k: v
            for k, v in tlvs.items()
            if k in ("chassis_id", "port_id", "port_description", "ttl", "management_addresses", "org_tlvs")
        }
        if "capabilities" in tlvs:
            details["capabilities"] = capability_names(tlvs["capabilities"])
            details["enabled_capabilities"] = capability_names(tlvs["enabled_capabilities"])
        function = "LLDP announcement"
        return [observation(PROTOCOL, packet, sender, packet.dst, "announce", function, identity, sender, details)]


DISSECTOR = LLDPDissector()
