"""GeoTIFF sources: windowed reads, CRS handling, nodata and bad values, conservation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS

import gridded_pop.raster as raster_mod
from access.crs import lonlat_to_metric
from access.errors import CrsMismatchError, InputFileError, NoCrsError
from access.rejects import RejectLog
from gridded_pop import (
    GridSpec,
    NoOverlapError,
    PopulationUnitsError,
    RasterSource,
    build_population,
)

UTM = CRS.from_epsg(32650)
SPEC_3X3 = GridSpec(crs=UTM, x_min=0.0, y_max=300.0, cell_size_m=100.0, n_rows=3, n_cols=3)
BOX_3X3 = shapely.box(0, 0, 300, 300)
T_2X2 = Affine(100.0, 0.0, 50.0, 0.0, -100.0, 250.0)
EXPECTED_3X3 = np.array([[0.25, 0.75, 0.5], [1.0, 2.5, 1.5], [0.75, 1.75, 1.0]])


def _src(*paths: Path, **kw: object) -> RasterSource:
    kw.setdefault("group", "total")
    return RasterSource(label="+".join(p.name for p in paths), paths=tuple(paths), **kw)


def _build(sources: list, spec: GridSpec = SPEC_3X3, boundary: shapely.Geometry = BOX_3X3,
           rejects: RejectLog | None = None):
    return build_population(sources, spec, boundary=boundary,
                            rejects=rejects if rejects is not None else RejectLog())


def _conserved(pg) -> None:
    acc = pg.accounting
    gap = acc.population_in - (acc.on_grid + acc.outside_area + acc.rejected)
    assert (gap.abs() <= 1e-6 * acc.population_in.abs().clip(lower=1)).all()


def test_2x2_geotiff_half_cell_offset(raster_writer) -> None:
    p = raster_writer("two.tif", np.array([[1, 2], [3, 4]], np.float32), T_2X2, UTM)
    pg = _build([_src(p)])
    np.testing.assert_allclose(pg.groups["total"], EXPECTED_3X3, atol=1e-9)
    assert pg.accounting.population_in.iloc[0] == pytest.approx(10.0)
    assert pg.accounting.outside_area.iloc[0] == pytest.approx(0.0, abs=1e-9)
    _conserved(pg)


def test_2x2_geotiff_forced_supersampling(raster_writer) -> None:
    p = raster_writer("two.tif", np.array([[1, 2], [3, 4]], np.float32), T_2X2, UTM)
    pg = _build([_src(p, supersample=2)])
    np.testing.assert_allclose(pg.groups["total"], EXPECTED_3X3, atol=1e-9)


def test_boundary_clip_moves_persons_outside(raster_writer) -> None:
    p = raster_writer("two.tif", np.array([[1, 2], [3, 4]], np.float32), T_2X2, UTM)
    half = shapely.box(0, 0, 150, 300)  # column 0 whole, column 1 half
    pg = _build([_src(p)], boundary=half)
    # pixels are cut by the boundary before resampling: pixel column 0 (x 50-150) lies
    # wholly inside and fills cell columns 0 and 1; pixel column 1 lies wholly outside
    expected = np.array([[0.25, 0.25, 0.0], [1.0, 1.0, 0.0], [0.75, 0.75, 0.0]])
    np.testing.assert_allclose(pg.groups["total"], expected, atol=1e-9)
    assert pg.total() == pytest.approx(1 + 3)
    assert pg.accounting.outside_area.iloc[0] == pytest.approx(10 - expected.sum())
    assert pg.in_area[:, 0].all()
    assert not pg.in_area[:, 1:].any()  # centre of column 1 lies on the boundary's outside
    np.testing.assert_allclose(pg.area_in_m2[:, 1], 5000.0)
    _conserved(pg)


def test_geographic_raster_onto_utm_conserves(raster_writer) -> None:
    rng = np.random.default_rng(7)
    values = rng.gamma(2.0, 5.0, (40, 50)).astype(np.float32)
    t = Affine(0.000833333, 0, 114.2, 0, -0.000833333, 30.62)
    p = raster_writer("geo.tif", values, t, "EPSG:4326")
    x, y = lonlat_to_metric(np.array([114.21, 114.23, 114.22]),
                            np.array([30.60, 30.60, 30.615]), UTM)
    boundary = shapely.Polygon(list(zip(x, y, strict=True)))
    spec = GridSpec.from_bounds(boundary.bounds, 100.0, UTM)
    pg = _build([_src(p)], spec=spec, boundary=boundary)
    acc = pg.accounting.iloc[0]
    assert acc.population_in <= values.sum(dtype=np.float64) + 1e-3
    assert acc.on_grid > 0
    assert acc.outside_area > 0
    _conserved(pg)
    assert pg.groups["total"].sum() == pytest.approx(acc.on_grid)


def test_cgcs2000_raster_equals_wgs84(raster_writer) -> None:
    values = np.arange(1, 13, dtype=np.float32).reshape(3, 4)
    t = Affine(0.001, 0, 114.3, 0, -0.001, 30.6)
    p1 = raster_writer("w.tif", values, t, "EPSG:4326")
    p2 = raster_writer("c.tif", values, t, "EPSG:4490")
    x, y = lonlat_to_metric(np.array([114.29, 114.31]), np.array([30.59, 30.61]), UTM)
    box = shapely.box(x[0], y[0], x[1], y[1])
    spec = GridSpec.from_bounds(box.bounds, 100.0, UTM)
    a = _build([_src(p1)], spec=spec, boundary=box)
    b = _build([_src(p2)], spec=spec, boundary=box)
    assert a.total() == pytest.approx(values.sum())
    np.testing.assert_allclose(a.groups["total"], b.groups["total"], atol=1e-6)


def test_no_crs_is_an_error_unless_stated(raster_writer) -> None:
    p = raster_writer("nocrs.tif", np.ones((2, 2), np.float32), T_2X2, None)
    with pytest.raises(NoCrsError) as err:
        _build([_src(p)])
    assert type(err.value) is NoCrsError
    assert err.value.path == p
    pg = _build([_src(p, crs="EPSG:32650")])
    assert pg.total() == pytest.approx(4.0)


def test_stated_crs_contradicting_file(raster_writer) -> None:
    p = raster_writer("utm.tif", np.ones((2, 2), np.float32), T_2X2, UTM)
    with pytest.raises(CrsMismatchError) as err:
        _build([_src(p, crs="EPSG:4326")])
    assert type(err.value) is CrsMismatchError


def test_projected_values_labelled_geographic(raster_writer) -> None:
    p = raster_writer("bad.tif", np.ones((2, 2), np.float32),
                      Affine(100.0, 0, 500000.0, 0, -100.0, 3400000.0), None)
    with pytest.raises(CrsMismatchError) as err:
        _build([_src(p, crs="EPSG:4326")])
    assert type(err.value) is CrsMismatchError


def test_nodata_is_not_population(raster_writer) -> None:
    v = np.array([[1, -9999], [3, 4]], np.float32)
    p = raster_writer("nd.tif", v, T_2X2, UTM, nodata=-9999)
    rejects = RejectLog()
    pg = _build([_src(p)], rejects=rejects)
    assert pg.accounting.population_in.iloc[0] == pytest.approx(8.0)
    assert pg.total() == pytest.approx(8.0)
    assert len(rejects) == 0


def test_stated_nodata_for_file_without_one(raster_writer) -> None:
    v = np.array([[1, -9999], [3, 4]], np.float32)
    p = raster_writer("nd.tif", v, T_2X2, UTM)
    rejects = RejectLog()
    pg = _build([_src(p, nodata=-9999.0)], rejects=rejects)
    assert pg.total() == pytest.approx(8.0)
    assert len(rejects) == 0


def test_nan_nodata(raster_writer) -> None:
    v = np.array([[1, np.nan], [3, 4]], np.float32)
    p = raster_writer("nan_nd.tif", v, T_2X2, UTM, nodata=float("nan"))
    rejects = RejectLog()
    pg = _build([_src(p)], rejects=rejects)
    assert pg.total() == pytest.approx(8.0)
    assert len(rejects) == 0


def test_negative_and_nan_values_are_listed_rejects(raster_writer) -> None:
    v = np.array([[1, -5], [np.nan, 4]], np.float32)
    p = raster_writer("bad.tif", v, T_2X2, UTM)
    rejects = RejectLog()
    pg = _build([_src(p)], rejects=rejects)
    assert pg.total() == pytest.approx(5.0)
    acc = pg.accounting.iloc[0]
    assert acc.population_in == pytest.approx(5.0)
    assert acc.rejected_rows == 2
    frame = rejects.to_frame()
    assert list(frame.reason) == ["invalid_value"]
    assert frame.source.iloc[0] == "bad.tif"
    assert frame.row.iloc[0] == 1
    assert "2 pixel(s)" in frame.detail_en.iloc[0]
    assert "2 个像元" in frame.detail.iloc[0]
    assert "-5" in frame.detail.iloc[0]
    _conserved(pg)


def test_raster_outside_study_area(raster_writer) -> None:
    far = Affine(100.0, 0, 50_000.0, 0, -100.0, 60_000.0)
    p = raster_writer("far.tif", np.ones((2, 2), np.float32), far, UTM)
    with pytest.raises(NoOverlapError) as err:
        _build([_src(p)])
    assert type(err.value) is NoOverlapError
    assert err.value.path == p


def test_density_raster_read_as_counts_is_an_error(raster_writer) -> None:
    v = np.full((2, 2), 45_000.0, np.float32)  # persons per km², 100 m pixels
    p = raster_writer("dens.tif", v, T_2X2, UTM)
    with pytest.raises(PopulationUnitsError) as err:
        _build([_src(p)])
    assert type(err.value) is PopulationUnitsError
    assert err.value.row == 1
    pg = _build([_src(p, units="persons_per_km2")])
    assert pg.total() == pytest.approx(4 * 450.0)


def test_band_unit_label_contradicts_units(raster_writer) -> None:
    p = raster_writer("lab.tif", np.ones((2, 2), np.float32), T_2X2, UTM,
                      units="persons per km2")
    with pytest.raises(PopulationUnitsError) as err:
        _build([_src(p)])
    assert type(err.value) is PopulationUnitsError
    q = raster_writer("cnt.tif", np.ones((2, 2), np.float32), T_2X2, UTM, units="people")
    with pytest.raises(PopulationUnitsError) as err:
        _build([_src(q, units="persons_per_ha")])
    assert type(err.value) is PopulationUnitsError
    assert _build([_src(q)]).total() == pytest.approx(4.0)


def test_several_rasters_are_summed(raster_writer) -> None:
    a = raster_writer("a.tif", np.ones((2, 2), np.float32), T_2X2, UTM)
    b = raster_writer("b.tif", np.full((2, 2), 2.0, np.float32), T_2X2, UTM)
    # a third on a different pixel grid
    c = raster_writer("c.tif", np.full((1, 1), 8.0, np.float32),
                      Affine(300.0, 0, 0, 0, -300.0, 300.0), UTM)
    pg = _build([_src(a, b, c, group="age_60_plus")])
    assert pg.total("age_60_plus") == pytest.approx(20.0)
    assert pg.total() == 0.0
    assert any("total" in en for _, en in pg.notes)
    assert len(pg.accounting) == 1
    _conserved(pg)


def test_blockwise_reading_matches_one_block(raster_writer, monkeypatch) -> None:
    rng = np.random.default_rng(3)
    v = rng.random((37, 23)).astype(np.float32)
    t = Affine(0.0009, 0, 114.3, 0, -0.0008, 30.6)
    p = raster_writer("blocks.tif", v, t, "EPSG:4326", tiled=False)
    x, y = lonlat_to_metric(np.array([114.305, 114.318]), np.array([30.575, 30.595]), UTM)
    box = shapely.box(x[0], y[0], x[1], y[1])
    spec = GridSpec.from_bounds(box.bounds, 100.0, UTM)
    one = _build([_src(p)], spec=spec, boundary=box)
    monkeypatch.setattr(raster_mod, "BLOCK_PIXELS", 50)
    many = _build([_src(p)], spec=spec, boundary=box)
    # pixels cut by the boundary use corners interpolated within each block, which
    # differ by micrometres between readings
    np.testing.assert_allclose(one.groups["total"], many.groups["total"], atol=1e-4)
    assert one.total() == pytest.approx(many.total(), rel=1e-6)
    # the window read is a part of the raster only
    assert one.accounting.population_in.iloc[0] < v.sum(dtype=np.float64)


def test_missing_band_and_unreadable_file(raster_writer, tmp_path: Path) -> None:
    p = raster_writer("one.tif", np.ones((2, 2), np.float32), T_2X2, UTM)
    with pytest.raises(InputFileError) as err:
        _build([_src(p, band=2)])
    assert type(err.value) is InputFileError
    assert err.value.column == "band"
    junk = tmp_path / "junk.tif"
    junk.write_text("not a raster")
    with pytest.raises(InputFileError) as err:
        _build([_src(junk)])
    assert type(err.value) is InputFileError


def test_shares_derive_groups(raster_writer) -> None:
    p = raster_writer("two.tif", np.array([[1, 2], [3, 4]], np.float32), T_2X2, UTM)
    pg = _build([_src(p, shares={"age_60_plus": 0.2, "age_3_5": 0.05})])
    np.testing.assert_allclose(pg.groups["age_60_plus"], 0.2 * EXPECTED_3X3, atol=1e-9)
    assert pg.total("age_3_5") == pytest.approx(0.5)
    assert list(pg.accounting.group) == ["total", "age_60_plus", "age_3_5"]
    assert pg.accounting.derived_from.iloc[1] == "0.2"
    assert any("20.00%" in en for _, en in pg.notes)
    assert any("20.00%" in zh for zh, _ in pg.notes)
    _conserved(pg)


def test_grid_in_feet_is_refused(raster_writer) -> None:
    feet = CRS.from_epsg(2227)
    spec = GridSpec(crs=feet, x_min=0.0, y_max=300.0, cell_size_m=100.0, n_rows=3, n_cols=3)
    with pytest.raises(CrsMismatchError) as err:
        _build([], spec=spec)
    assert type(err.value) is CrsMismatchError


def test_boundary_must_fit_the_grid() -> None:
    with pytest.raises(ValueError, match="beyond"):
        _build([], boundary=shapely.box(0, 0, 400, 300))
    with pytest.raises(ValueError, match="empty"):
        _build([], boundary=shapely.Polygon())


def test_interpolated_corners_match_projected_ones() -> None:
    from pyproj import Transformer
    from rasterio.windows import Window

    from gridded_pop.raster import _corners

    t = Affine(0.0001, 0, 114.0, 0, -0.0001, 30.9)  # 10 m pixels
    tr = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    block = Window(37, 1000, 1001, 203)
    x1, y1 = _corners(t, block, tr, step=100)  # exact every 1 km
    x0, y0 = _corners(t, block, tr, step=1)
    assert x1.shape == (204, 1002)
    assert np.abs(x1 - x0).max() < 0.05
    assert np.abs(y1 - y0).max() < 0.05


def test_progress_bars_do_not_change_results(raster_writer, capsys) -> None:
    p = raster_writer("two.tif", np.array([[1, 2], [3, 4]], np.float32), T_2X2, UTM)
    pg = build_population([_src(p)], SPEC_3X3, boundary=BOX_3X3, rejects=RejectLog(),
                          progress=True)
    np.testing.assert_allclose(pg.groups["total"], EXPECTED_3X3, atol=1e-9)
    assert capsys.readouterr().out == ""
