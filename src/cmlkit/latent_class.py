"""Latent class model of governance features (EM of :mod:`cmlkit.lca_em`), with a stated rule for random starts.

Nominal, ordinal and binary features are categorical indicators (0-indexed codes). Numeric features
with missing values are cut at their quartiles into ordered categories (the usual latent class
practice; poLCA takes categorical items only), which also avoids Gaussian classes with no observed
values of a feature that does not apply to them; complete numeric features enter one
full-covariance Gaussian, so that size measures that move together do not pose as classes. Missing
values are handled by full-information likelihood (stepmix's ``categorical_nan``). The model and
its EM are stepmix's ``StepMix(measurement="categorical_nan", structural="gaussian_full")``,
reimplemented in :mod:`cmlkit.lca_em` with the one-hot encoding done once per call (the fits agree
with stepmix to the last bit; ``tests/test_lca_em.py``).

The reported partition is the best of ``n_init`` random starts (all run: on the synthetic waves
the rule "stop once the best log-likelihood is replicated" missed the best optimum of ten starts on
a wave without structure, k = 2, and on a 220-library wave, k = 4). Bootstrap refits, where the
question is only whether the clusters come back, are warm started from the posterior of the
full-data model and checked by two random starts (``cluster_stability.refit_starts``); the highest
likelihood of the three is kept.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from cmlkit.errors import ClusterFitError
from cmlkit.governance_spec import FeatureRows
from cmlkit.lca_em import CLIP, EPS10, LOG_2PI, REG_COVAR, LCAData, LCAFit, fit, fit_many, n_parameters, prepare
from cmlkit.lca_em import _start
from cmlkit.row_reductions import logsumexp_rows


def lca_inputs(X, spec: dict, *, bins: int = 4) -> tuple[np.ndarray, np.ndarray | None]:
    """Indicator matrix and Gaussian block for :func:`latent_class`.

    Computed in NumPy from the columns read once (:class:`~cmlkit.governance_spec.FeatureRows`
    shares them between the subsets of a bootstrap), with the numbers pandas gives: standardisation
    by the mean and the standard deviation (ddof=1) of ``Series.mean``/``Series.std``, quartile
    codes of ``pandas.qcut`` on ``Series.rank(method="min")``, and nominal codes in the sorted order of
    ``pandas.Categorical`` (``tests/test_lca_em.py`` compares them with the pandas code).

    Parameters
    ----------
    X : pandas.DataFrame or FeatureRows
        Encoded governance features (``build_features``).
    spec : dict
        The governance specification.
    bins : int, default 4
        Quantile bins for numeric features with missing values.

    Returns
    -------
    (data, Y) : numpy arrays
        Categorical codes with NaN for missing (n x p), and the standardised complete numeric
        features (n x q, or None).
    """
    if isinstance(X, FeatureRows):
        columns, rows = X.columns(("lca", id(spec)), lambda frame: _lca_columns(frame, spec)), X.rows
    else:
        columns, rows = _lca_columns(X, spec), slice(None)
    cols, gauss = [], []
    for encoding, values in columns:
        v = values[rows]
        if encoding == "numeric":
            if not np.isnan(v).any():
                gauss.append(_standardised(v))
                continue
            codes = _quartile_codes(v, bins)
        elif encoding == "nominal":
            codes = np.searchsorted(np.unique(v[v >= 0]), v).astype(float)
            codes[v < 0] = np.nan
        else:
            codes = v
        cols.append(np.where(codes < 0, np.nan, codes))
    return np.column_stack(cols), (np.column_stack(gauss) if gauss else None)


def _lca_columns(X: pd.DataFrame, spec: dict) -> list[tuple[str, np.ndarray]]:
    """Each feature's values as floats (nominal: codes of the sorted categories, -1 for missing)."""
    out = []
    for name, f in spec["features"].items():
        if f["encoding"] == "nominal":
            cat = pd.Categorical(X[name])       # a categorical column keeps its categories, present or not
            kind = "codes" if isinstance(X[name].dtype, pd.CategoricalDtype) else "nominal"
            out.append((kind, cat.codes.astype(np.int64 if kind == "nominal" else float)))
        else:
            out.append((f["encoding"], X[name].to_numpy(dtype=float)))
    return out


def _standardised(v: np.ndarray) -> np.ndarray:
    """``(v - v.mean()) / (v.std() or 1.0)`` of a complete float Series (pandas' two-pass ddof=1 variance)."""
    n = np.float64(len(v))
    mean = v.sum() / n
    var = ((v.sum(dtype=np.float64) / n - v) ** 2).sum(dtype=np.float64) / (n - 1) if n > 1 else np.nan
    return (v - mean) / (np.sqrt(var) or 1.0)


