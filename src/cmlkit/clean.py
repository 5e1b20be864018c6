"""Cleaning: checks *propose* changes into a cleaning log; a (reviewed) log is applied with guards.

The log schema (one row per proposed or decided change)::

    wave, response_id, question, old_value, new_value, change_type, check_id, reason, decision, reviewer, decided_at

``change_type`` is one of ``change_response``, ``blank_response``, ``remove_survey``,
``no_action`` (the ``cleaningtools`` vocabulary; see :mod:`cmlkit.cleaning_log`). Personal data never enters the log: where the old value holds personal data, the
log keeps ``sha256:<digest>`` of it, which is enough for :func:`apply_log` to check it is unchanged.

The checks are registered in :mod:`cmlkit.check_registry` and listed in :func:`propose_changes`.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from cmlkit import clean_checks, response_checks, text_checks  # noqa: F401  (importing them registers their checks)
from cmlkit.check_registry import run_checks
from cmlkit.clean_checks import EMAIL, PHONE, POSTCODE, load_other_recodes, match_other_text
from cmlkit.cleaning_log import LOG_COLUMNS, digest_text
from cmlkit.coding import code_choices, multi_outside_choices
from cmlkit.finalise import finalise
from cmlkit.response_checks import TEST_NAME
from cmlkit.text_repair import MOJIBAKE, fix_mojibake, loose, parse_number_text

__all__ = ["propose_changes", "finalise", "code_choices", "multi_outside_choices", "loose", "fix_mojibake", "parse_number_text",
           "match_other_text", "load_other_recodes", "EMAIL", "PHONE", "POSTCODE", "MOJIBAKE", "TEST_NAME"]


class _Proposals:
    """Working state of :func:`propose_changes`: the rows still in play and the log so far."""

    def __init__(self, raw, inst, wave):
        self.inst, self.wave = inst, wave
        self.live = raw[["response_id"]]          # only the ids are read from the live rows
        self.coded = code_choices(raw, inst)
        # no checks read the ingest's attrs; pandas would deep-copy them into every frame and Series derived here
        self.live.attrs, self.coded.attrs = {}, {}
        self.logs = []

    def add(self, mask, qid, new, change, check, reason, *, old=None, private=False, hide_new=False):
        index = self.coded.index
        if mask.dtype == bool and _same_index(mask, index):   # the usual case: a mask computed on P.coded, no reindexing
            hit = mask.to_numpy()
        else:
            hit = mask.reindex(index, fill_value=False).astype(bool).to_numpy()
        if not hit.any():
            return
        pos = np.flatnonzero(hit)   # rows by position: P.coded and P.live hold the same rows in the same order
        idx = index[pos]
        if old is None:
            old = self.coded[qid].iloc[pos] if qid in self.coded else pd.Series("", index=idx)
        old = _at(old, pos, index, idx)
        if private:
            old = digest_text(old)
        new = _at(new, pos, index, idx)
        reason = _at(reason, pos, index, idx)
        entries = pd.DataFrame({
            "wave": self.wave, "response_id": self.live["response_id"].to_numpy()[pos], "question": qid,
            "old_value": old.to_numpy(), "new_value": (digest_text(new) if hide_new else new).to_numpy(), "change_type": change, "check_id": check,
            "reason": reason.to_numpy(), "decision": "", "reviewer": "", "decided_at": ""})
        if hide_new:            # shown again by settle_hidden where the clean data show the same text
            entries["_clear"], entries["_pos"] = new.to_numpy(), pos
        self.logs.append(entries)
        if change == "change_response":
            self._set(qid, pos, idx, new.to_numpy())
        elif change == "blank_response":
            self._set(qid, pos, idx, None)

    def settle_hidden(self):
        """Show the new value of a hidden repair (``add(..., hide_new=True)``) of a question that is not personal
        where it is the cell's final value: the clean data hold that text anyway. Where a later check changed the
        cell (``pii_text`` redacting what the repair revealed), or the question is personal, the digest stays.
        Returns the log entries so far."""
        for entries in self.logs:
            if "_clear" not in entries:
                continue
            qid = entries["question"].iloc[0]
            if not self.inst.question(qid)["personal"]:
                shown = self.coded[qid].to_numpy(dtype=object)[entries["_pos"].to_numpy()] == entries["_clear"].to_numpy()
                entries.loc[shown, "new_value"] = entries.loc[shown, "_clear"]
            entries.drop(columns=["_clear", "_pos"], inplace=True)
        return self.logs

    def _set(self, qid, pos, idx, values):
        """``coded.loc[idx, qid] = values`` by position: a fresh copy of the one column (the input's is shared)."""
        col = self.coded[qid] if self.coded.columns.is_unique else None
        if col is None or col.dtype != object:
            self.coded.loc[idx, qid] = values
            return
        col = col.to_numpy(copy=True)
        col[pos] = values
        self.coded[qid] = col

    def remove(self, mask, check, reason):
        mask = mask.reindex(self.coded.index, fill_value=False).astype(bool)
        if not mask.any():
            return                                  # nothing to drop: no copy of the working frame
        self.add(mask, "", "", "remove_survey", check, reason, old="")
        self.live = self.live.loc[~mask]
        self._drop_rows(~mask.to_numpy())

    def _drop_rows(self, keep):
        """``coded.loc[keep]`` built a column at a time, each old column let go once copied.

        The old and the new working frame then never exist in full together (at 1M responses each
        holds hundreds of MB of text pointers). A shallow copy is emptied, so a check still holding
        the old frame sees it unchanged (and keeps its columns alive).
        """
        if not self.coded.columns.is_unique or not self.coded.shape[1]:
            self.coded = self.coded.loc[keep]
            return
        old = {c: self.coded[c] for c in self.coded.columns}   # the columns, not the frame: no column deletes
        index, attrs = self.coded.index[keep], self.coded.attrs
        self.coded = None
        self.coded = _take_columns(old, keep, index, attrs)


def _at(values, pos, index, idx) -> pd.Series:
    """``values.reindex(idx)`` (a scalar: repeated), taken by position where ``values`` is indexed like ``index``."""
    if not isinstance(values, pd.Series):
        return pd.Series(values, index=idx)
    return values.iloc[pos] if _same_index(values, index) else values.reindex(idx)


def _same_index(values: pd.Series, index) -> bool:
    """Whether ``values`` is indexed by ``index`` itself or an equal index (same labels, same order)."""
    return values.index is index or (len(values.index) == len(index) and values.index.equals(index))


def _take_columns(old: dict, keep, index, attrs) -> pd.DataFrame:
    """The rows ``keep`` of the columns ``old`` (name -> Series) as a frame on ``index``; ``old`` is emptied on the way.

    Each old column is let go once copied (popped from ``old``); ``attrs`` are carried over once.
    """
    cols = {}
    for c in list(old):
        col = old.pop(c)
        cols[c] = pd.Series(col.to_numpy()[keep], index=index, name=c, copy=False) if isinstance(col.dtype, np.dtype) else col[keep]
        del col
    out = pd.concat(cols, axis=1, copy=False)
    out.attrs = attrs
    return out


def ingest_entries(raw: pd.DataFrame, wave: str) -> pd.DataFrame:
    """The reading decisions of :func:`cmlkit.ingest.read_export` (``attrs["ingest_log"]``) as ``no_action`` log rows.

    ``check_id`` is ``ingest_<action>`` (``ingest_blank_row``, ``ingest_footer_row``,
    ``ingest_declared_code``, ``ingest_mojibake_label`` …); rows excluded while reading have no
    response id, and their reason names the row (header = row 1).

    Parameters
    ----------
    raw : pandas.DataFrame
        Output of :func:`cmlkit.ingest.read_export`; its ``attrs["ingest_log"]`` holds the notes
        (``response_id``, ``question``, ``old_value``, ``new_value``, ``action``, ``reason``).
    wave : str
        Wave id written in the ``wave`` column.

    Returns
    -------
    pandas.DataFrame
        One log row per note with :data:`~cmlkit.cleaning_log.LOG_COLUMNS`, reason suffixed
        `` (at ingest)``; empty (columns only) when there are none.
    """
    notes = raw.attrs.get("ingest_log") or []
    if not notes:
        return pd.DataFrame(columns=LOG_COLUMNS)
    t = pd.DataFrame(notes)
    return pd.DataFrame({"wave": wave, "response_id": t["response_id"], "question": t["question"], "old_value": t["old_value"],
                         "new_value": t["new_value"], "change_type": "no_action", "check_id": "ingest_" + t["action"],
                         "reason": t["reason"] + " (at ingest)", "decision": "", "reviewer": "", "decided_at": ""})


def _cow(fn):
    """Run ``fn`` with pandas copy-on-write, so working copies share untouched columns with the input."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with pd.option_context("mode.copy_on_write", True):
            return fn(*args, **kwargs)

    return wrapper


@_cow
def propose_changes(raw: pd.DataFrame, inst, *, wave: str, min_progress: float = 50, speeder_seconds: float | None = None,
                    speeder_fraction: float = 0.3, outlier_z: float = 3.5, other_recodes: pd.DataFrame | None = None,
                    root=None) -> pd.DataFrame:
    """Run every registered cleaning check on an ingested export and return the proposed cleaning log.

    The checks are :func:`cmlkit.check_registry.registered_checks`, in order (``check_id`` of their
    log rows in brackets):

    * whole responses (:mod:`cmlkit.response_checks`, :mod:`cmlkit.clean_checks`): ``test_row``
      (platform preview/test status, test names), ``spam``, ``incomplete`` (unfinished with progress
      below ``min_progress``: removed; at or above: flagged), ``exact_duplicate``, ``duplicate_library``
      (library instruments: same library by name + postcode, postcode + email domain, or name + email
      domain; keep the most complete, then latest), the instrument's ``duplicate_entries`` rule (paper
      forms keyed twice; :mod:`cmlkit.duplicate_entries`; ``check_id`` the rule's id);
    * values (:mod:`cmlkit.clean_checks`): ``mojibake``, ``choice_label`` (case/spacing variants;
      wording variants by rapidfuzz, flagged), ``other_recode`` ('other' text matching a choice, by the
      dictionary or word coverage), numbers: ``number_text`` (``£1,200``, ``approx 20``, ``1.5k``,
      ``n/a``; ranges get their midpoint, flagged), ``sentinel`` (99, 999, -1 … where out of range or
      outlying), ``out_of_range``, ``outlier`` (robust z from median/MAD, on log scale for money;
      flagged only), ``skip_logic``, ``pii_text`` (emails, UK phone numbers, postcodes, the
      respondent's own name and cued names in free text: redacted);
    * quality flags (:mod:`cmlkit.response_checks`): ``speeder`` (duration below ``speeder_seconds``,
      default ``speeder_fraction`` x the median), ``straight_lining`` (one answer across a Likert grid
      of 4+ items).

    A check whose declared input is missing (a column the data lack, no question of the type it needs)
    adds one ``check_skipped`` row naming the check and the missing input instead of running. The
    reading decisions of ingest come first (:func:`ingest_entries`).

    Parameters
    ----------
    raw : pandas.DataFrame
        Output of :func:`cmlkit.ingest.read_export` (never modified).
    inst : Instrument
        The instrument the export answers.
    wave : str
        Wave id written in the log's ``wave`` column.
    min_progress : float, default 50
        Unfinished responses with ``_progress`` below this percentage are removed; the others are flagged.
    speeder_seconds : float, optional
        Speeder threshold in seconds; default ``speeder_fraction`` x the median duration.
    speeder_fraction : float, default 0.3
        Fraction of the median duration used when ``speeder_seconds`` is not given.
    outlier_z : float, default 3.5
        Robust z (MADs above the median) beyond which a number is an outlier.
    other_recodes : pandas.DataFrame, optional
        The other->choice dictionary; read from ``survey_instruments/<instrument>/other_recodes.csv``
        when omitted.
    root : path, optional
        Project root holding ``survey_instruments/`` (found from the working directory when omitted).

    Returns
    -------
    pandas.DataFrame
        Proposed log with :data:`~cmlkit.cleaning_log.LOG_COLUMNS`, all strings, in file order (by
        response, then question in questionnaire order; entries on one cell in check order; notes
        on the file first). Reasons ending in ``(review)`` mark proposals a person should check.
    """
    P = _Proposals(raw, inst, wave)
    run_checks(P, inst, min_progress=min_progress, speeder_seconds=speeder_seconds, speeder_fraction=speeder_fraction,
               outlier_z=outlier_z, other_recodes=other_recodes, root=root)
    return _in_file_order([ingest_entries(raw, wave)] + P.settle_hidden(), raw, inst)


def _in_file_order(logs: list, raw: pd.DataFrame, inst) -> pd.DataFrame:
    """The log entries as one log sorted by response (file order), then question (stable), all strings."""
    log = pd.concat([lg for lg in logs if len(lg)], ignore_index=True) if any(len(lg) for lg in logs) else pd.DataFrame(columns=LOG_COLUMNS)
    ids = pd.Index(raw["response_id"].to_numpy())
    if ids.is_unique:  # each response's position in the file (-1: not a response), one hash lookup per entry
        log["_r"] = ids.get_indexer(log["response_id"].to_numpy())
    else:              # a repeated id: its first position
        pos = pd.Series(np.arange(len(raw)), index=ids).groupby(level=0).min()
        log["_r"] = log["response_id"].map(pos).fillna(-1)  # file-level notes (ingest, skipped checks) first
    qpos = {q: i for i, q in enumerate(inst.question_ids)}
    log["_q"] = log["question"].map(qpos).fillna(-1)
    log = log.sort_values(["_r", "_q"], kind="stable").drop(columns=["_r", "_q"]).reset_index(drop=True)
    for col in LOG_COLUMNS:
        log[col] = log[col].astype(object).where(log[col].notna(), "").astype(str)
    return log[LOG_COLUMNS]
