"""Results I/O: one run folder, written whole or not at all, and read back exactly.

:func:`write_run` writes a :class:`~lifecircle.pipeline.RunResult` to a folder;
:func:`read_run` reads such a folder back as :class:`RunData` (the dashboard, reports
and notebooks read runs this way, never the files directly).

Layout of a run folder (``fmt="parquet"``, the default)

=============================  ==========================================================
``cells.parquet``              GeoParquet, one row per cell: every column of the run's cell
                               table (population, distances, times, units, target flags);
                               geometry = cell-centre points; the grid definition (cell
                               size, origin, shape, CRS) in the file's ``lifecircle``
                               metadata so cell polygons can be rebuilt
``facilities.parquet``         GeoParquet, every facility kept
``unit_polygons__<level>``     GeoParquet per unit level (``unit_id``, ``name``, ...)
``unit_stats__<level>``        Parquet per unit level (area and population per unit)
``k_nearest.parquet``          only when the study area asks for ``k_nearest > 1``
``<table>.csv`` + ``.parquet`` ``targets``, ``units``, ``gaps``, ``rejects``,
                               ``population_accounting``, ``completeness``: CSV for Excel
                               (UTF-8 with BOM, formula-looking text neutralised, see
                               :mod:`access.safe_io`), Parquet for exact reading
``gap_cells.parquet``          the gap area of every uncovered populated cell
                               (``target_id, rank, cell_id``); Parquet only, so no CSV
                               cell holds a list of cells
``run.json``                   CRS, grid, networks, speeds, timings, notes
``_COMPLETE.json``             completion marker: format version, lifecircle version and
                               the size and sha256 of every other file
=============================  ==========================================================

With ``fmt="gpkg"`` the geometric files are GeoPackages instead: ``cells.gpkg`` (cell
polygons), ``facilities.gpkg``, ``unit_polygons.gpkg`` (one layer per level) and
``gaps.gpkg`` (layer ``gap_areas``: each gap area's row with the union of its cells).

Safety. A run is written into a temporary folder beside the output folder (same file
system), every file is flushed to disk, the completion marker is written last, then the
folder is swapped into place (the old folder renamed aside, the new one renamed in, the
old one deleted). A run killed at any point leaves the previous complete result in place
(or, between the two renames, aside, from where the next run restores it); the next run
finds and reports what the interrupted one left. One run at a time may write to a folder:
:func:`output_lock` holds an OS lock on a file beside it for the whole run.

For tests, ``LIFECIRCLE_FAULT=after:cells`` (comma-separated points: ``after:<file>``,
``before:marker``, ``after:marker``, ``after:aside``, ``after:swap``) kills the process
with SIGKILL at that point of the write.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import shapely
from pyproj import CRS

from access.errors import IncompleteRunError, InputFileError, OutputLockedError
from access.i18n import Say
from access.safe_io import fsync_file, write_csv
from gridded_pop import GridSpec
from lifecircle.pipeline import RunResult

__all__ = [
    "FORMAT_VERSION",
    "MARKER",
    "RunData",
    "cell_column_names",
    "check_complete",
    "check_replaceable",
    "gap_polygons",
    "is_complete",
    "output_lock",
    "read_cells",
    "read_run",
    "recover_stale",
    "write_outputs",
    "write_run",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Version of the run-folder layout written by :func:`write_run`."""

MARKER = "_COMPLETE.json"
"""Name of the completion marker, written last."""

FAULT_ENV = "LIFECIRCLE_FAULT"

Fmt = Literal["parquet", "gpkg"]
FORMATS: tuple[str, ...] = ("parquet", "gpkg")

TABLES = ("targets", "units", "gaps", "rejects", "population_accounting", "completeness")
# graph indices: meaningless outside the run that computed them
INTERNAL_COLUMNS = ("node", "ebike_node", "drive_node")
# files earlier versions wrote (no marker): such a folder may be replaced
_LEGACY_FILES = {"cells.gpkg", "facilities.gpkg", "rejects.csv", "k_nearest.csv",
                 "targets.csv", "units.csv", "gaps.csv", "population_accounting.csv",
                 "completeness.csv", "run.json"}
_JSON_COLUMNS_KEY = b"lifecircle.json_columns"
_GRID_KEY = b"lifecircle"


# ---------------------------------------------------------------------------
# Reading


