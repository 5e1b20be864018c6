"""First-look summaries of a cleaned wave (unweighted; weighted estimates live in ``estimates``)."""

from __future__ import annotations

import pandas as pd

from cmlkit.report_format import format_value, UNIT_SUFFIX


def item_response(clean: pd.DataFrame, inst) -> pd.DataFrame:
    """Share of kept responses that answered each question (unweighted).

    A select_multiple question counts as answered where the column of its first choice is not
    missing. Personal questions are skipped.

    Parameters
    ----------
    clean : pandas.DataFrame
        The cleaned wave, one row per kept response, with the instrument's canonical columns
        (``<question>__<choice>`` for select_multiple questions).
    inst : cmlkit.instrument.Instrument
        The wave's instrument.

    Returns
    -------
    pandas.DataFrame
        One row per non-personal question, in instrument order: ``question`` (canonical name),
        ``section``, ``type``, ``n_answered``, ``n_responses`` (rows of ``clean``) and ``share``
        (``n_answered / n_responses`` rounded to 6 decimals; NaN when ``clean`` is empty).
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

    Parameters
    ----------
    clean : pandas.DataFrame
        The cleaned wave, with one 0/1 column ``<canonical>__<choice>`` per choice.
    inst : cmlkit.instrument.Instrument
        The wave's instrument.
    question : str
        Id of a select_multiple question of ``inst``.

    Returns
    -------
    pandas.DataFrame
        One row per choice, in choice order: ``choice``, ``label``, ``n_yes`` (ticks), ``n_answered``
        (non-missing rows) and ``share`` (``n_yes / n_answered`` rounded to 6 decimals; NaN when no
        one answered).

    Raises
    ------
    ValueError
        If ``question`` is not a select_multiple question.
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

    Parameters
    ----------
    table : pandas.DataFrame
        The findings table (``section, breakdown, domain, label, estimate, ci_low, ci_high, base_n,
        suppressed`` and, optionally, ``unit``; rows without a ``unit`` column are treated as
        ``number``).
    wave : str
        Wave id, shown in the title ``# Findings, wave <wave>``.
    breakdowns : tuple of str, default ("all", "type")
        Breakdowns whose rows are listed; other rows are left out.

    Returns
    -------
    str
        Markdown text: one ``## <Section>`` heading per section (in table order) and one bullet per
        row. Numbers are formatted by the row's unit (:func:`cmlkit.report.format_value`: shares as %,
        scores to two decimals, months to one, with :data:`cmlkit.report.UNIT_SUFFIX`); a suppressed
        row says "suppressed (fewer than k responses)" instead of its numbers.
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


def services_paragraph(rows: pd.DataFrame, tests: pd.DataFrame, change: dict) -> str:
    """The paragraph of notebook 30 on breadth of services and Universal Offer delivery (Markdown).

    Parameters
    ----------
    rows : pandas.DataFrame
        The services findings rows (``finding_id`` ``service_breadth|all|all`` and
        ``universal_offer_score|all|all`` with ``estimate, ci_low, ci_high, base_n``).
    tests : pandas.DataFrame
        The services tests (:func:`cmlkit.services_findings.service_tests`): Wald F and p of
        ``service_breadth`` by ``type`` and by ``region``.
    change : dict
        The Rao-Scott record of service change by type (its ``p``).

    Returns
    -------
    str
        Breadth as a percentage with its 95% CI and n, the Universal Offer score on the 1–5 scale, whether
        the difference in breadth between types is "unlikely to be chance" (p < 0.05) or "within what chance
        would give", the regions' p and the Rao-Scott p.

    Raises
    ------
    KeyError
        When a row or test named above is missing.
    """
    overall = rows.set_index("finding_id")
    b = overall.loc["service_breadth|all|all"]
    u = overall.loc["universal_offer_score|all|all"]
    t = tests.set_index(["indicator", "breakdown"])
    return f"""Community libraries offer on average **{b.estimate:.0%}** of the 13 listed services (95% CI {b.ci_low:.0%} to
{b.ci_high:.0%}, n = {int(b.base_n)}). Their own rating of Universal Offer delivery averages **{u.estimate:.2f}** on a 1–5
scale ({u.ci_low:.2f} to {u.ci_high:.2f}). The difference in breadth between governance types is
{"unlikely to be chance" if t.loc[("service_breadth", "type"), "p"] < 0.05 else "within what chance would give"}
(Wald F = {t.loc[("service_breadth", "type"), "F"]:.2f}, p = {t.loc[("service_breadth", "type"), "p"]:.3f}); between regions,
p = {t.loc[("service_breadth", "region"), "p"]:.3f}. Whether the service is better or worse since transfer depends on type:
Rao-Scott p = {change["p"]:.3f}."""


def finances_paragraph(rows: pd.DataFrame, tests: pd.DataFrame) -> str:
    """The paragraph of notebook 32 on reserves, council dependency and confidence (Markdown).

    Parameters
    ----------
    rows : pandas.DataFrame
        The finances findings rows (``finding_id`` ``months_of_reserves|all|all``,
        ``council_dependency|all|all`` and ``confident_3yr|all|all`` with ``estimate, ci_low, ci_high``).
    tests : pandas.DataFrame
        The finances tests (:func:`cmlkit.findings.difference_tests`): p of ``council_dependency`` by ``type``.

    Returns
    -------
    str
        Months of reserves with its 95% CI, the council's share of income and whether governance types
        differ "clearly" (Wald p < 0.05) or "no more than chance would give", and the share confident of
        being open in three years.

    Raises
    ------
    KeyError
        When a row or test named above is missing.
    """
    o = rows.set_index("finding_id")
    res = o.loc["months_of_reserves|all|all"]
    dep = o.loc["council_dependency|all|all"]
    conf = o.loc["confident_3yr|all|all"]
    t = tests.set_index(["indicator", "breakdown"])
    return f"""Reserves cover **{res.estimate:.1f} months** of spending on average (95% CI {res.ci_low:.1f} to {res.ci_high:.1f}).
The council provides **{dep.estimate:.0%}** of income on average ({dep.ci_low:.0%} to {dep.ci_high:.0%}); governance types differ
{"clearly" if t.loc[("council_dependency", "type"), "p"] < 0.05 else "no more than chance would give"} (Wald p =
{t.loc[("council_dependency", "type"), "p"]:.3f}). **{conf.estimate:.0%}** of libraries are fairly or very confident of being open
in three years ({conf.ci_low:.0%} to {conf.ci_high:.0%})."""
