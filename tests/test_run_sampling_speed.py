"""The fast inclusion-probability simulation gives exactly what repeating the whole draw gives."""
import copy

import numpy as np
import pandas as pd
import pytest

from cmlkit import progress
from cmlkit import sampling as S
from cmlkit import synthetic


@pytest.fixture(scope="module")
def cands_and_spec():
    scope = synthetic.in_scope(synthetic.make_frame(480, random_state=5))
    lib = synthetic.simulate_libraries(scope, governance_signal=1.0, random_state=5)
    lib["response_id"] = [f"R{i:04d}" for i in range(len(lib))]
    clusters = pd.DataFrame({"library_id": lib["library_id"], "cluster": (lib["true_model"] == "independent_community").astype(int),
                             "cluster_name": "c"})
    spec = S.load_spec()
    return S.candidates(lib.drop(columns=["region"]), scope, spec, clusters=clusters), spec


@pytest.mark.parametrize("method", ["balanced", "stratified"])
def test_simulate_inclusion_equals_repeated_draws(cands_and_spec, method, monkeypatch, tmp_path):
    cands, spec = cands_and_spec
    sp = copy.deepcopy(spec)
    sp["method"] = method
    rng = np.random.default_rng(7)
    expected = np.mean([S.draw(cands, sp, random_state=int(rng.integers(0, 2**31 - 1))).table["selected"].to_numpy()
                        for _ in range(12)], axis=0)
    monkeypatch.setenv(progress.PROGRESS_ENV, str(tmp_path / "p"))
    got = S.simulate_inclusion(cands, sp, draws=12, random_state=7)
    assert np.array_equal(got, expected)
    assert progress.read_progress(tmp_path / "p")["n"] == 12


def test_vectorised_constraint_check_agrees_with_check_constraints(cands_and_spec):
    cands, spec = cands_and_spec
    sp = copy.deepcopy(spec)
    sp["constraints"] = {"max_per_authority": 2, "min_per_cluster": 1, "cover_all_regions_from": 8}
    meets = S._constraint_test(cands, sp)
    rng = np.random.default_rng(1)
    verdicts = []
    for size in (3, 6, 9, 12, 20) * 20:
        s = np.zeros(len(cands), dtype=int)
        s[rng.choice(len(cands), size=size, replace=False)] = 1
        verdicts.append(meets(s))
        assert verdicts[-1] == (not S.check_constraints(cands.loc[s == 1], cands, sp))
    assert any(verdicts) and not all(verdicts)
