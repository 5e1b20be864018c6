"""Read a survey platform's raw export into one row per response, columns = instrument question ids.

The reader detects the file's encoding (UTF-8 with or without BOM, else cp1252), its delimiter
(``,``, ``;`` or tab) and its platform (each registered platform's ``detect`` hook looks at the
header: SurveyMonkey's two rows, Qualtrics' three rows with the ``ImportId`` row, KoboToolbox's
``_uuid`` columns, a single header row, a Microsoft Forms workbook, an SPSS file), then maps every
column to a question through the platform layout of the instrument (:mod:`cmlkit.platforms`), keyed
and matched by the platform's reader hooks (:mod:`cmlkit.platform_registry`); nothing here branches
on a platform's name.

Values are kept as the respondent's text (strings; blank -> missing) except that
select_multiple answers are stored XLSForm-style as space-joined choice *names* (the export's
column or label tells which choice was ticked). Text that a joined multi-select cell holds beyond
its known labels goes to the question's 'other (please specify)' text. Cleaning, not ingest,
changes values, and logs each change.

Output columns: ``response_id, _source_row`` (1-based response number), ``_row`` (the row as a
spreadsheet shows the file, header = row 1: the numbering of every message), ``_start, _end``
(parsed timestamps), ``_duration_s``, ``_status`` (``normal``, ``preview`` or ``spam``),
``_finished``, ``_progress`` (None where the platform has no such field), then the question ids in
instrument order.

Every reading decision that is not a plain copy (blank and footer rows excluded, numeric codes read
by the instrument's declared codes, mojibake repaired to match a multi-select label, a BOM in front
of cp1252 text, mixed date forms) is recorded in ``attrs["ingest_log"]`` (see
:mod:`cmlkit.ingest_checks`) and reaches the cleaning log; rows excluded are counted in
``attrs["excluded"]`` for the row accounting. File access and encodings: :mod:`cmlkit.file_access`;
containers and the CSV body: :mod:`cmlkit.export_source`; dates: :mod:`cmlkit.datetimes`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from cmlkit import ingest_checks as checks
from cmlkit.datetimes import parse_datetimes, read_date_answers
from cmlkit.errors import IngestError
from cmlkit.export_source import open_export, sniff_delimiter
from cmlkit.file_access import settle_encoding
from cmlkit.platform_registry import detect, get_platform, platform_names, platform_titles
from cmlkit import platforms  # noqa: F401  (importing it registers the built-in platforms)
from cmlkit.text_repair import arrow_strings, fix_mojibake, fold, loose, missing_markers, mojibake_suspects, strip_changes, typographic

__all__ = ["read_export", "check_header", "detect_platform", "parse_datetimes", "open_export", "sniff_delimiter", "sniff_encoding"]

META_COLUMNS = ["response_id", "_source_row", "_row", "_start", "_end", "_duration_s", "_status", "_finished", "_progress"]


def sniff_encoding(data: bytes, *, path="<bytes>") -> str:
    """Return the encoding to decode the bytes of a text export with.

    Parameters
    ----------
    data : bytes
        The whole export.
    path : str or path-like, default "<bytes>"
        Named in error messages.

    Returns
    -------
    str
        ``utf-8-sig`` (UTF-8, with or without a BOM) or ``cp1252``.

    Raises
    ------
    IngestError
        Empty, UTF-16 or binary data; UTF-8 mixed with stray bytes of another encoding; text that is
        neither UTF-8 nor cp1252 (see :func:`cmlkit.file_access.settle_encoding`).
    """
    enc, _, _ = settle_encoding(data, path=path, complete=True)
    return "utf-8-sig" if enc == "utf-8" else enc


def detect_platform(rows: list, *, path="<rows>", container: str = "csv") -> str:
    """Return the registered platform whose header layout the first rows show.

    The platforms' ``detect`` hooks are tried by their ``priority``
    (:func:`cmlkit.platform_registry.detect`).

    Parameters
    ----------
    rows : list of list
        The export's first records, header rows first.
    path : str or path-like, default "<rows>"
        Named in error messages.
    container : str, default "csv"
        ``sav``, ``xlsx`` or ``csv (<encoding>, delimiter <d>)`` (:class:`cmlkit.export_source.Source`).

    Returns
    -------
    str
        The platform's name.

    Raises
    ------
    IngestError
        ``rows`` is empty, or no registered platform recognises the header (the message names every
        registered platform).
    """
    if not rows:
        raise IngestError("file has no header", file=path)
    found = detect(rows, container)
    if found is None:
        titles = platform_titles()
        listed = f"{', '.join(titles[:-1])} or {titles[-1]}" if len(titles) > 1 else "".join(titles)
        raise IngestError(f"unknown export layout: header matches none of {listed} "
                          f"(registered platforms: {', '.join(platform_names())})", file=path, row=1)
    return found


def read_export(path, inst, *, platform: str | None = None) -> pd.DataFrame:
    """Read a raw export and map it to ``inst``'s question ids.

    Parameters
    ----------
    path : path-like
        CSV or XLSX as the platform exported it (never modified).
    inst : Instrument
        The instrument version the export answers.
    platform : str, optional
        A registered platform name (:func:`cmlkit.platform_registry.platform_names`); detected from the
        header when omitted.

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
    if platform not in platform_names():
        raise IngestError(f"unknown platform {platform!r}; expected one of {platform_names()}", file=path)
    spec = get_platform(platform)
    cols = spec.read_layout(inst)
    width = len(rows[0])
    n_cols = width
    while n_cols and (rows[0][n_cols - 1] in (None, "")) and not spec.sparse_top_row:
        n_cols -= 1
    n_header = spec.header_rows
    if len(rows) < n_header:
        raise IngestError("file ends inside its header rows (truncated?)", file=path, row=len(rows) + 1)
    for k in range(1, n_header):
        if len(rows[k]) < n_cols:
            raise IngestError(f"header row has {len(rows[k])} fields but the first header row has {n_cols} (truncated?)",
                              file=path, row=source.head_rows[k])
    keys = spec.header_keys(rows, n_cols)
    idx = spec.match(keys, spec.expected_keys(cols))
    header_row = n_header if spec.sparse_top_row else 1  # a sparse first row: columns are named by the last header row
    seen = {}
    for j, (k, i) in enumerate(zip(keys, idx)):
        label = rows[0][j] if not spec.sparse_top_row or rows[0][j] else f"{keys[j][0]} / {rows[1][j]}"
        if i is None and (label is None or not str(label).strip()):
            raise IngestError(f"column {j + 1} ({checks.column_letters(j)}) has a blank header cell (emptied, or merged with the one "
                              "before it?)", file=path, row=header_row)
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
        raise IngestError("export has a header but no responses", file=path, row=source.head_rows[-1] + 1)
    data, line = source.body(n_header, width)
    name_of = {j: str(rows[0][j] if rows[0][j] not in (None, "") else keys[j][0] if j < len(keys) else f"column {j + 1}")[:80]
               for j in range(width)}
    for j in range(n_cols, width):  # cells under a blank header would be dropped: say so instead
        filled = data[j].notna().to_numpy()
        if filled.any():
            raise IngestError(f"column {j + 1} has no header but holds data", file=path, row=int(line[np.argmax(filled)]),
                              column=f"column {j + 1}")
    log = [dict(checks.entry(None, n["action"], n["reason"])) for n in source.notes]
    meta_col = {c.meta: seen[i] for i, c in enumerate(cols) if c.role == "meta" and i in seen}
    data, line, more = _exclude_rows(data, line, source.skipped, [meta_col[m] for m in ("start", "end") if m in meta_col],
                                     path=path, name_of=name_of, filled=source.filled)
    log += more
    excluded = {"blank_row": sum(e["action"] == "blank_row" for e in log), "footer_row": sum(e["action"] == "footer_row" for e in log)}
    if data.empty:
        raise IngestError("export has a header but no responses", file=path, row=source.head_rows[n_header - 1] + 1)
    n = len(data)
    out, more = _metadata(data, line, meta_col, name_of, path=path, spec=spec)
    log += more
    frame = pd.DataFrame(out, index=data.index)

    by_q: dict = {}
    for i, c in enumerate(cols):
        if c.role != "meta":
            by_q.setdefault(c.qid, []).append((c, data[seen[i]], name_of[seen[i]]))
    values = {}
    for q in inst.questions:
        qid = q["id"]
        if qid not in by_q:
            continue
        parts = by_q[qid]
        other_q = inst.other_text_for(qid) if q["type"].startswith("select") else None
        other_text = next((s for c, s, _ in parts if c.role == "other_text"), None)
        if q["type"] == "select_multiple":
            choice_cols = [(c, s) for c, s, _ in parts if c.role == "choice"]
            dummy_cols = [(c, s, h) for c, s, h in parts if c.role == "dummy"]
            names_col = next((s for c, s, _ in parts if c.role == "names"), None)
            other = None  # where " other" is appended to the names
            labels = {c["name"]: c["label"] for c in inst.choices(qid)}
            if names_col is not None:
                joined = names_col.fillna("").astype(str)
                subs = [(c, s) for c, s, _ in parts if c.role == "ignored" and c.choice]
                if subs:     # KoboToolbox's 0/1 columns beside the list: they answer where the list was left blank
                    ticks = {c.choice: s.astype("string").str.strip().str.casefold().isin(checks.TRUE_TEXT).to_numpy(bool)
                             for c, s in subs}
                    blank = (joined.str.strip() == "").to_numpy() & np.logical_or.reduce(list(ticks.values()))
                    if blank.any():
                        from_subs = pd.Series([""] * n, index=data.index, dtype=object)
                        for choice, hit in ticks.items():
                            from_subs = from_subs + np.where(hit, choice + " ", "")
                        joined = joined.where(~blank, from_subs)
                        log += [checks.entry(line[k], "choice_columns_read", "the list of choices is blank but its 0/1 "
                                             "columns tick some: read from them (review)", response_id=frame["response_id"].iloc[k],
                                             question=qid, old="", new=joined.iloc[k].strip())
                                for k in np.flatnonzero(blank)]
            elif dummy_cols:
                joined = pd.Series([""] * n, index=data.index, dtype=object)
                for c, s, h in dummy_cols:
                    joined = joined + np.where(checks.ticks(s, labels[c.choice], line, path=path, column=h), c.choice + " ", "")
            elif choice_cols:
                joined = pd.Series([""] * n, index=data.index, dtype=object)
                for c, s in choice_cols:  # the label, or a numeric value; 0 and -99 (seen, not answered) are not ticks
                    text = s.astype("string").str.strip()
                    label = labels.get(c.choice, "")
                    ticked = (s.notna() & ~text.str.casefold().isin(checks.FALSE_TEXT).fillna(False)).to_numpy(bool)
                    # the usual ticks (the label, 1) first; what else is there is looked at one cell at a time
                    rest = np.flatnonzero(ticked & ~text.isin([label, "1"]).fillna(False).to_numpy(bool))
                    if len(rest):
                        sub = text.iloc[rest]
                        not_label = (sub.str.casefold() != label.casefold()).to_numpy(bool)
                        # a missing-value marker ('N/A', '-', '.') or a blank is no tick, like 0 or FALSE (unless it is the label)
                        marker = not_label & missing_markers(sub).to_numpy()
                        ticked[rest[marker]] = False
                        # anything else in a choice's column (another label, typed text) still ticks it: said in the log
                        odd = rest[not_label & ~marker & (pd.to_numeric(sub, errors="coerce").isna()
                                                      & ~sub.str.casefold().isin(checks.TRUE_TEXT)).to_numpy(bool)]
                        log += [checks.entry(line[k], "choice_column_text", f"{text.iloc[k]!r} in the column of the choice "
                                             f"{label!r}: read as that choice ticked (review)",
                                             response_id=frame["response_id"].iloc[k], question=qid, old=str(s.iloc[k]), new=c.choice)
                                for k in odd]
                    joined = joined + np.where(ticked, c.choice + " ", "")
                if other_q and other_text is not None:
                    joined = joined + np.where(other_text.notna() & ~joined.str.contains(r"\bother\b"), "other ", "")
            else:
                cells = next(s for c, s, _ in parts if c.role == "joined")
                joined, leftover, repaired = _split_joined(cells, inst.choices(qid), spec.join)
                log += [checks.entry(line[k], action, _SPLIT_REPAIRS[action], response_id=frame["response_id"].iloc[k],
                                     question=qid, old=old, new=new) for k, old, new, action in repaired]
                if other_q:
                    other_text = leftover
                    other = leftover.notna().to_numpy()
                else:   # no 'other' text to hold what matches no choice label: left out of the answer, never in silence
                    log += [checks.entry(line[k], "unknown_choice", f"{leftover.iloc[k]!r} is not a choice label of this question, "
                                         "which has no 'other' text: left out of the answer (review)",
                                         response_id=frame["response_id"].iloc[k], question=qid, old=str(cells.iloc[k]),
                                         new=" ".join(str(joined.iloc[k]).split()))
                            for k in np.flatnonzero(leftover.notna().to_numpy())]
            values[qid] = _tidy_joined(joined, other)
        else:
            values[qid], header = next((s, h) for c, s, h in parts if c.role == "value")
            if q["type"] in ("integer", "decimal") and source.value_labels.get(header):
                values[qid], note = checks.numbers_behind_labels(values[qid], source.value_labels[header], column=header)
                log += note
            if q["type"] == "date":      # a date answer in the platform's or a person's form, as ISO text
                values[qid], note = read_date_answers(values[qid], month_first=str(spec.date_format).startswith("%m"),
                                                      name=header, path=path, rows=line)
                log += [checks.entry(None, "date_answers", note)] if note else []
            if q["type"] == "select_one":
                values[qid], coded = checks.map_codes(values[qid], inst, qid, line, path=path, column=header)
                log += coded
            if q["type"] == "select_one" and other_q and other_q not in by_q:
                values[qid], other_text = _route_other(values[qid], other_text, inst.choices(qid))
        if other_q and other_q not in by_q:
            values[other_q] = other_text if other_text is not None else pd.Series(np.full(n, None, dtype=object), index=data.index)
    empty = pd.Series(np.full(n, None, dtype=object), index=data.index)
    answers = {q["id"]: values[q["id"]] if q["id"] in values else empty for q in inst.questions}
    if set(answers) & set(frame.columns):  # a question named like a metadata column: both kept, as concat keeps them
        frame = pd.concat([frame, pd.DataFrame(answers, index=data.index)], axis=1)
    else:  # the columns side by side, not copied into one 2-D block (which would hold every text column twice at its peak)
        frame = pd.concat({**{c: frame[c] for c in frame.columns}, **answers}, axis=1, copy=False)
    frame.attrs.update({"platform": platform, "container": container, "source": str(path), "n_rows": n,
                        "ingest_log": checks.IngestLog(log), "excluded": excluded})
    return frame


