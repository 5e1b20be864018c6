"""What the risk index adds, checked on a generator that is not built to agree with it.

:func:`indicator_aucs` scores each indicator on its own (its normalised 0-1 risk) and the whole index
against a known outcome, with 95% percentile intervals from library bootstrap resamples (the same
draws for every score, so the index's **gain over the best single indicator** has its own
interval). :func:`missing_behaviour` shows how the index holds up when indicators are missing:
each indicator dropped for everyone, and answers removed completely at random at several rates.

Run it on ``simulate_libraries(..., scenario="non_circular")`` (:mod:`cmlkit.synthetic.scenarios`): there
some indicators carry no signal and the outcome also depends on a pressure the index cannot see,
so the index should *not* reach a perfect score, and the no-signal indicators should sit near 0.5.
What it can show: whether the aggregation rewards the informative indicators, whether it loses to
its own best part, and how gracefully it degrades with missing answers. What it cannot show: that
the real indicators relate to real closures as the generator assumes — only follow-up of real
libraries (the closure history, later waves) can show that.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import risk as R
from cmlkit.closure_validation import weighted_auc


def _boot_weights(n: int, B: int, random_state) -> np.ndarray:
    rng = np.random.default_rng(random_state)
    W = np.zeros((B, n))
    np.add.at(W, (np.repeat(np.arange(B), n), rng.integers(0, n, size=B * n)), 1.0)
    return W


def indicator_aucs(data: pd.DataFrame, truth, spec: dict, *, inst=None, B: int = 1000, level: float = 0.95,
                   random_state=0) -> tuple[pd.DataFrame, dict]:
    """AUC of each indicator's normalised risk and of the index against ``truth``.

    Each score is evaluated on the libraries where it is available; the bootstrap resamples
    libraries (``B`` draws, shared by all scores).

    Parameters
    ----------
    data : pandas.DataFrame
        Clean responses.
    truth : array-like of 0/1
        The outcome, row-aligned.
    spec : dict
        The risk specification.
    inst : Instrument, optional
    B : int, default 1000
        Bootstrap draws.
    level : float, default 0.95
    random_state : int, default 0

    Returns
    -------
    (table, gain)
        table: ``score, auc, ci_low, ci_high, n, weight`` (``index`` first, then the indicators by AUC);
        gain: ``best_indicator``, ``gain`` (index AUC - best indicator AUC), ``ci_low``, ``ci_high``.
    """
    values, _ = R.indicators(data, spec, inst=inst)
    risks = R.normalise(values, spec)
    score = R.aggregate(risks, spec)
    y = np.asarray(truth, dtype=float)
    W = _boot_weights(len(y), B, random_state)
    a = (1 - level) / 2
    rows, boots = [], {}
    cols = {"index": score.to_numpy(dtype=float), **{c: risks[c].to_numpy(dtype=float) for c in risks}}
    for name, s in cols.items():
        ok = np.isfinite(s) & np.isfinite(y)
        boots[name] = weighted_auc(s[ok], y[ok], W[:, ok])
        rows.append({"score": name, "auc": float(weighted_auc(s[ok], y[ok], np.ones(ok.sum()))[0]),
                     "ci_low": float(np.nanquantile(boots[name], a)), "ci_high": float(np.nanquantile(boots[name], 1 - a)),
                     "n": int(ok.sum()), "weight": float(spec["indicators"][name].get("weight", 1)) if name != "index" else np.nan})
    table = pd.DataFrame(rows)
    table = pd.concat([table.iloc[:1], table.iloc[1:].sort_values("auc", ascending=False)], ignore_index=True)
    best = table.iloc[1:].loc[lambda t: t["auc"].idxmax()]
    diff = boots["index"] - boots[best["score"]]
    gain = {"best_indicator": best["score"], "best_indicator_auc": float(best["auc"]), "index_auc": float(table.iloc[0]["auc"]),
            "gain": float(table.iloc[0]["auc"] - best["auc"]),
            "ci_low": float(np.nanquantile(diff, a)), "ci_high": float(np.nanquantile(diff, 1 - a))}
    return table, gain


def missing_behaviour(data: pd.DataFrame, truth, spec: dict, *, inst=None, rates=(0.1, 0.2, 0.3),
                      random_state=0) -> pd.DataFrame:
    """Index AUC, share of libraries scored and rank agreement with the full index when indicators go missing.

    Scenarios: ``none`` (as answered), ``drop <indicator>`` (that indicator missing for everyone) and
    ``random <rate>`` (each answered indicator value removed independently with that probability).

    Parameters
    ----------
    data : pandas.DataFrame
        Clean responses.
    truth : array-like of 0/1
        The outcome.
    spec : dict
        The risk specification.
    inst : Instrument, optional
    rates : tuple of float, default (0.1, 0.2, 0.3)
        Random-missing rates.
    random_state : int, default 0

    Returns
    -------
    pandas.DataFrame
        One row per scenario.
    """
    values, _ = R.indicators(data, spec, inst=inst)
    risks = R.normalise(values, spec)
    full = R.aggregate(risks, spec)
    y = np.asarray(truth, dtype=float)
    rng = np.random.default_rng(random_state)
    scenarios = {"none": risks}
    for c in risks.columns:
        scenarios[f"drop {c}"] = risks.assign(**{c: np.nan})
    for r in rates:
        mask = rng.random(risks.shape) < r
        scenarios[f"random {r:.0%}"] = risks.mask(mask)
    rows = []
    for name, rk in scenarios.items():
        s = R.aggregate(rk, spec).to_numpy(dtype=float)
        ok = np.isfinite(s) & np.isfinite(y)
        both = ok & np.isfinite(full.to_numpy(dtype=float))
        rho = pd.Series(s[both]).corr(pd.Series(full.to_numpy(dtype=float)[both]), method="spearman") if both.sum() > 2 else np.nan
        rows.append({"scenario": name, "auc": float(weighted_auc(s[ok], y[ok], np.ones(ok.sum()))[0]),
                     "share_scored": float(ok.mean()), "spearman_with_full": float(rho)})
    return pd.DataFrame(rows)
