"""DNP3 dissector: facts of real captures (checked against tshark 4.0 by hand) and fuzzing."""

from __future__ import annotations

from collections import Counter

from _pcap import capture, make_packet, mutated, robust, run, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewarden.traffic.dissectors import dnp3
from zonewarden.traffic.dissectors.base import Observation

D = dnp3.DISSECTOR


def requests(observations: list[Observation]) -> list[Observation]:
    return [o for o in observations if o.message == "request" and "function_code" in o.details]


def operations(observations: list[Observation]) -> set[str | None]:
    return {o.operation for o in observations}


def frame(control: int, dst: int, src: int, user: bytes) -> bytes:
    """A DNP3 link frame with correct CRCs."""
    header = bytes([0x05, 0x64, 5 + len(user), control]) + dst.to_bytes(2, "little") + src.to_bytes(2, "little")
    out = header + dnp3.crc_dnp(header).to_bytes(2, "little")
    for at in range(0, len(user), 16):
        block = user[at : at + 16]
        out += block + dnp3.crc_dnp(block).to_bytes(2, "little")
    return out


def test_contract() -> None:
    assert D.name == "dnp3"
    assert D.tcp_ports == (20000,) and D.udp_ports == (20000,)
    assert dnp3.frame_size(5) == 10 and dnp3.frame_size(21) == 10 + 16 + 2 and dnp3.frame_size(255) == 292


def test_write_with_addresses() -> None:
    obs = run(D, capture("dnp3/write_iin_and_response.pcap"))
    (req,) = requests(obs)
    assert (req.packet, req.function, req.operation) == (4, "Write (2)", "write")
    assert (req.client, req.server) == ("192.168.60.1", "192.168.60.130")
    assert req.details["master"] == 1 and req.details["outstation"] == 10
    assert req.details["src"] == 1 and req.details["dst"] == 10 and req.details["objects"] == ["g80v1"]
    (resp,) = [o for o in obs if o.message == "response"]
    assert resp.function == "Response (129)" and resp.operation == "write"  # the operation it answers
    assert resp.details["src"] == 10 and resp.client == "192.168.60.1" and resp.server == "192.168.60.130"
    assert resp.identity == {"dnp3_address": "10", "role": "outstation"} and resp.identity_of == "192.168.60.130"


def test_write_of_time_and_date_is_time_sync() -> None:
    # DNP3-Write.pcap writes g50v1 (time and date): a clock write, reported as time-sync
    (req,) = requests(run(D, capture("dnp3/DNP3-Write.pcap")))
    assert req.function == "Write (2)" and req.details["objects"] == ["g50v1"]
    assert req.operation == "time-sync" and (req.details["master"], req.details["outstation"]) == (4, 3)
    obs = run(D, capture("dnp3/lan_time_sync.pcap"))
    assert [o.function for o in requests(obs)] == ["Record Current Time (24)", "Write (2)"]
    assert operations(obs) == {"time-sync"}


def test_select_operate_and_direct_operate() -> None:
    obs = run(D, capture("dnp3/select_operate_and_responses.pcap"))
    assert [(o.packet, o.function) for o in requests(obs)] == [(4, "Select (3)"), (7, "Operate (4)")]
    assert all(o.operation == "operate" and o.details["objects"] == ["g12v1"] for o in obs)
    assert {(o.details["master"], o.details["outstation"]) for o in obs} == {(1, 10)}
    obs = run(D, capture("dnp3/dnp3_select_operate.pcap"))
    assert [o.function for o in requests(obs)] == ["Select (3)", "Operate (4)"]
    assert {(o.details["master"], o.details["outstation"]) for o in obs} == {(3, 2)}
    (req,) = requests(run(D, capture("dnp3/directoperate_and_response.pcap")))
    assert req.function == "Direct Operate (5)" and req.operation == "operate"


def test_restart_and_stop() -> None:
    (req,) = requests(run(D, capture("dnp3/warm_restart_and_response.pcap")))
    assert (req.function, req.operation, req.client, req.server) == (
        "Warm Restart (14)",
        "restart",
        "192.168.60.1",
        "192.168.60.130",
    )
    obs = run(D, capture("dnp3/dnp3.pcap"))
    counts = Counter(o.function for o in requests(obs))
    assert counts["Cold Restart (13)"] == 2 and counts["Warm Restart (14)"] == 2
    assert counts["Stop Application (18)"] == 4
    stops = [o for o in requests(obs) if o.operation == "stop"]
    assert {o.details["outstation"] for o in stops} == {4, 65535}  # 65535: the broadcast address


def test_function_codes_match_tshark() -> None:
    # tshark 4.0: dnp3.al.func over dnp3.pcap
    obs = run(D, capture("dnp3/dnp3.pcap"))
    codes = Counter(o.details["function_code"] for o in obs if "function_code" in o.details)
    assert codes == Counter({129: 34, 130: 30, 0: 13, 1: 9, 21: 7, 2: 6, 3: 5, 18: 4, 20: 3, 13: 2, 14: 2})


def test_file_operations() -> None:
    obs = run(D, capture("dnp3/dnp3_file_read.pcap"))
    functions = [o.function for o in requests(obs)]
    assert functions[:2] == ["Open File (25)", "Read (1)"] and "Close File (26)" in functions
    assert {o.operation for o in requests(obs) if o.function != "Confirm (0)"} >= {"file-transfer", "read"}
    (req,) = requests(run(D, capture("dnp3/dnp3_file_del.pcap")))
    assert (req.function, req.operation) == ("Delete File (27)", "file-transfer")
    writes = requests(run(D, capture("dnp3/file_write.pcap")))
    assert [o.operation for o in writes] == ["file-transfer"] * 3  # open, write of g70v5, close


