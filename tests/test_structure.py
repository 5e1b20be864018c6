import ast
import json

import yaml

from cmlkit.run_graph import load_pipeline
from cmlkit.run_graph import notebook_parameters as declared_parameters


def _notebooks(root):
    return sorted((root / "notebooks").glob("*.ipynb"))


def test_every_notebook_is_clean_and_parameterised(root):
    nbs = _notebooks(root)
    assert nbs
    for path in nbs:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
        assert cells[0]["cell_type"] == "markdown", path.name
        params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(params) == 1, path.name
        for node in ast.parse("".join(params[0]["source"])).body:  # literals only
            assert isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant), path.name
        for c in cells:
            if c["cell_type"] == "code":
                assert not c.get("outputs") and c.get("execution_count") is None, path.name
                tree = ast.parse("".join(c["source"]))
                assert not any(isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda)) for n in ast.walk(tree)), path.name
                assert "os.environ" not in "".join(c["source"])


def test_every_notebook_sits_in_a_pipeline_and_every_parameter_is_declared(root):
    used = set()
    for pipe in sorted((root / "pipelines").glob("*.yml")):
        spec = load_pipeline(pipe)
        for step in spec["steps"]:
            used.add(step["notebook"])
            declared = declared_parameters(root / step["notebook"])
            named = set(step["params"]) | set(step["inputs"]) | {p["param"] for p in step["products"].values()}
            assert named <= set(declared), (step["name"], named - set(declared))
    assert {f"notebooks/{p.name}" for p in _notebooks(root)} <= used


def test_ci_calls_make_test_and_gitignore_keeps_outputs_out(root):
    assert "make test" in (root / ".ci" / "run").read_text()
    ignore = (root / ".gitignore").read_text()
    assert "/outputs/*" in ignore and "/data/" in ignore
    env = yaml.safe_load((root / "environment.yml").read_text())
    assert any("pip" in str(d) for d in env["dependencies"])
