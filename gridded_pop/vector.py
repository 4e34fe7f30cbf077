"""Polygons (or points) with a population column onto the analysis grid.

Polygons are split among cells by areal weighting: a cell receives the share of
the feature's persons equal to the share of the feature's area inside it. With
a study area boundary, each polygon is first cut exactly by the boundary, so a
cell at the edge receives the persons of the part of the feature inside both
the cell and the study area, and the total inside the study area equals the
exact overlay (persons × area inside / area) at any cell size.
Points put all their persons in the cell containing them (inside the boundary).
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from access.crs import to_metric
from access.errors import InputFileError, suggest
from access.i18n import say
from access.rejects import RejectLog
from gridded_pop._result import SourceResult
from gridded_pop.errors import PopulationUnitsError
from gridded_pop.grid import GridSpec
from gridded_pop.overlay import feature_cell_areas
from gridded_pop.raster import MAX_PERSONS_PER_M2
from gridded_pop.sources import UNITS, VectorSource

__all__ = ["clip_to_boundary", "load_vector_source", "read_vector_file", "valid_counts"]

log = logging.getLogger(__name__)


def read_vector_file(path: Path, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a GeoPackage, GeoJSON or Shapefile, with a clear error on failure."""
    try:
        return gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises DataSourceError / DataLayerError
        raise InputFileError(f"cannot read the file as vector data ({exc})", path=path) from exc


