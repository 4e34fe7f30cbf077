"""What-if scenarios: add or remove facilities and see coverage and targets change.

A :class:`Scenario` holds edits to a base run's facility table. :meth:`Scenario.evaluate`
reroutes only the categories the edits touch (one multi-source search each), then
re-evaluates the targets. Scenarios are plain data: they save to and load from JSON
(:func:`save_scenarios`, :func:`load_scenarios`) and compare side by side
(:func:`compare_scenarios`).
"""

from __future__ import annotations

import json
import math
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from access.crs import lonlat_to_metric
from access.errors import LifecircleError, suggest
from access.targets import RoutedTarget, Target, TargetResults, load_catalogue
from facilities import completeness_check
from lifecircle.pipeline import (
    RunResult,
    evaluate_area_targets,
    prepare_area_targets,
    target_categories,
    unit_of_points,
)
from lifecircle.routing import (
    ROUTED_PREFIXES,
    catchment_function,
    routed_frame,
    snap_to_networks,
)

__all__ = ["Edit", "Scenario", "ScenarioError", "ScenarioResult", "base_catalogue",
           "compare_scenarios", "load_scenarios", "merge_target_results", "prepare_scenarios",
           "save_scenarios", "target_modes"]

#: Prefixes of the per-target columns of :attr:`access.targets.TargetResults.cell_flags`.
FLAG_PREFIXES = ("covered__", "missing_types__", "score__")

_CATALOGUES: dict[tuple[int, int], tuple[Any, list[Target]]] = {}
_SHARED: dict[int, _Shared] = {}
_SHARED_LOCK = threading.Lock()


@dataclass
class _Shared:
    """Per-cell target work of one base run (:func:`_shared_work`)."""

    base: weakref.ref[RunResult]
    work: dict[str, Any] = field(default_factory=dict)
    #: held while :func:`prepare_scenarios` fills ``work``
    lock: threading.Lock = field(default_factory=threading.Lock)
    prepared: bool = False


def _shared_entry(base: RunResult) -> _Shared:
    with _SHARED_LOCK:
        hit = _SHARED.get(id(base))
        if hit is not None and hit.base() is base:
            return hit
        for k in [k for k, e in _SHARED.items() if e.base() is None]:
            del _SHARED[k]
        entry = _Shared(weakref.ref(base))
        _SHARED[id(base)] = entry
        return entry


def _shared_work(base: RunResult) -> dict[str, Any]:
    """Per-cell target work kept across the scenarios of ``base``.

    A scenario changes facilities and times, never the cells' rows, units or
    settlement classes, so each cell's settlement and unit codes are worked out
    once per base run (:attr:`access.targets.TargetInputs.shared`). Waits for a
    :func:`prepare_scenarios` of ``base`` in progress (its work is then reused).
    """
    entry = _shared_entry(base)
    with entry.lock:
        return entry.work


def prepare_scenarios(base: RunResult) -> None:
    """Do now the per-cell work the first scenario evaluated on ``base`` would do.

    Each cell's settlement class and unit codes (:func:`_shared_work`) are worked
    out once per base run: the first what-if edit otherwise pays for them. Meant to
    run in the background once a run is opened; a scenario evaluated meanwhile
    waits for it instead of doing the same work twice. The results are the same
    with or without it.
    """
    entry = _shared_entry(base)
    with entry.lock:
        if entry.prepared:
            return
        base_catalogue(base)
        prepare_area_targets(base.area, base.cells, base.facilities, base.units,
                             base.population, shared=entry.work)
        entry.prepared = True


def base_catalogue(base: RunResult) -> list[Target]:
    """The target catalogue of ``base``'s study area, read once per run object."""
    key = (id(base.area), id(base.area.targets))
    hit = _CATALOGUES.get(key)
    if hit is not None and hit[0] is base.area:
        return hit[1]
    area = base.area
    cat = load_catalogue(overrides=area.targets, base_dir=area.base_dir,
                         config_path=area.path)
    if len(_CATALOGUES) > 32:
        _CATALOGUES.clear()
    _CATALOGUES[key] = (area, cat)
    return cat


def target_modes(base: RunResult, categories: Iterable[str]) -> set[str]:
    """Travel modes the targets counting any of ``categories`` use (walking always)."""
    cats = set(categories)
    modes = {"walk"}
    for t in base_catalogue(base):
        if isinstance(t, RoutedTarget) and target_categories([t]) & cats:
            modes.update(t.modes_used)
    return modes


def _flag_target(column: str) -> str:
    """Target id of a cell-flag column (``covered__<id>`` ...), "" for others."""
    for p in FLAG_PREFIXES:
        if column.startswith(p):
            return column[len(p):]
    return ""


