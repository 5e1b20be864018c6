"""Reading the research design files under ``research/`` (YAML read by code)."""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import CmlkitError
from .instrument import find_root


def read_spec(name: str, path=None, *, error=None, what: str = "specification") -> tuple[dict, Path]:
    """Parse ``research/<name>`` (or ``path``) and return it with the path it came from.

    Raises ``error`` (a :class:`cmlkit.errors.CmlkitError` subclass) with a one-line message naming
    the file when it cannot be read or parsed.
    """
    path = Path(path) if path else find_root() / "research" / name
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise (error or CmlkitError)(f"{path}: cannot read the {what} ({exc})") from None
    if not isinstance(spec, dict):
        raise (error or CmlkitError)(f"{path}: the {what} must be a mapping")
    return spec, path
