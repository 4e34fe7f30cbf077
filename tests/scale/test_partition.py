"""Partitioned runs on Dask give the plain run's results, survive a dying worker,
resume from finished partitions and refuse bad input before any partition starts."""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from access.errors import PartitionError, SchedulerUnreachableError
from access.osm import read_arcs
from access.travel import catchment_pairs
from lifecircle.cli import app
from lifecircle.partition import PartitionOptions, PartitionSpec, run_partition, run_partitioned
from lifecircle.partition_worker import partition_catchments
from lifecircle.pipeline import RunResult, run
from lifecircle.study_area import load_study_area

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "synthetic_municipality.py"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("synthetic_municipality", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("synthetic_municipality", mod)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic region of 4 counties (6,400 cells, 10,000 street nodes)."""
    out = tmp_path_factory.mktemp("region")
    _generator().write_region(out, counties=4, scale="small", seed=3)
    return out


@pytest.fixture(scope="module")
def plain(region: Path) -> RunResult:
    return run(load_study_area(region / "area.toml"))


def _assert_same(plain: RunResult, part: RunResult) -> None:
    cells = plain.cells.drop(columns=[c for c in plain.cells.columns
                                      if c == "node" or c.endswith("_node")])
    assert list(part.cells.columns) == list(cells.columns)
    assert any(c.startswith("dist_m__") for c in cells.columns)
    assert any(c.startswith("drive_time_min__") for c in cells.columns)
    pd.testing.assert_frame_equal(part.cells, cells)
    for name in ("targets", "units", "gaps", "cell_flags"):
        pd.testing.assert_frame_equal(getattr(part.targets, name),
                                      getattr(plain.targets, name))
    # every facility column of a plain run (its outline as text, generated names,
    # snapping, units) but the graph node numbers, which are a partition's own
    fac = plain.facilities.drop(columns=[c for c in plain.facilities.columns
                                         if c == "node" or c.endswith("_node")])
    assert {"outline_wkt", "name_generated", "unit__county"} <= set(fac.columns)
    pd.testing.assert_frame_equal(pd.DataFrame(part.facilities), pd.DataFrame(fac))
    pd.testing.assert_frame_equal(part.rejects.to_frame(), plain.rejects.to_frame())
    for level in plain.units:
        pd.testing.assert_frame_equal(part.units[level], plain.units[level])


def test_partitioned_equals_plain(region: Path, plain: RunResult, tmp_path: Path) -> None:
    area = load_study_area(region / "area.toml")
    part = run_partitioned(area, PartitionOptions(by="county", workers=2,
                                                  cache_dir=tmp_path / "parts"))
    tasks = part.partitions
    modes = tasks["modes"].str.split("+")
    by_partition = tasks[modes.map(lambda m: "walk" in m)]
    assert len(by_partition) == 4
    # every mode of every cell was routed exactly once: by its partition or its group
    for m in ("walk", "ebike", "drive"):
        assert tasks[modes.map(lambda ms, m=m: m in ms)]["cells"].sum() == len(plain.cells)
    # driving reaches far beyond a 6 km county: routed for groups of counties
    assert tasks["partition"].str.startswith("drive:").any()
    # each partition read only its clipped networks: fewer nodes than the whole region
    assert (by_partition["walk_nodes"] < plain.networks["walk"].n_nodes).all()
    # the 2SFCA target was answered through the partitions' catchments
    fca = part.targets.targets.set_index("id").loc["kindergarten_places_2sfca"]
    assert fca["status"] in ("met", "not_met")
    _assert_same(plain, part)

    # a second run takes every partition from the cache: no partition task runs
    again = run_partitioned(area, PartitionOptions(by="county", workers=2,
                                                   cache_dir=tmp_path / "parts"),
                            task=_never)
    _assert_same(plain, again)


def test_partitioned_by_partition_only_equals_plain(region: Path, plain: RunResult) -> None:
    """Every mode routed partition by partition (no groups): the same results."""
    part = run_partitioned(load_study_area(region / "area.toml"),
                           PartitionOptions(by="county", workers=2, group_buffers=0.0),
                           use_cache=False)
    assert (part.partitions["modes"] == "walk+ebike+drive").all()
    _assert_same(plain, part)


def test_cells_the_population_adds_are_routed_too(region: Path, plain: RunResult,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Partitions are sent before the population is read, for the study area's cells;
    should the population add a cell those lack, the partitions are sent again with it
    and the results are still the plain run's."""
    import lifecircle.partition as partition_mod

    area_cells = partition_mod._area_cells
    monkeypatch.setattr(partition_mod, "_area_cells",
                        lambda grid, mask: area_cells(grid, mask).iloc[1:].reset_index(drop=True))
    with caplog.at_level(logging.INFO, logger="lifecircle.partition"):
        part = run_partitioned(load_study_area(region / "area.toml"),
                               PartitionOptions(by="county", workers=2), use_cache=False)
    assert any("sent again" in r.msg.text("en") for r in caplog.records
               if hasattr(r.msg, "text"))
    _assert_same(plain, part)


@pytest.mark.parametrize("radius_m", [300.0, 800.0])
def test_partition_catchments_equal_the_whole_networks(region: Path, plain: RunResult,
                                                       radius_m: float) -> None:
    """A partition's catchment pairs (which snap and search only the cells that may lie
    within the radius) are every pair the whole walking network gives."""
    cells, fac = plain.cells, plain.facilities
    walk = plain.networks["walk"]
    lon, lat = walk.lon, walk.lat
    box = (float(lon.min()) - 0.01, float(lat.min()) - 0.01, float(lon.max()) + 0.01,
           float(lat.max()) + 0.01)
    n_c, n_f = len(cells), len(fac)
    category = fac["category"].value_counts().index[0]
    spec = PartitionSpec(
        name="all", network_path=str(region / "streets.osm.pbf"),
        network_sha256=walk.source_sha256, crs_wkt=plain.crs.to_wkt(), modes=("walk",),
        bbox_lonlat={"walk": box}, buffer_m={"walk": 5000.0},
        cell_pos=np.arange(n_c), cell_x=cells["x"].to_numpy(), cell_y=cells["y"].to_numpy(),
        cell_id=cells["cell_id"].to_numpy(), owned=np.ones(n_c, bool),
        fac_pos=np.arange(n_f), fac_x=fac.geometry.x.to_numpy(), fac_y=fac.geometry.y.to_numpy(),
        fac_category=fac["category"].to_numpy(dtype=object),
        fac_id=fac["facility_id"].to_numpy(dtype=object), fac_owned=np.ones(n_f, bool),
        categories=[category], travel=plain.area.travel,
        snap_max_dist_m=plain.area.network.snap_max_dist_m, use_cache=False)
    fpos, cpos, d = partition_catchments(spec, category, radius_m)
    sel = np.flatnonzero(fac["category"].to_numpy() == category)
    fi, ci, dd = catchment_pairs(walk, fac["node"].to_numpy()[sel],
                                 fac["snap_dist_m"].to_numpy()[sel], cells["node"].to_numpy(),
                                 cells["snap_dist_m"].to_numpy(), max_dist_m=radius_m)
    assert len(fi) > 0
    got = pd.DataFrame({"f": fpos, "c": cpos, "d": d}).sort_values(["f", "c"])
    want = pd.DataFrame({"f": sel[fi], "c": ci, "d": dd}).sort_values(["f", "c"])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))


