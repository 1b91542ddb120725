"""`zonewarden report`: the assessment as HTML, PDF, XLSX or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from zonewarden.cli.output import console, fail

FORMATS = ("html", "pdf", "xlsx", "json")


def write_report(report: dict, fmt: str, output: Path, kind: str = "full", paper: str = "a4") -> None:
    """Write ``report`` (see report.data.build_report) to ``output`` in ``fmt``."""
    if fmt == "json":
        output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif fmt == "xlsx":
        from zonewarden.report.xlsx import write_xlsx

        write_xlsx(report, output)
    else:
        from zonewarden.report.html import render_html, write_pdf

        html = render_html(report, kind=kind, paper=paper)
        if fmt == "html":
            output.write_text(html, encoding="utf-8")
        else:
            write_pdf(html, str(output))


def report(
    workspace: Annotated[Path, typer.Argument(help="workspace folder")],
    fmt: Annotated[str, typer.Option("--format", help="html, pdf, xlsx or json")] = "html",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="file to write")] = None,
    kind: Annotated[str, typer.Option("--kind", help="executive or full (html, pdf)")] = "full",
    paper: Annotated[str, typer.Option("--paper", help="a4 or letter (pdf, print)")] = "a4",
    as_of: Annotated[str | None, typer.Option("--as-of", help="assessment date (YYYY-MM-DD); default today")] = None,
) -> None:
    """Write the assessment report: HTML (self-contained, charts and plant diagram), PDF (paginated, with
    contents and page numbers), XLSX (the remediation plan) or JSON (the complete computed result)."""
    from zonewarden.cli.assess import run
    from zonewarden.report.data import build_report

    if fmt not in FORMATS:
        fail(f"unknown format '{fmt}' (use {', '.join(FORMATS)})", 2)
    if kind not in ("executive", "full"):
        fail(f"unknown kind '{kind}' (use executive or full)", 2)
    if paper not in ("a4", "letter"):
        fail(f"unknown paper '{paper}' (use a4 or letter)", 2)
    ws, result, catalog = run(workspace, as_of)
    output = output or Path(f"{ws.plant.site.id or workspace.resolve().name}-report.{fmt}")
    write_report(build_report(ws, result, catalog), fmt, output, kind, paper)
    console.print(f"Wrote {output} ({output.stat().st_size:,} bytes)", markup=False)
