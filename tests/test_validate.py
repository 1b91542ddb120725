"""Validation: every error and warning kind, reported at its file:line."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import DATA, expected_marks

from zonewarden.workspace.load import load_workspace


def test_every_kind_is_reported_at_its_line(write_workspace):
    text = (DATA / "broken_plant.yaml").read_text()
    root = write_workspace(text)
    found = {(d.line, d.code) for d in load_workspace(root).check()}
    expected = expected_marks(text)
    assert expected - found == set(), "missing diagnostics"
    assert found - expected == set(), "unexpected diagnostics"


def test_every_kind_has_file_object_and_message(write_workspace):
    root = write_workspace((DATA / "broken_plant.yaml").read_text())
    for d in load_workspace(root).check():
        assert d.file == "plant.yaml"
        assert d.line > 0 and d.column > 0
        assert d.message
        assert d.object, d


def test_messages_are_helpful(write_workspace):
    root = write_workspace((DATA / "broken_plant.yaml").read_text())
    messages = [d.message for d in load_workspace(root).check()]
    joined = "\n".join(messages)
    assert "unknown key 'subnetz' (did you mean 'subnets'?)" in joined
    assert "protocol 'modbuss' is not known (did you mean 'modbus'?)" in joined
    assert "subnet 10.0.5.0/24 overlaps 10.0.0.0/16 of zone 'enterprise'" in joined
    assert "address 192.168.1.10 is also used by asset 'plc-1'" in joined
    assert "across the IT/OT boundary without a DMZ" in joined


def test_salvage_keeps_the_good_parts(write_workspace):
    """A zone with one bad key still exists: references to it do not fail."""
    root = write_workspace((DATA / "broken_plant.yaml").read_text())
    ws = load_workspace(root)
    assert "bad-sl" in {z.id for z in ws.plant.zones}
    assert "weird" in {a.id for a in ws.plant.assets}
    bad = next(z for z in ws.plant.zones if z.id == "bad-sl")
    assert bad.sl_t is None


def test_cli_json_and_exit_code():
    result = subprocess.run(
        [sys.executable, "-m", "zonewarden", "validate", str(DATA / "broken_plant.yaml"), "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["errors"] and data["warnings"]
    for item in data["errors"] + data["warnings"]:
        assert set(item) >= {"file", "line", "column", "object", "message"}


def test_program_files_every_kind_at_its_line():
    """risk.yaml and assessments/*.yaml problems, each at the line marked in the fixture."""
    root = DATA / "broken_program"
    expected = set()
    for path in sorted(root.rglob("*.yaml")):
        rel = str(path.relative_to(root))
        expected |= {(rel, line, code) for line, code in expected_marks(path.read_text())}
    found = {(d.file, d.line, d.code) for d in load_workspace(root).check()}
    assert expected - found == set(), "missing diagnostics"
    assert found - expected == set(), "unexpected diagnostics"


def test_program_good_parts_survive():
    ws = load_workspace(DATA / "broken_program")
    assert [s.id for s in ws.risk.scenarios] == ["S1", "S1"]  # both S1 load; the duplicate is reported
    ops = next(a for rel, a in ws.assessments if rel == "assessments/ops.yaml")
    assert {"SR 1.1", "SR 1.2", "SR 1.4", "SR 1.5"} <= set(ops.answers)  # 'sr 1.2' canonicalized
    assert ws.risk.tolerable == "medium"  # a bad scale key falls back to the default
