"""Fitting governance clusterings: a registry of methods, choice of k, canonical labels, agreement.

Methods are registered in :data:`FITTERS` (name -> function fitting k clusters on rows in canonical
order). Rows are put in a canonical order (by ``id_column``) before clustering and labels are
numbered by cluster size, so a different row order gives the same partition with the same labels.
The number of clusters is chosen from ``k_range``: the largest average silhouette on the Gower
distances for ``pam`` and ``kprototypes``; for ``latent_class`` the lowest value of the stated
information criterion (``clustering.lca_criterion``: ``bic``, ``sabic``, ``icl_bic`` or ``aic``).

Numerical libraries run on one thread inside these functions (``threadpoolctl``): the matrices are
small (classes x features), and a thread pool per process oversubscribes a shared machine's
cores for no gain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from cmlkit.errors import ClusterFitError, GovernanceError
from cmlkit.governance_spec import METHODS, FeatureRows, build_features, distinct_rows, load_spec
from cmlkit.gower import gower_matrix
from cmlkit.kproto import kprototypes
from cmlkit.latent_class import latent_class, seed_of
from cmlkit.pam import clara, pam, silhouette

CRITERIA = ("bic", "sabic", "icl_bic", "aic", "aic3")


@dataclass
class Clustering:
    """Result of :func:`cluster_libraries`.

    ``labels``, ``features`` and ``posterior`` follow the input rows; ``distances`` (Gower, input row
    order; None above ``pam_max_n`` rows) is kept so that later steps (stability, maps, other
    methods) do not compute it again.
    """

    labels: pd.Series                 # cluster number per row, index of the input
    method: str
    k: int
    selection: pd.DataFrame           # one row per k tried: criterion values
    features: pd.DataFrame
    medoids: list = field(default_factory=list)   # ids of the medoid libraries (pam)
    info: dict = field(default_factory=dict)
    distances: np.ndarray | None = field(default=None, repr=False)
    posterior: np.ndarray | None = field(default=None, repr=False)   # latent class: n x k responsibilities


def _fit_pam(X, spec, k, *, D=None, n_init=10, random_state=0, warm=None, replicate=0):
    if D is not None:
        med, labels = pam(D, k)
        return labels, {"medoids": med}
    med, labels, cost = clara(X.frame() if isinstance(X, FeatureRows) else X, spec, k, random_state=seed_of(random_state))
    return labels, {"medoids": med, "cost": cost}


def _fit_kprototypes(X, spec, k, *, D=None, n_init=10, random_state=0, warm=None, replicate=0):
    return kprototypes(X, spec, k, n_init=n_init, random_state=random_state, replicate=replicate)


def _fit_latent_class(X, spec, k, *, D=None, n_init=10, random_state=0, warm=None, replicate=0):
    return latent_class(X, spec, k, n_init=n_init, random_state=random_state, init_resp=warm, replicate=replicate)


#: clustering methods by name: ``f(X, spec, k, *, D, n_init, random_state, warm, replicate) -> (labels, extra)``,
#: rows of ``X`` (and ``D``) in canonical order; ``warm`` is a warm start where the method takes one;
#: ``replicate`` > 0 stops the random starts once their best optimum has been reached that many times.
FITTERS: dict[str, Callable] = {"pam": _fit_pam, "kprototypes": _fit_kprototypes, "latent_class": _fit_latent_class}
assert set(FITTERS) == set(METHODS)


def fit_once(X, spec, method, k, *, D=None, n_init=10, random_state=0, warm=None, replicate=0):
    """Labels (and criteria) for one method at one k on rows already in canonical order.

    Parameters
    ----------
    X : pandas.DataFrame or FeatureRows
        Encoded features in canonical order (a bootstrap passes its resamples as ``FeatureRows``).
    spec : dict
        The governance specification.
    method : str
        A key of :data:`FITTERS`.
    k : int
        Number of clusters.
    D : numpy.ndarray, optional
        Gower distances of ``X`` (PAM uses them; CLARA runs when None).
    n_init : int, default 10
        Most random starts.
    random_state : int or numpy.random.Generator, default 0
        Seeds the method.
    warm : array, optional
        Warm start (latent class: responsibilities, n x k).
    replicate : int, default 0
        Stop the random starts once their best optimum has been reached this many times (0: run
        all ``n_init``, as for the reported partition).

    Returns
    -------
    (labels, extra)

    Raises
    ------
    GovernanceError
        For an unknown method; ``ClusterFitError`` when the method cannot form ``k`` clusters.
    """
    if method not in FITTERS:
        raise GovernanceError(f"unknown clustering method {method!r}; use one of {list(FITTERS)}")
    distinct = distinct_rows(X)
    if distinct < k:
        raise ClusterFitError(f"cannot form {k} clusters from {distinct} distinct libraries")
    return FITTERS[method](X, spec, k, D=D, n_init=n_init, random_state=random_state, warm=warm, replicate=replicate)


def canonical_labels(labels, ids) -> np.ndarray:
    """Renumber clusters 0..k-1 by decreasing size, ties by the smallest id in the cluster.

    Parameters
    ----------
    labels : array
        Cluster of each row.
    ids : array
        Library id of each row.

    Returns
    -------
    numpy.ndarray of int
    """
    labels = np.asarray(labels)
    ids = np.asarray(ids).astype(str)
    t = pd.DataFrame({"c": labels, "id": ids}).groupby("c").agg(n=("id", "size"), first=("id", "min"))
    t = t.sort_values(["n", "first"], ascending=[False, True])
    mapping = {c: i for i, c in enumerate(t.index)}
    return pd.Series(labels).map(mapping).to_numpy(dtype=int)


def canonical_order(data: pd.DataFrame, id_column: str = "library_id") -> tuple[np.ndarray, np.ndarray]:
    """Positions that sort ``data`` by library id, and the sorted ids.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per library.
    id_column : str, default "library_id"
        The library id column.

    Returns
    -------
    (order, sorted_ids)

    Raises
    ------
    GovernanceError
        When the id column is missing or an id appears twice.
    """
    if id_column not in data.columns:
        raise GovernanceError(f"column {id_column!r} (library id) not in the data")
    ids = data[id_column].astype(str)
    if ids.duplicated().any():
        raise GovernanceError(f"library id {ids[ids.duplicated()].iloc[0]!r} appears twice; cluster one row per library")
    order = np.argsort(ids.to_numpy(), kind="stable")
    return order, ids.to_numpy()[order]


def cluster_libraries(data: pd.DataFrame, spec: dict | None = None, *, method: str | None = None, k: int | None = None,
                      k_range=None, id_column: str = "library_id", n_init: int | None = None,
                      random_state=None, threads: int = 1) -> Clustering:
    """Cluster libraries on their governance features, choosing k when it is not given.

    Parameters
    ----------
    data : pandas.DataFrame
        Clean (or weighted) library responses with the feature source columns and ``id_column``.
    spec : dict, optional
        ``load_spec`` output (default: ``research/governance.yml``).
    method : {"pam", "kprototypes", "latent_class"}, optional
        Default from the specification.
    k : int, optional
        Number of clusters; chosen over ``k_range`` when None (silhouette on Gower distances for pam
        and kprototypes, the stated criterion for latent_class).
    k_range : (int, int), optional
        Smallest and largest k tried (default from the specification).
    id_column : str, default "library_id"
        Library id; rows are clustered in the order of this id.
    n_init : int, optional
        Most random starts (default from the specification).
    random_state : int, optional
        Default from the specification.
    threads : int, default 1
        Threads the numerical libraries may use.

    Returns
    -------
    Clustering
    """
    spec = spec or load_spec()
    cfg = spec.get("clustering", {})
    method = method or cfg.get("method", "pam")
    if method not in FITTERS:
        raise GovernanceError(f"unknown clustering method {method!r}; use one of {list(FITTERS)}")
    criterion = str(cfg.get("lca_criterion", "bic")).lower()
    if criterion not in CRITERIA:
        raise GovernanceError(f"clustering.lca_criterion must be one of {list(CRITERIA)}, not {criterion!r}")
    order, sorted_ids = canonical_order(data, id_column)
    with threadpool_limits(limits=threads):
        X = build_features(data, spec).iloc[order].reset_index(drop=True)
        D = gower_matrix(X, spec) if len(X) <= int(cfg.get("pam_max_n", 3000)) else None
        return _cluster(X, D, sorted_ids, order, data.index, spec, method=method, k=k, k_range=k_range,
                        n_init=int(n_init or cfg.get("n_init", 10)),
                        random_state=cfg.get("random_state", 0) if random_state is None else random_state,
                        criterion=criterion)


def refit(data: pd.DataFrame, clustering: Clustering, spec: dict, method: str, *, k: int | None = None,
          n_init: int | None = None, random_state=None, id_column: str = "library_id", threads: int = 1) -> Clustering:
    """Cluster the same libraries with another method, reusing the features and distances already computed.

    Parameters
    ----------
    data : pandas.DataFrame
        The rows ``clustering`` was fitted on (for the library ids).
    clustering : Clustering
        A result of :func:`cluster_libraries` (its features and Gower distances are reused).
    spec : dict
        The governance specification.
    method : str
        A key of :data:`FITTERS`.
    k : int, optional
        Default: the k of ``clustering``.
    n_init : int, optional
        Default from the specification.
    random_state : int, optional
        Default: the one ``clustering`` used.
    id_column : str, default "library_id"
        Library id column of ``data``.
    threads : int, default 1
        Threads the numerical libraries may use.

    Returns
    -------
    Clustering
    """
    cfg = spec.get("clustering", {})
    order, sorted_ids = canonical_order(data, id_column)
    X = clustering.features.iloc[order].reset_index(drop=True)
    D = None if clustering.distances is None else clustering.distances[np.ix_(order, order)]
    with threadpool_limits(limits=threads):
        return _cluster(X, D, sorted_ids, order, data.index, spec, method=method, k=clustering.k if k is None else k, k_range=None,
                        n_init=int(n_init or cfg.get("n_init", 10)),
                        random_state=clustering.info.get("random_state", 0) if random_state is None else random_state,
                        criterion=str(cfg.get("lca_criterion", "bic")).lower())


def _k_values(k, k_range, cfg, n):
    if k is not None:
        if int(k) != k or k < 2:
            raise ClusterFitError(f"k = {k!r}: a number of clusters is a whole number of at least 2")
        return [int(k)]
    lo, hi = k_range or cfg.get("k_range", [2, 6])
    return [kk for kk in range(int(lo), int(hi) + 1) if kk < n]


def _cluster(X, D, sorted_ids, order, index, spec, *, method, k, k_range, n_init, random_state, criterion):
    """Choose k and fit on canonical rows; return labels in the input order."""
    cfg = spec.get("clustering", {})
    n = len(X)
    ks = _k_values(k, k_range, cfg, n)
    select_max_n = int(cfg.get("select_max_n", 10000))
    sub = None
    if len(ks) > 1 and n > select_max_n and method != "pam":
        # choose k on a random subsample; the chosen k is then fitted on every library
        sub = np.sort(np.random.default_rng(seed_of(random_state)).choice(n, size=select_max_n, replace=False))
    Xk = X if sub is None else X.iloc[sub].reset_index(drop=True)
    rows, fits = [], {}
    for kk in ks:
        labels, extra = fit_once(Xk, spec, method, kk, D=D if sub is None else None, n_init=n_init,
                                 random_state=random_state)
        fits[kk] = (labels, extra)
        row = {"k": kk, "clusters_found": int(len(np.unique(labels)))}
        if D is not None and sub is None:
            row["silhouette"] = silhouette(D, labels)
        else:
            ss = np.random.default_rng(0).choice(len(Xk), size=min(len(Xk), 2000), replace=False)
            row["silhouette"] = silhouette(gower_matrix(Xk, spec, rows=ss, cols=ss), labels[ss])
        row.update({key: extra[key] for key in (*CRITERIA, "loglik", "starts", "best_reached") if key in extra})
        rows.append(row)
    selection = pd.DataFrame(rows)
    single, one = None, {}
    if method == "latent_class" and not k:
        _, one = latent_class(Xk, spec, 1, n_init=1, random_state=random_state)
        single = one[criterion]
    if len(ks) == 1:
        chosen = ks[0]
    elif method == "latent_class":
        chosen = int(selection.loc[selection[criterion].idxmin(), "k"])
    else:
        chosen = int(selection.loc[selection["silhouette"].idxmax(), "k"])
    selection["chosen"] = selection["k"] == chosen
    selection["criterion"] = f"lowest {criterion.upper()}" if method == "latent_class" else "largest average silhouette (Gower)"
    labels, extra = fits[chosen]
    if sub is not None:
        labels, extra = fit_once(X, spec, method, chosen, D=None, n_init=n_init, random_state=random_state)
    canon = canonical_labels(labels, sorted_ids)
    back = np.empty(n, dtype=int)
    back[order] = canon
    inverse = np.argsort(order)
    post = extra.get("posterior")
    if post is not None:
        # columns in canonical label order, rows in input order
        perm = _label_perm(labels, canon, post.shape[1])
        post = post[:, perm][inverse]
    sil = float(selection.loc[selection["k"] == chosen, "silhouette"].iloc[0])
    features = X.iloc[inverse].set_axis(index)
    return Clustering(labels=pd.Series(back, index=index, name="cluster"), method=method, k=chosen,
                      selection=selection, features=features,
                      medoids=[str(sorted_ids[m]) for m in extra.get("medoids", [])],
                      info={"n": n, "random_state": random_state, "n_init": n_init,
                            "distance": ("gower" if D is not None else "gower (CLARA)") if method == "pam" else None,
                            "criterion": criterion if method == "latent_class" else "silhouette",
                            "silhouette": sil, "bic_one_class": one.get("bic"), "criterion_one_class": single,
                            "one_class_preferred": bool(single is not None and single <= selection[criterion].min()),
                            "k_chosen_on": int(select_max_n) if sub is not None else n},
                      distances=None if D is None else D[np.ix_(inverse, inverse)], posterior=post)


def _label_perm(raw, canon, k):
    """Order of the raw posterior columns that puts them in canonical label order."""
    mapping = dict(zip(np.asarray(raw).tolist(), np.asarray(canon).tolist()))
    perm = np.arange(k)
    taken = [mapping[r] for r in range(k) if r in mapping]
    rest = iter(sorted(set(range(k)) - set(taken)))
    pos = {r: mapping[r] if r in mapping else next(rest) for r in range(k)}
    for r, c in pos.items():
        perm[c] = r
    return perm


def adjusted_rand(a, b) -> float:
    """Adjusted Rand index between two labelings (``sklearn.metrics.adjusted_rand_score``).

    Parameters
    ----------
    a, b : array
        Labels of the same rows; rows missing in either are left out.

    Returns
    -------
    float
        1.0 when the labelings pair the rows alike (no rows included).

    Notes
    -----
    scikit-learn's formula on the pair counts, in exact integers (so the same float to the last bit;
    tests/test_governance.py compares them): written out because importing ``sklearn.metrics`` took a
    second of the governance step for a handful of integer sums.
    """
    a, b = pd.Series(np.asarray(a)).astype(str), pd.Series(np.asarray(b)).astype(str)
    ok = ((a != "nan") & (b != "nan")).to_numpy()
    _, ca = np.unique(a.to_numpy()[ok], return_inverse=True)
    _, cb = np.unique(b.to_numpy()[ok], return_inverse=True)
    n = int(ok.sum())
    table = np.zeros((ca.max(initial=-1) + 1, cb.max(initial=-1) + 1), dtype=np.int64)
    np.add.at(table, (ca.ravel(), cb.ravel()), 1)
    table = table.astype(object)                 # Python integers: no overflow in the pair counts
    squares = int((table ** 2).sum())
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    fp = int((table @ cols).sum()) - squares      # pairs together in b only (sklearn's C[0, 1])
    fn = int((table.T @ rows).sum()) - squares    # together in a only (C[1, 0])
    tp, tn = squares - n, n * n - fp - fn - squares
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def crosstab(clusters, stated, *, names=None) -> pd.DataFrame:
    """Cross-tabulation of clusters (rows) by a stated type (columns), with totals.

    Parameters
    ----------
    clusters : array
        Cluster of each library.
    stated : array
        Stated governance type of each library (missing shown as ``(missing)``).
    names : dict, optional
        Cluster number -> name.

    Returns
    -------
    pandas.DataFrame
    """
    c = pd.Series(np.asarray(clusters))
    if names is not None:
        c = c.map(names).fillna(c.astype(str))
    return pd.crosstab(c.rename("cluster"), pd.Series(np.asarray(stated), name="stated").fillna("(missing)"),
                       margins=True, margins_name="Total")
