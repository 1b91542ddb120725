"""Modbus/TCP dissector (TCP 502), with Schneider Electric UMAS on function code 90.

Contract: :meth:`ModbusDissector.dissect` takes one TCP segment and returns one
:class:`Observation` per Modbus ADU in it (several ADUs per segment are common; an ADU
split across segments is completed from the next segment of its direction), and never
raises: bytes that cannot be an MBAP header give one ``malformed`` observation.

Each observation names the function (``"Read Holding Registers (3)"``), classifies it in
the shared operation vocabulary (reads, writes, diagnostics; FC 8 sub-function 1
"Restart Communications Option" is a restart; file records are file transfer; legacy
Modicon programming codes are program download), and carries the transaction and unit
ids. Exception responses (function | 0x80) keep the operation of the failed request
and name the exception code. A Read Device Identification response (FC 43 / MEI 14)
yields the server's identity: vendor, product code, firmware (MajorMinorRevision),
vendor URL, product and model names, and the user application name. UMAS (FC 90) names
its sub-function (``"UMAS STOP_PLC (0x41)"``) and classifies it: Schneider's "upload"
(0x30-0x32, engineering PC to PLC) is our program-download, its "download" (0x33-0x35,
PLC to PC) our program-upload; 0x40/0x41 start/stop the PLC. The READ_ID answer gives
the CPU model, READ_PROJECT_INFO the project (application) name.

Sources: Modbus Application Protocol Specification V1.1b3 (function, sub-function,
exception and device-identification object codes); legacy Modicon codes as in Zeek's
``Modbus::function_codes``; UMAS codes from "The Unity (UMAS) protocol" (liras en la
red, 2017), Kaspersky ICS CERT "The secrets of Schneider Electric's UMAS protocol"
(2022) and Wireshark's UMAS tables (codes 0x28, 0x29, 0x36, 0x37, 0x42 and 0x60 from the
Black Hat Europe 2024 M340 research dissector), checked against
``modicon-umas/modicon_test.pcap``.
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import guarded, text, tiles
from zonewarden.traffic.dissectors._stream import INVALID, NEED_MORE, frames, recall, remember
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PORTS = (502,)
_MBAP = struct.Struct(">HHHB")
_U16 = struct.Struct(">H")

# code: (name, operation)
FUNCTIONS: dict[int, tuple[str, str | None]] = {
    1: ("Read Coils", "read"),
    2: ("Read Discrete Inputs", "read"),
    3: ("Read Holding Registers", "read"),
    4: ("Read Input Registers", "read"),
    5: ("Write Single Coil", "write"),
    6: ("Write Single Register", "write"),
    7: ("Read Exception Status", "diagnostics"),
    8: ("Diagnostics", "diagnostics"),
    9: ("Program (484)", "program-download"),
    10: ("Poll (484)", "diagnostics"),
    11: ("Get Comm Event Counter", "diagnostics"),
    12: ("Get Comm Event Log", "diagnostics"),
    13: ("Program (584/984)", "program-download"),
    14: ("Poll (584/984)", "diagnostics"),
    15: ("Write Multiple Coils", "write"),
    16: ("Write Multiple Registers", "write"),
    17: ("Report Server ID", "diagnostics"),
    18: ("Program (884/M84)", "program-download"),
    19: ("Reset Comm Link (884/M84)", "restart"),
    20: ("Read File Record", "file-transfer"),
    21: ("Write File Record", "file-transfer"),
    22: ("Mask Write Register", "write"),
    23: ("Read/Write Multiple Registers", "write"),
    24: ("Read FIFO Queue", "read"),
    40: ("Program (Concept)", "program-download"),
    43: ("Encapsulated Interface Transport", None),
    90: ("UMAS (Schneider Electric)", None),
    125: ("Firmware Replacement", "firmware-update"),
    126: ("Program (584/984-2)", "program-download"),
    127: ("Report Local Address", "diagnostics"),
}

DIAGNOSTIC_SUBFUNCTIONS: dict[int, str] = {
    0: "Return Query Data",
    1: "Restart Communications Option",
    2: "Return Diagnostic Register",
    3: "Change ASCII Input Delimiter",
    4: "Force Listen Only Mode",
    10: "Clear Counters and Diagnostic Register",
    11: "Return Bus Message Count",
    12: "Return Bus Communication Error Count",
    13: "Return Bus Exception Error Count",
    14: "Return Server Message Count",
    15: "Return Server No Response Count",
    16: "Return Server NAK Count",
    17: "Return Server Busy Count",
    18: "Return Bus Character Overrun Count",
    20: "Clear Overrun Counter and Flag",
}

EXCEPTIONS: dict[int, str] = {
    1: "Illegal Function",
    2: "Illegal Data Address",
    3: "Illegal Data Value",
    4: "Server Device Failure",
    5: "Acknowledge",
    6: "Server Device Busy",
    8: "Memory Parity Error",
    10: "Gateway Path Unavailable",
    11: "Gateway Target Device Failed to Respond",
}

# Read Device Identification object id -> identity key
DEVICE_ID_OBJECTS: dict[int, str] = {
    0: "vendor",
    1: "product_code",
    2: "firmware",
    3: "vendor_url",
    4: "product_name",
    5: "model",
    6: "name",
}

UMAS_FUNCTIONS: dict[int, tuple[str, str | None]] = {
    0x01: ("INIT_COMM", None),
    0x02: ("READ_ID", "diagnostics"),
    0x03: ("READ_PROJECT_INFO", "diagnostics"),
    0x04: ("READ_PLC_INFO", "diagnostics"),
    0x06: ("READ_CARD_INFO", "diagnostics"),
    0x0A: ("REPEAT", None),
    0x10: ("TAKE_PLC_RESERVATION", None),
    0x11: ("RELEASE_PLC_RESERVATION", None),
    0x12: ("KEEP_ALIVE", None),
    0x20: ("READ_MEMORY_BLOCK", "read"),
    0x21: ("WRITE_MEMORY_BLOCK", "write"),
    0x22: ("READ_VARIABLES", "read"),
    0x23: ("WRITE_VARIABLES", "write"),
    0x24: ("READ_COILS_REGISTERS", "read"),
    0x25: ("WRITE_COILS_REGISTERS", "write"),
    0x26: ("DATA_DICTIONARY", "browse"),
    0x28: ("READ_PHYSICAL_ADDRESS", "read"),
    0x29: ("WRITE_PHYSICAL_ADDRESS", "write"),
    0x30: ("INITIALIZE_UPLOAD", "program-download"),
    0x31: ("UPLOAD_BLOCK", "program-download"),
    0x32: ("END_STRATEGY_UPLOAD", "program-download"),
    0x33: ("INITIALIZE_DOWNLOAD", "program-upload"),
    0x34: ("DOWNLOAD_BLOCK", "program-upload"),
    0x35: ("END_STRATEGY_DOWNLOAD", "program-upload"),
    0x36: ("BACKUP_RESTORE", "program-download"),
    0x37: ("PRELOAD_BLOCKS", "program-download"),
    0x39: ("READ_ETH_MASTER_DATA", "diagnostics"),
    0x40: ("START_PLC", "start"),
    0x41: ("STOP_PLC", "stop"),
    0x42: ("INIT_PLC", "restart"),
    0x50: ("MONITOR_PLC", "read"),
    0x58: ("CHECK_PLC", "diagnostics"),
    0x60: ("SET_BREAKPOINT", "stop"),
    0x70: ("READ_IO_OBJECT", "read"),
    0x71: ("WRITE_IO_OBJECT", "write"),
    0x73: ("GET_STATUS_MODULE", "diagnostics"),
}


def _frame_length(data: bytes, offset: int) -> int:
    if len(data) - offset < 7:
        return NEED_MORE if data[offset + 2 : offset + 4] in (b"", b"\x00", b"\x00\x00") else INVALID
    _, protocol_id, length, _ = _MBAP.unpack_from(data, offset)
    if protocol_id != 0 or not 2 <= length <= 256:
        return INVALID
    return 6 + length


def _function(code: int) -> tuple[str, str | None]:
    name, operation = FUNCTIONS.get(code, ("Unknown function", None))
    return f"{name} ({code})", operation


def _umas(obs: Observation, pdu: bytes, request: bool, pending: int | None) -> None:
    """Fill in a UMAS (FC 90) observation: sub-function, operation, identity facts."""
    if len(pdu) < 3:
        return
    obs.details["umas_session"] = pdu[1]
    code = pdu[2] if request else pending
    if not request:
        obs.details["umas_status"] = {0xFE: "ok", 0xFD: "error"}.get(pdu[2], f"0x{pdu[2]:02x}")
    if code is None:
        obs.function = "UMAS response"
        return
    name, operation = UMAS_FUNCTIONS.get(code, ("unknown", None))
    obs.function = f"UMAS {name} (0x{code:02x})"
    obs.operation = operation
    obs.details["umas_function"] = code
    body = pdu[3:]
    if request and code == 0x10 and len(body) >= 5 and body[4] == len(body) - 5:
        obs.details["reservation_host"] = text(body[5:])
    if request or pdu[2] != 0xFE:
        return
    if code == 0x02 and len(body) > 22 and 0 < body[22] <= len(body) - 23:  # READ_ID: the CPU module
        model = text(body[23 : 23 + body[22]])
        if model:
            obs.identity.update({"vendor": "Schneider Electric", "model": model})
    elif code == 0x03 and len(body) > 2 and body[-1] == 0:  # READ_PROJECT_INFO ends with the project name
        size = next((n for n in range(2, min(len(body), 65)) if body[-n - 1] == n), 0)
        name = text(body[-size:]) if size else ""
        if name:
            obs.identity["name"] = name
    if obs.identity:
        obs.identity_of = obs.server


def _device_identification(obs: Observation, pdu: bytes) -> None:
    """FC 43 / MEI 14 response: objects id, length, value -> identity of the server."""
    if len(pdu) < 7:
        return
    obs.details.update({"read_device_id": pdu[2], "conformity": pdu[3], "more_follows": pdu[4] == 0xFF})
    count, offset = pdu[6], 7
    for _ in range(count):
        if offset + 2 > len(pdu):
            break
        object_id, size = pdu[offset], pdu[offset + 1]
        value = text(pdu[offset + 2 : offset + 2 + size])
        offset += 2 + size
        key = DEVICE_ID_OBJECTS.get(object_id)
        if key and value:
            obs.identity[key] = value
    if "product_name" in obs.identity and "model" not in obs.identity:
        obs.identity["model"] = obs.identity["product_name"]
    if obs.identity:
        obs.identity_of = obs.server


def _describe(obs: Observation, pdu: bytes, request: bool, pending: Any) -> None:
    code = pdu[0]
    if not request and code & 0x80:
        base = code & 0x7F
        obs.function, obs.operation = _function(base)
        exc = pdu[1] if len(pdu) > 1 else None
        obs.details["exception"] = EXCEPTIONS.get(exc, "Unknown") if exc is not None else "truncated"
        obs.details["exception_code"] = exc
        obs.function += f" exception: {obs.details['exception']}"
        if base == 90 and isinstance(pending, int):
            name, obs.operation = UMAS_FUNCTIONS.get(pending, ("unknown", None))
            obs.function = f"UMAS {name} (0x{pending:02x}) exception: {obs.details['exception']}"
        return
    obs.function, obs.operation = _function(code)
    if code == 8 and len(pdu) >= 3:
        sub = _U16.unpack_from(pdu, 1)[0]
        obs.function = f"Diagnostics (8/{sub}): {DIAGNOSTIC_SUBFUNCTIONS.get(sub, 'Unknown')}"
        obs.details["subfunction"] = sub
        if sub == 1:
            obs.operation = "restart"
    elif code == 43 and len(pdu) >= 2:
        mei = pdu[1]
        obs.details["mei_type"] = mei
        if mei == 14:
            obs.function, obs.operation = "Read Device Identification (43/14)", "diagnostics"
            if not request:
                _device_identification(obs, pdu)
        elif mei == 13:
            obs.function = "CANopen General Reference (43/13)"
    elif code == 90:
        _umas(obs, pdu, request, pending if isinstance(pending, int) else None)
    elif request and code in (1, 2, 3, 4, 5, 6, 15, 16) and len(pdu) >= 5:
        obs.details["address"], obs.details["quantity"] = struct.unpack_from(">HH", pdu, 1)


def _mbap_frame(payload: bytes, pos: int) -> int:
    """The size of the MBAP frame at ``pos`` (protocol id 0, a known function code), or 0."""
    if len(payload) - pos < 8 or payload[pos + 2 : pos + 4] != b"\0\0":
        return 0
    length = int.from_bytes(payload[pos + 4 : pos + 6], "big")
    code = payload[pos + 7]
    if not 2 <= length <= 254 or (code & 0x7F) not in FUNCTIONS or (code & 0x80 and length != 3):
        return 0
    return 6 + length


class ModbusDissector(Dissector):
    """Modbus/TCP and UMAS; see the module docstring for what it extracts."""

    name: ClassVar[str] = "modbus"
    tcp_ports: ClassVar[tuple[int, ...]] = PORTS
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = ((2, b"\0\0"),)

    @staticmethod
    def matches(payload: bytes) -> bool:
        """MBAP headers (protocol id 0, the length of what follows) that exactly fill the segment, each with a
        known function code (an exception: the code with its high bit and one byte)."""
        return tiles(payload, _mbap_frame)

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """An exception came from the server; for the reads and multiple writes, the length tells a request
        (fixed fields) from a response (the data, or an echo of the range)."""
        length, code = int.from_bytes(payload[4:6], "big"), payload[7]
        if code & 0x80:
            return True
        if code in (15, 16):
            return length == 6
        if code in (1, 2, 3, 4):
            return None if length == 6 and payload[8] == 3 else length != 6
        return None

    @guarded("modbus", PORTS)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        client, server, request = self.sides(packet, PORTS)
        adus, garbage = frames(state, f"{packet.src}:{packet.sport}", packet.payload, _frame_length)
        out: list[Observation] = []
        for adu, complete in adus:
            if len(adu) < 8:
                continue
            transaction, _, _, unit = _MBAP.unpack_from(adu, 0)
            pdu = adu[7:]
            obs = Observation(
                protocol="modbus",
                packet=packet.number,
                time=packet.time,
                client=client,
                server=server,
                message="request" if request else "response",
                details={"transaction_id": transaction, "unit_id": unit},
            )
            if not complete:
                obs.details["truncated"] = True
            pending = None
            if pdu[0] == 90 and len(pdu) >= 3:
                if request:
                    remember(state, ("umas", transaction), pdu[2])
                else:
                    pending = recall(state, ("umas", transaction))
            elif pdu[0] == 0xDA and not request:
                pending = recall(state, ("umas", transaction))
            _describe(obs, pdu, request, pending)
            out.append(obs)
        if garbage:
            out.append(
                Observation(
                    protocol="modbus",
                    packet=packet.number,
                    time=packet.time,
                    client=client,
                    server=server,
                    message="malformed",
                    details={"error": "not an MBAP header"},
                )
            )
        return out


DISSECTOR = ModbusDissector()
