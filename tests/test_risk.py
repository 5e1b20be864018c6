"""At-risk libraries: the index by hand, reasons consistent with values, synthetic validation,
sensitivity and disclosure control (the closure model: tests/test_closure.py)."""
import copy
import json

import numpy as np
import pandas as pd
import pytest

from cmlkit import disclosure, frame, risk, synthetic
from cmlkit import waves

INST = waves.instruments_by_unit(waves.first_wave())["library"]  # the wave the synthetic libraries answer


@pytest.fixture(scope="module")
def spec():
    return risk.load_spec()


@pytest.fixture(scope="module")
def libraries():
    scope = synthetic.in_scope(synthetic.make_frame(1000, random_state=2))
    return synthetic.simulate_libraries(scope, random_state=2)


def _two_indicator_spec(spec):
    sp = spec.as_dict()
    sp["indicators"] = {k: spec["indicators"][k] for k in ("months_of_reserves", "no_business_plan")}
    sp["min_weight_share"] = 0.5
    return sp


def test_index_by_hand(spec):
    sp = _two_indicator_spec(spec)              # reserves: weight 2, goalposts [12, 0]; no plan: weight 0.5
    data = pd.DataFrame({"reserves": [3000, 12000, 500, np.nan], "expenditure_total": [12000, 6000, 12000, 1000],
                         "business_plan": ["no", "yes", np.nan, "no"]})
    s = risk.score_libraries(data, sp, inst=INST)
    # library 0: 3 months -> risk (3 - 12) / (0 - 12) = 0.75; no plan -> 1; score (2 * .75 + .5 * 1) / 2.5 = 0.8
    assert s["value:months_of_reserves"].iloc[0] == pytest.approx(3.0)
    assert s["risk:months_of_reserves"].iloc[0] == pytest.approx(0.75)
    assert s["score"].iloc[0] == pytest.approx(0.8)
    assert s["tier"].iloc[0] == "high"
    assert s["reasons"].iloc[0] == "reserves cover 3.0 months of spending; no current business plan"
    # library 1: 24 months -> 0; has a plan -> 0; score 0, no reasons
    assert s["score"].iloc[1] == 0 and s["reasons"].iloc[1] == "" and s["tier"].iloc[1] == "low"
    # library 2: 0.5 months -> 11.5/12; plan missing -> re-weighted over reserves alone (weight share 0.8 >= 0.5)
    assert s["score"].iloc[2] == pytest.approx(11.5 / 12)
    # library 3: reserves missing, only 0.5 of 2.5 of the weight answered -> no score
    assert np.isnan(s["score"].iloc[3]) and s["tier"].iloc[3] == "insufficient data"
    assert list(s["rank"].iloc[:3]) == [2, 3, 1]


def test_normalisations_by_hand(spec):
    sp = _two_indicator_spec(spec)
    v = pd.DataFrame({"months_of_reserves": [0.0, 6.0, 24.0], "no_business_plan": [1.0, 0.0, 0.0]})
    g = risk.normalise(v, sp, method="goalposts")
    assert g["months_of_reserves"].tolist() == [1.0, 0.5, 0.0]
    mm = risk.normalise(v, sp, method="minmax")
    assert mm["months_of_reserves"].tolist() == [1.0, 0.75, 0.0]
    rk = risk.normalise(v, sp, method="rank")
    assert rk["months_of_reserves"].tolist() == pytest.approx([1.0, 2 / 3, 1 / 3])


def test_spec_checks(tmp_path):
    p = tmp_path / "r.yml"
    p.write_text("indicators:\n  x: {derive: {source: a}, direction: higher_is_riskier, goalposts: [1, 0], weight: 1}\n")
    with pytest.raises(risk.RiskError, match="contradict direction"):
        risk.load_spec(p)
    p.write_text("indicators:\n  x: {derive: {source: a}, direction: up, goalposts: [0, 1]}\n")
    with pytest.raises(risk.RiskError, match="direction"):
        risk.load_spec(p)


def test_synthetic_ground_truth(libraries, spec):
    s = risk.score_libraries(libraries, spec, inst=INST)
    v = risk.validate(s["score"], libraries["true_at_risk"])
    close = risk.validate(s["score"], libraries["true_closes_3y"])
    print(f"\ntruly at risk: AUC {v['auc']:.3f}, top decile {v['top_precision']:.2f} vs base rate {v['base_rate']:.3f} "
          f"(lift {v['lift']:.1f}); closes within 3 years: AUC {close['auc']:.3f}, lift {close['lift']:.1f}")
    assert v["auc"] >= 0.8
    assert v["top_precision"] >= 3 * v["base_rate"]


