"""Libraries followed across waves by their frame id: who answered both waves, who entered, who left and why.

For each pair of consecutive waves every library in scope in either wave (or answering in either) gets a
status: ``both`` (answered both), ``entered`` (answered the later wave only: ``new to scope`` -- transferred to
community management or newly listed -- or ``first answer``), ``left`` (answered the earlier wave only:
``closed``, ``changed governance`` -- no longer community run or independent -- or ``non-response``), or
``neither``. Library-level statuses say who took part, so they stay under the run's ``private/`` folder;
:func:`status_counts` is what is published.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def panel_status(frames: dict, respondents: dict, *, waves: list) -> pd.DataFrame:
    """One row per library and consecutive pair of waves with its panel status and reason.

    Parameters
    ----------
    frames : dict
        wave -> frame libraries (``library_id, region, code, in_scope``), see :func:`cmlkit.harmonise.frame_codes`.
    respondents : dict
        wave -> library ids with a weighted response.
    waves : list of str
        In time order.

    Returns
    -------
    pandas.DataFrame
        ``library_id``, the pair of waves, ``status`` and ``reason``.
    """
    out = []
    for a, b in zip(waves, waves[1:]):
        fa, fb = frames[a].set_index("library_id"), frames[b].set_index("library_id")
        ra, rb = set(respondents[a]), set(respondents[b])
        ids = sorted(set(fa.index[fa["in_scope"]]) | set(fb.index[fb["in_scope"]]) | ra | rb)
        t = pd.DataFrame({"library_id": ids, "wave_a": a, "wave_b": b})
        t["region"] = t["library_id"].map(fb["region"]).fillna(t["library_id"].map(fa["region"]))
        t["code_a"] = t["library_id"].map(fa["code"])
        t["code_b"] = t["library_id"].map(fb["code"])
        t["in_scope_a"] = t["library_id"].map(fa["in_scope"]).fillna(False).astype(bool)
        t["in_scope_b"] = t["library_id"].map(fb["in_scope"]).fillna(False).astype(bool)
        t["responded_a"] = t["library_id"].isin(ra)
        t["responded_b"] = t["library_id"].isin(rb)
        both, only_b, only_a = (t["responded_a"] & t["responded_b"], ~t["responded_a"] & t["responded_b"],
                                t["responded_a"] & ~t["responded_b"])
        closed = t["code_b"].eq("Closed") | t["code_b"].isna()
        t["status"] = np.select([both, only_b, only_a], ["both", "entered", "left"], "neither")
        t["reason"] = np.select(
            [both, only_b & ~t["in_scope_a"], only_b, only_a & ~t["in_scope_b"] & closed, only_a & ~t["in_scope_b"],
             only_a],
            ["", "new to scope", "first answer", "closed", "changed governance", "non-response"], "")
        out.append(t)
    return pd.concat(out, ignore_index=True)


def status_counts(status: pd.DataFrame) -> pd.DataFrame:
    """Libraries by pair of waves, status and reason (the published panel table).

    Parameters
    ----------
    status : pandas.DataFrame
        :func:`panel_status` output.

    Returns
    -------
    pandas.DataFrame
    """
    return (status.groupby(["wave_a", "wave_b", "status", "reason"]).size().rename("libraries").reset_index()
            .sort_values(["wave_a", "status", "reason"], kind="stable").reset_index(drop=True))


def frame_changes(frames: dict, *, waves: list, scope_codes=("CR", "ICL")) -> pd.DataFrame:
    """Governance codes that changed between consecutive frames, for libraries community run in either year.

    Parameters
    ----------
    frames : dict
        Wave -> frame libraries (as :func:`panel_status`).
    waves : list of str
        In time order.
    scope_codes : tuple of str, default ("CR", "ICL")
        Community run codes.

    Returns
    -------
    pandas.DataFrame
        One row per library and pair of waves whose code changed.
    """
    out = []
    for a, b in zip(waves, waves[1:]):
        m = frames[a][["library_id", "code"]].merge(frames[b][["library_id", "code"]], on="library_id", how="outer",
                                                    suffixes=("_a", "_b"))
        m = m.loc[(m["code_a"].isin(scope_codes) | m["code_b"].isin(scope_codes)) & (m["code_a"] != m["code_b"])]
        kind = np.select([m["code_b"].eq("Closed"), m["code_b"].isin(scope_codes) & ~m["code_a"].isin(scope_codes),
                          ~m["code_b"].isin(scope_codes) & m["code_a"].isin(scope_codes)],
                         ["closed", "transferred to community management", "left community management"],
                         "changed between community types")
        c = pd.DataFrame({"wave_a": a, "wave_b": b, "from": m["code_a"].fillna("(not listed)"),
                          "to": m["code_b"].fillna("(not listed)"), "change": kind})
        out.append(c.groupby(["wave_a", "wave_b", "change", "from", "to"]).size().rename("libraries").reset_index())
    return pd.concat(out, ignore_index=True)


# The private priority list's plain headers (notebook 60) and the analysis names they stand for.
RISK_HEADERS = {"Library id": "library_id", "Risk level": "tier", "Risk score": "score", "Priority": "rank"}
PREVIOUS_HEADERS = {"previous_tier": "Previous risk level", "previous_score": "Previous risk score",
                    "previous_rank": "Previous priority", "tier_change": "Change in risk level"}


def _risk_names(table: pd.DataFrame) -> pd.DataFrame:
    out = table.rename(columns={k: v for k, v in RISK_HEADERS.items() if v not in table.columns})
    out["tier"] = out["tier"].astype("string").str.lower()
    return out


def with_previous_risk(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """The at-risk priority list with each library's tier, score and rank in the previous wave where it answered.

    Both are priority lists of notebook 60 (``library_id, tier, score, rank``, or their plain headers
    :data:`RISK_HEADERS`); libraries new to the list get empty previous columns and ``tier_change`` "new".

    Parameters
    ----------
    current, previous : pandas.DataFrame
        The priority lists of this and the previous wave.

    Returns
    -------
    pandas.DataFrame
        ``current`` with the previous tier, score, rank and ``tier_change``.
    """
    plain = "Library id" in current.columns
    current, previous = _risk_names(current), _risk_names(previous)
    prev = previous[["library_id", "tier", "score", "rank"]].rename(
        columns={"tier": "previous_tier", "score": "previous_score", "rank": "previous_rank"})
    out = current.merge(prev, on="library_id", how="left")
    order = {"low": 0, "medium": 1, "high": 2}
    now, before = out["tier"].map(order), out["previous_tier"].map(order)
    out["tier_change"] = np.select([out["previous_tier"].isna(), now > before, now < before, now == before],
                                   ["new", "up", "down", "same"], "not comparable")
    if plain:  # the list network staff open keeps its plain headers and capitalised levels
        out["tier"] = out["tier"].str.capitalize()
        out["previous_tier"] = out["previous_tier"].str.capitalize()
        out = out.rename(columns={**{v: k for k, v in RISK_HEADERS.items()}, **PREVIOUS_HEADERS})
    return out


def previous_risk(lists: dict, *, waves: list) -> pd.DataFrame:
    """:func:`with_previous_risk` for the last two waves (``lists``: wave -> priority list); empty when either is missing.

    Parameters
    ----------
    lists : dict
        Wave -> priority list.
    waves : list of str
        In time order.

    Returns
    -------
    pandas.DataFrame
    """
    if len(waves) < 2 or waves[-1] not in lists or waves[-2] not in lists:
        return pd.DataFrame(columns=["library_id", "tier", "score", "previous_tier", "previous_score", "tier_change"])
    return with_previous_risk(lists[waves[-1]], lists[waves[-2]])


def tier_changes(priority: pd.DataFrame) -> pd.Series:
    """Libraries by change in risk level since the previous wave (either header style).

    Parameters
    ----------
    priority : pandas.DataFrame
        :func:`with_previous_risk` output.

    Returns
    -------
    pandas.Series
        Libraries by ``tier_change``.
    """
    col = "tier_change" if "tier_change" in priority else PREVIOUS_HEADERS["tier_change"]
    return priority[col].value_counts().rename("libraries") if col in priority else pd.Series(dtype=int, name="libraries")
