"""rules check: weakened configurations whose planted problems (a)-(g) are found at their lines,
the analysis engine's semantics (first match, jumps, returns, defaults), and the CLI end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zonewarden.rules.analyze import analyze, zone_infos
from zonewarden.rules.config import parse_text
from zonewarden.rules.policy import build_policy
from zonewarden.workspace.load import load_workspace

PLANT = """\
version: 1
site: {name: Check test}
zones:
  - {id: enterprise, kind: enterprise, purdue_level: 4, subnets: [10.1.0.0/16]}
  - {id: dmz, kind: dmz, purdue_level: 3.5, subnets: [172.16.35.0/24]}
  - {id: ops, kind: operations, purdue_level: 3, subnets: [10.30.3.0/24]}
  - {id: scada, kind: supervisory, purdue_level: 2, subnets: [10.30.2.0/24]}
  - {id: control, kind: control, purdue_level: 1, subnets: [10.30.11.0/24]}
assets:
  - {id: fw, role: firewall, zone: dmz, ip: 172.16.35.1}
  - {id: hist, role: historian, zone: dmz, ip: 172.16.35.10}
  - {id: ops-hist, role: historian, zone: ops, ip: 10.30.3.10}
  - {id: scada-srv, role: scada-server, zone: scada, ip: 10.30.2.10}
  - {id: ews, role: engineering-workstation, zone: scada, ip: 10.30.2.20}
  - {id: plc, role: plc, zone: control, ip: 10.30.11.10}
conduits:
  - id: ent-dmz
    zones: [enterprise, dmz]
    enforcement: firewall
    devices: [fw]
    flows: [{from: enterprise, to: hist, protocol: https}]
  - id: ops-dmz
    zones: [ops, dmz]
    enforcement: firewall
    devices: [fw]
    flows: [{from: ops-hist, to: hist, protocol: historian}]
  - id: ops-scada
    zones: [ops, scada]
    enforcement: firewall
    devices: [fw]
    flows: [{from: ops-hist, to: scada-srv, protocol: opcua}]
  - id: scada-control
    zones: [scada, control]
    enforcement: firewall
    devices: [fw]
    flows:
      - {from: scada-srv, to: plc, protocol: modbus}
      - {from: ews, to: plc, protocol: s7}
