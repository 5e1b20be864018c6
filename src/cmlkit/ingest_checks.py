"""Checks on an export's rows and metadata, run by :func:`cmlkit.ingest.read_export` before mapping.

Each check either accounts for what it does in the *ingest log* (a list of records ``row,
response_id, question, old_value, new_value, action, reason``, rows numbered as a spreadsheet shows
the file: header = row 1) or stops with a one-line :class:`~cmlkit.errors.IngestError` naming
file, row and column. Nothing is dropped or reinterpreted in silence:

* rows holding only blanks or delimiters are excluded (``blank_row``);
* footer and summary rows after the last response (no start or end time: "Total responses: 245")
  are excluded (``footer_row``); such a row *among* the responses is an error;
* ``Finished`` given as ``True/False``, ``TRUE/FALSE``, ``true/false``, ``1/0`` or ``Yes/No``,
  ``Progress`` as ``85``, ``85%`` or ``85.0``, ``Status`` as text or Qualtrics numeric codes are
  read; any other value is an error;
* response ids must be present and unique;
* a select_one column holding only numeric codes (a "numeric values" export, or an SPSS file
  without value labels) is mapped by the instrument's declared codes (:func:`cmlkit.coding.declared_codes`)
  and logged; a code the instrument does not declare is an error;
* 0/1 choice columns may say ``1``/``0``, ``True``/``False``, ``Selected``/``Not selected`` or the
  choice label; any other value is an error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from cmlkit.coding import declared_codes
from cmlkit.datetimes import DATE_LIKE
from cmlkit.errors import IngestError
from cmlkit.text_repair import arrow_strings, loose, map_unique

SEEN_UNANSWERED = "-99"   # Qualtrics' "recode seen but unanswered questions as -99"
LOG_FIELDS = ["row", "response_id", "question", "old_value", "new_value", "action", "reason"]
TRUE_TEXT = {"true", "1", "1.0", "yes", "y", "t", "finished", "selected", "checked", "ticked"}
FALSE_TEXT = {"false", "0", "0.0", "no", "n", "f", "not selected", "unselected", "unchecked", "not ticked", "-99"}
# Qualtrics response types, as text ("Use choice text") and as numeric codes ("Use numeric values")
STATUS = {"ip address": "normal", "imported": "normal", "offline": "normal", "0": "normal", "4": "normal", "16": "normal",
          "survey preview": "preview", "survey test": "preview", "offline survey preview": "preview", "preview": "preview",
          "test": "preview", "1": "preview", "2": "preview", "17": "preview",
          "spam": "spam", "preview spam": "spam", "imported spam": "spam", "8": "spam", "9": "spam", "12": "spam"}


class IngestLog(tuple):
    """The ingest log: an immutable tuple of records, kept in ``DataFrame.attrs``.

    pandas deep-copies ``attrs`` on almost every operation; being immutable, the log returns
    itself instead of being copied record by record.
    """

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self


def column_letters(j: int) -> str:
    """The spreadsheet letters of a column, for messages.

    Parameters
    ----------
    j : int
        The 0-based column.

    Returns
    -------
    str
        ``A`` for 0, ``Z`` for 25, ``AA`` for 26.
    """
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


def entry(row, action, reason, *, response_id="", question="", old="", new="") -> dict:
    """One ingest-log record.

    Parameters
    ----------
    row : int or None
        Spreadsheet row (header = row 1); None for a decision about the whole file or column.
    action : str
        What was done (``blank_row``, ``footer_row``, ``declared_code``, ``mojibake_label`` …).
    reason : str
        Why, in a sentence.
    response_id : str, default ""
        The response concerned.
    question : str, default ""
        The question id concerned.
    old : str, default ""
        The value before.
    new : str, default ""
        The value after.

    Returns
    -------
    dict
        The record, keys :data:`LOG_FIELDS` (``row`` is ``""`` when None).
    """
    return {"row": int(row) if row is not None else "", "response_id": response_id, "question": question,
            "old_value": old, "new_value": new, "action": action, "reason": reason}


def _dated(data: pd.DataFrame, time_cols: list) -> np.ndarray:
    """True where a row's start or end cell holds something shaped like a date or an Excel serial."""
    dated = np.zeros(len(data), dtype=bool)
    for c in time_cols:
        dated |= pc.fill_null(pc.match_substring_regex(arrow_strings(data[c]), DATE_LIKE.pattern), False).to_numpy(zero_copy_only=False)
    return dated