def test_non_circular_validation_per_indicator_and_gain(spec):
    """On the non-circular scenario: no-signal indicators near 0.5, the index beats its best part, and
    missing answers cost little."""
    from cmlkit import risk_validation as RV
    from cmlkit.synthetic.scenarios import NO_SIGNAL

    scope = synthetic.in_scope(synthetic.make_frame(1000, random_state=2))
    d = synthetic.simulate_libraries(scope, random_state=2, scenario="non_circular")
    table, gain = RV.indicator_aucs(d, d["true_at_risk"], spec, inst=INST, B=500)
    print("\n" + table.round(3).to_string(index=False))
    print(f"index AUC {gain['index_auc']:.3f}; best single indicator {gain['best_indicator']} {gain['best_indicator_auc']:.3f}; "
          f"gain {gain['gain']:+.3f} (95% CI {gain['ci_low']:+.3f} to {gain['ci_high']:+.3f})")
    aucs = table.set_index("score")["auc"]
    for name in NO_SIGNAL:
        assert abs(aucs[name] - 0.5) <= 0.1, name
    assert 0.6 < aucs["index"] < 0.9                      # informative, and not the self-consistent 0.95
    assert gain["gain"] > 0
    missing = RV.missing_behaviour(d, d["true_at_risk"], spec, inst=INST)
    print(missing.round(3).to_string(index=False))
    m = missing.set_index("scenario")
    assert m.loc["none", "share_scored"] == 1.0
    assert m.loc["random 10%", "share_scored"] > m.loc["random 30%", "share_scored"]
    assert abs(m.loc["random 10%", "auc"] - m.loc["none", "auc"]) < 0.05
    assert (m.filter(like="drop", axis=0)["spearman_with_full"] > 0.8).all()


def test_default_scenario_is_unchanged():
    scope = synthetic.in_scope(synthetic.make_frame(200, random_state=4))
    a = synthetic.simulate_libraries(scope, random_state=4)
    b = synthetic.simulate_libraries(scope, random_state=4, scenario="default")
    pd.testing.assert_frame_equal(a, b)
    c = synthetic.simulate_libraries(scope, random_state=4, scenario="non_circular")
    assert "true_hidden_pressure" in c and "true_hidden_pressure" not in a
    assert (c["library_id"] == a["library_id"]).all() and (c["paid_staff"] == a["paid_staff"]).all()
    with pytest.raises(ValueError, match="unknown scenario"):
        synthetic.simulate_libraries(scope, random_state=4, scenario="nope")


def test_reasons_are_consistent_with_values(libraries, spec):
    s = risk.score_libraries(libraries, spec, inst=INST)
    listed = s.loc[s["tier"].isin(["high", "medium"])]
    assert len(listed) > 50
    assert (listed["reasons"].str.len() > 0).all()
    thr = spec["reason_threshold"]
    for _, row in listed.iterrows():
        inds = row["reason_indicators"].split(";")
        texts = row["reasons"].split("; ")
        assert len(inds) == len(texts) <= spec["max_reasons"]
        risks = {k: row[f"risk:{k}"] for k in spec["indicators"]}
        for ind, text in zip(inds, texts):
            assert risks[ind] >= thr or (len(inds) == 1 and risks[ind] == max(v for v in risks.values() if v == v))
            value = row[f"value:{ind}"]
            template = spec["indicators"][ind]["reason"]
            if "{value" in template:
                assert text == template.format(value=value, label=text.split(": ")[-1])
        if "plans_reduce_or_close" in inds:
            assert row["value:plans_reduce_or_close"] == 1


def test_sensitivity(libraries, spec):
    sp = copy.deepcopy(spec)
    sp["sensitivity"]["weight_draws"] = 30
    per, summary = risk.sensitivity(libraries.iloc[:300], sp, inst=INST)
    assert set(summary) == {"weights", "normalisation: minmax", "normalisation: rank", "normalisation: zscore"}
    assert summary["weights"]["spearman_with_base"] > 0.9
    assert (per["rank_p05"] <= per["rank_p95"]).all()
    assert per["tier_changes"].between(0, 1).all()


def test_disclosure_primary_and_secondary():
    t = pd.DataFrame({"breakdown": ["all", "region", "region", "region", "type", "type"],
                      "domain": ["all", "A", "B", "C", "CR", "ICL"], "estimate": [.1, .2, .3, .4, .5, .6],
                      "base_n": [40, 3, 7, 30, 36, 4]})
    s = disclosure.suppress(t, k=5, group="breakdown")
    # region: A hidden alone, so the next smallest (B) goes too; type: ICL hidden, so CR (the only other) goes
    assert s["suppression"].tolist() == ["", "primary", "secondary", "", "secondary", "primary"]
    assert s.loc[s["suppressed"], "estimate"].isna().all() and s.loc[~s["suppressed"], "estimate"].notna().all()
    t2 = t.assign(base_n=[40, 3, 2, 30, 36, 40])
    s2 = disclosure.suppress(t2, k=5, group="breakdown")
    assert s2["suppression"].tolist() == ["", "primary", "primary", "", "", ""]


# --------------------------------------------------------------------------------------------
# The private priority list (notebook 60 run on a synthetic wave)

CONTACT_FIELDS = ("contact_name", "contact_email", "contact_phone")


@pytest.fixture(scope="module")
def at_risk_run(finished_run):
    """Notebook 60 as the session's shared demo run executed it, and each responding library with its private contact."""
    out = finished_run
    weighted = pd.read_parquet(out / "data" / "cml_library" / "weighted.parquet", columns=["response_id", "library_id"])
    contacts = pd.read_parquet(out / "private" / "cml_library" / "contacts.parquet")
    return out, weighted.merge(contacts, on="response_id")


