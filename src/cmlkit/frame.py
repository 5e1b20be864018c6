"""The population frame: every public library in England, with its governance over time.

Reads the Arts Council England basic dataset (``ace_basic_dataset_2023.csv``: operation and
statutory status in 2016, 2019, 2021, 2022, 2023) and the Libraries Taskforce 2016 dataset
(``libraries_england_2016.csv`` with ``authorities_england_2016.csv``), normalising governance
codes across years and spellings, deriving the English region from the library authority and a
stable library id.

Normalised codes: ``LA``, ``LAU``, ``C``, ``CR``, ``ICL``, ``Closed``, ``Temporary Closure``,
``Facility Not Open``, ``Unknown``. An unseen code raises :class:`~cmlkit.errors.FrameError`
naming the file, row and column.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit.errors import FrameError

ACE_YEARS = (2016, 2019, 2021, 2022, 2023)
CODES = ("LA", "LAU", "C", "CR", "ICL", "Closed", "Temporary Closure", "Facility Not Open", "Unknown")
OPEN_CODES = ("LA", "LAU", "C", "CR", "ICL")
ACE_CODE_MAP = {"LA": "LA", "LAU": "LAU", "C": "C", "CR": "CR", "ICL": "ICL", "CLOSED": "Closed",
                "TEMPORARY CLOSURE": "Temporary Closure", "FACILITY NOT OPEN": "Facility Not Open", "[UNKNOWN]": "Unknown",
                "UNKNOWN": "Unknown"}  # cmlkit's own spelling: a loaded frame written back out (cmlkit synth --frame) reloads
TASKFORCE_TYPE_MAP = {"LAL": "LA", "CL": "C", "CRL": "CR", "ICL": "ICL"}
TASKFORCE_CLOSURE_MAP = {"XL": "Closed", "XLR": "Closed", "XLT": "Temporary Closure"}
REGIONS = ("North East", "North West", "Yorkshire and The Humber", "East Midlands", "West Midlands",
           "East of England", "London", "South East", "South West")
ACE_REQUIRED = ("reporting", "name", "authority", "postcode", *(f"operation_{y % 100}" for y in ACE_YEARS),
                *(f"statutory_{y % 100}" for y in ACE_YEARS), "closed", "hours")


def _key(text) -> str:
    """Normalise an authority name for lookup (case, punctuation, '&', 'City of', 'County of')."""
    t = str(text).casefold().replace("&", " and ")
    t = re.sub(r"\b(city of|county of)\b", " ", t)
    t = re.sub(r"[^a-z0-9]+", " ", t)
    return " ".join(t.split())


@lru_cache(maxsize=1)
def authority_regions() -> pd.DataFrame:
    """Library authorities (current and 2016 names, with aliases) and their English region.

    Returns
    -------
    pandas.DataFrame
        One row per authority name or alias, with its region.
    """
    with resources.files("cmlkit.data").joinpath("authority_regions.csv").open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh, keep_default_na=False)
    return table


@lru_cache(maxsize=1)
def _region_lookup() -> dict:
    out = {}
    for row in authority_regions().itertuples(index=False):
        for name in [row.authority, *filter(None, row.aliases.split("|"))]:
            out[_key(name)] = row.region
    return out


def region_of(authorities: pd.Series, *, file="<frame>", column="authority") -> pd.Series:
    """Map library authority names to English regions (raises on an authority it does not know).

    Parameters
    ----------
    authorities : pandas.Series
        Library authority names.
    file, column : str
        Named in the error for an unknown authority.

    Returns
    -------
    pandas.Series
        The English region of each authority.
    """
    lookup = _region_lookup()
    keys = authorities.fillna("").map(_key)
    regions = keys.map(lookup)
    bad = regions.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise FrameError(f"unknown library authority {authorities.iloc[i]!r}; add it to cmlkit/data/authority_regions.csv",
                         file=file, row=i + 2, column=column)
    return regions


def normalise_codes(values: pd.Series, *, mapping: dict = ACE_CODE_MAP, file="<frame>", column="operation",
                    allow_blank: bool = True) -> pd.Series:
    """Normalise governance codes (``La``/``la`` -> ``LA``, ``closed`` -> ``Closed`` …).

    Parameters
    ----------
    values : pandas.Series
        Codes as found in the file.
    mapping : dict
        Upper-cased code -> normalised code.
    allow_blank : bool, default True
        Blank cells become missing; otherwise they are an error.

    Returns
    -------
    pandas.Series
        Normalised codes (missing where blank).

    Raises
    ------
    FrameError
        On a code the mapping does not know, naming the (1-based, header = row 1) row.
    """
    raw = values.astype("string").str.strip()
    blank = raw.isna() | (raw == "")
    out = raw.str.upper().map(mapping)
    bad = out.isna() & (~blank if allow_blank else pd.Series(True, index=raw.index))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise FrameError(f"unknown governance code {values.iloc[i]!r} (known: {sorted(set(mapping))})",
                         file=file, row=i + 2, column=column)
    return out.astype(object).where(~blank, None)


def _yes_no(values: pd.Series) -> pd.Series:
    v = values.astype("string").str.strip().str.lower()
    return v.map({"yes": True, "no": False, "t": True, "f": False, "true": True, "false": False}).astype("boolean")


def stable_id(*parts: pd.Series, prefix: str) -> pd.Series:
    """A stable id from normalised key columns (sha1); repeats get ``-2``, ``-3`` in file order.

    Parameters
    ----------
    *parts : pandas.Series
        Key columns, normalised before hashing.
    prefix : str
        Put in front of every id.

    Returns
    -------
    pandas.Series of str
    """
    key = parts[0].fillna("").map(_key)
    for p in parts[1:]:
        key = key + "|" + p.fillna("").astype(str).str.upper().str.replace(r"\s+", "", regex=True)
    ids = key.map(lambda k: prefix + hashlib.sha1(k.encode("utf-8")).hexdigest()[:10])
    rep = ids.groupby(ids).cumcount()
    return ids.where(rep == 0, ids + "-" + (rep + 1).astype(str))


def load_ace(path) -> pd.DataFrame:
    """Load the Arts Council basic dataset as a normalised frame.

    Parameters
    ----------
    path : str or path-like
        The dataset (CSV).

    Returns
    -------
    pandas.DataFrame
        One row per service point: ``library_id, name, authority`` (the library authority, from
        ``reporting``), ``region, postcode, uprn, operation_YY`` (normalised), ``statutory_YY``
        (boolean), ``closed, opened`` (years), ``co_located`` (boolean), ``hours,
        staffed_hours`` (numeric) for YY in 16, 19, 21, 22, 23.

    Raises
    ------
    FrameError
        Missing file or required column, unknown governance code or authority.
    """
    path = Path(path)
    if not path.is_file():
        raise FrameError("a folder, not a frame file" if Path(path).is_dir() else "frame file not found", file=path)
    df = _read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ACE_REQUIRED if c not in df.columns]
    if missing:
        raise FrameError(f"frame lacks required column {missing[0]!r} (is this the Arts Council basic dataset?)", file=path, row=1)
    authority = df["reporting"].where(df["reporting"].str.strip() != "", df["authority"])
    out = pd.DataFrame({
        "library_id": stable_id(authority, df["name"], df["postcode"], prefix="ACE"),
        "name": df["name"].str.strip(), "authority": authority.str.strip(),
        "region": region_of(authority, file=path, column="reporting"),
        "postcode": df["postcode"].str.strip().str.upper(), "uprn": df.get("uprn", pd.Series("", index=df.index)),
    })
    for y in ACE_YEARS:
        yy = f"{y % 100}"
        out[f"operation_{yy}"] = normalise_codes(df[f"operation_{yy}"], file=path, column=f"operation_{yy}")
        out[f"statutory_{yy}"] = _yes_no(df[f"statutory_{yy}"])
    out["closed"] = pd.to_numeric(df["closed"], errors="coerce").astype("Int64")
    out["opened"] = pd.to_numeric(df.get("opened", pd.Series("", index=df.index)), errors="coerce").astype("Int64")
    out["co_located"] = _yes_no(df.get("co_located", pd.Series("", index=df.index)))
    out["hours"] = pd.to_numeric(df["hours"], errors="coerce")
    out["staffed_hours"] = pd.to_numeric(df.get("staffed_hours", pd.Series("", index=df.index)), errors="coerce")
    _one_row_each(out, path, column="name")
    out.attrs["source"] = str(path)
    return out


def is_ace_file(path) -> bool:
    """Whether a frame file is the Arts Council basic dataset (its header has ``reporting``), not a synthetic frame.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    bool

    Raises
    ------
    FrameError
        When the file is missing or is no CSV table.
    """
    if not Path(path).is_file():
        raise FrameError("a folder, not a frame file" if Path(path).is_dir() else "frame file not found", file=path)
    return "reporting" in _read_csv(path, nrows=0).columns


def _read_csv(path, **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` of a frame file (UTF-8, BOM or not), with a file that is no CSV table a one-line FrameError."""
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **kwargs)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:   # EmptyDataError is a ValueError
        raise FrameError(f"not a frame table: a CSV file of libraries, one per row ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:100]})", file=path) from None


