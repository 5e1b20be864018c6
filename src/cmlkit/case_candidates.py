"""The libraries a case-study draw chooses from, and their balancing variables as numbers."""

from __future__ import annotations

import pandas as pd

from cmlkit.case_balance import balance_columns as _balance_columns
from cmlkit.errors import SamplingError
from cmlkit.sampling_spec import SPEC_DEFAULTS


def candidates(responses: pd.DataFrame, frame: pd.DataFrame, spec: dict, *, clusters: pd.DataFrame | None = None) -> pd.DataFrame:
    """The libraries a case-study draw chooses from, with strata and balancing variables.

    Parameters
    ----------
    responses : pandas.DataFrame
        Weighted library responses (``library_id``, ``response_id``, survey answers).
    frame : pandas.DataFrame
        In-scope frame rows (``library_id, name, authority, region, type, hours, imd_decile``).
    spec : dict
    clusters : pandas.DataFrame, optional
        Governance membership (``library_id, cluster, cluster_name``).

    Returns
    -------
    pandas.DataFrame
        One row per eligible library: ``library_id, response_id, authority, region, type, cluster,
        cluster_name, stratum`` and the balancing and purposive variables. With ``draw_from:
        respondents`` only respondents who agreed to be contacted (``consent_column``); with
        ``frame`` every in-scope library (survey variables and clusters missing for non-respondents,
        so balancing uses frame variables only). ``attrs["excluded"]`` counts who was left out and why.
    """
    op = next((c for c in ("operation_23", "operation_22", "operation_21", "operation_19", "operation_16") if c in frame), None)
    f = frame[["library_id", "authority", "region", "hours", *(c for c in ("imd_decile",) if c in frame)]].copy()
    f["type"] = frame[op].to_numpy() if op else "unknown"      # governance code (CR/ICL), as in the weighting step
    f = f.rename(columns={"hours": "frame_hours"})
    r = responses.drop(columns=[c for c in ("region", "type", "authority") if c in responses], errors="ignore")
    r = r.loc[r["library_id"].notna()].drop_duplicates("library_id")
    excluded = {}
    if spec.get("draw_from", SPEC_DEFAULTS["draw_from"]) == "respondents":
        out = r.merge(f, on="library_id", how="inner", validate="one_to_one")
        cons = spec.get("constraints", {})
        col = cons.get("consent_column")
        if col:
            if col not in out:
                raise SamplingError(f"consent column {col!r} is not in the responses")
            ok = out[col].astype("string") == str(cons.get("consent_value", "yes"))
            excluded["did not agree to be contacted"] = int((~ok.fillna(False)).sum())
            out = out.loc[ok.fillna(False).to_numpy()]
    else:
        out = f.merge(r, on="library_id", how="left", validate="one_to_one")
    if "opening_hours" not in out or out["opening_hours"].isna().all():
        out["opening_hours"] = out["frame_hours"]
    out["opening_hours"] = out["opening_hours"].fillna(out["frame_hours"])
    if clusters is not None:
        out = out.merge(clusters[["library_id", "cluster", "cluster_name"]], on="library_id", how="left")
    strat = list(spec.get("stratify_by") or [])
    missing = [c for c in strat if c not in out]
    if missing:
        raise SamplingError(f"stratify_by: column(s) {missing} not available for the candidates")
    out["stratum"] = out[strat].astype(str).agg(" | ".join, axis=1) if strat else "all"
    ind = (spec.get("purposive") or {}).get("indicator")
    if ind and {"numerator", "denominator"} <= set(ind) and ind["numerator"] in out and ind["denominator"] in out:
        den = pd.to_numeric(out[ind["denominator"]], errors="coerce")
        out[ind["name"]] = pd.to_numeric(out[ind["numerator"]], errors="coerce") / den.where(den > 0) * float(ind.get("multiplier", 1))
    out = out.sort_values("library_id", kind="stable").reset_index(drop=True)
    out.attrs["excluded"] = excluded
    return out


def balance_matrix(cands: pd.DataFrame, spec: dict, *, standardise: bool = True) -> pd.DataFrame:
    """Balancing variables as numbers: numeric columns (z-scores) and category indicator columns.

    Variables with missing values among the candidates are left out (e.g. survey variables when
    drawing from the whole frame).

    Parameters
    ----------
    cands : pandas.DataFrame
        The candidates (:func:`candidates`).
    spec : dict
        The case-study specification (``balance_on``).
    standardise : bool, default True
        z-score the numeric columns.

    Returns
    -------
    pandas.DataFrame
        One numeric column per variable or category, row-aligned with ``cands``.
    """
    num, cat = _balance_columns(cands, spec)
    parts = []
    if num:
        x = cands[num].astype(float)
        parts.append((x - x.mean()) / x.std(ddof=0).replace(0, 1) if standardise else x)
    for c in cat:
        parts.append(pd.get_dummies(cands[c].astype(str), prefix=c, dtype=float))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=cands.index)
