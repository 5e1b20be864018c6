"""The synthetic library frame: shaped like the Arts Council basic dataset (regions, governance codes
by year, hours, deprivation), with invented names and postcodes, and the scope helpers a synthetic
wave uses. Part of the synthetic generator (:mod:`cmlkit.synthetic`)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cmlkit import frame as F
from cmlkit.frame import ACE_YEARS


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
FIRST_NAMES = ["Alison", "Amir", "Anne", "Barbara", "Bernard", "Brian", "Carol", "Chloé", "Christine", "Colin",
          "David", "Deborah", "Derek", "Diane", "Elaine", "Frances", "Geoffrey", "Gillian", "Graham",
          "Helen", "Hilary", "Ian", "Janet", "Jean", "John", "Judith", "Kathleen", "Keith", "Linda",
          "Malcolm", "Margaret", "Martin", "Maureen", "Nigel", "Pamela", "Patricia", "Peter", "Priya",
          "Richard", "Roger", "Ruth", "Sandra", "Shirley", "Stephen", "Susan", "Trevor", "Valerie", "Zoë"]
LAST_NAMES = ["Ahmed", "Atkinson", "Bailey", "Barker", "Bennett", "Booth", "Brown", "Chapman", "Clarke",
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
    return F.in_scope(frame, codes=codes, column=col)


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
