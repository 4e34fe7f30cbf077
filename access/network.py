"""Street networks as compressed sparse row (CSR) graphs in a metric CRS.

:func:`load_network` reads an OSM file (:mod:`access.osm`), keeps the largest
connected component (weakly for walking, strongly for driving, since one-way
streets matter there), numbers nodes in spatial (Z-order) so that searches touch
memory in order, and caches the result on disk keyed by the file's content hash,
the mode and the CRS, never by its path.

:func:`snap` attaches points (grid cells, facilities) to their nearest node and
reports the straight-line access leg.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import struct
import zipfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from access.crs import lonlat_to_metric, utm_crs_for_lonlat
from access.i18n import say
from access.osm import MODES, RawArcs, _check_file, read_arcs_modes

__all__ = ["CACHE_VERSION", "CachedNetwork", "Snapped", "StreetNetwork", "build_network",
           "cache_dir", "cache_networks", "file_sha256", "load_network", "load_networks",
           "open_cached", "snap", "snap_outlines", "snap_points"]

log = logging.getLogger(__name__)

#: Bump when the way a network is built or cached changes, so old cache entries are
#: ignored.
CACHE_VERSION = 5

#: Consecutive nodes (in Z-order) per block of a cache entry's window index: a windowed
#: read (:meth:`CachedNetwork.window`) looks at the blocks whose box meets its own.
BLOCK_NODES = 4096


@dataclass(frozen=True, eq=False)
class StreetNetwork:
    """A directed street graph in CSR form, nodes in a metric CRS.

    Arcs leaving node ``i`` are ``indices[indptr[i]:indptr[i+1]]`` with lengths
    ``length_m`` at the same positions (and ``time_s`` for driving). A walking
    network is symmetric: every arc has its reverse.

    Attributes
    ----------
    mode
        ``"walk"``, ``"ebike"`` or ``"drive"``.
    crs
        The metric CRS of ``x``/``y``.
    node_id
        OSM node ids.
    x, y
        Node coordinates in metres (``crs``).
    lon, lat
        Node coordinates, WGS-84 degrees.
    indptr, indices
        CSR structure (int64 / int32).
    length_m
        Arc lengths in metres (float64).
    time_s
        Arc driving times in seconds, or None for walking.
    source
        File name the network was read from.
    source_sha256
        Content hash of that file.
    report
        What was read and what was dropped (ways, nodes and arcs outside the
        largest component, missing node references).
    ground
        Per node: True when the node lies on a street-level way (not only on
        tunnels, underground or indoor ways, see :func:`access.osm.is_ground_level`);
        None = every node counts as street level.
    """

    mode: str
    crs: CRS
    node_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    length_m: np.ndarray
    time_s: np.ndarray | None
    source: str = ""
    source_sha256: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    ground: np.ndarray | None = None

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_id)

    @property
    def n_arcs(self) -> int:
        """Number of directed arcs."""
        return len(self.indices)

    def weights(self, weight: str = "length_m") -> np.ndarray:
        """Arc costs: ``"length_m"`` (metres) or ``"time_s"`` (seconds, driving only)."""
        if weight == "length_m":
            return self.length_m
        if weight == "time_s":
            if self.time_s is None:
                raise ValueError(f"a {self.mode} network has no 'time_s' arc weights")
            return self.time_s
        raise ValueError(f"weight must be 'length_m' or 'time_s', got {weight!r}")

    def arc_tails(self) -> np.ndarray:
        """Tail node of every arc (the CSR row of each entry)."""
        return np.repeat(np.arange(self.n_nodes, dtype=np.int64), np.diff(self.indptr))

    def min_cost_per_m(self, weight: str) -> float:
        """The least cost (``weight``: metres or seconds) per metre of straight line of
        any arc: its cost over the distance between its ends. A path's cost is at
        least this times the straight line it spans, here and in any network cut from
        this one. 0 when the network has no arc whose ends lie apart."""
        if not self.n_arcs:
            return 0.0
        tail, head = self.arc_tails(), self.indices
        span = np.hypot(self.x[head] - self.x[tail], self.y[head] - self.y[tail])
        apart = span > 0
        if not apart.any():
            return 0.0
        return max(float(np.min(self.weights(weight)[apart] / span[apart])), 0.0)

    def to_networkx(self, weight: str = "length_m") -> Any:
        """The graph as a ``networkx.DiGraph`` (for checks on small graphs)."""
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(range(self.n_nodes))
        w = self.weights(weight)
        g.add_weighted_edges_from(
            zip(self.arc_tails().tolist(), self.indices.tolist(), w.tolist(), strict=True),
            weight=weight)
        return g

    def clip(self, bbox_lonlat: tuple[float, float, float, float]) -> StreetNetwork:
        """The part of the network inside a longitude/latitude box.

        Keeps the nodes inside ``(lon_min, lat_min, lon_max, lat_max)`` (edges
        included) and the arcs with both ends kept, in their order; nodes keep
        their relative order. Every route that stays inside the box keeps its
        length, so searches from points well inside it (a partition and its
        buffer) give the answers of the whole network.
        """
        x0, y0, x1, y1 = bbox_lonlat
        keep = (self.lon >= x0) & (self.lon <= x1) & (self.lat >= y0) & (self.lat <= y1)
        new_of_old = np.cumsum(keep) - 1
        tails = self.arc_tails()
        arc = keep[tails] & keep[self.indices]
        m = int(keep.sum())
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(new_of_old[tails[arc]], minlength=m), out=indptr[1:])
        report = {**self.report, "clipped_to_lonlat": [float(v) for v in bbox_lonlat],
                  "nodes_before_clip": self.n_nodes, "arcs_before_clip": self.n_arcs}
        return StreetNetwork(
            mode=self.mode, crs=self.crs, node_id=self.node_id[keep], x=self.x[keep],
            y=self.y[keep], lon=self.lon[keep], lat=self.lat[keep], indptr=indptr,
            indices=new_of_old[self.indices[arc]].astype(np.int32),
            length_m=self.length_m[arc],
            time_s=None if self.time_s is None else self.time_s[arc], source=self.source,
            source_sha256=self.source_sha256, report=report,
            ground=None if self.ground is None else self.ground[keep])

    def edge_lines(self) -> tuple[np.ndarray, np.ndarray]:
        """Unique undirected street segments as endpoint node pairs ``(u, v)``, ``u < v``."""
        u, v = self.arc_tails(), self.indices.astype(np.int64)
        a, b = np.minimum(u, v), np.maximum(u, v)
        key = np.unique(a * self.n_nodes + b)
        return key // self.n_nodes, key % self.n_nodes


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's content."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _morton_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Permutation that sorts points along a Z-order (Morton) curve."""
    def spread(v: np.ndarray) -> np.ndarray:
        v = v.astype(np.uint64) & np.uint64(0xFFFF)
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
        return (v | (v << np.uint64(1))) & np.uint64(0x55555555)

    def quantise(v: np.ndarray) -> np.ndarray:
        span = float(v.max() - v.min()) or 1.0
        return np.floor((v - v.min()) / span * 65535).astype(np.uint64)

    code = spread(quantise(x)) | (spread(quantise(y)) << np.uint64(1))
    return np.argsort(code, kind="stable")


