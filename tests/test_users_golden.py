"""The users' two-stage design against R survey (tests/golden/users.R -> users.json)."""
import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from cmlkit import design as D
from cmlkit import estimates as E
from cmlkit import user_weights

GOLDEN = "tests/golden/users.json"


@pytest.fixture(scope="module")
def golden(root):
    return json.loads((root / GOLDEN).read_text())["cases"]


@pytest.fixture(scope="module")
def fixture(root):
    return pd.read_csv(root / "tests" / "golden" / "users_fixture.csv")


@pytest.fixture(scope="module")
def ages(root):
    return pd.read_csv(root / "tests" / "golden" / "users_age_targets.csv")


def _check(r, case, *, ci=True, rtol=1e-10):
    assert np.isclose(r["estimate"], case["estimate"][0], rtol=rtol, atol=0), ("estimate", r["estimate"], case["estimate"])
    assert np.isclose(r["se"], case["se"][0], rtol=1e-8, atol=0), ("se", r["se"], case["se"])
    if ci and "ci" in case:
        assert np.allclose([r["ci_low"], r["ci_high"]], case["ci"], rtol=1e-8, atol=0)
    if "df" in case:
        assert r["df"] == case["df"][0]


def test_two_stage_user_design_matches_r(fixture, golden):
    des = user_weights.user_design(fixture)
    assert des.ssu is not None and des.pop_ssu is not None  # both stages enter the variance
    _check(E.mean(des, "sat_overall_score"), golden["two_stage_mean_score"])
    _check(E.mean(des, "sat_overall_satisfied"), golden["two_stage_mean_satisfied"])
    _check(E.total(des, np.ones(des.n)), golden["two_stage_total_users"])
    # R's svyciprop(method = "logit") takes the estimate from a glm fit (converged to about 1e-9)
    _check(E.ci_proportion(des, "sat_overall_satisfied", method="logit"), golden["two_stage_ciprop_logit"], rtol=1e-8)
    by = E.by_domain(des, "sat_overall_score", "type")
    assert np.allclose(by["estimate"], golden["two_stage_by_type"]["estimate"], rtol=1e-10)
    assert np.allclose(by["se"], golden["two_stage_by_type"]["se"], rtol=1e-8)


def test_age_raked_user_design_matches_r(fixture, golden, ages):
    des = user_weights.user_design(fixture.assign(age_band=fixture["age_cal"]), age_population=ages)
    _check(E.mean(des, "sat_overall_score"), golden["raked_mean_score"])
    _check(E.mean(des, "sat_overall_satisfied"), golden["raked_mean_satisfied"])
    # the raked weights hit the age targets exactly
    got = pd.Series(des.weights).groupby(des.data["age_cal"].to_numpy()).sum()
    assert np.allclose(got.reindex(ages["age_band"]).to_numpy(), ages["users"].to_numpy(), rtol=1e-6)


def test_ignoring_the_clustering_matches_r_naive_design(fixture, golden):
    naive = D.svydesign(fixture, weights="weight")
    _check(E.mean(naive, "sat_overall_satisfied"), golden["naive_mean_satisfied"])


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript not installed: compared against the committed golden file only")
def test_users_golden_file_regenerates(root, tmp_path):
    if subprocess.run(["Rscript", "-e", "library(survey)"], capture_output=True).returncode != 0:
        pytest.skip("R is installed without the survey package")
    out = tmp_path / "users.json"
    subprocess.run(["Rscript", "tests/golden/users.R", str(out)], cwd=root, check=True, capture_output=True)
    new, old = json.loads(out.read_text())["cases"], json.loads((root / GOLDEN).read_text())["cases"]
    assert set(new) == set(old)
    for name, case in old.items():
        for key, vals in case.items():
            assert np.allclose(new[name][key], vals, rtol=1e-12, atol=0), (name, key)
