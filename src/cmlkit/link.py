"""Link survey responses to libraries in the population frame.

Each response is matched on postcode, normalised library name and authority:

1. a **manual override** (``survey_instruments/<instrument>/link_overrides.csv``: ``library_name,
   postcode, library_id, note``, matched on the normalised name and postcode) is applied first, so a
   reviewer's decision survives re-exports (status ``override``);
2. **exact**: the same postcode and a name match of at least ``exact_name`` (token-set ratio on
   normalised names, which drop words such as 'library', 'community', 'friends of');
3. **fuzzy**: a weighted score of name similarity (0.6, token-sort ratio), postcode agreement (0.3:
   full 100, sector 80, district 50) and authority similarity (0.1) over every frame library, the
   weights renormalised over the parts the respondent gave; the best candidate
   with score >= ``min_score`` and at least ``margin`` points ahead of the next is linked;
4. otherwise **ambiguous** (two close candidates, both reported) or **unmatched**.

Two responses linked to the same library are flagged (``duplicate_link``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from cmlkit.errors import FrameError
from cmlkit.instrument import find_root

STATUSES = ("override", "exact", "fuzzy", "ambiguous", "unmatched")
_DROP = re.compile(r"\b(the|library|libraries|community|village|friends|of|and|hub|centre|center|branch|public)\b")


def normalise_name(values: pd.Series) -> pd.Series:
    """Lower-case, ASCII, '&' -> 'and', generic words dropped: 'Friends of Ashdon Library' -> 'ashdon'.

    Parameters
    ----------
    values : pandas.Series
        Library names.

    Returns
    -------
    pandas.Series of str
    """
    s = values.fillna("").astype(str).str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii").str.lower()
    s = s.str.replace("&", " and ", regex=False).str.replace(r"[^a-z0-9 ]", " ", regex=True)
    return s.str.replace(_DROP, " ", regex=True).str.split().str.join(" ")


def normalise_postcode(values: pd.Series) -> pd.Series:
    """Upper case without spaces (``ab1 2cd`` -> ``AB12CD``); blank -> ''.

    Parameters
    ----------
    values : pandas.Series
        Postcodes as typed.

    Returns
    -------
    pandas.Series of str
    """
    return values.fillna("").astype(str).str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)


def normalise_authority(values: pd.Series) -> pd.Series:
    """Authority without 'council', 'county', 'city of', 'borough' and punctuation.

    Parameters
    ----------
    values : pandas.Series
        Local authority names.

    Returns
    -------
    pandas.Series of str
    """
    s = values.fillna("").astype(str).str.lower().str.replace("&", " and ", regex=False)
    s = s.str.replace(r"\b(council|county|city of|borough|metropolitan|district|london borough of|royal borough of)\b", " ", regex=True)
    return s.str.replace(r"[^a-z0-9 ]", " ", regex=True).str.split().str.join(" ")


def _postcode_score(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """100 same postcode, 80 same sector (all but the last two letters), 50 same district, else 0."""
    a_out = np.char.rstrip(np.array([x[:-3] if len(x) > 4 else x for x in a], dtype=str))
    b_out = np.array([x[:-3] if len(x) > 4 else x for x in b], dtype=str)
    a_sec = np.array([x[:-2] for x in a], dtype=str)
    b_sec = np.array([x[:-2] for x in b], dtype=str)
    full = (a[:, None] == b[None, :]) & (a[:, None] != "")
    sector = (a_sec[:, None] == b_sec[None, :]) & (a_sec[:, None] != "")
    district = (a_out[:, None] == b_out[None, :]) & (a_out[:, None] != "")
    return np.where(full, 100.0, np.where(sector, 80.0, np.where(district, 50.0, 0.0)))


def load_overrides(instrument: str, *, root=None) -> pd.DataFrame:
    """The manual link overrides of an instrument (empty when the file does not exist).

    Parameters
    ----------
    instrument : str
        Instrument id (``survey_instruments/<instrument>/link_overrides.csv``).
    root : path-like, optional
        Project root.

    Returns
    -------
    pandas.DataFrame
        ``library_name, postcode, library_id, note``.
    """
    path = find_root(root) / "survey_instruments" / instrument / "link_overrides.csv"
    if not path.is_file():
        return pd.DataFrame(columns=["library_name", "postcode", "library_id", "note"])
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"library_name", "postcode", "library_id"} - set(table.columns)
    if missing:
        raise FrameError(f"link overrides lack column {sorted(missing)[0]!r}", file=path, row=1)
    return table


def threads() -> int:
    """Threads for rapidfuzz's ``cdist``: this kernel's share of the CPUs when a pipeline runs it, else all of them.

    Returns
    -------
    int
        ``CMLKIT_THREADS`` (set by :func:`cmlkit.run_kernel.kernel_environment` for each kernel) when it holds a
        positive integer; otherwise -1, rapidfuzz's "every CPU".
    """
    try:
        return max(1, int(os.environ["CMLKIT_THREADS"]))
    except (KeyError, ValueError):
        return -1


def _top_two(total: np.ndarray) -> np.ndarray:
    """Columns of each row's highest and second-highest score, the first of equals first (as a stable sort of
    ``-total`` orders them), without sorting the row: two ``argmax`` passes. One column gives its index twice."""
    first = total.argmax(axis=1)
    rest = total.copy()
    rest[np.arange(len(total)), first] = -np.inf
    return np.column_stack([first, rest.argmax(axis=1)])


def link_responses(responses: pd.DataFrame, frame: pd.DataFrame, *, overrides: pd.DataFrame | None = None,
                   exact_name: float = 90, min_score: float = 75, margin: float = 8, chunk: int = 2000) -> pd.DataFrame:
    """Match each response to one frame library.

    Parameters
    ----------
    responses : pandas.DataFrame
        ``response_id, library_name, postcode`` and optionally ``local_authority``.
    frame : pandas.DataFrame
        ``library_id, name, postcode, authority`` (e.g. the in-scope rows of :func:`cmlkit.frame.load_ace`).
    overrides : pandas.DataFrame, optional
        Manual decisions (see module docstring).
    exact_name, min_score, margin : float
        Thresholds (0-100) for exact and fuzzy links and the lead over the runner-up.

    Returns
    -------
    pandas.DataFrame
        ``response_id, library_id, status, score, name_score, postcode_score, runner_up,
        runner_up_score, duplicate_link`` (one row per response, in input order).
    """
    from rapidfuzz import fuzz, process

    for col in ("library_id", "name", "postcode", "authority"):
        if col not in frame:
            raise FrameError(f"frame lacks column {col!r} needed for linkage")
    r_name = normalise_name(responses["library_name"]).to_numpy(dtype=str)
    r_pc = normalise_postcode(responses["postcode"]).to_numpy(dtype=str)
    r_au = normalise_authority(responses.get("local_authority", pd.Series("", index=responses.index))).to_numpy(dtype=str)
    f_name = normalise_name(frame["name"]).to_numpy(dtype=str)
    f_pc = normalise_postcode(frame["postcode"]).to_numpy(dtype=str)
    f_au = normalise_authority(frame["authority"]).to_numpy(dtype=str)
    ids = frame["library_id"].to_numpy(dtype=object)
    workers = threads()
    n = len(responses)
    best = np.full(n, -1)
    second = np.full(n, -1)
    score = np.zeros(n)
    score2 = np.zeros(n)
    name_s = np.zeros(n)
    pc_s = np.zeros(n)
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        ns = process.cdist(list(r_name[sl]), list(f_name), scorer=fuzz.token_sort_ratio, workers=workers).astype(float)
        ps = _postcode_score(r_pc[sl], f_pc)
        au = process.cdist(list(r_au[sl]), list(f_au), scorer=fuzz.token_set_ratio, workers=workers).astype(float)
        has_pc = (r_pc[sl] != "")[:, None]
        has_au = (r_au[sl] != "")[:, None]
        # weights over the parts the respondent gave (a blank postcode is no evidence either way)
        total = (0.6 * ns + 0.3 * ps * has_pc + 0.1 * au * has_au) / (0.6 + 0.3 * has_pc + 0.1 * has_au)
        top2 = _top_two(total)
        rows = np.arange(total.shape[0])
        best[sl], second[sl] = top2[:, 0], top2[:, 1] if total.shape[1] > 1 else -1
        score[sl], score2[sl] = total[rows, top2[:, 0]], total[rows, top2[:, 1]] if total.shape[1] > 1 else 0
        name_s[sl], pc_s[sl] = ns[rows, top2[:, 0]], ps[rows, top2[:, 0]]
    status = np.full(n, "unmatched", dtype=object)
    exact = (pc_s == 100) & (name_s >= exact_name)
    fuzzy = ~exact & (score >= min_score) & (score - score2 >= margin)
    ambiguous = ~exact & ~fuzzy & (score >= min_score)
    status[exact], status[fuzzy], status[ambiguous] = "exact", "fuzzy", "ambiguous"
    linked = np.where(exact | fuzzy, ids[best], None)
    out = pd.DataFrame({"response_id": responses["response_id"].to_numpy(), "library_id": linked, "status": status,
                        "score": score.round(2), "name_score": name_s.round(2), "postcode_score": pc_s,
                        "runner_up": np.where(second >= 0, ids[np.maximum(second, 0)], None), "runner_up_score": score2.round(2)})
    if overrides is not None and len(overrides):
        key_r = pd.Series(r_name) + "|" + pd.Series(r_pc)
        key_o = normalise_name(overrides["library_name"]) + "|" + normalise_postcode(overrides["postcode"])
        table = dict(zip(key_o, overrides["library_id"]))
        unknown = sorted(set(table.values()) - set(ids) - {""})
        if unknown:
            raise FrameError(f"link override names library_id {unknown[0]!r}, which is not in the frame")
        hit = key_r.map(table)
        m = hit.notna().to_numpy()
        out.loc[m, "library_id"] = hit[m].replace("", None).to_numpy()
        out.loc[m, "status"] = np.where(hit[m] == "", "unmatched", "override")
    counts = out["library_id"].value_counts()
    out["duplicate_link"] = out["library_id"].map(counts).fillna(0).to_numpy() > 1
    return out


def link_report(links: pd.DataFrame) -> pd.DataFrame:
    """Responses a person must look at: ambiguous, unmatched and duplicate links.

    Parameters
    ----------
    links : pandas.DataFrame
        :func:`link_responses` output.

    Returns
    -------
    pandas.DataFrame
        The rows to review, with their status.
    """
    need = links["status"].isin(["ambiguous", "unmatched"]) | links["duplicate_link"]
    return links.loc[need].reset_index(drop=True)


def status_table(links: pd.DataFrame) -> pd.DataFrame:
    """How many responses ended in each linkage status, and how many duplicate a link already made.

    Parameters
    ----------
    links : pandas.DataFrame
        The result of :func:`link_responses` (``status`` and ``duplicate_link`` columns).

    Returns
    -------
    pandas.DataFrame
        ``status, responses``: one row per status (most frequent first), then the row
        ``linked to a library already linked``.
    """
    status = links["status"].value_counts().rename_axis("status").rename("responses").reset_index()
    dup = pd.DataFrame({"status": ["linked to a library already linked"],
                        "responses": [int(links["duplicate_link"].sum())]})
    return pd.concat([status, dup], ignore_index=True)