@dataclass
class RunData:
    """A finished run read back from its folder.

    Attributes
    ----------
    path
        The run folder.
    fmt
        ``"parquet"`` or ``"gpkg"``.
    crs
        Metric analysis CRS.
    grid
        The analysis grid (cell polygons: :meth:`cell_polygons`).
    cells
        One row per cell in the study area: ``cell_id``, ``x``, ``y`` (cell centre) and
        every column the run computed. Index reset to 0..n-1.
    facilities
        Facilities kept, in ``crs``.
    targets, units, gaps
        Target verdicts, per-unit verdicts and gap areas (None without targets).
    gap_cells
        The gap area of every uncovered populated cell: ``target_id, rank, cell_id``
        (None without targets).
    rejects
        Every input row not used, with its reason.
    unit_polygons
        Level -> unit polygons in ``crs``.
    unit_stats
        Level -> area and population per unit.
    k_nearest
        Long table of the k nearest facilities per cell (None unless asked for).
    population_accounting, completeness
        Population read per source; facility counts against GB 50180.
    meta
        The run record (``run.json``): study-area path, CRS, grid, networks, timings.
    marker
        The completion marker (format version, lifecircle version, files and sha256).
    """

    path: Path
    fmt: str
    crs: CRS
    grid: GridSpec
    cells: pd.DataFrame
    facilities: gpd.GeoDataFrame
    targets: pd.DataFrame | None
    units: pd.DataFrame | None
    gaps: pd.DataFrame | None
    rejects: pd.DataFrame
    population_accounting: pd.DataFrame
    completeness: pd.DataFrame
    unit_polygons: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    unit_stats: dict[str, pd.DataFrame] = field(default_factory=dict)
    k_nearest: pd.DataFrame | None = None
    gap_cells: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    marker: dict[str, Any] = field(default_factory=dict)

    @property
    def categories(self) -> list[str]:
        """Categories routed (those with a ``dist_m__<cat>`` column)."""
        return [c[len("dist_m__"):] for c in self.cells.columns if c.startswith("dist_m__")]

    def cell_polygons(self) -> gpd.GeoSeries:
        """Square polygon of every cell, in :attr:`crs`, aligned with :attr:`cells`."""
        geom = self.grid.cell_polygons(self.cells["cell_id"].to_numpy())
        return gpd.GeoSeries(geom, crs=self.crs, index=self.cells.index)

    def cells_gdf(self) -> gpd.GeoDataFrame:
        """:attr:`cells` with cell polygons as geometry."""
        return gpd.GeoDataFrame(self.cells, geometry=self.cell_polygons(), crs=self.crs)


def _marker_path(out: Path) -> Path:
    return out / MARKER


