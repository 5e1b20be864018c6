"""What the report shows, as text: cell and estimate formats, table views, findings views and key-finding sentences.

:mod:`cmlkit.report` reads a run folder's public products and hands them to these functions, which
turn tables into formatted strings for the template (:func:`table_view`, :func:`findings_view`) and
estimates into sentences (:func:`headline_sentences`, :data:`HEADLINE_BUILDERS`,
:data:`SUMMARY_BUILDERS`). :mod:`cmlkit.report` re-exports them.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cmlkit import indicators, share_intervals

RAW_TOKEN = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")  # variable names inside a sentence


# ---------------------------------------------------------------- formatting

def _pct(v, digits=None):
    if v is None or not np.isfinite(v):
        return ""
    d = (1 if abs(v) < 0.05 and v != 0 else 0) if digits is None else digits
    return f"{v * 100:.{d}f}%"


FORMATS = {
    "pct": _pct,
    "num1": lambda v: "" if not np.isfinite(v) else f"{v:,.1f}",
    "num2": lambda v: "" if not np.isfinite(v) else f"{v:,.2f}",
    "int": lambda v: "" if not np.isfinite(v) else f"{int(round(v)):,}",
    "p": lambda v: "" if not np.isfinite(v) else ("< 0.001" if v < 0.001 else f"{v:.3f}"),
}
"""Cell formats of report tables (numbers); ``text`` and ``label`` format strings."""

UNIT_FORMATS = {"share": _pct, "index": FORMATS["num2"], "score": FORMATS["num2"],
                "months": lambda v: "" if not np.isfinite(v) else f"{v:.1f}", "number": lambda v: "" if not np.isfinite(v) else f"{v:,.3g}"}
UNIT_SUFFIX = {"share": "", "index": "", "score": "", "months": " months", "number": ""}


def humanise(name) -> str:
    """A readable label for an identifier: ``support_book_stock`` -> ``Support book stock``.

    Parameters
    ----------
    name : object
        An identifier (turned into ``str``).

    Returns
    -------
    str
        ``__`` replaced by ``": "``, ``_`` by a space, stripped, first character upper-cased (the
        rest unchanged); ``""`` for an empty name.
    """
    text = str(name).replace("__", ": ").replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else text


def format_value(value, unit: str) -> str:
    """One estimate as text in its unit.

    Parameters
    ----------
    value : object
        The number (anything ``float`` accepts).
    unit : str
        A unit of :data:`cmlkit.share_intervals.UNITS`: ``share`` as % (one decimal for a non-zero
        share below 5%, else none), ``index`` and ``score`` to two decimals, ``months`` to one,
        ``number`` to three significant figures with thousands separators. Any other unit is
        formatted as ``number``.

    Returns
    -------
    str
        The formatted number without its unit suffix (:data:`UNIT_SUFFIX`); ``""`` when ``value`` is
        missing, not finite or not a number.
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        return ""
    return UNIT_FORMATS.get(unit, UNIT_FORMATS["number"])(v)


def _cell(value, fmt, labels):
    if fmt in FORMATS:
        try:
            return FORMATS[fmt](float(value))
        except (TypeError, ValueError):
            return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if fmt == "label":
        text = str(value)
        if text in labels:
            return labels[text]
        return humanise(text) if " " not in text else RAW_TOKEN.sub(lambda m: m.group(0).replace("_", " "), text)
    if isinstance(value, (float, np.floating)):
        return FORMATS["num2"](float(value)) if abs(value) < 1000 else FORMATS["int"](float(value))
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    return str(value)


def table_view(df: pd.DataFrame, columns: dict | None = None, *, labels: dict | None = None) -> dict:
    """A DataFrame as ``{"header": [...], "rows": [[...]]}`` of formatted strings for the template.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    columns : dict, optional
        Column -> format (a :data:`FORMATS` key, ``text`` or ``label``); only these columns of ``df``
        are shown, in this order (columns ``df`` lacks are skipped). Empty, None, or naming no column
        of ``df``: every column in the ``auto`` format.
    labels : dict, optional
        Identifier -> label, used by the ``label`` format.

    Returns
    -------
    dict
        ``header``: the shown column names, humanised (:func:`humanise`); ``rows``: one list of
        strings per row.

    Notes
    -----
    Missing values are ``""``. A :data:`FORMATS` format falls back to ``str(value)`` for text. The
    ``label`` format gives the label from ``labels``, else humanises a text without spaces, else
    puts the variable names inside the sentence into words. ``text`` and ``auto`` give floats to two decimals
    (below 1,000) or as integers with thousands separators, booleans as ``yes``/``no``, anything
    else as ``str``.
    """
    labels = labels or {}
    cols = {c: f for c, f in (columns or {}).items() if c in df} or {c: "auto" for c in df.columns}
    rows = [[_cell(v, cols[c], labels) for c, v in zip(cols, r)] for r in df[list(cols)].itertuples(index=False)]
    return {"header": [humanise(c) for c in cols], "rows": rows}


