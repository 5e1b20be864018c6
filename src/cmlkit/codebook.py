"""The codebook of a wave's data files and the survey design for other tools (``design.json`` + R).

The codebook has one row per column of every exported data set (clean library responses, weighted
library responses with their indicators, clean volunteer responses): variable, Stata name, label,
type, values (choice codes and labels, or the allowed range), wave, source question and whether the
column is in the labelled files (personal columns are not). It is written as XLSX and Markdown.

``design.json`` states the design cmlkit estimates with — one stage, strata ``region``, finite
population correction ``N_region``, calibrated weights ``weight`` (treated as fixed), lonely PSUs
adjusted, design degrees of freedom — and ``design.R`` is the matching ``svydesign(...)`` call on
the ``.sav`` (or ``.dta``) file, so an R user gets the same estimates and standard errors.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from . import tables
from .report import TEMPLATES

CODEBOOK_COLUMNS = ["dataset", "variable", "stata_name", "label", "type", "values", "wave", "source_question", "in_labelled_files"]


def codebook(variables: dict, *, wave: str) -> pd.DataFrame:
    """Stack the ``variables`` tables of :func:`cmlkit.labelled.write_labelled` (dataset name -> table)."""
    parts = [v.assign(dataset=name, wave=wave) for name, v in variables.items()]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=CODEBOOK_COLUMNS)
    return out.reindex(columns=CODEBOOK_COLUMNS).fillna("")


def codebook_markdown(book: pd.DataFrame, *, title: str) -> str:
    """The codebook as Markdown: one table per dataset (pipes in cells escaped)."""
    lines = [f"# {title}", "", "One row per column of each data file. Coded answers: the number is stored, the label shown; "
             "`stata_name` is the name in the `.dta` file where Stata's limit shortened it.", ""]
    for name, part in book.groupby("dataset", sort=False):
        lines += [f"## {name}", "", "| variable | stata name | label | type | values | source question | in labelled files |",
                  "|---|---|---|---|---|---|---|"]
        cells = part[["variable", "stata_name", "label", "type", "values", "source_question", "in_labelled_files"]].astype(str)
        cells = cells.apply(lambda c: c.str.replace("|", "\\|", regex=False).str.replace("\n", " ", regex=False))
        lines += ("| " + cells.agg(" | ".join, axis=1) + " |").tolist()
        lines.append("")
    return "\n".join(lines)


def write_codebook(book: pd.DataFrame, folder, *, title: str) -> dict:
    """Write ``codebook.xlsx`` and ``codebook.md`` into ``folder``; return their paths."""
    folder = Path(folder)
    xlsx = tables.write_xlsx({name: part.drop(columns="dataset") for name, part in book.groupby("dataset", sort=False)},
                             folder / "codebook.xlsx")
    md = tables.write_text(codebook_markdown(book, title=title), folder / "codebook.md")
    return {"xlsx": xlsx, "md": md}


def design_spec(weight_report: dict, *, data_files: dict, wave: str, df: int, example: str = "council_dependency") -> dict:
    """The survey design of the weighted file as data (``design.json``).

    Parameters
    ----------
    weight_report : dict
        The weighting step's ``weight_report.json`` (method, diagnostics).
    data_files : dict
        Format -> file name of the weighted data (``sav``, ``dta``).
    df : int
        Design degrees of freedom (responses minus strata).
    example : str
        A share-valued column of the weighted file that ``design.R`` estimates as a worked example.
    """
    d = weight_report.get("diagnostics") or {}
    return {
        "wave": wave, "data_files": data_files, "ids": None, "strata": "region", "fpc": "N_region", "weights": "weight",
        "lonely_psu": "adjust", "degrees_of_freedom": int(df),
        "weights_note": (f"calibrated ({weight_report.get('method')}, {d.get('calfun', '')}) to the frame's region x type counts; "
                         "treated as fixed when estimating standard errors (errs on the wide side)"),
        "intervals": {"means": "t on design df", "shares": "logit: svyciprop(method = 'logit', df = degf(design))"},
        "r": "svydesign(ids = ~1, strata = ~region, fpc = ~N_region, weights = ~weight, data = d)", "example": example,
    }


def write_design(spec: dict, folder) -> dict:
    """Write ``design.json`` and ``design.R`` (from ``templates/design.R.j2``) into ``folder``."""
    folder = Path(folder)
    js = tables.write_json(spec, folder / "design.json")
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, keep_trailing_newline=True)
    r = tables.write_text(env.get_template("design.R.j2").render(spec=spec), folder / "design.R")
    return {"json": js, "r": r}
