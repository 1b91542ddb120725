"""Juniper SRX and PAN-OS parsers: every shared real configuration parses (rule counts checked
by hand for some), both SRX formats read the same, mutated lines never crash a parser, the
generated rulesets check clean (round trip) and weakened configurations are caught at their lines."""

from __future__ import annotations

import pytest
from _firewall import FIREWALL, MUTATIONS, half_cut, manifest_rows, mutate, needs_shared
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rules_check import PLANT, line_of

from zonewarden.rules import intervals as iv
from zonewarden.rules.analyze import analyze, zone_infos
from zonewarden.rules.config import parse_file, parse_text, platform_name
from zonewarden.rules.policy import build_policy
from zonewarden.rules.ruleset import DENY, PERMIT, REJECT, ConfigError
from zonewarden.workspace.load import load_workspace

PLATFORM_OF = {"srx": "srx", "panos": "panos"}


def shared_configs() -> list[tuple[str, str]]:
    return [(row["path"], PLATFORM_OF[row["format"]]) for row in manifest_rows(set(PLATFORM_OF))]


def registered(platform: str) -> bool:
    return platform_name(platform) is not None


@needs_shared
@pytest.mark.parametrize("path,platform", shared_configs(), ids=[c[0] for c in shared_configs()])
def test_every_shared_config_parses(path, platform):
    if not registered(platform):
        pytest.skip(f"{platform} parser not registered")
    ruleset = parse_file(platform, FIREWALL / path, path)
    assert ruleset.platform == platform
    n_lines = len((FIREWALL / path).read_text(encoding="utf-8", errors="replace").splitlines())
    for s in ruleset.skipped:
        assert s.location.file == path and 1 <= s.location.line <= n_lines and s.reason
    for r in ruleset.rules:
        assert 1 <= r.location.line <= n_lines
    # the batfish unit test defines only incomplete policies (reported as skipped)
    if "unit-tests_juniper_security" not in path:
        assert ruleset.rules, "no rules parsed"


def summary(path: str, platform: str):
    ruleset = parse_file(platform, FIREWALL / path, path)
    return ruleset, {name: len(lst.rules) for name, lst in ruleset.lists.items()}


@needs_shared
def test_srx_counts_checked_by_hand():
    # two zone policies (P0 permit, P1 deny) then one global deny; default permit-all
    rs, counts = summary("srx/batfish_juniper_firewall-combined-policies.conf", "srx")
    assert counts == {"security-policies": 3}
    lst = rs.lists["security-policies"]
    assert [(r.name, r.action, r.location.line) for r in lst.rules] == [
        ("P0", PERMIT, 9),
        ("P1", DENY, 13),
        ("P1", DENY, 18),
    ]
    assert lst.rules[0].in_ifaces == ("trust",) and lst.rules[0].out_ifaces == ("untrust",)
    assert lst.rules[2].in_ifaces is None  # global
    assert lst.rules[0].src == iv.parse_address_ivs("1.2.3.1/32")
    assert lst.default == PERMIT and lst.default_location.line == 23
    # the stateless firewall filter is reported, one line per term
    assert {(s.location.line, "firewall filter" in s.reason) for s in rs.skipped} == {(29, True), (31, True)}
    # Aerleon's sample: test-tcp (tcp and udp), test-icmp (two ICMP types: inexact), default-deny
    rs, counts = summary("srx/aerleon_sample_srx.srx", "srx")
    assert counts == {"security-policies": 5}
    rules = rs.lists["security-policies"].rules
    assert [(r.name, r.location.line) for r in rules] == [
        ("test-tcp", 25),
        ("test-tcp", 25),
        ("test-icmp", 39),
        ("test-icmp", 39),
        ("default-deny", 52),
    ]
    assert [r.exact for r in rules] == [True, True, False, False, True]
    assert rules[0].log and rules[-1].action == DENY and rules[-1].log
    # the testbed: 3 transit policies, 2 to the device (junos-host), 2 from it
    rs, counts = summary("srx/batfish_srx-testbed_junos-srx-1.cfg", "srx")
    assert counts == {"security-policies": 3, "junos-host-in": 2, "junos-host-out": 2}
    assert [r.action for r in rs.lists["security-policies"].rules] == [PERMIT, PERMIT, REJECT]
    # deactivated contexts are skipped with their line
    rs, counts = summary("srx/batfish_srx-testbed_junos-srx-2.cfg", "srx")
    assert counts == {"security-policies": 1}
    assert sorted(s.location.line for s in rs.skipped if "inactive" in s.reason) == [52, 57]
    # the lab vSRX: 3 policies with two applications each, predefined junos-* resolved
    rs, counts = summary("srx/kmarquis_junos_sec_srx1.set", "srx")
    assert counts == {"security-policies": 4}
    allow = [r for r in rs.rules if r.name == "allow"]
    assert [iv.ivs_port_text(r.dport) for r in allow] == ["any", "80"]
    assert not allow[0].exact  # junos-icmp-ping: echo requests only


