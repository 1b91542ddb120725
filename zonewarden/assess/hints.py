"""Remediation hints (effort, scope, action) for 62443-3-3 requirements: our estimates, shipped as data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

QUICK_WIN_TAGS = frozenset({"authentication", "segmentation", "remote-access"})


@dataclass(frozen=True)
class Hint:
    effort: str  # S, M, L
    scope: str  # program | zone
    action: str


@cache
def hints() -> dict[str, Hint]:
    raw = resources.files("zonewarden.assess").joinpath("data", "remediation.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(raw)["hints"]
    return {rid: Hint(str(h["effort"]), str(h["scope"]), str(h["action"])) for rid, h in data.items()}


def hint_for(req_id: str, title: str) -> Hint:
    return hints().get(req_id, Hint("M", "zone", f"Implement {req_id} {title}"))
