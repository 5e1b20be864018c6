"""Write tests/golden/trend_stacked.csv: two stacked synthetic waves of one panel (for trend.R).

Run from the repository root:  python tests/golden/make_trend_fixture.py
Columns: wave, library_id, region, type, weight (each wave's own post-stratification weight to its
frame) and three
outcomes: y_cont (months of reserves, some missing), y_bin (has a paid coordinator) and y_stable (weekly
opening hours: the same library gives nearly the same answer in both waves, so ignoring the overlap
overstates the standard error of the change).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit import synthetic as syn, waves
from cmlkit.synthetic import panel as sp

OUT = Path(__file__).with_name("trend_stacked.csv")


def _weights(resp, scope, wave):
    n = resp.groupby(["region", "type"]).size()
    N = scope.groupby(["region", "type"]).size()
    key = pd.MultiIndex.from_frame(resp[["region", "type"]])
    return (N.reindex(key).to_numpy() / n.reindex(key).to_numpy()).astype(float)


def main():
    first = waves.first_wave()
    later = [w for w in waves.all_waves() if waves.parse_wave(w) > waves.parse_wave(first)][0]
    inst = waves.instruments_by_unit(first)["library"]
    rng = np.random.default_rng(20260101)
    frame_a = syn.make_frame(160, random_state=rng)
    scope_a = syn.in_scope(frame_a)
    pop_a = syn.simulate_libraries(scope_a, wave_year=waves.wave_year(first), random_state=rng)
    frame_b, _ = sp.advance_frame(frame_a, wave_year=waves.wave_year(later), rates=sp.transition_rates(frame_a), random_state=rng)
    scope_b = syn.in_scope(frame_b)
    pop_b, _ = sp.advance_population(pop_a, scope_b, inst=inst, wave_year=waves.wave_year(later), random_state=rng)
    resp_a = rng.random(len(pop_a)) < 0.55
    was = pop_b["library_id"].isin(pop_a.loc[resp_a, "library_id"]).to_numpy()
    resp_b = rng.random(len(pop_b)) < np.where(was, 0.92, 0.25)
    parts = []
    for wave, pop, resp, scope in ((first, pop_a, resp_a, scope_a), (later, pop_b, resp_b, scope_b)):
        r = pop.loc[resp].assign(type=lambda x: x["frame_code"]).reset_index(drop=True)
        sc = scope.assign(type=scope["operation_23"])
        hours = r["opening_hours"].astype(float) + (0 if wave == first else rng.normal(0, 0.5, len(r)))
        parts.append(pd.DataFrame({
            "wave": wave, "library_id": r["library_id"], "region": r["region"], "type": r["type"],
            "weight": _weights(r, sc, wave),
            "y_cont": (r["reserves"].astype(float) / np.maximum(r["expenditure_total"].astype(float) / 12, 1)).round(6),
            "y_bin": (r["paid_staff"] == "paid_coordinator").astype(float).where(r["paid_staff"].notna()),
            "y_stable": hours.round(3)}))
    stacked = pd.concat(parts, ignore_index=True)
    stacked.to_csv(OUT, index=False, float_format="%.10g")
    print(OUT, len(stacked))


if __name__ == "__main__":
    main()
