"""Server-side state of the dashboard: the opened run and evaluated scenarios.

The finished run is read from its folder at start-up (:func:`serve_plan` decides
which folder, :func:`dashboards.opened.open_run` reads it) and kept in memory; its
street networks are loaded when a what-if or site question first needs them. A browser session
keeps only its edits (plain JSON in a ``dcc.Store``); :class:`ScenarioCache`
evaluates them through :class:`lifecircle.scenario.Scenario` and keeps the last few
results keyed by the edits, so switching pages does not recompute anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import sqlite3
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pandas as pd

from access.errors import ConfigError, LifecircleError
from access.i18n import say
from access.targets import PROFILES
from dashboards.mapview import MapContext
from dashboards.opened import OpenedRun
from dashboards.overlay import Overlay, load_overlay
from dashboards.store import ScenarioStore
from gridded_pop import GROUPS
from lifecircle.pipeline import RunResult
from lifecircle.results import check_complete, is_complete
from lifecircle.scenario import Scenario, ScenarioError, target_modes
from lifecircle.study_area import default_area_path

__all__ = ["DashboardState", "ScenarioCache", "ServePlan", "View", "area_path_for",
           "base_view", "build_scenario", "get_state", "serve_plan",
           "set_state", "with_profile"]

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
        log.info(say("log_open_sample", path=meta_path))
        return default_area_path()
    check_complete(out_dir)  # never open a half-written run
    return Path(_run_record(Path(out_dir))["study_area"])


@dataclass(frozen=True)
class ServePlan:
    """What ``lifecircle serve`` does before serving: open a finished run, or run once first.

    Attributes
    ----------
    action
        ``"open"`` (read the finished run in ``results``) or ``"run"`` (analyse
        ``area`` into ``results`` once, then open it).
    results
        The results folder.
    area
        Study-area file to analyse (``"run"`` only).
    message
        ``(zh, en)``: what is done and why, for the terminal.
    warning
        ``(zh, en)`` or None: e.g. the study-area file changed since the run opened.
    """

    action: Literal["open", "run"]
    results: Path
    area: Path | None
    message: tuple[str, str]
    warning: tuple[str, str] | None = None


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _changed_since(meta: dict[str, Any], area: Path) -> bool:
    """Whether the study-area file differs from the one the run recorded."""
    want = meta.get("study_area_sha256")
    if not want or not area.is_file():
        return False
    return bool(hashlib.sha256(area.read_bytes()).hexdigest() != want)


def serve_plan(results: str | Path, area: str | Path | None = None) -> ServePlan:
    """Decide what ``lifecircle serve`` opens (nothing is computed here).

    - Without ``area``: the finished run in ``results`` is opened as it is; when
      ``results`` does not exist or is empty, the bundled sample is run into it once.
    - With ``area``: the run in ``results`` is opened when it is a finished run of
      that study-area file, unchanged since; otherwise the study area is run into
      ``results`` once (as ``lifecircle run --area FILE --out DIR`` would) and opened.

    Raises
    ------
    IncompleteRunError
        ``results`` holds an interrupted or unfinished run (and no ``area`` to run).
    ConfigError
        ``results`` holds the finished run of another study area, or an unreadable
        run record.
    """
    out = Path(results)
    empty = not out.exists() or (out.is_dir() and not any(out.iterdir()))
    if area is None:
        if empty:
            sample = default_area_path()
            return ServePlan("run", out, sample, (
                f"{out} 中还没有运行结果：先运行示例研究区（仅此一次），然后打开结果",
                f"no results in {out} yet: running the bundled sample once, then opening "
                f"its results"))
        check_complete(out)
        meta = _run_record(out)
        recorded = Path(str(meta["study_area"]))
        warning = None
        if _changed_since(meta, recorded):
            warning = (f"研究区文件 {recorded} 在这次运行之后已修改；看板显示的是运行时的结果。"
                       f"要更新请运行 lifecircle run --area {recorded} --out {out}",
                       f"the study-area file {recorded} changed after this run; the dashboard "
                       f"shows the results as run. To update: lifecircle run --area "
                       f"{recorded} --out {out}")
        return ServePlan("open", out, None, (
            f"打开已完成的运行结果 {out}（不重新计算）",
            f"opening the finished run in {out} (nothing is recomputed)"), warning)
    area_path = Path(area)
    if not empty and is_complete(out):
        meta = _run_record(out)
        other = str(meta["study_area"])
        if not _same_file(other, area_path):
            raise ConfigError(
                f"{out} holds the results of another study area ({other}); give "
                f"--results with another folder for {area_path} / 该目录是另一研究区的结果，"
                f"请用 --results 指定其他目录", path=out, key="--results")
        if not _changed_since(meta, area_path):
            return ServePlan("open", out, None, (
                f"打开 {area_path} 已完成的运行结果 {out}（不重新计算）",
                f"opening the finished run of {area_path} in {out} (nothing is "
                f"recomputed)"))
        return ServePlan("run", out, area_path, (
            f"{area_path} 在上次运行之后已修改：重新运行一次（结果写入 {out}），然后打开",
            f"{area_path} changed since its last run: running it again once (results "
            f"into {out}), then opening them"))
    return ServePlan("run", out, area_path, (
        f"{out} 中没有 {area_path} 的运行结果：先运行一次（结果写入 {out}），然后打开",
        f"no finished run of {area_path} in {out}: running it once (results into "
        f"{out}), then opening them"))


def _run_record(out: Path) -> dict[str, Any]:
    meta_path = out / "run.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the run record ({exc})", path=meta_path) from exc
    if not isinstance(meta, dict) or not meta.get("study_area"):
        raise ConfigError("the run record names no study area", path=meta_path,
                          key="study_area")
    return meta


def with_profile(result: RunResult, profile: str) -> RunResult:
    """The run with its target selection replaced by a shipped plan profile.

    Only the study area's settlement classification and extra categories are kept
    from its ``[targets]`` table; cells and facilities are shared, not copied.
    """
    kept = {k: v for k, v in result.area.targets.items() if k in _KEEP_WITH_PROFILE}
    area = dataclasses.replace(result.area, targets={**kept, "profile": profile})
    return dataclasses.replace(result, area=area)


#: Actions of a JSON edit and the fields each needs besides ``action``.
EDIT_FIELDS: dict[str, tuple[str, ...]] = {
    "add": ("category", "lon", "lat"),
    "remove": ("facility_id",),
    "move": ("facility_id", "lon", "lat"),
    "capacity": ("facility_id", "capacity"),
}
#: Most edits one scenario may hold.
MAX_EDITS = 500
_MAX_TEXT = 200


class EditFormatError(LifecircleError, ValueError):
    """A JSON edit list that is not of the documented shape (a client error, HTTP 400)."""


def _number(v: Any, what: str, i: int) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise EditFormatError(f"edit {i + 1}: {what} must be a finite number, got {v!r:.40}")
    return float(v)


def check_edits(edits: Any, categories: set[str] | None = None) -> list[dict[str, Any]]:
    """The edits if they are of the documented shape, else :class:`EditFormatError`.

    Each edit is an object with ``action`` ``add`` (``category``, ``lon``, ``lat``,
    optional ``name`` and ``capacity``), ``remove`` (``facility_id``), ``move``
    (``facility_id``, ``lon``, ``lat``) or ``capacity`` (``facility_id``,
    ``capacity``). ``categories`` are the known category keys.
    """
    if edits is None:
        return []
    if not isinstance(edits, list):
        raise EditFormatError(f"edits must be a list, got {type(edits).__name__}")
    if len(edits) > MAX_EDITS:
        raise EditFormatError(f"at most {MAX_EDITS} edits per scenario, got {len(edits)}")
    for i, e in enumerate(edits):
        if not isinstance(e, dict):
            raise EditFormatError(f"edit {i + 1} must be an object, got {type(e).__name__}")
        action = e.get("action")
        if action not in EDIT_FIELDS:
            raise EditFormatError(f"edit {i + 1}: unknown action {str(action)[:40]!r} "
                                  f"(use {', '.join(EDIT_FIELDS)})")
        for k in EDIT_FIELDS[action]:
            if k not in e:
                raise EditFormatError(f"edit {i + 1} ({action}) lacks '{k}'")
        for k in ("lon", "lat"):
            if k in EDIT_FIELDS[action]:
                _number(e[k], k, i)
        for k in ("category", "facility_id", "name"):
            if k in e and e[k] is not None and (not isinstance(e[k], str)
                                                or len(e[k]) > _MAX_TEXT):
                raise EditFormatError(f"edit {i + 1}: {k} must be text of at most "
                                      f"{_MAX_TEXT} characters")
        if action == "capacity" and e["capacity"] is None:
            raise EditFormatError(f"edit {i + 1} (capacity) lacks 'capacity'")
        if e.get("capacity") is not None:
            cap = _number(e["capacity"], "capacity", i)
            if cap < 0:
                raise EditFormatError(f"edit {i + 1}: capacity must not be negative")
        if action == "add" and categories is not None and e["category"] not in categories:
            raise EditFormatError(f"edit {i + 1}: unknown category {e['category'][:40]!r}")
    return edits


def build_scenario(base: RunResult, edits: list[dict[str, Any]], *,
                   name: str = "scenario") -> Scenario:
    """Replay JSON edits on ``base`` through :class:`Scenario` (so each one is checked).

    ``move`` and ``capacity`` edits are a removal and an addition of the same
    facility (category, name, capacity) at its new position or with its new capacity.

    Raises
    ------
    EditFormatError
        The edits are not of the shape :func:`check_edits` documents.
    ScenarioError
        An edit that no longer applies (unknown facility, point outside the area).
    """
    check_edits(edits, None if base.taxonomy is None else set(base.taxonomy.categories))
    sc = Scenario(base, name=name)
    for i, e in enumerate(edits):
        action = e["action"]
        cap = e.get("capacity")
        try:
            if action == "add":
                sc.add(str(e["category"]), float(e["lon"]), float(e["lat"]),
                       name=str(e.get("name") or ""),
                       capacity=math.nan if cap is None else float(cap))
            elif action == "remove":
                sc.remove(str(e["facility_id"]))
            else:
                fac = sc.facilities()
                hit = fac[fac["facility_id"] == str(e["facility_id"])]
                if hit.empty:
                    raise ScenarioError(f"no facility with id '{e['facility_id']}'")
                r = hit.iloc[0]
                sc.remove(str(e["facility_id"]))
                lon, lat = (float(e["lon"]), float(e["lat"])) if action == "move" \
                    else (float(r["lon"]), float(r["lat"]))
                # check_edits: a capacity edit carries a capacity
                new_cap = float(cap) if action == "capacity" and cap is not None \
                    else float(r["capacity"])
                sc.add(str(r["category"]), lon, lat,
                       name=str(r["name"]) if isinstance(r["name"], str) else "",
                       capacity=new_cap)
        except ScenarioError as exc:
            raise ScenarioError(f"edit {i + 1}: {exc}") from exc
    return sc


class ProfileError(LifecircleError, ValueError):
    """A plan profile that is neither shipped nor a file in the study area's folder."""


