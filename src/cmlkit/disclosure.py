"""Disclosure control for published tables: primary, numerator and secondary suppression of small cells.

The rules are data (``research/disclosure.yml``):

* **primary** -- a cell whose base (unweighted responses) is below ``k`` is not published;
* **numerator** -- a published share also reveals how many responses are in its numerator ("2 of 9
  libraries" names two libraries), and its complement ("7 of 9" says two are not): a share whose
  unweighted numerator count, or base minus numerator, is between 1 and ``numerator.k - 1`` is not
  published (as the ONS and NCHS presentation standards treat small counts behind a proportion);
* **secondary** -- where exactly one cell of a group that adds up to a published total is hidden, the
  next smallest cell of that group is hidden too, so the hidden cell cannot be recovered by subtraction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from cmlkit.errors import DisclosureError
from cmlkit.research import SpecRecord, read_spec


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class DisclosureRules(SpecRecord):
    """The suppression rules of ``research/disclosure.yml``, checked, with their defaults.

    Parameters
    ----------
    k : int
        The smallest publishable base (unweighted responses); required.
    numerator : Mapping, optional
        ``k`` (the smallest publishable numerator count; default the base ``k``) and ``complement``
        (whether base minus numerator counts too; default True). Always present, defaults filled in.
    source : str, optional
        The file read.

    Raises
    ------
    DisclosureError
        A missing or non-positive ``k``, an unknown key of ``numerator``, or a non-boolean ``complement``.
    """

    k: int | None = None
    numerator: Mapping | None = None

    error = DisclosureError
    file = "research/disclosure.yml"

    def __post_init__(self):
        if not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1:
            self.fail(f"k must be a positive integer, not {self.k!r}")
        num = dict(self.numerator or {})
        unknown = set(num) - {"k", "complement"}
        if unknown:
            self.fail(f"numerator: unknown key(s) {sorted(unknown)} (known: ['complement', 'k'])")
        num.setdefault("k", self.k)
        num.setdefault("complement", True)
        if not isinstance(num["k"], int) or isinstance(num["k"], bool) or num["k"] < 1:
            self.fail(f"numerator.k must be a positive integer, not {num['k']!r}")
        if not isinstance(num["complement"], bool):
            self.fail(f"numerator.complement must be true or false, not {num['complement']!r}")
        object.__setattr__(self, "numerator", num)


def load_rules(path=None) -> DisclosureRules:
    """Read and check the disclosure rules, ``research/disclosure.yml`` (or ``path``).

    Parameters
    ----------
    path : str or path-like, optional
        The rules file; default ``research/disclosure.yml`` in the project root.

    Returns
    -------
    DisclosureRules
        ``k`` (the smallest publishable base) and ``numerator`` (``k``, default the base ``k``;
        ``complement``, default True); a read-only mapping.

    Raises
    ------
    DisclosureError
        A one-line message naming the file: it cannot be read, is not a mapping, has an unknown key or a
        value that is not usable (see :class:`DisclosureRules`).
    """
    spec, path = read_spec("disclosure.yml", path, error=DisclosureError, what="disclosure rules")
    return DisclosureRules.from_mapping(spec, path)


def small_numerator(num: pd.Series, base: pd.Series, *, k: int, complement: bool = True) -> pd.Series:
    """True where a share's numerator count (or, with ``complement``, base minus it) is from 1 to k - 1.

    Parameters
    ----------
    num : pandas.Series
        Unweighted numerator counts (coerced to numbers; missing is never small).
    base : pandas.Series
        Unweighted bases, aligned with ``num``.
    k : int
        The smallest publishable numerator count.
    complement : bool, default True
        Also flag rows where ``base - num`` is from 1 to k - 1.

    Returns
    -------
    pandas.Series
        Boolean, indexed like ``num``.
    """
    num = pd.to_numeric(num, errors="coerce")
    base = pd.to_numeric(base, errors="coerce")
    small = num.between(1, k - 1)
    if complement:
        small |= (base - num).between(1, k - 1)
    return small.fillna(False).astype(bool)


def suppress(table: pd.DataFrame, *, n_col: str = "base_n", k: int | None = None, group: str | None = None,
             numerator_col: str = "numerator_n", numerator_k: int | None = None,
             blank=("estimate", "ci_low", "ci_high", "se")) -> pd.DataFrame:
    """Suppress small cells: base below ``k``, a small numerator behind a share, and a second cell where one alone is hidden.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per published cell with its unweighted base in ``n_col`` and, for shares, the
        unweighted count of responses in the numerator in ``numerator_col`` (missing for means).
    k : int, optional
        Smallest publishable base; default from ``research/disclosure.yml``.
    group : str, optional
        Column naming the set of cells that add up to a published total (e.g. the domain variable);
        secondary suppression works within each group.
    numerator_col : str, default "numerator_n"
        Applied when the table has this column.
    numerator_k : int, optional
        Smallest publishable numerator count; default ``numerator.k`` from the rules (else ``k``).
    blank : tuple of str
        Columns blanked in suppressed rows (those present).

    Returns
    -------
    pandas.DataFrame
        A copy with ``suppressed`` (bool) and ``suppression`` ("primary", "numerator", "secondary" or "").
    """
    rules = load_rules() if k is None or numerator_k is None else {"k": k, "numerator": {"k": numerator_k, "complement": True}}
    k = int(rules["k"] if k is None else k)
    nk = int(rules["numerator"]["k"] if numerator_k is None else numerator_k)
    out = table.copy()
    n = pd.to_numeric(out[n_col], errors="coerce").fillna(0)
    primary = n < k
    numerator = pd.Series(False, index=out.index)
    if numerator_col in out:
        numerator = ~primary & small_numerator(out[numerator_col], n, k=nk, complement=bool(rules["numerator"].get("complement", True)))
    hidden = primary | numerator
    secondary = pd.Series(False, index=out.index)
    if group is not None:
        for _, idx in out.groupby(group, sort=False).groups.items():
            idx = list(idx)
            if hidden[idx].sum() == 1 and len(idx) > 1:
                rest = n[idx][~hidden[idx]]
                secondary[rest.sort_values(kind="stable").index[0]] = True
    out["suppressed"] = (hidden | secondary).to_numpy()
    out["suppression"] = np.where(primary, "primary", np.where(numerator, "numerator", np.where(secondary, "secondary", "")))
    for col in blank:
        if col in out:
            out[col] = out[col].astype(float).where(~out["suppressed"])
    return out
