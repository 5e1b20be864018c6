"""A later synthetic wave from the same synthetic population a year on, with planted changes and ground truth.

:func:`make_panel_wave` reads a wave written by ``cmlkit synth`` (its frame and the true state of every
in-scope library) and writes the next wave under ``out_dir`` in the same layout as :func:`cmlkit.synthetic.wave.make_wave`,
plus::

    truth/frame_changes.csv     libraries that closed, left community management or transferred in
    truth/change_truth.csv      true finite-population value of every headline indicator in each wave and the change
                                (overall, by type and by region), on the coding comparable across the two waves
    truth/planted.json          the changes planted and where

The frame moves a year on at the frame's own year-to-year transition rates (its last two ``operation_YY``
columns: closures, returns to council management, transfers to community management), floored at small
defaults so that every kind occurs. Libraries in both waves keep their answers apart from a little
year-on noise and the planted changes; new community libraries are simulated afresh. Libraries that answered
before answer again more often (a panel), others less. Answers are written in the later instrument's layout
through its reviewed crosswalk (renamed questions, merged or added choices, a finer scale, new questions).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit import crosswalk as CW
from cmlkit import indicators as IND
from cmlkit import synthetic as syn
from cmlkit.synthetic import wave as SW
from cmlkit import waves
from cmlkit.platforms import PLATFORMS

COMMUNITY = ("CR", "ICL")
# Floors for the yearly transition rates (the frame's own rates are used when larger).
MIN_RATES = {"closed": 0.02, "council": 0.015, "transfer_in": 0.01}
PLANTED = {
    "paid_coordinator": {"indicator": "paid_coordinator", "change": 0.05,
                         "what": "share of libraries with a paid coordinator up 5 points (libraries switch to a paid coordinator)"},
    "reserves_region": {"indicator": "months_of_reserves", "factor": 0.6,
                        "what": "reserves down 40% in the region with most community libraries"},
}
_REL_SELECTED = re.compile(r"selected\(\$\{(\w+)\},\s*'(\w+)'\)")
_REL_EQUALS = re.compile(r"\$\{(\w+)\}\s*=\s*'(\w+)'")


def transition_rates(frame: pd.DataFrame) -> dict:
    """Yearly rates of closure, return to council and transfer into community management.

    Read from the frame's last two ``operation_YY`` columns (annualised over the gap), floored at
    :data:`MIN_RATES`.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame with at least two ``operation_YY`` columns.

    Returns
    -------
    dict
        Change -> yearly rate.
    """
    cols = sorted(c for c in frame.columns if re.fullmatch(r"operation_\d\d", c))
    rates = dict(MIN_RATES)
    if len(cols) >= 2:
        before, after = frame[cols[-2]], frame[cols[-1]]
        years = max(int(cols[-1][-2:]) - int(cols[-2][-2:]), 1)
        com = before.isin(COMMUNITY)
        if com.any():
            rates["closed"] = max(rates["closed"], float((after[com] == "Closed").mean()) / years)
            rates["council"] = max(rates["council"], float(after[com].isin(["LA", "C", "LAU"]).mean()) / years)
        la = before == "LA"
        if la.any():
            rates["transfer_in"] = max(rates["transfer_in"], float(after[la].isin(COMMUNITY).mean()) / years)
    return rates


def advance_frame(frame: pd.DataFrame, *, wave_year: int, rates: dict, random_state=0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frame a year on and the list of libraries whose governance changed.

    Parameters
    ----------
    frame : pandas.DataFrame
        The earlier frame.
    wave_year : int
        The later wave's year.
    rates : dict
        :func:`transition_rates` output.
    random_state : int, default 0

    Returns
    -------
    (frame, changes) : the new frame (its latest ``operation_YY`` column updated) and one row per changed
        library: ``library_id, before, after, change`` (``closed``, ``changed_governance``, ``transferred_in``).
    """
    rng = np.random.default_rng(random_state)
    col = syn.latest_operation_column(frame)
    f = frame.copy()
    cur = f[col].to_numpy(dtype=object)
    u = rng.random(len(f))
    com = np.isin(cur, COMMUNITY)
    closes = com & (u < rates["closed"])
    council = com & ~closes & (u < rates["closed"] + rates["council"])
    transfer = (cur == "LA") & (u < rates["transfer_in"])
    new = np.where(closes, "Closed", np.where(council, "LA", np.where(transfer, "CR", cur)))
    f[col] = new
    if "closed" in f:
        f["closed"] = pd.array(np.where(closes, wave_year - 1, f["closed"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)),
                               dtype="Float64").round().astype("Int64")
    if "year_community_run" in f:
        f["year_community_run"] = f["year_community_run"].astype("Int64").mask(transfer, wave_year - 1)
    kind = np.select([closes, council, transfer], ["closed", "changed_governance", "transferred_in"], "")
    changed = kind != ""
    changes = pd.DataFrame({"library_id": f["library_id"].to_numpy()[changed], "before": cur[changed],
                            "after": new[changed], "change": kind[changed]})
    return f, changes


