"""Siemens S7comm and S7comm-plus dissector (ISO-on-TCP, TCP 102: TPKT, COTP, S7).

Contract: :meth:`S7Dissector.dissect` takes one TCP segment and returns one
:class:`Observation` per S7 PDU in it (several TPKTs per segment, TPKTs split across
segments and S7 PDUs split across COTP data units are reassembled per direction), and
never raises. Other ISO-on-TCP payloads (MMS, COTP connection set-up) give nothing.

S7comm (protocol id 0x32, protocol "s7"): the PDU type (job, ack, ack-data,
userdata); job functions Read Var (read), Write Var (write), Request download /
Download block / Download ended (program-download), Start upload / Upload / End upload
(program-upload), PLC Stop (stop), PI services (``_INSE`` activate and ``_DELE`` delete
blocks, ``_MODU`` copy RAM to ROM: program-download; ``P_PROGRAM``: start) with the
blocks named (``DB1``); userdata function groups: programmer commands (Modify variable
and Force write, Memory reset restarts), cyclic data (subscribe), block functions
(browse), CPU functions (SZL reads are diagnostics; alarm and message services
subscribe), time functions (Set clock is time-sync). A Read SZL answer for SZL 0x0011 /
0x001C (module and component identification), reassembled across fragments, gives the
PLC's identity: order number, firmware ("V3.2.6"), serial number, model (module type
name), name (automation system name), module name, plant identification, copyright.

S7comm-plus (protocol id 0x72, protocol "s7comm-plus"): the protocol version (V1 is the
session set-up, V2, V3 with an integrity part), opcode (request, response, notification)
and function (Explore, CreateObject, SetMultiVariables, ...), best-effort operations:
GetMultiVariables read, SetMultiVariables/SetVariable write (except writes to the own
session object, which are the session handshake), Explore and GetLink browse, Invoke
call, notifications and subscription objects (or attributes of objects the client
created in its session, ids 0x70000000-0x7FFFFFFF) subscribe, SetVariable of the CPU's
requested operating state (object 52, attribute 2167) stop (1) or start (3), a
"DLTransaction" sequence and CreateObject in the PLC program (object 3) program-download.
The V1 CreateObject answer gives the PLC's order number and firmware.

Sources: Wireshark's packet-s7comm.c (Thomas Wiens; PDU types, functions, userdata
groups, SZL record layouts), the S7comm-plus Wireshark plugin and S7CommPlusDriver
(Thomas Wiens; opcodes, function codes, object and attribute ids), snap7 (PI service
parameters), checked against the captures in s7comm/ and s7commplus/.
"""

from __future__ import annotations

import re
import struct
from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import guarded, tiles
from zonewarden.traffic.dissectors._common import text as _text
from zonewarden.traffic.dissectors._stream import INVALID, MAX_CARRY, NEED_MORE, frames, recall, remember
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PORTS = (102,)
_COTP_TYPES = frozenset((0xE0, 0xD0, 0xF0, 0x80, 0xC0))  # CR, CC, DT, DR, DC
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

