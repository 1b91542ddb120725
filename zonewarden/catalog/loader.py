"""Load the shipped catalog data (package YAML) and an optional user overlay."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from zonewarden.catalog.ids import canonical_id
from zonewarden.catalog.model import (
    COMPONENT_TYPES,
    KINDS,
    TAGS,
    Catalog,
    FoundationalRequirement,
    Requirement,
    SecurityLevel,
    SlType,
    Zcr,
    ZcrStep,
)
from zonewarden.errors import CatalogError, InputError, Location

DATA_FILES = {"62443-3-3": "iec62443-3-3.yaml", "62443-4-2": "iec62443-4-2.yaml", "62443-3-2": "iec62443-3-2.yaml"}


def _read(name: str) -> tuple[dict[str, Any], bytes]:
    raw = resources.files("zonewarden.catalog").joinpath("data", name).read_bytes()
    data = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(data, dict):
        raise CatalogError(f"catalog file {name} is not a mapping")
    return data, raw


def _requirement(entry: dict[str, Any], standard: str, source: str) -> Requirement:
    try:
        req_id = canonical_id(str(entry["id"]))
        if req_id is None or req_id != entry["id"]:
            raise CatalogError(f"{source}: id {entry['id']!r} is not canonical ({req_id!r})")
        return Requirement(
            id=req_id,
            kind=str(entry["kind"]),
            standard=standard,
            fr=str(entry["fr"]),
            title=str(entry["title"]),
            sl=int(entry["sl"]),
            description=str(entry.get("description", "")).strip(),
            tags=tuple(entry.get("tags") or ()),
            parent=entry.get("parent"),
            component_types=tuple(entry.get("component_types") or ()),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"{source}: bad requirement entry {entry!r}: {exc}") from None


def check_requirements(requirements: dict[str, Requirement], frs: dict[str, FoundationalRequirement]) -> None:
    """Raise CatalogError unless the requirement set is internally consistent."""
    for req in requirements.values():
        where = f"{req.standard} {req.id}"
        if req.kind not in KINDS:
            raise CatalogError(f"{where}: unknown kind {req.kind}")
        if req.fr not in frs:
            raise CatalogError(f"{where}: unknown FR {req.fr}")
        if not 1 <= req.sl <= 4:
            raise CatalogError(f"{where}: lowest SL {req.sl} is not 1-4")
        if unknown := set(req.tags) - set(TAGS):
            raise CatalogError(f"{where}: unknown tags {sorted(unknown)}")
        if unknown := set(req.component_types) - set(COMPONENT_TYPES):
            raise CatalogError(f"{where}: unknown component types {sorted(unknown)}")
        if req.kind == "RE":
            parent = requirements.get(req.parent or "")
            if parent is None:
                raise CatalogError(f"{where}: parent {req.parent!r} does not exist")
            if not req.id.startswith(parent.id + " RE "):
                raise CatalogError(f"{where}: id does not extend its parent {parent.id}")
            if req.sl < parent.sl:
                raise CatalogError(f"{where}: SL {req.sl} is below its parent's SL {parent.sl}")
            if req.fr != parent.fr:
                raise CatalogError(f"{where}: FR differs from its parent's")
        elif req.parent is not None:
            raise CatalogError(f"{where}: only enhancements have a parent")


@cache
def _shipped() -> Catalog:
    digest = hashlib.sha256()
    d33, raw = _read(DATA_FILES["62443-3-3"])
    digest.update(raw)
    frs = {
        fr["id"]: FoundationalRequirement(fr["id"], fr["abbrev"], fr["name"], str(fr.get("description", "")).strip())
        for fr in d33["foundational_requirements"]
    }
    requirements: dict[str, Requirement] = {}
    sources = {"62443-3-3": str(d33.get("edition", ""))}
    for standard, data in (("62443-3-3", d33), ("62443-4-2", None)):
        if data is None:
            data, raw = _read(DATA_FILES[standard])
            digest.update(raw)
            sources[standard] = str(data.get("edition", ""))
        for entry in data.get("requirements", []):
            req = _requirement(entry, standard, DATA_FILES[standard])
            if req.id in requirements:
                raise CatalogError(f"{DATA_FILES[standard]}: duplicate id {req.id}")
            requirements[req.id] = req
    check_requirements(requirements, frs)
    d42, _ = _read(DATA_FILES["62443-4-2"])
    component_types = {ct["id"]: ct["name"] for ct in d42.get("component_types", [])}
    d32, raw = _read(DATA_FILES["62443-3-2"])
    digest.update(raw)
    sources["62443-3-2"] = str(d32.get("edition", ""))
    zcrs = [
        Zcr(
            z["id"],
            z["title"],
            str(z.get("description", "")).strip(),
            tuple(ZcrStep(s["id"], s["title"], str(s.get("description", "")).strip()) for s in z.get("steps", [])),
        )
        for z in d32.get("zcrs", [])
    ]
    levels = [
        SecurityLevel(
            int(sl["level"]),
            sl["name"],
            str(sl.get("means", "")),
            str(sl.get("resources", "")),
            str(sl.get("skills", "")),
            str(sl.get("motivation", "")),
            str(sl.get("description", "")).strip(),
        )
        for sl in d32.get("security_levels", [])
    ]
    sl_types = [SlType(t["id"], t["name"], str(t.get("description", "")).strip()) for t in d32.get("sl_types", [])]
    return Catalog(frs, requirements, zcrs, levels, sl_types, component_types, sources, digest.hexdigest()[:12])


def read_overlay(path: Path) -> dict[str, str]:
    """Read a user's overlay of licensed requirement text: a YAML mapping ``id: text``
    or a list of ``{id, text}``. Raises InputError naming the file and line."""
    from zonewarden.workspace.yamlpos import load_yaml  # shell helper; overlay is user input

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read overlay: {exc}", Location(str(path))) from None
    data, positions = load_yaml(text, str(path))
    items: list[tuple[Any, Any, tuple]] = []
    if isinstance(data, dict):
        items = [(k, v, (k,)) for k, v in data.items()]
    elif isinstance(data, list):
        for i, entry in enumerate(data):
            if not isinstance(entry, dict) or "id" not in entry or "text" not in entry:
                line, col = positions.get((i,), (0, 0))
                raise InputError("each overlay item needs 'id' and 'text'", Location(str(path), line, col))
            items.append((entry["id"], entry["text"], (i,)))
    else:
        raise InputError("an overlay is a mapping of requirement id to text", Location(str(path), 1, 1))
    known = _shipped().requirements
    out: dict[str, str] = {}
    for key, value, where in items:
        req_id = canonical_id(str(key))
        if req_id is None or req_id not in known:
            line, col = positions.get(where, (0, 0))
            raise InputError(f"'{key}' is not a requirement id in the catalog", Location(str(path), line, col))
        out[req_id] = str(value).strip()
    return out


def load_catalog(overlay: str | Path | None = None) -> Catalog:
    """The shipped catalog; with ``overlay``, requirement ``text`` comes from the user's file."""
    catalog = _shipped()
    if overlay is None:
        return catalog
    texts = read_overlay(Path(overlay))
    requirements = {rid: replace(req, text=texts.get(rid)) for rid, req in catalog.requirements.items()}
    return replace(catalog, requirements=requirements)
