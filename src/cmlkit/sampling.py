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

from .case_balance import balance, balance_summary  # noqa: F401  (the balance table lives in cmlkit.case_balance)
from .case_balance import balance_columns as _balance_columns
from .errors import SamplingError  # errors live in cmlkit.errors; re-exported here
from .progress import track
from .research import read_spec

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


# --------------------------------------------------------------------------------------------
# Candidates


def candidates(responses: pd.DataFrame, frame: pd.DataFrame, spec: dict, *, clusters: pd.DataFrame | None = None) -> pd.DataFrame:
    """The libraries a case-study draw chooses from, with strata and balancing variables.

    Parameters
    ----------
    responses : pandas.DataFrame
        Weighted library responses (``library_id``, ``response_id``, survey answers).
    frame : pandas.DataFrame
        In-scope frame rows (``library_id, name, authority, region, type, hours, imd_decile``).
    spec : dict
    clusters : pandas.DataFrame, optional
        Governance membership (``library_id, cluster, cluster_name``).

    Returns
    -------
    pandas.DataFrame
        One row per eligible library: ``library_id, response_id, authority, region, type, cluster,
        cluster_name, stratum`` and the balancing and purposive variables. With ``draw_from:
        respondents`` only respondents who agreed to be contacted (``consent_column``); with
        ``frame`` every in-scope library (survey variables and clusters missing for non-respondents,
        so balancing uses frame variables only). ``attrs["excluded"]`` counts who was left out and why.
    """
    op = next((c for c in ("operation_23", "operation_22", "operation_21", "operation_19", "operation_16") if c in frame), None)
    f = frame[["library_id", "authority", "region", "hours", *(c for c in ("imd_decile",) if c in frame)]].copy()
    f["type"] = frame[op].to_numpy() if op else "unknown"      # governance code (CR/ICL), as in the weighting step
    f = f.rename(columns={"hours": "frame_hours"})
    r = responses.drop(columns=[c for c in ("region", "type", "authority") if c in responses], errors="ignore")
    r = r.loc[r["library_id"].notna()].drop_duplicates("library_id")
    excluded = {}
    if spec.get("draw_from", SPEC_DEFAULTS["draw_from"]) == "respondents":
        out = r.merge(f, on="library_id", how="inner", validate="one_to_one")
        cons = spec.get("constraints", {})
        col = cons.get("consent_column")
        if col:
            if col not in out:
                raise SamplingError(f"consent column {col!r} is not in the responses")
            ok = out[col].astype("string") == str(cons.get("consent_value", "yes"))
            excluded["did not agree to be contacted"] = int((~ok.fillna(False)).sum())
            out = out.loc[ok.fillna(False).to_numpy()]
    else:
        out = f.merge(r, on="library_id", how="left", validate="one_to_one")
    if "opening_hours" not in out or out["opening_hours"].isna().all():
        out["opening_hours"] = out["frame_hours"]
    out["opening_hours"] = out["opening_hours"].fillna(out["frame_hours"])
    if clusters is not None:
        out = out.merge(clusters[["library_id", "cluster", "cluster_name"]], on="library_id", how="left")
    strat = list(spec.get("stratify_by") or [])
    missing = [c for c in strat if c not in out]
    if missing:
        raise SamplingError(f"stratify_by: column(s) {missing} not available for the candidates")
    out["stratum"] = out[strat].astype(str).agg(" | ".join, axis=1) if strat else "all"
    ind = (spec.get("purposive") or {}).get("indicator")
    if ind and {"numerator", "denominator"} <= set(ind) and ind["numerator"] in out and ind["denominator"] in out:
        den = pd.to_numeric(out[ind["denominator"]], errors="coerce")
        out[ind["name"]] = pd.to_numeric(out[ind["numerator"]], errors="coerce") / den.where(den > 0) * float(ind.get("multiplier", 1))
    out = out.sort_values("library_id", kind="stable").reset_index(drop=True)
    out.attrs["excluded"] = excluded
    return out


def balance_matrix(cands: pd.DataFrame, spec: dict, *, standardise: bool = True) -> pd.DataFrame:
    """Balancing variables as numbers: numeric columns (z-scores) and category indicator columns.

    Variables with missing values among the candidates are left out (e.g. survey variables when
    drawing from the whole frame).
    """
    num, cat = _balance_columns(cands, spec)
    parts = []
    if num:
        x = cands[num].astype(float)
        parts.append((x - x.mean()) / x.std(ddof=0).replace(0, 1) if standardise else x)
    for c in cat:
        parts.append(pd.get_dummies(cands[c].astype(str), prefix=c, dtype=float))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=cands.index)


