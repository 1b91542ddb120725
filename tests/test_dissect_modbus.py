"""Modbus/TCP and UMAS dissector: facts checked by hand (tshark) in the captures, framing, fuzz.

Capture facts:
* modbus/modbus_example.pcap (icsnpp-modbus test trace): one request per function of the
  spec; frame 94 is a Read Device Identification answer of unit 1 with VendorName "Zeek
  Modbus Test", ProductCode "Protocol Parsing is fun!", MajorMinorRevision "1.2.3.6";
  frame 48 is FC 8/2 (Return Diagnostic Register); frame 100 an exception response to
  FC 3 with code 2 (Illegal data address).
* modbus/ModbusTCP.pcap: up to six ADUs per TCP segment; tshark counts 15976 ADUs, plus
  8 TCP retransmissions it does not dissect (we do: 15984).
* modbus/modbus_test_2.pcap: FC 3 and 4 only (read-only); modbusSmall.pcap: FC 1 and 15.
* modicon-umas/modicon_test.pcap: a Unity session: READ_ID answered with the CPU module
  "140 CPU 311 10" (frame 6), READ_PROJECT_INFO with project "Project" (frame 12),
  TAKE_PLC_RESERVATION by host "USER-714E74F21B" (frame 49), then a program read-out
  (Schneider's "download", PLC to PC: 0x33, 0x34 x N, 0x35), no start/stop/write.
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
from zonewarden.traffic.dissectors.modbus import DISSECTOR

if not PCAPS.is_dir():
    pytest.skip("../shared/data/pcaps is not present", allow_module_level=True)

pytestmark = pytest.mark.skipif(not (PCAPS / "modbus").is_dir(), reason="shared captures not present")

SERVER, CLIENT = "10.0.0.2", "10.0.0.1"


def _files(folder: str) -> list:
    """The captures of a shared folder; none (tests skip) when ../shared is absent."""
    where = PCAPS / folder
    return sorted(where.iterdir()) if where.is_dir() else []


def adu(transaction: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


def packet(payload: bytes, to_server: bool = True, number: int = 1) -> Packet:
    if to_server:
        return Packet(number, 0.0, CLIENT, SERVER, 40000, 502, "tcp", payload)
    return Packet(number, 0.0, SERVER, CLIENT, 502, 40000, "tcp", payload)


def check(observations: list[Observation]) -> None:
    """Every observation speaks the shared vocabulary."""
    for obs in observations:
        assert obs.protocol == "modbus"
        assert obs.message in {"request", "response", "malformed"}
        assert obs.operation is None or obs.operation in OPERATIONS


def test_module_contract() -> None:
    assert DISSECTOR.name == "modbus" and DISSECTOR.name in PROTOCOLS
    assert DISSECTOR.tcp_ports == (502,)


def test_read_device_identification_gives_the_server_identity() -> None:
    obs = run(DISSECTOR, "modbus/modbus_example.pcap")
    check(obs)
    ident = [o for o in obs if o.identity]
    assert len(ident) == 1
    found = ident[0]
    assert found.packet == 94 and found.message == "response" and found.identity_of == "127.0.0.1"
    assert found.identity == {
        "vendor": "Zeek Modbus Test",
        "product_code": "Protocol Parsing is fun!",
        "firmware": "1.2.3.6",
    }
    assert found.function == "Read Device Identification (43/14)" and found.operation == "diagnostics"
    assert found.details["unit_id"] == 1


def test_functions_diagnostics_and_exceptions() -> None:
    obs = run(DISSECTOR, "modbus/modbus_example.pcap")
    by_packet = {o.packet: o for o in obs}
    assert by_packet[4].function == "Read Coils (1)" and by_packet[4].operation == "read"
    assert by_packet[4].details == {"transaction_id": 1, "unit_id": 4, "address": by_packet[4].details["address"],
                                    "quantity": by_packet[4].details["quantity"]}  # fmt: skip
    assert by_packet[36].function == "Write Single Coil (5)" and by_packet[36].operation == "write"
    assert by_packet[48].function == "Diagnostics (8/2): Return Diagnostic Register"
    assert by_packet[48].operation == "diagnostics"
    assert by_packet[64].operation == by_packet[68].operation == "file-transfer"  # FC 20 / 21
    exception = by_packet[100]
    assert exception.message == "response"
    assert exception.details["exception_code"] == 2 and exception.details["exception"] == "Illegal Data Address"
    assert exception.function.startswith("Read Holding Registers (3) exception")
    assert exception.operation == "read"
    units = {o.details["unit_id"] for o in obs}
    assert units == {0, 1, 2, 4, 5, 6, 7, 8, 10}


def test_several_adus_per_segment() -> None:
    obs = run(DISSECTOR, "modbus/ModbusTCP.pcap")
    check(obs)
    per_packet = Counter(o.packet for o in obs)
    assert len(obs) == 15984  # tshark's 15976 plus 8 retransmitted segments
    assert max(per_packet.values()) == 6  # as tshark counts them
    assert not [o for o in obs if o.message == "malformed"]
    assert {o.operation for o in obs} == {"read", "write"}


@pytest.mark.parametrize("capture", ["modbus/modbus_test_2.pcap", "modbus/fuzz-1011.pcap"])
def test_read_only_captures_have_no_changes(capture: str) -> None:
    obs = run(DISSECTOR, capture)
    assert obs
    assert {o.operation for o in obs} == {"read"}


def test_write_capture() -> None:
    ops = Counter((o.function, o.message) for o in run(DISSECTOR, "modbus/modbusSmall.pcap"))
    assert ops[("Write Multiple Coils (15)", "request")] == 8
    assert ops[("Read Coils (1)", "response")] == 8


def test_umas_session() -> None:
    obs = run(DISSECTOR, "modicon-umas/modicon_test.pcap")
    check(obs)
    by_packet = {o.packet: o for o in obs}
    assert by_packet[4].function == "UMAS READ_ID (0x02)" and by_packet[4].operation == "diagnostics"
    assert by_packet[6].identity == {"vendor": "Schneider Electric", "model": "140 CPU 311 10"}
    assert by_packet[6].identity_of == "192.168.63.253" and by_packet[6].details["umas_status"] == "ok"
    assert by_packet[12].identity == {"name": "Project"}
    assert by_packet[49].function == "UMAS TAKE_PLC_RESERVATION (0x10)"
    assert by_packet[49].details["reservation_host"] == "USER-714E74F21B"
    assert by_packet[76].function == "UMAS INITIALIZE_DOWNLOAD (0x33)"
    assert by_packet[79].function == "UMAS DOWNLOAD_BLOCK (0x34)" and by_packet[79].message == "response"
    assert by_packet[186].function == "UMAS END_STRATEGY_DOWNLOAD (0x35)"
    ops = Counter(o.operation for o in obs if o.message == "request")
    assert ops["program-upload"] == 55  # 0x33, 0x34 x 53, 0x35: the PLC's program copied to the PC
    assert not {"stop", "start", "program-download", "write"} & set(ops)


@pytest.mark.parametrize(
    ("code", "function", "operation"),
    [
        (0x40, "UMAS START_PLC (0x40)", "start"),
        (0x41, "UMAS STOP_PLC (0x41)", "stop"),
        (0x30, "UMAS INITIALIZE_UPLOAD (0x30)", "program-download"),
        (0x31, "UMAS UPLOAD_BLOCK (0x31)", "program-download"),
        (0x23, "UMAS WRITE_VARIABLES (0x23)", "write"),
        (0x20, "UMAS READ_MEMORY_BLOCK (0x20)", "read"),
        (0x58, "UMAS CHECK_PLC (0x58)", "diagnostics"),
    ],
)
def test_umas_functions_and_their_responses(code: int, function: str, operation: str) -> None:
    state: dict = {}
    request = DISSECTOR.dissect(packet(adu(7, 0, bytes([90, 0x01, code, 0x00]))), state)
    response = DISSECTOR.dissect(packet(adu(7, 0, bytes([90, 0x01, 0xFE])), to_server=False), state)
    assert [(o.function, o.operation, o.message) for o in request] == [(function, operation, "request")]
    assert [(o.function, o.operation, o.message) for o in response] == [(function, operation, "response")]
    failed = DISSECTOR.dissect(packet(adu(8, 0, bytes([90, 0x01, code]))), state)
    exception = DISSECTOR.dissect(packet(adu(8, 0, bytes([0xDA, 0x01])), to_server=False), state)
    assert failed[0].operation == exception[0].operation == operation
    assert exception[0].details["exception"] == "Illegal Function"


def test_restart_communications_option_is_a_restart() -> None:
    [obs] = DISSECTOR.dissect(packet(adu(1, 1, bytes([8, 0, 1, 0xFF, 0]))), {})
    assert obs.function == "Diagnostics (8/1): Restart Communications Option" and obs.operation == "restart"
    [listen] = DISSECTOR.dissect(packet(adu(2, 1, bytes([8, 0, 4, 0, 0]))), {})
    assert listen.operation == "diagnostics" and listen.details["subfunction"] == 4


def test_device_identification_split_across_segments() -> None:
    objects = b"".join(bytes([i, len(v)]) + v for i, v in enumerate([b"ACME", b"X-1", b"v2.1", b"acme.example",
                                                                        b"Pump", b"PX-100", b"Line 3"]))  # fmt: skip
    whole = adu(9, 3, bytes([43, 14, 1, 0x83, 0, 0, 7]) + objects)
    state: dict = {}
    first = DISSECTOR.dissect(packet(whole[:20], to_server=False, number=1), state)
    second = DISSECTOR.dissect(packet(whole[20:], to_server=False, number=2), state)
    assert first == []
    [obs] = second
    assert obs.identity == {"vendor": "ACME", "product_code": "X-1", "firmware": "v2.1", "vendor_url": "acme.example",
                            "product_name": "Pump", "model": "PX-100", "name": "Line 3"}  # fmt: skip
    assert obs.identity_of == SERVER


def test_garbage_and_truncation() -> None:
    [bad] = DISSECTOR.dissect(packet(b"GET / HTTP/1.1\r\n\r\n"), {})
    assert bad.message == "malformed"
    state: dict = {}
    assert DISSECTOR.dissect(packet(adu(1, 1, bytes([3, 0, 0, 0, 10]))[:9]), state) == []
    # the next segment starts a new ADU: the cut one is reported as truncated, then the new one
    out = DISSECTOR.dissect(packet(adu(2, 1, bytes([3, 0, 0, 0, 10]))), state)
    assert [o.details.get("truncated", False) for o in out] == [True, False]


@pytest.mark.parametrize("capture", sorted(p.relative_to(PCAPS).as_posix() for d in ("modbus", "modicon-umas")
                                            for p in _files(d)))  # fmt: skip
def test_every_capture_parses(capture: str) -> None:
    obs = run(DISSECTOR, capture)
    check(obs)
    assert obs
    malformed = [o.packet for o in obs if o.message == "malformed"]
    # fuzz-72.pcap is Zeek's fuzzed Modbus: frames 2, 7, 8, 12, 34, 35 carry bytes that are no MBAP header
    assert malformed == ([2, 7, 8, 12, 34, 35] if capture.endswith("fuzz-72.pcap") else [])


def test_capture_helper_link_types() -> None:
    from _pcap import packets

    assert sum(1 for _ in packets("s7commplus/s7comm_plus.pcap")) == 160  # Linux cooked capture
    assert sum(1 for _ in packets("dnp3/opendnp3_6.1.2_dump.pcap")) == 36  # BSD null/loopback
    assert sum(1 for _ in packets("enip/multiple_service_packet_cip.pcapng")) == 1  # pcapng


SEEDS = [p for name in ("modbus/modbus_example.pcap", "modicon-umas/modicon_test.pcap", "modbus/fuzz-72.pcap")
         for p in payloads(name, (502,))]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.booleans())
def test_fuzz_random_bytes_never_raise(data: bytes, to_server: bool) -> None:
    check(DISSECTOR.dissect(packet(data, to_server), {}))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.data())
def test_fuzz_mutated_real_payloads_never_raise(seed: bytes, data: st.DataObject) -> None:
    mutated = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 6))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    state: dict = {}
    check(DISSECTOR.dissect(packet(bytes(mutated[:cut]), data.draw(st.booleans())), state))
    check(DISSECTOR.dissect(packet(bytes(mutated[cut:]), data.draw(st.booleans())), state))