def test_read_only_captures_have_no_control() -> None:
    for name in ("dnp3/dnp3_read.pcap", "dnp3/DNP3-Read.pcap", "dnp3/dataset_exchange.pcap"):
        obs = run(D, capture(name))
        assert requests(obs), name
        assert operations(obs) <= {"read", None}, name
    (req,) = requests(run(D, capture("dnp3/dnp3_read.pcap")))
    assert req.details["objects"] == ["g60v2", "g60v3", "g60v4", "g60v1"]  # class 1, 2, 3, 0 polls


def test_link_layer_only_captures() -> None:
    # despite their names these captures hold only link-layer Request Link Status frames
    for name in (
        "dnp3/DNP3-RequestLinkStatus.pcap",
        "dnp3/DNP3-WriteRequest.pcap",
        "dnp3/DNP3-SelectOperateRequest.pcap",
    ):
        obs = [o for o in run(D, capture(name)) if o.message != "malformed"]
        assert [o.function for o in obs] == ["Request Link Status (link 9)"], name
        assert operations(obs) == {None}
    obs = run(D, capture("dnp3/opendnp3_6.6.2.1_dump.pcap"))
    assert obs[0].function == "Reset Link States (link 0)" and obs[1].function == "ACK (link 0)"
    assert obs[0].details["dst"] == 1024 and obs[0].details["src"] == 1


def test_unsolicited_and_secure_authentication() -> None:
    obs = run(D, capture("dnp3/unsolcited_response_and_confirm.pcap"))
    assert [(o.function, o.message, o.operation) for o in obs] == [
        ("Unsolicited Response (130)", "event", "subscribe"),
        ("Confirm (0)", "request", None),
    ]
    assert obs[0].client == "192.168.60.1" and obs[0].server == "192.168.60.130"  # the outstation speaks first
    obs = run(D, capture("dnp3/auth_change_session_keys.pcap"))
    assert Counter(o.details["function_code"] for o in obs) == {32: 2, 131: 2}
    assert all(o.details["secure_authentication"] for o in obs)
    (aggressive, _) = run(D, capture("dnp3/operate_aggressive_mode.pcap"))
    assert aggressive.operation == "operate" and aggressive.details["objects"] == ["g120v3"]


def test_fragment_over_several_link_frames() -> None:
    # packet 1: 4 link frames, the first starts a Write fragment (g112 virtual terminal); packet 2: 5 more frames
    obs = run(D, capture("dnp3/write_vto_empty_string.pcap"))
    assert [(o.packet, o.function, o.details["fir"], o.details["fin"]) for o in obs] == [(1, "Write (2)", 1, 0)]


def test_crcs_of_real_frames_are_good_and_bad_ones_counted() -> None:
    for name in ("dnp3/dnp3.pcap", "dnp3/dnp3_file_read.pcap", "dnp3/DNP3-Malformed.pcap"):
        assert not [o for o in run(D, capture(name)) if o.details.get("bad_crc")], name
    raw = bytearray(frame(0xC4, 4, 3, bytes([0xC0, 0xC1, 0x01, 0x3C, 0x02, 0x06])))
    raw[12] ^= 0xFF  # corrupt a data byte: the block CRC no longer matches
    (obs,) = robust(D, make_packet(bytes(raw), dport=20000))
    assert obs.details["bad_crc"] == 1


def test_several_frames_per_segment_and_split_frames() -> None:
    read = frame(0xC4, 4, 3, bytes([0xC0, 0xC1, 0x01, 0x3C, 0x02, 0x06]))
    status = frame(0xC9, 4, 3, b"")
    obs = robust(D, make_packet(read + status + read, dport=20000))
    assert [o.function for o in obs] == ["Read (1)", "Request Link Status (link 9)", "Read (1)"]
    state: dict = {}
    assert robust(D, make_packet(read[:7], dport=20000), state) == []
    (whole,) = robust(D, make_packet(read[7:], dport=20000), state)
    assert whole.function == "Read (1)" and whole.details["master"] == 3 and whole.details["outstation"] == 4


def test_garbage_is_malformed() -> None:
    (obs,) = robust(D, make_packet(b"GET / HTTP/1.1\r\n\r\n", dport=20000))
    assert obs.message == "malformed"
    (obs,) = robust(D, make_packet(b"\x05\x64\x02\xc4\x04\x00\x03\x00\x00\x00", dport=20000))
    assert obs.message == "malformed" and "length" in obs.details["reason"]


def test_every_capture_dissects_cleanly() -> None:
    folder = capture("dnp3/dnp3.pcap").parent
    for path in sorted(folder.glob("*.pcap")):
        for o in run(D, path):
            assert not o.details.get("internal_error"), (path.name, o)


POOL = seeds("dnp3", "tcp")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.sampled_from(["tcp", "udp"]))
def test_fuzz_random_bytes(payload: bytes, transport: str) -> None:
    robust(D, make_packet(b"\x05\x64" + payload, transport, dport=20000))
    robust(D, make_packet(payload, transport, sport=20000))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(POOL), min_size=1, max_size=4))
def test_fuzz_mutated_real_payloads(payloads: list[bytes]) -> None:
    state: dict = {}
    for payload in payloads:
        robust(D, make_packet(payload, dport=20000), state)


def test_bad_header_crc_is_malformed_and_names_no_address() -> None:
    raw = bytearray(frame(0xC4, 4, 3, bytes([0xC0, 0xC1, 0x01, 0x3C, 0x02, 0x06])))
    raw[8] ^= 0xFF  # the header CRC no longer matches: addresses and length cannot be trusted
    (obs,) = robust(D, make_packet(bytes(raw), dport=20000))
    assert obs.message == "malformed" and obs.details["reason"] == "link header CRC mismatch"
    assert not obs.identity