# --------------------------------------------------------------------------------------------
# Allocation and inclusion probabilities


def largest_remainder(quotas: pd.Series, n: int, *, minimum: int = 0, caps: pd.Series | None = None) -> pd.Series:
    """Round real quotas to integers summing to ``n`` (Hamilton's largest-remainder rule).

    With ``minimum``, every stratum first gets the minimum (never above its cap) and the rest of
    the sample is shared in proportion to how far each quota exceeds it. Each stratum then gets the
    floor of its quota and the remaining units go to the largest remainders, ties broken by
    stratum name.
    """
    caps = caps if caps is not None else pd.Series(np.inf, index=quotas.index)
    floor_min = np.minimum(minimum, caps)
    if floor_min.sum() > n:
        raise SamplingError(f"min_per_stratum: {len(quotas)} strata need at least {int(floor_min.sum())} libraries, "
                            f"more than the sample size {n}")
    if minimum > 0:
        # the minimum first, then the rest in proportion to what each stratum's quota exceeds it by
        extra = (quotas - floor_min).clip(lower=0)
        rest = n - floor_min.sum()
        quotas = floor_min + (extra * rest / extra.sum() if extra.sum() > 0 else 0)
    base = np.minimum(np.maximum(np.floor(quotas + 1e-9), floor_min), caps).astype(int)
    rem = (quotas - np.floor(quotas)).where(base < caps, -np.inf)
    order = sorted(quotas.index, key=lambda h: (-rem[h], str(h)))
    left = n - int(base.sum())
    while left > 0:
        progressed = False
        for h in order:
            if left and base[h] < caps[h]:
                base[h] += 1
                left -= 1
                progressed = True
        if not progressed:
            raise SamplingError(f"sample_size {n} is larger than the {int(caps.sum())} eligible libraries")
    return base.astype(int)


def allocate(cands: pd.DataFrame, n: int, *, method: str = "proportional", variable: str | None = None,
             minimum: int = 1) -> pd.Series:
    """Stratum sample sizes: proportional (``N_h``) or Neyman (``N_h S_h``), largest-remainder rounding.

    ``minimum`` applies only when ``n`` is at least the number of strata.
    """
    sizes = cands.groupby("stratum").size()
    if method == "neyman":
        if not variable or variable not in cands:
            raise SamplingError("allocation: neyman needs neyman_variable, a numeric column of the candidates")
        sd = cands.groupby("stratum")[variable].std(ddof=1).fillna(0)
        share = sizes * sd
        share = share if share.sum() > 0 else sizes.astype(float)
    else:
        share = sizes.astype(float)
    quotas = n * share / share.sum()
    minimum = minimum if n >= len(sizes) else 0
    return largest_remainder(quotas, n, minimum=min(minimum, 1), caps=sizes)


def inclusion_probabilities(cands: pd.DataFrame, alloc: pd.Series) -> np.ndarray:
    """``n_h / N_h`` for each candidate (the design's first-order inclusion probabilities)."""
    sizes = cands.groupby("stratum").size()
    return (cands["stratum"].map(alloc) / cands["stratum"].map(sizes)).to_numpy(dtype=float)


# --------------------------------------------------------------------------------------------
# Selection methods


