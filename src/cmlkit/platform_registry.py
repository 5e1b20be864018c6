"""Survey platforms as registered objects: one :class:`Platform` per platform, looked up by name.

A :class:`Platform` holds everything that differs between platforms: how many header rows an
export has and how its header is recognised (reader), the metadata columns and the keys they map to
(``respondent_id, start, end, status, progress, duration, finished``; ``ignored:<header>`` for
columns kept aside), how its question columns are laid out, how its header cells are keyed and
matched to the layout (reader hooks), and how the synthetic writer fills cells and files (date
format, multi-select separator, ids, metadata cells, the container). The reader
(:mod:`cmlkit.ingest`) and the synthetic writer (:mod:`cmlkit.synthetic.exports`) ask the registry
and never branch on a platform's name; papermill's ``engines.register`` is the model.

The built-in platforms are registered by :mod:`cmlkit.platforms` when it is imported (the reader and
the writer import it); a new one is one :func:`register_platform` call (README: "Adding a survey
platform"). This module imports nothing heavy, so the command line can list the platforms cheaply.

Building blocks for new platforms: :func:`header_text` (a header cell as compared),
:func:`meta_columns`, :func:`question_groups`, :func:`single_header_columns` (one header row, grid
items as ``Stem [Item]``, a multi-select in one joined cell), :func:`single_header_keys`,
:func:`single_expected_keys` and :func:`match_keys` (the one-header-row reader hooks, the defaults).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

OTHER_LABEL = "Other (please specify)"
META_KEYS = ("respondent_id", "start", "end", "status", "progress", "duration", "finished")
CONTAINERS = ("csv", "xlsx", "sav")


@dataclass(frozen=True)
class Column:
    """One export column.

    Attributes
    ----------
    headers : tuple of str
        Header cells, one per header row.
    qid : str or None
        Question id carried (None for metadata).
    role : str
        ``meta`` (metadata field ``meta``), ``value`` (the answer as typed or its label),
        ``choice`` (non-empty cell = ``choice`` ticked), ``other_text`` (the 'other' text of
        ``qid``), ``joined`` (multi-select labels joined in one cell), ``names`` (multi-select
        choice names joined by spaces), ``dummy`` (a 0/1 column for ``choice``, read) or
        ``ignored`` (a 0/1 column for ``choice``, not read: the ``names`` column says it).
    choice : str or None
        Choice name for ``choice``, ``dummy`` and ``ignored`` columns.
    meta : str or None
        Metadata field: one of ``respondent_id, start, end, status, progress, duration, finished``,
        or ``ignored:<header>`` for a column the reader keeps aside.
    """

    headers: tuple
    qid: str | None
    role: str
    choice: str | None = None
    meta: str | None = None


def header_text(text) -> str:
    """Normalise a header cell for comparison: BOM dropped, whitespace collapsed, casefolded.

    Parameters
    ----------
    text : object
        A header cell (None for an empty cell).

    Returns
    -------
    str
        The normalised text; ``""`` for None.
    """
    return " ".join(str(text).replace("\ufeff", "").split()).casefold() if text is not None else ""


def meta_columns(keys: Mapping[str, str]) -> tuple:
    """Metadata :class:`Column` objects of a one-header-row export, in the order of ``keys``.

    Parameters
    ----------
    keys : mapping of str to str
        Header cell -> metadata key (``respondent_id``, ``start``, ``end``, ``status``, ``progress``,
        ``duration``, ``finished`` or ``ignored:<header>``).

    Returns
    -------
    tuple of Column
        One ``meta`` column per header.
    """
    return tuple(Column((h,), None, "meta", meta=m) for h, m in keys.items())


def split_grid_text(text: str) -> tuple:
    """Split a grid item's question text ``Stem - Item`` at its last `` - ``.

    Parameters
    ----------
    text : str
        The item's question text.

    Returns
    -------
    tuple of str
        ``(stem, item)``; ``(text, text)`` when there is no `` - ``.
    """
    stem, sep, item = text.rpartition(" - ")
    return (stem, item) if sep else (text, text)


def question_groups(inst):
    """Group an instrument's questions as a header shows them: a grid is one group, 'other' text rides with its parent.

    Parameters
    ----------
    inst : Instrument
        The instrument.

    Yields
    ------
    tuple
        ``("grid", [question, …])`` for the items of a grid, ``("single", [question])`` for any other
        question; the 'other (please specify)' text question of a select is left out (its parent's
        columns carry it).
    """
    riders = {}
    for q in inst.questions:
        if q["type"].startswith("select"):
            other = inst.other_text_for(q["id"])
            if other:
                riders[other] = q["id"]
    seen_grids = set()
    for q in inst.questions:
        if q["id"] in riders:
            continue
        if q["grid"]:
            if q["grid"] in seen_grids:
                continue
            seen_grids.add(q["grid"])
            yield "grid", [inst.question(i) for i in inst.grids[q["grid"]]]
        else:
            yield "single", [q]


def single_header_columns(inst) -> list:
    """Question columns of a one-header-row export (JISC Online Surveys, Google Forms, Microsoft Forms).

    Parameters
    ----------
    inst : Instrument
        The instrument.

    Returns
    -------
    list of Column
        One column per question headed by its text; grid items as ``Stem [Item]``; a
        select_multiple as one ``joined`` column (its 'other' text is one more fragment of the cell).
    """
    cols = []
    for kind, qs in question_groups(inst):
        if kind == "grid":
            for q in qs:
                stem, item = split_grid_text(q["text"])
                cols.append(Column((f"{stem} [{item}]",), q["id"], "value"))
            continue
        q = qs[0]
        cols.append(Column((q["text"],), q["id"], "joined" if q["type"] == "select_multiple" else "value"))
    return cols


def single_header_keys(rows: list, n_cols: int) -> list:
    """Key each file column by its one header cell (the default reader hook).

    Parameters
    ----------
    rows : list of list
        The export's first records (header rows first).
    n_cols : int
        Number of header columns to key.

    Returns
    -------
    list of tuple
        ``(header_text(cell),)`` per column.
    """
    return [(header_text(c),) for c in rows[0][:n_cols]]


def single_expected_keys(cols: list) -> list:
    """Key each layout column by its one header cell (the default reader hook).

    Parameters
    ----------
    cols : list of Column
        The platform layout of the instrument.

    Returns
    -------
    list of tuple
        ``(header_text(headers[0]),)`` per column.
    """
    return [(header_text(c.headers[0]),) for c in cols]


def match_keys(keys: list, expected: list) -> list:
    """Map each file column to the layout column with the same key (the default reader hook).

    Parameters
    ----------
    keys : list of tuple
        Keys of the file's columns.
    expected : list of tuple
        Keys of the layout's columns.

    Returns
    -------
    list of int or None
        Layout index per file column; None where no layout column has its key.
    """
    lookup = {k: i for i, k in enumerate(expected)}
    return [lookup.get(k) for k in keys]


def _no_questions(inst) -> list:
    return []


def _text_ids(ids) -> list:
    return list(ids.astype(str))


@dataclass(frozen=True)
class Platform:
    """A survey platform: how its exports look, how they are recognised, read and (synthetically) written.

    Parameters
    ----------
    name : str
        Registry key (``--platform`` on the command line, ``attrs["platform"]`` of a read export).
    title : str
        Name for messages (``"SurveyMonkey"``).
    detect : callable
        ``detect(rows, container) -> bool``: True when the first records of a file (header rows
        first, cells as read) are this platform's; ``container`` is ``sav``, ``xlsx`` or
        ``csv (<encoding>, delimiter <d>)`` (:class:`cmlkit.export_source.Source`).
    columns : callable, default no questions
        ``columns(inst) -> list of Column``: the question columns of ``inst``'s export.
    meta : tuple of Column, default ()
        Metadata columns before the questions.
    meta_after : tuple of Column, default ()
        Metadata columns after the questions (KoboToolbox's ``_id, _uuid …``).
    header_rows : int, default 1
        Number of header rows.
    priority : int, default 50
        Detection order: lower is tried first (ties in registration order); a platform whose
        signature is a subset of others' (the plain single header row) goes last.
    header_keys : callable, default :func:`single_header_keys`
        ``header_keys(rows, n_cols) -> keys``: a key per file column from the header rows.
    expected_keys : callable, default :func:`single_expected_keys`
        ``expected_keys(cols) -> keys``: a key per layout column, comparable with ``header_keys``.
    match : callable, default :func:`match_keys`
        ``match(keys, expected) -> list of int or None``: the layout column of each file column.
    sparse_top_row : bool, default False
        The first header row is blank over the later columns of a multi-column question
        (SurveyMonkey): trailing blank header cells are then columns, and messages name a column
        by its last header row.
    date_format : str or None, default None
        ``strftime`` format of the start and end times the writer puts in cells; None writes the
        datetimes themselves (a workbook's or SPSS file's own datetime cells).
    join : str or None, default None
        Separator of the labels in a ``joined`` multi-select cell.
    join_end : str, default ""
        Text after the last label of a ``joined`` cell (Microsoft Forms' trailing ``;``).
    select_one_other : {"label", "blank", "text"}, default "label"
        How the writer puts a single-choice 'other' answer in the choice column: the 'other' label,
        a blank (the text column says it), or the typed text in its place.
    writes_names : bool, default False
        The writer puts select_one answers as choice names (XML values), not labels.
    ids : callable, default text of the ids
        ``ids(respondent_ids) -> list``: the writer's respondent id cells from the raw ids (a Series).
    cells : mapping, default {}
        Metadata key -> ``fill(raw) -> list``: the writer's cells of that metadata column from the raw
        table, replacing the default (blank for ``ignored:`` columns).
    container : {"csv", "xlsx", "sav"}, default "csv"
        The kind of file the writer writes (its extension is ``.<container>``).
    encoding : str, default "utf-8"
        Text encoding of a written CSV (``utf-8-sig`` writes a BOM).
    delimiter : str, default ","
        Delimiter of a written CSV.
    tolerated : tuple of str, default ()
        Header cells of metadata columns the platform adds in some exports or versions (KoboToolbox's
        ``__version__``, Microsoft Forms' ``Last modified time``): read and ignored wherever they are,
        never written (:meth:`read_layout`).

    Raises
    ------
    ValueError
        On construction: ``header_rows`` under 1, an unknown ``container`` or ``select_one_other``.
    """

    name: str
    title: str
    detect: Callable
    columns: Callable = _no_questions
    meta: tuple = ()
    meta_after: tuple = ()
    header_rows: int = 1
    priority: int = 50
    header_keys: Callable = single_header_keys
    expected_keys: Callable = single_expected_keys
    match: Callable = match_keys
    sparse_top_row: bool = False
    date_format: str | None = None
    join: str | None = None
    join_end: str = ""
    select_one_other: str = "label"
    writes_names: bool = False
    ids: Callable = _text_ids
    cells: Mapping = field(default_factory=dict)
    container: str = "csv"
    encoding: str = "utf-8"
    delimiter: str = ","
    tolerated: tuple = ()

    def __post_init__(self):
        if self.header_rows < 1:
            raise ValueError(f"platform {self.name!r}: header_rows must be at least 1")
        if self.container not in CONTAINERS:
            raise ValueError(f"platform {self.name!r}: container must be one of {CONTAINERS}")
        if self.select_one_other not in ("label", "blank", "text"):
            raise ValueError(f"platform {self.name!r}: select_one_other must be 'label', 'blank' or 'text'")

    @property
    def extension(self) -> str:
        """The file extension of a written export (``.csv``, ``.xlsx`` or ``.sav``)."""
        return f".{self.container}"

    def layout(self, inst) -> list:
        """Return every column of ``inst``'s export, in file order.

        Parameters
        ----------
        inst : Instrument
            The instrument.

        Returns
        -------
        list of Column
            ``meta``, then the question columns, then ``meta_after``.
        """
        return list(self.meta) + list(self.columns(inst)) + list(self.meta_after)

    def read_layout(self, inst) -> list:
        """The columns a reader accepts: :meth:`layout`, then the ``tolerated`` metadata (ignored).

        Parameters
        ----------
        inst : Instrument
            The instrument.

        Returns
        -------
        list of Column
        """
        cols = self.layout(inst)
        taken = {c.headers[0] for c in cols}      # a question headed like one of them stays the question
        return cols + [Column((h,), None, "meta", meta=f"ignored:{h}") for h in self.tolerated if h not in taken]


_REGISTRY: dict = {}


def register_platform(platform: Platform, *, replace: bool = False) -> Platform:
    """Add a platform to the registry.

    Parameters
    ----------
    platform : Platform
        The platform; its ``name`` is the key.
    replace : bool, default False
        Replace a platform already registered under that name.

    Returns
    -------
    Platform
        ``platform`` (so a module can keep it: ``KOBO = register_platform(Platform(...))``).

    Raises
    ------
    ValueError
        The name is already registered and ``replace`` is False.
    """
    if platform.name in _REGISTRY and not replace:
        raise ValueError(f"platform {platform.name!r} is already registered")
    _REGISTRY[platform.name] = platform
    return platform


def unregister_platform(name: str) -> None:
    """Remove a platform from the registry (tests that register a toy platform clean up with it).

    Parameters
    ----------
    name : str
        A registered platform name.

    Raises
    ------
    ValueError
        No platform has that name.
    """
    get_platform(name)
    del _REGISTRY[name]


def get_platform(name: str) -> Platform:
    """Return the registered platform called ``name``.

    Parameters
    ----------
    name : str
        A platform name.

    Returns
    -------
    Platform
        The registered platform.

    Raises
    ------
    ValueError
        No platform has that name (the message lists the registered ones).
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown platform {name!r}; expected one of {platform_names()}")
    return _REGISTRY[name]


def platform_names() -> tuple:
    """Return the registered platform names, in registration order.

    Returns
    -------
    tuple of str
        The names.
    """
    return tuple(_REGISTRY)


def platform_titles() -> tuple:
    """Return the registered platforms' titles, in registration order (for messages).

    Returns
    -------
    tuple of str
        The titles.
    """
    return tuple(p.title for p in _REGISTRY.values())


def detect(rows: list, container: str) -> str | None:
    """Return the name of the first platform (by ``priority``) whose ``detect`` takes the header.

    Parameters
    ----------
    rows : list of list
        The file's first records (header rows first), cells as read.
    container : str
        ``sav``, ``xlsx`` or ``csv (<encoding>, delimiter <d>)`` (:class:`cmlkit.export_source.Source`).

    Returns
    -------
    str or None
        The platform's name; None when no registered platform recognises the header.
    """
    order = sorted(enumerate(_REGISTRY.values()), key=lambda ip: (ip[1].priority, ip[0]))
    return next((p.name for _, p in order if p.detect(rows, container)), None)
