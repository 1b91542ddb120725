"""Inventory, roles, model comparison, asset-file update and the communication map (synthetic input)."""

from __future__ import annotations

from zonewarden.traffic.commap import build_map, map_svg
from zonewarden.traffic.compare import compare
from zonewarden.traffic.dissectors.base import Observation
from zonewarden.traffic.inventory import InventoryBuilder
from zonewarden.traffic.oui import mac_vendor
from zonewarden.workspace.asset_update import append_discovered
from zonewarden.workspace.load import load_workspace

PLC, HMI, EWS, HIST = "10.1.0.10", "10.2.0.5", "10.2.0.9", "10.3.0.4"


def _flow(client, server, protocol, port, packets=10, client_mac=None, server_mac=None):
    return {
        "client": client,
        "server": server,
        "app_protocol": protocol,
        "server_port": port,
        "transport": "tcp",
        "packets": packets,
        "bytes": packets * 80,
        "first_seen": 100.0,
        "last_seen": 200.0,
        "client_mac": client_mac,
        "server_mac": server_mac,
    }


def _builder():
    b = InventoryBuilder()
    b.add_flow(_flow(HMI, PLC, "modbus", 502, server_mac="00:80:f4:01:02:03"))
    b.add_flow(_flow(EWS, PLC, "modbus", 502))
    b.add_flow(_flow(HMI, HIST, "opcua", 4840))
    b.add_flow(_flow(HIST, "10.9.9.9", None, 443))
    b.add_observation(Observation("modbus", 12, 1.0, EWS, PLC, "request", "program-download", "UMAS download"))
    b.add_observation(Observation("modbus", 13, 1.0, HMI, PLC, "request", "write", "Write Single Register (6)"))
    b.add_observation(
        Observation(
            "modbus",
            14,
            1.0,
            HMI,
            PLC,
            "response",
            "diagnostics",
            "Read Device Id (43/14)",
            identity={"vendor": "Schneider Electric", "model": "BMEP582040", "firmware": "v4.10"},
            identity_of=PLC,
        )
    )
    return b


def test_roles_with_evidence_and_identity():
    hosts = {h["ip"]: h for h in _builder().result()}
    plc = hosts[PLC]
    assert plc["roles"] == ["plc"] and "serves modbus to 2 client(s)" in plc["role_evidence"][0]["evidence"]
    assert (plc["vendor"], plc["model"], plc["firmware"]) == ("Schneider Electric", "BMEP582040", "v4.10")
    assert plc["evidence"][0] == {
        "field": "vendor",
        "value": "Schneider Electric",
        "protocol": "modbus",
        "packet": 14,
        "message": "Read Device Id (43/14)",
    }
    assert plc["mac_vendor"] == "TELEMECANIQUE ELECTRIQUE"  # 00:80:f4 in the IEEE registry (a Schneider brand)
    assert "engineering-workstation" in hosts[EWS]["roles"]
    assert hosts[HMI]["roles"] == ["hmi"]
    assert "opc-server" in hosts[HIST]["roles"]
    assert hosts["10.9.9.9"]["roles"] == ["it-host"]  # https only


def test_broadcasts_poll_no_device():
    """A BACnet device's I-Am to the subnet broadcast, a station's Who-Is: datagrams to whoever listens.
    Neither makes its sender an HMI or SCADA client, nor counts the broadcast address as a device polled."""
    device, station = "10.64.1.7", "10.64.0.2"
    b = InventoryBuilder()
    b.add_flow({**_flow(device, "10.64.255.255", "bacnet", 47808), "transport": "udp"})
    b.add_flow({**_flow(station, "10.64.255.255", "bacnet", 47808), "transport": "udp"})
    b.add_flow({**_flow(station, "239.255.255.250", "bacnet", 47808), "transport": "udp"})
    b.add_flow({**_flow(station, device, "bacnet", 47808), "transport": "udp"})
    hosts = {h["ip"]: h for h in b.result()}
    assert set(hosts) == {device, station}
    assert hosts[device]["roles"] == ["plc"]
    assert hosts[device]["role_evidence"][0]["evidence"] == "serves bacnet to 1 client(s)"
    assert hosts[station]["role_evidence"] == [{"role": "scada-client", "evidence": "polls 1 device(s) over bacnet"}]
    assert hosts[station]["uses"] == ["bacnet"]


def test_oui_lookup_once_per_prefix():
    """Each MAC's vendor comes from the registry entry of its 24-bit OUI, whatever the notation."""
    assert mac_vendor("00:80:f4:01:02:03") == mac_vendor("00-80-F4-FF-FF-FF") == "TELEMECANIQUE ELECTRIQUE"
    assert mac_vendor("0080.f401.0203") == "TELEMECANIQUE ELECTRIQUE"
    assert mac_vendor("00:80:f4:01:02") is None and mac_vendor("00:80:f4:01:02:zz") is None


