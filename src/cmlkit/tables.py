"""Writing and reading tidy outputs: deterministic CSV, parquet and XLSX, safe for spreadsheets.

Same data in, same bytes out: CSVs use a fixed float format and line ending, parquet files are
written without pandas' index, and workbooks get fixed document times. Text cells that a
spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``, tab or carriage return)
are prefixed with ``'`` in CSV and XLSX (OWASP CSV-injection guidance); numbers are untouched.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose text cells cannot be run as spreadsheet formulas."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            s = out[col]
            text = s.map(lambda v: isinstance(v, str))
            risky = text & s.astype("string").str.startswith(_FORMULA_START).fillna(False)
            numeric = pd.to_numeric(s.where(risky), errors="coerce").notna()
            flag = risky & ~numeric
            if flag.any():
                out[col] = s.astype(object).where(~flag, "'" + s.astype("string"))
    return out


def write_csv(df: pd.DataFrame, path, *, index: bool = False) -> Path:
    """Write a deterministic, formula-safe UTF-8 CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_formulas(df).to_csv(path, index=index, lineterminator="\n", float_format="%.10g", encoding="utf-8")
    return path


def write_parquet(df: pd.DataFrame, path) -> Path:
    """Write a parquet file (pyarrow, no index) with byte-identical output for identical data."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:   # through Python's open, so a pipeline run's write log sees it (cmlkit.runlog)
        df.reset_index(drop=True).to_parquet(fh, index=False, engine="pyarrow", compression="zstd")
    return path


def write_table(df: pd.DataFrame, path) -> Path:
    """Write ``df`` by the suffix of ``path`` (``.csv`` or ``.parquet``)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return write_csv(df, path)
    if suffix == ".parquet":
        return write_parquet(df, path)
    raise ValueError(f"unsupported table format {suffix!r}")


def read_table(path) -> pd.DataFrame:
    """Read a table written by :func:`write_table`."""
    path = Path(path)
    return pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)


def write_xlsx(sheets: dict, path) -> Path:
    """Write several DataFrames as sheets of one formula-safe workbook with fixed document times."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in sheets.items():
            neutralise_formulas(df).to_excel(xw, sheet_name=name[:31], index=False)
    return freeze_xlsx(path)


def freeze_xlsx(path) -> Path:
    """Rewrite a workbook with fixed document and zip-entry times, so the same content gives the same bytes."""
    path = Path(path)
    with zipfile.ZipFile(path) as zin:
        entries = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    fixed = "2000-01-01T00:00:00Z"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)", rb"\g<1>" + fixed.encode() + rb"\g<3>", data)
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
    return path


def write_json(obj, path) -> Path:
    """Write a JSON document with sorted keys and a fixed layout (byte-stable)."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path
