"""Choice coding helpers shared by ingest, cleaning, the log and validation.

* :func:`code_choices` turns select_one answers given as exact labels into choice names;
* :func:`multi_outside_choices` flags space-joined multi-select answers holding a non-choice;
* :func:`declared_codes` is the instrument's numeric code of each choice (its 1-based position in
  the choice list, the default coding of SurveyMonkey, Qualtrics "numeric values" and SPSS exports),
  used to read exports that carry codes instead of labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def code_choices(raw: pd.DataFrame, inst) -> pd.DataFrame:
    """Return a copy where select_one answers given as exact labels are replaced by choice names.

    The copy is shallow under pandas copy-on-write: columns not changed here or later share memory
    with ``raw``, and any write copies just that column, so ``raw`` never changes.

    Parameters
    ----------
    raw : pandas.DataFrame
        Responses with one column per question id.
    inst : Instrument
        Gives the select_one questions and their choice labels.

    Returns
    -------
    pandas.DataFrame
        The same frame with each select_one answer that equals a choice's label exactly replaced by the
        choice's name; other answers (names, variants, blanks) are left as they are.
    """
    out = raw.copy(deep=False) if pd.get_option("mode.copy_on_write") else raw.copy()
    for qid in inst.questions_of_type("select_one"):
        labels = {c["label"]: c["name"] for c in inst.choices(qid)}
        col = out[qid]
        if col.dtype != object or not out.columns.is_unique:
            mapped = col.map(labels)
            out[qid] = col.where(mapped.isna(), mapped)
            continue
        values = col.to_numpy()
        at = pd.Index(list(labels), dtype=object).get_indexer(values)  # one hash lookup per cell, no mapped copy
        hit = at >= 0
        if hit.any():
            names = np.array(list(labels.values()), dtype=object)
            out[qid] = pd.Series(np.where(hit, names[at], values), index=col.index, name=qid)
    return out


def multi_outside_choices(values: pd.Series, allowed) -> pd.Series:
    """True where a space-joined select_multiple answer holds a name not in ``allowed`` (vectorised).

    Parameters
    ----------
    values : pandas.Series
        Space-joined choice names (missing allowed).
    allowed : iterable of str
        The allowed choice names.

    Returns
    -------
    pandas.Series of bool
        Same index; False for missing answers.
    """
    parts = values.dropna().astype(str).str.split().explode()
    bad = (~parts.isin(list(allowed)) & parts.notna()).groupby(level=0).any()
    return bad.reindex(values.index, fill_value=False).astype(bool)


def declared_codes(inst, qid: str) -> dict:
    """Return ``{code text: choice label}`` for a select question (``"1"`` -> first choice's label).

    Parameters
    ----------
    inst : Instrument
    qid : str
        A select question's id.

    Returns
    -------
    dict
        ``"1"``, ``"2"`` … (the choice's 1-based position in its list, as text) -> the choice's label.
    """
    return {str(k): c["label"] for k, c in enumerate(inst.choices(qid), start=1)}
