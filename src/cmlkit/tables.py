"""Writing and reading tidy outputs: deterministic CSV, parquet and XLSX, safe for spreadsheets.

Same data in, same bytes out: CSVs use a fixed float format and line ending, parquet files are
written without pandas' index, and workbooks get fixed document times. Text cells that a
spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``, tab or carriage return)
are prefixed with ``'`` in CSV and XLSX (OWASP CSV-injection guidance); numbers are untouched.

Every workbook is written for a person to read (:func:`format_sheet`): bold, wrapped, frozen header
row, an autofilter, column widths from the content, and number formats by column — shares as %,
money as £, counts as integers (:data:`COLUMN_FORMATS`); where a ``unit`` column says what each row's
number is (the findings table), the estimate and interval cells follow the row's unit
(:data:`UNIT_NUMBER_FORMATS`).
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_hits(s: pd.Series, test):
    """``test(s.str)`` as a bool array (False where a cell is not text) for an object or string column; None otherwise."""
    if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
        return None
    try:    # pandas' loop; NaN for cells that are not text
        return test(s.str).astype("boolean").fillna(False).to_numpy(dtype=bool)
    except AttributeError:    # an object column holding no text at all
        return None


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose text cells cannot be run as spreadsheet formulas.

    Parameters
    ----------
    df : pandas.DataFrame
        Any table.

    Returns
    -------
    pandas.DataFrame
        A copy in which every string cell of an object or string column that starts with ``=``, ``+``,
        ``-``, ``@``, a tab or a carriage return, and does not read as a number (``-3``, ``+1.5``
        stay), is prefixed with ``'``; such a column becomes object dtype. Other cells are unchanged.

    Notes
    -----
    OWASP's CSV-injection guidance: a leading apostrophe makes a spreadsheet show the cell as text.

    References
    ----------
    OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        starts = _text_hits(s, lambda t: t.startswith(_FORMULA_START))   # first, whether any text cell starts like a formula
        if starts is not None and starts.any():
            text = s.map(lambda v: isinstance(v, str))
            risky = text & s.astype("string").str.startswith(_FORMULA_START).fillna(False)
            numeric = pd.to_numeric(s.where(risky), errors="coerce").notna()
            flag = risky & ~numeric
            if flag.any():
                out[col] = s.astype(object).where(~flag, "'" + s.astype("string"))
    return out


#: what a worksheet cannot hold as text (control characters other than tab, line feed and carriage
#: return), and the underscore of a literal ``_xHHHH_``, which would otherwise read as an escape
_XLSX_ESCAPE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]|_(?=x[0-9A-Fa-f]{4}_)")
_XLSX_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def escape_xlsx_text(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells a workbook can hold: control characters written as OOXML's ``_xHHHH_`` escapes.

    Parameters
    ----------
    df : pandas.DataFrame
        Any table.

    Returns
    -------
    pandas.DataFrame
        ``df`` itself when no text cell needs it; otherwise a copy in which each control character
        other than tab, line feed and carriage return (which a worksheet cannot hold: openpyxl refuses
        the cell) is written ``_x0001_`` and so on, and the underscore of a literal ``_xHHHH_`` is
        written ``_x005F_``, as Excel itself saves such text (ECMA-376 Part 1, 22.9.2.19
        ``ST_Xstring``). A spreadsheet shows the original characters; :func:`unescape_xlsx_text` gives
        the original text back to a program that read the cells as stored.
    """
    out = df
    for col in df.columns:
        s = df[col]
        hit = _text_hits(s, lambda t: t.contains(_XLSX_ESCAPE))
        if hit is not None and hit.any():
            out = df.copy() if out is df else out
            out[col] = s.astype(object).where(~hit, s[hit].str.replace(_XLSX_ESCAPE, lambda m: f"_x{ord(m.group(0)):04X}_",
                                                                      regex=True))
    return out


