"""Trend products: the findings table of changes and the trend figures (dot-and-whisker, slope charts).

Every figure is saved with :func:`cmlkit.figures.save_figure` (PNG + SVG + alt text). Figures show published
numbers only: suppressed cells are left out, and the slope chart draws libraries as unlabelled lines.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from cmlkit import figures

FINDINGS_COLUMNS = ["indicator", "label", "breakdown", "domain", "wave_a", "wave_b", "estimate_a", "estimate_b", "change",
                    "ci_low", "ci_high", "se", "se_independent", "df", "n_a", "n_b", "n_both", "suppressed",
                    "comparability", "note"]


def findings_table(changes: pd.DataFrame, comparability: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """The trend findings: estimate per wave, change, its interval, bases and flags, plus refused indicators.

    ``changes`` is :func:`cmlkit.change.flag_small_bases` output; refused indicators get one row each with the
    reason and no numbers, so a reader sees what was not compared and why.

    Parameters
    ----------
    changes : pandas.DataFrame
        :func:`cmlkit.change.flag_small_bases` output.
    comparability : pandas.DataFrame
        Per indicator: compared or refused, with the reason.
    spec : dict
        The indicator specification (labels).

    Returns
    -------
    pandas.DataFrame
    """
    comp = comparability.set_index("indicator")
    labels = {k: v["label"] for k, v in spec["indicators"].items()}
    t = changes.assign(label=changes["indicator"].map(labels), comparability=changes["indicator"].map(comp["status"]),
                       note=changes["indicator"].map(comp["reason"]))
    refused = comp.loc[comp["status"] == "refused"].reset_index()
    if len(refused):
        r = pd.DataFrame({"indicator": refused["indicator"], "label": refused["indicator"].map(labels),
                          "breakdown": "overall", "domain": "all", "comparability": "refused", "note": refused["reason"],
                          "suppressed": False})
        t = pd.concat([t, r], ignore_index=True)
    order = {k: i for i, k in enumerate(spec["indicators"])}
    t = t.sort_values(["indicator", "breakdown", "domain"], key=lambda s: s.map(order) if s.name == "indicator" else
                      s.map({"overall": 0, "type": 1, "region": 2}).fillna(s) if s.name == "breakdown" else s, kind="stable")
    return t.reindex(columns=FINDINGS_COLUMNS).reset_index(drop=True)


def plot_change(rows: pd.DataFrame, *, title: str = "", ax=None):
    """Dot-and-whisker chart of one indicator's change (overall and by type) with its interval.

    Parameters
    ----------
    rows : DataFrame
        Findings rows of one indicator and pair of waves (``domain, change, ci_low, ci_high``), published only.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.45 * len(rows) + 1.4))
    t = rows.reset_index(drop=True)
    y = np.arange(len(t))[::-1]
    ax.errorbar(t["change"], y, xerr=[t["change"] - t["ci_low"], t["ci_high"] - t["change"]], fmt="o",
                color=figures.PALETTE[0], ecolor=figures.PALETTE[0], capsize=3)
    ax.axvline(0, color="#555555", lw=1)
    ax.set_yticks(y, [("All libraries" if d == "all" else d) for d in t["domain"]])
    ax.set_xlabel("Change between waves (95% interval)")
    ax.set_title(title, loc="left")
    ax.grid(axis="y", visible=False)
    return ax


def save_change_figures(findings: pd.DataFrame, out_dir) -> list:
    """One dot-and-whisker figure per compared indicator and pair of waves (overall and by type), with alt text.

    Parameters
    ----------
    findings : pandas.DataFrame
        :func:`findings_table` output.
    out_dir : path-like
        Folder for the figures.

    Returns
    -------
    list
        One record per figure saved (:func:`cmlkit.figures.save_figure`).
    """
    paths = []
    pub = findings.loc[findings["breakdown"].isin(["overall", "type"]) & ~findings["suppressed"].astype(bool)
                       & findings["change"].notna()]
    for (ind, a, b), rows in pub.groupby(["indicator", "wave_a", "wave_b"], sort=False):
        label = rows["label"].iloc[0]
        ax = plot_change(rows, title=f"{label}: change {a} to {b}")
        parts = [f"{'all libraries' if r.domain == 'all' else r.domain} {r.change:+.3g} ({r.ci_low:+.3g} to {r.ci_high:+.3g}; "
                 f"n {r.n_a} and {r.n_b}, {r.n_both} in both)" for r in rows.itertuples()]
        alt = (f"Dot-and-whisker chart of the change in {label.lower()} between {a} and {b}, with 95% intervals that "
               f"count libraries answering both waves: " + "; ".join(parts) + ".")
        paths.append(figures.save_figure(ax, Path(out_dir) / f"change_{ind}_{a}_{b}", alt_text=alt))
    return paths


