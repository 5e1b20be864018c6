"""Open an export (CSV/TSV text, XLSX workbook or SPSS .sav) and read its cells as text.

:func:`open_export` checks the path (:mod:`cmlkit.file_access`), settles the container, encoding
and delimiter and reads the first records (for layout detection and headers); :meth:`Source.body`
reads the data rows as strings, with the spreadsheet row number of each (header = row 1).

CSV bodies are read by pyarrow's multi-threaded reader with nothing of Python in its threads: no
Python ``invalid_row_handler`` and no Python file object (an ``pa.OSFile`` instead). Either makes
arrow's worker or read-ahead threads call into Python; one still running when an error ends the
process calls into a finalising interpreter, which aborts it (``terminate called without an active
exception``, exit 134). A row of the wrong width makes the
fast read fail; the slow path then finds the row (Python ``csv``): rows that are only blanks or
delimiters are skipped (and reported), any other is a one-line error naming its row.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from cmlkit.datetimes import DATE_LIKE
from cmlkit.errors import IngestError
from cmlkit.file_access import HEAD_BYTES, check_readable, read_head, settle_encoding


UNSUPPORTED = {  # containers the readers do not take, and what to do instead
    ".xls": "an old Excel .xls workbook; open it and save it as .xlsx (or export CSV from the platform)",
    ".xlsb": "an Excel binary workbook (.xlsb); save it as .xlsx",
    ".ods": "an OpenDocument spreadsheet; save it as .xlsx or CSV",
    ".zsav": "a compressed SPSS file (.zsav); save it as .sav",
    ".por": "an SPSS portable file (.por); save it as .sav",
    ".json": "a JSON export; export CSV, XLSX or SPSS .sav from the platform",
}


def sniff_delimiter(first_line: str) -> str:
    """Return the delimiter (``,``, ``;`` or tab) used most outside quotes in the header line.

    Parameters
    ----------
    first_line : str
        The export's first line.

    Returns
    -------
    str
        ``,``, ``;`` or ``\t``; ``,`` on a tie (or when none occurs).
    """
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def _blank(rec) -> bool:
    return not any(c.strip() for c in rec)


class Source:
    """An opened export: its first records (for detection and headers) and a way to read the body.

    Attributes
    ----------
    head : list of list
        The first non-blank records (up to four).
    head_rows : list of int
        The spreadsheet row of each record in ``head``.
    container : str
        ``xlsx``, ``sav`` or ``csv (<encoding>, delimiter <d>)``.
    notes : list of dict
        What was decided while reading (for the ingest log).
    skipped : list of (int, str)
        Spreadsheet rows of the wrong width skipped while reading: ``(row, "blank")`` for a row of only
        blanks or delimiters, ``(row, text)`` for a footer after the last response.
    filled : numpy.ndarray or None
        After :meth:`body` of a CSV: the number of non-missing cells in each body row (counted on the
        arrow columns while reading); None otherwise.
    value_labels : dict
        Of an SPSS file: variable name -> {number: label} for the numeric variables with value labels
        (the body holds the labels); empty otherwise.
    """

    def __init__(self, path, head, container, *, head_rows=None, cells=None, cells_from=0, offsets=None, encoding=None,
                 delimiter=None, notes=(), value_labels=None):
        self.path, self.head, self.container = path, head, container
        self.head_rows = head_rows or list(range(1, len(head) + 1))
        self._cells, self._cells_from, self._offsets, self.encoding, self.delimiter = cells, cells_from, offsets, encoding, delimiter
        self.notes, self.skipped, self.filled = list(notes), [], None
        self.value_labels = dict(value_labels or {})

    def body(self, n_header: int, width: int) -> tuple[pd.DataFrame, np.ndarray]:
        """Data rows after ``n_header`` header records as strings (None when blank), columns 0..width-1, and their rows."""
        first = self.head_rows[n_header - 1] + 1
        if self._cells is not None:
            frame = self._cells.iloc[max(n_header - self._cells_from, 0):]
            if n_header < self._cells_from:     # header records the cells do not hold (a workbook's or SPSS file's)
                frame = pd.concat([pd.DataFrame(self.head[n_header:self._cells_from], dtype=object), frame])
            frame = frame.iloc[:, :width].reset_index(drop=True).reindex(columns=range(width))
            frame = frame.astype(object).where(frame.notna(), None)
            return frame, np.arange(first, first + len(frame))
        frame, skipped, self.filled = _read_csv_body(self.path, self._offsets[n_header - 1], self.encoding, self.delimiter, width, first)
        self.skipped = skipped
        rows = np.arange(first, first + len(frame) + len(skipped))
        rows = np.setdiff1d(rows, np.asarray([r for r, _ in skipped], dtype=rows.dtype)) if skipped else rows
        _check_ending(self.path, self.delimiter, int(rows[-1]) if len(rows) else first)
        return frame, rows


def open_export(path) -> Source:
    """Open an export for reading: check the path, sniff container, encoding, delimiter; read the first records.

    The container is settled by the extension: ``.sav`` (SPSS), ``.xlsx``/``.xlsm`` (workbook, read
    whole), anything else as CSV text (encoding by :func:`cmlkit.file_access.settle_encoding`,
    delimiter by :func:`sniff_delimiter`, the first four non-blank records read).

    Parameters
    ----------
    path : path-like
        The export.

    Returns
    -------
    Source
        The first records, their rows, the container and a reader for the body.

    Raises
    ------
    IngestError
        A path that is not a readable regular file; a container the readers do not take
        (:data:`UNSUPPORTED`, or a workbook named ``.csv``); an empty, binary, UTF-16 or mixed-encoding
        file; a malformed CSV header; an unreadable workbook or SPSS file.
    """
    path = check_readable(path)
    suffix = path.suffix.lower()
    if suffix in UNSUPPORTED:
        raise IngestError(UNSUPPORTED[suffix], file=path)
    if suffix == ".sav":
        cells = read_sav_cells(path)
        declared, value_labels = cells.attrs.pop("user_missing", {}), cells.attrs.pop("value_labels", {})
        notes = [{"action": "user_missing", "reason": f"{name}: values declared missing in the SPSS file ({', '.join(ranges)}) "
                                                     "read as the answers they are (a label, else the code)"}
                 for name, ranges in declared.items()]
        return Source(path, [list(cells.columns)] + cells.iloc[:3].to_numpy(dtype=object).tolist(), "sav",
                      cells=cells.set_axis(range(cells.shape[1]), axis=1), cells_from=1, notes=notes, value_labels=value_labels)
    if suffix in (".xlsx", ".xlsm"):
        cells = read_xlsx_cells(path)
        note = cells.attrs.pop("note", None)
        return Source(path, cells.iloc[:4].to_numpy(dtype=object).tolist(), "xlsx", cells=cells,
                      notes=[{"action": "hidden_sheet", "reason": note}] if note else [])
    head = read_head(path)
    complete = len(head) < HEAD_BYTES
    if head[:4] == b"PK\x03\x04":
        raise IngestError("file is a zip/Excel workbook with a .csv name; save it as .xlsx", file=path)
    enc, skip, notes = settle_encoding(head, path=path, complete=complete)
    text = head[skip:].decode(enc, errors="replace")
    hint = re.match(r"sep=(.)(?:\r\n|\n|\r)", text)     # Excel's delimiter line, which Excel itself does not show
    if hint:
        skip += len(hint.group(0).encode(enc))
        text = text[hint.end():]
        notes = [*notes, {"action": "sep_line", "reason": f"first line 'sep={hint.group(1)}' (Excel's delimiter hint) read as "
                                                          "the delimiter, not as a row; rows are numbered as Excel shows the file"}]
    first_line = text.replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0]
    delim = hint.group(1) if hint else sniff_delimiter(first_line)
    records, rows, ends = [], [], []
    consumed = [0]

    def lines():
        for line in io.StringIO(text, newline=""):
            consumed[0] += len(line)
            yield line

    reader = csv.reader(lines(), delimiter=delim)
    n_records = 0
    try:
        for rec in reader:
            n_records += 1  # blank records are rows of the sheet too
            if _blank(rec):
                continue
            records.append(rec)
            rows.append(n_records)
            ends.append(consumed[0])
            if len(records) == 4:
                break
    except csv.Error as exc:
        raise IngestError(f"malformed CSV header: {exc}", file=path, row=n_records + 1) from None
    offsets = [skip + (e if enc == "cp1252" else len(text[:e].encode("utf-8"))) for e in ends]
    return Source(path, records, f"csv ({enc}, delimiter {delim!r})", head_rows=rows, offsets=offsets, encoding=enc,
                  delimiter=delim, notes=notes)


def _check_ending(path, delim: str, last_row: int) -> None:
    """A file cut short: it ends without a line break right after a delimiter, or inside a quoted value."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(size - 1, 0))
        end = fh.read(1)
        if end in (b"\n", b"\r"):
            return
        if end == delim.encode():
            raise IngestError("file ends right after a delimiter, with no line break: the row is cut short (truncated?)",
                              file=path, row=last_row)
        fh.seek(0)
        quotes = sum(chunk.count(b'"') for chunk in iter(lambda: fh.read(1 << 24), b""))
    if quotes % 2:
        raise IngestError("file ends inside a quoted value (truncated?)", file=path, row=last_row)


