"""The report as an Excel workbook: the remediation plan a plant manager works from.

Rendered from the report document (`zonewarden.report.data.build_report`) alone.
One sheet per subject, each a filterable table with a frozen header; the
Scorecard and Risk sheets colour themselves with conditional formatting, so
the colours follow if someone edits a level. The Backlog sheet has empty
status, owner, due and notes columns for the people doing the work.

The file is deterministic: document properties and zip entry times come from
``report["as_of"]``, never from the clock, so the same report gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from zonewarden.model.protocols import lookup_protocol

HEADER_FILL = PatternFill("solid", fgColor="1F3864")
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_ALIGN = Alignment(wrap_text=True, vertical="top")
CELL_ALIGN = Alignment(wrap_text=True, vertical="top")
GREEN, AMBER, RED = "C6EFCE", "FFEB9C", "FFC7CE"
BACKLOG_STATUSES = ("open", "in progress", "done")
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0.0%"

Columns = Sequence[tuple[str, float]]
Row = list[Any]


def write_xlsx(report: dict[str, Any], path: Path) -> None:
    """Write the report as an .xlsx workbook (the remediation plan)."""
    wb = Workbook()
    levels = {lv["id"]: lv for lv in report["risk"]["levels"]}
    _summary(wb.active, report)
    _scorecard(wb, report, levels)
    _zones(wb, report)
    _conduits(wb, report)
    _assets(wb, report)
    _gaps(wb, report)
    _backlog(wb, report)
    _risk(wb, report, levels)
    _capability_gaps(wb, report)
    _cross_zone(wb, report)
    as_of = dt.date.fromisoformat(report["as_of"])
    stamp = dt.datetime(as_of.year, as_of.month, as_of.day)
    props = wb.properties
    props.creator = f"ZoneWarden {report['tool_version']}"
    props.title = f"IEC 62443 remediation plan: {report['site'].get('name', '')}"
    props.created = props.modified = stamp
    props.lastPrinted = None
    props.lastModifiedBy = None
    _save(wb, Path(path), stamp)


def _save(wb: Workbook, path: Path, stamp: dt.datetime) -> None:
    """Save without openpyxl's clock reads: fixed 'modified' property and fixed zip entry times."""
    from openpyxl.writer.excel import ExcelWriter

    buffer = io.BytesIO()
    archive = zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    ExcelWriter(wb, archive).save()  # closes the archive; save_workbook would set modified = now
    when = (max(stamp.year, 1980), stamp.month, stamp.day, 0, 0, 0)
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=when)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            out.writestr(entry, src.read(info.filename))


# --- helpers -----------------------------------------------------------------------------------


def _columns(spec: str) -> list[tuple[str, float]]:
    """'id 16, Purdue level 8' -> [('id', 16.0), ('Purdue level', 8.0)]: header and column width."""
    return [(name, float(width)) for name, _, width in (part.strip().rpartition(" ") for part in spec.split(","))]


def _put(ws: Worksheet, row: int, col: int, value: Any) -> Cell:
    """Write a value as data: text is never a formula (no '=...' injection) and loses XML-illegal characters."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = ws.cell(row, col, value)
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"
    if isinstance(value, dt.date):
        cell.number_format = DATE_FORMAT
    return cell


def _table(wb: Workbook, title: str, columns: Columns, rows: Iterable[Row], freeze: str = "A2") -> Worksheet:
    """A data sheet: bold filled header, frozen header row, auto-filter, widths, wrapped cells."""
    ws = wb.create_sheet(title)
    for col, (name, width) in enumerate(columns, start=1):
        cell = _put(ws, 1, col, name)
        cell.font, cell.fill, cell.alignment = HEADER_FONT, HEADER_FILL, HEADER_ALIGN
        ws.column_dimensions[get_column_letter(col)].width = width
    last = 1
    for last, row in enumerate(rows, start=2):
        for col, value in enumerate(row, start=1):
            _put(ws, last, col, value).alignment = CELL_ALIGN
    ws.freeze_panes = freeze
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{last}"
    return ws


def _col_index(ws: Worksheet, name: str) -> int:
    """The number of the header column called ``name``."""
    return next(int(c.column) for c in ws[1] if c.value == name)


def _column(ws: Worksheet, name: str) -> str:
    return get_column_letter(_col_index(ws, name))


def _area(ws: Worksheet, name: str) -> str:
    letter = _column(ws, name)
    return f"{letter}2:{letter}{max(ws.max_row, 2)}"


def _fill_rule(formula: str, colour: str, text: str | None = None) -> FormulaRule:
    fill = PatternFill("solid", start_color=colour, end_color=colour)
    return FormulaRule(formula=[formula], fill=fill, font=Font(color=text) if text else None)


def _text_colour(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return "000000" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "FFFFFF"


def _colour_levels(ws: Worksheet, column: str, levels: dict[str, dict[str, Any]]) -> None:
    """Colour a column of risk level names with the risk model's colours."""
    area, letter = _area(ws, column), _column(ws, column)
    for level in levels.values():
        colour = level["colour"].lstrip("#").upper()
        name = str(level["name"]).replace('"', '""')
        ws.conditional_formatting.add(area, _fill_rule(f'{letter}2="{name}"', colour, _text_colour(colour)))


