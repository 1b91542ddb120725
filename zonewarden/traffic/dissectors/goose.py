"""IEC 61850-8-1 GOOSE (EtherType 0x88B8).

Contract: ``DISSECTOR.dissect(packet, state)`` returns one ``event`` observation per
GOOSE frame (``packet.payload`` = the bytes after the EtherType), never raises.

Decoded: APPID, length, and from the BER goosePdu (tag 0x61) gocbRef, datSet, goID
(strings), timeAllowedToLive, stNum, sqNum, simulation/test flag, confRev,
ndsCom and numDatSetEntries -> ``details``. The publisher (source MAC) is the
``server`` and ``identity_of``; its ``identity`` ``name`` is the IED part of gocbRef
(the logical device name before "/"). ``client`` is the destination (multicast) MAC.
GOOSE carries trip and interlocking signals, but no request: ``operation`` is None.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._ber import ber_children, ber_tlv
from zonewarden.traffic.dissectors._common import Reader, guarded, hexid, malformed, observation, text
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "goose"
ETHERTYPE = 0x88B8

_STRINGS = {0: "gocbRef", 2: "datSet", 3: "goID"}
_INTEGERS = {1: "timeAllowedToLive", 5: "stNum", 6: "sqNum", 8: "confRev", 10: "numDatSetEntries"}
_BOOLEANS = {7: "simulation", 9: "ndsCom"}


class GooseDissector(Dissector):
    """IEC 61850 GOOSE frames (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    ethertypes: ClassVar[tuple[int, ...]] = (ETHERTYPE,)

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        data = bytes(packet.payload)
        if not data:
            return []
        r = Reader(data)
        appid, length = r.u16be(), r.u16be()
        r.skip(4)
        details: dict[str, Any] = {"appid": hexid(appid)}
        end = min(len(data), length) if length >= 8 else len(data)
        first, _, start, stop = ber_tlv(data, 8, end)
        if first != 0x61:
            return [malformed(PROTOCOL, packet, f"goosePdu tag 0x{first:02x} (expected 0x61)", appid=hexid(appid))]
        for cls, num, vstart, vend in ber_children(data, start, stop):
            if cls & 0xC0 != 0x80:
                continue
            raw = data[vstart:vend]
            if num in _STRINGS:
                details[_STRINGS[num]] = text(raw, "latin-1")
            elif num in _INTEGERS and len(raw) <= 8:
                details[_INTEGERS[num]] = int.from_bytes(raw, "big")
            elif num in _BOOLEANS and raw:
                details[_BOOLEANS[num]] = bool(raw[0])
        identity: dict[str, str] = {}
        ref = details.get("gocbRef", "")
        if ref:
            ied = ref.split("/", 1)[0]
            if ied:
                identity["name"] = ied
        server = packet.src_mac or packet.src
        client = packet.dst_mac or packet.dst
        return [
            observation(
                PROTOCOL, packet, client, server, message="event", function="GOOSE",
                identity=identity, identity_of=server if identity else None, details=details,
            )
        ]  # fmt: skip


DISSECTOR = GooseDissector()
