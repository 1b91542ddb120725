"""Canonical requirement identifiers: ``SR 1.1``, ``SR 1.1 RE 1``, ``EDR 3.10 RE 1``."""

from __future__ import annotations

import re

_ID = re.compile(
    r"^\s*(?P<kind>SR|CR|SAR|EDR|HDR|NDR)\s*(?P<major>\d+)\s*\.\s*(?P<minor>\d+)"
    r"(?:\s*(?:RE\s*\(?\s*(?P<re>\d+)\s*\)?|\(\s*(?P<re2>\d+)\s*\)))?\s*$",
    re.IGNORECASE,
)
_ZCR = re.compile(r"^\s*ZCR\s*(?P<major>\d+)(?:\s*\.\s*(?P<minor>\d+))?\s*$", re.IGNORECASE)


def canonical_id(text: str) -> str | None:
    """Normalize ``sr1.1re1``, ``SR 1.1(1)``, ``SR 1.1 RE(1)`` to ``SR 1.1 RE 1``; None if not an id."""
    match = _ID.match(text)
    if match:
        base = f"{match['kind'].upper()} {int(match['major'])}.{int(match['minor'])}"
        enhancement = match["re"] or match["re2"]
        return f"{base} RE {int(enhancement)}" if enhancement else base
    match = _ZCR.match(text)
    if match:
        return f"ZCR {int(match['major'])}" + (f".{int(match['minor'])}" if match["minor"] else "")
    return None


def sort_key(req_id: str) -> tuple:
    """Order ids by FR, number, kind, enhancement: SR 1.2 < SR 1.10; CR < SAR < EDR < HDR < NDR."""
    match = _ID.match(req_id)
    if not match:
        return (99, 0, 0, 0, req_id)
    order = {"SR": 0, "CR": 0, "SAR": 1, "EDR": 2, "HDR": 3, "NDR": 4}[match["kind"].upper()]
    return (int(match["major"]), int(match["minor"]), order, int(match["re"] or match["re2"] or 0), "")