def _yes_no(ws: Worksheet, column: str, good: str = "yes", bad: str = "no") -> None:
    area, letter = _area(ws, column), _column(ws, column)
    ws.conditional_formatting.add(area, _fill_rule(f'{letter}2="{good}"', GREEN))
    ws.conditional_formatting.add(area, _fill_rule(f'{letter}2="{bad}"', RED))


def _join(values: Iterable[Any], sep: str = ", ") -> str | None:
    text = sep.join(str(v) for v in values if v is not None and v != "")
    return text or None


def _yes(flag: bool | None) -> str | None:
    return None if flag is None else ("yes" if flag else "no")


def _vector(levels: dict[str, int | None] | int | None, frs: list[dict[str, Any]]) -> str | None:
    """'FR1 IAC 2, FR2 UC 1, ...' for an SL mapping; a plain level stays 'SL 2'."""
    if levels is None:
        return None
    if isinstance(levels, int):
        return f"SL {levels}"
    return ", ".join(f"{f['id']} {f['abbrev']} {'-' if levels.get(f['id']) is None else levels[f['id']]}" for f in frs)


def _level_name(level: str | None, levels: dict[str, dict[str, Any]]) -> str | None:
    return levels[level]["name"] if level in levels else level


def _where(targets: list[str]) -> str | None:
    """'scada, treatment, conduit remote-access-scada' from 'zone:scada', ..."""
    return _join(t.split(":", 1)[1] if t.startswith("zone:") else t.replace(":", " ", 1) for t in targets)


# --- sheets --------------------------------------------------------------------------------------


def _summary(ws: Worksheet, report: dict[str, Any]) -> None:
    ws.title = "Summary"
    site, program = report["site"], report["program"]
    quick_wins = sum(1 for b in report["backlog"] if b["quick_win"])
    as_of = dt.date.fromisoformat(report["as_of"])
    rows: list[tuple[Any, ...]] = [
        (f"IEC 62443 assessment and remediation plan: {site.get('name', '')}",),
        (),
        ("Site", site.get("name")),
        ("Site id", site.get("id")),
        ("Location", site.get("location")),
        ("Sector", site.get("sector")),
        ("Owner", site.get("owner")),
        ("Description", site.get("description")),
        ("Assessed as of", as_of, "evidence validity and expiry are judged on this day"),
        ("ZoneWarden", report["tool_version"], f"catalog {report['catalog_version']}"),
        ("Standards", _join(report["sources"].values())),
        (),
        ("Program",),
        ("Zones", program["zones"]),
        ("Zones with an SL-T", program["zones_with_sl_target"], f"{program['zones_with_sl_target_pct']}% of zones"),
        (
            "Zones meeting their SL-T",
            program["zones_meeting_sl_target"],
            f"{program['zones_meeting_sl_target_pct']}% of zones with an SL-T",
        ),
        ("Requirements required", program["requirements_required"], "by the SL-T of zones"),
        ("Requirements met", program["requirements_met"], f"{program['compliance_pct']}% compliance"),
        ("Open non-conformities", program["open_nonconformities"], "zones and conduits; see Gaps"),
        ("Capability gaps", program["capability_gaps"], "components below their zone's SL-T; see Capability gaps"),
        ("Risk scenarios above tolerable", program["scenarios_above_tolerable"], "after mitigation; see Risk"),
        ("Backlog items", len(report["backlog"]), f"{quick_wins} quick wins; see Backlog"),
        (),
        ("Legend",),
    ]
    legend: list[tuple[str, str, str]] = [
        ("SL-A meets SL-T", GREEN, "Scorecard: achieved level at or above the target"),
        ("One level short", AMBER, "Scorecard: achieved level one below the target"),
        ("Two or more short", RED, "Scorecard: achieved level two or more below the target"),
    ]
    tolerable = report["risk"]["tolerable"]
    legend += [
        (lv["name"], lv["colour"].lstrip("#").upper(), "risk level" + (" (tolerable)" if lv["id"] == tolerable else ""))
        for lv in report["risk"]["levels"]
    ]
    for number, values in enumerate(rows, start=1):
        for col, value in enumerate(values, start=1):
            _put(ws, number, col, value).alignment = Alignment(wrap_text=col > 1, vertical="top", horizontal="left")
        if values:
            ws.cell(number, 1).font = Font(bold=True, size=14 if number == 1 else 12 if len(values) == 1 else 11)
    for at, (name, colour, meaning) in enumerate(legend, start=len(rows) + 1):
        cell = _put(ws, at, 1, name)
        cell.fill = PatternFill("solid", start_color=colour, end_color=colour)
        cell.font = Font(bold=True, color=_text_colour(colour))
        _put(ws, at, 3, meaning)
    for at, fr in enumerate(report["frs"], start=len(rows) + len(legend) + 1):
        _put(ws, at, 1, f"{fr['id']} {fr['abbrev']}").font = Font(bold=True)
        _put(ws, at, 3, fr["name"])
    for letter, width in (("A", 32), ("B", 60), ("C", 60)):
        ws.column_dimensions[letter].width = width


