"""Recognition dissectors: MMS, GOOSE, HART-IP, FINS, MELSEC, Fox, ADS, C37.118, MQTT.

Facts asserted against the shared captures were checked with tshark (the oracle), e.g.
``tshark -r omron-fins/omron_test.pcap -T fields -e omron.command -e omron.controller.model``.
"""

from __future__ import annotations

import struct
from collections import Counter

import pytest
from _pcap import PCAPS, frames, make_packet, mutated, packet, robust, run, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewarden.traffic.dissectors import ads, c37118, fins, fox, goose, hart_ip, melsec, mms, mqtt

if not PCAPS.exists():
    pytest.skip("shared capture corpus /work/shared/data/pcaps not available", allow_module_level=True)

ALL = [mms, goose, hart_ip, fins, melsec, fox, ads, c37118, mqtt]


def by_packet(observations):
    return {o.packet: o for o in observations}


# --- MMS -----------------------------------------------------------------


def test_mms_initiate_identify_and_services():
    obs = by_packet(run(mms.DISSECTOR, PCAPS / "mms/8d7c7db0-9804-012b-b2a6-0016cb8cea27.pcap"))
    assert obs[11].function == "initiate-RequestPDU" and obs[11].message == "request"
    assert obs[14].function == "initiate-ResponsePDU" and obs[14].message == "response"
    # tshark: mms.confirmedServiceRequest 2 (identify) in 17, 4 (read) in 20
    assert obs[17].function == "identify (2)" and obs[17].operation == "diagnostics"
    assert obs[20].function == "read (4)" and obs[20].operation == "read"
    # tshark: mms.vendorName / modelName / revision of frame 26
    assert obs[26].message == "response"
    assert obs[26].identity == {"vendor": "AREVA T&D Corporation", "model": "e-terracomm", "firmware": "2.3.1"}
    assert obs[26].identity_of == obs[26].server


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mms-startRequest.pcap", {12: ("stop (41)", "stop"), 16: ("start (40)", "start")}),
        ("mms-stopRequest.pcap", {12: ("start (40)", "start"), 16: ("stop (41)", "stop")}),
        ("mms-killRequest.pcap", {12: ("kill (44)", "stop")}),
        ("mms-resetRequest.pcap", {12: ("reset (43)", "restart")}),
        ("mms-getAlarmSummary.pcap", {12: ("getAlarmSummary (63)", "read")}),
        ("mms-terminateUploadSequence.pcap", {12: ("initiateUploadSequence (29)", "program-upload")}),
        ("mms-initiateDownloadSequence.pcap", {16: ("initiateDownloadSequence (26)", "program-download")}),
        ("iec61850_write.pcap", {12: ("write (5)", "write")}),
        ("iec61850_get_variable_access_attributes.pcap", {12: ("getVariableAccessAttributes (6)", "browse")}),
    ],
)
def test_mms_confirmed_services(name, expected):
    obs = by_packet(run(mms.DISSECTOR, PCAPS / "mms" / name))
    assert obs[8].function == "initiate-RequestPDU"
    for number, (function, operation) in expected.items():
        assert (obs[number].function, obs[number].operation) == (function, operation)


def test_mms_cancel_without_session_layer_and_reports():
    obs = by_packet(run(mms.DISSECTOR, PCAPS / "mms/mms-cancelRequest.pcap"))
    assert obs[12].function == "cancel-RequestPDU" and obs[12].details["invoke_id"] == 1
    reports = [o for o in run(mms.DISSECTOR, PCAPS / "goose/Sample_File_MMS_and_GOOSE.pcap") if o.message == "event"]
    assert reports and all(o.function == "informationReport" and o.operation == "subscribe" for o in reports)


def test_mms_silent_on_s7comm():
    folder = PCAPS / "s7comm"
    if not folder.exists():
        pytest.skip("no s7comm captures")
    for path in sorted(folder.iterdir())[:8]:
        assert run(mms.DISSECTOR, path) == []
    s7 = bytes.fromhex("0300001902f08032010000000000080000f0000001000101e0")
    assert mms.DISSECTOR.dissect(make_packet(s7, dport=102), {}) == []


# --- GOOSE ---------------------------------------------------------------


