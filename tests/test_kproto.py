"""k-prototypes (cmlkit.kproto) against kmodes, its reference: bit-identical labels, prototypes, cost.

cmlkit.kproto re-implements ``kmodes.kprototypes.KPrototypes(init="Cao", n_init=1)`` with vectorised
distances; kmodes stays as the test-only reference. Compared: whole starts on random mixed data (several
k and seeds, duplicated rows, rounded values that tie), one pass of the iteration from arbitrary
states (which empties clusters and re-seeds them from the RNG), the few-distinct-rows and
cannot-initialise paths, and ``kprototypes`` on governance features (with missing values and
bootstrap-like resamples) against the kmodes-based version it replaced.
"""
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from cmlkit import governance as g
from cmlkit import kproto, synthetic, waves
from cmlkit.errors import ClusterFitError
from cmlkit.governance_spec import FeatureRows
from reference_models import kmodes_start, kprototypes_with_kmodes


def _mixed(seed, n, p, a, levels, dup=0.0, decimals=None):
    r = np.random.default_rng(seed)
    num = r.random((n, p))
    if decimals is not None:
        num = np.round(num, decimals)
    cat = r.integers(0, levels, (n, a)).astype(str).astype(object)
    M = np.column_stack([num, cat])
    if dup:
        M[r.integers(0, n, int(dup * n))] = M[r.integers(0, n, int(dup * n))]
    return M, list(range(p, p + a))


def _assert_same_start(M, cat, k, seed):
    try:
        model, labels = kmodes_start(M, cat, k, seed)
    except ValueError as exc:
        with pytest.raises(ValueError, match="could not initialize"):
            kproto.kprototypes_start(M, cat, k, seed)
        assert "could not initialize" in str(exc)
        return False
    out = kproto.kprototypes_start(M, cat, k, seed)
    p = M.shape[1] - len(cat)
    assert np.array_equal(out["labels"], labels), (k, seed)
    assert out["cost"] == model.cost_                       # bit for bit, not approximately
    assert out["n_iter"] == model.n_iter_
    assert np.array_equal(out["numeric"], model._enc_cluster_centroids[0])
    assert np.array_equal(out["categorical"].astype(str), model.cluster_centroids_[:, p:].astype(str))
    return True


@pytest.mark.parametrize("case", range(6))
def test_starts_match_kmodes_on_random_mixed_data(case, monkeypatch):
    if case == 5:
        monkeypatch.setattr(kproto, "BLOCK", 7)     # whole starts with many block boundaries
    r = np.random.default_rng(case)
    n, p, a = int(r.integers(20, 160)), int(r.integers(1, 20)), int(r.integers(1, 5))
    M, cat = _mixed(case, n, p, a, int(r.integers(2, 5)), dup=[0, 0.3, 0.8][case % 3],
                    decimals=[None, 1, 2][case % 3])
    for k in (2, 3, 5, 8):
        for seed in (0, 7, 12345):
            assert _assert_same_start(M, cat, k, seed)


def test_starts_match_kmodes_with_heavy_ties_and_few_distinct_rows():
    ran = {"fit": 0, "no init": 0}
    for case in [*range(10), 17, 22]:    # 17 and 22: some starts cannot initialise
        r = np.random.default_rng(1000 + case)
        n, p, a = int(r.integers(4, 40)), int(r.integers(1, 4)), int(r.integers(1, 3))
        distinct = int(r.integers(1, min(n, 10) + 1))
        num = np.round(r.random((distinct, p)), 1)
        if case % 3 == 0:
            num[:, 0] = r.normal(0, 50, distinct)    # outlying rows: starts that leave clusters empty
        cats = r.integers(0, 3, (distinct, a)).astype(str).astype(object)
        rows = r.integers(0, distinct, n)
        M = np.column_stack([num[rows], cats[rows]])
        for k in range(1, min(n, 8) + 1):
            for seed in (0, 1):
                ran["fit" if _assert_same_start(M, list(range(p, p + a)), k, seed) else "no init"] += 1
    assert ran["fit"] > 100 and ran["no init"] > 0


