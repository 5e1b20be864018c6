"""Closure hazard: library-intervals by hand ([Unknown] kept, closure years), vectorised AUC, the ranking
rule on fixtures where the model is and is not better than a baseline, the authority view, the real frame."""
import numpy as np
import pandas as pd

from cmlkit import authority_context as A
from cmlkit import closure as C
from cmlkit import closure_validation as V
from cmlkit import frame as F
from cmlkit import synthetic

OPS = [f"operation_{y % 100}" for y in C.YEARS]


def _hand_frame():
    rows = [  # id, authority, codes 16..23, closed year
        ("A", "X", ["CR", "Unknown", "Unknown", "Closed", "Closed"], 2020),
        ("B", "Y", ["CR", "CR", "CR", "Closed", "Closed"], 2017),      # closed year before an open year: codes win
        ("C", "Y", ["CR", "LA", "LA", "LA", "LA"], None),             # back to the council: leaves without an event
        ("D", "Y", ["LA", "ICL", "ICL", "ICL", "ICL"], None),
        ("E", "Y", ["CR", "Closed", "Closed", "Closed", "Closed"], None),
        ("F", "X", ["LA", "Closed", "Closed", "Closed", "Closed"], 2018),
    ]
    f = pd.DataFrame([dict(library_id=i, authority=a, region="London", closed=c, **dict(zip(OPS, codes)))
                      for i, a, codes, c in rows])
    f["statutory_16"] = ["Yes", "No", "Yes", "Yes", "No", "Yes"]
    return f


def test_library_years_by_hand():
    r = C.library_years(_hand_frame()).set_index(["library_id", "start"])
    assert set(r.index) == {("A", 2016), ("A", 2019), ("B", 2016), ("B", 2019), ("B", 2021), ("C", 2016),
                            ("D", 2019), ("D", 2021), ("D", 2022), ("E", 2016)}
    # A: unknown in 2019 stays at risk, flagged; its closure year 2020 puts the event in 2019 -> 2021
    assert r.loc[("A", 2019), "event"] == 1 and r.loc[("A", 2019), "status_unclear"] == 1
    assert r.loc[("A", 2016), "event"] == 0 and r.loc[("A", 2016), "status_unclear"] == 0
    # B: closed year 2017 contradicts being open in 2021, so the codes place it in 2021 -> 2022
    assert r.loc[("B", 2021), "event"] == 1 and r.loc[("B", 2016), "event"] == 0
    assert r.loc[("C", 2016), "event"] == 0 and r.loc[("E", 2016), "event"] == 1
    assert r.loc[("D", 2019), "icl"] == 1 and r.loc[("D", 2019), "years"] == 2
    # authority X closed F in 2018: A's 2019 interval knows it, its 2016 interval does not
    assert r.loc[("A", 2019), "authority_recent_closures"] == 1 and r.loc[("A", 2016), "authority_recent_closures"] == 0
    assert r.loc[("A", 2016), "statutory"] == 1 and r.loc[("B", 2016), "statutory"] == 0


def test_weighted_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    s = np.round(rng.normal(size=300), 1)                # ties included
    y = rng.random(300) < 0.2
    w = rng.integers(0, 4, size=(5, 300)).astype(float)
    got = V.weighted_auc(s, y, w)
    want = [roc_auc_score(y, s, sample_weight=wi) for wi in w]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def _frame(n_auth=60, per=30, *, signal="statutory", seed=0):
    """Community libraries whose closures depend on statutory status alone, or on several features."""
    rng = np.random.default_rng(seed)
    n = n_auth * per
    stat = rng.random(n) < 0.5
    icl = rng.random(n) < 0.3
    imd = rng.integers(1, 11, n)
    if signal == "statutory":
        lin = -3.2 + 1.8 * ~stat
    else:
        lin = -5.0 + 1.6 * ~stat + 1.6 * icl + 0.45 * (5.5 - imd)
    annual = 1 - np.exp(-np.exp(lin))
    codes = np.where(icl, "ICL", "CR").astype(object)
    cols = {OPS[0]: codes.copy()}
    closed = np.full(n, np.nan)
    alive = np.ones(n, bool)
    for k in range(len(C.YEARS) - 1):
        yrs = C.YEARS[k + 1] - C.YEARS[k]
        event = alive & (rng.random(n) < 1 - (1 - annual) ** yrs)
        closed[event] = C.YEARS[k] + rng.integers(1, yrs + 1, event.sum())
        alive &= ~event
        cols[OPS[k + 1]] = np.where(alive, codes, "Closed")
    return pd.DataFrame({"library_id": [f"L{i:05d}" for i in range(n)], "authority": np.repeat([f"A{a:03d}" for a in range(n_auth)], per),
                         "region": "London", **cols, "statutory_16": np.where(stat, "Yes", "No"), "imd_decile": imd,
                         "closed": pd.array(closed, dtype="Int64")})


