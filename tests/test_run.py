"""The runner on tiny pipelines: inputs hashed, incremental reuse, run control, parallel steps, threads, status."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cmlkit import progress
from cmlkit.errors import PipelineError, StepFailedError
from cmlkit.run import RunInterrupted, run_pipeline
from cmlkit.run_cache import scan_runs
from cmlkit.run_graph import load_pipeline, notebook_parameters
from run_helpers import ROOT, make_project, notebook


def _run(root, **kw):
    overrides = {"a.cleaning_log": "data/log.csv", "a.taskforce_path": str(root / "data" / "taskforce.csv"), **kw.pop("overrides", {})}
    return run_pipeline(root / "pipelines" / "tiny.yml", instrument="cml_library", wave="2025w1", root=root,
                        inputs={"export": root / "data" / "export.csv"}, overrides=overrides, echo=lambda *_: None, **kw)


def _record(run):
    return json.loads((run / "run.json").read_text())


def _statuses(run):
    return {s["name"]: s["status"] for s in _record(run)["steps"]}


def _files(run):
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and p.name != "run.json" and "notebooks" not in p.parts}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def first(project):
    return _run(project, jobs=2)


def test_notebook_parameters_match_papermill():
    import papermill as pm

    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        ours, theirs = notebook_parameters(nb), pm.inspect_notebook(str(nb))
        assert list(ours) == list(theirs), nb
        assert {k: v["default"] for k, v in ours.items()} == {k: v["default"] for k, v in theirs.items()}, nb


def test_steps_command_lists_parameters_inputs_and_products():
    res = subprocess.run([sys.executable, "-m", "cmlkit", "steps", "pipelines/wave.yml"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    spec = load_pipeline(ROOT / "pipelines" / "wave.yml")
    for step in spec["steps"]:
        assert f"{step['name']}  [{step['notebook']}]" in res.stdout
        for pname, prod in step["products"].items():
            assert f"product  {pname} -> {prod['path']}" in res.stdout
    assert "--set governance_stability.bootstrap = 100 (pipeline)" in res.stdout
    assert "library_export (required)" in res.stdout
    res = subprocess.run([sys.executable, "-m", "cmlkit", "steps", "pipelines/nope.yml"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "pipelines/nope.yml" in res.stderr


def test_every_input_is_hashed(first, project):
    rec = _record(first)
    assert rec["status"] == "ok" and set(_statuses(first).values()) == {"ok"}
    for rel in ("data/log.csv", "data/taskforce.csv", "research/disclosure.yml", "survey_instruments/cml_library/waves/2025w1.yaml"):
        from cmlkit.run import sha256_file

        assert rec["files_read"][rel]["sha256"] == sha256_file(project / rel), rel
    assert rec["inputs"]["a.cleaning_log"]["sha256"] == sha256_file(project / "data" / "log.csv")
    assert rec["inputs"]["export"]["sha256"] == sha256_file(project / "data" / "export.csv")
    assert "research/governance.yml" not in rec["files_read"]          # only what was actually read
    assert {"cmlkit.instrument", "cmlkit.research"} <= set(rec["cmlkit_modules"])
    assert rec["git"]["dirty"] is False


@pytest.mark.parametrize("rel", ["data/export.csv", "data/log.csv", "data/taskforce.csv", "research/disclosure.yml",
                                 "survey_instruments/cml_library/waves/2025w1.yaml"])
def test_one_byte_of_any_input_changes_run_json(first, project, rel):
    path = project / rel
    before = path.read_bytes()
    try:
        i = max(before.rindex(d) for d in (b"%d" % n for n in range(10)) if d in before)   # the last digit: still valid
        path.write_bytes(before[:i] + b"%d" % ((before[i] - 48 + 1) % 10) + before[i + 1:])
        run = _run(project, jobs=2)
    finally:
        path.write_bytes(before)
    old, new = _record(first), _record(run)
    assert _statuses(run)["a"] == "ok"                    # a read the file: executed again, not reused
    assert new["files_read"][rel]["sha256"] != old["files_read"][rel]["sha256"]


def test_untracked_file_read_makes_the_run_dirty(first, project):
    spec = project / "research" / "disclosure_draft.yml"
    spec.write_text((project / "research" / "disclosure.yml").read_text(), encoding="utf-8")
    nb = project / "notebooks" / "d.ipynb"
    notebook(nb, 'spec_path = "research/disclosure_draft.yml"', "from cmlkit import research\nresearch.read_spec('x', spec_path)")
    pipe = project / "pipelines" / "draft.yml"
    pipe.write_text("name: draft\nsteps:\n  - {name: d, notebook: notebooks/d.ipynb}\n", encoding="utf-8")
    try:
        run = run_pipeline(pipe, instrument="cml_library", wave="2025w1", root=project, echo=lambda *_: None)
    finally:
        for p in (spec, nb, pipe):
            p.unlink()
    git = _record(run)["git"]
    assert git["dirty"] is True and "research/disclosure_draft.yml" in git["untracked_read"]


def test_rerun_with_nothing_changed_reuses_every_step(first, project):
    run = _run(project, jobs=2)
    rec = _record(run)
    assert set(_statuses(run).values()) == {"reused"}
    assert {s["reused_from"] for s in rec["steps"]} == {first.name}
    assert all(s["note"] == f"reused from {first.name}" for s in rec["steps"])
    assert _files(run) == _files(first)


def test_changed_parameter_reruns_only_that_step_and_matches_a_full_run(first, project):
    part = _run(project, jobs=2, overrides={"c.title": "Other"})
    assert _statuses(part) == {"a": "reused", "b": "reused", "c": "ok"}
    full = _run(project, jobs=2, overrides={"c.title": "Other"}, force=True)
    assert set(_statuses(full).values()) == {"ok"}
    assert _files(part) == _files(full)                 # same bytes as a full run
    assert _files(part)["figures/c.txt"].startswith(b"Other")
    forced = _run(project, jobs=2, force_steps=["b"])
    assert _statuses(forced) == {"a": "reused", "b": "ok", "c": "reused"}
    with pytest.raises(PipelineError, match="--force-step 'z'"):
        _run(project, force_steps=["z"])


def test_from_and_only_take_earlier_steps_from_the_latest_run(first, project):
    only = _run(project, jobs=1, only="b")
    assert _statuses(only) == {"a": "reused", "b": "ok", "c": "skipped"}
    assert "--from/--only" in _record(only)["steps"][0]["note"]
    frm = _run(project, jobs=1, from_step="b")
    assert _statuses(frm) == {"a": "reused", "b": "ok", "c": "ok"}
    with pytest.raises(PipelineError, match="--from 'nope'"):
        _run(project, from_step="nope")


def test_independent_steps_run_in_parallel_with_their_share_of_threads(first):
    steps = {s["name"]: s for s in _record(first)["steps"]}
    from datetime import datetime

    def span(s):
        t0 = datetime.fromisoformat(s["started_utc"]).timestamp()
        return t0, t0 + s["duration_s"]

    (b0, b1), (c0, c1) = span(steps["b"]), span(steps["c"])
    assert b0 < c1 and c0 < b1                                   # b and c overlapped
    assert _record(first)["jobs"] == 2
    threads = _record(first)["threads_per_kernel"]
    assert (first / "tables" / "b.txt").read_text().endswith(f"threads={threads}")
    assert threads == max(1, _record(first)["cpus_available"] // 2)


def _sleeping_project(tmp_path, body):
    root = make_project(tmp_path, git=False)
    notebook(root / "notebooks" / "s.ipynb", 'output_dir = "out"', body)
    (root / "pipelines" / "sleep.yml").write_text("name: sleep\nsteps:\n  - {name: s, notebook: notebooks/s.ipynb}\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_says_interrupted(tmp_path, sig):
    root = _sleeping_project(tmp_path, "import time\nfrom pathlib import Path\nPath(output_dir, 'started').write_text('1')\ntime.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-m", "cmlkit", "run", "pipelines/sleep.yml", "--instrument", "cml_library",
                             "--wave", "2025w1"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(root.glob("outputs/*/*/*/*/started")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("cmlkit:")]
    assert len(lines) == 1 and lines[0].startswith("cmlkit: interrupted") and "s stopped" in lines[0], err
    rec = json.loads(next(root.glob("outputs/*/*/*/*/run.json")).read_text())
    assert rec["status"] == "interrupted" and rec["steps"][0]["status"] == "interrupted"
    assert rec["ended_utc"] and rec["message"]


def test_killed_kernel_fails_the_step(tmp_path):
    root = _sleeping_project(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    with pytest.raises(StepFailedError, match="step 's' failed"):
        run_pipeline(root / "pipelines" / "sleep.yml", instrument="cml_library", wave="2025w1", root=root, echo=lambda *_: None)
    rec = json.loads(next(root.glob("outputs/*/*/*/*/run.json")).read_text())
    assert rec["status"] == "failed" and rec["steps"][0]["status"] == "failed" and rec["message"]


def test_run_left_running_by_a_dead_runner_is_corrected(tmp_path):
    folder = tmp_path / "base" / "20260101T000000Z_abc"
    folder.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    (folder / "run.json").write_text(json.dumps({"run_id": folder.name, "status": "running", "runner_pid": dead.pid,
                                                 "runner_host": socket.gethostname(), "steps": [{"name": "x", "status": "running"}]}))
    scan_runs(tmp_path / "base")
    rec = json.loads((folder / "run.json").read_text())
    assert rec["status"] == "interrupted" and rec["steps"][0]["status"] == "interrupted"


def test_progress_track_writes_to_the_runner_file_or_one_line(tmp_path, monkeypatch):
    import io

    target = tmp_path / "p"
    monkeypatch.setenv(progress.PROGRESS_ENV, str(target))
    assert list(progress.track(range(5), desc="draws")) == list(range(5))
    assert progress.read_progress(target) == {"desc": "draws", "n": 5, "total": 5, "elapsed": pytest.approx(0, abs=5)}
    monkeypatch.delenv(progress.PROGRESS_ENV)
    buf = io.StringIO()
    assert sum(progress.track(iter(range(4)), desc="resamples", stream=buf)) == 6
    assert buf.getvalue().startswith("resamples: 4 in ") and buf.getvalue().count("\n") == 1
    assert progress.remaining_s(elapsed=10, inner={"n": 25, "total": 100, "elapsed": 5.0}) == pytest.approx(15)
    assert progress.remaining_s(elapsed=10, previous_s=30) == 20


def test_kernel_environment_caps_threads():
    from cmlkit.run_kernel import kernel_environment, threads_per_kernel

    assert threads_per_kernel(2, cpus=2) == 1 and threads_per_kernel(1, cpus=8) == 8 and threads_per_kernel(16, cpus=2) == 1
    env = kernel_environment(3)
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"


def test_sequential_and_parallel_runs_give_the_same_bytes(first, project):
    sequential = _run(project, jobs=1, force=True)
    assert set(_statuses(sequential).values()) == {"ok"} and _record(sequential)["jobs"] == 1
    seq, par = _files(sequential), _files(first)        # first ran with --jobs 2
    threads = {k: (seq.pop(k), par.pop(k)) for k in ["tables/b.txt"]}["tables/b.txt"]   # b writes its thread cap
    assert seq == par and threads[0].rsplit(b"threads=", 1)[0] == threads[1].rsplit(b"threads=", 1)[0]


def test_step_order_from_products_and_after(tmp_path):
    spec = load_pipeline(ROOT / "pipelines" / "wave.yml")
    needs = {s["name"]: s["needs"] for s in spec["steps"]}
    names = list(needs)
    assert needs["clean_library"] == [] and needs["weight_library"] == ["clean_library"]
    report = [s for s in spec["steps"] if not s["inputs"]]
    for step in report:                                     # names no inputs: waits for every earlier step
        assert needs[step["name"]] == names[:names.index(step["name"])]
    pipe = tmp_path / "p.yml"
    pipe.write_text("steps:\n  - {name: a, notebook: a.ipynb}\n  - {name: b, notebook: b.ipynb, after: []}\n"
                    "  - {name: c, notebook: c.ipynb}\n  - {name: d, notebook: d.ipynb, after: [b]}\n", encoding="utf-8")
    got = {s["name"]: s["needs"] for s in load_pipeline(pipe)["steps"]}
    assert got == {"a": [], "b": [], "c": ["a", "b"], "d": ["b"]}
    pipe.write_text("steps:\n  - {name: a, notebook: a.ipynb, after: [z]}\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="'after' names 'z'"):
        load_pipeline(pipe)


def test_parallel_steps_leave_the_working_directory_alone(project):
    """Kernels start in the project root without changing this process's directory (threads would race)."""
    before = os.getcwd()
    for _ in range(2):
        _run(project, jobs=2, force=True)
        assert os.getcwd() == before


