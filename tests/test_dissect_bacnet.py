"""BACnet/IP dissector: facts of real captures (checked against tshark 4.0 by hand) and fuzzing."""

from __future__ import annotations

from collections import Counter

from _pcap import capture, make_packet, mutated, robust, run, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewarden.traffic.dissectors import bacnet
from zonewarden.traffic.dissectors.base import Observation

D = bacnet.DISSECTOR


def udp(payload: bytes, src: str = "10.0.0.1", dst: str = "10.0.0.2") -> Observation:
    (obs,) = robust(D, make_packet(payload, "udp", sport=47808, dport=47808, src=src, dst=dst))
    return obs


def bvlc(function: int, body: bytes) -> bytes:
    return bytes([0x81, function]) + (4 + len(body)).to_bytes(2, "big") + body


def char_string(value: str) -> bytes:
    raw = b"\x00" + value.encode()
    return bytes([0x75, len(raw)]) + raw


def identities(observations: list[Observation]) -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for o in observations:
        if o.identity:
            assert o.identity_of
            merged.setdefault(o.identity_of, {}).update(o.identity)
    return merged


def test_contract() -> None:
    assert D.name == "bacnet" and D.udp_ports == (47808,) and not D.tcp_ports
    assert bacnet.VENDORS[5] == "Johnson Controls, Inc." and bacnet.VENDORS[24] == "Automated Logic Corporation"


def test_i_am_device_instances_and_vendor_ids() -> None:
    obs = run(D, capture("bacnet/bacnet_segmented_data.pcap"))
    i_ams = [o for o in obs if o.function == "i-Am (0)"]
    assert {(o.identity_of, o.identity["device_instance"], o.identity["vendor_id"]) for o in i_ams} == {
        ("10.0.0.1", "0", "154"),
        ("10.0.0.2", "254", "154"),
    }
    assert all(o.message == "announce" and o.operation is None for o in i_ams)
    assert i_ams[0].details["max_apdu"] == 1024 and i_ams[0].details["segmentation"] == "segmented-both"
    (i_am,) = [o for o in run(D, capture("bacnet/bacnet_error_reject_abort.pcap")) if o.function == "i-Am (0)"]
    assert i_am.identity == {"device_instance": "101", "vendor_id": "1337"} and i_am.identity_of == "10.10.10.10"


def test_routed_devices_behind_a_router() -> None:
    ids = identities(run(D, capture("bacnet/bacnet_services.pcap")))
    # direct devices and MS/TP devices behind the router 192.168.0.24 on network 3
    assert ids["192.168.0.16"] == {
        "device_instance": "111",
        "vendor_id": "42",
        "vendor": "Acuity Brands Lighting, Inc.",
    }
    assert ids["192.168.0.50"]["device_instance"] == "126"
    assert ids["3:1d@192.168.0.24"] == {
        "device_instance": "29",
        "vendor_id": "42",
        "vendor": "Acuity Brands Lighting, Inc.",
        "name": "112E1",
        "model": "SYSC MLX",
        "firmware": "2.62",
        "software_version": "16-Dec-2004",
    }
    routed = {key for key in ids if key.endswith("@192.168.0.24")}
    assert len(routed) == 30 and "3:02@192.168.0.24" in routed  # tshark: 30 distinct instances on SNET 3
    assert "192.168.0.24" not in ids  # its I-Am for the wildcard instance 4194303 names no device


def test_read_property_identity_and_properties() -> None:
    obs = run(D, capture("bacnet/bacnet_test.pcap"))
    assert identities(obs) == {
        "10.1.1.165": {
            "device_instance": "500",
            "vendor_id": "5",
            "vendor": "JCI",  # vendor-name (UCS-2) read after vendor-identifier 5
            "firmware": "5.1.0.4400",
            "name": "KBRNAE",
            "model": "MS-NAE4510-2",
        }
    }
    reads = [o for o in obs if o.message == "request" and o.details.get("service") == 12]
    assert reads[0].details["object"] == "device:4194303" and reads[0].details["property"] == "object-identifier"
    assert all(o.operation == "read" for o in reads)
    assert [o.function for o in obs if "bvlc" in o.details and "apdu_type" not in o.details] == [
        "Read-Broadcast-Distribution-Table",
        "BVLC-Result",
        "Register-Foreign-Device",
        "BVLC-Result",
    ]


