"""Pipeline definitions: load and check a pipeline YAML, read notebook parameters, plan and select the steps
(the order they start in: :mod:`cmlkit.run_schedule`).

A pipeline YAML names its notebooks in order, the named inputs a user passes on the command line,
the products each step writes (a notebook parameter that receives a concrete path under the run
folder) and fixed parameters::

    name: wave
    instrument: cml_library                              # optional: a run's --instrument must be this one
    inputs:
      library_export: {instrument: cml_library, required: true, help: raw export of the library survey}
    steps:
      - name: clean_library
        notebook: notebooks/10_clean_responses.ipynb
        params: {instrument: cml_library}
        inputs: {export_path: library_export}            # notebook parameter <- input or product name
        products:
          library_clean: {param: clean_path, path: data/cml_library/clean.parquet}
      - name: report
        notebook: notebooks/90_report.ipynb
        after: [clean_library]                           # reads products it does not name
      - name: clean_users
        notebook: notebooks/10_clean_responses.ipynb
        when: user_export                                # runs only when this optional input is given

A step depends on the steps whose products it takes as inputs and on those listed in ``after``
(``after: all`` = every earlier step; a step that names no inputs at all, such as a report built
from the whole run folder, gets ``after: all`` unless it says otherwise, e.g. ``after: []``);
steps with no dependency between them may run in parallel. Notebook parameters are read from the
cell tagged ``parameters`` (literal assignments; a comment on the same line is the parameter's
help), without starting a kernel.
"""

from __future__ import annotations

import ast
import io
import json
import tokenize
from pathlib import Path

import yaml

from cmlkit.errors import PipelineError, UnknownParameterError
from cmlkit.yaml_text import load_yaml

STEP_KEYS = {"name", "notebook", "params", "inputs", "products", "after", "when"}
RUNNER_PARAMS = ("wave", "output_dir", "instrument")


