"""`discover --workspace W --save` keeps runs under W/discovery/, and `report W` embeds the newest map."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from jsonschema import Draft202012Validator
from test_report_html import _png_is_blank

from zonewarden.report.schema import report_schema
from zonewarden.traffic.record import FORMAT, latest, record_name

ENV = {**os.environ, "NO_COLOR": "1"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PLANT = """site: {name: Save test}
zones:
  - {id: ctl, name: Control, subnets: [10.1.0.0/24], purdue_level: 1}
  - {id: sup, name: Supervisory, subnets: [10.2.0.0/24], purdue_level: 2}
  - {id: ent, name: Enterprise, subnets: [10.3.0.0/24], purdue_level: 4}
conduits:
  - id: sup-ctl
    zones: [sup, ctl]
    flows:
      - {from: [10.2.0.0/24], to: [10.1.0.0/24], protocol: modbus}
assets:
  - {id: plc-1, zone: ctl, ip: 10.1.0.10}
  - {id: hmi-1, zone: sup, ip: 10.2.0.5}
"""
PLC, HMI, LAPTOP, PEER = "10.1.0.10", "10.2.0.5", "10.3.0.7", "10.1.0.11"


def _ip(text: str) -> bytes:
    return bytes(int(x) for x in text.split("."))


def _frame(src: str, dst: str, sport: int, dport: int, payload: bytes, flags: int = 0x18) -> bytes:
    tcp = struct.pack(">HHIIBBHHH", sport, dport, 1, 1, 5 << 4, flags, 8192, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, _ip(src), _ip(dst)) + tcp
    return b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00" + ip


def _modbus(tid: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, 1) + pdu


def write_capture(path: Path) -> Path:
    """HMI (sup) reads the PLC (ctl) over Modbus: allowed by conduit sup-ctl; a laptop (ent) does too: no conduit;
    the PLC talks to a peer in its own zone."""
    frames = []
    for n, client in enumerate((HMI, LAPTOP)):
        frames.append(_frame(client, PLC, 40000 + n, 502, _modbus(1, b"\x03\x00\x00\x00\x02")))
        frames.append(_frame(PLC, client, 502, 40000 + n, _modbus(1, b"\x03\x04\x00\x01\x00\x02")))
    frames.append(_frame(PLC, PEER, 40100, 502, _modbus(2, b"\x03\x00\x00\x00\x01")))
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, frame in enumerate(frames):
        data += struct.pack("<IIII", 1_700_000_000 + i, 0, len(frame), len(frame)) + frame
    path.write_bytes(data)
    return path


def zonewarden(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zonewarden", *args], capture_output=True, text=True, env=ENV, timeout=300
    )


@pytest.fixture
def saved(write_workspace, tmp_path) -> Path:
    root = write_workspace(PLANT)
    capture = write_capture(tmp_path / "line.pcap")
    result = zonewarden("discover", str(capture), "--workspace", str(root), "--save", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "discovery run saved" in result.stderr
    return root


def test_save_writes_one_documented_record(saved):
    [path] = sorted((saved / "discovery").iterdir())
    record = json.loads(path.read_text())
    assert record["format"] == FORMAT and path.name == record_name(record)
    assert path.name.endswith(".json") and len(path.stem.split("-")[1]) == 8
    [capture] = record["captures"]
    assert capture["name"] == "line.pcap" and len(capture["sha256"]) == 64
    assert record["summary"]["hosts"] == 4 and record["summary"]["packets"] == 5
    zones = {h["ip"]: h["zone"] for h in record["inventory"]}
    assert zones == {PLC: "ctl", HMI: "sup", LAPTOP: "ent", PEER: "ctl"}
    assert {(f["client"], f["server"], f["protocol"]) for f in record["flows"]} == {
        (HMI, PLC, "modbus"), (LAPTOP, PLC, "modbus"), (PLC, PEER, "modbus")
    }  # fmt: skip
    assert {(c["source_zone"], c["target_zone"]) for c in record["cross_zone"]} == {("sup", "ctl"), ("ent", "ctl")}
    assert all(e["packets"] > 0 for e in record["map"]["edges"])


def test_save_needs_a_workspace(tmp_path):
    result = zonewarden("discover", str(write_capture(tmp_path / "x.pcap")), "--save")
    assert result.returncode == 2 and "--save needs --workspace" in result.stderr
    assert "Traceback" not in result.stderr


def test_newest_run_up_to_a_date_and_broken_files_skipped(saved):
    folder = saved / "discovery"
    [first] = folder.iterdir()
    older = json.loads(first.read_text())
    older["created"] = "2020-01-02T03:04:05Z"
    (folder / record_name(older)).write_text(json.dumps(older))
    (folder / "zz-broken.json").write_text("{not json")
    path, record, problems = latest(saved, dt.date(2021, 1, 1))
    assert record is not None and record["created"] == "2020-01-02T03:04:05Z"
    assert problems == ["discovery/zz-broken.json: not JSON (line 1 column 2: Expecting property name enclosed in "
                        "double quotes)"]  # fmt: skip
    path, record, _ = latest(saved)
    assert path == first
    assert latest(saved, dt.date(2019, 1, 1))[1] is None


def test_report_embeds_the_map_and_cross_zone_table(saved, tmp_path):
    out = tmp_path / "report.html"
    result = zonewarden("report", str(saved), "-o", str(out), "--as-of", dt.date.today().isoformat())
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    section = html[html.index('<section id="communication-map">') :]
    section = section[: section.index("</section>")]
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in section and 'aria-label="Communication map"' in section
    for zone in ("ctl", "sup", "ent"):
        assert f">{zone}</text></g>" in section  # each zone is a labelled group
    assert "modbus" in section and "line.pcap" in section
    assert '<a href="#communication-map">Communication map</a>' in html
    rows = section[section.index("Observed cross-zone communications") :]
    assert rows.count("<tr>") == 3  # header + two crossings
    assert "sup-ctl" in rows and 'class="gap">no conduit' in rows  # the laptop has no conduit

    data = tmp_path / "report.json"
    assert zonewarden("report", str(saved), "--format", "json", "-o", str(data)).returncode == 0
    document = json.loads(data.read_text())
    assert not list(Draft202012Validator(report_schema()).iter_errors(document))  # the published schema holds
    discovery = document["discovery"]
    assert {(c["source"], tuple(c["conduits"])) for c in discovery["cross_zone"]} == {(HMI, ("sup-ctl",)), (LAPTOP, ())}

    if CHROMIUM is not None:
        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
             "--dump-dom", out.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert 'aria-label="Communication map"' in dom.stdout
        assert dom.stdout.count("<circle") >= 4
        picture = tmp_path / "map.svg"  # the embedded picture alone, so a blank render cannot hide in the page
        picture.write_text(section[section.index("<svg") : section.index("</svg>") + 6])
        shot = tmp_path / "map.png"
        subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
             "--window-size=1000,700", f"--screenshot={shot}", picture.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert shot.exists() and not _png_is_blank(shot)


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda r: r["map"]["edges"][0].update(packets="many"), "'packets' and 'bytes' expected"),
        (lambda r: r["map"]["nodes"][0].update(roles=[1]), "'roles' (list)"),
        (lambda r: r["captures"][0].pop("sha256"), "'sha256' (64 hex digits) expected"),
        (lambda r: r.update(summary=None), "'summary' with"),
        (lambda r: r.update(created="yesterday"), "no valid 'created' time"),
        (lambda r: r.update(format="other"), "not a saved discovery run"),
    ],
)
def test_a_damaged_run_is_skipped_and_named_in_the_report(saved, tmp_path, damage, why):
    [path] = (saved / "discovery").iterdir()
    record = json.loads(path.read_text())
    damage(record)
    path.write_text(json.dumps(record))
    out = tmp_path / "report.json"
    result = zonewarden("report", str(saved), "--format", "json", "-o", str(out))
    assert result.returncode == 0 and "Traceback" not in result.stderr
    discovery = json.loads(out.read_text())["discovery"]
    assert discovery["map"] is None and discovery["note"]
    [problem] = discovery["problems"]
    assert problem.startswith(f"discovery/{path.name}: ") and why in problem


def test_report_without_a_saved_run_says_how_to_make_one(write_workspace, tmp_path):
    root = write_workspace(PLANT)
    out = tmp_path / "report.html"
    assert zonewarden("report", str(root), "-o", str(out)).returncode == 0
    html = out.read_text()
    section = html[html.index('<section id="communication-map">') :]
    assert "zonewarden discover CAPTURE... --workspace WORKSPACE --save" in section[: section.index("</section>")]


def test_demo_workspace_has_no_saved_run():
    assert not (REPO / "zonewarden" / "data" / "demo" / "discovery").exists()