def unescape_xlsx_text(values: pd.Series) -> pd.Series:
    """The text :func:`escape_xlsx_text` escaped, from cells read as stored (``_x0001_`` -> the character).

    Parameters
    ----------
    values : pandas.Series
        Text cells (pandas and openpyxl read ``_xHHHH_`` literally).

    Returns
    -------
    pandas.Series
    """
    if not values.str.contains("_x", regex=False).fillna(False).any():
        return values
    return values.str.replace(_XLSX_ESCAPED, lambda m: chr(int(m.group(1), 16)), regex=True)


def write_csv(df: pd.DataFrame, path, *, index: bool = False) -> Path:
    """Write a deterministic, formula-safe UTF-8 CSV.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; text cells pass through :func:`neutralise_formulas`.
    path : str or path-like
        The file to write; missing parent folders are created.
    index : bool, default False
        Whether to write the DataFrame's index as the first column.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    Lines end with LF (``lineterminator='\\n'``) and floats are written with ``%.10g``, so the same
    data give the same bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_formulas(df).to_csv(path, index=index, lineterminator="\n", float_format="%.10g", encoding="utf-8")
    return path


def write_parquet(df: pd.DataFrame, path) -> Path:
    """Write a parquet file (pyarrow, no index) with byte-identical output for identical data.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; its index is dropped.
    path : str or path-like
        The file to write (zstd compression); missing parent folders are created.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    The file is opened with Python's ``open`` so that a pipeline run's write log
    (:mod:`cmlkit.runlog`) records it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:   # through Python's open, so a pipeline run's write log sees it (cmlkit.runlog)
        df.reset_index(drop=True).to_parquet(fh, index=False, engine="pyarrow", compression="zstd")
    return path