def cube(pik, X, *, random_state=None, eps: float = 1e-9) -> np.ndarray:
    """Balanced sample by the cube method (fast flight phase, landing by dropping variables).

    Parameters
    ----------
    pik : array of float
        Inclusion probabilities (sum = sample size).
    X : array (N x p)
        Balancing variables in order of importance: the landing phase drops them from the last.
        The Horvitz-Thompson totals of these columns equal their population totals for a sample
        that lands exactly.
    random_state : int or numpy.random.Generator

    Returns
    -------
    numpy.ndarray of 0/1
    """
    rng = np.random.default_rng(random_state)
    pik = np.asarray(pik, dtype=float).copy()
    X = np.asarray(X, dtype=float)
    N = len(pik)
    perm = rng.permutation(N)
    pi = pik[perm]
    A = np.where(pi[:, None] > 0, X[perm] / np.where(pi > 0, pi, 1)[:, None], 0.0)
    p = A.shape[1]
    # only the p + 1 units moved in a step can leave (0, 1): keep the live units instead of rescanning all N
    live = np.flatnonzero((pi > eps) & (pi < 1 - eps))
    for _ in range(4 * N + 10):
        if len(live) == 0:
            break
        p = min(p, len(live) - 1)
        if p == 0:
            j = live[0]
            pi[j] = float(rng.random() < pi[j])
            live = live[1:]
            continue
        sub = live[:p + 1]
        ps = pi[sub]
        u = np.linalg.svd(A[sub, :p].T)[2][-1]
        pos, neg = u > eps, u < -eps
        upos, uneg = u[pos], -u[neg]
        l1 = min(((1 - ps[pos]) / upos).min(initial=np.inf), (ps[neg] / uneg).min(initial=np.inf))
        l2 = min((ps[pos] / upos).min(initial=np.inf), ((1 - ps[neg]) / uneg).min(initial=np.inf))
        if not (np.isfinite(l1) and np.isfinite(l2)):
            p -= 1
            continue
        ps = ps + l1 * u if rng.random() < l2 / (l1 + l2) else ps - l2 * u
        ps[np.abs(ps) < eps] = 0.0
        ps[np.abs(ps - 1) < eps] = 1.0
        pi[sub] = ps
        live = np.concatenate([sub[(ps > eps) & (ps < 1 - eps)], live[p + 1:]])
    s = np.zeros(N)
    s[perm] = np.round(pi)
    return s.astype(int)


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
    """Names (with details) of the hard constraints a selection breaks; empty when all hold."""
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
    """Constraints that no selection of size ``n`` could meet (checked before drawing)."""
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
            "stratified": f"stratified random selection ({strat}, {spec.get('allocation', 'proportional')} allocation)",
            "max_variation": "maximum variation on the balancing variables"}[method]


def simulate_inclusion(cands: pd.DataFrame, spec: dict, *, draws: int = 1000, random_state=0) -> np.ndarray:
    """Achieved inclusion probabilities under the whole procedure (draw + redraws), by repetition.

    Each repetition is :func:`draw` with its own seed (taken from ``random_state``), so the result is
    the same as calling :func:`draw` ``draws`` times; what every draw shares (allocation, inclusion
    probabilities, the cube's balancing matrix, the constraint codes) is computed once and the hard
    constraints are checked on arrays. Progress goes through :func:`cmlkit.progress.track`.
    """
    setup = _draw_setup(cands, spec)
    meets = _constraint_test(cands, spec)
    method = _METHODS[setup["method"]]
    counts = np.zeros(len(cands))
    rng = np.random.default_rng(random_state)
    for _ in track(range(draws), desc="inclusion-probability draws"):
        seed = int(rng.integers(0, 2**31 - 1))
        inner = np.random.default_rng(seed)
        for _try in range(setup["tries"]):
            s = method(setup, cands, spec, inner)
            if meets(s):
                counts += s
                break
        else:
            draw(cands, spec, random_state=seed)   # raises the SamplingError naming the constraint
    return counts / draws


# --------------------------------------------------------------------------------------------
# Purposive additions and reserves


