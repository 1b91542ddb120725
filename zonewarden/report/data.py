"""The complete computed result of a workspace, as one JSON-ready document.

Every report format renders this document (or the objects it is built from);
`zonewarden report --format json` writes it as is. Its schema is
`docs/schema/report.schema.json`.
"""

from __future__ import annotations

from typing import Any

from zonewarden import __version__
from zonewarden.assess.backlog import BacklogItem, build_backlog
from zonewarden.assess.engine import AssessmentResult, merge_answers
from zonewarden.assess.serialize import backlog_dict, result_dict
from zonewarden.catalog import Catalog
from zonewarden.model.resolve import Resolver
from zonewarden.model.sl import FR_ABBREV, FRS
from zonewarden.report.discovery import discovery_section
from zonewarden.workspace.load import Workspace

REPORT_FORMAT = "zonewarden-report-1"


def build_report(
    ws: Workspace, result: AssessmentResult, catalog: Catalog, backlog: list[BacklogItem] | None = None
) -> dict[str, Any]:
    """Everything a report shows: site, plant, risk, SL-T/SL-A, answers, gaps, backlog, the communication
    map of the newest saved discovery run, sources.

    Deterministic for a given workspace and ``result.as_of`` (no clock reads), so it can be
    compared with golden files."""
    backlog = backlog if backlog is not None else build_backlog(result, catalog)
    plant = ws.plant
    resolver = Resolver(plant)
    answers = merge_answers([a for _, a in ws.assessments])
    data = result_dict(result)
    zones_by_id = {z.id: z for z in plant.zones}
    members = resolver.members()
    for zone in data["zones"]:
        model = zones_by_id[zone["id"]]
        zone["purdue_level"] = model.purdue_level
        zone["kind"] = model.kind.value if model.kind else None
        zone["description"] = model.description
        zone["owner"] = model.owner
        zone["subnets"] = [str(n) for n in model.subnets]
        zone["assets"] = sorted(members.get(zone["id"], []))
        zone["requirements"] = _requirement_rows(catalog, zone, answers.get(("zone", zone["id"]), {}))
    for conduit in data["conduits"]:
        conduit["requirements"] = _requirement_rows(
            catalog, conduit, answers.get(("conduit", conduit["id"]), {}), only_answered=True
        )
    return {
        "format": REPORT_FORMAT,
        "tool_version": __version__,
        "catalog_version": catalog.version,
        "as_of": result.as_of.isoformat(),
        "site": plant.site.model_dump(mode="json", exclude_none=True),
        "frs": [{"id": fr, "abbrev": FR_ABBREV[fr], "name": catalog.frs[fr].name} for fr in FRS],
        "plant": {
            "zones": [z.model_dump(mode="json", by_alias=True, exclude_none=True) for z in plant.zones],
            "conduits": [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in plant.conduits],
            "assets": [
                {
                    **a.model_dump(mode="json", by_alias=True, exclude_none=True),
                    "zone": resolver.zone_of.get(a.id),
                    "component_type": a.effective_component_type.value if a.effective_component_type else None,
                }
                for a in plant.assets
            ],
        },
        "risk": {
            "levels": [r.model_dump() for r in ws.risk.risk_levels] if ws.risk else [],
            "matrix": ws.risk.matrix if ws.risk else [],
            "likelihood": {str(k): v for k, v in ws.risk.likelihood.items()} if ws.risk else {},
            "tolerable": ws.risk.tolerable if ws.risk else None,
            "categories": [{"id": c.id, "name": c.name} for c in ws.risk.categories] if ws.risk else [],
        },
        **data,
        "backlog": [backlog_dict(i) for i in backlog],
        "discovery": discovery_section(ws, resolver, result.as_of),
        "sources": {std: f"IEC {std}:{edition}" for std, edition in catalog.sources.items()},
    }


def _requirement_rows(catalog: Catalog, target: dict[str, Any], answers: dict, only_answered: bool = False) -> list:
    """The requirement table of a zone or conduit: what SL-T requires plus anything answered."""
    sl_target = target.get("sl_target") or {}
    gaps = {g["requirement"]: g["reason"] for g in target.get("gap_details", [])}
    rows = []
    for req in catalog.requirements.values():
        if req.standard != "62443-3-3":
            continue
        required = bool(sl_target.get(req.fr)) and req.sl <= (sl_target.get(req.fr) or 0)
        answer = answers.get(req.id)
        if only_answered and answer is None:
            continue
        if not required and answer is None:
            continue
        rows.append(
            {
                "id": req.id,
                "fr": req.fr,
                "sl": req.sl,
                "title": req.title,
                "required": required,
                "status": answer.status if answer else None,
                "met": req.id not in gaps if required else None,
                "reason": gaps.get(req.id),
                "method": answer.method if answer else None,
                "evidence": [e.model_dump(mode="json", exclude_none=True) for e in answer.evidence] if answer else [],
                "justification": answer.justification if answer else None,
                "compensation": answer.compensation if answer else None,
                "note": answer.note if answer else None,
            }
        )
    return rows
