"""Coverage of 95% change intervals on synthetic panel waves whose true change is known (issue 13 acceptance).

One synthetic population is moved a year on with planted changes (cmlkit.synthetic.panel); who responds in each
wave is redrawn ``--replications`` times (previous respondents answer more often); each time both waves are
weighted to their own frames (raking to region and type margins plus weekly hours), stacked, and every headline
indicator's change is estimated overall, by type and by region with library-clustered SEs (cmlkit.change).
Writes JSON: coverage of the change intervals (overall / by breakdown / per indicator), the mean ratio of the
interval width to the independent-samples width, and the planted changes' coverage.

Run: ``.venv/bin/python benchmarks/bench_change_coverage.py --replications 200``.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit.synthetic.change_study import estimate_change, panel_populations
from cmlkit.tables import write_json


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--replications", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--n-community", type=int, default=480)
    ap.add_argument("--out", default="benchmarks/results/bench_change_coverage.json")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    panel = panel_populations(args.seed, n_community=args.n_community)
    reps = pd.concat([estimate_change(panel, random_state=[args.seed, r]).assign(replication=r)
                      for r in range(args.replications)], ignore_index=True)
    reps = reps.loc[reps["true_change"].notna() & (reps["se"] > 0) & (reps[["n_a", "n_b"]].min(axis=1) >= 5)]
    region = panel["planted"]["reserves_region"]["region"]
    planted = reps.loc[((reps["indicator"] == "paid_coordinator") & (reps["breakdown"] == "overall"))
                       | ((reps["indicator"] == "months_of_reserves") & (reps["domain"] == region))]

    def summary(d):
        return {"coverage": round(float(d["covered"].mean()), 4), "intervals": int(len(d)),
                "mean_width_ratio_to_independent": round(float((d["se"] / d["se_independent"]).mean()), 4),
                "mean_standardised_error": round(float(((d["change"] - d["true_change"]) / d["se"]).mean()), 4)}

    result = {
        "replications": args.replications, "seed": args.seed, "n_in_scope": [len(panel["pop_a"]), len(panel["pop_b"])],
        "waves": panel["waves"], "level": 0.95, "seconds": round(time.perf_counter() - t0, 1),
        "overall": summary(reps.loc[reps["breakdown"] == "overall"]),
        "by_breakdown": {b: summary(g) for b, g in reps.groupby("breakdown")},
        "by_indicator_overall": {i: summary(g) for i, g in reps.loc[reps["breakdown"] == "overall"].groupby("indicator")},
        "planted": {f"{r.indicator}|{r.domain}": summary(g) | {"true_change": round(float(r.true_change), 6)}
                    for (r, g) in ((g.iloc[0], g) for _, g in planted.groupby(["indicator", "domain"]))},
        "median_libraries_in_both_waves": int(np.median(reps.loc[reps["breakdown"] == "overall", "n_both"])),
    }
    out = write_json(result, Path(args.out))
    print(out, result["overall"], result["by_breakdown"], flush=True)


if __name__ == "__main__":
    main()
