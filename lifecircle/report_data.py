"""What a report needs from a run, from memory or from a finished output folder.

:class:`ReportData` is the one shape the report writers read. It comes either from a
:class:`lifecircle.pipeline.RunResult` just computed (:meth:`ReportData.from_result`)
or from a run's output folder (:meth:`ReportData.from_folder`), so a report can be
written long after the run, on another machine, as long as the folder is complete.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS

from access.crs import to_metric
from access.errors import LifecircleError
from access.i18n import t
from access.network import load_network
from gridded_pop import GridSpec
from lifecircle.pipeline import RunResult
from lifecircle.results import cell_column_names, read_run
from lifecircle.study_area import StudyArea, load_study_area

__all__ = ["ReportData", "report_column", "street_segments"]

log = logging.getLogger(__name__)

@dataclass
class ReportData:
    """The parts of a run a report shows.

    Attributes
    ----------
    name, title_zh, title_en
        The study area's name and titles.
    area
        The study area, or None when its file cannot be read any more.
    area_path
        The study-area file the run used.
    crs
        Metric CRS of ``cells``, ``facilities`` and ``unit_polygons``.
    cell_size_m
        Grid cell size.
    cells
        One row per cell: ``cell_id, x, y, pop_*, time_min__*, covered__*, unit__*``.
    facilities
        Facilities (GeoDataFrame in ``crs``).
    targets, units, gaps, rejects, completeness, accounting
        The run's tables (as in ``targets.csv`` ... ``population_accounting.csv``).
    unit_polygons
        Level -> unit polygons in ``crs`` (``unit_id``, ``name``).
    unit_stats
        Level -> area, population and settlement type per unit.
    gap_cells
        The cell -> gap area table (``target_id, rank, cell_id``) of runs that write
        it, else None.
    grid
        The analysis grid, when known.
    result
        The run itself when the report is made from memory (:meth:`from_result`).
    meta
        The run's ``run.json`` content.
    out_dir
        The run's output folder, when read from one.
    notes
        Problems met while gathering the data (shown in the report).
    """

    name: str
    title_zh: str
    title_en: str
    area: StudyArea | None
    area_path: Path
    crs: CRS
    cell_size_m: float
    cells: pd.DataFrame
    facilities: gpd.GeoDataFrame
    targets: pd.DataFrame
    units: pd.DataFrame
    gaps: pd.DataFrame
    rejects: pd.DataFrame
    completeness: pd.DataFrame
    accounting: pd.DataFrame
    unit_polygons: dict[str, gpd.GeoDataFrame]
    meta: dict[str, Any]
    out_dir: Path | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)
    unit_stats: dict[str, pd.DataFrame] = field(default_factory=dict)
    gap_cells: pd.DataFrame | None = None
    grid: GridSpec | None = None
    result: RunResult | None = field(default=None, repr=False)

    def title(self, lang: str) -> str:
        """The study area's title in ``lang``."""
        return (self.title_zh if lang == "zh" else self.title_en) or self.name

    @classmethod
    def from_result(cls, result: RunResult, *, out_dir: str | Path | None = None,
                    meta: dict[str, Any] | None = None) -> ReportData:
        """From a run just computed (``meta``: its ``run.json`` content, if written)."""
        tg = result.targets
        empty = pd.DataFrame()
        cells = result.cells
        return cls(
            name=result.area.name, title_zh=result.area.title_zh,
            title_en=result.area.title_en, area=result.area,
            area_path=Path(result.area.path), crs=result.crs,
            cell_size_m=float(result.population.spec.cell_size_m), cells=cells,
            facilities=result.facilities,
            targets=tg.targets if tg is not None else empty,
            units=tg.units if tg is not None else empty,
            gaps=tg.gaps if tg is not None else empty,
            rejects=result.rejects.to_frame(), completeness=result.completeness,
            accounting=result.population.accounting,
            unit_polygons=dict(result.unit_polygons),
            meta=meta or _meta_of(result), out_dir=None if out_dir is None else Path(out_dir),
            unit_stats=dict(result.units), grid=result.population.spec, result=result,
            gap_cells=tg.gap_cells if tg is not None else None)

    @classmethod
    def from_folder(cls, out_dir: str | Path) -> ReportData:
        """From a finished run's output folder.

        Raises
        ------
        IncompleteRunError
            The folder is missing or is not a complete run (:func:`lifecircle.read_run`).
        """
        d = Path(out_dir)
        run_data = read_run(d, cell_columns=[c for c in cell_column_names(d)
                                             if report_column(c)])
        meta = run_data.meta
        empty = pd.DataFrame()

        def table(frame: pd.DataFrame | None) -> pd.DataFrame:
            return frame if frame is not None else empty

        cells = run_data.cells
        fac = run_data.facilities
        crs = run_data.crs
        notes: list[tuple[str, str]] = []
        area: StudyArea | None = None
        area_path = Path(meta["study_area"])
        try:
            area = load_study_area(area_path)
        except LifecircleError as exc:
            notes.append(_pair("report_note_area_unreadable", err=exc))
        polygons: dict[str, gpd.GeoDataFrame] = {}
        if area is not None:
            for spec in area.units:
                try:
                    gdf = gpd.read_file(spec.path)
                    gdf = to_metric(gdf, crs, source=spec.path.name, stated=spec.crs)
                except (LifecircleError, OSError, pyogrio.errors.DataSourceError) as exc:
                    notes.append(_pair("report_note_units_unreadable", err=exc))
                    continue
                gdf = gdf.rename(columns={spec.id_column: "unit_id", spec.name_column: "name"})
                gdf["unit_id"] = gdf["unit_id"].astype(str)
                polygons[spec.level] = gdf[["unit_id", "name", "geometry"]]
        return cls(
            name=meta.get("name", area_path.stem),
            title_zh=area.title_zh if area else meta.get("name", ""),
            title_en=area.title_en if area else meta.get("name", ""), area=area,
            area_path=area_path, crs=crs, cell_size_m=float(meta["grid"]["cell_size_m"]),
            cells=cells, facilities=fac, targets=table(run_data.targets),
            units=table(run_data.units), gaps=table(run_data.gaps), rejects=run_data.rejects,
            completeness=run_data.completeness, accounting=run_data.population_accounting,
            unit_polygons=polygons or dict(run_data.unit_polygons), meta=meta,
            out_dir=d, notes=notes, unit_stats=dict(run_data.unit_stats),
            grid=run_data.grid, gap_cells=run_data.gap_cells)


