"""Finalise applied responses: typed canonical variables, personal data split off."""

from __future__ import annotations

import pandas as pd
import pyarrow.compute as pac

from cmlkit.text_repair import arrow_strings as _arrow_strings
from cmlkit.text_repair import parse_number_text


def finalise(applied: pd.DataFrame, inst) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type the applied responses and split off personal data.

    Parameters
    ----------
    applied : pandas.DataFrame
        Responses after :func:`cmlkit.cleaning_log.apply_log` (question ids as columns, plus
        ``response_id``, ``_end`` and ``_duration_s``).
    inst : Instrument
        Gives each question's type, canonical variable, choices and personal flag.

    Returns
    -------
    clean : pandas.DataFrame
        ``response_id, submitted_at, duration_s`` and one column per canonical variable
        (select_one: choice name, or the raw answer where a reviewer rejected its fix; select_multiple: ``<canonical>__<choice>`` 0/1, missing when
        unanswered; numbers: Float64/Int64, plain numbers only, Int64 rounded for integer questions;
        dates: datetime; text: string). Personal-data questions are dropped.
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
            cols[name] = v.astype("string")   # a value that is not a choice is here only when a reviewer rejected its fix

        elif q["type"] == "select_multiple":
            answered = v.notna().to_numpy()
            padded = pac.binary_join_element_wise(" ", pac.fill_null(_arrow_strings(v), ""), " ", "")
            for c in inst.choice_names(q["id"]):
                ticked = pac.match_substring(padded, f" {c} ").to_numpy(zero_copy_only=False).astype("int8")
                cols[f"{name}__{c}"] = pd.arrays.IntegerArray(ticked, ~answered)
        elif q["type"] in ("integer", "decimal"):
            # plain numbers only: text the cleaning log did not turn into a number (a rejected proposal) stays
            # out of the typed data, and the audit says so; it is never re-parsed here behind the reviewer's back
            parsed = parse_number_text(v)
            value = parsed["value"].where(parsed["kind"] == "number").to_numpy()
            cols[name] = (pd.Series(value).round().astype("Int64").to_numpy() if q["type"] == "integer"
                          else pd.array(value, dtype="Float64"))
        elif q["type"] == "date":
            cols[name] = pd.to_datetime(v, errors="coerce", format="ISO8601")
        else:
            cols[name] = v.astype("string")
    clean = pd.DataFrame(cols)
    private = pd.DataFrame({"response_id": applied["response_id"].astype("string"),
                            **{inst.question(q)["canonical"]: applied[q].astype("string") for q in inst.personal_ids}})
    return clean, private
