"""Cluster stability by bootstrap, calibrated against noise (``fpc::clusterboot`` with a permutation null).

Each resample draws libraries with replacement, reclusters the distinct libraries drawn with the
same method and k, and records for every original cluster the largest Jaccard similarity with a
resample cluster (on the libraries in the resample). A cluster's stability is the mean over
resamples, read as Hennig does (at most 0.5 dissolved, below 0.6 unstable, below 0.75 doubtful,
from 0.75 stable, from 0.85 highly stable).

Those thresholds are not calibrated for every method: on features with no structure at all,
k-prototypes can reproduce its own partition well. So the same bootstrap is run on a copy of the
features with each column permuted independently (the null: same marginals, no structure), and a
cluster is read as "stable" only when its mean Jaccard beats the largest clusterwise mean Jaccard of
the null by ``stability.null_margin``, and, for PAM and k-prototypes, the partition's average
silhouette width reaches ``stability.min_silhouette`` (for the latent class model: BIC must not prefer
one class). Otherwise the verdict is "not above noise", with the reason. The null bootstrap stops
early, after ``stability.null_min_resamples``, once no verdict can change whatever the remaining
resamples give (Jaccards lie in [0, 1]).

A resample that cannot be clustered into k clusters (``ClusterFitError``) dissolves every cluster in
that resample; any other exception is a bug and propagates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from cmlkit.cluster_fit import Clustering, canonical_order, fit_once
from cmlkit.errors import ClusterFitError
from cmlkit.governance_spec import FeatureRows, distinct_rows, load_spec
from cmlkit.gower import gower_matrix
from cmlkit.kproto_many import kprototypes_many
from cmlkit.latent_class import latent_class_many, seed_of
from cmlkit.progress import track

#: defaults of the ``stability`` section of ``research/governance.yml``
THRESHOLDS = {"dissolved": 0.5, "unstable": 0.6, "stable": 0.75, "highly_stable": 0.85,
              "null_margin": 0.1, "min_silhouette": 0.25, "null_min_resamples": 20}
STABLE = ("stable", "highly stable")
#: methods whose "stable" verdicts also need the stated average silhouette width
SILHOUETTE_GATED = ("pam", "kprototypes")


def stability_verdict(j: float, thresholds: dict | None = None) -> str:
    """Hennig's reading of a clusterwise mean Jaccard.

    Parameters
    ----------
    j : float
        Mean Jaccard of a cluster over resamples.
    thresholds : dict, optional
        ``dissolved``, ``unstable``, ``stable``, ``highly_stable`` (defaults 0.5, 0.6, 0.75, 0.85).

    Returns
    -------
    str
        ``dissolved``, ``unstable``, ``doubtful``, ``stable`` or ``highly stable``.
    """
    t = {**THRESHOLDS, **(thresholds or {})}
    if not np.isfinite(j) or j <= t["dissolved"]:
        return "dissolved"
    if j < t["unstable"]:
        return "unstable"
    if j < t["stable"]:
        return "doubtful"
    if j < t["highly_stable"]:
        return "stable"
    return "highly stable"


def _jaccard_best(orig: np.ndarray, boot: np.ndarray, k: int) -> np.ndarray:
    """For each original cluster, the best Jaccard with any cluster of the bootstrap partition."""
    o = np.eye(k, dtype=bool)[orig]                        # n x k
    kb = int(boot.max()) + 1
    b = np.eye(kb, dtype=bool)[boot]                        # n x kb
    inter = o.T.astype(float) @ b.astype(float)            # k x kb
    union = o.sum(0)[:, None] + b.sum(0)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        jac = np.where(union > 0, inter / union, 0.0)
    present = o.sum(0) > 0
    return np.where(present, jac.max(axis=1), np.nan)


def resample_jaccards(X: pd.DataFrame, orig: np.ndarray, spec: dict, method: str, k: int, *, B: int, rng,
                      D=None, warm=None, n_init: int = 5, stop=None, desc: str = "bootstrap") -> np.ndarray:
    """Clusterwise best Jaccard in each bootstrap resample (B x k; fewer rows when ``stop`` ends it early).

    Parameters
    ----------
    X : pandas.DataFrame
        Encoded features in canonical order.
    orig : numpy.ndarray
        The partition being checked (labels 0..k-1 of the rows of ``X``).
    spec : dict
        The governance specification.
    method : str
        Clustering method (a key of ``cluster_fit.FITTERS``).
    k : int
        Number of clusters.
    B : int
        Resamples.
    rng : numpy.random.Generator
        Draws the resamples and the seeds of the refits.
    D : numpy.ndarray, optional
        Gower distances of ``X`` (PAM).
    warm : numpy.ndarray, optional
        Full-data responsibilities (latent class), subset to each resample as a warm start.
    n_init : int, default 5
        Most random starts per refit; they stop once their best optimum has been reached twice.
    stop : callable, optional
        ``stop(jaccards_so_far, b) -> bool``, checked after each resample.
    desc : str, default "bootstrap"
        What the progress line counts (:func:`cmlkit.progress.track`: a bar on a terminal, the runner's
        progress line inside a pipeline, a closing line otherwise).

    Returns
    -------
    numpy.ndarray
    """
    n = len(X)
    rows = FeatureRows(X)      # each resample's rows, with the columns read once for all of them
    if method in BATCHED:
        return _batched_jaccards(rows, orig, k, B=B, rng=rng, stop=stop, desc=desc,
                                 refits=lambda batch: BATCHED[method](rows, spec, k, batch, warm, n_init))
    jac = np.full((B, k), np.nan)
    for b in track(range(B), desc=desc):
        idx = np.unique(rng.integers(0, n, n))
        try:
            lab, _ = fit_once(rows.take(idx), spec, method, k,
                              D=None if D is None else D[np.ix_(idx, idx)], n_init=n_init,
                              random_state=int(rng.integers(0, 2**31 - 1)),
                              warm=None if warm is None else warm[idx], replicate=2)
        except ClusterFitError:    # the resample cannot hold k clusters: every cluster dissolves
            jac[b] = 0.0
        else:
            jac[b] = _jaccard_best(orig[idx], np.asarray(lab), k)
        if stop is not None and stop(jac[:b + 1], b + 1):
            return jac[:b + 1]
    return jac


def _batched_jaccards(rows, orig, k, *, B, rng, stop, desc, refits):
    """:func:`resample_jaccards` of a method whose refits run together: those of a batch of resamples (all of
    them, or ten at a time when ``stop`` may end the bootstrap) go to ``refits`` at once. The resamples and
    seeds are drawn in the same order, and each refit is the one ``fit_once`` makes."""
    n = len(rows)
    jac = np.full((B, k), np.nan)
    batch, first = [], 0
    for b in track(range(B), desc=desc):
        if b == first + len(batch):
            first, batch = b, []
            for _ in range(min(10 if stop is not None else B, B - b)):
                idx = np.unique(rng.integers(0, n, n))
                batch.append((idx, int(rng.integers(0, 2**31 - 1))))
            fits = refits(batch)
        idx, fit = batch[b - first][0], fits[b - first]
        # a resample that cannot hold k clusters: every cluster dissolves
        jac[b] = 0.0 if isinstance(fit, ClusterFitError) else _jaccard_best(orig[idx], np.asarray(fit[0]), k)
        if stop is not None and stop(jac[:b + 1], b + 1):
            return jac[:b + 1]
    return jac


def _latent_refits(rows, spec, k, batch, warm, n_init):
    """``fit_once(..., "latent_class", k, replicate=2)`` of each resample: labels and criteria, or the ClusterFitError."""
    subsets = [rows.take(idx) for idx, _ in batch]
    few = [distinct_rows(s) < k for s in subsets]
    fits = iter(latent_class_many([s for s, f in zip(subsets, few) if not f], spec, k, n_init=n_init,
                                  random_states=[seed for (_, seed), f in zip(batch, few) if not f],
                                  init_resps=[None if warm is None else warm[idx] for (idx, _), f in zip(batch, few) if not f],
                                  replicate=2))
    return [ClusterFitError(f"cannot form {k} clusters") if f else next(fits) for f in few]


def _kproto_refits(rows, spec, k, batch, warm, n_init):
    """``fit_once(..., "kprototypes", k, replicate=2)`` of each resample: labels and criteria, or the ClusterFitError."""
    return kprototypes_many([rows.take(idx) for idx, _ in batch], spec, k, n_init=n_init,
                            random_states=[seed for _, seed in batch], replicate=2)


#: methods whose bootstrap refits run together: ``refits(rows, spec, k, batch, warm, n_init)`` -> one fit
#: (labels, criteria) or ClusterFitError per (row positions, seed) of the batch
BATCHED = {"latent_class": _latent_refits, "kprototypes": _kproto_refits}


def refit_starts(clustering: Clustering) -> int:
    """Most random starts of a bootstrap refit.

    Half the starts of the reported fit (at least two), as ``fpc::clusterboot`` users commonly do;
    for a latent class model, which is warm started from the full-data posterior, two random starts
    check it (the highest likelihood of the three is kept).

    Parameters
    ----------
    clustering : Clustering
        The reported clustering.

    Returns
    -------
    int
    """
    if clustering.posterior is not None:
        return 2
    return max(2, int(clustering.info.get("n_init", 10)) // 2)


def permuted_features(X: pd.DataFrame, *, random_state=0) -> pd.DataFrame:
    """A copy of ``X`` with each column permuted independently: same marginals, no structure.

    Parameters
    ----------
    X : pandas.DataFrame
        Encoded features.
    random_state : int or numpy.random.Generator, default 0
        Seeds the permutations.

    Returns
    -------
    pandas.DataFrame
    """
    rng = np.random.default_rng(random_state)
    n = len(X)
    return pd.DataFrame({c: X[c].to_numpy()[rng.permutation(n)] for c in X.columns})


def clusterboot(data: pd.DataFrame, clustering: Clustering, spec: dict | None = None, *, B: int | None = None,
                id_column: str = "library_id", random_state=None, null: bool = True, threads: int = 1) -> pd.DataFrame:
    """Clusterwise stability by bootstrap, beside the same bootstrap on permuted features.

    Parameters
    ----------
    data : pandas.DataFrame
        The rows ``clustering`` was fitted on.
    clustering : Clustering
        Result of ``cluster_libraries`` (or ``refit``).
    spec : dict, optional
        The governance specification (``stability`` thresholds, ``clustering.bootstrap``).
    B : int, optional
        Resamples (default ``clustering.bootstrap``); the null runs up to the same number.
    id_column : str, default "library_id"
        Library id column.
    random_state : int, optional
        Default ``clustering.random_state``.
    null : bool, default True
        Run the permutation null (without it no verdict is checked against noise).
    threads : int, default 1
        Threads the numerical libraries may use.

    Returns
    -------
    pandas.DataFrame
        One row per cluster: ``method, cluster, n, mean_jaccard, dissolved, recovered,
        null_max_jaccard, reading`` (Hennig's), ``verdict`` and ``reason`` (why a stable reading
        is not above noise). ``attrs["overall"]`` holds the mean over clusters of their mean Jaccard
        (each cluster counts once), its verdict, the smallest clusterwise value, ``B``, and the
        null's mean and largest clusterwise Jaccard with the resamples it ran (``null_B``).
    """
    spec = spec or load_spec()
    cfg = spec.get("clustering", {})
    thr = {**THRESHOLDS, **spec.get("stability", {})}
    B = cfg.get("bootstrap", 100) if B is None else B
    if int(B) != B or B < 1:
        raise ClusterFitError(f"bootstrap = {B!r}: the resamples are a whole number, at least 1")
    B = int(B)
    seed = cfg.get("random_state", 0) if random_state is None else random_state
    rng = np.random.default_rng(seed)
    order, _ids = canonical_order(data, id_column)
    X = clustering.features.iloc[order].reset_index(drop=True)
    orig = clustering.labels.to_numpy()[order]
    n, k, method = len(X), clustering.k, clustering.method
    pam_max_n = int(cfg.get("pam_max_n", 3000))
    D = None
    if method == "pam" and n <= pam_max_n:
        D = clustering.distances[np.ix_(order, order)] if clustering.distances is not None else gower_matrix(X, spec)
    warm = None if clustering.posterior is None else clustering.posterior[order]
    n_init = refit_starts(clustering)
    with threadpool_limits(limits=threads):
        jac = resample_jaccards(X, orig, spec, method, k, B=B, rng=rng, D=D, warm=warm, n_init=n_init,
                                desc=f"{method} bootstrap resamples")
        mean = np.nanmean(jac, axis=0)
        overall = float(np.nanmean(mean))
        gate = _structure_gate(clustering, thr)
        nul = _null(X, spec, clustering, B=B, seed=seed, thr=thr, mean=mean, overall=overall, gate=gate,
                    pam_max_n=pam_max_n, n_init=n_init) if null else None
    sizes = np.bincount(orig, minlength=k)
    out = pd.DataFrame({"method": method, "cluster": np.arange(k), "n": sizes, "mean_jaccard": mean,
                        "dissolved": (jac <= thr["dissolved"]).sum(axis=0), "recovered": (jac >= 0.75).sum(axis=0)})
    out["null_max_jaccard"] = np.nan if nul is None else nul["max"]
    out["reading"] = [stability_verdict(m, thr) for m in mean]
    reasons = [_reason(m, r, gate, nul, thr) for m, r in zip(mean, out["reading"])]
    out["verdict"] = [("not above noise" if why else r) for r, why in zip(out["reading"], reasons)]
    out["reason"] = reasons
    reading = stability_verdict(overall, thr)
    why = _reason(overall, reading, gate, nul, thr, key="mean")
    out.attrs["overall"] = {"mean_jaccard": overall, "verdict": "not above noise" if why else reading, "reading": reading,
                            "reason": why, "B": B, "min_cluster_jaccard": float(np.nanmin(mean)),
                            "null_mean_jaccard": None if nul is None else nul["mean"],
                            "null_max_jaccard": None if nul is None else nul["max"],
                            "null_B": None if nul is None else nul["B"], "null_margin": thr["null_margin"],
                            "silhouette": clustering.info.get("silhouette")}
    return out


def _structure_gate(clustering: Clustering, thr: dict) -> str:
    """Why no cluster of this partition can be stable, whatever the bootstrap says ('' when none)."""
    if clustering.method in SILHOUETTE_GATED:
        sil = clustering.info.get("silhouette")
        if sil is None or not np.isfinite(sil) or sil < thr["min_silhouette"]:
            return f"average silhouette width {sil:.2f} is below {thr['min_silhouette']}"
    if clustering.info.get("one_class_preferred"):
        return "the information criterion prefers one class (no cluster structure)"
    return ""


def _reason(value, reading, gate, nul, thr, key="max"):
    if reading not in STABLE:
        return ""
    if gate:
        return gate
    if nul is not None and value < nul[key] + thr["null_margin"]:
        return (f"mean Jaccard {value:.2f} is not {thr['null_margin']} above the permuted-features null "
                f"({nul[key]:.2f})")
    return ""


def _null(X, spec, clustering, *, B, seed, thr, mean, overall, gate, pam_max_n, n_init):
    """The same bootstrap on permuted features; stops once no verdict can change."""
    rng = np.random.default_rng([seed_of(seed), 1])
    Xn = permuted_features(X, random_state=rng)
    method, k = clustering.method, clustering.k
    Dn = gower_matrix(Xn, spec) if method == "pam" and len(Xn) <= pam_max_n else None
    try:
        labels, extra = fit_once(Xn, spec, method, k, D=Dn, n_init=int(clustering.info.get("n_init", 10)),
                                 random_state=int(rng.integers(0, 2**31 - 1)))
    except ClusterFitError:      # noise that cannot even be split into k clusters: nothing to compare with
        return {"mean": 0.0, "max": 0.0, "B": 0}
    labels = np.unique(np.asarray(labels), return_inverse=True)[1]
    # only stable readings not already refused by the structure gate depend on the null
    need = [m for m in mean if stability_verdict(m, thr) in STABLE] if not gate else []
    need_overall = (stability_verdict(overall, thr) in STABLE) and not gate
    margin, floor = thr["null_margin"], int(thr["null_min_resamples"])

    def settled(jn, b):
        if b < min(floor, B):
            return False
        S = np.nansum(jn, axis=0)[np.isfinite(jn).any(axis=0)]
        lo, hi = S / B, (S + (B - b)) / B
        ok = all(m >= hi.max() + margin or m < lo.max() + margin for m in need)
        if need_overall:
            ok = ok and (overall >= hi.mean() + margin or overall < lo.mean() + margin)
        return ok

    jn = resample_jaccards(Xn, labels, spec, method, k, B=B, rng=rng, D=Dn, warm=extra.get("posterior"),
                           n_init=n_init, stop=settled, desc=f"{method} resamples of permuted features")
    per = np.nanmean(jn[:, np.isfinite(jn).any(axis=0)], axis=0)
    return {"mean": float(per.mean()), "max": float(per.max()), "B": int(len(jn)), "clusters": per.tolist()}
