"""Report figures: one accessible style, colour-blind-safe palette, ``ax=None`` in, Axes out.

Plot functions draw on ``ax`` (or a new figure) and return the Axes, tagging the figure with its kind;
:func:`save_figure` fits titles, puts variable-name labels in words (labels from the instrument via
:func:`instrument_labels`), adds the source line (:func:`source_line`), crops to what is drawn and
writes PNG (150 dpi) and SVG with fixed metadata (byte-stable), the alt text (``.txt``) and a layout
record (``.json``: texts outside the canvas, labels); it and its helpers live in
:mod:`cmlkit.figure_layout` and are re-exported here. Alt text comes from the plotted data through one
builder per figure kind (:mod:`cmlkit.figures_alt`, re-exported here as ``alt_*`` and :func:`alt_text`).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cmlkit.figure_layout import (  # noqa: E402,F401  (re-exported: laying out and saving belong to cmlkit.figures)
    RAW_NAME, instrument_labels, readable, save_figure, source_line, text_outside)
from cmlkit.figures_alt import (  # noqa: E402,F401  (re-exported: the alt-text builders belong to cmlkit.figures)
    ALT_BUILDERS, alt_balance, alt_cluster_map, alt_dumbbell, alt_estimates, alt_heatmap, alt_likert, alt_pyramid,
    alt_response_rates, alt_score_by_tier, alt_share_bars, alt_stacked_shares, alt_text, alt_weights)

# Okabe-Ito palette (colour-blind safe)
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.titleweight": "bold", "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "svg.hashsalt": "cmlkit",
    "figure.dpi": 100, "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
}
plt.rcParams.update(STYLE)


def plot_share_bars(table: pd.DataFrame, *, label_col: str = "label", share_col: str = "share", n_col: str = "n_answered",
                    title: str = "", xlabel: str = "Share of responding libraries", ax=None):
    """Horizontal bars of shares (0-1), largest at the top, each labelled with its percentage.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per bar with ``label_col`` and ``share_col``; the largest ``n_col`` value (the base)
        goes in the title.
    label_col : str, default "label"
    share_col : str, default "share"
    n_col : str, default "n_answered"
    title : str, default ""
        First title line, followed by "(unweighted, n = base)"; without it the title is "n = base".
    xlabel : str, default "Share of responding libraries"
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure sized to the rows).

    Returns
    -------
    matplotlib.axes.Axes
        Figure kind ``share_bars``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.32 * len(table) + 1.2))
    t = table.sort_values(share_col)
    bars = ax.barh(t[label_col], t[share_col], color=PALETTE[0])
    for bar, v in zip(bars, t[share_col]):
        ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, f"{v:.0%}", va="center", fontsize=8)
    ax.set_xlim(0, 1.1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(xlabel)
    base = int(t[n_col].max()) if n_col in t and len(t) else 0
    ax.set_title(f"{title}\n(unweighted, n = {base})" if title else f"n = {base}", loc="left")
    ax.grid(axis="y", visible=False)
    ax.figure.cmlkit_kind = "share_bars"
    return ax


def plot_response_rates(rates: pd.DataFrame, *, ax=None):
    """Dot plot of response rate by region, one marker per governance type, labelled n/N.

    Parameters
    ----------
    rates : pandas.DataFrame
        :func:`cmlkit.nonresponse.response_rates` output (``region, type, n, N, rate``); the row
        whose region is ``All`` is drawn as a dashed vertical line, the others as markers with
        regions in alphabetical order from the top.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure sized to the number of regions).

    Returns
    -------
    matplotlib.axes.Axes
        Figure kind ``response_rates``.
    """
    data = rates.loc[rates["region"] != "All"]
    regions = sorted(data["region"].unique(), reverse=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.45 * len(regions) + 1.4))
    markers = ["o", "s", "^", "D"]
    for k, (t, sub) in enumerate(data.groupby("type")):
        y = [regions.index(r) + (k - 0.5) * 0.18 for r in sub["region"]]
        ax.scatter(sub["rate"], y, marker=markers[k % 4], color=PALETTE[k], s=42, label=f"{t}", zorder=3, clip_on=False)
        for rate, yy, n, N in zip(sub["rate"], y, sub["n"], sub["N"]):
            ax.annotate(f"{int(n)}/{int(N)}", (rate, yy), xytext=(6, 0), textcoords="offset points", va="center", fontsize=7)
    overall = rates.loc[rates["region"] == "All", "rate"]
    if len(overall):
        ax.axvline(float(overall.iloc[0]), color="0.4", ls="--", lw=1, label=f"all ({float(overall.iloc[0]):.0%})")
    ax.set_yticks(range(len(regions)), regions)
    ax.set_ylim(-0.7, len(regions) - 0.3)
    ax.set_xlim(0, 1.15)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel("Response rate (responding / in-scope libraries)")
    ax.set_title("Response rate by region and governance type", loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.figure.cmlkit_kind = "response_rates"
    return ax


def plot_weights(weights, *, ax=None, title: str = "Distribution of survey weights"):
    """Histogram of survey weights with the Kish design effect in the title.

    Parameters
    ----------
    weights : array-like
        The survey weights.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new 6 x 3.2 inch figure).
    title : str, default "Distribution of survey weights"
        First title line; a second gives n, the design effect and the effective n.

    Returns
    -------
    matplotlib.axes.Axes
        Figure kind ``weights``.

    Notes
    -----
    Kish's design effect due to unequal weights is ``n * sum(w**2) / sum(w)**2`` and the effective
    sample size ``n / deff``. The histogram has ``min(30, max(5, n // 8))`` bins.

    References
    ----------
    Kish, L. (1965). *Survey Sampling*. New York: Wiley.
    """
    w = np.asarray(weights, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(w, bins=min(30, max(5, len(w) // 8)), color=PALETTE[0], edgecolor="white")
    deff = len(w) * np.sum(w ** 2) / np.sum(w) ** 2
    ax.set_title(f"{title}\n(n = {len(w)}, Kish design effect {deff:.2f}, effective n {len(w) / deff:.0f})", loc="left")
    ax.set_xlabel("Weight (libraries represented by each response)")
    ax.set_ylabel("Responses")
    ax.figure.cmlkit_kind = "weights"
    return ax


def plot_heatmap(table: pd.DataFrame, *, title: str = "", fmt: str = "{:.0%}", cmap: str = "cividis", vmin=0.0,
                 vmax=1.0, xlabel: str = "", cbar_label: str = "", ax=None):
    """Annotated heatmap of a small table (rows x columns), e.g. cluster profiles or a cross-tab.

    Parameters
    ----------
    table : pandas.DataFrame
        Numeric values; rows are drawn top to bottom, each finite cell labelled with ``fmt`` (white
        text below the middle of the colour scale, black above).
    title : str, default ""
    xlabel : str, default ""
    fmt : str, default "{:.0%}"
        Format of the cell labels.
    cmap : str, default "cividis"
        A perceptually uniform, colour-vision-deficiency-safe colour map.
    vmin, vmax : float or None, default 0.0 and 1.0
        Colour scale limits (None: the data range).
    cbar_label : str, default ""
        Label of the colour bar, whose ticks use the cells' unit (% when ``fmt`` has %).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure sized to the table).

    Returns
    -------
    matplotlib.axes.Axes
        Figure kind ``heatmap``.
    """
    values = table.to_numpy(dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5.0, 0.75 * table.shape[1] + 3), 0.45 * table.shape[0] + 1.8))
    im = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    lo = np.nanmin(values) if vmin is None else vmin
    hi = np.nanmax(values) if vmax is None else vmax
    mid = (lo + hi) / 2
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7, color="white" if v < mid else "black")
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(table.shape[0]), [str(r) for r in table.index], fontsize=8)
    ax.grid(False)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    cbar = ax.figure.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    if "%" in fmt:  # the colour bar in the same unit as the cell labels
        cbar.ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    cbar.set_label(cbar_label, fontsize=8)
    ax.figure.cmlkit_kind = "heatmap"
    return ax


def plot_cluster_map(coords, labels, *, names=None, title: str = "Libraries mapped by governance features", ax=None):
    """Scatter of 2-D coordinates (e.g. principal coordinates of Gower distances) coloured by cluster.

    Parameters
    ----------
    coords : array-like, shape (n, 2)
        Coordinates of each library.
    labels : array-like, shape (n,)
        Cluster of each library; clusters are drawn in sorted order.
    names : dict, optional
        Cluster -> name for the legend (default, or when not a dict: the cluster label).
    title : str, default "Libraries mapped by governance features"
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new 6.5 x 5 inch figure).

    Returns
    -------
    matplotlib.axes.Axes
        Figure kind ``cluster_map``. Each cluster has its own colour and marker (so the map reads
        without colour too); the legend, below the plot, gives each name with its n.
    """
    coords = np.asarray(coords, dtype=float)
    labels = np.asarray(labels)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5))
    markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
    for i, c in enumerate(sorted(np.unique(labels))):
        m = labels == c
        name = names.get(c, str(c)) if isinstance(names, dict) else str(c)
        ax.scatter(coords[m, 0], coords[m, 1], s=18, alpha=0.75, color=PALETTE[i % len(PALETTE)],
                   marker=markers[i % len(markers)], label=f"{name} (n = {int(m.sum())})")
    ax.set_xlabel("Principal coordinate 1")
    ax.set_ylabel("Principal coordinate 2")
    ax.set_title(title, loc="left")
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=min(3, len(np.unique(labels))))
    ax.figure.cmlkit_kind = "cluster_map"
    return ax


