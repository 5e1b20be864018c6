"""Finance findings: the ordinal model's predictors, the income mix and the confidence horizons of notebook 32.

The computations behind notebook 32 (which only narrates): each function takes the section's data or
design (:func:`cmlkit.findings_section.load_section`) and returns a table ready to model, write or plot.
"""

from __future__ import annotations

import pandas as pd

from cmlkit import design as D
from cmlkit import findings

INCOME_SOURCES = ("inc_council", "inc_parish", "inc_fundraising", "inc_room_hire", "inc_cafe_sales", "inc_grants", "inc_other")
"""The library questionnaire's income sources, in questionnaire order."""

CONFIDENCE_ITEMS = ("conf_1yr", "conf_3yr", "conf_5yr")
"""Confidence of still being open in 1, 3 and 5 years."""


def ordinal_predictors(weighted: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """The predictors of the ordinal model of confidence at three years.

    Parameters
    ----------
    weighted : pandas.DataFrame
        The weighted library responses (``paid_staff``, ``council_grant``, ``type``).
    values : pandas.DataFrame
        The indicators, row-aligned (``council_support_index``).

    Returns
    -------
    pandas.DataFrame
        ``any_paid_staff`` (1 unless ``paid_staff`` is ``"none"``), ``council_grant`` (1 when ``"yes"``) —
        both missing where the answer is — ``independent`` (1 for type ``ICL``) and ``council_support_index``.
    """
    return pd.DataFrame({"any_paid_staff": (weighted["paid_staff"] != "none").astype(float).where(weighted["paid_staff"].notna()),
                         "council_grant": (weighted["council_grant"] == "yes").astype(float).where(weighted["council_grant"].notna()),
                         "independent": (weighted["type"] == "ICL").astype(float),
                         "council_support_index": values["council_support_index"]})


def income_mix(design: D.Design, *, k: int, labels: dict, sources=INCOME_SOURCES) -> pd.DataFrame:
    """Where income comes from, by governance type: each source's share of the type's weighted total income.

    Parameters
    ----------
    design : Design
        The section's design.
    k : int
        The minimum cell size: governance types with fewer responses are left out.
    labels : dict
        Variable name -> label; every source must have one.
    sources : sequence of str, default INCOME_SOURCES
        The income columns, in the order of the figure's segments.

    Returns
    -------
    pandas.DataFrame
        One row per publishable governance type (sorted), one column per source (its label); rows sum to 1.

    Raises
    ------
    KeyError
        When a source has no label.
    """
    types = findings.publishable_groups(design, "type", k=k)
    totals = findings.weighted_shares(design, list(sources), by="type").loc[types]
    mix = totals.div(totals.sum(axis=1), axis=0)
    mix.columns = [labels[c] for c in mix.columns]
    return mix


def horizon_labels(items, labels: dict) -> dict:
    """Row labels of the confidence figure: ``"In <label>"`` for each horizon (e.g. "In 1 year").

    Parameters
    ----------
    items : iterable of str
        The confidence items (e.g. the index of the Likert table).
    labels : dict
        Variable name -> label.

    Returns
    -------
    dict
        Item -> ``"In " + label``.

    Raises
    ------
    KeyError
        When an item has no label.
    """
    return {q: f"In {labels[q]}" for q in items}
