"""Vectorised domain estimation (cmlkit.domains) equals the one-domain-at-a-time dense path to 1e-10."""
import numpy as np
import pandas as pd
import pytest

from cmlkit import design as D
from cmlkit import domains as Dm
from cmlkit import estimates as E
from cmlkit import weights as W


@pytest.fixture(scope="module")
def api(root):
    g = root / "tests" / "golden"
    return pd.read_csv(g / "apiclus1.csv"), pd.read_csv(g / "apistrat.csv")


def _designs(api):
    c, s = api
    c = c.assign(dom=np.where(c["api00"] > 700, "hi", np.where(c["api00"] > 600, "mid", "lo")),
                 enroll_na=c["enroll"].where(c.index % 7 != 0))
    s = s.assign(dom=s["sch.wide"], api99_na=s["api99"].where(s.index % 5 != 0))
    dclus = D.svydesign(c, ids="dnum", weights="pw", fpc="fpc")
    types = {"E": 4421, "H": 755, "M": 1018}
    out = {"clus": dclus, "strat": D.svydesign(s, strata="stype", weights="pw", fpc="fpc"),
           "strat_nofpc": D.svydesign(s, strata="stype", weights="pw"),
           "ps_then_cal": W.calibrate(W.post_stratify(dclus, "stype", types), margins={"sch.wide": {"No": 1072, "Yes": 5122}}),
           "raked": W.calibrate(dclus, margins={"stype": types, "sch.wide": {"No": 1072, "Yes": 5122}}, calfun="raking")}
    lone = s.copy()
    lone.loc[lone.index[:1], "stype"] = "Z"
    lone.loc[lone.index[1:2], ["stype", "fpc"]] = ["C", 1]
    for rule in ("average", "adjust", "certainty"):
        out[f"lonely_{rule}"] = D.svydesign(lone, strata="stype", weights="pw", fpc="fpc", lonely_psu=rule)
    return out


@pytest.mark.parametrize("name", ["clus", "strat", "strat_nofpc", "ps_then_cal", "raked", "lonely_average", "lonely_adjust",
                                  "lonely_certainty"])
@pytest.mark.parametrize("estimator", ["mean", "total"])
def test_domain_table_equals_dense_path(api, name, estimator):
    des = _designs(api)[name]
    cols = ["api00", "enroll_na"] if "enroll_na" in des.data else ["api00", "api99_na"]
    t = Dm.domain_table(des, cols, "dom", estimator=estimator)
    fn = E.mean if estimator == "mean" else E.total
    for _, r in t.iterrows():
        ref = fn(des, r["variable"], domain=(des.data["dom"] == r["domain"]).to_numpy())
        assert r["estimate"] == pytest.approx(ref["estimate"], rel=1e-12)
        assert r["se"] == pytest.approx(ref["se"], rel=1e-10), (r["variable"], r["domain"])
        assert r["df"] == ref["df"] and r["n"] == ref["n"]


def test_ratio_and_two_grouping_columns(api):
    des = _designs(api)["raked"]
    t = Dm.domain_table(des, ["api00"], ["stype", "dom"], estimator="ratio", denominator="api99")
    assert len(t) == len(des.data[["stype", "dom"]].drop_duplicates())
    first = t.iloc[0]
    mask = ((des.data["stype"] == first["domain"][0]) & (des.data["dom"] == first["domain"][1])).to_numpy()
    ref = E.ratio(des, "api00", "api99", domain=mask)
    assert first["estimate"] == pytest.approx(ref["estimate"], rel=1e-12) and first["se"] == pytest.approx(ref["se"], rel=1e-10)


def test_two_stage_calibrated_domains_equal_dense_path(root):
    g = root / "tests" / "golden"
    resp, vol = pd.read_csv(g / "cml_responses.csv"), pd.read_csv(g / "cml_volunteers.csv")
    v = vol.assign(vid=np.arange(len(vol))).merge(resp[["library_id", "region", "type", "N_region", "volunteers"]], on="library_id")
    v["M"] = np.maximum(v["volunteers"], v.groupby("library_id")["vid"].transform("size"))
    des = D.svydesign(v, ids=["library_id", "vid"], strata="region", fpc=["N_region", "M"])
    cal = W.calibrate(des, margins={"type": {"CR": 3000.0, "ICL": 600.0}}, calfun="raking")
    for d in (des, cal):
        t = Dm.domain_table(d, ["sat_score", "older"], "region")
        for _, r in t.iterrows():
            ref = E.mean(d, r["variable"], domain=(d.data["region"] == r["domain"]).to_numpy())
            assert r["se"] == pytest.approx(ref["se"], rel=1e-10)
