"""`zonewarden rules check`: existing firewall configurations checked against the conduits."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from zonewarden.cli.output import console, fail

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def check_cmd(
    workspace: Annotated[Path, typer.Argument(help="workspace folder (or its plant.yaml)")],
    configs: Annotated[list[Path], typer.Argument(help="firewall configuration file(s) to check")],
    platform: Annotated[
        str,
        typer.Option(
            "--platform",
            "-p",
            help="iptables (iptables-save), nftables (text or nft -j JSON), asa, fortigate, ios, "
            "juniper-srx (srx: set or brace format), paloalto (panos: set, XML or brace format)",
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            help="enforcing device (asset id) the configuration belongs to: only its conduits' flows must be "
            "permitted; default: the device named by the config's hostname, else every conduit",
        ),
    ] = None,
) -> None:
    """Check firewall configurations against the workspace's conduits.

    Reports, with each config's file:line: rules permitting traffic no conduit allows (with an example
    flow), conduit flows the config blocks, any-any and over-broad rules, shadowed and redundant rules,
    a missing final deny or a default allow, permits without logging, and rules that skip Purdue levels
    without a DMZ. Lines the parser could not use are listed as skipped.

    Exit 0 when nothing of high or critical severity is found, 1 otherwise or on bad input, 2 usage."""
    from zonewarden.cli.workspace import open_workspace
    from zonewarden.errors import InputError
    from zonewarden.rules.analyze import analyze, zone_infos
    from zonewarden.rules.config import PARSERS, parse_file, platform_name
    from zonewarden.rules.policy import build_policy

    if fmt not in ("table", "json"):
        fail(f"unknown format '{fmt}' (use table or json)", 2)
    if platform_name(platform) is None:
        fail(f"unknown platform '{platform}' (use one of: {', '.join(sorted(PARSERS))})", 2)
    if not workspace.exists():
        fail(f"workspace '{workspace}' does not exist", 2)
    missing = [str(c) for c in configs if not c.is_file()]
    if missing:
        fail(f"no such configuration file: {', '.join(missing)}", 2)
    ws = open_workspace(workspace, "configurations are not checked against an invalid model", strict=True)
    policy = build_policy(ws)
    zones = zone_infos(ws.plant)
    devices = policy.devices()
    if device is not None and device not in devices:
        choices = ", ".join(sorted(devices)) or "none"
        fail(f"device '{device}' enforces no conduit (devices: {choices})", 2)
    reports = []
    for path in configs:
        try:
            ruleset = parse_file(platform, path, str(path))
        except InputError as exc:
            fail(str(exc))
        chosen = device
        if chosen is None:
            hostname = next((n.split(" ", 1)[1] for n in ruleset.notes if n.startswith("hostname ")), None)
            if hostname and hostname in devices:
                chosen = hostname
        reports.append(analyze(ruleset, policy, zones, chosen))
    findings = [f for r in reports for f in r.findings]
    if fmt == "json":
        doc = {
            "findings": [f.as_dict() for f in findings],
            "skipped": [s for r in reports for s in r.skipped],
            "summary": _summary(reports, policy),
        }
        print(json.dumps(doc, indent=2))
    else:
        _table(reports, policy)
    if any(f.severity in ("critical", "high") for f in findings):
        raise typer.Exit(1)


def _summary(reports, policy) -> dict[str, Any]:
    by_kind: dict[str, int] = {}
    by_severity: dict[str, int] = {}
    for r in reports:
        for k, v in r.summary["by_kind"].items():
            by_kind[k] = by_kind.get(k, 0) + v
        for k, v in r.summary["by_severity"].items():
            by_severity[k] = by_severity.get(k, 0) + v
    return {
        "files": [r.summary for r in reports],
        "findings": sum(len(r.findings) for r in reports),
        "skipped": sum(len(r.skipped) for r in reports),
        "by_kind": dict(sorted(by_kind.items())),
        "by_severity": by_severity,
        "policy_problems": list(policy.problems),
    }


def _table(reports, policy) -> None:
    from rich.table import Table

    color = sys.stdout.isatty()
    for report in reports:
        s = report.summary
        console.print(
            f"{s['file']}: {s['platform']}, {s['rules']} rules in {s['lists']} lists"
            + (f", checked as device {s['device']}" if s["device"] else "")
            + f"; {s['findings']} finding(s), {s['skipped']} line(s) skipped",
            markup=False,
        )
        if report.findings:
            table = Table(show_lines=False, expand=False)
            for column in ("severity", "kind", "where", "finding"):
                table.add_column(column, overflow="fold")
            for f in report.findings:
                where = f"{f.file}:{f.line}" if f.line else f"{f.file} ({f.list})"
                sev = f"[{SEVERITY_STYLE[f.severity]}]{f.severity}[/]" if color else f.severity
                table.add_row(sev, f"({f.category}) {f.kind}", where, f.message)
            console.print(table)
        if report.skipped:
            table = Table(title="skipped lines", show_lines=False)
            table.add_column("where")
            table.add_column("why", overflow="fold")
            table.add_column("text", overflow="fold")
            for sk in report.skipped[:200]:
                table.add_row(f"{sk['file']}:{sk['line']}", sk["reason"], sk["text"][:80])
            if len(report.skipped) > 200:
                table.caption = f"... and {len(report.skipped) - 200} more (use --format json)"
            console.print(table)
    for problem in policy.problems:
        console.print(f"policy: {problem}", markup=False)
