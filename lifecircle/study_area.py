"""The study-area file: one TOML file that says what to analyse and how.

Paths inside it are relative to the file. Every table is read strictly: an unknown
key is an error that names the file, the key and the nearest valid key. The
``[[population]]``, ``[[facilities]]``, ``[[categories]]`` and ``[targets]`` tables
are parsed by the packages that own them (:mod:`gridded_pop`, :mod:`facilities`,
:mod:`access.targets`). The README documents the format with a complete example;
the bundled sample's ``area.toml`` is one.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from access.config import check_keys, get_path, get_typed
from access.errors import ConfigError, InputFileError
from facilities import parse_facility_sources
from gridded_pop import parse_population_sources
from lifecircle.datasets import get_path as dataset_path

__all__ = ["GridSettings", "NetworkSettings", "StudyArea", "TravelSettings", "UnitsSpec",
           "default_area_path", "load_study_area"]

TOP_KEYS = ("name", "title_zh", "title_en", "metric_crs", "boundary", "boundary_crs",
            "network", "grid", "travel", "population", "facilities", "categories", "units",
            "targets")
NETWORK_KEYS = ("path", "modes", "snap_max_dist_m")
GRID_KEYS = ("cell_size_m",)
TRAVEL_KEYS = ("walk_speed_kmh", "max_walk_dist_m", "k_nearest", "drive_leg_speed_kmh",
               "max_drive_time_min")
UNITS_KEYS = ("level", "path", "id_column", "name_column", "crs", "settlement_column")


@dataclass(frozen=True)
class NetworkSettings:
    """``[network]``: the street network file and snapping.

    Attributes
    ----------
    path
        OSM XML or PBF file.
    modes
        Travel modes to build: ``"walk"`` always, ``"drive"`` for drive-time targets.
    snap_max_dist_m
        Cells and facilities farther than this from the network are unreachable.
    """

    path: Path
    modes: tuple[str, ...] = ("walk",)
    snap_max_dist_m: float = 500.0


@dataclass(frozen=True)
class GridSettings:
    """``[grid]``: the analysis grid."""

    cell_size_m: float = 100.0


@dataclass(frozen=True)
class TravelSettings:
    """``[travel]``: speeds and search limits.

    Attributes
    ----------
    walk_speed_kmh
        Walking speed per population group; ``total`` is the default for every group.
        4.0 km/h gives 1000 m in 15 minutes, as GB 50180-2018 implies; the elderly
        walk 3.2 km/h (800 m in 15 minutes).
    max_walk_dist_m
        Search limit for walking distances (legs included); farther is "not reached".
    k_nearest
        How many nearest facilities per category to list per cell (``k_nearest.parquet``);
        1 lists only the nearest, which the cell table always holds.
    drive_leg_speed_kmh
        Speed on the straight legs to and from the driving network.
    max_drive_time_min
        Search limit for driving times.
    """

    walk_speed_kmh: dict[str, float] = field(
        default_factory=lambda: {"total": 4.0, "age_60_plus": 3.2})
    max_walk_dist_m: float = 3000.0
    k_nearest: int = 3
    drive_leg_speed_kmh: float = 15.0
    max_drive_time_min: float = 90.0


@dataclass(frozen=True)
class UnitsSpec:
    """One ``[[units]]`` table: administrative units of one level.

    Attributes
    ----------
    level
        ``district``, ``subdistrict``, ``township``, ``village``, ``community`` ...
    path
        Polygon file (GeoJSON, GeoPackage, Shapefile).
    id_column, name_column
        Columns holding the unit code and its name.
    crs
        CRS of the file when it records none.
    settlement_column
        Optional column classifying units as ``urban``/``town``/``village``.
    """

    level: str
    path: Path
    id_column: str
    name_column: str
    crs: str | None = None
    settlement_column: str | None = None


@dataclass(frozen=True)
class StudyArea:
    """A parsed study-area file."""

    path: Path
    name: str
    title_zh: str
    title_en: str
    metric_crs: str
    boundary: str | Path
    boundary_crs: str | None
    network: NetworkSettings
    grid: GridSettings
    travel: TravelSettings
    population: list[Any]
    facilities: list[Any]
    categories: list[dict[str, Any]]
    units: list[UnitsSpec]
    targets: dict[str, Any]

    @property
    def base_dir(self) -> Path:
        """Folder the file's relative paths start from."""
        return self.path.parent


def default_area_path() -> Path:
    """The bundled sample's study-area file (central Chengdu)."""
    return dataset_path("chengdu_central") / "area.toml"


def _positive(value: float, *, key: str, path: Path) -> float:
    if not value > 0:
        raise ConfigError(f"must be positive, got {value}", path=path, key=key)
    return float(value)


