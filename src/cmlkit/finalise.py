"""Finalise applied responses: typed canonical variables, personal data split off."""

from __future__ import annotations

import pandas as pd
import pyarrow.compute as pac

from cmlkit.text_repair import arrow_strings as _arrow_strings
from cmlkit.text_repair import parse_number_text


def finalise(applied: pd.DataFrame, inst) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type the applied responses and split off personal data.

    Returns
    -------
    clean : pandas.DataFrame
        ``response_id, submitted_at, duration_s`` and one column per canonical variable
        (select_one: choice name; select_multiple: ``<canonical>__<choice>`` 0/1, missing when
        unanswered; numbers: Float64/Int64; text: string). Personal-data questions are dropped.
    private : pandas.DataFrame
        ``response_id`` and the personal-data questions (write under ``private/`` only).
    """
    with pd.option_context("mode.copy_on_write", True):
        return _finalise(applied, inst)


def _finalise(applied, inst):
    cols = {"response_id": applied["response_id"].astype("string"),
            "submitted_at": applied["_end"], "duration_s": pd.to_numeric(applied["_duration_s"], errors="coerce").astype("Float64")}
    for q in inst.questions:
        if q["personal"]:
            continue
        v, name = applied[q["id"]], q["canonical"]
        if q["type"] == "select_one":
            cols[name] = v.where(v.isin(inst.choice_names(q["id"]))).astype("string")
        elif q["type"] == "select_multiple":
            answered = v.notna().to_numpy()
            padded = pac.binary_join_element_wise(" ", pac.fill_null(_arrow_strings(v), ""), " ", "")
            for c in inst.choice_names(q["id"]):
                ticked = pac.match_substring(padded, f" {c} ").to_numpy(zero_copy_only=False).astype("int8")
                cols[f"{name}__{c}"] = pd.arrays.IntegerArray(ticked, ~answered)
        elif q["type"] == "integer":
            cols[name] = pd.Series(parse_number_text(v)["value"].to_numpy()).round().astype("Int64").to_numpy()
        elif q["type"] == "decimal":
            cols[name] = pd.array(parse_number_text(v)["value"].to_numpy(), dtype="Float64")
        elif q["type"] == "date":
            cols[name] = pd.to_datetime(v, errors="coerce", format="ISO8601")
        else:
            cols[name] = v.astype("string")
    clean = pd.DataFrame(cols)
    private = pd.DataFrame({"response_id": applied["response_id"].astype("string"),
                            **{inst.question(q)["canonical"]: applied[q].astype("string") for q in inst.personal_ids}})
    return clean, private
