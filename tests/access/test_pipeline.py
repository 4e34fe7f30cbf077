"""The whole run on the bundled sample: outputs, conservation, determinism, the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from access.errors import StudyAreaError
from access.travel import dist_to_time_min
from lifecircle.cli import app
from lifecircle.pipeline import RunResult, run
from lifecircle.results import MARKER, read_run, write_run
from lifecircle.study_area import default_area_path, load_study_area
from lifecircle.summary import access_table

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run(load_study_area(default_area_path()))


@pytest.fixture(scope="module")
def outputs(result: RunResult, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_run(result, tmp_path_factory.mktemp("out"), fmt="gpkg")


def test_outputs_written(outputs: dict[str, Path], result: RunResult) -> None:
    for name in ("cells", "facilities", "rejects.csv", "targets.csv", "units.csv", "gaps.csv",
                 "run", "k_nearest", "population_accounting.csv", "completeness.csv",
                 "marker"):
        assert outputs[name].exists(), name
    cells = gpd.read_file(outputs["cells"])
    assert cells.crs.to_epsg() == 32648
    assert len(cells) == len(result.cells)
    # every cell is a 100 m square
    np.testing.assert_allclose(cells.geometry.area, 10_000.0)
    for c in ("pop_total", "snap_dist_m", "dist_m__kindergarten", "time_min__kindergarten",
              "nearest__kindergarten", "unit__district"):
        assert c in cells.columns
    # target flags stay booleans (0/1/null where a cell is outside a target's scope)
    flags = [c for c in cells.columns if c.startswith("covered__")]
    assert flags
    for c in flags:
        assert set(cells[c].dropna().unique()) <= {0, 1}  # True == 1, "True" is not
    meta = json.loads(outputs["run"].read_text(encoding="utf-8"))
    assert meta["crs"] == "EPSG:32648"
    assert meta["networks"]["walk"]["nodes"] == result.networks["walk"].n_nodes


def test_population_conserved_into_cells(result: RunResult, outputs: dict[str, Path]) -> None:
    cells = gpd.read_file(outputs["cells"])
    on_grid = result.population.total()
    assert cells["pop_total"].sum() == pytest.approx(on_grid, rel=1e-9)
    acc = pd.read_csv(outputs["population_accounting.csv"])
    total = acc[acc["group"] == "total"]
    assert total["on_grid"].sum() == pytest.approx(on_grid, rel=1e-9)


def test_times_follow_distances(result: RunResult) -> None:
    cells = result.cells
    for c in result.categories:
        np.testing.assert_allclose(cells[f"time_min__{c}"],
                                   dist_to_time_min(cells[f"dist_m__{c}"], 4.0))
    # unreachable cells have no distance; reachable ones have a snap leg within the limit
    assert np.isinf(cells.loc[~cells["reachable"], "dist_m__hospital"]).all()
    assert (cells.loc[cells["reachable"], "snap_dist_m"] <= 500).all()


def test_sample_network_oracle(result: RunResult) -> None:
    """Cell distances on the sample agree with networkx within 0.5 m."""
    import networkx as nx

    net = result.networks["walk"]
    fac = result.facilities
    sel = fac[(fac["category"] == "kindergarten") & fac["reachable"]]
    g = net.to_networkx()
    for node, leg in zip(sel["node"], sel["snap_dist_m"], strict=True):
        g.add_edge("src", int(node), length_m=float(leg))
    ref = nx.single_source_dijkstra_path_length(g, "src", weight="length_m")
    cells = result.cells[result.cells["reachable"]].sample(300, random_state=0)
    expected = np.array([ref.get(int(n), np.inf) for n in cells["node"]])
    expected = expected + cells["snap_dist_m"].to_numpy()
    expected[expected > result.area.travel.max_walk_dist_m] = np.inf
    got = cells["dist_m__kindergarten"].to_numpy()
    assert np.array_equal(np.isinf(got), np.isinf(expected))
    fin = np.isfinite(got)
    assert np.max(np.abs(got[fin] - expected[fin])) < 0.5


def test_every_facility_row_accounted(result: RunResult) -> None:
    rej = result.rejects.to_frame()
    fac_rej = rej[(rej["kind"] == "facility") & (rej["reason"] != "unreachable")]
    # facilities kept (merged duplicates record every source) + rejected rows = rows read
    kept_rows = result.facilities["sources"].str.count(";").add(1).sum()
    dup = (fac_rej["reason"] == "duplicate").sum()
    assert kept_rows == len(result.facilities) + dup
    assert len(result.facilities) > 150


def test_unreachable_cells_listed(result: RunResult) -> None:
    rej = result.rejects.to_frame()
    cells_rej = rej[rej["kind"] == "cell"]
    bad = result.cells[~result.cells["reachable"] & (result.cells["pop_total"] > 0)]
    assert len(cells_rej) == len(bad)
    assert cells_rej["population"].sum() == pytest.approx(bad["pop_total"].sum())


def test_targets_evaluated(result: RunResult) -> None:
    t = result.targets.targets
    assert set(t["status"]) <= {"met", "not_met", "no_data"}
    assert (t["status"] != "no_data").sum() >= 5
    nd = t[t["status"] == "no_data"]
    assert nd["reason_en"].str.len().gt(0).all()


def test_derived_groups_reach_the_targets(result: RunResult) -> None:
    """Groups derived from a share of the total say so in the targets using them."""
    assert set(result.population.derived_groups) == {"age_60_plus", "age_0_2", "age_3_5"}
    t = result.targets.targets.set_index("id")
    assert "2020 census age structure" in t.loc["eldercare_15", "warning_en"]
    # a total-population target
    assert "2020 census age structure" not in t.loc["health_15", "warning_en"]


def test_deterministic(result: RunResult, outputs: dict[str, Path], tmp_path: Path) -> None:
    again = run(load_study_area(default_area_path()))
    pd.testing.assert_frame_equal(again.cells, result.cells)
    pd.testing.assert_frame_equal(again.facilities.drop(columns="geometry"),
                                  result.facilities.drop(columns="geometry"))
    pd.testing.assert_frame_equal(again.targets.targets, result.targets.targets)
    files = write_run(again, tmp_path / "again", fmt="gpkg")
    for name in ("rejects", "k_nearest", "targets", "units", "gaps", "completeness",
                 "population_accounting"):
        assert files[name].read_bytes() == outputs[name].read_bytes(), name
        if name != "k_nearest":
            csv = f"{name}.csv"
            assert files[csv].read_bytes() == outputs[csv].read_bytes(), csv
    for name in ("cells", "facilities"):
        a, b = gpd.read_file(files[name]), gpd.read_file(outputs[name])
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_cli_run(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["run", "--out", str(tmp_path / "o"), "-q", "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "EPSG:32648" in res.output
    assert "Missing node refs" in res.output  # data-quality counts reach the console
    # residents reaching no clinic, as the summary's own column shows them
    assert "Residents" in res.output
    assert "Plan targets" in res.output or "targets" in res.output.lower()
    # the largest gap area of each failed target, as gaps.csv has it
    assert "Largest gap area of each target not met" in res.output
    gaps = pd.read_csv(tmp_path / "o" / "gaps.csv", encoding="utf-8-sig")
    top = gaps[gaps["rank"] == 1].iloc[0]
    assert f"{top['lon']:.5f}, {top['lat']:.5f}" in res.output
    assert f"{top['residents']:,.0f}" in res.output
    assert (tmp_path / "o" / "cells.parquet").exists()
    assert (tmp_path / "o" / MARKER).exists()
    data = read_run(tmp_path / "o", verify=True)
    assert data.crs.to_epsg() == 32648


def test_cli_bad_area_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "area.toml"
    bad.write_text('[network]\npath = "x.osm"\n[gird]\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["run", "--area", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    # Chinese by default, English with --lang en
    assert "错误：" in res.output
    assert "[gird] 中有未知的键" in res.output or "中有未知的键" in res.output
    assert "是否应为 'grid'" in res.output
    res = CliRunner().invoke(app, ["run", "--area", str(bad), "--out", str(tmp_path / "o"),
                                   "--lang", "en"])
    assert res.exit_code == 2
    assert "Error: " in res.output
    assert "did you mean 'grid'" in res.output


def test_boundary_file_crs_mismatch(tmp_path: Path, sample_dir: Path) -> None:
    d = tmp_path / "a"
    shutil.copytree(sample_dir, d)
    text = (d / "area.toml").read_text(encoding="utf-8")
    text = text.replace('boundary = "osm_bounds"',
                        'boundary = "districts.geojson"\nboundary_crs = "EPSG:4326"')
    (d / "area.toml").write_text(text, encoding="utf-8")
    with pytest.raises(StudyAreaError, match="EPSG:4490") as info:
        load_study_area(d / "area.toml")
    assert info.value.key == "boundary_crs"


def test_units_settlement_column_classifies_cells(tmp_path: Path, sample_dir: Path) -> None:
    d = tmp_path / "a"
    shutil.copytree(sample_dir, d)
    g = gpd.read_file(d / "districts.geojson")
    # Chinese words as planners write them: 城区/街道 urban, 镇 town, 村 village
    g["type"] = ["城区", "urban", "镇", "街道", "村"]
    g.to_file(d / "districts.geojson", driver="GeoJSON")
    text = (d / "area.toml").read_text(encoding="utf-8")
    (d / "area.toml").write_text(
        text.replace('name_column = "name"', 'name_column = "name"\nsettlement_column = "type"'),
        encoding="utf-8")
    res = run(load_study_area(d / "area.toml"))
    table = res.units["district"]
    assert list(table.columns[:3]) == ["unit_id", "name", "settlement"]
    assert dict(zip(table["unit_id"], table["settlement"], strict=True))["156510105"] == "town"
    t = res.targets.targets.set_index("id")
    # with towns and villages classified, their fitness circles are evaluated
    assert t.loc["fitness_15_town", "status"] != "no_data"
    assert t.loc["fitness_20_village", "status"] != "no_data"


def test_unit_population_agrees_everywhere(result: RunResult, outputs: dict[str, Path]) -> None:
    """The units table (dashboard, exports), units.csv and cells.gpkg: one number per unit."""
    units = result.units["district"].set_index("unit_id")
    # cells.gpkg, as a planner would sum it
    cells = gpd.read_file(outputs["cells"])
    by_cell = cells.groupby("unit__district")["pop_total"].sum()
    assert set(by_cell.index) == set(units.index)
    for uid, p in by_cell.items():
        assert units.at[uid, "pop_total"] == pytest.approx(p, rel=1e-12)
    # every resident of the study area is in some unit
    assert cells.loc[cells["pop_total"] > 0, "unit__district"].notna().all()
    assert units["pop_total"].sum() == pytest.approx(result.population.total(), rel=1e-12)
    # units.csv: the persons each circle target counts in a unit are that unit's persons
    # of the target's group
    tu = pd.read_csv(outputs["units.csv"], dtype={"unit_id": str})
    groups = [c for c in units.columns if c.startswith("pop_")]
    on_total = 0
    for r in tu[tu["level"] == "district"].itertuples():
        nums = re.findall(r"\d+", str(r.detail_en))
        if len(nums) < 2:
            continue
        persons = int(nums[-1])
        assert persons in {round(units.at[r.unit_id, g]) for g in groups}, r
        on_total += persons == round(units.at[r.unit_id, "pop_total"])
    assert on_total >= len(units)


def test_every_needed_category_has_its_columns(result: RunResult,
                                               outputs: dict[str, Path]) -> None:
    """A category a target needs gets its columns even with no facility, and a note."""
    cells = gpd.read_file(outputs["cells"])
    present = set(result.facilities["category"])
    empty = [c for c in result.categories if c not in present]
    assert "eldercare_institution" in empty  # the sample has no nursing home
    for c in empty:
        for p in ("dist_m", "time_min", "nearest", "drive_time_min"):
            assert f"{p}__{c}" in cells.columns
            assert cells[f"{p}__{c}"].isna().all()
        assert any(f"dist_m__{c}" in en for _, en in result.notes)
    meta = json.loads(outputs["run"].read_text(encoding="utf-8"))
    assert len(meta["notes"]) == len(result.notes) >= len(empty)
    # targets needing only empty categories still say no data, never 0 %
    t = result.targets.targets.set_index("id")
    assert t.loc["eldercare_15", "status"] == "no_data"


def test_summary_counts_unreachable_residents_per_category(result: RunResult) -> None:
    rows = {r["category"]: r for r in access_table(result)}
    pop = result.cells["pop_total"].to_numpy(float)
    for c, row in rows.items():
        far = ~np.isfinite(result.cells[f"dist_m__{c}"].to_numpy(float))
        assert row["unreachable_pop"] == pytest.approx(pop[far].sum())
        assert row["unreachable_cells"] == int((far & (pop > 0)).sum())
        assert row["unreachable_pop"] <= pop.sum()
        within = row["within_15"] * pop.sum()
        assert within <= pop.sum() - row["unreachable_pop"] + 1e-6
    # residents of cells off the network reach nothing, whatever the category
    off = pop[~result.cells["reachable"].to_numpy()].sum()
    assert off > 0
    assert all(r["unreachable_pop"] >= off - 1e-6 for r in rows.values())
    assert rows["eldercare_institution"]["unreachable_pop"] == pytest.approx(pop.sum())


_ASCII_ONLY = re.compile(r"^[\x00-\x7f]+$")
_WORD = re.compile(r"[A-Za-z]{3,}")
# input data quoted as it is (names, file names, ids, OSM tags), never our sentences
_DATA_COLUMNS = {"name", "source", "sources", "source_row", "row", "facility_id", "cell_id",
                 "unit_id", "nearest", "category", "kind", "reason", "target_id", "id",
                 "level", "status", "group", "unit", "comparison", "confidence", "scope",
                 "area_base", "ownership", "admin_code", "outline_wkt", "cell_ids"}


def _sentences(values: pd.Series) -> list[str]:
    """ASCII-only texts of two or more words: English sentences."""
    out = []
    for v in values.dropna().astype(str):
        if _ASCII_ONLY.match(v) and " " in v.strip() and len(_WORD.findall(v)) >= 2:
            out.append(v)
    return out


def test_outputs_are_chinese_by_default(outputs: dict[str, Path]) -> None:
    """No English sentence in a text column of a default run's files (``*_en`` aside)."""
    found = {}
    for key, path in outputs.items():
        if path.suffix == ".csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif path.suffix == ".gpkg":
            df = pd.DataFrame(gpd.read_file(path).drop(columns="geometry")).astype(str)
        elif path.suffix == ".parquet":
            df = pd.read_parquet(path).drop(columns="geometry", errors="ignore").astype(str)
        else:
            continue
        for c in df.columns:
            base = c.split("__")[0]
            if c.endswith("_en") or base in _DATA_COLUMNS:
                continue
            hits = _sentences(df[c])
            if hits:
                found[f"{key}.{c}"] = hits[0]
    meta = json.loads(outputs["run"].read_text(encoding="utf-8"))
    for k in ("population_notes", "notes"):
        for note in meta[k]:
            assert not _sentences(pd.Series([note["zh"]])), note
    assert not found, found
    # the checker itself finds an English sentence
    assert _sentences(pd.Series(["covered 38141 of 58098 persons", "覆盖 38141 人", "0.5"])) \
        == ["covered 38141 of 58098 persons"]


