import os

import numpy as np
import pandas as pd
import pytest

from cmlkit import clean
from cmlkit.clean import code_choices
from cmlkit.errors import IngestError
from cmlkit.ingest import check_header, parse_datetimes, read_export
from cmlkit.instrument import load_instrument

PLATFORMS = [("surveymonkey", "csv"), ("qualtrics", "csv"), ("singleheader", "csv"), ("msforms", "xlsx"), ("kobo", "csv"), ("spss", "sav")]


@pytest.mark.parametrize("instrument", ["cml_library", "cml_volunteer"])
def test_every_platform_reads_to_the_same_answers(instrument, demo_wave, root):
    out, _ = demo_wave
    inst = load_instrument(instrument, "2025w1", root=root)
    frames = {}
    for platform, ext in PLATFORMS:
        f = read_export(out / "exports" / f"{instrument}_{platform}.{ext}", inst)
        assert f.attrs["platform"] == platform
        # SPSS keeps no trailing blanks in string variables, so compare right-stripped text
        sel = inst.questions_of_type("select_one")
        f[sel] = f[sel].apply(lambda c: c.str.rstrip())
        frames[platform] = code_choices(f, inst)[inst.question_ids + ["_start", "_end"]].astype(str).apply(lambda c: c.str.rstrip())
    base = frames.pop("surveymonkey")
    for platform, f in frames.items():
        pd.testing.assert_frame_equal(base, f, obj=platform)


def test_multiselect_split_uses_choice_labels(demo_wave, lib):
    out, _ = demo_wave
    f = read_export(out / "exports" / "cml_library_singleheader.csv", lib)
    tokens = set(" ".join(f["services"].dropna()).split())
    assert tokens <= set(lib.choice_names("services"))


def test_multiselect_fragment_that_is_no_choice_is_logged_where_there_is_no_other_text(demo_wave, lib, tmp_path):
    """A label the question does not have (a typo, another separator, a pasted control character) is left out, in the log."""
    out, _ = demo_wave
    df = pd.read_csv(out / "exports" / "cml_library_singleheader.csv", dtype=str, keep_default_na=False)
    assert lib.other_text_for("council_support") is None
    col = next(c for c in df.columns if c.startswith(lib.question("council_support")["text"]))
    cells = {3: "Wifi, Training\x01", 5: "Book stock; Wifi", 7: "Wifi, Training"}
    for row, cell in cells.items():
        df.loc[row, col] = cell
    df.to_csv(tmp_path / "export.csv", index=False)
    raw = read_export(tmp_path / "export.csv", lib)
    assert raw.loc[[3, 5, 7], "council_support"].tolist() == ["wifi", None, "wifi training"]
    log = clean.propose_changes(raw, lib, wave="2025w1")
    noted = log.loc[log["check_id"] == "ingest_unknown_choice"].set_index("response_id")
    assert sorted(noted.index) == sorted(raw.loc[[3, 5], "response_id"])
    assert noted.loc[raw.loc[3, "response_id"], ["old_value", "new_value", "change_type"]].tolist() == [cells[3], "wifi", "no_action"]
    assert "'Training\\x01' is not a choice label" in noted.loc[raw.loc[3, "response_id"], "reason"]
    assert (noted["question"] == "council_support").all() and noted["reason"].str.endswith("(review) (at ingest)").all()


