"""Workshop questionnaires: an Excel workbook of exactly the requirements a zone's SL-T needs,
and its import back into assessments/*.yaml.

The workbook is for people who have never seen ZoneWarden: one row per SR/RE
with our plain description, drop-downs for status and method, and a hidden
sheet that ties it to the workspace. Import reports every bad cell by row and
column, stores every good row, and keeps the rest of the assessment file
(including its comments) as it was.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from zonewarden.assess.model import METHODS, STATUSES, Answer, Evidence
from zonewarden.catalog import Catalog, Requirement, canonical_id
from zonewarden.errors import InputError, Location
from zonewarden.model.diagnostics import did_you_mean
from zonewarden.model.sl import FR_ABBREV, SLVector

FORMAT = "zonewarden-questionnaire-1"
SHEET = "Questionnaire"
META = "_zonewarden"
COLUMNS = (
    ("id", 14),
    ("FR", 9),
    ("lowest SL", 9),
    ("requirement", 34),
    ("what it asks", 60),
    ("status", 16),
    ("method", 11),
    ("evidence (one per line: reference | effective date | expiry | description)", 48),
    ("justification (if not-applicable)", 30),
    ("compensating countermeasure (if compensated)", 30),
    ("assessor", 16),
    ("date", 12),
    ("note", 30),
)
HEADER_ROW = 6
STATUS_HELP = {
    "implemented": "in place and working; cite evidence",
    "partial": "in place for part of the zone or part of the requirement",
    "planned": "funded or scheduled, not yet in place",
    "not-implemented": "not in place",
    "not-applicable": "does not apply here; say why in the justification column",
    "compensated": "met by another countermeasure; describe it in its column",
}


def _col(name: str) -> int:
    return next(i for i, (title, _) in enumerate(COLUMNS, start=1) if title.split(" (")[0] == name)


def format_evidence(evidence: list[Evidence]) -> str:
    lines = []
    for e in evidence:
        parts = [
            e.ref,
            e.date.isoformat() if e.date else "",
            e.expires.isoformat() if e.expires else "",
            e.description or "",
        ]
        while parts and not parts[-1]:
            parts.pop()
        lines.append(" | ".join(parts))
    return "\n".join(lines)


def parse_evidence(text: str) -> list[dict[str, Any]]:
    """Parse evidence lines; raises ValueError naming the bad line."""
    out = []
    for n, line in enumerate(str(text).splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) > 4:
            raise ValueError(f"evidence line {n}: at most 4 parts (reference | date | expiry | description)")
        item: dict[str, Any] = {"ref": parts[0]}
        for key, value in zip(("date", "expires"), parts[1:3], strict=False):
            if value:
                try:
                    item[key] = dt.date.fromisoformat(value)
                except ValueError:
                    raise ValueError(f"evidence line {n}: '{value}' is not a date (YYYY-MM-DD)") from None
        if len(parts) == 4 and parts[3]:
            item["description"] = parts[3]
        out.append(item)
    return out


def export_questionnaire(
    path: Path,
    kind: str,
    ident: str,
    name: str,
    target: SLVector,
    requirements: list[Requirement],
    answers: dict[str, Answer],
    catalog: Catalog,
    rationale: dict[str, str] | None = None,
) -> int:
    """Write the workbook; return the number of requirement rows."""
    from openpyxl import Workbook
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws["A1"] = f"IEC 62443-3-3 gap assessment: {kind} {name} ({ident})"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = "Target security level (SL-T): " + ", ".join(f"{fr} {FR_ABBREV[fr]} {lvl}" for fr, lvl in target.items())
    ws["A3"] = (
        "For each requirement choose a status, cite evidence (file, link or ticket), and fill the "
        "justification or countermeasure where the status needs one. Leave a row blank if unknown."
    )
    ws["A4"] = "Statuses: " + "; ".join(f"{k}: {v}" for k, v in STATUS_HELP.items())
    for cell in ("A3", "A4"):
        ws[cell].alignment = Alignment(wrap_text=False)
    header_fill = PatternFill("solid", fgColor="1F3864")
    for i, (title, width) in enumerate(COLUMNS, start=1):
        cell = ws.cell(HEADER_ROW, i, title)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[cell.column_letter].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    row = HEADER_ROW
    for req in requirements:
        row += 1
        answer = answers.get(req.id)
        values: list[Any] = [req.id, f"{req.fr} {FR_ABBREV[req.fr]}", req.sl, req.title, req.description]
        if answer is None:
            values += [None] * 8
        else:
            values += [
                answer.status,
                answer.method,
                format_evidence(answer.evidence) or None,
                answer.justification,
                answer.compensation,
                answer.assessor,
                answer.date,
                answer.note,
            ]
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row, col, value)
            cell.alignment = wrap
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
        if req.kind == "SR":
            ws.cell(row, 1).font = Font(bold=True)
    last = row
    status_col = ws.cell(HEADER_ROW, _col("status")).column_letter
    method_col = ws.cell(HEADER_ROW, _col("method")).column_letter
    statuses = DataValidation(
        type="list",
        formula1='"' + ",".join(STATUSES) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Status",
        error="Pick a status from the list",
    )
    methods = DataValidation(type="list", formula1='"' + ",".join(METHODS) + '"', allow_blank=True)
    ws.add_data_validation(statuses)
    ws.add_data_validation(methods)
    if last > HEADER_ROW:
        statuses.add(f"{status_col}{HEADER_ROW + 1}:{status_col}{last}")
        methods.add(f"{method_col}{HEADER_ROW + 1}:{method_col}{last}")
        colours = {
            "implemented": "C6EFCE",
            "compensated": "C6EFCE",
            "not-applicable": "EDEDED",
            "partial": "FFEB9C",
            "planned": "FFEB9C",
            "not-implemented": "FFC7CE",
        }
        area = f"{status_col}{HEADER_ROW + 1}:{status_col}{last}"
        for status, colour in colours.items():
            ws.conditional_formatting.add(
                area,
                FormulaRule(
                    formula=[f'{status_col}{HEADER_ROW + 1}="{status}"'], fill=PatternFill("solid", fgColor=colour)
                ),
            )
        ws.auto_filter.ref = f"A{HEADER_ROW}:{ws.cell(HEADER_ROW, len(COLUMNS)).column_letter}{last}"
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 3)
    if rationale:
        sheet = wb.create_sheet("Why this SL-T")
        sheet.column_dimensions["A"].width = 140
        for i, text in enumerate(rationale.values(), start=1):
            sheet.cell(i, 1, text).alignment = Alignment(wrap_text=True)
    meta = wb.create_sheet(META)
    for i, (key, value) in enumerate(
        (
            ("format", FORMAT),
            ("kind", kind),
            ("target", ident),
            ("catalog", catalog.version),
            ("header_row", HEADER_ROW),
            ("exported", dt.date.today().isoformat()),
        ),
        start=1,
    ):
        meta.cell(i, 1, key)
        meta.cell(i, 2, value)
    meta.sheet_state = "hidden"
    wb.save(path)
    return last - HEADER_ROW


@dataclass
class ImportResult:
    kind: str
    target: str
    answers: dict[str, Answer] = field(default_factory=dict)
    errors: list[InputError] = field(default_factory=list)
    blank: int = 0


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip())


def _at(name: str, line: int, cols: dict[str, int], column: str) -> Location:
    """A cell's place: ``q.xlsx:48:6`` (row 48, column F)."""
    return Location(name, line, cols[column] + 1)