def _cheapest_parallel(u: np.ndarray, v: np.ndarray, cost: np.ndarray, n: int) -> np.ndarray:
    """Arcs sorted by ``(u, v)``, one per pair: the cheapest, the first listed among ties.

    The same arcs, in the same order, as the first of each ``(u, v)`` run of
    ``np.lexsort((cost, v, u))``, with one fast sort of a single integer key; only
    the few pairs with parallel arcs are ordered by cost.
    """
    key = u.astype(np.int64) * n + v
    srt = np.argsort(key)
    ks = key[srt]
    start = np.ones(len(ks), dtype=bool)
    start[1:] = ks[1:] != ks[:-1]
    if start.all():
        return srt
    group = np.cumsum(start) - 1
    size = np.bincount(group)
    dup = np.flatnonzero(size[group] > 1)  # positions (in srt) of arcs with a parallel one
    arcs = srt[dup]
    # within each pair: by cost (NaN last), then as listed
    best = dup[np.lexsort((arcs, cost[arcs], group[dup]))]
    lead = np.ones(len(best), dtype=bool)
    lead[1:] = group[best[1:]] != group[best[:-1]]
    pick = srt.copy()
    pick[start.nonzero()[0][group[best[lead]]]] = srt[best[lead]]
    return pick[start]


