"""The research specifications are read once into frozen, checked records (cmlkit.research.SpecRecord).

Each ``research/*.yml`` has one record class whose fields state its keys and defaults; a record is also a
read-only mapping, so code written for the parsed dict keeps working.
"""

import copy
import dataclasses

import pytest
import yaml

from cmlkit import disclosure, governance_spec, indicators, risk, risk_spec, sampling_spec, user_weights, waves
from cmlkit.errors import CmlkitError, DisclosureError, GovernanceError, IndicatorError, RiskError, SamplingError, UserSpecError
from cmlkit.instrument import load_instrument
from cmlkit.research import SpecRecord

LOADERS = {
    "disclosure.yml": disclosure.load_rules,
    "risk.yml": risk.load_spec,
    "indicators.yml": indicators.load_spec,
    "governance.yml": governance_spec.load_spec,
    "case_studies.yml": sampling_spec.load_spec,
    "user_indicators.yml": user_weights.load_spec,
}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_each_research_file_reads_into_a_frozen_record(name, root):
    spec = LOADERS[name]()
    assert isinstance(spec, SpecRecord)
    first = next(iter(spec))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(spec, first, None)
    with pytest.raises(TypeError):
        spec[first] = None
    parsed = yaml.safe_load((root / "research" / name).read_text(encoding="utf-8"))
    assert set(parsed) <= set(spec)                  # every key of the file is a key of the record


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_a_record_is_a_read_only_mapping_like_the_parsed_dict(name):
    spec = LOADERS[name]()
    key = next(iter(spec))
    assert spec[key] is getattr(spec, key) and spec.get(key) is spec[key]
    assert spec.get("no_such_key") is None and "no_such_key" not in spec and "source" not in spec
    assert list(dict(spec)) == list(spec) and len(spec) == len(dict(spec))
    assert {**spec} == dict(spec) == spec.as_dict() and spec == spec.as_dict()
    plain = spec.as_dict()
    assert type(plain) is dict and plain[key] == spec[key]
    assert copy.deepcopy(spec) == spec and type(copy.deepcopy(spec)) is type(spec)
    assert yaml.safe_load(yaml.safe_dump(spec)) == plain          # dumps as the mapping it is
    with pytest.raises(KeyError):
        spec["no_such_key"]


def test_replace_gives_a_new_checked_record():
    spec = sampling_spec.load_spec()
    other = spec.replace(sample_size=12, method="stratified")
    assert isinstance(other, sampling_spec.CaseStudySpec) and other["sample_size"] == 12 and other["method"] == "stratified"
    assert spec["sample_size"] == 9 and spec["method"] == "balanced"
    with pytest.raises(SamplingError, match=r"case_studies\.yml: method 'cube'"):
        spec.replace(method="cube")
    with pytest.raises(SamplingError, match="unknown key"):
        spec.replace(sample_sise=3)


def test_defaults_are_applied_once_from_a_minimal_file(tmp_path):
    p = tmp_path / "case_studies.yml"
    p.write_text("sample_size: 4\n")
    cs = sampling_spec.load_spec(p)
    assert {k: cs[k] for k in sampling_spec.SPEC_DEFAULTS} == {
        "draw_from": "respondents", "method": "balanced", "allocation": "proportional", "min_per_stratum": 1,
        "max_tries": 1000, "random_state": 0, "reserves_per_case": 2}
    assert "constraints" not in cs and sampling_spec.authority_cap(cs) == sampling_spec.NO_CAP

    p = tmp_path / "disclosure.yml"
    p.write_text("k: 7\n")
    assert disclosure.load_rules(p).as_dict() == {"k": 7, "numerator": {"k": 7, "complement": True}}

    p = tmp_path / "risk.yml"
    p.write_text("indicators:\n  x: {derive: {source: a}, direction: higher_is_riskier, goalposts: [0, 1]}\n")
    rs = risk.load_spec(p)
    assert (rs["min_weight_share"], rs["reason_threshold"], rs["max_reasons"]) == (0.6, 0.5, 3)
    assert rs["closure"] == {"horizon_years": 4, "bootstrap": 1000, "split_year": 2019}
    assert rs["combined"] == {"base_risk_weight": 0.2}
    assert rs["sensitivity"] == {"normalisations": ["goalposts", "minmax", "rank", "zscore"], "weight_draws": 200,
                                 "weight_noise": 0.5, "random_state": 0}
    assert risk.RISK_DEFAULTS == {"min_weight_share": 0.6, "reason_threshold": 0.5, "max_reasons": 3}

    p = tmp_path / "user_indicators.yml"
    p.write_text("visits_per_month: {weekly: 4}\nindicators: {}\n")
    us = user_weights.load_spec(p)
    assert (us["users_per_hour_default"], us["min_libraries_per_domain"]) == (10, 3)
    assert "before_after" not in us