def _exclude_rows(data, line, skipped, time_cols, *, path, name_of, filled=None):
    """Blank rows and footer rows out (logged); a summary row among the responses is an error."""
    dated = checks.dated_rows(data, time_cols)
    data, line, log = checks.drop_blank_rows(data, line, skipped, time_cols=time_cols, path=path, dated=dated, filled=filled)
    if dated is not None and len(data) < len(dated):
        dated = checks.dated_rows(data, time_cols)
    data, line, more = checks.drop_footer_rows(data, line, time_cols, path=path, column=name_of[time_cols[0]] if time_cols else None,
                                               dated=dated)
    return data, line, log + more


def _metadata(data, line, meta_col, name_of, *, path, spec) -> tuple[dict, list]:
    """The metadata columns of the output (ids, times, duration, status, finished, progress) and their log.

    Dates whose day and month are all 12 or less are read in the order the platform writes (``spec.date_format``),
    with a note in the log saying so."""
    n = len(data)
    meta = {m: data[j] for m, j in meta_col.items()}
    where = {m: dict(path=path, column=name_of[j]) for m, j in meta_col.items()}
    out = {"response_id": pd.Series([None] * n, dtype=object), "_source_row": np.arange(1, n + 1), "_row": line}
    ids = meta["respondent_id"] if "respondent_id" in meta else pd.Series(np.arange(1, n + 1)).astype(str)
    if "respondent_id" in meta:        # the ids as the log will address them (stripped): 'R_X' and 'R_X ' are one id
        checks.check_ids(ids.astype("string").str.strip() if strip_changes(ids) else ids, line, **where["respondent_id"])
    ids = ids.astype(str)
    out["response_id"] = ids.str.strip() if strip_changes(ids) else ids
    log = []
    for m in ("start", "end"):
        month_first = str(spec.date_format).startswith("%m")
        stamp = (parse_datetimes(meta[m], name=name_of[meta_col[m]], path=path, rows=line, month_first=month_first) if m in meta
                 else pd.Series(pd.NaT, index=data.index))
        if stamp.attrs.get("order_assumed"):
            log.append(checks.entry(None, "date_order", f"{name_of[meta_col[m]]}: no date has a day or month above 12, so the "
                                                        f"dates do not settle their order; read {'month' if month_first else 'day'}-first, "
                                                        f"as {spec.title} exports write dates (review)"))
        if "+" in stamp.attrs.get("format", ""):
            log.append(checks.entry(None, "date_forms", f"{name_of[meta_col[m]]}: dates in more than one form ({stamp.attrs['format']}); "
                                                        "ISO dates read as ISO, the others by the column's day/month order"))
        out[f"_{m}"] = stamp
    out["_duration_s"] = (checks.read_number(meta["duration"], line, lo=0, **where["duration"]) if "duration" in meta
                          else (out["_end"] - out["_start"]).dt.total_seconds())
    out["_status"] = checks.read_status(meta["status"], line, **where["status"]) if "status" in meta else pd.Series(["normal"] * n)
    out["_finished"] = checks.read_finished(meta["finished"], line, **where["finished"]).astype(object).where(
        lambda v: v.notna(), None) if "finished" in meta else None
    out["_progress"] = checks.read_number(meta["progress"], line, lo=0, hi=100, percent=True, **where["progress"]) \
        if "progress" in meta else None
    return out, log


