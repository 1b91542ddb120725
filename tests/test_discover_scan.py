"""`zonewarden discover` on a capture with a port scan in it: the scan does not make the hosts it touched
PLCs, the map draws only real conversations, the flows stream out as JSON, and the scan detection
still sees every probe."""

from __future__ import annotations

import json

import pytest
from test_capture import eth, ipv4, pcap, tcp, write
from test_detections import _synthetic_context
from test_flows import ACK, RST, SYN, handshake
from typer.testing import CliRunner

from zonewarden.cli import app
from zonewarden.detect import detect
from zonewarden.traffic.discover import discover
from zonewarden.traffic.flows import FlowRecords, conversations
from zonewarden.traffic.inventory import InventoryBuilder

SCANNER = "10.0.0.66"
PORTS = (102, 502, 44818)
TARGETS = [f"10.0.1.{n}" for n in range(1, 21)]


def _scan_capture(tmp_path):
    """The Modbus conversation of test_flows (10.0.0.5 -> 10.0.0.1:502), then a SYN scan of 20 hosts on
    3 ICS ports: hosts .1-.10 reset every probe, .11-.20 never answer."""
    frames = list(handshake()) + sweep(SCANNER, TARGETS, PORTS, 10_000_000_000)
    return write(tmp_path, pcap(frames), "scan.pcap")


def sweep(scanner, targets, ports, start):
    """A SYN to every port of every target, a ms apart; the first half of the targets reset each probe,
    the others never answer."""
    frames, t = [], start
    for n, target in enumerate(targets):
        for k, port in enumerate(ports):
            sport = 40000 + len(ports) * n + k
            frames.append((t, eth(ipv4(scanner, target, 6, tcp(sport, port, SYN)))))
            if n < len(targets) // 2:
                frames.append((t + 1000, eth(ipv4(target, scanner, 6, tcp(port, sport, RST | ACK)))))
            t += 1_000_000
    return frames


def test_a_scan_makes_no_plcs(tmp_path):
    result = discover([_scan_capture(tmp_path)])
    hosts = {h["ip"]: h for h in result.hosts}
    assert set(hosts) == {"10.0.0.5", "10.0.0.1", SCANNER, *TARGETS[:10]}  # silent targets are no hosts
    assert "plc" in hosts["10.0.0.1"]["roles"] and hosts["10.0.0.1"]["serves"] == ["modbus"]
    for ip in (SCANNER, *TARGETS[:10]):
        assert hosts[ip]["roles"] == [] and hosts[ip]["protocols"] == []
    states = [f["state"] for f in result.flows]
    assert states.count("rejected") == 30 and states.count("unanswered") == 30 and states.count("two-way") == 1
    (scan,) = [a for a in detect(_synthetic_context(list(result.flows), [])) if a.detector == "scan"]
    assert scan.host == SCANNER and "20 hosts on port" in scan.explanation


def test_json_streams_flows_and_the_map_keeps_conversations(tmp_path):
    capture = _scan_capture(tmp_path)
    out = CliRunner().invoke(
        app, ["discover", str(capture), "--format", "json", "--map-json", str(tmp_path / "map.json")]
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert len(doc["flows"]) == doc["stats"]["flows"] == 61
    assert doc["flows"][0]["state"] == "two-way" and doc["flows"][0]["payload_to_server"] == 12
    flow_lines = [line for line in out.stdout.splitlines() if line.startswith('    {"vlan"')]
    assert len(flow_lines) == 61  # one flow per line
    graph = json.loads((tmp_path / "map.json").read_text())
    assert [(e["source"], e["target"]) for e in graph["edges"]] == [("10.0.0.5", "10.0.0.1")]


@pytest.mark.parametrize("chunk", [7, 1 << 17])
def test_probes_are_accounted_in_bulk_as_flow_by_flow(tmp_path, monkeypatch, chunk):
    """discover takes what a probe says of its hosts (seen, packets, bytes) in bulk, a chunk of probes at a
    time: the same as adding every flow record one by one."""
    monkeypatch.setattr(FlowRecords, "PROBE_CHUNK", chunk)
    result = discover([_scan_capture(tmp_path)])
    one_by_one, bulk = InventoryBuilder(), InventoryBuilder()
    for builder, flows in ((one_by_one, result.flows), (bulk, conversations(result.flows))):
        for f in flows:
            builder.add_flow({**f, "packets": f["packets_to_server"] + f["packets_to_client"],
                              "bytes": f["bytes_to_server"] + f["bytes_to_client"]})  # fmt: skip
    for traffic in result.flows.probe_traffic():
        bulk.add_traffic(*traffic)

    def seen(b):
        return {k: (h.first_seen, h.last_seen, h.packets, h.bytes) for k, h in b.hosts.items()}

    assert seen(bulk) == seen(one_by_one) and len(seen(bulk)) == 13


def test_the_table_shows_the_telling_hosts_of_a_big_scan(tmp_path, monkeypatch):
    from zonewarden.cli import discover as cli_discover

    monkeypatch.setattr(cli_discover, "MAX_TABLE_HOSTS", 5)
    out = CliRunner().invoke(app, ["discover", str(_scan_capture(tmp_path))])
    assert out.exit_code == 0, out.output
    assert "5 of 13 hosts shown" in " ".join(out.stdout.split())
    assert "10.0.0.1 " in out.stdout and "10.0.0.5 " in out.stdout  # the Modbus pair, then three bare hosts
