"""Reading the research design files under ``research/`` (YAML read by code)."""

from __future__ import annotations

from pathlib import Path

import yaml

from cmlkit.errors import CmlkitError
from cmlkit.instrument import find_root


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
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise (error or CmlkitError)(f"{path}: cannot read the {what} ({exc})") from None
    if not isinstance(spec, dict):
        raise (error or CmlkitError)(f"{path}: the {what} must be a mapping")
    return spec, path
