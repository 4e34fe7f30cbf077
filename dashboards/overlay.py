"""Background of the map from the study area's own OpenStreetMap file.

Main streets by class, water and green areas, read once with pyosmium, simplified
to the map's scale and cached beside the run as a small GeoJSON
(``<results>/map_overlay.geojson``, keyed by the OSM file's SHA-256). Nothing is
fetched from the internet.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import shapely

from access.i18n import say
from access.network import file_sha256

__all__ = ["MAIN_STREETS", "Overlay", "build_overlay", "load_overlay"]

log = logging.getLogger(__name__)

FILE_NAME = "map_overlay.geojson"
VERSION = 1
#: Street classes drawn, widest first: ``highway`` values per class.
MAIN_STREETS: dict[str, tuple[str, ...]] = {
    "major": ("motorway", "trunk", "primary"),
    "secondary": ("secondary",),
    "tertiary": ("tertiary",),
}
_CLASS_OF = {h: c for c, hs in MAIN_STREETS.items() for h in hs}
_WATER = {("natural", "water"), ("waterway", "riverbank"), ("landuse", "reservoir"),
          ("landuse", "basin")}
_GREEN = {("leisure", "park"), ("landuse", "grass"), ("landuse", "forest"),
          ("natural", "wood"), ("landuse", "recreation_ground"), ("leisure", "garden")}


@dataclass
class Overlay:
    """Simplified lon/lat geometries: street class -> lines, ``water``, ``green`` polygons."""

    streets: dict[str, np.ndarray] = field(default_factory=dict)
    water: np.ndarray = field(default_factory=lambda: np.empty(0, object))
    green: np.ndarray = field(default_factory=lambda: np.empty(0, object))

    _scaled: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return sum(len(v) for v in self.streets.values()) + len(self.water) + len(self.green)

    def at_scale(self, kind: str, deg: float) -> tuple[np.ndarray, np.ndarray]:
        """Geometries of ``kind`` simplified to about ``deg`` degrees, and their bounds.

        ``kind`` is ``"water"``, ``"green"`` or a street class. The tolerance is the
        power of two at or below ``deg``; each is computed once (a map window at a
        zoom seen before costs no simplification).
        """
        level = math.floor(math.log2(deg)) if deg > 0 else -60
        hit = self._scaled.get((kind, level))
        if hit is None:
            geoms = getattr(self, kind) if kind in ("water", "green") \
                else self.streets.get(kind, np.empty(0, object))
            simple = shapely.simplify(geoms, 2.0 ** level, preserve_topology=False)
            simple = simple[~shapely.is_empty(simple)]
            hit = (simple, shapely.bounds(simple).reshape(-1, 4))
            self._scaled[(kind, level)] = hit
        return hit


class _Reader(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str, list[list[tuple[float, float]]]] = {c: [] for c in MAIN_STREETS}
        self.water: list[Any] = []
        self.green: list[Any] = []

    def way(self, w: Any) -> None:
        cls = _CLASS_OF.get(w.tags.get("highway", ""))
        if cls is None:
            return
        try:
            pts = [(n.lon, n.lat) for n in w.nodes if n.location.valid()]
        except osmium.InvalidLocationError:
            return
        if len(pts) >= 2:
            self.lines[cls].append(pts)

    def area(self, a: Any) -> None:
        tags = {(k, v) for k, v in ((t.k, t.v) for t in a.tags)}
        kind = "water" if tags & _WATER else "green" if tags & _GREEN else None
        if kind is None:
            return
        polys = []
        try:
            for outer in a.outer_rings():
                shell = [(n.lon, n.lat) for n in outer]
                holes = [[(n.lon, n.lat) for n in inner] for inner in a.inner_rings(outer)]
                if len(shell) >= 4:
                    polys.append(shapely.Polygon(shell, [h for h in holes if len(h) >= 4]))
        except (osmium.InvalidLocationError, ValueError):
            return
        (self.water if kind == "water" else self.green).extend(polys)


def build_overlay(osm_path: str | Path, *, tolerance_deg: float) -> Overlay:
    """Read main streets, water and green from an OSM file and simplify them."""
    r = _Reader()
    r.apply_file(str(osm_path), locations=True)
    streets = {c: shapely.simplify(np.array([shapely.LineString(p) for p in lines], object),
                                   tolerance_deg)
               for c, lines in r.lines.items() if lines}
    def polys(items: list[Any]) -> np.ndarray:
        if not items:
            return np.empty(0, object)
        g = shapely.simplify(shapely.make_valid(np.array(items, object)), tolerance_deg)
        return g[~shapely.is_empty(g) & (shapely.area(g) > tolerance_deg ** 2)]
    return Overlay(streets, polys(r.water), polys(r.green))


def _to_geojson(ov: Overlay, sha256: str) -> dict[str, Any]:
    feats = []
    for cls, geoms in ov.streets.items():
        feats += [{"type": "Feature", "properties": {"kind": "street", "class": cls},
                   "geometry": json.loads(shapely.to_geojson(g))} for g in geoms]
    for kind, geoms in (("water", ov.water), ("green", ov.green)):
        feats += [{"type": "Feature", "properties": {"kind": kind},
                   "geometry": json.loads(shapely.to_geojson(g))} for g in geoms]
    return {"type": "FeatureCollection", "lifecircle_overlay": VERSION, "osm_sha256": sha256,
            "features": feats}


def _from_geojson(doc: dict[str, Any]) -> Overlay:
    streets: dict[str, list[Any]] = {}
    water: list[Any] = []
    green: list[Any] = []
    for f in doc["features"]:
        g = shapely.from_geojson(json.dumps(f["geometry"]))
        p = f["properties"]
        if p["kind"] == "street":
            streets.setdefault(p["class"], []).append(g)
        else:
            (water if p["kind"] == "water" else green).append(g)
    return Overlay({c: np.array(v, object) for c, v in streets.items()},
                   np.array(water, object), np.array(green, object))


def load_overlay(osm_path: str | Path, folder: str | Path | None, *,
                 tolerance_deg: float) -> Overlay:
    """The overlay of ``osm_path``, from ``folder``'s cache when it matches the file.

    A missing or stale cache is rebuilt and written atomically; a folder that cannot
    be written only costs the cache.
    """
    sha = file_sha256(osm_path)
    cache = Path(folder) / FILE_NAME if folder is not None else None
    if cache is not None and cache.is_file():
        try:
            doc = json.loads(cache.read_text(encoding="utf-8"))
            if doc.get("osm_sha256") == sha and doc.get("lifecircle_overlay") == VERSION:
                return _from_geojson(doc)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning(say("log_overlay_cache_bad", path=cache, why=exc))
    ov = build_overlay(osm_path, tolerance_deg=tolerance_deg)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".overlay-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(_to_geojson(ov, sha), fh, ensure_ascii=False)
            os.replace(tmp, cache)
        except OSError as exc:
            log.warning(say("log_cache_write", entry=cache.parent, why=exc))
    return ov