def _tidy_joined(joined: pd.Series, other) -> pd.Series:
    """``(joined + " other" where other).strip()``, blank -> None; worked out once per distinct answer and spread to the rows."""
    codes, uniq = pd.factorize(joined.to_numpy(dtype=object), use_na_sentinel=False)
    texts = [str(u) for u in uniq]
    if other is not None:  # code 2k: the names alone, 2k + 1: the names and " other"
        codes = codes * 2 + np.asarray(other, dtype=np.intp)
        texts = [t + s for t in texts for s in ("", " other")]
    tidy = np.array([t.strip() or None for t in texts], dtype=object)
    return pd.Series(tidy[codes], index=joined.index, dtype=object)


_SPLIT_REPAIRS = {"mojibake_label": "choice label read as cp1252 (mojibake) repaired before the split",
                  "label_variant": "read as the choice label it differs from only in quote marks, accent encoding or spacing"}


def _split_joined(cells: pd.Series, choices: list, sep: str):
    """Split joined multi-select cells using the choice labels (labels may contain the separator).

    Each distinct cell is split once (a multi-select column holds few), then spread to the rows.
    Labels that contain the separator are first replaced by a placeholder, then cells are split
    (pyarrow list kernels), fragments matched to labels exactly, and what is left joined back as
    the 'other' text. Choice labels double-encoded in a cell (``CafÃ©``) are repaired first, so no
    choice is lost to the 'other' text (mojibake in typed 'other' text is left to cleaning, which
    logs it), and a fragment equal to a label up to quote marks, accent encoding or spacing (``Children’s``)
    is that label. Returns (space-joined names in choice order, leftover text or None,
    ``[(position, fragment, label, action)]`` for every label found double-encoded (``mojibake_label``)
    or as a variant (``label_variant``), in row order; the cell itself, which may hold typed 'other'
    text, is never returned).
    """
    codes, uniq = pd.factorize(cells, use_na_sentinel=True)
    uniq = pd.Series(np.asarray(uniq, dtype=object), dtype=object)
    repaired = []
    garbled = {c["label"].encode("utf-8").decode("cp1252", errors="replace"): c["label"] for c in choices}
    garbled = {bad: good for bad, good in garbled.items() if bad != good}
    suspect = mojibake_suspects(arrow_strings(uniq)) if garbled else np.zeros(len(uniq), dtype=bool)
    if suspect.any():  # only the labels are repaired here; mojibake in typed 'other' text is cleaning's (logged there)
        sub = uniq[suspect].astype(str)
        for bad, good in garbled.items():
            hit = sub.str.contains(bad, regex=False).to_numpy(bool)
            if hit.any():  # the rows holding a distinct cell hit, in row order
                repaired += [(int(k), bad, good, "mojibake_label") for k in np.flatnonzero(np.isin(codes, np.flatnonzero(suspect)[hit]))]
            sub = sub.str.replace(bad, good, regex=False)
        uniq[suspect] = sub.to_numpy()
    names, left, variants = _split_cells(uniq, choices, sep)
    for cell, fragment, label in variants:     # the rows holding a distinct cell with a label variant, in row order
        repaired += [(int(k), fragment, label, "label_variant") for k in np.flatnonzero(codes == cell)]
    repaired.sort(key=lambda r: r[0])
    names, left = np.append(names, "")[codes], np.append(left, None)[codes]   # code -1: a blank cell
    return pd.Series(names, index=cells.index, dtype=object), pd.Series(left, index=cells.index, dtype=object), repaired


