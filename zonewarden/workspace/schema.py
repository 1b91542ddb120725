"""JSON Schema of the workspace files, for editors that validate YAML as people type.

The pydantic schema describes the canonical form; the loader also accepts a
few conveniences (one value where a list is expected, port numbers, preset
names for operations), which we add here so editors do not flag them.
"""

from __future__ import annotations

import copy
from typing import Any

from zonewarden import __version__
from zonewarden.model.plant import Plant
from zonewarden.model.protocols import OPERATION_PRESETS, OPERATIONS, PROTOCOLS

SCHEMA_ID = "https://zonewarden.dev/schema/plant-1.json"
PORT = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 65535},
        {"type": "string", "pattern": r"^\d{1,5}(-\d{1,5})?$"},
    ],
    "description": "a port or a range 'low-high'",
}


def _scalar(items: dict[str, Any], defs: dict[str, Any]) -> bool:
    if "$ref" in items:
        target = defs.get(items["$ref"].rsplit("/", 1)[-1], {})
        return "enum" in target
    return items.get("type") != "object"


def _one_or_many(prop: dict[str, Any], defs: dict[str, Any]) -> None:
    """Let an array-of-scalars property also take a single scalar."""
    options = prop.get("anyOf")
    if options is None and prop.get("type") == "array":
        items = prop["items"]
        if _scalar(items, defs):
            desc = prop.pop("description", None)
            array = {k: prop.pop(k) for k in list(prop) if k in ("type", "items", "minItems", "maxItems")}
            prop["anyOf"] = [array, copy.deepcopy(items)]
            if desc:
                prop["description"] = desc
    elif options:
        for option in options:
            if option.get("type") == "array":
                items = option["items"]
                if _scalar(items, defs):
                    options.append(copy.deepcopy(items))
                    break


def plant_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``plant.yaml``."""
    schema = Plant.model_json_schema(by_alias=True)
    defs = schema["$defs"]
    for name, definition in defs.items():
        for prop_name, prop in definition.get("properties", {}).items():
            if name == "Flow" and prop_name == "ports":
                prop["items"] = PORT
            _one_or_many(prop, defs)
    flow = defs["Flow"]["properties"]
    flow["protocol"]["examples"] = sorted(PROTOCOLS)
    flow["operations"]["anyOf"] = [
        {"$ref": "#/$defs/Operations"},
        {"type": "string", "enum": sorted([*OPERATION_PRESETS, "any"])},
        {"type": "array", "items": {"type": "string", "enum": sorted(OPERATIONS)}},
        {"type": "null"},
    ]
    for key in ("allow", "deny"):
        ops = defs["Operations"]["properties"][key]
        for option in ops.get("anyOf", [ops]):
            if option.get("type") == "array":
                option["items"] = {"type": "string", "enum": sorted(OPERATIONS)}
    zone = defs["Zone"]["properties"]
    zone["consequences"]["items"] = {"anyOf": [{"$ref": "#/$defs/Consequence"}, {"type": "string"}]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "ZoneWarden plant.yaml",
        "description": f"Site, zones, conduits and assets of a plant (ZoneWarden {__version__}, workspace format 1)",
        **schema,
    }
