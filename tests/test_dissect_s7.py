"""S7comm / S7comm-plus dissector: facts checked by hand (tshark) in the captures, framing, fuzz.

Capture facts (tshark 4.0 for S7comm; S7comm-plus bytes read by hand):
* s7comm/s7ident.pcap (icsnpp-s7comm, a snap7 server): SZL 0x0011 answers (frames 11, 19) with
  order number 6ES7 315-2EH14-0AB0 and basic firmware V3.2.6 (Ausbg 0x5603, Ausbe 0x0206);
  SZL 0x001C answer (frame 13): PLC name SNAP7-SERVER, module CPU 315-2 PN/DP, serial
  S C-C2UR28922012, memory card MMC 267FF11F; four Start Upload jobs for SDB0, refused.
* s7comm/tia_s300_goOnline.pcapng: firmware V3.2.7 (frame 14); the SZL 0x001C answer comes
  in two userdata fragments (frames 16 and 18): station "S7300/ET200M station_1", module
  "PLC_1", serial "S C-B1U393142011", memory card "MMC 4A1AC019"; no changes.
* s7comm/tia_s300_downloadHwConfig.pcapng: PLC Stop (frame 57), _DELE of SDB2000, SDB1000,
  SDB4, download and _INSE of seven SDBs (the _INSE at frame 80 refused with 0xd2a9, repeated
  at 82), P_PROGRAM start (frame 136); CPU mode-transition pushes STOP and RUN.
* s7comm/s7comm_downloading_block_db1.pcap: Request download of DB1 (frame 43), _INSE (58).
* s7comm/s7comm_clean.pcap: 2637 Read Var jobs and 2625 answers only (read-only).
* s7comm/S7-1200-Uploading-OB1-TIAV12.pcap: S7comm-plus V1 session set-up whose answer names
  6ES7 214-1HE30-0XB0 firmware V2.2 (frame 8); despite the file name, the wire shows a
  download to the PLC: BeginSequence "DLTransaction" (frame 121) and a CreateObject of
  OB "Main" in the PLC program object (frame 127, continued in frames 128-129).
* s7comm/S7-1511_*_HMI.pcap: S7-1511 6ES7 511-1AK00-0AB0 V1.0, HMI reads only.
* s7commplus/s7comm_plus.pcap: S7comm-plus V3 (integrity part) subscription traffic, plus
  classic S7comm reads and writes on a second connection.
"""

from __future__ import annotations

import struct
from collections import Counter

import pytest
from _pcap import PCAPS, payloads, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewarden.model.protocols import OPERATIONS, PROTOCOLS
from zonewarden.traffic.dissectors.base import Observation, Packet
from zonewarden.traffic.dissectors.s7comm import DISSECTOR

if not PCAPS.is_dir():
    pytest.skip("../shared/data/pcaps is not present", allow_module_level=True)

pytestmark = pytest.mark.skipif(not (PCAPS / "s7comm").is_dir(), reason="shared captures not present")

SERVER, CLIENT = "10.0.0.2", "10.0.0.1"
CHANGES = {"write", "stop", "start", "restart", "program-download", "firmware-update", "time-sync", "operate"}


def _files(folder: str) -> list:
    """The captures of a shared folder; none (tests skip) when ../shared is absent."""
    where = PCAPS / folder
    return sorted(where.iterdir()) if where.is_dir() else []


def tpkt(pdu: bytes, last: bool = True) -> bytes:
    return struct.pack(">BBH", 3, 0, len(pdu) + 7) + bytes([2, 0xF0, 0x80 if last else 0x00]) + pdu


def packet(payload: bytes, to_server: bool = True, number: int = 1) -> Packet:
    if to_server:
        return Packet(number, 0.0, CLIENT, SERVER, 40000, 102, "tcp", payload)
    return Packet(number, 0.0, SERVER, CLIENT, 102, 40000, "tcp", payload)


def job(param: bytes, data: bytes = b"", ref: int = 1) -> bytes:
    return struct.pack(">BBHHHH", 0x32, 1, 0, ref, len(param), len(data)) + param + data