ROSCTR = {1: "Job", 2: "Ack", 3: "Ack-Data", 7: "Userdata"}
FUNCTIONS: dict[int, tuple[str, str | None]] = {
    0x00: ("CPU services", None), 0x04: ("Read Var", "read"), 0x05: ("Write Var", "write"),
    0x1A: ("Request Download", "program-download"), 0x1B: ("Download Block", "program-download"),
    0x1C: ("Download Ended", "program-download"), 0x1D: ("Start Upload", "program-upload"),
    0x1E: ("Upload", "program-upload"), 0x1F: ("End Upload", "program-upload"), 0x28: ("PI-Service", None),
    0x29: ("PLC Stop", "stop"), 0xF0: ("Setup Communication", None),
}  # fmt: skip
PI_SERVICES: dict[str, tuple[str, str | None]] = {
    "_INSE": ("activate block", "program-download"), "_DELE": ("delete block", "program-download"),
    "_MODU": ("copy RAM to ROM", "program-download"), "_GARB": ("compress memory", None),
    "P_PROGRAM": ("start program", "start"),
}  # fmt: skip
BLOCK_TYPES = {"08": "OB", "0A": "DB", "0B": "SDB", "0C": "FC", "0D": "SFC", "0E": "FB", "0F": "SFB"}
AREAS = {0x81: "I", 0x82: "Q", 0x83: "M", 0x84: "DB", 0x85: "DI", 0x86: "L", 0x1C: "C", 0x1D: "T", 0x80: "P"}
MODES = {0: "STOP", 1: "Warm Restart", 2: "RUN", 3: "Hot Restart", 4: "HOLD", 6: "Cold Restart"}
# userdata (group, subfunction): (name, operation); (group, None) is the group's default
USERDATA: dict[tuple[int, int | None], tuple[str, str | None]] = {
    (1, None): ("Programmer commands", "diagnostics"), (1, 2): ("Variable status", "read"),
    (1, 8): ("Modify variable", "write"), (1, 9): ("Force", "write"), (1, 10): ("Breakpoint", "stop"),
    (1, 11): ("Exit HOLD", "start"), (1, 12): ("Memory reset", "restart"),
    (2, None): ("Cyclic services", "subscribe"), (2, 8): ("RDREC", "read"),
    (3, None): ("Block functions", "browse"), (3, 1): ("List blocks", "browse"),
    (3, 2): ("List blocks of type", "browse"), (3, 3): ("Get block info", "browse"),
    (4, None): ("CPU functions", "subscribe"), (4, 1): ("Read SZL", "diagnostics"),
    (4, 2): ("Message service", "subscribe"), (4, 3): ("Diagnostic message", "subscribe"),
    (4, 7): ("ALARM_8 lock", "operate"), (4, 8): ("ALARM_8 unlock", "operate"), (4, 11): ("ALARM ack", "operate"),
    (4, 19): ("ALARM query", "read"), (5, None): ("PLC password", None), (6, None): ("BSEND/BRECV", "write"),
    (7, None): ("Time functions", "diagnostics"), (7, 1): ("Read clock", "diagnostics"),
    (7, 2): ("Set clock", "time-sync"), (7, 3): ("Read clock (following)", "diagnostics"),
    (7, 4): ("Set clock", "time-sync"), (15, None): ("NC programming", "program-download"),
    (15, 6): ("NC start upload", "program-upload"), (15, 7): ("NC upload", "program-upload"),
    (15, 8): ("NC continue upload", "program-upload"),
}  # fmt: skip
SZL_MODULE = {1: "order_number", 7: "firmware"}
SZL_COMPONENT = {
    1: "name", 2: "module_name", 3: "plant_identification", 4: "copyright", 5: "serial", 7: "model",
    8: "memory_card_serial", 11: "location",
}  # fmt: skip

PLUS_VERSIONS = {1: "V1", 2: "V2", 3: "V3", 0xFE: "V254", 0xFF: "keep-alive"}
PLUS_OPCODES = {0x31: "request", 0x32: "response", 0x33: "notification", 0x02: "response"}
PLUS_FUNCTIONS: dict[int, tuple[str, str | None]] = {
    0x04B1: ("Error", None), 0x04BB: ("Explore", "browse"), 0x04CA: ("CreateObject", None),
    0x04D4: ("DeleteObject", None), 0x04F2: ("SetVariable", "write"), 0x04FC: ("GetVariable", "read"),
    0x0506: ("AddLink", None), 0x051A: ("RemoveLink", None), 0x0524: ("GetLink", "browse"),
    0x0542: ("SetMultiVariables", "write"), 0x054C: ("GetMultiVariables", "read"),
    0x0556: ("BeginSequence", None), 0x0560: ("EndSequence", None), 0x056B: ("Invoke", "call"),
    0x057C: ("SetVarSubStreamed", "write"), 0x0586: ("GetVarSubStreamed", "read"),
    0x0590: ("GetVariablesAddress", "read"), 0x059A: ("Abort", None),
}  # fmt: skip
CPU_EXEC_UNIT, OPERATING_STATE_REQ, LEGITIMATE, PLC_PROGRAM = 52, 2167, 1846, 3
SUBSCRIPTION_IDS = frozenset({*range(1001, 1006), *range(1037, 1055), 1081, 1082, 2659, 2660, 2662})
BLOCK_CLASSES = frozenset({2520, 2574, 2578, 2579, 2610, 3932})  # PLCProgram, DB, FB, FC, OB, UDT
SESSION_OBJECTS = (0x70000000, 0x80000000)  # objects a client created in its session (subscriptions, alarms)
_ORDER_FIRMWARE = re.compile(rb"(6E[SP]\d ?[0-9A-Z]{3}-[0-9A-Z]{5}-[0-9A-Z]{4}) ?;V(\d+(?:\.\d+)+)")


