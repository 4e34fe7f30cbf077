"""Street networks: reading OSM XML/PBF, components, cache, snapping, bad input."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from access import network as network_mod
from access.errors import InputFileError, NotOsmFileError, NoWalkableWaysError
from access.network import _cheapest_parallel, load_network, snap
from access.osm import (
    drive_directions,
    drive_speed_kmh,
    osm_bounds,
    read_arcs,
    read_arcs_modes,
    walk_allowed,
)
from access.rejects import RejectLog
from lifecircle.pipeline import _reject_missing_refs
from tests.conftest import write_osm

KOUVOLA = Path(__file__).resolve().parents[1] / "facilities" / "data"  # a real small PBF


def test_sample_walk_network(sample_osm: Path) -> None:
    net = load_network(sample_osm, "walk")
    assert net.crs.to_epsg() == 32648  # UTM 48N, chosen from the data
    assert 9000 < net.n_nodes < 10000
    # walking is symmetric: every arc has its reverse with the same length
    tails = net.arc_tails()
    fwd = dict(zip(zip(tails.tolist(), net.indices.tolist(), strict=True),
                   net.length_m.tolist(), strict=True))
    assert all(fwd[(v, u)] == pytest.approx(w) for (u, v), w in fwd.items())
    assert net.report["nodes_dropped"] > 0  # the extract is clipped: islands exist
    assert net.report["nodes_kept"] == net.n_nodes
    assert "motorway" not in net.report["ways_by_highway"]


def test_sample_arc_lengths_match_osmnx(sample_osm: Path) -> None:
    """Arc lengths agree with osmnx's great-circle lengths on the same OSM file."""
    import osmnx as ox

    g = ox.graph_from_xml(sample_osm, simplify=False, retain_all=True)
    net = load_network(sample_osm, "walk")
    idx = {int(n): i for i, n in enumerate(net.node_id)}
    checked = 0
    for u, v, d in g.edges(data=True):
        if u in idx and v in idx:
            i, j = idx[u], idx[v]
            row = net.indices[net.indptr[i]:net.indptr[i + 1]]
            hit = np.flatnonzero(row == j)
            if len(hit):
                assert net.length_m[net.indptr[i] + hit[0]] <= d["length"] + 0.01
                checked += 1
    assert checked > 10000


def test_pbf_loads() -> None:
    path = KOUVOLA / "kouvola_small.osm.pbf"
    net = load_network(path, "walk")
    assert net.crs.to_epsg() == 32635
    assert net.n_nodes > 1000
    b = osm_bounds(path)
    assert b is not None
    assert b[0] == pytest.approx(26.93, abs=0.01)