def _step_choice(values: pd.Series, names: list, u: np.ndarray, p: float) -> pd.Series:
    """Move an ordered answer one step up or down with probability ``p`` (within the list)."""
    pos = values.map({n: i for i, n in enumerate(names)})
    step = np.where(u < p / 2, -1, np.where(u < p, 1, 0))
    new = (pos + step).clip(0, len(names) - 1)
    return pd.Series(np.where(pos.notna(), np.array(names, dtype=object)[new.fillna(0).astype(int)], values), index=values.index)


def advance_population(prev: pd.DataFrame, scope: pd.DataFrame, *, inst, wave_year: int, governance_signal: float = 1.0,
                       planted: dict = PLANTED, random_state=0) -> tuple[pd.DataFrame, dict]:
    """True state of every in-scope library a year on (canonical variables in the earlier instrument's coding).

    Libraries in both waves keep their answers with year-on noise (reserves, confidence); new ones are
    simulated; the changes in ``planted`` are applied to everyone in scope. Returns the population and a
    description of what was planted where.

    Parameters
    ----------
    prev : pandas.DataFrame
        The earlier wave's true population.
    scope : pandas.DataFrame
        The later wave's in-scope frame.
    inst : Instrument
        The earlier instrument version (the coding).
    wave_year : int
    governance_signal : float, default 1.0
    planted : dict
        The changes to plant.
    random_state : int, default 0

    Returns
    -------
    (population, planted) : (pandas.DataFrame, dict)
    """
    rng = np.random.default_rng(random_state)
    keep = prev.loc[prev["library_id"].isin(scope["library_id"])].drop(columns=["response_propensity", "responded"], errors="ignore")
    new_scope = scope.loc[~scope["library_id"].isin(prev["library_id"])].reset_index(drop=True)
    code = scope.set_index("library_id")[syn.latest_operation_column(scope)]
    parts = [keep.assign(frame_code=keep["library_id"].map(code))]
    if len(new_scope):
        parts.append(syn.simulate_libraries(new_scope, governance_signal=governance_signal, wave_year=wave_year, random_state=rng))
    pop = pd.concat(parts, ignore_index=True).sort_values("library_id", kind="stable").reset_index(drop=True)
    old = pop["library_id"].isin(keep["library_id"]).to_numpy()
    n = len(pop)
    # year-on noise for libraries seen before
    noise = rng.lognormal(0, 0.15, n)
    pop["reserves"] = np.where(old, np.round(pop["reserves"].astype(float) * noise, -1), pop["reserves"])
    conf = [c["name"] for c in inst.canonical_choices("conf_1yr")]
    for col in ("conf_1yr", "conf_3yr", "conf_5yr"):
        moved = _step_choice(pop[col], conf, rng.random(n), 0.2)
        pop[col] = np.where(old, moved, pop[col])
    where = {}
    spec = planted.get("paid_coordinator")
    if spec:
        answered = pop["paid_staff"].notna().to_numpy()
        cand = np.flatnonzero(answered & (pop["paid_staff"] != "paid_coordinator").to_numpy())
        k = min(len(cand), int(round(spec["change"] * answered.sum())))
        pick = rng.choice(cand, k, replace=False) if k else np.array([], dtype=int)
        was_none = pick[pop["paid_staff"].to_numpy()[pick] == "none"]
        pop.loc[pick, "paid_staff"] = "paid_coordinator"
        pop.loc[was_none, "paid_staff_hours"] = np.round(rng.uniform(8, 25, len(was_none)))
        where["paid_coordinator"] = {**spec, "libraries_switched": int(k)}
    spec = planted.get("reserves_region")
    if spec:
        region = pop["region"].value_counts().sort_index().idxmax()
        in_region = (pop["region"] == region).to_numpy()
        pop.loc[in_region, "reserves"] = np.round(pop.loc[in_region, "reserves"].astype(float) * spec["factor"], -1)
        where["reserves_region"] = {**spec, "region": region, "libraries": int(in_region.sum())}
    pop["true_months_reserves"] = pop["reserves"] / np.maximum(pop["expenditure_total"].astype(float) / 12, 1)
    pop["true_share_paid_coordinator"] = (pop["paid_staff"] == "paid_coordinator").astype(float)
    return pop, where


