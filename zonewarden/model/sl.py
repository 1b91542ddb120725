"""Security level vectors: one level 0..4 per foundational requirement."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

FRS: tuple[str, ...] = ("FR1", "FR2", "FR3", "FR4", "FR5", "FR6", "FR7")
FR_ABBREV: dict[str, str] = {
    "FR1": "IAC",
    "FR2": "UC",
    "FR3": "SI",
    "FR4": "DC",
    "FR5": "RDF",
    "FR6": "TRE",
    "FR7": "RA",
}
_ABBREV_TO_FR = {v: k for k, v in FR_ABBREV.items()}
MAX_SL = 4


def normalize_fr(name: str) -> str:
    """Return the canonical ``FRn`` for ``FR5``, ``fr5``, ``5`` or ``RDF``; raise ValueError."""
    text = str(name).strip().upper().replace(" ", "")
    if text in FR_ABBREV:
        return text
    if text in _ABBREV_TO_FR:
        return _ABBREV_TO_FR[text]
    if text.isdigit() and f"FR{text}" in FR_ABBREV:
        return f"FR{text}"
    raise ValueError(f"unknown foundational requirement {name!r} (use FR1..FR7 or IAC, UC, SI, DC, RDF, TRE, RA)")


def _level(value: Any, what: str) -> int:
    what = "" if what == "SL" else f"{what}: "
    if isinstance(value, bool):
        raise ValueError(f"{what}security level must be a number 0-4, not {value!r}")
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(?:SL[- ]?)?([0-9])\s*", value, re.IGNORECASE)
        if not match:
            raise ValueError(f"{what}security level must be 0-4, got {value!r}")
        value = int(match.group(1))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_SL:
        raise ValueError(f"{what}security level must be 0-4, got {value!r}")
    return value


class SLVector(NamedTuple):
    """Security levels for FR1..FR7, e.g. SL-T ``{2,2,1,1,3,2,2}``."""

    fr1: int
    fr2: int
    fr3: int
    fr4: int
    fr5: int
    fr6: int
    fr7: int

    @classmethod
    def uniform(cls, level: int) -> SLVector:
        level = _level(level, "SL")
        return cls(*([level] * 7))

    @classmethod
    def parse(cls, value: Any) -> SLVector:
        """Accept ``3``, ``"SL3"``, ``[2,2,1,1,3,2,2]``, ``"2,2,1,1,3,2,2"``,
        ``"{2,2,1,1,3,2,2}"`` or a mapping ``{FR1: 2, ..., FR7: 2}``; a mapping may
        leave FRs out when it gives ``default: N``. Raises ValueError."""
        if isinstance(value, SLVector):
            return value
        if isinstance(value, str) and re.search(r"[,;\s]", value.strip(" {}[]()")):
            parts = [p for p in re.split(r"[,\s;]+", value.strip(" {}[]()")) if p]
            return cls.parse(parts)
        if isinstance(value, (list, tuple)):
            if len(value) != 7:
                raise ValueError(f"an SL vector lists 7 levels (FR1..FR7), got {len(value)}")
            return cls(*(_level(v, FRS[i]) for i, v in enumerate(value)))
        if isinstance(value, Mapping):
            levels: dict[str, int] = {}
            default: int | None = None
            for key, level in value.items():
                if str(key).strip().lower() == "default":
                    default = _level(level, "default")
                    continue
                fr = normalize_fr(str(key))
                if fr in levels:
                    raise ValueError(f"{fr} is given twice")
                levels[fr] = _level(level, fr)
            missing = [fr for fr in FRS if fr not in levels]
            if missing and default is None:
                raise ValueError(f"SL vector misses {', '.join(missing)} (give them, or 'default: N')")
            return cls(*(levels.get(fr, default if default is not None else 0) for fr in FRS))
        return cls.uniform(_level(value, "SL"))

    def get(self, fr: str) -> int:
        return self[FRS.index(normalize_fr(fr))]

    def items(self) -> Iterator[tuple[str, int]]:
        return zip(FRS, self, strict=True)

    def as_dict(self) -> dict[str, int]:
        return dict(self.items())

    def is_uniform(self) -> bool:
        return len(set(self)) == 1

    def max(self) -> int:
        return max(self)

    def __str__(self) -> str:
        return "{" + ",".join(str(v) for v in self) + "}"
