"""Saved discovery runs: what `zonewarden discover CAPTURE... --workspace W --save` keeps under ``W/discovery/``.

One JSON file per run, never rewritten, named ``<UTC date and time>-<short hash>.json``
(``20261126T231500Z-3f9a1c0b.json``): the hash is the first 8 hex digits of the SHA-256
of the run's capture SHA-256s (sorted), so runs over the same captures share it. Reports
embed the newest run saved on or before their as-of date (:func:`latest`).

Format ``zonewarden-discovery-1``::

    {
      "format": "zonewarden-discovery-1",
      "created": "2026-11-26T23:15:00Z",          # UTC, when the run was saved
      "tool_version": "0.1.0",
      "captures": [{"name": "line3.pcap", "sha256": "<64 hex>", "bytes": 123456}],
      "summary": {"packets": 0, "hosts": 0, "flows": 0, "dissected_packets": 0,
                  "observations": {"modbus": 0}, "problems": 0},
      "inventory": [{"ip", "mac", "vendor", "model", "firmware", "serial", "name", "roles",
                     "protocols", "zone", "first_seen", "last_seen", "packets"}],
      "flows": [{"client", "server", "protocol", "flows", "packets", "bytes",
                 "first_seen", "last_seen"}],        # one row per client, server and protocol; no probes
      "map": {"nodes": [...], "edges": [...]},       # traffic.commap.build_map
      "cross_zone": [{"source", "target", "source_zone", "target_zone", "protocols",
                      "packets", "bytes"}]
    }

Times in ``inventory`` and ``flows`` are seconds since the epoch, as in the captures.
``zone`` is the zone of the host's address in the workspace model when the run was saved
(null outside every zone subnet).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zonewarden import __version__
from zonewarden.errors import ZoneWardenError
from zonewarden.traffic.flows import PROBE_STATES

FORMAT = "zonewarden-discovery-1"
FOLDER = "discovery"
_STAMP = "%Y%m%dT%H%M%SZ"


class RecordError(ZoneWardenError):
    """A saved discovery run cannot be written."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def capture_facts(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Name, SHA-256 and size of each capture file."""
    return [{"name": p.name, "sha256": sha256_file(p), "bytes": p.stat().st_size} for p in paths]


