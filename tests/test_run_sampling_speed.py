"""The fast inclusion-probability simulation gives exactly what repeating the whole draw gives."""

import numpy as np
import pandas as pd
import pytest

from cmlkit import progress
from cmlkit import sampling as S
from cmlkit import synthetic
from cmlkit.cube import cube, cube_many, null_vector


@pytest.fixture(scope="module")
def cands_and_spec():
    scope = synthetic.in_scope(synthetic.make_frame(480, random_state=5))
    lib = synthetic.simulate_libraries(scope, governance_signal=1.0, random_state=5)
    lib["response_id"] = [f"R{i:04d}" for i in range(len(lib))]
    clusters = pd.DataFrame({"library_id": lib["library_id"], "cluster": (lib["true_model"] == "independent_community").astype(int),
                             "cluster_name": "c"})
    spec = S.load_spec()
    return S.candidates(lib.drop(columns=["region"]), scope, spec, clusters=clusters), spec


@pytest.mark.parametrize("method", ["balanced", "stratified"])
def test_simulate_inclusion_equals_repeated_draws(cands_and_spec, method, monkeypatch, tmp_path):
    cands, spec = cands_and_spec
    sp = spec.replace(method=method)
    rng = np.random.default_rng(7)
    expected = np.mean([S.draw(cands, sp, random_state=int(rng.integers(0, 2**31 - 1))).table["selected"].to_numpy()
                        for _ in range(12)], axis=0)
    monkeypatch.setenv(progress.PROGRESS_ENV, str(tmp_path / "p"))
    got = S.simulate_inclusion(cands, sp, draws=12, random_state=7)
    assert np.array_equal(got, expected)
    assert progress.read_progress(tmp_path / "p")["n"] == 12


def test_vectorised_constraint_check_agrees_with_check_constraints(cands_and_spec):
    cands, spec = cands_and_spec
    sp = spec.as_dict()
    sp["constraints"] = {"max_per_authority": 2, "min_per_cluster": 1, "cover_all_regions_from": 8}
    meets = S._constraint_test(cands, sp)
    rng = np.random.default_rng(1)
    verdicts = []
    for size in (3, 6, 9, 12, 20) * 20:
        s = np.zeros(len(cands), dtype=int)
        s[rng.choice(len(cands), size=size, replace=False)] = 1
        verdicts.append(meets(s))
        assert verdicts[-1] == (not S.check_constraints(cands.loc[s == 1], cands, sp))
    assert any(verdicts) and not all(verdicts)


def _cube_reference(pik, X, *, random_state=None, eps=1e-9):
    """The cube method as first written (rescans all units each step): the fast one must match it bit for bit."""
    rng = np.random.default_rng(random_state)
    pik = np.asarray(pik, dtype=float).copy()
    X = np.asarray(X, dtype=float)
    N = len(pik)
    perm = rng.permutation(N)
    pi = pik[perm]
    A = np.where(pi[:, None] > 0, X[perm] / np.where(pi > 0, pi, 1)[:, None], 0.0)
    p = A.shape[1]
    for _ in range(4 * N + 10):
        live = np.flatnonzero((pi > eps) & (pi < 1 - eps))
        if len(live) == 0:
            break
        p = min(p, len(live) - 1)
        if p == 0:
            j = live[0]
            pi[j] = float(rng.random() < pi[j])
            continue
        sub = live[:p + 1]
        u = np.linalg.qr(A[sub, :p], mode="complete")[0][:, -1]   # a unit vector of the null space of A[sub, :p].T
        up = np.where(u > eps, (1 - pi[sub]) / np.where(u > eps, u, 1), np.inf)
        un = np.where(u < -eps, pi[sub] / np.where(u < -eps, -u, 1), np.inf)
        l1 = min(up.min(), un.min())
        dp = np.where(u > eps, pi[sub] / np.where(u > eps, u, 1), np.inf)
        dn = np.where(u < -eps, (1 - pi[sub]) / np.where(u < -eps, -u, 1), np.inf)
        l2 = min(dp.min(), dn.min())
        if not (np.isfinite(l1) and np.isfinite(l2)):
            p -= 1
            continue
        pi[sub] = pi[sub] + l1 * u if rng.random() < l2 / (l1 + l2) else pi[sub] - l2 * u
        pi[np.abs(pi) < eps] = 0.0
        pi[np.abs(pi - 1) < eps] = 1.0
    s = np.zeros(N)
    s[perm] = np.round(pi)
    return s.astype(int)


def test_cube_matches_the_reference_implementation(cands_and_spec):
    cands, spec = cands_and_spec
    setup = S._draw_setup(cands, spec)
    for seed in range(25):
        assert np.array_equal(S.cube(setup["pik"], setup["X"], random_state=seed),
                              _cube_reference(setup["pik"], setup["X"], random_state=seed)), seed


def test_cube_many_draws_what_cube_draws_from_each_generator(cands_and_spec):
    cands, spec = cands_and_spec
    setup = S._draw_setup(cands, spec)
    cases = [(setup["pik"], setup["X"])]
    rng = np.random.default_rng(0)
    for _ in range(12):                     # odd shapes: units fixed at 0 or 1, few units, one equation
        N, p = int(rng.integers(3, 120)), int(rng.integers(1, 7))
        pik = rng.uniform(0, 1, N)
        pik[rng.random(N) < 0.1], pik[rng.random(N) < 0.1] = 1.0, 0.0
        cases.append((pik, np.column_stack([pik, rng.normal(size=(N, p - 1)), np.zeros((N, 1))])))
    for pik, X in cases:
        one = [np.random.default_rng(s) for s in range(30)]
        many = [np.random.default_rng(s) for s in range(30)]
        expected = np.array([cube(pik, X, random_state=g) for g in one])
        assert np.array_equal(cube_many(pik, X, many), expected)
        assert all(a.bit_generator.state == b.bit_generator.state for a, b in zip(one, many))   # same stream left


def test_null_vector_is_orthogonal_to_the_equations_whatever_their_rank():
    rng = np.random.default_rng(3)
    M = rng.normal(size=(40, 9, 8))
    M[:20, :, 3] = 0.0                      # an equation no unit of the step takes part in
    M[10:30, :, 5] = M[10:30, :, 6]         # two equal equations
    u = null_vector(M)
    assert np.allclose(np.einsum("bnp,bn->bp", M, u), 0.0, atol=1e-12)
    assert np.allclose(np.linalg.norm(u, axis=1), 1.0)
    assert np.array_equal(u[7], null_vector(M[7]))
