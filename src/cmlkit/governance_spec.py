"""Governance specification and features: read ``research/governance.yml``, encode each library's answers.

The features and their encodings are data: each feature names a clean column (or a derivation,
``share`` or ``years_since``), an encoding (nominal, ordinal, binary, numeric), its missing-value
rule and its weight in the Gower distance. The ``clustering`` and ``stability`` sections hold the
method, the k range, the number of starts, the bootstrap size and the stability rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit.errors import GovernanceError
from cmlkit.instrument import find_root
from cmlkit.research import SpecRecord, read_spec

ENCODINGS = {"nominal", "ordinal", "binary", "numeric"}
METHODS = ("pam", "kprototypes", "latent_class")
_STABILITY_KEYS = {"dissolved", "unstable", "stable", "highly_stable", "null_margin", "min_silhouette",
                   "null_min_resamples"}
_FEATURE_KEYS = {"source", "derive", "encoding", "levels", "positive", "missing_values", "weight", "transform",
                 "numerator", "denominator", "column", "zero_as_missing"}


def default_spec_path() -> Path:
    """Return the path of ``research/governance.yml`` in the project root.

    Returns
    -------
    pathlib.Path
    """
    return find_root() / "research" / "governance.yml"


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class GovernanceSpec(SpecRecord):
    """The governance features and clustering settings of ``research/governance.yml``, checked.

    Parameters
    ----------
    features : Mapping
        name -> ``source`` (a clean column) or ``derive`` (share or years_since, with ``numerator`` and
        ``denominator`` or ``column``), ``encoding`` (one of :data:`ENCODINGS`), ``levels`` (ordinal),
        ``positive``, ``missing_values``, ``weight``, ``transform``, ``zero_as_missing``. Required.
    clustering : Mapping, optional
        ``method`` (one of :data:`METHODS`; "pam" when absent), ``compare_with``, ``k_range``, ``n_init``
        and the other settings read by :mod:`cmlkit.cluster_fit`.
    stability : Mapping, optional
        Non-negative thresholds, keys among ``dissolved, unstable, stable, highly_stable, null_margin,
        min_silhouette, null_min_resamples`` (defaults in :data:`cmlkit.cluster_stability.THRESHOLDS`).
    names : list, optional
        Naming rules: ``{name, when}``.
    wave, wave_year, frame_year : optional
        Set from the wave by :func:`cmlkit.waves.with_wave`, never in ``research/``.
    source : str, optional
        The file read.

    Raises
    ------
    GovernanceError
        An unknown feature or stability key, a bad encoding, an ordinal feature without levels, a
        feature with neither source nor derivation, a negative threshold or an unknown method.
    """

    features: Mapping | None = None
    clustering: Mapping | None = None
    stability: Mapping | None = None
    names: list | None = None
    wave: str | None = None
    wave_year: int | None = None
    frame_year: int | None = None

    error = GovernanceError
    file = "research/governance.yml"

    def __post_init__(self):
        for name, f in (self.features or {}).items():
            unknown = set(f) - _FEATURE_KEYS
            if unknown:
                self.fail(f"feature {name!r}: unknown key(s) {sorted(unknown)}")
            if f.get("encoding") not in ENCODINGS:
                self.fail(f"feature {name!r}: encoding must be one of {sorted(ENCODINGS)}")
            if f["encoding"] == "ordinal" and not f.get("levels"):
                self.fail(f"feature {name!r}: an ordinal feature needs its levels")
            if "source" not in f and f.get("derive") not in ("share", "years_since"):
                self.fail(f"feature {name!r}: needs a source column or derive: share|years_since")
        for key, value in (self.stability or {}).items():
            if key not in _STABILITY_KEYS:
                self.fail(f"stability: unknown key {key!r} (known: {sorted(_STABILITY_KEYS)})")
            if not isinstance(value, (int, float)) or value < 0:
                self.fail(f"stability.{key} must be a non-negative number, not {value!r}")
        method = (self.clustering or {}).get("method", "pam")
        if method not in METHODS:
            self.fail(f"clustering.method {method!r} is not one of {list(METHODS)}")


def load_spec(path=None) -> GovernanceSpec:
    """Read and check ``research/governance.yml``.

    Parameters
    ----------
    path : str or Path, optional
        Defaults to ``research/governance.yml`` in the project root.

    Returns
    -------
    GovernanceSpec
        A read-only mapping with ``features`` (name -> definition), ``clustering``, ``stability``, ``names``.

    Raises
    ------
    GovernanceError
        A one-line message naming the file (see :class:`GovernanceSpec`).
    """
    spec, path = read_spec("governance.yml", path, error=GovernanceError, what="governance specification")
    return GovernanceSpec.from_mapping(spec, path)


# --------------------------------------------------------------------------------------------
# Features


def build_features(data: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Governance features of each library, encoded as the specification says.

    Nominal features come back as strings (missing as NaN), ordinal as level ranks 0..L-1, binary
    as 0/1, numeric as floats after the transform. Index follows ``data``.

    Parameters
    ----------
    data : pandas.DataFrame
        Clean library responses with the feature source columns.
    spec : dict
        The governance specification, with ``wave_year`` set from the wave (``cmlkit.waves.with_wave``)
        when a feature is derived as ``years_since``.

    Returns
    -------
    pandas.DataFrame
        One column per feature.

    Raises
    ------
    GovernanceError
        When a source column is missing or an ordinal/binary answer is not a listed level.
    """
    out = {}
    wave_year = spec.get("wave_year")  # set from the wave by cmlkit.waves.with_wave, never in research/
    for name, f in spec["features"].items():
        enc = f["encoding"]
        if f.get("derive") == "share":
            cols = [f["numerator"], *f["denominator"]]
            _require(data, cols, name)
            den = data[f["denominator"]].apply(pd.to_numeric, errors="coerce").astype(float)
            num = pd.to_numeric(data[f["numerator"]], errors="coerce").astype(float)
            total = den.sum(axis=1, min_count=1)
            values = (num / total.where(total > 0)).astype(float)
            if f.get("zero_as_missing"):
                values = values.where(values > 0)
        elif f.get("derive") == "years_since":
            _require(data, [f["column"]], name)
            if wave_year is None:
                raise GovernanceError(f"feature {name!r} needs the wave year: pass the spec through cmlkit.waves.with_wave")
            values = (int(wave_year) - pd.to_numeric(data[f["column"]], errors="coerce").astype(float)).clip(lower=0)
        else:
            _require(data, [f["source"]], name)
            values = data[f["source"]]
        missing = set(f.get("missing_values", []))
        if enc == "nominal":
            s = values.astype("string").astype(object)
            values = s.where(s.notna() & ~s.isin(missing), np.nan)
        elif enc == "ordinal":
            s = values.astype("string")
            s = s.where(~s.isin(missing))
            codes = pd.Categorical(s, categories=f["levels"], ordered=True).codes.astype(float)
            bad = s.notna().to_numpy() & (codes < 0)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise GovernanceError(f"feature {name!r}: value {s.iloc[row]!r} (row {row + 1}, column "
                                      f"{f['source']}) is not one of the levels {f['levels']}")
            values = pd.Series(np.where(codes < 0, np.nan, codes), index=data.index)
        elif enc == "binary":
            if "positive" in f:
                s = values.astype("string")
                s = s.where(~s.isin(missing))
                values = pd.Series(np.where(s.isna(), np.nan, (s == str(f["positive"])).astype(float)), index=data.index)
            else:
                values = pd.to_numeric(values, errors="coerce").astype(float)
                if ((values != 0) & (values != 1) & values.notna()).any():
                    raise GovernanceError(f"feature {name!r}: binary column {f['source']} holds values other than 0/1")
        else:
            values = pd.to_numeric(values, errors="coerce").astype(float)
            if f.get("transform") == "log1p":
                values = np.log1p(values.clip(lower=0))
        out[name] = values
    return pd.DataFrame(out, index=data.index)


