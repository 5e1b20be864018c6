"""What each library authority has done recently: closures and transfers, from public data.

Network staff read a library's reasons beside its council's recent record: has the council closed
libraries, or handed them to community groups, lately? :func:`authority_context` counts, per
authority and from the Arts Council basic dataset only, the libraries open in the first and last
frame years, closures (any governance; :func:`cmlkit.closure.closure_years`) and transfers to
community running (council-run, commissioned or unstaffed in one frame year, community run or
independent in the next) in two periods, moves back to the council, and the community libraries
now. This is public data, not a prediction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit import closure as C

COUNCIL = ("LA", "LAU", "C")


def authority_context(frame: pd.DataFrame, *, since: int = 2019) -> pd.DataFrame:
    """One row per authority with its recent closures and transfers, and a sentence of context.

    Parameters
    ----------
    frame : pandas.DataFrame
        The frame with ``authority``, ``region``, ``operation_YY`` and ``closed``.
    since : int, default 2019
        Start of the recent period (a frame year); the earlier period runs from the first frame year.

    Returns
    -------
    pandas.DataFrame
        ``authority, region, libraries_open_<first>, libraries_open_<last>, closed_<first>_<since>,
        closed_<since>_<last>, to_community_<first>_<since>, to_community_<since>_<last>,
        back_to_council_<since>_<last>, community_now, context``, sorted by authority.
    """
    years = C.YEARS
    first, last = years[0], years[-1]
    codes = C._carried(C._codes(frame))
    cy = C.closure_years(frame)
    j_since = years.index(since)
    moved_in = np.zeros((len(frame), len(years) - 1), dtype=bool)
    moved_back = np.zeros_like(moved_in)
    for k in range(len(years) - 1):
        moved_in[:, k] = np.isin(codes[:, k], COUNCIL) & np.isin(codes[:, k + 1], C.COMMUNITY)
        moved_back[:, k] = np.isin(codes[:, k], C.COMMUNITY) & np.isin(codes[:, k + 1], COUNCIL)
    d = pd.DataFrame({
        "authority": frame["authority"].to_numpy(),
        "region": frame["region"].to_numpy() if "region" in frame else "",
        f"libraries_open_{first}": np.isin(codes[:, 0], C.OPEN),
        f"libraries_open_{last}": np.isin(codes[:, -1], C.OPEN),
        f"closed_{first}_{since}": (cy > first) & (cy <= since),
        f"closed_{since}_{last}": (cy > since) & (cy <= last),
        f"to_community_{first}_{since}": moved_in[:, :j_since].any(axis=1),
        f"to_community_{since}_{last}": moved_in[:, j_since:].any(axis=1),
        f"back_to_council_{since}_{last}": moved_back[:, j_since:].any(axis=1),
        "community_now": np.isin(codes[:, -1], C.COMMUNITY),
    })
    out = d.groupby(["authority", "region"], sort=True).sum().astype(int).reset_index()
    out["context"] = context_sentence(out, since=since, last=last)
    return out


def _n(count: pd.Series, one: str, many: str) -> pd.Series:
    return count.astype(str) + " " + np.where(count == 1, one, many)


def context_sentence(table: pd.DataFrame, *, since: int, last: int) -> pd.Series:
    """Plain words per authority, e.g. 'Since 2019 the council closed 2 libraries and moved 3 to
    community running; 12 community libraries now (public data, not a prediction).'

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`authority_context` output.
    since : int
        First year counted.
    last : int
        The last frame year.

    Returns
    -------
    pandas.Series of str
    """
    closed, moved = table[f"closed_{since}_{last}"], table[f"to_community_{since}_{last}"]
    what = np.select([(closed > 0) & (moved > 0), closed > 0, moved > 0],
                     ["closed " + _n(closed, "library", "libraries") + " and moved " + moved.astype(str) + " to community running",
                      "closed " + _n(closed, "library", "libraries"),
                      "moved " + _n(moved, "library", "libraries") + " to community running"],
                     default="neither closed libraries nor moved any to community running")
    return (f"Since {since} the council " + pd.Series(what, index=table.index) + "; "
            + _n(table["community_now"], "community library", "community libraries") + f" in {last} (public data, not a prediction).")
