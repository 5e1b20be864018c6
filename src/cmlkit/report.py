"""One self-contained ``report.html`` per run folder, and the run folder's ``README.md`` index.

The report is built only from the run's **public products** — the findings table, the figures with
their alt text, the CSV/JSON tables, ``run.json`` — never by re-running an analysis and never from
``private/`` or the response-level ``data/``. Figures are embedded as SVG data URIs, styles are
inline: the file opens anywhere without a network. Which products go in which section is data
(``templates/report_sections.yml``); figures and tables no section claims go to "Other results",
so any pipeline's run folder (a wave or a trend run) gets a report. The page and the index are
Jinja2 templates (``templates/report.html.j2``, ``templates/run_readme.md.j2``) with HTML
autoescaping. Nothing time-dependent is written: the same products give the same bytes.
"""

from __future__ import annotations

import base64
import json
import re
from importlib import resources
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
import yaml

from cmlkit import disclosure, indicators, share_intervals
from cmlkit.errors import CmlkitError
from cmlkit.instrument import load_instrument

TEMPLATES = resources.files("cmlkit") / "templates"
PUBLIC_TOP = ("tables", "figures")
UNIT_LEVEL_IDS = ("library_id", "response_id")
RAW_TOKEN = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")  # variable names inside a sentence  # tables with these columns are unit-level: never in "Other results"  # the report reads products only from these folders (and run.json)


class ReportError(CmlkitError):
    """A run folder that cannot be reported on."""


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
    """A readable label for an identifier: ``support_book_stock`` -> ``Support book stock``."""
    text = str(name).replace("__", ": ").replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else text


