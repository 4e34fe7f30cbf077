"""A finished run opened for the dashboard: read from its folder, never recomputed.

:func:`open_run` reads a complete run folder through :func:`lifecircle.read_run`
(the completion marker is required) and rebuilds the
:class:`~lifecircle.pipeline.RunResult` the pages show, reading only the cell columns
the pages draw (times, population, units, target flags). That is what makes the
dashboard start in seconds on a city of 640,000 cells.

What-if and site selection need more: the street networks and every cell and
facility joined to them. :meth:`OpenedRun.routable` loads those once, on first use
(the networks from the on-disk cache, the cell columns what-if reads from the run
folder, each mode's with its network, the joins recomputed exactly as the run made
them), and checks that the
street file is still the one the run used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from access.crs import WGS84
from access.errors import LifecircleError
from access.i18n import say
from access.network import StreetNetwork, file_sha256, load_network
from access.rejects import RejectLog
from access.targets import TargetResults
from access.travel import nearest_facilities
from facilities import load_taxonomy
from gridded_pop import GridSpec, PopulationGrid
from gridded_pop.groups import GROUPS
from lifecircle.pipeline import RunResult, with_search_limits
from lifecircle.results import RunData, cell_column_names, read_cells, read_run
from lifecircle.routing import catchment_function, snap_to_networks
from lifecircle.scenario import base_catalogue, prepare_scenarios
from lifecircle.study_area import load_study_area

__all__ = ["DISPLAY_COLUMNS", "DISPLAY_PREFIXES", "NetworkChangedError", "OpenedRun",
           "open_run"]

log = logging.getLogger(__name__)

#: Niceness of the thread loading what-if's networks in the background.
WARM_NICE = 10

#: Cell columns the pages draw, read when the run is opened.
DISPLAY_COLUMNS = ("cell_id", "row", "col", "x", "y", "in_area", "area_m2", "residential_m2",
                   "reachable", "snap_dist_m")
#: Prefixes of the cell columns read when the run is opened (the others wait for a
#: what-if or a site question).
DISPLAY_PREFIXES = ("pop_", "dist_m__", "time_min__", "unit__", "covered__", "missing_types__",
                    "score__")
_FLAG_PREFIXES = ("covered__", "missing_types__", "score__")
#: Prefix of the cells' nearest facility ids, read only with every network.
_NEAREST_PREFIX = "nearest__"


class NetworkChangedError(LifecircleError, ValueError):
    """The street file is not the one the opened run was computed on."""


def _display_columns(names: list[str]) -> list[str]:
    return [c for c in names if c in DISPLAY_COLUMNS or c.startswith(DISPLAY_PREFIXES)]


def _population(data: RunData, cells: pd.DataFrame, boundary: shapely.Geometry,
                ) -> PopulationGrid:
    """The population grid rebuilt from the cells (every populated cell is a cell)."""
    spec: GridSpec = data.grid
    ids = cells["cell_id"].to_numpy()

    def grid_of(values: np.ndarray, dtype: Any = float) -> np.ndarray:
        g = np.zeros(spec.n_cells, dtype=dtype)
        g[ids] = values
        return g.reshape(spec.shape)

    groups = {c[len("pop_"):]: grid_of(cells[c].to_numpy(float))
              for c in cells.columns if c.startswith("pop_")}
    notes = [(n.get("zh", ""), n.get("en", "")) for n in data.meta.get("population_notes", [])]
    derived: dict[str, tuple[str, str]] = {}
    acc = data.population_accounting
    if len(acc) and "derived_from" in acc:
        for g in acc.loc[acc["derived_from"].fillna("").astype(str) != "", "group"]:
            label = GROUPS.get(str(g))
            hit = next((n for n in notes if label and n[0].startswith(f"{label[0]}由")), None)
            if hit is not None:
                derived[str(g)] = hit
    res = cells["residential_m2"].to_numpy(float) if "residential_m2" in cells else None
    return PopulationGrid(
        spec=spec, groups=groups, in_area=grid_of(cells["in_area"].to_numpy(bool), bool),
        accounting=acc, notes=notes, area_in_m2=grid_of(cells["area_m2"].to_numpy(float)),
        residential_m2=None if res is None or np.isnan(res).all() else grid_of(res),
        boundary=boundary, derived_groups=derived)


@dataclass
class OpenedRun:
    """A run folder opened for display; :meth:`routable` adds what what-if needs.

    Attributes
    ----------
    path
        The run folder.
    result
        The run as the pages show it (networks not loaded, cells with the display
        columns only).
    meta
        The run record (``run.json``).
    open_s
        Seconds :func:`open_run` took.
    """

    path: Path
    result: RunResult
    meta: dict[str, Any]
    open_s: float = 0.0
    _routable: RunResult | None = field(default=None, repr=False)
    _sha: str | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _warm_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _warming: bool = field(default=False, repr=False)
    _preparing: bool = field(default=False, repr=False)
    _names: list[str] | None = field(default=None, repr=False)

    @property
    def ready(self) -> bool:
        """Whether :meth:`routable` has been loaded."""
        return self._routable is not None

    def routable(self, modes: Iterable[str] | None = None) -> RunResult:
        """The run with networks, every cell column and the network joins, loaded on use.

        The walking network and the joins to it come first; the e-bike and car
        networks (and the cells' and facilities' joins to them) only when ``modes``
        asks for them (None: every network of the run). The result's ``networks``
        hold the networks loaded so far, each with its joins, so a what-if on walking
        targets waits for one network, not three.

        Raises
        ------
        NetworkChangedError
            The study area's street file changed since the run.
        """
        with self._lock:
            if self._routable is None:
                self._routable = self._load_routable()
            rb = self._routable
            all_modes = list(self.meta.get("networks", {}) or {"walk": {}})
            want = set(all_modes) if modes is None else set(modes) & set(all_modes)
            missing = [m for m in all_modes if m in want and m not in rb.networks]
            if missing:
                rb = self._join(rb, missing)
                self._routable = rb
            if modes is None:  # every column: the nearest facility ids too
                rb = self._with_columns(rb, [c for c in self._column_names()
                                             if c.startswith(_NEAREST_PREFIX)])
                self._routable = rb
            return rb

    def _column_names(self) -> list[str]:
        """The run folder's cell column names (read once)."""
        if self._names is None:
            self._names = cell_column_names(self.path)
        return self._names

    def _with_columns(self, rb: RunResult, names: list[str]) -> RunResult:
        """``rb`` with the cell columns ``names`` read from the run folder (new frame)."""
        rest = [c for c in names if c not in rb.cells.columns]
        if not rest:
            return rb
        more = read_cells(self.path, rest)
        return dataclasses.replace(rb, cells=pd.concat([rb.cells, more], axis=1))

    def _mode_columns(self, mode: str) -> list[str]:
        """The cell columns of the run's ``mode`` network (``<mode>_snap_dist_m`` ...)."""
        return [c for c in self._column_names() if c.startswith(f"{mode}_")]

    def warm(self, *, whatif: bool = False) -> None:
        """Start loading :meth:`routable` in the background, once (errors are logged).

        ``whatif``: a what-if page is shown; then also work out the cells' per-cell
        target work the first edit would otherwise pay
        (:func:`lifecircle.scenario.prepare_scenarios`), once, after the load.
        """
        with self._warm_lock:  # not _lock: that one is held while loading
            load = not (self.ready or self._warming)
            prepare = whatif and not self._preparing
            if not (load or prepare):
                return
            self._warming = self._warming or load
            self._preparing = self._preparing or prepare

        def work() -> None:
            # below the threads serving pages (Linux: a thread's own niceness), so the
            # pages opened meanwhile keep their speed on a busy machine
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARM_NICE)
            if load and not self._load_and_call_kernels():
                return
            if prepare:
                # waits for a load in progress; a failed one was logged and is said
                # again at the first edit
                with contextlib.suppress(Exception):
                    prepare_scenarios(self.routable(("walk",)))

        threading.Thread(target=work, name="load-networks", daemon=True).start()

    def _load_and_call_kernels(self) -> bool:
        """Load :meth:`routable` for walking and call the routing kernels once."""
        try:
            rb = self.routable(("walk",))
        except Exception as exc:  # said again to the user at the first what-if
            log.warning(say("log_whatif_unavailable", why=exc))
            return False
        net = rb.networks.get("walk")
        if net is not None and len(net.indptr) > 1:
            # the routing kernels load from numba's on-disk cache at their first
            # call (about 0.25 s): make that call here, on one node
            one = np.zeros(1, np.int64)
            with contextlib.suppress(Exception):
                nearest_facilities(net, one, np.zeros(1), one, np.zeros(1), ["x"],
                                   max_cost=0.0)
        return True

    def _network(self, mode: str) -> StreetNetwork:
        """The run's ``mode`` network from the cache, checked against the run's record."""
        src = Path(self.result.area.network.path)
        if self._sha is None:
            self._sha = file_sha256(src)
        want = (self.meta.get("networks", {}).get(mode) or {}).get("sha256")
        if want and want != self._sha:
            raise NetworkChangedError(
                f"{src} changed since this run was computed ({mode} network): what-if "
                f"needs the run's streets; run 'lifecircle run' again / 路网文件在本次"
                f"运行之后已改变，请重新运行 lifecircle run 后再做情景推演")
        return load_network(src, mode, crs=self.result.crs, source_sha256=self._sha)

    def _facility_outlines(self, fac: pd.DataFrame) -> np.ndarray | None:
        if "outline_wkt" not in fac:
            return None
        wkt = fac["outline_wkt"].fillna("").astype(str).to_numpy()
        return np.array([shapely.from_wkt(w) if w else None for w in wkt], dtype=object)

    def _join(self, rb: RunResult, modes: list[str]) -> RunResult:
        """``rb`` with the networks of ``modes`` loaded and cells and facilities joined."""
        start = time.perf_counter()
        snap_max = rb.area.network.snap_max_dist_m
        nets = dict(rb.networks)
        cells, fac = rb.cells, rb.facilities
        new_cells: dict[str, np.ndarray] = {}
        new_fac: dict[str, np.ndarray] = {}
        outlines = self._facility_outlines(fac)
        for m in modes:
            net = self._network(m)
            nets[m] = net
            # snap_to_networks joins to the network given as "walk": the same rule
            new_cells[f"{m}_node"] = snap_to_networks(
                {"walk": net}, cells["x"].to_numpy(), cells["y"].to_numpy(),
                max_dist_m=snap_max)["node"]
            new_fac[f"{m}_node"] = snap_to_networks(
                {"walk": net}, fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy(),
                max_dist_m=snap_max, outlines=outlines)["node"] if len(fac) else \
                np.zeros(0, dtype=np.int64)
        order = [m for m in self.meta.get("networks", {}) if m in nets]
        # the modes' own cell columns (times by e-bike, by car) come with their network
        more = [c for m in modes for c in self._mode_columns(m) if c not in cells.columns]
        if more:
            cells = pd.concat([cells, read_cells(self.path, more)], axis=1)
        # new frames: evaluations running on the previous ones keep them
        out = dataclasses.replace(rb, networks={m: nets[m] for m in order},
                                  cells=cells.assign(**new_cells),
                                  facilities=fac.assign(**new_fac))
        log.info(say("log_networks_loaded", modes=", ".join(modes),
                     s=time.perf_counter() - start))
        return out

    def _load_routable(self) -> RunResult:
        """The walking network, cells and facilities joined to walking.

        Of the cell columns the pages do not draw, only those what-if reads are
        added: not the other modes' (they come with their network, :meth:`_join`),
        nor the nearest facility ids (:meth:`routable` with every mode).
        """
        start = time.perf_counter()
        base = self.result
        walk = self._network("walk")
        have = set(base.cells.columns)
        others = tuple(f"{m}_" for m in self.meta.get("networks", {}) if m != "walk")
        rest = [c for c in self._column_names() if c not in have
                and not c.startswith((_NEAREST_PREFIX, *others))]
        more = read_cells(self.path, rest)
        cells = pd.concat([base.cells, more], axis=1) if len(rest) else base.cells.copy()
        snap_max = base.area.network.snap_max_dist_m
        joins = snap_to_networks({"walk": walk}, cells["x"].to_numpy(),
                                 cells["y"].to_numpy(), max_dist_m=snap_max)
        if "snap_dist_m" in cells and not np.allclose(
                joins["snap_dist_m"], cells["snap_dist_m"].to_numpy(float), atol=0.01,
                equal_nan=True):
            raise NetworkChangedError(
                "the street network does not give the run's joins of cells to streets; run "
                "'lifecircle run' again / 路网与本次运行不一致，请重新运行")
        cells["node"] = joins["node"]
        fac = base.facilities.copy()
        fac["node"] = snap_to_networks(
            {"walk": walk}, fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy(),
            max_dist_m=snap_max, outlines=self._facility_outlines(fac))["node"] \
            if len(fac) else np.zeros(0, dtype=np.int64)
        # the search limits the run used, so what-if columns match the run's
        area = with_search_limits(base.area, base_catalogue(base))
        out = dataclasses.replace(base, area=area, networks={"walk": walk}, cells=cells,
                                  facilities=fac, catchments=catchment_function(walk, cells, fac))
        log.info(say("log_whatif_loaded", s=time.perf_counter() - start))
        return out