def _split_cells(cells: pd.Series, choices: list, sep: str) -> tuple[np.ndarray, np.ndarray, list]:
    """:func:`_split_joined` of (distinct) repaired cells: (names, leftover text or None), object arrays, and
    ``[(cell, fragment, label)]`` for each fragment read as the label it equals up to :func:`fold`."""
    n = len(cells)
    names = np.full(n, "", dtype=object)
    left = np.full(n, None, dtype=object)
    text = arrow_strings(cells)
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
    untrimmed = pc.list_flatten(lists)
    frags = pc.utf8_trim_whitespace(untrimmed)
    other_label = next((c["label"] for c in choices if c["name"] == "other"), None)
    keep = pc.and_(pc.not_equal(frags, ""), pc.not_equal(frags, other_label or "\x02")).to_numpy(zero_copy_only=False)
    order = [c["name"] for c in choices if c["name"] in set(fragment_of.values())]
    keys = list(fragment_of)
    code_of_key = np.array([order.index(fragment_of[k]) for k in keys], dtype=np.int64)
    pos = pc.index_in(frags, value_set=pa.array(keys, type=pa.string())).to_numpy(zero_copy_only=False).astype(float)
    variants = _label_variants(frags, keep & np.isnan(pos), keys, pos, parent)
    matched = keep & ~np.isnan(pos)
    if matched.any():
        bits = np.zeros(n, dtype=np.int64)
        owner = parent[matched]  # non-decreasing: each cell's fragments are contiguous
        start = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        bits[owner[start]] = np.bitwise_or.reduceat(np.left_shift(1, code_of_key[pos[matched].astype(np.int64)]), start)
        uniq, inverse = np.unique(bits, return_inverse=True)
        text_of = np.array([" ".join(order[j] for j in range(len(order)) if b >> j & 1) for b in uniq], dtype=object)
        names = text_of[inverse]
    rest = keep & ~matched
    if rest.any():
        # the text that is no label, as typed: its fragments untrimmed, joined by the separator they were split at
        # ('Knit and natter; coffee mornings' keeps its space), then trimmed at the ends
        owner = parent[rest]  # non-decreasing: a cell's fragments are contiguous and in their order in the cell
        cell, start = np.unique(owner, return_index=True)
        grouped = pa.ListArray.from_arrays(pa.array(np.append(start, len(owner)).astype(np.int32)),
                                           pc.filter(untrimmed, pa.array(rest)))
        left[cell] = pc.utf8_trim_whitespace(pc.binary_join(grouped, sep.strip() or sep)).to_numpy(zero_copy_only=False)
    return names, left, variants


