"""Services findings: the tests of difference and the services-by-type table of notebook 30.

The computations behind notebook 30 (which only narrates): each function takes the section's design
(:func:`cmlkit.findings_section.load_section`) and returns a table ready to write or plot.
"""

from __future__ import annotations

import pandas as pd

from cmlkit import design as D
from cmlkit import findings

TESTED = ("service_breadth", "universal_offer_score")
"""The services indicators tested for differences between governance types and between regions (Wald F)."""


def service_tests(design: D.Design) -> tuple[pd.DataFrame, dict]:
    """Tests of difference for the services section.

    Wald F tests of equal means across governance types and regions for each indicator of
    :data:`TESTED`, then a Rao-Scott test of whether the service is better or worse since transfer
    (``service_change``) depends on governance type.

    Parameters
    ----------
    design : Design
        The section's design, with the services indicators in its data.

    Returns
    -------
    (tests, change)
        ``tests``: one row per indicator x breakdown (``indicator, breakdown, F, ndf, ddf, p, test``), the
        Rao-Scott row (``service_change``, ``type``, test ``"Rao-Scott F (svychisq)"``) last; ``change``: the
        :func:`cmlkit.findings.rao_scott` record.
    """
    tests = findings.difference_tests(design, list(TESTED))
    change = findings.rao_scott(design, "service_change", "type")
    tests.loc[len(tests)] = {"indicator": "service_change", "breakdown": "type", "F": change["F"], "ndf": change["ndf"],
                             "ddf": change["ddf"], "p": change["p"], "test": "Rao-Scott F (svychisq)"}
    return tests, change


def service_columns(weighted: pd.DataFrame) -> list:
    """The listed services' choice columns (``services__*``, ``services__other`` left out), in questionnaire order.

    Parameters
    ----------
    weighted : pandas.DataFrame
        The weighted library responses.

    Returns
    -------
    list of str
    """
    return [c for c in weighted if c.startswith("services__") and c != "services__other"]


def services_by_type(design: D.Design, weighted: pd.DataFrame, *, k: int, labels: dict) -> pd.DataFrame:
    """The weighted share of libraries offering each service, by governance type (the heatmap's table).

    Parameters
    ----------
    design : Design
        The section's design.
    weighted : pandas.DataFrame
        The weighted library responses (for the service columns, :func:`service_columns`).
    k : int
        The minimum cell size: governance types with fewer responses are left out.
    labels : dict
        Variable name -> label; every service column must have one.

    Returns
    -------
    pandas.DataFrame
        One row per service (indexed by its label, questionnaire order), one column per publishable
        governance type (sorted).

    Raises
    ------
    KeyError
        When a service column has no label.
    """
    types = findings.publishable_groups(design, "type", k=k)
    heat = findings.weighted_shares(design, service_columns(weighted), by="type").loc[types].T
    heat.index = [labels[c] for c in heat.index]
    return heat
