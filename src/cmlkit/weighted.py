"""The weighted product carries its design: save it with its recipe, load it back as the calibrated design.

:func:`attach_design` stores, in the weighted table's ``attrs`` (kept by parquet through pandas'
metadata), a JSON recipe: the ``svydesign`` arguments (weights, strata, clusters, fpc, lonely-PSU
rule) and every weighting step in order (post-stratification cells and population counts;
calibration margins, totals, distance, bounds and tolerance; trimming). :func:`load_weighted` reads
the table, replays the recipe and checks that the replayed weights equal the stored ``weight``
column, so every later step (findings, risk aggregates, trends) gets calibration-aware standard
errors instead of a fixed-weight design rebuilt from column names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit import tables
from cmlkit import weights as W
from cmlkit.design import Design, DesignError, svydesign

ATTR = "cmlkit_design"
VERSION = 1
#: recipe versions this module reads: 2 is a design with ``nest`` (PSU ids numbered within strata), which a reader
#: of version 1 would take for shared clusters, so it is written as 2 to be refused there
VERSIONS = (1, 2)


def recipe(design: Design, *, weight_column: str = "weight") -> dict:
    """The JSON-ready recipe of a design built by :func:`cmlkit.design.svydesign` and :mod:`cmlkit.weights`.

    Parameters
    ----------
    design : Design
    weight_column : str, default "weight"
        The column the weights are stored in.

    Returns
    -------
    dict
    """
    if not design.spec:
        raise DesignError("this design was not built by svydesign, so it cannot be saved with its recipe")
    return {"version": 2 if design.spec.get("nest") else VERSION, "svydesign": dict(design.spec), "steps": list(design.info.get("recipe", [])),
            "weight_column": weight_column}


def attach_design(design: Design, *, weight_column: str = "weight") -> pd.DataFrame:
    """The design's data with its weights in ``weight_column`` and the recipe in ``attrs`` (for parquet).

    Parameters
    ----------
    design : Design
    weight_column : str, default "weight"

    Returns
    -------
    pandas.DataFrame
    """
    data = design.data.assign(**{weight_column: design.weights})
    data.attrs[ATTR] = json.dumps(recipe(design, weight_column=weight_column), sort_keys=True)
    return data


def _bound(x, default):
    return default if x is None else float(x)


def _poststratify(des, step):
    return W.post_stratify(des, step["cell"], step["population"])


def _calibrate(des, step):
    return W.calibrate(des, margins=step["margins"], totals=step["totals"], calfun=step["calfun"],
                       bounds=(_bound(step["bounds"][0], -np.inf), _bound(step["bounds"][1], np.inf)),
                       maxit=step["maxit"], epsilon=step["epsilon"], force=step.get("force", False))


def _trim(des, step):
    return W.trim(des, lower=_bound(step["lower"], -np.inf), upper=_bound(step["upper"], np.inf), strict=step["strict"],
                  rule=step["rule"])


REPLAY = {"poststratify": _poststratify, "calibrate": _calibrate, "trim": _trim}


def rebuild(data: pd.DataFrame, spec: dict | str | None = None, *, check: bool = True) -> Design:
    """Replay a recipe on ``data`` and return the calibrated design.

    Parameters
    ----------
    data : pandas.DataFrame
        The weighted data.
    spec : dict or str, optional
        The recipe (or its JSON); default the recipe in ``data.attrs``.
    check : bool, default True
        Require the replayed weights to equal the stored weight column.

    Returns
    -------
    Design

    Raises
    ------
    DesignError
        No recipe, an unknown step, or replayed weights that differ from the stored weight column.
    """
    spec = data.attrs.get(ATTR) if spec is None else spec
    if spec is None:
        raise DesignError("the weighted table carries no design recipe (it was not written by cmlkit.weighted)")
    spec = json.loads(spec) if isinstance(spec, str) else spec
    if spec.get("version") not in VERSIONS:
        raise DesignError(f"design recipe version {spec.get('version')!r} is not supported (expected one of {VERSIONS})")
    args = spec["svydesign"]
    des = svydesign(data, weights=args["weights"], strata=args["strata"], ids=args["ids"] or None, fpc=args["fpc"] or None,
                    lonely_psu=args["lonely_psu"], nest=bool(args.get("nest", False)))
    for step in spec["steps"]:
        fn = REPLAY.get(step["kind"])
        if fn is None:
            raise DesignError(f"unknown weighting step {step['kind']!r} in the design recipe")
        des = fn(des, step)
    col = spec["weight_column"]
    if check and col in data:
        stored = data[col].to_numpy(dtype=float)
        if not np.allclose(des.weights, stored, rtol=1e-9, atol=0):
            row = int(np.argmax(np.abs(des.weights - stored)))
            raise DesignError(f"replaying the design recipe does not reproduce column {col!r} (row {row}: "
                              f"{des.weights[row]!r} vs {stored[row]!r})")
    return des


def keep_recipe(data: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """``data`` with the design recipe of ``like`` (pandas drops ``attrs`` in ``merge``; rows must be ``like``'s).

    Parameters
    ----------
    data : pandas.DataFrame
    like : pandas.DataFrame
        A weighted table carrying the recipe.

    Returns
    -------
    pandas.DataFrame
    """
    out = data.copy(deep=False)
    if ATTR in like.attrs:
        out.attrs[ATTR] = like.attrs[ATTR]
    return out


def save_weighted(design: Design, path, *, weight_column: str = "weight") -> Path:
    """Write the weighted product (parquet, recipe in its metadata) and the recipe beside it as JSON.

    Parameters
    ----------
    design : Design
    path : str or path-like
        The parquet file.
    weight_column : str, default "weight"

    Returns
    -------
    pathlib.Path
        The parquet file written.
    """
    data = attach_design(design, weight_column=weight_column)
    out = tables.write_parquet(data, path)
    tables.write_json(json.loads(data.attrs[ATTR]), Path(path).with_suffix(".design.json"))
    return out


def load_weighted(path, *, data: pd.DataFrame | None = None) -> Design:
    """Read a weighted product and return its calibrated design (recipe from the parquet metadata or the sidecar).

    Parameters
    ----------
    path : str or path-like
        The parquet file.
    data : pandas.DataFrame, optional
        Row-aligned extra columns (e.g. derived indicators) added to the design's data.

    Returns
    -------
    Design
    """
    path = Path(path)
    if not path.exists():
        raise DesignError(f"{path}: no such weighted table")
    table = tables.read_table(path)
    spec = table.attrs.get(ATTR)
    side = path.with_suffix(".design.json")
    if spec is None and side.exists():
        spec = side.read_text(encoding="utf-8")
    des = rebuild(table, spec)
    if data is not None:
        extra = data.reset_index(drop=True)
        des = Design(**{**des.__dict__, "data": pd.concat([des.data, extra.drop(columns=[c for c in extra if c in des.data])], axis=1)})
    return des
