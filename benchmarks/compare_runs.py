"""Compare two finished runs file by file: are their data, tables, figures and private outputs byte-identical?

Used to check that a refactoring changes no result: run the same pipeline on the same inputs with the
code before and after (e.g. ``git archive <rev> | tar -x -C /tmp/before`` and ``PYTHONPATH=/tmp/before/src``),
then ``python benchmarks/compare_runs.py RUN_BEFORE RUN_AFTER --out benchmarks/results/compare_runs.json``.
Exit status 1 when any file differs or is missing on one side.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

COMPARED = ("data", "tables", "figures", "private")   # run.json, notebooks and logs carry times and paths


def digests(run: Path) -> dict:
    """sha256 of every file under the compared folders of a run folder, by relative path."""
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.rglob("*")) if p.is_file() and p.relative_to(run).parts[0] in COMPARED}


def compare(before: Path, after: Path) -> dict:
    """Files identical, differing, and present on one side only."""
    a, b = digests(before), digests(after)
    return {"before": str(before), "after": str(after), "files": len(a),
            "identical": sum(b.get(k) == v for k, v in a.items()),
            "differ": sorted(k for k in a if k in b and a[k] != b[k]),
            "only_before": sorted(set(a) - set(b)), "only_after": sorted(set(b) - set(a))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    result = compare(args.before, args.after)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 1 if result["differ"] or result["only_before"] or result["only_after"] else 0


if __name__ == "__main__":
    sys.exit(main())
