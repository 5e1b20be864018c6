"""Reading the research design files under ``research/`` (YAML read by code) into frozen records.

:func:`read_spec` parses one file; :class:`SpecRecord` is the base of the records the ``load_*`` functions
return (:class:`cmlkit.disclosure.DisclosureRules`, :class:`cmlkit.risk_spec.RiskSpec`,
:class:`cmlkit.indicators.IndicatorSpec`, :class:`cmlkit.governance_spec.GovernanceSpec`,
:class:`cmlkit.sampling_spec.CaseStudySpec`, :class:`cmlkit.user_weights.UserSpec`): a frozen dataclass that
is also a read-only mapping over its keys, so ``spec["k"]``, ``spec.get("x")``, ``dict(spec)`` and
``for key in spec`` work as they did on the parsed dict. Each record states its keys and their defaults
as its fields (the one place a default lives) and checks them in ``__post_init__``, so a record built by
:meth:`SpecRecord.replace` is checked like one read from a file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import yaml

from cmlkit.errors import CmlkitError
from cmlkit.instrument import find_root
from cmlkit.yaml_text import load_yaml


def read_spec(name: str, path=None, *, error=None, what: str = "specification") -> tuple[dict, Path]:
    """Parse ``research/<name>`` (or ``path``) and return it with the path it came from.

    Parameters
    ----------
    name : str
        File name under the project's ``research/`` folder.
    path : str or path-like, optional
        Read this file instead.
    error : type, optional
        The :class:`cmlkit.errors.CmlkitError` subclass to raise; default ``CmlkitError``.
    what : str, default "specification"
        What the file holds, for the message.

    Returns
    -------
    (spec, path) : (dict, pathlib.Path)

    Raises
    ------
    CmlkitError
        (or ``error``) with a one-line message naming the file when it cannot be read or parsed, or is
        not a mapping.
    """
    path = Path(path) if path else find_root() / "research" / name
    try:
        spec = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise (error or CmlkitError)(f"{path}: cannot read the {what} ({exc})") from None
    if not isinstance(spec, dict):
        raise (error or CmlkitError)(f"{path}: the {what} must be a mapping")
    return spec, path


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class SpecRecord(Mapping):
    """A research specification read once: frozen, checked, and a read-only mapping over its keys.

    Subclasses declare the file's keys as fields, with their defaults; a field left ``None`` (a key
    the file does not set and that has no default) is not a key of the mapping, as it was not a key of
    the parsed file. Nested sections stay the plain mappings and lists the file holds.

    Parameters
    ----------
    source : str, optional
        The file the record was read from (named in error messages; not a key of the mapping).

    Raises
    ------
    dataclasses.FrozenInstanceError
        On assigning to a field (``spec.k = 3``); item assignment (``spec["k"] = 3``) raises TypeError.
    """

    source: str | None = dataclasses.field(default=None, repr=False)

    error = CmlkitError  # the error class a subclass's checks raise
    file = "research"  # the research file a subclass reads, for messages when ``source`` is not set

    @classmethod
    def keys_known(cls) -> tuple:
        """The keys a specification of this kind may hold (the fields less ``source``).

        Returns
        -------
        tuple of str
        """
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "source")

    @classmethod
    def defaults(cls) -> dict:
        """The keys with a default and their default values (the one place they are stated).

        Returns
        -------
        dict
            key -> default, for each field whose default is not None.
        """
        out = {}
        for f in dataclasses.fields(cls):
            if f.name == "source":
                continue
            value = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if value is not dataclasses.MISSING and value is not None:
                out[f.name] = value
        return out

    @classmethod
    def from_mapping(cls, spec: Mapping, source=None):
        """Build a record from a parsed file, refusing keys the record does not know.

        Parameters
        ----------
        spec : Mapping
            The parsed specification.
        source : str or path-like, optional
            The file it came from (named in error messages).

        Returns
        -------
        SpecRecord
            The record, with the defaults of the keys the file does not set.

        Raises
        ------
        CmlkitError
            (the subclass's ``error``) naming the file and the unknown key(s).
        """
        where = str(source) if source is not None else cls.file
        unknown = [k for k in spec if k not in cls.keys_known()]
        if unknown:
            raise cls.error(f"{where}: unknown key(s) {sorted(map(str, unknown))} (known: {sorted(cls.keys_known())})")
        return cls(**dict(spec), source=None if source is None else str(source))

    def fail(self, message: str):
        """Raise the record's error with a one-line message naming its file.

        Parameters
        ----------
        message : str
            What is wrong, naming the key.

        Raises
        ------
        CmlkitError
            Always (the subclass's ``error``).
        """
        raise self.error(f"{self.source or self.file}: {message}")

    def _keys(self) -> list:
        return [k for k in self.keys_known() if getattr(self, k) is not None]

    def __getitem__(self, key):
        if isinstance(key, str) and key != "source" and key in self.keys_known() and getattr(self, key) is not None:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self):
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def as_dict(self) -> dict:
        """A plain, independent dict of the record's keys (nested sections deep-copied).

        Returns
        -------
        dict
        """
        return {k: _plain(v) for k, v in self.items()}

    def replace(self, **changes):
        """A new record with ``changes`` put in place, checked like one read from the file.

        Parameters
        ----------
        **changes
            Keys of the specification and their new values.

        Returns
        -------
        SpecRecord
            Of the same class; this one is not changed.

        Raises
        ------
        CmlkitError
            (the subclass's ``error``) for a key the record does not know or a value its checks refuse.
        """
        unknown = [k for k in changes if k not in self.keys_known()]
        if unknown:
            self.fail(f"unknown key(s) {sorted(unknown)} (known: {sorted(self.keys_known())})")
        return dataclasses.replace(self, **changes)


def _plain(value):
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _represent_record(dumper, record):
    return dumper.represent_dict(record.as_dict())


# A record dumps as the mapping it is (``yaml.safe_dump(spec)`` writes a file that reads back the same).
yaml.add_multi_representer(SpecRecord, _represent_record, Dumper=yaml.SafeDumper)
yaml.add_multi_representer(SpecRecord, _represent_record, Dumper=yaml.Dumper)
