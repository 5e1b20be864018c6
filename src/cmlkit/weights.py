"""Survey weights: base weights, nonresponse adjustment, calibration to frame margins, diagnostics.

All functions take and return a :class:`~cmlkit.design.Design`; the weights are survey weights
(inverse probabilities of selection and response, scaled to the population). Each calibration
records how it changes the variance (see :mod:`cmlkit.design`), matching R ``survey``:

* :func:`post_stratify` — ``postStratify(design, ~cell, population)``;
* :func:`calibrate` — ``calibrate(design, ~a + b, population, calfun = "linear" | "raking" |
  "logit", bounds)``: Newton iterations on the calibration equations as in R's ``grake``;
* :func:`rake` — raking to several margins (= ``calibrate(calfun = "raking")``, whose variance
  R's own ``rake`` reproduces to display precision);
* :func:`trim` — ``trimWeights`` (R's equal-share rule by default); :func:`collapse_cells` — merges sparse cells before weighting.

References
----------
Deville, J.-C. and Särndal, C.-E. (1992) Calibration estimators in survey sampling. JASA 87, 376-382.
Lumley, T. (2010) Complex Surveys: a guide to analysis using R. Wiley.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit.design import Design, DesignError
from cmlkit.errors import CalibrationError  # errors live in cmlkit.errors; re-exported here

CALFUNS = ("linear", "raking", "logit")


def post_stratify(design: Design, cell: str, population: dict | pd.Series) -> Design:
    """Post-stratify to known population counts per cell (R ``postStratify``).

    Parameters
    ----------
    design : Design
    cell : str
        Column holding each response's post-stratum.
    population : dict or pandas.Series
        Cell -> population count.

    Returns
    -------
    Design
        With the post-stratification step recorded for the variance.

    Raises
    ------
    CalibrationError
        A sampled cell with no population count, or a population cell with no responses.
    """
    pop = pd.Series(population, dtype=float)
    cells = design.data[cell].astype(str).to_numpy()
    pop.index = pop.index.astype(str)
    sample_tot = pd.Series(design.weights).groupby(cells).sum()
    missing = sorted(set(sample_tot.index) - set(pop.index))
    if missing:
        raise CalibrationError(f"post-stratum {missing[0]!r} of {cell!r} has responses but no population count")
    empty = sorted(set(pop.index[pop > 0]) - set(sample_tot.index[sample_tot > 0]))
    if empty:
        raise CalibrationError(f"post-stratum {empty[0]!r} of {cell!r} has a population count but no responses; collapse it first")
    g = pd.Series(cells).map(pop / sample_tot).to_numpy()
    w = design.weights * g
    step = {"kind": "poststratify", "cell": cell, "population": {str(k): float(v) for k, v in pop.items()}}
    return design.with_weights(w, ("poststrat", pd.factorize(cells, sort=True)[0], w.copy(), design.weights.copy()),
                               recipe=_recipe(design, step))


def model_matrix(data: pd.DataFrame, *, factors=(), numeric=(), levels: dict | None = None) -> tuple[np.ndarray, list]:
    """Intercept, treatment-coded factors (first level dropped) and numeric columns, as R's ``model.matrix``.

    Parameters
    ----------
    data : pandas.DataFrame
    factors : sequence of str
        Categorical columns.
    numeric : sequence of str
        Numeric columns.
    levels : dict, optional
        Factor -> its levels in order (default: sorted observed values).

    Returns
    -------
    (matrix, names) : (numpy.ndarray, list)
        Column names in R's style, e.g. ``regionNorth West``.
    """
    cols, names = [np.ones(len(data))], ["(Intercept)"]
    levels = levels or {}
    for f in factors:
        lv = levels.get(f) or sorted(data[f].astype(str).unique())
        x = data[f].astype(str).to_numpy()
        for level in lv[1:]:
            cols.append((x == level).astype(float))
            names.append(f"{f}{level}")
    for v in numeric:
        cols.append(data[v].to_numpy(dtype=float))
        names.append(v)
    return np.column_stack(cols), names


def population_vector(margins: dict, *, totals: dict | None = None) -> tuple[dict, dict]:
    """Population totals in model-matrix form from factor margins (level -> count) and numeric totals.

    Parameters
    ----------
    margins : dict
        Factor -> {level: population count}; all margins must sum to the same population size.
    totals : dict, optional
        Numeric column -> population total.

    Returns
    -------
    (totals, levels) : (dict, dict)
        Totals by model-matrix column name, and levels by factor.
    """
    sizes = {f: float(sum(m.values())) for f, m in margins.items()}
    if len(set(round(v, 6) for v in sizes.values())) > 1:
        raise CalibrationError(f"margins do not describe the same population size: {sizes}")
    N = next(iter(sizes.values())) if sizes else float((totals or {}).pop("(Intercept)", np.nan))
    out = {"(Intercept)": N}
    levels = {}
    for f, m in margins.items():
        lv = sorted(str(k) for k in m)
        levels[f] = lv
        for level in lv[1:]:
            out[f"{f}{level}"] = float(m[level] if level in m else {str(k): v for k, v in m.items()}[level])
    out.update({k: float(v) for k, v in (totals or {}).items()})
    return out, levels


def _linear(L, U):
    def Fm1(u):
        return np.clip(u + 1, L, U) - 1

    def dF(u):
        return ((u < U - 1) & (u > L - 1)).astype(float)

    return Fm1, dF


def _raking(L, U):
    def Fm1(u):
        return np.clip(np.exp(u), L, U) - 1

    def dF(u):  # R compares u (not exp(u)) with the bounds minus one; kept so the Newton path is R's
        return np.where((u < U - 1) & (u > L - 1), np.exp(u), 0.0)

    return Fm1, dF


def _logit(L, U):
    if not (np.isfinite(L) and np.isfinite(U)) or not (L < 1 < U):
        raise CalibrationError("logit calibration needs finite bounds with lower < 1 < upper")
    A = (U - L) / ((U - 1) * (1 - L))

    def Fm1(u):
        with np.errstate(over="ignore", invalid="ignore"):       # overflow gives NaN, which grake's step halving handles
            e = np.exp(A * u)
            return (L * (U - 1) + U * (1 - L) * e) / (U - 1 + (1 - L) * e) - 1

    def dF(u):
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(A * u)
            return U * (1 - L) * e * A / (U - 1 + (1 - L) * e) - ((L * (U - 1) + U * (1 - L) * e) * ((1 - L) * e * A)) / (U - 1 + (1 - L) * e) ** 2

    return Fm1, dF


CALFUN_REGISTRY = {"linear": _linear, "raking": _raking, "logit": _logit}
GINV_TOL = 256 * np.finfo(float).eps      # R grake: MASS::ginv(Tmat, tol = 256 * .Machine$double.eps)


def grake(X: np.ndarray, d: np.ndarray, T: np.ndarray, *, calfun: str = "linear", bounds=(-np.inf, np.inf),
          maxit: int = 50, epsilon: float = 1e-7) -> tuple[np.ndarray, dict]:
    """Newton iterations for the calibration equations, following R ``survey``'s ``grake``.

    Converged when every ``|misfit| / (1 + |target|) < epsilon``; at most ``maxit`` Newton steps
    (step halving while weights are not finite counts as a step); the generalised inverse keeps
    singular values above ``256 * eps`` times the largest; weights far below the targets (every
    target over 20 times its sample total) are first rescaled by the mean ratio, as R does.

    Parameters
    ----------
    X : numpy.ndarray
        n x p calibration variables.
    d : numpy.ndarray
        Design weights.
    T : numpy.ndarray
        Population totals of the columns of ``X``.
    calfun : {"linear", "raking", "logit"}, default "linear"
    bounds : (float, float)
        Bounds on the g-weights.
    maxit : int, default 50
    epsilon : float, default 1e-7

    Returns
    -------
    (g, info) : (numpy.ndarray, dict)
        ``info["failed"]`` is the achieved tolerance when not converged.
    """
    Fm1, dF = CALFUN_REGISTRY[calfun](*bounds)
    ww = np.asarray(d, dtype=float)
    sample_total = X.T @ ww
    scales = T / np.where(sample_total != 0, sample_total, np.nan)
    rescale = None
    if np.nanmin(scales) > 20:
        rescale = float(np.nanmean(scales))
        ww, sample_total = ww * rescale, sample_total * rescale
    eta = np.zeros(X.shape[1])
    xeta = X @ eta
    deriv = dF(xeta)
    it, failed = 1, None
    while True:
        H = (X * (ww * deriv)[:, None]).T @ X
        misfit = T - sample_total - X.T @ (ww * Fm1(xeta))
        deta = np.linalg.pinv(H, rcond=GINV_TOL) @ misfit
        eta = eta + deta
        xeta = X @ eta
        gm1, deriv = Fm1(xeta), dF(xeta)
        while it < maxit and not (np.all(np.isfinite(gm1)) and np.all(np.isfinite(deriv))):
            it += 1
            deta = deta / 2
            eta = eta - deta
            xeta = X @ eta
            gm1, deriv = Fm1(xeta), dF(xeta)
        misfit = T - sample_total - X.T @ (ww * gm1)
        achieved = np.abs(misfit) / (1 + np.abs(T))
        if np.all(achieved < epsilon):
            break
        it += 1
        if it > maxit:
            failed = float(np.max(achieved)) if np.all(np.isfinite(achieved)) else float("inf")
            break
    g = 1 + gm1
    if rescale is not None:
        g = g * rescale
    return g, {"calfun": calfun, "iterations": it, "failed": failed, "rescaled": rescale}


def calibrate(design: Design, *, margins: dict | None = None, totals: dict | None = None, calfun: str = "linear",
              bounds=(-np.inf, np.inf), maxit: int = 50, epsilon: float = 1e-7, force: bool = False) -> Design:
    """Calibrate weights to population totals (R ``calibrate``; GREG when linear).

    Parameters
    ----------
    design : Design
    margins : dict
        Factor -> {level: population count}; the model has an intercept and treatment-coded
        factors (as ``~a + b`` in R).
    totals : dict, optional
        Numeric column -> population total.
    calfun : {"linear", "raking", "logit"}
        Distance function; "logit" needs finite ``bounds``.
    bounds : tuple of float
        Bounds on the ratio g = new weight / old weight.
    maxit, epsilon : int, float
        R's defaults (50, 1e-7) and R's rule: converged when every ``|misfit| / (1 + |target|)``
        is below ``epsilon`` (see :func:`grake`). Unbounded linear calibration is solved in closed
        form, as R's ``regcalibrate``.
    force : bool, default False
        Return the last weights when the iterations do not converge (R's ``force=TRUE``); the
        design's ``info["calibration"]["failed"]`` then states the misfit reached.

    Returns
    -------
    Design
        With calibrated weights and a GREG step for the variance (residuals on the calibration
        variables, R's ``svyrecvar`` convention). Negative weights (possible with linear
        calibration) are kept, as R keeps them, with a :class:`~cmlkit.design.NegativeWeightWarning`.

    Raises
    ------
    CalibrationError
        A target for a category absent from the sample, inconsistent margins, or no convergence.
    """
    if calfun not in CALFUNS:
        raise CalibrationError(f"calfun must be one of {CALFUNS}, not {calfun!r}")
    margins = margins or {}
    totals = dict(totals or {})
    for f, m in margins.items():
        present = set(design.data[f].astype(str)[design.weights > 0])
        absent = sorted(str(k) for k, v in m.items() if v > 0 and str(k) not in present)
        if absent:
            raise CalibrationError(f"calibration target for {f} = {absent[0]!r}, a category with no responses; collapse it first")
        extra = sorted(present - {str(k) for k in m})
        if extra:
            raise CalibrationError(f"responses with {f} = {extra[0]!r} have no population target")
    pop, levels = population_vector(margins, totals=totals)
    X, names = model_matrix(design.data, factors=list(margins), numeric=list(totals), levels=levels)
    T = np.array([pop[n] for n in names])
    d = design.weights
    bounds = (float(bounds[0]), float(bounds[1]))
    if calfun == "linear" and bounds == (-np.inf, np.inf):
        Xw = X * np.sqrt(d)[:, None]
        g = 1 + X @ np.linalg.solve(Xw.T @ Xw, T - X.T @ d)
        info = {"calfun": calfun, "iterations": 1, "failed": None, "rescaled": None}
    else:
        g, info = grake(X, d, T, calfun=calfun, bounds=bounds, maxit=maxit, epsilon=epsilon)
        if info["failed"] is not None and not force:
            raise CalibrationError(f"calibration ({calfun}) did not converge in {maxit} iterations; "
                                   f"largest |misfit| / (1 + |target|) {info['failed']:.2e} (R: 'Calibration failed')")
    whalf = np.sqrt(d)
    Q, _ = np.linalg.qr(X * whalf[:, None])
    info.update({"g_min": float(g.min()), "g_max": float(g.max()), "negative_weights": int(np.sum(d * g < 0)),
                 "max_rel_misfit": float(np.max(np.abs(T - X.T @ (d * g)) / (1 + np.abs(T)))),
                 "targets": dict(zip(names, map(float, T))), "margins": {f: {str(k): float(v) for k, v in m.items()} for f, m in margins.items()},
                 "totals": {k: float(v) for k, v in totals.items()}, "bounds": list(bounds), "epsilon": epsilon, "maxit": maxit})
    step = {"kind": "calibrate", "margins": info["margins"], "totals": info["totals"], "calfun": calfun,
            "bounds": [_finite_or_none(b) for b in bounds], "maxit": maxit, "epsilon": epsilon, "force": force}
    return design.with_weights(d * g, ("greg", Q, g * whalf), calibration=info, recipe=_recipe(design, step))


def rake(design: Design, margins: dict, *, maxit: int = 50, epsilon: float = 1e-7, bounds=(-np.inf, np.inf)) -> Design:
    """Rake to several one-way margins: ``calibrate(calfun="raking")``.

    The weights equal R's ``rake()``'s. The variance is that of R's ``calibrate(calfun = "raking")`` (the
    calibration linearisation), which equals R's ``rake()`` variance (iterated post-stratification residuals)
    only when the weights before raking are equal within cells; with unequal weights the two standard errors
    differ (by 3 to 9% in an independent check with three margins).

    Parameters
    ----------
    design : Design
    margins : dict
        Factor -> {level: population count}.
    maxit : int, default 50
    epsilon : float, default 1e-7
    bounds : (float, float)
        Bounds on the g-weights.

    Returns
    -------
    Design
        With the raking step recorded for the variance.
    """
    return calibrate(design, margins=margins, calfun="raking", maxit=maxit, epsilon=epsilon, bounds=bounds)


def _trim_r(w, lower, upper):
    """One pass of R's ``trimWeights``: clip, then share the trimmed amount equally among the untrimmed units."""
    out = (w < lower) | (w > upper)
    new = np.clip(w, lower, upper)
    new[~out] += np.sum(w - new) / np.sum(~out)
    return new, out.any()


