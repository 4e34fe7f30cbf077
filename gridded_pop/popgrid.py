"""The population grid: persons per group on the analysis grid, with its accounting."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from access.crs import to_metric
from access.errors import InputFileError
from access.i18n import say
from gridded_pop.grid import GridSpec
from gridded_pop.overlay import polygon_cell_areas

__all__ = ["ACCOUNTING_COLUMNS", "PopulationGrid"]

log = logging.getLogger(__name__)

#: Columns of :attr:`PopulationGrid.accounting` (persons unless named otherwise).
ACCOUNTING_COLUMNS = ["source", "kind", "group", "derived_from", "population_in", "on_grid",
                      "outside_area", "rejected", "rejected_rows"]


@dataclass
class PopulationGrid:
    """Persons per group on the analysis grid.

    Attributes
    ----------
    spec
        The analysis grid.
    groups
        Group key -> ``(n_rows, n_cols)`` float64 persons; always has ``"total"``.
    in_area
        ``(n_rows, n_cols)`` bool: cell centre inside the study area.
    accounting
        One row per source and group: ``source, kind, group, derived_from`` (the
        share a derived group comes from, as given: a fraction, ``census2020`` or a
        column of the census table), ``population_in, on_grid, outside_area,
        rejected, rejected_rows``. For every
        row ``population_in = on_grid + outside_area + rejected``.
    notes
        ``(zh, en)`` remarks: how groups were derived, where density was assumed
        uniform, units without data.
    area_in_m2
        ``(n_rows, n_cols)`` area of each cell inside the study area boundary.
    residential_m2
        ``(n_rows, n_cols)`` residential land (OSM ``landuse=residential``) inside
        the study area per cell, or None when no OSM land use was read.
    boundary
        The study area polygon in ``spec.crs`` (used to weight unit overlaps).
    derived_groups
        Group -> ``(zh, en)`` note for every group derived from a share of the total.
    """

    spec: GridSpec
    groups: dict[str, np.ndarray]
    in_area: np.ndarray
    accounting: pd.DataFrame
    notes: list[tuple[str, str]]
    area_in_m2: np.ndarray
    residential_m2: np.ndarray | None = None
    boundary: shapely.Geometry | None = None
    derived_groups: dict[str, tuple[str, str]] = field(default_factory=dict)

    def total(self, group: str = "total") -> float:
        """Persons of ``group`` on the grid."""
        return float(self.groups[group].sum())

    def cells_frame(self, *, populated_only: bool = True) -> pd.DataFrame:
        """One row per cell: ``cell_id, row, col, x, y, in_area, area_in_m2,
        [residential_m2,] pop_total, pop_<group>...``.

        Parameters
        ----------
        populated_only
            Keep only cells where some group has persons.
        """
        spec = self.spec
        ids = np.arange(spec.n_cells)
        pops = {f"pop_{g}": a.ravel() for g, a in self._ordered_groups().items()}
        if populated_only:
            mask = np.zeros(spec.n_cells, bool)
            for v in pops.values():
                mask |= v > 0
            ids = ids[mask]
        row, col = np.divmod(ids, spec.n_cols)
        x, y = spec.cell_centres(ids)
        data = {"cell_id": ids, "row": row, "col": col, "x": x, "y": y,
                "in_area": self.in_area.ravel()[ids], "area_in_m2": self.area_in_m2.ravel()[ids]}
        if self.residential_m2 is not None:
            data["residential_m2"] = self.residential_m2.ravel()[ids]
        data.update({k: v[ids] for k, v in pops.items()})
        return pd.DataFrame(data)

    def _ordered_groups(self) -> dict[str, np.ndarray]:
        return {"total": self.groups["total"],
                **{g: a for g, a in self.groups.items() if g != "total"}}

    def aggregate_to_units(self, units: gpd.GeoDataFrame, *, id_column: str) -> pd.DataFrame:
        """Persons per group per administrative unit.

        Each cell's persons are shared among the units overlapping the cell's
        part inside the study area, in proportion to the overlap area.

        Parameters
        ----------
        units
            Unit polygons with a CRS (any; reprojected to the grid's CRS).
        id_column
            Column identifying units.

        Returns
        -------
        pandas.DataFrame
            ``id_column, area_m2, pop_total, pop_<group>...``, one row per unit
            (``area_m2``: unit area inside the study area). Persons in no unit are
            in ``.attrs["unassigned"]`` (group -> persons) and logged.

        Raises
        ------
        InputFileError
            ``id_column`` does not exist.
        NoCrsError
            ``units`` has no CRS.
        """
        if id_column not in units.columns:
            raise InputFileError(f"no column '{id_column}'", path="units", column=id_column)
        units = to_metric(units, self.spec.crs, source="units")
        groups = self._ordered_groups()
        flat = {g: a.ravel() for g, a in groups.items()}
        area_in = self.area_in_m2.ravel()
        cell_area = self.spec.cell_size_m ** 2
        assigned = dict.fromkeys(groups, 0.0)
        rows = []
        geoms = shapely.make_valid(units.geometry.to_numpy())
        for uid, geom in zip(units[id_column], geoms, strict=True):
            row = {id_column: uid, "area_m2": 0.0, **{f"pop_{g}": 0.0 for g in groups}}
            if geom is not None and not shapely.is_empty(geom):
                if self.boundary is not None:
                    geom = shapely.intersection(geom, self.boundary)
                ids, a = polygon_cell_areas(geom, self.spec)
                denom = area_in[ids] if self.boundary is not None else np.full(ids.size,
                                                                                 cell_area)
                frac = np.divide(a, denom, out=np.zeros_like(a), where=denom > 0)
                frac = np.minimum(frac, 1.0)
                row["area_m2"] = float(a.sum())
                for g, v in flat.items():
                    p = float((v[ids] * frac).sum())
                    row[f"pop_{g}"] = p
                    assigned[g] += p
            rows.append(row)
        out = pd.DataFrame(rows, columns=[id_column, "area_m2", *[f"pop_{g}" for g in groups]])
        unassigned = {g: float(flat[g].sum()) - assigned[g] for g in groups}
        out.attrs["unassigned"] = unassigned
        if unassigned["total"] > 1e-6 * max(1.0, float(flat["total"].sum())):
            log.warning(say("log_pop_no_unit", n=unassigned["total"]))
        if any(v < -1e-6 * max(1.0, float(flat[g].sum())) for g, v in unassigned.items()):
            log.warning(say("log_units_overlap"))
        return out
