"""DHCP (BOOTP), UDP 67/68: the host name and vendor class a client announces.

Contract: ``DISSECTOR.dissect(packet, state)`` takes one UDP datagram and returns one
observation per DHCP/BOOTP message, never raising. ``client`` is the side on port 68,
``server`` the side on 67. ``identity_of`` is the client hardware address (chaddr, a
MAC for Ethernet); identity: ``name`` (option 12, else the FQDN of option 81),
``vendor_class`` (option 60) and ``ip`` (yiaddr of an Offer/ACK, else ciaddr).
``details``: message type, xid, client id (option 61), requested address (50) and the
parameter request list (55, a common OS fingerprint) as "1,3,6,...".
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import Reader, guarded, ipv4_text, mac_text, malformed, observation, text
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "dhcp"
MAGIC = b"\x63\x82\x53\x63"
MESSAGE_TYPES = {
    1: "Discover", 2: "Offer", 3: "Request", 4: "Decline", 5: "ACK", 6: "NAK", 7: "Release",
    8: "Inform", 9: "Force Renew", 10: "Lease Query", 11: "Lease Unassigned", 12: "Lease Unknown",
    13: "Lease Active",
}  # fmt: skip


def parse_options(data: bytes) -> dict[int, bytes]:
    """Options by code (repeated codes concatenated, RFC 3396); stops at End or a cut option."""
    out: dict[int, bytes] = {}
    r = Reader(data)
    while r.remaining:
        code = r.u8()
        if code == 255:
            break
        if code == 0:
            continue
        if r.remaining < 1:
            break
        length = r.u8()
        if r.remaining < length:
            break
        out[code] = out.get(code, b"") + r.take(length)
    return out


def _client_id(raw: bytes) -> str:
    if len(raw) == 7 and raw[0] == 1:
        return mac_text(raw[1:])
    printable = text(raw[1:]) if raw[:1] == b"\x00" else ""
    return printable or raw[:64].hex()


class DHCPDissector(Dissector):
    """DHCP/BOOTP messages (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    udp_ports: ClassVar[tuple[int, ...]] = (67, 68)

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        """One observation per BOOTP message."""
        data = bytes(packet.payload)
        if not data:
            return []
        client, server, _ = self.sides(packet, (67,))
        if len(data) < 236 or data[0] not in (1, 2):
            return [malformed(PROTOCOL, packet, "short or not a BOOTP message", client, server, length=len(data))]
        op, htype, hlen = data[0], data[1], data[2]
        xid = int.from_bytes(data[4:8], "big")
        ciaddr, yiaddr = data[12:16], data[16:20]
        chaddr = data[28 : 28 + min(hlen, 16)]
        options = parse_options(data[240:]) if data[236:240] == MAGIC else {}
        kind = options.get(53, b"")[:1]
        type_name = MESSAGE_TYPES.get(kind[0], f"type {kind[0]}") if kind else None
        who = mac_text(chaddr) if htype == 1 and hlen == 6 else (chaddr.hex() or None)
        identity: dict[str, str] = {}
        if 12 in options:
            identity["name"] = text(options[12])
        elif 81 in options and len(options[81]) > 3:
            identity["name"] = text(_fqdn(options[81][3:]))
        if 60 in options:
            identity["vendor_class"] = text(options[60])
        address = yiaddr if any(yiaddr) else ciaddr
        if any(address):
            identity["ip"] = ipv4_text(address)
        details: dict[str, Any] = {"xid": f"0x{xid:08x}", "op": "request" if op == 1 else "reply"}
        if type_name:
            details["message_type"] = type_name
        if who:
            details["chaddr"] = who
        if 61 in options:
            details["client_id"] = _client_id(options[61])
        if 50 in options and len(options[50]) == 4:
            details["requested_ip"] = ipv4_text(options[50])
        if 55 in options:
            details["parameter_request_list"] = ",".join(str(b) for b in options[55])
        function = f"DHCP {type_name}" if type_name else ("BOOTP Request" if op == 1 else "BOOTP Reply")
        message = "request" if op == 1 else "response"
        return [observation(PROTOCOL, packet, client, server, message, function, identity, who, details)]


def _fqdn(raw: bytes) -> bytes:
    """Option 81 domain name: DNS wire format (labels) or plain ASCII."""
    if raw and 0 < raw[0] < 64 and raw[0] < len(raw):
        labels, pos = [], 0
        while pos < len(raw) and 0 < raw[pos] < 64:
            labels.append(raw[pos + 1 : pos + 1 + raw[pos]])
            pos += 1 + raw[pos]
        return b".".join(labels)
    return raw


DISSECTOR = DHCPDissector()