def merge_target_results(base: TargetResults, fresh: TargetResults,
                         order: list[str]) -> TargetResults:
    """``base`` with the targets of ``fresh`` replaced, rows in catalogue ``order``.

    Verdict rows, unit rows, cell flags and gaps of the targets ``fresh`` holds come
    from ``fresh``; all others stay as in ``base``.
    """
    redo = set(fresh.targets["id"])
    rank = {tid: i for i, tid in enumerate(order)}

    def merged(a: pd.DataFrame, b: pd.DataFrame, col: str) -> pd.DataFrame:
        keep = a[~a[col].isin(redo)]
        parts = [f for f in (keep, b) if len(f)]
        if not parts:
            return a.iloc[:0]
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        pos = out[col].map(rank).fillna(len(rank))
        return out.iloc[np.argsort(pos.to_numpy(), kind="stable")].reset_index(drop=True)

    targets = merged(base.targets, fresh.targets, "id")
    targets["met"] = targets["met"].astype(object)
    flags = base.cell_flags.drop(columns=[c for c in base.cell_flags.columns
                                          if _flag_target(c) in redo])
    new_flags = fresh.cell_flags.drop(columns="cell_id")
    flags = pd.concat([flags.reset_index(drop=True),
                       new_flags.reset_index(drop=True)], axis=1)
    cols = ["cell_id", *sorted((c for c in flags.columns if c != "cell_id"),
                               key=lambda c: rank.get(_flag_target(c), len(rank)))]
    return TargetResults(targets=targets, units=merged(base.units, fresh.units, "target_id"),
                         cell_flags=flags[cols], gaps=merged(base.gaps, fresh.gaps, "target_id"))


