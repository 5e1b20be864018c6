"""Crosswalks between instrument versions: propose, review, apply (as iefieldkit's ``iecodebook append``).

:func:`diff` compares two versions of an instrument and proposes, per canonical variable, how the later
wave maps onto the earlier one:

* ``exact``           same question id and the same choices (a wording change is flagged, not hidden);
* ``renamed``         a different question id with the same canonical variable and the same choices;
* ``recoded``         the choices differ; ``value_map`` says how each wave's values map onto the common
                      (harmonised) coding, as ``WAVE:value=harmonised`` pairs separated by ``;``;
* ``not_comparable``  the type changed, or the variable exists in one wave only.

Questions found in one wave only get a fuzzy proposal (rapidfuzz on wording) of the other wave's unmatched
question they may continue. The reviewer fills the ``reviewed`` column (``yes``) and may edit ``mapping``
and ``value_map``; rows that are exact with unchanged wording are pre-filled ``auto``. Only reviewed rows are
used downstream (:func:`harmonise`): an unreviewed change a trend needs is a one-line error naming it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process, utils

from cmlkit import tables, waves
from cmlkit.errors import CrosswalkError  # errors live in cmlkit.errors; re-exported here
from cmlkit.instrument import Instrument, load_instrument

MAPPINGS = ("exact", "renamed", "recoded", "not_comparable")
REVIEWED = ("yes", "auto")
COLUMNS = ["canonical", "type", "in_waves", "id_a", "id_b", "text_a", "text_b", "wording_changed",
           "choices_added", "choices_removed", "mapping", "value_map", "fuzzy_match", "fuzzy_score",
           "reviewed", "note"]
REVIEW_KEEP = ("mapping", "value_map", "reviewed", "note")


def _family(qtype: str) -> str:
    return "number" if qtype in ("integer", "decimal") else qtype


def _names(inst: Instrument, q: dict) -> list:
    return [c["name"] for c in inst.choice_lists.get(q["choices"], [])] if q["choices"] else []


def _labels(inst: Instrument, q: dict) -> dict:
    return {c["name"]: c["label"] for c in inst.choice_lists.get(q["choices"], [])} if q["choices"] else {}


def propose_value_map(inst_a: Instrument, qa: dict, inst_b: Instrument, qb: dict, *, min_score: float = 60) -> str:
    """Propose ``WAVE:value=harmonised`` pairs for choices found in one version only.

    The side with more choices (a finer scale, or the list before a merge) is mapped onto the other side's
    own choices: each of its exclusive choices goes to the best label match (rapidfuzz ``token_set_ratio``)
    among the other side's exclusive choices, when it scores at least ``min_score``. A choice with no
    counterpart (e.g. one added to a multi-select) stays unmapped: it is not comparable across the waves.

    Parameters
    ----------
    inst_a, inst_b : Instrument
        The two versions.
    qa, qb : dict
        The question in each version.
    min_score : float, default 60
        Lowest label-match score (0-100) accepted.

    Returns
    -------
    str
        ``WAVE:value=harmonised`` pairs separated by ``; `` (empty when none).
    """
    la, lb = _labels(inst_a, qa), _labels(inst_b, qb)
    only_a, only_b = [n for n in la if n not in lb], [n for n in lb if n not in la]
    if len(lb) >= len(la):
        fine_wave, fine_labels, fine_only, coarse_labels, coarse_only = inst_b.version, lb, only_b, la, only_a
    else:
        fine_wave, fine_labels, fine_only, coarse_labels, coarse_only = inst_a.version, la, only_a, lb, only_b
    pairs = []
    for name in fine_only if coarse_only else []:
        hit = process.extractOne(fine_labels[name], [coarse_labels[t] for t in coarse_only],
                                 scorer=fuzz.token_set_ratio, processor=utils.default_process)
        if hit and hit[1] >= min_score:
            pairs.append(f"{fine_wave}:{name}={coarse_only[hit[2]]}")
    return "; ".join(pairs)


def diff(inst_a: Instrument, inst_b: Instrument, *, min_fuzzy: float = 50) -> pd.DataFrame:
    """The review table of two versions of one instrument, one row per canonical variable.

    Parameters
    ----------
    inst_a, inst_b : Instrument
        The earlier and the later version of the same instrument.
    min_fuzzy : float, default 50
        Lowest rapidfuzz score kept as a fuzzy proposal for a question found in one wave only.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`, in the later questionnaire's order then the dropped variables.
    """
    if inst_a.instrument != inst_b.instrument:
        raise CrosswalkError(f"cannot diff different instruments: {inst_a.instrument} and {inst_b.instrument}")
    ca = {q["canonical"]: q for q in inst_a.questions}
    cb = {q["canonical"]: q for q in inst_b.questions}
    order = list(cb) + [c for c in ca if c not in cb]
    only_a = [c for c in ca if c not in cb]
    only_b = [c for c in cb if c not in ca]
    rows = []
    for c in order:
        qa, qb = ca.get(c), cb.get(c)
        row = dict.fromkeys(COLUMNS, "")
        row.update(canonical=c, type=(qb or qa)["type"], id_a=qa["id"] if qa else "", id_b=qb["id"] if qb else "",
                   text_a=qa["text"] if qa else "", text_b=qb["text"] if qb else "",
                   in_waves=";".join(v for v, q in ((inst_a.version, qa), (inst_b.version, qb)) if q),
                   fuzzy_score=np.nan)
        if qa and qb:
            na, nb = _names(inst_a, qa), _names(inst_b, qb)
            row["wording_changed"] = "yes" if qa["text"] != qb["text"] else "no"
            row["choices_added"] = ";".join(n for n in nb if n not in na)
            row["choices_removed"] = ";".join(n for n in na if n not in nb)
            if qa["type"] != qb["type"]:
                row["mapping"], row["note"] = "not_comparable", f"type changed from {qa['type']} to {qb['type']}"
            elif na != nb and set(na) != set(nb):
                row["mapping"] = "recoded"
                row["value_map"] = propose_value_map(inst_a, qa, inst_b, qb)
            else:
                row["mapping"] = "exact" if qa["id"] == qb["id"] else "renamed"
            if row["mapping"] == "exact" and row["wording_changed"] == "no":
                row["reviewed"] = "auto"
        else:
            here, there = (qa, only_b) if qa else (qb, only_a)
            other = ca if qb else cb
            row["mapping"] = "not_comparable"
            row["note"] = f"only in {inst_a.version if qa else inst_b.version}"
            cands = [(k, other[k]["text"]) for k in there if _family(other[k]["type"]) == _family(here["type"])]
            hit = process.extractOne(here["text"], [t for _, t in cands], scorer=fuzz.token_set_ratio, processor=utils.default_process) if cands else None
            if hit and hit[1] >= min_fuzzy:
                row["fuzzy_match"], row["fuzzy_score"] = cands[hit[2]][0], round(float(hit[1]), 1)
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def merge_reviews(proposed: pd.DataFrame, existing: pd.DataFrame | None) -> pd.DataFrame:
    """Carry a previous review over to a fresh proposal where the proposal is unchanged.

    A row keeps its ``mapping``, ``value_map``, ``reviewed`` and ``note`` when the earlier file has the same
    canonical variable with the same ids, wording and choice changes; anything else comes back unreviewed.

    Parameters
    ----------
    proposed : pandas.DataFrame
        A fresh proposal.
    existing : pandas.DataFrame or None
        The earlier reviewed file.

    Returns
    -------
    pandas.DataFrame
        ``proposed`` with the earlier review where it still applies.
    """
    if existing is None or existing.empty:
        return proposed
    key = ["canonical", "id_a", "id_b", "text_a", "text_b", "choices_added", "choices_removed"]
    old = existing.astype(str).replace("nan", "").set_index(key)[list(REVIEW_KEEP)]
    out = proposed.copy()
    k = pd.MultiIndex.from_frame(out[key].astype(str))
    hit = k.isin(old.index)
    for col in REVIEW_KEEP:
        out.loc[hit, col] = old.reindex(k[hit])[col].to_numpy()
    return out


def crosswalk_path(instrument_folder, wave_a: str, wave_b: str) -> Path:
    """``survey_instruments/<instrument>/crosswalks/<a>_<b>.csv``.

    Parameters
    ----------
    instrument_folder : path-like
        ``survey_instruments/<instrument>``.
    wave_a, wave_b : str
        The two waves, in time order.

    Returns
    -------
    pathlib.Path
    """
    return Path(instrument_folder) / "crosswalks" / f"{wave_a}_{wave_b}.csv"


def read_crosswalk(path) -> pd.DataFrame:
    """Read a (reviewed) crosswalk CSV, checking its columns and its mapping values (one-line errors).

    Parameters
    ----------
    path : str or path-like
        The crosswalk CSV.

    Returns
    -------
    pandas.DataFrame
    """
    path = Path(path)
    if not path.is_file():
        raise CrosswalkError(f"{path}: no crosswalk; write one for review with `cmlkit waves diff`")
    cw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in COLUMNS if c not in cw.columns]
    if missing:
        raise CrosswalkError(f"{path}: missing columns {missing}")
    bad = ~cw["mapping"].isin(MAPPINGS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CrosswalkError(f"{path}: row {i + 2}, column mapping: {cw['mapping'].iat[i]!r} is not one of {list(MAPPINGS)}")
    cw.attrs["source"] = str(path)
    return cw


def parse_value_map(text: str, *, where: str = "value_map") -> dict:
    """``"2026w1:much_better=better; ..."`` -> ``{wave: {value: harmonised}}``.

    Parameters
    ----------
    text : str
        The ``value_map`` cell.
    where : str, default "value_map"
        Named in the error.

    Returns
    -------
    dict
        Wave -> {value: harmonised value}.
    """
    out: dict = {}
    for part in (p.strip() for p in str(text or "").split(";")):
        if not part:
            continue
        wave, sep1, rest = part.partition(":")
        value, sep2, target = rest.partition("=")
        if not (sep1 and sep2 and wave and value and target):
            raise CrosswalkError(f"{where}: {part!r} is not WAVE:value=harmonised")
        out.setdefault(wave.strip(), {})[value.strip()] = target.strip()
    return out


def usable(cw: pd.DataFrame, variables, *, waves=None) -> pd.DataFrame:
    """The reviewed rows for ``variables``; a one-line :class:`CrosswalkError` for the first that is not reviewed.

    A variable absent from the crosswalk, unreviewed, or reviewed as not comparable is named in the error
    (with the reason), so a trend never silently compares different questions.

    Parameters
    ----------
    cw : pandas.DataFrame
        A crosswalk (:func:`read_crosswalk`).
    variables : list of str
        Canonical variables to compare.
    waves : list of str, optional
        Only these waves' rows.

    Returns
    -------
    pandas.DataFrame
        The reviewed, comparable rows.
    """
    src = cw.attrs.get("source", "crosswalk")
    idx = cw.set_index("canonical")
    for v in variables:
        if v not in idx.index:
            raise CrosswalkError(f"{src}: variable {v!r} needed by the trend is not in the crosswalk")
        row = idx.loc[v]
        if row["reviewed"].strip().lower() not in REVIEWED:
            raise CrosswalkError(f"{src}: variable {v!r} ({row['mapping']}) needed by the trend is not reviewed; "
                                 "review it and set reviewed=yes")
    return idx.loc[list(variables)].reset_index()


def harmonised_choices(cw_row, inst_a: Instrument, inst_b: Instrument) -> dict:
    """For a select question: ``{wave: {value: harmonised value}}`` over the values comparable in both waves.

    Parameters
    ----------
    cw_row : pandas.Series
        The crosswalk row of the question.
    inst_a, inst_b : Instrument
        The two versions.

    Returns
    -------
    dict
        Wave -> {value: harmonised value}.
    """
    vm = parse_value_map(cw_row["value_map"], where=f"{cw_row['canonical']}.value_map")
    out = {}
    for inst in (inst_a, inst_b):
        names = [c["name"] for c in inst.canonical_choices(cw_row["canonical"])]
        m = vm.get(inst.version, {})
        out[inst.version] = {n: m.get(n, n) for n in names}
    common = set(out[inst_a.version].values()) & set(out[inst_b.version].values())
    return {w: {k: v for k, v in m.items() if v in common} for w, m in out.items()}


def harmonise_select(data: pd.DataFrame, canonical: str, qtype: str, mapping: dict) -> pd.DataFrame:
    """One wave's clean columns of a select question recoded to the harmonised values.

    select_one: one column, values outside ``mapping`` become missing. select_multiple: one 0/1 column per
    harmonised value (``canonical__value``), the maximum over the wave's choices mapped to it.

    Parameters
    ----------
    data : pandas.DataFrame
        One wave's clean responses.
    canonical : str
        The question's canonical name.
    qtype : {"select_one", "select_multiple"}
    mapping : dict
        That wave's value -> harmonised value.

    Returns
    -------
    pandas.DataFrame
        The harmonised column(s).
    """
    if qtype == "select_one":
        col = data[canonical].astype("string")
        return pd.DataFrame({canonical: col.map(mapping).astype("string")}, index=data.index)
    targets = sorted(set(mapping.values()))
    cols = {}
    for t in targets:
        src = [f"{canonical}__{k}" for k, v in mapping.items() if v == t and f"{canonical}__{k}" in data]
        block = data[src].apply(pd.to_numeric, errors="coerce")
        cols[f"{canonical}__{t}"] = block.max(axis=1, skipna=True).where(block.notna().any(axis=1))
    return pd.DataFrame(cols, index=data.index)


def write_review(instrument: str, wave_a: str, wave_b: str, *, out_dir=None, root=None) -> str:
    """Write the review workbook of two versions (``<a>_<b>.csv`` and ``.xlsx``) and return a one-line summary.

    An existing review in the destination is carried over where the proposal is unchanged
    (:func:`merge_reviews`); the waves must be in time order.

    Parameters
    ----------
    instrument : str
        Instrument id.
    wave_a, wave_b : str
        The two waves, in time order.
    out_dir : path-like, optional
        Default ``survey_instruments/<instrument>/crosswalks``.
    root : path-like, optional
        Project root.

    Returns
    -------
    str
        One-line summary.
    """
    waves.check_order([wave_a, wave_b])
    inst_a, inst_b = load_instrument(instrument, wave_a, root=root), load_instrument(instrument, wave_b, root=root)
    path = (Path(out_dir) / f"{wave_a}_{wave_b}.csv" if out_dir
            else crosswalk_path(waves.instrument_folder(instrument, root=root), wave_a, wave_b))
    old = read_crosswalk(path) if path.exists() else None
    table = merge_reviews(diff(inst_a, inst_b), old)
    tables.write_csv(table, path)
    tables.write_xlsx({"crosswalk": table, "about": about_sheet(inst_a, inst_b)}, path.with_suffix(".xlsx"))
    counts = table["mapping"].value_counts()
    todo = int((~table["reviewed"].str.strip().str.lower().isin(REVIEWED)).sum())
    return (f"{path} (+ .xlsx): {len(table)} variables of {instrument} {wave_a} -> {wave_b}: "
            + ", ".join(f"{int(counts.get(m, 0))} {m}" for m in MAPPINGS) + f"; {todo} to review (set reviewed=yes)")


def about_sheet(inst_a: Instrument, inst_b: Instrument) -> pd.DataFrame:
    """The workbook's guide sheet: what each column means and how to review.

    Parameters
    ----------
    inst_a, inst_b : Instrument
        The two versions.

    Returns
    -------
    pandas.DataFrame
    """
    return pd.DataFrame({"column": COLUMNS, "meaning": [
        "analysis variable (the instrument's canonical name)", "question type (later wave)",
        f"waves that ask it ({inst_a.version}, {inst_b.version})", f"question id in {inst_a.version}",
        f"question id in {inst_b.version}", f"wording in {inst_a.version}", f"wording in {inst_b.version}",
        "yes when the wording differs", f"choices only in {inst_b.version}", f"choices only in {inst_a.version}",
        "proposed mapping: exact / renamed / recoded / not_comparable (edit if wrong)",
        "recoded: WAVE:value=harmonised pairs separated by ';' (values not listed keep their name; a value found "
        "in one wave only and not mapped is not comparable)",
        "one-wave-only questions: the other wave's unmatched question with the closest wording",
        "rapidfuzz token_set_ratio of the wordings (0-100)",
        "reviewer: yes when checked (auto = exact, same wording); only reviewed rows are used by a trend",
        "reviewer's note"]})
