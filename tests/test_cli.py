"""Expected failures of the command line: non-zero exit, one line, no traceback."""
import subprocess
import sys

import pytest


def cmlkit(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cmlkit", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def exports(demo_wave):
    out, _ = demo_wave
    return out / "exports"


def _assert_one_line_error(res, *needles):
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("cmlkit: error:")]
    assert len(errors) == 1, res.stderr
    for n in needles:
        assert n in errors[0], errors[0]


def test_unknown_parameter(root, exports, tmp_path):
    res = cmlkit("run", "pipelines/wave.yml", "--instrument", "cml_library", "--wave", "2025w1",
                 "--input", f"library_export={exports / 'cml_library_surveymonkey.csv'}",
                 "--input", f"volunteer_export={exports / 'cml_volunteer_qualtrics.csv'}", "--input", f"frame={exports.parent / 'frame.csv'}",
                 "--set", "confidence_levle=0.9", "--outputs", str(tmp_path), cwd=root)
    _assert_one_line_error(res, "confidence_levle")
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_missing_input_file(root, exports, tmp_path):
    res = cmlkit("run", "pipelines/wave.yml", "--instrument", "cml_library", "--wave", "2025w1",
                 "--input", "library_export=does/not/exist.csv",
                 "--input", f"volunteer_export={exports / 'cml_volunteer_qualtrics.csv'}", "--input", f"frame={exports.parent / 'frame.csv'}", "--outputs", str(tmp_path), cwd=root)
    _assert_one_line_error(res, "does/not/exist.csv", "not found")


def test_header_not_matching_instrument(root, exports, tmp_path):
    res = cmlkit("run", "pipelines/wave.yml", "--instrument", "cml_library", "--wave", "2025w1",
                 "--input", f"library_export={exports / 'cml_volunteer_surveymonkey.csv'}",
                 "--input", f"volunteer_export={exports / 'cml_volunteer_qualtrics.csv'}", "--input", f"frame={exports.parent / 'frame.csv'}", "--outputs", str(tmp_path), cwd=root)
    _assert_one_line_error(res, "cml_volunteer_surveymonkey.csv", "column", "not a question of cml_library")


def test_unknown_input_name_and_bad_wave(root, exports, tmp_path):
    res = cmlkit("run", "pipelines/wave.yml", "--instrument", "cml_library", "--wave", "2025w1",
                 "--input", f"library_exprot={exports / 'cml_library_surveymonkey.csv'}", "--outputs", str(tmp_path), cwd=root)
    _assert_one_line_error(res, "library_exprot")
    res = cmlkit("run", "pipelines/wave.yml", "--instrument", "cml_library", "--wave", "1999w1", "--outputs", str(tmp_path), cwd=root)
    _assert_one_line_error(res, "1999w1")


def test_xlsform_export_import_via_cli(root, tmp_path):
    res = cmlkit("xlsform", "export", "--instrument", "cml_volunteer", "--wave", "2025w1", "--out", str(tmp_path / "v.xlsx"), cwd=root)
    assert res.returncode == 0, res.stderr
    res = cmlkit("xlsform", "import", str(tmp_path / "v.xlsx"), "--out", str(tmp_path / "v.yaml"), cwd=root)
    assert res.returncode == 0, res.stderr
    res = cmlkit("xlsform", "import", str(tmp_path / "nothing.xlsx"), cwd=root)
    _assert_one_line_error(res, "nothing.xlsx")


