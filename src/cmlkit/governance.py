"""Governance models: cluster libraries on mixed-type governance features, check stability, explain.

The features and their encodings are data (``research/governance.yml``). Three methods:

* ``pam`` — Gower distance (R ``cluster::daisy`` conventions: a pair is compared on the features both
  answered; ordinal levels by rank distance; numeric by range-scaled difference; feature weights) and
  partitioning around medoids (BUILD + SWAP). Above ``pam_max_n`` rows it runs CLARA: PAM on
  several random subsamples, keeping the medoids with the lowest cost over all rows.
* ``kprototypes`` — ``kmodes.KPrototypes`` on min-max scaled numeric features (median-imputed) and
  nominal features (missing as its own category), ``n_init`` random starts.
* ``latent_class`` — ``stepmix.StepMix`` with categorical and Gaussian measurement models and
  full-information likelihood for missing values (``categorical_nan``/``continuous_nan``).

The number of clusters is chosen from ``k_range``: the largest average silhouette on the Gower
distances for ``pam`` and ``kprototypes``, the lowest BIC for ``latent_class``. Rows are put in a
canonical order (by ``id_column``) before clustering and labels are numbered by cluster size, so a
different row order gives the same partition with the same labels. Stability is the clusterwise
mean Jaccard over bootstrap resamples, as ``fpc::clusterboot(bootmethod="boot")``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import CmlkitError
from .research import read_spec

ENCODINGS = {"nominal", "ordinal", "binary", "numeric"}
METHODS = ("pam", "kprototypes", "latent_class")
_FEATURE_KEYS = {"source", "derive", "encoding", "levels", "positive", "missing_values", "weight", "transform",
                 "numerator", "denominator", "column", "zero_as_missing"}


class GovernanceError(CmlkitError):
    """A governance specification or input that cannot be used."""


def default_spec_path() -> Path:
    from .instrument import find_root
    return find_root() / "research" / "governance.yml"


def load_spec(path=None) -> dict:
    """Read and check ``research/governance.yml``.

    Parameters
    ----------
    path : str or Path, optional
        Defaults to ``research/governance.yml`` in the project root.

    Returns
    -------
    dict
        With ``features`` (name -> definition), ``clustering``, ``stability``, ``names``.
    """
    spec, path = read_spec("governance.yml", path, error=GovernanceError, what="governance specification")
    for name, f in spec.get("features", {}).items():
        unknown = set(f) - _FEATURE_KEYS
        if unknown:
            raise GovernanceError(f"{path}: feature {name!r}: unknown key(s) {sorted(unknown)}")
        if f.get("encoding") not in ENCODINGS:
            raise GovernanceError(f"{path}: feature {name!r}: encoding must be one of {sorted(ENCODINGS)}")
        if f["encoding"] == "ordinal" and not f.get("levels"):
            raise GovernanceError(f"{path}: feature {name!r}: an ordinal feature needs its levels")
        if "source" not in f and f.get("derive") not in ("share", "years_since"):
            raise GovernanceError(f"{path}: feature {name!r}: needs a source column or derive: share|years_since")
    method = spec.get("clustering", {}).get("method", "pam")
    if method not in METHODS:
        raise GovernanceError(f"{path}: clustering.method {method!r} is not one of {list(METHODS)}")
    return spec


# --------------------------------------------------------------------------------------------
# Features


def build_features(data: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Governance features of each library, encoded as the specification says.

    Nominal features come back as strings (missing as NaN), ordinal as level ranks 0..L-1, binary
    as 0/1, numeric as floats after the transform. Index follows ``data``.

    Raises
    ------
    GovernanceError
        When a source column is missing or an ordinal/binary answer is not a listed level.
    """
    out = {}
    wave_year = spec.get("wave_year")  # set from the wave by cmlkit.waves.with_wave, never in research/
    for name, f in spec["features"].items():
        enc = f["encoding"]
        if f.get("derive") == "share":
            cols = [f["numerator"], *f["denominator"]]
            _require(data, cols, name)
            den = data[f["denominator"]].apply(pd.to_numeric, errors="coerce").astype(float)
            num = pd.to_numeric(data[f["numerator"]], errors="coerce").astype(float)
            total = den.sum(axis=1, min_count=1)
            values = (num / total.where(total > 0)).astype(float)
            if f.get("zero_as_missing"):
                values = values.where(values > 0)
        elif f.get("derive") == "years_since":
            _require(data, [f["column"]], name)
            if wave_year is None:
                raise GovernanceError(f"feature {name!r} needs the wave year: pass the spec through cmlkit.waves.with_wave")
            values = (int(wave_year) - pd.to_numeric(data[f["column"]], errors="coerce").astype(float)).clip(lower=0)
        else:
            _require(data, [f["source"]], name)
            values = data[f["source"]]
        missing = set(f.get("missing_values", []))
        if enc == "nominal":
            s = values.astype("string").astype(object)
            values = s.where(s.notna() & ~s.isin(missing), np.nan)
        elif enc == "ordinal":
            s = values.astype("string")
            s = s.where(~s.isin(missing))
            codes = pd.Categorical(s, categories=f["levels"], ordered=True).codes.astype(float)
            bad = s.notna().to_numpy() & (codes < 0)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise GovernanceError(f"feature {name!r}: value {s.iloc[row]!r} (row {row + 1}, column "
                                      f"{f['source']}) is not one of the levels {f['levels']}")
            values = pd.Series(np.where(codes < 0, np.nan, codes), index=data.index)
        elif enc == "binary":
            if "positive" in f:
                s = values.astype("string")
                s = s.where(~s.isin(missing))
                values = pd.Series(np.where(s.isna(), np.nan, (s == str(f["positive"])).astype(float)), index=data.index)
            else:
                values = pd.to_numeric(values, errors="coerce").astype(float)
                if ((values != 0) & (values != 1) & values.notna()).any():
                    raise GovernanceError(f"feature {name!r}: binary column {f['source']} holds values other than 0/1")
        else:
            values = pd.to_numeric(values, errors="coerce").astype(float)
            if f.get("transform") == "log1p":
                values = np.log1p(values.clip(lower=0))
        out[name] = values
    return pd.DataFrame(out, index=data.index)