def panel_propensity(scope: pd.DataFrame, pop: pd.DataFrame, before: pd.Series, *, response_rate: float = 0.5,
                     random_state=0) -> np.ndarray:
    """Response propensity a year on: previous respondents +0.25 (at most 0.95), previous non-respondents x0.7,
    libraries new to scope at the base propensity (:func:`cmlkit.synthetic.response_propensity`).

    Parameters
    ----------
    scope : pandas.DataFrame
        The later wave's in-scope frame.
    pop : pandas.DataFrame
        Its true population.
    before : pandas.Series
        Whether each library responded in the earlier wave.
    response_rate : float, default 0.5
    random_state : int, default 0

    Returns
    -------
    numpy.ndarray
    """
    base = syn.response_propensity(scope.set_index("library_id").loc[pop["library_id"]].reset_index(),
                                   random_state=random_state, target=response_rate)
    b = pd.Series(before).astype("boolean")
    return np.where(b.fillna(False), np.minimum(0.95, base + 0.25), np.where(b.isna(), base, 0.7 * base))


def _simulate_new(q: dict, out: pd.DataFrame, inst, rng) -> pd.Series:
    """Answers to a question new in this version, given where its skip logic allows one."""
    n = len(out)
    ask = np.ones(n, dtype=bool)
    rel = q["relevant"] or ""
    m = _REL_SELECTED.fullmatch(rel.strip()) or _REL_EQUALS.fullmatch(rel.strip())
    if m:
        ref = inst.question(m.group(1))["canonical"]
        col = f"{ref}__{m.group(2)}" if rel.strip().startswith("selected") else ref
        ask = (out[col].astype("string") == ("1" if rel.strip().startswith("selected") else m.group(2))).fillna(False).to_numpy()
    if q["type"] in ("integer", "decimal"):
        c = q["constraint"] or {}
        lo, hi = float(c.get("min", 0)), float(c.get("max", 100))
        v = np.clip(np.round(rng.lognormal(np.log(max(1.0, (hi - lo) / 40)), 0.7, n)), lo, hi)
    elif q["type"] == "select_one":
        names = [x for x in inst.choice_names(q["id"]) if x != "other"]
        v = rng.choice(np.array(names, dtype=object), n)
    else:
        v = np.full(n, None, dtype=object)
    return pd.Series(np.where(ask, v, None if q["type"] not in ("integer", "decimal") else np.nan), index=out.index)