def test_a_parameter_set_on_the_wrong_step_names_the_step_that_has_it(tmp_path):
    """``--set governance_models.bootstrap`` (the bootstrap moved to governance_stability) says where it went."""
    from cmlkit.errors import UnknownParameterError
    from cmlkit.run_graph import drop_unused_steps, plan_run

    spec, _ = drop_unused_steps(load_pipeline(ROOT / "pipelines" / "wave.yml"), {"library_export", "volunteer_export", "frame"})
    inputs = {}
    for name in ("library_export", "volunteer_export", "frame"):
        inputs[name] = tmp_path / f"{name}.csv"
        inputs[name].write_text("x\n")
    with pytest.raises(UnknownParameterError, match=r"parameter 'bootstrap' is not declared .*it is a parameter of governance_stability$"):
        plan_run(spec, root=ROOT, instrument="cml_library", wave="2025w1", inputs=inputs,
                 overrides={"governance_models.bootstrap": 5})
    plans = plan_run(spec, root=ROOT, instrument="cml_library", wave="2025w1", inputs=inputs,
                     overrides={"governance_stability.bootstrap": 5})
    assert next(p for p in plans if p["step"]["name"] == "governance_stability")["params"]["bootstrap"] == 5


def test_only_refuses_a_run_that_lacks_a_product_the_pipeline_now_declares(first, project):
    """A step that gained a product since the latest run (as governance_models gained fit.json) is not taken from it."""
    import yaml

    spec = yaml.safe_load((project / "pipelines" / "tiny.yml").read_text())
    spec["steps"][0]["products"]["a_more"] = {"param": "taskforce_path", "path": "data/a_more.csv"}
    (project / "pipelines" / "tiny_more.yml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    with pytest.raises(PipelineError, match=r"step 'a': its latest finished run \(.*\) has no data/a_more.csv, which the "
                                            r"pipeline now declares, so --from/--only cannot take its products; use --from a"):
        run_pipeline(project / "pipelines" / "tiny_more.yml", instrument="cml_library", wave="2025w1", root=project,
                     inputs={"export": project / "data" / "export.csv"}, overrides={"a.cleaning_log": "data/log.csv"},
                     echo=lambda *_: None, only="b")


