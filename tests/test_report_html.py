"""The HTML report in a real headless Chromium, and the PDF's text and pages."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from conftest import REPO

from zonewarden.assess.engine import assess
from zonewarden.catalog import load_catalog
from zonewarden.report.data import build_report
from zonewarden.report.html import render_html

DEMO = REPO / "zonewarden" / "data" / "demo"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report() -> dict:
    from zonewarden.workspace.load import load_workspace

    ws = load_workspace(DEMO)
    catalog = load_catalog()
    result = assess(ws.plant, ws.risk, [a for _, a in ws.assessments], catalog, dt.date(2026, 11, 26))
    return build_report(ws, result, catalog)


def test_html_is_self_contained(report):
    html = render_html(report)
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html), "no network references"
    assert "<link" not in html.lower()
    for zone in report["zones"]:
        assert f'id="zone-{zone["id"]}"' in html
    assert html.count("<svg") >= 5  # heatmap, compliance charts, risk matrix, diagram, per-zone bars


def test_executive_kind_is_shorter(report):
    full, executive = render_html(report, "full"), render_html(report, "executive")
    assert len(executive) < len(full) / 2
    assert "Scorecard" in executive and "zone-scada" not in executive


def _png_is_blank(path: Path) -> bool:
    """True if the PNG has (almost) no variation: decode IDAT and count distinct filtered byte values."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return len(set(raw[:2_000_000])) < 16


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (the CI set-up installs Debian's chromium)")
def test_html_in_headless_chromium(report, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    shot = tmp_path / "shot.png"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    result = subprocess.run(
        [CHROMIUM, *flags, "--window-size=1280,2000", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), result.stderr[-2000:]
    assert not _png_is_blank(shot)
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    for zone in report["zones"]:
        assert f'id="zone-{zone["id"]}"' in dom.stdout


def _pdf_available() -> bool:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return False
    return shutil.which("pdftotext") is not None


@pytest.mark.skipif(not _pdf_available(), reason="needs WeasyPrint (pdf extra) and poppler's pdftotext")
@pytest.mark.parametrize(("paper", "size"), [("a4", "(A4)"), ("letter", "(letter)")])
def test_pdf_through_the_cli(tmp_path, report, paper, size):
    out = tmp_path / "report.pdf"
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "zonewarden",
            "report",
            str(DEMO),
            "--format",
            "pdf",
            "-o",
            str(out),
            "--paper",
            paper,
            "--as-of",
            "2026-11-26",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout
    assert size in info
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages > 10
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True).stdout
    assert "Contents" in text and "Scorecard" in text
    for zone in report["plant"]["zones"]:
        assert (zone.get("name") or zone["id"])[:20] in text, zone["id"]
    assert f"of {pages}" in text  # page numbers "Page n of N"
    assert re.search(r"Executive summary\s*\.+\s*\d+", text)  # contents with page numbers
