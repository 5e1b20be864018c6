"""The wave pipeline with the library users' survey (the session's shared run of the demo wave), and user privacy."""
import json

import pandas as pd
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wave_run")]   # reads the shared run


@pytest.fixture(scope="module")
def user_run(demo_wave, finished_run):
    """The session's shared run: the demo wave carries the users' survey, so the user steps ran in it."""
    return demo_wave[0], finished_run


def _text_of(path):
    if path.suffix == ".xlsx":
        import zipfile

        with zipfile.ZipFile(path) as z:
            return " ".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    if path.suffix == ".parquet":
        return pd.read_parquet(path).to_csv()
    if path.suffix in (".sav", ".dta", ".png"):
        return path.read_bytes().decode("latin-1")
    return path.read_text(encoding="utf-8", errors="replace")


def test_user_steps_run_and_the_report_has_the_users_section(user_run):
    _, run = user_run
    record = json.loads((run / "run.json").read_text())
    steps = {s["name"]: s["status"] for s in record["steps"]}
    assert {"clean_users", "weight_users", "describe_users"} <= set(steps) and record["status"] == "ok"
    assert not record.get("skipped_steps")
    acc = record["row_accounting"]["cml_user"]
    assert acc["responses_in"] == acc["responses_kept"] + sum(v for k, v in acc.items() if k.startswith("removed_"))
    wacc = pd.read_csv(run / "tables" / "users" / "weighting_accounting.csv").set_index("stage")["n"]
    assert wacc["clean_responses_in"] == acc["responses_kept"] == wacc.drop("clean_responses_in").sum()
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "Library users" in html and "Recall, not a baseline" in html
    for stem in ("user_satisfaction", "user_satisfaction_by_group", "user_before_after", "user_services_gap", "user_weighting_effect"):
        assert (run / "figures" / f"{stem}.txt").read_text().strip(), stem          # alt text for every figure
    rows = pd.read_csv(run / "tables" / "findings" / "users.csv")
    shown = rows.loc[~rows["suppressed"].astype(bool)]
    assert len(shown) and (shown["base_n"] >= 5).all() and (shown["base_libraries"] >= 3).all()
    assert rows.loc[rows["suppressed"].astype(bool), "estimate"].isna().all()


def test_no_user_contact_or_comment_in_public_outputs(user_run):
    wave, run = user_run
    truth = pd.read_csv(wave / "truth" / "cml_user_clean.csv")
    errors = pd.read_csv(wave / "truth" / "cml_user_errors.csv")
    contacts = set(truth["contact_email"].dropna())
    contacts |= set(errors.loc[errors["kind"] == "pii_in_text", "injected_value"].str.extractall(
        r"([\w.+-]+@[\w.-]+\.\w+|07700 900\d{3})")[0])
    assert len(contacts) > 100
    comments = set(truth["comments"].dropna()) | {c.rstrip(".") for c in truth["comments"].dropna()}
    assert len(comments) >= 5
    published = [p for p in run.rglob("*") if p.is_file() and "private" not in p.relative_to(run).parts]
    for path in published:            # no contact detail anywhere outside private/
        text = _text_of(path)
        assert not [c for c in contacts if c in text], path
    public = [run / "report.html", run / "README.md", run / "data" / "cml_user" / "weighted.parquet",
              *(run / "figures").glob("*"), *(run / "tables" / "findings").glob("*"), *(run / "tables" / "users").glob("*")]
    assert sum(p.is_file() for p in public) >= 25
    for path in public:               # no user comment in what is published
        if path.is_file():
            text = _text_of(path)
            assert not [c for c in comments if c in text], path
