"""Checks across the plant, the risk register and the answers.

Pure over typed data; paths point into risk.yaml (``("@file", "risk.yaml", ...)``)
or an assessment file so the workspace layer can locate each finding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from zonewarden.assess.engine import conduit_requirement_ids
from zonewarden.assess.model import Assessment
from zonewarden.catalog import Catalog
from zonewarden.model.diagnostics import Diagnostic, did_you_mean
from zonewarden.model.plant import Plant
from zonewarden.risk.model import RiskModel

if TYPE_CHECKING:
    from zonewarden.workspace.load import Workspace

RISK = ("@file", "risk.yaml")


def validate_program(ws: Workspace, as_of: dt.date | None = None) -> list[Diagnostic]:
    """Shell adapter: gather the evidence files present, then run the pure checks."""
    from zonewarden.catalog import load_catalog

    evidence_dir = ws.root / "evidence"
    present = (
        {str(p.relative_to(ws.root)).replace("\\", "/") for p in evidence_dir.rglob("*") if p.is_file()}
        if evidence_dir.is_dir()
        else set()
    )
    assert ws.risk is not None
    day = as_of or dt.date.today()
    return list(check_program(ws.plant, ws.risk, ws.assessments, load_catalog(), present, day))


def check_program(
    plant: Plant,
    risk: RiskModel,
    assessments: list[tuple[str, Assessment]],
    catalog: Catalog,
    evidence_files: set[str],
    today: dt.date,
) -> Iterator[Diagnostic]:
    zones = {z.id for z in plant.zones}
    conduits = {c.id for c in plant.conduits}
    assets = {a.id for a in plant.assets}
    categories = set(risk.category_ids)
    yield from _risk(risk, zones, conduits, assets, categories)
    for zi, zone in enumerate(plant.zones):
        for ci, c in enumerate(zone.consequences):
            if c.category not in categories and c.category != "other":
                yield Diagnostic(
                    "warning",
                    "unknown-category",
                    f"consequence category '{c.category}' is not in the risk scales"
                    + did_you_mean(c.category, categories)
                    + "; it does not count towards SL-T",
                    f"zone {zone.id}",
                    ("zones", zi, "consequences", ci, "category"),
                )
    yield from _answers(assessments, zones, conduits, catalog, evidence_files, today)


def _risk(risk: RiskModel, zones: set[str], conduits: set[str], assets: set[str], categories: set[str]):
    seen: set[str] = set()
    max_sev, max_lik = risk.max_severity, len(risk.likelihood)
    for si, s in enumerate(risk.scenarios):
        obj, base = f"scenario {s.id}", (*RISK, "scenarios", si)
        if s.id in seen:
            yield Diagnostic("error", "duplicate-id", f"scenario id '{s.id}' is used twice", obj, (*base, "id"))
        seen.add(s.id)
        for key, known in (("zones", zones), ("conduits", conduits), ("assets", assets)):
            for i, ref in enumerate(getattr(s, key)):
                if ref not in known:
                    yield Diagnostic(
                        "error",
                        "unknown-ref",
                        f"{key[:-1]} '{ref}' is not defined" + did_you_mean(ref, known),
                        obj,
                        (*base, key, i),
                    )
        for key in ("consequences", "residual_consequences"):
            for category, severity in (getattr(s, key) or {}).items():
                if category not in categories:
                    yield Diagnostic(
                        "error",
                        "unknown-category",
                        f"consequence category '{category}' is not defined" + did_you_mean(category, categories),
                        obj,
                        (*base, key, category),
                    )
                elif not 1 <= severity <= max_sev:
                    yield Diagnostic(
                        "error",
                        "bad-severity",
                        f"severity {severity} is outside the scale 1-{max_sev}",
                        obj,
                        (*base, key, category),
                    )
        for key in ("likelihood", "residual_likelihood"):
            value = getattr(s, key)
            if value is not None and value > max_lik:
                yield Diagnostic(
                    "error", "bad-likelihood", f"{key} {value} is outside the scale 1-{max_lik}", obj, (*base, key)
                )
    for oi, o in enumerate(risk.overrides):
        kind, ident = o.target
        known = zones if kind == "zone" else conduits
        if ident not in known:
            yield Diagnostic(
                "error",
                "unknown-ref",
                f"{kind} '{ident}' is not defined" + did_you_mean(ident, known),
                f"override {oi + 1}",
                (*RISK, "overrides", oi, kind),
            )


def _answers(assessments, zones, conduits, catalog: Catalog, evidence_files: set[str], today: dt.date):
    boundary = conduit_requirement_ids(catalog)
    answered: dict[tuple[str, str, str], str] = {}
    for rel, a in assessments:
        kind, ident = a.target
        base = ("@file", rel)
        known = zones if kind == "zone" else conduits
        obj = f"{kind} {ident}"
        if ident not in known:
            yield Diagnostic(
                "error",
                "unknown-ref",
                f"{kind} '{ident}' is not defined" + did_you_mean(ident, known),
                obj,
                (*base, kind),
            )
            continue
        for rid, answer in a.answers.items():
            path = (*base, "answers", rid)
            key = (kind, ident, rid)
            if key in answered:
                yield Diagnostic("error", "duplicate-answer", f"{rid} is also answered in {answered[key]}", obj, path)
            answered.setdefault(key, rel)
            if kind == "conduit" and rid not in boundary:
                yield Diagnostic(
                    "warning",
                    "not-a-boundary-requirement",
                    f"{rid} is not a boundary requirement; answer it for the zones instead",
                    obj,
                    path,
                )
            if answer.status == "not-applicable" and not answer.justification:
                yield Diagnostic(
                    "warning",
                    "no-justification",
                    f"{rid} is not-applicable without a justification, so it does not count as met",
                    obj,
                    (*path, "status"),
                )
            if answer.status == "compensated" and not answer.compensation:
                yield Diagnostic(
                    "warning",
                    "no-compensation",
                    f"{rid} is compensated but names no compensating countermeasure, so it does not count as met",
                    obj,
                    (*path, "status"),
                )
            for ei, ev in enumerate(answer.evidence):
                epath = (*path, "evidence", ei)
                if ev.kind == "file" and ev.ref not in evidence_files and f"evidence/{ev.ref}" not in evidence_files:
                    yield Diagnostic(
                        "error",
                        "missing-evidence",
                        f"evidence file '{ev.ref}' is not in the workspace" + did_you_mean(ev.ref, evidence_files),
                        obj,
                        epath,
                    )
                if ev.expires is not None and ev.expires < today:
                    yield Diagnostic(
                        "warning",
                        "expired-evidence",
                        f"evidence '{ev.ref}' for {rid} expired on {ev.expires}",
                        obj,
                        epath,
                    )
