"""The architecture contract: layers that point down, no hidden imports, numpydoc on public functions.

``lint-imports`` (import-linter) checks ``.importlinter``; the tests here run it, prove it fails on an
upward import, and check that every module of the package is placed in a layer.
"""
import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cmlkit.errors as E

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "cmlkit"

# cmlkit imports inside functions, allowed only where they keep start-up light (import-linter still sees
# them: grimp reads every import statement of a module, so the layers hold for these too).
HIDDEN_IMPORTS_ALLOWED = {
    "cli.py",          # each sub-command imports its modules when it runs: `cmlkit run` never loads pandas
    "run_record.py",   # the header pre-flight reads an export (pandas) only when a header must be checked
}


def _lint_imports():
    exe = Path(sys.executable).parent / "lint-imports"
    return str(exe) if exe.exists() else shutil.which("lint-imports")


def _run_linter(cwd, env=None):
    return subprocess.run([_lint_imports(), "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _layers():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / ".importlinter")
    lines = [ln.strip() for ln in cfg["importlinter:contract:layers"]["layers"].splitlines() if ln.strip()]
    return [[m.strip() for m in ln.replace("|", ":").split(":")] for ln in lines]


def test_every_module_sits_in_exactly_one_layer():
    named = [m for layer in _layers() for m in layer]
    assert len(named) == len(set(named)), "a module is named in two layers"
    modules = {f"cmlkit.{p.stem}" for p in PKG.glob("*.py") if p.stem not in {"__init__", "__main__"}}
    modules |= {f"cmlkit.{p.name}" for p in PKG.iterdir()   # subpackages with code (not data-only ones)
                if (p / "__init__.py").is_file() and len(list(p.glob("*.py"))) > 1}
    assert modules - set(named) == set(), "modules not placed in a layer of .importlinter"
    assert set(named) - modules == set(), "layers name modules that do not exist"


def test_import_contract_holds():
    assert _lint_imports(), "import-linter is not installed (pip install -e '.[test]')"
    res = _run_linter(ROOT)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def test_import_contract_fails_on_an_upward_import(tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(PKG, copy / "cmlkit", ignore=shutil.ignore_patterns("__pycache__", "data", "templates"))
    errors = copy / "cmlkit" / "errors.py"
    errors.write_text(errors.read_text(encoding="utf-8") + "\nfrom cmlkit import report  # noqa\n", encoding="utf-8")
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    res = _run_linter(tmp_path, env=env)
    assert res.returncode != 0
    assert "cmlkit.errors -> cmlkit.report" in res.stdout      # upward (and report imports errors: a circle)
    assert "Layers point down" in res.stdout and "2 broken" in res.stdout, res.stdout[-3000:]


def _function_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("cmlkit")):
                    found.append(node.lineno)
                elif isinstance(node, ast.Import) and any(a.name.startswith("cmlkit") for a in node.names):
                    found.append(node.lineno)
    return found


def test_no_cmlkit_imports_hidden_inside_functions():
    hidden = {str(p.relative_to(PKG)): _function_imports(p) for p in sorted(PKG.rglob("*.py")) if p.name not in HIDDEN_IMPORTS_ALLOWED}
    assert {k: v for k, v in hidden.items() if v} == {}


# Exception classes still defined outside cmlkit.errors, in modules other branches are changing.
ERRORS_ELSEWHERE_ALLOWED = {}


def _is_exception_class(node):
    return isinstance(node, ast.ClassDef) and any(
        isinstance(b, ast.Name) and (b.id.endswith(("Error", "Warning", "Exception"))) for b in node.bases)


def test_every_error_class_lives_in_errors_py():
    elsewhere = {}
    for path in sorted(PKG.rglob("*.py")):
        if path.name == "errors.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.name for n in tree.body if _is_exception_class(n)} - ERRORS_ELSEWHERE_ALLOWED.get(path.name, set())
        if names:
            elsewhere[path.name] = names
    assert elsewhere == {}
    assert issubclass(E.CalibrationError, E.DesignError) and issubclass(E.RiskError, E.CmlkitError)


def _layer_modules(first, last):
    layers = _layers()
    names = [row[0] for row in layers]
    return {m.split(".", 1)[1] for row in layers[names.index(first):names.index(last) + 1] for m in row}


def test_no_catch_all_around_statistics():
    # analyses and estimation: a bug must surface, never read as a result (a dissolved cluster, a NaN)
    stats = _layer_modules("cmlkit.findings", "cmlkit.design")
    broad = {}
    for mod in sorted(stats):
        tree = ast.parse((PKG / f"{mod}.py").read_text(encoding="utf-8"))
        lines = [h.lineno for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler) and (
            h.type is None or (isinstance(h.type, ast.Name) and h.type.id in {"Exception", "BaseException"}))]
        if lines:
            broad[mod] = lines
    assert broad == {}


def test_modules_stay_small():
    # one job per module: about 550 lines at most (560 allows for a docstring before a split)
    sizes = {str(p.relative_to(PKG)): len(p.read_text(encoding="utf-8").splitlines()) for p in PKG.rglob("*.py")}
    assert {k: v for k, v in sizes.items() if v > 560} == {}


def test_nothing_in_the_analysis_imports_the_synthetic_generator():
    # the generator is test data: shipped analysis code must never depend on it (checked by import-linter too)
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / ".importlinter")
    assert cfg["importlinter:contract:synthetic"]["forbidden_modules"].split() == ["cmlkit.synthetic"]
    outside = [p for p in sorted(PKG.rglob("*.py")) if "synthetic" not in p.relative_to(PKG).parts and p.name != "cli.py"]
    users = [str(p.relative_to(PKG)) for p in outside
             if any((isinstance(n, ast.ImportFrom) and (n.module or "").startswith("cmlkit.synthetic"))
                    or (isinstance(n, ast.ImportFrom) and n.module == "cmlkit" and any(a.name == "synthetic" for a in n.names))
                    or (isinstance(n, ast.Import) and any(a.name.startswith("cmlkit.synthetic") for a in n.names))
                    for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))))]
    assert users == []


