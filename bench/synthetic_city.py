"""Synthetic walking cities written as real ``.osm.pbf`` files, for benchmarks.

A perturbed street grid (spacing about 80 m, so arcs of 60–120 m), with about 3% of
the segments removed and some diagonal shortcuts, placed around Zhengzhou. Each
grid row and column is one ``highway=residential`` way (split where a segment is
removed); shortcuts are ``highway=footway`` ways. Written with pyosmium, so the
benchmark measures the product's real loading path.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

LON0, LAT0 = 113.40, 34.55
SPACING_M = 80.0


def write_city(path: str | Path, n_side: int, *, seed: int = 0) -> dict[str, float]:
    """Write an ``n_side`` x ``n_side`` node street grid to ``path`` (.osm.pbf).

    Returns
    -------
    dict
        ``nodes``, ``ways`` written and the bounding box.
    """
    import osmium
    from osmium.osm.mutable import Node, Way

    rng = np.random.default_rng(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    m_per_deg_lat = 111_320.0
    m_per_deg_lon = 111_320.0 * math.cos(math.radians(LAT0))
    jitter = rng.uniform(-20, 20, size=(2, n_side, n_side))
    ii, jj = np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij")
    x = jj * SPACING_M + jitter[0]
    y = ii * SPACING_M + jitter[1]
    lon = LON0 + x / m_per_deg_lon
    lat = LAT0 + y / m_per_deg_lat
    node_id = (ii * n_side + jj + 1).astype(np.int64)
    removed_h = rng.random((n_side, n_side - 1)) < 0.03
    removed_v = rng.random((n_side - 1, n_side)) < 0.03
    n_ways = 0
    writer = osmium.SimpleWriter(str(path))
    try:
        flat_lon, flat_lat = lon.ravel(), lat.ravel()
        for k in range(n_side * n_side):
            writer.add_node(Node(id=k + 1, location=(float(flat_lon[k]), float(flat_lat[k]))))
        way_id = 1

        def emit(refs: list[int], highway: str) -> None:
            nonlocal way_id, n_ways
            if len(refs) >= 2:
                writer.add_way(Way(id=way_id, nodes=refs, tags={"highway": highway}))
                way_id += 1
                n_ways += 1

        for i in range(n_side):  # rows
            refs = [int(node_id[i, 0])]
            for j in range(n_side - 1):
                if removed_h[i, j]:
                    emit(refs, "residential")
                    refs = []
                refs.append(int(node_id[i, j + 1]))
            emit(refs, "residential")
        for j in range(n_side):  # columns
            refs = [int(node_id[0, j])]
            for i in range(n_side - 1):
                if removed_v[i, j]:
                    emit(refs, "residential")
                    refs = []
                refs.append(int(node_id[i + 1, j]))
            emit(refs, "residential")
        n_diag = n_side * n_side // 50
        di = rng.integers(0, n_side - 1, n_diag)
        dj = rng.integers(0, n_side - 1, n_diag)
        for a, b in zip(di.tolist(), dj.tolist(), strict=True):
            emit([int(node_id[a, b]), int(node_id[a + 1, b + 1])], "footway")
    finally:
        writer.close()
    return {"nodes": n_side * n_side, "ways": n_ways, "lon_min": float(lon.min()),
            "lat_min": float(lat.min()), "lon_max": float(lon.max()), "lat_max": float(lat.max())}
