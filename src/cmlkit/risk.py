"""A transparent, survey-based risk index for community libraries, with reasons in words.

The index is specified in ``research/risk.yml`` following the OECD/JRC composite-indicator steps:
each indicator is derived from the clean responses, normalised to a 0-1 risk (goalposts by
default), weighted and averaged; libraries answering too little of the index (by weight) get no
score. Each library's top contributors above ``reason_threshold`` become its reasons, worded from
the specification's templates with the library's own values, and each reason carries the kind of
support that answers it. :func:`sensitivity` re-ranks under other normalisations and perturbed
weights; :func:`validate` scores the index against a known outcome (synthetic ground truth).
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from cmlkit import disclosure
from cmlkit import estimates as E
from cmlkit.errors import RiskError  # errors live in cmlkit.errors; re-exported here
from cmlkit.findings import design_of
from cmlkit.indicators import IndicatorError, derive
from cmlkit.risk_spec import NORMALISATIONS, SECTION_DEFAULTS, RiskSpec, load_spec  # noqa: F401

RISK_DEFAULTS = RiskSpec.defaults()
"""The top-level defaults of the risk specification (stated once, on :class:`cmlkit.risk_spec.RiskSpec`)."""


# --------------------------------------------------------------------------------------------
# Indicators


def indicators(data: pd.DataFrame, spec: dict, *, inst=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each library's indicator values (own scale) and, for choice questions, the answer labels.

    Derivations are those of :func:`cmlkit.indicators.derive`.

    Parameters
    ----------
    data : pandas.DataFrame
        Clean, weighted responses.
    spec : dict
        The risk specification.
    inst : Instrument, optional
        The wave's instrument (choice scores, wave year).

    Returns
    -------
    (values, labels) : DataFrames indexed like ``data``, one column per indicator
    """
    values, labels = {}, {}
    for name, ind in spec["indicators"].items():
        try:
            values[name], labels[name] = derive(data, ind["derive"], inst=inst,
                                                wave_year=spec.get("wave_year"))
        except IndicatorError as exc:
            raise RiskError(f"risk indicator {name!r}: {exc}") from None
    return pd.DataFrame(values, index=data.index), pd.DataFrame(labels, index=data.index)


def normalise(values: pd.DataFrame, spec: dict, *, method: str = "goalposts") -> pd.DataFrame:
    """Indicator values as 0-1 risks (1 = riskiest).

    goalposts: (x - safe) / (risky - safe) clipped to [0, 1]; minmax: the observed range, oriented by
    direction; rank: percentile rank (ties averaged); zscore: z-score oriented by direction, then
    rescaled to [0, 1] over the observed range. A missing value that the specification marks as
    not applicable (``missing_means_no_risk``) is risk 0.

    Parameters
    ----------
    values : pandas.DataFrame
        :func:`indicators` values.
    spec : dict
        The risk specification (direction, goalposts, ``missing_means_no_risk``).
    method : {"goalposts", "minmax", "rank", "zscore"}, default "goalposts"

    Returns
    -------
    pandas.DataFrame
        Risks in [0, 1], like ``values``.
    """
    if method not in NORMALISATIONS:
        raise RiskError(f"normalisation {method!r} is not one of {list(NORMALISATIONS)}")
    out = {}
    for name, ind in spec["indicators"].items():
        x = values[name].astype(float)
        sign = 1.0 if ind["direction"] == "higher_is_riskier" else -1.0
        if method == "goalposts":
            safe, risky = (float(g) for g in ind["goalposts"])
            r = ((x - safe) / (risky - safe)).clip(0, 1)
        elif method == "rank":
            r = (sign * x).rank(pct=True, method="average")
        else:
            z = sign * x
            if method == "zscore":
                z = (z - z.mean()) / (z.std(ddof=0) or 1.0)
            lo, hi = z.min(), z.max()
            r = (z - lo) / (hi - lo) if hi > lo else z * 0.0
        if ind.get("missing_means_no_risk"):
            r = r.fillna(0.0)
        out[name] = r
    return pd.DataFrame(out, index=values.index)


def aggregate(risks: pd.DataFrame, spec: dict, *, weights: dict | None = None) -> pd.Series:
    """Weighted mean of the available normalised risks; NaN below ``min_weight_share`` of the weight.

    Parameters
    ----------
    risks : pandas.DataFrame
        :func:`normalise` output.
    spec : dict
        The risk specification (indicator weights, ``min_weight_share``).
    weights : dict, optional
        Indicator -> weight, replacing the specification's.

    Returns
    -------
    pandas.Series
        The score, 0-1.
    """
    w = pd.Series(weights or {k: float(v.get("weight", 1)) for k, v in spec["indicators"].items()})[risks.columns]
    avail = risks.notna().to_numpy()
    wmat = np.where(avail, w.to_numpy()[None, :], 0.0)
    share = wmat.sum(axis=1) / w.sum()
    score = np.nansum(risks.to_numpy() * wmat, axis=1) / np.where(wmat.sum(axis=1) > 0, wmat.sum(axis=1), np.nan)
    return pd.Series(np.where(share >= float(spec.get("min_weight_share", RISK_DEFAULTS["min_weight_share"])), score, np.nan), index=risks.index)


