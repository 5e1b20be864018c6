"""Every case of the corpus of unusual and broken exports (``tests/corpus/``, built by ``build_corpus.py``).

Each case goes through ``cmlkit ingest`` (in-process, under a timeout): an error case must give
exit status 2 and one line naming the file, row (header = row 1) and column, with no traceback;
a readable case must exit 0 and, after ingest and cleaning, give exactly the data of its base file
(the ground truth: nothing misread in silence), with rows in = kept + excluded + removed and every
reading decision in the cleaning log.
"""
import json
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from cmlkit import clean, cleaning_audit, cli, ingest
from cmlkit import cleaning_log as logs
from cmlkit.ingest import read_export
from cmlkit.instrument import load_instrument

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))
TIMEOUT_S = 20


@contextmanager
def time_limit(seconds):
    """Fail (not hang) when the body runs longer than ``seconds`` (SIGALRM interrupts blocking calls)."""
    def handler(signum, frame):
        raise TimeoutError(f"case ran over {seconds}s (hang?)")

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def materialise(case, tmp_path) -> Path:
    """The case's file; special files (pipe, folder, device, broken link, missing) are made here."""
    if case["file"]:
        return CORPUS / case["file"]
    path = tmp_path / "export.csv"
    make = case["make"]
    if make == "fifo":
        os.mkfifo(path)
    elif make == "folder":
        path.mkdir()
    elif make == "device":
        return Path(os.devnull)
    elif make == "broken_symlink":
        path.symlink_to(tmp_path / "gone.csv")
    return path


_INSTRUMENTS: dict = {}
_BASE: dict = {}


def instrument(name):
    if name not in _INSTRUMENTS:
        _INSTRUMENTS[name] = load_instrument(name, "2025w1")
    return _INSTRUMENTS[name]


def ingest_and_clean(path, inst, raw=None):
    """Read (unless ``raw``, the frame ``cmlkit ingest`` read from ``path``, is given), clean, account, audit."""
    raw = read_export(path, inst) if raw is None else raw
    log = clean.propose_changes(raw, inst, wave="2025w1")
    applied, report = logs.apply_log(raw, log, inst)
    data, _ = clean.finalise(applied, inst)
    accounting = logs.accounting(raw, report, data).set_index("stage")["n"]
    unexplained = cleaning_audit.compare_audit(report, cleaning_audit.audit_diff(raw, applied, inst, wave="2025w1"))
    return raw, log, data, accounting, unexplained


def base_data(case):
    key = (case["instrument"], case["base"])
    if key not in _BASE:
        _BASE[key] = ingest_and_clean(CORPUS / case["base"], instrument(case["instrument"]))[2]
    return _BASE[key]


def test_corpus_is_large_and_small_enough():
    assert len(CASES) >= 80
    assert sum(c["expect"] == "read" for c in CASES) >= 30 and sum(c["expect"] == "error" for c in CASES) >= 30
    assert len({c["family"] for c in CASES}) == 7
    assert sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file()) < 2_000_000


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case, tmp_path, capsys, monkeypatch):
    if case["make"] == "device" and not Path(os.devnull).exists():
        pytest.skip("no null device")
    path = materialise(case, tmp_path)
    read = []                           # the frame the command read: the cleaning below starts from it (no second read)
    monkeypatch.setattr(ingest, "read_export", lambda *a, **k: read.append(read_export(*a, **k)) or read[-1])
    with time_limit(TIMEOUT_S):
        rc = cli.main(["ingest", str(path), "--instrument", case["instrument"], "--wave", "2025w1"])
    out, err = capsys.readouterr()
    if case["expect"] == "error":
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
        line = lines[0]
        assert line.startswith("cmlkit: error: ") and path.name in line and case["message"] in line, line
        if case.get("row") is not None:
            assert f"row {case['row']} (header = row 1)" in line, line
        if case.get("column") is not None:
            assert f"column {case['column']!r}" in line, line
        return
    assert rc == 0, err
    inst = instrument(case["instrument"])
    assert len(read) == 1
    with time_limit(TIMEOUT_S):
        raw, log, data, accounting, unexplained = ingest_and_clean(path, inst, raw=read[0])
    pd.testing.assert_frame_equal(data, base_data(case), obj=case["id"])   # the ground truth: no silent misread
    excluded = case.get("excluded", {})
    for kind, k in excluded.items():
        assert accounting[f"excluded_{kind}"] == k
    assert accounting.get("rows_in", accounting["responses_in"]) == len(raw) + sum(excluded.values())
    assert accounting["responses_in"] == accounting["responses_kept"] + accounting.filter(like="removed_").sum()
    assert unexplained.empty, unexplained
    for check in case.get("log", []):
        assert (log["check_id"] == check).any(), (check, log["check_id"].unique())


@pytest.mark.parametrize("cid", ["f6_fifo", "f6_lib_singleheader_truncated_mid_field", "f2_lib_singleheader_footer_total"])
def test_command_line_process(cid, tmp_path):
    """The real process: a named pipe does not hang, a truncated file exits 2 (never 134), a footer is read."""
    case = next(c for c in CASES if c["id"] == cid)
    path = materialise(case, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "cmlkit", "ingest", str(path), "--instrument", case["instrument"], "--wave", "2025w1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == (2 if case["expect"] == "error" else 0), proc.stderr
    assert "Traceback" not in proc.stderr and "terminate called" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == (1 if case["expect"] == "error" else 0)


@pytest.mark.parametrize("name", ["cml_library", "cml_volunteer"])
def test_base_files_agree_across_platforms(name):
    """The ground truth itself: the six base layouts of one wave clean to the same answers.

    Layouts without status and progress metadata (SurveyMonkey, single-header, Forms, Kobo) cannot
    see the preview and the unfinished response the others remove; those rows are set aside first.
    """
    inst = instrument(name)
    meta = read_export(CORPUS / "base" / f"{name}_qualtrics.csv", inst)
    hidden = ((meta["_status"] == "preview") | (meta["_finished"].eq(False) & (meta["_progress"] < 50))).to_numpy()
    frames = {}
    for platform, ext in [("surveymonkey", "csv"), ("qualtrics", "csv"), ("singleheader", "csv"), ("msforms", "xlsx"),
                          ("kobo", "csv"), ("spss", "sav")]:
        data = base_data({"instrument": name, "base": f"base/{name}_{platform}.{ext}"}).drop(columns=["response_id", "duration_s"])
        if len(data) == len(hidden):
            data = data.loc[~hidden]
        text = data.select_dtypes(include=["string", "object"]).columns
        frames[platform] = data.assign(**{c: data[c].str.rstrip() for c in text}).reset_index(drop=True)  # SPSS drops trailing blanks
    ref = frames.pop("qualtrics")
    assert len(ref) == len(hidden) - hidden.sum() > 0
    for platform, data in frames.items():
        pd.testing.assert_frame_equal(data, ref, obj=platform, check_dtype=False)