def write_table(df: pd.DataFrame, path) -> Path:
    """Write ``df`` by the suffix of ``path`` (``.csv`` or ``.parquet``).

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    path : str or path-like
        The file to write; its suffix (any case) picks :func:`write_csv` or :func:`write_parquet`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If the suffix is neither ``.csv`` nor ``.parquet``.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return write_csv(df, path)
    if suffix == ".parquet":
        return write_parquet(df, path)
    raise ValueError(f"unsupported table format {suffix!r}")


def read_table(path) -> pd.DataFrame:
    """Read a table written by :func:`write_table`.

    Parameters
    ----------
    path : str or path-like
        A ``.parquet`` file (any case of the suffix); any other suffix is read as CSV.

    Returns
    -------
    pandas.DataFrame
    """
    path = Path(path)
    return pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)


PCT, MONEY, INT, DEC2, DEC1 = "0%", '"£"#,##0', "#,##0", "0.00", "0.0"
COLUMN_FORMATS = [
    (re.compile(r"(^|_|\()(share|rate|proportion|pct|percent)($|_|\))|\(share|^estimate$|^ci_(low|high)$|^gap_(estimate|ci_low|ci_high)$|"
                r"^(received|needed|jaccard|mean_jaccard)$"), PCT),
    (re.compile(r"(^|_)(inc|exp)_|amount|income|expenditure|reserves|£"), MONEY),
    (re.compile(r"(^|_)(n|base_n|count|libraries|responses|eligible|allocated|rank|n_\w+|\w+_n)$|^(N|n)$"), INT),
]
"""Column-name pattern -> Excel number format, first match wins (only numeric columns are formatted;
a share format is used only when every value lies in [0, 1])."""

UNIT_NUMBER_FORMATS = {"share": PCT, "index": DEC2, "score": DEC2, "months": DEC1, "number": "#,##0.00"}
"""Findings-row unit (:mod:`cmlkit.share_intervals`) -> number format of its estimate and interval cells."""
UNIT_COLUMNS = ("estimate", "ci_low", "ci_high")


def column_format(name: str, values: pd.Series) -> str | None:
    """The Excel number format of a column: by name (:data:`COLUMN_FORMATS`), else integers or two decimals.

    Parameters
    ----------
    name : str
        The column name, matched against the patterns of :data:`COLUMN_FORMATS` (first match wins).
    values : pandas.Series
        The column's values.

    Returns
    -------
    str or None
        None for a non-numeric or boolean column. Otherwise the format of the first matching pattern,
        except that the share format ``0%`` is skipped when a value lies outside [0, 1]; with no match,
        ``#,##0`` when every non-missing value is a whole number (and there is at least one), else
        ``0.00``.
    """
    if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
        return None
    v = pd.to_numeric(values, errors="coerce").dropna()
    for pattern, fmt in COLUMN_FORMATS:
        if pattern.search(str(name)):
            if fmt == PCT and len(v) and ((v < 0) | (v > 1)).any():
                continue
            return fmt
    return INT if len(v) and np.all(np.mod(v, 1) == 0) else DEC2


def format_sheet(ws, df: pd.DataFrame, *, max_width: int = 60, unit_col: str = "unit", unit_columns=UNIT_COLUMNS) -> None:
    """Make one written sheet readable: header style, frozen header, autofilter, widths, number formats.

    Parameters
    ----------
    ws : openpyxl.worksheet.worksheet.Worksheet
        The sheet ``df`` was written to (header in row 1, no index column); changed in place.
    df : pandas.DataFrame
        The table written to ``ws``.
    max_width : int, default 60
        Widest column width, in characters.
    unit_col : str, default "unit"
        Column saying each row's unit; where ``df`` has it, the cells of ``unit_columns`` take the
        number format of their row's unit (:data:`UNIT_NUMBER_FORMATS`; an unknown unit falls back
        to the column's format).
    unit_columns : sequence of str, default ("estimate", "ci_low", "ci_high")
        Columns formatted by the row's unit.

    Notes
    -----
    Header cells are bold, wrapped, top-aligned on a light blue fill; panes freeze below the header;
    the autofilter covers the used range. Other cells take :func:`column_format`. A column's width is
    the larger of 0.9 x its header length, its longest text (capped at ``max_width``) + 2, and 8,
    capped at ``max_width``.
    """
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter   # imported here, not at the top: only the steps that read or write a workbook load openpyxl
    header_font, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    for cell in ws[1]:
        cell.font, cell.fill = header_font, fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    if ws.max_row >= 1 and ws.max_column >= 1:
        ws.auto_filter.ref = ws.dimensions
    formats = {i: column_format(c, df[c]) for i, c in enumerate(df.columns, start=1)}
    units = df[unit_col].astype(str).map(UNIT_NUMBER_FORMATS).to_numpy() if unit_col in df else None
    for i, col in enumerate(df.columns, start=1):
        fmt = formats[i]
        per_row = units is not None and col in unit_columns
        if fmt or per_row:
            for r, cell in enumerate(ws.iter_rows(min_row=2, max_row=len(df) + 1, min_col=i, max_col=i, values_only=False)):
                f = units[r] if per_row and isinstance(units[r], str) else fmt
                if f:
                    cell[0].number_format = f
        text = df[col].astype("string").fillna("")
        longest = int(text.str.len().max()) if len(text) else 0
        width = max(len(str(col)) * 0.9, min(longest, max_width) + 2, 8)
        ws.column_dimensions[get_column_letter(i)].width = round(min(width, max_width), 1)


def write_xlsx(sheets: dict, path, *, finish=None, **format_options) -> Path:
    """Write several DataFrames as sheets of one formula-safe, readable workbook with fixed document times.

    Parameters
    ----------
    sheets : dict
        Sheet name -> DataFrame, in sheet order; names are cut to Excel's 31 characters. Cells pass
        through :func:`neutralise_formulas` and :func:`escape_xlsx_text`; no index is written.
    path : str or path-like
        The ``.xlsx`` file to write; missing parent folders are created.
    finish : callable, optional
        ``finish(worksheet)`` for every sheet after :func:`format_sheet`, before the one save (a caller's
        own formatting, without reading the file back).
    **format_options
        Passed to :func:`format_sheet` for every sheet (``max_width``, ``unit_col``, ``unit_columns``).

    Returns
    -------
    pathlib.Path
        ``path``, after :func:`freeze_xlsx`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in sheets.items():
            safe = escape_xlsx_text(neutralise_formulas(df))
            safe.to_excel(xw, sheet_name=name[:31], index=False)
            format_sheet(xw.sheets[name[:31]], safe, **format_options)
            if finish is not None:
                finish(xw.sheets[name[:31]])
    return freeze_xlsx(path)


