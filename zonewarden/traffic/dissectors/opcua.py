"""OPC UA binary (UA TCP + UA Secure Conversation) on TCP port 4840 or any port whose
payload starts with an OPC UA message header (see :func:`looks_like_opcua`).

Contract: ``DISSECTOR.dissect(packet, state)`` takes one TCP segment and returns one
:class:`Observation` per OPC UA message chunk that starts in it (several per
segment are handled; a message cut at the end of a segment is completed from the
next segments of the same direction, up to :data:`BUFFER_LIMIT`). It never raises.

Decoded: Hello (endpoint URL, buffer sizes), Acknowledge, Error (status and
reason), ReverseHello, OpenSecureChannel (the security policy URI of the
asymmetric security header; with policy None the body too: request type and
security mode of the request, channel id of the response), and MSG/CLO chunks:
secure channel and token id, sequence header and, when the channel's policy is
None (or unknown and the type id is a known service), the service type NodeId,
the status of responses and these bodies: CreateSession request (client's
ApplicationDescription, endpoint URL, session name), CreateSession and
GetEndpoints responses (the endpoints offered: URL, security mode and policy,
user token types; the server's ApplicationDescription), FindServers response,
ActivateSession request (user identity token type, user name, whether the password
is encrypted — never the password). Chunks on a signed or encrypted channel give
only their headers and the channel's policy.

``details`` of every chunk on a known channel carry ``security_policy`` (short name,
e.g. ``None``, ``Basic256Sha256``) and ``security_policy_uri``; OpenSecureChannel
requests with policy None carry ``security_mode`` (None, Sign, SignAndEncrypt).
``identity`` keys: application_uri, product_uri, name, application_type; from
CreateSession and RegisterServer(2) requests it is the client's (a server registering
with a discovery server), from CreateSession and GetEndpoints responses the server's.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zonewarden.traffic.dissectors._common import Reader, Truncated, guarded, malformed, text
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PROTOCOL = "opcua"
PORT = 4840
MESSAGE_TYPES = (b"HEL", b"ACK", b"ERR", b"RHE", b"OPN", b"MSG", b"CLO")
BUFFER_LIMIT = 1 << 20  # longest message kept across segments
MAX_MESSAGE = 1 << 26
POLICY_PREFIX = "http://opcfoundation.org/UA/SecurityPolicy#"
POLICY_NONE = POLICY_PREFIX + "None"

# binary encoding ids (ns=0) of the services: name, operation
CLIENT_IDENTITY = (461, 437, 12211)  # requests whose application description is the client's own

SERVICES: dict[int, tuple[str, str | None]] = {
    397: ("ServiceFault", None),
    422: ("FindServersRequest", "diagnostics"), 425: ("FindServersResponse", "diagnostics"),
    12208: ("FindServersOnNetworkRequest", "diagnostics"), 12209: ("FindServersOnNetworkResponse", "diagnostics"),
    428: ("GetEndpointsRequest", "diagnostics"), 431: ("GetEndpointsResponse", "diagnostics"),
    437: ("RegisterServerRequest", None), 440: ("RegisterServerResponse", None),
    12211: ("RegisterServer2Request", None), 12212: ("RegisterServer2Response", None),
    446: ("OpenSecureChannelRequest", None), 449: ("OpenSecureChannelResponse", None),
    452: ("CloseSecureChannelRequest", None), 455: ("CloseSecureChannelResponse", None),
    461: ("CreateSessionRequest", None), 464: ("CreateSessionResponse", None),
    467: ("ActivateSessionRequest", None), 470: ("ActivateSessionResponse", None),
    473: ("CloseSessionRequest", None), 476: ("CloseSessionResponse", None),
    479: ("CancelRequest", None), 482: ("CancelResponse", None),
    488: ("AddNodesRequest", "write"), 491: ("AddNodesResponse", "write"),
    494: ("AddReferencesRequest", "write"), 497: ("AddReferencesResponse", "write"),
    500: ("DeleteNodesRequest", "write"), 503: ("DeleteNodesResponse", "write"),
    506: ("DeleteReferencesRequest", "write"), 509: ("DeleteReferencesResponse", "write"),
    527: ("BrowseRequest", "browse"), 530: ("BrowseResponse", "browse"),
    533: ("BrowseNextRequest", "browse"), 536: ("BrowseNextResponse", "browse"),
    554: ("TranslateBrowsePathsToNodeIdsRequest", "browse"), 557: ("TranslateBrowsePathsToNodeIdsResponse", "browse"),
    560: ("RegisterNodesRequest", "read"), 563: ("RegisterNodesResponse", "read"),
    566: ("UnregisterNodesRequest", "read"), 569: ("UnregisterNodesResponse", "read"),
    615: ("QueryFirstRequest", "read"), 618: ("QueryFirstResponse", "read"),
    621: ("QueryNextRequest", "read"), 624: ("QueryNextResponse", "read"),
    631: ("ReadRequest", "read"), 634: ("ReadResponse", "read"),
    664: ("HistoryReadRequest", "read"), 667: ("HistoryReadResponse", "read"),
    673: ("WriteRequest", "write"), 676: ("WriteResponse", "write"),
    700: ("HistoryUpdateRequest", "write"), 703: ("HistoryUpdateResponse", "write"),
    712: ("CallRequest", "call"), 715: ("CallResponse", "call"),
    751: ("CreateMonitoredItemsRequest", "subscribe"), 754: ("CreateMonitoredItemsResponse", "subscribe"),
    763: ("ModifyMonitoredItemsRequest", "subscribe"), 766: ("ModifyMonitoredItemsResponse", "subscribe"),
    769: ("SetMonitoringModeRequest", "subscribe"), 772: ("SetMonitoringModeResponse", "subscribe"),
    775: ("SetTriggeringRequest", "subscribe"), 778: ("SetTriggeringResponse", "subscribe"),
    781: ("DeleteMonitoredItemsRequest", "subscribe"), 784: ("DeleteMonitoredItemsResponse", "subscribe"),
    787: ("CreateSubscriptionRequest", "subscribe"), 790: ("CreateSubscriptionResponse", "subscribe"),
    793: ("ModifySubscriptionRequest", "subscribe"), 796: ("ModifySubscriptionResponse", "subscribe"),
    799: ("SetPublishingModeRequest", "subscribe"), 802: ("SetPublishingModeResponse", "subscribe"),
    826: ("PublishRequest", "subscribe"), 829: ("PublishResponse", "subscribe"),
    832: ("RepublishRequest", "subscribe"), 835: ("RepublishResponse", "subscribe"),
    841: ("TransferSubscriptionsRequest", "subscribe"), 844: ("TransferSubscriptionsResponse", "subscribe"),
    847: ("DeleteSubscriptionsRequest", "subscribe"), 850: ("DeleteSubscriptionsResponse", "subscribe"),
}  # fmt: skip

SECURITY_MODES = {0: "Invalid", 1: "None", 2: "Sign", 3: "SignAndEncrypt"}
APPLICATION_TYPES = {0: "Server", 1: "Client", 2: "ClientAndServer", 3: "DiscoveryServer"}
USER_TOKEN_TYPES = {0: "Anonymous", 1: "UserName", 2: "Certificate", 3: "IssuedToken"}
IDENTITY_TOKENS = {321: "Anonymous", 324: "UserName", 327: "Certificate", 940: "IssuedToken"}
MAX_ITEMS = 64  # array elements decoded per array


def looks_like_opcua(payload: bytes) -> bool:
    """Whether a TCP payload on any port starts with an OPC UA message header."""
    return (
        len(payload) >= 8
        and payload[:3] in MESSAGE_TYPES
        and payload[3:4] in (b"F", b"C", b"A")
        and 8 <= int.from_bytes(payload[4:8], "little") <= MAX_MESSAGE
    )


# --- built-in types (OPC 10000-6, 5.2) --------------------------------------------------------------


def _string(r: Reader) -> str | None:
    length = r.i32le()
    if length < 0:
        return None
    return text(r.take(length))


def _skip_bytes(r: Reader) -> int:
    """Skip a ByteString (or String); its length, -1 for null."""
    length = r.i32le()
    if length > 0:
        r.skip(length)
    return length


def _node_id(r: Reader) -> tuple[int, int | str]:
    """(namespace, identifier) of a NodeId or ExpandedNodeId."""
    mask = r.u8()
    kind = mask & 0x0F
    ns: int
    ident: int | str
    if kind == 0:
        ns, ident = 0, r.u8()
    elif kind == 1:
        ns, ident = r.u8(), r.u16le()
    elif kind == 2:
        ns, ident = r.u16le(), r.u32le()
    elif kind == 3:
        ns, ident = r.u16le(), _string(r) or ""
    elif kind == 4:
        ns, ident = r.u16le(), r.take(16).hex()
    elif kind == 5:
        ns = r.u16le()
        ident = f"b:{_skip_bytes(r)}"
    else:
        raise Truncated(f"NodeId encoding {mask:#x}")
    if mask & 0x80:
        _skip_bytes(r)  # namespace URI
    if mask & 0x40:
        r.skip(4)  # server index
    return ns, ident


def _localized_text(r: Reader) -> str | None:
    mask = r.u8()
    if mask & 0x01:
        _skip_bytes(r)
    return _string(r) if mask & 0x02 else None


def _extension_object(r: Reader) -> tuple[int, int | str]:
    type_id = _node_id(r)
    encoding = r.u8()
    if encoding in (1, 2):
        _skip_bytes(r)
    return type_id


def _diagnostic_info(r: Reader, depth: int = 0) -> None:
    if depth > 8:
        raise Truncated("DiagnosticInfo nested too deep")
    mask = r.u8()
    r.skip(4 * bin(mask & 0x0F).count("1"))  # symbolic id, namespace, locale, localized text
    if mask & 0x10:
        _skip_bytes(r)
    if mask & 0x20:
        r.skip(4)
    if mask & 0x40:
        _diagnostic_info(r, depth + 1)


def _array_length(r: Reader) -> int:
    return max(r.i32le(), 0)


def _skip_request_header(r: Reader) -> None:
    _node_id(r)  # authentication token
    r.skip(8 + 4 + 4)  # timestamp, request handle, return diagnostics
    _skip_bytes(r)  # audit entry id
    r.skip(4)  # timeout hint
    _extension_object(r)


def _response_header(r: Reader) -> int:
    """Skip a ResponseHeader; its service result (StatusCode)."""
    r.skip(8 + 4)
    status = r.u32le()
    _diagnostic_info(r)
    for _ in range(_array_length(r)):
        _skip_bytes(r)
    _extension_object(r)
    return status


def _application_description(r: Reader) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in (("application_uri", _string(r)), ("product_uri", _string(r)), ("name", _localized_text(r))):
        if value:
            found[key] = value
    app_type = r.u32le()
    found["application_type"] = APPLICATION_TYPES.get(app_type, str(app_type))
    _skip_bytes(r)  # gateway server URI
    _skip_bytes(r)  # discovery profile URI
    for _ in range(_array_length(r)):
        _skip_bytes(r)
    return found


def _registered_server(r: Reader) -> dict[str, str]:
    """The identity a server gives of itself in RegisterServer(2): ServerUri, ProductUri, names, type."""
    found: dict[str, str] = {}
    for key, value in (("application_uri", _string(r)), ("product_uri", _string(r))):
        if value:
            found[key] = value
    names = [_localized_text(r) for _ in range(min(_array_length(r), MAX_ITEMS))]
    if names and names[0]:
        found["name"] = names[0]
    server_type = r.u32le()
    found["application_type"] = APPLICATION_TYPES.get(server_type, str(server_type))
    return found


def _endpoints(r: Reader) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The EndpointDescription array: a summary of each, and the first server description."""
    endpoints: list[dict[str, Any]] = []
    server: dict[str, str] = {}
    count = _array_length(r)
    for index in range(count):
        url = _string(r)
        description = _application_description(r)
        server = server or description
        _skip_bytes(r)  # server certificate
        mode = r.u32le()
        policy = _string(r) or ""
        tokens = []
        for _ in range(_array_length(r)):
            _skip_bytes(r)  # policy id
            tokens.append(USER_TOKEN_TYPES.get(r.u32le(), "other"))
            _skip_bytes(r)
            _skip_bytes(r)
            _skip_bytes(r)
        _skip_bytes(r)  # transport profile
        r.skip(1)  # security level
        if index < MAX_ITEMS:
            endpoints.append(
                {
                    "url": url,
                    "security_mode": SECURITY_MODES.get(mode, str(mode)),
                    "security_policy": _short_policy(policy),
                    "user_tokens": sorted(set(tokens)),
                }
            )
    return endpoints, server


