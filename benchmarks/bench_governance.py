"""Governance models: speed and quality of the step, and clustering at scale. Writes JSON; no assertion.

``--what step`` (default) measures, on synthetic libraries with four planted governance models:

* ``strong_1000``: 1,000 libraries, strong signal — time to choose k, the chosen k, the latent class
  model's adjusted Rand index (ARI) with the generating models, and the stability of each cluster
  (``--B`` resamples) beside its permuted-features null;
* ``noise_480``: 480 libraries with the signal switched off — whether BIC prefers one class and the
  stability verdicts;
* ``wave220_planted_seed*`` / ``wave220_permuted_seed*``: six waves of the usual size (220 responses),
  as drawn and with each feature permuted — the k each information criterion (BIC, sabic, ICL-BIC,
  AIC, AIC3) would choose (1 when one class has the lower value) and, when planted, the ARI at that k;
* ``speed_220``: CPU and wall seconds of choosing k, five resamples (without and with the null) and the
  two comparison methods on one 220-library wave (the shape of the baseline's ``speed_220_cpu``);
* ``step_220``: the whole governance step of the pipeline at 220 responses (choose k, fit the two
  comparison methods, stability of all three with ``--step-B`` resamples each, and their nulls);
* ``permuted_220``: the same step on a wave whose feature columns are permuted independently.

The quality before this version (commit aa889ae, same synthetic waves; ``strong_1000`` with 20
resamples) is read from ``benchmarks/baselines/governance_before.json`` and copied beside it.
``--what scale`` clusters ``--n`` (default 50,000) libraries with the latent class model (k by BIC)
and with CLARA, recording time and peak memory. Run with ``nice``:
``.venv/bin/python benchmarks/bench_governance.py [--what step|scale|all]``.
"""
import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from cmlkit import governance as g
from cmlkit import synthetic, waves
from cmlkit.tables import write_json

BASELINE = Path(__file__).parent / "baselines" / "governance_before.json"


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _libraries(n, signal, seed):
    scope = synthetic.in_scope(synthetic.make_frame(n, random_state=seed))
    return synthetic.simulate_libraries(scope, governance_signal=signal, random_state=seed)


def _spec():
    return waves.with_wave(g.load_spec(), waves.instruments_by_unit(waves.first_wave())["library"])


def _clock():
    return time.perf_counter(), time.process_time()


def _since(t):
    return {"wall_s": round(time.perf_counter() - t[0], 1), "cpu_s": round(time.process_time() - t[1], 1)}


def _clusters(boot):
    cols = ["cluster", "n", "mean_jaccard", "null_max_jaccard", "reading", "verdict"]
    return boot[cols].round(3).to_dict("records")


def _permuted(lib, spec, seed=0):
    cols = sorted({c for f in spec["features"].values()
                   for c in [f.get("source"), f.get("numerator"), f.get("column"), *f.get("denominator", [])] if c})
    rng = np.random.default_rng(seed)
    out = lib.copy()
    for c in cols:
        out[c] = out[c].to_numpy()[rng.permutation(len(out))]
    return out


def _step(lib, spec, B):
    t = _clock()
    res = g.cluster_libraries(lib, spec)
    select = _since(t)
    allc = g.compare_methods(lib, res, spec)
    st = g.stability(lib, allc, spec, B=B)
    out = {"k": res.k, "one_class_preferred": res.info["one_class_preferred"], "select": select, "total": _since(t),
           "B": B, "overall": {m: {key: (round(v, 3) if isinstance(v, float) else v) for key, v in o.items()}
                               for m, o in st.attrs["overall"].items()},
           "stable_clusters": {m: int(st.loc[st["method"] == m, "verdict"].isin(["stable", "highly stable"]).sum())
                               for m in allc}}
    if "true_model" in lib:
        out["ari_latent_class"] = round(g.adjusted_rand(res.labels, lib["true_model"]), 4)
    return out


