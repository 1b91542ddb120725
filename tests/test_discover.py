"""`zonewarden discover` on every shared capture, identities checked against tshark where present."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED

PCAPS = SHARED / "pcaps"
FILES = sorted(p for p in PCAPS.glob("*/*") if p.is_file()) if PCAPS.is_dir() else []
pytestmark = pytest.mark.skipif(not FILES, reason="../shared/data/pcaps is not present")
ENV = {**os.environ, "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def discovered(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("disc")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "zonewarden",
            "discover",
            *map(str, FILES),
            "--format",
            "json",
            "--map",
            str(out / "map.svg"),
            "--map-json",
            str(out / "map.json"),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    data["_map_svg"] = (out / "map.svg").read_text()
    data["_map_json"] = json.loads((out / "map.json").read_text())
    return data


def test_every_capture_is_read_or_its_damage_located(discovered):
    files = {Path(f["file"]).name: f for f in discovered["stats"]["files"]}
    assert len(files) == len(FILES)
    for problem in discovered["problems"]:
        assert problem["file"] and problem["problem"]
    damaged = {Path(p["file"]).name: p for p in discovered["problems"] if p.get("packet")}
    assert set(damaged) == {"melsoft_129_clean.pcap"}
    assert damaged["melsoft_129_clean.pcap"]["packet"] == 2042
    assert damaged["melsoft_129_clean.pcap"]["offset"] == 331665


def test_inventory_names_vendors_models_firmware(discovered):
    assets = {(a["ip"], a["model"]): a for a in discovered["assets"]}
    for a in discovered["assets"]:
        assert {"ip", "mac", "vendor", "model", "firmware", "serial", "roles", "protocols", "evidence"} <= set(a)
    enbt = assets[("10.1.1.164", "1756-ENBT/A")]
    assert (enbt["vendor"], enbt["firmware"], enbt["serial"]) == (
        "Rockwell Automation/Allen-Bradley",
        "4.03",
        "0x00524d8e",
    )
    assert "plc" in enbt["roles"]
    s7 = assets[("172.17.0.2", "CPU 315-2 PN/DP")]
    assert (s7["vendor"], s7["firmware"]) == ("Siemens", "V3.2.6")
    assert any(e["protocol"] == "s7" for e in s7["evidence"])
    nae = assets[("10.1.1.165", "MS-NAE4510-2")]
    assert nae["firmware"] == "5.1.0.4400"
    assert ("192.168.63.253", "140 CPU 311 10") in assets
    assert discovered["stats"]["packets"] > 100_000


def test_communication_map(discovered):
    graph = discovered["_map_json"]
    assert graph["nodes"] and graph["edges"]
    assert discovered["_map_svg"].startswith("<svg")


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark (test-time oracle) is not installed")
def test_enip_identity_agrees_with_tshark(discovered):
    ours = {(a["ip"], a["identity"].get("serial")) for a in discovered["assets"] if a["identity"].get("serial")}
    theirs = set()
    for path in sorted((PCAPS / "enip").glob("*")):
        fields = subprocess.run(
            [
                "tshark",
                "-r",
                str(path),
                "-Y",
                "enip.command == 0x63",
                "-T",
                "fields",
                "-e",
                "ip.src",
                "-e",
                "enip.lir.serial",
                "-e",
                "enip.lir.name",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        for line in fields.splitlines():
            src, serial, _name = (line.split("\t") + ["", "", ""])[:3]
            if serial:
                theirs.add((src, f"0x{int(serial, 16):08x}"))
    assert theirs, "tshark found no ListIdentity responses"
    assert theirs <= ours


def test_workspace_compare_and_update(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "plant.yaml").write_text(
        "site: {name: lab}\nzones:\n  - {id: lab, subnets: [10.1.1.0/24]}\n"
        "assets:\n  - {id: enbt, zone: lab, ip: 10.1.1.164, vendor: Siemens}\n"
    )
    capture = (
        next(p for p in FILES if p.name == "enip_test.pcap")
        if any(p.name == "enip_test.pcap" for p in FILES)
        else FILES[0]
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "zonewarden",
            "discover",
            str(capture),
            "--workspace",
            str(ws),
            "--update",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert any(m["asset"] == "enbt" and m["field"] == "vendor" for m in data["workspace"]["mismatches"])
    assert (ws / "assets.csv").exists() == bool(data["workspace"].get("added"))


def test_truncated_and_bad_files(tmp_path):
    good = next(p for p in FILES if p.suffix == ".pcap" and p.stat().st_size > 150_000)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(good.read_bytes()[:100_000])
    junk = tmp_path / "junk.pcap"
    junk.write_text("not a capture")
    result = subprocess.run(
        [sys.executable, "-m", "zonewarden", "discover", str(cut), "--format", "json"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    problems = json.loads(result.stdout)["problems"]
    assert problems and problems[0]["packet"] > 1 and problems[0]["offset"] > 90_000 and problems[0]["problem"]
    bad = subprocess.run(
        [sys.executable, "-m", "zonewarden", "discover", str(junk), str(cut)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert bad.returncode == 1 and "not a pcap or pcapng" in bad.stderr and "Traceback" not in bad.stderr


def _tshark_fields(path: Path, display_filter: str, *fields: str) -> list[list[str]]:
    args = ["tshark", "-r", str(path), "-Y", display_filter, "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark (test-time oracle) is not installed")
def test_s7_and_modbus_identity_agree_with_tshark(discovered):
    ours = {a["ip"]: a for a in discovered["assets"]}
    checked = 0
    for path in sorted((PCAPS / "s7comm").glob("*")):
        for src, serial in _tshark_fields(
            path, "s7comm.szl.001c.0005.serialn", "ip.src", "s7comm.szl.001c.0005.serialn"
        ):
            assert ours[src]["serial"] == serial.strip()
            checked += 1
    for path in sorted((PCAPS / "modbus").glob("*")):
        for src, values in _tshark_fields(path, "modbus.object_str_value", "ip.src", "modbus.object_str_value"):
            found = set(ours[src]["identity"].values())
            assert set(values.split(",")) <= found
            checked += 1
    assert checked >= 3


def test_a_broken_workspace_is_reported_before_the_captures_are_read(tmp_path, monkeypatch):
    """Minutes of capture reading must not come before a typo in plant.yaml is reported."""
    from typer.testing import CliRunner

    import zonewarden.traffic.discover as discover_module
    from zonewarden.cli import app

    def never(*args, **kwargs):
        raise AssertionError("captures read before the workspace was checked")

    monkeypatch.setattr(discover_module, "discover", never)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "plant.yaml").write_text("zones: [\n")
    capture = tmp_path / "c.pcap"
    capture.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    result = CliRunner().invoke(app, ["discover", str(capture), "--workspace", str(ws)])
    assert result.exit_code == 1, result.output
    assert "plant.yaml:2" in result.output
    result = CliRunner().invoke(app, ["discover", str(capture), "--workspace", str(tmp_path / "none")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_folders_of_captures(tmp_path):
    """A folder stands for the captures in it (recursively); other files there are skipped with a note, and a
    capture named and also found in a named folder (what a shell's ** glob gives) is read once."""
    from typer.testing import CliRunner

    from zonewarden.cli import app

    good = next(p for p in FILES if p.suffix == ".pcap")
    (tmp_path / "site" / "cell").mkdir(parents=True)
    shutil.copy(good, tmp_path / "site" / "cell" / "a.pcap")
    shutil.copy(good, tmp_path / "site" / "b.pcap")
    (tmp_path / "site" / "MANIFEST.tsv").write_text("path\tprotocol\n")
    runner = CliRunner()
    site = tmp_path / "site"
    result = runner.invoke(app, ["discover", str(site), str(site / "b.pcap"), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "skipped 1 file(s)" in result.output and "MANIFEST.tsv" in result.output
    files = json.loads(result.output[result.output.index("{") :])["stats"]["files"]
    assert [Path(f["file"]).name for f in files] == ["b.pcap", "a.pcap"]
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["discover", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "no capture files" in result.output
    # a shell's **/* names the manifest too: skipped with a note, as in a folder (a .pcap that is not one is
    # read and reported: test_truncated_and_bad_files)
    result = runner.invoke(app, ["discover", str(site / "MANIFEST.tsv"), str(site / "b.pcap"), "--format", "json"])
    assert result.exit_code == 0 and "skipped 1 file(s)" in result.output, result.output
    result = runner.invoke(app, ["discover", str(tmp_path / "site" / "MANIFEST.tsv")])
    assert result.exit_code == 2 and "not pcap or pcapng captures" in result.output


@pytest.mark.parametrize(
    ("capture", "servers", "clients"),
    [
        # the capture begins with the PLC's answer (port 502 -> .21): .21 polls, it serves nothing
        ("modbus/modbus_test.pcap", {"192.168.0.20": "plc"}, {"192.168.0.21": "scada-client"}),
        # one IEC 104 packet, from the outstation's port 2404
        ("iec104/IEC104_SQ.pcapng", {"10.204.70.90": "rtu"}, {"10.104.99.22": "scada-client"}),
        ("s7commplus/s7comm_plus.pcap", {"192.168.0.1": "plc"}, {"192.168.0.3": "hmi"}),
        ("dnp3/dnp3_link_only.pcap", {"192.168.80.12": "rtu"}, {"192.168.80.249": "scada-client"}),
    ],
)
def test_connections_joined_late_keep_their_client_and_server(capture, servers, clients):
    """A capture starts in the middle of long-lived polling: a connection's first packet seen is as likely
    the device's answer as the poller's request. The device is still the server (its service port says
    so), and the poller is never taken for a controller."""
    from zonewarden.traffic.discover import discover

    found = discover([PCAPS / capture])
    roles = {a["ip"]: a["roles"] for a in found.hosts}
    for ip, role in {**servers, **clients}.items():
        assert roles[ip] == [role], (ip, roles[ip])
    for flow in found.flows:
        if flow["app_protocol"] and flow["transport"] == "tcp":
            assert flow["server"] in servers and flow["client"] not in servers, flow


def test_flows_are_taken_into_the_inventory_in_bulk_as_flow_by_flow(monkeypatch):
    """discover takes what the flows say of their hosts in bulk (traffic per host, protocols per client,
    server and protocol), a chunk of flows at a time: the same as adding every flow record one by one."""
    from zonewarden.model.protocols import port_tables
    from zonewarden.traffic.discover import discover
    from zonewarden.traffic.flows import FlowRecords
    from zonewarden.traffic.inventory import InventoryBuilder

    monkeypatch.setattr(FlowRecords, "PROBE_CHUNK", 97)  # hosts and pairs come once per chunk
    flows = discover(FILES).flows
    one_by_one, bulk = InventoryBuilder(), InventoryBuilder()
    for f in flows:
        one_by_one.add_flow(
            {**f, "packets": f["packets_to_server"] + f["packets_to_client"],
             "bytes": f["bytes_to_server"] + f["bytes_to_client"]}
        )  # fmt: skip
    for traffic in flows.host_traffic():
        bulk.add_traffic(*traffic)
    for use in flows.protocol_use(*port_tables()):
        bulk.add_use(*use)

    def state(b):
        return {
            key: (h.first_seen, h.last_seen, h.packets, h.bytes, dict(h.used), dict(h.served),
                  {p: peers for p, peers in h.peers_served.items() if peers},
                  {p: peers for p, peers in h.peers_used.items() if peers})
            for key, h in b.hosts.items()
        }  # fmt: skip

    assert state(bulk) == state(one_by_one)
    assert len(flows) > 2000 and sum(bool(h.served) for h in bulk.hosts.values()) > 100
