"""Whole-pipeline benchmark (issue 16): the demo wave, a real-frame wave and both floors, in one run.

Measures, with the same runner (``cmlkit run``, default ``--jobs``) and writes JSON (no assertion):

* ``demo``: the demo wave (``cmlkit synth --seed 20250301``), every step executed (``--force``);
* ``floor_imports``: the same steps, same order and dependencies, each notebook doing only its
  notebook's imports; ``floor_empty``: the same number of kernels importing nothing;
* ``rounds``: the demo and both floors run ``--rounds`` times (default 3), one after the other in each
  round, so that each round's ratios compare runs a minute apart (the machine's own speed drifts);
  ``ratios`` holds the median over the rounds, ``demo`` and the floors the last round's steps;
* ``rerun``: the demo wave again with nothing changed (every step reused) against one kernel start
  (start a kernel, wait until it answers, shut it down), and a rerun after changing one parameter of
  the last step;
* ``real``: a synthetic wave drawn from the real Arts Council frame (``--frame
  ../shared/data/ace_basic_dataset_2023.csv``, seed 11) with the Taskforce file for the risk step,
  default parameters (100 bootstrap resamples), ``--real-rounds`` times (default 3), each against the
  mean of the imports floor runs just before and just after it (``real_rounds``; ``ratios``: the
  median), and once more while a CPU-bound process runs on every core (started and stopped here),
  against the median quiet run.

Run: ``nice .venv/bin/python benchmarks/bench_pipeline.py [--out benchmarks/results/bench_pipeline.json]``.
"""
import argparse
import ast
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

from cmlkit.run_graph import drop_unused_steps, load_pipeline
from cmlkit.run_kernel import available_cpus
from cmlkit.tables import write_json

ROOT = Path(__file__).resolve().parents[1]
CMLKIT = [sys.executable, "-m", "cmlkit"]


def cli(*args, env=None):
    """Run ``cmlkit ARGS``; return (wall seconds, run folder)."""
    t0 = time.perf_counter()
    res = subprocess.run([*CMLKIT, *map(str, args)], cwd=ROOT, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"cmlkit {' '.join(map(str, args[:2]))} failed: {res.stderr.strip().splitlines()[-1:]}")
    return wall, Path(res.stdout.strip().splitlines()[-1])


def summary(wall, run_dir):
    record = json.loads((run_dir / "run.json").read_text())
    return {"wall_s": round(wall, 2), "status": record["status"], "jobs": record["jobs"],
            "threads_per_kernel": record["threads_per_kernel"],
            "steps": {s["name"]: {"status": s["status"], "seconds": s.get("duration_s")} for s in record["steps"]}}