def _aside(out: Path) -> list[Path]:
    """Previous results renamed aside by a swap that did not finish, newest first."""
    found = [p for p in out.parent.glob(f".{out.name}.old-*") if p.is_dir()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def check_complete(out_dir: str | Path, *, verify: bool = False) -> dict[str, Any]:
    """Check that ``out_dir`` holds a complete run and return its completion marker.

    Parameters
    ----------
    out_dir
        A folder written by :func:`write_run`.
    verify
        Also recompute the sha256 of every file (otherwise sizes are checked).

    Raises
    ------
    IncompleteRunError
        No folder, no (readable) marker, a newer format, or a file missing, of the
        wrong size or (with ``verify``) changed since the run wrote it.
    """
    out = Path(out_dir)
    if not out.is_dir():
        aside = _aside(out) if out.parent.is_dir() else []
        if aside:
            raise IncompleteRunError(
                f"no results here: an interrupted run left the previous result at "
                f"{aside[0]}; run 'lifecircle run' again to restore it", path=out)
        raise IncompleteRunError("no results folder here; run 'lifecircle run' first",
                                 path=out)
    mpath = _marker_path(out)
    if not mpath.is_file():
        raise IncompleteRunError(
            f"not a complete lifecircle run (no {MARKER}: interrupted, still being "
            f"written, or from an older version); run 'lifecircle run' again", path=out)
    try:
        marker = json.loads(mpath.read_text(encoding="utf-8"))
        files = marker["files"]
        version = int(marker["format_version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IncompleteRunError(f"unreadable {MARKER} ({exc}); run 'lifecircle run' again",
                                 path=out) from exc
    if version > FORMAT_VERSION:
        raise IncompleteRunError(
            f"written by a newer lifecircle (format {version}, this one reads "
            f"{FORMAT_VERSION}); update lifecircle", path=out)
    for rel, info in files.items():
        p = out / rel
        if not p.is_file():
            raise IncompleteRunError(f"file {rel} listed in {MARKER} is missing", path=out)
        size = p.stat().st_size
        if size != info["bytes"]:
            raise IncompleteRunError(
                f"file {rel} has {size} bytes, the run wrote {info['bytes']}", path=out)
        if verify and _sha256(p) != info["sha256"]:
            raise IncompleteRunError(f"file {rel} changed since the run wrote it (sha256)",
                                     path=out)
    return marker


def is_complete(out_dir: str | Path) -> bool:
    """Whether ``out_dir`` holds a complete run (marker present, sizes match)."""
    try:
        check_complete(out_dir)
    except IncompleteRunError:
        return False
    return True


def _decode_json_columns(table: pa.Table, df: pd.DataFrame) -> pd.DataFrame:
    meta = table.schema.metadata or {}
    cols = json.loads(meta.get(_JSON_COLUMNS_KEY, b"[]"))
    for c in (c for c in cols if c in df.columns):
        # each distinct text decoded once: a city's cell column repeats a few thousand
        # facility ids (or nothing) over 640,000 rows
        codes, uniq = pd.factorize(df[c].to_numpy(dtype=object), use_na_sentinel=True)
        decoded = np.empty(len(uniq) + 1, dtype=object)  # the last: missing (code -1)
        for i, v in enumerate(uniq):
            decoded[i] = json.loads(v) if isinstance(v, str) else None
        df[c] = pd.Series(decoded[codes], index=df.index, dtype=object)
    return df


def _read_parquet_frame(path: Path) -> pd.DataFrame:
    table = pq.read_table(path)
    return _decode_json_columns(table, table.to_pandas())


def _read_geoparquet(path: Path) -> gpd.GeoDataFrame:
    table = pq.read_table(path)
    gdf = gpd.read_parquet(path)
    return _decode_json_columns(table, gdf)


def _grid_from_meta(meta: dict[str, Any], crs: CRS) -> GridSpec:
    g = meta["grid"]
    return GridSpec(crs=crs, x_min=float(g["x_min"]), y_max=float(g["y_max"]),
                    cell_size_m=float(g["cell_size_m"]), n_rows=int(g["n_rows"]),
                    n_cols=int(g["n_cols"]))


def _cell_file(out: Path, fmt: str) -> Path:
    return out / ("cells.gpkg" if fmt == "gpkg" else "cells.parquet")


def cell_column_names(out_dir: str | Path) -> list[str]:
    """Names of the cell columns a complete run folder holds (read from the file's schema)."""
    out = Path(out_dir)
    marker = check_complete(out)
    fmt = marker.get("fmt", "parquet")
    if fmt == "gpkg":
        return [str(c) for c in pyogrio.read_info(_cell_file(out, fmt))["fields"]]
    return [c for c in pq.read_schema(_cell_file(out, fmt)).names if c != "geometry"]


def read_cells(out_dir: str | Path, columns: Iterable[str] | None = None, *,
               check: bool = True) -> pd.DataFrame:
    """The cell table of a run folder, all columns or only ``columns``.

    Reading only the columns needed is much faster on a large run (a dashboard
    shows a few; a 640,000-cell run holds 140). Rows are in the same order
    whichever columns are read.

    Parameters
    ----------
    out_dir
        A folder written by :func:`write_run`.
    columns
        Column names to read (unknown names are ignored); None reads every column.
    check
        Require the completion marker first (:func:`check_complete`).

    Raises
    ------
    IncompleteRunError
        The folder is not a complete run.
    """
    out = Path(out_dir)
    marker = check_complete(out) if check else json.loads(
        _marker_path(out).read_text(encoding="utf-8"))
    fmt = marker.get("fmt", "parquet")
    path = _cell_file(out, fmt)
    if fmt == "gpkg":
        if columns is None:
            return pyogrio.read_dataframe(path, read_geometry=False)
        have = set(pyogrio.read_info(path)["fields"])
        return pyogrio.read_dataframe(path, read_geometry=False,
                                      columns=[c for c in columns if c in have])
    if columns is None:
        names = [c for c in pq.read_schema(path).names if c != "geometry"]
    else:
        have = set(pq.read_schema(path).names) - {"geometry"}
        names = list(dict.fromkeys(c for c in columns if c in have))
    table = pq.read_table(path, columns=names)
    return _decode_json_columns(table, table.to_pandas())


def read_run(out_dir: str | Path, *, verify: bool = False,
             cell_columns: Iterable[str] | None = None) -> RunData:
    """Read a run folder written by :func:`write_run`.

    Parameters
    ----------
    out_dir
        The folder (``--out`` of ``lifecircle run``).
    verify
        Recompute the sha256 of every file against the completion marker.
    cell_columns
        Read only these cell columns (see :func:`read_cells`); None reads all.

    Returns
    -------
    RunData
        The run's frames. With the default Parquet format, cells, facilities, targets,
        units, gaps and rejects equal those of the run that wrote them, dtypes
        included (cell graph indices ``node``/``drive_node`` are not written).

    Raises
    ------
    IncompleteRunError
        The folder is not a complete run (see :func:`check_complete`).
    """
    out = Path(out_dir)
    marker = check_complete(out, verify=verify)
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    crs = CRS.from_user_input(meta["crs"])
    grid = _grid_from_meta(meta, crs)
    fmt = marker.get("fmt", "parquet")
    layout = marker.get("layout", {})

    cells = read_cells(out, cell_columns, check=False)
    if fmt == "gpkg":
        facilities = gpd.read_file(out / "facilities.gpkg", engine="pyogrio")
        unit_polygons = {
            level: gpd.read_file(out / "unit_polygons.gpkg", layer=layer, engine="pyogrio")
            for level, layer in layout.get("unit_polygons", {}).items()}
    else:
        facilities = _read_geoparquet(out / "facilities.parquet")
        unit_polygons = {level: _read_geoparquet(out / rel)
                         for level, rel in layout.get("unit_polygons", {}).items()}
    unit_stats = {level: _read_parquet_frame(out / rel)
                  for level, rel in layout.get("unit_stats", {}).items()}
    tables = {name: _read_parquet_frame(out / f"{name}.parquet")
              if (out / f"{name}.parquet").is_file() else None for name in TABLES}
    k_path = out / "k_nearest.parquet"
    g_path = out / "gap_cells.parquet"
    return RunData(
        path=out, fmt=fmt, crs=crs, grid=grid, cells=cells, facilities=facilities,
        targets=tables["targets"], units=tables["units"], gaps=tables["gaps"],
        rejects=tables["rejects"] if tables["rejects"] is not None else pd.DataFrame(),
        population_accounting=(tables["population_accounting"]
                               if tables["population_accounting"] is not None
                               else pd.DataFrame()),
        completeness=(tables["completeness"] if tables["completeness"] is not None
                      else pd.DataFrame()),
        unit_polygons=unit_polygons, unit_stats=unit_stats,
        k_nearest=_read_parquet_frame(k_path) if k_path.is_file() else None,
        gap_cells=_read_parquet_frame(g_path) if g_path.is_file() else None,
        meta=meta, marker=marker)


# ---------------------------------------------------------------------------
# Locking


_held_lock = threading.Lock()
_held: dict[tuple[Path, int], list[int]] = {}  # (folder, thread) -> [fd, depth]


def _lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def output_lock(out_dir: str | Path) -> Iterator[Path]:
    """Hold the lock of output folder ``out_dir`` (re-entrant within one thread).

    The lock is an OS lock (``flock``; ``msvcrt.locking`` on Windows) on the file
    ``.<name>.lock`` beside the folder, so it is released when the process ends, however
    it ends. Take it before the analysis starts, so a second run fails at once.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    OutputLockedError
        Another run (another process, or another thread) holds the lock.
    InputFileError
        The lock file cannot be created there (no such place, or not writable).
    """
    out = Path(out_dir).absolute()
    key = (out, threading.get_ident())
    lock = _lock_path(out)
    with _held_lock:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield lock
        finally:
            with _held_lock:
                _held[key][1] -= 1
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputFileError(f"cannot create the output folder's lock file {lock} "
                             f"({exc.strerror or exc}); choose a writable --out",
                             path=out, column="--out") from exc
    if not _try_lock(fd):
        holder = ""
        with suppress(OSError, ValueError):
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        os.close(fd)
        who = f" (process {holder})" if holder else ""
        raise OutputLockedError(
            f"another lifecircle run is writing to this folder{who}; wait for it to end "
            f"or choose another --out", path=out)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
    except OSError:
        pass
    with _held_lock:
        _held[key] = [fd, 1]
    try:
        yield lock
    finally:
        with _held_lock:
            del _held[key]
        os.close(fd)  # closing the descriptor releases the lock


# ---------------------------------------------------------------------------
# Writing


def _fault(point: str) -> None:
    """Kill this process at ``point`` when ``LIFECIRCLE_FAULT`` names it (tests)."""
    spec = os.environ.get(FAULT_ENV)
    if spec and point in {p.strip() for p in spec.split(",")}:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
        time.sleep(10)  # the signal is delivered asynchronously


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - directories cannot be opened there
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lifecircle_version() -> str:
    try:
        return importlib.metadata.version("lifecircle")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source tree only
        return "unknown"


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return str(v)


def _json_text(values: np.ndarray) -> np.ndarray:
    """Object values as JSON text (None and pd.NA stay missing)."""
    return np.array([None if v is None or v is pd.NA
                     else json.dumps(v, ensure_ascii=False, default=_json_default)
                     for v in values], dtype=object)


def _arrow_table(df: pd.DataFrame) -> pa.Table:
    """``df`` as an Arrow table; object columns (mixed values) stored as JSON text.

    The frame's own arrays are handed to Arrow without copying the frame (only the
    object columns are replaced, on a shallow copy).
    """
    df = df.reset_index(drop=True)
    json_cols = [c for c in df.columns if df[c].dtype == object and c != "geometry"]
    if json_cols:
        df = df.copy(deep=False)
        for c in json_cols:
            df[c] = pd.Series(_json_text(df[c].to_numpy()), index=df.index, dtype=object)
    table = pa.Table.from_pandas(df, preserve_index=False)
    if json_cols:
        meta = dict(table.schema.metadata or {})
        meta[_JSON_COLUMNS_KEY] = json.dumps([str(c) for c in json_cols]).encode()
        table = table.replace_schema_metadata(meta)
    return table


_GEOMETRY_NAMES = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint",
                   5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}


def _geo_metadata(geom: np.ndarray | None, crs: CRS, *,
                  bbox: list[float] | None = None) -> dict[str, Any]:
    """GeoParquet 1.0 ``geo`` metadata of one WKB geometry column.

    ``geom`` None means points whose bounding box is ``bbox``.
    """
    if geom is None:
        types, box = ["Point"], bbox
    else:
        ids = sorted({t for t in shapely.get_type_id(geom).tolist() if t >= 0})
        types = [_GEOMETRY_NAMES[t] for t in ids if t in _GEOMETRY_NAMES]
        box = [float(v) for v in shapely.total_bounds(geom)] if len(geom) else None
    col: dict[str, Any] = {"encoding": "WKB", "geometry_types": types,
                           "crs": crs.to_json_dict()}
    if box is not None:
        col["bbox"] = box
    return {"version": "1.0.0", "primary_column": "geometry", "columns": {"geometry": col}}


def _point_wkb(x: np.ndarray, y: np.ndarray) -> pa.Array:
    """Little-endian WKB points (21 bytes each) built from coordinates, as Arrow binary.

    Byte for byte what ``shapely.to_wkb(shapely.points(x, y))`` gives for finite
    coordinates, without making a geometry object per point.
    """
    n = len(x)
    rec = np.empty(n, dtype=np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"),
                                      ("y", "<f8")]))
    rec["order"], rec["type"], rec["x"], rec["y"] = 1, 1, x, y
    offsets = np.arange(0, 21 * (n + 1), 21, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(rec.tobytes())])


