"""Asset spreadsheets: Excel's CSV habits, header aliases, column mapping, bad rows."""

from __future__ import annotations

import openpyxl

from zonewarden.workspace.load import load_workspace

PLANT = """\
site: {name: Tables}
zones:
  - id: control
    purdue_level: 1
    subnets: [192.168.1.0/24]
"""


def test_excel_csv_with_bom_semicolons_and_cp1252(write_workspace):
    csv_text = (
        "Tag;Hostname;Device Type;Manufacturer;Firmware Version;IP Address;MAC Address;Location\r\n"
        "PLC-01;Füllstand PLC;PLC;Siemens;V2.9;192.168.1.10;00:1B:1B:00:00:01;Schaltschrank 3\r\n"
        "HMI-01;HMI;HMI;Schneider;1.0;192.168.1.20;;Leitwarte\r\n"
    )
    root = write_workspace(PLANT, assets__csv=b"\xef\xbb\xbf" + csv_text.encode("cp1252"))
    ws = load_workspace(root)
    assert [d for d in ws.check() if d.severity == "error"] == []
    plc = ws.plant.assets[0]
    assert (plc.id, plc.name, plc.role.value, plc.vendor, str(plc.ip[0])) == (
        "PLC-01",
        "Füllstand PLC",
        "plc",
        "Siemens",
        "192.168.1.10",
    )
    assert plc.mac == ["00:1b:1b:00:00:01"]
    # Assets found a zone by their address.
    assert ws.check() == [d for d in ws.check() if d.severity == "warning"]


def test_bad_rows_are_reported_with_row_and_column_and_good_rows_kept(write_workspace):
    csv_text = (
        "id,role,ip,criticality\n"
        "plc-1,plc,192.168.1.10,high\n"
        "plc-2,plc,192.168.1.300,high\n"
        "\n"
        "plc-3,plc,192.168.1.12,extreme\n"
        "plc-4,plc,192.168.1.13,low\n"
    )
    root = write_workspace(PLANT, assets__csv=csv_text)
    ws = load_workspace(root)
    errors = [d for d in ws.check() if d.severity == "error"]
    assert [(d.file, d.line, d.column) for d in errors] == [("assets.csv", 3, 3), ("assets.csv", 5, 4)]
    assert "row 3" in errors[0].message and "192.168.1.300" in errors[0].message
    assert {a.id for a in ws.plant.assets} >= {"plc-1", "plc-4"}


def test_validation_errors_point_into_the_csv(write_workspace):
    csv_text = "id,ip,zone\nplc-1,192.168.1.10,control\nplc-2,192.168.1.10,contrl\n"
    root = write_workspace(PLANT, assets__csv=csv_text)
    found = {(d.file, d.line, d.column, d.code) for d in load_workspace(root).check()}
    assert ("assets.csv", 3, 3, "unknown-zone") in found
    assert ("assets.csv", 3, 2, "duplicate-ip") in found


def test_xlsx_with_mapped_columns(write_workspace):
    plant = (
        PLANT
        + """\
asset_sources:
  - file: inventory.xlsx
    sheet: Devices
    columns: {"Asset No.": id, "Netz-Adresse": ip, "Typ": role}
"""
    )
    root = write_workspace(plant)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Devices"
    sheet.append(["Asset No.", "Typ", "Netz-Adresse", "Firmware", "Unused column"])
    sheet.append(["PLC-7", "PLC", "192.168.1.70", 2.1, "x"])
    sheet.append([1001, "Switch", "192.168.1.2", None, None])
    book.save(root / "inventory.xlsx")
    ws = load_workspace(root)
    ids = {a.id: a for a in ws.plant.assets}
    assert ids["PLC-7"].firmware == "2.1"
    assert ids["1001"].role.value == "switch"
    warnings = [d for d in ws.check() if d.code == "unused-column"]
    assert warnings and warnings[0].column == 5


def test_unreadable_xlsx_is_a_located_error(write_workspace):
    root = write_workspace(PLANT, assets__xlsx=b"this is not a zip file")
    errors = [d for d in load_workspace(root).check() if d.severity == "error"]
    assert errors and errors[0].file == "assets.xlsx"


def test_table_without_id_column(write_workspace):
    root = write_workspace(PLANT, assets__csv="foo,bar\n1,2\n")
    errors = [d for d in load_workspace(root).check() if d.severity == "error"]
    assert errors[0].file == "assets.csv" and "no asset id" in errors[0].message
