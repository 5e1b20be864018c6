"""How each survey platform lays out an export, shared by the synthetic writers and the readers.

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

from dataclasses import dataclass

PLATFORMS = ("surveymonkey", "qualtrics", "singleheader", "msforms", "kobo", "spss")

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
SINGLE_META = ["ID", "Start time", "Completion time"]
MSFORMS_META = ["ID", "Start time", "Completion time", "Email", "Name"]
OTHER_LABEL = "Other (please specify)"
DATE_FORMATS = {
    "surveymonkey": "%m/%d/%Y %I:%M:%S %p",
    "qualtrics": "%Y-%m-%d %H:%M:%S",
    "singleheader": "%d/%m/%Y %H:%M:%S",
    "msforms": None,  # real datetimes in the workbook
    "kobo": "%Y-%m-%dT%H:%M:%S.000+00:00",
    "spss": None,  # SPSS datetime variables
}
KOBO_HEAD = ["start", "end"]
KOBO_TAIL = ["_id", "_uuid", "_submission_time", "_validation_status", "_status", "_index"]
SPSS_META = ["ResponseId", "StartDate", "EndDate", "Status", "Progress", "Duration__in_seconds_", "Finished"]
JOIN = {"singleheader": ", ", "msforms": ";"}


@dataclass(frozen=True)
class Column:
    """One export column.

    Attributes
    ----------
    headers : tuple of str
        Header cells, one per header row.
    qid : str or None
        Question id carried (None for metadata).
    role : str
        ``meta`` (metadata field ``meta``), ``value`` (the answer as typed or its label),
        ``choice`` (non-empty cell = ``choice`` ticked), ``other_text`` (the 'other' text of
        ``qid``), ``joined`` (multi-select labels joined in one cell).
    choice : str or None
        Choice name for ``choice`` columns.
    meta : str or None
        Metadata field: ``respondent_id, start, end, status, progress, duration, finished``.
    """

    headers: tuple
    qid: str | None
    role: str
    choice: str | None = None
    meta: str | None = None


def _split_grid_text(text: str):
    stem, sep, item = text.rpartition(" - ")
    return (stem, item) if sep else (text, text)


def _question_groups(inst):
    """Yield (kind, questions) in order: grids become one group; other-text rides with its parent."""
    riders = {}
    for q in inst.questions:
        if q["type"].startswith("select"):
            other = inst.other_text_for(q["id"])
            if other:
                riders[other] = q["id"]
    seen_grids = set()
    for q in inst.questions:
        if q["id"] in riders:
            continue
        if q["grid"]:
            if q["grid"] in seen_grids:
                continue
            seen_grids.add(q["grid"])
            yield "grid", [inst.question(i) for i in inst.grids[q["grid"]]]
        else:
            yield "single", [q]


def layout(inst, platform: str) -> list:
    """Return the list of :class:`Column` for ``inst`` as exported by ``platform``."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; expected one of {PLATFORMS}")
    cols: list = []
    if platform == "surveymonkey":
        meta_keys = {"Respondent ID": "respondent_id", "Start Date": "start", "End Date": "end"}
        cols += [Column((h, ""), None, "meta", meta=meta_keys.get(h, "ignored:" + h)) for h in SM_META]
    elif platform == "qualtrics":
        keys = {"StartDate": "start", "EndDate": "end", "Status": "status", "Progress": "progress",
                "Duration (in seconds)": "duration", "Finished": "finished", "ResponseId": "respondent_id"}
        cols += [Column(h, None, "meta", meta=keys.get(h[0], "ignored:" + h[0])) for h in QUALTRICS_META]
    elif platform == "singleheader":
        keys = {"ID": "respondent_id", "Start time": "start", "Completion time": "end"}
        cols += [Column((h,), None, "meta", meta=keys[h]) for h in SINGLE_META]
    elif platform == "msforms":
        keys = {"ID": "respondent_id", "Start time": "start", "Completion time": "end", "Email": "ignored:Email", "Name": "ignored:Name"}
        cols += [Column((h,), None, "meta", meta=keys[h]) for h in MSFORMS_META]
    elif platform == "kobo":
        cols += [Column((h,), None, "meta", meta=h) for h in KOBO_HEAD]
    else:
        keys = {"ResponseId": "respondent_id", "StartDate": "start", "EndDate": "end", "Status": "status", "Progress": "progress",
                "Duration__in_seconds_": "duration", "Finished": "finished"}
        cols += [Column((h,), None, "meta", meta=keys[h]) for h in SPSS_META]
    if platform in ("kobo", "spss"):
        for q in inst.questions:
            name = f"{q['section']}/{q['id']}" if platform == "kobo" else q["id"]
            if q["type"] == "select_multiple":
                if platform == "kobo":
                    cols.append(Column((name,), q["id"], "names"))
                sep = "/" if platform == "kobo" else "__"
                role = "ignored" if platform == "kobo" else "dummy"
                cols += [Column((f"{name}{sep}{c}",), q["id"], role, choice=c) for c in inst.choice_names(q["id"])]
            else:
                cols.append(Column((name,), q["id"], "value"))
        if platform == "kobo":
            keys = {"_id": "respondent_id", "_status": "ignored:_status"}
            cols += [Column((h,), None, "meta", meta=keys.get(h, "ignored:" + h)) for h in KOBO_TAIL]
        return cols

    qnum = 0
    for kind, qs in _question_groups(inst):
        qnum += 1
        if kind == "grid":
            for i, q in enumerate(qs, start=1):
                stem, item = _split_grid_text(q["text"])
                if platform == "surveymonkey":
                    cols.append(Column((stem if i == 1 else "", item), q["id"], "value"))
                elif platform == "qualtrics":
                    cols.append(Column((f"Q{qnum}_{i}", f"{stem} - {item}", '{"ImportId":"QID%d_%d"}' % (qnum, i)), q["id"], "value"))
                else:
                    cols.append(Column((f"{stem} [{item}]",), q["id"], "value"))
            continue
        q = qs[0]
        other = inst.other_text_for(q["id"]) if q["type"].startswith("select") else None
        choices = inst.choices(q["id"])
        if platform == "surveymonkey":
            if q["type"] == "select_multiple":
                first = True
                for c in choices:
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
        elif platform == "qualtrics":
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
        else:
            role = "joined" if q["type"] == "select_multiple" else "value"
            cols.append(Column((q["text"],), q["id"], role))
    return cols
