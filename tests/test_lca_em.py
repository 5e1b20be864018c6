"""The NumPy EM of cmlkit.lca_em against stepmix, the reference it replaces (stepmix is test-only now).

Both fit ``StepMix(measurement="categorical_nan", structural="gaussian_full", n_steps=1, n_init=1,
max_iter=1000, abs_tol=1e-6, rel_tol=1e-8)`` from the same random or warm start; the fits must agree to
the last bit: log-likelihood, posterior, iterations, parameters, BIC, AIC, SABIC, parameter count.
"""

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp

from cmlkit import lca_em, row_reductions, synthetic, waves
from cmlkit import governance as g
from cmlkit.errors import ClusterFitError
from cmlkit.governance_spec import FeatureRows, distinct_rows
from cmlkit.latent_class import fit_ragged, latent_class_many, lca_inputs
from reference_models import stepmix_fit


def _assert_same(ref, fit, data, Y):
    assert fit.n_iter == ref.n_iter_ and fit.converged == ref.converged_
    assert fit.score == ref.score(data, Y)
    assert np.array_equal(fit.posterior, ref.predict_proba(data, Y))
    assert fit.n_parameters == ref.n_parameters
    assert fit.bic() == ref.bic(data, Y) and fit.aic() == ref.aic(data, Y) and fit.sabic() == ref.sabic(data, Y)
    assert np.array_equal(fit.weights, ref.weights_)
    assert np.array_equal(fit.pis, ref._mm.parameters["pis"].T)
    if Y is not None:
        assert np.array_equal(fit.means, ref._sm.means_)
        assert np.array_equal(fit.covariances, ref._sm.covariances_)
        assert np.array_equal(fit.precisions_cholesky, ref._sm.precisions_cholesky_)


