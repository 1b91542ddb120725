"""The traffic check folds probes (flows without data) into groups judged in bulk: the same verdicts
and counts as judging every probe as a flow, the violations per group, and the scan detection."""

from __future__ import annotations

from collections import Counter, defaultdict

from test_capture import eth, ipv4, pcap, tcp, write
from test_flows import ACK, PSH, RST, SYN
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
    t = 2_000_000_000
    for n, target in enumerate(TARGETS):
        for k, port in enumerate(PORTS):
            sport = 40000 + 3 * n + k
            frames.append((t, eth(ipv4(SCANNER, target, 6, tcp(sport, port, SYN)))))
            if n < 10:
                frames.append((t + 1000, eth(ipv4(target, SCANNER, 6, tcp(port, sport, RST | ACK)))))
            t += 1_000_000
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
