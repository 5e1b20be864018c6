"""Findings: indicators by hand, Cronbach's alpha, Wald and Rao-Scott tests against R survey golden values."""
import json

import numpy as np
import pandas as pd
import pytest

from cmlkit import design as D
from cmlkit import estimates as E
from cmlkit import findings as Fd
from cmlkit import indicators as I
from cmlkit import volunteer_weights
from cmlkit import weights as W
from cmlkit.instrument import load_instrument


@pytest.fixture(scope="module")
def golden(root):
    return json.loads((root / "tests/golden/golden.json").read_text())["cases"]


@pytest.fixture(scope="module")
def api(root):
    g = root / "tests" / "golden"
    s, c, r, pop = (pd.read_csv(g / f) for f in ("apistrat.csv", "apiclus1.csv", "cml_responses.csv", "cml_population.csv"))
    return {"strat": D.svydesign(s, weights="pw", strata="stype", fpc="fpc"),
            "clus": D.svydesign(c, weights="pw", ids="dnum", fpc="fpc"),
            "cml": D.svydesign(r, strata="region", fpc="N_region"), "apistrat": s,
            "cml_cal": W.calibrate(D.svydesign(r, strata="region", fpc="N_region"), margins={
                "region": pop.groupby("region")["N"].sum().to_dict(), "type": pop.groupby("type")["N"].sum().to_dict()})}


@pytest.mark.parametrize("case,design,y,by", [("find_wald_api00_stype", "strat", "api00", "stype"),
                                              ("find_wald_hours_type", "cml", "hours", "type"),
                                              ("find_wald_api00_stype_clus", "clus", "api00", "stype"),
                                              ("find_wald_income_na_type", "cml", "income", "type"),
                                              ("find_wald_income_na_region_cal", "cml_cal", "income", "region")])
def test_wald_matches_r(golden, api, case, design, y, by):
    t = Fd.wald_test(api[design], y, by)
    want = golden[case]["estimate"]
    print(f"\n{case}: F {t['F']:.10g} vs R {want[0]:.10g}; ddf {t['ddf']} vs {want[2]}")
    assert np.allclose([t["F"], t["ndf"], t["ddf"], t["p"]], want, rtol=1e-8, atol=0)


@pytest.mark.parametrize("case,design,a,b", [("find_raoscott_stype_schwide", "strat", "stype", "sch.wide"),
                                             ("find_raoscott_stype_compimp_clus", "clus", "stype", "comp.imp")])
def test_rao_scott_matches_r(golden, api, case, design, a, b):
    t = Fd.rao_scott(api[design], a, b)
    assert np.allclose([t["F"], t["ndf"], t["ddf"], t["p"]], golden[case]["estimate"], rtol=1e-8, atol=0)


def test_alpha_matches_r_svycralpha(golden, api):
    s = api["apistrat"]
    items = s[["api00", "api99", "enroll"]]
    assert I.cronbach_alpha(items, s["pw"])["alpha"] == pytest.approx(golden["find_alpha_weighted"]["estimate"][0], rel=1e-8)
    assert I.cronbach_alpha(items)["alpha"] == pytest.approx(golden["find_alpha_unweighted"]["estimate"][0], rel=1e-8)


def test_alpha_by_hand():
    x = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 3, 5], "c": [1, 3, 3, 4]}, dtype=float)
    v = x.var(ddof=0)
    total = x.sum(axis=1).var(ddof=0)
    expected = 3 / 2 * (1 - v.sum() / total)
    out = I.cronbach_alpha(x)
    assert out["alpha"] == pytest.approx(expected) and out["n"] == 4
    rest_a = np.corrcoef(x["a"], x["b"] + x["c"])[0, 1]
    assert out["item_rest"]["a"] == pytest.approx(rest_a)
    with_missing = pd.concat([x, pd.DataFrame({"a": [np.nan], "b": [1.0], "c": [1.0]})], ignore_index=True)
    assert I.cronbach_alpha(with_missing)["alpha"] == pytest.approx(expected)      # listwise