def read_xlsx_cells(path: Path) -> pd.DataFrame:
    """The first visible sheet of a workbook as text, header rows included; blank rows kept.

    Parameters
    ----------
    path : pathlib.Path
        The workbook (``.xlsx`` or ``.xlsm``).

    Returns
    -------
    pandas.DataFrame
        One row per sheet row, columns 0..n-1 (object): each cell as :func:`cell_text` writes it
        (datetimes ``YYYY-MM-DD hh:mm:ss``; an error cell as its text, ``#N/A``, so the cleaning sees
        and logs it), None when empty. Read as pandas' openpyxl reader reads it (whole numbers as
        ``int``, trailing empty cells and rows dropped). ``attrs["note"]`` says so when the first
        sheet is hidden and a later one was read.

    Notes
    -----
    ``pandas.read_excel`` reads the first sheet even when it is hidden, and error cells as missing.

    Raises
    ------
    IngestError
        The workbook cannot be read, or its first sheet is empty.
    """
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True, keep_links=False)
        try:
            sheet = next((ws for ws in book.worksheets if ws.sheet_state == "visible"), book.worksheets[0])
            first = book.worksheets[0].title
            sheet.reset_dimensions()
            data = [[_xlsx_value(cell) for cell in row] for row in sheet.rows]
        finally:
            book.close()
    except Exception as exc:  # openpyxl raises many unrelated types for a broken workbook
        raise IngestError(f"not a readable Excel workbook ({type(exc).__name__})", file=path) from None
    for row in data:        # as pandas' openpyxl reader: trailing empty cells, then trailing empty rows, dropped
        while row and row[-1] == "":
            row.pop()
    while data and not data[-1]:
        data.pop()
    if not data:
        raise IngestError("workbook's first sheet is empty", file=path)
    width = max(map(len, data))
    frame = pd.DataFrame([row + [""] * (width - len(row)) for row in data], dtype=object)
    out = pd.DataFrame({j: cell_text(frame[c]) for j, c in enumerate(frame.columns)}, index=range(len(frame)))
    if sheet.title != first:
        out.attrs["note"] = f"the workbook's first sheet {first!r} is hidden: read {sheet.title!r}, the first visible sheet"
    return out