@pytest.mark.xdist_group("wave_run")       # the worker that holds the shared run
def test_priority_list_opens_with_contacts_plain_headers_and_glossary(at_risk_run):
    from openpyxl import load_workbook

    out, resp = at_risk_run
    path = out / "private" / "risk" / "priority_list.xlsx"
    wb = load_workbook(path)
    assert wb.sheetnames == ["Priority list", "Not responded", "Glossary"]
    ws = wb["Priority list"]
    header = [c.value for c in ws[1]]
    assert header == ["Priority", "Library", "Authority", "Region", "Risk level", "Risk score", "Why", "Suggested support",
                      "Position could range", "Council's recent record", "Contact name", "Contact role", "Email", "Phone",
                      "Agreed to follow-up", "Library id"]
    jargon = {"rank", "combined_rank", "base_risk", "rank_p05", "rank_p95", "tier_changes", "score", "tier"}
    assert not jargon & set(header)
    assert ws.auto_filter.ref and ws.freeze_panes == "A2"
    pri = pd.read_csv(out / "private" / "risk" / "priority_list.csv", encoding="utf-8-sig")
    assert list(pri.columns) == header and len(pri) > 10
    assert pri["Priority"].tolist() == list(range(1, len(pri) + 1))
    assert set(pri["Risk level"]) <= {"High", "Medium"} and pri["Why"].str.len().gt(0).all()
    # scores are shown with two decimals, in the file and in the sheet's number format
    assert (pri["Risk score"].round(2) == pri["Risk score"]).all()
    col = header.index("Risk score") + 1
    assert ws.cell(row=2, column=col).number_format == "0.00"
    # the contact each library gave is there, joined on its response
    by_id = resp.set_index("library_id")
    assert (pri["Email"] == pri["Library id"].map(by_id["contact_email"])).all()
    assert pri["Email"].str.endswith(".example").all() and pri["Region"].notna().all()
    gloss = pd.read_excel(path, sheet_name="Glossary")
    assert {"Priority", "Risk score", "Why", "Closure model"} <= set(gloss["Column"])
    closure_line = gloss.loc[gloss["Column"] == "Closure model", "Meaning"].iloc[0]
    assert "closures" in closure_line and "{in_words}" not in closure_line
    # non-responding in-scope libraries, from public data, marked as such
    nr = pd.read_excel(path, sheet_name="Not responded")
    frame_path = json.loads((out / "run.json").read_text())["inputs"]["frame"]["path"]
    scope_ids = set(frame.in_scope(frame.load_frame(frame_path), year=INST.frame_year)["library_id"])
    assert set(nr["Library id"]) == scope_ids - set(resp["library_id"]) and len(nr) > 0
    assert (nr["Source"] == "Public frame data only - NOT survey-based").all()
    assert not {"Risk score", "Email", "Contact name"} & set(nr.columns)


@pytest.mark.xdist_group("wave_run")
def test_no_contact_field_in_any_public_output(at_risk_run):
    out, resp = at_risk_run
    values = [v for c in CONTACT_FIELDS for v in resp[c].dropna().astype(str) if len(v) > 6]
    assert len(values) > 100                 # the demo's libraries gave contacts: there is something to look for
    # what notebook 60 wrote outside private/ (the whole run is scanned in tests/test_pipeline.py)
    public = [*(out / "tables" / "risk").iterdir(), *(out / "figures").glob("risk_*"), *(out / "notebooks").glob("*at_risk*")]
    assert len(public) >= 8
    for p in public:
        text = p.read_bytes().decode("utf-8", "replace")
        assert not any(f in text for f in CONTACT_FIELDS + ("Email", "Phone")), p
        hits = [v for v in values if v in text]
        assert not hits, (p, hits[:3])
    val = json.loads((out / "tables" / "risk" / "closure_validation.json").read_text())
    assert val["ranking_weight"] in (0.0, 0.2) and val["in_words"]
    ctx = pd.read_csv(out / "tables" / "risk" / "authority_context.csv")
    assert ctx["context"].str.endswith("(public data, not a prediction).").all()


def test_publish_threshold_has_one_home(tmp_path):
    sp = risk.load_spec()
    assert sp["publish"]["k"] == disclosure.load_rules()["k"]
    assert sp["publish"]["numerator_k"] == disclosure.load_rules()["numerator"]["k"]
    p = tmp_path / "risk.yml"
    (tmp_path / "disclosure.yml").write_text("k: 11\nnumerator: {k: 4}\n")
    p.write_text("indicators:\n  x: {derive: {diversity: [a, b]}, direction: higher_is_riskier, goalposts: [0, 1]}\n"
                 "publish: {disclosure: disclosure.yml}\n")
    assert risk.load_spec(p)["publish"]["k"] == 11          # read from the referenced file, never restated
    p.write_text("indicators: {}\npublish: {min_cell: 5}\n")
    with pytest.raises(risk.RiskError, match="lives in research/disclosure.yml"):
        risk.load_spec(p)