def test_no_more_distinct_rows_than_k_makes_each_distinct_row_a_prototype():
    M = np.array([[0.0, "a"], [0.0, "a"], [1.0, "b"], [0.5, "a"], [1.0, "b"]], dtype=object)
    for k in (3, 4):
        assert _assert_same_start(M, [1], k, 0)
        assert kproto.kprototypes_start(M, [1], k, 0)["n_iter"] == 0


def _kmodes_state(lab, Xnum, C, k):
    n, p = Xnum.shape
    membship = np.zeros((k, n), dtype=bool)
    membship[lab, np.arange(n)] = True
    sums, size = np.zeros((k, p)), np.zeros(k)
    freq = [[defaultdict(float) for _ in range(C.shape[1])] for _ in range(k)]
    for i in range(n):
        size[lab[i]] += 1
        for j in range(p):
            sums[lab[i], j] += Xnum[i, j]
        for j in range(C.shape[1]):
            freq[lab[i]][j][C[i, j]] += 1
    return membship, sums, size, freq


@pytest.mark.parametrize("block", [kproto.BLOCK, 5])
def test_one_pass_matches_kmodes_including_re_seeded_empty_clusters(block, monkeypatch):
    """From arbitrary memberships and prototypes, so clusters empty and are re-seeded from the RNG;
    with the default block of rows and with blocks of 5 (moves across block boundaries)."""
    from kmodes import kprototypes as kmodes_kproto      # imported here: kmodes loads scikit-learn (about 1 s)
    from kmodes.util.dissim import euclidean_dissim, matching_dissim

    monkeypatch.setattr(kproto, "BLOCK", block)
    reseeded = 0
    for case in range(120):
        r = np.random.default_rng(case)
        n, p, a = int(r.integers(6, 40)), int(r.integers(1, 6)), int(r.integers(1, 4))
        k = int(r.integers(2, min(7, n + 1)))
        Xnum = np.round(r.random((n, p)), int(r.integers(0, 3)))
        C = r.integers(0, 3, (n, a))
        lab = r.integers(0, k, n)
        lab[:k] = r.permutation(k)
        membship, sums, size, freq = _kmodes_state(lab, Xnum, C, k)
        num, cat = r.random((k, p)) * 2 - 0.5, r.integers(0, 3, (k, a))
        gamma = 0.5 * np.mean(Xnum.std(axis=0))
        rs_ref, rs = np.random.RandomState(case), np.random.RandomState(case)
        ref_cent, ref_sums, ref_size, _, ref_memb, ref_moves = kmodes_kproto._k_prototypes_iter(
            Xnum, C, [num.copy(), cat.astype(object)], sums.copy(), size.copy(), freq, membship,
            euclidean_dissim, matching_dissim, gamma, rs_ref, None)
        dense = np.zeros((k, a, 3), dtype=np.int64)
        np.add.at(dense, (lab[:, None], np.arange(a)[None, :], C), 1)
        lab, sums, cat = lab.copy(), sums.copy(), cat.astype(np.int64)
        moves = kproto._iterate(np.ascontiguousarray(Xnum), C, gamma, lab, sums, size, dense, num, cat, rs)
        assert moves == ref_moves
        assert np.array_equal(num, ref_cent[0]) and np.array_equal(cat, ref_cent[1].astype(np.int64))
        assert np.array_equal(lab, ref_memb.argmax(axis=0))
        assert np.array_equal(sums, ref_sums) and np.array_equal(size, ref_size)
        state, ref_state = rs.get_state(), rs_ref.get_state()
        assert np.array_equal(state[1], ref_state[1]) and state[2] == ref_state[2]
        reseeded += state[2] != np.random.RandomState(case).get_state()[2] or \
            not np.array_equal(state[1], np.random.RandomState(case).get_state()[1])
    assert reseeded >= 5


