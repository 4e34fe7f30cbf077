"""Load every facility source into one clean, categorised, located table.

Each input row ends either in the result or in the rejects table:

==========================  =====================================================
reason                      when
==========================  =====================================================
``invalid_value``           a malformed cell with ``on_error = "reject"``
``missing_coordinates``     no longitude/latitude or geometry
``unknown_category``        no category from label, name, type code or type text
                            (OSM: a facility-like tag no rule covers)
``outside_study_area``      the WGS-84 point lies outside the study area
``duplicate``               merged into an earlier record of the same category
                            close by with a similar name (the kept row lists both)
==========================  =====================================================

So ``rows read = facilities kept + facility rejects`` for every run; the counts
per source are stored in ``result.attrs["rows_in"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from access.crs import check_lonlat, lonlat_to_metric
from access.errors import ConfigError, CrsMismatchError, suggest
from access.i18n import say
from access.rejects import RejectLog
from facilities.clean import facility_id, find_duplicates, inside_area
from facilities.coords import COORD_SYSTEMS, to_wgs84
from facilities.read_osm import read_osm
from facilities.read_table import read_table_file
from facilities.read_vector import read_vector
from facilities.records import parse_records, resolve_columns, set_detail
from facilities.sources import FacilitySource
from facilities.taxonomy import Taxonomy

__all__ = ["FACILITY_COLUMNS", "load_facilities", "read_source"]

log = logging.getLogger(__name__)

#: Columns of the facility table, in order.
FACILITY_COLUMNS = ["facility_id", "category", "name", "source", "source_row", "sources",
                    "capacity", "ownership", "admin_code", "area_m2", "lon", "lat", "outline",
                    "geometry"]


def read_source(source: FacilitySource, *, crs: CRS, taxonomy: Taxonomy,
                progress: bool = False) -> tuple[pd.DataFrame, str]:
    """Read one source into a record frame and name its coordinate system."""
    if source.kind == "osm":
        frame = read_osm(source.path, taxonomy, crs=crs, source_name=source.name,
                         fixed_category=source.category, progress=progress)
        return frame, "wgs84"
    if source.kind == "vector":
        return read_vector(source.path, crs=crs, stated_crs=source.crs, coords=source.coords,
                           layer=source.layer, columns=source.columns,
                           on_error=source.on_error)
    raw = read_table_file(source.path, encoding=source.encoding, delimiter=source.delimiter,
                          sheet=source.sheet)
    cols = resolve_columns(raw.header, path=source.path, explicit=source.columns,
                           delimiter=raw.delimiter or None)
    frame = parse_records(raw.rows, raw.row_numbers, raw.header, cols, path=source.path,
                          on_error=source.on_error)
    if source.coords is None:
        raise ConfigError("a table source needs coords", path=source.path, key="coords")
    return frame, source.coords


def _metric_outlines(frame: pd.DataFrame, crs: CRS) -> np.ndarray:
    """The ``outline`` polygons of OSM areas in ``crs`` (None for every other row)."""
    out = np.full(len(frame), None, dtype=object)
    if "outline" not in frame.columns:
        return out
    has = np.asarray([isinstance(g, shapely.Geometry) for g in frame["outline"]], dtype=bool)
    if has.any():
        g = gpd.GeoSeries(list(frame["outline"].to_numpy()[has]), crs="EPSG:4326").to_crs(crs)
        out[has] = g.to_numpy()
    return out


def _classify(frame: pd.DataFrame, source: FacilitySource, taxonomy: Taxonomy) -> None:
    """Fill ``category`` of table/vector records; unmatched ones become rejects."""
    todo = (frame["reject"] == "") & (frame["category"] == "")
    for i in np.flatnonzero(todo.to_numpy()):
        if source.category is not None:
            frame.iat[i, frame.columns.get_loc("category")] = source.category
            continue
        rec = frame.iloc[i]
        key, _how = taxonomy.classify(label=rec["label"], name=rec["name"],
                                      typecode=rec["typecode"], type_text=rec["type_text"])
        if key is None:
            frame.iat[i, frame.columns.get_loc("reject")] = "unknown_category"
            said = ", ".join(f"{k}={rec[k]!r}" for k in ("label", "name", "typecode", "type_text")
                             if rec[k])
            set_detail(frame, [int(i)], (f"无法确定类别（{said or '空行'}）",
                                    f"no category for {said or 'empty row'}"))
        else:
            frame.iat[i, frame.columns.get_loc("category")] = key


def _check_extent(source: FacilitySource, system: str, raw_lon: np.ndarray,
                  raw_lat: np.ndarray, inside: np.ndarray, located: np.ndarray,
                  boundary: shapely.Geometry, max_outside_share: float) -> None:
    n = int(located.sum())
    if n == 0:
        return
    share_out = 1.0 - float(inside[located].sum()) / n
    if share_out <= max_outside_share:
        return
    best, best_in = None, float(inside[located].sum())
    for alt in COORD_SYSTEMS:
        if alt == system:
            continue
        for swap in (False, True):
            x, y = (raw_lat, raw_lon) if swap else (raw_lon, raw_lat)
            ok = located & (np.abs(y) <= 90)
            if not ok.any():
                continue
            lo, la = to_wgs84(x[ok], y[ok], alt)
            k = int(inside_area(lo, la, boundary).sum())
            if k > best_in:
                best, best_in = (alt, swap), k
    hint = ""
    if best is not None:
        alt, swap = best
        hint = (f" With coords = '{alt}'" + (" and longitude/latitude swapped" if swap else "")
                + f", {best_in} of {n} would fall inside.")
    raise CrsMismatchError(
        f"{n - int(inside[located].sum())} of {n} located rows ({share_out:.0%}) fall outside "
        f"the study area with coords = '{system}': the coordinate system may be wrong "
        f"(Amap/Tencent use gcj02, Baidu bd09).{hint} If the file really covers a wider area, "
        "set check_extent = false. (大部分设施点位于研究区外，坐标系可能设置错误)",
        path=source.path, column="coords")


def load_facilities(sources: Sequence[FacilitySource], *, boundary: shapely.Geometry,
                    crs: CRS, taxonomy: Taxonomy, rejects: RejectLog, progress: bool = False,
                    dedup_dist_m: float = 50.0, name_min_ratio: float = 0.6,
                    max_outside_share: float = 0.5) -> gpd.GeoDataFrame:
    """Read, convert, categorise, clip and de-duplicate every facility source.

    Parameters
    ----------
    sources
        From :func:`facilities.parse_facility_sources`; earlier sources take
        precedence when duplicates merge.
    boundary
        Study area polygon in WGS-84 longitude/latitude.
    crs
        Metric analysis CRS (UTM) of the output geometry.
    taxonomy
        Categories and mapping rules.
    rejects
        Receives every row not kept (``kind="facility"``).
    progress
        Show progress bars.
    dedup_dist_m
        Records of one category closer than this with similar names are merged.
    name_min_ratio
        Name similarity needed to merge (see :func:`facilities.clean.names_similar`).
    max_outside_share
        A source (with ``check_extent``) whose located rows fall outside the study
        area in a larger share raises :class:`~access.errors.CrsMismatchError`.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`FACILITY_COLUMNS`, geometry in ``crs``, sorted by category
        then ``facility_id``. ``attrs["rows_in"]`` maps source name to rows read.

    Raises
    ------
    ConfigError
        A source names a category the taxonomy lacks.
    InputFileError, CrsMismatchError, NoCrsError
        Unreadable or inconsistent input (see the readers).
    """
    if crs.is_geographic:
        raise CrsMismatchError("the facility table needs a metric (projected) CRS",
                               column="crs")
    for s in sources:
        if s.category is not None and s.category not in taxonomy:
            raise ConfigError(f"unknown category {s.category!r}"
                              f"{suggest(s.category, taxonomy.categories)}",
                              path=s.path, key=f"{s.name}.category")
    frames = []
    rows_in: dict[str, int] = {}
    for order, source in enumerate(sources):
        frame, system = read_source(source, crs=crs, taxonomy=taxonomy, progress=progress)
        frame = frame.reset_index(drop=True)
        rows_in[source.name] = len(frame)
        raw_lon = frame["lon"].to_numpy(float)
        raw_lat = frame["lat"].to_numpy(float)
        if source.kind != "osm":
            usable = (frame["reject"] == "").to_numpy()
            check_lonlat(raw_lon[usable], raw_lat[usable], path=source.path)
        lon, lat = to_wgs84(raw_lon, raw_lat, system)
        frame["lon"], frame["lat"] = lon, lat
        _classify(frame, source, taxonomy)

        located = (frame["reject"].isin(["", "unknown_category"])).to_numpy() & np.isfinite(lon)
        inside = inside_area(lon, lat, boundary)
        if source.check_extent:
            _check_extent(source, system, raw_lon, raw_lat, inside, located, boundary,
                          max_outside_share)
        out = (frame["reject"] == "").to_numpy() & ~inside
        frame.loc[out, "reject"] = "outside_study_area"
        set_detail(frame, np.flatnonzero(out),
                   ("点位于研究区边界之外", "point outside the study area boundary"))
        frame["source"] = source.name
        frame["order"] = order
        frame["pos"] = np.arange(len(frame))
        frames.append(frame)
        log.info(say("log_source_rows", source=source.name, n=len(frame),
                     usable=int((frame["reject"] == "").sum())))

    if frames:
        allf = pd.concat(frames, ignore_index=True)
    else:
        allf = pd.DataFrame(columns=[*FACILITY_COLUMNS, "reject", "detail", "order", "pos"])
    allf["facility_id"] = [facility_id(s, r) for s, r in
                           zip(allf["source"], allf["source_row"], strict=True)]
    if allf["facility_id"].duplicated().any():
        dup = allf.loc[allf["facility_id"].duplicated(), ["source", "source_row"]].iloc[0]
        raise ConfigError(f"source {dup['source']!r} holds row {dup['source_row']!r} twice")

    if "area_m2" not in allf.columns:
        allf["area_m2"] = np.nan
    allf["area_m2"] = allf["area_m2"].astype(float)
    keep = (allf["reject"] == "").to_numpy()
    kept = allf[keep].sort_values(["order", "pos"]).reset_index(drop=True)
    x, y = lonlat_to_metric(kept["lon"].to_numpy(float), kept["lat"].to_numpy(float), crs)
    keeper = find_duplicates(x, y, kept["category"].tolist(), kept["name"].tolist(),
                             dist_m=dedup_dist_m, min_ratio=name_min_ratio)
    kept["sources"] = [f"{s}:{r}" for s, r in zip(kept["source"], kept["source_row"],
                                                   strict=True)]
    merged_rows = np.flatnonzero(keeper != np.arange(len(kept)))
    for j in merged_rows:
        k = int(keeper[j])
        kept.at[k, "sources"] = f"{kept.at[k, 'sources']};{kept.at[j, 'sources']}"
        for col in ("capacity", "area_m2"):
            if not np.isfinite(kept.at[k, col]) and np.isfinite(kept.at[j, col]):
                kept.at[k, col] = kept.at[j, col]
        for col in ("ownership", "admin_code"):
            if not kept.at[k, col] and kept.at[j, col]:
                kept.at[k, col] = kept.at[j, col]
        kept.at[j, "reject"] = "duplicate"
        set_detail(kept, [int(j)], (f"已合并到 {kept.at[k, 'facility_id']}"
                                f"（{kept.at[k, 'source']}:{kept.at[k, 'source_row']}，"
                                f"“{kept.at[k, 'name']}”）",
                                f"merged into {kept.at[k, 'facility_id']} "
                                f"({kept.at[k, 'source']}:{kept.at[k, 'source_row']}, "
                                f"{kept.at[k, 'name']!r})"))

    rejected = pd.concat([allf[~keep], kept.iloc[merged_rows]], ignore_index=True)
    rejected = rejected.sort_values(["order", "pos"])
    for rec in rejected.itertuples(index=False):
        row: int | str = int(rec.row) if rec.row is not None and not pd.isna(rec.row) \
            else str(rec.source_row)
        lon_v = float(rec.lon) if np.isfinite(rec.lon) else None
        lat_v = float(rec.lat) if np.isfinite(rec.lat) else None
        rejects.add(rec.source, row, rec.reject, rec.detail, kind="facility", lon=lon_v,
                    lat=lat_v)

    final = kept.drop(index=merged_rows)
    fx, fy = x[final.index.to_numpy()], y[final.index.to_numpy()]
    gdf = gpd.GeoDataFrame(
        {
            "facility_id": final["facility_id"].astype(str).to_numpy(),
            "category": final["category"].astype(str).to_numpy(),
            "name": final["name"].astype(str).to_numpy(),
            "source": final["source"].astype(str).to_numpy(),
            "source_row": final["source_row"].astype(str).to_numpy(),
            "sources": final["sources"].astype(str).to_numpy(),
            "capacity": final["capacity"].to_numpy(float),
            "ownership": final["ownership"].astype(str).to_numpy(),
            "admin_code": final["admin_code"].astype(str).to_numpy(),
            "area_m2": final["area_m2"].to_numpy(float),
            "lon": final["lon"].to_numpy(float),
            "lat": final["lat"].to_numpy(float),
            "outline": _metric_outlines(final, crs),
        },
        geometry=gpd.points_from_xy(fx, fy, crs=crs),
    )
    gdf = gdf.sort_values(["category", "facility_id"]).reset_index(drop=True)
    gdf.attrs["rows_in"] = rows_in
    log.info(say("log_facilities_kept", kept=len(gdf), rows=sum(rows_in.values()),
                 merged=len(merged_rows)))
    return gdf
