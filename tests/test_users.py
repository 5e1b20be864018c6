"""The library users' survey: synthetic users, cleaning (paper-entry duplicates), linkage, two-stage weights."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cmlkit import clean, frame, ingest, link, nonresponse
from cmlkit import cleaning_log as logs
from cmlkit.duplicate_entries import duplicate_entries, load_rule
from cmlkit.errors import CmlkitError
from cmlkit.instrument import load_instrument
from cmlkit.synthetic.users import make_user_wave
from cmlkit.synthetic.wave import make_wave
from cmlkit import user_weights as UW
from conftest import tree_digest

SEED = 20250307


@pytest.fixture(scope="module")
def wave(tmp_path_factory):
    out = tmp_path_factory.mktemp("users_wave")
    make_wave(out, seed=SEED, n_community=200, platforms=("surveymonkey",), instruments=("cml_library",))
    manifest = make_user_wave(out, seed=SEED)
    return out, manifest


@pytest.fixture(scope="module")
def uinst(root):
    return load_instrument("cml_user", "2025w1", root=root)


def _clean(path, inst):
    raw = ingest.read_export(path, inst)
    applied, report = logs.apply_log(raw, clean.propose_changes(raw, inst, wave="2025w1"), inst)
    data, private = clean.finalise(applied, inst)
    return raw, report, data, private


@pytest.fixture(scope="module")
def cleaned(wave, uinst):
    out, _ = wave
    return _clean(out / "exports" / "cml_user_singleheader.csv", uinst)


@pytest.fixture(scope="module")
def library_weighted(wave, root):
    out, _ = wave
    lib = load_instrument("cml_library", "2025w1", root=root)
    _, _, data, _ = _clean(out / "exports" / "cml_library_surveymonkey.csv", lib)
    scope = frame.in_scope(frame.load_frame(out / "frame.csv"), year=2023)
    links = link.link_responses(data, scope)
    des, _ = nonresponse.weight_responses(data.assign(library_id=links["library_id"].to_numpy()), scope, year=2023)
    return des.data, scope


def test_same_seed_gives_byte_identical_user_files(wave, tmp_path):
    out, _ = wave
    again = tmp_path / "again"
    make_wave(again, seed=SEED, n_community=200, platforms=("surveymonkey",), instruments=("cml_library",))
    make_user_wave(again, seed=SEED)
    a, b = tree_digest(out), tree_digest(again)
    users = [k for k in a if "user" in k]
    assert len(users) >= 8 and {k: a[k] for k in users} == {k: b[k] for k in users}


def test_users_are_clustered_and_the_intercept_sample_is_biased(wave):
    out, manifest = wave
    pop = pd.read_csv(out / "truth" / "user_population.csv", usecols=["library_id", "sat_latent", "visit_frequency", "age_band"])
    smp = pd.read_csv(out / "truth" / "cml_user_clean.csv")
    g = pop.groupby("library_id")["sat_latent"]
    icc = g.mean().var() / (g.mean().var() + g.var().mean())
    assert 0.03 < icc < 0.3                                   # realistic intra-library correlation
    assert set(smp["library_id"]) <= set(pop["library_id"])
    assert smp.groupby("library_id").size().min() >= 1
    share = lambda d, col, vals: d[col].isin(vals).mean()    # noqa: E731
    assert share(smp, "visit_frequency", ["most_days"]) > 2.5 * share(pop, "visit_frequency", ["most_days"])
    assert share(smp, "age_band", ["age65_74", "age75plus"]) > share(pop, "age_band", ["age65_74", "age75plus"]) + 0.05
    summary = json.loads((out / "truth" / "user_population_summary.json").read_text())
    assert summary["users"] == len(pop) == manifest["n_user_population"]
    assert set(manifest["files"]) >= {"cml_user_singleheader", "cml_user_surveymonkey"}


def test_both_user_exports_clean_to_the_genuine_responses(wave, uinst, cleaned):
    out, manifest = wave
    roles = pd.read_csv(out / "truth" / "cml_user_responses.csv")
    for raw, report, data, private in [cleaned, _clean(out / "exports" / "cml_user_surveymonkey.csv", uinst)]:
        removed = report.loc[report["change_type"].str.startswith("remove")]
        assert len(raw) == manifest["n_cml_user_rows"] == len(data) + len(removed)        # rows in = kept + removed
        assert len(data) == manifest["n_cml_user_genuine"] == int((roles["role"] == "genuine").sum())
        assert "contact_email" not in data and "contact_email" in private


def test_date_answers_written_as_people_and_platforms_write_them_are_the_users_dates(wave, uinst, tmp_path):
    """The date question written DD/MM/YYYY (a paper-entry sheet) or MM/DD/YYYY (SurveyMonkey's order) is every genuine
    user's date (both were read as missing, unlogged, before stop 30); the reading is noted once."""
    import csv

    out, _ = wave
    truth = pd.read_csv(out / "truth" / "cml_user_clean.csv")["completed_on"]
    for name, form in (("cml_user_singleheader.csv", "%d/%m/%Y"), ("cml_user_surveymonkey.csv", "%m/%d/%Y")):
        rows = list(csv.reader(open(out / "exports" / name, encoding="utf-8-sig", newline="")))
        j = rows[0].index("Date the form was filled in")
        first = 2 if name.endswith("surveymonkey.csv") else 1
        for r in rows[first:]:
            if r[j]:
                r[j] = pd.Timestamp(r[j]).strftime(form)
        path = tmp_path / name
        csv.writer(open(path, "w", encoding="utf-8", newline="")).writerows(rows)
        raw, _, data, _ = _clean(path, uinst)
        assert sorted(data["completed_on"].dt.strftime("%Y-%m-%d")) == sorted(truth), name
        notes = [e["reason"] for e in raw.attrs["ingest_log"] if e["action"] == "date_answers"]
        assert notes == [f"Date the form was filled in: answers read as {'DD/MM/YYYY' if form.startswith('%d') else 'MM/DD/YYYY'}"
                         ", written as YYYY-MM-DD"], notes


def test_date_answers_are_read_in_their_forms_and_impossible_ones_logged(uinst):
    from cmlkit.datetimes import read_date_answers

    got, note = read_date_answers(pd.Series(["03/03/2025", "13/02/2025", "3 March 2025", "March 3rd, 2025", "soon", None,
                                             "2025-02-30"]), name="completed_on")
    assert got.tolist() == ["2025-03-03", "2025-02-13", "2025-03-03", "2025-03-03", "soon", None, "2025-02-30"]
    assert note == "completed_on: answers read as DD/MM/YYYY and dates with a month name, written as YYYY-MM-DD"
    assert read_date_answers(pd.Series(["2025-03-03", "2025", "March 2025", "31/13/2025"]))[0].tolist() == [
        "2025-03-03", "2025", "March 2025", "31/13/2025"]        # no serial, no invented day, no impossible date
    assert read_date_answers(pd.Series(["2024", "2025"]))[0].tolist() == ["2024", "2025"]     # years, not Excel serials
    # read at the time written: an offset is dropped, never applied (00:30 at +01:00 would be the day before in UTC)
    assert read_date_answers(pd.Series(["3 March 2025 00:30 +01:00", "03 March 2025"]))[0].tolist() == [
        "2025-03-03 00:30:00", "2025-03-03"]
    from cmlkit.datetimes import drop_offset
    assert drop_offset(pd.Series(["2025-03-04T00:00:00.000+02:00", "2025-03-04T23:30Z", "2025-03-04", None])).tolist() == [
        "2025-03-04T00:00:00.000", "2025-03-04T23:30", "2025-03-04", pd.NA]
    us, note = read_date_answers(pd.Series(["03/04/2025", "02/01/2025"]), month_first=True)   # SurveyMonkey's order
    assert us.tolist() == ["2025-03-04", "2025-02-01"] and "the platform's, review" in note
    assert read_date_answers(pd.Series(["45719", "45720"]))[0].tolist() == ["2025-03-03", "2025-03-04"]   # Excel serials
    raw = pd.DataFrame({"response_id": ["a", "b", "c"]})
    for q in uinst.questions:
        raw[q["id"]] = None
    raw["completed_on"] = ["2025-03-03T10:00:00+01:00", "2025-02-30", "2025-03"]
    log = clean.propose_changes(raw, uinst, wave="2025w1")
    dates = log.loc[log["check_id"] == "dates"]
    assert dates["response_id"].tolist() == ["b", "c"] and set(dates["reason"]) == {"not a date (review)"}


def test_paper_duplicates_are_caught_and_marked_for_review(wave, cleaned):
    out, _ = wave
    _, report, _, _ = cleaned
    errors = pd.read_csv(out / "truth" / "cml_user_errors.csv")
    injected = errors.loc[errors["kind"] == "paper_duplicate"]
    caught = report.loc[report["check_id"] == "paper_duplicate"]
    assert len(injected) >= 5 and len(caught) >= 1
    assert caught["reason"].str.endswith("(review)").all()
    removed = report.loc[report["check_id"].isin(["paper_duplicate", "exact_duplicate"])]
    assert len(removed) >= len(injected)


def test_duplicate_entry_rule_needs_same_library_day_and_closed_answers(uinst, root):
    rule = load_rule(uinst, root=root)
    base = {q: None for q in uinst.question_ids}
    base.update(library_name="Ashby Library", library_postcode="AB1 2CD", completed_on="2025-03-04", mode="paper",
                visit_frequency="weekly", sat_overall="satisfied", comments="Lovely staff.")
    rows = pd.DataFrame([base, {**base, "comments": "Lovely staff"}, {**base, "completed_on": "2025-03-05"},
                         {**base, "library_name": "Bramford Library"}, {**base, "sat_overall": "very_satisfied"},
                         {**base, "library_name": " ashby  library", "comments": None}])
    rows.insert(0, "response_id", [f"r{i}" for i in range(len(rows))])
    later, first = duplicate_entries(rows, uinst, rule)
    assert later.tolist() == [False, True, False, False, False, True]
    assert first[later].tolist() == ["r0", "r0"]


def test_user_weights_two_stages_and_visit_adjustment(wave, cleaned, library_weighted, root):
    out, _ = wave
    _, _, users, _ = cleaned
    lib, scope = library_weighted
    spec = UW.load_spec(root=root)
    counts = pd.read_csv(out / "exports" / "library_user_counts.csv")
    linked, unlinked = UW.link_users(users, scope)
    wu, no_lib, rep = UW.user_weights(linked, lib, visits_per_month=spec["visits_per_month"], user_counts=counts)
    acc = UW.accounting(users, wu, pd.concat([unlinked, no_lib]))
    assert acc.loc[acc["stage"] == "weighted", "n"].item() + acc.loc[acc["stage"].str.startswith("excluded"), "n"].sum() == len(users)
    per_lib = wu.groupby("library_id").agg(w=("weight", "sum"), lw=("library_weight", "first"), m=("active_users", "first"))
    assert np.isclose(per_lib["w"].sum(), (per_lib["lw"] * per_lib["m"]).sum())   # all users add up to sum_i w_i M_i
    one = wu.loc[wu["library_id"] == wu["library_id"].value_counts().index[0]]
    assert np.allclose(one["weight"] * one["visits_per_month"], (one["weight"] * one["visits_per_month"]).iloc[0])  # w ∝ 1/visits
    # stage 1 keeps the libraries' total: libraries without users are made up within their cell
    assert np.isclose(wu.drop_duplicates("library_id")["library_weight"].sum(), lib["weight"].sum())
    truth = pd.read_csv(out / "truth" / "user_population.csv", usecols=["visit_frequency"])
    true_share = (truth["visit_frequency"] == "most_days").mean()
    plain, _, _ = UW.user_weights(linked, lib, visits_per_month=spec["visits_per_month"], user_counts=counts, adjust="none")
    share = lambda d: np.average(d["visit_frequency"] == "most_days", weights=d["weight"])  # noqa: E731
    assert abs(share(wu) - true_share) < 0.03 < abs(share(plain) - true_share)
    des = UW.user_design(wu)
    assert des.spec["ids"] == ["library_id", "response_id"] and des.spec["fpc"] == ["N_region", "active_users"]


def test_library_not_in_frame_is_a_logged_exclusion(cleaned, library_weighted):
    _, _, users, _ = cleaned
    lib, scope = library_weighted
    odd = users.copy()
    odd.loc[odd.index[:3], "library_name"] = "Atlantis Subscription Reading Room"
    odd.loc[odd.index[:3], "library_postcode"] = "ZZ9 9ZZ"
    linked, unlinked = UW.link_users(odd, scope)
    assert len(linked) + len(unlinked) == len(odd)
    hit = unlinked.loc[unlinked["response_id"].isin(odd["response_id"].iloc[:3])]
    assert len(hit) == 3 and hit["reason"].str.contains("not found in the frame").all()
    with pytest.raises(CmlkitError, match="lacks column 'cell'"):
        UW.user_weights(linked, lib.drop(columns="cell"), visits_per_month={"weekly": 4.3})


def test_user_export_passed_as_the_library_export_is_a_one_line_error(wave, root):
    out, _ = wave
    exports = out / "exports"
    res = subprocess.run([sys.executable, "-m", "cmlkit", "run", "pipelines/wave.yml", "--instrument", "cml_library", "--wave", "2025w1",
                          "--input", f"library_export={exports / 'cml_user_singleheader.csv'}",
                          "--input", f"volunteer_export={exports / 'cml_user_singleheader.csv'}", "--input", f"frame={out / 'frame.csv'}",
                          "--outputs", str(out / "never")], cwd=root, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = [x for x in res.stderr.splitlines() if x.startswith("cmlkit: error:")]
    assert len(lines) == 1 and "cml_user_singleheader.csv" in lines[0] and "cml_library" in lines[0] and "row 1" in lines[0]
    assert not (out / "never").exists()


def test_without_user_counts_libraries_get_the_hours_proxy(cleaned, library_weighted, root):
    _, _, users, _ = cleaned
    lib, scope = library_weighted
    spec = UW.load_spec(root=root)
    linked, _ = UW.link_users(users, scope)
    wu, _, rep = UW.user_weights(linked, lib, visits_per_month=spec["visits_per_month"],
                                 default_users_per_hour=spec["users_per_hour_default"])
    assert rep["libraries_with_count"] == 0 and rep["users_per_hour_proxy"] == spec["users_per_hour_default"]
    m_i = wu.groupby("library_id")["response_id"].transform("size")
    proxy = (spec["users_per_hour_default"] * wu["opening_hours"].astype(float)).round()
    assert (wu["active_users"] == np.maximum(proxy.fillna(0), m_i)).all()
    with pytest.raises(CmlkitError, match="adjust must be one of"):
        UW.user_weights(linked, lib, visits_per_month=spec["visits_per_month"], adjust="frequency")
