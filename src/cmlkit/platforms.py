"""The built-in survey platforms, registered as :class:`~cmlkit.platform_registry.Platform` entries.

Each platform is one ``register_platform(Platform(...))`` entry below: header rows, detection,
metadata columns and keys, question layout, date format, multi-select separator and the writer's
conventions (:mod:`cmlkit.platform_registry` documents every field). Importing this module registers
them; the registry functions are re-exported here.

A *layout* is a list of :class:`Column` describing every column of an export for an instrument:
its header cells (one per header row), the question it carries and what its cells hold. The
writer in :mod:`cmlkit.synthetic.exports` fills cells from it; the reader in :mod:`cmlkit.ingest` maps
headers back through it, so the two can never drift apart.

Platforms
---------
``surveymonkey``
    Two header rows: question text (only in the first column of a multi-column question; the
    reader forward-fills it) and a sub-header (``Response``, ``Open-Ended Response``, a choice
    label, a grid item, ``Other (please specify)``). One column per multi-select choice, holding
    the choice label when ticked. Dates ``MM/DD/YYYY hh:mm:ss AM``.
``qualtrics``
    Three header rows: export tags (``Q5_3``), labels (``… - Selected Choice - Wifi``) and the
    ``{"ImportId": …}`` JSON row. Metadata ``StartDate, EndDate, Status, Progress, Duration (in
    seconds), Finished, ResponseId …`` kept aside. Dates ``YYYY-MM-DD hh:mm:ss``.
``singleheader``
    One header row (JISC Online Surveys / Google Forms style CSV): ``ID, Start time, Completion
    time``, then question text; grid items as ``Stem [Item]``; multi-select labels joined with
    ``", "`` in one cell, 'other' text as one more fragment. Dates ``DD/MM/YYYY hh:mm:ss``.
``msforms``
    Microsoft Forms workbook (XLSX): ``ID, Start time, Completion time, Email, Name``, then
    question text; multi-select joined with ``;`` and a trailing ``;``; Excel datetimes.
``kobo``
    KoboToolbox/ODK CSV ("XML values and headers", ``;``-separated, UTF-8 without BOM): ``start,
    end``, then ``group/question`` columns holding choice *names*, select_multiple both as the
    space-joined parent and as ``group/question/choice`` 0/1 columns, then ``_id, _uuid,
    _submission_time, _validation_status, _status, _index``. ISO 8601 times.
``spss``
    SPSS ``.sav`` (as SurveyMonkey/Qualtrics write it): one variable per question id, select_one as
    numeric codes with value labels, select_multiple as ``question__choice`` 0/1 variables,
    metadata ``ResponseId, StartDate, EndDate, Status, Progress, Duration__in_seconds_, Finished``.
    A variable holding text that is not a code (typed data) is a string variable.
"""

from __future__ import annotations

from cmlkit.platform_registry import (OTHER_LABEL, Column, Platform, detect, get_platform, header_text, meta_columns,
                                      platform_names, question_groups, register_platform, single_header_columns,
                                      split_grid_text)

__all__ = ["Column", "Platform", "OTHER_LABEL", "PLATFORMS", "layout", "register_platform",
           "get_platform", "platform_names", "detect"]

SM_META = ["Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address", "Email Address",
           "First Name", "Last Name", "Custom Data 1"]
