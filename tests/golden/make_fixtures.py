"""Write the frame-shaped CML fixture used for the R ``survey`` golden values (run once; output committed).

Synthetic (seeded) in-scope community libraries: region, type (CR/ICL), response indicator and
outcomes; plus volunteer responses clustered in the responding libraries.
Usage: ``.venv/bin/python tests/golden/make_fixtures.py``
"""
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit import synthetic as syn

HERE = Path(__file__).parent


def main():
    frame = syn.make_frame(480, random_state=424242)
    scope = syn.in_scope(frame)
    pop = syn.simulate_libraries(scope, random_state=1)
    p = syn.response_propensity(scope, random_state=2)
    rng = np.random.default_rng(3)
    pop["responded"] = rng.random(len(pop)) < p
    pop["type"] = pop["frame_code"]
    counts = pop.groupby(["region", "type"]).size().rename("N").reset_index()
    counts.to_csv(HERE / "cml_population.csv", index=False)
    resp = pop.loc[pop["responded"]].copy()
    resp["N_region"] = resp["region"].map(pop.groupby("region").size())
    resp["paid_coord"] = (resp["paid_staff"] == "paid_coordinator").astype(int)
    resp["conf3"] = resp["conf_3yr"].map({"very_unconfident": 1, "fairly_unconfident": 2, "neither": 3, "fairly_confident": 4, "very_confident": 5})
    cols = ["library_id", "region", "type", "N_region", "paid_coord", "opening_hours", "volunteers_active", "income_total", "conf3"]
    resp[cols].rename(columns={"opening_hours": "hours", "volunteers_active": "volunteers", "income_total": "income"}).to_csv(
        HERE / "cml_responses.csv", index=False)
    vol = syn.simulate_volunteers(resp, random_state=4)
    agree = {"strongly_disagree": 1, "disagree": 2, "neither": 3, "agree": 4, "strongly_agree": 5}
    vol["sat_score"] = vol[[c for c in vol.columns if c.startswith("sat_") and c != "sat_vol"]].apply(lambda c: c.map(agree)).mean(axis=1)
    n_sampled = vol.groupby("library_id").size()
    lib_w = resp.set_index("library_id")["N_region"] / resp.groupby("region").size().reindex(resp["region"]).to_numpy()
    vol["w_vol"] = vol["library_id"].map(lib_w) * vol["library_id"].map(resp.set_index("library_id")["volunteers_active"] / n_sampled)
    vol["older"] = vol["age_band"].isin(["age60_74", "age75plus"]).astype(int)
    vol[["library_id", "w_vol", "sat_score", "older"]].to_csv(HERE / "cml_volunteers.csv", index=False)
    print(len(pop), len(resp), len(vol))


if __name__ == "__main__":
    main()