_CJK = re.compile(r"[\u4e00-\u9fff]")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOG_LINE = re.compile(r"^(\S+) ([\w.]+)(：|: )(.*)$")


def _cli_stderr(tmp_path: Path, *args: str) -> list[str]:
    """Lines (and progress-bar frames) ``lifecircle run -v`` writes to stderr."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", "import app; app.cli()", "run", "--out", str(tmp_path / "o"),
         "--no-history", "-v", *args], env=env, capture_output=True, text=True,
        timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = _ANSI.sub("", proc.stderr)
    # a log line may follow a progress-bar frame on the same line: split before it
    text = re.sub(r"(?=(信息|警告|错误|INFO|WARNING|ERROR) [\w.]+(：|: ))", "\n", text)
    return [seg.strip() for seg in re.split(r"[\r\n]", text) if seg.strip()]


def test_cli_log_is_chinese_by_default(tmp_path: Path) -> None:
    """With -v every log line and progress bar on stderr is Chinese; English with --lang en."""
    lines = _cli_stderr(tmp_path)
    logs = [m for m in map(_LOG_LINE.match, lines) if m and m.group(1) in
            ("信息", "警告", "错误", "INFO", "WARNING", "ERROR")]
    assert len(logs) >= 10  # each stage logs what it did
    for m in logs:
        assert m.group(1) in ("信息", "警告", "错误"), m.group(0)
        assert _CJK.search(m.group(4)), m.group(0)
    assert any("数据中没有目标所需的" in m.group(4) for m in logs)
    # no English sentence anywhere: log lines, progress bars, anything else
    assert not _sentences(pd.Series(lines)), _sentences(pd.Series(lines))[:3]
    bars = [seg for seg in lines if "%|" in seg]
    assert bars
    assert all(_CJK.search(seg.split("%|")[0]) for seg in bars), bars[:3]
    # --lang en: the same messages in English
    en = _cli_stderr(tmp_path, "--lang", "en")
    en_logs = [m for m in map(_LOG_LINE.match, en) if m and m.group(1) in ("INFO", "WARNING")]
    assert len(en_logs) >= 10  # (the first run may have built a network the second reads)
    assert any("no facilities in the data for" in m.group(4) for m in en_logs)
    # English sentences (Chinese only where the data is: names, labels)
    assert all(len(_WORD.findall(m.group(4))) >= 2 for m in en_logs), en_logs


def test_facilities_without_names_get_a_label(result: RunResult,
                                              outputs: dict[str, Path]) -> None:
    fac = gpd.read_file(outputs["facilities"])
    assert (fac["name"].str.strip() != "").all()
    gen = fac[fac["name_generated"].astype(bool)]
    assert len(gen) > 0
    units = dict(zip(result.unit_polygons["district"]["unit_id"],
                     result.unit_polygons["district"]["name"], strict=True))
    for r in gen.itertuples():
        assert r.name.startswith(result.taxonomy.label(r.category, "zh"))
        assert r.source_row in r.name
        if isinstance(r.unit__district, str):
            assert units[r.unit__district] in r.name
    comp = pd.read_csv(outputs["completeness.csv"]).set_index("category")
    assert comp["unnamed"].sum() == len(gen)
    per = gen["category"].value_counts()
    for c, n in per.items():
        assert comp.loc[c, "unnamed"] == n
