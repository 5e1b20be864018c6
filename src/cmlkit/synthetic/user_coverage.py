"""Coverage of the users' two-stage intervals on synthetic waves (``benchmarks/bench_user_coverage.py``).

One synthetic population of libraries and their users is kept fixed. Each replication redraws which libraries
answer the library questionnaire (missing at random given region, type and hours), weights them as the library
weighting step does (:func:`cmlkit.nonresponse.weight_responses`), redraws the intercept survey at those libraries
(chance proportional to visits x an age-dependent response rate) and estimates mean overall satisfaction and the
share satisfied with

- ``two_stage``: the users' design (:func:`cmlkit.user_weights.user_design`: inverse visit frequency, raked to the
  population's age bands, libraries then users, fpc at both stages);
- ``ignoring_clustering``: the same weights, users treated as independent (``svydesign(ids = ~1, weights)``);
- ``two_stage_no_age_raking`` and ``no_visit_adjustment``: the design without each adjustment (bias shown).

Coverage is the share of replications whose 95% interval holds the population value, with its Monte Carlo SE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import design as D
from cmlkit import estimates as E
from cmlkit import nonresponse
from cmlkit import synthetic as syn
from cmlkit.synthetic import users as su
from cmlkit import user_weights as UW

SCORES = {n: i + 1.0 for i, n in enumerate(su.SAT_NAMES)}
TARGETS = ("sat_overall_score", "sat_overall_satisfied")


def population(*, n_community: int = 480, wave_year: int, seed: int = 2025) -> dict:
    """The fixed population: in-scope libraries (latent state), their users, true values and age counts.

    Parameters
    ----------
    n_community : int, default 480
        Community managed libraries in the synthetic frame (:func:`cmlkit.synthetic.make_frame`).
    wave_year : int
        Year of fieldwork.
    seed : int, default 2025
        Seeds four independent streams (frame, libraries, users, response propensity).

    Returns
    -------
    dict
        ``"scope"``: the in-scope libraries of the frame; ``"libraries"``: their simulated latent state
        (:func:`cmlkit.synthetic.simulate_libraries`); ``"users"``: every user
        (:func:`cmlkit.synthetic.users.simulate_user_population`, with ``response_id`` = ``user_key``);
        ``"truth"``: ``{"sat_overall_score", "sat_overall_satisfied"}``, the population's mean overall
        satisfaction (1-5) and share satisfied or very satisfied; ``"propensity"``: each in-scope
        library's chance of answering the library questionnaire; ``"counts"``: ``library_id,
        active_users``; ``"ages"``: ``age_band, users``.
    """
    ss = np.random.SeedSequence(seed)
    r_frame, r_lib, r_users, r_resp = (np.random.default_rng(s) for s in ss.spawn(4))
    frame = syn.make_frame(n_community, random_state=r_frame)
    scope = syn.in_scope(frame)
    libs = syn.simulate_libraries(scope, wave_year=wave_year, random_state=r_lib)
    users = su.simulate_user_population(libs, wave_year=wave_year, random_state=r_users)
    users["response_id"] = users["user_key"]
    score = users["sat_overall"].map(SCORES)
    truth = {"sat_overall_score": float(score.mean()), "sat_overall_satisfied": float((score >= 4).mean())}
    return {"scope": scope, "libraries": libs, "users": users, "truth": truth,
            "propensity": syn.response_propensity(scope, random_state=r_resp),
            "counts": users.groupby("library_id")["user_key"].size().rename("active_users").reset_index(),
            "ages": users["age_band"].value_counts().rename("users").rename_axis("age_band").reset_index()}


def _estimates(des: D.Design) -> dict:
    y = des.data["sat_overall"].map(SCORES).to_numpy(dtype=float)
    out = {}
    for name, values in (("sat_overall_score", y), ("sat_overall_satisfied", (y >= 4).astype(float))):
        r = E.mean(des, values)
        out[name] = (r["estimate"], r["se"], r["ci_low"], r["ci_high"])
    return out


def replicate(pop: dict, rng, *, visits_per_month: dict, year: int) -> dict:
    """One replication: library response, library weights, intercept sample, the four analyses.

    Parameters
    ----------
    pop : dict
        The population, as returned by :func:`population`.
    rng : numpy.random.Generator
        Draws which libraries answer and the intercept sample (advanced in place).
    visits_per_month : dict
        ``visit_frequency`` choice -> visits a month (for :func:`cmlkit.user_weights.user_weights`).
    year : int
        Year of the library weighting and of fieldwork (the intercept survey starts on 3 March).

    Returns
    -------
    dict
        ``"two_stage"``, ``"ignoring_clustering"``, ``"two_stage_no_age_raking"`` and
        ``"no_visit_adjustment"``, each ``{target: (estimate, se, ci_low, ci_high)}`` for the targets
        ``sat_overall_score`` and ``sat_overall_satisfied``; ``"n_users"`` and ``"n_libraries"``: the size
        of the intercept sample.
    """
    libs = pop["libraries"]
    responded = rng.random(len(libs)) < pop["propensity"]
    lib_resp = libs.loc[responded, ["library_id", "opening_hours"]].assign(response_id=lambda t: t["library_id"])
    des, _ = nonresponse.weight_responses(lib_resp, pop["scope"], year=year)
    sample = su.intercept_sample(pop["users"], lib_resp["library_id"], fieldwork_start=f"{year}-03-03", random_state=rng)
    kw = {"visits_per_month": visits_per_month, "user_counts": pop["counts"]}
    wu = UW.user_weights(sample, des.data, **kw)[0]
    plain = UW.user_weights(sample, des.data, adjust="none", **kw)[0]
    two = UW.user_design(wu, age_population=pop["ages"])
    return {"two_stage": _estimates(two),
            "ignoring_clustering": _estimates(D.svydesign(two.data.assign(_w=two.weights), weights="_w")),
            "two_stage_no_age_raking": _estimates(UW.user_design(wu)),
            "no_visit_adjustment": _estimates(UW.user_design(plain, age_population=pop["ages"])),
            "n_users": int(len(sample)), "n_libraries": int(sample["library_id"].nunique())}


def coverage_study(*, replications: int = 200, seed: int = 2025, n_community: int = 480, wave_year: int,
                   visits_per_month: dict) -> tuple[pd.DataFrame, dict]:
    """Run the replications; return one row per replication x analysis x target and the population truth.

    Parameters
    ----------
    replications : int, default 200
        Number of replications.
    seed : int, default 2025
        Seeds the population (:func:`population`) and, through ``[seed, 1]``, the replications.
    n_community : int, default 480
        Community managed libraries in the synthetic frame.
    wave_year : int
        Year of fieldwork.
    visits_per_month : dict
        ``visit_frequency`` choice -> visits a month.

    Returns
    -------
    results : pandas.DataFrame
        Columns ``replication, analysis, target, estimate, se, ci_low, ci_high, n_users, n_libraries``.
    truth : dict
        The population values, ``{"sat_overall_score", "sat_overall_satisfied"}``.
    """
    pop = population(n_community=n_community, wave_year=wave_year, seed=seed)
    rng = np.random.default_rng([seed, 1])
    rows = []
    for r in range(replications):
        res = replicate(pop, rng, visits_per_month=visits_per_month, year=wave_year)
        for analysis in ("two_stage", "ignoring_clustering", "two_stage_no_age_raking", "no_visit_adjustment"):
            for target, (est, se, lo, hi) in res[analysis].items():
                rows.append({"replication": r, "analysis": analysis, "target": target, "estimate": est, "se": se,
                             "ci_low": lo, "ci_high": hi, "n_users": res["n_users"], "n_libraries": res["n_libraries"]})
    return pd.DataFrame(rows), pop["truth"]


def summarise(results: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """Coverage (with Monte Carlo SE), bias, mean SE against the replication SD, mean interval width.

    Parameters
    ----------
    results : pandas.DataFrame
        The replications, as returned by :func:`coverage_study`.
    truth : dict
        ``target -> population value``.

    Returns
    -------
    pandas.DataFrame
        One row per analysis x target, in order of first appearance, with columns ``analysis, target,
        coverage`` (share of intervals holding the truth, bounds included), ``replications, truth,
        mean_estimate, sd_estimate`` (SD of the estimates across replications), ``mean_se,
        mean_ci_width, mean_users, mean_libraries, mc_se`` (``sqrt(coverage (1 - coverage) /
        replications)``), ``bias`` (``mean_estimate - truth``) and ``se_over_sd`` (``mean_se /
        sd_estimate``).
    """
    t = results.assign(truth=results["target"].map(truth))
    t["covered"] = (t["ci_low"] <= t["truth"]) & (t["truth"] <= t["ci_high"])
    g = t.groupby(["analysis", "target"], sort=False)
    out = g.agg(coverage=("covered", "mean"), replications=("covered", "size"), truth=("truth", "first"),
                mean_estimate=("estimate", "mean"), sd_estimate=("estimate", "std"), mean_se=("se", "mean"),
                mean_ci_width=("ci_high", "mean"), mean_users=("n_users", "mean"), mean_libraries=("n_libraries", "mean"))
    out["mean_ci_width"] = (t["ci_high"] - t["ci_low"]).groupby([t["analysis"], t["target"]], sort=False).mean().to_numpy()
    out["mc_se"] = np.sqrt(out["coverage"] * (1 - out["coverage"]) / out["replications"])
    out["bias"] = out["mean_estimate"] - out["truth"]
    out["se_over_sd"] = out["mean_se"] / out["sd_estimate"]
    return out.reset_index()