def test_set_refuses_what_the_run_would_not_honour_and_values_of_the_wrong_type(demo_wave, tmp_path):
    """``--set output_dir`` put every file, private ones too, outside the run; ``--set`` of an input's parameter was
    ignored; ``bootstrap=abc`` failed after eight steps; ``steps`` listed a pipeline ``run`` refuses."""
    from cmlkit.errors import UnknownParameterError
    from cmlkit.run_graph import describe_steps, plan_run
    from conftest import demo_inputs

    spec = load_pipeline(ROOT / "pipelines" / "wave.yml")
    inputs = {k: v for k, v in demo_inputs(demo_wave[0]).items() if k in spec["inputs"]}

    def plan(**overrides):
        return plan_run(spec, root=ROOT, instrument="cml_library", wave="2025w1", inputs=inputs, overrides=overrides)

    assert plan(**{"governance_stability.bootstrap": 10, "weight_library.trim_upper": 4.5})
    for key, value, says in [("output_dir", "/tmp/x", "set by the runner (use --outputs)"),
                             ("clean_library.wave", "2026w1", "set by the runner (use --wave)"),
                             ("clean_volunteers.instrument", "cml_user", "is fixed by the pipeline"),
                             ("weight_library.clean_path", "x.parquet", "comes from product 'library_clean' of step 'clean_library'"),
                             ("clean_library.export_path", "x.csv", "comes from input 'library_export' (pass --input library_export=PATH)"),
                             ("governance_stability.bootstrap", "abc", "takes an int (default 100)"),
                             ("governance_stability.bootstrap", 2.5, "takes an int"),
                             ("weight_library.min_cell", True, "takes an int")]:
        with pytest.raises(UnknownParameterError, match=says.replace("(", r"\(").replace(")", r"\)")):
            plan(**{key: value})
    broken = load_pipeline(ROOT / "pipelines" / "wave.yml")
    broken["steps"][0]["params"]["min_cel"] = 5
    with pytest.raises(UnknownParameterError, match="'min_cel' is not declared"):
        describe_steps(broken, root=ROOT)
    broken["steps"][0]["notebook"] = "notebooks/nope.ipynb"
    with pytest.raises(PipelineError, match="notebook not found"):
        describe_steps(broken, root=ROOT)