def _scorecard(wb: Workbook, report: dict[str, Any], levels: dict[str, dict[str, Any]]) -> None:
    frs = [f["id"] for f in report["frs"]]
    columns: list[tuple[str, float]] = [("id", 18), ("name", 30), ("type", 9), ("Purdue level", 8), ("risk", 10)]
    columns += [(f"{fr} {side}", 6) for fr in frs for side in ("T", "A")]
    columns += [("compliance", 11), ("met", 7), ("required", 9), ("gaps", 7), ("meets SL-T", 9)]
    rows = []
    for kind, targets in (("zone", report["zones"]), ("conduit", report["conduits"])):
        for t in targets:
            target = t["sl_target"] or {}
            row: Row = [t["id"], t["name"], kind, t.get("purdue_level"), _level_name(t["risk_level"], levels)]
            for fr in frs:
                row += [target.get(fr), t["sl_achieved"][fr]]
            meets = "no SL-T" if t["sl_target"] is None else _yes(t["meets_target"])
            row += [t["compliance"], t["met"], t["required"], len(t["gaps"]), meets]
            rows.append(row)
    ws = _table(wb, "Scorecard", columns, rows, freeze="C2")
    for row in ws.iter_rows(min_row=2, min_col=_col_index(ws, "compliance"), max_col=_col_index(ws, "compliance")):
        row[0].number_format = PERCENT_FORMAT
    for fr in frs:
        t, a = _column(ws, f"{fr} T"), _column(ws, f"{fr} A")
        area = _area(ws, f"{fr} A")
        ws.conditional_formatting.add(area, _fill_rule(f"AND(ISNUMBER({t}2),{a}2>={t}2)", GREEN))
        ws.conditional_formatting.add(area, _fill_rule(f"AND(ISNUMBER({t}2),{t}2-{a}2=1)", AMBER))
        ws.conditional_formatting.add(area, _fill_rule(f"AND(ISNUMBER({t}2),{t}2-{a}2>=2)", RED))
    _yes_no(ws, "meets SL-T")
    _colour_levels(ws, "risk", levels)


def _zones(wb: Workbook, report: dict[str, Any]) -> None:
    frs = report["frs"]
    columns = _columns(
        "id 16, name 28, Purdue level 8, kind 14, owner 24, description 40, subnets 18, assets 8, SL-T 26, SL-A 26, "
        "overridden FRs 11, risk score 8, exposure 40, consequences 40, SL-T rationale 80"
    )
    rows = []
    for z in report["zones"]:
        consequences = (f"{c['category']} {c['severity']}: {c['description']}" for c in z["consequences"])
        row = [z["id"], z["name"], z["purdue_level"], z["kind"], z["owner"], z["description"]]
        row += [_join(z["subnets"], "\n"), len(z["assets"]), _vector(z["sl_target"], frs)]
        row += [_vector(z["sl_achieved"], frs), _join(z["sl_target_overridden"]), z["risk_score"]]
        row += [_join(z["exposure"], "\n"), _join(consequences, "\n"), _join(z["rationale"].values(), "\n")]
        rows.append(row)
    _table(wb, "Zones", columns, rows, freeze="B2")