def test_text_in_a_choice_column_other_than_its_label_ticks_it_and_is_logged(demo_wave, lib, tmp_path):
    """Qualtrics: one column per choice holding its label when ticked; anything else there still ticks it, in the log."""
    out, _ = demo_wave
    df = pd.read_csv(out / "exports" / "cml_library_qualtrics.csv", dtype=str, keep_default_na=False, header=None)
    label = lib.choices("council_support")[0]["label"]
    col = next(j for j in range(df.shape[1]) if str(df.iloc[1, j]).startswith(lib.question("council_support")["text"])
               and str(df.iloc[1, j]).endswith(label))
    rows = [i for i in range(3, len(df)) if df.iloc[i, col] == label][:4]
    df.iloc[rows[0], col] = f"{label}, Mystery support"
    df.iloc[rows[1], col] = f" {label.upper()} "          # the label in other case and spacing: nothing to say
    df.iloc[rows[2], col] = "TRUE"                          # a tick written as TRUE: nothing to say
    df.iloc[rows[3], col] = "N/A"                           # a missing-value marker is no tick (unless it is the label)
    df.to_csv(tmp_path / "export.csv", index=False, header=False)
    raw = read_export(tmp_path / "export.csv", lib)
    first = lib.choices("council_support")[0]["name"]
    assert all(first in str(v).split() for v in raw.loc[[r - 3 for r in rows[:3]], "council_support"])
    assert first not in str(raw.loc[rows[3] - 3, "council_support"]).split()
    log = clean.propose_changes(raw, lib, wave="2025w1")
    noted = log.loc[log["check_id"] == "ingest_choice_column_text"]
    assert noted[["response_id", "old_value", "new_value"]].values.tolist() == [[raw.loc[rows[0] - 3, "response_id"],
                                                                                 f"{label}, Mystery support", first]]


def test_cp1252_and_semicolon_exports_are_read(demo_wave, lib, tmp_path):
    out, _ = demo_wave
    src = out / "exports" / "cml_library_singleheader.csv"
    text = src.read_text(encoding="utf-8")
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    path = tmp_path / "excel_resaved.csv"
    df.to_csv(path, sep=";", index=False, encoding="cp1252", errors="replace")
    a, b = read_export(src, lib), read_export(path, lib)
    assert a["library_name"].tolist() == b["library_name"].tolist()
    assert "£" in text or "’" in text


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\x00\x01\x02binary\x00", "binary"),
    (b"foo,bar\n1,2\n", "unknown export layout"),
])
def test_malformed_files_raise_one_line(content, message, tmp_path, lib):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(IngestError, match=message) as exc:
        read_export(path, lib)
    assert "\n" not in exc.value.one_line() and "bad.csv" in exc.value.one_line()


def test_column_from_another_instrument_is_named(demo_wave, lib):
    out, _ = demo_wave
    with pytest.raises(IngestError, match="not a question of cml_library") as exc:
        check_header(out / "exports" / "cml_volunteer_surveymonkey.csv", lib)
    assert "column" in exc.value.one_line()


def test_duplicated_and_missing_columns(demo_wave, lib, tmp_path):
    out, _ = demo_wave
    df = pd.read_csv(out / "exports" / "cml_library_singleheader.csv", dtype=str, keep_default_na=False)
    dup = df.iloc[:, [*range(df.shape[1]), 5]]
    dup.to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(IngestError, match="duplicated column"):
        read_export(tmp_path / "dup.csv", lib)
    df.drop(columns=[df.columns[6]]).to_csv(tmp_path / "missing.csv", index=False)
    with pytest.raises(IngestError, match="no column for question"):
        read_export(tmp_path / "missing.csv", lib)


