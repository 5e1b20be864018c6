"""cmlkit: reproducible, weighted, documented analysis of community managed library surveys."""

from cmlkit.errors import CmlkitError

__version__ = "0.1.0"

__all__ = ["CmlkitError", "__version__"]