def drop_blank_rows(data: pd.DataFrame, rows: np.ndarray, skipped=(), *, time_cols=(), path=None, dated=None, filled=None) -> tuple:
    """Exclude rows that hold only blanks, spaces or delimiters.

    Cells are checked for spaces only in rows that could be blank (no start or end time, or at most
    three non-empty cells), so a large export costs one vectorised pass.

    Parameters
    ----------
    data : pandas.DataFrame
        The body, cells as text (None when empty).
    rows : numpy.ndarray
        Spreadsheet row of each body row.
    skipped : iterable of (int, str), default ()
        Rows the CSV reader already skipped (:attr:`cmlkit.export_source.Source.skipped`): ``"blank"``
        or a footer's text; they are logged here too.
    time_cols : sequence, default ()
        Columns of ``data`` holding the start and end times.
    path : path-like, optional
        The export (unused in messages here; kept for a uniform call).
    dated : numpy.ndarray, optional
        :func:`dated_rows` of ``data``, when the caller has it.
    filled : numpy.ndarray, optional
        The number of non-missing cells in each row of ``data``, when the reader counted them.

    Returns
    -------
    tuple
        ``(data, rows, log)``: the rows kept (index reset), their spreadsheet rows, and one
        ``blank_row`` or ``footer_row`` record per row excluded, in row order.
    """
    count = data.notna().sum(axis=1).to_numpy() if filled is None else np.array(filled, dtype=np.int64)
    if dated is None and time_cols:
        dated = _dated(data, list(time_cols))
    maybe = (count <= 3) | (~dated if time_cols else False)
    few = np.flatnonzero(maybe & (count > 0))
    if len(few):
        sub = data.iloc[few]
        count[few] = sub.apply(lambda c: c.astype("string").str.strip().fillna("").ne("")).sum(axis=1).to_numpy()
    blank = count == 0
    log = [entry(r, "blank_row", f"row {r} holds only blanks, spaces or delimiters: not a response, excluded")
           if text == "blank" else _footer_entry(r, text) for r, text in sorted(list(skipped) + [(r, "blank") for r in rows[blank].tolist()])]
    if not blank.any():
        return data, rows, log
    return data.loc[~blank].reset_index(drop=True), rows[~blank], log


def dated_rows(data: pd.DataFrame, time_cols: list):
    """Which rows hold something shaped like a date (or an Excel serial) in a start or end column.

    Callers share the result between the blank-row and footer checks.

    Parameters
    ----------
    data : pandas.DataFrame
        The body, cells as text.
    time_cols : list
        Columns of ``data`` holding the start and end times.

    Returns
    -------
    numpy.ndarray or None
        A boolean per row; None when ``time_cols`` is empty.
    """
    return _dated(data, time_cols) if time_cols else None


def drop_footer_rows(data: pd.DataFrame, rows: np.ndarray, time_cols: list, *, path, column: str, dated=None) -> tuple:
    """Exclude footer/summary rows after the last response; a row without start and end time among responses is an error.

    Parameters
    ----------
    data : pandas.DataFrame
        The body, cells as text.
    rows : numpy.ndarray
        Spreadsheet row of each body row.
    time_cols : list
        Columns of ``data`` holding the start and end times; none: nothing is checked.
    path : path-like
        The export, for messages.
    column : str
        Column named in the error message.
    dated : numpy.ndarray, optional
        :func:`dated_rows` of ``data``, when the caller has it.

    Returns
    -------
    tuple
        ``(data, rows, log)``: rows up to the last dated one, their spreadsheet rows, and one
        ``footer_row`` record per row excluded.

    Raises
    ------
    IngestError
        A row without a start or end time before the last response (a summary row among responses).
    """
    if not time_cols or not len(data):
        return data, rows, []
    dated = _dated(data, time_cols) if dated is None else dated
    if dated.all():
        return data, rows, []
    if not dated.any():     # no row has a time shaped like a date: unreadable times, not a file of footers
        filled = [(i, c) for c in time_cols for i in np.flatnonzero(data[c].notna().to_numpy() & (data[c].astype(str).str.strip() != "").to_numpy())[:1]]
        if filled:
            i, c = min(filled)
            raise IngestError(f"{data[c].iloc[i]!r} is not a date and time this reader knows (ISO, DD/MM/YYYY, MM/DD/YYYY "
                              "or an Excel serial), and no row has one", file=path, row=int(rows[i]), column=column)
    last = int(np.flatnonzero(dated)[-1]) if dated.any() else -1
    inside = np.flatnonzero(~dated[: last + 1])
    if len(inside):
        r = int(rows[inside[0]])
        raise IngestError("row has no start or end time, so it is not a response (a summary row among the responses?)",
                          file=path, row=r, column=column)
    foot = data.iloc[last + 1:]
    # the text of a short footer ('Total responses: 245') is shown; a longer row only by its size (it might hold answers)
    log = [_footer_entry(r, " ".join(str(v) for v in cells) if len(cells) <= 3 else f"{len(cells)} filled cells")
           for r, cells in zip(rows[last + 1:], (rec.dropna().tolist() for _, rec in foot.iterrows()))]
    return data.iloc[: last + 1].reset_index(drop=True), rows[: last + 1], log