def test_row_longer_than_header_names_row(demo_wave, lib, tmp_path):
    out, _ = demo_wave
    lines = (out / "exports" / "cml_library_singleheader.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3] + ",surplus"
    (tmp_path / "long.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(IngestError, match="row 4"):
        read_export(tmp_path / "long.csv", lib)


def test_dates_are_settled_by_the_whole_column():
    dm = parse_datetimes(pd.Series(["03/04/2025 10:00:00", "25/04/2025 09:00:00"]))
    assert dm[0] == pd.Timestamp("2025-04-03 10:00:00")
    md = parse_datetimes(pd.Series(["03/04/2025 10:00:00 AM", "04/25/2025 09:00:00 PM"]))
    assert md[0] == pd.Timestamp("2025-03-04 10:00:00") and md[1].hour == 21
    serial = parse_datetimes(pd.Series(["45658.5", "45659"]))
    assert serial[0] == pd.Timestamp("2025-01-01 12:00:00")
    with pytest.raises(IngestError, match="mix day-first and month-first"):
        parse_datetimes(pd.Series(["25/04/2025", "04/25/2025"]))


def test_unreadable_files_give_one_line(tmp_path, lib, monkeypatch):
    """No read permission (simulated: the tests may run as root), a named pipe, a folder and a broken link."""
    from cmlkit import file_access

    path = tmp_path / "export.csv"
    path.write_text("ID,Start time,Completion time\n", encoding="utf-8")
    monkeypatch.setattr(file_access.os, "access", lambda p, mode: False)
    with pytest.raises(IngestError, match="no read permission") as exc:
        read_export(path, lib)
    assert "\n" not in exc.value.one_line()
    monkeypatch.undo()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(file_access, "open", refuse, raising=False)
    with pytest.raises(IngestError, match="permission denied"):
        read_export(path, lib)
    monkeypatch.undo()
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(IngestError, match="named pipe"):
        read_export(fifo, lib)       # never opened, so it cannot block
    (tmp_path / "link.csv").symlink_to(tmp_path / "gone.csv")
    with pytest.raises(IngestError, match="broken symbolic link"):
        read_export(tmp_path / "link.csv", lib)
    with pytest.raises(IngestError, match="folder"):
        read_export(tmp_path, lib)


def test_messages_number_rows_as_a_spreadsheet(demo_wave, lib, tmp_path):
    """Header = row 1 in every message, and the message says so."""
    out, _ = demo_wave
    lines = (out / "exports" / "cml_library_surveymonkey.csv").read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5][: len(lines[5]) // 2]   # a row cut short: spreadsheet row 6 (two header rows)
    (tmp_path / "cut.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(IngestError) as exc:
        read_export(tmp_path / "cut.csv", lib)
    assert "row 6 (header = row 1)" in exc.value.one_line()


def test_finished_spellings_and_footer_reach_the_log(demo_wave, lib, tmp_path):
    out, _ = demo_wave
    src = (out / "exports" / "cml_library_qualtrics.csv").read_text(encoding="utf-8-sig")
    base = read_export(out / "exports" / "cml_library_qualtrics.csv", lib)
    text = src.replace(",True,", ",TRUE,").replace(",False,", ",FALSE,").rstrip("\r\n") + "\r\nTotal responses: 999\r\n,,,\r\n"
    (tmp_path / "q.csv").write_text(text, encoding="utf-8-sig")
    raw = read_export(tmp_path / "q.csv", lib)
    assert raw["_finished"].tolist() == base["_finished"].tolist() and (raw["_finished"] == False).any()  # noqa: E712
    assert raw.attrs["excluded"] == {"blank_row": 1, "footer_row": 1}
    log = clean.propose_changes(raw, lib, wave="2025w1")
    assert {"ingest_footer_row", "ingest_blank_row"} <= set(log["check_id"])
    assert (log["check_id"] == "incomplete").sum() == (clean.propose_changes(base, lib, wave="2025w1")["check_id"] == "incomplete").sum() > 0


def test_dates_resaved_by_a_spreadsheet_and_mixed_with_iso():
    d = parse_datetimes(pd.Series(["03/04/2025 10:00", "25/04/2025 09:00:30", "2025-04-26 08:15:00", "27/04/2025"]))
    assert d.tolist() == [pd.Timestamp("2025-04-03 10:00"), pd.Timestamp("2025-04-25 09:00:30"),
                          pd.Timestamp("2025-04-26 08:15"), pd.Timestamp("2025-04-27")]
    assert d.attrs["format"].startswith("iso + %d/%m/%Y")
    with pytest.raises(IngestError, match="unreadable date 'soon'") as exc:
        parse_datetimes(pd.Series(["03/04/2025 10:00:00", "soon"]), name="Start time", rows=[2, 7])
    assert "row 7" in exc.value.one_line() and "'Start time'" in exc.value.one_line()


def test_spam_and_test_statuses_are_removed_with_their_reason(demo_wave, lib, tmp_path):
    out, _ = demo_wave
    recs = (out / "exports" / "cml_library_qualtrics.csv").read_bytes().decode("utf-8-sig").split("\r\n")
    recs[3] = recs[3].replace("IP Address", "Spam", 1)
    recs[4] = recs[4].replace("IP Address", "Survey Test", 1)
    (tmp_path / "q.csv").write_text("\r\n".join(recs), encoding="utf-8-sig")
    raw = read_export(tmp_path / "q.csv", lib)
    assert raw["_status"].iloc[:2].tolist() == ["spam", "preview"]
    log = clean.propose_changes(raw, lib, wave="2025w1").set_index("response_id")
    first, second = raw["response_id"].iloc[:2]
    assert "spam" in log.loc[[first], "check_id"].tolist() and "test_row" in log.loc[[second], "check_id"].tolist()


def test_mojibake_labels_are_repaired_before_the_split_and_other_text_is_left_to_cleaning(lib):
    from cmlkit.ingest import _split_joined
    from cmlkit.platform_registry import get_platform

    cells = pd.Series(["Book lending, CafÃ©, Repair cafÃ© with Jo", None, "Room hire"])
    names, left, repaired = _split_joined(cells, lib.choices("services"), get_platform("singleheader").join)
    assert names[0].split() == ["book_lending", "cafe"] and names[2] == "room_hire"
    assert left[0] == "Repair cafÃ© with Jo"            # typed text: repaired (and logged, as a digest) by cleaning
    assert repaired == [(0, "CafÃ©", "Café", "mojibake_label")]     # the log names the label, never the respondent's text
    # the text that is no label keeps the separators and spaces it was typed with (MS Forms joins with ';')
    cells = pd.Series(["Book lending;Knit and natter; coffee mornings;", "Room hire;a;b", "Book lending; Room hire ;x"])
    names, left, _ = _split_joined(cells, lib.choices("services"), get_platform("msforms").join)
    assert left.tolist() == ["Knit and natter; coffee mornings", "a;b", "x"]


def test_sav_and_xlsx_cells_as_text(tmp_path):
    """SPSS values as pyreadstat's applied labels give them (an unlabelled value of a labelled variable
    keeps its float text), whole numbers without ``.0`` at any size, datetimes ISO; workbook cells as ``str``."""
    import datetime as dt

    import pyreadstat

    from cmlkit.export_source import read_sav_cells, read_xlsx_cells

    df = pd.DataFrame({"n": [1.0, 2.5, np.nan, -0.0, 1e20, 2.0 ** 70], "lab": [1.0, 2.0, 3.0, np.nan, 9.0, 1.0],
                       "s": ["a", "", None, "x y", "ü", "a"], "slab": ["A", "B", "C", "", "A", "Q"],
                       "t": pd.to_datetime(["2025-01-01 10:00:00", "2025-01-02 11:30:15.5", None, "2025-03-03", "2025-01-01", "2025-06-01 23:59:59"],
                                           format="mixed")})
    path = tmp_path / "x.sav"
    pyreadstat.write_sav(df, str(path), variable_value_labels={"lab": {1: "one", 2: "two", 3: ""}, "slab": {"A": "Alpha", "B": "Beta"}})
    got = read_sav_cells(path)
    assert list(got.columns) == list(df.columns)
    assert got["n"].tolist() == ["1", "2.5", None, "0", "100000000000000000000", "1180591620717411303424"]
    assert got["lab"].tolist() == ["one", "two", None, None, "9.0", "one"]
    assert got["s"].tolist() == ["a", None, None, "x y", "ü", "a"]
    assert got["slab"].tolist() == ["Alpha", "Beta", "C", None, "Alpha", "Q"]
    assert got["t"].tolist() == ["2025-01-01 10:00:00", "2025-01-02 11:30:15.500000", None, "2025-03-03 00:00:00",
                                 "2025-01-01 00:00:00", "2025-06-01 23:59:59"]
    book = tmp_path / "x.xlsx"
    pd.DataFrame([["a", 3, 2.5, dt.datetime(2025, 1, 2, 3, 4, 5), None, ""], [None, None, None, None, None, None],
                  ["", 3.0, True, dt.datetime(2025, 1, 2), "x", " "]]).to_excel(book, header=False, index=False)
    cells = read_xlsx_cells(book)
    assert cells.values.tolist() == [["a", "3", "2.5", "2025-01-02 03:04:05", None, None], [None] * 6,
                                     [None, "3", "True", "2025-01-02 00:00:00", "x", " "]]


def test_dates_the_data_cannot_order_are_read_as_the_platform_writes_them_and_noted(demo_wave, lib, tmp_path):
    """Day and month both 12 or less everywhere: the platform's order (SurveyMonkey: month-first), with a note;
    two-digit years and offsets without a colon are read, never wrapped round or crashed on."""
    assert parse_datetimes(pd.Series(["03/04/2025 07:42:48 AM"]), month_first=True).tolist() == [pd.Timestamp("2025-03-04 07:42:48")]
    uk = parse_datetimes(pd.Series(["03/04/2025 07:42:48"]))
    assert uk.tolist() == [pd.Timestamp("2025-04-03 07:42:48")] and uk.attrs["order_assumed"]
    assert not parse_datetimes(pd.Series(["13/04/2025 07:42:48"]), month_first=True).attrs["order_assumed"]
    assert parse_datetimes(pd.Series(["03/03/25 11:34:58", "31/03/25 09:00"])).tolist() == \
        [pd.Timestamp("2025-03-03 11:34:58"), pd.Timestamp("2025-03-31 09:00")]
    with pytest.raises(IngestError, match="unreadable date '03/03/0025"):
        parse_datetimes(pd.Series(["03/03/0025 11:34:58"]))
    assert parse_datetimes(pd.Series(["2025-03-03T11:34:58.000+0000", "2025-04-28T07:47:53+0100", "2025-04-28T07:47:53+01"])).tolist() == \
        [pd.Timestamp("2025-03-03 11:34:58"), pd.Timestamp("2025-04-28 06:47:53"), pd.Timestamp("2025-04-28 06:47:53")]
    out, _ = demo_wave
    df = pd.read_csv(out / "exports" / "cml_library_surveymonkey.csv", dtype=str, keep_default_na=False, header=None)
    start = int(np.flatnonzero(df.iloc[0].str.contains("Start", case=False))[0])
    early = [0, 1] + [i for i in range(2, len(df)) if int(df.iloc[i, start][3:5]) <= 12 and int(df.iloc[i, start + 1][3:5]) <= 12]
    df.iloc[early].to_csv(tmp_path / "interim.csv", index=False, header=False)
    raw = read_export(tmp_path / "interim.csv", lib)
    first = df.iloc[early[2], start]
    assert raw["_start"].iloc[0] == pd.Timestamp(pd.to_datetime(first, format="%m/%d/%Y %I:%M:%S %p"))
    log = clean.propose_changes(raw, lib, wave="2025w1")
    notes = log.loc[log["check_id"] == "ingest_date_order", "reason"]
    assert len(notes) == 2 and notes.str.contains("read month-first, as SurveyMonkey exports write dates").all()


def test_multi_select_label_with_curly_quotes_or_decomposed_accent_is_that_label(demo_wave, lib, tmp_path):
    """``Children’s activities`` (or a decomposed Café) in a joined cell ticks the choice, with a log entry; it never
    goes to the 'other' text in silence."""
    out, _ = demo_wave
    path = out / "exports" / "cml_library_singleheader.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    col = lib.question("services")["text"]
    assert df[col].str.contains("Children's activities").any() and df[col].str.contains("Café").any()
    df[col] = df[col].str.replace("Children's activities", "Children\u2019s activities").str.replace("Café", "Cafe\u0301")
    df.to_csv(tmp_path / "x.csv", index=False)
    base, raw = read_export(path, lib), read_export(tmp_path / "x.csv", lib)
    pd.testing.assert_series_equal(raw["services"], base["services"])
    pd.testing.assert_series_equal(raw["services_other"], base["services_other"])
    notes = clean.propose_changes(raw, lib, wave="2025w1").query("check_id == 'ingest_label_variant'")
    ticks = sum(base["services"].str.contains(rf"\b{name}\b").sum() for name in ("childrens_activities", "cafe"))
    assert len(notes) == ticks > 0                  # one entry per label variant read
    assert set(notes["new_value"]) == {"Children's activities", "Café"}


def test_missing_markers_and_near_labels_in_a_single_choice_with_other_are_not_typed_answers(demo_wave, lib, tmp_path):
    """'-' or 'N/A' in a single-choice cell of a single-header export is blanked in the log, a near-label recoded for
    review; neither becomes 'other' with that text in silence."""
    out, _ = demo_wave
    df = pd.read_csv(out / "exports" / "cml_library_singleheader.csv", dtype=str, keep_default_na=False)
    qid = next(q for q in lib.questions_of_type("select_one") if lib.other_text_for(q))
    col = lib.question(qid)["text"]
    label = next(c["label"] for c in lib.choices(qid) if c["name"] != "other")
    near = label[:-1] + label[-1].swapcase() + "."
    df.loc[0, col], df.loc[1, col], df.loc[2, col] = "-", "N/A", near
    df.to_csv(tmp_path / "x.csv", index=False)
    raw = read_export(tmp_path / "x.csv", lib)
    other = lib.other_text_for(qid)
    assert raw.loc[[0, 1], other].isna().all() and raw.loc[[0, 1, 2], qid].tolist() == ["-", "N/A", near]
    log = clean.propose_changes(raw, lib, wave="2025w1").set_index("response_id")
    mine = log.loc[raw.loc[[0, 1, 2], "response_id"]].query("question == @qid")
    assert mine["change_type"].tolist() == ["blank_response", "blank_response", "change_response"]
    assert mine["reason"].iloc[0] == "a missing-value marker, not an answer (review)"


def test_spss_user_missing_values_and_xlsx_error_cells_and_hidden_sheets_are_read_not_dropped(tmp_path):
    """An analyst's user-missing declaration ("Don't know" = 3) does not blank answers; an Excel error cell reads as its
    text (so cleaning logs it); a hidden first sheet is passed over for the first visible one, with a note."""
    import openpyxl
    import pyreadstat

    from cmlkit.export_source import open_export, read_sav_cells, read_xlsx_cells

    path = tmp_path / "m.sav"
    pyreadstat.write_sav(pd.DataFrame({"q": [1.0, 3.0, np.nan], "n": [5.0, -99.0, 2.0], "s": ["a", "n/a", "b"]}), str(path),
                         variable_value_labels={"q": {1: "Yes", 3: "Don't know"}}, missing_ranges={"q": [3], "n": [-99], "s": ["n/a"]})
    got = read_sav_cells(path)
    assert got["q"].tolist() == ["Yes", "Don't know", None] and got["n"].tolist() == ["5", "-99", "2"]
    assert got["s"].tolist() == ["a", "n/a", "b"]
    assert [n["reason"].split(":")[0] for n in open_export(path).notes] == ["q", "n", "s"]
    book = openpyxl.Workbook()
    old = book.active
    old.title, old.sheet_state = "old copy", "hidden"
    old.append(["stale"])
    new = book.create_sheet("Responses")
    new.append(["a", "b"])
    new.append([1, "#N/A"])
    new["B2"].data_type = "e"
    book.save(tmp_path / "h.xlsx")
    assert read_xlsx_cells(tmp_path / "h.xlsx").values.tolist() == [["a", "b"], ["1", "#N/A"]]
    assert "first sheet 'old copy' is hidden: read 'Responses'" in open_export(tmp_path / "h.xlsx").notes[0]["reason"]


def test_spss_number_question_reads_the_number_behind_an_answer_label(demo_wave, lib, tmp_path):
    """A count whose value label for 0 is "None" reads as 0 (it was read as the text "None" and blanked for review);
    every other label (missing-value codes such as "No response" = 97) stays a label, which the cleaning blanks and
    logs; the reading is noted."""
    import pyreadstat

    out, _ = demo_wave
    frame, meta = pyreadstat.read_sav(str(out / "exports" / "cml_library_spss.sav"))
    qid = "volunteers_active"
    rows = frame.index[frame[qid].notna()][:4]
    frame.loc[rows, qid] = [0.0, 999.0, 998.0, 97.0]
    labels = {**meta.variable_value_labels, qid: {0.0: "None", 999.0: "Don't know", 998.0: "Refused", 97.0: "No response"}}
    path = tmp_path / "cml_library_spss.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels=labels, column_labels=meta.column_names_to_labels,
                         variable_format={k: v for k, v in meta.original_variable_types.items() if k in frame.columns})
    raw = read_export(path, lib)
    got = raw.set_index("response_id").loc[frame.loc[rows, "ResponseId"].astype(str), qid].tolist()
    assert got == ["0", "Don't know", "Refused", "No response"]      # only a label that is the number is read as it
    notes = pd.DataFrame(list(raw.attrs["ingest_log"]))
    assert notes["reason"].str.contains(f"{qid}: SPSS value labels of numbers read as the numbers they label \\('None' = 0\\)").any()
    log = clean.propose_changes(raw, lib, wave="2025w1")
    mine = log.loc[log["question"].eq(qid) & log["response_id"].isin(frame.loc[rows, "ResponseId"].astype(str))]
    assert sorted(mine["old_value"]) == ["Don't know", "No response", "Refused"] and set(mine["change_type"]) == {"blank_response"}


def test_ids_equal_but_for_spaces_and_blank_header_cells_are_one_line_errors(demo_wave, lib, tmp_path):
    """'R_X' and 'R_X ' are one id (the log addresses stripped ids): refused at ingest naming both rows, not later by
    the cleaning log without a file or row; a blank (or merged) header cell is named by its position and letter."""
    import csv

    out, _ = demo_wave
    rows = list(csv.reader(open(out / "exports" / "cml_library_qualtrics.csv", encoding="utf-8-sig", newline="")))
    j = rows[0].index("ResponseId")
    rows[8][j] = rows[3][j] + " "
    path = tmp_path / "ids.csv"
    csv.writer(open(path, "w", encoding="utf-8", newline="")).writerows(rows)
    with pytest.raises(IngestError, match=rf"row 9 .*column 'ResponseId': response id '{rows[3][j]}' repeats the id of row 4"):
        read_export(path, lib)
    rows = list(csv.reader(open(out / "exports" / "cml_library_singleheader.csv", encoding="utf-8-sig", newline="")))
    rows[0][15] = " "
    path = tmp_path / "blank.csv"
    csv.writer(open(path, "w", encoding="utf-8", newline="")).writerows(rows)
    with pytest.raises(IngestError, match=r"row 1 .*column 16 \(P\) has a blank header cell"):
        read_export(path, lib)


def test_kobo_blank_choice_list_is_read_from_its_0_1_columns(demo_wave, lib, tmp_path):
    """A KoboToolbox list of choices left blank while its 0/1 columns tick some is read from them, for review
    (it was read as unanswered, unlogged)."""
    import csv

    out, _ = demo_wave
    rows = list(csv.reader(open(out / "exports" / "cml_library_kobo.csv", encoding="utf-8-sig", newline=""), delimiter=";"))
    k = rows[0].index("governance/council_support")
    row = next(i for i, r in enumerate(rows[1:], start=1) if r[k].strip())
    names = rows[row][k]
    rows[row][k] = ""
    path = tmp_path / "kobo.csv"
    csv.writer(open(path, "w", encoding="utf-8", newline=""), delimiter=";").writerows(rows)
    raw = read_export(path, lib, platform="kobo")
    assert raw["council_support"].iloc[row - 1] == names
    notes = [e for e in raw.attrs["ingest_log"] if e["action"] == "choice_columns_read"]
    assert [(e["row"], e["new_value"]) for e in notes] == [(row + 1, names)]


def test_platform_metadata_columns_of_real_exports_are_read_past(demo_wave, lib, tmp_path):
    """KoboToolbox's ``__version__``, ``_tags``, ``meta/instanceID`` … and Microsoft Forms' ``Last modified time`` are
    the platforms' own columns: read past (the export was refused as holding columns no question has)."""
    import csv

    from openpyxl import load_workbook

    out, _ = demo_wave
    rows = list(csv.reader(open(out / "exports" / "cml_library_kobo.csv", encoding="utf-8-sig", newline=""), delimiter=";"))
    extra = ["__version__", "_tags", "meta/instanceID", "_notes", "_submitted_by"]
    path = tmp_path / "kobo.csv"
    csv.writer(open(path, "w", encoding="utf-8", newline=""), delimiter=";").writerows(
        [r + (extra if i == 0 else ["vGx7", "", f"uuid:{i}", "", ""]) for i, r in enumerate(rows)])
    base = read_export(out / "exports" / "cml_library_kobo.csv", lib)
    pd.testing.assert_frame_equal(read_export(path, lib).drop(columns="_source_row"), base.drop(columns="_source_row"))
    book = load_workbook(out / "exports" / "cml_library_msforms.xlsx")
    ws = book.worksheets[0]
    ws.insert_cols(6)
    ws.cell(row=1, column=6, value="Last modified time")
    book.save(tmp_path / "forms.xlsx")
    got = read_export(tmp_path / "forms.xlsx", lib)
    assert got["response_id"].tolist() == read_export(out / "exports" / "cml_library_msforms.xlsx", lib)["response_id"].tolist()


def test_excel_sep_line_is_the_delimiter_not_a_row(demo_wave, lib, tmp_path):
    """A CSV Excel wrote with its ``sep=;`` first line reads as the same answers, rows numbered as Excel shows them."""
    import csv
    import io

    out, _ = demo_wave
    path = out / "exports" / "cml_library_singleheader.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    text = io.StringIO()
    csv.writer(text, delimiter=";", lineterminator="\r\n").writerows(rows)
    (tmp_path / "sep.csv").write_text("sep=;\r\n" + text.getvalue(), encoding="utf-8", newline="")
    base, got = read_export(path, lib), read_export(tmp_path / "sep.csv", lib)
    cols = lib.question_ids + ["response_id", "_start", "_end"]
    pd.testing.assert_frame_equal(got[cols], base[cols])
    notes = clean.propose_changes(got, lib, wave="2025w1").query("check_id == 'ingest_sep_line'")
    assert len(notes) == 1 and "read as the delimiter, not as a row" in notes["reason"].iloc[0]
    rows[4] = rows[4] + ["extra"]
    text = io.StringIO()
    csv.writer(text, delimiter=";", lineterminator="\r\n").writerows(rows)
    (tmp_path / "long.csv").write_text("sep=;\r\n" + text.getvalue(), encoding="utf-8", newline="")
    with pytest.raises(IngestError, match=r"row 5 \(header = row 1\)"):
        read_export(tmp_path / "long.csv", lib)


def test_a_choice_labelled_like_a_missing_marker_still_ticks_in_its_own_column(demo_wave, lib, tmp_path):
    """A choice labelled "Not sure" (a word missing_markers knows) is ticked where its column holds its label."""
    import copy

    out, _ = demo_wave
    inst = copy.deepcopy(lib)
    first = inst.choices("council_support")[0]
    old, first["label"] = first["label"], "Not sure"
    df = pd.read_csv(out / "exports" / "cml_library_qualtrics.csv", dtype=str, keep_default_na=False, header=None)
    col = next(j for j in range(df.shape[1]) if str(df.iloc[1, j]).startswith(lib.question("council_support")["text"])
               and str(df.iloc[1, j]).endswith(old))
    df.iloc[1, col] = df.iloc[1, col][: -len(old)] + "Not sure"
    ticked = df.index[3:][df.iloc[3:, col] == old]
    df.iloc[ticked, col] = "Not sure"
    df.to_csv(tmp_path / "x.csv", index=False, header=False)
    raw = read_export(tmp_path / "x.csv", inst)
    assert len(ticked) and all(first["name"] in str(v).split() for v in raw.loc[ticked - 3, "council_support"])


def test_times_no_reader_knows_are_named_not_reported_as_no_responses(demo_wave, lib, tmp_path):
    """Unix epoch seconds in the start and end columns: one line naming the first such cell, not 'no responses'."""
    out, _ = demo_wave
    df = pd.read_csv(out / "exports" / "cml_library_singleheader.csv", dtype=str, keep_default_na=False)
    for col in df.columns[1:3]:
        df[col] = pd.to_datetime(df[col], format="%d/%m/%Y %H:%M:%S").astype("int64").floordiv(10 ** 9).astype(str)
    df.to_csv(tmp_path / "epoch.csv", index=False)
    with pytest.raises(IngestError, match=r"row 2 \(header = row 1\), column '.*': '\d{10}' is not a date and time this reader knows"):
        read_export(tmp_path / "epoch.csv", lib)