def _tables(doc: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    value = doc.get(key, [])
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ConfigError(f"expected one or more [[{key}]] tables", path=path, key=key)
    return value


def load_study_area(path: str | Path) -> StudyArea:
    """Read and check a study-area TOML file.

    Raises
    ------
    InputFileError
        The file is missing or not valid TOML.
    ConfigError, UnknownKeyError
        A key is unknown, missing, of the wrong type, or names a missing file.
    """
    path = Path(path).resolve()
    if not path.exists():
        raise InputFileError("study area file not found", path=path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"not valid TOML ({exc})", path=path) from exc
    except UnicodeDecodeError as exc:
        raise InputFileError("not UTF-8 text", path=path) from exc
    check_keys(doc, TOP_KEYS, where="top level", path=path)
    base = path.parent

    net_t = get_typed(doc, "network", dict, where="top level", path=path)
    check_keys(net_t, NETWORK_KEYS, where="network", path=path)
    modes = tuple(get_typed(net_t, "modes", list, where="network", path=path,
                            default=["walk"]))
    for m in modes:
        if m not in ("walk", "drive"):
            raise ConfigError(f"unknown mode {m!r}; use 'walk' and/or 'drive'", path=path,
                              key="network.modes")
    if "walk" not in modes:
        modes = ("walk", *modes)
    network = NetworkSettings(
        path=get_path(net_t, "path", base_dir=base, where="network", path=path),
        modes=modes,
        snap_max_dist_m=_positive(get_typed(net_t, "snap_max_dist_m", (int, float),
                                            where="network", path=path, default=500.0),
                                  key="network.snap_max_dist_m", path=path))

    grid_t = get_typed(doc, "grid", dict, where="top level", path=path, default={})
    check_keys(grid_t, GRID_KEYS, where="grid", path=path)
    grid = GridSettings(cell_size_m=_positive(
        get_typed(grid_t, "cell_size_m", (int, float), where="grid", path=path,
                  default=100.0), key="grid.cell_size_m", path=path))

    tr = get_typed(doc, "travel", dict, where="top level", path=path, default={})
    check_keys(tr, TRAVEL_KEYS, where="travel", path=path)
    defaults = TravelSettings()
    speeds = dict(defaults.walk_speed_kmh)
    given = get_typed(tr, "walk_speed_kmh", dict, where="travel", path=path, default={})
    for group, v in given.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"expected a number, got {v!r}", path=path,
                              key=f"travel.walk_speed_kmh.{group}")
        speeds[group] = _positive(v, key=f"travel.walk_speed_kmh.{group}", path=path)
    k = get_typed(tr, "k_nearest", int, where="travel", path=path, default=3)
    if k < 1:
        raise ConfigError(f"must be at least 1, got {k}", path=path, key="travel.k_nearest")
    travel = TravelSettings(
        walk_speed_kmh=speeds,
        max_walk_dist_m=_positive(get_typed(tr, "max_walk_dist_m", (int, float),
                                            where="travel", path=path, default=3000.0),
                                  key="travel.max_walk_dist_m", path=path),
        k_nearest=k,
        drive_leg_speed_kmh=_positive(get_typed(tr, "drive_leg_speed_kmh", (int, float),
                                                where="travel", path=path, default=15.0),
                                      key="travel.drive_leg_speed_kmh", path=path),
        max_drive_time_min=_positive(get_typed(tr, "max_drive_time_min", (int, float),
                                               where="travel", path=path, default=90.0),
                                     key="travel.max_drive_time_min", path=path))

    boundary: str | Path = get_typed(doc, "boundary", str, where="top level", path=path,
                                     default="osm_bounds")
    if boundary != "osm_bounds":
        boundary = get_path(doc, "boundary", base_dir=base, where="top level", path=path)

    units = []
    for i, t in enumerate(_tables(doc, "units", path)):
        where = f"units[{i + 1}]"
        check_keys(t, UNITS_KEYS, where=where, path=path)
        units.append(UnitsSpec(
            level=get_typed(t, "level", str, where=where, path=path),
            path=get_path(t, "path", base_dir=base, where=where, path=path),
            id_column=get_typed(t, "id_column", str, where=where, path=path),
            name_column=get_typed(t, "name_column", str, where=where, path=path),
            crs=get_typed(t, "crs", str, where=where, path=path, default=None),
            settlement_column=get_typed(t, "settlement_column", str, where=where, path=path,
                                        default=None)))
    levels = [u.level for u in units]
    if len(set(levels)) != len(levels):
        raise ConfigError("two [[units]] tables have the same level", path=path,
                          key="units.level")

    return StudyArea(
        path=path,
        name=get_typed(doc, "name", str, where="top level", path=path, default=path.stem),
        title_zh=get_typed(doc, "title_zh", str, where="top level", path=path, default=""),
        title_en=get_typed(doc, "title_en", str, where="top level", path=path, default=""),
        metric_crs=get_typed(doc, "metric_crs", str, where="top level", path=path,
                             default="auto"),
        boundary=boundary,
        boundary_crs=get_typed(doc, "boundary_crs", str, where="top level", path=path,
                               default=None),
        network=network, grid=grid, travel=travel,
        population=parse_population_sources(_tables(doc, "population", path), base_dir=base,
                                            path=path),
        facilities=parse_facility_sources(_tables(doc, "facilities", path), base_dir=base,
                                          path=path),
        categories=_tables(doc, "categories", path),
        units=units,
        targets=get_typed(doc, "targets", dict, where="top level", path=path, default={}),
    )
