"""Governance models: cluster libraries on mixed-type governance features, check stability, explain.

The public face of the governance step. The work is done by modules with one job each:

* :mod:`cmlkit.governance_spec` — ``research/governance.yml`` and the encoded features;
* :mod:`cmlkit.gower` — Gower distances (R ``cluster::daisy`` conventions), vectorised;
* :mod:`cmlkit.pam` — PAM (BUILD + SWAP), CLARA above ``pam_max_n`` rows, silhouette width;
* :mod:`cmlkit.kproto` — k-prototypes (kmodes' algorithm, vectorised);
* :mod:`cmlkit.latent_class` — the latent class model (EM in :mod:`cmlkit.lca_em`, as ``stepmix``);
* :mod:`cmlkit.cluster_fit` — the registry of methods, choice of k, canonical labels, agreement;
* :mod:`cmlkit.cluster_stability` — bootstrap stability beside a permuted-features null;
* :mod:`cmlkit.cluster_profiles` — profiles, names, distinguishing features, the map;
* :mod:`cmlkit.cluster_describe` — names, figure tables, alt text and the summary record.

This module adds what the step does with several methods at once: fit the comparison methods at
the chosen k (reusing features and distances), their agreement, and the stability of each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit.cluster_describe import (cluster_names, describe_map, describe_profiles, describe_vs_stated, profile_shares,
                               stated_shares, summary)
from cmlkit.cluster_fit import (CRITERIA, FITTERS, Clustering, adjusted_rand, canonical_labels, cluster_libraries, crosstab,
                          fit_once, refit)
from cmlkit.cluster_profiles import cluster_map, distinguishing, membership, pcoa, profile, propose_names
from cmlkit.cluster_stability import THRESHOLDS, clusterboot, permuted_features, stability_verdict
from cmlkit.errors import ClusterFitError, GovernanceError
from cmlkit.governance_spec import ENCODINGS, METHODS, build_features, default_spec_path, load_spec
from cmlkit.gower import gower_matrix, gower_parts
from cmlkit.kproto import kprototypes
from cmlkit.latent_class import latent_class
from cmlkit.pam import clara, pam, silhouette

__all__ = ["cluster_names", "describe_map", "describe_profiles", "describe_vs_stated", "profile_shares",
           "stated_shares", "summary", "CRITERIA", "ENCODINGS", "FITTERS", "METHODS", "THRESHOLDS", "ClusterFitError", "Clustering", "GovernanceError",
           "adjusted_rand", "agreement", "build_features", "canonical_labels", "clara", "cluster_libraries", "cluster_map",
           "clusterboot", "compare_methods", "crosstab", "default_spec_path", "distinguishing", "fit_once", "gower_matrix",
           "gower_parts", "kprototypes", "latent_class", "load_spec", "membership", "pam", "pcoa", "permuted_features",
           "profile", "propose_names", "refit", "replay_fit", "silhouette", "stability", "stability_verdict", "fit_settings",
           "cluster_tables"]


def compare_methods(data: pd.DataFrame, clustering: Clustering, spec: dict, *, methods=None, random_state=None,
                    id_column: str = "library_id") -> dict:
    """The chosen clustering and each comparison method fitted at the same k.

    Parameters
    ----------
    data : pandas.DataFrame
        The rows ``clustering`` was fitted on.
    clustering : Clustering
        The chosen method's result (its features and distances are reused).
    spec : dict
        The governance specification (``clustering.compare_with``).
    methods : list of str, optional
        Comparison methods (default ``clustering.compare_with``).
    random_state : int, optional
        Default: the one ``clustering`` used.
    id_column : str, default "library_id"
        Library id column.

    Returns
    -------
    dict
        Method name -> :class:`Clustering`, the chosen method first.
    """
    methods = spec.get("clustering", {}).get("compare_with", []) if methods is None else methods
    others = [m for m in methods if m != clustering.method]
    return {clustering.method: clustering,
            **{m: refit(data, clustering, spec, m, random_state=random_state, id_column=id_column) for m in others}}


def agreement(clusterings: dict, stated, *, main: str | None = None) -> pd.DataFrame:
    """Adjusted Rand index of the chosen clustering with the stated type and with each other method.

    Parameters
    ----------
    clusterings : dict
        Method -> :class:`Clustering` (:func:`compare_methods`); the first is the chosen one.
    stated : array
        The governance type stated in the frame for each library.
    main : str, optional
        The chosen method (default: the first of ``clusterings``).

    Returns
    -------
    pandas.DataFrame
        ``compared_with, method, adjusted_rand``; the stated type first.
    """
    main = main or next(iter(clusterings))
    labels = clusterings[main].labels
    rows = [{"compared_with": "stated type (frame)", "method": main, "adjusted_rand": adjusted_rand(labels, stated)}]
    rows += [{"compared_with": m, "method": main, "adjusted_rand": adjusted_rand(labels, c.labels)}
             for m, c in clusterings.items() if m != main]
    return pd.DataFrame(rows)


def stability(data: pd.DataFrame, clusterings: dict, spec: dict, *, B: int | None = None, random_state=None,
              id_column: str = "library_id") -> pd.DataFrame:
    """Bootstrap stability of every method's clusters, each beside its permuted-features null.

    Parameters
    ----------
    data : pandas.DataFrame
        The rows clustered.
    clusterings : dict
        Method -> :class:`Clustering` (:func:`compare_methods`).
    spec : dict
        The governance specification.
    B : int, optional
        Resamples (default ``clustering.bootstrap``).
    random_state : int, optional
        Default from the specification.
    id_column : str, default "library_id"
        Library id column.

    Returns
    -------
    pandas.DataFrame
        :func:`clusterboot` rows of every method; ``attrs["overall"]`` maps method -> overall summary.
    """
    tables = {m: clusterboot(data, c, spec, B=B, random_state=random_state, id_column=id_column)
              for m, c in clusterings.items()}
    out = pd.concat(list(tables.values()), ignore_index=True)
    out.attrs["overall"] = {m: t.attrs["overall"] for m, t in tables.items()}
    return out


def fit_settings(*, spec_path=None, method: str | None = None, k: int | None = None, random_state=None) -> dict:
    """What the governance step fitted with, for the stability step to fit the same clustering again.

    Parameters
    ----------
    spec_path : str or path-like, optional
        The governance specification file (None: the default, ``research/governance.yml``).
    method : str, optional
        The method asked for (None: the specification's).
    k : int, optional
        The number of clusters asked for (None: chosen by the information criterion).
    random_state : int, optional
        The seed of the fit, the comparison methods and the bootstrap.

    Returns
    -------
    dict
        ``spec_path, method, k, random_state`` as JSON values (written as ``data/governance/fit.json``).
    """
    return {"spec_path": None if spec_path is None else str(spec_path), "method": method,
            "k": None if k is None else int(k), "random_state": None if random_state is None else int(random_state)}


def replay_fit(data: pd.DataFrame, spec: dict, settings: dict, members: pd.DataFrame, *,
               id_column: str = "library_id") -> Clustering:
    """Fit again the clustering the governance step published, and check it is the same one.

    The stability step runs in its own kernel, beside the steps that use the clusters: it fits the
    chosen method again with the recorded settings (:func:`fit_settings`; the fit is deterministic
    given its seed) rather than reading a pickled model, and refuses to go on if the labels differ.

    Parameters
    ----------
    data : pandas.DataFrame
        The rows the governance step clustered (the weighted library responses).
    spec : dict
        The governance specification, built as the governance step built it.
    settings : dict
        :func:`fit_settings` as the governance step wrote it.
    members : pandas.DataFrame
        The published membership (``clusters.parquet``: ``library_id, cluster, method``).
    id_column : str, default "library_id"
        Library id column.

    Returns
    -------
    Clustering

    Raises
    ------
    GovernanceError
        When the fit gives another method, or other clusters for any library, than ``members``.
    """
    result = cluster_libraries(data, spec, method=settings["method"], k=settings["k"],
                               random_state=settings["random_state"], id_column=id_column)
    mine = pd.Series(result.labels.to_numpy(), index=data[id_column].to_numpy())
    theirs = members.set_index(id_column)["cluster"]
    published = members["method"].iloc[0] if len(members) else None
    if published != result.method or len(theirs) != len(mine) or not np.array_equal(
            mine.reindex(theirs.index).to_numpy(), theirs.to_numpy()):
        raise GovernanceError(f"fitting {settings} again gives another clustering ({result.method}, k = {result.k}) "
                              f"than the published clusters ({published}): the step's inputs changed under it")
    return result


def cluster_tables(data: pd.DataFrame, clusterings: dict, spec: dict) -> tuple:
    """What both governance steps publish about the chosen clusters: agreement, profiles, names and cross-tab.

    One function, so that step 40 (the CSV files and figures) and step 41 (the workbook and ``summary.json``)
    cannot describe the same clusters differently.

    Parameters
    ----------
    data : pandas.DataFrame
        The rows clustered, with ``type`` (stated governance type), ``weight`` and ``region``.
    clusterings : dict
        Method -> :class:`Clustering` (:func:`compare_methods`), the chosen one first.
    spec : dict
        The governance specification.

    Returns
    -------
    tuple
        ``(agreement, profiles, names, crosstab)``: :func:`agreement`, :func:`profile`,
        :func:`cluster_names` and :func:`crosstab` of the chosen clustering.
    """
    result = next(iter(clusterings.values()))
    agreed = agreement(clusterings, data["type"])
    profiles = profile(result, spec, weights=data["weight"], regions=data["region"])
    names = cluster_names(profiles)
    return agreed, profiles, names, crosstab(result.labels, data["type"], names=names)


def stable_share(table: pd.DataFrame) -> float:
    """Share of clusters in a :func:`stability` table whose verdict is stable or highly stable.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`clusterboot` or :func:`stability`.

    Returns
    -------
    float
    """
    return float(np.mean(table["verdict"].isin(["stable", "highly stable"]))) if len(table) else float("nan")