def open_run(out_dir: str | Path) -> OpenedRun:
    """Open a complete run folder for the dashboard (nothing is recomputed).

    Raises
    ------
    IncompleteRunError
        The folder is not a complete run (no completion marker, a file missing).
    access.errors.LifecircleError
        The run's study-area file cannot be read.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    data = read_run(out, cell_columns=_display_columns(cell_column_names(out)))
    meta = data.meta
    area = load_study_area(meta["study_area"], check_resources=False)
    crs: CRS = data.crs
    boundary_lonlat = shapely.from_wkt(meta["boundary_lonlat_wkt"])
    boundary = gpd.GeoSeries([boundary_lonlat], crs=WGS84).to_crs(crs).iloc[0]
    cells = data.cells
    targets = None
    if data.targets is not None:
        flags = [c for c in cells.columns if c.startswith(_FLAG_PREFIXES)]
        targets = TargetResults(
            targets=data.targets, units=data.units if data.units is not None else
            pd.DataFrame(), cell_flags=cells[["cell_id", *flags]],
            gaps=data.gaps if data.gaps is not None else pd.DataFrame(),
            gap_cells=(data.gap_cells if data.gap_cells is not None
                       else pd.DataFrame(columns=["target_id", "rank", "cell_id"])))
    taxonomy = load_taxonomy(area.categories, base_dir=area.base_dir, path=area.path)
    result = RunResult(
        area=area, crs=crs, boundary_lonlat=boundary_lonlat, boundary=boundary, networks={},
        population=_population(data, cells, boundary), facilities=data.facilities,
        cells=cells, k_nearest=data.k_nearest if data.k_nearest is not None
        else pd.DataFrame(columns=["cell_id", "category", "rank", "facility_id", "dist_m"]),
        units=data.unit_stats, completeness=data.completeness, targets=targets,
        rejects=RejectLog(), taxonomy=taxonomy, unit_polygons=data.unit_polygons,
        timings_s=dict(meta.get("timings_s", {})),
        notes=[(n.get("zh", ""), n.get("en", "")) for n in meta.get("notes", [])])
    return OpenedRun(path=out, result=result, meta=meta, open_s=time.perf_counter() - start)

