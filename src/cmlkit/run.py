"""A strict, incremental, interruptible runner over papermill.

The pipeline YAML (see :mod:`cmlkit.run_graph`) names notebooks, inputs, products and fixed
parameters. Every parameter is checked against the notebook's declared parameters and unknown ones
are refused before anything runs. Each run goes to ``outputs/<instrument>/<wave>/<pipeline>/<run_id>/``
(``run_id`` = UTC time + git sha, with ``_dirty`` when the tree has uncommitted changes), never
overwriting, with ``run.json`` recording code version, package versions, parameters as injected,
the sha256 of every input (named inputs, files named by parameters, and every instrument, rules,
research or override file a step actually read), the source hash of every cmlkit module a step
imported, each step's status and timing, and the products.

* **Incremental**: a step whose notebook, parameters, inputs, files read and cmlkit source are
  unchanged is not executed again: its files are copied from the earlier run and ``run.json`` says
  ``reused from <run id>`` (:mod:`cmlkit.run_cache`). ``force`` / ``force_steps`` override.
* **Run control**: ``from_step`` / ``only`` take the earlier steps from the latest run; independent
  steps run in parallel, up to ``jobs`` at a time, each kernel with its share of the CPUs as threads.
* **Honest status**: a failing step keeps its partial notebook, is marked ``failed`` and the run
  stops with a one-line message; Ctrl-C or SIGTERM stops every kernel and leaves ``interrupted``;
  a killed kernel is a ``failed`` step. ``run.json`` never says ``running`` once the runner is gone.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import queue
from contextlib import contextmanager
from pathlib import Path

import yaml

from cmlkit import progress as P
from cmlkit import run_cache as C
from cmlkit.errors import PipelineError, StepFailedError
from cmlkit.instrument import find_root, load_instrument
from cmlkit.run_graph import drop_unused_steps, load_pipeline, plan_run, select_steps
from cmlkit.run_schedule import start_order
from cmlkit.run_kernel import available_cpus, execute_step, stop_all_kernels, threads_per_kernel
from cmlkit.run_record import as_file, finish_run, new_run_dir, preflight_inputs, utc_now, write_json_atomic
from cmlkit.runlog import read_log
from cmlkit.yaml_text import load_yaml

sha256_file = C.sha256_file          # kept here: other modules and tests import it from cmlkit.run
git_state = C.git_state
PACKAGE_DIR = Path(__file__).resolve().parent


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or SIGTERM; the message names the run folder."""


def _coerce(text: str):
    """Read a ``--set`` value as YAML (numbers, booleans, null, lists) or keep it as a string."""
    try:
        return load_yaml(text)
    except yaml.YAMLError:
        return text