def _aggregate_many(risks: pd.DataFrame, spec: dict, weights: pd.DataFrame) -> pd.DataFrame:
    """:func:`aggregate` under each row of ``weights`` (draws x indicators): libraries x draws."""
    w = weights[risks.columns].to_numpy()                              # draws x q
    avail = risks.notna().to_numpy()                                   # n x q
    wmat = np.where(avail[None, :, :], w[:, None, :], 0.0)             # draws x n x q
    total = wmat.sum(axis=2)
    share = total / w.sum(axis=1)[:, None]
    score = np.nansum(risks.to_numpy()[None, :, :] * wmat, axis=2) / np.where(total > 0, total, np.nan)
    keep = share >= float(spec.get("min_weight_share", RISK_DEFAULTS["min_weight_share"]))
    return pd.DataFrame(np.where(keep, score, np.nan).T, index=risks.index)


def tier_of(score, spec: dict):
    """Tier names from the score thresholds; 'insufficient data' where there is no score.

    Parameters
    ----------
    score : pandas.Series or pandas.DataFrame
        :func:`aggregate` output (or one column per scenario).
    spec : dict
        The risk specification (``tiers``).

    Returns
    -------
    pandas.Series or pandas.DataFrame of str
        Shaped as ``score``.
    """
    tiers = sorted(spec["tiers"], key=lambda t: -float(t["min"]))
    out = (pd.DataFrame("insufficient data", index=score.index, columns=score.columns, dtype=object)
           if isinstance(score, pd.DataFrame) else pd.Series("insufficient data", index=score.index, dtype=object))
    for t in reversed(tiers):
        out = out.where(~(score >= float(t["min"])), t["name"])
    return out


def score_libraries(data: pd.DataFrame, spec: dict, *, inst=None, method: str = "goalposts") -> pd.DataFrame:
    """Score, tier, rank and reasons for every library.

    Parameters
    ----------
    data : pandas.DataFrame
        Clean, weighted responses.
    spec : dict
        The risk specification.
    inst : Instrument, optional
        The wave's instrument.
    method : {"goalposts", "minmax", "rank", "zscore"}, default "goalposts"
        Normalisation (:func:`normalise`).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``data``: ``score`` (0-1), ``tier``, ``rank`` (1 = highest risk), ``reasons``
        (words, "; "-joined: the top contributors with risk at least ``reason_threshold``, or the
        single largest contributor when none reaches it), ``reason_indicators``, ``support``,
        ``n_indicators``, and the indicator
        values (``value:<name>``) and normalised risks (``risk:<name>``).
    """
    values, labels = indicators(data, spec, inst=inst)
    risks = normalise(values, spec, method=method)
    score = aggregate(risks, spec)
    w = pd.Series({k: float(v.get("weight", 1)) for k, v in spec["indicators"].items()})
    contrib = risks.mul(w, axis=1)
    thr = float(spec.get("reason_threshold", RISK_DEFAULTS["reason_threshold"]))
    eligible = risks >= thr
    order = (-contrib.where(eligible)).to_numpy()
    order = np.where(np.isnan(order), np.inf, order)
    ranked = np.argsort(order, axis=1, kind="stable")[:, :int(spec.get("max_reasons", RISK_DEFAULTS["max_reasons"]))]
    names = np.array(risks.columns)
    reasons, inds, supports = [], [], []
    elig = eligible.to_numpy()
    vals, labs = values.to_numpy(), labels.to_numpy()
    top = np.argsort(np.where(np.isnan(contrib.to_numpy()), np.inf, -contrib.to_numpy()), axis=1, kind="stable")[:, 0]
    risk_arr = risks.to_numpy()
    for i in range(len(risks)):             # wording per library: at most max_reasons templates each
        chosen = [j for j in ranked[i] if elig[i, j]]
        if not chosen and np.isfinite(score.iloc[i]) and risk_arr[i, top[i]] > 0:
            chosen = [top[i]]               # none above the threshold: the largest contributor still explains the score
        texts, sup = [], []
        for j in chosen:
            ind = spec["indicators"][names[j]]
            v = vals[i, j]
            texts.append(ind["reason"].format(value=v if np.isfinite(v) else float("nan"), label=labs[i, j]))
            if ind.get("support") and ind["support"] not in sup:
                sup.append(ind["support"])
        reasons.append("; ".join(texts))
        inds.append(";".join(names[chosen]))
        supports.append("; ".join(sup))
    out = pd.DataFrame({"score": score, "tier": tier_of(score, spec),
                        "rank": score.rank(ascending=False, method="min").astype("Int64"),
                        "reasons": reasons, "reason_indicators": inds, "support": supports,
                        "n_indicators": risks.notna().sum(axis=1)}, index=data.index)
    out = pd.concat([out, values.add_prefix("value:"), risks.add_prefix("risk:")], axis=1)
    return out


