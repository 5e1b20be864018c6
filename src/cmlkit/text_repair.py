"""Text repair and number-as-text parsing, shared by the readers and the cleaning checks.

Everything here is a pure function of strings: loose label comparison, undoing double-encoded text
(mojibake: UTF-8 read as cp1252) and reading numbers written as text (``£1,200``, ``approx 20``,
``1.5k``, ranges). Repairs are *proposed* by the callers, which log them; nothing here logs.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_NA_TEXT = re.compile(r"^(n/?a|na|none given|not known|unknown|don'?t know|dk|-+|\?+|tbc|not sure)$", re.I)
_RANGE = re.compile(r"^£?\s*([\d.,]+)\s*(k?)\s*(?:-|–|to)\s*£?\s*([\d.,]+)\s*(k?)$", re.I)
_NOISE = re.compile(r"(?i)\b(?:approximately|approx|about|around|roughly|circa|or so|hours?|hrs?|per week|a week|pw|pounds?|gbp)\b\.?|\bc\.|£|~")
_SPACE = r"[\s\x0b\x1c-\x1f\x85\p{Z}]"
#: invisible characters that are not whitespace (control and zero-width characters pasted into a form): dropped
#: from numbers here, and from free text by the ``control_characters`` check (:func:`control_repairs`)
_CONTROL = r"[\x00-\x08\x0e-\x1b\x7f\u200b-\u200d\u2060\ufeff]"
CONTROL = re.compile(_CONTROL)
_EDGE_SPACE = f"^{_SPACE}|{_SPACE}$"
NUMBER_KINDS = ["bad", "blank", "na", "number", "range", "text_number", "decimal_comma", "spaces"]
#: a comma that cannot be a thousands separator (not followed by exactly three digits: ``17,5``), or one after
#: thousands grouped with dots (``1.200,50``): a decimal comma, as continental spreadsheets write numbers
_DECIMAL_COMMA = r"-?(?:\d{1,3}(?:\.\d{3})+,\d+|\d+,(?:\d{1,2}|\d{4,}))"
MOJIBAKE = re.compile("[\u00c2\u00c3][\u0080-\u00bf\u2018-\u203a\u20ac\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2122]|\u00e2\u20ac")


def loose(text) -> str:
    """Case-, whitespace- and end-punctuation-insensitive form of a label.

    Parameters
    ----------
    text : object
        The label (converted with ``str``).

    Returns
    -------
    str
        Casefolded, runs of whitespace collapsed to one space, non-word characters stripped from both ends.
    """
    return re.sub(r"^[\W_]+|[\W_]+$", "", " ".join(str(text).split()).casefold())


_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "\u201c": '"', "\u201d": '"',
                             "\u201e": '"', "\u2013": "-", "\u2014": "-"})


def typographic(text) -> str:
    """``text`` with typographic quotes and dashes made plain, accents composed (NFC) and spacing collapsed.

    Two labels with the same form differ only as exports and editors change text: curly against
    straight quotes (``Children’s``), an accent as one character or two (``Café``, ``Cafe\u0301``),
    no-break or repeated spaces; not in case or spelling, which a respondent types.

    Parameters
    ----------
    text : object
        Converted with ``str``.

    Returns
    -------
    str
    """
    return " ".join(unicodedata.normalize("NFC", str(text).translate(_TYPOGRAPHY)).split())


def fold(text) -> str:
    """:func:`loose` of ``text`` with accents stripped and typographic quotes and dashes made plain.

    Two labels with the same fold differ only in case, spacing, end punctuation, accents (precomposed or
    not: ``Café``, ``Cafe\u0301``) or curly against straight quotes (``Children’s``).

    Parameters
    ----------
    text : object
        Converted with ``str``.

    Returns
    -------
    str
    """
    return loose(strip_accents(str(text).translate(_TYPOGRAPHY)))


def missing_markers(values: pd.Series) -> pd.Series:
    """Whether each text is a missing-value marker rather than an answer (``N/A``, ``-``, ``.``, ``?``, ``tbc``, ``dk`` ...).

    A text with no letter or digit at all (``-``, ``.``, ``--``) is one, as are the words :func:`parse_number_text`
    reads as "not applicable or not known".

    Parameters
    ----------
    values : pandas.Series
        Text (missing values answer False).

    Returns
    -------
    pandas.Series
        bool, same index.
    """
    text = values.astype("string").str.strip()
    return (text.str.fullmatch(_NA_TEXT) | ~text.str.contains(r"\w", regex=True)).fillna(False).astype(bool)


def strip_accents(text: str) -> str:
    """``text`` with accents removed (NFKD, non-ASCII dropped).

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        ASCII text (``café`` -> ``cafe``; characters with no ASCII base are dropped).
    """
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def arrow_strings(values: pd.Series):
    """The values as a pyarrow string array (missing -> null).

    Parameters
    ----------
    values : pandas.Series
        Strings (object or ``string[pyarrow]`` dtype); None/NaN are missing.

    Returns
    -------
    pyarrow.Array
        A string array of the same length, null where a value is missing.
    """
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return pa.array(values.array)
    return pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)   # None/NaN -> null


def strip_changes(values: pd.Series) -> bool:
    """Whether ``values.str.strip()`` would change any value (a pyarrow regex over the text, no Python call per value).

    The pattern's whitespace is a superset of what :meth:`str.strip` removes (ASCII whitespace,
    ``\\x1c``-``\\x1f``, ``\\x85`` and Unicode separators), so False is exact; True may be a false alarm.

    Parameters
    ----------
    values : pandas.Series
        Strings (object or string dtype) and missing values.

    Returns
    -------
    bool
        False when no value starts or ends with whitespace; True otherwise, or when the values are not all text.
    """
    try:
        arr = pa.array(values.array) if isinstance(values.dtype, pd.StringDtype) else arrow_strings(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return True
    return bool(pc.any(pc.match_substring_regex(arr, _EDGE_SPACE)).as_py())


def map_unique(values: pd.Series, fn) -> pd.Series:
    """``values.map(fn)`` computed once per distinct value (survey columns repeat a lot).

    Parameters
    ----------
    values : pandas.Series
    fn : callable
        Called once per distinct non-missing value.

    Returns
    -------
    pandas.Series
        ``fn(value)`` for each value, same index; missing where the value is missing.
    """
    uniq = pd.unique(values.dropna())
    return values.map(dict(zip(uniq, map(fn, uniq))))


def fix_mojibake(text):
    """Undo UTF-8 text that was decoded as cp1252 (``cafÃ©`` -> ``café``).

    Parameters
    ----------
    text : object
        A value; only strings matching :data:`MOJIBAKE` are tried.

    Returns
    -------
    str or None
        The repaired text; None when ``text`` is not a string, does not look like mojibake, or does not
        survive the cp1252 -> UTF-8 round trip.
    """
    if not isinstance(text, str) or not MOJIBAKE.search(text):
        return None
    try:
        fixed = text.encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    return fixed if fixed != text else None


def mojibake_suspects(arr) -> np.ndarray:
    """Where a pyarrow string array's value matches :data:`MOJIBAKE` (null: False).

    Mojibake needs a character outside ASCII, so an array whose text bytes are all ASCII (most
    survey columns) is settled by one pass over its data buffer, and the regex runs only on the
    values that hold a non-ASCII character.

    Parameters
    ----------
    arr : pyarrow.Array
        A string array (:func:`arrow_strings`).

    Returns
    -------
    numpy.ndarray
        bool, one per value.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    data = arr.buffers()[2] if len(arr) else None
    if data is None or np.frombuffer(data, dtype=np.uint8).max(initial=0) < 0x80:
        return np.zeros(len(arr), dtype=bool)
    wide = ~pc.fill_null(pc.string_is_ascii(arr), True).to_numpy(zero_copy_only=False)
    suspect = np.zeros(len(arr), dtype=bool)
    if wide.any():
        hit = pc.match_substring_regex(pc.filter(arr, pa.array(wide)), MOJIBAKE.pattern)
        suspect[wide] = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    return suspect