def run_pipeline(pipeline, *, instrument: str, wave: str, inputs: dict | None = None, overrides: dict | None = None,
                 outputs_root=None, root=None, kernel_name: str = "python3", echo=print, force: bool = False,
                 force_steps=(), from_step: str | None = None, only: str | None = None, jobs: int | None = None,
                 tty: bool | None = False) -> Path:
    """Run a pipeline and return its run folder.

    The run folder is ``<outputs_root>/<instrument>/<wave>/<pipeline name>/<run_id>`` (see
    :func:`new_run_dir`); its ``run.json`` is rewritten as the run goes and says ``ok``, ``failed`` or
    ``interrupted`` at the end. When every step ended ``ok`` or ``reused``, the pipeline's ``LATEST``
    file is set to this run.

    Parameters
    ----------
    pipeline : path-like
        Pipeline YAML.
    instrument, wave : str
        Identify the run (output folder) and are passed to notebooks that declare them.
    inputs : dict
        Named input -> path.
    overrides : dict
        ``name`` or ``step.name`` -> value, for declared parameters only.
    outputs_root : path-like, optional
        Defaults to ``<root>/outputs``.
    root : path-like, optional
        Project root (notebooks run with it as working directory); default: found from the working
        directory (:func:`cmlkit.instrument.find_root`).
    kernel_name : str
        Jupyter kernel each step runs in (default ``"python3"``).
    echo : callable
        Where progress lines go when there are no bars (default ``print``).
    force : bool
        Execute every step even where an earlier run's products could be reused (default False).
    force_steps : iterable of str
        Execute these steps even where their products could be reused (default ``()``).
    from_step, only : str, optional
        Execute this step and those after it (``from_step``) or this step alone (``only``), taking the
        earlier steps' products from the latest run that finished them.
    jobs : int, optional
        Steps run at the same time (default: the CPUs available); each kernel's numerical libraries
        get ``CPUs // jobs`` threads (at least one).
    tty : bool, optional
        Progress bars on stderr (None: when stderr is a terminal; default off, lines through ``echo``).

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    PipelineError
        When the pipeline or its inputs do not check out (see :func:`cmlkit.run_graph.load_pipeline`,
        :func:`cmlkit.run_graph.plan_run`, :func:`cmlkit.run_graph.select_steps`), a ``force_steps`` name
        is not a step, ``from_step``/``only`` need products no earlier run finished, or the steps'
        dependencies form a cycle.
    UnknownParameterError
        When a parameter or override is not declared by the notebook it would go to.
    InstrumentError
        When ``instrument``/``wave`` (or an input's instrument) is unknown, or no project root is found.
    IngestError
        When an input tied to an instrument does not have that instrument's header.
    StepFailedError
        When a step fails; the run is marked ``failed`` and the partial notebook kept.
    RunInterrupted
        On Ctrl-C or SIGTERM: every kernel is stopped and the run marked ``interrupted``.
    """
    root = find_root(root)
    spec = load_pipeline(pipeline)
    load_instrument(instrument, wave, root=root)  # fail early on an unknown instrument/wave
    if spec.get("instrument") not in (None, instrument):   # the pipeline's own instrument: its runs are filed under it
        raise PipelineError(f"pipeline {spec['name']!r} runs on instrument {spec['instrument']!r} (its 'instrument:'), "
                            f"not {instrument!r}: pass --instrument {spec['instrument']}", file=pipeline)
    inputs = {k: str(Path(v).resolve()) for k, v in (inputs or {}).items()}
    overrides = overrides or {}
    spec, skipped = drop_unused_steps(spec, inputs)
    plans = plan_run(spec, root=root, instrument=instrument, wave=wave, inputs=inputs, overrides=overrides)
    to_run, take = select_steps(spec, from_step=from_step, only=only)
    names = [p["step"]["name"] for p in plans]
    for name in force_steps:
        if name not in names:
            raise PipelineError(f"--force-step {name!r}: no such step; steps are {', '.join(names)}")
    forced = set(force_steps) | (to_run if (from_step or only) else set())   # the steps asked for by --from/--only execute
    if jobs is not None and int(jobs) < 1:
        raise PipelineError(f"--jobs {jobs}: steps at once must be at least 1")
    jobs = int(jobs or available_cpus())
    base = Path(outputs_root or root / "outputs") / instrument / wave / spec["name"]
    previous = C.scan_runs(base)
    preflight = preflight_inputs(spec, inputs, wave, root, previous, instrument=instrument)
    git = C.git_state(root)
    run_id, run_dir = new_run_dir(base, git)
    record = {
        "pipeline": spec["name"], "pipeline_file": str(Path(pipeline)), "pipeline_sha256": C.sha256_file(pipeline),
        "instrument": instrument, "wave": wave, "run_id": run_id, "git": git, "started_utc": utc_now().isoformat(),
        "ended_utc": None, "status": "running", "message": None, "runner_pid": os.getpid(), "runner_host": socket.gethostname(),
        "jobs": jobs, "threads_per_kernel": threads_per_kernel(jobs), "cpus_available": available_cpus(),
        "packages": C.package_versions(), "overrides": overrides,
        "control": {"force": bool(force), "force_steps": sorted(force_steps), "from": from_step, "only": only},
        "inputs": {k: {**C.file_entry(v, root=root), "path": v} for k, v in inputs.items()},
        "preflight": preflight, "files_read": {}, "cmlkit_modules": {},
        "steps": [{"name": p["step"]["name"], "notebook": p["step"]["notebook"], "status": "pending"} for p in plans],
        "products": {}, "skipped_steps": skipped,
    }
    runner = _Runner(spec, plans, record, root=root, run_dir=run_dir, inputs=inputs, previous=previous, jobs=jobs,
                     kernel_name=kernel_name, force=force, force_steps=forced, to_run=to_run, take=take,
                     display=P.RunDisplay(len(plans), echo=echo, tty=tty))
    write_json_atomic(run_dir / "run.json", record)
    try:
        with _signals_as_interrupt():
            runner.run()
    except KeyboardInterrupt:
        runner.abort("interrupted")
        raise RunInterrupted(f"run interrupted; {_where(record)}; partial results kept in {run_dir}") from None
    except StepFailedError:
        raise
    except BaseException as exc:
        runner.abort("failed", message=f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        raise
    finally:
        runner.close()
    finish_run(record, root=root, run_dir=run_dir, base=base, products=runner.products)
    return run_dir


def _where(record) -> str:
    stopped = [s["name"] for s in record["steps"] if s["status"] == "interrupted"]
    return f"step(s) {', '.join(stopped)} stopped" if stopped else "no step was running"


@contextmanager
def _signals_as_interrupt():
    """Within the block, SIGINT and SIGTERM raise KeyboardInterrupt (main thread only).

    SIGINT is set explicitly because a process started in the background by a shell inherits it
    ignored, and a ``kill -INT`` must still stop the run cleanly.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, signal.default_int_handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


class _Runner:
    """Schedules the steps of one run: reuse, take from the latest run, or execute in a worker thread."""

    def __init__(self, spec, plans, record, *, root, run_dir, inputs, previous, jobs, kernel_name, force, force_steps,
                 to_run, take, display):
        self.spec, self.plans, self.record = spec, plans, record
        self.root, self.run_dir, self.inputs, self.previous = root, run_dir, inputs, previous
        self.jobs, self.kernel_name, self.force, self.force_steps = jobs, kernel_name, force, force_steps
        self.to_run, self.take, self.display = to_run, take, display
        self.entries = {e["name"]: e for e in record["steps"]}
        self.previous_s = self._previous_durations()   # step -> seconds in the last run that finished it
        self.rank = start_order([p["step"] for p in plans], self.previous_s, jobs=jobs)
        self.index = {p["step"]["name"]: i for i, p in enumerate(plans, start=1)}
        self.products = {}
        for plan in plans:
            for value in plan["params"].values():
                if isinstance(value, tuple) and value[0] == "product":
                    self.products[value[1]] = run_dir / value[2]
        self.scratch = Path(tempfile.mkdtemp(prefix="cmlkit-run-"))
        self.results: queue.Queue = queue.Queue()   # (step name, error, seconds) from the worker threads
        self.running: dict = {}     # step name -> its worker thread (daemon: a stuck kernel never blocks exit)
        self.claimed: set = {"run.json", "run.json.tmp"}
        self.tainted: set = set()
        self.windows: dict = {}     # step name -> [start, end] wall-clock seconds of its execution
        self.failed: StepFailedError | None = None

    # -- scheduling ------------------------------------------------------------------------------
    def run(self):
        done, ready = set(), []
        pending = list(self.plans)
        while pending or ready or self.running:
            for plan in list(pending):
                if self.failed is None and all(n in done for n in plan["step"]["needs"]):
                    pending.remove(plan)
                    if self._settle_without_kernel(plan):
                        done.add(plan["step"]["name"])
                    else:
                        ready.append(plan)
            ready.sort(key=lambda plan: self.rank[plan["step"]["name"]])   # the head of the longest chain first
            while ready and len(self.running) < self.jobs and self.failed is None:
                self._submit(ready.pop(0))
            if not self.running:
                if self.failed is not None or not (pending or ready):
                    break
                if not ready and pending and not any(all(n in done for n in p["step"]["needs"]) for p in pending):
                    raise PipelineError("no step can start: the pipeline's dependencies form a cycle")
                continue
            try:
                name, error, seconds = self.results.get(timeout=0.5)
            except queue.Empty:
                continue
            self.running.pop(name)
            self._collect(name, error, seconds)
            done.add(name)
        for plan in pending + ready:
            self.entries[plan["step"]["name"]]["status"] = "not run"
        self._write()
        if self.failed is not None:
            self.record.update(status="failed", ended_utc=utc_now().isoformat(), message=self.failed.message)
            self._write()
            raise self.failed

    def _settle_without_kernel(self, plan) -> bool:
        """Skip, take from the latest run, or reuse the step; False when it must execute."""
        name = plan["step"]["name"]
        entry = self.entries[name]
        if name not in self.to_run and name not in self.take:
            entry.update(status="skipped", note="after the --only step: not run")
            self._write()
            return True
        params, key_params, input_hashes = self._resolve(plan)
        entry.update(executed_notebook=f"notebooks/{self.index[name]:02d}_{name}.ipynb", parameters=params)
        if name in self.take:
            hit = self._latest_finished(name)
            if hit is None:
                raise PipelineError(f"step {name!r}: no earlier run finished it, so --from/--only cannot take its products; "
                                    "run the whole pipeline first")
            missing = [prod["path"] for prod in plan["step"]["products"].values() if prod["path"] not in hit["entry"]["outputs"]]
            if missing:
                raise PipelineError(f"step {name!r}: its latest finished run ({hit['run_id']}) has no {missing[0]}, which "
                                    f"the pipeline now declares, so --from/--only cannot take its products; use --from {name}")
            self._adopt(name, hit, note=f"taken from {hit['run_id']} (--from/--only; not re-checked)")
            return True
        upstream = {need: C.sha256_json({rel: sha for rel, sha in (self.entries[need].get("outputs") or {}).items()
                                         if not rel.startswith("notebooks/")}) for need in plan["step"]["needs"]}
        key = C.static_key(notebook_sha=C.sha256_file(plan["notebook"]), params=key_params,
                           input_hashes={**input_hashes, "upstream outputs": upstream}, packages=self.record["packages"])
        entry["key"] = key
        if not self.force and name not in self.force_steps:
            hit = C.find_reusable(self.previous, step=name, key=key, root=self.root, package_dir=PACKAGE_DIR, run_dir=self.run_dir)
            if hit is not None:
                self._adopt(name, hit, note=f"reused from {hit['run_id']}")
                return True
        plan["resolved"] = params
        return False

    def _latest_finished(self, name):
        """The newest run that finished step ``name`` with its files intact."""
        for run in self.previous:
            for entry in run["record"].get("steps", []):
                if entry.get("name") == name and entry.get("status") in ("ok", "reused") and entry.get("outputs") and all(
                        (run["dir"] / rel).is_file() for rel in entry["outputs"]):
                    return {"run_id": entry.get("reused_from") or run["run_id"], "dir": run["dir"], "entry": entry}
        return None

    def _adopt(self, name, hit, *, note):
        old = hit["entry"]
        C.copy_outputs(old, hit["dir"], self.run_dir)
        self.claimed.update(old["outputs"])
        entry = self.entries[name]
        keep = ("key", "executed_notebook", "reads", "reads_in_run", "modules", "outputs")
        entry.update({k: old[k] for k in keep if k in old}, status="reused", reused_from=hit["run_id"], note=note,
                     duration_s=0.0, original_duration_s=old.get("original_duration_s", old.get("duration_s")))
        self._write()
        self.display.line(f"[{self.index[name]}/{len(self.plans)}] {name}: {note}")

    def _resolve(self, plan):
        """Parameters as injected, their run-independent form, and the hashes of the files they name."""
        params, key_params, hashes = {}, {}, {}
        for key, value in plan["params"].items():
            if isinstance(value, tuple) and value[0] == "product":
                path = self.run_dir / value[2]
                params[key], key_params[key] = str(path), {"product": value[2]}
            elif isinstance(value, tuple) and value[0] == "input":
                source = value[1]
                path = Path(self.inputs[source]) if source in self.inputs else self.products.get(source)
                params[key] = None if path is None else str(path)
                key_params[key] = {"input": source}
                hashes[key] = C.sha256_file(path) if path is not None and path.is_file() else None
            elif key == "output_dir" and value is None:
                params[key], key_params[key] = str(self.run_dir), "<run folder>"
            else:
                params[key] = key_params[key] = value
                path = as_file(value, self.root)
                if path is not None:
                    hashes[key] = C.sha256_file(path)
                    self.record["inputs"][f"{plan['step']['name']}.{key}"] = C.file_entry(path, root=self.root)
        return params, key_params, hashes

    # -- executing -------------------------------------------------------------------------------
    def _submit(self, plan):
        name = plan["step"]["name"]
        entry = self.entries[name]
        for value in plan["params"].values():
            if isinstance(value, tuple) and value[0] == "product":
                (self.run_dir / value[2]).parent.mkdir(parents=True, exist_ok=True)
        out_nb = self.run_dir / entry["executed_notebook"]
        out_nb.parent.mkdir(parents=True, exist_ok=True)
        self.claimed.add(entry["executed_notebook"])
        entry.update(status="running", started_utc=utc_now().isoformat(), duration_s=None)
        self._write()
        log, prog = self.scratch / f"{name}.log", self.scratch / f"{name}.progress"
        previous_s = self.previous_s.get(name)
        self.display.start(self.index[name], name, progress_file=prog, previous_s=previous_s)
        self.windows[name] = [time.time(), None]
        worker = threading.Thread(target=self._execute, args=(name, plan, out_nb, log, prog), daemon=True,
                                  name=f"cmlkit-step-{name}")
        self.running[name] = worker
        worker.start()

    def _previous_durations(self) -> dict:
        """Seconds each step took when it last finished ok (its original execution when it was reused)."""
        out = {}
        for r in self.previous:
            for e in r["record"].get("steps", []):
                if e.get("status") == "ok" and e.get("name") not in out:
                    out[e["name"]] = e.get("original_duration_s") or e.get("duration_s")
        return out

    def _execute(self, name, plan, out_nb, log, prog):
        t0, error = time.perf_counter(), None
        try:
            execute_step(plan["notebook"], out_nb, plan["resolved"], root=self.root, kernel_name=self.kernel_name,
                         threads=self.record["threads_per_kernel"], runlog=log, progress=prog,
                         kernel_log=self.scratch / f"{name}.kernel.log")
        except StepFailedError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - reported as the step's failure, one line
            error = StepFailedError(f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        self.results.put((name, error, time.perf_counter() - t0))

    def _collect(self, name, error, duration):
        entry = self.entries[name]
        entry["duration_s"] = round(duration, 3)
        seen = self._attribute(name)
        if error is not None:
            entry.update(status="failed", error=error.message)
            self.failed = StepFailedError(f"step {name!r} failed: {error.message}; partial notebook kept at "
                                          f"{self.run_dir / entry['executed_notebook']}")
            self.display.finish(name, f"[{self.index[name]}/{len(self.plans)}] {name} FAILED ({duration:.1f}s): {error.message}")
            self._write()
            return
        inner = P.read_progress(self.scratch / f"{name}.progress")
        entry.update(status="ok", **seen)
        if name in self.tainted:
            entry.pop("key", None)   # files it wrote could not be told apart from a parallel step's: never reused
        self._write()
        extra = f"; {inner['desc']} {inner['n']}/{inner['total'] or inner['n']}" if inner and inner["desc"] else ""
        self.display.finish(name, f"[{self.index[name]}/{len(self.plans)}] {name} ok ({duration:.1f}s{extra})")

    def _attribute(self, name) -> dict:
        """The files the step wrote and read, with hashes, from its kernel log and the run folder."""
        log = C.classify_log(read_log(self.scratch / f"{name}.log"), root=self.root, run_dir=self.run_dir,
                             extra_inputs=[e["path"] if os.path.isabs(e["path"]) else self.root / e["path"]
                                           for e in self.record["inputs"].values()])
        entry = self.entries[name]
        mine = set(log["writes"]) | {entry["executed_notebook"]}
        mine |= {str(p.relative_to(self.run_dir)) for pn, p in self.products.items()
                 if self._producer(pn) == name and p.is_file()}
        # the folder first, the running steps' logs after: a write through Python's open is logged before the
        # file exists, so a file a running step makes between the two is in its log, not taken for a loose one
        files = {str(p.relative_to(self.run_dir)) for p in self.run_dir.rglob("*") if p.is_file()}
        others = set()
        for other in self.running:
            others |= set(C.classify_log(read_log(self.scratch / f"{other}.log"), root=self.root, run_dir=self.run_dir)["writes"])
        self.windows[name][1] = time.time()
        loose = files - self.claimed - mine - others
        for rel in sorted(loose):
            # written outside Python's open (a C library): the step(s) running when it was last modified
            mtime = (self.run_dir / rel).stat().st_mtime
            when = [n for n, (t0, t1) in self.windows.items() if t0 - 1 <= mtime <= (t1 if t1 is not None else time.time()) + 1
                    and (n == name or n in self.running)]
            if when == [name]:
                mine.add(rel)
            elif name in when:
                mine.add(rel)
                self.tainted.update(when)    # cannot tell which parallel step wrote it: none of them is reused later
        self.claimed |= mine
        return {"outputs": {rel: C.sha256_file(self.run_dir / rel) for rel in sorted(mine) if (self.run_dir / rel).is_file()},
                "reads": {rel: C.sha256_file(p) for rel, p in sorted(log["reads"].items())},
                "reads_in_run": {rel: C.sha256_file(self.run_dir / rel) for rel in log["reads_in_run"]
                                 if rel not in mine and rel != "run.json"},   # run.json: the runner's own record
                "modules": C.module_hashes([m for m in log["modules"] if m != "cmlkit.runlog"], PACKAGE_DIR)}

    def _producer(self, product):
        return next((p["step"]["name"] for p in self.plans if product in p["step"]["products"]), None)

    # -- ending ----------------------------------------------------------------------------------
    def abort(self, status, *, message=None):
        """Stop every kernel, wait for the workers, and record ``status`` for the run and its running steps."""
        stop_all_kernels()
        deadline = time.monotonic() + 20
        while self.running and time.monotonic() < deadline:
            try:
                name, _, _ = self.results.get(timeout=0.5)
                self.running.pop(name, None)
            except queue.Empty:
                pass
            except KeyboardInterrupt:
                stop_all_kernels()
        for entry in self.record["steps"]:
            if entry["status"] == "running":
                entry["status"] = status
            elif entry["status"] == "pending":
                entry["status"] = "not run"
        self.record.update(status=status, ended_utc=utc_now().isoformat(),
                           message=message or f"stopped by the user (Ctrl-C or SIGTERM); {_where(self.record)}")
        self._write()

    def close(self):
        self.display.close()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def _write(self):
        write_json_atomic(self.run_dir / "run.json", self.record)


def main_echo(text):
    """Print a progress line to stderr at once (the ``echo`` the command line gives :func:`run_pipeline`).

    Parameters
    ----------
    text : str
        The line, without its newline.
    """
    print(text, file=sys.stderr, flush=True)


