import fcntl
import json
import os

from cmlkit.run_kernel import THREAD_VARIABLES

# One thread per numerical library in the test processes, set before NumPy loads: `make test` runs two
# xdist workers on two cores, and each letting OpenBLAS start a thread per core oversubscribed the machine
# (small LAPACK calls then spin: the lca_em tests took 1.7x their CPU). Pipeline kernels get their own
# share from the runner, as in a real run.
for _name in THREAD_VARIABLES:
    os.environ[_name] = "1"

import hashlib
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from cmlkit.ingest import read_export
from cmlkit.instrument import load_instrument
from cmlkit.synthetic.users import make_user_wave
from cmlkit.synthetic.wave import make_wave

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
DEMO_SEED = 20250301
threadpool_limits(limits=1)   # in case a plugin loaded NumPy before this file


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Keep each test module on one xdist worker (unless its tests name a group of their own).

    A module's module-scoped fixtures (a synthetic wave, an executed notebook) are then built once, not once per
    worker that happens to run one of its tests: ``--dist loadscope``'s unit, with the explicit groups of
    ``--dist loadgroup`` (the shared pipeline runs) still crossing modules.
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


def pytest_collection_finish(session):
    """Fail at once when ``--dist loadgroup`` does not group: each worker would build its own shared runs.

    pytest-xdist marks a grouped test by suffixing its node id with ``@group`` on the worker; with pytest
    9.2 that suffix no longer takes (pytest-xdist#1386) and the groups are silently scattered.
    """
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [item.nodeid for item in session.items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if lost:
        raise pytest.UsageError(f"--dist loadgroup is not grouping (e.g. {lost[0]}); pytest-xdist#1386: use pytest < 9.2")


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def demo_wave(tmp_path_factory):
    """The default demo wave (480 community libraries) with its users' survey, written once per test run.

    Under xdist the workers share one copy: the first to take the lock writes it (about 6 CPU-seconds),
    the others wait for it and read the manifest it left.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                       # shared by the workers of this run
    out = root / "demo_wave"
    with open(root / "demo_wave.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "demo_wave.done").exists():
            make_wave(out, seed=DEMO_SEED)
            make_user_wave(out, seed=DEMO_SEED)
            (root / "demo_wave.done").touch()
    return out, json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def demo_inputs(out):
    """The named inputs of pipelines/wave.yml for a synthetic wave folder (the users' survey included when present)."""
    ex = out / "exports"
    inputs = {"library_export": ex / "cml_library_surveymonkey.csv", "volunteer_export": ex / "cml_volunteer_qualtrics.csv",
              "frame": out / "frame.csv"}
    if (ex / "cml_user_singleheader.csv").exists():
        inputs.update(user_export=ex / "cml_user_singleheader.csv", user_counts=ex / "library_user_counts.csv",
                      user_age_population=ex / "user_age_population.csv")
    return inputs


# The shared runs check behaviour (files, privacy, reruns, byte identity), not the stability figures: 10 bootstrap
# resamples and 50 inclusion-probability draws instead of 100 and 500 (the statistics are tested on their own).
DEMO_OVERRIDES = {"governance_stability.bootstrap": 10, "case_study_frame.inclusion_draws": 50}


@pytest.fixture(scope="session")
def wave_outputs(tmp_path_factory):
    """One outputs root per session for runs of the demo wave (so later runs can reuse earlier steps)."""
    return tmp_path_factory.mktemp("wave_outputs")


@pytest.fixture(scope="session")
def finished_run(demo_wave, root, wave_outputs):
    """One full run of pipelines/wave.yml on the demo wave, shared by every test that only reads it."""
    from cmlkit.run import run_pipeline

    out, _ = demo_wave
    return run_pipeline(root / "pipelines" / "wave.yml", instrument="cml_library", wave="2025w1", inputs=demo_inputs(out),
                        overrides=DEMO_OVERRIDES, outputs_root=wave_outputs, root=root, echo=lambda *_: None)


@pytest.fixture(scope="session")
def forced_run(finished_run, demo_wave, root, wave_outputs):
    """A second full run of the demo wave with ``force`` (every step executed again, nothing reused)."""
    from cmlkit.run import run_pipeline

    out, _ = demo_wave
    return run_pipeline(root / "pipelines" / "wave.yml", instrument="cml_library", wave="2025w1", inputs=demo_inputs(out),
                        overrides=DEMO_OVERRIDES, outputs_root=wave_outputs, root=root, echo=lambda *_: None, force=True)


@pytest.fixture(scope="session")
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout (real frame files absent)")
    return SHARED_DATA


def tree_digest(folder, *, exclude=()):
    """sha256 of every file under folder, keyed by relative path."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not any(part in exclude for part in p.relative_to(folder).parts)}


@pytest.fixture(scope="session")
def lib(root):
    """The cml_library 2025w1 instrument."""
    return load_instrument("cml_library", "2025w1", root=root)


@pytest.fixture(scope="session")
def raw(demo_wave, lib):
    """The demo wave's SurveyMonkey library export, ingested."""
    out, _ = demo_wave
    return read_export(out / "exports" / "cml_library_surveymonkey.csv", lib)