def _never(spec: PartitionSpec) -> dict[str, Any]:
    raise AssertionError(f"partition {spec.name} should have come from the cache")


def _dies_once(spec: PartitionSpec, *, marker: str) -> dict[str, Any]:
    """Kill the worker process the first time it routes a partition."""
    if not os.path.exists(marker):
        Path(marker).write_text(spec.name, encoding="utf-8")
        os._exit(1)
    return run_partition(spec)


def test_worker_killed_mid_run(region: Path, plain: RunResult, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    area = load_study_area(region / "area.toml")
    part = run_partitioned(area, PartitionOptions(by="tiles", tile_km=4.0, workers=2),
                           use_cache=False,
                           task=functools.partial(_dies_once, marker=str(marker)))
    assert marker.exists()  # a worker did die
    _assert_same(plain, part)


def _copy(region: Path, tmp_path: Path) -> Path:
    out = tmp_path / "region"
    shutil.copytree(region, out)
    return out


def test_units_not_covering_the_area(region: Path, tmp_path: Path) -> None:
    d = _copy(region, tmp_path)
    counties = gpd.read_file(d / "counties.gpkg")
    counties.iloc[1:].to_file(d / "counties.gpkg", layer="counties", engine="pyogrio")
    with pytest.raises(PartitionError, match=r"counties.gpkg.*do not cover the study area"):
        run_partitioned(load_study_area(d / "area.toml"), PartitionOptions(), task=_never)
    # the command prints one line and exits 2
    res = CliRunner().invoke(app, ["run", "--area", str(d / "area.toml"), "--out",
                                   str(tmp_path / "out"), "--partition", "county", "-q"])
    assert res.exit_code == 2
    assert "do not cover the study area" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_partition_without_streets(region: Path, tmp_path: Path) -> None:
    d = _copy(region, tmp_path)
    boundary = gpd.read_file(d / "boundary.gpkg")
    x0, y0, x1, y1 = boundary.total_bounds
    strip = shapely.box(x1, y0, x1 + 3000.0, y1)  # 3 km east of the streets
    boundary.geometry = [shapely.box(x0, y0, x1 + 3000.0, y1)]
    boundary.to_file(d / "boundary.gpkg", layer="boundary", engine="pyogrio")
    counties = gpd.read_file(d / "counties.gpkg")
    extra = gpd.GeoDataFrame({"code": ["410199"], "name": ["无路县"]}, geometry=[strip],
                             crs=counties.crs)
    pd.concat([counties, extra], ignore_index=True).to_file(
        d / "counties.gpkg", layer="counties", engine="pyogrio")
    with pytest.raises(PartitionError, match=r"partition '410199' has no street"):
        run_partitioned(load_study_area(d / "area.toml"), PartitionOptions(), task=_never)


def test_unreachable_scheduler(region: Path) -> None:
    opts = PartitionOptions(scheduler="tcp://127.0.0.1:9", connect_timeout_s=1.0)
    with pytest.raises(SchedulerUnreachableError, match=r"tcp://127\.0\.0\.1:9"):
        run_partitioned(load_study_area(region / "area.toml"), opts, task=_never)


def test_unknown_partition_level(region: Path) -> None:
    from access.errors import ConfigError

    with pytest.raises(ConfigError, match="no \\[\\[units\\]\\] of level 'district'"):
        run_partitioned(load_study_area(region / "area.toml"),
                        PartitionOptions(by="district"), task=_never)


def test_clipped_reading_keeps_exactly_the_arcs_inside(region: Path) -> None:
    pbf = region / "streets.osm.pbf"
    full = read_arcs(pbf, "walk")
    lon0, lat0 = np.quantile(full.lon, 0.3), np.quantile(full.lat, 0.4)
    box = (lon0, lat0, lon0 + 0.02, lat0 + 0.015)
    clip = read_arcs(pbf, "walk", bbox_lonlat=box)
    inside = ((full.lon >= box[0]) & (full.lon <= box[2]) & (full.lat >= box[1])
              & (full.lat <= box[3]))
    keep = inside[full.u] & inside[full.v]
    want = {(a, b, round(d, 6)) for a, b, d in zip(full.node_id[full.u[keep]],
                                                   full.node_id[full.v[keep]],
                                                   full.length_m[keep], strict=True)}
    got = {(a, b, round(d, 6)) for a, b, d in zip(clip.node_id[clip.u], clip.node_id[clip.v],
                                                  clip.length_m, strict=True)}
    assert got == want
    assert 0 < len(got) < len(full.u)


def test_ebike_searched_as_far_as_targets_need(region: Path, plain: RunResult) -> None:
    """An e-bike network built only for targets is searched as far as the longest e-bike
    trip a target takes (Kaifeng's health_15: 15 min), so a partition's e-bike buffer is
    that trip, not the mode's 60-minute limit; every verdict is that of a 60-minute
    search."""
    assert "ebike" not in plain.area.network.modes
    assert plain.area.travel.max_ebike_time_min == 15.0
    cols = [c for c in plain.cells.columns if c.startswith("ebike_time_min__")]
    t = plain.cells[cols].to_numpy(dtype=float)
    assert np.isfinite(t).any()
    assert (t[np.isfinite(t)] <= 15.0).all()
    area = load_study_area(region / "area.toml")
    wide = run(replace(area, travel=replace(area.travel, max_ebike_time_min=60.0)))
    assert wide.area.travel.max_ebike_time_min == 60.0
    w = wide.cells[cols].to_numpy(dtype=float)
    assert (w[np.isfinite(w)] > 15.0).any()
    np.testing.assert_array_equal(np.where(w <= 15.0, w, np.inf), np.where(t <= 15.0, t,
                                                                            np.inf))
    for name in ("targets", "units", "gaps", "cell_flags"):
        pd.testing.assert_frame_equal(getattr(wide.targets, name),
                                      getattr(plain.targets, name))


def test_command_starts_workers_before_the_library(region: Path, tmp_path: Path) -> None:
    """``lifecircle run --partition`` (the console script's own path, which starts the
    worker processes before it imports the library) writes the same results as a plain
    ``lifecircle run``."""
    import lifecircle as lc

    env = dict(os.environ, LIFECIRCLE_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    outs = {}
    for name, extra in (("plain", []), ("part", ["--partition", "county", "--workers", "2"])):
        outs[name] = tmp_path / name
        subprocess.run([sys.executable, "-c", "import app; app.cli()", "run", "--area",
                        str(region / "area.toml"), "--out", str(outs[name]), "-q",
                        "--no-history", *extra], env=env, cwd=tmp_path, check=True,
                       capture_output=True)
    plain, part = lc.read_run(outs["plain"]), lc.read_run(outs["part"])
    pd.testing.assert_frame_equal(part.cells, plain.cells)
    pd.testing.assert_frame_equal(part.targets, plain.targets)
    assert sum("walk" in t["modes"].split("+") for t in part.meta["partitions"]) == 4
    assert "partitions" not in plain.meta
    pd.testing.assert_frame_equal(part.units, plain.units)
    pd.testing.assert_frame_equal(part.gaps, plain.gaps)