@needs_shared
def test_srx_unknown_predefined_application_is_inexact_and_reported():
    rs, _ = summary("srx/labval_onug_fwl01.set", "srx")
    block = [r for r in rs.rules if r.name == "BLOCK-BAD"]
    assert len(block) == 1 and not block[0].exact and block[0].protocols == iv.PROTO_ALL
    unknown = {s.text for s in rs.skipped if "not known" in s.reason}
    assert {"application junos-cifs", "application junos-smb", "application junos-ms-rpc-any"} <= unknown
    web = [r for r in rs.rules if r.name == "PERMIT-WEB" and r.in_ifaces == ("INSIDE",)]
    assert [iv.ivs_port_text(r.dport) for r in web] == ["80", "443"] and all(r.exact for r in web)


SRX_SET = """\
set security address-book global address NET-A 10.0.0.0/8
set security address-book global address HOST-B 192.168.1.1/32
set security address-book global address RANGE range-address 10.9.0.1 to 10.9.0.9
set security address-book global address-set BOTH address NET-A
set security address-book global address-set BOTH address HOST-B
set applications application web-80 protocol tcp destination-port 80
set applications application ntp-udp term t1 protocol udp destination-port 123
set applications application ntp-udp term t2 protocol tcp destination-port 123 source-port 1024-65535
set applications application-set app-set application web-80
set applications application-set app-set application ntp-udp
set security policies from-zone trust to-zone untrust policy p1 match source-address BOTH
set security policies from-zone trust to-zone untrust policy p1 match destination-address RANGE
set security policies from-zone trust to-zone untrust policy p1 match application app-set
set security policies from-zone trust to-zone untrust policy p1 then permit
set security policies from-zone trust to-zone untrust policy p1 then log session-close
set security policies global policy g1 match source-address any
set security policies global policy g1 match destination-address any
set security policies global policy g1 match application junos-ssh
set security policies global policy g1 match from-zone trust
set security policies global policy g1 then reject
set security policies default-policy deny-all
"""
SRX_BRACES = """\
security {
    address-book {
        global {
            address NET-A 10.0.0.0/8;
            address HOST-B {
                description "a host";
                192.168.1.1/32;
            }
            address RANGE {
                range-address 10.9.0.1 {
                    to {
                        10.9.0.9;
                    }
                }
            }
            address-set BOTH {
                address NET-A;
                address HOST-B;
            }
        }
    }
    policies {
        from-zone trust to-zone untrust {
            /* a comment
               over lines */
            policy p1 {
                match {
                    source-address BOTH;
                    destination-address RANGE;
                    application app-set;
                }
                then {
                    permit;
                    log {
                        session-close;
                    }
                }
            }
        }
        global {
            policy g1 {
                match {
                    source-address any;
                    destination-address any;
                    application junos-ssh;
                    from-zone [ trust ];
                }
                then {
                    reject;
                }
            }
        }
        default-policy {
            deny-all;
        }
    }
}
applications {
    application web-80 {
        protocol tcp;
        destination-port 80;
    }
    application ntp-udp {
        term t1 protocol udp destination-port 123;
        term t2 protocol tcp destination-port 123 source-port 1024-65535;
    }
    application-set app-set {
        application web-80;
        application ntp-udp;
    }
}
"""


def _shape(ruleset):
    return [
        (r.name, r.action, r.describe(), r.log, r.exact, r.in_ifaces, r.out_ifaces)
        for lst in ruleset.lists.values()
        for r in lst.rules
    ]


