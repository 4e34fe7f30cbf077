"""Spreadsheet-safe and crash-safe writing of tables (CSV and .xlsx).

Planners open every table lifecircle writes in Excel or WPS. A text cell that begins
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read there as a formula
(CSV/formula injection): a facility named ``=HYPERLINK("http://x","区")`` becomes a live
link. Following the OWASP guidance, :func:`neutralise` prefixes such text with one
apostrophe, which spreadsheets show as plain text.

The rule is reversible: text that already begins with an apostrophe is prefixed too, so
:func:`restore` recovers the original by stripping exactly one leading apostrophe from
any text that begins with one. Numbers, booleans and missing values are never changed.

Every CSV and workbook the project writes goes through :func:`write_csv`,
:func:`write_xlsx`, :func:`csv_bytes` or :func:`xlsx_bytes`. Files are written whole or
not at all (a temporary file beside the target, flushed to disk, then renamed).
"""

from __future__ import annotations

import io
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

__all__ = [
    "FORMULA_TRIGGERS",
    "atomic_path",
    "csv_bytes",
    "fsync_file",
    "neutralise",
    "neutralise_frame",
    "restore",
    "restore_frame",
    "write_csv",
    "write_xlsx",
    "xlsx_bytes",
]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read text as a formula (OWASP)."""

_PREFIX = "'"
# characters XML 1.0 (and so .xlsx) cannot hold; openpyxl refuses them
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(text: Any) -> Any:
    """Make one cell value safe to open in a spreadsheet.

    Parameters
    ----------
    text
        Any cell value. Only strings are changed.

    Returns
    -------
    Any
        ``text`` prefixed with ``'`` when it begins with ``= + - @``, a tab, a carriage
        return or an apostrophe; otherwise ``text`` unchanged.
    """
    if isinstance(text, str) and text and (text[0] in FORMULA_TRIGGERS or text[0] == _PREFIX):
        return _PREFIX + text
    return text


def restore(text: Any) -> Any:
    """Inverse of :func:`neutralise`: strip one leading apostrophe from a string."""
    if isinstance(text, str) and text.startswith(_PREFIX):
        return text[1:]
    return text


def _is_text_column(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s.dtype) or isinstance(
        s.dtype, pd.CategoricalDtype)


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every text cell and column name neutralised."""
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if _is_text_column(s):
            if isinstance(s.dtype, pd.CategoricalDtype):
                s = s.astype(object)
            out[c] = s.map(neutralise, na_action="ignore")
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def restore_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Inverse of :func:`neutralise_frame` (text cells and column names)."""
    out = df.copy()
    for c in out.columns:
        if _is_text_column(out[c]):
            out[c] = out[c].map(restore, na_action="ignore")
    out.columns = [restore(str(c)) for c in out.columns]
    return out


def fsync_file(path: str | Path) -> None:
    """Flush a written file's contents to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path``.

    The temporary file is flushed to disk before the rename, so ``path`` holds either
    its old content or the complete new one, never a part. On error it is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.parent / f".{path.name}.{secrets.token_hex(6)}.part"
    # created like any new file (permissions from the umask), never an existing one
    os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp_path
        fsync_file(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _write_csv_to(df: pd.DataFrame, buf: IO[bytes]) -> None:
    text = neutralise_frame(df).to_csv(index=False, lineterminator="\r\n")
    buf.write(text.encode("utf-8-sig"))


def csv_bytes(df: pd.DataFrame) -> bytes:
    """``df`` as neutralised CSV bytes (UTF-8 with a byte-order mark, for Excel)."""
    buf = io.BytesIO()
    _write_csv_to(df, buf)
    return buf.getvalue()


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to ``path`` as neutralised CSV (UTF-8 with BOM), atomically.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        _write_csv_to(df, fh)
    return path


def _cell_value(v: Any) -> Any:
    """A value openpyxl stores as data: text neutralised, NaN/NA as empty."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating):
        f = float(v)
        return None if np.isnan(f) else (str(f) if np.isinf(f) else f)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_ | bool):
        return bool(v)
    if isinstance(v, int | float | pd.Timestamp):
        return v
    return neutralise(_ILLEGAL_XLSX.sub("", str(v)))


def _write_xlsx_to(sheets: Mapping[str, pd.DataFrame], target: str | Path | IO[bytes]) -> None:
    if not sheets:
        raise ValueError("write_xlsx needs at least one sheet")
    # Imported here, not at the top, for start-up speed: every run imports this module
    # (CSV writing) but only workbook writers need openpyxl (~60 ms to import).
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    used: set[str] = set()
    for name, df in sheets.items():
        title = _sheet_title(str(name), used)
        ws = wb.create_sheet(title=title)
        ws.append([_text_cell(ws, neutralise(_ILLEGAL_XLSX.sub("", str(c))))
                   for c in df.columns])
        for row in df.itertuples(index=False, name=None):
            cells = []
            for v in row:
                value = _cell_value(v)
                if isinstance(value, str):
                    cells.append(_text_cell(ws, value))
                else:
                    cells.append(WriteOnlyCell(ws, value=value))
            ws.append(cells)
    wb.save(target)


def _text_cell(ws: Any, value: str) -> Any:
    """A cell holding ``value`` as text (data type ``s``), never as a formula."""
    from openpyxl.cell import WriteOnlyCell  # loaded by _write_xlsx_to already

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    return cell


def _sheet_title(name: str, used: set[str]) -> str:
    """A valid, unique sheet title (31 characters, none of ``[]:*?/\\``)."""
    base = re.sub(r"[\[\]:*?/\\]", "_", name).strip("'")[:31] or "sheet"
    title, k = base, 1
    while title.lower() in used:
        k += 1
        title = f"{base[:28]}_{k}"
    used.add(title.lower())
    return title


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """An .xlsx workbook (sheet name -> frame) as bytes, every text cell neutralised."""
    buf = io.BytesIO()
    _write_xlsx_to(sheets, buf)
    return buf.getvalue()


def write_xlsx(sheets: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write an .xlsx workbook (sheet name -> frame) atomically, text as data.

    Every text cell is neutralised and stored with data type ``s``, so no cell is ever
    a formula (``f``). Infinite numbers are written as the text ``inf``.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        _write_xlsx_to(sheets, tmp)
    return path