def check_profile(profile: Any, area_dir: Path) -> str | None:
    """``profile`` if it is a shipped profile id or a ``.toml`` file inside ``area_dir``.

    The message never says whether a path outside the folder exists.

    Raises
    ------
    ProfileError
        Anything else.
    """
    if profile is None or profile == "":
        return None
    if not isinstance(profile, str) or len(profile) > _MAX_TEXT:
        raise ProfileError("unknown plan profile")
    if profile in PROFILES:
        return profile
    root = Path(area_dir).resolve()
    try:
        path = (root / profile).resolve()
    except (OSError, RuntimeError, ValueError):
        raise ProfileError("unknown plan profile") from None
    if path.suffix != ".toml" or not path.is_relative_to(root) or not path.is_file():
        raise ProfileError("unknown plan profile: use a shipped profile "
                           f"({', '.join(PROFILES)}) or a .toml file in the study area's folder")
    return str(path)


class ScenarioCache:
    """Evaluated scenarios keyed by (profile, edits); the last ``size`` are kept.

    Evaluations of different keys run at the same time (each key has its own lock,
    the base run is shared read-only); a second request for a key being evaluated
    waits for that evaluation instead of repeating it.

    Parameters
    ----------
    base
        The run as the pages show it.
    size
        Number of evaluated scenarios kept in memory.
    profiles
        Number of plan-profile variants of the run kept.
    routable
        ``routable(modes=None)``: the run with its networks and the cells joined to
        the networks of ``modes`` (an opened run loads them on first use,
        :meth:`dashboards.opened.OpenedRun.routable`); by default ``base`` itself.
    """

    def __init__(self, base: RunResult, *, size: int = 16, profiles: int = 8,
                 routable: Callable[..., RunResult] | None = None) -> None:
        self.base = base
        self.routable: Callable[..., RunResult] = routable or (lambda modes=None: base)
        self.size = size
        self.max_profiles = profiles
        self._items: OrderedDict[str, View] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._profiles: OrderedDict[str, RunResult] = OrderedDict()

    @staticmethod
    def key(edits: list[dict[str, Any]], profile: str | None) -> str:
        """Cache key of a set of edits under a profile."""
        return json.dumps([profile or "", edits], sort_keys=True, ensure_ascii=False)

    def _profile_base(self, profile: str) -> RunResult:
        """The run under a plan profile, with that profile's verdicts (evaluated once)."""
        base = self.routable()  # may load the networks: not under the lock
        with self._lock:
            if profile in self._profiles:
                self._profiles.move_to_end(profile)
                return self._profiles[profile]
            plock = self._key_locks.setdefault(f"profile:{profile}", threading.Lock())
        with plock:
            with self._lock:
                if profile in self._profiles:
                    return self._profiles[profile]
            res = with_profile(base, profile)
            # the profile's own verdicts, once: edits on it then re-evaluate only
            # the targets of the categories they change
            ev = Scenario(res, name="base").evaluate()
            res = dataclasses.replace(res, targets=ev.targets, cells=ev.cells,
                                      completeness=ev.completeness)
            with self._lock:
                self._profiles[profile] = res
                self._key_locks.pop(f"profile:{profile}", None)
                while len(self._profiles) > self.max_profiles:
                    self._profiles.popitem(last=False)
            return res

    def view(self, edits: list[dict[str, Any]] | None = None, *, profile: str | None = None,
             name: str = "scenario") -> View:
        """The base run, or the scenario of ``edits`` under ``profile``, evaluated.

        ``profile`` must already be checked (:func:`check_profile`).

        Raises
        ------
        EditFormatError
            Edits not of the documented shape.
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
            key_lock = self._key_locks.setdefault(k, threading.Lock())
        with key_lock:
            with self._lock:
                if k in self._items:
                    hit = self._items[k]
                    return dataclasses.replace(hit, name=name) if edits else hit
            try:
                base = self._profile_base(profile) if profile else self.routable(("walk",))
                sc = build_scenario(base, edits, name=name)
                # the pages show walking and what the targets use: other modes wait
                modes = target_modes(base, sc.changed_categories())
                if not profile and modes - {"walk"}:
                    sc = build_scenario(self.routable(tuple(modes)), edits, name=name)
                res = sc.evaluate(only_target_modes=True)
            except BaseException:
                with self._lock:
                    self._key_locks.pop(k, None)
                raise
            view = View(name if edits else "base", res.cells, res.facilities, res.targets,
                        res.completeness, res.changed_categories, res.elapsed_s)
            log.info(say("log_scenario_evaluated", s=res.elapsed_s,
                         cats=", ".join(res.changed_categories) or "-"))
            with self._lock:
                self._items[k] = view
                self._key_locks.pop(k, None)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            return view


class Memo:
    """A small thread-safe LRU of rendered parts (key -> value)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        """The value of ``key``, or None."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: Any, value: Any) -> None:
        """Keep ``value`` under ``key`` (the oldest entry goes when full)."""
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@dataclass
class DashboardState:
    """The run being shown and what the pages share about it.

    Attributes
    ----------
    result
        The run.
    tiles_url
        Optional intranet raster tile server.
    out_dir
        Results folder: the saved scenarios live beside it
        (``<folder>.scenarios.sqlite``, :func:`dashboards.store.path_beside`).
    opened
        The run folder ``result`` was read from (:func:`dashboards.opened.open_run`);
        None when ``result`` was computed in this process (it then has its networks).
    cache
        Evaluated scenarios.
    map
        Map context (cell lookup, unit outlines and labels).
    store
        Saved scenarios.
    unit_names
        Unit id -> name, every level.
    base_ids
        Facility ids of the run.
    categories
        Every category of the taxonomy (those without facilities too).
    overlay
        Streets, water and green of the study area's OSM file (read in the background).
    summaries
        Access lines already rendered (they do not change with pan and zoom).
    """

    result: RunResult
    tiles_url: str | None = None
    out_dir: Path | None = None
    opened: OpenedRun | None = None
    cache: ScenarioCache = field(init=False)
    map: MapContext = field(init=False)
    store: ScenarioStore = field(init=False)
    unit_names: dict[str, str] = field(init=False)
    base_ids: set[str] = field(init=False)
    categories: list[str] = field(init=False)
    overlay: Overlay | None = field(init=False, default=None)
    summaries: Memo = field(init=False)

    def __post_init__(self) -> None:
        self.cache = ScenarioCache(self.result, routable=self.routable)
        self.summaries = Memo(256)
        self.map = MapContext.from_result(self.result)
        self.store = self._open_store()
        names: dict[str, str] = {}
        for table in self.result.units.values():
            names.update(zip(table["unit_id"].astype(str), table["name"].astype(str),
                             strict=True))
        self.unit_names = names
        self.base_ids = set(self.result.facilities["facility_id"].astype(str))
        tax = self.result.taxonomy
        routed = self.result.categories
        self.categories = list(tax.categories) if tax is not None else list(routed)
        threading.Thread(target=self._load_overlay, name="map-overlay", daemon=True).start()

    def _open_store(self) -> ScenarioStore:
        if self.out_dir is not None:
            try:
                return ScenarioStore.for_results(self.out_dir)
            except (OSError, sqlite3.Error) as exc:
                log.warning(say("log_scenarios_not_kept", path=self.out_dir, why=exc))
        folder = Path(tempfile.mkdtemp(prefix="lifecircle-scenarios-"))
        log.warning(say("log_scenarios_temporary", path=folder))
        return ScenarioStore(folder)

    def routable(self, modes: Iterable[str] | None = None) -> RunResult:
        """The run with its networks, for what-if and site selection (loaded on first use).

        ``modes``: the networks the cells must be joined to (None: all).

        Raises
        ------
        access.errors.LifecircleError
            The networks cannot be loaded (the street file changed since the run).
        """
        return self.opened.routable(modes) if self.opened is not None else self.result

    def warm(self, *, whatif: bool = False) -> None:
        """Start loading :meth:`routable` in the background (a page was served);
        ``whatif``: the what-if page is shown, prepare its first edit too
        (:meth:`dashboards.opened.OpenedRun.warm`)."""
        if self.opened is not None:
            self.opened.warm(whatif=whatif)

    def _load_overlay(self) -> None:
        """Read the map background from the study area's OSM file (in the background)."""
        lon0, lat0, lon1, lat1 = self.map.bounds
        try:
            self.overlay = load_overlay(self.result.area.network.path, self.out_dir,
                                        tolerance_deg=max(lon1 - lon0, lat1 - lat0) / 4000)
        except Exception as exc:  # a background is optional: never stop the dashboard
            log.warning(say("log_no_background", path=self.result.area.network.path,
                            why=exc))

    def key_labels(self, lang: str) -> dict[str, str]:
        """Category and population-group keys -> display names in ``lang``."""
        out = {c: self.category_label(c, lang) for c in self.categories}
        for g, (zh, en) in GROUPS.items():
            out.setdefault(g, zh if lang == "zh" else en)
        return out

    def category_label(self, category: str, lang: str) -> str:
        """Display name of a category in ``lang`` (the key only when unknown)."""
        tax = self.result.taxonomy
        return tax.label(category, lang) if tax is not None and category in tax \
            else category


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