def slope_values(stacked: pd.DataFrame, indicator: str, *, wave_a: str, wave_b: str) -> pd.DataFrame:
    """Values of ``indicator`` for libraries with a value in both waves (columns ``a``, ``b``, ``weight_b``).

    Parameters
    ----------
    stacked : pandas.DataFrame
        Stacked waves.
    indicator : str
    wave_a, wave_b : str
        The two waves.

    Returns
    -------
    pandas.DataFrame
        ``a``, ``b``, ``weight_b``, one row per library.
    """
    s = stacked.loc[stacked[indicator].notna(), ["library_id", "wave", "weight", indicator]]
    a = s.loc[s["wave"] == wave_a].set_index("library_id")
    b = s.loc[s["wave"] == wave_b].set_index("library_id")
    both = a.index.intersection(b.index)
    return pd.DataFrame({"a": a.loc[both, indicator], "b": b.loc[both, indicator], "weight_b": b.loc[both, "weight"]}).reset_index()


def plot_slopes(values: pd.DataFrame, *, wave_a: str, wave_b: str, label: str, cap: float | None = None, ax=None):
    """Slope chart: one faint line per library in both waves, the weighted mean as a bold line.

    Values above ``cap`` are drawn at the cap (stated on the axis).

    Parameters
    ----------
    values : pandas.DataFrame
        :func:`slope_values` output.
    wave_a, wave_b : str
    label : str
        The indicator's label (y axis).
    cap : float, optional
        Values above are drawn at the cap.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 4.6))
    v = values[["a", "b"]].to_numpy(float)
    if cap is not None:
        v = np.minimum(v, cap)
    ax.plot([0, 1], v.T, color=figures.PALETTE[4], alpha=0.25, lw=0.8)
    w = values["weight_b"].to_numpy(float)
    m = np.average(values[["a", "b"]].to_numpy(float), axis=0, weights=w)
    ax.plot([0, 1], m, color=figures.PALETTE[5], lw=3, marker="o", label="weighted mean")
    ax.set_xticks([0, 1], [wave_a, wave_b])
    ax.set_xlim(-0.15, 1.15)
    ax.set_ylabel(label + (f" (shown up to {cap:g})" if cap is not None else ""))
    ax.set_title(f"Libraries answering both waves (n = {len(values)})", loc="left")
    ax.legend(loc="best", frameon=False)
    return ax


def save_slope_figure(stacked: pd.DataFrame, indicator: str, *, label: str, wave_a: str, wave_b: str, out_dir,
                      cap: float | None = None, k: int = 5) -> dict | None:
    """Slope chart of one indicator for libraries in both waves, saved with alt text (None below ``k`` libraries).

    Parameters
    ----------
    stacked : pandas.DataFrame
        Stacked waves.
    indicator : str
    label : str
    wave_a, wave_b : str
    out_dir : path-like
    cap : float, optional
        Values above are drawn at the cap.
    k : int, default 5
        Fewest libraries in both waves to draw.

    Returns
    -------
    dict or None
        The figure's record (:func:`cmlkit.figures.save_figure`), or None below ``k`` libraries.
    """
    v = slope_values(stacked, indicator, wave_a=wave_a, wave_b=wave_b)
    if len(v) < k:
        return None
    ax = plot_slopes(v, wave_a=wave_a, wave_b=wave_b, label=label, cap=cap)
    m = np.average(v[["a", "b"]].to_numpy(float), axis=0, weights=v["weight_b"].to_numpy(float))
    up, down = int((v["b"] > v["a"]).sum()), int((v["b"] < v["a"]).sum())
    alt = (f"Slope chart of {label.lower()} for the {len(v)} libraries that answered both {wave_a} and {wave_b}: one line per "
           f"library{f' (values above {cap:g} drawn at {cap:g})' if cap is not None else ''}; {up} went up, {down} went down, "
           f"{len(v) - up - down} unchanged; weighted mean {m[0]:.3g} then {m[1]:.3g}.")
    return figures.save_figure(ax, Path(out_dir) / f"slope_{indicator}_{wave_a}_{wave_b}", alt_text=alt)


def compared_indicators(comparability: pd.DataFrame) -> list:
    """The headline indicators compared across the waves (every one whose comparability is not refused).

    Parameters
    ----------
    comparability : pandas.DataFrame
        One row per indicator with ``indicator`` and ``status`` (from :func:`cmlkit.harmonise.stack_runs`).

    Returns
    -------
    list of str
        The indicators, in the table's order.
    """
    return comparability.loc[comparability["status"] != "refused", "indicator"].tolist()


def overall_changes(findings: pd.DataFrame) -> pd.DataFrame:
    """The overall rows of the trend findings table that carry a change (suppressed or uncomputed ones left out).

    Parameters
    ----------
    findings : pandas.DataFrame
        The trend findings table (:func:`findings_table`).

    Returns
    -------
    pandas.DataFrame
        Rows with ``breakdown == "overall"`` and a non-missing ``change``, index and order kept.
    """
    return findings.loc[(findings["breakdown"] == "overall") & findings["change"].notna()]


def median_se_ratio(rows: pd.DataFrame) -> float:
    """Median ratio of the change's standard error with library clusters to the independent-samples one.

    Parameters
    ----------
    rows : pandas.DataFrame
        Change rows with ``se`` and ``se_independent`` (e.g. :func:`overall_changes`).

    Returns
    -------
    float
        The median of ``se / se_independent`` (NaN ratios skipped; NaN when there are none).
    """
    return (rows["se"] / rows["se_independent"]).median()
