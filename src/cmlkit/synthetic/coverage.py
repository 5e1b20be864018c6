"""Coverage of design-based intervals on synthetic waves (the population is known).

:func:`coverage_study` keeps one synthetic population of in-scope libraries fixed and redraws who
responds (missing at random given region, type and weekly hours: :func:`cmlkit.synthetic.response_propensity`)
``replications`` times; each time it weights the respondents to the frame with each weighting
method and estimates every headline of the findings table — each library-level indicator of
``research/indicators.yml`` (service breadth, Universal Offer score, council support, income
diversity, council share, months of reserves, confidence, shares with a paid coordinator or
confident of the future, volunteers aged 60+), total income, and mean opening hours and volunteers
— with 95% intervals, as :mod:`cmlkit.estimates` computes them (checked in the tests), but for all
headlines at once (:func:`headline_estimates`: one influence matrix, one variance call).

:func:`summarise` reports coverage with its Monte Carlo standard error ``sqrt(p (1 - p) / R)``; a
headline the weighting reproduces exactly (e.g. mean hours when the weights are calibrated to the
frame's hours: the interval has zero width and always "covers") is labelled
``exact_by_construction`` and not counted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cmlkit import design as D
from cmlkit import indicators as I
from cmlkit import nonresponse as NR
from cmlkit import synthetic as syn
from cmlkit import waves
from cmlkit.instrument import load_instrument

EXTRA = {"income_total": ("total", "Total income (population total)"),
         "opening_hours": ("mean", "Mean weekly opening hours"),
         "volunteers_active": ("mean", "Mean active volunteers")}
METHODS = {"rake": ("rake", ()), "poststratify": ("poststratify", ()), "linear": ("linear", ()),
           "rake+hours": ("rake", ("hours",))}


def population(*, n_community: int = 480, seed: int = 2025, inst=None) -> tuple:
    """The fixed synthetic population: in-scope frame rows, libraries with headline columns, targets.

    Parameters
    ----------
    n_community : int, default 480
        Community libraries in the population.
    seed : int, default 2025
    inst : Instrument, optional

    Returns
    -------
    (scope, pop, targets)
        targets: ``target, label, kind`` (mean, proportion or total) and ``truth`` (the population value).
    """
    rng = np.random.default_rng(seed)
    frame = syn.make_frame(n_community, random_state=rng)
    scope = syn.in_scope(frame)
    pop = syn.simulate_libraries(scope, random_state=rng)
    spec = I.load_spec()
    # (instrument, wave) of the library questionnaire; default: the first wave's (cmlkit.waves)
    inst = load_instrument(*inst) if inst else waves.instruments_by_unit(waves.first_wave())["library"]
    lib_spec = {"indicators": {k: v for k, v in spec["indicators"].items() if v.get("unit", "library") == "library"}}
    ind = I.compute(pop, lib_spec, inst=inst)
    heads = {k: (v["kind"], v["label"]) for k, v in lib_spec["indicators"].items() if k in ind}
    pop = pd.concat([pop, ind[list(heads)]], axis=1)
    heads.update(EXTRA)
    rows = []
    for name, (kind, label) in heads.items():
        y = pd.to_numeric(pop[name], errors="coerce")
        rows.append({"target": name, "label": label, "kind": kind,
                     "truth": float(y.sum()) if kind == "total" else float(y.mean())})
    return scope, pop, pd.DataFrame(rows)


def headline_estimates(design: D.Design, targets: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Every headline's estimate and interval from one influence matrix (as :func:`cmlkit.estimates.mean`,
    :func:`~cmlkit.estimates.total` and :func:`~cmlkit.estimates.ci_proportion` with the logit interval).

    Missing values are left out of each headline's base, as the single-headline functions do.

    Parameters
    ----------
    design : Design
    targets : pandas.DataFrame
        :func:`population` targets.
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per target.
    """
    names = targets["target"].tolist()
    kinds = targets["kind"].to_numpy()
    Y = design.data[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    ok = ~np.isnan(Y)
    W = design.weights[:, None] * ok
    Yv = np.where(ok, Y, 0.0)
    sw = W.sum(axis=0)
    tot = (W * Yv).sum(axis=0)
    mean = tot / np.where(sw > 0, sw, np.nan)
    is_total = kinds == "total"
    Z = np.where(is_total[None, :], W * Yv, W * (Yv - mean) / np.where(sw > 0, sw, np.nan))
    se = np.sqrt(np.clip(np.diag(D.variance(design, Z)), 0, None))
    df = D.degf(design)
    q = stats.t.ppf(0.5 + level / 2, df)
    est = np.where(is_total, tot, mean)
    lo, hi = est - q * se, est + q * se
    prop = (kinds == "proportion") & (mean > 0) & (mean < 1) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta, se_eta = np.log(mean / (1 - mean)), se / (mean * (1 - mean))
    lo = np.where(prop, 1 / (1 + np.exp(-(eta - q * se_eta))), lo)
    hi = np.where(prop, 1 / (1 + np.exp(-(eta + q * se_eta))), hi)
    n = ok.sum(axis=0)
    edge = (kinds == "proportion") & ~prop & (n > 0)               # p-hat 0 or 1: Clopper-Pearson on the count
    if edge.any():
        k = np.round(mean * n)
        a = 1 - level
        lo = np.where(edge, np.where(k == 0, 0.0, stats.beta.ppf(a / 2, np.maximum(k, 1), n - k + 1)), lo)
        hi = np.where(edge, np.where(k == n, 1.0, stats.beta.ppf(1 - a / 2, k + 1, np.maximum(n - k, 1))), hi)
    return pd.DataFrame({"target": names, "estimate": est, "se": se, "ci_low": lo, "ci_high": hi, "df": df, "n": n})


def coverage_study(*, replications: int = 1000, methods=("rake",), n_community: int = 480, seed: int = 2025,
                   level: float = 0.95) -> pd.DataFrame:
    """Repeat response, weighting (each method) and estimation; one row per replication, method and target.

    ``methods`` are keys of :data:`METHODS` (``rake``, ``poststratify``, ``linear``, ``rake+hours``).
    Columns: ``replication, method, target, kind, truth, estimate, se, ci_low, ci_high, covered, n``.

    Parameters
    ----------
    replications : int, default 1000
    methods : tuple of str, default ("rake",)
    n_community : int, default 480
    seed : int, default 2025
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
    """
    scope, pop, targets = population(n_community=n_community, seed=seed)
    p = syn.response_propensity(scope, random_state=np.random.default_rng(seed + 1))
    pop = pop.assign(response_id=pop["library_id"])
    truth = targets.set_index("target")["truth"]
    parts = []
    for r in range(replications):
        responded = np.random.default_rng([seed, r]).random(len(pop)) < p
        resp = pop.loc[responded]
        for m in methods:
            how, aux = METHODS[m]
            des, _ = NR.weight_responses(resp, scope, method=how, auxiliaries=aux)
            est = headline_estimates(des, targets, level=level)
            est.insert(0, "method", m)
            est.insert(0, "replication", r)
            parts.append(est)
    out = pd.concat(parts, ignore_index=True)
    out["truth"] = out["target"].map(truth)
    out["kind"] = out["target"].map(targets.set_index("target")["kind"])
    tol = 1e-9 * out["truth"].abs()
    out["covered"] = (out["ci_low"] - tol <= out["truth"]) & (out["truth"] <= out["ci_high"] + tol)
    return out


def summarise(results: pd.DataFrame, *, nominal: float = 0.95, exact_tol: float = 1e-9) -> pd.DataFrame:
    """Coverage per method and target with its Monte Carlo SE, bias and width; exact rows labelled.

    ``exact_by_construction``: the interval has (numerically) zero width in every replication — the
    weighting reproduces the population value, so coverage says nothing about the interval and the
    row is not ``counted``. ``in_band``: coverage within [0.93, 0.97].

    Parameters
    ----------
    results : pandas.DataFrame
        :func:`coverage_study` output.
    nominal : float, default 0.95
    exact_tol : float, default 1e-9

    Returns
    -------
    pandas.DataFrame
    """
    r = results.assign(width=results["ci_high"] - results["ci_low"], err=results["estimate"] - results["truth"])
    g = r.groupby(["method", "target"], sort=False)
    out = g.agg(kind=("kind", "first"), replications=("covered", "size"), coverage=("covered", "mean"),
                truth=("truth", "first"), mean_estimate=("estimate", "mean"), mean_se=("se", "mean"),
                empirical_sd=("estimate", "std"), mean_ci_width=("width", "mean"), max_width=("width", "max"),
                mean_n=("n", "mean")).reset_index()
    out["mc_se"] = np.sqrt(out["coverage"] * (1 - out["coverage"]) / out["replications"])
    out["relative_bias"] = (out["mean_estimate"] - out["truth"]) / out["truth"].abs()
    out["bias_over_sd"] = (out["mean_estimate"] - out["truth"]) / out["empirical_sd"]
    out["se_over_sd"] = out["mean_se"] / out["empirical_sd"]
    out["exact_by_construction"] = out["max_width"] <= exact_tol * out["truth"].abs().clip(lower=1)
    out["counted"] = ~out["exact_by_construction"]
    out["in_band"] = out["coverage"].between(0.93, 0.97) & out["counted"]
    return out.drop(columns="max_width")
