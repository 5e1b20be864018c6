"""Cleaning measured against the generator's ground truth, for every platform format.

For each injected error: corrected to the true value, or flagged for review (a log entry on that
cell, or on the response for row-level checks), or — for duplicates and test rows — removed.
And no correct value is changed: every clean cell that differs from the truth is an injected error.
"""
import numpy as np
import pandas as pd
import pytest

from cmlkit import clean
from cmlkit import cleaning_log as logs
from cmlkit.ingest import read_export
from cmlkit.instrument import load_instrument

PLATFORMS = [("surveymonkey", "csv"), ("qualtrics", "csv"), ("singleheader", "csv"), ("msforms", "xlsx"), ("kobo", "csv"), ("spss", "sav")]
ROW_CHECKS = {"speeder", "straight_lining", "incomplete"}


def _truth_clean(out, instrument, inst):
    t = pd.read_csv(out / "truth" / f"{instrument}_clean.csv", dtype=object, keep_default_na=False)
    return t.set_index("respondent_id")


def _norm(v):
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or v == "":
        return ""
    try:
        f = float(v)
        return repr(round(f, 6))
    except (TypeError, ValueError):
        return str(v)


def score(out, instrument, platform, ext, root):
    inst = load_instrument(instrument, "2025w1", root=root)
    raw = read_export(out / "exports" / f"{instrument}_{platform}.{ext}", inst)
    log = clean.propose_changes(raw, inst, wave="2025w1")
    applied, report = logs.apply_log(raw, log, inst)
    data, _ = clean.finalise(applied, inst)
    responses = pd.read_csv(out / "truth" / f"{instrument}_responses.csv")
    rid_of_row = dict(zip(responses["row"], responses["respondent_id"].astype(str)))
    # map this platform's response ids to the generator's ids through the file row
    pid_to_true = dict(zip(raw["response_id"], raw["_source_row"].map(rid_of_row)))
    data["true_id"] = data["response_id"].map(pid_to_true)
    log["true_id"] = log["response_id"].map(pid_to_true)
    truth = _truth_clean(out, instrument, inst)
    errors = pd.read_csv(out / "truth" / f"{instrument}_errors.csv", dtype={"respondent_id": str})
    touched = set(zip(log["true_id"], log["question"]))
    row_flags = set(log.loc[log["check_id"].isin(ROW_CHECKS), "true_id"])
    kept = set(data["true_id"])
    clean_by_id = data.set_index("true_id")

    def cols_of(qid):
        q = inst.question(qid)
        if q["type"] == "select_multiple":
            return [f"{q['canonical']}__{c}" for c in inst.choice_names(qid)]
        return [q["canonical"]]

    def correct(rid, qid):
        return all(_norm(clean_by_id.at[rid, c]) == _norm(truth.at[rid, c]) for c in cols_of(qid)) if rid in clean_by_id.index else False

    results = []
    for e in errors.itertuples():
        rid = str(e.respondent_id)
        if e.expected == "remove":
            ok = rid not in kept
            how = "removed" if ok else "missed"
        elif e.kind in ROW_CHECKS or e.question in inst.grids:
            ok = rid in row_flags
            how = "flagged" if ok else "missed"
        else:
            qids = [e.question] + ([inst.other_text_for(e.question)] if e.kind == "other_matches_choice" else [])
            if all(correct(rid, q) for q in qids):
                ok, how = True, "corrected"
            elif any((rid, q) in touched for q in qids):
                ok, how = True, "flagged"
            else:
                ok, how = False, "missed"
        results.append((e.kind, ok, how))
    res = pd.DataFrame(results, columns=["kind", "ok", "how"])
    # false corrections: a clean cell differs from the truth where no error was injected
    error_cells = set()
    for e in errors.itertuples():
        if e.expected != "remove":
            qs = inst.grids.get(e.question, [e.question]) if isinstance(e.question, str) else []
            if e.kind == "other_matches_choice":
                qs = qs + [inst.other_text_for(e.question)]
            error_cells |= {(str(e.respondent_id), q) for q in qs}
    false = []
    genuine = [r for r in clean_by_id.index if r in truth.index]
    for q in inst.questions:
        if q["personal"]:
            continue
        for c in cols_of(q["id"]):
            got = clean_by_id.loc[genuine, c].map(_norm)
            want = truth.loc[genuine, c].map(_norm).to_numpy()
            bad = got.index[got.to_numpy() != want]
            false += [(r, q["id"]) for r in bad if (r, q["id"]) not in error_cells]
    return res, sorted(set(false)), len(data), int((responses["role"] == "genuine").sum())


@pytest.mark.parametrize("platform, ext", PLATFORMS)
@pytest.mark.parametrize("instrument", ["cml_library", "cml_volunteer"])
def test_injected_errors_are_recovered(demo_wave, root, instrument, platform, ext):
    out, _ = demo_wave
    res, false, n_kept, n_genuine = score(out, instrument, platform, ext, root)
    table = res.groupby("kind").agg(n=("ok", "size"), recovered=("ok", "sum"))
    table["how"] = res.groupby("kind")["how"].agg(lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().items()))
    print(f"\n{instrument} / {platform}: recovery by error kind\n{table.to_string()}")
    rate = res["ok"].mean()
    assert rate >= 0.98, f"recovered {rate:.1%}\n{table}"
    assert false == [], f"false corrections: {false[:10]}"
    assert n_kept == n_genuine  # every duplicate resolved to one response, every test row gone
