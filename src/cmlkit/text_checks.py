"""The cleaning checks that repair text as it was exported or pasted (mojibake, invisible characters), and
the check that a date answer is a date.

Both run first among the value checks, so every later check (choice labels, 'other' recodes, numbers,
personal data) reads the repaired text; each repair is a ``change_response`` entry in the cleaning log.
Where the text may hold personal data the log gives the repaired text as a ``sha256:`` digest, as it
gives the old one: always for a contact detail, and for free text where a later check changed it again
(``pii_text`` redacting what the repair revealed); applying the log makes the repair again
(:data:`cmlkit.text_repair.REPAIRS`) and checks it against the digest.
The checks are registered in :mod:`cmlkit.check_registry` like those of :mod:`cmlkit.clean_checks`.
"""

from __future__ import annotations

from cmlkit.check_registry import register_check
from cmlkit.datetimes import answer_dates
from cmlkit.clean_checks import is_private_text
from cmlkit.text_repair import control_repairs, mojibake_repairs


@register_check("mojibake", phase="values", order=110)
def check_mojibake(P, inst):
    """Repair UTF-8 text read as cp1252 in every question but select_multiple (``mojibake``).

    Runs first among the value checks: every later check parses the text (labels, 'other' recodes,
    numbers such as 'Â£240').

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes` (``P.coded`` the values in play).
    inst : Instrument
    """
    for q in inst.questions:
        if q["type"] != "select_multiple":
            fixed = mojibake_repairs(P.coded[q["id"]])  # None: nothing to repair (most columns), no full-length mask
            if fixed is not None:
                private = is_private_text(q)
                P.add(fixed.notna(), q["id"], fixed, "change_response", "mojibake",
                      "UTF-8 text read as cp1252 (mojibake) repaired", private=private, hide_new=private)


@register_check("control_characters", phase="values", order=115)
def check_control_characters(P, inst):
    """Remove invisible control and zero-width characters from text answers (``control_characters``).

    A character such as ``\\x01``, DEL, a zero-width space or a byte order mark pasted into a form
    (:data:`cmlkit.text_repair.CONTROL`; tabs and line breaks are kept) would go into the clean data
    unseen, and split a library's name or postcode from the frame's. The answer without it is
    proposed; one that held nothing else is blanked. Numbers and choices read past such characters
    already (the ``numbers`` and ``choice_label`` checks), so only text questions are searched.

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes` (``P.coded`` the values in play).
    inst : Instrument
    """
    for q in inst.questions_of_type("text"):
        q = inst.question(q)
        fixed = control_repairs(P.coded[q["id"]])   # None: no such character in the column (nearly always)
        if fixed is None:
            continue
        kept = fixed.str.strip() != ""
        private = is_private_text(q)
        P.add(kept, q["id"], fixed, "change_response", "control_characters",
              "invisible control or zero-width characters removed", private=private, hide_new=private)
        P.add(~kept, q["id"], "", "blank_response", "control_characters",
              "the answer held only invisible control or zero-width characters", private=private)


@register_check("dates", phase="values", order=145)
def check_dates(P, inst):
    """Answers to a date question that are no date: blanked, for review (``dates``).

    Ingest writes the dates it reads as ISO text (:func:`cmlkit.datetimes.read_date_answers`); what is left
    is text no form reads (``soon``), a date without its day (``2025-03``, ``March 2025``) or an impossible one
    (``2025-02-30``), which the typed data could only hold as missing or with an invented day: the blanking is
    logged instead of happening unseen.

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        Working state of :func:`cmlkit.clean.propose_changes` (``P.coded`` the values in play).
    inst : Instrument
    """
    for qid in inst.questions_of_type("date"):
        text = P.coded[qid].astype("string").str.strip()
        given = text.notna() & (text != "")
        if not given.any():
            continue
        # a whole date (ISO's reduced forms '2025' and '2025-03' would be given an invented day), at its written time
        whole = text.str.match(r"^\d{4}-\d{2}-\d{2}(?:[T ]|$)").fillna(False)
        when = answer_dates(text.where(given & whole))
        P.add(given & (when.isna() | (when.dt.year < 1900)).to_numpy(), qid, "", "blank_response", "dates", "not a date (review)")