def to_layout(truth: pd.DataFrame, inst_a, inst_b, cw: pd.DataFrame, *, new_choice_share: float = 0.3,
              random_state=0) -> pd.DataFrame:
    """True answers coded as in ``inst_a`` re-expressed in the layout and coding of ``inst_b``.

    Uses the reviewed crosswalk ``cw`` (see :mod:`cmlkit.crosswalk`): choices merged in ``inst_b`` are the
    maximum of their sources; a finer scale splits an answer at random among the values mapped to it; a
    choice added to a multi-select is ticked with probability ``new_choice_share``; a new select_one choice
    takes a twentieth of the answers; a new question is simulated where its skip logic asks it; a dropped
    question is left out. Columns stay keyed by canonical variable.

    Parameters
    ----------
    truth : pandas.DataFrame
        True answers in ``inst_a``'s coding.
    inst_a, inst_b : Instrument
        The two versions.
    cw : pandas.DataFrame
        Their reviewed crosswalk.
    new_choice_share : float, default 0.3
    random_state : int, default 0

    Returns
    -------
    pandas.DataFrame
    """
    rng = np.random.default_rng(random_state)
    rows = cw.set_index("canonical")
    out = truth.copy()
    known_a = {q["canonical"] for q in inst_a.questions}
    for q in inst_b.questions:
        c = q["canonical"]
        if c not in known_a:
            out[c] = _simulate_new(q, out, inst_b, rng)
            continue
        if not q["type"].startswith("select"):
            continue
        vm = CW.parse_value_map(rows.loc[c, "value_map"] if c in rows.index else "")
        m_a, m_b = vm.get(inst_a.version, {}), vm.get(inst_b.version, {})
        names_a = [x["name"] for x in inst_a.canonical_choices(c)]
        names_b = inst_b.choice_names(q["id"])
        if q["type"] == "select_multiple":
            for nb in names_b:
                col = f"{c}__{nb}"
                src = [f"{c}__{x}" for x, t in m_a.items() if t == nb]
                if src:
                    out[col] = out[src].max(axis=1)
                elif nb in names_a:
                    continue
                elif m_b.get(nb) in names_a:
                    out[col] = out[f"{c}__{m_b[nb]}"] * (rng.random(len(out)) < 0.5)
                else:
                    out[col] = (rng.random(len(out)) < new_choice_share).astype(int)
            out = out.drop(columns=[f"{c}__{x}" for x in names_a if x not in names_b])
        else:
            v = out[c].astype(object)
            res = v.where(v.isin(names_b))
            for va in [x for x in names_a if x not in names_b]:
                finer = [nb for nb in names_b if m_b.get(nb) == va]
                hit = (v == va).to_numpy()
                if finer:
                    res[hit] = rng.choice(np.array(finer, dtype=object), hit.sum())
                elif m_a.get(va) in names_b:
                    res[hit] = m_a[va]
            fresh = [nb for nb in names_b if nb not in names_a and nb not in m_b and nb != "dont_know"]
            for nb in fresh:
                res[(res.notna() & (rng.random(len(out)) < 0.05)).to_numpy()] = nb
            out[c] = res
    dropped = [q["canonical"] for q in inst_a.questions if q["canonical"] not in {x["canonical"] for x in inst_b.questions}]
    return out.drop(columns=[d for d in dropped if d in out])


def change_truth(pop_a: pd.DataFrame, pop_b: pd.DataFrame, *, inst_a, inst_b, spec: dict | None = None,
                 by=("frame_code", "region")) -> pd.DataFrame:
    """True value of every headline indicator in both waves' populations and the change.

    Both populations are in the earlier instrument's coding; a choice count is taken over the choices common to
    the two versions. Columns: ``indicator, breakdown, domain, truth_a, truth_b, change`` (finite-population means
    over in-scope libraries with a value).

    Parameters
    ----------
    pop_a, pop_b : pandas.DataFrame
        The two populations.
    inst_a, inst_b : Instrument
    spec : dict, optional
        The indicator specification.
    by : tuple of str, default ("frame_code", "region")

    Returns
    -------
    pandas.DataFrame
    """
    spec = spec or IND.load_spec()
    spec = {"indicators": {k: {**v, "derive": comparable_derive(v["derive"], inst_a, inst_b)} for k, v in spec["indicators"].items()}}
    rows = []
    vals = [IND.compute(p, spec, inst=inst_a) for p in (pop_a, pop_b)]
    for name in spec["indicators"]:
        for breakdown in ("overall", *by):
            ga = pop_a[breakdown] if breakdown != "overall" else pd.Series("all", index=pop_a.index)
            gb = pop_b[breakdown] if breakdown != "overall" else pd.Series("all", index=pop_b.index)
            ta, tb = vals[0][name].groupby(ga).mean(), vals[1][name].groupby(gb).mean()
            for dom in sorted(set(ta.index) | set(tb.index)):
                rows.append({"indicator": name, "breakdown": "type" if breakdown == "frame_code" else breakdown,
                             "domain": dom, "truth_a": ta.get(dom, np.nan), "truth_b": tb.get(dom, np.nan)})
    out = pd.DataFrame(rows)
    out["change"] = out["truth_b"] - out["truth_a"]
    return out


def comparable_derive(d: dict, inst_a, inst_b) -> dict:
    """A derivation on the basis comparable across two versions (a choice count over the common choices).

    Parameters
    ----------
    d : dict
        A derivation.
    inst_a, inst_b : Instrument

    Returns
    -------
    dict
    """
    if "count_choices" not in d:
        return d
    b = set(IND.choice_items(d, inst_b))
    return {**d, "items": [x for x in IND.choice_items(d, inst_a) if x in b]}


