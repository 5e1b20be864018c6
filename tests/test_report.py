"""cmlkit.report pieces that need no pipeline run: formatting, tables, the section registry, refusals."""
import json

import numpy as np
import pandas as pd
import pytest

from cmlkit import report


def test_values_are_formatted_by_unit():
    assert report.format_value(0.6040549233, "share") == "60%"
    assert report.format_value(0.021, "share") == "2.1%"
    assert report.format_value(3.6149, "score") == "3.61"
    assert report.format_value(7.25, "months") == "7.2"
    assert report.format_value(np.nan, "share") == ""
    assert report.format_value("x", "share") == ""


def test_table_view_formats_and_humanises():
    df = pd.DataFrame({"indicator": ["service_breadth", "opening_hours"], "p": [0.0004, 0.2], "n_resp": [10.0, 3.0]})
    t = report.table_view(df, {"indicator": "label", "p": "p", "n_resp": "int"}, labels={"service_breadth": "Services offered"})
    assert t["header"] == ["Indicator", "P", "N resp"]
    assert t["rows"] == [["Services offered", "< 0.001", "10"], ["Opening hours", "0.200", "3"]]
    sentence = report.table_view(pd.DataFrame({"d": ["paid_staff: 0.13 vs 1.54; support_wifi: 3% vs 70%"]}), {"d": "label"})
    assert sentence["rows"] == [["paid staff: 0.13 vs 1.54; support wifi: 3% vs 70%"]]
    auto = report.table_view(df)
    assert auto["rows"][0][0] == "service_breadth" and auto["rows"][1][1] == "0.20"


def test_section_registry_names_existing_formats():
    spec = report.load_sections()
    keys = [s["key"] for s in spec["sections"]]
    assert len(keys) == len(set(keys)) and {"services", "volunteers", "finances", "governance", "case_studies", "risk"} <= set(keys)
    for s in spec["sections"]:
        for t in s.get("tables", []):
            assert set((t.get("columns") or {}).values()) <= set(report.FORMATS) | {"text", "label"}, t["path"]
        assert set(s.get("summaries") or {}) <= set(report.SUMMARY_BUILDERS)


def test_report_refuses_private_products(tmp_path):
    with pytest.raises(report.ReportError):
        report._public(tmp_path, "private/risk/priority_list.csv")
    with pytest.raises(report.ReportError):
        report._public(tmp_path, "data/cml_library/clean.parquet")
    with pytest.raises(report.ReportError):
        report.build_report(tmp_path)  # no run.json: not a run folder


def test_report_of_a_bare_run_folder_is_generic(tmp_path):
    """A run folder with only run.json and one unknown table still gets a page (e.g. a trend run)."""
    (tmp_path / "run.json").write_text(json.dumps({"pipeline": "trend", "instrument": "cml_library", "wave": "trend",
                                                   "inputs": {}, "steps": []}))
    (tmp_path / "tables" / "trend").mkdir(parents=True)
    pd.DataFrame({"indicator": ["a_b"], "change": [0.1]}).to_csv(tmp_path / "tables" / "trend" / "change.csv", index=False)
    pd.DataFrame({"library_id": ["X1"], "v": [1]}).to_csv(tmp_path / "tables" / "trend" / "units.csv", index=False)
    html = report.build_report(tmp_path).read_text()
    assert "Other results" in html and "tables/trend/change.csv" in html
    assert "X1" not in html  # unit-level tables are never shown
    assert report.build_report(tmp_path).read_text() == html  # deterministic
    idx = report.write_index(tmp_path).read_text()
    assert "report.html" in idx and "`tables/`" in idx


def test_trend_run_gets_change_headlines(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"pipeline": "trend", "instrument": "cml_library", "wave": "2026w1",
                                                   "inputs": {}, "steps": []}))
    (tmp_path / "tables" / "trend").mkdir(parents=True)
    pd.DataFrame({"indicator": ["council_dependency", "council_dependency"], "label": ["Council share of income"] * 2,
                  "breakdown": ["overall", "type"], "domain": ["all", "CR"], "wave_a": "2025w1", "wave_b": "2026w1",
                  "estimate_a": [0.20, 0.21], "estimate_b": [0.17, 0.18], "change": [-0.03, -0.03], "ci_low": [-0.05, -0.06],
                  "ci_high": [-0.01, 0.0], "n_both": [70, 60], "suppressed": [False, False], "comparability": "comparable"}
                 ).to_csv(tmp_path / "tables" / "trend" / "findings.csv", index=False)
    page = report.build_report(tmp_path).read_text()
    assert "trend run to wave 2026w1" in page and ">Change between waves</h2>" in page
    assert ("Council share of income: 20% in 2025w1, 17% in 2026w1; change -3.0 percentage points "
            "(95% interval -5.0 to -1.0; 70 libraries answered both waves).") in page
