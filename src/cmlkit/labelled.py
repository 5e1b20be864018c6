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
    """The variable label of one column.

    Parameters
    ----------
    column : str
        A column of the data: a question's canonical name, a choice column ``<question>__<choice>``
        or a column cmlkit adds.
    inst : cmlkit.instrument.Instrument
        The wave's instrument.
    extra : dict, optional
        Column -> label, taking precedence over everything else (indicator labels).

    Returns
    -------
    str
        In order of precedence: ``extra[column]``; the question text (stripped) for a question's
        column; "question text without its final ``?``: choice label" for a choice column (the choice
        name where the question has no such choice); :data:`DERIVED_LABELS`; else the column name
        with underscores as spaces.
    """
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
    """Column -> a valid Stata name of at most :data:`STATA_MAX` characters, unique and deterministic.

    Parameters
    ----------
    columns : iterable of str
        Column names, in file order.

    Returns
    -------
    dict
        Column -> Stata name. ``__`` becomes ``_``, any character other than a letter, digit or
        underscore becomes ``_``, a name not starting with a letter or underscore gets ``v_`` in
        front, and the name is cut to :data:`STATA_MAX` (28) characters. A name already used
        (ignoring case) by an earlier column is cut further and suffixed ``_2``, ``_3``, ...; the same
        columns in the same order always give the same names.
    """
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

    Parameters
    ----------
    data : pandas.DataFrame
        The data set to export (cleaned or weighted responses).
    inst : cmlkit.instrument.Instrument
        The wave's instrument: question types, choices, constraints and personal questions.
    extra_labels : dict, optional
        Column -> variable label, taking precedence (:func:`variable_label`).

    Returns
    -------
    frame : pandas.DataFrame
        Same index as ``data``, without personal columns (the instrument's ``personal_ids`` and the
        canonical names of personal questions). A ``select_one`` answer becomes its 1-based position
        in the choice list (float); ``select_multiple`` choice columns and boolean columns become 0/1
        floats; date-times are kept; other numeric columns become float; anything else becomes object
        (str, ``None`` where missing).
    column_labels : dict
        Column -> variable label, for every column of ``frame``.
    value_labels : dict
        Column -> {code (float): label} for coded ``select_one`` columns (the choice labels) and 0/1
        columns (No/Yes).
    variables : pandas.DataFrame
        One row per column of ``data``, personal ones included (the codebook's rows): ``variable,
        label, type, values, source_question, in_labelled_files``. ``type`` is ``categorical
        (coded)``, ``0/1 (chosen)``, ``0/1``, ``date-time``, ``integer``, ``number``, ``text`` or
        ``text (personal)``; ``values`` lists the codes and labels, or a numeric question's
        ``min to max`` constraint; ``in_labelled_files`` is ``yes`` or ``no: personal data``.

    Raises
    ------
    ValueError
        If a ``select_one`` column holds a value that is not a choice name of its question.
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
    """Write ``<stem>.sav`` and ``<stem>.dta`` with variable and value labels.

    Parameters
    ----------
    data : pandas.DataFrame
        The data set to export; personal columns are left out (:func:`prepare`).
    inst : cmlkit.instrument.Instrument
        The wave's instrument.
    path_stem : str or path-like
        Path of the files without (or with a replaced) suffix; missing parent folders are created.
    extra_labels : dict, optional
        Column -> variable label, taking precedence (:func:`variable_label`).
    file_label : str, default ""
        The file label: cut to 64 characters in the ``.sav``, to 80 bytes of UTF-8 in the ``.dta``.

    Returns
    -------
    dict
        ``{"sav": Path, "dta": Path, "variables": DataFrame}``: the two files and :func:`prepare`'s
        ``variables`` table with ``stata_name`` added (``""`` for columns not written).

    Raises
    ------
    ValueError
        If a ``select_one`` column holds a value that is not a choice of its question.

    Notes
    -----
    The ``.sav`` marks labelled columns nominal. The ``.dta`` (Stata 15 format) uses
    :func:`stata_names`; variable labels are cut to 80 bytes and value labels to 32,000 bytes of
    UTF-8, text cells to 2,045 characters. The creation timestamps of both files are then fixed
    (:data:`SAV_EPOCH`, :data:`DTA_EPOCH`), so the same data give the same bytes.
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
    """Read a labelled file with pyreadstat: data and metadata (labels).

    Parameters
    ----------
    path : str or path-like
        A ``.sav`` file (any case of the suffix); any other suffix is read as ``.dta``.

    Returns
    -------
    (pandas.DataFrame, pyreadstat.metadata_container)
        The data and its metadata (variable labels, value labels), as ``pyreadstat`` returns them.
    """
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
