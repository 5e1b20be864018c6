"""First-look summaries of a cleaned wave (unweighted; weighted estimates live in ``estimates``)."""

from __future__ import annotations

import pandas as pd

from cmlkit.report import format_value, UNIT_SUFFIX


def item_response(clean: pd.DataFrame, inst) -> pd.DataFrame:
    """Share of kept responses that answered each question (select_multiple: any choice answered).

    Returns one row per non-personal question: ``question, section, type, n_answered, n_responses, share``.
    """
    rows = []
    n = len(clean)
    for q in inst.questions:
        if q["personal"]:
            continue
        name = q["canonical"]
        if q["type"] == "select_multiple":
            answered = clean[f"{name}__{inst.choice_names(q['id'])[0]}"].notna()
        else:
            answered = clean[name].notna()
        rows.append((name, q["section"], q["type"], int(answered.sum()), n))
    out = pd.DataFrame(rows, columns=["question", "section", "type", "n_answered", "n_responses"])
    out["share"] = (out["n_answered"] / out["n_responses"].where(out["n_responses"] > 0)).round(6)
    return out


def choice_shares(clean: pd.DataFrame, inst, question: str) -> pd.DataFrame:
    """Unweighted share of respondents ticking each choice of a select_multiple question.

    Returns ``choice, label, n_yes, n_answered, share`` in choice order.
    """
    q = inst.question(question)
    if q["type"] != "select_multiple":
        raise ValueError(f"{question!r} is not a select_multiple question")
    rows = []
    for c in inst.choices(question):
        col = clean[f"{q['canonical']}__{c['name']}"]
        rows.append((c["name"], c["label"], int(col.sum(skipna=True)), int(col.notna().sum())))
    out = pd.DataFrame(rows, columns=["choice", "label", "n_yes", "n_answered"])
    out["share"] = (out["n_yes"] / out["n_answered"].where(out["n_answered"] > 0)).round(6)
    return out


def findings_markdown(table: pd.DataFrame, *, wave: str, breakdowns=("all", "type")) -> str:
    """The findings summary (``summary.md``): each headline with its interval and base, by section.

    Numbers are formatted by the row's ``unit`` (shares as %, scores to two decimals, months to one);
    suppressed cells are said to be suppressed. Returns Markdown text.
    """
    head = table.loc[table["breakdown"].isin(breakdowns)]
    lines = [f"# Findings, wave {wave}", "", "Weighted estimates with 95% intervals (shares: logit intervals, inside 0-100%); "
             "n is the number of responses.", ""]
    for section, part in head.groupby("section", sort=False):
        lines += [f"## {section.title()}", ""]
        for r in part.itertuples():
            where = "all libraries" if r.breakdown == "all" else f"{r.domain} libraries"
            unit = getattr(r, "unit", "number")
            value = (f"**{format_value(r.estimate, unit)}{UNIT_SUFFIX.get(unit, '')}** ({format_value(r.ci_low, unit)} to "
                     f"{format_value(r.ci_high, unit)}; n = {int(r.base_n)})")
            lines.append(f"- {r.label}, {where}: " + ("suppressed (fewer than k responses)" if bool(r.suppressed) else value))
        lines.append("")
    return "\n".join(lines)
