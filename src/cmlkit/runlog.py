"""Inside a pipeline kernel: record the files a step reads and writes and the cmlkit modules it imports.

The runner starts each kernel with ``import cmlkit.runlog as _r; _r.install(PATH)`` (run silently at
kernel start-up, before the notebook's first cell) and reads the log back when the step ends. A
Python audit hook (:pep:`578`) sees every ``open``, ``os.rename``/``os.replace`` and ``import`` in
the kernel, whichever library makes it, so the record is what the step actually did, not what its
notebook says. One line per event, written at once (a killed kernel still leaves its log)::

    r<TAB>/abs/path/read.yaml
    w<TAB>/abs/path/written.csv
    m<TAB>cmlkit.sampling

Files under the Python installation and compiled modules are left out; the runner decides which
of the rest are inputs (under the project root or passed as parameters) and which are products
(under the run folder). This module imports only the standard library.
"""

from __future__ import annotations

import os
import sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_SKIP_SUFFIXES = (".pyc", ".py", ".so", ".pth")


def _is_write(mode, flags) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return bool(isinstance(flags, int) and flags & _WRITE_FLAGS)


def install(path) -> None:
    """Start recording this process's reads, writes and cmlkit imports to ``path`` (appending).

    Parameters
    ----------
    path : str or path-like
        The log file. Opened for appending, line-buffered, and kept open for the life of the process.

    Notes
    -----
    Adds a :pep:`578` audit hook (it cannot be removed). Each distinct event is written once:
    ``r`` for a file opened for reading, ``w`` for one opened for writing (a mode with ``w``, ``a``,
    ``x`` or ``+``, or write/create/append/truncate flags) or the target of ``os.rename`` /
    ``os.replace``, ``m`` for a cmlkit module imported or loaded. Non-string targets, the log itself,
    ``.py``/``.pyc``/``.so``/``.pth`` files and anything under the Python installation, ``/proc``,
    ``/sys`` or ``/dev`` are left out. cmlkit modules already imported when it is called are
    recorded at once.
    """
    handle = open(path, "a", encoding="utf-8", buffering=1)  # line-buffered: each event reaches the file
    skip_prefixes = tuple(sorted({os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
                                 | {"/proc/", "/sys/", "/dev/"}))
    log_path = os.path.abspath(path)
    package_dir = os.path.dirname(os.path.abspath(__file__)) + os.sep
    seen: set = set()
    busy = [False]

    def record(kind: str, what: str) -> None:
        if (kind, what) in seen:
            return
        seen.add((kind, what))
        busy[0] = True
        try:
            handle.write(f"{kind}\t{what}\n")
        finally:
            busy[0] = False

    def hook(event, args):
        if busy[0]:
            return
        if event == "open":
            target = args[0]
            if not isinstance(target, str):
                return
            target = os.path.abspath(target)
            if target.startswith(package_dir) and target.endswith((".py", ".pyc")):
                module = _module_name(target[len(package_dir):])
                if module:
                    record("m", module)      # a cmlkit module being loaded, however it was imported
                return
            if target == log_path or target.endswith(_SKIP_SUFFIXES) or target.startswith(skip_prefixes):
                return
            record("w" if _is_write(args[1], args[2] if len(args) > 2 else None) else "r", target)
        elif event == "os.rename" and isinstance(args[1], str):
            record("w", os.path.abspath(args[1]))
        elif event == "import" and (args[0] == "cmlkit" or str(args[0]).startswith("cmlkit.")):
            record("m", args[0])

    sys.addaudithook(hook)
    for name in list(sys.modules):
        if name == "cmlkit" or name.startswith("cmlkit."):
            record("m", name)


def _module_name(relative: str) -> str | None:
    """``research.py`` or ``__pycache__/research.cpython-311.pyc`` -> ``cmlkit.research``."""
    parts = relative.split(os.sep)
    if len(parts) >= 2 and parts[-2] == "__pycache__":
        parts = parts[:-2] + [parts[-1].split(".")[0]]
    else:
        parts[-1] = parts[-1].rsplit(".", 1)[0]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not all(p.isidentifier() for p in parts):
        return None
    return ".".join(["cmlkit", *parts])


def read_log(path) -> dict:
    """Read a log written by :func:`install`.

    Parameters
    ----------
    path : str or path-like
        The log file. A missing file reads as an empty log.

    Returns
    -------
    dict
        ``{"reads": [...], "writes": [...], "modules": [...]}``, each a sorted list of distinct absolute
        paths (or module names). A file both read and written counts only under ``"writes"``. Lines of
        an unknown kind or with nothing after the tab are skipped.
    """
    out = {"r": set(), "w": set(), "m": set()}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                kind, _, what = line.rstrip("\n").partition("\t")
                if kind in out and what:
                    out[kind].add(what)
    except FileNotFoundError:
        pass
    return {"reads": sorted(out["r"] - out["w"]), "writes": sorted(out["w"]), "modules": sorted(out["m"])}
