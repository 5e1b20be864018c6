import pandas as pd
import pytest

from cmlkit import clean, cleaning_audit, cleaning_log
from cmlkit.errors import CleaningLogError


def test_parse_number_text_hand_checked():
    s = pd.Series(["£1,200", "approx 20", "1.5k", "n/a", "£500-£1,000", "12", "c. 14", "17.5 hours", "lots", None])
    p = clean.parse_number_text(s)
    assert p["kind"].tolist() == ["text_number", "text_number", "text_number", "na", "range", "number", "text_number",
                                  "text_number", "bad", "blank"]
    assert p["value"].tolist()[:3] == [1200, 20, 1500]
    assert p.loc[4, ["lower", "upper"]].tolist() == [500, 1000]
    assert p.loc[6, "value"] == 14 and p.loc[7, "value"] == 17.5


def test_decimal_commas_are_read_as_decimal_points_for_review(raw, lib):
    """A comma that cannot group thousands (``17,5``), or one after dot-grouped thousands, is a decimal comma."""
    p = clean.parse_number_text(pd.Series(["17,5", "1.200,50", "£2,25", "12,5 hours", "1,200", "1,200.50", "12,345,678", "1,2345"]))
    assert p["kind"].tolist() == ["decimal_comma"] * 4 + ["text_number"] * 3 + ["decimal_comma"]
    assert p["value"].tolist() == [17.5, 1200.5, 2.25, 12.5, 1200, 1200.5, 12345678, 1.2345]
    qid = next(q["id"] for q in lib.questions if q["type"] == "decimal" and raw[q["id"]].notna().any())
    bad = raw.copy()
    bad.loc[raw.index[0], qid] = "17,5"
    log = clean.propose_changes(bad, lib, wave="2025w1")
    hit = log.loc[(log["question"] == qid) & (log["response_id"] == raw.loc[raw.index[0], "response_id"])]
    assert hit[["old_value", "new_value", "reason"]].values.tolist()[0] == ["17,5", "17.5", "decimal comma read as a decimal point (review)"]


def test_an_answer_of_only_spaces_is_blanked_with_a_log_entry(demo_wave, lib, tmp_path):
    """A number holding only spaces, as a KoboToolbox export can, is blanked with its log entry (it used to be
    blanked without one); a list of choice names holding only spaces is missing, not 'answered, none ticked'."""
    import csv

    from cmlkit import ingest
    out, _ = demo_wave
    rows = list(csv.reader(open(out / "exports" / "cml_library_kobo.csv", encoding="utf-8-sig", newline=""), delimiter=";"))
    num = rows[0].index("governance/year_community_run")
    row = next(i for i, r in enumerate(rows[1:], start=1) if r[num])
    rows[row][num] = "   "
    path = tmp_path / "cml_library_kobo.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=";").writerows(rows)
    raw = ingest.read_export(path, lib, platform="kobo")
    rid = raw["response_id"].iloc[row - 1]
    multi = raw.index[raw["council_support"].notna()][0]
    raw.loc[multi, "council_support"] = " \t "       # a platform that exports the names list as it is
    log = clean.propose_changes(raw, lib, wave="2025w1")
    got = log.set_index(["response_id", "question"])[["change_type", "check_id", "reason"]]
    assert got.loc[(rid, "year_community_run")].tolist() == ["blank_response", "number_text", "only spaces or invisible characters in a number field"]
    assert got.loc[(raw.loc[multi, "response_id"], "council_support")].tolist() == [
        "blank_response", "multi_choice", "only spaces in a choice field"]
    applied, _ = cleaning_log.apply_log(raw, log, lib)
    clean_data = clean.finalise(applied, lib)[0].set_index("response_id")
    assert pd.isna(clean_data.loc[rid, "year_community_run"])
    ticks = [c for c in clean_data if c.startswith("council_support__")]
    assert clean_data.loc[raw.loc[multi, "response_id"], ticks].isna().all()
    assert clean.parse_number_text(pd.Series(["  ", "\t", "\x07", "\u200b ", None]))["kind"].tolist() == ["spaces"] * 4 + ["blank"]


