"""The risk-index specification (``research/risk.yml``): its keys, defaults and checks, read once
(:func:`load_spec`) into a frozen :class:`RiskSpec`.

The derivations are checked against the one registry of :data:`cmlkit.indicators.DERIVATION_KINDS`; the
publication thresholds are not restated here but read from the disclosure rules the ``publish`` section
references (:func:`cmlkit.disclosure.load_rules`, their one home).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from cmlkit import disclosure
from cmlkit.errors import IndicatorError, RiskError
from cmlkit.indicators import check_derivation
from cmlkit.research import SpecRecord, read_spec

NORMALISATIONS = ("goalposts", "minmax", "rank", "zscore")
DIRECTIONS = ("higher_is_riskier", "lower_is_riskier")
_INDICATOR_KEYS = {"derive", "direction", "goalposts", "weight", "reason", "support", "missing_means_no_risk"}

SECTION_DEFAULTS = {
    "sensitivity": {"normalisations": list(NORMALISATIONS), "weight_draws": 200, "weight_noise": 0.5, "random_state": 0},
    "closure": {"horizon_years": 4, "bootstrap": 1000, "split_year": 2019},
    "combined": {"base_risk_weight": 0.2},
}
"""The defaults of the nested sections of ``research/risk.yml``, in one place (:class:`RiskSpec` fills them in)."""


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class RiskSpec(SpecRecord):
    """The risk index of ``research/risk.yml``, checked, with its defaults.

    Parameters
    ----------
    min_weight_share : float, default 0.6
        A library needs indicators worth this share of the total weight to get a score.
    reason_threshold : float, default 0.5
        An indicator is a reason only when its normalised risk is at least this.
    max_reasons : int, default 3
        Reasons given per library.
    indicators : Mapping
        name -> ``derive`` (exactly one of :data:`cmlkit.indicators.DERIVATION_KINDS`), ``direction``
        (higher_is_riskier or lower_is_riskier), ``goalposts`` ([safe, risky], agreeing with the direction),
        ``weight`` (default 1, applied where it is used), ``reason``, ``support``, ``missing_means_no_risk``.
    tiers : list, optional
        ``{name, min}`` on the 0-1 score; the first whose minimum the score reaches.
    combined : Mapping, optional
        ``base_risk_weight`` (default 0.2): the closure model's configured share of the combined rank.
    closure : Mapping, optional
        ``horizon_years`` (default 4), ``bootstrap`` (default 1000), ``split_year`` (default 2019).
    sensitivity : Mapping, optional
        ``normalisations`` (default all of :data:`NORMALISATIONS`), ``weight_draws`` (default 200),
        ``weight_noise`` (default 0.5), ``random_state`` (default 0).
    publish : Mapping, optional
        ``disclosure`` (the rules file, default ``disclosure.yml`` beside the spec, else the project's);
        :func:`load_spec` adds its ``k`` and ``numerator_k``.
    wave, wave_year, frame_year : optional
        Set from the wave by :func:`cmlkit.waves.with_wave`, never in ``research/``.
    source : str, optional
        The file read.

    Raises
    ------
    RiskError
        An indicator with an unknown key, a bad direction or goalposts, or a derivation that is not
        exactly one known kind; a section that is not a mapping or has an unknown key.
    """

    min_weight_share: float = 0.6
    reason_threshold: float = 0.5
    max_reasons: int = 3
    indicators: Mapping | None = None
    tiers: list | None = None
    combined: Mapping | None = None
    closure: Mapping | None = None
    sensitivity: Mapping | None = None
    publish: Mapping | None = None
    wave: str | None = None
    wave_year: int | None = None
    frame_year: int | None = None

    error = RiskError
    file = "research/risk.yml"

    def __post_init__(self):
        if not isinstance(self.indicators, Mapping):
            self.fail("indicators must be a mapping of name -> definition")
        for name, ind in self.indicators.items():
            _check_indicator(self, name, ind)
        for section, defaults in SECTION_DEFAULTS.items():
            given = getattr(self, section)
            if given is not None and not isinstance(given, Mapping):
                self.fail(f"{section} must be a mapping")
            unknown = set(given or {}) - set(defaults)
            if unknown:
                self.fail(f"{section}: unknown key(s) {sorted(unknown)} (known: {sorted(defaults)})")
            object.__setattr__(self, section, {**defaults, **(given or {})})


def _check_indicator(spec: RiskSpec, name, ind) -> None:
    extra = set(ind) - _INDICATOR_KEYS
    if extra:
        spec.fail(f"indicator {name!r}: unknown key(s) {sorted(extra)}")
    if ind.get("direction") not in DIRECTIONS:
        spec.fail(f"indicator {name!r}: direction must be higher_is_riskier or lower_is_riskier")
    gp = ind.get("goalposts")
    if not (isinstance(gp, list) and len(gp) == 2 and gp[0] != gp[1]):
        spec.fail(f"indicator {name!r}: goalposts must be [safe, risky], two different numbers")
    if (gp[1] > gp[0]) != (ind["direction"] == "higher_is_riskier"):
        spec.fail(f"indicator {name!r}: goalposts {gp} contradict direction {ind['direction']}")
    try:
        check_derivation(ind.get("derive", {}), f"{spec.source or spec.file}: indicator {name!r}")
    except IndicatorError as exc:
        raise RiskError(exc.message) from None


def load_spec(path=None) -> RiskSpec:
    """Read and check ``research/risk.yml``.

    Parameters
    ----------
    path : str or path-like, optional
        Default ``research/risk.yml``.

    Returns
    -------
    RiskSpec
        The checked specification (a read-only mapping), with its defaults and with ``publish`` resolved
        from the disclosure rules it references (``k``, ``numerator_k``).

    Raises
    ------
    RiskError
        An unknown key, a bad direction or goalposts, a derivation that is not exactly one of
        :data:`cmlkit.indicators.DERIVATION_KINDS`, or a publication threshold of its own.
    """
    spec, path = read_spec("risk.yml", path, error=RiskError, what="risk specification")
    spec["publish"] = _publish_rules(spec.get("publish") or {}, path)
    return RiskSpec.from_mapping(spec, path)


def _publish_rules(publish: dict, path: Path) -> dict:
    """``publish`` of a risk spec with the disclosure rules it references read in (their one home).

    A resolved spec written back out (``k``, ``numerator_k`` present) reads back the same; a value that
    contradicts the referenced rules, or a threshold of its own (``min_cell``), is refused.
    """
    name = publish.get("disclosure", "disclosure.yml")
    near = path.parent / name
    rules = disclosure.load_rules(near if near.is_file() else None)
    resolved = {"k": int(rules["k"]), "numerator_k": int(rules["numerator"]["k"])}
    if "min_cell" in publish or any(key in publish and publish[key] != v for key, v in resolved.items()):
        raise RiskError(f"{path}: publish: the disclosure threshold lives in research/disclosure.yml; "
                        "reference it with 'disclosure: disclosure.yml'")
    return {**publish, "disclosure": name, **resolved}
