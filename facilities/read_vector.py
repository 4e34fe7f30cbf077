"""Facilities from vector files (GeoJSON, GeoPackage, Shapefile ...), read with pyogrio.

Row numbers are 1-based feature numbers. Points are used as they are; other
geometries at their centroid in the metric CRS (a point on the surface when the
centroid falls outside a polygon); a polygon's area in the metric CRS is kept as
``area_m2``. Attribute columns are recognised like table
headers (:data:`facilities.records.COLUMN_ALIASES`).

The file's CRS (or the stated ``crs`` when the file records none) decides the
datum: EPSG:4326 is WGS-84, EPSG:4490 is CGCS2000; projected data are
transformed to WGS-84. Amap/Baidu points saved as plain lon/lat (``coords =
"gcj02"`` or ``"bd09"``) need a geographic file CRS.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from access.crs import check_lonlat, resolve_crs
from access.errors import CrsMismatchError, InputFileError
from access.i18n import say
from facilities.records import parse_records, resolve_columns

__all__ = ["read_vector"]

log = logging.getLogger(__name__)

_CGCS2000 = CRS.from_epsg(4490)
_WGS84 = CRS.from_epsg(4326)


def read_vector(path: Path, *, crs: CRS, stated_crs: str | None = None,
                coords: str | None = None, layer: str | None = None,
                columns: dict[str, str] | None = None, on_error: str = "raise"
                ) -> tuple[pd.DataFrame, str]:
    """Read facility rows from a vector file.

    Parameters
    ----------
    path
        The file.
    crs
        Metric analysis CRS (for centroids of non-point geometries).
    stated_crs
        CRS stated in the study-area file (``crs`` key), if any.
    coords
        Stated coordinate system (``coords`` key), if any.
    layer
        Layer name (GeoPackage).
    columns
        Explicit role -> column mapping.
    on_error
        ``"raise"`` or ``"reject"`` for malformed attribute cells.

    Returns
    -------
    tuple
        ``(records, coordinate system of their lon/lat)``; the system is one of
        ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``.

    Raises
    ------
    NoCrsError, CrsMismatchError
        CRS missing or contradicting the stated one or ``coords``.
    InputFileError
        Unreadable file or malformed cells.
    """
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises its own DataSourceError / DataLayerError
        raise InputFileError(f"cannot read as a vector file: {exc}", path=path) from exc
    src = resolve_crs(gdf.crs, stated_crs, path=path)
    if gdf.crs is None:
        gdf = gdf.set_crs(src)

    if src.is_geographic:
        if src.equals(_CGCS2000):
            system = "cgcs2000"
        elif src.equals(_WGS84):
            system = "wgs84"
        else:
            log.info(say("log_reprojecting", what=path.name, src=src.to_string(), dst="WGS-84"))
            gdf = gdf.to_crs(_WGS84)
            system = "wgs84"
        if coords in ("gcj02", "bd09"):
            system = coords
        elif coords is not None and coords != system:
            raise CrsMismatchError(
                f"coords = '{coords}' but the file's CRS is {src.to_string()} ({system})",
                path=path, column="coords")
    else:
        if coords in ("gcj02", "bd09"):
            raise CrsMismatchError(
                f"coords = '{coords}' needs longitude/latitude, but the file is projected "
                f"({src.to_string()})", path=path, column="coords")
        log.info(say("log_reprojecting", what=path.name, src=src.to_string(), dst="WGS-84"))
        gdf = gdf.to_crs(_WGS84)
        system = "wgs84"

    geom = gdf.geometry
    has = ~(geom.isna() | geom.is_empty)
    lon = np.full(len(gdf), np.nan)
    lat = np.full(len(gdf), np.nan)
    is_pt = has & (geom.geom_type == "Point")
    lon[is_pt.to_numpy()] = geom[is_pt].x.to_numpy()
    lat[is_pt.to_numpy()] = geom[is_pt].y.to_numpy()
    other = has & ~is_pt
    area = np.full(len(gdf), np.nan)
    if other.any():
        metric = geom[other].to_crs(crs)
        pts = metric.centroid
        poly = metric.geom_type.isin(["Polygon", "MultiPolygon"])
        # polygon areas in the metric CRS, kept before the outline becomes a point
        area[other.to_numpy()] = np.where(poly.to_numpy(), metric.area.to_numpy(), np.nan)
        outside = poly & ~metric.contains(pts)
        if outside.any():
            pts[outside] = metric[outside].representative_point()
        ll = pts.to_crs(gdf.crs)
        lon[other.to_numpy()] = ll.x.to_numpy()
        lat[other.to_numpy()] = ll.y.to_numpy()
    check_lonlat(lon, lat, path=path)

    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    header = [str(c) for c in attrs.columns]
    cols = resolve_columns(header, path=path, explicit=columns, need_coords=False)
    rows = [["" if (v is None or (isinstance(v, float) and np.isnan(v))) else
             (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
             for v in rec] for rec in attrs.itertuples(index=False, name=None)]
    numbers = list(range(1, len(gdf) + 1))
    frame = parse_records(rows, numbers, header, cols, path=path, on_error=on_error,
                          lonlat=(lon, lat))
    frame["area_m2"] = np.where(area > 0, area, np.nan)
    return frame, system
