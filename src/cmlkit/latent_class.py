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
from cmlkit.lca_em import LCAData, fit, fit_many, prepare


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
    data, Y = lca_inputs(X, spec, bins=bins)
    rng = np.random.default_rng(seed_of(random_state))
    seeds = rng.integers(0, 2**31 - 1, max(int(n_init), 1))
    try:
        d = prepare(data, Y)
    except ValueError as err:
        raise ClusterFitError(f"latent class model with {k} classes: no random start converged") from err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = _fit_starts(k, seeds, d, init_resp, replicate, tol)
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
                    "aic": aic, "aic3": aic + float(model.n_parameters), "loglik": ll * len(data),
                    "starts": len(runs), "best_reached": int((lls >= ll - tol).sum()), "posterior": post}


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
