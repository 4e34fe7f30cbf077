"""Vector sources: areal weighting of polygons, points, bad rows, units and CRS."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS

from access.crs import metric_to_lonlat
from access.errors import CrsMismatchError, InputFileError, NoCrsError
from access.rejects import RejectLog
from gridded_pop import GridSpec, PopulationUnitsError, VectorSource, build_population

UTM = CRS.from_epsg(32650)
SPEC = GridSpec(crs=UTM, x_min=0.0, y_max=300.0, cell_size_m=100.0, n_rows=3, n_cols=3)
BOX = shapely.box(0, 0, 300, 300)


def _write(tmp_path: Path, name: str, geoms: list, pops: list, crs: object | None = UTM,
           column: str = "pop") -> Path:
    gdf = gpd.GeoDataFrame({column: pops}, geometry=geoms, crs=crs)
    path = tmp_path / name
    gdf.to_file(path)
    return path


def _src(path: Path, **kw: object) -> VectorSource:
    kw.setdefault("value_column", "pop")
    return VectorSource(group="total", label=path.name, path=path, **kw)


def _build(src: VectorSource, boundary: shapely.Geometry = BOX, spec: GridSpec = SPEC,
           rejects: RejectLog | None = None):
    return build_population([src], spec, boundary=boundary,
                            rejects=rejects if rejects is not None else RejectLog())


def _balance(pg) -> None:
    a = pg.accounting
    assert np.allclose(a.population_in, a.on_grid + a.outside_area + a.rejected,
                       rtol=1e-9, atol=1e-9)


def test_areal_weighting_hand_checked(tmp_path: Path) -> None:
    # a 100 x 200 m polygon straddling cells (0,0) and (0,1) with 1:1 and a square
    # on half of cell (2, 2)
    geoms = [shapely.box(50, 200, 150, 300), shapely.box(200, 0, 250, 100)]
    p = _write(tmp_path, "polys.gpkg", geoms, [10.0, 4.0])
    pg = _build(_src(p))
    expected = np.zeros((3, 3))
    expected[0, 0] = expected[0, 1] = 5.0
    expected[2, 2] = 4.0
    np.testing.assert_allclose(pg.groups["total"], expected, atol=1e-9)
    _balance(pg)


def test_parts_outside_grid_and_boundary(tmp_path: Path) -> None:
    geoms = [shapely.box(250, 0, 350, 100)]  # half outside the grid
    p = _write(tmp_path, "edge.geojson", geoms, [8.0])
    pg = _build(_src(p), boundary=shapely.box(0, 0, 300, 300))
    assert pg.total() == pytest.approx(4.0)
    assert pg.accounting.outside_area.iloc[0] == pytest.approx(4.0)
    smaller = shapely.box(0, 0, 275, 300)
    pg = _build(_src(p), boundary=smaller)
    # the polygon is cut by the boundary first: 25 of its 100 m width lie inside
    assert pg.total() == pytest.approx(2.0)
    _balance(pg)


def test_points_go_to_their_cell(tmp_path: Path) -> None:
    geoms = [shapely.Point(10, 290), shapely.MultiPoint([(150, 150), (250, 50)]),
             shapely.Point(500, 500)]
    p = _write(tmp_path, "pts.gpkg", geoms, [3.0, 4.0, 7.0])
    pg = _build(_src(p))
    assert pg.groups["total"][0, 0] == pytest.approx(3.0)
    assert pg.groups["total"][1, 1] == pytest.approx(2.0)
    assert pg.groups["total"][2, 2] == pytest.approx(2.0)
    assert pg.accounting.outside_area.iloc[0] == pytest.approx(7.0)
    _balance(pg)


def test_bad_values_and_geometries_are_rejects(tmp_path: Path) -> None:
    geoms = [shapely.box(0, 200, 100, 300), shapely.box(0, 100, 100, 200),
             shapely.box(100, 100, 200, 200), None, shapely.LineString([(0, 0), (50, 50)])]
    p = _write(tmp_path, "bad.gpkg", geoms, [5.0, -3.0, float("nan"), 6.0, 2.0])
    rejects = RejectLog()
    pg = _build(_src(p), rejects=rejects)
    frame = rejects.to_frame()
    assert list(frame.row) == [2, 3, 4, 5]
    assert list(frame.reason) == ["invalid_value", "invalid_value", "missing_coordinates",
                                  "invalid_value"]
    assert frame.population.iloc[2] == 6.0
    acc = pg.accounting.iloc[0]
    assert acc.population_in == pytest.approx(13.0)
    assert acc.rejected == pytest.approx(8.0)
    assert acc.rejected_rows == 4
    assert pg.total() == pytest.approx(5.0)
    _balance(pg)


def test_missing_column_names_the_column(tmp_path: Path) -> None:
    p = _write(tmp_path, "c.gpkg", [shapely.box(0, 0, 100, 100)], [1.0], column="popu")
    with pytest.raises(InputFileError) as err:
        _build(_src(p, value_column="pop"))
    assert type(err.value) is InputFileError
    assert err.value.column == "pop"
    assert "did you mean 'popu'" in str(err.value)


def test_unreadable_file(tmp_path: Path) -> None:
    p = tmp_path / "junk.gpkg"
    p.write_text("nope")
    with pytest.raises(InputFileError) as err:
        _build(_src(p))
    assert type(err.value) is InputFileError


def test_crs_rules(tmp_path: Path) -> None:
    geoms = [shapely.box(0, 200, 100, 300)]
    with pytest.warns(UserWarning, match="crs"):  # pyogrio says the file gets no CRS
        p = _write(tmp_path, "nocrs.shp", geoms, [5.0], crs=None)
    with pytest.raises(NoCrsError) as err:
        _build(_src(p))
    assert type(err.value) is NoCrsError
    assert _build(_src(p, crs="EPSG:32650")).total() == pytest.approx(5.0)
    q = _write(tmp_path, "utm.gpkg", geoms, [5.0])
    with pytest.raises(CrsMismatchError) as err:
        _build(_src(q, crs="EPSG:4490"))
    assert type(err.value) is CrsMismatchError


def test_cgcs2000_polygons_are_reprojected(tmp_path: Path) -> None:
    x = np.array([0.0, 300.0]) + 500_000
    y = np.array([0.0, 300.0]) + 3_400_000
    lon, lat = metric_to_lonlat(x, y, UTM)
    p = _write(tmp_path, "geo.geojson", [shapely.box(lon[0], lat[0], lon[1], lat[1])],
               [90.0], crs="EPSG:4490")
    spec = GridSpec(crs=UTM, x_min=500_000.0, y_max=3_400_300.0, cell_size_m=100.0,
                    n_rows=3, n_cols=3)
    box = shapely.box(500_000, 3_400_000, 500_300, 3_400_300)
    pg = _build(_src(p), boundary=box, spec=spec)
    assert pg.total() == pytest.approx(90.0, rel=1e-3)
    assert pg.groups["total"][1, 1] == pytest.approx(10.0, rel=0.02)
    _balance(pg)


def test_density_units(tmp_path: Path) -> None:
    p = _write(tmp_path, "d.gpkg", [shapely.box(0, 0, 200, 100)], [80_000.0])
    with pytest.raises(PopulationUnitsError) as err:
        _build(_src(p))  # 80,000 persons on 2 ha: 4 per m², a density read as a count
    assert type(err.value) is PopulationUnitsError
    assert err.value.row == 1
    assert err.value.column == "pop"
    pg = _build(_src(p, units="persons_per_km2"))
    assert pg.total() == pytest.approx(80_000 * 0.02)
    q = _write(tmp_path, "pt.gpkg", [shapely.Point(50, 50)], [5.0])
    with pytest.raises(PopulationUnitsError) as err:
        _build(_src(q, units="persons_per_ha"))
    assert type(err.value) is PopulationUnitsError


rect = st.tuples(st.floats(-150, 350), st.floats(-150, 350), st.floats(1, 200), st.floats(1, 200))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rects=st.lists(rect, min_size=1, max_size=6),
       dens=st.lists(st.floats(0, 2.0), min_size=6, max_size=6),
       cut=st.floats(10, 300))
def test_areal_weighting_conserves(tmp_path: Path, rects: list, dens: list, cut: float) -> None:
    geoms = [shapely.box(x, y, x + w, y + h) for x, y, w, h in rects]
    pops = [d * g.area for d, g in zip(dens, geoms, strict=False)]
    path = tmp_path / "r.gpkg"
    gpd.GeoDataFrame({"pop": pops[:len(geoms)]}, geometry=geoms, crs=UTM).to_file(path)
    boundary = shapely.box(0, 0, cut, 300)
    pg = _build(_src(path), boundary=boundary)
    acc = pg.accounting.iloc[0]
    assert acc.population_in == pytest.approx(sum(pops[:len(geoms)]))
    _balance(pg)
    assert (pg.groups["total"] >= 0).all()
    # oracle: the exact overlay, each polygon's persons times its share inside the
    # boundary and the grid
    inside = shapely.intersection(boundary, shapely.box(*SPEC.bounds))
    expected = sum(p * shapely.area(shapely.intersection(g, inside)) / g.area
                   for g, p in zip(geoms, pops, strict=False))
    assert pg.total() == pytest.approx(expected, rel=1e-9, abs=1e-6)