def check(observations: list[Observation]) -> None:
    for obs in observations:
        assert obs.protocol in {"s7", "s7comm-plus"}
        assert obs.message in {"request", "response", "event", "malformed"}
        assert obs.operation is None or obs.operation in OPERATIONS


def test_module_contract() -> None:
    assert DISSECTOR.name == "s7" and {"s7", "s7comm-plus"} <= set(PROTOCOLS)
    assert DISSECTOR.tcp_ports == (102,)


def test_szl_identity() -> None:
    obs = run(DISSECTOR, "s7comm/s7ident.pcap")
    check(obs)
    ident = {o.packet: o for o in obs if o.identity}
    assert set(ident) == {11, 13, 19} and {o.identity_of for o in ident.values()} == {"172.17.0.2"}
    assert ident[11].identity == {"vendor": "Siemens", "order_number": "6ES7 315-2EH14-0AB0", "firmware": "V3.2.6"}
    assert ident[13].identity == {
        "vendor": "Siemens",
        "name": "SNAP7-SERVER",
        "module_name": "CPU 315-2 PN/DP",
        "copyright": "Original Siemens Equipment",
        "serial": "S C-C2UR28922012",
        "model": "CPU 315-2 PN/DP",
        "memory_card_serial": "MMC 267FF11F",
    }
    szl = {o.details["szl_id"] for o in obs if "szl_id" in o.details}
    assert szl == {"0x0011", "0x001C", "0x0131", "0x0424"}
    uploads = [o for o in obs if o.operation == "program-upload"]
    assert Counter(o.message for o in uploads) == {"request": 4, "response": 4}
    assert all(o.details["block"] == "SDB0" for o in uploads if o.message == "request")
    assert all(o.details["error"] == "0xd241" for o in uploads if o.message == "response")


def test_fragmented_szl_answer_is_reassembled() -> None:
    obs = run(DISSECTOR, "s7comm/tia_s300_goOnline.pcapng")
    check(obs)
    assert not {o.operation for o in obs} & CHANGES
    by_packet = {o.packet: o for o in obs if o.identity}
    assert by_packet[14].identity["firmware"] == "V3.2.7"
    assert by_packet[14].identity["order_number"] == "6ES7 315-2EH14-0AB0"
    assert 16 not in by_packet  # first fragment: kept until the last one
    assert by_packet[18].identity == {
        "vendor": "Siemens",
        "name": "S7300/ET200M station_1",
        "module_name": "PLC_1",
        "copyright": "Original Siemens Equipment",
        "serial": "S C-B1U393142011",
        "model": "CPU 315-2 PN/DP",
        "memory_card_serial": "MMC 4A1AC019",
    }


def test_hardware_configuration_download() -> None:
    obs = run(DISSECTOR, "s7comm/tia_s300_downloadHwConfig.pcapng")
    check(obs)
    asked = [o for o in obs if o.message == "request"]
    stop = [o for o in asked if o.operation == "stop"]
    start = [o for o in asked if o.operation == "start"]
    assert [(o.packet, o.function) for o in stop] == [(57, "PLC Stop")]
    assert [(o.packet, o.function) for o in start] == [(136, "PI-Service P_PROGRAM (start program)")]
    deleted = [o.details["blocks"] for o in asked if o.details.get("pi_service") == "_DELE"]
    assert deleted == [["SDB2000"], ["SDB1000"], ["SDB4"]]
    loaded = [o.details["block"] for o in asked if o.function == "Request Download"]
    assert loaded == ["SDB7", "SDB4", "SDB2000", "SDB1000", "SDB1", "SDB3", "SDB0"]
    activated = [o.details["blocks"][0] for o in asked if o.details.get("pi_service") == "_INSE"]
    assert activated == ["SDB7", "SDB4", "SDB4", "SDB2000", "SDB1000", "SDB1", "SDB3", "SDB0"]
    [refused] = [o for o in obs if o.details.get("error")]
    assert refused.packet == 81 and refused.details["error"] == "0xd2a9" and refused.operation == "program-download"
    modes = [o.details["mode"] for o in obs if o.message == "event"]
    assert modes == ["STOP", "RUN"]