def _random_data(n, seed, *, gauss=True):
    """Categorical codes from three latent groups (2 to 5 categories, 15% missing) and a correlated Gaussian pair."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    cols = []
    for j, levels in enumerate([2, 3, 5, 4, 2, 3]):
        p = rng.dirichlet(np.ones(levels), size=3)
        codes = np.array([rng.choice(levels, p=p[c]) for c in group], dtype=float)
        if j % 2:
            codes[rng.random(n) < 0.15] = np.nan
        cols.append(codes)
    data = np.column_stack(cols)
    if not gauss:
        return data, None
    z = rng.normal(size=(n, 2)) + group[:, None] * np.array([1.0, 0.5])
    return data, np.column_stack([z[:, 0], 0.6 * z[:, 0] + 0.8 * z[:, 1]])


@pytest.mark.parametrize("k,seed,gauss", [(1, 3, True), (2, 11, True), (3, 5, True), (4, 8, True), (3, 2, False)])
def test_random_and_warm_starts_match_stepmix_bit_for_bit(k, seed, gauss):
    data, Y = _random_data(160, seed, gauss=gauss)
    d = lca_em.prepare(data, Y)
    for start in (seed, seed + 1000):
        ref = stepmix_fit(data, Y, k, start)
        fit = lca_em.fit(d, k, seed=start, max_iter=1000, abs_tol=1e-6, rel_tol=1e-8)
        _assert_same(ref, fit, data, Y)
    # a warm start from a perturbed posterior (as the bootstrap refits do)
    post = fit.posterior[::-1] if k > 1 else fit.posterior
    ref = stepmix_fit(data, Y, k, 0, init_resp=post)
    _assert_same(ref, lca_em.fit(d, k, seed=0, init_resp=post), data, Y)


def test_one_hot_and_parameter_count():
    data = np.array([[0, 2], [1, np.nan], [np.nan, 0], [1, 1]], dtype=float)
    d = lca_em.prepare(data)
    assert d.max_n_outcomes == 3 and d.total_outcomes == 5
    assert d.onehot.tolist() == [[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 1, 0, 0, 1, 0]]
    assert lca_em.fit(d, 2, seed=1).n_parameters == 1 + 2 * (5 - 2)


def test_logsumexp_rows_is_scipys():
    rng = np.random.default_rng(0)
    a = rng.normal(scale=30, size=(500, 4))
    a[::7, 1] = a[::7, 0]                       # ties for the maximum
    a[::11, 2] = -np.inf
    a[5] = -np.inf                              # a row with no mass
    a[6, :2] = np.inf
    with np.errstate(invalid="ignore"):
        want = logsumexp(a, axis=1)
    assert np.array_equal(row_reductions.logsumexp_rows(a), want, equal_nan=True)


def test_inputs_stepmix_refuses_are_refused():
    data, Y = _random_data(30, 1)
    with pytest.raises(ValueError):
        lca_em.prepare(np.column_stack([data, np.full(30, np.nan)]), Y)
    with pytest.raises(ValueError):
        lca_em.prepare(data, np.where(np.arange(30)[:, None] == 3, np.nan, Y))
    with pytest.raises(ValueError):
        lca_em.fit(lca_em.prepare(data[:3], Y[:3]), 4, seed=1)
    bad = np.full((30, 2), 0.5)
    bad[4] = np.nan                                 # a start without mass: covariance not finite, in both
    with pytest.raises(ValueError):
        stepmix_fit(data, Y, 2, 0, init_resp=bad)
    with pytest.raises(ValueError):
        lca_em.fit(lca_em.prepare(data, Y), 2, init_resp=bad)


def _reference_latent_class(X, spec, k, *, n_init, random_state, init_resp=None):
    """``latent_class`` as it was with stepmix (all starts, no replicate rule)."""
    data, Y = lca_inputs(X, spec)
    seeds = np.random.default_rng(random_state).integers(0, 2**31 - 1, n_init)
    runs = []
    for i, seed in enumerate(seeds):
        try:
            model = stepmix_fit(data, Y, k, seed, init_resp=init_resp if i == 0 else None)
            runs.append((float(model.score(data, Y)), model))
        except (ValueError, np.linalg.LinAlgError):
            pass
    ll, model = max(runs, key=lambda r: r[0])
    post = np.asarray(model.predict_proba(data, Y), dtype=float)
    return post, {"bic": float(model.bic(data, Y)), "sabic": float(model.sabic(data, Y)),
                  "aic": float(model.aic(data, Y)), "loglik": ll * len(data)}


@pytest.fixture(scope="module")
def governance_features():
    spec = waves.with_wave(g.load_spec(), waves.instruments_by_unit(waves.first_wave())["library"])
    scope = synthetic.in_scope(synthetic.make_frame(200, random_state=4))
    lib = synthetic.simulate_libraries(scope, governance_signal=1.0, random_state=4)
    return g.build_features(lib, spec), spec


def test_governance_features_matchstepmix_fit(governance_features):
    X, spec = governance_features
    data, Y = lca_inputs(X, spec)
    assert Y is not None and np.isnan(data).any()       # both blocks, with missing values
    for k in (3,):                                       # k = 1..4 are covered on random data above
        labels, crit = g.latent_class(X, spec, k, n_init=3, random_state=7)
        post, want = _reference_latent_class(X, spec, k, n_init=3, random_state=7)
        assert np.array_equal(crit["posterior"], post) and np.array_equal(labels, post.argmax(axis=1))
        assert {key: crit[key] for key in want} == want
        warm, wcrit = g.latent_class(X, spec, k, n_init=2, random_state=3, init_resp=post)
        wpost, wwant = _reference_latent_class(X, spec, k, n_init=2, random_state=3, init_resp=post)
        assert np.array_equal(wcrit["posterior"], wpost) and {key: wcrit[key] for key in wwant} == wwant


def test_no_usable_indicator_is_a_cluster_fit_error(governance_features):
    X, spec = governance_features
    empty = X.copy()
    name = next(n for n, f in spec["features"].items() if f["encoding"] == "nominal")
    empty[name] = None
    with pytest.raises(ClusterFitError):
        g.latent_class(empty, spec, 2, n_init=1)


@pytest.mark.parametrize("k", range(1, 12))
def test_row_sum_is_numpys(k):
    rng = np.random.default_rng(k)
    a = rng.normal(size=(300, k)) * 10.0 ** rng.integers(-8, 8, size=(300, k))
    assert np.array_equal(row_reductions.row_sum(a), np.sum(a, axis=1))


def _pandas_lca_inputs(X, spec, bins=4):
    """``lca_inputs`` as it was, in pandas (the numbers to keep)."""
    cols, gauss = [], []
    for name, f in spec["features"].items():
        if f["encoding"] == "numeric":
            v = X[name].astype(float)
            if v.notna().all():
                gauss.append(((v - v.mean()) / (v.std() or 1.0)).to_numpy())
                continue
            codes = pd.qcut(v.rank(method="min"), q=bins, labels=False, duplicates="drop").astype(float)
        elif f["encoding"] == "nominal":
            codes = pd.Categorical(X[name]).codes.astype(float)
        else:
            codes = X[name].to_numpy(dtype=float)
        cols.append(np.where(np.asarray(codes) < 0, np.nan, codes))
    return np.column_stack(cols), (np.column_stack(gauss) if gauss else None)


def test_lca_inputs_of_resamples_are_the_pandas_numbers(governance_features):
    """Quartile codes, standardisation and nominal codes of resamples (FeatureRows or frames), to the last bit;
    small resamples make numeric features complete (Gaussian) or leave quartiles tied."""
    X, spec = governance_features
    rows = FeatureRows(X)
    r = np.random.default_rng(5)
    for t in range(40):
        idx = np.unique(r.integers(0, len(X), int(r.integers(2, len(X) + 1)) if t % 2 else int(r.integers(2, 12))))
        sub = X.iloc[idx].reset_index(drop=True)
        want = _pandas_lca_inputs(sub, spec)
        for got in (lca_inputs(rows.take(idx), spec), lca_inputs(sub, spec)):
            assert got[0].tobytes() == want[0].tobytes() and got[0].shape == want[0].shape
            assert (got[1] is None) == (want[1] is None) and (want[1] is None or got[1].tobytes() == want[1].tobytes())
        assert distinct_rows(rows.take(idx)) == len(sub.drop_duplicates())


FIT_FIELDS = ("weights", "pis", "means", "covariances", "precisions_cholesky", "score", "posterior", "n_parameters",
              "n_iter", "converged")


def _assert_fit_run_alone(got, d, k, seed, init):
    """``got`` (from a stacked run) is ``lca_em.fit`` of the same start run alone, to the last bit (or both fail)."""
    try:
        want = lca_em.fit(d, k, seed=seed, init_resp=init)
    except ValueError:
        assert isinstance(got, ValueError)
        return
    for f in FIT_FIELDS:
        a, b = getattr(got, f), getattr(want, f)
        assert (a is None and b is None) or (np.asarray(a).tobytes() == np.asarray(b).tobytes() and type(a) is type(b)), f


def test_fit_many_is_fit_run_by_run(governance_features):
    """Runs in lockstep give each run's fit to the last bit, failed starts (a start without mass) included."""
    X, spec = governance_features
    data, Y = lca_inputs(X, spec)
    r = np.random.default_rng(6)
    for block in (Y, np.column_stack([Y, r.normal(size=len(Y))]), None):
        d = lca_em.prepare(data, block)
        for k in (1, 3):
            hollow = np.full((len(data), k), 1.0 / k)
            hollow[4] = np.nan
            starts = [(0, r.dirichlet(np.ones(k), len(data))), (0, hollow),
                      *((int(s), None) for s in r.integers(0, 2**31 - 1, 2))]
            for (seed, init), got in zip(starts, lca_em.fit_many(d, k, starts)):
                _assert_fit_run_alone(got, d, k, seed, init)


