"""Small projects for runner tests: a copy of the instrument and research files, tiny notebooks, a pipeline."""
import shutil
import subprocess
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]


def notebook(path, parameters: str, *cells: str):
    """Write a notebook with a tagged parameters cell and code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    param = nbformat.v4.new_code_cell(parameters)
    param.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("Test step."), param] + [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# step a reads the instrument, two research files, a cleaning-log and a Taskforce file named by parameters,
# and writes a product; b and c read a's product; c also writes a figure-like text file from a parameter.
A = ('instrument = "cml_library"\nwave = "2025w1"\nexport_path = "x.csv"  # the raw export\n'
     'cleaning_log = None  # a reviewed cleaning log\ntaskforce_path = None\noutput_dir = "out"\nclean_path = "out/a.csv"',
     "import os\nfrom pathlib import Path\nfrom cmlkit import research\nfrom cmlkit.instrument import load_instrument\n"
     "inst = load_instrument(instrument, wave)\nrules, _ = research.read_spec('disclosure.yml')\n"
     "extra = [Path(p).read_bytes() for p in (cleaning_log, taskforce_path) if p]\n"
     "text = Path(export_path).read_text()\n"
     "Path(clean_path).write_text(f'{inst.version} k={rules[\"k\"]} {len(text)} {sum(map(len, extra))}\\n')")
B = ('output_dir = "out"\nclean_path = "out/a.csv"\nlabel = "b"',
     "import os, time\nfrom pathlib import Path\ntime.sleep(1.5)\n"
     "(Path(output_dir) / 'tables').mkdir(parents=True, exist_ok=True)\n"
     "(Path(output_dir) / 'tables' / f'{label}.txt').write_text(Path(clean_path).read_text() + label + ' threads=' + os.environ.get('OMP_NUM_THREADS', '?'))")
C = ('output_dir = "out"\nclean_path = "out/a.csv"\ntitle = "Figure"  # a figure title',
     "import time\nfrom pathlib import Path\nfrom cmlkit import progress\n"
     "for _ in progress.track(range(3), desc='draws'):\n    time.sleep(0.5)\n"
     "(Path(output_dir) / 'figures').mkdir(parents=True, exist_ok=True)\n"
     "(Path(output_dir) / 'figures' / 'c.txt').write_text(title + ' ' + Path(clean_path).read_text())")


def make_project(tmp_path, *, git=True):
    """A project root with the cml_library instrument, research files, three tiny notebooks and a pipeline."""
    root = tmp_path / "project"
    (root / "survey_instruments" / "cml_library" / "waves").mkdir(parents=True)
    shutil.copy(ROOT / "survey_instruments" / "cml_library" / "waves" / "2025w1.yaml",
                root / "survey_instruments" / "cml_library" / "waves" / "2025w1.yaml")
    shutil.copytree(ROOT / "research", root / "research")
    notebook(root / "notebooks" / "a.ipynb", *A)
    notebook(root / "notebooks" / "b.ipynb", *B)
    notebook(root / "notebooks" / "c.ipynb", *C)
    spec = {"name": "tiny", "inputs": {"export": {"required": True}},
            "steps": [{"name": "a", "notebook": "notebooks/a.ipynb", "inputs": {"export_path": "export"},
                       "products": {"a_out": {"param": "clean_path", "path": "data/a.csv"}}},
                      {"name": "b", "notebook": "notebooks/b.ipynb", "inputs": {"clean_path": "a_out"}},
                      {"name": "c", "notebook": "notebooks/c.ipynb", "inputs": {"clean_path": "a_out"}}]}
    (root / "pipelines").mkdir()
    (root / "pipelines" / "tiny.yml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    data = root / "data"
    data.mkdir()
    (data / "export.csv").write_text("id,x\n1,2\n", encoding="utf-8")
    (data / "log.csv").write_text("response_id,question,old,new\n1,x,2,3\n", encoding="utf-8")
    (data / "taskforce.csv").write_text("name,status,year\nA,open,2016\n", encoding="utf-8")
    (root / ".gitignore").write_text("data/\noutputs/\n", encoding="utf-8")
    if git:
        for args in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-q", "-m", "init"]):
            subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root
