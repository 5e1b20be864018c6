"""Validation compiled from the instrument, plus cross-question rules kept as data.

:func:`validate` reports, one row per finding (``wave, response_id, question, value, check,
severity, message``): ``type`` (a number field that is not a number), ``range`` (outside min/max),
``choice`` (not one of the choices), ``required`` (missing although asked and required),
``relevant`` (answered although skip logic says not asked) and each rule of
``survey_instruments/<instrument>/rules.yaml``. Rules are typed records, not expressions, so nothing
is evaluated as code. Values of personal or free-text questions are reported as a ``sha256:`` digest.
"""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd

from cmlkit.cleaning_log import digest_text
from cmlkit.coding import code_choices, multi_outside_choices
from cmlkit.errors import InstrumentError
from cmlkit.instrument import find_root, load_instrument
from cmlkit.relevance import evaluate
from cmlkit.waves import known_waves
from cmlkit.yaml_text import load_yaml

REPORT_COLUMNS = ["wave", "response_id", "question", "value", "check", "severity", "message"]
RULE_TYPES = {"sum_equals": {"total", "parts"}, "ratio_between": {"numerator", "denominator"}, "compare": {"left", "op", "right"}}
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}


def _names_in_any_wave(inst, root) -> set:
    """Question ids and canonical names of every version of the instrument on disk."""
    return {n for w in known_waves(inst.instrument, root=root) for q in load_instrument(inst.instrument, w, root=root).questions
            for n in (q["id"], q["canonical"])}


def _resolve(rule: dict, kind: str, ids: dict) -> dict:
    """The rule with its question names replaced by this version's question ids."""
    out = dict(rule)
    for key in ("total", "numerator", "denominator", "left"):
        if key in out:
            out[key] = ids[out[key]]
    if "parts" in out:
        out["parts"] = [ids[p] for p in out["parts"]]
    if kind == "compare" and isinstance(out.get("right"), str):
        out["right"] = ids[out["right"]]
    return out


def load_rules(inst, *, root=None) -> list:
    """Read and check ``survey_instruments/<instrument>/rules.yaml`` (no file: no rules).

    A rule names questions by id or canonical variable; it applies to the waves whose version asks all of
    them (renamed questions are found through their canonical name) and is skipped in the others. A name
    that no version of the instrument knows is an error.

    Parameters
    ----------
    inst : Instrument
        The wave's instrument.
    root : path, optional
        Project root holding ``survey_instruments/`` (found from the working directory when omitted).

    Returns
    -------
    list of dict
        The rules that apply to this wave, question references resolved to this version's ids.

    Raises
    ------
    InstrumentError
        On an unknown rule type, a rule lacking a key its type needs, a question no version of the
        instrument knows, or an unknown ``compare`` operator.
    """
    path = find_root(root) / "survey_instruments" / inst.instrument / "rules.yaml"
    if not path.is_file():
        return []
    rules = (load_yaml(path.read_text(encoding="utf-8")) or {}).get("rules", [])
    out = []
    for i, rule in enumerate(rules, start=1):
        kind = rule.get("type")
        if kind not in RULE_TYPES:
            raise InstrumentError(f"rule {i} ({rule.get('id')}): unknown type {kind!r}; expected one of {sorted(RULE_TYPES)}", file=path)
        missing = RULE_TYPES[kind] - set(rule)
        if missing:
            raise InstrumentError(f"rule {rule.get('id')!r} lacks {sorted(missing)}", file=path)
        refs = {"sum_equals": [rule.get("total"), *rule.get("parts", [])], "ratio_between": [rule.get("numerator"), rule.get("denominator")],
                "compare": [rule.get("left")] + ([rule["right"]] if isinstance(rule.get("right"), str) else [])}[kind]
        canon = {q["canonical"]: q["id"] for q in inst.questions}
        ids = {r: r if r in inst.question_ids else canon.get(r) for r in refs}
        unknown = [r for r, i in ids.items() if i is None]
        if unknown and not set(unknown) <= _names_in_any_wave(inst, root):
            raise InstrumentError(f"rule {rule.get('id')!r} refers to unknown question {unknown[0]!r}", file=path)
        if kind == "compare" and rule["op"] not in OPS:
            raise InstrumentError(f"rule {rule.get('id')!r}: unknown operator {rule['op']!r}", file=path)
        if not unknown:
            out.append(_resolve(rule, kind, ids))
    return out


def _findings(frame, mask, qid, values, check, severity, message, wave, *, private=False):
    mask = mask.fillna(False).astype(bool)
    if not mask.any():
        return None
    vals = values[mask]
    if private:     # personal and free-text answers are shown as digests (only the flagged ones are hashed)
        vals = digest_text(vals)
    msg = message[mask] if isinstance(message, pd.Series) else message
    return pd.DataFrame({"wave": wave, "response_id": frame.loc[mask, "response_id"].to_numpy(), "question": qid,
                         "value": vals.astype(object).where(vals.notna(), "").astype(str).to_numpy(), "check": check,
                         "severity": severity, "message": msg if isinstance(msg, str) else msg.to_numpy()})


