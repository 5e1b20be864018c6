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
            # `cmlkit steps` shows each parameter's help: the comment on its line in the parameters cell
            assert all(meta["help"] for meta in declared.values()), (step["name"], [n for n, m in declared.items() if not m["help"]])
    assert {f"notebooks/{p.name}" for p in _notebooks(root)} <= used


def test_ci_calls_make_test_and_gitignore_keeps_outputs_out(root):
    assert "make test" in (root / ".ci" / "run").read_text()
    ignore = (root / ".gitignore").read_text()
    assert "/outputs/*" in ignore and "/data/" in ignore
    env = yaml.safe_load((root / "environment.yml").read_text())
    assert any("pip" in str(d) for d in env["dependencies"])


# Notebooks narrate: no loops, no comprehensions, no attribute or item writes in their code (that work
# belongs in named, tested cmlkit functions). Every notebook narrates now; a notebook another branch is
# still changing may be listed here until it lands (the integrator shrinks the list, never grows it).
NOTEBOOKS_STILL_COMPUTING = set()


def notebook_computations(path):
    """(cell, line, kind) of every loop, comprehension and attribute/item write in a notebook's code."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
                found.append((i, node.lineno, "loop"))
            elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                found.append((i, node.lineno, "comprehension"))
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, (ast.Attribute, ast.Subscript)) for tg in targets for t in ast.walk(tg)):
                    found.append((i, node.lineno, "attribute or item write"))
    return found


def test_notebooks_only_narrate(root, tmp_path):
    computing = {p.name: notebook_computations(p) for p in _notebooks(root) if p.name not in NOTEBOOKS_STILL_COMPUTING}
    assert {k: v for k, v in computing.items() if v} == {}
    probe = tmp_path / "probe.ipynb"
    probe.write_text(json.dumps({"cells": [{"cell_type": "code", "source": [
        "for x in y:\n", "    pass\n", "z = [a for a in b]\n", "d.attr = 1\n", "t['c'] = 2\n"]}]}))
    assert sorted(k for _, _, k in notebook_computations(probe)) == [
        "attribute or item write", "attribute or item write", "comprehension", "loop"]
