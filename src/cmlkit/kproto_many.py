"""k-prototypes refits of many data sets at once: the stability bootstrap's resamples, in lockstep.

:func:`kprototypes_many` gives, for each data set, what :func:`cmlkit.kproto.kprototypes` gives (the
same starts, seeds, stopping rule and winner), bit for bit. A bootstrap refit is a few hundred rows
and a handful of starts, so one start at a time is Python overhead: each pass's row-by-row
reassignment runs here for every start of every data set together, row ``i`` of all of them in one
set of array operations. Each start keeps its own state (membership, sums, sizes, category counts,
prototypes, RandomState) and sees exactly the floating-point operations of
:func:`cmlkit.kproto._iterate`: a row's distances are computed from the prototypes current when it is
visited (squared Euclidean summed along a contiguous row, plus gamma times the mismatches), moves
update the sums, counts and modes as kmodes does, and an emptied cluster is re-seeded from the start's
own RandomState at the same moment. Once fewer than :data:`LOCKSTEP_MIN` starts are still iterating,
each finishes its passes alone with ``_iterate`` (a pass over every row costs the same whatever the
number of starts in it). Starts beyond those the stopping rule would have run are computed and set
aside (a few per cent of the work).
"""

from __future__ import annotations

import numpy as np

from cmlkit.kproto import _init_or_none, _iterate, _labels_cost, _move, _prepare_rows, best_start
from cmlkit.latent_class import seed_of

LOCKSTEP_MIN = 12    # starts still iterating below which each finishes alone (measured on demo and real-frame waves)


def kprototypes_many(subsets: list, spec: dict, k: int, *, n_init: int, random_states: list, replicate: int = 0,
                     rtol: float = 1e-9) -> list:
    """:func:`cmlkit.kproto.kprototypes` on each data set, with the starts of all of them run together.

    Parameters
    ----------
    subsets : list of FeatureRows
        The data sets (bootstrap resamples), rows in canonical order.
    spec : dict
        The governance specification.
    k : int
        Number of clusters.
    n_init : int
        Most starts per data set; their seeds are drawn from that data set's random state.
    random_states : list of int
        One per data set.
    replicate : int, default 0
        Stop a data set's starts once this many reach its lowest cost (0: all ``n_init``).
    rtol : float, default 1e-9
        Relative difference under which two costs are the same optimum.

    Returns
    -------
    list
        Per data set ``(labels, {"cost", "starts"})``, or the ``ClusterFitError`` ``kprototypes``
        raises when no start initialises. Other errors propagate, as from ``kprototypes``.
    """
    starts = []
    for X, state in zip(subsets, random_states):
        prep = _prepare_rows(X, spec, k)
        mine = []
        for seed in np.random.default_rng(seed_of(state)).integers(0, 2**31 - 1, max(int(n_init), 1)):
            run = _init_or_none(prep, int(seed))
            if run is not None:
                run.update(prep=prep, itr=0)
            mine.append(run)
        starts.append(mine)
    live = [run for mine in starts for run in mine if run is not None and run["prep"]["max_iter"] > 0]
    while live:
        for run in live:
            run["itr"] += 1
        if len(live) >= LOCKSTEP_MIN:
            moved = _pass(live)
        else:
            moved = [_iterate(r["prep"]["Xnum"], r["prep"]["C"], r["prep"]["gamma"], r["lab"], r["sums"], r["size"],
                              r["freq"], r["num"], r["cat"], r["rs"], r["dist"]) for r in live]
        going = []
        for run, moves in zip(live, moved):
            if not moves:
                continue        # no move: the prototypes, hence the labels and the cost, are unchanged
            prep = run["prep"]
            run["labels"], cost, run["dist"] = _labels_cost(prep["Xnum"], prep["C"], run["num"], run["cat"], prep["gamma"])
            converged, run["cost"] = cost >= run["cost"], cost
            if not converged and run["itr"] < prep["max_iter"]:
                going.append(run)
        live = going
    return [best_start(mine, k, replicate=replicate, rtol=rtol) for mine in starts]


