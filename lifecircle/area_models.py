"""The study-area file as typed models: types, ranges and keys of every table.

:class:`StudyAreaFile` checks the file's structure (unknown keys, wrong types,
numbers out of their plausible range, ``inf``/``nan``); the ``[[population]]`` and
``[[facilities]]`` tables are checked by the models their packages own
(:data:`gridded_pop.sources.TABLE_MODELS`, :data:`facilities.sources.TABLE_MODELS`).
:func:`study_area_schema` gives the JSON Schema editors use to complete and check
the file. :mod:`lifecircle.study_area` adds the checks that need the files.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import Field, field_validator

from access.config import StrictModel
from access.vocabulary import GroupKey
from facilities.sources import OsmTable, TableTable
from facilities.sources import VectorTable as VectorFacilityTable
from facilities.taxonomy import CategoryTable
from gridded_pop.sources import CensusTable, RasterTable, VectorTable

__all__ = ["RANGES", "GridTable", "NetworkTable", "StudyAreaFile", "TravelTable", "UnitsTable",
           "study_area_schema"]

#: Plausible range (inclusive) of every numeric key of the file, by key path.
RANGES: dict[str, tuple[float, float]] = {
    "network.snap_max_dist_m": (1.0, 5000.0),
    "grid.cell_size_m": (10.0, 5000.0),
    "travel.walk_speed_kmh": (1.0, 10.0),
    "travel.max_walk_dist_m": (100.0, 30000.0),
    "travel.k_nearest": (1, 50),
    "travel.drive_leg_speed_kmh": (1.0, 120.0),
    "travel.max_drive_time_min": (1.0, 600.0),
}


def _range(key: str) -> Interval:
    """The bounds of ``key`` (:data:`RANGES`) as field metadata."""
    lo, hi = RANGES[key]
    return Interval(ge=lo, le=hi)


def _default_modes() -> list[Literal["walk", "ebike", "drive"]]:
    return ["walk"]


class NetworkTable(StrictModel):
    """``[network]``: the street network file and snapping."""

    path: str = Field(description="OSM XML (.osm) or PBF (.osm.pbf) file")
    modes: list[Literal["walk", "ebike", "drive"]] = Field(
        default_factory=_default_modes,
        description="travel modes to build; walk is always built, ebike and drive also "
                    "when a target names them")
    snap_max_dist_m: Annotated[float, _range("network.snap_max_dist_m")] = Field(
        500.0, description="farther from the network is unreachable")


class GridTable(StrictModel):
    """``[grid]``: the analysis grid."""

    cell_size_m: Annotated[float, _range("grid.cell_size_m")] = Field(
        100.0, description="side of a grid cell in metres")


_Speed = Annotated[float, _range("travel.walk_speed_kmh")]


class TravelTable(StrictModel):
    """``[travel]``: speeds and search limits."""

    walk_speed_kmh: dict[GroupKey, _Speed] = Field(
        default_factory=dict,
        description="walking speed per population group; total is the default")
    max_walk_dist_m: Annotated[float, _range("travel.max_walk_dist_m")] = 3000.0
    k_nearest: Annotated[int, _range("travel.k_nearest")] = Field(
        3, description="nearest facilities listed per cell and category")
    drive_leg_speed_kmh: Annotated[float, _range("travel.drive_leg_speed_kmh")] = 15.0
    max_drive_time_min: Annotated[float, _range("travel.max_drive_time_min")] = 90.0


class UnitsTable(StrictModel):
    """One ``[[units]]`` table: administrative units of one level."""

    level: str = Field(description="district, subdistrict, township, village, community ...")
    path: str = Field(description="polygon file (GeoJSON, GeoPackage, Shapefile)")
    id_column: str
    name_column: str
    crs: str | None = Field(None, description="CRS of the file when it records none")
    settlement_column: str | None = Field(
        None, description="column classifying units: 城区/镇/村 or urban/town/village")


def _as_list(value: Any) -> Any:
    """A single ``[units]`` table is read as a one-table array."""
    return [value] if isinstance(value, dict) else value


class StudyAreaFile(StrictModel):
    """The whole study-area file, structure only (files are checked by the loader)."""

    name: str | None = Field(None, description="short name (default: the file name)")
    title_zh: str = ""
    title_en: str = ""
    metric_crs: str = Field("auto", description="auto (UTM zone from the data) or a CRS")
    boundary: str = Field("osm_bounds",
                          description="osm_bounds (the network file's box) or a polygon file")
    boundary_crs: str | None = Field(None, description="only when the file records none")
    network: NetworkTable
    grid: GridTable = Field(default_factory=GridTable)
    travel: TravelTable = Field(default_factory=TravelTable)
    population: list[dict[str, Any]] = Field(default_factory=list)
    facilities: list[dict[str, Any]] = Field(default_factory=list)
    categories: list[dict[str, Any]] = Field(default_factory=list)
    units: list[UnitsTable] = Field(default_factory=list)
    targets: dict[str, Any] = Field(default_factory=dict,
                                    description="plan profile and local target changes")

    _lists = field_validator("population", "facilities", "categories", "units",
                             mode="before")(_as_list)


_PopulationTable = Annotated[RasterTable | VectorTable | CensusTable,
                             Field(discriminator="kind")]
_FacilityTable = Annotated[OsmTable | TableTable | VectorFacilityTable,
                           Field(discriminator="kind")]


class _SchemaFile(StudyAreaFile):
    """The file with its ``[[population]]`` and ``[[facilities]]`` tables typed too."""

    population: list[_PopulationTable] = Field(  # type: ignore[assignment]
        default_factory=list, description="population sources (at least one)")
    facilities: list[_FacilityTable] = Field(  # type: ignore[assignment]
        default_factory=list, description="facility sources, in merge precedence")
    categories: list[CategoryTable] = Field(  # type: ignore[assignment]
        default_factory=list, description="new categories, or changes to shipped ones")


def study_area_schema() -> dict[str, Any]:
    """The JSON Schema of the study-area file (draft 2020-12)."""
    schema = _SchemaFile.model_json_schema(by_alias=True)
    schema["title"] = "lifecircle study-area file"
    schema["description"] = ("A TOML file describing what to analyse: network, grid, travel, "
                             "population, facilities, units and targets. "
                             "研究区文件：路网、网格、出行、人口、设施、单元与指标。")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
