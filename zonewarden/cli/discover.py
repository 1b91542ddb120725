"""`zonewarden discover`: inventory, flows and communication map from packet captures."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from zonewarden.cli.output import capture_files, capture_progress, console, err_console, fail, print_json
from zonewarden.cli.workspace import open_workspace


def discover_cmd(
    captures: Annotated[list[Path], typer.Argument(help="pcap or pcapng files (gzip too), or folders of them")],
    workspace: Annotated[Path | None, typer.Option("--workspace", "-w", help="compare with this workspace")] = None,
    update: Annotated[
        bool, typer.Option("--update", help="append newly seen hosts to the workspace's assets.csv")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    map_svg: Annotated[Path | None, typer.Option("--map", help="write the communication map as SVG")] = None,
    map_json: Annotated[Path | None, typer.Option("--map-json", help="write the communication map as JSON")] = None,
    save: Annotated[
        bool, typer.Option("--save", help="keep this run (inventory, flows, map) under the workspace's discovery/")
    ] = False,
) -> None:
    """Passive discovery: read captures, dissect industrial protocols, and list the assets (vendor, model,
    firmware, roles with evidence), flows and problems; compare with a workspace and update it."""
    from zonewarden.traffic.commap import build_map
    from zonewarden.traffic.commap import map_svg as render_map
    from zonewarden.traffic.discover import discover
    from zonewarden.traffic.flows import conversations

    if fmt not in ("table", "json", "csv"):
        fail(f"unknown format '{fmt}' (use table, json or csv)", 2)
    if update and workspace is None:
        fail("--update needs --workspace", 2)
    if save and workspace is None:
        fail("--save needs --workspace (the run is kept in its discovery/ folder)", 2)
    captures = capture_files(captures)
    # the workspace is read first: a mistake in it is reported before minutes of capture reading
    ws = open_workspace(workspace, "hosts are compared with what loaded") if workspace is not None else None
    with capture_progress(captures, "reading captures", quiet=fmt != "table" or not console.is_terminal) as progress:
        result = discover(captures, progress)
    comparison: dict[str, Any] | None = None
    zone_of: dict[str, str] = {}
    if workspace is not None and ws is not None:
        comparison, zone_of = _compare(ws, workspace, result.hosts, update, captures)
    graph = build_map(result.hosts, conversations(result.flows), zone_of)
    if map_svg:
        map_svg.write_text(render_map(graph), encoding="utf-8")
    if map_json:
        map_json.write_text(json.dumps(graph, indent=2), encoding="utf-8")
    saved = _save(workspace, result, graph, captures) if save and workspace is not None else None
    if fmt == "json":
        out = {
            "assets": [_public(h) for h in result.hosts],
            "flows": result.flows,
            "stats": result.stats,
            "problems": result.problems,
        }
        if comparison is not None:
            out["workspace"] = comparison
        print_json(out)
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            [
                "ip",
                "mac",
                "vendor",
                "model",
                "firmware",
                "serial",
                "name",
                "roles",
                "protocols",
                "first_seen",
                "last_seen",
                "packets",
            ]
        )
        for h in result.hosts:
            writer.writerow(
                [
                    h["ip"] or "",
                    h["mac"] or "",
                    h["vendor"] or "",
                    h["model"] or "",
                    h["firmware"] or "",
                    h["serial"] or "",
                    h["name"] or "",
                    " ".join(h["roles"]),
                    " ".join(h["protocols"]),
                    h["first_seen"],
                    h["last_seen"],
                    h["packets"],
                ]
            )
        print(buffer.getvalue(), end="")
    else:
        _print(result, comparison)
    if map_svg:
        err_console.print(f"communication map: {map_svg}")
    if saved:
        err_console.print(f"discovery run saved: {saved}", markup=False)
    unreadable = [p for p in result.problems if p.get("unreadable")]
    if unreadable:
        for p in unreadable:
            err_console.print(f"[bold red]error:[/] {escape(p['file'])}: {escape(p['problem'])}")
        raise typer.Exit(1)


def _save(workspace: Path, result: Any, graph: dict[str, Any], captures: list[Path]) -> Path:
    """Keep the run under ``workspace/discovery/`` (see traffic.record); reports embed the newest."""
    import datetime as dt

    from zonewarden.errors import ZoneWardenError
    from zonewarden.traffic.record import build_record, capture_facts, save

    try:
        facts = capture_facts(captures)
        record = build_record(
            result.hosts, result.flows, result.stats, result.problems, graph, facts, dt.datetime.now(dt.UTC)
        )
        return save(workspace, record)
    except OSError as exc:
        fail(f"cannot read a capture to hash it: {escape(str(exc))}", 1)
    except ZoneWardenError as exc:
        fail(escape(str(exc)), 1)
    raise AssertionError("unreachable")  # fail() exits


def _public(host: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in host.items() if k != "key"}


def _compare(ws: Any, workspace: Path, hosts: list[dict[str, Any]], update: bool, captures: list[Path]):
    from zonewarden.model.resolve import Resolver
    from zonewarden.traffic.compare import compare, host_zones
    from zonewarden.workspace.asset_update import append_discovered

    resolver = Resolver(ws.plant)  # built once: it indexes every asset and subnet
    comparison = compare(ws.plant, hosts, resolver)
    zone_of = host_zones(resolver, hosts)
    if update and comparison["unknown_hosts"]:
        by_ip = {h["ip"]: h for h in hosts}
        rows = [{**by_ip.get(u["ip"], {}), **u} for u in comparison["unknown_hosts"]]
        ids = append_discovered(workspace, rows, {a.id for a in ws.plant.assets}, ", ".join(c.name for c in captures))
        comparison["added"] = ids
        without_zone = [u["ip"] for u in comparison["unknown_hosts"] if not u.get("zone")]
        if without_zone:
            err_console.print(
                f"[yellow]{len(without_zone)} added host(s) are in no zone subnet; give them a zone "
                f"in assets.csv:[/] {', '.join(str(x) for x in without_zone[:10])}"
            )
    return comparison, zone_of


MAX_TABLE_HOSTS = 500  # a scan can leave tens of thousands of bare hosts: the table shows the telling ones


def _shown(hosts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most MAX_TABLE_HOSTS hosts, those with a role, protocol or identity first, in inventory order."""
    if len(hosts) <= MAX_TABLE_HOSTS:
        return hosts
    bare = [not (h["roles"] or h["protocols"] or h["vendor"] or h["model"]) for h in hosts]
    first = sorted(range(len(hosts)), key=bare.__getitem__)[:MAX_TABLE_HOSTS]  # stable: telling, then bare
    return [hosts[i] for i in sorted(first)]


