"""GeoTIFF persons-per-pixel rasters onto the analysis grid (windowed reads).

Only the window of each raster that covers the grid (plus one pixel) is read,
in blocks of rows, so memory stays bounded whatever the raster's size. Rasters
on the same pixel grid are summed block by block before resampling.

With a study area boundary, pixels are cut by it exactly before resampling:
pixels wholly inside are resampled as they are, pixels wholly outside count as
outside the study area, and a pixel the boundary crosses gives each cell the
persons of the part of the pixel inside both the cell and the study area
(persons × overlap area / pixel area). The total inside the study area is then
the exact overlay of pixels and boundary, whatever the cell size.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.features import rasterize
from rasterio.windows import Window
from scipy import ndimage
from tqdm.auto import tqdm

from access.crs import check_lonlat, resolve_crs
from access.errors import InputFileError
from access.i18n import Say, bar, say
from access.rejects import RejectLog
from gridded_pop._result import SourceResult
from gridded_pop.errors import NoOverlapError, PopulationUnitsError
from gridded_pop.grid import GridSpec
from gridded_pop.overlay import feature_cell_areas
from gridded_pop.resample import (
    auto_supersample,
    quad_areas,
    resample_exact,
    resample_supersample,
)
from gridded_pop.sources import UNITS, RasterSource

__all__ = ["MAX_PERSONS_PER_M2", "load_raster_source"]

log = logging.getLogger(__name__)

#: No place on Earth houses more people than this per m² of ground averaged over
#: a pixel; a higher value means the units are wrong (a density read as counts).
MAX_PERSONS_PER_M2 = 3.0

#: Pixels per block read at once (float64 working arrays stay near 8 MB each).
BLOCK_PIXELS = 1 << 20

#: GDAL block cache while reading rasters, in MB.
GDAL_CACHE_MB = 64

#: Pixel corners are projected exactly about every this many metres, the rest
#: interpolated (error about 1 cm at 1 km spacing).
CORNER_SPACING_M = 1000.0


@dataclass
class _Invalid:
    count: int = 0
    first: tuple[int, int] | None = None
    min_value: float = math.inf
    kinds: set[str] = field(default_factory=set)


def _file_crs(ds: rasterio.DatasetReader) -> CRS | None:
    return None if ds.crs is None else CRS.from_wkt(ds.crs.to_wkt())


def _window(ds: rasterio.DatasetReader, crs: CRS, spec: GridSpec, path: Path) -> Window:
    """Pixels of ``ds`` covering the grid, with one pixel of margin."""
    tr = Transformer.from_crs(spec.crs, crs, always_xy=True)
    left, bottom, right, top = tr.transform_bounds(*spec.bounds, densify_pts=21)
    if crs.is_geographic:
        b = ds.bounds
        check_lonlat(np.array([b.left, b.right]), np.array([b.bottom, b.top]), path=path)
    inv = ~ds.transform
    cols, rows = [], []
    for x, y in ((left, bottom), (left, top), (right, bottom), (right, top)):
        c, r = inv @ (x, y)
        cols.append(c)
        rows.append(r)
    if not all(math.isfinite(v) for v in cols + rows):
        raise NoOverlapError("the raster does not overlap the study area", path=path)
    c0 = max(0, math.floor(min(cols)) - 1)
    c1 = min(ds.width, math.ceil(max(cols)) + 1)
    r0 = max(0, math.floor(min(rows)) - 1)
    r1 = min(ds.height, math.ceil(max(rows)) + 1)
    if c1 <= c0 or r1 <= r0:
        raise NoOverlapError(
            f"the raster (bounds {tuple(round(v, 4) for v in ds.bounds)} in "
            f"{crs.to_string()}) does not overlap the study area", path=path)
    return Window(c0, r0, c1 - c0, r1 - r0)


def _blocks(window: Window) -> Iterator[Window]:
    n = max(1, BLOCK_PIXELS // max(1, int(window.width)))
    for r in range(int(window.row_off), int(window.row_off + window.height), n):
        h = min(n, int(window.row_off + window.height) - r)
        yield Window(int(window.col_off), r, int(window.width), h)


def _corners(transform: Affine, block: Window, tr: Transformer | None, *,
             step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Pixel corner coordinates of ``block`` in the grid's CRS.

    With a reprojection, only every ``step``-th corner is projected exactly and the
    others are interpolated bilinearly; over ``step`` pixels (a few hundred metres
    to a few km) a map projection is linear to well under a millimetre.
    """
    n_r, n_c = int(block.height), int(block.width)

    def lattice(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cc, rr = np.meshgrid(cols + block.col_off, rows + block.row_off)
        x = transform.a * cc + transform.b * rr + transform.c
        y = transform.d * cc + transform.e * rr + transform.f
        if tr is None:
            return x, y
        px, py = tr.transform(x, y)
        return np.asarray(px, float), np.asarray(py, float)

    rows = np.arange(n_r + 1, dtype=float)
    cols = np.arange(n_c + 1, dtype=float)
    if tr is None or step <= 1 or (n_r <= step and n_c <= step):
        return lattice(rows, cols)
    rs = np.union1d(np.arange(0, n_r + 1, step), [n_r]).astype(float)
    cs = np.union1d(np.arange(0, n_c + 1, step), [n_c]).astype(float)
    px, py = lattice(rs, cs)

    def interp(knots: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j = np.clip(np.searchsorted(knots, at, side="right") - 1, 0, max(0, knots.size - 2))
        if knots.size == 1:
            return j, np.zeros_like(at)
        return j, (at - knots[j]) / (knots[j + 1] - knots[j])

    jc, tc = interp(cs, cols)
    jr, tw = interp(rs, rows)
    out = []
    for a in (px, py):
        if cs.size > 1:
            a = a[:, jc] * (1 - tc) + a[:, jc + 1] * tc
        if rs.size > 1:
            a = a[jr, :] * (1 - tw)[:, None] + a[jr + 1, :] * tw[:, None]
        out.append(a)
    return out[0], out[1]


def _read_valid(ds: rasterio.DatasetReader, band: int, block: Window, stated_nodata: float | None,
                invalid: _Invalid) -> np.ndarray:
    """Read one block; no-data -> 0, invalid values -> 0 and counted."""
    arr = ds.read(band, window=block, out_dtype="float64")
    nodata = ds.read_masks(band, window=block) == 0
    if stated_nodata is not None:
        nodata |= arr == stated_nodata if math.isfinite(stated_nodata) else np.isnan(arr)
    bad_nan = ~nodata & ~np.isfinite(arr)
    with np.errstate(invalid="ignore"):
        bad_neg = ~nodata & (arr < 0)
    bad = bad_nan | bad_neg
    if bad.any():
        invalid.count += int(bad.sum())
        if bad_nan.any():
            invalid.kinds.add("NaN/inf")
        if bad_neg.any():
            invalid.kinds.add("negative")
            invalid.min_value = min(invalid.min_value, float(arr[bad_neg].min()))
        if invalid.first is None:
            r, c = np.argwhere(bad)[0]
            invalid.first = (int(block.row_off + r) + 1, int(block.col_off + c) + 1)
    arr[nodata | bad] = 0.0
    return arr


def load_raster_source(source: RasterSource, spec: GridSpec, *, rejects: RejectLog,
                       boundary: shapely.Geometry | None = None,
                       progress: bool = False) -> SourceResult:
    """Read the rasters of ``source`` and resample their sum onto ``spec``.

    Parameters
    ----------
    source
        The parsed ``[[population]]`` table.
    spec
        The analysis grid.
    rejects
        Receives one row per file and problem (invalid pixels), with the count.
    boundary
        Study area polygon in ``spec.crs``: pixels are cut by it exactly before
        resampling (a ``clipped`` result). None: every person on the grid is kept.
    progress
        Show a progress bar over row blocks.

    Returns
    -------
    SourceResult
        Persons on the grid (clipped to ``boundary`` when given) and the
        accounting of the window read.

    Raises
    ------
    NoCrsError, CrsMismatchError
        A file records no CRS and none is stated, or they disagree.
    NoOverlapError
        A raster does not overlap the grid.
    PopulationUnitsError
        Values impossible for the stated units.
    InputFileError
        A file cannot be read as a raster, or lacks the band.
    """
    unit_factor = UNITS[source.units]
    groups: dict[tuple, list[Path]] = {}
    meta: dict[Path, tuple[CRS, Affine, int, int]] = {}
    for path in source.paths:
        try:
            with rasterio.open(path) as ds:
                if source.band > ds.count:
                    raise InputFileError(f"the raster has {ds.count} band(s), band "
                                         f"{source.band} was asked for", path=path,
                                         column="band")
                crs = resolve_crs(_file_crs(ds), source.crs, path=path, param="crs")
                unit_text = (ds.units or ("",))[source.band - 1] or ""
                _check_unit_text(unit_text, source.units, path)
                meta[path] = (crs, ds.transform, ds.width, ds.height)
        except rasterio.errors.RasterioIOError as exc:
            raise InputFileError(f"cannot read the file as a raster ({exc})", path=path) from exc
        key = (meta[path][0].to_wkt(), tuple(meta[path][1]), meta[path][2], meta[path][3])
        groups.setdefault(key, []).append(path)

    grid = np.zeros(spec.shape)
    total_in = 0.0
    outside = 0.0
    rejected_rows = 0
    notes: list[tuple[str, str]] = []
    for paths in groups.values():
        crs, transform, _, _ = meta[paths[0]]
        # a small block cache: each block is read once, and GDAL's default cache (5 % of
        # RAM) would only inflate memory
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
            g, p_in, n_bad, note = _load_group(paths, crs, transform, source, spec,
                                               unit_factor, rejects=rejects,
                                               boundary=boundary, progress=progress)
        grid += g
        total_in += p_in
        outside += p_in - float(g.sum())
        rejected_rows += n_bad
        notes.extend(note)
    return SourceResult(grid, total_in, outside=outside, rejected_rows=rejected_rows,
                        clipped=boundary is not None, notes=notes)


def _check_unit_text(text: str, units: str, path: Path) -> None:
    """Compare the band's own unit label (if any) with the stated units."""
    t = text.lower().replace(" ", "")
    if not t:
        return
    says_density = any(s in t for s in ("km2", "km²", "/km", "perkm", "perha", "/ha",
                                         "density", "m2", "m²"))
    if says_density and units == "persons":
        raise PopulationUnitsError(
            f"the band's unit is '{text}', a density, but the source is read as persons per "
            "pixel; set units = \"persons_per_km2\" (or the matching density)",
            path=path, column="units")
    if not says_density and units != "persons" and any(s in t for s in ("person", "people",
                                                                         "pop", "人")):
        raise PopulationUnitsError(
            f"the band's unit is '{text}', a count per pixel, but units = \"{units}\" was "
            "stated; remove 'units' or set it to \"persons\"", path=path, column="units")


def _load_group(paths: list[Path], crs: CRS, transform: Affine, source: RasterSource,
                spec: GridSpec, unit_factor: float | None, *, rejects: RejectLog,
                boundary: shapely.Geometry | None,
                progress: bool) -> tuple[np.ndarray, float, int, list[tuple[str, str]]]:
    """Resample the sum of rasters sharing one pixel grid."""
    datasets = [rasterio.open(p) for p in paths]
    b_src = None if boundary is None else _boundary_in(boundary, spec, crs)
    try:
        window = _window(datasets[0], crs, spec, paths[0])
        same = crs.equals(spec.crs) and transform.b == 0 and transform.d == 0
        exact = same and source.supersample is None
        tr = None if crs.equals(spec.crs) else Transformer.from_crs(crs, spec.crs,
                                                                    always_xy=True)
        if not crs.equals(spec.crs):
            log.info(say("log_reprojecting", what=", ".join(p.name for p in paths),
                         src=crs.to_string(), dst=spec.crs.to_string()))
        k = source.supersample
        step = 1
        if not exact:
            mid = Window(int(window.col_off + window.width // 2),
                         int(window.row_off + window.height // 2), 1, 1)
            mid_x, mid_y = _corners(transform, mid, tr)
            side_m = math.sqrt(float(quad_areas(mid_x, mid_y)[0, 0]))
            if k is None:
                k = auto_supersample(side_m, spec.cell_size_m)
            if side_m > 0:
                step = max(1, int(CORNER_SPACING_M // side_m))
        invalid = {p: _Invalid() for p in paths}
        out = np.zeros(spec.shape)
        total = 0.0
        blocks = list(_blocks(window))
        for block in tqdm(blocks, disable=not progress, desc=bar("bar_raster"),
                          unit=bar("unit_block")):
            block_tr = transform @ Affine.translation(block.col_off, block.row_off)
            cx: np.ndarray | None
            cy: np.ndarray | None
            if exact:
                cx = cy = None
                area_m2 = np.full((int(block.height), int(block.width)),
                                  abs(transform.a * transform.e))
            else:
                cx, cy = _corners(transform, block, tr, step=step)
                area_m2 = quad_areas(cx, cy)
            values = np.zeros((int(block.height), int(block.width)))
            for p, ds in zip(paths, datasets, strict=True):
                v = _read_valid(ds, source.band, block, source.nodata, invalid[p])
                if unit_factor is not None:
                    v = v * area_m2 * unit_factor
                _check_density(v, area_m2, block, p, source.units)
                values += v
            total += float(values.sum())
            if boundary is not None:
                if cx is None or cy is None:
                    cx, cy = _corners(transform, block, None)
                out += _cut_by_boundary(values, block_tr, cx, cy, b_src, boundary, spec)
            if exact:
                out += resample_exact(values, block_tr, spec)
            else:
                # corners of every block are computed when not exact
                assert cx is not None
                assert cy is not None
                out += resample_supersample(values, cx, cy, spec, k=int(k or 1))
    finally:
        for ds in datasets:
            ds.close()
    n_bad = 0
    for p, inv in invalid.items():
        if inv.count:
            n_bad += inv.count
            assert inv.first is not None
            low = f", lowest {inv.min_value:g}" if math.isfinite(inv.min_value) else ""
            low_zh = f"，最小 {inv.min_value:g}" if math.isfinite(inv.min_value) else ""
            kinds_zh = "、".join({"NaN/inf": "非数值", "negative": "负值"}[k]
                                for k in sorted(inv.kinds))
            detail = (f"{inv.count} pixel(s) with {' and '.join(sorted(inv.kinds))} values{low}; "
                      f"first at pixel row {inv.first[0]}, column {inv.first[1]}; "
                      "set 'nodata' if they mark missing data")
            detail_zh = (f"{inv.count} 个像元为{kinds_zh}{low_zh}；首个位于第 {inv.first[0]} 行、"
                         f"第 {inv.first[1]} 列；如表示无数据，请设置 nodata")
            rejects.add(p.name, inv.first[0], "invalid_value", (detail_zh, detail),
                        kind="population")
            log.warning(say("log_file_detail", file=p, detail=Say(detail_zh, detail)))
    method = "exact overlap" if exact else f"{k}x{k} sub-pixel sampling"
    notes = [(f"{'+'.join(p.name for p in paths)}：按面积守恒重采样到分析网格"
              f"（{'精确重叠面积' if exact else f'{k}×{k}子像元采样'}）",
              f"{'+'.join(p.name for p in paths)}: resampled to the analysis grid preserving "
              f"totals ({method})")]
    return out, total, n_bad, notes


def _boundary_in(boundary: shapely.Geometry, spec: GridSpec, crs: CRS) -> shapely.Geometry:
    """The boundary in the raster's CRS, densified so that its edges stay true."""
    if crs.equals(spec.crs):
        return boundary
    tr = Transformer.from_crs(spec.crs, crs, always_xy=True)
    dense = shapely.segmentize(boundary, max(1.0, spec.cell_size_m / 10))
    return shapely.transform(dense, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def _cut_by_boundary(values: np.ndarray, block_tr: Affine, cx: np.ndarray, cy: np.ndarray,
                     b_src: shapely.Geometry, boundary: shapely.Geometry,
                     spec: GridSpec) -> np.ndarray:
    """Cut one block of pixels by the study area (in place) and place the edge pixels.

    Pixels wholly outside are set to 0; pixels the boundary crosses are set to 0
    and their persons inside the boundary returned, split among cells by exact
    overlap. Pixels wholly inside stay for the ordinary resampling.
    """
    shape = values.shape
    # one pixel of margin: a pixel next to no touched pixel lies wholly inside or outside
    # (rasterised with a frame of one pixel, so blocks agree with a single read)
    edge = rasterize([shapely.boundary(b_src)], out_shape=(shape[0] + 2, shape[1] + 2),
                     transform=block_tr @ Affine.translation(-1, -1), all_touched=True,
                     fill=0, default_value=1, dtype="uint8").astype(bool)
    edge = ndimage.binary_dilation(edge, structure=np.ones((3, 3), bool))[1:-1, 1:-1]
    inside = rasterize([b_src], out_shape=shape, transform=block_tr, all_touched=False,
                       fill=0, default_value=1, dtype="uint8").astype(bool)
    out = np.zeros(spec.n_cells)
    r, c = np.nonzero(edge & (values > 0))
    if r.size:
        ring = np.stack([np.stack([cx[r, c], cy[r, c]], -1),
                         np.stack([cx[r, c + 1], cy[r, c + 1]], -1),
                         np.stack([cx[r + 1, c + 1], cy[r + 1, c + 1]], -1),
                         np.stack([cx[r + 1, c], cy[r + 1, c]], -1),
                         np.stack([cx[r, c], cy[r, c]], -1)], axis=1)
        quads = shapely.polygons(ring)
        q_area = shapely.area(quads)
        pieces = shapely.intersection(quads, boundary)
        f, cell, a = feature_cell_areas(pieces, spec)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(q_area[f] > 0, values[r[f], c[f]] * a / q_area[f], 0.0)
        out += np.bincount(cell, weights=w, minlength=spec.n_cells)
    values[edge | ~inside] = 0.0
    return out.reshape(spec.shape)


def _check_density(values: np.ndarray, area_m2: np.ndarray, block: Window, path: Path,
                   units: str) -> None:
    with np.errstate(divide="ignore", invalid="ignore"):
        dens = np.where(area_m2 > 0, values / area_m2, 0.0)
    if dens.size and float(dens.max()) > MAX_PERSONS_PER_M2:
        r, c = np.unravel_index(int(np.argmax(dens)), dens.shape)
        hint = ("a density raster: set units = \"persons_per_km2\" (or the matching density)"
                if units == "persons" else "check 'units'")
        raise PopulationUnitsError(
            f"pixel value means {float(dens[r, c]):.1f} persons per m² under units = "
            f"\"{units}\", more than anywhere on Earth; this looks like {hint}",
            path=path, row=int(block.row_off + r) + 1, column=f"band pixel column "
            f"{int(block.col_off + c) + 1}")
