"""The trend pipeline over two finished wave runs: products, panel linkage, drift and bad input.

The two wave runs are written directly (weighted data of a synthetic panel, the later wave in the 2026w1
layout through the reviewed crosswalk, each with its frame, response rates and run.json), so the trend
pipeline itself runs through papermill without rerunning ten wave notebooks twice.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from cmlkit.synthetic import change_study as S
from cmlkit import cli, crosswalk, harmonise, nonresponse, tables, waves
from cmlkit.synthetic import panel as SP
from cmlkit.errors import PipelineError
from cmlkit.run import run_pipeline, sha256_file
from cmlkit.run_record import preflight_inputs

LIB = "cml_library"


def _write_run(root, wave, data, frame, scope, status="ok"):
    run = root / LIB / wave / "wave" / "RUN1"
    (run / "data" / LIB).mkdir(parents=True)
    weighted = tables.write_parquet(data, run / "data" / LIB / "weighted.parquet")
    frame_path = run.parent / "frame.csv"
    frame.to_csv(frame_path, index=False)
    rates = nonresponse.response_rates(scope, data[["library_id"]])
    tables.write_csv(rates, run / "tables" / "weighting" / "response_rates.csv")
    record = {"pipeline": "wave", "instrument": LIB, "wave": wave, "run_id": "RUN1", "status": status,
              "inputs": {"frame": {"path": str(frame_path), "sha256": sha256_file(frame_path)}},
              "products": {"library_weighted": {"path": str(weighted.relative_to(run)), "sha256": sha256_file(weighted)}}}
    (run / "run.json").write_text(json.dumps(record))
    # what notebooks 40 and 60 leave behind: cluster profiles and the private priority list
    shares = data.groupby("paid_staff")[["council_grant"]].agg(lambda s: (s == "yes").mean()).reset_index()
    profiles = pd.DataFrame({"cluster": range(len(shares)), "name": shares["paid_staff"] + " model",
                             "council_grant (share)": shares["council_grant"],
                             "paid (share)": (shares["paid_staff"] != "none").astype(float)})
    tables.write_csv(profiles.sample(frac=1, random_state=len(wave)).reset_index(drop=True), run / "tables" / "governance" / "profiles.csv")
    score = data["reserves"].rank(pct=True).fillna(0.5).to_numpy()   # the plain headers notebook 60 writes
    prio = pd.DataFrame({"Priority": pd.Series(score).rank(ascending=False, method="min").astype(int),
                         "Risk level": pd.cut(score, [-1, 0.5, 0.8, 2], labels=["Low", "Medium", "High"]).astype(str),
                         "Risk score": score, "Library id": data["library_id"].to_numpy()})
    tables.write_csv(prio, run / "private" / "risk" / "priority_list.csv")
    (run.parent / "LATEST").write_text("RUN1\n")
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    panel = S.panel_populations(5, n_community=220)
    a, b = panel["inst_a"], panel["inst_b"]
    cw = crosswalk.read_crosswalk(crosswalk.crosswalk_path(waves.instrument_folder(LIB), a.version, b.version))
    drawn = S.draw_waves(panel, random_state=6)
    (wa, da, sa), (wb, db, sb) = drawn
    db = SP.to_layout(db, a, b, cw, random_state=7)
    ra = _write_run(root, wa, da, panel["frame_a"], sa)
    rb = _write_run(root, wb, db, panel["frame_b"], sb)
    manifest = harmonise.write_manifest(LIB, [wa, wb], root / "trend_runs.yml", outputs_root=root)
    return {"root": root, "a": ra, "b": rb, "manifest": manifest, "waves": [wa, wb], "panel": panel}


def test_manifest_lists_latest_runs_relative(runs):
    spec = yaml.safe_load(runs["manifest"].read_text())
    assert spec["instrument"] == LIB and len(spec["runs"]) == 2 and not spec["runs"][0].startswith("/")
    assert [p.resolve() for p in harmonise.read_manifest(runs["manifest"])] == [runs["a"].resolve(), runs["b"].resolve()]


def test_trend_pipeline_writes_findings_panel_drift_and_figures(runs, tmp_path):
    out = run_pipeline("pipelines/trend.yml", instrument=LIB, wave=runs["waves"][-1], inputs={"runs": str(runs["manifest"])},
                       outputs_root=tmp_path, echo=lambda *_: None)
    f = pd.read_csv(out / "tables" / "trend" / "findings.csv")
    assert (out / "tables" / "trend" / "findings.xlsx").stat().st_size > 0
    comp = pd.read_csv(out / "tables" / "trend" / "comparability.csv").set_index("indicator")
    assert comp.loc["service_breadth", "status"] == "common_items" and "warm_space" in comp.loc["service_breadth", "reason"]
    assert comp.loc["months_of_reserves", "status"] == "comparable"          # reserves renamed, reviewed
    overall = f.loc[f["breakdown"] == "overall"].set_index("indicator")
    assert overall["n_both"].gt(0).all()
    assert (overall["se"] < overall["se_independent"]).all()
    assert set(f["breakdown"]) == {"overall", "type", "region"}
    panel = pd.read_csv(out / "tables" / "trend" / "panel_status.csv")
    assert {"both", "entered", "left"} <= set(panel["status"])
    assert {"closed", "non-response", "new to scope"} <= set(panel["reason"].dropna())
    private = pd.read_csv(out / "private" / "trend" / "panel_status.csv")
    assert private["library_id"].nunique() == len(private)
    drift = pd.read_csv(out / "tables" / "trend" / "drift_items.csv").set_index("canonical")
    assert drift.loc["service_change", "shift_measure"] == "total variation distance"
    assert pd.isna(drift.loc["volunteer_hours_week", "shift"])
    figs = sorted(p.name for p in (out / "figures" / "trend").glob("*.png"))
    assert any(n.startswith("change_paid_coordinator") for n in figs)
    assert any(n.startswith("slope_months_of_reserves") for n in figs) and any(n.startswith("slope_sustainability") for n in figs)
    alt = (out / "figures" / "trend" / figs[0]).with_suffix(".txt").read_text()
    assert "95% interval" in alt
    for p in (out / "tables").rglob("*.csv"):
        assert "contact_email" not in p.read_text()
    matching = pd.read_csv(out / "tables" / "trend" / "cluster_matching.csv")
    assert (matching["status"] == "matched").any()
    same = matching.loc[matching["status"] == "matched"]
    assert (same["name_new"] == same["name_previous"]).all()      # same profiles, shuffled cluster numbers
    prio = pd.read_csv(out / "private" / "trend" / "priority_list_with_previous.csv")
    assert {"Previous risk level", "Previous risk score", "Change in risk level"} <= set(prio.columns)
    assert (prio["Change in risk level"] == "new").any() and prio["Previous risk level"].notna().any()
    assert not (out / "tables" / "trend" / "priority_list_with_previous.csv").exists()


def _trend(manifest, tmp_path, capsys, wave="2026w1", extra=()):
    code = cli.main(["run", "pipelines/trend.yml", "--instrument", LIB, "--wave", wave, "--input", f"runs={manifest}",
                     "--outputs", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def _manifest(tmp_path, runs_list):
    m = tmp_path / "m.yml"
    m.write_text(yaml.safe_dump({"runs": [str(r) for r in runs_list]}))
    return m


def _no_findings(tmp_path):
    return not list((tmp_path / "out").rglob("findings.csv"))


def test_waves_in_the_wrong_order_are_one_line(runs, tmp_path, capsys):
    code, line = _trend(_manifest(tmp_path, [runs["b"], runs["a"]]), tmp_path, capsys)
    assert code == 2 and "not in time order" in line and _no_findings(tmp_path)


def test_a_failed_run_is_one_line(runs, tmp_path, capsys):
    bad = tmp_path / "failed"
    shutil.copytree(runs["a"], bad)
    rec = json.loads((bad / "run.json").read_text())
    (bad / "run.json").write_text(json.dumps({**rec, "status": "failed"}))
    code, line = _trend(_manifest(tmp_path, [bad, runs["b"]]), tmp_path, capsys)
    assert code == 2 and "did not finish" in line and _no_findings(tmp_path)


def test_a_run_missing_its_product_is_one_line(runs, tmp_path, capsys):
    bad = tmp_path / "missing"
    shutil.copytree(runs["a"], bad)
    (bad / "data" / LIB / "weighted.parquet").unlink()
    code, line = _trend(_manifest(tmp_path, [bad, runs["b"]]), tmp_path, capsys)
    assert code == 2 and "library_weighted" in line and _no_findings(tmp_path)


def test_runs_of_different_instruments_are_one_line(runs, tmp_path, capsys):
    bad = tmp_path / "other"
    shutil.copytree(runs["a"], bad)
    rec = json.loads((bad / "run.json").read_text())
    (bad / "run.json").write_text(json.dumps({**rec, "instrument": "cml_volunteer"}))
    code, line = _trend(_manifest(tmp_path, [bad, runs["b"]]), tmp_path, capsys)
    assert code == 2 and "different instruments" in line and _no_findings(tmp_path)


def test_an_unreviewed_mapping_the_trend_needs_is_one_line(runs, tmp_path, capsys):
    cw = pd.read_csv(crosswalk.crosswalk_path(waves.instrument_folder(LIB), *runs["waves"]), dtype=str, keep_default_na=False)
    cw.loc[cw["canonical"] == "reserves", "reviewed"] = ""
    (tmp_path / "cw").mkdir()
    cw.to_csv(tmp_path / "cw" / f"{runs['waves'][0]}_{runs['waves'][1]}.csv", index=False)
    code, line = _trend(runs["manifest"], tmp_path, capsys, extra=("--set", f"crosswalk_dir={tmp_path / 'cw'}"))
    assert code == 2 and "'reserves'" in line and "not reviewed" in line and _no_findings(tmp_path)


def test_waves_runs_without_a_finished_run_is_one_line(tmp_path, capsys):
    assert cli.main(["waves", "runs", "--instrument", LIB, "2025w1", "2026w1", "--outputs", str(tmp_path),
                     "--out", str(tmp_path / "m.yml")]) == 2
    err = capsys.readouterr().err
    assert "no finished wave run" in err and err.count("\n") == 1 and not (tmp_path / "m.yml").exists()


def test_an_unknown_input_check_is_one_line(tmp_path):
    with pytest.raises(PipelineError, match="input 'runs': unknown check 'nope'"):
        preflight_inputs({"inputs": {"runs": {"check": "nope"}}}, {"runs": tmp_path / "m.yml"}, "2026w1", tmp_path, [])