@pytest.mark.parametrize("name, text, error, key", [
    ("case_studies.yml", "sample_size: 4\nmethd: balanced\n", SamplingError, "methd"),
    ("case_studies.yml", "sample_size: 0\n", SamplingError, "sample_size"),
    ("disclosure.yml", "k: 5\nnumerator: {k: 3, complment: true}\n", DisclosureError, "complment"),
    ("disclosure.yml", "k: zero\n", DisclosureError, "k must be"),
    ("risk.yml", "indicators: {}\nclosure: {horizon: 3}\n", RiskError, "horizon"),
    ("risk.yml", "indicators: {}\nmax_reason: 2\n", RiskError, "max_reason"),
    ("indicators.yml", "indicators: {}\nscale: {}\n", IndicatorError, "scale"),
    ("governance.yml", "features: {}\nclustering: {method: ward}\n", GovernanceError, "ward"),
    ("user_indicators.yml", "visits_per_month: {weekly: -1}\nindicators: {}\n", UserSpecError, "weekly"),
    ("user_indicators.yml", "indicators: {}\n", UserSpecError, "visits_per_month"),
])
def test_a_bad_key_or_value_is_one_line_naming_the_file(tmp_path, name, text, error, key):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(error) as info:
        LOADERS[name](p)
    message = str(info.value)
    assert isinstance(info.value, CmlkitError) and "\n" not in message
    assert message.startswith(f"{p}:") and key in message


def test_risk_checks_derivations_against_the_indicators_registry(tmp_path):
    p = tmp_path / "risk.yml"
    p.write_text("indicators:\n  x: {derive: {median_of: [a, b]}, direction: higher_is_riskier, goalposts: [0, 1]}\n")
    with pytest.raises(RiskError, match=r"risk\.yml: indicator 'x': derive needs exactly one of ratio, share"):
        risk.load_spec(p)
    for kind in indicators.DERIVATION_KINDS:            # every kind indicators knows is accepted
        p.write_text(f"indicators:\n  x: {{derive: {{{kind}: a}}, direction: higher_is_riskier, goalposts: [0, 1]}}\n")
        assert risk.load_spec(p)["indicators"]["x"]["derive"] == {kind: "a"}
    q = tmp_path / "indicators.yml"
    q.write_text("indicators:\n  y: {label: y, section: s, derive: {median_of: a}, kind: mean, direction: none,"
                 " missing: m, reference: r}\n")
    with pytest.raises(IndicatorError, match="derive needs exactly one of"):
        indicators.load_spec(q)
    assert risk_spec.check_derivation is indicators.check_derivation


def test_the_disclosure_threshold_has_one_home():
    rules = disclosure.load_rules()
    spec = risk.load_spec()
    assert spec["publish"]["k"] == rules["k"] and spec["publish"]["numerator_k"] == rules["numerator"]["k"]


def test_with_wave_builds_a_new_record_and_keeps_plain_dicts_working():
    inst = load_instrument("cml_library", "2025w1")
    spec = governance_spec.load_spec()
    out = waves.with_wave(spec, inst)
    assert isinstance(out, governance_spec.GovernanceSpec) and out["wave_year"] == inst.wave_year
    assert "wave_year" not in spec and out["features"] == spec["features"] and out["features"] is not spec["features"]
    plain = waves.with_wave({"features": {}}, inst)
    assert type(plain) is dict and plain["wave"] == "2025w1"
