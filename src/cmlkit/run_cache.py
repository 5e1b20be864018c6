"""What a run depends on, and reusing a step's products from an earlier run (incremental reruns).

A step is reused, not executed, when an earlier run of the same pipeline executed it with

* the same notebook (sha256), parameters and package versions,
* the same bytes in every file it takes as input (named inputs, products of earlier steps and
  parameters that name a file),
* the same bytes in every file it actually read (instrument, rules and research YAML files, override
  files ... as recorded by :mod:`cmlkit.runlog` in the kernel), and
* the same source in every ``cmlkit`` module it imported,

and every file it wrote is still there with the bytes recorded then. Its files are then copied into
the new run folder (copies, not links: a later ``cmlkit sample replace`` on one run must not change
another) and ``run.json`` says ``reused from <run id>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform as _platform
import shutil
import socket
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ["cmlkit", "numpy", "pandas", "scipy", "pyarrow", "matplotlib", "papermill", "openpyxl", "pyyaml",
            "rapidfuzz", "pyreadstat", "nbformat", "ipykernel", "scikit-learn", "statsmodels"]
CONFIG_DIRS = ("src", "research", "survey_instruments", "pipelines", "notebooks")


def sha256_file(path) -> str:
    """Return the hex sha256 of a file, read in chunks.

    Parameters
    ----------
    path : str or path-like
        The file, read in binary, 1 MiB at a time.

    Returns
    -------
    str
        The 64-character hex digest of the file's bytes.

    Raises
    ------
    OSError
        When the file cannot be opened or read (``FileNotFoundError`` when it does not exist).
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_json(obj) -> str:
    """sha256 of an object's canonical JSON.

    Parameters
    ----------
    obj : object
        Anything ``json.dumps`` accepts; keys are sorted and values JSON cannot hold are written as
        their ``str``, so equal dicts give the same hash whatever their key order.

    Returns
    -------
    str
        The 64-character hex digest of the UTF-8 JSON text.
    """
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _git(root, *args):
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def git_state(root) -> dict:
    """Return ``{"sha", "dirty", "modified"}`` for the repository at ``root``.

    Parameters
    ----------
    root : str or path-like
        The project root; ``git`` runs there.

    Returns
    -------
    dict
        ``"sha"``: the commit of ``HEAD`` (None when ``root`` is not a git repository or has no
        commit); ``"dirty"``: whether anything is changed (True when there is no ``HEAD``);
        ``"modified"``: the sorted paths git reports as changed (as ``git status --porcelain``
        prints them, relative to the repository root; empty when there is no ``HEAD``).

    Notes
    -----
    ``dirty`` is true when a tracked file is modified or a file that is neither tracked nor
    ignored sits in a folder the runs read (src, research, survey_instruments, pipelines,
    notebooks); the runner adds the untracked files a run actually read when it ends.
    """
    head = _git(root, "rev-parse", "HEAD")
    if head.returncode != 0:
        return {"sha": None, "dirty": True, "modified": []}
    status = _git(root, "status", "--porcelain", "--untracked-files=all", "--", *CONFIG_DIRS)
    changed = [line[3:] for line in status.stdout.splitlines() if line.strip()]
    tracked = _git(root, "status", "--porcelain", "--untracked-files=no")
    changed += [line[3:] for line in tracked.stdout.splitlines() if line.strip() and line[3:] not in changed]
    return {"sha": head.stdout.strip(), "dirty": bool(changed), "modified": sorted(changed)}


def untracked(root, paths) -> list:
    """The files among ``paths`` (relative to ``root``) that git neither tracks nor ignores.

    Parameters
    ----------
    root : str or path-like
        The project root; ``git`` runs there.
    paths : sequence of str
        Paths relative to ``root`` (files or folders; a folder's untracked files are all listed).

    Returns
    -------
    list of str
        The untracked files, sorted, as ``git status --porcelain`` prints them. Empty when ``paths``
        is empty or ``root`` is not a git repository with a commit.
    """
    if not paths or _git(root, "rev-parse", "HEAD").returncode != 0:
        return []
    res = _git(root, "status", "--porcelain", "--untracked-files=all", "--", *paths)
    return sorted(line[3:] for line in res.stdout.splitlines() if line.startswith("?? "))