def _label_variants(frags, unmatched, keys, pos, parent) -> list:
    """Match the ``unmatched`` fragments that equal a label up to :func:`~cmlkit.text_repair.typographic` (curly
    quotes, accents composed or not, spacing; a fragment differing in case or spelling is typed 'other' text, which
    cleaning matches and logs): their key's position is set in ``pos``; returns ``[(cell, fragment, label)]``."""
    at = np.flatnonzero(unmatched)
    if not len(at):
        return []
    plain = {typographic(k): i for i, k in enumerate(keys) if not k.startswith("\x01")}   # labels holding the separator: exact only
    texts = pc.take(frags, pa.array(at)).to_numpy(zero_copy_only=False)
    found = {t: plain.get(typographic(t)) for t in set(texts)}
    out = []
    for j, t in zip(at, texts):
        if found[t] is not None:
            pos[j] = found[t]
            out.append((int(parent[j]), t, keys[found[t]]))
    return out


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
    folded = [fold(c["label"]) for c in choices]
    uniq = pd.Series(pd.unique(value.dropna()), dtype=object)
    # a label double-encoded (mojibake) is still that label: cleaning repairs it and logs the repair; a missing-value
    # marker ('-', 'N/A') or a label's near-variant is no typed 'other' answer: the choice_label check logs what it does
    marker = dict(zip(uniq, missing_markers(uniq).to_numpy()))
    is_known = {v: (loose(v) in known or loose(fix_mojibake(v) or "") in known or marker[v]
                    or process.extractOne(fold(v), folded, scorer=fuzz.ratio, score_cutoff=88) is not None)
                if isinstance(v, str) else True for v in uniq}
    unknown = value.notna() & ~value.map(is_known).fillna(True).astype(bool)
    text = value.where(unknown, None)
    return value.where(~unknown, other_label), text


