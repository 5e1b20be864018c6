"""A closure model from the real frame history, validated forward in time.

Libraries that were community run or independent (``CR``/``ICL``) in 2016 are followed in the Arts
Council basic dataset: did they close by 2019 (training window) and, if open in 2019, did they close
by 2023 (test window)? Features are those measured before the outcome and not blanked when a
library closes (the 2023 file has no hours or co-location for closed libraries, so those would leak
the outcome): independent vs community run, statutory status at the start of the window, region,
the share of the authority's libraries that were community run in 2016, and — from the Libraries
Taskforce 2016 dataset where the library links to it — weekly hours, whether any hours were staffed,
neighbourhood deprivation (IMD 2015 decile) and population, with missing-value indicators.

The model is an L2-penalised logistic regression (scikit-learn ``LogisticRegressionCV``: penalty
chosen by stratified 5-fold cross-validation on log loss), suited to a few dozen events; Firth
correction is not used. Validation reports ROC AUC, precision in the top decile, the Brier score
and calibration (observed vs predicted by fifth of predicted risk; calibration intercept and
slope), whatever they are.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .errors import CmlkitError

COMMUNITY = ("CR", "ICL")


class ClosureModelError(CmlkitError):
    """The frame history cannot support a closure model."""


def _authority_share(frame: pd.DataFrame, year: str) -> pd.Series:
    op = frame[f"operation_{year}"]
    live = ~op.isin(["Closed", "Unknown", "Facility Not Open"]) & op.notna()
    share = op.where(live).isin(COMMUNITY).groupby(frame["authority"]).sum() / live.groupby(frame["authority"]).sum()
    return frame["authority"].map(share).astype(float)


def link_taskforce(frame: pd.DataFrame, taskforce: pd.DataFrame) -> pd.DataFrame:
    """Taskforce 2016 measures for frame libraries (exact or fuzzy links only; see :mod:`cmlkit.link`)."""
    from .link import link_responses

    resp = frame.rename(columns={"library_id": "response_id", "name": "library_name", "authority": "local_authority"})
    links = link_responses(resp[["response_id", "library_name", "postcode", "local_authority"]].reset_index(drop=True), taskforce)
    ok = links["status"].isin(["exact", "fuzzy"]) & ~links["duplicate_link"]
    tf = taskforce.set_index("library_id")
    cols = ["hours", "staffed_hours", "imd_multiple", "population"]
    out = pd.DataFrame(index=frame.index, columns=[f"tf_{c}" for c in cols], dtype=float)
    ids = links.loc[ok.to_numpy(), "library_id"].to_numpy()
    rows = frame.index[ok.to_numpy()]
    for c in cols:
        out.loc[rows, f"tf_{c}"] = tf.loc[ids, c].to_numpy(dtype=float)
    out["tf_linked"] = ok.to_numpy().astype(float)
    return out


def history(frame: pd.DataFrame, *, taskforce: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per library community run in 2016, with features and the two window outcomes.

    Returns
    -------
    pandas.DataFrame
        ``library_id, authority, region, icl_16, icl_19, statutory_16, statutory_19,
        authority_cr_share_16`` (+ Taskforce measures), ``closed_16_19`` and ``closed_19_23``
        (NaN where the library was not open at the start of that window).
    """
    need = {"operation_16", "operation_19", "operation_23", "authority", "region", "library_id"}
    if not need <= set(frame.columns):
        raise ClosureModelError(f"frame lacks {sorted(need - set(frame.columns))} for the closure history")
    share = _authority_share(frame, "16")
    base = frame.loc[frame["operation_16"].isin(COMMUNITY)].copy()
    if len(base) < 30:
        raise ClosureModelError(f"only {len(base)} community libraries in 2016: too few for a closure model")
    later = [c for c in ("operation_21", "operation_22", "operation_23") if c in base]
    closed19 = base["operation_19"].eq("Closed")
    closed23 = base[later].eq("Closed").any(axis=1)
    open19 = ~base["operation_19"].isin(["Closed", "Unknown", "Facility Not Open"])
    out = pd.DataFrame({
        "library_id": base["library_id"], "authority": base["authority"], "region": base["region"],
        "icl_16": base["operation_16"].eq("ICL").astype(float),
        "icl_19": base["operation_19"].eq("ICL").astype(float),
        "statutory_16": _flag(base.get("statutory_16")),
        "statutory_19": _flag(base.get("statutory_19", base.get("statutory_16"))),
        "authority_cr_share_16": share.loc[base.index],
        "closed_16_19": closed19.astype(float),
        "closed_19_23": np.where(open19 & ~closed19, (closed23 & ~closed19).astype(float), np.nan),
    })
    if taskforce is not None:
        tf = link_taskforce(base, taskforce)
        out["log_hours_16"] = np.log1p(tf["tf_hours"])
        out["staffed_16"] = (tf["tf_staffed_hours"] > 0).astype(float).where(tf["tf_staffed_hours"].notna())
        out["imd_decile_16"] = tf["tf_imd_multiple"]
        out["log_population_16"] = np.log1p(tf["tf_population"])
    elif "imd_decile" in base:
        out["imd_decile_16"] = pd.to_numeric(base["imd_decile"], errors="coerce")
    return out.reset_index(drop=True)


