"""Governance clusters of a new wave matched to the previous wave's, so model names stay stable across waves.

Each wave's clustering (notebook 40) writes a profile per cluster (``tables/governance/profiles.csv``: shares and
medians of the governance features). The clusters of two waves are matched by profile: features standardised over
both waves' clusters, Euclidean distance, optimal one-to-one assignment (Hungarian algorithm,
``scipy.optimize.linear_sum_assignment``). A pair further apart than ``max_distance`` (default: the median distance
over all pairs) is not a match: the new cluster is a new model and the previous one has disappeared. Matched
clusters keep the previous wave's name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROFILE_SUFFIXES = ("(share)", "(median)")


def profile_features(prev: pd.DataFrame, new: pd.DataFrame) -> list:
    """Numeric profile columns present in both waves' profiles.

    Parameters
    ----------
    prev, new : pandas.DataFrame
        Cluster profiles of the previous and the new wave.

    Returns
    -------
    list of str
        Columns of ``prev`` (in its order) whose name ends with one of :data:`PROFILE_SUFFIXES`
        (``(share)``, ``(median)``), that ``new`` also has, and that are numeric in both.
    """
    return [c for c in prev.columns if c.endswith(PROFILE_SUFFIXES) and c in new.columns
            and pd.api.types.is_numeric_dtype(prev[c]) and pd.api.types.is_numeric_dtype(new[c])]


def distances(prev: pd.DataFrame, new: pd.DataFrame, features=None) -> np.ndarray:
    """Distance between every previous and new cluster profile, features standardised jointly.

    Parameters
    ----------
    prev, new : pandas.DataFrame
        Cluster profiles of the previous and the new wave.
    features : list of str, optional
        Profile columns to compare (default, and when empty: :func:`profile_features`).

    Returns
    -------
    numpy.ndarray
        ``len(prev)`` x ``len(new)`` Euclidean distances.

    Notes
    -----
    Each feature is standardised over the clusters of both waves together (mean 0, population SD 1;
    a feature with SD 0 is only centred); a missing standardised value counts as 0, the joint mean.
    """
    features = features or profile_features(prev, new)
    X = pd.concat([prev[features], new[features]], ignore_index=True).astype(float)
    sd = X.std(ddof=0).replace(0, 1.0)
    Z = ((X - X.mean()) / sd).fillna(0.0).to_numpy()
    A, B = Z[:len(prev)], Z[len(prev):]
    return np.sqrt(((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=2))


def match_clusters(prev: pd.DataFrame, new: pd.DataFrame, *, max_distance: float | None = None) -> pd.DataFrame:
    """Match the new wave's clusters to the previous wave's.

    Parameters
    ----------
    prev, new : DataFrame
        Cluster profiles (``cluster``, ``name`` and the profile columns) of the previous and the new wave.
    max_distance : float, optional
        Largest distance accepted as the same model (default: the median distance over all pairs).

    Returns
    -------
    DataFrame
        One row per cluster of either wave: ``cluster_new, name_new, cluster_previous, name_previous, distance,
        status`` (``matched``, ``new model``, ``disappeared``), ``stable_name`` and ``statement``.
    """
    from scipy.optimize import linear_sum_assignment   # imported here: a kernel that does not call this does not load it
    D = distances(prev, new)
    limit = float(np.median(D)) if max_distance is None else float(max_distance)
    # pairs beyond the limit cost more than any set of acceptable pairs: the assignment first maximises the
    # number of acceptable matches, then minimises their total distance
    big = D.size * (float(D.max()) + 1.0)
    r, c = linear_sum_assignment(np.where(D <= limit, D, big))
    ok = D[r, c] <= limit
    rows = [{"cluster_new": int(new["cluster"].iloc[j]), "name_new": new["name"].iloc[j],
             "cluster_previous": int(prev["cluster"].iloc[i]), "name_previous": prev["name"].iloc[i],
             "distance": float(D[i, j]), "status": "matched", "stable_name": prev["name"].iloc[i]}
            for i, j in zip(r[ok], c[ok])]
    rows += [{"cluster_new": int(new["cluster"].iloc[j]), "name_new": new["name"].iloc[j], "cluster_previous": None,
              "name_previous": None, "distance": float(D[:, j].min()), "status": "new model", "stable_name": new["name"].iloc[j]}
             for j in sorted(set(range(len(new))) - set(c[ok]))]
    rows += [{"cluster_new": None, "name_new": None, "cluster_previous": int(prev["cluster"].iloc[i]),
              "name_previous": prev["name"].iloc[i], "distance": float(D[i, :].min()), "status": "disappeared",
              "stable_name": prev["name"].iloc[i]} for i in sorted(set(range(len(prev))) - set(r[ok]))]
    out = pd.DataFrame(rows)
    out["cluster_new"] = out["cluster_new"].astype("Int64")
    out["cluster_previous"] = out["cluster_previous"].astype("Int64")
    out["statement"] = np.select(
        [out["status"] == "matched", out["status"] == "new model"],
        ["cluster " + out["cluster_new"].astype("string") + " continues '" + out["name_previous"].astype("string") + "'",
         "cluster " + out["cluster_new"].astype("string") + " ('" + out["name_new"].astype("string")
         + "') is a new model: no previous cluster within the matching distance"],
        "'" + out["name_previous"].astype("string") + "' has disappeared: no new cluster within the matching distance")
    out.insert(0, "max_distance", limit)
    return out


def match_waves(profiles: dict, *, waves: list, max_distance: float | None = None) -> pd.DataFrame:
    """:func:`match_clusters` for each consecutive pair of waves that both have profiles.

    Parameters
    ----------
    profiles : dict
        Wave id -> cluster profile table of that wave (as :func:`match_clusters` takes).
    waves : list of str
        Wave ids in order; a pair of consecutive waves is matched when both are in ``profiles``.
    max_distance : float, optional
        Passed to :func:`match_clusters` (default: each pair's median distance over all pairs).

    Returns
    -------
    pandas.DataFrame
        :func:`match_clusters` tables stacked, with ``wave_previous`` and ``wave_new`` as the first
        columns; when no pair has profiles, an empty table with columns ``wave_previous, wave_new,
        status, statement``.
    """
    parts = [match_clusters(profiles[a], profiles[b], max_distance=max_distance).assign(wave_previous=a, wave_new=b)
             for a, b in zip(waves, waves[1:]) if a in profiles and b in profiles]
    if not parts:
        return pd.DataFrame(columns=["wave_previous", "wave_new", "status", "statement"])
    out = pd.concat(parts, ignore_index=True)
    return out[["wave_previous", "wave_new", *[c for c in out.columns if c not in ("wave_previous", "wave_new")]]]
