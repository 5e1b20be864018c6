"""Assemble a synthetic survey wave: raw exports with injected, recorded errors, and ground truth.

:func:`make_wave` writes, under ``out_dir``::

    frame.csv                                   the (synthetic or given) library frame
    exports/<instrument>_<platform>.{csv,xlsx}  raw exports, one per platform
    truth/<instrument>_clean.csv                true clean values of each genuine response
    truth/<instrument>_responses.csv            every submitted row: respondent id, library, role
    truth/<instrument>_errors.csv               every injected error: kind, row, question, values
    truth/library_population.csv                latent state and true answers of every in-scope library
    manifest.json                               seed, sizes and file list

Error kinds and what a cleaner is expected to do with them (column ``expected``):
``exact_duplicate``, ``near_duplicate``, ``test_row`` -> remove the row; ``number_as_text``,
``na_text``, ``sentinel``, ``label_variant``, ``other_matches_choice``, ``skip_contradiction``,
``pii_in_text``, ``mojibake`` -> correct to the true value; ``range_text``, ``out_of_range``,
``speeder``, ``straight_lining`` -> flag for review.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit import synthetic as syn
from cmlkit.synthetic.frame import FIRST_NAMES, LAST_NAMES
from cmlkit import waves
from cmlkit.platform_registry import get_platform
from cmlkit.synthetic.exports import write_export
from cmlkit.platforms import OTHER_LABEL, PLATFORMS

EXPECTED = {
    "exact_duplicate": "remove", "near_duplicate": "remove", "test_row": "remove",
    "number_as_text": "correct", "na_text": "correct", "sentinel": "correct", "label_variant": "correct",
    "other_matches_choice": "correct", "skip_contradiction": "correct", "pii_in_text": "correct",
    "mojibake": "correct", "range_text": "flag", "out_of_range": "flag", "speeder": "flag",
    "straight_lining": "flag",
}
# Expected number of errors of each kind per 100 genuine responses.
LIBRARY_RATES = {"exact_duplicate": 1.2, "near_duplicate": 1.2, "test_row": 0.8, "number_as_text": 5,
                 "na_text": 1.6, "sentinel": 1.6, "label_variant": 4, "other_matches_choice": 1.6,
                 "skip_contradiction": 1.6, "pii_in_text": 2, "mojibake": 2, "range_text": 1.2,
                 "out_of_range": 1.6, "speeder": 1.2, "straight_lining": 1.2}
VOLUNTEER_RATES = {"exact_duplicate": 0.3, "test_row": 0.1, "number_as_text": 1.0, "na_text": 0.3,
                   "label_variant": 1.5, "out_of_range": 0.3, "pii_in_text": 0.5, "mojibake": 0.3,
                   "speeder": 0.3, "straight_lining": 0.3}
MONEY = set(syn.INCOME_ITEMS + syn.EXPENDITURE_ITEMS + ["income_total", "expenditure_total", "reserves", "council_grant_amount"])
OTHER_VARIANTS = {"room_hire": "room hire for local groups", "cafe": "Cafe", "wifi": "free wi-fi",
                  "home_delivery": "Home deliveries", "reading_groups": "reading group", "events_culture": "Events",
                  "digital_skills": "digital skills help sessions", "learning_classes": "Classes"}


def _fmt_number(v) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    v = float(v)
    return str(int(v)) if v.is_integer() else f"{v:g}"


def _format_numbers(values: pd.Series) -> np.ndarray:
    """Numbers as a respondent types them: whole numbers without '.0', None for missing (vectorised)."""
    v = pd.to_numeric(values, errors="coerce").astype(float)
    whole = (v % 1 == 0).fillna(False).to_numpy()
    out = np.where(whole, v.where(pd.Series(whole, index=v.index)).astype("Int64").astype(str), v.astype(str))
    return np.where(v.isna().to_numpy(), None, out).astype(object)


def render_raw(truth: pd.DataFrame, inst, *, start: pd.Series, duration_s: np.ndarray, respondent_id: np.ndarray) -> pd.DataFrame:
    """Render true clean values as respondents would have typed them (labels, numbers as text).

    Parameters
    ----------
    truth : pandas.DataFrame
        True clean values.
    inst : Instrument
    start : pandas.Series
        Start times.
    duration_s : numpy.ndarray
        Durations in seconds.
    respondent_id : numpy.ndarray

    Returns
    -------
    pandas.DataFrame
    """
    raw = {"_respondent_id": respondent_id, "_start": start.to_numpy(),
           "_end": (start + pd.to_timedelta(duration_s, unit="s")).to_numpy(),
           "_status": np.full(len(truth), "normal", dtype=object), "_progress": np.full(len(truth), 100),
           "_finished": np.full(len(truth), True)}
    for q in inst.questions:
        qid = q["id"]
        if q["type"] == "select_one":
            labels = {c["name"]: c["label"] for c in inst.choices(qid)}
            raw[qid] = truth[qid].map(labels).astype(object).where(truth[qid].notna(), None).to_numpy()
        elif q["type"] == "select_multiple":
            names = inst.choice_names(qid)
            dummies = truth[[f"{qid}__{c}" for c in names]].to_numpy()
            raw[qid] = np.array([tuple(c for c, d in zip(names, row) if d == 1) or None for row in dummies], dtype=object)
        elif q["type"] in ("integer", "decimal"):
            raw[qid] = _format_numbers(truth[qid])
        else:
            raw[qid] = truth[qid].astype(object).where(truth[qid].notna(), None).to_numpy()
    out = pd.DataFrame(raw)
    out["_start"] = pd.to_datetime(out["_start"])
    out["_end"] = pd.to_datetime(out["_end"])
    return out


def _mojibake(text: str) -> str:
    return text.encode("utf-8").decode("cp1252", errors="replace")


_KEEP = object()  # 'the true value is what the cell holds now'


class _Injector:
    """Inject errors of known kinds into a raw table and record each one."""

    def __init__(self, raw, truth_clean, inst, rng, contacts):
        self.raw, self.truth, self.inst, self.rng = raw, truth_clean, inst, rng
        self.contacts = contacts  # respondent_id -> (email, phone) for PII in free text
        self.records, self.used, self.extra = [], set(), []

    def _pick(self, qids, k, pred=None):
        """Pick up to k unused (row, qid) cells where pred(value) holds, by sampling candidate cells."""
        picked, n, tries = [], len(self.raw), 0
        used_rows = {c[0] for c in self.used if isinstance(c, tuple)} | {c for c in self.used if not isinstance(c, tuple)}
        qids = list(qids)
        if not qids or not n or not k:
            return []
        while len(picked) < k and tries < 200:
            tries += 1
            m = 4 * (k - len(picked)) + 8
            rows = self.rng.integers(0, n, m)
            cols = self.rng.integers(0, len(qids), m)
            for r, c in zip(rows, cols):
                cell = (int(r), qids[c])
                if cell in self.used or cell[0] in used_rows:
                    continue
                v = self.raw.at[cell[0], cell[1]]
                if v is None or (isinstance(v, float) and np.isnan(v)) or (pred is not None and not pred(v)):
                    continue
                picked.append(cell)
                self.used.add(cell)
                used_rows.add(cell[0])
                if len(picked) == k:
                    break
        return sorted(picked)

    def record(self, kind, row, qid, true_value, injected, choice=None):
        self.records.append({"kind": kind, "_row": row, "question": qid, "choice": choice,
                             "true_value": true_value, "injected_value": injected, "expected": EXPECTED[kind]})

    def set(self, kind, row, qid, injected, true_value=_KEEP):
        true_value = self.raw.at[row, qid] if true_value is _KEEP else true_value
        self.raw.at[row, qid] = injected
        self.record(kind, row, qid, true_value, injected)

    def numeric_ids(self):
        return self.inst.questions_of_type("integer", "decimal")


def _inject(raw, truth_clean, inst, rates, rng, contacts):
    """Inject errors into ``raw`` (in place); return (raw with extra rows, error records)."""
    inj = _Injector(raw, truth_clean, inst, rng, contacts)
    n = len(raw)
    k = {kind: int(rng.poisson(rate * n / 100)) if rate else 0 for kind, rate in rates.items()}
    for kind in k:  # at least one of each kind the instrument supports
        k[kind] = max(k[kind], 1)
    num_ids = inj.numeric_ids()
    sel1 = inst.questions_of_type("select_one")
    text_ids = [q["id"] for q in inst.questions if q["type"] == "text" and not q["personal"]
                and q["section"] in ("free_text",)]

    def as_num(v):
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    # numbers written as text
    for row, qid in inj._pick(num_ids, k.get("number_as_text", 0), lambda v: (as_num(v) or 0) >= 1):
        v = as_num(raw.at[row, qid])
        if qid in MONEY and v >= 1000 and v % 100 == 0 and rng.random() < 0.4:
            txt = f"{v / 1000:g}k"
        elif qid in MONEY:
            txt = f"£{v:,.0f}" if v.is_integer() else f"£{v:,.2f}"
        elif "hours" in qid:
            txt = rng.choice(["approx {}", "{} hours", "about {}", "{} hrs"]).format(_fmt_number(v))
        else:
            txt = rng.choice(["approx {}", "about {}", "c. {}", "{} or so"]).format(_fmt_number(v))
        inj.set("number_as_text", row, qid, txt)
    for row, qid in inj._pick(num_ids, k.get("na_text", 0)):
        inj.set("na_text", row, qid, rng.choice(["n/a", "N/A", "not known", "-", "don't know"]), true_value=None)
    money_ids = [q for q in num_ids if q in MONEY]
    for row, qid in inj._pick(money_ids, k.get("range_text", 0), lambda v: (as_num(v) or 0) >= 200):
        v = as_num(raw.at[row, qid])
        lo, hi = np.floor(v / 500) * 500, np.floor(v / 500) * 500 + 500
        inj.set("range_text", row, qid, f"£{lo:,.0f}-£{hi:,.0f}")
    bounded = [q["id"] for q in inst.questions if q["constraint"] and "max" in q["constraint"] and q["id"] not in MONEY]
    for row, qid in inj._pick(bounded, k.get("out_of_range", 0), lambda v: (as_num(v) or 0) >= 1):
        v = as_num(raw.at[row, qid])
        mx = inst.question(qid)["constraint"]["max"]
        bad = v * 10 if v * 10 > mx else mx + v
        inj.set("out_of_range", row, qid, _fmt_number(bad))
    sentinel_ids = [q for q in bounded if inst.question(q)["constraint"].get("max", 0) < 999]
    for row, qid in inj._pick(sentinel_ids, k.get("sentinel", 0)):
        mn = inst.question(qid)["constraint"].get("min", 0)
        code = rng.choice(["999", "9999"]) if mn >= 1000 else rng.choice(["999", "-1"])
        inj.set("sentinel", row, qid, code, true_value=None)
    # choice labels with case / spacing / punctuation variants
    # (not on 'Other (please specify)': single-header exports replace that choice by the typed text)
    for row, qid in inj._pick(sel1, k.get("label_variant", 0), lambda v: v != OTHER_LABEL):
        lab = raw.at[row, qid]
        variant = rng.choice(["upper", "lower", "pad", "double", "dot"])
        txt = {"upper": lab.upper(), "lower": lab.lower(), "pad": f"  {lab} ", "double": lab.replace(" ", "  ", 1) if " " in lab else lab + "  ",
               "dot": lab + "."}[variant]
        inj.set("label_variant", row, qid, txt)
    # 'other' text that matches an existing choice
    if "services" in raw and k.get("other_matches_choice"):
        used_rows = {c[0] for c in inj.used}
        cand = [i for i, v in enumerate(raw["services"]) if isinstance(v, tuple) and "other" not in v
                and any(c in OTHER_VARIANTS for c in v) and i not in used_rows]
        for row in sorted(rng.choice(cand, size=min(k["other_matches_choice"], len(cand)), replace=False)):
            v = raw.at[row, "services"]
            choice = [c for c in v if c in OTHER_VARIANTS][int(rng.integers(0, len([c for c in v if c in OTHER_VARIANTS])))]
            new = tuple(c for c in v if c != choice) + ("other",)
            raw.at[row, "services"] = new
            raw.at[row, "services_other"] = OTHER_VARIANTS[choice]
            inj.used.update({(row, "services"), (row, "services_other")})
            inj.record("other_matches_choice", row, "services", " ".join(v), " ".join(new), choice=choice)
    # answers given where skip logic says the question was not asked
    if "council_grant_amount" in raw and k.get("skip_contradiction"):
        pairs = [("council_grant_amount", "council_grant", "No", lambda: _fmt_number(float(rng.integers(5, 80) * 100))),
                 ("paid_staff_hours", "paid_staff", "No paid staff", lambda: _fmt_number(float(rng.integers(2, 20))))]
        used_rows = {c[0] for c in inj.used}
        for j, (qid, gate, gate_label, make) in enumerate(pairs):
            want = k["skip_contradiction"] // 2 + (j < k["skip_contradiction"] % 2)
            cand = np.flatnonzero((raw[gate] == gate_label).to_numpy())
            cand = [int(i) for i in rng.permutation(cand) if int(i) not in used_rows][:want]
            for row in sorted(cand):
                used_rows.add(row)
                inj.used.add((row, qid))
                inj.set("skip_contradiction", row, qid, make(), true_value=None)
    # straight-lining on a Likert grid
    likert_grid = [g for g, ids in inst.grids.items() if inst.question(ids[0])["type"] == "select_one"]
    if likert_grid and k.get("straight_lining"):
        ids = inst.grids[likert_grid[0]]
        labels = [c["label"] for c in inst.choices(ids[0]) if "score" in c]
        used_rows = np.fromiter({c[0] for c in inj.used}, dtype=np.int64)
        block = raw[ids].astype(str)
        varied_mask = ~block.eq(block.iloc[:, 0], axis=0).all(axis=1).to_numpy()
        varied_mask[used_rows] = False
        varied = np.flatnonzero(varied_mask)
        for row in sorted(rng.choice(varied, size=min(k["straight_lining"], len(varied)), replace=False)):
            lab = labels[int(rng.integers(len(labels) - 2, len(labels)))]
            for qid in ids:
                inj.used.add((row, qid))
            inj.record("straight_lining", row, likert_grid[0], " | ".join(map(str, raw.loc[row, ids])), lab)
            raw.loc[row, ids] = lab
    # personal data in free text
    pii_rows = inj._pick(text_ids, k.get("pii_in_text", 0), lambda v: isinstance(v, str) and v.isascii())
    for row, qid in pii_rows:
        email, phone = contacts[raw.at[row, "_respondent_id"]]
        extra = rng.choice([f" Please call me on {phone}.", f" Email me at {email} if you want to know more.",
                            f" Contact {email} or {phone}."])
        inj.set("pii_in_text", row, qid, raw.at[row, qid] + extra)
    # mojibake: UTF-8 text decoded as cp1252
    for row, qid in inj._pick(text_ids, k.get("mojibake", 0), lambda v: isinstance(v, str) and not v.isascii()):
        inj.set("mojibake", row, qid, _mojibake(raw.at[row, qid]))
    # speeders
    free = np.ones(n, dtype=bool)
    free[np.fromiter({c[0] for c in inj.used}, dtype=np.int64)] = False
    for row in sorted(rng.choice(np.flatnonzero(free), size=min(k.get("speeder", 0), int(free.sum())), replace=False)):
        true_dur = int((raw.at[row, "_end"] - raw.at[row, "_start"]).total_seconds())
        fast = int(rng.integers(40, 120))
        raw.at[row, "_end"] = raw.at[row, "_start"] + pd.Timedelta(seconds=fast)
        inj.record("speeder", row, "_duration", str(true_dur), str(fast))
    return inj


def _extra_rows(raw, inst, rates, rng, next_id):
    """Append exact duplicates, earlier partial near-duplicates and test rows; return new raw."""
    n = len(raw)
    k = {kind: max(1, int(rng.poisson(rates.get(kind, 0) * n / 100))) for kind in ("exact_duplicate", "near_duplicate", "test_row") if rates.get(kind)}
    parts, records = [raw], []
    later = [q["id"] for q in inst.questions if q["section"] in ("volunteers", "finances", "free_text", "satisfaction")]
    for kind in ("exact_duplicate", "near_duplicate"):
        rows = rng.choice(n, size=min(k.get(kind, 0), n), replace=False)
        if not len(rows):
            continue
        dup = raw.iloc[rows].copy()
        dup["_respondent_id"] = [next_id() for _ in rows]
        if kind == "exact_duplicate":
            shift = pd.to_timedelta(rng.integers(2, 90, len(rows)), unit="m")
            dup["_start"] += shift
            dup["_end"] += shift
        else:  # an earlier, unfinished attempt by the same library
            dup["_start"] -= pd.to_timedelta(rng.integers(1, 10, len(rows)), unit="D")
            dup["_end"] = dup["_start"] + pd.to_timedelta(rng.integers(200, 500, len(rows)), unit="s")
            dup[later] = None
            dup["_finished"], dup["_progress"] = False, rng.integers(35, 70, len(rows))
        parts.append(dup)
        records += [{"kind": kind, "_respondent_id": d, "question": None, "choice": None, "true_value": str(o),
                     "injected_value": None, "expected": "remove"} for d, o in zip(dup["_respondent_id"], raw["_respondent_id"].to_numpy()[rows])]
    m = k.get("test_row", 0)
    if m:
        t = raw.iloc[rng.integers(0, n, m)].copy()
        t["_respondent_id"] = [next_id() for _ in range(m)]
        first_text = inst.question_ids[0]
        t[first_text] = rng.choice(["TEST - please ignore", "test", "Test response (preview)"], m)
        t["_status"] = "preview"
        t[inst.personal_ids] = None
        parts.append(t)
        records += [{"kind": "test_row", "_respondent_id": r, "question": None, "choice": None, "true_value": None,
                     "injected_value": v, "expected": "remove"} for r, v in zip(t["_respondent_id"], t[first_text])]
    return pd.concat(parts, ignore_index=True), records


def _finalise(raw, inj, extra_records, instrument, out):
    """Sort by submission time, number rows, write truth tables; return raw in export order."""
    ids = raw["_respondent_id"].to_numpy()
    recs = [{**{k: v for k, v in r.items() if k != "_row"}, "_respondent_id": ids[r["_row"]]} for r in inj.records]
    recs += extra_records
    raw = raw.sort_values(["_start", "_respondent_id"], kind="stable").reset_index(drop=True)
    row_of = pd.Series(np.arange(1, len(raw) + 1), index=raw["_respondent_id"].to_numpy())
    errors = pd.DataFrame(recs, columns=["kind", "_respondent_id", "question", "choice", "true_value", "injected_value", "expected"])
    errors.insert(0, "instrument", instrument)
    errors["row"] = errors["_respondent_id"].map(row_of).astype(int)
    errors = errors.rename(columns={"_respondent_id": "respondent_id"})
    errors = errors.sort_values(["row", "kind", "question"], kind="stable", na_position="first").reset_index(drop=True)
    errors.insert(0, "error_id", [f"{instrument}-E{i:04d}" for i in range(1, len(errors) + 1)])
    errors = errors[["error_id", "instrument", "kind", "row", "respondent_id", "question", "choice", "true_value", "injected_value", "expected"]]
    errors.to_csv(out / f"{instrument}_errors.csv", index=False)
    return raw, errors


# Units of response the simulator produces answers for (cmlkit.synthetic), by the instrument's ``unit``.
UNITS = {"library": "simulate_libraries", "volunteer": "simulate_volunteers"}


def check_layout(inst) -> None:
    """Refuse, in one line, an instrument whose canonical variables the simulator cannot fill.

    A first wave is simulated in the layout of the first instrument version; a later version (renamed,
    added or recoded questions) is written from a previous wave with ``cmlkit synth --previous``.

    Parameters
    ----------
    inst : Instrument
        The version to simulate.
    """
    first = waves.first_wave()
    base = waves.instruments_by_unit(first).get(inst.unit)
    if base is not None and inst.version != first:
        known = {q["canonical"] for q in base.questions}
        missing = sorted({q["canonical"] for q in inst.questions} - known)
        changed = [q["canonical"] for q in inst.questions if q["type"].startswith("select") and q["canonical"] in known
                   and [c["name"] for c in inst.canonical_choices(q["canonical"])]
                   != [c["name"] for c in base.canonical_choices(q["canonical"])]]
        if missing or changed:
            raise waves.WaveError(
                f"{inst.source}: wave {inst.version} differs from {first} (new: {missing[:4]}, changed choices: {changed[:4]}); "
                f"write it as a panel wave from a previous one: cmlkit synth --wave {inst.version} --previous DIR")


RATES = {"library": LIBRARY_RATES, "volunteer": VOLUNTEER_RATES}
MEDIAN_SECONDS = {"library": 1500, "volunteer": 420}


def by_question_id(truth: pd.DataFrame, inst) -> pd.DataFrame:
    """True answers keyed by canonical variable, renamed to the version's question ids (``q__choice`` too).

    Parameters
    ----------
    truth : pandas.DataFrame
        True answers by canonical variable.
    inst : Instrument

    Returns
    -------
    pandas.DataFrame
    """
    ren = {}
    for q in inst.questions:
        if q["id"] != q["canonical"]:
            ren[q["canonical"]] = q["id"]
            if q["type"] == "select_multiple":
                ren.update({f"{q['canonical']}__{c}": f"{q['id']}__{c}" for c in inst.choice_names(q["id"])})
    return truth.rename(columns=ren)


def write_exports(out, insts: dict, truths: dict, *, manifest: dict, platforms=PLATFORMS, inject: bool = True,
                  write_truth: bool = True) -> dict:
    """Render each unit's true answers as raw exports (errors injected) and write exports and truth tables.

    ``truths`` maps a unit to ``(truth, rng_raw, rng_inj)``; ``truth`` holds true clean answers by canonical
    variable in the layout of that unit's instrument in ``insts``. Fills and returns ``manifest``.

    Parameters
    ----------
    out : path-like
        The wave's folder.
    insts : dict
        Unit -> Instrument.
    truths : dict
        Unit -> ``(truth, rng_raw, rng_inj)``.
    manifest : dict
        Filled in place.
    platforms : tuple
        Platforms to write.
    inject : bool, default True
        Inject the catalogue of errors.
    write_truth : bool, default True

    Returns
    -------
    dict
        ``manifest``.
    """
    out = Path(out)
    counter = {"next": 0}

    def next_id():
        counter["next"] += 1
        return 11_400_000_000 + counter["next"] * 7919

    for unit, inst in insts.items():
        truth, rng_raw, rng_inj = truths[unit]
        rates, median_s = RATES[unit], MEDIAN_SECONDS[unit]
        instrument = inst.instrument
        fieldwork_start = pd.Timestamp(f"{inst.wave_year}-03-03 08:00:00")
        ids = np.array([next_id() for _ in range(len(truth))])
        start = fieldwork_start + pd.to_timedelta(rng_raw.uniform(0, 56 * 86400, len(truth)).astype(int), unit="s")
        dur = np.maximum(rng_raw.lognormal(np.log(median_s), 0.35, len(truth)), median_s / 4).astype(int)
        raw = render_raw(by_question_id(truth, inst), inst, start=pd.Series(start), duration_s=dur, respondent_id=ids)
        clean_truth = truth.copy()
        clean_truth.insert(0, "respondent_id", ids)
        for qid in inst.questions_of_type("select_multiple"):
            # nothing ticked looks the same as not answered in every export: the truth says missing
            canon = inst.question(qid)["canonical"]
            cols = [f"{canon}__{c}" for c in inst.choice_names(qid)]
            none = clean_truth[cols].sum(axis=1) == 0
            clean_truth[cols] = clean_truth[cols].astype("Int8").mask(none.to_numpy()[:, None].repeat(len(cols), 1))
        if "contact_email" in truth:
            emails, phones = truth["contact_email"], truth["contact_phone"]
        else:  # volunteers give contact details only inside free text
            first = pd.Series(rng_inj.choice(FIRST_NAMES, len(truth))).str.lower().str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
            emails = first + "." + pd.Series(rng_inj.choice(LAST_NAMES, len(truth))).str.lower().str.replace("'", "") + "@volunteer.example"
            phones = "07700 900" + pd.Series(rng_inj.integers(0, 1000, len(truth))).astype(str).str.zfill(3)
        contacts = dict(zip(ids, zip(emails, phones)))
        if inject:
            inj = _inject(raw, clean_truth, inst, rates, rng_inj, contacts)
            for r in inj.records:  # 'n/a' and sentinel codes: the respondent gave no value
                if r["true_value"] is None and r["question"] in inst.question_ids:
                    clean_truth.loc[r["_row"], inst.question(r["question"])["canonical"]] = np.nan
            raw, extra = _extra_rows(raw, inst, rates, rng_inj, next_id)
        else:
            inj, extra = _Injector(raw, clean_truth, inst, rng_inj, contacts), []
        raw, errors = _finalise(raw, inj, extra, instrument, out / "truth")
        keep = ["respondent_id", "library_id"] + [c for c in clean_truth.columns if c not in ("respondent_id", "library_id")]
        if write_truth:
            clean_truth[keep].to_csv(out / "truth" / f"{instrument}_clean.csv", index=False)
        err_by_id = errors.drop_duplicates("respondent_id").set_index("respondent_id")["kind"]
        role = raw["_respondent_id"].map(err_by_id).where(
            raw["_respondent_id"].map(err_by_id).isin(["exact_duplicate", "near_duplicate", "test_row"]), "genuine")
        lib_of = dict(zip(ids, truth["library_id"]))
        dup_of = errors.loc[errors["kind"].isin(["exact_duplicate", "near_duplicate"])].set_index("respondent_id")["true_value"].astype("int64")
        lib_ids = raw["_respondent_id"].map(lib_of).fillna(raw["_respondent_id"].map(dup_of).map(lib_of))
        pd.DataFrame({"row": np.arange(1, len(raw) + 1), "respondent_id": raw["_respondent_id"], "library_id": lib_ids,
                      "role": role}).to_csv(out / "truth" / f"{instrument}_responses.csv", index=False)
        for platform in platforms:
            path = out / "exports" / f"{instrument}_{platform}{get_platform(platform).extension}"
            write_export(raw, inst, platform, path)
            manifest["files"][f"{instrument}_{platform}"] = str(path.relative_to(out))
        manifest[f"n_{instrument}_genuine"] = int(len(truth))
        manifest[f"n_{instrument}_rows"] = int(len(raw))
        manifest[f"n_{instrument}_errors"] = int(len(errors))
    return manifest


def make_wave(out_dir, *, seed: int = 20250301, n_community: int = 480, frame=None, response_rate: float = 0.5,
              governance_signal: float = 1.0, volunteers_per_library=(3, 10), platforms=PLATFORMS,
              wave: str | None = None, inject: bool = True, instruments=None,
              write_truth: bool = True) -> dict:
    """Generate a whole synthetic wave with ground truth and write it under ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Destination folder (created).
    seed : int
        Master seed; the same seed writes byte-identical files.
    n_community : int, default 480
        CR + ICL libraries in a synthetic frame (ignored when ``frame`` is given).
    frame : pandas.DataFrame, optional
        A frame to draw in-scope libraries from instead (needs the synthetic columns).
    response_rate : float, default 0.5
        Mean response propensity.
    governance_signal : float, default 1.0
        Strength of the governance-model signal in the latent model (0 = none).
    volunteers_per_library : tuple of int
        Range of volunteer responses per responding library.
    platforms : sequence of str
        Export formats to write.
    wave : str, optional
        Wave id whose instruments are used (default: the first wave on disk, :func:`cmlkit.waves.first_wave`).
        Its year is the fieldwork year.
    inject : bool, default True
        Inject errors (False writes clean exports; handy for tests).
    instruments : sequence of str, optional
        Which questionnaires to write (default: every instrument fielded in the wave whose unit the
        simulator knows, see :data:`UNITS`; the library survey alone for large benchmarks).
    write_truth : bool, default True
        Write the ground-truth tables (benchmarks at a million responses skip the big ones).

    Returns
    -------
    dict
        The manifest (also written as ``manifest.json``).
    """
    wave = wave or waves.first_wave()
    insts = {u: i for u, i in waves.instruments_by_unit(wave).items()
             if u in UNITS and (instruments is None or i.instrument in instruments)}
    if "library" not in insts:
        raise waves.WaveError(f"wave {wave}: no library instrument to simulate (instruments asked for: {instruments})")
    for inst in insts.values():
        check_layout(inst)
    out = Path(out_dir)
    (out / "exports").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    ss = np.random.SeedSequence(seed)
    r_frame, r_lib, r_resp, r_vol, r_raw_l, r_raw_v, r_inj_l, r_inj_v = (np.random.default_rng(s) for s in ss.spawn(8))
    if frame is None:
        frame = syn.make_frame(n_community, random_state=r_frame)
    if write_truth:
        frame.to_csv(out / "frame.csv", index=False)
    scope = syn.in_scope(frame)
    pop = syn.simulate_libraries(scope, governance_signal=governance_signal, wave_year=waves.wave_year(wave),
                                 random_state=r_lib)
    p = syn.response_propensity(scope, random_state=r_resp, target=response_rate)
    pop["response_propensity"] = p
    pop["responded"] = r_resp.random(len(pop)) < p
    if write_truth:
        pop.to_csv(out / "truth" / "library_population.csv", index=False)
    resp = pop.loc[pop["responded"]].reset_index(drop=True)
    vol = (syn.simulate_volunteers(resp, per_library=volunteers_per_library, wave_year=waves.wave_year(wave), random_state=r_vol)
           if "volunteer" in insts else None)

    manifest = {"seed": seed, "wave": wave, "n_frame": len(frame), "n_in_scope": len(pop), "files": {},
                "instruments": {u: i.instrument for u, i in insts.items()}}
    write_exports(out, insts, {"library": (resp, r_raw_l, r_inj_l), "volunteer": (vol, r_raw_v, r_inj_v)},
                  manifest=manifest, platforms=platforms, inject=inject, write_truth=write_truth)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
