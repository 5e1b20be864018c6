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
    """Libraries by pair of waves, status and reason (the published panel table)."""
    return (status.groupby(["wave_a", "wave_b", "status", "reason"]).size().rename("libraries").reset_index()
            .sort_values(["wave_a", "status", "reason"], kind="stable").reset_index(drop=True))


def frame_changes(frames: dict, *, waves: list, scope_codes=("CR", "ICL")) -> pd.DataFrame:
    """Governance codes that changed between consecutive frames, for libraries community run in either year."""
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
