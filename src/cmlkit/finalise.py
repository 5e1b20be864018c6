"""Finalise applied responses: typed canonical variables, personal data split off."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit.datetimes import answer_dates
from cmlkit.text_repair import plain_number_columns


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


def _ticks(v: pd.Series, name: str, choices: list) -> dict:
    """``<name>__<choice>``: 0/1 (Int8, missing where unanswered) for each choice named in the space-joined answers.

    Worked out once per distinct answer (a multi-select column holds few), then spread to the rows.
    """
    codes, uniq = pd.factorize(v, use_na_sentinel=True)
    padded = [f" {u} " for u in uniq]
    answered = codes >= 0
    out = {}
    for c in choices:
        hit = np.array([f" {c} " in u for u in padded] + [False], dtype="int8")  # the last: unanswered (code -1)
        out[f"{name}__{c}"] = pd.arrays.IntegerArray(hit[codes], ~answered)
    return out


def _whole_numbers(value: np.ndarray) -> np.ndarray:
    """``pd.Series(value).round().astype("Int64").to_numpy()`` without pandas' per-value cast checks.

    Rounded floats are whole, so the cast is exact wherever they fit in int64; anything larger takes
    the pandas path (and its error).
    """
    whole = np.round(value)
    nan = np.isnan(whole)
    if np.abs(whole[~nan]).max(initial=0) >= 2.0 ** 63:
        return pd.Series(value).round().astype("Int64").to_numpy()
    return pd.arrays.IntegerArray(np.where(nan, 0, whole).astype(np.int64), nan).to_numpy()


def _finalise(applied, inst):
    # the number questions' plain numbers, in question order: each number question below takes the next
    numbers = plain_number_columns(applied, [q["id"] for q in inst.questions if q["type"] in ("integer", "decimal") and not q["personal"]])
    cols = {"response_id": applied["response_id"].astype("string"),
            "submitted_at": applied["_end"], "duration_s": pd.to_numeric(applied["_duration_s"], errors="coerce").astype("Float64")}
    for q in inst.questions:
        if q["personal"]:
            continue
        v, name = applied[q["id"]], q["canonical"]
        if q["type"] == "select_one":
            cols[name] = v.astype("string")   # a value that is not a choice is here only when a reviewer rejected its fix

        elif q["type"] == "select_multiple":
            cols.update(_ticks(v, name, inst.choice_names(q["id"])))
        elif q["type"] in ("integer", "decimal"):
            # plain numbers only: text the cleaning log did not turn into a number (a rejected proposal) stays
            # out of the typed data, and the audit says so; it is never re-parsed here behind the reviewer's back
            _, value = next(numbers)
            cols[name] = _whole_numbers(value) if q["type"] == "integer" else pd.arrays.FloatingArray(value, np.isnan(value))
        elif q["type"] == "date":
            # ISO text (ingest reads other forms; the ``dates`` check blanks what is no date, in the log), at the
            # time written: an offset is dropped, not applied (a date written 2025-03-04T00:00+02:00 stays the 4th)
            cols[name] = answer_dates(v)
        else:
            cols[name] = v.astype("string")
    clean = pd.DataFrame(cols)
    private = pd.DataFrame({"response_id": applied["response_id"].astype("string"),
                            **{inst.question(q)["canonical"]: applied[q].astype("string") for q in inst.personal_ids}})
    return clean, private
