"""The shipped demo plant: its assessment is what its files say, line by line."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

from conftest import REPO

from zonewarden.assess.backlog import build_backlog
from zonewarden.assess.engine import assess
from zonewarden.catalog import load_catalog
from zonewarden.workspace.load import load_workspace

DEMO = REPO / "zonewarden" / "data" / "demo"
AS_OF = dt.date(2026, 11, 26)
CAT = load_catalog()


def result():
    ws = load_workspace(DEMO)
    return ws, assess(ws.plant, ws.risk, [a for _, a in ws.assessments], CAT, AS_OF)


def test_demo_is_valid_with_only_the_deliberate_warnings():
    ws = load_workspace(DEMO)
    diagnostics = ws.check(AS_OF)
    assert [d.format() for d in diagnostics if d.severity == "error"] == []
    codes = sorted(d.code for d in diagnostics)
    assert codes == ["cleartext-remote-access", "expired-evidence", "no-justification"]
    assert len(ws.plant.zones) >= 7 and len(ws.plant.assets) >= 40 and len(ws.plant.conduits) >= 8


def test_some_zones_meet_their_slt_most_do_not():
    _, r = result()
    meeting = sorted(z.id for z in r.zones if z.meets_target)
    assert meeting == ["idmz", "intake"]
    with_target = [z for z in r.zones if z.sl_target is not None]
    assert len(with_target) - len(meeting) > len(meeting)


def test_deliberate_findings_are_explained():
    _, r = result()
    reasons = {(g.target, g.requirement): g.reason for g in r.gaps}
    assert reasons[("site-ops", "SR 3.3")] == "evidence expired (2026-06-30)"
    assert reasons[("treatment", "SR 2.2")] == "not-applicable without a justification"
    sis = next(z for z in r.zones if z.id == "sis")
    assert set(sis.slt.overridden) >= {"FR3", "FR5"}
    assert "IEC 61511" in sis.slt.frs["FR3"].rationale()


def test_every_slt_names_its_consequence():
    _, r = result()
    for z in r.zones:
        if z.sl_target is None:
            continue
        for fr, target in z.slt.frs.items():
            text = target.rationale()
            assert "severity" in text or "baseline" in text or "override" in text, (z.id, fr, text)


def test_backlog_has_quick_wins_and_groups():
    _, r = result()
    items = build_backlog(r, CAT)
    assert items[0].quick_win
    assert any(len(i.targets) > 1 for i in items)


def test_demo_command_shows_scorecard_and_backlog(tmp_path):
    env = {**os.environ, "NO_COLOR": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "zonewarden", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "Scorecard" in out.stdout and "remediation backlog" in out.stdout and "quick win" in out.stdout
    assert "2 meeting it" in out.stdout


def test_assess_json_contract():
    env = {**os.environ, "NO_COLOR": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "zonewarden", "assess", str(DEMO), "--format", "json", "--as-of", "2026-11-26"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for zone in data["zones"]:
        assert {"id", "sl_target", "sl_achieved", "gaps", "compliance", "rationale"} <= set(zone)
        assert list(zone["sl_achieved"]) == ["FR1", "FR2", "FR3", "FR4", "FR5", "FR6", "FR7"]
        if zone["sl_target"] is not None:
            assert 0 <= zone["compliance"] <= 1
    assert data["program"]["zones_meeting_sl_target"] == 2