def build_network(raw: RawArcs, *, mode: str, crs: CRS | None = None,
                  source: str = "", source_sha256: str = "") -> StreetNetwork:
    """Turn raw arcs into a :class:`StreetNetwork`.

    Keeps the largest connected component, merges parallel arcs (keeping the
    shortest), drops self-loops and numbers nodes in Z-order.

    Parameters
    ----------
    raw
        Arcs from :func:`access.osm.read_arcs`.
    mode
        ``"walk"``, ``"ebike"`` or ``"drive"``.
    crs
        Metric CRS; None picks the UTM zone of the nodes' centre.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    n = len(raw.node_id)
    if crs is None:
        crs = utm_crs_for_lonlat(raw.lon, raw.lat)
    if crs.is_geographic:
        raise ValueError(f"the network CRS must be metric, got {crs.to_string()}")

    adj = coo_matrix((np.ones(len(raw.u)), (raw.u, raw.v)), shape=(n, n)).tocsr()
    n_comp, labels = connected_components(
        adj, directed=True, connection="weak" if mode == "walk" else "strong")
    sizes = np.bincount(labels)
    keep_label = int(np.argmax(sizes))
    keep = labels == keep_label
    arc_keep = keep[raw.u] & keep[raw.v]

    old_nodes = np.flatnonzero(keep)
    lon, lat = raw.lon[old_nodes], raw.lat[old_nodes]
    x, y = lonlat_to_metric(lon, lat, crs)
    order = _morton_order(x, y)
    old_nodes, lon, lat, x, y = old_nodes[order], lon[order], lat[order], x[order], y[order]
    new_of_old = np.full(n, -1, dtype=np.int64)
    new_of_old[old_nodes] = np.arange(len(old_nodes))

    u = new_of_old[raw.u[arc_keep]]
    v = new_of_old[raw.v[arc_keep]]
    length = raw.length_m[arc_keep]
    speed = raw.speed_kmh[arc_keep]
    time = length / (speed / 3.6) if mode != "walk" else None
    cost = time if time is not None else length
    m = len(old_nodes)
    # parallel arcs: keep the cheapest (the first listed among equally cheap ones)
    keep_arcs = _cheapest_parallel(u, v, cost, m)
    n_merged = len(u) - len(keep_arcs)
    u, v, length, cost = u[keep_arcs], v[keep_arcs], length[keep_arcs], cost[keep_arcs]
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=m), out=indptr[1:])

    report = {
        "mode": mode,
        "ways_used": raw.ways_used,
        "ways_by_highway": dict(sorted(raw.ways_by_highway.items())),
        "missing_node_refs": raw.missing_refs,
        "ways_with_missing_refs": raw.ways_with_missing_refs,
        "components": int(n_comp),
        "nodes_read": int(n),
        "nodes_kept": int(m),
        "nodes_dropped": int(n - m),
        "arcs_read": len(raw.u),
        "arcs_kept": len(u),
        "arcs_dropped_disconnected": int((~arc_keep).sum()),
        "arcs_merged_parallel": int(n_merged),
    }
    ground = None if raw.ground is None else np.asarray(raw.ground, dtype=bool)[old_nodes]
    if ground is not None:
        report["nodes_below_street_level"] = int((~ground).sum())
    if n - m:
        log.info(say("log_components", source=source, mode=say(mode), n_comp=n_comp, kept=m,
                     total=n, dropped=n - m, arcs=int((~arc_keep).sum())))
    return StreetNetwork(
        mode=mode, crs=crs, node_id=raw.node_id[old_nodes], x=x, y=y, lon=lon, lat=lat,
        indptr=indptr, indices=v.astype(np.int32), length_m=length.astype(np.float64),
        time_s=None if time is None else cost.astype(np.float64), source=source,
        source_sha256=source_sha256, report=report, ground=ground)


def cache_dir() -> Path:
    """Folder of the network cache.

    ``$LIFECIRCLE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/lifecircle`` (``~/.cache/lifecircle``).
    """
    env = os.environ.get("LIFECIRCLE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "lifecircle"


_ARRAYS = ("node_id", "x", "y", "lon", "lat", "indptr", "indices", "length_m", "time_s",
           "ground", "block_box")
#: The arrays of a :class:`StreetNetwork` (a cache entry also holds ``block_box``).
_NET_ARRAYS = _ARRAYS[:-1]


class _BadCacheEntryError(Exception):
    """A cache entry that must not be used (unreadable, changed, or for other inputs)."""


def _cache_key(source_sha256: str, mode: str, crs: CRS) -> dict[str, Any]:
    """The parameters a cache entry is for; stored inside the entry and checked on load."""
    return {"source_sha256": source_sha256, "mode": mode, "crs": crs.to_wkt(),
            "cache_version": CACHE_VERSION}


def _arrays_sha256(arrays: dict[str, np.ndarray | None]) -> str:
    """sha256 over every array's name, dtype, shape and bytes, in a fixed order."""
    h = hashlib.sha256()
    for k in _ARRAYS:
        a = arrays.get(k)
        if a is None:
            h.update(f"{k}:none;".encode())
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{k}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.data.cast("B"))
    return h.hexdigest()


