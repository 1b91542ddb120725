"""Consequence-first SL-T (IEC 62443-3-2 ZCR 5.6), with a rationale for every FR.

Order of precedence per FR: a recorded override (risk.yaml ``overrides``), else
the level derived from the zone's worst credible consequences raised by its
exposure (``sl_rules``), else the ``sl_t`` declared by hand in plant.yaml.
Exposure only raises a level that consequences already set: attacker reach
alone never sets SL-T.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from zonewarden.model.plant import Plant
from zonewarden.model.sl import FR_ABBREV, FRS, SLVector
from zonewarden.risk.exposure import Exposure, Path
from zonewarden.risk.model import ExposureRule, Override, RiskModel


@dataclass(frozen=True)
class Consequence:
    """One credible consequence of compromising a zone."""

    category: str
    severity: int
    description: str
    source: str  # "plant.yaml" or "scenario S1"


@dataclass
class FrTarget:
    fr: str
    level: int | None
    source: str  # derived, declared, override, none
    reasons: list[str] = field(default_factory=list)

    def rationale(self) -> str:
        head = f"{self.fr} {FR_ABBREV[self.fr]} = {self.level if self.level is not None else '-'}"
        return head + (": " + "; ".join(self.reasons) if self.reasons else "")


@dataclass
class Target:
    """The SL-T of a zone or conduit, per FR, with where each level came from."""

    kind: str  # zone | conduit
    id: str
    frs: dict[str, FrTarget]
    consequences: list[Consequence] = field(default_factory=list)

    @property
    def vector(self) -> SLVector | None:
        levels = [self.frs[fr].level for fr in FRS]
        if all(level is None for level in levels):
            return None
        return SLVector(*(level or 0 for level in levels))

    @property
    def overridden(self) -> list[str]:
        return [fr for fr in FRS if self.frs[fr].source == "override"]

    def rationale(self) -> dict[str, str]:
        return {fr: self.frs[fr].rationale() for fr in FRS}


def zone_consequences(plant: Plant, risk: RiskModel) -> dict[str, list[Consequence]]:
    out: dict[str, list[Consequence]] = defaultdict(list)
    for zone in plant.zones:
        for c in zone.consequences:
            if c.severity is not None:
                out[zone.id].append(Consequence(c.category, c.severity, c.description, "plant.yaml"))
    for scenario in risk.scenarios:
        for zone_id in scenario.zones:
            for category, severity in scenario.consequences.items():
                out[zone_id].append(Consequence(category, severity, scenario.title, f"scenario {scenario.id}"))
    return out


def _exposed(rule: ExposureRule, zone_id: str, exposure: Exposure) -> str | None:
    """Why ``rule`` applies to the zone, or None."""
    path: Path | None = None
    if rule.when == "reachable-from-untrusted":
        path = exposure.from_untrusted.get(zone_id)
    elif rule.when == "reachable-from-remote-access":
        path = exposure.from_remote_access.get(zone_id)
    elif rule.when == "wireless":
        return exposure.wireless.get(zone_id)
    elif rule.when == "removable-media":
        return exposure.removable_media.get(zone_id)
    if path is not None and path.hops <= rule.max_hops:
        return path.describe()
    return None


def _overrides(risk: RiskModel, kind: str, ident: str) -> dict[str, Override]:
    out: dict[str, Override] = {}
    for override in risk.overrides:
        if override.target == (kind, ident):
            for fr in override.frs:
                out[fr] = override
    return out


def _apply_override(target: FrTarget, override: Override) -> None:
    was = f" (derived {target.level})" if target.level is not None and target.level != override.sl else ""
    who = f", approved by {override.approved_by}" if override.approved_by else ""
    when = f" on {override.date}" if override.date else ""
    target.level = override.sl
    target.source = "override"
    target.reasons = [f"override{was}: {override.justification}{who}{when}"]


def derive_zone_targets(plant: Plant, risk: RiskModel, exposure: Exposure) -> dict[str, Target]:
    """SL-T of every zone, with the rationale of each FR."""
    categories = {c.id: c for c in risk.categories}
    consequences = zone_consequences(plant, risk)
    targets: dict[str, Target] = {}
    for zone in plant.zones:
        found = consequences.get(zone.id, [])
        worst: dict[str, Consequence] = {}
        for c in found:
            if c.category in categories and (c.category not in worst or c.severity > worst[c.category].severity):
                worst[c.category] = c
        frs: dict[str, FrTarget] = {}
        for fr in FRS:
            if worst:
                frs[fr] = _derive_fr(fr, zone.id, worst, categories, risk, exposure)
            else:
                frs[fr] = FrTarget(fr, None, "none")
            if frs[fr].level is None and zone.sl_t is not None:
                frs[fr] = FrTarget(fr, zone.sl_t.get(fr), "declared", ["declared in plant.yaml (no consequences)"])
            elif zone.sl_t is not None and frs[fr].level != zone.sl_t.get(fr):
                frs[fr].reasons.append(
                    f"plant.yaml declares {zone.sl_t.get(fr)}; record an override in risk.yaml to use it"
                )
        for fr, override in _overrides(risk, "zone", zone.id).items():
            _apply_override(frs[fr], override)
        targets[zone.id] = Target("zone", zone.id, frs, found)
    return targets


def _derive_fr(
    fr: str,
    zone_id: str,
    worst: dict[str, Consequence],
    categories: dict,
    risk: RiskModel,
    exposure: Exposure,
) -> FrTarget:
    rules = risk.sl_rules
    base, driver = 0, None
    for category_id, consequence in sorted(worst.items()):
        if fr in categories[category_id].frs:
            level = rules.severity_to_sl.get(consequence.severity, max(rules.severity_to_sl.values()))
            # The highest level wins; on a tie, the most severe consequence explains it.
            if level > base or (driver is not None and level == base and consequence.severity > driver.severity):
                base, driver = level, consequence
    reasons = []
    if driver is not None:
        name = categories[driver.category].name.lower()
        reasons.append(f"{name} severity {driver.severity} ({driver.description}) sets {base}")
    if base < rules.baseline:
        base = rules.baseline
        reasons.append(f"baseline {rules.baseline} for every zone with consequences")
    level = base
    bump, why = 0, []
    for rule in rules.exposure:
        if fr in rule.frs and base >= rule.min_base:
            reason = _exposed(rule, zone_id, exposure)
            if reason and rule.add > 0:
                bump = max(bump, rule.add)
                why.append(reason)
    if bump:
        level = min(base + bump, rules.max_sl)
        capped = " (capped)" if base + bump > rules.max_sl else ""
        reasons.append(f"+{bump}{capped}: " + "; ".join(dict.fromkeys(why)))
    return FrTarget(fr, level, "derived", reasons)


def derive_conduit_targets(plant: Plant, risk: RiskModel, zones: dict[str, Target]) -> dict[str, Target]:
    """A conduit's SL-T per FR: declared in plant.yaml, else the highest of the zones it joins; overrides win."""
    targets: dict[str, Target] = {}
    for conduit in plant.conduits:
        frs: dict[str, FrTarget] = {}
        for fr in FRS:
            if conduit.sl_t is not None:
                frs[fr] = FrTarget(fr, conduit.sl_t.get(fr), "declared", ["declared in plant.yaml"])
                continue
            levels = [(zones[z].frs[fr].level, z) for z in conduit.zones if z in zones]
            known = [(level, z) for level, z in levels if level is not None]
            if not known:
                frs[fr] = FrTarget(fr, None, "none")
                continue
            top = max(level for level, _ in known)
            joined = ", ".join(f"{z} {level}" for level, z in known)
            frs[fr] = FrTarget(fr, top, "derived", [f"highest of the zones it joins ({joined})"])
        for fr, override in _overrides(risk, "conduit", conduit.id).items():
            _apply_override(frs[fr], override)
        targets[conduit.id] = Target("conduit", conduit.id, frs)
    return targets
