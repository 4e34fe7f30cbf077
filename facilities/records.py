"""From text columns to typed facility records: column roles, numbers, coordinates.

Every reader (table, vector, OSM) produces the same record frame
(:data:`RECORD_COLUMNS`); the cleaning stage works on that frame only.
Malformed cells are collected, then either raised together (one
:class:`~access.errors.InputFileError` naming file, row and column of the first
and listing the others) or, with ``on_error = "reject"``, marked as
``invalid_value`` rows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from access.errors import CrsMismatchError, InputFileError

__all__ = [
    "COLUMN_ALIASES",
    "OWNERSHIP",
    "RECORD_COLUMNS",
    "Problem",
    "empty_records",
    "normalise_ownership",
    "parse_records",
    "resolve_columns",
    "set_detail",
]

#: Columns of the record frame every reader returns.
RECORD_COLUMNS = ["source_row", "row", "name", "label", "typecode", "type_text", "category",
                  "lon", "lat", "capacity", "ownership", "admin_code", "reject", "detail"]

#: Header names recognised for each role (compared ignoring case, spaces, '_', '-'
#: and any text in brackets, so "经度(GCJ02)" is 经度).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("名称", "name", "名字", "机构名称", "单位名称", "设施名称", "学校名称", "医院名称",
             "幼儿园名称", "poi名称", "poiname", "title"),
    "type": ("类型", "type", "poi类型", "类型名称", "typename"),
    "typecode": ("类型编码", "typecode", "类型代码", "poi类型编码", "类别编码"),
    "category": ("category", "类别", "设施类别", "设施类型", "分类", "设施分类"),
    "lon": ("经度", "lng", "lon", "longitude", "long", "wgs84经度", "gcj02经度", "bd09经度",
            "lng_gcj02", "lng_wgs84", "lng_bd09", "x坐标"),
    "lat": ("纬度", "lat", "latitude", "wgs84纬度", "gcj02纬度", "bd09纬度", "lat_gcj02",
            "lat_wgs84", "lat_bd09", "y坐标"),
    "location": ("location", "坐标", "经纬度", "经纬度坐标", "位置", "lnglat", "lonlat"),
    "capacity": ("capacity", "容量", "规模", "床位", "床位数", "编制床位", "实有床位", "学位",
                 "学位数", "托位", "托位数", "座位", "座位数", "beds", "places", "seats"),
    "ownership": ("ownership", "性质", "办学性质", "办园性质", "举办性质", "机构性质", "所有制",
                  "公办民办", "产权性质"),
    "admin_code": ("adcode", "admincode", "行政区划代码", "区划代码", "行政代码", "行政区划编码",
                   "区划编码", "行政区代码"),
}

#: Normalised ownership codes with (zh, en) labels.
OWNERSHIP: dict[str, tuple[str, str]] = {
    "public": ("公办", "public"),
    "inclusive": ("普惠性民办", "inclusive (subsidised) private"),
    "private": ("民办", "private"),
}
_OWNERSHIP_WORDS = (
    ("inclusive", ("普惠", "inclusive")),
    ("public", ("公办", "公立", "国有", "政府办", "集体", "public", "government")),
    ("private", ("民办", "私立", "私营", "民营", "private")),
)

_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_CAP_UNITS = "张床个人座位名所间平方米m²㎡"


def _norm_header(text: str) -> str:
    t = re.sub(r"[（(\[【].*?[）)\]】]", "", str(text).replace("\ufeff", ""))
    return re.sub(r"[\s_\-]", "", t).lower()


def resolve_columns(header: Sequence[str], *, path: Path, explicit: dict[str, str] | None = None,
                    need_coords: bool = True, delimiter: str | None = None) -> dict[str, int]:
    """Map roles to column positions.

    Parameters
    ----------
    header
        Header cells.
    explicit
        Role -> header name from the source's ``columns`` table; these must exist.
    need_coords
        Require ``lon`` and ``lat`` or ``location``.
    delimiter
        The delimiter used, to suggest another when the header looks wrongly split.

    Raises
    ------
    InputFileError
        A stated column is missing, or no coordinate columns are found.
    """
    norm = [_norm_header(h) for h in header]
    found: dict[str, int] = {}
    for role, col in (explicit or {}).items():
        if col in header:
            found[role] = list(header).index(col)
        elif _norm_header(col) in norm:
            found[role] = norm.index(_norm_header(col))
        else:
            raise InputFileError(f"column {col!r} (stated for '{role}') not found; columns: "
                                 f"{list(header)}", path=path, row=1, column=col)
    for role, aliases in COLUMN_ALIASES.items():
        if role in found:
            continue
        for alias in aliases:
            a = _norm_header(alias)
            if a in norm and norm.index(a) not in found.values():
                found[role] = norm.index(a)
                break
    if need_coords and not ({"lon", "lat"} <= found.keys() or "location" in found):
        hint = ""
        joined = "".join(header)
        for d, label in ((";", "';'"), ("\t", "'\\t'"), (",", "','"), ("|", "'|'")):
            if d != delimiter and d in joined:
                hint = f"; the header seems to be split by {label}: set delimiter = {label}"
                break
        if not hint and any("\ufffd" in h or re.search(r"[ÃÂåæçèé][\x80-\xbf]", h)
                            for h in header):
            hint = "; the header looks garbled: state the file's 'encoding'"
        raise InputFileError(
            "no coordinate columns: need 经度/lng and 纬度/lat, or location = \"lng,lat\" "
            f"(found {list(header)}){hint}; or name them with columns = {{ lon = ..., "
            "lat = ... }} (缺少经纬度列)", path=path, row=1, column="经度/lng")
    return found


def normalise_ownership(text: str) -> str:
    """``public`` / ``inclusive`` / ``private`` for known words, else the text itself."""
    t = str(text).strip()
    low = t.lower()
    for code, words in _OWNERSHIP_WORDS:
        if any(w in low for w in words):
            return code
    return t


@dataclass(frozen=True)
class Problem:
    """A malformed cell."""

    row: int | None
    column: str
    message: str


def _parse_float(text: str) -> float | None:
    t = text.strip().replace("，", ",")
    return float(t) if _NUM_RE.match(t) else None


def _parse_capacity(text: str) -> float | None:
    t = text.strip().replace(",", "").replace("，", "").rstrip(_CAP_UNITS).strip()
    return float(t) if _NUM_RE.match(t) else None


def set_detail(frame: pd.DataFrame, rows: np.ndarray | list[int],
               detail: str | tuple[str, str]) -> None:
    """Set the ``detail`` of the rows at positions ``rows`` (a ``(zh, en)`` pair or text)."""
    values = frame["detail"].tolist()
    for i in rows:
        values[int(i)] = detail
    frame["detail"] = pd.Series(values, index=frame.index, dtype=object)


def empty_records() -> pd.DataFrame:
    """A record frame with no rows and the right dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=float if c in ("lon", "lat", "capacity") else object)
                         for c in RECORD_COLUMNS})


