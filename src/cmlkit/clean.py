"""Cleaning: checks *propose* changes into a cleaning log; a (reviewed) log is applied with guards.

The log schema (one row per proposed or decided change)::

    wave, response_id, question, old_value, new_value, change_type, check_id, reason, reviewer, decided_at

``change_type`` is one of ``change_response``, ``blank_response``, ``remove_response``,
``no_action``. Personal data never enters the log: where the old value holds personal data, the
log keeps ``sha256:<digest>`` of it, which is enough for :func:`apply_log` to check it is unchanged.

Checks in this module (``check_id``): ``test_row``, ``exact_duplicate``, ``duplicate_library``,
``choice_label``, ``number_text``, ``out_of_range``, ``skip_logic``, ``pii_text``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cmlkit.cleaning_log import LOG_COLUMNS, digest
from cmlkit.relevance import evaluate

_NA_TEXT = re.compile(r"^(n/?a|na|none given|not known|unknown|don'?t know|dk|-+|\?+|tbc|not sure)$", re.I)
_RANGE = re.compile(r"^£?\s*([\d.,]+)\s*(k?)\s*(?:-|–|to)\s*£?\s*([\d.,]+)\s*(k?)$", re.I)
_NOISE = re.compile(r"(?i)\b(?:approximately|approx|about|around|roughly|circa|or so|hours?|hrs?|per week|a week|pw|pounds?|gbp)\b\.?|\bc\.|£|~")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
PHONE = re.compile(r"(?<![\d])(?:\+44\s?\(?0?\)?\s?|0)(?:\d[\s-]?){9,10}(?![\d])")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.I)
TEST_NAME = re.compile(r"(?i)^\s*(?:test\b|testing\b|preview\b|dummy\b|ignore\b)|\btest response\b|please ignore")


def loose(text) -> str:
    """Case-, whitespace- and end-punctuation-insensitive form of a label."""
    return re.sub(r"^[\W_]+|[\W_]+$", "", " ".join(str(text).split()).casefold())


def parse_number_text(values: pd.Series) -> pd.DataFrame:
    """Parse numbers written as text.

    Returns a frame with ``value`` (float), ``lower``/``upper`` (for ranges) and ``kind``:
    ``blank``, ``number`` (already a plain number), ``text_number`` (``£1,200``, ``approx 20``,
    ``1.5k``), ``na`` (``n/a``, ``don't know``), ``range`` (``£500-£1,000``) or ``bad``.
    """
    s = values.astype("string").str.strip()
    out = pd.DataFrame({"value": np.nan, "lower": np.nan, "upper": np.nan, "kind": "bad"}, index=values.index)
    blank = s.isna() | (s == "")
    out.loc[blank, "kind"] = "blank"
    plain = pd.to_numeric(s.where(~blank), errors="coerce")
    is_plain = plain.notna() & s.str.fullmatch(r"-?\d+(?:\.\d+)?").fillna(False)
    out.loc[is_plain, "value"] = plain[is_plain]
    out.loc[is_plain, "kind"] = "number"
    rest = ~blank & ~is_plain
    na = rest & s.str.fullmatch(_NA_TEXT).fillna(False)
    out.loc[na, "kind"] = "na"
    rng = s.where(rest & ~na).str.extract(_RANGE)
    is_rng = rng[0].notna()
    if is_rng.any():
        lo = pd.to_numeric(rng[0].str.replace(",", ""), errors="coerce") * np.where((rng[1].str.lower() == "k").fillna(False).to_numpy(bool), 1000, 1)
        hi = pd.to_numeric(rng[2].str.replace(",", ""), errors="coerce") * np.where((rng[3].str.lower() == "k").fillna(False).to_numpy(bool), 1000, 1)
        out.loc[is_rng, "lower"], out.loc[is_rng, "upper"] = lo[is_rng], hi[is_rng]
        out.loc[is_rng, "kind"] = "range"
    txt = rest & ~na & ~is_rng
    cleaned = s.where(txt).str.replace(_NOISE, "", regex=True).str.replace(",", "", regex=False).str.strip()
    k = cleaned.str.fullmatch(r"-?\d+(?:\.\d+)?\s*[kK]").fillna(False).to_numpy(bool)
    num = pd.to_numeric(cleaned.str.replace(r"\s*[kK]$", "", regex=True), errors="coerce") * np.where(k, 1000, 1)
    ok = txt & num.notna()
    out.loc[ok, "value"] = num[ok]
    out.loc[ok, "kind"] = "text_number"
    return out


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def code_choices(raw: pd.DataFrame, inst) -> pd.DataFrame:
    """Return a copy where select_one answers given as exact labels are replaced by choice names."""
    out = raw.copy()
    for qid in inst.questions_of_type("select_one"):
        labels = {c["label"]: c["name"] for c in inst.choices(qid)}
        mapped = out[qid].map(labels)
        out[qid] = out[qid].where(mapped.isna(), mapped)
    return out


def _entries(wave, ids, qid, old, new, change, check, reason):
    n = len(ids)
    return pd.DataFrame({"wave": wave, "response_id": list(ids), "question": qid, "old_value": list(old),
                         "new_value": list(new) if not isinstance(new, str) else [new] * n,
                         "change_type": change, "check_id": check, "reason": list(reason) if not isinstance(reason, str) else [reason] * n,
                         "reviewer": "", "decided_at": ""})


def propose_changes(raw: pd.DataFrame, inst, *, wave: str) -> pd.DataFrame:
    """Run every check on an ingested export and return the proposed cleaning log.

    Parameters
    ----------
    raw : pandas.DataFrame
        Output of :func:`cmlkit.ingest.read_export` (never modified).
    inst : Instrument
    wave : str

    Returns
    -------
    pandas.DataFrame
        Proposed log with :data:`LOG_COLUMNS`, in file order.
    """
    logs = []
    qids = inst.question_ids
    first_text = next(q["id"] for q in inst.questions if q["type"] == "text")
    # row-level: test / preview rows
    test = (raw["_status"] == "preview") | raw[first_text].fillna("").str.contains(TEST_NAME)
    logs.append(_entries(wave, raw.loc[test, "response_id"], "", [""] * int(test.sum()), "", "remove_response", "test_row",
                         np.where(raw.loc[test, "_status"] == "preview", "platform marks it a preview/test response",
                                  "name marks it a test response")))
    live = raw.loc[~test]
    # exact duplicates on every answer
    answers = live[qids].fillna("\x00").astype(str)
    dup = answers.duplicated(keep="first")
    first_of = answers.reset_index().merge(answers.loc[~dup].reset_index(), on=qids, suffixes=("", "_first"))
    first_id = live["response_id"].reindex(first_of.set_index("index")["index_first"].reindex(live.index)).to_numpy()
    logs.append(_entries(wave, live.loc[dup, "response_id"], "", [""] * int(dup.sum()), "", "remove_response", "exact_duplicate",
                         ["exact duplicate of response " + str(f) for f in first_id[dup.to_numpy()]]))
    live = live.loc[~dup]
    # the same library answering twice: keep the most complete, then the latest
    if "postcode" in live and "library_name" in live:
        key = live["library_name"].fillna("").map(loose) + "|" + live["postcode"].fillna("").str.replace(r"\s", "", regex=True).str.upper()
        completeness = live[qids].notna().sum(axis=1)
        order = pd.DataFrame({"key": key, "complete": completeness, "end": live["_end"], "rid": live["response_id"]})
        order = order.sort_values(["key", "complete", "end"], ascending=[True, False, False], kind="stable")
        superseded = order.duplicated("key", keep="first") & (order["key"] != "|")
        keeper = order.loc[~order.duplicated("key", keep="first")].set_index("key")["rid"]
        sup = order.loc[superseded]
        logs.append(_entries(wave, sup["rid"], "", [""] * len(sup), "", "remove_response", "duplicate_library",
                             ["same library (name and postcode) answered again; kept the more complete, later response " + str(k)
                              for k in sup["key"].map(keeper)]))
        live = live.drop(index=sup.index)
    coded = code_choices(live, inst)
    # select_one answers that are not exact labels
    for qid in inst.questions_of_type("select_one"):
        names = {c["name"] for c in inst.choices(qid)}
        loose_map = {loose(c["label"]): c["name"] for c in inst.choices(qid)}
        vals = coded[qid]
        bad = vals.notna() & ~vals.isin(names)
        if bad.any():
            fixed = vals[bad].map(lambda v: loose_map.get(loose(v)))
            hit = fixed.notna()
            logs.append(_entries(wave, live.loc[bad[bad].index[hit], "response_id"], qid, vals[bad][hit], fixed[hit],
                                 "change_response", "choice_label", "label differs from the choice only in case, spacing or punctuation"))
            logs.append(_entries(wave, live.loc[bad[bad].index[~hit], "response_id"], qid, vals[bad][~hit], "",
                                 "blank_response", "choice_label", "answer is not one of the choices (review)"))
            coded.loc[fixed[hit].index, qid] = fixed[hit]
            coded.loc[fixed[~hit].index, qid] = None
    # numbers written as text, and ranges
    for qid in inst.questions_of_type("integer", "decimal"):
        parsed = parse_number_text(coded[qid])
        kind = parsed["kind"]
        m = kind == "text_number"
        logs.append(_entries(wave, live.loc[m, "response_id"], qid, coded.loc[m, qid], parsed.loc[m, "value"].map(_fmt),
                             "change_response", "number_text", "number written as text"))
        coded.loc[m, qid] = parsed.loc[m, "value"].map(_fmt)
        m = kind == "na"
        logs.append(_entries(wave, live.loc[m, "response_id"], qid, coded.loc[m, qid], "", "blank_response", "number_text",
                             "'not applicable / not known' written in a number field"))
        m = kind.isin(["range", "bad"])
        reason = np.where(kind[m] == "range", "a range, not a number: lower " + parsed.loc[m, "lower"].astype(str) + ", upper "
                          + parsed.loc[m, "upper"].astype(str) + " (review)", "not a number (review)")
        logs.append(_entries(wave, live.loc[m, "response_id"], qid, coded.loc[m, qid], "", "blank_response", "number_text", reason))
        coded.loc[kind.isin(["na", "range", "bad"]), qid] = None
        # range constraints
        c = inst.question(qid)["constraint"] or {}
        num = pd.to_numeric(coded[qid], errors="coerce")
        out = pd.Series(False, index=num.index)
        if "min" in c:
            out |= num < c["min"]
        if "max" in c:
            out |= num > c["max"]
        if out.any():
            logs.append(_entries(wave, live.loc[out, "response_id"], qid, coded.loc[out, qid], "", "blank_response", "out_of_range",
                                 f"outside the allowed range {c.get('min', '-inf')} to {c.get('max', 'inf')} (review)"))
            coded.loc[out, qid] = None
    # skip logic: answered although not asked
    for q in inst.questions:
        if q["relevant"]:
            asked = evaluate(q["relevant"], coded)
            extra = ~asked & coded[q["id"]].notna()
            if extra.any():
                old = coded.loc[extra, q["id"]]
                if q["personal"] or q["type"] == "text":
                    old = old.map(digest)
                logs.append(_entries(wave, live.loc[extra, "response_id"], q["id"], old, "", "blank_response", "skip_logic",
                                     f"answered although skip logic ({q['relevant']}) says it was not asked"))
                coded.loc[extra, q["id"]] = None
    # personal data inside free text
    for q in inst.questions:
        if q["type"] == "text" and not q["personal"] and q["section"] not in ("identity", "library"):
            vals = coded[q["id"]]
            red = vals.str.replace(EMAIL, "[email removed]", regex=True).str.replace(PHONE, "[phone removed]", regex=True) \
                .str.replace(POSTCODE, "[postcode removed]", regex=True)
            changed = vals.notna() & (red != vals)
            if changed.any():
                logs.append(_entries(wave, live.loc[changed, "response_id"], q["id"], vals[changed].map(digest), red[changed],
                                     "change_response", "pii_text", "personal data (email, phone or postcode) in free text redacted"))
    log = pd.concat([lg for lg in logs if len(lg)], ignore_index=True) if any(len(lg) for lg in logs) else pd.DataFrame(columns=LOG_COLUMNS)
    pos = pd.Series(np.arange(len(raw)), index=raw["response_id"].to_numpy())
    qpos = {q: i for i, q in enumerate(qids)}
    log["_r"] = log["response_id"].map(pos)
    log["_q"] = log["question"].map(qpos).fillna(-1)
    log = log.sort_values(["_r", "_q", "check_id"], kind="stable").drop(columns=["_r", "_q"]).reset_index(drop=True)
    for col in LOG_COLUMNS:
        log[col] = log[col].astype(object).where(log[col].notna(), "").astype(str)
    return log[LOG_COLUMNS]


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
            padded = " " + v.fillna("").astype(str) + " "
            for c in inst.choice_names(q["id"]):
                ticked = padded.str.contains(f" {c} ", regex=False).to_numpy().astype("int8")
                cols[f"{name}__{c}"] = pd.array(np.where(answered, ticked, pd.NA), dtype="Int8")
        elif q["type"] == "integer":
            cols[name] = pd.to_numeric(v, errors="coerce").round().astype("Int64")
        elif q["type"] == "decimal":
            cols[name] = pd.to_numeric(v, errors="coerce").astype("Float64")
        elif q["type"] == "date":
            cols[name] = pd.to_datetime(v, errors="coerce", format="ISO8601")
        else:
            cols[name] = v.astype("string")
    clean = pd.DataFrame(cols)
    private = pd.DataFrame({"response_id": applied["response_id"].astype("string"),
                            **{inst.question(q)["canonical"]: applied[q].astype("string") for q in inst.personal_ids}})
    return clean, private