def test_synthetic_pbf_lattice(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from synthetic_city import write_city

    info = write_city(tmp_path / "city.osm.pbf", 20, seed=1)
    net = load_network(tmp_path / "city.osm.pbf", "walk")
    assert info["nodes"] == 400
    assert net.n_nodes == 400  # the grid stays connected with 3% of segments removed
    assert net.length_m.min() >= 40
    assert net.length_m.max() <= 170


def test_cache_keyed_by_content_not_path(sample_osm: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_network(sample_osm, "walk", crs=load_network(sample_osm).crs)
    copy = tmp_path / "renamed.osm"
    shutil.copy(sample_osm, copy)

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(network_mod, "read_arcs_modes", boom)
    again = load_network(copy, "walk", crs=first.crs)
    for name in ("node_id", "x", "y", "indptr", "indices", "length_m"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert again.crs == first.crs


def test_deterministic(sample_osm: Path) -> None:
    a = load_network(sample_osm, "walk", use_cache=False)
    b = load_network(sample_osm, "walk", use_cache=False)
    for name in ("node_id", "x", "indptr", "indices", "length_m"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_drive_oneway_and_speed(tmp_path: Path) -> None:
    nodes = {1: (104.0, 30.0), 2: (104.001, 30.0), 3: (104.002, 30.0)}
    path = write_osm(tmp_path / "d.osm", nodes, [
        ([1, 2], {"highway": "primary", "oneway": "yes"}),
        ([2, 3], {"highway": "residential", "maxspeed": "20"}),
        ([1, 3], {"highway": "residential", "oneway": "-1"}),  # drivable 3 -> 1 only
    ])
    net = load_network(path, "drive", use_cache=False)
    idx = {int(n): i for i, n in enumerate(net.node_id)}
    arcs = set(zip(net.arc_tails().tolist(), net.indices.tolist(), strict=True))
    assert (idx[1], idx[2]) in arcs
    assert (idx[2], idx[1]) not in arcs
    assert (idx[3], idx[1]) in arcs
    assert (idx[1], idx[3]) not in arcs
    assert (idx[2], idx[3]) in arcs
    assert (idx[3], idx[2]) in arcs
    k = int(np.flatnonzero((net.arc_tails() == idx[2]) & (net.indices == idx[3]))[0])
    assert net.time_s[k] == pytest.approx(net.length_m[k] / (20 / 3.6))


def test_way_filters() -> None:
    assert walk_allowed({"highway": "footway"})
    assert walk_allowed({"highway": "primary"})
    assert not walk_allowed({"highway": "motorway"})
    assert not walk_allowed({"highway": "residential", "foot": "no"})
    assert not walk_allowed({"highway": "service", "access": "private"})
    assert walk_allowed({"highway": "service", "access": "private", "foot": "yes"})
    assert not walk_allowed({"highway": "pedestrian", "area": "yes"})
    assert drive_directions({"highway": "footway"}) == (False, False)
    assert drive_directions({"highway": "primary", "junction": "roundabout"}) == (True, False)
    assert drive_speed_kmh({"highway": "primary", "maxspeed": "30 mph"}) == pytest.approx(48.28,
                                                                                        abs=0.01)
    assert drive_speed_kmh({"highway": "primary", "maxspeed": "signals"}) == 45.0


def test_snap_limit(sample_osm: Path) -> None:
    net = load_network(sample_osm, "walk")
    x = np.array([net.x[0] + 3.0, net.x[0] + 10_000.0])
    y = np.array([net.y[0] + 4.0, net.y[0]])
    node, leg = snap(net, x, y, max_dist_m=500.0)
    assert node[1] == -1
    assert leg[1] > 500
    assert node[0] >= 0
    assert leg[0] <= 5.0 + 1e-9


@pytest.mark.parametrize(("name", "content", "exc"), [
    ("missing.osm", None, InputFileError),
    ("notes.txt", "hello", NotOsmFileError),
    ("fake.osm", "this is not xml", NotOsmFileError),
    ("fake.osm.pbf", "not a pbf", NotOsmFileError),
])
def test_bad_files(tmp_path: Path, name: str, content: str | None,
                   exc: type[Exception]) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(exc) as info:
        load_network(path, "walk")
    assert name in str(info.value)


def test_no_walkable_ways(tmp_path: Path) -> None:
    path = write_osm(tmp_path / "m.osm", {1: (104.0, 30.0), 2: (104.01, 30.0)},
                     [([1, 2], {"highway": "motorway"}), ([1, 2], {"building": "yes"})])
    with pytest.raises(NoWalkableWaysError, match=r"m\.osm"):
        load_network(path, "walk")


def test_missing_node_references_counted_and_rejected(tmp_path: Path) -> None:
    nodes = {1: (104.0, 30.0), 2: (104.001, 30.0), 3: (104.002, 30.0), 4: (104.002, 30.001)}
    # a clipped extract: ways 1 and 2 reference nodes 98 and 99, which the file lacks
    path = write_osm(tmp_path / "clipped.osm", nodes, [
        ([1, 2, 98, 3], {"highway": "residential"}),
        ([3, 99, 4, 98], {"highway": "footway"}),
        ([2, 3], {"highway": "residential"}),
    ])
    net = load_network(path, "walk", use_cache=False)
    assert net.report["missing_node_refs"] == 3
    assert net.report["ways_with_missing_refs"] == 2
    rejects = RejectLog()
    _reject_missing_refs({"walk": net}, rejects)
    rows = rejects.to_frame()
    assert list(rows["kind"]) == ["network"]
    assert list(rows["reason"]) == ["missing_node_refs"]
    assert rows["source"].iloc[0] == "clipped.osm"
    assert "3 node references in 2 ways" in rows["detail_en"].iloc[0]
    assert "2 条路段中有 3 个节点引用" in rows["detail"].iloc[0]
    # a complete file adds no row
    empty = RejectLog()
    whole = write_osm(tmp_path / "whole.osm", nodes, [([1, 2, 3, 4], {"highway": "path"})])
    _reject_missing_refs({"walk": load_network(whole, "walk", use_cache=False)}, empty)
    assert len(empty) == 0


def test_cheapest_parallel_arcs_as_lexsort() -> None:
    """One arc per (u, v): the cheapest, the first listed among ties (NaN costs last),
    in (u, v) order -- the first of each run of np.lexsort((cost, v, u))."""
    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(2, 30))
        m = int(rng.integers(1, 200))
        u, v = rng.integers(0, n, m), rng.integers(0, n, m)
        cost = rng.integers(0, 5, m).astype(float)
        if trial % 3 == 0:
            cost[rng.random(m) < 0.2] = np.nan
        srt = np.lexsort((cost, v, u))
        first = np.ones(m, dtype=bool)
        first[1:] = (u[srt][1:] != u[srt][:-1]) | (v[srt][1:] != v[srt][:-1])
        np.testing.assert_array_equal(_cheapest_parallel(u, v, cost, n), srt[first])


@pytest.mark.parametrize("box", [None, (104.05, 30.64, 104.08, 30.67)])
def test_one_pass_gives_each_mode_what_it_reads_alone(sample_osm: Path,
                                                      box: tuple[float, ...] | None) -> None:
    """Reading walk, e-bike and car together shares each way's nodes between the modes;
    every mode still gets exactly the arcs, nodes and counts it gets read alone."""
    together = read_arcs_modes(sample_osm, ("walk", "ebike", "drive"), bbox_lonlat=box)
    for mode, raw in together.items():
        alone = read_arcs(sample_osm, mode, bbox_lonlat=box)
        for name in ("node_id", "lon", "lat", "u", "v", "length_m", "ground"):
            np.testing.assert_array_equal(getattr(raw, name), getattr(alone, name))
        np.testing.assert_array_equal(raw.speed_kmh, alone.speed_kmh)
        assert (raw.ways_used, raw.missing_refs, raw.ways_with_missing_refs,
                raw.ways_by_highway) == (alone.ways_used, alone.missing_refs,
                                         alone.ways_with_missing_refs, alone.ways_by_highway)


def test_clip_keeps_exactly_the_arcs_inside(sample_osm: Path) -> None:
    """A clipped network is the subgraph of the nodes inside the box: every arc with both
    ends inside, with its length and time, nodes in their order."""
    net = load_network(sample_osm, "drive", use_cache=False)
    box = (104.05, 30.64, 104.08, 30.67)
    sub = net.clip(box)
    inside = ((net.lon >= box[0]) & (net.lon <= box[2]) & (net.lat >= box[1])
              & (net.lat <= box[3]))
    assert 0 < sub.n_nodes < net.n_nodes
    np.testing.assert_array_equal(sub.node_id, net.node_id[inside])
    tails, heads = net.arc_tails(), net.indices
    keep = inside[tails] & inside[heads]
    want = {(int(net.node_id[a]), int(net.node_id[b])): (w, t) for a, b, w, t in zip(
        tails[keep], heads[keep], net.length_m[keep], net.time_s[keep], strict=True)}
    assert sub.time_s is not None
    got = {(int(sub.node_id[a]), int(sub.node_id[b])): (w, t) for a, b, w, t in zip(
        sub.arc_tails(), sub.indices, sub.length_m, sub.time_s, strict=True)}
    assert got == want
    assert np.all(np.diff(sub.arc_tails()) >= 0)  # still CSR
