"""Survey weights: base weights, nonresponse adjustment, calibration to frame margins, diagnostics.

All functions take and return a :class:`~cmlkit.design.Design`; the weights are survey weights
(inverse probabilities of selection and response, scaled to the population). Each calibration
records how it changes the variance (see :mod:`cmlkit.design`), matching R ``survey``:

* :func:`post_stratify` — ``postStratify(design, ~cell, population)``;
* :func:`calibrate` — ``calibrate(design, ~a + b, population, calfun = "linear" | "raking" |
  "logit", bounds)``: Newton iterations on the calibration equations as in R's ``grake``;
* :func:`rake` — raking to several margins (= ``calibrate(calfun = "raking")``, whose variance
  R's own ``rake`` reproduces to display precision);
* :func:`trim` — ``trimWeights``; :func:`collapse_cells` — merges sparse cells before weighting.

References
----------
Deville, J.-C. and Särndal, C.-E. (1992) Calibration estimators in survey sampling. JASA 87, 376-382.
Lumley, T. (2010) Complex Surveys: a guide to analysis using R. Wiley.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit.design import Design, DesignError

CALFUNS = ("linear", "raking", "logit")


class CalibrationError(DesignError):
    """Calibration is impossible or did not converge."""


def post_stratify(design: Design, cell: str, population: dict | pd.Series) -> Design:
    """Post-stratify to known population counts per cell (R ``postStratify``).

    Parameters
    ----------
    design : Design
    cell : str
        Column holding each response's post-stratum.
    population : dict or pandas.Series
        Cell -> population count.

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
    return design.with_weights(w, ("poststrat", pd.factorize(cells, sort=True)[0], w.copy(), design.weights.copy()))


def model_matrix(data: pd.DataFrame, *, factors=(), numeric=(), levels: dict | None = None) -> tuple[np.ndarray, list]:
    """Intercept, treatment-coded factors (first level dropped) and numeric columns, as R's ``model.matrix``.

    Returns (matrix, column names in R's style, e.g. ``regionNorth West``).
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

    Returns (totals by column name, levels by factor). All margins must sum to the same population size.
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


def _calfun(kind, bounds):
    L, U = bounds
    if kind == "linear":
        return (lambda u: np.clip(1 + u, L, U), lambda u: ((u >= L - 1) & (u <= U - 1)).astype(float))
    if kind == "raking":
        lo, hi = (np.log(L) if L > 0 else -np.inf), np.log(U)
        return (lambda u: np.clip(np.exp(u), L, U), lambda u: np.where((u < lo) | (u > hi), 0.0, np.exp(u)))
    if not (np.isfinite(L) and np.isfinite(U)) or not (L < 1 < U):
        raise CalibrationError("logit calibration needs finite bounds with lower < 1 < upper")
    A = (U - L) / ((1 - L) * (U - 1))

    def F(u):
        e = np.exp(np.clip(A * u, -700, 700))
        return (L * (U - 1) + U * (1 - L) * e) / ((U - 1) + (1 - L) * e)

    def dF(u):
        e = np.exp(np.clip(A * u, -700, 700))
        return A * e * (1 - L) * (U - 1) * (U - L) / ((U - 1) + (1 - L) * e) ** 2

    return F, dF


def calibrate(design: Design, *, margins: dict | None = None, totals: dict | None = None, calfun: str = "linear",
              bounds=(-np.inf, np.inf), maxit: int = 100, epsilon: float = 1e-10) -> Design:
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
        Newton iterations and relative tolerance on the calibration equations.

    Returns
    -------
    Design
        With calibrated weights and a GREG step for the variance (residuals on the calibration
        variables, R's ``svyrecvar`` convention). ``attrs`` of the returned weights are kept in
        :func:`diagnostics`.

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
    F, dF = _calfun(calfun, bounds)
    eta = np.zeros(X.shape[1])
    g = F(X @ eta)
    tol = np.finfo(float).eps ** (1 / 3)
    for it in range(1, maxit + 1):
        deriv = dF(X @ eta)
        misfit = T - X.T @ (d * g)
        if np.max(np.abs(misfit) / (np.abs(T) + tol)) < epsilon:
            break
        H = (X * (d * deriv)[:, None]).T @ X
        step = np.linalg.pinv(H, rcond=tol) @ misfit
        eta = eta + step
        g = F(X @ eta)
        halvings = 0
        while (not np.all(np.isfinite(g))) and halvings < 30:
            step /= 2
            eta = eta - step
            g = F(X @ eta)
            halvings += 1
    else:
        misfit = T - X.T @ (d * g)
        if np.max(np.abs(misfit) / (np.abs(T) + tol)) >= epsilon:
            raise CalibrationError(f"calibration ({calfun}) did not converge in {maxit} iterations; "
                                   f"largest relative misfit {np.max(np.abs(misfit) / (np.abs(T) + tol)):.2e}")
    whalf = np.sqrt(d)
    Q, _ = np.linalg.qr(X * whalf[:, None])
    info = {"calfun": calfun, "iterations": it, "g_min": float(g.min()), "g_max": float(g.max()),
            "max_rel_misfit": float(np.max(np.abs(T - X.T @ (d * g)) / (np.abs(T) + tol)))}
    return design.with_weights(d * g, ("greg", Q, g * whalf), calibration=info)


def rake(design: Design, margins: dict, *, maxit: int = 100, epsilon: float = 1e-10, bounds=(-np.inf, np.inf)) -> Design:
    """Rake to several one-way margins (iterative proportional fitting; = ``calibrate(calfun="raking")``)."""
    return calibrate(design, margins=margins, calfun="raking", maxit=maxit, epsilon=epsilon, bounds=bounds)


def trim(design: Design, *, lower: float = -np.inf, upper: float = np.inf, strict: bool = False, maxit: int = 50) -> Design:
    """Trim weights to [lower, upper], spreading the trimmed amount over the untrimmed weights (R ``trimWeights``).

    ``strict=True`` repeats until no weight is outside the bounds after redistribution.
    """
    w = design.weights.copy()
    total = w.sum()
    for _ in range(maxit):
        out = (w < lower) | (w > upper)
        w = np.clip(w, lower, upper)
        excess = total - w.sum()
        free = ~out & (w > 0)
        if free.any():
            w[free] += excess * w[free] / w[free].sum()
        if not strict or not ((w < lower - 1e-12) | (w > upper + 1e-12)).any():
            break
    return design.with_weights(w)


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

    ``deff_kish = n * sum(w^2) / sum(w)^2`` (Kish 1965); ``n_eff = n / deff_kish``. With
    ``base_weights``, also the range of the adjustment factor g = w / base.
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