def _malformed(kind, src, tmp_path):
    """Write one malformed variant of a good export; return its path."""
    text = src.read_text(encoding="utf-8")
    lines = text.splitlines()
    path = tmp_path / f"{kind}.csv"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "header_only":
        path.write_text(lines[0] + "\n", encoding="utf-8")
    elif kind == "truncated_last_row":
        path.write_text("\n".join(lines[:-1] + [lines[-1][: len(lines[-1]) // 3]]) + "\n", encoding="utf-8")
    elif kind == "unknown_layout":
        path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    elif kind == "column_not_in_instrument":
        path.write_text("\n".join([lines[0] + ",Favourite colour"] + [ln + ",blue" for ln in lines[1:]]) + "\n", encoding="utf-8")
    elif kind == "duplicated_column":
        head = lines[0].split(",")
        path.write_text("\n".join([lines[0] + "," + head[3]] + [ln + ",x" for ln in lines[1:]]) + "\n", encoding="utf-8")
    elif kind == "wrong_encoding":
        path.write_bytes(text.encode("utf-16"))
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 8)
    return path


@pytest.mark.parametrize("kind, needle", [
    ("empty", "empty"), ("header_only", "no responses"), ("truncated_last_row", "truncated"),
    ("unknown_layout", "unknown export layout"), ("column_not_in_instrument", "Favourite colour"),
    ("duplicated_column", "duplicated column"), ("wrong_encoding", "UTF-16"), ("binary", "binary"),
])
def test_malformed_inputs_exit_with_one_line(kind, needle, exports, root, tmp_path):
    path = _malformed(kind, exports / "cml_library_singleheader.csv", tmp_path)
    res = cmlkit("ingest", str(path), "--instrument", "cml_library", "--wave", "2025w1", cwd=root)
    _assert_one_line_error(res, path.name, needle)


def test_good_export_ingests(exports, root):
    res = cmlkit("ingest", str(exports / "cml_library_qualtrics.csv"), "--instrument", "cml_library", "--wave", "2025w1", cwd=root)
    assert res.returncode == 0 and "qualtrics layout" in res.stdout


def test_frame_command_counts_and_errors(root, shared_data, tmp_path):
    res = cmlkit("frame", str(shared_data / "ace_basic_dataset_2023.csv"), cwd=root)
    assert res.returncode == 0 and "LA 2,198" in res.stdout and "CR 418" in res.stdout and "in scope (CR + ICL): 494" in res.stdout
    lines = (shared_data / "ace_basic_dataset_2023.csv").read_text(encoding="utf-8-sig").splitlines()
    bad = tmp_path / "ace_bad.csv"
    bad.write_text("\n".join([lines[0], lines[1].replace(",LA,LA,LA,LA,LA,", ",LA,LA,Mystery,LA,LA,", 1)] + lines[2:]) + "\n", encoding="utf-8")
    _assert_one_line_error(cmlkit("frame", str(bad), cwd=root), "ace_bad.csv", "row 2", "Mystery")
    cols = tmp_path / "no_cols.csv"
    cols.write_text("name,postcode\nA,B\n", encoding="utf-8")
    _assert_one_line_error(cmlkit("frame", str(cols), cwd=root), "no_cols.csv", "lacks required column")


def _main_error(capsys, *args):
    """``cmlkit.cli.main(args)`` in this process: its exit status and its one error line."""
    from cmlkit.cli import main

    try:
        status = main(list(map(str, args)))
    except SystemExit as exc:       # argparse: a usage error
        status = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err and status == 2, err
    return [line for line in err.splitlines() if "error:" in line][-1]


def test_out_of_range_arguments_unwritable_outputs_and_files_that_are_no_frame_or_form(exports, tmp_path, capsys):
    """Found by a probe of the command line: each was a traceback, or was accepted in silence."""
    assert "--seed: -1 is out of range" in _main_error(capsys, "synth", "--seed", "-1", "--out", tmp_path / "s")
    assert "--response-rate: 2 is out of range" in _main_error(capsys, "synth", "--response-rate", "2", "--out", tmp_path / "s")
    assert "'nan' is not a finite share" in _main_error(capsys, "synth", "--response-rate", "nan", "--out", tmp_path / "s")
    assert "--jobs: 0 is out of range" in _main_error(capsys, "run", "pipelines/wave.yml", "--instrument", "x", "--wave", "y", "--jobs", "0")
    assert "'2025-13-45' is not a date" in _main_error(capsys, "sample", "replace", tmp_path, "--library", "L", "--reason", "r",
                                                       "--date", "2025-13-45")
    line = _main_error(capsys, "ingest", exports / "cml_library_kobo.csv", "--instrument", "cml_library", "--wave", "2025w1",
                       "--out", tmp_path)
    assert str(tmp_path) in line and "Is a directory" in line
    (tmp_path / "empty.csv").write_text("")
    assert "not a frame table" in _main_error(capsys, "frame", tmp_path / "empty.csv")
    assert "not a frame table" in _main_error(capsys, "synth", "--out", tmp_path / "s", "--frame", tmp_path / "empty.csv")
    frame = (exports.parent / "frame.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "header.csv").write_text(frame[0] + "\n")
    assert "header but no libraries" in _main_error(capsys, "frame", tmp_path / "header.csv")
    (tmp_path / "twice.csv").write_text("\n".join(frame[:3] + frame[1:3]) + "\n")      # A, B, A, B
    assert "is on rows 2 and 4" in _main_error(capsys, "frame", tmp_path / "twice.csv")
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "survey"
    book.active.append(["kind", "name", "label"])
    book.active.append(["text", "q1", "Q1"])
    book.create_sheet("choices").append(["list_name", "name", "label"])
    book.save(tmp_path / "form.xlsx")
    assert "no 'type' column" in _main_error(capsys, "xlsform", "import", tmp_path / "form.xlsx", "--out", tmp_path / "f.yml")
