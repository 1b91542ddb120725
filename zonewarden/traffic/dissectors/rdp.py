"""Remote Desktop (RDP) connection negotiation: TPKT + X.224 Connection Request and Confirm.

Contract: ``DISSECTOR.dissect(packet, state)`` returns at most one observation per packet and
never raises. Only the first packets of a connection are plaintext; everything after the
negotiation (TLS, CredSSP, or RDP's own encryption) is not dissected.

* Connection Request (X.224 CR, 0xE0): the client's ``requested`` security protocols from the
  RDP_NEG_REQ (standard RDP security, TLS, CredSSP/NLA, RDSTLS, ...) and the ``cookie`` user
  name hint when present (``mstshash=``).
* Connection Confirm (X.224 CC, 0xD0): the server's ``selected`` protocol from RDP_NEG_RSP, or
  the failure code of RDP_NEG_FAILURE. ``tls`` is True when the selected protocol runs over TLS
  (TLS, CredSSP, RDSTLS, CredSSP-EX) and False for standard RDP security, including a confirm
  with no negotiation response at all (legacy servers).
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import guarded, observation
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "rdp"
PORTS = (3389,)
PROTOCOLS = {0x1: "TLS", 0x2: "CredSSP", 0x4: "RDSTLS", 0x8: "CredSSP-EX", 0x10: "RDSAAD"}
_TLS_BASED = 0x1 | 0x2 | 0x4 | 0x8 | 0x10
FAILURES = {
    1: "SSL_REQUIRED_BY_SERVER",
    2: "SSL_NOT_ALLOWED_BY_SERVER",
    3: "SSL_CERT_NOT_ON_SERVER",
    4: "INCONSISTENT_FLAGS",
    5: "HYBRID_REQUIRED_BY_SERVER",
    6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
}


def protocol_names(mask: int) -> list[str]:
    names = [name for bit, name in PROTOCOLS.items() if mask & bit]
    return names or ["standard RDP security"]


class RdpDissector(Dissector):
    """RDP negotiation (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = PORTS

    @guarded(PROTOCOL, PORTS)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        data = bytes(packet.payload)
        # TPKT: version 3, reserved, length; then X.224: length indicator, PDU type
        if len(data) < 11 or data[0] != 3 or data[1] != 0:
            return []
        length = struct.unpack_from(">H", data, 2)[0]
        if length != len(data) or data[4] + 5 > len(data):
            return []
        pdu = data[5] & 0xF0
        if pdu not in (0xE0, 0xD0):
            return []
        client, server, _ = self.sides(packet, PORTS)
        body = data[11 : 5 + data[4]]  # after the 6 fixed bytes of the X.224 CR/CC header
        details: dict[str, Any] = {}
        if pdu == 0xE0:
            if body.startswith(b"Cookie: mstshash="):
                end = body.find(b"\r\n")
                if end > 0:
                    details["cookie"] = body[17:end].decode("latin-1")
                    body = body[end + 2 :]
            if len(body) >= 8 and body[0] == 0x01:
                mask = struct.unpack_from("<I", body, 4)[0]
                details["requested"] = protocol_names(mask)
            return [observation(PROTOCOL, packet, client, server, "request", "Connection Request", details=details)]
        if len(body) >= 8 and body[0] == 0x02:
            selected = struct.unpack_from("<I", body, 4)[0]
            details["selected"] = protocol_names(selected)[0] if selected else "standard RDP security"
            details["tls"] = bool(selected & _TLS_BASED)
        elif len(body) >= 8 and body[0] == 0x03:
            code = struct.unpack_from("<I", body, 4)[0]
            details["failure"] = FAILURES.get(code, f"code {code}")
        else:
            details["selected"] = "standard RDP security"
            details["tls"] = False
        return [observation(PROTOCOL, packet, client, server, "response", "Connection Confirm", details=details)]


DISSECTOR = RdpDissector()
