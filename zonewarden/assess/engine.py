"""The assessment engine: SL-T, SL-A, gaps, capability gaps, risk register, scorecard.

Pure: takes the typed plant, risk model, answers and catalog, returns plain
dataclasses. Documented in docs/assessment.md.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from zonewarden.assess.evaluate import evaluate
from zonewarden.assess.model import Answer, Assessment
from zonewarden.catalog import Catalog, Requirement
from zonewarden.model.plant import Plant
from zonewarden.model.resolve import Resolver
from zonewarden.model.sl import FRS, SLVector
from zonewarden.perf import paused_gc
from zonewarden.risk.exposure import Exposure, compute_exposure
from zonewarden.risk.model import RiskModel
from zonewarden.risk.slt import Target, derive_conduit_targets, derive_zone_targets

# Boundary requirements a conduit can be assessed against (with all their REs unless listed explicitly).
CONDUIT_REQUIREMENTS = ("SR 1.13", "SR 3.1", "SR 3.2 RE 1", "SR 4.1", "SR 5.2", "SR 7.1")


@dataclass(frozen=True)
class Gap:
    """A requirement that SL-T requires and the target does not meet."""

    kind: str  # zone | conduit
    target: str
    requirement: str
    fr: str
    sl: int
    reason: str


@dataclass
class FrScore:
    target: int | None
    achieved: int
    required: int = 0
    met: int = 0

    @property
    def gap(self) -> int:
        return max(0, (self.target or 0) - self.achieved)


@dataclass
class TargetResult:
    """Assessment of one zone or conduit."""

    kind: str
    id: str
    name: str
    slt: Target
    frs: dict[str, FrScore]
    gaps: list[Gap]
    answered: int
    assessed: bool
    risk_score: int = 0  # severity x likelihood, the zone's worst
    risk_level: str | None = None
    exposure: list[str] = field(default_factory=list)

    @property
    def sl_target(self) -> SLVector | None:
        return self.slt.vector

    @property
    def sl_achieved(self) -> SLVector:
        return SLVector(*(self.frs[fr].achieved for fr in FRS))

    @property
    def required(self) -> int:
        return sum(s.required for s in self.frs.values())

    @property
    def met(self) -> int:
        return sum(s.met for s in self.frs.values())

    @property
    def compliance(self) -> float | None:
        return self.met / self.required if self.required else None

    @property
    def meets_target(self) -> bool:
        return self.sl_target is not None and all(s.gap == 0 for s in self.frs.values())


@dataclass(frozen=True)
class CapabilityGap:
    """A component whose SL-C is below its zone's SL-T for an FR (62443-4-2 capability gap)."""

    asset: str
    zone: str
    fr: str
    sl_c: int
    sl_t: int


@dataclass(frozen=True)
class ScenarioResult:
    id: str
    title: str
    zones: tuple[str, ...]
    conduits: tuple[str, ...]
    vector: str | None
    likelihood: int
    severity: int
    risk: str
    residual_likelihood: int
    residual_severity: int
    residual_risk: str
    tolerable: bool
    residual_tolerable: bool


@dataclass
class AssessmentResult:
    as_of: dt.date
    zones: list[TargetResult]
    conduits: list[TargetResult]
    capability_gaps: list[CapabilityGap]
    scenarios: list[ScenarioResult]
    exposure: Exposure
    catalog_version: str
    conduit_zones: dict[str, list[str]] = field(default_factory=dict)
    conduit_targets: dict[str, Target] = field(default_factory=dict)

    @property
    def gaps(self) -> list[Gap]:
        return [g for t in (*self.zones, *self.conduits) for g in t.gaps]

    def program(self) -> dict[str, float | int]:
        """Program figures: share of zones with an SL-T and meeting it, open non-conformities."""
        total = len(self.zones)
        with_target = [z for z in self.zones if z.sl_target is not None]
        meeting = [z for z in with_target if z.meets_target]
        required = sum(z.required for z in with_target)
        met = sum(z.met for z in with_target)
        return {
            "zones": total,
            "zones_with_sl_target": len(with_target),
            "zones_with_sl_target_pct": round(100 * len(with_target) / total, 1) if total else 0.0,
            "zones_meeting_sl_target": len(meeting),
            "zones_meeting_sl_target_pct": round(100 * len(meeting) / len(with_target), 1) if with_target else 0.0,
            "requirements_required": required,
            "requirements_met": met,
            "compliance_pct": round(100 * met / required, 1) if required else 0.0,
            "open_nonconformities": len(self.gaps),
            "capability_gaps": len(self.capability_gaps),
            "scenarios_above_tolerable": sum(1 for s in self.scenarios if not s.residual_tolerable),
        }