def _one_row_each(frame: pd.DataFrame, path, *, column: str) -> None:
    """A frame holds libraries, each once: none is an error, and so is a library id on two rows (named)."""
    if frame.empty:
        raise FrameError("frame has a header but no libraries", file=path, row=2)
    again = frame["library_id"].duplicated().to_numpy()
    if again.any():
        first = frame["library_id"].iloc[int(np.argmax(again))]
        rows = np.flatnonzero((frame["library_id"] == first).to_numpy())[:2] + 2
        raise FrameError(f"library {first!r} is on rows {rows[0]} and {rows[1]}", file=path, row=int(rows[1]), column=column)


def load_taskforce_2016(path, authorities_path=None) -> pd.DataFrame:
    """Load the Libraries Taskforce 2016 dataset with normalised codes and regions.

    ``operation_16`` is ``type`` normalised (LAL -> LA, CL -> C, CRL -> CR, ICL) or, for rows with
    a closure code, ``Closed``/``Temporary Closure`` (XL, XLR -> Closed; XLT -> Temporary Closure).

    Parameters
    ----------
    path : str or path-like
        The Taskforce 2016 dataset.
    authorities_path : str or path-like, optional
        Authority -> region table; default the packaged one.

    Returns
    -------
    pandas.DataFrame
        One row per library with ``operation_16`` and ``region``.
    """
    path = Path(path)
    if not path.is_file():
        raise FrameError("a folder, not a frame file" if Path(path).is_dir() else "frame file not found", file=path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for col in ("name", "authority_id", "postcode", "type", "closed", "hours"):
        if col not in df.columns:
            raise FrameError(f"frame lacks required column {col!r} (is this the Taskforce 2016 dataset?)", file=path, row=1)
    authorities_path = Path(authorities_path) if authorities_path else path.with_name("authorities_england_2016.csv")
    if not authorities_path.is_file():
        raise FrameError("authorities file not found", file=authorities_path)
    auth = pd.read_csv(authorities_path, dtype=str, keep_default_na=False)
    names = df["authority_id"].map(dict(zip(auth["authority_id"], auth["name"])))
    if names.isna().any():
        i = int(np.flatnonzero(names.isna().to_numpy())[0])
        raise FrameError(f"unknown authority_id {df['authority_id'].iloc[i]!r}", file=path, row=i + 2, column="authority_id")
    type_ = normalise_codes(df["type"], mapping=TASKFORCE_TYPE_MAP, file=path, column="type")
    closure = normalise_codes(df["closed"], mapping=TASKFORCE_CLOSURE_MAP, file=path, column="closed")
    out = pd.DataFrame({
        "library_id": "TF" + df["id"].str.zfill(5), "name": df["name"].str.strip(), "authority": names,
        "region": region_of(names, file=authorities_path, column="name"), "postcode": df["postcode"].str.strip().str.upper(),
        "type_16": type_, "closure_16": closure, "operation_16": closure.where(closure.notna(), type_),
        "statutory_16": _yes_no(df["statutory2016"]), "closed_year": pd.to_numeric(df["closed_year"], errors="coerce").astype("Int64"),
        "hours": pd.to_numeric(df["hours"], errors="coerce"), "staffed_hours": pd.to_numeric(df["staffhours"], errors="coerce"),
        "imd_multiple": pd.to_numeric(df["multiple"], errors="coerce"), "population": pd.to_numeric(df["population"], errors="coerce"),
    })
    blank = out["operation_16"].isna()
    if blank.any():
        i = int(np.flatnonzero(blank.to_numpy())[0])
        raise FrameError("row has neither a type nor a closure code", file=path, row=i + 2, column="type")
    return out


def operation_column(year: int | None = None) -> str:
    """The ``operation_YY`` column for the latest ACE year not after ``year`` (None: the latest frame year).

    The year normally comes from the wave's instrument (``frame_year``; see :mod:`cmlkit.waves`).

    Parameters
    ----------
    year : int, optional
        The wave's frame year; None gives the latest frame year.

    Returns
    -------
    str
    """
    year = ACE_YEARS[-1] if year is None else year
    usable = [y for y in ACE_YEARS if y <= year]
    if not usable:
        raise FrameError(f"no frame year at or before {year} (frame years: {ACE_YEARS})")
    return f"operation_{usable[-1] % 100}"


def in_scope(frame: pd.DataFrame, *, year: int | None = None, codes=("CR", "ICL"), column: str | None = None) -> pd.DataFrame:
    """Libraries whose governance in ``year`` (latest frame year not after it) is one of ``codes``.

    The one home of the scope rule; the synthetic generator's frames call it with their own column.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame (:func:`load_frame`).
    year : int, optional
        The frame year (:func:`operation_column`).
    codes : tuple of str, default ("CR", "ICL")
        Governance codes in scope: community managed libraries.
    column : str, optional
        Read the codes from this ``operation_YY`` column instead of the one ``year`` gives.

    Returns
    -------
    pandas.DataFrame
        The in-scope rows.
    """
    unknown = set(codes) - set(CODES)
    if unknown:
        raise FrameError(f"unknown governance codes in scope {sorted(unknown)}; expected from {CODES}")
    col = column or operation_column(year)
    return frame.loc[frame[col].isin(codes)].reset_index(drop=True)


def population_counts(frame: pd.DataFrame, *, year: int | None = None, by=("region", "operation")) -> pd.DataFrame:
    """Counts of libraries by region x governance code in ``year`` (``operation`` = that year's code).

    Parameters
    ----------
    frame : pandas.DataFrame
    year : int, optional
        The frame year.
    by : tuple of str, default ("region", "operation")

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns and ``N``.
    """
    col = operation_column(year)
    f = frame.assign(operation=frame[col])
    return f.groupby(list(by), dropna=False).size().rename("n").reset_index()


def load_frame(path) -> pd.DataFrame:
    """Load a frame file: the Arts Council basic dataset, or a synthetic frame written by ``cmlkit synth``.

    Parameters
    ----------
    path : str or path-like
        The frame file.

    Returns
    -------
    pandas.DataFrame
        The normalised frame (:func:`load_ace`).
    """
    path = Path(path)
    if not path.is_file():
        raise FrameError("a folder, not a frame file" if Path(path).is_dir() else "frame file not found", file=path)
    if is_ace_file(path):
        return load_ace(path)
    head = _read_csv(path, nrows=0).columns
    needed = {"library_id", "name", "authority", "postcode", "region", "operation_23"}
    missing = sorted(needed - set(head))
    if missing:
        raise FrameError(f"frame lacks required column {missing[0]!r}", file=path, row=1)
    frame = _read_csv(path)
    _one_row_each(frame, path, column="library_id")
    for y in ACE_YEARS:
        col = f"operation_{y % 100}"
        if col in frame:
            frame[col] = normalise_codes(frame[col], file=path, column=col)
    bad = ~frame["region"].isin(REGIONS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise FrameError(f"unknown region {frame['region'].iloc[i]!r}", file=path, row=i + 2, column="region")
    return frame
