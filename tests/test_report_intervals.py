"""Bounded (logit) intervals of share-valued estimates against R survey's svyciprop(method = "logit").

Golden values: tests/golden/intervals.R -> tests/golden/intervals.json (regenerated and compared when
``Rscript`` with the survey package is present). svyciprop fits an intercept-only quasibinomial GLM
iteratively, so its estimate and interval match to 1e-6 relative; the SE (svymean) and df to 1e-9.
"""
import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from cmlkit import design as D
from cmlkit import estimates as E
from cmlkit import indicators
from cmlkit import share_intervals as intervals

GOLDEN = "tests/golden/intervals.json"


@pytest.fixture(scope="module")
def fixture(root):
    d = pd.read_csv(root / "tests" / "golden" / "cml_responses.csv")
    d["share"] = np.minimum(d["hours"] / 40, 1)
    d["small"] = np.maximum(d["hours"] - 30, 0) / 100
    return D.svydesign(d, strata="region", fpc="N_region")


def _ours(des):
    out = {}
    for var in ("share", "small", "paid_coord"):
        for g in ("all", "CR", "ICL"):
            dom = None if g == "all" else (des.data["type"] == g).to_numpy()
            m = E.mean(des, var, domain=dom)
            lo, hi = intervals.logit_interval([m["estimate"]], [m["se"]], [m["df"]])
            out[f"{var}|{g}"] = {"estimate": m["estimate"], "se": m["se"], "df": m["df"], "ci": [lo[0], hi[0]]}
    return out


def _compare(ours, golden):
    assert set(ours) == set(golden)
    for name, g in golden.items():
        o = ours[name]
        for key, rel in (("estimate", 1e-6), ("se", 1e-9), ("df", 1e-9)):
            assert o[key] == pytest.approx(g[key], rel=rel), (name, key)
        assert o["ci"] == pytest.approx(g["ci"], rel=1e-6), name


def test_logit_interval_matches_r_golden(fixture, root):
    _compare(_ours(fixture), json.loads((root / GOLDEN).read_text()))


def test_logit_interval_matches_r_live(fixture, root, tmp_path):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed: compared with the committed golden file only")
    out = tmp_path / "intervals.json"
    subprocess.run(["Rscript", "tests/golden/intervals.R", str(out)], cwd=root, check=True, timeout=120)
    fresh = json.loads(out.read_text())
    _compare(_ours(fixture), fresh)
    _compare(fresh, json.loads((root / GOLDEN).read_text()))  # the committed golden file is current


def test_t_interval_leaves_bounds_where_logit_does_not(fixture):
    m = E.mean(fixture, "small", domain=(fixture.data["type"] == "ICL").to_numpy())
    assert m["ci_low"] < 0  # the t interval is impossible for a share
    lo, hi = intervals.logit_interval([m["estimate"]], [m["se"]], [m["df"]])
    assert 0 < lo[0] < m["estimate"] < hi[0] < 1


def test_logit_interval_edges():
    lo, hi = intervals.logit_interval([0.0, 1.0, 0.3, np.nan, 0.4, 0.5], [0.0, 0.0, 0.0, 0.1, 0.1, 0.1],
                                      [10, 10, 10, 10, 0, np.inf])
    assert list(lo[:3]) == [0.0, 1.0, 0.3] and list(hi[:3]) == [0.0, 1.0, 0.3]
    assert np.isnan(lo[3]) and np.isnan(hi[4])
    assert 0 < lo[5] < 0.5 < hi[5] < 1 and lo[5] == pytest.approx(1 - hi[5])


def test_every_derivation_has_a_unit():
    assert set(indicators.DERIVATIONS) <= set(intervals.UNIT_OF_DERIVATION)
    spec_units = intervals.units(indicators.load_spec())
    assert spec_units["service_breadth"] == "share" and spec_units["council_dependency"] == "share"
    assert spec_units["months_of_reserves"] == "months" and spec_units["universal_offer_score"] == "score"


def test_units_from_definitions():
    spec = {"indicators": {
        "a": {"kind": "mean", "derive": {"share": "x", "of": ["x", "y"]}},
        "b": {"kind": "mean", "derive": {"count": ["x", "y"], "divide_by": 2}},
        "c": {"kind": "mean", "derive": {"count": ["x", "y"]}},
        "d": {"kind": "mean", "derive": {"mean_score": ["q"]}},
        "e": {"kind": "mean", "derive": {"ratio": ["x", "y"], "multiplier": 12}},
        "f": {"kind": "proportion", "derive": {"equals": "q", "values": ["y"]}},
        "g": {"kind": "mean", "derive": {"diversity": ["x", "y"]}},
        "h": {"kind": "mean", "derive": {"source": "x"}, "unit": "share"},
    }}
    assert intervals.units(spec) == {"a": "share", "b": "share", "c": "number", "d": "score", "e": "months",
                                     "f": "share", "g": "index", "h": "share"}
    with pytest.raises(ValueError):
        intervals.unit_of({"unit": "furlongs"})


def test_bound_shares_replaces_t_intervals_of_share_means(fixture):
    spec = {"indicators": {"small": {"kind": "mean", "derive": {"source": "small"}, "unit": "share"},
                           "hours": {"kind": "mean", "derive": {"source": "hours"}}}}
    rows = []
    for ind in ("small", "hours"):
        m = E.mean(fixture, ind, domain=(fixture.data["type"] == "ICL").to_numpy())
        rows.append({"indicator": ind, "label": ind, **m, "method": "weighted mean, linearised SE, t interval on design df"})
    rows = pd.DataFrame(rows)
    out = intervals.bound_shares(rows, spec=spec)
    assert list(out.columns[:3]) == ["indicator", "label", "unit"]
    assert out.loc[0, "ci_low"] > 0 and "logit" in out.loc[0, "method"]
    assert out.loc[1, ["ci_low", "ci_high"]].tolist() == rows.loc[1, ["ci_low", "ci_high"]].tolist()
    assert intervals.check_bounds(out).empty
    assert len(intervals.check_bounds(rows.assign(unit=["share", "number"]))) == 1
