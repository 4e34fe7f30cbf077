"""Facilities: categories, loaders for OSM, Amap/Baidu tables and registers, cleaning.

Data flow: ``[[facilities]]`` tables -> :func:`parse_facility_sources` ->
:func:`load_facilities` (read, convert GCJ-02/BD-09 to WGS-84, categorise with the
:class:`Taxonomy`, clip to the study area, merge duplicates; every row not kept goes
to the :class:`~access.rejects.RejectLog`) -> :func:`completeness_check`.
"""

from facilities.completeness import (
    completeness_check,
    completeness_warnings,
    completeness_warnings_by_category,
)
from facilities.coords import (
    COORD_SYSTEMS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from facilities.load import FACILITY_COLUMNS, load_facilities
from facilities.sources import FacilitySource, parse_facility_sources
from facilities.taxonomy import Category, Taxonomy, load_taxonomy

__all__ = [
    "COORD_SYSTEMS",
    "FACILITY_COLUMNS",
    "Category",
    "FacilitySource",
    "Taxonomy",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "completeness_check",
    "completeness_warnings",
    "completeness_warnings_by_category",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "load_facilities",
    "load_taxonomy",
    "parse_facility_sources",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