def test_speeder_check_without_durations_says_it_did_not_run(raw, lib):
    """An export with no start and end times (KoboToolbox without them) leaves the speeder check nothing to read:
    the log says so (``check_skipped``) instead of the check passing unseen."""
    log = clean.propose_changes(raw.assign(_duration_s=float("nan")), lib, wave="2025w1")
    assert log.loc[log["check_id"] == "check_skipped", "reason"].tolist() == [
        "check speeder not run: missing response durations (the export has no start and end times or durations)"]
    assert "check_skipped" not in set(clean.propose_changes(raw, lib, wave="2025w1")["check_id"])


def test_control_characters_pasted_into_an_answer_are_read_past(raw, lib):
    """A number with a control character in it is proposed as the number, and a label with one still matches its choice."""
    p = clean.parse_number_text(pd.Series(["2018\x01", "1\x02,000", "\x07", "\x7f12 ", "1\u200b500", "\ufeff40"]))
    assert p["kind"].tolist() == ["text_number", "text_number", "spaces", "text_number", "text_number", "text_number"]
    assert p["value"].tolist()[:2] == [2018, 1000] and p["value"].tolist()[3:] == [12, 1500, 40]
    def cleaned(frame):
        applied, _ = cleaning_log.apply_log(frame, clean.propose_changes(frame, lib, wave="2025w1"), lib)
        return clean.finalise(applied, lib)[0].set_index("response_id")

    num = next(q["id"] for q in lib.questions if q["type"] == "integer" and raw[q["id"]].notna().any())
    one = next(q["id"] for q in lib.questions if q["type"] == "select_one" and raw[q["id"]].notna().any())
    row = raw.index[raw[num].notna() & raw[one].notna()][0]
    bad = raw.copy()
    bad.loc[row, num], bad.loc[row, one] = f"{raw.loc[row, num]}\x01", f"{raw.loc[row, one]}\x01"
    rid, cols = raw.loc[row, "response_id"], [lib.question(q)["canonical"] for q in (num, one)]
    ok = cleaned(raw)
    assert ok.loc[rid, cols].notna().all()
    assert cleaned(bad).loc[rid, cols].tolist() == ok.loc[rid, cols].tolist()


def test_proposals_apply_and_rows_add_up(raw, lib, demo_wave):
    out, m = demo_wave
    log = clean.propose_changes(raw, lib, wave="2025w1")
    assert list(log.columns) == cleaning_log.LOG_COLUMNS
    assert set(log["change_type"]) <= set(cleaning_log.CHANGE_TYPES)
    applied, report = cleaning_log.apply_log(raw, log, lib)
    acting = report["change_type"] != "no_action"
    assert (report.loc[acting, "status"] == "applied").all() and (report.loc[~acting, "status"] == "no_change").all()
    data, private = clean.finalise(applied, lib)
    acc = cleaning_log.accounting(raw, report, data).set_index("stage")["n"]
    assert acc["responses_in"] == len(raw) == acc["responses_kept"] + acc.drop(["responses_in", "responses_kept"]).sum()
    # every duplicate and test row is resolved: one response per genuine library
    assert len(data) == m["n_cml_library_genuine"]
    assert "contact_email" not in data and "contact_email" in private


def test_reapplying_the_log_reproduces_clean_data(raw, lib):
    log = clean.propose_changes(raw, lib, wave="2025w1")
    a, _ = cleaning_log.apply_log(raw, log, lib)
    b, _ = cleaning_log.apply_log(raw, log.copy(), lib)
    pd.testing.assert_frame_equal(clean.finalise(a, lib)[0], clean.finalise(b, lib)[0])


def test_stale_old_value_is_refused_for_that_entry(raw, lib):
    log = clean.propose_changes(raw, lib, wave="2025w1")
    i = log.index[log["check_id"] == "number_text"][0]
    log.loc[i, "old_value"] = "£999,999"
    _, report = cleaning_log.apply_log(raw, log, lib)
    assert report.loc[i, "status"] == "stale" and "does not match" in report.loc[i, "message"]
    rest = report.drop(index=i)
    assert (rest.loc[rest["change_type"] != "no_action", "status"] == "applied").all()