def mojibake_repairs(values: pd.Series) -> pd.Series | None:
    """:func:`fix_mojibake` of the suspect values only (indexed like them), or None when the column has no suspect.

    A column whose text holds none of the characters every mojibake match holds is settled by one
    join (no arrow copy, no per-value work); otherwise a pyarrow regex pre-filter picks the suspects.

    Parameters
    ----------
    values : pandas.Series

    Returns
    -------
    pandas.Series or None
        For each suspect value (same index labels), the repaired text or None; None when there is no suspect.
    """
    if not _may_hold_mojibake(values):
        return None
    suspect = mojibake_suspects(arrow_strings(values))
    return map_unique(values[suspect], fix_mojibake) if suspect.any() else None


def control_repairs(values: pd.Series) -> pd.Series | None:
    """The values holding a :data:`CONTROL` character, without those characters (indexed like them), or None.

    Control characters other than whitespace (``\\x01``, ``\\x1b``, DEL) and zero-width
    characters (``\\u200b``, a byte order mark) come with text pasted into a web form; a reader never
    sees them. A column of strings is settled by one join of its text: printable text holds none, and
    otherwise one regex search decides. Only a column that holds one (or holds numbers or NaN, which
    the join refuses) is searched, once per distinct value.

    Parameters
    ----------
    values : pandas.Series
        Strings and missing values (object or string dtype); anything else is left alone.

    Returns
    -------
    pandas.Series or None
        For each value holding such a character, the value without them; None when no value holds one.
    """
    try:
        text = "".join(filter(None, values.to_numpy(dtype=object)))
    except TypeError:        # numbers or NaN among the values: only the strings can hold one
        text = None
    if text is not None and (text.isprintable() or CONTROL.search(text) is None):
        return None
    fixed = {v: drop_control(v) for v in pd.unique(values.dropna().astype(object)) if isinstance(v, str) and CONTROL.search(v)}
    if not fixed:
        return None
    hit = values.astype(object).isin(list(fixed))
    return values[hit].astype(object).map(fixed)