def _flag(s):
    if s is None:
        return np.nan
    return s.map({True: 1.0, False: 0.0, "Yes": 1.0, "No": 0.0, "yes": 1.0, "no": 0.0}).astype(float)


def design_matrix(hist: pd.DataFrame, *, window: str, columns=None, medians=None) -> tuple[pd.DataFrame, dict]:
    """Model features for a window ("16_19" or "19_23"): status flags from the window's start,
    region dummies, numeric measures median-imputed with missing indicators."""
    start = window.split("_")[0]
    X = pd.DataFrame({"icl": hist[f"icl_{start}"], "statutory": hist[f"statutory_{start}"],
                      "authority_cr_share_16": hist["authority_cr_share_16"]}, index=hist.index)
    for c in ("log_hours_16", "staffed_16", "imd_decile_16", "log_population_16"):
        if c in hist:
            X[c] = hist[c]
    X = pd.concat([X, pd.get_dummies(hist["region"], prefix="region", dtype=float)], axis=1)
    medians = medians if medians is not None else X.median(numeric_only=True).to_dict()
    for c in list(X.columns):
        if X[c].isna().any() or (c in medians and columns is not None and f"{c}_missing" in columns):
            X[f"{c}_missing"] = X[c].isna().astype(float)
        X[c] = X[c].fillna(medians.get(c, 0.0))
    if columns is not None:
        X = X.reindex(columns=columns, fill_value=0.0)
    return X.astype(float), medians


