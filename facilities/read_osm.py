"""Facilities from an OpenStreetMap file (.osm XML or .osm.pbf), read with pyosmium.

Which elements are rows:

* nodes, ways and multipolygon relations whose tags match a category rule;
* elements matching no category but carrying one of the taxonomy's
  ``osm_report_unmatched`` tags (``healthcare=*``, ``amenity=clinic`` ...): they
  are rows rejected as ``unknown_category``, so that a facility-like element the
  taxonomy misses is visible;
* nothing else (an untagged node or a shop the taxonomy does not cover is not a
  facility row and is not listed).

Location: nodes at their position; areas (closed ways, multipolygons) at their
main entrance node (``entrance=main``, else any ``entrance=*`` node on the
outline), else at their centroid computed in the metric CRS (or a point on the
surface when the centroid falls outside), and an area without an entrance keeps
its outline (``outline``, WGS-84) so that it joins the street nearest to its
edge; open ways at the midpoint of their nodes. ``source_row`` is the OSM id
with its type letter: ``n123``, ``w456``, ``r789``. Relations other than
multipolygons are not read. A multipolygon that cannot be assembled (member ways
or nodes missing from a clipped extract) is still a row, rejected as
``incomplete_area`` and placed at the centre of its member ways that are in the
file (a second pass reads them), so a planner can find it on a map; with none of
them in the file it is rejected as ``missing_coordinates``: nothing matching a rule
vanishes.

Area: an extra column ``area_m2`` holds the outline's area of every area element
(closed way, multipolygon's outer rings), computed in the metric CRS before the
outline becomes a point; NaN for nodes and open ways.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from tqdm import tqdm

from access.errors import NotOsmFileError
from access.i18n import bar as i18n_bar
from access.i18n import say
from facilities.records import RECORD_COLUMNS, empty_records, normalise_ownership, set_detail
from facilities.taxonomy import Taxonomy

__all__ = ["read_osm"]

log = logging.getLogger(__name__)

_CAP_TAGS = ("capacity", "beds", "capacity:persons")
_AREA_RELATION_TYPES = ("multipolygon", "boundary")
_NUM_RE = re.compile(r"^\s*(\d+(\.\d+)?)\s*$")


def _name(tags: dict[str, str]) -> str:
    for key in ("name", "name:zh", "name:zh-Hans", "official_name", "name:en"):
        if tags.get(key, "").strip():
            return tags[key].strip()
    return ""


def _capacity(tags: dict[str, str]) -> float:
    for key in _CAP_TAGS:
        m = _NUM_RE.match(tags.get(key, ""))
        if m:
            return float(m.group(1))
    return np.nan


def _ownership(tags: dict[str, str]) -> str:
    value = tags.get("operator:type", "")
    if value in ("public", "government", "community"):
        return "public"
    if value in ("private", "private_non_profit", "business"):
        return "private"
    return normalise_ownership(value) if value else ""


def read_osm(path: Path, taxonomy: Taxonomy, *, crs: CRS, source_name: str | None = None,
             fixed_category: str | None = None, progress: bool = False) -> pd.DataFrame:
    """Read facility rows from an OSM file.

    Parameters
    ----------
    path
        ``.osm`` or ``.osm.pbf`` file.
    taxonomy
        Supplies the tag rules.
    crs
        Metric CRS in which area centroids are computed.
    source_name
        Label for log messages (default: the file name).
    fixed_category
        If given, every element matching any category rule gets this category.
    progress
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        Record frame (:data:`facilities.records.RECORD_COLUMNS`) with ``category``
        filled and WGS-84 ``lon``/``lat``, plus ``outline``: the WGS-84 polygon of
        an area located without an entrance, else None.

    Raises
    ------
    NotOsmFileError
        If pyosmium cannot read the file.
    """
    import osmium

    label = source_name or path.name
    keys = sorted(taxonomy.osm_keys() | {"entrance"})
    records: list[dict] = []
    entrances: dict[int, tuple[float, float, bool]] = {}
    # areas waiting for a location: (record index, outline coords, node ids, polygon parts)
    pending: list[tuple[int, list[list[tuple[float, float]]], list[int], bool]] = []
    relations: dict[int, dict[str, str]] = {}  # area relations matching a rule or report tag
    members: dict[int, list[tuple[int, str]]] = {}  # their member ways: (way id, role)
    assembled: set[int] = set()  # relations osmium turned into areas

    def add(osm_id: str, tags: dict[str, str], category: str, lon: float, lat: float) -> int:
        reject = ""
        detail: str | tuple[str, str] = ""
        if not category:
            reject = "unknown_category"
            shown = ";".join(f"{k}={v}" for k, v in sorted(tags.items()) if k in keys)
            detail = (f"标签 {shown} 无对应类别", f"no category for tags {shown}")
        elif fixed_category is not None:
            category = fixed_category
        records.append({
            "source_row": osm_id, "row": None, "name": _name(tags), "label": "",
            "typecode": "", "type_text": "", "category": category,
            "lon": lon, "lat": lat, "capacity": _capacity(tags),
            "ownership": _ownership(tags), "admin_code": "", "reject": reject,
            "detail": detail, "outline": None, "area_m2": np.nan,
        })
        return len(records) - 1

    def classify(tags: dict[str, str]) -> str | None:
        cat = taxonomy.match_osm(tags)
        if cat is not None:
            return cat
        return "" if taxonomy.osm_reportable(tags) else None

    try:
        fp = (osmium.FileProcessor(str(path))
              .with_locations()
              .with_areas(osmium.filter.KeyFilter(*keys))
              .with_filter(osmium.filter.KeyFilter(*keys)))
        bar = tqdm(desc=i18n_bar("bar_osm", label=label), unit=i18n_bar("unit_objects"),
                   disable=not progress)
        for obj in fp:
            bar.update()
            tags = {t.k: t.v for t in obj.tags}
            if obj.is_node():
                if "entrance" in tags:
                    entrances[obj.id] = (obj.location.lon, obj.location.lat,
                                         tags["entrance"] == "main")
                cat = classify(tags)
                if cat is None:
                    continue
                loc = obj.location
                lon, lat = (loc.lon, loc.lat) if loc.valid() else (np.nan, np.nan)
                add(f"n{obj.id}", tags, cat, lon, lat)
            elif obj.is_way():
                cat = classify(tags)
                if cat is None:
                    continue
                coords = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
                refs = [n.ref for n in obj.nodes]
                closed = len(refs) >= 4 and refs[0] == refs[-1]
                idx = add(f"w{obj.id}", tags, cat, np.nan, np.nan)
                pending.append((idx, [coords], refs, closed and len(coords) >= 4))
            elif obj.is_relation():
                if tags.get("type") in _AREA_RELATION_TYPES and classify(tags) is not None:
                    relations[obj.id] = tags
                    members[obj.id] = [(m.ref, m.role) for m in obj.members if m.type == "w"]
            elif obj.is_area() and not obj.from_way():
                assembled.add(obj.orig_id())
                cat = classify(tags)
                if cat is None:
                    continue
                rings = []
                for outer in obj.outer_rings():
                    rings.append([(n.lon, n.lat) for n in outer if n.location.valid()])
                idx = add(f"r{obj.orig_id()}", tags, cat, np.nan, np.nan)
                pending.append((idx, rings, [], True))
        bar.close()
        # a multipolygon osmium could not assemble (member ways or nodes missing from a
        # clipped extract) yields no area: it is a row all the same, without a location
        lost = sorted(set(relations) - assembled)
        where = _member_centres(path, {r: members[r] for r in lost}, crs) if lost else {}
        for rel_id in lost:
            tags = relations[rel_id]
            lon, lat, n_found = where.get(rel_id, (np.nan, np.nan, 0))
            idx = add(f"r{rel_id}", tags, classify(tags) or "", lon, lat)
            if records[idx]["reject"]:
                continue
            n_all = len(members[rel_id])
            if n_found:
                records[idx]["reject"] = "incomplete_area"
                records[idx]["detail"] = (
                    f"多边形关系无法组装成面（成员路段或节点引用缺失）；位置取文件中现有的 "
                    f"{n_found}/{n_all} 条成员路段的中心",
                    f"multipolygon relation not assembled into an area (member ways or node "
                    f"references missing); located at the centre of the {n_found} of {n_all} "
                    "member ways in the file")
            else:
                records[idx]["reject"] = "missing_coordinates"
                records[idx]["detail"] = ("多边形关系无法组装成面，文件中也没有其任何成员路段",
                                          "multipolygon relation not assembled into an area, "
                                          "and none of its member ways is in the file")
    except RuntimeError as exc:
        raise NotOsmFileError(f"cannot read as OpenStreetMap data: {exc}", path=path) from exc

    _locate_pending(records, pending, entrances, crs)
    if not records:
        log.info(say("log_osm_no_facilities", label=label))
        return empty_records().assign(outline=pd.Series(dtype=object),
                                      area_m2=pd.Series(dtype=float))
    frame = pd.DataFrame.from_records(records)
    missing = ~np.isfinite(frame["lon"].to_numpy(float))
    ok = frame["reject"] == ""
    set_detail(frame, np.flatnonzero(missing & ok.to_numpy()),
               ("文件中缺少节点坐标", "no node locations in the file"))
    frame.loc[missing & ok, "reject"] = "missing_coordinates"
    log.info(say("log_osm_facilities", label=label, n=len(frame),
                 unknown=int((frame["reject"] == "unknown_category").sum())))
    return frame[[*RECORD_COLUMNS, "outline", "area_m2"]]


def _member_centres(path: Path, members: dict[int, list[tuple[int, str]]], crs: CRS,
                    ) -> dict[int, tuple[float, float, int]]:
    """Where to show multipolygons osmium could not assemble: the centre of their member
    ways present in the file (outer ways when any is present).

    A second pass reads just those ways with their node locations. The centre is the
    length-weighted centroid of the ways in the metric CRS (the mean of their nodes
    when they have no length), as WGS-84.

    Returns
    -------
    dict
        Relation id -> ``(lon, lat, member ways found)``; relations with none found
        are left out.
    """
    import osmium

    wanted = {ref for refs in members.values() for ref, _ in refs}
    if not wanted:
        return {}
    found: dict[int, list[tuple[float, float]]] = {}
    fp = (osmium.FileProcessor(str(path))
          .with_locations()
          .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
          .with_filter(osmium.filter.IdFilter(wanted)))
    for way in fp:
        if way.id in wanted:
            coords = [(n.lon, n.lat) for n in way.nodes if n.location.valid()]
            if coords:
                found[way.id] = coords
    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    out: dict[int, tuple[float, float, int]] = {}
    for rel_id, refs in members.items():
        present = [(ref, role) for ref, role in refs if ref in found]
        if not present:
            continue
        outer = [ref for ref, role in present if role in ("outer", "")]
        use = outer or [ref for ref, _ in present]
        lines = []
        for ref in use:
            x, y = tr.transform(*np.asarray(found[ref], dtype=float).T)
            lines.append(np.column_stack([np.atleast_1d(x), np.atleast_1d(y)]))
        multi = shapely.MultiLineString([ln for ln in lines if len(ln) >= 2])
        if not multi.is_empty and multi.length > 0:
            cx, cy = multi.centroid.x, multi.centroid.y
        else:
            pts = np.vstack(lines)
            cx, cy = float(pts[:, 0].mean()), float(pts[:, 1].mean())
        lon, lat = back.transform(cx, cy)
        out[rel_id] = (float(lon), float(lat), len(present))
    return out


def _locate_pending(records: list[dict],
                    pending: list[tuple[int, list[list[tuple[float, float]]], list[int], bool]],
                    entrances: dict[int, tuple[float, float, bool]], crs: CRS) -> None:
    """Give ways and relations a point: entrance, centroid or midpoint."""
    polys: list[shapely.Geometry] = []
    poly_idx: list[int] = []
    located: list[bool] = []  # per polygon: placed at an entrance already
    for idx, rings, refs, is_area in pending:
        found = [entrances[r] for r in refs if r in entrances]
        if found:
            main = [e for e in found if e[2]]
            lon, lat, _ = (main or found)[0]
            records[idx]["lon"], records[idx]["lat"] = lon, lat
        rings = [r for r in rings if r]
        if not rings:
            continue
        if is_area and all(len(r) >= 4 for r in rings):
            polys.append(shapely.MultiPolygon([shapely.Polygon(r) for r in rings]))
            poly_idx.append(idx)
            located.append(bool(found))
        elif not found:
            xy = np.array(rings[0], dtype=float)
            mid = xy[len(xy) // 2]
            records[idx]["lon"], records[idx]["lat"] = float(mid[0]), float(mid[1])
    if not polys:
        return
    g = gpd.GeoSeries(polys, crs="EPSG:4326").to_crs(crs)
    g = g.buffer(0)  # repair self-touching outlines before taking areas and centroids
    # the outline's area in the metric CRS (outer rings: inner courtyards not deducted)
    for idx, area in zip(poly_idx, g.area.to_numpy(dtype=float), strict=True):
        records[idx]["area_m2"] = area if area > 0 else np.nan
    todo = ~np.array(located)
    if not todo.any():
        return
    g = g[todo]
    pts = g.centroid
    outside = ~g.contains(pts)
    if outside.any():
        pts[outside] = g[outside].representative_point()
    ll = gpd.GeoSeries(pts, crs=crs).to_crs("EPSG:4326")
    outlines = gpd.GeoSeries(g, crs=crs).to_crs("EPSG:4326")
    for idx, x, y, outline in zip(np.array(poly_idx)[todo], ll.x, ll.y, outlines, strict=True):
        records[idx]["lon"], records[idx]["lat"] = float(x), float(y)
        records[idx]["outline"] = outline
