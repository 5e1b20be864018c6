"""k-prototypes clustering of governance features (``kmodes.KPrototypes``), with a stated rule for starts.

Numeric, ordinal and binary features are min-max scaled to [0, 1] with missing values set to the
median; nominal features keep their categories with missing as ``"(missing)"``. ``gamma`` is the
package default (half the mean standard deviation of the numeric columns). Starts: Cao
initialisation for the categorical prototypes, random numeric prototypes; all ``n_init`` run for the
reported partition, and bootstrap refits stop once the lowest cost has been reached twice.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from kmodes.kprototypes import KPrototypes

from cmlkit.errors import ClusterFitError
from cmlkit.latent_class import seed_of


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
    num_cols, cat_cols = [], []
    for name, f in spec["features"].items():
        if f["encoding"] == "nominal":
            cat_cols.append(name)
        else:
            num_cols.append(name)
    num = X[num_cols].astype(float)
    num = num.fillna(num.median())
    lo, hi = num.min(), num.max()
    num = (num - lo) / (hi - lo).where(hi > lo, 1.0)
    cat = X[cat_cols].astype(object).where(X[cat_cols].notna(), "(missing)").astype(str)
    M = np.column_stack([num.to_numpy(), cat.to_numpy(dtype=object)]) if cat_cols else num.to_numpy()
    return M, list(range(len(num_cols), len(num_cols) + len(cat_cols)))


def kprototypes(X: pd.DataFrame, spec: dict, k: int, *, n_init: int = 10, random_state=0, replicate: int = 0,
                rtol: float = 1e-9) -> tuple[np.ndarray, dict]:
    """k-prototypes on scaled features; returns each library's cluster.

    Parameters
    ----------
    X : pandas.DataFrame
        Encoded governance features, rows in canonical order.
    spec : dict
        The governance specification.
    k : int
        Number of clusters.
    n_init : int, default 10
        Most starts.
    random_state : int or numpy.random.Generator, default 0
        Seeds the starts.
    replicate : int, default 0
        Stop once this many starts reach the lowest cost (0: run all ``n_init``).
    rtol : float, default 1e-9
        Relative difference under which two costs are the same optimum.

    Returns
    -------
    (labels, info)
        ``info`` holds ``cost`` and ``starts``.

    Raises
    ------
    ClusterFitError
        When there are fewer distinct libraries than ``k`` or kmodes cannot initialise.
    """
    M, cat_idx = kproto_matrix(X, spec)
    seeds = np.random.default_rng(seed_of(random_state)).integers(0, 2**31 - 1, max(int(n_init), 1))
    runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in seeds:
            model = KPrototypes(n_clusters=k, init="Cao", n_init=1, random_state=int(seed), n_jobs=1)
            try:
                labels = np.asarray(model.fit_predict(M, categorical=cat_idx), dtype=int)
            except ValueError as exc:
                if "could not initialize" not in str(exc):
                    raise
                continue
            runs.append((float(model.cost_), labels))
            costs = np.array([c for c, _ in runs])
            if replicate and len(runs) >= replicate and (costs <= costs.min() * (1 + rtol)).sum() >= replicate:
                break
    if not runs:
        raise ClusterFitError(f"k-prototypes with {k} clusters: no start could initialise")
    cost, labels = min(runs, key=lambda r: r[0])
    return labels, {"cost": cost, "starts": len(runs)}