def test_srx_set_and_brace_formats_read_the_same():
    a = parse_text("srx", SRX_SET, "a.set")
    b = parse_text("juniper-srx", SRX_BRACES, "b.conf")
    assert a.skipped == [] and b.skipped == []
    assert _shape(a) == _shape(b)
    rules = a.rules
    assert len(rules) == 4  # p1: tcp/80, udp/123, tcp/123 from high ports; g1
    assert rules[0].src == iv.union_all([iv.parse_address_ivs("10.0.0.0/8"), iv.parse_address_ivs("192.168.1.1/32")])
    assert rules[0].dst == iv.parse_address_ivs("10.9.0.1-10.9.0.9")
    assert iv.ivs_port_text(rules[2].sport) == "1024-65535"
    assert rules[3].action == REJECT and rules[3].in_ifaces == ("trust",) and rules[3].out_ifaces is None
    assert [r.location.line for r in rules] == [11, 11, 11, 16]
    assert [r.location.line for r in b.rules] == [line_of(SRX_BRACES, "policy p1 {")] * 3 + [
        line_of(SRX_BRACES, "policy g1 {")
    ]
    assert a.lists["security-policies"].default == DENY


def test_srx_edit_deactivate_delete_insert():
    text = """\
edit security policies from-zone a to-zone b
set policy first match source-address any
set policy first match destination-address any
set policy first match application any
set policy first then deny
set policy second match source-address any
set policy second match destination-address any
set policy second match application junos-http
set policy second then permit
top
insert security policies from-zone a to-zone b policy second before policy first
set security policies global policy gone match source-address any
delete security policies global policy gone
set security policies global policy off match source-address any
set security policies global policy off match destination-address any
set security policies global policy off match application any
set security policies global policy off then permit
deactivate security policies global policy off
"""
    rs = parse_text("srx", text, "e.set")
    assert [(r.name, r.action) for r in rs.rules] == [("second", PERMIT), ("first", DENY)]
    assert [(s.location.line, s.reason) for s in rs.skipped] == [(14, "inactive (deactivated) policy")]


@needs_shared
def test_panos_counts_checked_by_hand():
    # five deny rules reordered by 'move' lines to 3,4,1,5,2 (the file says so); MY_VSYS 7,6
    rs, counts = summary("panos/batfish_palo_alto_move-rulebase-security.conf", "panos")
    assert counts == {"vsys1 security": 5, "MY_VSYS security": 2}
    assert [r.name for r in rs.lists["vsys1 security"].rules] == ["RULE3", "RULE4", "RULE1", "RULE5", "RULE2"]
    assert [r.name for r in rs.lists["MY_VSYS security"].rules] == ["RULE7", "RULE6"]
    rule2 = rs.lists["vsys1 security"].rules[-1]  # negate-source: everything but 2.2.2.2
    assert rule2.action == PERMIT and not iv.member(rule2.src, int(iv.parse_address_ivs("2.2.2.2")[0][0]))
    assert [(s.location.line, "SERVICE1" in s.text) for s in rs.skipped] == [(4, True)]  # undefined service
    # ten rules (service groups joined per protocol), then the intrazone defaults of INSIDE and OUTSIDE
    rs, counts = summary("panos/labval_cv_demo_base_panos_fwl01.set", "panos")
    assert counts == {"security": 12}
    rules = rs.lists["security"].rules
    assert [r.name for r in rules[-2:]] == ["intrazone-default"] * 2
    assert [r.in_ifaces for r in rules[-2:]] == [("INSIDE",), ("OUTSIDE",)]
    bad_tcp = next(r for r in rules if r.name == "IN_TO_OUT_BLOCK_BAD_TCP")
    assert iv.ivs_port_text(bad_tcp.dport) == "23,113,135,389,1433-1434,3389,5432" and bad_tcp.exact
    ping = next(r for r in rules if r.name == "IN_TO_OUT_PING")  # App-ID ping, application-default
    assert not ping.exact and ping.protocols == iv.PROTO_ALL
    allow_all = next(r for r in rules if r.name == "IN_TO_OUT_ALLOW_ALL")
    assert not allow_all.exact and any("application any" in c for c in allow_all.conditions)
    # Aerleon's sample: nine rules, nothing skipped
    rs, counts = summary("panos/aerleon_sample_paloalto.xml", "panos")
    assert counts == {"security": 9} and rs.skipped == []
    # Panorama: shared pre-rules, then the device group's, then post-rules, per device group
    rs, counts = summary("panos/panosphp_panorama-8.1.xml", "panos")
    assert set(counts) == {"Perimeter-FWs security", "DE-Berlin Office security", "testDG security"}
    names = [r.name for r in rs.lists["Perimeter-FWs security"].rules]
    assert names.index("shared pre rule 1") < names.index("perimeter - allow users outside")
    assert names.index("no traffic out of dc") < names.index("shared post rule 1")


