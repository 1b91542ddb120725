"""The traffic check: flows judged against zones and conduits (bulk), operations, coverage, evidence, CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SHARED

from zonewarden.model.plant import Plant
from zonewarden.traffic.check import (
    ALLOWED,
    BROADCAST,
    INTRA,
    NO_CONDUIT,
    NOT_ALLOWED,
    UNKNOWN,
    ZoneMap,
    classify,
    compile_policy,
    ipv4_values,
)
from zonewarden.traffic.coverage import capture_evidence, record_evidence
from zonewarden.traffic.verify import verify

PCAPS = SHARED / "pcaps"
needs_pcaps = pytest.mark.skipif(not PCAPS.is_dir(), reason="shared captures not present")

# The DNP3 captures of ITI/ICS-Security-Tools: master 192.168.60.1, outstation 192.168.60.130.
DNP3_PLANT = """
version: 1
site: {name: DNP3 test site}
zones:
  - {id: scada, kind: supervisory, purdue_level: 2, subnets: [192.168.60.0/25]}
  - {id: field, kind: control, purdue_level: 1, subnets: [192.168.60.128/25]}
conduits:
  - id: scada-field
    zones: [scada, field]
    flows:
      - {id: dnp3-poll, from: scada, to: field, protocol: dnp3, operations: read-only}
      - {id: modbus-unused, from: scada, to: field, protocol: modbus}
assets:
  - {id: master, role: scada-server, ip: 192.168.60.1}
  - {id: rtu-1, role: rtu, ip: 192.168.60.130}
"""


def _plant(text: str) -> Plant:
    import yaml

    return Plant.model_validate(yaml.safe_load(text))


SYNTH = """
version: 1
site: {name: synthetic}
zones:
  - {id: a, subnets: [10.0.1.0/24]}
  - {id: b, subnets: [10.0.2.0/24]}
  - {id: c, subnets: [10.0.3.0/24]}
  - {id: inner, subnets: [10.0.1.128/25]}
conduits:
  - id: ab
    zones: [a, b]
    flows:
      - {id: mb, from: a, to: b, protocol: modbus}
      - {id: high, from: a, to: b, protocol: tcp, ports: [10000-20000]}
      - {id: one-host, from: plc-a, to: hist-b, protocol: https}
assets:
  - {id: plc-a, ip: 10.0.1.5, zone: a}
  - {id: hist-b, ip: 10.0.2.9, zone: b}
  - {id: odd, ip: 10.0.3.7, zone: a}