FINDINGS_XLSX_COLUMNS = {
    "label": "Indicator", "breakdown": "Breakdown", "domain": "Group", "estimate": "Estimate", "ci_low": "95% interval, low",
    "ci_high": "95% interval, high", "base_n": "Responses (n)", "suppressed": "Suppressed", "suppression": "Suppression",
    "unit": "Unit", "method": "Method", "section": "Section", "indicator": "Indicator id", "finding_id": "Finding id", "wave": "Wave",
}
"""Findings-table column -> workbook header, in workbook order: labels first, ids last."""


def write_findings_xlsx(table: pd.DataFrame, path, *, notes: list | None = None) -> Path:
    """The findings workbook for toolkit authors: a notes sheet, then one sheet per section.

    Parameters
    ----------
    table : pandas.DataFrame
        The findings table (``section`` and any of the columns of :data:`FINDINGS_XLSX_COLUMNS`).
    path : str or path-like
        The ``.xlsx`` file to write.
    notes : list of str, optional
        Lines of the "Read me" sheet (default: four lines explaining estimates, logit intervals of
        shares, suppression and the ``all``/``type``/``region`` breakdowns).

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    Each section (in table order) gets a sheet named by its title case, with the columns of
    :data:`FINDINGS_XLSX_COLUMNS` that ``table`` has, in that order and renamed to its headers:
    readable labels first and ids last. Estimates and intervals are formatted by each row's unit
    (shares as %, indexes and scores to two decimals, months to one).
    """
    cols = [c for c in FINDINGS_XLSX_COLUMNS if c in table]
    sheets = {"Read me": pd.DataFrame({"Notes": notes or [
        "One row per published number: the estimate, its 95% interval and the responses behind it.",
        "Shares are shown as %; their intervals are logit intervals, always inside 0% to 100%.",
        "Suppressed rows have fewer responses than the disclosure threshold (or hide such a cell); no estimate is given.",
        "Breakdown 'all' is every community library; 'type' is the governance type; 'region' the English region."]})}
    for section, part in table.groupby("section", sort=False):
        sheets[str(section).title()] = part[cols].rename(columns=FINDINGS_XLSX_COLUMNS)
    return write_xlsx(sheets, path, unit_col="Unit", unit_columns=[FINDINGS_XLSX_COLUMNS[c] for c in UNIT_COLUMNS])


def freeze_xlsx(path) -> Path:
    """Rewrite a workbook with fixed document and zip-entry times, so the same content gives the same bytes.

    Parameters
    ----------
    path : str or path-like
        An ``.xlsx`` file, rewritten in place.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    The ``created`` and ``modified`` times in ``docProps/core.xml`` become ``2000-01-01T00:00:00Z``;
    every zip entry is stored deflated with the time 2000-01-01 00:00:00, in the original order.
    """
    path = Path(path)
    with zipfile.ZipFile(path) as zin:
        entries = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    fixed = "2000-01-01T00:00:00Z"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)", rb"\g<1>" + fixed.encode() + rb"\g<3>", data)
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
    return path


def write_text(text: str, path) -> Path:
    """Write UTF-8 text with exactly one final newline (Markdown summaries, indexes).

    Parameters
    ----------
    text : str
        The text; trailing newlines are replaced by one.
    path : str or path-like
        The file to write; missing parent folders are created.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    return path


def write_json(obj, path) -> Path:
    """Write a JSON document with sorted keys and a fixed layout (byte-stable).

    Parameters
    ----------
    obj : object
        JSON-serialisable data; other values (paths, dates, numpy integers) are written as ``str(value)``.
    path : str or path-like
        The file to write (UTF-8, indent 2, final newline); missing parent folders are created.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path


def read_json(path):
    """Read a JSON document written by :func:`write_json` (or any UTF-8 JSON file).

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    object
        The parsed document.
    """
    return json.loads(Path(path).read_text(encoding="utf-8"))