def package_versions() -> dict:
    """Python and the versions of the packages a run's results depend on.

    Returns
    -------
    dict
        ``{"python": "3.x.y", package: version, ...}`` for each name in ``PACKAGES``, in that order; the
        version is None for a package that is not installed.
    """
    out = {"python": _platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def file_entry(path, *, root=None) -> dict:
    """``{"path", "bytes", "sha256"}`` for a file; ``path`` relative to ``root`` when under it.

    Parameters
    ----------
    path : str or path-like
        The file.
    root : str or path-like, optional
        When given and the (resolved) file lies under it, ``"path"`` is relative to it (default None:
        ``path`` as given).

    Returns
    -------
    dict
        ``"path"`` (str), ``"bytes"`` (size, int) and ``"sha256"`` (hex digest, see :func:`sha256_file`).

    Raises
    ------
    OSError
        When the file does not exist or cannot be read.
    """
    path = Path(path)
    shown = str(path)
    if root is not None:
        try:
            shown = str(path.resolve().relative_to(Path(root).resolve()))
        except ValueError:
            pass
    return {"path": shown, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def module_file(name: str, package_dir: Path) -> Path | None:
    """The source file of a ``cmlkit`` module (without importing it).

    Parameters
    ----------
    name : str
        Dotted module name, e.g. ``"cmlkit.sampling"`` or ``"cmlkit.synthetic.users"``; the first part
        (the package name) is dropped.
    package_dir : Path
        The folder of the ``cmlkit`` package.

    Returns
    -------
    Path or None
        ``package_dir/<parts>.py`` if it exists, else ``package_dir/<parts>/__init__.py`` (for
        ``"cmlkit"`` itself, ``package_dir/__init__.py``); None when neither exists.
    """
    parts = name.split(".")[1:]
    base = package_dir.joinpath(*parts) if parts else package_dir
    for candidate in (base.with_suffix(".py") if parts else None, base / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def module_hashes(names, package_dir: Path) -> dict:
    """``module -> sha256 of its source`` for the cmlkit modules a step imported.

    Parameters
    ----------
    names : iterable of str
        Dotted module names (duplicates allowed).
    package_dir : Path
        The folder of the ``cmlkit`` package.

    Returns
    -------
    dict
        ``{name: hex sha256}`` in sorted name order; a module without a source file (see
        :func:`module_file`) is left out.
    """
    out = {}
    for name in sorted(set(names)):
        path = module_file(name, package_dir)
        if path is not None:
            out[name] = sha256_file(path)
    return out


def classify_log(log: dict, *, root: Path, run_dir: Path, extra_inputs=()) -> dict:
    """Sort a kernel's read/write log into input files read and files written in the run folder.

    Parameters
    ----------
    log : dict
        The step's log, as returned by :func:`cmlkit.runlog.read_log` (``"reads"``, ``"writes"``,
        ``"modules"``).
    root : Path
        The project root.
    run_dir : Path
        This run's folder.
    extra_inputs : iterable of path-like
        Files named by the step's parameters (default ``()``): kept as inputs even in system folders.

    Returns
    -------
    dict
        ``"reads"``: ``{key: absolute Path}`` of the input files read, the key relative to ``root`` for a
        file under it, else the absolute path as logged; ``"reads_in_run"``: sorted paths (relative to
        ``run_dir``) of run-folder files the step read but did not write; ``"writes"``: sorted paths
        (relative to ``run_dir``) of the files it wrote in the run folder; ``"modules"``: ``log["modules"]``
        unchanged.

    Notes
    -----
    Paths that are no longer files are dropped. Reads count as inputs when they lie under the
    project root (outside ``.git``, ``.venv``, ``__pycache__`` and the run folder), are among
    ``extra_inputs`` (files named by parameters), or lie elsewhere outside system folders
    (``/etc``, ``/usr``, ...), home dot-folders and the runner's and kernels' scratch folders (e.g. the
    wave runs a trend step reads). Writes outside the run folder are ignored.
    """
    root, run_dir = Path(root).resolve(), Path(run_dir).resolve()
    extra = {str(Path(p).resolve()) for p in extra_inputs}
    reads, in_run, writes = {}, [], []
    for text in log["writes"]:
        p = Path(text)
        if p.is_relative_to(run_dir) and p.is_file():
            writes.append(str(p.relative_to(run_dir)))
    for text in log["reads"]:
        p = Path(text)
        if not p.is_file():
            continue
        if p.is_relative_to(run_dir):
            in_run.append(str(p.relative_to(run_dir)))
            continue
        if p.is_relative_to(root):
            rel = p.relative_to(root)
            if rel.parts and rel.parts[0] in (".git", ".venv", "__pycache__"):
                continue
            reads[str(rel)] = p
        elif text in extra or not _system_file(p):
            reads[text] = p
    return {"reads": reads, "reads_in_run": sorted(set(in_run) - set(writes)), "writes": sorted(writes),
            "modules": log["modules"]}


_SYSTEM_DIRS = ("/etc", "/usr", "/var", "/run", "/opt", "/lib", "/lib64", "/bin", "/sbin", "/snap", "/nix")


def _system_file(path: Path) -> bool:
    """Files a kernel reads that are not the analysis's inputs: system files, dot-folders in the home
    folder (IPython, Jupyter, matplotlib caches), the runner's and kernels' scratch folders."""
    text = str(path)
    if text.startswith(tuple(d + "/" for d in _SYSTEM_DIRS)):
        return True
    home = Path.home()
    if path.is_relative_to(home):
        rel = path.relative_to(home).parts
        if rel and rel[0].startswith("."):
            return True
    return any(part.startswith(("cmlkit-run-", "cmlkit-kernel-")) for part in path.parts)


def static_key(*, notebook_sha: str, params: dict, input_hashes: dict, packages: dict) -> str:
    """The part of a step's cache key known before it runs.

    Parameters
    ----------
    notebook_sha : str
        sha256 of the step's notebook.
    params : dict
        The parameters the step is given.
    input_hashes : dict
        sha256 of each file the step takes as input, by name.
    packages : dict
        Package versions, as returned by :func:`package_versions`.

    Returns
    -------
    str
        Hex sha256 of the canonical JSON of all four (see :func:`sha256_json`).
    """
    return sha256_json({"notebook": notebook_sha, "params": params, "inputs": input_hashes, "packages": packages})


def scan_runs(base: Path, *, exclude=None) -> list[dict]:
    """Earlier runs of a pipeline, newest first, as ``{"run_id", "dir", "record"}``.

    Parameters
    ----------
    base : Path
        The folder holding the pipeline's run folders (each with a ``run.json``).
    exclude : Path, optional
        A run folder to leave out, e.g. the run in progress (default None).

    Returns
    -------
    list of dict
        One per readable ``run.json``: ``"run_id"`` (the record's, else the folder name), ``"dir"`` (the
        run folder) and ``"record"`` (the parsed ``run.json``), sorted by the record's ``started_utc``
        then run id, newest first. Empty when ``base`` is not a folder; unreadable or invalid
        ``run.json`` files are skipped.

    Notes
    -----
    A run recorded as ``running`` whose process is gone (same host) is corrected to
    ``interrupted`` on disk (:func:`mark_abandoned`), so no run folder claims to be running after
    its runner died.
    """
    out = []
    if not base.is_dir():
        return out
    for path in base.glob("*/run.json"):
        if exclude is not None and path.parent == exclude:
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if record.get("status") == "running" and not runner_alive(record):
            mark_abandoned(path, record)
        out.append({"run_id": record.get("run_id", path.parent.name), "dir": path.parent, "record": record})
    out.sort(key=lambda r: (str(r["record"].get("started_utc")), r["run_id"]), reverse=True)
    return out


def runner_alive(record: dict) -> bool:
    """Whether the process that wrote a ``running`` record still exists (unknown host: assume yes).

    Parameters
    ----------
    record : dict
        A run's ``run.json`` content; its ``"runner_pid"`` and ``"runner_host"`` are used.

    Returns
    -------
    bool
        False only when the record names this host and a pid that no longer exists; True when the pid
        or host is missing, the host is another one, or the process exists (including one this user may
        not signal).
    """
    pid, host = record.get("runner_pid"), record.get("runner_host")
    if not pid or host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_abandoned(path: Path, record: dict) -> None:
    """Rewrite a ``running`` record whose runner is gone as ``interrupted``.

    Parameters
    ----------
    path : Path
        The run's ``run.json``; replaced atomically (written to ``run.json.tmp`` first).
    record : dict
        Its content, changed in place: ``"status"`` becomes ``"interrupted"``, ``"message"`` says the
        runner ended without finishing, and each step ``running`` or ``pending`` becomes ``interrupted``.
    """
    record["status"] = "interrupted"
    record["message"] = "the runner process ended without finishing the run (killed or crashed)"
    for step in record.get("steps", []):
        if step.get("status") in ("running", "pending"):
            step["status"] = "interrupted"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def find_reusable(runs: list[dict], *, step: str, key: str, root: Path, package_dir: Path, run_dir: Path) -> dict | None:
    """The newest earlier execution of ``step`` with this static key whose reads, imports and files still match.

    Parameters
    ----------
    runs : list of dict
        Earlier runs, newest first, as returned by :func:`scan_runs`.
    step : str
        The step's name.
    key : str
        Its static key (:func:`static_key`).
    root : Path
        The project root; recorded relative reads are checked under it.
    package_dir : Path
        The folder of the ``cmlkit`` package; recorded module hashes are checked against it.
    run_dir : Path
        This run's folder; the step's recorded reads in the run folder are checked there (earlier
        steps of this run have written them).

    Returns
    -------
    dict or None
        ``"run_id"`` (the run that executed the step: the entry's ``reused_from`` when it was itself
        reused), ``"dir"`` (the earlier run folder holding the files) and ``"entry"`` (the step's record
        there); None when no earlier execution matches.

    Notes
    -----
    An entry matches when it has this name and key, status ``ok`` or ``reused``, every file it read
    and every module it imported still has the recorded sha256, and it recorded at least one output
    file, each still present in its run folder with the recorded sha256.
    """
    for run in runs:
        for entry in run["record"].get("steps", []):
            if entry.get("name") != step or entry.get("key") != key or entry.get("status") not in ("ok", "reused"):
                continue
            if _still_valid(entry, run["dir"], root=root, package_dir=package_dir, run_dir=run_dir):
                return {"run_id": entry.get("reused_from") or run["run_id"], "dir": run["dir"], "entry": entry}
    return None


def _still_valid(entry, old_dir: Path, *, root: Path, package_dir: Path, run_dir: Path) -> bool:
    for rel, sha in (entry.get("reads") or {}).items():
        path = Path(rel) if os.path.isabs(rel) else root / rel
        if not path.is_file() or sha256_file(path) != sha:
            return False
    for rel, sha in (entry.get("reads_in_run") or {}).items():
        path = run_dir / rel
        if not path.is_file() or sha256_file(path) != sha:
            return False
    if module_hashes(entry.get("modules") or {}, package_dir) != (entry.get("modules") or {}):
        return False
    for rel, sha in (entry.get("outputs") or {}).items():
        path = old_dir / rel
        if not path.is_file() or sha256_file(path) != sha:
            return False
    return bool(entry.get("outputs"))


def copy_outputs(entry: dict, old_dir: Path, run_dir: Path) -> None:
    """Copy a step's recorded files from an earlier run folder into this one.

    Parameters
    ----------
    entry : dict
        The step's record in the earlier run; its ``"outputs"`` keys are paths relative to the run
        folder.
    old_dir : Path
        The earlier run folder.
    run_dir : Path
        This run's folder; missing parent folders are created and existing files overwritten.

    Raises
    ------
    OSError
        When a recorded file cannot be read or written.
    """
    for rel in entry["outputs"]:
        dest = run_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(old_dir / rel, dest)