def test_bad_edits_are_refused(raw, lib):
    log = clean.propose_changes(raw, lib, wave="2025w1")
    i = log.index[(log["check_id"] == "choice_label") & (log["change_type"] == "change_response")][0]
    log.loc[i, "new_value"] = "not_a_choice"
    j = log.index[log["check_id"] == "number_text"][0]
    log.loc[j, "new_value"] = "lots"
    multi = next(q["id"] for q in lib.questions if q["type"] == "select_multiple")
    rid = raw.loc[raw[multi].notna(), "response_id"].iloc[0]
    extra = log.iloc[[0]].assign(response_id=rid, question=multi, old_value=raw.set_index("response_id").at[rid, multi],
                                 new_value="bogus " + lib.choice_names(multi)[0], change_type="change_response", check_id="edit")
    log = pd.concat([log, extra], ignore_index=True)
    _, report = cleaning_log.apply_log(raw, log, lib)
    assert report.loc[i, "status"] == "refused" and report.loc[i, "message"] == f"'not_a_choice' is not a choice of {log.loc[i, 'question']}"
    assert report.loc[j, "status"] == "refused" and report.loc[j, "message"] == "'lots' is not a number"
    assert report["status"].iloc[-1] == "refused" and report["message"].iloc[-1].endswith(f"has values that are not choices of {multi}")
    log.loc[i, "change_type"] = "delete_everything"
    with pytest.raises(CleaningLogError, match="unknown change_type"):
        cleaning_log.apply_log(raw, log, lib)


def test_personal_data_never_reaches_the_log(raw, lib, demo_wave):
    out, _ = demo_wave
    truth = pd.read_csv(out / "truth" / "cml_library_clean.csv")
    log = clean.propose_changes(raw, lib, wave="2025w1")
    text = log.to_csv()
    leaked = [v for v in pd.concat([truth["contact_email"], truth["contact_phone"]]) if v in text]
    assert leaked == []
    assert (log["check_id"] == "pii_text").any()


@pytest.mark.parametrize("text, expected", [
    ("room hire for local groups", "room_hire"), ("Cafe", "cafe"), ("Home deliveries", "home_delivery"),
    ("reading group", "reading_groups"), ("Repair café", None), ("Seed library", None), ("Lego club", None),
    ("Knit and natter", None), ("Jigsaw swap", None),
])
def test_other_text_matching(text, expected, lib):
    got = clean.match_other_text(pd.Series([text]), lib.choices("services")).iloc[0]
    assert got == expected


def test_mojibake_repair_and_pii_redaction_units():
    assert clean.fix_mojibake("The cafÃ© is open") == "The café is open"
    assert clean.fix_mojibake("Finding Â£3,000 for the councilâ€™s rent") == "Finding £3,000 for the council’s rent"
    assert clean.fix_mojibake("plain text") is None
    text = pd.Series(["Call 07700 900123 or email jo.bloggs@x.example, we are at AB1 2CD"])
    red = text.str.replace(clean.EMAIL, "E", regex=True).str.replace(clean.PHONE, "P", regex=True).str.replace(clean.POSTCODE, "C", regex=True)
    assert red.iloc[0] == "Call P or email E, we are at C"


def test_cleaning_never_modifies_the_ingested_frame(raw, lib):
    before = pd.util.hash_pandas_object(raw, index=True).sum()
    snapshot = raw.copy(deep=True)
    log = clean.propose_changes(raw, lib, wave="2025w1")
    applied, _ = cleaning_log.apply_log(raw, log, lib)
    clean.finalise(applied, lib)
    assert pd.util.hash_pandas_object(raw, index=True).sum() == before
    pd.testing.assert_frame_equal(raw, snapshot)