"""

# Each weakened configuration plants every problem (a)-(g); PLANTED maps a unique piece of a
# line to the finding kinds that line must produce.
IPTABLES = """\
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A FORWARD -s 10.1.0.0/16 -d 172.16.35.10/32 -p tcp -m tcp --dport 443 -j LOG --log-prefix "ent-dmz "
-A FORWARD -s 10.1.0.0/16 -d 172.16.35.10/32 -p tcp -m tcp --dport 443 -j ACCEPT
-A FORWARD -s 10.30.3.10/32 -d 172.16.35.10/32 -p tcp -m tcp --dport 5450 -j LOG
-A FORWARD -s 10.30.3.10/32 -d 172.16.35.10/32 -p tcp -m tcp --dport 5450 -j ACCEPT
-A FORWARD -s 10.30.2.10/32 -d 10.30.11.10/32 -p tcp -m tcp --dport 502 -m comment --comment "modbus" -j ACCEPT
-A FORWARD -s 10.30.2.10/32 -d 10.30.11.10/32 -p tcp -m tcp --dport 502 -j ACCEPT
-A FORWARD -s 10.1.0.0/16 -d 10.30.11.0/24 -p tcp -m tcp --dport 3389 -j ACCEPT
-A FORWARD -d 10.30.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT
-A FORWARD -d 10.30.2.10/32 -p tcp -m tcp --dport 4840 -j DROP
-A FORWARD -s 10.30.3.10/32 -d 10.30.2.10/32 -p tcp -m tcp --dport 4840 -j ACCEPT
-A FORWARD -s 10.30.2.20/32 -d 10.30.11.10/32 -p tcp -m tcp --dport 102 -j LOG
-A FORWARD -s 10.30.2.20/32 -d 10.30.11.10/32 -p tcp -m tcp --dport 102 -j ACCEPT
-A FORWARD -s 10.1.0.0/16 -d 10.30.11.0/24 -p udp -j DROP
-A FORWARD -p icmp -j ACCEPT
COMMIT
"""
IPTABLES_PLANTED = {
    ":FORWARD DROP": {"no-final-deny"},  # (e)
    '--comment "modbus"': {"permit-without-log"},  # (f)
    "--dport 502 -j ACCEPT": {"shadowed"},  # (d) the duplicate
    "--dport 3389": {"permit-not-in-policy", "purdue-level-skip"},  # (a) (g)
    "--dport 22": {"over-broad", "permit-not-in-policy"},  # (c)
    "--dport 4840 -j DROP": {"flow-not-permitted"},  # (b)
    "-s 10.30.3.10/32 -d 10.30.2.10/32": {"shadowed"},  # (d) the permit after the drop
    "-p udp -j DROP": {"redundant"},  # (d) the default drops it anyway
    "-p icmp -j ACCEPT": {"any-any"},  # (c)
}
IPTABLES_CLEAN = ("--dport 443 -j ACCEPT", "--dport 5450 -j ACCEPT", "--dport 102 -j ACCEPT")

NFTABLES = """\
table inet filter {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept
		ip saddr 10.1.0.0/16 ip daddr 172.16.35.10 tcp dport 443 log accept
		ip saddr 10.30.3.10 ip daddr 172.16.35.10 tcp dport 5450 log accept
		ip saddr 10.30.2.10 ip daddr 10.30.11.10 tcp dport 502 accept
		ip daddr 10.30.11.10 tcp dport 102 log drop
		ip saddr 10.30.2.20 ip daddr 10.30.11.10 tcp dport 102 log accept
		ip daddr 10.30.2.10 tcp dport 4840 log accept
		ip saddr 172.16.35.10 ip daddr 10.1.0.0/16 tcp dport 25 log accept
		ip saddr 10.1.0.0/16 ip daddr 10.30.11.0/24 udp dport 161 drop
		jump enterprise_in
		ip saddr 10.1.0.0/16 udp dport 161 log drop
		ip saddr 10.1.0.0/16 tcp dport { 22, 80 } log accept
	}
	chain enterprise_in {
		ip daddr 10.30.2.0/24 tcp dport 3389 log accept
		return
	}
}
"""
NFTABLES_PLANTED = {
    "policy accept": {"default-allow"},  # (e)
    "tcp dport 502 accept": {"permit-without-log"},  # (f)
    "tcp dport 102 log drop": {"flow-not-permitted"},  # (b)
    "ip saddr 10.30.2.20": {"shadowed"},  # (d)
    "tcp dport 4840 log accept": {"over-broad"},  # (c)
    "tcp dport 25": {"permit-not-in-policy"},  # (a)
    "udp dport 161 drop": {"redundant"},  # (d) the later, wider drop decides the same
    "tcp dport 3389": {"permit-not-in-policy", "purdue-level-skip"},  # (a) (g) reached through the jump
    "tcp dport { 22, 80 }": {"over-broad", "permit-not-in-policy"},  # (c) any destination
}
NFTABLES_CLEAN = ("tcp dport 443", "tcp dport 5450")

ASA = """\
hostname fw
!
interface GigabitEthernet0/1
 nameif inside
 security-level 100
 ip address 172.16.35.1 255.255.255.0
!
object network PLC
 host 10.30.11.10
object network SCADA-SRV
 host 10.30.2.10
object-group network SCADA-HOSTS
 network-object object SCADA-SRV
 network-object host 10.30.2.20
object-group service ICS-TCP tcp
 port-object eq 502
 port-object eq 102
