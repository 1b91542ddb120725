"""BACnet/IP and BACnet/Ethernet dissector: facts of real captures (checked against tshark 4.0 by hand
and, for BACnet/Ethernet, by running tshark), hand-built frames and fuzzing."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter

import pytest
from _pcap import PCAPS, capture, frames, make_packet, mutated, packet, robust, run, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewarden.traffic.dissectors import ETHERTYPES, bacnet, cdp
from zonewarden.traffic.dissectors.base import Observation, Packet
from zonewarden.traffic.repeats import SPECS

D = bacnet.DISSECTOR
ROUTER_MAC = "00:e0:c9:00:10:a5"
BROADCAST = "ff:ff:ff:ff:ff:ff"


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
    assert D.name == "bacnet" and D.udp_ports == (47808,) and not D.tcp_ports and D.ethertypes == (0,)
    # EtherType 0 (802.3/LLC) is shared with CDP; the repeat filter takes the spec of the first dissector
    # of a key, which must stay CDP's byte-exact one (exact for BACnet too: the dissector is stateless)
    assert [d.name for d in ETHERTYPES[0]] == ["cdp", "bacnet"] and SPECS["cdp"].__name__ == "_exact"
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


# --- BACnet/Ethernet (ISO 8802-2 LLC) ----------------------------------------------------------


def llc_frames(path: str) -> list[Packet]:
    """The 802.3 length frames of a capture as the production reader hands them on: EtherType 0,
    the payload from the LLC header on."""
    return [
        packet(f._replace(ethertype=0))
        for f in frames(capture(path))
        if f.transport == "eth" and f.ethertype is not None and f.ethertype < 0x600
    ]


def eth(payload: bytes, src: str = "00:00:0c:12:34:56", dst: str = BROADCAST) -> list[Observation]:
    p = make_packet(payload, "eth", sport=0, src=src, dst=dst, ethertype=0)
    return robust(D, p._replace(src_mac=src, dst_mac=dst))


def test_ethernet_i_ams_agree_with_tshark() -> None:
    path = "bacnet/bacnet_services.pcap"
    packets = llc_frames(path)
    if shutil.which("tshark") is None:
        pytest.skip("tshark (test-time oracle) is not installed")
    fields = ("eth.src", "bacapp.unconfirmed_service", "bacapp.instance_number", "bacapp.vendor_identifier")
    args = ["tshark", "-r", str(capture(path)), "-Y", "llc && bacapp", "-T", "fields", "-e", "frame.number"]
    for field in fields:
        args += ["-e", field]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    theirs: dict[int, tuple[str, str, str]] = {}
    for line in filter(None, result.stdout.split("\n")):
        number, src, service, instance, vendor = (line.split("\t") + [""] * 5)[:5]
        if service == "0":
            theirs[int(number)] = (src, instance, vendor)
    ours: dict[int, tuple[str, str, str]] = {}
    for p in packets:
        for o in robust(D, p):
            assert o.message != "malformed", o.details
            if o.function == "i-Am (0)":
                assert o.identity_of and o.identity_of.endswith("@" + p.src)  # all routed: SNET 1 and 3
                ours[o.packet] = (o.server, o.identity["device_instance"], o.identity["vendor_id"])
    assert len(theirs) == 101 and ours == theirs
    assert len(packets) == 109  # and 8 more frames: who-Is, who-Has, timeSynchronization, I-Am-Router


def test_ethernet_routed_i_ams_name_the_device_behind_the_router() -> None:
    obs = [o for p in llc_frames("bacnet/bacnet_services.pcap") for o in robust(D, p)]
    ids = identities(obs)
    assert ids[f"3:1d@{ROUTER_MAC}"] == {
        "device_instance": "29",
        "vendor_id": "42",
        "vendor": "Acuity Brands Lighting, Inc.",
    }
    # a device of B/IP network 1: its SADR is its B/IP address 192.168.0.16:47808
    assert ids[f"1:c0a80010bac0@{ROUTER_MAC}"]["device_instance"] == "111"
    assert len(ids) == 32 and all(key.endswith("@" + ROUTER_MAC) for key in ids)
    i_am = next(o for o in obs if o.function == "i-Am (0)")
    assert (i_am.client, i_am.server, i_am.message) == (BROADCAST, ROUTER_MAC, "announce")
    assert i_am.details["datalink"] == "ethernet-llc" and i_am.details["snet"] in (1, 3)
    router = next(o for o in obs if o.details.get("network_message") == 1)
    assert router.function == "I-Am-Router-To-Network (network 0x01)"


def test_hand_built_llc_frames() -> None:
    i_am = bytes.fromhex("1000c4020004d22205c4910321 18".replace(" ", ""))  # device 1234, vendor 24
    (direct,) = eth(bacnet.LLC_HEADER + b"\x01\x00" + i_am + b"\x00" * 20)  # Ethernet padding after the APDU
    assert direct.identity_of == "00:00:0c:12:34:56" and direct.function == "i-Am (0)"
    assert direct.identity == {"device_instance": "1234", "vendor_id": "24", "vendor": "Automated Logic Corporation"}
    assert (direct.client, direct.server, direct.message) == (BROADCAST, "00:00:0c:12:34:56", "announce")
    assert direct.details["max_apdu"] == 1476 and direct.details["segmentation"] == "no-segmentation"
    # routed: SNET 7, SADR 0x2a (an MS/TP station), with a destination specifier (global broadcast)
    npdu = b"\x01\x28" + b"\xff\xff\x00" + b"\x00\x07\x01\x2a" + b"\xfe"
    (routed,) = eth(bacnet.LLC_HEADER + npdu + i_am)
    assert routed.identity_of == "7:2a@00:00:0c:12:34:56" and routed.identity["device_instance"] == "1234"
    assert (routed.details["dnet"], routed.details["hop_count"]) == (0xFFFF, 0xFE)
    who_is = bytes.fromhex("10080902190a")  # who-Is 2..10
    (request,) = eth(bacnet.LLC_HEADER + b"\x01\x00" + who_is, dst=BROADCAST)
    assert request.operation == "diagnostics" and request.details["range"] == [2, 10]
    assert (request.client, request.server) == ("00:00:0c:12:34:56", BROADCAST) and not request.identity
    (short,) = eth(bacnet.LLC_HEADER)  # the LLC header and nothing else
    assert "truncated" in short.details and short.message != "announce"
    (version,) = eth(bacnet.LLC_HEADER + b"\x02\x00" + i_am)
    assert version.message == "malformed"
    assert eth(b"") == [] and eth(b"\x82\x82") == []


def test_other_llc_frames_give_nothing() -> None:
    stp = b"\x42\x42\x03\x00\x00\x00\x00\x00"  # STP BPDU on LLC
    snap_cdp = cdp.SNAP_CDP + b"\x02\xb4\x00\x00" + b"\x00\x01\x00\x08ot-1"
    assert eth(stp) == [] and eth(snap_cdp) == []
    # and the other way round: CDP gives nothing for a BACnet/Ethernet frame
    bacnet_frame = make_packet(bacnet.LLC_HEADER + bytes.fromhex("01001008"), "eth", sport=0, ethertype=0)
    assert robust(cdp.DISSECTOR, bacnet_frame) == []


def test_real_cdp_frames_give_nothing() -> None:
    cdp_frames = llc_frames("enip/EIP-FirmwareChangeFailure.pcap")
    assert cdp_frames and any(robust(cdp.DISSECTOR, p) for p in cdp_frames)
    assert all(robust(D, p) == [] for p in cdp_frames)
    # and CDP gives nothing for the real BACnet/Ethernet frames
    assert all(robust(cdp.DISSECTOR, p) == [] for p in llc_frames("bacnet/bacnet_services.pcap"))


POOL = seeds("bacnet", "udp")


def _llc_seeds() -> list[bytes]:
    """The distinct 802.3/LLC payloads of the BACnet captures (fuzz seeds)."""
    found: dict[bytes, None] = {}
    folder = PCAPS / "bacnet"
    for path in sorted(folder.iterdir()) if folder.exists() else []:
        for f in frames(path):
            if f.transport == "eth" and f.ethertype is not None and f.ethertype < 0x600:
                found.setdefault(bytes(f.payload), None)
    return list(found) or [bacnet.LLC_HEADER]


ETH_POOL = _llc_seeds()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(payload: bytes) -> None:
    robust(D, make_packet(payload, "udp", dport=47808))
    robust(D, make_packet(bvlc(0x0A, b"\x01" + payload), "udp", dport=47808))


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(POOL))
def test_fuzz_mutated_real_payloads(payload: bytes) -> None:
    robust(D, make_packet(payload, "udp", dport=47808))


def _eth_packet(payload: bytes) -> Packet:
    return make_packet(payload, "eth", sport=0, src="00:00:0c:12:34:56", dst=BROADCAST, ethertype=0)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_fuzz_ethernet_random_bytes(payload: bytes) -> None:
    for d in (D, cdp.DISSECTOR):
        other = robust(d, _eth_packet(payload))
        assert all(o.protocol == d.name for o in other)
    assert robust(D, _eth_packet(payload)) == [] or payload.startswith(bacnet.LLC_HEADER)
    (obs,) = robust(D, _eth_packet(bacnet.LLC_HEADER + b"\x01" + payload))
    assert obs.protocol == "bacnet"


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(ETH_POOL))
def test_fuzz_ethernet_mutated_real_frames(payload: bytes) -> None:
    robust(D, _eth_packet(payload))
    robust(cdp.DISSECTOR, _eth_packet(payload))