QUALTRICS_META = [
    ("StartDate", "Start Date", '{"ImportId":"startDate","timeZone":"Europe/London"}'),
    ("EndDate", "End Date", '{"ImportId":"endDate","timeZone":"Europe/London"}'),
    ("Status", "Response Type", '{"ImportId":"status"}'),
    ("IPAddress", "IP Address", '{"ImportId":"ipAddress"}'),
    ("Progress", "Progress", '{"ImportId":"progress"}'),
    ("Duration (in seconds)", "Duration (in seconds)", '{"ImportId":"duration"}'),
    ("Finished", "Finished", '{"ImportId":"finished"}'),
    ("RecordedDate", "Recorded Date", '{"ImportId":"recordedDate","timeZone":"Europe/London"}'),
    ("ResponseId", "Response ID", '{"ImportId":"_recordId"}'),
    ("RecipientLastName", "Recipient Last Name", '{"ImportId":"recipientLastName"}'),
    ("RecipientFirstName", "Recipient First Name", '{"ImportId":"recipientFirstName"}'),
    ("RecipientEmail", "Recipient Email", '{"ImportId":"recipientEmail"}'),
    ("ExternalReference", "External Data Reference", '{"ImportId":"externalDataReference"}'),
    ("LocationLatitude", "Location Latitude", '{"ImportId":"locationLatitude"}'),
    ("LocationLongitude", "Location Longitude", '{"ImportId":"locationLongitude"}'),
    ("DistributionChannel", "Distribution Channel", '{"ImportId":"distributionChannel"}'),
    ("UserLanguage", "User Language", '{"ImportId":"userLanguage"}'),
]
SINGLE_META = {"ID": "respondent_id", "Start time": "start", "Completion time": "end"}
MSFORMS_META = {**SINGLE_META, "Email": "ignored:Email", "Name": "ignored:Name"}
KOBO_HEAD = {"start": "start", "end": "end"}
KOBO_TAIL = {"_id": "respondent_id", "_uuid": "ignored:_uuid", "_submission_time": "ignored:_submission_time",
             "_validation_status": "ignored:_validation_status", "_status": "ignored:_status", "_index": "ignored:_index"}
SPSS_META = {"ResponseId": "respondent_id", "StartDate": "start", "EndDate": "end", "Status": "status", "Progress": "progress",
             "Duration__in_seconds_": "duration", "Finished": "finished"}
FORMS_HEAD = ["id", "start time", "completion time"]
BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _first(rows) -> list:
    return [header_text(c) for c in rows[0]]


def _forward_fill_pairs(tops, subs) -> list:
    """(top, sub) keys, a blank top cell taking the last non-blank one (SurveyMonkey's first header row)."""
    keys, last = [], ""
    for t, sub in zip(tops, subs):
        t = t if t not in (None, "") else last
        last = t
        keys.append((header_text(t), header_text(sub)))
    return keys


def _pair_expected(cols) -> list:
    return [(header_text(c.headers[0]), header_text(c.headers[1])) for c in cols]


# SurveyMonkey ------------------------------------------------------------------------------------

def _is_surveymonkey(rows, container) -> bool:
    return ("respondent id" in _first(rows) and len(rows) > 1
            and any(header_text(c) in ("response", "open-ended response") for c in rows[1]))


def _surveymonkey_columns(inst) -> list:
    cols = []
    for kind, qs in question_groups(inst):
        if kind == "grid":
            for i, q in enumerate(qs, start=1):
                stem, item = split_grid_text(q["text"])
                cols.append(Column((stem if i == 1 else "", item), q["id"], "value"))
            continue
        q = qs[0]
        other = inst.other_text_for(q["id"]) if q["type"].startswith("select") else None
        if q["type"] == "select_multiple":
            first = True
            for c in inst.choices(q["id"]):
                if c["name"] == "other" and other:
                    continue
                cols.append(Column((q["text"] if first else "", c["label"]), q["id"], "choice", choice=c["name"]))
                first = False
            if other:
                cols.append(Column(("", OTHER_LABEL), q["id"], "other_text"))
        elif q["type"] == "select_one":
            cols.append(Column((q["text"], "Response"), q["id"], "value"))
            if other:
                cols.append(Column(("", OTHER_LABEL), q["id"], "other_text"))
        else:
            cols.append(Column((q["text"], "Open-Ended Response"), q["id"], "value"))
    return cols


def _surveymonkey_keys(rows, n_cols) -> list:
    return _forward_fill_pairs((list(rows[0]) + [""] * n_cols)[:n_cols], (list(rows[1]) + [""] * n_cols)[:n_cols])


def _surveymonkey_expected(cols) -> list:
    return _forward_fill_pairs([c.headers[0] for c in cols], [c.headers[1] for c in cols])


_SM_KEYS = {"Respondent ID": "respondent_id", "Start Date": "start", "End Date": "end"}
register_platform(Platform(
    name="surveymonkey", title="SurveyMonkey", detect=_is_surveymonkey, columns=_surveymonkey_columns,
    meta=tuple(Column((h, ""), None, "meta", meta=_SM_KEYS.get(h, "ignored:" + h)) for h in SM_META),
    header_rows=2, priority=30, header_keys=_surveymonkey_keys, expected_keys=_surveymonkey_expected,
    sparse_top_row=True, date_format="%m/%d/%Y %I:%M:%S %p", select_one_other="blank",
    cells={"ignored:Collector ID": lambda raw: ["431234567"] * len(raw)}))


