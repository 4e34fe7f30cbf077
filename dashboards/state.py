"""Server-side state of the dashboard: the loaded run and evaluated scenarios.

The run is loaded once at start-up (:func:`load_result`) and kept in memory; the
street networks it holds are what the what-if page reroutes on. A browser session
keeps only its edits (plain JSON in a ``dcc.Store``); :class:`ScenarioCache`
evaluates them through :class:`lifecircle.scenario.Scenario` and keeps the last few
results keyed by the edits, so switching pages does not recompute anything.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from access.errors import ConfigError
from lifecircle.pipeline import RunResult, run
from lifecircle.results import check_complete
from lifecircle.scenario import Scenario
from lifecircle.study_area import default_area_path, load_study_area

__all__ = ["DashboardState", "ScenarioCache", "View", "area_path_for", "base_view",
           "build_scenario", "get_state", "load_result", "set_state", "with_profile"]

log = logging.getLogger(__name__)

#: Keys of a study area's ``[targets]`` table kept when a plan profile is chosen
#: in the dashboard (the profile replaces the selection and its thresholds).
_KEEP_WITH_PROFILE = ("settlement", "extra_categories")


@dataclass
class View:
    """What the pages show: the base run or one evaluated scenario.

    Attributes
    ----------
    name
        ``"base"`` or the scenario name.
    cells, facilities, targets, completeness
        As in :class:`lifecircle.pipeline.RunResult` / :class:`lifecircle.scenario.ScenarioResult`.
    changed_categories
        Categories rerouted for this view (empty for the base run).
    elapsed_s
        Seconds the evaluation took (0 for the base run).
    """

    name: str
    cells: pd.DataFrame
    facilities: gpd.GeoDataFrame
    targets: Any
    completeness: pd.DataFrame
    changed_categories: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


def base_view(result: RunResult) -> View:
    """The base run as a :class:`View`."""
    return View("base", result.cells, result.facilities, result.targets, result.completeness)


def area_path_for(out_dir: str | Path, area: str | Path | None = None) -> Path:
    """Study-area file to open: ``area`` if given, else the one of ``out_dir/run.json``.

    Falls back to the bundled sample when ``out_dir`` holds no ``run.json``.

    Raises
    ------
    ConfigError
        ``run.json`` cannot be read or names no study area.
    IncompleteRunError
        ``out_dir`` holds a run that is not complete (no ``_COMPLETE.json``).
    """
    if area is not None:
        return Path(area)
    meta_path = Path(out_dir) / "run.json"
    if not meta_path.is_file():
        log.info("no %s: opening the bundled sample", meta_path)
        return default_area_path()
    check_complete(out_dir)  # never open a half-written run
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the run record ({exc})", path=meta_path) from exc
    if not isinstance(meta, dict) or not meta.get("study_area"):
        raise ConfigError("the run record names no study area", path=meta_path,
                          key="study_area")
    return Path(meta["study_area"])


def load_result(*, out_dir: str | Path = "out", area: str | Path | None = None,
                progress: bool = False) -> RunResult:
    """Open the last run's study area (or ``area``) and run the analysis.

    Parameters
    ----------
    out_dir
        Output folder of ``lifecircle run``; its ``run.json`` names the study area.
    area
        Study-area file overriding ``out_dir``.
    progress
        Show progress bars in the terminal.

    Raises
    ------
    access.errors.LifecircleError
        Any error of the study area or its inputs, with file, row and parameter.
    """
    path = area_path_for(out_dir, area)
    log.info("loading study area %s", path)
    return run(load_study_area(path), progress=progress)


def with_profile(result: RunResult, profile: str) -> RunResult:
    """The run with its target selection replaced by a shipped plan profile.

    Only the study area's settlement classification and extra categories are kept
    from its ``[targets]`` table; cells and facilities are shared, not copied.
    """
    kept = {k: v for k, v in result.area.targets.items() if k in _KEEP_WITH_PROFILE}
    area = dataclasses.replace(result.area, targets={**kept, "profile": profile})
    return dataclasses.replace(result, area=area)


def build_scenario(base: RunResult, edits: list[dict[str, Any]], *,
                   name: str = "scenario") -> Scenario:
    """Replay JSON edits on ``base`` (:meth:`lifecircle.scenario.Scenario.from_edits`).

    Raises
    ------
    ScenarioError
        An edit that is malformed or no longer applies.
    """
    return Scenario.from_edits(base, edits, name=name)


class ScenarioCache:
    """Evaluated scenarios keyed by (profile, edits); the last ``size`` are kept.

    Parameters
    ----------
    base
        The loaded run.
    size
        Number of evaluated scenarios kept in memory.
    """

    def __init__(self, base: RunResult, *, size: int = 16) -> None:
        self.base = base
        self.size = size
        self._items: OrderedDict[str, View] = OrderedDict()
        self._lock = threading.Lock()
        self._profiles: dict[str, RunResult] = {}

    @staticmethod
    def key(edits: list[dict[str, Any]], profile: str | None) -> str:
        """Cache key of a set of edits under a profile."""
        return json.dumps([profile or "", edits], sort_keys=True, ensure_ascii=False)

    def view(self, edits: list[dict[str, Any]] | None = None, *, profile: str | None = None,
             name: str = "scenario") -> View:
        """The base run, or the scenario of ``edits`` under ``profile``, evaluated.

        Raises
        ------
        ScenarioError
            An edit that cannot be applied.
        """
        edits = list(edits or [])
        if not edits and not profile:
            return base_view(self.base)
        k = self.key(edits, profile)
        with self._lock:
            if k in self._items:
                self._items.move_to_end(k)
                hit = self._items[k]
                return dataclasses.replace(hit, name=name) if edits else hit
            base = self.base
            if profile:
                if profile not in self._profiles:
                    self._profiles[profile] = with_profile(self.base, profile)
                base = self._profiles[profile]
            res = build_scenario(base, edits, name=name).evaluate()
            view = View(name if edits else "base", res.cells, res.facilities, res.targets,
                        res.completeness, res.changed_categories, res.elapsed_s)
            log.info("scenario evaluated in %.2f s (rerouted %s)", res.elapsed_s,
                     ", ".join(res.changed_categories) or "nothing")
            self._items[k] = view
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return view


@dataclass
class DashboardState:
    """The run being shown, its scenario cache and the optional tile server."""

    result: RunResult
    tiles_url: str | None = None
    cache: ScenarioCache = field(init=False)

    def __post_init__(self) -> None:
        self.cache = ScenarioCache(self.result)


_STATE: dict[str, DashboardState] = {}


def set_state(state: DashboardState) -> None:
    """Install the state the page callbacks read (done by ``create_app``)."""
    _STATE["current"] = state


def get_state() -> DashboardState:
    """The state installed by ``create_app``.

    Raises
    ------
    RuntimeError
        No app was created in this process.
    """
    try:
        return _STATE["current"]
    except KeyError:
        raise RuntimeError("no dashboard state: call create_app(result) first") from None