def _trim_proportional(w, lower, upper):
    """Clip, then share the trimmed amount among the untrimmed units in proportion to their weight."""
    out = (w < lower) | (w > upper)
    new = np.clip(w, lower, upper)
    free = ~out & (new > 0)
    if out.any() and not free.any():
        raise CalibrationError(f"no weight inside [{lower:g}, {upper:g}] is above zero to take the trimmed amount "
                               "in proportion: the total would be lost")
    if free.any():
        new[free] += np.sum(w - new) * new[free] / new[free].sum()
    return new, out.any()


TRIM_RULES = {"equal": _trim_r, "proportional": _trim_proportional}


def trim(design: Design, *, lower: float = -np.inf, upper: float = np.inf, strict: bool = False, rule: str = "equal",
         maxit: int = 10000) -> Design:
    """Trim weights to [lower, upper] and redistribute the trimmed amount (R ``trimWeights``).

    Parameters
    ----------
    lower, upper : float
        Bounds on the weights.
    strict : bool, default False
        Repeat until no weight is outside the bounds (R's ``strict=TRUE``); each pass treats only
        the weights then outside the bounds as trimmed.
    rule : {"equal", "proportional"}, default "equal"
        "equal" is R's rule: the trimmed amount is shared equally among the units not trimmed.
        "proportional" (not R's) shares it in proportion to their weights.
    maxit : int
        Safety limit on ``strict`` passes.

    Returns
    -------
    Design
        With the trimmed weights (the variance treats them as fixed).

    Raises
    ------
    CalibrationError
        An unknown ``rule``; every weight outside the bounds (nothing to share the trimmed amount among); with
        ``strict``, bounds no set of weights with the same total can meet (the mean weight outside them), or
        weights still outside them after ``maxit`` passes.
    """
    if rule not in TRIM_RULES:
        raise CalibrationError(f"trim rule must be one of {tuple(TRIM_RULES)}, not {rule!r}")
    w = design.weights.copy()
    if ((w < lower) | (w > upper)).all():
        raise CalibrationError(f"every weight is outside [{lower:g}, {upper:g}]: no weight is left to take the trimmed "
                               "amount, so the total would be lost")
    if strict and not (len(w) * lower <= w.sum() <= len(w) * upper):
        raise CalibrationError(f"strict trimming to [{lower:g}, {upper:g}] is impossible: the mean weight {w.mean():.6g} is "
                               "outside the bounds, and trimming keeps the total")
    for _ in range(maxit if strict else 1):
        w, changed = TRIM_RULES[rule](w, lower, upper)
        if not changed:
            break
    else:
        if strict and ((w < lower) | (w > upper)).any():
            raise CalibrationError(f"strict trimming to [{lower:g}, {upper:g}] left weights outside the bounds after "
                                   f"{maxit} passes")
    step = {"kind": "trim", "lower": _finite_or_none(lower), "upper": _finite_or_none(upper), "strict": strict, "rule": rule}
    return design.with_weights(w, trimmed={"lower": lower, "upper": upper, "strict": strict, "rule": rule},
                               recipe=_recipe(design, step))


