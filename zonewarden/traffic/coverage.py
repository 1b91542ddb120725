"""Conduit coverage: which declared flows the traffic used, which it never used, and what it
used that nothing declares; and the result recorded as dated traffic evidence.

* ``declared``: every conduit flow, with the flows, packets and first packet that used it;
* ``never_seen``: declared flows with no traffic: candidates for removal under least
  functionality (SR 7.7), to be confirmed over a capture long enough to see rare flows;
* ``undeclared``: traffic through the conduit that no flow allows, and industrial operations a
  flow does not allow, each with what a declaration would have to say.

:func:`record_evidence` writes the check into the workspace's assessment files as evidence for
SR 5.1 (segmentation), SR 5.2 (zone boundary protection) and SR 6.2 (continuous monitoring),
dated and carrying the capture's SHA-256, with a round trip that keeps people's answers, keys
and comments. An existing answer gets one more evidence entry (once per capture and day); a
requirement without an answer gets ``status: implemented`` when the capture shows no violation
in the zone and ``partial`` otherwise, ``method: test``, and a note saying where it came from,
for the assessor to review.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zonewarden.model.plant import Plant
from zonewarden.traffic.check import CheckResult, CompiledPolicy

EVIDENCE_REQUIREMENTS = ("SR 5.1", "SR 5.2", "SR 6.2")
EVIDENCE_DAYS = 365  # traffic evidence is a snapshot: it expires after a year unless refreshed


def coverage(plant: Plant, compiled: CompiledPolicy, results: Iterable[CheckResult]) -> list[dict[str, Any]]:
    """Per conduit: declared flows seen and never seen, and observed flows needing a declaration."""
    results = list(results)
    used: dict[tuple[str, str], dict[str, Any]] = {}
    for res in results:
        for f in res.flows:
            if f["verdict"] != "allowed" or not f["rule"]:
                continue
            u = used.setdefault(
                (f["conduit"], f["rule"]), {"flows": 0, "packets": 0, "file": f["file"], "packet": f["first_packet"]}
            )
            u["flows"] += f.get("flows", 1)  # a folded conversation stands for several
            u["packets"] += f["packets_to_server"] + f["packets_to_client"]
    undeclared: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = defaultdict(dict)
    for res in results:
        for v in res.violations:
            if v["kind"] not in ("not-allowed", "operation-not-allowed") or not v["conduit"]:
                continue
            key = (v["src_zone"], v["dst_zone"], v["transport"], v["port"], v.get("protocol"), v.get("operation"))
            found = undeclared[v["conduit"]].get(key)
            if found is None:
                undeclared[v["conduit"]][key] = {
                    "from": v["src_zone"],
                    "to": v["dst_zone"],
                    "protocol": v.get("protocol"),
                    "transport": v["transport"],
                    "port": v["port"],
                    "operation": v.get("operation"),
                    "hosts": sorted({f"{v['client']} -> {v['server']}"}),
                    "packets": v["packets"],
                    "file": v["file"],
                    "packet": v["packet"],
                }
            else:
                found["packets"] += v["packets"]
                found["hosts"] = sorted({*found["hosts"], f"{v['client']} -> {v['server']}"})
    out = []
    for conduit in plant.conduits:
        declared: list[dict[str, Any]] = []
        seen_names: set[str] = set()
        for index, flow in enumerate(conduit.flows, start=1):
            name = flow.id or f"{conduit.id}-{index}"
            hit = used.get((conduit.id, name))
            if hit:
                seen_names.add(name)
            declared.append(
                {
                    "flow": name,
                    "from": list(flow.from_),
                    "to": list(flow.to),
                    "protocol": flow.protocol,
                    "ports": list(flow.ports),
                    "seen": bool(hit),
                    "flows": hit["flows"] if hit else 0,
                    "packets": hit["packets"] if hit else 0,
                    "file": hit["file"] if hit else None,
                    "packet": hit["packet"] if hit else None,
                }
            )
        out.append(
            {
                "conduit": conduit.id,
                "zones": list(conduit.zones),
                "declared": declared,
                "never_seen": [d["flow"] for d in declared if not d["seen"]],
                "undeclared": sorted(
                    undeclared.get(conduit.id, {}).values(), key=lambda u: (u["file"], u["packet"] or 0)
                ),
            }
        )
    return out


# -- evidence ----------------------------------------------------------------------------------------


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class CaptureEvidence:
    """One capture as evidence: where it is, its hash, and what the check found in each zone."""

    ref: str  # path relative to the workspace when inside it, else the file name
    sha256: str
    flows: int
    violations_by_zone: dict[str, int]


def capture_evidence(root: Path, path: Path, result: CheckResult) -> CaptureEvidence:
    try:
        ref = str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        ref = path.name
    per_zone: dict[str, int] = defaultdict(int)
    for f in result.flows:
        for zone in {f["src_zone"], f["dst_zone"]} - {None}:
            per_zone.setdefault(zone, 0)
    for v in result.violations:
        for zone in {v["src_zone"], v["dst_zone"]} - {None}:
            per_zone[zone] += 1
    flows = sum(result.counts.values())  # every flow: result.flows folds conversations, probes are apart
    return CaptureEvidence(ref, sha256_file(path), flows, dict(per_zone))


def record_evidence(
    root: Path, captures: list[CaptureEvidence], day: dt.date, zones: Iterable[str] | None = None
) -> list[str]:
    """Add the captures as evidence for :data:`EVIDENCE_REQUIREMENTS` to each zone the traffic touched
    (or ``zones``); returns the files written, relative to ``root``."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from zonewarden.catalog import canonical_id
    from zonewarden.workspace.program_files import assessment_files

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    touched: dict[str, list[CaptureEvidence]] = defaultdict(list)
    for cap in captures:
        for zone in cap.violations_by_zone:
            touched[zone].append(cap)
    wanted = set(zones) if zones is not None else set(touched)
    files: dict[str, Path] = {}
    for rel in assessment_files(root):
        try:
            doc = yaml.load((root / rel).read_text(encoding="utf-8"))
        except Exception:  # a broken file is validate's business; never overwrite it
            continue
        if isinstance(doc, dict) and doc.get("zone") in wanted:
            files.setdefault(str(doc["zone"]), root / rel)
    written = []
    for zone in sorted(wanted):
        caps = touched.get(zone, [])
        if not caps:
            continue
        path = files.get(zone) or root / "assessments" / f"{zone}.yaml"
        if path.exists():
            doc = yaml.load(path.read_text(encoding="utf-8"))
        else:
            doc = CommentedMap()
            doc["zone"] = zone
        answers = doc.get("answers")
        if answers is None:
            answers = CommentedMap()
            doc["answers"] = answers
        keys = {canonical_id(str(k)): k for k in answers}
        changed = False
        for rid in EVIDENCE_REQUIREMENTS:
            key = keys.get(rid, rid)
            answer = answers.get(key)
            entries = [_entry(cap, zone, rid, day) for cap in caps]
            if answer is None or isinstance(answer, str):
                status = answer if isinstance(answer, str) else _status(caps, zone)
                new = CommentedMap()
                new["status"] = status
                new["method"] = "test"
                new["evidence"] = CommentedSeq(entries)
                if answer is None:
                    new["note"] = "recorded by zonewarden traffic check; review the status"
                answers[key] = new
                changed = True
                continue
            evidence = answer.get("evidence")
            if evidence is None or isinstance(evidence, (str, dict)):
                evidence = CommentedSeq([] if evidence is None else [evidence])
                answer["evidence"] = evidence
            have = {(_field(e, "ref"), str(_field(e, "date")), _field(e, "description")) for e in evidence}
            for entry in entries:
                if (entry["ref"], str(entry["date"]), entry["description"]) not in have:
                    evidence.append(entry)
                    changed = True
        if changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as handle:
                yaml.dump(doc, handle)
            written.append(str(path.relative_to(root)))
    return written


def _field(entry: Any, name: str) -> Any:
    if isinstance(entry, str):
        return entry if name == "ref" else None
    return entry.get(name) if hasattr(entry, "get") else None


def _status(caps: list[CaptureEvidence], zone: str) -> str:
    return "partial" if any(c.violations_by_zone.get(zone) for c in caps) else "implemented"


def _entry(cap: CaptureEvidence, zone: str, rid: str, day: dt.date) -> dict[str, Any]:
    from ruamel.yaml.comments import CommentedMap

    what = {
        "SR 5.1": "zone membership of every observed host",
        "SR 5.2": "observed flows against the conduits",
        "SR 6.2": "traffic monitored against the model",
    }[rid]
    entry = CommentedMap()
    entry["ref"] = cap.ref
    entry["date"] = day
    entry["expires"] = day + dt.timedelta(days=EVIDENCE_DAYS)
    entry["description"] = (
        f"traffic check ({what}): sha256 {cap.sha256}; {cap.flows} flows, "
        f"{cap.violations_by_zone.get(zone, 0)} violations in this zone"
    )
    entry.fa.set_flow_style()
    return entry
