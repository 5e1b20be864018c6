"""The cleaning log: its schema, the review workbook and guarded application (the audit diff: :mod:`cmlkit.cleaning_audit`).

Schema (one row per proposed or decided change)::

    wave, response_id, question, old_value, new_value, change_type, check_id, reason, decision, reviewer, decided_at

``change_type`` uses the action vocabulary of IMPACT's ``cleaningtools`` R package:
``change_response``, ``blank_response``, ``remove_survey`` (drop the whole response) and
``no_action``; logs written before this vocabulary (``remove_response``) are read as
``remove_survey``. ``decision`` is the reviewer's: ``accept`` (or blank: the proposal stands),
``reject`` (the raw value is kept, the report says ``rejected`` and the audit lists it) or ``edit``
(the reviewer changed ``new_value``). A reason ending in ``(review)`` marks a proposal a person should
look at. Where the old value may hold personal data the log keeps ``sha256:<digest>`` of it instead,
which is enough to guard re-application; so does the new value of a repair of such text (mojibake,
control characters: :data:`cmlkit.text_repair.REPAIRS`), which applying the log computes again from
the cell and checks against the digest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit.coding import code_choices, multi_outside_choices
from cmlkit.errors import CleaningLogError
from cmlkit.tables import escape_xlsx_text, freeze_xlsx, neutralise_formulas, unescape_xlsx_text
from cmlkit.text_repair import REPAIRS

LOG_COLUMNS = ["wave", "response_id", "question", "old_value", "new_value", "change_type", "check_id",
               "reason", "decision", "reviewer", "decided_at"]
CHANGE_TYPES = ("change_response", "blank_response", "remove_survey", "no_action")
LEGACY_CHANGE_TYPES = {"remove_response": "remove_survey"}   # read from logs written before the cleaningtools vocabulary
DECISIONS = ("accept", "reject", "edit")


def normalise_log(log: pd.DataFrame) -> pd.DataFrame:
    """A log in the current schema: legacy change types renamed, a missing ``decision`` column added (blank = accept).

    Parameters
    ----------
    log : pandas.DataFrame
        A cleaning log, possibly written before the ``decision`` column or the ``cleaningtools`` names.

    Returns
    -------
    pandas.DataFrame
        A copy with ``remove_response`` read as ``remove_survey`` and ``decision`` trimmed and
        casefolded (missing -> ``""``).
    """
    log = log.copy()
    if "decision" not in log:
        log.insert(LOG_COLUMNS.index("decision") if len(log.columns) >= LOG_COLUMNS.index("decision") else len(log.columns),
                   "decision", "")
    log["change_type"] = log["change_type"].astype(str).replace(LEGACY_CHANGE_TYPES)
    codes, uniq = pd.factorize(log["decision"], use_na_sentinel=True)  # a handful of distinct decisions: each trimmed once
    tidy = np.array([str(u).strip().casefold() for u in uniq] + [""], dtype=object)  # the last: missing (code -1)
    log["decision"] = pd.Series(tidy[codes], index=log.index, dtype=object)
    return log


def digest(value) -> str:
    """Return ``sha256:<16 hex>`` of a value, used in place of personal data in logs.

    Parameters
    ----------
    value : object
        Hashed as ``str(value)`` in UTF-8.

    Returns
    -------
    str
        ``sha256:`` and the first 16 hex digits of the digest.
    """
    return "sha256:" + hashlib.sha256(str(value).encode("utf-8")).hexdigest()[:16]


def digest_text(values: pd.Series) -> pd.Series:
    """Non-empty text values as their :func:`digest`, anything else (missing, empty, numbers) unchanged.

    Parameters
    ----------
    values : pandas.Series
        Values of personal or free-text questions about to be written to a log or report.

    Returns
    -------
    pandas.Series
        Same index.
    """
    return values.map(lambda v: digest(v) if isinstance(v, str) and v else v)


def apply_log(raw: pd.DataFrame, log: pd.DataFrame, inst) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply a (possibly hand-edited) cleaning log to raw responses, with guards.

    Each entry's ``old_value`` must equal the current raw value (or its ``sha256:`` digest); a
    stale entry (the export changed since the log was written) is reported, not applied. Unknown
    change types, unknown responses or questions and new values the instrument does not allow are
    refused. Entries that change nothing are reported as such. Several entries on one cell apply
    in log order (each must match the value the previous one left; only the last must be a value the
    instrument allows, so a repair chain such as mojibake then number-as-text applies). Vectorised per question.

    Parameters
    ----------
    raw : pandas.DataFrame
        The ingested export (choice labels are coded to names before the log is applied).
    log : pandas.DataFrame
        The cleaning log (:data:`LOG_COLUMNS`; a missing ``decision`` column reads as accept).
    inst : Instrument
        Gives the allowed values of each question.

    Returns
    -------
    applied : pandas.DataFrame
        The raw responses after the log (removed rows dropped), choice labels coded to names.
    report : pandas.DataFrame
        The log with ``status`` (``applied``, ``no_change``, ``rejected``, ``stale``, ``refused``) and ``message``.

    Raises
    ------
    CleaningLogError
        On an unknown ``change_type`` or ``decision`` (naming the log row) or response ids that are not unique.
    """
    with pd.option_context("mode.copy_on_write", True):  # working copies share untouched columns with raw
        return _apply_log(raw, log, inst)