def validate(frame: pd.DataFrame, inst, *, wave: str, rules: list | None = None, root=None) -> pd.DataFrame:
    """Validate responses (ingested or cleaned, before typing) against the instrument and its rules.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per response with ``response_id`` and the question ids (strings).
    inst : Instrument
    wave : str
    rules : list, optional
        Cross-question rules; read from the instrument folder when omitted.

    Returns
    -------
    pandas.DataFrame
        One row per finding with :data:`REPORT_COLUMNS`, in file and question order.
    """
    rules = load_rules(inst, root=root) if rules is None else rules
    coded = code_choices(frame, inst)
    coded.attrs = {}      # the ingest's attrs: pandas would deep-copy them into every Series derived below
    out = []
    nums = {}
    for q in inst.questions:
        qid = q["id"]
        v = coded[qid]
        private = q["personal"] or q["type"] == "text"
        present = v.notna() & (v.astype(str).str.strip() != "")
        if q["type"] in ("integer", "decimal"):
            num = pd.to_numeric(v, errors="coerce")
            nums[qid] = num
            out.append(_findings(coded, present & num.isna(), qid, v, "type", "error", "not a number", wave, private=private))
            if q["type"] == "integer":
                out.append(_findings(coded, num.notna() & (num % 1 != 0), qid, v, "type", "warning", "not a whole number", wave, private=private))
            c = q["constraint"] or {}
            if c:
                bad = pd.Series(False, index=v.index)
                if "min" in c:
                    bad |= num < c["min"]
                if "max" in c:
                    bad |= num > c["max"]
                out.append(_findings(coded, bad, qid, v, "range", "error", f"outside {c.get('min', '-inf')} to {c.get('max', 'inf')}", wave, private=private))
        elif q["type"] == "select_one":
            out.append(_findings(coded, present & ~v.isin(inst.choice_names(qid)), qid, v, "choice", "error", "not one of the choices", wave, private=private))
        elif q["type"] == "select_multiple":
            allowed = set(inst.choice_names(qid))
            bad = present & multi_outside_choices(v, allowed)
            out.append(_findings(coded, bad, qid, v, "choice", "error", "holds a value that is not a choice", wave, private=private))
        asked = evaluate(q["relevant"], coded) if q["relevant"] else pd.Series(True, index=v.index)
        if q["required"]:
            out.append(_findings(coded, asked & ~present, qid, v, "required", "warning", "required but not answered", wave, private=private))
        if q["relevant"]:
            out.append(_findings(coded, ~asked & present, qid, v, "relevant", "error", f"answered although not asked ({q['relevant']})", wave, private=private))
    for rule in rules:
        sev, msg = rule.get("severity", "warning"), rule.get("message", rule["id"])
        check = f"rule:{rule['id']}"
        if rule["type"] == "sum_equals":
            parts = pd.concat([nums[p] for p in rule["parts"]], axis=1)
            total = nums[rule["total"]]
            have = total.notna() & parts.notna().any(axis=1)
            s = parts.sum(axis=1, min_count=1)
            tol = np.maximum(rule.get("tolerance_abs", 0), rule.get("tolerance_rel", 0) * total.abs())
            bad = have & ((total - s).abs() > tol)
            out.append(_findings(coded, bad, rule["total"], total, check, sev, msg + " (sum " + s.map("{:g}".format) + ")", wave))
        elif rule["type"] == "ratio_between":
            n, d = nums[rule["numerator"]], nums[rule["denominator"]]
            r = n / d.where(d > 0)
            bad = r.notna() & ((r < rule.get("min", -np.inf)) | (r > rule.get("max", np.inf)))
            out.append(_findings(coded, bad, rule["numerator"], n, check, sev, msg + " (ratio " + r.round(2).astype(str) + ")", wave))
        else:
            left = nums.get(rule["left"], pd.to_numeric(coded[rule["left"]], errors="coerce"))
            right = nums.get(rule["right"]) if isinstance(rule["right"], str) else pd.Series(float(rule["right"]), index=left.index)
            ok = OPS[rule["op"]](left, right)
            bad = left.notna() & right.notna() & ~ok
            out.append(_findings(coded, bad, rule["left"], left, check, sev, msg, wave))
    out = [o for o in out if o is not None]
    report = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=REPORT_COLUMNS)
    # first position of each id: repeated ids (a file not read by read_export) must not break the ordering
    pos = pd.Series(np.arange(len(frame)), index=frame["response_id"].to_numpy()).groupby(level=0).min()
    qpos = {q: i for i, q in enumerate(inst.question_ids)}
    report = report.assign(_r=report["response_id"].map(pos), _q=report["question"].map(qpos)).sort_values(["_r", "_q"], kind="stable")
    return report.drop(columns=["_r", "_q"]).reset_index(drop=True)[REPORT_COLUMNS]
