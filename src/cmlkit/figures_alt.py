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
    """Horizontal bars of shares, largest first."""
    t = table.sort_values(share_col, ascending=False)
    base = int(t[n_col].max()) if n_col in t and len(t) else 0
    return (f"Horizontal bar chart, largest first, of the {'weighted' if weighted else 'unweighted'} share of {what} "
            f"(n = {base}): " + _join(f"{r[label_col]} {_pct(r[share_col])}" for _, r in t.iterrows()) + ".")


def alt_heatmap(table: pd.DataFrame, *, what: str, rows: str, columns: str, fmt: str = "{:.0%}") -> str:
    """Annotated heatmap: every cell, row by row."""
    return (f"Heatmap of {what}, {rows} in rows and {columns} in columns ({', '.join(str(c) for c in table.columns)}). "
            + _join(f"{i}: " + ", ".join(f"{c} {fmt.format(v) if np.isfinite(v) else 'not available'}" for c, v in r.items())
                    for i, r in table.iterrows()) + ".")


def alt_likert(shares: pd.DataFrame, *, what: str, labels: dict | None = None, positive: str = "positive",
               negative: str = "negative") -> str:
    """Diverging stacked bars: share on each side of the neutral level per item."""
    levels = [c for c in shares.columns if c != "n"]
    k = len(levels)
    neg, pos = levels[: k // 2], levels[k - k // 2:]
    return (f"Diverging stacked bars of {what}, from {levels[0].lower()} to {levels[-1].lower()}; "
            + _join(f"{(labels or {}).get(i, i)}: {_pct(r[pos].sum())} {positive}, {_pct(r[neg].sum())} {negative}"
                    + (f" (n = {int(r['n'])})" if "n" in r else "") for i, r in shares.iterrows()) + ".")


def alt_estimates(table: pd.DataFrame, *, what: str, label_col: str = "domain", k: int | None = None) -> str:
    """Dot plot with interval whiskers; suppressed rows counted."""
    sup = table.get("suppressed", pd.Series(False, index=table.index)).astype(bool)
    shown = table.loc[~sup].sort_values("estimate", ascending=False)
    text = (f"Dot plot with 95% interval whiskers of {what}, largest first: "
            + _join(f"{r[label_col]} {_pct(r['estimate'])} ({_pct(r['ci_low'])} to {_pct(r['ci_high'])}"
                    + (f", n = {int(r['base_n'])})" if "base_n" in r else ")") for _, r in shown.iterrows()))
    if sup.any():
        text += f"; {int(sup.sum())} suppressed (fewer than {k if k is not None else 'k'} responses)"
    return text + "."


def alt_stacked_shares(table: pd.DataFrame, *, what: str, min_share: float = 0.05) -> str:
    """100% stacked bars: each group's parts of at least ``min_share``."""
    return (f"100% stacked bars of {what}; " + _join(
        f"{g}: " + ", ".join(f"{c} {_pct(v)}" for c, v in r.items() if v >= min_share) for g, r in table.iterrows())
        + f" (parts under {min_share:.0%} not listed).")


def alt_dumbbell(table: pd.DataFrame, *, what: str, left: str, right: str) -> str:
    """Two values per row joined by a line."""
    t = table.sort_values(right, ascending=False)
    return (f"Dumbbell chart of {what}, {left} against {right}, ordered by {right}: "
            + _join(f"{i}: {left} {_pct(r[left])}, {right} {_pct(r[right])}" for i, r in t.iterrows()) + ".")


def alt_pyramid(table: pd.DataFrame, *, what: str, left: str, right: str) -> str:
    """Back-to-back bars by band."""
    return (f"Back-to-back bars of {what}: {left} on the left, {right} on the right; "
            + _join(f"{b}: {_pct(r[left])} and {_pct(r[right])}" for b, r in table.iterrows()) + ".")


def alt_cluster_map(coords, labels, *, names: dict | None = None, what: str = "libraries") -> str:
    """Scatter coloured by cluster: cluster sizes."""
    labels = np.asarray(labels)
    return (f"Scatter plot of {len(labels)} {what} on the first two principal coordinates of their Gower distances, marked "
            "by cluster: " + _join(f"{(names or {}).get(c, c)} {int((labels == c).sum())}" for c in sorted(np.unique(labels))) + ".")


def alt_response_rates(rates: pd.DataFrame) -> str:
    """Response rate by region and type: overall, lowest and highest."""
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
    """Histogram of survey weights with the Kish design effect."""
    w = np.asarray(weights, dtype=float)
    deff = len(w) * np.sum(w ** 2) / np.sum(w) ** 2
    return (f"Histogram of the {len(w)} survey weights; they range from {w.min():.2f} to {w.max():.2f}, Kish design effect "
            f"{deff:.2f}, effective sample size {len(w) / deff:.0f}.")


def alt_balance(balance: pd.DataFrame, *, threshold: float = 0.25) -> str:
    """Standardised differences of the sample against the population."""
    inside = int((balance["std_diff"].abs() <= threshold).sum())
    worst = balance.loc[balance["std_diff"].abs().idxmax()]
    return (f"Dot plot of standardised differences between the sample and the population for {len(balance)} variables and "
            f"categories; {inside} lie within ±{threshold}. Largest: {worst['variable']} {worst['category']} {worst['std_diff']:+.2f}.")


def alt_score_by_tier(scores: pd.DataFrame, *, thresholds=()) -> str:
    """Stacked histogram of risk scores by tier."""
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
    """The alt text of a figure of ``kind`` from its data (see :data:`ALT_BUILDERS`)."""
    if kind not in ALT_BUILDERS:
        raise KeyError(f"no alt-text builder for figure kind {kind!r}; known: {sorted(ALT_BUILDERS)}")
    return ALT_BUILDERS[kind](*args, **kwargs)
