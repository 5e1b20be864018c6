"""Partitioning around medoids on Gower dissimilarities: PAM (BUILD + SWAP), CLARA, silhouette width."""

from __future__ import annotations

import numpy as np

from cmlkit.errors import ClusterFitError
from cmlkit.gower import chunked_to, gower_matrix, gower_parts


def pam(D: np.ndarray, k: int, *, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Partitioning around medoids on a dissimilarity matrix (BUILD then SWAP, Kaufman & Rousseeuw).

    Deterministic: BUILD picks medoids greedily and SWAP takes the best improving swap each pass.

    Parameters
    ----------
    D : numpy.ndarray
        Square dissimilarities (NaN counts as 1, the largest Gower dissimilarity).
    k : int
        Number of clusters.
    max_iter : int, default 100
        Most SWAP passes.

    Returns
    -------
    (medoids, labels) : numpy arrays of positions and of cluster numbers 0..k-1

    Raises
    ------
    ClusterFitError
        When ``k`` is not between 1 and the number of rows.
    """
    D = np.nan_to_num(np.asarray(D, dtype=float), nan=1.0)
    n = len(D)
    if not 1 <= k <= n:
        raise ClusterFitError(f"cannot form {k} clusters from {n} libraries")
    medoids = [int(np.argmin(D.sum(axis=1)))]
    nearest = D[medoids[0]].copy()
    for _ in range(1, k):
        gain = np.maximum(nearest[None, :] - D, 0).sum(axis=1)
        gain[medoids] = -1
        m = int(np.argmax(gain))
        medoids.append(m)
        nearest = np.minimum(nearest, D[m])
    medoids = np.array(medoids)
    for _ in range(max_iter):
        Dm = D[medoids]                           # k x n
        order = np.argsort(Dm, axis=0)
        d1 = Dm[order[0], np.arange(n)]
        d2 = Dm[order[1], np.arange(n)] if k > 1 else np.full(n, np.inf)
        best = (0.0, None, None)
        for i in range(k):
            base = np.where(order[0] == i, d2, d1)        # distance to the nearest remaining medoid
            delta = (np.minimum(D, base[None, :]) - d1[None, :]).sum(axis=1)   # candidate h -> cost change
            delta[medoids] = np.inf
            h = int(np.argmin(delta))
            if delta[h] < best[0] - 1e-12:
                best = (float(delta[h]), i, h)
        if best[1] is None:
            break
        medoids[best[1]] = best[2]
    labels = np.argmin(D[medoids], axis=0)
    return medoids, labels


def clara(X: pd.DataFrame, spec: dict, k: int, *, samples: int = 5, sample_size: int = 1000, random_state=0):
    """CLARA: PAM on random subsamples, keeping the medoids with the lowest total cost over all rows.

    Parameters
    ----------
    X : pandas.DataFrame
        Encoded features.
    spec : dict
        The governance specification.
    k : int
        Number of clusters.
    samples : int, default 5
        Subsamples tried.
    sample_size : int, default 1000
        Rows per subsample.
    random_state : int, default 0
        Seeds the subsamples.

    Returns
    -------
    (medoids, labels, cost)
    """
    rng = np.random.default_rng(random_state)
    n = len(X)
    parts = gower_parts(X, spec)
    best = None
    for _ in range(samples):
        idx = np.sort(rng.choice(n, size=min(sample_size, n), replace=False))
        med, _ = pam(gower_matrix(X, spec, rows=idx, cols=idx, parts=parts), k)
        medoids = idx[med]
        Dm = np.nan_to_num(chunked_to(X, spec, medoids, parts), nan=1.0)
        cost = float(Dm.min(axis=0).sum())
        if best is None or cost < best[2] - 1e-12:
            best = (medoids, np.argmin(Dm, axis=0), cost)
    return best


def silhouette(D: np.ndarray, labels: np.ndarray) -> float:
    """Average silhouette width on a precomputed dissimilarity matrix (``sklearn.metrics.silhouette_score``).

    Parameters
    ----------
    D : numpy.ndarray
        Square dissimilarities (NaN counts as 1).
    labels : array of int
        Cluster of each row.

    Returns
    -------
    float
        NaN when there are fewer than two clusters or as many clusters as rows.

    Notes
    -----
    scikit-learn's arithmetic, to the last bit (tests/test_governance.py compares them): each row's
    distances to a cluster summed in row order (``np.bincount`` there, a running sum per cluster here),
    the mean distance within the own cluster over ``size - 1``, the smallest mean to another cluster,
    ``(b - a) / max(a, b)``, 0 for a row alone in its cluster. Written out because importing
    ``sklearn.metrics`` took longer (about a second) than the whole governance step spends on silhouettes.
    """
    labels = np.asarray(labels)
    classes, codes = np.unique(labels, return_inverse=True)
    if len(classes) < 2 or len(classes) >= len(labels):
        return float("nan")
    D = np.nan_to_num(D, nan=1.0).copy()
    np.fill_diagonal(D, 0.0)
    codes = codes.ravel()
    sizes = np.bincount(codes)
    sums = np.column_stack([np.cumsum(D[:, codes == c], axis=1)[:, -1] for c in range(len(classes))])  # k columns
    rows = np.arange(len(codes))
    intra = sums[rows, codes]
    sums[rows, codes] = np.inf
    sums /= sizes
    inter = sums.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        intra /= (sizes - 1)[codes]
        width = (inter - intra) / np.maximum(intra, inter)
    return float(np.mean(np.nan_to_num(width)))
