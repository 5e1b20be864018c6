"""XLSForm import and export, so an instrument can be fielded on KoboToolbox/ODK and back.

Export writes the ``survey``, ``choices`` and ``settings`` sheets. Sections become
``begin_group``/``end_group`` pairs; min/max constraints become XPath (``. >= 0 and . <= 84``);
cmlkit's own fields travel in extra columns (``canonical``, ``personal_data``, ``grid``), which
ODK tools ignore. Import accepts the usual column-name and type aliases (``relevance``,
``label::English (en)``, ``select one``, ``select all that apply``, ``list name`` …), skips
metadata and note rows, and validates the result like any instrument.
"""

from __future__ import annotations

import re
from pathlib import Path

from cmlkit.errors import InstrumentError
from cmlkit.instrument import Instrument

SURVEY_COLUMNS = ["type", "name", "label", "required", "relevant", "constraint", "canonical", "personal_data", "grid"]
CHOICE_COLUMNS = ["list_name", "name", "label", "score"]

_COLUMN_ALIASES = {
    "relevance": "relevant", "bind::relevant": "relevant", "bind:relevant": "relevant",
    "bind::required": "required", "bind::constraint": "constraint",
    "list name": "list_name", "listname": "list_name", "value": "name",
    "form_id": "form_id", "id_string": "form_id", "set_form_id": "form_id",
    "title": "form_title", "form title": "form_title",
}
_TYPE_ALIASES = {
    "select one": "select_one", "select1": "select_one", "select one from": "select_one",
    "select_one": "select_one", "select multiple": "select_multiple",
    "select all that apply": "select_multiple", "select_multiple": "select_multiple",
    "int": "integer", "integer": "integer", "decimal": "decimal", "text": "text",
    "string": "text", "date": "date", "begin group": "begin_group", "begin_group": "begin_group",
    "end group": "end_group", "end_group": "end_group",
}
_SKIP_TYPES = {
    "start", "end", "today", "deviceid", "phonenumber", "username", "email", "audit",
    "note", "calculate", "hidden", "simserial", "subscriberid", "begin repeat", "end repeat",
    "begin_repeat", "end_repeat",
}
_NUM = r"(-?\d+(?:\.\d+)?)"
_MIN_RE = re.compile(r"^\.\s*>=\s*" + _NUM + "$")
_MAX_RE = re.compile(r"^\.\s*<=\s*" + _NUM + "$")


def _num(text: str):
    value = float(text)
    return int(value) if value.is_integer() else value


def _constraint_to_xpath(c: dict | None) -> str | None:
    if not c:
        return None
    parts = []
    if "min" in c:
        parts.append(f". >= {c['min']}")
    if "max" in c:
        parts.append(f". <= {c['max']}")
    return " and ".join(parts)


def _xpath_to_constraint(expr, *, where, row, qid):
    if expr is None or str(expr).strip() == "":
        return None
    out = {}
    for part in re.split(r"\s+and\s+", str(expr).strip()):
        m_min, m_max = _MIN_RE.match(part.strip()), _MAX_RE.match(part.strip())
        if m_min:
            out["min"] = _num(m_min.group(1))
        elif m_max:
            out["max"] = _num(m_max.group(1))
        else:
            raise InstrumentError(
                f"constraint {expr!r} is not supported (only '. >= a and . <= b' ranges)",
                file=where, row=row, column=qid)
    return out