def _quartile_codes(v: np.ndarray, bins: int) -> np.ndarray:
    """``pd.qcut(Series(v).rank(method="min"), q=bins, labels=False, duplicates="drop")`` as floats."""
    ok = ~np.isnan(v)
    if not ok.any():
        return pd.qcut(pd.Series(v).rank(method="min"), q=bins, labels=False, duplicates="drop").to_numpy(dtype=float)
    seen = v[ok]
    ranks = np.full(len(v), np.nan)
    ranks[ok] = np.searchsorted(np.sort(seen), seen, side="left") + 1.0
    edges = np.percentile(ranks[ok][None, :], np.linspace(0, 1, bins + 1) * 100.0, axis=1, method="linear")[:, 0]
    unique = pd.unique(edges)
    if len(unique) < len(edges) and len(edges) != 2:
        edges = unique
    ids = np.searchsorted(edges, ranks, side="left")
    ids[ranks == edges[0]] = 1
    codes = (ids - 1).astype(np.float64)
    codes[~ok | (ids == len(edges)) | (ids == 0)] = np.nan
    return codes


EM = {"max_iter": 1000, "abs_tol": 1e-6, "rel_tol": 1e-8}


def _fit_start(k, seed, d: LCAData, init_resp=None):
    """One EM run; None when the start degenerates (empty class, NaN likelihood, singular covariance)."""
    try:
        model = fit(d, k, seed=int(seed), init_resp=init_resp, **EM)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        return None
    return _scored(model)


def _scored(model):
    ll = float(model.score)
    return (ll, model) if np.isfinite(ll) else None


def _fit_starts(k, seeds, d: LCAData, init_resp, replicate, tol):
    """The runs of :func:`latent_class`: in lockstep (:func:`~cmlkit.lca_em.fit_many`) when the stopping rule
    cannot end them early, otherwise one after another."""
    first = int(init_resp is not None)
    if not replicate or len(seeds) - first <= replicate:
        starts = [(int(seed), init_resp if i < first else None) for i, seed in enumerate(seeds)]
        try:
            return [None if isinstance(m, Exception) else _scored(m) for m in fit_many(d, k, starts, **EM)]
        except ValueError:
            return [None] * len(starts)
        except (FloatingPointError, np.linalg.LinAlgError):
            pass      # floating-point errors raised (numpy.seterr): run the starts one by one
    runs = [_fit_start(k, seeds[0], d, init_resp=init_resp)] if first else []
    for seed in seeds[first:]:
        runs.append(_fit_start(k, seed, d))
        lls = np.array([r[0] for r in runs[first:] if r is not None])
        if replicate and lls.size >= replicate and (lls >= lls.max() - tol).sum() >= replicate:
            break
    return runs


def latent_class(X: pd.DataFrame, spec: dict, k: int, *, n_init: int = 10, random_state=0, bins: int = 4,
                 replicate: int = 0, tol: float = 1e-4, init_resp=None) -> tuple[np.ndarray, dict]:
    """Fit a latent class model with ``k`` classes and return the modal class of each library.

    Parameters
    ----------
    X : pandas.DataFrame
        Encoded governance features, rows in canonical order.
    spec : dict
        The governance specification.
    k : int
        Number of classes.
    n_init : int, default 10
        Most random starts.
    random_state : int or numpy.random.Generator, default 0
        Seeds the starts (the same seeds, in the same order, whatever ``replicate``).
    bins : int, default 4
        Quantile bins for numeric features with missing values.
    replicate : int, default 0
        Stop once this many random starts reach their best log-likelihood (0: run all ``n_init``;
        a warm start does not count).
    tol : float, default 1e-4
        Two log-likelihoods per library closer than this are the same optimum.
    init_resp : array (n x k), optional
        Class responsibilities for a warm start (e.g. the full-data posterior of these rows); it is
        run first and counts as one start.

    Returns
    -------
    (labels, criteria)
        ``criteria`` holds ``bic``, ``sabic``, ``icl_bic`` (BIC plus twice the classification
        entropy), ``aic``, ``aic3`` (AIC with 3 per parameter), ``loglik``, ``starts`` (run),
        ``best_reached`` (how many starts reached
        the best optimum) and ``posterior`` (n x k).

    Raises
    ------
    ClusterFitError
        When no start converges (too few distinct libraries for ``k`` classes).
    """
    d, seeds = _setup(X, spec, k, n_init=n_init, random_state=random_state, bins=bins)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = _fit_starts(k, seeds, d, init_resp, replicate, tol)
    return _result(runs, d, k, tol)


