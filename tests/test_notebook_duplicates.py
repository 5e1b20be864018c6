"""No block of six or more consecutive code lines is copied between two notebooks (issue #12).

Setup that several notebooks share belongs in a named cmlkit function (e.g.
:func:`cmlkit.findings_section.load_section`), not in copies. Lines are compared whitespace-normalised,
blank lines left out; a notebook's code is its code cells in order.
"""
import json

BLOCK = 6


def code_lines(path):
    """The notebook's non-blank code lines, whitespace-normalised, in order."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    lines = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            lines += [" ".join(line.split()) for line in "".join(cell["source"]).splitlines() if line.strip()]
    return lines


def shared_blocks(paths, *, size=BLOCK):
    """(block, notebook, notebook) for every run of ``size`` consecutive lines found in two notebooks."""
    seen, found = {}, []
    for path in paths:
        lines = code_lines(path)
        for block in {tuple(lines[i:i + size]) for i in range(len(lines) - size + 1)}:
            if block in seen and seen[block] != path.name:
                found.append((block, seen[block], path.name))
            seen.setdefault(block, path.name)
    return found


def test_no_six_line_block_is_copied_between_notebooks(root):
    assert shared_blocks(sorted((root / "notebooks").glob("*.ipynb"))) == []


def test_shared_blocks_finds_a_copy_and_ignores_whitespace(tmp_path):
    def notebook(name, lines):
        path = tmp_path / name
        path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": ["# x\n"]},
                                              {"cell_type": "code", "source": [line + "\n" for line in lines]}]}))
        return path

    common = [f"x{i} = f({i})" for i in range(6)]
    a = notebook("a.ipynb", ["import a"] + common)
    b = notebook("b.ipynb", [line.replace(" = ", "  =  ") for line in common[:3]] + [""] + common[3:] + ["y = 1"])
    c = notebook("c.ipynb", common[:5] + ["z = 2"] + common[5:])
    assert [(s, t) for _, s, t in shared_blocks([a, b, c])] == [("a.ipynb", "b.ipynb")]
