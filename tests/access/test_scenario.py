"""What-if scenarios: edits reroute only what changed, and agree with a full recomputation."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lifecircle.scenario as scenario_module
from access.crs import metric_to_lonlat
from access.travel import nearest_facilities
from lifecircle.pipeline import RunResult, run
from lifecircle.scenario import (
    Scenario,
    ScenarioError,
    compare_scenarios,
    load_scenarios,
    prepare_scenarios,
    save_scenarios,
)
from lifecircle.study_area import default_area_path, load_study_area


@pytest.fixture(scope="module")
def base() -> RunResult:
    return run(load_study_area(default_area_path()))


def _value(targets: pd.DataFrame, tid: str) -> float:
    return float(targets.set_index("id").loc[tid, "value"])


def worst_served_lonlat(base: RunResult, category: str) -> tuple[float, float]:
    """Centre of the populated reachable cell farthest from ``category``."""
    cells = base.cells[base.cells["reachable"] & base.cells["in_area"]
                       & (base.cells["pop_total"] > 0)]
    d = cells[f"dist_m__{category}"].replace(np.inf, 1e9)
    far = cells.loc[d.idxmax()]
    lon, lat = metric_to_lonlat(np.array([far["x"]]), np.array([far["y"]]), base.crs)
    return float(lon[0]), float(lat[0])


def test_no_edits_changes_nothing(base: RunResult) -> None:
    res = Scenario(base).evaluate()
    pd.testing.assert_frame_equal(res.targets.targets, base.targets.targets)
    assert res.changed_categories == []


def test_adding_raises_coverage_and_matches_full_routing(base: RunResult) -> None:
    lon, lat = worst_served_lonlat(base, "kindergarten")
    sc = Scenario(base, name="new kindergarten")
    fid = sc.add("kindergarten", lon, lat, name="新建幼儿园", capacity=180)
    res = sc.evaluate()
    assert res.changed_categories == ["kindergarten"]
    assert fid in set(res.facilities["facility_id"])
    before = _value(base.targets.targets, "kindergarten_300")
    after = _value(res.targets.targets, "kindergarten_300")
    assert after > before
    # distances and drive times never grow when a facility is added
    assert (res.cells["dist_m__kindergarten"] <= base.cells["dist_m__kindergarten"]).all()
    assert (res.cells["drive_time_min__kindergarten"]
            <= base.cells["drive_time_min__kindergarten"]).all()
    assert (res.cells["drive_time_min__kindergarten"]
            < base.cells["drive_time_min__kindergarten"]).any()
    # other categories are untouched
    np.testing.assert_array_equal(res.cells["dist_m__hospital"], base.cells["dist_m__hospital"])
    # the rerouted column equals a full routing of the edited facility table
    fac = res.facilities
    sel = fac["category"] == "kindergarten"
    full = nearest_facilities(base.networks["walk"], base.cells["node"].to_numpy(),
                              base.cells["snap_dist_m"].to_numpy(),
                              fac.loc[sel, "node"].to_numpy(),
                              fac.loc[sel, "snap_dist_m"].to_numpy(),
                              ["kindergarten"] * int(sel.sum()),
                              max_cost=base.area.travel.max_walk_dist_m)
    np.testing.assert_allclose(res.cells["dist_m__kindergarten"].to_numpy(), full.cost[0])


def test_removing_never_raises_coverage(base: RunResult) -> None:
    sc = Scenario(base, name="closure")
    kg = base.facilities[base.facilities["category"] == "kindergarten"]
    sc.remove(str(kg["facility_id"].iloc[0]))
    res = sc.evaluate()
    assert (res.cells["dist_m__kindergarten"] >= base.cells["dist_m__kindergarten"]).all()
    assert _value(res.targets.targets, "kindergarten_300") <= _value(
        base.targets.targets, "kindergarten_300")
    assert len(res.facilities) == len(base.facilities) - 1


def test_removing_the_last_facility_of_a_category(base: RunResult) -> None:
    sc = Scenario(base)
    for fid in base.facilities.loc[base.facilities["category"] == "nursery", "facility_id"]:
        sc.remove(str(fid))
    res = sc.evaluate()
    assert "dist_m__nursery" not in res.cells.columns
    row = res.targets.targets.set_index("id").loc["nursery_300"]
    assert row["status"] == "no_data"


def test_bad_edits(base: RunResult) -> None:
    sc = Scenario(base)
    with pytest.raises(ScenarioError, match="did you mean 'kindergarten'"):
        sc.add("kindergarden", 104.08, 30.69)
    with pytest.raises(ScenarioError, match="outside the study area"):
        sc.add("kindergarten", 116.4, 39.9)
    with pytest.raises(ScenarioError, match="no facility with id"):
        sc.remove("nope")


def test_save_load_compare(base: RunResult, tmp_path: Path) -> None:
    a = Scenario(base, name="甲")
    lon, lat = worst_served_lonlat(base, "primary_school")
    a.add("primary_school", lon, lat, name="新小学")
    b = Scenario(base, name="乙")
    b.remove(str(base.facilities["facility_id"].iloc[0]))
    path = save_scenarios([a, b], tmp_path / "s.json")
    again = load_scenarios(path, base)
    assert [s.name for s in again] == ["甲", "乙"]
    assert again[0].edits == a.edits
    table = compare_scenarios([again[0].evaluate(), again[1].evaluate()], base=base)
    assert {"base:value", "甲:value", "乙:value", "甲:status"} <= set(table.columns)
    assert len(table) == len(base.targets.targets)


def test_scenarios_of_one_run_share_the_cells_work(base: RunResult) -> None:
    """The second scenario on a base reuses the cells' settlement and unit codes and
    still equals a full re-evaluation (which works them out afresh)."""
    fac = base.facilities
    clinics = fac[fac["category"] == "clinic"]["facility_id"].astype(str).tolist()
    for fid in clinics[:2]:
        sc = Scenario(base)
        sc.remove(fid)
        fast, full = sc.evaluate(), sc.evaluate(only_changed=False)
        for name in ("targets", "units", "cell_flags", "gaps"):
            pd.testing.assert_frame_equal(getattr(fast.targets, name),
                                          getattr(full.targets, name), obj=name)
    shared = scenario_module._shared_work(base)
    assert "settlement" in shared
    assert shared["cell_units"]


def _kindergarten_added(base: RunResult) -> Scenario:
    sc = Scenario(base)
    sc.add("kindergarten", *worst_served_lonlat(base, "kindergarten"), capacity=90)
    return sc


def test_first_scenario_on_a_prepared_base_equals_one_on_a_fresh_base(base: RunResult,
                                                                       ) -> None:
    """The work done ahead (in the dashboard, when a run is opened) changes no result:
    the first scenario on a prepared base equals the same scenario on a base never
    prepared, and the full re-evaluation."""
    prepared, fresh = dataclasses.replace(base), dataclasses.replace(base)
    prepare_scenarios(prepared)
    shared = scenario_module._shared_work(prepared)
    levels = {c.removeprefix("unit__") for c in base.cells.columns if c.startswith("unit__")}
    assert {"settlement", "settlement_codes"} <= set(shared)
    assert set(shared["cell_units"]) == levels
    assert not scenario_module._shared_work(fresh)
    prepare_scenarios(prepared)  # once per base: the work is kept, not redone
    assert scenario_module._shared_work(prepared) is shared
    a = _kindergarten_added(prepared).evaluate()
    b = _kindergarten_added(fresh).evaluate()
    full = _kindergarten_added(fresh).evaluate(only_changed=False)
    for name in ("targets", "units", "cell_flags", "gaps"):
        pd.testing.assert_frame_equal(getattr(a.targets, name), getattr(b.targets, name),
                                      obj=name)
        pd.testing.assert_frame_equal(getattr(a.targets, name),
                                      getattr(full.targets, name), obj=name)
    pd.testing.assert_frame_equal(a.cells, b.cells)


def test_scenario_evaluated_while_the_base_is_prepared(base: RunResult) -> None:
    """A scenario evaluated while another thread prepares its base waits for that work
    and gives the same result."""
    want = _kindergarten_added(dataclasses.replace(base)).evaluate()
    prepared = dataclasses.replace(base)
    worker = threading.Thread(target=prepare_scenarios, args=(prepared,))
    worker.start()
    got = _kindergarten_added(prepared).evaluate()
    worker.join()
    pd.testing.assert_frame_equal(got.targets.targets, want.targets.targets)
    pd.testing.assert_frame_equal(got.cells, want.cells)


@pytest.mark.parametrize("edit", ["add_kindergarten", "remove_clinic", "add_new_category",
                                  "move_school"])
def test_targeted_evaluation_equals_full_evaluation(base: RunResult, edit: str) -> None:
    """Re-evaluating only the targets of the changed categories gives every table of a
    full re-evaluation, row for row and cell for cell."""
    sc = Scenario(base)
    fac = base.facilities
    if edit == "add_kindergarten":
        sc.add("kindergarten", *worst_served_lonlat(base, "kindergarten"), capacity=90)
    elif edit == "remove_clinic":
        sc.remove(str(fac[fac["category"] == "clinic"]["facility_id"].iloc[0]))
    elif edit == "add_new_category":
        missing = sorted(set(base.taxonomy.categories) - set(fac["category"]))
        cat = "community_health_centre" if "community_health_centre" in missing else missing[0]
        sc.add(cat, *worst_served_lonlat(base, "primary_school"))
    else:
        row = fac[fac["category"] == "primary_school"].iloc[0]
        sc.remove(str(row["facility_id"]))
        sc.add("primary_school", *worst_served_lonlat(base, "primary_school"))
    fast = sc.evaluate(only_target_modes=True)
    full = sc.evaluate(only_changed=False)
    assert fast.changed_categories == full.changed_categories
    for name in ("targets", "units", "cell_flags", "gaps"):
        pd.testing.assert_frame_equal(getattr(fast.targets, name),
                                      getattr(full.targets, name), check_dtype=True,
                                      obj=name)
    # every column the targeted evaluation keeps equals the full one; it leaves out
    # only e-bike/car times of changed categories that no target of theirs uses
    left_out = set(full.cells.columns) - set(fast.cells.columns)
    assert all(c.split("__")[0] in ("ebike_time_min", "drive_time_min")
               and c.split("__")[1] in fast.changed_categories for c in left_out)
    assert set(fast.cells.columns) <= set(full.cells.columns)
    cols = sorted(fast.cells.columns)
    pd.testing.assert_frame_equal(fast.cells[cols], full.cells[cols])
    # something did change, and unrelated targets kept the base verdicts
    assert not fast.targets.targets.equals(base.targets.targets)