def _setup(X, spec, k, *, n_init, random_state, bins):
    """Prepared data and the seeds of the starts."""
    data, Y = lca_inputs(X, spec, bins=bins)
    rng = np.random.default_rng(seed_of(random_state))
    seeds = rng.integers(0, 2**31 - 1, max(int(n_init), 1))
    try:
        d = prepare(data, Y)
    except ValueError as err:
        raise ClusterFitError(f"latent class model with {k} classes: no random start converged") from err
    return d, seeds


def _result(runs, d, k, tol):
    """Labels and criteria of the best run (the first of equals)."""
    good = [r for r in runs if r is not None]
    if not good:
        raise ClusterFitError(f"latent class model with {k} classes: no random start converged")
    ll, model = max(good, key=lambda r: r[0])     # first of equals: deterministic
    lls = np.array([r[0] for r in good])
    post = model.posterior
    bic = float(model.bic())
    entropy = float(-(np.clip(post, 1e-15, 1) * np.log(np.clip(post, 1e-15, 1))).sum())
    labels = post.argmax(axis=1).astype(int)
    aic = float(model.aic())
    return labels, {"bic": bic, "sabic": float(model.sabic()), "icl_bic": bic + 2.0 * entropy,
                    "aic": aic, "aic3": aic + float(model.n_parameters), "loglik": ll * d.onehot.shape[0],
                    "starts": len(runs), "best_reached": int((lls >= ll - tol).sum()), "posterior": post}


def latent_class_many(Xs: list, spec: dict, k: int, *, n_init: int, random_states: list, init_resps: list,
                      replicate: int = 0, bins: int = 4, tol: float = 1e-4) -> list:
    """:func:`latent_class` on several data sets (bootstrap resamples), their EM runs stacked where they can be.

    Parameters
    ----------
    Xs : list of pandas.DataFrame or FeatureRows
        The data sets.
    spec : dict
        The governance specification.
    k : int
        Number of classes.
    n_init : int
        Most random starts on each.
    random_states : list
        Seed of each data set's starts.
    init_resps : list
        Warm start of each (or None).
    replicate, bins, tol
        As for :func:`latent_class`.

    Returns
    -------
    list
        For each data set, ``latent_class``'s ``(labels, criteria)`` or the ClusterFitError it raises.
    """
    out, jobs = [None] * len(Xs), []
    for i, (X, seed, warm) in enumerate(zip(Xs, random_states, init_resps)):
        try:
            d, seeds = _setup(X, spec, k, n_init=n_init, random_state=seed, bins=bins)
        except ClusterFitError as err:
            out[i] = err
            continue
        first = int(warm is not None)
        if (replicate and len(seeds) - first > replicate) or (d.Y is not None and d.Y.shape[1] > 1) \
                or d.onehot.shape[0] < k:
            out[i] = _guarded(latent_class, X, spec, k, n_init=n_init, random_state=seed, bins=bins,
                              replicate=replicate, tol=tol, init_resp=warm)
            continue
        jobs.append((i, d, [(int(s), warm if j < first else None) for j, s in enumerate(seeds)]))
    for gaussian in (False, True):
        group = [job for job in jobs if (job[1].Y is not None) == gaussian]
        if not group:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits = fit_ragged([job[1] for job in group], k, [job[2] for job in group], **EM)
        except (FloatingPointError, np.linalg.LinAlgError):     # errors raised (numpy.seterr): one by one
            for i, _, _ in group:
                out[i] = _guarded(latent_class, Xs[i], spec, k, n_init=n_init, random_state=random_states[i],
                                  bins=bins, replicate=replicate, tol=tol, init_resp=init_resps[i])
            continue
        for (i, d, _), row in zip(group, fits):
            out[i] = _guarded(_result, [None if isinstance(m, Exception) else _scored(m) for m in row], d, k, tol)
    return out


def _guarded(f, *args, **kwargs):
    """``f(...)``, or the ClusterFitError it raises."""
    try:
        return f(*args, **kwargs)
    except ClusterFitError as err:
        return err


def seed_of(random_state) -> int:
    """An integer seed from an int or a ``numpy.random.Generator``.

    Parameters
    ----------
    random_state : int or numpy.random.Generator
        A seed, or a generator to draw one from.

    Returns
    -------
    int
    """
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    return int(random_state)


