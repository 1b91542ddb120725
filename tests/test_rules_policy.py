"""rules.policy: conduit flows resolved to exact, address-level allow rules, grouped per enforcing device."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from zonewarden.rules.policy import BOUNDARY, build_policy
from zonewarden.workspace.load import load_workspace

DEMO = Path(__file__).resolve().parent.parent / "zonewarden" / "data" / "demo"
ip = ipaddress.ip_address
net = ipaddress.ip_network


@pytest.fixture(scope="module")
def demo():
    return build_policy(load_workspace(DEMO))


def _rules(policy, name):
    return [r for r in policy.rules if r.name == name]


# --- the demo plant ---------------------------------------------------------------------------


def test_demo_resolves_every_flow(demo):
    assert demo.problems == ()
    ws = load_workspace(DEMO)
    flows = {f"{c.id}/{f.id}" for c in ws.plant.conduits for f in c.flows}
    assert {r.name for r in demo.rules} == flows


def test_demo_asset_endpoints_are_host_addresses(demo):
    (rule,) = _rules(demo, "scada-treatment/scada-modbus-m580")
    assert rule.transport == "tcp" and rule.ports == ((502, 502),)
    assert rule.sources == (net("10.30.2.10/31"),)  # scada-srv-a .10 and scada-srv-b .11, collapsed
    assert rule.destinations == (net("10.30.12.10/32"),)
    assert rule.src_zones == ("scada",) and rule.dst_zones == ("treatment",)
    assert rule.devices == ("fw-cell",)
    assert rule.operations is not None and rule.operations.function_codes == [3, 4, 6, 16]
    assert rule.path == ("conduits", 8, "flows", 0)


def test_demo_zone_endpoint_is_its_subnets(demo):
    (rule,) = _rules(demo, "site-ops-scada/time")
    assert rule.sources == (net("10.30.2.0/24"),) and rule.src_zones == ("scada",)
    assert rule.transport == "udp" and rule.ports == ((123, 123),)


def test_demo_port_ranges_are_merged_and_sorted(demo):
    (rule,) = _rules(demo, "site-ops-scada/backup")
    assert rule.ports == ((2500, 3300), (6160, 6160), (6162, 6162))


def test_tcp_udp_protocols_give_one_rule_per_transport_with_exact_ports(demo):
    dns = {r.transport: r.ports for r in _rules(demo, "site-ops-scada/ad-dns")}
    assert dns == {"tcp": ((53, 53),), "udp": ((53, 53),)}
    enip = {r.transport: r.ports for r in _rules(demo, "scada-treatment/scada-enip-clx")}
    assert enip == {"tcp": ((44818, 44818),), "udp": ((2222, 2222), (44818, 44818))}  # no TCP 2222


def test_demo_devices_carry_only_their_conduits(demo):
    devices = demo.devices()
    assert sorted(devices) == ["diode", "fw-cell", "fw-it", "fw-ot", "fw-sis", "vpn-gw"]
    assert devices["fw-sis"].conduits == ("scada-sis",)
    assert {r.conduit for r in devices["fw-sis"].rules} == {"scada-sis"}
    assert devices["fw-cell"].zones == ("distribution", "intake", "scada", "treatment")
    assert devices["fw-it"].asset is not None and devices["fw-it"].label.startswith("IT/OT boundary firewall")
    for device in devices.values():
        assert all(device.id in r.devices for r in device.rules)


def test_demo_data_diode_is_not_rendered(demo):
    diode = demo.devices()["diode"]
    assert not diode.renderable and "data diode" in (diode.reason or "")
    assert all(d.renderable for k, d in demo.devices().items() if k != "diode")


def test_demo_has_a_life_safety_flow_and_operations_restrictions(demo):
    assert [r.name for r in demo.rules if r.life_safety] == ["scada-sis/sis-status"]
    restricted = {r.protocol for r in demo.rules if r.operations is not None}
    assert {"modbus", "dnp3", "s7", "enip"} <= restricted


def test_permitting_is_the_reference_meaning(demo):
    srv_a, plc = ip("10.30.2.10"), ip("10.30.12.10")
    assert [r.name for r in demo.permitting(srv_a, plc, "tcp", 502)] == ["scada-treatment/scada-modbus-m580"]
    assert demo.permitting(plc, srv_a, "tcp", 502) == []  # replies are the session's, not a rule
    assert demo.permitting(srv_a, plc, "udp", 502) == []
    assert demo.permitting(srv_a, plc, "tcp", 502, device="fw-sis") == []
    assert demo.permitting(ip("10.30.3.40"), ip("10.30.2.30"), "tcp", 3000)  # inside the backup range
    assert not demo.permitting(ip("10.30.3.40"), ip("10.30.2.30"), "tcp", 3301)


# --- small workspaces -------------------------------------------------------------------------

PLANT = """\
version: 1
site: {{name: Test}}
zones:
  - {{id: a, subnets: [10.0.1.0/24, "2001:db8:1::/64"]}}
  - {{id: b, subnets: [10.0.2.0/24]}}
  - {{id: c}}
