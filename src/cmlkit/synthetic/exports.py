"""Write a raw response table the way each survey platform exports it (see :mod:`cmlkit.platforms`).

The *raw table* is what respondents typed, one row per submission: metadata columns
``_respondent_id, _start, _end, _status, _progress, _finished`` and one column per question id
holding a string (a choice *label* for select_one, a tuple of choice *names* for
select_multiple, text or numbers as typed), or None when blank.

Everything that differs between platforms comes from the registered
:class:`~cmlkit.platform_registry.Platform`: its layout, date format, multi-select separator, ids,
metadata cells and single-choice 'other' convention, and its container (CSV with its encoding and
delimiter, an XLSX workbook or an SPSS .sav), written by :data:`CONTAINER_WRITERS`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook

from cmlkit.platform_registry import OTHER_LABEL, get_platform
from cmlkit.platforms import layout
from cmlkit.tables import freeze_xlsx

DEFAULT_CELLS = {  # metadata key -> cells from the raw table, where the platform's ``cells`` says nothing else
    "status": lambda raw: list(raw["_status"].map({"normal": "IP Address", "preview": "Survey Preview"})),
    "progress": lambda raw: list(raw["_progress"].astype(str)),
    "duration": lambda raw: list(((raw["_end"] - raw["_start"]).dt.total_seconds()).astype(int).astype(str)),
    "finished": lambda raw: list(raw["_finished"].map({True: "True", False: "False"})),
}


def _labels(inst, qid):
    return {c["name"]: c["label"] for c in inst.choices(qid)}


def _meta_cells(raw: pd.DataFrame, col, spec) -> list:
    """The cells of one metadata column: the platform's own ``cells``, its ids and dates, or the default."""
    if col.meta in spec.cells:
        return list(spec.cells[col.meta](raw))
    if col.meta == "respondent_id":
        return list(spec.ids(raw["_respondent_id"]))
    if col.meta in ("start", "end"):
        ts = raw["_" + col.meta]
        return list(ts) if spec.date_format is None else list(ts.dt.strftime(spec.date_format))
    if col.meta in DEFAULT_CELLS:
        return DEFAULT_CELLS[col.meta](raw)
    return [None] * len(raw)


def _cells(raw: pd.DataFrame, inst, spec, cols) -> list:
    """Return the export's body as a list of columns (each a list of cell values)."""
    n = len(raw)
    out = []
    for col in cols:
        if col.role == "meta":
            out.append(_meta_cells(raw, col, spec))
            continue
        q = inst.question(col.qid)
        values = raw[col.qid]
        other_q = inst.other_text_for(col.qid) if q["type"].startswith("select") else None
        if col.role == "value":
            if q["type"] == "select_one" and spec.writes_names:
                names = {c["label"]: c["name"] for c in inst.choices(col.qid)}
                values = values.map(lambda v: names.get(v, v) if isinstance(v, str) else v)  # XML values; typed variants stay text
            if q["type"] == "select_one" and other_q and spec.select_one_other == "blank":
                values = values.where(values != OTHER_LABEL, None)
            elif q["type"] == "select_one" and other_q and spec.select_one_other == "text":
                values = values.where(values != OTHER_LABEL, raw[other_q])
            out.append(list(values))
        elif col.role == "other_text":
            out.append(list(raw[other_q]))
        elif col.role in ("names", "ignored", "dummy"):
            cells = [(" ".join(v) if col.role == "names" else int(col.choice in v)) if isinstance(v, tuple) and v else None for v in values]
            out.append(cells)
        elif col.role == "choice":
            label = _labels(inst, col.qid)[col.choice]
            out.append([label if isinstance(v, tuple) and col.choice in v else None for v in values])
        elif col.role == "joined":
            labels = _labels(inst, col.qid)
            cells = []
            for v, other_text in zip(values, raw[other_q] if other_q else [None] * n):
                if not isinstance(v, tuple) or not v:
                    cells.append(None)
                    continue
                parts = [labels[c] for c in v if not (c == "other" and other_q)]
                if "other" in v and other_q and isinstance(other_text, str):
                    parts.append(other_text)
                cells.append(spec.join.join(parts) + spec.join_end)
            out.append(cells)
    return out


