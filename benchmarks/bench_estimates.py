"""Domain estimation speed: cmlkit against R ``survey::svyby`` on the same calibrated design (issue 15).

A seeded synthetic design (9 strata with the fpc, raked to stratum and type margins), 5 means by a
50-level domain, at 20,000 and 200,000 rows. cmlkit times :func:`cmlkit.domains.domain_table`; R
times ``svyby(~y1 + ... + y5, ~dom, design, svymean)`` with its own ``system.time`` (data loading,
design building and calibration excluded on both sides). Medians of 3 runs of wall and CPU time;
the estimates and SEs of both are compared. Writes JSON (default
``benchmarks/results/bench_estimates.json``). Run with ``nice``:
``nice .venv/bin/python benchmarks/bench_estimates.py``.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit import design as D
from cmlkit import domains
from cmlkit import tables
from cmlkit import weights as W

R_SCRIPT = r"""
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
m <- read.csv(args[2])
reps <- as.integer(args[4])
des <- svydesign(id = ~1, strata = ~region, fpc = ~N_region, weights = ~w, data = d)
pop <- c(`(Intercept)` = sum(m$N[m$margin == "region"]),
         setNames(m$N[m$margin == "region"][-1], paste0("region", m$level[m$margin == "region"][-1])),
         setNames(m$N[m$margin == "type"][-1], paste0("type", m$level[m$margin == "type"][-1])))
dc <- calibrate(des, ~region + type, pop, calfun = "raking")
wall <- cpu <- numeric(reps)
for (i in seq_len(reps)) {
  st <- system.time(b <- svyby(~y1 + y2 + y3 + y4 + y5, ~dom, dc, svymean))
  wall[i] <- st[["elapsed"]]; cpu[i] <- st[["user.self"]] + st[["sys.self"]]
}
est <- as.matrix(coef(b)); se <- as.matrix(SE(b))
out <- data.frame(dom = rep(rownames(b), 5), variable = rep(paste0("y", 1:5), each = nrow(b)),
                  estimate = sprintf("%.17g", as.vector(matrix(coef(b), nrow = nrow(b)))),
                  se = sprintf("%.17g", as.vector(as.matrix(SE(b)))))
write.csv(out, args[3], row.names = FALSE)
cat(sprintf('{"wall": [%s], "cpu": [%s], "survey": "%s", "r": "%s"}\n', paste(wall, collapse = ","), paste(cpu, collapse = ","),
            as.character(packageVersion("survey")), R.version.string))
"""


def make_data(n: int, *, n_domains: int = 50, random_state: int = 15) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded respondents (region strata, type, domain, five outcomes) and the population margins."""
    rng = np.random.default_rng(random_state)
    regions = np.array([f"R{i}" for i in range(9)])
    region = rng.choice(regions, n, p=np.linspace(1, 2, 9) / np.linspace(1, 2, 9).sum())
    N_region = pd.Series(region).map(pd.Series(region).value_counts() * 4).to_numpy()
    typ = np.where(rng.random(n) < 0.3 + 0.05 * (np.char.str_len(region) % 2), "ICL", "CR")
    dom = np.array([f"D{i:02d}" for i in range(n_domains)])[rng.integers(0, n_domains, n)]
    ys = {f"y{j}": rng.gamma(2 + j, 10, n) + (typ == "ICL") * j for j in range(1, 6)}
    data = pd.DataFrame({"region": region, "N_region": N_region, "type": typ, "dom": dom, **ys})
    data["w"] = data["N_region"] / data.groupby("region")["region"].transform("size")
    N = int(data["N_region"].groupby(data["region"]).first().sum())
    margins = pd.DataFrame({"margin": ["region"] * 9 + ["type"] * 2,
                            "level": list(regions) + ["CR", "ICL"],
                            "N": list(data.groupby("region")["N_region"].first().reindex(regions)) + [round(N * 0.62), N - round(N * 0.62)]})
    return data, margins


def calibrated_design(data: pd.DataFrame, margins: pd.DataFrame) -> D.Design:
    des = D.svydesign(data, strata="region", fpc="N_region", weights="w")
    m = {k: dict(zip(g["level"], g["N"].astype(float))) for k, g in margins.groupby("margin")}
    return W.calibrate(des, margins=m, calfun="raking")


def time_cmlkit(des: D.Design, reps: int) -> tuple[list, list, pd.DataFrame]:
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        t = domains.domain_table(des, [f"y{j}" for j in range(1, 6)], "dom", estimator="mean")
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu, t


def time_r(data, margins, reps, tmp: Path):
    if shutil.which("Rscript") is None:
        return None, None
    data.to_csv(tmp / "data.csv", index=False)
    margins.to_csv(tmp / "margins.csv", index=False)
    (tmp / "bench.R").write_text(R_SCRIPT)
    res = subprocess.run(["Rscript", str(tmp / "bench.R"), str(tmp / "data.csv"), str(tmp / "margins.csv"), str(tmp / "r_out.csv"), str(reps)],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1]), pd.read_csv(tmp / "r_out.csv", dtype={"estimate": str, "se": str})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", nargs="+", type=int, default=[20_000, 200_000])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/bench_estimates.json")
    args = ap.parse_args(argv)
    result = {"machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                          "cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__},
              "task": "5 means by a 50-level domain, stratified design with fpc raked to region and type margins",
              "sizes": {}}
    for n in args.sizes:
        data, margins = make_data(n)
        des = calibrated_design(data, margins)
        wall, cpu, ours = time_cmlkit(des, args.reps)
        entry = {"rows": n, "cmlkit_wall_s": wall, "cmlkit_cpu_s": cpu, "cmlkit_wall_median_s": float(np.median(wall)),
                 "cmlkit_cpu_median_s": float(np.median(cpu))}
        with tempfile.TemporaryDirectory() as tmp:
            r, r_out = time_r(data, margins, args.reps, Path(tmp))
        if r is not None:
            r_out["estimate"], r_out["se"] = r_out["estimate"].astype(float), r_out["se"].astype(float)
            merged = ours.merge(r_out, left_on=["variable", "domain"], right_on=["variable", "dom"], suffixes=("", "_r"))
            rel = lambda a, b: float(np.max(np.abs(a - b) / np.abs(b)))  # noqa: E731
            entry.update({"r_wall_s": r["wall"], "r_cpu_s": r["cpu"], "r_wall_median_s": float(np.median(r["wall"])),
                          "r_cpu_median_s": float(np.median(r["cpu"])), "survey_version": r["survey"], "r_version": r["r"],
                          "ratio_wall": float(np.median(r["wall"]) / np.median(wall)),
                          "ratio_cpu": float(np.median(r["cpu"]) / np.median(cpu)),
                          "compared": int(len(merged)), "max_rel_diff_estimate": rel(merged["estimate"], merged["estimate_r"]),
                          "max_rel_diff_se": rel(merged["se"], merged["se_r"])})
        result["sizes"][str(n)] = entry
        print(json.dumps(entry), flush=True)
    print(tables.write_json(result, args.out))


if __name__ == "__main__":
    main()
