"""Labelled .sav/.dta exports: labels from the instrument, codes round-trip, personal columns never written."""
import hashlib

import numpy as np
import pandas as pd
import pytest

from cmlkit import codebook, labelled


@pytest.fixture()
def small(lib):
    return pd.DataFrame({
        "response_id": ["r1", "r2", "r3"],
        "paid_staff": pd.array(["none", "paid_coordinator", pd.NA], dtype="string"),
        "services__book_lending": pd.array([1, 0, pd.NA], dtype="Int8"),
        "council_support__building_maintenance": pd.array([0, 1, 1], dtype="Int8"),
        "opening_hours": [12.5, 30.0, np.nan],
        "contact_email": ["a@b.example", "c@d.example", None],
        "weight": [1.5, 2.0, 2.5],
    })


def test_sav_and_dta_carry_the_instruments_labels(small, lib, tmp_path):
    out = labelled.write_labelled(small, lib, tmp_path / "x", file_label="test")
    staff = {c["name"]: c["label"] for c in lib.choices("paid_staff")}
    for key in ("sav", "dta"):
        data, meta = labelled.read_back(out[key])
        names = labelled.stata_names(small.columns) if key == "dta" else {c: c for c in small.columns}
        assert names["contact_email"] not in data.columns  # personal: never written
        labels = dict(zip(meta.column_names, meta.column_labels))
        assert labels[names["opening_hours"]] == lib.question("opening_hours")["text"]
        assert labels[names["services__book_lending"]].endswith(": Book lending")
        assert labels[names["weight"]].startswith("Survey weight")
        value_labels = meta.variable_value_labels[names["paid_staff"]]
        assert sorted(value_labels.values()) == sorted(staff.values())
        decoded = data[names["paid_staff"]].map(value_labels)
        assert decoded.iloc[0] == staff["none"] and decoded.iloc[1] == staff["paid_coordinator"] and pd.isna(decoded.iloc[2])
        assert meta.variable_value_labels[names["services__book_lending"]] == {0: "No", 1: "Yes"}
        assert data[names["opening_hours"]].iloc[0] == 12.5
    assert len(labelled.stata_names(small.columns)["council_support__building_maintenance"]) <= labelled.STATA_MAX
    row = out["variables"].set_index("variable").loc["contact_email"]
    assert row["in_labelled_files"].startswith("no")


def test_labelled_files_are_byte_stable(small, lib, tmp_path):
    a = labelled.write_labelled(small, lib, tmp_path / "a")
    b = labelled.write_labelled(small, lib, tmp_path / "b")
    for key in ("sav", "dta"):
        assert hashlib.sha256(a[key].read_bytes()).digest() == hashlib.sha256(b[key].read_bytes()).digest()


def test_unknown_choice_is_refused(small, lib, tmp_path):
    bad = small.assign(paid_staff=pd.array(["none", "volunteers_only", pd.NA], dtype="string"))
    with pytest.raises(ValueError, match="volunteers_only"):
        labelled.write_labelled(bad, lib, tmp_path / "bad")


def test_stata_names_are_valid_unique_and_short():
    cols = ["a" * 40, "a" * 40 + "b", "9lives", "x y", "ok"]
    names = labelled.stata_names(cols)
    assert len(set(n.lower() for n in names.values())) == len(cols)
    assert all(len(n) <= labelled.STATA_MAX and (n[0].isalpha() or n[0] == "_") for n in names.values())
    assert labelled.stata_names(cols) == names


def test_codebook_lists_every_column(small, lib, tmp_path):
    out = labelled.write_labelled(small, lib, tmp_path / "x")
    book = codebook.codebook({"library": out["variables"]}, wave="2025w1")
    assert list(book["variable"]) == list(small.columns)
    assert set(book["wave"]) == {"2025w1"}
    assert book.set_index("variable").loc["paid_staff", "values"].startswith("1 = ")
    paths = codebook.write_codebook(book, tmp_path / "cb", title="Codebook")
    assert "| paid_staff |" in paths["md"].read_text() and paths["xlsx"].exists()


def test_r_design_replays_every_weighting_step():
    recipe = {"svydesign": {"ids": [], "strata": "region", "fpc": ["N_region"], "weights": None, "lonely_psu": "certainty"},
              "steps": [{"kind": "poststratify", "cell": "cell", "population": {"a": 10.0, "b": 20.0}},
                        {"kind": "calibrate", "margins": {"type": {"CR": 400.0, "ICL": 80.0}}, "totals": {"hours": 9000.5},
                         "calfun": "linear", "bounds": [0.5, None], "maxit": 50, "epsilon": 1e-7},
                        {"kind": "trim", "lower": None, "upper": 5.0, "strict": False, "rule": "x"}],
              "weight_column": "weight"}
    lines = codebook.r_design(recipe)
    text = "\n".join(lines)
    assert lines[0] == 'options(survey.lonely.psu = "certainty")'
    assert text.index("d$type <- factor(") < text.index("des <- svydesign(ids = ~1, strata = ~region, fpc = ~N_region, data = d)")
    assert "postStratify(des, ~cell" in text and "calibrate(des, ~type + hours" in text and 'c("hours" = 9000.5)' in text
    assert "bounds = c(0.5, Inf)" in text and "trimWeights(des, lower = -Inf, upper = 5, strict = FALSE)" in text
    assert "weights = ~weight" in codebook.r_design(None)[1]
    with pytest.raises(ValueError):
        codebook.r_design({**recipe, "steps": [{"kind": "jackknife"}]})
