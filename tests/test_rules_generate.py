"""rules generate: firewall rulesets per enforcing device for seven platforms, Suricata rules, DPI profiles,
island mode. Goldens live in tests/golden/rules/; after an intended change, rewrite them with

    ZONEWARDEN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_rules_generate.py

nftables and iptables output is loaded by the real tools (``nft -c -f``, ``iptables-restore --test``,
``ip6tables-restore --test``) inside a network namespace the test creates and deletes; those tests
are skipped, with the reason, when not root or a tool is missing.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from _golden import GOLDEN as ROOT_GOLDEN
from _golden import UPDATE_VAR, flag
from _golden import check_golden as shared_check_golden

from zonewarden.rules.generate import PLATFORMS, GenerateError, generate, platform, render
from zonewarden.rules.industrial import MODBUS_PUBLIC_ASSIGNED
from zonewarden.rules.island import island_rules
from zonewarden.rules.policy import BOUNDARY, build_policy
from zonewarden.rules.suricata import SID_BASE, render_suricata, suricata_rules
from zonewarden.workspace.load import load_workspace

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "zonewarden" / "data" / "demo"
GOLDEN = ROOT_GOLDEN / "rules"


def check_golden(name: str, text: str) -> None:
    """Compare with tests/golden/rules/<name> byte for byte, or rewrite it with ZONEWARDEN_UPDATE_GOLDEN=1."""
    shared_check_golden(name, text, GOLDEN)


@pytest.fixture(scope="module")
def ws():
    return load_workspace(DEMO)


@pytest.fixture(scope="module")
def policy(ws):
    return build_policy(ws)


@pytest.fixture(scope="module")
def outputs(policy, ws):
    return {name: generate(policy, ws.plant, gen) for name, gen in PLATFORMS.items()}


@pytest.fixture(scope="module")
def islands(policy, ws):
    return {name: generate(policy, ws.plant, gen, island=True) for name, gen in PLATFORMS.items()}


def _demo_files(platform_name: str) -> list[str]:
    return sorted(p.name for p in (GOLDEN / platform_name).glob("*") if ".island." not in p.name)


# --- goldens ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PLATFORMS))
def test_every_platform_matches_its_goldens(outputs, name):
    out = outputs[name]
    assert {r.device for r in out.rulesets} == {"fw-cell", "fw-it", "fw-ot", "fw-sis", "vpn-gw"}
    for ruleset in out.rulesets:
        check_golden(f"{name}/{ruleset.filename}", ruleset.text)
    if not flag(UPDATE_VAR):  # no stale goldens left behind
        assert _demo_files(name) == sorted(r.filename for r in out.rulesets)


def test_island_mode_matches_its_goldens(islands):
    for ruleset in islands["nftables"].rulesets:
        assert ruleset.filename.endswith(".island.nft")
        check_golden(f"nftables/{ruleset.filename}", ruleset.text)


def test_suricata_and_dpi_match_their_goldens(outputs):
    files = outputs["nftables"].files
    check_golden("suricata.rules", files["suricata.rules"])
    dpi = sorted(n for n in files if n.startswith("dpi/"))
    assert dpi == [f"dpi/{c}.md" for c in sorted(
        ["intake-treatment", "scada-distribution", "scada-intake", "scada-sis", "scada-treatment",
         "site-ops-idmz-diode", "site-ops-scada"]
    )]  # fmt: skip
    for name in dpi:
        check_golden(name, files[name])
    # the industrial files do not depend on the firewall platform
    assert all({k: v for k, v in o.files.items() if "/" in k or k.endswith(".rules")} == {
        k: v for k, v in files.items() if "/" in k or k.endswith(".rules")
    } for o in outputs.values())  # fmt: skip


def test_output_is_deterministic_and_undated(policy, ws, outputs):
    again = {name: generate(policy, ws.plant, gen) for name, gen in PLATFORMS.items()}
    assert {n: o.files for n, o in again.items()} == {n: o.files for n, o in outputs.items()}
    for out in outputs.values():
        for text in out.files.values():
            assert "$Id" not in text and "$Date" not in text and "$Revision" not in text
            assert not re.search(r"20\d\d-\d\d-\d\d", text)


# --- what every ruleset says -----------------------------------------------------------------------

FINAL_DENY = {
    "nftables": r'chain default-deny \{\n.*\n\s+log prefix "default-deny: " drop',
    "iptables": r'-A F_default-deny -m comment --comment "[^"]*" -p all -j LOG --log-prefix "default-deny: "\n'
    r'-A F_default-deny -m comment --comment "[^"]*" -p all -j DROP\n-A FORWARD -j F_default-deny\nCOMMIT',
    "cisco-ios": r" deny ip any any log\n\nexit",
    "cisco-asa": r"extended deny ip any any log\n$",
    "juniper-srx": r"policy default-deny \{.*?then \{\s+deny;\s+log \{\s+session-init;",
    "paloalto": r'<entry name="default-deny">.*?<action>deny</action>.*?<log-end>yes</log-end>',
    "fortigate": r'set name "default-deny"\n\s+set action deny\n.*?set logtraffic all',
}


@pytest.mark.parametrize("name", list(PLATFORMS))
def test_every_ruleset_ends_in_a_logged_deny_and_names_conduit_and_flow(outputs, policy, name):
    devices = policy.devices()
    for ruleset in outputs[name].rulesets:
        assert re.search(FINAL_DENY[name], ruleset.text, re.S), ruleset.filename
        device = devices[ruleset.device]
        for rule in device.rules:
            forwarded = PLATFORMS[name].filters_own_traffic or rule in device.transit_rules
            assert (f"conduit {rule.conduit} flow {rule.flow}" in ruleset.text) == forwarded
        assert "Deny by default, allow by exception (IEC 62443-3-3 SR 5.2 RE 1)" in ruleset.text


@pytest.mark.parametrize("name", list(PLATFORMS))
def test_each_device_gets_only_the_flows_that_cross_it(outputs, policy, name):
    devices = policy.devices()
    for ruleset in outputs[name].rulesets:
        mine = {r.conduit for r in devices[ruleset.device].rules}
        others = {r.conduit for r in policy.rules} - mine
        for conduit in others:
            assert f"conduit {conduit} flow" not in ruleset.text, (ruleset.filename, conduit)


def test_flows_to_the_device_itself_are_not_forwarding_rules(outputs):
    fgt = next(r for r in outputs["fortigate"].rulesets if r.device == "vpn-gw")
    assert "vendor-remote-access.vendor-ipsec" not in fgt.text.split("Rules (initiator")[1]
    assert any("vendor-remote-access/vendor-ipsec" in n and "local-in" in n for n in fgt.notes)
    ios = next(r for r in outputs["cisco-ios"].rulesets if r.device == "vpn-gw")  # inbound ACLs filter it
    assert " permit udp 198.51.100.0 0.0.0.255 host 172.16.36.2 eq 500" in ios.text


def test_the_data_diode_gets_no_ruleset(outputs):
    out = outputs["nftables"]
    assert [s.split(":")[0] for s in out.skipped] == ["diode"]
    assert "historian-replication" not in "".join(r.text for r in out.rulesets)


def test_nftables_rules_are_directional_stateful_and_exact(outputs):
    text = next(r.text for r in outputs["nftables"].rulesets if r.device == "fw-cell")
    assert "type filter hook forward priority 0; policy drop;" in text
    assert "ct state established,related accept" in text
    # initiator -> responder, the port on the responder, new sessions only
    assert (
        "ip saddr { 10.30.2.10/32, 10.30.2.11/32 } ip daddr 10.30.12.10/32 tcp dport 502 ct state new "
        'log prefix "scada-treatment.scada-modbus-m580: " accept'
    ) in text
    assert "udp dport { 2222, 44818 }" in text and "tcp dport 2222" not in text  # EtherNet/IP I/O is UDP only
    assert len(re.findall(r"^\s+ip saddr.*accept$", text, re.M)) == len(
        set(re.findall(r"^\s+ip saddr.*accept$", text, re.M))
    )  # no repeated rules


def test_backup_port_range_is_exact_everywhere(outputs):
    texts = {n: next(r.text for r in o.rulesets if r.device == "fw-ot") for n, o in outputs.items()}
    assert "tcp dport { 2500-3300, 6160, 6162 }" in texts["nftables"]
    assert "--dports 2500:3300,6160,6162" in texts["iptables"]
    assert "range 2500 3300" in texts["cisco-ios"] and "range 2500 3300" in texts["cisco-asa"]
    assert "destination-port 2500-3300" in texts["juniper-srx"]
    assert "<port>2500-3300,6160,6162</port>" in texts["paloalto"] or "<port>2500-3300</port>" in texts["paloalto"]
    assert "set tcp-portrange 2500-3300 6160 6162" in texts["fortigate"]


def test_cisco_ios_replies_are_explicit_and_permits_unlogged(outputs):
    text = next(r.text for r in outputs["cisco-ios"].rulesets if r.device == "fw-sis")
    assert " permit tcp host 10.30.2.10 host 10.30.14.10 eq 502\n" in text
    assert " permit tcp host 10.30.14.10 eq 502 host 10.30.2.10 established\n" in text  # reply, TCP
    assert " permit udp host 10.30.2.10 eq 123 host 10.30.14.10\n" in text  # reply to the SIS's SNTP
    assert re.findall(r"^ (?:permit|deny) .* log$", text, re.M) == [" deny ip any any log"]


def test_cisco_asa_folds_hosts_into_object_groups_without_widening(outputs, policy):
    text = next(r.text for r in outputs["cisco-asa"].rulesets if r.device == "fw-cell")
    assert "object-group network scada-srv-a_scada-srv-b\n network-object host 10.30.2.10\n" in text
    assert (
        "access-list fw-cell extended permit tcp object-group scada-srv-a_scada-srv-b host 10.30.12.10 eq 502 log"
        in text
    )
    assert "extended permit ip any" not in text


def test_zone_based_platforms_use_zone_pairs(outputs):
    srx = next(r.text for r in outputs["juniper-srx"].rulesets if r.device == "fw-sis")
    assert "from-zone scada to-zone sis {" in srx and "from-zone sis to-zone scada {" in srx
    pan = next(r.text for r in outputs["paloalto"].rulesets if r.device == "fw-sis")
    assert re.search(
        r'<entry name="scada-sis.sis-time">.*?<to>\s*<member>scada</member>.*?<from>\s*<member>sis</member>', pan, re.S
    )
    fgt = next(r.text for r in outputs["fortigate"].rulesets if r.device == "fw-sis")
    assert 'set srcintf "sis"\n        set dstintf "scada"' in fgt


# --- island mode ------------------------------------------------------------------------------------


def test_island_keeps_only_life_safety_flows(islands, policy):
    devices = policy.devices()
    for name, out in islands.items():
        assert "suricata.rules" not in out.files
        for ruleset in out.rulesets:
            device = devices[ruleset.device]
            kept = island_rules(device)
            assert all(r.life_safety for r in kept)
            for rule in device.rules:
                present = f"conduit {rule.conduit} flow {rule.flow}" in ruleset.text
                assert present == rule.life_safety, (name, ruleset.filename, rule.name)
            assert "ISLAND MODE (SR 5.2 RE 2)" in ruleset.text
            assert re.search(FINAL_DENY[name], ruleset.text, re.S)
    sis = next(r for r in islands["nftables"].rulesets if r.device == "fw-sis")
    jumps = re.findall(r"^\s+jump (\S+)$", sis.text, re.M)
    assert jumps == ["scada-sis.sis-status", "default-deny"]
    others = [r for r in islands["nftables"].rulesets if r.device != "fw-sis"]
    assert all(re.findall(r"^\s+jump (\S+)$", r.text, re.M) == ["default-deny"] for r in others)


# --- the real tools, in a network namespace ----------------------------------------------------------


@pytest.fixture(scope="module")
def netns():
    if os.geteuid() != 0:
        pytest.skip("loading rulesets needs root (a network namespace of its own)")
    tools = ["ip", "nft", "iptables-restore", "ip6tables-restore"]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    name = f"zw-{uuid.uuid4().hex[:8]}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {made.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def _in_netns(netns: str, *command: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", netns, *command, str(path)], capture_output=True, text=True, timeout=60
    )


def _load_all(netns, tmp_path, rulesets, checker):
    assert rulesets
    for ruleset in rulesets:
        path = tmp_path / ruleset.filename
        path.write_text(ruleset.text, encoding="utf-8")
        done = _in_netns(netns, *checker(ruleset.filename), path=path)
        assert done.returncode == 0, f"{ruleset.filename}: {done.stderr}"


def test_nftables_loads_in_nft(netns, tmp_path, outputs, islands):
    _load_all(
        netns, tmp_path, outputs["nftables"].rulesets + islands["nftables"].rulesets, lambda f: ["nft", "-c", "-f"]
    )
    # and really loads, twice (the file replaces its own table)
    path = tmp_path / "fw-cell.nft"
    for _ in range(2):
        assert _in_netns(netns, "nft", "-f", path=path).returncode == 0
    listed = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "chain", "inet", "zonewarden", "root0"],
                            capture_output=True, text=True)  # fmt: skip
    if listed.returncode != 0:  # IPv4-only rulesets use the ip family
        listed = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "chain", "ip", "zonewarden", "root0"],
                                capture_output=True, text=True)  # fmt: skip
    assert listed.stdout.count("jump scada-treatment.scada-modbus-m580") == 1


def test_iptables_loads_in_iptables_restore(netns, tmp_path, outputs, islands):
    rulesets = outputs["iptables"].rulesets + islands["iptables"].rulesets
    _load_all(netns, tmp_path, rulesets, lambda f: ["iptables-restore", "--test"])


def test_ipv6_rulesets_load(netns, tmp_path, write_workspace):
    ws = load_workspace(write_workspace(V6_PLANT))
    policy = build_policy(ws)
    nft = generate(policy, ws.plant, PLATFORMS["nftables"]).rulesets
    ipt = generate(policy, ws.plant, PLATFORMS["iptables"]).rulesets
    assert [r.filename for r in ipt] == ["fw.ipt", "fw.v6.ipt"]
    _load_all(netns, tmp_path, nft, lambda f: ["nft", "-c", "-f"])
    _load_all(netns, tmp_path, ipt, lambda f: ["ip6tables-restore" if ".v6." in f else "iptables-restore", "--test"])


# --- small workspaces --------------------------------------------------------------------------------

V6_PLANT = """\
version: 1
site: {name: Dual stack}
zones:
  - {id: ops, subnets: [10.0.1.0/24, "2001:db8:1::/64"]}
  - {id: cell, subnets: [10.0.2.0/24, "2001:db8:2::/64"]}
