"""The ``cmlkit`` command line: ``synth``, ``run``, ``xlsform``, ``waves diff``, ``waves runs`` and more.

Expected failures print one line (``cmlkit: error: …`` naming file, row and column) and exit 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cmlkit.errors import CmlkitError
from cmlkit.platforms import platform_names


def _bounded(kind, *, low=None, high=None, low_open=False, what="value"):
    """An argparse type: ``kind`` of the text, within [low, high] (``low_open``: above low), else a usage error."""
    def read(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite {what}")
        if (low is not None and (value <= low if low_open else value < low)) or (high is not None and value > high):
            bounds = f"{'above' if low_open else 'at least'} {low}" + (f" and at most {high}" if high is not None else "")
            raise argparse.ArgumentTypeError(f"{text} is out of range: a {what} {bounds}")
        return value
    return read


def _date(text):
    """An argparse type: a calendar date written YYYY-MM-DD (kept as that text)."""
    import datetime as dt
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None


def _pairs(items, flag):
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CmlkitError(f"{flag} expects NAME=VALUE, got {item!r}")
        out[key] = value
    return out


def _cmd_synth(args):
    from cmlkit.synthetic.wave import make_wave

    if args.previous:
        from cmlkit.synthetic.panel import make_panel_wave

        if not args.wave:
            raise CmlkitError("--previous needs --wave (the new wave id)")
        m = make_panel_wave(args.out, args.previous, wave=args.wave, seed=args.seed, response_rate=args.response_rate,
                            governance_signal=args.governance_signal, inject=not args.no_errors)
        print(f"synthetic panel wave {m['wave']} after {m['previous_wave']} (seed {m['seed']}): {m['n_in_scope']} in-scope "
              f"libraries, {m['panel']['answered_both']} answered both waves, frame changes {m['frame_changes']}; "
              f"ground truth in {Path(args.out) / 'truth'} -> {args.out}")
        return

    frame = None
    if args.frame:
        from cmlkit.frame import load_ace
        from cmlkit.synthetic import prepare_frame

        from cmlkit.frame import is_ace_file, load_frame

        frame = prepare_frame(load_ace(args.frame), random_state=args.seed) if is_ace_file(args.frame) else load_frame(args.frame)
    m = make_wave(args.out, seed=args.seed, n_community=args.n_community, frame=frame, response_rate=args.response_rate,
                  governance_signal=args.governance_signal, wave=args.wave, inject=not args.no_errors)
    from cmlkit.synthetic.users import make_user_wave

    users = make_user_wave(args.out, seed=args.seed, wave=m["wave"], inject=not args.no_errors)
    counts = ", ".join(f"{m[f'n_{name}_genuine']} {unit} responses" for unit, name in m["instruments"].items())
    print(f"synthetic wave {m['wave']} (seed {m['seed']}): {m['n_in_scope']} in-scope libraries, {counts}, "
          f"{users.get('n_user_responses', 0)} user responses -> {args.out}")


def _cmd_run(args):
    from cmlkit.run import _coerce, main_echo, run_pipeline

    inputs = _pairs(args.input, "--input")
    overrides = {k: _coerce(v) for k, v in _pairs(args.set, "--set").items()}
    run_dir = run_pipeline(args.pipeline, instrument=args.instrument, wave=args.wave, inputs=inputs, overrides=overrides,
                           outputs_root=args.outputs, echo=main_echo, force=args.force, force_steps=args.force_step or (),
                           from_step=args.from_step, only=args.only, jobs=args.jobs, tty=None)
    print(run_dir)
    main_echo(f"done: executed notebooks, data, tables and figures are in {run_dir}")


def _cmd_steps(args):
    from cmlkit.instrument import find_root
    from cmlkit.run_graph import describe_steps, format_steps, load_pipeline

    spec = load_pipeline(args.pipeline)
    described = describe_steps(spec, root=find_root())
    if args.json:
        import json

        print(json.dumps({"pipeline": spec["name"], "inputs": spec["inputs"], "steps": described}, indent=2, default=str))
    else:
        print(format_steps(spec, described))


def _cmd_ingest(args):
    from cmlkit.ingest import read_export
    from cmlkit.instrument import load_instrument
    from cmlkit.tables import write_csv

    inst = load_instrument(args.instrument, args.wave)
    frame = read_export(args.export, inst, platform=args.platform)
    excluded = {k: v for k, v in frame.attrs.get("excluded", {}).items() if v}
    notes = len(frame.attrs.get("ingest_log", ()))
    print(f"{args.export}: {len(frame)} responses, {frame.attrs['platform']} layout, {frame.attrs['container']}, "
          f"matches {inst.instrument} {inst.version}"
          + (f"; rows excluded: {', '.join(f'{v} {k}' for k, v in excluded.items())}" if excluded else "")
          + (f"; {notes} reading decisions logged (they reach the cleaning log)" if notes else ""))
    if args.out:
        print(write_csv(frame.drop(columns=inst.personal_ids), args.out))


def _cmd_frame(args):
    from cmlkit import frame as F

    f = F.load_frame(args.path)
    col = F.operation_column(args.year)
    counts = f[col].value_counts()
    print(f"{args.path}: {len(f)} libraries; governance in {col[-2:]} (normalised): "
          + ", ".join(f"{k} {int(v):,}" for k, v in counts.items()))
    scope = F.in_scope(f, year=args.year)
    print(f"in scope (CR + ICL): {len(scope)} libraries in {scope['region'].nunique()} regions")


def _cmd_xlsform(args):
    from cmlkit.instrument import instrument_path, load_instrument
    from cmlkit.xlsform import read_xlsform, write_xlsform

    if args.action == "export":
        inst = load_instrument(args.instrument, args.wave)
        print(write_xlsform(inst, args.out))
    else:
        import yaml

        inst = read_xlsform(args.path, instrument=args.instrument, version=args.wave)
        out = Path(args.out) if args.out else instrument_path(inst.instrument, inst.version)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(inst.to_dict(), sort_keys=False, allow_unicode=True), encoding="utf-8")
        print(out)


def _cmd_sample_replace(args):
    import datetime as _dt

    import pandas as pd

    from cmlkit import case_fieldwork, sampling, tables

    run = Path(args.run_dir)
    state = run / "data" / "case_studies" / "draw.parquet"
    if not state.exists():
        raise CmlkitError(f"{state}: no case-study draw in this run folder (run the case_study_frame step first)")
    spec = sampling.load_spec(args.spec)
    table = pd.read_parquet(state)
    date = args.date or _dt.date.today().isoformat()
    table, log = case_fieldwork.replace(table, args.library, reason=args.reason, spec=spec, date=date)
    tabdir = run / "tables" / "case_studies"
    log_path = tabdir / "replacements.csv"
    old = pd.read_csv(log_path, dtype=str) if log_path.exists() else pd.DataFrame()
    tables.write_parquet(table, state)
    tables.write_csv(pd.concat([old, pd.DataFrame([log]).astype(str)], ignore_index=True), log_path)
    tables.write_csv(case_fieldwork.public_table(table), tabdir / "selection.csv")
    bal = sampling.balance(table, spec)
    tables.write_csv(bal, tabdir / "balance.csv")
    print(f"{args.library} declined ({args.reason}); replaced by {log['replaced_by']} (reserve {log['reserve_rank']}); "
          f"largest standardised difference now {bal['std_diff'].abs().max():.2f}; log: {log_path}")
    return 0


def _cmd_waves_diff(args):
    from cmlkit import crosswalk

    print(crosswalk.write_review(args.instrument, args.wave_a, args.wave_b, out_dir=args.out))


def _cmd_waves_runs(args):
    from cmlkit.harmonise import write_manifest

    print(write_manifest(args.instrument, args.waves, args.out, outputs_root=args.outputs))


def build_parser() -> argparse.ArgumentParser:
    """Build the ``cmlkit`` argument parser and its subcommands.

    Returns
    -------
    argparse.ArgumentParser
        The parser (``prog="cmlkit"``) with the subcommands ``synth``, ``run``, ``steps``, ``ingest``,
        ``frame``, ``xlsform export|import``, ``sample replace`` and ``waves diff|runs``, one required;
        each sets ``func`` to the function that carries it out.
    """
    p = argparse.ArgumentParser(prog="cmlkit", description="Community managed library survey toolkit")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("synth", help="write a synthetic wave with ground truth")
    s.add_argument("--seed", type=_bounded(int, low=0, what="whole number"), default=20250301)
    s.add_argument("--out", required=True)
    s.add_argument("--n-community", type=_bounded(int, low=1, what="whole number"), default=480)
    s.add_argument("--frame", help="real Arts Council basic dataset (or a synthetic frame CSV) to draw libraries from")
    s.add_argument("--response-rate", type=_bounded(float, low=0, high=1, low_open=True, what="share"), default=0.5)
    s.add_argument("--governance-signal", type=float, default=1.0)
    s.add_argument("--wave", help="wave id YYYYwN whose instruments are used (default: the first wave on disk)")
    s.add_argument("--no-errors", action="store_true", help="write exports without injected errors")
    s.add_argument("--previous", help="folder of the previous synthetic wave: write --wave from the same population a year on")
    s.set_defaults(func=_cmd_synth)
    r = sub.add_parser("run", help="run a pipeline of notebooks")
    r.add_argument("pipeline")
    r.add_argument("--instrument", required=True)
    r.add_argument("--wave", required=True)
    r.add_argument("--input", action="append", metavar="NAME=PATH")
    r.add_argument("--set", action="append", metavar="[STEP.]PARAM=VALUE")
    r.add_argument("--outputs", help="outputs root (default: ./outputs)")
    r.add_argument("--force", action="store_true", help="execute every step, reusing nothing from earlier runs")
    r.add_argument("--force-step", action="append", metavar="STEP", help="execute this step even if it could be reused")
    r.add_argument("--from", dest="from_step", metavar="STEP", help="run STEP and the steps after it; earlier ones from the latest run")
    r.add_argument("--only", metavar="STEP", help="run STEP alone; earlier steps from the latest run, later ones skipped")
    r.add_argument("--jobs", type=_bounded(int, low=1, what="whole number"), metavar="N", help="steps run at once (default: the CPUs available)")
    r.set_defaults(func=_cmd_run)
    st = sub.add_parser("steps", help="list a pipeline's steps, parameters (defaults, help), inputs and products")
    st.add_argument("pipeline")
    st.add_argument("--json", action="store_true", help="print JSON instead of text")
    st.set_defaults(func=_cmd_steps)
    g = sub.add_parser("ingest", help="read an export, check it against its instrument, optionally write it as CSV")
    g.add_argument("export")
    g.add_argument("--instrument", required=True)
    g.add_argument("--wave", required=True)
    g.add_argument("--platform", help=f"skip detection: {', '.join(platform_names())}")
    g.add_argument("--out", help="write the mapped responses (personal-data questions dropped) to this CSV")
    g.set_defaults(func=_cmd_ingest)
    fr = sub.add_parser("frame", help="load a population frame, normalise its codes and print counts")
    fr.add_argument("path")
    fr.add_argument("--year", type=int, help="frame year (default: the latest year in the frame)")
    fr.set_defaults(func=_cmd_frame)
    x = sub.add_parser("xlsform", help="export an instrument to XLSForm or import one")
    xs = x.add_subparsers(dest="action", required=True)
    xe = xs.add_parser("export")
    xe.add_argument("--instrument", required=True)
    xe.add_argument("--wave", required=True)
    xe.add_argument("--out", required=True)
    xi = xs.add_parser("import")
    xi.add_argument("path")
    xi.add_argument("--instrument")
    xi.add_argument("--wave")
    xi.add_argument("--out")
    x.set_defaults(func=_cmd_xlsform)
    sm = sub.add_parser("sample", help="case-study selection: record a decline and bring in a reserve")
    ss = sm.add_subparsers(dest="sample_command", required=True)
    sr = ss.add_parser("replace", help="replace a selected library that declined with its first usable reserve")
    sr.add_argument("run_dir", help="the pipeline run folder holding data/case_studies/draw.parquet")
    sr.add_argument("--library", required=True, help="library id of the library that declined")
    sr.add_argument("--reason", required=True, help="why: refusal, closed, ineligible ...")
    sr.add_argument("--date", type=_date, help="date of the decline (YYYY-MM-DD; default today)")
    sr.add_argument("--spec", help="case-study specification (default research/case_studies.yml)")
    sr.set_defaults(func=_cmd_sample_replace)
    wv = sub.add_parser("waves", help="compare instrument versions across waves")
    ws = wv.add_subparsers(dest="waves_command", required=True)
    wd = ws.add_parser("diff", help="write the crosswalk review workbook (CSV + XLSX) of two versions of an instrument")
    wd.add_argument("--instrument", required=True)
    wd.add_argument("wave_a", help="the earlier wave, e.g. the first one fielded")
    wd.add_argument("wave_b", help="the later wave")
    wd.add_argument("--out", help="folder for <a>_<b>.csv/.xlsx (default survey_instruments/<instrument>/crosswalks)")
    wd.set_defaults(func=_cmd_waves_diff)
    wr = ws.add_parser("runs", help="write a trend manifest listing the latest finished wave run of each wave")
    wr.add_argument("--instrument", required=True)
    wr.add_argument("waves", nargs="+", help="wave ids, oldest first")
    wr.add_argument("--outputs", help="outputs root (default: ./outputs)")
    wr.add_argument("--out", required=True, help="manifest YAML to write (input 'runs' of pipelines/trend.yml)")
    wr.set_defaults(func=_cmd_waves_runs)
    return p


def main(argv=None) -> int:
    """Run the ``cmlkit`` command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments, without the program name (default None: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success; 2 after an expected failure (a :class:`~cmlkit.errors.CmlkitError`,
        or an ``OSError`` the file system raised: a path that is a file, no permission), printed to stderr
        as one line ``cmlkit: error: ...``; 130 after a ``KeyboardInterrupt`` (Ctrl-C,
        or SIGTERM during ``run``), printed as ``cmlkit: interrupted`` followed by its message, if any
        (for ``run``, the steps stopped and the run folder).

    Raises
    ------
    SystemExit
        From argparse: status 2 on invalid arguments, 0 after ``--help``.

    Notes
    -----
    Any other exception is a bug and propagates with its traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CmlkitError as exc:
        print(f"cmlkit: error: {exc.one_line()}", file=sys.stderr)
        return 2
    except OSError as exc:      # the file system refused (an output folder that is a file, no permission, disk full)
        where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f)
        print(f"cmlkit: error: {where + ': ' if where else ''}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"cmlkit: interrupted{': ' + str(exc) if str(exc) else ''}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
