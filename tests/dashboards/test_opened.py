"""The dashboard opens a finished run folder instead of recomputing it."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lifecircle.scenario as scenario_module
from access.errors import ConfigError, IncompleteRunError
from dashboards.opened import NetworkChangedError, OpenedRun, open_run
from dashboards.state import DashboardState, serve_plan, set_state
from dashboards.store import ScenarioStore, path_beside
from lifecircle.pipeline import RunResult
from lifecircle.results import MARKER, write_run
from lifecircle.scenario import Scenario
from lifecircle.study_area import default_area_path


@pytest.fixture(scope="module")
def run_dir(sample_result: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results") / "run"
    write_run(sample_result, out)
    return out


@pytest.fixture(scope="module")
def opened(run_dir: Path) -> OpenedRun:
    return open_run(run_dir)


def test_opened_run_shows_what_the_run_computed(sample_result: RunResult,
                                                opened: OpenedRun) -> None:
    r = opened.result
    assert r.networks == {}  # nothing loaded for display
    assert "nearest__kindergarten" not in r.cells  # columns the pages do not draw wait
    assert r.categories == sample_result.categories
    cols = list(r.cells.columns)
    pd.testing.assert_frame_equal(r.cells, sample_result.cells[cols])
    for name in ("targets", "units", "cell_flags", "gaps"):
        pd.testing.assert_frame_equal(getattr(r.targets, name),
                                      getattr(sample_result.targets, name), obj=name)
    for level, table in sample_result.units.items():
        pd.testing.assert_frame_equal(r.units[level], table)
    pd.testing.assert_frame_equal(r.completeness, sample_result.completeness)
    assert r.population.total() == pytest.approx(sample_result.population.total(), rel=1e-12)
    for g, grid in sample_result.population.groups.items():
        np.testing.assert_allclose(r.population.groups[g], grid)
    assert r.population.derived_groups == sample_result.population.derived_groups
    assert r.boundary.equals_exact(sample_result.boundary, 1e-6)


def test_routable_equals_the_run_and_scenarios_agree(sample_result: RunResult,
                                                     opened: OpenedRun) -> None:
    rb = opened.routable()
    assert opened.ready
    assert set(rb.networks) == set(sample_result.networks)
    # every cell column back, the joins to the networks recomputed exactly
    pd.testing.assert_frame_equal(rb.cells[list(sample_result.cells.columns)],
                                  sample_result.cells)
    for k in ("node", *(f"{m}_node" for m in sample_result.networks if m != "walk")):
        np.testing.assert_array_equal(rb.facilities[k].to_numpy(),
                                      sample_result.facilities[k].to_numpy())
    fac = sample_result.facilities
    k = fac[fac["category"] == "kindergarten"].iloc[0]
    clinic = str(fac[fac["category"] == "clinic"]["facility_id"].iloc[0])
    out = []
    for base in (sample_result, rb):
        sc = Scenario(base)
        sc.add("kindergarten", float(k["lon"]) + 0.004, float(k["lat"]) - 0.003, capacity=90)
        sc.remove(clinic)
        out.append(sc.evaluate())
    for name in ("targets", "units", "cell_flags", "gaps"):
        pd.testing.assert_frame_equal(getattr(out[0].targets, name),
                                      getattr(out[1].targets, name), obj=name)


def test_changed_street_file_refuses_what_if(run_dir: Path) -> None:
    o = open_run(run_dir)
    o.meta["networks"]["walk"]["sha256"] = "0" * 64
    with pytest.raises(NetworkChangedError, match="lifecircle run"):
        o.routable()


def test_open_requires_the_completion_marker(run_dir: Path, tmp_path: Path) -> None:
    half = tmp_path / "half"
    shutil.copytree(run_dir, half)
    (half / MARKER).unlink()
    with pytest.raises(IncompleteRunError, match="_COMPLETE"):
        open_run(half)


def test_serve_plan(run_dir: Path, tmp_path: Path) -> None:
    # nothing there: the bundled sample is run once
    plan = serve_plan(tmp_path / "new")
    assert (plan.action, plan.area) == ("run", default_area_path())
    assert "once" in plan.message[1]
    assert "一次" in plan.message[0]
    # a finished run is opened as it is
    plan = serve_plan(run_dir)
    assert plan.action == "open"
    assert "nothing is recomputed" in plan.message[1]
    plan = serve_plan(run_dir, default_area_path())
    assert plan.action == "open"
    # a finished run of another study area is not replaced
    other = tmp_path / "other.toml"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="another study area"):
        serve_plan(run_dir, other)
    # half-written results are never opened
    half = tmp_path / "half"
    shutil.copytree(run_dir, half)
    (half / MARKER).unlink()
    with pytest.raises(IncompleteRunError):
        serve_plan(half)
    assert serve_plan(half, default_area_path()).action == "run"


def test_serve_plan_runs_again_when_the_study_area_changed(run_dir: Path,
                                                           tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    meta = json.loads((copy / "run.json").read_text(encoding="utf-8"))
    meta["study_area_sha256"] = "0" * 64
    data = json.dumps(meta).encode("utf-8")
    (copy / "run.json").write_bytes(data)
    marker = json.loads((copy / MARKER).read_text(encoding="utf-8"))
    marker["files"]["run.json"]["bytes"] = len(data)
    (copy / MARKER).write_text(json.dumps(marker), encoding="utf-8")
    assert serve_plan(copy, default_area_path()).action == "run"
    plan = serve_plan(copy)  # without --area: opened, with a note
    assert plan.action == "open"
    assert plan.warning is not None
    assert "changed" in plan.warning[1]


def test_saved_scenarios_survive_a_new_run(sample_result: RunResult, tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_run(sample_result, out)
    st = DashboardState(sample_result, out_dir=out)
    set_state(st)
    edits = [{"action": "add", "category": "kindergarten", "lon": 104.07, "lat": 30.66}]
    st.store.save("新幼儿园", edits, author="wang")
    assert st.store.path == path_beside(out)
    assert not st.store.path.is_relative_to(out)
    write_run(sample_result, out)  # a new run replaces the folder as a whole
    again = ScenarioStore.for_results(out)
    saved = again.get("新幼儿园")
    assert saved is not None
    assert saved.edits == edits
    assert saved.author == "wang"


def test_scenarios_kept_inside_by_an_earlier_version_move_beside(tmp_path: Path) -> None:
    out = tmp_path / "run"
    old = ScenarioStore(out)  # <out>/scenarios.sqlite, as before
    old.save("a", [], author="li")
    moved = ScenarioStore.for_results(out)
    assert moved.path == path_beside(out)
    assert [s.name for s in moved.list()] == ["a"]


def test_cells_join_other_networks_only_when_asked(run_dir: Path,
                                                   sample_result: RunResult) -> None:
    o = open_run(run_dir)
    walk = o.routable(("walk",))
    others = [m for m in sample_result.networks if m != "walk"]
    assert "node" in walk.cells
    assert not any(f"{m}_node" in walk.cells for m in others)
    full = o.routable()
    for m in others:
        np.testing.assert_array_equal(full.cells[f"{m}_node"].to_numpy(),
                                      sample_result.cells[f"{m}_node"].to_numpy())
    assert "node" in walk.cells  # the frame handed out before is left as it was
    assert not any(f"{m}_node" in walk.cells for m in others)


def test_dashboard_what_if_on_an_opened_run_equals_the_run(run_dir: Path,
                                                          sample_result: RunResult) -> None:
    """A scenario through the dashboard's cache (joins loaded as needed) equals the
    same scenario evaluated on the run computed in this process."""
    o = open_run(run_dir)
    st = DashboardState(o.result, opened=o, out_dir=run_dir)
    set_state(st)
    fac = sample_result.facilities
    clinic = fac[fac["category"] == "clinic"].iloc[0]
    edits = [{"action": "add", "category": "clinic", "lon": float(clinic["lon"]) + 0.01,
              "lat": float(clinic["lat"])},
             {"action": "remove", "facility_id": str(clinic["facility_id"])}]
    view = st.cache.view(edits)
    sc = Scenario(sample_result)
    sc.add("clinic", float(clinic["lon"]) + 0.01, float(clinic["lat"]))
    sc.remove(str(clinic["facility_id"]))
    ref = sc.evaluate(only_changed=False)
    for name in ("targets", "units", "cell_flags", "gaps"):
        pd.testing.assert_frame_equal(getattr(view.targets, name),
                                      getattr(ref.targets, name), obj=name)


def test_warm_prepares_the_first_edit_and_changes_no_result(run_dir: Path,
                                                           sample_result: RunResult) -> None:
    """A served page loads the walking joins in the background, the what-if page then
    works out the cells' settlement and unit codes; the first edit reuses that work and
    gives the same scorecard as a full re-evaluation on the run computed in this
    process."""
    o = open_run(run_dir)
    st = DashboardState(o.result, opened=o, out_dir=run_dir)
    set_state(st)
    st.warm()  # a page was served: the networks load
    for t in [t for t in threading.enumerate() if t.name == "load-networks"]:
        t.join(timeout=120)
    assert o.ready
    rb = o.routable(("walk",))
    assert not scenario_module._shared_entry(rb).prepared
    st.warm(whatif=True)  # the what-if page is shown: its first edit is prepared
    for t in [t for t in threading.enumerate() if t.name == "load-networks"]:
        t.join(timeout=120)
    assert scenario_module._shared_entry(rb).prepared
    shared = scenario_module._shared_work(rb)
    assert {"settlement", "settlement_codes", "cell_units"} <= set(shared)
    kept = dict(shared["cell_units"])
    fac = sample_result.facilities
    k = fac[fac["category"] == "kindergarten"].iloc[0]
    edits = [{"action": "add", "category": "kindergarten", "lon": float(k["lon"]) + 0.004,
              "lat": float(k["lat"]) - 0.003}]
    view = st.cache.view(edits)
    assert all(shared["cell_units"][lv] is v for lv, v in kept.items())  # reused
    sc = Scenario(sample_result)
    sc.add("kindergarten", float(k["lon"]) + 0.004, float(k["lat"]) - 0.003)
    ref = sc.evaluate(only_changed=False)
    for name in ("targets", "units", "cell_flags", "gaps"):
        pd.testing.assert_frame_equal(getattr(view.targets, name),
                                      getattr(ref.targets, name), obj=name)