def test_one_import_style():
    # absolute imports only (``from cmlkit.x import y``): a module reads the same wherever it moves
    relative = {str(p.relative_to(PKG)): [n.lineno for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                                          if isinstance(n, ast.ImportFrom) and n.level > 0]
                for p in sorted(PKG.rglob("*.py"))}
    assert {k: v for k, v in relative.items() if v} == {}


def _code_lines(text):
    """(line number, folded text) of a module's code: docstrings, comments, imports and blank lines left out."""
    tree = ast.parse(text)
    doc = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                doc.update(range(first.lineno, first.end_lineno + 1))
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        s = " ".join(line.split())
        if i in doc or not s or s.startswith(("#", "import ", "from ")) or s in {")", "]", "}", "):", "],", "},"}:
            continue
        out.append((i, s))
    return out


def duplicated_code(texts: dict, n: int = 6) -> dict:
    """Runs of ``n`` code lines that stand in two places: folded lines -> [(file, first line), ...]."""
    seen = {}
    for name, text in texts.items():
        lines = _code_lines(text)
        for j in range(len(lines) - n + 1):
            seen.setdefault(tuple(s for _, s in lines[j:j + n]), []).append((name, lines[j][0]))
    return {k: v for k, v in seen.items() if len(v) > 1}


def test_no_block_of_six_code_lines_stands_twice():
    # one piece of code where the logic is the same (numpydoc sections may repeat a parameter's description)
    texts = {str(p.relative_to(PKG)): p.read_text(encoding="utf-8") for p in sorted(PKG.rglob("*.py"))}
    assert sorted({tuple(f for f, _ in v) for v in duplicated_code(texts).values()}) == []
    body = "".join(f"    y{i} = x + {i}\n" for i in range(6))
    probe = {"a.py": f'def f(x):\n    """Doc."""\n{body}', "b.py": f"def g(x):\n    # same\n{body}"}
    assert len(duplicated_code(probe)) == 1