def _flow(flow: dict[str, Any]) -> str:
    """'hmi-01 -> plc-01 modbus/502 [read-only]'."""
    ports = flow.get("ports") or []
    if not ports:
        protocol = lookup_protocol(flow["protocol"])
        ports = [str(p) for p in protocol.ports] if protocol else []
    text = f"{', '.join(flow['from'])} -> {', '.join(flow['to'])} {flow['protocol']}"
    text += f"/{','.join(ports)}" if ports else ""
    ops = flow.get("operations") or {}
    limits = [ops["preset"]] if ops.get("preset") else []
    if ops.get("allow") is not None:
        limits.append("allow " + (", ".join(ops["allow"]) or "nothing"))
    if ops.get("deny"):
        limits.append("deny " + ", ".join(ops["deny"]))
    if ops.get("function_codes"):
        limits.append("function codes " + ",".join(str(c) for c in ops["function_codes"]))
    if ops.get("unit_ids"):
        limits.append("units " + ",".join(str(u) for u in ops["unit_ids"]))
    text += f" [{'; '.join(limits)}]" if limits else ""
    if flow.get("life_safety"):
        text += " (life safety)"
    if flow.get("log") is False:
        text += " (not logged)"
    return text


def _conduits(wb: Workbook, report: dict[str, Any]) -> None:
    frs = report["frs"]
    assessed = {c["id"]: c for c in report["conduits"]}
    targets = report["conduit_sl_targets"]
    columns = _columns(
        "id 22, name 30, zones 22, enforcement 16, devices 14, flows 70, SL-T 26, SL-A 26, description 40"
    )
    rows = []
    for c in report["plant"]["conduits"]:
        result = assessed.get(c["id"])
        row = [c["id"], c.get("name"), _join(c["zones"]), _join(c.get("enforcement", [])), _join(c.get("devices", []))]
        row += [_join((_flow(f) for f in c.get("flows", [])), "\n")]
        row += [_vector(targets.get(c["id"], {}).get("sl_target"), frs)]
        row += [_vector(result["sl_achieved"], frs) if result else "not assessed", c.get("description")]
        rows.append(row)
    _table(wb, "Conduits", columns, rows, freeze="B2")


ASSET_COLUMNS = _columns(
    "id 16, name 30, zone 14, role 18, component_type 16, criticality 10, vendor 16, model 30, firmware 14, "
    "serial 14, ip 16, mac 19, owner 22, location 24, sl_c 26, description 40, notes 40, tags 16"
)


def _assets(wb: Workbook, report: dict[str, Any]) -> None:
    assets = report["plant"]["assets"]
    known = {name for name, _ in ASSET_COLUMNS}
    columns = [*ASSET_COLUMNS, *((k, 20.0) for k in sorted({k for a in assets for k in a} - known))]

    def cell(key: str, value: Any) -> Any:
        if key == "sl_c":
            return _vector(value, report["frs"])
        if isinstance(value, list):
            return _join(value, "\n")
        return value if value is None or isinstance(value, (str, int, float)) else str(value)

    rows = [[cell(key, a.get(key)) for key, _ in columns] for a in assets]
    headers = {"component_type": "component type", "ip": "IP", "mac": "MAC", "sl_c": "SL-C"}
    _table(wb, "Assets", [(headers.get(k, k.replace("_", " ")), w) for k, w in columns], rows, freeze="B2")


def _titles(report: dict[str, Any]) -> dict[str, str]:
    titles = {r["id"]: r["title"] for t in (*report["zones"], *report["conduits"]) for r in t["requirements"]}
    titles.update({b["requirement"]: b["title"] for b in report["backlog"]})
    return titles


def _gaps(wb: Workbook, report: dict[str, Any]) -> None:
    titles = _titles(report)
    columns = _columns("type 9, zone / conduit 22, requirement 14, FR 6, lowest SL 8, title 44, reason 30")
    rows = [
        [kind, t["id"], g["requirement"], g["fr"], g["sl"], titles.get(g["requirement"]), g["reason"]]
        for kind, targets in (("zone", report["zones"]), ("conduit", report["conduits"]))
        for t in targets
        for g in t["gap_details"]
    ]
    _table(wb, "Gaps", columns, rows, freeze="C2")


