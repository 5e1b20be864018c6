"""Governance clustering at scale (issue 6): 50,000 synthetic libraries, time and peak memory.

Simulates a frame of ``--n`` community libraries with a strong governance signal, clusters them with
the configured method over the configured k range (``research/governance.yml``), and records the
time, the peak resident memory, the chosen k and the adjusted Rand index with the generating
models. Also times CLARA (Gower + PAM on subsamples) at the same size. Writes JSON; no assertion.
Run: ``.venv/bin/python benchmarks/bench_governance.py [--n 50000]``.
"""
import argparse
import resource
import time

from cmlkit import governance as g
from cmlkit import synthetic
from cmlkit import waves
from cmlkit.tables import write_json


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/bench_governance.json")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    scope = synthetic.in_scope(synthetic.make_frame(args.n, random_state=args.seed))
    lib = synthetic.simulate_libraries(scope, governance_signal=1.0, random_state=args.seed)
    gen_s = time.perf_counter() - t0
    spec = waves.with_wave(g.load_spec(), waves.instruments_by_unit(waves.first_wave())["library"])
    result = {"libraries": len(lib), "generate_s": round(gen_s, 1), "methods": {}}
    for method, k in (("latent_class", None), ("pam", 4)):
        t0 = time.perf_counter()
        res = g.cluster_libraries(lib, spec, method=method, k=k)
        secs = time.perf_counter() - t0
        ari = g.adjusted_rand(res.labels, lib["true_model"])
        result["methods"][method] = {"seconds": round(secs, 1), "k": res.k, "k_chosen_by": "BIC over k_range" if k is None else "fixed",
                                     "adjusted_rand_vs_truth": round(ari, 4), "info": {key: v for key, v in res.info.items() if key != "bic_one_class"},
                                     "peak_rss_mb_so_far": round(_peak_mb())}
        print(method, result["methods"][method], flush=True)
    result["peak_rss_mb"] = round(_peak_mb())
    print(write_json(result, args.out))


if __name__ == "__main__":
    main()
