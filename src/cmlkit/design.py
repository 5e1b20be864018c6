"""Survey designs for linearisation (Taylor-series) variance estimation, following R ``survey``.

A :class:`Design` holds responses, their survey weights (inverse inclusion probabilities, possibly
adjusted for nonresponse and calibrated), optional strata, one or two stages of clusters, the
finite population correction at each stage, and the calibration steps applied, in order.
Calibration steps change how the variance is computed: influence values are replaced by their
residuals from the calibration (post-stratification: centred on post-stratum means; GREG/raking/
logit calibration: weighted least-squares residuals on the calibration variables), exactly as R's
``svyrecvar`` does, so a post-stratified total can have a *smaller* standard error than the
unadjusted one. Every step is linear, ``z -> z - B (L' z)``, with ``B`` and ``L`` n x p matrices
(:func:`step_matrices`); all steps together give ``z - B C``, which the vectorised domain path in
:mod:`cmlkit.variance` uses without forming the dense n x k matrix.

Variance of an estimator with influence values z (after the calibration steps)::

    V = sum_h (1 - f_h) * n_h / (n_h - 1) * sum_i (z_hi - zbar_h)^2
        + sum_h f_h sum_{i in h} (1 - f_i) m_i / (m_i - 1) sum_j (z_hij - zbar_hi)^2

over PSU totals z_hi in stratum h (f_h = n_h / N_h when a population size is given; no fpc:
with-replacement sampling of PSUs) and, for two-stage designs with an fpc at both stages, SSU
totals z_hij within PSU i (f_i = m_i / M_i). A stratum with N_h = n_h (a certainty stratum)
contributes nothing, whatever ``lonely_psu`` says, as in R. Rows outside a domain keep their place
with zero weight, so domain variances use the full design (R's convention).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from cmlkit.errors import DesignError, NegativeWeightWarning  # errors live in cmlkit.errors; re-exported here

LONELY_PSU = ("fail", "remove", "certainty", "adjust", "average")


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
    lonely_psu : {"fail", "remove", "certainty", "adjust", "average"}
        What a stratum with one PSU contributes to the variance (R's ``survey.lonely.psu``).
    ssu, pop_ssu : numpy.ndarray or None
        Second-stage units (integer codes) and, per row, the number of SSUs in its PSU's
        population (M_i). The second stage enters the variance only when both stages have an fpc.
    calibrated : bool
        True once a calibration step was applied (R keeps every row of a calibrated design when
        subsetting, which changes ``nrow`` in the Korn-Graubard interval).
    """

    data: pd.DataFrame
    weights: np.ndarray
    strata: np.ndarray | None = None
    psu: np.ndarray | None = None
    pop_psu: np.ndarray | None = None
    steps: tuple = field(default_factory=tuple)
    lonely_psu: str = "fail"
    info: dict = field(default_factory=dict, compare=False)
    ssu: np.ndarray | None = None
    pop_ssu: np.ndarray | None = None
    spec: dict = field(default_factory=dict, compare=False)

    @property
    def n(self) -> int:
        return len(self.data)

    @property
    def calibrated(self) -> bool:
        return bool(self.steps)

    def with_weights(self, weights, step=None, **info) -> "Design":
        """A copy with new weights and, optionally, one more calibration step (``info`` notes it)."""
        steps = self.steps + ((step,) if step is not None else ())
        w = np.asarray(weights, dtype=float)
        if step is not None and np.any(w < 0):
            warnings.warn(f"calibration gave {int(np.sum(w < 0))} negative weights (estimates and standard errors "
                          "follow R survey; set bounds=(0, inf) or use calfun='raking' to avoid them)",
                          NegativeWeightWarning, stacklevel=3)
        return replace(self, weights=w, steps=steps, info={**self.info, **info})

    def stratum_codes(self) -> np.ndarray:
        return self.strata if self.strata is not None else np.zeros(self.n, dtype=np.int64)

    def psu_codes(self) -> np.ndarray:
        return self.psu if self.psu is not None else np.arange(self.n)


def _codes(values) -> np.ndarray:
    return pd.factorize(pd.Series(values).astype(str), sort=True)[0]


def _as_list(x):
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def _pop_size(f: np.ndarray, n_units: np.ndarray, what: str) -> np.ndarray:
    """Population size from an fpc column given as a count (> 1) or a sampling fraction (<= 1), as R's ``as.fpc``."""
    if np.any(~np.isfinite(f)) or np.any(f <= 0):
        raise DesignError(f"fpc {what!r} must be positive and finite")
    if np.any(f > 1) and not np.all(f >= 1):
        raise DesignError(f"fpc {what!r} mixes population sizes (> 1) and sampling fractions (< 1)")
    pop = f if np.any(f > 1) else n_units / f
    if np.any(pop < n_units - 1e-9):
        raise DesignError(f"fpc {what!r} implies more than 100% sampling (population smaller than the sample)")
    return pop


