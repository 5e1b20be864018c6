"""What step 60 publishes about the risk scores: tier counts, reason frequencies, the summary record
and the alt text of its three figures (aggregates only; never a library-level row)."""

from __future__ import annotations

import pandas as pd

TIERS = ("high", "medium", "low", "insufficient data")
FLAGGED = ("high", "medium")


def tier_counts(scores: pd.DataFrame) -> dict:
    """Libraries in each tier, in tier order (tiers with none included as 0).

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`cmlkit.risk.score_libraries` output (a ``tier`` column).

    Returns
    -------
    dict
        ``{tier: count}`` for every tier of :data:`TIERS`, then any other tier found.
    """
    counts = scores["tier"].value_counts()
    return {t: int(counts.get(t, 0)) for t in TIERS} | {str(t): int(n) for t, n in counts.items() if t not in TIERS}


def describe_tiers(scores: pd.DataFrame) -> str:
    """One line: how many libraries were scored and how many fell in each tier.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`cmlkit.risk.score_libraries` output.

    Returns
    -------
    str
        ``"N libraries scored: high a, medium b, low c, insufficient data d"``.
    """
    counts = tier_counts(scores)
    return f"{len(scores)} libraries scored: " + ", ".join(f"{t} {counts[t]}" for t in TIERS)


def reason_frequencies(scores: pd.DataFrame) -> pd.DataFrame:
    """How often each indicator is among the reasons given for libraries in the high and medium tiers.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`cmlkit.risk.score_libraries` output (``tier`` and ``reason_indicators``, ';'-separated).

    Returns
    -------
    pandas.DataFrame
        ``indicator, libraries, share, n_answered, label``, most frequent first; ``share`` is of the
        flagged libraries (``n_answered``).
    """
    flagged = scores.loc[scores["tier"].isin(FLAGGED)]
    reasons = flagged["reason_indicators"].str.split(";").explode()
    freq = reasons[reasons != ""].value_counts().rename_axis("indicator").rename("libraries").reset_index()
    return freq.assign(share=freq["libraries"] / max(len(flagged), 1), n_answered=len(flagged),
                       label=freq["indicator"].str.replace("_", " "))


def summary_record(scores: pd.DataFrame, share: pd.DataFrame, validation: dict) -> dict:
    """The step's ``summary.json``: libraries scored, tier counts, the weighted high-tier share and the closure model's standing.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`cmlkit.risk.score_libraries` output.
    share : pandas.DataFrame
        :func:`cmlkit.risk.public_summary` output (first row: all libraries).
    validation : dict
        The closure model's validation (``status``, ``ranking_weight``, ``in_words``).

    Returns
    -------
    dict
        JSON-ready; the high-tier share is None when suppressed.
    """
    overall = share.iloc[0]
    counts = scores["tier"].value_counts()
    return {"scored": int(scores["score"].notna().sum()), "tiers": {t: int(n) for t, n in counts.items()},
            "high_share_weighted": None if overall["suppressed"] else float(overall["estimate"]),
            "closure_model": validation["status"], "closure_model_weight": validation["ranking_weight"],
            "closure_model_in_words": validation["in_words"]}


def tier_thresholds(spec: dict) -> list:
    """The positive lower bounds of the risk tiers (where the score figure draws its dashed lines).

    Parameters
    ----------
    spec : dict
        A risk specification (:func:`cmlkit.risk.load_spec`).

    Returns
    -------
    list of float
    """
    return [float(t["min"]) for t in spec["tiers"] if float(t["min"]) > 0]


def describe_score_figure(scores: pd.DataFrame, thresholds) -> str:
    """Alt text of the stacked histogram of scores by tier.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`cmlkit.risk.score_libraries` output.
    thresholds : list of float
        The tier thresholds drawn (:func:`tier_thresholds`).

    Returns
    -------
    str
    """
    counts = tier_counts(scores)
    return (f"Stacked histogram of risk index scores for {int(scores['score'].notna().sum())} libraries, coloured by tier: "
            + ", ".join(f"{t} {counts[t]}" for t in TIERS[:3]) + "; dashed lines at the tier thresholds "
            + ", ".join(f"{x:.2f}" for x in thresholds) + ".")


def describe_reasons_figure(freq: pd.DataFrame, n_flagged: int) -> str:
    """Alt text of the bar chart of reason frequencies.

    Parameters
    ----------
    freq : pandas.DataFrame
        :func:`reason_frequencies` output.
    n_flagged : int
        Libraries in the high and medium tiers.

    Returns
    -------
    str
    """
    return (f"Bar chart of how often each indicator is among the reasons for the {n_flagged} libraries in the high and medium "
            "tiers: " + "; ".join(f"{r.label} {r.share:.0%}" for r in freq.itertuples()) + ".")


def describe_region_figure(regions: pd.DataFrame) -> str:
    """Alt text of the dot plot of the weighted high-tier share by region.

    Parameters
    ----------
    regions : pandas.DataFrame
        The ``region`` rows of :func:`cmlkit.risk.public_summary`.

    Returns
    -------
    str
    """
    shown = regions.loc[~regions["suppressed"]]
    return ("Dot plot with 95% interval whiskers of the weighted share of libraries in the high-risk tier by region: "
            + "; ".join(f"{r.domain} {r.estimate:.0%} ({r.ci_low:.0%} to {r.ci_high:.0%}, n = {int(r.base_n)})" for r in shown.itertuples())
            + (f"; {int(regions['suppressed'].sum())} regions suppressed (fewer than k responses)." if regions["suppressed"].any() else "."))
