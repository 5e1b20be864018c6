"""Progress a person can follow: inside long loops, and per step of a pipeline run.

Inside a long loop (bootstrap resamples, repeated draws, replications) wrap the iterable::

    for b in progress.track(range(B), desc="bootstrap resamples"):
        ...

* in a terminal: a tqdm bar on stderr with the elapsed time and an estimate of what remains;
* inside a pipeline step (the runner sets ``CMLKIT_PROGRESS_FILE``): nothing in the notebook; the
  count goes to that file, throttled, and the runner shows it beside the step;
* elsewhere (logs, notebooks run by hand): one line when the loop ends, with its elapsed time.

The runner side (:class:`RunDisplay`) shows one bar per running step when stderr is a terminal
(inner progress where the step reports it, otherwise elapsed time against the step's duration in the
previous run) and otherwise one line as each step starts and ends.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time

from tqdm import tqdm

PROGRESS_ENV = "CMLKIT_PROGRESS_FILE"
_INTERVAL_S = 0.5


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def track(iterable, *, total: int | None = None, desc: str = "", stream=None):
    """Iterate over ``iterable`` while showing progress (see the module docstring for where it goes).

    Parameters
    ----------
    iterable : iterable
        What to loop over.
    total : int, optional
        Number of items (default ``len(iterable)`` when it has one).
    desc : str
        What is being counted, e.g. ``"bootstrap resamples"``.
    stream : file-like, optional
        Where a bar or the final line goes (default ``sys.stderr``).

    Yields
    ------
    The items of ``iterable``.
    """
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    stream = sys.stderr if stream is None else stream
    target = os.environ.get(PROGRESS_ENV)
    if target:
        yield from _to_file(iterable, target, total, desc)
    elif _isatty(stream):
        yield from tqdm(iterable, total=total, desc=desc, file=stream, leave=False, mininterval=_INTERVAL_S, **_size())
    else:
        t0, n = time.perf_counter(), 0
        for item in iterable:
            yield item
            n += 1
        stream.write(f"{desc or 'done'}: {n}{'/' + str(total) if total else ''} in {time.perf_counter() - t0:.1f} s\n")


def _to_file(iterable, target, total, desc):
    t0 = last = time.perf_counter()
    n = 0
    _write(target, desc, n, total, 0.0)
    for item in iterable:
        yield item
        n += 1
        now = time.perf_counter()
        if now - last >= _INTERVAL_S:
            _write(target, desc, n, total, now - t0)
            last = now
    _write(target, desc, n, total, time.perf_counter() - t0)


def _write(target, desc, n, total, elapsed):
    tmp = f"{target}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(f"{desc}\t{n}\t{'' if total is None else total}\t{elapsed:.3f}\n")
    os.replace(tmp, target)


def _size() -> dict:
    """Terminal width and height for tqdm, 80 x 24 when the terminal does not say (a pty without a size
    reports 0 x 0, and tqdm then hides every bar)."""
    size = shutil.get_terminal_size((80, 24))
    return {"ncols": size.columns, "nrows": max(size.lines, 2)}


def read_progress(path) -> dict | None:
    """The last progress a step reported, as written by :func:`track` to ``CMLKIT_PROGRESS_FILE``.

    Parameters
    ----------
    path : str or path-like
        The step's progress file (one line: ``desc<TAB>n<TAB>total<TAB>elapsed``).

    Returns
    -------
    dict or None
        ``{"desc": str, "n": int, "total": int or None, "elapsed": float}`` (``total`` is None when
        the loop's length was unknown; ``elapsed`` in seconds), or None when the file cannot be read
        or does not hold exactly four tab-separated fields.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            desc, n, total, elapsed = fh.read().rstrip("\n").split("\t")
    except (OSError, ValueError):
        return None
    return {"desc": desc, "n": int(n), "total": int(total) if total else None, "elapsed": float(elapsed)}


def remaining_s(*, elapsed: float, inner: dict | None = None, previous_s: float | None = None) -> float | None:
    """Estimate the seconds a running step still needs: from its inner progress, else its previous duration.

    Parameters
    ----------
    elapsed : float
        Seconds the step has been running.
    inner : dict, optional
        The step's own progress, as returned by :func:`read_progress` (default None). Used when it has
        a ``total`` and ``n > 0``: the time per item so far times the items left.
    previous_s : float, optional
        The step's duration in the previous run (default None). Used otherwise: ``previous_s - elapsed``.

    Returns
    -------
    float or None
        Seconds left, never below 0; None when neither estimate is available (or ``previous_s`` is 0).
    """
    if inner and inner["total"] and inner["n"] > 0:
        return max(0.0, inner["elapsed"] * (inner["total"] - inner["n"]) / inner["n"])
    if previous_s:
        return max(0.0, previous_s - elapsed)
    return None


class RunDisplay:
    """What a person sees while a pipeline runs: bars in a terminal, one line per step otherwise.

    Parameters
    ----------
    total : int
        Number of steps.
    echo : callable
        Where lines go when stderr is not a terminal (or always, for ``tty=False``).
    tty : bool, optional
        Force bars on or off (default: whether stderr is a terminal).
    """

    def __init__(self, total: int, *, echo=print, tty: bool | None = None):
        self.total, self.echo = total, echo
        self.tty = _isatty(sys.stderr) if tty is None else tty
        self._running: dict = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        if self.tty:
            self._thread = threading.Thread(target=self._refresh_loop, daemon=True)
            self._thread.start()

    def start(self, index: int, name: str, *, progress_file=None, previous_s: float | None = None) -> None:
        """A step starts executing."""
        if not self.tty:
            self.echo(f"[{index}/{self.total}] {name} ...")
            return
        with self._lock:
            bar = tqdm(total=None, desc=f"[{index}/{self.total}] {name}", file=sys.stderr, leave=False,
                       bar_format="{desc}{postfix}", position=len(self._running), **_size())
            self._running[name] = {"bar": bar, "t0": time.perf_counter(), "file": progress_file, "previous_s": previous_s}

    def line(self, text: str) -> None:
        """A line that stays (a reused step, a finished step)."""
        if self.tty:
            tqdm.write(text, file=sys.stderr)
        else:
            self.echo(text)

    def finish(self, name: str, text: str) -> None:
        """A step ended; ``text`` says how."""
        with self._lock:
            state = self._running.pop(name, None)
        if state:
            state["bar"].close()
        self.line(text)

    def close(self) -> None:
        """Stop refreshing and remove any bar left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            for state in self._running.values():
                state["bar"].close()
            self._running.clear()

    def _refresh_loop(self):
        while not self._stop.wait(_INTERVAL_S):
            with self._lock:
                for state in self._running.values():
                    elapsed = time.perf_counter() - state["t0"]
                    inner = read_progress(state["file"]) if state["file"] else None
                    left = remaining_s(elapsed=elapsed, inner=inner, previous_s=state["previous_s"])
                    text = f"{elapsed:.0f} s elapsed"
                    if inner:
                        text += f", {inner['desc']} {inner['n']}/{inner['total'] or '?'}"
                    if left is not None:
                        text += f", about {left:.0f} s left"
                    state["bar"].set_postfix_str(text, refresh=True)
