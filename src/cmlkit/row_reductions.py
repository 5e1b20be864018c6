"""Reductions over the last axis in NumPy's and SciPy's own order, faster for short rows.

The latent class EM (:mod:`cmlkit.lca_em`, :mod:`cmlkit.latent_class`) sums and log-sum-exps rows of
a few classes millions of times. NumPy adds a row of fewer than 8 values from left to right, slowly
for many short rows; :func:`row_sum` adds such rows as whole columns in that same order, so the results
are bit for bit NumPy's, and :func:`logsumexp_rows` is SciPy 1.17's ``logsumexp(a, axis=-1)`` built on it.
"""

from __future__ import annotations

import numpy as np


def row_sum(a: np.ndarray) -> np.ndarray:
    """``numpy.sum(a, axis=-1)`` of a float array, bit for bit, without NumPy's slow short-row reduction.

    NumPy adds a row of fewer than 8 values from left to right; such rows are summed here as
    whole columns in that order. Wider rows go to ``numpy.sum`` itself.

    Parameters
    ----------
    a : numpy.ndarray (... x k)
        Real values.

    Returns
    -------
    numpy.ndarray (...)
        The sums over the last axis.
    """
    if a.shape[-1] >= 8 or a.shape[-1] == 0:
        return np.sum(a, axis=-1)
    out = a[..., 0].copy()
    for j in range(1, a.shape[-1]):
        out += a[..., j]
    return out


def _row_max(a):
    out = a[..., 0].copy()
    for j in range(1, a.shape[-1]):
        np.maximum(out, a[..., j], out=out)
    return out


def logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """Log of the sum of exponentials of each row, computed as ``scipy.special.logsumexp(a, axis=1)``.

    SciPy 1.17 takes the largest term ``m`` (all ties) out of the sum:
    ``log1p(sum(exp(a - m)) / ties) + log(ties) + m``; rows where that is not finite get
    ``log(sum(exp(a)))``.

    Parameters
    ----------
    a : numpy.ndarray (... x n x k)
        Real values.

    Returns
    -------
    numpy.ndarray (... x n)
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a_max = _row_max(a)[..., None]
        top = a == a_max
        s = row_sum(np.exp(np.where(top, -np.inf, a) - a_max))
        # every row holds its maximum, except a row of NaN, which holds none: as many tops as rows
        # and no NaN row mean one top per row, so dividing by 1 and adding log(1) = 0 change nothing
        if np.count_nonzero(top) == a_max.size and not np.isnan(a_max).any():
            out = np.log1p(s) + a_max[..., 0]
        else:
            m = row_sum(top.astype(a.dtype))
            s = np.where(s == 0, s, s / m)
            out = np.log1p(s) + np.log(m) + a_max[..., 0]
        finite = np.isfinite(out)
        if not finite.all():
            out = np.where(finite, out, np.log(row_sum(np.exp(a))))
    return out