def _write_geoparquet(df: pd.DataFrame, geom: np.ndarray | tuple[np.ndarray, np.ndarray],
                      crs: CRS, path: Path, extra: dict[str, Any] | None = None) -> None:
    """Write ``df`` with ``geom`` as GeoParquet (WKB ``geometry`` column, ``geo`` metadata).

    ``geom`` is an array of shapely geometries, or ``(x, y)`` of points (written
    without making geometry objects). Readable by geopandas, GDAL ≥ 3.5 and
    QGIS ≥ 3.32 (GeoParquet 1.0).
    """
    attrs = df.drop(columns=["geometry"], errors="ignore")
    table = _arrow_table(attrs)
    position = list(df.columns).index("geometry") if "geometry" in df.columns else None
    if isinstance(geom, tuple):
        x, y = (np.asarray(v, dtype=np.float64) for v in geom)
        wkb = _point_wkb(x, y)
        bbox = ([float(x.min()), float(y.min()), float(x.max()), float(y.max())]
                if len(x) else None)
        geo = _geo_metadata(None, crs, bbox=bbox)
    else:
        wkb = pa.array(shapely.to_wkb(geom), type=pa.binary())
        geo = _geo_metadata(geom, crs)
    if position is None:
        table = table.append_column("geometry", wkb)
    else:
        table = table.add_column(position, "geometry", wkb)
    meta = dict(table.schema.metadata or {})
    pandas_meta = json.loads(meta.get(b"pandas", b"{}"))
    if position is not None and pandas_meta.get("columns") is not None:
        # geometry is a column of the frame: list it where it was, as geopandas does
        pandas_meta["columns"].insert(position, {
            "name": "geometry", "field_name": "geometry", "pandas_type": "bytes",
            "numpy_type": "object", "metadata": None})
        meta[b"pandas"] = json.dumps(pandas_meta).encode()
    meta[b"geo"] = json.dumps(geo).encode()
    if extra is not None:
        meta[_GRID_KEY] = json.dumps(extra, ensure_ascii=False).encode()
    pq.write_table(table.replace_schema_metadata(meta), path, compression="zstd")