def _finite_or_none(x):
    return float(x) if np.isfinite(x) else None


def _recipe(design: Design, step: dict) -> list:
    """The weighting steps so far plus ``step`` (JSON-ready; :mod:`cmlkit.weighted` replays them)."""
    return [*design.info.get("recipe", []), step]


def collapse_cells(counts: pd.DataFrame, *, cell: str, n_col: str = "n", min_n: int = 5, order: list | None = None) -> dict:
    """Merge sparse cells into their neighbours until every cell has at least ``min_n`` responses.

    Parameters
    ----------
    counts : pandas.DataFrame
        One row per cell with its response count ``n_col``.
    cell : str
        Cell label column.
    min_n : int, default 5
        Minimum responses per weighting cell (stated in the weighting report).
    order : list, optional
        Cell order defining neighbours (default: the order of ``counts``). A sparse cell is merged
        with the smaller of its two neighbours, repeatedly.

    Returns
    -------
    dict
        Original cell -> collapsed cell label (``"a + b"``).
    """
    labels = list(order or counts[cell].astype(str))
    n = dict(zip(counts[cell].astype(str), counts[n_col]))
    groups = [[c] for c in labels]
    sizes = [n.get(c, 0) for c in labels]
    while len(groups) > 1 and min(sizes) < min_n:
        i = int(np.argmin(sizes))
        if i == 0:
            j = 1
        elif i == len(groups) - 1:
            j = i - 1
        else:
            j = i - 1 if sizes[i - 1] <= sizes[i + 1] else i + 1
        a, b = sorted((i, j))
        groups[a] = groups[a] + groups[b]
        sizes[a] += sizes[b]
        del groups[b], sizes[b]
    return {c: " + ".join(g) for g in groups for c in g}


