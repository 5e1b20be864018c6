"""Weighted findings: indicator estimates by domain, design-based tests, an ordinal model, the findings table.

Estimates use the weighting step's calibrated design, replayed from the recipe the weighted
product carries (:mod:`cmlkit.weighted`), so standard errors reflect the calibration. Tests of
difference follow R ``survey``: :func:`wald_test` is ``regTermTest(svyglm(y ~ g), ~g)`` (Wald F on
the domain means, denominator df = design df - (groups - 1)); :func:`rao_scott` is
``svychisq(~a + b, design, statistic = "F")`` (Pearson X² divided by the trace of the generalised
design-effect matrix, second-order Satterthwaite df). Both are checked against R golden values, as
is the design-based proportional-odds model (:func:`ordinal_model`, R ``svyolr``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import design as D
from cmlkit import distributions
from cmlkit import disclosure
from cmlkit import domains
from cmlkit import olr
from cmlkit import weighted as weighted_io
from cmlkit import estimates as E
from cmlkit import nonresponse as NR


def design_of(weighted: pd.DataFrame, *, data: pd.DataFrame | None = None) -> D.Design:
    """The design of weighted library responses, with extra columns.

    A weighted product written by the weighting step carries its recipe (:mod:`cmlkit.weighted`):
    the calibrated design is replayed, so standard errors are calibration-aware (a recipe that does
    not reproduce the weights raises). A table without one (pandas drops it in ``merge``; use
    :func:`cmlkit.weighted.keep_recipe`) gets a fixed-weight design (weights, region strata, fpc),
    which errs on the wide side.

    Parameters
    ----------
    weighted : pandas.DataFrame
        The weighted product.
    data : pandas.DataFrame, optional
        Row-aligned extra columns added to the design's data.

    Returns
    -------
    Design
    """
    if weighted_io.ATTR in weighted.attrs:
        des = weighted_io.rebuild(weighted.reset_index(drop=True))
        if data is None:
            return des
        extra = data.reset_index(drop=True)
        return D.Design(**{**des.__dict__, "data": pd.concat([des.data, extra.drop(columns=[c for c in extra if c in des.data])], axis=1)})
    frame = weighted if data is None else pd.concat([weighted.reset_index(drop=True), data.reset_index(drop=True)], axis=1)
    return D.svydesign(frame, weights="weight", **NR.LIBRARY_DESIGN, lonely_psu="adjust")


def _domain_means(design, column, groups):
    """Domain means of ``column`` for every level of ``groups`` and their influence columns (n x levels), no loop."""
    y = E._y(design, column)
    g = pd.Series(np.asarray(groups)).astype("string")
    codes, levels = pd.factorize(g, sort=True)
    ok = (codes >= 0) & ~np.isnan(y)
    M = np.zeros((design.n, len(levels)))
    M[np.flatnonzero(ok), codes[ok]] = 1.0
    w = design.weights[:, None] * M
    yv = np.where(ok, y, 0.0)[:, None]
    sw = w.sum(axis=0)
    theta = (w * yv).sum(axis=0) / sw
    Z = w * (yv - theta[None, :]) / sw[None, :]
    return list(levels), theta, Z


def wald_test(design: D.Design, column, by, *, domain=None) -> dict:
    """Design-based Wald F test that the mean of ``column`` is equal across the groups of ``by``.

    Returns ``F, ndf, ddf, p`` (and the group means), as R ``regTermTest(svyglm(y ~ g), ~g)``;
    ``domain`` (boolean mask) restricts the test to a subpopulation (``subset(design, domain)``).

    Parameters
    ----------
    design : Design
    column : str
        The variable.
    by : str
        The grouping column.
    domain : array-like of bool, optional
        A subpopulation.

    Returns
    -------
    dict
        ``F, ndf, ddf, p`` and the group means.
    """
    groups = design.data[by] if isinstance(by, str) else by
    if domain is not None:
        groups = pd.Series(np.asarray(groups), dtype="object").where(np.asarray(domain, dtype=bool))
    levels, theta, Z = _domain_means(design, column, groups)
    q = len(levels) - 1
    if q < 1:
        return {"F": np.nan, "ndf": 0, "ddf": np.nan, "p": np.nan, "means": dict(zip(levels, theta))}
    V = D.variance(design, Z)
    C = np.hstack([-np.ones((q, 1)), np.eye(q)])
    d = C @ theta
    W = float(d @ np.linalg.solve(C @ V @ C.T, d))
    y = E._y(design, column)
    has = ~np.isnan(y) & pd.Series(np.asarray(groups)).notna().to_numpy()
    ddf = D.degf(design, domain=has) - q          # R's svyglm drops rows with a missing outcome before degf
    F = W / q
    return {"F": F, "ndf": q, "ddf": ddf, "p": float(distributions.f_sf(F, q, ddf)), "means": dict(zip(levels, theta))}


def rao_scott(design: D.Design, row: str, col: str, *, domain=None) -> dict:
    """Rao-Scott adjusted test of independence in a two-way table (``svychisq(statistic = "F")``).

    ``domain`` (boolean mask) restricts the test to a subpopulation, as
    ``svychisq(~row + col, subset(design, domain))``: the full design, zero influence outside.
    Returns ``F, ndf, ddf, p, pearson`` (the Pearson X² on the weighted table scaled to R's
    ``nrow`` of the (subset) design).

    Parameters
    ----------
    design : Design
    row, col : str
        The two categorical columns.
    domain : array-like of bool, optional
        A subpopulation.

    Returns
    -------
    dict
        ``F, ndf, ddf, p, pearson``.
    """
    r = design.data[row].astype("string")
    c = design.data[col].astype("string")
    dom = np.ones(design.n, bool) if domain is None else np.asarray(domain, dtype=bool)
    ok = (r.notna() & c.notna()).to_numpy() & dom
    rl, cl = sorted(r[ok].unique()), sorted(c[ok].unique())
    nr, nc = len(rl), len(cl)
    if nr < 2 or nc < 2:
        return {"F": np.nan, "ndf": np.nan, "ddf": np.nan, "p": np.nan, "pearson": np.nan}
    w = np.where(ok, design.weights, 0.0)
    ri = pd.Categorical(r, categories=rl).codes
    ci = pd.Categorical(c, categories=cl).codes
    has = (ri >= 0) & (ci >= 0)
    M = np.zeros((design.n, nr * nc))                     # one column per cell, rows of the table varying fastest
    M[np.flatnonzero(has), (ci * nr + ri)[has]] = 1.0
    p = (w[:, None] * M).sum(axis=0) / w.sum()
    Z = w[:, None] * (M - p[None, :]) / w.sum()
    V = D.variance(design, Z)
    N = design.n if (domain is None or design.calibrated) else int(dom.sum())
    table = p.reshape(nc, nr).T * N
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    pearson = float(((table - expected) ** 2 / expected).sum())
    grid_r = np.tile(np.arange(nr), nc)
    grid_c = np.repeat(np.arange(nc), nr)
    X1 = np.column_stack([np.ones(nr * nc)] + [(grid_r == i).astype(float) for i in range(1, nr)]
                         + [(grid_c == j).astype(float) for j in range(1, nc)])
    inter = np.column_stack([((grid_r == i) & (grid_c == j)).astype(float) for j in range(1, nc) for i in range(1, nr)])
    Cmat = inter - X1 @ np.linalg.lstsq(X1, inter, rcond=None)[0]
    iD = np.diag(np.where(p == 0, 0, 1 / np.where(p == 0, 1, p)))
    denom = Cmat.T @ (iD / N) @ Cmat
    numr = Cmat.T @ iD @ V @ iD @ Cmat
    Delta = np.linalg.solve(denom, numr)
    tr = float(np.trace(Delta))
    d0 = tr ** 2 / float(np.trace(Delta @ Delta))
    nu = D.degf(design, domain=None if domain is None else dom)
    F = pearson / tr
    return {"F": F, "ndf": d0, "ddf": d0 * nu, "p": float(distributions.f_sf(F, d0, d0 * nu)), "pearson": pearson}


def estimate_rows(design: D.Design, column: str, *, label: str, section: str, kind: str = "mean",
                  by=("type", "region"), wave: str = "") -> pd.DataFrame:
    """One indicator's estimate overall and by each breakdown, with intervals and base n.

    Parameters
    ----------
    design : Design
    column : str
        The indicator.
    label, section : str
        Its label and report section.
    kind : {"mean", "proportion", "total"}, default "mean"
    by : tuple of str, default ("type", "region")
        Breakdowns.
    wave : str, default ""

    Returns
    -------
    pandas.DataFrame
        One row overall and one per group of each breakdown.
    """
    fn = E.ci_proportion if kind == "proportion" else E.mean
    rows = [{"breakdown": "all", "domain": "all", **fn(design, column)}]
    for b in by:
        t = E.by_domain(design, column, b, estimator="proportion" if kind == "proportion" else "mean")
        rows += [{"breakdown": b, "domain": rr[b], **{k: rr[k] for k in t.columns if k != b}} for _, rr in t.iterrows()]
    out = pd.DataFrame(rows)
    if kind == "proportion":  # unweighted numerator counts, for numerator suppression (never published)
        yes = pd.to_numeric(design.data[column], errors="coerce").eq(1)
        counts = {("all", "all"): int(yes.sum())} | {(b, str(d)): int(v) for b in by
                                                     for d, v in yes.groupby(design.data[b].astype(str)).sum().items()}
        out["numerator_n"] = [counts.get((b, str(d))) for b, d in zip(out["breakdown"], out["domain"])]
    out.insert(0, "finding_id", [f"{column}|{b}|{d}" for b, d in zip(out["breakdown"], out["domain"])])
    out.insert(1, "indicator", column)
    out.insert(2, "label", label)
    out.insert(3, "section", section)
    out["method"] = np.where(kind == "proportion", "weighted proportion, " + out["ci_method"].astype(str) + " interval on design df",
                             "weighted mean, linearised SE, t interval on design df")
    out["wave"] = wave
    return out.rename(columns={"n": "base_n"})


FINDING_COLUMNS = ["finding_id", "section", "indicator", "label", "unit", "breakdown", "domain", "estimate", "ci_low", "ci_high",
                   "method", "base_n", "suppressed", "suppression", "wave"]


def findings_table(rows: pd.DataFrame, *, k: int | None = None) -> pd.DataFrame:
    """The findings table with disclosure control (primary and secondary suppression per indicator x breakdown).

    Parameters
    ----------
    rows : pandas.DataFrame
        :func:`estimate_rows` output for every indicator.
    k : int, optional
        Smallest publishable base; default ``research/disclosure.yml``.

    Returns
    -------
    pandas.DataFrame
    """
    t = rows.assign(_group=rows["indicator"] + "|" + rows["breakdown"])
    t = disclosure.suppress(t, n_col="base_n", k=k, group="_group").drop(columns="_group")
    return t[[c for c in FINDING_COLUMNS if c in t]]


def weighted_shares(design: D.Design, columns, *, by: str | None = None) -> pd.DataFrame:
    """Weighted mean of several 0/1 (or share) columns, overall or by group: rows = groups, columns = items.

    One vectorised pass over all groups and columns (:func:`cmlkit.domains.domain_table`).

    Parameters
    ----------
    design : Design
    columns : list of str
        0/1 (or share) columns.
    by : str, optional
        The grouping column.

    Returns
    -------
    pandas.DataFrame
    """
    columns = list(columns)
    if by is None:
        des = D.Design(**{**design.__dict__, "data": design.data.assign(_all="all")})
        by = "_all"
    else:
        des = design
    t = domains.domain_table(des, columns, by, estimator="mean")
    out = t.pivot(index="domain", columns="variable", values="estimate")[columns]
    out.index.name, out.columns.name = None, None
    return out


def likert_shares(data: pd.DataFrame, items, *, inst, weights=None) -> pd.DataFrame:
    """Weighted share of each scored level per item (rows = items, columns = level labels in order).

    Parameters
    ----------
    data : pandas.DataFrame
        Clean responses.
    items : list of str
        Likert questions.
    inst : Instrument
        Where the levels and scores come from.
    weights : array-like, optional
        Survey weights (None: unweighted).

    Returns
    -------
    pandas.DataFrame
    """
    rows = {}
    w_all = np.ones(len(data)) if weights is None else np.asarray(weights, dtype=float)
    levels = None
    for q in items:
        choices = [c for c in inst.choices(q) if c.get("score") is not None]
        levels = [c["label"] for c in choices]
        ans = data[q].astype("string")
        ok = ans.isin([c["name"] for c in choices]).fillna(False).to_numpy()
        w = w_all[ok]
        rows[q] = {c["label"]: float(w[(ans[ok] == c["name"]).to_numpy()].sum() / w.sum()) if w.sum() > 0 else np.nan for c in choices}
        rows[q]["n"] = int(ok.sum())
    return pd.DataFrame(rows).T[[*levels, "n"]]


def ordinal_model(data: pd.DataFrame, outcome: str, predictors: pd.DataFrame, *, inst, design: D.Design | None = None) -> dict:
    """Design-based proportional-odds model of a Likert outcome (R ``svyolr``; :func:`cmlkit.olr.svyolr`).

    ``data`` is the weighted product (its design is rebuilt with :func:`design_of` unless ``design``
    is given, in which case ``data`` must be row-aligned with it); ``predictors`` are numeric columns
    row-aligned with ``data``. Rows with a missing outcome or predictor are dropped; predictors
    without variation are left out. Returns the slopes with design-based standard errors, odds ratios
    and p-values (t on the design df), the n used and the limits (proportional odds not tested;
    associations, not effects).

    Parameters
    ----------
    data : pandas.DataFrame
        The weighted product.
    outcome : str
        The Likert question.
    predictors : pandas.DataFrame
        Numeric, row-aligned with ``data``.
    inst : Instrument
    design : Design, optional
        Use this design instead of rebuilding it.

    Returns
    -------
    dict
        Slopes, standard errors, odds ratios, p-values, n and limits.
    """
    choices = [c for c in inst.choices(outcome) if c.get("score") is not None]
    levels = [c["name"] for c in choices]
    X = predictors.reset_index(drop=True).astype(float)
    X = X.loc[:, X.std() > 0]
    des = design_of(data) if design is None else design
    extra = X.add_prefix("_x_").assign(_y=data[outcome].reset_index(drop=True).astype("string").where(
        data[outcome].reset_index(drop=True).isin(levels)))
    des = D.Design(**{**des.__dict__, "data": pd.concat([des.data.drop(columns=[c for c in extra if c in des.data]),
                                                          extra], axis=1)})
    fit = olr.svyolr(des, "_y", levels=levels, numeric=[f"_x_{c}" for c in X.columns])
    c = fit["coefficients"].iloc[:X.shape[1]]
    coef = pd.DataFrame({"predictor": list(X.columns), "coef": c["estimate"].to_numpy(), "se": c["se"].to_numpy(),
                         "p": c["p"].to_numpy(), "odds_ratio": c["odds_ratio"].to_numpy()})
    return {"n": fit["n"], "coefficients": coef, "converged": fit["converged"], "df": fit["df_residual"],
            "limits": "design-based (svyolr: weights, region strata, fpc); complete cases; proportional odds assumed "
                      "(not tested); associations, not effects"}


def section_rows(design: D.Design, spec: dict, section: str, *, wave: str = "", by=("type", "region")) -> pd.DataFrame:
    """Estimate rows for every library-level indicator of a section (columns already in the design data).

    Parameters
    ----------
    design : Design
    spec : dict
        The indicator specification.
    section : str
    wave : str, default ""
    by : tuple of str, default ("type", "region")

    Returns
    -------
    pandas.DataFrame
    """
    parts = [estimate_rows(design, name, label=ind["label"], section=section, kind=ind["kind"], by=by, wave=wave)
             for name, ind in spec["indicators"].items() if ind["section"] == section]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def difference_tests(design: D.Design, columns, *, by=("type", "region")) -> pd.DataFrame:
    """Wald F tests of equal means across the groups of each breakdown, one row per indicator x breakdown.

    Parameters
    ----------
    design : Design
    columns : list of str
        The indicators.
    by : tuple of str, default ("type", "region")

    Returns
    -------
    pandas.DataFrame
    """
    rows = []
    for c in columns:
        for b in by:
            t = wald_test(design, c, b)
            rows.append({"indicator": c, "breakdown": b, "F": t["F"], "ndf": t["ndf"], "ddf": t["ddf"], "p": t["p"],
                         "test": "design-based Wald F (regTermTest)"})
    return pd.DataFrame(rows)


def publishable_groups(design: D.Design, by: str, *, k: int | None = None) -> list:
    """Groups of ``by`` with at least k responses (the others are left out of figures).

    Parameters
    ----------
    design : Design
    by : str
        The grouping column.
    k : int, optional
        Default ``research/disclosure.yml``.

    Returns
    -------
    list
    """
    k = int(disclosure.load_rules()["k"] if k is None else k)
    n = design.data[by].astype(str).value_counts()
    return sorted(n.index[n >= k])
