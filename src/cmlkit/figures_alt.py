"""Alt text for report figures, generated from the plotted data: one builder per figure kind.

Each builder takes the same table the plot function drew (and the same labels) and returns one
plain-language paragraph: what kind of chart, what is measured, and every value a sighted reader
can read off it (suppressed cells said as such). :data:`ALT_BUILDERS` maps the figure kinds of
:mod:`cmlkit.figures` (``fig.cmlkit_kind``) to their builder; :func:`alt_text` dispatches.
Notebooks call these rather than writing alt text by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _pct(v) -> str:
    return "not available" if v is None or not np.isfinite(v) else f"{v:.0%}"


def _join(parts) -> str:
    return "; ".join(p for p in parts if p)


def alt_share_bars(table: pd.DataFrame, *, what: str, label_col: str = "label", share_col: str = "share",
                   n_col: str = "n_answered", weighted: bool = False) -> str:
    """Alt text of horizontal bars of shares (:func:`cmlkit.figures.plot_share_bars`), largest first.

    Parameters
    ----------
    table : pandas.DataFrame
        The plotted table.
    what : str
        What the shares are of ("libraries offering each service").
    label_col : str, default "label"
    share_col : str, default "share"
    n_col : str, default "n_answered"
        Base column; its largest value is given as n (0 when the column is absent).
    weighted : bool, default False
        Whether the shares are weighted (said in the text).

    Returns
    -------
    str
        One paragraph listing every bar with its percentage (whole %; "not available" when missing).
    """
    t = table.sort_values(share_col, ascending=False)
    base = int(t[n_col].max()) if n_col in t and len(t) else 0
    return (f"Horizontal bar chart, largest first, of the {'weighted' if weighted else 'unweighted'} share of {what} "
            f"(n = {base}): " + _join(f"{r[label_col]} {_pct(r[share_col])}" for _, r in t.iterrows()) + ".")


def alt_heatmap(table: pd.DataFrame, *, what: str, rows: str, columns: str, fmt: str = "{:.0%}") -> str:
    """Alt text of an annotated heatmap (:func:`cmlkit.figures.plot_heatmap`): every cell, row by row.

    Parameters
    ----------
    table : pandas.DataFrame
        The plotted table.
    what : str
        What the cells show.
    rows, columns : str
        What the rows and the columns are.
    fmt : str, default "{:.0%}"
        Format of the cell values (non-finite cells: "not available").

    Returns
    -------
    str
    """
    return (f"Heatmap of {what}, {rows} in rows and {columns} in columns ({', '.join(str(c) for c in table.columns)}). "
            + _join(f"{i}: " + ", ".join(f"{c} {fmt.format(v) if np.isfinite(v) else 'not available'}" for c, v in r.items())
                    for i, r in table.iterrows()) + ".")


def alt_likert(shares: pd.DataFrame, *, what: str, labels: dict | None = None, positive: str = "positive",
               negative: str = "negative") -> str:
    """Alt text of diverging stacked Likert bars (:func:`cmlkit.figures.plot_likert`).

    Parameters
    ----------
    shares : pandas.DataFrame
        The plotted table: items in rows, ordered levels in columns, optionally ``n``.
    what : str
        What the items measure.
    labels : dict, optional
        Item -> label (default: the index).
    positive, negative : str, default "positive" and "negative"
        Words for the upper and the lower half of the levels (the neutral middle level of an odd
        number is in neither).

    Returns
    -------
    str
        The scale's end levels, then per item the shares of the upper and the lower half, with n
        when given.
    """
    levels = [c for c in shares.columns if c != "n"]
    k = len(levels)
    neg, pos = levels[: k // 2], levels[k - k // 2:]
    return (f"Diverging stacked bars of {what}, from {levels[0].lower()} to {levels[-1].lower()}; "
            + _join(f"{(labels or {}).get(i, i)}: {_pct(r[pos].sum())} {positive}, {_pct(r[neg].sum())} {negative}"
                    + (f" (n = {int(r['n'])})" if "n" in r else "") for i, r in shares.iterrows()) + ".")


def alt_estimates(table: pd.DataFrame, *, what: str, label_col: str = "domain", k: int | None = None) -> str:
    """Alt text of a dot plot with interval whiskers (:func:`cmlkit.figures.plot_estimates`).

    Parameters
    ----------
    table : pandas.DataFrame
        The plotted table (``estimate``, ``ci_low``, ``ci_high``, optionally ``base_n`` and
        ``suppressed``).
    what : str
        What is estimated.
    label_col : str, default "domain"
    k : int, optional
        The disclosure threshold, named in the count of suppressed rows (default: the letter k).

    Returns
    -------
    str
        The unsuppressed rows, largest estimate first, each with its interval (and n), then the
        number of suppressed rows if any.
    """
    sup = table.get("suppressed", pd.Series(False, index=table.index)).astype(bool)
    shown = table.loc[~sup].sort_values("estimate", ascending=False)
    text = (f"Dot plot with 95% interval whiskers of {what}, largest first: "
            + _join(f"{r[label_col]} {_pct(r['estimate'])} ({_pct(r['ci_low'])} to {_pct(r['ci_high'])}"
                    + (f", n = {int(r['base_n'])})" if "base_n" in r else ")") for _, r in shown.iterrows()))
    if sup.any():
        text += f"; {int(sup.sum())} suppressed (fewer than {k if k is not None else 'k'} responses)"
    return text + "."


def alt_stacked_shares(table: pd.DataFrame, *, what: str, min_share: float = 0.05) -> str:
    """Alt text of 100% stacked bars (:func:`cmlkit.figures.plot_stacked_shares`).

    Parameters
    ----------
    table : pandas.DataFrame
        The plotted table: groups in rows, parts in columns.
    what : str
        What the bars divide up.
    min_share : float, default 0.05
        Parts below this share are not listed (the text says so).

    Returns
    -------
    str
    """
    return (f"100% stacked bars of {what}; " + _join(
        f"{g}: " + ", ".join(f"{c} {_pct(v)}" for c, v in r.items() if v >= min_share) for g, r in table.iterrows())
        + f" (parts under {min_share:.0%} not listed).")


def alt_dumbbell(table: pd.DataFrame, *, what: str, left: str, right: str) -> str:
    """Alt text of a dumbbell chart (:func:`cmlkit.figures.plot_dumbbell`).

    Parameters
    ----------
    table : pandas.DataFrame
        The plotted table (rows in the index).
    what : str
        What the rows are.
    left, right : str
        The two plotted columns; rows are listed by ``right``, largest first.

    Returns
    -------
    str
    """
    t = table.sort_values(right, ascending=False)
    return (f"Dumbbell chart of {what}, {left} against {right}, ordered by {right}: "
            + _join(f"{i}: {left} {_pct(r[left])}, {right} {_pct(r[right])}" for i, r in t.iterrows()) + ".")


def alt_pyramid(table: pd.DataFrame, *, what: str, left: str, right: str) -> str:
    """Alt text of back-to-back bars by band (:func:`cmlkit.figures.plot_pyramid`).

    Parameters
    ----------
    table : pandas.DataFrame
        The plotted table (bands in the index, in table order).
    what : str
        What the bars show.
    left, right : str
        The columns drawn on the left and on the right.

    Returns
    -------
    str
    """
    return (f"Back-to-back bars of {what}: {left} on the left, {right} on the right; "
            + _join(f"{b}: {_pct(r[left])} and {_pct(r[right])}" for b, r in table.iterrows()) + ".")


def alt_cluster_map(coords, labels, *, names: dict | None = None, what: str = "libraries") -> str:
    """Alt text of a cluster map (:func:`cmlkit.figures.plot_cluster_map`): the size of each cluster.

    Parameters
    ----------
    coords : array-like
        The plotted coordinates (not used: the text gives counts only).
    labels : array-like
        Cluster of each point.
    names : dict, optional
        Cluster -> name (default: the cluster label).
    what : str, default "libraries"
        What the points are.

    Returns
    -------
    str
    """
    labels = np.asarray(labels)
    return (f"Scatter plot of {len(labels)} {what} on the first two principal coordinates of their Gower distances, marked "
            "by cluster: " + _join(f"{(names or {}).get(c, c)} {int((labels == c).sum())}" for c in sorted(np.unique(labels))) + ".")


def alt_response_rates(rates: pd.DataFrame) -> str:
    """Alt text of the response-rate dot plot (:func:`cmlkit.figures.plot_response_rates`).

    Parameters
    ----------
    rates : pandas.DataFrame
        The plotted table (``region, type, n, N, rate``, with an ``All`` row for the overall rate).

    Returns
    -------
    str
        The overall rate (when there is an ``All`` row), and the lowest and highest region x type
        rates, each with n of N.
    """
    data = rates.loc[rates["region"] != "All"].sort_values("rate")
    overall = rates.loc[rates["region"] == "All"]
    text = "Dot plot of response rates by region and governance type. "
    if len(overall):
        o = overall.iloc[0]
        text += f"Overall {_pct(o['rate'])} ({int(o['n'])} of {int(o['N'])}). "
    lo, hi = data.iloc[0], data.iloc[-1]
    return text + (f"Lowest: {lo['region']} {lo['type']} {_pct(lo['rate'])} ({int(lo['n'])} of {int(lo['N'])}); "
                   f"highest: {hi['region']} {hi['type']} {_pct(hi['rate'])} ({int(hi['n'])} of {int(hi['N'])}).")


def alt_weights(weights) -> str:
    """Alt text of the histogram of survey weights (:func:`cmlkit.figures.plot_weights`).

    Parameters
    ----------
    weights : array-like
        The survey weights.

    Returns
    -------
    str
        The number of weights, their range, the Kish design effect ``n * sum(w**2) / sum(w)**2`` and
        the effective sample size ``n / deff``.
    """
    w = np.asarray(weights, dtype=float)
    deff = len(w) * np.sum(w ** 2) / np.sum(w) ** 2
    return (f"Histogram of the {len(w)} survey weights; they range from {w.min():.2f} to {w.max():.2f}, Kish design effect "
            f"{deff:.2f}, effective sample size {len(w) / deff:.0f}.")


def alt_balance(balance: pd.DataFrame, *, threshold: float = 0.25, n_sample: int | None = None,
                n_population: int | None = None) -> str:
    """Alt text of standardised differences of the sample against the population (:func:`cmlkit.figures.plot_balance`).

    Parameters
    ----------
    balance : pandas.DataFrame
        The plotted table (``variable, category, std_diff``).
    threshold : float, default 0.25
        The band: the text counts the rows within ±``threshold``.
    n_sample, n_population : int, optional
        The selected and the eligible libraries; when both are given the text names them (a case-study draw).

    Returns
    -------
    str
        The number of rows, how many lie within the band, and the largest absolute difference.
    """
    inside = int((balance["std_diff"].abs() <= threshold).sum())
    worst = balance.loc[balance["std_diff"].abs().idxmax()]
    between = ("the sample and the population" if n_sample is None or n_population is None else
               f"the {n_sample} selected libraries and the {n_population} eligible libraries")
    return (f"Dot plot of standardised differences between {between} for {len(balance)} variables and "
            f"categories; {inside} lie within ±{threshold}. Largest: {worst['variable']} {worst['category']} {worst['std_diff']:+.2f}.")


def alt_score_by_tier(scores: pd.DataFrame, *, thresholds=()) -> str:
    """Alt text of the stacked histogram of risk scores by tier (:func:`cmlkit.figures.plot_score_by_tier`).

    Parameters
    ----------
    scores : pandas.DataFrame
        The plotted table (``score``, ``tier``); rows without a score are not counted.
    thresholds : sequence of float, default ()
        Tier thresholds, listed when given.

    Returns
    -------
    str
        The number of scored libraries and the counts in the ``high``, ``medium`` and ``low`` tiers.
    """
    s = scores.loc[scores["score"].notna()]
    counts = s["tier"].value_counts()
    return (f"Stacked histogram of risk index scores for {len(s)} libraries, by tier: "
            + ", ".join(f"{t} {int(counts.get(t, 0))}" for t in ("high", "medium", "low"))
            + ("; dashed lines at the tier thresholds " + ", ".join(f"{x:.2f}" for x in thresholds) if len(thresholds) else "") + ".")


ALT_BUILDERS = {
    "share_bars": alt_share_bars, "heatmap": alt_heatmap, "likert": alt_likert, "estimates": alt_estimates,
    "stacked_shares": alt_stacked_shares, "dumbbell": alt_dumbbell, "pyramid": alt_pyramid, "cluster_map": alt_cluster_map,
    "response_rates": alt_response_rates, "weights": alt_weights, "balance": alt_balance, "score_by_tier": alt_score_by_tier,
}
"""Figure kind (as set by each ``cmlkit.figures.plot_*``) -> alt-text builder."""


def alt_text(kind: str, *args, **kwargs) -> str:
    """The alt text of a figure of ``kind`` from its data.

    Parameters
    ----------
    kind : str
        A figure kind of :data:`ALT_BUILDERS` (as ``cmlkit_kind`` on the figure).
    *args, **kwargs
        Passed to that kind's builder.

    Returns
    -------
    str

    Raises
    ------
    KeyError
        If no builder exists for ``kind``.
    """
    if kind not in ALT_BUILDERS:
        raise KeyError(f"no alt-text builder for figure kind {kind!r}; known: {sorted(ALT_BUILDERS)}")
    return ALT_BUILDERS[kind](*args, **kwargs)
