"""`zonewarden catalog ...`: browse the IEC 62443 catalog."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from zonewarden.catalog import filter_requirements, find, load_catalog
from zonewarden.catalog.ids import canonical_id
from zonewarden.catalog.query import children
from zonewarden.cli.output import console, fail, sl_cell
from zonewarden.errors import UnknownIdError

app = typer.Typer(
    help="Browse the IEC 62443 catalog: 62443-3-3 SR/RE, 62443-4-2 CR, 62443-3-2 ZCR, security levels.",
    no_args_is_help=True,
)

OverlayOpt = Annotated[
    Path | None,
    typer.Option(
        "--overlay",
        envvar="ZONEWARDEN_CATALOG_OVERLAY",
        exists=True,
        dir_okay=False,
        help="YAML file with the text of your own licensed copy (id: text); never shipped",
    ),
]


@app.command("list")
def list_(
    standard: Annotated[str | None, typer.Option(help="62443-3-3 or 62443-4-2")] = None,
    sl: Annotated[
        int | None, typer.Option(help="only what is required at this SL (lowest SL <= N)", min=1, max=4)
    ] = None,
    fr: Annotated[str | None, typer.Option(help="FR1..FR7 or IAC, UC, SI, DC, RDF, TRE, RA")] = None,
    component_type: Annotated[
        str | None,
        typer.Option(
            help="62443-4-2 component type: software-application, embedded-device, host-device, network-device"
        ),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="SR, RE, CR, SAR, EDR, HDR or NDR")] = None,
    tag: Annotated[str | None, typer.Option(help="e.g. authentication, segmentation, remote-access")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    overlay: OverlayOpt = None,
) -> None:
    """List requirements, filtered."""
    if fmt not in ("table", "json", "csv"):
        fail(f"unknown format '{fmt}' (use table, json or csv)", 2)
    catalog = load_catalog(overlay)
    if tag is not None and tag not in {t for r in catalog.requirements.values() for t in r.tags}:
        from zonewarden.catalog import TAGS

        fail(f"unknown tag '{tag}' (tags: {', '.join(TAGS)})", 2)
    try:
        reqs = filter_requirements(
            catalog, standard=standard, sl=sl, fr=fr, component_type=component_type, kind=kind, tag=tag
        )
    except ValueError as exc:
        fail(str(exc), 2)
    if fmt == "json":
        print(json.dumps([r.as_dict() for r in reqs], indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            ["id", "standard", "kind", "parent", "fr", "title", "sl", "component_types", "tags", "description"]
        )
        for r in reqs:
            writer.writerow(
                [
                    r.id,
                    f"IEC {r.standard}",
                    r.kind,
                    r.parent or "",
                    r.fr,
                    r.title,
                    r.sl,
                    ";".join(r.component_types),
                    ";".join(r.tags),
                    r.description,
                ]
            )
        print(buffer.getvalue(), end="")
        return
    table = Table(title=f"{len(reqs)} requirements", show_lines=False, header_style="bold")
    table.add_column("id", no_wrap=True)
    table.add_column("FR", no_wrap=True)
    table.add_column("SL", justify="center")
    table.add_column("title")
    show_ct = any(r.standard == "62443-4-2" for r in reqs)
    if show_ct:
        table.add_column("component types")
    table.add_column("tags", style="dim")
    for r in reqs:
        title = ("  " + r.title) if r.kind == "RE" else r.title
        row = [r.id, f"{r.fr} {catalog.frs[r.fr].abbrev}", sl_cell(r.sl), title]
        if show_ct:
            row.append("all" if len(r.component_types) == 4 else ", ".join(r.component_types))
        row.append(", ".join(r.tags))
        table.add_row(*row)
    console.print(table)


@app.command()
def show(
    ident: Annotated[str, typer.Argument(metavar="ID", help="e.g. 'SR 1.1', 'SR 1.1 RE 2', 'CR 2.1', FR5, 'ZCR 5'")],
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    overlay: OverlayOpt = None,
) -> None:
    """Show one requirement, foundational requirement or ZCR."""
    catalog = load_catalog(overlay)
    key = ident.strip().upper().replace(" ", "")
    if key in catalog.frs or key in {fr.abbrev for fr in catalog.frs.values()}:
        fr = catalog.frs.get(key) or next(f for f in catalog.frs.values() if f.abbrev == key)
        reqs = filter_requirements(catalog, fr=fr.id)
        if fmt == "json":
            print(
                json.dumps(
                    {
                        "id": fr.id,
                        "kind": "FR",
                        "abbrev": fr.abbrev,
                        "name": fr.name,
                        "description": fr.description,
                        "requirements": [r.id for r in reqs],
                    },
                    indent=2,
                )
            )
            return
        console.print(f"[bold]{fr.id} {fr.abbrev}: {escape(fr.name)}[/]\n{escape(fr.description)}\n")
        for r in reqs:
            console.print(f"  {'  ' if r.kind == 'RE' else ''}{r.id:<16} SL{r.sl}  {r.title}", markup=False)
        return
    cid = canonical_id(ident)
    if cid and cid.startswith("ZCR"):
        for zcr in catalog.zcrs:
            for item in (zcr, *zcr.steps):
                if item.id == cid:
                    steps = list(zcr.steps) if item is zcr else []
                    if fmt == "json":
                        print(
                            json.dumps(
                                {
                                    "id": item.id,
                                    "kind": "ZCR",
                                    "title": item.title,
                                    "description": item.description,
                                    "steps": [{"id": s.id, "title": s.title} for s in steps],
                                },
                                indent=2,
                            )
                        )
                        return
                    heading = f"[bold]{item.id}: {escape(item.title)}[/] (IEC 62443-3-2)"
                    console.print(f"{heading}\n{escape(item.description)}")
                    for step in steps:
                        console.print(f"  {step.id:<9} {step.title}", markup=False)
                    return
        fail(f"no '{ident}' in IEC 62443-3-2 (ZCR 1..7)", 1)
    try:
        req = find(catalog, ident)
    except UnknownIdError as exc:
        fail(str(exc), 1)
    kids = children(catalog, req.id)
    if fmt == "json":
        out = req.as_dict()
        out["enhancements"] = [k.id for k in kids]
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return
    fr = catalog.frs[req.fr]
    console.print(f"[bold]{req.id}: {escape(req.title)}[/]")
    console.print(f"IEC {req.standard}  {req.kind}  {fr.id} {fr.abbrev} ({fr.name})  lowest SL: {req.sl}")
    if req.parent:
        console.print(f"enhances: {req.parent} {catalog.requirements[req.parent].title}")
    if req.component_types:
        console.print(f"component types: {', '.join(req.component_types)}")
    console.print(f"tags: {', '.join(req.tags) or '-'}")
    console.print(f"\n{req.description}", markup=False)
    if req.text:
        console.print(f"\n[bold]Text (your overlay):[/]\n{escape(req.text)}")
    if kids:
        console.print("\nEnhancements:")
        for k in kids:
            console.print(f"  {k.id:<16} SL{k.sl}  {k.title}", markup=False)


@app.command()
def levels() -> None:
    """Security levels 0-4 and the SL-T / SL-C / SL-A notions."""
    catalog = load_catalog()
    table = Table(title="Security levels (IEC 62443)", header_style="bold", show_lines=True)
    for col in ("SL", "protects against", "means", "resources", "skills", "motivation"):
        table.add_column(col)
    for sl in catalog.security_levels:
        table.add_row(sl_cell(sl.level), sl.name, sl.means, sl.resources, sl.skills, sl.motivation)
    console.print(table)
    for t in catalog.sl_types:
        console.print(f"[bold]{t.id}[/] {escape(t.name)}: {escape(t.description)}")


@app.command()
def zcr() -> None:
    """The IEC 62443-3-2 zone and conduit requirements (ZCR 1..7) and their steps."""
    catalog = load_catalog()
    for z in catalog.zcrs:
        console.print(f"[bold]{z.id}[/] {escape(z.title)}")
        for step in z.steps:
            console.print(f"  {step.id:<9} {step.title}", markup=False)
