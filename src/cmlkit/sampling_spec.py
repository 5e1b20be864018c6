"""The case-study specification (``research/case_studies.yml``): its keys, methods and defaults, read and
checked once (:func:`load_spec`) into a frozen :class:`CaseStudySpec`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from cmlkit.errors import SamplingError
from cmlkit.research import SpecRecord, read_spec

METHODS = ("balanced", "stratified", "max_variation")
ALLOCATIONS = ("proportional", "neyman")
DRAWS = ("respondents", "frame")
NO_CAP = 10**9
"""The authority cap when the specification sets none: more libraries than any frame holds."""


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class CaseStudySpec(SpecRecord):
    """The case-study design of ``research/case_studies.yml``, checked; its defaults are stated here only.

    Parameters
    ----------
    sample_size : int
        Libraries in the probability sample; required, at least 1.
    draw_from : {"respondents", "frame"}, default "respondents"
        Draw from the weighted responses or from every in-scope library of the frame.
    method : {"balanced", "stratified", "max_variation"}, default "balanced"
        Cube method within strata, stratified simple random sampling, or maximum variation.
    stratify_by : list of str, optional
        Columns of the candidates forming the strata.
    allocation : {"proportional", "neyman"}, default "proportional"
        Stratum allocation (neyman needs ``neyman_variable``).
    neyman_variable : str, optional
        The variable whose within-stratum spread drives a Neyman allocation.
    min_per_stratum : int, default 1
        Smallest allocation to a stratum when the sample size allows.
    balance_on : Mapping, optional
        ``numeric`` and ``categorical`` balancing columns.
    constraints : Mapping, optional
        ``max_per_authority`` (no cap when absent: :func:`authority_cap`), ``min_per_cluster``,
        ``cover_all_regions_from``, ``consent_column``, ``consent_value``.
    max_tries : int, default 1000
        Redraws allowed to meet the constraints.
    purposive : Mapping, optional
        ``indicator``, ``typical``, ``deviant``: purposive additions.
    reserves_per_case : int, default 2
        Ranked replacements per selected library.
    random_state : int, default 0
        Seed of the draw.
    source : str, optional
        The file read.

    Raises
    ------
    SamplingError
        An unknown method, allocation or draw, or a sample size below 1.
    """

    sample_size: int | None = None
    draw_from: str = "respondents"
    method: str = "balanced"
    stratify_by: list | None = None
    allocation: str = "proportional"
    neyman_variable: str | None = None
    min_per_stratum: int = 1
    balance_on: Mapping | None = None
    constraints: Mapping | None = None
    max_tries: int = 1000
    purposive: Mapping | None = None
    reserves_per_case: int = 2
    random_state: int = 0

    error = SamplingError
    file = "research/case_studies.yml"

    def __post_init__(self):
        if self.method not in METHODS:
            self.fail(f"method {self.method!r} is not one of {list(METHODS)}")
        if self.allocation not in ALLOCATIONS:
            self.fail("allocation must be proportional or neyman")
        if self.draw_from not in DRAWS:
            self.fail("draw_from must be respondents or frame")
        if int(self.sample_size or 0) < 1:
            self.fail("sample_size must be a positive integer")


SPEC_DEFAULTS = CaseStudySpec.defaults()
"""The defaults of ``research/case_studies.yml`` (the fields of :class:`CaseStudySpec`), for plain-dict specs."""


def authority_cap(spec: Mapping) -> int:
    """The most libraries one authority may contribute (``constraints.max_per_authority``; no cap when absent).

    Parameters
    ----------
    spec : Mapping
        A case-study specification.

    Returns
    -------
    int
        The cap (:data:`NO_CAP`, larger than any frame, when the specification sets none).
    """
    cap = (spec.get("constraints") or {}).get("max_per_authority")
    return NO_CAP if cap is None else int(cap)


def load_spec(path=None) -> CaseStudySpec:
    """Read and check ``research/case_studies.yml``, with the defaults of :class:`CaseStudySpec` applied.

    Parameters
    ----------
    path : str or path-like, optional
        The specification; default ``research/case_studies.yml``.

    Returns
    -------
    CaseStudySpec
        The specification (a read-only mapping), every defaulted key present.

    Raises
    ------
    SamplingError
        A one-line message naming the file: an unknown key, method, allocation or draw, or a sample size
        below 1.
    """
    spec, path = read_spec("case_studies.yml", path, error=SamplingError, what="case-study specification")
    return CaseStudySpec.from_mapping(spec, path)
