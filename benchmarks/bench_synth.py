"""Benchmark: generate synthetic waves and ingest + basic-clean their exports at several sizes.

Writes JSON with wall time and peak memory (tracemalloc, Python allocations) per size, beside
the time of a bare ``pandas.read_csv`` of the same export. Run: ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import tracemalloc
from pathlib import Path

import pandas as pd

from cmlkit import clean, cleaning_log
from cmlkit.ingest import read_export
from cmlkit.instrument import load_instrument
from cmlkit.synthetic_wave import make_wave


def measure(fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, wall, peak / 2**20


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[480, 4800], help="community libraries in the frame")
    ap.add_argument("--out", default="benchmarks/results/bench_synth.json")
    args = ap.parse_args(argv)
    inst = load_instrument("cml_library", "2025w1")
    results = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            m, t_synth, mem_synth = measure(lambda: make_wave(tmp, seed=1, n_community=n, platforms=("singleheader",)))
            path = Path(tmp) / "exports" / "cml_library_singleheader.csv"
            _, t_read, _ = measure(lambda: pd.read_csv(path, dtype=str))
            raw, t_ingest, mem_ingest = measure(lambda: read_export(path, inst))
            _, t_clean, mem_clean = measure(lambda: clean.finalise(cleaning_log.apply_log(raw, clean.propose_changes(raw, inst, wave="2025w1"), inst)[0], inst))
            results.append({"n_community": n, "n_responses": m["n_cml_library_rows"], "synth_s": round(t_synth, 3),
                            "synth_peak_mb": round(mem_synth, 1), "bare_read_csv_s": round(t_read, 4), "ingest_s": round(t_ingest, 3),
                            "ingest_peak_mb": round(mem_ingest, 1), "clean_s": round(t_clean, 3), "clean_peak_mb": round(mem_clean, 1)})
            print(results[-1], flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(), "results": results}, indent=2) + "\n")
    print(out)


if __name__ == "__main__":
    main()