def _print(result, comparison) -> None:
    shown = _shown(result.hosts)
    table = Table(title=f"{len(result.hosts)} hosts from {result.stats['packets']:,} packets", header_style="bold")
    if len(shown) < len(result.hosts):
        table.caption = (
            f"{len(shown)} of {len(result.hosts)} hosts shown (those with roles, protocols or identity first); "
            "--format json or csv lists them all"
        )
    for col in ("address", "mac", "vendor", "model", "firmware", "roles", "protocols"):
        table.add_column(col)
    for h in shown:
        table.add_row(
            escape(h["ip"] or h["key"]),
            h["mac"] or "-",
            escape(h["vendor"] or "-"),
            escape(h["model"] or "-"),
            escape(h["firmware"] or "-"),
            ", ".join(h["roles"]) or "-",
            escape(", ".join(h["protocols"][:6])),
        )
    console.print(table)
    stats = result.stats
    recognized = stats.get("recognized_flows") or {}
    console.print(
        f"{stats['flows']:,} flows; {stats['dissected_packets']:,} packets dissected; observations: "
        + ", ".join(f"{k} {v:,}" for k, v in stats["observations"].items())
        + (
            "; recognised by content on other ports: "
            + ", ".join(f"{k} {v:,} flow{'' if v == 1 else 's'}" for k, v in recognized.items())
            if recognized
            else ""
        ),
        markup=False,
    )
    for p in result.problems:
        if p.get("unreadable"):
            continue  # reported as an error at the end
        where = f" packet {p['packet']} at byte {p['offset']}" if p.get("packet") else ""
        err_console.print(f"[yellow]{escape(p['file'])}{where}:[/] {escape(p['problem'])}")
    if comparison is not None:
        console.print(
            f"Workspace: {len(comparison['unknown_hosts'])} hosts not in the model, "
            f"{len(comparison['unseen_assets'])} modelled assets not seen, "
            f"{len(comparison['mismatches'])} mismatches"
            + (f"; added {len(comparison['added'])} to assets.csv" if comparison.get("added") else "")
        )
        for m in comparison["mismatches"][:20]:
            console.print(
                f"  {m['asset']} ({m['ip']}): {m['field']} modelled '{m['model']}', seen '{m['seen']}'", markup=False
            )