"""


def _judge(plant: Plant, rows: list[tuple[str, str, int, int, int]], mid: list[bool] | None = None):
    zm = ZoneMap.build(plant)
    cp = compile_policy(plant, zm)
    src, _ = ipv4_values([r[0] for r in rows])
    dst, _ = ipv4_values([r[1] for r in rows])
    t = np.array([r[2] for r in rows], np.int64)
    sp = np.array([r[3] for r in rows], np.int64)
    dp = np.array([r[4] for r in rows], np.int64)
    m = np.array(mid if mid is not None else [False] * len(rows))
    return classify(cp, zm, src, dst, t, sp, dp, None, m), zm, cp


def test_classify_every_verdict():
    plant = _plant(SYNTH)
    rows = [
        ("10.0.1.5", "10.0.2.7", 1, 40000, 502),  # allowed: zone-to-zone modbus
        ("10.0.1.5", "10.0.1.6", 1, 40000, 502),  # intra-zone
        ("10.0.2.5", "10.0.3.7", 1, 40000, 502),  # b -> 'odd' (an asset of zone a by declaration): not allowed
        ("10.0.2.5", "10.0.3.8", 1, 40000, 502),  # b -> c: no conduit
        ("10.9.9.9", "10.0.2.7", 1, 40000, 502),  # unknown host
        ("10.0.1.5", "10.0.1.255", 2, 137, 137),  # broadcast
        ("10.0.2.7", "10.0.1.5", 1, 40000, 502),  # wrong direction: not allowed
        ("10.0.1.5", "10.0.2.7", 2, 40000, 502),  # modbus is TCP only: not allowed
        ("10.0.1.5", "10.0.2.7", 1, 40000, 15000),  # wide port range (second pass): allowed
        ("10.0.1.5", "10.0.2.9", 1, 40000, 443),  # asset-to-asset rule: allowed
        ("10.0.1.6", "10.0.2.9", 1, 40000, 443),  # another host of zone a: not allowed
        ("10.0.1.200", "10.0.2.7", 1, 40000, 502),  # most specific subnet wins: zone 'inner', no conduit
    ]
    j, zm, cp = _judge(plant, rows)
    assert j.verdict.tolist() == [
        ALLOWED,
        INTRA,
        NOT_ALLOWED,
        NO_CONDUIT,
        UNKNOWN,
        BROADCAST,
        NOT_ALLOWED,
        NOT_ALLOWED,
        ALLOWED,
        ALLOWED,
        NOT_ALLOWED,
        NO_CONDUIT,
    ]
    assert zm.zones[j.src_zone[11]] == "inner"
    assert [cp.rules[r].flow if r >= 0 else None for r in j.rule[[0, 8, 9]]] == ["mb", "high", "one-host"]


def test_mid_flow_reverse_direction_counts():
    plant = _plant(SYNTH)
    # the capture began after the SYN: the first packet seen was the server's answer
    rows = [("10.0.2.7", "10.0.1.5", 1, 502, 40000)]
    j, _, _ = _judge(plant, rows, mid=[True])
    assert j.verdict.tolist() == [ALLOWED] and j.reversed.tolist() == [True]
    j, _, _ = _judge(plant, rows, mid=[False])
    assert j.verdict.tolist() == [NOT_ALLOWED]
    # mixed: one answer through the keys, one through the second pass (asset rule), one through neither
    rows = [
        ("10.0.2.7", "10.0.1.5", 1, 502, 40000),
        ("10.0.2.9", "10.0.1.5", 1, 443, 40001),
        ("10.0.2.7", "10.0.1.5", 1, 9999, 40002),
    ]
    j, _, _ = _judge(plant, rows, mid=[True, True, True])
    assert j.verdict.tolist() == [ALLOWED, ALLOWED, NOT_ALLOWED]
    assert j.reversed.tolist() == [True, True, False]


def test_bulk_matches_one_at_a_time():
    """The bulk path gives the same verdicts as judging each flow alone."""
    plant = _plant(SYNTH)
    rng = np.random.default_rng(7)
    hosts = ["10.0.1.5", "10.0.1.6", "10.0.1.200", "10.0.2.7", "10.0.2.9", "10.0.3.7", "10.0.3.8", "10.9.9.9"]
    rows = [
        (hosts[rng.integers(8)], hosts[rng.integers(8)], int(rng.integers(1, 3)), 40000, int(p))
        for p in rng.choice([502, 443, 15000, 9999], 300)
    ]
    bulk, _, _ = _judge(plant, rows)
    single = [int(_judge(plant, [r])[0].verdict[0]) for r in rows]
    assert bulk.verdict.tolist() == single


def test_chunks_give_the_same_judgement(monkeypatch):
    import zonewarden.traffic.check as check

    plant = _plant(SYNTH)
    rows = [("10.0.1.5", "10.0.2.7", 1, 40000, 502), ("10.0.2.7", "10.0.1.5", 1, 502, 40000)] * 20
    mid = [False, True] * 20
    whole, _, _ = _judge(plant, rows, mid)
    monkeypatch.setattr(check, "CHUNK", 7)
    chunked, _, _ = _judge(plant, rows, mid)
    for name in ("verdict", "src_zone", "dst_zone", "conduit", "rule", "reversed"):
        assert getattr(whole, name).tolist() == getattr(chunked, name).tolist()


@needs_pcaps
@pytest.mark.parametrize(
    ("capture", "operation", "packet"),
    [
        ("dnp3/write_iin_and_response.pcap", "write", 4),
        ("dnp3/select_operate_and_responses.pcap", "operate", 4),
        ("dnp3/warm_restart_and_response.pcap", "restart", 4),
    ],
)
def test_operations_beyond_a_read_only_conduit(capture, operation, packet):
    result = verify(_plant(DNP3_PLANT), [PCAPS / capture])
    ops = [v for v in result.violations if v["kind"] == "operation-not-allowed"]
    assert [(v["operation"], v["packet"], v["conduit"], v["rule"]) for v in ops] == [
        (operation, packet, "scada-field", "dnp3-poll")
    ]
    assert ops[0]["file"].endswith(capture) and ops[0]["zone_pair"] == "scada -> field"


@needs_pcaps
def test_read_only_traffic_is_clean_and_covered():
    result = verify(_plant(DNP3_PLANT), [PCAPS / "dnp3/dnp3_read.pcap"])
    assert result.violations == [] or all(v["kind"] != "operation-not-allowed" for v in result.violations)


@needs_pcaps
def test_coverage_seen_never_seen_and_undeclared():
    result = verify(_plant(DNP3_PLANT), [PCAPS / "dnp3/warm_restart_and_response.pcap"])
    (cov,) = result.coverage
    assert cov["conduit"] == "scada-field"
    seen = {d["flow"]: d["seen"] for d in cov["declared"]}
    assert seen == {"dnp3-poll": True, "modbus-unused": False}
    assert cov["never_seen"] == ["modbus-unused"]
    assert [u["operation"] for u in cov["undeclared"]] == ["restart"]


@needs_pcaps
def test_violation_packet_numbers_agree_with_tshark():
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark not installed")
    capture = PCAPS / "dnp3/warm_restart_and_response.pcap"
    result = verify(_plant(DNP3_PLANT), [capture])
    (v,) = [v for v in result.violations if v["kind"] == "operation-not-allowed"]
    out = subprocess.run(
        [tshark, "-r", str(capture), "-Y", "dnp3.al.func == 14", "-T", "fields", "-e", "frame.number"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert v["packet"] == int(out[0])


@needs_pcaps
def test_not_allowed_flow_names_conduit_and_packet():
    plant = _plant(
        DNP3_PLANT.replace("from: scada, to: field, protocol: dnp3", "from: field, to: scada, protocol: dnp3")
    )
    result = verify(plant, [PCAPS / "dnp3/dnp3_read.pcap"])
    kinds = {v["kind"] for v in result.violations}
    assert kinds <= {"not-allowed", "unknown-host", "no-conduit"}


ASSESSMENT = """\
# A person wrote this file; the comments stay.
zone: field
assessor: A. Person
answers:
  SR 5.1:
    status: implemented   # checked on site
    method: examine
    evidence:
      - {ref: evidence/fw-review.md, date: 2026-01-10, expires: 2027-01-10}
  SR 1.1: implemented