def test_panos_set_and_xml_read_the_same():
    a = parse_text("paloalto", PANOS_SET, "a.set")
    b = parse_text("panos", PANOS_XML, "b.xml")
    assert a.skipped == [] and b.skipped == []
    assert _shape(a) == _shape(b)
    rules = a.rules
    assert [r.name for r in rules] == ["allow web", "deny-all"]  # deny-all decides the intrazone traffic
    assert rules[0].src == iv.union_all(
        [iv.parse_address_ivs("10.0.0.10/32"), iv.parse_address_ivs("10.1.0.1-10.1.0.99")]
    )
    assert iv.ivs_port_text(rules[0].dport) == "443,8443,9000-9010"
    assert rules[0].log and not rules[1].log
    assert [r.location.line for r in b.rules] == [line_of(PANOS_XML, '"allow web"'), line_of(PANOS_XML, '"deny-all"')]
    # without the final deny, PAN-OS' intrazone-default allow appears, one rule per zone
    text = "\n".join(line for line in PANOS_SET.splitlines() if "deny-all" not in line) + "\n"
    rs = parse_text("panos", text, "c.set")
    assert [(r.name, r.in_ifaces, r.out_ifaces) for r in rs.rules[1:]] == [
        ("intrazone-default", ("trust",), ("trust",)),
        ("intrazone-default", ("untrust",), ("untrust",)),
    ]


def test_panos_xml_entities_are_refused_and_errors_name_the_line():
    evil = '<?xml version="1.0"?>\n<!DOCTYPE c [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>\n<config>&x;</config>\n'
    with pytest.raises(ConfigError) as info:
        parse_text("panos", evil, "e.xml")
    assert info.value.location.line == 3 and "entity" in str(info.value).lower()
    with pytest.raises(ConfigError) as info:
        parse_text("panos", "<config>\n  <devices>\n</config>\n", "bad.xml")
    assert info.value.location.file == "bad.xml" and info.value.location.line == 3
    with pytest.raises(ConfigError):
        parse_text("panos", "hello\n", "x.txt")


@pytest.mark.parametrize(
    "text,line",
    [
        ("security {\n  policies {\n    default-policy { deny-all; }\n", 2),
        ("security {\n  policies }\n}\n}\n", 3),
        ("security { policies { global { policy p { match { source-address [ a b ; } } } } }\n", 1),
        ("/* open\nsecurity { }\n", 1),
        ("hello world\n", 1),
    ],
)
def test_srx_malformed_input_names_the_line(text, line):
    with pytest.raises(ConfigError) as info:
        parse_text("srx", text, "bad.conf")
    assert info.value.location is not None and info.value.location.file == "bad.conf"
    assert info.value.location.line == line


