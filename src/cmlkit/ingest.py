"""Read a survey platform's raw export into one row per response, columns = instrument question ids.

The reader detects the file's encoding (UTF-8 with or without BOM, else cp1252), its delimiter
(``,``, ``;`` or tab) and its platform (from the header: SurveyMonkey's two rows, Qualtrics' three
rows with the ``ImportId`` row, a single header row, or a Microsoft Forms workbook), then maps every
column to a question through the platform layout of the instrument (:mod:`cmlkit.platforms`).

Values are kept as the respondent's text (strings; blank -> missing) except that
select_multiple answers are stored XLSForm-style as space-joined choice *names* (the export's
column or label tells which choice was ticked). Text that a joined multi-select cell holds beyond
its known labels goes to the question's 'other (please specify)' text. Cleaning, not ingest,
changes values, and logs each change.

Output columns: ``response_id, _source_row`` (1-based data row in the file), ``_start, _end``
(parsed timestamps), ``_duration_s``, ``_status``, ``_finished``, ``_progress`` (None where the
platform has no such field), then the question ids in instrument order.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit.errors import IngestError
from cmlkit.platforms import JOIN, PLATFORMS, layout
from cmlkit.text_repair import loose

META_COLUMNS = ["response_id", "_source_row", "_start", "_end", "_duration_s", "_status", "_finished", "_progress"]


def _norm(text) -> str:
    return " ".join(str(text).replace("\ufeff", "").split()).casefold() if text is not None else ""


def sniff_encoding(data: bytes, *, path="<bytes>") -> str:
    """Return ``utf-8-sig`` or ``cp1252`` for the bytes of a text export (raises on binary)."""
    if not data.strip():
        raise IngestError("file is empty", file=path)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise IngestError("file is UTF-16 text; export or save it as UTF-8 CSV", file=path)
    if b"\x00" in data[:8192]:
        raise IngestError("file is binary, not a text export (found NUL bytes)", file=path)
    try:
        data.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        try:
            data.decode("cp1252")
        except UnicodeDecodeError:
            line = data[: exc.start].count(b"\n") + 1
            raise IngestError("text is neither UTF-8 nor cp1252", file=path, row=line) from None
        return "cp1252"


def sniff_delimiter(first_line: str) -> str:
    """Return the delimiter (``,``, ``;`` or tab) used most outside quotes in the header line."""
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


HEAD_BYTES = 1 << 20


class _Source:
    """An opened export: its first records (for detection and headers) and a way to read the body."""

    def __init__(self, path, head, container, body_rows=None, offsets=None, encoding=None, delimiter=None):
        self.path, self.head, self.container = path, head, container
        self._rows, self._offsets, self.encoding, self.delimiter = body_rows, offsets, encoding, delimiter

    def body(self, n_header: int, width: int) -> pd.DataFrame:
        """Data rows after ``n_header`` header records as strings (None when blank), columns 0..width-1."""
        if self._rows is not None:
            rows = self._rows[n_header:]
            frame = pd.DataFrame([list(r[:width]) + [None] * (width - len(r)) for r in rows], columns=range(width), dtype=object)
            return frame.where(frame.notna() & (frame != ""), None)
        return _read_csv_body(self.path, self._offsets[n_header - 1], self.encoding, self.delimiter, width, n_header)


def open_export(path) -> _Source:
    """Open an export for reading: sniff container, encoding, delimiter; read the first records."""
    path = Path(path)
    if not path.exists():
        raise IngestError("input file not found", file=path)
    if path.is_dir():
        raise IngestError("input is a folder, not a file", file=path)
    if path.suffix.lower() == ".sav":
        rows = _read_sav_cells(path)
        return _Source(path, rows[:4], "sav", body_rows=rows)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            frame = pd.read_excel(path, header=None, dtype=object, engine="openpyxl", keep_default_na=False, na_values=[])
        except Exception as exc:  # openpyxl raises many unrelated types for a broken workbook
            raise IngestError(f"not a readable Excel workbook ({type(exc).__name__})", file=path) from None
        if frame.empty:
            raise IngestError("workbook's first sheet is empty", file=path)
        rows = [[None if (v is None or v == "" or (isinstance(v, float) and np.isnan(v))) else
                 (v.isoformat(sep=" ") if hasattr(v, "isoformat") else str(v)) for v in r] for r in frame.itertuples(index=False)]
        return _Source(path, rows[:4], "xlsx", body_rows=rows)
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
        complete = len(head) < HEAD_BYTES
    if head[:4] == b"PK\x03\x04":
        raise IngestError("file is a zip/Excel workbook with a .csv name; save it as .xlsx", file=path)
    enc = sniff_encoding(head if complete else head[: head.rfind(b"\n") + 1] or head, path=path)
    if not complete:  # the head looked like UTF-8; make sure the rest is too before trusting it
        enc = _sniff_rest(path, enc)
    text = head.decode(enc, errors="replace")
    delim = sniff_delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    records, line_ends = [], []
    try:
        for rec in reader:
            if not any(c.strip() for c in rec):
                continue
            records.append(rec)
            line_ends.append(reader.line_num)
            if len(records) == 4:
                break
    except csv.Error as exc:
        raise IngestError(f"malformed CSV header: {exc}", file=path, row=reader.line_num) from None
    newlines = [i + 1 for i, b in enumerate(head) if b == 10][: (max(line_ends) if line_ends else 0)]
    offsets = [newlines[k - 1] if k - 1 < len(newlines) else len(head) for k in line_ends]
    return _Source(path, records, f"csv ({enc}, delimiter {delim!r})", offsets=offsets, encoding=enc, delimiter=delim)


def _sniff_rest(path, enc):
    """Confirm a large file decodes as UTF-8 throughout (else cp1252), reading it in chunks."""
    if enc != "utf-8-sig":
        return enc
    import codecs

    dec = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        try:
            for chunk in iter(lambda: fh.read(1 << 24), b""):
                dec.decode(chunk)
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return enc


def _read_csv_body(path, offset, enc, delim, width, n_header) -> pd.DataFrame:
    """Read the data rows with pyarrow's multi-threaded CSV reader, every column as text."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    names = [f"c{i}" for i in range(width)]
    bad = []

    def on_bad_row(row):
        bad.append(row)
        return "skip"

    with open(path, "rb") as fh:
        fh.seek(offset)
        try:
            table = pcsv.read_csv(
                fh,
                read_options=pcsv.ReadOptions(column_names=names, encoding="cp1252" if enc == "cp1252" else "utf8", block_size=1 << 24),
                parse_options=pcsv.ParseOptions(delimiter=delim, newlines_in_values=True, invalid_row_handler=on_bad_row),
                convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                                   quoted_strings_can_be_null=False))
        except pa.ArrowInvalid as exc:
            raise IngestError(f"malformed CSV: {' '.join(str(exc).split())[:160]}", file=path) from None
    if bad:
        raise IngestError(_bad_row_message(width, bad[0]), file=path, row=_find_bad_row(path, enc, delim, width))
    # convert one column at a time and let go of its arrow buffers, so the arrow table and the pandas
    # objects never both exist in full (this sets the peak memory of the whole cleaning run)
    cols = {}
    for i in range(width):
        col = table.column(0)
        table = table.remove_column(0)
        col = pc.utf8_trim(col, characters="\r\n")
        col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
        cols[i] = col.to_pandas(deduplicate_objects=True)
        del col
    return pd.DataFrame(cols)


