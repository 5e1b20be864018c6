"""Coverage of 95% intervals for every headline of the findings table, for each weighting method.

One synthetic population is kept fixed; response is redrawn ``--replications`` times (missing at random given
region, type and weekly hours); each time the respondents are weighted by each method and every headline is
estimated (``cmlkit.synthetic.coverage``). Coverage is reported with its Monte Carlo SE; rows that the weighting reproduces
exactly (zero-width intervals) are labelled ``exact_by_construction`` and not counted. Writes JSON.

Run: ``nice .venv/bin/python benchmarks/bench_coverage.py`` (1,000 replications x 4 methods: a few minutes).
"""
import argparse
import json
import time
from pathlib import Path

from cmlkit.synthetic.coverage import METHODS, coverage_study, summarise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--replications", type=int, default=1000)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--default-method", default="rake")
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--out", default="benchmarks/results/bench_coverage.json")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    results = coverage_study(replications=args.replications, methods=args.methods, seed=args.seed)
    seconds = time.perf_counter() - t0
    table = summarise(results)
    cols = ["target", "kind", "coverage", "mc_se", "counted", "exact_by_construction", "in_band", "truth", "mean_estimate",
            "relative_bias", "bias_over_sd", "se_over_sd", "mean_ci_width", "mean_n"]
    out = {"replications": args.replications, "seed": args.seed, "nominal": 0.95, "band": [0.93, 0.97],
           "default_method": args.default_method, "seconds": round(seconds, 1),
           "response": "missing at random given region, type and weekly hours (cmlkit.synthetic.response_propensity)",
           "methods": {}}
    for m in args.methods:
        t = table.loc[table["method"] == m, cols]
        out["methods"][m] = {"targets": t.round(6).to_dict("records"),
                             "counted": int(t["counted"].sum()), "in_band": int(t["in_band"].sum()),
                             "misses": t.loc[t["counted"] & ~t["in_band"], "target"].tolist(),
                             "exact_by_construction": t.loc[t["exact_by_construction"], "target"].tolist()}
        print(f"\n{m}:\n" + t[["target", "coverage", "mc_se", "counted", "relative_bias", "bias_over_sd", "se_over_sd"]]
              .round(3).to_string(index=False), flush=True)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\n{seconds:.0f} s; {path}")


if __name__ == "__main__":
    main()
