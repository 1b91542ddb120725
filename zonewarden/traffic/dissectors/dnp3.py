"""DNP3 (IEEE 1815) over TCP or UDP port 20000.

Contract: ``DISSECTOR.dissect(packet, state)`` takes one TCP segment or UDP datagram
and returns one :class:`Observation` per DNP3 link frame that carries the first
transport segment (FIR) of an application fragment, plus one per link-layer-only
frame (reset link, link status...). It never raises.

Decoded: link layer (start 0x0564, length, control with DIR/PRM/FCB/FCV and the
link function, destination and source addresses, little endian; the CRC after the
header and after every 16 data bytes is stripped and checked, bad ones are counted
in ``details["bad_crc"]``; a frame whose header CRC fails is ``malformed``, since its
addresses and length cannot be trusted: IEEE 1815 and Wireshark discard it), transport
header (FIR/FIN/sequence) and the application header (control, function code, IIN bits of responses) plus the
object headers (group/variation) the fragment starts with. Several link frames per
segment are handled, and a frame cut at the end of a segment is completed from the
next segment of the same direction.

Sides: the master (``client``) is the station sending with DIR=1. ``details``
carries ``master`` and ``outstation`` DNP3 addresses and ``src``/``dst`` of the frame.
Responses get the operation of the request they answer (matched per outstation and
application sequence number); unsolicited responses are ``event``/``subscribe``.
Function-to-operation choices beyond the obvious ones: freeze functions are
``operate`` (they change counters), Initialize Data is ``write``, Initialize
Application is ``restart``, Activate Configuration is ``program-download``, Assign
Class is ``write``, Enable/Disable Unsolicited are ``subscribe``, and a Write of
group 50 (time and date) is ``time-sync``, of group 70 (file control) ``file-transfer``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import Reader, Truncated, guarded, malformed
from zonewarden.traffic.dissectors._stream import StreamBuffer
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "dnp3"
PORT = 20000
MAX_FRAME = 292  # 10 header bytes + 250 data bytes + 16 data CRCs

FUNCTIONS: dict[int, tuple[str, str | None]] = {
    0: ("Confirm", None),
    1: ("Read", "read"),
    2: ("Write", "write"),
    3: ("Select", "operate"),
    4: ("Operate", "operate"),
    5: ("Direct Operate", "operate"),
    6: ("Direct Operate No Ack", "operate"),
    7: ("Immediate Freeze", "operate"),
    8: ("Immediate Freeze No Ack", "operate"),
    9: ("Freeze and Clear", "operate"),
    10: ("Freeze and Clear No Ack", "operate"),
    11: ("Freeze with Time", "operate"),
    12: ("Freeze with Time No Ack", "operate"),
    13: ("Cold Restart", "restart"),
    14: ("Warm Restart", "restart"),
    15: ("Initialize Data", "write"),
    16: ("Initialize Application", "restart"),
    17: ("Start Application", "start"),
    18: ("Stop Application", "stop"),
    19: ("Save Configuration", "write"),
    20: ("Enable Unsolicited", "subscribe"),
    21: ("Disable Unsolicited", "subscribe"),
    22: ("Assign Class", "write"),
    23: ("Delay Measurement", "time-sync"),
    24: ("Record Current Time", "time-sync"),
    25: ("Open File", "file-transfer"),
    26: ("Close File", "file-transfer"),
    27: ("Delete File", "file-transfer"),
    28: ("Get File Info", "file-transfer"),
    29: ("Authenticate File", "file-transfer"),
    30: ("Abort File", "file-transfer"),
    31: ("Activate Configuration", "program-download"),
    32: ("Authentication Request", None),
    33: ("Authentication Request No Ack", None),
    129: ("Response", None),
    130: ("Unsolicited Response", "subscribe"),
    131: ("Authentication Response", None),
}

PRIMARY_LINK = {
    0: "Reset Link States",
    1: "Reset User Process",
    2: "Test Link States",
    3: "Confirmed User Data",
    4: "Unconfirmed User Data",
    9: "Request Link Status",
}
SECONDARY_LINK = {0: "ACK", 1: "NACK", 11: "Link Status", 14: "Link Not Functioning", 15: "Link Not Supported"}

IIN_FLAGS = (
    "broadcast", "class1_events", "class2_events", "class3_events",
    "need_time", "local_control", "device_trouble", "device_restart",
    "no_func_code_support", "object_unknown", "parameter_error", "event_buffer_overflow",
    "already_executing", "config_corrupt", "reserved_2", "reserved_1",
)  # fmt: skip

# Range field size by object header qualifier code (low nibble); None: no range field
_RANGE_SIZE = {0: 2, 1: 4, 2: 8, 3: 2, 4: 4, 5: 8, 6: 0, 7: 1, 8: 2, 9: 4, 0xB: 1}


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA6BC if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc_dnp(data: bytes | memoryview) -> int:
    """The DNP3 link-layer CRC (polynomial 0x3D65, reflected, complemented)."""
    crc = 0
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return ~crc & 0xFFFF


def frame_size(length: int) -> int:
    """Bytes on the wire of a link frame whose LENGTH field is ``length`` (>= 5)."""
    data = length - 5
    return 10 + data + 2 * ((data + 15) // 16)


def _object_headers(data: bytes, offset: int, all_headers: bool) -> list[str]:
    """``g<group>v<variation>`` of the object headers from ``offset``: all of them when the
    request carries no object data (read), else only the first."""
    found: list[str] = []
    r = Reader(data, offset)
    try:
        while r.remaining >= 3 and len(found) < 32:
            group, variation, qualifier = r.u8(), r.u8(), r.u8()
            found.append(f"g{group}v{variation}")
            size = _RANGE_SIZE.get(qualifier & 0x0F)
            if not all_headers or size is None:
                break
            r.skip(size)
    except Truncated:
        pass
    return found


class DNP3Dissector(Dissector):
    """Link, transport and application headers of DNP3 (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = (PORT,)
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = ((0, b"\x05\x64"),)

    @staticmethod
    def matches(payload: bytes) -> bool:
        """A link frame header: start bytes 0x05 0x64, a length of at least 5, and its CRC."""
        return (
            len(payload) >= 10
            and payload[0:2] == b"\x05\x64"
            and payload[2] >= 5
            and crc_dnp(payload[:8]) == int.from_bytes(payload[8:10], "little")
        )

    udp_ports: ClassVar[tuple[int, ...]] = (PORT,)

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """The link control's DIR bit: set on frames from the master."""
        return not payload[3] & 0x80

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        """Every DNP3 link frame of the payload (see the module docstring)."""
        payload = packet.payload
        if not payload:
            return []
        stream = StreamBuffer(state, "dnp3_stream", MAX_FRAME) if packet.transport == "tcp" else None
        data = stream.feed(packet, payload[:2] == b"\x05\x64") if stream else bytes(payload)
        out: list[Observation] = []
        pos, skipped = 0, 0
        while pos < len(data):
            if data[pos : pos + 2] != b"\x05\x64":
                nxt = data.find(b"\x05\x64", pos + 1)
                skipped += (len(data) if nxt < 0 else nxt) - pos
                if nxt < 0:
                    break
                pos = nxt
                continue
            if len(data) - pos < 10:
                if stream:
                    stream.keep(packet, data[pos:])
                break
            length = data[pos + 2]
            if length < 5:
                out.append(malformed(PROTOCOL, packet, f"link length {length} < 5", offset=pos))
                pos += 2
                continue
            size = frame_size(length)
            if len(data) - pos < size:
                if stream:
                    stream.keep(packet, data[pos:])
                else:
                    out.append(malformed(PROTOCOL, packet, "truncated link frame", offset=pos))
                break
            obs = self._frame(packet, state, memoryview(data)[pos : pos + size], length)
            if obs is not None:
                out.append(obs)
            pos += size
        if skipped and not out:
            out.append(malformed(PROTOCOL, packet, "no DNP3 link frame (start 0x0564)", skipped=skipped))
        return out

    def _frame(self, packet: Packet, state: dict[str, Any], frame: memoryview, length: int) -> Observation | None:
        control = frame[3]
        dst = frame[4] | frame[5] << 8
        src = frame[6] | frame[7] << 8
        if crc_dnp(frame[:8]) != (frame[8] | frame[9] << 8):
            # the addresses and length of a header that fails its CRC cannot be trusted (IEEE 1815 discards it)
            return malformed(PROTOCOL, packet, "link header CRC mismatch", header=bytes(frame[:8]).hex())
        bad_crc = 0
        user = bytearray()
        pos, left = 10, length - 5
        while left > 0:
            block = min(16, left)
            chunk = frame[pos : pos + block]
            if crc_dnp(chunk) != (frame[pos + block] | frame[pos + block + 1] << 8):
                bad_crc += 1
            user += chunk
            pos += block + 2
            left -= block
        from_master = bool(control & 0x80)
        prm = bool(control & 0x40)
        link_fn = control & 0x0F
        master, outstation = (src, dst) if from_master else (dst, src)
        client, server = (packet.src, packet.dst) if from_master else (packet.dst, packet.src)
        details: dict[str, Any] = {
            "src": src,
            "dst": dst,
            "master": master,
            "outstation": outstation,
            "dir": int(from_master),
            "prm": int(prm),
            "link_function": link_fn,
        }
        if bad_crc:
            details["bad_crc"] = bad_crc
        identity = {"dnp3_address": str(src), "role": "master" if from_master else "outstation"}
        obs = Observation(
            protocol=PROTOCOL,
            packet=packet.number,
            time=packet.time,
            client=client,
            server=server,
            identity=identity,
            identity_of=packet.src,
            details=details,
        )
        if not user or not (prm and link_fn in (3, 4)):
            names = PRIMARY_LINK if prm else SECONDARY_LINK
            link_name = names.get(link_fn, f"Link Function {link_fn}")
            obs.message, obs.function = ("request" if prm else "response"), f"{link_name} (link {link_fn})"
            return obs
        transport = user[0]
        details.update(fir=int(bool(transport & 0x40)), fin=int(bool(transport & 0x80)), tseq=transport & 0x3F)
        if not transport & 0x40 or len(user) < 3:
            return None  # a later segment of a fragment: its application header came before
        app_control, fc = user[1], user[2]
        details.update(app_seq=app_control & 0x0F, function_code=fc, con=int(bool(app_control & 0x20)))
        name, operation = FUNCTIONS.get(fc, (f"Function {fc}", None))
        pending: dict[tuple[int, int], tuple[int, str | None]] = state.setdefault("dnp3_pending", {})
        offset = 3
        if fc in (129, 130, 131):
            message = "event" if fc == 130 else "response"
            if len(user) >= 5:
                iin = user[3] | user[4] << 8
                details["iin"] = f"0x{user[3]:02x}{user[4]:02x}"
                details["iin_flags"] = [flag for bit, flag in enumerate(IIN_FLAGS) if iin >> bit & 1]
                offset = 5
            if fc == 129:
                answered = pending.pop((outstation, app_control & 0x0F), None)
                if answered is not None:
                    details["request_function_code"] = answered[0]
                    operation = answered[1]
        else:
            message = "request" if from_master else "response"
        objects = _object_headers(bytes(user), offset, all_headers=fc in (1, 20, 21, 22))
        if objects:
            details["objects"] = objects
            if fc == 2 and objects[0].startswith("g50v"):
                operation = "time-sync"
            elif fc == 2 and objects[0].startswith("g70v"):
                operation = "file-transfer"
        if fc in (32, 33, 131) or any(o.startswith("g120v") for o in objects):
            details["secure_authentication"] = True
        if from_master and fc not in (0, 129, 130, 131):
            if len(pending) > 256:
                pending.clear()
            pending[(outstation, app_control & 0x0F)] = (fc, operation)
        obs.message, obs.operation, obs.function = message, operation, f"{name} ({fc})"
        return obs


DISSECTOR = DNP3Dissector()
