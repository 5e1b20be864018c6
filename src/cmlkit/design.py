"""Survey designs for linearisation (Taylor-series) variance estimation, following R ``survey``.

A :class:`Design` holds responses, their survey weights (inverse inclusion probabilities, possibly
adjusted for nonresponse and calibrated), optional strata and one stage of clusters (PSUs), the
finite population correction, and the calibration steps applied, in order. Calibration steps
change how the variance is computed: influence values are replaced by their residuals from the
calibration (post-stratification: centred on post-stratum means; GREG/raking/logit calibration:
weighted least-squares residuals on the calibration variables), exactly as R's ``svyrecvar`` does,
so a post-stratified total can have a *smaller* standard error than the unadjusted one.

Variance of an estimator with influence values z (after the calibration steps)::

    V = sum_h (1 - f_h) * n_h / (n_h - 1) * sum_i (z_hi - zbar_h)^2

over PSU totals z_hi in stratum h, with f_h = n_h / N_h when a population size is given (no fpc:
with-replacement sampling of PSUs). Rows outside a domain keep their place with zero weight, so
domain variances use the full design (R's convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from cmlkit.errors import CmlkitError

LONELY_PSU = ("fail", "remove", "certainty", "adjust")


class DesignError(CmlkitError):
    """A design cannot be built or used as asked."""


@dataclass(frozen=True)
class Design:
    """A linearisation survey design (see module docstring).

    Attributes
    ----------
    data : pandas.DataFrame
        Responses (index reset).
    weights : numpy.ndarray
        Survey weights (inverse inclusion probabilities, after any adjustment).
    strata, psu : numpy.ndarray or None
        Integer codes per row (None: one stratum / each row its own PSU).
    pop_psu : numpy.ndarray or None
        Per row, the number of PSUs in its stratum's population (N_h) for the fpc; None = no fpc.
    steps : tuple
        Calibration steps applied to influence values, in order.
    lonely_psu : {"fail", "remove", "certainty", "adjust"}
        What a stratum with one PSU contributes to the variance.
    """

    data: pd.DataFrame
    weights: np.ndarray
    strata: np.ndarray | None = None
    psu: np.ndarray | None = None
    pop_psu: np.ndarray | None = None
    steps: tuple = field(default_factory=tuple)
    lonely_psu: str = "fail"
    info: dict = field(default_factory=dict, compare=False)

    @property
    def n(self) -> int:
        return len(self.data)

    def with_weights(self, weights, step=None, **info) -> "Design":
        """A copy with new weights and, optionally, one more calibration step (``info`` notes it)."""
        steps = self.steps + ((step,) if step is not None else ())
        return replace(self, weights=np.asarray(weights, dtype=float), steps=steps, info={**self.info, **info})


def _codes(values) -> np.ndarray:
    return pd.factorize(pd.Series(values).astype(str), sort=True)[0]


def svydesign(data: pd.DataFrame, *, weights: str | None = None, strata: str | None = None, ids: str | None = None,
              fpc: str | None = None, lonely_psu: str = "fail") -> Design:
    """Build a design, as ``survey::svydesign(ids, strata, weights, fpc, data)``.

    Parameters
    ----------
    data : pandas.DataFrame
    weights : str, optional
        Column of survey weights (inverse inclusion probabilities). When missing and ``fpc`` is
        given, weights are N_h / n_h (stratified simple random sampling of PSUs).
    strata : str, optional
        Stratum column.
    ids : str, optional
        Cluster (PSU) column; rows are their own PSUs when omitted.
    fpc : str, optional
        Population size of the stratum in PSUs (a count > 1), or the sampling fraction (<= 1).
    lonely_psu : str, default "fail"
        "fail" raises on a stratum with one PSU; "remove" and "certainty" let it contribute
        nothing; "adjust" centres it at the mean of all PSU totals.

    Returns
    -------
    Design
    """
    if lonely_psu not in LONELY_PSU:
        raise DesignError(f"lonely_psu must be one of {LONELY_PSU}, not {lonely_psu!r}")
    data = data.reset_index(drop=True)
    for col in (weights, strata, ids, fpc):
        if col is not None and col not in data:
            raise DesignError(f"design column {col!r} is not in the data")
    st = _codes(data[strata]) if strata else np.zeros(len(data), dtype=int)
    cl = _codes(data[ids]) if ids else np.arange(len(data))
    n_h = pd.Series(cl).groupby(st).transform("nunique").to_numpy()
    pop = None
    if fpc:
        f = data[fpc].to_numpy(dtype=float)
        pop = np.where(f <= 1, n_h / np.where(f > 0, f, np.nan), f)
    if weights:
        w = data[weights].to_numpy(dtype=float)
    elif pop is not None:
        w = pop / n_h
    else:
        w = np.ones(len(data))
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise DesignError("weights must be finite and non-negative")
    return Design(data=data, weights=w, strata=st if strata else None, psu=cl if ids else None, pop_psu=pop,
                  lonely_psu=lonely_psu)


def adjust_influence(design: Design, z: np.ndarray) -> np.ndarray:
    """Apply the design's calibration steps to influence values (R ``svyrecvar``'s ``postStrata``)."""
    z = np.asarray(z, dtype=float)
    for step in design.steps:
        kind = step[0]
        if kind == "poststrat":  # centre on post-stratum means weighted by the pre-adjustment weights
            _, cells, w_ps, w_old = step
            u = z / np.where(w_ps > 0, w_ps, np.inf)[:, None]
            num = pd.DataFrame(u * w_old[:, None]).groupby(cells).transform("sum").to_numpy()
            den = pd.Series(w_old).groupby(cells).transform("sum").to_numpy()
            z = z - (num / np.where(den > 0, den, np.inf)[:, None]) * w_ps[:, None]
        elif kind == "greg":
            _, Q, scale = step
            u = z / np.where(scale > 0, scale, np.inf)[:, None]
            z = (u - Q @ (Q.T @ u)) * scale[:, None]
        else:  # pragma: no cover - steps are built by cmlkit.weights only
            raise DesignError(f"unknown calibration step {kind!r}")
    return z


def variance(design: Design, z: np.ndarray) -> np.ndarray:
    """Linearised covariance matrix of estimators with influence values ``z`` (n x k)."""
    z = adjust_influence(design, np.atleast_2d(np.asarray(z, dtype=float).T).T)
    n, k = z.shape
    st = design.strata if design.strata is not None else np.zeros(n, dtype=int)
    cl = design.psu if design.psu is not None else np.arange(n)
    totals = pd.DataFrame(z).groupby([st, cl], sort=True).sum()
    strata_of = totals.index.get_level_values(0).to_numpy()
    zt = totals.to_numpy()
    V = np.zeros((k, k))
    pop = None
    if design.pop_psu is not None:
        pop = pd.Series(design.pop_psu).groupby(st).first()
    means_all = zt.mean(axis=0)
    for h in np.unique(strata_of):
        rows = zt[strata_of == h]
        nh = len(rows)
        if nh == 1:
            if design.lonely_psu == "fail":
                raise DesignError(f"stratum {h} has a single PSU; choose lonely_psu='remove', 'certainty' or 'adjust'")
            if design.lonely_psu == "adjust":
                d = rows - means_all
                fh = 0.0 if pop is None else nh / pop[h]
                V += (1 - fh) * d.T @ d
            continue
        d = rows - rows.mean(axis=0)
        fh = 0.0 if pop is None else min(nh / pop[h], 1.0)
        V += (1 - fh) * nh / (nh - 1) * (d.T @ d)
    return V


def degf(design: Design, *, domain=None) -> int:
    """Design degrees of freedom: PSUs minus strata, counting rows with non-zero weight (R ``degf``).

    With ``domain`` (a boolean mask), counts only the domain's rows, as ``degf(subset(design, ...))``.
    """
    keep = design.weights != 0
    if domain is not None:
        keep &= np.asarray(domain, dtype=bool)
    st = design.strata if design.strata is not None else np.zeros(design.n, dtype=int)
    cl = design.psu if design.psu is not None else np.arange(design.n)
    if not keep.any():
        return 0
    pairs = pd.DataFrame({"s": st[keep], "c": cl[keep]}).drop_duplicates()
    return int(len(pairs) - pairs["s"].nunique())
