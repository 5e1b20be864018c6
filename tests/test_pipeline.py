"""End-to-end runs of pipelines/wave.yml on the synthetic demo wave (slow: executes notebooks)."""
import hashlib
import json

import pandas as pd
import pytest

from cmlkit.errors import StepFailedError
from cmlkit.run import run_pipeline
from conftest import tree_digest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wave_run")]   # one worker builds the shared runs


@pytest.fixture(scope="session")
def two_runs(finished_run, forced_run):
    """The shared finished run and a second full run (``force``: every step executed again, nothing reused)."""
    return [finished_run, forced_run]


def test_run_folder_holds_what_was_promised(two_runs):
    run = two_runs[0]
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "ok" and all(s["status"] == "ok" for s in record["steps"])
    assert all(s["status"] == "ok" for s in json.loads((two_runs[1] / "run.json").read_text())["steps"])   # forced: executed
    assert set(record["inputs"]) == {"library_export", "volunteer_export", "frame", "user_export", "user_counts",
                                     "user_age_population"}
    assert all(len(v["sha256"]) == 64 for v in record["inputs"].values())
    assert record["packages"]["pandas"] and "dirty" in record["git"]
    assert len(list((run / "notebooks").glob("*.ipynb"))) == len(record["steps"]) >= 6
    assert (run / "data" / "cml_library" / "clean.parquet").exists()
    png = run / "figures" / "services_offered.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "figures" / "services_offered.txt").read_text().strip()
    assert two_runs[0] != two_runs[1]  # never overwritten


def test_two_runs_give_byte_identical_data_and_tables(two_runs):
    a, b = (tree_digest(r, exclude=("notebooks",)) for r in two_runs)
    keep = [k for k in a if k.startswith(("data/", "tables/", "private/"))]
    assert keep and {k: a[k] for k in keep} == {k: b[k] for k in keep}


def _text_of(path):
    """Everything a person could read in an output file, as text."""
    if path.suffix == ".xlsx":
        import zipfile

        with zipfile.ZipFile(path) as z:
            return " ".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    if path.suffix == ".parquet":
        return pd.read_parquet(path).to_csv()
    return path.read_text(encoding="utf-8", errors="replace")


def test_no_contact_details_outside_private(two_runs, demo_wave):
    out, _ = demo_wave
    truth = pd.read_csv(out / "truth" / "cml_library_clean.csv")
    needles = set(truth["contact_email"]) | set(truth["contact_phone"]) | set(truth["contact_name"])
    injected = pd.concat([pd.read_csv(out / "truth" / f"{i}_errors.csv") for i in ("cml_library", "cml_volunteer")])
    pii = injected.loc[injected["kind"] == "pii_in_text", "injected_value"].str.extractall(
        r"([\w.+-]+@[\w.-]+\.\w+|07700 900\d{3}|01632 960\d{3})")[0]
    needles |= set(pii)
    assert len(needles) > 100
    found_in = {}                       # file bytes -> needles found: the second run's identical files are scanned once
    for run in two_runs:
        scanned = 0
        for path in run.rglob("*"):
            if path.is_file() and "private" not in path.relative_to(run).parts and path.suffix != ".png":
                key = hashlib.sha256(path.read_bytes()).digest()
                if key not in found_in:
                    text = _text_of(path)
                    found_in[key] = [n for n in needles if n in text]
                scanned += 1
                assert not found_in[key], (path, found_in[key][:3])
        assert scanned >= 15
        record = json.loads((run / "run.json").read_text())
        acc = record["row_accounting"]["cml_library"]
        assert acc["responses_in"] == acc["responses_kept"] + sum(v for k, v in acc.items() if k.startswith("removed_"))


def test_private_fieldwork_sheet_holds_contacts_and_replacement_works(two_runs, demo_wave, tmp_path):
    import shutil

    from cmlkit.cli import main

    out, _ = demo_wave
    run = two_runs[0]
    sheet = pd.read_excel(run / "private" / "case_studies" / "fieldwork.xlsx")
    assert sheet["contact_email"].notna().sum() >= 9           # the scan above would have caught these
    assert not list(p for p in run.rglob("fieldwork*") if "private" not in p.relative_to(run).parts)
    public = pd.read_csv(run / "tables" / "case_studies" / "selection.csv")
    assert not {"contact_name", "contact_email", "contact_phone", "library_name", "name"} & set(public.columns)
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    first = public.loc[public["role"] == "main", "library_id"].iloc[0]
    assert main(["sample", "replace", str(copy), "--library", first, "--reason", "refusal", "--date", "2026-01-05"]) == 0
    log = pd.read_csv(copy / "tables" / "case_studies" / "replacements.csv")
    after = pd.read_csv(copy / "tables" / "case_studies" / "selection.csv")
    assert log["declined"].tolist() == [first]
    assert after.set_index("library_id").loc[first, "status"] == "declined"
    assert after.set_index("library_id").loc[log["replaced_by"].iloc[0], "status"] == "selected"
    assert main(["sample", "replace", str(copy), "--library", first, "--reason", "refusal"]) == 2   # not selected any more


