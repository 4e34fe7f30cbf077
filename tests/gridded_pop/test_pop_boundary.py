"""Persons inside an irregular study area equal the exact overlay at any cell size.

Sources are cut by the boundary before they are spread onto the grid, so the
total inside does not depend on the cell size: vector polygons, a raster in the
grid's CRS and a lon/lat raster, each against shapely intersection areas.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS, Transformer

from access.rejects import RejectLog
from gridded_pop import GridSpec, RasterSource, VectorSource, build_population
from tests.gridded_pop.conftest import write_raster

UTM = CRS.from_epsg(32650)
X0, Y0 = 500_000.0, 3_850_000.0  # Zhengzhou, UTM 50N
CELL_SIZES = (50.0, 100.0, 250.0)


def irregular_boundary() -> shapely.Geometry:
    """A concave 13-sided study area with a hole, no edge on the grid's axes."""
    rng = np.random.default_rng(11)
    k = 13
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    rad = rng.uniform(700, 1400, k)
    outer = np.column_stack([X0 + 1500 + rad * np.cos(ang), Y0 + 1500 + rad * np.sin(ang)])
    hole = shapely.Point(X0 + 1530, Y0 + 1470).buffer(180, quad_segs=5)
    return shapely.make_valid(shapely.Polygon(outer).difference(hole))


def exact_overlay(geoms: np.ndarray, persons: np.ndarray, boundary: shapely.Geometry) -> float:
    """Persons × (area inside the boundary / area) summed over the features."""
    inside = shapely.area(shapely.intersection(geoms, boundary))
    return float((persons * inside / shapely.area(geoms)).sum())


def build_total(src, boundary: shapely.Geometry, cell_size_m: float) -> tuple[float, object]:
    spec = GridSpec.from_bounds(shapely.bounds(boundary), cell_size_m, UTM)
    pg = build_population([src], spec, boundary=boundary, rejects=RejectLog())
    acc = pg.accounting.iloc[0]
    assert acc.population_in == pytest.approx(acc.on_grid + acc.outside_area + acc.rejected,
                                              rel=1e-9)
    return pg.total(), pg


def test_vector_polygons_exact_at_every_cell_size(tmp_path: Path) -> None:
    boundary = irregular_boundary()
    rng = np.random.default_rng(3)
    # a census grid of 230 m squares, rotated 17°, and some irregular blocks
    xs, ys = np.meshgrid(np.arange(-2, 16) * 230.0, np.arange(-2, 16) * 230.0)
    squares = shapely.box(X0 + xs.ravel(), Y0 + ys.ravel(), X0 + xs.ravel() + 230,
                          Y0 + ys.ravel() + 230)
    squares = np.array([shapely.affinity.rotate(g, 17, origin=(X0 + 1500, Y0 + 1500))
                        for g in squares], dtype=object)
    blobs = np.array([shapely.Point(X0 + x, Y0 + y).buffer(r, quad_segs=3) for x, y, r in
                      rng.uniform([0, 0, 60], [3000, 3000, 300], size=(25, 3))], dtype=object)
    geoms = np.concatenate([squares, blobs])
    persons = rng.uniform(0, 2000, len(geoms)).round()
    path = tmp_path / "census_blocks.gpkg"
    gpd.GeoDataFrame({"pop": persons}, geometry=list(geoms), crs=UTM).to_file(path)
    src = VectorSource(group="total", label=path.name, path=path, value_column="pop")
    expected = exact_overlay(geoms, persons, boundary)
    for cs in CELL_SIZES:
        total, pg = build_total(src, boundary, cs)
        assert total == pytest.approx(expected, rel=1e-3), cs
        assert total == pytest.approx(expected, rel=1e-9), cs
        # no person in a cell that does not touch the study area
        assert pg.groups["total"][pg.area_in_m2 <= 0].sum() == 0.0


def test_raster_in_grid_crs_exact_at_every_cell_size(tmp_path: Path) -> None:
    boundary = irregular_boundary()
    rng = np.random.default_rng(5)
    side = 90.0
    n = 40
    x_left, y_top = X0 - 137.0, Y0 + 3300.0 - 41.0  # pixels aligned to no cell size
    values = rng.uniform(0, 60, (n, n)).round(1)
    path = write_raster(tmp_path / "pop.tif", values,
                        Affine(side, 0, x_left, 0, -side, y_top), UTM)
    src = RasterSource(group="total", label=path.name, paths=(path,))
    r, c = np.mgrid[0:n, 0:n]
    pixels = shapely.box(x_left + c.ravel() * side, y_top - (r.ravel() + 1) * side,
                         x_left + (c.ravel() + 1) * side, y_top - r.ravel() * side)
    expected = exact_overlay(pixels, values.ravel(), boundary)
    for cs in CELL_SIZES:
        total, pg = build_total(src, boundary, cs)
        assert total == pytest.approx(expected, rel=1e-3), cs
        assert total == pytest.approx(expected, rel=1e-9), cs
        assert pg.groups["total"][pg.area_in_m2 <= 0].sum() == 0.0


def test_lonlat_raster_exact_at_every_cell_size(tmp_path: Path) -> None:
    boundary = irregular_boundary()
    rng = np.random.default_rng(8)
    to_ll = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    lon0, lat1 = to_ll.transform(X0 - 150, Y0 + 3150)
    step = 1 / 1200  # 3 arc-seconds, ~76 x 93 m here
    n = 44
    values = rng.uniform(0, 60, (n, n)).round(1)
    path = write_raster(tmp_path / "pop_ll.tif", values,
                        Affine(step, 0, lon0, 0, -step, lat1), "EPSG:4326")
    src = RasterSource(group="total", label=path.name, paths=(path,))
    r, c = np.mgrid[0:n, 0:n]
    pixels_ll = shapely.box(lon0 + c.ravel() * step, lat1 - (r.ravel() + 1) * step,
                            lon0 + (c.ravel() + 1) * step, lat1 - r.ravel() * step)
    pixels = gpd.GeoSeries(shapely.segmentize(pixels_ll, step / 8),
                           crs="EPSG:4326").to_crs(UTM).to_numpy()
    expected = exact_overlay(pixels, values.ravel(), boundary)
    for cs in CELL_SIZES:
        total, _ = build_total(src, boundary, cs)
        assert total == pytest.approx(expected, rel=1e-3), cs
        assert total == pytest.approx(expected, rel=1e-5), cs
