"""Labelled exports for SPSS, Stata and R: ``.sav`` and ``.dta`` with variable and value labels.

Variable labels come from the instrument's question text (a choice column ``question__choice`` gets
"question: choice"), from :data:`DERIVED_LABELS` for the columns cmlkit adds (weight, strata,
fpc, ...) and from ``research/indicators.yml`` for indicators. A ``select_one`` answer is stored as
its position in the instrument's choice list (1, 2, ...) with the choice labels as value labels, so
the file reads the same in SPSS, Stata (which labels numbers only) and R (``haven``); a choice
column of a ``select_multiple`` is 0/1 labelled No/Yes. Personal columns of the instrument are never
written. Stata names are kept to 28 characters (a value-label set is named after its variable): longer names are shortened deterministically and the
codebook gives both names. Files are written by ``pyreadstat`` (ReadStat) and their creation
timestamps fixed afterwards, so the same data give the same bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyreadstat

DERIVED_LABELS = {
    "response_id": "Response id given by the survey platform",
    "submitted_at": "Date and time the response was submitted",
    "duration_s": "Time taken to complete the survey (seconds)",
    "library_id": "Library id in the population frame",
    "region": "English region of the library (design stratum)",
    "type": "Governance type in the frame (CR community run, ICL independent community library)",
    "N_region": "In-scope libraries in the region (finite population correction)",
    "cell": "Weighting cell (region x governance type, after collapsing)",
    "weight": "Survey weight: libraries represented by this response (calibrated to the frame)",
    "age_band": "Age band",
}
"""Columns cmlkit adds to the instrument's questions -> variable label."""

YES_NO = {0: "No", 1: "Yes"}
STATA_MAX = 28  # Stata allows 32, but ReadStat names a value-label set after its variable plus a suffix
SAV_EPOCH, DTA_EPOCH = b"01 Jan 0000:00:00", b"01 Jan 2000 00:00"


def _question_of(column: str, inst) -> dict | None:
    by_canonical = {q["canonical"]: q for q in inst.questions}
    if column in by_canonical:
        return by_canonical[column]
    head, sep, _ = column.partition("__")
    return by_canonical.get(head) if sep else None


def variable_label(column: str, inst, *, extra: dict | None = None) -> str:
    """The label of one column: ``extra``, the instrument (question text, "question: choice"), or :data:`DERIVED_LABELS`."""
    extra = extra or {}
    if column in extra:
        return str(extra[column])
    q = _question_of(column, inst)
    if q is not None:
        text = str(q["text"]).strip()
        if column != q["canonical"]:
            choice = column.partition("__")[2]
            labels = {c["name"]: c["label"] for c in inst.choices(q["id"])} if q.get("choices") else {}
            return f"{text.rstrip('?')}: {labels.get(choice, choice)}"
        return text
    return DERIVED_LABELS.get(column, column.replace("_", " "))


def stata_names(columns) -> dict:
    """Column -> a valid Stata name of at most :data:`STATA_MAX` characters, unique, the same for the same columns."""
    out, used = {}, set()
    for col in columns:
        name = re.sub(r"[^A-Za-z0-9_]", "_", str(col).replace("__", "_"))
        if not re.match(r"[A-Za-z_]", name):
            name = "v_" + name
        base, k = name[:STATA_MAX], 1
        name = base
        while name.lower() in used:
            k += 1
            name = f"{base[:STATA_MAX - len(str(k)) - 1]}_{k}"
        used.add(name.lower())
        out[col] = name
    return out


