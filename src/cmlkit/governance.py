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
           "profile", "propose_names", "refit", "silhouette", "stability", "stability_verdict"]


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
