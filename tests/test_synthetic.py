import numpy as np
import pandas as pd

from cmlkit.ingest import read_export
from cmlkit.instrument import load_instrument
from cmlkit.synthetic.wave import EXPECTED, make_wave, render_raw
from conftest import tree_digest


def test_same_seed_writes_identical_files(tmp_path):
    make_wave(tmp_path / "a", seed=7, n_community=120)
    make_wave(tmp_path / "b", seed=7, n_community=120)
    make_wave(tmp_path / "c", seed=8, n_community=120)
    a, b, c = (tree_digest(tmp_path / x) for x in "abc")
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_demo_wave_has_the_documented_shape(demo_wave):
    out, m = demo_wave
    assert m["n_in_scope"] == 480
    assert 0.4 < m["n_cml_library_genuine"] / 480 < 0.6
    frame = pd.read_csv(out / "frame.csv")
    assert set(frame["operation_23"]) == {"LA", "LAU", "C", "CR", "ICL", "Closed"}
    assert frame["region"].nunique() == 9
    vol = pd.read_csv(out / "truth" / "cml_volunteer_clean.csv")
    per_lib = vol.groupby("library_id").size()
    assert per_lib.between(3, 10).all()
    errors = pd.read_csv(out / "truth" / "cml_library_errors.csv")
    assert set(errors["kind"]) == set(EXPECTED)  # every kind of error is injected in the demo


def _as_cells(frame, inst):
    cells = {}
    for q in inst.question_ids:
        cells[q] = frame[q].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else
                                (" ".join(v) if isinstance(v, tuple) else str(v)))
    return pd.DataFrame(cells, index=frame.index)


def test_ground_truth_lists_every_injected_error(demo_wave, root):
    """Every cell where the export differs from the rendered truth is an error in the list, and vice versa."""
    out, _ = demo_wave
    for instrument in ("cml_library", "cml_volunteer"):
        inst = load_instrument(instrument, "2025w1", root=root)
        truth = pd.read_csv(out / "truth" / f"{instrument}_clean.csv", dtype={"respondent_id": "int64"}, keep_default_na=True)
        for col in truth.columns:
            if truth[col].dtype == object:
                truth[col] = truth[col].where(truth[col].notna(), None)
        raw_true = render_raw(truth, inst, start=pd.Series(pd.Timestamp("2025-03-03"), index=truth.index),
                              duration_s=np.full(len(truth), 600), respondent_id=truth["respondent_id"].to_numpy())
        raw_true = raw_true.set_index("_respondent_id")
        export = read_export(out / "exports" / f"{instrument}_surveymonkey.csv", inst)
        export["rid"] = export["response_id"].astype("int64")
        errors = pd.read_csv(out / "truth" / f"{instrument}_errors.csv")
        responses = pd.read_csv(out / "truth" / f"{instrument}_responses.csv")
        extra_rows = set(responses.loc[responses["role"] != "genuine", "respondent_id"])
        assert extra_rows == set(errors.loc[errors["expected"] == "remove", "respondent_id"])
        genuine = export.loc[~export["rid"].isin(extra_rows)].set_index("rid")
        assert len(genuine) == len(truth)
        got, want = _as_cells(genuine, inst), _as_cells(raw_true.loc[genuine.index], inst)
        diff = (got.fillna("\0") != want.fillna("\0"))
        differing = {(int(r), q) for r, q in zip(*np.nonzero(diff.to_numpy()))}
        differing = {(int(genuine.index[r]), inst.question_ids[q]) for r, q in differing}
        listed = set()
        for e in errors.itertuples():
            if e.expected == "remove" or e.kind == "speeder":
                continue
            if e.question in inst.grids:
                listed |= {(e.respondent_id, q) for q in inst.grids[e.question]}
            elif e.kind == "other_matches_choice":
                listed |= {(e.respondent_id, "services"), (e.respondent_id, "services_other")}
            else:
                listed.add((e.respondent_id, e.question))
        assert differing <= listed, sorted(differing - listed)[:5]
        assert len(listed - differing) <= sum(errors["kind"] == "straight_lining") * len(next(iter(inst.grids.values())))