def valid_counts(frame: pd.DataFrame, column: str, *, path: Path, rejects: RejectLog,
                 label: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a population column; invalid values go to ``rejects``.

    Returns
    -------
    values, ok
        float64 values (NaN where invalid) and the mask of valid rows.

    Raises
    ------
    InputFileError
        The column does not exist.
    """
    if column not in frame.columns:
        cols = [str(c) for c in frame.columns if c != "geometry"]
        raise InputFileError(f"no column '{column}'{suggest(column, cols)}; columns: "
                             + ", ".join(cols), path=path, column=column)
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(values) & (values >= 0)
    for i in np.flatnonzero(~ok):
        what = (("负值", "negative") if np.isfinite(values[i])
                else ("缺失或不是数字", "missing or not a number"))
        rejects.add(label, int(i) + 1, "invalid_value",
                    (f"{column} = {raw.iloc[i]!r}（{what[0]}）",
                     f"{column} = {raw.iloc[i]!r} ({what[1]})"), kind="population")
    if (~ok).any():
        log.warning(say("log_invalid_rows", file=path, n=int((~ok).sum()), column=column))
    return values, ok


def load_vector_source(source: VectorSource, spec: GridSpec, *, rejects: RejectLog,
                       boundary: shapely.Geometry | None = None,
                       progress: bool = False) -> SourceResult:
    """Areal weighting of a vector population layer onto ``spec``.

    With ``boundary`` (study area polygon in ``spec.crs``) only the persons of
    the parts of features inside it reach the grid (``clipped`` result); the
    rest count as outside the study area.

    Raises
    ------
    InputFileError
        Unreadable file or missing column.
    NoCrsError, CrsMismatchError
        CRS missing (and not stated) or contradictory.
    PopulationUnitsError
        A feature's value is impossible for the stated units.
    """
    del progress  # one vectorised pass; nothing to report
    assert source.path is not None
    path = source.path
    gdf = read_vector_file(path, layer=source.layer)
    values, ok = valid_counts(gdf, source.value_column, path=path, rejects=rejects,
                              label=source.label)
    gdf = to_metric(gdf, spec.crs, source=path, stated=source.crs)
    geoms: np.ndarray = gdf.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    geoms = geoms.copy()
    geoms[missing] = None
    invalid_geom = ~missing & ~shapely.is_valid(geoms)
    if invalid_geom.any():
        log.info(say("log_repair_geoms", file=path, n=int(invalid_geom.sum())))
        geoms[invalid_geom] = shapely.make_valid(geoms[invalid_geom])
    types = shapely.get_type_id(geoms)
    is_point = np.isin(types, (0, 4))  # Point, MultiPoint
    area = np.where(missing, 0.0, shapely.area(geoms))
    is_poly = ~missing & ~is_point & (area > 0)

    counts = np.where(ok, values, 0.0)
    factor = UNITS[source.units]
    if factor is not None:
        if (ok & is_point).any():
            i = int(np.flatnonzero(ok & is_point)[0])
            raise PopulationUnitsError(f"units = \"{source.units}\" is a density, but the "
                                       "feature is a point without area", path=path, row=i + 1,
                                       column=source.value_column)
        counts = counts * area * factor  # rows without area carry no known persons
    rejected = 0.0
    n_rej = int((~ok).sum())
    unusable = ok & ~is_point & ~is_poly
    for i in np.flatnonzero(unusable).tolist():
        if missing[i]:
            reason, what = "missing_coordinates", ("无几何", "no geometry")
        else:
            reason = "invalid_value"
            what = (f"{geoms[i].geom_type} 无面积（线与退化多边形无法按面积分配）",
                    f"{geoms[i].geom_type} without area (lines and degenerate polygons "
                    "cannot be weighted)")
        rejects.add(source.label, int(i) + 1, reason, what, kind="population",
                    population=float(counts[i]))
        rejected += float(counts[i])
        n_rej += 1
    multi_pts = ok & is_point & (shapely.get_num_geometries(geoms) > 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        # features under 100 m² are not judged: slivers and footprints can be tiny
        dens = np.where(is_poly & ok & (area >= 100.0),
                        counts / np.where(area > 0, area, 1.0), 0.0)
    if dens.size and dens.max() > MAX_PERSONS_PER_M2:
        i = int(np.argmax(dens))
        raise PopulationUnitsError(
            f"{values[i]:g} means {dens[i]:.1f} persons per m² over the feature's "
            f"{area[i]:.0f} m² under units = \"{source.units}\"; is the column a density? "
            "set units = \"persons_per_km2\" (or the matching density)",
            path=path, row=i + 1, column=source.value_column)
    population_in = float(counts[ok].sum())

    out = np.zeros(spec.n_cells)
    polys = np.flatnonzero(ok & is_poly & (counts > 0))
    if polys.size:
        pieces = geoms[polys]
        if boundary is not None:
            pieces = clip_to_boundary(pieces, boundary)
        f, cell, a = feature_cell_areas(pieces, spec)
        f = polys[f]
        out += np.bincount(cell, weights=counts[f] * a / area[f], minlength=spec.n_cells)
    pts = np.flatnonzero(ok & is_point & (counts > 0))
    if pts.size:
        if multi_pts[pts].any():
            # each part of a MultiPoint carries an equal share
            parts, idx = shapely.get_parts(geoms[pts], return_index=True)
            share = counts[pts][idx] / shapely.get_num_geometries(geoms[pts])[idx]
        else:
            parts, share = geoms[pts], counts[pts]
        px, py = shapely.get_x(parts), shapely.get_y(parts)
        cell = spec.cell_of(px, py)
        inside = cell >= 0
        if boundary is not None:
            shapely.prepare(boundary)
            inside &= shapely.intersects_xy(boundary, px, py)
        out += np.bincount(cell[inside], weights=share[inside], minlength=spec.n_cells)
    grid = out.reshape(spec.shape)
    on_grid = float(grid.sum())
    return SourceResult(grid, population_in, outside=population_in - rejected - on_grid,
                        rejected=rejected, rejected_rows=n_rej, clipped=boundary is not None)


def clip_to_boundary(geoms: np.ndarray, boundary: shapely.Geometry) -> np.ndarray:
    """``geoms ∩ boundary``, exactly; features wholly inside are returned as they are."""
    geoms = np.asarray(geoms, dtype=object)
    shapely.prepare(boundary)
    out = geoms.copy()
    inside = shapely.contains_properly(boundary, geoms)
    cut = ~inside
    if cut.any():
        out[cut] = shapely.intersection(geoms[cut], boundary)
    return out
