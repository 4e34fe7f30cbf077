"""Ancillary land cover from an OSM file, for dasymetric disaggregation.

Three layers are read from the OSM file (XML or PBF) with pyosmium's area
assembler, projected to the analysis CRS and dissolved:

* residential land: ``landuse=residential``;
* buildings: any ``building=*`` except ``building=no``;
* water: ``natural=water``, ``waterway=riverbank``, ``landuse=reservoir|basin``,
  and any area with a ``water=*`` tag.

:class:`DasymetricWeights` turns them into a weight per m²: residential land
and building footprints attract residents, other land a little (so a unit whose
homes are not mapped still spreads its people over dry land), water nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer

from access.crs import WGS84
from access.errors import InputFileError
from access.i18n import say

__all__ = ["DasymetricWeights", "LandCover", "is_water", "read_osm_landcover",
           "read_osm_water"]

log = logging.getLogger(__name__)

_WATER_LANDUSE = {"reservoir", "basin"}


@dataclass(frozen=True)
class DasymetricWeights:
    """Relative weight per m² of each land-cover class.

    A cell's weight is ``residential * A_res + building * A_bld + other * A_other``
    where ``A_res`` is residential land, ``A_bld`` building footprint (counted on
    top of the land it stands on) and ``A_other`` dry land that is not
    residential; water weighs nothing. Defaults: residential 1, building 0.5,
    other 0.05 — a residential block holds about 20 times the people of the
    same area of other land, more where buildings are mapped.
    """

    residential: float = 1.0
    building: float = 0.5
    other: float = 0.05


@dataclass(frozen=True)
class LandCover:
    """Dissolved land-cover layers in the analysis CRS (possibly empty)."""

    residential: shapely.Geometry
    building: shapely.Geometry
    water: shapely.Geometry

    def clipped(self, area: shapely.Geometry) -> LandCover:
        """The layers inside ``area``, residential and buildings minus water."""
        water = shapely.intersection(self.water, area)
        return LandCover(
            residential=shapely.difference(shapely.intersection(self.residential, area), water),
            building=shapely.difference(shapely.intersection(self.building, area), water),
            water=water)


def is_water(tags: dict[str, str]) -> bool:
    """True for a water area: ``natural=water``, ``waterway=riverbank``,
    ``landuse=reservoir|basin`` or any ``water=*`` tag."""
    return ("water" in tags or tags.get("natural") == "water"
            or tags.get("waterway") == "riverbank" or tags.get("landuse") in _WATER_LANDUSE)


def _classify(tags: dict[str, str]) -> str | None:
    if tags.get("landuse") == "residential":
        return "residential"
    if is_water(tags):
        return "water"
    if tags.get("building", "no") != "no":
        return "building"
    return None


def read_osm_water(osm_path: Path, crs: CRS) -> shapely.Geometry:
    """The water areas of an OSM file (see :func:`is_water`), dissolved, in ``crs``.

    Raises
    ------
    InputFileError
        The file cannot be read as OSM data.
    """
    return _read_areas(Path(osm_path), crs, water_only=True)["water"]


def read_osm_landcover(osm_path: Path, crs: CRS) -> LandCover:
    """Read residential land, buildings and water from an OSM file.

    Parameters
    ----------
    osm_path
        OSM XML (``.osm``) or PBF (``.osm.pbf``) file.
    crs
        Analysis CRS to project into (OSM coordinates are WGS-84).

    Raises
    ------
    InputFileError
        The file cannot be read as OSM data.
    """
    cover = LandCover(**_read_areas(Path(osm_path), crs, water_only=False))
    log.info(say("log_landcover", file=Path(osm_path).name, res=cover.residential.area / 1e6,
                 bld=cover.building.area / 1e6, water=cover.water.area / 1e6))
    return cover


def _read_areas(osm_path: Path, crs: CRS, *, water_only: bool) -> dict[str, shapely.Geometry]:
    """Dissolved land-cover classes of an OSM file in ``crs`` (only water if asked)."""
    import osmium

    osm_path = Path(osm_path)
    parts: dict[str, list[str]] = {"residential": [], "building": [], "water": []}
    factory = osmium.geom.WKBFactory()
    n_bad = 0
    try:
        keys = (("landuse", "natural", "waterway", "water") if water_only
                else ("landuse", "building", "natural", "waterway", "water"))
        fp = (osmium.FileProcessor(str(osm_path)).with_areas()
              .with_filter(osmium.filter.KeyFilter(*keys)))
        for obj in fp:
            if not obj.is_area():
                continue
            tags = {t.k: t.v for t in obj.tags}
            cls = ("water" if is_water(tags) else None) if water_only else _classify(tags)
            if cls is None:
                continue
            try:
                parts[cls].append(factory.create_multipolygon(obj))
            except RuntimeError:
                n_bad += 1
    except RuntimeError as exc:
        raise InputFileError(f"cannot read the file as OSM data ({exc})", path=osm_path) from exc
    if n_bad:
        log.warning(say("log_landuse_broken", file=osm_path, n=n_bad))
    tr = Transformer.from_crs(WGS84, crs, always_xy=True)

    def dissolve(wkbs: list[str]) -> shapely.Geometry:
        if not wkbs:
            return shapely.Polygon()
        geoms = shapely.from_wkb(np.array(wkbs, dtype=object))
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0],
                                                                                 xy[:, 1])))
        geoms = shapely.make_valid(geoms)
        return shapely.union_all(geoms)

    return {k: dissolve(v) for k, v in parts.items()}
