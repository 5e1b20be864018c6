"""The shared setup of the describe notebooks (30 services, 31 volunteers, 32 finances): one findings section.

Each of those notebooks reads the weighted library responses, computes every indicator of
``research/indicators.yml``, builds the design with the indicators added, and estimates the rows of its
section of the findings table. :func:`load_section` does the reading and set-up once, and
:func:`section_table` the section's rows, so the notebooks hold calls only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cmlkit import design as D
from cmlkit import disclosure, figures, findings, indicators, share_intervals, tables
from cmlkit.instrument import Instrument, load_instrument


@dataclass(frozen=True)
class FindingsSection:
    """What a describe notebook works from (built by :func:`load_section`).

    Attributes
    ----------
    out : pathlib.Path
        The step's output folder.
    k : int
        The minimum cell size of ``research/disclosure.yml``.
    spec : dict
        The indicator specification.
    inst : Instrument
        The library questionnaire of the wave.
    weighted : pandas.DataFrame
        The weighted library responses (with their design recipe).
    values : pandas.DataFrame
        Every indicator, row-aligned with ``weighted``.
    design : Design
        The design of ``weighted`` with the indicators not already in it added.
    labels : dict
        Variable name -> label from the instrument.
    source : str
        The source line under the section's figures (wave, weighted, n = responses).
    """

    out: Path
    k: int
    spec: dict
    inst: Instrument
    weighted: pd.DataFrame
    values: pd.DataFrame
    design: D.Design
    labels: dict
    source: str


def new_indicator_columns(weighted: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """The indicator columns that the weighted table does not already hold.

    Parameters
    ----------
    weighted : pandas.DataFrame
        The weighted responses.
    values : pandas.DataFrame
        The indicators computed from them (:func:`cmlkit.indicators.compute`), row-aligned.

    Returns
    -------
    pandas.DataFrame
        ``values`` without the columns whose name is also a column of ``weighted`` (order kept).
    """
    return values.drop(columns=[c for c in values if c in weighted])


def load_section(instrument: str, wave: str, weighted_path, *, output_dir, spec_path=None) -> FindingsSection:
    """Read the weighted library responses and set up a describe notebook's section.

    Parameters
    ----------
    instrument : str
        The library instrument's name (e.g. ``"cml_library"``).
    wave : str
        The wave id (e.g. ``"2025w1"``); its first four characters are the year the indicators use.
    weighted_path : str or path-like
        The weighted responses written by the weighting step (parquet with its recipe).
    output_dir : str or path-like
        The step's output folder (``FindingsSection.out``).
    spec_path : str or path-like, optional
        The indicator specification; default ``research/indicators.yml``.

    Returns
    -------
    FindingsSection
        The disclosure k, spec, instrument, weighted responses, indicator values, design (calibrated
        design of :func:`cmlkit.findings.design_of` with the new indicator columns), figure labels and
        source line (n = weighted responses).

    Raises
    ------
    cmlkit.indicators.IndicatorError
        When the specification is malformed or an indicator's input column is missing.
    """
    k = int(disclosure.load_rules()["k"])
    spec = indicators.load_spec(spec_path)
    inst = load_instrument(instrument, wave)
    weighted = tables.read_table(weighted_path)
    values = indicators.compute(weighted, spec, inst=inst, wave_year=int(wave[:4]))
    design = findings.design_of(weighted, data=new_indicator_columns(weighted, values))
    return FindingsSection(out=Path(output_dir), k=k, spec=spec, inst=inst, weighted=weighted, values=values, design=design,
                           labels=figures.instrument_labels(inst), source=figures.source_line(wave, n=len(weighted)))


def section_table(design: D.Design, spec: dict, section: str, *, wave: str, k: int) -> pd.DataFrame:
    """The findings-table rows of one section: estimates, shares bounded to [0, 1], small cells suppressed.

    Parameters
    ----------
    design : Design
        The design with the section's indicators in its data.
    spec : dict
        The indicator specification (the section's indicators, in spec order).
    section : str
        The section name (``services``, ``volunteers``, ``finances``).
    wave : str
        The wave id written in each row.
    k : int
        The minimum cell size; smaller cells keep their row with no estimate.

    Returns
    -------
    pandas.DataFrame
        :func:`cmlkit.findings.findings_table` of :func:`cmlkit.share_intervals.bound_shares` of
        :func:`cmlkit.findings.section_rows` (overall, by type, by region).
    """
    rows = findings.section_rows(design, spec, section, wave=wave)
    return findings.findings_table(share_intervals.bound_shares(rows, spec=spec), k=k)


def section_indicators(spec: dict, section: str) -> list:
    """The names of a section's indicators, in specification order.

    Parameters
    ----------
    spec : dict
        The indicator specification.
    section : str
        The section name.

    Returns
    -------
    list of str
    """
    return [name for name, ind in spec["indicators"].items() if ind["section"] == section]


def breakdown_rows(rows: pd.DataFrame, indicator: str, breakdown: str) -> pd.DataFrame:
    """The rows of one indicator and one breakdown of a findings table (e.g. a figure's rows by region).

    Parameters
    ----------
    rows : pandas.DataFrame
        Findings rows with ``indicator`` and ``breakdown`` columns.
    indicator : str
    breakdown : str
        E.g. ``"all"``, ``"type"``, ``"region"``.

    Returns
    -------
    pandas.DataFrame
        The matching rows, index and order kept.
    """
    return rows.loc[(rows["indicator"] == indicator) & (rows["breakdown"] == breakdown)]
