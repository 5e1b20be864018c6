"""The weighted product carries its design: saved, loaded and replayed, it gives the calibrated design's SEs."""
import json

import numpy as np
import pandas as pd
import pytest

from cmlkit import design as D
from cmlkit import estimates as E
from cmlkit import findings as Fd
from cmlkit import frame as F
from cmlkit import link
from cmlkit import nonresponse as NR
from cmlkit import tables
from cmlkit import weighted as Wd
from cmlkit.synthetic.wave import make_wave


@pytest.fixture(scope="module")
def wave(tmp_path_factory):
    out = tmp_path_factory.mktemp("weightedwave")
    make_wave(out, seed=41, platforms=("singleheader",), instruments=("cml_library",))
    scope = F.in_scope(F.load_frame(out / "frame.csv"))
    truth = pd.read_csv(out / "truth" / "cml_library_clean.csv").rename(columns={"respondent_id": "response_id"})
    links = link.link_responses(truth, scope)
    return scope, truth.assign(library_id=links["library_id"].to_numpy())


@pytest.mark.parametrize("method,kw", [("rake", {"trim_upper": 3.0}), ("poststratify", {}), ("linear", {"auxiliaries": ["hours"]})])
def test_load_weighted_replays_the_calibrated_design(wave, tmp_path, method, kw):
    scope, resp = wave
    if kw.get("auxiliaries") and "hours" not in scope:
        pytest.skip("frame has no hours column")
    des, _ = NR.weight_responses(resp, scope, method=method, **kw)
    path = tables.write_parquet(des.data, tmp_path / "weighted.parquet")      # as notebook 20 writes it
    back = Wd.load_weighted(path)
    assert np.allclose(back.weights, des.weights, rtol=1e-12, atol=0)
    y = (des.data["type"] == "CR").astype(float).to_numpy()
    a, b = E.total(des, y), E.total(back, y)
    assert b["se"] == pytest.approx(a["se"], rel=1e-10)
    fixed = D.svydesign(des.data, weights="weight", strata="region", fpc="N_region", lonely_psu="certainty")
    assert E.total(fixed, y)["se"] > 1.2 * b["se"]     # calibrated to type counts: a fixed-weight design overstates it
    via_findings = Fd.design_of(tables.read_table(path), data=pd.DataFrame({"y": y}))
    assert E.total(via_findings, "y")["se"] == pytest.approx(a["se"], rel=1e-10)
    steps = json.loads(des.data.attrs[Wd.ATTR])["steps"]
    assert [s["kind"] for s in steps] == (["poststratify"] if method == "poststratify" else ["calibrate"]) + (["trim"] if "trim_upper" in kw else [])


def test_sidecar_and_refusals(wave, tmp_path):
    scope, resp = wave
    des, _ = NR.weight_responses(resp, scope, method="rake")
    path = Wd.save_weighted(des, tmp_path / "w.parquet")
    assert json.loads((tmp_path / "w.design.json").read_text())["svydesign"]["strata"] == "region"
    assert np.allclose(Wd.load_weighted(path).weights, des.weights, rtol=1e-12)
    bare = des.data.copy()
    bare.attrs = {}
    with pytest.raises(D.DesignError, match="carries no design recipe"):
        Wd.rebuild(bare)
    tampered = des.data.assign(weight=des.data["weight"] * 1.01)
    with pytest.raises(D.DesignError, match="does not reproduce column 'weight'"):
        Wd.rebuild(tampered)