def _apply_log(raw, log, inst):
    log = normalise_log(log.reset_index(drop=True))
    unknown = sorted(set(log["change_type"]) - set(CHANGE_TYPES))
    if unknown:
        row = int(np.flatnonzero(log["change_type"].isin(unknown))[0]) + 2
        raise CleaningLogError(f"unknown change_type {unknown[0]!r}; expected one of {CHANGE_TYPES}", row=row, column="change_type")
    dec = log["decision"]
    odd = ~dec.isin(("",) + DECISIONS)
    if odd.any():
        row = int(np.flatnonzero(odd)[0]) + 2
        raise CleaningLogError(f"unknown decision {dec[odd].iloc[0]!r}; expected accept, reject or edit (blank = accept)",
                               row=row, column="decision")
    rejected = dec == "reject"
    data = code_choices(raw, inst)
    data.index = data["response_id"].astype(str).to_numpy()
    if not data.index.is_unique:
        dup = data.index[data.index.duplicated()][0]
        raise CleaningLogError(f"response id {dup!r} occurs more than once in the export; ids must be unique to apply a log")
    rid = log["response_id"].astype(str)
    ct, qcol = log["change_type"], log["question"].astype(str)
    status = pd.Series("", index=log.index, dtype=object)
    message = pd.Series("", index=log.index, dtype=object)
    row_of = pd.Series(data.index.get_indexer(rid), index=log.index)  # each entry's response by position (-1: not there)
    known = row_of >= 0
    note = (rid == "") & (ct == "no_action")  # a note on the file (a row excluded while reading it)
    status[~known] = "refused"
    message[~known] = "response " + rid[~known] + " is not in the export"
    status[note], message[note] = "no_change", "note on the file, no response to change"
    m = known & (ct == "no_action")
    status[m], message[m] = "no_change", "no action"
    m = known & rejected & (ct != "no_action")
    status[m], message[m] = "rejected", "rejected by the reviewer: the raw value is kept"
    m = known & ~rejected & (ct == "remove_survey")
    status[m], message[m] = "applied", "response removed"
    removed = row_of[m].to_numpy()  # the removed responses' positions
    cells = known & ~rejected & ct.isin(["change_response", "blank_response"])
    badq = cells & ~qcol.isin(inst.question_ids)
    status[badq] = "refused"
    message[badq] = "question " + qcol[badq] + " is not in the instrument"
    work = log.index[cells & ~badq]
    rounds = pd.Series(0, index=work)
    last = pd.Series(True, index=work)
    if len(work):
        rounds = log.loc[work].groupby([rid[work], qcol[work]], sort=False).cumcount()
        last = log.loc[work].groupby([rid[work], qcol[work]], sort=False).cumcount(ascending=False) == 0
    for r in sorted(rounds.unique()) if len(work) else []:
        _apply_round(rounds.index[rounds == r], data, inst, log, rid, qcol, ct, row_of, last, status, message)
    edited = (dec == "edit") & (status == "applied")
    message[edited] = "applied as edited by the reviewer"
    report = log.copy()
    report["status"], report["message"] = status.to_numpy(), message.to_numpy()
    kept = np.ones(len(data), dtype=bool)
    kept[removed] = False
    applied = data.loc[kept].reset_index(drop=True)
    return applied, report


