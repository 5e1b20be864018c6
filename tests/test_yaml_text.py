"""YAML is read by the C parser where PyYAML has it, with the same values and line marks as the safe loader."""

from pathlib import Path

import pytest
import yaml

from cmlkit.errors import InstrumentError
from cmlkit.instrument import load_instrument_file
from cmlkit.yaml_text import load_yaml

ROOT = Path(__file__).resolve().parents[1]


def test_every_yaml_file_of_the_repository_reads_as_the_safe_loader_reads_it():
    files = [p for p in ROOT.rglob("*.y*ml") if ".venv" not in p.parts and "outputs" not in p.parts]
    assert len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert load_yaml(text) == yaml.safe_load(text), path


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nquestions: [1, 2\nlabel: 3\n", encoding="utf-8")
    with pytest.raises(InstrumentError, match=r"bad\.yaml, row 3: invalid YAML"):
        load_instrument_file(bad)