def _save(net: StreetNetwork, path: Path) -> None:
    """Write a cache entry atomically (unique temporary file, flushed, then renamed).

    The entry is an uncompressed ``.npz``: every array can be memory-mapped where it
    lies (:class:`CachedNetwork`). Besides the network's arrays it holds
    ``block_box``, the lon/lat box of every :data:`BLOCK_NODES` consecutive nodes (the
    window index), and in its metadata each weight's least cost per metre of straight
    line (:meth:`StreetNetwork.min_cost_per_m`).

    The entry holds the key's parameters and a sha256 of its arrays, so that a changed,
    cut or misfiled entry is recognised on load. Concurrent runs writing the same entry
    each write their own temporary file; the last rename wins, and both are whole.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: getattr(net, k) for k in _NET_ARRAYS if getattr(net, k) is not None}
    arrays["block_box"] = _block_boxes(net.lon, net.lat)
    weights = ("length_m",) if net.time_s is None else ("length_m", "time_s")
    meta = {"key": _cache_key(net.source_sha256, net.mode, net.crs),
            "arrays_sha256": _arrays_sha256(arrays),
            "source": net.source, "report": net.report, "block_nodes": BLOCK_NODES,
            "min_cost_per_m": {w: net.min_cost_per_m(w) for w in weights}}
    tmp = path.parent / f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp.npz"
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta, ensure_ascii=False)), **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _required_array(arrays: dict[str, np.ndarray | None], name: str) -> np.ndarray:
    """Array ``name`` of a cache entry; an entry without it must not be used."""
    a = arrays[name]
    if a is None:
        raise _BadCacheEntryError(f"lacks the array {name}")
    return a


def _load(path: Path, key: dict[str, Any]) -> StreetNetwork:
    """Read a cache entry and check it is whole and made for ``key``.

    Raises
    ------
    _BadCacheEntryError
        The entry cannot be read (empty, cut, bad CRC), was made for other inputs
        (source, mode, CRS, cache version) or its arrays changed since it was written.
    """
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: (z[k] if k in z.files else None) for k in _ARRAYS}
    except Exception as exc:  # zipfile, zlib, numpy and OS errors all mean "unreadable"
        raise _BadCacheEntryError(f"unreadable: {type(exc).__name__}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("key") != key:
        found = meta.get("key") if isinstance(meta, dict) else None
        diff = sorted(k for k in key if not isinstance(found, dict) or found.get(k) != key[k])
        raise _BadCacheEntryError(f"made for other inputs (differs in {', '.join(diff)})")
    if _arrays_sha256(arrays) != meta.get("arrays_sha256"):
        raise _BadCacheEntryError("its arrays do not match their sha256 (changed or damaged)")
    required = partial(_required_array, arrays)
    return StreetNetwork(mode=key["mode"], crs=CRS.from_wkt(key["crs"]),
                         source=meta["source"], source_sha256=key["source_sha256"],
                         node_id=required("node_id"), x=required("x"), y=required("y"),
                         lon=required("lon"), lat=required("lat"),
                         indptr=required("indptr"), indices=required("indices"),
                         length_m=required("length_m"), time_s=arrays["time_s"],
                         ground=arrays["ground"], report=meta["report"])


def _block_boxes(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """``(lon_min, lat_min, lon_max, lat_max)`` of every :data:`BLOCK_NODES` consecutive
    nodes: shape ``(blocks, 4)``."""
    if not len(lon):
        return np.zeros((0, 4))
    starts = np.arange(0, len(lon), BLOCK_NODES)
    return np.column_stack([np.minimum.reduceat(lon, starts), np.minimum.reduceat(lat, starts),
                            np.maximum.reduceat(lon, starts), np.maximum.reduceat(lat, starts)])


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, vectorised."""
    counts = counts.astype(np.int64)
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    return np.arange(total, dtype=np.int64) + np.repeat(starts.astype(np.int64) - ends + counts,
                                                        counts)


