"""Synthetic survey waves with ground truth, for the demo and the tests.

The generator builds a library frame with the shape of the Arts Council basic dataset, a latent
model behind each community library's answers, a self-selected set of respondents, volunteer
responses, and then the raw exports (see :mod:`cmlkit.platforms`) with injected, recorded errors
(see :mod:`cmlkit.inject`). Everything is driven by one seed, vectorised with NumPy, and
deterministic.

Latent model (per in-scope library)
-----------------------------------
* ``true_model``: governance model (community_supported, community_managed, commissioned_community,
  independent_community), drawn from the frame code (ICL -> mostly independent). It drives legal
  form, tenure, paid staff, council support in kind, council grant and the income mix.
  ``governance_signal`` (0..1) blends model-specific probabilities with the pooled average: at 0
  the features carry no trace of the model.
* ``health``: latent financial health ~ N(model mean, 1). It drives reserves, confidence at 1/3/5
  years, business plan, plans, barriers and risks, and closure (``true_at_risk`` = health < -1;
  ``true_closes_3y`` ~ Bernoulli(logistic(-3.2 - 1.8 * health))).
* ``sat_lib``: latent volunteer satisfaction of the library; each volunteer adds their own noise,
  and the six satisfaction items are ordered-category readings of it.
* Response: logistic in region, frame type (ICL less likely) and weekly hours only, so the
  responses are missing at random given frame variables (not completely at random).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cmlkit import waves
from cmlkit.frame import ACE_YEARS

from .synthetic_risk import apply_scenario

MODELS = ["community_supported", "community_managed", "commissioned_community", "independent_community"]
REGIONS = [
    ("North East", 12), ("North West", 23), ("Yorkshire and The Humber", 15), ("East Midlands", 10),
    ("West Midlands", 14), ("East of England", 11), ("London", 33), ("South East", 19), ("South West", 15),
]
# Share of each 2023 operation code in the real Arts Council file (of 3,455 classified rows).
FRAME_MIX = {"LA": 2198, "CR": 418, "C": 399, "ICL": 76, "LAU": 11, "Closed": 353}

_PREFIX = ["Ash", "Bark", "Beck", "Brad", "Bram", "Brook", "Burn", "Castle", "Chal", "Church", "Clay",
           "Cold", "Cran", "Dun", "Eccles", "Elm", "Fair", "Fern", "Fox", "Garn", "Glen", "Gold", "Gras",
           "Hal", "Hazel", "Heath", "High", "Holm", "Kings", "Kirk", "Lang", "Lark", "Lea", "Mar", "Mill",
           "Moor", "Nether", "New", "Oak", "Pen", "Quen", "Raven", "Red", "Rother", "Sand", "Shep", "Stan",
           "Stock", "Thorn", "Upton", "Wal", "Wen", "Whit", "Wick", "Win", "Wood", "Wyke", "Yar"]
_SUFFIX = ["bury", "by", "caster", "cliffe", "combe", "don", "field", "ford", "gate", "ham", "hurst",
           "ley", "minster", "mouth", "stead", "stow", "thorpe", "ton", "wick", "worth"]
_MODIFIER = ["", "", "", "", "Upper ", "Lower ", "Great ", "Little ", "North ", "South ", "East ", "West "]
_FIRST = ["Alison", "Amir", "Anne", "Barbara", "Bernard", "Brian", "Carol", "Chloé", "Christine", "Colin",
          "David", "Deborah", "Derek", "Diane", "Elaine", "Frances", "Geoffrey", "Gillian", "Graham",
          "Helen", "Hilary", "Ian", "Janet", "Jean", "John", "Judith", "Kathleen", "Keith", "Linda",
          "Malcolm", "Margaret", "Martin", "Maureen", "Nigel", "Pamela", "Patricia", "Peter", "Priya",
          "Richard", "Roger", "Ruth", "Sandra", "Shirley", "Stephen", "Susan", "Trevor", "Valerie", "Zoë"]
_LAST = ["Ahmed", "Atkinson", "Bailey", "Barker", "Bennett", "Booth", "Brown", "Chapman", "Clarke",
         "Cooper", "Dawson", "Dixon", "Edwards", "Fletcher", "Foster", "Gibson", "Hall", "Harris",
         "Holmes", "Hughes", "Jackson", "Kaur", "Khan", "Lawrence", "Marsh", "Mason", "Moore", "Nicholls",
         "O'Brien", "Parker", "Patel", "Pearson", "Reynolds", "Robinson", "Shaw", "Singh", "Stevens",
         "Taylor", "Turner", "Walker", "Ward", "Webb", "Wilkinson", "Wood", "Wright", "Young"]
_AREAS = ["AL", "BA", "BB", "BD", "BH", "BL", "BN", "BR", "BS", "CA", "CB", "CH", "CM", "CO", "CT", "CV",
          "CW", "DA", "DE", "DH", "DL", "DN", "DT", "DY", "EN", "EX", "GL", "GU", "HA", "HD", "HG", "HP",
          "HR", "HU", "HX", "IP", "KT", "LA", "LE", "LN", "LS", "LU", "ME", "MK", "NE", "NG", "NN", "NR",
          "OL", "OX", "PE", "PL", "PO", "PR", "RG", "RH", "SG", "SK", "SL", "SN", "SO", "SP", "SR", "SS",
          "ST", "SY", "TA", "TF", "TN", "TQ", "TR", "TS", "WA", "WD", "WF", "WN", "WR", "WS", "WV", "YO"]
_UNIT = list("ABDEFGHJLNPQRSTUWXYZ")


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _place_names(rng, n):
    """Return ``n`` distinct synthetic English-looking place names."""
    base = np.array([p + s for p in _PREFIX for s in _SUFFIX])
    mods = np.array(_MODIFIER)
    out, seen = [], set()
    while len(out) < n:
        k = 2 * (n - len(out)) + 16
        cand = np.char.add(mods[rng.integers(0, len(mods), k)], base[rng.integers(0, len(base), k)])
        for c in cand:
            if c not in seen:
                seen.add(c)
                out.append(str(c))
                if len(out) == n:
                    break
    return out


def _postcodes(rng, n):
    """Return ``n`` distinct postcodes in the UK format (synthetic, not real addresses)."""
    out = np.empty(0, dtype=object)
    while len(out) < n:
        k = 2 * n + 10
        area = np.array(_AREAS)[rng.integers(0, len(_AREAS), k)]
        district = rng.integers(1, 40, k).astype(str)
        sector = rng.integers(0, 10, k).astype(str)
        unit = np.char.add(np.array(_UNIT)[rng.integers(0, 20, k)], np.array(_UNIT)[rng.integers(0, 20, k)])
        pcs = np.char.add(np.char.add(np.char.add(area, district), " "), np.char.add(sector, unit))
        out = pd.unique(np.concatenate([out, pcs.astype(object)]))
    return out[:n]


def make_frame(n_community: int = 480, *, community_only: bool = False, random_state=0) -> pd.DataFrame:
    """Make a synthetic library frame shaped like the Arts Council basic dataset.

    Parameters
    ----------
    n_community : int, default 480
        Number of community run (CR) plus independent (ICL) libraries open in 2023. The other
        codes (LA, C, LAU, Closed) are scaled to keep the real file's mix.
    community_only : bool, default False
        Only CR and ICL libraries (for very large benchmark frames).
    random_state : int or numpy.random.Generator
        Seed.

    Returns
    -------
    pandas.DataFrame
        One row per library service point with the Arts Council columns used downstream
        (``name, address1, authority, postcode, type, statutory_16 … statutory_23,
        operation_16 … operation_23, closed, opened, co_located, hours, staffed_hours``) plus
        three synthetic-only columns: ``library_id``, ``region`` and ``imd_decile``.
    """
    rng = np.random.default_rng(random_state)
    share_cr = FRAME_MIX["CR"] / (FRAME_MIX["CR"] + FRAME_MIX["ICL"])
    n_cr = int(round(n_community * share_cr))
    counts = {"CR": n_cr, "ICL": n_community - n_cr}
    scale = n_community / (FRAME_MIX["CR"] + FRAME_MIX["ICL"])
    for code in ("LA", "C", "LAU", "Closed"):
        counts[code] = 0 if community_only else max(1, int(round(FRAME_MIX[code] * scale)))
    n_auth = sum(k for _, k in REGIONS)
    auth_names = _place_names(rng, n_auth)
    auth_region = np.repeat([r for r, _ in REGIONS], [k for _, k in REGIONS])
    auth_weight = rng.lognormal(0, 0.5, n_auth)
    auth_cr = rng.lognormal(0, 0.9, n_auth)  # some councils transferred many libraries
    codes = np.concatenate([np.repeat(c, k) for c, k in counts.items()])
    n = len(codes)
    community = np.isin(codes, ["CR", "ICL"])
    auth_idx = np.where(community, rng.choice(n_auth, n, p=auth_weight * auth_cr / (auth_weight * auth_cr).sum()),
                        rng.choice(n_auth, n, p=auth_weight / auth_weight.sum()))
    base = np.array([m + p + s for m in _MODIFIER for p in _PREFIX for s in _SUFFIX], dtype=object)
    towns = pd.Series(base[rng.integers(0, len(base), n)])
    style = pd.Series(rng.choice([" Library", " Community Library", " Library", " Village Library"], n,
                                 p=[.45, .3, .15, .1])).where(codes != "LA", " Library")
    names = towns + style
    # a name is unique within its authority (as in the real file): number any repeats
    rep = names.groupby(auth_idx).cumcount()
    names = names.where(rep == 0, names + " " + (rep + 1).astype(str)).to_numpy(dtype=object)
    hours_mu = {"LA": 38, "C": 36, "CR": 18, "ICL": 15, "LAU": 0, "Closed": 0}
    hours = np.array([hours_mu[c] for c in codes], dtype=float) * rng.lognormal(0, 0.35, n)
    hours = np.where(np.isin(codes, ["LAU", "Closed"]), np.nan, np.clip(np.round(hours * 2) / 2, 3, 72))
    # History: community libraries became community run between 2008 and 2023.
    year_cr = np.clip(np.round(rng.normal(2015, 3.0, n)), 2008, 2023).astype(int)
    op23 = codes.copy()
    op16 = np.where(np.isin(codes, ["CR", "ICL"]) & (year_cr > 2016), "LA", codes)
    closed_year = np.full(n, np.nan)
    is_closed = codes == "Closed"
    # About a tenth of closures were community run in 2016 (the real file: 29 of 353 by 2023).
    was_cr = is_closed & (rng.random(n) < 0.1)
    op16 = np.where(was_cr, "CR", np.where(is_closed & (rng.random(n) < 0.3), "LA", op16))
    closed_year[is_closed] = np.where(op16[is_closed] == "Closed", rng.integers(2010, 2016, is_closed.sum()),
                                      rng.integers(2017, ACE_YEARS[-1] + 1, is_closed.sum()))
    op16 = np.where(is_closed & (op16 == "Closed") & (closed_year > 2016), "LA", op16)

    def op_at(year):
        out = np.where(np.isin(codes, ["CR", "ICL"]) & (year_cr > year), "LA", op23)
        return np.where(is_closed & (closed_year > year), op16, out)

    stat23 = np.where(codes == "CR", rng.random(n) < 0.4, np.isin(codes, ["LA", "C"]))
    frame = pd.DataFrame({
        "library_id": [f"SYN{i:06d}" for i in range(1, n + 1)],
        "name": names,
        "address1": (pd.Series(rng.integers(1, 200, n)).astype(str) + " "
                     + rng.choice(["High", "Church", "Station", "Market", "Mill"], n) + " Street").to_numpy(dtype=object),
        "authority": np.array(auth_names, dtype=object)[auth_idx],
        "region": auth_region[auth_idx],
        "postcode": _postcodes(rng, n),
        "type": np.where(codes == "LAU", "Static Library - unstaffed", "Static Library"),
        "statutory_16": np.where(np.isin(op16, ["LA", "C"]) | (op16 == "CR") & stat23, "Yes", "No"),
        "statutory_23": np.where(stat23 & ~is_closed, "Yes", "No"),
        "operation_16": op_at(2016), "operation_19": op_at(2019), "operation_21": op_at(2021),
        "operation_22": op_at(2022), "operation_23": op23,
        "closed": pd.array(np.where(is_closed, closed_year, np.nan), dtype="Int64"),
        "opened": pd.array(np.full(n, np.nan), dtype="Int64"),
        "co_located": np.where(rng.random(n) < 0.35, "Yes", "No"),
        "hours": hours,
        "staffed_hours": np.where(np.isin(codes, ["LA", "C"]), hours, np.nan),
        "imd_decile": rng.integers(1, 11, n),
        "year_community_run": np.where(np.isin(codes, ["CR", "ICL"]), year_cr, -1),
    })
    frame["year_community_run"] = frame["year_community_run"].replace(-1, np.nan).astype("Int64")
    frame = frame.sort_values(["authority", "name"], kind="stable").reset_index(drop=True)
    return frame


def prepare_frame(frame: pd.DataFrame, *, random_state=0) -> pd.DataFrame:
    """Add what the latent model needs to a real (normalised) frame, e.g. from :func:`cmlkit.frame.load_ace`.

    ``year_community_run`` is drawn within the window in which the library first appears as CR or
    ICL in the frame history (before 2016: 2008-2016); ``imd_decile`` is drawn uniformly when absent;
    missing weekly hours are filled with the median of community libraries. Real columns are kept.

    Parameters
    ----------
    frame : pandas.DataFrame
        A normalised real frame.
    random_state : int or numpy.random.Generator, default 0

    Returns
    -------
    pandas.DataFrame
    """
    rng = np.random.default_rng(random_state)
    f = frame.copy()
    n = len(f)
    if "year_community_run" not in f:
        years = np.array([2016, 2019, 2021, 2022, 2023])
        ops = np.column_stack([f[f"operation_{y % 100}"].isin(["CR", "ICL"]).to_numpy() for y in years])
        first = np.where(ops.any(axis=1), ops.argmax(axis=1), -1)
        lo = np.where(first <= 0, 2008, years[np.maximum(first - 1, 0)] + 1)
        hi = np.where(first < 0, 2016, years[np.maximum(first, 0)])
        drawn = rng.integers(lo, hi + 1)
        f["year_community_run"] = pd.array(np.where(first >= 0, drawn, -1)).astype("Int64")
        f.loc[first < 0, "year_community_run"] = pd.NA
    if "imd_decile" not in f:
        f["imd_decile"] = rng.integers(1, 11, n)
    community = f["operation_23"].isin(["CR", "ICL"])
    fill = float(np.nanmedian(f.loc[community, "hours"])) if community.any() else 15.0
    f["hours"] = f["hours"].fillna(fill).where(~community | (f["hours"] > 0), fill)
    f["statutory_23"] = np.where(f["statutory_23"].astype("boolean").fillna(False), "Yes", "No")
    return f


def in_scope(frame: pd.DataFrame, *, codes=("CR", "ICL"), year: int | None = None) -> pd.DataFrame:
    """Return the frame rows whose operation code in ``year`` is one of ``codes`` (synthetic frames).

    ``year`` None reads the frame's latest ``operation_YY`` column.

    Parameters
    ----------
    frame : pandas.DataFrame
        A synthetic frame.
    codes : tuple of str, default ("CR", "ICL")
    year : int, optional
        The year whose ``operation_YY`` column is read.

    Returns
    -------
    pandas.DataFrame
    """
    col = f"operation_{year % 100:02d}" if year is not None else latest_operation_column(frame)
    return frame.loc[frame[col].isin(codes)].reset_index(drop=True)


def latest_operation_column(frame: pd.DataFrame) -> str:
    """The ``operation_YY`` column of the latest year in a frame.

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    str
    """
    cols = sorted(c for c in frame.columns if re.fullmatch(r"operation_\d\d", c))
    if not cols:
        raise ValueError("the frame has no operation_YY column")
    return cols[-1]


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
        A scenario from :data:`cmlkit.synthetic_risk.SCENARIOS` applied after the default draws
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
    first = rng.choice(_FIRST, n)
    last = rng.choice(_LAST, n)
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