def flow_summary(flows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The flows of a discovery folded into one row per client, server and protocol; probes (flows without
    data, see flows.FLOW_STATES: a scan makes one per host and port tried) are left out."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for f in flows:
        if f.get("state") in PROBE_STATES:
            continue
        protocol = f.get("app_protocol") or f"{f.get('transport', '?')}/{f.get('server_port', '?')}"
        key = (str(f["client"]), str(f["server"]), protocol)
        row = rows.setdefault(
            key,
            {"client": key[0], "server": key[1], "protocol": protocol, "flows": 0, "packets": 0, "bytes": 0,
             "first_seen": f.get("first_seen"), "last_seen": f.get("last_seen")},
        )  # fmt: skip
        row["flows"] += 1
        row["packets"] += int(f.get("packets_to_server", 0)) + int(f.get("packets_to_client", 0))
        row["bytes"] += int(f.get("bytes_to_server", 0)) + int(f.get("bytes_to_client", 0))
        row["first_seen"] = _min(row["first_seen"], f.get("first_seen"))
        row["last_seen"] = _max(row["last_seen"], f.get("last_seen"))
    return [rows[k] for k in sorted(rows)]


def cross_zone(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """The map's edges between hosts of two different zones, with both zones."""
    zone = {n["id"]: n.get("zone") for n in graph["nodes"]}
    out = []
    for e in graph["edges"]:
        a, b = zone.get(e["source"]), zone.get(e["target"])
        if a and b and a != b:
            out.append(
                {"source": e["source"], "target": e["target"], "source_zone": a, "target_zone": b,
                 "protocols": e["protocols"], "packets": e["packets"], "bytes": e["bytes"]}
            )  # fmt: skip
    return out


def build_record(
    hosts: list[dict[str, Any]],
    flows: list[dict[str, Any]],
    stats: dict[str, Any],
    problems: list[dict[str, Any]],
    graph: dict[str, Any],
    captures: list[dict[str, Any]],
    created: dt.datetime,
) -> dict[str, Any]:
    """The saved form of one discovery run (the format is in the module docstring)."""
    zone = {n["ip"]: n.get("zone") for n in graph["nodes"] if n.get("ip")}
    inventory = [
        {
            **{k: h.get(k) for k in ("ip", "mac", "vendor", "model", "firmware", "serial", "name")},
            "roles": list(h.get("roles", [])),
            "protocols": list(h.get("protocols", [])),
            "zone": zone.get(h.get("ip") or ""),
            **{k: h.get(k) for k in ("first_seen", "last_seen", "packets")},
        }
        for h in hosts
    ]
    return {
        "format": FORMAT,
        "created": created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool_version": __version__,
        "captures": captures,
        "summary": {
            "packets": stats.get("packets", 0),
            "hosts": len(hosts),
            "flows": stats.get("flows", len(flows)),
            "dissected_packets": stats.get("dissected_packets", 0),
            "observations": dict(stats.get("observations", {})),
            "problems": len(problems),
        },
        "inventory": inventory,
        "flows": flow_summary(flows),
        "map": graph,
        "cross_zone": cross_zone(graph),
    }


def record_name(record: dict[str, Any]) -> str:
    created = _created(record)
    digest = hashlib.sha256("".join(sorted(c["sha256"] for c in record["captures"])).encode()).hexdigest()
    return f"{created.strftime(_STAMP)}-{digest[:8]}.json"


def save(workspace: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` as a new file under ``workspace/discovery/``; an existing file is never replaced."""
    folder = workspace / FOLDER
    try:
        folder.mkdir(exist_ok=True)
        name = record_name(record)
        path = folder / name
        for n in range(2, 1000):
            if not path.exists():
                break
            path = folder / name.replace(".json", f"-{n}.json")
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise RecordError(f"{folder}: cannot save the discovery run: {exc.strerror or exc}") from None
    return path


def latest(workspace: Path, until: dt.date | None = None) -> tuple[Path | None, dict[str, Any] | None, list[str]]:
    """(path, record, problems): the newest run saved on or before ``until`` (any date when None).

    Files that are not valid runs are skipped and named in ``problems`` (``discovery/x.json: why``);
    ``(None, None, problems)`` when there is no run.
    """
    folder = workspace / FOLDER
    if not folder.is_dir():
        return None, None, []
    best: tuple[dt.datetime, str, Path, dict[str, Any]] | None = None
    problems: list[str] = []
    for path in sorted(folder.glob("*.json")):
        where = f"{FOLDER}/{path.name}"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{where}: unreadable ({exc})")
            continue
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not JSON (line {exc.lineno} column {exc.colno}: {exc.msg})")
            continue
        why = _invalid(record)
        if why:
            problems.append(f"{where}: {why}")
            continue
        created = _created(record)
        if until is not None and created.date() > until:
            continue
        if best is None or (created, path.name) > best[:2]:
            best = (created, path.name, path, record)
    if best is None:
        return None, None, problems
    return best[2], best[3], problems


def _invalid(record: Any) -> str | None:
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return f"not a saved discovery run (format {FORMAT!r} expected)"
    try:
        _created(record)
    except (KeyError, TypeError, ValueError):
        return "no valid 'created' time"
    graph = record.get("map")
    if (
        not isinstance(graph, dict)
        or not isinstance(graph.get("nodes"), list)
        or not isinstance(graph.get("edges"), list)
    ):
        return "no communication map ('map' with 'nodes' and 'edges')"
    for n in graph["nodes"]:
        if not (isinstance(n, dict) and isinstance(n.get("id"), str) and isinstance(n.get("label"), str)):
            return "a map node without an 'id' and a 'label'"
        if not _texts(n.get("roles")) or not isinstance(n.get("ip"), str | None):
            return f"map node {n['id']}: 'roles' (list) and 'ip' (text or null) expected"
    for e in graph["edges"]:
        if not (isinstance(e, dict) and isinstance(e.get("source"), str) and isinstance(e.get("target"), str)):
            return "a map edge without 'source' and 'target'"
        counts = (e.get("packets"), e.get("bytes"))
        if not _texts(e.get("protocols")) or not all(isinstance(c, int) and c >= 0 for c in counts):
            return f"map edge {e['source']} -> {e['target']}: 'protocols' (list), 'packets' and 'bytes' expected"
    for key in ("captures", "cross_zone", "inventory", "flows"):
        if not isinstance(record.get(key), list):
            return f"'{key}' is not a list"
    for c in record["captures"]:
        if not (isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("bytes"), int)):
            return "a capture without 'name' and 'bytes'"
        if not (isinstance(c.get("sha256"), str) and len(c["sha256"]) == 64):
            return f"capture {c['name']}: 'sha256' (64 hex digits) expected"
    summary = record.get("summary")
    if not isinstance(summary, dict) or not all(isinstance(summary.get(k), int) for k in ("packets", "hosts", "flows")):
        return "'summary' with 'packets', 'hosts' and 'flows' counts expected"
    return None


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _created(record: dict[str, Any]) -> dt.datetime:
    return dt.datetime.strptime(record["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)