def _xlsx_value(cell):
    """A cell's value as pandas' openpyxl reader converts it, but an error cell keeps its text (``#N/A``)."""
    if cell.value is None:
        return ""
    if cell.data_type == "n":
        whole = int(cell.value)
        return whole if whole == cell.value else float(cell.value)
    return cell.value


def read_sav_cells(path: Path) -> pd.DataFrame:
    """Read an SPSS .sav (value labels applied) as text.

    Parameters
    ----------
    path : pathlib.Path
        The ``.sav`` file.

    Returns
    -------
    pandas.DataFrame
        The variables as columns (by name), one row per case (object): the value label where a value
        has one, else the value (:func:`number_text` for a number in an unlabelled variable,
        :func:`cell_text` otherwise, datetimes as ``YYYY-MM-DD hh:mm:ss``), None for missing or empty values.
        Values declared *user-missing* in the file (an analyst's "Don't know" = 9) are read as values, so
        the cleaning sees and logs them; ``attrs["user_missing"]`` names the variables with such declarations,
        ``attrs["value_labels"]`` holds the value labels of the numeric variables ({number: label}), so a
        number question can be read as the number behind a label (``0 = "None"``).

    Raises
    ------
    IngestError
        The file cannot be read as SPSS, or it holds no cases.

    Notes
    -----
    The labels are applied as ``pyreadstat.read_sav(apply_value_formats=True)`` applies them (a value
    without a label stays the value, so a number reads as ``str`` of the float, ``3.0``), column by column
    with a dictionary lookup instead of its per-value replacement.
    """
    import pyreadstat

    try:
        frame, meta = pyreadstat.read_sav(str(path), user_missing=True)   # an analyst's "Don't know" = missing is still an answer
    except Exception as exc:  # pyreadstat raises its own error types for unreadable files
        raise IngestError(f"not a readable SPSS file ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})", file=path) from None
    if frame.empty:
        raise IngestError("export has a header but no responses", file=path, row=2)
    labels = meta.variable_value_labels
    cols = {}
    for name in frame.columns:
        col = frame[name]
        if labels.get(name):
            labelled = col.map(labels[name])
            cols[name] = cell_text(labelled.where(labelled.notna(), col.astype(object)))
        elif pd.api.types.is_numeric_dtype(col):
            cols[name] = number_text(col)
        else:
            cols[name] = cell_text(col.astype(object))
    out = pd.DataFrame(cols, index=range(len(frame)))
    def shown(v):
        return f"{v:g}" if isinstance(v, (int, float)) else str(v)

    out.attrs["user_missing"] = {name: [shown(r["lo"]) if r["lo"] == r["hi"] else f"{shown(r['lo'])} to {shown(r['hi'])}" for r in ranges]
                                 for name, ranges in (meta.missing_ranges or {}).items() if ranges}
    out.attrs["value_labels"] = {name: dict(vl) for name, vl in labels.items()
                                 if vl and pd.api.types.is_numeric_dtype(frame[name])}
    return out