def _require(data, cols, name):
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise GovernanceError(f"feature {name!r}: column(s) {missing} not in the data")


class FeatureRows:
    """Some rows of an encoded feature frame, with what the methods read from its columns kept once.

    A bootstrap refits a method on many subsets of the same libraries. Passing each subset as
    positions into the full frame (:meth:`take`) lets a method read the frame's columns once
    (:meth:`columns`) and each subset as an index into them, instead of copying a frame and
    redoing the pandas work per refit; the methods return exactly what they return on
    :meth:`frame`.

    Parameters
    ----------
    frame : pandas.DataFrame
        Encoded features (:func:`build_features`), rows in canonical order.
    rows : array of int, optional
        Positions of the rows taken (default: all, in order).
    store : dict, optional
        Column data shared with the other subsets of ``frame`` (internal).
    """

    def __init__(self, frame: pd.DataFrame, rows=None, store: dict | None = None):
        self.full = frame
        self.rows = np.arange(len(frame)) if rows is None else np.asarray(rows, dtype=np.intp)
        self.store = {} if store is None else store

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, positions) -> FeatureRows:
        """The rows at ``positions`` of these rows, sharing the column data.

        Parameters
        ----------
        positions : array of int
            Positions among the rows held.

        Returns
        -------
        FeatureRows
        """
        return FeatureRows(self.full, self.rows[np.asarray(positions, dtype=np.intp)], self.store)

    def frame(self) -> pd.DataFrame:
        """The rows as a frame of their own (index 0..n-1).

        Returns
        -------
        pandas.DataFrame
        """
        return self.full.iloc[self.rows].reset_index(drop=True)

    def columns(self, key, make):
        """``make(full_frame)``, computed on the first call for ``key`` and shared by every subset.

        Parameters
        ----------
        key : hashable
            Names what ``make`` computes (with anything it depends on besides the frame).
        make : callable
            Reads the full frame.

        Returns
        -------
        object
            What ``make`` returned.
        """
        if key not in self.store:
            self.store[key] = make(self.full)
        return self.store[key]


def distinct_rows(X) -> int:
    """Number of distinct rows (missing values equal to each other), as ``len(X.drop_duplicates())``.

    Parameters
    ----------
    X : pandas.DataFrame or FeatureRows
        Encoded features.

    Returns
    -------
    int
    """
    if not isinstance(X, FeatureRows) or not len(X.full.columns):
        return len(X.drop_duplicates() if isinstance(X, pd.DataFrame) else X.frame().drop_duplicates())
    codes, weights = X.columns("factorized", _factorized)
    if weights is None:
        return int(len(np.unique(codes[X.rows], axis=0)))
    return int(len(np.unique(codes[X.rows] @ weights)))


def _factorized(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """Codes of each column's values (0 for missing), equal where ``DataFrame.duplicated`` finds them equal,
    and the place values that make one integer of a row's codes (None when that would overflow)."""
    codes = np.column_stack([pd.factorize(frame[c])[0].astype(np.int64) + 1 for c in frame.columns])
    radix = codes.max(axis=0) + 1
    if np.sum(np.log2(radix.astype(float))) >= 62:
        return codes, None
    return codes, np.concatenate([np.cumprod(radix[::-1])[::-1][1:], [1]]).astype(np.int64)
