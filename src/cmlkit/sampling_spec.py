"""The case-study specification (``research/case_studies.yml``): its keys, methods and defaults, read and
checked once (:func:`load_spec`)."""

from __future__ import annotations

from cmlkit.errors import SamplingError
from cmlkit.research import read_spec

METHODS = ("balanced", "stratified", "max_variation")
_KEYS = {"sample_size", "draw_from", "method", "stratify_by", "allocation", "neyman_variable", "min_per_stratum",
         "balance_on", "constraints", "max_tries", "purposive", "reserves_per_case", "random_state"}


SPEC_DEFAULTS = {"draw_from": "respondents", "method": "balanced", "allocation": "proportional",
                 "min_per_stratum": 1, "max_tries": 1000, "random_state": 0, "reserves_per_case": 2}
"""The defaults of ``research/case_studies.yml``, in one place (:func:`load_spec` applies them)."""


def authority_cap(spec: dict) -> int:
    """The most libraries one authority may contribute (``constraints.max_per_authority``; no cap when absent).

    Parameters
    ----------
    spec : dict
        A case-study specification.

    Returns
    -------
    int
        The cap (a number larger than any frame when the specification sets none).
    """
    cap = (spec.get("constraints") or {}).get("max_per_authority")
    return 10**9 if cap is None else int(cap)


def load_spec(path=None) -> dict:
    """Read and check ``research/case_studies.yml``, with :data:`SPEC_DEFAULTS` applied.

    Parameters
    ----------
    path : str or path-like, optional
        The specification; default ``research/case_studies.yml``.

    Returns
    -------
    dict
        The specification, every defaulted key present.

    Raises
    ------
    SamplingError
        An unknown key, method, allocation or draw, or a sample size below 1.
    """
    spec, path = read_spec("case_studies.yml", path, error=SamplingError, what="case-study specification")
    spec = {**SPEC_DEFAULTS, **spec}
    unknown = set(spec) - _KEYS
    if unknown:
        raise SamplingError(f"{path}: unknown key(s) {sorted(unknown)}")
    if spec["method"] not in METHODS:
        raise SamplingError(f"{path}: method {spec.get('method')!r} is not one of {list(METHODS)}")
    if spec["allocation"] not in ("proportional", "neyman"):
        raise SamplingError(f"{path}: allocation must be proportional or neyman")
    if spec["draw_from"] not in ("respondents", "frame"):
        raise SamplingError(f"{path}: draw_from must be respondents or frame")
    if int(spec.get("sample_size", 0)) < 1:
        raise SamplingError(f"{path}: sample_size must be a positive integer")
    return spec
