"""A thin, strict runner over papermill.

A pipeline YAML names its notebooks in order, the named inputs a user passes on the command
line, the products each step writes (a notebook parameter that receives a concrete path under the
run folder) and fixed parameters::

    name: wave
    inputs:
      library_export: {instrument: cml_library, required: true, help: raw export of the library survey}
    steps:
      - name: clean_library
        notebook: notebooks/10_clean_responses.ipynb
        params: {instrument: cml_library}
        inputs: {export_path: library_export}            # notebook parameter <- input or product name
        products:
          library_clean: {param: clean_path, path: data/cml_library/clean.parquet}

A step with ``when: <input>`` runs only when that (optional) input is given; otherwise it is listed under
``skipped_steps`` in ``run.json`` and later steps get None for its products. Every parameter is checked against the notebook's declared parameters
(``papermill.inspect_notebook``) and unknown ones are refused before anything runs. Each run goes
to ``outputs/<instrument>/<wave>/<pipeline>/<run_id>/`` (``run_id`` = UTC time + git sha, with
``_dirty`` when the tree has uncommitted changes), never overwriting, with ``run.json`` recording
code version, package versions, parameters as injected, sha256 of every input and product, and
each step's status and timing. A failing step keeps its partial executed notebook, is marked
failed, and the run stops with a non-zero exit.
"""

from __future__ import annotations

import hashlib
import json
import platform as _platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import yaml

from cmlkit.errors import CmlkitError, PipelineError, StepFailedError, UnknownParameterError
from cmlkit.instrument import find_root, load_instrument

PACKAGES = ["cmlkit", "numpy", "pandas", "scipy", "pyarrow", "matplotlib", "papermill", "openpyxl", "pyyaml",
            "rapidfuzz", "pyreadstat", "nbformat", "ipykernel"]
STEP_KEYS = {"name", "notebook", "params", "inputs", "products", "when"}
RUNNER_PARAMS = ("wave", "output_dir", "instrument")