def _apply_round(idx, data, inst, log, rid, qcol, ct, row_of, last, status, message) -> None:
    """Apply the log entries ``idx`` (at most one per cell: one round of a cell's successive entries), all
    questions at once; ``status``, ``message`` and ``data`` are updated in place.

    An entry is ``stale`` when its old value is not the cell's current one, ``refused`` when the cell's
    final value would not be valid for its question, ``no_change`` when it equals the current value,
    else ``applied``. Loops run over the round's questions (to read and set their columns), not its entries.
    """
    qs, rows = qcol[idx].to_numpy(dtype=object), row_of[idx].to_numpy()
    by_question = pd.Series(np.arange(len(idx))).groupby(qs, sort=False).indices      # question -> entry positions
    cur = np.empty(len(idx), dtype=object)
    for qid, at in by_question.items():        # the cells' current values (a round touches each cell once)
        col = data[qid].iloc[rows[at]] if data.columns.is_unique else data.loc[rid[idx[at]].to_numpy(), qid]
        cur[at] = col.to_numpy(dtype=object)
    cur_s = pd.Series(np.where(pd.isna(cur), "", as_text(cur)), index=idx)
    old = log.loc[idx, "old_value"].astype(str)
    hashed = old.str.startswith("sha256:")
    match = old == cur_s
    if hashed.any():
        match[hashed] = [bool(c) and digest(c) == o for c, o in zip(cur_s[hashed], old[hashed])]
    new = pd.Series(np.where(ct[idx] == "blank_response", "", log.loc[idx, "new_value"].astype(str)), index=idx)
    hidden = new.str.startswith("sha256:")
    if hidden.any():     # a repair of personal text, logged as its digest: computed again from the cell
        new[hidden] = [_repaired(c, d, check) for c, d, check in zip(cur_s[hidden], new[hidden], log.loc[idx[hidden], "check_id"])]
    filled = (new != "") & last[idx]  # only a cell's final value must be valid ('Â£240' -> '£240' -> '240')
    kind = pd.Series(qs, dtype=object).map({q: inst.question(q)["type"] for q in by_question}).to_numpy()
    bad = pd.Series(False, index=idx)
    what = pd.Series("", index=idx, dtype=object)
    one = filled.to_numpy() & (kind == "select_one")
    if one.any():
        pairs = pd.MultiIndex.from_arrays([qs[one], new.to_numpy()[one]])
        allowed = pd.MultiIndex.from_tuples([(q, c) for q in pd.unique(qs[one]) for c in inst.choice_names(q)])
        bad[one] = ~pairs.isin(allowed)
        what[one] = "is not a choice of " + qcol[idx][one]
    number = filled.to_numpy() & np.isin(kind, ["integer", "decimal"])
    if number.any():
        bad[number] = pd.to_numeric(new[number], errors="coerce").isna().to_numpy()
        what[number] = "is not a number"
    for qid in pd.unique(qs[filled.to_numpy() & (kind == "select_multiple")]):
        at = idx[(qs == qid) & filled.to_numpy()]
        bad[at] = multi_outside_choices(new[at], set(inst.choice_names(qid))).to_numpy()
        what[at] = "has values that are not choices of " + qid
    unknown = hidden & new.str.startswith("sha256:")
    bad[unknown], what[unknown] = True, "is not the digest of a repair of the current value by " + log.loc[idx[unknown], "check_id"]
    stale = ~match
    if stale.any():
        status[idx[stale]] = "stale"
        message[idx[stale]] = "old_value does not match the current value of " + qcol[idx][stale] + " (export changed?); not applied"
    refused = match & bad
    if refused.any():       # the messages only where there is one to write
        status[idx[refused]], message[idx[refused]] = "refused", "'" + new[refused] + "' " + what[refused]
    same = match & ~bad & (new == cur_s)
    if same.any():
        status[idx[same]], message[idx[same]] = "no_change", "new value equals the current value"
    go = (match & ~bad & (new != cur_s)).to_numpy()
    for qid, at in by_question.items():
        at = at[go[at]]
        if len(at):
            _set_cells(data, qid, rows[at], rid[idx[at]].to_numpy(), new.iloc[at].where(new.iloc[at] != "", None).to_numpy())
            status[idx[at]] = "applied"


