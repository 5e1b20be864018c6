"""Quantiles and tail probabilities of the t, normal, beta and F distributions, on :mod:`scipy.special`.

:mod:`scipy.stats` computes these with the same :mod:`scipy.special` functions (``stdtrit``, ``ndtri``,
the boost beta quantile, ``stdtr``, ``fdtrc``) but takes about a second to import, which every pipeline kernel
that draws an interval paid. Each function here returns what its :mod:`scipy.stats` counterpart returns,
bit for bit (``tests/test_distributions.py`` compares them on grids with the edge cases): NaN where a
parameter is outside its space or the argument is NaN, the ends of the support at ``q = 0`` and
``q = 1``, a NumPy scalar for scalar arguments.

=====================  ==============================
here                   scipy.stats
=====================  ==============================
``t_ppf(q, df)``       ``stats.t.ppf(q, df)``
``norm_ppf(q)``        ``stats.norm.ppf(q)``
``beta_ppf(q, a, b)``  ``stats.beta.ppf(q, a, b)``
``t_sf(x, df)``        ``stats.t.sf(x, df)``
``f_sf(x, dfn, dfd)``  ``stats.f.sf(x, dfn, dfd)``
=====================  ==============================
"""

from __future__ import annotations

import numpy as np
from scipy import special

try:   # the beta quantile scipy.stats.beta.ppf calls (SciPy >= 1.15); ``special.betaincinv`` differs near q = 0
    from scipy.special._ufuncs import _beta_ppf
except ImportError:   # older SciPy: beta_ppf asks scipy.stats itself
    _beta_ppf = None


def _ppf(core, q, params, lower: float, upper: float):
    """``rv_continuous.ppf`` with loc 0 and scale 1: ``core(q, *params)`` where it is defined."""
    q = np.asarray(q)
    params = tuple(np.asarray(p) for p in params)
    valid = np.logical_and.reduce([p > 0 for p in params]) if params else np.True_
    inner = (0 < q) & (q < 1)
    shape = np.broadcast_shapes(q.shape, *(p.shape for p in params), np.shape(valid))
    out = np.full(shape, np.nan)
    valid, q = np.broadcast_to(valid, shape), np.broadcast_to(q, shape)
    out[valid & (q == 0)] = lower
    out[valid & (q == 1)] = upper
    good = valid & np.broadcast_to(inner, shape)
    if good.any():
        args = [np.broadcast_to(a, shape)[good] for a in (q, *params)]
        out[good] = core(*args) * 1.0 + 0.0   # scipy's ``* scale + loc``: the same zeros' signs
    return out[()] if out.ndim == 0 else out


def _sf(core, x, params, lower: float, upper: float):
    """``rv_continuous.sf`` with loc 0 and scale 1: ``core(x, *params)`` inside the open support."""
    x = np.asarray(x)
    x = np.asarray((x - 0) / 1, dtype=np.promote_types(x.dtype, np.float64))   # scipy's (x - loc) / scale
    params = tuple(np.asarray(p) for p in params)
    valid = np.logical_and.reduce([p > 0 for p in params]) if params else np.True_
    with np.errstate(invalid="ignore"):
        inside = (lower < x) & (x < upper)
    shape = np.broadcast_shapes(x.shape, *(p.shape for p in params), np.shape(valid))
    out = np.zeros(shape, x.dtype)
    valid, x = np.broadcast_to(valid, shape), np.broadcast_to(x, shape)
    out[~valid | np.isnan(x)] = np.nan
    out[valid & (x <= lower)] = 1.0
    good = valid & np.broadcast_to(inside, shape)
    if good.any():
        args = [np.broadcast_to(a, shape)[good] for a in (x, *params)]
        out[good] = core(*args)
    return out[()] if out.ndim == 0 else out


def t_ppf(q, df):
    """Quantile of Student's t with ``df`` degrees of freedom (``scipy.stats.t.ppf``).

    Parameters
    ----------
    q : float or array-like
        Lower-tail probabilities.
    df : float or array-like
        Degrees of freedom; NaN where not positive.

    Returns
    -------
    numpy.float64 or numpy.ndarray
    """
    return _ppf(lambda p, d: special.stdtrit(d, p), q, (df,), -np.inf, np.inf)


def norm_ppf(q):
    """Quantile of the standard normal (``scipy.stats.norm.ppf``).

    Parameters
    ----------
    q : float or array-like
        Lower-tail probabilities.

    Returns
    -------
    numpy.float64 or numpy.ndarray
    """
    return _ppf(special.ndtri, q, (), -np.inf, np.inf)


def beta_ppf(q, a, b):
    """Quantile of the beta distribution (``scipy.stats.beta.ppf``).

    Parameters
    ----------
    q : float or array-like
        Lower-tail probabilities.
    a, b : float or array-like
        Shape parameters; NaN where either is not positive.

    Returns
    -------
    numpy.float64 or numpy.ndarray
    """
    if _beta_ppf is None:
        from scipy import stats
        return stats.beta.ppf(q, a, b)
    return _ppf(_beta_ppf, q, (a, b), 0.0, 1.0)


def t_sf(x, df):
    """Upper-tail probability of Student's t (``scipy.stats.t.sf``).

    Parameters
    ----------
    x : float or array-like
        Values.
    df : float or array-like
        Degrees of freedom; NaN where not positive.

    Returns
    -------
    numpy.float64 or numpy.ndarray
    """
    return _sf(lambda v, d: special.stdtr(d, -v), x, (df,), -np.inf, np.inf)


def f_sf(x, dfn, dfd):
    """Upper-tail probability of the F distribution (``scipy.stats.f.sf``).

    Parameters
    ----------
    x : float or array-like
        Values.
    dfn, dfd : float or array-like
        Numerator and denominator degrees of freedom; NaN where either is not positive.

    Returns
    -------
    numpy.float64 or numpy.ndarray
    """
    return _sf(lambda v, m, n: special.fdtrc(m, n, v), x, (dfn, dfd), 0.0, np.inf)


def chi2_sf(x, df):
    """Upper-tail probability of the chi-square distribution (``scipy.stats.chi2.sf``).

    Parameters
    ----------
    x : float or array-like
        Values.
    df : float or array-like
        Degrees of freedom; NaN where not positive.

    Returns
    -------
    numpy.float64 or numpy.ndarray
    """
    return _sf(lambda v, k: special.chdtrc(k, v), x, (df,), 0.0, np.inf)
