"""The case-study frame in the field: the public table, the private fieldwork sheet, and replacing a library.

The public table lists the chosen libraries and reserves without names or contact details; the fieldwork
sheet (private) says whom to contact; :func:`replace` swaps a library that declines for the first unused
reserve of its slot that keeps the design's constraints, and logs it (:data:`REPLACEMENT_LOG_COLUMNS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlkit.errors import SamplingError
from cmlkit.sampling import check_constraints


PUBLIC_COLUMNS = ["library_id", "role", "status", "stratum", "cluster", "cluster_name", "region", "type", "pik",
                  "reason", "reserve_for", "reserve_rank"]


def public_table(table: pd.DataFrame) -> pd.DataFrame:
    """The public sampling-frame table: chosen libraries and reserves, no names or contact details.

    Parameters
    ----------
    table : pandas.DataFrame
        The selection table.

    Returns
    -------
    pandas.DataFrame
    """
    t = table.loc[table["status"].isin(["selected", "reserve", "declined"]) | (table["role"] != "")]
    cols = [c for c in PUBLIC_COLUMNS if c in t]
    order = {"main": 0, "typical": 1, "deviant": 2, "reserve": 3}
    return t[cols].assign(_o=t["role"].map(order)).sort_values(["_o", "reserve_for", "reserve_rank", "library_id"],
                                                               kind="stable", na_position="first").drop(columns="_o").reset_index(drop=True)


def fieldwork_sheet(table: pd.DataFrame, frame: pd.DataFrame, contacts: pd.DataFrame | None) -> pd.DataFrame:
    """The private fieldwork sheet: who to contact for each chosen library and reserve.

    Parameters
    ----------
    table : pandas.DataFrame
        The selection table.
    frame : pandas.DataFrame
        The library frame (names, postcodes).
    contacts : pandas.DataFrame or None
        Contact details by library.

    Returns
    -------
    pandas.DataFrame
        Private: never published.
    """
    t = public_table(table).merge(table[["library_id", "response_id", "authority"]], on="library_id", how="left")
    t = t.merge(frame[["library_id", "name", "postcode"]].rename(columns={"name": "library_name"}), on="library_id", how="left")
    if contacts is not None and "response_id" in t:
        t = t.merge(contacts, on="response_id", how="left")
    return t


def slot_of(table: pd.DataFrame, library_id: str) -> str:
    """The library a case-study *slot* was drawn for: itself, or, for a reserve brought in, the library it is a reserve for.

    Parameters
    ----------
    table : pandas.DataFrame
        The selection table.
    library_id : str

    Returns
    -------
    str
    """
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

    Parameters
    ----------
    table : pandas.DataFrame
        The selection table (the draw's state).
    library_id : str
        The library that declined.
    reason : str
        Why, for the log.
    spec : dict
        The case-study specification (constraints).
    date : str
        ISO date, for the log.

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