def _repaired(current: str, hashed: str, check: str) -> str:
    """The repair ``check`` makes of ``current`` if its digest is ``hashed``, else ``hashed``."""
    repair = REPAIRS.get(check)
    value = repair(current) if repair is not None and current else None
    return value if value is not None and digest(value) == hashed else hashed


def _set_cells(data: pd.DataFrame, qid: str, rows, ids, values) -> None:
    """``data.loc[ids, qid] = values``, by position (``rows``) where the column is a plain object column."""
    col = data[qid] if data.columns.is_unique else None
    if col is None or col.dtype != object:
        data.loc[ids, qid] = values
        return
    col = col.to_numpy(copy=True)
    col[rows] = values
    data[qid] = col


def accounting(raw: pd.DataFrame, report: pd.DataFrame, clean: pd.DataFrame) -> pd.DataFrame:
    """Row accounting: data rows in the file = kept + excluded while reading + removed (by reason).

    Rows excluded while reading (blank rows, footer or summary rows; ``raw.attrs["excluded"]``) are
    counted as ``excluded_<kind>`` under ``rows_in`` (both lines only when a row was excluded), so
    ``rows_in = excluded + responses_in`` and ``responses_in = removed + responses_kept``.

    Parameters
    ----------
    raw : pandas.DataFrame
        The ingested export (its ``attrs["excluded"]`` counts the rows excluded while reading).
    report : pandas.DataFrame
        The report of :func:`apply_log`; applied ``remove_survey`` rows count as removed, by ``check_id``.
    clean : pandas.DataFrame
        The responses kept.

    Returns
    -------
    pandas.DataFrame
        Columns ``stage, n``: ``rows_in`` and ``excluded_<kind>`` (only when a row was excluded),
        ``responses_in``, ``removed_<check_id>`` per check, ``responses_kept``.

    Raises
    ------
    CleaningLogError
        If the numbers do not add up.
    """
    removed = report.loc[(report["change_type"].replace(LEGACY_CHANGE_TYPES) == "remove_survey") & (report["status"] == "applied")]
    by = removed.drop_duplicates("response_id").groupby("check_id").size()
    excluded = {k: int(v) for k, v in (raw.attrs.get("excluded") or {}).items() if v}
    n_in = len(raw) + sum(excluded.values())
    head = [("rows_in", n_in)] + [(f"excluded_{k}", v) for k, v in excluded.items()] if excluded else []
    rows = (head + [("responses_in", len(raw))]
            + [(f"removed_{k}", int(v)) for k, v in by.items()] + [("responses_kept", len(clean))])
    table = pd.DataFrame(rows, columns=["stage", "n"])
    if n_in != len(clean) + int(by.sum()) + sum(excluded.values()):
        raise CleaningLogError(f"row accounting does not add up: {n_in} in, {len(clean)} kept, {sum(excluded.values())} excluded, "
                               f"{int(by.sum())} removed")
    return table


