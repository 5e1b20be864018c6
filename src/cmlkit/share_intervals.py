"""Intervals that respect the bounds of what they describe: a share is published inside [0, 1].

A t interval ``estimate ± t(df) SE`` on a share near 0 or 1 can leave [0, 1] (the issue's
"2% (−1% to 4%)"). For every share-valued estimate — a weighted proportion of a 0/1 item, or a
weighted mean of a value that lies in [0, 1] (a share of income, a share of listed services, an
index from 0 to 1) — cmlkit publishes the **logit interval**: the Wald interval on the logit scale
mapped back, ``expit(logit(p) ± t(df) SE / (p (1 - p)))``. This is R ``survey``'s
``svyciprop(~y, design, method = "logit", df = degf(design))`` (intercept-only quasibinomial
``svyglm``; its linearised SE on the logit scale is SE(p) / (p (1 - p))), checked against R in
``tests/test_intervals.py``. Where the estimate is exactly 0 or 1 its SE is 0 and the interval is
the point itself (flagged in ``method``); weighted proportions of 0/1 items already carry
``estimates.ci_proportion``'s Clopper-Pearson fallback there and are left as they are.

Which indicators are shares is read from their definition (``research/indicators.yml``): an
explicit ``unit`` wins, otherwise :data:`UNIT_OF_DERIVATION` maps the derivation to a unit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import distributions

UNITS = ("share", "index", "score", "months", "number")
"""Units a findings row can carry: ``share`` (0-1, shown as %), ``index`` (0-1, shown to 2 decimals),
``score`` (a choice-score mean, e.g. 1-5), ``months`` and ``number`` (unbounded)."""

BOUNDED_UNITS = ("share", "index")


def _count_unit(d: dict) -> str:
    items = len(d["count"]) + len(d.get("plus_equals") or {})
    return "share" if float(d.get("divide_by", 1)) >= items else "number"


def _ratio_unit(d: dict) -> str:
    return "months" if float(d.get("multiplier", 1)) == 12 else "number"


UNIT_OF_DERIVATION = {
    "share": lambda d: "share",
    "equals": lambda d: "share",
    "count": _count_unit,
    "count_choices": lambda d: "share",
    "diversity": lambda d: "index",
    "score": lambda d: "score",
    "mean_score": lambda d: "score",
    "ratio": _ratio_unit,
    "years_until": lambda d: "number",
    "source": lambda d: "number",
}
"""Derivation (``indicators.DERIVATIONS``) -> function of the derive mapping giving the unit."""


def unit_of(indicator: dict) -> str:
    """The unit of one indicator definition (``unit`` if stated, else from its kind and derivation).

    Parameters
    ----------
    indicator : dict
        One entry of ``indicators.yml`` (``kind``, ``derive``, optional ``unit``).

    Returns
    -------
    str
        One of :data:`UNITS`.
    """
    if indicator.get("unit"):
        if indicator["unit"] not in UNITS:
            raise ValueError(f"unknown unit {indicator['unit']!r}; use one of {UNITS}")
        return indicator["unit"]
    if indicator.get("kind") == "proportion":
        return "share"
    derive = indicator.get("derive") or {}
    for key, fn in UNIT_OF_DERIVATION.items():
        if key in derive:
            return fn(derive)
    return "number"


def units(spec: dict) -> dict:
    """Indicator name -> unit for every indicator of a specification.

    Parameters
    ----------
    spec : dict
        An indicator specification (``research/indicators.yml``); its ``indicators`` mapping is read
        (none: an empty result).

    Returns
    -------
    dict
        Indicator name -> one of :data:`UNITS`, from :func:`unit_of`.

    Raises
    ------
    ValueError
        If an indicator states a ``unit`` that is not one of :data:`UNITS`.
    """
    return {name: unit_of(ind) for name, ind in spec.get("indicators", {}).items()}


def logit_interval(estimate, se, df, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Logit (Wald on the logit scale) interval of share-valued estimates, vectorised.

    Parameters
    ----------
    estimate, se, df : array-like
        Estimates in [0, 1], their linearised standard errors and degrees of freedom (``inf``:
        normal quantile).
    level : float, default 0.95

    Returns
    -------
    (low, high) : numpy arrays
        Inside [0, 1]; the point itself where the estimate is 0 or 1 or the SE is 0; NaN where the
        estimate, SE or df is missing or df <= 0.
    """
    p = np.asarray(estimate, dtype=float)
    s = np.asarray(se, dtype=float)
    d = np.asarray(df, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(np.isinf(d), distributions.norm_ppf(0.5 + level / 2), distributions.t_ppf(0.5 + level / 2, np.where(d > 0, d, np.nan)))
        inner = (p > 0) & (p < 1) & (s > 0)
        pp = np.where(inner, p, 0.5)
        eta = np.log(pp / (1 - pp))
        half = q * s / (pp * (1 - pp))
        low = np.where(inner, 1 / (1 + np.exp(-(eta - half))), p)
        high = np.where(inner, 1 / (1 + np.exp(-(eta + half))), p)
    bad = np.isnan(p) | np.isnan(s) | np.isnan(q)
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def bound_shares(rows: pd.DataFrame, *, spec: dict, level: float = 0.95) -> pd.DataFrame:
    """Give every share-valued mean row of an estimate table the logit interval, and a ``unit``.

    Parameters
    ----------
    rows : pandas.DataFrame
        :func:`cmlkit.findings.estimate_rows` output (``indicator, estimate, se, df, ci_low, ci_high,
        method``).
    spec : dict
        The indicator specification the rows were estimated from (its ``indicators``).

    Returns
    -------
    pandas.DataFrame
        A copy with ``unit`` after ``label`` and, for rows whose unit is bounded and whose interval
        was a t interval, ``ci_low``/``ci_high`` replaced by the logit interval and ``method`` saying so.
        Proportion rows (already logit or Clopper-Pearson) keep theirs.
    """
    out = rows.copy()
    unit = out["indicator"].map(units(spec)).fillna("number")
    if "unit" in out:
        out["unit"] = unit
    else:
        out.insert(int(out.columns.get_loc("label")) + 1 if "label" in out else len(out.columns), "unit", unit)
    mean_rows = unit.isin(BOUNDED_UNITS) & out["method"].astype(str).str.startswith("weighted mean")
    if mean_rows.any():
        sub = out.loc[mean_rows]
        low, high = logit_interval(sub["estimate"], sub["se"], sub["df"], level=level)
        out.loc[mean_rows, "ci_low"] = low
        out.loc[mean_rows, "ci_high"] = high
        point = (sub["estimate"] <= 0) | (sub["estimate"] >= 1) | (sub["se"] <= 0)
        out.loc[mean_rows, "method"] = np.where(
            point, "weighted mean of a 0-1 value, all responses at the bound: interval is the point",
            "weighted mean of a 0-1 value, linearised SE, logit interval on design df (svyciprop method='logit')")
    return out


def check_bounds(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of a findings table whose bounded-unit interval leaves [0, 1] or misses its estimate.

    Parameters
    ----------
    rows : pandas.DataFrame
        A findings table with ``unit``, ``estimate``, ``ci_low`` and ``ci_high``.

    Returns
    -------
    pandas.DataFrame
        The rows whose unit is in :data:`BOUNDED_UNITS` and whose ``ci_low`` is below 0, ``ci_high``
        above 1, or estimate outside ``[ci_low, ci_high]``; empty when all are inside. Rows with a
        missing bound are not reported.
    """
    b = rows.loc[rows["unit"].isin(BOUNDED_UNITS)]
    lo, hi = b["ci_low"], b["ci_high"]
    return b.loc[(lo < 0) | (hi > 1) | (b["estimate"] < lo) | (b["estimate"] > hi)]