def diagnostics(design: Design, *, base_weights=None) -> dict:
    """Weight diagnostics: sum, min/max, ratio, CV, Kish design effect and effective sample size.

    ``deff_kish = n * sum(w^2) / sum(w)^2`` (Kish 1965); ``n_eff = n / deff_kish``.

    Parameters
    ----------
    design : Design
    base_weights : array-like, optional
        The weights before adjustment: adds the range of the adjustment factor g = w / base.

    Returns
    -------
    dict
        ``n, sum_weights, min, max, max_min_ratio, cv, deff_kish, n_eff`` (positive weights only), with
        ``base_weights`` also ``g_min, g_max``, and the calibration summary of ``design.info``.
    """
    w = design.weights[design.weights > 0]
    n = len(w)
    deff = n * np.sum(w ** 2) / np.sum(w) ** 2 if n else np.nan
    out = {"n": int(n), "sum_weights": float(w.sum()), "min": float(w.min()) if n else np.nan, "max": float(w.max()) if n else np.nan,
           "max_min_ratio": float(w.max() / w.min()) if n else np.nan, "cv": float(w.std() / w.mean()) if n else np.nan,
           "deff_kish": float(deff), "n_eff": float(n / deff) if n else 0.0}
    if base_weights is not None:
        b = np.asarray(base_weights, dtype=float)[design.weights > 0]
        g = w / b
        out.update({"g_min": float(g.min()), "g_max": float(g.max())})
    out.update(design.info.get("calibration", {}))
    return out
