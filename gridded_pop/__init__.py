"""Population grids: rasters, vector grids and census totals onto one analysis grid.

:func:`parse_population_sources` reads the study-area file's ``[[population]]``
tables; :func:`build_population` puts every source on the analysis grid
(:class:`~gridded_pop.grid.GridSpec`) and returns a :class:`PopulationGrid` with
persons per group (:data:`GROUPS`) and an accounting of every person read.
"""

from gridded_pop.ancillary import DasymetricWeights, LandCover, read_osm_landcover
from gridded_pop.build import area_cells_mask, build_population, study_area_mask
from gridded_pop.errors import NoOverlapError, PopulationUnitsError
from gridded_pop.grid import GridSpec
from gridded_pop.groups import GROUPS
from gridded_pop.popgrid import PopulationGrid
from gridded_pop.sources import (
    CensusSource,
    PopulationSource,
    RasterSource,
    VectorSource,
    parse_population_sources,
)

__all__ = [
    "GROUPS",
    "CensusSource",
    "DasymetricWeights",
    "GridSpec",
    "LandCover",
    "NoOverlapError",
    "PopulationGrid",
    "PopulationSource",
    "PopulationUnitsError",
    "RasterSource",
    "VectorSource",
    "area_cells_mask",
    "build_population",
    "parse_population_sources",
    "read_osm_landcover",
    "study_area_mask",
]