def test_goose_fields_and_identity():
    obs = run(goose.DISSECTOR, PCAPS / "goose/GOOSE.pcap")
    assert len(obs) == 8  # tshark: 8 goose frames
    first = obs[0]
    assert first.details["appid"] == "0x0001"
    assert first.details["gocbRef"] == "GEDeviceF650/LLN0$GO$gcb01"
    assert first.details["datSet"] == "GEDeviceF650/LLN0$GOOSE1"
    assert first.details["goID"] == "F650_GOOSE1"
    assert first.identity == {"name": "GEDeviceF650"}
    assert first.identity_of == first.server and ":" in first.server
    names = Counter(o.identity["name"] for o in run(goose.DISSECTOR, PCAPS / "goose/Sample_File_GOOSE.pcap"))
    assert set(names) == {"AA1C1Q01A1LD0", "AA1C1Q05A1LD0", "AA1C1Q07A1LD0"}
    assert sum(names.values()) == 451


# --- HART-IP -------------------------------------------------------------


def _hart(path):
    state: dict = {}
    out = []
    for frame in frames(path):
        if frame.payload and {frame.sport, frame.dport} & {5094, 5095}:
            out.extend(hart_ip.DISSECTOR.dissect(packet(frame), state))
    return by_packet(out)


def test_hart_ip_header_commands_and_identity():
    obs = _hart(PCAPS / "hart-ip/hart_ip.pcap")
    assert obs[1].function == "Session Initiate" and obs[1].details["version"] == 1
    assert obs[2].message == "response"
    # tshark: hart_ip.pt.command 0 in 3/4, 1 in 5, 48 in 19
    assert obs[3].details["command"] == 0 and obs[3].message == "request"
    assert obs[5].function == "Read Primary Variable (1)" and obs[5].operation == "read"
    assert obs[19].details["command"] == 48
    # tshark: hart_ip.pt.rsp.manufacturer_Id 38, expanded_device_type 0x264e
    assert obs[4].identity["vendor_id"] == "38"
    assert obs[4].identity["device_type"] == "0x264e"
    assert obs[4].identity_of == obs[4].server
    assert obs[81].identity["vendor_id"] == "38"  # the same over TCP
    assert obs[23].function == "Keep Alive"


# --- FINS ----------------------------------------------------------------


def test_fins_controller_data_read_tcp_and_udp():
    obs = by_packet(run(fins.DISSECTOR, PCAPS / "omron-fins/omron_test.pcap"))
    # tshark: omron.command 0x0501 in 8 and 9, model CP1L-EL20DR-D, version 01.00 in 9
    assert obs[8].function == "Controller Data Read (0x0501)" and obs[8].message == "request"
    assert obs[9].message == "response"
    assert obs[9].identity == {"vendor": "Omron", "model": "CP1L-EL20DR-D", "firmware": "01.00"}
    assert obs[9].identity_of == obs[9].server == "10.1.1.164"
    assert obs[18].identity["model"] == "CP1L-EL20DR-D"
    assert obs[6].message == "announce"


@pytest.mark.parametrize(
    ("code", "operation"), [(0x0101, "read"), (0x0102, "write"), (0x0401, "start"), (0x0402, "stop")]
)
def test_fins_operations(code, operation):
    frame = bytes([0x80, 0, 2, 0, 1, 0, 0, 2, 0, 7]) + code.to_bytes(2, "big") + b"\x82\x00\x00\x00\x00\x01"
    (obs,) = fins.DISSECTOR.dissect(make_packet(frame, "udp", dport=9600), {})
    assert obs.operation == operation and obs.details["command_code"] == f"0x{code:04x}"


# --- MELSEC --------------------------------------------------------------


def test_melsec_slmp_binary_and_ascii():
    state: dict = {}
    req = bytes.fromhex("500000ffff03000c00100001010000")
    rsp = bytes.fromhex("d00000ffff030016000000") + b"Q03UDVCPU       " + bytes.fromhex("6803")
    (a,) = melsec.DISSECTOR.dissect(make_packet(req, dport=5007), state)
    (b,) = melsec.DISSECTOR.dissect(make_packet(rsp, sport=5007, src="10.0.0.2", dst="10.0.0.1"), state)
    assert a.function == "Read CPU Model (0x0101)"
    assert b.identity == {"vendor": "Mitsubishi Electric", "model": "Q03UDVCPU", "product_code": "0x0368"}
    assert b.identity_of == "10.0.0.2" and b.client == "10.0.0.1"
    for cmd, op in ((0x0401, "read"), (0x1401, "write"), (0x1001, "start"), (0x1002, "stop")):
        raw = bytes.fromhex("500000ffff03000c001000") + struct.pack("<HH", cmd, 0)
        (o,) = melsec.DISSECTOR.dissect(make_packet(raw, dport=5007), {})
        assert o.operation == op
    (o,) = melsec.DISSECTOR.dissect(make_packet(b"500000FF03FF000018001010020000", dport=5007), {})
    assert o.operation == "stop" and o.details["frame"] == "3E ASCII"


