"""The cleaning checks that look at values: duplicates of a library, choice labels, 'other' recodes, numbers
as text and outliers, skip logic, personal data in free text (the text repairs are in :mod:`cmlkit.text_checks`).

Each ``check_*`` function is registered in :mod:`cmlkit.check_registry` with its declared inputs and
takes the working state of :func:`cmlkit.clean.propose_changes` (``P``: ``P.coded`` the values in
play, ``P.add``/``P.remove`` to propose) and the instrument; it proposes and never changes data itself.
The whole-response checks and quality flags are in :mod:`cmlkit.response_checks`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pac
from rapidfuzz import fuzz, process

from cmlkit.check_registry import register_check
from cmlkit.coding import multi_outside_choices
from cmlkit.instrument import find_root
from cmlkit.relevance import evaluate
from cmlkit.text_repair import arrow_strings as _arrow_strings
from cmlkit.text_repair import fmt_number as _fmt
from cmlkit.text_repair import NUMBER_KINDS, fold, map_unique as _map_unique, missing_markers, parse_number_columns
from cmlkit.text_repair import strip_accents as _strip_accents

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
PHONE = re.compile(r"(?<![\d+])(?:\+44\s?(?:\(0\)\s?)?|0)\d(?:[\s-]?\d){8,9}(?![\d])")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.I)

OTHER_STOPWORDS = {"for", "the", "and", "of", "a", "an", "to", "in", "local", "free", "sessions", "session", "help",
                   "service", "services", "our", "with", "people", "community", "we", "run", "offer", "some"}
SENTINELS = {-1.0, -9.0, -99.0, -999.0, 99.0, 999.0, 9999.0}
GENERIC_EMAIL_DOMAINS = {"gmail.com", "googlemail.com", "hotmail.com", "hotmail.co.uk", "outlook.com", "live.com", "live.co.uk",
                         "yahoo.com", "yahoo.co.uk", "btinternet.com", "aol.com", "icloud.com", "sky.com", "talktalk.net",
                         "virginmedia.com", "ntlworld.com", "me.com", "msn.com"}
NAME_CUE = re.compile(r"\b(?:[Mm]y name is|[Cc]ontact|[Aa]sk for|[Ss]peak to|[Ww]rite to)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z'’-]+)?)")


def is_private_text(q) -> bool:
    """Whether a question's old values are logged as ``sha256:`` digests by the value checks.

    Parameters
    ----------
    q : dict
        A question record of the instrument.

    Returns
    -------
    bool
        True for text questions that are personal or outside the ``identity`` and ``library`` sections
        (free text may hold personal data).
    """
    return q["type"] == "text" and (q["personal"] or q["section"] not in ("identity", "library"))


def _stem(word: str) -> str:
    """A light English plural stemmer (deliveries -> delivery, groups -> group)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _tokens(text: str) -> list:
    return [_stem(t) for t in re.split(r"[^a-z0-9]+", _strip_accents(str(text)).casefold()) if t]


def load_other_recodes(inst, *, root=None) -> pd.DataFrame:
    """The reusable other->choice dictionary ``survey_instruments/<instrument>/other_recodes.csv``.

    Parameters
    ----------
    inst : Instrument
        Its ``instrument`` names the folder ``survey_instruments/<instrument>/``.
    root : path, optional
        Project root (found from the working directory when omitted).

    Returns
    -------
    pandas.DataFrame
        Columns ``question, other_text, choice`` as text; matched on the loose form of ``other_text``.
        A missing file is an empty dictionary (those columns, no rows).
    """
    path = find_root(root) / "survey_instruments" / inst.instrument / "other_recodes.csv"
    if not path.is_file():
        return pd.DataFrame(columns=["question", "other_text", "choice"])
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return table


