"""Regenerate ``data/ics-attack.json`` from MITRE's ATT&CK for ICS STIX 2.1 bundle (offline).

    python -m zonewarden.attack.build ics-attack-18.0.json [--out zonewarden/attack/data/ics-attack.json]

Keeps techniques (id, name, tactics), ICS mitigations (id, name, the IEC 62443-3-3 SRs in
their ``labels``) and the ``mitigates`` relationships; skips revoked and deprecated objects.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

_SR = re.compile(r"IEC 62443-3-3:\d{4} - (SR \d+\.\d+)")


def _external_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references", []):
        if ref.get("source_name") == "mitre-attack":
            return ref.get("external_id")
    return None


def convert(bundle: dict[str, Any], source: str) -> dict[str, Any]:
    objects = [o for o in bundle.get("objects", []) if not o.get("revoked") and not o.get("x_mitre_deprecated")]
    version = next((o.get("x_mitre_version") for o in objects if o.get("type") == "x-mitre-collection"), "?")
    ids = {o["id"]: _external_id(o) for o in objects}
    techniques = [
        {
            "id": ids[o["id"]],
            "name": o["name"],
            "tactics": [p["phase_name"] for p in o.get("kill_chain_phases", [])],
        }
        for o in objects
        if o.get("type") == "attack-pattern" and ids.get(o["id"])
    ]
    mitigations: dict[str, dict[str, Any]] = {}
    for o in objects:
        if o.get("type") == "course-of-action" and ids.get(o["id"]):
            srs = sorted({m.group(1) for label in o.get("labels", []) for m in [_SR.search(label)] if m})
            mitigations[o["id"]] = {"id": ids[o["id"]], "name": o["name"], "iec62443_3_3": srs, "techniques": []}
    for o in objects:
        if o.get("type") == "relationship" and o.get("relationship_type") == "mitigates":
            m, t = mitigations.get(o["source_ref"]), ids.get(o["target_ref"])
            if m is not None and t:
                m["techniques"].append(t)
    for m in mitigations.values():
        m["techniques"] = sorted(set(m["techniques"]))
    return {
        "_about": {
            "name": "MITRE ATT&CK for ICS",
            "attack_version": version,
            "source": source,
            "license": "ATT&CK(R) content (c) The MITRE Corporation, reproduced under the ATT&CK terms of use",
            "coverage": "complete: generated from the STIX bundle",
            "curated": dt.date.today().isoformat(),
        },
        "tactics": sorted({t for tech in techniques for t in tech["tactics"]}),
        "techniques": sorted(techniques, key=lambda t: t["id"]),
        "mitigations": sorted(mitigations.values(), key=lambda m: m["id"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "ics-attack.json")
    args = parser.parse_args()
    data = convert(json.loads(args.bundle.read_text(encoding="utf-8")), args.bundle.name)
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(data['techniques'])} techniques, {len(data['mitigations'])} mitigations -> {args.out}")


if __name__ == "__main__":
    main()