PANOS_SET = """\
set zone trust network layer3 ethernet1/1
set zone untrust network layer3 ethernet1/2
set address web ip-netmask 10.0.0.10/32
set address lan ip-range 10.1.0.1-10.1.0.99
set address-group both static [ web lan ]
set service tcp-8443 protocol tcp port 8443,9000-9010
set service-group svcs members [ tcp-8443 service-https ]
set rulebase security rules "allow web" from trust
set rulebase security rules "allow web" to untrust
set rulebase security rules "allow web" source both
set rulebase security rules "allow web" destination any
set rulebase security rules "allow web" application any
set rulebase security rules "allow web" service svcs
set rulebase security rules "allow web" action allow
set rulebase security rules deny-all from any
set rulebase security rules deny-all to any
set rulebase security rules deny-all source any
set rulebase security rules deny-all destination any
set rulebase security rules deny-all application any
set rulebase security rules deny-all service any
set rulebase security rules deny-all action deny
set rulebase security rules deny-all log-end no
"""
PANOS_XML = """\
<?xml version="1.0"?>
<config version="10.1.0">
  <devices>
    <entry name="localhost.localdomain">
      <vsys>
        <entry name="vsys1">
          <zone>
            <entry name="trust"><network><layer3><member>ethernet1/1</member></layer3></network></entry>
            <entry name="untrust"><network><layer3><member>ethernet1/2</member></layer3></network></entry>
          </zone>
          <address>
            <entry name="web"><ip-netmask>10.0.0.10/32</ip-netmask></entry>
            <entry name="lan"><ip-range>10.1.0.1-10.1.0.99</ip-range></entry>
          </address>
          <address-group>
            <entry name="both"><static><member>web</member><member>lan</member></static></entry>
          </address-group>
          <service>
            <entry name="tcp-8443"><protocol><tcp><port>8443,9000-9010</port></tcp></protocol></entry>
          </service>
          <service-group>
            <entry name="svcs"><members><member>tcp-8443</member><member>service-https</member></members></entry>
          </service-group>
          <rulebase>
            <security>
              <rules>
                <entry name="allow web">
                  <from><member>trust</member></from>
                  <to><member>untrust</member></to>
                  <source><member>both</member></source>
                  <destination><member>any</member></destination>
                  <application><member>any</member></application>
                  <service><member>svcs</member></service>
                  <action>allow</action>
                </entry>
                <entry name="deny-all">
                  <from><member>any</member></from>
                  <to><member>any</member></to>
                  <source><member>any</member></source>
                  <destination><member>any</member></destination>
                  <application><member>any</member></application>
                  <service><member>any</member></service>
                  <action>deny</action>
                  <log-end>no</log-end>
                </entry>
              </rules>
            </security>
          </rulebase>
        </entry>
      </vsys>
    </entry>
  </devices>
</config>
"""
SAMPLES = {
    "srx-set": ("srx", SRX_SET),
    "srx-braces": ("srx", SRX_BRACES),
    "panos-set": ("panos", PANOS_SET),
    "panos-xml": ("panos", PANOS_XML),
}


def _samples() -> list[str]:
    return sorted(k for k, (platform, _) in SAMPLES.items() if registered(platform))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(_samples()),
    line=st.integers(min_value=0, max_value=200),
    cut=st.integers(min_value=0, max_value=80),
    junk=st.sampled_from(["{", "}", "[", "]", ";", '"', "/*", "*/", "#", "<", ">", "&", "any", "set", "300.1.1.1/33"])
    | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
    mode=st.sampled_from(MUTATIONS),
)
def test_parsers_never_crash_on_mutated_lines(sample, line, cut, junk, mode):
    platform, text = SAMPLES[sample]
    lines = mutate(text.splitlines(), line, cut, junk, mode)
    mutated = "\n".join(lines) + "\n"
    try:
        ruleset = parse_text(platform, mutated, "m.cfg")
    except ConfigError as exc:
        assert exc.location is None or exc.location.file == "m.cfg"
        return
    for s in ruleset.skipped:
        assert 0 <= s.location.line <= len(lines) + 1


@needs_shared
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(min_value=0, max_value=10_000),
    line=st.integers(min_value=0, max_value=100_000),
    junk=st.text(max_size=8),
)
def test_real_configs_with_a_damaged_line_never_crash(index, line, junk):
    configs = [c for c in shared_configs() if registered(c[1])]
    path, platform = configs[index % len(configs)]
    try:
        parse_text(platform, half_cut(path, line, junk), path)
    except ConfigError as exc:
        assert exc.location is None or exc.location.file == path


# ---------------------------------------------------------------- round trip and weakened configs

ROUND_TRIP = {"juniper-srx": "srx", "paloalto": "panos"}


@pytest.mark.parametrize("generator_name", sorted(ROUND_TRIP))
@pytest.mark.parametrize("which", ["small", "demo"])
def test_generated_rulesets_check_clean(generator_name, which, write_workspace):
    if not registered(ROUND_TRIP[generator_name]):
        pytest.skip("parser not registered")
    from zonewarden.rules.generate import PLATFORMS, generate

    root = write_workspace(PLANT) if which == "small" else REPO / "zonewarden" / "data" / "demo"
    ws = load_workspace(root)
    policy = build_policy(ws)
    output = generate(policy, ws.plant, PLATFORMS[generator_name])
    assert output.rulesets
    for ruleset_file in output.rulesets:
        ruleset = parse_text(generator_name, ruleset_file.text, ruleset_file.filename)
        assert ruleset.rules and ruleset.skipped == []
        assert all(r.exact for r in ruleset.rules)
        report = analyze(ruleset, policy, zone_infos(ws.plant), device=ruleset_file.device)
        problems = [f.as_dict() for f in report.findings if f.category in "abe"]
        assert problems == [], ruleset_file.filename
        assert report.summary["required_flows"] > 0 or not ruleset_file.terms


