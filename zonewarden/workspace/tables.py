"""Asset spreadsheets (CSV and XLSX) as rows of asset fields.

Real asset lists come from Excel: a BOM, semicolons as separators,
Windows-1252 text, numbers where text was meant, the plant's own column names.
This module reads them into plain ``{field: text}`` rows that remember their
row and column, and leaves typing to the model.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from zonewarden.errors import InputError, Location

# Header spellings seen in plant asset registers -> Asset field.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "asset id", "asset tag", "tag", "tag name", "tagname", "asset", "asset number", "asset no"),
    "name": ("name", "hostname", "host name", "device name", "asset name", "display name"),
    "role": ("role", "type", "device type", "asset type", "function", "category", "device role"),
    "component_type": ("component type", "62443 component type", "iec 62443 component type"),
    "vendor": ("vendor", "manufacturer", "make", "oem", "brand"),
    "model": ("model", "product", "model number", "part number", "order number", "product code", "mlfb"),
    "firmware": ("firmware", "firmware version", "fw", "fw version", "software version", "os version", "version"),
    "serial": ("serial", "serial number", "s n", "sn", "serial no"),
    "ip": ("ip", "ip address", "ip addresses", "ipv4", "ipv4 address", "ipv6", "address", "ip addr"),
    "mac": ("mac", "mac address", "hardware address", "mac addr"),
    "zone": ("zone", "security zone", "network zone", "62443 zone"),
    "owner": ("owner", "asset owner", "responsible", "system owner"),
    "criticality": ("criticality", "criticality level", "importance", "critical"),
    "sl_c": ("sl c", "slc", "capability sl", "security level capability", "sl capability"),
    "location": ("location", "area", "building", "room", "cabinet", "panel"),
    "description": ("description", "desc"),
    "notes": ("notes", "note", "comment", "comments", "remarks"),
    "tags": ("tags", "labels"),
}
ASSET_FIELDS = tuple(HEADER_ALIASES)
_ALIAS_TO_FIELD = {alias: fld for fld, aliases in HEADER_ALIASES.items() for alias in aliases}


def normalize_header(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()


@dataclass
class TableRow:
    """One data row: asset fields with the (line, column) each came from."""

    line: int
    values: dict[str, str]
    columns: dict[str, int]


@dataclass
class Table:
    file: str
    rows: list[TableRow] = field(default_factory=list)
    ignored_columns: list[tuple[str, int]] = field(default_factory=list)  # (header, column)
    header_line: int = 1


def decode_text(data: bytes) -> str:
    """Decode a text file the way Excel writes them: UTF-8 (with or without BOM),
    UTF-16 with BOM, else Windows-1252."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _map_header(headers: list[str], mapping: Mapping[str, str], file: str, line: int) -> tuple[dict[int, str], list]:
    user = {normalize_header(k): v for k, v in mapping.items()}
    by_col: dict[int, str] = {}
    ignored: list[tuple[str, int]] = []
    for col, header in enumerate(headers, start=1):
        key = normalize_header(header)
        if not key:
            continue
        fld = user.get(key) or _ALIAS_TO_FIELD.get(key)
        if fld is None:
            ignored.append((header, col))
            continue
        if fld not in ASSET_FIELDS:
            raise InputError(
                f"column mapping '{header}' -> '{fld}': '{fld}' is not an asset field ({', '.join(ASSET_FIELDS)})",
                Location(file, line, col),
            )
        if fld in by_col.values():
            ignored.append((header, col))  # first column wins
            continue
        by_col[col] = fld
    if "id" not in by_col.values() and "name" not in by_col.values():
        raise InputError(
            "no asset id or name column (expected a header such as 'id', 'tag' or 'hostname'; "
            "map yours with asset_sources columns)",
            Location(file, line),
        )
    return by_col, ignored


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _build(
    file: str, raw_rows: list[tuple[int, list[object]]], mapping: Mapping[str, str], text_cells: bool = False
) -> Table:
    if text_cells:  # CSV: every cell is already text
        rows = [(n, [str(c).strip() for c in cells]) for n, cells in raw_rows if any(cells)]
    else:
        rows = [(n, [_cell_text(c) for c in cells]) for n, cells in raw_rows]
    rows = [(n, cells) for n, cells in rows if any(cells)]
    if not rows:
        raise InputError("the asset table is empty (no header row)", Location(file, 1))
    header_line, headers = rows[0]
    by_col, ignored = _map_header(headers, mapping, file, header_line)
    table = Table(file, ignored_columns=ignored, header_line=header_line)
    for line, cells in rows[1:]:
        values: dict[str, str] = {}
        columns: dict[str, int] = {}
        for col, fld in by_col.items():
            text = cells[col - 1] if col - 1 < len(cells) else ""
            if text:
                values[fld], columns[fld] = text, col
        if "id" not in values and "name" in values:
            values["id"], columns["id"] = re.sub(r"[^A-Za-z0-9_.:/-]+", "-", values["name"]).strip("-"), columns["name"]
        if values:
            table.rows.append(TableRow(line, values, columns))
    return table


def read_csv(path: Path, display: str, mapping: Mapping[str, str] | None = None) -> Table:
    """Read an asset CSV (any of , ; tab | as separator)."""
    try:
        text = decode_text(path.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", Location(display)) from None
    sample = "\n".join(text.splitlines()[:20])
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    raw: list[tuple[int, list[object]]] = []
    try:
        for cells in reader:
            raw.append((reader.line_num, list(cells)))
    except csv.Error as exc:
        raise InputError(f"CSV error: {exc}", Location(display, reader.line_num)) from None
    return _build(display, raw, mapping or {}, text_cells=True)


def read_xlsx(path: Path, display: str, sheet: str | None = None, mapping: Mapping[str, str] | None = None) -> Table:
    """Read an asset worksheet from an .xlsx workbook (values, not formulas)."""
    import openpyxl  # imported here: only spreadsheet users pay for it

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InputError(f"not a readable .xlsx workbook ({exc})", Location(display)) from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise InputError(f"no worksheet '{sheet}' (sheets: {', '.join(workbook.sheetnames)})", Location(display))
        worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
        raw = [(n, list(cells)) for n, cells in enumerate(worksheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()
    return _build(f"{display}[{worksheet.title}]" if sheet else display, raw, mapping or {})