def load_pipeline(path) -> dict:
    """Load and check a pipeline YAML (structure only; parameters are checked per notebook).

    Parameters
    ----------
    path : str or path-like
        The pipeline YAML file.

    Returns
    -------
    dict
        The specification with defaults filled in: ``"name"`` (default: the file's stem),
        ``"inputs"`` (default ``{}``) and, per step, ``"name"`` (default: the notebook's stem),
        ``"params"``, ``"inputs"`` and ``"products"`` (default ``{}``), ``"after"`` as a list of
        earlier step names (``all``, or no key on a step that names no inputs, becomes every earlier
        step) and ``"needs"``: the names of the steps it depends on (through products it takes or
        ``after``), in pipeline order.

    Raises
    ------
    PipelineError
        When the file is missing or not valid YAML; it has no list of ``steps``; a step has no
        ``notebook`` or an unknown key; ``after`` is neither a list nor ``all`` or names a step that is
        not earlier; a step name or product name is used twice; ``when`` names no pipeline input; a
        step input is neither a pipeline input nor a product of an earlier step; or a product lacks
        exactly ``param`` and ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError("pipeline file not found", file=path)
    try:
        spec = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PipelineError(f"invalid YAML: {' '.join(str(exc).split())}", file=path) from None
    if not isinstance(spec, dict) or not isinstance(spec.get("steps"), list):
        raise PipelineError("a pipeline needs 'name' and a list of 'steps'", file=path)
    spec.setdefault("name", path.stem)
    spec["inputs"] = spec.get("inputs") or {}
    names, producer = set(), {name: None for name in spec["inputs"]}
    for i, step in enumerate(spec["steps"], start=1):
        if not isinstance(step, dict) or "notebook" not in step:
            raise PipelineError(f"step {i}: a step needs a 'notebook'", file=path)
        extra = set(step) - STEP_KEYS
        if extra:
            raise PipelineError(f"step {i}: unknown keys {sorted(extra)}", file=path)
        step.setdefault("name", Path(step["notebook"]).stem)
        for key in ("params", "inputs", "products"):
            step[key] = step.get(key) or {}
        earlier = [s["name"] for s in spec["steps"][:i - 1]]
        if "after" not in step and not step["inputs"]:
            step["after"] = "all"      # takes nothing it names: it reads the run folder, so it waits for every earlier step
        if step.get("after") == "all":
            step["after"] = earlier
        if not isinstance(step.get("after") or [], list):
            raise PipelineError(f"step {step['name']!r}: 'after' must be a list of step names or 'all'", file=path)
        step["after"] = list(step.get("after") or [])
        if step["name"] in names:
            raise PipelineError(f"step name {step['name']!r} used twice", file=path)
        if "when" in step and step["when"] not in spec["inputs"]:
            raise PipelineError(f"step {step['name']!r}: 'when' names {step['when']!r}, which is not a pipeline input", file=path)
        needs = []
        for param, source in step["inputs"].items():
            if source not in producer:
                raise PipelineError(f"step {step['name']!r}: input {source!r} for {param!r} is neither a pipeline input "
                                    "nor a product of an earlier step", file=path)
            if producer[source] is not None:
                needs.append(producer[source])
        for other in step["after"]:
            if other not in names:
                raise PipelineError(f"step {step['name']!r}: 'after' names {other!r}, which is not an earlier step", file=path)
            needs.append(other)
        step["needs"] = sorted(set(needs), key=[s["name"] for s in spec["steps"]].index)
        names.add(step["name"])
        for pname, prod in step["products"].items():
            if pname in producer:
                raise PipelineError(f"product name {pname!r} used twice", file=path)
            if not isinstance(prod, dict) or set(prod) != {"param", "path"}:
                raise PipelineError(f"step {step['name']!r}: product {pname!r} needs 'param' and 'path'", file=path)
            producer[pname] = step["name"]
    return spec


def drop_unused_steps(spec: dict, inputs) -> tuple[dict, list]:
    """Leave out the steps tied by ``when: <input>`` to an optional input that was not given.

    Parameters
    ----------
    spec : dict
        A specification from :func:`load_pipeline`.
    inputs : iterable of str
        The names of the inputs given (e.g. the keys of the ``--input`` dict).

    Returns
    -------
    spec : dict
        The specification without those steps, their names removed from the other steps' ``needs`` and
        ``after`` (later steps no longer wait for them and get None for their products); ``spec``
        itself, unchanged, when no step is left out. The input ``spec`` is not modified.
    skipped : list of dict
        ``{"name", "notebook", "reason"}`` per step left out, in pipeline order, for ``run.json``.
    """
    given = set(inputs)
    gone = {s["name"] for s in spec["steps"] if s.get("when") and s["when"] not in given}
    if not gone:
        return spec, []
    steps = [{**s, "needs": [n for n in s["needs"] if n not in gone], "after": [n for n in s["after"] if n not in gone]}
             for s in spec["steps"] if s["name"] not in gone]
    skipped = [{"name": s["name"], "notebook": s["notebook"], "reason": f"input {s['when']!r} not given"}
               for s in spec["steps"] if s["name"] in gone]
    return {**spec, "steps": steps}, skipped


_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "list": (list,), "dict": (dict,)}


def _check_override(key, pname, value, declared, wired, step) -> None:
    """Refuse a ``--set`` the run would not honour, or a value of the wrong type for the parameter's default.

    The runner's own parameters (wave, instrument, output folder) and those wired to an input or a product are
    set by the run, not by ``--set`` (an output folder set by hand would put private files outside the run). A
    value must have the type of the default's literal (an int default takes whole numbers only, a float one any
    number); a parameter whose default is None or not a literal takes any value.
    """
    if pname in RUNNER_PARAMS:
        how = "fixed by the pipeline" if pname in step["params"] else \
            "set by the runner (use " + {"wave": "--wave", "instrument": "--instrument", "output_dir": "--outputs"}[pname] + ")"
        raise UnknownParameterError(f"--set {key!r}: {pname} of step {step['name']!r} is {how}", file=step["notebook"])
    if wired:
        raise UnknownParameterError(f"--set {key!r}: {pname} of step {step['name']!r} comes from {wired}", file=step["notebook"])
    want = _TYPES.get((declared or {}).get("inferred_type_name", ""))
    if want and value is not None and (not isinstance(value, want) or (isinstance(value, bool) and bool not in want)):
        kind = declared["inferred_type_name"]
        raise UnknownParameterError(f"--set {key}={value!r}: {pname} of step {step['name']!r} takes a{'n' if kind[0] in 'aeiou' else ''} "
                                    f"{kind} (default {declared['default']})", file=step["notebook"])


def notebook_parameters(notebook) -> dict:
    """Return the parameters a notebook declares in its cell tagged ``parameters``.

    Parameters
    ----------
    notebook : str or path-like
        The ``.ipynb`` file, read as JSON (no kernel is started). Only the first code cell tagged
        ``parameters`` is read, and in it only plain assignments to one name (``x = ...`` or
        ``x: T = ...``).

    Returns
    -------
    dict
        ``name -> {"name", "default", "inferred_type_name", "help"}`` in cell order, where
        ``default`` is the source text of the value, ``inferred_type_name`` the annotation's text,
        else the type name of the literal value (``"None"`` when the value is not a literal), and
        ``help`` the comment on the line where the assignment ends (``""`` when none). Empty when no
        cell is tagged ``parameters``.

    Raises
    ------
    PipelineError
        When the notebook cannot be read or is not JSON, or the parameters cell is not valid Python.
    """
    notebook = Path(notebook)
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PipelineError(f"cannot read the notebook ({exc})", file=notebook) from None
    cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"
             and "parameters" in (c.get("metadata") or {}).get("tags", [])]
    if not cells:
        return {}
    source = cells[0]["source"]
    source = "".join(source) if isinstance(source, list) else source
    try:
        tree = ast.parse(source)
        comments = {tok.start[0]: tok.string.lstrip("#").strip()
                    for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    except (SyntaxError, tokenize.TokenError) as exc:
        raise PipelineError(f"the parameters cell is not valid Python ({exc})", file=notebook) from None
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, annotation = node.targets[0].id, None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, annotation = node.target.id, ast.get_source_segment(source, node.annotation)
        else:
            continue
        default = ast.get_source_segment(source, node.value)
        try:
            kind = type(ast.literal_eval(node.value)).__name__
        except ValueError:
            kind = "None"
        out[name] = {"name": name, "default": default, "inferred_type_name": annotation or kind,
                     "help": comments.get(node.end_lineno, "")}
    return out


def plan_run(spec: dict, *, root, instrument: str, wave: str, inputs: dict, overrides: dict) -> list:
    """Resolve every step's parameters (without running) and check them; return the step plans.

    Parameters
    ----------
    spec : dict
        A specification from :func:`load_pipeline` (after :func:`drop_unused_steps`).
    root : str or path-like
        The project root; step notebooks are relative to it.
    instrument, wave : str
        Given to each step that declares an ``instrument`` or ``wave`` parameter and whose pipeline
        entry does not fix it.
    inputs : dict
        ``{input name: path}`` from ``--input``.
    overrides : dict
        ``{"param": value}`` or ``{"step.param": value}`` from ``--set``. ``step.param`` sets that
        step's parameter; a bare ``param`` sets it in every step that declares it. Overrides win over
        fixed and runner parameters; product and input wiring wins over overrides.

    Returns
    -------
    list of dict
        One plan per step, in pipeline order: ``"step"`` (its specification), ``"notebook"`` (``root``
        joined with the notebook's path) and ``"params"``, where a product parameter is
        ``("product", name, relative path)``, an input parameter ``("input", source)`` and
        ``output_dir`` left as None for the runner to fill in.

    Raises
    ------
    PipelineError
        When an input is unknown to the pipeline, a required input is missing, an input file does not
        exist, a step's notebook is missing, or its parameters cell cannot be read.
    UnknownParameterError
        When a step would receive a parameter its parameters cell does not declare, or an override
        matches no parameter of any step.
    """
    root = Path(root)
    unknown_inputs = set(inputs) - set(spec["inputs"])
    if unknown_inputs:
        raise PipelineError(f"unknown input {sorted(unknown_inputs)[0]!r}; this pipeline takes {sorted(spec['inputs'])}")
    for name, meta in spec["inputs"].items():
        if (meta or {}).get("required", True) and name not in inputs:
            raise PipelineError(f"missing input {name!r}: pass --input {name}=PATH")
    for name, p in inputs.items():
        if not Path(p).is_file():
            raise PipelineError(f"input {name!r}: {'a folder, not a file' if Path(p).is_dir() else 'file not found'}", file=p)
    plans, used_overrides = [], set()
    made_by = {product: s["name"] for s in spec["steps"] for product in s["products"]}
    for step in spec["steps"]:
        nb = root / step["notebook"]
        if not nb.is_file():
            raise PipelineError(f"step {step['name']!r}: notebook not found", file=nb)
        declared = notebook_parameters(nb)
        params = dict(step["params"])
        for key in RUNNER_PARAMS:
            if key in declared and key not in params:
                params[key] = {"wave": wave, "instrument": instrument, "output_dir": None}[key]
        wired = {prod["param"]: f"its product {pname!r} (the pipeline's path)" for pname, prod in step["products"].items()} | \
                {param: (f"input {source!r} (pass --input {source}=PATH)" if source in spec["inputs"]
                         else f"product {source!r} of step {made_by.get(source)!r}") for param, source in step["inputs"].items()}
        for key, value in overrides.items():
            target, _, pname = key.rpartition(".")
            if target and target != step["name"]:
                continue
            if pname in declared or target:
                _check_override(key, pname, value, declared.get(pname), wired.get(pname), step)
                params[pname] = value
                used_overrides.add(key)
        for pname, prod in step["products"].items():
            params[prod["param"]] = ("product", pname, prod["path"])
        for param, source in step["inputs"].items():
            params[param] = ("input", source)
        for pname in params:
            if pname not in declared:
                elsewhere = [s["name"] for s in spec["steps"] if pname in s.get("params", {}) and s is not step]
                hint = f"; it is a parameter of {', '.join(elsewhere)}" if elsewhere else ""
                raise UnknownParameterError(f"step {step['name']!r}: parameter {pname!r} is not declared in the parameters cell "
                                            f"(declared: {', '.join(sorted(declared)) or 'none'}){hint}", file=step["notebook"])
        plans.append({"step": step, "notebook": nb, "params": params})
    unused = set(overrides) - used_overrides
    if unused:
        raise UnknownParameterError(f"--set {sorted(unused)[0]!r} matches no parameter of any step")
    return plans


def downstream(spec: dict, names) -> set:
    """Return the named steps and every step that depends on them, directly or not.

    Parameters
    ----------
    spec : dict
        A specification from :func:`load_pipeline` (``needs`` filled in; steps depend only on earlier
        ones, so one pass in pipeline order finds them all).
    names : iterable of str
        The step names to start from.

    Returns
    -------
    set of str
        ``names`` and the names of all steps downstream of them.
    """
    out = set(names)
    for step in spec["steps"]:
        if out & set(step["needs"]):
            out.add(step["name"])
    return out


def select_steps(spec: dict, *, from_step=None, only=None) -> tuple[set, set]:
    """Split the steps for ``--from``/``--only``: ``(run, take_from_latest)``; the rest are skipped.

    Parameters
    ----------
    spec : dict
        A specification from :func:`load_pipeline`.
    from_step : str, optional
        ``--from STEP`` (default None): run STEP and every step after it in the pipeline's order.
    only : str, optional
        ``--only STEP`` (default None): run STEP alone.

    Returns
    -------
    run : set of str
        The steps to run (all of them when neither option is given).
    take_from_latest : set of str
        The steps before STEP, whose products are taken from the latest run (empty when neither
        option is given). With ``--only``, the steps after STEP are in neither set: they are skipped.

    Raises
    ------
    PipelineError
        When the named step does not exist, or both options are given.
    """
    order = [s["name"] for s in spec["steps"]]
    for flag, name in (("--from", from_step), ("--only", only)):
        if name is not None and name not in order:
            raise PipelineError(f"{flag} {name!r}: no such step; steps are {', '.join(order)}")
    if from_step is not None and only is not None:
        raise PipelineError("use --from or --only, not both")
    if from_step is None and only is None:
        return set(order), set()
    start = order.index(from_step if from_step is not None else only)
    run = set(order[start:]) if from_step is not None else {only}
    return run, set(order[:start])


def describe_steps(spec: dict, *, root) -> list[dict]:
    """Return, per step, its notebook, dependencies, parameters (default, help, fixed value), inputs and products.

    Parameters
    ----------
    spec : dict
        A specification from :func:`load_pipeline`.
    root : str or path-like
        The project root; step notebooks are relative to it.

    Returns
    -------
    list of dict
        One per step, in pipeline order: ``"name"``, ``"notebook"`` (as in the YAML), ``"needs"``,
        ``"parameters"``, ``"inputs"`` (``{param: source}``) and ``"products"`` (``{product: path}``).
        ``"parameters"`` lists the notebook's declared parameters that are not wired to an input or
        product, each ``{"name", "default", "help", "fixed", "set_by"}``, where ``fixed`` is the value
        the pipeline gives (else None) and ``set_by`` is ``"pipeline"``, ``"runner"`` (``wave``,
        ``output_dir``, ``instrument``) or ``"notebook"``.

    Raises
    ------
    PipelineError
        As :func:`plan_run` would: a step's notebook missing or unreadable, its parameters cell not valid
        Python, or a parameter the pipeline gives that the notebook does not declare
        (:class:`~cmlkit.errors.UnknownParameterError`).
    """
    root = Path(root)
    out = []
    for step in spec["steps"]:
        nb = root / step["notebook"]
        if not nb.is_file():
            raise PipelineError(f"step {step['name']!r}: notebook not found", file=nb)
        declared = notebook_parameters(nb)
        undeclared = sorted(set(step["params"]) - set(declared))
        if undeclared:
            raise UnknownParameterError(f"step {step['name']!r}: parameter {undeclared[0]!r} is not declared in the parameters "
                                        f"cell (declared: {', '.join(sorted(declared)) or 'none'})", file=step["notebook"])
        wired = {p["param"] for p in step["products"].values()} | set(step["inputs"])
        params = [{"name": name, "default": meta["default"], "help": meta["help"],
                   "fixed": step["params"].get(name, None) if name in step["params"] else None,
                   "set_by": ("pipeline" if name in step["params"] else "runner" if name in RUNNER_PARAMS else "notebook")}
                  for name, meta in declared.items() if name not in wired]
        out.append({"name": step["name"], "notebook": step["notebook"], "needs": step["needs"], "parameters": params,
                    "inputs": dict(step["inputs"]),
                    "products": {name: prod["path"] for name, prod in step["products"].items()}})
    return out


def format_steps(spec: dict, described: list[dict]) -> str:
    """The text ``cmlkit steps`` prints.

    Parameters
    ----------
    spec : dict
        A specification from :func:`load_pipeline` (its ``name``, optional ``description`` and
        ``inputs`` are shown).
    described : list of dict
        The steps, as returned by :func:`describe_steps`.

    Returns
    -------
    str
        The pipeline's name and description, its inputs (required or optional, with help), then each
        numbered step with its notebook, the steps it waits for, its inputs, products and ``--set``
        parameters with their fixed value, default or "set by the runner". No final newline.
    """
    lines = [f"pipeline {spec['name']}: {spec.get('description', '').strip()}".rstrip(": "), "", "inputs (--input NAME=PATH):"]
    for name, meta in spec["inputs"].items():
        meta = meta or {}
        req = "required" if meta.get("required", True) else "optional"
        lines.append(f"  {name} ({req}){': ' + meta['help'] if meta.get('help') else ''}")
    for i, d in enumerate(described, start=1):
        lines += ["", f"{i}. {d['name']}  [{d['notebook']}]"]
        if d["needs"]:
            lines.append(f"   after: {', '.join(d['needs'])}")
        for param, source in d["inputs"].items():
            lines.append(f"   input    {param} <- {source}")
        for name, path in d["products"].items():
            lines.append(f"   product  {name} -> {path}")
        for p in d["parameters"]:
            value = (f"= {p['fixed']!r} (pipeline)" if p["set_by"] == "pipeline" else
                     "(set by the runner)" if p["set_by"] == "runner" else f"= {p['default']} (default)")
            lines.append(f"   --set {d['name']}.{p['name']} {value}{'  # ' + p['help'] if p['help'] else ''}")
    return "\n".join(lines)