def test_refusals_match_kmodes():
    M, cat = _mixed(0, 10, 2, 1, 3)
    with pytest.raises(NotImplementedError):
        kproto.kprototypes_start(M, [], 2, 0)
    with pytest.raises(AssertionError, match="more clusters"):
        kproto.kprototypes_start(M, cat, 11, 0)
    with pytest.raises(AssertionError, match="All columns are categorical"):
        kproto.kprototypes_start(M[:, cat], [0], 2, 0)
    M[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kproto.kprototypes_start(M, cat, 2, 0)


@pytest.fixture(scope="module")
def governance_features():
    spec = waves.with_wave(g.load_spec(), waves.instruments_by_unit(waves.first_wave())["library"])
    scope = synthetic.in_scope(synthetic.make_frame(220, random_state=3))
    lib = synthetic.simulate_libraries(scope, governance_signal=1.0, random_state=3)
    X = g.build_features(lib, spec).reset_index(drop=True)
    holed = X.copy()
    r = np.random.default_rng(3)
    for col in holed.columns:
        holed.loc[r.random(len(holed)) < 0.1, col] = np.nan
    return spec, X, holed


def test_kprototypes_matches_kmodes_on_governance_features(governance_features):
    spec, X, holed = governance_features
    r = np.random.default_rng(4)
    boot = X.iloc[r.integers(0, len(X), len(X))].reset_index(drop=True)   # a stability resample
    cases = [(X, 2, 10, 0, 0), (X, 4, 10, 0, 1), (holed, 3, 6, 0, 2), (boot, 4, 10, 2, 5), (boot, 6, 10, 2, 6)]
    for data, k, n_init, replicate, seed in cases:
        labels, info = kproto.kprototypes(data, spec, k, n_init=n_init, random_state=seed, replicate=replicate)
        ref_labels, ref_info = kprototypes_with_kmodes(data, spec, k, n_init=n_init, random_state=seed,
                                                        replicate=replicate)
        assert np.array_equal(labels, ref_labels) and labels.dtype == ref_labels.dtype
        assert info == ref_info


def test_kprototypes_keeps_its_contract(governance_features):
    spec, X, _ = governance_features
    labels, info = kproto.kprototypes(X, spec, 3, n_init=4, random_state=np.random.default_rng(9))
    assert labels.shape == (len(X),) and set(labels) == {0, 1, 2}
    assert info["starts"] == 4 and info["cost"] > 0
    assert isinstance(info["cost"], float)
    M, cat = kproto.kproto_matrix(X, spec)
    assert M.shape[0] == len(X) and cat and isinstance(pd.DataFrame(M), pd.DataFrame)


def _same(a, b):
    """Equal to the last bit (arrays by bytes, dtype and layout; dicts and lists item by item)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return (a.dtype == b.dtype and a.shape == b.shape and a.flags.c_contiguous == b.flags.c_contiguous
                and (bool((a == b).all()) if a.dtype == object else a.tobytes() == b.tobytes()))
    if isinstance(a, float):
        return np.float64(a).tobytes() == np.float64(b).tobytes()
    return a == b


def test_resamples_as_feature_rows_prepare_what_the_matrix_gives(governance_features):
    """Scaling, codes, gamma and Cao prototypes of a bootstrap resample read from the full frame's
    columns (FeatureRows) are those of kproto_matrix on the resample's own frame, refusals included."""
    spec, X, holed = governance_features
    r = np.random.default_rng(11)
    for data in (X, holed):
        rows = FeatureRows(data)
        for t in range(25):
            idx = np.unique(r.integers(0, len(data), int(r.integers(2, len(data) + 1)) if t % 3 else 6))
            k = int(r.integers(2, 7))
            M, cat = kproto.kproto_matrix(data.iloc[idx].reset_index(drop=True), spec)
            try:
                want = kproto._prepare(M, cat, k)
            except (AssertionError, ValueError) as exc:      # more clusters than rows; a column with no value
                with pytest.raises(type(exc), match=str(exc)[:20]):
                    kproto._prepare_rows(rows.take(idx), spec, k)
                continue
            assert _same(kproto._prepare_rows(rows.take(idx), spec, k), want)


@pytest.mark.parametrize("lockstep_min", [1, 10**6])
def test_many_resamples_in_lockstep_equal_one_at_a_time(governance_features, lockstep_min, monkeypatch):
    """kprototypes_many (the stability bootstrap's refits) gives each resample exactly what kprototypes gives:
    labels, cost and starts, refusals included, with every start in lockstep to the end or finishing alone."""
    from cmlkit import kproto_many

    monkeypatch.setattr(kproto_many, "LOCKSTEP_MIN", lockstep_min)
    spec, X, holed = governance_features
    r = np.random.default_rng(21)
    few = X.iloc[r.integers(0, 12, 60)].reset_index(drop=True)           # heavy ties: 12 distinct rows
    few.iloc[:3, 0] = [40.0, -35.0, 60.0]                                  # outliers: clusters emptied and re-seeded
    compared = refused = 0
    for data in (X, holed, few):
        rows = FeatureRows(data)
        for k, replicate in ((2, 2), (4, 0), (6, 2)):
            subsets = [rows.take(np.unique(r.integers(0, len(data), int(r.integers(8, len(data) + 1)))))
                       for _ in range(12)]
            states = [int(s) for s in r.integers(0, 2**31 - 1, len(subsets))]
            many = kproto_many.kprototypes_many(subsets, spec, k, n_init=5, random_states=states, replicate=replicate)
            for sub, state, got in zip(subsets, states, many):
                try:
                    want = kproto.kprototypes(sub, spec, k, n_init=5, random_state=state, replicate=replicate)
                except ClusterFitError as exc:
                    assert isinstance(got, ClusterFitError) and str(got) == str(exc)
                    refused += 1
                    continue
                assert _same(list(got), list(want))
                compared += 1
    assert compared > 80 and refused >= 0


def test_a_lockstep_pass_is_each_start_s_own_pass_including_re_seeded_empty_clusters():
    """From arbitrary memberships and prototypes (clusters empty and are re-seeded from each start's RNG), one
    pass of many starts together leaves each exactly as kproto._iterate leaves it alone, to the last bit."""
    from cmlkit import kproto_many

    reseeded = 0
    for k in (2, 3, 5):
        runs, alone = [], []
        for case in range(30):
            r = np.random.default_rng(100 * k + case)
            n = int(r.integers(max(6, k), 40))
            Xnum = np.ascontiguousarray(np.round(r.random((n, 3)), int(r.integers(0, 3))))
            C = r.integers(0, 3, (n, 2))
            lab = r.integers(0, k, n)
            lab[:k] = r.permutation(k)
            freq = np.zeros((k, 2, 3), dtype=np.int64)
            np.add.at(freq, (lab[:, None], np.arange(2)[None, :], C), 1)
            sums = np.zeros((k, 3))
            np.add.at(sums, lab, Xnum)
            state = {"prep": {"Xnum": Xnum, "C": C, "gamma": 0.5 * np.mean(Xnum.std(axis=0))}, "lab": lab,
                     "sums": sums, "size": np.bincount(lab, minlength=k).astype(np.float64), "freq": freq,
                     "num": r.random((k, 3)) * 2 - 0.5, "cat": r.integers(0, 3, (k, 2)), "rs": np.random.RandomState(case)}
            mine = {key: (v.copy() if isinstance(v, np.ndarray) else v) for key, v in state.items() if key != "rs"}
            mine["rs"] = np.random.RandomState(case)
            mine["moves"] = kproto._iterate(Xnum, C, mine["prep"]["gamma"], mine["lab"], mine["sums"], mine["size"],
                                           mine["freq"], mine["num"], mine["cat"], mine["rs"])
            runs.append({**state, "case": case})
            alone.append(mine)
        moves = kproto_many._pass(runs)
        for run, mine, m in zip(runs, alone, moves):
            assert m == mine["moves"]
            for key in ("lab", "sums", "size", "freq", "num", "cat"):
                assert np.asarray(run[key]).tobytes() == np.asarray(mine[key]).tobytes(), key
            a, b = run["rs"].get_state(), mine["rs"].get_state()
            assert np.array_equal(a[1], b[1]) and a[2] == b[2]
            fresh = np.random.RandomState(run["case"]).get_state()
            reseeded += not (np.array_equal(a[1], fresh[1]) and a[2] == fresh[2])     # the start drew from its RNG
    assert reseeded >= 5