def purposive(table: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Add typical and deviant cases on the spec's indicator (Seawright & Gerring 2008).

    The indicator is regressed (least squares) on the standardised balancing variables among the
    candidates with a value; the typical case has the smallest absolute residual, the deviant case
    the largest; neither may already be chosen or break ``max_per_authority``.
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


# --------------------------------------------------------------------------------------------
# Diagnostics, outputs, replacement


PUBLIC_COLUMNS = ["library_id", "role", "status", "stratum", "cluster", "cluster_name", "region", "type", "pik",
                  "reason", "reserve_for", "reserve_rank"]


def public_table(table: pd.DataFrame) -> pd.DataFrame:
    """The public sampling-frame table: chosen libraries and reserves, no names or contact details."""
    t = table.loc[table["status"].isin(["selected", "reserve", "declined"]) | (table["role"] != "")]
    cols = [c for c in PUBLIC_COLUMNS if c in t]
    order = {"main": 0, "typical": 1, "deviant": 2, "reserve": 3}
    return t[cols].assign(_o=t["role"].map(order)).sort_values(["_o", "reserve_for", "reserve_rank", "library_id"],
                                                               kind="stable", na_position="first").drop(columns="_o").reset_index(drop=True)


def fieldwork_sheet(table: pd.DataFrame, frame: pd.DataFrame, contacts: pd.DataFrame | None) -> pd.DataFrame:
    """The private fieldwork sheet: who to contact for each chosen library and reserve."""
    t = public_table(table).merge(table[["library_id", "response_id", "authority"]], on="library_id", how="left")
    t = t.merge(frame[["library_id", "name", "postcode"]].rename(columns={"name": "library_name"}), on="library_id", how="left")
    if contacts is not None and "response_id" in t:
        t = t.merge(contacts, on="response_id", how="left")
    return t


def slot_of(table: pd.DataFrame, library_id: str) -> str:
    """The library a case-study *slot* was drawn for: itself, or, for a reserve brought in, the library it is a reserve for."""
    row = table.loc[table["library_id"].astype(str) == str(library_id)]
    slot = row["reserve_for"].iloc[0] if "reserve_for" in row and len(row) else pd.NA
    return str(library_id) if pd.isna(slot) else str(slot)


REPLACEMENT_LOG_COLUMNS = ("date", "declined", "reason", "slot", "replaced_by", "reserve_rank", "pik_declined",
                           "pik_replacement", "skipped")
"""The columns of the replacement log (``replacements.csv``), one row per :func:`replace`."""


def replace(table: pd.DataFrame, library_id: str, *, reason: str, spec: dict, date: str) -> tuple[pd.DataFrame, dict]:
    """Record that a chosen library declined and bring in the next unused reserve of its slot.

    A slot is the library drawn and its ranked reserves. When a replacement declines too, the next
    unused reserve *of the same slot* comes in (reserves of other slots are never taken). A reserve
    must still be a reserve (never reused) and the achieved sample with it must keep the hard
    constraints; reserves that would break one are skipped and named in the log. A replacement keeps
    its own inclusion probability (``pik``): the log records it beside the declined library's.

    Returns
    -------
    (table, log_row)
        ``log_row``: ``date, declined, reason, slot, replaced_by, reserve_rank, pik_declined,
        pik_replacement, skipped``.

    Raises
    ------
    SamplingError
        When the library is not currently selected, or no unused reserve of its slot keeps the constraints.
    """
    t = table.copy()
    ids = t["library_id"].astype(str)
    hit = ids == str(library_id)
    if not hit.any():
        raise SamplingError(f"library {library_id!r} is not in the selection table")
    if t.loc[hit, "status"].iloc[0] != "selected":
        raise SamplingError(f"library {library_id!r} is not currently selected (status {t.loc[hit, 'status'].iloc[0]!r})")
    t.loc[hit, "status"] = "declined"
    slot = slot_of(t, library_id)
    cands = t.loc[t["reserve_for"].astype("string") == slot].sort_values("reserve_rank")
    skipped = []
    pool = t  # constraints are judged against every candidate, as at the draw
    for j, row in cands.iterrows():
        if row["status"] != "reserve":
            continue
        trial = t.loc[t["status"] == "selected"]
        trial = pd.concat([trial, t.loc[[j]]])
        broken = check_constraints(trial, pool, spec)
        if broken:
            skipped.append(f"{row['library_id']} ({'; '.join(broken)})")
            continue
        t.loc[j, "status"] = "selected"
        t.loc[j, "reason"] = f"replacement for {library_id} ({reason}); slot of {slot}"
        pik = t["pik"] if "pik" in t else pd.Series(np.nan, index=t.index)
        log = dict(zip(REPLACEMENT_LOG_COLUMNS, (date, str(library_id), reason, slot, row["library_id"], int(row["reserve_rank"]),
                                                float(pik[hit].iloc[0]), float(pik[j]), "; ".join(skipped))))
        return t, log
    used = cands.loc[cands["status"] != "reserve", "library_id"].astype(str).tolist()
    raise SamplingError(f"no unused reserve of the slot of {slot!r} keeps the constraints"
                        + (f": {'; '.join(skipped)}" if skipped else "")
                        + (f" (reserves already used or declined: {', '.join(used)})" if used else "")
                        + ("" if len(cands) else " (the slot has no reserves)"))
