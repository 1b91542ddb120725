"""EtherNet/IP and CIP dissector (TCP/UDP 44818; UDP 2222 implicit I/O, classified only).

Contract: :meth:`EnipDissector.dissect` takes one TCP segment or UDP datagram and returns
one :class:`Observation` per encapsulated CIP service (several encapsulation packets per
segment are handled, and a packet split across segments is completed from the next
segment of its direction), and never raises.

What it finds:

* the encapsulation command (ListIdentity, ListServices, RegisterSession, SendRRData,
  SendUnitData, ...); a ListIdentity response gives the responder's identity: vendor id
  and name, device type, product code, revision (firmware), serial number (hex), product
  name (model), state and the IP of its socket address;
* inside SendRRData/SendUnitData, each CIP service: its name, request path (class,
  instance, attribute or symbolic tag), general status of a response, and its operation:
  Get services read (diagnostics on the Identity object), Set services write (time-sync
  on the Logix wall-clock and CIP Time Sync objects), Reset restarts, Start/Stop start
  and stop, Logix Read/Write Tag (fragmented too) read/write, File object services are
  file transfer, Rockwell NVS object (class 0xA1, ControlFLASH) services are firmware
  update, Create/Delete of Logix program, routine, task, tag or template objects is a
  program download. Unconnected Send (0x52 to the Connection Manager) and Multiple
  Service Packet (0x0A) are unwrapped; responses are matched to their request by sender
  context (unconnected) or sequence count (connected) to classify them and to read a
  Get_Attributes_All answer of the Identity object as identity (a request routed through
  a backplane reports the routed module in ``details["routed_identity"]`` instead);
* UDP 2222: one ``event`` observation per I/O connection id and direction.

Sources: ODVA CIP Volume 1 and 2 (services, classes, general status, device types,
encapsulation); vendor names checked against Wireshark's CIP vendor table (``cip_vendor_vals``
in epan/dissectors/packet-cip.c, Wireshark 4.0); Logix tag services and the Symbol and
Template classes from Rockwell publication 1756-PM020 and pycomm3 (``cip/services.py``,
``object_library.py``; wall-clock class 0x8B from its ``set_plc_time``); the Logix program,
routine and task class numbers (0x68, 0x6D, 0x70) from the Logix symbol type codes; the NVS
object (class 0xA1, services 0x4B Update and 0x4D Transfer) from Rockwell publications
1404-UM001 and 1444-UM001. Reading Create/Delete on the Logix program classes as a program
download is inferred from RSLogix online downloads in the openics captures
(EIP-RebootorRestart.pcap, EIP-ControlProtocolChangeAttempt.pcap), not from a vendor document.
"""

from __future__ import annotations

import socket
import struct
from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import guarded, text
from zonewarden.traffic.dissectors._stream import INVALID, NEED_MORE, frames, recall, remember
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PORTS = (44818,)
IO_PORT = 2222
_HEADER = struct.Struct("<HHII8sI")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")

COMMANDS: dict[int, str] = {
    0x0000: "NOP",
    0x0001: "ListTargets",  # legacy, undocumented; still answered by Rockwell adapters
    0x0004: "ListServices",
    0x0063: "ListIdentity",
    0x0064: "ListInterfaces",
    0x0065: "RegisterSession",
    0x0066: "UnRegisterSession",
    0x006F: "SendRRData",
    0x0070: "SendUnitData",
    0x0072: "IndicateStatus",
    0x0073: "Cancel",
}
_RECOGNISED_COMMANDS = frozenset(COMMANDS) - {0x0000, 0x0001}  # by content: NOP and the legacy one say too little

