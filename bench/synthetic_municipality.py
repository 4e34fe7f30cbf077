"""A synthetic municipality (or a small region of counties) written as real inputs.

Writes everything ``lifecircle run`` reads, in the formats planners bring:

* ``streets.osm.pbf`` — a perturbed street grid (80 m spacing) with a road hierarchy
  (``primary`` every 2 km with ``maxspeed=60``, ``secondary`` every 400 m with
  ``maxspeed=40``, ``residential`` otherwise, some ``footway`` diagonals walkers
  only), plus 8 facility categories as tagged OSM nodes placed where people live
  (kindergarten, primary school, township health centre, elderly day care, fitness
  site, convenience store, library, hospital);
* ``population.tif`` and ``age_60_plus.tif`` — persons per 100 m pixel (UTM 49N),
  urban centres over a rural background, a river with nobody on it;
* ``counties.gpkg`` and ``townships.gpkg`` — county and township polygons (code,
  Chinese name, settlement type ``urban``/``town``/``village``); townships nest in
  counties;
* ``boundary.gpkg`` — the study area;
* ``area.toml`` — the study-area file (Kaifeng targets profile).

Scales: ``municipality`` (16 counties of 20 km: 80 x 80 km, ~1M street nodes,
640,000 cells, 400 townships), ``medium`` (counties of 15 km) and ``small``
(counties of 4 km, a few thousand cells: the tests' region). Seeded: the same
arguments write the same files.

Usage::

    python bench/synthetic_municipality.py                          # bench/_work/municipality
    python bench/synthetic_municipality.py --counties 4 --scale small --out /tmp/region
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

X0, Y0 = 700_000.0, 3_820_000.0  # south-west corner in EPSG:32649 (near Zhengzhou)
CRS_EPSG = 32649
SPACING_M = 80.0
CELL_M = 100.0


@dataclass(frozen=True)
class Scale:
    """Size of one county and how the study-area file limits searches."""

    county_km: float
    townships_per_side: int
    max_walk_dist_m: float
    max_drive_time_min: float


SCALES = {
    "municipality": Scale(20.0, 5, 3000.0, 30.0),
    "medium": Scale(15.0, 4, 3000.0, 10.0),
    "small": Scale(4.0, 2, 1500.0, 3.0),
}

#: category -> (OSM tags, facilities per 100,000 residents, capacity tag or None)
CATEGORIES: dict[str, tuple[dict[str, str], float, str | None]] = {
    "kindergarten": ({"amenity": "kindergarten"}, 14.0, "capacity"),
    "primary_school": ({"amenity": "school", "isced:level": "1"}, 7.0, None),
    "township_health_centre": ({"amenity": "clinic"}, 0.0, "beds"),  # one per township
    "eldercare_daycare": ({"social_facility": "day_care", "social_facility:for": "senior",
                           "amenity": "social_facility"}, 6.0, "capacity"),
    "fitness_site": ({"leisure": "fitness_station"}, 12.0, None),
    "convenience_store": ({"shop": "convenience"}, 20.0, None),
    "library": ({"amenity": "library"}, 1.0, None),
    "hospital": ({"amenity": "hospital"}, 0.8, "beds"),
}
NAME_ZH = {"kindergarten": "幼儿园", "primary_school": "小学",
           "township_health_centre": "卫生院", "eldercare_daycare": "日间照料中心",
           "fitness_site": "健身点", "convenience_store": "便利店", "library": "图书馆",
           "hospital": "医院"}
_DIGITS = "〇一二三四五六七八九"


def _zh_number(n: int) -> str:
    return "".join(_DIGITS[int(d)] for d in str(n))


def _population(rng: np.random.Generator, n_rows: int, n_cols: int,
                n_counties_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Persons per cell (row 0 = north) and the age 60+ share per cell."""
    yy, xx = np.mgrid[0:n_rows, 0:n_cols].astype(np.float64)
    county_cells = n_rows / n_counties_side
    density = rng.lognormal(mean=np.log(4.0), sigma=0.6, size=(n_rows, n_cols))
    # a county seat near the middle of each county, a big city in the first county
    for i in range(n_counties_side):
        for j in range(n_counties_side):
            cy = (i + 0.5 + rng.uniform(-0.2, 0.2)) * county_cells
            cx = (j + 0.5 + rng.uniform(-0.2, 0.2)) * county_cells
            big = i == 0 and j == 0
            radius = county_cells * (0.22 if big else 0.08)
            peak = 260.0 if big else 120.0
            density += peak * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius ** 2))
    # small towns scattered over the countryside
    n_towns = max(4, n_counties_side ** 2 * 6)
    ty, tx = rng.uniform(0, n_rows, n_towns), rng.uniform(0, n_cols, n_towns)
    for y, x in zip(ty, tx, strict=True):
        r = rng.uniform(3, 8)
        density += 40.0 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * r ** 2))
    # a river: nobody lives on it
    river = np.abs(yy - (0.37 * n_rows + 0.05 * n_rows * np.sin(xx / n_cols * 6.0))) < 1.0
    density[river] = 0.0
    share60 = np.clip(rng.normal(0.19, 0.03, size=(n_rows, n_cols)), 0.08, 0.35)
    return np.round(density, 2), share60