class _Ragged:
    """EM runs on different data sets, their rows stacked one run after another (:func:`fit_ragged`).

    Elementwise and row-wise work is one NumPy call for all runs; what mixes a run's rows (the
    one-hot products, the Gaussian moments, the sums down the rows) is the same call as in
    :func:`cmlkit.lca_em.fit` on that run's slice, laid out as there. One Gaussian feature at most.
    """

    def __init__(self, ds: list, k: int):
        self.ds, self.k = ds, k
        n = np.array([d.onehot.shape[0] for d in ds])
        self.off = np.concatenate([[0], np.cumsum(n)])
        widths = np.array([d.onehot.shape[1] for d in ds])
        self.koff = np.concatenate([[0], np.cumsum(widths)])
        self.n = n.astype(float)
        self.row_run = np.repeat(np.arange(len(ds)), n)
        top = max(d.masks.shape[1] for d in ds)
        masks = np.zeros((self.off[-1], top))
        for r, d in enumerate(ds):      # patterns first, then zeros, then the all-rows column last
            masks[self.off[r]:self.off[r + 1], :d.masks.shape[1] - 1] = d.masks[:, :-1]
        masks[:, -1] = 1.0
        self.columns, self.masks, self.top = np.tile(np.arange(k), top), np.repeat(masks, k, axis=1), top
        self.divide = np.concatenate([r * top + d.pattern[np.arange(d.onehot.shape[1]) // d.max_n_outcomes]
                                      for r, d in enumerate(ds)])
        self.Y = None if ds[0].Y is None else np.concatenate([d.Y[:, 0] for d in ds])

    def rows(self, r):
        return slice(self.off[r], self.off[r + 1])

    def e_step(self, weights, pis, gauss):
        """Average log-likelihood of each run and the log responsibilities (rows stacked)."""
        L = np.log(np.minimum(np.maximum(pis, CLIP), 1 - CLIP))
        log_resp = np.empty((self.off[-1], self.k))
        for r, d in enumerate(self.ds):
            np.matmul(d.onehot, L[self.koff[r]:self.koff[r + 1]], out=log_resp[self.rows(r)])
        log_resp += np.log(weights)[self.row_run]
        if gauss is not None:
            pc = gauss[2][:, :, 0, 0]
            y = self.Y[:, np.newaxis] * pc[self.row_run] - (gauss[0][:, :, 0] * pc)[self.row_run]
            log_resp += -0.5 * (LOG_2PI + np.square(y)) + np.log(pc)[self.row_run]
        ll = logsumexp_rows(log_resp)
        with np.errstate(under="ignore"):
            log_resp -= ll[:, np.newaxis]
        return np.array([ll[self.rows(r)].sum() for r in range(len(self.ds))]) / self.n, log_resp

    def m_step(self, resp):
        """Pattern sums, class weights, category probabilities and Gaussian block of each run."""
        spread = resp.take(self.columns, axis=1) * self.masks
        sums = np.stack([spread[self.rows(r)].sum(axis=0) for r in range(len(self.ds))]).reshape((-1, self.top, self.k))
        weights = np.minimum(np.maximum(sums[:, -1, :] / self.n[:, np.newaxis], CLIP), 1 - CLIP)
        pis = np.empty((self.koff[-1], self.k))
        for r, d in enumerate(self.ds):
            np.matmul(d.onehot.T, resp[self.rows(r)], out=pis[self.koff[r]:self.koff[r + 1]])
        pis /= sums.reshape((-1, self.k))[self.divide]
        if self.Y is None:
            return weights, pis, None, np.zeros(len(self.ds), dtype=bool)
        nk = sums[:, -1, :] + EPS10
        means = np.empty((len(self.ds), self.k, 1))
        for r, d in enumerate(self.ds):
            np.matmul(resp[self.rows(r)].T, d.Y, out=means[r])
        means /= nk[:, :, np.newaxis]
        diff = np.subtract(self.Y[np.newaxis, :], means[:, :, 0][self.row_run].T, order="C")[:, :, np.newaxis]
        weighted = resp.T[:, :, np.newaxis] * diff
        cov = np.empty((len(self.ds), self.k, 1, 1))
        for r in range(len(self.ds)):
            np.matmul(weighted[:, self.rows(r)].transpose(0, 2, 1), diff[:, self.rows(r)], out=cov[r])
        cov /= nk[:, :, np.newaxis, np.newaxis]
        cov[..., 0, 0] += REG_COVAR
        bad = ~((cov > 0) & (cov < np.inf)).all(axis=(1, 2, 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            return weights, pis, [means, cov, 1.0 / np.sqrt(cov)], bad

    def pis_of(self, pis, r):
        return pis[self.koff[r]:self.koff[r + 1]]


def fit_ragged(ds: list, k: int, starts: list, *, max_iter: int = 1000, abs_tol: float = 1e-6,
               rel_tol: float = 1e-8) -> list:
    """EM runs on several data sets at once: for each start what :func:`cmlkit.lca_em.fit` gives (or raises).

    Parameters
    ----------
    ds : list of LCAData
        Prepared data sets, each with at most one Gaussian feature (all with one, or all without).
    k : int
        Number of classes.
    starts : list of lists of (seed, init_resp)
        The starts on each data set.
    max_iter, abs_tol, rel_tol
        As for :func:`cmlkit.lca_em.fit`.

    Returns
    -------
    list of lists
        An :class:`~cmlkit.lca_em.LCAFit` or a ValueError for each start, bit for bit as ``fit``.
    """
    out, runs = [[None] * len(s) for s in starts], []
    for g, (d, st) in enumerate(zip(ds, starts)):
        for j, (seed, init) in enumerate(st):
            try:
                runs.append((g, j, d, *_start(d, k, seed, init)))
            except ValueError as err:
                out[g][j] = err
    if not runs:
        return out
    pack = _Ragged([r[2] for r in runs], k)
    _, pis, gauss, bad = pack.m_step(np.concatenate([r[4] for r in runs]))
    weights = np.stack([r[3] for r in runs])
    final = {r: None for r in np.flatnonzero(bad).tolist()}
    active = np.flatnonzero(~bad)
    state = _take(pack, weights, pis, gauss, active) if bad.any() else (pack, weights, pis, gauss)
    lower, it = np.full(active.size, -np.inf), 0
    live = np.ones(active.size, dtype=bool)       # runs of the stack still iterating (the others are recorded)
    for it in range(1, max_iter + 1):
        if not live.any():
            break
        pack, weights, pis, gauss = state
        lb, log_resp = pack.e_step(weights, pis, gauss)
        weights, pis, gauss, failed = pack.m_step(np.exp(log_resp))
        change = lb - lower
        lower = lb
        with np.errstate(invalid="ignore", divide="ignore"):
            leave = live & ((np.abs(change) < abs_tol) | (np.abs(change / lb) < rel_tol) | failed)
        state = (pack, weights, pis, gauss)
        if leave.any():
            for j in np.flatnonzero(leave).tolist():
                final[int(active[j])] = None if failed[j] else (*_one(pack, weights, pis, gauss, j), it, True)
            live &= ~leave
            if live.sum() < 0.75 * live.size:      # restack once a quarter of the runs has left
                keep = np.flatnonzero(live)
                active, lower, live = active[keep], lower[keep], live[keep]
                state = _take(pack, weights, pis, gauss, keep)
    pack, weights, pis, gauss = state
    for j in np.flatnonzero(live).tolist():          # still running after max_iter iterations
        final[int(active[j])] = (*_one(pack, weights, pis, gauss, j), it, False)
    return _ragged_fits(runs, k, out, final)


def _one(pack, weights, pis, gauss, j):
    return weights[j], pack.pis_of(pis, j).copy(), None if gauss is None else [a[j] for a in gauss]


def _take(pack, weights, pis, gauss, keep):
    """The runs ``keep`` of a stack, restacked."""
    if not len(keep):
        return None, None, None, None
    sub = _Ragged([pack.ds[j] for j in keep], pack.k)
    pis = np.concatenate([pack.pis_of(pis, j) for j in keep])
    return sub, weights[keep], pis, None if gauss is None else [a[keep] for a in gauss]


def _ragged_fits(runs, k, out, final):
    """The closing E-step of :func:`fit_ragged` and its results."""
    ok = [r for r in sorted(final) if final[r] is not None]
    if ok:
        pack = _Ragged([runs[r][2] for r in ok], k)
        gauss = None if final[ok[0]][2] is None else [np.stack([final[r][2][i] for r in ok]) for i in range(3)]
        score, log_resp = pack.e_step(np.stack([final[r][0] for r in ok]),
                                      np.concatenate([final[r][1] for r in ok]), gauss)
        posterior = np.exp(log_resp)
    for j, r in enumerate(ok):
        g, slot, d = runs[r][:3]
        w, pis, gs, n_iter, converged = final[r]
        out[g][slot] = LCAFit(weights=w, pis=pis, means=gs[0] if gs else None, covariances=gs[1] if gs else None,
                              precisions_cholesky=gs[2] if gs else None, score=score[j],
                              posterior=posterior[pack.rows(j)], n_parameters=n_parameters(d, k),
                              n_samples=d.onehot.shape[0], n_iter=n_iter, converged=converged)
    for r, f in final.items():
        if f is None:
            out[runs[r][0]][runs[r][1]] = ValueError("ill-defined empirical covariance")
    return out
