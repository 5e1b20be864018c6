"""Panel synthetic waves: planted changes recovered with honest intervals; the panel generator's files."""

from __future__ import annotations

import filecmp
import json

import pandas as pd
import pytest

from cmlkit.synthetic import change_study as S
from cmlkit import cli
from cmlkit.ingest import read_export
from cmlkit.instrument import load_instrument


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_changes_are_inside_their_intervals_and_overlap_narrows_them(seed):
    panel = S.panel_populations(seed)
    est = S.estimate_change(panel, random_state=1000 + seed)
    region = panel["planted"]["reserves_region"]["region"]
    planted = [est.loc[(est["indicator"] == "paid_coordinator") & (est["breakdown"] == "overall")].iloc[0],
               est.loc[(est["indicator"] == "months_of_reserves") & (est["domain"] == region)].iloc[0]]
    for r in planted:
        width, width_ind = r["ci_high"] - r["ci_low"], 2 * r["se_independent"] * (r["ci_high"] - r["change"]) / r["se"]
        print(f"seed {seed} {r['indicator']} {r['domain']}: true {r['true_change']:+.4f}, estimate {r['change']:+.4f} "
              f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]; width {width:.4f} with the overlap, {width_ind:.4f} as independent "
              f"samples ({r['n_both']} libraries in both waves)")
        assert r["ci_low"] <= r["true_change"] <= r["ci_high"]
        assert r["n_both"] > 0 and r["se"] < r["se_independent"]
    assert planted[0]["true_change"] == pytest.approx(0.05, abs=0.01)
    assert planted[1]["true_change"] < 0


@pytest.fixture(scope="module")
def two_waves(tmp_path_factory):
    d = tmp_path_factory.mktemp("panel")
    assert cli.main(["synth", "--seed", "3", "--n-community", "100", "--out", str(d / "a"), "--no-errors"]) == 0
    for out in ("b", "b2"):
        assert cli.main(["synth", "--wave", "2026w1", "--previous", str(d / "a"), "--seed", "4", "--out", str(d / out)]) == 0
    return d


def test_panel_wave_is_reproducible(two_waves):
    cmp = filecmp.dircmp(two_waves / "b", two_waves / "b2")
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    assert not filecmp.dircmp(two_waves / "b" / "truth", two_waves / "b2" / "truth").diff_files


def test_panel_wave_has_ground_truth_and_the_new_layout(two_waves):
    b = two_waves / "b"
    m = json.loads((b / "manifest.json").read_text())
    assert m["previous_wave"] == "2025w1" and m["panel"]["answered_both"] > 0
    changes = pd.read_csv(b / "truth" / "frame_changes.csv")
    assert set(changes["change"]) <= {"closed", "changed_governance", "transferred_in"} and len(changes)
    frame_b = pd.read_csv(b / "frame.csv").set_index("library_id")
    closed = changes.loc[changes["change"] == "closed", "library_id"]
    assert (frame_b.loc[closed, "operation_23"] == "Closed").all()
    truth = pd.read_csv(b / "truth" / "change_truth.csv")
    assert {"indicator", "breakdown", "domain", "truth_a", "truth_b", "change"} <= set(truth.columns)
    inst = load_instrument("cml_library", "2026w1")
    raw = read_export(b / "exports" / "cml_library_singleheader.csv", inst)
    assert "reserves_unrestricted" in raw and "volunteer_hours_week" not in raw and "warm_space_visits" in raw
    assert raw["service_change"].dropna().isin([c["label"] for c in inst.choices("service_change")] + list(inst.choice_names("service_change"))).all()
    clean = pd.read_csv(b / "truth" / "cml_library_clean.csv")
    assert "services__warm_space" in clean and "fin_risks__premises" in clean and "fin_risks__lease_ending" not in clean
    assert set(clean["service_change"].dropna()) <= set(inst.choice_names("service_change"))
    prev = pd.read_csv(two_waves / "a" / "truth" / "library_population.csv")
    assert clean["library_id"].isin(prev["library_id"]).any() and not clean["library_id"].isin(prev["library_id"]).all()


def test_previous_folder_that_is_not_a_wave_is_one_line(tmp_path, capsys):
    assert cli.main(["synth", "--wave", "2026w1", "--previous", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "not a synthetic wave folder" in err and err.count("\n") == 1