def match_other_text(texts: pd.Series, choices: list, *, recodes: dict | None = None, min_coverage: float = 0.6,
                     token_score: int = 85) -> pd.Series:
    """Match 'other (please specify)' texts to an existing choice, or None.

    A text matches a choice when it is in the ``recodes`` dictionary (loose text -> choice), or when at
    least ``min_coverage`` of its content words (stop words dropped) are found among the choice label's
    words (word similarity >= ``token_score`` with rapidfuzz, so 'deliveries' ~ 'delivery') and exactly
    one choice reaches the best coverage. 'Repair café' does not become 'Café' (coverage 1/2).
    Choices named ``other`` and ``none`` are never matched by words.

    Parameters
    ----------
    texts : pandas.Series
        The 'other' texts.
    choices : list of dict
        The question's choice records (``name``, ``label``).
    recodes : dict, optional
        Loose text (accents stripped) -> choice name; checked first.
    min_coverage : float, default 0.6
        Share of the text's content words that must be found among a choice label's words.
    token_score : int, default 85
        rapidfuzz ``ratio`` at which two words count as the same.

    Returns
    -------
    pandas.Series
        Same index: the matched choice name, or None.
    """
    recodes = recodes or {}
    label_tokens = {c["name"]: set(_tokens(c["label"])) - OTHER_STOPWORDS for c in choices if c["name"] not in ("other", "none")}

    def one(text):
        if not isinstance(text, str) or not text.strip():
            return None
        hit = recodes.get(fold(text))
        if hit:
            return hit
        words = [w for w in _tokens(text) if w not in OTHER_STOPWORDS]
        if not words:
            return None
        scores = {}
        for name, toks in label_tokens.items():
            found = sum(any(fuzz.ratio(w, t) >= token_score for t in toks) for w in words)
            scores[name] = found / len(words)
        best = max(scores.values())
        winners = [k for k, v in scores.items() if v == best]
        return winners[0] if best >= min_coverage and len(winners) == 1 else None

    return _map_unique(texts, one)


@register_check("duplicate_library", phase="responses", order=50, units=("library",),
                columns=("library_name", ("postcode", "library_postcode"), "_end"))
def check_duplicate_libraries(P, inst):
    """Same library answering more than once: keep the most complete, then the latest response.

    Responses are linked (connected components) when they share the loose library name and postcode
    (spaces removed, upper case), the postcode and a non-generic email domain, or the name and that
    domain. In each group the response with most answered questions, then the latest ``_end``, is kept;
    the others are removed (``duplicate_library``). Registered for ``library`` instruments only, with
    ``library_name``, ``postcode`` (or ``library_postcode``) and ``_end`` as declared inputs;
    ``contact_email`` is used when present.

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes` (``P.coded`` the values in play).
    inst : Instrument
    """
    c = P.coded
    # the keys stay arrow arrays (pyarrow kernels) from the columns to their group codes: no Python string per row
    name = _loose_arrow(c["library_name"])
    pc_col = "postcode" if "postcode" in c else "library_postcode"
    pc = pac.utf8_upper(pac.replace_substring_regex(pac.fill_null(_arrow_strings(c[pc_col]), ""), r"\s", ""))
    if "contact_email" in c:
        em = pac.fill_null(_arrow_strings(c["contact_email"]), "")
        email = pac.if_else(pac.match_substring(em, "@"), pac.replace_substring_regex(pac.utf8_lower(em), r"^[^@]*@?", ""), "")
    else:
        email = pa.array([""] * len(c), type=pa.string())
    generic = pac.is_in(email, value_set=pa.array(sorted(GENERIC_EMAIL_DOMAINS), type=pa.string()))
    domain = pac.if_else(pac.or_(generic, pac.equal(email, "")), "", email)
    group = pd.Series(np.arange(len(c)), index=c.index)
    codes = _key_codes([(name, pc), (pc, domain), (name, domain)])  # -1 = no key
    for _ in range(3):  # connected components over the three keys
        before = np.asarray(group)
        for code in codes:
            has = code >= 0
            if not has.any():
                continue
            g = group.copy()
            g[has] = pd.Series(group[has].to_numpy()).groupby(code[has], sort=False).transform("min").to_numpy()
            group = np.minimum(group, g)
        if np.array_equal(np.asarray(group), before):  # settled: a further round changes nothing
            break
    at = np.asarray(group, dtype=np.int64)
    shared = np.flatnonzero(np.bincount(at, minlength=len(c))[at] > 1)  # only rows sharing a group are ranked
    complete = np.zeros(len(c), dtype=np.int64)
    if len(shared):
        complete[shared] = c[inst.question_ids].iloc[shared].notna().sum(axis=1).to_numpy()
    order = pd.DataFrame({"g": group, "complete": complete, "end": c["_end"]}).sort_values(
        ["g", "complete", "end"], ascending=[True, False, False], kind="stable")
    superseded = order.duplicated("g", keep="first")
    keeper = order.loc[~superseded].reset_index().set_index("g")["index"]
    kept_id = order["g"].map(keeper).map(P.live["response_id"])
    drop = superseded.reindex(c.index)
    reason = ("same library answered again (name, postcode or email domain); kept the more complete, later response "
              + kept_id[superseded].astype(str))  # the removed rows only
    del c, name, pc, email, domain  # P.remove copies the rows in play: let go of this check's columns first
    P.remove(drop, "duplicate_library", reason)