def plot_balance(balance: pd.DataFrame, *, threshold: float = 0.25, title: str = "Case studies against the population", ax=None):
    """Dot plot of standardised differences (sample - population) / SD, one row per variable/category.

    Parameters
    ----------
    balance : pandas.DataFrame
        :func:`cmlkit.sampling.balance` output (``variable, category, std_diff``); a row is labelled
        ``variable: category`` (``variable`` alone when the category is ``""``), the first row at the
        top.
    threshold : float, default 0.25
        Half-width of the shaded band; points within it are circles, points beyond it diamonds in
        another colour.
    title : str, default "Case studies against the population"
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure sized to the rows).

    Returns
    -------
    matplotlib.axes.Axes
        Figure kind ``balance``.
    """
    t = balance.assign(label=[f"{v}: {c}" if c != "" else str(v) for v, c in zip(balance["variable"], balance["category"])])
    t = t.iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.28 * len(t) + 1.4))
    ax.axvspan(-threshold, threshold, color="0.9", zorder=0)
    ax.axvline(0, color="0.4", lw=1)
    inside = t["std_diff"].abs() <= threshold
    ax.scatter(t.loc[inside, "std_diff"], t.loc[inside, "label"], color=PALETTE[0], marker="o", s=24, zorder=3, label=f"within ±{threshold}")
    ax.scatter(t.loc[~inside, "std_diff"], t.loc[~inside, "label"], color=PALETTE[5], marker="D", s=24, zorder=3, label=f"beyond ±{threshold}")
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("Standardised difference, sample − population (population SDs)")
    ax.set_title(title, loc="left")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.figure.cmlkit_kind = "balance"
    return ax


