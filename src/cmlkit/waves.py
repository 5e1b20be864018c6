"""Wave facts: one source for a wave's year, instrument version and frame year.

Every fact about a wave comes from the instrument file (``survey_instruments/<instrument>/waves/<wave>.yaml``:
``version`` gives the wave id and its year, ``frame_year`` the year of the population frame it is weighted to)
or from the command line (``--wave``). Library code and the research specifications never carry a year or an
instrument name of their own; a specification that needs the wave year gets it through :func:`with_wave`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from cmlkit.errors import InstrumentError, WaveError  # errors live in cmlkit.errors; re-exported here
from cmlkit.instrument import WAVE_RE, Instrument, find_root, load_instrument
from cmlkit.research import SpecRecord


@dataclass(frozen=True)
class WaveFacts:
    """What is known about one fielded wave of one instrument.

    Attributes
    ----------
    instrument, wave : str
        Instrument id and wave id (``YYYYwN``).
    year, round : int
        Fieldwork year and round within the year, parsed from the wave id.
    frame_year : int or None
        Year of the population frame the wave is weighted to (instrument file).
    unit : str
        Who answers (``library``, ``volunteer``).
    """

    instrument: str
    wave: str
    year: int
    round: int
    frame_year: int | None
    unit: str


def parse_wave(wave: str) -> tuple[int, int]:
    """Return ``(year, round)`` of a wave id such as ``"2026w1"``.

    Parameters
    ----------
    wave : str
        A wave id.

    Returns
    -------
    (year, round) : (int, int)

    Raises
    ------
    WaveError
        When ``wave`` is not of the form ``YYYYwN``.
    """
    if not isinstance(wave, str) or not WAVE_RE.match(wave):
        raise WaveError(f"wave {wave!r} is not of the form YYYYwN (e.g. the version id in the instrument file)")
    year, rnd = wave.split("w")
    return int(year), int(rnd)


def wave_year(wave: str) -> int:
    """Fieldwork year of a wave id.

    Parameters
    ----------
    wave : str
        A wave id.

    Returns
    -------
    int
    """
    return parse_wave(wave)[0]


def facts(inst: Instrument) -> WaveFacts:
    """The :class:`WaveFacts` of a loaded instrument version.

    Parameters
    ----------
    inst : Instrument
        A loaded instrument version.

    Returns
    -------
    WaveFacts
    """
    year, rnd = parse_wave(inst.version)
    return WaveFacts(instrument=inst.instrument, wave=inst.version, year=year, round=rnd,
                     frame_year=inst.frame_year, unit=inst.unit)


def wave_facts(instrument: str, wave: str, *, root=None) -> WaveFacts:
    """Load ``instrument`` at ``wave`` and return its facts.

    Parameters
    ----------
    instrument : str
        Instrument id.
    wave : str
        Wave id.
    root : path-like, optional
        Project root.

    Returns
    -------
    WaveFacts
    """
    return facts(load_instrument(instrument, wave, root=root))


def sort_waves(waves) -> list:
    """Wave ids in time order (year, then round).

    Parameters
    ----------
    waves : iterable of str
        Wave ids.

    Returns
    -------
    list of str
    """
    return sorted(waves, key=parse_wave)


def check_order(waves) -> list:
    """Return ``waves`` unchanged when strictly in time order; otherwise raise a one-line :class:`WaveError`.

    Parameters
    ----------
    waves : list of str
        Wave ids.

    Returns
    -------
    list of str
        ``waves``, unchanged.
    """
    waves = list(waves)
    keys = [parse_wave(w) for w in waves]
    for i in range(1, len(keys)):
        if keys[i] <= keys[i - 1]:
            raise WaveError(f"waves are not in time order: {waves[i - 1]} is followed by {waves[i]} "
                            f"(list them oldest first, each once)")
    return waves


def instruments(*, root=None) -> list:
    """Instrument ids: the folders of ``survey_instruments`` that hold a ``waves`` folder.

    Parameters
    ----------
    root : path-like, optional
        Project root.

    Returns
    -------
    list of str
    """
    base = find_root(root) / "survey_instruments"
    return sorted(p.name for p in base.iterdir() if (p / "waves").is_dir())


def known_waves(instrument: str, *, root=None) -> list:
    """Wave ids of the versions of ``instrument`` on disk, oldest first.

    Parameters
    ----------
    instrument : str
        Instrument id.
    root : path-like, optional
        Project root.

    Returns
    -------
    list of str
    """
    folder = find_root(root) / "survey_instruments" / instrument / "waves"
    if not folder.is_dir():
        raise WaveError(f"no instrument {instrument!r} (known: {instruments(root=root)})")
    return sort_waves(p.stem for p in folder.glob("*.yaml") if WAVE_RE.match(p.stem))


def all_waves(*, root=None) -> list:
    """Every wave id fielded by any instrument, oldest first.

    Parameters
    ----------
    root : path-like, optional
        Project root.

    Returns
    -------
    list of str
    """
    return sort_waves({w for name in instruments(root=root) for w in known_waves(name, root=root)})


def first_wave(*, root=None) -> str:
    """The oldest wave on disk (the default wave of a first synthetic wave).

    Parameters
    ----------
    root : path-like, optional
        Project root.

    Returns
    -------
    str
    """
    waves = all_waves(root=root)
    if not waves:
        raise WaveError("no instrument version found under survey_instruments/*/waves")
    return waves[0]


def previous_wave(instrument: str, wave: str, *, root=None) -> str | None:
    """The wave of ``instrument`` fielded before ``wave`` (None for the first).

    Parameters
    ----------
    instrument : str
        Instrument id.
    wave : str
        Wave id.
    root : path-like, optional
        Project root.

    Returns
    -------
    str or None
    """
    earlier = [w for w in known_waves(instrument, root=root) if parse_wave(w) < parse_wave(wave)]
    return earlier[-1] if earlier else None


def instruments_by_unit(wave: str, *, root=None) -> dict:
    """``{unit: Instrument}`` for every instrument fielded in ``wave`` (e.g. ``library``, ``volunteer``).

    Parameters
    ----------
    wave : str
        Wave id.
    root : path-like, optional
        Project root.

    Returns
    -------
    dict
        Unit -> Instrument.

    Raises
    ------
    WaveError
        When no instrument has a version for ``wave`` or two instruments share a unit.
    """
    parse_wave(wave)
    out = {}
    for name in instruments(root=root):
        try:
            inst = load_instrument(name, wave, root=root)
        except InstrumentError as exc:
            if "no version" in str(exc):
                continue
            raise
        if inst.unit in out:
            raise WaveError(f"two instruments answer per {inst.unit} in wave {wave}: {out[inst.unit].instrument}, {name}")
        out[inst.unit] = inst
    if not out:
        known = ", ".join(f"{n}: {known_waves(n, root=root)}" for n in instruments(root=root))
        raise WaveError(f"no instrument has a version for wave {wave!r} ({known})")
    return out


def with_wave(spec, inst: Instrument):
    """A copy of a research specification with the wave's facts (``wave``, ``wave_year``, ``frame_year``).

    Specifications in ``research/`` never state a year; code that needs one reads it from here.

    Parameters
    ----------
    spec : Mapping
        A research specification: a :class:`cmlkit.research.SpecRecord` (one whose fields include the
        three facts, as :class:`cmlkit.governance_spec.GovernanceSpec` and :class:`cmlkit.risk_spec.RiskSpec`)
        or a plain dict.
    inst : Instrument
        The wave's instrument version.

    Returns
    -------
    Mapping
        A new specification of the same kind (a record through :meth:`cmlkit.research.SpecRecord.replace`,
        else a deep-copied dict); ``spec`` is not changed.
    """
    f = facts(inst)
    wave = {"wave": f.wave, "wave_year": f.year, "frame_year": f.frame_year}
    if isinstance(spec, SpecRecord):
        return copy.deepcopy(spec).replace(**wave)
    out = copy.deepcopy(spec)
    out.update(wave)
    return out


def instrument_folder(instrument: str, *, root=None) -> Path:
    """``survey_instruments/<instrument>``.

    Parameters
    ----------
    instrument : str
        Instrument id.
    root : path-like, optional
        Project root.

    Returns
    -------
    pathlib.Path
    """
    return find_root(root) / "survey_instruments" / instrument