# The most common CIP vendor ids (ODVA assignments), names as in Wireshark's cip_vendor_vals.
VENDORS: dict[int, str] = {
    1: "Rockwell Automation/Allen-Bradley",
    2: "Namco Controls Corp.",
    3: "Honeywell Inc.",
    4: "Parker Hannifin Corp. (Veriflo Division)",
    5: "Rockwell Automation/Reliance Elec.",
    8: "Molex Incorporated",
    12: "Banner Engineering Corp.",
    13: "Belden Wire & Cable Company",
    16: "Daniel Woodhead Co. (Woodhead Connectivity)",
    26: "Festo Corporation",
    40: "Wago Corporation",
    43: "BALLUFF, Inc.",
    44: "Yaskawa Electric America, Inc.",
    46: "ABB Industrial Systems",
    47: "Omron Corporation",
    48: "TURCk, Inc.",
    57: "Pepperl + Fuchs",
    58: "Spectrum Controls, Inc.",
    68: "Eaton Electrical",
    74: "Hitachi, Ltd.",
    82: "Mitsubishi Electric Automation, Inc.",
    83: "OPTO-22",
    90: "HMS Industrial Networks AB",
    94: "Advantech Co. Ltd.",
    97: "Danfoss",
    100: "Bosch Rexroth Corporation, Pneumatics",
    108: "Beckhoff Automation GmbH",
    109: "National Instruments",
    145: "Siemens Energy & Automation/Drives",
    161: "Mitsubishi Electric Corporation",
    176: "Red Lion Controls",
    243: "Schneider Automation, Inc.",
    250: "Yokogawa Electric Corporation",
    255: "Bosch Rexroth",
    283: "Hilscher GmbH",
    309: "Prosoft Technology",
    315: "SEW Eurodrive GmbH",
    319: "Fuji Electric Co., Ltd.",
    322: "ifm efector, inc.",
    326: "GE Fanuc Automation North America, Inc.",
    345: "Endress + Hauser",
    356: "Fanuc Robotics America",
    367: "Keyence Corporation",
    445: "Lenze Drive Systems GmbH",
    562: "Phoenix Contact",
    591: "FANUC Ltd.",
    634: "Hirschmann, Inc.",
    678: "Cognex Corporation",
    808: "SICK AG",
    865: "Schweitzer Engineering Laboratories",
    887: "B&R Industrial Automation GmbH",
    903: "Emerson Process Management Power & Water Solutions",
    939: "Cisco Systems",
    991: "Moxa Networking Co., Ltd.",
}

# CIP device profiles (CIP Volume 1, chapter 6)
DEVICE_TYPES: dict[int, str] = {
    0x00: "Generic Device (deprecated)", 0x02: "AC Drive", 0x03: "Motor Overload", 0x04: "Limit Switch",
    0x05: "Inductive Proximity Switch", 0x06: "Photoelectric Sensor", 0x07: "General Purpose Discrete I/O",
    0x09: "Resolver", 0x0C: "Communications Adapter", 0x0E: "Programmable Logic Controller",
    0x10: "Position Controller", 0x13: "DC Drive", 0x15: "Contactor", 0x16: "Motor Starter", 0x17: "Soft Start",
    0x18: "Human-Machine Interface", 0x1A: "Mass Flow Controller", 0x1B: "Pneumatic Valve",
    0x1C: "Vacuum Pressure Gauge", 0x1D: "Process Control Valve", 0x1E: "Residual Gas Analyzer",
    0x1F: "DC Power Generator", 0x20: "RF Power Generator", 0x21: "Turbomolecular Vacuum Pump", 0x22: "Encoder",
    0x23: "Safety Discrete I/O Device", 0x24: "Fluid Flow Controller", 0x25: "CIP Motion Drive",
    0x26: "CompoNet Repeater", 0x27: "Mass Flow Controller, Enhanced", 0x28: "CIP Modbus Device",
    0x29: "CIP Modbus Translator", 0x2A: "Safety Analog I/O Device", 0x2B: "Generic Device (keyable)",
    0x2C: "Managed Ethernet Switch", 0x2D: "CIP Motion Safety Drive Device", 0x2E: "Safety Drive Device",
    0x2F: "CIP Motion Encoder", 0x30: "CIP Motion Converter", 0x31: "CIP Motion I/O",
    0x32: "ControlNet Physical Layer Component", 0x33: "Circuit Breaker", 0x34: "HART Device",
    0x35: "CIP-HART Translator", 0xC8: "Embedded Component",
}  # fmt: skip