def drop_control(text: str) -> str:
    """``text`` without its :data:`CONTROL` characters.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
    """
    return CONTROL.sub("", text)


def _may_hold_mojibake(values: pd.Series) -> bool:
    """Whether a column may hold a :data:`MOJIBAKE` match: one join of its text, no arrow copy.

    Every match holds ``Â``, ``Ã`` or ``â``; a column of strings (and missing values) whose joined
    text holds none of them has none (an ASCII text is settled at once: CPython knows it is ASCII).
    Anything else (NaN, numbers, another dtype) answers True, and the caller checks the column in full.
    """
    if values.dtype != object:
        return True
    try:
        text = "".join(filter(None, values.to_numpy()))
    except TypeError:
        return True
    return not text.isascii() and any(ch in text for ch in "\u00c2\u00c3\u00e2")


#: check id -> the repair of a text that check proposes: a log may give such a repair of personal text as the
#: digest of its result, and applying the log computes it again from the cell (:func:`cmlkit.cleaning_log.apply_log`)
REPAIRS = {"mojibake": fix_mojibake, "control_characters": drop_control}


def _plain_numbers(arr) -> tuple[np.ndarray, np.ndarray]:
    """(where the text is a plain number, its value: float, NaN elsewhere) for a pyarrow string array."""
    plain = pc.fill_null(pc.match_substring_regex(arr, r"^-?[0-9]+(\.[0-9]+)?$"), False).to_numpy(zero_copy_only=False)
    value = np.full(len(arr), np.nan)
    if plain.any():
        value[plain] = pc.cast(pc.filter(arr, plain), "float64").to_numpy(zero_copy_only=False)
    return plain, value


def plain_numbers(values: pd.Series) -> np.ndarray:
    """The values that are plain numbers (``12``, ``-3.5``), as floats; NaN for anything else.

    The ``value`` of :func:`parse_number_text` where its ``kind`` is ``number``, without the text
    rules for the rest.

    Parameters
    ----------
    values : pandas.Series
        The answers as text (or missing).

    Returns
    -------
    numpy.ndarray
        float64, same length: the number where the whole text matches ``-?[0-9]+(\\.[0-9]+)?``, else NaN.
    """
    return next(plain_number_columns(values.to_frame(name="values"), ["values"]))[1]


BATCH_DISTINCT, BATCH_CELLS = 1 << 16, 1 << 21
"""Distinct values and cells the number readers take in one pass: several columns of a small export at once,
one column at a time of a large one (whose codes, one per cell, are then held for one column only)."""