def format_value(value, unit: str) -> str:
    """One estimate in its unit (``share`` as %, ``months`` to one decimal, ...)."""
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
    columns : dict, optional
        Column -> format (``FORMATS`` key, ``text`` or ``label``); only these columns are shown.
        Empty or None: every column, numbers to two decimals, identifiers humanised.
    labels : dict, optional
        Identifier -> label, used by the ``label`` format.
    """
    labels = labels or {}
    cols = {c: f for c, f in (columns or {}).items() if c in df} or {c: "auto" for c in df.columns}
    rows = [[_cell(v, cols[c], labels) for c, v in zip(cols, r)] for r in df[list(cols)].itertuples(index=False)]
    return {"header": [humanise(c) for c in cols], "rows": rows}


# ---------------------------------------------------------------- reading the run folder

def _public(run_dir: Path, rel) -> Path:
    path = run_dir / rel
    if not set(Path(rel).parts[:1]) <= set(PUBLIC_TOP) or "private" in Path(rel).parts:
        raise ReportError(f"{rel}: the report reads only public products ({', '.join(PUBLIC_TOP)})")
    return path


def _read_csv(run_dir, rel):
    path = _public(run_dir, rel)
    return pd.read_csv(path) if path.is_file() else None


def _read_json(run_dir, rel):
    path = _public(run_dir, rel)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def load_sections(path=None) -> dict:
    """The section registry (``templates/report_sections.yml`` or ``path``)."""
    text = Path(path).read_text(encoding="utf-8") if path else (TEMPLATES / "report_sections.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def figure_view(run_dir: Path, stem: str) -> dict | None:
    """One figure as an embeddable SVG data URI with its alt text and title (None when absent)."""
    svg = _public(run_dir, f"figures/{stem}.svg")
    if not svg.is_file():
        return None
    alt_path = svg.with_suffix(".txt")
    alt = alt_path.read_text(encoding="utf-8").strip() if alt_path.is_file() else ""
    meta_path = svg.with_suffix(".json")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    title = meta.get("title") or humanise(stem)
    return {"stem": stem, "title": " ".join(str(title).split()), "alt": alt or f"Figure: {title}",
            "src": "data:image/svg+xml;base64," + base64.b64encode(svg.read_bytes()).decode("ascii")}


def findings_view(findings: pd.DataFrame, section: str) -> dict:
    """The findings rows of one section: overall and by type in the main table, by region apart."""
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
    """One sentence per indicator: its overall estimate with its interval, base and the type range."""
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
    """A key-finding sentence from the ``breakdown == "all"`` row of a table of estimates (none when suppressed)."""
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


def _findings(run_dir: Path) -> pd.DataFrame | None:
    f = _read_csv(run_dir, "tables/findings/findings.csv")
    if f is None:
        return None
    if "unit" not in f:  # a findings table written before units were recorded
        f["unit"] = f["indicator"].map(share_intervals.units(indicators.load_spec())).fillna("number")
    f["suppressed"] = f["suppressed"].astype(str).str.lower().isin(["true", "1"])
    return f


def method_note(run_dir: Path, record: dict, findings: pd.DataFrame | None) -> list:
    """Sentences on who was surveyed, the frame, response, weighting, intervals and disclosure."""
    lines = []
    try:
        inst = load_instrument(record["instrument"], record["wave"])
    except CmlkitError:
        inst = None
    wr = _read_json(run_dir, "tables/weighting/weight_report.json")
    rates = _read_csv(run_dir, "tables/weighting/response_rates.csv")
    frame = (record.get("inputs") or {}).get("frame")
    year = getattr(inst, "frame_year", None)
    if wr:
        n, N = wr.get("responses_weighted"), wr.get("population")
        lines.append(f"Who was surveyed: every in-scope community managed library in England (community run and independent "
                     f"community libraries) in the population frame{f' for {year}' if year else ''}: {N} libraries, of which "
                     f"{n} responded and were linked to the frame (response rate {_pct(n / N) if N else 'n/a'}).")
    if frame:
        lines.append(f"Frame: {Path(frame['path']).name} (sha256 {frame['sha256'][:12]}…).")
    if wr:
        d = wr.get("diagnostics") or {}
        method = {"rake": "raking", "calibrate": "calibration", "poststratify": "post-stratification"}.get(wr.get("method"), wr.get("method"))
        lines.append(f"Weighting: {method} to the frame's region × governance type counts ({d.get('calfun', '')}; cells with fewer "
                     f"than {wr.get('min_cell')} responses collapsed: {len(set((wr.get('collapsed') or {}).values()))} collapsed cells). "
                     f"Weights range {d.get('min', float('nan')):.2f} to {d.get('max', float('nan')):.2f} (ratio {d.get('max_min_ratio', float('nan')):.1f}); "
                     f"Kish design effect {d.get('deff_kish', float('nan')):.2f}, effective n {d.get('n_eff', float('nan')):.0f} of {d.get('n')}.")
    if rates is not None and wr:
        strata = rates.loc[rates["region"] != "All", "region"].nunique()
        n = int(wr.get("responses_weighted") or 0)
        lines.append(f"Design: stratified by region ({strata} strata) with the finite population correction; design degrees of "
                     f"freedom {n - strata} (responses minus strata), smaller within a domain.")
    if findings is not None:
        methods = sorted(set(findings["method"].dropna().astype(str).str.replace(r"\(n=\d+\)", "", regex=True)))
        lines.append("Intervals: 95%. " + " ".join(f"{m[:1].upper() + m[1:]}." for m in methods))
    if (run_dir / "tables" / "codebook" / "codebook.xlsx").is_file():
        lines.append("Data for other tools: the clean and weighted responses as labelled SPSS (.sav) and Stata (.dta) files in "
                     "data/labelled/, described by tables/codebook/codebook.xlsx; data/labelled/design.json and design.R give R "
                     "users the same design (svydesign with the strata, fpc and calibrated weights).")
    k = disclosure.load_rules().get("k")
    lines.append(f"Disclosure control: an estimate with fewer than k = {k} responses is not published (primary suppression); where "
                 "one cell of a set is hidden, the next smallest is hidden too (secondary suppression).")
    return lines


def data_quality(run_dir: Path) -> list:
    """Row accounting and cleaning summary per instrument (counts only)."""
    out = []
    for acc_path in sorted((run_dir / "tables").glob("*/row_accounting.csv")):
        name = acc_path.parent.name
        acc = pd.read_csv(acc_path)
        block = {"instrument": name, "accounting": table_view(acc.assign(stage=acc["stage"].map(humanise)), {"stage": "text", "n": "int"})}
        log = _read_csv(run_dir, f"tables/{name}/cleaning_log.csv")
        if log is not None and len(log):
            counts = log.groupby(["check_id", "status"]).size().rename("changes").reset_index()
            block["cleaning"] = table_view(counts, {"check_id": "label", "status": "text", "changes": "int"})
            block["cleaning_total"] = len(log)
        val = _read_csv(run_dir, f"tables/{name}/validation_report.csv")
        if val is not None and len(val):
            block["validation"] = table_view(val.groupby(["check", "severity"]).size().rename("issues").reset_index(),
                                             {"check": "label", "severity": "text", "issues": "int"})
        out.append(block)
    return out


def collect(run_dir, *, sections: dict | None = None) -> dict:
    """Everything the report shows, read from the run folder's public products."""
    run_dir = Path(run_dir)
    rec_path = run_dir / "run.json"
    if not rec_path.is_file():
        raise ReportError(f"{rec_path}: no run.json (not a cmlkit run folder)")
    record = json.loads(rec_path.read_text(encoding="utf-8"))
    sections = sections or load_sections()
    findings = _findings(run_dir)
    labels = {} if findings is None else dict(zip(findings["indicator"], findings["label"]))
    used_fig, used_tab = set(sections.get("method_figures", [])), {"tables/findings/findings.csv"}
    views = []
    for sec in sections["sections"]:
        globbed = [str(p.relative_to(run_dir / "figures").with_suffix("")) for pattern in sec.get("figure_globs", [])
                   for p in sorted((run_dir / "figures").glob(pattern + ".svg"))]
        sec = {**sec, "figures": list(sec.get("figures", [])) + globbed}
        figs = [f for f in (figure_view(run_dir, s) for s in sec["figures"]) if f]
        tabs = []
        for t in sec.get("tables", []):
            df = _read_csv(run_dir, t["path"])
            used_tab.add(t["path"])
            if df is not None and t.get("query"):  # the rows a table shows (report_sections.yml: query)
                df = df.query(t["query"])
            if df is not None and len(df):
                tabs.append({"caption": t["caption"], **table_view(df, t.get("columns"), labels=labels)})
        summ = []
        for key, rel in (sec.get("summaries") or {}).items():
            s = _read_json(run_dir, rel)
            used_tab.add(rel)
            if s:
                summ += SUMMARY_BUILDERS[key](s)
        fv = findings_view(findings, sec["findings"]) if findings is not None and sec.get("findings") else None
        used_fig |= set(sec.get("figures", []))
        if figs or tabs or summ or (fv and fv["n"]):
            views.append({**{k: sec.get(k, "") for k in ("key", "title", "intro")}, "figures": figs, "tables": tabs,
                          "summaries": summ, "findings": fv if fv and fv["n"] else None})
    stems = [str(p.relative_to(run_dir / "figures").with_suffix("")) for p in sorted((run_dir / "figures").rglob("*.svg"))]
    other_figs = [figure_view(run_dir, stem) for stem in stems if stem not in used_fig]
    other_tabs = []
    for p in sorted((run_dir / "tables").glob("**/*.csv")):
        rel = str(p.relative_to(run_dir))
        top = p.relative_to(run_dir / "tables").parts[0]
        if rel in used_tab or top in {"findings", "weighting", "summary"} or (run_dir / "tables" / top / "row_accounting.csv").exists():
            continue
        df = pd.read_csv(p)
        if 0 < len(df) <= 60 and not set(df.columns) & set(UNIT_LEVEL_IDS):
            other_tabs.append({"caption": rel, **table_view(df, None, labels=labels)})
    if other_figs or other_tabs:
        views.append({"key": "other", "title": "Other results", "intro": "Products of this run that no section above presents.",
                      "figures": other_figs, "tables": other_tabs, "summaries": [], "findings": None})
    method_figs = [f for f in (figure_view(run_dir, s) for s in sections.get("method_figures", [])) if f]
    headlines = headline_sentences(findings) if findings is not None else []
    for sec in sections["sections"]:
        for h in sec.get("headlines", []):
            df = _read_csv(run_dir, h["path"])
            if df is not None:
                opts = {k: v for k, v in h.items() if k not in ("path", "builder")}
                headlines += HEADLINE_BUILDERS[h.get("builder", "estimate")](df, section=sec["key"], **opts)
    pipeline = record.get("pipeline") or "wave"
    title = (f"Community managed libraries survey, wave {record.get('wave')}" if pipeline == "wave"
             else f"Community managed libraries survey, {pipeline} run to wave {record.get('wave')}")
    return {"title": title, "record": record,
            "headlines": headlines,
            "method": method_note(run_dir, record, findings), "method_figures": method_figs,
            "sections": views, "quality": data_quality(run_dir),
            "code": {"sha": ((record.get("git") or {}).get("sha") or "")[:7], "pipeline": record.get("pipeline")},
            "inputs": [{"name": k, "file": Path(v["path"]).name, "sha256": v["sha256"]} for k, v in sorted((record.get("inputs") or {}).items())]}


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=jinja2.select_autoescape(["html", "html.j2"]),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def build_report(run_dir, *, out=None, sections: dict | None = None) -> Path:
    """Write ``report.html`` (or ``out``) for a run folder from its public products.

    Parameters
    ----------
    run_dir : path-like
        A run folder with ``run.json`` (the runner writes it before the first step).
    out : path-like, optional
        Default ``<run_dir>/report.html``.
    sections : dict, optional
        A section registry (default ``templates/report_sections.yml``).

    Returns
    -------
    pathlib.Path
    """
    run_dir = Path(run_dir)
    html = _env().get_template("report.html.j2").render(**collect(run_dir, sections=sections))
    out = Path(out) if out else run_dir / "report.html"
    out.write_text(html, encoding="utf-8")
    return out