CLASSES: dict[int, str] = {
    0x01: "Identity", 0x02: "Message Router", 0x04: "Assembly", 0x05: "Connection", 0x06: "Connection Manager",
    0x37: "File", 0x43: "Time Sync", 0x64: "Program Name (Logix)", 0x67: "PCCC", 0x68: "Program (Logix)",
    0x6B: "Symbol (Logix)", 0x6C: "Template (Logix)", 0x6D: "Routine (Logix)", 0x70: "Task (Logix)",
    0x8B: "Wall Clock Time (Logix)", 0xA1: "Non-Volatile Storage (Rockwell)", 0xF4: "Port",
    0xF5: "TCP/IP Interface", 0xF6: "Ethernet Link",
}  # fmt: skip

GENERAL_STATUS: dict[int, str] = {
    0x00: "Success", 0x01: "Connection failure", 0x02: "Resource unavailable", 0x03: "Invalid parameter value",
    0x04: "Path segment error", 0x05: "Path destination unknown", 0x06: "Partial transfer",
    0x07: "Connection lost", 0x08: "Service not supported", 0x09: "Invalid attribute value",
    0x0A: "Attribute list error", 0x0B: "Already in requested mode/state", 0x0C: "Object state conflict",
    0x0D: "Object already exists", 0x0E: "Attribute not settable", 0x0F: "Privilege violation",
    0x10: "Device state conflict", 0x11: "Reply data too large", 0x13: "Not enough data",
    0x14: "Attribute not supported", 0x15: "Too much data", 0x16: "Object does not exist",
    0x1E: "Embedded service error", 0x1F: "Vendor specific error", 0x20: "Invalid parameter",
    0x26: "Path size invalid",
}  # fmt: skip

COMMON_SERVICES: dict[int, tuple[str, str | None]] = {
    0x01: ("Get_Attributes_All", "read"), 0x02: ("Set_Attributes_All", "write"),
    0x03: ("Get_Attribute_List", "read"), 0x04: ("Set_Attribute_List", "write"), 0x05: ("Reset", "restart"),
    0x06: ("Start", "start"), 0x07: ("Stop", "stop"), 0x08: ("Create", "write"), 0x09: ("Delete", "write"),
    0x0A: ("Multiple_Service_Packet", None), 0x0D: ("Apply_Attributes", "write"),
    0x0E: ("Get_Attribute_Single", "read"), 0x10: ("Set_Attribute_Single", "write"),
    0x11: ("Find_Next_Object_Instance", "browse"), 0x15: ("Restore", "write"), 0x16: ("Save", "write"),
    0x17: ("No_Operation", None), 0x18: ("Get_Member", "read"), 0x19: ("Set_Member", "write"),
    0x1A: ("Insert_Member", "write"), 0x1B: ("Remove_Member", "write"), 0x1C: ("GroupSync", None),
}  # fmt: skip
TAG_SERVICES: dict[int, tuple[str, str | None]] = {
    0x4C: ("Read_Tag", "read"), 0x4D: ("Write_Tag", "write"), 0x4E: ("Read_Modify_Write_Tag", "write"),
    0x52: ("Read_Tag_Fragmented", "read"), 0x53: ("Write_Tag_Fragmented", "write"),
    0x55: ("Get_Instance_Attribute_List", "browse"),
}  # fmt: skip
CLASS_SERVICES: dict[int, dict[int, tuple[str, str | None]]] = {
    0x06: {0x4E: ("Forward_Close", None), 0x52: ("Unconnected_Send", None), 0x54: ("Forward_Open", None),
           0x56: ("Get_Connection_Data", "diagnostics"), 0x57: ("Search_Connection_Data", "diagnostics"),
           0x5A: ("Get_Connection_Owner", "diagnostics"), 0x5B: ("Large_Forward_Open", None)},
    0x37: {0x4B: ("Initiate_Upload", "file-transfer"), 0x4C: ("Initiate_Download", "file-transfer"),
           0x4D: ("Initiate_Partial_Read", "file-transfer"), 0x4E: ("Initiate_Partial_Write", "file-transfer"),
           0x4F: ("Upload_Transfer", "file-transfer"), 0x50: ("Download_Transfer", "file-transfer"),
           0x51: ("Clear_File", "file-transfer")},
    0x67: {0x4B: ("Execute_PCCC", None)},
    0xA1: {0x4B: ("NVS_Update", "firmware-update"), 0x4D: ("NVS_Transfer", "firmware-update")},
}  # fmt: skip
READS = frozenset({0x01, 0x03, 0x0E, 0x18})
SETS = frozenset({0x02, 0x04, 0x10})
TIME_CLASSES = frozenset({0x43, 0x8B})  # CIP Time Sync; Logix wall-clock time (pycomm3 set_plc_time)
PROGRAM_CLASSES = frozenset({0x68, 0x6B, 0x6C, 0x6D, 0x70})  # Logix program, symbol, template, routine, task


