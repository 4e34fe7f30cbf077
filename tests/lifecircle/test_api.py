"""The public Python API, used as a notebook would: GeoDataFrames in, GeoDataFrames out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

import lifecircle as lc
from tests.conftest import write_osm


@pytest.fixture(scope="module")
def pipeline() -> lc.RunResult:
    """The bundled sample run through the study-area file, for comparison."""
    return lc.run(lc.load_study_area(lc.datasets.get_path("chengdu_central") / "area.toml"))


@pytest.fixture(scope="module")
def walk(sample_osm: Path) -> lc.StreetNetwork:
    return lc.load_network(sample_osm, "walk")


def _lonlat_frames(result: lc.RunResult) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Cells and facilities as a notebook user would hold them: lon/lat points, and the
    outlines of OSM areas without an entrance as polygons."""
    cells = gpd.GeoDataFrame(
        {"cell_id": result.cells["cell_id"].to_numpy()},
        geometry=gpd.points_from_xy(result.cells["x"], result.cells["y"]),
        crs=result.crs).to_crs("EPSG:4326")
    outline = result.facilities["outline_wkt"].to_numpy(dtype=object)
    geom = np.where(outline != "", shapely.from_wkt(np.where(outline != "", outline, None)),
                    result.facilities.geometry.to_numpy())
    fac = gpd.GeoDataFrame(
        {"fid": result.facilities["facility_id"].to_numpy(),
         "kind": result.facilities["category"].to_numpy()},
        geometry=geom, crs=result.crs).to_crs("EPSG:4326")
    return cells, fac


def test_notebook_nearest_equals_pipeline(pipeline: lc.RunResult,
                                          walk: lc.StreetNetwork) -> None:
    """Only lifecircle.* on its own lon/lat GeoDataFrames: the pipeline's distances."""
    cells, fac = _lonlat_frames(pipeline)
    out = lc.nearest(walk, origins=cells, facilities=fac, category="kind", facility_id="fid")
    assert out.crs.equals(walk.crs)
    assert len(out) == len(cells)
    for cat in sorted(set(pipeline.facilities["category"])):
        mine = out[f"dist_m__{cat}"].to_numpy()
        theirs = pipeline.cells[f"dist_m__{cat}"].to_numpy()
        reached = np.isfinite(theirs)
        assert reached.sum() > 0
        np.testing.assert_array_equal(np.isfinite(mine), reached)
        # the round trip through lon/lat moves points by micrometres
        np.testing.assert_allclose(mine[reached], theirs[reached], atol=0.01)
        same = out[f"nearest__{cat}"].to_numpy()[reached] == \
            pipeline.cells[f"nearest__{cat}"].to_numpy()[reached]
        assert same.mean() > 0.999
    share = lc.coverage(out, category="kindergarten", max_time_min=5,
                        population=None)
    assert 0 < share < 1


def test_lonlat_input_is_reprojected_not_zero(walk: lc.StreetNetwork,
                                              pipeline: lc.RunResult) -> None:
    cells, fac = _lonlat_frames(pipeline)
    a = lc.nearest(walk, origins=cells.iloc[:500], facilities=fac, category="kind")
    b = lc.nearest(walk, origins=cells.iloc[:500].to_crs(walk.crs),
                   facilities=fac.to_crs(walk.crs), category="kind")
    col = "dist_m__school"
    assert np.isfinite(a[col]).sum() > 100  # never silently unreachable
    np.testing.assert_allclose(a[col], b[col], atol=0.01)


def test_no_crs_is_refused(walk: lc.StreetNetwork) -> None:
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy([104.07], [30.66]))
    with pytest.raises(lc.NoCrsError, match="set_crs"):
        lc.travel_times(walk, origins=pts, max_time_min=10)
    with pytest.raises(TypeError, match="GeoDataFrame"):
        lc.nearest(walk, origins=pd.DataFrame({"x": [1]}), facilities=pts)