def _stored_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an uncompressed ``.npz``, memory-mapped where it lies in the file.

    Raises
    ------
    _BadCacheEntryError
        The file is not such an archive (unreadable, cut, or compressed).
    """
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
            for info in zf.infolist():
                if info.compress_type != zipfile.ZIP_STORED:
                    raise _BadCacheEntryError(f"{info.filename} is compressed")
                fh.seek(info.header_offset)
                head = fh.read(30)
                if len(head) < 30 or head[:4] != b"PK\x03\x04":
                    raise _BadCacheEntryError(f"no local header for {info.filename}")
                name_len, extra_len = struct.unpack("<HH", head[26:30])
                fh.seek(info.header_offset + 30 + name_len + extra_len)
                version = np.lib.format.read_magic(fh)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(fh)
                if dtype.hasobject:
                    raise _BadCacheEntryError(f"{info.filename} holds Python objects")
                offset = fh.tell()
                if offset + int(np.prod(shape)) * dtype.itemsize > \
                        info.header_offset + 30 + name_len + extra_len + info.file_size:
                    raise _BadCacheEntryError(f"{info.filename} is cut")
                name = info.filename.removesuffix(".npy")
                out[name] = (np.empty(shape, dtype) if not int(np.prod(shape)) else
                             np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                                       order="F" if fortran else "C"))
    except _BadCacheEntryError:
        raise
    except Exception as exc:  # zipfile, numpy and OS errors all mean "unreadable"
        raise _BadCacheEntryError(f"unreadable: {type(exc).__name__}: {exc}") from exc
    return out


class CachedNetwork:
    """A whole network's cache entry opened for windowed reads.

    Its arrays are memory-mapped, not loaded: :meth:`window` reads the nodes inside a
    box and the arcs between them, touching only the blocks of nodes whose box meets
    it (nodes are in Z-order, so a box is a few runs of blocks) and their arcs. A
    partition of a province reads its window of the province's network, not the
    whole of it. Opening checks the entry's key (source, mode, CRS, cache version)
    and its layout; the checksum of its arrays, which needs every byte, is checked by
    :meth:`verify` (:func:`cache_networks` does it once, before partitions read
    windows).

    Use :func:`open_cached` to open the entry of a file, mode and CRS.
    """

    def __init__(self, path: Path, key: dict[str, Any]) -> None:
        arrays = _stored_arrays(path)
        try:
            meta = json.loads(str(arrays.pop("meta")[()]))
        except Exception as exc:
            raise _BadCacheEntryError(f"unreadable metadata: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("key") != key:
            raise _BadCacheEntryError("made for other inputs")
        missing = [k for k in ("node_id", "x", "y", "lon", "lat", "indptr", "indices",
                               "length_m", "block_box") if k not in arrays]
        if missing or meta.get("block_nodes") != BLOCK_NODES:
            raise _BadCacheEntryError(f"lacks {', '.join(missing) or 'its window index'}")
        self.path = path
        self.mode: str = key["mode"]
        self.crs = CRS.from_wkt(key["crs"])
        self.source_sha256: str = key["source_sha256"]
        self._meta = meta
        self._arrays = arrays
        self._blocks = np.asarray(arrays["block_box"])

    @property
    def n_nodes(self) -> int:
        """Nodes of the whole network."""
        return len(self._arrays["node_id"])

    @property
    def n_arcs(self) -> int:
        """Arcs of the whole network."""
        return len(self._arrays["indices"])

    def min_cost_per_m(self, weight: str) -> float:
        """:meth:`StreetNetwork.min_cost_per_m` of the whole network (stored in the entry)."""
        stored = self._meta.get("min_cost_per_m", {})
        if weight not in stored:
            raise ValueError(f"a {self.mode} network has no {weight!r} arc weights")
        return float(stored[weight])

    def verify(self) -> None:
        """Check the checksum of every array (reads the whole entry once).

        Raises
        ------
        _BadCacheEntryError
            The arrays changed since the entry was written.
        """
        arrays = {k: self._arrays.get(k) for k in _ARRAYS}
        if _arrays_sha256(arrays) != self._meta.get("arrays_sha256"):
            raise _BadCacheEntryError("its arrays do not match their sha256 (changed or damaged)")

    def window(self, bbox_lonlat: tuple[float, float, float, float]) -> StreetNetwork:
        """The network inside a lon/lat box, read from the entry: the same network as
        :meth:`StreetNetwork.clip` of the whole one (nodes and arcs in their order)."""
        x0, y0, x1, y1 = bbox_lonlat
        a, bb = self._arrays, self._blocks
        n = self.n_nodes
        hit = np.flatnonzero((bb[:, 2] >= x0) & (bb[:, 0] <= x1) & (bb[:, 3] >= y0)
                             & (bb[:, 1] <= y1))
        starts = hit.astype(np.int64) * BLOCK_NODES
        cand = _ranges(starts, np.minimum(starts + BLOCK_NODES, n) - starts)
        lon, lat = a["lon"][cand], a["lat"][cand]
        inside = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
        nodes = cand[inside]
        m = len(nodes)
        first, last = a["indptr"][nodes], a["indptr"][nodes + 1]
        arcs = _ranges(first, last - first)
        heads = a["indices"][arcs].astype(np.int64)
        new_head = np.searchsorted(nodes, heads)
        kept = (new_head < m) & (nodes[np.minimum(new_head, max(m - 1, 0))] == heads) \
            if m else np.zeros(len(arcs), dtype=bool)
        tails = np.repeat(np.arange(m, dtype=np.int64), last - first)
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(tails[kept], minlength=m), out=indptr[1:])
        arcs = arcs[kept]
        report = {**self._meta["report"], "clipped_to_lonlat": [float(v) for v in bbox_lonlat],
                  "nodes_before_clip": n, "arcs_before_clip": self.n_arcs}
        time_s, ground = a.get("time_s"), a.get("ground")
        return StreetNetwork(
            mode=self.mode, crs=self.crs, node_id=a["node_id"][nodes], x=a["x"][nodes],
            y=a["y"][nodes], lon=lon[inside], lat=lat[inside], indptr=indptr,
            indices=new_head[kept].astype(np.int32), length_m=a["length_m"][arcs],
            time_s=None if time_s is None else time_s[arcs], source=self._meta["source"],
            source_sha256=self.source_sha256, report=report,
            ground=None if ground is None else ground[nodes])


def open_cached(source_sha256: str, mode: str, crs: CRS) -> CachedNetwork | None:
    """The cache entry of the whole network of ``mode`` opened for windowed reads, or
    None when there is none usable (missing, unreadable, or made for other inputs).
    Its checksum is not checked here (:func:`cache_networks` does)."""
    entry = _cache_entry(source_sha256, mode, crs, None)
    if not entry.exists():
        return None
    try:
        return CachedNetwork(entry, _cache_key(source_sha256, mode, crs))
    except _BadCacheEntryError as exc:
        log.debug("cache entry %s cannot be read by window: %s", entry, exc)
        return None


def load_network(path: str | Path, mode: str = "walk", *, crs: CRS | None = None,
                 use_cache: bool = True, progress: bool = False,
                 bbox_lonlat: tuple[float, float, float, float] | None = None,
                 source_sha256: str | None = None) -> StreetNetwork:
    """Load a street network from an OSM file, through the on-disk cache.

    Parameters
    ----------
    path
        ``.osm``/``.osm.xml``/``.osm.pbf`` file.
    mode
        ``"walk"``, ``"ebike"`` or ``"drive"``.
    crs
        Metric CRS of the analysis; None picks the UTM zone from the data.
    use_cache
        Read and write the cache (:func:`cache_dir`), keyed by the file's content
        hash, the mode, the CRS and :data:`CACHE_VERSION`. Each entry stores these
        parameters and a sha256 of its arrays; an entry that fails either check, or
        cannot be read, is logged as a warning, never used, and rebuilt.
    progress
        Show progress while reading.
    bbox_lonlat
        Read only the arcs inside this box (:func:`access.osm.read_arcs`); the box
        is part of the cache key.
    source_sha256
        The file's SHA-256 when the caller already knows it (saves hashing a large
        file once per partition).
    """
    return load_networks(path, (mode,), crs=crs, use_cache=use_cache, progress=progress,
                         bbox_lonlat=bbox_lonlat, source_sha256=source_sha256)[mode]


def _cache_entry(sha: str, mode: str, crs: CRS,
                 bbox_lonlat: tuple[float, float, float, float] | None) -> Path:
    box = "" if bbox_lonlat is None else "|" + ",".join(f"{v:.7f}" for v in bbox_lonlat)
    digest = hashlib.sha256(f"{sha}|{mode}|{crs.to_wkt()}|{CACHE_VERSION}{box}".encode())
    return cache_dir() / f"network-{digest.hexdigest()[:32]}.npz"


def load_networks(path: str | Path, modes: tuple[str, ...] | list[str], *,
                  crs: CRS | None = None, use_cache: bool = True, progress: bool = False,
                  bbox_lonlat: tuple[float, float, float, float] | None = None,
                  source_sha256: str | None = None) -> dict[str, StreetNetwork]:
    """:func:`load_network` for several modes: the file is read once for all the
    modes not found in the cache (:func:`access.osm.read_arcs_modes`).

    Returns
    -------
    dict
        Mode -> network, in the order of ``modes``.
    """
    path = Path(path)
    _check_file(path)
    modes = tuple(dict.fromkeys(modes))
    sha = source_sha256 or file_sha256(path)
    found: dict[str, StreetNetwork] = {}
    entries: dict[str, Path] = {}
    if use_cache and crs is not None:
        for mode in modes:
            key = _cache_key(sha, mode, crs)
            entry = entries[mode] = _cache_entry(sha, mode, crs, bbox_lonlat)
            if not entry.exists():
                continue
            try:
                found[mode] = _load(entry, key)
                log.info(say("log_cache_hit", mode=say(mode), file=path.name, entry=entry))
            except _BadCacheEntryError as exc:
                log.warning(say("log_cache_bad", entry=entry, mode=say(mode), file=path.name,
                                why=exc))
    todo = [m for m in modes if m not in found]
    if todo:
        raws = read_arcs_modes(path, todo, progress=progress, bbox_lonlat=bbox_lonlat)
        for mode in todo:
            net = build_network(raws.pop(mode), mode=mode, crs=crs, source=path.name,
                                source_sha256=sha)
            found[mode] = net
            dest = entries.get(mode)
            if dest is not None:
                try:
                    _save(net, dest)
                except OSError as exc:
                    log.warning(say("log_cache_write", entry=dest, why=exc))
    return {m: found[m] for m in modes}


def cache_networks(path: str | Path, modes: tuple[str, ...] | list[str], *, crs: CRS,
                   progress: bool = False, source_sha256: str | None = None) -> list[str]:
    """Make sure the cache holds a sound entry for the whole network of every mode,
    without loading them: what windowed reads (:func:`open_cached`) may then trust.

    Entries present are checked whole (key, layout and the checksum of their arrays,
    read through a memory map, :meth:`CachedNetwork.verify`); a bad one is logged as a
    warning and removed. Modes without a sound entry are built in one pass over the
    file (:func:`load_networks`) and written. Returns the modes built.
    """
    path = Path(path)
    _check_file(path)
    sha = source_sha256 or file_sha256(path)
    todo = []
    for mode in dict.fromkeys(modes):
        entry = _cache_entry(sha, mode, crs, None)
        if entry.exists():
            try:
                CachedNetwork(entry, _cache_key(sha, mode, crs)).verify()
                continue
            except _BadCacheEntryError as exc:
                log.warning(say("log_cache_bad", entry=entry, mode=say(mode), file=path.name,
                                why=exc))
                entry.unlink(missing_ok=True)
        todo.append(mode)
    if todo:
        load_networks(path, todo, crs=crs, use_cache=True, progress=progress,
                      source_sha256=sha)
    return todo


@dataclass(frozen=True)
class Snapped:
    """Where points join a network.

    Attributes
    ----------
    node
        Node index per point (int64), -1 where unreachable.
    dist_m
        Straight-line distance to that node (for unreachable points: to the nearest node).
    below_street
        True where no street-level node lies within the limit and the point was
        joined to a tunnel, underground or indoor node instead.
    """

    node: np.ndarray
    dist_m: np.ndarray
    below_street: np.ndarray


def snap_points(net: StreetNetwork, x: np.ndarray, y: np.ndarray, *,
                max_dist_m: float) -> Snapped:
    """Nearest street-level node of each point, with the straight-line leg to it.

    Points join the nearest node that lies on a street-level way
    (:attr:`StreetNetwork.ground`): a cell above a road tunnel joins the street on
    top, not the tunnel. Only a point with no street-level node within
    ``max_dist_m`` joins the nearest node of any kind (``below_street``).

    Parameters
    ----------
    net
        The network.
    x, y
        Point coordinates in ``net.crs`` metres.
    max_dist_m
        Points farther than this from every node are unreachable.
    """
    pts = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
    n = len(pts)
    if n == 0:
        return Snapped(np.zeros(0, np.int64), np.zeros(0, float), np.zeros(0, bool))
    dist, node = _kdtree(net, ground_only=False).query(pts, k=1, workers=-1)
    node = node.astype(np.int64)
    below = np.zeros(n, dtype=bool)
    ground = net.ground
    if ground is not None and not ground.all():
        g_nodes = np.flatnonzero(ground)
        g_dist = np.full(n, np.inf)
        g_node = np.full(n, -1, dtype=np.int64)
        if len(g_nodes):
            g_dist, g_idx = _kdtree(net, ground_only=True).query(pts, k=1, workers=-1)
            g_node = g_nodes[np.minimum(g_idx, len(g_nodes) - 1)]
        use_g = g_dist <= max_dist_m
        below = ~use_g & (dist <= max_dist_m) & ~ground[node]
        node = np.where(use_g, g_node, node)
        dist = np.where(use_g, g_dist, dist)
    node[~(dist <= max_dist_m)] = -1
    return Snapped(node=node, dist_m=dist, below_street=below)


def snap(net: StreetNetwork, x: np.ndarray, y: np.ndarray, *,
         max_dist_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest street-level network node of each point, with the straight-line leg to it.

    :func:`snap_points` without the ``below_street`` flags.

    Parameters
    ----------
    net
        The network.
    x, y
        Point coordinates in ``net.crs`` metres.
    max_dist_m
        Points farther than this from every node are unreachable.

    Returns
    -------
    node : numpy.ndarray
        Node index per point (int64), -1 where unreachable.
    snap_dist_m : numpy.ndarray
        Straight-line distance to that node (also given for unreachable points).
    """
    s = snap_points(net, x, y, max_dist_m=max_dist_m)
    return s.node, s.dist_m