def _require(data, cols, name):
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise GovernanceError(f"feature {name!r}: column(s) {missing} not in the data")


# --------------------------------------------------------------------------------------------
# Gower distance


def _gower_parts(X: pd.DataFrame, spec: dict):
    parts = []
    for name, f in spec["features"].items():
        col = X[name]
        w = float(f.get("weight", 1.0))
        enc = f["encoding"]
        if enc == "nominal":
            codes = pd.Categorical(col).codes.astype(float)
            codes[codes < 0] = np.nan
            parts.append((name, "nominal", codes, w, 1.0))
        else:
            v = col.to_numpy(dtype=float)
            if enc == "ordinal":
                rng = float(len(f["levels"]) - 1)
            else:
                finite = v[np.isfinite(v)]
                rng = float(finite.max() - finite.min()) if finite.size else 0.0
            parts.append((name, "interval", v, w, rng if rng > 0 else 1.0))
    return parts


def gower_matrix(X: pd.DataFrame, spec: dict, *, rows=None, cols=None, parts=None) -> np.ndarray:
    """Gower dissimilarities between libraries (R ``cluster::daisy(metric="gower")`` conventions).

    Parameters
    ----------
    X : pandas.DataFrame
        Output of :func:`build_features`.
    spec : dict
        The governance specification (encodings, feature weights).
    rows, cols : array of int, optional
        Positions of the rows/columns wanted (default: all, giving the square matrix).

    Returns
    -------
    numpy.ndarray
        ``len(rows) x len(cols)`` in [0, 1]. A pair is compared on the features both answered;
        NaN where they share none. Ordinal levels count by rank difference over the level range;
        numeric by absolute difference over the observed range (ranges from all of ``X``).
    """
    parts = parts or _gower_parts(X, spec)
    n = len(X)
    rows = np.arange(n) if rows is None else np.asarray(rows)
    cols = np.arange(n) if cols is None else np.asarray(cols)
    num = np.zeros((len(rows), len(cols)))
    den = np.zeros((len(rows), len(cols)))
    for _name, kind, v, w, rng in parts:
        a, b = v[rows][:, None], v[cols][None, :]
        ok = np.isfinite(a) & np.isfinite(b)
        if kind == "nominal":
            d = (a != b).astype(float)
        else:
            d = np.abs(a - b) / rng
        num += np.where(ok, d, 0.0) * w
        den += ok * w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


