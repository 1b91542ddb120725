"""ATT&CK for ICS, offline: the shipped data, its builder, and techniques left open by missing SRs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from zonewarden.attack import base_sr, load_attack, unmitigated, zone_exposure
from zonewarden.attack.build import convert


def test_shipped_data_is_consistent():
    attack = load_attack()
    assert attack.version == "18.0" and "source" in attack.about
    assert len(attack.techniques) >= 80 and len(attack.mitigations) == 52
    assert all(re.fullmatch(r"T0[89]\d\d", t) for t in attack.techniques)
    assert all(re.fullmatch(r"M0[89]\d\d", m) for m in attack.mitigations)
    for m in attack.mitigations.values():
        assert all(t in attack.techniques for t in m.techniques), m.id
        assert all(re.fullmatch(r"SR \d\.\d+", sr) for sr in m.srs), m.id


def test_known_facts():
    """Checked against MITRE's published pages (attack.mitre.org, ICS domain)."""
    attack = load_attack()
    assert attack.technique("T0843").name == "Program Download"
    assert attack.technique("T0845").name == "Program Upload"
    assert attack.technique("T0816").name == "Device Restart/Shutdown"
    assert attack.technique("T0858").tactics == ("execution", "evasion")
    assert attack.mitigations["M0930"].name == "Network Segmentation"
    assert attack.mitigations["M0930"].srs == ("SR 5.1",)
    assert attack.mitigations["M0937"].srs == ("SR 5.1",)
    assert attack.mitigations["M0802"].srs == ("SR 3.1",)
    assert attack.mitigations["M0813"].srs == ("SR 1.2",)
    assert attack.mitigations["M0942"].srs == ("SR 7.7",)
    assert "T0816" in attack.mitigations["M0942"].techniques
    assert {m.id for m in attack.mitigations_of("T0816")} >= {"M0800", "M0802", "M0813", "M0937", "M0942"}


def test_verified_v18_mitigation_facts():
    """Pinned facts, verified 2026-11-26 against MITRE's ATT&CK for ICS v18.0 objects (SR labels) and
    attack.mitre.org pages / v17 ICS layers (technique links); see the data file's _about.coverage."""
    attack = load_attack()
    m = attack.mitigations
    assert m["M0800"].name == "Authorization Enforcement"
    assert m["M0800"].srs == ("SR 2.1",) and "T0800" in m["M0800"].techniques
    assert m["M0801"].srs == ("SR 2.1",) and "T0812" in m["M0801"].techniques
    assert m["M0818"].srs == ("SR 3.5", "SR 3.6")
    assert m["M0936"].srs == ("SR 1.11",)
    assert m["M0948"].srs == ("SR 5.4",)
    assert m["M0953"].srs == ("SR 7.3",)
    # v18.0 cites no IEC 62443-3-3 SR for these (M0946, M0951, M0815 cite 62443-4-2 CRs only)
    for ident in ("M0807", "M0810", "M0811", "M0812", "M0815", "M0946", "M0951"):
        assert m[ident].srs == (), ident
    assert m["M0812"].techniques == ("T0879", "T0880")
    assert m["M0942"].techniques == ("T0807", "T0816", "T0822", "T0830", "T0847", "T0853", "T0866", "T0885")
    assert "2026-11-26" in attack.about["coverage"]


def test_unmitigated_needs_every_labelled_mitigation_missing():
    attack = load_attack()
    # T0816 (restart) is mitigated by M0937 (SR 5.1), M0942 (SR 7.7), M0802 (SR 3.1), ...
    assert "T0816" not in {t["technique"] for t in unmitigated({"SR 5.1"}, attack)}
    everything = {sr for m in attack.mitigations.values() for sr in m.srs}
    open_ = {t["technique"]: t for t in unmitigated(everything, attack)}
    assert "T0816" in open_ and "SR 7.7" in open_["T0816"]["missing_srs"]
    assert unmitigated(set(), attack) == []
    assert base_sr("SR 5.1 RE 2") == "SR 5.1"


def test_zone_exposure_on_the_demo_plant():
    from zonewarden.assess.engine import assess
    from zonewarden.catalog import load_catalog
    from zonewarden.workspace.load import load_workspace

    ws = load_workspace(REPO / "zonewarden" / "data" / "demo")
    result = assess(ws.plant, ws.risk, [a for _, a in ws.assessments], load_catalog())
    zones = zone_exposure(result)
    assert [z["zone"] for z in zones] == [z.id for z in ws.plant.zones]
    for z in zones:
        assert all(set(t["missing_srs"]) <= set(z["missing_srs"]) for t in z["unmitigated"])


def _bundle() -> dict:
    return {
        "type": "bundle",
        "objects": [
            {"type": "x-mitre-collection", "id": "x-mitre-collection--1", "x_mitre_version": "99.0"},
            {
                "type": "attack-pattern",
                "id": "attack-pattern--a",
                "name": "Program Download",
                "kill_chain_phases": [{"kill_chain_name": "mitre-ics-attack", "phase_name": "lateral-movement"}],
                "external_references": [{"source_name": "mitre-attack", "external_id": "T0843"}],
            },
            {
                "type": "attack-pattern",
                "id": "attack-pattern--old",
                "name": "Gone",
                "revoked": True,
                "external_references": [{"source_name": "mitre-attack", "external_id": "T0999"}],
            },
            {
                "type": "course-of-action",
                "id": "course-of-action--m",
                "name": "Network Segmentation",
                "labels": [
                    "IEC 62443-3-3:2013 - SR 5.1",
                    "IEC 62443-4-2:2019 - CR 5.1",
                    "NIST SP 800-53 Rev. 5 - AC-3",
                ],
                "external_references": [{"source_name": "mitre-attack", "external_id": "M0930"}],
            },
            {
                "type": "relationship",
                "id": "relationship--r",
                "relationship_type": "mitigates",
                "source_ref": "course-of-action--m",
                "target_ref": "attack-pattern--a",
            },
        ],
    }


def test_builder_reads_a_stix_bundle():
    data = convert(_bundle(), "test.json")
    assert data["_about"]["attack_version"] == "99.0"
    assert data["techniques"] == [{"id": "T0843", "name": "Program Download", "tactics": ["lateral-movement"]}]
    assert data["mitigations"] == [
        {"id": "M0930", "name": "Network Segmentation", "iec62443_3_3": ["SR 5.1"], "techniques": ["T0843"]}
    ]


def test_cli_attack_per_zone(tmp_path: Path):
    env = {**os.environ, "NO_COLOR": "1"}
    demo = str(REPO / "zonewarden" / "data" / "demo")
    run = subprocess.run(
        [sys.executable, "-m", "zonewarden", "traffic", "attack", demo, "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["attack_version"] == "18.0" and data["zones"]


def test_cli_attack_with_the_users_stix_bundle(tmp_path: Path):
    """--attack-data takes MITRE's bundle as published: every technique it links is judged."""
    env = {**os.environ, "NO_COLOR": "1"}
    bundle = tmp_path / "ics-attack-99.0.json"
    bundle.write_text(json.dumps(_bundle()))
    ws = tmp_path / "ws"
    shutil.copytree(REPO / "zonewarden" / "data" / "demo", ws)
    base = [sys.executable, "-m", "zonewarden", "traffic", "attack", str(ws), "--format", "json"]
    run = subprocess.run([*base, "--attack-data", str(bundle)], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["attack_version"] == "99.0"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    run = subprocess.run([*base, "--attack-data", str(bad)], capture_output=True, text=True, env=env)
    assert run.returncode == 1 and "bad.json" in run.stderr and "Traceback" not in run.stderr