def _loose_arrow(values: pd.Series):
    """:func:`loose` with accents stripped, computed with pyarrow kernels (blank -> ''), as a pyarrow string array."""
    a = pac.fill_null(_arrow_strings(values), "")
    a = pac.utf8_normalize(a, "NFKD")
    a = pac.replace_substring_regex(a, r"[^\x00-\x7f]", "")
    a = pac.utf8_lower(a)
    if pac.any(pac.match_substring_regex(a, r"\s\s|[\t\n\v\f\r]")).as_py():  # otherwise every run of spaces is one space already
        a = pac.replace_substring_regex(a, r"\s+", " ")
    return pac.replace_substring_regex(a, r"^[\W_]+|[\W_]+$", "")


def _key_codes(pairs: list) -> list:
    """Group codes of each key ``a|b`` (pairs of pyarrow string arrays, no nulls) where both parts are non-blank, -1 elsewhere.

    Each part is factorized once and a key's code is the pair of its parts' codes; where a part holds
    a ``|`` (so two different pairs could join to one key) the joined keys are factorized instead.
    """
    parts = {id(x): x for pair in pairs for x in pair}
    piped = any(pac.any(pac.match_substring(x, "|")).as_py() for x in parts.values())
    part_codes = {}

    def code_of(x):
        if id(x) not in part_codes:  # the arrays live in pairs: their ids stay theirs
            part_codes[id(x)] = pd.factorize(x.to_numpy(zero_copy_only=False))[0].astype(np.int64)
        return part_codes[id(x)]

    out = []
    for a, b in pairs:
        both = pac.and_(pac.not_equal(a, ""), pac.not_equal(b, "")).to_numpy(zero_copy_only=False)
        if piped:
            codes = pd.factorize(pac.binary_join_element_wise(a, b, "|").to_numpy(zero_copy_only=False))[0].astype(np.int64)
        else:
            ca, cb = code_of(a), code_of(b)
            codes = ca * (cb.max(initial=0) + 1) + cb
        out.append(np.where(both, codes, -1))
    return out


