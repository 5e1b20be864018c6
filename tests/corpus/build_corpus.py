"""Build the corpus of unusual and broken exports under ``tests/corpus/`` (run from the repository root).

    .venv/bin/python tests/corpus/build_corpus.py

A small synthetic wave (seed 17, no injected errors; two library responses made unfinished, one a
platform preview) is written in all six platform layouts: these are the *base* files
(``base/``). Each case (``cases/``) is a base file changed the way real exports go wrong, and
``cases.json`` says what must happen:

* ``expect: read`` -- the file is read, and after cleaning the data equal the base file's clean
  data exactly (the ground truth), every row excluded while reading is in the row accounting, and
  the cleaning log holds the listed ``log`` check ids (every reading decision logged);
* ``expect: error`` -- ``cmlkit ingest`` exits 2 with one line naming the file and, where the
  case says, the row (header = row 1) and the column, and containing ``message``.

Cases with ``make`` (a named pipe, a folder, a device, a broken link, a missing file) are created
by the test itself, since git cannot hold them. The same seed builds byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
from openpyxl import load_workbook

from cmlkit.synthetic import wave
from cmlkit.platform_registry import get_platform
from cmlkit.synthetic.exports import write_export
from cmlkit.instrument import load_instrument
from cmlkit.platforms import PLATFORMS, layout
from cmlkit.tables import freeze_xlsx

HERE = Path(__file__).resolve().parent
SEED = 17
INSTRUMENTS = ("cml_library", "cml_volunteer")
SHORT = {"cml_library": "lib", "cml_volunteer": "vol"}
N_HEADER = {"surveymonkey": 2, "qualtrics": 3}


def _raw_tables(tmp: Path) -> dict:
    """The raw response tables of a small synthetic wave (captured from the wave writer)."""
    raws = {}
    original = wave.write_export

    def capture(raw, inst, platform, path):
        raws[inst.instrument] = raw.copy()
        return original(raw, inst, platform, path)

    wave.write_export = capture
    try:
        wave.make_wave(tmp, seed=SEED, n_community=16, volunteers_per_library=(1, 2), inject=False,
                                 platforms=("surveymonkey",))
    finally:
        wave.write_export = original
    lib = raws["cml_library"]
    lib.loc[lib.index[2], ["_finished", "_progress"]] = [False, 30]    # removed as incomplete
    lib.loc[lib.index[5], ["_finished", "_progress"]] = [False, 80]    # kept, flagged
    lib.loc[lib.index[7], "_status"] = "preview"                       # removed as a test row
    return raws


def _scratch(suffix: str) -> Path:
    """A path in the build's scratch folder (removed when the build ends)."""
    return Path(SCRATCH[0]) / f"f{len(list(Path(SCRATCH[0]).iterdir()))}{suffix}"


SCRATCH: list = []


def _csv_records(path: Path, delim=","):
    enc = "utf-8-sig" if path.read_bytes().startswith(b"\xef\xbb\xbf") else "utf-8"
    with open(path, encoding=enc, newline="") as fh:
        return list(csv.reader(fh, delimiter=delim)), enc


def _csv_bytes(records, *, delim=",", enc="utf-8", newline="\r\n") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delim, lineterminator=newline).writerows(records)
    return buf.getvalue().encode(enc)


class Corpus:
    """Collects case files and their expected outcomes."""

    def __init__(self, root: Path):
        self.root, self.cases = root, []
        (root / "cases").mkdir(parents=True, exist_ok=True)

    def add(self, cid, family, instrument, base, expect, *, data=None, suffix=".csv", make=None, **spec):
        rel = None
        if data is not None:
            rel = f"cases/{cid}{suffix}"
            (self.root / rel).write_bytes(data)
        self.cases.append({"id": cid, "family": family, "instrument": instrument, "base": base, "file": rel, "make": make,
                           "expect": expect, **spec})


