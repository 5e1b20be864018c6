"""Survey instruments as data: load, validate and query a questionnaire version.

An instrument version lives in ``survey_instruments/<instrument>/waves/<wave>.yaml``. It lists
sections, choice lists and questions. Each question has an ``id`` (as fielded in that wave) and a
``canonical`` variable name (the crosswalk), so a later wave can rename, add or drop questions
without a code change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from cmlkit.errors import InstrumentError
from cmlkit.yaml_text import load_yaml

QUESTION_TYPES = ("select_one", "select_multiple", "integer", "decimal", "text", "date")
QUESTION_KEYS = (
    "id", "canonical", "section", "type", "text", "choices", "constraint", "required",
    "relevant", "personal", "grid",
)
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHOICE_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
_REF_RE = re.compile(r"\$\{([^}]*)\}")
WAVE_RE = re.compile(r"^\d{4}w\d{1,2}$")


def find_root(start=None) -> Path:
    """Return the project root: the nearest folder at or above ``start`` holding ``survey_instruments``.

    Falls back to the repository the package was installed from (editable install).

    Parameters
    ----------
    start : str or path-like, optional
        Where to look from; default the working directory.

    Returns
    -------
    pathlib.Path
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "survey_instruments").is_dir():
            return folder
    pkg_root = Path(__file__).resolve().parents[2]
    if (pkg_root / "survey_instruments").is_dir():
        return pkg_root
    raise InstrumentError("cannot find the survey_instruments folder above " + str(here))


def _normalise_question(q: dict, where: str) -> dict:
    unknown = set(q) - set(QUESTION_KEYS)
    if unknown:
        raise InstrumentError(f"unknown question keys {sorted(unknown)}", file=where, column=q.get("id"))
    out = {
        "id": q.get("id"),
        "canonical": q.get("canonical") or q.get("id"),
        "section": q.get("section"),
        "type": q.get("type"),
        "text": q.get("text"),
        "choices": q.get("choices"),
        "constraint": None,
        "required": bool(q.get("required", False)),
        "relevant": q.get("relevant") or None,
        "personal": bool(q.get("personal", False)),
        "grid": q.get("grid") or None,
    }
    c = q.get("constraint")
    if c:
        if not isinstance(c, dict) or set(c) - {"min", "max"}:
            raise InstrumentError("constraint must be a mapping with min and/or max", file=where, column=out["id"])
        out["constraint"] = {k: c[k] for k in ("min", "max") if c.get(k) is not None}
    return out


def _normalise_choice(c: dict) -> dict:
    out = {"name": str(c["name"]), "label": str(c["label"])}
    if c.get("score") is not None:
        out["score"] = c["score"]
    return out


