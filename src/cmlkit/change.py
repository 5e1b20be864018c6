"""Change between waves, with standard errors that count the same library answering in both.

The waves' weighted responses are stacked (one row per library and wave, each wave weighted to its own
year's frame) and analysed as one design whose clusters are the libraries: strata = region, PSU =
``library_id``, no finite population correction (see :func:`stacked_design`). A wave mean is
a domain mean of the stacked design, so the covariance of two waves' means comes from the libraries
that answered both, and the variance of a change is ``V_a + V_b - 2 C_ab`` -- as R survey's
``svyby(~y, ~wave, design, svymean, covmat = TRUE)`` followed by ``svycontrast`` on the stacked design
with ``ids = ~library_id`` (tests/golden/trend.R). Ignoring the overlap (each response its own PSU) is
reported alongside as ``se_independent``.

Estimates for every domain of a breakdown are computed at once: the influence values of all
(domain, wave) means form one matrix and a single call of :func:`cmlkit.design.variance` gives their
covariance; contrasts turn it into the variance of each change (no loop over domains).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import design as D
from cmlkit import distributions
from cmlkit import disclosure
from cmlkit.errors import ChangeError  # errors live in cmlkit.errors; re-exported here


def stacked_design(stacked: pd.DataFrame, *, overlap: bool = True, weights: str = "weight", cluster: str = "library_id",
                   strata: str | None = "region") -> D.Design:
    """The design of stacked waves: library clusters across waves (``overlap=True``) or each row its own PSU.

    Parameters
    ----------
    stacked : DataFrame
        One row per response and wave, with ``wave`` and the design columns.
    overlap : bool, default True
        Treat the library as the cluster across waves; False treats the waves as independent samples
        (strata = stratum x wave, each response its own PSU: the sum of the two waves' variances).
    weights, cluster, strata : str
        Columns: survey weights (each wave's own), library id, stratum.

    Returns
    -------
    Design

    Notes
    -----
    A library whose stratum changed between waves stays one cluster, in its stratum of the earliest wave.
    No finite population correction: with a partial panel the wave designs' corrections cannot be carried to
    the change (scaling the stacked variance by a sampling fraction also shrinks the covariance term and
    understated the change's variance: 81-89% coverage of nominal 95% intervals on synthetic panels), while the
    with-replacement variance of the stacked design covers the true change at close to the nominal rate
    (``benchmarks/bench_change_coverage.py``).
    """
    strata = strata if strata in stacked else None
    if not overlap:
        data = stacked.assign(_stratum=(stacked[strata].astype(str) + "|" if strata else "") + stacked["wave"].astype(str))
        return D.svydesign(data, weights=weights, strata="_stratum", lonely_psu="adjust")
    if strata and stacked.groupby(cluster)[strata].nunique().gt(1).any():
        # a library whose stratum changed between waves (a boundary change, a corrected frame) is one cluster: it
        # stays in its stratum of the earliest wave, as clusters must be nested in strata (R refuses them otherwise)
        first = stacked.sort_values("wave", kind="stable").groupby(cluster)[strata].first()
        stacked = stacked.assign(**{strata: stacked[cluster].map(first)})
    return D.svydesign(stacked, weights=weights, ids=cluster, strata=strata, lonely_psu="adjust")


def _cells(stacked: pd.DataFrame, by: str | None, waves: list):
    dom = pd.Series("all", index=stacked.index) if by in (None, "overall") else stacked[by].astype("string").fillna("(missing)")
    domains = sorted(dom.unique())
    Dm = (dom.to_numpy()[:, None] == np.array(domains, dtype=object)[None, :]).astype(float)
    Wm = (stacked["wave"].to_numpy()[:, None] == np.array(waves, dtype=object)[None, :]).astype(float)
    return domains, Dm, Wm


def wave_means(design: D.Design, y: np.ndarray, Dm: np.ndarray, Wm: np.ndarray):
    """Domain x wave means, their influence matrix (n x (domains*waves)) and unweighted bases.

    Parameters
    ----------
    design : Design
        The stacked design (:func:`stacked_design`).
    y : numpy.ndarray
        The variable, one value per stacked row.
    Dm : numpy.ndarray
        Row x domain 0/1 membership.
    Wm : numpy.ndarray
        Row x wave 0/1 membership.

    Returns
    -------
    (means, influence, bases)
        Domain x wave means, their influence matrix (n x (domains*waves)) and unweighted bases.
    """
    ok = ~np.isnan(y)
    w = np.where(ok, design.weights, 0.0)
    yv = np.where(ok, y, 0.0)
    S = np.einsum("i,id,iv->dv", w, Dm, Wm)
    T = np.einsum("i,id,iv->dv", w * yv, Dm, Wm)
    n = np.einsum("i,id,iv->dv", ok.astype(float), Dm, Wm)
    M = np.divide(T, S, out=np.full_like(T, np.nan), where=S > 0)
    cell = Dm[:, :, None] * Wm[:, None, :]
    Z = (w[:, None, None] * cell * (yv[:, None, None] - np.nan_to_num(M)[None]) /
         np.where(S > 0, S, np.inf)[None])
    return M, Z.reshape(len(y), -1), n


def _both(stacked, y, Dm, waves, a, b):
    """Libraries with a value in both waves ``a`` and ``b``, per domain (domain as in wave ``b``)."""
    ok = ~np.isnan(y)
    w = stacked["wave"].to_numpy()
    ids = stacked["library_id"].to_numpy()
    in_a = set(ids[ok & (w == a)])
    rows_b = ok & (w == b) & np.isin(ids, list(in_a))
    return Dm[rows_b].sum(axis=0)


def change_estimates(stacked: pd.DataFrame, columns, *, waves: list, by=("type", "region"), level: float = 0.95,
                     design: D.Design | None = None, independent: D.Design | None = None) -> pd.DataFrame:
    """Per indicator, breakdown and domain: each wave's estimate and the change between consecutive waves.

    Parameters
    ----------
    stacked : DataFrame
        Stacked responses (``wave``, ``library_id``, design columns and the indicator columns).
    columns : list of str
        Indicator columns (library-level values; proportions as 0/1).
    waves : list of str
        Wave ids in time order.
    by : sequence of str
        Breakdowns besides ``overall``.
    level : float, default 0.95
        Interval level; intervals are Wald with the stacked design's degrees of freedom (t).
    design, independent : Design, optional
        The stacked design with library clusters and the one treating waves as independent
        (built by :func:`stacked_design` when omitted).

    Returns
    -------
    DataFrame
        ``indicator, breakdown, domain, wave_a, wave_b, estimate_a, estimate_b, se_a, se_b, change, se,
        ci_low, ci_high, se_independent, df, n_a, n_b, n_both``.
    """
    stacked = stacked.reset_index(drop=True)
    if len(waves) < 2:
        raise ChangeError("a change needs at least two waves")
    design = design or stacked_design(stacked)
    independent = independent or stacked_design(stacked, overlap=False)
    df = D.degf(design)
    q = distributions.t_ppf(0.5 + level / 2, df) if df > 0 else np.nan
    nw = len(waves)
    rows = []
    for col in columns:
        y = pd.to_numeric(stacked[col], errors="coerce").to_numpy(dtype=float)
        for breakdown in ("overall", *by):
            domains, Dm, Wm = _cells(stacked, breakdown, waves)
            M, Z, n = wave_means(design, y, Dm, Wm)
            V = D.variance(design, Z)
            Vi = D.variance(independent, Z)
            nd = len(domains)
            idx = np.arange(nd * nw).reshape(nd, nw)
            for j in range(1, nw):
                L = np.zeros((nd, nd * nw))
                L[np.arange(nd), idx[:, j]] = 1.0
                L[np.arange(nd), idx[:, j - 1]] = -1.0
                ch = M[:, j] - M[:, j - 1]
                se = np.sqrt(np.maximum(np.einsum("dk,kl,dl->d", L, V, L), 0))
                se_i = np.sqrt(np.maximum(np.einsum("dk,kl,dl->d", L, Vi, L), 0))
                var_w = np.diag(V).reshape(nd, nw)
                both = _both(stacked, y, Dm, waves, waves[j - 1], waves[j])
                rows.append(pd.DataFrame({
                    "indicator": col, "breakdown": breakdown, "domain": domains,
                    "wave_a": waves[j - 1], "wave_b": waves[j], "estimate_a": M[:, j - 1], "estimate_b": M[:, j],
                    "se_a": np.sqrt(var_w[:, j - 1]), "se_b": np.sqrt(var_w[:, j]), "change": ch, "se": se,
                    "ci_low": ch - q * se, "ci_high": ch + q * se, "se_independent": se_i, "df": df,
                    "n_a": n[:, j - 1].astype(int), "n_b": n[:, j].astype(int), "n_both": both.astype(int)}))
    return pd.concat(rows, ignore_index=True)


def flag_small_bases(table: pd.DataFrame, *, k: int | None = None) -> pd.DataFrame:
    """Disclosure control for change rows (:func:`cmlkit.disclosure.suppress`): a row whose base in either wave
    is below ``k`` is suppressed, and a second one within the same indicator, breakdown and pair of waves when
    one alone would be; the published numbers of suppressed rows are blanked.

    Parameters
    ----------
    table : pandas.DataFrame
        Change rows with each wave's base.
    k : int, optional
        Smallest publishable base; default ``research/disclosure.yml``.

    Returns
    -------
    pandas.DataFrame
        With ``suppressed`` and ``suppression``; suppressed rows blanked.
    """
    blank = ("estimate_a", "estimate_b", "se_a", "se_b", "change", "se", "ci_low", "ci_high", "se_independent")
    t = table.assign(base_n=table[["n_a", "n_b"]].min(axis=1),
                     _group=table["indicator"] + "|" + table["breakdown"] + "|" + table["wave_a"] + "|" + table["wave_b"])
    grouped = t["breakdown"] != "overall"
    out = pd.concat([disclosure.suppress(t.loc[grouped], k=k, group="_group", blank=blank),
                     disclosure.suppress(t.loc[~grouped], k=k, blank=blank)]).sort_index()
    return out.drop(columns=["_group"])
