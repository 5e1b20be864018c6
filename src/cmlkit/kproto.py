"""k-prototypes clustering of governance features, with a stated rule for starts.

Numeric, ordinal and binary features are min-max scaled to [0, 1] with missing values set to the
median; nominal features keep their categories with missing as ``"(missing)"``. ``gamma`` is the
package default (half the mean standard deviation of the numeric columns). Starts: Cao
initialisation for the categorical prototypes, random numeric prototypes; all ``n_init`` run for the
reported partition, and bootstrap refits stop once the lowest cost has been reached twice.

The algorithm is that of ``kmodes.kprototypes.KPrototypes`` (kmodes 0.12, MIT licence, Nico de Vos;
``init="Cao"``, ``n_init=1`` per start, ``max_iter=100``, Euclidean and matching dissimilarities),
re-implemented with the distances vectorised: the same random draws for the same seed, the same
point-by-point reassignment in row order with incremental prototype updates, the same re-seeding of
an emptied cluster, the same tie-breaking (lowest cluster; for a categorical mode the lowest code,
but a mode only changes on a strictly higher count), the same convergence rule and cost. A pass
computes the distances of a block of rows to all prototypes at once and keeps them (taken from the
previous pass's closing distances until its first move); after a move the rest of the block is
recomputed, with the same floating-point operations as kmodes, so labels, prototypes and cost are bit-identical to kmodes (checked against it in
``tests/test_kproto.py``; kmodes is no longer imported here). Per start on 480 libraries this is
about 10-14 times faster (``benchmarks/bench_kproto.py``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from cmlkit.errors import ClusterFitError
from cmlkit.governance_spec import FeatureRows
from cmlkit.latent_class import seed_of

MAX_ITER = 100          # kmodes' default iterations per start
MAX_INIT_TRIES = 20     # starts with an empty cluster before kmodes switches to random prototypes
RAISE_INIT_TRIES = 100  # starts with an empty cluster before kmodes gives up
BLOCK = 64              # rows whose distances a pass keeps at a time (any size gives the same result)


def kproto_matrix(X: pd.DataFrame, spec: dict) -> tuple[np.ndarray, list[int]]:
    """The matrix k-prototypes clusters and the positions of its categorical columns.

    Parameters
    ----------
    X : pandas.DataFrame
        Encoded governance features.
    spec : dict
        The governance specification.

    Returns
    -------
    (M, categorical) : object array (scaled numeric columns, then nominal columns) and positions
    """
    num_cols, cat_cols = _columns(spec)
    num = X[num_cols].astype(float)
    num = num.fillna(num.median())
    lo, hi = num.min(), num.max()
    num = (num - lo) / (hi - lo).where(hi > lo, 1.0)
    cat = X[cat_cols].astype(object).where(X[cat_cols].notna(), "(missing)").astype(str)
    M = np.column_stack([num.to_numpy(), cat.to_numpy(dtype=object)]) if cat_cols else num.to_numpy()
    return M, list(range(len(num_cols), len(num_cols) + len(cat_cols)))


def _columns(spec: dict) -> tuple[list[str], list[str]]:
    """Names of the numeric (non-nominal) and of the nominal features."""
    nominal = [name for name, f in spec["features"].items() if f["encoding"] == "nominal"]
    return [name for name in spec["features"] if name not in nominal], nominal


def _full_columns(X: pd.DataFrame, spec: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numeric features as floats, and each nominal feature as codes of its sorted strings (missing: "(missing)")."""
    num_cols, cat_cols = _columns(spec)
    cat = X[cat_cols].astype(object).where(X[cat_cols].notna(), "(missing)").astype(str).to_numpy(dtype=object)
    codes, levels = _encode(cat)
    return X[num_cols].to_numpy(dtype=float), codes, levels


def _prepare_rows(X: FeatureRows, spec: dict, k: int) -> dict:
    """:func:`_prepare` of ``kproto_matrix(X.frame(), spec)``, from the columns of the full frame read once.

    The median fill, the min-max scaling and the category codes are those of :func:`kproto_matrix`
    and :func:`_encode` on the rows held (the same floating-point operations); the rare inputs that
    :func:`_prepare` refuses or answers without iterating (no more distinct rows than ``k``) go
    through it.
    """
    full_num, full_codes, full_levels = X.columns(("kproto", id(spec)), lambda frame: _full_columns(frame, spec))
    num, codes = full_num[X.rows], full_codes[X.rows]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        num = np.where(np.isnan(num), np.nanmedian(num, axis=0), num)
    lo, hi = num.min(axis=0), num.max(axis=0)
    Xnum = np.asfortranarray((num - lo) / np.where(hi > lo, hi - lo, 1.0))
    C = np.empty_like(codes)
    levels = []
    for j in range(codes.shape[1]):
        present, C[:, j] = np.unique(codes[:, j], return_inverse=True)
        levels.append(full_levels[j][present])
    if (not levels or not Xnum.shape[1] or k > len(Xnum) or not np.isfinite(Xnum).all()
            or _distinct(Xnum, C) <= k):
        M, categorical = kproto_matrix(X.frame(), spec)
        return _prepare(M, categorical, k)
    return _shared(Xnum, C, levels, k)


