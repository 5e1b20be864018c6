"""Indicators and scales defined in ``research/indicators.yml``, computed from clean responses.

One derivation language serves the indicators here and the risk index (``research/risk.yml``):

* ``ratio: [a, b]`` (a / b, b > 0; optional ``multiplier``),
* ``share: a | [a, ...], of: [...]`` (sum of the numerator columns over the sum of ``of``, total > 0),
* ``count: [...]`` (sum of 0/1 columns; optional ``plus_equals: {column: value}`` adds 1 where the
  column equals the value; optional ``divide_by``),
* ``count_choices: q`` (share of a select_multiple question's choices ticked, over the choices the wave's
  instrument lists, less ``exclude``; a trend passes ``items`` to compute it on the choices common to its waves),
* ``score: q`` (the choice score of a select_one answer; "don't know" has none),
* ``mean_score: [q, ...]`` (mean of the choice scores answered; ``min_items`` on the indicator),
* ``equals: q, values: [...]`` (1 when the answer is one of the values, 0 otherwise, missing when unanswered),
* ``diversity: [...]`` (1 - Herfindahl index of the amounts: 0 = one source only),
* ``years_until: q`` (the value minus the wave year), ``source: q`` (the value itself).

Cronbach's alpha follows ``survey::svycralpha``: K/(K-1) (1 - sum of item variances / variance of the
total), with design-weighted variances when weights are given (listwise complete items).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from cmlkit.errors import IndicatorError  # errors live in cmlkit.errors; re-exported here
from cmlkit.research import SpecRecord, read_spec

DERIVATION_KINDS = ("ratio", "share", "count", "count_choices", "score", "mean_score", "equals", "diversity",
                    "years_until", "source")
"""The kinds of derivation :func:`derive` knows, their one registry: a derivation names exactly one of them, and
every specification that holds derivations (``indicators.yml``, ``risk.yml``) is checked against this."""
DERIVATIONS = DERIVATION_KINDS  # the same registry under its earlier name (cmlkit.share_intervals, tests)

_REQUIRED = ("label", "section", "derive", "kind", "direction", "missing", "reference")


def check_derivation(d, where: str, error=IndicatorError) -> None:
    """Refuse a derivation that does not name exactly one of :data:`DERIVATION_KINDS`.

    Parameters
    ----------
    d : Mapping
        One derivation (``derive`` of an indicator).
    where : str
        The file and indicator, for the message.
    error : type, default IndicatorError
        The error class to raise.

    Raises
    ------
    IndicatorError
        (or ``error``) with a one-line message naming ``where`` and the known kinds.
    """
    if not isinstance(d, Mapping) or len(set(d) & set(DERIVATION_KINDS)) != 1:
        raise error(f"{where}: derive needs exactly one of {', '.join(DERIVATION_KINDS)}")


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class IndicatorSpec(SpecRecord):
    """The indicators and scales of ``research/indicators.yml``, checked.

    Parameters
    ----------
    indicators : Mapping
        name -> definition: ``label``, ``section``, ``derive`` (exactly one of :data:`DERIVATION_KINDS`),
        ``kind`` (mean or proportion), ``direction``, ``missing``, ``reference``; optional ``min_items``
        (default 1, applied where it is used: :func:`compute`). Required.
    scales : Mapping, optional
        Likert scales (name -> items and their settings), read by the findings notebooks.
    training_topics : Mapping or list, optional
        The training topics the volunteers' findings report.
    source : str, optional
        The file read.

    Raises
    ------
    IndicatorError
        No ``indicators``, an indicator lacking a required key, a derivation that is not exactly one
        kind, or a kind other than mean or proportion.
    """

    indicators: Mapping | None = None
    scales: Mapping | None = None
    training_topics: object = None

    error = IndicatorError
    file = "research/indicators.yml"

    def __post_init__(self):
        if not isinstance(self.indicators, Mapping):
            self.fail("indicators must be a mapping of name -> definition")
        for name, ind in self.indicators.items():
            for key in _REQUIRED:
                if key not in ind:
                    self.fail(f"indicator {name!r} lacks {key!r} (each states its inputs, direction, missing-data rule and reference)")
            check_derivation(ind["derive"], f"{self.source or self.file}: indicator {name!r}")
            if ind["kind"] not in ("mean", "proportion"):
                self.fail(f"indicator {name!r}: kind must be mean or proportion")


def load_spec(path=None) -> IndicatorSpec:
    """Read and check ``research/indicators.yml``.

    Parameters
    ----------
    path : str or path-like, optional
        Default ``research/indicators.yml``.

    Returns
    -------
    IndicatorSpec
        The checked specification (a read-only mapping: ``indicators``, ``scales``, ``training_topics``).

    Raises
    ------
    IndicatorError
        A one-line message naming the file (see :class:`IndicatorSpec`).
    """
    spec, path = read_spec("indicators.yml", path, error=IndicatorError, what="indicator definitions")
    return IndicatorSpec.from_mapping(spec, path)


def _num(data, col):
    if col not in data:
        raise IndicatorError(f"column {col!r} (needed by an indicator) is not in the data")
    return pd.to_numeric(data[col], errors="coerce").astype(float)


def _cols(x):
    return [x] if isinstance(x, str) else list(x)


def derive(data: pd.DataFrame, d: dict, *, inst=None, wave_year: int | None = None,
           min_items: int = 1) -> tuple[pd.Series, pd.Series]:
    """Values of one derivation for every row, and the answer labels where the derivation reads one question.

    Parameters
    ----------
    data : DataFrame
        Clean responses (canonical column names).
    d : dict
        One derivation (see the module docstring).
    inst : Instrument, optional
        The wave's instrument: needed for choice scores, and the source of the wave year.
    wave_year : int, optional
        Overrides the instrument's wave year (``years_until``); there is no built-in default.
    min_items : int, default 1
        Fewest answered items for ``mean_score``.

    Returns
    -------
    (values, labels) : float Series and string Series indexed like ``data``
    """
    lab = pd.Series("", index=data.index)
    if "ratio" in d:
        num, den = (_num(data, c) for c in d["ratio"])
        v = num / den.where(den > 0) * float(d.get("multiplier", 1))
    elif "share" in d:
        total = pd.concat([_num(data, c) for c in d["of"]], axis=1).sum(axis=1, min_count=1)
        num = pd.concat([_num(data, c) for c in _cols(d["share"])], axis=1).sum(axis=1, min_count=1)
        v = num / total.where(total > 0)
    elif "count" in d:
        v = pd.concat([_num(data, c) for c in d["count"]], axis=1).sum(axis=1, min_count=1)
        for col, val in (d.get("plus_equals") or {}).items():
            v = v + (data[col].astype("string") == str(val)).fillna(False).astype(float)
        v = v / float(d.get("divide_by", 1))
    elif "count_choices" in d:
        cols = [f"{d['count_choices']}__{c}" for c in choice_items(d, inst)]
        v = pd.concat([_num(data, c) for c in cols], axis=1).sum(axis=1, min_count=1) / float(len(cols))
    elif "score" in d or "mean_score" in d:
        if inst is None:
            raise IndicatorError(f"derivation {sorted(d)} reads choice scores: pass the wave's instrument")
        qs = _cols(d.get("score") or d.get("mean_score"))
        scores = []
        for q in qs:
            if q not in data:
                raise IndicatorError(f"column {q!r} (needed by an indicator) is not in the data")
            choices = inst.canonical_choices(q)
            scores.append(data[q].astype("string").map({c["name"]: c.get("score") for c in choices}).astype(float))
            if len(qs) == 1:
                lab = data[q].astype("string").map({c["name"]: c["label"] for c in choices}).fillna("")
        S = pd.concat(scores, axis=1)
        v = S.mean(axis=1).where(S.notna().sum(axis=1) >= min_items)
    elif "equals" in d:
        raw = data[d["equals"]].astype("string")
        v = pd.Series(np.where(raw.isna(), np.nan, raw.isin([str(x) for x in d["values"]]).astype(float)), index=data.index)
        lab = raw.fillna("")
    elif "diversity" in d:
        A = pd.concat([_num(data, c) for c in d["diversity"]], axis=1).clip(lower=0)
        total = A.sum(axis=1, min_count=1)
        shares = A.div(total.where(total > 0), axis=0)
        v = 1 - (shares ** 2).sum(axis=1, min_count=1)
        v = v.where(total > 0)
    elif "years_until" in d:
        year = wave_year if wave_year is not None else getattr(inst, "wave_year", None)
        if year is None:
            raise IndicatorError(f"years_until {d['years_until']!r} needs the wave year: pass the wave's instrument")
        v = _num(data, d["years_until"]) - float(year)
    elif "source" in d:
        v = _num(data, d["source"])
    else:
        raise IndicatorError(f"unknown derivation {sorted(d)}")
    return v.astype(float), lab.astype(str)


def choice_items(d: dict, inst=None) -> list:
    """The choices a ``count_choices`` derivation counts: ``items`` when given, else the instrument's list less ``exclude``.

    Parameters
    ----------
    d : dict
        A ``count_choices`` derivation.
    inst : Instrument, optional
        The wave's instrument (needed when ``items`` is not given).

    Returns
    -------
    list of str
        Choice names.
    """
    if d.get("items"):
        return list(d["items"])
    if inst is None:
        raise IndicatorError(f"count_choices {d['count_choices']!r} reads the choice list: pass the wave's instrument")
    return [c["name"] for c in inst.canonical_choices(d["count_choices"]) if c["name"] not in set(d.get("exclude") or [])]


def inputs(d: dict, inst=None) -> list:
    """Canonical columns a derivation reads (``q__choice`` columns for choice counts).

    Parameters
    ----------
    d : dict
        One derivation.
    inst : Instrument, optional
        Needed for choice counts without ``items``.

    Returns
    -------
    list of str
    """
    if "count_choices" in d:
        return [f"{d['count_choices']}__{c}" for c in choice_items(d, inst)]
    key = next(k for k in DERIVATION_KINDS if k in d)
    cols = _cols(d[key]) + (list(d.get("of") or []) if key == "share" else []) + list(d.get("plus_equals") or {})
    return list(dict.fromkeys(cols))


def compute(data: pd.DataFrame, spec: dict | None = None, *, inst=None, wave_year: int | None = None) -> pd.DataFrame:
    """Every library-level indicator of the specification (columns), rows as in ``data``.

    The wave year comes from ``instrument`` unless ``wave_year`` is given.

    Parameters
    ----------
    data : pandas.DataFrame
        Clean responses (canonical column names).
    spec : dict, optional
        Default :func:`load_spec`.
    inst : Instrument, optional
        The wave's instrument.
    wave_year : int, optional
        Overrides the instrument's wave year.

    Returns
    -------
    pandas.DataFrame
        One column per indicator, indexed like ``data``.
    """
    spec = spec or load_spec()
    out = {}
    for name, ind in spec["indicators"].items():
        out[name], _ = derive(data, ind["derive"], inst=inst, wave_year=wave_year,
                              min_items=int(ind.get("min_items", 1)))
    return pd.DataFrame(out, index=data.index)


def item_scores(data: pd.DataFrame, items, *, inst) -> pd.DataFrame:
    """Choice scores (1-5) of Likert items; answers without a score are missing.

    Parameters
    ----------
    data : pandas.DataFrame
        Clean responses.
    items : list of str
        Likert questions.
    inst : Instrument
        Where the choice scores come from.

    Returns
    -------
    pandas.DataFrame
        One float column per item.
    """
    return pd.DataFrame({q: data[q].astype("string").map({c["name"]: c.get("score") for c in inst.canonical_choices(q)}).astype(float)
                         for q in items}, index=data.index)


def scale_score(scores: pd.DataFrame, *, min_items: int = 1) -> pd.Series:
    """Mean of the answered items, missing when fewer than ``min_items`` are answered.

    Parameters
    ----------
    scores : pandas.DataFrame
        Item scores (:func:`item_scores`).
    min_items : int, default 1
        Fewest answered items for a score.

    Returns
    -------
    pandas.Series
    """
    return scores.mean(axis=1).where(scores.notna().sum(axis=1) >= min_items)


def _wvar(x, w):
    m = np.sum(w * x) / np.sum(w)
    return np.sum(w * (x - m) ** 2) / np.sum(w)


def cronbach_alpha(scores: pd.DataFrame, weights=None) -> dict:
    """Cronbach's alpha, as ``survey::svycralpha`` (weights) or ``psych::alpha`` raw alpha (none).

    Listwise: rows with every item answered. Also item-rest correlations (each item with the sum
    of the others), weighted when weights are given.

    Parameters
    ----------
    scores : pandas.DataFrame
        Item scores, one column per item.
    weights : array-like, optional
        Survey weights (``svycralpha``); None gives the unweighted raw alpha.

    Returns
    -------
    dict
        ``alpha``, ``n`` (complete rows), ``k`` (items), ``item_rest`` (item -> correlation).
    """
    S = scores.astype(float)
    ok = S.notna().all(axis=1).to_numpy()
    X = S.to_numpy()[ok]
    w = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=float)[ok]
    k = X.shape[1]
    if k < 2 or len(X) < 2:
        raise IndicatorError("Cronbach's alpha needs at least two items and two complete responses")
    item_var = np.array([_wvar(X[:, j], w) for j in range(k)])
    total_var = _wvar(X.sum(axis=1), w)
    alpha = k / (k - 1) * (1 - item_var.sum() / total_var)
    rest = {}
    for j, name in enumerate(S.columns):
        r = X.sum(axis=1) - X[:, j]
        xm, rm = np.average(X[:, j], weights=w), np.average(r, weights=w)
        cov = np.sum(w * (X[:, j] - xm) * (r - rm))
        rest[name] = float(cov / np.sqrt(np.sum(w * (X[:, j] - xm) ** 2) * np.sum(w * (r - rm) ** 2)))
    return {"alpha": float(alpha), "n": int(len(X)), "k": int(k), "item_rest": rest}