def cell_text(values: pd.Series) -> pd.Series:
    """Cells as text: None where missing (None, NaN, NaT) or empty, else ``str`` of the value.

    ``str`` of a datetime is its ``isoformat(sep=" ")``. The conversion is pandas' own loop
    (``astype(str)``), not a Python function per cell.

    Parameters
    ----------
    values : pandas.Series
        Cells of any type (object dtype).

    Returns
    -------
    pandas.Series
        object dtype, same index.
    """
    text = values.astype(str)
    return text.where(values.notna().to_numpy() & (text != "").to_numpy(), None)


def number_text(values: pd.Series) -> pd.Series:
    """Numbers as text: whole numbers without ``.0`` (``str(int(v))``), others as ``repr(float(v))``, None when missing.

    Parameters
    ----------
    values : pandas.Series
        A numeric column.

    Returns
    -------
    pandas.Series
        object dtype, same index.
    """
    v = values.to_numpy(dtype=float)
    text = np.full(len(v), None, dtype=object)
    small = np.isfinite(v) & (np.floor(v) == v) & (np.abs(v) < 2.0 ** 62)
    text[small] = v[small].astype(np.int64).astype(str).astype(object)
    rest = ~np.isnan(v) & ~small         # fractions, infinities and whole numbers too large for int64: each distinct value once
    if rest.any():
        distinct, at = np.unique(v[rest], return_inverse=True)
        text[rest] = np.array([str(int(x)) if x.is_integer() else repr(x) for x in distinct.tolist()], dtype=object)[at]
    return pd.Series(text, index=values.index, dtype=object)


def _reader_pool():
    """The arrow memory pool of the CSV reader: jemalloc where pyarrow has it, else the default pool.

    The reader's worker threads allocate the whole file's columns; jemalloc, told to purge freed
    pages at once (decay 0; only this reader allocates from it), hands each column back to the
    system as soon as it is converted, where mimalloc keeps the pages in the threads' own heaps
    for the rest of the run.
    """
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
        return pool
    except NotImplementedError:  # a pyarrow built without jemalloc
        return pa.default_memory_pool()


def _arrow_read(path, offset, enc, delim, names, *, skip_rows: set | None = None):
    convert = pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False, quoted_strings_can_be_null=False)
    read = pcsv.ReadOptions(column_names=names, encoding="cp1252" if enc == "cp1252" else "utf8", block_size=1 << 24,
                            use_threads=skip_rows is None)
    handler = None
    if skip_rows is not None:  # single-threaded: the Python handler runs on this thread only
        def handler(row):
            return "skip"
    parse = pcsv.ParseOptions(delimiter=delim, newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=handler)
    # a native arrow file, not a Python file object: arrow's read-ahead threads then never call into Python
    with pa.OSFile(str(path), "r") as fh:
        fh.seek(offset)
        return pcsv.read_csv(fh, read_options=read, parse_options=parse, convert_options=convert, memory_pool=_reader_pool())


