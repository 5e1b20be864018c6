"""Reading YAML text: the C parser of libyaml when PyYAML has it, else PyYAML's pure-Python one.

Every instrument, research specification and pipeline file is read through :func:`load_yaml`. Both
loaders build the same Python values (PyYAML's safe constructor on either parser) and raise the same
``yaml.YAMLError`` classes with the same line marks; the C parser is about ten times faster, which
matters because every pipeline step reads its instrument and specifications again.
"""

from __future__ import annotations

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str):
    """Parse YAML text with the safe loader (libyaml's parser when available).

    Parameters
    ----------
    text : str
        The YAML document.

    Returns
    -------
    object
        The document's value (dict, list, scalar or None for an empty document).

    Raises
    ------
    yaml.YAMLError
        For text that is not valid YAML (with ``problem_mark`` where the parser knows the line).
    """
    return yaml.load(text, Loader=_LOADER)
