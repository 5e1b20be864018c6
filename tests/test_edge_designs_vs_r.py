"""Designs at the edges against R survey (tests/golden/edge_designs.R -> edge_designs.json).

An independent check against R found cmlkit silently wrong on each of these before stop 30: PSU ids numbered
within strata were read as shared clusters, the design effect counted rows of weight zero, post-stratification
gave such rows no residual, a lonely second-stage unit outside a domain made its "average" SE NaN, and ``regTermTest(df = Inf)`` gave a NaN p-value. Estimates to 1e-10, standard errors
and tests to 1e-8; the golden file is regenerated and compared when ``Rscript`` with ``survey`` is present.
"""
import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from cmlkit import design as D
from cmlkit import estimates as E
from cmlkit import regression as R
from cmlkit import weights as W
from cmlkit.errors import CalibrationError, DesignError

GOLDEN = "tests/golden/edge_designs.json"
AGE = {"16-34": 1500, "35-64": 2100, "65+": 1400}


@pytest.fixture(scope="module")
def golden(root):
    return json.loads((root / GOLDEN).read_text())["cases"]


@pytest.fixture(scope="module")
def d(root):
    return pd.read_csv(root / "tests" / "golden" / "edge_designs.csv")


def _check(r, case):
    assert np.isclose(r["estimate"], case["estimate"][0], rtol=1e-10, atol=0), ("estimate", r["estimate"], case["estimate"])
    assert np.isclose(r["se"], case["se"][0], rtol=1e-8, atol=0), ("se", r["se"], case["se"])
    for key in ("df", "deff"):
        if key in case:
            assert np.isclose(r[key], case[key][0], rtol=1e-8, atol=0), (key, r[key], case[key])


def test_psu_ids_numbered_within_strata_need_nest_and_then_match_r(d, golden):
    with pytest.raises(DesignError, match=r"PSU '1' \(column 'psu_local'\) is in stratum 'S0' \(row 0\) and 'S1' .*nest=True"):
        D.svydesign(d, ids="psu_local", strata="stratum", weights="w")
    one = D.svydesign(d, ids="psu_local", strata="stratum", weights="w", nest=True)
    _check(E.mean(one, "y"), golden["nest_one_stage_mean"])
    _check(E.total(one, "y"), golden["nest_one_stage_total"])
    two = D.svydesign(d, ids=["psu_local", "ssu"], strata="stratum", fpc=["N_h", "M_i"], nest=True)
    _check(E.mean(two, "y"), golden["nest_two_stage_mean"])
    # nest=True is the design with ids made unique within strata
    unique = D.svydesign(d, ids=["psu", "ssu"], strata="stratum", fpc=["N_h", "M_i"])
    assert E.mean(unique, "y")["se"] == pytest.approx(E.mean(two, "y")["se"], rel=1e-12)
    # the recipe a weighted table carries keeps nest: replayed, and written into the R code of design.R
    from cmlkit import codebook, weighted
    table = weighted.attach_design(one)
    assert weighted.rebuild(table).spec["nest"] is True and weighted.recipe(one)["version"] == 2   # refused by readers of 1
    assert "nest" not in unique.spec and weighted.recipe(unique)["version"] == 1
    assert any("nest = TRUE" in line for line in codebook.r_design(weighted.recipe(one)))


def test_rows_of_weight_zero_in_design_effects_and_post_stratification(d, golden):
    zero = D.svydesign(d, ids="psu", strata="stratum", weights="w0")
    _check(E.mean(zero, "y", deff=True), golden["zero_weight_mean_deff"])
    _check(E.total(zero, "y", deff=True), golden["zero_weight_total_deff"])
    ps = W.post_stratify(zero, "age", AGE)
    _check(E.total(ps, "y"), golden["zero_weight_poststrat_total"])
    _check(E.mean(ps, "y"), golden["zero_weight_poststrat_mean"])


def test_a_lonely_second_stage_unit_outside_a_domain_leaves_average_a_number(d, golden):
    lone = d[~((d["psu"] == "S1P1") & (d["ssu"] > 1))].reset_index(drop=True)
    des = D.svydesign(lone, ids=["psu", "ssu"], strata="stratum", fpc=["N_h", "M_i"], lonely_psu="average")
    dom = ((lone["psu"] != "S1P1") & (lone["age"] == "35-64")).to_numpy()
    _check(E.mean(des, "y", domain=dom), golden["average_lonely_ssu_domain_mean"])
    by = E.by_domain(des, "y", "age")          # the sparse path: NaN only for the age group holding the lonely unit
    case = golden["average_lonely_ssu_by_age"]
    assert np.allclose(by["estimate"], case["estimate"], rtol=1e-10, atol=0)
    assert np.allclose(by["se"], np.array(case["se"], dtype=float), rtol=1e-8, atol=0, equal_nan=True)
    assert np.isnan(by["se"]).sum() == 1


def test_reg_term_test_with_infinite_df_is_the_chi_square_test(d, golden):
    two = D.svydesign(d, ids=["psu", "ssu"], strata="stratum", fpc=["N_h", "M_i"])
    t = R.reg_term_test(R.svyglm(two, "y", factors=["age"], numeric=["x"]), "age", df=np.inf)
    case = golden["reg_term_test_df_inf"]
    assert np.allclose([t["chisq"], t["ndf"], t["p"]], [case["chisq"][0], case["ndf"][0], case["p"][0]], rtol=1e-8, atol=0)


def test_strict_trimming_to_bounds_no_weights_can_meet_is_an_error(d):
    des = D.svydesign(d, ids="psu", strata="stratum", weights="w")
    mean_w = des.weights.mean()
    with pytest.raises(CalibrationError, match="impossible: the mean weight"):
        W.trim(des, lower=1.0, upper=0.5 * mean_w, strict=True)
    with pytest.raises(CalibrationError, match="every weight is outside"):
        W.trim(des, lower=des.weights.max() + 1, upper=des.weights.max() + 2)
    with pytest.raises(CalibrationError, match="in proportion: the total would be lost"):   # a zero weight takes no share
        W.trim(D.svydesign(pd.DataFrame({"w": [0.0, 10.0]}), weights="w"), upper=5, rule="proportional")
    ok = W.trim(des, lower=0.5 * mean_w, upper=1.5 * mean_w, strict=True)
    assert ok.weights.sum() == pytest.approx(des.weights.sum()) and ok.weights.max() <= 1.5 * mean_w * (1 + 1e-12)


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript not installed: compared against the committed golden file only")
def test_edge_designs_golden_file_regenerates(root, tmp_path):
    if subprocess.run(["Rscript", "-e", "library(survey)"], capture_output=True).returncode != 0:
        pytest.skip("R is installed without the survey package")
    out = tmp_path / "edge_designs.json"
    subprocess.run(["Rscript", "tests/golden/edge_designs.R", str(out)], cwd=root, check=True, capture_output=True)
    new, old = json.loads(out.read_text())["cases"], json.loads((root / GOLDEN).read_text())["cases"]
    assert set(new) == set(old)
    for name, case in old.items():
        for key, vals in case.items():
            assert np.allclose(np.array(new[name][key], dtype=float), np.array(vals, dtype=float), rtol=1e-12, atol=0,
                               equal_nan=True), (name, key)