def cell_name(location: Location) -> str:
    """'row 48, column F' for a questionnaire location."""
    from openpyxl.utils import get_column_letter

    return f"row {location.line}, column {get_column_letter(location.column)}"


def read_questionnaire(path: Path, requirement_ids: set[str]) -> ImportResult:
    """Read a filled workbook. Raises InputError if it is not a questionnaire; row problems are collected."""
    from openpyxl import load_workbook

    name = path.name
    try:
        wb = load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad file
        raise InputError(f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})", Location(name)) from None
    if META not in wb.sheetnames or SHEET not in wb.sheetnames:
        raise InputError(f"not a ZoneWarden questionnaire (no '{SHEET}' and '{META}' sheets)", Location(name))
    meta = {str(r[0]): r[1] for r in wb[META].iter_rows(values_only=True) if r and r[0]}
    if meta.get("format") != FORMAT:
        raise InputError(f"unknown questionnaire format {meta.get('format')!r}", Location(name))
    result = ImportResult(str(meta["kind"]), str(meta["target"]))
    ws = wb[SHEET]
    header = int(meta.get("header_row") or HEADER_ROW)
    titles = [str(c.value or "").split(" (")[0] for c in ws[header]]
    expected = [t.split(" (")[0] for t, _ in COLUMNS]
    if titles[: len(expected)] != expected:
        raise InputError("the header row was changed; columns must stay as exported", Location(f"{name}", header))
    cols = {t: i for i, t in enumerate(expected)}
    seen: set[str] = set()
    for row in ws.iter_rows(min_row=header + 1):
        cells = [c.value for c in row]
        if not any(v not in (None, "") for v in cells):
            continue
        line = row[0].row

        rid = canonical_id(str(cells[cols["id"]] or ""))
        if rid is None or rid not in requirement_ids:
            result.errors.append(
                InputError(f"'{cells[cols['id']]}' is not a 62443-3-3 requirement id", _at(name, line, cols, "id"))
            )
            continue
        if rid in seen:
            result.errors.append(InputError(f"{rid} appears twice", _at(name, line, cols, "id")))
            continue
        seen.add(rid)
        values = {key: cells[cols[key]] if cols[key] < len(cells) else None for key in expected}
        status = _text(values["status"])
        fields = ("method", "evidence", "justification", "compensating countermeasure", "assessor", "date", "note")
        if status is None:
            if any(_text(values[k]) for k in fields):
                result.errors.append(
                    InputError(f"{rid}: the row has content but no status", _at(name, line, cols, "status"))
                )
            else:
                result.blank += 1
            continue
        slug = re.sub(r"[\s_]+", "-", status.lower())
        if slug not in STATUSES:
            result.errors.append(
                InputError(
                    f"{rid}: '{status}' is not a status{did_you_mean(slug, STATUSES)} (use {', '.join(STATUSES)})",
                    _at(name, line, cols, "status"),
                )
            )
            continue
        method = _text(values["method"])
        if method is not None and method.lower() not in METHODS:
            result.errors.append(
                InputError(
                    f"{rid}: '{method}' is not a method{did_you_mean(method.lower(), METHODS)} "
                    "(use examine, interview, test)",
                    _at(name, line, cols, "method"),
                )
            )
            continue
        try:
            evidence = parse_evidence(values["evidence"] or "")
        except ValueError as exc:
            result.errors.append(InputError(f"{rid}: {exc}", _at(name, line, cols, "evidence")))
            continue
        try:
            answered_on = _date(values["date"])
        except ValueError:
            result.errors.append(
                InputError(f"{rid}: '{values['date']}' is not a date (YYYY-MM-DD)", _at(name, line, cols, "date"))
            )
            continue
        data = {
            "status": slug,
            "method": method.lower() if method else None,
            "evidence": evidence,
            "justification": _text(values["justification"]),
            "compensation": _text(values["compensating countermeasure"]),
            "assessor": _text(values["assessor"]),
            "date": answered_on,
            "note": _text(values["note"]),
        }
        try:
            result.answers[rid] = Answer.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            result.errors.append(InputError(f"{rid}: {first['msg']}", _at(name, line, cols, "evidence")))
    return result


