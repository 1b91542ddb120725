"""The `zonewarden` command: a thin shell over the library.

Commands parse arguments, call library functions and turn their errors into
messages with a place and an exit code (0 ok, 1 bad input or invalid, 2 usage).
"""

from __future__ import annotations

import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from zonewarden import __version__
from zonewarden.cli import assess as assess_cli
from zonewarden.cli import catalog as catalog_cli
from zonewarden.cli import discover as discover_cli
from zonewarden.cli import evidence as evidence_cli
from zonewarden.cli import questionnaire as questionnaire_cli
from zonewarden.cli import report as report_cli
from zonewarden.cli import rules as rules_cli
from zonewarden.cli import traffic as traffic_cli
from zonewarden.cli.output import console, err_console, fail
from zonewarden.errors import InputError, ZoneWardenError

app = typer.Typer(
    name="zonewarden",
    help="ZoneWarden: an IEC 62443 workbench for OT/ICS security.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(catalog_cli.app, name="catalog")
app.add_typer(evidence_cli.app, name="evidence")
app.add_typer(rules_cli.app, name="rules")
app.add_typer(traffic_cli.app, name="traffic")
app.command("risk")(assess_cli.risk)
app.command("assess")(assess_cli.assess_cmd)
app.command("backlog")(assess_cli.backlog_cmd)
app.command("questionnaire")(questionnaire_cli.questionnaire)
app.command("report")(report_cli.report)
app.command("discover")(discover_cli.discover_cmd)


def _version(value: bool) -> None:
    if value:
        from zonewarden.catalog import load_catalog

        console.print(f"zonewarden {__version__} (catalog {load_catalog().version})")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """ZoneWarden: the standards as data, the plant as code."""


@app.command()
def validate(
    workspace: Annotated[Path, typer.Argument(help="workspace folder (or its plant.yaml)")],
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    strict: Annotated[bool, typer.Option(help="warnings make the workspace invalid (exit 1)")] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="judge evidence expiry on this date (YYYY-MM-DD); default today")
    ] = None,
) -> None:
    """Check a workspace: references, address plan, SL values, risk register, answers and evidence,
    and OT design lints.

    Exit 0 valid, 1 invalid (or warnings with --strict), 2 usage error."""
    from zonewarden.model.diagnostics import Diagnostic
    from zonewarden.workspace.load import load_workspace

    if fmt not in ("text", "json"):
        fail(f"unknown format '{fmt}' (use text or json)", 2)
    if not workspace.exists():
        fail(f"workspace '{workspace}' does not exist", 2)
    from zonewarden.cli.assess import _as_of

    day = _as_of(as_of)
    try:
        diagnostics = load_workspace(workspace).check(day)
    except InputError as exc:
        if (not (workspace / "plant.yaml").is_file() and workspace.is_dir()) or exc.location is None:
            fail(str(exc), 2 if exc.location is None else 1)
        loc = exc.location
        diagnostics = [Diagnostic("error", "syntax", exc.message, "", (), loc.file, loc.line, loc.column)]
    errors = [d for d in diagnostics if d.severity == "error"]
    warnings = [d for d in diagnostics if d.severity == "warning"]
    if fmt == "json":
        print(
            json.dumps(
                {
                    "valid": not errors and not (strict and warnings),
                    "errors": [d.as_dict() for d in errors],
                    "warnings": [d.as_dict() for d in warnings],
                },
                indent=2,
            )
        )
    else:
        for d in diagnostics:
            colour = "red" if d.severity == "error" else "yellow"
            console.print(
                f"[{colour}]{d.format()}[/]" if sys.stdout.isatty() else d.format(),
                markup=sys.stdout.isatty(),
                soft_wrap=True,
            )
        verdict = "invalid" if errors or (strict and warnings) else "valid"
        console.print(f"{workspace}: {verdict}: {len(errors)} error(s), {len(warnings)} warning(s)", markup=False)
    if errors or (strict and warnings):
        raise typer.Exit(1)


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write to this file instead of stdout")] = None,
) -> None:
    """Print the JSON Schema of plant.yaml (point your editor's YAML plugin at it)."""
    from zonewarden.workspace.schema import plant_schema

    text = json.dumps(plant_schema(), indent=2) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {output}")
    else:
        print(text, end="")


