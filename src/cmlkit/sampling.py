"""Case-study selection: stratified, balanced (cube method), maximum-variation and purposive picks,
with ranked reserves, hard constraints, balance diagnostics and a replacement log.

The criteria are data (``research/case_studies.yml``). Probability methods return each library's
inclusion probability under the design (``pik``): ``n_h / N_h`` in stratum ``h`` with proportional
or Neyman allocation and largest-remainder rounding. The balanced method is the cube method
(Deville & Tillé 2004): a flight phase that moves the inclusion probabilities in the null space of
the balancing equations until (almost) every unit is 0 or 1, then a landing phase that drops
balancing variables from the last one (numeric variables first, then categories, keeping the
stratum sizes and the sample size to the end), as R ``sampling::samplecube(method=2)``. Stratum
sizes enter as balancing variables, so the draw is balanced within strata.

Hard constraints not built into the design (at most one library per authority, at least one per
governance cluster, every region covered) are met by redrawing; the run fails with a message naming
the constraint when no draw meets it within ``max_tries``. Redrawing changes the inclusion
probabilities, so :func:`simulate_inclusion` estimates the achieved ones by repeating the draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# The specification, candidates, allocation, the cube method and the balance table live in their own
# modules; their names stay importable from here.
from cmlkit.allocation import allocate, inclusion_probabilities, largest_remainder  # noqa: F401
from cmlkit.case_balance import balance, balance_summary  # noqa: F401
from cmlkit.case_candidates import balance_matrix, candidates  # noqa: F401
from cmlkit.cube import cube, cube_many
from cmlkit.case_balance import balance_columns as _balance_columns
from cmlkit.errors import SamplingError  # errors live in cmlkit.errors; re-exported here
from cmlkit.progress import track
from cmlkit.sampling_spec import METHODS, SPEC_DEFAULTS, authority_cap, load_spec  # noqa: F401


# --------------------------------------------------------------------------------------------
# Selection methods


def _design_matrix(cands, spec, pik):
    """Cube balancing columns in landing order: size, stratum sizes, categories, numeric variables."""
    cols = [pik]
    strata = pd.get_dummies(cands["stratum"].astype(str), dtype=float).to_numpy()
    cols += [pik * strata[:, j] for j in range(strata.shape[1])]
    num, cat = _balance_columns(cands, spec)
    for c in cat:
        d = pd.get_dummies(cands[c].astype(str), dtype=float).to_numpy()
        cols += [d[:, j] for j in range(d.shape[1])]
    for c in num:
        cols.append(cands[c].to_numpy(dtype=float))
    return np.column_stack(cols)


def _stratified_srs(cands, alloc, rng) -> np.ndarray:
    key = pd.Series(rng.random(len(cands)), index=cands.index)
    rank = key.groupby(cands["stratum"]).rank(method="first")
    return (rank <= cands["stratum"].map(alloc)).to_numpy().astype(int)


def max_variation(cands: pd.DataFrame, spec: dict, n: int, *, alloc: pd.Series | None = None, random_state=None,
                  exclude=()) -> np.ndarray:
    """Maximum-variation selection: greedy farthest-point on the standardised balancing variables.

    Starts from a random candidate, then repeatedly adds the candidate farthest from those already
    chosen (largest minimum Euclidean distance), skipping any that would break ``max_per_authority``
    and, with ``alloc``, any in a stratum whose allocation is used up. Purposive: no inclusion
    probabilities.

    Parameters
    ----------
    cands : pandas.DataFrame
        The candidates.
    spec : dict
        The case-study specification.
    n : int
        The sample size.
    alloc : pandas.Series, optional
        Stratum allocation to respect.
    random_state : int or numpy.random.Generator, optional
    exclude : iterable, default ()
        Library ids never chosen.

    Returns
    -------
    numpy.ndarray of 0/1
        Row-aligned with ``cands``.
    """
    rng = np.random.default_rng(random_state)
    Z = balance_matrix(cands, spec).to_numpy()
    cap = authority_cap(spec)
    auth = cands["authority"].to_numpy()
    chosen: list = []
    allowed = ~cands["library_id"].isin(list(exclude)).to_numpy()
    strata = cands["stratum"].to_numpy()
    quota = alloc.to_dict() if alloc is not None else None
    if quota is not None:
        allowed &= cands["stratum"].map(alloc).fillna(0).to_numpy() > 0
    first = rng.choice(np.flatnonzero(allowed))
    chosen.append(first)
    dmin = np.sqrt(((Z - Z[first]) ** 2).sum(axis=1)) if Z.size else np.zeros(len(cands))
    while len(chosen) < n:
        counts = pd.Series(auth[chosen]).value_counts()
        ok = allowed & ~np.isin(np.arange(len(cands)), chosen) & (pd.Series(auth).map(counts).fillna(0).to_numpy() < cap)
        if quota is not None:
            left = pd.Series(quota).sub(pd.Series(strata[chosen]).value_counts(), fill_value=0)
            ok &= pd.Series(strata).map(left).fillna(0).to_numpy() > 0
        if not ok.any():
            raise SamplingError(f"max_per_authority: only {len(chosen)} libraries can be chosen without exceeding {cap} per authority")
        nxt = int(np.flatnonzero(ok)[np.argmax(dmin[ok])])
        chosen.append(nxt)
        if Z.size:
            dmin = np.minimum(dmin, np.sqrt(((Z - Z[nxt]) ** 2).sum(axis=1)))
    s = np.zeros(len(cands), dtype=int)
    s[chosen] = 1
    return s


def check_constraints(selected: pd.DataFrame, cands: pd.DataFrame, spec: dict) -> list[str]:
    """Names (with details) of the hard constraints a selection breaks; empty when all hold.

    Parameters
    ----------
    selected : pandas.DataFrame
        The chosen rows.
    cands : pandas.DataFrame
        Every candidate.
    spec : dict
        The case-study specification (``constraints``).

    Returns
    -------
    list of str
    """
    cons = spec.get("constraints") or {}
    broken = []
    cap = cons.get("max_per_authority")
    if cap is not None:
        counts = selected["authority"].value_counts()
        if (counts > int(cap)).any():
            broken.append(f"max_per_authority: {int(counts.max())} libraries in {counts.idxmax()} (at most {cap})")
    if cons.get("min_per_cluster") and "cluster" in cands and cands["cluster"].notna().any():
        need = set(cands["cluster"].dropna().unique())
        have = selected["cluster"].dropna().value_counts()
        short = sorted(c for c in need if have.get(c, 0) < int(cons["min_per_cluster"]))
        if short:
            broken.append(f"min_per_cluster: cluster(s) {short} have fewer than {cons['min_per_cluster']} selected")
    reg = cons.get("cover_all_regions_from")
    if reg is not None and len(selected) >= int(reg):
        missing = sorted(set(cands["region"]) - set(selected["region"]))
        if missing:
            broken.append(f"cover_all_regions_from: region(s) {missing} not covered")
    return broken


def feasibility(cands: pd.DataFrame, spec: dict, n: int) -> list[str]:
    """Constraints that no selection of size ``n`` could meet (checked before drawing).

    Parameters
    ----------
    cands : pandas.DataFrame
        The candidates.
    spec : dict
        The case-study specification.
    n : int
        The sample size.

    Returns
    -------
    list of str
        Empty when a selection may exist.
    """
    cons = spec.get("constraints") or {}
    out = []
    if len(cands) < n:
        out.append(f"sample_size: {n} requested but only {len(cands)} eligible libraries")
    cap = cons.get("max_per_authority")
    if cap is not None and cands["authority"].nunique() * int(cap) < n:
        out.append(f"max_per_authority: {cands['authority'].nunique()} authorities x {cap} < sample size {n}")
    if cons.get("min_per_cluster") and "cluster" in cands and cands["cluster"].notna().any():
        k = cands["cluster"].nunique()
        if k * int(cons["min_per_cluster"]) > n:
            out.append(f"min_per_cluster: {k} clusters need {k * int(cons['min_per_cluster'])} libraries, sample size {n}")
    reg = cons.get("cover_all_regions_from")
    if reg is not None and n >= int(reg) and cands["region"].nunique() > n:
        out.append(f"cover_all_regions_from: {cands['region'].nunique()} regions cannot be covered by {n} libraries")
    return out


@dataclass
class Selection:
    """A case-study draw."""

    table: pd.DataFrame            # candidates with selected (0/1), pik, role, reason
    tries: int
    rejected: dict = field(default_factory=dict)   # constraint -> draws that broke it
    warnings: list = field(default_factory=list)


def draw(cands: pd.DataFrame, spec: dict, *, random_state=None) -> Selection:
    """Select the main sample as specified, redrawing until the hard constraints hold.

    Parameters
    ----------
    cands : pandas.DataFrame
        The candidates (:func:`candidates`).
    spec : dict
        The case-study specification.
    random_state : int or numpy.random.Generator, optional
        Default the specification's ``random_state``.

    Returns
    -------
    Selection
        The table, the draw that met the constraints, rejections by constraint, warnings.

    Raises
    ------
    SamplingError
        Naming the constraint when it cannot be met (before drawing when infeasible; after
        ``max_tries`` draws otherwise).
    """
    setup = _draw_setup(cands, spec)
    method, pik = setup["method"], setup["pik"]
    seed = spec.get("random_state", SPEC_DEFAULTS["random_state"]) if random_state is None else random_state
    rng = np.random.default_rng(seed)
    rejected: dict = {}
    for t in range(1, setup["tries"] + 1):
        s = _METHODS[method](setup, cands, spec, rng)
        broken = check_constraints(cands.loc[s == 1], cands, spec)
        if not broken:
            table = cands.assign(selected=s, pik=pik, role=np.where(s == 1, "main", ""),
                                 reason=np.where(s == 1, _reason(method, spec), ""))
            warns = []
            num, cat = _balance_columns(cands, spec)
            asked = (spec.get("balance_on") or {})
            dropped = [c for c in asked.get("numeric", []) + asked.get("categorical", []) if c not in num + cat]
            if dropped:
                warns.append(f"balance_on: {dropped} not used (missing for some candidates or not available)")
            return Selection(table=table, tries=t, rejected=rejected, warnings=warns)
        for b in broken:
            key = b.split(":")[0]
            rejected[key] = rejected.get(key, 0) + 1
    worst = max(rejected, key=rejected.get)
    raise SamplingError(f"constraint {worst} could not be met in {setup['tries']} draws "
                        f"(draws breaking each constraint: {rejected})")


def _draw_setup(cands: pd.DataFrame, spec: dict) -> dict:
    """What every draw of a selection shares: size, method, allocation, inclusion probabilities, cube matrix."""
    n = int(spec["sample_size"])
    bad = feasibility(cands, spec, n)
    if bad:
        raise SamplingError("cannot select case studies: " + "; ".join(bad))
    method = spec.get("method", SPEC_DEFAULTS["method"])
    if method not in _METHODS:
        raise SamplingError(f"unknown selection method {method!r}; use one of {sorted(_METHODS)}")
    alloc = allocate(cands, n, method=spec.get("allocation", SPEC_DEFAULTS["allocation"]), variable=spec.get("neyman_variable"),
                     minimum=int(spec.get("min_per_stratum", SPEC_DEFAULTS["min_per_stratum"])))
    pik = inclusion_probabilities(cands, alloc) if method != "max_variation" else np.full(len(cands), np.nan)
    X = _design_matrix(cands, spec, pik) if method == "balanced" else None
    return {"n": n, "method": method, "alloc": alloc, "pik": pik, "X": X, "tries": int(spec.get("max_tries", SPEC_DEFAULTS["max_tries"]))}


_METHODS = {
    "balanced": lambda setup, cands, spec, rng: cube(setup["pik"], setup["X"], random_state=rng),
    "stratified": lambda setup, cands, spec, rng: _stratified_srs(cands, setup["alloc"], rng),
    "max_variation": lambda setup, cands, spec, rng: max_variation(cands, spec, setup["n"], alloc=setup["alloc"],
                                                                   random_state=rng),
}


def _constraint_test(cands: pd.DataFrame, spec: dict):
    """A vectorised ``s -> bool`` equivalent to ``not check_constraints(cands.loc[s == 1], cands, spec)``."""
    cons = spec.get("constraints") or {}
    tests = []
    cap = cons.get("max_per_authority")
    if cap is not None:
        codes, _ = pd.factorize(cands["authority"])
        tests.append(lambda s, codes=codes, cap=int(cap): np.bincount(codes[(s == 1) & (codes >= 0)], minlength=1).max() <= cap)
    if cons.get("min_per_cluster") and "cluster" in cands and cands["cluster"].notna().any():
        codes, uniques = pd.factorize(cands["cluster"])
        need = int(cons["min_per_cluster"])
        tests.append(lambda s, codes=codes, k=len(uniques), need=need:
                     np.bincount(codes[(s == 1) & (codes >= 0)], minlength=k).min() >= need)
    reg = cons.get("cover_all_regions_from")
    if reg is not None:
        codes, uniques = pd.factorize(cands["region"])
        tests.append(lambda s, codes=codes, k=len(uniques), reg=int(reg):
                     (s == 1).sum() < reg or np.bincount(codes[(s == 1) & (codes >= 0)], minlength=k).min() > 0)
    return lambda s: all(t(s) for t in tests)


def _reason(method, spec):
    strat = ", ".join(spec.get("stratify_by") or []) or "none"
    return {"balanced": f"balanced selection (cube method) within strata ({strat})",
            "stratified": f"stratified random selection ({strat}, {spec.get('allocation', SPEC_DEFAULTS['allocation'])} allocation)",
            "max_variation": "maximum variation on the balancing variables"}[method]


_BLOCK = 250   # draws taken together (the cube's flight phases run in lockstep; progress moves block by block)


def _first_meeting(setup, cands, spec, meets, method, generators) -> list:
    """For each generator, the first sample of ``draw``'s tries that meets the constraints (None if none does).

    Tries go in rounds: every draw's first try, then a second try for the draws whose first broke a
    constraint, and so on; each generator is used exactly as :func:`draw` uses it, so a draw's
    sample does not depend on the others. The balanced method's tries of a round run together.
    """
    found = [None] * len(generators)
    pending = list(range(len(generators)))
    for _try in range(setup["tries"]):
        if not pending:
            break
        gens = [generators[j] for j in pending]
        samples = (cube_many(setup["pik"], setup["X"], gens) if setup["method"] == "balanced"
                   else [method(setup, cands, spec, g) for g in gens])
        still = []
        for j, s in zip(pending, samples):
            if meets(s):
                found[j] = s
            else:
                still.append(j)
        pending = still
    return found


def simulate_inclusion(cands: pd.DataFrame, spec: dict, *, draws: int = 1000, random_state=0) -> np.ndarray:
    """Achieved inclusion probabilities under the whole procedure (draw + redraws), by repetition.

    Each repetition is :func:`draw` with its own seed (taken from ``random_state``), so the result is
    the same as calling :func:`draw` ``draws`` times; what every draw shares (allocation, inclusion
    probabilities, the cube's balancing matrix, the constraint codes) is computed once, the cube
    method's first tries run together (:func:`cmlkit.cube.cube_many`) and the hard constraints are
    checked on arrays. Progress goes through :func:`cmlkit.progress.track`.

    Parameters
    ----------
    cands : pandas.DataFrame
        The candidates.
    spec : dict
        The case-study specification.
    draws : int, default 1000
        Repetitions.
    random_state : int, default 0

    Returns
    -------
    numpy.ndarray
        Share of repetitions choosing each candidate.
    """
    setup = _draw_setup(cands, spec)
    meets = _constraint_test(cands, spec)
    method = _METHODS[setup["method"]]
    rng = np.random.default_rng(random_state)
    seeds = [int(rng.integers(0, 2**31 - 1)) for _ in range(draws)]
    inner = [np.random.default_rng(seed) for seed in seeds]
    counts = np.zeros(len(cands))
    for i in track(range(draws), desc="inclusion-probability draws"):
        if i % _BLOCK == 0:
            block = _first_meeting(setup, cands, spec, meets, method, inner[i:i + _BLOCK])
        if block[i % _BLOCK] is None:
            draw(cands, spec, random_state=seeds[i])   # raises the SamplingError naming the constraint
        counts += block[i % _BLOCK]
    return counts / draws


# --------------------------------------------------------------------------------------------
# Purposive additions and reserves


def purposive(table: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Add typical and deviant cases on the spec's indicator (Seawright & Gerring 2008).

    The indicator is regressed (least squares) on the standardised balancing variables among the
    candidates with a value; the typical case has the smallest absolute residual, the deviant case
    the largest; neither may already be chosen or break ``max_per_authority``.

    Parameters
    ----------
    table : pandas.DataFrame
        The selection table.
    spec : dict
        The case-study specification (``purposive``).

    Returns
    -------
    pandas.DataFrame
        ``table`` with the typical and deviant cases marked.
    """
    cfg = spec.get("purposive") or {}
    ind = (cfg.get("indicator") or {}).get("name")
    table = table.copy()
    if not ind or ind not in table or not (cfg.get("typical") or cfg.get("deviant")):
        return table
    ok = table[ind].notna() & np.isfinite(table[ind].astype(float))
    Z = balance_matrix(table.loc[ok], spec)
    y = np.log1p(table.loc[ok, ind].astype(float).clip(lower=0))
    M = np.column_stack([np.ones(ok.sum()), Z.to_numpy()])
    beta, *_ = np.linalg.lstsq(M, y.to_numpy(), rcond=None)
    fitted = pd.Series(M @ beta, index=y.index)
    resid = (y - fitted).abs()
    cap = authority_cap(spec)
    for role, count, ascending in (("typical", cfg.get("typical", 0), True), ("deviant", cfg.get("deviant", 0), False)):
        for _ in range(int(count)):
            chosen_auth = table.loc[table["selected"] == 1, "authority"].value_counts()
            free = resid.index[(table.loc[resid.index, "selected"] == 0) &
                               (table.loc[resid.index, "authority"].map(chosen_auth).fillna(0) < cap)]
            if len(free) == 0:
                break
            pick = resid.loc[free].sort_values(ascending=ascending, kind="stable").index[0]
            table.loc[pick, ["selected", "role"]] = [1, role]
            table.loc[pick, "reason"] = (f"{role} case: {ind.replace('_', ' ')} {table.loc[pick, ind]:.1f}, "
                                         f"expected {np.expm1(fitted[pick]):.1f} from the balancing variables")
    return table


def add_reserves(table: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Ranked reserves for each chosen library: same stratum, nearest on the balancing variables.

    A library is never a reserve twice nor both chosen and a reserve; reserves that would break
    ``max_per_authority`` if swapped in are skipped. When a stratum runs out, the nearest libraries
    from other strata are used and the reason says so.

    Parameters
    ----------
    table : pandas.DataFrame
        The selection table.
    spec : dict
        The case-study specification (``reserves_per_case``).

    Returns
    -------
    pandas.DataFrame
        ``table`` with ``reserve_for`` and ``reserve_rank``.
    """
    k = int(spec.get("reserves_per_case", SPEC_DEFAULTS["reserves_per_case"]))
    table = table.copy()
    table["reserve_for"] = pd.Series(pd.NA, index=table.index, dtype="string")
    table["reserve_rank"] = pd.Series(pd.NA, index=table.index, dtype="Int64")
    Z = balance_matrix(table, spec).to_numpy()
    cap = authority_cap(spec)
    used = table["selected"].to_numpy() == 1
    chosen_idx = np.flatnonzero(used)
    for i in chosen_idx:
        others = table.loc[used & (np.arange(len(table)) != i), "authority"].value_counts()
        auth_ok = table["authority"].map(others).fillna(0).to_numpy() < cap
        dist = np.sqrt(((Z - Z[i]) ** 2).sum(axis=1)) if Z.size else np.zeros(len(table))
        same = (table["stratum"] == table["stratum"].iloc[i]).to_numpy()
        for rank in range(1, k + 1):
            for pool, note in ((same, "same stratum"), (np.ones(len(table), bool), "nearest outside the stratum")):
                ok = pool & ~used & auth_ok
                if ok.any():
                    j = int(np.flatnonzero(ok)[np.argmin(dist[ok])])
                    used[j] = True
                    table.iloc[j, table.columns.get_loc("role")] = "reserve"
                    table.iloc[j, table.columns.get_loc("reserve_for")] = table["library_id"].iloc[i]
                    table.iloc[j, table.columns.get_loc("reserve_rank")] = rank
                    table.iloc[j, table.columns.get_loc("reason")] = f"reserve {rank} for {table['library_id'].iloc[i]} ({note})"
                    break
    table["status"] = np.where(table["selected"] == 1, "selected", np.where(table["role"] == "reserve", "reserve", ""))
    return table