def _distinct(Xnum: np.ndarray, C: np.ndarray) -> int:
    """Distinct rows of the numeric values (-0.0 equal to 0.0) and codes, as ``{tuple(row) for row in M}`` counts them."""
    A = np.ascontiguousarray(np.column_stack([Xnum + 0.0, C.astype(np.float64)]))
    return len(np.unique(A.view(np.dtype((np.void, A.dtype.itemsize * A.shape[1]))).ravel()))


def _split(M: np.ndarray, categorical: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Numeric columns as floats and categorical columns as they are (kmodes' ``_split_num_cat``)."""
    num = np.asarray(M[:, [j for j in range(M.shape[1]) if j not in categorical]]).astype(np.float64)
    return num, np.asarray(M[:, categorical])


def _encode(cat: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Codes 0..L-1 per column in sorted order of the values (kmodes' ``encode_features``)."""
    codes = np.zeros(cat.shape, dtype=np.int64)
    levels = []
    for j in range(cat.shape[1]):
        values, codes[:, j] = np.unique(cat[:, j], return_inverse=True)
        levels.append(values)
    return codes, levels


def _init_cao(C: np.ndarray, k: int) -> np.ndarray:
    """Cao et al. (2009) categorical prototypes: densest row first, then density times distance."""
    n, a = C.shape
    dens = np.zeros(n)
    for j in range(a):
        dens += np.bincount(C[:, j])[C[:, j]] / float(n) / float(a)
    cent = np.empty((k, a), dtype=C.dtype)
    cent[0] = C[np.argmax(dens)]
    for ik in range(1, k):
        dd = np.empty((ik, n))
        for ikk in range(ik):
            dd[ikk] = np.sum(C != cent[ikk], axis=1) * dens
        cent[ik] = C[np.argmax(np.min(dd, axis=0))]
    return cent


def _dissim(Xnum, C, num, cat, gamma) -> np.ndarray:
    """Squared Euclidean plus ``gamma`` times matching distance of every row to every prototype.

    The squares are laid out C-contiguous so each sum runs along one contiguous row of length p,
    as kmodes' ``np.sum((prototypes - x) ** 2, axis=1)`` does (the same pairwise summation); the
    mismatches are counted as integers and then multiplied by ``gamma``, as kmodes does.
    """
    sq = np.subtract(num[None, :, :], Xnum[:, None, :], order="C")
    np.square(sq, out=sq)
    return np.add.reduce(sq, axis=2) + gamma * np.add.reduce(np.not_equal(cat[None, :, :], C[:, None, :]), axis=2)


def _labels_cost(Xnum, C, num, cat, gamma) -> tuple[np.ndarray, float, np.ndarray]:
    """Nearest prototype of each row (lowest cluster on ties), the summed distance in row order, the distances."""
    D = _dissim(Xnum, C, num, cat, gamma)
    labels = np.argmin(D, axis=1)
    return labels, float(np.add.accumulate(D[np.arange(len(D)), labels])[-1]), D


def _move_cat(point, to, frm, freq, cat) -> None:
    """Move one row's categories between clusters, updating counts and modes as kmodes does.

    The new cluster's mode changes only on a strictly higher count; the old cluster's mode is
    recomputed (highest count, lowest code on ties) when the row held it.
    """
    for a, v in enumerate(point):
        up = freq[to, a]
        up[v] += 1
        if up[cat[to, a]] < up[v]:
            cat[to, a] = v
        freq[frm, a, v] -= 1
        if cat[frm, a] == v:
            cat[frm, a] = freq[frm, a].argmax()


def _move(i, to, frm, Xnum, rows, lab, sums, size, freq, cat) -> None:
    """Move row ``i`` from cluster ``frm`` to ``to`` (sums, sizes, counts, modes, membership)."""
    x = Xnum[i]
    sums[to] += x
    sums[frm] -= x
    size[to] += 1
    size[frm] -= 1
    lab[i] = to
    _move_cat(rows[i], to, frm, freq, cat)


def _iterate(Xnum, C, gamma, lab, sums, size, freq, num, cat, rs, dist=None) -> int:
    """One pass over the rows in order; each row moves to its nearest prototype at that moment.

    Rows are taken in blocks of ``BLOCK``: the block's distances to all prototypes are computed at
    once and kept; after a move the distances of the block's rows still to visit are recomputed (one
    call for all prototypes: a distance depends only on its row and its prototype, so those of the
    clusters the move left alone come out unchanged). ``dist``, when given, holds every row's distances to the prototypes the pass
    starts from (a row's distances do not depend on the other rows computed with it): blocks reached
    before the first move take theirs from it. Returns the number of moves.
    """
    n = len(Xnum)
    rows = C.tolist()
    moves = 0
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        D = dist[start:stop].copy() if dist is not None and not moves else _dissim(Xnum[start:stop], C[start:stop], num, cat, gamma)
        i = start
        while i < stop:
            nearest = D[i - start:].argmin(axis=1)
            stay = nearest == lab[i:stop]
            j = int(stay.argmin())        # the first row that moves
            if stay[j]:
                break
            i += j
            to, frm = int(nearest[j]), int(lab[i])
            moves += 1
            _move(i, to, frm, Xnum, rows, lab, sums, size, freq, cat)
            for c in (to, frm):
                num[c] = sums[c] / size[c] if size[c] else 0.0
            if not size[frm]:   # an emptied cluster takes a random row of the largest (numeric prototype kept)
                big = int(np.argmax(np.bincount(lab, minlength=len(size))))
                r = int(rs.choice(np.flatnonzero(lab == big)))
                _move(r, frm, big, Xnum, rows, lab, sums, size, freq, cat)
            i += 1
            if i < stop:     # every column: those of unchanged clusters come out as they were
                D[i - start:] = _dissim(Xnum[i:stop], C[i:stop], num, cat, gamma)
    return moves


def _prepare(M: np.ndarray, categorical: list[int], k: int) -> dict:
    """What every start shares: numeric and coded categorical columns, gamma, the Cao prototypes."""
    if not categorical:
        raise NotImplementedError("No categorical data selected, effectively doing k-means. "
                                  "Present a list of categorical columns, or use scikit-learn's KMeans instead.")
    if len(categorical) == M.shape[1]:
        raise AssertionError("All columns are categorical, use k-modes instead of k-prototypes.")
    if k > M.shape[0]:
        raise AssertionError(f"Cannot have more clusters ({k}) than data points ({M.shape[0]}).")
    Xnum, Xcat = _split(M, categorical)
    if not np.isfinite(Xnum).all():
        raise ValueError("Input contains NaN or infinity.")
    C, levels = _encode(Xcat)
    distinct = {tuple(row) for row in M}   # kmodes' get_unique_rows, in the same set order
    if len(distinct) > k:
        return _shared(Xnum, C, levels, k)
    # every distinct row is a prototype and there is no iteration
    prep = _shared(Xnum, C, levels, k, cao=False)
    unique = np.vstack(list(distinct))
    unum, ucat = _split(unique, categorical)
    lookup = [{v: c for c, v in enumerate(values)} for values in levels]
    ucodes = np.array([[lookup[j][v] for j, v in enumerate(row)] for row in ucat], dtype=np.int64)
    prep.update(k=unique.shape[0], max_iter=0, init=(unum, ucodes))
    return prep


def _shared(Xnum: np.ndarray, C: np.ndarray, levels: list, k: int, cao: bool = True) -> dict:
    """The prepared data of :func:`_prepare` from the numeric columns (kmodes' layout) and the codes."""
    # gamma, means and spreads sum down the columns in the memory layout kmodes has (column-major
    # here); the distances then use rows laid out contiguously, each summed in kmodes' order
    prep = {"Xnum": np.ascontiguousarray(Xnum), "C": C, "levels": levels, "k": k, "max_iter": MAX_ITER,
            "init": None, "gamma": 0.5 * np.mean(Xnum.std(axis=0)), "mean": np.mean(Xnum, axis=0),
            "std": np.std(Xnum, axis=0)}
    if cao:
        prep["cao"] = _init_cao(C, k)
    return prep


def _init(prep: dict, seed: int) -> dict:
    """A start's state before its first pass: kmodes' initialisation for ``seed`` and the closing distances.

    Returns ``lab, sums, size, freq, num, cat, rs`` (the running membership and prototypes, and the
    start's RandomState, which also re-seeds emptied clusters) and ``labels, cost, dist`` (of
    :func:`_labels_cost` on the initial prototypes); raises ValueError when no initialisation works.
    """
    Xnum, C, k, gamma = prep["Xnum"], prep["C"], prep["k"], prep["gamma"]
    n, p = Xnum.shape
    rs = np.random.RandomState(np.random.RandomState(seed).randint(np.iinfo(np.int32).max, size=1)[0])
    init, tries = prep["init"], 0
    while True:
        tries += 1
        if init is None:
            cat = prep["cao"].copy()
        elif init == "random":
            cat = C[rs.choice(range(n), k)]
        else:
            num, cat = init[0].copy(), init[1].copy()
        if not isinstance(init, tuple):
            num = prep["mean"] + rs.randn(k, p) * prep["std"]
        lab = np.argmin(_dissim(Xnum, C, num, cat, gamma), axis=1)
        if np.bincount(lab, minlength=k).min() > 0:
            break
        if tries == MAX_INIT_TRIES:
            init = "random"
        elif tries == RAISE_INIT_TRIES:
            raise ValueError("Clustering algorithm could not initialize. "
                             "Consider assigning the initial clusters manually.")
    sums = np.zeros((k, p))
    np.add.at(sums, lab, Xnum)
    size = np.bincount(lab, minlength=k).astype(np.float64)
    freq = np.zeros((k, C.shape[1], max(len(v) for v in prep["levels"])), dtype=np.int64)
    np.add.at(freq, (lab[:, None], np.arange(C.shape[1])[None, :], C), 1)
    num = sums / size[:, None]
    cat = np.argmax(freq, axis=2)
    labels, cost, dist = _labels_cost(Xnum, C, num, cat, gamma)
    return {"lab": lab, "sums": sums, "size": size, "freq": freq, "num": num, "cat": cat, "rs": rs,
            "labels": labels, "cost": cost, "dist": dist}


def _init_or_none(prep: dict, seed: int) -> dict | None:
    """:func:`_init`, or None when the start cannot initialise (kmodes' "could not initialize")."""
    try:
        return _init(prep, seed)
    except ValueError as exc:
        if "could not initialize" not in str(exc):
            raise
        return None


def _start(prep: dict, seed: int) -> dict:
    """One kmodes start (``KPrototypes(init="Cao", n_init=1, random_state=seed)``) on prepared data."""
    return _finish(prep, _init(prep, seed))


def _finish(prep: dict, s: dict) -> dict:
    """A start's passes from its initial state ``s`` (:func:`_init`) until it converges or reaches ``max_iter``."""
    Xnum, C, gamma = prep["Xnum"], prep["C"], prep["gamma"]
    lab, sums, size, freq, num, cat, rs = (s[key] for key in ("lab", "sums", "size", "freq", "num", "cat", "rs"))
    labels, cost, dist = s["labels"], s["cost"], s["dist"]
    itr, converged = 0, False
    while itr < prep["max_iter"] and not converged:
        itr += 1
        if not _iterate(Xnum, C, gamma, lab, sums, size, freq, num, cat, rs, dist):
            break        # no move: the prototypes, hence the labels and the cost, are unchanged
        labels, ncost, dist = _labels_cost(Xnum, C, num, cat, gamma)
        converged = ncost >= cost
        cost = ncost
    return {"labels": labels, "cost": cost, "n_iter": itr, "numeric": num, "categorical": cat}


def kprototypes_start(M: np.ndarray, categorical: list[int], k: int, seed: int) -> dict:
    """One start of k-prototypes, bit-identical to ``kmodes`` for the same seed.

    Same result as ``kmodes.kprototypes.KPrototypes(n_clusters=k, init="Cao", n_init=1,
    random_state=seed).fit_predict(M, categorical=categorical)`` (kmodes 0.12, default
    ``max_iter=100`` and ``gamma``), with the distances vectorised.

    Parameters
    ----------
    M : numpy.ndarray
        Rows to cluster, numeric and categorical columns (object array when mixed), as from
        :func:`kproto_matrix`.
    categorical : list of int
        Positions of the categorical columns in ``M``.
    k : int
        Number of clusters.
    seed : int
        Seed of the start (kmodes' ``random_state``).

    Returns
    -------
    dict
        ``labels`` (cluster of each row, 0..k-1), ``cost`` (sum of each row's distance to its
        prototype: squared Euclidean plus gamma times mismatches), ``n_iter`` (passes over the rows),
        ``numeric`` (k x numeric columns prototype means) and ``categorical`` (k x categorical
        columns prototype modes, as values of ``M``). When ``M`` has no more than ``k`` distinct
        rows, the distinct rows are the prototypes, there is no pass, and the clusters number the
        distinct rows.

    Raises
    ------
    ValueError
        When every one of 100 initialisations leaves a cluster empty ("could not initialize"), or
        when a numeric column holds NaN or infinity.
    NotImplementedError
        When ``categorical`` is empty.
    AssertionError
        When every column is categorical or ``k`` exceeds the number of rows (as kmodes).
    """
    prep = _prepare(M, list(categorical), k)
    out = _start(prep, seed)
    out["categorical"] = np.column_stack([v[out["categorical"][:, j]] for j, v in enumerate(prep["levels"])])
    return out


def kprototypes(X: pd.DataFrame, spec: dict, k: int, *, n_init: int = 10, random_state=0, replicate: int = 0,
                rtol: float = 1e-9) -> tuple[np.ndarray, dict]:
    """k-prototypes on scaled features; returns each library's cluster.

    Each start is :func:`kprototypes_start` (kmodes' algorithm with ``init="Cao"``) with its own
    seed; the start with the lowest cost wins (the first of equal costs).

    Parameters
    ----------
    X : pandas.DataFrame or FeatureRows
        Encoded governance features, rows in canonical order.
    spec : dict
        The governance specification.
    k : int
        Number of clusters.
    n_init : int, default 10
        Most starts (at least one); their seeds are drawn from ``random_state``.
    random_state : int or numpy.random.Generator, default 0
        Seeds the starts.
    replicate : int, default 0
        Stop once this many starts reach the lowest cost (0: run all ``n_init``).
    rtol : float, default 1e-9
        Relative difference under which two costs are the same optimum.

    Returns
    -------
    (labels, info)
        ``labels`` an int array, the cluster of each row of ``X``; ``info`` holds ``cost`` (of the
        best start) and ``starts`` (starts that initialised).

    Raises
    ------
    ClusterFitError
        When no start could initialise (each left a cluster empty 100 times).
    ValueError, NotImplementedError, AssertionError
        As :func:`kprototypes_start`, for a numeric column with NaN or infinity, no nominal feature,
        only nominal features, or more clusters than rows.
    """
    seeds = np.random.default_rng(seed_of(random_state)).integers(0, 2**31 - 1, max(int(n_init), 1))
    prep = _prepare_rows(X if isinstance(X, FeatureRows) else FeatureRows(X), spec, k)
    out = best_start((_start_or_none(prep, int(seed)) for seed in seeds), k, replicate=replicate, rtol=rtol)
    if isinstance(out, ClusterFitError):
        raise out
    return out


def _start_or_none(prep: dict, seed: int) -> dict | None:
    """:func:`_start`, or None when the start cannot initialise (kmodes' "could not initialize")."""
    s = _init_or_none(prep, seed)
    return None if s is None else _finish(prep, s)


def best_start(fits, k: int, *, replicate: int = 0, rtol: float = 1e-9):
    """The winner of a data set's starts under the stopping rule of :func:`kprototypes`.

    Parameters
    ----------
    fits : iterable
        Each start's result in seed order (a dict with ``labels`` and ``cost``), None for a start that could
        not initialise; not advanced past the start at which the rule stops.
    k : int
        Number of clusters (for the message).
    replicate : int, default 0
        Stop once this many starts reach the lowest cost (0: all of them).
    rtol : float, default 1e-9
        Relative difference under which two costs are the same optimum.

    Returns
    -------
    tuple or ClusterFitError
        ``(labels, {"cost", "starts"})`` of the lowest cost (the first of equal costs), or the error to
        raise when no start initialised.
    """
    runs = []
    for fit in fits:
        if fit is None:
            continue
        runs.append((fit["cost"], np.asarray(fit["labels"], dtype=int)))
        costs = np.array([c for c, _ in runs])
        if replicate and len(runs) >= replicate and (costs <= costs.min() * (1 + rtol)).sum() >= replicate:
            break
    if not runs:
        return ClusterFitError(f"k-prototypes with {k} clusters: no start could initialise")
    cost, labels = min(runs, key=lambda r: r[0])
    return labels, {"cost": cost, "starts": len(runs)}
