"""Gower dissimilarities between libraries (R ``cluster::daisy(metric="gower")`` conventions).

A pair of libraries is compared on the features both answered; a nominal or binary feature
contributes 0 (same category) or 1; an ordinal feature its rank difference over the level range; a
numeric feature its absolute difference over the observed range. Each feature carries its weight
from ``research/governance.yml``; the dissimilarity is the weighted mean over the shared features.

Vectorised by matrix products: nominal and binary features are one-hot coded and ordinal features
thermometer coded (``|a - b| = sum_t |[a > t] - [b > t]|``; two one-hot codes differ in two
places, so their columns carry half the weight), so their weighted mismatches and the
weight of the shared features are products of indicator matrices; only the numeric features need
an elementwise pass, one per feature, over row chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: elements of a row-chunk x column block above which the numeric pass is chunked
_BLOCK = 4_000_000


@dataclass(frozen=True)
class GowerParts:
    """Encoded features for :func:`gower_matrix`: indicator blocks and numeric columns.

    ``ind`` (n x m) holds one column per category (nominal, binary) or threshold (ordinal), 0 where
    the answer is missing; ``ind_w`` the weight of each column divided by the feature's range.
    ``answered`` (n x p) says which features each row answered, with weights ``w``; ``mass`` (n x p)
    is each row's weighted indicator sum per feature. ``num`` (n x q) are the numeric features, ``num_w`` their
    weights and ``num_rng`` their observed ranges.
    """

    ind: np.ndarray
    ind_w: np.ndarray
    answered: np.ndarray
    w: np.ndarray
    mass: np.ndarray
    num: np.ndarray
    num_w: np.ndarray
    num_rng: np.ndarray


def gower_parts(X: pd.DataFrame, spec: dict) -> GowerParts:
    """Encode the features of ``X`` (output of ``build_features``) for the Gower distance.

    Parameters
    ----------
    X : pandas.DataFrame
        Encoded governance features, one row per library.
    spec : dict
        The governance specification (encodings, ordinal levels, feature weights).

    Returns
    -------
    GowerParts
        Ranges of numeric features come from all of ``X``; an ordinal range is its number of
        levels minus one.
    """
    n = len(X)
    ind, ind_w, answered, w, mass, num, num_w, num_rng = [], [], [], [], [], [], [], []
    for name, f in spec["features"].items():
        weight = float(f.get("weight", 1.0))
        enc = f["encoding"]
        col = X[name]
        if enc in ("nominal", "binary"):
            codes = pd.Categorical(col).codes
            ok = codes >= 0
            k = int(codes.max()) + 1 if ok.any() else 0
            block = np.zeros((n, k))
            block[np.flatnonzero(ok), codes[ok]] = 1.0
            ind.append(block)
            ind_w.append(np.full(k, weight / 2))           # one-hot codes differ in two places
            mass.append(block.sum(axis=1) * weight / 2)
        elif enc == "ordinal":
            v = col.to_numpy(dtype=float)
            ok = np.isfinite(v)
            steps = len(f["levels"]) - 1
            rng = float(steps) if steps > 0 else 1.0
            thresholds = np.arange(steps)
            block = np.where(ok[:, None], (np.nan_to_num(v)[:, None] > thresholds[None, :]), 0.0).astype(float)
            ind.append(block)
            ind_w.append(np.full(steps, weight / rng))
            mass.append(block.sum(axis=1) * weight / rng)
        else:
            v = col.to_numpy(dtype=float)
            ok = np.isfinite(v)
            finite = v[ok]
            rng = float(finite.max() - finite.min()) if finite.size else 0.0
            num.append(v)
            num_w.append(weight)
            num_rng.append(rng if rng > 0 else 1.0)
            mass.append(np.zeros(n))
        answered.append(ok)
        w.append(weight)
    return GowerParts(ind=np.hstack(ind) if ind else np.zeros((n, 0)),
                      ind_w=np.concatenate(ind_w) if ind_w else np.zeros(0),
                      answered=np.column_stack(answered).astype(float), w=np.asarray(w, dtype=float),
                      mass=np.column_stack(mass),
                      num=np.column_stack(num) if num else np.zeros((n, 0)),
                      num_w=np.asarray(num_w, dtype=float), num_rng=np.asarray(num_rng, dtype=float))


def gower_matrix(X: pd.DataFrame, spec: dict, *, rows=None, cols=None, parts: GowerParts | None = None) -> np.ndarray:
    """Gower dissimilarities between libraries (R ``cluster::daisy(metric="gower")`` conventions).

    Parameters
    ----------
    X : pandas.DataFrame
        Output of ``build_features``.
    spec : dict
        The governance specification (encodings, feature weights).
    rows, cols : array of int, optional
        Positions of the rows/columns wanted (default: all, giving the square matrix).
    parts : GowerParts, optional
        :func:`gower_parts` of ``X``, when already computed.

    Returns
    -------
    numpy.ndarray
        ``len(rows) x len(cols)`` in [0, 1]. A pair is compared on the features both answered;
        NaN where they share none. Ordinal levels count by rank difference over the level range;
        numeric by absolute difference over the observed range (ranges from all of ``X``).
    """
    parts = parts if parts is not None else gower_parts(X, spec)
    n = len(X)
    rows = np.arange(n) if rows is None else np.asarray(rows)
    cols = np.arange(n) if cols is None else np.asarray(cols)
    A, Bc = parts.answered[rows], parts.answered[cols]
    den = (A * parts.w) @ Bc.T
    Ia, Ib = parts.ind[rows], parts.ind[cols]
    # weighted mismatches of indicator columns: sum_j w_j (a_j + b_j - 2 a_j b_j) over columns of
    # features both answered (a row's indicators are all 0 where it did not answer)
    num = parts.mass[rows] @ Bc.T + A @ parts.mass[cols].T - 2.0 * ((Ia * parts.ind_w) @ Ib.T)
    if parts.num.shape[1]:
        Va, Vb = parts.num[rows], parts.num[cols]
        step = max(1, _BLOCK // max(len(cols), 1))
        for s in range(0, len(rows), step):
            sl = slice(s, s + step)
            for j in range(Va.shape[1]):
                d = np.abs(Va[sl, j][:, None] - Vb[None, :, j]) / parts.num_rng[j]
                num[sl] += np.where(np.isfinite(d), d, 0.0) * parts.num_w[j]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def chunked_to(X: pd.DataFrame, spec: dict, targets, parts: GowerParts | None = None, chunk: int = 20000) -> np.ndarray:
    """Gower distances from ``targets`` (positions) to every row, computed in column chunks.

    Parameters
    ----------
    X : pandas.DataFrame
        Encoded features.
    spec : dict
        The governance specification.
    targets : array of int
        Row positions of the targets (e.g. medoids).
    parts : GowerParts, optional
        Precomputed :func:`gower_parts`.
    chunk : int, default 20000
        Columns per block.

    Returns
    -------
    numpy.ndarray
        ``len(targets) x len(X)``.
    """
    parts = parts if parts is not None else gower_parts(X, spec)
    n = len(X)
    out = np.empty((len(targets), n))
    for s in range(0, n, chunk):
        out[:, s:s + chunk] = gower_matrix(X, spec, rows=targets, cols=np.arange(s, min(n, s + chunk)), parts=parts)
    return out