# Qualtrics ---------------------------------------------------------------------------------------

def _is_qualtrics(rows, container) -> bool:
    return len(rows) > 2 and any(str(c).lstrip().startswith('{"ImportId"') for c in rows[2])


def _qualtrics_columns(inst) -> list:
    cols = []
    for qnum, (kind, qs) in enumerate(question_groups(inst), start=1):
        if kind == "grid":
            for i, q in enumerate(qs, start=1):
                stem, item = split_grid_text(q["text"])
                cols.append(Column((f"Q{qnum}_{i}", f"{stem} - {item}", '{"ImportId":"QID%d_%d"}' % (qnum, i)), q["id"], "value"))
            continue
        q = qs[0]
        other = inst.other_text_for(q["id"]) if q["type"].startswith("select") else None
        choices = inst.choices(q["id"])
        if q["type"] == "select_multiple":
            for j, c in enumerate(choices, start=1):
                cols.append(Column((f"Q{qnum}_{j}", f"{q['text']} - Selected Choice - {c['label']}",
                                    '{"ImportId":"QID%d","choiceId":"%d"}' % (qnum, j)), q["id"], "choice", choice=c["name"]))
                if c["name"] == "other" and other:
                    cols.append(Column((f"Q{qnum}_{j}_TEXT", f"{q['text']} - {c['label']} - Text",
                                        '{"ImportId":"QID%d_%d_TEXT"}' % (qnum, j)), q["id"], "other_text"))
        elif q["type"] == "select_one":
            label = f"{q['text']} - Selected Choice" if other else q["text"]
            cols.append(Column((f"Q{qnum}", label, '{"ImportId":"QID%d"}' % qnum), q["id"], "value"))
            if other:
                j = [c["name"] for c in choices].index("other") + 1
                cols.append(Column((f"Q{qnum}_{j}_TEXT", f"{q['text']} - {OTHER_LABEL} - Text",
                                    '{"ImportId":"QID%d_%d_TEXT"}' % (qnum, j)), q["id"], "other_text"))
        else:
            cols.append(Column((f"Q{qnum}", q["text"], '{"ImportId":"QID%d_TEXT"}' % qnum), q["id"], "value"))
    return cols


def _qualtrics_keys(rows, n_cols) -> list:
    tags, labels = rows[0], rows[1]
    return [(header_text(tags[i]), header_text(labels[i])) for i in range(n_cols)]


def _qualtrics_match(keys, expected) -> list:
    """Metadata by export tag (when its label agrees too), questions by label."""
    by_label = {k[1]: i for i, k in enumerate(expected)}
    by_tag = {k[0]: i for i, k in enumerate(expected)}
    return [by_tag.get(k[0]) if k[0] in by_tag and expected[by_tag[k[0]]][1] == k[1] else by_label.get(k[1]) for k in keys]


def _base36(value) -> str:
    """``numpy.base_repr(value, 36)``: upper-case digits."""
    v, digits = abs(int(value)), ""
    while True:
        v, r = divmod(v, 36)
        digits = BASE36[r] + digits
        if not v:
            break
    return ("-" if int(value) < 0 else "") + digits


_QUALTRICS_KEYS = {"StartDate": "start", "EndDate": "end", "Status": "status", "Progress": "progress",
                   "Duration (in seconds)": "duration", "Finished": "finished", "ResponseId": "respondent_id"}
register_platform(Platform(
    name="qualtrics", title="Qualtrics", detect=_is_qualtrics, columns=_qualtrics_columns,
    meta=tuple(Column(h, None, "meta", meta=_QUALTRICS_KEYS.get(h[0], "ignored:" + h[0])) for h in QUALTRICS_META),
    header_rows=3, priority=40, header_keys=_qualtrics_keys, expected_keys=_pair_expected, match=_qualtrics_match,
    date_format="%Y-%m-%d %H:%M:%S", ids=lambda ids: ["R_" + _base36(v).rjust(15, "0") for v in ids],
    cells={"ignored:DistributionChannel": lambda raw: list(raw["_status"].map({"normal": "anonymous", "preview": "preview"})),
           "ignored:UserLanguage": lambda raw: ["EN"] * len(raw)},
    encoding="utf-8-sig"))


# One header row: JISC Online Surveys / Google Forms CSV, Microsoft Forms workbook --------------------

