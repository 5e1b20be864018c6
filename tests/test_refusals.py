"""Estimates R refuses: cmlkit refuses too, with one line, or answers and says what it did in a flag."""
import warnings

import numpy as np
import pandas as pd
import pytest

from cmlkit import design as D
from cmlkit import domains as Dm
from cmlkit import estimates as E
from cmlkit import olr as O
from cmlkit import quantiles as Q
from cmlkit import regression as R
from cmlkit import weights as W


@pytest.fixture(scope="module")
def clus(root):
    c = pd.read_csv(root / "tests" / "golden" / "apiclus1.csv")
    return D.svydesign(c.assign(comp=(c["comp.imp"] == "Yes").astype(float)), ids="dnum", weights="pw", fpc="fpc")


@pytest.fixture(scope="module")
def negative(clus):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", D.NegativeWeightWarning)
        return W.calibrate(clus, margins={"stype": {"E": 4421, "H": 755, "M": 1018}}, totals={"api99": 6194 * 560})


def _one_line(err):
    msg = str(err.value)
    assert msg and "\n" not in msg
    return msg


def test_negative_weights_warn_and_flag(clus, negative):
    with pytest.warns(D.NegativeWeightWarning, match="1 negative weights.*bounds"):
        W.calibrate(clus, margins={"stype": {"E": 4421, "H": 755, "M": 1018}}, totals={"api99": 6194 * 560})
    assert negative.info["calibration"]["negative_weights"] == 1
    r = E.ci_proportion(negative, "comp", method="logit")
    assert "refuses" in r["flag"] and np.isfinite(r["ci_low"])
    assert E.ci_proportion(negative, "comp", method="mean")["flag"] == ""
    t = Dm.domain_table(negative, ["comp"], "stype", estimator="proportion")
    assert t["flag"].str.contains("xlogit").any()
    with pytest.raises(D.DesignError, match="negative weights not allowed") as err:
        R.svyglm(negative, "comp", factors=["stype"], family="binomial")
    _one_line(err)


def test_calibration_that_r_cannot_solve(clus):
    margins = {"stype": {"E": 4421, "H": 755, "M": 1018}, "sch.wide": {"No": 1072, "Yes": 5122}}
    with pytest.raises(W.CalibrationError, match="did not converge in 2 iterations.*Calibration failed") as err:
        W.calibrate(clus, margins=margins, calfun="logit", bounds=(0.5, 2), maxit=2)
    _one_line(err)
    forced = W.calibrate(clus, margins=margins, calfun="logit", bounds=(0.5, 2), maxit=2, force=True)
    assert forced.info["calibration"]["failed"] > 1e-7        # the stated flag: misfit reached


def test_design_refusals_match_r():
    df = pd.DataFrame({"s": ["a", "a", "b"], "y": [1.0, 2.0, 3.0], "N": [10, 10, 5]})
    with pytest.raises(D.DesignError, match="single PSU at stage 1") as err:
        E.total(D.svydesign(df, strata="s", fpc="N"), "y")
    _one_line(err)
    with pytest.raises(D.DesignError, match="more than 100% sampling"):
        D.svydesign(df.assign(N=[1, 1, 5]), strata="s", fpc="N")
    # every stratum lonely under "average": R's answer is NaN (nothing to average)
    lone = D.svydesign(df.assign(s=["a", "b", "c"]), strata="s", fpc="N", lonely_psu="average")
    assert np.isnan(E.total(lone, "y")["se"])
    # a certainty stratum (N_h = n_h = 1) contributes nothing, even with lonely_psu="fail"
    cert = D.svydesign(df.assign(s=["a", "a", "b"], N=[10, 10, 1]), strata="s", fpc="N")
    assert np.isfinite(E.total(cert, "y")["se"])


def test_model_and_quantile_refusals(clus):
    with pytest.raises(D.DesignError, match="3 or more levels") as err:
        O.svyolr(clus, "comp", numeric=["api99"])
    _one_line(err)
    with pytest.raises(D.DesignError, match=r"quantiles must lie in \[0, 1\]"):
        Q.quantile_table(clus, "api00", quantiles=(1.5,))
    r = E.ci_proportion(clus, np.ones(clus.n), method="logit")       # p-hat = 1: R has no usable interval
    assert r["boundary"] and "clopper-pearson" in r["ci_method"] and r["ci_high"] == 1.0
