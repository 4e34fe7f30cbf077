"""PopulationGrid: cells table, aggregation to units, groups summed across sources."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from access.crs import to_metric
from access.errors import InputFileError, NoCrsError
from access.rejects import RejectLog
from gridded_pop import GROUPS, GridSpec, RasterSource, build_population

UTM = CRS.from_epsg(32650)
SPEC = GridSpec(crs=UTM, x_min=0.0, y_max=300.0, cell_size_m=100.0, n_rows=3, n_cols=3)
BOUNDARY = shapely.box(0, 0, 300, 250)  # top row half inside


@pytest.fixture
def grid(raster_writer):
    v = np.arange(1.0, 10.0, dtype=np.float32).reshape(3, 3)
    t = Affine(100.0, 0, 0, 0, -100.0, 300.0)
    a = raster_writer("tot.tif", v, t, UTM)
    b = raster_writer("old1.tif", np.ones((3, 3), np.float32), t, UTM)
    c = raster_writer("old2.tif", np.full((3, 3), 0.5, np.float32), t, UTM)
    sources = [RasterSource(group="total", label="tot", paths=(a,)),
               RasterSource(group="age_60_plus", label="old1", paths=(b,)),
               RasterSource(group="age_60_plus", label="old2", paths=(c,))]
    return build_population(sources, SPEC, boundary=BOUNDARY, rejects=RejectLog())


def test_groups_keys_and_names() -> None:
    assert {"total", "age_60_plus", "age_0_2", "age_3_5"} <= set(GROUPS)
    for zh, en in GROUPS.values():
        assert zh
        assert en.isascii()


def test_groups_summed_across_sources(grid) -> None:
    expected = np.full((3, 3), 1.5)
    expected[0] *= 0.5
    np.testing.assert_allclose(grid.groups["age_60_plus"], expected)
    assert list(grid.accounting.source) == ["tot", "old1", "old2"]
    assert grid.residential_m2 is None
    np.testing.assert_allclose(grid.area_in_m2.sum(), BOUNDARY.area)


def test_cells_frame(grid) -> None:
    frame = grid.cells_frame()
    assert list(frame.columns) == ["cell_id", "row", "col", "x", "y", "in_area", "area_in_m2",
                                   "pop_total", "pop_age_60_plus"]
    assert len(frame) == 9
    first = frame.iloc[0]
    assert (first.cell_id, first.row, first.col, first.x, first.y) == (0, 0, 0, 50.0, 250.0)
    assert first.pop_total == pytest.approx(0.5)
    assert frame.pop_total.sum() == pytest.approx(grid.total())
    assert not frame.in_area.iloc[0]  # centre on the boundary line is not inside
    assert frame.in_area.iloc[3:].all()


def test_cells_frame_populated_only(raster_writer) -> None:
    v = np.zeros((3, 3), np.float32)
    v[1, 1] = 7
    p = raster_writer("one.tif", v, Affine(100.0, 0, 0, 0, -100.0, 300.0), UTM)
    pg = build_population([RasterSource(group="total", label="one", paths=(p,))], SPEC,
                          boundary=BOUNDARY, rejects=RejectLog())
    assert len(pg.cells_frame()) == 1
    assert len(pg.cells_frame(populated_only=False)) == 9


def test_aggregate_to_units(grid) -> None:
    west = shapely.box(0, 0, 150, 300)
    east = shapely.box(150, 0, 300, 300)
    units = gpd.GeoDataFrame({"code": ["W", "E"]}, geometry=[west, east], crs=UTM)
    out = grid.aggregate_to_units(units, id_column="code").set_index("code")
    tot = grid.groups["total"]
    assert out.loc["W", "pop_total"] == pytest.approx(tot[:, 0].sum() + tot[:, 1].sum() / 2)
    assert out.pop_total.sum() == pytest.approx(grid.total())
    assert out.pop_age_60_plus.sum() == pytest.approx(grid.total("age_60_plus"))
    assert out.area_m2.sum() == pytest.approx(BOUNDARY.area)
    assert out.attrs["unassigned"]["total"] == pytest.approx(0.0, abs=1e-9)


def test_aggregate_reprojects_and_reports_unassigned(grid) -> None:
    west = gpd.GeoDataFrame({"code": ["W"]}, geometry=[shapely.box(0, 0, 100, 300)], crs=UTM)
    geo = west.to_crs("EPSG:4490")
    out = grid.aggregate_to_units(geo, id_column="code")
    assert out.pop_total.iloc[0] == pytest.approx(grid.groups["total"][:, 0].sum(), rel=1e-6)
    assert out.attrs["unassigned"]["total"] == pytest.approx(
        grid.total() - out.pop_total.iloc[0], rel=1e-6)
    assert to_metric(geo, UTM, source="x").crs == UTM


def test_aggregate_bad_units(grid) -> None:
    units = gpd.GeoDataFrame({"code": ["W"]}, geometry=[shapely.box(0, 0, 100, 300)])
    with pytest.raises(NoCrsError) as err:
        grid.aggregate_to_units(units, id_column="code")
    assert type(err.value) is NoCrsError
    with pytest.raises(InputFileError) as err:
        grid.aggregate_to_units(units.set_crs(UTM), id_column="gb")
    assert type(err.value) is InputFileError
    assert err.value.column == "gb"
