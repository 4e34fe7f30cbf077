"""Coordinate reference systems: the strict contract every loader follows.

* Every spatial input must have a CRS, found in the file or stated in the study
  area file. Neither is an error (:class:`~access.errors.NoCrsError`); both,
  disagreeing, is an error too (:class:`~access.errors.CrsMismatchError`).
* The analysis runs in one metric CRS, a UTM zone chosen from the data
  (:func:`utm_crs_for_lonlat`), stored with every result.
* Reprojection is explicit and logged (:func:`to_metric`).

Geographic CRSs accepted include EPSG:4326 (WGS-84) and EPSG:4490 (CGCS2000,
China's official datum, within a metre of WGS-84 but a different code).
Chinese web-map systems (GCJ-02, BD-09) are not CRSs in the EPSG sense and are
converted in :mod:`facilities.coords`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from pyproj import CRS, Transformer

from access.errors import CrsMismatchError, NoCrsError
from access.i18n import say

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "WGS84",
    "check_lonlat",
    "lonlat_to_metric",
    "metric_to_lonlat",
    "parse_crs",
    "resolve_crs",
    "to_metric",
    "utm_crs_for_lonlat",
]

log = logging.getLogger(__name__)

WGS84 = CRS.from_epsg(4326)


def parse_crs(value: object, *, path: str | Path | None = None,
              param: str = "crs") -> CRS:
    """Parse a user-stated CRS (``"EPSG:4490"``, ``4490``, a WKT string, a CRS).

    Raises
    ------
    NoCrsError
        If ``value`` is None or empty.
    CrsMismatchError
        If ``value`` is not a CRS pyproj understands.
    """
    if value is None or value == "":
        raise NoCrsError("no CRS given", path=path, column=param)
    if isinstance(value, CRS):
        return value
    try:
        return CRS.from_user_input(value)
    except Exception as exc:  # pyproj raises CRSError, a plain Exception subclass
        raise CrsMismatchError(f"'{value}' is not a coordinate reference system ({exc})",
                               path=path, column=param) from exc


def resolve_crs(found: CRS | None, stated: object | None, *,
                path: str | Path | None = None, param: str = "crs") -> CRS:
    """Decide the CRS of an input from what its file says and what the user stated.

    Parameters
    ----------
    found
        The CRS recorded in the file, or None.
    stated
        The CRS stated in the study area file for this source, or None.

    Returns
    -------
    pyproj.CRS
        The CRS to use.

    Raises
    ------
    NoCrsError
        Neither is known.
    CrsMismatchError
        Both are known and they differ.
    """
    stated_crs = None if stated in (None, "") else parse_crs(stated, path=path, param=param)
    if found is None and stated_crs is None:
        raise NoCrsError(
            "the file records no coordinate reference system; state one with "
            f"'{param} = \"EPSG:....\"' for this source in the study area file",
            path=path, column=param)
    if found is None:
        return stated_crs  # type: ignore[return-value]
    if stated_crs is None or stated_crs.equals(found, ignore_axis_order=True):
        return found
    raise CrsMismatchError(
        f"the file says its CRS is {found.to_string()} but the study area file states "
        f"{stated_crs.to_string()}; remove '{param}' or correct it",
        path=path, column=param)


def utm_crs_for_lonlat(lon: float | np.ndarray, lat: float | np.ndarray) -> CRS:
    """The WGS-84 UTM zone containing the centre of the given points.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (one point or arrays).
    """
    lon_c = float(np.nanmean(np.asarray(lon, dtype=float)))
    lat_c = float(np.nanmean(np.asarray(lat, dtype=float)))
    if not (-180 <= lon_c <= 180 and -90 <= lat_c <= 90):
        raise CrsMismatchError(f"centre ({lon_c}, {lat_c}) is not a longitude/latitude")
    zone = int((lon_c + 180) // 6) % 60 + 1
    return CRS.from_epsg((32600 if lat_c >= 0 else 32700) + zone)


def check_lonlat(lon: np.ndarray, lat: np.ndarray, *, path: str | Path | None = None,
                 lon_param: str = "lon", lat_param: str = "lat") -> None:
    """Raise if coordinates said to be longitude/latitude cannot be.

    Detects projected metres labelled as degrees and swapped columns (for data in
    China, where longitude is 73–135 and latitude 18–54).
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return
    bad = (np.abs(lon[ok]) > 180) | (np.abs(lat[ok]) > 90)
    if bad.any():
        i = int(np.flatnonzero(ok)[np.argmax(bad)])
        raise CrsMismatchError(
            f"value ({lon[i]}, {lat[i]}) is not a longitude/latitude: the data look projected; "
            "state the source's CRS", path=path, row=i + 1, column=lon_param)
    med_lon, med_lat = float(np.median(lon[ok])), float(np.median(lat[ok]))
    if 18 <= med_lon <= 54 and 73 <= med_lat <= 135:
        raise CrsMismatchError(
            f"longitude and latitude look swapped (median {lon_param}={med_lon:.3f}, "
            f"{lat_param}={med_lat:.3f}); check which column is which",
            path=path, column=f"{lon_param}/{lat_param}")


def _transformer(src: CRS, dst: CRS) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def lonlat_to_metric(lon: ArrayLike, lat: ArrayLike, crs: CRS, *,
                     src: CRS = WGS84) -> tuple[np.ndarray, np.ndarray]:
    """Project geographic coordinates (``src``, default WGS-84) into ``crs``."""
    x, y = _transformer(src, crs).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, float), np.asarray(y, float)


def metric_to_lonlat(x: ArrayLike, y: ArrayLike, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`lonlat_to_metric` (to WGS-84)."""
    lon, lat = _transformer(crs, WGS84).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon, float), np.asarray(lat, float)


def to_metric(gdf: gpd.GeoDataFrame, crs: CRS, *, source: str | Path,
              stated: object | None = None) -> gpd.GeoDataFrame:
    """Reproject a GeoDataFrame to the analysis CRS, checking and logging.

    Parameters
    ----------
    gdf
        Input frame; its ``.crs`` is what the file recorded (may be None).
    crs
        The analysis (metric) CRS.
    source
        File name, for messages.
    stated
        CRS stated for this source in the study area file, if any.
    """
    src = resolve_crs(gdf.crs, stated, path=source)
    if gdf.crs is None:
        gdf = gdf.set_crs(src)
    if src.is_geographic and len(gdf):
        b = gdf.total_bounds
        check_lonlat(np.array([b[0], b[2]]), np.array([b[1], b[3]]), path=source)
    if src.equals(crs):
        return gdf
    log.info(say("log_reprojecting", what=source, src=src.to_string(), dst=crs.to_string()))
    return gdf.to_crs(crs)
