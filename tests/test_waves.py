"""Wave facts, the second instrument version and the crosswalk review (cmlkit.waves, cmlkit.crosswalk)."""

from __future__ import annotations

import pandas as pd
import pytest

from cmlkit import cli, crosswalk, indicators, waves
from cmlkit.instrument import load_instrument

LIB, VOL = "cml_library", "cml_volunteer"


def test_wave_facts_come_from_the_instrument_file():
    f = waves.wave_facts(LIB, "2026w1")
    assert (f.year, f.round, f.frame_year, f.unit) == (2026, 1, load_instrument(LIB, "2026w1").frame_year, "library")
    assert waves.known_waves(LIB) == ["2025w1", "2026w1"]
    assert waves.previous_wave(LIB, "2026w1") == "2025w1" and waves.previous_wave(LIB, "2025w1") is None
    assert {u: i.instrument for u, i in waves.instruments_by_unit("2026w1").items()} == {"library": LIB, "volunteer": VOL}
    spec = waves.with_wave({"features": {}}, load_instrument(LIB, "2026w1"))
    assert spec["wave_year"] == 2026 and "wave_year" not in {"features": {}}


@pytest.mark.parametrize("bad", ["2026", "w1", "2026W1", "26w1"])
def test_bad_wave_ids_are_one_line_errors(bad, capsys):
    assert cli.main(["synth", "--wave", bad, "--out", "unused"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "YYYYwN" in err and "Traceback" not in err


def test_waves_out_of_order_are_refused():
    with pytest.raises(waves.WaveError, match="not in time order"):
        waves.check_order(["2026w1", "2025w1"])
    with pytest.raises(waves.WaveError, match="not in time order"):
        waves.check_order(["2025w1", "2025w1"])


def test_a_changed_wave_without_previous_is_a_one_line_error(tmp_path, capsys):
    assert cli.main(["synth", "--wave", "2026w1", "--out", str(tmp_path / "x"), "--n-community", "40"]) == 2
    err = capsys.readouterr().err
    assert "--previous" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_years_need_the_wave_not_a_default():
    d = {"years_until": "lease_end_year"}
    data = pd.DataFrame({"lease_end_year": [2030, None]})
    with pytest.raises(indicators.IndicatorError, match="wave year"):
        indicators.derive(data, d)
    v, _ = indicators.derive(data, d, inst=load_instrument(LIB, "2026w1"))
    assert v.iloc[0] == 4 and pd.isna(v.iloc[1])


def test_second_version_has_the_realistic_changes():
    a, b = load_instrument(LIB, "2025w1"), load_instrument(LIB, "2026w1")
    cw = crosswalk.diff(a, b).set_index("canonical")
    assert cw.loc["reserves", ["id_a", "id_b", "mapping", "wording_changed"]].tolist() == ["reserves", "reserves_unrestricted", "renamed", "yes"]
    assert cw.loc["services", "choices_added"] == "warm_space" and cw.loc["services", "mapping"] == "recoded"
    assert cw.loc["fin_risks", "value_map"] == "2025w1:lease_ending=premises; 2025w1:building_repairs=premises"
    assert cw.loc["service_change", "value_map"] == ("2026w1:much_better=better; 2026w1:a_little_better=better; "
                                                     "2026w1:a_little_worse=worse; 2026w1:much_worse=worse")
    assert cw.loc["volunteer_hours_week", "in_waves"] == "2025w1" and cw.loc["warm_space_visits", "in_waves"] == "2026w1"
    assert (cw["mapping"] == "not_comparable").sum() == 2
    assert cw.loc["library_name", "reviewed"] == "auto"            # exact, same wording: pre-accepted
    assert cw.loc["reserves", "reviewed"] == ""                     # a change: the reviewer decides


def test_fuzzy_proposal_for_a_question_whose_canonical_was_not_kept():
    a, b = load_instrument(LIB, "2025w1"), load_instrument(LIB, "2026w1")
    d = b.to_dict()
    for q in d["questions"]:
        if q["id"] == "reserves_unrestricted":
            q["canonical"] = "reserves_unrestricted"
    b2 = type(b).from_dict(d)
    cw = crosswalk.diff(a, b2).set_index("canonical")
    assert cw.loc["reserves", "fuzzy_match"] == "reserves_unrestricted" and cw.loc["reserves", "fuzzy_score"] >= 80
    assert cw.loc["reserves", "mapping"] == "not_comparable"


def test_harmonised_choices_and_recoding():
    a, b = load_instrument(LIB, "2025w1"), load_instrument(LIB, "2026w1")
    cw = crosswalk.read_crosswalk(crosswalk.crosswalk_path(waves.instrument_folder(LIB), "2025w1", "2026w1")).set_index("canonical")
    m = crosswalk.harmonised_choices(pd.concat([cw.loc["service_change"], pd.Series({"canonical": "service_change"})]), a, b)
    assert m["2026w1"]["much_better"] == "better" and m["2025w1"]["better"] == "better"
    data = pd.DataFrame({"service_change": ["much_better", "same", "a_little_worse", None]})
    out = crosswalk.harmonise_select(data, "service_change", "select_one", m["2026w1"])
    assert out["service_change"].tolist()[:3] == ["better", "same", "worse"] and pd.isna(out["service_change"].iloc[3])
    row = cw.loc["fin_risks"].copy()
    row["canonical"] = "fin_risks"
    m = crosswalk.harmonised_choices(row, a, b)
    old = pd.DataFrame({"fin_risks__lease_ending": [1, 0, 0, None], "fin_risks__building_repairs": [0, 1, 0, None]})
    h = crosswalk.harmonise_select(old, "fin_risks", "select_multiple", {k: v for k, v in m["2025w1"].items()
                                                                         if k in ("lease_ending", "building_repairs")})
    assert h["fin_risks__premises"].tolist()[:3] == [1, 1, 0] and pd.isna(h["fin_risks__premises"].iloc[3])


def test_unreviewed_change_needed_by_a_trend_is_named(tmp_path):
    cw = crosswalk.diff(load_instrument(LIB, "2025w1"), load_instrument(LIB, "2026w1"))
    cw.attrs["source"] = "x.csv"
    crosswalk.usable(cw, ["library_name"])
    with pytest.raises(crosswalk.CrosswalkError, match="'reserves' .*not reviewed"):
        crosswalk.usable(cw, ["library_name", "reserves"])


def test_waves_diff_writes_csv_and_xlsx_and_keeps_reviews(tmp_path, capsys):
    assert cli.main(["waves", "diff", "--instrument", LIB, "2025w1", "2026w1", "--out", str(tmp_path)]) == 0
    assert "7 to review" in capsys.readouterr().out
    csv = tmp_path / "2025w1_2026w1.csv"
    assert (tmp_path / "2025w1_2026w1.xlsx").stat().st_size > 0
    cw = pd.read_csv(csv, dtype=str, keep_default_na=False)
    cw.loc[cw["canonical"] == "reserves", "reviewed"] = "yes"
    cw.to_csv(csv, index=False)
    assert cli.main(["waves", "diff", "--instrument", LIB, "2025w1", "2026w1", "--out", str(tmp_path)]) == 0
    assert "6 to review" in capsys.readouterr().out
    xl = pd.read_excel(tmp_path / "2025w1_2026w1.xlsx", sheet_name="crosswalk", dtype=str)
    assert list(xl.columns) == crosswalk.COLUMNS


def test_committed_crosswalks_are_reviewed_and_current():
    for inst in (LIB, VOL):
        path = crosswalk.crosswalk_path(waves.instrument_folder(inst), "2025w1", "2026w1")
        cw = crosswalk.read_crosswalk(path)
        fresh = crosswalk.merge_reviews(crosswalk.diff(load_instrument(inst, "2025w1"), load_instrument(inst, "2026w1")), cw)
        assert fresh["reviewed"].isin(crosswalk.REVIEWED).all(), path


def test_service_breadth_counts_the_waves_choices_or_the_common_ones():
    spec = indicators.load_spec()["indicators"]["service_breadth"]["derive"]
    a, b = load_instrument(LIB, "2025w1"), load_instrument(LIB, "2026w1")
    assert len(indicators.inputs(spec, a)) == 13 and len(indicators.inputs(spec, b)) == 14
    common = [c for c in indicators.choice_items(spec, a) if c in indicators.choice_items(spec, b)]
    data = pd.DataFrame({f"services__{c}": [1] for c in indicators.choice_items(spec, b)})
    assert indicators.derive(data, spec, inst=b)[0].iloc[0] == 1
    data["services__warm_space"] = 0
    assert indicators.derive(data, spec, inst=b)[0].iloc[0] == pytest.approx(13 / 14)
    assert indicators.derive(data, {**spec, "items": common}, inst=b)[0].iloc[0] == 1


def test_clusters_are_matched_by_profile_with_new_and_disappeared_models():
    from cmlkit import cluster_match, panel

    prev = pd.DataFrame({"cluster": [0, 1, 2], "name": ["Supported", "Managed", "Independent"],
                         "paid (share)": [0.9, 0.1, 0.0], "grant (share)": [0.8, 0.3, 0.0], "hours (median)": [30, 18, 12]})
    new = pd.DataFrame({"cluster": [0, 1, 2], "name": ["Managed again", "Supported again", "Hybrid"],
                        "paid (share)": [0.12, 0.88, 0.5], "grant (share)": [0.28, 0.82, 0.9], "hours (median)": [17, 31, 60]})
    m = cluster_match.match_clusters(prev, new, max_distance=1.0).set_index("status")
    matched = cluster_match.match_clusters(prev, new, max_distance=1.0)
    pairs = dict(zip(matched["name_new"].dropna(), matched["stable_name"]))
    assert pairs["Managed again"] == "Managed" and pairs["Supported again"] == "Supported"
    assert m.loc["new model", "name_new"] == "Hybrid" and m.loc["disappeared", "name_previous"] == "Independent"
    assert "new model" in m.loc["new model", "statement"] and "disappeared" in m.loc["disappeared", "statement"]
    cur = pd.DataFrame({"library_id": ["a", "b", "c"], "tier": ["high", "low", "medium"], "score": [0.8, 0.1, 0.5], "rank": [1, 3, 2]})
    old = pd.DataFrame({"library_id": ["a", "b"], "tier": ["medium", "low"], "score": [0.6, 0.2], "rank": [1, 2]})
    p = panel.with_previous_risk(cur, old).set_index("library_id")
    assert p["tier_change"].to_dict() == {"a": "up", "b": "same", "c": "new"} and p.loc["a", "previous_score"] == 0.6


def test_indicators_are_compared_as_is_on_common_items_harmonised_or_refused():
    from cmlkit import harmonise

    a, b = load_instrument(LIB, "2025w1"), load_instrument(LIB, "2026w1")
    cw = crosswalk.read_crosswalk(crosswalk.crosswalk_path(waves.instrument_folder(LIB), "2025w1", "2026w1"))
    base = {"label": "x", "section": "services", "kind": "mean", "direction": "none", "missing": "m", "reference": "r"}
    spec = {"indicators": {
        "breadth": {**base, "derive": {"count_choices": "services", "exclude": ["other"]}},
        "better": {**base, "derive": {"equals": "service_change", "values": ["better"]}},
        "lease_risk": {**base, "derive": {"count": ["fin_risks__lease_ending", "fin_risks__rising_costs"]}},
        "hours_ratio": {**base, "derive": {"ratio": ["volunteer_hours_week", "volunteers_active"]}},
        "reserves": {**base, "derive": {"source": "reserves"}}}}
    comp = harmonise.comparability(spec, [a, b], [cw]).set_index("indicator")
    assert comp.loc["breadth", "status"] == "common_items" and len(comp.loc["breadth", "items"].split(";")) == 13
    assert comp.loc["better", "status"] == "harmonised"
    assert comp.loc["lease_risk", "status"] == "refused" and "lease_ending" in comp.loc["lease_risk", "reason"]
    assert comp.loc["hours_ratio", "status"] == "refused" and "dropped in 2026w1" in comp.loc["hours_ratio", "reason"]
    assert comp.loc["reserves", "status"] == "comparable"
    maps = harmonise.select_maps([a, b], [cw])
    data_b = pd.DataFrame({"service_change": ["much_better", "a_little_better", "same", "much_worse"],
                           **{f"services__{c}": [1, 0, 1, 0] for c in b.choice_names("services")}})
    v = harmonise.wave_indicators(data_b, {"indicators": {k: spec["indicators"][k] for k in ("breadth", "better")}},
                                  comp.reset_index(), inst=b, harmonise=maps[1])
    assert v["better"].tolist() == [1, 1, 0, 0] and v["breadth"].iloc[0] == 1


def test_previous_risk_keeps_the_plain_headers_of_the_private_list():
    from cmlkit import panel

    cur = pd.DataFrame({"Priority": [1, 2], "Library id": ["a", "c"], "Risk level": ["High", "Low"], "Risk score": [0.8, 0.1]})
    old = pd.DataFrame({"Priority": [1], "Library id": ["a"], "Risk level": ["Medium"], "Risk score": [0.6]})
    out = panel.with_previous_risk(cur, old)
    assert list(out.columns[:4]) == ["Priority", "Library id", "Risk level", "Risk score"]
    assert out["Change in risk level"].tolist() == ["up", "new"] and out["Previous risk level"].iloc[0] == "Medium"