FOLDER_NOTES = {
    "report.html": "**Open this first.** The run's report: key findings with intervals, method, one section per topic with its figures and tables, data quality.",
    "README.md": "This index.",
    "run.json": "Machine-readable record of the run: code version, package versions, parameters, sha256 of every input and product, step timings.",
    "tables": "Published tables (CSV, XLSX, JSON); the findings workbook is the table for toolkit authors.",
    "figures": "Figures as PNG (150 dpi) and SVG, with alt text beside each as `.txt`.",
    "data": "Response-level data (parquet/CSV) and labelled exports for SPSS, Stata and R. Not for publication as it stands.",
    "notebooks": "The executed notebooks, one per pipeline step, with their narrative and outputs.",
    "private": "**Never share.** Contact details, linkage and ranked lists for the research team only.",
}
"""Top-level entries of a run folder -> what they hold (the index's text)."""


def write_index(run_dir, *, out=None) -> Path:
    """Write the run folder's ``README.md``: what each folder holds and what to open first.

    Lists what is actually in the folder (generic over pipelines); ``run.json`` stays the
    machine-readable record.
    """
    run_dir = Path(run_dir)
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    names = sorted({p.name for p in run_dir.iterdir()} | {"README.md", "report.html"})
    entries = []
    for name in names:
        p = run_dir / name
        subs = sorted(q.name for q in p.iterdir() if q.is_dir()) if p.is_dir() else []
        files = sum(1 for q in p.rglob("*") if q.is_file()) if p.is_dir() and name != "notebooks" else None
        entries.append({"name": name + ("/" if p.is_dir() else ""), "note": FOLDER_NOTES.get(name, ""), "subfolders": subs, "files": files})
    steps = [{"name": s["name"], "notebook": s.get("executed_notebook", "")} for s in record.get("steps", [])]
    workbooks = [str(p.relative_to(run_dir)) for p in sorted((run_dir / "tables").rglob("findings.xlsx"))] if (run_dir / "tables").is_dir() else []
    text = _env().get_template("run_readme.md.j2").render(record=record, entries=entries, steps=steps, workbooks=workbooks)
    out = Path(out) if out else run_dir / "README.md"
    out.write_text(text, encoding="utf-8")
    return out


def headline_texts(context: dict) -> list:
    """The key findings' sentences as they appear at the top of the report.

    Parameters
    ----------
    context : dict
        The report context (:func:`collect`), with ``headlines`` (each a dict with ``text``).

    Returns
    -------
    list of str
    """
    return [h["text"] for h in context["headlines"]]
