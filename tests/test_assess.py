"""The assessment engine: every SL-T derivation rule, SL-A edge cases, gaps, backlog, risk."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import DATA

from zonewarden.assess.backlog import build_backlog
from zonewarden.assess.engine import assess
from zonewarden.assess.model import Answer, Assessment
from zonewarden.catalog import load_catalog
from zonewarden.workspace.load import load_workspace

CAT = load_catalog()
TODAY = dt.date(2026, 11, 26)


@pytest.fixture
def ws_dir(tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(DATA / "assess_ws", target)
    return target


def run(root: Path, as_of: dt.date = TODAY):
    ws = load_workspace(root)
    assert [d for d in ws.check() if d.severity == "error"] == []
    return ws, assess(ws.plant, ws.risk, [a for _, a in ws.assessments], CAT, as_of)


def zone(result, zone_id):
    return next(z for z in result.zones if z.id == zone_id)


def edit(root: Path, name: str, change) -> None:
    path = root / name
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


# -- SL-T derivation ------------------------------------------------------------


def test_consequence_sets_base_level_per_category_frs(ws_dir):
    _, result = run(ws_dir)
    ctl = zone(result, "ctl")
    # health-and-safety drives FR1 FR2 FR3 FR5 FR6 FR7; severity 5 -> SL 3; FR4 only the baseline.
    assert str(ctl.sl_target) == "{3,3,3,1,3,3,4}"
    assert "health and safety severity 5 (toxic release) sets 3" in ctl.slt.frs["FR1"].rationale()
    assert "baseline 1" in ctl.slt.frs["FR4"].rationale()


def test_exposure_from_untrusted_within_two_hops_and_remote_access_direct(ws_dir):
    _, result = run(ws_dir)
    ops = zone(result, "ops")
    assert str(ops.sl_target) == "{3,3,2,1,3,3,2}"
    fr5 = ops.slt.frs["FR5"].rationale()
    assert "production and availability severity 4 (plant stops for days) sets 2" in fr5
    assert "+1: reachable from ent through conduits ent-ra, ra-ops" in fr5
    assert "reachable from ra through conduit ra-ops" in ops.slt.frs["FR6"].rationale()
    # ctl is 3 hops from the enterprise and 2 from remote access: not raised.
    assert "+1" not in zone(result, "ctl").slt.frs["FR5"].rationale()


def test_exposure_only_raises_fr_whose_base_is_high_enough(ws_dir):
    _, result = run(ws_dir)
    # FR1 of ops has only the baseline 1 (production does not drive FR1): exposure does not raise it.
    # (S1's financial consequence drives FR1 to 2, which exposure raises to 3.)
    edit(ws_dir, "risk.yaml", lambda d: d.pop("scenarios"))
    _, result = run(ws_dir)
    assert zone(result, "ops").frs["FR1"].target == 1


def test_exposure_alone_never_sets_slt(ws_dir):
    _, result = run(ws_dir)
    ra = zone(result, "ra")  # directly reachable from the enterprise, but no consequences
    assert ra.sl_target is None
    assert ra.gaps == []


def test_wireless_and_removable_media(ws_dir):
    _, result = run(ws_dir)
    assert zone(result, "wifi").frs["FR5"].target == 3
    assert "wireless network" in zone(result, "wifi").slt.frs["FR5"].rationale()
    far = zone(result, "far")
    assert far.frs["FR2"].target == 3 and "removable media" in far.slt.frs["FR2"].rationale()


def test_declared_slt_without_consequences_and_note_when_both(ws_dir):
    _, result = run(ws_dir)
    dmz = zone(result, "dmz")
    assert str(dmz.sl_target) == "{2,2,2,2,2,2,2}" and dmz.slt.frs["FR1"].source == "declared"

    def declare(d):
        next(z for z in d["zones"] if z["id"] == "far")["sl_t"] = 1

    edit(ws_dir, "plant.yaml", declare)
    _, result = run(ws_dir)
    far = zone(result, "far")
    assert far.frs["FR2"].target == 3  # derived wins
    assert "plant.yaml declares 1; record an override" in far.slt.frs["FR2"].rationale()


def test_override_up_and_down_is_recorded(ws_dir):
    _, result = run(ws_dir)
    ctl = zone(result, "ctl")
    assert ctl.slt.overridden == ["FR7"]
    assert "override (derived 3): Loss of the scrubber control" in ctl.slt.frs["FR7"].rationale()

    def lower(d):
        d["overrides"].append({"zone": "ops", "fr": ["FR5", "RDF"], "sl": 1, "justification": "accepted by the owner"})

    edit(ws_dir, "risk.yaml", lower)
    _, result = run(ws_dir)
    assert zone(result, "ops").frs["FR5"].target == 1


def test_rules_are_data_the_owner_can_edit(ws_dir):
    def rules(d):
        d["sl_rules"] = {"severity_to_sl": {1: 1, 2: 2, 3: 3, 4: 4, 5: 4}, "baseline": 0, "exposure": [], "max_sl": 4}

    edit(ws_dir, "risk.yaml", rules)
    _, result = run(ws_dir)
    assert zone(result, "ops").frs["FR5"].target == 4
    assert zone(result, "ops").frs["FR4"].target == 0  # no baseline
    assert zone(result, "far").frs["FR2"].target == 3  # no exposure rules


def test_cap_at_max_sl(ws_dir):
    def rules(d):
        d["sl_rules"] = {
            "severity_to_sl": {1: 4, 2: 4, 3: 4, 4: 4, 5: 4},
            "exposure": [
                {"id": "x", "when": "reachable-from-untrusted", "max_hops": 5, "add": 2, "frs": ["all"], "min_base": 1}
            ],
        }

    edit(ws_dir, "risk.yaml", rules)
    _, result = run(ws_dir)
    fr = zone(result, "ops").slt.frs["FR5"]
    assert fr.level == 4 and "(capped)" in fr.rationale()


def test_conduit_slt_is_highest_of_its_zones_unless_declared(ws_dir):
    _, result = run(ws_dir)
    target = result.conduit_targets["ops-ctl"]
    assert target.vector.get("FR7") == 4  # ctl's override carries over
    assert "highest of the zones it joins (ops 2, ctl 4)" in target.frs["FR7"].rationale()

    def declare(d):
        next(c for c in d["conduits"] if c["id"] == "ops-ctl")["sl_t"] = 2

    edit(ws_dir, "plant.yaml", declare)
    _, result = run(ws_dir)
    assert str(result.conduit_targets["ops-ctl"].vector) == "{2,2,2,2,2,2,2}"


# -- SL-A ----------------------------------------------------------------------------


def _answers(**statuses):
    return {rid.replace("_", " ").replace(" re ", " RE "): Answer.model_validate(a) for rid, a in statuses.items()}


def _result_for(ws_dir, answers: dict[str, Answer], as_of=TODAY):
    ws = load_workspace(ws_dir)
    assessment = Assessment(zone="ctl", answers=answers)
    return zone(assess(ws.plant, ws.risk, [assessment], CAT, as_of), "ctl")


def _all_fr1(status="implemented", upto=4):
    return {
        r.id: Answer(status=status)
        for r in CAT.requirements.values()
        if r.standard == "62443-3-3" and r.fr == "FR1" and r.sl <= upto
    }


def test_sla_is_highest_level_with_everything_below_met(ws_dir):
    answers = _all_fr1()
    assert _result_for(ws_dir, answers).frs["FR1"].achieved == 4
    # An RE required at SL 3 missing caps FR1 at 2, even though its SL 4 sibling is met.
    del answers["SR 1.1 RE 2"]
    result = _result_for(ws_dir, answers)
    assert result.frs["FR1"].achieved == 2
    assert [g.requirement for g in result.gaps if g.fr == "FR1"] == ["SR 1.1 RE 2"]
    assert result.gaps[0].reason == "not answered"


def test_not_applicable_counts_only_with_justification(ws_dir):
    answers = _all_fr1(upto=3)
    answers["SR 1.6"] = Answer(status="not-applicable")
    result = _result_for(ws_dir, answers)
    assert result.frs["FR1"].achieved == 0
    assert "not-applicable without a justification" in result.gaps[0].reason
    answers["SR 1.6"] = Answer(status="not-applicable", justification="no wireless in the zone")
    assert _result_for(ws_dir, answers).frs["FR1"].achieved == 3


def test_expired_evidence_does_not_count(ws_dir):
    answers = _all_fr1(upto=3)
    answers["SR 1.3"] = Answer.model_validate(
        {"status": "implemented", "evidence": [{"ref": "AUDIT-1", "date": "2025-01-01", "expires": "2026-06-30"}]}
    )
    result = _result_for(ws_dir, answers)
    assert result.frs["FR1"].achieved == 0
    assert result.gaps[0].reason == "evidence expired (2026-06-30)"
    assert _result_for(ws_dir, answers, as_of=dt.date(2026, 6, 1)).frs["FR1"].achieved == 3
    # One valid piece of evidence among expired ones is enough.
    answers["SR 1.3"].evidence.append(answers["SR 1.3"].evidence[0].model_copy(update={"expires": None}))
    assert _result_for(ws_dir, answers).frs["FR1"].achieved == 3


def test_compensated_needs_the_countermeasure(ws_dir):
    answers = _all_fr1(upto=3)
    answers["SR 1.7"] = Answer(status="compensated")
    assert _result_for(ws_dir, answers).frs["FR1"].achieved == 0
    answers["SR 1.7"] = Answer(
        status="compensated",
        compensation="PLC has no passwords; DPI firewall allows writes from the engineering station only",
    )
    assert _result_for(ws_dir, answers).frs["FR1"].achieved == 3


@pytest.mark.parametrize("status", ["partial", "planned", "not-implemented"])
def test_open_statuses_are_gaps(ws_dir, status):
    answers = _all_fr1(upto=3)
    answers["SR 1.1"] = Answer(status=status)
    result = _result_for(ws_dir, answers)
    assert result.frs["FR1"].achieved == 0
    assert any(g.requirement == "SR 1.1" and g.reason == status for g in result.gaps)


def test_compliance_and_program_figures(ws_dir):
    _, result = run(ws_dir)
    far = zone(result, "far")
    assert far.met == 2 and far.required == sum(
        1 for r in CAT.requirements.values() if r.standard == "62443-3-3" and r.sl <= far.sl_target.get(r.fr)
    )
    program = result.program()
    assert program["zones"] == 7 and program["zones_with_sl_target"] == 5
    assert program["zones_meeting_sl_target"] == 0
    assert program["open_nonconformities"] == len(result.gaps)


def test_capability_gaps(ws_dir):
    _, result = run(ws_dir)
    gaps = {(g.asset, g.fr): (g.sl_c, g.sl_t) for g in result.capability_gaps}
    assert gaps[("plc", "FR1")] == (2, 3)
    assert gaps[("plc", "FR7")] == (2, 4)
    assert ("plc", "FR4") not in gaps and ("plc", "FR5") not in gaps


# -- risk register ----------------------------------------------------------------------


def test_scenario_risk_and_tolerability(ws_dir):
    _, result = run(ws_dir)
    s1 = next(s for s in result.scenarios if s.id == "S1")
    assert (s1.risk, s1.tolerable, s1.residual_risk, s1.residual_tolerable) == ("high", False, "medium", True)
    assert zone(result, "ops").risk_score == 4 * 2  # residual severity x likelihood


# -- backlog ----------------------------------------------------------------------------


def test_backlog_groups_program_items_and_splits_zone_items(ws_dir):
    _, result = run(ws_dir)
    items = build_backlog(result, CAT)
    by_req: dict[str, list] = {}
    for item in items:
        by_req.setdefault(item.requirement, []).append(item)
    # SR 1.3 account management is fixed once for the program: one item for every zone missing it.
    assert len(by_req["SR 1.13"]) == 1 and len(by_req["SR 1.13"][0].targets) > 1
    # SR 5.2 zone boundary protection is per zone.
    assert all(len(i.targets) == 1 for i in by_req["SR 5.2"])
    assert len(by_req["SR 5.2"]) == len([z for z in result.zones if z.sl_target is not None])
    assert [i.rank for i in items] == list(range(1, len(items) + 1))


def test_backlog_ranking_quick_wins_first_then_score(ws_dir):
    _, result = run(ws_dir)
    items = build_backlog(result, CAT)
    flags = [i.quick_win for i in items]
    assert flags == sorted(flags, reverse=True)  # all quick wins lead
    for group in (True, False):
        scores = [i.score for i in items if i.quick_win == group]
        assert scores == sorted(scores, reverse=True)
    quick = next(i for i in items if i.quick_win)
    assert {"authentication", "segmentation", "remote-access"} & set(quick.tags) and quick.effort in ("S", "M")


def test_backlog_score_follows_risk_gap_and_exposure(ws_dir):
    _, result = run(ws_dir)
    items = {(i.requirement, tuple(i.targets)): i for i in build_backlog(result, CAT)}
    # Same requirement, zone scope: ctl (health 5, FR gap 3) outranks far (production 3, no exposure).
    ctl = items[("SR 5.2", ("zone:ctl",))]
    far = items[("SR 5.2", ("zone:far",))]
    assert ctl.score > far.score
    # ops is exposed (x1.5) with a medium residual risk.
    ops = items[("SR 5.2", ("zone:ops",))]
    assert ops.score > 0
