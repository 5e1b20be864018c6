"""cmlkit: reproducible, weighted, documented analysis of community managed library surveys.

``import cmlkit`` loads nothing heavy: each submodule (``cmlkit.tables``, ``cmlkit.governance`` ...)
is imported the first time it is used, so a notebook pays only for the modules it calls.
"""

import importlib

from cmlkit.errors import CmlkitError

__version__ = "0.1.0"

__all__ = ["CmlkitError", "__version__"]


def __getattr__(name):
    """Import ``cmlkit.<name>`` on first attribute access (PEP 562)."""
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        raise