def snap_outlines(net: StreetNetwork, outlines: np.ndarray, *, max_dist_m: float) -> Snapped:
    """Nearest street-level node to each outline (polygon facilities without an entrance).

    The leg is the straight distance from the node to the outline (0 for a node
    inside it). As in :func:`snap_points`, a node below street level is taken only
    when no street-level node lies within ``max_dist_m``.

    Parameters
    ----------
    net
        The network.
    outlines
        Shapely geometries in ``net.crs``.
    max_dist_m
        Outlines farther than this from every node are unreachable.
    """
    geoms = np.asarray(outlines, dtype=object)
    n = len(geoms)
    node = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    below = np.zeros(n, dtype=bool)
    if n == 0:
        return Snapped(node, dist, below)
    ground = np.ones(net.n_nodes, dtype=bool) if net.ground is None else net.ground
    todo = np.ones(n, dtype=bool)
    for only_ground in (True, False):
        cand = np.flatnonzero(ground) if only_ground else np.arange(net.n_nodes)
        if not len(cand) or not todo.any():
            continue
        tree = shapely.STRtree(shapely.points(net.x[cand], net.y[cand]))
        idx = np.flatnonzero(todo)
        (gi, ti), d = tree.query_nearest(geoms[idx], max_distance=max_dist_m,
                                         return_distance=True, all_matches=False)
        node[idx[gi]] = cand[ti]
        dist[idx[gi]] = d
        below[idx[gi]] = not only_ground
        todo[idx[gi]] = False
    if todo.any():  # unreachable: report the distance to the nearest node all the same
        tree = shapely.STRtree(shapely.points(net.x, net.y))
        idx = np.flatnonzero(todo)
        (gi, _), d = tree.query_nearest(geoms[idx], return_distance=True, all_matches=False)
        dist[idx[gi]] = d
    return Snapped(node=node, dist_m=dist, below_street=below & (node >= 0))


