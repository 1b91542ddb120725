"""The report's communication map: the newest discovery run saved in the workspace, placed in today's model.

`zonewarden discover CAPTURE... --workspace W --save` keeps runs under ``W/discovery/``
(format in :mod:`zonewarden.traffic.record`). The report takes the newest run saved on or
before its as-of date, puts every host in the zone its address has in the current model
(the model may have changed since the run), and lists the observed communications between
zones with the conduit that connects the two zones, if any.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from zonewarden.model.resolve import Resolver
from zonewarden.traffic.compare import host_zones
from zonewarden.traffic.record import FOLDER, cross_zone, latest
from zonewarden.workspace.load import Workspace

HOW_TO = (
    "No discovery run is saved in this workspace. Record one with "
    "`zonewarden discover CAPTURE... --workspace WORKSPACE --save`; the report then shows its communication map."
)


def discovery_section(ws: Workspace, resolver: Resolver, as_of: dt.date) -> dict[str, Any]:
    """The ``discovery`` part of the report document (``file`` is None when no run is saved)."""
    path, record, problems = latest(ws.root, as_of)
    if record is None or path is None:
        return {"file": None, "created": None, "captures": [], "summary": None, "map": None,
                "cross_zone": [], "problems": problems, "note": HOW_TO}  # fmt: skip
    graph = copy.deepcopy(record["map"])
    zone_of = host_zones(resolver, [{"ip": n.get("ip")} for n in graph["nodes"]])
    for node in graph["nodes"]:
        node["zone"] = zone_of.get(node.get("ip") or "")
    zone = {n["id"]: n["zone"] for n in graph["nodes"]}
    for edge in graph["edges"]:
        a, b = zone.get(edge["source"]), zone.get(edge["target"])
        edge["cross_zone"] = bool(a and b and a != b)
    conduits: dict[frozenset[str], list[str]] = {}
    for conduit in ws.plant.conduits:
        conduits.setdefault(frozenset(conduit.zones), []).append(conduit.id)
    crossings = [
        {**row, "conduits": sorted(conduits.get(frozenset((row["source_zone"], row["target_zone"])), []))}
        for row in cross_zone(graph)
    ]
    return {
        "file": f"{FOLDER}/{path.name}",
        "created": record["created"],
        "captures": record["captures"],
        "summary": record.get("summary"),
        "map": graph,
        "cross_zone": crossings,
        "problems": problems,
        "note": None,
    }
