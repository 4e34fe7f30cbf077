"""Chinese web-map coordinate systems: GCJ-02 (Amap, Tencent) and BD-09 (Baidu).

GCJ-02 is WGS-84 shifted by a published, deterministic nonlinear offset of a few
hundred metres inside China (and left unchanged outside it); BD-09 applies a
further rotation and scaling to GCJ-02. Neither is a CRS in the EPSG sense, so
:mod:`access.crs` does not handle them; every Amap or Baidu point goes through
this module before use.

The forward transforms are the standard closed formulas. The inverses have no
closed form and are solved by fixed-point iteration to better than 1e-9 degree
(≈0.1 mm), so a round trip is exact to well under a metre.

All functions take scalars or numpy arrays of longitudes and latitudes and
return a ``(lon, lat)`` pair of float arrays (0-d for scalar input). NaN
propagates.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import ArrayLike

from access.i18n import say

__all__ = [
    "COORD_SYSTEMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

log = logging.getLogger(__name__)

#: Coordinate systems a facility source may state, with (zh, en) labels.
COORD_SYSTEMS: dict[str, tuple[str, str]] = {
    "wgs84": ("WGS-84（GPS、OpenStreetMap）", "WGS-84 (GPS, OpenStreetMap)"),
    "cgcs2000": ("CGCS2000（国家2000坐标系）", "CGCS2000 (China Geodetic Coordinate System 2000)"),
    "gcj02": ("GCJ-02（高德、腾讯）", "GCJ-02 (Amap, Tencent)"),
    "bd09": ("BD-09（百度）", "BD-09 (Baidu)"),
}

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_A_M = 6378245.0
_EE = 0.00669342162296594323
# BD-09 constant: pi * 3000 / 180.
_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

_INVERSE_TOL_DEG = 1e-10
_INVERSE_MAX_ITER = 30


def _pair(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    lon_a, lat_a = np.broadcast_arrays(lon_a, lat_a)
    return lon_a.astype(float, copy=True), lat_a.astype(float, copy=True)


def in_china(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """Whether points fall in the rectangle where GCJ-02 shifts coordinates.

    The rectangle (72.004–137.8347 E, 0.8293–55.8271 N) is the customary one; it
    also covers neighbouring countries, where the formula is applied all the same.
    """
    lon_a, lat_a = _pair(lon, lat)
    return (lon_a >= 72.004) & (lon_a <= 137.8347) & (lat_a >= 0.8293) & (lat_a <= 55.8271)


def _offset_deg(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS-84 position (lon, lat)."""
    x = lon - 105.0
    y = lat - 35.0
    sq = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq + common
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq + common
    d_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = d_lat * 180.0 / ((_A_M * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = d_lon * 180.0 / (_A_M / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 to GCJ-02 (identity outside China).

    Parameters
    ----------
    lon, lat
        WGS-84 longitude and latitude in degrees (scalars or arrays).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``.
    """
    lon_a, lat_a = _pair(lon, lat)
    inside = in_china(lon_a, lat_a)
    d_lon, d_lat = _offset_deg(lon_a, lat_a)
    return np.where(inside, lon_a + d_lon, lon_a), np.where(inside, lat_a + d_lat, lat_a)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 to WGS-84 by iterating the forward transform.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees (scalars or arrays).

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)``, exact to about 1e-9 degree.
    """
    g_lon, g_lat = _pair(lon, lat)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(_INVERSE_MAX_ITER):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = f_lon - g_lon, f_lat - g_lat
        w_lon = w_lon - e_lon
        w_lat = w_lat - e_lat
        err = np.maximum(np.abs(e_lon), np.abs(e_lat))
        if not np.any(err > _INVERSE_TOL_DEG):  # NaN compares False: it does not block
            break
    return w_lon, w_lat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 to BD-09 (Baidu).

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees.
    """
    x, y = _pair(lon, lat)
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 to GCJ-02: the customary closed inverse, refined by iteration.

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude in degrees.
    """
    b_lon, b_lat = _pair(lon, lat)
    x = b_lon - _BD_DLON
    y = b_lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    g_lon, g_lat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(_INVERSE_MAX_ITER):
        f_lon, f_lat = gcj02_to_bd09(g_lon, g_lat)
        e_lon, e_lat = f_lon - b_lon, f_lat - b_lat
        g_lon = g_lon - e_lon
        g_lat = g_lat - e_lat
        if not np.any(np.maximum(np.abs(e_lon), np.abs(e_lat)) > _INVERSE_TOL_DEG):
            break
    return g_lon, g_lat


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 to BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 to WGS-84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert longitudes/latitudes stated in ``system`` to WGS-84.

    Parameters
    ----------
    lon, lat
        Coordinates in degrees.
    system
        One of :data:`COORD_SYSTEMS`. CGCS2000 is transformed with pyproj
        (EPSG:4490 to EPSG:4326; the two agree to within a metre).

    Raises
    ------
    ValueError
        If ``system`` is not known.
    """
    if system == "wgs84":
        return _pair(lon, lat)
    if system == "gcj02":
        log.info(say("log_coords_gcj02"))
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        log.info(say("log_coords_bd09"))
        return bd09_to_wgs84(lon, lat)
    if system == "cgcs2000":
        from pyproj import Transformer

        log.info(say("log_coords_cgcs2000"))
        lon_a, lat_a = _pair(lon, lat)
        out_lon, out_lat = Transformer.from_crs(4490, 4326, always_xy=True).transform(lon_a, lat_a)
        return np.asarray(out_lon, dtype=float), np.asarray(out_lat, dtype=float)
    raise ValueError(f"unknown coordinate system {system!r}; known: {sorted(COORD_SYSTEMS)}")
