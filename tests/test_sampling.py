"""Case-study sampling: allocation, hard constraints over many seeds, balance and inclusion
probabilities over 1,000 draws, reproducibility, reserves and replacements."""

import numpy as np
import pandas as pd
import pytest

from cmlkit import case_fieldwork as F
from cmlkit import sampling as S
from cmlkit import synthetic
from cmlkit.cube import cube_many


@pytest.fixture(scope="module")
def spec():
    return S.load_spec()


@pytest.fixture(scope="module")
def population():
    """A synthetic frame's in-scope libraries, their true answers and a two-cluster membership."""
    scope = synthetic.in_scope(synthetic.make_frame(480, random_state=3))
    lib = synthetic.simulate_libraries(scope, governance_signal=1.0, random_state=3)
    lib["response_id"] = [f"R{i:04d}" for i in range(len(lib))]
    clusters = pd.DataFrame({"library_id": lib["library_id"],
                             "cluster": (lib["true_model"] == "independent_community").astype(int),
                             "cluster_name": np.where(lib["true_model"] == "independent_community", "Independent", "Council-linked")})
    return scope, lib, clusters


@pytest.fixture(scope="module")
def respondents(population, spec):
    scope, lib, clusters = population
    return S.candidates(lib.drop(columns=["region"]), scope, spec, clusters=clusters)


def test_largest_remainder_by_hand():
    q = pd.Series({"a": 2.6, "b": 1.3, "c": 0.7, "d": 0.4})        # sums to 5
    assert S.largest_remainder(q, 5).to_dict() == {"a": 3, "b": 1, "c": 1, "d": 0}
    # minimum 1 each first, the remaining 1 to the stratum whose quota most exceeds it
    assert S.largest_remainder(q, 5, minimum=1).to_dict() == {"a": 2, "b": 1, "c": 1, "d": 1}
    with pytest.raises(S.SamplingError, match="min_per_stratum"):
        S.largest_remainder(q, 3, minimum=1)


def test_neyman_allocation_by_hand():
    c = pd.DataFrame({"stratum": ["x"] * 4 + ["y"] * 4, "v": [1, 1, 1, 1, 0, 10, 0, 10]})
    # S_x = 0, S_y > 0: all units to y; proportional: 2 and 2
    assert S.allocate(c, 4, method="neyman", variable="v", minimum=0).to_dict() == {"x": 0, "y": 4}
    assert S.allocate(c, 4, method="proportional").to_dict() == {"x": 2, "y": 2}


def test_consent_and_strata(respondents, population):
    _, lib, _ = population
    assert (respondents["consent_followup"] == "yes").all()
    assert respondents.attrs["excluded"]["did not agree to be contacted"] == int((lib["consent_followup"] != "yes").sum())
    assert set(respondents["stratum"]) == set(respondents["region"])


@pytest.mark.parametrize("method", ["balanced", "stratified", "max_variation"])
def test_hard_constraints_always_hold(respondents, spec, method):
    sp = spec.replace(method=method)
    for seed in range(60):
        sel = S.draw(respondents, sp, random_state=seed)
        chosen = sel.table.loc[sel.table["selected"] == 1]
        assert len(chosen) == sp["sample_size"]
        assert chosen["authority"].value_counts().max() <= 1
        assert set(chosen["cluster"]) == set(respondents["cluster"])
        assert set(chosen["region"]) == set(respondents["region"])
        assert S.check_constraints(chosen, respondents, sp) == []


def test_unmet_constraint_fails_naming_it(respondents, spec):
    sp = spec.as_dict()
    sp["sample_size"] = 5                                    # 9 regions cannot be covered by 5 libraries
    sp["constraints"]["cover_all_regions_from"] = 5
    sp["stratify_by"] = []
    with pytest.raises(S.SamplingError, match="cover_all_regions_from"):
        S.draw(respondents, sp)
    sp = spec.as_dict()
    sp["max_tries"] = 3
    sp["constraints"]["min_per_cluster"] = 4                 # four of each cluster: possible but never drawn
    with pytest.raises(S.SamplingError, match="constraint min_per_cluster could not be met in 3 draws"):
        S.draw(respondents, sp)


DRAWS = 400    # inclusion frequencies within 4.5 binomial SEs of pik, whatever the number of draws