def _batches(frame: pd.DataFrame, columns: list):
    """``[(column, codes, distinct values), ...]`` batches, in column order, each within :data:`BATCH_DISTINCT`
    values and :data:`BATCH_CELLS` cells (a column over either alone): one pass of the text rules per batch."""
    batch, size = [], 0
    for c in columns:
        codes, uniq = _distinct(frame[c])
        if batch and (size + len(uniq) > BATCH_DISTINCT or (len(batch) + 1) * len(frame) > BATCH_CELLS):
            yield batch
            batch, size = [], 0
        batch.append((c, codes, uniq))
        size += len(uniq)
    if batch:
        yield batch


def _spread(batch, arrays, missing):
    """Each column of a batch: ``arrays`` (one value per distinct value of the batch) taken to its rows."""
    start = 0
    for c, codes, uniq in batch:
        part = slice(start, start + len(uniq))
        start += len(uniq)
        yield c, tuple(np.append(a[part], m)[codes] for a, m in zip(arrays, missing))


def plain_number_columns(frame: pd.DataFrame, columns: list):
    """:func:`plain_numbers` of several columns, the distinct values of a batch of columns converted in one pass.

    Parameters
    ----------
    frame : pandas.DataFrame
        The answers as text (or missing).
    columns : list
        The columns of ``frame`` to convert.

    Yields
    ------
    tuple
        ``(column, values)`` in the order of ``columns``: a float64 array in row order, NaN where not a plain
        number. A batch's columns are read when its first column is asked for.
    """
    for batch in _batches(frame, columns):
        value = _plain_numbers(arrow_strings(pd.concat([u for _, _, u in batch], ignore_index=True)))[1]
        for c, (v,) in _spread(batch, [value], [np.nan]):
            yield c, v


