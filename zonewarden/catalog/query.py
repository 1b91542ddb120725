"""Questions asked of a catalog: filter, look up, what a security level requires."""

from __future__ import annotations

from collections.abc import Iterable

from zonewarden.catalog.ids import canonical_id
from zonewarden.catalog.model import Catalog, Requirement
from zonewarden.errors import UnknownIdError
from zonewarden.model.diagnostics import did_you_mean
from zonewarden.model.sl import normalize_fr


def _normalize_standard(standard: str) -> str:
    text = standard.strip().upper().removeprefix("IEC").removeprefix("ISA").strip().lstrip("-/ ")
    for known in ("62443-3-3", "62443-4-2"):
        if text in (known, known.replace("62443-", ""), known.replace("-", "")):
            return known
    raise ValueError(f"unknown standard {standard!r} (use 62443-3-3 or 62443-4-2)")


def filter_requirements(
    catalog: Catalog,
    *,
    standard: str | None = None,
    sl: int | None = None,
    fr: str | None = None,
    component_type: str | None = None,
    kind: str | None = None,
    tag: str | None = None,
) -> list[Requirement]:
    """Requirements matching every given filter, in catalog order.

    ``sl=N`` keeps what is required at SL N (lowest SL <= N). ``component_type``
    keeps 4-2 requirements that apply to that component type.
    Raises ValueError for an unknown filter value.
    """
    std = _normalize_standard(standard) if standard else None
    fr_id = normalize_fr(fr) if fr else None
    if sl is not None and not 1 <= sl <= 4:
        raise ValueError("--sl takes a security level 1-4")
    if component_type:
        component_type = _component_type(catalog, component_type)
        if std is None:
            std = "62443-4-2"
    kind_u = kind.upper() if kind else None
    out = []
    for req in catalog.requirements.values():
        if std and req.standard != std:
            continue
        if sl is not None and req.sl > sl:
            continue
        if fr_id and req.fr != fr_id:
            continue
        if component_type and component_type not in req.component_types:
            continue
        if kind_u and req.kind != kind_u:
            continue
        if tag and tag not in req.tags:
            continue
        out.append(req)
    return out


def _component_type(catalog: Catalog, value: str) -> str:
    text = value.strip().lower().replace(" ", "-").replace("_", "-")
    abbrev = {
        "sa": "software-application",
        "sar": "software-application",
        "ed": "embedded-device",
        "edr": "embedded-device",
        "hd": "host-device",
        "hdr": "host-device",
        "nd": "network-device",
        "ndr": "network-device",
    }
    text = abbrev.get(text, text)
    choices = list(catalog.component_types) or list(abbrev.values())
    if text not in choices:
        raise ValueError(
            f"unknown component type {value!r}{did_you_mean(text, choices)} (use {', '.join(dict.fromkeys(choices))})"
        )
    return text


def find(catalog: Catalog, ident: str) -> Requirement:
    """Look up a requirement by any spelling of its id; raise UnknownIdError with a hint."""
    req_id = canonical_id(ident)
    if req_id and req_id in catalog.requirements:
        return catalog.requirements[req_id]
    hint = did_you_mean(req_id or ident, catalog.requirements)
    raise UnknownIdError(f"no requirement '{ident}' in the catalog{hint}")


def children(catalog: Catalog, parent_id: str) -> list[Requirement]:
    return [r for r in catalog.requirements.values() if r.parent == parent_id]


def required_at(
    catalog: Catalog, level: int, standard: str = "62443-3-3", frs: Iterable[str] | None = None
) -> list[Requirement]:
    """The SRs and REs a zone needs for SL ``level`` (optionally only some FRs)."""
    wanted = {normalize_fr(f) for f in frs} if frs else None
    return [r for r in filter_requirements(catalog, standard=standard, sl=level) if wanted is None or r.fr in wanted]