def test_risk_outputs_public_aggregates_only(two_runs, demo_wave):
    out, _ = demo_wave
    run = two_runs[0]
    frame = pd.read_csv(out / "frame.csv")
    ids, names = set(frame["library_id"]), set(frame["name"])
    public = [p for p in run.rglob("*") if p.is_file() and "private" not in p.relative_to(run).parts
              and ("risk" in p.parts or p.name.startswith("risk_")) and p.suffix != ".png"]
    assert len(public) >= 10
    for path in public:
        text = _text_of(path)
        assert not [i for i in ids if i in text], path
        assert not [n for n in names if n in text], path
    share = pd.read_csv(run / "tables" / "risk" / "at_risk_share.csv")
    assert (share.loc[~share["suppressed"], "base_n"] >= 5).all()
    assert share.loc[share["suppressed"], "estimate"].isna().all()
    priority = pd.read_csv(run / "private" / "risk" / "priority_list.csv", encoding="utf-8-sig")
    assert len(priority) > 0 and priority["Why"].str.len().gt(0).all()
    assert set(priority["Risk level"]) <= {"High", "Medium"}
    assert priority["Priority"].is_monotonic_increasing


def test_headline_intervals_cover_the_generators_truth(two_runs, demo_wave):
    """Each headline (all libraries and by governance type) against the population value in the truth."""
    from cmlkit import indicators
    from cmlkit.instrument import load_instrument

    out, _ = demo_wave
    run = two_runs[0]
    table = pd.read_csv(run / "tables" / "findings" / "findings.csv")
    spec = indicators.load_spec()
    truth = pd.read_csv(out / "truth" / "library_population.csv")
    values = indicators.compute(truth, spec, inst=load_instrument("cml_library", "2025w1"))
    values["type"] = truth["frame_code"]
    true_all = values.drop(columns="type").mean()
    true_type = values.groupby("type").mean()
    heads = table.loc[table["indicator"].isin(list(spec["indicators"])) & table["breakdown"].isin(["all", "type"])
                      & ~table["suppressed"]].copy()
    heads["truth"] = [true_all[i] if b == "all" else true_type.loc[d, i] for i, b, d in zip(heads["indicator"], heads["breakdown"], heads["domain"])]
    heads["covered"] = (heads["ci_low"] <= heads["truth"]) & (heads["truth"] <= heads["ci_high"])
    print("\n" + heads[["indicator", "domain", "estimate", "ci_low", "ci_high", "truth", "covered"]].round(4).to_string(index=False))
    print(f"coverage {heads['covered'].mean():.0%} of {len(heads)} headlines")
    assert len(heads) >= 25
    assert heads["covered"].mean() >= 0.9


def test_no_published_cell_below_k(two_runs):
    run = two_runs[0]
    checked = 0
    for path in (run / "tables").rglob("*.csv"):
        t = pd.read_csv(path)
        if "base_n" in t and "suppressed" in t:
            shown = t.loc[~t["suppressed"].astype(bool)]
            assert (shown["base_n"] >= 5).all(), path
            assert t.loc[t["suppressed"].astype(bool), "estimate"].isna().all(), path
            checked += 1
    assert checked >= 4          # services, volunteers, findings, at-risk shares
    for alt in (run / "figures").glob("*.txt"):
        for n in __import__("re").findall(r"n = (\d+)\)", alt.read_text()):
            assert int(n) >= 5, alt


def test_failing_step_keeps_partial_notebook(demo_wave, root, tmp_path):
    out, _ = demo_wave
    bad = tmp_path / "bad.csv"
    bad.write_text("ID,Start time,Completion time\n", encoding="utf-8")  # passes nothing: header lacks questions
    inputs = {"library_export": out / "exports" / "cml_library_surveymonkey.csv", "volunteer_export": out / "exports" / "cml_volunteer_qualtrics.csv",
              "frame": out / "frame.csv"}
    with pytest.raises(StepFailedError, match="clean_library"):
        run_pipeline(root / "pipelines" / "wave.yml", instrument="cml_library", wave="2025w1", inputs=inputs,
                     overrides={"clean_library.cleaning_log": str(bad)}, outputs_root=tmp_path / "o", root=root, echo=lambda *_: None,
                     jobs=1)   # one kernel: the failing step heads the longest chain, so it starts first
    run = next((tmp_path / "o").rglob("run.json")).parent
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "failed" and record["steps"][0]["status"] == "failed"
    assert (run / "notebooks" / "01_clean_library.ipynb").exists()