def _backlog(wb: Workbook, report: dict[str, Any]) -> None:
    columns = _columns(
        "rank 6, quick win 8, requirement 14, title 36, action 50, effort 7, score 8, where 30, why 36, FR 6, SL 5, "
        "status 12, owner 18, due 12, notes 30"
    )
    rows = []
    for b in report["backlog"]:
        why = _join((f"{_where([t])}: {reason}" for t, reason in b["reasons"].items()), "\n")
        row = [b["rank"], "yes" if b["quick_win"] else None, b["requirement"], b["title"], b["action"], b["effort"]]
        row += [b["score"], _where(b["targets"]), why, b["fr"], b["sl"], None, None, None, None]
        rows.append(row)
    ws = _table(wb, "Backlog", columns, rows, freeze="D2")
    status = DataValidation(
        type="list",
        formula1='"' + ",".join(BACKLOG_STATUSES) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Status",
        error="Pick a status from the list: " + ", ".join(BACKLOG_STATUSES),
    )
    ws.add_data_validation(status)
    status.add(_area(ws, "status"))
    letter = _column(ws, "status")
    ws.conditional_formatting.add(_area(ws, "status"), _fill_rule(f'{letter}2="done"', GREEN))
    ws.conditional_formatting.add(_area(ws, "status"), _fill_rule(f'{letter}2="in progress"', AMBER))
    for row in ws.iter_rows(min_row=2, min_col=_col_index(ws, "due"), max_col=_col_index(ws, "due")):
        row[0].number_format = DATE_FORMAT


def _risk(wb: Workbook, report: dict[str, Any], levels: dict[str, dict[str, Any]]) -> None:
    columns = _columns(
        "id 6, scenario 50, vector 16, zones 22, conduits 26, likelihood 10, severity 9, risk 10, tolerable 9, "
        "residual likelihood 10, residual severity 9, residual risk 10, residual tolerable 10"
    )
    rows = []
    for s in report["scenarios"]:
        row = [s["id"], s["title"], s["vector"], _join(s["zones"]), _join(s["conduits"]), s["likelihood"]]
        row += [s["severity"], _level_name(s["risk"], levels), _yes(s["tolerable"]), s["residual_likelihood"]]
        row += [s["residual_severity"], _level_name(s["residual_risk"], levels), _yes(s["residual_tolerable"])]
        rows.append(row)
    ws = _table(wb, "Risk", columns, rows, freeze="C2")
    _colour_levels(ws, "risk", levels)
    _colour_levels(ws, "residual risk", levels)
    _yes_no(ws, "residual tolerable")


def _capability_gaps(wb: Workbook, report: dict[str, Any]) -> None:
    assets = {a["id"]: a for a in report["plant"]["assets"]}
    columns = _columns("asset 16, name 30, vendor 16, model 30, zone 14, FR 6, SL-C 6, SL-T 6, short by 7")
    rows = []
    for g in report["capability_gaps"]:
        asset = assets.get(g["asset"], {})
        row = [g["asset"], asset.get("name"), asset.get("vendor"), asset.get("model"), g["zone"], g["fr"]]
        rows.append([*row, g["sl_c"], g["sl_t"], g["sl_t"] - g["sl_c"]])
    _table(wb, "Capability gaps", columns, rows, freeze="B2")


def _cross_zone(wb: Workbook, report: dict[str, Any]) -> None:
    """Observed communications between zones (newest saved discovery run), or how to record one."""
    d = report["discovery"]
    columns = _columns("from 18, from zone 16, to 18, to zone 16, protocols 26, packets 10, bytes 12, conduit 24")
    rows = [
        [c["source"], c["source_zone"], c["target"], c["target_zone"], _join(c["protocols"]), c["packets"],
         c["bytes"], _join(c["conduits"]) or "no conduit"]
        for c in d["cross_zone"]
    ]  # fmt: skip
    if d["map"] is None:
        note = d["note"]
    elif not rows:
        note = f"No communication between hosts of different zones in {d['file']} ({d['created']})."
    else:
        note = f"From {d['file']} ({d['created']})."
    rows.append([note] + [None] * (len(columns) - 1))
    ws = _table(wb, "Cross-zone traffic", columns, rows, freeze="A2")
    letter = _column(ws, "conduit")
    ws.conditional_formatting.add(_area(ws, "conduit"), _fill_rule(f'{letter}2="no conduit"', RED))
