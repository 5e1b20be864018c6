"""Response rates and nonresponse weights for a census-style wave (every in-scope library invited).

The base design treats respondents as a stratified sample of the in-scope libraries, stratified by
region with the finite population correction (weights N_h / n_h). The weights are then adjusted to
the frame's region x governance-type counts, by post-stratification on cells with at least
``min_cell`` respondents or by calibration (raking, linear or logit) to the region and type
margins. Sparse cells are collapsed in two steps, both stated in the report: a region whose type
cells are not all at ``min_cell`` is weighted as one cell; a region still short merges with the
smaller of its neighbours in the order of :data:`cmlkit.frame.REGIONS`. Optional trimming follows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import design as D
from cmlkit import weighted as weighted_io
from cmlkit import weights as W
from cmlkit.frame import REGIONS, operation_column

METHODS = ("poststratify", "rake", "linear", "logit")
LIBRARY_DESIGN = {"strata": "region", "fpc": "N_region"}
"""The sampling design of library responses before weighting: stratified by region, with the finite
population correction from the region's in-scope libraries (one home; :mod:`cmlkit.findings` reuses it)."""


def response_rates(scope: pd.DataFrame, links: pd.DataFrame, *, year: int | None = None, by=("region", "type")) -> pd.DataFrame:
    """In-scope libraries, responding libraries and the response rate by region x type.

    Parameters
    ----------
    scope : pandas.DataFrame
        The in-scope frame (``library_id`` and the ``by`` columns).
    links : pandas.DataFrame
        Each response's ``library_id`` (duplicate links count once).
    year : int, optional
        The frame year whose ``operation_<yy>`` column gives each library's type.
    by : tuple of str, default ("region", "type")
        The cells.

    Returns
    -------
    pandas.DataFrame
        One row per cell: ``N`` in scope, ``n`` responding, ``rate``; then an ``All`` row.
    """
    f = scope.assign(type=scope[operation_column(year)])
    responded = set(links["library_id"].dropna())
    f = f.assign(responded=f["library_id"].isin(responded))
    out = f.groupby(list(by)).agg(N=("library_id", "size"), n=("responded", "sum")).reset_index()
    out["rate"] = (out["n"] / out["N"]).round(6)
    total = pd.DataFrame([{**{b: "All" for b in by}, "N": int(out["N"].sum()), "n": int(out["n"].sum())}])
    total["rate"] = (total["n"] / total["N"]).round(6)
    return pd.concat([out, total], ignore_index=True)