@dataclass(frozen=True)
class Instrument:
    """One version of a questionnaire.

    Attributes
    ----------
    instrument, version : str
        Instrument id (folder name) and wave/version id (``YYYYwN``).
    title, unit : str
        Human title; the unit that answers (``library`` or ``volunteer``).
    sections : list of dict
        ``{"id", "label"}`` in questionnaire order.
    choice_lists : dict
        List name -> list of ``{"name", "label"[, "score"]}``.
    questions : list of dict
        Normalised question records (see :data:`QUESTION_KEYS`).
    frame_year : int or None
        Year of the population frame a wave of this version is weighted to.
    source : str
        Where it was loaded from (used in error messages).
    """

    instrument: str
    version: str
    title: str
    unit: str
    sections: list
    choice_lists: dict
    questions: list
    frame_year: int | None = None
    source: str = "<memory>"
    _index: dict = field(default_factory=dict, repr=False, compare=False)

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict, *, source: str = "<memory>") -> "Instrument":
        """Build and validate an instrument from its YAML mapping."""
        if not isinstance(data, dict):
            raise InstrumentError("instrument file must hold a mapping", file=source)
        for key in ("instrument", "version", "questions", "choice_lists", "sections"):
            if key not in data:
                raise InstrumentError(f"missing top-level key {key!r}", file=source)
        qs = [_normalise_question(q, source) for q in data["questions"]]
        lists = {str(k): [_normalise_choice(c) for c in v] for k, v in (data["choice_lists"] or {}).items()}
        secs = [{"id": s["id"], "label": s["label"]} for s in data["sections"]]
        inst = cls(
            instrument=str(data["instrument"]), version=str(data["version"]),
            title=str(data.get("title", data["instrument"])), unit=str(data.get("unit", "respondent")),
            sections=secs, choice_lists=lists, questions=qs,
            frame_year=data.get("frame_year"), source=source,
        )
        inst.validate()
        return inst

    def to_dict(self) -> dict:
        """Return the normalised mapping (the inverse of :meth:`from_dict`)."""
        return {
            "instrument": self.instrument, "version": self.version, "title": self.title,
            "unit": self.unit, "frame_year": self.frame_year,
            "sections": [dict(s) for s in self.sections],
            "choice_lists": {k: [dict(c) for c in v] for k, v in self.choice_lists.items()},
            "questions": [dict(q) for q in self.questions],
        }

    # --- validation ---------------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`InstrumentError` on the first inconsistency found."""
        src = self.source
        if not WAVE_RE.match(self.version):
            raise InstrumentError(f"version {self.version!r} is not of the form YYYYwN", file=src)
        section_ids = {s["id"] for s in self.sections}
        for name, choices in self.choice_lists.items():
            names = [c["name"] for c in choices]
            if len(set(names)) != len(names):
                raise InstrumentError(f"choice list {name!r} has duplicate choice names", file=src)
            bad = [n for n in names if not _CHOICE_NAME_RE.match(n)]
            if bad:
                raise InstrumentError(f"choice list {name!r}: invalid choice names {bad}", file=src)
        seen, canon = set(), set()
        for q in self.questions:
            qid = q["id"]
            if not qid or not _NAME_RE.match(str(qid)):
                raise InstrumentError(f"invalid question id {qid!r}", file=src)
            if qid in seen:
                raise InstrumentError("duplicate question id", file=src, column=qid)
            if q["canonical"] in canon:
                raise InstrumentError(f"canonical name {q['canonical']!r} used twice", file=src, column=qid)
            seen.add(qid)
            canon.add(q["canonical"])
            if q["type"] not in QUESTION_TYPES:
                raise InstrumentError(f"unknown type {q['type']!r}; expected one of {QUESTION_TYPES}", file=src, column=qid)
            if q["section"] not in section_ids:
                raise InstrumentError(f"unknown section {q['section']!r}", file=src, column=qid)
            if q["type"].startswith("select"):
                if q["choices"] not in self.choice_lists:
                    raise InstrumentError(f"unknown choice list {q['choices']!r}", file=src, column=qid)
            elif q["choices"]:
                raise InstrumentError("only select questions take a choice list", file=src, column=qid)
            if q["constraint"] and q["type"] not in ("integer", "decimal"):
                raise InstrumentError("min/max constraints apply to numeric questions only", file=src, column=qid)
            if q["relevant"]:
                for ref in _REF_RE.findall(q["relevant"]):
                    if ref not in seen or ref == qid:
                        raise InstrumentError(f"relevant refers to {ref!r}, which is not an earlier question", file=src, column=qid)

    # --- queries ------------------------------------------------------------------------
    @cached_property
    def _by_id(self) -> dict:
        return {q["id"]: q for q in self.questions}

    @property
    def question_ids(self) -> list:
        """Question ids in questionnaire order."""
        return [q["id"] for q in self.questions]

    def question(self, qid: str) -> dict:
        """Return the question record for ``qid`` (raises on an unknown id)."""
        try:
            return self._by_id[qid]
        except KeyError:
            raise InstrumentError(f"no question {qid!r} in {self.instrument} {self.version}", file=self.source) from None

    def choices(self, qid: str) -> list:
        """Return the choice records of a select question."""
        q = self.question(qid)
        return self.choice_lists.get(q["choices"], []) if q["choices"] else []

    def choice_names(self, qid: str) -> list:
        """Return the allowed choice names of a select question."""
        return [c["name"] for c in self.choices(qid)]

    def questions_of_type(self, *types: str) -> list:
        """Return ids of questions of the given types, in order."""
        return [q["id"] for q in self.questions if q["type"] in types]

    @property
    def personal_ids(self) -> list:
        """Ids of questions flagged as personal data."""
        return [q["id"] for q in self.questions if q["personal"]]

    @property
    def grids(self) -> dict:
        """Grid id -> list of question ids answered as one grid."""
        out: dict = {}
        for q in self.questions:
            if q["grid"]:
                out.setdefault(q["grid"], []).append(q["id"])
        return out

    @property
    def wave_year(self) -> int:
        """Fieldwork year of this version, read from its ``version`` (``YYYYwN``)."""
        return int(self.version.split("w")[0])

    @cached_property
    def _by_canonical(self) -> dict:
        return {q["canonical"]: q for q in self.questions}

    def by_canonical(self, name: str) -> dict:
        """Return the question whose canonical variable is ``name`` (raises when this version lacks it)."""
        try:
            return self._by_canonical[name]
        except KeyError:
            raise InstrumentError(f"no question with canonical variable {name!r} in {self.instrument} {self.version}",
                                  file=self.source) from None

    def canonical_choices(self, name: str) -> list:
        """Choice records of the select question whose canonical variable is ``name``."""
        q = self.by_canonical(name)
        return self.choice_lists.get(q["choices"], []) if q["choices"] else []

    @property
    def crosswalk(self) -> dict:
        """Question id -> canonical variable name for this version."""
        return {q["id"]: q["canonical"] for q in self.questions}

    def other_text_for(self, qid: str) -> str | None:
        """Return the id of the 'other (please specify)' text question gated on ``qid``, if any."""
        pattern = re.compile(r"(selected\(\$\{%s\},\s*'other'\)|\$\{%s\}\s*=\s*'other')" % (re.escape(qid), re.escape(qid)))
        for q in self.questions:
            if q["type"] == "text" and q["relevant"] and pattern.fullmatch(q["relevant"].strip()):
                return q["id"]
        return None