def test_service_operations() -> None:
    obs = run(D, capture("bacnet/bacnet_error_reject_abort.pcap"))
    by_service = {o.function: o for o in obs}
    assert by_service["readProperty (12)"].operation == "read"
    assert by_service["readPropertyMultiple (14)"].operation == "read"
    assert by_service["writeProperty (15)"].operation == "write"
    assert by_service["writeProperty (15)"].details["object"] == "analog-output:0"
    assert by_service["writeProperty (15)"].details["property"] == "present-value"
    assert by_service["writePropertyMultiple (16)"].operation == "write"
    assert by_service["atomicReadFile (6)"].operation == "file-transfer"
    assert by_service["atomicWriteFile (7)"].operation == "file-transfer"
    dcc = by_service["deviceCommunicationControl (17)"]
    assert dcc.operation == "stop" and dcc.details["enable_disable"] == "disable" and dcc.details["password"]
    reinit = by_service["reinitializeDevice (20)"]
    assert reinit.operation == "restart" and reinit.details["reinitialized_state"] == "coldstart"
    assert by_service["timeSynchronization (6)"].operation == "time-sync"
    assert by_service["who-Is (8)"].operation == "diagnostics"
    assert by_service["confirmedCOVNotification (1)"].message == "event"
    assert by_service["reinitializeDevice error (20)"].details["error_class"] == 5
    assert by_service["reject"].details["reason"] == 9 and by_service["abort"].details["invoke_id"] == 1
    routed = by_service["atomicReadFile (6)"]
    assert (routed.details["snet"], routed.details["sadr"]) == (13, "3d")


def test_service_counts_match_tshark() -> None:
    obs = run(D, capture("bacnet/bacnet_services.pcap"))
    counts = Counter((o.details.get("apdu_type"), o.details.get("service")) for o in obs)
    # tshark 4.0 (bvlc): bacapp.type / confirmed_service / unconfirmed_service
    assert counts[("confirmed-request", 12)] == 3265 and counts[("complex-ack", 12)] == 3263
    assert counts[("unconfirmed-request", 0)] == 206 and counts[("confirmed-request", 6)] == 64
    assert counts[("confirmed-request", 20)] == 4 and counts[("confirmed-request", 17)] == 4
    ops = Counter(o.operation for o in obs if o.details.get("service") == 17 and o.message == "request")
    assert ops == {"stop": 2, "start": 2}


def test_read_property_multiple_ack_identity() -> None:
    device = (8 << 22 | 1234).to_bytes(4, "big")
    body = (
        bytes([0x30, 0x07, 0x0E, 0x0C])
        + device
        + b"\x1e"
        + b"\x29\x79\x4e"
        + char_string("Acme")
        + b"\x4f"
        + b"\x29\x46\x4e"
        + char_string("Boiler-9")
        + b"\x4f"
        + b"\x29\x2c\x4e"
        + char_string("1.2.3")
        + b"\x4f"
        + b"\x29\x78\x4e\x21\x08\x4f"  # vendor-identifier 8
        + b"\x29\x3a\x5e\x91\x02\x91\x20\x5f"  # location: an error
        + b"\x29\x4d\x4e"
        + char_string("AHU-1")
        + b"\x4f"
        + b"\x1f"
    )
    obs = udp(bvlc(0x0A, b"\x01\x00" + body), src="10.0.0.9", dst="10.0.0.1")
    assert obs.function == "readPropertyMultiple complex-ack (14)" and obs.message == "response"
    assert (obs.client, obs.server, obs.identity_of) == ("10.0.0.1", "10.0.0.9", "10.0.0.9")
    assert obs.identity == {
        "device_instance": "1234",
        "vendor": "Acme",
        "model": "Boiler-9",
        "firmware": "1.2.3",
        "vendor_id": "8",
        "name": "AHU-1",
    }


def test_forwarded_i_am_names_the_original_source() -> None:
    i_am = bytes.fromhex("01001000c4020000052205c4910021 18".replace(" ", ""))
    obs = udp(bvlc(0x04, bytes([192, 168, 1, 50, 0xBA, 0xC0]) + i_am), src="10.0.0.254", dst="10.0.0.255")
    assert obs.identity_of == "192.168.1.50" and obs.details["original_source"] == "192.168.1.50:47808"
    assert obs.identity == {"device_instance": "5", "vendor_id": "24", "vendor": "Automated Logic Corporation"}


def test_reinitialize_states_and_network_messages() -> None:
    backup = udp(bvlc(0x0A, bytes.fromhex("0104 0205 0114 0902")))  # reinitializeDevice startbackup
    assert backup.operation == "program-upload" and backup.details["reinitialized_state"] == "startbackup"
    who_is_router = udp(bvlc(0x0B, bytes.fromhex("0180 00")))
    assert who_is_router.function == "Who-Is-Router-To-Network (network 0x00)"
    assert who_is_router.operation == "diagnostics"


def test_not_bacnet() -> None:
    assert udp(b"\x00\x01\x02\x03").message == "malformed"
    assert udp(bvlc(0x0A, b"\x02\x00")).message == "malformed"  # NPDU version 2
    assert robust(D, make_packet(b"", "udp", dport=47808)) == []


POOL = seeds("bacnet", "udp")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(payload: bytes) -> None:
    robust(D, make_packet(payload, "udp", dport=47808))
    robust(D, make_packet(bvlc(0x0A, b"\x01" + payload), "udp", dport=47808))


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(POOL))
def test_fuzz_mutated_real_payloads(payload: bytes) -> None:
    robust(D, make_packet(payload, "udp", dport=47808))
