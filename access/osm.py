"""Reading street networks out of OpenStreetMap files (``.osm``, ``.osm.xml``, ``.osm.pbf``).

The reader works offline on a local file through pyosmium, which parses XML and PBF
alike. It keeps the ways a travel mode may use, splits them into arcs between
consecutive nodes and measures each arc on the sphere. Which ways count is data:
:data:`WALK_EXCLUDED_HIGHWAY`, :data:`DRIVE_HIGHWAY_SPEED_KMH` and the access
rules below.

Ways are not simplified: the interior nodes of a way stay in the graph, so that
grid cells and facilities snap to a node close to them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from access.errors import InputFileError, NotOsmFileError, NoWalkableWaysError
from access.i18n import bar as i18n_bar
from access.i18n import say
from access.modes import MODES as MODE_TABLE

__all__ = [
    "DRIVE_HIGHWAY_SPEED_KMH",
    "EARTH_RADIUS_M",
    "EBIKE_HIGHWAY_SPEED_KMH",
    "MODES",
    "WALK_EXCLUDED_HIGHWAY",
    "RawArcs",
    "haversine_m",
    "is_ground_level",
    "osm_bounds",
    "read_arcs",
    "read_arcs_modes",
    "street_extent",
]

log = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_009.0
MODES = ("walk", "ebike", "drive")
OSM_SUFFIXES = (".osm", ".osm.xml", ".xml", ".osm.pbf", ".pbf", ".osm.bz2", ".osm.gz")

#: ``highway`` values never walked (motorways, things not built, not a way).
WALK_EXCLUDED_HIGHWAY = frozenset({
    "motorway", "motorway_link", "bus_guideway", "busway", "raceway", "construction",
    "proposed", "planned", "abandoned", "razed", "disused", "no", "platform", "rest_area",
    "services", "elevator", "corridor", "escape", "bus_stop",
})
#: Default driving speed (km/h) by ``highway`` value, used where ``maxspeed`` is absent.
#: Urban Chinese design speeds (CJJ 37-2012) rounded down for signals and congestion
#: (``[drive.speed_kmh]`` of ``catalogue/modes.toml``).
DRIVE_HIGHWAY_SPEED_KMH: dict[str, float] = dict(MODE_TABLE["drive"].speed_kmh)
#: E-bike speed (km/h) by ``highway`` value, capped by ``maxspeed`` where lower
#: (``[ebike.speed_kmh]`` of ``catalogue/modes.toml``). Classes not listed are not ridden.
EBIKE_HIGHWAY_SPEED_KMH: dict[str, float] = dict(MODE_TABLE["ebike"].speed_kmh)
_NO = frozenset({"no", "private"})
_YES_FOOT = frozenset({"yes", "designated", "permissive", "official"})
_ONEWAY_FWD = frozenset({"yes", "true", "1"})
_ONEWAY_BWD = frozenset({"-1", "reverse"})
_SPEED_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$")
#: ``tunnel`` values of ways below or inside something, never snapped to alone.
_TUNNEL = frozenset({"yes", "building_passage"})
_NUM_PREFIX_RE = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)")


def _number(value: str | None) -> float | None:
    """Leading number of a tag value (``"-1"``, ``"-2;-1"``), None if there is none."""
    if not value:
        return None
    m = _NUM_PREFIX_RE.match(value)
    return float(m.group(1)) if m else None


def is_ground_level(tags: dict[str, str]) -> bool:
    """Whether a way runs at street level, where residents and facilities join it.

    Not at street level: ``tunnel=yes|building_passage``, ``layer<0``,
    ``level<0``, ``indoor=yes`` and ``location=underground``. A node shared with
    any street-level way is a street-level node.
    """
    if tags.get("tunnel") in _TUNNEL or tags.get("indoor") == "yes":
        return False
    if tags.get("location") in ("underground", "underwater"):
        return False
    for key in ("layer", "level"):
        v = _number(tags.get(key))
        if v is not None and v < 0:
            return False
    return True


def walk_allowed(tags: dict[str, str]) -> bool:
    """Whether a way with these tags may be walked."""
    hw = tags.get("highway")
    if hw is None or hw in WALK_EXCLUDED_HIGHWAY or tags.get("area") == "yes":
        return False
    foot = tags.get("foot")
    if foot == "no":
        return False
    if tags.get("access") in _NO and foot not in _YES_FOOT:
        return False
    return tags.get("service") != "private"


def drive_directions(tags: dict[str, str]) -> tuple[bool, bool]:
    """``(forward, backward)`` driving permission for a way; both False if not drivable."""
    hw = tags.get("highway")
    if hw not in DRIVE_HIGHWAY_SPEED_KMH or tags.get("area") == "yes":
        return False, False
    if tags.get("access") in _NO or tags.get("motor_vehicle") in _NO \
            or tags.get("motorcar") in _NO or tags.get("service") in ("parking_aisle", "private"):
        return False, False
    oneway = tags.get("oneway", "")
    if oneway in _ONEWAY_FWD:
        return True, False
    if oneway in _ONEWAY_BWD:
        return False, True
    implied = tags.get("junction") in ("roundabout", "circular") or hw in ("motorway",)
    if implied and oneway != "no":
        return True, False
    return True, True


def drive_speed_kmh(tags: dict[str, str]) -> float:
    """Driving speed of a way: its ``maxspeed`` if readable, else the class default."""
    m = _SPEED_RE.match(tags.get("maxspeed", ""))
    if m:
        v = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
        if 5.0 <= v <= 150.0:
            return v
    return DRIVE_HIGHWAY_SPEED_KMH[tags["highway"]]


_YES_BIKE = frozenset({"yes", "designated", "permissive", "official"})
#: Ways an e-bike may use only where bicycles are explicitly allowed.
_EBIKE_ONLY_IF_ALLOWED = frozenset({"footway", "pedestrian"})


def ebike_directions(tags: dict[str, str]) -> tuple[bool, bool]:
    """``(forward, backward)`` e-bike permission for a way; both False if not ridden.

    Ridden: the classes of :data:`EBIKE_HIGHWAY_SPEED_KMH` (no motorways); not
    an expressway (``motorroad=yes``), not ``bicycle=no``/``use_sidepath``, not
    closed by ``access``/``vehicle`` unless bicycles are allowed; footways and
    pedestrian streets only with ``bicycle=yes|designated|permissive``. One-way
    rules apply unless ``oneway:bicycle=no`` or a contraflow cycle lane.
    """
    hw = tags.get("highway")
    if hw not in EBIKE_HIGHWAY_SPEED_KMH or tags.get("area") == "yes":
        return False, False
    bicycle = tags.get("bicycle")
    if tags.get("motorroad") == "yes" or bicycle in ("no", "use_sidepath"):
        return False, False
    if hw in _EBIKE_ONLY_IF_ALLOWED and bicycle not in _YES_BIKE:
        return False, False
    closed = tags.get("access") in _NO or tags.get("vehicle") in _NO
    if closed and bicycle not in _YES_BIKE:
        return False, False
    if tags.get("service") == "private" and bicycle not in _YES_BIKE:
        return False, False
    if tags.get("oneway:bicycle") == "no" or tags.get("cycleway", "").startswith("opposite"):
        return True, True
    oneway = tags.get("oneway", "")
    if oneway in _ONEWAY_FWD:
        return True, False
    if oneway in _ONEWAY_BWD:
        return False, True
    if tags.get("junction") in ("roundabout", "circular") and oneway != "no":
        return True, False
    return True, True


def ebike_speed_kmh(tags: dict[str, str]) -> float:
    """E-bike speed of a way: the class speed, capped by a lower readable ``maxspeed``."""
    v = EBIKE_HIGHWAY_SPEED_KMH[tags["highway"]]
    m = _SPEED_RE.match(tags.get("maxspeed", ""))
    if m:
        cap = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
        if cap >= 5.0:
            v = min(v, cap)
    return v


def haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray,
                lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres between arrays of points (degrees)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat = p2 - p1
    dlon = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputFileError("file not found", path=path)
    if not path.is_file():
        raise InputFileError("not a file", path=path)
    name = path.name.lower()
    if not name.endswith(OSM_SUFFIXES):
        raise NotOsmFileError(
            "not an OSM file: expected a name ending in .osm, .osm.xml or .osm.pbf", path=path)
    with path.open("rb") as fh:
        head = fh.read(512)
    if name.endswith((".osm", ".xml")):
        text = head.lstrip(b"\xef\xbb\xbf").lstrip()
        if not (text.startswith((b"<?xml", b"<osm"))) or (
                text.startswith(b"<?xml") and b"<osm" not in head):
            raise NotOsmFileError("not an OSM XML file (no <osm> element at its start)", path=path)
    elif name.endswith(".pbf") and b"OSMHeader" not in head:
        raise NotOsmFileError("not an OSM PBF file (no OSMHeader block)", path=path)


def osm_bounds(path: str | Path) -> tuple[float, float, float, float] | None:
    """The ``<bounds>`` box of an OSM file as ``(lon_min, lat_min, lon_max, lat_max)``.

    Returns None when the file records none.
    """
    import osmium

    path = Path(path)
    _check_file(path)
    reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
    try:
        box = reader.header().box()
    finally:
        reader.close()
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


@dataclass
class RawArcs:
    """Arcs read from an OSM file, before any graph processing.

    Attributes
    ----------
    node_id
        OSM ids of every node used, sorted (index = node number).
    lon, lat
        Node positions (WGS-84 degrees).
    u, v
        Arc endpoints as node numbers; an arc is usable from ``u`` to ``v``.
    length_m
        Great-circle length of each arc.
    speed_kmh
        Speed on each arc (driving only; walking arcs carry NaN).
    ways_used
        Number of ways that contributed arcs.
    missing_refs
        Node references whose node was missing from the file (clipped extracts).
    ways_with_missing_refs
        Ways among ``ways_used`` with at least one such reference (cut there).
    """

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    speed_kmh: np.ndarray
    ways_used: int = 0
    missing_refs: int = 0
    ways_with_missing_refs: int = 0
    ways_by_highway: dict[str, int] = field(default_factory=dict)
    ground: np.ndarray | None = None


def _way_permissions(mode: str, tags: dict[str, str]) -> tuple[bool, bool, float]:
    """``(forward, backward, speed_kmh)`` of a way for ``mode`` (speed NaN for walking)."""
    if mode == "walk":
        ok = walk_allowed(tags)
        return ok, ok, np.nan
    if mode == "ebike":
        fwd, bwd = ebike_directions(tags)
        return fwd, bwd, (ebike_speed_kmh(tags) if fwd or bwd else np.nan)
    fwd, bwd = drive_directions(tags)
    return fwd, bwd, (drive_speed_kmh(tags) if fwd or bwd else np.nan)


@dataclass
class _ModeWays:
    """What one mode takes from the ways read (offsets into the shared node arrays)."""

    pieces: list[tuple[int, int, bool, bool, float]] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    by_hw: dict[str, int] = field(default_factory=dict)
    ways_used: int = 0
    missing: int = 0
    ways_missing: int = 0


def read_arcs(path: str | Path, mode: str = "walk", *, progress: bool = False,
              bbox_lonlat: tuple[float, float, float, float] | None = None) -> RawArcs:
    """Read the arcs a travel mode may use from an OSM XML or PBF file.

    Parameters
    ----------
    path
        ``.osm``/``.osm.xml``/``.osm.pbf`` file.
    mode
        ``"walk"`` (both directions on every walkable way), ``"ebike"``
        (:func:`ebike_directions`, :func:`ebike_speed_kmh`) or ``"drive"``
        (one-way rules applied, speeds from ``maxspeed`` or class defaults).
    progress
        Show a progress bar of ways read.
    bbox_lonlat
        ``(lon_min, lat_min, lon_max, lat_max)``: keep only arcs with both ends in
        this box (a partition of a large area and its buffer). Ways leaving the box
        are cut where they leave it, as in a clipped extract.

    Raises
    ------
    NotOsmFileError
        The file is not OSM XML/PBF or cannot be parsed.
    NoWalkableWaysError
        No way in the file (or in ``bbox_lonlat``) is usable by ``mode``.
    """
    return read_arcs_modes(path, (mode,), progress=progress, bbox_lonlat=bbox_lonlat)[mode]


def read_arcs_modes(path: str | Path, modes: tuple[str, ...] | list[str], *,
                    progress: bool = False,
                    bbox_lonlat: tuple[float, float, float, float] | None = None,
                    ) -> dict[str, RawArcs]:
    """:func:`read_arcs` for several travel modes in one pass over the file.

    Each way's tags are read once and its nodes are collected once, whatever the
    number of modes using it; each mode gets exactly what :func:`read_arcs` alone
    would give it.

    Raises
    ------
    NotOsmFileError
        The file is not OSM XML/PBF or cannot be parsed.
    NoWalkableWaysError
        No way in the file (or in ``bbox_lonlat``) is usable by one of ``modes``.
    """
    import osmium
    from osmium.osm import NODE, WAY
    from tqdm import tqdm

    modes = tuple(dict.fromkeys(modes))
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    path = Path(path)
    _check_file(path)
    refs: list[int] = []
    xs: list[int] = []
    ys: list[int] = []
    ref_ground: list[bool] = []
    taken = {m: _ModeWays() for m in modes}
    clip = bbox_lonlat is not None
    x0, y0, x1, y1 = bbox_lonlat if bbox_lonlat is not None else (0.0, 0.0, 0.0, 0.0)
    way_pieces: list[tuple[int, int]] = []
    try:
        fp = (osmium.FileProcessor(str(path), WAY | NODE).with_locations()
              .with_filter(osmium.filter.EntityFilter(WAY))
              .with_filter(osmium.filter.KeyFilter("highway")))
        label = "/".join(str(say(m)) for m in modes)
        bar = tqdm(desc=i18n_bar("bar_ways", mode=label), unit=i18n_bar("unit_ways"),
                   disable=not progress, leave=False)
        for way in fp:
            bar.update()
            tags = dict(way.tags)
            usable = [(m, *perm) for m in modes
                      if (perm := _way_permissions(m, tags))[0] or perm[1]]
            if not usable:
                continue
            ground = is_ground_level(tags)
            start = len(refs)
            piece_start = start
            missing = 0
            way_pieces.clear()
            for nr in way.nodes:
                loc = nr.location
                valid = loc.valid()
                if not valid or (clip and not (x0 <= loc.lon <= x1 and y0 <= loc.lat <= y1)):
                    # a clipped extract or the edge of the box: end the piece here
                    missing += not valid
                    if len(refs) - piece_start >= 2:
                        way_pieces.append((piece_start, len(refs)))
                    elif clip:  # inside a box, nodes of no piece are not kept
                        del refs[piece_start:], xs[piece_start:], ys[piece_start:], \
                            ref_ground[piece_start:]
                    piece_start = len(refs)
                    continue
                refs.append(nr.ref)
                ref_ground.append(ground)
                xs.append(loc.x)
                ys.append(loc.y)
            if len(refs) - piece_start >= 2:
                way_pieces.append((piece_start, len(refs)))
            elif clip:
                del refs[piece_start:], xs[piece_start:], ys[piece_start:], \
                    ref_ground[piece_start:]
            hw = tags["highway"]
            for m, fwd, bwd, speed in usable:
                t = taken[m]
                t.missing += missing
                t.pieces.extend((ps, pe, fwd, bwd, speed) for ps, pe in way_pieces)
                if len(refs) > start:
                    t.spans.append((start, len(refs)))
                if clip:
                    if way_pieces:
                        t.ways_used += 1
                        t.by_hw[hw] = t.by_hw.get(hw, 0) + 1
                    continue
                t.ways_used += 1
                t.by_hw[hw] = t.by_hw.get(hw, 0) + 1
                t.ways_missing += missing > 0
        bar.close()
    except RuntimeError as exc:
        raise NotOsmFileError(f"cannot be read as OSM data ({exc})", path=path) from exc
    for m in modes:
        if not taken[m].pieces:
            raise NoWalkableWaysError(
                f"no way usable for '{m}' (highway=* ways open to that mode) in the file",
                path=path)
    ref_all = np.asarray(refs, dtype=np.int64)
    # the coordinates osmium keeps (1e-7 degree integers), as Location.lon/lat give them
    lon_all = np.asarray(xs, dtype=np.int64) / 10_000_000.0
    lat_all = np.asarray(ys, dtype=np.int64) / 10_000_000.0
    ground_all = np.asarray(ref_ground, dtype=bool)
    return {m: _mode_arcs(path, m, taken[m], ref_all, lon_all, lat_all, ground_all)
            for m in modes}


def _mode_arcs(path: Path, mode: str, t: _ModeWays, ref_all: np.ndarray, lon_all: np.ndarray,
               lat_all: np.ndarray, ground_all: np.ndarray) -> RawArcs:
    """One mode's :class:`RawArcs` from the node arrays shared by every mode read."""
    sp = np.asarray(t.spans, dtype=np.int64).reshape(-1, 2)
    span_len = sp[:, 1] - sp[:, 0]
    # positions in the shared arrays of the nodes this mode's ways hold, in order
    pos = np.repeat(sp[:, 0] - np.cumsum(span_len) + span_len, span_len) + \
        np.arange(int(span_len.sum()))
    node_id, first, inverse = np.unique(ref_all[pos], return_index=True, return_inverse=True)
    node_of = np.full(len(ref_all), -1, dtype=np.int64)
    node_of[pos] = inverse
    lon_arr, lat_arr = lon_all[pos], lat_all[pos]
    p = np.asarray([(s, e) for s, e, *_ in t.pieces], dtype=np.int64)
    n_pairs = p[:, 1] - p[:, 0] - 1
    # position of the first ref of every consecutive pair inside the shared arrays
    piece_of_pair = np.repeat(np.arange(len(t.pieces)), n_pairs)
    offset = np.arange(n_pairs.sum()) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
    a = p[piece_of_pair, 0] + offset
    b = a + 1
    length = haversine_m(lon_all[a], lat_all[a], lon_all[b], lat_all[b])
    flags = np.asarray([(f, w, s) for _, _, f, w, s in t.pieces], dtype=np.float64)
    fwd = flags[piece_of_pair, 0].astype(bool)
    bwd = flags[piece_of_pair, 1].astype(bool)
    speed = flags[piece_of_pair, 2]
    ua, va = node_of[a], node_of[b]
    u = np.concatenate([ua[fwd], va[bwd]])
    v = np.concatenate([va[fwd], ua[bwd]])
    length_m = np.concatenate([length[fwd], length[bwd]])
    speed_kmh = np.concatenate([speed[fwd], speed[bwd]])
    node_ground = np.zeros(len(node_id), dtype=bool)
    node_ground[inverse[ground_all[pos]]] = True
    keep = u != v
    log.info(say("log_osm_ways", file=path.name, ways=t.ways_used, mode=say(mode),
                 nodes=len(node_id), arcs=int(keep.sum()), missing=t.missing))
    return RawArcs(node_id=node_id, lon=lon_arr[first], lat=lat_arr[first], u=u[keep],
                   v=v[keep], length_m=length_m[keep], speed_kmh=speed_kmh[keep],
                   ways_used=t.ways_used, missing_refs=t.missing,
                   ways_with_missing_refs=t.ways_missing, ways_by_highway=t.by_hw,
                   ground=node_ground)