def _frame_length(data: bytes, offset: int) -> int:
    head = data[offset : offset + 4]
    if len(head) < 4:
        return NEED_MORE if head[:1] in (b"", b"\x03") and head[1:2] in (b"", b"\x00") else INVALID
    if head[0] != 3 or head[1] != 0:
        return INVALID
    length = _U16.unpack_from(head, 2)[0]
    return length if length >= 7 else INVALID


def _vlq(data: bytes, offset: int) -> tuple[int, int]:
    """An S7comm-plus unsigned variable-length integer: (value, next offset)."""
    value = 0
    for i in range(offset, min(offset + 5, len(data))):
        value = (value << 7) | (data[i] & 0x7F)
        if not data[i] & 0x80:
            return value, i + 1
    raise ValueError("truncated VLQ")


def _block(name: bytes) -> str:
    """'_0A00001P' -> 'DB1'."""
    raw = name.decode("ascii", "replace")
    if raw.startswith("_"):
        raw = raw[1:]
    kind = BLOCK_TYPES.get(raw[:2].upper(), raw[:2])
    number = raw[2:7]
    return f"{kind}{int(number)}" if number.isdigit() else raw


def _tpkt_frame(payload: bytes, pos: int) -> int:
    """The size of the TPKT (version 3) at ``pos`` with a COTP header of a known type, or 0."""
    if len(payload) - pos < 7 or payload[pos] != 3 or payload[pos + 1] != 0:
        return 0
    length = int.from_bytes(payload[pos + 2 : pos + 4], "big")
    cotp = payload[pos + 4]
    if length < 7 or cotp < 2 or 5 + cotp > length or payload[pos + 5] & 0xF0 not in _COTP_TYPES:
        return 0
    return length