def _numbered(ids) -> list:
    return [str(i) for i in range(1, len(ids) + 1)]


register_platform(Platform(
    name="singleheader", title="single-header CSV (JISC Online Surveys, Google Forms)",
    detect=lambda rows, container: _first(rows)[:3] == FORMS_HEAD, columns=single_header_columns,
    meta=meta_columns(SINGLE_META), priority=90, date_format="%d/%m/%Y %H:%M:%S", join=", ",
    select_one_other="text", ids=_numbered))

register_platform(Platform(
    name="msforms", title="Microsoft Forms",
    detect=lambda rows, container: container == "xlsx" and _first(rows)[:3] == FORMS_HEAD, columns=single_header_columns,
    meta=meta_columns(MSFORMS_META), priority=10, join=";", join_end=";", select_one_other="text", ids=_numbered,
    cells={"ignored:Email": lambda raw: ["anonymous"] * len(raw)}, container="xlsx", tolerated=("Last modified time",)))


# KoboToolbox / ODK ----------------------------------------------------------------------------------

def _is_kobo(rows, container) -> bool:
    first = _first(rows)
    return "_uuid" in first or "_submission_time" in first or (first[:2] == ["start", "end"] and any("/" in c for c in first))


def _xml_columns(inst, *, sep: str, grouped: bool) -> list:
    """One column per question (KoboToolbox: ``group/question``), select_multiple also as 0/1 choice columns."""
    cols = []
    for q in inst.questions:
        name = f"{q['section']}/{q['id']}" if grouped else q["id"]
        if q["type"] == "select_multiple":
            if grouped:
                cols.append(Column((name,), q["id"], "names"))
            role = "ignored" if grouped else "dummy"
            cols += [Column((f"{name}{sep}{c}",), q["id"], role, choice=c) for c in inst.choice_names(q["id"])]
        else:
            cols.append(Column((name,), q["id"], "value"))
    return cols


register_platform(Platform(
    name="kobo", title="KoboToolbox", detect=_is_kobo, columns=lambda inst: _xml_columns(inst, sep="/", grouped=True),
    meta=meta_columns(KOBO_HEAD), meta_after=meta_columns(KOBO_TAIL), priority=20,
    date_format="%Y-%m-%dT%H:%M:%S.000+00:00", writes_names=True,
    cells={"ignored:_uuid": lambda raw: list(raw["_respondent_id"].map(lambda v: f"{int(v):032x}"[-32:])),
           "ignored:_submission_time": lambda raw: list(raw["_end"].dt.strftime("%Y-%m-%dT%H:%M:%S")),
           "ignored:_index": lambda raw: [str(i) for i in range(1, len(raw) + 1)],
           "ignored:_status": lambda raw: list(raw["_status"].map({"normal": "submitted_via_web", "preview": "submitted_via_web"}))},
    delimiter=";", tolerated=("__version__", "_tags", "_notes", "_submitted_by", "_attachments", "_geolocation",
                              "_xform_id_string", "meta/instanceID", "meta/rootUuid", "meta/deprecatedID", "formhub/uuid")))


# SPSS .sav ---------------------------------------------------------------------------------------

register_platform(Platform(
    name="spss", title="SPSS .sav", detect=lambda rows, container: container == "sav",
    columns=lambda inst: _xml_columns(inst, sep="__", grouped=False), meta=meta_columns(SPSS_META), priority=0,
    writes_names=True,
    cells={"status": lambda raw: list(raw["_status"].map({"normal": 0, "preview": 1})),
           "finished": lambda raw: list(raw["_finished"].astype(int)),
           "progress": lambda raw: list(raw["_progress"].astype(int)),
           "duration": lambda raw: list(((raw["_end"] - raw["_start"]).dt.total_seconds()).astype(int))},
    container="sav"))


PLATFORMS = platform_names()   # the built-in platforms, in registration order


def layout(inst, platform: str) -> list:
    """Return the list of :class:`Column` for ``inst`` as exported by ``platform``.

    Parameters
    ----------
    inst : Instrument
        The instrument.
    platform : str
        A registered platform name (:func:`platform_names`).

    Returns
    -------
    list of Column
        Every column of the export in file order: the platform's metadata columns, its question
        columns, then its trailing metadata columns.

    Raises
    ------
    ValueError
        ``platform`` is not registered.
    """
    return get_platform(platform).layout(inst)