def write_export(raw: pd.DataFrame, inst, platform: str, path) -> Path:
    """Write ``raw`` as ``platform`` would export it.

    Parameters
    ----------
    raw : pandas.DataFrame
        Raw response table (see module docstring).
    inst : Instrument
        The instrument the responses answer.
    platform : str
        A registered platform name (:func:`cmlkit.platform_registry.platform_names`; the built-in
        ones are ``surveymonkey``, ``qualtrics``, ``singleheader``, ``msforms``, ``kobo``, ``spss``).
    path : path-like
        Destination; its extension should be the platform's
        (:attr:`~cmlkit.platform_registry.Platform.extension`). Folders are created.

    Returns
    -------
    pathlib.Path
        ``path``. Workbooks and SPSS files have their creation times pinned, so the same raw table
        gives the same bytes.

    Raises
    ------
    ValueError
        ``platform`` is not registered.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = get_platform(platform)
    cols = layout(inst, platform)
    body = _cells(raw, inst, spec, cols)
    headers = [[c.headers[i] for c in cols] for i in range(len(cols[0].headers))]
    return CONTAINER_WRITERS[spec.container](spec, path, headers, body, cols, inst)


def _write_csv(spec, path, headers, body, cols, inst) -> Path:
    """CSV in the platform's encoding and delimiter, CRLF line ends."""
    with open(path, "w", encoding=spec.encoding, newline="") as fh:
        csv.writer(fh, lineterminator="\r\n", delimiter=spec.delimiter).writerows(headers)
        frame = pd.DataFrame({i: col for i, col in enumerate(body)})
        frame.to_csv(fh, header=False, index=False, sep=spec.delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    return path


def _write_xlsx(spec, path, headers, body, cols, inst) -> Path:
    """A one-sheet workbook (``Sheet1``): header rows, then the body; datetimes as Excel datetimes."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    for row in headers + [list(r) for r in zip(*body)]:
        ws.append([None if (isinstance(v, float) and np.isnan(v)) else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for v in row])
    wb.save(path)
    return freeze_xlsx(path)  # fixed times: the same seed gives the same bytes


def _write_sav(spec, path, headers, body, cols, inst) -> Path:
    """SPSS .sav: select_one as codes with value labels (text where a value is not a choice), dummies 0/1."""
    import pyreadstat

    data, labels, value_labels = {}, {}, {}
    for col, cells in zip(cols, body):
        name = col.headers[0]
        series = pd.Series(cells, dtype=object)
        if col.role == "meta" and col.meta in ("start", "end"):
            data[name] = pd.to_datetime(series)
            continue
        if col.qid is not None:
            q = inst.question(col.qid)
            labels[name] = q["text"] if col.role == "value" else f"{q['text']} - {dict((c['name'], c['label']) for c in inst.choices(col.qid))[col.choice]}"
            if col.role == "value" and q["type"] == "select_one":
                codes = {c["name"]: k for k, c in enumerate(inst.choices(col.qid), start=1)}
                if series.dropna().isin(list(codes)).all():
                    data[name] = series.map(codes).astype(float)
                    value_labels[name] = {float(k): c["label"] for k, c in enumerate(inst.choices(col.qid), start=1)}
                    continue
            if col.role == "value" and q["type"] in ("integer", "decimal"):
                num = pd.to_numeric(series, errors="coerce")
                if num.notna().sum() == series.notna().sum():
                    data[name] = num.astype(float)
                    continue
            if col.role == "dummy":
                data[name] = pd.to_numeric(series, errors="coerce").astype(float)
                continue
        if col.meta == "status":
            value_labels[name] = {0.0: "IP Address", 1.0: "Survey Preview"}
        if col.meta in ("status", "progress", "duration", "finished"):
            data[name] = pd.to_numeric(series, errors="coerce").astype(float)
            continue
        data[name] = series.map(lambda v: "" if v is None else str(v))
    frame = pd.DataFrame(data)
    pyreadstat.write_sav(frame, str(path), column_labels=[labels.get(c, c) for c in frame.columns],
                         variable_value_labels=value_labels)
    # the SAV header holds the creation date (offset 92, 9 bytes) and time (offset 101, 8 bytes): pin them
    data = bytearray(path.read_bytes())
    if data[:4] in (b"$FL2", b"$FL3"):
        data[92:109] = b"01 Jan 2500:00:00"
        path.write_bytes(bytes(data))
    return path


CONTAINER_WRITERS = {"csv": _write_csv, "xlsx": _write_xlsx, "sav": _write_sav}   # Platform.container -> writer
