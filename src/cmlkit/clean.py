"""Cleaning: checks *propose* changes into a cleaning log; a (reviewed) log is applied with guards.

The log schema (one row per proposed or decided change)::

    wave, response_id, question, old_value, new_value, change_type, check_id, reason, reviewer, decided_at

``change_type`` is one of ``change_response``, ``blank_response``, ``remove_response``,
``no_action``. Personal data never enters the log: where the old value holds personal data, the
log keeps ``sha256:<digest>`` of it, which is enough for :func:`apply_log` to check it is unchanged.

The checks are listed in :func:`propose_changes`.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from cmlkit.cleaning_log import LOG_COLUMNS, digest
from cmlkit.relevance import evaluate

_PLAIN = re.compile(r"-?\d+(?:\.\d+)?")
_NA_TEXT = re.compile(r"^(n/?a|na|none given|not known|unknown|don'?t know|dk|-+|\?+|tbc|not sure)$", re.I)
_RANGE = re.compile(r"^£?\s*([\d.,]+)\s*(k?)\s*(?:-|–|to)\s*£?\s*([\d.,]+)\s*(k?)$", re.I)
_NOISE = re.compile(r"(?i)\b(?:approximately|approx|about|around|roughly|circa|or so|hours?|hrs?|per week|a week|pw|pounds?|gbp)\b\.?|\bc\.|£|~")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
PHONE = re.compile(r"(?<![\d+])(?:\+44\s?(?:\(0\)\s?)?|0)\d(?:[\s-]?\d){8,9}(?![\d])")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.I)
TEST_NAME = re.compile(r"(?i)^\s*(?:test\b|testing\b|preview\b|dummy\b|ignore\b)|\btest response\b|please ignore")


def loose(text) -> str:
    """Case-, whitespace- and end-punctuation-insensitive form of a label."""
    return re.sub(r"^[\W_]+|[\W_]+$", "", " ".join(str(text).split()).casefold())


def _arrow_strings(values: pd.Series):
    """The values as a pyarrow string array (missing -> null)."""
    import pyarrow as pa

    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return pa.array(values.array)
    return pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)   # None/NaN -> null


def parse_number_text(values: pd.Series) -> pd.DataFrame:
    """Parse numbers written as text.

    Returns a frame with ``value`` (float), ``lower``/``upper`` (for ranges) and ``kind``:
    ``blank``, ``number`` (already a plain number), ``text_number`` (``£1,200``, ``approx 20``,
    ``1.5k``), ``na`` (``n/a``, ``don't know``), ``range`` (``£500-£1,000``) or ``bad``.
    Plain numbers (the vast majority) are recognised and converted with pyarrow kernels; only the
    rest goes through the text rules.
    """
    import pyarrow.compute as pc

    n = len(values)
    arr = _arrow_strings(values)
    null = pc.is_null(arr).to_numpy(zero_copy_only=False)
    plain = pc.fill_null(pc.match_substring_regex(arr, r"^-?[0-9]+(\.[0-9]+)?$"), False).to_numpy(zero_copy_only=False)
    value = np.full(n, np.nan)
    if plain.any():
        value[plain] = pc.cast(pc.filter(arr, plain), "float64").to_numpy(zero_copy_only=False)
    kind = np.where(null, "blank", np.where(plain, "number", "bad")).astype(object)
    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    rest = ~null & ~plain
    if rest.any():
        idx = np.flatnonzero(rest)
        s = pd.Series(values.to_numpy(dtype=object)[idx], index=idx).astype(str).str.strip()
        blank = (s == "").to_numpy()
        kind[idx[blank]] = "blank"
        na = ~blank & s.str.fullmatch(_NA_TEXT).fillna(False).to_numpy(bool)
        kind[idx[na]] = "na"
        rng = s.str.extract(_RANGE)
        is_rng = rng[0].notna().to_numpy() & ~blank & ~na
        if is_rng.any():
            k1 = np.where((rng[1].str.lower() == "k").fillna(False).to_numpy(bool), 1000, 1)
            k2 = np.where((rng[3].str.lower() == "k").fillna(False).to_numpy(bool), 1000, 1)
            lo = pd.to_numeric(rng[0].str.replace(",", ""), errors="coerce").to_numpy() * k1
            hi = pd.to_numeric(rng[2].str.replace(",", ""), errors="coerce").to_numpy() * k2
            lower[idx[is_rng]], upper[idx[is_rng]] = lo[is_rng], hi[is_rng]
            kind[idx[is_rng]] = "range"
        txt = ~blank & ~na & ~is_rng
        cleaned = s[txt].str.replace(_NOISE, "", regex=True).str.replace(",", "", regex=False).str.strip()
        kk = cleaned.str.fullmatch(r"-?\d+(?:\.\d+)?\s*[kK]").fillna(False).to_numpy(bool)
        num = pd.to_numeric(cleaned.str.replace(r"\s*[kK]$", "", regex=True), errors="coerce").to_numpy() * np.where(kk, 1000, 1)
        ok = ~np.isnan(num)
        tidx = idx[txt][ok]
        value[tidx] = num[ok]
        kind[tidx] = "text_number"
    return pd.DataFrame({"value": value, "lower": lower, "upper": upper, "kind": kind}, index=values.index)


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def multi_outside_choices(values: pd.Series, allowed) -> pd.Series:
    """True where a space-joined select_multiple answer holds a name not in ``allowed`` (vectorised)."""
    parts = values.dropna().astype(str).str.split().explode()
    bad = (~parts.isin(list(allowed)) & parts.notna()).groupby(level=0).any()
    return bad.reindex(values.index, fill_value=False).astype(bool)


def code_choices(raw: pd.DataFrame, inst) -> pd.DataFrame:
    """Return a copy where select_one answers given as exact labels are replaced by choice names.

    The copy is shallow under pandas copy-on-write (see :func:`_cow`): columns not changed here or
    later share memory with ``raw``, and any write copies just that column, so ``raw`` never changes.
    """
    out = raw.copy(deep=False) if pd.get_option("mode.copy_on_write") else raw.copy()
    for qid in inst.questions_of_type("select_one"):
        labels = {c["label"]: c["name"] for c in inst.choices(qid)}
        mapped = out[qid].map(labels)
        out[qid] = out[qid].where(mapped.isna(), mapped)
    return out


OTHER_STOPWORDS = {"for", "the", "and", "of", "a", "an", "to", "in", "local", "free", "sessions", "session", "help",
                   "service", "services", "our", "with", "people", "community", "we", "run", "offer", "some"}
SENTINELS = {-1.0, -9.0, -99.0, -999.0, 99.0, 999.0, 9999.0}
GENERIC_EMAIL_DOMAINS = {"gmail.com", "googlemail.com", "hotmail.com", "hotmail.co.uk", "outlook.com", "live.com", "live.co.uk",
                         "yahoo.com", "yahoo.co.uk", "btinternet.com", "aol.com", "icloud.com", "sky.com", "talktalk.net",
                         "virginmedia.com", "ntlworld.com", "me.com", "msn.com"}
MOJIBAKE = re.compile("[\u00c2\u00c3][\u0080-\u00bf\u2018-\u203a\u20ac\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2122]|\u00e2\u20ac")
NAME_CUE = re.compile(r"\b(?:[Mm]y name is|[Cc]ontact|[Aa]sk for|[Ss]peak to|[Ww]rite to)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z'’-]+)?)")


def _strip_accents(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _stem(word: str) -> str:
    """A light English plural stemmer (deliveries -> delivery, groups -> group)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _tokens(text: str) -> list:
    return [_stem(t) for t in re.split(r"[^a-z0-9]+", _strip_accents(str(text)).casefold()) if t]


def _map_unique(values: pd.Series, fn) -> pd.Series:
    """``values.map(fn)`` computed once per distinct value (survey columns repeat a lot)."""
    uniq = pd.unique(values.dropna())
    return values.map(dict(zip(uniq, map(fn, uniq))))


def fix_mojibake(text):
    """Undo UTF-8 text that was decoded as cp1252 (``cafÃ©`` -> ``café``); return None when not mojibake."""
    if not isinstance(text, str) or not MOJIBAKE.search(text):
        return None
    try:
        fixed = text.encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    return fixed if fixed != text else None


def load_other_recodes(inst, *, root=None) -> pd.DataFrame:
    """The reusable other->choice dictionary ``survey_instruments/<instrument>/other_recodes.csv``.

    Columns ``question, other_text, choice``; matched on the loose form of ``other_text``. A missing
    file is an empty dictionary.
    """
    from cmlkit.instrument import find_root

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
    """
    from rapidfuzz import fuzz

    recodes = recodes or {}
    label_tokens = {c["name"]: set(_tokens(c["label"])) - OTHER_STOPWORDS for c in choices if c["name"] not in ("other", "none")}

    def one(text):
        if not isinstance(text, str) or not text.strip():
            return None
        hit = recodes.get(loose(_strip_accents(text)))
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


class _Proposals:
    """Working state of :func:`propose_changes`: the rows still in play and the log so far."""

    def __init__(self, raw, inst, wave):
        self.inst, self.wave = inst, wave
        self.live = raw[["response_id"]]          # only the ids are read from the live rows
        self.coded = code_choices(raw, inst)
        self.logs = []

    def add(self, mask, qid, new, change, check, reason, *, old=None, private=False):
        mask = mask.reindex(self.coded.index, fill_value=False).astype(bool)
        if not mask.any():
            return
        idx = mask[mask].index
        if old is None:
            old = self.coded.loc[idx, qid] if qid in self.coded else pd.Series("", index=idx)
        old = old.reindex(idx) if isinstance(old, pd.Series) else pd.Series(old, index=idx)
        if private:
            old = old.map(lambda v: digest(v) if isinstance(v, str) and v else v)
        new = new.reindex(idx) if isinstance(new, pd.Series) else pd.Series(new, index=idx)
        reason = reason.reindex(idx) if isinstance(reason, pd.Series) else pd.Series(reason, index=idx)
        self.logs.append(pd.DataFrame({
            "wave": self.wave, "response_id": self.live.loc[idx, "response_id"].to_numpy(), "question": qid,
            "old_value": old.to_numpy(), "new_value": new.to_numpy(), "change_type": change, "check_id": check,
            "reason": reason.to_numpy(), "reviewer": "", "decided_at": ""}))
        if change == "change_response":
            self.coded.loc[idx, qid] = new.to_numpy()
        elif change == "blank_response":
            self.coded.loc[idx, qid] = None

    def remove(self, mask, check, reason):
        mask = mask.reindex(self.coded.index, fill_value=False).astype(bool)
        if not mask.any():
            return                                  # nothing to drop: no copy of the working frame
        self.add(mask, "", "", "remove_response", check, reason, old="")
        self.live = self.live.loc[~mask]
        self.coded = self.coded.loc[~mask]


def _is_private_text(q) -> bool:
    return q["type"] == "text" and (q["personal"] or q["section"] not in ("identity", "library"))


def _cow(fn):
    """Run ``fn`` with pandas copy-on-write, so working copies share untouched columns with the input."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with pd.option_context("mode.copy_on_write", True):
            return fn(*args, **kwargs)

    return wrapper


@_cow
def propose_changes(raw: pd.DataFrame, inst, *, wave: str, min_progress: float = 50, speeder_seconds: float | None = None,
                    speeder_fraction: float = 0.3, outlier_z: float = 3.5, other_recodes: pd.DataFrame | None = None,
                    root=None) -> pd.DataFrame:
    """Run every check on an ingested export and return the proposed cleaning log.

    Checks (``check_id``), in order: ``test_row`` (platform preview/test status, test names),
    ``incomplete`` (unfinished with progress below ``min_progress``: removed; above: flagged),
    ``exact_duplicate``, ``duplicate_library`` (same library by name + postcode, postcode + email
    domain, or name + email domain: keep the most complete, then latest), ``mojibake``,
    ``choice_label`` (case/spacing variants; wording variants by rapidfuzz, flagged), ``other_recode``
    ('other' text matching a choice, by the dictionary or word coverage), ``number_text``
    (``£1,200``, ``approx 20``, ``1.5k``, ``n/a``; ranges get their midpoint, flagged), ``sentinel``
    (99, 999, -1 … where out of range or outlying), ``out_of_range``, ``outlier`` (robust z from
    median/MAD, on log scale for money; flagged only), ``skip_logic``, ``pii_text`` (emails, UK phone
    numbers, postcodes, the respondent's own name and cued names in free text: redacted),
    ``speeder`` (duration below ``speeder_seconds``, default ``speeder_fraction`` x the median;
    flagged), ``straight_lining`` (one answer across a Likert grid of 4+ items; flagged).

    Parameters
    ----------
    raw : pandas.DataFrame
        Output of :func:`cmlkit.ingest.read_export` (never modified).
    inst : Instrument
    wave : str
    other_recodes : pandas.DataFrame, optional
        The other->choice dictionary; read from ``survey_instruments/<instrument>/other_recodes.csv``
        when omitted.

    Returns
    -------
    pandas.DataFrame
        Proposed log with :data:`~cmlkit.cleaning_log.LOG_COLUMNS`, in file order. Reasons ending in
        ``(review)`` mark proposals a person should check.
    """
    P = _Proposals(raw, inst, wave)
    qids = inst.question_ids
    text_ids = inst.questions_of_type("text")
    first_text = text_ids[0]

    # -- whole responses --------------------------------------------------------------------
    status_test = P.coded["_status"] == "preview"
    name_test = P.coded[first_text].fillna("").str.contains(TEST_NAME)
    P.remove(status_test | name_test, "test_row",
             pd.Series(np.where(status_test, "platform marks it a preview/test response", "name marks it a test response"), index=P.coded.index))
    if P.coded["_finished"].notna().any():
        progress = pd.to_numeric(P.coded["_progress"], errors="coerce").fillna(0)
        unfinished = P.coded["_finished"].eq(False)
        P.remove(unfinished & (progress < min_progress), "incomplete",
                 "unfinished response, progress " + progress.astype(int).astype(str) + f"% (below {min_progress:g}%)")
        keep_flag = unfinished & (progress >= min_progress)
        P.add(keep_flag, "", "", "no_action", "incomplete",
              "unfinished response kept, progress " + progress.astype(int).astype(str) + "% (review)", old="")
    hashes = pd.util.hash_pandas_object(P.coded[qids], index=False)
    dup = hashes.duplicated(keep="first")
    first_id = P.live["response_id"].groupby(hashes.to_numpy()).transform("first")
    P.remove(dup, "exact_duplicate", "exact duplicate of response " + first_id.astype(str))
    _duplicate_libraries(P, inst)

    # -- values -----------------------------------------------------------------------------
    for q in inst.questions:
        if q["type"] in ("text", "select_one"):
            col = P.coded[q["id"]]
            suspect = col.astype("string[pyarrow]").str.contains(MOJIBAKE.pattern, regex=True).fillna(False).to_numpy(bool)
            fixed = _map_unique(col[suspect], fix_mojibake).reindex(col.index)
            P.add(fixed.notna(), q["id"], fixed, "change_response", "mojibake",
                  "UTF-8 text read as cp1252 (mojibake) repaired", private=_is_private_text(q))
    _choice_labels(P, inst)
    _other_recodes(P, inst, other_recodes if other_recodes is not None else load_other_recodes(inst, root=root))
    _numbers(P, inst, outlier_z)
    for q in inst.questions:
        if q["relevant"]:
            asked = evaluate(q["relevant"], P.coded)
            extra = ~asked & P.coded[q["id"]].notna()
            P.add(extra, q["id"], "", "blank_response", "skip_logic",
                  f"answered although skip logic ({q['relevant']}) says it was not asked", private=_is_private_text(q))
    _personal_text(P, inst)

    # -- response quality flags (no change proposed) -----------------------------------------
    dur = pd.to_numeric(P.coded["_duration_s"], errors="coerce")
    if dur.notna().any():
        limit = speeder_seconds if speeder_seconds is not None else speeder_fraction * float(dur.median())
        P.add(dur < limit, "", "", "no_action", "speeder",
              "completed in " + dur.round().astype("Int64").astype(str) + f"s, under the {limit:.0f}s speeder threshold (review)", old="")
    for grid, ids in inst.grids.items():
        q0 = inst.question(ids[0])
        if q0["type"] != "select_one" or len(ids) < 4:
            continue
        block = P.coded[ids]
        same = block.notna().all(axis=1) & block.eq(block.iloc[:, 0], axis=0).all(axis=1)
        P.add(same, ids[0], "", "no_action", "straight_lining",
              f"the same answer to all {len(ids)} items of the {grid} grid (review)", old="")

    log = pd.concat([lg for lg in P.logs if len(lg)], ignore_index=True) if any(len(lg) for lg in P.logs) else pd.DataFrame(columns=LOG_COLUMNS)
    pos = pd.Series(np.arange(len(raw)), index=raw["response_id"].to_numpy())
    qpos = {q: i for i, q in enumerate(qids)}
    log["_r"] = log["response_id"].map(pos)
    log["_q"] = log["question"].map(qpos).fillna(-1)
    log = log.sort_values(["_r", "_q"], kind="stable").drop(columns=["_r", "_q"]).reset_index(drop=True)
    for col in LOG_COLUMNS:
        log[col] = log[col].astype(object).where(log[col].notna(), "").astype(str)
    return log[LOG_COLUMNS]


def _duplicate_libraries(P, inst):
    """Same library answering more than once: keep the most complete, then the latest response."""
    if "library_name" not in P.coded:
        return
    c = P.coded
    name = _loose_arrow(c["library_name"])
    pc_col = "postcode" if "postcode" in c else ("library_postcode" if "library_postcode" in c else None)
    if inst.unit != "library" or pc_col is None:
        return
    import pyarrow.compute as pac

    pc = pd.Series(pac.utf8_upper(pac.replace_substring_regex(pac.fill_null(_arrow_strings(c[pc_col]), ""), r"\s", "")).to_numpy(zero_copy_only=False), index=c.index)
    if "contact_email" in c:
        em = pac.utf8_lower(pac.fill_null(_arrow_strings(c["contact_email"]), ""))
        email = pd.Series(pac.replace_substring_regex(em, r"^[^@]*@?", "").to_numpy(zero_copy_only=False), index=c.index)
        email = email.where(c["contact_email"].fillna("").str.contains("@", regex=False).to_numpy(), "")
    else:
        email = pd.Series("", index=c.index)
    domain = email.where(~email.isin(GENERIC_EMAIL_DOMAINS) & (email != ""), "")
    group = pd.Series(np.arange(len(c)), index=c.index)
    keys = [(name + "|" + pc).where((name != "") & (pc != "")), (pc + "|" + domain).where((pc != "") & (domain != "")),
            (name + "|" + domain).where((name != "") & (domain != ""))]
    codes = [pd.factorize(k, use_na_sentinel=True)[0] for k in keys]  # -1 = no key
    for _ in range(3):  # connected components over the three keys
        for code in codes:
            has = code >= 0
            if not has.any():
                continue
            g = group.copy()
            g[has] = pd.Series(group[has].to_numpy()).groupby(code[has], sort=False).transform("min").to_numpy()
            group = np.minimum(group, g)
    complete = c[inst.question_ids].notna().sum(axis=1)
    order = pd.DataFrame({"g": group, "complete": complete, "end": c["_end"]}).sort_values(
        ["g", "complete", "end"], ascending=[True, False, False], kind="stable")
    superseded = order.duplicated("g", keep="first")
    keeper = order.loc[~superseded].reset_index().set_index("g")["index"]
    kept_id = order["g"].map(keeper).map(P.live["response_id"])
    P.remove(superseded.reindex(c.index), "duplicate_library",
             ("same library answered again (name, postcode or email domain); kept the more complete, later response "
              + kept_id.astype(str)).reindex(c.index))


def _loose_arrow(values: pd.Series) -> pd.Series:
    """:func:`loose` with accents stripped, computed with pyarrow kernels (blank -> '')."""
    import pyarrow.compute as pac

    a = pac.fill_null(_arrow_strings(values), "")
    a = pac.utf8_normalize(a, "NFKD")
    a = pac.replace_substring_regex(a, r"[^\x00-\x7f]", "")
    a = pac.utf8_lower(a)
    a = pac.replace_substring_regex(a, r"\s+", " ")
    a = pac.replace_substring_regex(a, r"^[\W_]+|[\W_]+$", "")
    return pd.Series(a.to_numpy(zero_copy_only=False), index=values.index, dtype=object)


def _choice_labels(P, inst):
    from rapidfuzz import fuzz, process

    for qid in inst.questions_of_type("select_one"):
        choices = inst.choices(qid)
        names = {c["name"] for c in choices}
        vals = P.coded[qid]
        bad = vals.notna() & ~vals.isin(names)
        if not bad.any():
            continue
        loose_map = {loose(_strip_accents(c["label"])): c["name"] for c in choices}
        key = vals[bad].map(lambda v: loose(_strip_accents(v)))
        exact = key.map(loose_map)
        P.add(exact.notna(), qid, exact, "change_response", "choice_label",
              "label differs from the choice only in case, spacing, accents or punctuation")
        rest = key[exact.isna()]
        labels = list(loose_map)
        fuzzy = rest.map(lambda k: (process.extractOne(k, labels, scorer=fuzz.ratio, score_cutoff=88) or [None])[0])
        fuzzy = fuzzy.map(loose_map)
        P.add(fuzzy.notna(), qid, fuzzy, "change_response", "choice_label",
              "wording close to one choice (review)")
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


def _other_recodes(P, inst, recodes: pd.DataFrame):
    for q in inst.questions:
        if not q["type"].startswith("select"):
            continue
        other_q = inst.other_text_for(q["id"])
        if other_q is None:
            continue
        rec = recodes.loc[recodes["question"] == q["id"]] if len(recodes) else recodes
        rec_map = {loose(_strip_accents(t)): ch for t, ch in zip(rec.get("other_text", []), rec.get("choice", []))}
        texts = P.coded[other_q]
        has = texts.notna()
        if not has.any():
            continue
        match = match_other_text(texts[has], inst.choices(q["id"]), recodes=rec_map).reindex(texts.index)
        hit = match.notna()
        if not hit.any():
            continue
        via = np.where(texts[hit].map(lambda t: loose(_strip_accents(t)) in rec_map), "the other->choice dictionary", "word match")
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


def _numbers(P, inst, outlier_z):
    money = re.compile(r"^(inc_|exp_)|income|expenditure|reserves|amount|grant")
    for qid in inst.questions_of_type("integer", "decimal"):
        parsed = parse_number_text(P.coded[qid])
        kind = parsed["kind"]
        m = kind == "text_number"
        P.add(m, qid, parsed.loc[m, "value"].map(_fmt), "change_response", "number_text", "number written as text")
        P.add(kind == "na", qid, "", "blank_response", "number_text", "'not applicable / not known' written in a number field")
        m = kind == "range"
        if m.any():
            lo, hi = parsed.loc[m, "lower"], parsed.loc[m, "upper"]
            P.add(m, qid, ((lo + hi) / 2).map(_fmt), "change_response", "number_text",
                  "a range, not a number: midpoint proposed, lower " + lo.map(_fmt) + ", upper " + hi.map(_fmt) + " (review)")
        P.add(kind == "bad", qid, "", "blank_response", "number_text", "not a number (review)")
        num = parsed["value"].where(kind != "range", (parsed["lower"] + parsed["upper"]) / 2)  # the values now in play
        c = inst.question(qid)["constraint"] or {}
        out = pd.Series(False, index=num.index)
        if "min" in c:
            out |= num < c["min"]
        if "max" in c:
            out |= num > c["max"]
        x = np.log1p(num.clip(lower=0)) if money.search(qid) else num
        med = x.median()
        mad = (x - med).abs().median() * 1.4826
        z = (x - med) / mad if mad and mad > 0 else pd.Series(0.0, index=x.index)
        outlying = z > outlier_z  # high side only: low values of counts and money are rarely errors
        sentinel = num.isin(SENTINELS) & (out | outlying)
        if sentinel.any():
            P.add(sentinel, qid, "", "blank_response", "sentinel", "a code for 'no answer' (" + num[sentinel].map(_fmt) + "), not a value")
        out &= ~sentinel
        P.add(out, qid, "", "blank_response", "out_of_range",
              f"outside the allowed range {c.get('min', '-inf')} to {c.get('max', 'inf')} (review)")
        flag = outlying & ~sentinel & ~out
        if flag.any():
            P.add(flag, qid, "", "no_action", "outlier",
                  "robust outlier: " + z[flag].round(1).astype(str) + " MADs from the median"
                  + (" on a log scale" if money.search(qid) else "") + " (review)")


_PII_HINT = (r"@|[0-9][ -]?[0-9][ -]?[0-9][ -]?[0-9][ -]?[0-9][ -]?[0-9][ -]?[0-9][ -]?[0-9][ -]?[0-9]"
             r"|[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}|(?i:my name is|contact|ask for|speak to|write to)")


def _personal_text(P, inst):
    import pyarrow.compute as pac

    if "contact_name" in P.coded:
        own = P.coded["contact_name"]
        last = pd.Series(pac.replace_substring_regex(pac.fill_null(_arrow_strings(own), ""), r"^.*\s", "").to_numpy(zero_copy_only=False),
                         index=own.index)
    else:
        own = last = pd.Series("", index=P.coded.index, dtype=object)
    for q in inst.questions:
        if q["type"] != "text" or q["personal"] or q["section"] in ("identity", "library"):
            continue
        vals = P.coded[q["id"]]
        # cheap pyarrow pre-filter: only text with an '@', a long run of digits, a postcode shape, a name cue
        # or the respondent's own surname can hold personal data
        arr = _arrow_strings(vals)
        hint = pac.fill_null(pac.match_substring_regex(arr, _PII_HINT), False).to_numpy(zero_copy_only=False)
        has_last = np.array([bool(n) and isinstance(t, str) and n in t for t, n in zip(vals.to_numpy(dtype=object), last.to_numpy(dtype=object))])
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


@_cow
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
            import pyarrow.compute as pac

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
