"""The case-study balance table: probability-sampled cases with inclusion weights against the population,
purposive cases separately, replacements weighted by their own inclusion probability."""

import numpy as np
import pandas as pd
import pytest

from cmlkit import sampling as S
from cmlkit import synthetic
from cmlkit.case_balance import balance, balance_summary

SPEC = {"balance_on": {"numeric": ["x"], "categorical": []}}


def _table():
    return pd.DataFrame({
        "library_id": list("abcdefg"), "x": [0.0, 4.0, 8.0, 2.0, 6.0, 10.0, 100.0],
        "pik": [0.5, 0.25, 0.5, 0.5, 0.25, 0.5, 0.5], "selected": [1, 1, 0, 0, 0, 0, 1],
        "status": ["selected", "selected", "", "", "", "", "selected"],
        "role": ["main", "main", "", "", "", "", "typical"], "reserve_for": [None] * 7, "region": list("NNNSSSS")})


def test_balance_by_hand():
    b = balance(_table(), SPEC).set_index(["variable", "category"])
    x = b.loc[("x", "")]
    # weights 1/0.5 = 2 and 1/0.25 = 4: (2 * 0 + 4 * 4) / 6; the typical case (x = 100) is not in it
    assert x["sample"] == pytest.approx(16 / 6)
    pop = np.array([0, 4, 8, 2, 6, 10, 100.0])
    assert x["population"] == pytest.approx(pop.mean()) and x["population_sd"] == pytest.approx(pop.std())
    assert x["std_diff"] == pytest.approx((16 / 6 - pop.mean()) / pop.std())
    assert x["sample_n"] == 2 and x["weighting"] == "1/pik"
    assert x["purposive"] == 100 and x["purposive_n"] == 1
    # both probability-sampled cases are in region N: share 1 against 3/7
    assert b.loc[("region", "N"), "sample"] == 1.0 and b.loc[("region", "N"), "population"] == pytest.approx(3 / 7)
    s = balance_summary(balance(_table(), SPEC))
    assert s["probability_sample_n"] == 2 and s["purposive_n"] == 1
    assert s["max_abs_std_diff"] == pytest.approx(b["std_diff"].abs().max())


def test_replacement_keeps_its_own_inclusion_probability():
    t = _table()
    t.loc[1, "status"] = "declined"
    t.loc[4, ["status", "role", "reserve_for"]] = ["selected", "reserve", "b"]   # e replaces b (pik 0.25)
    t.loc[4, "pik"] = 0.8                                                        # e's own pik: weight 1.25
    b = balance(t, SPEC).set_index(["variable", "category"])
    assert b.loc[("x", ""), "sample"] == pytest.approx((2 * 0 + 1.25 * 6) / 3.25)


def test_no_inclusion_probabilities_means_unweighted_and_said():
    t = _table().assign(pik=np.nan)
    b = balance(t, SPEC)
    assert b["weighting"].iloc[0].startswith("none: not a probability sample")
    assert b.loc[b["variable"] == "x", "sample"].iloc[0] == pytest.approx(2.0)


def test_weighted_balance_on_the_synthetic_frame():
    scope = synthetic.in_scope(synthetic.make_frame(480, random_state=3))
    sp = S.load_spec().as_dict()
    sp.update(draw_from="frame", sample_size=20, stratify_by=["type"], constraints={},
              balance_on={"numeric": ["frame_hours", "imd_decile"], "categorical": ["region"]},
              purposive={"indicator": {"name": "frame_hours"}, "typical": 1, "deviant": 1})
    cands = S.candidates(pd.DataFrame({"library_id": scope["library_id"]}), scope, sp)
    table = S.purposive(S.draw(cands, sp, random_state=1).table, sp)
    table["status"] = np.where(table["selected"] == 1, "selected", "")
    bal = balance(table, sp)
    s = balance_summary(bal)
    print(f"\nprobability sample n = {s['probability_sample_n']} ({s['weighting']}): mean |std diff| "
          f"{s['mean_abs_std_diff']:.3f}, max {s['max_abs_std_diff']:.3f}, within 0.25: {s['share_within_threshold']:.0%}; "
          f"purposive n = {s['purposive_n']}")
    assert s["probability_sample_n"] == 20 and s["purposive_n"] == 2 and s["weighting"] == "1/pik"
    num = bal.loc[bal["category"] == ""]
    assert (num["std_diff"].abs() < 0.5).all()               # balanced on the numeric variables by the cube method