def test_balance_and_inclusion_over_400_draws(population, spec):
    scope, _, _ = population
    sp = spec.as_dict()
    sp.update(draw_from="frame", sample_size=20, stratify_by=["type"], constraints={},
              balance_on={"numeric": ["frame_hours", "imd_decile"], "categorical": ["region"]})
    cands = S.candidates(pd.DataFrame({"library_id": scope["library_id"]}), scope, sp)
    x = cands[["frame_hours", "imd_decile"]].to_numpy(float)
    setup = S._draw_setup(cands, sp)
    # the draws together (cube_many is bit for bit cube on each generator, and draw's sample without constraints)
    samples = cube_many(setup["pik"], setup["X"], [np.random.default_rng(seed) for seed in range(DRAWS)]) == 1
    for seed in (0, 1, DRAWS - 1):
        assert np.array_equal(S.draw(cands, sp, random_state=seed).table["selected"].to_numpy() == 1, samples[seed])
    pik = setup["pik"]
    w = np.where(samples, 1 / pik, 0.0)
    diffs = (w @ x / w.sum(axis=1)[:, None] - x.mean(axis=0)) / x.std(axis=0)
    counts = samples.sum(axis=0)
    diffs = np.abs(np.array(diffs))
    z = (counts / DRAWS - pik) / np.sqrt(pik * (1 - pik) / DRAWS)
    print(f"\nmean |standardised difference| over {DRAWS} draws: {diffs.mean(axis=0).round(3)}; "
          f"inclusion frequency vs pik: max |z| {np.abs(z).max():.2f} over {len(pik)} libraries")
    assert (diffs.mean(axis=0) < 0.1).all()
    assert np.abs(z).max() < 4.5 and abs(z.mean()) < 0.2
    assert np.isclose(pik.sum(), 20)


def test_same_seed_same_selection(respondents, spec):
    a = S.add_reserves(S.purposive(S.draw(respondents, spec, random_state=5).table, spec), spec)
    b = S.add_reserves(S.purposive(S.draw(respondents, spec, random_state=5).table, spec), spec)
    pd.testing.assert_frame_equal(F.public_table(a), F.public_table(b))
    c = S.draw(respondents, spec, random_state=6).table
    assert set(c.loc[c["selected"] == 1, "library_id"]) != set(a.loc[a["role"] == "main", "library_id"])


def test_purposive_cases(respondents, spec):
    t = S.purposive(S.draw(respondents, spec, random_state=1).table, spec)
    assert (t["role"] == "typical").sum() == 1 and (t["role"] == "deviant").sum() == 1
    assert t.loc[t["selected"] == 1, "authority"].value_counts().max() <= 1
    assert t.loc[t["role"] == "deviant", "reason"].str.startswith("deviant case: months of reserves").all()


def test_reserves_and_replacements_never_reuse_and_keep_constraints(respondents, spec):
    t = S.add_reserves(S.purposive(S.draw(respondents, spec, random_state=2).table, spec), spec)
    res = t.loc[t["role"] == "reserve"]
    assert len(res) == spec["reserves_per_case"] * (t["selected"] == 1).sum()
    assert not res["library_id"].duplicated().any()
    assert not set(res["library_id"]) & set(t.loc[t["selected"] == 1, "library_id"])
    same = (res["stratum"].to_numpy() == t.set_index("library_id").loc[res["reserve_for"], "stratum"].to_numpy())
    assert same.mean() > 0.8
    seen = set(t.loc[t["status"] == "selected", "library_id"])
    for lib_id in t.loc[t["role"] == "main", "library_id"]:
        try:
            t, log = F.replace(t, lib_id, reason="refusal", spec=spec, date="2026-01-01")
        except S.SamplingError as exc:
            assert "keeps the constraints" in str(exc)
            continue
        assert log["replaced_by"] not in seen
        seen.add(log["replaced_by"])
        chosen = t.loc[t["status"] == "selected"]
        assert S.check_constraints(chosen, t, spec) == []
        assert t.loc[t["library_id"] == lib_id, "status"].item() == "declined"
    with pytest.raises(S.SamplingError, match="not currently selected"):
        F.replace(t, lib_id, reason="refusal", spec=spec, date="2026-01-01")


def test_public_table_has_no_contact_details(respondents, spec, population):
    scope, lib, _ = population
    t = S.add_reserves(S.purposive(S.draw(respondents, spec).table, spec), spec)
    public = F.public_table(t)
    text = public.to_csv()
    for col in ("contact_name", "contact_email", "contact_phone"):
        assert col not in public
        assert not any(v in text for v in lib[col])
    sheet = F.fieldwork_sheet(t, scope, lib[["response_id", "contact_name", "contact_email", "contact_phone"]])
    assert sheet["contact_email"].notna().all() and len(sheet) == len(public)


def test_spec_errors(tmp_path):
    p = tmp_path / "c.yml"
    p.write_text("sample_size: 9\nmethod: cube\n")
    with pytest.raises(S.SamplingError, match="method 'cube'"):
        S.load_spec(p)
    p.write_text("sample_size: 9\nsampel: 3\n")
    with pytest.raises(S.SamplingError, match="unknown key"):
        S.load_spec(p)
