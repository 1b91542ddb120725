"""Assessment results as plain JSON-ready data (the contract of `assess --format json`)."""

from __future__ import annotations

from typing import Any

from zonewarden.assess.backlog import BacklogItem
from zonewarden.assess.engine import AssessmentResult, TargetResult
from zonewarden.model.sl import FRS


def _levels(values: dict[str, int | None]) -> dict[str, int | None]:
    return {fr: values[fr] for fr in FRS}


def target_dict(t: TargetResult) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "kind": t.kind,
        "sl_target": _levels({fr: t.frs[fr].target for fr in FRS}) if t.sl_target is not None else None,
        "sl_achieved": _levels({fr: t.frs[fr].achieved for fr in FRS}),
        "sl_target_source": {fr: t.slt.frs[fr].source for fr in FRS},
        "sl_target_overridden": t.slt.overridden,
        "rationale": t.slt.rationale(),
        "compliance": round(t.compliance, 4) if t.compliance is not None else None,
        "required": t.required,
        "met": t.met,
        "meets_target": t.meets_target,
        "assessed": t.assessed,
        "answered": t.answered,
        "gaps": [g.requirement for g in t.gaps],
        "gap_details": [{"requirement": g.requirement, "fr": g.fr, "sl": g.sl, "reason": g.reason} for g in t.gaps],
        "per_fr": {
            fr: {"target": s.target, "achieved": s.achieved, "gap": s.gap, "required": s.required, "met": s.met}
            for fr, s in t.frs.items()
        },
        "risk_score": t.risk_score,
        "risk_level": t.risk_level,
        "exposure": t.exposure,
        "consequences": [
            {"category": c.category, "severity": c.severity, "description": c.description, "source": c.source}
            for c in t.slt.consequences
        ],
    }


def result_dict(result: AssessmentResult) -> dict[str, Any]:
    return {
        "as_of": result.as_of.isoformat(),
        "catalog_version": result.catalog_version,
        "program": result.program(),
        "zones": [target_dict(z) for z in result.zones],
        "conduits": [target_dict(c) for c in result.conduits],
        "conduit_sl_targets": {
            cid: {
                "sl_target": t.vector.as_dict() if t.vector else None,
                "source": {fr: t.frs[fr].source for fr in FRS},
                "rationale": t.rationale(),
            }
            for cid, t in result.conduit_targets.items()
        },
        "capability_gaps": [
            {"asset": g.asset, "zone": g.zone, "fr": g.fr, "sl_c": g.sl_c, "sl_t": g.sl_t}
            for g in result.capability_gaps
        ],
        "scenarios": [
            {
                "id": s.id,
                "title": s.title,
                "zones": list(s.zones),
                "conduits": list(s.conduits),
                "vector": s.vector,
                "likelihood": s.likelihood,
                "severity": s.severity,
                "risk": s.risk,
                "tolerable": s.tolerable,
                "residual_likelihood": s.residual_likelihood,
                "residual_severity": s.residual_severity,
                "residual_risk": s.residual_risk,
                "residual_tolerable": s.residual_tolerable,
            }
            for s in result.scenarios
        ],
    }


def backlog_dict(item: BacklogItem) -> dict[str, Any]:
    return {
        "rank": item.rank,
        "requirement": item.requirement,
        "title": item.title,
        "action": item.action,
        "fr": item.fr,
        "sl": item.sl,
        "effort": item.effort,
        "scope": item.scope,
        "quick_win": item.quick_win,
        "score": item.score,
        "targets": item.targets,
        "reasons": item.reasons,
        "tags": list(item.tags),
    }