def make_panel_wave(out_dir, previous, *, wave: str, seed: int = 0, response_rate: float = 0.5,
                    governance_signal: float = 1.0, volunteers_per_library=(3, 10), platforms=PLATFORMS,
                    inject: bool = True, planted: dict = PLANTED) -> dict:
    """Write wave ``wave`` of the synthetic population of the wave in ``previous`` (a ``cmlkit synth`` folder).

    Parameters
    ----------
    out_dir : path-like
        Destination folder (created).
    previous : path-like
        Folder of the previous synthetic wave (its ``frame.csv``, ``truth/library_population.csv``,
        ``manifest.json``).
    wave : str
        The new wave id; must come after the previous wave and have instruments on disk and reviewed
        crosswalks from the previous wave's versions.
    seed : int
        Master seed (the same seed and previous wave write byte-identical files).
    response_rate : float
        Mean response propensity of libraries new to the panel (previous respondents answer more often).

    Returns
    -------
    dict
        The manifest (also written as ``manifest.json``).
    """
    prev_dir, out = Path(previous), Path(out_dir)
    try:
        prev_manifest = json.loads((prev_dir / "manifest.json").read_text(encoding="utf-8"))
        prev_frame = pd.read_csv(prev_dir / "frame.csv", dtype={"postcode": str})
        prev_pop = pd.read_csv(prev_dir / "truth" / "library_population.csv", low_memory=False)
    except (OSError, ValueError) as exc:
        raise waves.WaveError(f"{prev_dir}: not a synthetic wave folder written by cmlkit synth ({exc})") from None
    prev_wave = prev_manifest["wave"]
    waves.check_order([prev_wave, wave])
    insts_a, insts_b = waves.instruments_by_unit(prev_wave), waves.instruments_by_unit(wave)
    insts_b = {u: i for u, i in insts_b.items() if u in SW.UNITS and u in insts_a}
    cws = {u: CW.read_crosswalk(CW.crosswalk_path(waves.instrument_folder(i.instrument), prev_wave, wave)) for u, i in insts_b.items()}
    year = waves.wave_year(wave)
    ss = np.random.SeedSequence([seed, *waves.parse_wave(wave)])
    r_frame, r_pop, r_resp, r_vol, r_lay, r_raw_l, r_raw_v, r_inj_l, r_inj_v = (np.random.default_rng(s) for s in ss.spawn(9))
    frame, changes = advance_frame(prev_frame, wave_year=year, rates=transition_rates(prev_frame), random_state=r_frame)
    scope = syn.in_scope(frame)
    pop, where = advance_population(prev_pop, scope, inst=insts_a["library"], wave_year=year,
                                    governance_signal=governance_signal, planted=planted, random_state=r_pop)
    before = pop["library_id"].map(prev_pop.set_index("library_id")["responded"]).astype("boolean")
    p = panel_propensity(scope, pop, before, response_rate=response_rate, random_state=r_resp)
    pop["response_propensity"] = p
    pop["responded"] = r_resp.random(len(pop)) < p
    (out / "exports").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "frame.csv", index=False)
    pop.to_csv(out / "truth" / "library_population.csv", index=False)
    changes.to_csv(out / "truth" / "frame_changes.csv", index=False)
    change_truth(prev_pop, pop, inst_a=insts_a["library"], inst_b=insts_b["library"]).to_csv(
        out / "truth" / "change_truth.csv", index=False)
    (out / "truth" / "planted.json").write_text(json.dumps(where, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    resp = pop.loc[pop["responded"]].reset_index(drop=True)
    truths = {"library": (to_layout(resp, insts_a["library"], insts_b["library"], cws["library"], random_state=r_lay),
                          r_raw_l, r_inj_l)}
    if "volunteer" in insts_b:
        vol = syn.simulate_volunteers(resp, per_library=volunteers_per_library, wave_year=year, random_state=r_vol)
        truths["volunteer"] = (to_layout(vol, insts_a["volunteer"], insts_b["volunteer"], cws["volunteer"], random_state=r_lay),
                               r_raw_v, r_inj_v)
    manifest = {"seed": seed, "wave": wave, "previous_wave": prev_wave, "previous": str(prev_dir), "n_frame": len(frame),
                "n_in_scope": len(pop), "files": {}, "instruments": {u: i.instrument for u, i in insts_b.items()},
                "frame_changes": {k: int(v) for k, v in changes["change"].value_counts().sort_index().items()},
                "panel": {"in_both": int(pop["library_id"].isin(prev_pop["library_id"]).sum()),
                          "answered_both": int((before.fillna(False) & pop["responded"]).sum())}}
    SW.write_exports(out, insts_b, truths, manifest=manifest, platforms=platforms, inject=inject)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