def test_indicators_by_hand():
    inst = load_instrument("cml_library", "2025w1")
    spec = I.load_spec()
    services = I.inputs(spec["indicators"]["service_breadth"]["derive"], inst)
    row = {c: 0 for c in services}
    row.update({"services__book_lending": 1, "services__wifi": 1, "services__cafe": 1})
    row.update({f"council_support__{t}": 0 for t in ["book_stock", "lms_access", "public_it", "wifi", "building_maintenance",
                                                     "insurance", "training", "professional_advice"]})
    row.update({"council_support__book_stock": 1, "council_support__wifi": 1, "council_grant": "yes"})
    row.update({"uo_reading": "very_effective", "uo_information": "fairly_effective", "uo_digital": "dont_know",
                "uo_health": "neither", "uo_learning": None})
    row.update({"inc_council": 600, "inc_parish": 0, "inc_fundraising": 300, "inc_room_hire": 100, "inc_cafe_sales": 0,
                "inc_grants": 0, "inc_other": 0, "reserves": 3000, "expenditure_total": 12000,
                "conf_1yr": "very_confident", "conf_3yr": "fairly_confident", "conf_5yr": None, "paid_staff": "none",
                "vol_age_under25": 1, "vol_age_25_44": 1, "vol_age_45_59": 2, "vol_age_60_74": 4, "vol_age_75plus": 2})
    second = dict(row, uo_information=None, uo_health=None, conf_3yr=None, inc_council=0, inc_fundraising=0, inc_room_hire=0)
    v = I.compute(pd.DataFrame([row, second]), spec, inst=inst)
    first = v.iloc[0]
    assert first["service_breadth"] == pytest.approx(3 / 13)
    assert first["universal_offer_score"] == pytest.approx((5 + 4 + 3) / 3)          # don't know and blank left out
    assert first["council_support_index"] == pytest.approx(3 / 9)                     # two in-kind types + grant
    assert first["income_diversity"] == pytest.approx(1 - (0.6 ** 2 + 0.3 ** 2 + 0.1 ** 2))
    assert first["council_dependency"] == pytest.approx(0.6)
    assert first["months_of_reserves"] == pytest.approx(3.0)
    assert first["sustainability_confidence"] == pytest.approx(4.5)                   # 5 and 4; 5 years unanswered
    assert first["confident_3yr"] == 1 and first["paid_coordinator"] == 0
    assert first["volunteers_60plus"] == pytest.approx(0.6)
    assert np.isnan(v.iloc[1]["universal_offer_score"])                                # only 1 of 5 offers rated (< 3)
    assert np.isnan(v.iloc[1]["sustainability_confidence"])                            # 1 of 3 horizons (< 2)
    assert np.isnan(v.iloc[1]["income_diversity"]) and np.isnan(v.iloc[1]["council_dependency"])   # no income


def test_indicator_spec_requires_documentation(tmp_path):
    p = tmp_path / "i.yml"
    p.write_text("indicators:\n  x: {label: X, section: services, derive: {source: a}, kind: mean, direction: none}\n")
    with pytest.raises(I.IndicatorError, match="missing"):
        I.load_spec(p)


def test_ordinal_model_is_design_based_svyolr(golden, root):
    """findings.ordinal_model on a weighted product equals R's svyolr(factor(conf3) ~ type + hours, des)."""
    r = pd.read_csv(root / "tests" / "golden" / "cml_responses.csv")
    data = r.assign(weight=r["N_region"] / r.groupby("region")["region"].transform("size"),
                    conf3=r["conf3"].astype("Int64").astype("string"))

    class Inst:
        def choices(self, q):
            return [{"name": str(i), "score": i} for i in range(1, 6)]

    preds = pd.DataFrame({"independent": (r["type"] == "ICL").astype(float), "hours": r["hours"]})
    m = Fd.ordinal_model(data, "conf3", preds, inst=Inst())
    want = golden["o6_olr_conf_type_hours"]
    assert np.all(np.abs(m["coefficients"]["coef"] - want["estimate"][:2]) / np.array(want["se"][:2]) < 1e-6)
    assert np.allclose(m["coefficients"]["se"], want["se"][:2], rtol=1e-6)
    assert m["df"] == want["df"][0] and "svyolr" in m["limits"]


def test_volunteer_design_is_two_stage_when_team_sizes_are_known(root):
    g = root / "tests" / "golden"
    resp, vol = pd.read_csv(g / "cml_responses.csv"), pd.read_csv(g / "cml_volunteers.csv")
    v = vol.assign(response_id=np.arange(len(vol))).merge(resp[["library_id", "region", "N_region", "volunteers"]], on="library_id")
    v = v.assign(weight=v["w_vol"], team_size=np.maximum(v["volunteers"], v.groupby("library_id")["response_id"].transform("size")))
    des = volunteer_weights.volunteer_design(v)
    direct = D.svydesign(v, weights="weight", strata="region", ids=["library_id", "response_id"], fpc=["N_region", "team_size"],
                         lonely_psu="adjust")
    assert des.ssu is not None and E.mean(des, "sat_score")["se"] == pytest.approx(E.mean(direct, "sat_score")["se"], rel=1e-12)
    one = volunteer_weights.volunteer_design(v.assign(team_size=v["team_size"].where(v.index > 0)))      # a team size unknown
    assert one.ssu is None and one.strata is None
    assert E.mean(one, "sat_score")["se"] > E.mean(des, "sat_score")["se"]              # with-replacement: wider