@register_check("choice_label", phase="values", order=120)
def check_choice_labels(P, inst):
    """select_one answers that are not a choice name: recode, move to 'other' or blank (``choice_label``).

    A label equal to a choice's label up to case, spacing, accents, quote style and end punctuation is recoded; one
    within rapidfuzz ``ratio`` 88 of a label is recoded for review; otherwise, when the question has an
    empty 'other (please specify)' text, the answer moves there and the question becomes ``other``
    (review); else it is blanked (review).

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes` (``P.coded`` the values in play).
    inst : Instrument
    """
    for qid in inst.questions_of_type("select_one"):
        choices = inst.choices(qid)
        names = {c["name"] for c in choices}
        vals = P.coded[qid]
        bad = vals.notna() & ~vals.isin(names)
        if not bad.any():
            continue
        loose_map = {fold(c["label"]): c["name"] for c in choices}
        key = _map_unique(vals[bad], fold)  # once per distinct answer; curly quotes count as straight ones
        exact = key.map(loose_map)
        P.add(exact.notna(), qid, exact, "change_response", "choice_label",
              "label differs from the choice only in case, spacing, accents or punctuation")
        rest = key[exact.isna()]
        labels = list(loose_map)
        fuzzy = _map_unique(rest, lambda k: (process.extractOne(k, labels, scorer=fuzz.ratio, score_cutoff=88) or [None])[0])
        fuzzy = fuzzy.map(loose_map)
        P.add(fuzzy.notna(), qid, fuzzy, "change_response", "choice_label",
              "wording close to one choice (review)")
        marker = missing_markers(vals[fuzzy.index]) & fuzzy.isna()     # 'Dont know' near a choice was recoded above
        P.add(marker, qid, "", "blank_response", "choice_label", "a missing-value marker, not an answer (review)")
        fuzzy = fuzzy[~marker]
        other_q = inst.other_text_for(qid)
        left = fuzzy.isna()
        left = left[left].index
        if other_q is not None and len(left):
            text = P.coded.loc[left, qid]
            free = P.coded.loc[left, other_q].isna()
            P.add(pd.Series(free.to_numpy(), index=left), other_q, text, "change_response", "choice_label",
                  "answer is not a choice: moved to the 'other' text (review)", old="")
            P.add(pd.Series(free.to_numpy(), index=left), qid, "other", "change_response", "choice_label",
                  "answer is not a choice: recorded as 'other' (review)")
            left = left[~free.to_numpy()]
        P.add(pd.Series(True, index=left), qid, "", "blank_response", "choice_label", "answer is not one of the choices (review)")


@register_check("multi_choice", phase="values", order=125)
def check_multi_choices(P, inst):
    """select_multiple answers holding a name that is no choice: kept without it, for review (``multi_choice``).

    Exports of joined labels keep only choice names when read (a fragment that is no label goes to the
    'other' text, or into the log); an export of choice names (KoboToolbox, an XLSForm tool) can hold
    any word, which the typed 0/1 columns would otherwise leave out without a word. The answer keeps
    its choices in list order; with none left it is blanked. An answer of only spaces names no choice:
    it is blanked (missing), not read as 'none ticked'.

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes` (``P.coded`` the values in play).
    inst : Instrument
    """
    for qid in inst.questions_of_type("select_multiple"):
        order = {n: i for i, n in enumerate(inst.choice_names(qid))}
        vals = P.coded[qid]
        distinct = pd.Series(pd.unique(vals.dropna()), dtype=object)    # a multi-select column holds few distinct answers
        empty = distinct[distinct.astype(str).str.isspace().to_numpy(bool)]
        if len(empty):      # no choice named: missing, as a blank cell is (not 'answered, none ticked')
            P.add(vals.isin(empty), qid, "", "blank_response", "multi_choice", "only spaces in a choice field")
        outside = distinct[multi_outside_choices(distinct, order).to_numpy()]
        if not len(outside):
            continue
        bad = vals.isin(outside)
        split = _map_unique(vals[bad], lambda v: (" ".join(sorted({t for t in str(v).split() if t in order}, key=order.get)),
                                                  " ".join(t for t in str(v).split() if t not in order)))
        kept = split.str[0]
        why = split.str[1].map(repr) + " is not a choice of this question: left out (review)"
        P.add(kept != "", qid, kept, "change_response", "multi_choice", why)
        P.add(kept == "", qid, "", "blank_response", "multi_choice", why)


