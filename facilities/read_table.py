"""Reading CSV and Excel facility tables into rows of text, with their row numbers.

Row numbers are as a spreadsheet shows them: the header is row 1, the first
data row is row 2. Entirely empty rows are skipped (they hold no record).
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from access.errors import InputFileError
from access.i18n import Say, say

__all__ = ["RawTable", "decode_text", "read_table_file", "sniff_delimiter"]

log = logging.getLogger(__name__)

_DELIMITERS = (",", ";", "\t", "|")
_DELIM_NAMES = {",": ("逗号 ','", "comma ','"), ";": ("分号 ';'", "semicolon ';'"),
                "\t": ("制表符", "tab"), "|": ("竖线 '|'", "bar '|'")}


@dataclass
class RawTable:
    """A table as text: header cells, data rows and their 1-based row numbers."""

    header: list[str]
    rows: list[list[str]]
    row_numbers: list[int]
    encoding: str = ""
    delimiter: str = ""


def _line_of(raw: bytes, offset: int) -> int:
    return raw[:offset].count(b"\n") + 1


def _looks_utf8(raw: bytes) -> bool:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return any(ord(ch) > 127 for ch in text)


def decode_text(raw: bytes, *, path: Path, encoding: str | None = None) -> tuple[str, str]:
    """Decode a text file, detecting the encoding when none is stated.

    Detection: a UTF-8 or UTF-16 byte-order mark, else UTF-8, else GB18030 (a
    superset of GBK and GB2312, the usual encodings of Chinese Excel exports).

    Returns
    -------
    tuple of str
        ``(text, encoding used)``.

    Raises
    ------
    InputFileError
        If the stated encoding cannot decode the file (naming the line and the
        likely encoding), or no candidate can.
    """
    if encoding is not None:
        norm = codecs.lookup(encoding).name
        if norm in ("gbk", "gb2312", "gb18030") and _looks_utf8(raw):
            raise InputFileError(
                f"the file is UTF-8 but encoding = '{encoding}' was stated; remove 'encoding' "
                "or set it to 'utf-8' (文件为UTF-8编码)", path=path, column="encoding")
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            hint = ""
            for cand in ("utf-8", "gb18030"):
                try:
                    raw.decode(cand)
                except UnicodeDecodeError:
                    continue
                hint = f"; it decodes as {cand.upper()}: set encoding = '{cand}'"
                break
            raise InputFileError(
                f"cannot be read as {encoding} (byte {exc.start}){hint} (文件编码与设定不符)",
                path=path, row=_line_of(raw, exc.start), column="encoding") from exc
        if text.startswith("\ufeff"):
            text = text[1:]
        return text, encoding
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"the file is neither UTF-8 (bad byte at offset {first_bad}) nor GBK/GB18030; "
            "save it as UTF-8 or state its 'encoding' (无法识别文件编码)",
            path=path, row=_line_of(raw, exc.start), column="encoding") from exc
    log.info(say("log_gbk", file=path.name))
    return text, "gb18030"


def sniff_delimiter(header_line: str) -> str:
    """The most frequent of ``, ; tab |`` outside quotes in the header line (default ``,``)."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _read_csv(path: Path, *, encoding: str | None, delimiter: str | None) -> RawTable:
    text, used = decode_text(path.read_bytes(), path=path, encoding=encoding)
    first_line = text.split("\n", 1)[0]
    delim = delimiter or sniff_delimiter(first_line)
    if delimiter is None:
        log.info(say("log_table_format", file=path.name, enc=used,
                     delim=Say(*_DELIM_NAMES.get(delim, (delim, delim)))))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    header: list[str] | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    try:
        for rec in reader:
            if header is None:
                header = rec
                continue
            if not any(c.strip() for c in rec):
                continue
            rows.append(rec)
            numbers.append(reader.line_num)
    except csv.Error as exc:
        raise InputFileError(f"malformed CSV: {exc}", path=path, row=reader.line_num) from exc
    if header is None:
        raise InputFileError("the file is empty", path=path, row=1)
    return RawTable(header=header, rows=rows, row_numbers=numbers, encoding=used, delimiter=delim)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _read_excel(path: Path, *, sheet: str | int | None) -> RawTable:
    import openpyxl

    with warnings.catch_warnings():
        # openpyxl warns about workbooks saved without a default style; harmless here
        warnings.filterwarnings("ignore", message="Workbook contains no default style",
                                category=UserWarning)
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises several unrelated types
            raise InputFileError(f"cannot open as an Excel workbook: {exc}", path=path) from exc
        try:
            if sheet is None:
                ws = wb.worksheets[0]
            elif isinstance(sheet, int):
                if sheet > len(wb.worksheets):
                    raise InputFileError(f"the workbook has {len(wb.worksheets)} sheets",
                                         path=path, column="sheet")
                ws = wb.worksheets[sheet - 1]
            else:
                if sheet not in wb.sheetnames:
                    raise InputFileError(f"no sheet named {sheet!r}; sheets: {wb.sheetnames}",
                                         path=path, column="sheet")
                ws = wb[sheet]
            header: list[str] | None = None
            rows: list[list[str]] = []
            numbers: list[int] = []
            for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
                cells = [_cell_text(v) for v in values]
                if header is None:
                    if not any(c.strip() for c in cells):
                        raise InputFileError("the first row must hold the column names",
                                             path=path, row=i)
                    header = cells
                    continue
                if not any(c.strip() for c in cells):
                    continue
                rows.append(cells)
                numbers.append(i)
        finally:
            wb.close()
    if header is None:
        raise InputFileError("the sheet is empty", path=path, row=1)
    return RawTable(header=header, rows=rows, row_numbers=numbers, encoding="xlsx")


def read_table_file(path: Path, *, encoding: str | None = None, delimiter: str | None = None,
                    sheet: str | int | None = None) -> RawTable:
    """Read a CSV or Excel file as text rows.

    Parameters
    ----------
    path
        ``.csv``/``.txt``/``.tsv`` or ``.xlsx``/``.xlsm``.
    encoding, delimiter
        CSV only; detected when None.
    sheet
        Excel only: sheet name or 1-based index (default the first sheet).
    """
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_excel(path, sheet=sheet)
    return _read_csv(path, encoding=encoding, delimiter=delimiter)
