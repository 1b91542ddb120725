"""Firewall configuration parsers: every shared real configuration of a supported platform parses
(rule counts checked by hand for some), mutated lines never crash a parser, the interval and box
arithmetic agrees with brute force, and text and JSON nftables give the same rules."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from _firewall import FIREWALL, MUTATIONS, half_cut, manifest_rows, mutate, needs_shared
from conftest import SHARED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewarden.rules import intervals as iv
from zonewarden.rules.config import PARSERS, parse_file, parse_text
from zonewarden.rules.ruleset import ConfigError

PLATFORM_OF = {"iptables": "iptables", "nftables": "nftables", "asa": "asa", "fortigate": "fortigate", "ios": "ios"}


def shared_configs() -> list[tuple[str, str, str]]:
    return [(row["path"], PLATFORM_OF[row["format"]], row["notes"]) for row in manifest_rows(set(PLATFORM_OF))]


@needs_shared
@pytest.mark.parametrize("path,platform,notes", shared_configs(), ids=[c[0] for c in shared_configs()])
def test_every_shared_config_parses(path, platform, notes):
    ruleset = parse_file(platform, FIREWALL / path, path)
    assert ruleset.platform == platform
    # skipped lines are precise: a real line number of this file and a reason
    n_lines = len((FIREWALL / path).read_text(encoding="utf-8", errors="replace").splitlines())
    for s in ruleset.skipped:
        assert s.location.file == path and 1 <= s.location.line <= n_lines and s.reason
    # three grammar tests define no filter rules at all (NAT only, object groups only, zones only)
    if not any(name in path for name in ("nat_addr_port", "nested-network-object-group", "fortios_zone")):
        assert ruleset.rules, "no rules parsed"


def rules_per_list(path: str, platform: str) -> dict[str, int]:
    ruleset = parse_file(platform, FIREWALL / path, path)
    return {name: len(lst.rules) for name, lst in ruleset.lists.items() if lst.rules}


@needs_shared
def test_counts_checked_by_hand():
    # 20 FORWARD rules (7 of them for established traffic only), nothing skipped
    topos = "iptables/diekmann_topoS_imaginary_factory_network.iptables-save"
    assert rules_per_list(topos, "iptables") == {"FORWARD": 20}
    assert parse_file("iptables", FIREWALL / topos).skipped == []
    # the batfish zone firewall filters in mangle PREROUTING (7 rules) and POSTROUTING (1)
    z2 = "iptables/batfish_iptables-firewall_z2-firewall.v4"
    assert rules_per_list(z2, "iptables") == {"mangle/PREROUTING": 7, "mangle/POSTROUTING": 1}
    # a shell script: 5 FORWARD rules (the LOG rule becomes the DROP's logging); the docker/echo lines skipped
    script = parse_file("iptables", FIREWALL / "iptables/SCRIPT_icswater_field-supervisory.sh")
    forward = script.lists["FORWARD"]
    assert len(forward.rules) == 5 and forward.default == "drop"
    assert forward.rules[-1].action == "drop" and forward.rules[-1].log
    assert [s.location.line for s in script.skipped if "echo" in s.text] == [6, 31]
    # aerleon's ASA sample: two access-lists of 43 and 21 entries
    assert rules_per_list("asa/aerleon_sample_multitarget.asa", "asa") == {"asa_in": 43, "asa_out": 21}
    # ASA with object-groups: INSIDE_in has 13 entries, 2 refer to an undefined group (skipped)
    asa = parse_file("asa", FIREWALL / "asa/ciscoconfparse_sample_01.asa")
    lines = {name: len({r.location.line for r in lst.rules}) for name, lst in asa.lists.items()}
    assert lines == {"INSIDE_in in INSIDE": 11, "OUTSIDE_in in OUTSIDE": 4}
    assert [s.location.line for s in asa.skipped] == [271, 272]
    # FortiGate: two policies, each a TCP and a UDP port range
    assert rules_per_list("fortigate/aerleon_FortigateTest.testMultipleTerms.conf", "fortigate") == {"policy": 4}
    # IOS: aerleon's lab ACL has 15 entries; the 15,000-line generated stress config parses whole
    assert rules_per_list("ios/aerleon_sample_cisco_lab.acl", "ios") == {"allowtointernet": 15}
    assert sum(rules_per_list("ios/ciscoconfparse_sample_05.ios", "ios").values()) == 15031
    # nftables text and JSON of the same ruleset: the same 23 rules
    text = rules_per_list("nftables/nftables-rs_nftables-init.nft", "nftables")
    js = rules_per_list("nftables/nftables-rs_nftables-init.json", "nftables")
    assert text == js and sum(text.values()) == 23


@needs_shared
def test_nft_text_and_json_normalize_alike():
    text = parse_file("nftables", FIREWALL / "nftables/nftables-rs_nftables-init.nft")
    js = parse_file("nftables", FIREWALL / "nftables/nftables-rs_nftables-init.json")

    def shape(rs):
        return [
            (r.chain, r.action, r.target, r.src, r.dst, r.protocols, r.sport, r.dport, r.in_ifaces, r.new_only)
            for r in rs.rules
        ]

    assert shape(text) == shape(js)


@pytest.mark.parametrize(
    "platform,text,line",
    [
        ("nftables", "table inet filter {\n  chain input {\n    accept\n", 2),
        ("nftables", '{"nftables": [\n  {"table": \n', 3),
        ("nftables", "}\n", 1),
        ("iptables", "hello world\n", 1),
        ("asa", "\n\nthis is not a firewall\n", 1),
        ("fortigate", "config firewall policy\n    edit 1\n        set action accept\n", 1),
        ("fortigate", "end\n", 1),
    ],
)
def test_malformed_input_is_an_error_with_a_place(platform, text, line):
    with pytest.raises(ConfigError) as info:
        parse_text(platform, text, "cfg")
    assert info.value.location is not None
    assert info.value.location.file == "cfg" and info.value.location.line == line


SAMPLES = {
    "iptables": "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -s 10.0.0.0/8 -d 10.1.2.3 -p tcp -m multiport "
    '--dports 80,443 -m comment --comment "web" -j ACCEPT\n-A FORWARD ! -s 10.0.0.0/8 -j LOG\nCOMMIT\n',
    "nftables": "table inet f {\n chain c {\n  type filter hook forward priority 0; policy drop;\n"
    "  ip saddr { 10.0.0.0/8, 192.168.1.1 } tcp dport { 22, 1000-2000 } log accept\n"
    '  iifname "eth0" ct state new jump x\n }\n chain x {\n  udp dport 53 counter drop\n }\n}\n',
    "asa": "object-group network G\n network-object host 10.0.0.1\n network-object 10.2.0.0 255.255.0.0\n"
    "access-list A extended permit tcp object-group G any eq www log\naccess-group A in interface inside\n",
    "fortigate": 'config firewall address\n    edit "a"\n        set subnet 10.0.0.0 255.0.0.0\n    next\nend\n'
    'config firewall policy\n    edit 1\n        set srcintf "p1"\n        set dstintf "p2"\n'
    '        set srcaddr "a"\n        set dstaddr "all"\n        set action accept\n'
    '        set service "HTTPS"\n    next\nend\n',
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    platform=st.sampled_from(sorted(SAMPLES)),
    line=st.integers(min_value=0, max_value=20),
    cut=st.integers(min_value=0, max_value=80),
    junk=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
    mode=st.sampled_from(MUTATIONS),
)
def test_parsers_never_crash_on_mutated_lines(platform, line, cut, junk, mode):
    lines = mutate(SAMPLES[platform].splitlines(), line, cut, junk, mode)
    text = "\n".join(lines) + "\n"
    try:
        ruleset = parse_text(platform, text, "m.cfg")
    except ConfigError as exc:
        assert exc.location is None or exc.location.file == "m.cfg"
        return
    for s in ruleset.skipped:
        assert 1 <= s.location.line <= len(lines) + 1


@needs_shared
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(min_value=0, max_value=10_000),
    line=st.integers(min_value=0, max_value=100_000),
    junk=st.text(max_size=8),
)
def test_real_configs_with_a_damaged_line_never_crash(index, line, junk):
    configs = shared_configs()
    path, platform, _ = configs[index % len(configs)]
    try:
        parse_text(platform, half_cut(path, line, junk), path)
    except ConfigError as exc:
        assert exc.location is None or exc.location.file == path


def test_every_registered_platform_rejects_empty_input():
    for platform in PARSERS:
        with pytest.raises(ConfigError):
            parse_text(platform, "", "empty")


# ---------------------------------------------------------------- intervals and boxes

small_ivs = st.lists(st.tuples(st.integers(0, 31), st.integers(0, 31)), max_size=4).map(
    lambda pairs: iv.ivs((min(a, b), max(a, b)) for a, b in pairs)
)


def points(a: iv.IVS) -> set[int]:
    return {v for lo, hi in a for v in range(lo, hi + 1)}


@given(small_ivs, small_ivs)
def test_interval_set_algebra_matches_brute_force(a, b):
    assert points(iv.union(a, b)) == points(a) | points(b)
    assert points(iv.intersect(a, b)) == points(a) & points(b)
    assert points(iv.subtract(a, b)) == points(a) - points(b)
    assert iv.contains(a, b) == (points(b) <= points(a))
    assert iv.size(a) == len(points(a))
    for s in (iv.union(a, b), iv.intersect(a, b), iv.subtract(a, b)):
        # normalized: sorted, disjoint and not adjacent
        assert all(s[k][1] + 1 < s[k + 1][0] for k in range(len(s) - 1))
        assert all(lo <= hi for lo, hi in s)


def small_box(draw_ivs):
    return st.tuples(draw_ivs, draw_ivs, draw_ivs).map(
        lambda t: (t[0], t[1], t[2], iv.point(0), iv.point(0), iv.point(0), iv.point(0))
    )


small_boxes = small_box(small_ivs.filter(bool))


def box_points(b) -> set[tuple[int, int, int]]:
    return set(itertools.product(points(b[0]), points(b[1]), points(b[2])))


@settings(max_examples=150, deadline=None)
@given(small_boxes, st.lists(small_boxes, max_size=6))
def test_uncovered_matches_brute_force(region, cover):
    expected = box_points(region) - set().union(*(box_points(c) for c in cover))
    gap = iv.uncovered(region, cover)
    if not expected:
        assert gap is None
    else:
        assert gap is not None
        found = box_points(gap)
        assert found and found <= expected  # the gap is real: inside the region, outside every cover box
        assert iv.covers(cover, region) is False


@settings(max_examples=150, deadline=None)
@given(small_boxes, small_boxes)
def test_box_subtract_matches_brute_force(a, b):
    pieces = iv.box_subtract(a, b)
    got = [box_points(p) for p in pieces]
    assert set().union(*got) == box_points(a) - box_points(b)
    assert sum(len(g) for g in got) == len(set().union(*got))  # disjoint pieces


def test_addresses_of_both_families_live_apart():
    v4 = iv.parse_address_ivs("10.0.0.0/8")
    v6 = iv.parse_address_ivs("fd00::/8")
    assert not iv.overlaps(v4, v6)
    assert iv.contains(iv.V4_ALL, v4) and iv.contains(iv.V6_ALL, v6)
    assert iv.ivs_address_text(iv.union(v4, v6)) == "10.0.0.0/8, fd00::/8"
    assert iv.parse_address_ivs("10.0.0.5-10.0.0.9") == (
        (
            iv.address_value(__import__("ipaddress").ip_address("10.0.0.5")),
            iv.address_value(__import__("ipaddress").ip_address("10.0.0.9")),
        ),
    )


def test_wildcard_masks_expand_exactly():
    from zonewarden.rules.config._common import wildcard_ivs

    assert wildcard_ivs("10.1.0.0", "0.0.255.255") == iv.parse_address_ivs("10.1.0.0/16")
    odd = wildcard_ivs("10.0.0.1", "0.0.1.0")  # discontiguous: two hosts
    assert points(odd) == {iv.parse_address_ivs("10.0.0.1")[0][0], iv.parse_address_ivs("10.0.1.1")[0][0]}


def test_iptables_details():
    rs = parse_text("iptables", SAMPLES["iptables"], "s")
    (rule,) = rs.lists["FORWARD"].rules
    assert rule.dport == ((80, 80), (443, 443)) and rule.protocols == ((6, 6),) and rule.name == "web"
    assert [s.reason for s in rs.skipped] == []  # the LOG rule has no following twin: it simply logs


def test_nftables_details():
    rs = parse_text("nftables", SAMPLES["nftables"], "s")
    c = rs.lists["inet f c"]
    assert c.default == "drop" and c.hook == "forward"
    first, jump = c.rules
    assert first.log and first.dport == ((22, 22), (1000, 2000))
    assert jump.action == "jump" and jump.target == "inet f x" and jump.in_ifaces == ("eth0",)


def test_nftables_verdict_map_with_a_missing_verdict_is_skipped_not_a_crash():
    text = "table inet f {\n  chain c {\n    type filter hook forward priority 0; policy drop;\n"
    text += "    iifname vmap { \"eth0\" : \"eth1\", \"eth2\" : accept }\n  }\n}\n"
    rs = parse_text("nftables", text, "damaged.nft")
    assert [(s.location.line, "no verdict" in s.reason) for s in rs.skipped] == [(4, True)]


def test_fortigate_details():
    rs = parse_text("fortigate", SAMPLES["fortigate"], "s")
    (rule,) = rs.lists["policy"].rules
    assert rule.in_ifaces == ("p1",) and rule.out_ifaces == ("p2",)
    assert rule.dport == ((443, 443),) and rule.dst == iv.V4_ALL and not rule.log


def test_shared_root_is_where_conftest_says():
    assert isinstance(SHARED, Path)


def test_line_numbers_count_line_feeds_only():
    """file:line as editors and grep -n count it: CRLF files, and a form feed or a lone CR inside a line
    (str.splitlines would break there and push every later line number off)."""
    text = "*filter\r\n# page\x0c break\r\n:FORWARD DROP [0:0]\r\n# lone \r cr\r\nbogus statement\r\nCOMMIT\r\n"
    rs = parse_text("iptables", text, "crlf.ipt")
    assert [(s.location.line, s.text) for s in rs.skipped] == [(5, "bogus statement")]
