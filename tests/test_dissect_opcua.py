"""OPC UA binary dissector: facts of real captures (checked against tshark 4.0 by hand) and fuzzing."""

from __future__ import annotations

import struct
from collections import Counter

from _pcap import capture, make_packet, mutated, robust, run, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewarden.traffic.dissectors import opcua
from zonewarden.traffic.dissectors.base import Observation

D = opcua.DISSECTOR
NONE = "http://opcfoundation.org/UA/SecurityPolicy#None"


def ua_string(value: str | None) -> bytes:
    if value is None:
        return struct.pack("<i", -1)
    raw = value.encode()
    return struct.pack("<i", len(raw)) + raw


def chunk(kind: bytes, body: bytes, final: bytes = b"F") -> bytes:
    return kind + final + struct.pack("<I", 8 + len(body)) + body


def msg(service: int, body: bytes, channel: int = 5, request_id: int = 9) -> bytes:
    request_header = b"\x00\x00" + bytes(16) + ua_string(None) + bytes(4) + b"\x00\x00\x00"
    head = struct.pack("<IIII", channel, 1, 2, request_id) + b"\x01\x00" + struct.pack("<H", service)
    return chunk(b"MSG", head + request_header + body)


def services(observations: list[Observation]) -> Counter[int]:
    return Counter(o.details["service_id"] for o in observations if "service_id" in o.details)


def test_contract() -> None:
    assert D.name == "opcua" and D.tcp_ports == (4840,)
    assert opcua.looks_like_opcua(b"HELF\x20\x00\x00\x00") and D.matches(b"MSGC\x10\x00\x00\x00rest")
    assert not opcua.looks_like_opcua(b"GET / HTTP/1.1") and not opcua.looks_like_opcua(b"HELX\x20\x00\x00\x00")


def test_python_opcua_session_identities_and_policy_none() -> None:
    obs = run(D, capture("opcua/python_opcua-client-server_minimal.pcap"))
    hello = obs[0]
    assert (hello.function, hello.message) == ("Hello", "request")
    assert hello.details["endpoint_url"] == "opc.tcp://localhost:4840/freeopcua/server/"
    assert obs[1].function == "Acknowledge" and obs[1].message == "response"
    opn = obs[2]
    assert opn.function == "OpenSecureChannel: OpenSecureChannelRequest"
    assert opn.details["security_policy"] == "None" and opn.details["security_policy_uri"] == NONE
    assert opn.details["security_mode"] == "None" and opn.details["request_type"] == "Issue"
    assert obs[3].details["channel_id"] == 9
    create = next(o for o in obs if o.function == "CreateSessionRequest")
    assert create.identity == {
        "application_uri": "urn:freeopcua:client",
        "product_uri": "urn:freeopcua.github.io:client",
        "name": "Pure Python Client",
        "application_type": "Client",
    }
    assert create.identity_of == create.client and create.details["session_name"] == "Pure Python Client Session1"
    created = next(o for o in obs if o.function == "CreateSessionResponse")
    assert created.identity == {
        "application_uri": "urn:freeopcua:python:server",
        "product_uri": "urn:freeopcua.github.io:python:server",
        "name": "FreeOpcUa Python Server",
        "application_type": "ClientAndServer",
    }
    assert created.details["endpoints"][0]["url"] == "opc.tcp://127.0.0.1:4840/freeopcua/server/"
    activate = next(o for o in obs if o.function == "ActivateSessionRequest")
    assert activate.details["user_token"] == "Anonymous"
    assert {o.operation for o in obs if o.function.startswith(("Browse", "Translate"))} == {"browse"}
    assert all(o.details.get("security_policy") == "None" for o in obs if o.details["message_type"] == "MSG")


def test_encrypted_channel_shows_only_headers() -> None:
    obs = run(D, capture("opcua/open62541_client-server_encrypted.pcap"))
    secured = [o for o in obs if o.details.get("security_policy") == "Basic128Rsa15"]
    assert Counter((o.details["message_type"], o.message) for o in secured) == {
        ("OPN", "request"): 1,
        ("OPN", "response"): 1,
        ("MSG", "request"): 4,
        ("MSG", "response"): 4,
        ("CLO", "request"): 1,
    }
    assert all(o.operation is None and "service_id" not in o.details and not o.identity for o in secured)
    assert all(o.details["certificate"] for o in secured if o.details["message_type"] == "OPN")
    # the GetEndpoints on the first (policy None) channel lists what the server offers
    (endpoints,) = [o for o in obs if o.function == "GetEndpointsResponse"]
    offered = endpoints.details["endpoints"]
    assert len(offered) == 7
    assert Counter(e["security_mode"] for e in offered) == {"None": 1, "Sign": 3, "SignAndEncrypt": 3}
    assert {e["security_policy"] for e in offered} == {"None", "Basic128Rsa15", "Basic256", "Basic256Sha256"}
    assert endpoints.identity == {
        "application_uri": "urn:open62541.server.application",
        "product_uri": "http://open62541.org",
        "name": "open62541-based OPC UA Application",
        "application_type": "Server",
    }