def test_travel_times_equal_networkx(walk: lc.StreetNetwork) -> None:
    """The long table's distances are legs plus networkx shortest paths."""
    rng = np.random.default_rng(7)
    i = rng.choice(walk.n_nodes, 30, replace=False)
    # points a little off their nodes, so the legs count
    ox_, oy_ = walk.x[i[:20]] + 7.0, walk.y[i[:20]] - 5.0
    dx_, dy_ = walk.x[i[20:]] - 3.0, walk.y[i[20:]] + 4.0
    origins = gpd.GeoDataFrame({"oid": [f"o{k}" for k in range(20)]},
                               geometry=gpd.points_from_xy(ox_, oy_), crs=walk.crs)
    dests = gpd.GeoDataFrame({"did": [f"d{k}" for k in range(10)]},
                             geometry=gpd.points_from_xy(dx_, dy_), crs=walk.crs)
    tt = lc.travel_times(walk, origins=origins, destinations=dests, mode="walk",
                         max_time_min=60, speed_kmh=4.0, origin_id="oid",
                         destination_id="did")
    assert list(tt.columns) == ["from_id", "to_id", "travel_time_min", "distance_m"]
    g = walk.to_networkx()

    def snapped(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # brute force: every node's distance to every point
        d = np.hypot(walk.x[None, :] - px[:, None], walk.y[None, :] - py[:, None])
        return d.argmin(axis=1), d.min(axis=1)

    o_node, o_leg = snapped(ox_, oy_)
    d_node, d_leg = snapped(dx_, dy_)
    limit_m = 60 * 4000 / 60
    expected = {}
    for a in range(20):
        lengths = nx.single_source_dijkstra_path_length(g, int(o_node[a]), weight="length_m")
        for b in range(10):
            d = lengths.get(int(d_node[b]), np.inf) + o_leg[a] + d_leg[b]
            if d <= limit_m:
                expected[(f"o{a}", f"d{b}")] = d
    got = {(r.from_id, r.to_id): r.distance_m for r in tt.itertuples()}
    assert got.keys() == expected.keys()
    assert len(got) > 20
    for k, d in expected.items():
        assert got[k] == pytest.approx(d, abs=1e-6)
    np.testing.assert_allclose(tt["travel_time_min"], tt["distance_m"] / (4000 / 60))


def test_travel_times_drive_respects_one_way(tmp_path: Path) -> None:
    """On a driving network, a -> c takes the one-way street, c -> a the detour."""
    nodes = {1: (104.000, 30.0), 2: (104.001, 30.0), 3: (104.002, 30.0),
             4: (104.002, 30.002), 5: (104.000, 30.002)}
    osm = write_osm(tmp_path / "oneway.osm", nodes, [
        ([1, 2, 3], {"highway": "residential", "oneway": "yes", "maxspeed": "36"}),
        ([3, 4, 5, 1], {"highway": "residential", "maxspeed": "36"})])
    drive = lc.load_network(osm, "drive", use_cache=False)
    pts = gpd.GeoDataFrame({"name": ["a", "c"]},
                           geometry=gpd.points_from_xy([104.000, 104.002], [30.0, 30.0]),
                           crs="EPSG:4326")
    tt = lc.travel_times(drive, origins=pts, mode="drive", max_time_min=5,
                         origin_id="name", destination_id="name").set_index(["from_id", "to_id"])
    geod = Geod(ellps="sphere")

    def seconds(*ids: int) -> float:  # at 36 km/h = 10 m/s
        lon = [nodes[i][0] for i in ids]
        lat = [nodes[i][1] for i in ids]
        return geod.line_length(lon, lat) / 10.0

    assert tt.loc[("a", "c"), "travel_time_min"] * 60 == pytest.approx(seconds(1, 2, 3),
                                                                      rel=1e-3)
    assert tt.loc[("c", "a"), "travel_time_min"] * 60 == pytest.approx(seconds(3, 4, 5, 1),
                                                                      rel=1e-3)
    assert np.isnan(tt.loc[("a", "c"), "distance_m"])
    with pytest.raises(lc.ConfigError, match="drive network"):
        lc.travel_times(drive, origins=pts, mode="walk")


def test_evaluate_targets_with_profile(pipeline: lc.RunResult) -> None:
    own = lc.evaluate_targets(pipeline)
    assert own is not None
    pd.testing.assert_frame_equal(own.targets, pipeline.targets.targets)
    lankao = lc.evaluate_targets(pipeline, profile="lankao")
    assert lankao is not None
    assert set(lankao.targets["id"]) != set(own.targets["id"])


def test_engine_package_clash_is_reported(tmp_path: Path) -> None:
    """Another top-level 'access' package (PySAL's) shadowing ours: a clear ImportError."""
    fake = tmp_path / "access"
    fake.mkdir()
    (fake / "__init__.py").write_text('"""PySAL access (stand-in)."""\n', encoding="utf-8")
    repo = Path(lc.__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", "import lifecircle"], capture_output=True,
                          text=True, env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{repo}"},
                          cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert "PySAL" in proc.stderr
    assert "virtual environment" in proc.stderr
