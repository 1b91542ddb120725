"""Excel questionnaires: export what SL-T needs, import with row-precise errors, lossless round trip."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
import yaml
from conftest import DATA

from zonewarden.catalog import load_catalog
from zonewarden.workspace.load import load_workspace

ENV = {**os.environ, "NO_COLOR": "1"}
CAT = load_catalog()


def zw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zonewarden", *args], capture_output=True, text=True, env=ENV, timeout=120
    )


@pytest.fixture
def ws_dir(tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(DATA / "assess_ws", target)
    return target


def rows(path: Path) -> dict[str, dict[str, object]]:
    book = openpyxl.load_workbook(path)
    sheet = book["Questionnaire"]
    header = [str(c.value).split(" (")[0] for c in sheet[6]]
    out = {}
    for row in sheet.iter_rows(min_row=7, values_only=True):
        out[row[0]] = dict(zip(header, row, strict=False))
    return out


def test_export_lists_exactly_what_slt_requires(ws_dir, tmp_path):
    out = tmp_path / "q.xlsx"
    result = zw("questionnaire", str(ws_dir), "--zone", "ctl", "-o", str(out))
    assert result.returncode == 0, result.stderr
    exported = rows(out)
    # ctl SL-T {3,3,3,1,3,3,4}
    target = dict(zip(["FR1", "FR2", "FR3", "FR4", "FR5", "FR6", "FR7"], [3, 3, 3, 1, 3, 3, 4], strict=True))
    expected = [r.id for r in CAT.requirements.values() if r.standard == "62443-3-3" and r.sl <= target[r.fr]]
    assert list(exported) == expected
    assert exported["SR 1.1"]["what it asks"] == CAT.requirements["SR 1.1"].description
    book = openpyxl.load_workbook(out)
    validations = book["Questionnaire"].data_validations.dataValidation
    assert any("implemented" in (v.formula1 or "") for v in validations)
    assert book["_zonewarden"].sheet_state == "hidden"


def test_round_trip_loses_nothing(ws_dir, tmp_path):
    out = tmp_path / "q.xlsx"
    before = load_workspace(ws_dir).assessments
    assert zw("questionnaire", str(ws_dir), "--zone", "far", "-o", str(out)).returncode == 0
    text_before = (ws_dir / "assessments/far.yaml").read_text()
    result = zw("questionnaire", "import", str(out), str(ws_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (ws_dir / "assessments/far.yaml").read_text() == text_before  # unchanged answers keep their form
    assert load_workspace(ws_dir).assessments == before


def test_filled_workbook_is_imported(ws_dir, tmp_path):
    out = tmp_path / "q.xlsx"
    assert zw("questionnaire", str(ws_dir), "--zone", "ctl", "-o", str(out)).returncode == 0
    book = openpyxl.load_workbook(out)
    sheet = book["Questionnaire"]
    by_id = {sheet.cell(r, 1).value: r for r in range(7, sheet.max_row + 1)}
    sheet.cell(by_id["SR 1.1"], 6, "implemented")
    sheet.cell(by_id["SR 1.1"], 7, "test")
    sheet.cell(by_id["SR 1.1"], 8, "evidence/login.txt | 2026-09-01 | 2027-09-01 | login test\nCHG-2026-0042")
    sheet.cell(by_id["SR 1.1"], 11, "M. Keller")
    sheet.cell(by_id["SR 1.1"], 12, dt.datetime(2026, 10, 2))
    sheet.cell(by_id["SR 1.6"], 6, "Not Applicable")
    sheet.cell(by_id["SR 1.6"], 9, "No wireless in the control zone")
    sheet.cell(by_id["SR 1.7"], 6, "compensated")
    sheet.cell(by_id["SR 1.7"], 10, "DPI firewall allows writes from the engineering station only")
    book.save(out)
    result = zw("questionnaire", "import", str(out), str(ws_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    data = yaml.safe_load((ws_dir / "assessments/ctl.yaml").read_text())
    assert data["zone"] == "ctl"
    sr11 = data["answers"]["SR 1.1"]
    assert sr11["status"] == "implemented" and sr11["method"] == "test" and sr11["assessor"] == "M. Keller"
    assert sr11["evidence"][0] == {
        "ref": "evidence/login.txt",
        "date": dt.date(2026, 9, 1),
        "expires": dt.date(2027, 9, 1),
        "description": "login test",
    }
    assert sr11["evidence"][1] == {"ref": "CHG-2026-0042"}
    assert data["answers"]["SR 1.6"]["status"] == "not-applicable"
    ws = load_workspace(ws_dir)
    assert [d for d in ws.check() if d.severity == "error"] == []
    # And export again shows the stored answers: a second round trip changes nothing.
    again = tmp_path / "again.xlsx"
    assert zw("questionnaire", str(ws_dir), "--zone", "ctl", "-o", str(again)).returncode == 0
    text = (ws_dir / "assessments/ctl.yaml").read_text()
    assert zw("questionnaire", "import", str(again), str(ws_dir)).returncode == 0
    assert (ws_dir / "assessments/ctl.yaml").read_text() == text


def test_bad_rows_are_reported_by_row_and_good_rows_kept(ws_dir, tmp_path):
    out = tmp_path / "q.xlsx"
    assert zw("questionnaire", str(ws_dir), "--zone", "far", "-o", str(out)).returncode == 0
    book = openpyxl.load_workbook(out)
    sheet = book["Questionnaire"]
    by_id = {sheet.cell(r, 1).value: r for r in range(7, sheet.max_row + 1)}
    sheet.cell(by_id["SR 1.1"], 6, "implmented")  # typo
    sheet.cell(by_id["SR 1.4"], 6, "planned")  # good
    sheet.cell(by_id["SR 1.5"], 8, "evidence/x.txt | not-a-date")  # bad evidence date
    sheet.cell(by_id["SR 1.5"], 6, "implemented")
    sheet.cell(by_id["SR 1.10"], 13, "a note without a status")
    book.save(out)
    result = zw("questionnaire", "import", str(out), str(ws_dir))
    assert result.returncode == 1
    row = by_id["SR 1.1"]
    assert f"q.xlsx row {row}, column F: SR 1.1: 'implmented' is not a status (did you mean 'implemented'?)" in (
        result.stderr
    )
    assert f"row {by_id['SR 1.5']}, column H" in result.stderr and "not a date" in result.stderr
    assert f"row {by_id['SR 1.10']}, column F" in result.stderr
    data = yaml.safe_load((ws_dir / "assessments/far.yaml").read_text())
    assert data["answers"]["SR 1.4"] == {"status": "planned"}
    assert data["answers"]["SR 1.1"]["status"] == "implemented"  # the previous answer survives the typo


def test_import_keeps_comments_and_other_answers(ws_dir, tmp_path):
    path = ws_dir / "assessments/far.yaml"
    path.write_text(
        "# reviewed with the plant manager\n"
        + path.read_text().replace(
            "  SR 1.3: implemented", "  SR 1.3: implemented   # interview only\n  SR 7.7: planned"
        )
    )
    out = tmp_path / "q.xlsx"
    assert zw("questionnaire", str(ws_dir), "--zone", "far", "-o", str(out)).returncode == 0
    book = openpyxl.load_workbook(out)
    sheet = book["Questionnaire"]
    by_id = {sheet.cell(r, 1).value: r for r in range(7, sheet.max_row + 1)}
    sheet.cell(by_id["SR 1.4"], 6, "implemented")
    book.save(out)
    assert zw("questionnaire", "import", str(out), str(ws_dir)).returncode == 0
    text = path.read_text()
    assert "# reviewed with the plant manager" in text and "# interview only" in text
    data = yaml.safe_load(text)
    assert data["answers"]["SR 7.7"] == "planned" and data["answers"]["SR 1.4"] == {"status": "implemented"}


def test_not_a_questionnaire(ws_dir, tmp_path):
    junk = tmp_path / "junk.xlsx"
    openpyxl.Workbook().save(junk)
    result = zw("questionnaire", "import", str(junk), str(ws_dir))
    assert result.returncode == 1 and "not a ZoneWarden questionnaire" in result.stderr
    text = tmp_path / "text.xlsx"
    text.write_text("hello")
    result = zw("questionnaire", "import", str(text), str(ws_dir))
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_usage_errors(ws_dir):
    assert zw("questionnaire", str(ws_dir)).returncode == 2
    assert zw("questionnaire", str(ws_dir), "--zone", "nowhere").returncode == 2
    result = zw("questionnaire", str(ws_dir), "--zone", "ra")
    assert result.returncode == 1 and "no SL-T" in result.stderr