def test_oui_lookup_is_offline_and_safe():
    assert mac_vendor("00:1b:1b:00:00:01").startswith("Siemens")
    assert mac_vendor("02:00:00:00:00:01") is None  # locally administered
    assert mac_vendor("zz") is None and mac_vendor(None) is None


def test_compare_and_update(write_workspace):
    root = write_workspace(
        "site: {name: t}\nzones:\n  - {id: ctl, subnets: [10.1.0.0/24]}\n  - {id: sup, subnets: [10.2.0.0/24]}\n"
        "assets:\n  - {id: plc-1, zone: ctl, ip: 10.1.0.10, vendor: Siemens, firmware: v2.0}\n"
        "  - {id: hmi-9, zone: sup, ip: 10.2.0.99}\n",
        assets__csv="id;name;ip;zone\r\nsw-1;Switch;10.1.0.2;ctl\r\n",
    )
    hosts = _builder().result()
    ws = load_workspace(root)
    found = compare(ws.plant, hosts)
    assert {(m["field"], m["seen"]) for m in found["mismatches"]} == {
        ("vendor", "Schneider Electric"),
        ("firmware", "v4.10"),
    }
    assert {u["ip"] for u in found["unknown_hosts"]} == {HMI, EWS, HIST, "10.9.9.9"}
    assert next(u for u in found["unknown_hosts"] if u["ip"] == HMI)["zone"] == "sup"
    assert {u["asset"] for u in found["unseen_assets"]} == {"hmi-9", "sw-1"}
    before = (root / "assets.csv").read_bytes()
    new = append_discovered(
        root,
        [{**u, "name": None, "firmware": None, "serial": None} for u in found["unknown_hosts"] if u["zone"]],
        {"plc-1", "hmi-9", "sw-1"},
        "x.pcap",
    )
    after = (root / "assets.csv").read_bytes()
    assert after.startswith(before)  # what people wrote is untouched
    assert new == ["seen-10-2-0-5", "seen-10-2-0-9"]
    ws = load_workspace(root)
    assert [d.format() for d in ws.check() if d.severity == "error"] == []
    assert {a.id for a in ws.plant.assets} >= set(new)


def test_communication_map():
    b = _builder()
    hosts = b.result()
    flows = [_flow(HMI, PLC, "modbus", 502), _flow(EWS, PLC, "modbus", 502)]
    graph = build_map(hosts, flows, {PLC: "ctl", HMI: "sup", EWS: "sup"})
    assert {(e["source"], e["target"]) for e in graph["edges"]} == {(HMI, PLC), (EWS, PLC)}
    assert all(e["cross_zone"] for e in graph["edges"])
    svg = map_svg(graph)
    assert svg.startswith("<svg") and "modbus" in svg and PLC in svg


def test_probes_say_nothing_of_services():
    """A scan's flows carry no data: the hosts it touched serve nothing, the scanner uses nothing, the
    target of an unanswered probe is no host, and the map draws no edge for a probe."""
    scanner, dead, closed, listening = "10.9.0.66", "10.1.0.200", "10.1.0.11", "10.1.0.12"
    b = _builder()
    b.add_flow({**_flow(scanner, dead, "modbus", 502, packets=1), "state": "unanswered"})
    b.add_flow({**_flow(scanner, closed, "s7", 102, packets=2), "state": "rejected"})
    b.add_flow({**_flow(scanner, listening, "modbus", 502, packets=3), "state": "no-data"})
    b.add_flow({**_flow(scanner, PLC, "enip", 44818, packets=2), "state": "rejected"})
    hosts = {h["ip"]: h for h in b.result()}
    assert dead not in hosts
    for ip in (closed, listening, scanner):
        assert hosts[ip]["protocols"] == [] and hosts[ip]["roles"] == [] and hosts[ip]["packets"] > 0
    assert "enip" not in hosts[PLC]["protocols"] and "plc" in hosts[PLC]["roles"]
    flows = [
        {**_flow(scanner, closed, "s7", 102), "state": "rejected"},
        {**_flow(HMI, PLC, "modbus", 502), "state": "two-way"},
    ]
    graph = build_map(list(hosts.values()), flows)
    assert [(e["source"], e["target"]) for e in graph["edges"]] == [(HMI, PLC)]


def test_consuming_the_builder_gives_the_same_inventory():
    kept, consumed = _builder(), _builder()
    assert consumed.result(consume=True) == kept.result() == kept.result()
    assert consumed.hosts == {} and kept.hosts
