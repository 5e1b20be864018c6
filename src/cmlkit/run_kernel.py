"""Executing one step: a papermill kernel with its threads capped, its reads recorded, and a way to stop it.

Numerical libraries start a thread per core by default; several kernels (or one kernel beside other
work) then oversubscribe the cores and thrash. Each kernel here gets ``OMP_NUM_THREADS`` and the
BLAS, Arrow, numexpr and joblib equivalents set to its share of the CPUs the run was given, so a
run on a busy machine slows in proportion to the load.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from cmlkit.errors import CmlkitError, StepFailedError

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMEXPR_MAX_THREADS", "ARROW_NUM_THREADS",
                    "LOKY_MAX_CPU_COUNT", "CMLKIT_THREADS")

_LIVE: dict = {}          # kernel manager id -> manager, for stopping every kernel on an interrupt
_LIVE_LOCK = threading.Lock()


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, else the machine's count).

    Returns
    -------
    int
        The number of CPUs in this process's affinity mask (``os.sched_getaffinity``); where that is
        unavailable, ``os.cpu_count()``. At least 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def threads_per_kernel(jobs: int, cpus: int | None = None) -> int:
    """Threads each kernel may use when ``jobs`` kernels share ``cpus`` CPUs (at least one).

    Parameters
    ----------
    jobs : int
        Kernels running at once (values below 1 count as 1).
    cpus : int, optional
        CPUs they share (default None: :func:`available_cpus`).

    Returns
    -------
    int
        ``cpus // jobs``, at least 1.
    """
    cpus = available_cpus() if cpus is None else cpus
    return max(1, cpus // max(1, jobs))


def kernel_environment(threads: int, *, extra: dict | None = None) -> dict:
    """The environment of a kernel limited to ``threads`` threads per numerical library.

    Parameters
    ----------
    threads : int
        Threads each library may start: written to every variable in ``THREAD_VARIABLES``
        (``OMP_NUM_THREADS``, the BLAS, numexpr, Arrow and joblib ones, and ``CMLKIT_THREADS``).
    extra : dict, optional
        Further variables set last, overriding the others (default None: none).

    Returns
    -------
    dict
        A copy of this process's ``os.environ`` with those variables set (values as strings for the
        thread variables); ``os.environ`` itself is left unchanged.
    """
    env = dict(os.environ)
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    env.update(extra or {})
    return env


#: seconds a finished step's kernel gets to exit after the shutdown request: half of it before SIGTERM,
#: all of it before SIGKILL (jupyter_client's default, 5 s, left an occasional 2.5 s stall per step)
SHUTDOWN_WAIT_S = 1.0


def _kernel_manager_class(env: dict, startup: list, log=None):
    """A kernel manager over private IPC sockets that starts its kernel with ``env`` and ``startup`` lines.

    With ``log``, the kernel process's own stdout and stderr (start-up and shutdown messages, not
    cell output) go to that file instead of the runner's terminal.
    """
    from jupyter_client.manager import AsyncKernelManager

    # asynchronous: nbclient then checks that the kernel is alive while it waits for output, so a killed
    # kernel ends the step instead of leaving it waiting forever
    class StepKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            # sockets in a private folder: parallel runs never share a path, nothing lands in the repo
            folder = tempfile.mkdtemp(prefix="cmlkit-kernel-")
            atexit.register(shutil.rmtree, folder, True)
            kwargs.setdefault("ip", str(Path(folder) / "kernel"))
            # a kernel that has answered its last cell has nothing left to do: when one ignores the shutdown
            # request (it happens now and then with two kernels at once), terminate it after 0.5 s, not 2.5 s
            kwargs.setdefault("shutdown_wait_time", SHUTDOWN_WAIT_S)
            super().__init__(**kwargs)

        async def start_kernel(self, **kw):
            kw["env"] = env
            kw["extra_arguments"] = list(kw.get("extra_arguments") or []) + [f"--IPKernelApp.exec_lines={line}" for line in startup]
            if log is not None:
                self._log_handle = open(log, "ab")  # closed when the kernel shuts down
                kw["stdout"] = kw["stderr"] = self._log_handle
            with _LIVE_LOCK:
                _LIVE[id(self)] = self
            return await super().start_kernel(**kw)

        async def shutdown_kernel(self, *args, **kw):
            with _LIVE_LOCK:
                _LIVE.pop(id(self), None)
            try:
                return await super().shutdown_kernel(*args, **kw)
            finally:
                if getattr(self, "_log_handle", None) is not None:
                    self._log_handle.close()

    return StepKernelManager


def stop_all_kernels() -> int:
    """Kill every kernel a step of this process started and has not yet shut down.

    Returns
    -------
    int
        How many kernel processes were sent ``SIGKILL``: those still running; kernels already exited,
        without a process, or whose signal fails with ``OSError`` are not counted.

    Notes
    -----
    Used on an interrupt. The managers stay registered until their own shutdown runs.
    """
    with _LIVE_LOCK:
        managers = list(_LIVE.values())
    killed = 0
    for km in managers:
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def execute_step(notebook, out_nb, params: dict, *, root, kernel_name: str = "python3", threads: int = 1,
                 runlog: Path | None = None, progress: Path | None = None, kernel_log: Path | None = None) -> None:
    """Execute one notebook with papermill; raise :class:`StepFailedError` with a one-line message on failure.

    Parameters
    ----------
    notebook, out_nb : path-like
        The notebook and where its executed copy goes (kept, partial, when it fails).
    params : dict
        Parameters injected into the notebook.
    root : path-like
        Working directory of the kernel (the project root).
    kernel_name : str
        Jupyter kernel to start (default ``"python3"``).
    threads : int
        Threads each numerical library in the kernel may start (default 1).
    runlog, progress : path-like, optional
        Where the kernel records what it reads, writes and imports (:mod:`cmlkit.runlog`) and its
        progress (:mod:`cmlkit.progress`).
    kernel_log : path-like, optional
        Where the kernel process's own output goes (default: the runner's stdout and stderr).

    Raises
    ------
    StepFailedError
        When a cell raises (message ``"ExceptionName: message"``, on one line) or the execution fails
        otherwise, e.g. the kernel died (``"ErrorType: text"``, on one line, text cut to 300 characters).
    CmlkitError
        Any other cmlkit error raised during execution, passed on unchanged.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    extra = {"CMLKIT_PROGRESS_FILE": str(progress)} if progress else {}
    startup = [f"import cmlkit.runlog as _cmlkit_runlog; _cmlkit_runlog.install({str(runlog)!r}); del _cmlkit_runlog"] if runlog else []
    try:
        # The kernel starts in ``root`` (nbclient's resources path), not through papermill's ``cwd``: that
        # changes the working directory of this whole process, which parallel steps (threads) would race on.
        pm.execute_notebook(str(notebook), str(out_nb), parameters=params, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(root)}},
                            progress_bar=False, log_output=False, report_mode=False,
                            kernel_manager_class=_kernel_manager_class(kernel_environment(threads, extra=extra), startup,
                                                                       kernel_log))
    except PapermillExecutionError as exc:
        evalue = " ".join(str(exc.evalue).split())
        raise StepFailedError(f"{exc.ename}: {evalue}") from None
    except CmlkitError:
        raise
    except Exception as exc:  # kernel died, nbformat problem: still one line, partial notebook kept
        text = " ".join(str(exc).split())[:300] or "the kernel stopped"
        raise StepFailedError(f"{type(exc).__name__}: {text}") from None
