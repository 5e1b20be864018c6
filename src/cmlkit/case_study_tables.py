"""What the case-study step (50) writes and says about a draw: the specification with the run's
overrides, the achieved inclusion probabilities, the draw's one-paragraph summary, the draw without
contact columns, and the empty replacement log that ``cmlkit sample replace`` appends to."""

from __future__ import annotations

import pandas as pd

from cmlkit import case_fieldwork, sampling
from cmlkit.research import SpecRecord

CONTACT_COLUMNS = ("library_name", "postcode", "local_authority")


def with_overrides(spec, **overrides):
    """The specification with each override that is not None put in place.

    Parameters
    ----------
    spec : Mapping
        A case-study specification (:func:`cmlkit.sampling.load_spec`).
    **overrides
        Keys of the specification (e.g. ``sample_size``, ``method``, ``random_state``); None keeps
        the specification's value.

    Returns
    -------
    Mapping
        A new specification (``spec`` is not changed): a checked record (:meth:`cmlkit.research.SpecRecord.replace`)
        when ``spec`` is one, else a dict.
    """
    changes = {k: v for k, v in overrides.items() if v is not None}
    return spec.replace(**changes) if isinstance(spec, SpecRecord) else {**spec, **changes}


def with_achieved_inclusion(table: pd.DataFrame, cands: pd.DataFrame, spec: dict, *, draws: int) -> pd.DataFrame:
    """The selection table with ``pik_achieved``: inclusion probabilities over repeated draws.

    Parameters
    ----------
    table : pandas.DataFrame
        The selection table, rows aligned with ``cands``.
    cands : pandas.DataFrame
        The candidates (:func:`cmlkit.sampling.candidates`).
    spec : dict
        The case-study specification.
    draws : int
        Repeated draws (:func:`cmlkit.sampling.simulate_inclusion`); 0 adds nothing.

    Returns
    -------
    pandas.DataFrame
        ``table`` unchanged for maximum-variation picks (no inclusion probabilities) or when ``draws`` is 0.
    """
    if spec["method"] == "max_variation" or not draws:
        return table
    return table.assign(pik_achieved=sampling.simulate_inclusion(cands, spec, draws=draws, random_state=spec["random_state"]))


def draw_summary(selection, spec: dict) -> str:
    """The draw in words: its warnings, then on which draw every hard constraint was met.

    Parameters
    ----------
    selection : cmlkit.sampling.Selection
        The result of :func:`cmlkit.sampling.draw`.
    spec : dict
        The case-study specification.

    Returns
    -------
    str
        One ``WARNING:`` line per warning, then the summary line.
    """
    lines = [f"WARNING: {w}" for w in selection.warnings]
    lines.append(f"{spec['method']} selection met every hard constraint on draw {selection.tries}; "
                 f"draws rejected, by constraint: {selection.rejected or 'none'}")
    return "\n".join(lines)


def without_contacts(table: pd.DataFrame) -> pd.DataFrame:
    """The draw's state without the library's name, postcode and authority (kept in the frame, not the state).

    Parameters
    ----------
    table : pandas.DataFrame
        The selection table.

    Returns
    -------
    pandas.DataFrame
    """
    return table.drop(columns=[c for c in CONTACT_COLUMNS if c in table])


def empty_replacement_log() -> pd.DataFrame:
    """The replacement log before any library declined: the columns of :data:`cmlkit.case_fieldwork.REPLACEMENT_LOG_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
    """
    return pd.DataFrame(columns=list(case_fieldwork.REPLACEMENT_LOG_COLUMNS))


def summary_record(spec, cands: pd.DataFrame, selection, public: pd.DataFrame, balance: pd.DataFrame) -> dict:
    """What ``tables/case_studies/summary.json`` records about a draw.

    Parameters
    ----------
    spec : mapping
        The case-study specification with the run's overrides (:func:`with_overrides`).
    cands : pandas.DataFrame
        The eligible libraries (:func:`cmlkit.sampling.candidates`; ``attrs["excluded"]`` says who was left out).
    selection : cmlkit.sampling.Selection
        The draw (``tries``, ``rejected``, ``warnings``).
    public : pandas.DataFrame
        The public table (:func:`cmlkit.case_fieldwork.public_table`).
    balance : pandas.DataFrame
        The balance table (:func:`cmlkit.sampling.balance`).

    Returns
    -------
    dict
        ``sample_size, method, eligible, excluded, draw, rejected_draws, warnings, purposive`` (library id and
        role of the typical and deviant cases), ``reserves`` and ``balance`` (:func:`cmlkit.sampling.balance_summary`).
    """
    return {"sample_size": int(spec["sample_size"]), "method": spec["method"],
            "eligible": len(cands), "excluded": cands.attrs["excluded"], "draw": selection.tries,
            "rejected_draws": selection.rejected, "warnings": selection.warnings,
            "purposive": public.loc[public["role"].isin(["typical", "deviant"]), ["library_id", "role"]].to_dict("records"),
            "reserves": int((public["role"] == "reserve").sum()), "balance": sampling.balance_summary(balance)}
