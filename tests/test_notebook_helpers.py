"""The functions notebooks 25-90 call instead of computing in cells (issue #12: notebooks narrate only)."""
import numpy as np
import pandas as pd
import pytest

from cmlkit import (codebook, finance_findings, findings, findings_section, labelled, report, services_findings, summary,
                    trend, user_findings)
from cmlkit.instrument import load_instrument

SPEC = """indicators:
  long_hours:
    label: Open 20 hours or more
    section: services
    derive: {source: long}
    kind: proportion
    direction: higher_better
    missing: blank when hours are blank
    reference: test
  hours:
    label: Opening hours
    section: finances
    derive: {source: hours}
    kind: mean
    direction: none
    missing: blank when blank
    reference: test
"""


@pytest.fixture(scope="module")
def responses(root):
    """The golden library responses with a weight (region size / responses) and extra test columns."""
    r = pd.read_csv(root / "tests" / "golden" / "cml_responses.csv")
    rng = np.random.default_rng(3)
    return r.assign(weight=r["N_region"] / r.groupby("region")["region"].transform("size"),
                    long=(r["hours"] >= 20).astype(float),
                    services__wifi=rng.integers(0, 2, len(r)), services__cafe=rng.integers(0, 2, len(r)),
                    services__other=1, inc_council=rng.uniform(0, 100, len(r)), inc_parish=rng.uniform(0, 100, len(r)),
                    service_change=rng.choice(["better", "same", "worse"], len(r)),
                    paid_staff=rng.choice(["none", "one", None], len(r)), council_grant=rng.choice(["yes", "no", None], len(r)))


@pytest.fixture(scope="module")
def design(responses):
    return findings.design_of(responses)


def test_load_section_reads_computes_and_builds_the_design(tmp_path, responses):
    (tmp_path / "spec.yml").write_text(SPEC, encoding="utf-8")
    path = tmp_path / "weighted.csv"
    responses.to_csv(path, index=False)
    s = findings_section.load_section("cml_library", "2025w1", path, output_dir=tmp_path / "out", spec_path=tmp_path / "spec.yml")
    assert s.out == tmp_path / "out" and s.k >= 1 and list(s.values.columns) == ["long_hours", "hours"]
    assert "long_hours" in s.design.data and len(s.design.data) == len(responses) == len(s.weighted)
    assert s.source == f"cmlkit · wave 2025w1 · weighted, n = {len(responses):,}" and s.labels
    assert findings_section.section_indicators(s.spec, "finances") == ["hours"]
    rows = findings_section.section_table(s.design, s.spec, "services", wave="2025w1", k=s.k)
    assert set(rows["indicator"]) == {"long_hours"} and set(rows["breakdown"]) == {"all", "type", "region"}
    assert rows["estimate"].dropna().between(0, 1).all() and "suppressed" in rows
    both = pd.DataFrame({"a": [1], "b": [2]})
    assert list(findings_section.new_indicator_columns(both[["a"]], both).columns) == ["b"]
    region = findings_section.breakdown_rows(rows, "long_hours", "region")
    assert len(region) == rows["breakdown"].eq("region").sum() and set(region["breakdown"]) == {"region"}


def test_service_tests_add_the_rao_scott_row_last(design):
    data = design.data.assign(service_breadth=design.data["hours"], universal_offer_score=design.data["volunteers"])
    tests, change = services_findings.service_tests(findings.design_of(data))
    assert tests["indicator"].tolist() == ["service_breadth", "service_breadth", "universal_offer_score",
                                           "universal_offer_score", "service_change"]
    last = tests.iloc[-1]
    assert last["breakdown"] == "type" and last["test"] == "Rao-Scott F (svychisq)" and last["p"] == change["p"]


def test_services_by_type_is_labelled_and_leaves_out_small_types(responses, design):
    assert services_findings.service_columns(responses) == ["services__wifi", "services__cafe"]
    heat = services_findings.services_by_type(design, responses, k=1, labels={"services__wifi": "Wi-Fi", "services__cafe": "Café"})
    assert heat.index.tolist() == ["Wi-Fi", "Café"] and heat.columns.tolist() == sorted(responses["type"].unique())
    assert heat.to_numpy().min() >= 0 and heat.to_numpy().max() <= 1
    big = responses["type"].value_counts()
    assert services_findings.services_by_type(design, responses, k=int(big.max()), labels={"services__wifi": "W", "services__cafe": "C"}
                                              ).columns.tolist() == [big.idxmax()]