#: Cell columns a report reads (maps, GeoPackage, best new sites): the rest of a large
#: run's cell table (e-bike and car times, nearest ids, scores) is not read.
REPORT_CELL_COLUMNS = ("cell_id", "x", "y", "snap_dist_m", "settlement")
REPORT_CELL_PREFIXES = ("pop_", "covered__", "time_min__", "dist_m__", "unit__")


def report_column(name: str) -> bool:
    """Whether a report reads the cell column ``name``."""
    return name in REPORT_CELL_COLUMNS or name.startswith(REPORT_CELL_PREFIXES)


def _pair(key: str, **fmt: object) -> tuple[str, str]:
    """A catalogue message in both languages, for a note shown in either."""
    return t(key, "zh", **fmt), t(key, "en", **fmt)


def _meta_of(result: RunResult) -> dict[str, Any]:
    grid = result.population.spec
    return {
        "study_area": str(result.area.path), "name": result.area.name,
        "crs": result.crs.to_string(), "crs_name": result.crs.name,
        "grid": {"cell_size_m": grid.cell_size_m, "n_rows": grid.n_rows,
                 "n_cols": grid.n_cols},
        "networks": {m: {"nodes": n.n_nodes, "arcs": n.n_arcs, "source": n.source,
                         "sha256": n.source_sha256, **n.report}
                     for m, n in result.networks.items()},
        "walk_speed_kmh": result.area.travel.walk_speed_kmh,
        "categories": result.categories,
        "population_notes": [{"zh": zh, "en": en} for zh, en in result.population.notes],
        "timings_s": result.timings_s, "rejects": len(result.rejects)}


def street_segments(data: ReportData, *, max_segments: int = 200_000) -> np.ndarray | None:
    """Street segments ``(n, 2, 2)`` in the run's CRS from the study area's own OSM file.

    The driving network when the study area builds one (main streets), else the
    walking network; read from the network cache. None when the file is unavailable.
    A network larger than ``max_segments`` (a municipality, where every street would
    grey the whole map) keeps its fastest streets, by driving speed, up to that many.
    """
    if data.area is None:
        return None
    mode = "drive" if "drive" in data.area.network.modes else "walk"
    try:
        net = load_network(data.area.network.path, mode, crs=data.crs)
    except LifecircleError as exc:
        data.notes.append(_pair("report_note_streets_unreadable", err=exc))
        return None
    u, v = net.edge_lines()
    if len(u) > max_segments and net.time_s is not None:
        tails = net.arc_tails()
        heads = net.indices.astype(np.int64)
        speed = net.length_m / np.maximum(net.time_s, 1e-9)
        # the fastest arc of each undirected street segment, by the same key as edge_lines
        key = np.minimum(tails, heads) * net.n_nodes + np.maximum(tails, heads)
        best = pd.Series(speed).groupby(key).max()
        seg_speed = best.reindex(u * net.n_nodes + v).to_numpy()
        keep = np.argsort(-seg_speed, kind="stable")[:max_segments]
        u, v = u[np.sort(keep)], v[np.sort(keep)]
    return np.stack([np.column_stack([net.x[u], net.y[u]]),
                     np.column_stack([net.x[v], net.y[v]])], axis=1)
