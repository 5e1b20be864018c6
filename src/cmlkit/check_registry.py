"""The cleaning checks as a registry: each check is a function registered with its declared inputs.

:func:`cmlkit.clean.propose_changes` runs :func:`registered_checks` in order on its working state
``P`` (``P.coded`` the values in play, ``P.add``/``P.remove`` to propose). A check declares what it
reads instead of assuming it:

* ``columns`` -- columns the ingested data must hold (metadata such as ``_status``, ``_finished``,
  ``_duration_s``, or key questions such as ``library_name``); a tuple inside the tuple means "one of
  these" (``("postcode", "library_postcode")``);
* ``question_types`` -- the instrument must have a question of one of these types;
* ``units`` -- the instrument units it applies to (empty: every unit); for another unit the check
  does not apply and is passed over without a log entry;
* ``options`` -- the options of :func:`run_checks` it takes as keyword arguments.

When a declared input is missing the check does not run and the log gets one ``no_action`` row with
``check_id`` ``check_skipped`` whose reason names the check and the missing input. A check may also
find a missing input itself (one named in a file it reads) and return a description of it, with the
same result. Order is by ``order`` (ties: registration order); the log keeps that order for entries on
the same cell, so the order numbers are part of the log's contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

PHASES = ("responses", "values", "quality")
SKIPPED = "check_skipped"

_REGISTRY: dict = {}


@dataclass(frozen=True)
class Check:
    """A registered cleaning check.

    Attributes
    ----------
    id : str
        Name of the check (usually the ``check_id`` its log rows carry).
    function : callable
        ``function(P, inst, **options)``; proposes through ``P.add``/``P.remove`` and returns None, or a
        string naming an input it found missing (logged as ``check_skipped``).
    phase : str
        ``responses`` (whole responses), ``values`` or ``quality`` (flags, no change proposed).
    order : float
        Position in the run; lower runs first.
    columns : tuple
        Columns the data must hold; an inner tuple means any one of them.
    question_types : tuple of str
        The instrument must have at least one question of one of these types.
    units : tuple of str
        Instrument units the check applies to; empty for every unit.
    options : tuple of str
        Names of the :func:`run_checks` options passed to ``function``.
    """

    id: str
    function: Callable
    phase: str
    order: float
    columns: tuple = ()
    question_types: tuple = ()
    units: tuple = ()
    options: tuple = ()

    def applies_to(self, inst) -> bool:
        """Whether the check applies to the instrument's unit.

        Parameters
        ----------
        inst : Instrument

        Returns
        -------
        bool
            True when ``units`` is empty or holds ``inst.unit``.
        """
        return not self.units or inst.unit in self.units

    def missing_inputs(self, data: pd.DataFrame, inst) -> list:
        """The declared inputs that are absent, described for the log.

        Parameters
        ----------
        data : pandas.DataFrame
            The values in play (``P.coded``).
        inst : Instrument

        Returns
        -------
        list of str
            ``column 'x'`` (or ``column 'x' or 'y'``) per missing column, ``a <type> question`` when the
            instrument has no question of the declared types; empty when everything is there.
        """
        out = []
        for col in self.columns:
            alts = col if isinstance(col, tuple) else (col,)
            if not any(a in data for a in alts):
                out.append("column " + " or ".join(repr(a) for a in alts))
        if self.question_types and not inst.questions_of_type(*self.question_types):
            out.append("a " + " or ".join(self.question_types) + " question")
        return out


def register_check(id: str, *, phase: str, order: float, columns: tuple = (), question_types: tuple = (),
                   units: tuple = (), options: tuple = ()) -> Callable:
    """Decorator: register a function as a cleaning check.

    Parameters
    ----------
    id : str
        Name of the check; registering the same id again replaces the earlier check.
    phase : {'responses', 'values', 'quality'}
        What the check looks at.
    order : float
        Position in the run (lower first).
    columns : tuple, default ()
        Columns the data must hold (inner tuple: any one of them).
    question_types : tuple of str, default ()
        The instrument must have a question of one of these types.
    units : tuple of str, default ()
        Instrument units the check applies to (empty: all).
    options : tuple of str, default ()
        Options of :func:`run_checks` the function takes as keyword arguments.

    Returns
    -------
    callable
        The decorator; it returns the function unchanged.

    Raises
    ------
    ValueError
        If ``phase`` is not one of :data:`PHASES`.
    """
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, not {phase!r}")

    def decorate(fn):
        _REGISTRY[id] = Check(id, fn, phase, order, tuple(columns), tuple(question_types), tuple(units), tuple(options))
        return fn

    return decorate


def unregister_check(id: str) -> None:
    """Remove a registered check (a no-op for an unknown id).

    Parameters
    ----------
    id : str
        The check's id.
    """
    _REGISTRY.pop(id, None)


def registered_checks() -> list:
    """The registered checks in run order.

    Returns
    -------
    list of Check
        Sorted by ``order``; ties keep registration order.
    """
    return sorted(_REGISTRY.values(), key=lambda c: c.order)


def skipped(P, check_id: str, missing: str) -> None:
    """Log that a check could not run: one ``no_action`` row, ``check_id`` ``check_skipped``.

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        The working state; the row is appended to ``P.logs`` with no response id and no question.
    check_id : str
        The check that did not run.
    missing : str
        The missing input, named in the reason.
    """
    P.logs.append(pd.DataFrame({"wave": [P.wave], "response_id": [""], "question": [""], "old_value": [""], "new_value": [""],
                                "change_type": ["no_action"], "check_id": [SKIPPED],
                                "reason": [f"check {check_id} not run: missing {missing}"],
                                "decision": [""], "reviewer": [""], "decided_at": [""]}))


def run_checks(P, inst, **options) -> None:
    """Run every registered check that applies to ``inst`` on the working state ``P``, in order.

    Parameters
    ----------
    P : cmlkit.clean._Proposals
        The working state of :func:`cmlkit.clean.propose_changes`; checks add to ``P.logs``.
    inst : Instrument
    **options
        Passed to each check that declares them (``min_progress``, ``speeder_seconds``,
        ``speeder_fraction``, ``outlier_z``, ``other_recodes``, ``root`` for the built-in checks); an
        option not given leaves the check's own default.
    """
    for check in registered_checks():
        if not check.applies_to(inst):
            continue
        missing = check.missing_inputs(P.coded, inst)
        if missing:
            skipped(P, check.id, ", ".join(missing))
            continue
        found = check.function(P, inst, **{k: options[k] for k in check.options if k in options})
        if found:
            skipped(P, check.id, found)
