"""Answers and evidence: what a zone (or conduit) has implemented, per requirement.

One file per target under ``assessments/``::

    zone: scada
    assessor: A. Consultant
    date: 2026-10-12
    answers:
      SR 1.1:
        status: implemented
        method: examine
        evidence:
          - {ref: evidence/ad-gpo.pdf, date: 2026-09-01, expires: 2027-09-01}
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from zonewarden.model.plant import Id

STATUSES = ("implemented", "partial", "planned", "not-implemented", "not-applicable", "compensated")
METHODS = ("examine", "interview", "test")
Status = Literal["implemented", "partial", "planned", "not-implemented", "not-applicable", "compensated"]
Method = Literal["examine", "interview", "test"]


_FILE_EXTENSION = re.compile(
    r"\.(pdf|txt|md|html?|png|jpe?g|gif|svg|docx?|xlsx?|pptx?|csv|json|ya?ml|xml|zip|7z|tar|gz|pcapng|pcap|log|"
    r"conf|cfg|rules|nft|msg|eml)$",
    re.IGNORECASE,
)


def _slug(value: Any) -> Any:
    return re.sub(r"[\s_]+", "-", value.strip().lower()) if isinstance(value, str) else value


def _evidence(value: Any) -> Any:
    if isinstance(value, str):
        return {"ref": value}
    return value


def _evidence_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [value]
    return value


class Evidence(BaseModel):
    """A file under evidence/, a link, or a ticket id, with its effective date and optional expiry."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ref: str = Field(min_length=1, description="evidence/<file>, a URL, or a ticket id")
    date: dt.date | None = Field(None, description="effective date")
    expires: dt.date | None = None
    description: str | None = None

    @property
    def kind(self) -> str:
        """link (a URL), file (under evidence/ or with a document extension) or ticket (anything else)."""
        if re.match(r"^[a-z][a-z0-9+.-]*://", self.ref):
            return "link"
        if self.ref.startswith("evidence/") or _FILE_EXTENSION.search(self.ref):
            return "file"
        return "ticket"

    def valid_on(self, day: dt.date) -> bool:
        if self.date is not None and self.date > day:
            return False
        return self.expires is None or self.expires >= day

    @model_validator(mode="after")
    def _order(self) -> Evidence:
        if self.date and self.expires and self.expires < self.date:
            raise ValueError(f"evidence '{self.ref}' expires ({self.expires}) before it takes effect ({self.date})")
        return self


class Answer(BaseModel):
    """The state of one requirement in one zone or conduit."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Annotated[Status, BeforeValidator(_slug)]
    method: Annotated[Method | None, BeforeValidator(_slug)] = None
    evidence: Annotated[list[Annotated[Evidence, BeforeValidator(_evidence)]], BeforeValidator(_evidence_list)] = Field(
        default_factory=list
    )
    justification: str | None = Field(None, description="why the requirement does not apply (not-applicable)")
    compensation: str | None = Field(None, description="the compensating countermeasure (compensated)")
    assessor: str | None = None
    date: dt.date | None = None
    note: str | None = None


class Assessment(BaseModel):
    """One assessments/*.yaml file: the answers for one zone or conduit."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    zone: Id | None = None
    conduit: Id | None = None
    assessor: str | None = None
    date: dt.date | None = None
    note: str | None = None
    answers: dict[str, Answer] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_target(self) -> Assessment:
        if (self.zone is None) == (self.conduit is None):
            raise ValueError("an assessment file names exactly one of 'zone' or 'conduit'")
        return self

    @property
    def target(self) -> tuple[str, str]:
        return ("zone", self.zone) if self.zone else ("conduit", self.conduit or "")