def test_melsec_melsoft_captures_recognised():
    obs = run(melsec.DISSECTOR, PCAPS / "melsec/melsoft_129_clean.pcap")
    kinds = Counter((o.message, o.client, o.server) for o in obs)
    assert kinds[("request", "192.168.3.250", "192.168.3.18")] > 900
    assert kinds[("response", "192.168.3.250", "192.168.3.18")] > 900
    udp = run(melsec.DISSECTOR, PCAPS / "melsec/melsoft_UDP_unclean_1.pcap")
    assert any(o.function == "MELSOFT Discovery" for o in udp)
    assert not any(o.message == "malformed" for o in obs + udp)


# --- Fox -----------------------------------------------------------------


def test_fox_hello_identities():
    obs = by_packet(run(fox.DISSECTOR, PCAPS / "niagara-fox/fox_info.pcap"))
    client = obs[4]
    assert client.function == "fox hello" and client.message == "request"
    assert client.identity["model"] == "Workbench" and client.identity["firmware"] == "3.7.44"
    assert client.identity["hostname"] == "xpvm-0omdc01xmy" and client.identity_of == client.client
    station = obs[6]
    assert station.identity["name"] == "Legion_HQ_V4"
    assert station.identity["model"] == "Station" and station.identity["firmware"] == "3.5.41.1"
    assert station.identity["os"] == "QNX" and station.identity["vm_version"] == "2.3"
    assert station.identity_of == station.server
    assert obs[9].function == "fox challenge"


# --- ADS -----------------------------------------------------------------


def test_ads_device_info_and_commands():
    obs = run(ads.DISSECTOR, PCAPS / "ads/beckofflink.pcapng")
    index = by_packet(obs)
    # tshark -d tcp.port==48898,ams: cmdid 1 response frame 41, 2.11.2103 "PLC Server"
    info = index[41]
    assert info.message == "response" and info.function == "Read Device Info (1)"
    assert info.identity["model"] == "PLC Server" and info.identity["firmware"] == "2.11.2103"
    assert info.details["sender_net_id"] == "5.13.117.96.1.1"
    counts = Counter(o.details.get("command_id") for o in obs if o.message in ("request", "response"))
    # tshark ams.cmdid counts: 2 x32, 4 x28, 9 x14, 1 x8, 6 x4, 7 x2
    assert counts == {2: 32, 4: 28, 9: 14, 1: 8, 6: 4, 7: 2}
    assert any(o.details.get("ads_state") == "RUN" for o in obs)


def test_ads_write_control_start_stop():
    def frame(flags, data, invoke=7):
        header = bytes([5, 13, 117, 96, 1, 1]) + struct.pack("<H", 851) + bytes([192, 168, 1, 99, 1, 1])
        header += struct.pack("<HHHIII", 33000, 5, flags, len(data), 0, invoke)
        return b"\0\0" + struct.pack("<I", 32 + len(data)) + header + data

    state: dict = {}
    (req,) = ads.DISSECTOR.dissect(make_packet(frame(4, struct.pack("<HHI", 6, 0, 0)), dport=48898), state)
    assert req.operation == "stop" and req.details["ads_state"] == "STOP"
    resp_packet = make_packet(frame(5, b"\0\0\0\0"), sport=48898, src="10.0.0.2", dst="10.0.0.1")
    (resp,) = ads.DISSECTOR.dissect(resp_packet, state)
    assert resp.operation == "stop" and resp.message == "response"
    (run_,) = ads.DISSECTOR.dissect(make_packet(frame(4, struct.pack("<HHI", 5, 0, 0)), dport=48898), {})
    assert run_.operation == "start"


# --- C37.118 -------------------------------------------------------------


def test_c37118_udp_frames():
    obs = run(c37118.DISSECTOR, PCAPS / "c37.118/C37.118_1PMU_UDP.pcap")
    index = by_packet(obs)
    # tshark: synphasor.frtype 0 (data) x356, command 1 in 1 and 361, 5 in 2, 2 in 4; CFG-2 in 3
    assert sum(o.function == "Data" for o in obs) == 356
    assert index[1].details["command"] == 1 and index[1].operation == "subscribe"
    assert index[2].details["command"] == 5 and index[2].operation == "read"
    assert index[4].function == "Turn on transmission of data frames (2)"
    cfg = index[3]
    assert cfg.function == "Configuration 2" and cfg.identity["name"] == "PMU1"
    assert cfg.identity_of == cfg.server == index[1].server