def sha256_file(path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_state(root) -> dict:
    """Return ``{"sha", "dirty"}`` for the repository at ``root`` (``sha`` None outside git)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return {"sha": None, "dirty": True}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"sha": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


def package_versions() -> dict:
    out = {"python": _platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def load_pipeline(path) -> dict:
    """Load and check a pipeline YAML (structure only; parameters are checked per notebook)."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError("pipeline file not found", file=path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PipelineError(f"invalid YAML: {exc}", file=path) from None
    if not isinstance(spec, dict) or "steps" not in spec:
        raise PipelineError("a pipeline needs 'name' and 'steps'", file=path)
    spec.setdefault("name", path.stem)
    spec.setdefault("inputs", {})
    names, products = set(), set(spec["inputs"])
    for i, step in enumerate(spec["steps"], start=1):
        extra = set(step) - STEP_KEYS
        if extra:
            raise PipelineError(f"step {i}: unknown keys {sorted(extra)}", file=path)
        step.setdefault("name", Path(step["notebook"]).stem)
        step.setdefault("params", {})
        step.setdefault("inputs", {})
        step.setdefault("products", {})
        if step["name"] in names:
            raise PipelineError(f"step name {step['name']!r} used twice", file=path)
        names.add(step["name"])
        if "when" in step and step["when"] not in spec["inputs"]:
            raise PipelineError(f"step {step['name']!r}: 'when' names {step['when']!r}, which is not a pipeline input", file=path)
        for param, source in step["inputs"].items():
            if source not in products:
                raise PipelineError(f"step {step['name']!r}: input {source!r} for {param!r} is neither a pipeline input "
                                    "nor a product of an earlier step", file=path)
        for pname, prod in step["products"].items():
            if pname in products:
                raise PipelineError(f"product name {pname!r} used twice", file=path)
            if not isinstance(prod, dict) or set(prod) != {"param", "path"}:
                raise PipelineError(f"step {step['name']!r}: product {pname!r} needs 'param' and 'path'", file=path)
            products.add(pname)
    return spec


def declared_parameters(notebook) -> dict:
    """Return the notebook's declared parameters (name -> papermill's description)."""
    import papermill as pm

    return pm.inspect_notebook(str(notebook))


def _coerce(text: str):
    """Read a ``--set`` value as YAML (numbers, booleans, null, lists) or keep it as a string."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def plan_run(spec: dict, *, root, instrument: str, wave: str, inputs: dict, overrides: dict) -> list:
    """Resolve every step's parameters (without running) and check them; return the step plans."""
    root = Path(root)
    unknown_inputs = set(inputs) - set(spec["inputs"])
    if unknown_inputs:
        raise PipelineError(f"unknown input {sorted(unknown_inputs)[0]!r}; this pipeline takes {sorted(spec['inputs'])}")
    for name, meta in spec["inputs"].items():
        if (meta or {}).get("required", True) and name not in inputs:
            raise PipelineError(f"missing input {name!r}: pass --input {name}=PATH")
    for name, p in inputs.items():
        if not Path(p).is_file():
            raise PipelineError(f"input {name!r}: file not found", file=p)
    plans, used_overrides = [], set()
    for step in spec["steps"]:
        nb = root / step["notebook"]
        if not nb.is_file():
            raise PipelineError(f"step {step['name']!r}: notebook not found", file=nb)
        declared = declared_parameters(nb)
        params = dict(step["params"])
        for key in RUNNER_PARAMS:
            if key in declared and key not in params:
                params[key] = {"wave": wave, "instrument": instrument, "output_dir": None}[key]
        for key, value in overrides.items():
            target, _, pname = key.rpartition(".")
            if target and target != step["name"]:
                continue
            if pname in declared or target:
                params[pname] = value
                used_overrides.add(key)
        for pname, prod in step["products"].items():
            params[prod["param"]] = ("product", pname, prod["path"])
        for param, source in step["inputs"].items():
            params[param] = ("input", source)
        for pname in params:
            if pname not in declared:
                raise UnknownParameterError(f"step {step['name']!r}: parameter {pname!r} is not declared in the parameters cell "
                                            f"(declared: {', '.join(sorted(declared)) or 'none'})", file=step["notebook"])
        plans.append({"step": step, "notebook": nb, "params": params})
    unused = set(overrides) - used_overrides
    if unused:
        raise UnknownParameterError(f"--set {sorted(unused)[0]!r} matches no parameter of any step")
    return plans


def _utc_now():
    return datetime.now(timezone.utc)


def new_run_dir(base: Path, git: dict) -> tuple[str, Path]:
    """Create and return a fresh run folder (never reusing an existing one)."""
    stamp = _utc_now().strftime("%Y%m%dT%H%M%SZ")
    run_id = f"{stamp}_{(git['sha'] or 'nogit')[:7]}" + ("_dirty" if git["dirty"] else "")
    candidate, k = run_id, 1
    while True:
        path = base / candidate
        try:
            path.mkdir(parents=True, exist_ok=False)
            return candidate, path
        except FileExistsError:
            k += 1
            candidate = f"{run_id}-{k}"


def run_pipeline(pipeline, *, instrument: str, wave: str, inputs: dict | None = None, overrides: dict | None = None,
                 outputs_root=None, root=None, kernel_name: str = "python3", echo=print) -> Path:
    """Run a pipeline and return its run folder.

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
        Project root (notebooks run with it as working directory).

    Raises
    ------
    PipelineError, UnknownParameterError, StepFailedError
    """
    root = find_root(root)
    spec = load_pipeline(pipeline)
    load_instrument(instrument, wave, root=root)  # fail early on an unknown instrument/wave
    inputs = {k: str(Path(v).resolve()) for k, v in (inputs or {}).items()}
    plans = plan_run(spec, root=root, instrument=instrument, wave=wave, inputs=inputs, overrides=overrides or {})
    _preflight_inputs(spec, inputs, wave, root)
    git = git_state(root)
    base = Path(outputs_root or root / "outputs") / instrument / wave / spec["name"]
    run_id, run_dir = new_run_dir(base, git)
    record = {
        "pipeline": spec["name"], "pipeline_file": str(Path(pipeline)), "pipeline_sha256": sha256_file(pipeline),
        "instrument": instrument, "wave": wave, "run_id": run_id, "git": git, "started_utc": _utc_now().isoformat(),
        "ended_utc": None, "status": "running", "packages": package_versions(), "overrides": overrides or {},
        "inputs": {k: {"path": v, "bytes": Path(v).stat().st_size, "sha256": sha256_file(v)} for k, v in inputs.items()},
        "steps": [], "products": {},
    }
    _write_json(run_dir / "run.json", record)
    products = {}
    total = len(plans)
    for i, plan in enumerate(plans, start=1):
        step = plan["step"]
        if step.get("when") and step["when"] not in inputs:  # a step tied to an optional input that was not given
            record.setdefault("skipped_steps", []).append({"name": step["name"], "notebook": step["notebook"],
                                                           "reason": f"input {step['when']!r} not given"})
            echo(f"[{i}/{total}] {step['name']} skipped (no --input {step['when']})")
            continue
        params = {}
        for key, value in plan["params"].items():
            if isinstance(value, tuple) and value[0] == "product":
                path = run_dir / value[2]
                path.parent.mkdir(parents=True, exist_ok=True)
                products[value[1]] = path
                params[key] = str(path)
            elif isinstance(value, tuple) and value[0] == "input":
                params[key] = inputs.get(value[1]) if value[1] in inputs else str(products[value[1]]) if value[1] in products else None
            elif key == "output_dir" and value is None:
                params[key] = str(run_dir)
            else:
                params[key] = value
        out_nb = run_dir / "notebooks" / f"{i:02d}_{step['name']}.ipynb"
        out_nb.parent.mkdir(parents=True, exist_ok=True)
        entry = {"name": step["name"], "notebook": step["notebook"], "executed_notebook": str(out_nb.relative_to(run_dir)),
                 "parameters": params, "status": "running", "started_utc": _utc_now().isoformat(), "duration_s": None}
        record["steps"].append(entry)
        _write_json(run_dir / "run.json", record)
        echo(f"[{i}/{total}] {step['name']} ({step['notebook']}) ...")
        t0 = time.perf_counter()
        try:
            _execute(plan["notebook"], out_nb, params, root, kernel_name)
        except StepFailedError as exc:
            entry.update(status="failed", duration_s=round(time.perf_counter() - t0, 3), error=exc.message)
            record.update(status="failed", ended_utc=_utc_now().isoformat())
            _write_json(run_dir / "run.json", record)
            raise StepFailedError(f"step {step['name']!r} failed: {exc.message}; partial notebook kept at {out_nb}") from None
        entry.update(status="ok", duration_s=round(time.perf_counter() - t0, 3))
        echo(f"[{i}/{total}] {step['name']} ok ({entry['duration_s']:.1f}s)")
    for name, path in products.items():
        if path.exists():
            record["products"][name] = {"path": str(path.relative_to(run_dir)), "sha256": sha256_file(path)}
    record["row_accounting"] = _row_accounting(run_dir)
    record.update(status="ok", ended_utc=_utc_now().isoformat())
    _write_json(run_dir / "run.json", record)
    (base / "LATEST").write_text(run_id + "\n", encoding="utf-8")
    return run_dir


def _preflight_inputs(spec, inputs, wave, root):
    """Check that every input tied to an instrument has that instrument's header (fail before running)."""
    from cmlkit.ingest import check_header

    for name, meta in spec["inputs"].items():
        if name in inputs and (meta or {}).get("instrument"):
            check_header(inputs[name], load_instrument(meta["instrument"], wave, root=root))


def _ipc_kernel_manager():
    """A kernel manager that talks to the kernel over local IPC sockets, not plain TCP."""
    from jupyter_client.manager import KernelManager

    class IPCKernelManager(KernelManager):
        def __init__(self, **kwargs):
            import atexit
            import shutil
            import tempfile

            kwargs.setdefault("transport", "ipc")
            # sockets in a private folder: parallel runs never share a path, nothing lands in the repo
            folder = tempfile.mkdtemp(prefix="cmlkit-kernel-")
            atexit.register(shutil.rmtree, folder, True)
            kwargs.setdefault("ip", str(Path(folder) / "kernel"))
            super().__init__(**kwargs)

    return IPCKernelManager


def _execute(notebook, out_nb, params, root, kernel_name):
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    try:
        pm.execute_notebook(str(notebook), str(out_nb), parameters=params, kernel_name=kernel_name, cwd=str(root),
                            progress_bar=False, log_output=False, report_mode=False,
                            kernel_manager_class=_ipc_kernel_manager())
    except PapermillExecutionError as exc:
        evalue = " ".join(str(exc.evalue).split())
        raise StepFailedError(f"{exc.ename}: {evalue}") from None
    except CmlkitError:
        raise
    except Exception as exc:  # kernel died, nbformat problem: still one line, partial notebook kept
        raise StepFailedError(f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}") from None


def _write_json(path, record):
    tmp = Path(path).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def main_echo(text):
    print(text, file=sys.stderr, flush=True)


def _row_accounting(run_dir: Path) -> dict:
    """Collect every ``tables/<instrument>/row_accounting.csv`` of the run (responses in = kept + removed)."""
    import pandas as pd

    out = {}
    for path in sorted(run_dir.glob("tables/*/row_accounting.csv")):
        table = pd.read_csv(path)
        out[path.parent.name] = {str(k): int(v) for k, v in zip(table["stage"], table["n"])}
    return out
