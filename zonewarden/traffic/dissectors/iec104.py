"""IEC 60870-5-104 on TCP port 2404.

Contract: ``DISSECTOR.dissect(packet, state)`` takes one TCP segment and returns one
:class:`Observation` per APDU in it (several APDUs per segment are common; an APDU cut
at the end of a segment is completed from the next segment of the same direction).
It never raises.

Decoded: the APCI (start 0x68, length, the four control octets: I-format with send
and receive sequence numbers, S-format with the receive sequence number, U-format
STARTDT/STOPDT/TESTFR act/con) and, for I-format, the ASDU header: type
identification with its IEC name (e.g. ``C_SC_NA_1``), variable structure qualifier
(SQ bit, number of objects), cause of transmission with its name plus the P/N
(negative confirm) and T (test) bits, originator address, the 2-octet common
address and the first information object address. Commands also give their
select/execute bit, interrogations their qualifier.

Operations: commands (45-51, 58-64) ``operate``; interrogation, counter
interrogation and read (100-102) ``read``; clock synchronisation (103) and delay
acquisition (106) ``time-sync``; test commands (104, 107) ``diagnostics``; reset
process (105) ``restart``; parameter loading (110-113) ``write``; file transfer
(120-127) ``file-transfer``; monitor-direction information (1-44) ``read``.
Confirmations carry the operation of what they confirm. The client is the
controlling station (the side connecting to port 2404); I-format APDUs of the
controlled station give its common address as ``identity`` (``iec104_common_address``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import guarded, malformed, tiles
from zonewarden.traffic.dissectors._stream import StreamBuffer
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "iec104"
PORT = 2404
_U_FRAMES = frozenset((0x07, 0x0B, 0x13, 0x23, 0x43, 0x83))

TYPE_NAMES: dict[int, str] = {
    1: "M_SP_NA_1", 2: "M_SP_TA_1", 3: "M_DP_NA_1", 4: "M_DP_TA_1", 5: "M_ST_NA_1", 6: "M_ST_TA_1",
    7: "M_BO_NA_1", 8: "M_BO_TA_1", 9: "M_ME_NA_1", 10: "M_ME_TA_1", 11: "M_ME_NB_1", 12: "M_ME_TB_1",
    13: "M_ME_NC_1", 14: "M_ME_TC_1", 15: "M_IT_NA_1", 16: "M_IT_TA_1", 17: "M_EP_TA_1", 18: "M_EP_TB_1",
    19: "M_EP_TC_1", 20: "M_PS_NA_1", 21: "M_ME_ND_1", 30: "M_SP_TB_1", 31: "M_DP_TB_1", 32: "M_ST_TB_1",
    33: "M_BO_TB_1", 34: "M_ME_TD_1", 35: "M_ME_TE_1", 36: "M_ME_TF_1", 37: "M_IT_TB_1", 38: "M_EP_TD_1",
    39: "M_EP_TE_1", 40: "M_EP_TF_1", 41: "S_IT_TC_1",
    45: "C_SC_NA_1", 46: "C_DC_NA_1", 47: "C_RC_NA_1", 48: "C_SE_NA_1", 49: "C_SE_NB_1", 50: "C_SE_NC_1",
    51: "C_BO_NA_1", 58: "C_SC_TA_1", 59: "C_DC_TA_1", 60: "C_RC_TA_1", 61: "C_SE_TA_1", 62: "C_SE_TB_1",
    63: "C_SE_TC_1", 64: "C_BO_TA_1", 70: "M_EI_NA_1",
    81: "S_CH_NA_1", 82: "S_RP_NA_1", 83: "S_AR_NA_1", 84: "S_KR_NA_1", 85: "S_KS_NA_1", 86: "S_KC_NA_1",
    87: "S_ER_NA_1", 90: "S_US_NA_1", 91: "S_UQ_NA_1", 92: "S_UR_NA_1", 93: "S_UK_NA_1", 94: "S_UA_NA_1",
    95: "S_UC_NA_1",
    100: "C_IC_NA_1", 101: "C_CI_NA_1", 102: "C_RD_NA_1", 103: "C_CS_NA_1", 104: "C_TS_NA_1", 105: "C_RP_NA_1",
    106: "C_CD_NA_1", 107: "C_TS_TA_1", 110: "P_ME_NA_1", 111: "P_ME_NB_1", 112: "P_ME_NC_1", 113: "P_AC_NA_1",
    120: "F_FR_NA_1", 121: "F_SR_NA_1", 122: "F_SC_NA_1", 123: "F_LS_NA_1", 124: "F_AF_NA_1", 125: "F_SG_NA_1",
    126: "F_DR_TA_1", 127: "F_SC_NB_1",
}  # fmt: skip

CAUSES: dict[int, str] = {
    1: "per/cyc", 2: "back", 3: "spont", 4: "init", 5: "req", 6: "act", 7: "actcon", 8: "deact", 9: "deactcon",
    10: "actterm", 11: "retrem", 12: "retloc", 13: "file", 14: "auth", 15: "seskey", 16: "usrkey", 20: "inrogen",
    **{20 + g: f"inro{g}" for g in range(1, 17)},
    37: "reqcogen", 38: "reqco1", 39: "reqco2", 40: "reqco3", 41: "reqco4",
    44: "unknown type id", 45: "unknown cause", 46: "unknown common address", 47: "unknown object address",
}  # fmt: skip

U_FUNCTIONS = {
    0x07: "STARTDT act",
    0x0B: "STARTDT con",
    0x13: "STOPDT act",
    0x23: "STOPDT con",
    0x43: "TESTFR act",
    0x83: "TESTFR con",
}

# octets of the information element before the qualifier holding the S/E bit, by command type
_SE_OFFSET = {45: 0, 46: 0, 47: 0, 48: 2, 49: 2, 50: 4, 58: 0, 59: 0, 60: 0, 61: 2, 62: 2, 63: 4}
MAX_APDU = 255


def operation_of(type_id: int) -> str | None:
    """The shared-vocabulary operation of an ASDU type."""
    if 45 <= type_id <= 64:
        return "operate"
    if type_id in (100, 101, 102):
        return "read"
    if type_id in (103, 106):
        return "time-sync"
    if type_id in (104, 107):
        return "diagnostics"
    if type_id == 105:
        return "restart"
    if 110 <= type_id <= 113:
        return "write"
    if 120 <= type_id <= 127:
        return "file-transfer"
    if 1 <= type_id <= 44:
        return "read"
    return None


def _message(type_id: int, cause: int, from_client: bool) -> str:
    if cause in (6, 8):
        return "request"
    if cause in (7, 9, 10) or cause >= 44:
        return "response"
    if cause in (1, 2, 3, 4, 11, 12) and (type_id < 45 or type_id == 70):
        return "event"
    if 20 <= cause <= 41 or cause == 5:
        return "response" if not from_client else "request"
    return "request" if from_client else "response"


def _apci_frame(payload: bytes, pos: int) -> int:
    """The size of the well-formed APCI frame at ``pos`` (a U frame with one function bit, an S frame, or an
    I frame with an ASDU), or 0."""
    if len(payload) - pos < 6 or payload[pos] != 0x68:
        return 0
    length, control = payload[pos + 1], payload[pos + 2]
    if not 4 <= length <= 253 or pos + 2 + length > len(payload):
        return 0
    if control & 3 == 3:  # U: exactly one of STARTDT/STOPDT/TESTFR act or con, nothing else
        if control not in _U_FRAMES or length != 4 or payload[pos + 3 : pos + 6] != b"\0\0\0":
            return 0
    elif control & 3 == 1:  # S: the receive sequence number only
        if control != 1 or length != 4 or payload[pos + 3] != 0:
            return 0
    elif length < 4 + 6:  # I: an ASDU of at least its header
        return 0
    return 2 + length


class IEC104Dissector(Dissector):
    """APCI and ASDU headers of IEC 60870-5-104 (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = (PORT,)
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = ((0, b"\x68"),)

    @staticmethod
    def matches(payload: bytes) -> bool:
        """APCI frames (start byte 0x68, the length of the rest) that exactly fill the segment, each a well-formed
        U frame (one function bit), S frame or I frame with an ASDU."""
        return tiles(payload, _apci_frame)

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """STARTDT/STOPDT activations come from the controlling station, confirmations from the outstation;
        an I frame's cause of transmission tells the direction (activation and deactivation from the
        controlling station; confirmations, terminations and monitoring causes from the outstation)."""
        control = payload[2]
        if control & 3 == 3:
            return None if control in (0x43, 0x83) else control in (0x0B, 0x23)
        if control & 1 or len(payload) < 9:
            return None
        cause = payload[8] & 0x3F
        if cause in (6, 8):
            return False
        if cause in (1, 2, 3, 7, 9, 10, 11, 12, 20) or 44 <= cause <= 47 or 21 <= cause <= 36:
            return True
        return None

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        """Every APDU of the segment (see the module docstring)."""
        if not packet.payload:
            return []
        stream = StreamBuffer(state, "iec104_stream", MAX_APDU)
        data = stream.feed(packet, packet.payload[0] == 0x68)
        client, server, from_client = self.sides(packet, (PORT,))
        out: list[Observation] = []
        pos = 0
        while pos < len(data):
            if data[pos] != 0x68:
                out.append(malformed(PROTOCOL, packet, f"no start octet 0x68 at {pos}", client, server))
                break
            if len(data) - pos < 2:
                stream.keep(packet, data[pos:])
                break
            length = data[pos + 1]
            if length < 4:
                out.append(malformed(PROTOCOL, packet, f"APDU length {length} < 4", client, server))
                break
            if len(data) - pos < length + 2:
                stream.keep(packet, data[pos:])
                break
            out.append(self._apdu(packet, data[pos + 2 : pos + 2 + length], client, server, from_client))
            pos += length + 2
        return out

    def _apdu(self, packet: Packet, apdu: bytes, client: str, server: str, from_client: bool) -> Observation:
        obs = Observation(
            protocol=PROTOCOL,
            packet=packet.number,
            time=packet.time,
            client=client,
            server=server,
            message="request" if from_client else "response",
        )
        c1, c2, c3, c4 = apdu[0], apdu[1], apdu[2], apdu[3]
        details = obs.details
        if c1 & 0x01 == 0:
            details.update(format="I", tx_seq=(c1 | c2 << 8) >> 1, rx_seq=(c3 | c4 << 8) >> 1)
        elif c1 & 0x03 == 0x01:
            details.update(format="S", rx_seq=(c3 | c4 << 8) >> 1)
            obs.function = "S-format (receive ack)"
            return obs
        else:
            details["format"] = "U"
            obs.function = U_FUNCTIONS.get(c1, f"U-format 0x{c1:02x}")
            obs.message = "request" if c1 in (0x07, 0x13, 0x43) else "response"
            return obs
        asdu = apdu[4:]
        if len(asdu) < 6:
            obs.message = "malformed"
            details["reason"] = f"ASDU of {len(asdu)} octets"
            return obs
        type_id, vsq, cot, originator = asdu[0], asdu[1], asdu[2], asdu[3]
        cause = cot & 0x3F
        type_name = TYPE_NAMES.get(type_id, f"type {type_id}")
        details.update(
            type_id=type_id,
            type_name=type_name,
            sq=int(bool(vsq & 0x80)),
            objects=vsq & 0x7F,
            cause=cause,
            cause_name=CAUSES.get(cause, f"cause {cause}"),
            negative=int(bool(cot & 0x40)),
            test=int(bool(cot & 0x80)),
            originator=originator,
            common_address=asdu[4] | asdu[5] << 8,
        )
        obs.function = f"{type_name} ({type_id})"
        obs.operation = operation_of(type_id)
        obs.message = _message(type_id, cause, from_client)
        if not from_client:  # the controlled station names its common address
            obs.identity, obs.identity_of = {"iec104_common_address": str(details["common_address"])}, server
        if 81 <= type_id <= 95:
            details["secure_authentication"] = True
        body = asdu[6:]
        if len(body) >= 3:
            details["ioa"] = body[0] | body[1] << 8 | body[2] << 16
        qualifier_at = _SE_OFFSET.get(type_id)
        if qualifier_at is not None and len(body) > 3 + qualifier_at:
            details["select"] = int(bool(body[3 + qualifier_at] & 0x80))
        elif type_id in (100, 101, 105) and len(body) > 3:
            details["qualifier"] = body[3]
        return obs


DISSECTOR = IEC104Dissector()
