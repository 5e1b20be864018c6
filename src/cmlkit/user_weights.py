"""Weights for the library users' survey: a two-stage design, libraries then users within libraries.

The user survey is an intercept survey run by the libraries that answered the library questionnaire, so
the design has two stages:

1. **Libraries** (primary units) carry their weight from the library weighting step (notebook 20: region
   strata, fpc ``N_region``, calibrated to region x type). Responding libraries that collected no user form
   are a second nonresponse: the weights of the libraries with users are scaled up within the same weighting
   ``cell`` so that they still represent the cell's libraries (then rescaled to the same overall total).
2. **Users** within library *i* represent its ``M_i`` active users (the ``user_counts`` input: active users from
   the library management system; else ``users_per_hour`` x weekly opening hours, stated in the report). A form is
   handed to a *visit*, so a user's chance of being asked is proportional to how often they come: the user weight
   is ``w_i (M_i / m_i) (v_bar / v_ij)``, ``v`` being the visits a month the user's answer to ``visit_frequency``
   stands for (``research/user_indicators.yml``) and ``v_bar`` one constant for all libraries that keeps the
   total at ``sum_i w_i M_i`` (the pooled harmonic mean visit rate of the respondents). Normalising library by
   library instead would be biased: a library's dozen forms seldom include a rare visitor, and its frequent
   visitors would take the rare visitors' share. The assumption is that libraries' users visit about equally
   often on average. With ``adjust="none"`` every user of a library gets ``w_i M_i / m_i`` (the comparison).

Optionally the weights are raked to a population age distribution (``age_population``: counts or shares by
``age_band``); users who gave no age keep their own category, held at its weighted total.

The design is R's ``svydesign(ids = ~library_id + response_id, strata = ~region, fpc = ~N_region +
active_users, weights = ~weight)`` with the "adjust" rule for a region with one library; it is saved with its
recipe (:mod:`cmlkit.weighted`), so later steps replay it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit import design as D
from cmlkit import estimates as E
from cmlkit import user_findings as UF
from cmlkit import weights as W
from cmlkit.errors import CmlkitError, UserSpecError
from cmlkit.instrument import find_root
from cmlkit.link import link_responses
from cmlkit.research import SpecRecord, read_spec

ADJUSTMENTS = ("visits", "none")
LIB_COLUMNS = ["library_id", "region", "type", "cell", "N_region", "weight", "opening_hours"]


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class UserSpec(SpecRecord):
    """The user survey's weighting inputs and indicators (``research/user_indicators.yml``), checked.

    Parameters
    ----------
    visits_per_month : Mapping
        ``visit_frequency`` answer -> visits a month it stands for (positive numbers); required.
    users_per_hour_default : float, default 10
        Active users per weekly opening hour when no library reported a count.
    indicators : Mapping
        name -> ``label``, ``derive``, ``kind`` (read by :func:`cmlkit.user_findings.derive_indicators`); required.
    before_after : Mapping, optional
        ``question``, ``among`` and ``caveat`` of the before/after comparison.
    min_libraries_per_domain : int, default 3
        Fewest libraries behind a published domain.
    source : str, optional
        The file read.

    Raises
    ------
    UserSpecError
        A missing ``visits_per_month`` or ``indicators``, a visit rate that is not a positive number, or a
        default that is not a positive number.
    """

    visits_per_month: Mapping | None = None
    users_per_hour_default: float = 10
    indicators: Mapping | None = None
    before_after: Mapping | None = None
    min_libraries_per_domain: int = 3

    error = UserSpecError
    file = "research/user_indicators.yml"

    def __post_init__(self):
        for key in ("visits_per_month", "indicators"):
            if getattr(self, key) is None:
                self.fail(f"missing key {key!r}")
            if not isinstance(getattr(self, key), Mapping):
                self.fail(f"{key} must be a mapping")
        for answer, v in self.visits_per_month.items():
            if not _positive(v):
                self.fail(f"visits_per_month.{answer} must be a positive number, not {v!r}")
        for key in ("users_per_hour_default", "min_libraries_per_domain"):
            if not _positive(getattr(self, key)):
                self.fail(f"{key} must be a positive number, not {getattr(self, key)!r}")


SPEC_DEFAULTS = UserSpec.defaults()
"""The defaults of ``research/user_indicators.yml`` (the fields of :class:`UserSpec`)."""


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def load_spec(path=None, *, root=None) -> UserSpec:
    """Read and check the user survey specification, ``research/user_indicators.yml`` (or ``path``).

    Parameters
    ----------
    path : str or path-like, optional
        The specification; default ``research/user_indicators.yml`` under the project root.
    root : path-like, optional
        The project root (default: found from the working directory); used when ``path`` is not given.

    Returns
    -------
    UserSpec
        A read-only mapping: ``visits_per_month``, ``users_per_hour_default`` (default 10), ``indicators``,
        ``before_after``, ``min_libraries_per_domain`` (default 3).

    Raises
    ------
    UserSpecError
        A one-line message naming the file: it cannot be read, is not a mapping, has an unknown key, lacks
        ``visits_per_month`` or ``indicators``, or holds a value that is not usable (see :class:`UserSpec`).
    """
    path = Path(path) if path else find_root(root) / "research" / "user_indicators.yml"
    spec, path = read_spec("user_indicators.yml", path, error=UserSpecError, what="user research specification")
    return UserSpec.from_mapping(spec, path)


def link_users(users: pd.DataFrame, scope: pd.DataFrame, *, overrides: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Link each user response to a frame library by library name and postcode.

    Parameters
    ----------
    users : pandas.DataFrame
        Clean user responses with ``response_id``, ``library_name`` and optionally ``library_postcode``.
    scope : pandas.DataFrame
        The in-scope frame libraries (:func:`cmlkit.frame.in_scope`).
    overrides : pandas.DataFrame, optional
        Reviewed link overrides (:func:`cmlkit.link.link_responses`).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The linked responses (with ``library_id`` and ``link_status``) and the excluded ones
        (``response_id, library_name, link_status, reason``): a library name not in the frame is an
        exclusion with its reason, never a silent drop.
    """
    u = users.reset_index(drop=True)
    resp = pd.DataFrame({"response_id": u["response_id"], "library_name": u["library_name"].fillna(""),
                         "postcode": u.get("library_postcode", pd.Series("", index=u.index)).fillna("")})
    links = link_responses(resp, scope, overrides=overrides)
    ok = links["status"].isin(["exact", "fuzzy", "override"]).to_numpy()
    out = u.assign(library_id=links["library_id"].to_numpy(), link_status=links["status"].to_numpy())
    excluded = out.loc[~ok, ["response_id", "library_name", "link_status"]].assign(
        reason=np.where(links.loc[~ok, "status"] == "ambiguous", "library name matches more than one frame library (review a link override)",
                        "library not found in the frame (name and postcode)"))
    return out.loc[ok].reset_index(drop=True), excluded.reset_index(drop=True)