def svydesign(data: pd.DataFrame, *, weights: str | None = None, strata: str | None = None, ids=None,
              fpc=None, lonely_psu: str = "fail", nest: bool = False) -> Design:
    """Build a design, as ``survey::svydesign(ids, strata, weights, fpc, data, nest)``.

    Parameters
    ----------
    data : pandas.DataFrame
    weights : str, optional
        Column of survey weights (inverse inclusion probabilities). When missing and ``fpc`` is
        given, weights are the inverse sampling fractions (simple random sampling at each stage).
    strata : str, optional
        Stratum column (first stage).
    ids : str or sequence of two str, optional
        Cluster column (one stage) or ``(psu, ssu)`` for a two-stage design (e.g. libraries, then
        volunteers within libraries); rows are their own PSUs when omitted.
    fpc : str or sequence of two str, optional
        Population size in PSUs of the stratum (a count > 1) or the sampling fraction (<= 1); for a
        two-stage design ``(N_h, M_i)``, M_i being the number of SSUs in PSU i's population.
    lonely_psu : str, default "fail"
        R's ``survey.lonely.psu``: "fail" raises on a stratum with one PSU; "remove" and
        "certainty" let it contribute nothing; "adjust" uses its deviation from zero (R's
        centring); "average" replaces it by the average of the other strata's contributions.
    nest : bool, default False
        R's ``nest``: PSU ids are numbered within each stratum (PSU 1 of stratum A is not PSU 1 of
        stratum B). Without it, a PSU id found in two strata is an error, as in R: read as one cluster,
        it would silently give wrong standard errors.

    Returns
    -------
    Design

    Raises
    ------
    DesignError
        An unknown ``lonely_psu``, more than two stages, a column not in the data or missing in a row,
        PSU ids shared by strata without ``nest``, or weights that are not finite and non-negative.
    """
    if lonely_psu not in LONELY_PSU:
        raise DesignError(f"lonely_psu must be one of {LONELY_PSU}, not {lonely_psu!r}")
    data = data.reset_index(drop=True)
    id_cols, fpc_cols = _as_list(ids), _as_list(fpc)
    if len(id_cols) > 2:
        raise DesignError("at most two stages of clusters are supported")
    if fpc_cols and len(fpc_cols) not in (1, max(len(id_cols), 1)):
        raise DesignError("give one fpc column per stage of ids")
    for col in (weights, strata, *id_cols, *fpc_cols):
        if col is not None and col not in data:
            raise DesignError(f"design column {col!r} is not in the data")
    for col in (strata, *id_cols):
        if col is not None and data[col].isna().any():
            row = int(np.flatnonzero(data[col].isna().to_numpy())[0])
            raise DesignError(f"design column {col!r} is missing in row {row}")
    st = _codes(data[strata]) if strata else np.zeros(len(data), dtype=np.int64)
    cl = _codes(data[id_cols[0]]) if id_cols else np.arange(len(data))
    if strata and id_cols:
        if nest:        # PSU ids count within each stratum: (stratum, id) is the cluster
            cl = _codes(pd.Series(st).astype(str) + "\x1f" + pd.Series(cl).astype(str))
        else:
            _check_nested(data, strata, id_cols[0], st, cl)
    n_h = pd.Series(cl).groupby(st).transform("nunique").to_numpy()
    ssu = _codes(pd.Series(cl).astype(str) + "\x1f" + data[id_cols[1]].astype(str)) if len(id_cols) == 2 else None
    pop = pop2 = None
    if fpc_cols:
        pop = _pop_size(data[fpc_cols[0]].to_numpy(dtype=float), n_h, fpc_cols[0])
        if len(fpc_cols) == 2:
            m_i = pd.Series(ssu).groupby(cl).transform("nunique").to_numpy()
            pop2 = _pop_size(data[fpc_cols[1]].to_numpy(dtype=float), m_i, fpc_cols[1])
    if weights:
        w = data[weights].to_numpy(dtype=float)
    elif pop is not None:
        w = pop / n_h
        if pop2 is not None:
            w = w * pop2 / pd.Series(ssu).groupby(cl).transform("nunique").to_numpy()
    else:
        w = np.ones(len(data))
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        bad = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
        raise DesignError(f"weights must be finite and non-negative (column {weights!r}, row {bad})")
    spec = {"weights": weights, "strata": strata, "ids": id_cols, "fpc": fpc_cols, "lonely_psu": lonely_psu}
    if nest:        # named only when set: a recipe without it is the unnested design older readers know
        spec["nest"] = True
    return Design(data=data, weights=w, strata=st if strata else None, psu=cl if id_cols else None, pop_psu=pop,
                  lonely_psu=lonely_psu, ssu=ssu, pop_ssu=pop2, spec=spec)


