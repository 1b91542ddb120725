"""`zonewarden traffic`: observed traffic judged against the zones and conduits, with OT-aware detections."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from zonewarden.cli.output import capture_files, capture_progress, console, err_console, fail
from zonewarden.detect.base import SEVERITIES

app = typer.Typer(
    help="Traffic against the model: conduits verified from captures, and OT-aware detections.",
    no_args_is_help=True,
)

FORMATS = ("table", "json", "jsonl")


def _load(workspace: Path) -> Any:
    """The workspace; validation errors are reported as a warning (the check uses what loaded)."""
    from zonewarden.cli.workspace import open_workspace

    return open_workspace(workspace, "the check uses what loaded")


@app.command("check")
def check_cmd(
    workspace: Annotated[Path, typer.Argument(help="the workspace folder (plant.yaml with zones and conduits)")],
    captures: Annotated[list[Path], typer.Argument(help="pcap or pcapng files (gzip too), or folders of them")],
    fmt: Annotated[str, typer.Option("--format", help="table, json or jsonl")] = "table",
    cef: Annotated[Path | None, typer.Option("--cef", help="also write detections and violations as CEF lines")] = None,
    syslog: Annotated[
        Path | None, typer.Option("--syslog", help="also write detections and violations as RFC 5424 syslog lines")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="a previous run's JSON: hosts and cross-zone flows it saw are known"),
    ] = None,
    record_evidence: Annotated[
        bool,
        typer.Option(
            "--record-evidence", help="record the captures (dated, SHA-256) as evidence for SR 5.1, 5.2 and 6.2"
        ),
    ] = False,
) -> None:
    """Judge every flow of the captures against the zones and conduits (allowed, intra-zone, no conduit,
    not allowed by the conduit, unknown host; industrial operations against the conduit flow's
    operations), report conduit coverage, and raise OT-aware detections mapped to ATT&CK for ICS."""
    from zonewarden import __version__
    from zonewarden.detect import Baseline
    from zonewarden.detect.siem import cef as render_cef
    from zonewarden.detect.siem import jsonl
    from zonewarden.detect.siem import syslog as render_syslog
    from zonewarden.traffic.verify import verify

    if fmt not in FORMATS:
        fail(f"unknown format '{fmt}' (use {', '.join(FORMATS)})", 2)
    captures = capture_files(captures)
    known = Baseline()
    if baseline is not None:
        try:
            known = Baseline.from_report(json.loads(baseline.read_text(encoding="utf-8")))
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            fail(f"{baseline}: not a traffic check JSON report ({exc})")
    ws = _load(workspace)
    with capture_progress(captures, "checking captures", quiet=fmt != "table" or not console.is_terminal) as progress:
        result = verify(ws.plant, captures, known, progress)
    data = result.to_dict()
    if cef is not None:
        cef.write_text(render_cef(data, __version__), encoding="utf-8")
    if syslog is not None:
        syslog.write_text(render_syslog(data, socket.gethostname()), encoding="utf-8")
    if fmt == "json":
        print(json.dumps(data, indent=2, default=str))
    elif fmt == "jsonl":
        print(jsonl(data), end="")
    else:
        _print(data)
    for p in result.problems:
        where = f" packet {p['packet']}" if p.get("packet") else ""
        err_console.print(f"[yellow]{escape(str(p['file']))}{where}:[/] {escape(str(p['problem']))}")
    if record_evidence:
        _record(workspace, captures, result)
    if any(p.get("unreadable") for p in result.problems):
        raise typer.Exit(1)


def _record(workspace: Path, captures: list[Path], result: Any) -> None:
    from zonewarden.traffic.coverage import capture_evidence, record_evidence

    by_file = {r.file: r for r in result.results}
    evidence = [capture_evidence(workspace, c, by_file[str(c)]) for c in captures if str(c) in by_file]
    written = record_evidence(workspace, evidence, dt.date.today())
    if written:
        err_console.print("recorded traffic evidence for SR 5.1, SR 5.2, SR 6.2 in: " + ", ".join(written))
    else:
        err_console.print("traffic evidence already recorded; nothing changed")


def _ends(v: dict[str, Any]) -> str:
    """client -> server of a violation; for folded ones, how many clients or servers (and what became of
    folded probes)."""
    clients, servers = v.get("clients", 1), v.get("servers", 1)
    text = f"{v['client']}" + (f" and {clients - 1:,} more" if clients > 1 else "") + f" -> {v['server']}"
    if servers > 1:
        text += f" and {servers - 1:,} more"
    if v.get("state"):
        text += f" ({v['state']})"
    return text


MAX_TABLE_ROWS = 500  # a capture of a network the model does not know has a violation per conversation
# what the tables show first when they cannot show everything: the most telling violations, the gravest alerts
_VIOLATION_RANK = {"operation-not-allowed": 0, "not-allowed": 1, "no-conduit": 2, "unknown-host": 3}
_SEVERITY_RANK = {name: -n for n, name in enumerate(SEVERITIES)}


def _table(title: str, rows: list[dict[str, Any]], by: str, rank: dict[str, int]) -> tuple[Table, list[dict[str, Any]]]:
    """A table of ``rows`` and the rows it shows: all of them, or (rendering 100,000 rows takes minutes)
    the MAX_TABLE_ROWS that rank first by their ``by`` value, in their order otherwise; then its caption
    says how many there are of each ``by`` value, and that the JSON has them all."""
    table = Table(title=f"{len(rows)} {title if len(rows) != 1 else title.removesuffix('s')}", header_style="bold")
    if len(rows) <= MAX_TABLE_ROWS:
        return table, rows
    counts = Counter(r[by] for r in rows)
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(counts.items(), key=lambda kv: (rank.get(kv[0], 99), kv[0])))
    table.caption = (
        f"{MAX_TABLE_ROWS} of {len(rows):,} {title} shown, gravest first ({kinds}); --format json lists them all"
    )
    return table, sorted(rows, key=lambda r: rank.get(r[by], 99))[:MAX_TABLE_ROWS]


def _print(data: dict[str, Any]) -> None:
    flows = data["summary"]["flows"]
    console.print(
        f"{sum(flows.values()):,} flows: " + ", ".join(f"{k} {v:,}" for k, v in sorted(flows.items())), markup=False
    )
    if data["violations"]:
        table, shown = _table("violations", data["violations"], "kind", _VIOLATION_RANK)
        for col in ("kind", "zones", "conduit", "client -> server", "port", "packets", "file:packet", "rule broken"):
            table.add_column(col)
        for v in shown:
            table.add_row(
                v["kind"],
                escape(v["zone_pair"]),
                escape(v["conduit"] or "-"),
                escape(_ends(v)),
                f"{v['transport']}/{v['port']}",
                f"{v['packets']:,}",
                escape(f"{Path(v['file']).name}:{v['packet']}"),
                escape(v["rule_broken"]),
            )
        console.print(table)
    if data["detections"]:
        table, shown = _table("detections", data["detections"], "severity", _SEVERITY_RANK)
        for col in ("severity", "detector", "host (zone)", "file:packet", "ATT&CK", "what happened"):
            table.add_column(col)
        for d in shown:
            table.add_row(
                d["severity"],
                d["detector"],
                escape(f"{d['host']} ({d['zone'] or '-'})"),
                escape(f"{Path(d['file']).name}:{d['packet']}"),
                ", ".join(d["techniques"]),
                escape(d["explanation"]),
            )
        console.print(table)
    for c in data["coverage"]:
        seen = sum(1 for d in c["declared"] if d["seen"])
        line = f"conduit {c['conduit']}: {seen}/{len(c['declared'])} declared flows seen"
        if c["never_seen"]:
            line += f"; never seen (SR 7.7 candidates): {', '.join(c['never_seen'])}"
        if c["undeclared"]:
            line += f"; {len(c['undeclared'])} observed flows need a declaration"
        console.print(escape(line))


@app.command("attack")
def attack_cmd(
    workspace: Annotated[Path, typer.Argument(help="the workspace folder")],
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    attack_data: Annotated[
        Path | None,
        typer.Option("--attack-data", help="MITRE's ATT&CK for ICS STIX bundle (ics-attack-18.0.json) to use"),
    ] = None,
) -> None:
    """Per zone: the ATT&CK for ICS techniques that the zone's missing SRs leave unmitigated
    (from the IEC 62443-3-3 SRs MITRE cites for each ICS mitigation)."""
    from zonewarden.attack import load_attack, load_attack_file, zone_exposure
    from zonewarden.cli.assess import run
    from zonewarden.errors import InputError

    if fmt not in ("table", "json"):
        fail(f"unknown format '{fmt}' (use table or json)", 2)
    try:
        attack = load_attack_file(attack_data) if attack_data is not None else load_attack()
    except InputError as exc:
        fail(str(exc))
    _, result, _ = run(workspace, None)
    zones = zone_exposure(result, attack)
    if fmt == "json":
        print(json.dumps({"attack_version": attack.version, "zones": zones}, indent=2))
        return
    table = Table(title=f"Techniques left unmitigated (ATT&CK for ICS v{attack.version})", header_style="bold")
    for col in ("zone", "missing SRs", "unmitigated techniques"):
        table.add_column(col)
    for z in zones:
        techniques = ", ".join(f"{t['technique']} {t['name']}" for t in z["unmitigated"])
        table.add_row(z["zone"], ", ".join(z["missing_srs"][:8]) or "-", escape(techniques) or "-")
    console.print(table)
    linked = sum(1 for m in attack.mitigations.values() if m.techniques)
    console.print(
        f"[dim]Mitigation-to-technique links: {linked} of {len(attack.mitigations)} ICS mitigations have them"
        "; techniques whose mitigations have no link are not judged. "
        "For the complete table, pass MITRE's STIX bundle: --attack-data ics-attack-18.0.json[/]"
    )
