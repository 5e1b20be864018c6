"""Coverage of design-based intervals on synthetic waves (the population is known).

:func:`coverage_study` keeps one synthetic population of in-scope libraries fixed and redraws who
responds (missing at random given region, type and size) ``replications`` times; each time it
weights the respondents to the frame and estimates known population values with 95% intervals.
The share of intervals containing the true value should be close to 95%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import estimates as E
from cmlkit import nonresponse as NR
from cmlkit import synthetic as syn


def coverage_study(*, replications: int = 200, n_community: int = 480, method: str = "rake", seed: int = 2025,
                   level: float = 0.95, auxiliaries=()) -> pd.DataFrame:
    """Repeat response, weighting and estimation; return one row per replication and target.

    Targets: share with a paid coordinator (logit interval), mean weekly opening hours and mean
    active volunteers (t intervals). Columns: ``replication, target, truth, estimate, ci_low,
    ci_high, covered, n``.
    """
    rng = np.random.default_rng(seed)
    frame = syn.make_frame(n_community, random_state=rng)
    scope = syn.in_scope(frame)
    pop = syn.simulate_libraries(scope, random_state=rng)
    pop["paid_coord"] = (pop["paid_staff"] == "paid_coordinator").astype(float)
    truth = {"paid_coordinator_share": pop["paid_coord"].mean(), "mean_opening_hours": pop["opening_hours"].mean(),
             "mean_volunteers": pop["volunteers_active"].mean()}
    p = syn.response_propensity(scope, random_state=np.random.default_rng(seed + 1))
    rows = []
    for r in range(replications):
        responded = np.random.default_rng([seed, r]).random(len(pop)) < p
        resp = pop.loc[responded].assign(response_id=lambda d: d["library_id"])
        des, _ = NR.weight_responses(resp, scope, method=method, auxiliaries=auxiliaries)
        ests = {"paid_coordinator_share": E.ci_proportion(des, "paid_coord", level=level),
                "mean_opening_hours": E.mean(des, "opening_hours", level=level),
                "mean_volunteers": E.mean(des, "volunteers_active", level=level)}
        for target, est in ests.items():
            rows.append({"replication": r, "target": target, "truth": truth[target], "estimate": est["estimate"],
                         "ci_low": est["ci_low"], "ci_high": est["ci_high"],
                         "covered": bool(est["ci_low"] - 1e-9 * abs(truth[target]) <= truth[target] <= est["ci_high"] + 1e-9 * abs(truth[target])),
                         "n": est["n"]})
    return pd.DataFrame(rows)