access-list inside_in remark conduits
access-list inside_in extended permit tcp 10.1.0.0 255.255.0.0 host 172.16.35.10 eq https log
access-list inside_in extended permit tcp host 10.30.3.10 host 172.16.35.10 eq 5450 log
access-list inside_in extended permit tcp object-group SCADA-HOSTS object PLC object-group ICS-TCP
access-list inside_in extended permit tcp object SCADA-SRV object PLC eq 502 log
access-list inside_in extended deny tcp any host 10.30.2.10 eq 4840 log
access-list inside_in extended permit tcp 10.1.0.0 255.255.0.0 10.30.11.0 255.255.255.0 eq 3389 log
access-list inside_in extended permit udp any any eq snmp log
access-list inside_in extended deny udp 10.1.0.0 255.255.0.0 10.30.2.0 255.255.255.0 log
access-list inside_in extended permit tcp any 10.30.3.0 255.255.255.0 eq 443 log
access-group inside_in in interface inside
"""
ASA_PLANTED = {
    "access-group inside_in": {"no-final-deny"},  # (e) only the implicit deny
    "object-group ICS-TCP": {"permit-not-in-policy", "permit-without-log"},  # (a) (f)
    "object PLC eq 502": {"shadowed"},  # (d)
    "eq 4840": {"flow-not-permitted"},  # (b)
    "eq 3389": {"permit-not-in-policy", "purdue-level-skip"},  # (a) (g)
    "udp any any": {"any-any"},  # (c)
    "deny udp 10.1.0.0": {"redundant"},  # (d) the implicit deny drops it anyway
    "10.30.3.0 255.255.255.0 eq 443": {"over-broad"},  # (c) any source
}
ASA_CLEAN = ("eq https log", "eq 5450 log")


@pytest.fixture
def workspace(write_workspace):
    return write_workspace(PLANT)


def check(workspace: Path, platform: str, text: str, name: str = "fw.conf"):
    ws = load_workspace(workspace)
    policy = build_policy(ws)
    ruleset = parse_text(platform, text, name)
    return analyze(ruleset, policy, zone_infos(ws.plant))


def line_of(text: str, piece: str) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if piece in line]
    assert len(hits) == 1, f"{piece!r} is on lines {hits}"
    return hits[0]


@pytest.mark.parametrize(
    "platform,text,planted,clean",
    [
        ("iptables", IPTABLES, IPTABLES_PLANTED, IPTABLES_CLEAN),
        ("nftables", NFTABLES, NFTABLES_PLANTED, NFTABLES_CLEAN),
        ("asa", ASA, ASA_PLANTED, ASA_CLEAN),
    ],
)
def test_planted_problems_found_at_their_lines(workspace, platform, text, planted, clean):
    report = check(workspace, platform, text)
    found = {(f.kind, f.line) for f in report.findings}
    for piece, kinds in planted.items():
        line = line_of(text, piece)
        for kind in kinds:
            assert (kind, line) in found, f"{kind} not reported at line {line} ({piece}); found {sorted(found)}"
    categories = {f.category for f in report.findings}
    assert categories == set("abcdefg")
    for piece in clean:
        line = line_of(text, piece)
        assert not [f for f in report.findings if f.line == line], f"clean line {line} has findings"
    # every finding names its file and line, and ids are stable and unique
    ids = [f.id for f in report.findings]
    assert len(ids) == len(set(ids))
    assert all(f.file == "fw.conf" for f in report.findings)
    assert report.as_dict() == check(workspace, platform, text).as_dict()


def test_examples_are_concrete_and_outside_every_flow(workspace):
    report = check(workspace, "iptables", IPTABLES)
    ws = load_workspace(workspace)
    policy = build_policy(ws)
    import ipaddress

    excess = [f for f in report.findings if f.kind == "permit-not-in-policy"]
    assert excess
    for f in excess:
        ex = f.example
        assert ex is not None
        src, dst = ipaddress.ip_address(ex["src"]), ipaddress.ip_address(ex["dst"])
        assert not policy.permitting(src, dst, ex["protocol"], ex.get("port"))
    rdp = next(f for f in excess if f.line == line_of(IPTABLES, "--dport 3389"))
    assert rdp.example["src_zone"] == "enterprise" and rdp.example["dst_zone"] == "control"
    assert rdp.example["port"] == 3389
    missing = next(f for f in report.findings if f.kind == "flow-not-permitted")
    assert missing.conduit == "ops-scada" and missing.flow == "ops-scada/ops-scada-1"
    assert missing.example["dst"] == "10.30.2.10" and missing.example["port"] == 4840


def test_a_faithful_config_has_no_policy_findings(workspace):
    text = """\