def _bad_row_message(width, row):
    got = row.actual_columns
    return f"row has {got} fields but the header has {width}" + (" (truncated?)" if got < width else "")


def _find_bad_row(path, enc, delim, width) -> int | None:
    """The 1-based record number of the first row whose field count differs (slow path, errors only)."""
    with open(path, encoding=enc, newline="") as fh:
        for i, rec in enumerate(csv.reader(fh, delimiter=delim), start=1):
            if rec and any(c.strip() for c in rec) and len(rec) != width:
                return i
    return None


def detect_platform(rows: list, *, path="<rows>", container: str = "csv") -> str:
    """Return the platform whose header layout the first rows show."""
    if not rows:
        raise IngestError("file has no header", file=path)
    first = [_norm(c) for c in rows[0]]
    if container == "sav":
        return "spss"
    if container == "xlsx" and first[:3] == ["id", "start time", "completion time"]:
        return "msforms"
    if "_uuid" in first or "_submission_time" in first or (first[:2] == ["start", "end"] and any("/" in c for c in first)):
        return "kobo"
    if "respondent id" in first and len(rows) > 1 and any(_norm(c) in ("response", "open-ended response") for c in rows[1]):
        return "surveymonkey"
    if len(rows) > 2 and any(str(c).lstrip().startswith('{"ImportId"') for c in rows[2]):
        return "qualtrics"
    if first[:3] == ["id", "start time", "completion time"]:
        return "singleheader"
    raise IngestError("unknown export layout: header matches none of SurveyMonkey, Qualtrics, single-header CSV "
                      "or Microsoft Forms", file=path, row=1)


