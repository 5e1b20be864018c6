"""Structural test: wave facts come from the instrument file and the CLI, never from literals.

Scans the code of ``src/cmlkit`` (docstrings and comments excluded: they may cite years) and the
values of ``research/*.yml`` for a wave-era year literal, a wave id, an instrument name, or a
``*year*`` parameter with a literal default.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "cmlkit"
INSTRUMENTS = sorted(p.name for p in (ROOT / "survey_instruments").iterdir() if (p / "waves").is_dir())
WAVE_ID = re.compile(r"\b\d{4}w\d{1,2}\b")
NAME = re.compile(r"\b(" + "|".join(map(re.escape, INSTRUMENTS)) + r")\b")
# The Arts Council frame's own history (2016 ... 2023 files) is data about the past; anything from the
# first fielded wave on is a wave fact and must come from an instrument file.
FIRST_WAVE_YEAR = min(int(p.stem[:4]) for p in (ROOT / "survey_instruments").glob("*/waves/*.yaml"))
SEED_NAMES = {"seed", "random_state"}
WAVE_PARAMS = {"year", "wave_year", "frame_year", "fieldwork_year"}     # any literal default is a wave fact
NOT_YEARS = {("labelled.py", 2045)}                                      # Stata's str column limit in bytes


def _docstrings(tree) -> set:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _seed_defaults(tree) -> set:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            pos = a.posonlyargs + a.args
            pairs = list(zip(pos[len(pos) - len(a.defaults):], a.defaults)) + list(zip(a.kwonlyargs, a.kw_defaults))
            ids |= {id(d) for arg, d in pairs if d is not None and arg.arg in SEED_NAMES}
        if isinstance(node, ast.Call):  # argparse: add_argument("--seed", default=...)
            if node.args and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).lstrip("-") in SEED_NAMES:
                ids |= {id(k.value) for k in node.keywords if k.arg == "default"}
    return ids


def offending_literals(path: Path) -> list:
    """(line, what) for each wave literal in a Python file's code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree) | _seed_defaults(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in skip:
            v = node.value
            if isinstance(v, int) and not isinstance(v, bool) and FIRST_WAVE_YEAR <= v <= 2100 and (path.name, v) not in NOT_YEARS:
                out.append((node.lineno, f"year literal {v}"))
            elif isinstance(v, str) and (WAVE_ID.search(v) or NAME.search(v)):
                out.append((node.lineno, f"wave/instrument literal {v[:40]!r}"))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            pos = a.posonlyargs + a.args
            pairs = list(zip(pos[len(pos) - len(a.defaults):], a.defaults)) + list(zip(a.kwonlyargs, a.kw_defaults))
            for arg, d in pairs:
                if (isinstance(d, ast.Constant) and isinstance(d.value, int)
                        and (arg.arg in WAVE_PARAMS or ("year" in arg.arg and d.value >= FIRST_WAVE_YEAR))):
                    out.append((node.lineno, f"parameter {arg.arg}={d.value} (a year default)"))
    return out


def _yaml_offences(value, where) -> list:
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, int) and not isinstance(v, bool) and (str(k) in WAVE_PARAMS or ("year" in str(k).lower() and v >= FIRST_WAVE_YEAR)):
                out.append(f"{where}.{k}: a year in a research spec (take it from the wave)")
            out += _yaml_offences(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _yaml_offences(v, f"{where}[{i}]")
    elif isinstance(value, int) and not isinstance(value, bool) and FIRST_WAVE_YEAR <= value <= 2100:
        out.append(f"{where}: year literal {value}")
    elif isinstance(value, str) and (WAVE_ID.search(value) or NAME.search(value)):
        out.append(f"{where}: wave/instrument literal {value!r}")
    return out


def test_no_wave_literals_in_src():
    found = [f"{p.relative_to(ROOT)}:{line}: {what}" for p in sorted(SRC.rglob("*.py"))
             for line, what in offending_literals(p)]
    assert not found, "\n".join(found)


def test_no_wave_literals_in_research_specs():
    found = []
    for p in sorted((ROOT / "research").glob("*.yml")):
        found += _yaml_offences(yaml.safe_load(p.read_text(encoding="utf-8")), p.name)
    assert not found, "\n".join(found)


def test_the_checker_catches_what_it_should(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        '"""Doc 2025 cites a year."""\n'
        f'def f(x, *, wave_year=2025, seed={FIRST_WAVE_YEAR + 2}):\n'
        f'    return load("{INSTRUMENTS[0]}", "{FIRST_WAVE_YEAR}w1"), {FIRST_WAVE_YEAR + 1}\n', encoding="utf-8")
    whats = [w for _, w in offending_literals(bad)]
    assert any("wave_year=2025" in w for w in whats)
    assert any("instrument literal" in w and INSTRUMENTS[0] in w for w in whats)
    assert any("w1" in w for w in whats)
    assert any(f"year literal {FIRST_WAVE_YEAR + 1}" == w for w in whats)
    assert not any("Doc" in w for w in whats) and f"year literal {FIRST_WAVE_YEAR + 2}" not in whats
    assert "x.wave_year: a year in a research spec (take it from the wave)" in _yaml_offences({"wave_year": 2025, "ref": "Smith (2016)"}, "x")
    assert _yaml_offences({"ref": "Smith (2016)", "random_state": 20250301}, "x") == []
