"""Describing governance clusters: profiles, proposed plain-language names, distinguishing features, maps.

Names are proposed by the rules in ``research/governance.yml`` (the first rule whose conditions all
hold names the cluster) and are for discussion, not verdicts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.linalg import eigh

from cmlkit.cluster_fit import Clustering
from cmlkit.governance_spec import load_spec
from cmlkit.gower import gower_matrix


def profile(clustering: Clustering, spec: dict | None = None, *, weights=None, regions=None) -> pd.DataFrame:
    """Describe each cluster by its features.

    Binary features: share (of those answering) with the feature; ordinal: share at each level above
    the lowest; nominal: the modal category and its share; numeric: the median (on the original
    scale for log1p features). Also unweighted n, weighted size (sum of ``weights``) and the number
    of regions covered, and the summary statistics used to propose names.

    Parameters
    ----------
    clustering : Clustering
        The clustering to describe.
    spec : dict, optional
        The governance specification (default: ``research/governance.yml``).
    weights : array, optional
        Survey weight of each library (gives ``weighted_size``).
    regions : array, optional
        Region of each library (gives ``regions``, the number covered).

    Returns
    -------
    pandas.DataFrame
        One row per cluster.
    """
    spec = spec or load_spec()
    X = clustering.features
    lab = clustering.labels.to_numpy()
    rows = []
    for c in range(clustering.k):
        m = lab == c
        Xi = X[m]
        row = {"cluster": c, "n": int(m.sum())}
        if weights is not None:
            row["weighted_size"] = float(np.asarray(weights, dtype=float)[m].sum())
        if regions is not None:
            row["regions"] = int(pd.Series(np.asarray(regions)[m]).nunique())
        for name, f in spec["features"].items():
            v = Xi[name]
            if f["encoding"] == "binary":
                row[f"{name} (share)"] = float(v.mean())
            elif f["encoding"] == "ordinal":
                for j, lev in enumerate(f["levels"][1:], start=1):
                    row[f"{name}: {lev} (share)"] = float((v == j).sum() / max(v.notna().sum(), 1))
            elif f["encoding"] == "nominal":
                vc = v.value_counts(normalize=True)
                row[f"{name} (most common)"] = str(vc.index[0]) if len(vc) else ""
                row[f"{name} (share most common)"] = float(vc.iloc[0]) if len(vc) else np.nan
            else:
                med = float(v.median())
                row[f"{name} (median)"] = float(np.expm1(med)) if f.get("transform") == "log1p" else med
        sup = [k for k in spec["features"] if k.startswith("support_")]
        row["support_share"] = float(Xi[sup].mean(axis=0).mean()) if sup else np.nan
        row["grant_share"] = float(Xi["council_grant"].mean()) if "council_grant" in Xi else np.nan
        if "paid_staff" in Xi:
            answered = max(Xi["paid_staff"].notna().sum(), 1)
            row["paid_share"] = float((Xi["paid_staff"] > 0).sum() / answered)
            row["coordinator_share"] = float((Xi["paid_staff"] == 2).sum() / answered)
        row["council_share"] = float(Xi["council_share"].median()) if "council_share" in Xi else np.nan
        rows.append(row)
    prof = pd.DataFrame(rows)
    prof.insert(1, "name", propose_names(prof, spec))
    prof.insert(2, "distinguishing", distinguishing(clustering, spec))
    return prof


def propose_names(prof: pd.DataFrame, spec: dict) -> list[str]:
    """Plain-language names from the specification's rules; repeated names get a numeral.

    Parameters
    ----------
    prof : pandas.DataFrame
        Profile statistics, one row per cluster (:func:`profile`).
    spec : dict
        The governance specification (its ``names`` rules).

    Returns
    -------
    list of str
    """
    names = []
    for _, row in prof.iterrows():
        chosen = "Cluster"
        for rule in spec.get("names", []):
            ok = all((("min" not in b) or row.get(stat, np.nan) >= b["min"]) and
                     (("max" not in b) or row.get(stat, np.nan) <= b["max"])
                     for stat, b in (rule.get("when") or {}).items())
            if ok:
                chosen = rule["name"]
                break
        names.append(chosen)
    counts = pd.Series(names).value_counts()
    seen: dict = {}
    out = []
    for nm in names:
        if counts[nm] > 1:
            seen[nm] = seen.get(nm, 0) + 1
            out.append(f"{nm} ({_roman(seen[nm])})")
        else:
            out.append(nm)
    return out


def _roman(i: int) -> str:
    return ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"][i - 1] if i <= 10 else str(i)


def distinguishing(clustering: Clustering, spec: dict, *, top: int = 3) -> list[str]:
    """The features that most set each cluster apart: standardised difference from the other clusters.

    Parameters
    ----------
    clustering : Clustering
        The clustering to describe.
    spec : dict
        The governance specification.
    top : int, default 3
        Features named per cluster.

    Returns
    -------
    list of str
        One sentence fragment per cluster (``feature: cluster vs others``).
    """
    X = clustering.features
    lab = clustering.labels.to_numpy()
    out = []
    for c in range(clustering.k):
        m = lab == c
        diffs = {}
        for name, f in spec["features"].items():
            if f["encoding"] == "nominal":
                dummies = pd.get_dummies(X[name].astype(object), dtype=float)
                for cat in dummies:
                    a, b = dummies.loc[m, cat].mean(), dummies.loc[~m, cat].mean()
                    sd = np.sqrt((dummies[cat].var() or 1e-9))
                    diffs[f"{name}={cat}"] = ((a - b) / sd, a, b)
            else:
                v = X[name].astype(float)
                sd = v.std() or 1e-9
                a, b = v[m].mean(), v[~m].mean()
                diffs[name] = ((a - b) / sd, a, b)
        best = sorted(diffs.items(), key=lambda kv: -abs(kv[1][0]) if np.isfinite(kv[1][0]) else 0)[:top]
        words = []
        for key, (_d, a, b) in best:
            enc = spec["features"].get(key.split("=")[0], {}).get("encoding")
            if enc in ("binary", "nominal"):
                words.append(f"{key}: {a:.0%} vs {b:.0%}")
            else:
                words.append(f"{key}: {a:.2f} vs {b:.2f}")
        out.append("; ".join(words))
    return out


def pcoa(D: np.ndarray, *, n_components: int = 2) -> np.ndarray:
    """Principal coordinates (classical MDS) of a dissimilarity matrix: a 2-D map of libraries.

    Signs are fixed so that each axis's largest absolute loading is positive (deterministic).

    Parameters
    ----------
    D : numpy.ndarray
        Square dissimilarities (NaN counts as 1).
    n_components : int, default 2
        Axes returned.

    Returns
    -------
    numpy.ndarray
        ``n x n_components`` coordinates (axes with negative eigenvalues are set to 0).
    """
    D = np.nan_to_num(np.asarray(D, dtype=float), nan=1.0)
    n = len(D)
    D2 = D ** 2
    Bm = -0.5 * (D2 - D2.mean(axis=0)[None, :] - D2.mean(axis=1)[:, None] + D2.mean())
    m = min(n_components, n)
    vals, vecs = eigh(Bm, subset_by_index=[n - m, n - 1])
    idx = np.argsort(vals)[::-1]
    vals, vecs = np.clip(vals[idx], 0, None), vecs[:, idx]
    signs = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(vecs.shape[1])])
    signs[signs == 0] = 1
    return vecs * signs * np.sqrt(vals)


def cluster_map(clustering: Clustering, spec: dict | None = None) -> np.ndarray:
    """Principal coordinates of the Gower distances of a clustering (reusing the ones it holds).

    Parameters
    ----------
    clustering : Clustering
        The clustering (its ``distances``, or its features when it has none).
    spec : dict, optional
        The governance specification.

    Returns
    -------
    numpy.ndarray
        ``n x 2`` coordinates, rows in the input order.
    """
    D = clustering.distances
    if D is None:
        D = gower_matrix(clustering.features, spec or load_spec())
    return pcoa(D)


def membership(data: pd.DataFrame, clustering: Clustering, names: dict, *, id_column: str = "library_id",
               keep=("response_id", "region", "type", "weight")) -> pd.DataFrame:
    """Cluster membership as a product for later steps: one row per library, no personal data.

    Parameters
    ----------
    data : pandas.DataFrame
        The rows clustered.
    clustering : Clustering
        Their clustering.
    names : dict
        Cluster number -> name.
    id_column : str, default "library_id"
        Library id column.
    keep : tuple of str
        Further columns kept where present.

    Returns
    -------
    pandas.DataFrame
    """
    out = data[[id_column, *[c for c in keep if c in data.columns]]].copy()
    out["cluster"] = clustering.labels.to_numpy()
    out["cluster_name"] = out["cluster"].map(names)
    out["method"] = clustering.method
    return out.reset_index(drop=True)