def read_log(path) -> "pd.DataFrame":
    """Read a (reviewed) cleaning log from CSV or the XLSX review workbook (sheet ``cleaning_log``).

    Parameters
    ----------
    path : path
        ``.xlsx`` (sheet ``cleaning_log``) or CSV (UTF-8, BOM allowed).

    Returns
    -------
    pandas.DataFrame
        The log with :data:`LOG_COLUMNS` as text (``decision`` added when missing, legacy change
        types renamed), with the spreadsheet formula guard (a leading ``'``) removed from
        ``old_value`` and ``new_value`` and, from a workbook, ``_xHHHH_`` escapes turned back into
        the characters they stand for.

    Raises
    ------
    CleaningLogError
        If the file is missing or lacks a column of :data:`LOG_COLUMNS`.
    """
    path = Path(path)
    if not path.is_file():
        raise CleaningLogError("cleaning log not found", file=path)
    if path.suffix.lower() == ".xlsx":      # control characters were written as _xHHHH_ escapes (escape_xlsx_text)
        log = pd.read_excel(path, sheet_name="cleaning_log", dtype=str, keep_default_na=False).apply(unescape_xlsx_text)
    else:
        log = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in LOG_COLUMNS if c not in log.columns and c != "decision"]   # logs before the decision column still read
    if missing:
        raise CleaningLogError(f"cleaning log lacks column {missing[0]!r}", file=path, row=1)
    log = normalise_log(log)[LOG_COLUMNS]
    for col in ("old_value", "new_value"):  # undo the spreadsheet formula guard
        log[col] = log[col].str.replace(r"^'(?=[=+\-@\t\r])", "", regex=True)
    return log


README_ROWS = [
    ("change_response", "replace the old value by new_value"),
    ("blank_response", "set the value to missing"),
    ("remove_survey", "drop the whole response (give the reason)"),
    ("no_action", "keep the value as it is (a flag you have looked at)"),
    ("", ""),
    ("", ""),
    ("decision: accept", "the proposal stands (a blank decision means the same)"),
    ("decision: reject", "the proposal is not applied: the raw value is kept; the audit lists every rejection"),
    ("decision: edit", "you changed new_value (or change_type): your version is applied"),
    ("", ""),
    ("how to review", "choose a decision in the drop-down, edit new_value where you choose 'edit', put your initials in "
                      "reviewer and the date in decided_at, save, then rerun with --set clean_library.cleaning_log=<this file>"),
    ("guard", "an entry is applied only if old_value still equals the raw value; 'sha256:' old values stand for "
              "personal data that is never written here"),
]


REVIEW_BLOCK_ROWS = 65536
"""Log rows :func:`write_review_workbook` turns into text at once (the rows stream to the file)."""