def _read_csv_body(path, offset, enc, delim, width, first_row) -> tuple[pd.DataFrame, list, np.ndarray]:
    """Read the data rows with pyarrow's multi-threaded CSV reader, every column as text.

    Returns (frame, skipped rows, number of non-missing cells in each row).
    """
    names = [f"c{i}" for i in range(width)]
    skipped: list = []
    try:
        table = _arrow_read(path, offset, enc, delim, names)
    except pa.ArrowInvalid as exc:
        wrong, last_ok = _wrong_width_rows(path, offset, enc, delim, width, first_row)
        if not wrong:
            raise IngestError(f"malformed CSV: {' '.join(str(exc).split())[:160]}", file=path) from None
        footers = [(row, rec) for row, _, blank, rec in wrong if not blank and row > last_ok and footer_like(rec)]
        real = [(row, got) for row, got, blank, rec in wrong if not blank and (row, rec) not in footers]
        if real:
            row, got = real[0]
            raise IngestError(f"row has {got} fields but the header has {width}" + (" (truncated?)" if got < width else ""),
                              file=path, row=row) from None
        skipped = [(row, "blank" if blank else " ".join(c for c in rec if c.strip())) for row, _, blank, rec in wrong]
        table = _arrow_read(path, offset, enc, delim, names, skip_rows={r for r, _ in skipped})
    # convert one column at a time and let go of its arrow buffers, so the arrow table and the pandas
    # objects never both exist in full (this sets the peak memory of the whole cleaning run)
    cols = {}
    pool = _reader_pool()
    filled = np.zeros(table.num_rows, dtype=np.int64)
    for i in range(width):
        col = table.column(0)
        table = table.remove_column(0)
        if any(_has_line_break(chunk) for chunk in col.chunks):  # most columns hold none: no trimmed copy
            col = pc.utf8_trim(col, characters="\r\n", memory_pool=pool)
        blank = pc.equal(col, "", memory_pool=pool).to_numpy()  # no nulls: the reader makes none
        filled += ~blank
        values = col.to_pandas(deduplicate_objects=_repeats(col), memory_pool=pool).to_numpy(dtype=object)
        del col
        if blank.any():  # blank -> None in the converted column (no arrow copy of the column with nulls)
            if not values.flags.writeable:
                values = values.copy()
            values[blank] = None
        cols[i] = pd.Series(values, copy=False)
    del table
    pool.release_unused()  # the reader's buffers go back to the system: nothing else allocates from this pool
    # the columns side by side as they are: DataFrame(dict) would copy every text column into one 2-D block
    return pd.concat(cols, axis=1, copy=False), skipped, filled


def _repeats(col, sample: int = 1000) -> bool:
    """Whether a column repeats its values (most survey answers do): then equal strings become one Python object.

    Judged on its first and last ``sample`` values; a column of (nearly) distinct values (ids, times,
    names) is converted without the deduplicating hash table, which would only cost time there.
    """
    n = len(col)
    for part in (col.slice(0, sample), col.slice(max(n - sample, 0))):
        if len(part) and pc.count_distinct(part).as_py() < 0.9 * len(part):
            return True
    return n == 0


def _has_line_break(chunk) -> bool:
    """Whether a string array's data buffer holds a ``\\r`` or ``\\n`` byte (the bytes of other values included)."""
    data = chunk.buffers()[2] if len(chunk) else None
    if data is None:
        return False
    raw = np.frombuffer(data, dtype=np.uint8)
    for at in range(0, len(raw), 1 << 20):  # a MiB at a time: the comparison's scratch arrays stay small (peak memory)
        part = raw[at:at + (1 << 20)]
        if ((part == 10) | (part == 13)).any():
            return True
    return False


def _wrong_width_rows(path, offset, enc, delim, width, first_row) -> tuple[list, int]:
    """``(row, fields, blank, record)`` for every body record whose field count differs from the header,
    and the row of the last record of the right width (slow path, errors only)."""
    out, last_ok = [], 0
    with open(path, "rb") as raw:
        raw.seek(offset)
        fh = io.TextIOWrapper(raw, encoding="cp1252" if enc == "cp1252" else "utf-8", errors="replace", newline="")
        i = -1
        try:
            for i, rec in enumerate(csv.reader(fh, delimiter=delim)):
                if len(rec) != width and rec:  # an empty line is a row of blanks to pyarrow too
                    out.append((first_row + i, len(rec), _blank(rec), rec[:8]))
                elif rec and not _blank(rec):
                    last_ok = first_row + i
        except csv.Error as exc:
            raise IngestError(f"malformed CSV: {exc}", file=path, row=first_row + i + 1) from None
    return out, last_ok


def footer_like(rec) -> bool:
    """A short record of words after the last response ('Total responses: 245', 'Report generated 2025-04-30').

    Every platform's rows start with an id or a date, so a row cut short (truncated) is never taken for one.

    Parameters
    ----------
    rec : list of str
        The record's fields.

    Returns
    -------
    bool
        True when it has one to three non-blank fields and the first holds a letter and does not
        start like a date.
    """
    cells = [c.strip() for c in rec if c.strip()]
    return 0 < len(cells) <= 3 and bool(re.search(r"[A-Za-z]", cells[0])) and not DATE_LIKE.search(cells[0])
