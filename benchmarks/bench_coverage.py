"""Coverage of 95% intervals over seeded replications of a synthetic wave (issue 4 acceptance).

Writes JSON with the coverage per target and method. Run: ``.venv/bin/python benchmarks/bench_coverage.py``.
"""
import argparse
import json
import time
from pathlib import Path

from cmlkit.coverage import coverage_study


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--replications", type=int, default=200)
    ap.add_argument("--methods", nargs="+", default=["rake", "poststratify", "rake+hours"])
    ap.add_argument("--out", default="benchmarks/results/bench_coverage.json")
    args = ap.parse_args(argv)
    result = {}
    for method in args.methods:
        t0 = time.perf_counter()
        base, _, aux = method.partition("+")
        df = coverage_study(replications=args.replications, method=base, auxiliaries=[aux] if aux else [])
        cov = df.groupby("target").agg(coverage=("covered", "mean"), mean_estimate=("estimate", "mean"), truth=("truth", "first"),
                                       mean_ci_width=("ci_high", "mean")).reset_index()
        cov["mean_ci_width"] = df.assign(w=df["ci_high"] - df["ci_low"]).groupby("target")["w"].mean().to_numpy()
        result[method] = {"replications": args.replications, "seconds": round(time.perf_counter() - t0, 1),
                          "targets": cov.round(6).to_dict("records")}
        print(method, cov.to_string(index=False), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(out)


if __name__ == "__main__":
    main()