def findings_view(findings: pd.DataFrame, section: str) -> dict:
    """The findings rows of one section: overall and by type in the main table, by region apart.

    Parameters
    ----------
    findings : pandas.DataFrame
        The findings table as the report reads it (``section, label, breakdown, domain, estimate,
        ci_low, ci_high, base_n, unit``, boolean ``suppressed`` and ``suppression``).
    section : str
        The section whose rows are shown.

    Returns
    -------
    dict
        ``header`` (Indicator, Libraries, Estimate, 95% interval, Responses (n), Note); ``rows``
        (breakdowns other than ``region``) and ``region_rows``, each row a list of those six strings;
        ``notes`` (one sentence counting primary and secondary suppressions, when any cell is
        suppressed); ``n``, the number of rows of the section. A suppressed row shows "suppressed"
        and "<suppression> suppression" instead of its estimate and interval.
    """
    part = findings.loc[findings["section"] == section]

    def rows(sub):
        out = []
        for r in sub.itertuples():
            shown = not bool(r.suppressed)
            out.append([r.label, "All libraries" if r.breakdown == "all" else f"{humanise(r.breakdown)}: {r.domain}",
                        format_value(r.estimate, r.unit) + UNIT_SUFFIX.get(r.unit, "") if shown else "suppressed",
                        f"{format_value(r.ci_low, r.unit)} to {format_value(r.ci_high, r.unit)}" if shown else "",
                        FORMATS["int"](float(r.base_n)),
                        "" if shown else f"{r.suppression} suppression"])
        return out
    header = ["Indicator", "Libraries", "Estimate", "95% interval", "Responses (n)", "Note"]
    main = part.loc[part["breakdown"] != "region"]
    region = part.loc[part["breakdown"] == "region"]
    sup = part.loc[part["suppressed"].astype(bool)]
    notes = []
    if len(sup):
        counts = sup["suppression"].value_counts()
        notes.append(f"{len(sup)} of {len(part)} cells suppressed: {int(counts.get('primary', 0))} with fewer than k responses "
                     f"(primary), {int(counts.get('secondary', 0))} more so that a hidden cell cannot be worked out (secondary).")
    return {"header": header, "rows": rows(main), "region_rows": rows(region), "notes": notes, "n": len(part)}


def headline_sentences(findings: pd.DataFrame) -> list:
    """One key-finding sentence per indicator: its overall estimate with interval, base and the type range.

    Parameters
    ----------
    findings : pandas.DataFrame
        The findings table as the report reads it (``indicator, section, label, breakdown, domain,
        estimate, ci_low, ci_high, base_n, unit`` and boolean ``suppressed``).

    Returns
    -------
    list of dict
        ``{"section", "text"}`` per indicator (in table order) with an unsuppressed ``all`` row; the
        text adds the estimates of the unsuppressed governance types when there are at least two.
    """
    out = []
    for ind, part in findings.groupby("indicator", sort=False):
        overall = part.loc[(part["breakdown"] == "all") & ~part["suppressed"].astype(bool)]
        if overall.empty:
            continue
        r = overall.iloc[0]
        unit = r["unit"]
        est = format_value(r["estimate"], unit) + UNIT_SUFFIX.get(unit, "")
        text = (f"{r['label']}: {est} across community libraries (95% interval {format_value(r['ci_low'], unit)} to "
                f"{format_value(r['ci_high'], unit)}; n = {int(r['base_n'])}).")
        types = part.loc[(part["breakdown"] == "type") & ~part["suppressed"].astype(bool)]
        if len(types) > 1:
            text += " By governance type: " + ", ".join(f"{d} {format_value(e, unit)}" for d, e in zip(types["domain"], types["estimate"])) + "."
        out.append({"section": r["section"], "text": text})
    return out


