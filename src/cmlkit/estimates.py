"""Design-based estimates with linearised standard errors and stated intervals (R ``survey`` conventions).

Every function takes a :class:`~cmlkit.design.Design` whose weights are survey weights
(inverse probabilities of selection and response, possibly calibrated). Standard errors are
Taylor-linearised from influence values, account for strata, one stage of clusters, the finite
population correction and calibration (see :mod:`cmlkit.design`). Domains keep the whole design
with zero weight outside the domain. Missing values are dropped by giving them zero influence.

Intervals
---------
* Means, totals, ratios: ``estimate ± t(df) * SE``. ``df`` defaults to the design degrees of
  freedom (:func:`~cmlkit.design.degf`; of the domain for domain estimates); ``df=inf`` gives R's
  ``confint`` default (normal).
* Proportions (:func:`ci_proportion`), as ``svyciprop``: ``logit`` (Wald on the logit scale, t(df)),
  ``wilson`` (score interval with effective n), ``beta`` (Korn-Graubard/Clopper-Pearson with
  effective n rescaled by (t(n-1)/t(df))^2), ``mean`` (Wald).
* p-hat = 0 or 1 (every method breaks down: the SE is 0): the Clopper-Pearson interval for the
  unweighted domain count is returned instead and the row is flagged ``boundary=True``.
* A domain with no responses: estimate NaN, ``n = 0``. A domain whose df is 0: interval NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import distributions, domains, intervals
from cmlkit.design import Design, DesignError, degf, variance

CI_METHODS = intervals.CI_METHODS


def _y(design: Design, column) -> np.ndarray:
    if isinstance(column, str):
        if column not in design.data:
            raise DesignError(f"no column {column!r} in the design data")
        return pd.to_numeric(design.data[column], errors="coerce").to_numpy(dtype=float)
    return np.asarray(column, dtype=float)


def _domain(design, domain):
    if domain is None:
        return np.ones(design.n, dtype=bool)
    if isinstance(domain, str):
        return design.data[domain].astype(bool).to_numpy()
    return np.asarray(domain, dtype=bool)


def _result(est, se, df, level, kind, n, extra=None):
    q = distributions.t_ppf(0.5 + level / 2, df) if np.isfinite(df) and df > 0 else (distributions.norm_ppf(0.5 + level / 2) if not np.isfinite(df) else np.nan)
    out = {"estimate": est, "se": se, "ci_low": est - q * se, "ci_high": est + q * se, "df": df, "level": level,
           "ci_method": kind, "n": n}
    out.update(extra or {})
    return out


def total(design: Design, column, *, domain=None, level: float = 0.95, df=None, deff: bool = False) -> dict:
    """Estimated population total of ``column`` (in a domain), as ``svytotal``.

    Influence values z_i = w_i y_i.

    Parameters
    ----------
    design : Design
    column : str or array-like
        The variable (a column of the design's data, or values row-aligned with it).
    domain : str or array-like of bool, optional
        Estimate within this domain (other rows keep their place with zero weight).
    level : float, default 0.95
        Confidence level.
    df : float, optional
        Degrees of freedom of the interval; default the (domain) design df.
    deff : bool, default False
        Also return the design effect (design variance over SRS without replacement, R's ``deff=TRUE``).

    Returns
    -------
    dict
        ``estimate, se, ci_low, ci_high, df, level, ci_method, n`` (and ``deff``).
    """
    y = _y(design, column)
    dom = _domain(design, domain)
    ok = dom & ~np.isnan(y)
    w = np.where(ok, design.weights, 0.0)
    yv = np.where(ok, y, 0.0)
    est = float(np.sum(w * yv))
    v = float(variance(design, w * yv, present=ok)[0, 0])
    d = degf(design, domain=dom) if df is None else df
    extra = {}
    if deff:
        extra["deff"] = v / _vsrs(design, yv, w, kind="total")
    return _result(est, np.sqrt(v), d, level, "wald-t" if np.isfinite(d) else "wald-normal", int(ok.sum()), extra)


def mean(design: Design, column, *, domain=None, level: float = 0.95, df=None, deff: bool = False) -> dict:
    """Estimated population mean of ``column`` (in a domain), as ``svymean`` (ratio of totals).

    Influence values z_i = w_i (y_i - ybar) / sum(w).

    Parameters
    ----------
    design : Design
    column : str or array-like
        The variable.
    domain : str or array-like of bool, optional
        Estimate within this domain.
    level : float, default 0.95
    df : float, optional
        Degrees of freedom; default the (domain) design df.
    deff : bool, default False
        Also return the design effect.

    Returns
    -------
    dict
        As :func:`total`.
    """
    y = _y(design, column)
    dom = _domain(design, domain)
    ok = dom & ~np.isnan(y)
    w = np.where(ok, design.weights, 0.0)
    sw = w.sum()
    d = degf(design, domain=dom) if df is None else df
    if sw <= 0:
        return _result(np.nan, np.nan, d, level, "wald-t", 0)
    yv = np.where(ok, y, 0.0)
    est = float(np.sum(w * yv) / sw)
    z = w * (yv - est) / sw
    v = float(variance(design, z, present=ok)[0, 0])
    extra = {}
    if deff:
        extra["deff"] = v / _vsrs(design, yv, w, kind="mean")
    return _result(est, np.sqrt(v), d, level, "wald-t" if np.isfinite(d) else "wald-normal", int(ok.sum()), extra)


def _vsrs(design, y, w, *, kind):
    """Variance under simple random sampling without replacement (R's deff denominator).

    As R's ``svyvar``, the n/(n - 1) factor counts the rows of non-zero weight (``w`` is zero outside the rows
    estimated on)."""
    nobs = int(np.sum(w != 0))
    psum = w.sum()
    ybar = np.sum(w * y) / psum
    s2 = np.sum(w * (y - ybar) ** 2) / psum * nobs / (nobs - 1)
    v = s2 / nobs * (psum - nobs) / psum
    return v * psum ** 2 if kind == "total" else v


def ratio(design: Design, numerator, denominator, *, domain=None, level: float = 0.95, df=None) -> dict:
    """Ratio of two population totals, as ``svyratio``; z_i = w_i (y_i - R x_i) / X.

    Parameters
    ----------
    design : Design
    numerator, denominator : str or array-like
        The two variables.
    domain : str or array-like of bool, optional
    level : float, default 0.95
    df : float, optional
        Degrees of freedom; default the (domain) design df.

    Returns
    -------
    dict
        As :func:`total`.
    """
    y, x = _y(design, numerator), _y(design, denominator)
    dom = _domain(design, domain)
    ok = dom & ~np.isnan(y) & ~np.isnan(x)
    w = np.where(ok, design.weights, 0.0)
    yv, xv = np.where(ok, y, 0.0), np.where(ok, x, 0.0)
    X = np.sum(w * xv)
    d = degf(design, domain=dom) if df is None else df
    if X == 0:
        return _result(np.nan, np.nan, d, level, "wald-t", int(ok.sum()))
    r = float(np.sum(w * yv) / X)
    v = float(variance(design, w * (yv - r * xv) / X, present=ok)[0, 0])
    return _result(r, np.sqrt(v), d, level, "wald-t" if np.isfinite(d) else "wald-normal", int(ok.sum()))


def proportions(design: Design, column, *, domain=None, level: float = 0.95, df=None, method: str = "logit") -> pd.DataFrame:
    """Share of each level of a categorical ``column`` (``svymean(~factor(x))``) with proportion intervals.

    Rows with a missing value are left out of the base (``na.rm=TRUE``).

    Parameters
    ----------
    design : Design
    column : str
        The categorical variable.
    domain : str or array-like of bool, optional
    level : float, default 0.95
    df : float, optional
        Degrees of freedom; default the (domain) design df.
    method : {"logit", "wilson", "beta", "mean"}, default "logit"
        The interval (:func:`ci_proportion`).

    Returns
    -------
    pandas.DataFrame
        One row per level: ``level_value, estimate, se, ci_low, ci_high, df, ci_method, n, boundary``.
    """
    col = design.data[column]
    dom = _domain(design, domain) & col.notna().to_numpy()
    rows = []
    for value in sorted(col.dropna().astype(str).unique()):
        ind = (col.astype(str) == value).astype(float).to_numpy()
        r = ci_proportion(design, ind, domain=dom, level=level, df=df, method=method)
        rows.append({"value": value, **r})
    return pd.DataFrame(rows)


def ci_proportion(design: Design, indicator, *, domain=None, level: float = 0.95, df=None, method: str = "logit") -> dict:
    """A proportion with its interval, as ``svyciprop(~I(y == 1), design, method, df = degf(design))``.

    Parameters
    ----------
    indicator : str or array
        0/1 values (missing allowed: left out of the base).
    method : {"logit", "wilson", "beta", "mean"}
    df : float, optional
        Degrees of freedom for ``logit``, ``wilson`` and ``mean``; default the (domain) design df.
        ``beta`` always uses the (domain) design df and ``nrow`` of the subset design, as R does:
        the domain's row count for an uncalibrated design (R drops the other rows when
        subsetting), but the whole design's row count for a calibrated or post-stratified one
        (R keeps every row, with zero weight outside the domain).

    Returns
    -------
    dict
        ``estimate, se, df, level, ci_method, n, boundary, ci_low, ci_high, flag`` (``flag`` set where
        negative weights make the interval unusable).
    """
    if method not in CI_METHODS:
        raise DesignError(f"method must be one of {CI_METHODS}, not {method!r}")
    m = mean(design, indicator, domain=domain, level=level, df=df)
    p, se, d, n = m["estimate"], m["se"], m["df"], m["n"]
    dom = _domain(design, domain)
    n_rows = design.n if design.calibrated else int(dom.sum())   # R: nrow of the subset design
    ci = intervals.proportion(p, se, d, n, method=method, level=level, n_rows=n_rows, df_design=degf(design, domain=dom))
    out = {"estimate": p, "se": se, "df": d, "level": level, "ci_method": str(ci["ci_method"][0]), "n": n,
           "boundary": bool(ci["boundary"][0]), "ci_low": float(ci["ci_low"][0]), "ci_high": float(ci["ci_high"][0])}
    neg = bool(np.any(design.weights[dom] < 0))
    out["flag"] = domains.NEGATIVE_FLAG if (neg and method in domains.NEGATIVE_REFUSED) else ""
    return out


def by_domain(design: Design, column, by: str, *, estimator: str = "mean", level: float = 0.95, df=None, **kw) -> pd.DataFrame:
    """An estimate for each domain defined by ``by`` (``svyby``); empty domains give NaN with n = 0.

    Vectorised over domains (:func:`cmlkit.domains.domain_table`).

    Parameters
    ----------
    design : Design
    column : str
        The variable.
    by : str
        The column defining the domains.
    estimator : {"mean", "total", "ratio", "proportion"}, default "mean"
        ``ratio`` needs ``denominator``; ``proportion`` (of a 0/1 column) takes ``method``.
    level : float, default 0.95
    df : float, optional
        Degrees of freedom; default each domain's design df.
    **kw
        ``denominator`` or ``method``, passed on.

    Returns
    -------
    pandas.DataFrame
        One row per domain: the ``by`` value and the estimate's columns.
    """
    if estimator not in domains.ESTIMATORS:
        raise DesignError(f"estimator must be mean, total, ratio or proportion, not {estimator!r}")
    t = domains.domain_table(design, [column], by, estimator=estimator, level=level, df=df, **kw)
    t = t.drop(columns="variable").rename(columns={"domain": by if isinstance(by, str) else "domain"})
    return t.reset_index(drop=True)
