"""The latent model behind each synthetic community library and its volunteers (see :mod:`cmlkit.synthetic`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import waves

from cmlkit.synthetic.frame import (  # noqa: F401  (the frame lives in cmlkit.synthetic.frame; names kept here)
    FIRST_NAMES, LAST_NAMES, FRAME_MIX, MODELS, REGIONS, _logistic, _place_names, _postcodes, in_scope, latest_operation_column,
    make_frame, prepare_frame)
from cmlkit.synthetic.scenarios import apply_scenario


def _blend(p_model, signal):
    """Blend model-specific probabilities with their average over models (signal in [0, 1])."""
    p_model = np.asarray(p_model, dtype=float)
    return signal * p_model + (1 - signal) * p_model.mean(axis=0, keepdims=True)


def _cat(rng, probs_by_row, names):
    """Draw one category per row from row-specific probability vectors."""
    probs = probs_by_row / probs_by_row.sum(axis=1, keepdims=True)
    idx = (rng.random(len(probs))[:, None] > probs.cumsum(axis=1)).sum(axis=1).clip(0, len(names) - 1)
    return np.asarray(names, dtype=object)[idx]


def _dirichlet_rows(rng, alpha):
    """One Dirichlet draw per row of ``alpha`` (vectorised through Gamma variates)."""
    g = rng.gamma(np.asarray(alpha, dtype=float))
    return g / g.sum(axis=1, keepdims=True)


def _multinomial_rows(rng, counts, probs):
    """One multinomial draw per row (vectorised by sequential conditional binomials)."""
    counts = np.asarray(counts, dtype=np.int64)
    probs = np.asarray(probs, dtype=float)
    out = np.zeros(probs.shape, dtype=np.int64)
    remaining, rest = counts.copy(), np.ones(len(counts))
    for j in range(probs.shape[1] - 1):
        p = np.clip(probs[:, j] / np.maximum(rest, 1e-12), 0, 1)
        out[:, j] = rng.binomial(remaining, p)
        remaining -= out[:, j]
        rest -= probs[:, j]
    out[:, -1] = remaining
    return out


def _ordinal(latent, cuts, names):
    return np.asarray(names, dtype=object)[np.searchsorted(np.asarray(cuts), latent)]


# Model-specific probabilities; rows follow MODELS.
# Community supported: council-led with paid council staff and full in-kind support, little grant;
# community managed: volunteer-led, partial support; commissioned community: a community
# organisation paid by the council to run it (grant, paid coordinator, company/CIC);
# independent: no council support at all (Taskforce 2016 definitions, sharpened).
_PAID = [[.03, .40, .57], [.92, .07, .01], [.02, .13, .85], [.95, .04, .01]]
_LEGAL = [[.60, .15, .02, .01, .20, .02], [.15, .65, .10, .05, .02, .03],
          [.01, .10, .50, .37, .00, .02], [.35, .45, .10, .05, .02, .03]]
_TENURE = [[.70, .15, .02, .10, .03], [.30, .45, .08, .14, .03], [.50, .38, .02, .08, .02], [.05, .15, .35, .40, .05]]
_SUPPORT_TYPES = ["book_stock", "lms_access", "public_it", "wifi", "building_maintenance", "insurance",
                  "training", "professional_advice"]
_SUPPORT = [[.97, .97, .95, .90, .90, .85, .90, .90], [.60, .45, .30, .25, .08, .08, .25, .20],
            [.90, .90, .80, .70, .30, .30, .60, .60], [.03, .02, .02, .02, .01, .01, .03, .03]]
_GRANT = [.10, .25, .97, .02]
_GRANT_MEDIAN = [8000, 6000, 40000, 2000]
_HEALTH_MEAN = [.3, 0.0, .3, -.4]
_SERVICES = {"book_lending": 4.0, "childrens_activities": 1.2, "reading_groups": .5, "public_computers": .2,
             "wifi": .4, "digital_skills": -.3, "information_advice": .3, "health_information": -.5,
             "learning_classes": -.5, "events_culture": .6, "room_hire": -.2, "cafe": -1.0,
             "home_delivery": -1.5, "other": -2.6}
_BARRIERS = {"funding": -.2, "recruiting_volunteers": .3, "retaining_volunteers": -.5, "building": -.8,
             "it_systems": -1.2, "council_relationship": -1.5, "professional_support": -1.3,
             "insurance_legal": -1.8, "other": -2.8}
_RISKS = {"loss_council_support": -1.0, "rising_costs": .2, "lease_ending": -2.0, "falling_income": -.6,
          "volunteer_shortage": -.4, "building_repairs": -1.0, "other": -3.0}
INCOME_ITEMS = ["inc_council", "inc_parish", "inc_fundraising", "inc_room_hire", "inc_cafe_sales", "inc_grants", "inc_other"]
EXPENDITURE_ITEMS = ["exp_rent", "exp_utilities", "exp_insurance", "exp_stock", "exp_it", "exp_staff", "exp_other"]
OTHER_SERVICES = ["Seed library", "Toy library", "Jigsaw swap", "Repair café", "Knit and natter", "Lego club"]
OTHER_BARRIERS = ["Parking", "Vandalism", "Bus service cut", "Damp in the building"]
OTHER_RISKS = ["Energy prices", "Loss of our treasurer", "Rent review"]
CHALLENGES = [
    "Finding £{n},000 a year for the rent and bills",
    "Keeping enough volunteers on the rota, especially on Saturdays",
    "The council’s plans for the building after the lease ends",
    "Replacing the old public computers",
    "Getting younger people to volunteer",
    "Raising money when so many local groups are also fundraising",
    "Paperwork and insurance take up a lot of the committee’s time",
    "Being heard by the council about the café and room hire",
]
SUPPORT = [
    "Help writing funding bids", "A longer lease", "Training for new volunteers",
    "Advice from a professional librarian", "A small grant for IT", "Sharing ideas with other community libraries",
]
COMMENTS = [
    "I enjoy meeting people and helping children choose books.",
    "It would help to have more training on the library system.",
    "The café volunteers make everyone welcome.",
    "Sometimes we are short of people on the desk.",
    "Great team, though the building is cold in winter.",
]


def typed_identity(names: pd.Series, postcodes: pd.Series, authorities: pd.Series, rng):
    """How respondents write their library's name, postcode and council (vectorised).

    About a quarter of names are varied ('Friends of X Library', 'X Community Library', lower case,
    '&' for 'and'); 4% of postcodes lose their space or gain a one-character slip, 4% are left
    blank; a third of councils are written as 'X Council' or 'X County Council'.

    Parameters
    ----------
    names, postcodes, authorities : pandas.Series
        The true values.
    rng : numpy.random.Generator

    Returns
    -------
    (names, postcodes, authorities) : tuple of numpy.ndarray (object)
    """
    n = len(names)
    nm = pd.Series(names.to_numpy(dtype=object))
    base = nm.str.replace(r" (Community |Village )?Library( \d+)?$", "", regex=True)
    r = rng.random(n)
    nm = nm.where(r >= 0.08, "Friends of " + nm)
    nm = nm.where((r < 0.08) | (r >= 0.14), base + " Community Library")
    nm = nm.where((r < 0.14) | (r >= 0.20), nm.str.lower())
    nm = nm.where((r < 0.20) | (r >= 0.25), base + " Library and Community Hub")
    pc = pd.Series(postcodes.to_numpy(dtype=object))
    r = rng.random(n)
    pc = pc.where(r >= 0.02, pc.str.replace(" ", "", regex=False))
    slip_pos = rng.integers(0, 2, n)
    slipped = pc.str[:-1] + pd.Series(np.array(list("ABDEFGHJLNPQRSTUWXYZ"))[rng.integers(0, 20, n)])
    pc = pc.where((r < 0.02) | (r >= 0.04), np.where(slip_pos == 0, slipped, pc.str.lower()))
    pc = pc.where((r < 0.04) | (r >= 0.08), None)
    au = pd.Series(authorities.to_numpy(dtype=object))
    r = rng.random(n)
    au = au.where(r >= 0.2, au + " Council")
    au = au.where((r < 0.2) | (r >= 0.33), au + " County Council")
    return nm.to_numpy(dtype=object), pc.to_numpy(dtype=object), au.to_numpy(dtype=object)


def simulate_libraries(scope: pd.DataFrame, *, governance_signal: float = 1.0, wave_year: int | None = None,
                       scenario: str = "default", random_state=0) -> pd.DataFrame:
    """Simulate each in-scope library's latent state and its true (clean) answers.

    Parameters
    ----------
    scope : pandas.DataFrame
        In-scope frame rows (``library_id, name, authority, postcode, region, operation_23,
        statutory_23, hours, year_community_run`` …).
    governance_signal : float, default 1.0
        How strongly the governance model drives governance features (0 = not at all).
    wave_year : int, optional
        Year of fieldwork (bounds lease and transfer years); default: the year of the first wave on disk
        (:func:`cmlkit.waves.first_wave`).
    scenario : str, default "default"
        A scenario from :data:`cmlkit.synthetic.scenarios.SCENARIOS` applied after the default draws
        (``non_circular``: indicators without signal and an outcome driver the index does not see).
    random_state : int or numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        One row per library: frame keys, latent variables (``true_model``, ``health``,
        ``sat_lib``, ``true_at_risk``, ``true_closes_3y``) and the true answer to every question
        of ``cml_library`` in clean form (choice names; select_multiple as ``q__choice`` 0/1;
        personal data included — this table is ground truth, never published).
    """
    rng = np.random.default_rng(random_state)
    wave_year = _default_year(wave_year)
    n = len(scope)
    code = scope["operation_23"].to_numpy()
    p_model = np.where((code == "ICL")[:, None], [0.03, 0.07, 0.0, 0.90], [0.30, 0.55, 0.15, 0.0])
    model_idx = _cat(rng, p_model, range(4)).astype(int)
    s = float(governance_signal)
    df: dict = {}
    df.update({
        "library_id": scope["library_id"].to_numpy(), "frame_name": scope["name"].to_numpy(),
        "frame_authority": scope["authority"].to_numpy(), "frame_postcode": scope["postcode"].to_numpy(),
        "region": scope["region"].to_numpy(), "frame_code": code,
        "true_model": np.array(MODELS, dtype=object)[model_idx],
    })
    health = rng.normal(np.array(_HEALTH_MEAN)[model_idx] * s, 1.0)
    df["health"] = health
    df["true_at_risk"] = health < -1.0
    df["true_closes_3y"] = rng.random(n) < _logistic(-3.2 - 1.8 * health)
    df["sat_lib"] = rng.normal(0.3 * health, 0.5)

    # identity, as respondents type it: name variants, postcode slips, council-name variants
    df["library_name"], df["postcode"], df["local_authority"] = typed_identity(
        scope["name"], scope["postcode"], scope["authority"], rng)
    first = rng.choice(FIRST_NAMES, n)
    last = rng.choice(LAST_NAMES, n)
    df["contact_name"] = np.char.add(np.char.add(first.astype(str), " "), last.astype(str)).astype(object)
    slug = pd.Series(df["library_name"]).str.lower().str.replace(r"[^a-z]", "", regex=True)
    local = pd.Series(first).str.lower().str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
    surname = pd.Series(last).str.lower().str.replace("'", "", regex=False)
    df["contact_email"] = (local + "." + surname + "@" + slug + ".example").to_numpy(dtype=object)
    df["contact_phone"] = np.where(rng.random(n) < 0.5, "01632 960", "07700 900") + pd.Series(rng.integers(0, 1000, n)).astype(str).str.zfill(3).to_numpy(dtype=object)
    df["consent_followup"] = np.where(rng.random(n) < 0.7, "yes", "no")

    # governance
    paid_pos = _blend(_PAID, s)[model_idx]
    df["paid_staff"] = _cat(rng, paid_pos, ["none", "some_paid_hours", "paid_coordinator"])
    has_paid = df["paid_staff"] != "none"
    role = _cat(rng, np.tile([.45, .2, .25, .05, .05], (n, 1)) * np.where(has_paid[:, None], 1, [1, 1, 1, 0, 1]),
                ["chair", "trustee", "coordinator", "paid_manager", "other"])
    df["respondent_role"] = role
    df["respondent_role_other"] = np.where(role == "other", rng.choice(["Treasurer", "Secretary", "Founder member"], n), None)
    legal = _cat(rng, _blend(_LEGAL, s)[model_idx], ["unincorporated", "charity_cio", "company_guarantee", "cic", "parish_council", "other"])
    df["legal_form"] = legal
    df["legal_form_other"] = np.where(legal == "other", rng.choice(["Community benefit society", "Friends group under a trust"], n), None)
    ycr = scope["year_community_run"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    df["year_community_run"] = pd.array(np.where(rng.random(n) < 0.05, np.nan, ycr), dtype="Float64").round().astype("Int64")
    stat = scope["statutory_23"].to_numpy() == "Yes"
    df["statutory"] = np.where(rng.random(n) < 0.07, "dont_know", np.where(stat, "yes", "no"))
    tenure = _cat(rng, _blend(_TENURE, s)[model_idx], ["council_lease", "peppercorn_lease", "owned_by_group", "shared_building", "other"])
    df["tenure"] = tenure
    df["tenure_other"] = np.where(tenure == "other", rng.choice(["Licence from the church", "Rented shop unit"], n), None)
    on_lease = np.isin(tenure, ["council_lease", "peppercorn_lease"])
    lease_end = wave_year + rng.geometric(0.12, n)
    df["lease_end_year"] = pd.array(np.where(on_lease, np.minimum(lease_end, wave_year + 99), np.nan)).astype("Int64")
    sup = rng.random((n, len(_SUPPORT_TYPES))) < _blend(_SUPPORT, s)[model_idx]
    for j, t in enumerate(_SUPPORT_TYPES):
        df[f"council_support__{t}"] = sup[:, j].astype(int)
    df["council_support__none"] = (~sup.any(axis=1)).astype(int)
    grant = rng.random(n) < _blend(np.array(_GRANT)[:, None], s)[model_idx, 0]
    df["council_grant"] = np.where(grant, "yes", "no")
    amount = np.round(np.array(_GRANT_MEDIAN)[model_idx] * rng.lognormal(0, 0.6, n), -2)
    df["council_grant_amount"] = np.where(grant, amount, np.nan)

    # services
    hours = scope["hours"].to_numpy(dtype=float)
    df["opening_hours"] = hours
    quality = 0.5 * health + rng.normal(0, 0.8, n)
    for svc, base in _SERVICES.items():
        lin = base + 0.06 * (hours - 18) + 0.3 * quality
        if svc == "public_computers":
            lin = lin + 1.8 * sup[:, 2]
        if svc == "wifi":
            lin = lin + 1.8 * sup[:, 3]
        if svc == "room_hire":
            lin = lin + 1.2 * np.isin(tenure, ["owned_by_group", "shared_building"])
        df[f"services__{svc}"] = (rng.random(n) < _logistic(lin)).astype(int)
    df["services_other"] = np.where(df["services__other"] == 1, rng.choice(OTHER_SERVICES, n), None)
    eff = ["very_ineffective", "fairly_ineffective", "neither", "fairly_effective", "very_effective"]
    for offer, shift in [("reading", 1.0), ("information", 0.2), ("digital", -0.2), ("health", -0.6), ("learning", -0.3)]:
        lat = quality + shift + rng.normal(0, 0.7, n)
        val = _ordinal(lat, [-2.0, -1.0, 0.0, 1.2], eff)
        df[f"uo_{offer}"] = np.where(rng.random(n) < 0.04, "dont_know", val)
    df["service_change"] = np.where(rng.random(n) < 0.08, "dont_know",
                                    _ordinal(quality + rng.normal(0, 0.8, n), [-1.0, 0.6], ["worse", "same", "better"]))
    # barriers
    for b, base in _BARRIERS.items():
        lin = base - 0.7 * health
        if b == "it_systems":
            lin = lin + 1.0 * (sup[:, 2] == 0)
        if b == "professional_support":
            lin = lin + 1.0 * (sup[:, 7] == 0)
        df[f"barriers__{b}"] = (rng.random(n) < _logistic(lin)).astype(int)
    df["barriers_other"] = np.where(df["barriers__other"] == 1, rng.choice(OTHER_BARRIERS, n), None)

    # volunteers
    mean_vol = 6 + 1.1 * np.nan_to_num(hours, nan=15)
    vols = rng.negative_binomial(6, 6 / (6 + mean_vol))
    vols = np.maximum(vols, 3)
    df["volunteers_active"] = vols
    df["volunteer_hours_week"] = np.round(vols * rng.uniform(1.5, 4.0, n))
    p_age = _dirichlet_rows(rng, np.tile(np.array([.04, .08, .16, .42, .30]) * 40, (n, 1)))
    ages = _multinomial_rows(rng, vols, p_age)
    for j, col in enumerate(["vol_age_under25", "vol_age_25_44", "vol_age_45_59", "vol_age_60_74", "vol_age_75plus"]):
        df[col] = ages[:, j]
    df["true_share_75plus"] = ages[:, 4] / np.maximum(vols, 1)
    paid = df["paid_staff"]
    df["paid_staff_hours"] = np.where(paid == "none", np.nan,
                                      np.where(paid == "some_paid_hours", np.round(rng.uniform(4, 15, n)), np.round(rng.uniform(15, 37, n))))

    # finances
    inc = np.zeros((n, len(INCOME_ITEMS)))
    inc[:, 0] = np.where(grant, amount, 0)
    for j, (p, med) in enumerate([(.3, 3000), (.9, 5000), (.5, 2000), (.3, 1500), (.35, 4000), (.3, 800)], start=1):
        present = rng.random(n) < p
        inc[:, j] = np.where(present, np.round(med * np.exp(0.25 * health) * rng.lognormal(0, 0.6, n), -1), 0)
    inc[:, 2] = np.maximum(inc[:, 2], 100)  # everyone fundraises a little
    for j, col in enumerate(INCOME_ITEMS):
        df[col] = inc[:, j]
    df["income_total"] = inc.sum(axis=1)
    exp_total = np.round(inc.sum(axis=1) * np.exp(rng.normal(0.02 - 0.08 * health, 0.1)), -1)
    alpha = np.tile([3, 3, 1.5, 2, 1.5, 0.3, 1], (n, 1)).astype(float)
    alpha[:, 5] += np.where(paid == "paid_coordinator", 8, np.where(paid == "some_paid_hours", 3, 0))
    alpha[:, 0] *= np.where(np.isin(tenure, ["owned_by_group"]), 0.1, 1.0)
    shares = _dirichlet_rows(rng, alpha)
    exp_items = np.round(shares * exp_total[:, None], -1)
    for j, col in enumerate(EXPENDITURE_ITEMS):
        df[col] = exp_items[:, j]
    df["expenditure_total"] = exp_items.sum(axis=1)
    months = np.exp(1.3 + 0.7 * health + rng.normal(0, 0.4, n))
    df["reserves"] = np.round(exp_items.sum(axis=1) / 12 * months, -1)
    df["true_months_reserves"] = df["reserves"] / np.maximum(df["expenditure_total"] / 12, 1)
    conf = ["very_unconfident", "fairly_unconfident", "neither", "fairly_confident", "very_confident"]
    for col, shift in [("conf_1yr", 1.0), ("conf_3yr", 0.3), ("conf_5yr", -0.2)]:
        df[col] = _ordinal(health + shift + rng.normal(0, 0.6, n), [-1.5, -0.7, 0.0, 0.9], conf)
    for r, base in _RISKS.items():
        lin = base - 0.6 * health
        if r == "loss_council_support":
            lin = lin + 1.2 * grant
        if r == "lease_ending":
            lin = lin + np.where(on_lease & (lease_end <= wave_year + 3), 3.0, 0.0)
        df[f"fin_risks__{r}"] = (rng.random(n) < _logistic(lin)).astype(int)
    df["fin_risks_other"] = np.where(df["fin_risks__other"] == 1, rng.choice(OTHER_RISKS, n), None)
    df["business_plan"] = np.where(rng.random(n) < _logistic(0.3 + 0.8 * health + 0.5 * has_paid), "yes", "no")
    w = np.column_stack([np.exp(0.8 * health) * 0.6, np.full(n, 3.0), 0.5 * np.exp(-1.0 * health),
                         np.full(n, 0.15), 0.05 * np.exp(-2.0 * health), np.full(n, 0.3)])
    df["plans_3yr"] = _cat(rng, w, ["expand", "maintain", "reduce", "merge", "close", "dont_know"])
    ch = rng.choice(CHALLENGES, n)
    df["biggest_challenge"] = np.where(rng.random(n) < 0.7, [c.format(n=k) for c, k in zip(ch, rng.integers(2, 9, n))], None)
    df["support_needed"] = np.where(rng.random(n) < 0.6, rng.choice(SUPPORT, n), None)

    # genuine item nonresponse
    for col, p in [("reserves", .08), ("volunteer_hours_week", .05), ("statutory", .02), ("business_plan", .03)]:
        arr = np.asarray(df[col]).copy()
        drop = rng.random(n) < p
        arr = np.where(drop, np.nan, arr) if arr.dtype.kind == "f" else np.where(drop, None, arr)
        df[col] = arr
    df["true_share_paid_coordinator"] = (paid == "paid_coordinator").astype(int)
    return apply_scenario(pd.DataFrame(df), scenario, rng)


def response_propensity(scope: pd.DataFrame, *, random_state=0, target: float = 0.5) -> np.ndarray:
    """Probability that each in-scope library responds (depends on region, type and hours only).

    Parameters
    ----------
    scope : pandas.DataFrame
        In-scope libraries (region, type, hours).
    random_state : int or numpy.random.Generator, default 0
    target : float, default 0.5
        The mean propensity.

    Returns
    -------
    numpy.ndarray
    """
    rng = np.random.default_rng(random_state)
    regions = [r for r, _ in REGIONS]
    region_effect = dict(zip(regions, rng.normal(0, 0.35, len(regions))))
    lin = (scope["region"].map(region_effect).to_numpy() - 0.6 * (scope["operation_23"].to_numpy() == "ICL")
           + 0.03 * (np.nan_to_num(scope["hours"].to_numpy(dtype=float), nan=15) - 18))
    # shift the intercept so the mean propensity hits the target
    lo, hi = -5.0, 5.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _logistic(lin + mid).mean() < target:
            lo = mid
        else:
            hi = mid
    return _logistic(lin + (lo + hi) / 2)


def _default_year(wave_year):
    return wave_year if wave_year is not None else waves.wave_year(waves.first_wave())


def simulate_volunteers(libraries: pd.DataFrame, *, per_library=(3, 10), wave_year: int | None = None,
                        random_state=0) -> pd.DataFrame:
    """Simulate volunteer-survey responses (true clean values) for the given libraries.

    Parameters
    ----------
    libraries : pandas.DataFrame
        Output of :func:`simulate_libraries` (usually the responding libraries).
    per_library : tuple of int, default (3, 10)
        Inclusive range of volunteer responses per library (capped by its volunteer count).
    wave_year : int, optional
        Year of fieldwork (bounds years volunteered); default as :func:`simulate_libraries`.
    random_state : int or numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        One row per volunteer: ``library_id``, latent ``sat_vol`` and the true answer to every
        ``cml_volunteer`` question in clean form.
    """
    rng = np.random.default_rng(random_state)
    k = np.minimum(rng.integers(per_library[0], per_library[1] + 1, len(libraries)),
                   libraries["volunteers_active"].to_numpy())
    idx = np.repeat(np.arange(len(libraries)), k)
    lib = libraries.iloc[idx].reset_index(drop=True)
    m = len(lib)
    v = pd.DataFrame({"library_id": lib["library_id"].to_numpy(), "library_name": lib["library_name"].to_numpy(),
                      "library_postcode": np.where(rng.random(m) < 0.85, lib["postcode"].to_numpy(), None)})
    v["vol_role"] = rng.choice(["front_desk", "children", "events", "admin", "committee", "it_help", "other"], m,
                               p=[.45, .12, .12, .1, .12, .05, .04])
    v["vol_role_other"] = np.where(v["vol_role"] == "other", rng.choice(["Garden", "Publicity", "Book sales"], m), None)
    since = _default_year(wave_year) - lib["year_community_run"].astype("Float64").fillna(2015).to_numpy(dtype=float)
    v["years_volunteering"] = np.round(np.minimum(rng.exponential(4, m) + 0.5, np.maximum(since, 0.5) + 3), 1)
    v["hours_per_week"] = np.clip(np.round(rng.gamma(3, 1.2, m) * 2) / 2, 0.5, 30)
    ages = lib[["vol_age_under25", "vol_age_25_44", "vol_age_45_59", "vol_age_60_74", "vol_age_75plus"]].to_numpy(float) + 0.2
    v["age_band"] = _cat(rng, ages, ["under25", "age25_44", "age45_59", "age60_74", "age75plus"])
    topics = ["equality_diversity", "data_protection", "foi", "customer_care", "safeguarding",
              "it_library_system", "health_safety", "first_aid"]
    council_training = lib["council_support__training"].to_numpy()
    paid = (lib["paid_staff"].to_numpy() != "none").astype(int)
    base_recv = np.array([-.6, .0, -1.5, -.2, .6, .3, .2, -.8])
    base_need = np.array([-.3, .2, -.9, .0, .5, .8, .3, .1])
    recv = rng.random((m, 8)) < _logistic(base_recv + 0.9 * council_training[:, None] + 0.5 * paid[:, None])
    need = rng.random((m, 8)) < _logistic(base_need - 0.4 * recv)
    for j, t in enumerate(topics):
        v[f"training_received__{t}"] = recv[:, j].astype(int)
        v[f"training_needed__{t}"] = need[:, j].astype(int)
    v["training_received__none"] = (~recv.any(axis=1)).astype(int)
    v["training_needed__none"] = (~need.any(axis=1)).astype(int)
    sat = lib["sat_lib"].to_numpy() + rng.normal(0, 0.7, m)
    v["sat_vol"] = sat
    agree = ["strongly_disagree", "disagree", "neither", "agree", "strongly_agree"]
    for item, shift in [("valued", .4), ("training", -.2), ("workload", .1), ("supported", .2), ("recommend", .5), ("continue", .6)]:
        v[f"sat_{item}"] = _ordinal(0.9 * sat + shift + rng.normal(0, 0.45, m), [-1.6, -0.8, 0.0, 1.0], agree)
    v["comments"] = np.where(rng.random(m) < 0.35, rng.choice(COMMENTS, m), None)
    return v
