import pandas as pd
import pytest
from openpyxl import load_workbook

from cmlkit import clean, cleaning_audit, tables, validate
from cmlkit import cleaning_log as logs
from cmlkit.errors import InstrumentError


def _one(lib, **answers):
    row = {q: None for q in lib.question_ids}
    row.update(answers)
    row["response_id"] = "r1"
    return pd.DataFrame([row])


def test_validation_checks_compiled_from_the_instrument(lib):
    df = _one(lib, opening_hours="200", volunteers_active="lots", legal_form="Spaceship", council_grant="No",
              council_grant_amount="500", library_name="X")
    rep = validate.validate(df, lib, wave="2025w1", rules=[])
    found = set(zip(rep["question"], rep["check"]))
    assert {("opening_hours", "range"), ("volunteers_active", "type"), ("legal_form", "choice"),
            ("council_grant_amount", "relevant"), ("postcode", "required")} <= found
    assert list(rep.columns) == validate.REPORT_COLUMNS


def test_cross_question_rules_hand_checked(lib, root):
    rules = validate.load_rules(lib, root=root)
    parts = dict(inc_council="100", inc_parish="0", inc_fundraising="50", inc_room_hire="0", inc_cafe_sales="0", inc_grants="0", inc_other="0")
    ok = _one(lib, income_total="150", **parts)
    bad = _one(lib, income_total="400", volunteers_active="10", volunteer_hours_week="900", vol_age_under25="1",
               vol_age_25_44="1", vol_age_45_59="1", vol_age_60_74="1", vol_age_75plus="1", **parts)
    assert validate.validate(ok, lib, wave="w", rules=rules)["check"].str.startswith("rule:").sum() == 0
    checks = set(validate.validate(bad, lib, wave="w", rules=rules)["check"])
    assert {"rule:income_total_vs_sources", "rule:age_bands_vs_volunteers", "rule:hours_per_volunteer"} <= checks


def test_rules_are_data_not_code(lib, tmp_path):
    (tmp_path / "survey_instruments" / "cml_library").mkdir(parents=True)
    (tmp_path / "survey_instruments" / "cml_library" / "rules.yaml").write_text(
        "rules:\n  - {id: x, type: python, code: \"__import__('os')\"}\n")
    with pytest.raises(InstrumentError, match="unknown type 'python'"):
        validate.load_rules(lib, root=tmp_path)


def test_validation_report_never_shows_personal_values(raw, lib, demo_wave):
    out, _ = demo_wave
    truth = pd.read_csv(out / "truth" / "cml_library_clean.csv")
    text = validate.validate(raw, lib, wave="w").to_csv()
    assert not [e for e in truth["contact_email"] if e in text]


def test_review_workbook_has_dropdowns_and_round_trips(raw, lib, tmp_path):
    log = clean.propose_changes(raw, lib, wave="2025w1")
    path = logs.write_review_workbook(log, lib, tmp_path / "review.xlsx")
    wb = load_workbook(path)
    ws = wb["cleaning_log"]
    formulas = [dv.formula1 for dv in ws.data_validations.dataValidation]
    assert any("change_response" in f for f in formulas)
    assert any(f.startswith("=choices!") for f in formulas)
    assert wb["choices"].sheet_state == "hidden" and "readme" in wb.sheetnames
    # every row on a select_one question, and no other, gets that question's choices as its new_value drop-down
    lists = {wb["choices"].cell(1, j).value: wb["choices"].cell(1, j).column_letter for j in range(1, wb["choices"].max_column + 1)}
    covered = {row: dv.formula1 for dv in ws.data_validations.dataValidation if dv.formula1.startswith("=choices!")
               for r in dv.sqref.ranges for row in range(r.min_row, r.max_row + 1)}
    select_one = {q["id"] for q in lib.questions if q["type"] == "select_one"}
    want = {i + 2: f"=choices!${lists[q]}$2" for i, q in enumerate(log["question"]) if q in select_one}
    assert want and {r: f.rsplit(":", 1)[0] for r, f in covered.items()} == want
    # a reviewer rejects one proposal and edits another; the workbook is read back and applied
    i = log.index[log["check_id"] == "number_text"][0]
    j = log.index[(log["check_id"] == "choice_label") & (log["change_type"] == "change_response")][0]
    col = {c.value: c.column for c in ws[1]}
    ws.cell(i + 2, col["change_type"], "no_action")
    ws.cell(j + 2, col["reviewer"], "AB")
    wb.save(path)
    reviewed = logs.read_log(path)
    assert reviewed.loc[i, "change_type"] == "no_action" and reviewed.loc[j, "reviewer"] == "AB"
    applied, report = logs.apply_log(raw, reviewed, lib)
    assert report.loc[i, "status"] == "no_change"
    rid, q = log.loc[i, ["response_id", "question"]]
    assert applied.set_index("response_id").at[rid, q] == log.loc[i, "old_value"]