def test_c37118_tcp_config_reassembled():
    obs = by_packet(run(c37118.DISSECTOR, PCAPS / "c37.118/C37.118_4in1PMU_TCP.pcap"))
    cfg = obs[8]  # tshark: CFG-2 of 2324 bytes reassembled at frame 8, stations PMU1..PMU4
    assert cfg.details["stations"] == ["PMU1", "PMU2", "PMU3", "PMU4"]
    assert cfg.details["idcode"] == 60


# --- MQTT ----------------------------------------------------------------


def _mqtt_string(value: bytes) -> bytes:
    return struct.pack(">H", len(value)) + value


def test_mqtt_connect_publish_subscribe_split():
    var = _mqtt_string(b"MQTT") + b"\x04\xc2\x00\x3c" + _mqtt_string(b"plc-7")
    var += _mqtt_string(b"user") + _mqtt_string(b"pw")
    connect = bytes([0x10, len(var)]) + var
    pub_body = _mqtt_string(b"plant/line1/setpoint") + b"42"
    publish = bytes([0x32, len(pub_body) + 2]) + pub_body[:22] + b"\x00\x05" + pub_body[22:]
    sub_body = b"\x00\x01" + _mqtt_string(b"plant/#") + b"\x01"
    subscribe = bytes([0x82, len(sub_body)]) + sub_body
    stream = connect + publish + subscribe
    state: dict = {}
    out = mqtt.DISSECTOR.dissect(make_packet(stream[:30], dport=1883), state)
    out += mqtt.DISSECTOR.dissect(make_packet(stream[30:], dport=1883), state)
    assert [o.function for o in out] == ["CONNECT", "PUBLISH", "SUBSCRIBE"]
    assert out[0].details["client_id"] == "plc-7" and out[0].details["username"] == "user"
    assert out[0].identity == {"name": "plc-7", "role": "mqtt-client"} and out[0].identity_of == "10.0.0.1"
    assert out[1].operation == "write" and out[1].details["topic"] == "plant/line1/setpoint"
    assert out[1].details["qos"] == 1
    assert out[2].operation == "subscribe" and out[2].details["topics"] == ["plant/#"]


# --- robustness ------------------------------------------------------------

_SEEDS = {
    mms: seeds("mms", "tcp", 150),
    goose: seeds("goose", None, 60),
    hart_ip: seeds("hart-ip", None, 80),
    fins: seeds("omron-fins", None, 40),
    melsec: seeds("melsec", None, 120),
    fox: seeds("niagara-fox", "tcp", 20),
    ads: seeds("ads", "tcp", 150),
    c37118: seeds("c37.118", None, 120),
    mqtt: [b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00", b"\x30\x07\x00\x03a/bxx"],
}


def _port(module, transport):
    dissector = module.DISSECTOR
    ports = dissector.tcp_ports if transport == "tcp" else dissector.udp_ports
    return ports[0] if ports else 0


@pytest.mark.parametrize("module", ALL, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_and_mutated_payloads_never_raise(module, data):
    payload = data.draw(st.one_of(st.binary(max_size=300), mutated(_SEEDS[module])))
    transport = data.draw(st.sampled_from(["tcp", "udp", "eth"]))
    toward = data.draw(st.booleans())
    port = _port(module, transport)
    pkt = make_packet(
        payload, transport, sport=50000 if toward else port, dport=port if toward else 50000, ethertype=0x88B8
    )
    state: dict = {}
    robust(module.DISSECTOR, pkt, state)
    robust(module.DISSECTOR, pkt, state)  # with leftovers in the state


def test_all_captures_without_internal_errors():
    folders = {
        mms: "mms", goose: "goose", hart_ip: "hart-ip", fins: "omron-fins", melsec: "melsec",
        fox: "niagara-fox", ads: "ads", c37118: "c37.118",
    }  # fmt: skip
    for module, folder in folders.items():
        for path in sorted((PCAPS / folder).iterdir()):
            for o in run(module.DISSECTOR, path):
                assert not o.details.get("internal_error"), (path.name, o.details)


def test_names():
    assert [m.DISSECTOR.name for m in ALL] == [
        "iec61850-mms", "goose", "hart-ip", "fins", "melsec", "fox", "ads", "c37.118", "mqtt",
    ]  # fmt: skip
