import copy

import pytest

from cmlkit.errors import InstrumentError
from cmlkit.instrument import WAVE_RE, Instrument, load_instrument


@pytest.mark.parametrize("name", ["cml_library", "cml_volunteer"])
def test_instruments_load_and_are_consistent(name, root):
    inst = load_instrument(name, "2025w1", root=root)
    assert WAVE_RE.match(inst.version)
    assert len(set(inst.question_ids)) == len(inst.question_ids)
    assert len(set(inst.crosswalk.values())) == len(inst.questions)
    for q in inst.questions:
        assert q["text"] and q["section"]


def test_library_instrument_covers_the_study_areas(root):
    inst = load_instrument("cml_library", "2025w1", root=root)
    assert set(inst.personal_ids) >= {"contact_name", "contact_email"}
    assert inst.choice_names("council_support")[-1] == "none"
    assert {"uo_reading", "uo_information", "uo_digital", "uo_health", "uo_learning"} <= set(inst.grids["universal_offers"])
    assert inst.other_text_for("services") == "services_other"
    assert inst.question("council_grant_amount")["relevant"] == "${council_grant} = 'yes'"
    assert len(inst.grids) >= 4


def test_volunteer_instrument_has_six_satisfaction_items(root):
    inst = load_instrument("cml_volunteer", "2025w1", root=root)
    assert len(inst.grids["satisfaction"]) >= 6
    topics = set(inst.choice_names("training_received"))
    assert {"equality_diversity", "data_protection", "foi", "customer_care", "safeguarding", "first_aid"} <= topics


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["questions"][0].update(type="radio"), "unknown type"),
    (lambda d: d["questions"][3].update(choices="nope"), "unknown choice list"),
    (lambda d: d["questions"][1].update(relevant="${postcode} = 'x'"), "not an earlier question"),
    (lambda d: d["questions"].append(dict(d["questions"][0])), "duplicate question id"),
    (lambda d: d.update(version="wave1"), "YYYYwN"),
])
def test_invalid_instruments_are_refused(mutate, message, root):
    data = copy.deepcopy(load_instrument("cml_library", "2025w1", root=root).to_dict())
    mutate(data)
    with pytest.raises(InstrumentError, match=message):
        Instrument.from_dict(data, source="test.yaml")


def test_unknown_wave_names_known_versions(root):
    with pytest.raises(InstrumentError, match="known: \\['2025w1', '2026w1'\\]"):
        load_instrument("cml_library", "2030w9", root=root)
