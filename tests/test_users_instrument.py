"""The library users' questionnaire (cml_user 2025w1): content, XLSForm round trip, rules."""

import yaml

from cmlkit.duplicate_entries import load_rule
from cmlkit.instrument import load_instrument
from cmlkit.validate import load_rules
from cmlkit.xlsform import read_xlsform, write_xlsform


def test_user_instrument_round_trips_through_xlsform(root, tmp_path):
    inst = load_instrument("cml_user", "2025w1", root=root)
    back = read_xlsform(write_xlsform(inst, tmp_path / "cml_user.xlsx"))
    assert back.to_dict() == inst.to_dict()
    assert back.question("compare_before")["relevant"] == "${used_before} = 'yes'"


def test_user_instrument_asks_what_the_issue_needs(root):
    inst = load_instrument("cml_user", "2025w1", root=root)
    lib = load_instrument("cml_library", "2025w1", root=root)
    # the same service list as the library questionnaire, so used and offered can be compared
    assert inst.choices("services_used") == lib.choices("services")
    sat = [q for q in inst.question_ids if q.startswith("sat_")]
    assert sat == ["sat_overall", "sat_hours", "sat_stock", "sat_digital", "sat_events", "sat_staff"]
    assert all(len([c for c in inst.choices(q) if "score" in c]) == 5 for q in sat)
    assert inst.choice_names("compare_before") == ["better", "same", "worse", "dont_know"]
    assert inst.question("use_more")["type"] == "select_multiple" and inst.other_text_for("use_more") == "use_more_other"
    assert {"age_band", "disability", "employment", "comments", "visit_frequency", "mode"} <= set(inst.question_ids)
    assert inst.personal_ids == ["contact_email"]
    assert inst.unit == "user"


def test_user_visit_frequency_choices_all_have_visits_a_month(root):
    inst = load_instrument("cml_user", "2025w1", root=root)
    spec = yaml.safe_load((root / "research" / "user_indicators.yml").read_text())
    assert set(spec["visits_per_month"]) == set(inst.choice_names("visit_frequency"))
    assert all(v > 0 for v in spec["visits_per_month"].values())


def test_user_rules_load_and_name_the_paper_duplicate_rule(root):
    inst = load_instrument("cml_user", "2025w1", root=root)
    assert load_rules(inst, root=root) == []
    rule = load_rule(inst, root=root)
    assert rule["id"] == "paper_duplicate" and rule["day"] == "completed_on"
    assert all(c in inst.question_ids for c in rule["library"])
