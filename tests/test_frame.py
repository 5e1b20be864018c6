import pandas as pd
import pytest

from cmlkit import frame
from cmlkit.errors import FrameError
from cmlkit.synthetic import prepare_frame
from cmlkit.synthetic.wave import make_wave


@pytest.fixture(scope="module")
def ace(shared_data):
    return frame.load_ace(shared_data / "ace_basic_dataset_2023.csv")


def test_2023_counts_after_normalisation(ace):
    counts = ace["operation_23"].value_counts()
    assert {k: int(counts[k]) for k in ("LA", "CR", "C", "ICL", "LAU", "Closed")} == \
        {"LA": 2198, "CR": 418, "C": 399, "ICL": 76, "LAU": 11, "Closed": 353}


def test_every_code_in_every_year_is_normalised(ace):
    for y in frame.ACE_YEARS:
        assert set(ace[f"operation_{y % 100}"].dropna()) <= set(frame.CODES)
    assert ace["library_id"].is_unique
    assert set(ace["region"]) == set(frame.REGIONS)


def test_taskforce_2016_codes(shared_data):
    tf = frame.load_taskforce_2016(shared_data / "libraries_england_2016.csv")
    c = tf["operation_16"].value_counts()
    assert int(c["CR"]) == 308 and int(c["ICL"]) == 41 and int(c["LA"]) == 2232
    assert set(tf["region"]) == set(frame.REGIONS)


def test_in_scope_and_population_counts(ace):
    scope = frame.in_scope(ace, year=2025)
    assert len(scope) == 418 + 76
    counts = frame.population_counts(scope, year=2023)
    assert counts["n"].sum() == 494 and set(counts["operation"]) == {"CR", "ICL"}


def test_unknown_code_names_file_row_and_column(tmp_path, shared_data):
    df = pd.read_csv(shared_data / "ace_basic_dataset_2023.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df.loc[6, "operation_21"] = "Volunteer"
    path = tmp_path / "ace.csv"
    df.to_csv(path, index=False)
    with pytest.raises(FrameError, match=r"ace\.csv, row 8 \(header = row 1\), column 'operation_21': unknown governance code 'Volunteer'"):
        frame.load_ace(path)
    df.drop(columns=["operation_23"]).to_csv(path, index=False)
    with pytest.raises(FrameError, match="lacks required column 'operation_23'"):
        frame.load_ace(path)


def test_code_normaliser_unit():
    s = pd.Series(["LA", "La", "c", "closed", "[Unknown]", "Temporary Closure", "", "Unknown"])
    assert frame.normalise_codes(s).tolist() == ["LA", "LA", "C", "Closed", "Unknown", "Temporary Closure", None, "Unknown"]
    with pytest.raises(FrameError, match="row 3"):
        frame.normalise_codes(pd.Series(["LA", "XX"]))


def test_synthetic_wave_from_the_real_frame(ace, tmp_path):
    m = make_wave(tmp_path, seed=11, frame=prepare_frame(ace, random_state=11), platforms=("singleheader",))
    assert m["n_in_scope"] == 494
    pop = pd.read_csv(tmp_path / "truth" / "library_population.csv")
    assert set(pop["library_id"]) <= set(ace["library_id"])
    # the frame.csv it writes (cmlkit's own code spellings, '[Unknown]' -> 'Unknown') loads again as the same frame
    again = frame.load_frame(tmp_path / "frame.csv")
    assert len(again) == len(pd.read_csv(tmp_path / "frame.csv"))
    assert (again["operation_16"] == "Unknown").any()
