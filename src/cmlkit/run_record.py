"""The record of a pipeline run: its folder, pre-flight header checks, ``run.json`` written atomically,
and the summary a finished run adds (inputs read with their hashes, code, products, row accounting).
"""

from __future__ import annotations

import csv
import importlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from cmlkit import run_cache as C
from cmlkit.errors import PipelineError
from cmlkit.instrument import instrument_path, load_instrument


def utc_now() -> datetime:
    """The current time in UTC, timezone-aware (every time stamp of a run record).

    Returns
    -------
    datetime.datetime
    """
    return datetime.now(timezone.utc)


def new_run_dir(base: Path, git: dict) -> tuple[str, Path]:
    """Create and return a fresh run folder (never reusing an existing one).

    Parameters
    ----------
    base : Path
        The pipeline's runs folder (``outputs/<instrument>/<wave>/<pipeline>``); created if missing.
    git : dict
        The repository state, as returned by :func:`cmlkit.run_cache.git_state` (``"sha"``, ``"dirty"``).

    Returns
    -------
    run_id : str
        ``<UTC time YYYYmmddTHHMMSSZ>_<first 7 characters of the sha, or "nogit">``, with ``_dirty`` when
        the tree has uncommitted changes, and ``-2``, ``-3``, ... when that folder already exists.
    path : Path
        The new, empty folder ``base / run_id``.
    """
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
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


def as_file(value, root) -> Path | None:
    """The file a parameter value names, if it is a string naming an existing file.

    Parameters
    ----------
    value : object
        A step parameter's value.
    root : path-like
        The project root, against which a relative path is read.

    Returns
    -------
    pathlib.Path or None
        The file, or None when ``value`` is not a string naming an existing file (too long, multi-line or
        missing strings included).
    """
    if not isinstance(value, str) or not value or len(value) > 4096 or "\n" in value:
        return None
    path = Path(value) if os.path.isabs(value) else Path(root) / value
    return path if path.is_file() else None


def finish_run(record: dict, *, root, run_dir, base, products: dict) -> None:
    """Aggregate inputs read, code and products; decide dirty; mark the run ok and point LATEST at it.

    Parameters
    ----------
    record : dict
        The run record (``run.json``); updated in place with ``files_read`` (sha256 and bytes of every
        input a step read), ``cmlkit_modules``, ``products``, ``row_accounting``, ``status="ok"`` and
        ``ended_utc``, and ``git.dirty``/``git.untracked_read`` when a file read is not tracked by git.
    root : pathlib.Path
        Project root.
    run_dir : pathlib.Path
        The run folder.
    base : pathlib.Path
        The pipeline's runs folder; its ``LATEST`` names this run when every step is ok or reused.
    products : dict
        Product name -> path in the run folder.
    """
    reads, modules = {}, {}
    for entry in record["steps"]:
        for rel, sha in (entry.get("reads") or {}).items():
            reads[rel] = sha
        modules.update(entry.get("modules") or {})
    record["files_read"] = {rel: {"sha256": sha, "bytes": (Path(rel) if os.path.isabs(rel) else root / rel).stat().st_size}
                            for rel, sha in sorted(reads.items())}
    record["cmlkit_modules"] = dict(sorted(modules.items()))
    under_root = [rel for rel in reads if not os.path.isabs(rel)]
    under_root += [e["path"] for e in record["inputs"].values() if not os.path.isabs(e["path"])]
    loose = C.untracked(root, sorted(set(under_root)))
    if loose:
        record["git"].update(dirty=True, untracked_read=loose)
    for name, path in products.items():
        if path.exists():
            record["products"][name] = {"path": str(path.relative_to(run_dir)), "sha256": C.sha256_file(path)}
    record["row_accounting"] = row_accounting(run_dir)
    record.update(status="ok", ended_utc=utc_now().isoformat())
    write_json_atomic(run_dir / "run.json", record)
    if all(s["status"] in ("ok", "reused") for s in record["steps"]):
        (base / "LATEST").write_text(record["run_id"] + "\n", encoding="utf-8")


#: checks a pipeline input may name (``inputs: NAME: {check: KIND}``), run before any kernel starts:
#: kind -> ``"module:function"`` called as ``function(path, instrument=..., wave=...)``, imported on use
#: (the runner starts without the analysis modules).
INPUT_CHECKS = {"trend_manifest": "cmlkit.harmonise:check_manifest"}


def preflight_inputs(spec, inputs, wave, root, previous, *, instrument=None) -> dict:
    """Check the inputs before running: exports against their instrument's header, and named checks.

    An export whose bytes passed the same check against the same instrument file in an earlier run
    is not read again. An input declaring ``check: KIND`` (a key of :data:`INPUT_CHECKS`) is checked
    every run (a trend manifest's runs can change without the manifest changing).

    Parameters
    ----------
    spec : dict
        The pipeline (``inputs``: name -> ``{instrument: ...}``).
    inputs : dict
        Input name -> path.
    wave : str
        Wave of the instruments.
    root : pathlib.Path
        Project root.
    previous : list of dict
        Earlier runs (``{"record": run.json}``) whose ``preflight`` may already cover an input.
    instrument : str, optional
        The run's instrument, passed to named checks.

    Returns
    -------
    dict
        ``name -> [input sha256, instrument sha256]`` of the inputs checked.

    Raises
    ------
    cmlkit.errors.IngestError
        When an export's header does not match its instrument (one line naming the file).
    cmlkit.errors.CmlkitError
        From a named check (e.g. ``TrendError`` naming the run that did not finish); a check kind
        not in :data:`INPUT_CHECKS` is a ``PipelineError``.
    """
    out = {}
    for name, meta in spec["inputs"].items():
        kind = (meta or {}).get("check")
        if name in inputs and kind:
            if kind not in INPUT_CHECKS:
                raise PipelineError(f"input {name!r}: unknown check {kind!r}; use one of {sorted(INPUT_CHECKS)}")
            module, func = INPUT_CHECKS[kind].split(":")
            getattr(importlib.import_module(module), func)(inputs[name], instrument=instrument, wave=wave)
        if name in inputs and (meta or {}).get("instrument"):
            pair = [C.sha256_file(inputs[name]), C.sha256_file(instrument_path(meta["instrument"], wave, root=root))]
            if not any(r["record"].get("preflight", {}).get(name) == pair for r in previous):
                from cmlkit.ingest import check_header   # pandas: only when a header must be checked

                check_header(inputs[name], load_instrument(meta["instrument"], wave, root=root))
            out[name] = pair
    return out


def write_json_atomic(path, record: dict) -> None:
    """Write ``record`` as indented JSON through a temporary file and a rename (never half a file).

    Parameters
    ----------
    path : path-like
        Target file.
    record : dict
        JSON-serialisable mapping (other objects written with ``str``).
    """
    tmp = Path(path).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def row_accounting(run_dir: Path) -> dict:
    """Collect every ``tables/<instrument>/row_accounting.csv`` of the run (responses in = kept + removed).

    Parameters
    ----------
    run_dir : pathlib.Path
        The run folder.

    Returns
    -------
    dict
        Instrument -> {stage: number of responses}.
    """
    out = {}
    for path in sorted(run_dir.glob("tables/*/row_accounting.csv")):
        with open(path, encoding="utf-8", newline="") as fh:
            out[path.parent.name] = {str(row["stage"]): int(float(row["n"])) for row in csv.DictReader(fh)}
    return out