def plot_score_by_tier(scores: pd.DataFrame, *, thresholds=None, ax=None, title: str = "Risk index score by tier"):
    """Histogram of risk scores stacked by tier, with the tier thresholds marked.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``score`` (0-1) and ``tier`` per library; rows without a score are left out. Tiers stack as
        ``low``, ``medium``, ``high``, then any others sorted.
    thresholds : sequence of float, optional
        Tier thresholds, drawn as dashed vertical lines.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new 6.5 x 3.4 inch figure).
    title : str, default "Risk index score by tier"
        First title line; a second gives the number of scored libraries.

    Returns
    -------
    matplotlib.axes.Axes
        Figure kind ``score_by_tier``; 25 bins over [0, 1].
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.4))
    s = scores.loc[scores["score"].notna()]
    tiers = [t for t in ("low", "medium", "high") if t in set(s["tier"])] + sorted(set(s["tier"]) - {"low", "medium", "high"})
    bins = np.linspace(0, 1, 26)
    ax.hist([s.loc[s["tier"] == t, "score"] for t in tiers], bins=bins, stacked=True, label=tiers,
            color=[PALETTE[2], PALETTE[1], PALETTE[5], PALETTE[7]][:len(tiers)], edgecolor="white", hatch=None)
    for th in thresholds or []:
        ax.axvline(th, color="0.3", ls="--", lw=1)
    ax.set_xlabel("Risk index score (0 = no risk on any indicator, 1 = full risk on all)")
    ax.set_ylabel("Libraries")
    ax.set_title(f"{title}\n(n = {len(s)} scored)", loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.figure.cmlkit_kind = "score_by_tier"
    return ax


def plot_estimates(table: pd.DataFrame, *, label_col: str = "domain", title: str = "", xlabel: str = "",
                   order: str = "value", ax=None):
    """Estimates with interval whiskers, one row per domain; suppressed cells shown as 'suppressed'.

    Parameters
    ----------
    table : pandas.DataFrame
        ``label_col``, ``estimate``, ``ci_low``, ``ci_high``, ``base_n`` and optionally boolean
        ``suppressed``. Estimates are shares: the axis runs from 0% to 100%.
    label_col : str, default "domain"
        Column naming each row; an unsuppressed row's label adds ``(n = base_n)``.
    title : str, default ""
    xlabel : str, default ""
    order : str, default "value"
        ``"value"``: largest estimate at the top (missing estimates last, ties by label), and the
        axis label says "ordered by estimate"; any other value keeps the table's order, first row
        at the top.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure sized to the rows).

    Returns
    -------
    matplotlib.axes.Axes
        Figure kind ``estimates``; a suppressed row shows "suppressed (base < k)" instead of a point.
    """
    if order == "value":
        table = table.assign(_k=table["estimate"].fillna(-1)).sort_values(["_k", label_col], ascending=[False, True], kind="stable")
        xlabel = f"{xlabel} (ordered by estimate)" if xlabel else "Ordered by estimate"
    t = table.iloc[::-1].reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.32 * len(t) + 1.4))
    shown = ~t.get("suppressed", pd.Series(False, index=t.index)).astype(bool)
    y = range(len(t))
    ax.errorbar(t.loc[shown, "estimate"], [i for i in y if shown[i]],
                xerr=[t.loc[shown, "estimate"] - t.loc[shown, "ci_low"], t.loc[shown, "ci_high"] - t.loc[shown, "estimate"]],
                fmt="o", color=PALETTE[0], ecolor="0.4", capsize=2, ms=4)
    for i in y:
        if not shown[i]:
            ax.text(0.005, i, "suppressed (base < k)", va="center", fontsize=7, color="0.4")
    labels = [f"{d} (n = {int(n)})" if shown[i] else f"{d}" for i, (d, n) in enumerate(zip(t[label_col], t["base_n"]))]
    ax.set_yticks(list(y), labels, fontsize=8)
    ax.set_ylim(-0.7, len(t) - 0.3)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    ax.figure.cmlkit_kind = "estimates"
    return ax


# Diverging palette for ordered agreement/confidence scales (ColorBrewer PuOr, colour-blind safe)
DIVERGING5 = ["#e66101", "#fdb863", "#d9d9d9", "#b2abd2", "#5e3c99"]


def plot_likert(shares: pd.DataFrame, *, title: str = "", labels: dict | None = None, ax=None):
    """Diverging stacked bars for Likert items, centred on the neutral level.

    Parameters
    ----------
    shares : pandas.DataFrame
        Rows = items (the index), columns = the ordered levels, most negative first (shares summing
        to 1 per row), and optionally ``n``, shown beside each item. The first row is at the top.
    title : str, default ""
    labels : dict, optional
        Item -> label for the rows (default: the index).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure sized to the items).

    Returns
    -------
    matplotlib.axes.Axes
        Figure kind ``likert``.

    Notes
    -----
    The lower half of the levels extends left of zero and the upper half right; with an odd number
    of levels the middle (neutral) one straddles zero. Five levels use :data:`DIVERGING5`
    (ColorBrewer PuOr), other numbers colours sampled from PuOr. Segments of at least 8% are
    labelled with their percentage.
    """
    levels = [c for c in shares.columns if c != "n"]
    k = len(levels)
    mid = k // 2
    t = shares.iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.5 * len(t) + 1.6))
    colours = DIVERGING5 if k == 5 else [plt.cm.PuOr(x) for x in np.linspace(0.1, 0.9, k)][::-1]
    y = np.arange(len(t))
    neg = t[levels[:mid]].to_numpy()
    neutral = t[levels[mid]].to_numpy() if k % 2 else np.zeros(len(t))
    left = -(neg.sum(axis=1) + neutral / 2)
    for j, lev in enumerate(levels):
        v = t[lev].to_numpy()
        ax.barh(y, v, left=left, color=colours[j], edgecolor="white", label=lev, height=0.7)
        for yy, vv, ll in zip(y, v, left):
            if vv >= 0.08:
                ax.text(ll + vv / 2, yy, f"{vv:.0%}", ha="center", va="center", fontsize=7, color="black" if j in (1, 2, 3) else "white")
        left = left + v
    names = [(labels or {}).get(i, i) for i in t.index]
    ax.set_yticks(y, [f"{nm} (n = {int(n)})" for nm, n in zip(names, t["n"])] if "n" in t else names, fontsize=8)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlim(-1, 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{abs(x):.0%}"))
    ax.set_title(title, loc="left")
    ax.legend(ncol=min(k, 3), fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    ax.grid(axis="y", visible=False)
    ax.figure.cmlkit_kind = "likert"
    return ax


def plot_stacked_shares(table: pd.DataFrame, *, title: str = "", xlabel: str = "Share", ax=None):
    """Horizontal 100% stacked bars: rows = groups, columns = parts (shares per row), e.g. income mix.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows = groups (the index, first at the top), columns = parts in stacking order; each part
        has its own colour and hatch. Segments of at least 7% are labelled with their percentage.
    title : str, default ""
    xlabel : str, default "Share"
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure sized to the groups).

    Returns
    -------
    matplotlib.axes.Axes
        Figure kind ``stacked_shares``.
    """
    t = table.iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.55 * len(t) + 1.8))
    left = np.zeros(len(t))
    hatches = ["", "//", "..", "xx", "\\\\", "oo", "--", "++"]
    for j, col in enumerate(t.columns):
        v = t[col].to_numpy(dtype=float)
        ax.barh(range(len(t)), v, left=left, color=PALETTE[j % len(PALETTE)], hatch=hatches[j % len(hatches)],
                edgecolor="white", label=str(col), height=0.7)
        for yy, vv, ll in zip(range(len(t)), v, left):
            if vv >= 0.07:
                ax.text(ll + vv / 2, yy, f"{vv:.0%}", ha="center", va="center", fontsize=7, color="black",
                        bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
        left += v
    ax.set_yticks(range(len(t)), [str(i) for i in t.index], fontsize=8)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", visible=False)
    ax.figure.cmlkit_kind = "stacked_shares"
    return ax


def plot_dumbbell(table: pd.DataFrame, *, left: str, right: str, title: str = "", xlabel: str = "Share of volunteers", ax=None):
    """Two values per row joined by a line (e.g. training received vs needed by topic).

    Parameters
    ----------
    table : pandas.DataFrame
        Rows = topics (the index; underscores shown as spaces), sorted by ``right`` with the largest
        at the top.
    left, right : str
        The two share columns: ``left`` as circles, ``right`` as diamonds; their names label the
        legend.
    title : str, default ""
    xlabel : str, default "Share of volunteers"
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure sized to the rows).

    Returns
    -------
    matplotlib.axes.Axes
        Figure kind ``dumbbell``; the axis runs from 0% to 100%.
    """
    t = table.sort_values(right)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.4 * len(t) + 1.5))
    y = range(len(t))
    ax.hlines(list(y), t[left], t[right], color="0.6", lw=1.5)
    ax.scatter(t[left], list(y), color=PALETTE[0], marker="o", s=30, label=left, zorder=3)
    ax.scatter(t[right], list(y), color=PALETTE[5], marker="D", s=30, label=right, zorder=3)
    ax.set_yticks(list(y), [str(i).replace("_", " ") for i in t.index], fontsize=8)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.figure.cmlkit_kind = "dumbbell"
    return ax


def plot_pyramid(table: pd.DataFrame, *, left: str, right: str, title: str = "", ax=None):
    """Back-to-back bars by band (rows, first at the bottom): ``left`` and ``right`` shares.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows = bands (the index; youngest first, so at the bottom).
    left, right : str
        Share columns drawn left and right of zero (the right ones hatched), each bar labelled with
        its percentage; their names label the legend.
    title : str, default ""
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure sized to the bands).

    Returns
    -------
    matplotlib.axes.Axes
        Figure kind ``pyramid``; the axis is symmetric, to the largest share plus 10 points.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.45 * len(table) + 1.6))
    y = range(len(table))
    ax.barh(list(y), -table[left].to_numpy(dtype=float), color=PALETTE[0], label=left, height=0.7)
    ax.barh(list(y), table[right].to_numpy(dtype=float), color=PALETTE[1], hatch="//", edgecolor="white", label=right, height=0.7)
    for yy, a, b in zip(y, table[left], table[right]):
        ax.text(-a - 0.01, yy, f"{a:.0%}", ha="right", va="center", fontsize=7)
        ax.text(b + 0.01, yy, f"{b:.0%}", ha="left", va="center", fontsize=7)
    ax.set_yticks(list(y), [str(i) for i in table.index], fontsize=8)
    m = float(max(table[left].max(), table[right].max())) + 0.1
    ax.set_xlim(-m, m)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{abs(x):.0%}"))
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_title(title, loc="left")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.grid(axis="y", visible=False)
    ax.figure.cmlkit_kind = "pyramid"
    return ax
