"""Latent class EM: cmlkit.lca_em against stepmix (the reference it replaced). Writes JSON; no assertion.

On the governance features of a synthetic wave (``--n`` libraries, default 480 as the demo wave), with
numerical libraries on one thread (as ``cluster_fit`` runs them):

* ``one_fit``: ``--fits`` random starts at k = ``--k`` (default 4), each a full EM run plus the
  log-likelihood, posterior and criteria, by stepmix and by ``lca_em`` (prepare included);
* ``warm_refits``: ``--refits`` (default 100) bootstrap resamples, each fitted once from the full-data
  posterior of its rows (the warm start of ``cluster_stability``).

Each section records wall and CPU seconds of both, the speed-up, and whether every fit agreed to
the last bit (log-likelihood, posterior, iterations). stepmix must be installed (it is a test
dependency). Run with ``nice``: ``.venv/bin/python benchmarks/bench_lca_em.py [--out FILE]``.
"""
import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cmlkit import governance as g
from cmlkit import lca_em, synthetic, waves
from cmlkit.latent_class import lca_inputs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))   # the reference models the tests use
from reference_models import stepmix_fit  # noqa: E402


def _stepmix(data, Y, k, seed, init_resp=None):
    model = stepmix_fit(data, Y, k, seed, init_resp)
    crit = (model.bic(data, Y), model.aic(data, Y), model.sabic(data, Y))
    return model.score(data, Y), model.predict_proba(data, Y), model.n_iter_, crit


def _ours(data, Y, k, seed, init_resp=None):
    fit = lca_em.fit(lca_em.prepare(data, Y), k, seed=int(seed), init_resp=init_resp)
    return fit.score, fit.posterior, fit.n_iter, (fit.bic(), fit.aic(), fit.sabic())


def _timed(jobs, fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = [fn(*job) for job in jobs]
    return out, time.perf_counter() - t0, time.process_time() - c0


def _compare(name, jobs):
    ref, ref_wall, ref_cpu = _timed(jobs, _stepmix)
    new, new_wall, new_cpu = _timed(jobs, _ours)
    same = all(a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2] == b[2] and a[3] == b[3] for a, b in zip(ref, new))
    return {"fits": len(jobs), "iterations": int(sum(r[2] for r in ref)), "stepmix_wall_s": round(ref_wall, 3),
            "lca_em_wall_s": round(new_wall, 3), "stepmix_cpu_s": round(ref_cpu, 3), "lca_em_cpu_s": round(new_cpu, 3),
            "speedup_wall": round(ref_wall / new_wall, 1), "speedup_cpu": round(ref_cpu / new_cpu, 1),
            "bit_identical": bool(same)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=480)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--fits", type=int, default=5)
    ap.add_argument("--refits", type=int, default=100)
    ap.add_argument("--out", default="benchmarks/results/lca_em.json")
    args = ap.parse_args()
    spec = waves.with_wave(g.load_spec(), waves.instruments_by_unit(waves.first_wave())["library"])
    lib = synthetic.simulate_libraries(synthetic.in_scope(synthetic.make_frame(args.n, random_state=3)),
                                       governance_signal=1.0, random_state=3)
    data, Y = lca_inputs(g.build_features(lib, spec), spec)
    out = {"n": len(data), "indicators": data.shape[1], "gaussian": 0 if Y is None else Y.shape[1], "k": args.k}
    rng = np.random.default_rng(0)
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        seeds = rng.integers(0, 2**31 - 1, args.fits)
        out["one_fit"] = _compare("one_fit", [(data, Y, args.k, s) for s in seeds])
        post = _ours(data, Y, args.k, seeds[0])[1]
        jobs = []
        for _ in range(args.refits):
            idx = rng.integers(0, len(data), len(data))
            jobs.append((data[idx], None if Y is None else Y[idx], args.k, 0, post[idx]))
        out["warm_refits"] = _compare("warm_refits", jobs)
    print(json.dumps(out, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
