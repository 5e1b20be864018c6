"""Domain estimation for all domains and variables at once (``svyby``), vectorised.

Means, totals and ratios of several variables in every domain of one or more grouping columns come
from one pass of group sums (a sparse n x domains indicator matrix) and one sparse variance
computation (:func:`cmlkit.variance.diag_variance`); there is no Python loop over domains. Results
equal ``svyby(~y1 + y2, ~d, design, svymean, na.rm = TRUE)`` run one variable at a time (a row
missing one variable is left out of that variable's base only), with each domain's design degrees
of freedom (``degf`` of the subset design) for the t interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from cmlkit import intervals
from cmlkit.design import Design, DesignError
from cmlkit.variance import diag_variance

ESTIMATORS = ("mean", "total", "ratio", "proportion")
NEGATIVE_REFUSED = ("logit",)      # svyciprop methods fitted by glm, which refuses negative weights
NEGATIVE_FLAG = ("negative weights in the base: R's svyciprop(method='logit') refuses them (glm: 'negative weights not "
                 "allowed'); the interval given is R's method='xlogit' (Wald on the logit scale of the linearised mean)")


def _numeric(design: Design, columns) -> np.ndarray:
    cols = []
    for c in columns:
        if isinstance(c, str):
            if c not in design.data:
                raise DesignError(f"no column {c!r} in the design data")
            cols.append(pd.to_numeric(design.data[c], errors="coerce").to_numpy(dtype=float))
        else:
            cols.append(np.asarray(c, dtype=float))
    return np.column_stack(cols) if cols else np.zeros((design.n, 0))


def domain_codes(design: Design, by) -> tuple[np.ndarray, list]:
    """Integer domain code per row (-1 where a grouping value is missing) and the sorted domain labels.

    Parameters
    ----------
    design : Design
    by : str or list of str
        The grouping column(s).

    Returns
    -------
    (codes, labels) : (numpy.ndarray, list)
    """
    by = [by] if isinstance(by, str) else list(by)
    for b in by:
        if b not in design.data:
            raise DesignError(f"no column {b!r} in the design data")
    parts = design.data[by].astype("string")
    missing = parts.isna().any(axis=1).to_numpy()
    key = parts.fillna("").agg("\x1f".join, axis=1) if len(by) > 1 else parts[by[0]].fillna("")
    codes, labels = pd.factorize(key.where(~missing), sort=True)
    return codes, [tuple(str(x).split("\x1f")) if len(by) > 1 else str(x) for x in labels]


def domain_degf(design: Design, codes: np.ndarray, n_dom: int) -> np.ndarray:
    """``degf`` of each domain's subset design: PSUs minus strata among rows of non-zero weight.

    Parameters
    ----------
    design : Design
    codes : numpy.ndarray
        Domain code per row (:func:`domain_codes`).
    n_dom : int
        Number of domains.

    Returns
    -------
    numpy.ndarray
        One df per domain.
    """
    keep = (codes >= 0) & (design.weights != 0)
    pairs = pd.DataFrame({"d": codes[keep], "s": design.stratum_codes()[keep], "c": design.psu_codes()[keep]}).drop_duplicates()
    out = pairs.groupby("d").size() - pairs.drop_duplicates(["d", "s"]).groupby("d").size()
    return out.reindex(range(n_dom), fill_value=0).to_numpy(dtype=float)


def domain_table(design: Design, columns, by, *, estimator: str = "mean", denominator=None, level: float = 0.95,
                 df=None, method: str = "logit") -> pd.DataFrame:
    """Estimates of several variables in every domain, with linearised SEs and intervals.

    Parameters
    ----------
    design : Design
    columns : str or sequence
        Variables (column names or arrays); for ``ratio``, the numerators.
    by : str or sequence of str
        Grouping column(s); rows with a missing group are in no domain.
    estimator : {"mean", "total", "ratio", "proportion"}
        ``proportion`` is a mean of a 0/1 variable with a ``svyciprop`` interval (``method``).
    denominator : str, optional
        Denominator column for ``ratio`` (``svyby(~y, ~d, denominator = ~x, svyratio)``).
    df : float, optional
        Degrees of freedom for the intervals; default each domain's design df.

    Returns
    -------
    pandas.DataFrame
        One row per variable x domain (domains sorted): ``variable, domain, estimate, se, ci_low,
        ci_high, df, level, ci_method, n`` (responses in the base) and, for proportions,
        ``boundary``. A domain with no responses has estimate NaN and n = 0.
    """
    if estimator not in ESTIMATORS:
        raise DesignError(f"estimator must be one of {ESTIMATORS}, not {estimator!r}")
    cols = [columns] if isinstance(columns, str) or np.ndim(columns) == 1 and not isinstance(columns, (list, tuple)) else list(columns)
    names = [c if isinstance(c, str) else f"x{i}" for i, c in enumerate(cols)]
    Y = _numeric(design, cols)
    codes, labels = domain_codes(design, by)
    n, V, D = design.n, Y.shape[1], len(labels)
    ok = ~np.isnan(Y) & (codes >= 0)[:, None]
    if estimator == "ratio":
        if denominator is None:
            raise DesignError("a ratio needs a denominator column")
        X = _numeric(design, [denominator])[:, 0]
        ok &= ~np.isnan(X)[:, None]
    w = design.weights
    wv = np.where(ok, w[:, None], 0.0)
    yv = np.where(ok, Y, 0.0)
    Gd = sparse.csr_matrix((np.ones(int((codes >= 0).sum())), (np.flatnonzero(codes >= 0), codes[codes >= 0])), shape=(n, D))
    num = np.asarray(Gd.T @ (wv * yv))                                 # D x V
    if estimator == "ratio":
        xv = np.where(ok, X[:, None], 0.0)
        den = np.asarray(Gd.T @ (wv * xv))
    elif estimator == "total":
        den = np.ones((D, V))
    else:
        den = np.asarray(Gd.T @ wv)
    count = np.asarray(Gd.T @ ok.astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.where(den != 0, num / den, np.nan)
    # influence values, column v * D + d, non-zero only in domain d's rows
    rows = np.repeat(np.arange(n), V)
    var_idx = np.tile(np.arange(V), n)
    dom = np.repeat(codes, V)
    keep = ok.ravel() & (dom >= 0)
    rows, var_idx, dom = rows[keep], var_idx[keep], dom[keep]
    e = np.nan_to_num(est[dom, var_idx])
    dd = den[dom, var_idx]
    safe = np.where(dd != 0, dd, np.inf)
    if estimator == "total":
        vals = w[rows] * Y[rows, var_idx]
    elif estimator == "ratio":
        vals = w[rows] * (Y[rows, var_idx] - e * X[rows]) / safe
    else:
        vals = w[rows] * (Y[rows, var_idx] - e) / safe
    z = sparse.csr_matrix((vals, (rows, var_idx * D + dom)), shape=(n, V * D))
    present = sparse.csr_matrix((np.ones(len(rows)), (rows, var_idx * D + dom)), shape=(n, V * D))
    var = diag_variance(design, z, present=present)
    se = np.sqrt(var).reshape(V, D)
    dfs = np.broadcast_to(domain_degf(design, codes, D) if df is None else np.asarray(df, float), (D,))
    out = pd.DataFrame({"variable": np.repeat(names, D), "domain": labels * V, "estimate": est.T.ravel(),
                        "se": np.where(count.T.ravel() > 0, se.ravel(), np.nan), "df": np.tile(dfs, V),
                        "level": level, "n": count.T.ravel().astype(int)})
    if estimator == "proportion":
        n_rows = np.full(D, float(n)) if design.calibrated else np.bincount(codes[codes >= 0], minlength=D).astype(float)
        ci = intervals.proportion(out["estimate"], out["se"], out["df"], out["n"], method=method, level=level,
                                  n_rows=np.tile(n_rows, V), df_design=np.tile(domain_degf(design, codes, D), V))
        out["ci_low"], out["ci_high"], out["ci_method"], out["boundary"] = ci["ci_low"], ci["ci_high"], ci["ci_method"], ci["boundary"]
        neg = np.bincount(codes[codes >= 0], weights=(w[codes >= 0] < 0).astype(float), minlength=D) > 0
        out["flag"] = np.where(np.tile(neg, V) & (method in NEGATIVE_REFUSED), NEGATIVE_FLAG, "")
    else:
        out["ci_low"], out["ci_high"] = intervals.wald(out["estimate"], out["se"], out["df"], level)
        out["ci_method"] = np.where(np.isinf(out["df"]), "wald-normal", "wald-t")
    return out[["variable", "domain", "estimate", "se", "ci_low", "ci_high", "df", "level", "ci_method", "n"]
               + (["boundary", "flag"] if estimator == "proportion" else [])]
