"""Disclosure control for published tables: primary and secondary suppression of small cells."""

from __future__ import annotations


import numpy as np
import pandas as pd


def load_rules(path=None) -> dict:
    """``research/disclosure.yml`` (``k``: the smallest publishable base)."""
    from .research import read_spec

    return read_spec("disclosure.yml", path, what="disclosure rules")[0]

def suppress(table: pd.DataFrame, *, n_col: str = "base_n", k: int | None = None, group: str | None = None,
             blank=("estimate", "ci_low", "ci_high", "se")) -> pd.DataFrame:
    """Suppress cells with a base below ``k`` and, within ``group``, a second cell where one alone is hidden.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per published cell with its unweighted base in ``n_col``.
    k : int, optional
        Default from ``research/disclosure.yml``.
    group : str, optional
        Column naming the set of cells that add up to a published total (e.g. the domain variable);
        secondary suppression works within each group.
    blank : tuple of str
        Columns blanked in suppressed rows (those present).

    Returns
    -------
    pandas.DataFrame
        A copy with ``suppressed`` (bool) and ``suppression`` ("primary", "secondary" or "").
    """
    k = int(load_rules()["k"] if k is None else k)
    out = table.copy()
    n = pd.to_numeric(out[n_col], errors="coerce").fillna(0)
    primary = n < k
    secondary = pd.Series(False, index=out.index)
    if group is not None:
        for _, idx in out.groupby(group, sort=False).groups.items():
            idx = list(idx)
            if primary[idx].sum() == 1 and len(idx) > 1:
                rest = n[idx][~primary[idx]]
                secondary[rest.sort_values(kind="stable").index[0]] = True
    out["suppressed"] = (primary | secondary).to_numpy()
    out["suppression"] = np.where(primary, "primary", np.where(secondary, "secondary", ""))
    for col in blank:
        if col in out:
            out[col] = out[col].astype(float).where(~out["suppressed"])
    return out