def test_fit_ragged_is_fit_run_by_run(governance_features):
    """Runs on different resamples stacked row after row give each run's fit to the last bit."""
    X, spec = governance_features
    rows = FeatureRows(X)
    r = np.random.default_rng(8)
    for gaussian in (True, False):
        ds, starts = [], []
        while len(ds) < 6:
            data, Y = lca_inputs(rows.take(np.unique(r.integers(0, len(X), int(r.integers(20, len(X) + 1))))), spec)
            d = lca_em.prepare(data, Y[:, :1] if gaussian and Y is not None else None)   # one Gaussian feature
            hollow = np.full((len(data), 3), 1 / 3)
            hollow[1] = np.nan
            ds.append(d)
            starts.append([(0, r.dirichlet(np.ones(3), len(data))), (int(r.integers(0, 2**31 - 1)), None),
                           *([(0, hollow)] if len(ds) == 2 else [])])
        for d, st, got in zip(ds, starts, fit_ragged(ds, 3, starts)):
            for (seed, init), fit in zip(st, got):
                _assert_fit_run_alone(fit, d, 3, seed, init)


def test_latent_class_many_is_latent_class(governance_features):
    X, spec = governance_features
    rows = FeatureRows(X)
    r = np.random.default_rng(9)
    post = g.latent_class(X, spec, 3, n_init=2, random_state=1)[1]["posterior"]
    idxs = [np.unique(r.integers(0, len(X), len(X))) for _ in range(4)] + [np.arange(2)]
    seeds = [int(s) for s in r.integers(0, 2**31 - 1, len(idxs))]
    got = latent_class_many([rows.take(i) for i in idxs], spec, 3, n_init=2, random_states=seeds,
                            init_resps=[post[i] for i in idxs], replicate=2)
    for i, seed, fit in zip(idxs, seeds, got):
        try:
            labels, crit = g.latent_class(X.iloc[i].reset_index(drop=True), spec, 3, n_init=2, random_state=seed,
                                          init_resp=post[i], replicate=2)
        except ClusterFitError:
            assert isinstance(fit, ClusterFitError)
            continue
        assert np.array_equal(fit[0], labels) and fit[1].keys() == crit.keys()
        assert all(np.asarray(fit[1][key]).tobytes() == np.asarray(crit[key]).tobytes() for key in crit)
