"""The JSON and XLSX report formats: the published schema, and golden files of the demo.

Goldens live in tests/golden/. After an intended change, rewrite them with

    ZONEWARDEN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_report_formats.py

review the diff and commit it. Rewriting is refused when CI is set.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from _golden import UPDATE_VAR, check_golden
from conftest import REPO
from openpyxl import load_workbook

from zonewarden.assess.engine import assess
from zonewarden.catalog import load_catalog
from zonewarden.report import data as report_data
from zonewarden.report.data import build_report
from zonewarden.report.schema import SCHEMA_ID, report_schema, schema_text, write_schema
from zonewarden.report.xlsx import BACKLOG_STATUSES, write_xlsx
from zonewarden.workspace.load import load_workspace

DEMO = REPO / "zonewarden" / "data" / "demo"
AS_OF = dt.date(2026, 11, 26)
SCHEMA_FILE = REPO / "docs" / "schema" / "report.schema.json"
SHEETS = [
    "Summary",
    "Scorecard",
    "Zones",
    "Conduits",
    "Assets",
    "Gaps",
    "Backlog",
    "Risk",
    "Capability gaps",
    "Cross-zone traffic",
]


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    ws = load_workspace(DEMO)
    catalog = load_catalog()
    result = assess(ws.plant, ws.risk, [a for _, a in ws.assessments], catalog, AS_OF)
    return build_report(ws, result, catalog)


@pytest.fixture(scope="module")
def workbook_path(report: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xlsx") / "demo-report.xlsx"
    write_xlsx(report, path)
    return path


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        report_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


# --- JSON schema ---------------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema():
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    assert schema["properties"]["format"] == {"const": report_data.REPORT_FORMAT}


def test_committed_schema_file_is_generated_by_report_schema():
    assert SCHEMA_FILE.exists(), "docs/schema/report.schema.json is missing: run write_schema and commit it"
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == report_schema(), (
        "docs/schema/report.schema.json is stale: regenerate it with "
        "`.venv/bin/python -c 'from zonewarden.report.schema import write_schema; "
        'write_schema("docs/schema/report.schema.json")\'` and commit it'
    )
    assert SCHEMA_FILE.read_bytes() == schema_text().encode("utf-8")


def test_write_schema(tmp_path):
    out = tmp_path / "nested" / "report.schema.json"
    write_schema(out)
    assert json.loads(out.read_text(encoding="utf-8")) == report_schema()


def test_demo_report_validates(report):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(report)]
    assert errors == []
    assert json.loads(json.dumps(report)) == report  # JSON-ready: no tuples, dates or other Python-only values


def _zone(r: dict[str, Any]) -> dict[str, Any]:
    return r["zones"][0]


MUTATIONS = {
    "missing top-level key": lambda r: r.pop("backlog"),
    "unknown top-level key": lambda r: r.update(extra=1),
    "wrong format": lambda r: r.update(format="zonewarden-report-2"),
    "SL-T above 4": lambda r: _zone(r)["sl_target"].update(FR1=5),
    "SL-T not an integer": lambda r: _zone(r)["sl_target"].update(FR2="2"),
    "SL-T missing an FR": lambda r: _zone(r)["sl_target"].pop("FR7"),
    "SL-T unknown FR": lambda r: _zone(r)["sl_target"].update(FR8=1),
    "SL-A null": lambda r: _zone(r)["sl_achieved"].update(FR1=None),
    "compliance above 1": lambda r: _zone(r).update(compliance=1.5),
    "gap not a requirement id": lambda r: _zone(r)["gaps"].append("1.1"),
    "unknown zone key": lambda r: _zone(r).update(colour="red"),
    "backlog effort": lambda r: r["backlog"][0].update(effort="XL"),
    "backlog rank 0": lambda r: r["backlog"][0].update(rank=0),
    "scenario without risk": lambda r: r["scenarios"][0].pop("risk"),
    "as_of not a date": lambda r: r.update(as_of="26/11/2026"),
    "asset without zone key": lambda r: r["plant"]["assets"][0].pop("zone"),
}


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_schema_rejects_broken_reports(report, mutate):
    broken = copy.deepcopy(report)
    mutate(broken)
    assert not _validator().is_valid(broken)


def test_schema_allows_a_zone_without_slt(report):
    changed = copy.deepcopy(report)
    _zone(changed).update(sl_target=None, compliance=None)
    _zone(changed)["sl_target_source"]["FR1"] = "none"
    assert _validator().is_valid(changed)


# --- JSON golden ---------------------------------------------------------------------------------


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def test_demo_report_json_matches_golden(report):
    check_golden("demo-report.json", report_json(report))


def test_report_does_not_read_the_clock(report):
    # report.data holds no clock: every date comes from the result's as_of, so building the
    # document again (later, in another process) must give the same bytes.
    ws = load_workspace(DEMO)
    catalog = load_catalog()
    result = assess(ws.plant, ws.risk, [a for _, a in ws.assessments], catalog, AS_OF)
    assert report_json(build_report(ws, result, catalog)) == report_json(report)


# --- golden helper -------------------------------------------------------------------------------


def test_golden_update_is_refused_in_ci(tmp_path, monkeypatch):
    monkeypatch.setenv(UPDATE_VAR, "1")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="never rewritten in CI"):
        check_golden("x.json", "{}\n", tmp_path)
    assert not (tmp_path / "x.json").exists()


def test_golden_update_rewrites_and_compare_reports_a_diff(tmp_path, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv(UPDATE_VAR, "1")
    check_golden("x.json", "a\n", tmp_path)
    assert (tmp_path / "x.json").read_bytes() == b"a\n"
    monkeypatch.delenv(UPDATE_VAR)
    check_golden("x.json", "a\n", tmp_path)
    with pytest.raises(pytest.fail.Exception, match=r"(?s)differs from its golden.*\+b"):
        check_golden("x.json", "b\n", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="missing"):
        check_golden("y.json", "a\n", tmp_path)


# --- XLSX ------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def workbook_contents(path: Path) -> dict[str, Any]:
    """What the golden holds: per sheet its cell values as text, freeze panes, auto-filter,
    conditional formatting and data validation; plus the document properties."""
    wb = load_workbook(path)
    props = wb.properties
    out: dict[str, Any] = {
        "properties": {
            "creator": props.creator,
            "title": props.title,
            "created": _text(props.created),
            "modified": _text(props.modified),
            "lastPrinted": _text(props.lastPrinted),
        },
        "sheets": {},
    }
    for ws in wb.worksheets:
        out["sheets"][ws.title] = {
            "freeze_panes": ws.freeze_panes,
            "auto_filter": ws.auto_filter.ref,
            "conditional_formatting": [
                [str(cf.sqref), rule.formula, rule.dxf.fill.fgColor.rgb if rule.dxf and rule.dxf.fill else None]
                for cf in ws.conditional_formatting
                for rule in cf.rules
            ],
            "data_validation": [
                [str(dv.sqref), dv.type, dv.formula1, dv.allow_blank] for dv in ws.data_validations.dataValidation
            ],
            "rows": [[_text(v) for v in row] for row in ws.iter_rows(values_only=True)],
        }
    return out


def test_demo_xlsx_contents_match_golden(workbook_path):
    contents = workbook_contents(workbook_path)
    assert list(contents["sheets"]) == SHEETS
    check_golden("demo-report.xlsx.json", json.dumps(contents, indent=2, ensure_ascii=False) + "\n")


def test_xlsx_is_deterministic_and_dated_from_as_of(report, workbook_path, tmp_path):
    again = tmp_path / "again.xlsx"
    write_xlsx(report, again)
    assert again.read_bytes() == workbook_path.read_bytes()
    later = dict(report, as_of="2027-03-01")
    write_xlsx(later, tmp_path / "later.xlsx")
    props = load_workbook(tmp_path / "later.xlsx").properties
    assert props.created == props.modified == dt.datetime(2027, 3, 1)
    assert props.lastPrinted is None


def test_every_data_sheet_has_a_styled_frozen_filtered_header(workbook_path):
    wb = load_workbook(workbook_path)
    for name in SHEETS[1:]:
        ws = wb[name]
        assert ws.freeze_panes is not None and ws.freeze_panes[-1] == "2", name
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{max(ws.max_row, 1)}", name
        for cell in ws[1]:
            assert cell.font.bold and cell.fill.fill_type == "solid", (name, cell.coordinate)
        assert all(ws.column_dimensions[c.column_letter].width for c in ws[1]), name
        assert all(c.alignment.wrap_text for c in ws[2]), name


def _rules(ws: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for cf in ws.conditional_formatting:
        out.setdefault(str(cf.sqref), []).extend(cf.rules)
    return out


def test_scorecard_colours_achieved_levels_against_targets(workbook_path):
    ws = load_workbook(workbook_path)["Scorecard"]
    rules = _rules(ws)
    headers = {c.value: c.column_letter for c in ws[1]}
    for fr in (f"FR{n}" for n in range(1, 8)):
        a, t = headers[f"{fr} A"], headers[f"{fr} T"]
        colours = {r.dxf.fill.fgColor.rgb[-6:] for r in rules[f"{a}2:{a}{ws.max_row}"]}
        assert colours == {"C6EFCE", "FFEB9C", "FFC7CE"}, fr
        assert any(f"{a}2>={t}2" in r.formula[0] for r in rules[f"{a}2:{a}{ws.max_row}"])


def test_risk_sheet_uses_the_risk_level_colours(report, workbook_path):
    ws = load_workbook(workbook_path)["Risk"]
    rules = _rules(ws)
    headers = {c.value: c.column_letter for c in ws[1]}
    wanted = {lv["colour"].lstrip("#").upper() for lv in report["risk"]["levels"]}
    for column in ("risk", "residual risk"):
        letter = headers[column]
        assert {r.dxf.fill.fgColor.rgb[-6:] for r in rules[f"{letter}2:{letter}{ws.max_row}"]} == wanted


def test_backlog_has_an_empty_status_column_with_a_drop_down(report, workbook_path):
    ws = load_workbook(workbook_path)["Backlog"]
    headers = {c.value: c.column_letter for c in ws[1]}
    letter = headers["status"]
    area = f"{letter}2:{letter}{len(report['backlog']) + 1}"
    validations = [dv for dv in ws.data_validations.dataValidation if str(dv.sqref) == area]
    assert len(validations) == 1
    assert validations[0].type == "list"
    assert validations[0].formula1 == '"' + ",".join(BACKLOG_STATUSES) + '"'
    assert all(ws[f"{letter}{row}"].value is None for row in range(2, ws.max_row + 1))


def test_xlsx_of_a_minimal_workspace_never_writes_formulas(write_workspace, tmp_path):
    root = write_workspace("site: {name: Mini}\nzones:\n  - id: a\n    description: '=HYPERLINK(\"http://x\")'\n")
    ws = load_workspace(root)
    catalog = load_catalog()
    report = build_report(ws, assess(ws.plant, ws.risk, [], catalog, AS_OF), catalog)
    assert _validator().is_valid(report)
    write_xlsx(report, tmp_path / "mini.xlsx")
    wb = load_workbook(tmp_path / "mini.xlsx")
    assert wb.sheetnames == SHEETS
    assert wb["Backlog"].auto_filter.ref == "A1:O1"
    assert wb["Scorecard"]["X2"].value == "no SL-T"
    description = wb["Zones"]["F2"]
    assert description.value == '=HYPERLINK("http://x")' and description.data_type == "s"