_TREES: dict[tuple[int, bool], tuple[StreetNetwork, Any]] = {}
_TREES_BY_NODES: dict[tuple[str, bool], Any] = {}


def _nodes_digest(net: StreetNetwork, ground_only: bool) -> str:
    """sha256 of the node coordinates a snapping tree is built on."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(net.x).data.cast("B"))
    h.update(np.ascontiguousarray(net.y).data.cast("B"))
    if ground_only and net.ground is not None:
        h.update(np.ascontiguousarray(net.ground).data.cast("B"))
    return h.hexdigest()


def _kdtree(net: StreetNetwork, *, ground_only: bool) -> Any:
    """KD-tree of the network's nodes (street-level ones with ``ground_only``).

    Trees are kept per network and shared by networks with the same nodes (the
    e-bike and driving networks often have exactly the same), so each is built once.
    """
    from scipy.spatial import cKDTree

    key = (id(net), ground_only)
    hit = _TREES.get(key)
    if hit is not None and hit[0] is net:
        return hit[1]
    nodes_key = (_nodes_digest(net, ground_only), ground_only)
    tree = _TREES_BY_NODES.get(nodes_key)
    if tree is None:
        sel = np.flatnonzero(net.ground) if ground_only and net.ground is not None \
            else slice(None)
        tree = cKDTree(np.column_stack([net.x[sel], net.y[sel]]))
    if len(_TREES) > 16:
        _TREES.clear()
    if len(_TREES_BY_NODES) > 8:
        _TREES_BY_NODES.clear()
    _TREES[key] = (net, tree)
    _TREES_BY_NODES[nodes_key] = tree
    return tree