def test_audit_diff_explains_every_change(raw, lib, monkeypatch):
    log = clean.propose_changes(raw, lib, wave="2025w1")
    applied, report = logs.apply_log(raw, log, lib)
    audit = cleaning_audit.audit_diff(raw, applied, lib, wave="2025w1")
    assert cleaning_audit.compare_audit(report, audit).empty
    assert (audit["change_type"] == "remove_survey").sum() == (report["change_type"] == "remove_survey").sum()
    monkeypatch.setattr(cleaning_audit, "AUDIT_BLOCK_CELLS", 3 * len(applied))     # questions compared three at a time, as at scale
    pd.testing.assert_frame_equal(cleaning_audit.audit_diff(raw, applied, lib, wave="2025w1"), audit)


def test_reapplying_the_log_is_byte_identical(raw, lib, tmp_path):
    log = clean.propose_changes(raw, lib, wave="2025w1")
    tables.write_csv(log, tmp_path / "log.csv")
    for name in ("a", "b"):
        applied, _ = logs.apply_log(raw, logs.read_log(tmp_path / "log.csv"), lib)
        tables.write_parquet(clean.finalise(applied, lib)[0], tmp_path / f"{name}.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_validate_survives_repeated_ids(raw, lib):
    """A frame with repeated or missing ids (not from read_export) is validated, not crashed (InvalidIndexError)."""
    twice = pd.concat([raw.head(3), raw.head(3)], ignore_index=True)
    twice.loc[5, "response_id"] = "None"
    report = validate.validate(twice, lib, wave="2025w1")
    assert set(report["response_id"]) <= set(twice["response_id"])


def test_review_decisions_reject_and_edit(raw, lib, tmp_path):
    """The decision drop-down: a rejected label fix keeps the raw answer (clean data and audit show it); an edit applies."""
    log = clean.propose_changes(raw, lib, wave="2025w1")
    path = logs.write_review_workbook(log, lib, tmp_path / "review.xlsx")
    wb = load_workbook(path)
    ws = wb["cleaning_log"]
    col = {c.value: c.column for c in ws[1]}
    letter = ws.cell(1, col["decision"]).column_letter
    dvs = [dv for dv in ws.data_validations.dataValidation if dv.formula1 == '"accept,reject,edit"']
    assert dvs and f"{letter}2" in str(dvs[0].sqref)
    label = log.index[(log["check_id"] == "choice_label") & (log["change_type"] == "change_response")
                      & ~log["reason"].str.contains("other")][0]
    number = log.index[(log["check_id"] == "number_text") & (log["change_type"] == "change_response")][0]
    ws.cell(label + 2, col["decision"], "reject")
    ws.cell(number + 2, col["decision"], "edit")
    ws.cell(number + 2, col["new_value"], "12345")
    ws.cell(label + 2, col["reviewer"], "AB")
    wb.save(path)
    reviewed = logs.read_log(path)
    applied, report = logs.apply_log(raw, reviewed, lib)
    assert report.loc[label, "status"] == "rejected" and report.loc[number, "message"].endswith("edited by the reviewer")
    rid, q = log.loc[label, ["response_id", "question"]]
    assert applied.set_index("response_id").at[rid, q] == log.loc[label, "old_value"]          # raw value kept ...
    data, _ = clean.finalise(applied, lib)
    canon = lib.question(q)["canonical"]
    assert data.set_index("response_id").at[rid, canon] == log.loc[label, "old_value"]       # ... in the typed data too
    nid, nq = log.loc[number, ["response_id", "question"]]
    assert float(data.set_index("response_id").at[nid, lib.question(nq)["canonical"]]) == 12345
    audit = cleaning_audit.audit_diff(raw, applied, lib, wave="2025w1", report=report)
    shown = audit.loc[audit["check_id"] == "audit_rejected"]
    assert list(zip(shown["response_id"], shown["question"])) == [(rid, q)] and "raw value kept" in shown["reason"].iloc[0]
    assert cleaning_audit.compare_audit(report, audit).empty
    ws.cell(label + 2, col["decision"], "maybe")
    wb.save(path)
    with pytest.raises(logs.CleaningLogError, match="unknown decision 'maybe'") as exc:
        logs.apply_log(raw, logs.read_log(path), lib)
    assert f"row {label + 2}" in exc.value.one_line()


def test_old_logs_with_remove_response_and_no_decision_still_apply(raw, lib, tmp_path):
    log = clean.propose_changes(raw, lib, wave="2025w1")
    assert (log["change_type"] == "remove_survey").any() and not (log["change_type"] == "remove_response").any()
    old = log.drop(columns=["decision"]).replace({"change_type": {"remove_survey": "remove_response"}})
    tables.write_csv(old, tmp_path / "old.csv")
    a, report_old = logs.apply_log(raw, logs.read_log(tmp_path / "old.csv"), lib)
    b, report_new = logs.apply_log(raw, log, lib)
    pd.testing.assert_frame_equal(a, b)
    assert report_old["status"].tolist() == report_new["status"].tolist()


def test_review_workbook_streams_in_blocks_with_the_same_rows(raw, lib, tmp_path, monkeypatch):
    """Rows written a block at a time read back as the log (text), in order; an empty log is a header with its filter."""
    log = clean.propose_changes(raw, lib, wave="2025w1")
    monkeypatch.setattr(logs, "REVIEW_BLOCK_ROWS", 7)
    ws = load_workbook(logs.write_review_workbook(log, lib, tmp_path / "review.xlsx"))["cleaning_log"]
    rows = [[("" if v is None else v) for v in r] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert rows == tables.neutralise_formulas(log.astype(object).where(log.notna(), "")).astype(str).to_numpy().tolist()
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:{ws.cell(1, log.shape[1]).column_letter}{len(log) + 1}"
    empty = load_workbook(logs.write_review_workbook(log.iloc[:0], lib, tmp_path / "empty.xlsx"))["cleaning_log"]
    assert [c.value for c in empty[1]] == list(log.columns) and empty.max_row == 1


def test_review_workbook_holds_control_characters_and_the_guard_still_matches(raw, lib, tmp_path):
    """An answer with a control character (which a worksheet cannot hold) reaches the workbook escaped and comes back exact."""
    bad = raw.copy()
    q = next(q["id"] for q in lib.questions if q["type"] == "select_one" and q["id"] in bad.columns
             and bad[q["id"]].notna().any())
    row = bad.index[bad[q].notna()][0]
    bad.loc[row, q] = f"{bad.loc[row, q]}\x01"
    log = clean.propose_changes(bad, lib, wave="2025w1")
    assert log["old_value"].astype(str).str.contains("\x01").any()
    reviewed = logs.read_log(logs.write_review_workbook(log, lib, tmp_path / "review.xlsx"))
    pd.testing.assert_frame_equal(reviewed, logs.read_log(tables.write_csv(log, tmp_path / "log.csv")))
    _, report = logs.apply_log(bad, reviewed, lib)
    assert not report["status"].astype(str).str.contains("stale").any()
