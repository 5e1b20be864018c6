"""The reference implementations cmlkit's own latent class EM and k-prototypes replaced (stepmix, kmodes).

Shared by the bit-for-bit tests (tests/test_lca_em.py, tests/test_kproto.py) and the benchmarks that time
cmlkit against them (benchmarks/bench_lca_em.py, bench_kproto.py). stepmix and kmodes are test-only
dependencies (the ``test`` extra), imported when first used: every test worker imports this module
when it collects the tests, and only the one running these tests needs them (scikit-learn comes with them).
"""
import functools
import warnings

import numpy as np

from cmlkit import kproto
from cmlkit.errors import ClusterFitError
from cmlkit.latent_class import seed_of


@functools.cache
def warm_stepmix():
    """The former production wrapper: ``StepMix`` whose first E-step may start from given responsibilities."""
    from stepmix.stepmix import StepMix

    class WarmStepMix(StepMix):
        init_resp = None

        def _initialize_parameters(self, X, random_state):
            if self.init_resp is None:
                return super()._initialize_parameters(X, random_state)
            resp = np.clip(np.asarray(self.init_resp, dtype=float), 1e-15, None)
            resp /= resp.sum(axis=1, keepdims=True)
            self.log_resp_ = np.log(np.clip(resp, 1e-15, 1 - 1e-15))
            self.weights_ = resp.mean(axis=0)
            self._initialize_parameters_measurement(X, random_state)
            return None

    return WarmStepMix


def stepmix_fit(data, Y, k, seed, init_resp=None):
    """One stepmix EM run as cmlkit ran it (categorical with missing values + full Gaussian block); the fitted model."""
    model = warm_stepmix()(n_components=k, measurement="categorical_nan", structural="gaussian_full", n_steps=1,
                        n_init=1, random_state=int(seed), verbose=0, progress_bar=0, max_iter=1000,
                        abs_tol=1e-6, rel_tol=1e-8)
    model.init_resp = init_resp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data, Y)
    return model


def kmodes_start(M, cat, k, seed):
    """One kmodes k-prototypes start (``init="Cao"``): the fitted model and its labels."""
    from kmodes.kprototypes import KPrototypes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = KPrototypes(n_clusters=k, init="Cao", n_init=1, random_state=seed, n_jobs=1)
        labels = np.asarray(model.fit_predict(M, categorical=cat), dtype=int)
    return model, labels


def kprototypes_with_kmodes(X, spec, k, *, n_init=10, random_state=0, replicate=0, rtol=1e-9):
    """``cmlkit.kproto.kprototypes`` as it was with kmodes (the starts rule unchanged): labels and info."""
    M, cat = kproto.kproto_matrix(X, spec)
    seeds = np.random.default_rng(seed_of(random_state)).integers(0, 2**31 - 1, max(int(n_init), 1))
    runs = []
    for seed in seeds:
        try:
            model, labels = kmodes_start(M, cat, k, int(seed))
        except ValueError as exc:
            if "could not initialize" not in str(exc):
                raise
            continue
        runs.append((float(model.cost_), labels))
        costs = np.array([c for c, _ in runs])
        if replicate and len(runs) >= replicate and (costs <= costs.min() * (1 + rtol)).sum() >= replicate:
            break
    if not runs:
        raise ClusterFitError("no start")
    cost, labels = min(runs, key=lambda r: r[0])
    return labels, {"cost": cost, "starts": len(runs)}