def _check_nested(data: pd.DataFrame, strata: str, psu: str, st: np.ndarray, cl: np.ndarray) -> None:
    """Raise where a PSU id is in more than one stratum (R: "Clusters not nested in strata at top level")."""
    per_psu = pd.Series(st).groupby(cl).nunique()
    if (per_psu > 1).any():
        code = int(per_psu.index[np.argmax(per_psu.to_numpy() > 1)])
        rows = np.flatnonzero(cl == code)
        other = rows[np.argmax(st[rows] != st[rows[0]])]
        raise DesignError(f"PSU {str(data[psu].iloc[rows[0]])!r} (column {psu!r}) is in stratum {str(data[strata].iloc[rows[0]])!r} "
                          f"(row {rows[0]}) and {str(data[strata].iloc[other])!r} (row {other}): clusters must be nested in "
                          "strata; pass nest=True if PSU ids are numbered within each stratum")


# ---- calibration steps: each is linear in z, z -> z - B (L' z) ------------------------------------

def _poststrat_matrices(step):
    _, cells, w_ps, w_old = step
    ncell = int(cells.max()) + 1 if len(cells) else 0
    P = np.zeros((len(cells), ncell))
    P[np.arange(len(cells)), cells] = 1.0
    den = np.bincount(cells, weights=w_old, minlength=ncell)
    # R sets psw = 1 where both weights are zero, in the cell means and in the residual z - psw * mean: a row of
    # zero weight gets the residual -mean of its cell (svyrecvar's postStrata branch)
    safe_ps = np.where((w_ps == 0) & (w_old == 0), 1.0, w_ps)
    L = P * (w_old / np.where(safe_ps != 0, safe_ps, np.inf))[:, None] / np.where(den != 0, den, np.inf)[None, :]
    return P * safe_ps[:, None], L


def _greg_matrices(step):
    _, Q, scale = step
    # R: qr.resid(qr, x / w) * w with w = g * sqrt(d); g may be negative (kept, as R does); w = 0 only for
    # rows of zero weight whose influence is zero.
    inv = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale != 0)
    return Q * scale[:, None], Q * inv[:, None]


STEP_MATRICES = {"poststrat": _poststrat_matrices, "greg": _greg_matrices}


def step_matrices(design: Design) -> list:
    """(B, L) for each calibration step, in order (the step maps z to z - B (L' z)).

    Parameters
    ----------
    design : Design

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        n x p matrices ``B`` and ``L`` per step.
    """
    out = []
    for step in design.steps:
        fn = STEP_MATRICES.get(step[0])
        if fn is None:  # pragma: no cover - steps are built by cmlkit.weights only
            raise DesignError(f"unknown calibration step {step[0]!r}")
        out.append(fn(step))
    return out


def adjust_influence(design: Design, z: np.ndarray) -> np.ndarray:
    """Apply the design's calibration steps to influence values (R ``svyrecvar``'s ``postStrata``).

    Parameters
    ----------
    design : Design
    z : numpy.ndarray
        Influence values, n or n x k.

    Returns
    -------
    numpy.ndarray
        The residuals of ``z`` after every step, same shape.
    """
    z = np.asarray(z, dtype=float)
    for B, L in step_matrices(design):
        z = z - B @ (L.T @ z)
    return z