def conduit_requirement_ids(catalog: Catalog) -> set[str]:
    out: set[str] = set()
    for rid in CONDUIT_REQUIREMENTS:
        out.add(rid)
        if " RE " not in rid:
            out.update(r.id for r in catalog.requirements.values() if r.parent == rid)
    return out


def merge_answers(assessments: list[Assessment]) -> dict[tuple[str, str], dict[str, Answer]]:
    """(kind, id) -> requirement id -> answer (later files win; the loader reports duplicates)."""
    merged: dict[tuple[str, str], dict[str, Answer]] = defaultdict(dict)
    for assessment in assessments:
        for rid, answer in assessment.answers.items():
            merged[assessment.target][rid] = answer
    return merged


def _score(
    kind: str,
    ident: str,
    name: str,
    slt: Target,
    requirements: list[Requirement],
    answers: dict[str, Answer],
    as_of: dt.date,
    assessed: bool,
) -> TargetResult:
    vector = slt.vector
    met: dict[str, bool] = {}
    reasons: dict[str, str] = {}
    for req in requirements:
        ok, why = evaluate(answers.get(req.id), as_of)
        met[req.id], reasons[req.id] = ok, why
    by_fr: dict[str, list[Requirement]] = defaultdict(list)
    for req in requirements:
        by_fr[req.fr].append(req)
    frs: dict[str, FrScore] = {}
    gaps: list[Gap] = []
    for fr in FRS:
        reqs = by_fr.get(fr, [])
        achieved = 0
        for level in range(1, 5):
            at_level = [r for r in reqs if r.sl <= level]
            if not at_level or not all(met[r.id] for r in at_level):
                break
            achieved = level
        target = vector.get(fr) if vector is not None else None
        if not reqs:  # e.g. a conduit has no boundary requirement in this FR: nothing to achieve or miss
            frs[fr] = FrScore(None, achieved)
            continue
        score = FrScore(target, achieved)
        if target:
            required = [r for r in reqs if r.sl <= target]
            score.required = len(required)
            score.met = sum(1 for r in required if met[r.id])
            gaps.extend(Gap(kind, ident, r.id, fr, r.sl, reasons[r.id]) for r in required if not met[r.id])
        frs[fr] = score
    return TargetResult(kind, ident, name, slt, frs, gaps, sum(1 for r in requirements if r.id in answers), assessed)


def assess(
    plant: Plant,
    risk: RiskModel,
    assessments: list[Assessment],
    catalog: Catalog,
    as_of: dt.date | None = None,
    resolver: Resolver | None = None,
) -> AssessmentResult:
    """Run the whole assessment as of ``as_of`` (default today)."""
    with paused_gc():
        return _assess(plant, risk, assessments, catalog, as_of, resolver)


