"""Case-study balance: the probability-sampled cases, with their inclusion weights, against the population.

:func:`balance` is the balance table written by the case-study step and recomputed after each
replacement (:mod:`cmlkit.sampling`); :func:`balance_summary` its few headline numbers (the README's
balance claim is this summary of the table). Purposive (typical/deviant) cases are shown beside
the probability sample, never pooled with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def balance_columns(cands: pd.DataFrame, spec: dict) -> tuple[list, list]:
    """The numeric and categorical balancing variables of ``spec`` known for every candidate.

    Parameters
    ----------
    cands : pandas.DataFrame
        The candidates.
    spec : dict
        The case-study specification (``balance_on``).

    Returns
    -------
    (numeric, categorical) : (list, list)
    """
    bal = spec.get("balance_on") or {}
    num = [c for c in bal.get("numeric", []) if c in cands and cands[c].notna().all()]
    cat = [c for c in bal.get("categorical", []) if c in cands and cands[c].notna().all()]
    return num, cat


def _balance_groups(table: pd.DataFrame, achieved: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Probability-sampled cases and their weights, purposive cases, and how they were weighted.

    A reserve brought in for a declined library keeps its own inclusion probability (the one the
    design gave it), not the declined library's: the weight describes the library in the sample.
    """
    role = table["role"].astype(str) if "role" in table else pd.Series("main", index=table.index)
    chosen = (table["status"] == "selected").to_numpy() if achieved and "status" in table else (table["selected"] == 1).to_numpy()
    purposive = chosen & role.isin(["typical", "deviant"]).to_numpy()
    prob = chosen & ~purposive
    col = "pik_achieved" if "pik_achieved" in table and table["pik_achieved"].notna().any() else "pik"
    pik = table[col].astype(float) if col in table else pd.Series(np.nan, index=table.index)
    pik = pik.to_numpy(dtype=float)
    if np.isfinite(pik[prob]).all() and (pik[prob] > 0).all() and prob.any():
        return prob, np.where(prob, 1.0 / np.where(prob, pik, 1.0), 0.0), purposive, f"1/{col}"
    return prob, prob.astype(float), purposive, "none: not a probability sample (unweighted)"


def balance(table: pd.DataFrame, spec: dict, *, achieved: bool = True) -> pd.DataFrame:
    """Probability-sampled cases, weighted by their inclusion weights, against the population.

    The population is every candidate the draw was made from. The main sample (and reserves brought
    in for declined libraries, each with its own inclusion probability) is
    weighted by 1 / the achieved inclusion probability (``pik_achieved``, else ``pik``); typical and
    deviant cases are chosen on purpose, so they are shown separately, unweighted. With
    maximum-variation selection there are no inclusion probabilities and the sample is unweighted
    (``weighting`` says so).

    Parameters
    ----------
    table : pandas.DataFrame
        The selection table (candidates with role, status and inclusion probabilities).
    spec : dict
        The case-study specification.
    achieved : bool, default True
        Weight by ``pik_achieved`` where present.

    Returns
    -------
    pandas.DataFrame
        One row per numeric variable and per category of each categorical one: ``variable,
        category, population, population_sd, sample`` (weighted mean or share), ``std_diff``
        ((sample - population) / population SD), ``sample_n``, ``weighting``, ``purposive``,
        ``purposive_std_diff``, ``purposive_n``.
    """
    prob, w, purp, how = _balance_groups(table, achieved)
    num, cat = balance_columns(table, spec)
    cols, cats = [], []
    for c in num:
        cols.append(table[c].astype(float).to_numpy())
        cats.append((c, ""))
    for c in dict.fromkeys([*cat, "stratum", "region"]):
        if c not in table:
            continue
        v = table[c].astype(str)
        for lev in v.value_counts().index:
            cols.append((v == lev).to_numpy(dtype=float))
            cats.append((c, lev))
    if not cols:
        return pd.DataFrame(columns=["variable", "category", "population", "population_sd", "sample", "std_diff", "sample_n",
                                     "weighting", "purposive", "purposive_std_diff", "purposive_n"])
    X = np.column_stack(cols)
    pop = X.mean(axis=0)
    sd = X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    samp = (w @ X) / w.sum() if w.sum() > 0 else np.full(X.shape[1], np.nan)
    pur = X[purp].mean(axis=0) if purp.any() else np.full(X.shape[1], np.nan)
    return pd.DataFrame({"variable": [a for a, _ in cats], "category": [b for _, b in cats], "population": pop,
                         "population_sd": sd, "sample": samp, "std_diff": (samp - pop) / sd, "sample_n": int(prob.sum()),
                         "weighting": how, "purposive": pur, "purposive_std_diff": (pur - pop) / sd,
                         "purposive_n": int(purp.sum())})


def balance_summary(bal: pd.DataFrame, *, threshold: float = 0.25) -> dict:
    """The balance table in a few numbers: the probability sample's mean and largest absolute
    standardised difference, the share of rows within ``threshold``, and the same for the purposive cases.

    Parameters
    ----------
    bal : pandas.DataFrame
        :func:`balance` output.
    threshold : float, default 0.25
        The standardised difference counted as balanced.

    Returns
    -------
    dict
    """
    d = bal["std_diff"].abs()
    p = bal["purposive_std_diff"].abs()
    return {"probability_sample_n": int(bal["sample_n"].iloc[0]) if len(bal) else 0,
            "weighting": str(bal["weighting"].iloc[0]) if len(bal) else "",
            "mean_abs_std_diff": float(d.mean()), "max_abs_std_diff": float(d.max()),
            "share_within_threshold": float((d <= threshold).mean()), "threshold": threshold,
            "purposive_n": int(bal["purposive_n"].iloc[0]) if len(bal) else 0,
            "purposive_mean_abs_std_diff": float(p.mean()) if p.notna().any() else None}
