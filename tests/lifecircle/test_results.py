"""Results I/O: exact round trips, completion marker, atomic swap, one run per folder."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely
from typer.testing import CliRunner

import lifecircle as lc
from access.errors import IncompleteRunError, InputFileError, OutputLockedError
from lifecircle.cli import app
from lifecircle.pipeline import RunResult, run
from lifecircle.results import (
    MARKER,
    is_complete,
    output_lock,
    read_run,
    recover_stale,
    write_run,
)
from lifecircle.study_area import default_area_path, load_study_area

ROOT = Path(__file__).resolve().parents[2]
INTERNAL = ["node", "ebike_node", "drive_node"]


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run(load_study_area(default_area_path()))


@pytest.fixture(scope="module")
def written(result: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "out"
    write_run(result, out)
    return out


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("LIFECIRCLE_FAULT", None)
    return env


def test_parquet_round_trip_is_exact(result: RunResult, written: Path) -> None:
    data = lc.read_run(written, verify=True)
    pd.testing.assert_frame_equal(
        data.cells, result.cells.drop(columns=INTERNAL).reset_index(drop=True))
    fac = result.facilities.drop(columns=INTERNAL).reset_index(drop=True)
    assert isinstance(data.facilities, gpd.GeoDataFrame)
    assert data.facilities.crs == result.crs
    pd.testing.assert_frame_equal(data.facilities, fac)
    for name in ("targets", "units", "gaps"):
        pd.testing.assert_frame_equal(getattr(data, name),
                                      getattr(result.targets, name).reset_index(drop=True))
    pd.testing.assert_frame_equal(data.rejects, result.rejects.to_frame())
    pd.testing.assert_frame_equal(data.k_nearest, result.k_nearest.reset_index(drop=True))
    pd.testing.assert_frame_equal(data.population_accounting, result.population.accounting)
    pd.testing.assert_frame_equal(data.completeness, result.completeness)
    for level, poly in result.unit_polygons.items():
        pd.testing.assert_frame_equal(data.unit_polygons[level], poly.reset_index(drop=True))
        pd.testing.assert_frame_equal(data.unit_stats[level],
                                      result.units[level].reset_index(drop=True))
    # dtypes that matter survive: nullable booleans, strings, mixed object columns
    flags = [c for c in data.cells.columns if c.startswith("covered__")]
    assert flags
    assert all(isinstance(data.cells[c].dtype, pd.BooleanDtype) for c in flags)
    assert data.targets["met"].dtype == object
    assert data.categories == result.categories


def test_gap_areas_written_without_cell_lists(result: RunResult, written: Path) -> None:
    data = read_run(written)
    members = result.targets.gap_cells
    pd.testing.assert_frame_equal(data.gap_cells, members.reset_index(drop=True))
    gaps = data.gaps
    assert not [c for c in gaps.columns if "cell_ids" in c]
    # one row per area, each area a set of cells of the cell table
    assert len(members.groupby(["target_id", "rank"])) == len(gaps)
    assert set(members["cell_id"]) <= set(data.cells["cell_id"])
    assert gaps[["lon", "lat"]].notna().all().all()
    assert gaps["lon"].between(103.9, 104.2).all()
    assert gaps["lat"].between(30.5, 30.8).all()
    assert gaps["unit_name__district"].str.endswith("区").all()
    # Excel keeps at most 32,767 characters in a cell: no CSV field comes near it
    for csv in written.glob("*.csv"):
        table = pd.read_csv(csv, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        longest = max((table[c].str.len().max() for c in table.columns), default=0)
        assert longest < 32_767, csv.name


def test_cells_geoparquet_has_points_and_grid(result: RunResult, written: Path) -> None:
    path = written / "cells.parquet"
    meta = pq.read_schema(path).metadata
    geo = json.loads(meta[b"geo"])
    assert geo["primary_column"] == "geometry"
    col = geo["columns"]["geometry"]
    assert col["encoding"] == "WKB"
    assert col["geometry_types"] == ["Point"]
    grid = json.loads(meta[b"lifecircle"])["grid"]
    spec = result.population.spec
    assert (grid["cell_size_m"], grid["n_rows"], grid["n_cols"]) == (
        spec.cell_size_m, spec.n_rows, spec.n_cols)
    assert (grid["x_min"], grid["y_max"]) == (spec.x_min, spec.y_max)
    # any GeoParquet reader gets cell-centre points in the analysis CRS
    gdf = gpd.read_parquet(path)
    assert gdf.crs.to_epsg() == 32648
    np.testing.assert_array_equal(gdf.geometry.x, result.cells["x"])
    # polygons rebuilt from the grid contain their centre and are 100 m squares
    data = read_run(written)
    polys = data.cell_polygons()
    np.testing.assert_allclose(polys.area, spec.cell_size_m ** 2)
    assert shapely.contains(polys.values, gdf.geometry.values).all()


def test_gpkg_format(result: RunResult, tmp_path: Path) -> None:
    files = write_run(result, tmp_path / "g", fmt="gpkg")
    assert files["cells"].suffix == ".gpkg"
    assert not (tmp_path / "g" / "cells.parquet").exists()
    data = read_run(tmp_path / "g", verify=True)
    cells = gpd.read_file(files["cells"])
    np.testing.assert_allclose(cells.geometry.area, 10_000.0)
    exp = result.cells.drop(columns=INTERNAL).reset_index(drop=True)
    assert list(data.cells.columns) == list(exp.columns)
    # GeoPackage has no infinity: unreachable distances come back as null
    d = exp["dist_m__kindergarten"]
    np.testing.assert_array_equal(data.cells["dist_m__kindergarten"],
                                  d.where(np.isfinite(d)))
    pd.testing.assert_frame_equal(data.targets, result.targets.targets)
    assert set(data.unit_polygons) == set(result.unit_polygons)
    # gap areas as polygons: the union of each area's cells, its residents alongside
    areas = gpd.read_file(files["gaps.gpkg"], layer="gap_areas")
    gaps = result.targets.gaps
    assert len(areas) == len(gaps)
    assert areas["residents"].tolist() == pytest.approx(gaps["residents"].tolist())
    np.testing.assert_allclose(areas.geometry.area, gaps["n_cells"] * 10_000.0)
    inside = shapely.contains(areas.geometry.values,
                              shapely.points(gaps["x"], gaps["y"]))
    assert inside.all()  # the centre cell belongs to its area
    pd.testing.assert_frame_equal(data.gap_cells, result.targets.gap_cells)


def test_k_nearest_only_when_asked(result: RunResult, tmp_path: Path) -> None:
    area = dataclasses.replace(result.area,
                               travel=dataclasses.replace(result.area.travel, k_nearest=1))
    files = write_run(dataclasses.replace(result, area=area), tmp_path / "k1")
    assert "k_nearest" not in files
    assert not any(p.name.startswith("k_nearest") for p in (tmp_path / "k1").iterdir())
    assert read_run(tmp_path / "k1").k_nearest is None


def test_marker_lists_every_file_with_checksum(written: Path) -> None:
    marker = json.loads((written / MARKER).read_text(encoding="utf-8"))
    assert marker["format_version"] == 1
    assert marker["lifecircle_version"]
    on_disk = {p.name for p in written.iterdir()} - {MARKER}
    assert set(marker["files"]) == on_disk
    assert all(len(v["sha256"]) == 64 for v in marker["files"].values())


def test_readers_require_the_marker(written: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(written, broken)
    (broken / MARKER).unlink()
    with pytest.raises(IncompleteRunError, match=r"_COMPLETE\.json"):
        read_run(broken)
    assert not is_complete(broken)
    with pytest.raises(IncompleteRunError, match="no results folder"):
        read_run(tmp_path / "nothing")

    # a file cut short
    cut = tmp_path / "cut"
    shutil.copytree(written, cut)
    data = (cut / "gaps.csv").read_bytes()
    (cut / "gaps.csv").write_bytes(data[: len(data) // 2])
    with pytest.raises(IncompleteRunError, match=r"gaps\.csv has"):
        read_run(cut)

    # a file changed in place, same size: only the checksum sees it
    changed = tmp_path / "changed"
    shutil.copytree(written, changed)
    raw = bytearray((changed / "targets.csv").read_bytes())
    raw[-3] = ord("7") if raw[-3] != ord("7") else ord("8")
    (changed / "targets.csv").write_bytes(bytes(raw))
    read_run(changed)  # sizes match
    with pytest.raises(IncompleteRunError, match="sha256"):
        read_run(changed, verify=True)


def test_refuses_to_replace_foreign_folders(result: RunResult, tmp_path: Path) -> None:
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "plan.docx").write_bytes(b"not ours")
    with pytest.raises(InputFileError, match="not lifecircle results"):
        write_run(result, mine)
    assert (mine / "plan.docx").read_bytes() == b"not ours"
    # the command refuses it before any analysis
    res = CliRunner().invoke(app, ["run", "--out", str(mine), "-q", "--lang", "en"])
    assert res.exit_code == 2
    assert "not lifecircle results" in res.output
    assert "Analysing" not in res.output
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(InputFileError, match="is a file"):
        write_run(result, a_file)
    # an empty folder, or a folder from an earlier version of lifecircle, is replaced
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "cells.gpkg").write_bytes(b"old")
    (legacy / "run.json").write_text("{}", encoding="utf-8")
    write_run(result, legacy)
    assert is_complete(legacy)
    assert not (legacy / "cells.gpkg").exists()


def test_rewrite_replaces_whole_folder(result: RunResult, written: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    shutil.copytree(written, out)
    (out / "leftover.csv").write_text("old", encoding="utf-8")
    write_run(result, out)
    assert not (out / "leftover.csv").exists()
    assert is_complete(out)
    assert not list(tmp_path.glob(".again.writing-*"))
    assert not list(tmp_path.glob(".again.old-*"))


# ---------------------------------------------------------------------------
# one run per folder

_HOLD = """
import sys, time
from lifecircle.results import output_lock
with output_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_lock_refuses_second_writer_and_dies_with_its_process(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], env=_env(),
                          stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            with pytest.raises(OutputLockedError, match=rf"process {holder.pid}"), \
                    output_lock(out):
                pass
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
    # the lock went with the killed process
    with output_lock(out) as lock:
        assert lock.name == ".out.lock"
        with output_lock(out):  # re-entrant in one thread
            pass


