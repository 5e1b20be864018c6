"""Every public function of cmlkit has a numpydoc docstring.

A summary line; a ``Parameters`` section when it takes arguments; a ``Returns`` (or ``Yields``)
section when it returns a value. statsmodels' ``proportion_confint`` is the model: options under
Parameters, then Returns, Notes, References.
"""
import ast
import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "cmlkit"

def _returns_value(fn):
    for n in ast.walk(fn):
        if isinstance(n, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(n, ast.Return) and n.value is not None and not (isinstance(n.value, ast.Constant) and n.value.value is None):
            return True
    return False


def _problems(fn):
    doc = ast.get_docstring(fn)
    if not doc or not doc.strip().splitlines()[0].strip():
        return ["summary"]
    out = []
    args = [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs if a.arg not in ("self", "cls")]
    args += [a.arg for a in (fn.args.vararg, fn.args.kwarg) if a]
    if args and not re.search(r"^\s*(Parameters|Other Parameters)\n\s*-{3,}", doc, re.M):
        out.append("Parameters")
    if _returns_value(fn) and not re.search(r"^\s*(Returns|Yields)\n\s*-{3,}", doc, re.M):
        out.append("Returns")
    return out


def missing_sections(path):
    """(name, missing sections) of each public module-level function of ``path`` lacking numpydoc."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for fn in tree.body:
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and not fn.name.startswith("_"):
            bad = _problems(fn)
            if bad:
                found.append((fn.name, bad))
    return found


def test_every_public_function_has_numpydoc_sections():
    bad = {}
    for path in sorted(PKG.rglob("*.py")):
        module = ".".join(path.relative_to(PKG).with_suffix("").parts)
        missing = [f"{name} ({', '.join(what)})" for name, what in missing_sections(path)]
        if missing:
            bad[module] = missing
    assert bad == {}, "public functions without numpydoc sections (see tests/test_docstrings.py)"


def test_the_check_catches_a_missing_section(tmp_path):
    mod = tmp_path / "m.py"
    mod.write_text('def f(x):\n    """Double x."""\n    return 2 * x\n\n\n'
                   'def g(x):\n    """Double x.\n\n    Parameters\n    ----------\n    x : float\n\n'
                   '    Returns\n    -------\n    float\n    """\n    return 2 * x\n')
    assert missing_sections(mod) == [("f", ["Parameters", "Returns"])]
