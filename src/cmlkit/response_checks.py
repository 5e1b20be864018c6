"""The cleaning checks on whole responses (test rows, spam, incomplete, duplicates) and the response
quality flags (speeders, straight-lining), registered in :mod:`cmlkit.check_registry`.

Each check takes the working state of :func:`cmlkit.clean.propose_changes` (``P``: ``P.coded`` the
values in play, ``P.live`` the response ids still in play, ``P.add``/``P.remove`` to propose) and the
instrument; it proposes and never changes data itself. The value checks are in :mod:`cmlkit.clean_checks`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from cmlkit.check_registry import register_check, skipped
from cmlkit.duplicate_entries import duplicate_entries, load_rule
from cmlkit.text_repair import arrow_strings

TEST_NAME = re.compile(r"(?i)^\s*(?:test\b|testing\b|preview\b|dummy\b|ignore\b)|\btest response\b|please ignore")


@register_check("test_row", phase="responses", order=10, columns=("_status",), question_types=("text",))
def check_test_rows(P, inst):
    """Remove platform preview/test responses and responses whose first text answer marks a test.

    ``check_id`` ``test_row``: ``_status`` is ``preview``, or the first text question (the name)
    matches :data:`TEST_NAME` (``test``, ``testing``, ``preview``, ``dummy``, ``ignore`` at the start;
    ``test response`` or ``please ignore`` anywhere).

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes`.
    inst : Instrument
    """
    first_text = inst.questions_of_type("text")[0]
    status_test = P.coded["_status"] == "preview"
    name_test = pd.Series(_test_names(P.coded[first_text]), index=P.coded.index)
    reasons = np.array(["name marks it a test response", "platform marks it a preview/test response"], dtype=object)
    P.remove(status_test | name_test, "test_row", pd.Series(reasons[status_test.to_numpy(bool).astype(np.intp)], index=P.coded.index))


def _test_names(names: pd.Series) -> np.ndarray:
    """Where a name matches :data:`TEST_NAME` (missing: False).

    Python's regex runs only on the names that could match: those holding one of its words
    (any case, found by a pyarrow kernel) or a character outside ASCII (whose case rules the
    kernel might not share).
    """
    arr = arrow_strings(names)
    maybe = pc.fill_null(pc.or_(pc.invert(pc.string_is_ascii(arr)),
                                pc.match_substring_regex(arr, "test|preview|dummy|ignore", ignore_case=True)), False)
    maybe = maybe.to_numpy(zero_copy_only=False)
    out = np.zeros(len(names), dtype=bool)
    if maybe.any():
        out[maybe] = names[maybe].fillna("").str.contains(TEST_NAME).to_numpy(bool)
    return out


@register_check("spam", phase="responses", order=20, columns=("_status",))
def check_spam(P, inst):
    """Remove responses the platform marks as spam (``_status`` ``spam``; ``check_id`` ``spam``).

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes`.
    inst : Instrument
    """
    P.remove(P.coded["_status"] == "spam", "spam", "platform marks it as spam")


@register_check("incomplete", phase="responses", order=30, columns=("_finished", "_progress"), options=("min_progress",))
def check_incomplete(P, inst, min_progress: float = 50):
    """Remove unfinished responses below ``min_progress``; flag those at or above it for review.

    Nothing is proposed when ``_finished`` is blank throughout (a platform that does not record it).

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes`.
    inst : Instrument
    min_progress : float, default 50
        Progress (percent, ``_progress``; blank counts as 0) below which an unfinished response is
        removed (``remove_survey``); at or above it the response is kept with a ``no_action`` flag.
    """
    if not P.coded["_finished"].notna().any():
        return
    progress = pd.to_numeric(P.coded["_progress"], errors="coerce").fillna(0)
    unfinished = P.coded["_finished"].eq(False)
    P.remove(unfinished & (progress < min_progress), "incomplete",
             "unfinished response, progress " + progress.astype(int).astype(str) + f"% (below {min_progress:g}%)")
    keep_flag = unfinished & (progress >= min_progress)
    P.add(keep_flag, "", "", "no_action", "incomplete",
          "unfinished response kept, progress " + progress.astype(int).astype(str) + "% (review)", old="")


@register_check("exact_duplicate", phase="responses", order=40)
def check_exact_duplicates(P, inst):
    """Remove responses whose answers to every question equal an earlier response's (``exact_duplicate``).

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes`.
    inst : Instrument
    """
    wide = inst.questions_of_type("text", "integer", "decimal")  # many distinct answers: rows part company soonest
    group, rows = _equal_rows(P.coded, wide + [q for q in inst.question_ids if q not in set(wide)])
    n = len(P.coded)
    first = np.arange(n)
    dup = np.zeros(n, dtype=bool)
    if len(rows):
        _, start, inverse = np.unique(group, return_index=True, return_inverse=True)  # rows ascend: start = first row of each group
        first[rows] = rows[start[inverse.ravel()]]
        dup[rows] = first[rows] != rows
    ids = P.live["response_id"]
    first_id = pd.Series(ids.to_numpy()[first], index=ids.index)
    dup = pd.Series(dup, index=P.coded.index)
    P.remove(dup, "exact_duplicate", "exact duplicate of response " + first_id[dup].astype(str))  # reasons for the removed rows only


def _equal_rows(frame: pd.DataFrame, columns: list) -> tuple[np.ndarray, np.ndarray]:
    """Rows equal to at least one other row in every column (missing equals missing): (group of each, their positions).

    Columns are compared one at a time, each only on the rows still equal to another row in the
    columns before, so after the first few columns only the (few) duplicates are left to compare.
    """
    rows = np.arange(len(frame))
    group = np.zeros(len(frame), dtype=np.int64)
    for col in columns:
        if not len(rows):
            break
        codes, uniq = pd.factorize(frame[col].to_numpy()[rows], use_na_sentinel=True)
        group = pd.factorize(group * (len(uniq) + 1) + codes + 1)[0]
        shared = np.bincount(group)[group] > 1
        rows, group = rows[shared], group[shared]
    return group, rows


@register_check("duplicate_entries", phase="responses", order=60, options=("root",))
def check_duplicate_entries(P, inst, root=None):
    """Apply the instrument's ``duplicate_entries`` rule (paper forms keyed twice; :mod:`cmlkit.duplicate_entries`).

    The later entries are removed with the rule's ``id`` as ``check_id`` (default ``paper_duplicate``)
    and its ``message`` as reason, marked ``(review)``. Without a rule in ``rules.yaml`` nothing is proposed.

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes`.
    inst : Instrument
    root : path, optional
        Project root holding ``survey_instruments/`` (found from the working directory when omitted).

    Returns
    -------
    str or None
        The library columns the rule names that the data lack (the check then does not run), else None.
    """
    rule = load_rule(inst, root=root)
    if not rule:
        return None
    absent = [c for c in rule.get("library", ["library_name"]) if c not in P.coded]
    if absent:
        return "column " + ", ".join(repr(c) for c in absent) + " named by the duplicate_entries rule"
    later, first = duplicate_entries(P.coded, inst, rule)
    P.remove(later, rule.get("id", "paper_duplicate"), rule.get("message", "duplicate entry of response") + " " + first + " (review)")
    return None


@register_check("speeder", phase="quality", order=210, columns=("_duration_s",), options=("speeder_seconds", "speeder_fraction"))
def check_speeders(P, inst, speeder_seconds: float | None = None, speeder_fraction: float = 0.3):
    """Flag responses completed faster than a threshold (``no_action``, ``check_id`` ``speeder``, for review).

    Nothing is proposed when ``_duration_s`` is blank throughout (a platform that does not record it).

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes`.
    inst : Instrument
    speeder_seconds : float, optional
        The threshold in seconds; default ``speeder_fraction`` x the median duration.
    speeder_fraction : float, default 0.3
        Fraction of the median duration used when ``speeder_seconds`` is not given.
    """
    dur = pd.to_numeric(P.coded["_duration_s"], errors="coerce")
    if not dur.notna().any():       # said in the log, as a check without its input is (not left out unseen)
        skipped(P, "speeder", "response durations (the export has no start and end times or durations)")
        return
    limit = speeder_seconds if speeder_seconds is not None else speeder_fraction * float(dur.median())
    fast = dur < limit
    P.add(fast, "", "", "no_action", "speeder",
          "completed in " + dur[fast].round().astype("Int64").astype(str) + f"s, under the {limit:.0f}s speeder threshold (review)", old="")


@register_check("straight_lining", phase="quality", order=220)
def check_straight_lining(P, inst):
    """Flag one answer given to every item of a Likert grid (``no_action``, ``straight_lining``, for review).

    Only grids of 4 or more ``select_one`` items are looked at; the flag sits on the grid's first item.

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes`.
    inst : Instrument
    """
    for grid, ids in inst.grids.items():
        q0 = inst.question(ids[0])
        if q0["type"] != "select_one" or len(ids) < 4:
            continue
        block = P.coded[ids]
        same = block.notna().all(axis=1) & block.eq(block.iloc[:, 0], axis=0).all(axis=1)
        P.add(same, ids[0], "", "no_action", "straight_lining",
              f"the same answer to all {len(ids)} items of the {grid} grid (review)", old="")