def _header_keys(rows, platform, n_cols):
    if platform == "surveymonkey":
        top, sub = list(rows[0]) + [""] * n_cols, list(rows[1]) + [""] * n_cols
        keys, last = [], ""
        for i in range(n_cols):
            t = top[i] if top[i] not in (None, "") else last
            last = t
            keys.append((_norm(t), _norm(sub[i])))
        return keys, 2
    if platform == "qualtrics":
        tags, labels = rows[0], rows[1]
        return [(_norm(tags[i]), _norm(labels[i])) for i in range(n_cols)], 3
    return [(_norm(c),) for c in rows[0][:n_cols]], 1


def _expected_keys(cols, platform):
    keys = []
    last = ""
    for c in cols:
        if platform == "surveymonkey":
            t = c.headers[0] if c.headers[0] else last
            last = t
            keys.append((_norm(t), _norm(c.headers[1])))
        elif platform == "qualtrics":
            keys.append((_norm(c.headers[0]), _norm(c.headers[1])))
        else:
            keys.append((_norm(c.headers[0]),))
    return keys


def _match(keys, expected, platform):
    """Map each file column to a layout column index (Qualtrics: tag for metadata, label for questions)."""
    if platform != "qualtrics":
        lookup = {k: i for i, k in enumerate(expected)}
        return [lookup.get(k) for k in keys]
    by_label = {k[1]: i for i, k in enumerate(expected)}
    by_tag = {k[0]: i for i, k in enumerate(expected)}
    return [by_tag.get(k[0]) if k[0] in by_tag and expected[by_tag[k[0]]][1] == k[1] else by_label.get(k[1]) for k in keys]