def test_fast_paths_answer_like_the_plain_pandas_operations(tmp_path):
    from cmlkit.clean_checks import _key_codes
    from cmlkit.file_access import _utf8_valid
    from cmlkit.text_repair import mojibake_repairs, strip_changes

    import pyarrow as pa

    spaces = [chr(i) for i in range(0x110000) if chr(i).isspace()]   # everything str.strip removes is caught
    assert all(strip_changes(pd.Series(["a" + w, None])) and strip_changes(pd.Series([w + "a"], dtype="string")) for w in spaces)
    assert not strip_changes(pd.Series(["a b", None, "", "x\u200b"]))
    assert mojibake_repairs(pd.Series(["plain", None, "café"])) is None
    assert mojibake_repairs(pd.Series(["cafÃ©", None, "ok"])).tolist() == ["café"]
    # keys whose parts hold '|' join like the strings they are ('a|' + 'b' is 'a' + '|b')
    a, b = pa.array(["a|", "a", "x", ""]), pa.array(["b", "|b", "y", "y"])
    (codes,) = _key_codes([(a, b)])
    assert codes[0] == codes[1] != codes[2] and codes[3] == -1
    for body, ok in [(b"a,b\n" * 3 + "é\n".encode(), True), (b"a\n\xff\n", False), (b"", True)]:
        (tmp_path / "f.csv").write_bytes(body)
        assert _utf8_valid(tmp_path / "f.csv", 0) is ok


@pytest.mark.parametrize("distinct, cells", [(1 << 16, 1 << 21), (3, 1 << 21), (1 << 16, 10)])
def test_number_columns_parsed_in_batches_as_one_at_a_time(monkeypatch, distinct, cells):
    """Several columns' distinct values parsed in one pass (or a few at a time) give each column's own parse."""
    import numpy as np

    from cmlkit import text_repair

    monkeypatch.setattr(text_repair, "BATCH_DISTINCT", distinct)
    monkeypatch.setattr(text_repair, "BATCH_CELLS", cells)
    values = ["12", None, "£1,200", "n/a", "2k to 3k", "abc", "", " 5 ", "1.5k", "-3", "approx 20", "7.25"]
    frame = pd.DataFrame({"a": values, "b": values[::-1], "c": [None] * 12, "d": ["1", "2"] * 6})
    parsed = dict(text_repair.parse_number_columns(frame, list(frame.columns)))
    plain = dict(text_repair.plain_number_columns(frame, list(frame.columns)))
    assert list(parsed) == list(plain) == ["a", "b", "c", "d"]
    for c in frame.columns:
        one = clean.parse_number_text(frame[c])
        kind, value, lower, upper = parsed[c]
        assert (np.asarray(text_repair.NUMBER_KINDS)[kind] == one["kind"].to_numpy()).all()
        for got, want in ((value, one["value"]), (lower, one["lower"]), (upper, one["upper"])):
            assert np.array_equal(got, want.to_numpy(), equal_nan=True)
        assert np.array_equal(plain[c], np.where(one["kind"] == "number", one["value"], np.nan), equal_nan=True)
    assert parsed["a"][1][2] == 1200 and parsed["b"][2][7] == 2000 and (parsed["c"][0] == text_repair.NUMBER_KINDS.index("blank")).all()


def test_multi_select_word_that_is_no_choice_is_proposed_out_for_review(raw, lib):
    """A names export (KoboToolbox) can hold any word in a multi-select answer: it is left out in the log, not in silence."""
    q = next(q["id"] for q in lib.questions if q["type"] == "select_multiple" and raw[q["id"]].notna().any())
    rows = raw.index[raw[q].notna() & (raw[q] != "")][:2]
    bad = raw.copy()
    first = bad.loc[rows[0], q]
    bad.loc[rows[0], q] = f"bogus {first}"
    bad.loc[rows[1], q] = "bogus"
    log = clean.propose_changes(bad, lib, wave="2025w1")
    hit = log.loc[log["check_id"] == "multi_choice"].set_index("response_id")
    assert sorted(hit.index) == sorted(bad.loc[rows, "response_id"])
    one, two = hit.loc[bad.loc[rows[0], "response_id"]], hit.loc[bad.loc[rows[1], "response_id"]]
    assert (one["change_type"], one["new_value"]) == ("change_response", " ".join(first.split()))
    assert (two["change_type"], two["new_value"]) == ("blank_response", "")
    assert one["reason"] == "'bogus' is not a choice of this question: left out (review)"
    applied, report = cleaning_log.apply_log(bad, log, lib)
    assert cleaning_audit.compare_audit(report, cleaning_audit.audit_diff(bad, applied, lib, wave="2025w1")).empty


