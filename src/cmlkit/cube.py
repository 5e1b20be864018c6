"""The cube method for balanced sampling (Deville & Tillé 2004), as R ``sampling::samplecube(method=2)``:
a flight phase in the null space of the balancing equations, then a landing phase dropping balancing
variables from the last one."""

from __future__ import annotations

import numpy as np


def cube(pik, X, *, random_state=None, eps: float = 1e-9) -> np.ndarray:
    """Balanced sample by the cube method (fast flight phase, landing by dropping variables).

    Parameters
    ----------
    pik : array of float
        Inclusion probabilities (sum = sample size).
    X : array (N x p)
        Balancing variables in order of importance: the landing phase drops them from the last.
        The Horvitz-Thompson totals of these columns equal their population totals for a sample
        that lands exactly.
    random_state : int or numpy.random.Generator

    Returns
    -------
    numpy.ndarray of 0/1
    """
    rng = np.random.default_rng(random_state)
    pik = np.asarray(pik, dtype=float).copy()
    X = np.asarray(X, dtype=float)
    N = len(pik)
    perm = rng.permutation(N)
    pi = pik[perm]
    A = np.where(pi[:, None] > 0, X[perm] / np.where(pi > 0, pi, 1)[:, None], 0.0)
    p = A.shape[1]
    # only the p + 1 units moved in a step can leave (0, 1): keep the live units instead of rescanning all N
    live = np.flatnonzero((pi > eps) & (pi < 1 - eps))
    for _ in range(4 * N + 10):
        if len(live) == 0:
            break
        p = min(p, len(live) - 1)
        if p == 0:
            j = live[0]
            pi[j] = float(rng.random() < pi[j])
            live = live[1:]
            continue
        sub = live[:p + 1]
        ps = pi[sub]
        u = np.linalg.svd(A[sub, :p].T)[2][-1]
        pos, neg = u > eps, u < -eps
        upos, uneg = u[pos], -u[neg]
        l1 = min(((1 - ps[pos]) / upos).min(initial=np.inf), (ps[neg] / uneg).min(initial=np.inf))
        l2 = min((ps[pos] / upos).min(initial=np.inf), ((1 - ps[neg]) / uneg).min(initial=np.inf))
        if not (np.isfinite(l1) and np.isfinite(l2)):
            p -= 1
            continue
        ps = ps + l1 * u if rng.random() < l2 / (l1 + l2) else ps - l2 * u
        ps[np.abs(ps) < eps] = 0.0
        ps[np.abs(ps - 1) < eps] = 1.0
        pi[sub] = ps
        live = np.concatenate([sub[(ps > eps) & (ps < 1 - eps)], live[p + 1:]])
    s = np.zeros(N)
    s[perm] = np.round(pi)
    return s.astype(int)
