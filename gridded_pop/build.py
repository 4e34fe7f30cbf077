"""Every population source onto one analysis grid, with conservation accounting."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm.auto import tqdm

from access.errors import ConfigError, CrsMismatchError
from access.i18n import Say, bar, say
from access.rejects import RejectLog
from gridded_pop._result import SourceResult
from gridded_pop.ancillary import LandCover, read_osm_landcover
from gridded_pop.census import load_census_source
from gridded_pop.census2020 import CENSUS2020, cell_counties, census2020_table
from gridded_pop.grid import GridSpec
from gridded_pop.groups import GROUPS
from gridded_pop.overlay import rasterize_areas
from gridded_pop.popgrid import ACCOUNTING_COLUMNS, PopulationGrid
from gridded_pop.raster import load_raster_source
from gridded_pop.sources import (
    CensusSource,
    PopulationSource,
    RasterSource,
    VectorSource,
)
from gridded_pop.vector import load_vector_source

__all__ = ["CONSERVATION_RTOL", "area_cells_mask", "build_population", "study_area_mask"]

log = logging.getLogger(__name__)

#: Largest relative gap allowed between persons in and persons accounted for.
CONSERVATION_RTOL = 1e-6


def _check_spec(spec: GridSpec, boundary: shapely.Geometry) -> shapely.Geometry:
    units = {ax.unit_name.lower() for ax in spec.crs.axis_info}
    if spec.crs.is_geographic or not units <= {"metre", "meter", "m"}:
        raise CrsMismatchError(f"the analysis grid needs a CRS in metres, got "
                               f"{spec.crs.to_string()} ({', '.join(sorted(units))})",
                               column="crs")
    if boundary is None or shapely.is_empty(boundary) or shapely.area(boundary) <= 0:
        raise ValueError("the study area boundary is empty or has no area")
    if not shapely.is_valid(boundary):
        log.info(say("log_repair_boundary"))
        boundary = shapely.make_valid(boundary)
    bx0, by0, bx1, by1 = shapely.bounds(boundary)
    gx0, gy0, gx1, gy1 = spec.bounds
    tol = 1e-6 * spec.cell_size_m
    if bx0 < gx0 - tol or by0 < gy0 - tol or bx1 > gx1 + tol or by1 > gy1 + tol:
        raise ValueError("the study area boundary extends beyond the analysis grid; build the "
                         "grid with GridSpec.from_bounds(boundary.bounds, ...)")
    return boundary


def study_area_mask(spec: GridSpec, boundary: shapely.Geometry,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Cells of the study area.

    Returns
    -------
    in_area, area_in_m2
        ``spec.shape`` arrays: cell centre inside ``boundary``; cell area inside it.
    """
    area_in = rasterize_areas(boundary, spec)
    x, y = spec.cell_centres()
    shapely.prepare(boundary)
    in_area = shapely.contains_xy(boundary, x, y).reshape(spec.shape)
    return in_area, area_in