"""


@needs_pcaps
def test_record_evidence_keeps_what_people_wrote(write_workspace):
    root = write_workspace(DNP3_PLANT)
    (root / "assessments").mkdir()
    (root / "assessments" / "field.yaml").write_text(ASSESSMENT, encoding="utf-8")
    capture = PCAPS / "dnp3/warm_restart_and_response.pcap"
    result = verify(_plant(DNP3_PLANT), [capture])
    ev = capture_evidence(root, capture, result.results[0])
    assert len(ev.sha256) == 64 and ev.violations_by_zone["field"] >= 1
    day = dt.date(2026, 11, 26)
    written = record_evidence(root, [ev], day)
    assert sorted(written) == ["assessments/field.yaml", "assessments/scada.yaml"]
    text = (root / "assessments/field.yaml").read_text(encoding="utf-8")
    assert "# A person wrote this file; the comments stay." in text and "# checked on site" in text
    assert "evidence/fw-review.md" in text and ev.sha256 in text
    assert record_evidence(root, [ev], day) == []  # once per capture and day

    from zonewarden.assess.evaluate import evaluate
    from zonewarden.workspace.load import load_workspace

    ws = load_workspace(root)
    assert not [d for d in ws.load_diagnostics if d.severity == "error"]
    answers = {rid: a for _, a in ws.assessments if a.zone == "field" for rid, a in a.answers.items()}
    assert answers["SR 5.1"].status == "implemented" and len(answers["SR 5.1"].evidence) == 2
    assert answers["SR 6.2"].status == "partial"  # new answer: the capture showed violations in the zone
    scada = {rid: a for _, a in ws.assessments if a.zone == "scada" for rid, a in a.answers.items()}
    assert evaluate(scada["SR 5.2"], day)[0] in (True, False)
    assert any(e.ref == capture.name for e in scada["SR 5.2"].evidence)


# -- command line -------------------------------------------------------------------------------------


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "zonewarden", "traffic", *args], capture_output=True, text=True, env=env, cwd=cwd or REPO
    )


@needs_pcaps
def test_cli_json_jsonl_cef_syslog(write_workspace, tmp_path):
    root = write_workspace(DNP3_PLANT)
    capture = str(PCAPS / "dnp3/warm_restart_and_response.pcap")
    cef, syslog = tmp_path / "out.cef", tmp_path / "out.log"
    run = _cli("check", str(root), capture, "--format", "json", "--cef", str(cef), "--syslog", str(syslog))
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert {"violations", "coverage", "detections"} <= set(data)
    assert any(d["detector"] == "cpu-state" and d["packet"] == 4 for d in data["detections"])
    lines = cef.read_text().splitlines()
    assert lines and all(line.startswith("CEF:0|ZoneWarden|traffic check|") for line in lines)
    assert any("cs3=T0816" in line for line in lines)
    assert all(line.startswith("<16") and " zonewarden - " in line for line in syslog.read_text().splitlines())
    run = _cli("check", str(root), capture, "--format", "jsonl")
    types = {json.loads(line)["type"] for line in run.stdout.splitlines()}
    assert types == {"detection", "violation", "coverage"}
    run = _cli("check", str(root), capture)
    assert run.returncode == 0 and "Traceback" not in run.stderr
    assert "1 violation" in run.stdout and "1 violations" not in run.stdout  # the table, titled in the singular


@needs_pcaps
def test_cli_baseline_silences_known_conversations(write_workspace, tmp_path):
    root = write_workspace(DNP3_PLANT)
    capture = str(PCAPS / "s7comm/s7comm_downloading_block_db1.pcap")
    first = _cli("check", str(root), capture, "--format", "json")
    data = json.loads(first.stdout)
    assert any(d["detector"] == "new-host" for d in data["detections"])
    (tmp_path / "before.json").write_text(first.stdout)
    again = json.loads(
        _cli("check", str(root), capture, "--format", "json", "--baseline", str(tmp_path / "before.json")).stdout
    )
    assert not [d for d in again["detections"] if d["detector"] in ("new-host", "new-cross-zone-flow")]


def test_cli_errors_are_clear(write_workspace, tmp_path):
    root = write_workspace(DNP3_PLANT)
    run = _cli("check", str(root), str(tmp_path / "missing.pcap"))
    assert run.returncode == 2 and "no such capture file" in run.stderr and "Traceback" not in run.stderr
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture")
    run = _cli("check", str(root), str(junk))
    assert run.returncode == 1 and "Traceback" not in run.stderr and "junk.pcap" in run.stderr
    run = _cli("check", str(tmp_path / "nowhere"), str(junk))
    assert run.returncode == 2 and "does not exist" in run.stderr
    run = _cli("check", str(root), str(junk), "--format", "xml")
    assert run.returncode == 2 and "unknown format" in run.stderr


@needs_pcaps
def test_cli_several_captures_and_recorded_evidence(write_workspace):
    root = write_workspace(DNP3_PLANT)
    captures = [str(PCAPS / "dnp3/warm_restart_and_response.pcap"), str(PCAPS / "dnp3/write_iin_and_response.pcap")]
    run = _cli("check", str(root), *captures, "--format", "json", "--record-evidence")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    files = {Path(v["file"]).name: v["operation"] for v in data["violations"] if v["kind"] == "operation-not-allowed"}
    assert files == {"warm_restart_and_response.pcap": "restart", "write_iin_and_response.pcap": "write"}
    assert "recorded traffic evidence" in run.stderr
    assess = subprocess.run(
        [sys.executable, "-m", "zonewarden", "assess", str(root), "--format", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert assess.returncode in (0, 1), assess.stderr
    text = (root / "assessments" / "field.yaml").read_text(encoding="utf-8")
    assert text.count("traffic check (") == 6  # SR 5.1, 5.2, 6.2 x two captures


def test_ipv6_flows_are_judged_against_the_conduit_flows():
    from zonewarden.traffic.check import NOT_IP, judge_flows

    plant = _plant(
        SYNTH.replace("  - {id: c, subnets: [10.0.3.0/24]}", "  - {id: c, subnets: [10.0.3.0/24, 'fd00:3::/64']}")
        .replace("  - {id: a, subnets: [10.0.1.0/24]}", "  - {id: a, subnets: [10.0.1.0/24, 'fd00:1::/64']}")
        .replace("  - {id: b, subnets: [10.0.2.0/24]}", "  - {id: b, subnets: [10.0.2.0/24, 'fd00:2::/64']}")
    )
    zm = ZoneMap.build(plant)
    cp = compile_policy(plant, zm)

    def rec(client, server, transport="tcp", port=502):
        return {
            "client": client,
            "server": server,
            "client_port": 40000,
            "server_port": port,
            "transport": transport,
            "initiator_from": "syn",
        }

    flows = [
        rec("fd00:1::5", "fd00:1::6"),
        rec("fd00:1::5", "fd00:2::7"),
        rec("fd00:2::5", "fd00:3::7"),
        rec("fd00:9::5", "fd00:2::7"),
        rec("fe80::1", "ff02::1", "udp"),
        rec("00:11:22:33:44:55", "ff:ff:ff:ff:ff:ff", "eth"),
        rec("fd00:1::5", "fd00:2::7", port=22),  # through the conduit, but no flow of it allows SSH
        rec("fd00:2::7", "fd00:1::5", port=502),  # the conduit's Modbus flow runs a -> b only
    ]
    j = judge_flows(flows, cp, zm)
    assert j.verdict.tolist() == [INTRA, ALLOWED, NO_CONDUIT, UNKNOWN, BROADCAST, NOT_IP, NOT_ALLOWED, NOT_ALLOWED]
    assert cp.rules[int(j.rule[1])].flow == "mb" and int(j.rule[6]) == -1


def test_tables_show_the_gravest_rows_and_say_how_many(monkeypatch):
    """A capture of a network the model does not know has a violation per conversation: the table shows
    MAX_TABLE_ROWS of them (rendering 100,000 rows took minutes), the gravest kinds first so that an S7
    download across zones is not hidden behind a thousand unknown hosts, and its caption counts them."""
    from zonewarden.cli import traffic as cli

    rows = [{"kind": "unknown-host", "n": i} for i in range(1200)]
    rows += [{"kind": "no-conduit", "n": 1}, {"kind": "operation-not-allowed", "n": 2}, {"kind": "no-conduit", "n": 3}]
    table, shown = cli._table("violations", rows, "kind", cli._VIOLATION_RANK)
    assert len(shown) == cli.MAX_TABLE_ROWS and table.title == "1203 violations"
    assert [r["kind"] for r in shown[:3]] == ["operation-not-allowed", "no-conduit", "no-conduit"]
    assert [r["n"] for r in shown[3:6]] == [0, 1, 2]  # then in their own order
    assert table.caption == (
        f"{cli.MAX_TABLE_ROWS} of 1,203 violations shown, gravest first "
        "(operation-not-allowed 1, no-conduit 2, unknown-host 1,200); --format json lists them all"
    )
    alerts = [{"severity": "medium"}] * 600 + [{"severity": "critical"}, {"severity": "high"}]
    _, shown = cli._table("detections", alerts, "severity", cli._SEVERITY_RANK)
    assert [a["severity"] for a in shown[:3]] == ["critical", "high", "medium"]
    table, shown = cli._table("detections", alerts[:4], "severity", cli._SEVERITY_RANK)
    assert shown == alerts[:4] and table.caption is None


def test_a_network_the_model_does_not_know_is_a_handful_of_lines(tmp_path):
    """An unknown BACnet station reads the name of 40 unknown devices, and one unknown host polls the RTU with
    Modbus: the station's conversations fold into one unknown-host violation (40 servers, a sample) and the
    devices into one new-host alert for their subnet; the station and the poller keep their own lines (they
    act as industrial clients: possible rogue masters)."""
    from test_capture import eth, ipv4, pcap, tcp, udp, write
    from test_flows import ACK, PSH, SYN

    from zonewarden.detect import new_host
    from zonewarden.detect.siem import cef
    from zonewarden.traffic import check as check_module

    read_name = bytes.fromhex("810a001101040005010c0c02000001194d")
    station = "10.99.0.200"
    frames = [
        (1_000_000_000 + k, eth(ipv4(station, f"10.99.0.{k + 1}", 17, udp(47808, 47808, read_name)))) for k in range(40)
    ]
    poll = bytes.fromhex("000100000006010300000001")
    rogue, rtu = "10.77.0.9", "192.168.60.130"
    frames += [
        (2_000_000_000, eth(ipv4(rogue, rtu, 6, tcp(50000, 502, SYN)))),
        (2_000_100_000, eth(ipv4(rtu, rogue, 6, tcp(502, 50000, SYN | ACK)))),
        (2_000_200_000, eth(ipv4(rogue, rtu, 6, tcp(50000, 502, PSH | ACK, poll)))),
    ]
    capture = write(tmp_path, pcap(frames), "unknown.pcap")
    result = verify(_plant(DNP3_PLANT), [capture])
    unknown = [v for v in result.violations if v["kind"] == "unknown-host"]
    folded = [v for v in unknown if v.get("servers", 1) > 1]
    assert len(folded) == 1 and folded[0]["servers"] == 40 and folded[0]["client"] == station
    assert folded[0]["server"] == "10.99.0.1" and len(folded[0]["sample"]) == check_module.FOLD_SAMPLE
    assert folded[0]["flows"] == 40 and folded[0]["packets"] == 40
    assert [(v["client"], v["server"]) for v in unknown if v not in folded] == [(rogue, rtu)]
    alerts = [a for a in result.alerts if a.detector == "new-host"]
    subnet = [a for a in alerts if a.count > 1]
    assert len(subnet) == 1 and subnet[0].count == 40 and subnet[0].details["subnet"] == "10.99.0.0/24"
    assert subnet[0].host == "10.99.0.1" and len(subnet[0].details["sample"]) == new_host.SAMPLE
    assert {a.host for a in alerts if a.count == 1} == {station, rogue}
    lines = cef(result.to_dict(), "test").splitlines()
    assert sum("40 servers" in line for line in lines) == 1 and len(lines) < 10