*filter
:FORWARD DROP [0:0]
-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A FORWARD -s 10.1.0.0/16 -d 172.16.35.10/32 -p tcp --dport 443 -j ACCEPT
-A FORWARD -s 10.30.3.10/32 -d 172.16.35.10/32 -p tcp --dport 5450 -j ACCEPT
-A FORWARD -s 10.30.3.10/32 -d 10.30.2.10/32 -p tcp --dport 4840 -j ACCEPT
-A FORWARD -s 10.30.2.10/32 -d 10.30.11.10/32 -p tcp --dport 502 -j ACCEPT
-A FORWARD -s 10.30.2.20/32 -d 10.30.11.10/32 -p tcp --dport 102 -j ACCEPT
-A FORWARD -j LOG
-A FORWARD -j DROP
COMMIT
"""
    report = check(workspace, "iptables", text)
    kinds = {f.kind for f in report.findings}
    assert kinds == {"permit-without-log"}, report.findings


def test_user_chains_returns_and_gotos(workspace):
    # the 3389 permit sits behind a jump whose guard limits it to one source host, and a
    # conditional return carves 10.1.0.99 out of the chain: the example must respect both
    text = """\
*filter
:FORWARD DROP [0:0]
:ENT - [0:0]
-A FORWARD -s 10.1.0.0/24 -j ENT
-A FORWARD -j DROP
-A ENT -s 10.1.0.0/25 -j RETURN
-A ENT -d 10.30.11.10/32 -p tcp --dport 3389 -j ACCEPT
COMMIT
"""
    report = check(workspace, "iptables", text)
    excess = [f for f in report.findings if f.kind == "permit-not-in-policy"]
    assert [f.line for f in excess] == [7]
    import ipaddress

    src = ipaddress.ip_address(excess[0].example["src"])
    assert src in ipaddress.ip_network("10.1.0.128/25")
    # the final DROP is reached, so it is not redundant, and it is the explicit final deny
    assert not [f for f in report.findings if f.kind in ("redundant", "no-final-deny", "shadowed")]


def test_default_allow_and_catch_all_permit(workspace):
    report = check(workspace, "iptables", "*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n")
    assert [(f.kind, f.line) for f in report.findings if f.category == "e"] == [("default-allow", 2)]
    # with default accept every conduit flow is permitted
    assert not [f for f in report.findings if f.kind == "flow-not-permitted"]
    report = check(workspace, "iptables", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -j ACCEPT\nCOMMIT\n")
    kinds = {(f.kind, f.line) for f in report.findings}
    assert ("default-allow", 3) in kinds and ("any-any", 3) in kinds


def test_device_scopes_required_flows(workspace, write_workspace):
    plant = PLANT.replace(
        "devices: [fw]\n    flows: [{from: ops-hist, to: scada-srv",
        "devices: [fw2]\n    flows: [{from: ops-hist, to: scada-srv",
    )
    ws_path = write_workspace(plant)
    ws = load_workspace(ws_path)
    policy = build_policy(ws)
    ruleset = parse_text("iptables", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -j DROP\nCOMMIT\n", "x")
    everything = analyze(ruleset, policy, zone_infos(ws.plant))
    only_fw2 = analyze(ruleset, policy, zone_infos(ws.plant), device="fw2")
    missing = lambda r: sorted(f.conduit for f in r.findings if f.kind == "flow-not-permitted")  # noqa: E731
    assert missing(everything) == ["ent-dmz", "ops-dmz", "ops-scada", "scada-control", "scada-control"]
    assert missing(only_fw2) == ["ops-scada"]


def test_skipped_lines_are_reported_and_analysis_goes_on(workspace):
    text = IPTABLES.replace("COMMIT", "-A FORWARD -j MARK --set-mark 1\n-A FORWARD -s 10.0.0.300 -j DROP\nCOMMIT")
    report = check(workspace, "iptables", text)
    reasons = {s["line"]: s["reason"] for s in report.skipped}
    assert set(reasons) == {20, 21}
    assert "MARK" in reasons[20] and "10.0.0.300" in reasons[21]
    assert {f.category for f in report.findings} == set("abcdefg")


ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}


def zw(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zonewarden", *args], capture_output=True, text=True, env=ENV, timeout=120, cwd=cwd
    )


def test_cli_json_and_table(workspace, tmp_path):
    config = tmp_path / "fw.nft"
    config.write_text(NFTABLES, encoding="utf-8")
    result = zw("rules", "check", str(workspace), str(config), "--platform", "nftables", "--format", "json")
    assert result.returncode == 1, result.stderr  # high findings
    doc = json.loads(result.stdout)
    assert set(doc) == {"findings", "skipped", "summary"}
    kinds = {(f["kind"], f["line"]) for f in doc["findings"]}
    assert ("default-allow", line_of(NFTABLES, "policy accept")) in kinds
    assert doc["summary"]["by_kind"]["permit-not-in-policy"] >= 2
    assert all(f["file"] == str(config) for f in doc["findings"])
    result = zw("rules", "check", "ws", "fw.nft", "--platform", "nftables", cwd=workspace.parent)
    assert result.returncode == 1
    assert "permit-not-in-policy" in result.stdout
    assert f"fw.nft:{line_of(NFTABLES, 'tcp dport 3389')}" in result.stdout


def test_cli_errors_name_the_place(workspace, tmp_path):
    bad = tmp_path / "bad.nft"
    bad.write_text("table inet filter {\n  chain forward {\n    accept\n", encoding="utf-8")
    result = zw("rules", "check", str(workspace), str(bad), "--platform", "nftables")
    assert result.returncode == 1
    assert "bad.nft:" in result.stderr and "Traceback" not in result.stderr
    result = zw("rules", "check", str(workspace), str(bad), "--platform", "nosuch")
    assert result.returncode == 2 and "unknown platform" in result.stderr
    result = zw("rules", "check", str(workspace), str(tmp_path / "missing"), "--platform", "asa")
    assert result.returncode == 2 and "no such configuration file" in result.stderr


# ---------------------------------------------------------------- round trip (issue item 5)

ROUND_TRIP = {
    "nftables": "nftables",
    "iptables": "iptables",
    "cisco-asa": "asa",
    "fortigate": "fortigate",
    "cisco-ios": "ios",
    "juniper-srx": "srx",
    "paloalto": "panos",
}


def round_trip_platforms() -> list[str]:
    from zonewarden.rules.config import platform_name
    from zonewarden.rules.generate import PLATFORMS

    return [g for g in PLATFORMS if platform_name(ROUND_TRIP.get(g, g)) is not None]


@pytest.mark.parametrize("generator_name", round_trip_platforms())
@pytest.mark.parametrize("which", ["small", "demo"])
def test_generated_rulesets_check_clean(generator_name, which, workspace):
    from conftest import REPO

    from zonewarden.rules.generate import PLATFORMS, generate

    root = workspace if which == "small" else REPO / "zonewarden" / "data" / "demo"
    ws = load_workspace(root)
    policy = build_policy(ws)
    output = generate(policy, ws.plant, PLATFORMS[generator_name])
    assert output.rulesets
    for ruleset_file in output.rulesets:
        ruleset = parse_text(ROUND_TRIP[generator_name], ruleset_file.text, ruleset_file.filename)
        assert ruleset.rules
        report = analyze(ruleset, policy, zone_infos(ws.plant), device=ruleset_file.device)
        problems = [f.as_dict() for f in report.findings if f.category in "abe"]
        assert problems == [], ruleset_file.filename
        assert report.summary["required_flows"] > 0 or not ruleset_file.terms