def _footer_entry(row, text) -> dict:
    return entry(row, "footer_row", f"row {row} ({text[:60]!r}) has no start or end time after the last response: "
                                    "a footer or summary row, excluded")


def _flag(values: pd.Series, rows, *, path, column, what) -> pd.Series:
    s = values.astype("string").str.strip().str.casefold()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[s.isin(TRUE_TEXT).fillna(False).to_numpy(bool)] = True
    out[s.isin(FALSE_TEXT).fillna(False).to_numpy(bool)] = False
    bad = s.notna() & (s != "") & out.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy(bool))[0])
        raise IngestError(f"{what} value {values.iloc[i]!r} is not one of true/false, 1/0, yes/no", file=path, row=int(rows[i]), column=column)
    return out


def read_finished(values, rows, *, path, column) -> pd.Series:
    """``Finished`` as a nullable boolean from any of the platforms' spellings.

    Parameters
    ----------
    values : pandas.Series
        The column's cells.
    rows : array-like
        Spreadsheet row of each value, for messages.
    path : path-like
        The export, for messages.
    column : str
        The column's header, for messages.

    Returns
    -------
    pandas.Series
        ``boolean`` dtype: True for :data:`TRUE_TEXT` spellings, False for :data:`FALSE_TEXT`, NA when blank.

    Raises
    ------
    IngestError
        A value that is none of the spellings (naming its row).
    """
    return _flag(values, rows, path=path, column=column, what="Finished")


def read_number(values, rows, *, path, column, lo=None, hi=None, percent=False) -> pd.Series:
    """A metadata number (``Progress``, ``Duration``): ``85``, ``85.0``, ``85%``; anything else is an error.

    Parameters
    ----------
    values : pandas.Series
        The column's cells.
    rows : array-like
        Spreadsheet row of each value, for messages.
    path : path-like
        The export, for messages.
    column : str
        The column's header, for messages.
    lo : float, optional
        Smallest value allowed (default: no bound).
    hi : float, optional
        Largest value allowed (default: no bound).
    percent : bool, default False
        Accept a trailing ``%``.

    Returns
    -------
    pandas.Series
        ``float``; NaN where blank.

    Raises
    ------
    IngestError
        A value that is not a number or lies outside ``lo``-``hi`` (naming its row).
    """
    s = values.astype("string").str.strip()
    if percent:
        s = s.str.replace(r"\s*%$", "", regex=True)
    num = pd.to_numeric(s.where(s != ""), errors="coerce")
    bad = s.notna() & (s != "") & (num.isna() | ((num < lo) if lo is not None else False) | ((num > hi) if hi is not None else False))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy(bool))[0])
        raise IngestError(f"{column} value {values.iloc[i]!r} is not a number" + (f" from {lo} to {hi}" if hi is not None else ""),
                          file=path, row=int(rows[i]), column=column)
    return num.astype(float)