def fit(X: pd.DataFrame, y, *, random_state: int = 0):
    """L2-penalised logistic regression, penalty by stratified 5-fold CV on log loss."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(y, dtype=int)
    if y.sum() < 5:
        raise ClosureModelError(f"only {int(y.sum())} closures in the training window: too few to fit a model")
    folds = StratifiedKFold(n_splits=min(5, int(y.sum())), shuffle=True, random_state=random_state)
    model = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=np.logspace(-3, 2, 12), cv=folds, scoring="neg_log_loss",
                                                                 max_iter=5000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)    # scikit-learn 1.8+ attribute/default notices
        model.fit(X, y)
    return model


def calibration(y, p, *, bins: int = 5) -> tuple[pd.DataFrame, dict]:
    """Observed vs predicted by fifths of predicted risk; calibration intercept/slope and Brier score."""
    import statsmodels.api as sm

    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    q = pd.qcut(pd.Series(p).rank(method="first"), bins, labels=False)
    table = pd.DataFrame({"bin": q + 1, "y": y, "p": p}).groupby("bin").agg(n=("y", "size"), observed=("y", "mean"),
                                                                          predicted=("p", "mean")).reset_index()
    lp = np.log(p / (1 - p))
    stats = {"brier": float(np.mean((p - y) ** 2))}
    try:
        slope = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit()
        inter = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit()
        stats.update(calibration_slope=float(slope.params[1]), calibration_intercept=float(inter.params[0]))
    except Exception:                  # separation or no events: report what can be reported
        stats.update(calibration_slope=float("nan"), calibration_intercept=float("nan"))
    return table, stats


def temporal_validation(frame: pd.DataFrame, *, taskforce: pd.DataFrame | None = None, random_state: int = 0) -> dict:
    """Fit on 2016 -> 2019 closures, test on 2019 -> 2023 closures among libraries open in 2019.

    Returns
    -------
    dict
        ``train`` / ``test`` sizes and events, ``auc``, ``top_decile_precision``, ``base_rate``,
        ``lift``, ``brier``, ``calibration_slope``, ``calibration_intercept``, ``calibration`` (table
        records), ``coefficients`` (standardised) and ``features``.
    """
    from .risk import validate

    hist = history(frame, taskforce=taskforce)
    Xtr, med = design_matrix(hist, window="16_19")
    ytr = hist["closed_16_19"].to_numpy()
    model = fit(Xtr, ytr, random_state=random_state)
    test = hist.loc[hist["closed_19_23"].notna()]
    Xte, _ = design_matrix(test, window="19_23", columns=list(Xtr.columns), medians=med)
    yte = test["closed_19_23"].to_numpy()
    p = model.predict_proba(Xte)[:, 1]
    v = validate(p, yte)
    table, cal = calibration(yte, p)
    coefs = dict(zip(Xtr.columns, model[-1].coef_[0].round(4)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        c_value = float(np.ravel(model[-1].C_)[0])
    return {"train": {"window": "2016-2019", "n": int(len(ytr)), "events": int(ytr.sum())},
            "test": {"window": "2019-2023", "n": v["n"], "events": v["events"]},
            "auc": v["auc"], "base_rate": v["base_rate"], "top_decile_precision": v["top_precision"], "lift": v["lift"],
            **cal, "calibration": table.round(4).to_dict("records"), "penalty_C": c_value,
            "features": list(Xtr.columns), "coefficients": {k: float(v) for k, v in coefs.items()},
            "taskforce_linked": bool(taskforce is not None)}


def base_risk(frame: pd.DataFrame, library_ids, *, taskforce: pd.DataFrame | None = None, random_state: int = 0) -> pd.Series:
    """Predicted probability of closing within about four years for the given current libraries.

    The model is refitted on both windows (2016 -> 2019 and 2019 -> 2023 stacked), and applied with
    each library's current status (independent, statutory) and its 2016 measures; libraries that
    were not community run in 2016 get their region's and authority's values with the numeric
    measures imputed (flagged through the missing indicators).
    """
    hist = history(frame, taskforce=taskforce)
    X1, med = design_matrix(hist, window="16_19")
    t2 = hist.loc[hist["closed_19_23"].notna()]
    X2, _ = design_matrix(t2, window="19_23", columns=list(X1.columns), medians=med)
    X = pd.concat([X1, X2])
    y = np.concatenate([hist["closed_16_19"].to_numpy(), t2["closed_19_23"].to_numpy()])
    model = fit(X, y, random_state=random_state)
    cur = frame.set_index("library_id").loc[list(library_ids)].reset_index()
    now = pd.DataFrame({"library_id": cur["library_id"], "region": cur["region"], "authority": cur["authority"],
                        "icl_19": cur["operation_23"].eq("ICL").astype(float),
                        "statutory_19": _flag(cur.get("statutory_23", cur.get("statutory_16"))),
                        "authority_cr_share_16": _authority_share(frame, "16").reindex(frame.index)
                        .groupby(frame["library_id"]).first().reindex(cur["library_id"]).to_numpy()})
    h = hist.set_index("library_id")
    for c in ("log_hours_16", "staffed_16", "imd_decile_16", "log_population_16"):
        if c in h:
            now[c] = h[c].reindex(now["library_id"]).to_numpy()
    Xn, _ = design_matrix(now, window="19_23", columns=list(X1.columns), medians=med)
    return pd.Series(model.predict_proba(Xn)[:, 1], index=list(library_ids), name="base_risk")


def report(frame: pd.DataFrame, library_ids, *, taskforce: pd.DataFrame | None = None, random_state: int = 0) -> tuple[dict, pd.Series]:
    """Temporal validation and base risk for a run, or the reason they could not be computed.

    Returns
    -------
    (validation, base_risk) : the validation dict (``status`` "ok" or "not fitted: <reason>") and
    the predicted base risk per library id (NaN when not fitted).
    """
    try:
        val = {"status": "ok", **temporal_validation(frame, taskforce=taskforce, random_state=random_state)}
        risk = base_risk(frame, library_ids, taskforce=taskforce, random_state=random_state)
    except ClosureModelError as exc:
        return {"status": f"not fitted: {exc}"}, pd.Series(np.nan, index=list(library_ids), name="base_risk")
    return val, risk
