"""Coverage study: the all-headlines-at-once estimates equal cmlkit.estimates one by one, Monte Carlo SE,
exact-by-construction rows labelled and not counted."""
import numpy as np
import pytest

from cmlkit.synthetic import coverage as CV
from cmlkit import estimates as E
from cmlkit import nonresponse as NR
from cmlkit import synthetic as syn


@pytest.fixture(scope="module")
def pop():
    return CV.population(n_community=300, seed=7)


@pytest.mark.parametrize("method", list(CV.METHODS))
def test_vectorised_estimates_match_the_estimates_module(pop, method):
    scope, people, targets = pop
    p = syn.response_propensity(scope, random_state=np.random.default_rng(8))
    resp = people.assign(response_id=people["library_id"]).loc[np.random.default_rng(1).random(len(people)) < p]
    how, aux = CV.METHODS[method]
    des, _ = NR.weight_responses(resp, scope, method=how, auxiliaries=aux)
    got = CV.headline_estimates(des, targets).set_index("target")
    for r in targets.itertuples():
        fn = {"total": E.total, "proportion": E.ci_proportion, "mean": E.mean}[r.kind]
        ref = fn(des, r.target)
        np.testing.assert_allclose(got.loc[r.target, ["estimate", "ci_low", "ci_high"]].to_numpy(dtype=float),
                                   [ref["estimate"], ref["ci_low"], ref["ci_high"]], rtol=1e-9, err_msg=r.target)


def test_headlines_cover_the_findings_table(pop):
    _, _, targets = pop
    assert {"service_breadth", "months_of_reserves", "income_total", "paid_coordinator", "confident_3yr"} <= set(targets["target"])
    assert set(targets["kind"]) == {"mean", "proportion", "total"}


def test_summary_labels_exact_rows_and_reports_mc_se():
    res = CV.coverage_study(replications=6, methods=("rake", "rake+hours"), n_community=200, seed=3)
    s = CV.summarise(res).set_index(["method", "target"])
    hours = s.loc[("rake+hours", "opening_hours")]
    assert bool(hours["exact_by_construction"]) and not bool(hours["counted"]) and not bool(hours["in_band"])
    assert not s.loc[("rake", "opening_hours"), "exact_by_construction"]
    assert s["counted"].sum() == len(s) - 1
    c = s.loc[("rake", "service_breadth")]
    assert c["mc_se"] == pytest.approx(np.sqrt(c["coverage"] * (1 - c["coverage"]) / 6))
    assert (s["replications"] == 6).all()
