"""Typed catalog objects: requirements, foundational requirements, ZCRs, levels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("SR", "RE", "CR", "SAR", "EDR", "HDR", "NDR")
STANDARDS = ("62443-3-3", "62443-4-2")
COMPONENT_TYPES = ("software-application", "embedded-device", "host-device", "network-device")
TAGS = (
    "authentication",
    "authorization",
    "account-management",
    "segmentation",
    "remote-access",
    "wireless",
    "portable-media",
    "monitoring",
    "audit-logging",
    "backup",
    "recovery",
    "patching",
    "hardening",
    "malware-protection",
    "cryptography",
    "integrity",
    "confidentiality",
    "availability",
    "inventory",
    "session-management",
    "time-sync",
    "physical",
    "configuration",
    "denial-of-service",
)


@dataclass(frozen=True)
class FoundationalRequirement:
    id: str
    abbrev: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class Requirement:
    """A 62443-3-3 SR/RE or a 62443-4-2 CR/SAR/EDR/HDR/NDR/RE.

    ``sl`` is the lowest security level at which the requirement applies;
    ``text`` is only set when a user overlays their own licensed copy.
    """

    id: str
    kind: str
    standard: str
    fr: str
    title: str
    sl: int
    description: str
    tags: tuple[str, ...] = ()
    parent: str | None = None
    component_types: tuple[str, ...] = ()
    text: str | None = None

    @property
    def is_enhancement(self) -> bool:
        return self.kind == "RE"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "standard": f"IEC {self.standard}",
            "kind": self.kind,
            "parent": self.parent,
            "fr": self.fr,
            "title": self.title,
            "sl": self.sl,
            "description": self.description,
            "tags": list(self.tags),
        }
        if self.standard == "62443-4-2":
            out["component_types"] = list(self.component_types)
        if self.text is not None:
            out["text"] = self.text
        return out


@dataclass(frozen=True)
class ZcrStep:
    id: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class Zcr:
    """A 62443-3-2 zone and conduit requirement with its sub-steps."""

    id: str
    title: str
    description: str = ""
    steps: tuple[ZcrStep, ...] = ()


@dataclass(frozen=True)
class SecurityLevel:
    level: int
    name: str
    means: str
    resources: str
    skills: str
    motivation: str
    description: str = ""


@dataclass(frozen=True)
class SlType:
    id: str
    name: str
    description: str


@dataclass
class Catalog:
    """All shipped standards data, queryable; see :func:`zonewarden.catalog.load_catalog`."""

    frs: dict[str, FoundationalRequirement]
    requirements: dict[str, Requirement]
    zcrs: list[Zcr] = field(default_factory=list)
    security_levels: list[SecurityLevel] = field(default_factory=list)
    sl_types: list[SlType] = field(default_factory=list)
    component_types: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # standard -> edition
    version: str = ""