def instrument_path(instrument: str, wave: str, *, root=None) -> Path:
    """Return the path of ``survey_instruments/<instrument>/waves/<wave>.yaml``.

    Parameters
    ----------
    instrument : str
        Instrument id.
    wave : str
        Wave id, ``YYYYwN``.
    root : path-like, optional
        Project root (:func:`find_root`).

    Returns
    -------
    pathlib.Path
    """
    return find_root(root) / "survey_instruments" / instrument / "waves" / f"{wave}.yaml"


def load_instrument_file(path) -> Instrument:
    """Load and validate an instrument version from a YAML file.

    Parameters
    ----------
    path : str or path-like
        The instrument version's YAML file.

    Returns
    -------
    Instrument
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstrumentError("instrument file not found", file=path) from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InstrumentError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=path,
                              row=None if mark is None else mark.line + 1) from None
    return Instrument.from_dict(data, source=str(path))


def load_instrument(instrument: str, wave: str, *, root=None) -> Instrument:
    """Load the version of ``instrument`` fielded in ``wave``.

    Parameters
    ----------
    instrument : str
        Instrument id, e.g. ``"cml_library"``.
    wave : str
        Wave id, ``YYYYwN``.
    root : path-like, optional
        Project root; found from the working directory by default.

    Returns
    -------
    Instrument

    Raises
    ------
    InstrumentError
        If no such version exists or it is invalid.
    """
    path = instrument_path(instrument, wave, root=root)
    if not path.exists():
        folder = path.parent
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.exists() else []
        raise InstrumentError(f"no version {wave!r} of instrument {instrument!r} (known: {known or 'none'})", file=path)
    return load_instrument_file(path)