assets:
  - {{id: h1, ip: 10.0.1.5}}
  - {{id: h2, ip: [10.0.2.7, 10.0.2.8]}}
  - {{id: dark, zone: b}}
  - {{id: c1, zone: c, ip: 10.9.9.9}}
  - {{id: fw1, role: firewall, ip: 10.0.1.1}}
  - {{id: fw2, role: firewall, ip: 10.0.2.1}}
conduits:
{conduits}
"""


def _policy(write_workspace, conduits: str):
    return build_policy(load_workspace(write_workspace(PLANT.format(conduits=conduits))))


def test_conduit_without_device_goes_to_the_boundary_ruleset(write_workspace):
    policy = _policy(
        write_workspace,
        """\
  - id: ab
    zones: [a, b]
    flows:
      - {from: h1, to: h2, protocol: ssh}
      - {id: web, from: a, to: h2, protocol: https}
""",
    )
    assert [r.flow for r in policy.rules] == ["ab-1", "web"]
    assert list(policy.devices()) == [BOUNDARY]
    assert policy.rules[0].devices == () and policy.rules[0].rulesets == (BOUNDARY,)
    # a zone with an IPv6 subnet resolves to both families
    assert policy.rules[1].sources == (net("10.0.1.0/24"), net("2001:db8:1::/64"))
    assert policy.rules[1].destinations == (net("10.0.2.7/32"), net("10.0.2.8/32"))


def test_devices_in_series_both_carry_the_rule(write_workspace):
    policy = _policy(
        write_workspace,
        """\
  - id: ab
    zones: [a, b]
    devices: [fw2, fw1, fw1]
    flows: [{id: s, from: h1, to: h2, protocol: ssh}]
""",
    )
    assert policy.rules[0].devices == ("fw2", "fw1")
    devices = policy.devices()
    assert sorted(devices) == ["fw1", "fw2"] and all(len(d.rules) == 1 for d in devices.values())


def test_any_side_is_empty_and_zone_without_subnets_uses_asset_addresses(write_workspace):
    policy = _policy(
        write_workspace,
        """\
  - id: ac
    zones: [a, c]
    devices: [fw1]
    flows:
      - {id: x, from: [h1, any], to: c, protocol: icmp}
      - {id: y, from: 10.0.1.0/24, to: c1, protocol: any}
      - {id: z, from: h1, to: c1, protocol: tcp}
""",
    )
    x, y, z = policy.rules
    assert x.sources == () and x.src_zones == () and x.destinations == (net("10.9.9.9/32"),)
    assert x.transport == "icmp" and x.ports == ()
    assert y.transport == "any" and y.ports == ()
    assert z.transport == "tcp" and z.ports == ()  # every port: validation warns, the rule says so exactly
    assert policy.zone_networks["c"] == (net("10.9.9.9/32"),)
    assert x.permits(ip("192.0.2.1"), ip("10.9.9.9"), "icmp")


def test_unresolvable_flows_fail_closed_as_problems(write_workspace):
    policy = _policy(
        write_workspace,
        """\
  - id: ab
    zones: [a, b]
    devices: [fw1]
    flows:
      - {id: no-ip, from: h1, to: [h2, dark], protocol: ssh}
      - {id: unknown, from: h1, to: nosuch, protocol: ssh}
      - {id: layer2, from: h1, to: h2, protocol: profinet}
      - {id: proto, from: h1, to: h2, protocol: gopher, ports: [70]}
      - {id: ok, from: h1, to: h2, protocol: modbus, operations: read-only}
""",
    )
    assert [r.flow for r in policy.rules] == ["ok"]
    assert len(policy.problems) == 4
    problems = "\n".join(policy.problems)
    assert "'no-ip': asset 'dark' has no IP address" in problems
    assert "'unknown':" in problems and "nosuch" in problems
    assert "'layer2':" in problems and "not carried over IP" in problems
    assert "'proto': protocol 'gopher' is not known" in problems
    assert policy.rules[0].operations is not None and policy.rules[0].operations.preset == "read-only"


def test_aliases_become_canonical_protocols(write_workspace):
    policy = _policy(
        write_workspace,
        """\
  - id: ab
    zones: [a, b]
    flows: [{id: s7, from: h1, to: h2, protocol: s7comm, life_safety: true, log: false}]
""",
    )
    (rule,) = policy.rules
    assert rule.protocol == "s7" and rule.ports == ((102, 102),) and rule.life_safety and not rule.log


def test_sides_keep_their_named_objects(demo):
    (rule,) = _rules(demo, "scada-treatment/scada-modbus-m580")
    assert rule.source_objects == (("scada-srv-a", (net("10.30.2.10/32"),)), ("scada-srv-b", (net("10.30.2.11/32"),)))
    assert rule.destination_objects == (("plc-trt", (net("10.30.12.10/32"),)),)
    (time,) = _rules(demo, "site-ops-scada/time")
    assert time.source_objects == (("scada", (net("10.30.2.0/24"),)),)


def test_flows_to_the_device_itself_are_its_own_traffic(demo):
    vpn = demo.devices()["vpn-gw"]
    assert [r.name for r in vpn.own_rules] == ["vendor-remote-access/vendor-ipsec"]
    assert {r.name for r in vpn.transit_rules} == {"vendor-remote-access/vendor-rdp"}
    assert all(not d.own_rules for k, d in demo.devices().items() if k != "vpn-gw")