def table_headline(df: pd.DataFrame, *, label: str, unit: str = "share", section: str = "") -> list:
    """A key-finding sentence from the ``breakdown == "all"`` row of a table of estimates.

    Parameters
    ----------
    df : pandas.DataFrame
        A table of estimates with ``breakdown``, ``estimate``, ``ci_low``, ``ci_high`` and, optionally,
        ``base_n`` and ``suppressed``.
    label : str
        What is estimated; starts the sentence.
    unit : str, default "share"
        The estimate's unit (:func:`format_value`).
    section : str, default ""
        The report section the sentence belongs to.

    Returns
    -------
    list of dict
        ``[{"section", "text"}]`` built from the first ``all`` row; empty when ``df`` has no
        ``breakdown`` column or ``all`` row, or that row is suppressed (``True``/``1``, any case).
    """
    rows = df.loc[df["breakdown"].astype(str) == "all"] if "breakdown" in df else df.iloc[:0]
    if rows.empty or str(rows.iloc[0].get("suppressed", False)).lower() in ("true", "1"):
        return []
    r = rows.iloc[0]
    n = f"; n = {int(r['base_n'])}" if "base_n" in r and pd.notna(r["base_n"]) else ""
    return [{"section": section, "text": f"{label}: {format_value(r['estimate'], unit)}{UNIT_SUFFIX.get(unit, '')} of community libraries "
             f"(95% interval {format_value(r['ci_low'], unit)} to {format_value(r['ci_high'], unit)}{n})."}]


def change_headlines(df: pd.DataFrame, *, section: str = "", **_) -> list:
    """Key-finding sentences from a trend findings table: each indicator's overall change with its interval.

    Parameters
    ----------
    df : pandas.DataFrame
        A trend findings table (``indicator, label, breakdown, wave_a, wave_b, estimate_a, estimate_b, change,
        ci_low, ci_high, n_both, suppressed``); its ``breakdown == "overall"`` rows are used.
    section : str
        The report section the sentences belong to.

    Returns
    -------
    list of dict
        ``{"section", "text"}`` per unsuppressed indicator; shares in percentage points.
    """
    units = share_intervals.units(indicators.load_spec())
    rows = df.loc[(df["breakdown"].astype(str) == "overall") & ~df["suppressed"].astype(str).str.lower().isin(["true", "1"])]
    out = []
    for r in rows.to_dict("records"):
        unit = units.get(r["indicator"], "number")
        pts = unit == "share"
        scale, suffix = (100, " percentage points") if pts else (1, UNIT_SUFFIX.get(unit, ""))
        fmt = (lambda v: f"{v * scale:+.1f}") if pts or unit in ("months", "number") else (lambda v: f"{v:+.2f}")
        out.append({"section": section, "text": (
            f"{r['label']}: {format_value(r['estimate_a'], unit)} in {r['wave_a']}, {format_value(r['estimate_b'], unit)} in "
            f"{r['wave_b']}; change {fmt(r['change'])}{suffix} (95% interval {fmt(r['ci_low'])} to {fmt(r['ci_high'])}; "
            f"{int(r['n_both'])} libraries answered both waves).")})
    return out


HEADLINE_BUILDERS = {"estimate": lambda df, *, label, unit="share", section="": table_headline(df, label=label, unit=unit, section=section),
                     "change": change_headlines}
"""Headline kind (``headlines`` in the section registry) -> function(table, ...) -> key-finding sentences."""


def _summary_volunteer_scale(s):
    aw, au = s.get("alpha_weighted") or {}, s.get("alpha_unweighted") or {}
    return [f"The volunteer satisfaction scale ({len(s.get('items', []))} items) has Cronbach's alpha "
            f"{aw.get('alpha', float('nan')):.2f} weighted and {au.get('alpha', float('nan')):.2f} unweighted; "
            f"{s.get('responses')} volunteer responses, {s.get('linked_to_responding_library')} of them from libraries "
            "that also answered the library survey (the weighted ones)."]


def _summary_governance(s):
    names = s.get("names") or {}
    st = s.get("stability") or {}
    lines = [f"Method: {humanise(s.get('method', ''))}, k = {s.get('k')} clusters ("
             + "; ".join(str(v) for v in names.values()) + ")."]
    if st:
        lines.append(f"Bootstrap stability over {st.get('B')} resamples: mean Jaccard {st.get('mean_jaccard', float('nan')):.2f}, "
                     f"lowest cluster {st.get('min_cluster_jaccard', float('nan')):.2f} ({st.get('verdict', '')}).")
    for a in s.get("agreement") or []:
        lines.append(f"Adjusted Rand index with {a.get('compared_with')}: {a.get('adjusted_rand', float('nan')):.2f}.")
    return lines


def _summary_flat(s):
    """Scalar entries of a JSON summary, one line each (nested values left to the tables)."""
    return [f"{humanise(k)}: {_cell(v, 'auto', {})}" for k, v in sorted(s.items()) if isinstance(v, (int, float, str, bool)) and v != ""]


SUMMARY_BUILDERS = {"volunteer_scale": _summary_volunteer_scale, "governance": _summary_governance,
                    "case_studies": _summary_flat, "risk": _summary_flat}
"""Summary key (``summaries`` in the section registry) -> function(JSON) -> list of sentences."""
