"""PROFINET DCP (Discovery and basic Configuration Protocol) and the PROFINET RT frame
kinds, on EtherType 0x8892.

Contract: ``DISSECTOR.dissect(packet, state)`` takes one Ethernet frame (transport
``"eth"``, payload = the bytes after the EtherType and any VLAN tags; ``src``/``dst``
are MAC addresses) and returns at most one :class:`Observation`. It never raises.

Decoded: the FrameID (0xFEFC Hello, 0xFEFD Get/Set, 0xFEFE Identify request,
0xFEFF Identify response), the DCP header (service id Get/Set/Identify/Hello,
service type request/response success/not supported, Xid, data length) and the
blocks: IP (MAC address, IP parameter: address, mask, gateway and whether set by
DHCP or in conflict), device properties (type of station, name of station, vendor
and device id, device role, device options, alias name, instance, OEM id), DHCP,
control (start/end transaction, signal, response with block errors, factory
resets) and device initiative. Identify responses and Hellos give the identity of
the sender (``identity_of`` = its MAC): name, model (the DeviceVendorValue, i.e.
type of station), vendor_id, device_id (hex), role, ip. Requests keep their filter
or the values they set in ``details``.

Operations: Identify and Get are ``diagnostics``/``read``; Set is ``write`` (a new
name or IP), a Set of a factory reset is ``restart``, Signal (flash LED) is
``diagnostics``. Other frame kinds give one ``event`` per sender, frame id and
receiver (cyclic RT data, PTCP) or one per alarm frame (0xFC01, 0xFE01).
"""

from __future__ import annotations

import socket
from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import Reader, Truncated, guarded, hexid, malformed, text
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "profinet"
ETHERTYPE = 0x8892

FRAME_IDS = {
    0xFEFC: "DCP Hello",
    0xFEFD: "DCP Get/Set",
    0xFEFE: "DCP Identify request",
    0xFEFF: "DCP Identify response",
}
SERVICES = {3: "Get", 4: "Set", 5: "Identify", 6: "Hello"}
SERVICE_TYPES = {0: "request", 1: "response", 5: "response (not supported)"}
OPTIONS = {1: "ip", 2: "device", 3: "dhcp", 5: "control", 6: "device_initiative", 0xFF: "all"}
DEVICE_SUBOPTIONS = {
    1: "type_of_station",
    2: "name_of_station",
    3: "device_id",
    4: "device_role",
    5: "device_options",
    6: "alias_name",
    7: "device_instance",
    8: "oem_device_id",
    10: "rsi_properties",
}
IP_SUBOPTIONS = {1: "mac_address", 2: "ip_parameter", 3: "full_ip_suite"}
CONTROL_SUBOPTIONS = {
    1: "start_transaction",
    2: "end_transaction",
    3: "signal",
    4: "response",
    5: "reset_factory_settings",
    6: "reset_to_factory",
}
ROLES = ((0x01, "IO-Device"), (0x02, "IO-Controller"), (0x04, "IO-Multidevice"), (0x08, "PN-Supervisor"))
IP_INFO = {0: "not set", 1: "set", 2: "set by DHCP"}


def frame_kind(frame_id: int) -> str:
    """The kind of a PROFINET frame by its FrameID (IEC 61158-6-10)."""
    if frame_id in FRAME_IDS:
        return FRAME_IDS[frame_id]
    if frame_id == 0xFC01:
        return "Alarm high"
    if frame_id == 0xFE01:
        return "Alarm low"
    if frame_id <= 0x007F or 0xFF00 <= frame_id <= 0xFF8F:
        return "PTCP"
    if 0x0100 <= frame_id <= 0xFBFF:
        return "RT cyclic data"
    return "reserved"


def _role(value: int) -> str:
    return "+".join(name for bit, name in ROLES if value & bit) or f"0x{value:02x}"


def _ip(raw: bytes) -> str:
    return socket.inet_ntoa(raw)