def test_block_download() -> None:
    obs = run(DISSECTOR, "s7comm/s7comm_downloading_block_db1.pcap")
    check(obs)
    downloads = [o for o in obs if o.operation == "program-download" and o.message == "request"]
    assert [(o.packet, o.function) for o in downloads if o.function != "Download Block"] == [
        (43, "Request Download"),
        (55, "Download Ended"),
        (58, "PI-Service _INSE (activate block)"),
    ]
    assert downloads[0].details["block"] == "DB1" and downloads[0].details["filesystem"] == "P"
    assert {o.operation for o in obs} - {None} == {"program-download", "browse", "diagnostics"}


def test_read_only_and_write_captures() -> None:
    clean = run(DISSECTOR, "s7comm/s7comm_clean.pcap")
    assert Counter((o.message, o.function) for o in clean) == {
        ("request", "Read Var"): 2641,  # tshark: 2637 jobs, plus retransmitted segments
        ("response", "Read Var"): 2806,
    }
    assert clean[0].details["areas"] == ["I"]  # tshark: area 0x81
    demo = run(DISSECTOR, "s7comm/s7comm_varservice_libnodavedemo.pcap")
    assert Counter(o.operation for o in demo if o.message == "request") == {"read": 3, "write": 4, None: 1}


def test_s7comm_plus_download_and_identity() -> None:
    obs = run(DISSECTOR, "s7comm/S7-1200-Uploading-OB1-TIAV12.pcap")
    check(obs)
    assert {o.protocol for o in obs} == {"s7comm-plus"}
    assert {o.details["version"] for o in obs} == {"V1", "V2"}
    [ident] = [o for o in obs if o.identity]
    assert ident.packet == 8 and ident.identity_of == "192.168.1.191"
    assert ident.identity == {"vendor": "Siemens", "order_number": "6ES7 214-1HE30-0XB0", "firmware": "V2.2"}
    downloads = [(o.packet, o.function) for o in obs if o.operation == "program-download" and o.message == "request"]
    assert downloads == [(121, "BeginSequence (DLTransaction)"), (127, "CreateObject (program block)")]
    assert not {128, 129} & {o.packet for o in obs}  # continuation fragments of frame 127


@pytest.mark.parametrize(
    "capture", ["s7comm/S7-1511_db2_var1_HMI.pcap", "s7comm/S7-1511_db3_var1_HMI.pcap", "s7comm/S7-1511_db6w0_HMI.pcap"]
)
def test_s7comm_plus_hmi_reads_only(capture: str) -> None:
    obs = run(DISSECTOR, capture)
    check(obs)
    assert not {o.operation for o in obs} & CHANGES
    assert "read" in {o.operation for o in obs}
    assert {o.identity["order_number"] for o in obs if o.identity} == {"6ES7 511-1AK00-0AB0"}
    assert {o.identity["firmware"] for o in obs if o.identity} == {"V1.0"}


def test_s7comm_plus_v3_and_classic_side_by_side() -> None:
    obs = run(DISSECTOR, "s7commplus/s7comm_plus.pcap")
    check(obs)
    plus = [o for o in obs if o.protocol == "s7comm-plus"]
    assert {o.details["version"] for o in plus} == {"V3"}
    assert Counter(o.function for o in plus if o.message == "event") == {"Notification": 79}
    assert {o.operation for o in plus if o.function == "SetVariable (subscription)"} == {"subscribe"}
    classic = Counter((o.function, o.message) for o in obs if o.protocol == "s7")
    assert classic[("Read Var", "request")] == 8 and classic[("Write Var", "request")] == 8