def _library_table(library_weighted: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in LIB_COLUMNS if c not in library_weighted and c != "opening_hours"]
    if missing:
        raise CmlkitError(f"the library weighted table lacks column {missing[0]!r} (is it the output of the weighting step?)")
    lib = library_weighted.drop_duplicates("library_id").copy()
    if "opening_hours" not in lib:
        lib["opening_hours"] = np.nan
    return lib[LIB_COLUMNS].rename(columns={"weight": "library_weight"}).reset_index(drop=True)


def user_weights(users: pd.DataFrame, library_weighted: pd.DataFrame, *, visits_per_month: dict, user_counts: pd.DataFrame | None = None,
                 users_per_hour: float | None = None, default_users_per_hour: float = SPEC_DEFAULTS["users_per_hour_default"],
                 adjust: str = "visits") -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Two-stage user weights (see module docstring).

    Parameters
    ----------
    users : pandas.DataFrame
        Linked user responses (:func:`link_users`): ``response_id, library_id, visit_frequency`` …
    library_weighted : pandas.DataFrame
        The library weighting step's product (``library_id, region, type, cell, N_region, weight``).
    visits_per_month : dict
        ``visit_frequency`` choice -> visits a month.
    user_counts : pandas.DataFrame, optional
        ``library_id, active_users``.
    users_per_hour : float, optional
        Active users per weekly opening hour for libraries without a count (default: the median among
        libraries with one; else ``default_users_per_hour``).
    default_users_per_hour : float, default 10
        The proxy rate when no library reported a count: pass ``users_per_hour_default`` of the research spec
        (:class:`UserSpec`, whose default this is).
    adjust : {"visits", "none"}
        Inverse visit-frequency adjustment within libraries, or equal weights within libraries.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame, dict)
        Weighted users (``weight, library_weight, active_users, visits_per_month, region, type, N_region``),
        the excluded responses (library did not answer the library questionnaire) and a report.
    """
    if adjust not in ADJUSTMENTS:
        raise CmlkitError(f"adjust must be one of {ADJUSTMENTS}, not {adjust!r}")
    lib = _library_table(library_weighted)
    u = users.reset_index(drop=True)
    known = u["library_id"].isin(set(lib["library_id"])).to_numpy()
    excluded = u.loc[~known, [c for c in ("response_id", "library_name") if c in u]].assign(
        link_status="linked", reason="the library did not answer the library questionnaire (no library weight)")
    u = u.loc[known].drop(columns=[c for c in ("region", "type", "cell", "N_region", "weight") if c in u]).reset_index(drop=True)
    u = u.merge(lib, on="library_id", how="left", validate="many_to_one")
    # stage 1: libraries with users stand for their weighting cell's libraries
    with_users = lib["library_id"].isin(set(u["library_id"]))
    cell_total = lib.groupby("cell")["library_weight"].sum()
    cell_users = lib.loc[with_users].groupby("cell")["library_weight"].sum()
    factor = (cell_total / cell_users).reindex(cell_total.index)
    lw = lib["library_weight"] * lib["cell"].map(factor).fillna(0.0)
    lw = lw * lib["library_weight"].sum() / lw.sum()
    u["library_weight"] = u["library_id"].map(dict(zip(lib["library_id"], lw)))
    # stage 2: users within libraries
    m_i = u.groupby("library_id")["response_id"].transform("size").to_numpy(dtype=float)
    counts = None if user_counts is None else user_counts.drop_duplicates("library_id").set_index("library_id")["active_users"]
    reported = u["library_id"].map(counts) if counts is not None else pd.Series(np.nan, index=u.index)
    reported = pd.to_numeric(reported, errors="coerce")
    hours = pd.to_numeric(u["opening_hours"], errors="coerce")
    if users_per_hour is None:
        ratio = (reported / hours).replace([np.inf, -np.inf], np.nan).dropna()
        users_per_hour = float(ratio.median()) if len(ratio) else float(default_users_per_hour)
    proxy = (users_per_hour * hours.fillna(hours.median() if hours.notna().any() else 15)).round()
    active = reported.fillna(proxy)
    u["active_users"] = np.maximum(active.to_numpy(dtype=float), m_i)
    visits = u["visit_frequency"].map(visits_per_month).astype(float)
    fill = float(np.nanmedian(visits)) if visits.notna().any() else 1.0
    u["visits_per_month"] = visits.fillna(fill).to_numpy()
    inv = 1.0 / u["visits_per_month"].to_numpy() if adjust == "visits" else np.ones(len(u))
    base = u["library_weight"].to_numpy() * u["active_users"].to_numpy() / m_i
    # one normalisation over all libraries (not library by library): a library's few forms seldom include a rare
    # visitor, and normalising within it would hand its frequent visitors the rare visitors' share (a small-sample
    # ratio bias towards frequent visitors)
    u["weight"] = base * inv * (base.sum() / (base * inv).sum())
    report = {"adjustment": adjust, "responses_weighted": int(len(u)), "excluded_library_not_weighted": int(len(excluded)),
              "libraries_with_users": int(u["library_id"].nunique()), "libraries_weighted": int(len(lib)),
              "libraries_with_count": int(reported.groupby(u["library_id"]).first().notna().sum()),
              "users_per_hour_proxy": round(users_per_hour, 3), "visit_frequency_missing_filled": int(visits.isna().sum()),
              "visit_frequency_fill": fill, "estimated_users": float(u["weight"].sum())}
    return u, excluded, report


def user_design(weighted_users: pd.DataFrame, *, age_population: pd.DataFrame | dict | None = None, age_column: str = "age_band") -> D.Design:
    """The two-stage design of weighted users, optionally raked to a population age distribution.

    ``age_population`` gives the population by age band (``age_band, users`` rows or a mapping), as counts or
    shares; shares are scaled to the estimated users who gave an age. Users without an age (or "prefer not")
    are a category of their own held at its weighted total.

    Parameters
    ----------
    weighted_users : pandas.DataFrame
        Weighted users (:func:`user_weights`): ``weight, region, library_id, response_id, N_region, active_users``.
    age_population : pandas.DataFrame or dict, optional
        Population by age band (first column band, second count or share); None gives the design unraked.
    age_column : str, default "age_band"
        The users' age band column.

    Returns
    -------
    cmlkit.design.Design
        Strata ``region``, clusters ``library_id`` then ``response_id``, fpc ``N_region`` and ``active_users``,
        lonely PSUs "adjust"; raked on ``age_cal`` when ``age_population`` is given.
    """
    data = weighted_users.reset_index(drop=True)
    des = D.svydesign(data, weights="weight", strata="region", ids=["library_id", "response_id"],
                      fpc=["N_region", "active_users"], lonely_psu="adjust")
    if age_population is None:
        return des
    pop = age_population if isinstance(age_population, dict) else dict(zip(age_population.iloc[:, 0].astype(str), age_population.iloc[:, 1]))
    band = data[age_column].astype("string")
    cal = band.where(band.isin(list(pop)), "unknown").fillna("unknown").astype(str)
    des = D.Design(**{**des.__dict__, "data": data.assign(age_cal=cal.to_numpy())})
    w_unknown = float(des.weights[(cal == "unknown").to_numpy()].sum())
    total = float(sum(pop.values()))
    known_total = float(des.weights.sum()) - w_unknown
    targets = {k: float(v) * (known_total / total if total <= 1.0 + 1e-9 else 1.0) for k, v in pop.items()}
    if w_unknown > 0:
        targets["unknown"] = w_unknown
    return W.rake(des, {"age_cal": targets})


FREE_TEXT = ("comments", "services_used_other", "use_more_other", "library_name", "library_postcode")
EFFECT_COLUMNS = {"sat_overall_score": "Overall satisfaction (1-5)", "sat_overall_satisfied": "Share fairly or very satisfied",
                  "visits_most_days": "Share who visit most days", "aged_65_plus": "Share aged 65 and over (of those who gave an age)"}


def public_columns(weighted_users: pd.DataFrame) -> pd.DataFrame:
    """The weighted users without free text (comments, 'other' answers, typed library names): the public analysis file.

    Parameters
    ----------
    weighted_users : pandas.DataFrame
        Weighted users (:func:`user_weights`).

    Returns
    -------
    pandas.DataFrame
        A copy without the columns of :data:`FREE_TEXT` it holds.
    """
    return weighted_users.drop(columns=[c for c in FREE_TEXT if c in weighted_users])


def accounting(users: pd.DataFrame, weighted_users: pd.DataFrame, excluded: pd.DataFrame) -> pd.DataFrame:
    """Clean user responses in = weighted + excluded (by reason); raises if they do not add up.

    Parameters
    ----------
    users : pandas.DataFrame
        The clean user responses.
    weighted_users : pandas.DataFrame
        The weighted users (:func:`user_weights`).
    excluded : pandas.DataFrame
        The excluded responses, with ``reason`` (:func:`link_users`, :func:`user_weights`).

    Returns
    -------
    pandas.DataFrame
        ``stage, n``: ``clean_responses_in``, ``weighted``, then ``excluded: <reason>`` per reason (sorted).

    Raises
    ------
    CmlkitError
        When the responses in are not the weighted plus the excluded.
    """
    rows = [{"stage": "clean_responses_in", "n": int(len(users))}, {"stage": "weighted", "n": int(len(weighted_users))}]
    rows += [{"stage": f"excluded: {r}", "n": int(n)} for r, n in excluded["reason"].value_counts().sort_index().items()]
    if len(users) != len(weighted_users) + len(excluded):
        raise CmlkitError(f"user rows do not add up: {len(users)} in, {len(weighted_users)} weighted, {len(excluded)} excluded")
    return pd.DataFrame(rows)


def _effect_columns(design: D.Design, spec: dict, inst) -> D.Design:
    ind = UF.derive_indicators(design.data, spec, inst=inst)
    age = design.data["age_band"].astype("string")
    known = age.notna() & (age != "prefer_not")
    ind["visits_most_days"] = (design.data["visit_frequency"].astype("string") == "most_days").astype(float).to_numpy()
    ind["aged_65_plus"] = age.isin(["age65_74", "age75plus"]).astype(float).where(known).to_numpy()
    return UF.with_columns(design, ind)


def weighting_effect(linked: pd.DataFrame, library_weighted: pd.DataFrame, *, spec: dict, inst, user_counts=None,
                     age_population=None) -> pd.DataFrame:
    """The effect of the visit-frequency adjustment (and age raking, when a population is given) on key estimates.

    Rows: each weighting (libraries only, equal weights within a library / inverse visit frequency / the same
    raked to age bands) x indicator, with estimate, SE and 95% interval from the two-stage design.

    Parameters
    ----------
    linked : pandas.DataFrame
        Linked user responses (:func:`link_users`).
    library_weighted : pandas.DataFrame
        The library weighting step's product.
    spec : Mapping
        The user survey specification (:func:`load_spec`): ``visits_per_month`` and ``indicators``.
    inst : Instrument
        The user instrument (choice scores).
    user_counts : pandas.DataFrame, optional
        ``library_id, active_users``.
    age_population : pandas.DataFrame or dict, optional
        Population by age band; adds the raked weighting.

    Returns
    -------
    pandas.DataFrame
        ``weighting, indicator, label, estimate, se, ci_low, ci_high, n``, one row per weighting and
        column of :data:`EFFECT_COLUMNS`.
    """
    kw = {"visits_per_month": spec["visits_per_month"], "user_counts": user_counts}
    plain = user_design(user_weights(linked, library_weighted, adjust="none", **kw)[0])
    visits = user_weights(linked, library_weighted, adjust="visits", **kw)[0]
    designs = {"equal within library (no visit adjustment)": plain, "inverse visit frequency": user_design(visits)}
    if age_population is not None:
        designs["inverse visit frequency, raked to age bands"] = user_design(visits, age_population=age_population)
    rows = []
    for name, des in designs.items():
        des = _effect_columns(des, spec, inst)
        for col, label in EFFECT_COLUMNS.items():
            r = E.mean(des, col)
            rows.append({"weighting": name, "indicator": col, "label": label, "estimate": r["estimate"], "se": r["se"],
                         "ci_low": r["ci_low"], "ci_high": r["ci_high"], "n": r["n"]})
    return pd.DataFrame(rows)
