"""k-prototypes per fit: cmlkit.kproto (vectorised) against kmodes.KPrototypes, on governance features.

For each k, the same starts (seeds) are fitted by both; the script records the seconds per start of
each (CPU time of this process, the minimum over ``--repeats``), the speed-up, and whether labels,
cost and iterations are identical; then whole ``kprototypes`` calls (10 starts, and stopping at two
replicates as the bootstrap refits do) against the same rule run on kmodes. Data: synthetic libraries (``--n``, default 480 as in the demo
wave) with the planted governance models, their features as the governance step builds them, and one
bootstrap resample (rows drawn with replacement, as the stability refits see them). Writes JSON; no
assertion. Run with ``nice``:
``PYTHONPATH=src .venv/bin/python benchmarks/bench_kproto.py [--n 480] [--starts 3] [--repeats 1]``.
"""
import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from cmlkit import governance as g
from cmlkit import kproto, synthetic, waves

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))   # the reference models the tests use
from reference_models import kmodes_start, kprototypes_with_kmodes  # noqa: E402


def _features(n, seed):
    spec = waves.with_wave(g.load_spec(), waves.instruments_by_unit(waves.first_wave())["library"])
    scope = synthetic.in_scope(synthetic.make_frame(n, random_state=seed))
    lib = synthetic.simulate_libraries(scope, governance_signal=1.0, random_state=seed)
    return spec, g.build_features(lib, spec).reset_index(drop=True)


def _kmodes(M, cat, k, seed):
    model, labels = kmodes_start(M, cat, k, seed)
    return labels, float(model.cost_), int(model.n_iter_)


def _ours(M, cat, k, seed):
    out = kproto.kprototypes_start(M, cat, k, seed)
    return np.asarray(out["labels"], dtype=int), out["cost"], out["n_iter"]


def _calls(spec, data, ks, repeats):
    """Whole ``kprototypes`` calls: 10 starts (reported fit) and stop-at-2-replicates (bootstrap refits)."""
    rows = []
    for replicate in (0, 2):
        for k in ks:
            timed = {}
            for name, fn in (("kmodes", kprototypes_with_kmodes), ("cmlkit", kproto.kprototypes)):
                best = None
                for _ in range(repeats):
                    t = time.process_time()
                    res = fn(data, spec, k, n_init=10, random_state=k, replicate=replicate)
                    dt = time.process_time() - t
                    best = dt if best is None else min(best, dt)
                timed[name] = (best, res)
            same = np.array_equal(timed["kmodes"][1][0], timed["cmlkit"][1][0]) and timed["kmodes"][1][1] == timed["cmlkit"][1][1]
            rows.append({"call": f"kprototypes(n_init=10, replicate={replicate})", "k": k,
                         "starts": timed["cmlkit"][1][1]["starts"], "kmodes_s": round(timed["kmodes"][0], 4),
                         "cmlkit_s": round(timed["cmlkit"][0], 4), "speedup": round(timed["kmodes"][0] / timed["cmlkit"][0], 1),
                         "identical": bool(same)})
            print(rows[-1], flush=True)
    return rows


def _time(fn, M, cat, k, seeds, repeats):
    best, results = None, None
    for _ in range(repeats):
        t = time.process_time()
        results = [fn(M, cat, k, s) for s in seeds]
        dt = time.process_time() - t
        best = dt if best is None else min(best, dt)
    return best / len(seeds), results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=480, help="libraries")
    ap.add_argument("--ks", type=int, nargs="+", default=[2, 3, 4, 5, 6])
    ap.add_argument("--starts", type=int, default=3, help="seeds per k")
    ap.add_argument("--repeats", type=int, default=1, help="timed runs (the minimum is reported)")
    ap.add_argument("--out", default="benchmarks/results/bench_kproto.json")
    args = ap.parse_args()
    spec, X = _features(args.n, 1)
    boot = X.iloc[np.random.default_rng(2).integers(0, len(X), len(X))].reset_index(drop=True)
    seeds = [int(s) for s in np.random.default_rng(0).integers(0, 2**31 - 1, args.starts)]
    rows = []
    warnings.simplefilter("ignore")
    for name, data in (("features", X), ("bootstrap", boot)):
        M, cat = kproto.kproto_matrix(data, spec)
        for k in args.ks:
            t_ref, ref = _time(_kmodes, M, cat, k, seeds, args.repeats)
            t_new, new = _time(_ours, M, cat, k, seeds, args.repeats)
            same = all(np.array_equal(a[0], b[0]) and a[1:] == b[1:] for a, b in zip(ref, new))
            rows.append({"data": name, "n": len(data), "k": k, "starts": len(seeds),
                         "kmodes_s_per_start": round(t_ref, 5), "cmlkit_s_per_start": round(t_new, 5),
                         "speedup": round(t_ref / t_new, 1), "mean_iterations": float(np.mean([r[2] for r in ref])),
                         "identical": bool(same)})
            print(rows[-1], flush=True)
    calls = _calls(spec, boot, args.ks, args.repeats)
    total_ref = sum(r["kmodes_s_per_start"] for r in rows)
    total_new = sum(r["cmlkit_s_per_start"] for r in rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                               "what": __doc__.splitlines()[0], "clock": "process CPU seconds",
                               "overall_speedup": round(total_ref / total_new, 1), "rows": rows,
                               "calls_on_bootstrap": calls}, indent=1))
    print(out)


if __name__ == "__main__":
    main()
