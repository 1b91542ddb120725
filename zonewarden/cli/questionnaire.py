"""`zonewarden questionnaire`: Excel workshop questionnaires out, answers back in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zonewarden.catalog import load_catalog, sort_key
from zonewarden.cli.output import console, err_console, fail
from zonewarden.errors import InputError
from zonewarden.workspace.program_files import ASSESSMENT_DIR


def questionnaire(
    args: Annotated[list[str], typer.Argument(metavar="WORKSPACE | import FILE.xlsx WORKSPACE")],
    zone: Annotated[str | None, typer.Option("--zone", help="the zone to ask about")] = None,
    conduit: Annotated[str | None, typer.Option("--conduit", help="or a conduit (boundary requirements)")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="workbook to write (.xlsx)")] = None,
) -> None:
    """Write an Excel questionnaire of every SR/RE a zone's SL-T needs, or import a filled one.

    zonewarden questionnaire WORKSPACE --zone Z -o q.xlsx
    zonewarden questionnaire import q.xlsx WORKSPACE"""
    if args and args[0] == "import":
        if len(args) != 3:
            fail("usage: zonewarden questionnaire import FILE.xlsx WORKSPACE", 2)
        _import(Path(args[1]), Path(args[2]))
        return
    if len(args) != 1:
        fail("usage: zonewarden questionnaire WORKSPACE --zone Z -o FILE.xlsx", 2)
    if (zone is None) == (conduit is None):
        fail("name exactly one of --zone or --conduit", 2)
    _export(Path(args[0]), "zone" if zone else "conduit", zone or conduit or "", output)


def _export(workspace: Path, kind: str, ident: str, output: Path | None) -> None:
    from zonewarden.assess.engine import conduit_requirement_ids, merge_answers
    from zonewarden.cli.assess import run
    from zonewarden.model.diagnostics import did_you_mean
    from zonewarden.workspace.questionnaire import export_questionnaire

    ws, result, catalog = run(workspace, None)
    targets = {t.id: t for t in (result.zones if kind == "zone" else [])}
    if kind == "conduit":
        known = {c.id for c in ws.plant.conduits}
        if ident not in known:
            fail(f"no conduit '{ident}' in the workspace{did_you_mean(ident, known)}", 2)
        slt = result.conduit_targets[ident]
        name = next(c.label for c in ws.plant.conduits if c.id == ident)
        pool = conduit_requirement_ids(catalog)
    else:
        if ident not in targets:
            fail(f"no zone '{ident}' in the workspace{did_you_mean(ident, targets)}", 2)
        slt = targets[ident].slt
        name = targets[ident].name
        pool = None
    vector = slt.vector
    if vector is None:
        fail(f"{kind} '{ident}' has no SL-T yet: record its consequences (or sl_t) first; see: zonewarden risk", 1)
        raise AssertionError
    answers = merge_answers([a for _, a in ws.assessments]).get((kind, ident), {})
    requirements = [
        r
        for r in catalog.requirements.values()
        if r.standard == "62443-3-3"
        and (pool is None or r.id in pool)
        and (r.sl <= vector.get(r.fr) or r.id in answers)
    ]
    output = output or Path(f"questionnaire-{ident}.xlsx")
    rows = export_questionnaire(output, kind, ident, name, vector, requirements, answers, catalog, slt.rationale())
    console.print(
        f"Wrote {output}: {rows} requirements for {kind} {ident} at SL-T {vector} ({len(answers)} already answered).",
        markup=False,
    )


def _import(workbook: Path, workspace: Path) -> None:
    from zonewarden.workspace.load import load_workspace
    from zonewarden.workspace.questionnaire import cell_name, read_questionnaire, write_answers

    if not workbook.is_file():
        fail(f"'{workbook}' does not exist", 2)
    if not workspace.is_dir():
        fail(f"workspace '{workspace}' does not exist", 2)
    catalog = load_catalog()
    ids = {r.id for r in catalog.requirements.values() if r.standard == "62443-3-3"}
    try:
        imported = read_questionnaire(workbook, ids)
    except InputError as exc:
        fail(str(exc), 1)
        raise
    ws = load_workspace(workspace)
    known = {z.id for z in ws.plant.zones} if imported.kind == "zone" else {c.id for c in ws.plant.conduits}
    if imported.target not in known:
        fail(f"{workbook}: {imported.kind} '{imported.target}' is not in workspace '{workspace}'", 1)
    existing = [rel for rel, a in ws.assessments if a.target == (imported.kind, imported.target)]
    stem = imported.target if imported.kind == "zone" else f"conduit-{imported.target}"
    file = workspace / (existing[0] if existing else f"{ASSESSMENT_DIR}/{stem}.yaml")
    order = sorted(imported.answers, key=sort_key)
    if imported.answers:
        write_answers(file, imported.kind, imported.target, imported.answers, order)
    for error in imported.errors:
        where = f"{error.location.file} {cell_name(error.location)}" if error.location else str(workbook)
        err_console.print(f"{where}: {error.message}", markup=False, soft_wrap=True)
    console.print(
        f"Imported {len(imported.answers)} answers for {imported.kind} {imported.target} into "
        f"{file.relative_to(workspace)}; {imported.blank} rows left blank; {len(imported.errors)} rows with errors "
        "(not imported; the file keeps their previous answers).",
        markup=False,
    )
    if imported.errors:
        raise typer.Exit(1)
