"""Coverage of the library users' satisfaction intervals: the two-stage design against ignoring the clustering.

One synthetic population of libraries and users is kept fixed; each replication redraws library response, the
library weights, and the intercept survey of users at the responding libraries (``cmlkit.synthetic.user_coverage``). Writes
JSON with, per analysis and target, coverage of the 95% interval (and its Monte Carlo SE), bias, mean SE over the
replication SD and the mean interval width.

Run: ``nice .venv/bin/python benchmarks/bench_user_coverage.py`` (200 replications: a few minutes).
"""
import argparse
import json
import time
from pathlib import Path

from cmlkit import user_weights, waves
from cmlkit.synthetic.user_coverage import coverage_study, summarise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--replications", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--n-community", type=int, default=480)
    ap.add_argument("--wave", default=None, help="wave whose year the population takes (default: the first wave on disk)")
    ap.add_argument("--out", default="benchmarks/results/bench_user_coverage.json")
    args = ap.parse_args(argv)
    wave = args.wave or waves.first_wave()
    t0 = time.perf_counter()
    results, truth = coverage_study(replications=args.replications, seed=args.seed, n_community=args.n_community,
                                    wave_year=waves.wave_year(wave), visits_per_month=user_weights.load_spec()["visits_per_month"])
    seconds = time.perf_counter() - t0
    table = summarise(results, truth)
    out = {"replications": args.replications, "seed": args.seed, "n_community": args.n_community, "wave": wave,
           "nominal": 0.95, "band": [0.93, 0.97], "seconds": round(seconds, 1), "truth": truth,
           "analyses": {a: t.drop(columns="analysis").round(6).to_dict("records") for a, t in table.groupby("analysis", sort=False)}}
    print(table[["analysis", "target", "coverage", "mc_se", "bias", "se_over_sd", "mean_ci_width", "mean_users", "mean_libraries"]]
          .round(4).to_string(index=False), flush=True)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\n{seconds:.0f} s; {path}")


if __name__ == "__main__":
    main()