def answer_yaml(answer: Answer) -> dict[str, Any]:
    """An answer as it is written in an assessment file (no empty keys, dates as dates)."""
    data = answer.model_dump(exclude_none=True, exclude_defaults=True)
    if "status" not in data:
        data = {"status": answer.status, **data}
    if answer.evidence:
        data["evidence"] = [e.model_dump(exclude_none=True) for e in answer.evidence]
    return data


def write_answers(file: Path, kind: str, ident: str, answers: dict[str, Answer], order: list[str]) -> None:
    """Merge ``answers`` into an assessment file, keeping its other answers, keys and comments."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    if file.exists():
        doc = yaml.load(file.read_text(encoding="utf-8")) or CommentedMap()
    else:
        doc = CommentedMap()
        doc[kind] = ident
    existing = doc.get("answers")
    if existing is None:
        existing = CommentedMap()
        doc["answers"] = existing
    by_canonical = {canonical_id(str(k)): k for k in existing}
    for rid in order:
        if rid not in answers:
            continue
        new = answer_yaml(answers[rid])
        key = by_canonical.get(rid, rid)
        if key in existing and _plain(existing[key]) == new:
            continue  # unchanged: keep the original formatting and comments
        existing[key] = new
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("w", encoding="utf-8") as handle:
        yaml.dump(doc, handle)


def _plain(value: Any) -> Any:
    """The value as an Answer would write it, to tell real changes from formatting."""
    try:
        return answer_yaml(Answer.model_validate({"status": value} if isinstance(value, str) else dict(value)))
    except (ValidationError, TypeError, ValueError):
        return None
