"""Paper-entry duplicates: one paper form keyed twice (same library, same day, same closed answers).

Staff who type paper forms into a spreadsheet sometimes enter a form twice, retyping the free text with a
slip (or leaving it out), so the exact-duplicate check misses the pair. The rule is data, in the instrument's
``rules.yaml``::

    duplicate_entries:
      id: paper_duplicate
      library: [library_name, library_postcode]   # compared loosely (case, spaces, punctuation)
      day: completed_on                            # the date on the form (else the entry date)
      answers: closed                              # every select_one, select_multiple and number question
      message: same library, same day and the same answer to every closed question as response

Entries that agree on all of them are one form: the first entry is kept, the later ones are removed with the
reason (marked for review, since two people can give the same closed answers on the same day).
"""

from __future__ import annotations

import pandas as pd

from cmlkit.instrument import find_root
from cmlkit.yaml_text import load_yaml

CLOSED = ("select_one", "select_multiple", "integer", "decimal")


def load_rule(inst, *, root=None) -> dict | None:
    """The instrument's ``duplicate_entries`` rule, or None when it has none.

    Parameters
    ----------
    inst : Instrument
        Its ``instrument`` names the folder ``survey_instruments/<instrument>/``.
    root : path, optional
        Project root (found from the working directory when omitted).

    Returns
    -------
    dict or None
        The ``duplicate_entries`` mapping of ``rules.yaml`` (keys ``id``, ``library``, ``day``,
        ``answers``, ``message``); None when the file is missing or has no such key.
    """
    path = find_root(root) / "survey_instruments" / inst.instrument / "rules.yaml"
    if not path.is_file():
        return None
    return (load_yaml(path.read_text(encoding="utf-8")) or {}).get("duplicate_entries")


def _loose(values: pd.Series) -> pd.Series:
    return values.astype("string").fillna("").str.lower().str.replace(r"[^0-9a-z]", "", regex=True)


def duplicate_entries(coded: pd.DataFrame, inst, rule: dict) -> tuple[pd.Series, pd.Series]:
    """Which rows repeat an earlier entry under ``rule``, and the response id of that earlier entry.

    Two rows are one form when they agree, compared loosely (lower case, only letters and digits), on the
    rule's ``library`` columns that the data hold (default ``["library_name"]``), on the day (the rule's
    ``day`` column, else the date of ``_start``) and on the ``answers`` (``closed``, the default: every
    select_one, select_multiple, integer and decimal question; or a list of question ids). Rows with
    a blank first library column are never duplicates.

    Parameters
    ----------
    coded : pandas.DataFrame
        The responses in play (choice labels coded to names), with ``response_id`` and ``_start``.
    inst : Instrument
    rule : dict
        The rule as :func:`load_rule` returns it.

    Returns
    -------
    (pandas.Series of bool, pandas.Series of str)
        Row is a later entry of the same form; the first entry's ``response_id`` (same index as ``coded``).
    """
    lib_cols = [c for c in rule.get("library", ["library_name"]) if c in coded]
    day_col = rule.get("day")
    if day_col in coded:
        day = _loose(coded[day_col])
    else:
        day = pd.to_datetime(coded["_start"], errors="coerce").dt.strftime("%Y%m%d").fillna("")
    answers = [q["id"] for q in inst.questions if q["type"] in CLOSED] if rule.get("answers", "closed") == "closed" \
        else list(rule["answers"])
    key = pd.concat([_loose(coded[c]) for c in lib_cols] + [day], axis=1)
    key = key.join(coded[answers].astype("string").fillna("\x00"), rsuffix="_a")
    has_library = pd.concat([_loose(coded[c]) for c in lib_cols[:1]], axis=1).iloc[:, 0] != "" if lib_cols else pd.Series(False, index=coded.index)
    h = pd.util.hash_pandas_object(key, index=False)
    h.index = coded.index
    later = h.duplicated(keep="first") & has_library
    first = coded["response_id"].astype(str).groupby(h.to_numpy()).transform("first")
    return later, first
