"""The codebook of a wave's data files and the survey design for other tools (``design.json`` + R).

The codebook has one row per column of every exported data set (clean library responses, weighted
library responses with their indicators, clean volunteer responses): variable, Stata name, label,
type, values (choice codes and labels, or the allowed range), wave, source question and whether the
column is in the labelled files (personal columns are not). It is written as XLSX and Markdown.

``design.json`` states the design cmlkit estimates with — the weighted product's recipe (base
``svydesign``: one stage, strata ``region``, finite population correction ``N_region``; then each
weighting step, e.g. raking to the frame's region and type counts) and the design degrees of freedom
— and ``design.R`` replays it in R's ``survey`` (``svydesign`` then ``calibrate``/``postStratify``/
``trimWeights``, :data:`R_STEPS`) on the ``.sav`` (or ``.dta``) file, checks that the weights come
out equal to the file's ``weight``, so an R user gets the same estimates and standard errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from cmlkit import tables
from cmlkit import weighted as weighted_io
from cmlkit.report import TEMPLATES

CODEBOOK_COLUMNS = ["dataset", "variable", "stata_name", "label", "type", "values", "wave", "source_question", "in_labelled_files"]


def codebook(variables: dict, *, wave: str) -> pd.DataFrame:
    """Stack the ``variables`` tables of :func:`cmlkit.labelled.write_labelled` into one codebook.

    Parameters
    ----------
    variables : dict
        Dataset name -> its ``variables`` table (:func:`cmlkit.labelled.write_labelled`), in
        codebook order.
    wave : str
        Wave id, written in the ``wave`` column.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CODEBOOK_COLUMNS` (``dataset, variable, stata_name, label, type, values, wave,
        source_question, in_labelled_files``), one row per variable, missing cells as ``""``; with
        no datasets, an empty table with those columns.
    """
    parts = [v.assign(dataset=name, wave=wave) for name, v in variables.items()]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=CODEBOOK_COLUMNS)
    return out.reindex(columns=CODEBOOK_COLUMNS).fillna("")


def codebook_markdown(book: pd.DataFrame, *, title: str) -> str:
    """The codebook as Markdown: one table per dataset.

    Parameters
    ----------
    book : pandas.DataFrame
        A codebook (:func:`codebook`).
    title : str
        The document title (``# <title>``).

    Returns
    -------
    str
        The title, a note on coded answers and Stata names, then one ``## <dataset>`` section per
        dataset (in codebook order) with a pipe table of ``variable, stata name, label, type, values,
        source question, in labelled files``. Pipes in cells are escaped as ``\\|`` and newlines
        become spaces.
    """
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
    """Write ``codebook.xlsx`` and ``codebook.md`` into ``folder``.

    Parameters
    ----------
    book : pandas.DataFrame
        A codebook (:func:`codebook`).
    folder : str or path-like
        Output folder; created if missing.
    title : str
        Title of the Markdown codebook (:func:`codebook_markdown`).

    Returns
    -------
    dict
        ``{"xlsx": Path, "md": Path}``. The workbook (:func:`cmlkit.tables.write_xlsx`) has one sheet
        per dataset, without the ``dataset`` column.
    """
    folder = Path(folder)
    xlsx = tables.write_xlsx({name: part.drop(columns="dataset") for name, part in book.groupby("dataset", sort=False)},
                             folder / "codebook.xlsx")
    md = tables.write_text(codebook_markdown(book, title=title), folder / "codebook.md")
    return {"xlsx": xlsx, "md": md}


def _r_num(x) -> str:
    return "NULL" if x is None else repr(float(x)) if not float(x).is_integer() else str(int(x)) if abs(x) < 1e15 else repr(float(x))


def _r_str(x) -> str:
    return '"' + str(x).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _r_vector(d: dict) -> str:
    return "c(" + ", ".join(f"{_r_str(k)} = {_r_num(v)}" for k, v in d.items()) + ")"


def _r_calibrate(step: dict) -> tuple[list, list]:
    margins, totals = step.get("margins") or {}, step.get("totals") or {}
    data = []
    for var, pop in margins.items():
        data.append(f"pop_{var} <- {_r_vector(pop)}")
        data.append(f"d${var} <- factor(d${var}, levels = names(pop_{var}))")
    first = next(iter(margins), None)
    parts = [f'c("(Intercept)" = sum(pop_{first}))'] if first else []
    parts += [f'setNames(pop_{v}[-1], paste0("{v}", names(pop_{v})[-1]))' for v in margins]
    parts += [f"c({_r_str(k)} = {_r_num(v)})" for k, v in totals.items()]
    formula = " + ".join(list(margins) + list(totals)) or "1"
    bounds = step.get("bounds") or [None, None]
    b = "" if bounds == [None, None] else (f", bounds = c({'-Inf' if bounds[0] is None else _r_num(bounds[0])}, "
                                           f"{'Inf' if bounds[1] is None else _r_num(bounds[1])})")
    return data, [f"des <- calibrate(des, ~{formula}, population = c({', '.join(parts)}), calfun = {_r_str(step['calfun'])}{b}, "
                  f"maxit = {int(step.get('maxit', 50))}, epsilon = {step.get('epsilon', 1e-7)!r})"]


def _r_poststratify(step: dict) -> tuple[list, list]:
    cell, pop = step["cell"], step["population"]
    return ([f"pop_{cell} <- {_r_vector(pop)}"],
            [f"des <- postStratify(des, ~{cell}, data.frame({cell} = names(pop_{cell}), Freq = unname(pop_{cell})))"])


def _r_trim(step: dict) -> list:
    lo = "-Inf" if step.get("lower") is None else _r_num(step["lower"])
    hi = "Inf" if step.get("upper") is None else _r_num(step["upper"])
    return [], [f"des <- trimWeights(des, lower = {lo}, upper = {hi}, strict = {'TRUE' if step.get('strict') else 'FALSE'})"]


R_STEPS = {"calibrate": _r_calibrate, "poststratify": _r_poststratify, "trim": _r_trim}
"""Weighting step of a design recipe (:mod:`cmlkit.weighted`) -> (lines preparing the data, lines replaying the step in R ``survey``)."""


def r_design(recipe: dict | None) -> list:
    """R lines building ``des`` from data ``d``: the base ``svydesign`` and every weighting step of the recipe.

    Parameters
    ----------
    recipe : dict or None
        A design recipe (:mod:`cmlkit.weighted`): ``svydesign`` (``ids``, ``strata``, ``fpc``,
        ``weights``, ``lonely_psu``, ``nest`` when set) and ``steps``, each with a ``kind`` of :data:`R_STEPS`. Without
        one (None or empty), a fixed-weight design: weights ``weight``, strata ``region``, fpc
        ``N_region``, ``survey.lonely.psu = "adjust"``.

    Returns
    -------
    list of str
        R lines: ``options(survey.lonely.psu = ...)`` (the recipe's ``lonely_psu``, default
        ``"fail"``), the lines preparing population totals and factor levels for the steps, the
        ``svydesign`` call, then one ``calibrate``/``postStratify``/``trimWeights`` line per step.

    Raises
    ------
    ValueError
        If a step's ``kind`` has no R translation in :data:`R_STEPS`.
    """
    if not recipe:
        return ['options(survey.lonely.psu = "adjust")',
                "des <- svydesign(ids = ~1, strata = ~region, fpc = ~N_region, weights = ~weight, data = d)"]
    a = recipe["svydesign"]
    args = ["ids = " + ("~" + " + ".join(a["ids"]) if a.get("ids") else "~1")]
    if a.get("strata"):
        args.append(f"strata = ~{a['strata']}")
    if a.get("fpc"):
        args.append("fpc = ~" + " + ".join(a["fpc"]))
    if a.get("weights"):
        args.append(f"weights = ~{a['weights']}")
    if a.get("nest"):
        args.append("nest = TRUE")
    prepare, steps = [], []
    for step in recipe.get("steps", []):
        if step["kind"] not in R_STEPS:
            raise ValueError(f"no R translation for weighting step {step['kind']!r}")
        data_lines, step_lines = R_STEPS[step["kind"]](step)
        prepare += data_lines
        steps += step_lines
    return ([f"options(survey.lonely.psu = {_r_str(a.get('lonely_psu') or 'fail')})"] + prepare
            + [f"des <- svydesign({', '.join(args)}, data = d)"] + steps)


def recipe_of(weighted: pd.DataFrame) -> dict | None:
    """The design recipe a weighted product carries (:mod:`cmlkit.weighted`), or None.

    Parameters
    ----------
    weighted : pandas.DataFrame
        A weighted product as read by :mod:`cmlkit.weighted`; the recipe is the JSON text in its
        ``attrs[cmlkit.weighted.ATTR]``.

    Returns
    -------
    dict or None
        The parsed recipe, or None when the frame carries none.
    """
    text = weighted.attrs.get(weighted_io.ATTR)
    return json.loads(text) if text else None


def design_spec(weight_report: dict, *, data_files: dict, wave: str, df: int, recipe: dict | None = None,
                example: str = "council_dependency") -> dict:
    """The survey design of the weighted file as data (``design.json``), with the R code that rebuilds it.

    Parameters
    ----------
    weight_report : dict
        The weighting step's ``weight_report.json`` (``method``; ``diagnostics`` with ``calfun``).
    data_files : dict
        Format -> file name of the weighted data (``sav``, ``dta``).
    wave : str
        Wave id.
    df : int
        Design degrees of freedom (responses minus strata).
    recipe : dict, optional
        The weighted product's design recipe (:mod:`cmlkit.weighted`): the base design and every
        weighting step, so R replays the calibration and its standard errors allow for it, as cmlkit's.
        Without it the weights are treated as fixed.
    example : str, default "council_dependency"
        A share-valued column of the weighted file that ``design.R`` estimates as a worked example.

    Returns
    -------
    dict
        ``wave``, ``data_files``, ``weights`` (the recipe's ``weight_column``, default ``weight``),
        ``degrees_of_freedom``, ``recipe``, ``weights_note`` (how the weights were made and whether
        standard errors allow for the calibration), ``intervals`` (t on design df for means, logit for
        shares), ``r`` (the lines of :func:`r_design`) and ``example``.

    Raises
    ------
    ValueError
        If a weighting step of ``recipe`` has no R translation (:func:`r_design`).
    """
    d = weight_report.get("diagnostics") or {}
    return {
        "wave": wave, "data_files": data_files, "weights": (recipe or {}).get("weight_column", "weight"),
        "degrees_of_freedom": int(df), "recipe": recipe,
        "weights_note": (f"{weight_report.get('method')} ({d.get('calfun', '')}) to the frame's region x type counts; "
                         + ("the calibration is replayed, so standard errors allow for it" if recipe else
                            "weights treated as fixed when estimating standard errors (errs on the wide side)")),
        "intervals": {"means": "t on design df", "shares": "logit: svyciprop(method = 'logit', df = degf(design))"},
        "r": r_design(recipe), "example": example,
    }


def write_design(spec: dict, folder) -> dict:
    """Write ``design.json`` and ``design.R`` into ``folder``.

    Parameters
    ----------
    spec : dict
        A design specification (:func:`design_spec`).
    folder : str or path-like
        Output folder; created if missing.

    Returns
    -------
    dict
        ``{"json": Path, "r": Path}``: ``design.json`` (:func:`cmlkit.tables.write_json`) and
        ``design.R``, rendered from ``templates/design.R.j2``. The R script reads the ``.sav`` (or a
        ``.dta`` given on the command line), rebuilds the design, stops unless its weights equal the
        file's and its degrees of freedom equal ``degrees_of_freedom``, and prints the example's mean
        and logit share interval.

    Raises
    ------
    jinja2.exceptions.UndefinedError
        If ``spec`` lacks a key the template uses.
    """
    folder = Path(folder)
    js = tables.write_json(spec, folder / "design.json")
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True)
    r = tables.write_text(env.get_template("design.R.j2").render(spec=spec), folder / "design.R")
    return {"json": js, "r": r}


def indicator_labels(spec: dict) -> dict:
    """Variable labels of the indicator columns: indicator name -> its label in the specification.

    Parameters
    ----------
    spec : dict
        The indicator specification (:func:`cmlkit.indicators.load_spec`).

    Returns
    -------
    dict
    """
    return {name: ind["label"] for name, ind in spec["indicators"].items()}


def dataset_variables(files: dict) -> dict:
    """The variables tables of written labelled data sets, by data set (the input of :func:`codebook`).

    Parameters
    ----------
    files : dict
        Data set name -> the record :func:`cmlkit.labelled.write_labelled` returned (its ``variables``).

    Returns
    -------
    dict
        Data set name -> its ``variables`` table, in the order of ``files``.

    Raises
    ------
    KeyError
        When a record has no ``variables``.
    """
    return {name: f["variables"] for name, f in files.items()}