# --------------------------------------------------------------------------------------------
# Sensitivity and validation


def sensitivity(data: pd.DataFrame, spec: dict, *, inst=None) -> tuple[pd.DataFrame, dict]:
    """How ranks and tiers move under other normalisations and perturbed weights (JRC step 8).

    Parameters
    ----------
    data : pandas.DataFrame
        Clean, weighted responses.
    spec : dict
        The risk specification (``sensitivity``: normalisations, weight draws and noise, seed).
    inst : Instrument, optional

    Returns
    -------
    (per_library, summary)
        per_library: base rank, median rank and 5-95% rank interval over all scenarios, share of
        scenarios with a different tier. summary: per scenario family, the median absolute rank shift,
        the Spearman correlation with the base ranking and the share of libraries changing tier.
    """
    cfg = {**SECTION_DEFAULTS["sensitivity"], **(spec.get("sensitivity") or {})}
    rng = np.random.default_rng(cfg["random_state"])
    values, _ = indicators(data, spec, inst=inst)
    base_risk = normalise(values, spec, method="goalposts")
    base = aggregate(base_risk, spec)
    base_rank = base.rank(ascending=False, method="average")
    base_tier = tier_of(base, spec)
    ranks, tiers, family = [], [], []
    for m in cfg["normalisations"]:
        if m == "goalposts":
            continue
        s = aggregate(normalise(values, spec, method=m), spec)
        ranks.append(s.rank(ascending=False, method="average"))
        tiers.append(tier_of(s, spec))
        family.append(f"normalisation: {m}")
    w0 = pd.Series({k: float(v.get("weight", 1)) for k, v in spec["indicators"].items()})
    noise = float(cfg["weight_noise"])
    draws = int(cfg["weight_draws"])
    # every weight draw at once: the draws in the order one call per draw would take them
    W = w0.to_numpy()[None, :] * rng.uniform(1 - noise, 1 + noise, (draws, len(w0)))
    S = _aggregate_many(base_risk, spec, pd.DataFrame(W, columns=w0.index))
    ranks.append(S.rank(ascending=False, method="average"))
    tiers.append(tier_of(S, spec))
    family += ["weights"] * draws
    R = pd.concat(ranks, axis=1, ignore_index=True)
    T = pd.concat(tiers, axis=1, ignore_index=True)
    changed = T.ne(base_tier, axis=0) & base.notna().to_numpy()[:, None]
    per = pd.DataFrame({"base_rank": base_rank, "median_rank": R.median(axis=1),
                        "rank_p05": R.quantile(0.05, axis=1), "rank_p95": R.quantile(0.95, axis=1),
                        "tier_changes": changed.mean(axis=1)}, index=data.index)
    fam = np.array(family)
    summary = {}
    for f in dict.fromkeys(["weights", *[x for x in family if x != "weights"]]):
        cols = np.flatnonzero(fam == f)
        shift = (R.iloc[:, cols].sub(base_rank, axis=0)).abs()
        summary[f] = {"scenarios": int(len(cols)), "median_abs_rank_shift": float(np.nanmedian(shift.to_numpy())),
                      "p90_abs_rank_shift": float(np.nanquantile(shift.to_numpy(), 0.9)),
                      "spearman_with_base": float(np.nanmean([R.iloc[:, c].corr(base_rank, method="spearman") for c in cols])),
                      "share_changing_tier": float(changed.iloc[:, cols].mean().mean())}
    return per, summary