def _pass(runs: list) -> np.ndarray:
    """One pass of :func:`cmlkit.kproto._iterate` for every run, row ``i`` of all runs together; moves per run."""
    R = len(runs)
    order = np.argsort([-len(r["prep"]["Xnum"]) for r in runs], kind="stable")
    runs = [runs[j] for j in order]     # longest first: the runs still holding row i are a leading slice
    n = np.array([len(r["prep"]["Xnum"]) for r in runs])
    p, a = runs[0]["prep"]["Xnum"].shape[1], runs[0]["prep"]["C"].shape[1]
    k = runs[0]["num"].shape[0]
    top = max(r["freq"].shape[2] for r in runs)
    X = np.zeros((R, n.max(), p))
    C = np.zeros((R, n.max(), a), dtype=np.int64)
    lab = np.zeros((R, n.max()), dtype=np.int64)
    freq = np.zeros((R, k, a, top), dtype=np.int64)
    for j, r in enumerate(runs):
        X[j, :n[j]], C[j, :n[j]], lab[j, :n[j]] = r["prep"]["Xnum"], r["prep"]["C"], r["lab"]
        freq[j, :, :, :r["freq"].shape[2]] = r["freq"]
    sums, size = np.stack([r["sums"] for r in runs]), np.stack([r["size"] for r in runs])
    num, cat = np.stack([r["num"] for r in runs]), np.stack([r["cat"] for r in runs])
    gamma = np.array([r["prep"]["gamma"] for r in runs])
    counts, modes, by_column = freq.reshape(-1), cat.reshape(-1), freq.reshape(-1, top)    # flat views
    moves = np.zeros(R, dtype=np.int64)
    held = np.searchsorted(-n, -np.arange(n.max()), side="left")     # runs holding row i: the first held[i]
    for i in range(n.max()):
        m = held[i]
        x, c = X[:m, i], C[:m, i]
        sq = np.subtract(num[:m], x[:, None, :], order="C")
        np.square(sq, out=sq)
        D = np.add.reduce(sq, axis=2) + gamma[:m, None] * np.add.reduce(np.not_equal(cat[:m], c[:, None, :]), axis=2)
        nearest = D.argmin(axis=1)
        cur = lab[:m, i]
        mv = nearest != cur
        if not mv.any():
            continue
        rr = np.flatnonzero(mv)
        to, frm, xm, cm = nearest[mv], cur[mv], x[mv], c[mv]
        moves[rr] += 1
        sums[rr, to] += xm
        sums[rr, frm] -= xm
        size[rr, to] += 1
        size[rr, frm] -= 1
        lab[rr, i] = to
        into, outof = (rr * k + to) * a, (rr * k + frm) * a     # flat positions of (run, cluster, column 0)
        for col in range(a):        # kmodes' _move_cat, column by column, every moving run at once
            v = cm[:, col]
            t, f = into + col, outof + col
            counts[t * top + v] += 1
            up = counts[t * top + modes[t]] < counts[t * top + v]
            modes[t[up]] = v[up]
            counts[f * top + v] -= 1
            hold = modes[f] == v
            if hold.any():
                modes[f[hold]] = by_column[f[hold]].argmax(axis=1)
        num[rr, to] = sums[rr, to] / size[rr, to][:, None]
        left = size[rr, frm]
        kept = left > 0
        num[rr[kept], frm[kept]] = sums[rr[kept], frm[kept]] / left[kept][:, None]
        num[rr[~kept], frm[~kept]] = 0.0
        for j in np.flatnonzero(~kept):   # an emptied cluster takes a random row of the largest (numeric prototype kept)
            r, f = int(rr[j]), int(frm[j])
            mine = lab[r, :n[r]]
            big = int(np.argmax(np.bincount(mine, minlength=k)))
            row = int(runs[r]["rs"].choice(np.flatnonzero(mine == big)))
            _move(row, f, big, X[r], C[r], lab[r], sums[r], size[r], freq[r], cat[r])
    for j, r in enumerate(runs):
        r.update(lab=lab[j, :n[j]].copy(), sums=sums[j], size=size[j], freq=freq[j, :, :, :r["freq"].shape[2]].copy(),
                 num=num[j], cat=cat[j])
    out = np.empty(R, dtype=np.int64)
    out[order] = moves
    return out