def _set_variable(target: int, address: bytes, value: int, session: int = 0x3E8, version: int = 2) -> bytes:
    body = struct.pack(">I", target) + b"\x01" + address + bytes([0x00, 0x08, value]) + b"\x00" * 5
    data = b"\x31\x00\x00\x04\xf2\x00\x00\x00\x05" + struct.pack(">I", session) + b"\x34" + body
    return tpkt(bytes([0x72, version]) + struct.pack(">H", len(data)) + data + bytes([0x72, version, 0, 0]))


@pytest.mark.parametrize(("value", "operation"), [(1, "stop"), (3, "start")])
def test_s7comm_plus_operating_state_request(value: int, operation: str) -> None:
    state: dict = {}
    [asked] = DISSECTOR.dissect(packet(_set_variable(52, b"\x90\x77", value)), state)  # object 52, attribute 2167
    assert asked.operation == operation and asked.protocol == "s7comm-plus"
    answer = b"\x32\x00\x00\x04\xf2\x00\x00\x00\x05\x34\x00\x00"
    pdu = tpkt(b"\x72\x02" + struct.pack(">H", len(answer)) + answer + b"\x72\x02\x00\x00")
    [answered] = DISSECTOR.dissect(packet(pdu, to_server=False), state)
    assert answered.message == "response" and answered.operation == operation
    [plain] = DISSECTOR.dissect(packet(_set_variable(0x8A0E0001, b"\x01", 7)), {})
    assert plain.operation == "write"


def test_cotp_and_tpkt_reassembly() -> None:
    stop = job(b"\x29\x00\x00\x00\x00\x00\x09P_PROGRAM", ref=9)
    state: dict = {}
    assert DISSECTOR.dissect(packet(tpkt(stop[:8], last=False)), state) == []  # first COTP data unit
    [obs] = DISSECTOR.dissect(packet(tpkt(stop[8:])), state)
    assert obs.operation == "stop" and obs.details["pi_service"] == "P_PROGRAM"
    whole = tpkt(job(b"\x04\x01\x12\x0a\x10\x02\x00\x04\x00\x01\x84\x00\x00\x00", ref=10)) * 2
    assert DISSECTOR.dissect(packet(whole[:10]), state) == []
    out = DISSECTOR.dissect(packet(whole[10:]), state)
    assert [(o.function, o.details["db"]) for o in out] == [("Read Var", [1]), ("Read Var", [1])]


def test_other_iso_on_tcp_payloads_are_ignored() -> None:
    cotp_cr = b"\x03\x00\x00\x16\x11\xe0\x00\x00\x00\x01\x00\xc1\x02\x01\x00\xc2\x02\x01\x02\xc0\x01\x0a"
    mms = tpkt(b"\x01\x00\x01\x00\x61\x10")
    assert DISSECTOR.dissect(packet(cotp_cr), {}) == []
    assert DISSECTOR.dissect(packet(mms), {}) == []


@pytest.mark.parametrize("capture", ["modbus/modbusBig.pcap"] + sorted(
    p.relative_to(PCAPS).as_posix() for d in ("s7comm", "s7commplus") for p in _files(d)))  # fmt: skip
def test_every_capture_parses(capture: str) -> None:
    obs = run(DISSECTOR, capture)
    check(obs)
    assert obs
    assert not [o.packet for o in obs if o.message == "malformed"]


SEEDS = [p for name in ("s7comm/s7ident.pcap", "s7comm/tia_s300_downloadHwConfig.pcapng",
                        "s7comm/S7-1200-Uploading-OB1-TIAV12.pcap", "s7commplus/s7comm_plus.pcap")
         for p in payloads(name, (102,))]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.booleans())
def test_fuzz_random_bytes_never_raise(data: bytes, to_server: bool) -> None:
    check(DISSECTOR.dissect(packet(data, to_server), {}))
    check(DISSECTOR.dissect(packet(tpkt(data), to_server), {}))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.data())
def test_fuzz_mutated_real_payloads_never_raise(seed: bytes, data: st.DataObject) -> None:
    mutated = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 8))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    state: dict = {}
    for part in (bytes(mutated[:cut]), bytes(mutated[cut:])):
        check(DISSECTOR.dissect(packet(part, data.draw(st.booleans())), state))
