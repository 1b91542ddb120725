"""Report speed on the 1,000-zone benchmark plant (see scale_plant.py).

    .venv/bin/python bench/report_scale.py [--pdf]

Prints the time to build the report document and render the full HTML report
(and, with --pdf, the PDF), and the output sizes. Target: HTML under 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

from scale_plant import generate

from zonewarden.assess.backlog import build_backlog
from zonewarden.assess.engine import assess
from zonewarden.catalog import load_catalog
from zonewarden.report.data import build_report
from zonewarden.report.html import render_html, write_pdf
from zonewarden.workspace.load import load_workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf", action="store_true", help="also paginate the PDF (slow)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="zw-report-bench-"))
    try:
        generate(root, 1)
        catalog = load_catalog()
        t0 = time.perf_counter()
        ws = load_workspace(root)
        result = assess(ws.plant, ws.risk, [a for _, a in ws.assessments], catalog, dt.date(2026, 11, 26))
        items = build_backlog(result, catalog)
        t1 = time.perf_counter()
        report = build_report(ws, result, catalog, items)
        t2 = time.perf_counter()
        html = render_html(report, "full")
        t3 = time.perf_counter()
        out = root / "report.html"
        out.write_text(html, encoding="utf-8")
        print(f"zones {len(ws.plant.zones)}, assets {len(ws.plant.assets)}, backlog items {len(items)}")
        print(f"load + assess + backlog {t1 - t0:6.2f} s")
        print(f"report document         {t2 - t1:6.2f} s")
        print(f"HTML (full) render      {t3 - t2:6.2f} s   {out.stat().st_size / 1e6:.1f} MB")
        print(f"total to HTML           {t3 - t0:6.2f} s")
        if args.pdf:
            t4 = time.perf_counter()
            write_pdf(render_html(report, "executive"), str(root / "report.pdf"))
            print(
                f"PDF (executive)         {time.perf_counter() - t4:6.2f} s   "
                f"{(root / 'report.pdf').stat().st_size / 1e6:.1f} MB"
            )
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
