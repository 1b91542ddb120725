"""The remediation backlog: gaps turned into ranked work items.

Ranking (docs/assessment.md): each gap contributes

    risk weight x (1 + FR gap) x exposure factor x level weight

where risk weight is the zone's worst severity x likelihood over the matrix
maximum, FR gap is SL-T minus SL-A for the gap's FR, exposure factor is 1.5 for
a zone reachable from an untrusted or remote-access zone (else 1), and level
weight is (5 - lowest SL) / 4, so foundation requirements come first. An
item's score is 100 x the sum of its gaps' contributions. Requirements whose
hint scope is ``program`` (fixed once, e.g. central logging, MFA) become one
item for all zones; ``zone`` scope gives one item per zone or conduit. Quick
wins (authentication, segmentation or remote access, effort S or M) lead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zonewarden.assess.engine import AssessmentResult, Gap, TargetResult
from zonewarden.assess.hints import QUICK_WIN_TAGS, hint_for
from zonewarden.catalog import Catalog

EXPOSED_FACTOR = 1.5


@dataclass
class BacklogItem:
    rank: int
    requirement: str
    title: str
    action: str
    fr: str
    sl: int
    effort: str
    scope: str
    quick_win: bool
    score: float
    targets: list[str] = field(default_factory=list)  # "zone:scada", "conduit:x"
    reasons: dict[str, str] = field(default_factory=dict)  # target -> why it is a gap
    tags: tuple[str, ...] = ()


def gap_weight(gap: Gap, owner: TargetResult, max_risk: int) -> float:
    risk_weight = (owner.risk_score / max_risk) if max_risk else 0.0
    risk_weight = max(risk_weight, 0.04)  # a zone without any risk data still counts a little
    fr_gap = owner.frs[gap.fr].gap
    exposed = EXPOSED_FACTOR if owner.exposure else 1.0
    level_weight = (5 - gap.sl) / 4
    return risk_weight * (1 + fr_gap) * exposed * level_weight


def build_backlog(result: AssessmentResult, catalog: Catalog, max_risk: int = 25) -> list[BacklogItem]:
    """Work items ranked: quick wins first, each group by descending score."""
    owners = {(t.kind, t.id): t for t in (*result.zones, *result.conduits)}
    zone_risk = {z.id: z for z in result.zones}
    items: dict[tuple[str, ...], BacklogItem] = {}
    for gap in result.gaps:
        req = catalog.requirements[gap.requirement]
        hint = hint_for(req.id, req.title)
        owner = owners[(gap.kind, gap.target)]
        if gap.kind == "conduit":
            # A conduit inherits the risk and exposure of the zones it joins.
            joined = [zone_risk[z] for z in result.conduit_zones.get(gap.target, []) if z in zone_risk]
            if joined:
                worst = max(joined, key=lambda z: z.risk_score)
                owner = TargetResult(
                    owner.kind,
                    owner.id,
                    owner.name,
                    owner.slt,
                    owner.frs,
                    owner.gaps,
                    owner.answered,
                    owner.assessed,
                    worst.risk_score,
                    worst.risk_level,
                    [e for z in joined for e in z.exposure],
                )
        key = (req.id,) if hint.scope == "program" else (req.id, gap.kind, gap.target)
        item = items.get(key)
        if item is None:
            quick = bool(QUICK_WIN_TAGS & set(req.tags)) and hint.effort in ("S", "M")
            item = items[key] = BacklogItem(
                0, req.id, req.title, hint.action, req.fr, req.sl, hint.effort, hint.scope, quick, 0.0, tags=req.tags
            )
        target = f"{gap.kind}:{gap.target}"
        item.targets.append(target)
        item.reasons[target] = gap.reason
        item.score += 100 * gap_weight(gap, owner, max_risk)
    ordered = sorted(items.values(), key=lambda i: (not i.quick_win, -round(i.score, 6), _order(i.requirement)))
    for rank, item in enumerate(ordered, start=1):
        item.rank = rank
        item.score = round(item.score, 1)
    return ordered


def _order(req_id: str) -> tuple:
    from zonewarden.catalog import sort_key

    return sort_key(req_id)