def parse_datetimes(values: pd.Series, *, name: str = "date", path="<data>") -> pd.Series:
    """Parse a column of date-times using the whole column to settle its format.

    Tries ISO, ``DD/MM/YYYY``, ``MM/DD/YYYY`` (with or without AM/PM) and Excel serial numbers.
    Day-first versus month-first is decided by the column: a first field above 12 means day-first,
    a second field above 12 means month-first; a column that never decides is read day-first (the
    UK convention) only if every value parses, and the choice is reported in ``attrs``.
    """
    s = values.astype("string").str.strip()
    present = s.notna() & (s != "")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if not present.any():
        return out
    v = s[present]
    numeric = pd.to_numeric(v, errors="coerce")
    if numeric.notna().all():
        out[present] = pd.Timestamp("1899-12-30") + pd.to_timedelta(numeric, unit="D")
        out.attrs["format"] = "excel-serial"
        return out.dt.round("s")
    first = str(v.iloc[0])
    if not re.match(r"^\d{4}-\d{2}-\d{2}", first):  # not ISO: go straight to the d/m, m/d rules
        iso = pd.Series(pd.NaT, index=v.index)
    else:
        iso = pd.to_datetime(v, format="ISO8601", errors="coerce", utc=v.str.contains(r"[+-]\d\d:\d\d$|Z$", regex=True).any())
    if getattr(iso.dt, "tz", None) is not None:
        iso = iso.dt.tz_convert("UTC").dt.tz_localize(None)
    if iso.notna().all():
        out[present] = iso
        out.attrs["format"] = "iso"
        return out
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(v.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    parts = pc.extract_regex(arr, r"^(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4})")
    a = pc.cast(pc.struct_field(parts, "a"), pa.int32()).to_numpy(zero_copy_only=False)
    b = pc.cast(pc.struct_field(parts, "b"), pa.int32()).to_numpy(zero_copy_only=False)
    day_first = bool(np.nanmax(a, initial=0) > 12)
    month_first = bool(np.nanmax(b, initial=0) > 12)
    if day_first and month_first:
        raise IngestError("dates mix day-first and month-first forms", file=path, column=name)
    ampm = bool(pc.any(pc.match_substring_regex(arr, r"[AaPp][Mm]\s*$")).as_py())
    time_part = " %I:%M:%S %p" if ampm else " %H:%M:%S"
    date_part = "%m/%d/%Y" if month_first else "%d/%m/%Y"
    # pyarrow's strptime (vectorised C++) for the common form; pandas for whatever it leaves
    fast = pc.strptime(arr, format=date_part + time_part, unit="s", error_is_null=True)
    parsed = pd.Series(fast.to_numpy(zero_copy_only=False).astype("datetime64[ns]"), index=v.index)
    if parsed.isna().any():
        todo = parsed.isna()
        parsed[todo] = pd.to_datetime(v[todo], format=date_part + time_part, errors="coerce")
    if parsed.isna().any():
        parsed = pd.to_datetime(v, format=date_part, errors="coerce").where(parsed.isna(), parsed)
    bad = parsed.isna()
    if bad.any():
        first_bad = v[bad].index[0]
        raise IngestError(f"unreadable date {v[first_bad]!r}", file=path, column=name, row=int(first_bad) + 1)
    out[present] = parsed
    out.attrs["format"] = date_part + time_part
    return out


def read_export(path, inst, *, platform: str | None = None) -> pd.DataFrame:
    """Read a raw export and map it to ``inst``'s question ids.

    Parameters
    ----------
    path : path-like
        CSV or XLSX as the platform exported it (never modified).
    inst : Instrument
        The instrument version the export answers.
    platform : str, optional
        One of :data:`cmlkit.platforms.PLATFORMS`; detected from the header when omitted.

    Returns
    -------
    pandas.DataFrame
        One row per response (see module docstring); ``attrs`` holds ``platform``, ``container``,
        ``source`` and ``n_rows``.

    Raises
    ------
    IngestError
        On an unreadable, empty or binary file, an unknown layout, a column the instrument does not
        have, a duplicated or missing column, or a row longer than the header.
    """
    path = Path(path)
    source = open_export(path)
    rows, container = source.head, source.container
    platform = platform or detect_platform(rows, path=path, container=container)
    if platform not in PLATFORMS:
        raise IngestError(f"unknown platform {platform!r}; expected one of {PLATFORMS}", file=path)
    cols = layout(inst, platform)
    width = len(rows[0])
    n_cols = width
    while n_cols and (rows[0][n_cols - 1] in (None, "")) and platform != "surveymonkey":
        n_cols -= 1
    keys, n_header = _header_keys(rows, platform, n_cols)
    if len(rows) < n_header:
        raise IngestError("file ends inside its header rows", file=path)
    expected = _expected_keys(cols, platform)
    idx = _match(keys, expected, platform)
    header_row = 1 if platform != "surveymonkey" else 2
    seen = {}
    for j, (k, i) in enumerate(zip(keys, idx)):
        label = rows[0][j] if platform != "surveymonkey" or rows[0][j] else f"{keys[j][0]} / {rows[1][j]}"
        if i is None:
            raise IngestError(f"column is not a question of {inst.instrument} {inst.version} (mismatched instrument?)",
                              file=path, row=header_row, column=str(label)[:80])
        if i in seen:
            raise IngestError(f"duplicated column (also column {seen[i] + 1})", file=path, row=header_row, column=str(label)[:80])
        seen[i] = j
    missing = [c for i, c in enumerate(cols) if i not in seen and c.role != "meta"]
    if missing:
        raise IngestError(f"export has no column for question {missing[0].qid!r} of {inst.instrument} {inst.version}"
                          + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""), file=path, column=missing[0].qid)
    if len(rows) == n_header:
        raise IngestError("export has a header but no responses", file=path, row=n_header + 1)
    data = source.body(n_header, width)
    if data.empty:
        raise IngestError("export has a header but no responses", file=path, row=n_header + 1)
    n = len(data)
    out = {"response_id": pd.Series([None] * n, dtype=object), "_source_row": np.arange(1, n + 1)}
    meta = {c.meta: data[seen[i]] for i, c in enumerate(cols) if c.role == "meta" and i in seen}
    out["response_id"] = meta.get("respondent_id", pd.Series(np.arange(1, n + 1))).astype(str)
    start = parse_datetimes(meta["start"], name="start", path=path) if "start" in meta else pd.Series(pd.NaT, index=data.index)
    end = parse_datetimes(meta["end"], name="end", path=path) if "end" in meta else pd.Series(pd.NaT, index=data.index)
    out["_start"], out["_end"] = start, end
    out["_duration_s"] = (pd.to_numeric(meta["duration"], errors="coerce") if "duration" in meta
                          else (end - start).dt.total_seconds())
    out["_status"] = meta["status"].map(lambda v: "preview" if isinstance(v, str) and ("preview" in v.lower() or "test" in v.lower() or v == "1") else "normal") \
        if "status" in meta else pd.Series(["normal"] * n)
    out["_finished"] = meta["finished"].map({"True": True, "False": False, "1": True, "0": False}) if "finished" in meta else None
    out["_progress"] = pd.to_numeric(meta["progress"], errors="coerce") if "progress" in meta else None
    frame = pd.DataFrame(out, index=data.index)

    by_q: dict = {}
    for i, c in enumerate(cols):
        if c.role != "meta":
            by_q.setdefault(c.qid, []).append((c, data[seen[i]]))
    values = {}
    for q in inst.questions:
        qid = q["id"]
        if qid not in by_q:
            continue
        parts = by_q[qid]
        other_q = inst.other_text_for(qid) if q["type"].startswith("select") else None
        other_text = next((s for c, s in parts if c.role == "other_text"), None)
        if q["type"] == "select_multiple":
            choice_cols = [(c, s) for c, s in parts if c.role == "choice"]
            dummy_cols = [(c, s) for c, s in parts if c.role == "dummy"]
            names_col = next((s for c, s in parts if c.role == "names"), None)
            if names_col is not None:
                joined = names_col.fillna("").astype(str)
            elif dummy_cols:
                joined = pd.Series([""] * n, index=data.index, dtype=object)
                for c, s in dummy_cols:
                    joined = joined + np.where(pd.to_numeric(s, errors="coerce") == 1, c.choice + " ", "")
            elif choice_cols:
                joined = pd.Series([""] * n, index=data.index, dtype=object)
                for c, s in choice_cols:
                    joined = joined + np.where(s.notna(), c.choice + " ", "")
                if other_q and other_text is not None:
                    joined = joined + np.where(other_text.notna() & ~joined.str.contains(r"\bother\b"), "other ", "")
            else:
                joined, leftover = _split_joined(next(s for c, s in parts if c.role == "joined"), inst.choices(qid), JOIN[platform])
                if other_q:
                    other_text = leftover
                    joined = joined + np.where(leftover.notna(), " other", "")
            joined = joined.str.strip()
            values[qid] = joined.where(joined != "", None)
        else:
            values[qid] = next(s for c, s in parts if c.role == "value")
            if q["type"] == "select_one" and other_q and other_q not in by_q:
                values[qid], other_text = _route_other(values[qid], other_text, inst.choices(qid))
        if other_q and other_q not in by_q:
            values[other_q] = other_text if other_text is not None else pd.Series(np.full(n, None, dtype=object), index=data.index)
    empty = pd.Series(np.full(n, None, dtype=object), index=data.index)
    frame = pd.concat([frame, pd.DataFrame({q["id"]: values[q["id"]] if q["id"] in values else empty for q in inst.questions},
                                           index=data.index)], axis=1)
    frame.attrs.update({"platform": platform, "container": container, "source": str(path), "n_rows": n})
    return frame