def write_xlsform(inst: Instrument, path) -> Path:
    """Write an instrument as an XLSForm workbook.

    Parameters
    ----------
    inst : Instrument
        The instrument version to export.
    path : path-like
        Destination ``.xlsx``.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    from openpyxl import Workbook   # imported here, not at the top: only the steps that read or write a workbook load openpyxl
    path = Path(path)
    wb = Workbook()
    survey = wb.active
    survey.title = "survey"
    survey.append(SURVEY_COLUMNS)
    by_section: dict = {}
    for q in inst.questions:
        by_section.setdefault(q["section"], []).append(q)
    for sec in inst.sections:
        survey.append(["begin_group", sec["id"], sec["label"]])
        for q in by_section.get(sec["id"], []):
            qtype = f"{q['type']} {q['choices']}" if q["choices"] else q["type"]
            survey.append([
                qtype, q["id"], q["text"], "yes" if q["required"] else None, q["relevant"],
                _constraint_to_xpath(q["constraint"]),
                q["canonical"] if q["canonical"] != q["id"] else None,
                "yes" if q["personal"] else None, q["grid"],
            ])
        survey.append(["end_group", sec["id"]])
    choices = wb.create_sheet("choices")
    choices.append(CHOICE_COLUMNS)
    for list_name, items in inst.choice_lists.items():
        for c in items:
            choices.append([list_name, c["name"], c["label"], c.get("score")])
    settings = wb.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "unit", "frame_year"])
    settings.append([inst.title, inst.instrument, inst.version, inst.unit, inst.frame_year])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _sheet_records(wb, name, where):
    lookup = {ws.title.strip().lower(): ws for ws in wb.worksheets}
    ws = lookup.get(name)
    if ws is None:
        if name == "settings":
            return []
        raise InstrumentError(f"XLSForm has no {name!r} sheet", file=where)
    rows = list(ws.iter_rows(values_only=True))
    if not rows:
        return []
    header = []
    for cell in rows[0]:
        key = "" if cell is None else str(cell).strip()
        low = key.lower()
        if low.startswith("label::") or low.startswith("label:"):
            low = "label" if "label" not in header else low
        header.append(_COLUMN_ALIASES.get(low, low))
    records = []
    for i, row in enumerate(rows[1:], start=2):
        if all(v is None or str(v).strip() == "" for v in row):
            continue
        rec = {h: v for h, v in zip(header, row) if h}
        rec["_row"] = i
        records.append(rec)
    return records


def _truthy(value) -> bool:
    return value is not None and str(value).strip().lower() in {"yes", "true", "1", "true()"}


def _blank(value):
    return None if value is None or str(value).strip() == "" else value


def read_xlsform(path, *, instrument: str | None = None, version: str | None = None) -> Instrument:
    """Read an XLSForm workbook into an :class:`Instrument`.

    Parameters
    ----------
    path : path-like
        The ``.xlsx`` XLSForm.
    instrument, version : str, optional
        Override the ``form_id`` and ``version`` from the settings sheet (ODK versions such as
        ``2025063001`` are not wave ids, so pass the wave here).

    Returns
    -------
    Instrument

    Raises
    ------
    InstrumentError
        On a missing sheet, an unknown type or an unsupported constraint, naming the row.
    """
    from openpyxl import load_workbook   # imported here, not at the top: only the steps that read or write a workbook load openpyxl
    path = Path(path)
    where = str(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a non-workbook
        raise InstrumentError(f"not a readable XLSForm workbook ({type(exc).__name__})", file=where) from None
    survey = _sheet_records(wb, "survey", where)
    choice_rows = _sheet_records(wb, "choices", where)
    settings_rows = _sheet_records(wb, "settings", where)
    settings = settings_rows[0] if settings_rows else {}
    for sheet, rows, needed in (("survey", survey, ("type", "name")), ("choices", choice_rows, ("list_name", "name"))):
        absent = [c for c in needed if not any(c in r for r in rows)] if rows or sheet == "survey" else []
        if absent:
            raise InstrumentError(f"the {sheet} sheet has no {absent[0]!r} column (is this an XLSForm?)", file=where, row=1)

    choice_lists: dict = {}
    for rec in choice_rows:
        if _blank(rec.get("list_name")) is None:
            continue
        item = {"name": str(rec["name"]).strip(), "label": str(rec.get("label") or rec["name"])}
        if _blank(rec.get("score")) is not None:
            item["score"] = _num(str(rec["score"]))
        choice_lists.setdefault(str(rec["list_name"]).strip(), []).append(item)

    sections, questions, stack = [], [], []
    for rec in survey:
        raw_type = str(rec.get("type") or "").strip()
        if not raw_type:
            continue
        low = " ".join(raw_type.lower().split())
        if low in _SKIP_TYPES:
            continue
        base, _, list_name = low.partition(" ")
        if base in ("begin", "end"):  # "begin group" / "end group"
            base, list_name = f"{base} {list_name}".split(" ", 1)[0] + "_group", ""
        qtype = _TYPE_ALIASES.get(base)
        if qtype is None:
            for alias, canonical_type in _TYPE_ALIASES.items():
                if low.startswith(alias + " "):
                    qtype, list_name = canonical_type, raw_type[len(alias) + 1:].strip()
                    break
        else:
            list_name = raw_type.split(None, 1)[1].strip() if " " in raw_type and qtype.startswith("select") else ""
        if qtype is None:
            raise InstrumentError(f"unsupported XLSForm type {raw_type!r}", file=where, row=rec["_row"], column="type")
        if qtype == "begin_group":
            sid = str(rec.get("name") or f"group{len(sections) + 1}")
            sections.append({"id": sid, "label": str(rec.get("label") or sid)})
            stack.append(sid)
            continue
        if qtype == "end_group":
            if stack:
                stack.pop()
            continue
        if not stack:
            if not any(s["id"] == "main" for s in sections):
                sections.append({"id": "main", "label": "Questions"})
        qid = str(rec.get("name") or "").strip()
        q = {
            "id": qid,
            "canonical": str(_blank(rec.get("canonical")) or qid).strip(),
            "section": stack[-1] if stack else "main",
            "type": qtype,
            "text": str(rec.get("label") or qid),
            "choices": (list_name.split()[0] if list_name else None) if qtype.startswith("select") else None,
            "constraint": _xpath_to_constraint(_blank(rec.get("constraint")), where=where, row=rec["_row"], qid=qid),
            "required": _truthy(rec.get("required")),
            "relevant": _blank(rec.get("relevant")),
            "personal": _truthy(rec.get("personal_data")),
            "grid": _blank(rec.get("grid")),
        }
        questions.append(q)
    used = {s for s in (q["section"] for q in questions)}
    sections = [s for s in sections if s["id"] in used]
    frame_year = _blank(settings.get("frame_year"))
    data = {
        "instrument": instrument or str(settings.get("form_id") or path.stem),
        "version": version or str(settings.get("version") or ""),
        "title": str(settings.get("form_title") or settings.get("form_id") or path.stem),
        "unit": str(settings.get("unit") or "respondent"),
        "frame_year": None if frame_year is None else int(frame_year),
        "sections": sections,
        "choice_lists": choice_lists,
        "questions": questions,
    }
    return Instrument.from_dict(data, source=where)
