"""Incremental reruns of the demo wave pipeline: nothing changed, one step's parameter changed (slow)."""
import json
import shutil

import pytest

from cmlkit.run import run_pipeline
from cmlkit.run_graph import downstream, load_pipeline
from conftest import DEMO_OVERRIDES, demo_inputs, tree_digest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wave_run")]


def _rerun(root, demo_wave, wave_outputs, overrides=None):
    out, _ = demo_wave
    return run_pipeline(root / "pipelines" / "wave.yml", instrument="cml_library", wave="2025w1", inputs=demo_inputs(out),
                        overrides={**DEMO_OVERRIDES, **(overrides or {})}, outputs_root=wave_outputs, root=root,
                        echo=lambda *_: None)


def _statuses(run):
    return {s["name"]: s["status"] for s in json.loads((run / "run.json").read_text())["steps"]}


def _published(run):
    digest = tree_digest(run, exclude=("notebooks",))
    return {k: v for k, v in digest.items() if k.startswith(("data/", "tables/", "private/", "figures/"))}


def test_rerun_with_nothing_changed_reuses_every_step_with_the_bytes_of_a_full_run(finished_run, forced_run, root, demo_wave,
                                                                                   wave_outputs):
    run = _rerun(root, demo_wave, wave_outputs)
    record = json.loads((run / "run.json").read_text())
    assert set(_statuses(run).values()) == {"reused"}
    assert {s["reused_from"] for s in record["steps"]} <= {finished_run.name, forced_run.name}
    assert all(s["note"].startswith("reused from ") for s in record["steps"])
    assert record["status"] == "ok" and record["products"] and record["row_accounting"]
    full = _published(forced_run)                       # every step executed
    assert len(full) > 50 and _published(run) == full


def test_changing_a_parameter_of_step_60_reruns_only_step_60(finished_run, forced_run, root, demo_wave, wave_outputs, tmp_path):
    spec = tmp_path / "risk.yml"
    shutil.copy(root / "research" / "risk.yml", spec)     # same content, another file: the parameter's value changes
    run = _rerun(root, demo_wave, wave_outputs, overrides={"at_risk_libraries.spec_path": str(spec)})
    statuses = _statuses(run)
    rerun = downstream(load_pipeline(root / "pipelines" / "wave.yml"), ["at_risk_libraries"])
    assert statuses["at_risk_libraries"] == "ok"
    # steps after it re-execute only if its files changed (here they did not: same specification, same bytes)
    assert {n for n, s in statuses.items() if s == "ok"} <= rerun
    assert {n for n, s in statuses.items() if s == "reused"} >= set(statuses) - rerun
    assert set(statuses.values()) <= {"ok", "reused"}
    assert _published(run) == _published(forced_run)    # same specification: the same bytes as a full run
