"""Drift between waves: item non-response, distribution shift per canonical item, response rates, frame changes.

Per canonical item asked in both waves of a pair (and comparable in the reviewed crosswalk), with the waves'
survey weights: the weighted share of respondents who left it unanswered in each wave, and a distribution shift
-- for a choice question the total variation distance between the weighted answer shares (on the harmonised
coding; 0 = identical, 1 = disjoint), for a multi-select the largest change in the share ticking a choice
common to both waves, for a number the standardised difference of weighted means (pooled weighted SD).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import crosswalk as CW


def _wshare_missing(values: pd.Series, w: np.ndarray) -> float:
    miss = values.isna().to_numpy()
    return float(np.sum(w * miss) / np.sum(w)) if np.sum(w) > 0 else np.nan


def _wmean_sd(x: np.ndarray, w: np.ndarray):
    ok = ~np.isnan(x)
    if not ok.any() or w[ok].sum() <= 0:
        return np.nan, np.nan
    m = np.average(x[ok], weights=w[ok])
    return m, np.sqrt(np.average((x[ok] - m) ** 2, weights=w[ok]))


def _shares(values: pd.Series, w: np.ndarray) -> pd.Series:
    ok = values.notna().to_numpy()
    if not ok.any():
        return pd.Series(dtype=float)
    s = pd.Series(w[ok]).groupby(values[ok].astype(str).to_numpy()).sum()
    return s / s.sum()


def item_drift(data_a: pd.DataFrame, data_b: pd.DataFrame, cw: pd.DataFrame, *, inst_a, inst_b) -> pd.DataFrame:
    """Weighted item non-response and distribution shift per canonical item of a pair of waves.

    Parameters
    ----------
    data_a, data_b : DataFrame
        Each wave's weighted clean data (canonical variables and ``weight``).
    cw : DataFrame
        The pair's crosswalk; items not comparable, or not reviewed, are listed without a shift.
    inst_a, inst_b : Instrument

    Returns
    -------
    DataFrame
        ``canonical, type, mapping, reviewed, missing_a, missing_b, missing_change, shift, shift_measure``.
    """
    wa, wb = data_a["weight"].to_numpy(float), data_b["weight"].to_numpy(float)
    rows = []
    for _, r in cw.iterrows():
        c, qtype = r["canonical"], r["type"]
        if qtype == "text" or (c not in data_a and not any(k.startswith(c + "__") for k in data_a)):
            continue
        rec = {"canonical": c, "type": qtype, "mapping": r["mapping"],
               "reviewed": r["reviewed"].strip().lower() in CW.REVIEWED, "missing_a": np.nan, "missing_b": np.nan,
               "shift": np.nan, "shift_measure": ""}
        both = r["in_waves"].count(";") >= 1
        if qtype == "select_multiple":
            ca = [k for k in data_a if k.startswith(c + "__")]
            cb = [k for k in data_b if k.startswith(c + "__")]
            if ca:
                rec["missing_a"] = _wshare_missing(data_a[ca].max(axis=1, skipna=True).where(data_a[ca].notna().any(axis=1)), wa)
            if cb:
                rec["missing_b"] = _wshare_missing(data_b[cb].max(axis=1, skipna=True).where(data_b[cb].notna().any(axis=1)), wb)
            common = [k for k in ca if k in cb]
            if both and rec["reviewed"] and r["mapping"] != "not_comparable" and common:
                diffs = [abs(_wmean_sd(data_b[k].to_numpy(float), wb)[0] - _wmean_sd(data_a[k].to_numpy(float), wa)[0]) for k in common]
                rec["shift"], rec["shift_measure"] = float(np.nanmax(diffs)), "largest change in a choice's share"
        else:
            if c in data_a:
                rec["missing_a"] = _wshare_missing(data_a[c], wa)
            if c in data_b:
                rec["missing_b"] = _wshare_missing(data_b[c], wb)
            if both and rec["reviewed"] and r["mapping"] != "not_comparable" and c in data_a and c in data_b:
                if qtype == "select_one":
                    hm = CW.harmonised_choices(r, inst_a, inst_b)
                    sa = _shares(data_a[c].astype("string").map(hm[inst_a.version]), wa)
                    sb = _shares(data_b[c].astype("string").map(hm[inst_b.version]), wb)
                    idx = sa.index.union(sb.index)
                    rec["shift"] = float(0.5 * np.abs(sa.reindex(idx, fill_value=0) - sb.reindex(idx, fill_value=0)).sum())
                    rec["shift_measure"] = "total variation distance"
                else:
                    ma, sda = _wmean_sd(pd.to_numeric(data_a[c], errors="coerce").to_numpy(float), wa)
                    mb, sdb = _wmean_sd(pd.to_numeric(data_b[c], errors="coerce").to_numpy(float), wb)
                    pooled = np.sqrt((sda ** 2 + sdb ** 2) / 2)
                    rec["shift"] = float((mb - ma) / pooled) if pooled > 0 else np.nan
                    rec["shift_measure"] = "standardised mean difference"
        rows.append(rec)
    out = pd.DataFrame(rows)
    out["missing_change"] = out["missing_b"] - out["missing_a"]
    return out[["canonical", "type", "mapping", "reviewed", "missing_a", "missing_b", "missing_change", "shift", "shift_measure"]]


def response_rate_change(rates: dict, *, waves: list) -> pd.DataFrame:
    """Response rates by region x type in consecutive waves (each run's ``response_rates.csv``) and their change.

    Parameters
    ----------
    rates : dict
        Wave -> response rates table.
    waves : list of str
        In time order.

    Returns
    -------
    pandas.DataFrame
    """
    out = []
    for a, b in zip(waves, waves[1:]):
        m = rates[a].merge(rates[b], on=["region", "type"], how="outer", suffixes=("_a", "_b"))
        m.insert(0, "wave_b", b)
        m.insert(0, "wave_a", a)
        m["rate_change"] = m["rate_b"] - m["rate_a"]
        out.append(m)
    return pd.concat(out, ignore_index=True)


def report(data: dict, insts: list, cws: list) -> pd.DataFrame:
    """:func:`item_drift` for every consecutive pair of waves (``data``: wave -> weighted clean data).

    Parameters
    ----------
    data : dict
        Wave -> weighted clean data.
    insts : list of Instrument
        Each wave's version.
    cws : list of pandas.DataFrame
        The crosswalk of each consecutive pair.

    Returns
    -------
    pandas.DataFrame
    """
    parts = [item_drift(data[a.version], data[b.version], cw, inst_a=a, inst_b=b).assign(wave_a=a.version, wave_b=b.version)
             for a, b, cw in zip(insts, insts[1:], cws)]
    out = pd.concat(parts, ignore_index=True)
    return out[["wave_a", "wave_b", *[c for c in out.columns if c not in ("wave_a", "wave_b")]]]