def _short_policy(uri: str) -> str:
    return uri[len(POLICY_PREFIX) :] if uri.startswith(POLICY_PREFIX) else uri


# --- the dissector ------------------------------------------------------------------------------------


class OPCUADissector(Dissector):
    """UA TCP / UA Secure Conversation messages (see the module docstring)."""

    name: ClassVar[str] = PROTOCOL
    tcp_ports: ClassVar[tuple[int, ...]] = (PORT,)
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = tuple((0, kind) for kind in MESSAGE_TYPES)

    @staticmethod
    def matches(payload: bytes) -> bool:
        """Heuristic for any port: the payload starts with an OPC UA message header."""
        return looks_like_opcua(payload)

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """Hello from the client; Acknowledge, Error and ReverseHello from the server; a message by its service
        (a request or a response)."""
        kind = payload[:3]
        if kind == b"HEL":
            return False
        if kind in (b"ACK", b"ERR", b"RHE"):
            return True
        if kind not in (b"MSG", b"CLO") or len(payload) < 28:
            return None
        encoding = payload[24]  # the service's NodeId, after the symmetric security and sequence headers
        if encoding == 0:
            service = payload[25]
        elif encoding == 1:
            service = int.from_bytes(payload[26:28], "little")
        elif encoding == 2 and len(payload) >= 31:
            service = int.from_bytes(payload[27:31], "little")
        else:
            return None
        name = SERVICES.get(service, ("",))[0]
        return False if name.endswith("Request") else True if name.endswith(("Response", "Fault")) else None

    @guarded(PROTOCOL)
    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:
        """Every OPC UA message chunk starting in the segment (see the module docstring)."""
        if not packet.payload:
            return []
        direction = (packet.src, packet.sport)
        skips: dict[tuple[str, int], int] = state.setdefault("opcua_skip", {})
        buffers: dict[tuple[str, int], bytearray] = state.setdefault("opcua_stream", {})
        pending = buffers.get(direction)
        if pending is not None:  # the rest of a message cut at the end of a segment
            pending += packet.payload
            if len(pending) >= 8 and len(pending) < int.from_bytes(pending[4:8], "little"):
                return []
            data = bytes(buffers.pop(direction))
        else:
            data = bytes(packet.payload)
        if skips.get(direction):
            skipped = min(skips[direction], len(data))
            skips[direction] -= skipped
            data = data[skipped:]
        out: list[Observation] = []
        pos = 0
        while pos < len(data):
            if len(data) - pos < 8:
                buffers[direction] = bytearray(data[pos:])
                break
            size = int.from_bytes(data[pos + 4 : pos + 8], "little")
            if data[pos : pos + 3] not in MESSAGE_TYPES or not 8 <= size <= MAX_MESSAGE:
                out.append(malformed(PROTOCOL, packet, f"no OPC UA message header at {pos}"))
                break
            if len(data) - pos < size:
                if size <= BUFFER_LIMIT:
                    buffers[direction] = bytearray(data[pos:])
                    break
                skips[direction] = size - (len(data) - pos)  # too long to keep: decode the head, skip the rest
            obs = self._message(packet, state, data[pos : pos + size])
            if obs is not None:
                out.append(obs)
            pos += size
        return out

    def _sides(self, packet: Packet, state: dict[str, Any], from_client: bool | None) -> tuple[str, str, bool]:
        server = state.get("opcua_server")
        if from_client is not None:
            if from_client:
                state.setdefault("opcua_server", (packet.dst, packet.dport))
            else:
                state.setdefault("opcua_server", (packet.src, packet.sport))
            server = state["opcua_server"]
        if server == (packet.dst, packet.dport):
            return packet.src, packet.dst, True
        if server == (packet.src, packet.sport):
            return packet.dst, packet.src, False
        return self.sides(packet, (PORT,))

    def _message(self, packet: Packet, state: dict[str, Any], msg: bytes) -> Observation | None:
        kind, chunk = msg[:3].decode(), chr(msg[3])
        r = Reader(msg, 8)
        details: dict[str, Any] = {"message_type": kind, "chunk": chunk}
        obs = Observation(
            protocol=PROTOCOL,
            packet=packet.number,
            time=packet.time,
            client=packet.src,
            server=packet.dst,
            details=details,
        )
        from_client: bool | None = None
        try:
            if kind == "HEL":
                from_client, obs.function = True, "Hello"
                details["protocol_version"] = r.u32le()
                r.skip(16)
                details["endpoint_url"] = _string(r)
            elif kind == "ACK":
                from_client, obs.function = False, "Acknowledge"
                details["protocol_version"] = r.u32le()
            elif kind == "ERR":
                from_client, obs.function = False, "Error"
                details.update(status=f"0x{r.u32le():08x}", reason=_string(r))
            elif kind == "RHE":
                from_client, obs.function = False, "ReverseHello"
                details.update(server_uri=_string(r), endpoint_url=_string(r))
            else:
                from_client = self._secure(r, state, obs, kind, chunk, (packet.src, packet.sport))
                if from_client is None and obs.function is None:
                    return None  # a continuation chunk
        except Truncated as exc:
            details["truncated"] = str(exc)
        obs.client, obs.server, is_request = self._sides(packet, state, from_client)
        obs.message = "request" if is_request else "response"
        if obs.identity:
            # CreateSession and RegisterServer(2) requests describe the client (a server registering itself)
            obs.identity_of = obs.client if details.get("service_id") in CLIENT_IDENTITY else obs.server
        return obs

    def _secure(
        self, r: Reader, state: dict[str, Any], obs: Observation, kind: str, chunk: str, direction: tuple[str, int]
    ) -> bool | None:
        """Decode an OPN, MSG or CLO chunk; True/False if it tells who sent it (request/response)."""
        details = obs.details
        channels: dict[int, str] = state.setdefault("opcua_channels", {})
        channel = r.u32le()
        details["secure_channel_id"] = channel
        if kind == "OPN":
            policy = _string(r) or ""
            channels[channel] = policy
            state["opcua_policy"] = policy
            obs.function = "OpenSecureChannel"
            details["certificate"] = _skip_bytes(r) > 0
            _skip_bytes(r)  # receiver certificate thumbprint
        else:
            policy = channels.get(channel) or state.get("opcua_policy") or ""
            obs.function = "CloseSecureChannel" if kind == "CLO" else "Message"
            details["token_id"] = r.u32le()
        if policy:
            details.update(security_policy=_short_policy(policy), security_policy_uri=policy)
        if policy and policy != POLICY_NONE:
            return None if kind == "OPN" else self._encrypted_side(state, direction)
        details["sequence_number"], request_id = r.u32le(), r.u32le()
        details["request_id"] = request_id
        open_chunks: set[tuple[str, int, int]] = state.setdefault("opcua_open", set())
        key = (*direction, request_id)
        if key in open_chunks:  # a later chunk of a multi-chunk message
            if chunk != "C":
                open_chunks.discard(key)
            if chunk == "A":
                obs.function = "Abort"
                details.update(status=f"0x{r.u32le():08x}", reason=_string(r))
                return None
            obs.function = None
            return None
        if chunk == "C" and len(open_chunks) < 1024:
            open_chunks.add(key)
        if chunk == "A":
            obs.function = "Abort"
            details.update(status=f"0x{r.u32le():08x}", reason=_string(r))
            return None
        ns, service = _node_id(r)
        if ns != 0 or not isinstance(service, int) or (service not in SERVICES and not policy):
            details["type_id"] = f"ns={ns};{service}"
            return None
        name, obs.operation = SERVICES.get(service, (f"Service {service}", None))
        obs.function = name if kind == "MSG" else f"{obs.function}: {name}"
        details["service_id"] = service
        is_request = name.endswith("Request")
        if name.endswith(("Response", "Fault")):
            status = _response_header(r)
            if status:
                details["status"] = f"0x{status:08x}"
        elif is_request:
            _skip_request_header(r)
        self._body(r, service, obs)
        return is_request

    def _encrypted_side(self, state: dict[str, Any], direction: tuple[str, int]) -> bool | None:
        server = state.get("opcua_server")
        return None if server is None else direction != tuple(server)

    def _body(self, r: Reader, service: int, obs: Observation) -> None:
        details = obs.details
        if service == 446:  # OpenSecureChannelRequest
            details["client_protocol_version"] = r.u32le()
            details["request_type"] = "Renew" if r.u32le() == 1 else "Issue"
            mode = r.u32le()
            details["security_mode"] = SECURITY_MODES.get(mode, str(mode))
        elif service == 449:  # OpenSecureChannelResponse
            r.skip(4)
            details["channel_id"] = r.u32le()
        elif service == 461:  # CreateSessionRequest
            obs.identity.update(_application_description(r))
            _skip_bytes(r)  # server URI
            details["endpoint_url"] = _string(r)
            details["session_name"] = _string(r)
        elif service in (464, 431):  # CreateSessionResponse, GetEndpointsResponse
            if service == 464:
                _node_id(r)
                _node_id(r)
                r.skip(8)
                _skip_bytes(r)
                _skip_bytes(r)
            endpoints, server = _endpoints(r)
            details["endpoints"] = endpoints
            obs.identity.update(server)
        elif service in (437, 12211):  # RegisterServerRequest, RegisterServer2Request
            obs.identity.update(_registered_server(r))
        elif service == 428:  # GetEndpointsRequest
            details["endpoint_url"] = _string(r)
        elif service == 425:  # FindServersResponse
            servers = [_application_description(r) for _ in range(min(_array_length(r), MAX_ITEMS))]
            details["servers"] = servers
        elif service == 467:  # ActivateSessionRequest
            _skip_bytes(r)
            _skip_bytes(r)  # client signature
            for _ in range(_array_length(r)):
                _skip_bytes(r)
                _skip_bytes(r)
            for _ in range(_array_length(r)):
                _skip_bytes(r)
            ns, token = _node_id(r)
            known = IDENTITY_TOKENS.get(token) if ns == 0 and isinstance(token, int) else None
            details["user_token"] = known or f"ns={ns};{token}"
            if r.u8() == 1 and token == 324:
                r.skip(4)  # body length
                _skip_bytes(r)  # policy id
                details["user_name"] = _string(r)
                _skip_bytes(r)  # password: never kept
                details["password_encrypted"] = bool(_string(r))


DISSECTOR = OPCUADissector()
