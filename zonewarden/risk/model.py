"""The risk model of a workspace (risk.yaml), merged over shipped defaults."""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from zonewarden.model.plant import ID_PATTERN, Id, _as_list
from zonewarden.model.sl import FRS, normalize_fr

VECTORS = (
    "remote-access",
    "enterprise-network",
    "internet",
    "removable-media",
    "wireless",
    "insider",
    "supply-chain",
    "vendor",
    "physical",
    "other",
)


def _frs(value: Any) -> Any:
    items = _as_list(value)
    if isinstance(items, list) and [str(i).lower() for i in items] == ["all"]:
        return list(FRS)
    return [normalize_fr(str(i)) for i in items] if isinstance(items, list) else items


def _one_or_list(value: Any) -> Any:
    """A single text becomes a one-item list (text is never split)."""
    return [value] if isinstance(value, str) else ([] if value is None else value)


FrList = Annotated[list[str], BeforeValidator(_frs)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Category(_Model):
    """A consequence category with its severity scale and the FRs it drives."""

    id: Id
    name: str
    frs: FrList = Field(description="foundational requirements this category's severity drives")
    severity: dict[int, str] = Field(description="severity level -> meaning, 1 = least")


class RiskLevel(_Model):
    id: Id
    name: str
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")


class ExposureRule(_Model):
    """Raise SL-T for FRs when the zone is exposed; never on its own (min_base)."""

    id: Id
    when: Literal["reachable-from-untrusted", "reachable-from-remote-access", "wireless", "removable-media"]
    max_hops: int = Field(1, ge=1, le=10)
    add: int = Field(1, ge=0, le=4)
    frs: FrList
    min_base: int = Field(1, ge=1, le=4)
    description: str = ""


class SlRules(_Model):
    severity_to_sl: dict[int, int]
    baseline: int = Field(1, ge=0, le=4)
    exposure: list[ExposureRule] = Field(default_factory=list)
    max_sl: int = Field(4, ge=1, le=4)


class Scenario(_Model):
    """A threat scenario (62443-3-2 ZCR 5.1-5.10) against zones or conduits."""

    id: Id
    title: str
    description: str | None = None
    zones: Annotated[list[Id], BeforeValidator(_as_list)] = Field(default_factory=list)
    conduits: Annotated[list[Id], BeforeValidator(_as_list)] = Field(default_factory=list)
    threat_source: str | None = None
    vector: Literal[VECTORS] | None = None  # type: ignore[valid-type]
    assets: Annotated[list[Id], BeforeValidator(_as_list)] = Field(default_factory=list)
    consequences: dict[str, int] = Field(description="category id -> severity")
    likelihood: int = Field(ge=1)
    countermeasures: Annotated[list[str], BeforeValidator(_one_or_list)] = Field(default_factory=list)
    residual_likelihood: int | None = Field(None, ge=1)
    residual_consequences: dict[str, int] | None = None

    @model_validator(mode="after")
    def _targets(self) -> Scenario:
        if not self.zones and not self.conduits:
            raise ValueError("a scenario targets at least one zone or conduit ('zones' or 'conduits')")
        return self


class Override(_Model):
    """A recorded decision to set SL-T for some FRs of a zone or conduit by hand."""

    zone: Id | None = None
    conduit: Id | None = None
    frs: FrList = Field(validation_alias="fr", description="FR1..FR7, abbreviations, or 'all'")
    sl: int = Field(ge=0, le=4)
    justification: str = Field(min_length=10)
    approved_by: str | None = None
    date: dt.date | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    @model_validator(mode="after")
    def _one_target(self) -> Override:
        if (self.zone is None) == (self.conduit is None):
            raise ValueError("an override names exactly one of 'zone' or 'conduit'")
        return self

    @property
    def target(self) -> tuple[str, str]:
        return ("zone", self.zone) if self.zone else ("conduit", self.conduit or "")


class RiskModel(_Model):
    """risk.yaml after merging with the defaults."""

    version: int = Field(1, ge=1, le=1)
    categories: list[Category]
    likelihood: dict[int, str]
    risk_levels: list[RiskLevel]
    matrix: list[list[str]]
    tolerable: str
    sl_rules: SlRules
    scenarios: list[Scenario] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> RiskModel:
        levels = {r.id for r in self.risk_levels}
        if len(self.matrix) != len(self.likelihood):
            raise ValueError(
                f"matrix has {len(self.matrix)} rows but the likelihood scale has {len(self.likelihood)} levels"
            )
        width = max(len(c.severity) for c in self.categories)
        for i, row in enumerate(self.matrix, start=1):
            if len(row) != width:
                raise ValueError(f"matrix row {i} has {len(row)} cells; the severity scale has {width} levels")
            if unknown := set(row) - levels:
                raise ValueError(f"matrix row {i} names unknown risk levels {sorted(unknown)}")
        if self.tolerable not in levels:
            raise ValueError(f"tolerable '{self.tolerable}' is not a risk level ({', '.join(sorted(levels))})")
        for sev in range(1, width + 1):
            if sev not in self.sl_rules.severity_to_sl:
                raise ValueError(f"sl_rules.severity_to_sl gives no level for severity {sev}")
        return self

    @property
    def category_ids(self) -> list[str]:
        return [c.id for c in self.categories]

    @property
    def max_severity(self) -> int:
        return max(len(c.severity) for c in self.categories)

    def level_rank(self, level: str) -> int:
        return [r.id for r in self.risk_levels].index(level)

    def risk(self, likelihood: int, severity: int) -> str:
        """The risk level of a likelihood and severity (both 1-based, clamped to the matrix)."""
        row = self.matrix[min(max(likelihood, 1), len(self.matrix)) - 1]
        return row[min(max(severity, 1), len(row)) - 1]

    def tolerable_level(self, level: str) -> bool:
        return self.level_rank(level) <= self.level_rank(self.tolerable)


@cache
def default_risk_data() -> dict[str, Any]:
    raw = resources.files("zonewarden.risk").joinpath("defaults.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(raw)
    assert isinstance(data, dict)
    return data


def merged(user: dict[str, Any] | None) -> dict[str, Any]:
    """The user's risk.yaml data over the defaults, top-level section by section."""
    data = dict(default_risk_data())
    data.update(user or {})
    return data


__all__ = ["ID_PATTERN", "VECTORS", "Category", "Override", "RiskModel", "Scenario", "merged"]