def validate(score, truth, *, top: float = 0.1) -> dict:
    """ROC AUC and top-decile precision of a risk score against a binary outcome.

    Returns ``auc``, ``base_rate``, ``top_precision`` (share of the top ``top`` fraction by score
    with the outcome), ``lift`` (top precision / base rate), ``n`` and ``events``.

    Parameters
    ----------
    score : array-like
        Risk scores (higher = riskier).
    truth : array-like of 0/1
        The outcome.
    top : float, default 0.1
        The top fraction by score.

    Returns
    -------
    dict
        ``auc``, ``base_rate``, ``top_precision`` (share of the top fraction with the outcome), ``lift``
        (top precision / base rate), ``n`` and ``events``.
    """
    from sklearn.metrics import roc_auc_score

    s = pd.Series(np.asarray(score, dtype=float))
    y = pd.Series(np.asarray(truth, dtype=float))
    ok = s.notna() & y.notna()
    s, y = s[ok], y[ok]
    k = max(1, int(round(top * len(s))))
    topk = s.sort_values(ascending=False, kind="stable").index[:k]
    base = float(y.mean())
    prec = float(y[topk].mean())
    return {"n": int(len(s)), "events": int(y.sum()), "auc": float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan"),
            "base_rate": base, "top_fraction": top, "top_precision": prec, "lift": prec / base if base > 0 else float("nan")}


def combine(scores: pd.DataFrame, base_risk, *, weight: float) -> pd.DataFrame:
    """Add ``base_risk``, ``combined`` and ``combined_rank`` (1 = first) to the scores.

    ``combined = (1 - weight) x score percentile + weight x base-risk percentile`` among scored
    libraries; ``weight`` is the closure model's earned weight
    (:func:`cmlkit.closure_validation.ranking_weight`), so with weight 0 the order is the index's.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`score_libraries` output.
    base_risk : array-like
        The closure model's base risk per library (row-aligned).
    weight : float
        The closure model's earned weight, 0-1.

    Returns
    -------
    pandas.DataFrame
        ``scores`` with ``base_risk``, ``combined`` and ``combined_rank``.
    """
    out = scores.copy()
    out["base_risk"] = np.asarray(base_risk, dtype=float)
    pct_score = out["score"].rank(pct=True)
    pct_base = out["base_risk"].rank(pct=True).fillna(0.5)
    out["combined"] = ((1 - weight) * pct_score + weight * pct_base).where(out["score"].notna())
    out["combined_rank"] = out["combined"].rank(ascending=False, method="min").astype("Int64")
    return out


def public_summary(weighted: pd.DataFrame, scores: pd.DataFrame, *, by=("type", "cluster_name", "region"),
                   tier: str = "high", k: int | None = None) -> pd.DataFrame:
    """Weighted share of libraries in ``tier`` overall and by each domain, with disclosure control.

    The design is the weighting step's (stratified by region with the finite population
    correction, the calibrated weights treated as fixed, which errs on the wide side). Intervals are
    logit intervals on the design df (Clopper-Pearson at 0 or 1, flagged). Libraries without a score
    are left out of the base. Cells with fewer than ``k`` scored responses are suppressed, with
    secondary suppression within each breakdown (:func:`cmlkit.disclosure.suppress`).

    Parameters
    ----------
    weighted : pandas.DataFrame
        The weighted responses (design columns).
    scores : pandas.DataFrame
        :func:`score_libraries` output, row-aligned.
    by : tuple of str, default ("type", "cluster_name", "region")
        Breakdowns (those absent from the data are skipped).
    tier : str, default "high"
    k : int, optional
        Smallest publishable base; default ``research/disclosure.yml``.

    Returns
    -------
    pandas.DataFrame
        ``breakdown, domain, estimate, ci_low, ci_high, base_n, ci_method, suppressed, suppression``
        — aggregates only, no library-level rows.
    """
    data = weighted.assign(_at=np.where(scores["score"].notna().to_numpy(), (scores["tier"] == tier).astype(float), np.nan))
    des = design_of(data)
    rows = [{"breakdown": "all", "domain": "all", **E.ci_proportion(des, "_at")}]
    for b in by:
        if b not in data:
            continue
        t = E.by_domain(des, "_at", b, estimator="proportion")
        rows += [{"breakdown": b, "domain": r[b], **{c: r[c] for c in t.columns if c != b}} for _, r in t.iterrows()]
    out = pd.DataFrame(rows).rename(columns={"n": "base_n"})
    at = data["_at"].eq(1)   # unweighted numerator counts: numerator suppression ("2 of 9"), never published
    counts = {("all", "all"): int(at.sum())} | {(b, str(d)): int(v) for b in by if b in data for d, v in at.groupby(data[b].astype(str)).sum().items()}
    out["numerator_n"] = [counts.get((b, str(d))) for b, d in zip(out["breakdown"], out["domain"])]
    out = out[["breakdown", "domain", "estimate", "ci_low", "ci_high", "base_n", "ci_method", "numerator_n"]]
    return disclosure.suppress(out, n_col="base_n", k=k, group="breakdown").drop(columns="numerator_n")
