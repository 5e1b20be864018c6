"""Words and figure tables for the governance step: names, heatmap tables, alt text, the summary record.

What notebooks 40 and 41 show, built here so that the notebook only narrates: each function takes the
step's results (profiles, cross-tab, agreement, stability) and returns a table, a sentence or a
JSON-ready record.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit.cluster_fit import Clustering


def cluster_names(profiles: pd.DataFrame) -> dict:
    """Cluster number -> proposed name, from a profile table.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Output of ``cluster_profiles.profile``.

    Returns
    -------
    dict
    """
    return {int(c): str(n) for c, n in zip(profiles["cluster"], profiles["name"])}


def profile_shares(profiles: pd.DataFrame) -> pd.DataFrame:
    """The share columns of a profile table, one row per named cluster (the profile heatmap's data).

    Parameters
    ----------
    profiles : pandas.DataFrame
        Output of ``cluster_profiles.profile``.

    Returns
    -------
    pandas.DataFrame
        Index the cluster names, columns the features (without `` (share)``).
    """
    shares = [c for c in profiles.columns if c.endswith("(share)")]
    return profiles.set_index("name")[shares].rename(columns={c: c.replace(" (share)", "") for c in shares})


def stated_shares(crosstab: pd.DataFrame) -> pd.DataFrame:
    """Row shares of a clusters-by-stated-type cross-tab, without its totals.

    Parameters
    ----------
    crosstab : pandas.DataFrame
        Output of ``cluster_fit.crosstab`` (with ``Total`` margins).

    Returns
    -------
    pandas.DataFrame
    """
    counts = crosstab.drop(index="Total", columns="Total")
    return counts.div(counts.sum(axis=1), axis=0)


def describe_profiles(profiles: pd.DataFrame, k: int) -> str:
    """Alt text of the profile heatmap.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Output of ``cluster_profiles.profile``.
    k : int
        Number of clusters.

    Returns
    -------
    str
    """
    n_shares = sum(c.endswith("(share)") for c in profiles.columns)
    rows = "; ".join(f"{n}: {int(r['n'])} responses, {r['distinguishing']}" for n, r in profiles.set_index("name").iterrows())
    return (f"Heatmap of {n_shares} governance features (columns) for {k} clusters (rows), each cell the share "
            f"of the cluster's libraries with the feature. " + rows)


def describe_vs_stated(crosstab: pd.DataFrame, agreement: pd.DataFrame) -> str:
    """Alt text of the clusters-by-stated-type heatmap.

    Parameters
    ----------
    crosstab : pandas.DataFrame
        Output of ``cluster_fit.crosstab``.
    agreement : pandas.DataFrame
        Output of ``governance.agreement`` (its first row: the stated type).

    Returns
    -------
    str
    """
    counts = crosstab.drop(index="Total", columns="Total")
    rows = "; ".join(f"{i}: " + ", ".join(f"{c} {int(v)}" for c, v in row.items()) for i, row in counts.iterrows())
    return ("Heatmap of the share of each cluster's libraries stated as community run (CR) or independent (ICL) in the "
            "frame. " + rows + f". Adjusted Rand with the stated type {agreement.iloc[0]['adjusted_rand']:.2f}.")


def describe_map(clustering: Clustering, names: dict) -> str:
    """Alt text of the principal-coordinates map.

    Parameters
    ----------
    clustering : Clustering
        The clustering mapped.
    names : dict
        Cluster number -> name.

    Returns
    -------
    str
    """
    sizes = np.bincount(clustering.labels.to_numpy(), minlength=max(names) + 1 if names else 0)
    return (f"Scatter plot of {len(clustering.labels)} libraries on the first two principal coordinates of their Gower "
            f"distances, marked by cluster: " + "; ".join(f"{names[c]} {int(sizes[c])}" for c in sorted(names)) + ".")


def summary(clustering: Clustering, stability: pd.DataFrame, agreement: pd.DataFrame, names: dict) -> dict:
    """The step's summary record (``summary.json``).

    Parameters
    ----------
    clustering : Clustering
        The chosen clustering.
    stability : pandas.DataFrame
        Output of ``governance.stability`` (its ``attrs["overall"]``).
    agreement : pandas.DataFrame
        Output of ``governance.agreement``.
    names : dict
        Cluster number -> name.

    Returns
    -------
    dict
    """
    return {"method": clustering.method, "k": clustering.k, "info": clustering.info,
            "stability": stability.attrs["overall"], "agreement": agreement.to_dict("records"),
            "names": {int(c): n for c, n in names.items()}}
