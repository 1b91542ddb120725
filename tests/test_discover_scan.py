"""`zonewarden discover` on a capture with a port scan in it: the scan does not make the hosts it touched
PLCs, the map draws only real conversations, the flows stream out as JSON, and the scan detection
still sees every probe."""

from __future__ import annotations

import json

from test_capture import eth, ipv4, pcap, tcp, write
from test_detections import _synthetic_context
from test_flows import ACK, RST, SYN, handshake
from typer.testing import CliRunner

from zonewarden.cli import app
from zonewarden.detect import detect
from zonewarden.traffic.discover import discover

SCANNER = "10.0.0.66"
PORTS = (102, 502, 44818)
TARGETS = [f"10.0.1.{n}" for n in range(1, 21)]


def _scan_capture(tmp_path):
    """The Modbus conversation of test_flows (10.0.0.5 -> 10.0.0.1:502), then a SYN scan of 20 hosts on
    3 ICS ports: hosts .1-.10 reset every probe, .11-.20 never answer."""
    frames = list(handshake())
    t = 10_000_000_000
    for n, target in enumerate(TARGETS):
        for k, port in enumerate(PORTS):
            sport = 40000 + 3 * n + k
            frames.append((t, eth(ipv4(SCANNER, target, 6, tcp(sport, port, SYN)))))
            if n < 10:
                frames.append((t + 1000, eth(ipv4(target, SCANNER, 6, tcp(port, sport, RST | ACK)))))
            t += 1_000_000
    return write(tmp_path, pcap(frames), "scan.pcap")


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