def test_invisible_characters_in_text_are_removed_in_the_log(raw, lib):
    """Control and zero-width characters pasted into text answers are removed (logged); an answer of nothing else is blanked."""
    rows = raw.index[raw["library_name"].notna() & raw["biggest_challenge"].notna()][:3]
    bad = raw.copy()
    bad.loc[rows[0], "library_name"] = raw.loc[rows[0], "library_name"] + "\x01"
    bad.loc[rows[1], "biggest_challenge"] = "\u200b" + raw.loc[rows[1], "biggest_challenge"] + "\x7f"
    bad.loc[rows[2], "support_needed"] = "\x07\ufeff "
    log = clean.propose_changes(bad, lib, wave="2025w1")
    hit = log.loc[log["check_id"] == "control_characters"]
    assert hit[["question", "change_type"]].values.tolist() == [["library_name", "change_response"],
                                                                ["biggest_challenge", "change_response"],
                                                                ["support_needed", "blank_response"]]
    assert hit["new_value"].iloc[0] == raw.loc[rows[0], "library_name"]      # the library's name is not private
    assert hit["new_value"].iloc[1] == raw.loc[rows[1], "biggest_challenge"]    # free text as the clean data show it
    applied, report = cleaning_log.apply_log(bad, log, lib)
    assert (report.loc[hit.index, "status"] == "applied").all()
    assert cleaning_audit.compare_audit(report, cleaning_audit.audit_diff(bad, applied, lib, wave="2025w1")).empty
    got = clean.finalise(applied, lib)[0].set_index("response_id")
    want = clean.finalise(cleaning_log.apply_log(raw, clean.propose_changes(raw, lib, wave="2025w1"), lib)[0], lib)[0]
    want = want.set_index("response_id")
    for col in ("library_name", "biggest_challenge"):
        assert got[col].equals(want[col])
    assert pd.isna(got.loc[raw.loc[rows[2], "response_id"], "support_needed"])


def test_control_repairs_take_any_column_of_text():
    """Arrow-backed strings, numbers and missing values among them: only the strings are searched."""
    import numpy as np

    from cmlkit.text_repair import control_repairs

    assert control_repairs(pd.Series(["a\x01", None, "b"], dtype="string[pyarrow]")).tolist() == ["a"]
    assert control_repairs(pd.Series([np.nan, np.nan])) is None
    assert control_repairs(pd.Series(["x\u200by", 3, np.nan], dtype=object)).tolist() == ["xy"]


def test_a_marker_near_a_choice_is_that_choice_for_review(raw, lib):
    """'Dont know' where the choices have "Don't know" is recoded for review, not blanked as a marker; '-' is blanked, for review."""
    qid = next(q for q in lib.questions_of_type("select_one") if any(c["label"] == "Don't know" for c in lib.choices(q))
               and raw[q].notna().any())
    name = next(c["name"] for c in lib.choices(qid) if c["label"] == "Don't know")
    bad = raw.copy()
    rows = raw.index[raw[qid].notna()][:3]
    bad.loc[rows, qid] = ["Dont know", "-", "DON\u2019T KNOW"]
    log = clean.propose_changes(bad, lib, wave="2025w1")
    mine = log.loc[(log["question"] == qid) & log["response_id"].isin(raw.loc[rows, "response_id"])]
    assert mine[["new_value", "reason"]].values.tolist() == [
        [name, "wording close to one choice (review)"], ["", "a missing-value marker, not an answer (review)"],
        [name, "label differs from the choice only in case, spacing, accents or punctuation"]]     # a curly quote: the label