def _gpkg_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Columns GeoPackage can store: infinities become NaN, objects become strings."""
    out = df.copy()
    for c in out.columns:
        if c == "geometry":
            continue
        s = out[c]
        if pd.api.types.is_float_dtype(s):
            out[c] = s.where(np.isfinite(s))
        elif s.dtype == object:
            out[c] = s.map(lambda v: None if v is None or v is pd.NA else str(v))
        elif isinstance(s.dtype, pd.BooleanDtype) and not s.isna().any():
            out[c] = s.astype(bool)  # a GeoPackage boolean; with NA it stays 0/1/null
    return out


def gap_polygons(gaps: pd.DataFrame, members: pd.DataFrame, grid: GridSpec,
                 crs: CRS) -> gpd.GeoDataFrame:
    """Gap areas with the union of their cells' squares as geometry.

    ``members`` is the cell -> area table (``target_id, rank, cell_id``: ``gap_cells``).
    """
    if members.empty:
        return gpd.GeoDataFrame(_gpkg_safe(gaps), geometry=gpd.GeoSeries([], crs=crs),
                                crs=crs)
    squares = gpd.GeoDataFrame(
        {"target_id": members["target_id"].to_numpy(), "rank": members["rank"].to_numpy()},
        geometry=grid.cell_polygons(members["cell_id"].to_numpy()), crs=crs)
    shapes = squares.dissolve(by=["target_id", "rank"], method="coverage")
    key = pd.MultiIndex.from_frame(gaps[["target_id", "rank"]].astype(
        {"target_id": object, "rank": "int64"}))
    geom = shapes.geometry.reindex(key).to_numpy()
    return gpd.GeoDataFrame(_gpkg_safe(gaps.reset_index(drop=True)), geometry=geom, crs=crs)


def _safe_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[^\w\-]", "_", name) or "level"
    cand, k = base, 1
    while cand.lower() in used:
        k += 1
        cand = f"{base}_{k}"
    used.add(cand.lower())
    return cand


def _grid_meta(grid: GridSpec, crs: CRS) -> dict[str, Any]:
    return {"cell_size_m": grid.cell_size_m, "n_rows": grid.n_rows, "n_cols": grid.n_cols,
            "x_min": grid.x_min, "y_max": grid.y_max, "crs": crs.to_string(),
            "origin": "top-left corner (x_min, y_max); cell_id = row * n_cols + col"}


def _history_meta(history_dir: str | Path | None, out: Path) -> dict[str, str] | None:
    """Where the run is recorded: the history folder, absolute and relative to ``out``."""
    if history_dir is None:
        return None
    folder = Path(history_dir).absolute()
    return {"folder": str(folder), "relative": os.path.relpath(folder, out)}


def _run_meta(result: RunResult, fmt: str,
              history: dict[str, str] | None = None) -> dict[str, Any]:
    partitions = getattr(result, "partitions", None)
    grid = result.population.spec
    return {
        "study_area": str(result.area.path),
        "study_area_sha256": (_sha256(Path(result.area.path))
                              if Path(result.area.path).is_file() else None),
        "name": result.area.name,
        "format": fmt,
        "crs": result.crs.to_string(),
        "crs_name": result.crs.name,
        "grid": {"cell_size_m": grid.cell_size_m, "n_rows": grid.n_rows,
                 "n_cols": grid.n_cols, "x_min": grid.x_min, "y_max": grid.y_max},
        "boundary_lonlat_wkt": result.boundary_lonlat.wkt,
        "networks": {m: {"nodes": n.n_nodes, "arcs": n.n_arcs, "source": n.source,
                         "sha256": n.source_sha256, **n.report}
                     for m, n in result.networks.items()},
        "walk_speed_kmh": result.area.travel.walk_speed_kmh,
        "k_nearest": int(getattr(result.area.travel, "k_nearest", 1)),
        "categories": result.categories,
        "population_notes": [{"zh": zh, "en": en} for zh, en in result.population.notes],
        "notes": [{"zh": zh, "en": en} for zh, en in result.notes],
        "timings_s": result.timings_s,
        **({"partitions": partitions.to_dict(orient="records")}
           if partitions is not None else {}),
        "rejects": len(result.rejects),
        "history": history,
    }


def _write_all(result: RunResult, folder: Path, fmt: str,
               history: dict[str, str] | None = None) -> tuple[dict[str, str],
                                                               dict[str, Any]]:
    """Write every file of ``result`` into ``folder``; name -> relative path, layout."""
    files: dict[str, str] = {}
    layout: dict[str, Any] = {"unit_polygons": {}, "unit_stats": {}}
    crs = result.crs
    grid = result.population.spec

    def done(name: str, rel: str) -> None:
        fsync_file(folder / rel)
        files[name] = rel
        _fault(f"after:{name}")

    cells = result.cells.drop(columns=list(INTERNAL_COLUMNS), errors="ignore")
    if fmt == "gpkg":
        geom = grid.cell_polygons(cells["cell_id"].to_numpy())
        gpd.GeoDataFrame(_gpkg_safe(cells), geometry=geom, crs=crs).to_file(
            folder / "cells.gpkg", layer="cells", driver="GPKG", engine="pyogrio")
        done("cells", "cells.gpkg")
    else:
        if "x" in cells.columns and "y" in cells.columns:
            x, y = cells["x"].to_numpy(), cells["y"].to_numpy()
        else:
            x, y = grid.cell_centres(cells["cell_id"].to_numpy())
        _write_geoparquet(cells, (x, y), crs, folder / "cells.parquet",
                          extra={"grid": _grid_meta(grid, crs),
                                 "geometry": "cell centre; polygons from the grid"})
        done("cells", "cells.parquet")

    fac = result.facilities.drop(columns=list(INTERNAL_COLUMNS), errors="ignore")
    if fmt == "gpkg":
        gpd.GeoDataFrame(_gpkg_safe(fac), geometry=fac.geometry, crs=crs).to_file(
            folder / "facilities.gpkg", layer="facilities", driver="GPKG", engine="pyogrio")
        done("facilities", "facilities.gpkg")
    else:
        _write_geoparquet(fac, np.asarray(fac.geometry.array), crs,
                          folder / "facilities.parquet")
        done("facilities", "facilities.parquet")

    used: set[str] = set()
    for level, poly in result.unit_polygons.items():
        safe = _safe_name(str(level), used)
        if fmt == "gpkg":
            gpd.GeoDataFrame(_gpkg_safe(poly), geometry=poly.geometry, crs=crs).to_file(
                folder / "unit_polygons.gpkg", layer=safe, driver="GPKG", engine="pyogrio")
            layout["unit_polygons"][str(level)] = safe
        else:
            rel = f"unit_polygons__{safe}.parquet"
            _write_geoparquet(poly, np.asarray(poly.geometry.array), crs, folder / rel)
            layout["unit_polygons"][str(level)] = rel
            done(f"unit_polygons__{safe}", rel)
    if fmt == "gpkg" and result.unit_polygons:
        done("unit_polygons", "unit_polygons.gpkg")
    used = set()
    for level, stats in result.units.items():
        rel = f"unit_stats__{_safe_name(str(level), used)}.parquet"
        pq.write_table(_arrow_table(stats), folder / rel, compression="zstd")
        layout["unit_stats"][str(level)] = rel
        done(rel[:-len(".parquet")], rel)

    if int(getattr(result.area.travel, "k_nearest", 1)) > 1:
        pq.write_table(_arrow_table(result.k_nearest), folder / "k_nearest.parquet",
                       compression="zstd")
        done("k_nearest", "k_nearest.parquet")

    tables: dict[str, pd.DataFrame] = {
        "rejects": result.rejects.to_frame(),
        "population_accounting": result.population.accounting,
        "completeness": result.completeness,
    }
    if result.targets is not None:
        tables |= {"targets": result.targets.targets, "units": result.targets.units,
                   "gaps": result.targets.gaps}
    for name in TABLES:
        if name not in tables:
            continue
        write_csv(tables[name], folder / f"{name}.csv")
        done(f"{name}.csv", f"{name}.csv")
        pq.write_table(_arrow_table(tables[name]), folder / f"{name}.parquet",
                       compression="zstd")
        done(name, f"{name}.parquet")
    if result.targets is not None:
        members = result.targets.gap_cells
        pq.write_table(_arrow_table(members), folder / "gap_cells.parquet",
                       compression="zstd")
        done("gap_cells", "gap_cells.parquet")
        if fmt == "gpkg":
            gap_polygons(result.targets.gaps, members, grid, crs).to_file(
                folder / "gaps.gpkg", layer="gap_areas", driver="GPKG", engine="pyogrio")
            done("gaps.gpkg", "gaps.gpkg")

    (folder / "run.json").write_text(
        json.dumps(_run_meta(result, fmt, history), ensure_ascii=False, indent=2, default=str),
        encoding="utf-8")
    done("run", "run.json")
    return files, layout


def _write_marker(folder: Path, files: dict[str, str], fmt: str,
                  layout: dict[str, Any]) -> None:
    marker = {
        "format_version": FORMAT_VERSION,
        "lifecircle_version": _lifecircle_version(),
        "fmt": fmt,
        "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "layout": layout,
        "files": {rel: {"bytes": (folder / rel).stat().st_size,
                        "sha256": _sha256(folder / rel)}
                  for rel in sorted(set(files.values()))},
    }
    path = _marker_path(folder)
    path.write_text(json.dumps(marker, ensure_ascii=False, indent=2), encoding="utf-8")
    fsync_file(path)
    _fsync_dir(folder)


def recover_stale(out_dir: str | Path) -> list[tuple[str, str]]:
    """Clean up after interrupted runs into ``out_dir``; hold :func:`output_lock` first.

    A folder still being written (``.<name>.writing-*``) is deleted: its run was
    interrupted (under the lock no other run writes there). A previous result renamed
    aside (``.<name>.old-*``) is moved back when ``out_dir`` is missing (the run stopped
    between the two renames of the swap), and deleted otherwise.

    Returns
    -------
    list of (zh, en)
        One message per thing found, for the user (also logged as warnings).
    """
    out = Path(out_dir).absolute()
    notes: list[tuple[str, str]] = []
    if not out.parent.is_dir():
        return notes
    for tmp in sorted(out.parent.glob(f".{out.name}.writing-*")):
        shutil.rmtree(tmp, ignore_errors=True)
        notes.append((f"上次运行在写出结果时中断，已清理未完成的临时目录 {tmp.name}；"
                      f"{out} 中之前的完整结果未受影响。",
                      f"An earlier run was interrupted while writing its results: removed "
                      f"its unfinished folder {tmp.name}; the previous complete result in "
                      f"{out} was left untouched."))
    for i, old in enumerate(_aside(out)):
        if i == 0 and not out.exists() and _marker_path(old).is_file():
            os.rename(old, out)
            notes.append((f"上次运行在替换结果时中断，已恢复之前的完整结果到 {out}。",
                          f"An earlier run was interrupted while replacing the results: "
                          f"restored the previous complete result to {out}."))
        else:
            shutil.rmtree(old, ignore_errors=True)
    for zh, en in notes:
        log.warning(Say(zh, en))
    return notes


def check_replaceable(out: str | Path) -> None:
    """Refuse an ``out`` a run may not replace: a file, or a folder of other files.

    Raises
    ------
    InputFileError
        ``out`` is a file, or a folder holding files that are not lifecircle results.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputFileError("is a file, not a folder; choose a folder for --out",
                             path=out, column="--out")
    if not out.is_dir() or _marker_path(out).is_file():
        return
    foreign = sorted(p.name for p in out.iterdir() if p.name not in _LEGACY_FILES)
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise InputFileError(
            f"holds files that are not lifecircle results ({shown}); a run replaces the "
            f"whole folder, so choose a new or empty folder for --out",
            path=out, column="--out")