def _write_tif(path: Path, values: np.ndarray) -> None:
    import rasterio
    from affine import Affine

    n_rows, n_cols = values.shape
    with rasterio.open(path, "w", driver="GTiff", height=n_rows, width=n_cols, count=1,
                       dtype="float32", crs=f"EPSG:{CRS_EPSG}", nodata=-1.0,
                       transform=Affine(CELL_M, 0.0, X0, 0.0, -CELL_M, Y0 + n_rows * CELL_M),
                       compress="deflate", tiled=True, blockxsize=256,
                       blockysize=256) as ds:
        ds.write(values.astype(np.float32), 1)


def _units(rng: np.random.Generator, side_m: float, n_counties_side: int,
           tw_side: int, pop: np.ndarray) -> tuple[list[dict], list[dict]]:
    """County and township polygons (townships: jittered Voronoi cells inside counties)."""
    import shapely

    county_m = side_m / n_counties_side
    counties, townships = [], []
    n_rows = pop.shape[0]
    for i in range(n_counties_side):
        for j in range(n_counties_side):
            k = i * n_counties_side + j
            box = shapely.box(X0 + j * county_m, Y0 + i * county_m,
                              X0 + (j + 1) * county_m, Y0 + (i + 1) * county_m)
            code = f"4101{k + 1:02d}"
            counties.append({"code": code, "name": f"合成{_zh_number(k + 1)}县", "geometry": box})
            step = county_m / tw_side
            gx, gy = np.meshgrid(np.arange(tw_side) + 0.5, np.arange(tw_side) + 0.5)
            sx = box.bounds[0] + (gx.ravel() + rng.uniform(-0.3, 0.3, gx.size)) * step
            sy = box.bounds[1] + (gy.ravel() + rng.uniform(-0.3, 0.3, gy.size)) * step
            cells = shapely.voronoi_polygons(shapely.multipoints(np.column_stack([sx, sy])),
                                             extend_to=box)
            polys = [shapely.intersection(p, box) for p in shapely.get_parts(cells)]
            order = np.lexsort((np.array([p.centroid.x for p in polys]),
                                -np.array([p.centroid.y for p in polys])))
            for n, idx in enumerate(order):
                poly = polys[idx]
                c = poly.centroid
                row = int(np.clip((Y0 + n_rows * CELL_M - c.y) // CELL_M, 0, n_rows - 1))
                col = int(np.clip((c.x - X0) // CELL_M, 0, pop.shape[1] - 1))
                r = 10
                dens = float(pop[max(0, row - r):row + r, max(0, col - r):col + r].mean())
                kind = "urban" if dens > 60 else ("town" if dens > 15 else "village")
                townships.append({
                    "code": f"{code}{n + 1:03d}", "name": f"合成{_zh_number(k + 1)}县第"
                    f"{_zh_number(n + 1)}{'街道' if kind == 'urban' else '镇'}",
                    "type": kind, "geometry": poly})
    return counties, townships


def _streets(writer, rng: np.random.Generator, n_side: int, to_lonlat) -> tuple[int, int]:
    """Street grid nodes and ways; returns (nodes, ways)."""
    from osmium.osm.mutable import Node, Way

    jitter = rng.uniform(-20, 20, size=(2, n_side, n_side))
    ii, jj = np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij")
    x = X0 + SPACING_M / 2 + jj * SPACING_M + jitter[0]
    y = Y0 + SPACING_M / 2 + ii * SPACING_M + jitter[1]
    lon, lat = to_lonlat(x.ravel(), y.ravel())
    for k in range(n_side * n_side):
        writer.add_node(Node(id=k + 1, location=(float(lon[k]), float(lat[k]))))
    node_id = (ii * n_side + jj + 1).astype(np.int64)
    removed_h = rng.random((n_side, n_side - 1)) < 0.03
    removed_v = rng.random((n_side - 1, n_side)) < 0.03
    way_id = 1
    n_ways = 0

    def tags_of(line: int) -> dict[str, str]:
        if line % 25 == 12:
            return {"highway": "primary", "maxspeed": "60", "name": f"合成大道{line // 25 + 1}"}
        if line % 5 == 2:
            return {"highway": "secondary", "maxspeed": "40"}
        return {"highway": "residential"}

    def emit(refs: list[int], tags: dict[str, str]) -> None:
        nonlocal way_id, n_ways
        # ways of at most 25 nodes, as mapped streets are
        for s in range(0, max(1, len(refs) - 1), 24):
            part = refs[s:s + 25]
            if len(part) >= 2:
                writer.add_way(Way(id=way_id, nodes=part, tags=tags))
                way_id += 1
                n_ways += 1

    for line in range(n_side):
        major = tags_of(line)
        for removed, get in ((removed_h, lambda a, b: int(node_id[a, b])),
                             (removed_v, lambda a, b: int(node_id[b, a]))):
            tags = major
            refs = [get(line, 0)]
            for k in range(n_side - 1):
                cut = removed[line, k] if removed is removed_h else removed[k, line]
                if cut and tags["highway"] == "residential":
                    emit(refs, tags)
                    refs = []
                refs.append(get(line, k + 1))
            emit(refs, tags)
    n_diag = n_side * n_side // 50
    di = rng.integers(0, n_side - 1, n_diag)
    dj = rng.integers(0, n_side - 1, n_diag)
    for a, b in zip(di.tolist(), dj.tolist(), strict=True):
        emit([int(node_id[a, b]), int(node_id[a + 1, b + 1])], {"highway": "footway"})
    return n_side * n_side, n_ways


def _facilities(writer, rng: np.random.Generator, pop: np.ndarray, townships: list[dict],
                to_lonlat) -> dict[str, int]:
    """Facility nodes where people live; one township health centre per township (a few
    townships lack one)."""
    import shapely
    from osmium.osm.mutable import Node

    n_rows, n_cols = pop.shape
    weights = pop.ravel() / pop.sum()
    total = float(pop.sum())
    next_id = 1_000_000_000
    counts: dict[str, int] = {}
    for cat, (tags, per_100k, cap_tag) in CATEGORIES.items():
        if cat == "township_health_centre":
            pts = []
            for t in townships:
                if rng.random() < 0.05:
                    continue
                p = shapely.point_on_surface(t["geometry"])
                pts.append((p.x + rng.uniform(-200, 200), p.y + rng.uniform(-200, 200)))
            xy = np.asarray(pts).reshape(-1, 2)
        else:
            n = max(2, round(total / 100_000 * per_100k))
            cell = rng.choice(weights.size, size=n, p=weights)
            r, c = np.divmod(cell, n_cols)
            xy = np.column_stack([X0 + (c + rng.random(n)) * CELL_M,
                                  Y0 + (n_rows - r - rng.random(n)) * CELL_M])
        lon, lat = to_lonlat(xy[:, 0], xy[:, 1])
        for k in range(len(xy)):
            t = dict(tags)
            t["name"] = (f"合成{_zh_number(k + 1)}{NAME_ZH[cat]}" if cat != "township_health_centre"
                         else f"第{_zh_number(k + 1)}镇卫生院")
            if cap_tag:
                t["capacity"] = str(int(rng.integers(20, 200)))
            if cat == "kindergarten":
                t["operator:type"] = "public" if rng.random() < 0.6 else "private"
            writer.add_node(Node(id=next_id, location=(float(lon[k]), float(lat[k])), tags=t))
            next_id += 1
        counts[cat] = len(xy)
    return counts


AREA_TOML = """\
# Synthetic {scale} region: {counties} counties of {county_km:g} km, written by
# bench/synthetic_municipality.py (seed {seed}).
name = "synthetic_{scale}"
title_zh = "合成{title_zh}（基准）"
title_en = "Synthetic {scale} (benchmark)"
metric_crs = "EPSG:{epsg}"
boundary = "boundary.gpkg"

[network]
path = "streets.osm.pbf"
modes = ["walk", "drive"]
snap_max_dist_m = 500

[grid]
cell_size_m = 100

[travel]
max_walk_dist_m = {max_walk_dist_m:g}
max_drive_time_min = {max_drive_time_min:g}
k_nearest = 1

[[population]]
kind = "raster"
label = "synthetic population"
paths = ["population.tif"]
group = "total"

[[population]]
kind = "raster"
label = "synthetic population aged 60+"
paths = ["age_60_plus.tif"]
group = "age_60_plus"

[[facilities]]
kind = "osm"
path = "streets.osm.pbf"

[[units]]
level = "county"
path = "counties.gpkg"
id_column = "code"
name_column = "name"

[[units]]
level = "township"
path = "townships.gpkg"
id_column = "code"
name_column = "name"
settlement_column = "type"

[targets]
profile = "kaifeng"

# supply against demand: kindergarten places within 500 m (two-step floating catchment)
[[targets.add]]
id = "kindergarten_places_2sfca"
name_zh = "幼儿园学位供需可达性（两步移动搜索法）"
name_en = "Kindergarten place accessibility (2SFCA)"
kind = "fca"
categories = ["kindergarten"]
capacity_field = "capacity"
per_persons = 1000
ratio_threshold = 20
kernel = "gaussian"
mode = "walk"
max_dist_m = 500
group = "total"
scope = ["urban", "town", "village"]
threshold = 0.8
source = "synthetic"
clause = "每千人口可达幼儿园学位不少于20个"
confidence = "M"
"""


def write_region(out_dir: str | Path, *, counties: int = 16, scale: str = "municipality",
                 seed: int = 0) -> dict[str, object]:
    """Write a synthetic region's inputs to ``out_dir``; returns what was written.

    Parameters
    ----------
    out_dir
        Folder (created; files in it are replaced).
    counties
        Number of counties, a square number (4, 9, 16...).
    scale
        ``"municipality"``, ``"medium"`` or ``"small"`` (:data:`SCALES`).
    seed
        Random seed.
    """
    import geopandas as gpd
    import osmium
    import shapely
    from pyproj import Transformer

    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    side = math.isqrt(counties)
    if side * side != counties or side < 1:
        raise ValueError(f"counties must be a square number (4, 9, 16...), got {counties}")
    sc = SCALES[scale]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    side_m = side * sc.county_km * 1000.0
    n_cells_side = round(side_m / CELL_M)
    n_nodes_side = round(side_m / SPACING_M)
    tr = Transformer.from_crs(CRS_EPSG, 4326, always_xy=True)

    def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return tr.transform(np.asarray(x, float), np.asarray(y, float))

    pop, share60 = _population(rng, n_cells_side, n_cells_side, side)
    _write_tif(out / "population.tif", pop)
    _write_tif(out / "age_60_plus.tif", np.round(pop * share60, 2))

    county_rows, township_rows = _units(rng, side_m, side, sc.townships_per_side, pop)
    crs = f"EPSG:{CRS_EPSG}"
    for name, rows in (("counties", county_rows), ("townships", township_rows)):
        path = out / f"{name}.gpkg"
        path.unlink(missing_ok=True)
        gpd.GeoDataFrame(rows, crs=crs).to_file(path, layer=name, engine="pyogrio")
    bpath = out / "boundary.gpkg"
    bpath.unlink(missing_ok=True)
    gpd.GeoDataFrame({"name": ["study area"]},
                     geometry=[shapely.box(X0, Y0, X0 + side_m, Y0 + side_m)],
                     crs=crs).to_file(bpath, layer="boundary", engine="pyogrio")

    pbf = out / "streets.osm.pbf"
    pbf.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(pbf))
    try:
        n_nodes, n_ways = _streets(writer, rng, n_nodes_side, to_lonlat)
        fac_counts = _facilities(writer, rng, pop, township_rows, to_lonlat)
    finally:
        writer.close()

    (out / "area.toml").write_text(AREA_TOML.format(
        scale=scale, counties=counties, county_km=sc.county_km, seed=seed, epsg=CRS_EPSG,
        title_zh={"municipality": "市域", "medium": "四县区域", "small": "小区域"}[scale],
        max_walk_dist_m=sc.max_walk_dist_m, max_drive_time_min=sc.max_drive_time_min),
        encoding="utf-8")
    return {"out_dir": str(out), "counties": counties, "townships": len(township_rows),
            "cells": n_cells_side ** 2, "populated_cells": int((pop > 0).sum()),
            "population": float(pop.sum()), "street_nodes": n_nodes, "ways": n_ways,
            "facilities": fac_counts}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--counties", type=int, default=16)
    p.add_argument("--scale", choices=sorted(SCALES), default="municipality")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default bench/_work/<scale>)")
    a = p.parse_args(argv)
    out = a.out or Path(__file__).parent / "_work" / a.scale
    t0 = time.perf_counter()
    info = write_region(out, counties=a.counties, scale=a.scale, seed=a.seed)
    for k, v in info.items():
        print(f"{k:>16}: {v}")
    print(f"{'seconds':>16}: {time.perf_counter() - t0:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