def _assess(
    plant: Plant,
    risk: RiskModel,
    assessments: list[Assessment],
    catalog: Catalog,
    as_of: dt.date | None,
    resolver: Resolver | None,
) -> AssessmentResult:
    as_of = as_of or dt.date.today()
    resolver = resolver or Resolver(plant)
    vectors: dict[str, set[str]] = defaultdict(set)
    for scenario in risk.scenarios:
        for zone_id in scenario.zones:
            if scenario.vector:
                vectors[zone_id].add(scenario.vector)
    exposure = compute_exposure(plant, resolver, vectors)
    zone_targets = derive_zone_targets(plant, risk, exposure)
    conduit_targets = derive_conduit_targets(plant, risk, zone_targets)
    answers = merge_answers(assessments)
    system_reqs = [r for r in catalog.requirements.values() if r.standard == "62443-3-3"]
    boundary_ids = conduit_requirement_ids(catalog)
    boundary_reqs = [r for r in system_reqs if r.id in boundary_ids]
    scenarios = _scenarios(risk)

    zones: list[TargetResult] = []
    for zone in plant.zones:
        found = answers.get(("zone", zone.id), {})
        result = _score("zone", zone.id, zone.label, zone_targets[zone.id], system_reqs, found, as_of, bool(found))
        result.risk_score, result.risk_level = _zone_risk(zone.id, zone_targets[zone.id], risk, scenarios)
        result.exposure = [
            p.describe() for p in (exposure.from_untrusted.get(zone.id), exposure.from_remote_access.get(zone.id)) if p
        ]
        result.exposure += [
            why for why in (exposure.wireless.get(zone.id), exposure.removable_media.get(zone.id)) if why
        ]
        zones.append(result)
    conduits: list[TargetResult] = []
    for conduit in plant.conduits:
        key = ("conduit", conduit.id)
        if key in answers:
            conduits.append(
                _score(
                    "conduit",
                    conduit.id,
                    conduit.label,
                    conduit_targets[conduit.id],
                    boundary_reqs,
                    answers[key],
                    as_of,
                    True,
                )
            )
    capability = _capability_gaps(plant, resolver, zone_targets)
    conduit_zones = {c.id: list(c.zones) for c in plant.conduits}
    return AssessmentResult(
        as_of, zones, conduits, capability, scenarios, exposure, catalog.version, conduit_zones, conduit_targets
    )


def _scenarios(risk: RiskModel) -> list[ScenarioResult]:
    out = []
    for s in risk.scenarios:
        severity = max(s.consequences.values(), default=1)
        residual_severity = max((s.residual_consequences or s.consequences).values(), default=1)
        residual_likelihood = s.residual_likelihood or s.likelihood
        level = risk.risk(s.likelihood, severity)
        residual = risk.risk(residual_likelihood, residual_severity)
        out.append(
            ScenarioResult(
                s.id,
                s.title,
                tuple(s.zones),
                tuple(s.conduits),
                s.vector,
                s.likelihood,
                severity,
                level,
                residual_likelihood,
                residual_severity,
                residual,
                risk.tolerable_level(level),
                risk.tolerable_level(residual),
            )
        )
    return out


def _zone_risk(
    zone_id: str, target: Target, risk: RiskModel, scenarios: list[ScenarioResult]
) -> tuple[int, str | None]:
    """Worst residual severity x likelihood of the scenarios against the zone; without scenarios,
    its worst consequence at the middle likelihood."""
    mine = [s for s in scenarios if zone_id in s.zones]
    if mine:
        worst = max(mine, key=lambda s: (s.residual_severity * s.residual_likelihood, s.residual_severity))
        return worst.residual_severity * worst.residual_likelihood, worst.residual_risk
    if target.consequences:
        severity = max(c.severity for c in target.consequences)
        middle = (len(risk.likelihood) + 1) // 2
        return severity * middle, risk.risk(middle, severity)
    return 0, None


def _capability_gaps(plant: Plant, resolver: Resolver, targets: dict[str, Target]) -> list[CapabilityGap]:
    out = []
    for asset in plant.assets:
        zone = resolver.zone_of.get(asset.id)
        if asset.sl_c is None or zone not in targets:
            continue
        vector = targets[zone].vector
        if vector is None:
            continue
        for fr in FRS:
            if asset.sl_c.get(fr) < vector.get(fr):
                out.append(CapabilityGap(asset.id, zone, fr, asset.sl_c.get(fr), vector.get(fr)))
    return out