def read_status(values, rows, *, path, column) -> pd.Series:
    """``Status`` -> ``normal``, ``preview`` (preview or test) or ``spam``; an unknown status is an error.

    Text and Qualtrics' numeric codes are read through :data:`STATUS`; any other status mentioning
    preview or test is ``preview``.

    Parameters
    ----------
    values : pandas.Series
        The column's cells.
    rows : array-like
        Spreadsheet row of each value, for messages.
    path : path-like
        The export, for messages.
    column : str
        The column's header, for messages.

    Returns
    -------
    pandas.Series
        ``normal``, ``preview`` or ``spam`` per row (blank is ``normal``).

    Raises
    ------
    IngestError
        An unknown status (naming its row).
    """
    s = values.astype("string").str.strip().str.casefold()
    s = s.str.replace(r"\.0$", "", regex=True)
    kind = s.map(STATUS)
    kind = kind.where(kind.notna() | ~s.str.contains("preview|test", regex=True).fillna(False), "preview")
    bad = s.notna() & (s != "") & kind.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy(bool))[0])
        raise IngestError(f"unknown response status {values.iloc[i]!r}", file=path, row=int(rows[i]), column=column)
    return kind.fillna("normal").astype(object)


def check_ids(ids: pd.Series, rows, *, path, column) -> None:
    """Every response needs an id, and ids must be unique (the cleaning log addresses responses by id).

    Parameters
    ----------
    ids : pandas.Series
        The response ids.
    rows : array-like
        Spreadsheet row of each id, for messages.
    path : path-like
        The export, for messages.
    column : str
        The id column's header, for messages.

    Raises
    ------
    IngestError
        A blank id (naming its row), or an id repeating an earlier row's (naming both rows).
    """
    blank = pd.Series(pc.fill_null(pc.equal(pc.utf8_trim_whitespace(arrow_strings(ids.astype(object))), ""), True)
                      .to_numpy(zero_copy_only=False), index=ids.index)
    if blank.any():
        i = int(np.flatnonzero(blank.to_numpy(bool))[0])
        raise IngestError("response has no id", file=path, row=int(rows[i]), column=column)
    dup = ids.duplicated(keep=False)
    if dup.any():
        pos = np.flatnonzero(dup.to_numpy(bool))
        first = ids.iloc[pos[0]]
        again = pos[ids.iloc[pos].to_numpy() == first]
        raise IngestError(f"response id {first!r} repeats the id of row {int(rows[again[0]])}", file=path,
                          row=int(rows[again[1]]), column=column)


def map_codes(values: pd.Series, inst, qid: str, rows, *, path, column) -> tuple[pd.Series, list]:
    """Map a select_one column that holds only numeric codes to labels by the instrument's declared codes.

    A column with any label or choice name, or any value that is not a whole number, is left alone
    (cleaning checks it). ``-99`` (Qualtrics' "seen but unanswered") is read as missing.

    Parameters
    ----------
    values : pandas.Series
        The column's cells.
    inst : Instrument
        The instrument.
    qid : str
        The select_one question the column answers.
    rows : array-like
        Spreadsheet row of each value, for messages.
    path : path-like
        The export, for messages.
    column : str
        The column's header, for messages and the log.

    Returns
    -------
    tuple
        ``(values, log)``: the labels (or ``values`` unchanged), and one ``declared_code`` record per
        distinct code (plus one for ``-99`` when present); ``[]`` when nothing was mapped.

    Raises
    ------
    IngestError
        A code the instrument does not declare (:func:`cmlkit.coding.declared_codes`).
    """
    uniq = [u for u in pd.unique(values.to_numpy()) if not pd.isna(u) and str(u).strip()]   # a handful of distinct answers: decide on those
    if not uniq:
        return values, []
    choices = inst.choices(qid)
    known = {loose(c["label"]) for c in choices} | {loose(c["name"]) for c in choices}
    if any(loose(u) in known for u in uniq) or not pd.Series([str(u).strip() for u in uniq]).str.fullmatch(r"-?\d+(?:\.0+)?").all():
        return values, []
    s = values.astype("string").str.strip()
    key = s.str.replace(r"\.0+$", "", regex=True)
    unanswered = (key == SEEN_UNANSWERED).fillna(False)
    present = s.notna() & (s != "") & ~unanswered
    codes = declared_codes(inst, qid)
    undeclared = present & ~key.isin(list(codes))
    if undeclared.any():
        i = int(np.flatnonzero(undeclared.to_numpy(bool))[0])
        raise IngestError(f"value {values.iloc[i]!r} is a code, but not one of the instrument's declared codes for {qid} "
                          f"(1-{len(codes)}) and the file has no value labels; export with choice text or value labels",
                          file=path, row=int(rows[i]), column=column)
    mapped = key.map(codes).astype(object).where(present, None)
    # one entry per distinct code (a reading rule for the column, not an edit of single answers)
    counts = key[present].value_counts().sort_index()
    log = [entry(None, "declared_code", f"{column}: numeric code {code} read as {codes[code]!r} by the instrument's declared "
                                        f"codes ({n} responses; the file has no value labels)", question=qid, old=code, new=codes[code])
           for code, n in counts.items()]
    if unanswered.any():
        log.append(entry(None, "declared_code", f"{column}: {SEEN_UNANSWERED} (seen but not answered) read as missing "
                                                f"({int(unanswered.sum())} responses)", question=qid, old=SEEN_UNANSWERED, new=""))
    return mapped, log