SRX_WEAK = """\
set security address-book global address ENT 10.1.0.0/16
set security address-book global address HIST 172.16.35.10/32
set security address-book global address OPS-HIST 10.30.3.10/32
set security address-book global address SCADA-SRV 10.30.2.10/32
set security address-book global address EWS 10.30.2.20/32
set security address-book global address PLC 10.30.11.10/32
set applications application historian protocol tcp destination-port 5450
set applications application opcua protocol tcp destination-port 4840
set applications application modbus protocol tcp destination-port 502
set applications application s7 protocol tcp destination-port 102
set security policies from-zone enterprise to-zone dmz policy ent-web match source-address ENT
set security policies from-zone enterprise to-zone dmz policy ent-web match destination-address HIST
set security policies from-zone enterprise to-zone dmz policy ent-web match application junos-https
set security policies from-zone enterprise to-zone dmz policy ent-web then permit
set security policies from-zone enterprise to-zone dmz policy ent-web then log session-close
set security policies from-zone ops to-zone dmz policy ops-hist match source-address OPS-HIST
set security policies from-zone ops to-zone dmz policy ops-hist match destination-address HIST
set security policies from-zone ops to-zone dmz policy ops-hist match application historian
set security policies from-zone ops to-zone dmz policy ops-hist then permit
set security policies from-zone ops to-zone dmz policy ops-hist then log session-close
set security policies from-zone ops to-zone scada policy opcua match source-address OPS-HIST
set security policies from-zone ops to-zone scada policy opcua match destination-address SCADA-SRV
set security policies from-zone ops to-zone scada policy opcua match application opcua
set security policies from-zone ops to-zone scada policy opcua then permit
set security policies from-zone ops to-zone scada policy opcua then log session-close
set security policies from-zone scada to-zone control policy anything match source-address any
set security policies from-zone scada to-zone control policy anything match destination-address any
set security policies from-zone scada to-zone control policy anything match application any
set security policies from-zone scada to-zone control policy anything then permit
set security policies from-zone scada to-zone control policy anything then log session-close
set security policies from-zone scada to-zone control policy modbus match source-address SCADA-SRV
set security policies from-zone scada to-zone control policy modbus match destination-address PLC
set security policies from-zone scada to-zone control policy modbus match application modbus
set security policies from-zone scada to-zone control policy modbus then permit
set security policies from-zone scada to-zone control policy modbus then log session-close
set security policies global policy deny-all match source-address any
set security policies global policy deny-all match destination-address any
set security policies global policy deny-all match application any
set security policies global policy deny-all then deny
set security policies global policy deny-all then log session-init
"""


def _check(write_workspace, platform: str, text: str):
    ws = load_workspace(write_workspace(PLANT))
    ruleset = parse_text(platform, text, "fw.conf")
    return analyze(ruleset, build_policy(ws), zone_infos(ws.plant))


def test_weakened_srx_config_is_caught_at_its_lines(write_workspace):
    report = _check(write_workspace, "srx", SRX_WEAK)
    found = {(f.kind, f.line) for f in report.findings}
    anything = line_of(SRX_WEAK, "policy anything match source-address")
    modbus = line_of(SRX_WEAK, "policy modbus match source-address")
    assert ("any-any", anything) in found
    assert ("permit-not-in-policy", anything) in found
    assert ("shadowed", modbus) in found
    shadowed = next(f for f in report.findings if f.kind == "shadowed")
    assert shadowed.details["covered_by"] == [anything]
    # the faithful policies have no findings, and nothing else is wrong with the list
    for piece in ("policy ent-web match source", "policy ops-hist match source", "policy opcua match source"):
        line = line_of(SRX_WEAK, piece)
        assert not [f for f in report.findings if f.line == line], piece
    assert not [f for f in report.findings if f.category in "be"]
    # a permit-all default is an allow by default, at the default-policy line
    text = SRX_WEAK.replace("global policy deny-all", "global policy deny-x") + (
        "deactivate security policies global\nset security policies default-policy permit-all\n"
    )
    report = _check(write_workspace, "srx", text)
    default = [(f.kind, f.line) for f in report.findings if f.category == "e"]
    assert default == [("default-allow", len(text.splitlines()))]