def area_cells_mask(spec: GridSpec, boundary: shapely.Geometry,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`study_area_mask` of the boundary as :func:`build_population` checks (and,
    when invalid, repairs) it: the cells a run analyses before the population is read.

    Raises
    ------
    CrsMismatchError
        The grid's CRS is not in metres.
    ValueError
        The boundary is empty or extends beyond the grid.
    """
    return study_area_mask(spec, _check_spec(spec, boundary))


def build_population(sources: list[PopulationSource], spec: GridSpec, *,
                     boundary: shapely.Geometry, rejects: RejectLog,
                     osm_path: Path | None = None, progress: bool = False,
                     units: Mapping[str, gpd.GeoDataFrame] | None = None,
                     area_mask: tuple[np.ndarray, np.ndarray] | None = None,
                     ) -> PopulationGrid:
    """Put every population source on the analysis grid.

    Vector polygons and raster pixels are cut exactly by the study area boundary
    before they are spread onto the grid (so the persons inside the study area
    do not depend on the cell size); census sources are clipped to the study
    area unit by unit. Groups are
    summed across sources of the same group; groups derived from shares are
    added too, and noted.

    Parameters
    ----------
    sources
        From :func:`~gridded_pop.sources.parse_population_sources`.
    spec
        The analysis grid (metric CRS) covering ``boundary``.
    boundary
        Study area polygon in ``spec.crs``.
    rejects
        Receives every input row or pixel not used.
    osm_path
        The study area's OSM file: ancillary land use for census sources with
        ``ancillary = "osm"`` and no ``osm`` key of their own, and the source of
        :attr:`PopulationGrid.residential_m2`.
    progress
        Show progress bars.
    units
        The study area's units (level -> ``unit_id`` and polygons in ``spec.crs``):
        a raster or vector source with ``shares = "census2020"`` takes, cell by cell,
        the shares of the county the cell's unit names by its administrative code
        (:func:`~gridded_pop.census2020.cell_counties`).
    area_mask
        :func:`area_cells_mask` of ``spec`` and ``boundary`` when the caller has it
        already (a partitioned run works it out before reading the population).

    Returns
    -------
    PopulationGrid

    Raises
    ------
    ConfigError
        A census source asks for OSM weights and no OSM file is known.
    InputFileError
        (and its subclasses) for bad input files, naming file, row and column.
    """
    boundary = _check_spec(spec, boundary)
    in_area, area_in = study_area_mask(spec, boundary) if area_mask is None else area_mask
    frac_in = np.clip(area_in / spec.cell_size_m ** 2, 0.0, 1.0)
    covers: dict[Path, LandCover] = {}

    def cover_for(path: Path) -> LandCover:
        path = Path(path).resolve()
        if path not in covers:
            covers[path] = read_osm_landcover(path, spec.crs)
        return covers[path]

    groups: dict[str, np.ndarray] = {}
    rows: list[dict] = []
    notes: list[tuple[str, str]] = []
    derived_groups: dict[str, tuple[str, str]] = {}
    for source in tqdm(sources, disable=not progress, desc=bar("bar_sources"),
                       unit=bar("unit_source")):
        results = _load(source, spec, boundary=boundary, rejects=rejects, osm_path=osm_path,
                        cover_for=cover_for, progress=progress, units=units or {})
        for group, res in results.items():
            grid = res.grid
            outside = res.outside
            if not res.clipped:
                on = grid * frac_in
                outside += float(grid.sum()) - float(on.sum())
                grid = on
            on_grid = float(grid.sum())
            share = source.shares.get(group)
            # the share as given: a fraction, "census2020" or a column of the census table
            derived = ("" if share is None else f"{share:g}" if isinstance(share, float)
                       else str(share))
            row = {"source": source.label, "kind": source.kind, "group": group,
                   "derived_from": derived, "population_in": res.population_in,
                   "on_grid": on_grid, "outside_area": outside, "rejected": res.rejected,
                   "rejected_rows": res.rejected_rows}
            gap = res.population_in - (on_grid + outside + res.rejected)
            if abs(gap) > CONSERVATION_RTOL * max(1.0, abs(res.population_in)):
                raise RuntimeError(f"population not conserved for {source.label} ({group}): "
                                   f"{gap:.6g} persons unaccounted for")
            rows.append(row)
            groups[group] = groups.get(group, np.zeros(spec.shape)) + grid
            for note in res.notes:
                if note not in notes:
                    notes.append(note)
            if share is not None:
                zh_g, en_g = GROUPS[group]
                how_zh = (f"比例 {share:.2%}" if isinstance(share, float)
                          else "2020年人口普查分县年龄结构" if share == CENSUS2020
                          else f"各单元比例（列 {share}）")
                how_en = (f"a share of {share:.2%}" if isinstance(share, float)
                          else "the 2020 census age structure of each county"
                          if share == CENSUS2020
                          else f"a share per unit (column '{share}')")
                note = (f"{zh_g}由{source.label}的总人口按{how_zh}推算",
                        f"{en_g} derived from the total of {source.label} with {how_en}")
                notes.append(note)
                derived_groups[group] = note
        log.info(say("log_file_detail", file=source.label, detail=Say(
            "，".join(f"{GROUPS.get(g, (g, g))[0]} {float(r.grid.sum()):,.0f}"
                     for g, r in results.items()),
            ", ".join(f"{g} {float(r.grid.sum()):,.0f}" for g, r in results.items()))))
    if "total" not in groups:
        groups["total"] = np.zeros(spec.shape)
        notes.append(("未提供总人口数据，总人口为零", "no source gives the total population; "
                      "the total is zero"))
        log.warning(say("log_no_total"))
    residential = None
    if osm_path is not None or covers:
        cover = cover_for(osm_path) if osm_path is not None else next(iter(covers.values()))
        residential = rasterize_areas(shapely.intersection(cover.residential, boundary), spec)
    accounting = pd.DataFrame(rows, columns=ACCOUNTING_COLUMNS)
    return PopulationGrid(spec=spec, groups=groups, in_area=in_area, accounting=accounting,
                          notes=notes, area_in_m2=area_in, residential_m2=residential,
                          boundary=boundary, derived_groups=derived_groups)


def _load(source: PopulationSource, spec: GridSpec, *, boundary: shapely.Geometry,
          rejects: RejectLog, osm_path: Path | None, cover_for,
          progress: bool, units: Mapping[str, gpd.GeoDataFrame]) -> dict[str, SourceResult]:
    if isinstance(source, CensusSource):
        cover = None
        if source.ancillary == "osm":
            path = source.osm or osm_path
            if path is None:
                raise ConfigError("ancillary = \"osm\" needs an OSM file: give 'osm' for this "
                                  "source or the study area's network OSM file, or set "
                                  "ancillary = \"none\"", path=source.config_path,
                                  key=f"{source.where}.osm")
            cover = cover_for(path)
        return load_census_source(source, spec, boundary=boundary, cover=cover,
                                  rejects=rejects, progress=progress)
    if isinstance(source, RasterSource):
        res = load_raster_source(source, spec, rejects=rejects, boundary=boundary,
                                 progress=progress)
    elif isinstance(source, VectorSource):
        res = load_vector_source(source, spec, rejects=rejects, boundary=boundary,
                                 progress=progress)
    else:  # pragma: no cover - parse_population_sources makes only the three kinds
        raise TypeError(f"unknown population source {source!r}")
    out = {source.group: res}
    by_county = [g for g, share in source.shares.items() if share == CENSUS2020]
    if by_county:
        out |= _census2020_groups(source, res, spec, units, by_county)
    for group, share in source.shares.items():
        if share != CENSUS2020:
            assert isinstance(share, float)
            out[group] = res.scaled(share)
    return out


def _census2020_groups(source: RasterSource | VectorSource, res: SourceResult, spec: GridSpec,
                       units: Mapping[str, gpd.GeoDataFrame],
                       groups: list[str]) -> dict[str, SourceResult]:
    """Groups of a raster or vector total, cell by cell from the 2020 census shares of the
    county each cell's unit names; cells in a unit naming no county get the
    population-weighted mean share of the others."""
    counties = cell_counties(spec, units, weights=res.grid)
    if counties is None:
        raise ConfigError(
            f"shares = \"{CENSUS2020}\" on a {source.kind} source needs units whose ids are "
            "administrative codes (6-digit county codes, optionally prefixed by 156, or "
            "9/12-digit township codes): add a [[units]] level with such an id_column, or "
            "give the shares as fractions", path=source.config_path,
            key=f"{source.where}.shares")
    table = census2020_table()
    pop = res.grid
    code = counties.code
    used = sorted({c for c in np.unique(code[pop > 0]) if c})
    known = code != ""
    lost_pop = float(pop[~known].sum())
    out: dict[str, SourceResult] = {}
    for g in groups:
        share = np.full(spec.shape, np.nan)
        for c in used:
            share[code == c] = float(table.loc[c, f"share_{g}"])
        inside = known & (pop > 0)
        mean = float((pop[inside] * share[inside]).sum() / pop[inside].sum())
        share = np.where(np.isfinite(share), share, mean)
        grid = pop * share
        m = float(grid.sum() / pop.sum()) if pop.sum() > 0 else mean
        out[g] = SourceResult(grid, float(grid.sum()) + (res.outside + res.rejected) * m,
                              res.outside * m, res.rejected * m, res.rejected_rows,
                              res.clipped, list(res.notes))
    zh_parts = [f"{table.loc[c, 'county']}（{c}）" + "、".join(
        f"{GROUPS[g][0]} {float(table.loc[c, f'share_{g}']):.2%}" for g in groups) for c in used]
    en_parts = [f"{table.loc[c, 'county']} ({c}) " + ", ".join(
        f"{g} {float(table.loc[c, f'share_{g}']):.2%}" for g in groups) for c in used]
    zh = (f"{source.label}：各网格年龄结构取自其所在“{counties.level}”单元代码对应区县的2020年"
          f"第七次人口普查数据（年龄段内按单岁均匀分布，0–2岁 = 0岁 + 1–4岁的一半）："
          f"{'；'.join(zh_parts)}")
    en = (f"{source.label}: age structure of each cell from the 2020 census of the county "
          f"its '{counties.level}' unit's code names (ages uniform within a 5-year band: "
          f"0-2 = age 0 + half of 1-4): {'; '.join(en_parts)}")
    if lost_pop > 0:
        zh += (f"；{lost_pop:,.0f} 人所在单元的代码不对应任何区县"
               f"（{'、'.join(counties.unmatched_units[:5]) or '不在任何单元内'}），"
               "按其余网格的人口加权平均比例推算")
        en += (f"; {lost_pop:,.0f} persons live in units whose code names no county "
               f"({', '.join(counties.unmatched_units[:5]) or 'in no unit'}): given the "
               "population-weighted mean share of the other cells")
    for r in out.values():
        r.notes.append((zh, en))
    return out