def test_repaired_contact_details_never_reach_the_log_or_the_audit_in_clear(raw, lib):
    """A contact name or email repaired (mojibake, a pasted control character) is logged as a digest; applying the
    log makes the repair again, and a digest no repair of the cell gives is refused."""
    row = raw.index[raw["contact_name"].notna() & raw["contact_email"].notna()][0]
    bad = raw.copy()
    bad.loc[row, "contact_name"], bad.loc[row, "contact_email"] = "Zo\u00c3\u00ab Pryce\x01", "zo\u00c3\u00ab.pryce@example.org"
    log = clean.propose_changes(bad, lib, wave="2025w1")
    mine = log.loc[log["question"].isin(["contact_name", "contact_email"])]
    assert sorted(zip(mine["question"], mine["check_id"])) == [("contact_email", "mojibake"), ("contact_name", "control_characters"),
                                                               ("contact_name", "mojibake")]
    applied, report = cleaning_log.apply_log(bad, log, lib)
    audit = cleaning_audit.audit_diff(bad, applied, lib, wave="2025w1", report=report)
    for table in (log, report, audit):
        text = table.to_csv(index=False)
        assert "Pryce" not in text and "pryce" not in text
    assert (report.loc[mine.index, "status"] == "applied").all()
    _, private = clean.finalise(applied, lib)
    who = private.set_index("response_id").loc[raw.loc[row, "response_id"]]
    assert (who["contact_name"], who["contact_email"]) == ("Zoë Pryce", "zoë.pryce@example.org")
    forged = log.copy()
    first = mine.index[mine["check_id"] == "mojibake"][0]
    forged.loc[first, "new_value"] = cleaning_log.digest("Someone Else")
    report = cleaning_log.apply_log(bad, forged, lib)[1]
    assert report.loc[first, "status"] == "refused"
    assert "is not the digest of a repair of the current value by mojibake" in report.loc[first, "message"]


def test_a_repair_revealing_personal_data_in_free_text_is_logged_as_a_digest(raw, lib):
    """Mojibake repaired in free text that then holds an email: the log shows the repair as a digest, the redaction after it."""
    row = raw.index[raw["biggest_challenge"].notna()][0]
    bad = raw.copy()
    bad.loc[row, "biggest_challenge"] = "Ask Zo\u00c3\u00ab at zoe.pryce@example.org about the caf\u00c3\u00a9"
    log = clean.propose_changes(bad, lib, wave="2025w1")
    mine = log.loc[(log["question"] == "biggest_challenge") & (log["response_id"] == raw.loc[row, "response_id"])]
    assert mine["check_id"].tolist() == ["mojibake", "pii_text"]
    assert mine["new_value"].iloc[0].startswith("sha256:") and "pryce" not in log.to_csv(index=False)
    assert mine["new_value"].iloc[1] == "Ask Zoë at [email removed] about the café"
    applied, report = cleaning_log.apply_log(bad, log, lib)
    assert (report.loc[mine.index, "status"] == "applied").all()
    data = clean.finalise(applied, lib)[0].set_index("response_id")
    assert data.loc[raw.loc[row, "response_id"], "biggest_challenge"] == "Ask Zoë at [email removed] about the café"


def test_non_whole_number_in_an_integer_question_is_rounded_in_the_log(raw, lib):
    """The typed data hold whole numbers: a decimal (or a range's midpoint) in an integer question is rounded in the log."""
    qid = next(q["id"] for q in lib.questions if q["type"] == "integer" and (q["constraint"] or {}).get("min", 0) <= 7
               and (q["constraint"] or {}).get("max", 13) >= 13 and raw[q["id"]].notna().sum() > 3)
    rows = raw.index[raw[qid].notna()][:3]
    bad = raw.copy()
    bad.loc[rows, qid] = ["12.5", "10-13", "7.2"]
    log = clean.propose_changes(bad, lib, wave="2025w1")
    mine = log.loc[(log["question"] == qid) & log["response_id"].isin(bad.loc[rows, "response_id"])]
    rounded = mine.loc[mine["check_id"] == "not_whole"]
    assert rounded[["old_value", "new_value"]].values.tolist() == [["12.5", "12"], ["11.5", "12"], ["7.2", "7"]]
    assert rounded["reason"].str.endswith("rounded to the nearest (review)").all()
    applied, report = cleaning_log.apply_log(bad, log, lib)
    data = clean.finalise(applied, lib)[0].set_index("response_id")
    assert data.loc[bad.loc[rows, "response_id"], lib.question(qid)["canonical"]].tolist() == [12, 12, 7]
    assert cleaning_audit.compare_audit(report, cleaning_audit.audit_diff(bad, applied, lib, wave="2025w1")).empty
