"""Survey platforms are registered objects (cmlkit.platform_registry); adding one is one entry.

(a) no module outside ``platforms.py``/``platform_registry.py`` holds a platform-name literal (so no
module branches on a platform's name); (b) the README's worked example: a toy platform registered
here only, written by the synthetic writer through its hooks and read back by ``read_export``, gives
the same responses as the single-header export of the same data; (c) the detection error names
every registered platform.
"""
import ast
from pathlib import Path

import pandas as pd
import pytest

from cmlkit.errors import IngestError
from cmlkit.ingest import detect_platform, read_export
from cmlkit.instrument import load_instrument
from cmlkit.platform_registry import (Platform, get_platform, header_text, meta_columns, platform_names, register_platform,
                                      single_header_columns, unregister_platform)
from cmlkit.platforms import PLATFORMS
from cmlkit.synthetic import wave
from cmlkit.synthetic.exports import write_export

PKG = Path(__file__).resolve().parents[1] / "src" / "cmlkit"
REGISTRY_MODULES = {"platforms.py", "platform_registry.py"}
# Literals that are data, not branches, in modules other branches own (the integrator shrinks this):
LITERALS_ALLOWED = {
    "synthetic/users.py": {"singleheader", "surveymonkey"},   # issue 19: make_user_wave's default platforms
}


# --- the worked example of the README ("Adding a survey platform") --------------------------------

def _is_limesurvey(rows, container):
    first = [header_text(c) for c in rows[0]]
    return first[:1] == ["id"] and "submitdate" in first and "startlanguage" in first


LIMESURVEY = Platform(
    name="limesurvey", title="LimeSurvey", detect=_is_limesurvey,
    meta=meta_columns({"id": "respondent_id", "submitdate": "end", "lastpage": "ignored:lastpage",
                       "startlanguage": "ignored:startlanguage", "startdate": "start"}),
    columns=single_header_columns,              # one header row: question text, grids as "Stem [Item]"
    date_format="%Y-%m-%dT%H:%M:%S",            # what the synthetic writer puts in the date cells
    join="|",                                   # multi-select labels joined in one cell
    select_one_other="text",                    # a single-choice 'other' answer: the typed text in the cell
    cells={"ignored:startlanguage": lambda raw: ["en"] * len(raw)},
)

# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def limesurvey():
    """The toy platform, registered for one test."""
    register_platform(LIMESURVEY)
    try:
        yield LIMESURVEY
    finally:
        unregister_platform(LIMESURVEY.name)


@pytest.fixture(scope="module")
def raw_library(tmp_path_factory):
    """The raw response table of a small clean synthetic wave (captured from the wave writer)."""
    raws = {}
    original = wave.write_export

    def capture(raw, inst, platform, path):
        raws[inst.instrument] = raw.copy()
        return original(raw, inst, platform, path)

    wave.write_export = capture
    try:
        wave.make_wave(tmp_path_factory.mktemp("toy_wave"), seed=11, n_community=16, volunteers_per_library=(1, 2),
                       inject=False, platforms=("singleheader",))
    finally:
        wave.write_export = original
    return raws["cml_library"]


def _literals(path: Path) -> list:
    """(line, value) of every string constant of a module that is not a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docs.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_no_module_outside_the_registry_names_a_platform():
    names = set(platform_names())
    assert set(PLATFORMS) <= names
    found = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = str(path.relative_to(PKG))
        if rel in REGISTRY_MODULES:
            continue
        hits = [(line, v) for line, v in _literals(path) if v in names and v not in LITERALS_ALLOWED.get(rel, set())]
        if hits:
            found[rel] = hits
    assert not found, f"platform-name literals outside the registry (ask cmlkit.platform_registry instead): {found}"


def test_the_structural_check_sees_a_branch(tmp_path):
    path = tmp_path / "m.py"
    path.write_text('"""Mentions kobo in a docstring."""\n\ndef f(p):\n    """qualtrics too."""\n    return p == "kobo"\n')
    assert _literals(path) == [(5, "kobo")]


def test_registry_lookups():
    assert platform_names()[:6] == ("surveymonkey", "qualtrics", "singleheader", "msforms", "kobo", "spss")
    assert get_platform("kobo").delimiter == ";" and get_platform("surveymonkey").header_rows == 2
    with pytest.raises(ValueError, match="unknown platform 'nope'"):
        get_platform("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_platform(get_platform("kobo"))
    with pytest.raises(ValueError, match="container"):
        Platform(name="x", title="X", detect=lambda rows, container: False, container="json")


def test_a_new_platform_is_one_entry(limesurvey, raw_library, tmp_path, root):
    inst = load_instrument("cml_library", "2025w1", root=root)
    toy = write_export(raw_library, inst, "limesurvey", tmp_path / f"cml_library_limesurvey{limesurvey.extension}")
    single = write_export(raw_library, inst, "singleheader", tmp_path / "cml_library_singleheader.csv")
    header = toy.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("id,submitdate,lastpage,startlanguage,startdate,")
    a, b = read_export(toy, inst), read_export(single, inst)      # detected from the header
    assert a.attrs["platform"] == "limesurvey" and b.attrs["platform"] == "singleheader"
    cols = inst.question_ids + ["_start", "_end", "_status", "_finished", "_progress"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert a["response_id"].tolist() == raw_library["_respondent_id"].astype(str).tolist()
    assert a[inst.questions_of_type("select_multiple")].notna().any().all()


def test_detection_error_names_every_platform(limesurvey, tmp_path, lib):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"foo,bar\n1,2\n")
    with pytest.raises(IngestError, match="unknown export layout") as exc:
        read_export(path, lib)
    message = str(exc.value)
    for name in platform_names():
        assert name in message and get_platform(name).title in message
    assert "Microsoft Forms" in message and "KoboToolbox" in message and "SPSS" in message and "LimeSurvey" in message
    with pytest.raises(IngestError, match="file has no header"):
        detect_platform([])
