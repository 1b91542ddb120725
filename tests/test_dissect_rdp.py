"""RDP negotiation dissector: requested and selected security protocols, never raises."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from zonewarden.detect import detect
from zonewarden.traffic.dissectors.base import Packet
from zonewarden.traffic.dissectors.rdp import DISSECTOR


def _tpkt(x224: bytes) -> bytes:
    return struct.pack(">BBH", 3, 0, 4 + len(x224)) + x224


def _x224(pdu: int, body: bytes) -> bytes:
    return bytes([6 + len(body), pdu]) + b"\x00\x00\x12\x34\x00" + body


def _packet(payload: bytes, to_server: bool = True) -> Packet:
    if to_server:
        return Packet(4, 1.0, "10.1.0.8", "10.2.0.22", 50000, 3389, "tcp", payload)
    return Packet(6, 1.1, "10.2.0.22", "10.1.0.8", 3389, 50000, "tcp", payload)


def test_connection_request_with_cookie_and_negotiation():
    body = b"Cookie: mstshash=operator\r\n" + struct.pack("<BBHI", 1, 0, 8, 0x3)
    (obs,) = DISSECTOR.dissect(_packet(_tpkt(_x224(0xE0, body))), {})
    assert obs.message == "request" and obs.client == "10.1.0.8" and obs.server == "10.2.0.22"
    assert obs.details["cookie"] == "operator" and obs.details["requested"] == ["TLS", "CredSSP"]


def test_connection_confirm_selected_protocol():
    tls = DISSECTOR.dissect(_packet(_tpkt(_x224(0xD0, struct.pack("<BBHI", 2, 0, 8, 0x2))), False), {})
    assert tls[0].details == {"selected": "CredSSP", "tls": True} and tls[0].client == "10.1.0.8"
    plain = DISSECTOR.dissect(_packet(_tpkt(_x224(0xD0, struct.pack("<BBHI", 2, 0, 8, 0x0))), False), {})
    assert plain[0].details == {"selected": "standard RDP security", "tls": False}
    legacy = DISSECTOR.dissect(_packet(_tpkt(_x224(0xD0, b"")), False), {})
    assert legacy[0].details["tls"] is False
    failed = DISSECTOR.dissect(_packet(_tpkt(_x224(0xD0, struct.pack("<BBHI", 3, 0, 8, 5))), False), {})
    assert failed[0].details == {"failure": "HYBRID_REQUIRED_BY_SERVER"}


def test_other_traffic_is_ignored():
    assert DISSECTOR.dissect(_packet(b"\x16\x03\x01\x00\x10" + b"\x00" * 16), {}) == []
    assert DISSECTOR.dissect(_packet(b""), {}) == []


@given(st.binary(max_size=64))
def test_never_raises(payload):
    for to_server in (True, False):
        for obs in DISSECTOR.dissect(_packet(payload, to_server), {}):
            assert obs.protocol == "rdp"


def test_cleartext_detector_uses_the_negotiation():
    from test_detections import _flow, _synthetic_context

    from zonewarden.traffic.events import EventLog

    def alerts(selected: int):
        confirm = _packet(_tpkt(_x224(0xD0, struct.pack("<BBHI", 2, 0, 8, selected))), False)
        log = EventLog()
        for obs in DISSECTOR.dissect(confirm, {}):
            log.add("synthetic.pcap", obs)
        flows = [_flow("10.1.0.8", "10.2.0.22", 3389, n=302, app="rdp")]
        return [a for a in detect(_synthetic_context(flows, log.result())) if a.detector == "cleartext-remote-access"]

    (plain,) = alerts(0)
    assert plain.severity == "high" and "no TLS" in plain.explanation
    assert alerts(0x2) == []  # CredSSP over TLS: not cleartext