def prepare(data: pd.DataFrame, inst, *, extra_labels: dict | None = None) -> tuple[pd.DataFrame, dict, dict, pd.DataFrame]:
    """Data ready for ReadStat, with variable labels, value labels and one description row per column.

    Returns
    -------
    (frame, column_labels, value_labels, variables)
        ``frame`` has coded ``select_one`` answers, 0/1 choice columns, plain float/str/datetime
        dtypes and no personal column; ``variables`` has ``variable, label, type, values, source_question,
        in_labelled_files`` for every column of ``data`` (the codebook's rows).
    """
    personal = set(inst.personal_ids) | {q["canonical"] for q in inst.questions if q.get("personal")}
    out, labels, values, rows = {}, {}, {}, []
    for col in data.columns:
        q = _question_of(col, inst)
        label = variable_label(col, inst, extra=extra_labels)
        s = data[col]
        kind, vals = str(s.dtype), ""
        if col in personal:
            rows.append({"variable": col, "label": label, "type": "text (personal)", "values": "", "source_question": q["id"] if q else "",
                         "in_labelled_files": "no: personal data"})
            continue
        if q is not None and q["type"] == "select_one" and col == q["canonical"]:
            choices = inst.choices(q["id"])
            codes = {c["name"]: i for i, c in enumerate(choices, start=1)}
            text = s.astype("string")
            unknown = sorted(set(text.dropna()) - set(codes))
            if unknown:
                raise ValueError(f"column {col!r}: values {unknown[:3]} are not choices of {q['id']!r}")
            out[col] = text.map(codes).astype(float).to_numpy()
            values[col] = {float(i): c["label"] for i, c in enumerate(choices, start=1)}
            kind, vals = "categorical (coded)", "; ".join(f"{i} = {c['label']}" for i, c in enumerate(choices, start=1))
        elif q is not None and q["type"] == "select_multiple" and col != q["canonical"]:
            out[col] = pd.to_numeric(s, errors="coerce").astype(float).to_numpy()
            values[col] = {float(k): v for k, v in YES_NO.items()}
            kind, vals = "0/1 (chosen)", "0 = No; 1 = Yes"
        elif pd.api.types.is_bool_dtype(s):
            out[col] = s.astype(float).to_numpy()
            values[col] = {float(k): v for k, v in YES_NO.items()}
            kind, vals = "0/1", "0 = No; 1 = Yes"
        elif pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s
            kind = "date-time"
        elif pd.api.types.is_numeric_dtype(s):
            out[col] = pd.to_numeric(s, errors="coerce").astype(float).to_numpy()
            kind = "integer" if q is not None and q["type"] == "integer" else "number"
            c = (q or {}).get("constraint") or {}
            vals = f"{c['min']} to {c['max']}" if "min" in c and "max" in c else ""
        else:
            out[col] = s.astype(object).where(s.notna(), None).to_numpy()
            kind = "text"
        labels[col] = label
        rows.append({"variable": col, "label": label, "type": kind, "values": vals, "source_question": q["id"] if q else "",
                     "in_labelled_files": "yes"})
    return pd.DataFrame(out, index=data.index), labels, values, pd.DataFrame(rows)


def _clip(text: str, n_bytes: int) -> str:
    """Text cut to at most ``n_bytes`` of UTF-8 (Stata's label limits are in bytes)."""
    return text.encode("utf-8")[:n_bytes].decode("utf-8", "ignore")


def _fix_sav_time(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[92:92 + len(SAV_EPOCH)] = SAV_EPOCH  # header: creation date (9 bytes) and time (8 bytes)
    path.write_bytes(bytes(raw))


def _fix_dta_time(path: Path) -> None:
    raw = path.read_bytes()
    raw = re.sub(rb"<timestamp>.[^<]*</timestamp>", b"<timestamp>" + bytes([len(DTA_EPOCH)]) + DTA_EPOCH + b"</timestamp>", raw, count=1)
    path.write_bytes(raw)


def write_labelled(data: pd.DataFrame, inst, path_stem, *, extra_labels: dict | None = None, file_label: str = "") -> dict:
    """Write ``<stem>.sav`` and ``<stem>.dta`` with labels; return paths and the variables table.

    Returns
    -------
    dict
        ``{"sav": path, "dta": path, "variables": DataFrame}`` (``variables`` with ``stata_name``).
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    frame, labels, values, variables = prepare(data, inst, extra_labels=extra_labels)
    sav = stem.with_suffix(".sav")
    pyreadstat.write_sav(frame, str(sav), file_label=file_label[:64], column_labels=labels, variable_value_labels=values,
                         variable_measure={c: "nominal" for c in values})
    _fix_sav_time(sav)
    names = stata_names(frame.columns)
    dta_frame = frame.rename(columns=names)
    for c in dta_frame.columns:
        if dta_frame[c].dtype == object:  # Stata str columns hold at most 2045 bytes
            s = dta_frame[c]
            dta_frame[c] = s.astype("string").str.slice(0, 2045).astype(object).where(s.notna(), None)
    dta = stem.with_suffix(".dta")
    pyreadstat.write_dta(dta_frame, str(dta), file_label=_clip(file_label, 80), column_labels={names[c]: _clip(v, 80) for c, v in labels.items()},
                         variable_value_labels={names[c]: {int(k): _clip(v, 32000) for k, v in vl.items()} for c, vl in values.items()},
                         version=15)
    _fix_dta_time(dta)
    variables["stata_name"] = variables["variable"].map(names).fillna("")
    return {"sav": sav, "dta": dta, "variables": variables}


def read_back(path) -> tuple[pd.DataFrame, object]:
    """Read a labelled file with pyreadstat (``.sav`` or ``.dta``): data and metadata (labels)."""
    path = Path(path)
    reader = pyreadstat.read_sav if path.suffix.lower() == ".sav" else pyreadstat.read_dta
    return reader(str(path))



def with_indicators(weighted: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """The weighted responses with the indicator columns they do not already hold, side by side.

    Parameters
    ----------
    weighted : pandas.DataFrame
        The weighted responses.
    values : pandas.DataFrame
        The indicators computed from them (:func:`cmlkit.indicators.compute`), with the same index.

    Returns
    -------
    pandas.DataFrame
        ``weighted``'s columns, then the columns of ``values`` not in ``weighted`` (their order kept).
    """
    return pd.concat([weighted, values.drop(columns=[c for c in values if c in weighted])], axis=1)