def write_review_workbook(log: pd.DataFrame, inst, path) -> Path:
    """Write the cleaning log as an XLSX review workbook.

    Sheet ``cleaning_log`` holds the log with drop-downs on ``change_type`` and ``decision`` (accept,
    reject, edit) and, for questions with
    choices, a drop-down of the allowed choice names on ``new_value``; ``readme`` explains the change
    types; a hidden ``choices`` sheet feeds the drop-downs. The header is frozen and filtered,
    cells that a spreadsheet would read as formulas are neutralised, and control characters are written
    as ``_xHHHH_`` escapes (:func:`cmlkit.tables.escape_xlsx_text`), which :func:`read_log` reads back.

    Parameters
    ----------
    log : pandas.DataFrame
        The cleaning log to review.
    inst : Instrument
        Gives the select_one questions and their choice names.
    path : path
        Where to write the workbook (folders are created).

    Returns
    -------
    pathlib.Path
        The written file (saved with fixed metadata by :func:`cmlkit.tables.freeze_xlsx`).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation   # imported here, not at the top: only the steps that read or write a workbook load openpyxl
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)   # rows stream to the file (an ordinary workbook holds every cell as an object)
    ws = wb.create_sheet("cleaning_log")
    n = len(log) + 1
    letter = {c: get_column_letter(i) for i, c in enumerate(log.columns, start=1)}
    widths = {"wave": 9, "response_id": 14, "question": 22, "old_value": 24, "new_value": 24, "change_type": 17,
              "check_id": 16, "reason": 60, "decision": 10, "reviewer": 10, "decided_at": 12}
    for col, cell in letter.items():       # column widths and the frozen header go before the first row
        ws.column_dimensions[cell].width = widths.get(col, 14)
    ws.freeze_panes = "A2"
    header = []
    for col in log.columns:
        cell = WriteOnlyCell(ws, value=col)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        header.append(cell)
    ws.append(header)
    for start in range(0, len(log), REVIEW_BLOCK_ROWS):    # the log as text a block of rows at a time
        block = log.iloc[start:start + REVIEW_BLOCK_ROWS]
        text = escape_xlsx_text(neutralise_formulas(block.astype(object).where(block.notna(), "")))
        for row in text.astype(str).itertuples(index=False, name=None):
            ws.append(row)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(log.columns))}{n}"
    dv = DataValidation(type="list", formula1='"' + ",".join(CHANGE_TYPES) + '"', allow_blank=False)
    dv.add(f"{letter['change_type']}2:{letter['change_type']}{max(n, 2)}")
    ws.data_validations.append(dv)      # a write-only sheet has no add_data_validation; the same list
    dd = DataValidation(type="list", formula1='"' + ",".join(DECISIONS) + '"', allow_blank=True, showErrorMessage=True,
                        errorTitle="decision", error="accept, reject or edit (blank = accept)")
    dd.add(f"{letter['decision']}2:{letter['decision']}{max(n, 2)}")
    ws.data_validations.append(dd)
    select_qs = [q["id"] for q in inst.questions if q["type"] == "select_one"]
    names = {qid: inst.choice_names(qid) for qid in select_qs}
    ranges = {qid: (get_column_letter(j), len(names[qid]) + 1) for j, qid in enumerate(select_qs, start=1)}
    questions = log["question"].to_numpy(dtype=object)
    for qid in pd.unique(questions):
        if qid not in ranges:
            continue
        col, last = ranges[qid]
        # the question's rows as runs of consecutive rows, one reference string: openpyxl's add() of a cell at a
        # time checks it against every reference already there (quadratic in the log's length)
        rows = np.flatnonzero(questions == qid) + 2
        breaks = np.flatnonzero(np.diff(rows) > 1)
        starts, ends = rows[np.r_[0, breaks + 1]], rows[np.r_[breaks, len(rows) - 1]]
        cells = letter["new_value"]
        sqref = " ".join(f"{cells}{a}" if a == b else f"{cells}{a}:{cells}{b}" for a, b in zip(starts.tolist(), ends.tolist()))
        ws.data_validations.append(DataValidation(type="list", formula1=f"=choices!${col}$2:${col}${last}", allow_blank=True,
                                                  sqref=sqref))
    lists = wb.create_sheet("choices")      # one column per select_one question: its id, then its choice names
    lists.sheet_state = "hidden"
    for k in range(max((len(v) for v in names.values()), default=0) + 1):
        lists.append([(qid if k == 0 else names[qid][k - 1] if k <= len(names[qid]) else None) for qid in select_qs])
    readme = wb.create_sheet("readme")
    readme.column_dimensions["A"].width = 18
    readme.column_dimensions["B"].width = 110
    readme.append(["change_type / topic", "meaning"])
    for row in README_ROWS:
        readme.append(list(row))
    wb.save(path)
    return freeze_xlsx(path)


def as_text(values: np.ndarray) -> np.ndarray:
    """Object values as pandas writes them as text (``astype(str)``), still an object array (no fixed width).

    Parameters
    ----------
    values : numpy.ndarray
        Object values.

    Returns
    -------
    numpy.ndarray
        object dtype, same shape.
    """
    return pd.Series(values, dtype=object, copy=False).astype(str).to_numpy()