def _with_flags(cells: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """``cells`` with the target flag columns of ``flags`` joined on ``cell_id``.

    The engine gives the flags in the cells' own row order: then they are put side
    by side (a join on 640,000 ids costs more than the rest of the step).
    """
    ids = flags["cell_id"].to_numpy()
    if len(ids) == len(cells) and np.array_equal(ids, cells["cell_id"].to_numpy()):
        return pd.concat([cells, flags.drop(columns="cell_id").set_axis(cells.index)],
                         axis=1)
    return cells.join(flags.set_index("cell_id"), on="cell_id")


class ScenarioError(LifecircleError, ValueError):
    """An edit that cannot be applied (unknown category or facility, point off the map)."""


@dataclass(frozen=True)
class Edit:
    """One change to the facility table.

    Attributes
    ----------
    action
        ``"add"`` or ``"remove"``.
    category
        Category key of the facility.
    facility_id
        Id of the removed facility, or the id given to an added one.
    lon, lat
        WGS-84 position of an added facility.
    name
        Name of an added facility.
    capacity
        Capacity of an added facility (beds, places), NaN if unknown.
    """

    action: Literal["add", "remove"]
    category: str
    facility_id: str
    lon: float = math.nan
    lat: float = math.nan
    name: str = ""
    capacity: float = math.nan


@dataclass
class ScenarioResult:
    """A scenario's evaluation.

    Attributes
    ----------
    name
        Scenario name.
    cells
        The base cells with the changed categories rerouted and new target flags.
    facilities
        The facility table after the edits.
    targets
        Target verdicts (:class:`access.targets.TargetResults`).
    completeness
        Facility counts against GB 50180 norms after the edits.
    changed_categories
        Categories rerouted.
    elapsed_s
        Seconds the evaluation took.
    """

    name: str
    cells: pd.DataFrame
    facilities: gpd.GeoDataFrame
    targets: Any
    completeness: pd.DataFrame
    changed_categories: list[str]
    elapsed_s: float


@dataclass
class Scenario:
    """A named list of facility edits on top of a base run."""

    base: RunResult
    name: str = "scenario"
    edits: list[Edit] = field(default_factory=list)

    @classmethod
    def from_edits(cls, base: RunResult, edits: list[dict[str, Any]], *,
                   name: str = "scenario") -> Scenario:
        """Replay edits given as plain dicts (JSON), checking each one.

        Each edit is ``{"action": "add", "category", "lon", "lat", "name"?,
        "capacity"?, "facility_id"?}`` or ``{"action": "remove", "facility_id"}``;
        an added facility keeps a ``facility_id`` it was saved with. The one replay
        used by saved scenario files and the dashboard.

        Raises
        ------
        ScenarioError
            An edit that is malformed or no longer applies, named by its number.
        """
        sc = cls(base, name=name)
        if not isinstance(edits, list):
            raise ScenarioError(f"edits must be a list, got {type(edits).__name__}")
        for i, e in enumerate(edits, start=1):
            action = e.get("action") if isinstance(e, dict) else None
            try:
                if action == "add":
                    cap = e.get("capacity")
                    sc.add(str(e["category"]), float(e["lon"]), float(e["lat"]),
                           name=str(e.get("name") or ""),
                           capacity=math.nan if cap is None else float(cap),
                           facility_id=e.get("facility_id"))
                elif action == "remove":
                    sc.remove(str(e["facility_id"]))
                else:
                    raise ScenarioError(f"edit {i}: unknown action {action!r}")
            except ScenarioError as exc:
                if str(exc).startswith(f"edit {i}"):
                    raise
                raise ScenarioError(f"edit {i}: {exc}") from exc
            except (KeyError, TypeError, ValueError) as exc:
                raise ScenarioError(f"edit {i} is malformed ({exc})") from exc
        return sc

    def add(self, category: str, lon: float, lat: float, *, name: str = "",
            capacity: float = math.nan, facility_id: str | None = None) -> str:
        """Add a facility at WGS-84 ``lon``/``lat``; returns its id.

        ``facility_id`` keeps an id given earlier (a saved scenario); by default
        the next free ``new-<n>``.

        Raises
        ------
        ScenarioError
            Unknown category, a point outside the study area, or an id in use.
        """
        taxonomy = self.base.taxonomy
        if category not in taxonomy:
            raise ScenarioError(f"unknown category '{category}'"
                                f"{suggest(category, taxonomy.categories)}")
        if not (np.isfinite(lon) and np.isfinite(lat)):
            raise ScenarioError(f"position ({lon}, {lat}) is not a number")
        if not self.base.boundary_lonlat.covers(shapely.Point(lon, lat)):
            raise ScenarioError(f"position ({lon:.6f}, {lat:.6f}) is outside the study area")
        if facility_id is not None:
            fid = str(facility_id)
            if fid in self._ids():
                raise ScenarioError(f"facility id '{fid}' is already in use")
        else:
            n = sum(e.action == "add" for e in self.edits) + 1
            fid = f"new-{n}"
            while fid in self._ids():
                n += 1
                fid = f"new-{n}"
        self.edits.append(Edit("add", category, fid, float(lon), float(lat), name,
                               float(capacity)))
        return fid

    def remove(self, facility_id: str) -> None:
        """Remove a facility (of the base run or added earlier) by id.

        Raises
        ------
        ScenarioError
            No facility with that id exists in the scenario.
        """
        fac = self.facilities()
        hit = fac[fac["facility_id"] == facility_id]
        if hit.empty:
            raise ScenarioError(f"no facility with id '{facility_id}' in scenario '{self.name}'")
        self.edits.append(Edit("remove", str(hit["category"].iloc[0]), facility_id))

    def _ids(self) -> set[str]:
        return set(self.base.facilities["facility_id"].unique()) | \
            {e.facility_id for e in self.edits}

    def changed_categories(self) -> list[str]:
        """Categories touched by the edits, sorted."""
        return sorted({e.category for e in self.edits})

    def facilities(self) -> gpd.GeoDataFrame:
        """The base facility table with the edits applied (in edit order)."""
        base = self.base
        fac = base.facilities
        removed = {e.facility_id for e in self.edits if e.action == "remove"}
        adds = [e for e in self.edits if e.action == "add" and e.facility_id not in removed]
        kept = fac[~fac["facility_id"].isin(removed)]
        if not adds:
            return kept.reset_index(drop=True)
        lon = np.array([e.lon for e in adds])
        lat = np.array([e.lat for e in adds])
        x, y = lonlat_to_metric(lon, lat, base.crs)
        new = pd.DataFrame({
            "facility_id": [e.facility_id for e in adds],
            "category": [e.category for e in adds],
            "name": [e.name for e in adds],
            "source": f"scenario:{self.name}",
            "source_row": [e.facility_id for e in adds],
            "sources": f"scenario:{self.name}",
            "capacity": [e.capacity for e in adds],
            "ownership": "",
            "admin_code": "",
            "lon": lon, "lat": lat,
            **snap_to_networks(base.networks, x, y,
                               max_dist_m=base.area.network.snap_max_dist_m),
        })
        for level, gdf in base.unit_polygons.items():
            new[f"unit__{level}"] = unit_of_points(gdf, x, y)
        new_gdf = gpd.GeoDataFrame(new, geometry=shapely.points(x, y), crs=base.crs)
        out = pd.concat([kept, new_gdf], ignore_index=True)
        return gpd.GeoDataFrame(out, geometry="geometry", crs=base.crs)

    def evaluate(self, *, only_changed: bool = True,
                 only_target_modes: bool = False) -> ScenarioResult:
        """Reroute the changed categories and re-evaluate the targets they touch.

        Parameters
        ----------
        only_changed
            Re-evaluate only the targets counting a changed category (the others keep
            the base run's verdicts, unit rows, cell flags and gaps, which the edits
            cannot change). Every target is evaluated when the base's verdicts are not
            of the study area's current catalogue (e.g. another plan profile), or
            with False (the reference the targeted evaluation is tested against).
        only_target_modes
            Reroute the changed categories by e-bike and car only where a target
            counting them uses that mode (walking always); the columns not
            recomputed are left out of :attr:`ScenarioResult.cells`, never stale.
            False (default) reroutes every mode the run has.
        """
        start = time.perf_counter()
        base = self.base
        fac = self.facilities()
        changed = self.changed_categories()
        cells = base.cells
        stale = [f"{p}__{c}" for p in ROUTED_PREFIXES for c in changed]
        cells = cells.drop(columns=[c for c in stale if c in cells.columns])
        present = set(fac["category"].unique())
        routed_cats = [c for c in changed if c in present]
        catalogue = base_catalogue(base)
        if routed_cats:
            networks = base.networks
            if only_target_modes:  # walking always; other modes if a target uses them
                modes = target_modes(base, changed)
                networks = {m: n for m, n in networks.items() if m in modes}
            routed = routed_frame(networks, cells, fac, routed_cats, travel=base.area.travel)
            cells = pd.concat([cells, routed], axis=1)
        completeness = completeness_check(fac, base.population.total(), base.taxonomy,
                                          warn=False)
        # the base verdicts can be kept only if they are of this very catalogue
        same = base.targets is not None and \
            base.targets.targets["id"].tolist() == [t.id for t in catalogue]
        redo = [t for t in catalogue if target_categories([t]) & set(changed)] \
            if only_changed and same else catalogue
        redo_ids = {t.id for t in redo}
        flag_cols = [] if base.targets is None else \
            [c for c in base.targets.cell_flags.columns if c != "cell_id"
             and (_flag_target(c) in redo_ids or not same)]
        cells = cells.drop(columns=[c for c in flag_cols if c in cells.columns])
        targets = base.targets
        if redo or not same:
            catchments = catchment_function(base.networks["walk"], cells, fac)
            fresh = evaluate_area_targets(base.area, cells, fac, base.units, base.population,
                                          completeness, catchments, catalogue=redo,
                                          shared=_shared_work(base) if only_changed
                                          else None)
            targets = fresh if not same or base.targets is None or fresh is None or \
                len(redo) == len(catalogue) else merge_target_results(
                    base.targets, fresh, [t.id for t in catalogue])
            if fresh is not None:
                cells = _with_flags(cells, fresh.cell_flags)
        return ScenarioResult(name=self.name, cells=cells, facilities=fac, targets=targets,
                              completeness=completeness, changed_categories=changed,
                              elapsed_s=time.perf_counter() - start)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (name and edits)."""
        return {"name": self.name,
                "edits": [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                           for k, v in asdict(e).items()} for e in self.edits]}


def save_scenarios(scenarios: list[Scenario], path: str | Path) -> Path:
    """Write scenarios (names and edits) to a JSON file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": "lifecircle-scenarios", "version": 1,
           "study_area": str(scenarios[0].base.area.path) if scenarios else "",
           "scenarios": [s.to_dict() for s in scenarios]}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def load_scenarios(path: str | Path, base: RunResult) -> list[Scenario]:
    """Read scenarios saved by :func:`save_scenarios`, on top of ``base``.

    Raises
    ------
    ScenarioError
        The file is not a scenario file, or an edit no longer applies.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read scenarios ({exc})") from exc
    if doc.get("format") != "lifecircle-scenarios":
        raise ScenarioError(f"{path}: not a lifecircle scenario file")
    return [Scenario.from_edits(base, s["edits"], name=s["name"]) for s in doc["scenarios"]]


def compare_scenarios(results: list[ScenarioResult], *, base: RunResult | None = None,
                      ) -> pd.DataFrame:
    """Targets side by side: one row per target, value and status per scenario."""
    frames = []
    named = ([("base", base.targets)] if base is not None and base.targets is not None else [])
    named += [(r.name, r.targets) for r in results if r.targets is not None]
    for name, t in named:
        frames.append(t.targets.set_index("id")[["value", "status"]].add_prefix(f"{name}:"))
    if not frames:
        return pd.DataFrame()
    first = named[0][1].targets.set_index("id")[["name_zh", "name_en", "threshold", "unit"]]
    return pd.concat([first, *frames], axis=1).reset_index()