# --------------------------------------------------------------------------------------------
# PAM / CLARA


def pam(D: np.ndarray, k: int, *, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Partitioning around medoids on a dissimilarity matrix (BUILD then SWAP, Kaufman & Rousseeuw).

    Deterministic: BUILD picks medoids greedily and SWAP takes the best improving swap each pass.

    Returns
    -------
    (medoids, labels) : numpy arrays of positions and of cluster numbers 0..k-1
    """
    D = np.nan_to_num(np.asarray(D, dtype=float), nan=1.0)
    n = len(D)
    if not 1 <= k <= n:
        raise GovernanceError(f"cannot form {k} clusters from {n} libraries")
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

    Returns
    -------
    (medoids, labels, cost)
    """
    rng = np.random.default_rng(random_state)
    n = len(X)
    parts = _gower_parts(X, spec)
    best = None
    for _ in range(samples):
        idx = np.sort(rng.choice(n, size=min(sample_size, n), replace=False))
        med, _ = pam(gower_matrix(X, spec, rows=idx, cols=idx, parts=parts), k)
        medoids = idx[med]
        Dm = np.nan_to_num(_chunked_to(X, spec, medoids, parts), nan=1.0)
        cost = float(Dm.min(axis=0).sum())
        if best is None or cost < best[2] - 1e-12:
            best = (medoids, np.argmin(Dm, axis=0), cost)
    return best


def _chunked_to(X, spec, targets, parts, chunk: int = 20000):
    """Gower distances from ``targets`` (positions) to every row, computed in column chunks."""
    n = len(X)
    out = np.empty((len(targets), n))
    for s in range(0, n, chunk):
        out[:, s:s + chunk] = gower_matrix(X, spec, rows=targets, cols=np.arange(s, min(n, s + chunk)), parts=parts)
    return out


# --------------------------------------------------------------------------------------------
# k-prototypes and latent class


def _kproto_matrix(X: pd.DataFrame, spec: dict):
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


def kprototypes(X: pd.DataFrame, spec: dict, k: int, *, n_init: int = 10, random_state=0) -> np.ndarray:
    """k-prototypes (``kmodes.KPrototypes``, Cao initialisation, ``n_init`` starts) on scaled features.

    Numeric, ordinal and binary features are min-max scaled to [0, 1] with missing values set to the
    median; nominal features keep their categories with missing as ``"(missing)"``. ``gamma`` is
    the package default (half the mean standard deviation of the numeric columns).
    """
    from kmodes.kprototypes import KPrototypes

    M, cat_idx = _kproto_matrix(X, spec)
    model = KPrototypes(n_clusters=k, init="Cao", n_init=n_init, random_state=_seed(random_state), n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(model.fit_predict(M, categorical=cat_idx), dtype=int)


def latent_class(X: pd.DataFrame, spec: dict, k: int, *, n_init: int = 10, random_state=0,
                 bins: int = 4) -> tuple[np.ndarray, float]:
    """Latent class model (``stepmix.StepMix``, categorical indicators, full-information likelihood).

    Nominal, ordinal and binary features are categorical indicators (0-indexed codes). Numeric
    features are cut at their quartiles (``bins``) into ordered categories, the usual latent class
    practice (poLCA takes categorical items only); this also avoids Gaussian classes with no
    observed values of a feature that is not applicable to them (a council share without council
    income), on which stepmix's Gaussian-with-missing model breaks down. Missing values are handled
    by full-information likelihood (``categorical_nan``). Each of ``n_init`` random starts is fitted
    separately; starts that degenerate are skipped and the one with the highest log-likelihood is
    kept.

    Returns
    -------
    (labels, criteria) : criteria holds ``bic``, ``sabic`` and ``loglik``
    """
    from stepmix.stepmix import StepMix

    cols, gauss = [], []
    for name, f in spec["features"].items():
        if f["encoding"] == "numeric":
            v = X[name].astype(float)
            if v.notna().all():
                gauss.append(((v - v.mean()) / (v.std() or 1.0)).to_numpy())
                continue
            codes = pd.qcut(v.rank(method="min"), q=bins, labels=False, duplicates="drop").astype(float)
        elif f["encoding"] == "nominal":
            codes = pd.Categorical(X[name]).codes.astype(float)
        else:
            codes = X[name].to_numpy(dtype=float)
        cols.append(np.where(np.asarray(codes) < 0, np.nan, codes))
    data = np.column_stack(cols)
    Y = np.column_stack(gauss) if gauss else None
    descriptor = "categorical_nan"
    rng = np.random.default_rng(_seed(random_state))
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in rng.integers(0, 2**31 - 1, n_init):
            model = StepMix(n_components=k, measurement=descriptor, structural="gaussian_full", n_steps=1,
                            n_init=1, random_state=int(seed), verbose=0, progress_bar=0, max_iter=1000,
                            abs_tol=1e-6, rel_tol=1e-8)
            try:
                model.fit(data, Y)
                ll = float(model.score(data, Y))
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                continue               # a start that degenerates (empty class, NaN likelihood) is skipped
            if np.isfinite(ll) and (best is None or ll > best[0] + 1e-10):
                best = (ll, model)
    if best is None:
        raise GovernanceError(f"latent class model with {k} classes: no random start converged")
    model = best[1]
    labels = np.asarray(model.predict(data, Y), dtype=int)
    return labels, {"bic": float(model.bic(data, Y)), "sabic": float(model.sabic(data, Y)), "loglik": best[0] * len(data)}


def _seed(random_state) -> int:
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    return int(random_state)


# --------------------------------------------------------------------------------------------
# Fitting, model selection, canonical labels


@dataclass
class Clustering:
    """Result of :func:`cluster_libraries`."""

    labels: pd.Series                 # cluster number per row, index of the input
    method: str
    k: int
    selection: pd.DataFrame           # one row per k tried: criterion values
    features: pd.DataFrame
    medoids: list = field(default_factory=list)   # ids of the medoid libraries (pam)
    info: dict = field(default_factory=dict)


def silhouette(D: np.ndarray, labels: np.ndarray) -> float:
    """Average silhouette width on a precomputed dissimilarity matrix (``sklearn.metrics``)."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(labels):
        return float("nan")
    D = np.nan_to_num(D, nan=1.0).copy()
    np.fill_diagonal(D, 0.0)
    return float(silhouette_score(D, labels, metric="precomputed"))


def canonical_labels(labels, ids) -> np.ndarray:
    """Renumber clusters 0..k-1 by decreasing size, ties by the smallest id in the cluster."""
    labels = np.asarray(labels)
    ids = np.asarray(ids).astype(str)
    t = pd.DataFrame({"c": labels, "id": ids}).groupby("c").agg(n=("id", "size"), first=("id", "min"))
    t = t.sort_values(["n", "first"], ascending=[False, True])
    mapping = {c: i for i, c in enumerate(t.index)}
    return pd.Series(labels).map(mapping).to_numpy(dtype=int)


def _fit_once(X, spec, method, k, *, D=None, n_init=10, random_state=0, pam_max_n=3000):
    """Labels (and a criterion) for one method at one k on rows already in canonical order."""
    if method == "pam":
        if D is not None:
            med, labels = pam(D, k)
            return labels, {"medoids": med}
        med, labels, cost = clara(X, spec, k, random_state=random_state)
        return labels, {"medoids": med, "cost": cost}
    if method == "kprototypes":
        return kprototypes(X, spec, k, n_init=n_init, random_state=random_state), {}
    if method == "latent_class":
        return latent_class(X, spec, k, n_init=n_init, random_state=random_state)
    raise GovernanceError(f"unknown clustering method {method!r}; use one of {list(METHODS)}")


def cluster_libraries(data: pd.DataFrame, spec: dict | None = None, *, method: str | None = None, k: int | None = None,
                      k_range=None, id_column: str = "library_id", n_init: int | None = None,
                      random_state=None) -> Clustering:
    """Cluster libraries on their governance features, choosing k when it is not given.

    Parameters
    ----------
    data : pandas.DataFrame
        Clean (or weighted) library responses with the feature source columns and ``id_column``.
    spec : dict, optional
        :func:`load_spec` output (default: ``research/governance.yml``).
    method : {"pam", "kprototypes", "latent_class"}, optional
        Default from the specification.
    k : int, optional
        Number of clusters; chosen over ``k_range`` when None (silhouette on Gower distances for pam
        and kprototypes, lowest BIC for latent_class).
    random_state : int, optional
        Default from the specification.

    Returns
    -------
    Clustering
    """
    spec = spec or load_spec()
    cfg = spec.get("clustering", {})
    method = method or cfg.get("method", "pam")
    if method not in METHODS:
        raise GovernanceError(f"unknown clustering method {method!r}; use one of {list(METHODS)}")
    n_init = int(n_init or cfg.get("n_init", 10))
    random_state = cfg.get("random_state", 0) if random_state is None else random_state
    pam_max_n = int(cfg.get("pam_max_n", 3000))
    criterion = str(cfg.get("lca_criterion", "bic")).lower()
    if criterion not in ("bic", "sabic"):
        raise GovernanceError(f"clustering.lca_criterion must be bic or sabic, not {criterion!r}")
    if id_column not in data.columns:
        raise GovernanceError(f"column {id_column!r} (library id) not in the data")
    ids = data[id_column].astype(str)
    if ids.duplicated().any():
        raise GovernanceError(f"library id {ids[ids.duplicated()].iloc[0]!r} appears twice; cluster one row per library")
    order = np.argsort(ids.to_numpy(), kind="stable")
    X = build_features(data, spec).iloc[order].reset_index(drop=True)
    sorted_ids = ids.to_numpy()[order]
    n = len(X)
    D = gower_matrix(X, spec) if n <= pam_max_n else None
    ks = [int(k)] if k else list(range(int((k_range or cfg.get("k_range", [2, 6]))[0]),
                                       int((k_range or cfg.get("k_range", [2, 6]))[1]) + 1))
    ks = [kk for kk in ks if kk < n]
    select_max_n = int(cfg.get("select_max_n", 10000))
    sub = None
    if len(ks) > 1 and n > select_max_n and method != "pam":
        # choose k on a random subsample; the chosen k is then fitted on every library
        sub = np.sort(np.random.default_rng(_seed(random_state)).choice(n, size=select_max_n, replace=False))
    rows, fits = [], {}
    for kk in ks:
        Xk = X if sub is None else X.iloc[sub].reset_index(drop=True)
        labels, extra = _fit_once(Xk, spec, method, kk, D=D, n_init=n_init, random_state=random_state, pam_max_n=pam_max_n)
        fits[kk] = (labels, extra)
        row = {"k": kk, "clusters_found": int(len(np.unique(labels)))}
        if D is not None and sub is None:
            row["silhouette"] = silhouette(D, labels)
        else:
            ss = np.random.default_rng(0).choice(len(Xk), size=min(len(Xk), 2000), replace=False)
            row["silhouette"] = silhouette(gower_matrix(Xk, spec, rows=ss, cols=ss), labels[ss])
        for key in ("bic", "sabic", "loglik"):
            if key in extra:
                row[key] = extra[key]
        rows.append(row)
    selection = pd.DataFrame(rows)
    single = None
    if method == "latent_class" and not k:
        _, one = latent_class(X if sub is None else X.iloc[sub].reset_index(drop=True), spec, 1, n_init=1, random_state=random_state)
        single = one["bic"]
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
        labels, extra = _fit_once(X, spec, method, chosen, D=None, n_init=n_init, random_state=random_state, pam_max_n=pam_max_n)
    canon = canonical_labels(labels, sorted_ids)
    back = np.empty(n, dtype=int)
    back[order] = canon
    medoids = [str(sorted_ids[m]) for m in extra.get("medoids", [])]
    features = X.copy()
    features.index = sorted_ids
    return Clustering(labels=pd.Series(back, index=data.index, name="cluster"), method=method, k=chosen,
                      selection=selection, features=features.loc[ids.to_numpy()].set_axis(data.index),
                      medoids=medoids, info={"n": n, "random_state": random_state, "n_init": n_init,
                                             "distance": ("gower" if D is not None else "gower (CLARA)") if method == "pam" else None,
                                             "bic_one_class": single,
                                             "one_class_preferred": bool(single is not None and single <= selection["bic"].min()),
                                             "k_chosen_on": int(select_max_n) if sub is not None else n})


# --------------------------------------------------------------------------------------------
# Validation


def adjusted_rand(a, b) -> float:
    """Adjusted Rand index between two labelings (``sklearn.metrics.adjusted_rand_score``)."""
    from sklearn.metrics import adjusted_rand_score
    a, b = pd.Series(np.asarray(a)).astype(str), pd.Series(np.asarray(b)).astype(str)
    ok = (a != "nan") & (b != "nan")
    return float(adjusted_rand_score(a[ok], b[ok]))


def crosstab(clusters, stated, *, names=None) -> pd.DataFrame:
    """Cross-tabulation of clusters (rows) by a stated type (columns), with totals."""
    c = pd.Series(np.asarray(clusters))
    if names is not None:
        c = c.map(names).fillna(c.astype(str))
    return pd.crosstab(c.rename("cluster"), pd.Series(np.asarray(stated), name="stated").fillna("(missing)"),
                       margins=True, margins_name="Total")


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


def clusterboot(data: pd.DataFrame, clustering: Clustering, spec: dict | None = None, *, B: int | None = None,
                id_column: str = "library_id", random_state=None) -> pd.DataFrame:
    """Clusterwise stability by bootstrap, in the manner of ``fpc::clusterboot(bootmethod="boot")``.

    Each resample draws libraries with replacement, reclusters the distinct libraries drawn with the
    same method and k, and records for every original cluster the largest Jaccard similarity with a
    resample cluster (on the libraries in the resample). A cluster's stability is the mean over
    resamples; it counts as dissolved in a resample when that Jaccard is at most 0.5.

    Returns
    -------
    pandas.DataFrame
        One row per cluster: ``cluster, n, mean_jaccard, dissolved, recovered, verdict`` and, in
        ``attrs["overall"]``, the mean over clusters of their mean Jaccard (each cluster counts
        once, so a small cluster that dissolves is not hidden by a large stable one), the
        smallest clusterwise value, and the verdict on the overall value.
    """
    spec = spec or load_spec()
    cfg = spec.get("clustering", {})
    B = int(B or cfg.get("bootstrap", 100))
    seed = cfg.get("random_state", 0) if random_state is None else random_state
    rng = np.random.default_rng(seed)
    ids = data[id_column].astype(str).to_numpy()
    order = np.argsort(ids, kind="stable")
    X = build_features(data, spec).iloc[order].reset_index(drop=True)
    orig = clustering.labels.to_numpy()[order]
    n, k = len(X), clustering.k
    pam_max_n = int(cfg.get("pam_max_n", 3000))
    D = gower_matrix(X, spec) if (clustering.method == "pam" and n <= pam_max_n) else None
    jac = np.full((B, k), np.nan)
    for b in range(B):
        idx = np.unique(rng.integers(0, n, n))
        Xb = X.iloc[idx].reset_index(drop=True)
        Db = D[np.ix_(idx, idx)] if D is not None else None
        try:
            lab, _ = _fit_once(Xb, spec, clustering.method, k, D=Db, n_init=max(2, clustering.info.get("n_init", 10) // 2),
                               random_state=int(rng.integers(0, 2**31 - 1)), pam_max_n=pam_max_n)
        except Exception:          # a resample that cannot be clustered counts as dissolving every cluster
            jac[b] = 0.0
            continue
        jac[b] = _jaccard_best(orig[idx], np.asarray(lab), k)
    thr = spec.get("stability", {})
    mean = np.nanmean(jac, axis=0)
    sizes = np.bincount(orig, minlength=k)
    out = pd.DataFrame({"cluster": np.arange(k), "n": sizes, "mean_jaccard": mean,
                        "dissolved": (jac <= thr.get("dissolved", 0.5)).sum(axis=0),
                        "recovered": (jac >= 0.75).sum(axis=0)})
    out["verdict"] = [stability_verdict(m, thr) for m in mean]
    overall = float(np.nanmean(mean))
    out.attrs["overall"] = {"mean_jaccard": overall, "verdict": stability_verdict(overall, thr), "B": B,
                            "min_cluster_jaccard": float(np.min(mean))}
    return out


def stability_verdict(j: float, thresholds: dict | None = None) -> str:
    """Hennig's reading of a clusterwise mean Jaccard."""
    t = {"dissolved": 0.5, "unstable": 0.6, "stable": 0.75, "highly_stable": 0.85, **(thresholds or {})}
    if not np.isfinite(j) or j <= t["dissolved"]:
        return "dissolved"
    if j < t["unstable"]:
        return "unstable"
    if j < t["stable"]:
        return "doubtful"
    if j < t["highly_stable"]:
        return "stable"
    return "highly stable"


# --------------------------------------------------------------------------------------------
# Profiles, names, map


def profile(clustering: Clustering, spec: dict | None = None, *, weights=None, regions=None) -> pd.DataFrame:
    """Describe each cluster by its features.

    Binary features: share (of those answering) with the feature; ordinal: share at each level above
    the lowest; nominal: the modal category and its share; numeric: the median (on the original
    scale for log1p features). Also unweighted n, weighted size (sum of ``weights``) and the number
    of regions covered, and the summary statistics used to propose names.

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
    """Plain-language names from the specification's rules; repeated names get a numeral."""
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
    """The features that most set each cluster apart: standardised difference from the other clusters."""
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
    """
    D = np.nan_to_num(np.asarray(D, dtype=float), nan=1.0)
    n = len(D)
    J = np.eye(n) - 1.0 / n
    Bm = -0.5 * J @ (D ** 2) @ J
    vals, vecs = np.linalg.eigh(Bm)
    idx = np.argsort(vals)[::-1][:n_components]
    vals, vecs = np.clip(vals[idx], 0, None), vecs[:, idx]
    signs = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(vecs.shape[1])])
    signs[signs == 0] = 1
    return vecs * signs * np.sqrt(vals)


def membership(data: pd.DataFrame, clustering: Clustering, names: dict, *, id_column: str = "library_id",
               keep=("response_id", "region", "type", "weight")) -> pd.DataFrame:
    """Cluster membership as a product for later steps: one row per library, no personal data."""
    out = data[[id_column, *[c for c in keep if c in data.columns]]].copy()
    out["cluster"] = clustering.labels.to_numpy()
    out["cluster_name"] = out["cluster"].map(names)
    out["method"] = clustering.method
    return out.reset_index(drop=True)
