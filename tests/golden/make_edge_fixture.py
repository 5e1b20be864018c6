"""Write tests/golden/edge_designs.csv: a stratified two-stage sample for the edge-case designs (edge_designs.R).

PSUs (libraries) in six strata, numbered 1, 2, ... within each stratum (``psu_local``) and uniquely (``psu``);
SSUs (people) in PSUs with unequal cluster sizes; ``w`` the two-stage weights, ``w0`` the same with every eighth row
weighted 0 (kept in the file, as some exports keep out-of-scope rows). Run from the repository root:

    .venv/bin/python tests/golden/make_edge_fixture.py
"""
from pathlib import Path

import numpy as np
import pandas as pd


def edge_fixture(seed: int = 15, n_strata: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for h in range(n_strata):
        n_h = [2, 3, 4, 5, 6][h % 5]
        N_h = n_h * rng.integers(3, 8)
        for i in range(n_h):
            M_i = int(rng.integers(5, 40))
            m_i = int(min(M_i, rng.integers(2, 9)))
            u = rng.normal(0, 1)
            for j in range(m_i):
                x = rng.gamma(2.0, 2.0) + 0.5
                rows.append(dict(stratum=f"S{h}", psu_local=i + 1, psu=f"S{h}P{i + 1}", ssu=j + 1, N_h=int(N_h), M_i=M_i,
                                 x=round(x, 3), y=round(10 + 2 * h + 3 * u + 1.5 * x + rng.normal(0, 2), 3),
                                 age=rng.choice(["16-34", "35-64", "65+"], p=[0.3, 0.45, 0.25])))
    d = pd.DataFrame(rows)
    d["w"] = d["N_h"] / d.groupby("stratum")["psu"].transform("nunique") * d["M_i"] / d.groupby("psu")["ssu"].transform("size")
    d["w0"] = np.where(np.arange(len(d)) % 8 == 3, 0.0, d["w"])
    return d


if __name__ == "__main__":
    edge_fixture().to_csv(Path(__file__).with_name("edge_designs.csv"), index=False)