def step(args):
    spec = _spec()
    out = {}
    strong = _libraries(1000, 1.0, 1)
    t = _clock()
    res = g.cluster_libraries(strong, spec)
    select = _since(t)
    t = _clock()
    boot = g.clusterboot(strong, res, spec, B=args.B)
    out["strong_1000"] = {"k": res.k, "ari": round(g.adjusted_rand(res.labels, strong["true_model"]), 4),
                          "select": select, "stability": _since(t), "B": args.B, "overall": boot.attrs["overall"],
                          "clusters": _clusters(boot), "starts": res.selection[["k", "starts", "best_reached"]].to_dict("records")}
    print("strong_1000", out["strong_1000"], flush=True)
    noise = _libraries(480, 0.0, 1)
    t = _clock()
    res = g.cluster_libraries(noise, spec)
    select = _since(t)
    t = _clock()
    boot = g.clusterboot(noise, res, spec, B=10)
    out["noise_480"] = {"k": res.k, "one_class_preferred": res.info["one_class_preferred"], "select": select,
                        "stability": _since(t), "B": 10, "overall": boot.attrs["overall"], "clusters": _clusters(boot)}
    print("noise_480", out["noise_480"], flush=True)
    for seed in range(1, 7):
        pop = _libraries(1000, 1.0, seed)
        for kind, lib in (("planted", pop.sample(220, random_state=seed)),
                          ("permuted", _permuted(pop.sample(220, random_state=seed), spec, seed))):
            t = _clock()
            res = g.cluster_libraries(lib, spec)
            sel = res.selection
            X = g.build_features(lib.sort_values("library_id"), spec).reset_index(drop=True)
            _, one = g.latent_class(X, spec, 1, n_init=1)
            row = {"select": _since(t), "criterion": res.info["criterion"], "k": res.k,
                   "one_class_preferred": res.info["one_class_preferred"]}
            for crit in g.CRITERIA:
                kc = int(sel.loc[sel[crit].idxmin(), "k"])
                row[f"k_{crit}"] = kc if sel[crit].min() < one[crit] else 1
                if kind == "planted":
                    labels = res.labels if kc == res.k else g.cluster_libraries(lib, spec, k=kc).labels
                    row[f"ari_{crit}"] = round(g.adjusted_rand(labels, lib["true_model"]), 4)
            out[f"wave220_{kind}_seed{seed}"] = row
            print(f"wave220_{kind}_seed{seed}", row, flush=True)
    lib = _libraries(1000, 1.0, 1).sample(220, random_state=2).reset_index(drop=True)
    speed = {}
    t = _clock()
    res = g.cluster_libraries(lib, spec)
    speed["select"] = _since(t)
    t = _clock()
    g.clusterboot(lib, res, spec, B=5, null=False)
    speed["bootstrap5_no_null"] = _since(t)
    t = _clock()
    g.compare_methods(lib, res, spec)
    speed["compare"] = _since(t)
    t = _clock()
    g.clusterboot(lib, res, spec, B=5)
    speed["bootstrap5_with_null"] = _since(t)
    out["speed_220"] = speed           # the shape of the baseline's speed_220_cpu
    print("speed_220", speed, flush=True)
    wave = _libraries(1000, 1.0, 3).sample(220, random_state=3).reset_index(drop=True)
    out["step_220"] = _step(wave, spec, args.step_B)
    print("step_220", out["step_220"], flush=True)
    out["permuted_220"] = _step(_permuted(wave, spec), spec, args.step_B)
    print("permuted_220", out["permuted_220"], flush=True)
    return out


def scale(args):
    scope = synthetic.in_scope(synthetic.make_frame(args.n, random_state=args.seed))
    lib = synthetic.simulate_libraries(scope, governance_signal=1.0, random_state=args.seed)
    spec = _spec()
    result = {"libraries": len(lib), "methods": {}}
    for method, k in (("latent_class", None), ("pam", 4)):
        t = _clock()
        res = g.cluster_libraries(lib, spec, method=method, k=k)
        ari = g.adjusted_rand(res.labels, lib["true_model"])
        result["methods"][method] = {**_since(t), "k": res.k, "k_chosen_by": "BIC over k_range" if k is None else "fixed",
                                     "adjusted_rand_vs_truth": round(ari, 4),
                                     "info": {key: v for key, v in res.info.items() if "one_class" not in key},
                                     "peak_rss_mb_so_far": round(_peak_mb())}
        print(method, result["methods"][method], flush=True)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--what", choices=["step", "scale", "all"], default="step")
    ap.add_argument("--B", type=int, default=20, help="resamples for strong_1000 (the baseline used 20)")
    ap.add_argument("--step-B", type=int, default=100, help="resamples per method in the whole-step timing")
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/bench_governance.json")
    args = ap.parse_args(argv)
    result = {}
    if args.what in ("step", "all"):
        result["after"] = step(args)
        result["before"] = json.loads(BASELINE.read_text()) if BASELINE.exists() else None
    if args.what in ("scale", "all"):
        result["scale"] = scale(args)
    result["peak_rss_mb"] = round(_peak_mb())
    print(write_json(result, args.out))


if __name__ == "__main__":
    main()
