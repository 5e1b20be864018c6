"""EM for a latent class model: categorical indicators with missing values and one full-covariance Gaussian block.

The model and the algorithm are those of ``stepmix.StepMix(measurement="categorical_nan",
structural="gaussian_full", n_steps=1, n_init=1, init_params="random")`` (stepmix 3.0, MIT licence;
the Gaussian block is scikit-learn's ``GaussianMixture`` code with ``covariance_type="full"``, BSD
licence), written once with the work that does not change between iterations done once per data set:

* the one-hot encoding of the indicators (NaN = missing) is built once (:func:`prepare`), not in
  every E- and M-step, and the input checks run once;
* the denominators of the categorical M-step are summed once per pattern of missing values, not
  once per one-hot column (all patterns in one masked reduction, :func:`column_sums`);
* several starts on the same data can run in lockstep (:func:`fit_many`), stacked on a leading
  axis, so that each NumPy call serves all of them.

Every floating-point operation that reaches a result is the one stepmix and scikit-learn perform, in
the same order, so that fits agree with stepmix to the last bit (``tests/test_lca_em.py`` compares
them). Where the code differs it computes the same numbers faster: scikit-learn's loops over classes
are stacked ``matmul`` calls (NumPy makes the same BLAS call on each class's slice, laid out as
before), sums over rows of fewer than 8 values are added column by column in the left-to-right order
NumPy uses (:func:`cmlkit.row_reductions.row_sum`), and SciPy's and scikit-learn's per-call checks are done once. The model:

* start: responsibilities drawn by ``numpy.random.RandomState(seed).uniform(size=(n, k))`` and
  normalised by row, clipped to [1e-15, 1 - 1e-15] and logged; class weights 1/k; both blocks are
  initialised by their M-step on the exponentiated responsibilities. A warm start replaces the draw
  by given responsibilities (clipped below at 1e-15, renormalised) and the weights by their mean;
* E-step: log P(x | class) of the indicators with probabilities clipped to [1e-15, 1 - 1e-15], plus the
  log class weights, plus the Gaussian log density; the row log-sum-exp (SciPy 1.17's
  ``logsumexp``: the largest term taken out of the sum) gives the log-likelihood of each library;
* M-step: class weights are the mean responsibilities clipped to [1e-15, 1 - 1e-15]; the probability
  of each category is its responsibility-weighted count over the libraries that answered the item
  (full-information likelihood, no clipping); Gaussian means and covariances are weighted moments
  with 10 machine epsilons added to the class sizes and ``reg_covar`` = 1e-6 added to the diagonals;
* stop after the first iteration whose change in the average log-likelihood is below ``abs_tol`` or
  whose relative change is below ``rel_tol`` (or after ``max_iter`` iterations). The reported
  parameters are those after that iteration's M-step, and the log-likelihood, posterior and
  information criteria come from one more E-step with them, as ``StepMix.score`` computes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dpotrf, dtrtrs

from cmlkit.row_reductions import logsumexp_rows, row_sum

CLIP = 1e-15
REG_COVAR = 1e-6
EPS10 = 10 * np.finfo(np.float64).eps
LOG_2PI = math.log(2 * math.pi)


@dataclass
class LCAData:
    """Indicators and Gaussian block prepared once for any number of EM runs (see :func:`prepare`)."""

    onehot: np.ndarray            # n x (p * max_n_outcomes), NaN replaced by 0
    masks: np.ndarray             # n x (patterns + 1): 1.0 where a row is observed in each distinct pattern, then all ones
    pattern: np.ndarray           # for each indicator, its pattern (a column of ``masks``)
    max_n_outcomes: int
    total_outcomes: int
    Y: np.ndarray | None          # n x q, or None


@dataclass
class LCAFit:
    """A fitted latent class model and its fit statistics on the data it was fitted to."""

    weights: np.ndarray           # k class weights
    pis: np.ndarray               # (p * max_n_outcomes) x k category probabilities
    means: np.ndarray | None      # k x q
    covariances: np.ndarray | None
    precisions_cholesky: np.ndarray | None
    score: float                  # average log-likelihood per library
    posterior: np.ndarray         # n x k
    n_parameters: int
    n_samples: int
    n_iter: int
    converged: bool

    def bic(self) -> float:
        """Bayesian information criterion, as ``StepMix.bic``.

        Returns
        -------
        float
            ``-2 * score * n + n_parameters * log(n)``; lower is better.
        """
        return -2 * self.score * self.n_samples + self.n_parameters * np.log(self.n_samples)

    def aic(self) -> float:
        """Akaike information criterion, as ``StepMix.aic``.

        Returns
        -------
        float
            ``-2 * score * n + 2 * n_parameters``; lower is better.
        """
        return -2 * self.score * self.n_samples + 2 * self.n_parameters

    def sabic(self) -> float:
        """Sample-size adjusted BIC (Sclove 1987), as ``StepMix.sabic``.

        Returns
        -------
        float
            ``-2 * score * n + n_parameters * log(n * (n + 2) / 24)``; lower is better.
        """
        n = self.n_samples
        return -2 * self.score * n + self.n_parameters * np.log(n * ((n + 2) / 24))


def prepare(data, Y=None) -> LCAData:
    """One-hot encode the indicators and check the inputs, once for all EM runs on them.

    Parameters
    ----------
    data : array-like (n x p)
        Zero-indexed integer category codes as floats, NaN for missing.
    Y : array-like (n x q), optional
        Complete numeric features for the full-covariance Gaussian block; None for none.

    Returns
    -------
    LCAData
        The encoding (``max_n_outcomes`` columns per indicator, as stepmix's ``max_one_hot``), the
        distinct patterns of observed rows, and the Gaussian block as a float array.

    Raises
    ------
    ValueError
        When ``data`` is not two-dimensional or empty, holds infinite values or an indicator with no
        observed value, or ``Y`` holds missing or infinite values or has another number of rows
        (the inputs stepmix refuses).
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 1 or data.shape[1] < 1:
        raise ValueError(f"indicators must be a non-empty 2-d array, got shape {data.shape}")
    if np.isinf(data).any():
        raise ValueError("indicators hold infinite values")
    n, p = data.shape
    if Y is not None:
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim == 1:
            Y = Y.reshape((-1, 1))
        if Y.shape[0] != n or Y.shape[1] < 1 or not np.isfinite(Y).all():
            raise ValueError("the Gaussian block must be finite with one row per library")
    observed = ~np.isnan(data)
    if not observed.any(axis=0).all():
        raise ValueError("an indicator has no observed value")
    outcomes = np.nanmax(data, axis=0) + 1
    total = int(np.sum(outcomes))
    width = int(np.nanmax(outcomes))
    onehot = np.zeros((n, p * width))
    codes = np.nan_to_num(data, nan=0).astype(int)
    onehot[np.arange(n)[:, None], codes + np.arange(p) * width] = 1.0
    onehot.reshape((n, p, width))[~observed] = 0.0          # a missing answer: no category (stepmix: NaN, then 0)
    patterns, pattern = np.unique(observed, axis=1, return_inverse=True)
    masks = np.column_stack([patterns, np.ones(n, dtype=bool)]).astype(np.float64)
    return LCAData(onehot=onehot, masks=masks, pattern=np.asarray(pattern).reshape(-1),
                   max_n_outcomes=width, total_outcomes=total, Y=Y)


def column_sums(d: LCAData, resp: np.ndarray, spread=None) -> np.ndarray:
    """Sums of the responsibilities over the rows observed in each pattern, then over all rows.

    ``resp.take(rows, axis=0).sum(axis=0)`` for each pattern and ``resp.sum(axis=0)``, bit for bit,
    in one reduction: NumPy sums a C-ordered array down its first axis row after row, and the rows
    outside a pattern add exact zeros.

    Parameters
    ----------
    d : LCAData
        Prepared data.
    resp : numpy.ndarray (... x n x k)
        Responsibilities, C-ordered (a leading axis: several runs).
    spread : tuple, optional
        ``column_spread(d, k)``, when already made.

    Returns
    -------
    numpy.ndarray (... x (patterns + 1) x k)
    """
    columns, masks = spread or column_spread(d, resp.shape[-1])
    return (resp.take(columns, axis=-1) * masks).sum(axis=-2).reshape((*resp.shape[:-2], d.masks.shape[1], resp.shape[-1]))


def column_spread(d: LCAData, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The columns of a responsibility matrix repeated once per pattern, and the masks repeated to match.

    Parameters
    ----------
    d : LCAData
        Prepared data.
    k : int
        Number of classes.

    Returns
    -------
    (columns, masks) : arrays of (patterns + 1) * k column positions and n x ((patterns + 1) * k) masks
    """
    return np.tile(np.arange(k), d.masks.shape[1]), np.repeat(d.masks, k, axis=1)


def _categorical_m_step(d: LCAData, resp, sums):
    pis = np.matmul(d.onehot.T, resp)
    # stepmix divides each one-hot column by resp[observed].sum(axis=0): the same sums, once per pattern
    pis.reshape((*pis.shape[:-2], -1, d.max_n_outcomes, pis.shape[-1]))[:] /= sums[..., d.pattern, :][..., None, :]
    return pis


def _cholesky_lower(a, k):
    """``scipy.linalg.cholesky(a, lower=True)`` of a finite ``a``, without its per-call checks (same ``dpotrf``)."""
    c, info = dpotrf(a, lower=True, overwrite_a=False, clean=True)
    if info != 0:
        raise ValueError(f"class {k}: ill-defined empirical covariance (potrf info {info})")
    return c


def _gaussian_m_step(Y, resp, total):
    """Means, covariances and precision Cholesky factors (scikit-learn's full-covariance M-step).

    The class loop of scikit-learn's ``_estimate_gaussian_covariances_full`` is one stacked
    ``matmul`` here: the same BLAS call on each class's slice, with the same memory layout.
    ``total`` is ``np.sum(resp, axis=0)``. With one feature the Cholesky factor of a variance is its
    square root and the precision factor its reciprocal (what ``dpotrf`` and ``dtrtrs`` compute).
    Raises ValueError for an ill-defined covariance; see :func:`_gaussian_m_steps` for several runs.
    """
    means, covariances, precisions_chol, bad = _gaussian_m_steps(Y, resp, total)
    if bad.any():
        raise ValueError("ill-defined empirical covariance (not finite or not positive definite)")
    return means, covariances, precisions_chol


def _gaussian_m_steps(Y, resp, total):
    """:func:`_gaussian_m_step` of responsibilities with leading run axes; ``bad`` marks the runs it refuses."""
    n_features = Y.shape[1]
    nk = total + EPS10
    resp_t = np.swapaxes(resp, -1, -2)
    means = np.matmul(resp_t, Y) / nk[..., np.newaxis]
    diff = Y[np.newaxis, :, :] - means[..., np.newaxis, :]
    weighted = resp_t[..., np.newaxis] * diff                   # class k: resp[:, k] * diff.T, transposed
    covariances = np.matmul(np.swapaxes(weighted, -1, -2), diff) / nk[..., np.newaxis, np.newaxis]
    diag = np.arange(n_features)
    covariances[..., diag, diag] += REG_COVAR
    if n_features == 1:      # finite and positive
        bad = ~((covariances > 0) & (covariances < np.inf)).all(axis=(-3, -2, -1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return means, covariances, 1.0 / np.sqrt(covariances), bad
    bad = ~np.isfinite(covariances).all(axis=(-3, -2, -1))
    precisions_chol = np.full(covariances.shape, np.nan)
    eye = np.eye(n_features, dtype=Y.dtype)
    for run in np.ndindex(bad.shape):
        try:
            for k in range(covariances.shape[-3]) if not bad[run] else ():
                cov_chol = _cholesky_lower(covariances[run][k, :, :], k)
                x, info = dtrtrs(cov_chol, eye, overwrite_b=False, lower=True, trans=0, unitdiag=0)
                if info != 0:
                    raise ValueError(f"class {k}: ill-defined empirical covariance (trtrs info {info})")
                precisions_chol[run][k, :, :] = x.T
        except ValueError:
            bad[run] = True
    return means, covariances, precisions_chol, bad


def _gaussian_log_prob(Y, means, precisions_chol):
    """Log densities (... x n x k), as scikit-learn's ``_estimate_log_gaussian_prob`` with the class loop stacked."""
    n_features = means.shape[-1]
    if n_features == 1:      # products of two numbers: the same as the matmul calls below
        pc = precisions_chol[..., 0, 0]
        y = Y[:, 0] * pc[..., np.newaxis] - (means[..., 0] * pc)[..., np.newaxis]
        return -0.5 * (LOG_2PI + np.swapaxes(np.square(y), -1, -2)) + np.log(pc)[..., np.newaxis, :]
    diagonal = precisions_chol.reshape((*precisions_chol.shape[:-2], -1))[..., :: n_features + 1]
    log_det = np.sum(np.log(diagonal), axis=-1)
    y = np.matmul(Y, precisions_chol) - np.matmul(means[..., np.newaxis, :], precisions_chol)
    log_prob = np.swapaxes(row_sum(np.square(y)), -1, -2)
    return -0.5 * (n_features * math.log(2 * math.pi) + log_prob) + log_det[..., np.newaxis, :]


def _e_step(d: LCAData, weights, pis, gauss):
    log_resp = np.matmul(d.onehot, np.log(np.minimum(np.maximum(pis, CLIP), 1 - CLIP)))   # np.clip, without its wrapper
    log_resp += np.log(weights)[..., np.newaxis, :]
    if gauss is not None:
        log_resp += _gaussian_log_prob(d.Y, gauss[0], gauss[2])
    ll = logsumexp_rows(log_resp)
    with np.errstate(under="ignore"):
        log_resp -= ll[..., np.newaxis]
    return ll.sum(axis=-1) / ll.shape[-1], log_resp


def _start(d: LCAData, k: int, seed, init_resp):
    n = d.onehot.shape[0]
    if init_resp is None:
        resp = np.random.RandomState(seed).uniform(size=(n, k))
        resp /= resp.sum(axis=1)[:, np.newaxis]
        weights = np.ones((k,)) / k
    else:
        resp = np.clip(np.asarray(init_resp, dtype=float), CLIP, None)
        if resp.shape != (n, k):
            raise ValueError(f"init_resp has shape {resp.shape}, expected {(n, k)}")
        resp /= resp.sum(axis=1, keepdims=True)
        weights = resp.mean(axis=0)
    return weights, np.exp(np.log(np.clip(resp, CLIP, 1 - CLIP)))


def fit(d: LCAData, k: int, *, seed=None, init_resp=None, max_iter: int = 1000, abs_tol: float = 1e-6,
        rel_tol: float = 1e-8) -> LCAFit:
    """One EM run of the latent class model from a random or a given start.

    Parameters
    ----------
    d : LCAData
        Prepared data (:func:`prepare`).
    k : int
        Number of classes.
    seed : int, optional
        Seed of ``numpy.random.RandomState`` for the random starting responsibilities (stepmix's
        ``random_state``); ignored with ``init_resp``. None draws fresh entropy.
    init_resp : array (n x k), optional
        Starting responsibilities (a warm start) instead of the random draw.
    max_iter : int, default 1000
        Most EM iterations.
    abs_tol : float, default 1e-6
        Stop when the average log-likelihood per library changes by less than this.
    rel_tol : float, default 1e-8
        Stop when it changes by less than this fraction of itself.

    Returns
    -------
    LCAFit
        Parameters after the last M-step, ``score`` (average log-likelihood per library),
        ``posterior`` (n x k class probabilities), ``n_parameters`` (free parameters, counted as
        stepmix counts them), ``n_iter`` and ``converged``.

    Raises
    ------
    ValueError
        When there are fewer libraries than classes, ``init_resp`` has the wrong shape, or a
        Gaussian class covariance is not finite or not positive definite (a collapsed class, a
        start without mass).
    """
    n = d.onehot.shape[0]
    if n < k:
        raise ValueError(f"Expected n_samples >= n_components but got n_components = {k}, n_samples = {n}")
    weights, resp = _start(d, k, seed, init_resp)
    spread = column_spread(d, k)
    sums = column_sums(d, resp, spread)
    pis = _categorical_m_step(d, resp, sums)
    gauss = _gaussian_m_step(d.Y, resp, sums[-1]) if d.Y is not None else None
    lower_bound, converged = -np.inf, False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        prev_lower_bound = lower_bound
        lower_bound, log_resp = _e_step(d, weights, pis, gauss)
        resp = np.exp(log_resp)
        sums = column_sums(d, resp, spread)
        weights = np.minimum(np.maximum(sums[-1] / n, CLIP), 1 - CLIP)
        pis = _categorical_m_step(d, resp, sums)
        if d.Y is not None:
            gauss = _gaussian_m_step(d.Y, resp, sums[-1])
        change = lower_bound - prev_lower_bound
        rel_change = change / lower_bound
        if abs(change) < abs_tol or abs(rel_change) < rel_tol:
            converged = True
            break
    score, log_resp = _e_step(d, weights, pis, gauss)
    n_par = n_parameters(d, k)
    return LCAFit(weights=weights, pis=pis, means=gauss[0] if gauss else None,
                  covariances=gauss[1] if gauss else None, precisions_cholesky=gauss[2] if gauss else None,
                  score=score, posterior=np.exp(log_resp), n_parameters=n_par, n_samples=n, n_iter=n_iter,
                  converged=converged)


def fit_many(d: LCAData, k: int, starts, *, max_iter: int = 1000, abs_tol: float = 1e-6,
             rel_tol: float = 1e-8) -> list:
    """Several EM runs in lockstep: for each start, what :func:`fit` returns or the ValueError it raises.

    The runs are stacked on a leading axis, so each NumPy call serves all of them; a run leaves the
    stack at the iteration where :func:`fit` would stop it. Every operation is elementwise, a sum
    down the rows, or the same BLAS call on each run's slice, so each result is bit for bit that of
    :func:`fit` with the same start.

    Parameters
    ----------
    d : LCAData
        Prepared data (:func:`prepare`).
    k : int
        Number of classes.
    starts : list of (seed, init_resp)
        As the ``seed`` and ``init_resp`` arguments of :func:`fit`.
    max_iter, abs_tol, rel_tol
        As for :func:`fit`.

    Returns
    -------
    list
        An :class:`LCAFit` or a ValueError for each start, in order.

    Raises
    ------
    ValueError
        When there are fewer libraries than classes.
    """
    n = d.onehot.shape[0]
    if n < k:
        raise ValueError(f"Expected n_samples >= n_components but got n_components = {k}, n_samples = {n}")
    out, begun = [None] * len(starts), []
    for i, (seed, init_resp) in enumerate(starts):
        try:
            begun.append((i, *_start(d, k, seed, init_resp)))
        except ValueError as err:
            out[i] = err
    if not begun:
        return out
    ids = [b[0] for b in begun]
    weights, resp = np.stack([b[1] for b in begun]), np.stack([b[2] for b in begun])
    spread = column_spread(d, k)
    sums = column_sums(d, resp, spread)
    pis = _categorical_m_step(d, resp, sums)
    gauss, bad = None, np.zeros(len(ids), dtype=bool)
    if d.Y is not None:
        *gauss, bad = _gaussian_m_steps(d.Y, resp, sums[..., -1, :])
    final = {int(r): None for r in np.flatnonzero(bad)}     # run -> (weights, pis, gauss, n_iter, converged)
    active = np.flatnonzero(~bad)
    weights, pis, lower = weights[active], pis[active], np.full(active.size, -np.inf)
    gauss = None if gauss is None else [a[active] for a in gauss]
    it = 0
    for it in range(1, max_iter + 1):
        if not active.size:
            break
        lb, log_resp = _e_step(d, weights, pis, gauss)
        resp = np.exp(log_resp)
        sums = column_sums(d, resp, spread)
        weights = np.minimum(np.maximum(sums[..., -1, :] / n, CLIP), 1 - CLIP)
        pis = _categorical_m_step(d, resp, sums)
        failed = np.zeros(active.size, dtype=bool)
        if gauss is not None:
            *gauss, failed = _gaussian_m_steps(d.Y, resp, sums[..., -1, :])
        change = lb - lower
        rel_change = change / lb
        lower = lb
        done = (np.abs(change) < abs_tol) | (np.abs(rel_change) < rel_tol)
        leave = done | failed
        if leave.any():
            for j in np.flatnonzero(leave):
                final[int(active[j])] = None if failed[j] else (weights[j], pis[j], gauss and [a[j] for a in gauss], it, True)
            keep = ~leave
            active, weights, pis, lower = active[keep], weights[keep], pis[keep], lower[keep]
            gauss = None if gauss is None else [a[keep] for a in gauss]
    for j, r in enumerate(active):          # still running after max_iter iterations
        final[int(r)] = (weights[j], pis[j], gauss and [a[j] for a in gauss], it, False)
    return _many_fits(d, k, out, ids, final)


def _many_fits(d, k, out, ids, final):
    """The closing E-step of :func:`fit_many` and its results."""
    ok = [r for r in sorted(final) if final[r] is not None]
    if ok:
        gauss = None if d.Y is None else [np.stack([final[r][2][i] for r in ok]) for i in range(3)]
        score, log_resp = _e_step(d, np.stack([final[r][0] for r in ok]), np.stack([final[r][1] for r in ok]), gauss)
        posterior = np.exp(log_resp)
    n_par = n_parameters(d, k)
    for j, r in enumerate(ok):
        w, pis, g, n_iter, converged = final[r]
        out[ids[r]] = LCAFit(weights=w, pis=pis, means=g[0] if g else None, covariances=g[1] if g else None,
                             precisions_cholesky=g[2] if g else None, score=score[j], posterior=posterior[j],
                             n_parameters=n_par, n_samples=d.onehot.shape[0], n_iter=n_iter, converged=converged)
    for r, f in final.items():
        if f is None:
            out[ids[r]] = ValueError("ill-defined empirical covariance (not finite or not positive definite)")
    return out


def n_parameters(d: LCAData, k: int) -> int:
    """Free parameters of a model with ``k`` classes, counted as stepmix counts them.

    Parameters
    ----------
    d : LCAData
        Prepared data.
    k : int
        Number of classes.

    Returns
    -------
    int
    """
    n_par = (k - 1) + k * (d.total_outcomes - len(d.pattern))
    if d.Y is not None:
        q = d.Y.shape[1]
        n_par += int(k * q * (q + 1) / 2.0 + q * k + k - 1) - (k - 1)
    return n_par
