"""The audit of a cleaning: the log actually applied, rebuilt by diffing raw against clean data.

Every change in the clean data must be explained by an applied entry of the cleaning log
(:func:`compare_audit`); the audit also lists what a reviewer rejected, and what the typed data hold then.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit.cleaning_log import LEGACY_CHANGE_TYPES, LOG_COLUMNS, as_text, digest_text
from cmlkit.coding import code_choices

AUDIT_BLOCK_CELLS = 1 << 21
"""Cells :func:`audit_diff` compares in one block (questions x kept responses)."""


def audit_diff(raw: pd.DataFrame, applied: pd.DataFrame, inst, *, wave: str, report: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rebuild the log actually applied by diffing raw (choice labels coded) against the applied data.

    Returns log-shaped rows (``check_id`` = ``audit``): ``remove_survey`` for every response missing
    from ``applied``, and ``change_response``/``blank_response`` for every cell that differs.
    Personal and free-text old values appear as ``sha256:`` digests, and personal new values too. With the apply ``report``, every
    proposal the reviewer rejected is listed too (``no_action``, ``check_id`` = ``audit_rejected``),
    saying that the raw value was kept, and when that raw value cannot be typed (a number written
    as text, an answer that is not a choice) what the typed data hold instead.

    Parameters
    ----------
    raw : pandas.DataFrame
        The ingested export.
    applied : pandas.DataFrame
        The first result of :func:`apply_log`.
    inst : Instrument
    wave : str
        Wave id written in the ``wave`` column.
    report : pandas.DataFrame, optional
        The second result of :func:`apply_log`; when given, rejected proposals are listed too.

    Returns
    -------
    pandas.DataFrame
        Log-shaped rows with :data:`LOG_COLUMNS`, all text; reason ``found by diffing raw and clean data``.
    """
    before = code_choices(raw, inst).set_index("response_id")
    after = applied.set_index("response_id")
    rows = []
    gone = before.index.difference(after.index, sort=False)
    if len(gone):
        rows.append(pd.DataFrame({"response_id": gone, "question": "", "old_value": "", "new_value": "", "change_type": "remove_survey"}))
    common = after.index
    pos = before.index.get_indexer(common)      # the kept responses' rows in raw, found once for every question
    # questions compared a block at a time (values as text, one conversion per block): all of them for a
    # small export, a few at a time for a large one, so the blocks' text copies stay within about 2M cells
    per_block = max(1, AUDIT_BLOCK_CELLS // max(len(common), 1))
    for first in range(0, len(inst.questions), per_block):
        block = inst.questions[first:first + per_block]
        B = np.column_stack([before[q["id"]].to_numpy(dtype=object)[pos] for q in block])
        A = np.column_stack([after[q["id"]].to_numpy(dtype=object) for q in block])
        bn, an = pd.isna(B), pd.isna(A)
        changed = bn != an
        both = ~bn & ~an
        if both.any():      # values compared as text: 1 and 1.0 differ, as the log writes them
            changed[both] = as_text(B[both]) != as_text(A[both])
        for j in np.flatnonzero(changed.any(axis=0)):
            q, diff = block[j], changed[:, j]
            old, new = pd.Series(B[diff, j], dtype=object), pd.Series(A[diff, j], dtype=object)
            if q["personal"] or q["type"] == "text":
                old = digest_text(old)
            if q["personal"]:       # a contact detail never reaches the tables, changed or not
                new = digest_text(new)
            rows.append(pd.DataFrame({"response_id": common[diff], "question": q["id"], "old_value": old.to_numpy(),
                                      "new_value": new.to_numpy(), "change_type": np.where(an[diff, j], "blank_response", "change_response")}))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["response_id", "question", "old_value", "new_value", "change_type"])
    out.insert(0, "wave", wave)
    out["check_id"], out["reason"], out["decision"], out["reviewer"], out["decided_at"] = "audit", "found by diffing raw and clean data", "", "", ""
    if report is not None:
        out = pd.concat([out, _rejections(report, inst)], ignore_index=True)
    for col in LOG_COLUMNS:
        out[col] = out[col].astype(object).where(out[col].notna(), "").astype(str)
    return out[LOG_COLUMNS]


def _rejections(report: pd.DataFrame, inst) -> pd.DataFrame:
    """Audit rows for the proposals a reviewer rejected (the raw value kept)."""
    rej = report.loc[report["status"] == "rejected"]
    if not len(rej):
        return pd.DataFrame(columns=LOG_COLUMNS)
    kind = rej["question"].map(lambda q: inst.question(q)["type"] if q in inst.question_ids else "")
    untyped = np.select([kind.isin(["integer", "decimal"]) & ~rej["old_value"].str.fullmatch(r"-?\d+(\.\d+)?"),
                         (kind == "select_one") & ~rej.apply(lambda r: r["old_value"] in inst.choice_names(r["question"])
                                                             if kind[r.name] == "select_one" else True, axis=1)],
                        ["; not a number, so missing in the typed data", "; not a choice, kept as text in the typed data"], "")
    return pd.DataFrame({"wave": rej["wave"], "response_id": rej["response_id"], "question": rej["question"],
                         "old_value": rej["old_value"], "new_value": rej["old_value"], "change_type": "no_action",
                         "check_id": "audit_rejected",
                         "reason": "reviewer rejected " + rej["check_id"] + " (" + rej["change_type"] + " to '" + rej["new_value"]
                                   + "'): raw value kept" + untyped,
                         "decision": "reject", "reviewer": rej["reviewer"], "decided_at": rej["decided_at"]})


def compare_audit(report: pd.DataFrame, audit: pd.DataFrame) -> pd.DataFrame:
    """Cells where the applied log and the audit diff disagree (empty when every change is explained).

    Rejections listed by the audit (``audit_rejected``) change nothing and are not compared.
    Parameters
    ----------
    report : pandas.DataFrame
        The report of :func:`apply_log` (its ``applied`` entries are compared).
    audit : pandas.DataFrame
        The result of :func:`audit_diff`.

    Returns
    -------
    pandas.DataFrame
        ``response_id, question, in_log, in_audit`` for each cell in one but not the other (``question``
        blank for a removed response), sorted.
    """
    acted = report.loc[(report["status"] == "applied")]
    removal = acted["change_type"].replace(LEGACY_CHANGE_TYPES) == "remove_survey"
    log_cells = set(zip(acted["response_id"].astype(str), acted["question"].where(~removal, "")))
    # a cell changed and changed back nets out in the audit: keep only cells whose final value differs
    diffs = audit.loc[audit["check_id"] != "audit_rejected"]
    audit_cells = set(zip(diffs["response_id"].astype(str), diffs["question"]))
    rows = [(r, q, (r, q) in log_cells, (r, q) in audit_cells) for r, q in sorted(log_cells ^ audit_cells)]
    return pd.DataFrame(rows, columns=["response_id", "question", "in_log", "in_audit"])