def weight_responses(responses: pd.DataFrame, scope: pd.DataFrame, *, year: int | None = None, method: str = "rake",
                     min_cell: int = 5, bounds=(-np.inf, np.inf), trim_upper: float | None = None,
                     auxiliaries=(), lonely_psu: str = "certainty") -> tuple[D.Design, dict]:
    """Nonresponse-weight linked responses to the in-scope frame.

    Parameters
    ----------
    responses : pandas.DataFrame
        Clean responses with a ``library_id`` from linkage (unlinked rows are left out and counted).
    scope : pandas.DataFrame
        In-scope frame rows (``library_id, region`` and the year's operation code).
    method : {"poststratify", "rake", "linear", "logit"}
        Post-stratify on (collapsed) region x type cells, or calibrate to region and type margins.
    min_cell : int, default 5
        Fewest respondents in a weighting cell; sparser cells are merged with a neighbour.
    bounds : tuple
        Bounds on the calibration ratio (``logit`` needs finite bounds).
    trim_upper : float, optional
        Trim weights above this value (excess spread over the others).
    auxiliaries : sequence of str
        Numeric frame columns (e.g. ``"hours"``, weekly opening hours) whose population totals are
        added to the calibration (not with ``poststratify``). Use them when response depends on them:
        region x type alone leaves such bias in place (see ``benchmarks/bench_coverage.py``).
        Missing values are filled with the median (stated in the report).

    Returns
    -------
    (Design, dict)
        The design (data = linked responses plus ``region, type, cell, weight``) and a report:
        method, cells and their collapsing, counts, weight diagnostics.
    """
    if method not in METHODS:
        raise W.CalibrationError(f"method must be one of {METHODS}, not {method!r}")
    if int(min_cell) != min_cell or min_cell < 1:
        raise W.CalibrationError(f"min_cell = {min_cell!r}: the smallest cell is a whole number of respondents, at least 1")
    col = operation_column(year)
    aux = list(auxiliaries)
    if aux and method == "poststratify":
        raise W.CalibrationError("auxiliary totals need a calibration method (rake, linear or logit), not poststratify")
    f = scope.assign(type=scope[col])[["library_id", "region", "type"]]
    for a in aux:
        if a not in scope:
            raise W.CalibrationError(f"auxiliary {a!r} is not a frame column")
        v = pd.to_numeric(scope[a], errors="coerce")
        f[f"aux_{a}"] = v.fillna(v.median()).to_numpy()
    linked = responses.loc[responses["library_id"].notna()].drop_duplicates("library_id")
    data = linked.merge(f, on="library_id", how="inner", suffixes=("_survey", ""))
    n_region = f.groupby("region").size()
    data["N_region"] = data["region"].map(n_region)
    pop_cells = f.groupby(["region", "type"]).size().rename("N").reset_index()
    samp = data.groupby(["region", "type"]).size().rename("n")
    pop_cells = pop_cells.merge(samp.reset_index(), on=["region", "type"], how="left").fillna({"n": 0})
    region_order = {r: i for i, r in enumerate(REGIONS)}
    pop_cells = pop_cells.sort_values(["region", "type"], key=lambda s: s.map(region_order) if s.name == "region" else s)
    pop_cells["cell"] = pop_cells["region"] + " | " + pop_cells["type"]
    # 1) within a region, a sparse type cell merges with the region's other types
    sparse_region = pop_cells.groupby("region")["n"].transform("min") < min_cell
    pop_cells["step1"] = np.where(sparse_region, pop_cells["region"] + " | all types", pop_cells["cell"])
    # 2) a merged region still short of respondents merges with a neighbouring region (in REGIONS order)
    step1 = pop_cells.groupby("step1", sort=False)["n"].sum().reset_index()
    collapse2 = W.collapse_cells(step1, cell="step1", n_col="n", min_n=min_cell)
    collapse = dict(zip(pop_cells["cell"], pop_cells["step1"].map(collapse2)))
    pop_cells["weighting_cell"] = pop_cells["cell"].map(collapse)
    pop_cells = pop_cells.drop(columns="step1")
    data["cell"] = (data["region"] + " | " + data["type"]).map(collapse)
    base = D.svydesign(data, **LIBRARY_DESIGN, lonely_psu=lonely_psu)
    if method == "poststratify":
        des = W.post_stratify(base, "cell", pop_cells.groupby("weighting_cell")["N"].sum().to_dict())
    else:
        margins = {"region": f.groupby("region").size().to_dict(), "type": f.groupby("type").size().to_dict()}
        present = {"region": set(data["region"]), "type": set(data["type"])}
        margins = _collapse_margins(margins, present, data)
        calfun = {"rake": "raking", "linear": "linear", "logit": "logit"}[method]
        des = W.calibrate(base, margins=margins, totals={f"aux_{a}": float(f[f"aux_{a}"].sum()) for a in aux},
                          calfun=calfun, bounds=bounds)
    if trim_upper is not None:
        des = W.trim(des, upper=trim_upper, strict=True)
    des = D.Design(**{**des.__dict__, "data": weighted_io.attach_design(des)})     # the design travels with the data
    report = {"method": method, "min_cell": min_cell, "auxiliaries": aux, "responses_in": int(len(responses)),
              "responses_unlinked": int(responses["library_id"].isna().sum()),
              "duplicate_links_dropped": int(len(responses.loc[responses["library_id"].notna()]) - len(linked)),
              "responses_weighted": int(len(data)), "population": int(len(f)),
              "cells": pop_cells.to_dict("records"), "collapsed": {k: v for k, v in collapse.items() if k != v},
              "diagnostics": W.diagnostics(des, base_weights=base.weights)}
    return des, report


def _collapse_margins(margins, present, data):
    """Drop calibration categories with no respondents by merging them into the largest category."""
    out = {}
    for f, m in margins.items():
        m = {str(k): v for k, v in m.items()}
        absent = [k for k in m if k not in present[f]]
        if absent:
            biggest = max((k for k in m if k in present[f]), key=lambda k: m[k])
            for k in absent:
                m[biggest] += m.pop(k)
        out[f] = m
    return out


def describe_weights(report: dict) -> str:
    """The alt text of the weights histogram: how many weights, their range, design effect and effective n.

    Parameters
    ----------
    report : dict
        The weighting report of :func:`weight_responses` (``method`` and ``diagnostics``).

    Returns
    -------
    str
        One sentence for a screen reader.
    """
    d = report["diagnostics"]
    return (f"Histogram of the {d['n']} survey weights ({report['method']}); they range from {d['min']:.2f} to "
            f"{d['max']:.2f}, Kish design effect {d['deff_kish']:.2f}, effective sample size {d['n_eff']:.0f}.")


def rounded_diagnostics(report: dict, *, digits: int = 3) -> dict:
    """The weight diagnostics of a weighting report, floats rounded for display.

    Parameters
    ----------
    report : dict
        The weighting report of :func:`weight_responses`.
    digits : int, default 3
        Decimal places kept.

    Returns
    -------
    dict
        The ``diagnostics`` mapping with every float rounded.
    """
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in report["diagnostics"].items()}