def classify(service: int, path: dict[str, Any]) -> tuple[str, str | None]:
    """The (name, operation) of a CIP request service addressed to ``path``."""
    cls = path.get("class")
    if service in COMMON_SERVICES:
        name, operation = COMMON_SERVICES[service]
        if cls == 0x01 and service in READS:
            operation = "diagnostics"
        elif cls in TIME_CLASSES and service in SETS:
            operation = "time-sync"
        elif service in (0x08, 0x09) and (cls in PROGRAM_CLASSES or path.get("scope_class") in PROGRAM_CLASSES):
            operation = "program-download"
    elif cls in CLASS_SERVICES and service in CLASS_SERVICES[cls]:
        name, operation = CLASS_SERVICES[cls][service]
    elif cls == 0xA1:
        name, operation = f"NVS service 0x{service:02X}", "firmware-update"
    elif service in TAG_SERVICES and ("symbol" in path or cls in (0x6B, None)):
        name, operation = TAG_SERVICES[service]
    else:
        name, operation = f"Service 0x{service:02X}", None
    if cls is not None:
        name += f" ({CLASSES.get(cls, f'class 0x{cls:02X}')})"
    return name, operation


def parse_path(data: bytes, offset: int, end: int) -> dict[str, Any]:
    """Decode an EPATH: class, instance, attribute, member, symbol, route (port segments).

    The last class/instance is the addressed object; an outer one (a Logix program scope)
    is kept as ``scope_class`` / ``scope_instance``.
    """
    path: dict[str, Any] = {}
    symbols: list[str] = []
    try:
        _segments(data, offset, end, path, symbols)
    except (IndexError, struct.error):
        path["truncated"] = True
    if symbols:
        path["symbol"] = ".".join(symbols)
    return path


def _segments(data: bytes, offset: int, end: int, path: dict[str, Any], symbols: list[str]) -> None:
    while offset < end:
        seg = data[offset]
        kind = seg & 0xE0
        if kind == 0x00:  # port segment
            size = 2
            if seg & 0x10:
                link_len = data[offset + 1]
                link = data[offset + 2 : offset + 2 + link_len]
                size = 2 + link_len + (link_len & 1)
            else:
                link = data[offset + 1 : offset + 2]
            path.setdefault("route", []).append(f"{seg & 0x0F}/{int.from_bytes(link, 'big') if link else 0}")
            offset += size
        elif kind == 0x20:  # logical segment
            logical, fmt = (seg >> 2) & 0x07, seg & 0x03
            if logical == 5 and fmt == 0:  # electronic key
                offset += 10
                continue
            if fmt == 0:
                value, offset = data[offset + 1], offset + 2
            elif fmt == 1:
                value, offset = _U16.unpack_from(data, offset + 2)[0], offset + 4
            else:
                value, offset = _U32.unpack_from(data, offset + 2)[0], offset + 6
            key = ("class", "instance", "member", "connection_point", "attribute")[logical] if logical < 5 else None
            if key == "class" and "class" in path:  # a nested object: the outer one becomes its scope
                path.setdefault("scope_class", path["class"])
                path.setdefault("scope_instance", path.pop("instance", None))
            if key:
                path[key] = value
        elif seg == 0x91:  # ANSI extended symbolic
            size = data[offset + 1]
            symbols.append(text(data[offset + 2 : offset + 2 + size]))
            offset += 2 + size + (size & 1)
        elif seg == 0x80:  # simple data segment
            offset += 2 + 2 * data[offset + 1]
        else:
            break


