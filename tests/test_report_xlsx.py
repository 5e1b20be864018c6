"""Workbooks a person can read: number formats, widths, frozen header, autofilter; formula-safe and byte-stable."""
import numpy as np
import pandas as pd
from openpyxl import load_workbook

from cmlkit import tables


def _findings():
    return pd.DataFrame({
        "finding_id": ["a|all|all", "b|all|all", "c|type|CR"], "section": ["finances", "finances", "services"],
        "indicator": ["council_dependency", "months_of_reserves", "uo"], "label": ["Council share of income", "Months of reserves", "=HYPERLINK(1)"],
        "unit": ["share", "months", "score"], "breakdown": ["all", "all", "type"], "domain": ["all", "all", "CR"],
        "estimate": [0.6040549233, 7.25, 3.41], "ci_low": [0.55, 6.0, 3.3], "ci_high": [0.65, 8.5, 3.5],
        "method": ["m", "m", "m"], "base_n": [220, 220, 192], "suppressed": [False, False, False], "suppression": ["", "", ""],
        "wave": ["2025w1"] * 3})


def test_findings_workbook_is_formatted_by_unit(tmp_path):
    path = tables.write_findings_xlsx(_findings(), tmp_path / "findings.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["Read me", "Finances", "Services"]
    ws = wb["Finances"]
    header = [c.value for c in ws[1]]
    assert header[:4] == ["Indicator", "Breakdown", "Group", "Estimate"] and header[-2:] == ["Finding id", "Wave"]
    est = header.index("Estimate") + 1
    assert ws.cell(2, est).number_format == "0%" and ws.cell(2, est).value == 0.6040549233  # full precision, shown as %
    assert ws.cell(3, est).number_format == "0.0"
    assert ws.cell(2, header.index("Responses (n)") + 1).number_format == "#,##0"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == ws.dimensions
    widths = {ws.column_dimensions[c].width for c in "ABCDEFG"}
    assert len(widths) > 2 and ws.column_dimensions["A"].width >= len("Council share of income")
    assert wb["Services"].cell(2, 1).value == "'=HYPERLINK(1)"  # formula injection neutralised
    assert wb["Services"].cell(2, est).number_format == "0.00"
    again = tables.write_findings_xlsx(_findings(), tmp_path / "again.xlsx")
    assert again.read_bytes() == path.read_bytes()


def test_generic_workbook_formats_shares_money_and_counts(tmp_path):
    df = pd.DataFrame({"name": ["x", "y"], "n": [3, 4], "council_grant (share)": [0.25, 0.5], "inc_council": [1200.5, 30.0],
                       "score": [1.234, 2.5], "rate": [1.5, 0.2]})
    ws = load_workbook(tables.write_xlsx({"s": df}, tmp_path / "g.xlsx"))["s"]
    fmt = {ws.cell(1, i).value: ws.cell(2, i).number_format for i in range(1, ws.max_column + 1)}
    assert fmt["n"] == "#,##0" and fmt["council_grant (share)"] == "0%" and fmt["inc_council"] == '"£"#,##0'
    assert fmt["score"] == "0.00" and fmt["rate"] == "0.00"  # a 'rate' above 1 is not shown as a share
    assert fmt["name"] == "General"


def test_formula_starts_neutralised_in_every_kind_of_text_column():
    """Text cells starting like a formula get a leading apostrophe, numbers (``-3``, ``+1.5``) and non-text cells do not."""
    df = pd.DataFrame({"obj": ["=1+1", "-3", "+1.5", "@x", "ok", None, np.nan, 5, "\tx"],
                       "str": pd.Series(["x", "-y", None, "a", "b", "c", "d", "e", "=SUM(A1)"], dtype="string"),
                       "arrow": pd.Series(["x", "=y", None, "a", "b", "c", "d", "e", "f"], dtype="string[pyarrow]"),
                       "numbers": pd.Series(range(9), dtype=object), "empty": [None] * 9, "number": np.arange(9.0)})
    out = tables.neutralise_formulas(df)
    assert out["obj"].tolist()[:6] == ["'=1+1", "-3", "+1.5", "'@x", "ok", None] and out["obj"].iloc[7] == 5
    assert out["obj"].iloc[8] == "'\tx" and pd.isna(out["obj"].iloc[6])
    assert out["str"].iloc[1] == "'-y" and out["str"].iloc[8] == "'=SUM(A1)" and out["arrow"].iloc[1] == "'=y"
    for col in ("numbers", "empty", "number"):
        pd.testing.assert_series_equal(out[col], df[col])
    assert df["obj"].iloc[0] == "=1+1"       # the input is not changed


def test_control_characters_are_escaped_for_workbooks_and_read_back():
    """Every C0 control character a worksheet cannot hold becomes _xHHHH_; a literal _xHHHH_ keeps its text."""
    controls = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")
    values = pd.Series([f"a{controls}b", "_x0041_ stays", "_x005F_ too", "tab\tline\nreturn\r", None, 3], dtype=object)
    df = pd.DataFrame({"text": values, "string": values.astype("string"), "n": range(6)})
    out = tables.escape_xlsx_text(df)
    assert out["text"].iloc[0] == "a" + "".join(f"_x{ord(c):04X}_" for c in controls) + "b"
    assert out["text"].iloc[1] == "_x005F_x0041_ stays" and out["text"].iloc[3] == "tab\tline\nreturn\r"
    assert out["text"].iloc[5] == 3 and out["n"].tolist() == list(range(6))
    for col in ("text", "string"):
        back = tables.unescape_xlsx_text(out[col].iloc[:4].astype(str))
        assert back.tolist() == values.iloc[:4].tolist()
    clean = pd.DataFrame({"text": ["plain", "_x"], "n": [1, 2]})
    assert tables.escape_xlsx_text(clean) is clean          # nothing to escape: the same frame, no copy


def test_workbook_with_control_characters_is_written(tmp_path):
    df = pd.DataFrame({"library": ["Oak\x03 Library", "Elm Library"], "n": [1, 2]})
    path = tables.write_xlsx({"s": df}, tmp_path / "t.xlsx")
    cells = [c.value for c in load_workbook(path)["s"]["A"]]
    assert cells == ["library", "Oak_x0003_ Library", "Elm Library"]
    assert tables.unescape_xlsx_text(pd.Series(cells[1:])).tolist() == df["library"].tolist()
