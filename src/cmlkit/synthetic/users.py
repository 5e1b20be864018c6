"""Synthetic library users: a user population clustered in the synthetic libraries, an intercept survey, exports.

The model (every number is a keyword option or a module constant, so tests and benchmarks can vary it):

- each in-scope library has ``active_users`` users (about ``users_per_hour`` x weekly opening hours,
  log-normal spread) and a latent **service quality** (its health and noise);
- each user has a visit frequency (:data:`FREQUENCY`), an age band, disability and employment status;
  satisfaction is an ordinal 1-5 from a latent ``quality + hours + library effect + frequency + age + noise``,
  the library effect giving realistic intra-library correlation (about 0.1 on the latent scale);
- the survey is an **intercept** survey at libraries that answered the library questionnaire: a user's
  chance of being handed a form is proportional to their visits (frequent visitors over-represented) and their
  chance of filling it in rises with age (older people over-represented), the two known biases of such surveys;
- paper forms are keyed by staff into a single-header spreadsheet (paper-entry duplicates: a form keyed twice,
  the free text retyped); online forms come from a survey platform.

:func:`make_user_wave` writes, beside a synthetic wave of :func:`cmlkit.synthetic.wave.make_wave`::

    exports/cml_user_<platform>.csv     raw exports (paper entry: ``singleheader``; online: ``surveymonkey``)
    exports/library_user_counts.csv     active users per library, as libraries would report them
    exports/user_age_population.csv     users by age band (a supplied population distribution, for raking)
    truth/user_population.csv           every user of every in-scope library (latent and true answers)
    truth/user_population_summary.json  true population values (mean satisfaction, shares, age counts)
    truth/cml_user_clean.csv, truth/cml_user_errors.csv, truth/cml_user_responses.csv
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit import synthetic as syn
from cmlkit.synthetic.frame import FIRST_NAMES, LAST_NAMES
from cmlkit.synthetic import wave as sw
from cmlkit.platform_registry import get_platform
from cmlkit.synthetic.exports import write_export
from cmlkit import waves

FREQUENCY = {"most_days": 0.08, "weekly": 0.30, "fortnightly": 0.20, "monthly": 0.20, "less_often": 0.22}
VISITS = {"most_days": 16, "weekly": 4.3, "fortnightly": 2.2, "monthly": 1.0, "less_often": 0.5}
AGES = {"age16_24": 0.09, "age25_44": 0.27, "age45_64": 0.28, "age65_74": 0.19, "age75plus": 0.17}
AGE_RESPONSE = {"age16_24": 0.35, "age25_44": 0.5, "age45_64": 0.65, "age65_74": 0.85, "age75plus": 0.9}
AGE_SAT = {"age16_24": -0.25, "age25_44": -0.1, "age45_64": 0.0, "age65_74": 0.15, "age75plus": 0.2}
FREQ_SAT = {"most_days": 0.35, "weekly": 0.2, "fortnightly": 0.05, "monthly": -0.1, "less_often": -0.3}
SERVICES = ["book_lending", "childrens_activities", "reading_groups", "public_computers", "wifi", "digital_skills",
            "information_advice", "health_information", "learning_classes", "events_culture", "room_hire", "cafe",
            "home_delivery"]
USE_WHEN_OFFERED = [.85, .2, .1, .15, .3, .06, .12, .06, .08, .25, .07, .2, .03]
USE_MORE = ["longer_hours", "weekend_opening", "more_stock", "more_events", "better_digital", "childrens_activities",
            "better_access", "better_publicity", "nothing"]
SAT_NAMES = ["very_dissatisfied", "dissatisfied", "neither", "satisfied", "very_satisfied"]
SAT_CUTS = [-2.2, -1.4, -0.6, 0.7]
USER_COMMENTS = [
    "The volunteers are so friendly and helpful.", "Please open on Saturday afternoons.",
    "We nearly lost this library, so glad it is still here.", "More large print books please.",
    "The computers are slow but the wifi is good.", "My children love the story time.",
    "Café is lovely, makes it a proper community hub.", "Not as good as when the council ran it.",
    "Hours are too short for people who work.", "Brilliant range of events for a small library.",
]
USER_RATES = {"exact_duplicate": 0.4, "test_row": 0.1, "label_variant": 1.5, "pii_in_text": 0.8, "mojibake": 0.3,
              "straight_lining": 0.3}
PAPER_DUPLICATE_RATE = 1.0  # forms keyed twice, per 100 paper forms
UNIT = "user"  # the unit of the questionnaire this module simulates


def _cat(rng, probs: dict, n: int) -> np.ndarray:
    return rng.choice(np.array(list(probs), dtype=object), n, p=np.array(list(probs.values())) / sum(probs.values()))


def _ordinal(latent, cuts=SAT_CUTS, names=SAT_NAMES):
    return np.array(names, dtype=object)[np.searchsorted(cuts, latent)]


def simulate_user_population(libraries: pd.DataFrame, *, wave_year: int, users_per_hour: float = 10.0, library_sd: float = 0.4,
                             random_state=0) -> pd.DataFrame:
    """Every user of every library, with latent satisfaction and true answers (ground truth, never published).

    Parameters
    ----------
    libraries : pandas.DataFrame
        Output of :func:`cmlkit.synthetic.simulate_libraries` (``library_id, health, opening_hours,
        services__*`` …).
    users_per_hour : float, default 10
        Mean active users per weekly opening hour.
    wave_year : int
        Year of fieldwork (how long ago each library was transferred).
    library_sd : float, default 0.4
        Standard deviation of the library's own effect on satisfaction (intra-library correlation).
    random_state : int or numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        One row per user: ``library_id, user_key, visits_per_month, quality, sat_latent`` and the true
        answer to every ``cml_user`` question in clean form (choice names; select_multiple as ``q__c`` 0/1).
    """
    rng = np.random.default_rng(random_state)
    lib = libraries.reset_index(drop=True)
    n_lib = len(lib)
    hours = np.nan_to_num(pd.to_numeric(lib["opening_hours"], errors="coerce").to_numpy(dtype=float), nan=15.0)
    offered = lib[[f"services__{s}" for s in SERVICES]].to_numpy(dtype=float)
    quality = 0.4 * lib["health"].to_numpy(dtype=float) + rng.normal(0, 0.45, n_lib)
    users = np.maximum(np.round(users_per_hour * np.maximum(hours, 3) * rng.lognormal(0, 0.35, n_lib)), 30).astype(int)
    lib_effect = rng.normal(0, library_sd, n_lib)
    idx = np.repeat(np.arange(n_lib), users)
    m = len(idx)
    u = pd.DataFrame({"library_id": lib["library_id"].to_numpy()[idx], "user_key": np.arange(1, m + 1)})
    u["active_users"] = users[idx]
    u["quality"] = quality[idx]
    u["visit_frequency"] = _cat(rng, FREQUENCY, m)
    u["visits_per_month"] = u["visit_frequency"].map(VISITS).to_numpy(dtype=float)
    u["age_band"] = _cat(rng, AGES, m)
    old = u["age_band"].isin(["age65_74", "age75plus"]).to_numpy()
    u["disability"] = np.where(rng.random(m) < np.where(old, 0.3, 0.15), "yes", np.where(rng.random(m) < 0.05, "prefer_not", "no"))
    emp = np.where(old, _cat(rng, {"retired": .85, "employed": .1, "other": .05}, m),
                   _cat(rng, {"employed": .62, "unemployed": .06, "student": .1, "home_carer": .1, "unable": .05, "other": .03,
                              "prefer_not": .04}, m))
    u["employment"] = np.where(rng.random(m) < 0.15, None, emp)
    h = hours[idx]
    base = (0.5 * u["quality"].to_numpy() + 0.008 * (h - 18) + lib_effect[idx]
            + u["visit_frequency"].map(FREQ_SAT).to_numpy(dtype=float) + u["age_band"].map(AGE_SAT).to_numpy(dtype=float))
    sat = base + rng.normal(0, 1.0, m)
    u["sat_latent"] = sat
    u["sat_overall"] = _ordinal(sat)
    for item, shift, extra in [("hours", -0.3, 0.06 * (h - 18)), ("stock", 0.1, 0.0), ("digital", -0.4, 0.0),
                               ("events", -0.2, 0.0), ("staff", 0.6, 0.0)]:
        val = _ordinal(0.8 * sat + shift + extra + rng.normal(0, 0.6, m))
        u[f"sat_{item}"] = np.where(rng.random(m) < (0.25 if item in ("digital", "events") else 0.03), "not_used", val)
    use = rng.random((m, len(SERVICES))) < np.where(offered[idx] == 1, USE_WHEN_OFFERED, 0.02)
    use[:, 0] |= u["visit_frequency"].isin(["most_days", "weekly"]).to_numpy() & (rng.random(m) < 0.5)
    for j, s in enumerate(SERVICES):
        u[f"services_used__{s}"] = use[:, j].astype(int)
    u["services_used__other"] = (rng.random(m) < 0.02).astype(int)
    u["services_used_other"] = np.where(u["services_used__other"] == 1, rng.choice(syn.OTHER_SERVICES, m), None)
    ycr = pd.to_numeric(lib["year_community_run"], errors="coerce").fillna(wave_year - 10).to_numpy(dtype=float)[idx]
    p_before = np.clip(0.25 + 0.06 * (wave_year - ycr) / 2 + 0.15 * old, 0.05, 0.9)
    before = rng.random(m) < p_before
    u["used_before"] = np.where(rng.random(m) < 0.06, "dont_know", np.where(before, "yes", "no"))
    change = _ordinal(0.8 * u["quality"].to_numpy() + lib_effect[idx] + rng.normal(0, 0.9, m), [-0.9, 0.7], ["worse", "same", "better"])
    u["compare_before"] = np.where(u["used_before"] == "yes", np.where(rng.random(m) < 0.07, "dont_know", change), None)
    more = rng.random((m, len(USE_MORE))) < np.array([.3, .25, .2, .15, .1, .08, .06, .12, .2])
    more[:, 0] |= (h < 12) & (rng.random(m) < 0.3)
    for j, c in enumerate(USE_MORE):
        u[f"use_more__{c}"] = more[:, j].astype(int)
    u["use_more__other"] = (rng.random(m) < 0.03).astype(int)
    u["use_more_other"] = np.where(u["use_more__other"] == 1, rng.choice(["Parking", "Somewhere quiet to work", "Toilets"], m), None)
    u["comments"] = np.where(rng.random(m) < 0.3, rng.choice(USER_COMMENTS, m), None)
    first = pd.Series(rng.choice(FIRST_NAMES, m)).str.lower().str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
    last = pd.Series(rng.choice(LAST_NAMES, m)).str.lower().str.replace("'", "", regex=False)
    u["contact_email"] = np.where(rng.random(m) < 0.3, (first + "." + last + "@user.example").to_numpy(dtype=object), None)
    return u


def intercept_sample(population: pd.DataFrame, libraries: pd.Series, *, forms_per_library=(4, 40), paper_share: float = 0.7,
                     fieldwork_start, weeks: int = 6, random_state=0) -> pd.DataFrame:
    """Draw an intercept survey: users of the given libraries, chance ∝ visits x the age response rate.

    Parameters
    ----------
    population : pandas.DataFrame
        Output of :func:`simulate_user_population`.
    libraries : pandas.Series
        Library ids that ran the user survey (those that answered the library questionnaire).
    forms_per_library : tuple of int
        Bounds on the expected number of forms a library collects (about 12% of its users in between).
    fieldwork_start : str or pandas.Timestamp
        First day of fieldwork (forms are dated over the following ``weeks``).
    paper_share : float
        Share of responses on paper (the rest online, on a tablet or phone at the library).
    random_state : int or numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        The sampled users (population columns plus ``inclusion_prob``, ``mode``, ``completed_on``).
    """
    rng = np.random.default_rng(random_state)
    pop = population.loc[population["library_id"].isin(set(libraries))]
    size = pop.groupby("library_id")["user_key"].transform("size").to_numpy(dtype=float)
    lo, hi = forms_per_library
    target = np.clip(0.12 * size, lo, hi)  # about one user in eight asked, so hardly any chance is capped at 1
    propensity = pop["visits_per_month"].to_numpy(dtype=float) * pop["age_band"].map(AGE_RESPONSE).to_numpy(dtype=float)
    scale = target / pd.Series(propensity).groupby(pop["library_id"].to_numpy()).transform("sum").to_numpy()
    p = np.minimum(propensity * scale, 1.0)
    take = rng.random(len(pop)) < p
    s = pop.loc[take].copy()
    s["inclusion_prob"] = p[take]
    s["mode"] = np.where(rng.random(len(s)) < paper_share, "paper", "online")
    day = pd.Timestamp(fieldwork_start) + pd.to_timedelta(rng.integers(0, weeks * 7, len(s)), unit="D")
    s["completed_on"] = day.strftime("%Y-%m-%d").to_numpy(dtype=object)
    return s.reset_index(drop=True)


def summarise_population(population: pd.DataFrame) -> dict:
    """True population values the survey estimates (mean overall satisfaction, share satisfied, age counts).

    Parameters
    ----------
    population : pandas.DataFrame
        Output of :func:`simulate_user_population` (``library_id, sat_overall, age_band,
        visit_frequency`` are used).

    Returns
    -------
    dict
        ``"users"`` and ``"libraries"`` (counts); ``"sat_overall_score"``: mean of ``sat_overall`` scored
        1 (very dissatisfied) to 5 (very satisfied); ``"sat_overall_satisfied"``: share scoring 4 or 5;
        ``"age_band_users"`` and ``"visit_frequency_users"``: users per age band and per visit frequency,
        sorted by name.
    """
    score = population["sat_overall"].map({n: i + 1 for i, n in enumerate(SAT_NAMES)})
    return {"users": int(len(population)), "libraries": int(population["library_id"].nunique()),
            "sat_overall_score": float(score.mean()), "sat_overall_satisfied": float((score >= 4).mean()),
            "age_band_users": {k: int(v) for k, v in population["age_band"].value_counts().sort_index().items()},
            "visit_frequency_users": {k: int(v) for k, v in population["visit_frequency"].value_counts().sort_index().items()}}


def _paper_duplicates(raw: pd.DataFrame, rng, next_id):
    """Paper forms keyed twice: same answers, same library and day, the free text retyped (or left out)."""
    paper = np.flatnonzero((raw["mode"] == "Paper form").to_numpy())
    k = min(max(1, int(rng.poisson(PAPER_DUPLICATE_RATE * len(paper) / 100))), len(paper)) if len(paper) else 0
    rows = np.sort(rng.choice(paper, size=k, replace=False)) if k else np.array([], dtype=int)
    dup = raw.iloc[rows].copy()
    dup["_respondent_id"] = [next_id() for _ in rows]
    shift = pd.to_timedelta(rng.integers(5, 600, len(rows)), unit="m")
    dup["_start"] += shift
    dup["_end"] += shift
    dup["comments"] = [None if not isinstance(c, str) else c.rstrip(".") for c in dup["comments"]]
    recs = [{"kind": "paper_duplicate", "_respondent_id": d, "question": None, "choice": None, "true_value": str(o),
             "injected_value": None, "expected": "remove"} for d, o in zip(dup["_respondent_id"], raw["_respondent_id"].to_numpy()[rows])]
    return pd.concat([raw, dup], ignore_index=True), recs


def make_user_wave(out_dir, *, seed: int = 20250301, wave: str | None = None, platforms=("singleheader", "surveymonkey"),
                   inject: bool = True, users_per_hour: float = 10.0) -> dict:
    """Add the library users' survey to a synthetic wave written by :func:`cmlkit.synthetic.wave.make_wave`.

    Reads ``truth/library_population.csv`` (latent state; ``responded``) from ``out_dir`` and writes the
    files listed in the module docstring (every response in each platform's layout) for the wave's instrument
    answered per user (none, and nothing written, when the wave fields no such questionnaire).

    Parameters
    ----------
    out_dir : str or path-like
        The synthetic wave's folder (with ``exports/`` and ``truth/``).
    seed : int, default 20250301
        Seeds the user population, the intercept sample, the raw export and the injected errors (through
        ``[seed, 19]``).
    wave : str, optional
        Wave id ``YYYYwN`` whose user instrument is used (default None: the first wave on disk).
    platforms : tuple of str, default ("singleheader", "surveymonkey")
        Export layouts written, each with every response.
    inject : bool, default True
        Inject data errors (rates :data:`USER_RATES`) and paper forms keyed twice
        (:data:`PAPER_DUPLICATE_RATE`); False writes clean exports.
    users_per_hour : float, default 10.0
        Mean active users per weekly opening hour (:func:`simulate_user_population`).

    Returns
    -------
    dict
        The wave's manifest, as merged into and written back to ``manifest.json``: ``"files"`` gains
        ``<instrument>_<platform>`` -> export path relative to ``out_dir``, and ``n_user_responses``,
        ``n_<instrument>_genuine`` (users sampled), ``n_<instrument>_rows`` (rows in the export),
        ``n_<instrument>_errors`` and ``n_user_population`` are set. When the wave fields no user
        questionnaire, the manifest as read (``{}`` when there is none), unchanged.

    Raises
    ------
    FileNotFoundError
        When ``truth/library_population.csv`` is missing from ``out_dir``.
    """
    out = Path(out_dir)
    wave = wave or waves.first_wave()
    inst = waves.instruments_by_unit(wave).get(UNIT)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if inst is None:  # no user questionnaire fielded in this wave
        return manifest
    name = inst.instrument
    year = waves.wave_year(wave)
    libs = pd.read_csv(out / "truth" / "library_population.csv")
    r_pop, r_smp, r_raw, r_inj = (np.random.default_rng(s) for s in np.random.SeedSequence([seed, 19]).spawn(4))
    pop = simulate_user_population(libs, wave_year=year, users_per_hour=users_per_hour, random_state=r_pop)
    counts = pop.groupby("library_id", sort=True)["user_key"].size().rename("active_users").reset_index()
    counts.to_csv(out / "exports" / "library_user_counts.csv", index=False)
    ages = pop["age_band"].value_counts().reindex(list(AGES)).rename("users").rename_axis("age_band").reset_index()
    ages.to_csv(out / "exports" / "user_age_population.csv", index=False)
    pop.to_csv(out / "truth" / "user_population.csv", index=False)
    (out / "truth" / "user_population_summary.json").write_text(json.dumps(summarise_population(pop), indent=2, sort_keys=True) + "\n")
    sample = intercept_sample(pop, libs.loc[libs["responded"].astype(bool), "library_id"], fieldwork_start=f"{year}-03-03",
                              random_state=r_smp)
    name_of = libs.set_index("library_id")
    sample["library_name"] = sample["library_id"].map(name_of["frame_name"]).to_numpy()
    sample["library_postcode"] = np.where(r_raw.random(len(sample)) < 0.8, sample["library_id"].map(name_of["frame_postcode"]), None)
    ids = 12_600_000_000 + np.arange(1, len(sample) + 1) * 7919
    counter = {"next": len(sample)}

    def next_id():
        counter["next"] += 1
        return 12_600_000_000 + counter["next"] * 7919

    start = pd.to_datetime(sample["completed_on"]) + pd.to_timedelta(r_raw.integers(9 * 3600, 17 * 3600, len(sample)), unit="s")
    dur = np.maximum(r_raw.lognormal(np.log(300), 0.35, len(sample)), 75).astype(int)
    raw = sw.render_raw(sample, inst, start=pd.Series(start), duration_s=dur, respondent_id=ids)
    clean_truth = sample.drop(columns=["quality", "sat_latent", "active_users"]).copy()
    clean_truth.insert(0, "respondent_id", ids)
    contacts = dict(zip(ids, zip(sample["contact_email"].fillna("a.user@user.example"), np.full(len(sample), "07700 900123"))))
    extra = []
    if inject:
        inj = sw._inject(raw, clean_truth, inst, USER_RATES, r_inj, contacts)
        raw, extra = sw._extra_rows(raw, inst, USER_RATES, r_inj, next_id)
        raw, recs = _paper_duplicates(raw, r_inj, next_id)
        extra += recs
    else:
        inj = sw._Injector(raw, clean_truth, inst, r_inj, contacts)
    raw, errors = sw._finalise(raw, inj, extra, name, out / "truth")
    clean_truth.to_csv(out / "truth" / f"{name}_clean.csv", index=False)
    err_by_id = errors.drop_duplicates("respondent_id").set_index("respondent_id")["kind"]
    kind = raw["_respondent_id"].map(err_by_id)
    role = kind.where(kind.isin(["exact_duplicate", "test_row", "paper_duplicate"]), "genuine")
    lib_of = dict(zip(ids, sample["library_id"]))
    dup_of = errors.loc[errors["kind"].isin(["exact_duplicate", "paper_duplicate"])].set_index("respondent_id")["true_value"].astype("int64")
    lib_ids = raw["_respondent_id"].map(lib_of).fillna(raw["_respondent_id"].map(dup_of).map(lib_of))
    pd.DataFrame({"row": np.arange(1, len(raw) + 1), "respondent_id": raw["_respondent_id"], "library_id": lib_ids,
                  "role": role}).to_csv(out / "truth" / f"{name}_responses.csv", index=False)
    files = {}
    for platform in platforms:  # every response in each layout (paper forms keyed in, online ones downloaded)
        path = out / "exports" / f"{name}_{platform}{get_platform(platform).extension}"
        write_export(raw, inst, platform, path)
        files[f"{name}_{platform}"] = str(path.relative_to(out))
    manifest.setdefault("files", {}).update(files)
    manifest.update({"n_user_responses": int(len(sample)), f"n_{name}_genuine": int(len(sample)), f"n_{name}_rows": int(len(raw)), f"n_{name}_errors": int(len(errors)),
                     "n_user_population": int(len(pop))})
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