@register_check("other_recode", phase="values", order=130, options=("other_recodes", "root"))
def check_other_recodes(P, inst, other_recodes: pd.DataFrame | None = None, root=None):
    """'Other' texts that match an existing choice: the text is blanked and the choice set (``other_recode``).

    Matching is :func:`match_other_text` (the dictionary first, then word coverage); for
    select_multiple the matched choice replaces ``other`` among the ticked names, in list order.

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes` (``P.coded`` the values in play).
    inst : Instrument
    other_recodes : pandas.DataFrame, optional
        The other->choice dictionary (``question, other_text, choice``); read by
        :func:`load_other_recodes` when omitted.
    root : path, optional
        Project root for :func:`load_other_recodes`.
    """
    recodes = other_recodes if other_recodes is not None else load_other_recodes(inst, root=root)
    for q in inst.questions:
        if not q["type"].startswith("select"):
            continue
        other_q = inst.other_text_for(q["id"])
        if other_q is None:
            continue
        rec = recodes.loc[recodes["question"] == q["id"]] if len(recodes) else recodes
        rec_map = {fold(t): ch for t, ch in zip(rec.get("other_text", []), rec.get("choice", []))}
        texts = P.coded[other_q]
        has = texts.notna()
        if not has.any():
            continue
        match = match_other_text(texts[has], inst.choices(q["id"]), recodes=rec_map).reindex(texts.index)
        hit = match.notna()
        if not hit.any():
            continue
        via = np.where(texts[hit].map(lambda t: fold(t) in rec_map), "the other->choice dictionary", "word match")
        if q["type"] == "select_multiple":
            cur = P.coded.loc[hit, q["id"]].fillna("")
            order = {n: i for i, n in enumerate(inst.choice_names(q["id"]))}
            new = [" ".join(sorted((set(c.split()) - {"other"}) | {m}, key=order.get)) for c, m in zip(cur, match[hit])]
            new = pd.Series(new, index=cur.index)
        else:
            new = match[hit]
        reason = pd.Series("'other' text matches the choice '" + match[hit] + "' (" + via + ")", index=match[hit].index)
        P.add(hit, other_q, "", "blank_response", "other_recode", reason, private=True)
        P.add(hit, q["id"], new, "change_response", "other_recode", reason)