def parse_records(rows: Sequence[Sequence[str]], row_numbers: Sequence[int],
                  header: Sequence[str], cols: dict[str, int], *, path: Path,
                  on_error: str = "raise", lonlat: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> pd.DataFrame:
    """Turn text rows into the record frame.

    Parameters
    ----------
    rows, row_numbers, header
        The table as text and each row's number.
    cols
        Role -> column position (:func:`resolve_columns`).
    on_error
        ``"raise"``: malformed cells raise one :class:`InputFileError`;
        ``"reject"``: their rows get ``reject = "invalid_value"``.
    lonlat
        Coordinates known from geometry (vector files); then coordinate columns are
        ignored.

    Raises
    ------
    InputFileError
        Malformed cells (``on_error="raise"``).
    CrsMismatchError
        Most coordinates look like swapped latitude/longitude.
    """
    n = len(rows)
    n_cols = len(header)

    def cell(r: Sequence[str], role: str) -> str:
        j = cols.get(role)
        if j is None or j >= len(r):
            return ""
        return str(r[j]).strip()

    def colname(role: str) -> str:
        return str(header[cols[role]]) if role in cols else role

    out: dict[str, list[str | tuple[str, str]]] = {
        c: [""] * n for c in ("name", "label", "typecode", "type_text", "category",
                              "ownership", "admin_code", "reject", "detail")}
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    cap = np.full(n, np.nan)
    problems: list[Problem] = []
    row_problem: list[Problem | None] = [None] * n
    swapped_rows = 0

    def flag(i: int, role: str, message: str) -> None:
        p = Problem(row_numbers[i], colname(role) if role in cols else role, message)
        problems.append(p)
        if row_problem[i] is None:
            row_problem[i] = p

    for i, r in enumerate(rows):
        if lonlat is None and len(r) != n_cols:
            flag(i, "row", f"has {len(r)} fields but the header has {n_cols}")
        out["name"][i] = cell(r, "name")
        out["label"][i] = cell(r, "category")
        code = cell(r, "typecode")
        if code.isdigit() and len(code) == 5:
            code = code.zfill(6)  # a leading zero lost by a spreadsheet
        out["typecode"][i] = code
        out["type_text"][i] = cell(r, "type")
        out["ownership"][i] = normalise_ownership(cell(r, "ownership"))
        adm = cell(r, "admin_code")
        out["admin_code"][i] = adm[:-2] if re.fullmatch(r"\d+\.0", adm) else adm
        if (ctext := cell(r, "capacity")):
            value = _parse_capacity(ctext)
            if value is None or not np.isfinite(value):
                flag(i, "capacity", f"{ctext!r} is not a number")
            elif value < 0:
                flag(i, "capacity", f"negative capacity {ctext!r}")
            else:
                cap[i] = value
        if lonlat is not None:
            continue
        x_text, y_text, x_role, y_role = "", "", "lon", "lat"
        if "lon" in cols or "lat" in cols:
            x_text, y_text = cell(r, "lon"), cell(r, "lat")
        if not x_text and not y_text and "location" in cols:
            loc = cell(r, "location")
            x_role = y_role = "location"
            if loc:
                parts = re.split(r"[,，;\s]+", loc.strip("()[] "))
                if len(parts) != 2:
                    flag(i, "location", f"{loc!r} is not 'lng,lat'")
                    continue
                x_text, y_text = parts
        if not x_text or not y_text:
            continue  # missing coordinates: decided by the caller
        x, y = _parse_float(x_text), _parse_float(y_text)
        if x is None:
            flag(i, x_role, f"{x_text!r} is not a number")
            continue
        if y is None:
            flag(i, y_role, f"{y_text!r} is not a number")
            continue
        if not (abs(x) <= 180 and abs(y) <= 90):
            if abs(y) <= 180 and abs(x) <= 90:
                swapped_rows += 1
                flag(i, f"{colname(x_role)}/{colname(y_role)}" if x_role == "lon" else x_role,
                     f"({x_text}, {y_text}): longitude and latitude look swapped")
            else:
                flag(i, x_role, f"({x_text}, {y_text}) is not a longitude/latitude")
            continue
        lon[i], lat[i] = x, y

    if lonlat is not None:
        lon, lat = np.asarray(lonlat[0], float), np.asarray(lonlat[1], float)
    n_coord = int(np.isfinite(lon).sum()) + swapped_rows
    if swapped_rows and swapped_rows * 2 > n_coord:
        first = next(p for p in problems if "swapped" in p.message)
        raise CrsMismatchError(
            f"longitude and latitude look swapped in {swapped_rows} of {n_coord} rows "
            f"(first: {first.message}); check which column is which, or map them with "
            "columns = { lon = ..., lat = ... } (经纬度列疑似颠倒)",
            path=path, row=first.row, column=first.column)
    if problems and on_error == "raise":
        more = "".join(f"\n  row {p.row}, column '{p.column}': {p.message}" for p in problems[1:6])
        if len(problems) > 6:
            more += f"\n  ... and {len(problems) - 6} more"
        first = problems[0]
        raise InputFileError(
            f"{first.message}{more}\n(set on_error = \"reject\" to list such rows as rejects "
            "instead; 数据格式错误)", path=path, row=first.row, column=first.column)
    for i, p in enumerate(row_problem):
        if p is not None:
            out["reject"][i] = "invalid_value"
            out["detail"][i] = (f"列 '{p.column}'：{p.message}",
                                f"column '{p.column}': {p.message}")
    for i in range(n):
        if not out["reject"][i] and not (np.isfinite(lon[i]) and np.isfinite(lat[i])):
            out["reject"][i] = "missing_coordinates"
            out["detail"][i] = (("缺少经纬度", "no longitude/latitude") if lonlat is None
                                else ("无几何", "no geometry"))
    frame = pd.DataFrame({
        "source_row": [str(k) for k in row_numbers],
        "row": list(row_numbers),
        **{k: out[k] for k in ("name", "label", "typecode", "type_text", "category")},
        "lon": lon, "lat": lat, "capacity": cap,
        **{k: out[k] for k in ("ownership", "admin_code", "reject", "detail")},
    })
    return frame[RECORD_COLUMNS]