#: value labels of 0 that are the number itself ("None" volunteers); any other label of a number is read as a label
ZERO_WORDS = {"none", "zero", "nil", "nobody", "no one", "not any"}


def numbers_behind_labels(values: pd.Series, labels: dict, *, column) -> tuple[pd.Series, list]:
    """An SPSS number question's labelled values read as their numbers where the label is the number, with a note.

    Parameters
    ----------
    values : pandas.Series
        The cells as read (the label where a value has one).
    labels : dict
        The variable's value labels, number -> label.
    column : str
        The variable's name, for the note.

    Returns
    -------
    tuple
        ``(values, notes)``: a label that says the number it labels — a word for zero on 0 (``None``, ``Nil``) or
        the number written out (``5`` on 5) — becomes that number, once per distinct cell; any other label
        (``Don't know``, ``Refused``, ``No response`` on 97) stays, for the number check to blank and log as
        no number. A label on two numbers stays too. ``notes`` holds one ingest-log entry naming the labels
        read as numbers (none when no cell had one).
    """
    text = pd.Series({v: str(lab).strip() for v, lab in labels.items()}, dtype=object)
    value = pd.Series(text.index.to_numpy(dtype=float), index=text.index)
    same_number = pd.to_numeric(text, errors="coerce").to_numpy() == value.to_numpy()
    zero_word = (value == 0).to_numpy() & text.str.casefold().isin(ZERO_WORDS).to_numpy()
    answer = (same_number | zero_word) & ~text.duplicated(keep=False).to_numpy()
    back = {lab: (str(int(v)) if float(v).is_integer() else repr(float(v))) for v, lab in text[answer].items()}
    back = {lab: num for lab, num in back.items() if lab != num}     # '5' on 5 reads as 5 already
    hit = values.isin(list(back)).to_numpy()
    if not hit.any():
        return values, []
    used = sorted(set(values[hit]), key=list(back).index)
    out = values.where(~hit, values.map(back))
    return out, [entry(None, "spss_number_label", f"{column}: SPSS value labels of numbers read as the numbers they label "
                       f"({', '.join(f'{lab!r} = {back[lab]}' for lab in used)})")]


def ticks(values: pd.Series, label: str, rows, *, path, column) -> np.ndarray:
    """Where a 0/1 choice column says the choice was ticked (``1``, ``True``, ``Selected``, its label).

    Parameters
    ----------
    values : pandas.Series
        The column's cells.
    label : str
        The choice's label (an SPSS value label also means ticked).
    rows : array-like
        Spreadsheet row of each value, for messages.
    path : path-like
        The export, for messages.
    column : str
        The column's header, for messages.

    Returns
    -------
    numpy.ndarray
        Boolean per row: True where ticked; False where blank or unticked (``0``, ``False``, ``Not selected``).

    Raises
    ------
    IngestError
        A value that is neither ticked nor unticked (naming its row).
    """
    s = values.astype("string").str.strip()
    low = s.str.casefold()
    on = low.isin(TRUE_TEXT).fillna(False).to_numpy(bool)
    off = (low.isna() | (low == "")).fillna(True).to_numpy(bool) | low.isin(FALSE_TEXT).fillna(False).to_numpy(bool)
    rest = ~on & ~off
    if rest.any():  # the choice's own label (an SPSS value label) also means ticked
        on[rest] = (map_unique(s[rest].astype(object), loose) == loose(label)).to_numpy(bool)
    bad = ~on & ~off
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise IngestError(f"choice column value {values.iloc[i]!r} is neither ticked (1, True, Selected or the choice label) "
                          "nor unticked (0, False, blank)", file=path, row=int(rows[i]), column=column)
    return on
