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

EXTENSIONS = {"surveymonkey": ".csv", "qualtrics": ".csv", "singleheader": ".csv", "msforms": ".xlsx"}
ENCODINGS = {"surveymonkey": "utf-8", "qualtrics": "utf-8-sig", "singleheader": "utf-8"}


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
            if q["type"] == "select_one" and platform == "surveymonkey" and other_q:
                values = values.where(values != OTHER_LABEL, None)
            elif q["type"] == "select_one" and platform in ("singleheader", "msforms") and other_q:
                values = values.where(values != OTHER_LABEL, raw[other_q])
            out.append(list(values))
        elif col.role == "other_text":
            out.append(list(raw[other_q]))
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
    rows = [list(r) for r in zip(*body)] if body else []
    if platform == "msforms":
        wb = Workbook()
        ws = wb.active
        ws.title = "Sheet1"
        for row in headers + rows:
            ws.append([None if (isinstance(v, float) and np.isnan(v)) else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for v in row])
        wb.save(path)
        return freeze_xlsx(path)  # fixed times: the same seed gives the same bytes
    with open(path, "w", encoding=ENCODINGS[platform], newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerows(headers)
        writer.writerows([["" if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in r] for r in rows])
    return path
