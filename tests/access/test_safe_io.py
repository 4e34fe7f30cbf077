"""Formula injection: every CSV and workbook the project writes holds text, never formulas."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from access.safe_io import (
    FORMULA_TRIGGERS,
    csv_bytes,
    neutralise,
    neutralise_frame,
    restore,
    restore_frame,
    write_csv,
    write_xlsx,
    xlsx_bytes,
)

EVIL = [
    '=HYPERLINK("http://x","区")',
    "@SUM(1+1)",
    "+cmd|' /C calc'!A0",
    "-1+1",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
]


def evil_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "name": [*EVIL, "城关镇卫生院"],
        "unit": pd.array(["=A1", "@x", "ok", None, "+1", "-2", "a", "b"], dtype="str"),
        "n": np.arange(8, dtype="int64") - 3,  # numbers (even negative) stay numbers
        "value": [-1.5, 0.0, np.nan, np.inf, 1.0, 2.0, 3.0, 4.0],
        "met": [True, False, True, False, True, None, True, False],
    })


def is_dangerous(text: str) -> bool:
    return bool(text) and text[0] in FORMULA_TRIGGERS


def test_neutralise_rule() -> None:
    assert neutralise('=HYPERLINK("http://x","区")') == '\'=HYPERLINK("http://x","区")'
    assert neutralise("城关镇") == "城关镇"
    assert neutralise("") == ""
    assert neutralise(-1) == -1
    assert neutralise(None) is None
    for text in EVIL:
        assert not is_dangerous(neutralise(text))
        assert restore(neutralise(text)) == text


@given(st.text())
def test_neutralise_is_reversible(text: str) -> None:
    safe = neutralise(text)
    assert restore(safe) == text
    assert not is_dangerous(safe)


def test_frame_round_trip() -> None:
    df = evil_frame()
    back = restore_frame(neutralise_frame(df))
    pd.testing.assert_frame_equal(back, df)


def test_csv_cells_are_neutralised(tmp_path: Path) -> None:
    df = evil_frame()
    path = write_csv(df, tmp_path / "units.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel shows Chinese correctly
    assert raw == csv_bytes(df)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    for row in rows:
        for cell in row:
            if not cell:
                continue
            try:
                float(cell)  # numbers, negative included, are data
            except ValueError:
                assert not is_dangerous(cell), cell
    # the original text is recoverable: strip one leading apostrophe
    back = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False)
    assert [restore(v) for v in back["name"]] == [*EVIL, "城关镇卫生院"]
    assert list(back["n"]) == list(df["n"])
    assert not list(tmp_path.glob("*.part"))


def test_xlsx_has_no_formula_cells(tmp_path: Path) -> None:
    df = evil_frame()
    path = write_xlsx({"units": df, "=evil": df.head(2)}, tmp_path / "units.xlsx")
    wb = openpyxl.load_workbook(path)
    n_text = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    n_text += 1
                    assert not is_dangerous(cell.value), cell.value
    assert n_text > 20
    ws = wb["units"]
    names = [restore(c.value) for c in ws["A"][1:]]
    # XML stores a carriage return as a line feed; everything else comes back as written
    assert names == [v.replace("\r", "\n") for v in [*EVIL, "城关镇卫生院"]]
    assert [c.value for c in ws["C"][1:]] == list(df["n"])  # numbers stay numbers
    assert ws["D2"].value == -1.5
    assert ws["D5"].value == "inf"
    assert ws["D4"].value is None
    assert xlsx_bytes({"units": df})[:2] == b"PK"


def test_xlsx_needs_a_sheet(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one sheet"):
        write_xlsx({}, tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()
