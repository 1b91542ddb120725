"""IEEE C37.118 synchrophasor frames over TCP or UDP 4712/4713.

Contract: ``DISSECTOR.dissect(packet, state)`` returns one observation per complete
frame (SYNC 0xAA, FRAMESIZE) in the payload; on TCP a frame cut at the end of a
segment is completed from the next segments of that direction (configuration frames
often span several). Never raises.

Decoded: frame type (data, header, configuration 1/2/3, command), version, IDCODE,
SOC; command frames' command (turn data transmission off/on -> ``subscribe``, send
header / configuration -> ``read``); configuration 1/2 frames' station names, PMU
ID codes and data rate -> ``details`` and ``identity`` of the PMU/PDC sending it
(``name`` = first station name, ``stations`` = all of them, comma separated);
header frames' text. Data frames are ``event`` observations without operation.
Sides: the sender of command frames is the client (the PDC), of every other frame
the server (the PMU).
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import Reader, Truncated, guarded, malformed, observation, text
from zonewarden.traffic.dissectors._stream import StreamBuffer
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "c37.118"
PORTS = (4712, 4713)
MAX_FRAME = 65535

FRAME_TYPES = {0: "Data", 1: "Header", 2: "Configuration 1", 3: "Configuration 2", 4: "Command", 5: "Configuration 3"}
COMMANDS: dict[int, tuple[str, str | None]] = {
    1: ("Turn off transmission of data frames", "subscribe"),
    2: ("Turn on transmission of data frames", "subscribe"),
    3: ("Send HDR frame", "read"),
    4: ("Send CFG-1 frame", "read"),
    5: ("Send CFG-2 frame", "read"),
    6: ("Send CFG-3 frame", "read"),
    8: ("Extended frame", None),
}


def _config(frame: bytes) -> dict[str, Any]:
    """Station names and ID codes of a CFG-1/CFG-2 frame (as far as it is readable)."""
    r = Reader(frame, 18, len(frame) - 2)  # after the common header and time base, before the CRC
    count = r.u16be()
    stations: list[str] = []
    ids: list[int] = []
    try:
        for _ in range(min(count, 64)):
            stations.append(text(r.take(16), "latin-1"))
            ids.append(r.u16be())
            r.skip(2)  # FORMAT
            phasors, analogs, digitals = r.u16be(), r.u16be(), r.u16be()
            r.skip(16 * (phasors + analogs + 16 * digitals) + 4 * (phasors + analogs + digitals) + 4)
        rate = r.u16be() if r.remaining >= 2 else None
    except Truncated:
        rate = None
    found: dict[str, Any] = {"num_pmu": count, "stations": [s for s in stations if s], "pmu_ids": ids}
    if rate is not None:
        found["data_rate"] = rate - 0x10000 if rate & 0x8000 else rate
    return found


class C37118Dissector(Dissector):
    """IEEE C37.118 synchrophasor frames (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = PORTS
    udp_ports: ClassVar[tuple[int, ...]] = PORTS

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        payload = bytes(packet.payload)
        if not payload:
            return []
        stream = StreamBuffer(state, "c37_stream", MAX_FRAME) if packet.transport == "tcp" else None
        data = (
            stream.feed(packet, payload[:1] == b"\xaa" and (payload[1:2] or b"\0")[0] >> 4 & 7 <= 5)
            if stream
            else payload
        )
        out: list[Observation] = []
        pos = 0
        while pos < len(data) and len(out) < 256:
            if data[pos] != 0xAA:
                if not out:
                    out.append(malformed(PROTOCOL, packet, "no SYNC byte 0xAA", offset=pos))
                break
            if len(data) - pos < 4:
                if stream:
                    stream.keep(packet, data[pos:])
                break
            size = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if size < 16:
                out.append(malformed(PROTOCOL, packet, f"FRAMESIZE {size}", offset=pos))
                break
            if len(data) - pos < size:
                if stream:
                    stream.keep(packet, data[pos:])
                else:
                    out.append(malformed(PROTOCOL, packet, "truncated frame", offset=pos))
                break
            out.append(self._frame(packet, data[pos : pos + size]))
            pos += size
        return out

    def _frame(self, packet: Packet, frame: bytes) -> Observation:
        ftype, version = frame[1] >> 4 & 0x07, frame[1] & 0x0F
        idcode = int.from_bytes(frame[4:6], "big")
        details: dict[str, Any] = {
            "frame_type": FRAME_TYPES.get(ftype, str(ftype)),
            "version": version,
            "idcode": idcode,
            "soc": int.from_bytes(frame[6:10], "big"),
        }
        function = FRAME_TYPES.get(ftype, f"Frame type {ftype}")
        operation: str | None = None
        identity: dict[str, str] = {}
        if ftype == 4:
            client, server, message = packet.src, packet.dst, "request"
            command = int.from_bytes(frame[14:16], "big")
            name, operation = COMMANDS.get(command, (f"Command {command}", None))
            details["command"] = command
            function = f"{name} ({command})"
        else:
            client, server = packet.dst, packet.src
            message = "event" if ftype == 0 else "response"
            if ftype in (2, 3):
                operation = "read"
                details.update(_config(frame))
                if details["stations"]:
                    identity = {"name": details["stations"][0], "idcode": str(idcode)}
                    if len(details["stations"]) > 1:
                        identity["stations"] = ",".join(details["stations"])
            elif ftype == 5:
                operation = "read"
            elif ftype == 1:
                operation = "read"
                details["header"] = text(frame[14:-2], "latin-1")
        return observation(
            PROTOCOL, packet, client, server, message=message, operation=operation, function=function,
            identity=identity, identity_of=server if identity else None, details=details,
        )  # fmt: skip


DISSECTOR = C37118Dissector()
