"""Benchmark: ingest + clean synthetic library-survey exports of 1k, 10k, 100k and 1M responses.

For each size a synthetic wave (library questionnaire, single-header CSV, errors injected) is
generated once, untimed. Then, each in a fresh Python process so peak memory is its own:

* ``bare_read_csv_s``: ``pandas.read_csv(path)`` with default settings (the comparison baseline);
* ``ingest_clean_s``: ``read_export`` + ``propose_changes`` + ``apply_log`` + ``finalise`` (what
  ``10_clean_responses`` does before writing), with peak resident memory (``ru_maxrss``).

Writes JSON with the ratio to the bare read and the growth from the second-largest to the largest
size. ``--keep DIR`` keeps each generated wave (and reuses it on a later run: generation is the
slowest part at 1M). ``--runs N`` measures each size N times on the same generated file (bare read, then the
cleaning, per run) and records every run under ``runs``; the row of a size is its first run.
Targets (issue 16): 1M responses cleaned in at most 3x the bare read, peak memory at most 3.5 GiB
(3,584 MiB), in every run; time from 100k to 1M growing no more than 12x.
Run: ``.venv/bin/python benchmarks/bench_clean.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
path, mode = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
if mode == "bare":
    import pandas as pd
    n = len(pd.read_csv(path))
else:
    from cmlkit import clean, cleaning_log
    from cmlkit.ingest import read_export
    from cmlkit.instrument import load_instrument
    inst = load_instrument("cml_library", "2025w1")
    raw = read_export(path, inst)
    log = clean.propose_changes(raw, inst, wave="2025w1")
    applied, report = cleaning_log.apply_log(raw, log, inst)
    data, private = clean.finalise(applied, inst)
    cleaning_log.accounting(raw, report, data)
    n = len(raw)
wall = time.perf_counter() - t0
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")]
peak = int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": n, "wall_s": wall, "peak_rss_mb": peak}))
"""


def child(path, mode):
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000], help="responses")
    ap.add_argument("--out", default="benchmarks/results/bench_clean.json")
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per size (the minimum is reported)")
    ap.add_argument("--runs", type=int, default=1, help="independent measurements per size, each recorded")
    ap.add_argument("--keep", help="folder to keep each generated wave in (<folder>/<responses asked>/), reused when there")
    args = ap.parse_args(argv)
    from cmlkit.synthetic import make_frame
    from cmlkit.synthetic.wave import make_wave

    results = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            where = Path(args.keep) / str(n) if args.keep else Path(tmp)
            path = where / "exports" / "cml_library_singleheader.csv"
            if path.is_file() and (where / "manifest.json").is_file():  # kept from an earlier run (same seed: same file)
                m, gen = json.loads((where / "manifest.json").read_text()), None
            else:
                t0 = time.perf_counter()
                frame = make_frame(int(n * 2.05), community_only=True, random_state=n)
                m = make_wave(where, seed=n, frame=frame, platforms=("singleheader",), instruments=("cml_library",), write_truth=False)
                gen = time.perf_counter() - t0
            runs = []
            for run in range(args.runs):
                bare = min((child(path, "bare") for _ in range(args.repeats)), key=lambda r: r["wall_s"])
                mine = min((child(path, "clean") for _ in range(args.repeats)), key=lambda r: r["wall_s"])
                row = {"responses": mine["rows"], "file_mb": round(path.stat().st_size / 2**20, 1), "generate_s": None if gen is None else round(gen, 1),
                       "bare_read_csv_s": round(bare["wall_s"], 3), "ingest_clean_s": round(mine["wall_s"], 3),
                       "ratio_to_bare_read": round(mine["wall_s"] / bare["wall_s"], 2),
                       "peak_rss_mb": round(mine["peak_rss_mb"], 1), "bare_peak_rss_mb": round(bare["peak_rss_mb"], 1),
                       "errors_injected": m["n_cml_library_errors"], "run": run + 1,
                       "load_average": [round(x, 2) for x in os.getloadavg()], "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
                runs.append(row)
                print(json.dumps(row), flush=True)
            results.append(dict(runs[0], runs=runs) if args.runs > 1 else runs[0])
    summary = {}
    if len(results) >= 2:
        a, b = results[-2], results[-1]
        summary = {"growth_sizes": [a["responses"], b["responses"]], "time_growth": round(b["ingest_clean_s"] / a["ingest_clean_s"], 2),
                   "largest_ratio_to_bare_read": b["ratio_to_bare_read"], "largest_peak_rss_mb": b["peak_rss_mb"]}
    if results and "runs" in results[-1]:
        runs = results[-1]["runs"]
        summary.update({"largest_runs": len(runs), "largest_worst_ratio_to_bare_read": max(r["ratio_to_bare_read"] for r in runs),
                        "largest_worst_peak_rss_mb": max(r["peak_rss_mb"] for r in runs)})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                               "results": results, "summary": summary}, indent=2) + "\n")
    print(out)


if __name__ == "__main__":
    main()