@register_check("numbers", phase="values", order=140, options=("outlier_z",))
def check_numbers(P, inst, outlier_z: float = 3.5):
    """Numbers as text, sentinel codes, out-of-range values and outliers in integer and decimal questions.

    ``number_text``: numbers written as text are rewritten, ``n/a`` and cells of only spaces blanked, ranges get their
    midpoint (review), the rest is blanked (review); ``sentinel``: -1, -9, 99, 999 … that are out of
    range or outlying are blanked; ``out_of_range``: outside the question's ``constraint`` min/max,
    blanked (review); ``not_whole``: a non-whole number (or range midpoint) in an integer question,
    rounded to the nearest, even on a tie (review); ``outlier``: robust z, ``(x - median) / (1.4826 x MAD)``
    (``x`` on ``log1p`` for money questions), above ``outlier_z``, flagged only (``no_action``, review).

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes` (``P.coded`` the values in play).
    inst : Instrument
    outlier_z : float, default 3.5
        Robust z above which a value is an outlier (high side only).
    """
    money = re.compile(r"^(inc_|exp_)|income|expenditure|reserves|amount|grant")
    index = P.coded.index
    # each column's own proposals change only that column; masks as NumPy arrays, a Series only for a proposal made
    for qid, (kind, value, lower, upper) in parse_number_columns(P.coded, inst.questions_of_type("integer", "decimal")):

        m = kind == NUMBER_KINDS.index("text_number")
        if m.any():
            P.add(_on(index, m), qid, _on(index, m, value).map(_fmt), "change_response", "number_text", "number written as text")
        m = kind == NUMBER_KINDS.index("decimal_comma")
        if m.any():
            P.add(_on(index, m), qid, _on(index, m, value).map(_fmt), "change_response", "number_text",
                  "decimal comma read as a decimal point (review)")
        m = kind == NUMBER_KINDS.index("spaces")
        if m.any():
            P.add(_on(index, m), qid, "", "blank_response", "number_text", "only spaces or invisible characters in a number field")
        m = kind == NUMBER_KINDS.index("na")
        if m.any():
            P.add(_on(index, m), qid, "", "blank_response", "number_text", "'not applicable / not known' written in a number field")
        is_range = kind == NUMBER_KINDS.index("range")
        if is_range.any():
            lo, hi = _on(index, is_range, lower), _on(index, is_range, upper)
            P.add(_on(index, is_range), qid, ((lo + hi) / 2).map(_fmt), "change_response", "number_text",
                  "a range, not a number: midpoint proposed, lower " + lo.map(_fmt) + ", upper " + hi.map(_fmt) + " (review)")
        m = kind == NUMBER_KINDS.index("bad")
        if m.any():
            P.add(_on(index, m), qid, "", "blank_response", "number_text", "not a number (review)")
        num = np.where(is_range, (lower + upper) / 2, value)  # the values now in play
        c = inst.question(qid)["constraint"] or {}
        out = np.zeros(len(num), dtype=bool)
        if "min" in c:
            out |= num < c["min"]
        if "max" in c:
            out |= num > c["max"]
        x = np.log1p(np.where(num < 0, 0.0, num)) if money.search(qid) else num    # Series.clip(lower=0): NaN and -0.0 kept
        med = _median(x)
        mad = _median(np.abs(x - med)) * 1.4826
        z = (x - med) / mad if mad and mad > 0 else np.zeros(len(x))
        outlying = z > outlier_z  # high side only: low values of counts and money are rarely errors
        sentinel = np.isin(num, list(SENTINELS)) & (out | outlying)
        if sentinel.any():
            P.add(_on(index, sentinel), qid, "", "blank_response", "sentinel",
                  "a code for 'no answer' (" + _on(index, sentinel, num).map(_fmt) + "), not a value")
        out &= ~sentinel
        if out.any():
            P.add(_on(index, out), qid, "", "blank_response", "out_of_range",
                  f"outside the allowed range {c.get('min', '-inf')} to {c.get('max', 'inf')} (review)")
        if inst.question(qid)["type"] == "integer":   # the typed data hold whole numbers: the rounding is proposed, not done unseen
            part = ~np.isnan(num) & (np.round(num) != num) & ~sentinel & ~out
            if part.any():
                P.add(_on(index, part), qid, _on(index, part, np.round(num)).map(_fmt), "change_response", "not_whole",
                      "a whole number is asked for: " + _on(index, part, num).map(_fmt) + " rounded to the nearest (review)")
        flag = outlying & ~sentinel & ~out
        if flag.any():
            P.add(_on(index, flag), qid, "", "no_action", "outlier",
                  "robust outlier: " + _on(index, flag, np.round(z, 1)).astype(str) + " MADs from the median"
                  + (" on a log scale" if money.search(qid) else "") + " (review)")


def _median(values: np.ndarray) -> float:
    """The median of the non-missing values, NaN when there are none (``Series.median``)."""
    present = values[~np.isnan(values)]
    return float(np.median(present)) if present.size else np.nan


def _on(index, mask, values=None) -> pd.Series:
    """``mask`` as a Series on ``index``; with ``values``: the values where ``mask`` holds, on those rows."""
    return pd.Series(mask, index=index) if values is None else pd.Series(values[mask], index=index[mask])


