"""`zonewarden risk | assess | backlog`: SL-T with rationale, SL-A and gaps, the remediation plan."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from zonewarden.assess.backlog import BacklogItem, build_backlog
from zonewarden.assess.engine import AssessmentResult, assess
from zonewarden.assess.serialize import backlog_dict, result_dict
from zonewarden.catalog import Catalog, load_catalog
from zonewarden.cli.output import console, fail
from zonewarden.model.sl import FR_ABBREV, FRS
from zonewarden.workspace.load import Workspace

WorkspaceArg = Annotated[Path, typer.Argument(help="workspace folder")]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="evaluate evidence expiry on this date (YYYY-MM-DD); default today")
]


def _as_of(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"--as-of: '{value}' is not a date (YYYY-MM-DD)", 2)
        raise


def run(workspace: Path, as_of: str | None) -> tuple[Workspace, AssessmentResult, Catalog]:
    """Load the workspace and run the assessment; load errors are reported, not fatal."""
    from zonewarden.cli.workspace import open_workspace

    day = _as_of(as_of)
    ws = open_workspace(workspace, "the assessment uses what loaded", day=day)
    catalog = load_catalog()
    assert ws.risk is not None
    result = assess(ws.plant, ws.risk, [a for _, a in ws.assessments], catalog, day)
    return ws, result, catalog


def _check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        fail(f"unknown format '{fmt}' (use {', '.join(allowed)})", 2)


def risk(
    workspace: WorkspaceArg,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Risk register and consequence-first SL-T per zone and conduit, with the rationale of every FR."""
    _check_format(fmt, ("table", "json"))
    ws, result, _ = run(workspace, None)
    if fmt == "json":
        data = result_dict(result)
        keys = (
            "id",
            "name",
            "sl_target",
            "sl_target_source",
            "sl_target_overridden",
            "rationale",
            "risk_score",
            "risk_level",
            "exposure",
            "consequences",
        )
        zones = [{k: z[k] for k in keys} for z in data["zones"]]
        print(
            json.dumps(
                {"scenarios": data["scenarios"], "zones": zones, "conduits": data["conduit_sl_targets"]},
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    print_risk_matrix(ws, result)
    print_targets(result)


def print_risk_matrix(ws: Workspace, result: AssessmentResult) -> None:
    risk = ws.risk
    assert risk is not None
    if not result.scenarios:
        console.print("[dim]No threat scenarios in risk.yaml.[/]")
        return
    colours = {r.id: r.colour for r in risk.risk_levels}
    matrix = Table(title="Risk matrix (scenarios: unmitigated -> residual)", header_style="bold", show_lines=True)
    matrix.add_column("likelihood \\ severity")
    for sev in range(1, risk.max_severity + 1):
        matrix.add_column(str(sev), justify="center")
    for lik in range(len(risk.likelihood), 0, -1):
        cells = []
        for sev in range(1, risk.max_severity + 1):
            level = risk.risk(lik, sev)
            here = [s.id for s in result.scenarios if (s.likelihood, s.severity) == (lik, sev)]
            after = [s.id + "'" for s in result.scenarios if (s.residual_likelihood, s.residual_severity) == (lik, sev)]
            text = " ".join(here + after) or "·"
            cells.append(f"[on {colours[level]}][black]{escape(text)}[/][/]")
        matrix.add_row(f"{lik} {escape(risk.likelihood[lik].split(' (')[0])}", *cells)
    console.print(matrix)
    table = Table(title="Threat scenarios", header_style="bold")
    for col in ("id", "scenario", "targets", "vector", "risk", "residual"):
        table.add_column(col)
    for s in result.scenarios:
        mark = "" if s.residual_tolerable else " [red](not tolerable)[/]"
        table.add_row(
            s.id,
            escape(s.title),
            escape(", ".join(s.zones + s.conduits)),
            s.vector or "-",
            f"{s.risk} (L{s.likelihood}xS{s.severity})",
            f"{s.residual_risk} (L{s.residual_likelihood}xS{s.residual_severity}){mark}",
        )
    console.print(table)


def print_targets(result: AssessmentResult) -> None:
    for zone in result.zones:
        vector = zone.sl_target
        if vector is None:
            console.print(f"[bold]{escape(zone.id)}[/]: no SL-T (no consequences recorded and none declared)")
            continue
        overridden = f" [magenta](overridden: {', '.join(zone.slt.overridden)})[/]" if zone.slt.overridden else ""
        console.print(f"[bold]{escape(zone.id)}[/] SL-T {vector}{overridden}")
        for fr in FRS:
            target = zone.slt.frs[fr]
            style = "magenta" if target.source == "override" else ""
            line = escape(target.rationale())
            console.print(f"  [{style}]{line}[/]" if style else f"  {line}", soft_wrap=True)


def assess_cmd(
    workspace: WorkspaceArg,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    as_of: AsOfOpt = None,
) -> None:
    """SL-A per zone and FR from the answers and evidence, gaps against SL-T, and the scorecard."""
    _check_format(fmt, ("table", "json", "csv"))
    _, result, _ = run(workspace, as_of)
    if fmt == "json":
        print(json.dumps(result_dict(result), indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["kind", "id", "fr", "sl_target", "sl_achieved", "gap", "required", "met", "source", "rationale"]
        )
        for t in (*result.zones, *result.conduits):
            for fr in FRS:
                s = t.frs[fr]
                writer.writerow(
                    [
                        t.kind,
                        t.id,
                        fr,
                        "" if s.target is None else s.target,
                        s.achieved,
                        s.gap,
                        s.required,
                        s.met,
                        t.slt.frs[fr].source,
                        t.slt.frs[fr].rationale(),
                    ]
                )
        print(out.getvalue(), end="")
        return
    print_scorecard(result)


def print_scorecard(result: AssessmentResult) -> None:
    table = Table(title=f"Scorecard: SL-T / SL-A per FR (as of {result.as_of})", header_style="bold")
    table.add_column("zone", no_wrap=True)
    for fr in FRS:
        table.add_column(f"{fr}\n{FR_ABBREV[fr]}", justify="center")
    table.add_column("met", justify="right")
    table.add_column("gaps", justify="right")
    table.add_column("risk", justify="center")
    for t in (*result.zones, *result.conduits):
        if t.sl_target is None:
            continue
        cells = []
        for fr in FRS:
            s = t.frs[fr]
            if s.target is None:
                cells.append("[dim]-[/]")
                continue
            colour = "green" if s.gap == 0 else ("yellow" if s.gap == 1 else "red")
            mark = "*" if t.slt.frs[fr].source == "override" else ""
            cells.append(f"[{colour}]{s.target}{mark}/{s.achieved}[/]")
        compliance = f"{100 * t.compliance:.0f}%" if t.compliance is not None else "-"
        name = t.id if t.kind == "zone" else f"{t.id} (conduit)"
        table.add_row(escape(name), *cells, compliance, str(len(t.gaps)), t.risk_level or "-")
    console.print(table)
    console.print("[dim]cells: SL-T/SL-A; * = SL-T overridden with a recorded justification[/]")
    p = result.program()
    console.print(
        f"Program: {p['zones_with_sl_target']}/{p['zones']} zones with an SL-T ({p['zones_with_sl_target_pct']}%), "
        f"{p['zones_meeting_sl_target']} meeting it ({p['zones_meeting_sl_target_pct']}%); "
        f"{p['requirements_met']}/{p['requirements_required']} required SR/RE met ({p['compliance_pct']}%); "
        f"{p['open_nonconformities']} open non-conformities; {p['capability_gaps']} component capability gaps; "
        f"{p['scenarios_above_tolerable']} scenarios above tolerable risk."
    )
    if result.capability_gaps:
        by_asset: dict[str, list[str]] = {}
        for g in result.capability_gaps:
            by_asset.setdefault(f"{g.asset} ({g.zone})", []).append(f"{g.fr} {g.sl_c}<{g.sl_t}")
        shown = "; ".join(f"{a}: {', '.join(v)}" for a, v in list(by_asset.items())[:6])
        more = f" and {len(by_asset) - 6} more" if len(by_asset) > 6 else ""
        console.print(f"SL-C below SL-T: {escape(shown)}{more}", soft_wrap=True)


def backlog_cmd(
    workspace: WorkspaceArg,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    top: Annotated[int | None, typer.Option("--top", help="show only the first N items", min=1)] = None,
    as_of: AsOfOpt = None,
) -> None:
    """The remediation backlog: gaps as work items, quick wins first, ranked by a documented score."""
    _check_format(fmt, ("table", "json", "csv"))
    _, result, catalog = run(workspace, as_of)
    items = build_backlog(result, catalog)
    if top:
        items = items[:top]
    if fmt == "json":
        print(json.dumps([backlog_dict(i) for i in items], indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["rank", "requirement", "title", "action", "fr", "sl", "effort", "scope", "quick_win", "score", "targets"]
        )
        for i in items:
            writer.writerow(
                [
                    i.rank,
                    i.requirement,
                    i.title,
                    i.action,
                    i.fr,
                    i.sl,
                    i.effort,
                    i.scope,
                    "yes" if i.quick_win else "",
                    i.score,
                    " ".join(i.targets),
                ]
            )
        print(out.getvalue(), end="")
        return
    print_backlog(items)


def print_backlog(items: list[BacklogItem], title: str = "Remediation backlog") -> None:
    table = Table(title=title, header_style="bold")
    for col in ("#", "requirement", "action", "effort", "score", "where"):
        table.add_column(col, justify="right" if col in ("#", "score") else "left")
    for i in items:
        where = ", ".join(t.split(":", 1)[1] for t in i.targets)
        quick = "[green]quick win[/] " if i.quick_win else ""
        table.add_row(
            str(i.rank), i.requirement, f"{quick}{escape(i.action)}", i.effort, f"{i.score:.1f}", escape(where)
        )
    console.print(table)