def test_finance_helpers(responses, design):
    p = finance_findings.ordinal_predictors(responses, pd.DataFrame({"council_support_index": np.arange(len(responses))}))
    assert p.columns.tolist() == ["any_paid_staff", "council_grant", "independent", "council_support_index"]
    assert p["any_paid_staff"].isna().eq(responses["paid_staff"].isna()).all()
    assert (p["any_paid_staff"].dropna() == (responses["paid_staff"].dropna() != "none")).all()
    assert (p["independent"] == (responses["type"] == "ICL")).all()
    mix = finance_findings.income_mix(design, k=1, labels={"inc_council": "Council", "inc_parish": "Parish"},
                                      sources=["inc_council", "inc_parish"])
    assert mix.columns.tolist() == ["Council", "Parish"] and np.allclose(mix.sum(axis=1), 1)
    assert finance_findings.horizon_labels(["conf_1yr"], {"conf_1yr": "1 year"}) == {"conf_1yr": "In 1 year"}


def _rows(values):
    return pd.DataFrame([{"finding_id": f"{name}|all|all", "estimate": e, "ci_low": lo, "ci_high": hi, "base_n": 40}
                         for name, (e, lo, hi) in values.items()])


def test_section_paragraphs():
    rows = _rows({"service_breadth": (0.5, 0.4, 0.6), "universal_offer_score": (3.456, 3.2, 3.7)})
    tests = pd.DataFrame({"indicator": ["service_breadth", "service_breadth"], "breakdown": ["type", "region"],
                          "F": [4.2, 1.0], "p": [0.01, 0.5]})
    text = summary.services_paragraph(rows, tests, {"p": 0.1234})
    assert "**50%** of the 13 listed services (95% CI 40% to\n60%, n = 40)" in text and "**3.46**" in text
    assert "unlikely to be chance" in text and "p = 0.500" in text and text.endswith("Rao-Scott p = 0.123.")
    assert "within what chance would give" in summary.services_paragraph(rows, tests.assign(p=0.2), {"p": 0.1})
    rows = _rows({"months_of_reserves": (6.04, 5, 7), "council_dependency": (0.3, 0.2, 0.4), "confident_3yr": (0.7, 0.6, 0.8)})
    tests = pd.DataFrame({"indicator": ["council_dependency"], "breakdown": ["type"], "p": [0.5]})
    text = summary.finances_paragraph(rows, tests)
    assert text.startswith("Reserves cover **6.0 months**") and "no more than chance would give" in text
    assert "**70%** of libraries" in text and text.endswith("(60% to 80%).")


def test_trend_helpers():
    comparability = pd.DataFrame({"indicator": ["a", "b", "c"], "status": ["as_is", "refused", "harmonised"]})
    assert trend.compared_indicators(comparability) == ["a", "c"]
    f = pd.DataFrame({"breakdown": ["overall", "overall", "type"], "change": [0.1, np.nan, 0.2],
                      "se": [2.0, 1.0, 1.0], "se_independent": [1.0, 1.0, 1.0]})
    overall = trend.overall_changes(f)
    assert overall.index.tolist() == [0] and trend.median_se_ratio(overall) == 2.0
    assert trend.median_se_ratio(f) == 1.0


def test_codebook_labelled_report_and_user_helpers():
    spec = {"indicators": {"x": {"label": "X"}, "y": {"label": "Y"}}}
    assert codebook.indicator_labels(spec) == {"x": "X", "y": "Y"}
    v = pd.DataFrame({"variable": ["a"]})
    assert codebook.dataset_variables({"d1": {"variables": v, "sav": "p"}}) == {"d1": v}
    w, values = pd.DataFrame({"a": [1, 2], "b": [3, 4]}), pd.DataFrame({"b": [0, 0], "c": [5, 6]})
    assert labelled.with_indicators(w, values).to_dict("list") == {"a": [1, 2], "b": [3, 4], "c": [5, 6]}
    assert report.headline_texts({"headlines": [{"text": "one", "x": 1}, {"text": "two"}]}) == ["one", "two"]
    inst = load_instrument("cml_user", "2025w1")
    used = user_findings.used_services(inst)
    assert used and "other" not in used and set(used) <= set(inst.choice_names("services_used"))
