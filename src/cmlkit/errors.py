"""Toolkit exceptions.

Every *expected* failure (bad file, wrong encoding, unknown code, mismatched instrument,
unknown parameter) raises a subclass of :class:`CmlkitError`. The command line catches
these and prints one line naming the file, row and column, then exits non-zero; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

ROW_CONVENTION = "header = row 1"
"""How rows are numbered in every message about a data file: the row as a spreadsheet shows the file,
the first header row being row 1 (so the first response of a one-header CSV is row 2)."""


class CmlkitError(Exception):
    """Base class for expected, user-facing failures.

    Parameters
    ----------
    message : str
        What is wrong and, where possible, what to do about it.
    file : str or path-like, optional
        The file the problem is in.
    row : int, optional
        Row in ``file`` as a spreadsheet shows it (:data:`ROW_CONVENTION`: the first header row is
        row 1); the message says so.
    column : str, optional
        The column (or question id) the problem is in.
    """

    row_note = ""  # tabular-file errors say how rows are counted

    def __init__(self, message, *, file=None, row=None, column=None):
        self.message = str(message)
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Return the error as a single line: ``file, row R, column C: message``."""
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}{self.row_note}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = " ".join(self.message.split())
        return (", ".join(where) + ": " + text) if where else text


class InstrumentError(CmlkitError):
    """An instrument definition (YAML or XLSForm) is invalid."""


class IngestError(CmlkitError):
    """A raw export cannot be read or does not match the instrument."""

    row_note = f" ({ROW_CONVENTION})"


class CleaningLogError(CmlkitError):
    """A cleaning log cannot be applied."""

    row_note = f" ({ROW_CONVENTION})"


class PipelineError(CmlkitError):
    """A pipeline definition or run request is invalid."""


class UnknownParameterError(PipelineError):
    """A parameter is not declared by the notebook it is passed to."""


class StepFailedError(PipelineError):
    """A pipeline step (notebook) failed while executing."""


class FrameError(CmlkitError):
    """The population frame is invalid (unknown code, missing column)."""

    row_note = f" ({ROW_CONVENTION})"

class GovernanceError(CmlkitError):
    """A governance specification or input that cannot be used."""


class ClusterFitError(GovernanceError):
    """A clustering method cannot form the requested clusters from these rows.

    Raised when there are fewer distinct rows than clusters, when no random start of a latent class
    model converges, or when k-prototypes cannot initialise. In a bootstrap resample this is what a
    dissolved cluster means; any other exception is a bug and propagates.
    """


class ChangeError(CmlkitError):
    """Stacked data that cannot give a change estimate."""


class ClosureModelError(CmlkitError):
    """The frame history cannot support a closure model."""


class CrosswalkError(CmlkitError):
    """A crosswalk that is missing, unreviewed or does not fit the data."""


class DesignError(CmlkitError):
    """A design cannot be built or used as asked."""


class NegativeWeightWarning(UserWarning):
    """Calibration produced negative weights (estimates and SEs follow R; consider ``bounds``)."""


class TrendError(CmlkitError):
    """Wave runs that cannot be compared."""


class IndicatorError(CmlkitError):
    """An indicator definition or input that cannot be used."""


class RiskError(CmlkitError):
    """A risk specification or input that cannot be used."""


class SamplingError(CmlkitError):
    """A selection that cannot be made as specified (an unmet constraint, a bad specification)."""


class WaveError(CmlkitError):
    """A wave id, wave order or wave/instrument combination that cannot be used."""


class ReportError(CmlkitError):
    """A run folder that cannot be reported on (no ``run.json``, or a product outside the public folders)."""


class CalibrationError(DesignError):
    """Calibration is impossible or did not converge."""


class SpecError(CmlkitError):
    """A research specification (``research/*.yml``) with an unknown key or a value it cannot use."""


class DisclosureError(SpecError):
    """The disclosure rules (``research/disclosure.yml``) cannot be used."""


class UserSpecError(SpecError):
    """The user survey specification (``research/user_indicators.yml``) cannot be used."""
