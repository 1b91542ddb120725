"""NetBIOS Name Service (RFC 1002), UDP 137: the names Windows and embedded hosts claim.

Contract: ``DISSECTOR.dissect(packet, state)`` takes one UDP datagram and returns one
observation per NBNS message, never raising. ``client`` is the sender, ``server`` the
receiver (NBNS is mostly broadcast). Identity (``name`` of ``identity_of``) comes from:

* registrations, refreshes and releases (opcodes 5, 8, 9, 6): the question name, about
  the address in the NB record of the additional section (else the sender);
* positive query responses (answer NB records): the answer name, about the first
  address of the record;
* node status responses (NBSTAT): the first unique workstation name (suffix 0x00) of
  the name table and the MAC address in the statistics, about the responder.

Only unique names with suffix 0x00 (workstation) or 0x20 (file server) become
``name``; group names go to ``details["group"]`` (workgroup/domain). Queries give the
queried name in ``details`` and no identity.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import (
    Reader,
    Truncated,
    guarded,
    ipv4_text,
    mac_text,
    malformed,
    observation,
    text,
)
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "netbios-ns"
PORT = 137
OPCODES = {
    0: "Query",
    5: "Registration",
    6: "Release",
    7: "WACK",
    8: "Refresh",
    9: "Refresh",
    15: "Multi-homed Registration",
}
TYPE_NB, TYPE_NBSTAT = 0x20, 0x21


def decode_name(encoded: bytes) -> tuple[str, int] | None:
    """(name, suffix) of a first-level encoded NetBIOS name (32 letters A-P), else None."""
    if len(encoded) != 32 or any(not 0x41 <= c <= 0x50 for c in encoded):
        return None
    raw = bytes(((encoded[i] - 0x41) << 4) | (encoded[i + 1] - 0x41) for i in range(0, 32, 2))
    return text(raw[:15].rstrip(b" \x00"), "latin-1"), raw[15]


def read_name(data: bytes, r: Reader, depth: int = 0) -> bytes:
    """The first label of a (possibly compressed) DNS-style name; advances ``r`` past it."""
    first: bytes | None = None
    while True:
        length = r.u8()
        if length == 0:
            break
        if length & 0xC0 == 0xC0:
            pointer = ((length & 0x3F) << 8) | r.u8()
            if depth < 4 and first is None and pointer < len(data):
                first = read_name(data, Reader(data, pointer), depth + 1)
            break
        if length & 0xC0:
            raise Truncated(f"bad label length 0x{length:02x}")
        label = r.take(length)
        if first is None:
            first = label
    return first or b""


class NetBIOSDissector(Dissector):
    """NetBIOS name service (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    udp_ports: ClassVar[tuple[int, ...]] = (PORT,)

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        """One observation per NBNS message."""
        data = bytes(packet.payload)
        if not data:
            return []
        if len(data) < 12:
            return [malformed(PROTOCOL, packet, "short NBNS header", length=len(data))]
        r = Reader(data)
        tid, flags = r.u16be(), r.u16be()
        qd, an, ns, ar = r.u16be(), r.u16be(), r.u16be(), r.u16be()
        response = bool(flags & 0x8000)
        opcode = (flags >> 11) & 0xF
        rcode = flags & 0xF
        details: dict[str, Any] = {"transaction_id": tid, "opcode": OPCODES.get(opcode, str(opcode))}
        if response:
            details["rcode"] = rcode
        question: tuple[str, int] | None = None
        for _ in range(min(qd, 4)):
            decoded = decode_name(read_name(data, r))
            r.skip(4)  # type, class
            question = question or decoded
        records: list[tuple[tuple[str, int] | None, int, bytes]] = []
        for _ in range(min(an + ns + ar, 16)):
            decoded = decode_name(read_name(data, r))
            rtype = r.u16be()
            r.skip(6)  # class, TTL
            records.append((decoded, rtype, r.take(r.u16be())))
        if question:
            details["question"] = _label(question)
        identity: dict[str, str] = {}
        about: str | None = packet.src
        kind = "response" if response else "request"
        function = f"Name {OPCODES.get(opcode, f'opcode {opcode}')}{' response' if response else ''}"
        stat = next((rec for rec in records if rec[1] == TYPE_NBSTAT), None)
        if response and stat is not None and rcode == 0:
            function = "Node Status response"
            identity, group = _node_status(stat[2], details)
            if group:
                details["group"] = group
        elif opcode in (5, 6, 8, 9, 15) and not response and question:
            kind = "announce"
            nb = next((rec for rec in records if rec[1] == TYPE_NB and len(rec[2]) >= 6), None)
            if nb is not None:
                about = ipv4_text(nb[2][2:6])
                if nb[2][0] & 0x80:  # G bit: a group name
                    details["group"] = question[0]
            if "group" not in details and question[1] in (0x00, 0x20) and opcode != 6:
                identity["name"] = question[0]
        elif response and opcode == 0 and rcode == 0:
            nb = next((rec for rec in records if rec[1] == TYPE_NB and len(rec[2]) >= 6 and rec[0]), None)
            if nb is not None and nb[0] is not None:
                about = ipv4_text(nb[2][2:6])
                details["answer"] = _label(nb[0])
                if nb[2][0] & 0x80:
                    details["group"] = nb[0][0]
                elif nb[0][1] in (0x00, 0x20):
                    identity["name"] = nb[0][0]
        client, server = packet.src, packet.dst
        return [observation(PROTOCOL, packet, client, server, kind, function, identity, about, details)]


def _label(name: tuple[str, int]) -> str:
    return f"{name[0]}<{name[1]:02x}>"


def _node_status(rdata: bytes, details: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    r = Reader(rdata)
    count = r.u8()
    names: list[str] = []
    identity: dict[str, str] = {}
    group: str | None = None
    for _ in range(count):
        raw = r.take(16)
        flags = r.u16be()
        name, suffix = text(raw[:15].rstrip(b" \x00"), "latin-1"), raw[15]
        names.append(f"{name}<{suffix:02x}>{' (group)' if flags & 0x8000 else ''}")
        if flags & 0x8000:
            group = group or (name if suffix == 0x00 else None)
        elif suffix == 0x00 and "name" not in identity:
            identity["name"] = name
    details["names"] = names
    if r.remaining >= 6:
        mac = r.take(6)
        if any(mac):
            details["mac"] = mac_text(mac)
    return identity, group


DISSECTOR = NetBIOSDissector()
