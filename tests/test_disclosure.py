"""Numerator suppression: a published share must not reveal a small count of libraries ("2 of 9")."""
import numpy as np
import pandas as pd

from cmlkit import disclosure


def test_rules_state_the_numerator_threshold():
    rules = disclosure.load_rules()
    assert rules["k"] >= 3 and rules["numerator"]["k"] >= 2 and rules["numerator"]["complement"] is True


def test_small_numerators_and_complements_are_suppressed():
    t = pd.DataFrame({"breakdown": ["all", "region", "region", "region", "type", "type"],
                      "domain": ["all", "A", "B", "C", "CR", "ICL"],
                      "estimate": [.5, 2 / 9, 7 / 9, .5, 0.0, 1.0],
                      "base_n": [60, 9, 9, 42, 30, 30], "numerator_n": [30, 2, 7, 21, 0, 30]})
    s = disclosure.suppress(t, k=5, numerator_k=3, group="breakdown")
    # "2 of 9" reveals two libraries, "7 of 9" reveals the two that do not; 0 and all of the base name no subset
    assert s["suppression"].tolist() == ["", "numerator", "numerator", "", "", ""]
    assert s.loc[s["suppressed"], "estimate"].isna().all()
    # one numerator-suppressed cell alone in its group takes a second cell with it
    t2 = t.assign(numerator_n=[30, 2, 4, 21, 0, 30])
    assert disclosure.suppress(t2, k=5, numerator_k=3, group="breakdown")["suppression"].tolist() == \
        ["", "numerator", "secondary", "", "", ""]
    # means have no numerator: only the base rule applies
    means = t.assign(numerator_n=np.nan)
    assert not disclosure.suppress(means, k=5, numerator_k=3, group="breakdown")["suppressed"].any()


def test_default_rules_come_from_the_yaml():
    t = pd.DataFrame({"base_n": [9, 9], "numerator_n": [2, 4], "estimate": [2 / 9, 4 / 9]})
    k = disclosure.load_rules()["numerator"]["k"]
    s = disclosure.suppress(t)
    assert s["suppressed"].tolist() == [2 < k, 4 < k or 9 - 4 < k]
