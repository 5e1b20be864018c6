"""The private priority list for network staff: who to call, why, and what to offer.

:func:`priority_sheet` turns the scored libraries into one row per library in the high and medium
tiers, in one order (``Priority``), with plain column names, the contact the library gave, its
region and authority, reasons and suggested support, how settled its position is, and the
council's recent record (:mod:`cmlkit.authority_context`). :func:`not_responded_sheet` lists the
in-scope libraries that did not answer, with what public data says about them — marked as not
survey-based. :func:`write_workbook` writes the three sheets (list, not responded, glossary) with
formatted numbers, filters, frozen headers and column widths. Everything here is written under a
run's ``private/`` folder only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit import closure as C
from cmlkit.tables import neutralise_formulas, write_xlsx

CONTACT_COLUMNS = {"contact_name": "Contact name", "respondent_role": "Contact role", "contact_email": "Email",
                   "contact_phone": "Phone"}
ROLE_LABELS = {"chair": "Chair", "trustee": "Trustee or committee member", "coordinator": "Volunteer coordinator",
               "paid_manager": "Paid manager", "other": "Other"}
GOVERNANCE_WORDS = {"CR": "community run", "ICL": "independent community library"}

GLOSSARY = {
    "Priority": "Order in which to get in touch: 1 first. Survey risk score, plus the closure model only when it "
                "predicted closures better than simple rules (see 'Closure model').",
    "Library": "Library name in the Arts Council list of libraries.",
    "Authority": "Library authority (council) the library is in.",
    "Region": "English region.",
    "Risk level": "High (score 0.50 or more) or Medium (0.35 to 0.49), from the survey answers.",
    "Risk score": "0 = no sign of risk, 1 = every sign of risk, from the library's own survey answers "
                  "(reserves, income, confidence, volunteers, lease, plans).",
    "Why": "The answers that raised the score most, in the library's own figures.",
    "Suggested support": "The kind of help that answers those reasons.",
    "Position could range": "How far the position moves if the index is built in other reasonable ways "
                            "(5th to 95th percentile of its rank among all scored libraries).",
    "Council's recent record": "What the library's council has done since 2019 (closures, transfers to "
                               "community running) — public data, not a prediction.",
    "Closure model": "A model of closures 2016-2023 from public data. It counts in the Priority only if it "
                     "beat simple rules; this run: {in_words}",
    "Contact name / Contact role / Email / Phone": "The contact the library gave in the survey. Personal data: "
                                                   "do not share or copy outside the network team.",
    "Agreed to follow-up": "Whether the respondent agreed to be contacted by the research team.",
    "Library id": "Identifier in the frame (for the research team).",
    "Not responded sheet": "Community libraries in scope that did not answer the survey: public frame data only, "
                           "NOT survey-based; no risk score can be given for them.",
}


def _ordinal(n) -> str:
    n = int(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def priority_sheet(scores: pd.DataFrame, responses: pd.DataFrame, frame: pd.DataFrame, *,
                   contacts: pd.DataFrame | None = None, context: pd.DataFrame | None = None,
                   tiers=("high", "medium")) -> pd.DataFrame:
    """One row per library in ``tiers``, ordered by the combined rank, with plain column names.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`cmlkit.risk.score_libraries` output aligned with ``responses`` (with ``combined_rank``
        and, if computed, ``rank_p05``/``rank_p95``).
    responses : pandas.DataFrame
        The weighted responses (``library_id``, ``response_id``, ``respondent_role``, ``consent_followup``).
    frame : pandas.DataFrame
        The population frame (``library_id, name, authority, region``).
    contacts : pandas.DataFrame, optional
        The private contacts (``response_id`` and ``contact_name, contact_email, contact_phone``).
    context : pandas.DataFrame, optional
        :func:`cmlkit.authority_context.authority_context` output.

    Returns
    -------
    pandas.DataFrame
        Private: carries contact details; never published.
    """
    base = responses[[c for c in ("library_id", "response_id", "respondent_role", "consent_followup") if c in responses]]
    t = pd.concat([base.reset_index(drop=True), scores.reset_index(drop=True)], axis=1)
    t = t.loc[t["tier"].isin(tiers)]
    t = t.merge(frame[["library_id", "name", "authority", "region"]].drop_duplicates("library_id"), on="library_id",
                how="left", suffixes=("_resp", ""))
    if contacts is not None and "response_id" in t and "response_id" in contacts:
        keep = [c for c in ("response_id", "contact_name", "contact_email", "contact_phone") if c in contacts]
        t = t.assign(response_id=t["response_id"].astype(str)).merge(contacts[keep].astype({"response_id": str}),
                                                                      on="response_id", how="left")
    if context is not None:
        t = t.merge(context[["authority", "context"]], on="authority", how="left")
    t = t.sort_values(["combined_rank", "library_id"], kind="stable").reset_index(drop=True)
    out = pd.DataFrame({"Priority": np.arange(1, len(t) + 1), "Library": t["name"], "Authority": t["authority"],
                        "Region": t["region"], "Risk level": t["tier"].str.capitalize(), "Risk score": t["score"].round(2),
                        "Why": t["reasons"], "Suggested support": t["support"]})
    if {"rank_p05", "rank_p95"} <= set(t):
        lo, hi = t["rank_p05"].round(), t["rank_p95"].round()
        out["Position could range"] = np.where(lo.notna() & hi.notna(), "between " + lo.fillna(1).map(_ordinal) + " and "
                                               + hi.fillna(1).map(_ordinal) + " most at risk", "")
    if "context" in t:
        out["Council's recent record"] = t["context"].fillna("")
    for col, label in CONTACT_COLUMNS.items():
        if col in t:
            out[label] = t[col].map(ROLE_LABELS).fillna(t[col]) if col == "respondent_role" else t[col]
    if "consent_followup" in t:
        out["Agreed to follow-up"] = t["consent_followup"].map({"yes": "Yes", "no": "No"}).fillna("Not answered")
    out["Library id"] = t["library_id"]
    return out


def not_responded_sheet(frame: pd.DataFrame, responded_ids, *, context: pd.DataFrame | None = None,
                        codes=C.COMMUNITY) -> pd.DataFrame:
    """In-scope libraries (community run or independent in the last frame year) that did not answer,
    with what the public frame says about them. Not survey-based.

    Parameters
    ----------
    frame : pandas.DataFrame
        The population frame.
    responded_ids : iterable
        Library ids with a response.
    context : pandas.DataFrame, optional
        :func:`cmlkit.authority_context.authority_context` output.
    codes : tuple of str
        Governance codes in scope.

    Returns
    -------
    pandas.DataFrame
    """
    last = f"operation_{C.YEARS[-1] % 100}"
    scope = frame.loc[frame[last].isin(codes) & ~frame["library_id"].isin(set(responded_ids))]
    hist = C._carried(C._codes(scope)) if len(scope) else np.empty((0, len(C.YEARS)), dtype=str)
    comm = np.isin(hist, C.COMMUNITY)
    since = np.where(comm.any(axis=1), np.array(C.YEARS)[comm.argmax(axis=1)], 0)
    out = pd.DataFrame({"Library": scope["name"].to_numpy(), "Authority": scope["authority"].to_numpy(),
                        "Region": scope["region"].to_numpy(),
                        "Governance now": scope[last].map(GOVERNANCE_WORDS).to_numpy(),
                        "Community run since": np.where(since == C.YEARS[0], f"{C.YEARS[0]} or earlier", since.astype(str))})
    stat = f"statutory_{C.YEARS[-1] % 100}"
    if stat in scope:
        s = scope[stat].map({True: "Yes", False: "No", "Yes": "Yes", "No": "No"})
        out["Part of statutory service"] = s.fillna("Not known").to_numpy()
    if context is not None:
        out["Council's recent record"] = out["Authority"].map(context.set_index("authority")["context"]).fillna("").to_numpy()
    out["Source"] = "Public frame data only - NOT survey-based"
    out["Library id"] = scope["library_id"].to_numpy()
    return out.sort_values(["Region", "Authority", "Library"], kind="stable").reset_index(drop=True)


def glossary(in_words: str = "") -> pd.DataFrame:
    """The glossary sheet: each column in one sentence.

    Parameters
    ----------
    in_words : str, default ""
        The closure model's standing in words (:func:`cmlkit.closure_validation.weight_in_words`).

    Returns
    -------
    pandas.DataFrame
    """
    return pd.DataFrame({"Column": list(GLOSSARY), "Meaning": [v.format(in_words=in_words) for v in GLOSSARY.values()]})


WIDTHS = {"Why": 60, "Suggested support": 45, "Council's recent record": 60, "Meaning": 100, "Column": 38,
          "Library": 32, "Position could range": 34, "Source": 40, "Email": 34}


def write_workbook(priority: pd.DataFrame, not_responded: pd.DataFrame, path, *, in_words: str = "") -> Path:
    """Write the list, the non-responding libraries and the glossary as one formatted workbook.

    Headers bold and frozen, filters on every column, risk scores shown with two decimals, text
    wrapped in the long columns, byte-stable (:func:`cmlkit.tables.freeze_xlsx`).

    Parameters
    ----------
    priority : pandas.DataFrame
        :func:`priority_sheet` output.
    not_responded : pandas.DataFrame
        :func:`not_responded_sheet` output.
    path : str or path-like
        The ``.xlsx`` file.
    in_words : str, default ""
        For the glossary.

    Returns
    -------
    pathlib.Path
    """
    return write_xlsx({"Priority list": priority, "Not responded": not_responded, "Glossary": glossary(in_words)}, path,
                      finish=_format_sheet)


def _format_sheet(ws) -> None:
    """Bold frozen headers, filters (not on the glossary), widths by column, two-decimal scores, wrapped long text."""
    from openpyxl.styles import Alignment, Font   # imported here, not at the top: only the steps that read or write a workbook load openpyxl
    ws.freeze_panes = "A2"
    if ws.max_row > 1 and ws.title != "Glossary":
        ws.auto_filter.ref = ws.dimensions
    for cell in ws[1]:
        cell.font = Font(bold=True)
        name = str(cell.value)
        width = WIDTHS.get(name, max(12, len(name) + 2))
        ws.column_dimensions[cell.column_letter].width = width
        for col in ws.iter_cols(min_col=cell.column, max_col=cell.column, min_row=2):
            for c in col:
                if name == "Risk score":
                    c.number_format = "0.00"
                if width >= 40:
                    c.alignment = Alignment(wrap_text=True, vertical="top")


def write_csv(priority: pd.DataFrame, path) -> Path:
    """The list as CSV (formula-safe, UTF-8 with BOM so spreadsheets read the accents).

    Parameters
    ----------
    priority : pandas.DataFrame
        :func:`priority_sheet` output.
    path : str or path-like

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_formulas(priority).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
    return path
