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
from importlib import resources
from pathlib import Path

import jinja2
import pandas as pd

from cmlkit import disclosure, indicators, share_intervals
from cmlkit.errors import CmlkitError, ReportError  # ReportError re-exported: ``report.ReportError``
from cmlkit.instrument import load_instrument
from cmlkit.report_format import (  # noqa: F401  (re-exported: the report's formats and views belong to cmlkit.report)
    FORMATS, HEADLINE_BUILDERS, RAW_TOKEN, SUMMARY_BUILDERS, UNIT_FORMATS, UNIT_SUFFIX, change_headlines, findings_view,
    format_value, headline_sentences, humanise, table_headline, table_view)
from cmlkit.yaml_text import load_yaml

TEMPLATES = resources.files("cmlkit") / "templates"
PUBLIC_TOP = ("tables", "figures")  # the report reads products only from these folders (and run.json)
UNIT_LEVEL_IDS = ("library_id", "response_id")  # tables with these columns are unit-level: never in "Other results"


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
    """The section registry: which products go in which section of the report.

    Parameters
    ----------
    path : str or path-like, optional
        A YAML registry (default: the packaged ``templates/report_sections.yml``).

    Returns
    -------
    dict
        The parsed YAML: ``sections`` (each with ``key``, ``title``, ``intro`` and optionally
        ``findings``, ``figures``, ``figure_globs``, ``tables``, ``summaries``, ``headlines``) and
        ``method_figures``.
    """
    text = Path(path).read_text(encoding="utf-8") if path else (TEMPLATES / "report_sections.yml").read_text(encoding="utf-8")
    return load_yaml(text)


def figure_view(run_dir: Path, stem: str) -> dict | None:
    """One figure as an embeddable SVG data URI with its alt text and title.

    Parameters
    ----------
    run_dir : pathlib.Path
        The run folder.
    stem : str
        Figure path under ``figures/`` without suffix (``services_offered``, ``trend/change_x``).

    Returns
    -------
    dict or None
        ``stem``; ``title`` (the ``.json`` record's title, else the humanised stem, on one line);
        ``alt`` (the ``.txt`` alt text, else ``"Figure: <title>"``); ``src``
        (``data:image/svg+xml;base64,...``).
        None when the SVG does not exist.

    Raises
    ------
    cmlkit.errors.ReportError
        If ``stem`` leads into a ``private`` folder.
    """
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



def _findings(run_dir: Path) -> pd.DataFrame | None:
    f = _read_csv(run_dir, "tables/findings/findings.csv")
    if f is None:
        return None
    if "unit" not in f:  # a findings table written before units were recorded
        f["unit"] = f["indicator"].map(share_intervals.units(indicators.load_spec())).fillna("number")
    f["suppressed"] = f["suppressed"].astype(str).str.lower().isin(["true", "1"])
    return f


def method_note(run_dir: Path, record: dict, findings: pd.DataFrame | None) -> list:
    """Sentences on who was surveyed, the frame, response, weighting, design, intervals and disclosure.

    Parameters
    ----------
    run_dir : pathlib.Path
        The run folder; ``tables/weighting/weight_report.json`` and ``response_rates.csv`` are read
        when present.
    record : dict
        The run's ``run.json`` (``instrument``, ``wave``, optional ``inputs.frame`` with ``path`` and
        ``sha256``).
    findings : pandas.DataFrame or None
        The findings table; its distinct ``method`` texts (without ``(n=...)``) describe the intervals.

    Returns
    -------
    list of str
        In order, each where its inputs exist: who was surveyed (population, responses, response
        rate; the frame year when the instrument loads), the frame file, the weighting (method,
        collapsed cells, weight range, Kish design effect), the design (strata, degrees of freedom),
        the interval methods, the labelled data for other tools (when
        ``tables/codebook/codebook.xlsx`` exists) and, always, the disclosure rule with its ``k``.
    """
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
                     f"{n} responded and were linked to the frame (response rate {FORMATS['pct'](n / N) if N else 'n/a'}).")
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
    """Row accounting and cleaning summary per instrument (counts only).

    Parameters
    ----------
    run_dir : pathlib.Path
        The run folder; every ``tables/<instrument>/row_accounting.csv`` is one instrument.

    Returns
    -------
    list of dict
        One block per instrument folder, sorted: ``instrument`` (the folder name), ``accounting``
        (a :func:`table_view` of stage and n); when the folder's ``cleaning_log.csv`` has rows,
        ``cleaning`` (changes per check and status) and ``cleaning_total``; when its
        ``validation_report.csv`` has rows, ``validation`` (issues per check and severity).
    """
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
    """Everything the report shows, read from the run folder's public products.

    Parameters
    ----------
    run_dir : str or path-like
        A run folder with ``run.json``.
    sections : dict, optional
        A section registry (default, and when empty: :func:`load_sections`).

    Returns
    -------
    dict
        The template's context: ``title``, ``record`` (``run.json``), ``headlines`` (key-finding
        sentences: :func:`headline_sentences`, then each section's ``headlines``), ``method``
        (:func:`method_note`), ``method_figures``, ``sections`` (per section shown: ``key, title,
        intro, figures, tables, summaries, findings``), ``quality`` (:func:`data_quality`), ``code``
        (short git sha, pipeline) and ``inputs`` (name, file, sha256 of each input).

    Raises
    ------
    cmlkit.errors.ReportError
        If ``run_dir`` has no ``run.json``, or the registry names a product outside ``tables/`` and
        ``figures/`` (or inside a ``private`` folder).

    Notes
    -----
    A section is shown when it has a figure, a non-empty table, a summary sentence or findings
    rows. "Other results" collects the figures no section (nor ``method_figures``) names, and the
    CSV tables no section reads, outside ``tables/findings``, ``tables/weighting``,
    ``tables/summary`` and the instrument folders (those with a ``row_accounting.csv``), with 1 to 60 rows and no unit-level id column
    (:data:`UNIT_LEVEL_IDS`).
    """
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

    Parameters
    ----------
    run_dir : str or path-like
        A run folder with ``run.json``.
    out : str or path-like, optional
        The file to write (default ``<run_dir>/README.md``).

    Returns
    -------
    pathlib.Path
        The file written (rendered from ``templates/run_readme.md.j2``).

    Notes
    -----
    Lists what is actually in the folder, whatever the pipeline: each top-level entry (plus
    ``README.md`` and ``report.html``) with its note from :data:`FOLDER_NOTES`, the number of files
    and subfolders of each folder (no file count for ``notebooks/``), the steps with their executed
    notebooks, and the findings workbooks. ``run.json`` stays the machine-readable record.
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