def floor_pipeline(pipeline: Path, folder: Path, kind: str) -> Path:
    """A pipeline with the same steps and dependencies whose notebooks only import (or do nothing).

    The steps are those the measured runs execute: steps tied by ``when:`` to an input the benchmark does
    not give (the users' survey) are left out of the floors as the runner leaves them out of the runs.
    """
    spec, _ = drop_unused_steps(load_pipeline(pipeline), GIVEN_INPUTS)
    steps = []
    for step in spec["steps"]:
        nb = nbformat.read(ROOT / step["notebook"], as_version=4)
        lines = []
        if kind == "imports":
            for cell in nb.cells:
                if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
                    tree = ast.parse(cell.source)
                    lines += [ast.get_source_segment(cell.source, n) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        floor = nbformat.v4.new_notebook(metadata=nb.metadata)
        floor.cells = [nbformat.v4.new_code_cell("\n".join(dict.fromkeys(lines)) or "pass")]
        path = folder / f"{kind}_{step['name']}.ipynb"
        nbformat.write(floor, str(path))
        steps.append({"name": step["name"], "notebook": str(path), "after": step["needs"]})
    out = folder / f"floor_{kind}.yml"
    out.write_text(yaml.safe_dump({"name": f"floor_{kind}", "steps": steps}, sort_keys=False), encoding="utf-8")
    return out


def kernel_start_s(repeats: int = 3) -> float:
    """Median seconds to start a kernel, have it answer, and shut it down."""
    from jupyter_client.manager import AsyncKernelManager

    async def once():
        km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=tempfile.mkdtemp(prefix="cmlkit-kernel-") + "/k")
        t0 = time.perf_counter()
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=120)
        kc.stop_channels()
        await km.shutdown_kernel(now=False)
        return time.perf_counter() - t0

    times = sorted(asyncio.run(once()) for _ in range(repeats))
    return times[len(times) // 2]


GIVEN_INPUTS = ("library_export", "volunteer_export", "frame")


def wave_args(wave_dir: Path, outputs: Path, frame: Path | None = None):
    return ["--instrument", "cml_library", "--wave", "2025w1", "--outputs", outputs,
            "--input", f"library_export={wave_dir / 'exports' / 'cml_library_surveymonkey.csv'}",
            "--input", f"volunteer_export={wave_dir / 'exports' / 'cml_volunteer_qualtrics.csv'}",
            "--input", f"frame={frame or wave_dir / 'frame.csv'}"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/bench_pipeline.json")
    ap.add_argument("--work", help="working folder (default: a temporary folder)")
    ap.add_argument("--frame", default=str(ROOT.parent / "shared" / "data" / "ace_basic_dataset_2023.csv"))
    ap.add_argument("--taskforce", default=str(ROOT.parent / "shared" / "data" / "libraries_england_2016.csv"))
    ap.add_argument("--skip-real", action="store_true", help="only the demo wave and its floors")
    ap.add_argument("--skip-busy", action="store_true", help="no run with every core busy")
    ap.add_argument("--skip-demo", action="store_true", help="keep the demo, floor and rerun results already in --out")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the demo and its floors (ratios: the median)")
    ap.add_argument("--real-rounds", type=int, default=3, help="quiet real-frame runs, each between two floor runs (ratio: the median)")
    args = ap.parse_args(argv)
    out_path = ROOT / args.out if not Path(args.out).is_absolute() else Path(args.out)
    work = Path(args.work or tempfile.mkdtemp(prefix="cmlkit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    pipeline = ROOT / "pipelines" / "wave.yml"
    result = {"cpus_available": available_cpus(), "load_average_at_start": os.getloadavg(), "python": sys.version.split()[0]}
    floors = {kind: floor_pipeline(pipeline, work, kind) for kind in ("imports", "empty")}
    floor_args = ["--instrument", "cml_library", "--wave", "2025w1", "--force"]

    if args.skip_demo:
        result.update({k: v for k, v in json.loads(out_path.read_text()).items() if k not in result})
    else:
        demo_part(result, work, pipeline, floors, floor_args, rounds=max(1, args.rounds))
        write_json(result, out_path)          # kept even if the real-frame part fails
    try:
        real_part(result, args, work, pipeline, floors, floor_args)
    except SystemExit as exc:
        result["real_error"] = str(exc)
    result["load_average_at_end"] = os.getloadavg()
    print(write_json(result, out_path))


def demo_part(result, work, pipeline, floors, floor_args, *, rounds: int = 3):
    """The demo wave and both floors, ``rounds`` times; one kernel start; two reruns."""
    demo = work / "demo"
    subprocess.run([*CMLKIT, "synth", "--seed", "20250301", "--out", demo], cwd=ROOT, check=True, capture_output=True)
    outputs = work / "outputs"
    result["rounds"] = []
    for _ in range(rounds):
        result["demo"] = summary(*cli("run", pipeline, *wave_args(demo, outputs), "--force"))
        for kind, path in floors.items():
            result[f"floor_{kind}"] = summary(*cli("run", path, *floor_args, "--outputs", work / f"out_{kind}"))
        walls = {k: result[k]["wall_s"] for k in ("demo", "floor_imports", "floor_empty")}
        result["rounds"].append({**walls, "demo_over_imports_floor": round(walls["demo"] / walls["floor_imports"], 2),
                                 "demo_over_empty_floor": round(walls["demo"] / walls["floor_empty"], 2)})
        print(json.dumps(result["rounds"][-1]), flush=True)
    result["kernel_start_s"] = round(kernel_start_s(), 3)
    result["rerun_nothing_changed"] = summary(*cli("run", pipeline, *wave_args(demo, outputs)))
    result["rerun_last_step_parameter"] = summary(*cli("run", pipeline, *wave_args(demo, outputs), "--set",
                                                       f"at_risk_libraries.spec_path={ROOT / 'research' / 'risk.yml'}"))
    result["ratios"] = {key: _median([r[key] for r in result["rounds"]])
                        for key in ("demo_over_imports_floor", "demo_over_empty_floor")}
    result["ratios"]["rerun_over_kernel_start"] = round(result["rerun_nothing_changed"]["wall_s"] / result["kernel_start_s"], 2)
    print(json.dumps(result["ratios"]), flush=True)


def _median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else round((values[mid - 1] + values[mid]) / 2, 2)


def real_part(result, args, work, pipeline, floors, floor_args):
    """A synthetic wave drawn from the real frame, run against that frame with the Taskforce file, quiet and busy.

    ``--real-rounds`` quiet runs (default 3), each between two imports floor runs (a floor run ends one round and
    starts the next); each round's ratio is to the mean of the floors just before and just after it, and
    ``ratios`` holds the median over the rounds (one run moved by 10-15% with the machine). The busy run is
    compared with the median quiet run.
    """
    if not args.skip_real and Path(args.frame).is_file():
        real = work / "real"
        subprocess.run([*CMLKIT, "synth", "--seed", "11", "--frame", args.frame, "--out", real], cwd=ROOT, check=True, capture_output=True)
        real_args = [*wave_args(real, work / "outputs_real", Path(args.frame)), "--force",
                     "--set", f"at_risk_libraries.taskforce_path={args.taskforce}"]
        def floor():
            return summary(*cli("run", floors["imports"], *floor_args, "--outputs", work / "out_imports"))

        result["real_rounds"] = []
        after = floor()
        for _ in range(max(1, args.real_rounds)):
            result["real_floor_imports_before"] = after
            result["real"] = summary(*cli("run", pipeline, *real_args))
            result["real_floor_imports_after"] = after = floor()
            walls = {"real": result["real"]["wall_s"], "floor_before": result["real_floor_imports_before"]["wall_s"],
                     "floor_after": after["wall_s"]}
            walls["real_over_imports_floor"] = round(walls["real"] / ((walls["floor_before"] + walls["floor_after"]) / 2), 2)
            result["real_rounds"].append(walls)
            print(json.dumps(walls), flush=True)
        result["ratios"]["real_over_imports_floor"] = _median([r["real_over_imports_floor"] for r in result["real_rounds"]])
        quiet = _median([r["real"] for r in result["real_rounds"]])
        if not args.skip_busy:
            busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(available_cpus())]
            try:
                result["real_busy"] = summary(*cli("run", pipeline, *real_args))
                result["real_busy"]["busy_processes"] = len(busy)
            finally:
                for proc in busy:
                    proc.kill()
                    proc.wait()
            result["ratios"]["real_busy_over_quiet"] = round(result["real_busy"]["wall_s"] / quiet, 2)
        print(json.dumps(result["ratios"]), flush=True)


if __name__ == "__main__":
    main()
