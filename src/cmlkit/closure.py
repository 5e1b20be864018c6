"""A pooled discrete-time closure hazard over the whole frame history.

The Arts Council basic dataset records each library's governance in 2016, 2019, 2021, 2022 and
2023, and for closed libraries the year of closure. :func:`library_years` turns that into one row
per library and interval (2016->2019, 2019->2021, 2021->2022, 2022->2023) in which the library was
community run or independent (``CR``/``ICL``) at the start of the interval, with an ``event`` flag
for closing during it:

- ``[Unknown]`` and ``Temporary Closure`` codes are handled explicitly: the library keeps its last
  known status, stays in the risk set, and carries a ``status_unclear`` flag for that interval (so
  a library unknown in 2019 that later closed still counts);
- the ``closed`` year places a closure in the right interval when the codes alone cannot (e.g. a
  library coded ``[Unknown]`` in 2019 and 2021 and ``Closed`` in 2022 that closed in 2020), but it
  never moves a closure before a year in which the library was observed open;
- a library that goes back to the council leaves the risk set without an event.

Features are those known at the start of each interval only: independent (``ICL``) status,
statutory status at the start (latest recorded year not after it), the unclear-status flag, the
authority's closures of any library in the three years up to the start and its community-run share
at the start, and — from the Libraries Taskforce 2016 dataset where the library links to it —
weekly hours and neighbourhood deprivation in 2016 (frames that carry ``imd_decile`` use it).
Hours in the 2023 file are blank for every closed library and are never used.

The model (:func:`fit_hazard`) is a complementary log-log binomial GLM with ``log(interval years)``
as offset (a grouped-time proportional hazard), fitted with statsmodels; standard errors are
clustered by authority. Validation and baselines live in :mod:`cmlkit.closure_validation`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.tools import add_constant   # not statsmodels.api: it loads every model (half a second per kernel)

from cmlkit.errors import ClosureModelError  # errors live in cmlkit.errors; re-exported here
from cmlkit.link import link_responses

YEARS = (2016, 2019, 2021, 2022, 2023)
COMMUNITY = ("CR", "ICL")
OPEN = ("LA", "LAU", "C", "CR", "ICL")
UNCLEAR = ("Unknown", "Temporary Closure")
NUMERIC = ("log_hours_16", "imd_decile")


def _codes(frame: pd.DataFrame) -> np.ndarray:
    cols = [f"operation_{y % 100}" for y in YEARS]
    missing = [c for c in cols if c not in frame]
    if missing:
        raise ClosureModelError(f"frame lacks {missing} for the closure history")
    return frame[cols].astype(object).where(frame[cols].notna(), "").to_numpy(dtype=str)


def _carried(codes: np.ndarray) -> np.ndarray:
    """Codes with ``Unknown``/``Temporary Closure`` replaced by the last known code (if any)."""
    known = pd.DataFrame(np.where(np.isin(codes, UNCLEAR), None, codes))
    return known.ffill(axis=1).fillna("").to_numpy(dtype=str)


def _statutory(frame: pd.DataFrame) -> np.ndarray:
    """Statutory status (1/0/NaN) at each year: the latest recorded year not after it."""
    out = np.full((len(frame), len(YEARS)), np.nan)
    for j, y in enumerate(YEARS):
        for yy in [x for x in YEARS if x <= y][::-1]:
            col = f"statutory_{yy % 100}"
            if col in frame:
                s = frame[col].map({True: 1.0, False: 0.0, "Yes": 1.0, "No": 0.0, "yes": 1.0, "no": 0.0})
                out[:, j] = s.astype(float).to_numpy()
                break
    return out


def closure_years(frame: pd.DataFrame) -> np.ndarray:
    """Year each library closed (NaN if open throughout): the ``closed`` column where it is
    consistent with the codes, otherwise the first year coded ``Closed``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The library frame with ``operation_YY`` codes.

    Returns
    -------
    numpy.ndarray
    """
    codes = _codes(frame)
    is_closed = codes == "Closed"
    first = np.where(is_closed.any(axis=1), is_closed.argmax(axis=1), -1)
    coded = np.where(first >= 0, np.array(YEARS)[np.clip(first, 0, None)], np.nan)
    cy = pd.to_numeric(frame.get("closed", pd.Series(np.nan, index=frame.index)), errors="coerce").to_numpy(dtype=float)
    open_idx = np.where(np.isin(codes, OPEN), np.arange(len(YEARS))[None, :], -1)
    last_open = np.where(first >= 0, np.where(open_idx < np.where(first >= 0, first, 99)[:, None], open_idx, -1).max(axis=1), -1)
    last_open_year = np.where(last_open >= 0, np.array(YEARS)[np.clip(last_open, 0, None)], -np.inf)
    ok = np.isfinite(cy) & (cy > last_open_year) & ((first < 0) | (cy <= coded))
    return np.where(ok, cy, coded)


def authority_closures(frame: pd.DataFrame, *, window: int = 3) -> pd.DataFrame:
    """Per authority and frame year: libraries (any governance) that closed in the ``window`` years
    up to and including that year, and the authority's open libraries and community-run share then.

    Parameters
    ----------
    frame : pandas.DataFrame
        The library frame.
    window : int, default 3
        Years counted up to each frame year.

    Returns
    -------
    pandas.DataFrame
        One row per authority and frame year.
    """
    codes = _codes(frame)
    cy = closure_years(frame)
    rows = {}
    for j, y in enumerate(YEARS):
        live = np.isin(codes[:, j], OPEN)
        rows[y] = pd.DataFrame({"authority": frame["authority"].to_numpy(), "closed": (cy > y - window) & (cy <= y),
                                "open": live, "community": live & np.isin(codes[:, j], COMMUNITY)})
    out = pd.concat(rows, names=["year"]).groupby(["authority", "year"]).sum()
    out["community_share"] = out["community"] / out["open"].where(out["open"] > 0)
    return out.rename(columns={"closed": "recent_closures", "open": "open_libraries"}).reset_index()


def link_taskforce(frame: pd.DataFrame, taskforce: pd.DataFrame) -> pd.DataFrame:
    """Taskforce 2016 hours and deprivation for frame libraries (exact or fuzzy links only).

    Parameters
    ----------
    frame : pandas.DataFrame
        The library frame.
    taskforce : pandas.DataFrame
        The Taskforce 2016 dataset (:func:`cmlkit.frame.load_taskforce_2016`).

    Returns
    -------
    pandas.DataFrame
        ``library_id`` with the linked 2016 measures.
    """
    resp = frame.rename(columns={"library_id": "response_id", "name": "library_name", "authority": "local_authority"})
    links = link_responses(resp[["response_id", "library_name", "postcode", "local_authority"]].reset_index(drop=True), taskforce)
    ok = (links["status"].isin(["exact", "fuzzy"]) & ~links["duplicate_link"]).to_numpy()
    tf = taskforce.set_index("library_id")
    out = pd.DataFrame(np.nan, index=frame.index, columns=["tf_hours", "tf_imd"])
    ids = links.loc[ok, "library_id"].to_numpy()
    out.loc[frame.index[ok], "tf_hours"] = tf.loc[ids, "hours"].to_numpy(dtype=float)
    out.loc[frame.index[ok], "tf_imd"] = tf.loc[ids, "imd_multiple"].to_numpy(dtype=float)
    return out


def library_measures(frame: pd.DataFrame, *, taskforce: pd.DataFrame | None = None) -> pd.DataFrame:
    """Time-fixed measures from 2016: ``log_hours_16`` (Taskforce) and ``imd_decile`` (Taskforce
    IMD 2015, or the frame's own ``imd_decile``); NaN where unknown.

    Parameters
    ----------
    frame : pandas.DataFrame
        The library frame.
    taskforce : pandas.DataFrame, optional
        The Taskforce 2016 dataset.

    Returns
    -------
    pandas.DataFrame
        ``library_id, log_hours_16, imd_decile``.
    """
    out = pd.DataFrame(index=frame.index)
    if taskforce is not None:
        ever = _codes(frame)
        ever = np.isin(ever, COMMUNITY).any(axis=1)
        tf = link_taskforce(frame.loc[ever], taskforce).reindex(frame.index)
        out["log_hours_16"] = np.log1p(tf["tf_hours"])
        out["imd_decile"] = tf["tf_imd"]
    if "imd_decile" in frame and ("imd_decile" not in out or out["imd_decile"].isna().all()):
        out["imd_decile"] = pd.to_numeric(frame["imd_decile"], errors="coerce")
    return out


def library_years(frame: pd.DataFrame, *, taskforce: pd.DataFrame | None = None, codes=COMMUNITY,
                  measures: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per library and interval at risk, with start-of-interval features and the event.

    Parameters
    ----------
    frame : pandas.DataFrame
        The library frame.
    taskforce : pandas.DataFrame, optional
        The Taskforce 2016 dataset.
    codes : tuple of str
        Governance codes at risk (community run).
    measures : pandas.DataFrame, optional
        :func:`library_measures` of ``frame`` and ``taskforce`` when the caller already has them (linking
        the Taskforce file is the slow part); computed here when None.

    Returns
    -------
    pandas.DataFrame
        ``library_id, authority, region, start, end, years, event, start_code, icl, statutory,
        status_unclear, authority_recent_closures, authority_community_share`` and the 2016
        measures of :func:`library_measures` (NaN where unknown).
    """
    if not {"library_id", "authority"} <= set(frame.columns):
        raise ClosureModelError("frame lacks library_id/authority for the closure history")
    raw = _codes(frame)
    filled = _carried(raw)
    cy = closure_years(frame)
    stat = _statutory(frame)
    measures = library_measures(frame, taskforce=taskforce) if measures is None else measures
    auth = authority_closures(frame).set_index(["authority", "year"])
    parts = []
    for k in range(len(YEARS) - 1):
        start, end = YEARS[k], YEARS[k + 1]
        alive = ~(cy <= start)
        risk = np.isin(filled[:, k], codes) & alive
        idx = np.flatnonzero(risk)
        key = pd.MultiIndex.from_arrays([frame["authority"].to_numpy()[idx], np.full(len(idx), start)])
        a = auth.reindex(key)
        parts.append(pd.DataFrame({
            "library_id": frame["library_id"].to_numpy()[idx], "authority": frame["authority"].to_numpy()[idx],
            "region": frame["region"].to_numpy()[idx] if "region" in frame else "",
            "start": start, "end": end, "years": float(end - start),
            "event": ((cy[idx] > start) & (cy[idx] <= end)).astype(float),
            "start_code": filled[idx, k], "icl": (filled[idx, k] == "ICL").astype(float),
            "statutory": stat[idx, k], "status_unclear": np.isin(raw[idx, k], UNCLEAR).astype(float),
            "authority_recent_closures": a["recent_closures"].to_numpy(dtype=float),
            "authority_community_share": a["community_share"].to_numpy(dtype=float),
            **{c: measures[c].to_numpy()[idx] for c in measures},
        }))
    return pd.concat(parts, ignore_index=True)


def current_rows(frame: pd.DataFrame, library_ids, *, taskforce: pd.DataFrame | None = None,
                 measures: pd.DataFrame | None = None) -> pd.DataFrame:
    """Start-of-interval features for libraries as they stand in the last frame year (for ranking).

    Parameters
    ----------
    frame : pandas.DataFrame
        The library frame.
    library_ids : iterable
        The libraries to rank.
    taskforce : pandas.DataFrame, optional
    measures : pandas.DataFrame, optional
        :func:`library_measures` already computed for ``frame`` and ``taskforce`` (computed here when None).

    Returns
    -------
    pandas.DataFrame
        Columns as :func:`library_years`.
    """
    raw = _codes(frame)
    filled = _carried(raw)
    j = len(YEARS) - 1
    stat = _statutory(frame)[:, j]
    measures = library_measures(frame, taskforce=taskforce) if measures is None else measures
    auth = authority_closures(frame).set_index(["authority", "year"])
    a = auth.reindex(pd.MultiIndex.from_arrays([frame["authority"].to_numpy(), np.full(len(frame), YEARS[j])]))
    cur = pd.DataFrame({"library_id": frame["library_id"].to_numpy(), "authority": frame["authority"].to_numpy(),
                        "start": YEARS[j], "start_code": filled[:, j], "icl": (filled[:, j] == "ICL").astype(float),
                        "statutory": stat, "status_unclear": np.isin(raw[:, j], UNCLEAR).astype(float),
                        "authority_recent_closures": a["recent_closures"].to_numpy(dtype=float),
                        "authority_community_share": a["community_share"].to_numpy(dtype=float),
                        **{c: measures[c].to_numpy() for c in measures}})
    return cur.set_index("library_id").reindex(list(library_ids)).reset_index()


# --------------------------------------------------------------------------------------------
# The model


def features(rows: pd.DataFrame, *, medians: dict | None = None, columns: list | None = None) -> tuple[pd.DataFrame, dict]:
    """Design matrix: flags, authority context and 2016 measures (median-imputed with missing flags).

    ``medians`` and ``columns`` from the training rows are reused for new rows, so the same columns
    come out in the same order.

    Parameters
    ----------
    rows : pandas.DataFrame
        :func:`library_years` or :func:`current_rows` output.
    medians : dict, optional
        Imputation medians from the training rows.
    columns : list, optional
        Columns from the training rows.

    Returns
    -------
    (X, medians) : (pandas.DataFrame, dict)
    """
    base = ["icl", "statutory", "status_unclear", "authority_recent_closures", "authority_community_share",
            *[c for c in NUMERIC if c in rows]]
    X = rows[base].astype(float).copy()
    medians = medians if medians is not None else {c: float(np.nanmedian(X[c])) if X[c].notna().any() else 0.0 for c in base}
    for c in base:
        miss = X[c].isna()
        if (columns is None and miss.any()) or (columns is not None and f"{c}_missing" in columns):
            X[f"{c}_missing"] = miss.astype(float)
        X[c] = X[c].fillna(medians.get(c, 0.0))
    if columns is not None:
        X = X.reindex(columns=columns, fill_value=0.0)
    return X, medians


class HazardModel:
    """A fitted cloglog hazard: ``predict(rows, years=h)`` is the probability of closing within
    ``h`` years; ``rate(rows)`` the linear predictor (the ranking score, free of interval length)."""

    def __init__(self, result, columns, medians, sd):
        self.result, self.columns, self.medians, self.sd = result, columns, medians, sd

    def _x(self, rows):
        X, _ = features(rows, medians=self.medians, columns=[c for c in self.columns if c != "const"])
        X = X / self.sd
        return add_constant(X, has_constant="add")[self.columns].to_numpy(dtype=float)

    def rate(self, rows) -> np.ndarray:
        return self._x(rows) @ self.result.params.to_numpy()

    def predict(self, rows, *, years: float = 4.0) -> np.ndarray:
        return 1.0 - np.exp(-np.exp(np.clip(self.rate(rows) + np.log(years), -30, 30)))

    def coefficients(self) -> pd.DataFrame:
        """Coefficients per standard deviation of each feature, authority-clustered SE, hazard ratio."""
        r = self.result
        ci = r.conf_int()
        return pd.DataFrame({"feature": r.params.index, "coef": r.params.to_numpy(), "se_cluster": r.bse.to_numpy(),
                             "p_value": r.pvalues.to_numpy(), "hazard_ratio": np.exp(r.params.to_numpy()),
                             "hr_low": np.exp(ci[0].to_numpy()), "hr_high": np.exp(ci[1].to_numpy())})


def fit_hazard(rows: pd.DataFrame) -> HazardModel:
    """Fit the pooled cloglog hazard with ``log(years)`` offset and authority-clustered SEs.

    Features are scaled by their standard deviation; constant columns are dropped.

    Parameters
    ----------
    rows : pandas.DataFrame
        :func:`library_years` output.

    Returns
    -------
    HazardModel
    """
    y = rows["event"].to_numpy(dtype=float)
    if y.sum() < 5:
        raise ClosureModelError(f"only {int(y.sum())} closures to fit on: too few for a model")
    X, med = features(rows)
    sd = X.std(ddof=0)
    keep = sd.index[sd > 0]
    X = X[keep] / sd[keep]
    Xc = add_constant(X, has_constant="add")
    groups = pd.factorize(rows["authority"])[0]
    model = GLM(y, Xc, family=families.Binomial(link=families.links.CLogLog()),
                   offset=np.log(rows["years"].to_numpy(dtype=float)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # near-separation on rare flags: estimates are still usable for ranking
        res = model.fit(cov_type="cluster", cov_kwds={"groups": groups}, maxiter=200)
    return HazardModel(res, list(Xc.columns), med, sd[keep])
