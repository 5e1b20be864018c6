import numpy as np
import pandas as pd
import pytest

from cmlkit import estimates as E
from cmlkit import frame as F
from cmlkit import link
from cmlkit import nonresponse as NR
from cmlkit import weights as W
from cmlkit.errors import FrameError
from cmlkit.synthetic.wave import make_wave


@pytest.fixture(scope="module", params=[31, 32, 33])
def wave(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"linkwave{request.param}")
    make_wave(out, seed=request.param, platforms=("singleheader",), instruments=("cml_library",))
    scope = F.in_scope(F.load_frame(out / "frame.csv"))
    truth = pd.read_csv(out / "truth" / "cml_library_clean.csv").rename(columns={"respondent_id": "response_id"})
    return out, scope, truth


def test_linkage_recovers_the_true_library(wave):
    _, scope, truth = wave
    links = link.link_responses(truth, scope)
    correct = links["library_id"].to_numpy() == truth["library_id"].to_numpy()
    assert correct.mean() >= 0.99, links["status"].value_counts()
    exact = links["status"] == "exact"
    assert correct[exact.to_numpy()].all()  # never a wrong library with status exact
    wrong = links.loc[~correct]
    assert wrong["status"].isin(["ambiguous", "unmatched", "fuzzy"]).all()
    assert set(link.link_report(links)["response_id"]) >= set(links.loc[links["status"].isin(["ambiguous", "unmatched"]), "response_id"])


def test_overrides_and_duplicate_links(wave):
    _, scope, truth = wave
    resp = pd.concat([truth.head(3), truth.head(1)], ignore_index=True).astype({"response_id": str})
    resp.loc[3, "response_id"] = "dup"
    resp.loc[0, "library_name"], resp.loc[0, "postcode"] = "Completely Unknown Place", ""
    overrides = pd.DataFrame({"library_name": ["Completely Unknown Place"], "postcode": [""], "library_id": [truth.loc[0, "library_id"]], "note": ["checked by phone"]})
    links = link.link_responses(resp, scope, overrides=overrides)
    assert links.loc[0, "status"] == "override" and links.loc[0, "library_id"] == truth.loc[0, "library_id"]
    assert links.loc[[0, 3], "duplicate_link"].all()
    bad = overrides.assign(library_id="NOPE")
    with pytest.raises(FrameError, match="NOPE"):
        link.link_responses(resp, scope, overrides=bad)


def test_name_normalisation_unit():
    s = pd.Series(["Friends of Ashdon Library", "ashdon community library", "Ashdon Library & Community Hub", "Ashdon Library 3"])
    assert link.normalise_name(s).tolist() == ["ashdon", "ashdon", "ashdon", "ashdon 3"]
    assert link.normalise_postcode(pd.Series(["ab1 2cd", None])).tolist() == ["AB12CD", ""]


def test_response_rates_and_weights_add_up(wave):
    _, scope, truth = wave
    links = link.link_responses(truth, scope)
    rates = NR.response_rates(scope, links)
    allrow = rates.loc[rates["region"] == "All"].iloc[0]
    assert allrow["N"] == len(scope) and allrow["n"] == links["library_id"].nunique()
    resp = truth.assign(library_id=links["library_id"].to_numpy(), paid=(truth["paid_staff"] == "paid_coordinator").astype(int))
    for method in NR.METHODS:
        des, report = NR.weight_responses(resp, scope, method=method, bounds=(0.3, 3) if method == "logit" else (-np.inf, np.inf))
        assert des.weights.sum() == pytest.approx(len(scope))
        by_type = pd.Series(des.weights).groupby(des.data["type"].to_numpy()).sum()
        if method != "poststratify" or not report["collapsed"]:
            assert by_type.to_dict() == pytest.approx(scope["operation_23"].value_counts().to_dict())
        assert report["diagnostics"]["n_eff"] <= report["responses_weighted"]


def test_unknown_target_category_is_a_clear_error(wave):
    _, scope, truth = wave
    links = link.link_responses(truth, scope)
    resp = truth.assign(library_id=links["library_id"].to_numpy())
    des, _ = NR.weight_responses(resp, scope, method="poststratify")
    with pytest.raises(W.CalibrationError, match="no responses"):
        W.calibrate(des, margins={"type": {"CR": 400, "ICL": 70, "LA": 10}})


def test_top_two_is_a_stable_sort_and_threads_follow_the_kernel_share(monkeypatch):
    """The best and runner-up columns are those of a stable descending sort (ties: the first column first);
    rapidfuzz gets the kernel's thread share (``CMLKIT_THREADS``) inside a pipeline, every CPU outside one."""
    rng = np.random.default_rng(5)
    total = rng.integers(0, 6, size=(400, 7)).astype(float)        # many ties
    assert np.array_equal(link._top_two(total), np.argsort(-total, axis=1, kind="stable")[:, :2])
    monkeypatch.setenv("CMLKIT_THREADS", "1")
    assert link.threads() == 1
    monkeypatch.setenv("CMLKIT_THREADS", "two")
    assert link.threads() == -1
    monkeypatch.delenv("CMLKIT_THREADS")
    assert link.threads() == -1
