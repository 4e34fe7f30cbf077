"""Site selection on the bundled sample: promises kept, outputs, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from lifecircle import cli
from lifecircle.pipeline import RunResult
from lifecircle.site import SiteError, site_selection, write_sites
from lifecircle.study_area import default_area_path

TARGET = "kindergarten_300"


def _inside_points(run: RunResult, k: int, seed: int = 0) -> gpd.GeoDataFrame:
    """``k`` populated uncovered cell centres as WGS-84 candidate points."""
    cells = run.cells
    sel = cells[(cells["pop_age_3_5"] > 0) & ~cells[f"covered__{TARGET}"].fillna(True)
                .astype(bool)]
    pick = sel.sample(k, random_state=seed)
    gdf = gpd.GeoDataFrame({"name": [f"地块{i}" for i in range(k)]},
                           geometry=shapely.points(pick["x"], pick["y"]), crs=run.crs)
    return gdf.to_crs("EPSG:4326")


def test_mclp_promise_is_kept_cell_by_cell(sample_run: RunResult) -> None:
    ans = site_selection(sample_run, category="kindergarten", n=4)
    assert ans.target == TARGET
    assert ans.solution.status == "optimal"
    assert ans.summary["gap"] <= 1e-4
    assert len(ans.sites) == 4
    # ranked by the residents each adds; the marginals add up to the objective
    assert np.all(np.diff(ans.sites["marginal_pop"]) <= 1e-9)
    assert ans.sites["marginal_pop"].sum() == pytest.approx(ans.solution.objective)
    row = ans.targets.set_index("id").loc[TARGET]
    assert abs(row["value_after"] - row["promised"]) < 1e-12
    assert row["value_after"] > row["value_before"]
    # re-running the routing with the sites as facilities covers the promised residents
    after = ans.scenario().evaluate()
    flag_after = after.cells[f"covered__{TARGET}"].fillna(False).to_numpy(dtype=bool)
    flag_before = sample_run.cells[f"covered__{TARGET}"].fillna(False).to_numpy(dtype=bool)
    pop = sample_run.cells["pop_age_3_5"].to_numpy()
    gained = float(pop[flag_after & ~flag_before].sum())
    assert gained == pytest.approx(ans.solution.objective, rel=1e-12)
    assert not np.any(flag_before & ~flag_after)
    # lon/lat, GCJ-02 and units are filled
    assert ans.sites["unit_name__district"].str.len().gt(0).all()
    assert (ans.sites["lon_gcj02"] != ans.sites["lon"]).all()


def test_results_identical_across_runs(sample_run: RunResult) -> None:
    a = site_selection(sample_run, category="kindergarten", n=3)
    b = site_selection(sample_run, category="kindergarten", n=3)
    pd.testing.assert_frame_equal(pd.DataFrame(a.sites.drop(columns="geometry")),
                                  pd.DataFrame(b.sites.drop(columns="geometry")))
    assert a.solution.objective == b.solution.objective


def test_lscp_reaches_the_threshold(sample_run: RunResult) -> None:
    ans = site_selection(sample_run, category="kindergarten", model="lscp", threshold=0.03)
    row = ans.targets.set_index("id").loc[TARGET]
    assert row["value_after"] >= 0.03
    assert abs(row["value_after"] - row["promised"]) < 1e-12
    assert ans.solution.objective == len(ans.sites)
    # one site fewer cannot reach it: the greedy certificate or the MIP bound says so
    assert ans.solution.bound > len(ans.sites) - 1


def test_p_median_objective_matches_rerouting(sample_run: RunResult) -> None:
    ans = site_selection(sample_run, category="kindergarten", model="p_median", n=3)
    limit = ans.summary["max_trip_m"]
    assert limit == pytest.approx(450.0)  # 1.5 × the 300 m reach
    after = ans.scenario().evaluate()
    scope = sample_run.cells[f"covered__{TARGET}"].notna().to_numpy()
    pop = np.where(scope, sample_run.cells["pop_age_3_5"].to_numpy(), 0.0)
    d = np.minimum(np.nan_to_num(after.cells["dist_m__kindergarten"].to_numpy(), nan=limit,
                                 posinf=limit), limit)
    assert float((pop * d).sum()) == pytest.approx(ans.solution.objective, rel=1e-9)
    g = site_selection(sample_run, category="kindergarten", model="p_median", n=3,
                       method="greedy")
    assert g.solution.objective >= ans.solution.objective - 1e-6
    assert g.solution.bound <= ans.solution.objective + 1e-6


def test_p_center_answers_with_sites_and_says_why(sample_run: RunResult) -> None:
    """N = 2 cannot shorten the worst trip at the 450 m cap; the answer says so, names
    how many sites would, and its 2 sites leave the fewest residents at the worst trip
    (checked by re-routing with the sites added)."""
    ans = site_selection(sample_run, category="kindergarten", model="p_center", n=2)
    s = ans.summary
    assert len(ans.sites) == 2
    assert s["worst_after_m"] == s["worst_before_m"] == 450.0
    assert s["sites_to_lower"] > 2
    assert s["at_worst_after_pop"] < s["at_worst_before_pop"]
    assert any("cannot shorten the worst trip" in en for _, en in ans.notes)
    after = ans.scenario().evaluate()
    helpable = ans.solution.detail["helpable"]
    d = np.minimum(np.nan_to_num(after.cells["dist_m__kindergarten"].to_numpy(), nan=450.0,
                                 posinf=450.0), 450.0)
    pop = sample_run.cells["pop_age_3_5"].to_numpy()
    assert d[helpable].max() == pytest.approx(ans.solution.objective)
    at_worst = float(pop[helpable & (d >= ans.solution.objective - 1e-9)].sum())
    assert at_worst == pytest.approx(s["at_worst_after_pop"], rel=1e-9)


def test_generated_candidates_avoid_water_and_existing(sample_run: RunResult) -> None:
    """Generated candidates: none on a water area of the sample's OSM file (read here by
    osmnx), none nearer than min_dist_existing_m to an existing kindergarten."""
    import osmnx as ox

    f = ox.features_from_xml(str(sample_run.area.network.path),
                             tags={"natural": "water", "waterway": "riverbank",
                                   "landuse": ["reservoir", "basin"], "water": True})
    f = f[f.geom_type.isin(["Polygon", "MultiPolygon"])].to_crs(sample_run.crs)
    water = shapely.union_all(f.geometry.to_numpy())
    assert water.area > 500_000  # the Jin and Fu rivers
    kg = sample_run.facilities[sample_run.facilities["category"] == "kindergarten"]
    kxy = np.column_stack([kg.geometry.x, kg.geometry.y])
    wet_without = site_selection(sample_run, category="kindergarten", n=2,
                                 exclude_water=False).candidates
    assert shapely.intersects(water, wet_without.geometry.to_numpy()).sum() >= 1
    for min_d in (100.0, 400.0):
        ans = site_selection(sample_run, category="kindergarten", n=2,
                             min_dist_existing_m=min_d)
        g = ans.candidates.geometry
        assert not shapely.intersects(water, g.to_numpy()).any()
        d = np.hypot(g.x.to_numpy()[:, None] - kxy[None, :, 0],
                     g.y.to_numpy()[:, None] - kxy[None, :, 1]).min(axis=1)
        assert d.min() >= min_d - 1e-6
        assert any("on water" in en and f"within {min_d:g} m" in en for _, en in ans.notes)
    # a larger keep-away distance leaves out more street nodes
    near = [int(en.split(" and ")[1].split()[0]) for _, en in ans.notes if "on water" in en]
    assert near[0] > 5


def test_candidate_file_parcels_with_budget(sample_run: RunResult, tmp_path: Path) -> None:
    pts = _inside_points(sample_run, 12).to_crs(sample_run.crs)
    parcels = pts.copy()
    parcels["geometry"] = pts.buffer(20)  # idle parcels as polygons
    parcels["cost"] = np.arange(1, 13, dtype=float)
    path = tmp_path / "parcels.gpkg"
    parcels.to_file(path, driver="GPKG")
    ans = site_selection(sample_run, category="kindergarten", candidates=path, budget=10.0)
    assert ans.sites["cost"].sum() <= 10.0
    assert len(ans.candidates) == 12
    assert set(ans.sites["name"]) <= set(parcels["name"])
    files = write_sites(ans, tmp_path / "out")
    csv = pd.read_csv(files["sites"], encoding="utf-8-sig")
    assert {"lon", "lat", "lon_gcj02", "lat_gcj02", "unit__district", "marginal_pop"} <= set(
        csv.columns)
    meta = json.loads(files["site_run"].read_text(encoding="utf-8"))
    assert meta["summary"]["model"] == "mclp"
    assert set(gpd.list_layers(files["sites_gpkg"])["name"]) == {"sites", "candidates"}


def test_capacitated_and_least_important(sample_run: RunResult) -> None:
    ans = site_selection(sample_run, category="kindergarten", model="capacitated", n=2,
                         capacity=120.0, existing_capacity=90.0)
    s = ans.summary
    assert s["served_after"] - s["served_before"] == pytest.approx(ans.solution.objective)
    assert 0 < ans.solution.objective <= 240.0 + 1e-9
    # "covered" means a place: shares of the group with a place within reach, before
    # from an independent max flow over the existing kindergartens' catchments
    import networkx as nx

    from lifecircle.site import _demand, _existing_pairs, _pick_target
    target = _pick_target(sample_run, ans.problem)
    dem = _demand(sample_run, target)
    efi, eci, ed = _existing_pairs(sample_run, "kindergarten", dem)
    ok = ed <= dem.reach[eci]
    g = nx.DiGraph()
    for c in np.unique(eci[ok]):
        g.add_edge("s", ("c", int(c)), capacity=float(dem.pop[c]))
    for f, c in zip(efi[ok], eci[ok], strict=True):
        g.add_edge(("c", int(c)), ("f", int(f)), capacity=1e12)
    for f in np.unique(efi[ok]):
        g.add_edge(("f", int(f)), "t", capacity=90.0)
    served = float(nx.maximum_flow_value(g, "s", "t"))
    assert s["served_before"] == pytest.approx(served, rel=1e-9)
    assert s["placed_share_before"] == pytest.approx(served / s["population_base"], rel=1e-9)
    assert s["placed_share_after"] == pytest.approx(s["served_after"] / s["population_base"])
    assert s["placed_share_after"] > s["placed_share_before"]
    filled = ans.sites["places_filled"].sum()
    assert ans.solution.objective - 1e-6 <= filled <= s["served_after"] + 1e-6
    assert (ans.sites["places_filled"] <= 120.0 + 1e-6).all()
    assert (ans.sites["placed_share_after"] == s["placed_share_after"]).all()
    close = site_selection(sample_run, category="kindergarten", model="least_important", n=1)
    assert len(close.sites) == 1
    after = close.scenario().evaluate()
    flag_b = sample_run.cells[f"covered__{TARGET}"].fillna(False).to_numpy(dtype=bool)
    flag_a = after.cells[f"covered__{TARGET}"].fillna(False).to_numpy(dtype=bool)
    pop = sample_run.cells["pop_age_3_5"].to_numpy()
    assert float(pop[flag_b & ~flag_a].sum()) == pytest.approx(close.solution.objective,
                                                               abs=1e-6)


def test_infeasible_threshold_reports_best_reachable(sample_run: RunResult,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "few.geojson"
    _inside_points(sample_run, 3).to_file(path, driver="GeoJSON")
    with pytest.raises(SiteError, match=r"cannot be reached.*best reachable is \d+\.\d+%"):
        site_selection(sample_run, category="kindergarten", model="lscp", threshold=1.0,
                       candidates=path)


def test_bad_questions(sample_run: RunResult, tmp_path: Path) -> None:
    with pytest.raises(SiteError, match=r"unknown category 'kindergarden'.*kindergarten"):
        site_selection(sample_run, category="kindergarden", n=2)
    with pytest.raises(SiteError, match="unknown model"):
        site_selection(sample_run, category="kindergarten", model="pmedian", n=2)
    with pytest.raises(SiteError, match="needs the number of sites"):
        site_selection(sample_run, category="kindergarten")
    path = tmp_path / "two.geojson"
    _inside_points(sample_run, 2).to_file(path, driver="GeoJSON")
    with pytest.raises(SiteError, match="larger than the number of candidates"):
        site_selection(sample_run, category="kindergarten", n=3, candidates=path)
    with pytest.raises(SiteError, match="no walking circle target involves"):
        site_selection(sample_run, category="pharmacy", n=1)


class _Out:
    def __init__(self, result) -> None:
        self.exit_code = result.exit_code
        self.output = " ".join(result.output.split())  # the console wraps long lines


def _cli(args: list[str]) -> _Out:
    return _Out(CliRunner().invoke(cli.app, args))


def test_cli_bad_candidate_files_exit_2_without_outputs(tmp_path: Path) -> None:
    area = str(default_area_path())
    out = tmp_path / "out"
    far = gpd.GeoDataFrame({"name": ["北京"]}, geometry=[shapely.Point(116.4, 39.9)],
                           crs="EPSG:4326")
    far_path = tmp_path / "far.geojson"
    far.to_file(far_path, driver="GeoJSON")
    r = _cli(["site", "-a", area, "-c", "kindergarten", "--add", "1", "--candidates",
              str(far_path), "-o", str(out), "-q"])
    assert r.exit_code == 2
    assert "outside the study area" in r.output
    assert "far.geojson" in r.output
    assert "Traceback" not in r.output
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    r = _cli(["site", "-a", area, "-c", "kindergarten", "--add", "1", "--candidates",
              str(empty), "-o", str(out), "-q"])
    assert r.exit_code == 2
    assert "no candidate" in r.output
    near = gpd.GeoDataFrame(geometry=[shapely.Point(104.07, 30.67)], crs="EPSG:4326")
    near_path = tmp_path / "one.geojson"
    near.to_file(near_path, driver="GeoJSON")
    r = _cli(["site", "-a", area, "-c", "kindergarten", "--add", "5", "--candidates",
              str(near_path), "-o", str(out), "-q"])
    assert r.exit_code == 2
    assert "larger than the number of candidates" in r.output
    r = _cli(["site", "-a", area, "-c", "kindergarten", "--model", "lscp", "--threshold",
              "1.5", "-o", str(out), "-q"])
    assert r.exit_code == 2
    assert not out.exists() or not any(out.iterdir())


def test_write_sites_is_whole_or_nothing(sample_run: RunResult, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ans = site_selection(sample_run, category="kindergarten", n=2)
    ans.sites.loc[0, "name"] = "=HYPERLINK(\"x\")"
    files = write_sites(ans, tmp_path / "ok")
    assert pd.read_csv(files["sites"], encoding="utf-8-sig")["name"].iloc[0].startswith("'=")

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)  # the CSV writer fails midway
    with pytest.raises(OSError, match="disk full"):
        write_sites(ans, tmp_path / "bad")
    left = [p.name for p in (tmp_path / "bad").iterdir()]
    assert left == []
    assert math.isfinite(ans.summary["share_before"])


COMPLEX = ("kindergarten", "nursery", "community_health_station", "eldercare_daycare",
           "community_service_station", "fitness_site")


def test_colocated_complexes_keep_the_completeness_promise(sample_run: RunResult) -> None:
    """Service complexes hosting six 5-minute types, scored on life_circle_5: the promised
    completeness equals the re-evaluated target with every category added at each site."""
    ans = site_selection(sample_run, category="complex", model="colocated", n=3,
                         complex=COMPLEX)
    assert ans.target == "life_circle_5"
    assert ans.solution.status == "optimal"
    assert len(ans.sites) == 3
    assert ans.sites["marginal_pop"].sum() == pytest.approx(ans.solution.objective, rel=1e-12)
    row = ans.targets.set_index("id").loc["life_circle_5"]
    assert row["value_after"] == pytest.approx(row["promised"], abs=1e-12)
    assert row["value_after"] > 0
    assert sorted(ans.scenario().changed_categories()) == sorted(COMPLEX)
    with pytest.raises(SiteError, match=r"nobody in scope has every type it does not host"):
        site_selection(sample_run, category="complex", model="colocated", n=1,
                       complex=("fitness_site", "eldercare_daycare"))
    with pytest.raises(SiteError, match=r"unknown category 'fitnes_site'"):
        site_selection(sample_run, category="complex", model="colocated", n=1,
                       complex=("fitnes_site", "eldercare_daycare"))
    with pytest.raises(SiteError, match=r"needs the categories of a complex"):
        site_selection(sample_run, category="kindergarten", model="colocated", n=1)


def test_cli_complex(tmp_path: Path) -> None:
    out = tmp_path / "cx"
    r = _cli(["site", "-a", str(default_area_path()), "--complex", ",".join(COMPLEX),
              "--add", "2", "-o", str(out), "-q", "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert "co-located service complexes" in r.output
    sites = pd.read_csv(out / "sites.csv", encoding="utf-8-sig")
    assert len(sites) == 2
    assert set(sites["category"]) == {"+".join(COMPLEX)}
    tg = pd.read_csv(out / "site_targets.csv", encoding="utf-8-sig").set_index("id")
    assert tg.loc["life_circle_5", "value_after"] == pytest.approx(
        tg.loc["life_circle_5", "promised"], abs=1e-12)
    meta = json.loads((out / "site_run.json").read_text(encoding="utf-8"))
    assert meta["problem"]["complex"] == list(COMPLEX)


def test_cli_capacitated_reports_shares_with_a_place(tmp_path: Path) -> None:
    out = tmp_path / "cap"
    r = _cli(["site", "-a", str(default_area_path()), "-c", "kindergarten", "--model",
              "capacitated", "--add", "1", "--capacity", "120", "--existing-capacity", "90",
              "-o", str(out), "-q", "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert "Share of the target group (age_3_5) with a place within reach:" in r.output
    sites = pd.read_csv(out / "sites.csv", encoding="utf-8-sig")
    assert {"places_filled", "placed_share_before", "placed_share_after"} <= set(sites.columns)
    meta = json.loads((out / "site_run.json").read_text(encoding="utf-8"))["summary"]
    assert sites["placed_share_after"].iloc[0] == pytest.approx(meta["placed_share_after"])
    assert meta["placed_share_after"] > meta["placed_share_before"] > 0
