"""Pydantic validation errors as located, readable diagnostics (with did-you-mean hints)."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from zonewarden.errors import Location
from zonewarden.model.diagnostics import Diagnostic, did_you_mean
from zonewarden.workspace.yamlpos import KEY

Path_ = tuple[Any, ...]


def _field_lookup(model: type[BaseModel], name: str) -> Any:
    for fname, info in model.model_fields.items():
        aliases = {fname, info.alias}
        va = info.validation_alias
        if va is not None:
            aliases.update(getattr(va, "choices", [va]))
        if name in aliases:
            return info.annotation
    return None


def _models_in(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)
    if isinstance(annotation, types.UnionType):
        for arg in annotation.__args__:
            yield from _models_in(arg)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that holds the value at ``loc`` (for key suggestions)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        annotation = _field_lookup(current, str(part))
        if annotation is None:
            return None
        found = list(_models_in(annotation))
        current = found[0] if found else None
    return current


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [info.serialization_alias or info.alias or name for name, info in model.model_fields.items()]


def translate_errors(
    exc: ValidationError, model: type[BaseModel], base: Path_, obj: str, locate: typing.Callable[[Path_], Location]
) -> list[Diagnostic]:
    """Turn pydantic errors into located, readable diagnostics."""
    out: list[Diagnostic] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p and "]" in p))
        path = base + loc
        kind = err["type"]
        if kind == "extra_forbidden":
            key = loc[-1]
            parent = _model_at(model, loc[:-1])
            hint = did_you_mean(str(key), _keys_of(parent)) if parent else ""
            msg = f"unknown key '{key}'{hint}"
            where = locate(path + (KEY,))
        elif kind == "missing":
            msg = f"missing required key '{loc[-1]}'"
            where = locate(base + loc[:-1])
        else:
            text = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
            field_name = ".".join(str(p) for p in loc if not isinstance(p, int)) or "value"
            shown = err.get("input")
            if kind.startswith("enum") or kind == "literal_error":
                text = f"'{shown}' is not allowed; {text.lower()}"
            elif kind in (
                "string_type",
                "int_type",
                "float_type",
                "bool_type",
                "list_type",
                "dict_type",
                "model_type",
                "int_parsing",
                "float_parsing",
                "bool_parsing",
            ):
                text = f"{text.lower()}, got {shown!r}"
            elif kind == "string_pattern_mismatch":
                text = (
                    f"'{shown}' is not a valid identifier (letters, digits and - _ . : /, starting with a "
                    "letter or digit)"
                    if field_name.endswith("id") or field_name in ("zones", "assets", "devices", "zone")
                    else f"'{shown}' does not match {err.get('ctx', {}).get('pattern')}"
                )
            msg = f"{field_name}: {text}" if loc else text
            where = locate(path)
        out.append(Diagnostic("error", "schema", msg, obj, path, where.file, where.line, where.column))
    return out
