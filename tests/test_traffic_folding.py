"""The traffic check judges flows in bulk and folds them: probes (flows without data) per client,
port and judgement, conversations per client, server, port and judgement. Verdict counts and
violations are those of judging every flow on its own; the scan detection sees every probe."""

from __future__ import annotations

from collections import Counter, defaultdict

from test_capture import eth, ipv4, pcap, tcp, udp, write
from test_discover_scan import sweep
from test_flows import ACK, PSH, SYN
from test_traffic_check import DNP3_PLANT, _plant

from zonewarden.traffic import probes as probes_module
from zonewarden.traffic.check import ZoneMap, check_flows, compile_policy
from zonewarden.traffic.discover import discover
from zonewarden.traffic.verify import verify

MASTER, RTU, SCANNER = "192.168.60.1", "192.168.60.130", "192.168.60.66"
TARGETS = [f"192.168.60.{n}" for n in range(131, 151)]
PORTS = (102, 502, 44818)
READ_ONE_REGISTER = bytes.fromhex("000100000006010300000001")


def _capture(tmp_path):
    """A Modbus request the conduit allows (master -> RTU), then the scanner (zone scada) sweeping 20 field
    hosts on 3 ports: the first 10 reset every probe, the others never answer."""
    frames = [
        (1_000_000_000, eth(ipv4(MASTER, RTU, 6, tcp(50000, 502, SYN)))),
        (1_000_100_000, eth(ipv4(RTU, MASTER, 6, tcp(502, 50000, SYN | ACK)))),
        (1_000_200_000, eth(ipv4(MASTER, RTU, 6, tcp(50000, 502, PSH | ACK, READ_ONE_REGISTER)))),
    ]
    frames += sweep(SCANNER, TARGETS, PORTS, 2_000_000_000)
    return write(tmp_path, pcap(frames), "sweep.pcap")


def test_probes_fold_into_groups_with_the_verdicts_of_every_flow(tmp_path, monkeypatch):
    monkeypatch.setattr(probes_module, "SAMPLE", 3)
    capture = _capture(tmp_path)
    plant = _plant(DNP3_PLANT)
    result = verify(plant, [capture])
    (checked,) = result.results
    assert len(checked.flows) == 1 and checked.flows[0]["verdict"] == "allowed"  # the conversation
    groups = checked.probes
    assert sum(g["flows"] for g in groups) == 60
    # the reference: every flow judged on its own
    zone_map = ZoneMap.build(plant)
    every = list(discover([capture]).flows)
    reference = check_flows(str(capture), every, [], compile_policy(plant, zone_map), zone_map)
    assert checked.counts == reference.counts == {"allowed": 21, "not-allowed": 40}
    servers = defaultdict(set)
    for v in reference.violations:
        servers[(v["kind"], v["port"])].add(v["server"])
    folded = Counter()
    for v in checked.violations:
        folded[(v["kind"], v["port"])] += v["servers"]
        assert v["client"] == SCANNER and v["server"] in TARGETS and v["flows"] == v["servers"] == 10
        assert v["state"] in ("rejected", "unanswered") and v["rule_broken"].startswith("the conduit has no flow")
    assert folded == {key: len(found) for key, found in servers.items()} == {("not-allowed", 102): 20,
                                                                              ("not-allowed", 44818): 20}  # fmt: skip
    first = next(g for g in groups if g["port"] == 102 and g["state"] == "rejected")
    assert first["sample"] == TARGETS[:3] and first["packet"] == 4 and first["dst_zone"] == "field"
    (scan,) = [a for a in result.alerts if a.detector == "scan"]
    assert scan.host == SCANNER and "20 hosts on port" in scan.explanation and scan.count == 60
    assert result.to_dict()["probes"] == groups


def test_the_table_names_the_first_server_and_counts_the_others():
    from zonewarden.cli.traffic import _ends

    assert _ends({"client": SCANNER, "server": TARGETS[0], "servers": 1_250, "state": "rejected"}) == (
        f"{SCANNER} -> {TARGETS[0]} and 1,249 more (rejected)"
    )
    assert _ends({"client": MASTER, "server": RTU}) == f"{MASTER} -> {RTU}"


def test_conversations_fold_with_the_verdicts_and_violations_of_every_flow(tmp_path):
    """A DNS client opens a flow per query: 30 queries fold into one record of 30 flows; two Modbus
    connections into one of 2. Verdict counts and violations are those of judging every flow."""
    query = bytes.fromhex("123401000001000000000000037777770765786d706c6503636f6d0000010001")
    frames, t = [], 1_000_000_000
    for k in range(30):
        frames.append((t, eth(ipv4(MASTER, RTU, 17, udp(30000 + k, 53, query)))))
        frames.append((t + 1000, eth(ipv4(RTU, MASTER, 17, udp(53, 30000 + k, query)))))
        t += 1_000_000
    for port in (50000, 50001):
        frames.append((t, eth(ipv4(MASTER, RTU, 6, tcp(port, 502, SYN)))))
        frames.append((t + 1000, eth(ipv4(RTU, MASTER, 6, tcp(502, port, SYN | ACK)))))
        frames.append((t + 2000, eth(ipv4(MASTER, RTU, 6, tcp(port, 502, PSH | ACK, READ_ONE_REGISTER)))))
        t += 1_000_000
    capture = write(tmp_path, pcap(frames), "dns.pcap")
    plant = _plant(DNP3_PLANT)
    (checked,) = verify(plant, [capture]).results
    zone_map = ZoneMap.build(plant)
    every = list(discover([capture]).flows)
    reference = check_flows(str(capture), every, [], compile_policy(plant, zone_map), zone_map)
    assert checked.counts == reference.counts == {"not-allowed": 30, "allowed": 2}
    assert [(f["server_port"], f["flows"], f["packets_to_server"], f["verdict"]) for f in checked.flows] == [
        (53, 30, 30, "not-allowed"),
        (502, 2, 4, "allowed"),
    ]
    assert checked.flows[0]["first_packet"] == 1 and checked.flows[0]["payload_to_client"] == 30 * len(query)

    def shape(violations):
        return sorted((v["kind"], v["client"], v["server"], v["port"], v["flows"], v["packets"]) for v in violations)

    assert shape(checked.violations) == shape(reference.violations) == [("not-allowed", MASTER, RTU, 53, 30, 60)]
