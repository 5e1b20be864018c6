"""Volunteer responses linked to their library and weighted, and the design they are estimated under.

A volunteer answers for themself, inside a library that may or may not have answered the library survey:
the volunteer weight carries the library's weight down to its volunteer team (two-stage design, R
``svydesign(id = ~library_id + response_id, strata = ~region, fpc = ~N_region + team_size)``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import design as D
from cmlkit.link import link_responses


def link_volunteers(volunteers: pd.DataFrame, weighted: pd.DataFrame, scope: pd.DataFrame) -> pd.DataFrame:
    """Volunteer responses linked to their library, with a volunteer weight.

    Each volunteer response is linked to a frame library by library name and postcode
    (:func:`cmlkit.link.link_responses`). Where the library also answered the library survey, the
    volunteer weight is the library's weight times its active volunteers over the volunteer
    responses from it (each library's volunteers represent its volunteer team); elsewhere the weight
    is missing and the volunteer counts only in unweighted summaries.

    Parameters
    ----------
    volunteers : pandas.DataFrame
        Clean volunteer responses.
    weighted : pandas.DataFrame
        The weighted library responses.
    scope : pandas.DataFrame
        The in-scope frame.

    Returns
    -------
    pandas.DataFrame
        ``volunteers`` with ``library_id`` and ``weight``.
    """
    resp = volunteers.rename(columns={"library_postcode": "postcode"})[["response_id", "library_name", "postcode"]]
    links = link_responses(resp.reset_index(drop=True), scope)
    out = volunteers.reset_index(drop=True).copy()
    out["library_id"] = links["library_id"].where(links["status"].isin(["exact", "fuzzy", "override"])).to_numpy()
    lib = weighted.drop_duplicates("library_id").set_index("library_id")
    n_resp = out.groupby("library_id")["response_id"].transform("size")
    team = pd.to_numeric(out["library_id"].map(lib["volunteers_active"]), errors="coerce")
    out["weight"] = out["library_id"].map(lib["weight"]) * np.maximum(team, n_resp) / n_resp
    out["region"] = out["library_id"].map(lib["region"])
    out["type"] = out["library_id"].map(lib["type"])
    out["team_size"] = np.maximum(team, n_resp).where(team.notna())
    if "N_region" in lib:
        out["N_region"] = out["library_id"].map(lib["N_region"])
    return out


def volunteer_design(linked: pd.DataFrame, *, two_stage: bool = True) -> D.Design:
    """Design of weighted volunteer responses: libraries, then volunteers within libraries.

    With ``two_stage`` and, for every weighted volunteer, the library's region population
    (``N_region``) and team size (``team_size``, at least its responses), a two-stage design
    stratified by region with the fpc at both stages (R ``svydesign(id = ~library_id +
    response_id, strata = ~region, fpc = ~N_region + team_size, weights = ~weight)``); a region
    or library with a single sampled unit uses R's "adjust" rule. Otherwise a one-stage cluster
    design with libraries as clusters sampled with replacement (wider intervals).

    Parameters
    ----------
    linked : pandas.DataFrame
        :func:`link_volunteers` output (weighted volunteers only are used).
    two_stage : bool, default True
        Use the two-stage design where its population sizes are known.

    Returns
    -------
    Design
    """
    v = linked.loc[linked["weight"].notna()].reset_index(drop=True)
    if two_stage and {"N_region", "team_size"} <= set(v) and v[["N_region", "team_size", "region"]].notna().all().all():
        return D.svydesign(v, weights="weight", strata="region", ids=["library_id", "response_id"],
                           fpc=["N_region", "team_size"], lonely_psu="adjust")
    return D.svydesign(v, weights="weight", ids="library_id")
