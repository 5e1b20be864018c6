"""The cleaning checks as a registry (cmlkit.check_registry): order, a new check added in one place,
checks whose declared inputs are missing logged as ``check_skipped``, and propose_changes free of
check-specific code."""
import ast
import inspect
import textwrap
from types import SimpleNamespace

import pandas as pd
import pytest

from cmlkit import check_registry, clean, cleaning_log
from cmlkit.check_registry import SKIPPED, register_check, registered_checks, unregister_check

BUILT_IN = ["test_row", "spam", "incomplete", "exact_duplicate", "duplicate_library", "duplicate_entries", "mojibake",
            "choice_label", "other_recode", "numbers", "skip_logic", "pii_text", "speeder", "straight_lining"]


def test_registry_runs_the_built_in_checks_in_their_order():
    ids = [c.id for c in registered_checks()]
    assert [i for i in ids if i in BUILT_IN] == BUILT_IN
    phases = [c.phase for c in registered_checks() if c.id in BUILT_IN]
    assert phases == sorted(phases, key=check_registry.PHASES.index)   # whole responses, values, then quality flags
    by_id = {c.id: c for c in registered_checks()}
    assert by_id["speeder"].columns == ("_duration_s",)
    assert by_id["test_row"].question_types == ("text",)
    assert by_id["duplicate_library"].units == ("library",)


# -- the worked example of the README ("Adding a cleaning check") --------------------------------------
def check_date_in_future(P, inst):
    """Flag responses whose end date is after the export was cleaned (a clock or import error)."""
    end = pd.to_datetime(P.coded["_end"], errors="coerce", utc=True)   # naive times read as UTC
    P.add(end > pd.Timestamp.now(tz="UTC"), "", "", "no_action", "date_in_future", "end date after the export date (review)", old="")


@pytest.fixture
def date_in_future():
    register_check("date_in_future", phase="quality", order=230, columns=("_end",))(check_date_in_future)
    yield
    unregister_check("date_in_future")


def test_a_new_check_registered_in_one_place_appears_in_the_log(raw, lib, date_in_future):
    assert [c.id for c in registered_checks()][-1] == "date_in_future"
    odd = raw.copy()
    odd.attrs = raw.attrs
    rid = odd["response_id"].iloc[5]
    odd.loc[odd.index[5], "_end"] = pd.Timestamp("2099-01-01")
    log = clean.propose_changes(odd, lib, wave="2025w1")
    hit = log.loc[log["check_id"] == "date_in_future"]
    assert hit["response_id"].tolist() == [rid]
    assert hit["change_type"].tolist() == ["no_action"] and hit["reason"].str.endswith("(review)").all()


def test_unregistered_check_is_gone(raw, lib):
    assert "date_in_future" not in [c.id for c in registered_checks()]


# -- checks that cannot run say why ---------------------------------------------------------------------
def test_the_demo_log_has_no_skipped_check(raw, lib):
    log = clean.propose_changes(raw, lib, wave="2025w1")
    assert SKIPPED not in set(log["check_id"])


def test_a_missing_metadata_column_logs_check_skipped(raw, lib):
    full = clean.propose_changes(raw, lib, wave="2025w1")
    short = raw.drop(columns=["_duration_s"])
    short.attrs = raw.attrs
    log = clean.propose_changes(short, lib, wave="2025w1")
    skipped = log.loc[log["check_id"] == SKIPPED]
    assert skipped["reason"].tolist() == ["check speeder not run: missing column '_duration_s'"]
    assert (skipped[["response_id", "question", "change_type"]].to_numpy() == ["", "", "no_action"]).all()
    # everything else is proposed as before, minus the speeder flags
    rest = log.loc[log["check_id"] != SKIPPED].reset_index(drop=True)
    pd.testing.assert_frame_equal(rest, full.loc[full["check_id"] != "speeder"].reset_index(drop=True))


def test_a_renamed_key_column_is_named_as_missing(raw, lib):
    renamed = clean.code_choices(raw, lib).rename(columns={"library_name": "name_of_library"})
    dup = {c.id: c for c in registered_checks()}["duplicate_library"]
    assert dup.missing_inputs(renamed, lib) == ["column 'library_name'"]
    assert dup.missing_inputs(renamed.drop(columns=["postcode"]), lib) == ["column 'library_name'", "column 'postcode' or 'library_postcode'"]


def test_a_registered_check_with_a_missing_input_logs_check_skipped(raw, lib):
    calls = []
    register_check("needs_gps", phase="quality", order=240, columns=("_latitude",))(lambda P, inst: calls.append(1))
    try:
        log = clean.propose_changes(raw, lib, wave="2025w1")
    finally:
        unregister_check("needs_gps")
    assert calls == []
    assert log.loc[log["check_id"] == SKIPPED, "reason"].tolist() == ["check needs_gps not run: missing column '_latitude'"]
    _, report = cleaning_log.apply_log(raw, log, lib)                 # a note on the file: applies as no change
    assert report.loc[report["check_id"] == SKIPPED, "status"].tolist() == ["no_change"]


def test_register_check_refuses_an_unknown_phase():
    with pytest.raises(ValueError, match="phase"):
        register_check("x", phase="later", order=1)


# -- propose_changes holds no check-specific code -------------------------------------------------------
def test_propose_changes_only_runs_the_registry():
    src = textwrap.dedent(inspect.getsource(clean.propose_changes))
    fn = ast.parse(src).body[0]
    body = fn.body[1:]                                   # after the docstring
    assert len(body) <= 3
    calls = {n.func.id for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "run_checks" in calls
    code = ast.unparse(ast.Module(body=body, type_ignores=[]))
    for check_id in ["_status", "_finished", "_duration_s", "mojibake", "grids", "relevant"]:
        assert check_id not in code


def test_no_text_question_and_a_missing_rule_column_are_named(raw, lib):
    no_text = SimpleNamespace(unit="library", questions_of_type=lambda *types: [])
    test_row = {c.id: c for c in registered_checks()}["test_row"]
    assert test_row.missing_inputs(clean.code_choices(raw, lib), no_text) == ["a text question"]
    # a check that finds a missing input itself (as the duplicate_entries rule does) returns it
    register_check("reads_a_rule", phase="quality", order=250)(lambda P, inst: "column 'x' named by the rule")
    try:
        log = clean.propose_changes(raw, lib, wave="2025w1")
    finally:
        unregister_check("reads_a_rule")
    assert log.loc[log["check_id"] == SKIPPED, "reason"].tolist() == ["check reads_a_rule not run: missing column 'x' named by the rule"]