def _group_sums(codes: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique codes and the column sums of z within each (sorted)."""
    u, inv = np.unique(codes, return_inverse=True)
    out = np.zeros((len(u), z.shape[1]))
    np.add.at(out, inv, z)
    return u, out


def stage_scales(design: Design, strata_of_psu: np.ndarray, n_h: np.ndarray, pop_h: np.ndarray | None,
                 *, stage: int = 1, lonely_psu: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-stratum variance scale, whether to centre, and whether the stratum counts (R's ``onestrat``).

    V_h = scale_h * sum_i (z_hi - centre_h * zbar_h)^2.

    Parameters
    ----------
    design : Design
    strata_of_psu : numpy.ndarray
        Stratum code of each unit of the stage.
    n_h : numpy.ndarray
        Units sampled per stratum.
    pop_h : numpy.ndarray or None
        Population units per stratum (None: no fpc).
    stage : int, default 1
    lonely_psu : str, optional
        Overrides the design's ``lonely_psu``.

    Returns
    -------
    (scale, centre, ok) : tuple of numpy.ndarray
        ``ok`` False marks a lonely stratum under "average" (left out, the rest scaled up by strata /
        ok strata).
    """
    rule = lonely_psu or design.lonely_psu
    f = np.ones(len(n_h)) if pop_h is None else np.where(np.isinf(pop_h), 1.0, (pop_h - n_h) / pop_h)
    certain = f < 1e-7
    lonely = (n_h == 1) & ~certain
    if lonely.any() and rule == "fail":
        h = int(strata_of_psu[np.flatnonzero(lonely)[0]]) if len(strata_of_psu) else 0
        where = "stratum" if stage == 1 else "PSU"
        raise DesignError(f"{where} {h} has a single {'PSU' if stage == 1 else 'SSU'} at stage {stage}; choose "
                          "lonely_psu='remove', 'certainty', 'adjust' or 'average'")
    scale = np.where(n_h > 1, f * n_h / np.maximum(n_h - 1, 1), f)
    scale = np.where(certain, 0.0, scale)
    centre = ~(lonely & (rule == "adjust"))
    ok = ~(lonely & (rule == "average"))
    return scale, centre, ok


def _stage_cov(design, units, groups, z, pop_group, *, stage, present=None, mult=None):
    """Covariance contribution of one stage: unit totals of z, centred within groups (strata or PSUs).

    ``mult`` (per row, constant within a group) multiplies each group's contribution (R scales the
    second stage by the first-stage sampling fraction). ``present`` limits the strata counted by
    "average" to those with rows kept.
    """
    uu, tot = _group_sums(units, z)
    first = pd.Series(np.arange(len(units))).groupby(units).first().reindex(uu).to_numpy()
    g_of_u = groups[first]
    gu, gi, n_g = np.unique(g_of_u, return_inverse=True, return_counts=True)
    pop = None if pop_group is None else pop_group[first][np.unique(gi, return_index=True)[1]]
    scale, centre, ok = stage_scales(design, gu, n_g, pop, stage=stage)
    if mult is not None:
        scale = scale * mult[first][np.unique(gi, return_index=True)[1]]
    sums = np.zeros((len(gu), z.shape[1]))
    np.add.at(sums, gi, tot)
    d = tot - (sums / n_g[:, None])[gi] * centre[gi][:, None]
    kept = np.ones(len(gu), bool) if present is None else np.isin(gu, np.unique(groups[present]))
    use = ok & kept
    V = (d * np.where(use, scale, 0.0)[gi][:, None]).T @ d
    if use.sum() < kept.sum():
        if stage == 1:
            V = V * kept.sum() / use.sum() if use.any() else V * np.nan
        else:  # R averages within each PSU: a PSU whose only SSU is lonely leaves nothing to average (NaN)
            V = V * np.nan
    return V


def variance(design: Design, z: np.ndarray, *, present=None) -> np.ndarray:
    """Linearised covariance matrix of estimators with influence values ``z`` (n x k).

    Parameters
    ----------
    design : Design
    z : numpy.ndarray
        Influence values, n x k (or n).
    present : numpy.ndarray of bool, optional
        The rows R would keep after subsetting an uncalibrated design (a domain, or rows without
        missing values); it matters only for ``lonely_psu="average"``, where the number of strata
        counted is that of the rows kept.

    Returns
    -------
    numpy.ndarray
        k x k covariance matrix.
    """
    z = adjust_influence(design, np.atleast_2d(np.asarray(z, dtype=float).T).T)
    st, cl = design.stratum_codes(), design.psu_codes()
    keep = None if (present is None or design.calibrated) else np.asarray(present, dtype=bool)
    V = _stage_cov(design, cl, st, z, design.pop_psu, stage=1, present=keep)
    if design.ssu is not None and design.pop_ssu is not None and design.pop_psu is not None:
        n_h = pd.Series(cl).groupby(st).transform("nunique").to_numpy()
        # R counts only the PSUs still in the subset: a lonely SSU outside it leaves "average" a number
        V = V + _stage_cov(design, design.ssu, cl, z, design.pop_ssu, stage=2, present=keep, mult=n_h / design.pop_psu)
    return V


def degf(design: Design, *, domain=None) -> int:
    """Design degrees of freedom: PSUs minus strata, counting rows with non-zero weight (R ``degf``).

    Parameters
    ----------
    design : Design
    domain : numpy.ndarray of bool, optional
        Count only the domain's rows, as ``degf(subset(design, ...))``.

    Returns
    -------
    int
    """
    keep = design.weights != 0
    if domain is not None:
        keep &= np.asarray(domain, dtype=bool)
    st, cl = design.stratum_codes(), design.psu_codes()
    if not keep.any():
        return 0
    pairs = pd.DataFrame({"s": st[keep], "c": cl[keep]}).drop_duplicates()
    return int(len(pairs) - pairs["s"].nunique())