def build(root: Path = HERE) -> list:
    """Write ``base/``, ``cases/`` and ``cases.json`` under ``root``; return the cases."""
    for sub in ("base", "cases"):
        shutil.rmtree(root / sub, ignore_errors=True)
    (root / "base").mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        raws = _raw_tables(Path(tmp))
    with tempfile.TemporaryDirectory() as scratch:
        SCRATCH[:] = [scratch]
        return _build_cases(root, raws)


def _build_cases(root, raws):
    C = Corpus(root)
    for instrument in INSTRUMENTS:
        inst = load_instrument(instrument, "2025w1")
        raw = raws[instrument]
        s = SHORT[instrument]
        bases = {}
        for platform in PLATFORMS:
            path = root / "base" / f"{instrument}_{platform}{get_platform(platform).extension}"
            write_export(raw, inst, platform, path)
            bases[platform] = path
        rel = {p: f"base/{b.name}" for p, b in bases.items()}
        n = len(raw)
        _family1(C, inst, s, bases, rel, n)
        _family2_3(C, inst, s, bases, rel, n)
        _family4(C, inst, s, bases, rel)
        _family5(C, inst, s, bases, rel)
        _family6(C, inst, s, bases, rel)
        _family7(C, inst, s, bases, rel, raw)
    (root / "cases.json").write_text(json.dumps(C.cases, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return C.cases


def _col(records, name, row=0):
    return records[row].index(name)


def _family1(C, inst, s, bases, rel, n):
    """Qualtrics/SurveyMonkey metadata spellings and 'numeric values' exports."""
    q, _ = _csv_records(bases["qualtrics"])
    fin, prog, stat = _col(q, "Finished"), _col(q, "Progress"), _col(q, "Status")
    spellings = {"TRUE": ("TRUE", "FALSE"), "true": ("true", "false"), "10": ("1", "0"), "yesno": ("Yes", "No")}
    for tag, (t, f) in spellings.items():
        recs = [r[:] for r in q]
        for r in recs[3:]:
            r[fin] = {"True": t, "False": f}[r[fin]]
        C.add(f"f1_{s}_qualtrics_finished_{tag}", 1, inst.instrument, rel["qualtrics"], "read",
              data=_csv_bytes(recs, enc="utf-8-sig"))
    for tag, fmt in {"percent": "{}%", "decimal": "{}.0"}.items():
        recs = [r[:] for r in q]
        for r in recs[3:]:
            r[prog] = fmt.format(r[prog])
        C.add(f"f1_{s}_qualtrics_progress_{tag}", 1, inst.instrument, rel["qualtrics"], "read",
              data=_csv_bytes(recs, enc="utf-8-sig"))
    # "Use numeric values": status and finished as codes, select_one answers as the declared codes
    cols = layout(inst, "qualtrics")
    recs = [r[:] for r in q]
    for r in recs[3:]:
        r[stat] = {"IP Address": "0", "Survey Preview": "1"}[r[stat]]
        r[fin] = {"True": "1", "False": "0"}[r[fin]]
    _codes(recs, cols, inst, 3)
    C.add(f"f1_{s}_qualtrics_numeric_values", 1, inst.instrument, rel["qualtrics"], "read",
          data=_csv_bytes(recs, enc="utf-8-sig"), log=["ingest_declared_code"])
    seen = [r[:] for r in recs]   # "recode seen but unanswered as -99": blank select_one answers written -99
    for jj, c in enumerate(cols):
        if c.role == "value" and inst.question(c.qid)["type"] == "select_one" and not inst.question(c.qid)["relevant"]:
            for r in seen[3:]:
                r[jj] = r[jj] or "-99"
    C.add(f"f1_{s}_qualtrics_numeric_values_seen_unanswered", 1, inst.instrument, rel["qualtrics"], "read",
          data=_csv_bytes(seen, enc="utf-8-sig"), log=["ingest_declared_code"])
    bad = [r[:] for r in recs]
    j, qid = _first_select_one(cols, inst)
    bad[5][j] = "97"
    C.add(f"f1_{s}_qualtrics_numeric_undeclared_code", 1, inst.instrument, rel["qualtrics"], "error",
          data=_csv_bytes(bad, enc="utf-8-sig"), message="not one of the instrument's declared codes",
          row=6, column=q[0][j])
    sm, _ = _csv_records(bases["surveymonkey"])
    recs = [r[:] for r in sm]
    _codes(recs, layout(inst, "surveymonkey"), inst, 2)
    C.add(f"f1_{s}_surveymonkey_numeric_values", 1, inst.instrument, rel["surveymonkey"], "read",
          data=_csv_bytes(recs), log=["ingest_declared_code"])
    for tag, col, value, message in [("finished_maybe", fin, "maybe", "Finished value 'maybe'"),
                                     ("progress_text", prog, "most of it", "not a number from 0 to 100"),
                                     ("progress_over_100", prog, "140", "not a number from 0 to 100"),
                                     ("status_unknown", stat, "Carrier pigeon", "unknown response status")]:
        recs = [r[:] for r in q]
        recs[4][col] = value
        C.add(f"f1_{s}_qualtrics_{tag}", 1, inst.instrument, rel["qualtrics"], "error",
              data=_csv_bytes(recs, enc="utf-8-sig"), message=message, row=5, column=q[0][col])


def _first_select_one(cols, inst):
    for j, c in enumerate(cols):
        if c.role == "value" and inst.question(c.qid)["type"] == "select_one":
            return j, c.qid
    raise AssertionError("no select_one column")


def _codes(recs, cols, inst, n_header):
    """Replace select_one labels by their declared codes, ticked multi-select cells by 1."""
    for j, c in enumerate(cols):
        if c.qid is None:
            continue
        q = inst.question(c.qid)
        if c.role == "value" and q["type"] == "select_one":
            code = {ch["label"]: str(k) for k, ch in enumerate(inst.choices(c.qid), start=1)}
            for r in recs[n_header:]:
                r[j] = code.get(r[j], r[j]) if r[j] else r[j]
        elif c.role == "choice":
            for r in recs[n_header:]:
                r[j] = "1" if r[j] else r[j]


def _xlsx_append(src: Path, rows, *, insert_at=None) -> bytes:
    wb = load_workbook(src)
    ws = wb.active
    if insert_at is not None:
        ws.insert_rows(insert_at)
        for k, v in enumerate(rows[0], start=1):
            ws.cell(insert_at, k, v)
    else:
        for r in rows:
            ws.append(r)
    out = _scratch(".xlsx")
    wb.save(out)
    return freeze_xlsx(out).read_bytes()


def _family2_3(C, inst, s, bases, rel, n):
    """Footer and summary rows; trailing blank rows and rows of delimiters."""
    delims = {"surveymonkey": ",", "qualtrics": ",", "singleheader": ",", "kobo": ";"}
    for platform, d in delims.items():
        if s == "vol" and platform in ("surveymonkey", "qualtrics", "kobo"):  # the volunteer files repeat the layouts; keep the corpus small
            continue
        recs, enc = _csv_records(bases[platform], d)
        width = len(recs[0])
        nh = N_HEADER.get(platform, 1)
        base = rel[platform]
        foot = [[f"Total responses: {n}"] + [""] * (width - 1)]
        C.add(f"f2_{s}_{platform}_footer_total", 2, inst.instrument, base, "read",
              data=_csv_bytes(recs + foot, delim=d, enc=enc), log=["ingest_footer_row"],
              excluded={"footer_row": 1})
        C.add(f"f2_{s}_{platform}_footer_line", 2, inst.instrument, base, "read",
              data=_csv_bytes(recs, delim=d, enc=enc) + f"Total responses: {n}\r\nReport generated 2025-04-30\r\n".encode("utf-8"),
              log=["ingest_footer_row"], excluded={"footer_row": 2})
        summary = [["Summary", "", str(n)] + [""] * (width - 3), ["Exported by the survey platform"] + [""] * (width - 1)]
        C.add(f"f2_{s}_{platform}_footer_summary_rows", 2, inst.instrument, base, "read",
              data=_csv_bytes(recs + [[""] * width] + summary, delim=d, enc=enc),
              log=["ingest_footer_row", "ingest_blank_row"], excluded={"footer_row": 2, "blank_row": 1})
        mid = recs[: nh + 3] + foot + recs[nh + 3:]
        C.add(f"f2_{s}_{platform}_summary_row_inside", 2, inst.instrument, base, "error",
              data=_csv_bytes(mid, delim=d, enc=enc), message="no start or end time", row=nh + 4)
        body = _csv_bytes(recs, delim=d, enc=enc)
        trailers = {"delimiters_full": (d * (width - 1) + "\r\n") * 2, "delimiters_short": d * 3 + "\r\n",
                    "blank_lines": "\r\n\r\n\r\n", "spaces_line": "    \r\n", "mixed": "\r\n" + d * 5 + "\r\n  \t \r\n"}
        counts = {"delimiters_full": 2, "delimiters_short": 1, "blank_lines": 3, "spaces_line": 1, "mixed": 3}
        for tag, tail in trailers.items():
            if platform not in ("singleheader", "qualtrics") and tag in ("delimiters_short", "mixed"):
                continue
            C.add(f"f3_{s}_{platform}_trailing_{tag}", 3, inst.instrument, base, "read", data=body + tail.encode(enc.replace("-sig", "")),
                  log=["ingest_blank_row"], excluded={"blank_row": counts[tag]})
        if platform == "singleheader":
            middle = recs[:4] + [[""] * width, [""] * width] + recs[4:]
            C.add(f"f3_{s}_{platform}_blank_rows_inside", 3, inst.instrument, base, "read",
                  data=_csv_bytes(middle, delim=d, enc=enc), log=["ingest_blank_row"],
                  excluded={"blank_row": 2})
    width = len(load_workbook(bases["msforms"]).active[1])
    C.add(f"f2_{s}_msforms_footer_total", 2, inst.instrument, rel["msforms"], "read", suffix=".xlsx",
          data=_xlsx_append(bases["msforms"], [[f"Total responses: {n}"]]), log=["ingest_footer_row"], excluded={"footer_row": 1})
    C.add(f"f2_{s}_msforms_summary_row_inside", 2, inst.instrument, rel["msforms"], "error", suffix=".xlsx",
          data=_xlsx_append(bases["msforms"], [["Subtotal", None, None, None, None, "4"]], insert_at=4), message="no start or end time", row=4)
    C.add(f"f3_{s}_msforms_trailing_spaces_rows", 3, inst.instrument, rel["msforms"], "read", suffix=".xlsx",
          data=_xlsx_append(bases["msforms"], [[" "] * width, ["  "]]), log=["ingest_blank_row"], excluded={"blank_row": 2})


def _family4(C, inst, s, bases, rel):
    """SPSS files whose select_one variables carry codes without value labels."""
    frame, meta = pyreadstat.read_sav(str(bases["spss"]), apply_value_formats=False)
    out = _scratch(".sav")
    pyreadstat.write_sav(frame, str(out), column_labels=meta.column_labels, row_compress=True)  # value labels dropped
    C.add(f"f4_{s}_spss_codes_only", 4, inst.instrument, rel["spss"], "read", suffix=".sav", data=_pin_sav(out),
          log=["ingest_declared_code"])
    qid = next(q for q in inst.questions_of_type("select_one") if q in frame.columns and frame[q].notna().sum() > 3)
    bad = frame.copy()
    row = int(np.flatnonzero(bad[qid].notna().to_numpy())[1])
    bad.loc[bad.index[row], qid] = 9.0 + len(inst.choices(qid))
    pyreadstat.write_sav(bad, str(out), column_labels=meta.column_labels, row_compress=True)
    C.add(f"f4_{s}_spss_codes_only_undeclared", 4, inst.instrument, rel["spss"], "error", suffix=".sav", data=_pin_sav(out),
          message="not one of the instrument's declared codes", row=row + 2, column=qid)
    dummies = [c for c in frame.columns if "__" in c and c not in ("Duration__in_seconds_",)]
    labels = dict(meta.variable_value_labels)
    labels.update({c: {0.0: "Not selected", 1.0: "Selected"} for c in dummies})
    pyreadstat.write_sav(frame, str(out), column_labels=meta.column_labels, variable_value_labels=labels, row_compress=True)
    C.add(f"f4_{s}_spss_dummies_labelled_selected", 4, inst.instrument, rel["spss"], "read", suffix=".sav", data=_pin_sav(out))
    if dummies:
        labels[dummies[0]] = {0.0: "Not selected", 1.0: "Selected", 2.0: "Maybe"}
        odd = frame.copy()
        odd.loc[odd.index[1], dummies[0]] = 2.0
        pyreadstat.write_sav(odd, str(out), column_labels=meta.column_labels, variable_value_labels=labels, row_compress=True)
        C.add(f"f4_{s}_spss_dummy_unknown_value", 4, inst.instrument, rel["spss"], "error", suffix=".sav", data=_pin_sav(out),
              message="neither ticked", row=3, column=dummies[0])


def _pin_sav(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    if data[:4] in (b"$FL2", b"$FL3"):
        data[92:109] = b"01 Jan 2500:00:00"
    return bytes(data)


def _mojibake(text: str) -> str:
    return text.encode("utf-8").decode("cp1252", errors="replace")


def _family5(C, inst, s, bases, rel):
    """Double-encoded text in multi-select, select_one and money cells."""
    money = [q for q in inst.questions_of_type("decimal", "integer") if q.startswith(("inc_", "exp_")) or "amount" in q]
    for platform in ("singleheader", "surveymonkey", "qualtrics", "kobo"):
        d = ";" if platform == "kobo" else ","
        recs, enc = _csv_records(bases[platform], d)
        nh = N_HEADER.get(platform, 1)
        cols = layout(inst, platform)
        changed = 0
        for j, c in enumerate(cols):
            if c.qid is None:
                continue
            q = inst.question(c.qid)
            for r in recs[nh:]:
                v = r[j]
                if not v:
                    continue
                if c.role in ("joined", "value") and q["type"] in ("select_multiple", "select_one") and v != _mojibake(v):
                    r[j], changed = _mojibake(v), changed + 1
                elif c.qid in money and c.role == "value" and v.replace(".", "").isdigit():
                    r[j], changed = _mojibake("£" + v), changed + 1
        if changed:
            C.add(f"f5_{s}_{platform}_mojibake_choices_and_money", 5, inst.instrument, rel[platform], "read",
                  data=_csv_bytes(recs, delim=d, enc=enc), log=["mojibake"])
    wb = load_workbook(bases["msforms"])
    ws = wb.active
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str) and ("é" in cell.value or "’" in cell.value):
                cell.value = _mojibake(cell.value)
    out = _scratch(".xlsx")
    wb.save(out)
    C.add(f"f5_{s}_msforms_mojibake_cells", 5, inst.instrument, rel["msforms"], "read", suffix=".xlsx", data=freeze_xlsx(out).read_bytes())


def _family6(C, inst, s, bases, rel):
    """Files that cannot be read: special files, truncation, wrong containers."""
    if s == "lib":
        for make, message in [("fifo", "named pipe"), ("folder", "folder"), ("device", "device"), ("broken_symlink", "broken symbolic link"),
                              ("missing", "not found")]:
            C.add(f"f6_{make}", 6, inst.instrument, rel["singleheader"], "error", make=make, message=message)
    for platform in ("singleheader", "surveymonkey", "qualtrics", "kobo") if s == "lib" else ("singleheader",):
        data = bases[platform].read_bytes()
        d = b";" if platform == "kobo" else b","
        body = data.index(b"\r\n", data.index(b"\r\n") + 2) if platform in N_HEADER else data.index(b"\r\n")
        for frac, how in ((0.5, "mid_field"), (0.8, "after_delimiter"), (0.65, "mid_row")):
            cut = data[: body + int((len(data) - body) * frac)]
            if how == "after_delimiter":
                cut = cut[: cut.rfind(d) + 1]
            elif how == "mid_row":
                cut = cut[: cut.rfind(d)] + b"\r\n"   # a short last row, line break and all
            else:
                cut = cut[: cut.rfind(d) + 1] + b"ab"
            message = "(truncated?)"   # a short row, a row ending on a delimiter, or a quoted value left open
            C.add(f"f6_{s}_{platform}_truncated_{how}", 6, inst.instrument, rel[platform], "error", data=cut, message=message)
    if s == "lib":
        for tag, data, suffix, message in [
            ("empty", b"", ".csv", "empty"), ("whitespace_only", b" \r\n\r\n", ".csv", "empty"),
            ("binary", b"\x00\x01\x02binary\x00" * 10, ".csv", "binary"),
            ("utf16", "ID,Start time\r\n".encode("utf-16"), ".csv", "UTF-16"),
            ("utf16_no_bom", "ID,Start time,Completion time\r\n1,2\r\n".encode("utf-16-le"), ".csv", "UTF-16 text without a byte-order mark"),
            ("old_excel_xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, ".xls", "old Excel .xls workbook"),
            ("zip_named_csv", bases["msforms"].read_bytes(), ".csv", "zip/Excel workbook"),
            ("broken_xlsx", bases["msforms"].read_bytes()[:2000], ".xlsx", "not a readable Excel workbook"),
            ("broken_sav", bases["spss"].read_bytes()[:700], ".sav", "not a readable SPSS file"),
            ("header_only", bases["singleheader"].read_bytes().split(b"\r\n")[0] + b"\r\n", ".csv", "no responses"),
        ]:
            C.add(f"f6_{tag}", 6, inst.instrument, rel["singleheader"], "error", data=data, suffix=suffix, message=message)


def _family7(C, inst, s, bases, rel, raw):
    """Misleading messages: line endings, stray bytes, BOMs, date forms; ids and headers."""
    for platform in ("singleheader", "surveymonkey", "qualtrics"):
        data = bases[platform].read_bytes()
        C.add(f"f7_{s}_{platform}_cr_only", 7, inst.instrument, rel[platform], "read", data=data.replace(b"\r\n", b"\r"))
        C.add(f"f7_{s}_{platform}_lf_only", 7, inst.instrument, rel[platform], "read", data=data.replace(b"\r\n", b"\n"))
    sh, enc = _csv_records(bases["singleheader"])
    text = bases["singleheader"].read_bytes().decode("utf-8")
    # one stray cp1252 byte in an otherwise UTF-8 file: named by row and column
    col = next(j for j, h in enumerate(sh[0]) if j > 3 and all(r[j] and "," not in r[j] and '"' not in r[j] for r in sh[1:6]))
    for k in (2, 5) if any(ord(ch) > 127 for ch in text) else ():  # an ASCII file with one cp1252 byte *is* cp1252
        recs = [r[:] for r in sh]
        recs[k - 1][col] = recs[k - 1][col] + "\x00STRAY\x00"
        raw_bytes = _csv_bytes(recs).replace(b"\x00STRAY\x00", b"\xa3")
        C.add(f"f7_{s}_singleheader_stray_cp1252_byte_row{k}", 7, inst.instrument, rel["singleheader"], "error", data=raw_bytes,
              message="mixes encodings", row=k, column=sh[0][col][:80])
    try:
        cp = text.encode("cp1252")
    except UnicodeEncodeError:
        cp = None
    if cp is not None and cp != text.encode("utf-8"):  # only text beyond ASCII tells the encodings apart
        C.add(f"f7_{s}_singleheader_bom_then_cp1252", 7, inst.instrument, rel["singleheader"], "read", data=b"\xef\xbb\xbf" + cp,
              log=["ingest_encoding"])
        C.add(f"f7_{s}_singleheader_cp1252_semicolon", 7, inst.instrument, rel["singleheader"], "read",
              data=_csv_bytes(sh, delim=";", enc="cp1252"))
    C.add(f"f7_{s}_singleheader_tab_delimited", 7, inst.instrument, rel["singleheader"], "read",
          data=_csv_bytes(sh, delim="\t"))
    recs = [r[:] for r in sh]
    start = _col(recs, "Start time")
    for r in recs[1::3]:  # re-saved rows: ISO among DD/MM
        dd, mm, rest = r[start][:2], r[start][3:5], r[start][6:]
        r[start] = f"{rest[:4]}-{mm}-{dd}{rest[4:]}"
    C.add(f"f7_{s}_singleheader_mixed_iso_and_ddmm_dates", 7, inst.instrument, rel["singleheader"], "read",
          data=_csv_bytes(recs), log=["ingest_date_forms"])
    recs = [r[:] for r in sh]
    recs[3][start] = "sometime in March"
    C.add(f"f7_{s}_singleheader_unreadable_date", 7, inst.instrument, rel["singleheader"], "error",
          data=_csv_bytes(recs), message="unreadable date", row=4, column="Start time")
    recs = [r[:] for r in sh]
    recs[2][0] = recs[1][0]
    C.add(f"f7_{s}_singleheader_duplicate_ids", 7, inst.instrument, rel["singleheader"], "error",
          data=_csv_bytes(recs), message="repeats the id of row 2", row=3, column="ID")
    recs = [r[:] for r in sh]
    recs[4][0] = ""
    C.add(f"f7_{s}_singleheader_blank_id", 7, inst.instrument, rel["singleheader"], "error",
          data=_csv_bytes(recs), message="no id", row=5, column="ID")
    recs = [r[:] + [""] for r in sh]
    recs[3][-1] = "stray value"
    C.add(f"f7_{s}_singleheader_data_under_blank_header", 7, inst.instrument, rel["singleheader"], "error",
          data=_csv_bytes(recs), message="has no header but holds data", row=4)
    recs = [r[:] for r in sh]
    recs[3] = recs[3] + ["surplus"]
    C.add(f"f7_{s}_singleheader_row_longer", 7, inst.instrument, rel["singleheader"], "error",
          data=_csv_bytes(recs), message="fields but the header has", row=4)
    other = "cml_volunteer" if inst.instrument == "cml_library" else "cml_library"
    C.add(f"f7_{s}_wrong_instrument", 7, other, rel["singleheader"], "error", data=bases["singleheader"].read_bytes(),
          message="not a question of", row=1)
    recs = [r[:] for r in sh]
    recs = [r + [r[6]] for r in recs]
    C.add(f"f7_{s}_singleheader_duplicated_column", 7, inst.instrument, rel["singleheader"], "error",
          data=_csv_bytes(recs), message="duplicated column", row=1, column=sh[0][6][:80])
    recs = [r[:6] + r[7:] for r in sh]
    C.add(f"f7_{s}_singleheader_missing_column", 7, inst.instrument, rel["singleheader"], "error",
          data=_csv_bytes(recs), message="no column for question")
    recs = [["Survey results"] + [""] * (len(sh[0]) - 1)] + sh
    C.add(f"f7_{s}_title_row_above_header", 7, inst.instrument, rel["singleheader"], "error",
          data=_csv_bytes(recs), message="unknown export layout", row=1)


if __name__ == "__main__":
    cases = build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
    size = sum(p.stat().st_size for p in (HERE if len(sys.argv) < 2 else Path(sys.argv[1])).rglob("*") if p.is_file())
    print(f"{len(cases)} cases ({sum(c['expect'] == 'read' for c in cases)} readable, "
          f"{sum(c['expect'] == 'error' for c in cases)} errors), {size / 1e6:.2f} MB")
