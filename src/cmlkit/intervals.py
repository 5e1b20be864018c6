"""Confidence intervals for estimates and proportions, vectorised over many estimates (R ``survey`` rules).

* :func:`wald` — ``estimate ± t(df) * SE`` (``df = inf``: normal, R's ``confint`` default; df <= 0: NaN).
* :func:`proportion` — ``svyciprop`` methods: ``logit`` (Wald on the logit scale), ``wilson``
  (score interval with the effective n), ``beta`` (Korn-Graubard: effective n rescaled by
  ``(t(nrow - 1) / t(degf))^2``, then beta quantiles), ``mean`` (Wald). R gives no usable interval
  when p-hat is 0 or 1; there the Clopper-Pearson interval for the unweighted count is returned and
  the flag says so.
"""

from __future__ import annotations

import numpy as np

from cmlkit import distributions

CI_METHODS = ("logit", "wilson", "beta", "mean")


def t_quantile(df, level: float) -> np.ndarray:
    """Upper (1 + level) / 2 quantile of t(df); normal where df is infinite, NaN where df <= 0.

    Parameters
    ----------
    df : float or array-like
        Degrees of freedom.
    level : float
        Confidence level, e.g. 0.95.

    Returns
    -------
    numpy.ndarray
    """
    df = np.asarray(df, dtype=float)
    q = np.full(df.shape, np.nan)
    fin = np.isfinite(df) & (df > 0)
    q[fin] = distributions.t_ppf(0.5 + level / 2, df[fin])
    q[np.isinf(df)] = distributions.norm_ppf(0.5 + level / 2)
    return q


def wald(est, se, df, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wald interval ``est ± t(df) se``.

    Parameters
    ----------
    est, se : float or array-like
        Estimates and their standard errors.
    df : float or array-like
        Degrees of freedom (infinite: normal quantile).
    level : float, default 0.95

    Returns
    -------
    (low, high) : tuple of numpy.ndarray
    """
    q = t_quantile(df, level)
    est, se = np.asarray(est, float), np.asarray(se, float)
    return est - q * se, est + q * se


def proportion(p, se, df, n, *, method: str = "logit", level: float = 0.95, n_rows=None, df_design=None) -> dict:
    """Interval for proportions ``p`` with SEs ``se`` (arrays), as ``svyciprop``.

    Parameters
    ----------
    p, se, df, n : array-like
        Estimates, standard errors, degrees of freedom, responses in the base (unweighted).
    method : {"logit", "wilson", "beta", "mean"}
    n_rows, df_design : array-like, optional
        For ``beta``: ``nrow`` and ``degf`` of the (subset) design.

    Returns
    -------
    dict of arrays
        ``ci_low, ci_high, boundary`` (True where p-hat is 0 or 1 or the SE is 0: Clopper-Pearson
        for the unweighted count) and ``ci_method``.
    """
    p, se, df, n = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (p, se, df, n))
    alpha = 1 - level
    lo, hi = np.full(p.shape, np.nan), np.full(p.shape, np.nan)
    valid = (n > 0) & np.isfinite(p)
    boundary = valid & ((p <= 0) | (p >= 1) | (se == 0))
    inner = valid & ~boundary
    q = t_quantile(df, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "mean":
            lo, hi = np.where(inner, p - q * se, lo), np.where(inner, p + q * se, hi)
        elif method == "logit":
            eta, se_eta = np.log(p / (1 - p)), se / (p * (1 - p))
            lo = np.where(inner, 1 / (1 + np.exp(-(eta - q * se_eta))), lo)
            hi = np.where(inner, 1 / (1 + np.exp(-(eta + q * se_eta))), hi)
        elif method == "wilson":
            ne = p * (1 - p) / se ** 2
            centre = (p + q ** 2 / (2 * ne)) / (1 + q ** 2 / ne)
            half = q / (1 + q ** 2 / ne) * np.sqrt(p * (1 - p) / ne + q ** 2 / (4 * ne ** 2))
            lo, hi = np.where(inner, centre - half, lo), np.where(inner, centre + half, hi)
        elif method == "beta":
            nr = np.atleast_1d(np.asarray(n_rows, dtype=float))
            dd = np.atleast_1d(np.asarray(df_design, dtype=float))
            ne = p * (1 - p) / se ** 2
            ok = inner & (nr > 1) & (dd > 0)
            ratio = np.full(p.shape, np.nan)
            ratio[ok] = (distributions.t_ppf(alpha / 2, nr[ok] - 1) / distributions.t_ppf(alpha / 2, dd[ok])) ** 2
            ne = ne * ratio
            lo = np.where(ok, distributions.beta_ppf(alpha / 2, ne * p, ne * (1 - p) + 1), lo)
            hi = np.where(ok, distributions.beta_ppf(1 - alpha / 2, ne * p + 1, ne * (1 - p)), hi)
        else:
            raise ValueError(f"method must be one of {CI_METHODS}, not {method!r}")
    k = np.round(np.where(boundary, p * n, 0))
    nb = np.where(boundary, n, 1)
    cp_lo = np.where(k == 0, 0.0, distributions.beta_ppf(alpha / 2, np.maximum(k, 1e-300), nb - k + 1))
    cp_hi = np.where(k == nb, 1.0, distributions.beta_ppf(1 - alpha / 2, k + 1, np.maximum(nb - k, 1e-300)))
    lo, hi = np.where(boundary, cp_lo, lo), np.where(boundary, cp_hi, hi)
    label = np.where(boundary, np.char.add(f"{method}->clopper-pearson(n=", np.char.add(n.astype(int).astype(str), ")")), method)
    return {"ci_low": lo, "ci_high": hi, "boundary": boundary, "ci_method": label}
