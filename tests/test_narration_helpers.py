"""The functions notebooks 20, 50 and 60 call instead of computing in cells."""
import numpy as np
import pandas as pd
import pytest

from cmlkit import case_fieldwork, case_study_tables, link, nonresponse, risk_summary
from cmlkit.sampling import Selection


def test_link_status_table_counts_statuses_then_duplicates():
    links = pd.DataFrame({"status": ["exact", "fuzzy", "exact", "unlinked"], "duplicate_link": [False, False, True, False]})
    t = link.status_table(links)
    assert t.to_dict("list") == {"status": ["exact", "fuzzy", "unlinked", "linked to a library already linked"],
                                 "responses": [2, 1, 1, 1]}


def test_weight_description_and_rounding():
    rep = {"method": "raking", "diagnostics": {"n": 40, "min": 1.234, "max": 9.8765, "deff_kish": 1.23456, "n_eff": 32.4}}
    assert nonresponse.describe_weights(rep) == ("Histogram of the 40 survey weights (raking); they range from 1.23 to 9.88, "
                                                 "Kish design effect 1.23, effective sample size 32.")
    assert nonresponse.rounded_diagnostics(rep) == {"n": 40, "min": 1.234, "max": 9.877, "deff_kish": 1.235, "n_eff": 32.4}


@pytest.fixture
def scores():
    return pd.DataFrame({"score": [0.9, 0.8, 0.5, 0.1, np.nan],
                         "tier": ["high", "high", "medium", "low", "insufficient data"],
                         "reason_indicators": ["reserves;lease", "reserves", "", "", ""]})


def test_risk_summary_counts_reasons_and_words(scores):
    assert risk_summary.tier_counts(scores) == {"high": 2, "medium": 1, "low": 1, "insufficient data": 1}
    assert risk_summary.describe_tiers(scores) == "5 libraries scored: high 2, medium 1, low 1, insufficient data 1"
    freq = risk_summary.reason_frequencies(scores)
    assert freq["indicator"].tolist() == ["reserves", "lease"] and freq["libraries"].tolist() == [2, 1]
    assert freq["share"].tolist() == pytest.approx([2 / 3, 1 / 3]) and set(freq["n_answered"]) == {3}
    assert risk_summary.describe_reasons_figure(freq, 3).endswith("3 libraries in the high and medium tiers: reserves 67%; lease 33%.")
    assert risk_summary.tier_thresholds({"tiers": [{"min": 0.6}, {"min": 0.3}, {"min": 0}]}) == [0.6, 0.3]
    assert "high 2, medium 1, low 1; dashed lines at the tier thresholds 0.60, 0.30." in \
        risk_summary.describe_score_figure(scores, [0.6, 0.3])


def test_risk_summary_record_and_region_text(scores):
    share = pd.DataFrame({"breakdown": ["all", "region", "region"], "domain": ["all", "North", "South"],
                          "estimate": [0.4, 0.5, np.nan], "ci_low": [0.2, 0.3, np.nan], "ci_high": [0.6, 0.7, np.nan],
                          "base_n": [40, 20, 3], "suppressed": [False, False, True]})
    rec = risk_summary.summary_record(scores, share, {"status": "ok", "ranking_weight": 0.2, "in_words": "fine"})
    assert rec["scored"] == 4 and rec["high_share_weighted"] == 0.4 and rec["tiers"]["high"] == 2
    text = risk_summary.describe_region_figure(share.loc[share["breakdown"] == "region"])
    assert "North 50% (30% to 70%, n = 20); 1 regions suppressed" in text


def test_case_study_tables():
    spec = {"method": "balanced", "sample_size": 10, "random_state": 1}
    assert case_study_tables.with_overrides(spec, sample_size=None, method="stratified") == {**spec, "method": "stratified"}
    assert spec["method"] == "balanced"
    sel = Selection(table=pd.DataFrame(), tries=3, rejected={}, warnings=["few in London"])
    assert case_study_tables.draw_summary(sel, spec) == (
        "WARNING: few in London\nbalanced selection met every hard constraint on draw 3; draws rejected, by constraint: none")
    t = pd.DataFrame({"library_id": ["a"], "postcode": ["X1"], "pik": [0.1]})
    assert case_study_tables.without_contacts(t).columns.tolist() == ["library_id", "pik"]
    assert case_study_tables.with_achieved_inclusion(t, t, {**spec, "method": "max_variation"}, draws=50) is t
    assert case_study_tables.empty_replacement_log().columns.tolist() == list(case_fieldwork.REPLACEMENT_LOG_COLUMNS)
