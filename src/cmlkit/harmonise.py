"""Bring finished wave runs together: check them, harmonise their variables and stack their weighted data.

A trend reads a small manifest listing finished runs of ``pipelines/wave.yml`` (oldest first)::

    runs:
      - outputs/cml_library/2025w1/wave/20260301T101500Z_abc1234
      - outputs/cml_library/2026w1/wave/20270301T101500Z_def5678

Each run must have finished (``run.json`` status ``ok``), hold its weighted library data unchanged since the
run (sha256 in ``run.json``) and its frame, be of the same instrument as the others, and come after the
previous one. Indicators are computed per wave with that wave's instrument, on a basis comparable across the
waves: a choice count over the choices common to all waves, a recoded answer on the harmonised coding of the
reviewed crosswalk. An indicator whose inputs are not comparable is refused with the reason; an input whose
change is not reviewed stops the trend with a one-line error naming it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import yaml

from cmlkit import crosswalk as CW
from cmlkit import indicators as IND
from cmlkit import tables, waves
from cmlkit.errors import TrendError  # errors live in cmlkit.errors; re-exported here
from cmlkit.frame import in_scope, load_frame, operation_column
from cmlkit.instrument import find_root, load_instrument
from cmlkit.run_cache import sha256_file
from cmlkit.yaml_text import load_yaml

WEIGHTED_PRODUCT = "library_weighted"
RATES_TABLE = Path("tables") / "weighting" / "response_rates.csv"
DESIGN_COLUMNS = ("library_id", "weight", "region", "type")


def read_manifest(path) -> list:
    """Run folders listed in a trend manifest (relative paths are relative to the manifest's folder).

    Parameters
    ----------
    path : str or path-like
        The trend manifest (YAML).

    Returns
    -------
    list of pathlib.Path
    """
    path = Path(path)
    try:
        spec = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TrendError(f"{path}: cannot read the trend manifest ({' '.join(str(exc).split())[:120]})") from None
    runs = spec.get("runs") if isinstance(spec, dict) else None
    if not isinstance(runs, list) or len(runs) < 2:
        raise TrendError(f"{path}: a trend manifest lists at least two wave runs under 'runs:'")
    return [Path(r) if Path(r).is_absolute() else (path.parent / r) for r in map(str, runs)]


def load_run(run_dir) -> dict:
    """Check one finished wave run and return what a trend reads from it.

    Parameters
    ----------
    run_dir : str or path-like
        A finished wave run's folder.

    Returns
    -------
    dict
        ``run_dir, instrument, wave, weighted`` (path), ``frame`` (path), ``rates`` (path or None), ``record``.
    """
    run_dir = Path(run_dir)
    rec_path = run_dir / "run.json"
    if not rec_path.is_file():
        raise TrendError(f"{run_dir}: not a pipeline run folder (no run.json)")
    try:
        record = json.loads(rec_path.read_text(encoding="utf-8"))
    except ValueError:
        raise TrendError(f"{rec_path}: not valid JSON") from None
    if record.get("status") != "ok":
        raise TrendError(f"{run_dir}: the run did not finish (status {record.get('status')!r}); rerun the wave first")
    prod = record.get("products", {}).get(WEIGHTED_PRODUCT)
    if not prod or not (run_dir / prod["path"]).is_file():
        raise TrendError(f"{run_dir}: product {WEIGHTED_PRODUCT!r} is missing; is this a run of pipelines/wave.yml?")
    weighted = run_dir / prod["path"]
    if sha256_file(weighted) != prod["sha256"]:
        raise TrendError(f"{weighted}: changed since the run (sha256 differs from run.json)")
    frame = record.get("inputs", {}).get("frame")
    frame_path = Path(frame["path"]) if frame else None
    if frame_path is not None and not frame_path.is_absolute():
        frame_path = find_root() / frame_path            # run.json keeps paths under the project root relative
    if frame_path is None or not frame_path.is_file():
        raise TrendError(f"{run_dir}: the run's frame input is missing ({(frame or {}).get('path')})")
    if sha256_file(frame_path) != frame["sha256"]:
        raise TrendError(f"{frame_path}: the frame changed since the run (sha256 differs from run.json)")
    rates = run_dir / RATES_TABLE
    return {"run_dir": run_dir, "instrument": record["instrument"], "wave": record["wave"], "weighted": weighted,
            "frame": frame_path, "rates": rates if rates.is_file() else None, "record": record}


def load_runs(paths, *, instrument: str | None = None, wave: str | None = None) -> list:
    """Check a list of runs: each finished, one instrument, waves in time order, the last one ``wave`` if given.

    Parameters
    ----------
    paths : list of path-like
        Run folders.
    instrument : str, optional
        Required instrument.
    wave : str, optional
        Required last wave.

    Returns
    -------
    list of dict
        :func:`load_run` records, in time order.
    """
    runs = [load_run(p) for p in paths]
    names = {r["instrument"] for r in runs}
    if len(names) > 1 or (instrument and names != {instrument}):
        detail = ", ".join(f"{r['instrument']} ({r['run_dir']})" for r in runs)
        raise TrendError(f"the runs are of different instruments: {detail}" + (f"; the trend is for {instrument}" if instrument else ""))
    waves.check_order([r["wave"] for r in runs])
    if wave and runs[-1]["wave"] != wave:
        raise TrendError(f"the trend is run as wave {wave} but its latest run is wave {runs[-1]['wave']}")
    return runs


def check_manifest(path, *, instrument: str | None = None, wave: str | None = None) -> None:
    """Check a trend manifest before a trend runs: its runs finished, one instrument, waves in time order.

    The runner calls it for an input declared ``check: trend_manifest`` (``pipelines/trend.yml``), so
    a bad manifest is one line before any kernel starts.

    Parameters
    ----------
    path : str or path-like
        The trend manifest.
    instrument : str, optional
        Required instrument.
    wave : str, optional
        Required last wave.

    Raises
    ------
    TrendError
        Naming the manifest or the run at fault (:func:`read_manifest`, :func:`load_runs`).
    WaveError
        For waves out of time order.
    """
    load_runs(read_manifest(path), instrument=instrument, wave=wave)


def _base(col: str) -> str:
    return col.split("__", 1)[0]


def comparability(spec: dict, insts: list, cws: list) -> pd.DataFrame:
    """How each indicator can be compared across the waves (one row per indicator).

    Parameters
    ----------
    spec : dict
        ``research/indicators.yml``.
    insts : list of Instrument
        The versions fielded in each wave, oldest first.
    cws : list of DataFrame
        The reviewed crosswalk of each consecutive pair.

    Returns
    -------
    DataFrame
        ``indicator, status`` (``comparable``, ``common_items``, ``harmonised``, ``refused``), ``reason``,
        ``items`` (choices used by a choice count, ``;``-joined).

    Raises
    ------
    CrosswalkError
        When an input the indicator needs has a change that is not reviewed.
    """
    rows = []
    for name, ind in spec["indicators"].items():
        d = ind["derive"]
        status, reasons, items = "comparable", [], ""
        if "count_choices" in d:
            sets = [IND.choice_items(d, inst) for inst in insts]
            common = [c for c in sets[0] if all(c in s for s in sets[1:])]
            extra = sorted({c for s in sets for c in s} - set(common))
            items = ";".join(common)
            if extra:
                status = "common_items"
                reasons.append(f"computed on the {len(common)} choices asked in every wave ({', '.join(extra)} not in all)")
            cols = [f"{d['count_choices']}__{c}" for c in common]
        else:
            cols = IND.inputs(d, insts[0])
        for inst_a, inst_b, cw in zip(insts, insts[1:], cws):
            use = CW.usable(cw, sorted({_base(c) for c in cols})).set_index("canonical")
            for col in cols:
                row = use.loc[_base(col)]
                if row["mapping"] == "not_comparable":
                    status = "refused"
                    reasons.append(f"{_base(col)} not comparable between {inst_a.version} and {inst_b.version}"
                                   + (f" ({row['note']})" if row["note"] else ""))
                elif row["mapping"] == "recoded":
                    hm = CW.harmonised_choices(pd.concat([row, pd.Series({"canonical": _base(col)})]), inst_a, inst_b)
                    if "__" in col:
                        choice = col.split("__", 1)[1]
                        if not all(hm[w].get(choice) == choice for w in hm):
                            status = "refused"
                            reasons.append(f"choice {choice} of {_base(col)} changed between {inst_a.version} and {inst_b.version}")
                    elif "score" in d or "mean_score" in d:
                        status = "refused"
                        reasons.append(f"the scale of {_base(col)} changed between {inst_a.version} and {inst_b.version}")
                    elif status != "refused":
                        status = "harmonised" if status == "comparable" else status
                        reasons.append(f"{_base(col)} compared on the harmonised coding")
        rows.append({"indicator": name, "status": status, "reason": "; ".join(dict.fromkeys(reasons)), "items": items})
    return pd.DataFrame(rows)


def wave_indicators(data: pd.DataFrame, spec: dict, comp: pd.DataFrame, *, inst, harmonise: dict | None = None) -> pd.DataFrame:
    """One wave's indicator values on the comparable basis (refused indicators left out).

    ``harmonise`` maps a recoded select_one canonical variable to ``{value: harmonised value}`` for this wave.

    Parameters
    ----------
    data : pandas.DataFrame
        One wave's weighted clean data.
    spec : dict
        The indicator specification.
    comp : pandas.DataFrame
        The comparability table.
    inst : Instrument
        The wave's instrument version.
    harmonise : dict, optional
        Canonical select_one variable -> {value: harmonised value}.

    Returns
    -------
    pandas.DataFrame
        One column per comparable indicator.
    """
    data = data.copy()
    for var, mapping in (harmonise or {}).items():
        if var in data:
            data[var] = CW.harmonise_select(data, var, "select_one", mapping)[var]
    keep = comp.set_index("indicator")
    ok = {}
    for name, ind in spec["indicators"].items():
        if keep.loc[name, "status"] == "refused":
            continue
        d = dict(ind["derive"])
        if "count_choices" in d:
            d["items"] = keep.loc[name, "items"].split(";")
        ok[name] = {**ind, "derive": d}
    return IND.compute(data, {"indicators": ok}, inst=inst)


def select_maps(insts: list, cws: list) -> list:
    """Per wave, ``{canonical: {value: harmonised}}`` for the recoded select_one variables (chained over pairs).

    Parameters
    ----------
    insts : list of Instrument
        Each wave's version, in time order.
    cws : list of pandas.DataFrame
        The reviewed crosswalk of each consecutive pair.

    Returns
    -------
    list of dict
    """
    out = [{} for _ in insts]
    for i, (a, b, cw) in enumerate(zip(insts, insts[1:], cws)):
        for _, row in cw.loc[(cw["mapping"] == "recoded") & (cw["type"] == "select_one")].iterrows():
            if row["reviewed"].strip().lower() not in CW.REVIEWED:
                continue
            hm = CW.harmonised_choices(row, a, b)
            out[i].setdefault(row["canonical"], hm[a.version])
            out[i + 1][row["canonical"]] = hm[b.version]
    return out


def frame_codes(path, *, year) -> pd.DataFrame:
    """Every frame library with its region, governance code in ``year`` and whether it is in scope.

    Parameters
    ----------
    path : str or path-like
        The wave's frame file.
    year : int
        The wave's frame year.

    Returns
    -------
    pandas.DataFrame
        ``library_id, region, code, in_scope``.
    """
    frame = load_frame(path)
    col = operation_column(year)
    scope_ids = set(in_scope(frame, year=year)["library_id"])
    return pd.DataFrame({"library_id": frame["library_id"], "region": frame["region"], "code": frame[col],
                         "in_scope": frame["library_id"].isin(scope_ids)})


def stack_runs(runs: list, *, spec: dict | None = None, crosswalk_dir=None) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
    """Stacked, harmonised indicator values of every wave, the comparability table, frames and clean data.

    Parameters
    ----------
    runs : list of dict
        :func:`load_runs` output.
    spec : dict, optional
        The indicator specification; default ``research/indicators.yml``.
    crosswalk_dir : path-like, optional
        Where the reviewed crosswalks are.

    Returns
    -------
    (stacked, comparability, frames, data)
        ``stacked``: one row per weighted response and wave (``wave``, design columns, indicator columns);
        ``frames``: wave -> every frame library (``library_id, region, code, in_scope``);
        ``data``: wave -> that wave's weighted clean data (canonical variables).
    """
    spec = spec or IND.load_spec()
    insts, cws = versions(runs, crosswalk_dir=crosswalk_dir)
    comp = comparability(spec, insts, cws)
    maps = select_maps(insts, cws)
    parts, frames, datas = [], {}, {}
    for run, inst, hmap in zip(runs, insts, maps):
        data = tables.read_table(run["weighted"])
        missing = [c for c in DESIGN_COLUMNS if c not in data]
        if missing:
            raise TrendError(f"{run['weighted']}: lacks design columns {missing}")
        vals = wave_indicators(data, spec, comp, inst=inst, harmonise=hmap)
        parts.append(pd.concat([data[list(DESIGN_COLUMNS)].assign(wave=inst.version), vals], axis=1))
        frames[inst.version] = frame_codes(run["frame"], year=inst.frame_year)
        datas[inst.version] = data
    stacked = pd.concat(parts, ignore_index=True)
    return stacked, comp, frames, datas


def respondents(stacked: pd.DataFrame) -> dict:
    """wave -> library ids with a weighted response.

    Parameters
    ----------
    stacked : pandas.DataFrame
        :func:`stack_runs` output.

    Returns
    -------
    dict
    """
    return {w: g["library_id"].dropna().tolist() for w, g in stacked.groupby("wave", sort=False)}


def versions(runs: list, *, crosswalk_dir=None) -> tuple[list, list]:
    """The instrument version of each run and the reviewed crosswalk of each consecutive pair.

    Crosswalks are read from ``crosswalk_dir`` (default ``survey_instruments/<instrument>/crosswalks``).

    Parameters
    ----------
    runs : list of dict
        :func:`load_runs` output.
    crosswalk_dir : path-like, optional

    Returns
    -------
    (instruments, crosswalks) : (list, list)
    """
    insts = [load_instrument(r["instrument"], r["wave"]) for r in runs]
    folder = Path(crosswalk_dir) if crosswalk_dir else waves.instrument_folder(runs[0]["instrument"]) / "crosswalks"
    return insts, [CW.read_crosswalk(folder / f"{a.version}_{b.version}.csv") for a, b in zip(insts, insts[1:])]


def read_rates(runs: list) -> dict:
    """wave -> the run's response rates by region x type (``tables/weighting/response_rates.csv``).

    Parameters
    ----------
    runs : list of dict
        :func:`load_runs` output.

    Returns
    -------
    dict
    """
    out = {}
    for r in runs:
        if r["rates"] is None:
            raise TrendError(f"{r['run_dir']}: product {RATES_TABLE} is missing")
        out[r["wave"]] = pd.read_csv(r["rates"])
    return out


def inputs_record(runs: list) -> dict:
    """What the trend read from each run (paths and sha256), for the trend's own record.

    Parameters
    ----------
    runs : list of dict
        :func:`load_runs` output.

    Returns
    -------
    dict
    """
    return {"runs": [{"wave": r["wave"], "run_dir": str(r["run_dir"]), "run_id": r["record"].get("run_id"),
                      "weighted": str(r["weighted"]), "weighted_sha256": sha256_file(r["weighted"]),
                      "frame": str(r["frame"]), "frame_sha256": sha256_file(r["frame"]),
                      "response_rates_sha256": sha256_file(r["rates"]) if r["rates"] else None} for r in runs]}


def write_manifest(instrument: str, wave_ids: list, out, *, outputs_root=None, pipeline: str = "wave") -> Path:
    """Write a trend manifest listing the latest finished run of ``pipeline`` for each wave (paths relative to it).

    Parameters
    ----------
    instrument : str
        Instrument id.
    wave_ids : list of str
        The waves, in time order.
    out : str or path-like
        The manifest to write.
    outputs_root : path-like, optional
        Default ``./outputs``.
    pipeline : str, default "wave"

    Returns
    -------
    pathlib.Path

    Raises
    ------
    TrendError
        When a wave has no finished run under ``outputs_root`` (default ``./outputs``).
    """
    waves.check_order(wave_ids)
    root = Path(outputs_root or Path.cwd() / "outputs")
    out = Path(out)
    runs = []
    for w in wave_ids:
        latest = root / instrument / w / pipeline / "LATEST"
        if not latest.is_file():
            raise TrendError(f"{latest.parent}: no finished {pipeline} run of {instrument} {w} (run pipelines/{pipeline}.yml first)")
        runs.append(load_run(latest.parent / latest.read_text(encoding="utf-8").strip())["run_dir"])
    out.parent.mkdir(parents=True, exist_ok=True)
    rel = [os.path.relpath(r.resolve(), out.parent.resolve()) for r in runs]
    out.write_text("# trend manifest: finished wave runs, oldest first (cmlkit waves runs)\n"
                   + yaml.safe_dump({"instrument": instrument, "runs": rel}, sort_keys=False), encoding="utf-8")
    return out


def read_run_table(runs: list, relative: str) -> dict:
    """wave -> a table a run wrote (``relative`` to its folder), for the runs that have it.

    Parameters
    ----------
    runs : list of dict
        :func:`load_runs` output.
    relative : str
        The table's path inside a run folder.

    Returns
    -------
    dict
        Wave -> pandas.DataFrame.
    """
    return {r["wave"]: pd.read_csv(r["run_dir"] / relative) for r in runs if (r["run_dir"] / relative).is_file()}


def wave_ids(runs: list) -> list:
    """The wave id of each run, in order.

    Parameters
    ----------
    runs : list of dict
        :func:`load_runs` output.

    Returns
    -------
    list of str
    """
    return [r["wave"] for r in runs]
