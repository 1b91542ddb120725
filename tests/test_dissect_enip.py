"""EtherNet/IP and CIP dissector: facts checked by hand (tshark) in the captures, framing, fuzz.

Capture facts (tshark 4.0 output compared by hand):
* enip/enip_test.pcap: ListIdentity request and answer from 10.1.1.164: vendor 1
  (Rockwell Automation/Allen-Bradley), device type 12 (Communications Adapter), product
  code 58, revision 4.03, serial 0x00524d8e, product name "1756-ENBT/A", state 3; the
  same exchange is frames 371/372 of enip_cip_example.pcap.
* enip/EIP-FirmwareChange.pcap: ControlFLASH to 192.168.10.120 over the Rockwell NVS
  object (class 0xA1): service 0x51 (rejected), 0x4B Update, 5243 x 0x4D Transfer, then
  Reset of the Identity object (frame 10592) and Get_Attributes_All of the Identity
  object answering 1756-ENBT/A, revision 4.03, serial 0x0051aec3 (frame 10683).
* enip/EIP-RemoteModeChangeAttempt.pcap: Stop (0x07) on class 0x8E (frame 421).
* enip/EIP-ChangeDateAttempt.pcap, EIP-ChangeTimeAttempt.pcap: Set_Attribute_List on the
  Logix wall-clock object (class 0x8B) at frames 138 and 386.
* enip/EIP-ChangePortConfigurationAttempt.pcap: Set_Attribute_Single on the Ethernet Link
  object (class 0xF6, attribute 6); Get_Attributes_All of 192.168.10.121: 1756-ENBT/A,
  serial 0x0046a36c.
* enip/EIP-RebootorRestart.pcap: an online download to a ControlLogix: Stop on class 0x8E
  (frame 399), Reset on class 0x72 (frame 454), Create of Logix program, routine, task
  and tag objects, Start on class 0x8E (frame 804); Unconnected Send routed to backplane
  slot 0 answering 1756-L61/B LOGIX5561, revision 16.20, serial 0x0051823f.
* enip/cip-multiple-1.pcap, multiple_service_packet_cip.pcapng: one Multiple Service
  Packet with 11 Get_Attribute_List requests (read-only).
* enip/enip_cip_example.pcap: 398 UDP 2222 implicit I/O datagrams.
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
from zonewarden.traffic.dissectors.enip import DEVICE_TYPES, DISSECTOR, VENDORS, classify, parse_path

if not PCAPS.is_dir():
    pytest.skip("../shared/data/pcaps is not present", allow_module_level=True)

pytestmark = pytest.mark.skipif(not (PCAPS / "enip").is_dir(), reason="shared captures not present")

SERVER, CLIENT = "10.0.0.2", "10.0.0.1"


def _files(folder: str) -> list:
    """The captures of a shared folder; none (tests skip) when ../shared is absent."""
    where = PCAPS / folder
    return sorted(where.iterdir()) if where.is_dir() else []


def encap(command: int, body: bytes, context: bytes = b"ctx-0001") -> bytes:
    return struct.pack("<HHII8sI", command, len(body), 0x1234, 0, context, 0) + body


def rr_data(cip: bytes, context: bytes = b"ctx-0001") -> bytes:
    cpf = struct.pack("<IHH", 0, 5, 2) + struct.pack("<HH", 0, 0) + struct.pack("<HH", 0xB2, len(cip)) + cip
    return encap(0x6F, cpf, context)


def request(service: int, path: bytes, data: bytes = b"") -> bytes:
    return bytes([service, len(path) // 2]) + path + data


def symbol(name: bytes) -> bytes:
    return bytes([0x91, len(name)]) + name + (b"\x00" if len(name) % 2 else b"")


def packet(payload: bytes, to_server: bool = True, number: int = 1, transport: str = "tcp") -> Packet:
    if to_server:
        return Packet(number, 0.0, CLIENT, SERVER, 40000, 44818, transport, payload)
    return Packet(number, 0.0, SERVER, CLIENT, 44818, 40000, transport, payload)


def check(observations: list[Observation]) -> None:
    for obs in observations:
        assert obs.protocol == "enip"
        assert obs.message in {"request", "response", "event", "malformed"}
        assert obs.operation is None or obs.operation in OPERATIONS


def requests(obs: list[Observation]) -> list[Observation]:
    return [o for o in obs if o.message == "request"]


def test_module_contract() -> None:
    assert DISSECTOR.name == "enip" and DISSECTOR.name in PROTOCOLS
    assert DISSECTOR.tcp_ports == (44818,) and set(DISSECTOR.udp_ports) == {44818, 2222}


def test_vendor_and_device_tables() -> None:
    assert len(VENDORS) >= 30
    assert VENDORS[1] == "Rockwell Automation/Allen-Bradley"
    assert VENDORS[47] == "Omron Corporation" and VENDORS[243] == "Schneider Automation, Inc."
    assert VENDORS[562] == "Phoenix Contact" and VENDORS[108] == "Beckhoff Automation GmbH"
    assert DEVICE_TYPES[0x0E] == "Programmable Logic Controller" and DEVICE_TYPES[0x0C] == "Communications Adapter"
    assert DEVICE_TYPES[0x2B] == "Generic Device (keyable)"


@pytest.mark.parametrize(("capture", "number"), [("enip/enip_test.pcap", 7), ("enip/enip_cip_example.pcap", 372)])
def test_list_identity(capture: str, number: int) -> None:
    obs = run(DISSECTOR, capture)
    check(obs)
    [answer] = [o for o in obs if o.identity]
    assert answer.packet == number and answer.message == "response" and answer.function == "ListIdentity"
    assert answer.identity_of == "10.1.1.164" and answer.server == "10.1.1.164"
    assert answer.identity == {
        "ip": "10.1.1.164",
        "vendor": "Rockwell Automation/Allen-Bradley",
        "vendor_id": "1",
        "device_type": "Communications Adapter",
        "product_code": "58",
        "firmware": "4.03",
        "serial": "0x00524d8e",
        "model": "1756-ENBT/A",
    }
    assert answer.details["status"] == "0x0030" and answer.details["state"] == "0x03"
    [query] = [o for o in obs if o.function == "ListIdentity" and o.message == "request"]
    assert query.operation == "diagnostics" and query.client == "10.1.1.167"


def test_firmware_change() -> None:
    obs = run(DISSECTOR, "enip/EIP-FirmwareChange.pcap")
    check(obs)
    updates = [o for o in requests(obs) if o.operation == "firmware-update"]
    assert len(updates) == 5245
    assert {(o.client, o.server) for o in updates} == {("192.168.10.105", "192.168.10.120")}
    functions = Counter(o.function for o in updates)
    assert functions["NVS_Transfer (Non-Volatile Storage (Rockwell))"] == 5243
    assert functions["NVS_Update (Non-Volatile Storage (Rockwell))"] == 1
    [reset] = [o for o in requests(obs) if o.operation == "restart"]
    assert reset.packet == 10592 and reset.function == "Reset (Identity)"
    identities = [o for o in obs if o.identity]
    assert identities[0].packet == 10683
    assert identities[0].identity_of == "192.168.10.120"
    assert identities[0].identity["model"] == "1756-ENBT/A" and identities[0].identity["serial"] == "0x0051aec3"
    assert identities[0].identity["firmware"] == "4.03" and identities[0].identity["product_code"] == "58"
    rejected = [o for o in obs if o.message == "response" and o.details.get("status") == "Service not supported"]
    assert [o.packet for o in rejected] == [28]


def test_remote_mode_change_is_a_stop() -> None:
    obs = run(DISSECTOR, "enip/EIP-RemoteModeChangeAttempt.pcap")
    check(obs)
    changes = [o for o in obs if o.operation not in (None, "read", "diagnostics")]
    assert [(o.packet, o.message, o.operation, o.function) for o in changes] == [
        (421, "request", "stop", "Stop (class 0x8E)"),
        (422, "response", "stop", "Stop (class 0x8E)"),
    ]


@pytest.mark.parametrize(("capture", "number"), [("enip/EIP-ChangeDateAttempt.pcap", 138),
                                                  ("enip/EIP-ChangeTimeAttempt.pcap", 386)])  # fmt: skip
def test_clock_changes_are_time_sync(capture: str, number: int) -> None:
    obs = run(DISSECTOR, capture)
    changes = [o for o in requests(obs) if o.operation not in ("read", "diagnostics")]
    assert [(o.packet, o.operation) for o in changes] == [(number, "time-sync")]
    assert changes[0].function == "Set_Attribute_List (Wall Clock Time (Logix))"


def test_port_configuration_change_is_a_write() -> None:
    obs = run(DISSECTOR, "enip/EIP-ChangePortConfigurationAttempt.pcap")
    [write] = [o for o in requests(obs) if o.operation == "write"]
    assert write.function == "Set_Attribute_Single (Ethernet Link)"
    assert write.details["path"] == {"class": 0xF6, "instance": 1, "attribute": 6}
    [ident] = [o for o in obs if o.identity]
    assert ident.identity_of == "192.168.10.121" and ident.identity["serial"] == "0x0046a36c"


def test_online_download_to_a_controllogix() -> None:
    obs = run(DISSECTOR, "enip/EIP-RebootorRestart.pcap")
    check(obs)
    ops = {o.packet: o.operation for o in requests(obs) if o.operation in ("stop", "start", "restart")}
    assert ops == {399: "stop", 454: "restart", 804: "start"}
    downloads = Counter(o.function for o in requests(obs) if o.operation == "program-download")
    assert downloads["Create (Program (Logix))"] == 1 and downloads["Create (Routine (Logix))"] == 1
    assert downloads["Create (Task (Logix))"] == 1 and downloads["Create (Symbol (Logix))"] == 19
    routed = [o.details["routed_identity"] for o in obs if "routed_identity" in o.details]
    assert routed and all(r == routed[0] for r in routed)
    assert routed[0]["model"] == "1756-L61/B LOGIX5561" and routed[0]["firmware"] == "16.20"
    assert routed[0]["serial"] == "0x0051823f" and routed[0]["device_type"] == "Programmable Logic Controller"
    assert routed[0]["route"] == "1/0"
    assert not [o for o in obs if o.identity]  # the module behind the backplane is not the adapter's identity


@pytest.mark.parametrize("capture", ["enip/cip-multiple-1.pcap", "enip/multiple_service_packet_cip.pcapng"])
def test_multiple_service_packet_is_unwrapped_and_read_only(capture: str) -> None:
    obs = run(DISSECTOR, capture)
    check(obs)
    assert len(obs) == 11
    assert {o.operation for o in obs} == {"read", "diagnostics"}
    assert Counter(o.details["service"] for o in obs) == {0x03: 11}
    assert {o.details["path"]["class"] for o in obs} == {0x01, 0x69, 0x73, 0xAC, 0x68, 0x70, 0x8E, 0x77, 0x8B}


def test_multiple_service_packet_answers_match_their_requests() -> None:
    [answer] = payloads("enip/cip-multiple-2.pcap", (44818,))
    [ask] = payloads("enip/cip-multiple-1.pcap", (44818,))
    state: dict = {}
    asked = DISSECTOR.dissect(packet(ask), state)
    answered = DISSECTOR.dissect(packet(answer, to_server=False), state)
    assert len(asked) == len(answered) == 11
    assert [o.function for o in asked] == [o.function for o in answered]
    assert all(o.details["status"] == "Success" for o in answered)


def test_set_attribute_single_is_a_write() -> None:
    [obs] = run(DISSECTOR, "enip/set_attribute_single_service_cip.pcapng")
    assert obs.operation == "write" and obs.function == "Set_Attribute_Single (Identity)"


def test_implicit_io_is_classified_once_per_connection() -> None:
    obs = run(DISSECTOR, "enip/enip_cip_example.pcap")
    events = [o for o in obs if o.message == "event"]
    assert events and all(o.function == "Implicit I/O (class 0/1)" and o.operation is None for o in events)
    assert len({(o.client, o.details["connection_id"]) for o in events}) == len(events) == 24


@pytest.mark.parametrize(
    ("service", "path", "expected"),
    [
        (0x4C, symbol(b"Tank_Level"), ("Read_Tag", "read")),
        (0x4D, symbol(b"Setpoint"), ("Write_Tag", "write")),
        (0x52, symbol(b"Recipe"), ("Read_Tag_Fragmented", "read")),
        (0x53, symbol(b"Recipe"), ("Write_Tag_Fragmented", "write")),
        (0x0E, b"\x20\x01\x24\x01\x30\x07", ("Get_Attribute_Single (Identity)", "diagnostics")),
        (0x10, b"\x20\xf5\x24\x01\x30\x05", ("Set_Attribute_Single (TCP/IP Interface)", "write")),
        (0x05, b"\x20\x01\x24\x01", ("Reset (Identity)", "restart")),
        (0x06, b"\x20\x8e\x24\x01", ("Start (class 0x8E)", "start")),
        (0x4B, b"\x20\x37\x24\xc8", ("Initiate_Upload (File)", "file-transfer")),
        (0x54, b"\x20\x06\x24\x01", ("Forward_Open (Connection Manager)", None)),
        (0x4B, b"\x20\x99\x24\x01", ("Service 0x4B (class 0x99)", None)),
    ],
)
def test_cip_services(service: int, path: bytes, expected: tuple[str, str | None]) -> None:
    [obs] = DISSECTOR.dissect(packet(rr_data(request(service, path, b"\x01\x00"))), {})
    assert (obs.function.split(" (")[0] if service in (0x4C, 0x4D, 0x52, 0x53) else obs.function, obs.operation) == (
        expected
    )
    if service in (0x4C, 0x4D):
        assert obs.details["path"]["symbol"] in ("Tank_Level", "Setpoint")


def test_unconnected_send_is_unwrapped_and_the_answer_classified() -> None:
    inner = request(0x4D, symbol(b"Valve.Open"), b"\xc1\x00\x01\x00\x01")
    route = b"\x01\x00\x01\x02"  # route path: 1 word, reserved, port 1 slot 2
    ucmm = request(0x52, b"\x20\x06\x24\x01", b"\x0a\xf0" + struct.pack("<H", len(inner)) + inner + b"\x00" + route)
    state: dict = {}
    [asked] = DISSECTOR.dissect(packet(rr_data(ucmm, b"ctx-0002")), state)
    assert asked.function == "Write_Tag" and asked.operation == "write"
    assert asked.details["path"] == {"symbol": "Valve.Open", "route": ["1/2"]}
    [answered] = DISSECTOR.dissect(packet(rr_data(b"\xcd\x00\x00\x00", b"ctx-0002"), to_server=False), state)
    assert (answered.function, answered.operation, answered.message) == ("Write_Tag", "write", "response")
    assert answered.client == CLIENT and answered.server == SERVER


def test_encapsulation_split_across_segments_and_several_per_segment() -> None:
    one = rr_data(request(0x4C, symbol(b"A"), b"\x01\x00"), b"ctx-0003")
    two = rr_data(request(0x4D, symbol(b"B"), b"\xc4\x00\x01\x00\x00\x00\x00\x00"), b"ctx-0004")
    stream = one + two
    state: dict = {}
    first = DISSECTOR.dissect(packet(stream[:30], number=1), state)
    second = DISSECTOR.dissect(packet(stream[30:], number=2), state)
    assert first == [] and [o.operation for o in second] == ["read", "write"]


def test_path_decoding() -> None:
    path = b"\x01\x00" + b"\x21\x00\x6b\x00\x25\x00\x34\x12" + b"\x30\x01"
    assert parse_path(path, 0, len(path)) == {"route": ["1/0"], "class": 0x6B, "instance": 0x1234, "attribute": 1}
    assert classify(0x4C, {"class": 0x6B, "instance": 1})[1] == "read"
    assert classify(0x08, {"class": 0x6A, "instance": 1, "scope_class": 0x68})[1] == "program-download"


def test_garbage() -> None:
    [bad] = DISSECTOR.dissect(packet(b"\x16\x03\x01\x02\x00" + b"\x00" * 40), {})
    assert bad.message == "malformed"


@pytest.mark.parametrize("capture", sorted(p.relative_to(PCAPS).as_posix() for p in _files("enip")))
def test_every_capture_parses(capture: str) -> None:
    obs = run(DISSECTOR, capture)
    check(obs)
    assert not [o.packet for o in obs if o.message == "malformed"]


SEEDS = [p for name in ("enip/enip_test.pcap", "enip/cip-multiple-1.pcap", "enip/cip-multiple-2.pcap",
                        "enip/EIP-RebootorRestart.pcap", "enip/EIP-FirmwareChange.pcap")
         for p in payloads(name, (44818,))[:300]]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.booleans(), st.sampled_from(["tcp", "udp"]))
def test_fuzz_random_bytes_never_raise(data: bytes, to_server: bool, transport: str) -> None:
    check(DISSECTOR.dissect(packet(data, to_server, transport=transport), {}))
    io = Packet(1, 0.0, CLIENT, SERVER, 2222, 2222, "udp", data)
    check(DISSECTOR.dissect(io, {}))


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
