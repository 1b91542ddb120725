"""PROFINET DCP dissector: facts of real captures (checked against tshark 4.0 by hand) and fuzzing."""

from __future__ import annotations

from _pcap import capture, make_packet, mutated, robust, run, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewarden.traffic.dissectors import profinet_dcp
from zonewarden.traffic.dissectors.base import Observation

D = profinet_dcp.DISSECTOR
PLC, DEVICE, MULTICAST = "00:1b:1b:00:00:01", "00:0e:8c:00:00:02", "01:0e:cf:00:00:00"


def block(option: int, suboption: int, data: bytes) -> bytes:
    raw = bytes([option, suboption]) + len(data).to_bytes(2, "big") + data
    return raw + b"\x00" * (len(data) & 1)


def dcp(frame_id: int, service: int, service_type: int, blocks: bytes) -> bytes:
    header = bytes([service, service_type]) + b"\x00\x00\x00\x2a" + b"\x00\x00" + len(blocks).to_bytes(2, "big")
    return frame_id.to_bytes(2, "big") + header + blocks


def eth(payload: bytes, src: str = PLC, dst: str = DEVICE) -> list[Observation]:
    return robust(D, make_packet(payload, "eth", sport=0, src=src, dst=dst, ethertype=0x8892))


def test_contract() -> None:
    assert D.name == "profinet" and D.ethertypes == (0x8892,) and not D.tcp_ports and not D.udp_ports
    assert profinet_dcp.frame_kind(0xFEFE) == "DCP Identify request" and profinet_dcp.frame_kind(0xC000) == (
        "RT cyclic data"
    )


def test_identify_requests_with_station_name_filters() -> None:
    obs = run(D, capture("profinet/PROFINET-RT.pcap"))
    assert len(obs) == 14
    assert all((o.function, o.message, o.operation) == ("DCP Identify request", "request", "diagnostics") for o in obs)
    assert [o.details["filter"]["name_of_station"] for o in obs[:5]] == [
        "switch3",
        "switch1",
        "pn-io",
        "switch4",
        "pn-io",
    ]
    assert obs[0].client == "00:1b:1b:02:9a:c3" and obs[0].server == "01:0e:cf:00:00:00"
    assert obs[0].details["xid"] == "0x0300bf9a" and not any(o.identity for o in obs)


def test_identify_response_identity_and_set_name() -> None:
    obs = run(D, capture("profinet/profinet-wireshark-bug.pcap"))
    assert [o.function for o in obs] == [
        "DCP Identify request",
        "DCP Identify response",
        "DCP Set request",
        "DCP Set response",
    ]
    assert obs[0].details["filter"] == {"all": True}
    response = obs[1]
    assert response.identity_of == "00:02:e3:17:c7:50" and response.message == "response"
    assert (response.client, response.server) == ("00:80:c8:38:a4:8b", "00:02:e3:17:c7:50")
    assert response.identity == {
        "name": "%n%n%n",
        "model": "S7-300EC",
        "vendor_id": "0x002a",
        "device_id": "0x0101",
        "role": "IO-Controller",
        "ip": "192.168.0.11",
        "netmask": "255.255.255.0",
        "gateway": "192.168.0.11",
    }
    assert response.details["ip_info"] == "set" and len(response.details["options"]) == 7
    rename = obs[2]
    assert rename.operation == "write" and rename.details["set"] == {
        "name_of_station": "%n%n%n",
        "end_transaction": True,
    }
    assert obs[3].details["results"] == [{"block": "device/2", "error": 0}, {"block": "control/2", "error": 0}]


def test_mixed_capture_identity_and_rt_frames() -> None:
    obs = run(D, capture("profinet/profinet_io_cm_mixed_2.pcapng"))
    (response,) = [o for o in obs if o.function == "DCP Identify response"]
    assert response.packet == 440 and response.identity_of == "00:09:91:43:e0:67"
    assert response.identity == {
        "name": "versamax-pns11",
        "model": "IC200PNS001",
        "vendor_id": "0x015a",
        "device_id": "0x0003",
        "role": "IO-Device",
        "ip": "192.168.1.2",
        "netmask": "255.255.255.0",
        "gateway": "192.168.1.2",
    }
    requests = [o.details["filter"]["name_of_station"] for o in obs if o.function == "DCP Identify request"]
    assert set(requests) == {"siemens-x208-switch", "versamax-pns11", "turck", "flm-pn-bk-2tx4"}
    kinds = [(o.function, o.details["frame_id"]) for o in obs if o.message == "event"]
    # one event per sender, receiver and cyclic frame id; every alarm frame
    assert ("RT cyclic data", "0xc000") in kinds and ("RT cyclic data", "0xc002") in kinds
    assert kinds.count(("Alarm low", "0xfe01")) == 2 and ("PTCP", "0xff40") in kinds


def test_set_ip_reset_signal_and_hello() -> None:
    ip = bytes([192, 168, 0, 7, 255, 255, 255, 0, 192, 168, 0, 1])
    (set_ip,) = eth(dcp(0xFEFD, 4, 0, block(1, 2, b"\x00\x01" + ip)))
    assert set_ip.operation == "write" and set_ip.details["set"]["ip"] == "192.168.0.7"
    (reset,) = eth(dcp(0xFEFD, 4, 0, block(5, 6, b"\x00\x02")))
    assert reset.operation == "restart" and reset.details["set"]["reset"] == 2
    (signal,) = eth(dcp(0xFEFD, 4, 0, block(5, 3, b"\x00\x00\x01\x00")))
    assert signal.operation == "diagnostics"
    hello_blocks = block(2, 2, b"\x00\x00" + b"io-device-7") + block(2, 3, b"\x00\x00\x00\xb0\x01\x02")
    (hello,) = eth(dcp(0xFEFC, 6, 0, hello_blocks + block(2, 4, b"\x00\x00\x01\x00")), src=DEVICE, dst=MULTICAST)
    assert hello.message == "announce" and hello.identity_of == DEVICE
    assert hello.identity == {"name": "io-device-7", "vendor_id": "0x00b0", "device_id": "0x0102", "role": "IO-Device"}
    (get,) = eth(dcp(0xFEFD, 3, 0, b"\x02\x02\x01\x02"))
    assert get.operation == "read" and get.details["get"] == ["device/2", "ip/2"]


def test_truncated_and_garbage() -> None:
    (obs,) = eth(b"\xfe")
    assert obs.message == "malformed"
    (obs,) = eth(dcp(0xFEFF, 5, 1, block(2, 2, b"\x00\x00abc"))[:-3])
    assert "truncated" in obs.details
    assert eth(b"") == []


POOL = seeds("profinet", "eth")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([0xFEFC, 0xFEFD, 0xFEFE, 0xFEFF, 0xC000, 0xFC01]), st.binary(max_size=600))
def test_fuzz_random_bytes(frame_id: int, payload: bytes) -> None:
    eth(frame_id.to_bytes(2, "big") + payload)
    eth(payload)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(POOL))
def test_fuzz_mutated_real_payloads(payload: bytes) -> None:
    eth(payload)
