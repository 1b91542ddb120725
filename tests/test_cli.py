"""End to end: every command as a user runs it, through the real entry point."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import REPO

ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}


def zw(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zonewarden", *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=120
    )


def test_version():
    result = zw("--version")
    assert result.returncode == 0
    assert re.match(r"zonewarden \d+\.\d+\.\d+ \(catalog [0-9a-f]{12}\)", result.stdout)


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["catalog"],
        ["catalog", "list"],
        ["catalog", "show"],
        ["catalog", "levels"],
        ["catalog", "zcr"],
        ["validate"],
        ["schema"],
        ["init"],
        ["summary"],
        ["demo"],
    ],
)
def test_help_on_every_command(command):
    result = zw(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "zonewarden"
    assert script.exists()
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=ENV)
    assert result.returncode == 0


def test_catalog_list_json_has_every_sr_and_re_with_lowest_sl():
    result = zw("catalog", "list", "--standard", "62443-3-3", "--format", "json")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert len(items) == 100
    assert sum(1 for i in items if i["kind"] == "SR") == 51
    for item in items:
        assert set(item) >= {"id", "kind", "parent", "fr", "title", "sl", "description", "tags"}
        assert item["sl"] in (1, 2, 3, 4)
        assert (item["parent"] is None) == (item["kind"] == "SR")


def test_catalog_list_filters_and_formats():
    result = zw(
        "catalog",
        "list",
        "--standard",
        "62443-4-2",
        "--component-type",
        "network-device",
        "--sl",
        "1",
        "--format",
        "csv",
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and all("network-device" in r["component_types"] and r["sl"] == "1" for r in rows)
    assert any(r["kind"] == "NDR" for r in rows)
    table = zw("catalog", "list", "--fr", "FR5", "--standard", "62443-3-3")
    assert table.returncode == 0
    assert "Island mode" in table.stdout and "11 requirements" in table.stdout
    tagged = json.loads(zw("catalog", "list", "--tag", "remote-access", "--format", "json").stdout)
    assert "SR 1.13" in {i["id"] for i in tagged}


@pytest.mark.parametrize(
    "args",
    [
        ["--fr", "FR9"],
        ["--standard", "62443-9-9"],
        ["--component-type", "toaster"],
        ["--format", "xml"],
        ["--sl", "7"],
        ["--tag", "nonsense"],
    ],
)
def test_catalog_list_bad_filters_are_usage_errors(args):
    result = zw("catalog", "list", *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_catalog_show():
    result = zw("catalog", "show", "sr 5.2 re 1")
    assert result.returncode == 0
    assert "SR 5.2 RE 1: Deny by default, allow by exception" in result.stdout
    data = json.loads(zw("catalog", "show", "SR 1.1", "--format", "json").stdout)
    assert data["enhancements"] == ["SR 1.1 RE 1", "SR 1.1 RE 2", "SR 1.1 RE 3"]
    assert "Restricted data flow" in zw("catalog", "show", "RDF").stdout
    assert "ZCR 5.6" in zw("catalog", "show", "ZCR 5").stdout
    missing = zw("catalog", "show", "SR 9.9")
    assert missing.returncode == 1 and "no requirement" in missing.stderr


def test_catalog_show_with_overlay(tmp_path):
    overlay = tmp_path / "mine.yaml"
    overlay.write_text("SR 1.1: Text from my licensed copy.\n")
    result = zw("catalog", "show", "SR 1.1", "--overlay", str(overlay))
    assert "Text from my licensed copy." in result.stdout
    overlay.write_text("SR 1.1: [unclosed\n")
    bad = zw("catalog", "show", "SR 1.1", "--overlay", str(overlay))
    assert bad.returncode == 1 and "mine.yaml:2:1" in bad.stderr and "at line 1, column 9" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_catalog_levels_and_zcr():
    levels = zw("catalog", "levels")
    assert levels.returncode == 0 and "SL-T" in levels.stdout and "IACS-specific" in levels.stdout
    zcr = zw("catalog", "zcr")
    assert zcr.returncode == 0 and "ZCR 7" in zcr.stdout


def test_schema_validates_the_demo_and_starter(tmp_path):
    result = zw("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for plant in (REPO / "zonewarden/data/demo/plant.yaml", REPO / "zonewarden/data/starter/plant.yaml"):
        doc = yaml.safe_load(plant.read_text())
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert errors == [], plant
    out = tmp_path / "s.json"
    assert zw("schema", "-o", str(out)).returncode == 0
    assert json.loads(out.read_text()) == schema


def test_init_demo_then_validate_then_break_it(tmp_path):
    ws = tmp_path / "myplant"
    result = zw("init", str(ws), "--demo")
    assert result.returncode == 0, result.stderr
    assert (ws / "plant.yaml").exists() and (ws / "plant.schema.json").exists()
    ok = zw("validate", str(ws))
    assert ok.returncode == 0, ok.stdout
    assert "valid: 0 error(s)" in ok.stdout
    # Break references on purpose: each error names file:line.
    text = (ws / "plant.yaml").read_text()
    lines = text.splitlines()
    zone_line = next(i for i, line in enumerate(lines) if re.match(r"\s*zones: \[", line))
    lines[zone_line] = re.sub(r"\[([\w-]+),", r"[\1-typo,", lines[zone_line])
    (ws / "plant.yaml").write_text("\n".join(lines) + "\n")
    bad = zw("validate", str(ws), "--format", "json")
    assert bad.returncode == 1
    errors = json.loads(bad.stdout)["errors"]
    assert any(e["line"] == zone_line + 1 and e["file"] == "plant.yaml" and "typo" in e["message"] for e in errors)
    text_out = zw("validate", str(ws))
    assert f"plant.yaml:{zone_line + 1}:" in text_out.stdout


def test_init_starter_is_valid_and_refuses_to_overwrite(tmp_path):
    ws = tmp_path / "starter"
    assert zw("init", str(ws)).returncode == 0
    assert zw("validate", str(ws), "--strict").returncode == 0
    again = zw("init", str(ws))
    assert again.returncode == 2 and "not empty" in again.stderr
    assert zw("init", str(ws), "--force").returncode == 0


def test_validate_exit_codes(tmp_path):
    assert zw("validate", str(tmp_path / "nowhere")).returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert zw("validate", str(empty)).returncode == 2
    syntax = tmp_path / "syntax"
    syntax.mkdir()
    (syntax / "plant.yaml").write_text("site:\n  name: [x\nzones: []\n")
    result = zw("validate", str(syntax), "--format", "json")
    assert result.returncode == 1
    error = json.loads(result.stdout)["errors"][0]
    assert error["file"] == "plant.yaml" and error["line"] >= 2
    warn = tmp_path / "warn"
    warn.mkdir()
    (warn / "plant.yaml").write_text("site: {name: w}\nzones:\n  - id: a\n")
    assert zw("validate", str(warn)).returncode == 0
    assert zw("validate", str(warn), "--strict").returncode == 1
    assert zw("validate", str(warn), "--format", "yaml").returncode == 2


def test_summary_and_demo(tmp_path):
    demo = zw("demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    report = tmp_path / "zonewarden-demo-report.html"
    assert report.exists() and str(report) in demo.stdout.replace("\n", "")
    plant = yaml.safe_load((REPO / "zonewarden/data/demo/plant.yaml").read_text())
    for zone in plant["zones"]:
        assert zone["id"] in demo.stdout
    assert "Validation: valid" in demo.stdout
    assert "FR5" in demo.stdout and "RDF" in demo.stdout


def test_readme_opens_with_the_two_commands():
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_readme_targets_run_what_they_say():
    dry = subprocess.run(["make", "-n", "demo", "test"], cwd=REPO, capture_output=True, text=True)
    assert dry.returncode == 0
    assert "zonewarden demo" in dry.stdout and "pytest" in dry.stdout
    if (REPO / ".venv" / ".installed").exists():
        demo = subprocess.run(["make", "demo"], cwd=REPO, capture_output=True, text=True, env=ENV, timeout=300)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        written = REPO / "zonewarden-demo-report.html"
        assert written.exists()
        written.unlink()
        assert "Validation: valid" in demo.stdout


def test_no_traceback_on_internal_input_errors(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "plant.yaml").write_bytes(b"site:\n  name: \xff\xfe bad bytes\n")
    result = zw("summary", str(ws))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "plant.yaml" in result.stderr
