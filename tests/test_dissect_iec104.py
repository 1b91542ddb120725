"""IEC 60870-5-104 dissector: facts of real captures (checked against tshark 4.0 by hand) and fuzzing."""

from __future__ import annotations

from collections import Counter

from _pcap import capture, make_packet, mutated, robust, run, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewarden.traffic.dissectors import iec104
from zonewarden.traffic.dissectors.base import Observation

D = iec104.DISSECTOR


def asdus(observations: list[Observation]) -> list[Observation]:
    return [o for o in observations if "type_id" in o.details]


def apdu(type_id: int, cause: int, ca: int, body: bytes = b"\x01\x00\x00\x81") -> bytes:
    asdu = bytes([type_id, 1, cause, 0]) + ca.to_bytes(2, "little") + body
    return bytes([0x68, 4 + len(asdu), 0, 0, 0, 0]) + asdu


def test_contract() -> None:
    assert D.name == "iec104" and D.tcp_ports == (2404,)
    assert iec104.TYPE_NAMES[45] == "C_SC_NA_1" and iec104.TYPE_NAMES[100] == "C_IC_NA_1"
    assert iec104.operation_of(46) == "operate" and iec104.operation_of(103) == "time-sync"
    assert iec104.operation_of(105) == "restart" and iec104.operation_of(122) == "file-transfer"
    assert iec104.operation_of(13) == "read" and iec104.operation_of(101) == "read"


def test_type_ids_causes_and_common_addresses_match_tshark() -> None:
    obs = run(D, capture("iec104/090813_diverse.pcap"))
    counts = Counter((o.details["type_id"], o.details["cause"], o.details["common_address"]) for o in asdus(obs))
    # tshark 4.0: iec60870_asdu.typeid / causetx / addr
    assert counts == Counter({
        (13, 3, 3): 10, (30, 3, 3): 8, (59, 7, 3): 4, (50, 7, 3): 4, (59, 6, 3): 4, (50, 6, 3): 4, (13, 1, 3): 3,
        (63, 7, 3): 2, (61, 7, 3): 2, (59, 10, 3): 2, (58, 7, 3): 2, (50, 10, 3): 2, (46, 7, 3): 2, (46, 10, 3): 2,
        (45, 7, 3): 2, (63, 6, 3): 2, (61, 6, 3): 2, (58, 6, 3): 2, (46, 6, 3): 2, (45, 6, 3): 2, (63, 10, 3): 1,
        (61, 10, 3): 1, (58, 10, 3): 1, (45, 10, 3): 1, (13, 20, 3): 1, (100, 7, 3): 1, (100, 10, 3): 1,
        (1, 20, 3): 1, (100, 6, 3): 1,
    })  # fmt: skip
    assert Counter(o.function for o in obs if o.details["format"] != "I") == {
        "S-format (receive ack)": 10,
        "TESTFR act": 2,
        "TESTFR con": 2,
    }


def test_commands_are_operate_requests_from_the_controlling_station() -> None:
    obs = asdus(run(D, capture("iec104/090813_diverse.pcap")))
    commands = [o for o in obs if o.details["cause"] == 6]
    assert {o.operation for o in commands if 45 <= o.details["type_id"] <= 64} == {"operate"}
    assert all(o.message == "request" for o in commands)
    assert {o.function for o in commands} >= {"C_SC_NA_1 (45)", "C_DC_NA_1 (46)", "C_SE_NC_1 (50)", "C_SC_TA_1 (58)"}
    first = commands[0]
    assert (first.packet, first.function, first.details["ioa"], first.details["select"]) == (
        9,
        "C_SC_TA_1 (58)",
        4501,
        1,
    )
    assert first.details["cause_name"] == "act" and first.details["negative"] == 0 and first.details["test"] == 0
    confirmations = [o for o in obs if o.details["cause"] in (7, 10)]
    assert all(o.message == "response" for o in confirmations)
    spontaneous = [o for o in obs if o.details["cause"] == 3]
    assert {(o.message, o.operation) for o in spontaneous} == {("event", "read")}
    (interrogation,) = [o for o in obs if o.details["type_id"] == 100 and o.details["cause"] == 6]
    assert interrogation.operation == "read" and interrogation.details["qualifier"] == 20  # station interrogation
    served = {o.identity_of: o.identity for o in obs if o.identity}
    assert list(served.values()) == [{"iec104_common_address": "3"}]


def test_several_apdus_per_segment() -> None:
    obs = run(D, capture("iec104/IEC104_SQ.pcapng"))
    assert [(o.packet, o.details["ioa"]) for o in obs] == [(1, 0), (1, 16), (1, 32), (1, 48)]
    assert {(o.function, o.details["sq"], o.details["objects"], o.details["common_address"]) for o in obs} == {
        ("M_SP_NA_1 (1)", 1, 16, 1054)
    }
    assert {o.details["cause_name"] for o in obs} == {"inrogen"}
    obs = run(D, capture("iec104/JavaRMI_and_IEC_Misc.pcap"))
    per_packet = Counter(o.packet for o in obs)
    assert max(per_packet.values()) >= 2
    functions = Counter(o.function for o in obs if o.details["format"] == "U")
    assert functions == {"STARTDT act": 2, "STARTDT con": 2, "TESTFR act": 29, "TESTFR con": 29}
    assert {o.details["common_address"] for o in asdus(obs)} == {37133}
    init = [o for o in obs if o.details.get("type_id") == 70]
    assert len(init) == 2 and {(o.message, o.details["cause_name"]) for o in init} == {("event", "init")}


def test_apdu_split_over_segments_and_other_types() -> None:
    state: dict = {}
    clock = apdu(103, 6, 7, b"\x00\x00\x00" + bytes(7))
    assert robust(D, make_packet(clock[:5], dport=2404), state) == []
    (obs,) = robust(D, make_packet(clock[5:] + apdu(105, 6, 7, b"\x00\x00\x00\x01"), dport=2404), state)[:1]
    assert (obs.function, obs.operation, obs.message) == ("C_CS_NA_1 (103)", "time-sync", "request")
    reset = robust(D, make_packet(apdu(105, 6, 7, b"\x00\x00\x00\x01"), dport=2404))[0]
    assert reset.operation == "restart" and reset.details["qualifier"] == 1
    negative = robust(D, make_packet(apdu(45, 0x47, 7), sport=2404))[0]
    assert negative.details["negative"] == 1 and negative.message == "response" and negative.operation == "operate"
    file_ = robust(D, make_packet(apdu(122, 13, 7), dport=2404))[0]
    assert file_.operation == "file-transfer"


def test_garbage() -> None:
    (obs,) = robust(D, make_packet(b"\x16\x03\x01\x00", dport=2404))
    assert obs.message == "malformed"
    (obs,) = robust(D, make_packet(b"\x68\x02\x07\x00", dport=2404))
    assert obs.message == "malformed"


POOL = seeds("iec104", "tcp")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(payload: bytes) -> None:
    robust(D, make_packet(b"\x68" + payload, dport=2404))
    robust(D, make_packet(payload, sport=2404))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(POOL), min_size=1, max_size=4))
def test_fuzz_mutated_real_payloads(payloads: list[bytes]) -> None:
    state: dict = {}
    for payload in payloads:
        robust(D, make_packet(payload, dport=2404), state)