def _distinct(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(code of each value, -1 where missing; the distinct values as an object Series): number columns repeat a lot."""
    codes, uniq = pd.factorize(values, use_na_sentinel=True)
    return codes, pd.Series(np.asarray(uniq, dtype=object), dtype=object)


def parse_number_text(values: pd.Series) -> pd.DataFrame:
    """Parse numbers written as text.

    Each distinct value is parsed once. Plain numbers (the vast majority) are recognised and converted
    with pyarrow kernels; only the rest goes through the text rules, which first drop control
    and zero-width characters (``2018\\x01`` reads as ``text_number`` 2018). Mojibake
    (``Â£240``) must be repaired before this is called.

    Parameters
    ----------
    values : pandas.Series
        The answers as text (or missing).

    Returns
    -------
    pandas.DataFrame
        Same index, columns ``value`` (float; NaN unless ``number``, ``text_number`` or ``decimal_comma``),
        ``lower`` and ``upper`` (float, ranges only) and ``kind``: ``blank`` (missing or empty),
        ``spaces`` (only spaces or invisible characters), ``number`` (already a plain
        number), ``text_number`` (``£1,200``, ``approx 20``, ``1.5k``), ``decimal_comma`` (``17,5``,
        ``£1.200,50``: a comma not followed by exactly three digits, or after dot-grouped thousands),
        ``na`` (``n/a``, ``don't know``), ``range`` (``£500-£1,000``, ``2k to 3k``) or ``bad``.
    """
    out = parse_number_kinds(values)
    out["kind"] = out["kind"].astype(object)
    return out


def parse_number_kinds(values: pd.Series) -> pd.DataFrame:
    """:func:`parse_number_text` with ``kind`` as a categorical (cheap to compare, built from the distinct values' kinds).

    Parameters
    ----------
    values : pandas.Series
        The answers as text (or missing).

    Returns
    -------
    pandas.DataFrame
        As :func:`parse_number_text`, ``kind`` of dtype category (categories :data:`NUMBER_KINDS`).
    """
    kind, value, lower, upper = next(parse_number_columns(values.to_frame(name="values"), ["values"]))[1]
    return pd.DataFrame({"value": value, "lower": lower, "upper": upper,
                         "kind": pd.Categorical.from_codes(kind, categories=NUMBER_KINDS)}, index=values.index)


def parse_number_columns(frame: pd.DataFrame, columns: list):
    """:func:`parse_number_kinds` of several columns, the distinct values of a batch of columns parsed in one pass.

    Parameters
    ----------
    frame : pandas.DataFrame
        The answers as text (or missing).
    columns : list
        The columns of ``frame`` to parse.

    Yields
    ------
    tuple
        ``(column, (kind, value, lower, upper))`` in the order of ``columns``, NumPy arrays in row order:
        ``kind`` the codes of :data:`NUMBER_KINDS` (int8), the others float as in :func:`parse_number_text`.
        A batch's columns are read when its first column is asked for (a caller may change the columns
        it has been given).
    """
    blank = np.int8(NUMBER_KINDS.index("blank"))
    for batch in _batches(frame, columns):
        parsed = _parse_distinct(pd.concat([u for _, _, u in batch], ignore_index=True))
        kind = pd.Categorical(parsed["kind"].to_numpy(dtype=object), categories=NUMBER_KINDS).codes
        yield from _spread(batch, [kind, *(parsed[c].to_numpy() for c in ("value", "lower", "upper"))], [blank, np.nan, np.nan, np.nan])


def _parse_distinct(values: pd.Series) -> pd.DataFrame:
    """:func:`parse_number_text` on every value (no repeats expected)."""
    n = len(values)
    arr = arrow_strings(values)
    null = pc.is_null(arr).to_numpy(zero_copy_only=False)
    plain, value = _plain_numbers(arr)
    kind = np.where(null, "blank", np.where(plain, "number", "bad")).astype(object)
    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    rest = ~null & ~plain
    if rest.any():
        idx = np.flatnonzero(rest)
        typed = pd.Series(values.to_numpy(dtype=object)[idx], index=idx).astype(str)
        s = typed.str.replace(CONTROL, "", regex=True).str.strip()
        blank = (s == "").to_numpy()
        kind[idx[blank]] = "blank"
        spaces = blank & (typed != "").to_numpy()
        kind[idx[spaces]] = "spaces"      # a cell of only spaces or invisible characters: blanked, and the blanking logged
        na = ~blank & s.str.fullmatch(_NA_TEXT).fillna(False).to_numpy(bool)
        kind[idx[na]] = "na"
        rng = s.str.extract(_RANGE)
        is_rng = rng[0].notna().to_numpy() & ~blank & ~na
        if is_rng.any():
            k1 = np.where((rng[1].str.lower() == "k").fillna(False).to_numpy(bool), 1000, 1)
            k2 = np.where((rng[3].str.lower() == "k").fillna(False).to_numpy(bool), 1000, 1)
            lo = pd.to_numeric(rng[0].str.replace(",", ""), errors="coerce").to_numpy() * k1
            hi = pd.to_numeric(rng[2].str.replace(",", ""), errors="coerce").to_numpy() * k2
            lower[idx[is_rng]], upper[idx[is_rng]] = lo[is_rng], hi[is_rng]
            kind[idx[is_rng]] = "range"
        txt = ~blank & ~na & ~is_rng
        stripped = s[txt].str.replace(_NOISE, "", regex=True).str.strip()
        comma = stripped.str.fullmatch(_DECIMAL_COMMA).fillna(False).to_numpy(bool)
        cleaned = stripped.str.replace(",", "", regex=False).str.strip()
        if comma.any():
            cleaned[comma] = stripped[comma].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        kk = cleaned.str.fullmatch(r"-?\d+(?:\.\d+)?\s*[kK]").fillna(False).to_numpy(bool)
        num = pd.to_numeric(cleaned.str.replace(r"\s*[kK]$", "", regex=True), errors="coerce").to_numpy() * np.where(kk, 1000, 1)
        ok = ~np.isnan(num)
        tidx = idx[txt][ok]
        value[tidx] = num[ok]
        kind[tidx] = "text_number"
        kind[idx[txt][ok & comma]] = "decimal_comma"
    return pd.DataFrame({"value": value, "lower": lower, "upper": upper, "kind": kind}, index=values.index)


def fmt_number(v: float) -> str:
    """A number as the log writes it (``12``, ``12.5``).

    Parameters
    ----------
    v : float

    Returns
    -------
    str
        The integer without a decimal point when ``v`` is whole, else ``repr`` of the float.
    """
    return str(int(v)) if float(v).is_integer() else repr(float(v))