def _copy_template(name: str, target: Path) -> list[str]:
    """Copy a shipped workspace (with its subfolders) into ``target``; return the top-level names."""
    from zonewarden.workspace.schema import plant_schema

    written: list[str] = []

    def copy(source, dest: Path) -> None:  # importlib Traversable, not always a real path
        for entry in sorted(source.iterdir(), key=lambda e: e.name):
            if entry.name.startswith((".", "_")):
                continue
            if entry.is_dir():
                (dest / entry.name).mkdir(exist_ok=True)
                copy(entry, dest / entry.name)
            else:
                (dest / entry.name).write_bytes(entry.read_bytes())
            if dest == target:
                written.append(entry.name + ("/" if entry.is_dir() else ""))

    copy(resources.files("zonewarden").joinpath("data", name), target)
    (target / "plant.schema.json").write_text(json.dumps(plant_schema(), indent=2) + "\n", encoding="utf-8")
    written.append("plant.schema.json")
    for folder in ("assessments", "evidence"):
        if not (target / folder).exists():
            (target / folder).mkdir()
            (target / folder / ".gitkeep").touch()
    return written


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="folder to create the workspace in")],
    demo: Annotated[bool, typer.Option("--demo", help="write the demo water treatment plant")] = False,
    force: Annotated[bool, typer.Option("--force", help="write into a folder that is not empty")] = False,
) -> None:
    """Create a workspace: a commented starter, or the demo plant with --demo."""
    if directory.exists() and not directory.is_dir():
        fail(f"'{directory}' exists and is not a folder", 2)
    if directory.exists() and any(directory.iterdir()) and not force:
        fail(f"'{directory}' is not empty; use --force to write into it anyway", 2)
    directory.mkdir(parents=True, exist_ok=True)
    written = _copy_template("demo" if demo else "starter", directory)
    console.print(
        f"Created {'the demo plant' if demo else 'a starter workspace'} in {directory}: {', '.join(written)}",
        markup=False,
    )
    console.print(f"Next: edit {directory / 'plant.yaml'}, then run: zonewarden validate {directory}", markup=False)


@app.command()
def summary(workspace: Annotated[Path, typer.Argument(help="workspace folder")]) -> None:
    """Summarise a workspace: zones with SL-T per FR, conduits, assets, validation."""
    from zonewarden.assess.engine import assess
    from zonewarden.catalog import load_catalog
    from zonewarden.cli.summary import print_summary
    from zonewarden.workspace.load import load_workspace

    if not workspace.exists():
        fail(f"workspace '{workspace}' does not exist", 2)
    ws = load_workspace(workspace)
    catalog = load_catalog()
    assert ws.risk is not None
    result = assess(ws.plant, ws.risk, [a for _, a in ws.assessments], catalog)
    print_summary(ws, catalog, ws.check(), result)


DEMO_AS_OF = "2026-11-26"  # the date the demo plant was assessed; keeps its picture stable over time


def demo_path() -> Path:
    return Path(str(resources.files("zonewarden").joinpath("data", "demo")))


@app.command()
def demo(
    as_of: Annotated[
        str, typer.Option("--as-of", help="assessment date (YYYY-MM-DD); default: the demo's assessment date")
    ] = DEMO_AS_OF,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="where to write the HTML report (default: ./zonewarden-demo-report.html)"),
    ] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="do not write the HTML report")] = False,
) -> None:
    """Run the whole job on the shipped demo plant (a water treatment works): validate, derive SL-T,
    assess SL-A, and show the scorecard and the top of the backlog."""
    from zonewarden.assess.backlog import build_backlog
    from zonewarden.cli.assess import print_backlog, print_scorecard, run
    from zonewarden.cli.summary import print_summary

    ws, result, catalog = run(demo_path(), as_of)
    diagnostics = ws.check(result.as_of)
    print_summary(ws, catalog, diagnostics, result)
    console.print()
    print_scorecard(result)
    items = build_backlog(result, catalog)
    console.print()
    print_backlog(items[:10], title=f"Top of the remediation backlog (10 of {len(items)} items, quick wins first)")
    if not no_report:
        from zonewarden.cli.report import write_report
        from zonewarden.report.data import build_report

        target = report or Path("zonewarden-demo-report.html")
        write_report(build_report(ws, result, catalog, items), "html", target)
        console.print(f"\nHTML report: [bold]{target.resolve()}[/] (open it in a browser; print it for paper)")
    console.print(
        "\nNext: [bold]zonewarden init myplant --demo[/] to get an editable copy, then "
        "[bold]zonewarden validate myplant[/], [bold]zonewarden risk myplant[/] (SL-T and why), "
        "[bold]zonewarden assess myplant[/] and [bold]zonewarden backlog myplant[/]."
    )
    if any(d.severity == "error" for d in diagnostics):
        raise typer.Exit(1)


def main() -> None:
    """Console entry point: user errors become messages, never tracebacks."""
    try:
        app()
    except InputError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        sys.exit(1)
    except ZoneWardenError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug: keep the message short, offer the traceback
        if os.environ.get("ZONEWARDEN_DEBUG"):
            raise
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
            "Please report it; set ZONEWARDEN_DEBUG=1 to see the traceback.",
            soft_wrap=True,
        )
        sys.exit(3)


__all__ = ["app", "main"]
