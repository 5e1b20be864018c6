"""Quantiles (medians, quartiles) with R ``svyquantile``'s default rule and interval, overall and by domain.

As ``svyquantile(~y, design, quantiles, na.rm = TRUE)`` in R ``survey`` (4.1 or later), defaults
``qrule = "math"`` and ``interval.type = "mean"``:

* **Estimate** (``qrule = "math"``): sort the responses with non-zero weight; with cumulative
  weights C_k and total W, take the last k with C_k <= p W (k = 1 when none); the quantile is x_k
  when C_k / W equals p exactly, otherwise x_(k+1) (the inverse of the weighted empirical CDF).
* **Interval** (Woodruff): the proportion below the estimate, ``svymean(y <= q)``, gets a Wald
  interval on the design degrees of freedom (of the rows used); its two ends are mapped back
  through the same rule. An end outside [0, 1] gives NaN, as in R.
* **SE**: the interval width over ``2 t(df)``, as R reports it.

Domains are done together: one sort by (domain, value), cumulative weights within domains and a
vectorised search; the CDF proportions come from :func:`cmlkit.domains.domain_table`. No loop over
domains.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import intervals
from cmlkit.design import Design, DesignError
from cmlkit.domains import domain_codes, domain_degf, domain_table


def _sorted_groups(y, w, codes, D):
    """Rows used by the rule (non-missing, non-zero weight, in a domain) sorted by (domain, value)."""
    use = ~np.isnan(y) & (w != 0) & (codes >= 0)
    idx = np.flatnonzero(use)
    order = idx[np.lexsort((y[idx], codes[idx]))]               # stable: ties keep their row order, as R's order()
    g = codes[order]
    cw = np.cumsum(w[order].astype(np.longdouble))              # R accumulates sums in long double
    count = np.bincount(g, minlength=D)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    offset = np.concatenate([[np.longdouble(0)], cw])[start]
    cw_grp = (cw - offset[g]).astype(float)
    total = np.where(count > 0, cw_grp[np.maximum(start + count - 1, 0)], np.nan)
    return order, g, cw_grp, start, count, total


def _qrule_math(ys, g, cw, start, count, total, p):
    """R's ``qrule_math`` in every domain at once; ``p`` is one probability per domain (NaN: skip)."""
    p = np.asarray(p, dtype=float)
    thr = p[g] * total[g]
    k = np.bincount(g, weights=(cw <= thr).astype(float), minlength=len(count)).astype(int)
    pos = np.maximum(k, 1)                                       # R's last(): 1 when no cumulative weight is <= p W
    has = (count > 0) & np.isfinite(p)
    i_pos = np.where(has, start + pos - 1, 0)
    wlow = p - cw[i_pos] / np.where(has, total, 1.0)
    i_next = np.where(pos == count, i_pos, i_pos + 1)
    out = np.where(wlow == 0, ys[i_pos], ys[np.minimum(i_next, len(ys) - 1)])
    return np.where(has, out, np.nan)


def quantile_table(design: Design, columns, by=None, *, quantiles=(0.5,), level: float = 0.95, df=None) -> pd.DataFrame:
    """Quantiles of several variables, overall or in every domain of ``by``, as ``svyquantile``.

    Parameters
    ----------
    design : Design
    columns : str or sequence of str
    by : str or sequence of str, optional
        Domain column(s); None for the whole population (domain "all").
    quantiles : sequence of float
        Probabilities in [0, 1] (e.g. (0.25, 0.5, 0.75)).
    level : float
        Interval level.
    df : float, optional
        Degrees of freedom; default the design df of the rows used (R's ``degf`` after ``na.rm``).

    Returns
    -------
    pandas.DataFrame
        ``variable, domain, quantile, estimate, ci_low, ci_high, se, df, n, ci_method``.
    """
    cols = [columns] if isinstance(columns, str) else list(columns)
    qs = [float(q) for q in quantiles]
    if any(not 0 <= q <= 1 for q in qs):
        raise DesignError(f"quantiles must lie in [0, 1], not {qs}")
    if by is None:
        design = Design(**{**design.__dict__, "data": design.data.assign(_all="all")})
        by = "_all"
    codes, labels = domain_codes(design, by)
    D = len(labels)
    w = design.weights
    frames = []
    for col in cols:                      # loop over variables and probabilities only; domains are vectorised
        if col not in design.data:
            raise DesignError(f"no column {col!r} in the design data")
        y = pd.to_numeric(design.data[col], errors="coerce").to_numpy(dtype=float)
        order, g, cw, start, count, total = _sorted_groups(y, w, codes, D)
        ys = y[order]
        kept = np.where(np.isnan(y), -1, codes)
        dfs = domain_degf(design, kept, D) if df is None else np.full(D, float(df))
        n = np.bincount(kept[kept >= 0], minlength=D)
        for q in qs:
            qhat = _qrule_math(ys, g, cw, start, count, total, np.full(D, q))
            below = np.where(kept >= 0, (y <= qhat[np.maximum(codes, 0)]).astype(float), np.nan)
            m = domain_table(design, [below], by, estimator="mean", level=level, df=None)
            lo_p, hi_p = intervals.wald(m["estimate"].to_numpy(), m["se"].to_numpy(), dfs, level)
            lo = _qrule_math(ys, g, cw, start, count, total, np.where(lo_p < 0, np.nan, lo_p))
            hi = _qrule_math(ys, g, cw, start, count, total, np.where(hi_p > 1, np.nan, hi_p))
            se = (hi - lo) / (2 * intervals.t_quantile(dfs, level))
            frames.append(pd.DataFrame({"variable": col, "domain": labels, "quantile": q, "estimate": qhat, "ci_low": lo,
                                        "ci_high": hi, "se": se, "df": dfs, "n": n, "ci_method": "woodruff (mean), qrule math"}))
    return pd.concat(frames, ignore_index=True)