def _swap(tmp: Path, out: Path, token: str) -> None:
    """Move the finished folder ``tmp`` to ``out``, replacing what was there."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{token}"
        os.rename(out, old)
        _fault("after:aside")
    os.rename(tmp, out)
    _fsync_dir(out.parent)
    _fault("after:swap")
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_run(result: RunResult, out_dir: str | Path, *,
              fmt: Fmt = "parquet",
              history_dir: str | Path | None = None) -> dict[str, Path]:
    """Write a run's results to the folder ``out_dir``, atomically.

    Everything is written into a temporary folder beside ``out_dir``, flushed to disk
    and listed with its sha256 in the completion marker ``_COMPLETE.json``; then the
    folder replaces ``out_dir`` as a whole. The folder's lock (:func:`output_lock`) is
    held meanwhile (callers should take it before the analysis). Whatever ``out_dir``
    held before is replaced: it must be an earlier run, or empty, or missing.

    Parameters
    ----------
    result
        A finished run.
    out_dir
        Output folder.
    fmt
        ``"parquet"`` (GeoParquet cells and facilities; default) or ``"gpkg"``
        (GeoPackages with cell polygons).
    history_dir
        The run history the caller records this run in: ``run.json`` names it
        (``history.folder``, and ``history.relative`` to the output folder), so
        ``lifecircle report --results DIR`` finds it. None: ``history`` is null.

    Returns
    -------
    dict
        Name -> path of every file written (the marker last).

    Raises
    ------
    OutputLockedError
        Another run is writing to ``out_dir``.
    InputFileError
        ``out_dir`` is a file, or a folder holding files that are not lifecircle results,
        or cannot be written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    out = Path(out_dir).absolute()
    with output_lock(out):
        recover_stale(out)
        check_replaceable(out)
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        tmp = out.parent / f".{out.name}.writing-{token}"
        try:
            tmp.mkdir()
        except OSError as exc:
            raise InputFileError(f"cannot write beside the output folder "
                                 f"({exc.strerror or exc}); choose a writable --out",
                                 path=out, column="--out") from exc
        try:
            files, layout = _write_all(result, tmp, fmt, _history_meta(history_dir, out))
            _fault("before:marker")
            _write_marker(tmp, files, fmt, layout)
            _fault("after:marker")
            _swap(tmp, out, token)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    paths = {name: out / rel for name, rel in files.items()}
    paths["marker"] = out / MARKER
    return paths


write_outputs = write_run
"""Former name of :func:`write_run`, kept for existing callers."""