assets:
  - {id: hist, ip: [10.0.1.5, "2001:db8:1::5"]}
  - {id: plc, ip: [10.0.2.7, "2001:db8:2::7"]}
  - {id: fw, role: firewall, ip: 10.0.1.1}
conduits:
  - id: ops-cell
    zones: [ops, cell]
    devices: [fw]
    flows:
      - {id: poll, from: hist, to: plc, protocol: modbus, operations: read-only}
      - {id: ping, from: ops, to: plc, protocol: icmp}
      - {id: dns, from: plc, to: hist, protocol: dns}
"""


def test_dual_stack_renders_both_families(write_workspace):
    ws = load_workspace(write_workspace(V6_PLANT))
    policy = build_policy(ws)
    device = policy.devices()["fw"]
    nft = render(device, PLATFORMS["nftables"])[0].text
    assert "table inet zonewarden {" in nft
    assert "ip6 saddr 2001:db8:1::5/128 ip6 daddr 2001:db8:2::7/128 tcp dport 502" in nft
    assert "icmpv6" in nft.lower()
    lines = [line for line in nft.splitlines() if "accept" in line]
    assert len(lines) == len(set(lines))  # Aerleon's mixed-family repeats removed
    ios = render(device, PLATFORMS["cisco-ios"])[0].text
    assert "ipv6 access-list fw-v6" in ios and "ip access-list extended fw" in ios
    asa = render(device, PLATFORMS["cisco-asa"])[0]
    assert "2001:db8" not in asa.text
    assert any("IPv6 addresses are left out" in n for n in asa.notes)
    v6 = render(device, PLATFORMS["iptables"])[1].text
    assert "-s 2001:db8:1::5/128 -d 2001:db8:2::7/128" in v6 and "10.0." not in v6.split("*filter")[1]


def test_conduit_without_device_renders_as_boundary_and_any_zone(write_workspace):
    ws = load_workspace(
        write_workspace(
            V6_PLANT.replace("    devices: [fw]\n", "").replace(
                "      - {id: dns, from: plc, to: hist, protocol: dns}",
                "      - {id: dns, from: plc, to: hist, protocol: dns}\n"
                "      - {id: anyone, from: any, to: hist, protocol: https}",
            )
        )
    )
    policy = build_policy(ws)
    assert list(policy.devices()) == [BOUNDARY]
    out = generate(policy, ws.plant, PLATFORMS["juniper-srx"])
    assert [r.filename for r in out.rulesets] == ["boundary.srx"]
    text = out.rulesets[0].text
    assert re.search(r"global \{.*policy ops-cell.anyone \{.*destination-zone ops;", text, re.S) or re.search(
        r"global \{.*policy ops-cell.anyone", text, re.S
    )
    pan = generate(policy, ws.plant, PLATFORMS["paloalto"]).rulesets[0].text
    assert re.search(r'<entry name="ops-cell.anyone">.*?<from>\s*<member>any</member>', pan, re.S)


def test_unknown_device_and_platform(policy, ws):
    with pytest.raises(GenerateError, match="no conduit is enforced by nosuch"):
        generate(policy, ws.plant, PLATFORMS["nftables"], devices=["nosuch"])
    assert platform("ASA") is PLATFORMS["cisco-asa"] and platform("srx") is PLATFORMS["juniper-srx"]
    assert platform("nope") is None


# --- Suricata ----------------------------------------------------------------------------------------

_RULE = re.compile(
    r"^(?P<action>alert|drop|pass|reject) (?P<proto>\w+) (?P<src>\S+) (?P<sport>\S+) (?P<dir>->|<>) "
    r"(?P<dst>\S+) (?P<dport>\S+) \((?P<options>.*)\)$"
)
_KEYWORDS = {
    "msg", "flow", "content", "offset", "depth", "distance", "within", "modbus", "dnp3_func", "cip_service",
    "enip_command", "classtype", "metadata", "sid", "rev",
}  # fmt: skip


def _options(text: str) -> list[tuple[str, str | None]]:
    """Split rule options on ';' outside quotes; every option must end with ';'."""
    out: list[tuple[str, str | None]] = []
    buf, quoted, i = "", False, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quoted:
            buf += text[i : i + 2]
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            key, _, value = buf.strip().partition(":")
            out.append((key.strip(), value.strip() if _ else None))
            buf = ""
        else:
            buf += ch
        i += 1
    assert not quoted and not buf.strip(), f"unterminated option: {buf!r}"
    return out


def _address_ok(text: str) -> bool:
    if text == "any":
        return True
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        [ipaddress.ip_network(p) for p in inner.split(",")]
    except ValueError:
        return False
    return True


def _port_ok(text: str) -> bool:
    if text == "any":
        return True
    inner = text[1:-1] if text.startswith("[") else text
    return all(re.fullmatch(r"\d{1,5}(:\d{1,5})?", p) for p in inner.split(","))


def parse_suricata(text: str) -> list[dict]:
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        m = _RULE.match(line)
        assert m, f"line {number}: not a rule: {line}"
        assert _address_ok(m["src"]) and _address_ok(m["dst"]), f"line {number}: address"
        assert _port_ok(m["sport"]) and _port_ok(m["dport"]), f"line {number}: port"
        options = _options(m["options"])
        for key, value in options:
            assert key in _KEYWORDS, f"line {number}: unknown keyword {key}"
            if key == "content":
                assert value and re.fullmatch(r'"(\|([0-9a-f]{2} ?)+\||[A-Za-z_]+)"', value), value
            if key in ("offset", "depth", "distance", "within", "sid", "rev", "dnp3_func"):
                assert value is not None and value.isdigit(), f"line {number}: {key}:{value}"
            if key == "cip_service":
                assert value and re.fullmatch(r"\d+(,\d+){0,2}", value)
            if key == "modbus":
                assert value and re.fullmatch(
                    r"function (\d+|!?(assigned|unassigned|public|user|reserved|all))|unit ([<>]?\d+|\d+<>\d+)", value
                ), value
        keys = [k for k, _ in options]
        assert keys[0] == "msg" and keys[-2:] == ["sid", "rev"], f"line {number}: msg first, sid and rev last"
        rules.append({**m.groupdict(), "options": dict(options), "opts": options})
    return rules


def test_suricata_rules_parse_and_are_unique(policy):
    rules = parse_suricata(render_suricata(policy))
    sids = [int(r["options"]["sid"]) for r in rules]
    assert len(sids) == len(set(sids)) and min(sids) == SID_BASE and max(sids) == SID_BASE + len(sids) - 1
    assert {r["action"] for r in rules} == {"alert"}
    assert {r["action"] for r in parse_suricata(render_suricata(policy, ips=True))} == {"drop"}
    for r in rules:
        assert r["options"]["msg"].startswith('"ZoneWarden ') and "/" in r["options"]["msg"]
        assert "zonewarden_conduit" in r["options"]["metadata"]
        assert r["options"]["flow"] == "established,to_server"


def test_suricata_rules_say_what_the_conduits_deny(policy):
    by_flow: dict[str, list[str]] = {}
    for rule in suricata_rules(policy)[0]:
        by_flow.setdefault(rule.rule.name, []).append(rule.text)
    m580 = "\n".join(by_flow["scada-treatment/scada-modbus-m580"])
    for allowed in (3, 4, 6, 16):
        assert f"modbus: function {allowed};" not in m580
    for denied in (1, 5, 15, 8, 43):
        assert f"modbus: function {denied};" in m580
    assert "modbus: function !assigned;" in m580 and "modbus: unit <255;" in m580
    assert "alert modbus 10.30.2.10/31 any -> 10.30.12.10 502 " in m580
    sis = "\n".join(by_flow["scada-sis/sis-status"])
    assert "modbus: unit <1;" in sis and "modbus: unit >1;" in sis
    # the EWS may use UMAS (FC 90); the SCADA servers may not (FC 90 is outside the public codes)
    assert 90 not in MODBUS_PUBLIC_ASSIGNED
    ews = "\n".join(by_flow["scada-treatment/ews-control-expert"])
    assert "modbus: function 90;" not in ews and "!assigned" not in ews and "modbus: function 1;" in ews
    s7 = "\n".join(by_flow["scada-intake/scada-s7"])
    assert 'content:"|29|"; offset:17; depth:1;' in s7  # PLC Stop
    assert 'content:"|1a|"; offset:17; depth:1;' in s7  # Request Download
    assert 'content:"|05|"' not in s7  # Write Var stays allowed
    dnp3 = "\n".join(by_flow["scada-distribution/ews-rtu-config"])
    for operate in (3, 4, 5, 6):
        assert f"dnp3_func:{operate};" in dnp3  # no 'operate' for the EWS
    assert "dnp3_func:1;" not in dnp3 and "dnp3_func:25;" not in dnp3  # read and file transfer allowed
    cip = "\n".join(by_flow["scada-treatment/scada-enip-clx"])
    assert "cip_service:7;" in cip and "cip_service:77;" not in cip  # Stop denied, Write_Tag allowed
    assert "scada-intake/ews-tia-portal" not in by_flow  # S7comm-plus: DPI profile only


def test_dpi_profile_is_plain_language(outputs):
    text = outputs["nftables"].files["dpi/scada-sis.md"]
    assert text.startswith("# DPI profile: conduit scada-sis (SCADA to chlorine SIS)\n")
    assert "- Function codes allowed: only 3, 4; block every other code" in text
    assert "- Unit ids allowed: 1; block all others" in text
    assert "- Life safety: keep this flow in island mode (SR 5.2 RE 2)" in text
    dist = outputs["nftables"].files["dpi/scada-distribution.md"]
    assert "- Outstation addresses allowed: 10, 11, 12, 20; block all others" in dist


# --- the command -------------------------------------------------------------------------------------


def _zw(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "zonewarden", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_cli_generates_every_platform_for_the_demo(tmp_path):
    for name in PLATFORMS:
        out = tmp_path / name
        done = _zw("rules", "generate", str(DEMO), "--platform", name, "-o", str(out))
        assert done.returncode == 0, done.stderr
        assert "skipped diode: a data diode" in done.stderr
        ext = PLATFORMS[name].extension
        written = sorted(p.name for p in out.glob(f"*{ext}"))
        assert written == _demo_files(name) or flag(UPDATE_VAR)
        for file in written:
            assert (out / file).read_text(encoding="utf-8") == (GOLDEN / name / file).read_text(encoding="utf-8")
        assert (out / "suricata.rules").read_text(encoding="utf-8") == (GOLDEN / "suricata.rules").read_text(
            encoding="utf-8"
        )
        assert (out / "dpi" / "scada-sis.md").is_file()


def test_cli_island_one_device_to_stdout_and_errors(tmp_path, write_workspace):
    done = _zw("rules", "generate", str(DEMO), "-p", "nft", "--island", "--device", "fw-sis")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (GOLDEN / "nftables" / "fw-sis.island.nft").read_text(encoding="utf-8")
    bad = _zw("rules", "generate", str(DEMO), "-p", "checkpoint")
    assert bad.returncode == 2 and "unknown platform 'checkpoint'" in bad.stderr
    nodev = _zw("rules", "generate", str(DEMO), "-p", "asa", "-d", "nosuch")
    assert nodev.returncode == 1 and "no conduit is enforced by nosuch" in nodev.stderr
    broken = write_workspace(V6_PLANT.replace("to: plc, protocol: modbus", "to: plx, protocol: modbus"))
    invalid = _zw("rules", "generate", str(broken), "-p", "nftables")
    assert invalid.returncode == 1 and "validation error" in invalid.stderr
