"""MMS (ISO 9506, the IEC 61850 client/server protocol) over ISO-on-TCP port 102.

Contract: ``DISSECTOR.dissect(packet, state)`` returns one observation per MMS PDU
found in the TPKT/COTP data TPDUs of a TCP segment and never raises. Port 102 is
shared with S7comm: COTP data starting with the S7 protocol ids 0x32 / 0x72, COTP
connection TPDUs and anything that is not MMS give no observation at all.

Decoded: TPKT (several per segment; a TPKT cut at the segment end, or a TPKT header
sent alone, is completed from the next segment of that direction), COTP DT with
reassembly of segmented TSDUs (EOT bit), then the MMS PDU, either directly after
COTP or inside the session (CN/AC/DT SPDU) + presentation (fully-encoded user data,
``presentation-context-identifier`` + ``single-ASN1-type``) + ACSE layers. The MMS
PDU kinds: initiate request/response/error, confirmed request/response/error
(invoke id and the confirmed service: name and operation), unconfirmed (information
report etc. -> ``event``/``subscribe``), reject, cancel and conclude. An Identify
response gives the server's ``identity``: ``vendor``, ``model``, ``firmware``
(revision).
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._ber import ber_children, ber_int, ber_tlv
from zonewarden.traffic.dissectors._common import Truncated, guarded, observation, text
from zonewarden.traffic.dissectors._stream import StreamBuffer
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "iec61850-mms"
PORT = 102
MAX_PDU = 65536

PDUS = {
    0: "confirmed-RequestPDU", 1: "confirmed-ResponsePDU", 2: "confirmed-ErrorPDU", 3: "unconfirmed-PDU",
    4: "rejectPDU", 5: "cancel-RequestPDU", 6: "cancel-ResponsePDU", 7: "cancel-ErrorPDU",
    8: "initiate-RequestPDU", 9: "initiate-ResponsePDU", 10: "initiate-ErrorPDU",
    11: "conclude-RequestPDU", 12: "conclude-ResponsePDU", 13: "conclude-ErrorPDU",
}  # fmt: skip
_REQUESTS = {0, 5, 8, 11}
_OPERATIONS = {
    "read": (4, 17, 63, 64, 65),
    "write": (3, 5, 7, 10, 11, 13, 14, 16, 18, 47, 48, 51, 53, 54, 66, 67, 69, 70),
    "browse": (1, 6, 8, 9, 12, 15, 37, 45, 49, 55, 61),
    "diagnostics": (0, 2, 23, 24, 25, 50, 56, 60, 68, 71),
    "operate": (19, 20, 21, 22, 52),
    "program-download": (26, 27, 28, 32, 34, 36, 38, 39),
    "program-upload": (29, 30, 31, 33, 35),
    "start": (40, 42),
    "stop": (41, 44),
    "restart": (43,),
    "file-transfer": (46, 72, 73, 74, 75, 76, 77),
    "subscribe": (57, 58, 59, 62),
}
SERVICE_OPERATION = {number: op for op, numbers in _OPERATIONS.items() for number in numbers}
SERVICES = (
    "status", "getNameList", "identify", "rename", "read", "write", "getVariableAccessAttributes",
    "defineNamedVariable", "defineScatteredAccess", "getScatteredAccessAttributes", "deleteVariableAccess",
    "defineNamedVariableList", "getNamedVariableListAttributes", "deleteNamedVariableList", "defineNamedType",
    "getNamedTypeAttributes", "deleteNamedType", "input", "output", "takeControl", "relinquishControl",
    "defineSemaphore", "deleteSemaphore", "reportSemaphoreStatus", "reportPoolSemaphoreStatus",
    "reportSemaphoreEntryStatus", "initiateDownloadSequence", "downloadSegment", "terminateDownloadSequence",
    "initiateUploadSequence", "uploadSegment", "terminateUploadSequence", "requestDomainDownload",
    "requestDomainUpload", "loadDomainContent", "storeDomainContent", "deleteDomain", "getDomainAttributes",
    "createProgramInvocation", "deleteProgramInvocation", "start", "stop", "resume", "reset", "kill",
    "getProgramInvocationAttributes", "obtainFile", "defineEventCondition", "deleteEventCondition",
    "getEventConditionAttributes", "reportEventConditionStatus", "alterEventConditionMonitoring", "triggerEvent",
    "defineEventAction", "deleteEventAction", "getEventActionAttributes", "reportEventActionStatus",
    "defineEventEnrollment", "deleteEventEnrollment", "alterEventEnrollment", "reportEventEnrollmentStatus",
    "getEventEnrollmentAttributes", "acknowledgeEventNotification", "getAlarmSummary",
    "getAlarmEnrollmentSummary", "readJournal", "writeJournal", "initializeJournal", "reportJournalStatus",
    "createJournal", "deleteJournal", "getCapabilityList", "fileOpen", "fileRead", "fileClose", "fileRename",
    "fileDelete", "fileDirectory",
)  # fmt: skip
UNCONFIRMED = {0: "informationReport", 1: "unsolicitedStatus", 2: "eventNotification"}
_S7_IDS = (0x32, 0x72)
_SESSION_SPDUS = {
    0x0D: "CONNECT",
    0x0E: "ACCEPT",
    0x01: "DATA TRANSFER",
    0x09: "FINISH",
    0x0A: "DISCONNECT",
    0x19: "ABORT",
    0x0C: "REFUSE",
}


def find_mms(user: bytes) -> int | None:
    """Offset of the MMS PDU in COTP user data (after session/presentation/ACSE), or None."""
    if not user:
        return None
    if user[0] in _S7_IDS:
        return None
    if user[0] in _SESSION_SPDUS and len(user) > 2:
        pos = 0
        while True:
            pos = user.find(b"\x02\x01", pos)
            if pos < 0 or pos + 4 > len(user):
                return None
            if user[pos + 3] == 0xA0:
                try:
                    _, _, start, _ = ber_tlv(user, pos + 3)
                    first, number, _, _ = ber_tlv(user, start)
                except Truncated:
                    first, number, start = 0, -1, 0
                if first & 0xC0 == 0x80 and number in PDUS:
                    return start
            pos += 2
    first = user[0]
    if first & 0xC0 == 0x80 and (first & 0x1F) in PDUS:
        return 0
    return None


class MmsDissector(Dissector):
    """MMS over TPKT/COTP (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = (PORT,)

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        payload = bytes(packet.payload)
        if not payload:
            return []
        stream = StreamBuffer(state, "mms_stream", MAX_PDU)
        data = stream.feed(packet, payload[:2] == b"\x03\x00")
        out: list[Observation] = []
        pos = 0
        while pos < len(data) and len(out) < 64:
            if data[pos] != 3 or len(data) - pos < 4:
                if data[pos] == 3:
                    stream.keep(packet, data[pos:])
                break
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if length < 7:
                break
            if len(data) - pos < length:
                stream.keep(packet, data[pos:])
                break
            obs = self._tpdu(packet, state, data[pos + 4 : pos + length])
            if obs is not None:
                out.append(obs)
            pos += length
        return out

    def _tpdu(self, packet: Packet, state: dict[str, Any], cotp: bytes) -> Observation | None:
        li = cotp[0]
        if len(cotp) < 3 or cotp[1] & 0xF0 != 0xF0 or li + 1 > len(cotp):
            return None  # only data TPDUs carry MMS
        eot = bool(cotp[2] & 0x80)
        key = (packet.src, packet.sport)
        fragments: dict[Any, bytes] = state.setdefault("mms_tsdu", {})
        user = fragments.pop(key, b"") + cotp[li + 1 :]
        if not eot:
            if len(user) <= MAX_PDU:
                fragments[key] = user
            return None
        at = find_mms(user)
        if at is None:
            return None
        return self._pdu(packet, user, at)

    def _pdu(self, packet: Packet, data: bytes, at: int) -> Observation | None:
        first, kind, start, end = ber_tlv(data, at)
        if first & 0xC0 != 0x80:
            return None
        client, server, _ = self.sides(packet, (PORT,))
        pdu = PDUS.get(kind, f"PDU {kind}")
        details: dict[str, Any] = {"pdu": pdu}
        message = "request" if kind in _REQUESTS else "response"
        operation: str | None = None
        function = pdu
        identity: dict[str, str] = {}
        if kind in (0, 1, 2) and first & 0x20:
            children = list(ber_children(data, start, end))
            if children and children[0][0] == 0x02:
                details["invoke_id"] = ber_int(data[children[0][2] : children[0][3]])
            service = next((c for c in children[1:] if c[0] & 0xC0 == 0x80), None)
            if service is not None and kind in (0, 1):
                number = service[1]
                name = SERVICES[number] if number < len(SERVICES) else f"service {number}"
                details["service"] = name
                operation = SERVICE_OPERATION.get(number)
                function = f"{name} ({number})"
                if kind == 1 and number == 2 and service[0] & 0x20:
                    identity = self._identify(data, service[2], service[3])
        elif kind == 3 and first & 0x20:
            message, operation = "event", "subscribe"
            children = list(ber_children(data, start, end))
            service = next((c for c in children if c[0] & 0xC0 == 0x80), None)
            if service is not None:
                function = UNCONFIRMED.get(service[1], f"unconfirmed service {service[1]}")
                details["service"] = function
        elif kind in (8, 9) and first & 0x20:
            for cls, num, vstart, vend in ber_children(data, start, end):
                if num == 0 and not cls & 0x20:
                    details["local_detail"] = ber_int(data[vstart:vend])
                elif num == 4 and cls & 0x20:
                    for c2, n2, s2, e2 in ber_children(data, vstart, vend):
                        if n2 == 0 and not c2 & 0x20:
                            details["version"] = ber_int(data[s2:e2])
        elif kind in (5, 6) and not first & 0x20:
            details["invoke_id"] = ber_int(data[start:end])
        return observation(
            PROTOCOL, packet, client, server, message=message, operation=operation, function=function,
            identity=identity, identity_of=server if identity else None, details=details,
        )  # fmt: skip

    @staticmethod
    def _identify(data: bytes, start: int, end: int) -> dict[str, str]:
        keys = {0: "vendor", 1: "model", 2: "firmware"}
        found: dict[str, str] = {}
        for cls, num, vstart, vend in ber_children(data, start, end):
            if num in keys and not cls & 0x20:
                value = text(data[vstart:vend], "latin-1")
                if value:
                    found[keys[num]] = value
        return found


DISSECTOR = MmsDissector()