class ProfinetDCPDissector(Dissector):
    """PROFINET DCP blocks and RT frame kinds (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    ethertypes: ClassVar[tuple[int, ...]] = (ETHERTYPE,)

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        """The DCP PDU or RT frame of one Ethernet frame (see the module docstring)."""
        data = packet.payload
        if not data:
            return []
        if len(data) < 2:
            return [malformed(PROTOCOL, packet, "frame shorter than a FrameID")]
        frame_id = data[0] << 8 | data[1]
        kind = frame_kind(frame_id)
        obs = Observation(
            protocol=PROTOCOL,
            packet=packet.number,
            time=packet.time,
            client=packet.src,
            server=packet.dst,
            function=kind,
            details={"frame_id": hexid(frame_id)},
        )
        if frame_id not in FRAME_IDS:
            obs.message = "event"
            if kind.startswith("Alarm"):
                return [obs]
            seen: set[tuple[str, str, int]] = state.setdefault("profinet_seen", set())
            key = (packet.src, packet.dst, frame_id)
            if key in seen or len(seen) > 4096:
                return []
            seen.add(key)
            return [obs]
        try:
            self._dcp(Reader(data, 2), obs, packet)
        except Truncated as exc:
            obs.details["truncated"] = str(exc)
        return [obs]

    def _dcp(self, r: Reader, obs: Observation, packet: Packet) -> None:
        details = obs.details
        service, service_type = r.u8(), r.u8()
        details.update(
            xid=hexid(r.u32be(), 8),
            service=SERVICES.get(service, str(service)),
            service_type=SERVICE_TYPES.get(service_type, str(service_type)),
        )
        r.skip(2)  # response delay / reserved
        length = r.u16be()
        r.end = min(r.end, r.pos + length)
        response = service_type != 0
        obs.function = f"DCP {SERVICES.get(service, f'service {service}')} {'response' if response else 'request'}"
        if response:
            obs.message, obs.client, obs.server = "response", packet.dst, packet.src
        elif service == 6:
            obs.message = "announce"
        obs.operation = {3: "read", 4: "write", 5: "diagnostics"}.get(service)
        if service == 3 and not response:  # Get request: a list of option/suboption pairs
            wanted: list[str] = []
            while r.remaining >= 2 and len(wanted) < 32:
                wanted.append(f"{OPTIONS.get(r.u8(), 'other')}/{r.u8()}")
            details["get"] = wanted
            return
        # Identify/Hello/Get responses carry BlockInfo, Set requests a BlockQualifier, Identify requests nothing
        prefix = 2 if (response or service in (4, 6)) else 0
        values: dict[str, Any] = {}
        for _ in range(64):
            if r.remaining < 4:
                break
            option, suboption, block_length = r.u8(), r.u8(), r.u16be()
            block = Reader(r.data, r.pos, r.pos + block_length)
            r.skip(block_length + (block_length & 1))  # blocks are padded to an even length
            if block.remaining < block_length:
                raise Truncated(f"block of {block_length} octets")
            self._block(block, option, suboption, prefix, values, obs)
        if service == 4 and not response:
            details["set"] = values
            if "reset" in values:
                obs.operation = "restart"
            elif set(values) <= {"signal", "start_transaction", "end_transaction"}:
                obs.operation = "diagnostics"
        elif response and service == 4:
            details["results"] = values.get("results", [])
        elif not response and service == 5:
            details["filter"] = values
        else:
            self._identity(values, obs, packet)

    def _block(self, b: Reader, option: int, sub: int, prefix: int, values: dict[str, Any], obs: Observation) -> None:
        has_prefix = prefix and b.remaining >= prefix and not (option == 5 and sub == 4)  # Response: no BlockInfo
        qualifier = b.u16be() if has_prefix else 0
        if option == 1 and sub == 2 and b.remaining >= 12:
            values["ip"], values["netmask"], values["gateway"] = (_ip(b.take(4)) for _ in range(3))
            if prefix and obs.message != "request":
                values["ip_info"] = IP_INFO.get(qualifier & 0x7F, str(qualifier)) + (
                    " (address conflict)" if qualifier & 0x80 else ""
                )
        elif option == 1 and sub == 1 and b.remaining >= 6:
            values["mac"] = ":".join(f"{x:02x}" for x in b.take(6))
        elif option == 2 and sub in (1, 2, 6):
            values[DEVICE_SUBOPTIONS[sub]] = text(b.take(b.remaining), "latin-1")
        elif option == 2 and sub in (3, 8) and b.remaining >= 4:
            prefix_key = "oem_" if sub == 8 else ""
            values[prefix_key + "vendor_id"], values[prefix_key + "device_id"] = hexid(b.u16be()), hexid(b.u16be())
        elif option == 2 and sub == 4 and b.remaining >= 1:
            values["role"] = _role(b.u8())
        elif option == 2 and sub == 5:
            values["options"] = [f"{OPTIONS.get(b.u8(), 'other')}/{b.u8()}" for _ in range(min(b.remaining // 2, 32))]
        elif option == 5 and sub == 4 and b.remaining >= 3:
            answered, answered_sub, error = b.u8(), b.u8(), b.u8()
            values.setdefault("results", []).append(
                {"block": f"{OPTIONS.get(answered, 'other')}/{answered_sub}", "error": error}
            )
        elif option == 5 and sub in (5, 6):
            values["reset"] = qualifier
        elif option == 5 and sub in CONTROL_SUBOPTIONS:
            values[CONTROL_SUBOPTIONS[sub]] = True
        elif option == 0xFF:
            values["all"] = True

    def _identity(self, values: dict[str, Any], obs: Observation, packet: Packet) -> None:
        obs.details.update({k: v for k, v in values.items() if k in ("options", "ip_info", "alias_name")})
        keys = {
            "name_of_station": "name",
            "type_of_station": "model",
            "vendor_id": "vendor_id",
            "device_id": "device_id",
            "role": "role",
            "ip": "ip",
            "netmask": "netmask",
            "gateway": "gateway",
            "alias_name": "alias",
        }
        identity = {key: str(values[field]) for field, key in keys.items() if values.get(field)}
        if identity:
            obs.identity, obs.identity_of = identity, packet.src


DISSECTOR = ProfinetDCPDissector()