def test_model_no_better_than_a_baseline_gets_weight_zero():
    val, _ = V.validate(_frame(signal="statutory"), B=300)
    w = V.ranking_weight(val, 0.2)
    for key in ("grouped_cv", "temporal"):
        v = val[key]
        print(f"\n{key}: model {v['model']['auc']:.3f} [{v['model']['ci_low']:.3f}, {v['model']['ci_high']:.3f}], "
              f"best baseline {v['best_baseline']}")
    assert val["grouped_cv"]["best_baseline"]["name"] == "not_statutory"
    assert w == 0.0
    assert "does not affect the order" in V.weight_in_words(val, w)


def test_model_that_beats_every_baseline_gets_its_weight():
    val, _ = V.validate(_frame(signal="several", seed=1), B=300)
    for key in ("grouped_cv", "temporal"):
        v = val[key]
        print(f"\n{key}: model {v['model']['auc']:.3f} [{v['model']['ci_low']:.3f}, {v['model']['ci_high']:.3f}], "
              f"best baseline {v['best_baseline']}")
    assert V.ranking_weight(val, 0.2) == 0.2
    assert set(val["grouped_cv"]["baselines"]) == {"not_statutory", "independent_icl", "deprivation_decile",
                                                   "authority_recent_closures"}        # no hours without the Taskforce file


def test_report_and_comparison_on_the_synthetic_frame():
    fr = synthetic.make_frame(480, random_state=3)
    ids = synthetic.in_scope(fr)["library_id"][:10]
    val, base = V.report(fr, ids, B=100)
    assert val["status"] == "ok" and val["ranking_weight"] in (0.0, 0.2) and val["in_words"]
    assert base.between(0, 1).all() and len(base) == 10
    t = V.comparison_table(val)
    assert set(t["validation"]) == {"grouped_cv", "temporal"} and (t["ci_low"] <= t["auc"]).all()


def test_closure_model_refuses_too_little_history():
    small = synthetic.make_frame(20, random_state=1)
    val, base = V.report(small, small["library_id"][:3], B=50)
    assert val["status"].startswith("not fitted") and base.isna().all() and val["ranking_weight"] == 0


def test_authority_context_by_hand():
    t = A.authority_context(_hand_frame()).set_index("authority")
    assert t.loc["X", "closed_2016_2019"] == 1 and t.loc["X", "closed_2019_2023"] == 1     # F in 2018, A in 2020
    assert t.loc["Y", "closed_2016_2019"] == 1 and t.loc["Y", "closed_2019_2023"] == 1     # E by 2019, B in 2022
    assert t.loc["Y", "to_community_2016_2019"] == 1 and t.loc["Y", "back_to_council_2019_2023"] == 0
    assert t.loc["Y", "community_now"] == 1
    assert t.loc["X", "context"] == ("Since 2019 the council closed 1 library; 0 community libraries in 2023 "
                                     "(public data, not a prediction).")


def test_real_frame_hazard_and_baselines(shared_data):
    ace = F.load_ace(shared_data / "ace_basic_dataset_2023.csv")
    tf = F.load_taskforce_2016(shared_data / "libraries_england_2016.csv")
    val, rows = V.validate(ace, taskforce=tf, B=1000)
    d = val["data"]
    print(f"\nreal frame: {d['library_intervals']} library-intervals, {d['libraries']} libraries, {d['closures']} closures "
          f"in {d['authorities_with_closures']} of {d['authorities']} authorities")
    for key in ("grouped_cv", "temporal"):
        v = val[key]
        print(f"{key} ({v['n']} rows, {v['events']} events): model {v['model']['auc']:.3f} "
              f"[{v['model']['ci_low']:.3f}, {v['model']['ci_high']:.3f}]; "
              + "; ".join(f"{k} {b['auc']:.3f} [{b['ci_low']:.3f}, {b['ci_high']:.3f}]" for k, b in v["baselines"].items()))
    print("ranking weight", V.ranking_weight(val, 0.2), V.weight_in_words(val, V.ranking_weight(val, 0.2)))
    assert [r["start"] for r in d["by_interval"]] == [2016, 2019, 2021, 2022]
    assert d["closures"] >= 40 and set(val["temporal"]["baselines"]) == set(V.BASELINES)
    assert val["temporal"]["unclear_status_later_closed"] >= 2          # [Unknown] in 2019 kept, closures counted
    assert rows.loc[rows["start"] == 2016, "event"].sum() == 18
    assert {"log_hours_16", "imd_decile"} <= {c["feature"] for c in val["coefficients"]}
