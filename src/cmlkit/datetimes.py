"""Parse an export's date-time column, settling its format from the whole column."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cmlkit.errors import IngestError
from cmlkit.text_repair import strip_changes

_ISO = r"^\d{4}-\d{2}-\d{2}"


def parse_datetimes(values: pd.Series, *, name: str = "date", path="<data>", rows=None, month_first: bool = False) -> pd.Series:
    """Parse a column of date-times using the whole column to settle its format.

    Tries ISO, ``DD/MM/YYYY``, ``MM/DD/YYYY`` (with or without AM/PM) and Excel serial numbers.
    ISO values are unambiguous and parsed as ISO wherever they are, so a column mixing ISO and
    ``DD/MM`` forms (a re-saved export) is read, and ``attrs["format"]`` says so. Day-first versus
    month-first is decided by the column: a first field above 12 means day-first, a second field
    above 12 means month-first; a column that never decides is read as ``month_first`` says (the
    platform's own order; day-first, the UK convention, by default) only if every value parses, and
    ``attrs["order_assumed"]`` is then True. Two-digit years are read as ``strptime``'s ``%y`` does
    (00-68: 20xx); a year before 1900 is no date.

    Parameters
    ----------
    values : pandas.Series
        The column's cells (text, or Excel serial numbers).
    name : str, default "date"
        The column's header, for error messages.
    path : str or path-like, default "<data>"
        The file, for error messages.
    rows : array-like, optional
        Spreadsheet row of each value (header = row 1), for error messages; default position + 2.
    month_first : bool, default False
        The order to read dates in when no value settles it (day and month both 12 or less).

    Returns
    -------
    pandas.Series
        ``datetime64[ns]`` (time-zone-aware ISO values converted to UTC and made naive), NaT where
        blank; ``attrs["format"]`` names the form(s) read (``excel-serial``, ``iso``, a
        ``strptime`` format, or ``iso + <format>``), absent when every value is blank;
        ``attrs["order_assumed"]`` is True when the day/month order came from ``month_first``.

    Raises
    ------
    IngestError
        A value no form reads, or a column mixing day-first and month-first forms (naming row and column).
    """
    rows = _row_numbers(values, rows)
    s = values.astype("string")
    s = s.str.strip() if strip_changes(s) else s
    present = s.notna() & (s != "")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if not present.any():
        return out
    v = s[present]
    # Excel serials only when every value is a number: the first value settles most columns (dates are not numbers)
    numeric = pd.to_numeric(v, errors="coerce") if pd.to_numeric(v.iloc[:1], errors="coerce").notna().all() else None
    if numeric is not None and numeric.notna().all():
        out[present] = pd.Timestamp("1899-12-30") + pd.to_timedelta(numeric, unit="D")
        out.attrs["format"] = "excel-serial"
        return out.dt.round("s")
    arr = pa.array(v.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    is_iso = pc.fill_null(pc.match_substring_regex(arr, _ISO), False).to_numpy(zero_copy_only=False)
    formats = []
    parsed = pd.Series(pd.NaT, index=v.index, dtype="datetime64[ns]")
    if is_iso.any():
        iv = v[is_iso]
        # read as UTC whatever the offsets' form (+01:00, +0100, +01, Z) or their mix; values without one are taken as UTC
        iso = pd.to_datetime(iv, format="ISO8601", errors="coerce", utc=True).dt.tz_localize(None)
        parsed[is_iso] = iso.astype("datetime64[ns]")
        formats.append("iso")
    if (~is_iso).any():
        rest = v[~is_iso]
        parsed[~is_iso], fmt, assumed = _day_month(rest, name=name, path=path, rows=rows, hint=month_first)
        formats.append(fmt)
        out.attrs["order_assumed"] = assumed
    bad = parsed.isna()
    if bad.any():
        first_bad = v[bad].index[0]
        raise IngestError(f"unreadable date {v[first_bad]!r}", file=path, column=name, row=int(rows[first_bad]))
    out[present] = parsed
    out.attrs["format"] = " + ".join(formats)
    return out


def answer_dates(text: pd.Series) -> pd.Series:
    """Date answers in ISO text as datetimes at the time written (:func:`drop_offset`), NaT where not ISO.

    Parameters
    ----------
    text : pandas.Series
        Date answers as ingest writes them (:func:`read_date_answers`).

    Returns
    -------
    pandas.Series
        ``datetime64`` (naive), NaT for a missing answer or one no ISO form reads.
    """
    return pd.to_datetime(drop_offset(text.astype("string").str.strip()), errors="coerce", format="ISO8601")


def _row_numbers(values: pd.Series, rows) -> pd.Series:
    """The spreadsheet row of each value, for messages: ``rows`` as given, else position + 2 (header = row 1)."""
    return pd.Series(np.asarray(rows) if rows is not None else np.arange(len(values)) + 2, index=values.index)


def _day_month(v: pd.Series, *, name, path, rows, hint=False):
    """Parse ``DD/MM/YYYY`` or ``MM/DD/YYYY`` values (with optional time, AM/PM; ``YY`` years) -> (parsed, format,
    whether the order came from ``hint``)."""
    arr = pa.array(v.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    parts = pc.extract_regex(arr, r"^(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d+)")
    a = pc.cast(pc.struct_field(parts, "a"), pa.int32()).to_numpy(zero_copy_only=False)
    b = pc.cast(pc.struct_field(parts, "b"), pa.int32()).to_numpy(zero_copy_only=False)
    short = pc.fill_null(pc.equal(pc.utf8_length(pc.struct_field(parts, "y")), 2), False).to_numpy(zero_copy_only=False)
    day_first = bool(np.nanmax(a, initial=0) > 12)
    month_first = bool(np.nanmax(b, initial=0) > 12)
    assumed = not (day_first or month_first)
    month_first = month_first or (assumed and bool(hint))
    if day_first and month_first:
        second = v.index[int(np.flatnonzero(np.nan_to_num(b.astype(float)) > 12)[0])]  # a month-first value in a day-first column
        raise IngestError(f"dates mix day-first and month-first forms ({v[second]!r})", file=path, column=name, row=int(rows[second]))
    ampm = bool(pc.any(pc.match_substring_regex(arr, r"[AaPp][Mm]\s*$")).as_py())
    time_part = " %I:%M:%S %p" if ampm else " %H:%M:%S"
    date_part = ("%m/%d/" if month_first else "%d/%m/") + ("%y" if short.all() else "%Y")
    # pyarrow's strptime (vectorised C++) for the common form; pandas for whatever it leaves
    fast = pc.strptime(arr, format=date_part + time_part, unit="s", error_is_null=True)
    # %Y reads '25' as the year 25, which no survey has and nanoseconds cannot hold (it would wrap round silently)
    fast = pc.if_else(pc.fill_null(pc.greater_equal(pc.year(fast), 1900), False), fast, pa.scalar(None, fast.type))
    parsed = pd.Series(fast.to_numpy(zero_copy_only=False).astype("datetime64[ns]"), index=v.index)
    if parsed.isna().any():
        todo = parsed.isna()
        parsed[todo] = pd.to_datetime(v[todo], format=date_part + time_part, errors="coerce")
    for fallback in (" %H:%M", " %I:%M %p", ""):   # a spreadsheet re-save drops the seconds; a date alone
        if not parsed.isna().any():
            break
        todo = parsed.isna()
        parsed[todo] = pd.to_datetime(v[todo], format=date_part + fallback, errors="coerce")
    parsed[parsed.dt.year < 1900] = pd.NaT
    return parsed, date_part + time_part, assumed


_MONTH_NAME = r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\b"
_ZONE = r"\s*(?:Z|(?:GMT|UTC)?[+-]\d{2}(?::?\d{2})?|GMT|UTC|BST)$"


def drop_offset(text: pd.Series) -> pd.Series:
    """Date-time text without its time-zone offset or name: a date answer is read at the time written.

    Parameters
    ----------
    text : pandas.Series
        Text (string dtype or object).

    Returns
    -------
    pandas.Series
        The same text without a ``Z``, ``+01:00``, ``-0500``, ``GMT`` or ``UTC`` after a time (which converted to
        UTC could move the answer to another day).
    """
    text = text.astype("string")
    timed = text.str.contains(r"\d:\d{2}", regex=True).fillna(False)     # a zone follows a time ('2025-03-04' ends in -04)
    return text.where(~timed, text.str.replace(_ZONE, "", regex=True, case=False))


def read_date_answers(values: pd.Series, *, month_first: bool = False, name: str = "date", path="<data>",
                      rows=None) -> tuple[pd.Series, str | None]:
    """Answers to a date question in ISO form (``YYYY-MM-DD``), read in the forms platforms and people write.

    ``DD/MM/YYYY`` or ``MM/DD/YYYY`` (settled by the column as :func:`parse_datetimes` settles it, else the
    platform's order ``month_first``), Excel serial numbers (a whole column of numbers from 20000 to 80000, the
    years 1954 to 2119: a column of years is no serial), and dates with a
    month name, a day and a four-digit year (``3 March 2025``, ``March 3, 2025``; a time zone after the time is
    dropped: the answer is read at the time written, not moved to UTC). ISO answers are kept as they are; an answer no form reads (``soon``, ``March 2025``, ``31/13/2025``,
    a lone number among dates) stays as written, for the cleaning's ``dates`` check to blank and log. Answers in
    both day/month orders are each read in the platform's order where they fit it (the rest are left).

    Parameters
    ----------
    values : pandas.Series
        The answers as text.
    month_first : bool, default False
        The platform's day/month order, used when no answer settles it.
    name, path, rows
        For error messages, as :func:`parse_datetimes`.

    Returns
    -------
    (pandas.Series, str or None)
        The answers (object, ISO text where read, a time kept after the date when it is not midnight) and a
        note naming the forms read (None when every answer was already ISO or blank).

    """
    s = values.astype("string").str.strip()
    out = values.astype(object).copy()
    given = (s.notna() & (s != "")).to_numpy(bool)
    todo = given & ~s.str.match(_ISO).fillna(False).to_numpy(bool)
    if not todo.any():
        return out, None
    v = s[todo]
    read = pd.Series(pd.NaT, index=v.index, dtype="datetime64[ns]")
    forms = []
    numeric = pd.to_numeric(v, errors="coerce")
    # Excel serials only for a whole column of numbers (a stray '2025' among dates is no serial: left for review)
    if todo.sum() == given.sum() and numeric.notna().all() and numeric.between(20000, 80000).all():   # 1954 to 2119
        read[:] = pd.Timestamp("1899-12-30") + pd.to_timedelta(numeric, unit="D")
        forms.append("Excel serial numbers")
    else:
        parts = v.str.extract(r"^(\d{1,2})/(\d{1,2})/\d{2,4}\b").astype(float)
        slash = parts[0].notna().to_numpy()
        first_big, second_big = (parts[0] > 12).to_numpy(), (parts[1] > 12).to_numpy()
        slash &= ~(first_big & second_big)            # 31/13/2025 is no date either way: left for review
        if first_big[slash].any() and second_big[slash].any():
            # answers in both orders (people typing): each read in the platform's order where it fits it
            slash &= ~(first_big if month_first else second_big)
            mixed = " (answers in both day/month orders: read in the platform's, where they fit it; review)"
        else:
            mixed = ""
        if slash.any():
            parsed, fmt, assumed = _day_month(v[slash], name=name, path=path, rows=_row_numbers(values, rows), hint=month_first)
            read[slash] = parsed
            order = "MM/DD/YYYY" if fmt.startswith("%m") else "DD/MM/YYYY"
            forms.append(order + (mixed or (" (day/month order not settled by the answers: the platform's, review)"
                                            if assumed else "")))
        # a month name with a day and a four-digit year ('3 March 2025'; 'March 2025' has no day: left for review)
        named = ~slash & v.str.contains(_MONTH_NAME, regex=True).fillna(False).to_numpy(bool) \
            & v.str.contains(r"\b\d{4}\b", regex=True).fillna(False).to_numpy(bool) \
            & v.str.contains(r"(?<![\d:])(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?\b(?!:)", regex=True).fillna(False).to_numpy(bool)
        if named.any():
            distinct = pd.unique(v[named])
            plain = drop_offset(pd.Series(distinct, dtype=object)).str.replace(r"(?<=\d)(?:st|nd|rd|th)\b", "", regex=True)
            got = pd.to_datetime(plain.astype(object), format="mixed", dayfirst=not month_first, errors="coerce")
            read[named] = v[named].map(dict(zip(distinct, got)))
            forms.append("dates with a month name")
    read[read.dt.year < 1900] = pd.NaT
    ok = read.notna()
    if not ok.any():
        return out, None
    midnight = read[ok] == read[ok].dt.normalize()
    iso = read[ok].dt.strftime("%Y-%m-%d").where(midnight, read[ok].dt.strftime("%Y-%m-%d %H:%M:%S"))
    out.loc[iso.index] = iso.to_numpy(dtype=object)
    return out, f"{name}: answers read as {' and '.join(forms)}, written as YYYY-MM-DD"


DATE_LIKE = re.compile(r"^\s*(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{5}(?:\.\d+)?\s*$)")