@dataclass
class StreetExtent:
    """Where a file has streets, and how fast one may drive on them.

    Attributes
    ----------
    lon, lat
        One point per occupied square of ``step_deg`` degrees (the square's
        first street node read): enough to tell whether an area has streets.
    max_drive_speed_kmh
        Highest driving speed of any drivable way (NaN when none).
    step_deg
        Size of the squares.
    """

    lon: np.ndarray
    lat: np.ndarray
    max_drive_speed_kmh: float
    step_deg: float


def street_extent(path: str | Path, *, step_deg: float = 0.002) -> StreetExtent:
    """One pass over a file's ``highway=*`` ways: where streets are, the top driving speed.

    Cheaper than building a network, and enough to check, before a partitioned
    run starts, that every partition has streets and how far a drive can reach.

    Raises
    ------
    NotOsmFileError
        The file is not OSM XML/PBF or cannot be parsed.
    """
    import osmium
    from osmium.osm import NODE, WAY

    path = Path(path)
    _check_file(path)
    seen: dict[tuple[int, int], tuple[float, float]] = {}
    vmax = np.nan
    inv = 1.0 / step_deg
    try:
        fp = (osmium.FileProcessor(str(path), WAY | NODE).with_locations()
              .with_filter(osmium.filter.EntityFilter(WAY))
              .with_filter(osmium.filter.KeyFilter("highway")))
        for way in fp:
            tags = dict(way.tags)
            fwd, bwd = drive_directions(tags)
            if fwd or bwd:
                v = drive_speed_kmh(tags)
                if not v <= vmax:
                    vmax = v
            elif not walk_allowed(tags):
                continue
            for nr in way.nodes:
                loc = nr.location
                if loc.valid():
                    seen.setdefault((int(loc.lon * inv // 1), int(loc.lat * inv // 1)),
                                    (loc.lon, loc.lat))
    except RuntimeError as exc:
        raise NotOsmFileError(f"cannot be read as OSM data ({exc})", path=path) from exc
    pts = np.asarray(list(seen.values()), dtype=np.float64).reshape(-1, 2)
    return StreetExtent(lon=pts[:, 0], lat=pts[:, 1], max_drive_speed_kmh=float(vmax),
                        step_deg=step_deg)