def _identity(data: bytes, offset: int, identity: dict[str, str]) -> int:
    """Read vendor, device type, product code, revision, serial, product name into ``identity``.

    The status word and the state byte change over time: they go to ``details`` instead.
    """
    vendor, device_type, product, major, minor, _status, serial = struct.unpack_from("<HHHBBHI", data, offset)
    offset += 14
    size = data[offset]
    name = text(data[offset + 1 : offset + 1 + size])
    identity.update(
        {
            "vendor": VENDORS.get(vendor, f"CIP vendor {vendor}"),
            "vendor_id": str(vendor),
            "device_type": DEVICE_TYPES.get(device_type, f"device type 0x{device_type:02X}"),
            "product_code": str(product),
            "firmware": f"{major}.{minor:02d}",
            "serial": f"0x{serial:08x}",
        }
    )
    if name:
        identity["model"] = name
    return offset + 1 + size


class EnipDissector(Dissector):
    """EtherNet/IP encapsulation and CIP; see the module docstring for what it extracts."""

    name: ClassVar[str] = "enip"
    tcp_ports: ClassVar[tuple[int, ...]] = PORTS
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = tuple((0, bytes((c, 0))) for c in sorted(_RECOGNISED_COMMANDS))

    @staticmethod
    def matches(payload: bytes) -> bool:
        """An encapsulation header: a command that carries data (not NOP), the length of the rest, options 0."""
        return (
            len(payload) >= 24
            and int.from_bytes(payload[0:2], "little") in _RECOGNISED_COMMANDS
            and int.from_bytes(payload[2:4], "little") == len(payload) - 24
            and payload[20:24] == b"\0\0\0\0"
        )

    udp_ports: ClassVar[tuple[int, ...]] = (44818, IO_PORT)

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """A non-zero status, a List* with data, a session handle given, or a CIP reply (the service's reply
        bit) came from the server."""
        command = int.from_bytes(payload[0:2], "little")
        if payload[8:12] != b"\0\0\0\0":
            return True
        if command in (0x0004, 0x0063, 0x0064):
            return len(payload) > 24
        if command == 0x0065:
            return payload[4:8] != b"\0\0\0\0"
        if command not in (0x006F, 0x0070) or len(payload) < 32:
            return None
        pos, items = 32, int.from_bytes(payload[30:32], "little")
        for _ in range(min(items, 4)):
            if pos + 4 > len(payload):
                return None
            kind, length = (
                int.from_bytes(payload[pos : pos + 2], "little"),
                int.from_bytes(payload[pos + 2 : pos + 4], "little"),
            )
            pos += 4
            if kind in (0x00B1, 0x00B2):
                service = pos + (2 if kind == 0x00B1 else 0)  # a connected item starts with its sequence count
                return bool(payload[service] & 0x80) if service < min(pos + length, len(payload)) else None
            pos += length
        return None

    @guarded("enip", (44818, IO_PORT))
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        if packet.transport == "udp" and IO_PORT in (packet.sport, packet.dport):
            return self._implicit_io(packet, state)
        if packet.transport == "udp":
            units, garbage = _udp_frames(packet.payload)
        else:
            units, garbage = frames(state, f"{packet.src}:{packet.sport}", packet.payload, _frame_length)
        out: list[Observation] = []
        for unit, complete in units:
            try:
                out.extend(self._encapsulation(packet, state, unit, complete))
            except Exception as exc:  # one bad packet must not hide the others of the segment
                out.append(self._obs(packet, "malformed", None, {"error": type(exc).__name__}))
        if garbage:
            out.append(self._obs(packet, "malformed", None, {"error": "not an EtherNet/IP encapsulation header"}))
        return out

    def _obs(self, packet: Packet, message: str, response: bool | None, details: dict[str, Any]) -> Observation:
        if response is None:
            client, server, request = self.sides(packet, PORTS)
            response = not request
        client, server = (packet.dst, packet.src) if response else (packet.src, packet.dst)
        return Observation("enip", packet.number, packet.time, client, server, message, details=details)

    def _encapsulation(self, packet: Packet, state: dict[str, Any], unit: bytes, complete: bool) -> list[Observation]:
        command, length, session, status, context, _ = _HEADER.unpack_from(unit, 0)
        name = COMMANDS.get(command, f"command 0x{command:04X}")
        body = unit[24 : 24 + length]
        details: dict[str, Any] = {"command": name, "session": f"0x{session:08x}"}
        if status:
            details["encapsulation_status"] = status
        if not complete:
            details["truncated"] = True
        if command in (0x006F, 0x0070) and len(body) >= 8:
            return self._cip_items(packet, state, body, context, details)
        response = bool(body) if command in (0x0001, 0x0004, 0x0063, 0x0064) else None
        obs = self._obs(packet, "response" if response else "request", response, details)
        if response is None:
            obs.message = "request" if packet.dport in PORTS else "response"
        obs.function = name
        if command in (0x0001, 0x0063, 0x0004, 0x0064):
            obs.operation = "diagnostics"
        if command == 0x0063 and response:
            self._list_identity(obs, body)
        return [obs]

    def _list_identity(self, obs: Observation, body: bytes) -> None:
        count, offset = _U16.unpack_from(body, 0)[0], 2
        for _ in range(min(count, 8)):
            if offset + 4 > len(body):
                break
            item_type, item_len = struct.unpack_from("<HH", body, offset)
            if item_type == 0x000C:
                identity: dict[str, str] = {}
                start = offset + 4
                port = struct.unpack_from(">H", body, start + 4)[0]
                identity["ip"] = socket.inet_ntoa(body[start + 6 : start + 10])
                end = _identity(body, start + 18, identity)
                obs.details["status"] = f"0x{_U16.unpack_from(body, start + 26)[0]:04x}"
                if end < len(body):
                    obs.details["state"] = f"0x{body[end]:02x}"
                obs.details["encapsulation_version"] = _U16.unpack_from(body, start)[0]
                obs.details["socket_port"] = port
                obs.identity.update(identity)
                obs.identity_of = obs.server
            offset += 4 + item_len

    def _cip_items(
        self, packet: Packet, state: dict[str, Any], body: bytes, context: bytes, details: dict[str, Any]
    ) -> list[Observation]:
        count, offset = _U16.unpack_from(body, 6)[0], 8
        out: list[Observation] = []
        for _ in range(min(count, 8)):
            if offset + 4 > len(body):
                break
            item_type, item_len = struct.unpack_from("<HH", body, offset)
            data = body[offset + 4 : offset + 4 + item_len]
            offset += 4 + item_len
            if item_type == 0x00A1 and len(data) >= 4:
                details["connection_id"] = f"0x{_U32.unpack_from(data, 0)[0]:08x}"
            elif item_type == 0x00B2 and data:
                out.extend(self._cip(packet, state, data, ("ctx", context), details))
            elif item_type == 0x00B1 and len(data) >= 3:
                sequence = _U16.unpack_from(data, 0)[0]
                out.extend(self._cip(packet, state, data[2:], ("seq", sequence), dict(details, sequence=sequence)))
        return out

    def _cip(
        self, packet: Packet, state: dict[str, Any], msg: bytes, key: tuple[Any, ...], details: dict[str, Any]
    ) -> list[Observation]:
        response = bool(msg[0] & 0x80)
        if not response:
            requests = _requests(msg, 0, len(msg), None)
            remember(state, key, requests)
            out = []
            for service, path, name, operation in requests:
                obs = self._obs(packet, "request", False, dict(details, service=service, path=path))
                obs.function, obs.operation = name, operation
                out.append(obs)
            return out
        pending = recall(state, key)
        replies = _replies(msg, 0, len(msg))
        out = []
        for index, (service, status, data) in enumerate(replies):
            request = pending[index] if pending and index < len(pending) else None
            extra = {"service": service, "status": GENERAL_STATUS.get(status, f"0x{status:02X}")}
            obs = self._obs(packet, "response", True, dict(details, **extra))
            if request and request[0] == service:
                _, path, obs.function, obs.operation = request
                obs.details["path"] = dict(path)
                if status == 0 and service == 0x01 and path.get("class") == 0x01 and len(data) >= 15:
                    identity: dict[str, str] = {}
                    _identity(data, 0, identity)
                    if "route" in path:
                        obs.details["routed_identity"] = dict(identity, route=",".join(path["route"]))
                    else:
                        obs.identity, obs.identity_of = identity, obs.server
            elif service == 0x52 and request is None:
                obs.function = "Unconnected_Send (Connection Manager)"
            else:
                obs.function, obs.operation = COMMON_SERVICES.get(service, (f"Service 0x{service:02X}", None))
            out.append(obs)
        return out

    def _implicit_io(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        data = packet.payload
        count, offset = _U16.unpack_from(data, 0)[0], 2
        connection = None
        for _ in range(min(count, 4)):
            item_type, item_len = struct.unpack_from("<HH", data, offset)
            if item_type in (0x8002, 0x00A1) and item_len >= 4:
                connection = _U32.unpack_from(data, offset + 4)[0]
            offset += 4 + item_len
        seen: set[Any] = state.setdefault("io_seen", set())
        key = (packet.src, connection)
        if connection is None or key in seen or len(seen) > 256:
            return []
        seen.add(key)
        obs = Observation("enip", packet.number, packet.time, packet.src, packet.dst, "event")
        obs.function = "Implicit I/O (class 0/1)"
        obs.details = {"connection_id": f"0x{connection:08x}", "transport": "udp"}
        return [obs]


def _requests(msg: bytes, offset: int, end: int, route: list[str] | None) -> list[tuple[int, dict[str, Any], str, Any]]:
    """(service, path, name, operation) of a CIP request, Unconnected Send and Multiple Service Packet unwrapped."""
    service, words = msg[offset], msg[offset + 1]
    path_end = offset + 2 + 2 * words
    path = parse_path(msg, offset + 2, min(path_end, end))
    if route:
        path["route"] = route
    cls = path.get("class")
    if service == 0x52 and cls == 0x06 and path_end + 5 <= end:  # Unconnected Send: unwrap the embedded request
        size = _U16.unpack_from(msg, path_end + 2)[0]
        inner = path_end + 4
        route_at = inner + size + (size & 1)
        hops = parse_path(msg, route_at + 2, route_at + 2 + 2 * msg[route_at]).get("route") if route_at < end else None
        return _requests(msg, inner, min(inner + size, end), hops or route)
    if service == 0x0A and path_end + 2 <= end:  # Multiple Service Packet
        count = _U16.unpack_from(msg, path_end)[0]
        out = []
        for i in range(min(count, 64)):
            at = path_end + _U16.unpack_from(msg, path_end + 2 + 2 * i)[0]
            nxt = path_end + _U16.unpack_from(msg, path_end + 4 + 2 * i)[0] if i + 1 < count else end
            if at < end:
                out.extend(_requests(msg, at, min(nxt, end), route))
        return out
    name, operation = classify(service, path)
    return [(service, path, name, operation)]


def _replies(msg: bytes, offset: int, end: int) -> list[tuple[int, int, bytes]]:
    """(service, general status, data) of a CIP response, a Multiple Service Packet reply unpacked."""
    if end - offset < 4:
        return [(msg[offset] & 0x7F, 0xFF, b"")] if offset < end else []
    service, status, extra = msg[offset] & 0x7F, msg[offset + 2], msg[offset + 3]
    data_at = offset + 4 + 2 * extra
    if service == 0x0A and status in (0x00, 0x1E):
        count = _U16.unpack_from(msg, data_at)[0]
        out = []
        for i in range(min(count, 64)):
            at = data_at + _U16.unpack_from(msg, data_at + 2 + 2 * i)[0]
            nxt = data_at + _U16.unpack_from(msg, data_at + 4 + 2 * i)[0] if i + 1 < count else end
            if at + 4 <= end:
                out.extend(_replies(msg, at, min(nxt, end)))
        return out
    return [(service, status, msg[data_at:end])]


def _frame_length(data: bytes, offset: int) -> int:
    if len(data) - offset < 24:
        head = data[offset : offset + 2]
        return NEED_MORE if len(head) < 2 or _U16.unpack(head)[0] in COMMANDS else INVALID
    command, length = struct.unpack_from("<HH", data, offset)
    return 24 + length if command in COMMANDS else INVALID


def _udp_frames(payload: bytes) -> tuple[list[tuple[bytes, bool]], bool]:
    out: list[tuple[bytes, bool]] = []
    offset = 0
    while offset + 24 <= len(payload):
        total = _frame_length(payload, offset)
        if total == INVALID:
            return out, True
        out.append((payload[offset : offset + total], offset + total <= len(payload)))
        offset += total
    return out, offset < len(payload)


DISSECTOR = EnipDissector()
