"""k-prototypes per fit: cmlkit.kproto (vectorised) against kmodes.KPrototypes, on governance features.

For each k, the same starts (seeds) are fitted by both; the script records the seconds per start of
each (CPU time of this process, the minimum over ``--repeats``), the speed-up, and whether labels,
cost and iterations are identical. Data: synthetic libraries (``--n``, default 480 as in the demo
wave) with the planted governance models, their features as the governance step builds them, and one
bootstrap resample (rows drawn with replacement, as the stability refits see them). Writes JSON; no
assertion. Run with ``nice``:
``PYTHONPATH=src .venv/bin/python benchmarks/bench_kproto.py [--n 480] [--starts 5] [--repeats 2]``.
"""
import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from kmodes.kprototypes import KPrototypes

from cmlkit import governance as g
from cmlkit import kproto, synthetic, waves


def _features(n, seed):
    spec = waves.with_wave(g.load_spec(), waves.instruments_by_unit(waves.first_wave())["library"])
    scope = synthetic.in_scope(synthetic.make_frame(n, random_state=seed))
    lib = synthetic.simulate_libraries(scope, governance_signal=1.0, random_state=seed)
    return spec, g.build_features(lib, spec).reset_index(drop=True)


def _kmodes(M, cat, k, seed):
    model = KPrototypes(n_clusters=k, init="Cao", n_init=1, random_state=seed, n_jobs=1)
    labels = np.asarray(model.fit_predict(M, categorical=cat), dtype=int)
    return labels, float(model.cost_), int(model.n_iter_)


def _ours(M, cat, k, seed):
    out = kproto.kprototypes_start(M, cat, k, seed)
    return np.asarray(out["labels"], dtype=int), out["cost"], out["n_iter"]


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
    ap.add_argument("--starts", type=int, default=5, help="seeds per k")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs (the minimum is reported)")
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
    total_ref = sum(r["kmodes_s_per_start"] for r in rows)
    total_new = sum(r["cmlkit_s_per_start"] for r in rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                               "what": __doc__.splitlines()[0], "clock": "process CPU seconds",
                               "overall_speedup": round(total_ref / total_new, 1), "rows": rows}, indent=1))
    print(out)


if __name__ == "__main__":
    main()
