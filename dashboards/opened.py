"""A finished run opened for the dashboard: read from its folder, never recomputed.

:func:`open_run` reads a complete run folder through :func:`lifecircle.read_run`
(the completion marker is required) and rebuilds the
:class:`~lifecircle.pipeline.RunResult` the pages show, reading only the cell columns
the pages draw (times, population, units, target flags). That is what makes the
dashboard start in seconds on a city of 640,000 cells.

What-if and site selection need more: the street networks and every cell and
facility joined to them. :meth:`OpenedRun.routable` loads those once, on first use
(the networks from the on-disk cache, the remaining cell columns from the run
folder, the joins recomputed exactly as the run made them), and checks that the
street file is still the one the run used.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
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
from access.network import file_sha256, load_network
from access.rejects import RejectLog
from access.targets import TargetResults
from facilities import load_taxonomy
from gridded_pop import GridSpec, PopulationGrid
from gridded_pop.groups import GROUPS
from lifecircle.pipeline import RunResult, catchment_function, snap_to_networks
from lifecircle.results import RunData, cell_column_names, read_cells, read_run
from lifecircle.study_area import load_study_area

__all__ = ["DISPLAY_COLUMNS", "DISPLAY_PREFIXES", "NetworkChangedError", "OpenedRun",
           "open_run"]

log = logging.getLogger(__name__)

#: Cell columns the pages draw, read when the run is opened.
DISPLAY_COLUMNS = ("cell_id", "row", "col", "x", "y", "in_area", "area_m2", "residential_m2",
                   "reachable", "snap_dist_m")
#: Prefixes of the cell columns read when the run is opened (the others wait for a
#: what-if or a site question).
DISPLAY_PREFIXES = ("pop_", "dist_m__", "time_min__", "unit__", "covered__", "missing_types__",
                    "score__")
_FLAG_PREFIXES = ("covered__", "missing_types__", "score__")


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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ready(self) -> bool:
        """Whether :meth:`routable` has been loaded."""
        return self._routable is not None

    def routable(self) -> RunResult:
        """The run with its networks, every cell column and the network joins (loaded once).

        Raises
        ------
        NetworkChangedError
            The study area's street file changed since the run.
        """
        if self._routable is not None:
            return self._routable
        with self._lock:
            if self._routable is None:
                self._routable = self._load_routable()
            return self._routable

    def warm(self) -> None:
        """Start loading :meth:`routable` in the background (errors are logged)."""
        if self.ready:
            return

        def work() -> None:
            try:
                self.routable()
            except Exception as exc:  # said again to the user at the first what-if
                log.warning("what-if not available: %s", exc)

        threading.Thread(target=work, name="load-networks", daemon=True).start()

    def _load_routable(self) -> RunResult:
        start = time.perf_counter()
        base = self.result
        area = base.area
        src = Path(area.network.path)
        nets_meta: dict[str, Any] = self.meta.get("networks", {}) or {"walk": {}}
        sha = file_sha256(src)
        for mode, m in nets_meta.items():
            if m.get("sha256") and m["sha256"] != sha:
                raise NetworkChangedError(
                    f"{src} changed since this run was computed ({mode} network): what-if "
                    f"needs the run's streets; run 'lifecircle run' again / 路网文件在本次"
                    f"运行之后已改变，请重新运行 lifecircle run 后再做情景推演")
        networks = {mode: load_network(src, mode, crs=base.crs, source_sha256=sha)
                    for mode in nets_meta}
        have = set(base.cells.columns)
        rest = [c for c in cell_column_names(self.path) if c not in have]
        more = read_cells(self.path, rest)
        cells = pd.concat([base.cells, more], axis=1) if len(rest) else base.cells.copy()
        snap_max = area.network.snap_max_dist_m
        joins = snap_to_networks(networks, cells["x"].to_numpy(), cells["y"].to_numpy(),
                                 max_dist_m=snap_max)
        if "snap_dist_m" in cells and not np.allclose(
                joins["snap_dist_m"], cells["snap_dist_m"].to_numpy(float), atol=0.01,
                equal_nan=True):
            raise NetworkChangedError(
                "the street network does not give the run's joins of cells to streets; run "
                "'lifecircle run' again / 路网与本次运行不一致，请重新运行")
        for k in ("node", *(f"{m}_node" for m in networks if m != "walk")):
            cells[k] = joins[k]
        fac = base.facilities.copy()
        if len(fac):
            outlines = None
            if "outline_wkt" in fac:
                wkt = fac["outline_wkt"].fillna("").astype(str).to_numpy()
                outlines = np.array([shapely.from_wkt(w) if w else None for w in wkt],
                                    dtype=object)
            fj = snap_to_networks(networks, fac.geometry.x.to_numpy(),
                                  fac.geometry.y.to_numpy(), max_dist_m=snap_max,
                                  outlines=outlines)
            for k in ("node", *(f"{m}_node" for m in networks if m != "walk")):
                fac[k] = fj[k]
        else:
            for k in ("node", *(f"{m}_node" for m in networks if m != "walk")):
                fac[k] = np.zeros(0, dtype=np.int64)
        out = dataclasses.replace(base, networks=networks, cells=cells, facilities=fac,
                                  catchments=catchment_function(networks["walk"], cells, fac))
        log.info("networks and joins for what-if loaded in %.1f s",
                 time.perf_counter() - start)
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

