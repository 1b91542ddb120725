"""HTTP server identity, TCP 80/8080: the ``Server:`` header of responses.

Contract: ``DISSECTOR.dissect(packet, state)`` takes one TCP segment and returns one
observation for a segment that starts an HTTP response (``HTTP/1.x``) or request
(a method token), nothing for other segments (bodies, continuations); it never raises.
Responses: ``identity_of`` = the server; identity ``platform`` = the Server header
(e.g. "Siemens S7-1200 web server", "Boa/0.94", "GoAhead-Webs") and ``vendor`` when
the header names a known automation/network vendor; ``details``: status, and the
Basic/Digest realm of a ``WWW-Authenticate`` header (often the device model).
Requests: method, path and Host in ``details``, no identity.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import guarded, observation, text
from zonewarden.traffic.dissectors._describe import vendor_in
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "http"
PORTS = (80, 8080)
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] [1-5]\d\d[ \r]")
MAX_HEAD = 8192
METHODS = (b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE")
_REALM = re.compile(r'realm="?([^",]*)', re.I)


def headers(head: bytes) -> tuple[str, dict[str, str]]:
    """(start line, lower-cased header names -> first value) of an HTTP head."""
    lines = head.split(b"\r\n") if b"\r\n" in head else head.split(b"\n")
    out: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            break
        name, sep, value = line.partition(b":")
        if sep and name and b" " not in name.strip():
            out.setdefault(text(name).lower(), text(value))
    return text(lines[0]), out


class HTTPServerDissector(Dissector):
    """HTTP heads (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = PORTS
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = ((0, b"HTTP/1."),)

    @staticmethod
    def matches(payload: bytes) -> bool:
        """An HTTP/1.x response status line (a device's embedded web server answering on its own port)."""
        return _STATUS_LINE.match(payload) is not None

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """Only responses are recognised."""
        return True

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        """One observation per segment that starts an HTTP message."""
        data = bytes(packet.payload[:MAX_HEAD])
        client, server, _ = self.sides(packet, PORTS)
        if data.startswith(b"HTTP/1.") or data.startswith(b"HTTP/2"):
            start, fields = headers(data)
            parts = start.split(" ", 2)
            details: dict[str, Any] = {"status": int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None}
            identity: dict[str, str] = {}
            platform = fields.get("server", "")
            if platform:
                identity["platform"] = platform
                identity["vendor"] = vendor_in(platform) or ""
            auth = fields.get("www-authenticate", "")
            if auth and (m := _REALM.search(auth)):
                details["realm"] = m.group(1)
            if "x-powered-by" in fields:
                details["powered_by"] = fields["x-powered-by"]
            function = f"HTTP {details['status']}" if details["status"] is not None else "HTTP response"
            return [observation(PROTOCOL, packet, client, server, "response", function, identity, server, details)]
        method = data.split(b" ", 1)[0]
        if method in METHODS and b" HTTP/" in data.split(b"\n", 1)[0]:
            start, fields = headers(data)
            parts = start.split(" ")
            details = {"method": method.decode(), "path": parts[1] if len(parts) > 2 else ""}
            if "host" in fields:
                details["host"] = fields["host"]
            return [observation(PROTOCOL, packet, client, server, "request", method.decode(), {}, None, details)]
        return []


DISSECTOR = HTTPServerDissector()