def test_statistical_parameters_out_of_range_are_refused_not_replaced():
    """``k=0`` fell back to the criterion's choice and ``bootstrap=0`` to 100, each in silence; ``min_cell=-1`` was taken."""
    import pandas as pd

    from cmlkit import cluster_fit, cluster_stability, nonresponse
    from cmlkit.errors import CalibrationError, ClusterFitError

    with pytest.raises(ClusterFitError, match="k = 0"):
        cluster_fit._k_values(0, None, {}, 100)
    assert cluster_fit._k_values(3, None, {}, 100) == [3]
    with pytest.raises(ClusterFitError, match="bootstrap = 0"):
        cluster_stability.clusterboot(pd.DataFrame({"library_id": ["a"]}), None, {"clustering": {}}, B=0)
    with pytest.raises(CalibrationError, match="min_cell = -1"):
        nonresponse.weight_responses(pd.DataFrame(), pd.DataFrame(), min_cell=-1)


def test_a_pipeline_refuses_a_run_filed_under_another_instrument(tmp_path):
    """``--instrument cml_volunteer`` on the wave pipeline filed a library run under cml_volunteer; it is refused at once."""
    with pytest.raises(PipelineError, match="runs on instrument 'cml_library' .* not 'cml_volunteer'"):
        run_pipeline(ROOT / "pipelines" / "wave.yml", instrument="cml_volunteer", wave="2025w1", inputs={},
                     outputs_root=tmp_path, root=ROOT, echo=lambda *_: None)
    assert not any(tmp_path.iterdir())