class S7Dissector(Dissector):
    """S7comm and S7comm-plus; see the module docstring for what it extracts."""

    name: ClassVar[str] = "s7"
    tcp_ports: ClassVar[tuple[int, ...]] = PORTS
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = ((0, b"\x03\x00"),)

    @staticmethod
    def matches(payload: bytes) -> bool:
        """ISO-on-TCP (RFC 1006): TPKT headers (version 3) that exactly fill the segment, each with a COTP header
        of a known type (connection request/confirm, data, disconnect). S7comm and MMS share the port it stands
        for, and tell themselves apart."""
        return tiles(payload, _tpkt_frame)

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """A COTP connection request comes from the client, its confirm from the server; an S7 job from the
        client, an ack from the server."""
        kind = payload[5] & 0xF0
        if kind in (0xE0, 0xD0):
            return kind == 0xD0
        s7 = 5 + payload[4]
        if kind == 0xF0 and len(payload) > s7 + 1 and payload[s7] == 0x32 and payload[s7 + 1] in (1, 2, 3):
            return payload[s7 + 1] != 1
        return None

    @guarded("s7", PORTS)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        direction = f"{packet.src}:{packet.sport}"
        tpkts, garbage = frames(state, direction, packet.payload, _frame_length)
        out: list[Observation] = []
        segments: dict[str, bytes] = state.setdefault("cotp", {})
        for tpkt, complete in tpkts:
            if len(tpkt) < 7 or tpkt[5] & 0xF0 != 0xF0:  # COTP data (DT) only
                continue
            payload = segments.pop(direction, b"") + tpkt[5 + tpkt[4] :] if tpkt[4] >= 2 else b""
            if not tpkt[6] & 0x80:  # more COTP data units follow
                if len(payload) <= MAX_CARRY:
                    segments[direction] = payload
                continue
            protocol = {b"\x32": "s7", b"\x72": "s7comm-plus"}.get(payload[:1])
            if protocol is None:
                continue
            try:
                obs = self._s7(packet, state, payload) if protocol == "s7" else self._plus(packet, state, payload)
            except Exception as exc:  # one bad PDU must not hide the others of the segment
                obs = self._new(packet, protocol, {"error": type(exc).__name__})
                obs.message = "malformed"
            if obs is not None:
                if not complete:
                    obs.details["truncated"] = True
                out.append(obs)
        if garbage and not out and packet.payload[:1] in (b"\x03", b"\x32", b"\x72"):
            client, server, _ = self.sides(packet, PORTS)
            out.append(
                Observation(
                    "s7",
                    packet.number,
                    packet.time,
                    client,
                    server,
                    "malformed",
                    details={"error": "not a TPKT header"},
                )
            )
        return out

    def _new(self, packet: Packet, protocol: str, details: dict[str, Any]) -> Observation:
        client, server, request = self.sides(packet, PORTS)
        message = "request" if request else "response"
        return Observation(protocol, packet.number, packet.time, client, server, message, details=details)

    # -- S7comm --------------------------------------------------------------------------

    def _s7(self, packet: Packet, state: dict[str, Any], pdu: bytes) -> Observation | None:
        if len(pdu) < 10 or (pdu[1] in (2, 3) and len(pdu) < 12):
            obs = self._new(packet, "s7", {"error": "short header"})
            obs.message = "malformed"
            return obs
        rosctr, ref, plen, dlen = pdu[1], _U16.unpack_from(pdu, 4)[0], *struct.unpack_from(">HH", pdu, 6)
        hlen = 12 if rosctr in (2, 3) else 10
        param, data = pdu[hlen : hlen + plen], pdu[hlen + plen : hlen + plen + dlen]
        details: dict[str, Any] = {"rosctr": ROSCTR.get(rosctr, str(rosctr)), "pdu_ref": ref}
        obs = self._new(packet, "s7", details)
        if rosctr in (2, 3):
            obs.message = "response"
            if pdu[10] or pdu[11]:
                details["error"] = f"0x{pdu[10]:02x}{pdu[11]:02x}"
        if rosctr == 7:
            if len(param) >= 8:
                self._userdata(obs, state, param, data)
            else:
                obs.function, obs.details["truncated"] = "Userdata", True
            return obs
        if rosctr == 1 and param:
            obs.message = "request"
            self._job(obs, param)
            remember(state, ("s7", ref), (obs.function, obs.operation))
        elif rosctr in (2, 3):
            pending = recall(state, ("s7", ref))
            if pending:
                obs.function, obs.operation = pending
            elif param:
                obs.function, obs.operation = FUNCTIONS.get(param[0], (f"function 0x{param[0]:02X}", None))
        else:
            obs.function = ROSCTR.get(rosctr, f"ROSCTR {rosctr}")
        return obs

    def _job(self, obs: Observation, param: bytes) -> None:
        code = param[0]
        obs.function, obs.operation = FUNCTIONS.get(code, (f"function 0x{code:02X}", None))
        if code in (0x04, 0x05) and len(param) >= 2:
            items = param[2 : 2 + 12 * param[1]]
            areas = {AREAS.get(items[i + 8], f"0x{items[i + 8]:02x}") for i in range(0, len(items) - 11, 12)}
            dbs = {_U16.unpack_from(items, i + 6)[0] for i in range(0, len(items) - 11, 12) if items[i + 8] == 0x84}
            obs.details.update({"items": param[1], "areas": sorted(areas)})
            if dbs:
                obs.details["db"] = sorted(dbs)
        elif code in (0x1A, 0x1B, 0x1C, 0x1D) and len(param) > 9 and param[9:10] == b"_":
            obs.details["block"] = _block(param[9 : 9 + param[8]])
            if 8 + param[8] < len(param):
                obs.details["filesystem"] = chr(param[8 + param[8]])
        elif code == 0x28 and len(param) >= 11:
            block_len = _U16.unpack_from(param, 8)[0]
            block = param[10 : 10 + block_len]
            size = param[10 + block_len] if 10 + block_len < len(param) else 0
            service = param[11 + block_len : 11 + block_len + size].decode("ascii", "replace")
            nc_file = "file-transfer" if service.startswith("_N_F") else None
            what, obs.operation = PI_SERVICES.get(service, ("", nc_file))
            obs.function = f"PI-Service {service}" + (f" ({what})" if what else "")
            obs.details["pi_service"] = service
            if service in ("_INSE", "_DELE"):
                obs.details["blocks"] = [_block(block[i : i + 8]) for i in range(2, len(block) - 7, 8)]
            elif service == "P_PROGRAM":
                obs.details["restart"] = "cold" if b"C" in block else "warm"
        elif code == 0x29 and len(param) > 7:
            obs.details["pi_service"] = param[7 : 7 + param[6]].decode("ascii", "replace")
        elif code == 0xF0 and len(param) >= 8:
            obs.details["pdu_length"] = _U16.unpack_from(param, 6)[0]

    def _userdata(self, obs: Observation, state: dict[str, Any], param: bytes, data: bytes) -> None:
        kind, group, sub = param[5] >> 4, param[5] & 0x0F, param[6]
        obs.message = {4: "request", 8: "response", 0: "event", 3: "event", 7: "request", 11: "response"}.get(
            kind, obs.message
        )
        if group == 0:
            mode = MODES.get(sub, str(sub))
            obs.function, obs.details["mode"] = f"Mode transition: {mode}", mode
            return
        name, operation = USERDATA.get((group, sub)) or USERDATA.get((group, None), (f"group {group}", None))
        obs.function, obs.operation = f"{name} ({group}/{sub})", operation
        if not (group == 4 and sub == 1) or len(data) < 4:
            return
        last = param[9] if param[3] >= 8 and len(param) > 9 else 0
        unit = (obs.server, param[8] if param[3] >= 8 and len(param) > 8 else None)
        fragments: dict[Any, list[Any]] = state.setdefault("szl", {})
        if obs.message == "request":
            if len(data) >= 8 and data[0] == 0xFF:
                szl_id, index = struct.unpack_from(">HH", data, 4)
                obs.function = f"Read SZL 0x{szl_id:04X} index 0x{index:04X}"
                obs.details.update({"szl_id": f"0x{szl_id:04X}", "szl_index": f"0x{index:04X}"})
            return
        if data[0] != 0xFF:
            obs.details["return_code"] = data[0]
            return
        body = data[4 : 4 + _U16.unpack_from(data, 2)[0]]
        if unit in fragments:
            fragments[unit][1] += body
            szl_id, records = fragments[unit]
        elif len(body) >= 8:
            szl_id = _U16.unpack_from(body, 0)[0]
            records = body[4:]
        else:
            return
        obs.function = f"Read SZL 0x{szl_id:04X}"
        obs.details["szl_id"] = f"0x{szl_id:04X}"
        if last and len(fragments) < 16:
            fragments[unit] = [szl_id, records]
            return
        fragments.pop(unit, None)
        self._szl_identity(obs, szl_id & 0xFF, records)

    @staticmethod
    def _szl_identity(obs: Observation, family: int, records: bytes) -> None:
        if family not in (0x11, 0x1C) or len(records) < 4:
            return
        size, count = struct.unpack_from(">HH", records, 0)
        if size < 4:
            return
        identity: dict[str, str] = {}
        for at in range(4, min(len(records), 4 + size * count) - size + 1, size):
            index = _U16.unpack_from(records, at)[0]
            if family == 0x11 and size >= 28 and index in SZL_MODULE:
                ausbg, ausbe = struct.unpack_from(">HH", records, at + 24)
                if index == 1:
                    identity["order_number"] = _text(records[at + 2 : at + 22])
                elif ausbg >> 8 == ord("V"):
                    identity["firmware"] = f"V{ausbg & 0xFF}.{ausbe >> 8}.{ausbe & 0xFF}"
            elif family == 0x1C and index in SZL_COMPONENT:
                identity[SZL_COMPONENT[index]] = _text(records[at + 2 : at + size])
        identity = {key: value for key, value in identity.items() if value}
        if identity:
            obs.identity = {"vendor": "Siemens", **identity}
            obs.identity_of = obs.server

    # -- S7comm-plus ---------------------------------------------------------------------

    def _plus(self, packet: Packet, state: dict[str, Any], pdu: bytes) -> Observation | None:
        version, length = pdu[1], _U16.unpack_from(pdu, 2)[0]
        data = pdu[4 : 4 + length]
        if version == 3 and data[:1] == b"\x20":  # integrity part: digest length and digest
            data = data[33:]
        details: dict[str, Any] = {"version": PLUS_VERSIONS.get(version, f"0x{version:02x}")}
        obs = self._new(packet, "s7comm-plus", details)
        if version == 0xFF or not data:
            obs.function = "Keep-alive" if version == 0xFF else "empty"
            return obs
        opcode = data[0]
        if opcode not in PLUS_OPCODES:
            return None  # continuation of a PDU fragmented over several TPKTs
        details["opcode"] = PLUS_OPCODES[opcode]
        if opcode == 0x33:
            obs.message, obs.function, obs.operation = "event", "Notification", "subscribe"
            return obs
        if len(data) < 9:
            obs.function, details["truncated"] = "truncated", True
            return obs
        code, sequence = _U16.unpack_from(data, 3)[0], _U16.unpack_from(data, 7)[0]
        name, operation = PLUS_FUNCTIONS.get(code, (f"function 0x{code:04X}", None))
        details.update({"function_code": f"0x{code:04X}", "sequence": sequence})
        if opcode == 0x31:
            obs.message = "request"
            session = _U32.unpack_from(data, 9)[0]
            name, operation = self._plus_request(version, code, session, data[14:], name, operation)
            obs.function, obs.operation = name, operation
            remember(state, ("plus", sequence), (name, operation))
            return obs
        obs.message = "response"
        pending = recall(state, ("plus", sequence))
        obs.function, obs.operation = pending if pending else (name, operation)
        if code == 0x04CA and version == 1:
            found = _ORDER_FIRMWARE.search(pdu)
            if found:
                obs.identity = {
                    "vendor": "Siemens",
                    "order_number": found.group(1).decode("ascii"),
                    "firmware": "V" + found.group(2).decode("ascii"),
                }
                obs.identity_of = obs.server
        return obs

    @staticmethod
    def _plus_request(
        version: int, code: int, session: int, body: bytes, name: str, operation: str | None
    ) -> tuple[str, str | None]:
        """Refine the operation of an S7comm-plus request from the objects it addresses."""
        target = _U32.unpack_from(body, 0)[0] if len(body) >= 4 else None
        if code == 0x04CA:
            if version == 1:
                return "CreateObject (session)", None
            start = body.find(b"\xa1", 4, 24)
            cls = _vlq(body, start + 5)[0] if start > 0 else None
            if cls in SUBSCRIPTION_IDS:
                return name, "subscribe"
            if target == PLC_PROGRAM or cls in BLOCK_CLASSES:
                return "CreateObject (program block)", "program-download"
        elif code == 0x0556 and b"DLTransaction" in body:
            return "BeginSequence (DLTransaction)", "program-download"
        elif code in (0x04F2, 0x0542) and target is not None:
            if target and target == session:
                return f"{name} (session)", None
            if code == 0x04F2:
                _count, at = _vlq(body, 4)
                address, at = _vlq(body, at)
                if target == CPU_EXEC_UNIT and address == OPERATING_STATE_REQ and at + 2 < len(body):
                    value = body[at + 2]
                    requested = {1: "stop", 3: "start"}.get(value)
                    return f"SetVariable (operating state request {value})", requested or "operate"
                if address == LEGITIMATE:
                    return "SetVariable (legitimation)", None
                if address in SUBSCRIPTION_IDS or SESSION_OBJECTS[0] <= target < SESSION_OBJECTS[1]:
                    return "SetVariable (subscription)", "subscribe"
        return name, operation


DISSECTOR = S7Dissector()