@register_check("skip_logic", phase="values", order=150)
def check_skip_logic(P, inst):
    """Blank answers to questions that the skip logic (``relevant``) says were not asked (``skip_logic``).

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes` (``P.coded`` the values in play).
    inst : Instrument
    """
    for q in inst.questions:
        if q["relevant"]:
            asked = evaluate(q["relevant"], P.coded)
            extra = ~asked & P.coded[q["id"]].notna()
            P.add(extra, q["id"], "", "blank_response", "skip_logic",
                  f"answered although skip logic ({q['relevant']}) says it was not asked", private=is_private_text(q))


_PII_HINT = (r"@|[0-9][ -]?[0-9][ -]?[0-9][ -]?[0-9][ -]?[0-9][ -]?[0-9][ -]?[0-9][ -]?[0-9][ -]?[0-9]"
             r"|[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}|(?i:my name is|contact|ask for|speak to|write to)")


@register_check("pii_text", phase="values", order=160)
def check_personal_text(P, inst):
    """Redact personal data in free text (``pii_text``), logging only a digest of the old value.

    Text questions that are not personal and not in the ``identity`` or ``library`` sections are
    searched for emails, UK phone numbers, postcodes, a name after a cue (``my name is``, ``contact``,
    ``ask for`` …) and the respondent's own ``contact_name`` (full, or the surname) when the data hold it.

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes` (``P.coded`` the values in play).
    inst : Instrument
    """
    if "contact_name" in P.coded:
        own = P.coded["contact_name"]
        last = pd.Series(pac.replace_substring_regex(pac.fill_null(_arrow_strings(own), ""), r"^.*\s", "").to_numpy(zero_copy_only=False),
                         index=own.index)
    else:
        own = last = pd.Series("", index=P.coded.index, dtype=object)
    surname = last.to_numpy(dtype=object)
    named = np.flatnonzero(surname != "")   # rows whose respondent gave a name
    for q in inst.questions:
        if q["type"] != "text" or q["personal"] or q["section"] in ("identity", "library"):
            continue
        vals = P.coded[q["id"]]
        # cheap pyarrow pre-filter: only text with an '@', a long run of digits, a postcode shape, a name cue
        # or the respondent's own surname can hold personal data
        arr = _arrow_strings(vals)
        hint = pac.fill_null(pac.match_substring_regex(arr, _PII_HINT), False).to_numpy(zero_copy_only=False)
        has_last = np.zeros(len(vals), dtype=bool)
        rows = named[pac.is_valid(arr).to_numpy(zero_copy_only=False)[named]]  # a surname and a text: is the one in the other?
        has_last[rows] = [n in t for t, n in zip(vals.to_numpy(dtype=object)[rows], surname[rows])]
        has = pd.Series(hint | has_last, index=vals.index)
        if not has.any():
            continue
        red = vals[has].str.replace(EMAIL, "[email removed]", regex=True).str.replace(PHONE, "[phone removed]", regex=True) \
            .str.replace(POSTCODE, "[postcode removed]", regex=True).str.replace(NAME_CUE, lambda m: m.group(0).replace(m.group(1), "[name removed]"), regex=True)
        names = own[has]
        if names.notna().any():
            hit = np.array([bool(n) and n in t for t, n in zip(red, last[has])], dtype=bool)
            if hit.any():
                red.loc[hit] = [_redact_name(t, n) for t, n in zip(red[hit], names[hit])]
        changed = red != vals[has]
        P.add(changed.reindex(vals.index, fill_value=False), q["id"], red, "change_response", "pii_text",
              "personal data (email, phone, postcode or name) in free text redacted", private=True)


def _redact_name(text, name):
    if not isinstance(name, str) or not name.strip():
        return text
    parts = [re.escape(p) for p in name.split() if len(p) > 1]
    if not parts:
        return text
    return re.sub(r"\b(?:" + r"\s+".join(parts) + r"|" + parts[-1] + r")\b", "[name removed]", text)