def test_concurrent_runs(tmp_path: Path) -> None:
    """Two runs into one folder: exactly one succeeds, the other fails at once and clearly.
    Two runs sharing one (empty) network cache: both succeed, with identical results."""
    env = _env() | {"LIFECIRCLE_CACHE_DIR": str(tmp_path / "cache")}

    def start(out: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", "import app; app.cli()", "run", "--out",
             str(tmp_path / out), "-q", "--lang", "en"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    with start("shared") as first:
        time.sleep(0.5)
        with start("shared") as second, start("other") as third:
            outs = [p.communicate(timeout=900)[0] for p in (first, second, third)]
    same_folder = [first.returncode, second.returncode]
    assert sorted(same_folder) == [0, 2], outs
    loser = outs[same_folder.index(2)]
    assert "another lifecircle run is writing to this folder" in loser
    assert "Traceback" not in loser
    assert third.returncode == 0, outs[2]
    a = read_run(tmp_path / "shared", verify=True)
    b = read_run(tmp_path / "other", verify=True)
    assert a.meta["name"] == "chengdu_central"
    pd.testing.assert_frame_equal(a.cells, b.cells)
    pd.testing.assert_frame_equal(a.facilities, b.facilities)
    pd.testing.assert_frame_equal(a.targets, b.targets)
    # walk, drive and e-bike (health_15 rides in towns and villages)
    assert len(list((tmp_path / "cache").glob("network-*.npz"))) == 3
    assert not list((tmp_path / "cache").glob(".*tmp*"))


# ---------------------------------------------------------------------------
# killed while writing

_WRITE = """
import pickle, sys
from lifecircle.results import write_run
with open(sys.argv[1], "rb") as fh:
    result = pickle.load(fh)
write_run(result, sys.argv[2])
"""


@pytest.fixture(scope="module")
def pickled(result: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pickle") / "result.pkl"
    # the catchment closure is not data and not written
    path.write_bytes(pickle.dumps(dataclasses.replace(result, catchments=None)))
    return path


@pytest.mark.parametrize("point", ["after:cells", "after:gaps.csv", "before:marker",
                                   "after:aside"])
def test_sigkill_while_writing_keeps_previous_result(
        point: str, result: RunResult, pickled: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # the previous result: another study area name, so a mix would show
    area = dataclasses.replace(result.area, name="previous")
    write_run(dataclasses.replace(result, area=area), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    env = _env() | {"LIFECIRCLE_FAULT": point}
    proc = subprocess.run([sys.executable, "-c", _WRITE, str(pickled), str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    if point == "after:aside":
        # killed between the two renames: the previous result waits aside
        with pytest.raises(IncompleteRunError, match="interrupted run left the previous"):
            read_run(out)
    else:
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
        assert read_run(out, verify=True).meta["name"] == "previous"
    assert list(tmp_path.glob(".out.writing-*"))  # the unfinished folder is still there

    # the next run says so, cleans up, and the previous result is back and complete
    with output_lock(out):
        notes = recover_stale(out)
    assert notes
    assert any("interrupted" in en for _zh, en in notes)
    assert not list(tmp_path.glob(".out.writing-*"))
    assert not list(tmp_path.glob(".out.old-*"))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert read_run(out, verify=True).meta["name"] == "previous"


def test_cli_reports_an_interrupted_run(tmp_path: Path) -> None:
    out = tmp_path / "o"
    (tmp_path / ".o.writing-123-abcd").mkdir()
    (tmp_path / ".o.writing-123-abcd" / "cells.parquet").write_bytes(b"PAR1")
    res = CliRunner().invoke(app, ["run", "--out", str(out), "-q", "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "interrupted while writing" in res.output
    assert not (tmp_path / ".o.writing-123-abcd").exists()
    assert is_complete(out)
