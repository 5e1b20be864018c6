"""Does the closure hazard earn a place in the ranking? Validation against simple baselines.

Two validations, each reported for the model and for every baseline on the same rows:

- **authority-grouped cross-validation**: library-intervals split into folds by authority
  (scikit-learn ``GroupKFold``), so no authority is ever in both the fitting and the scored part;
  AUC of the pooled out-of-fold scores;
- **temporal split**: fitted on intervals ending by ``split_year``, scored on the libraries at risk
  at ``split_year`` (their features then), outcome = closing in any later interval.

Intervals are 95% percentile intervals over ``B`` bootstrap resamples of *authorities* (closures
cluster within councils, so resampling libraries would understate the uncertainty); the scores are
held fixed, so the interval reflects which authorities' closures were observed, not refitting.

Baselines need no fitting and point the way stated: fewer weekly hours in 2016, not statutory,
independent (ICL), more deprived neighbourhood (lower IMD decile), and more closures in the
authority in the three years before. Rule (:func:`ranking_weight`): the model's weight in the
combined ranking is the configured weight only if, in *both* validations, the lower end of its
authority-resampled AUC interval lies above the best baseline's AUC point estimate; otherwise 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import closure as C

BASELINES = {
    "fewer_hours_2016": ("log_hours_16", -1.0, "fewer weekly opening hours in 2016"),
    "not_statutory": ("statutory", -1.0, "not part of the council's statutory service"),
    "independent_icl": ("icl", 1.0, "independent community library (ICL)"),
    "deprivation_decile": ("imd_decile", -1.0, "more deprived neighbourhood (lower IMD 2015 decile)"),
    "authority_recent_closures": ("authority_recent_closures", 1.0, "the authority closed libraries in the previous three years"),
}


def baseline_scores(rows: pd.DataFrame) -> pd.DataFrame:
    """Each available baseline's score (higher = riskier); unknown values get the median (a tie).

    Parameters
    ----------
    rows : pandas.DataFrame
        Library-interval rows (:func:`cmlkit.closure.library_years`).

    Returns
    -------
    pandas.DataFrame
        One column per baseline.
    """
    out = {}
    for name, (col, sign, _) in BASELINES.items():
        if col in rows and rows[col].notna().any():
            x = sign * rows[col].astype(float)
            out[name] = x.fillna(x.median())
    return pd.DataFrame(out, index=rows.index)


def weighted_auc(score, y, weights) -> np.ndarray:
    """ROC AUC (ties count one half) for each row of a frequency-weight matrix, vectorised.

    Parameters
    ----------
    score, y : array-like, shape (n,)
    weights : array-like, shape (B, n) or (n,)
        Frequency weights (e.g. how often each row's authority was drawn).

    Returns
    -------
    numpy.ndarray
        One AUC per row of ``weights``.
    """
    s = np.asarray(score, dtype=float)
    y = np.asarray(y, dtype=float) > 0
    W = np.atleast_2d(np.asarray(weights, dtype=float))
    order = np.argsort(s, kind="stable")
    s, y, W = s[order], y[order], W[:, order]
    _, grp = np.unique(s, return_inverse=True)
    G = grp.max() + 1
    pos = np.zeros((W.shape[0], G))
    neg = np.zeros((W.shape[0], G))
    np.add.at(pos.T, grp[y], W[:, y].T)
    np.add.at(neg.T, grp[~y], W[:, ~y].T)
    neg_below = np.cumsum(neg, axis=1) - neg
    num = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
    den = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def authority_bootstrap(scores: pd.DataFrame, y, authority, *, B: int = 1000, level: float = 0.95,
                        random_state=0) -> pd.DataFrame:
    """AUC and authority-resampled percentile interval for each score column (same draws for all).

    Parameters
    ----------
    scores : pandas.DataFrame
        One column per score (higher = riskier).
    y : array-like of 0/1
        The outcome.
    authority : array-like
        Each row's authority (the resampling unit).
    B : int, default 1000
        Resamples.
    level : float, default 0.95
    random_state : int or numpy.random.Generator, default 0

    Returns
    -------
    pandas.DataFrame
        Per score: ``auc, ci_low, ci_high``.
    """
    rng = np.random.default_rng(random_state)
    codes, uniq = pd.factorize(pd.Series(authority).to_numpy())
    draws = rng.integers(0, len(uniq), size=(B, len(uniq)))
    counts = np.zeros((B, len(uniq)))
    np.add.at(counts, (np.repeat(np.arange(B), len(uniq)), draws.ravel()), 1.0)
    W = counts[:, codes]
    a = (1 - level) / 2
    rows = []
    y = np.asarray(y, dtype=float)
    for name in scores.columns:
        s = scores[name].to_numpy(dtype=float)
        boot = weighted_auc(s, y, W)
        rows.append({"score": name, "auc": float(weighted_auc(s, y, np.ones(len(s)))[0]),
                     "ci_low": float(np.nanquantile(boot, a)), "ci_high": float(np.nanquantile(boot, 1 - a))})
    return pd.DataFrame(rows)


def _summary(table: pd.DataFrame, rows: pd.DataFrame, y, *, what: str) -> dict:
    base = table.loc[table["score"] != "model"]
    best = base.loc[base["auc"].idxmax()] if len(base) else None
    m = table.loc[table["score"] == "model"].iloc[0]
    return {"what": what, "n": int(len(rows)), "events": int(np.sum(y)), "authorities": int(rows["authority"].nunique()),
            "authorities_with_closures": int(rows.loc[np.asarray(y) > 0, "authority"].nunique()),
            "model": {k: float(m[k]) for k in ("auc", "ci_low", "ci_high")},
            "baselines": {r.score: {"auc": float(r.auc), "ci_low": float(r.ci_low), "ci_high": float(r.ci_high),
                                    "means": BASELINES[r.score][2]} for r in base.itertuples()},
            "best_baseline": None if best is None else {"name": best["score"], "auc": float(best["auc"])},
            "model_beats_best_baseline": bool(best is None or m["ci_low"] > best["auc"])}


def grouped_cv(rows: pd.DataFrame, *, folds: int = 5, B: int = 1000, random_state=0) -> dict:
    """Authority-grouped cross-validation of the hazard against the baselines (library-intervals).

    Parameters
    ----------
    rows : pandas.DataFrame
        Library-interval rows.
    folds : int, default 5
    B : int, default 1000
        Authority resamples for the intervals.
    random_state : int, default 0

    Returns
    -------
    dict
        Out-of-fold AUCs of the hazard and the baselines, with intervals.
    """
    from sklearn.model_selection import GroupKFold   # imported here: a kernel that does not call this does not load it
    y = rows["event"].to_numpy(dtype=float)
    oof = np.full(len(rows), np.nan)
    k = min(folds, rows["authority"].nunique())
    for tr, te in GroupKFold(n_splits=k).split(rows, y, groups=rows["authority"]):
        model = C.fit_hazard(rows.iloc[tr])
        oof[te] = model.rate(rows.iloc[te])
    scores = pd.concat([pd.DataFrame({"model": oof}, index=rows.index), baseline_scores(rows)], axis=1)
    table = authority_bootstrap(scores, y, rows["authority"], B=B, random_state=random_state)
    return _summary(table, rows, y, what=f"authority-grouped {k}-fold cross-validation, library-intervals "
                                         f"{rows['start'].min()}-{rows['end'].max()}")


def temporal_split(rows: pd.DataFrame, *, split_year: int = 2019, B: int = 1000, random_state=0) -> dict:
    """Fit on intervals ending by ``split_year``; score libraries at risk at ``split_year``.

    Parameters
    ----------
    rows : pandas.DataFrame
        Library-interval rows.
    split_year : int, default 2019
    B : int, default 1000
    random_state : int, default 0

    Returns
    -------
    dict
        AUCs of the hazard and the baselines on the later libraries, with intervals.
    """
    train = rows.loc[rows["end"] <= split_year]
    later = rows.loc[rows["start"] >= split_year]
    test = later.loc[later["start"] == split_year].copy()
    closed_later = later.groupby("library_id")["event"].max()
    y = test["library_id"].map(closed_later).to_numpy(dtype=float)
    model = C.fit_hazard(train)
    scores = pd.concat([pd.DataFrame({"model": model.rate(test)}, index=test.index), baseline_scores(test)], axis=1)
    table = authority_bootstrap(scores, y, test["authority"], B=B, random_state=random_state)
    out = _summary(table, test, y, what=f"fitted on intervals ending by {split_year} ({int(train['event'].sum())} closures "
                                        f"among {len(train)} library-intervals), tested on libraries at risk in {split_year}: "
                                        f"closed by {rows['end'].max()}")
    out["train"] = {"n": int(len(train)), "events": int(train["event"].sum())}
    out["unclear_status_at_start"] = int(test["status_unclear"].sum())
    out["unclear_status_later_closed"] = int(((test["status_unclear"] > 0) & (y > 0)).sum())
    return out


def ranking_weight(validation: dict, configured: float) -> float:
    """The model's weight in the combined ranking: ``configured`` only if it beats the best
    baseline (interval above its point estimate) in every validation reported, else 0.

    Parameters
    ----------
    validation : dict
        :func:`validate` output.
    configured : float
        The weight the specification asks for.

    Returns
    -------
    float
    """
    checks = [validation.get(k) for k in ("grouped_cv", "temporal")]
    if not checks or any(c is None or not c.get("model_beats_best_baseline") for c in checks):
        return 0.0
    return float(configured)


def weight_in_words(validation: dict, weight: float) -> str:
    """One sentence for network staff on whether the closure model counts in the ranking.

    Parameters
    ----------
    validation : dict
        :func:`validate` output.
    weight : float
        :func:`ranking_weight` output.

    Returns
    -------
    str
    """
    if validation.get("status") != "ok":
        return f"The closure model could not be fitted ({validation.get('status')}); the ranking uses the survey index alone."
    parts = []
    for key, label in (("grouped_cv", "tested on councils it had not seen"), ("temporal", "tested on later years")):
        v = validation[key]
        best = v["best_baseline"]
        parts.append(f"{label}, it scored {v['model']['auc']:.2f} (range {v['model']['ci_low']:.2f}-{v['model']['ci_high']:.2f}) "
                     f"against {best['auc']:.2f} for the best simple rule ({BASELINES[best['name']][2]})")
    if weight > 0:
        return ("The closure model predicts closures better than any simple rule (" + "; ".join(parts)
                + f"), so it counts for {weight:.0%} of each library's place in the list.")
    return ("The closure model does not predict closures reliably better than a simple rule ("
            + "; ".join(parts) + "), so it does not affect the order of the list: the list is ordered by the survey answers alone.")


def validate(frame: pd.DataFrame, *, taskforce: pd.DataFrame | None = None, split_year: int = 2019, folds: int = 5,
             B: int = 1000, random_state: int = 0, measures: pd.DataFrame | None = None) -> tuple[dict, pd.DataFrame]:
    """Fit the full-history hazard and both validations.

    Parameters
    ----------
    frame : pandas.DataFrame
        The library frame.
    taskforce : pandas.DataFrame, optional
        The Taskforce 2016 dataset.
    split_year : int, default 2019
    folds : int, default 5
    B : int, default 1000
    random_state : int, default 0
    measures : pandas.DataFrame, optional
        :func:`cmlkit.closure.library_measures` of ``frame`` and ``taskforce`` when already computed.

    Returns
    -------
    (validation, rows) : the JSON-ready validation (``status``, ``data``, ``coefficients``,
    ``grouped_cv``, ``temporal``) and the library-interval rows.
    """
    rows = C.library_years(frame, taskforce=taskforce, measures=measures)
    if len(rows) < 30 or rows["event"].sum() < 10:
        raise C.ClosureModelError(f"only {len(rows)} community library-intervals with {int(rows['event'].sum())} closures: "
                                  "too few to fit and validate a closure model")
    model = C.fit_hazard(rows)
    coefs = model.coefficients()
    by_interval = rows.groupby(["start", "end"]).agg(at_risk=("event", "size"), closures=("event", "sum")).reset_index()
    val = {"status": "ok",
           "data": {"library_intervals": int(len(rows)), "libraries": int(rows["library_id"].nunique()),
                    "closures": int(rows["event"].sum()), "authorities": int(rows["authority"].nunique()),
                    "authorities_with_closures": int(rows.loc[rows["event"] > 0, "authority"].nunique()),
                    "unclear_status_intervals": int(rows["status_unclear"].sum()),
                    "taskforce_linked": taskforce is not None,
                    "by_interval": by_interval.astype(int).to_dict("records")},
           "model": "complementary log-log binomial GLM, offset log(interval years), authority-clustered SEs (statsmodels)",
           "coefficients": coefs.round(4).to_dict("records"),
           "bootstrap": {"resamples": B, "unit": "authority", "interval": "95% percentile"},
           "grouped_cv": grouped_cv(rows, folds=folds, B=B, random_state=random_state),
           "temporal": temporal_split(rows, split_year=split_year, B=B, random_state=random_state)}
    return val, rows


def report(frame: pd.DataFrame, library_ids, *, taskforce: pd.DataFrame | None = None, configured_weight: float = 0.2,
           horizon: float = 4.0, split_year: int = 2019, B: int = 1000, random_state: int = 0) -> tuple[dict, pd.Series]:
    """Validation, ranking weight and each library's predicted closure risk within ``horizon`` years.

    Parameters
    ----------
    frame : pandas.DataFrame
        The library frame.
    library_ids : iterable
        The libraries to predict for.
    taskforce : pandas.DataFrame, optional
    configured_weight : float, default 0.2
        The weight asked for (:func:`ranking_weight`).
    horizon : float, default 4.0
        Years ahead.
    split_year : int, default 2019
    B : int, default 1000
    random_state : int, default 0

    Returns
    -------
    (validation, base_risk) : validation dict with ``status``, ``ranking_weight`` and ``in_words``
    added; predicted probabilities per library id (NaN when the model could not be fitted).
    """
    ids = list(library_ids)
    try:
        # the Taskforce file linked once for both (library_years names missing columns itself)
        measures = C.library_measures(frame, taskforce=taskforce) if {"library_id", "authority"} <= set(frame.columns) else None
        val, rows = validate(frame, taskforce=taskforce, split_year=split_year, B=B, random_state=random_state,
                             measures=measures)
        model = C.fit_hazard(rows)
        risk = pd.Series(model.predict(C.current_rows(frame, ids, taskforce=taskforce, measures=measures), years=horizon),
                         index=ids, name="base_risk")
    except C.ClosureModelError as exc:
        val, risk = {"status": f"not fitted: {exc}"}, pd.Series(np.nan, index=ids, name="base_risk")
    w = ranking_weight(val, configured_weight) if val["status"] == "ok" else 0.0
    val["configured_weight"] = float(configured_weight)
    val["ranking_weight"] = w
    val["rule"] = ("weight = configured only if, in both validations, the lower end of the model's authority-resampled "
                   "95% AUC interval lies above the best baseline's AUC; otherwise 0")
    val["in_words"] = weight_in_words(val, w)
    val["horizon_years"] = float(horizon)
    return val, risk


def comparison_table(validation: dict) -> pd.DataFrame:
    """The model and every baseline, per validation: AUC with its authority-resampled interval.

    Parameters
    ----------
    validation : dict
        :func:`validate` output.

    Returns
    -------
    pandas.DataFrame
    """
    rows = []
    for key in ("grouped_cv", "temporal"):
        v = validation.get(key)
        if not v:
            continue
        rows.append({"validation": key, "score": "model", "means": "closure model (hazard)", **v["model"]})
        rows += [{"validation": key, "score": k, **b} for k, b in v["baselines"].items()]
    cols = ["validation", "score", "means", "auc", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=cols)