def test_service_ids_match_tshark() -> None:
    # tshark 4.0: opcua.servicenodeid.numeric
    assert services(run(D, capture("opcua/open62541_client-server-getEndpoints.pcap"))) == {
        446: 1, 449: 1, 428: 1, 431: 1, 452: 1,
    }  # fmt: skip
    mainloop = run(D, capture("opcua/open62541_client-server_mainloop.pcap"))
    counts = services(mainloop)
    assert counts[673] == 2 and counts[676] == 2 and counts[488] == 4 and counts[826] == 11 and counts[829] == 11
    ops = {o.details["service_id"]: o.operation for o in mainloop if "service_id" in o.details}
    assert ops[673] == "write" and ops[488] == "write" and ops[826] == "subscribe" and ops[527] == "browse"
    assert ops[428] == "diagnostics" and ops[461] is None
    monitored = services(run(D, capture("opcua/open62541_create_monitored_items.pcap")))
    assert monitored[751] == 2 and monitored[787] == 2


def test_mid_stream_capture_without_handshake() -> None:
    obs = run(D, capture("opcua/open62541_client-server_mainloop-no-handshake.pcap"))
    counts = services(obs)
    assert counts[826] == 11 and counts[829] == 11 and counts[673] == 2 and counts[464] == 1
    assert not any("security_policy" in o.details for o in obs)  # the policy was never seen


def test_non_standard_port_by_heuristic() -> None:
    path = capture("opcua/open62541_client-server_mainloop-not-localhost-non-standard-port.pcap")
    assert run(D, path) == []  # nothing on port 4840
    obs = run(D, path, heuristic=opcua.looks_like_opcua)
    assert obs[0].details["endpoint_url"] == "opc.tcp://192.168.224.102:4840"
    assert services(obs)[673] == 2
    assert [o.message for o in obs if o.function in ("Hello", "Acknowledge")] == ["request", "response"] * 2
    assert all(
        o.message == ("request" if o.function.endswith("Request") else "response")
        for o in obs
        if "service_id" in o.details
    )


def test_discovery() -> None:
    obs = run(D, capture("opcua/open62541_discover_getendpoints_discover_urls.pcap"))
    (found,) = [o for o in obs if o.function == "FindServersResponse"]
    assert [s["application_uri"] for s in found.details["servers"]] == [
        "urn:open62541.example.local_discovery_server",
        "urn:open62541.example.server_register",
    ]
    assert not found.identity  # a discovery server lists others: not its own identity
    assert {o.details["endpoint_url"] for o in obs if o.function == "Hello"} == {
        "opc.tcp://localhost:4840",
        "opc.tcp://Maui-16714:4840/",
    }


def test_call_and_username_token() -> None:
    (call,) = robust(D, make_packet(msg(712, b""), dport=4840))
    assert (call.function, call.operation, call.message) == ("CallRequest", "call", "request")
    token_body = ua_string("username") + ua_string("operator") + ua_string("s3cret") + ua_string(None)
    token = b"\x01\x00" + struct.pack("<H", 324) + b"\x01" + struct.pack("<i", len(token_body)) + token_body
    body = ua_string(None) + ua_string(None) + struct.pack("<ii", -1, -1) + token
    (activate,) = robust(D, make_packet(msg(467, body), dport=4840))
    assert activate.details["user_token"] == "UserName" and activate.details["user_name"] == "operator"
    assert activate.details["password_encrypted"] is False and "s3cret" not in repr(activate)


def test_chunks_and_segments() -> None:
    state: dict = {}
    first = msg(631, b"", request_id=77)
    intermediate = first[:3] + b"C" + first[4:]
    continuation = chunk(b"MSG", struct.pack("<IIII", 5, 1, 3, 77) + b"\x01\x00\x77\x02", b"F")
    obs = robust(D, make_packet(intermediate + continuation, dport=4840), state)
    assert [o.function for o in obs] == ["ReadRequest"]  # the final chunk continues the same request
    hello = chunk(b"HEL", bytes(20) + ua_string("opc.tcp://plc:4840"))
    assert robust(D, make_packet(hello[:11], dport=4840), state) == []
    (joined,) = robust(D, make_packet(hello[11:], dport=4840), state)
    assert joined.details["endpoint_url"] == "opc.tcp://plc:4840"
    (err,) = robust(D, make_packet(chunk(b"ERR", struct.pack("<I", 0x80010000) + ua_string("bad")), sport=4840))
    assert (err.function, err.message, err.details["status"]) == ("Error", "response", "0x80010000")


def test_garbage() -> None:
    (obs,) = robust(D, make_packet(b"GET / HTTP/1.1\r\n\r\n", dport=4840))
    assert obs.message == "malformed"


POOL = seeds("opcua", "tcp")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([b"HELF", b"ACKF", b"OPNF", b"MSGF", b"MSGC", b"MSGA", b"CLOF", b"ERRF", b"RHEF"]),
       st.binary(max_size=600))  # fmt: skip
def test_fuzz_random_bytes(kind: bytes, payload: bytes) -> None:
    robust(D, make_packet(kind + struct.pack("<I", 8 + len(payload)) + payload, dport=4840))
    robust(D, make_packet(payload, sport=4840))


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(POOL), min_size=1, max_size=4))
def test_fuzz_mutated_real_payloads(payloads: list[bytes]) -> None:
    state: dict = {}
    for payload in payloads:
        robust(D, make_packet(payload, dport=4840), state)
