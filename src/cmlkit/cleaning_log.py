"""The cleaning log: its schema, the review workbook, guarded application and the audit diff.

Schema (one row per proposed or decided change)::

    wave, response_id, question, old_value, new_value, change_type, check_id, reason, reviewer, decided_at

``change_type`` is one of ``change_response``, ``blank_response``, ``remove_response``,
``no_action``. A reason ending in ``(review)`` marks a proposal a person should look at. Where the
old value may hold personal data the log keeps ``sha256:<digest>`` of it instead, which is enough to
guard re-application.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit.errors import CleaningLogError

LOG_COLUMNS = ["wave", "response_id", "question", "old_value", "new_value", "change_type", "check_id",
               "reason", "reviewer", "decided_at"]
CHANGE_TYPES = ("change_response", "blank_response", "remove_response", "no_action")


def digest(value) -> str:
    """Return ``sha256:<16 hex>`` of a value, used in place of personal data in logs."""
    return "sha256:" + hashlib.sha256(str(value).encode("utf-8")).hexdigest()[:16]


def apply_log(raw: pd.DataFrame, log: pd.DataFrame, inst) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply a (possibly hand-edited) cleaning log to raw responses, with guards.

    Each entry's ``old_value`` must equal the current raw value (or its ``sha256:`` digest); a
    stale entry (the export changed since the log was written) is reported, not applied. Unknown
    change types, unknown responses or questions and new values the instrument does not allow are
    refused. Entries that change nothing are reported as such.

    Returns
    -------
    applied : pandas.DataFrame
        The raw responses after the log (removed rows dropped), choice labels coded to names.
    report : pandas.DataFrame
        The log with ``status`` (``applied``, ``no_change``, ``stale``, ``refused``) and ``message``.
    """
    unknown = sorted(set(log["change_type"]) - set(CHANGE_TYPES))
    if unknown:
        row = int(np.flatnonzero(log["change_type"].isin(unknown))[0]) + 2
        raise CleaningLogError(f"unknown change_type {unknown[0]!r}; expected one of {CHANGE_TYPES}", row=row, column="change_type")
    from cmlkit.clean import code_choices

    data = code_choices(raw, inst).set_index("response_id", drop=False)
    status, message = [], []
    removed = set()
    for e in log.itertuples(index=False):  # one pass over the log (its length), not over responses
        rid, qid, ct = str(e.response_id), e.question, e.change_type
        if rid not in data.index:
            status.append("refused"); message.append(f"response {rid} is not in the export")
            continue
        if ct == "no_action":
            status.append("no_change"); message.append("no action")
            continue
        if ct == "remove_response":
            removed.add(rid)
            status.append("applied"); message.append("response removed")
            continue
        if qid not in data.columns or qid not in inst.question_ids:
            status.append("refused"); message.append(f"question {qid!r} is not in the instrument")
            continue
        cur = data.at[rid, qid]
        cur_s = "" if cur is None or (isinstance(cur, float) and np.isnan(cur)) else str(cur)
        old = str(e.old_value)
        if not (old == cur_s or (old.startswith("sha256:") and cur_s and digest(cur_s) == old)):
            status.append("stale"); message.append(f"old_value does not match the current value of {qid} (export changed?); not applied")
            continue
        new = "" if ct == "blank_response" else str(e.new_value)
        q = inst.question(qid)
        if new and q["type"] == "select_one" and new not in inst.choice_names(qid):
            status.append("refused"); message.append(f"{new!r} is not a choice of {qid}")
            continue
        if new and q["type"] in ("integer", "decimal") and pd.isna(pd.to_numeric(new, errors="coerce")):
            status.append("refused"); message.append(f"{new!r} is not a number")
            continue
        if new and q["type"] == "select_multiple" and set(new.split()) - set(inst.choice_names(qid)):
            status.append("refused"); message.append(f"{new!r} has values that are not choices of {qid}")
            continue
        if new == cur_s:
            status.append("no_change"); message.append("new value equals the current value")
            continue
        data.at[rid, qid] = new if new else None
        status.append("applied"); message.append("")
    report = log.copy()
    report["status"], report["message"] = status, message
    applied = data.loc[~data.index.isin(removed)].reset_index(drop=True)
    return applied, report


def accounting(raw: pd.DataFrame, report: pd.DataFrame, clean: pd.DataFrame) -> pd.DataFrame:
    """Row accounting: responses in = kept + removed (by reason). Raises if the numbers do not add up."""
    removed = report.loc[(report["change_type"] == "remove_response") & (report["status"] == "applied")]
    by = removed.drop_duplicates("response_id").groupby("check_id").size()
    rows = [("responses_in", len(raw))] + [(f"removed_{k}", int(v)) for k, v in by.items()] + [("responses_kept", len(clean))]
    table = pd.DataFrame(rows, columns=["stage", "n"])
    if len(raw) != len(clean) + int(by.sum()):
        raise CleaningLogError(f"row accounting does not add up: {len(raw)} in, {len(clean)} kept, {int(by.sum())} removed")
    return table


def read_log(path) -> "pd.DataFrame":
    """Read a (reviewed) cleaning log from CSV or the XLSX review workbook (sheet ``cleaning_log``).

    Raises
    ------
    CleaningLogError
        If the file is missing or lacks a column of :data:`LOG_COLUMNS`.
    """
    path = Path(path)
    if not path.is_file():
        raise CleaningLogError("cleaning log not found", file=path)
    if path.suffix.lower() == ".xlsx":
        log = pd.read_excel(path, sheet_name="cleaning_log", dtype=str, keep_default_na=False)
    else:
        log = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in LOG_COLUMNS if c not in log.columns]
    if missing:
        raise CleaningLogError(f"cleaning log lacks column {missing[0]!r}", file=path, row=1)
    log = log[LOG_COLUMNS].copy()
    for col in ("old_value", "new_value"):  # undo the spreadsheet formula guard
        log[col] = log[col].str.replace(r"^'(?=[=+\-@\t\r])", "", regex=True)
    return log
