"""Write a raw response table the way each survey platform exports it (see :mod:`cmlkit.platforms`).

The *raw table* is what respondents typed, one row per submission: metadata columns
``_respondent_id, _start, _end, _status, _progress, _finished`` and one column per question id
holding a string (a choice *label* for select_one, a tuple of choice *names* for
select_multiple, text or numbers as typed), or None when blank.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook

from cmlkit.tables import freeze_xlsx
from cmlkit.platforms import DATE_FORMATS, JOIN, OTHER_LABEL, layout

EXTENSIONS = {"surveymonkey": ".csv", "qualtrics": ".csv", "singleheader": ".csv", "msforms": ".xlsx", "kobo": ".csv", "spss": ".sav"}
ENCODINGS = {"surveymonkey": "utf-8", "qualtrics": "utf-8-sig", "singleheader": "utf-8", "kobo": "utf-8"}
DELIMITERS = {"kobo": ";"}


def _labels(inst, qid):
    return {c["name"]: c["label"] for c in inst.choices(qid)}


def _cells(raw: pd.DataFrame, inst, platform: str) -> list:
    """Return the export's body as a list of columns (each a list of cell values)."""
    n = len(raw)
    fmt = DATE_FORMATS[platform]
    out = []
    for col in layout(inst, platform):
        if col.role == "meta":
            if col.meta == "respondent_id":
                ids = raw["_respondent_id"].astype(str)
                if platform == "qualtrics":
                    ids = "R_" + raw["_respondent_id"].map(lambda v: np.base_repr(int(v), 36)).str.rjust(15, "0")
                elif platform in ("singleheader", "msforms"):
                    ids = pd.Series(np.arange(1, n + 1), index=raw.index).astype(str)
                out.append(list(ids))
            elif col.meta in ("start", "end"):
                ts = raw["_" + col.meta]
                out.append(list(ts) if fmt is None else list(ts.dt.strftime(fmt)))
            elif col.meta in ("_uuid", "ignored:_uuid"):
                out.append(list(raw["_respondent_id"].map(lambda v: f"{int(v):032x}"[-32:])))
            elif col.meta in ("ignored:_submission_time",):
                out.append(list(raw["_end"].dt.strftime("%Y-%m-%dT%H:%M:%S")))
            elif col.meta == "ignored:_index":
                out.append([str(i) for i in range(1, n + 1)])
            elif col.meta == "ignored:_status":
                out.append(list(raw["_status"].map({"normal": "submitted_via_web", "preview": "submitted_via_web"})))
            elif col.meta == "status" and platform == "spss":
                out.append(list(raw["_status"].map({"normal": 0, "preview": 1})))
            elif col.meta == "finished" and platform == "spss":
                out.append(list(raw["_finished"].astype(int)))
            elif col.meta == "progress" and platform == "spss":
                out.append(list(raw["_progress"].astype(int)))
            elif col.meta == "duration" and platform == "spss":
                out.append(list(((raw["_end"] - raw["_start"]).dt.total_seconds()).astype(int)))
            elif col.meta == "status":
                out.append(list(raw["_status"].map({"normal": "IP Address", "preview": "Survey Preview"})))
            elif col.meta == "progress":
                out.append(list(raw["_progress"].astype(str)))
            elif col.meta == "duration":
                out.append(list(((raw["_end"] - raw["_start"]).dt.total_seconds()).astype(int).astype(str)))
            elif col.meta == "finished":
                out.append(list(raw["_finished"].map({True: "True", False: "False"})))
            elif col.headers[0] == "DistributionChannel":
                out.append(list(raw["_status"].map({"normal": "anonymous", "preview": "preview"})))
            elif col.headers[0] == "UserLanguage":
                out.append(["EN"] * n)
            elif col.headers[0] == "Collector ID":
                out.append(["431234567"] * n)
            elif col.headers[0] == "Email" and platform == "msforms":
                out.append(["anonymous"] * n)
            else:
                out.append([None] * n)
            continue
        q = inst.question(col.qid)
        values = raw[col.qid]
        other_q = inst.other_text_for(col.qid) if q["type"].startswith("select") else None
        if col.role == "value":
            if q["type"] == "select_one" and platform in ("kobo", "spss"):
                names = {c["label"]: c["name"] for c in inst.choices(col.qid)}
                values = values.map(lambda v: names.get(v, v) if isinstance(v, str) else v)  # XML values; typed variants stay text
            if q["type"] == "select_one" and platform == "surveymonkey" and other_q:
                values = values.where(values != OTHER_LABEL, None)
            elif q["type"] == "select_one" and platform in ("singleheader", "msforms") and other_q:
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
            sep = JOIN[platform]
            cells = []
            for v, other_text in zip(values, raw[other_q] if other_q else [None] * n):
                if not isinstance(v, tuple) or not v:
                    cells.append(None)
                    continue
                parts = [labels[c] for c in v if not (c == "other" and other_q)]
                if "other" in v and other_q and isinstance(other_text, str):
                    parts.append(other_text)
                cell = sep.join(parts)
                cells.append(cell + ";" if platform == "msforms" else cell)
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
    platform : {"surveymonkey", "qualtrics", "singleheader", "msforms"}
    path : path-like
        Destination (``.csv`` or, for ``msforms``, ``.xlsx``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = layout(inst, platform)
    body = _cells(raw, inst, platform)
    n_header = len(cols[0].headers)
    headers = [[c.headers[i] for c in cols] for i in range(n_header)]
    if platform == "spss":
        return _write_sav(cols, body, inst, path)
    if platform == "msforms":
        wb = Workbook()
        ws = wb.active
        ws.title = "Sheet1"
        for row in headers + [list(r) for r in zip(*body)]:
            ws.append([None if (isinstance(v, float) and np.isnan(v)) else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for v in row])
        wb.save(path)
        return freeze_xlsx(path)  # fixed times: the same seed gives the same bytes
    delim = DELIMITERS.get(platform, ",")
    with open(path, "w", encoding=ENCODINGS[platform], newline="") as fh:
        csv.writer(fh, lineterminator="\r\n", delimiter=delim).writerows(headers)
        frame = pd.DataFrame({i: col for i, col in enumerate(body)})
        frame.to_csv(fh, header=False, index=False, sep=delim, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    return path


def _write_sav(cols, body, inst, path) -> Path:
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
