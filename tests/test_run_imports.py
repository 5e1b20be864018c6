"""Import floor: ``import cmlkit`` and the runner load nothing heavy (checked in a fresh interpreter)."""
import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "sklearn", "statsmodels", "stepmix", "papermill", "pyarrow")


def _loaded(code):
    res = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, timeout=120, check=True)
    return {m.split(".")[0] for m in json.loads(res.stdout.splitlines()[-1])}


@pytest.mark.parametrize("code", ["import cmlkit", "import cmlkit.cli", "import cmlkit.run",
                                  "from cmlkit.cli import build_parser; build_parser()"])
def test_no_heavy_module_on_import(code):
    assert not _loaded(code) & set(HEAVY)


def test_submodules_load_on_first_use():
    loaded = _loaded("import cmlkit\nassert cmlkit.research.read_spec\nassert cmlkit.tables.write_csv")
    assert "pandas" in loaded                    # cmlkit.tables needs pandas: loaded when used, not before
    import cmlkit

    with pytest.raises(AttributeError):
        cmlkit.no_such_module
