"""Catalog invariants and facts: counts, parents, SL ordering, ids, overlay."""

from __future__ import annotations

from collections import Counter

import pytest

from zonewarden.catalog import TAGS, canonical_id, filter_requirements, find, load_catalog, required_at
from zonewarden.errors import InputError, UnknownIdError

CAT = load_catalog()
SR33 = [r for r in CAT.requirements.values() if r.standard == "62443-3-3"]
R42 = [r for r in CAT.requirements.values() if r.standard == "62443-4-2"]


def test_foundational_requirements():
    assert [(f.id, f.abbrev) for f in CAT.frs.values()] == [
        ("FR1", "IAC"),
        ("FR2", "UC"),
        ("FR3", "SI"),
        ("FR4", "DC"),
        ("FR5", "RDF"),
        ("FR6", "TRE"),
        ("FR7", "RA"),
    ]
    assert CAT.frs["FR5"].name == "Restricted data flow"


def test_62443_3_3_counts_per_fr():
    srs = Counter(r.fr for r in SR33 if r.kind == "SR")
    res = Counter(r.fr for r in SR33 if r.kind == "RE")
    assert srs == {"FR1": 13, "FR2": 12, "FR3": 9, "FR4": 3, "FR5": 4, "FR6": 2, "FR7": 8}
    assert sum(srs.values()) == 51
    assert res == {"FR1": 11, "FR2": 12, "FR3": 10, "FR4": 3, "FR5": 7, "FR6": 1, "FR7": 5}
    assert sum(res.values()) == 49


def test_ids_unique_and_canonical():
    ids = [r.id for r in CAT.requirements.values()]
    assert len(ids) == len(set(ids))
    for r in CAT.requirements.values():
        assert canonical_id(r.id) == r.id


@pytest.mark.parametrize("req", list(CAT.requirements.values()), ids=lambda r: r.id)
def test_requirement_invariants(req):
    assert 1 <= req.sl <= 4
    assert req.title and req.title == req.title.strip()
    assert req.description.endswith(".") and len(req.description) > 30
    assert set(req.tags) <= set(TAGS) and req.tags
    if req.kind == "RE":
        parent = CAT.requirements[req.parent]
        assert req.id.startswith(parent.id + " RE ")
        assert req.sl >= parent.sl, "an enhancement is never required below its base requirement"
        assert req.fr == parent.fr
        assert req.component_types == parent.component_types
    else:
        assert req.parent is None
    # The standard's normative phrasing must not be copied.
    assert "shall" not in req.description.lower()


def test_62443_3_3_known_facts():
    expected = {
        "SR 1.1": ("Human user identification and authentication", 1),
        "SR 1.1 RE 2": ("Multifactor authentication for untrusted networks", 3),
        "SR 1.1 RE 3": ("Multifactor authentication for all networks", 4),
        "SR 1.13": ("Access via untrusted networks", 1),
        "SR 2.7": ("Concurrent session control", 3),
        "SR 3.3 RE 2": ("Security functionality verification during normal operation", 4),
        "SR 5.1 RE 3": ("Logical and physical isolation of critical networks", 4),
        "SR 5.2 RE 1": ("Deny by default, allow by exception", 2),
        "SR 5.2 RE 2": ("Island mode", 3),
        "SR 5.2 RE 3": ("Fail close", 3),
        "SR 6.2": ("Continuous monitoring", 2),
        "SR 7.3 RE 2": ("Backup automation", 3),
        "SR 7.8": ("Control system component inventory", 2),
    }
    for rid, (title, sl) in expected.items():
        req = CAT.requirements[rid]
        assert (req.title, req.sl) == (title, sl), rid


def test_62443_4_2_structure():
    kinds = Counter(r.kind for r in R42)
    assert set(kinds) == {"CR", "SAR", "EDR", "HDR", "NDR", "RE"}
    for r in R42:
        assert r.component_types, r.id
        if r.kind in ("SAR", "EDR", "HDR", "NDR"):
            expected = {
                "SAR": "software-application",
                "EDR": "embedded-device",
                "HDR": "host-device",
                "NDR": "network-device",
            }[r.kind]
            assert r.component_types == (expected,), r.id
        if r.kind == "CR":
            assert len(r.component_types) == 4, r.id
    assert CAT.requirements["CR 1.1 RE 2"].title.startswith("Multifactor authentication for all interfaces")
    assert CAT.requirements["NDR 5.2"].title == "Zone boundary protection"
    assert "EDR 3.14" in CAT.requirements and "CR 7.8" in CAT.requirements


def test_zcr_and_levels():
    assert [z.id for z in CAT.zcrs] == [f"ZCR {n}" for n in range(1, 8)]
    assert len(next(z for z in CAT.zcrs if z.id == "ZCR 5").steps) == 13
    assert [s.level for s in CAT.security_levels] == [0, 1, 2, 3, 4]
    assert {t.id for t in CAT.sl_types} == {"SL-T", "SL-C", "SL-A"}


@pytest.mark.parametrize("spelling", ["SR 1.1 RE 2", "sr1.1re2", "SR 1.1(2)", "SR1.1 RE(2)", " sr 1.1 re 2 "])
def test_id_spellings(spelling):
    assert find(CAT, spelling).id == "SR 1.1 RE 2"


def test_unknown_id_suggests():
    with pytest.raises(UnknownIdError, match="did you mean"):
        find(CAT, "SR 1.14")


def test_filters():
    at2 = filter_requirements(CAT, standard="62443-3-3", sl=2)
    assert all(r.sl <= 2 for r in at2)
    assert {r.id for r in at2} >= {"SR 5.2 RE 1", "SR 1.1 RE 1"}
    assert "SR 5.2 RE 2" not in {r.id for r in at2}
    fr5 = filter_requirements(CAT, standard="62443-3-3", fr="RDF")
    assert len(fr5) == 11
    embedded = filter_requirements(CAT, component_type="ED")
    assert embedded and all("embedded-device" in r.component_types for r in embedded)
    assert not any(r.kind in ("SAR", "HDR", "NDR") for r in embedded)
    assert all(r.standard == "62443-3-3" for r in required_at(CAT, 4))
    assert len(required_at(CAT, 4)) == 100
    with pytest.raises(ValueError):
        filter_requirements(CAT, fr="FR9")
    with pytest.raises(ValueError):
        filter_requirements(CAT, component_type="toaster")


def test_overlay(tmp_path):
    overlay = tmp_path / "licensed.yaml"
    overlay.write_text('"SR 1.1": My licensed text.\nsr5.2re1: Other text.\n')
    cat = load_catalog(overlay)
    assert cat.requirements["SR 1.1"].text == "My licensed text."
    assert cat.requirements["SR 5.2 RE 1"].text == "Other text."
    assert CAT.requirements["SR 1.1"].text is None  # the shipped catalog is untouched
    overlay.write_text("SR 1.1: a\nSR 9.9: b\n")
    with pytest.raises(InputError) as info:
        load_catalog(overlay)
    assert info.value.location.line == 2