def check_header(path, inst, *, platform: str | None = None) -> str:
    """Check that an export's header matches ``inst`` without reading its body; return the platform.

    Every header column must be a column of the platform layout of ``inst``; a column whose first
    header cell is blank is passed over (except on a platform with a sparse first header row,
    SurveyMonkey's). Missing or duplicated columns and the body are left to :func:`read_export`.

    Parameters
    ----------
    path : path-like
        The export (CSV, XLSX or SPSS .sav).
    inst : Instrument
        The instrument version the export should answer.
    platform : str, optional
        A registered platform name; detected from the header when omitted.

    Returns
    -------
    str
        The platform's name.

    Raises
    ------
    IngestError
        The same one-line errors as :func:`read_export` for an unreadable file, an unknown layout or
        a column that is not a question of ``inst``.
    ValueError
        ``platform`` is given but not registered.
    """
    source = open_export(path)
    rows = source.head
    platform = platform or detect_platform(rows, path=path, container=source.container)
    spec = get_platform(platform)
    cols = spec.read_layout(inst)
    n_cols = len(rows[0])
    keys = spec.header_keys(rows[:spec.header_rows] + [[]], n_cols)
    idx = spec.match(keys, spec.expected_keys(cols))
    for j, i in enumerate(idx):
        if i is None and (rows[0][j] or spec.sparse_top_row):
            raise IngestError(f"column is not a question of {inst.instrument} {inst.version} (mismatched instrument?)",
                              file=path, row=1, column=str(rows[0][j] or keys[j][0])[:80])
    return platform
