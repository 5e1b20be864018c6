"""A small, safe evaluator for XLSForm skip logic (``relevant``), vectorised over responses.

Grammar (no ``eval``; anything else is refused)::

    expr    := term ("or" term)*
    term    := factor ("and" factor)*
    factor  := "not" "(" expr ")" | "(" expr ")" | compare | selected
    compare := ${q} ("=" | "!=") 'literal'
    selected:= "selected(" ${q} "," 'literal' ")"

A comparison with a blank answer is False (as in ODK); ``!=`` with a blank answer is also False,
so a question gated on an unanswered one counts as not asked.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cmlkit.errors import InstrumentError

_TOKEN = re.compile(r"\s*(\$\{[A-Za-z_][A-Za-z0-9_]*\}|'[^']*'|!=|=|\(|\)|,|selected|and|or|not)")


def _tokens(expr: str):
    pos, out = 0, []
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise InstrumentError(f"unsupported skip-logic syntax at {expr[pos:pos + 20]!r} in {expr!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def evaluate(expr: str, data: pd.DataFrame) -> pd.Series:
    """Evaluate ``expr`` for every row of ``data`` (raw answers; select_multiple space-joined names).

    Select_one answers may be choice names or labels; pass ``data`` with names (see
    :func:`cmlkit.clean.code_choices`) for exact results.

    Parameters
    ----------
    expr : str
        An XLSForm ``relevant`` expression.
    data : pandas.DataFrame
        Raw answers.

    Returns
    -------
    pandas.Series of bool
    """
    toks = _tokens(expr)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take(expected=None):
        nonlocal pos
        tok = peek()
        if tok is None or (expected is not None and tok != expected):
            raise InstrumentError(f"skip logic {expr!r}: expected {expected or 'more'}, found {tok!r}")
        pos += 1
        return tok

    def column(tok):
        qid = tok[2:-1]
        if qid not in data:
            raise InstrumentError(f"skip logic {expr!r} refers to unknown question {qid!r}")
        return data[qid]

    def factor():
        tok = peek()
        if tok == "not":
            take("not"); take("(")
            val = expr_()
            take(")")
            return ~val
        if tok == "(":
            take("(")
            val = expr_()
            take(")")
            return val
        if tok == "selected":
            take("selected"); take("(")
            col = column(take())
            take(",")
            lit = take()[1:-1]
            take(")")
            import pyarrow as pa
            import pyarrow.compute as pc

            obj = col.to_numpy(dtype=object)
            arr = pa.array(np.where(pd.isna(obj), "", obj).astype(object), type=pa.string())
            padded = pc.binary_join_element_wise(" ", arr, " ", "")
            return pd.Series(pc.match_substring(padded, f" {lit} ").to_numpy(zero_copy_only=False), index=col.index)
        if tok and tok.startswith("${"):
            col = column(take())
            op = take()
            if op not in ("=", "!="):
                raise InstrumentError(f"skip logic {expr!r}: unsupported operator {op!r}")
            lit = take()
            if not lit.startswith("'"):
                raise InstrumentError(f"skip logic {expr!r}: expected a quoted value, found {lit!r}")
            lit = lit[1:-1]
            present = col.notna()
            eq = col.astype(object) == lit
            return (present & eq) if op == "=" else (present & ~eq)
        raise InstrumentError(f"skip logic {expr!r}: unexpected {tok!r}")

    def term():
        val = factor()
        while peek() == "and":
            take("and")
            val = val & factor()
        return val

    def expr_():
        val = term()
        while peek() == "or":
            take("or")
            val = val | term()
        return val

    result = expr_()
    if peek() is not None:
        raise InstrumentError(f"skip logic {expr!r}: unexpected {peek()!r}")
    return result.astype(bool)