def _split_joined(cells: pd.Series, choices: list, sep: str):
    """Split joined multi-select cells using the choice labels (labels may contain the separator).

    Labels that contain the separator are first replaced by a placeholder, then cells are split
    (pyarrow list kernels), fragments matched to labels exactly, and what is left joined back as
    the 'other' text. Returns (space-joined names in choice order, leftover text or None).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(cells)
    names = np.full(n, "", dtype=object)
    left = np.full(n, None, dtype=object)
    text = pa.array(cells.astype(object).where(cells.notna(), None).tolist(), type=pa.string())
    text = pc.utf8_rtrim(pc.utf8_trim_whitespace(text), characters=sep.strip() or sep)
    fragment_of = {}
    for k, c in enumerate(sorted(choices, key=lambda c: -len(c["label"]))):
        if c["name"] == "other":
            continue
        if (sep.strip() or sep) in c["label"]:
            token = f"\x01{k}\x01"
            text = pc.replace_substring(text, pattern=c["label"], replacement=token)
            fragment_of[token] = c["name"]
        else:
            fragment_of[c["label"]] = c["name"]
    lists = pc.split_pattern(text, pattern=sep.strip() or sep)
    parent = pc.list_parent_indices(lists).to_numpy()
    frags = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    other_label = next((c["label"] for c in choices if c["name"] == "other"), None)
    keep = pc.and_(pc.not_equal(frags, ""), pc.not_equal(frags, other_label or "\x02")).to_numpy(zero_copy_only=False)
    order = [c["name"] for c in choices if c["name"] in set(fragment_of.values())]
    keys = list(fragment_of)
    code_of_key = np.array([order.index(fragment_of[k]) for k in keys], dtype=np.int64)
    pos = pc.index_in(frags, value_set=pa.array(keys, type=pa.string())).to_numpy(zero_copy_only=False)
    matched = keep & ~np.isnan(pos.astype(float))
    if matched.any():
        bits = np.zeros(n, dtype=np.int64)
        np.bitwise_or.at(bits, parent[matched], np.left_shift(1, code_of_key[pos[matched].astype(np.int64)]))
        uniq, inverse = np.unique(bits, return_inverse=True)
        text_of = np.array([" ".join(order[j] for j in range(len(order)) if b >> j & 1) for b in uniq], dtype=object)
        names = text_of[inverse]
    rest = keep & ~matched
    if rest.any():
        joiner = sep if sep.strip() != sep else sep.strip()
        rest_text = np.asarray(pc.filter(frags, pa.array(rest)).to_pylist(), dtype=object)
        grouped = pd.Series(rest_text, index=parent[rest]).groupby(level=0, sort=True).agg(joiner.join)
        left[grouped.index.to_numpy()] = grouped.to_numpy()
    return pd.Series(names, index=cells.index, dtype=object), pd.Series(left, index=cells.index, dtype=object)


def _route_other(value: pd.Series, other_text, choices: list):
    """Put a single-choice 'other' answer in the platform-neutral form: the 'Other' label + its text.

    SurveyMonkey leaves the choice blank and fills the 'Other (please specify)' column; single-header
    exports put the typed text in the choice cell itself.
    """
    other_label = next((c["label"] for c in choices if c["name"] == "other"), None)
    if other_label is None:
        return value, other_text
    if other_text is not None:  # SurveyMonkey / Qualtrics: separate text column
        fill = value.isna() & other_text.notna()
        return value.where(~fill, other_label), other_text
    known = {loose(c["label"]) for c in choices} | {loose(c["name"]) for c in choices}
    uniq = pd.unique(value.dropna())
    is_known = {v: (loose(v) in known if isinstance(v, str) else True) for v in uniq}
    unknown = value.notna() & ~value.map(is_known).fillna(True).astype(bool)
    text = value.where(unknown, None)
    return value.where(~unknown, other_label), text



def check_header(path, inst, *, platform: str | None = None) -> str:
    """Check that an export's header matches ``inst`` without reading its body; return the platform.

    Raises the same one-line :class:`~cmlkit.errors.IngestError` as :func:`read_export`.
    """
    source = open_export(path)
    rows = source.head
    platform = platform or detect_platform(rows, path=path, container=source.container)
    cols = layout(inst, platform)
    n_cols = len(rows[0])
    n_header = {"surveymonkey": 2, "qualtrics": 3}.get(platform, 1)
    keys, _ = _header_keys(rows[:n_header] + [[]], platform, n_cols)
    idx = _match(keys, _expected_keys(cols, platform), platform)
    for j, i in enumerate(idx):
        if i is None and (rows[0][j] or platform == "surveymonkey"):
            raise IngestError(f"column is not a question of {inst.instrument} {inst.version} (mismatched instrument?)",
                              file=path, row=1, column=str(rows[0][j] or keys[j][0])[:80])
    return platform


def _read_sav_cells(path: Path) -> list:
    """Read an SPSS .sav (value labels applied) into rows of strings, header first."""
    import pyreadstat

    try:
        frame, _ = pyreadstat.read_sav(str(path), apply_value_formats=True)
    except Exception as exc:  # pyreadstat raises its own error types for unreadable files
        raise IngestError(f"not a readable SPSS file ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})", file=path) from None
    if frame.empty:
        raise IngestError("export has a header but no responses", file=path, row=2)
    cols = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            cols[name] = col.map(lambda v: None if pd.isna(v) else v.isoformat(sep=" "))
        elif pd.api.types.is_numeric_dtype(col):
            cols[name] = col.map(lambda v: None if pd.isna(v) else (str(int(v)) if float(v).is_integer() else repr(float(v))))
        else:
            cols[name] = col.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) or v == "" else str(v))
    body = pd.DataFrame(cols)
    return [list(frame.columns)] + body.to_numpy(dtype=object).tolist()
