"""osmnx, GraphML and pandana networks give the same answers as the OSM-file path."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

import lifecircle as lc
from lifecircle.interop import _FILTER_TAGS

ox = pytest.importorskip("osmnx")


@pytest.fixture(scope="module")
def walk(sample_osm: Path) -> lc.StreetNetwork:
    return lc.load_network(sample_osm, "walk")


@pytest.fixture(scope="module")
def ox_graph(sample_osm: Path):
    """osmnx's own graph of the sample file, unsimplified, with the tags the filters read."""
    tags = ox.settings.useful_tags_way
    ox.settings.useful_tags_way = sorted(set(tags) | set(_FILTER_TAGS))
    try:
        return ox.graph_from_xml(sample_osm, simplify=False, retain_all=True,
                                 bidirectional=True)
    finally:
        ox.settings.useful_tags_way = tags


def _same_network(a: lc.StreetNetwork, b: lc.StreetNetwork) -> None:
    np.testing.assert_array_equal(a.node_id, b.node_id)
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.length_m, b.length_m, atol=1e-6)
    np.testing.assert_allclose(a.x, b.x, atol=1e-6)


def test_osmnx_graph_equals_osm_file(ox_graph, walk: lc.StreetNetwork) -> None:
    """graph_from_xml keeps motorways and every way; our filter makes it the same network."""
    net = lc.network_from_osmnx(ox_graph, mode="walk")
    assert net.crs.equals(walk.crs)
    _same_network(net, walk)


def _arcs(net: lc.StreetNetwork) -> dict[tuple[int, int], float]:
    tails = net.node_id[net.arc_tails()]
    heads = net.node_id[net.indices]
    return dict(zip(zip(tails.tolist(), heads.tolist(), strict=True), net.length_m.tolist(),
                    strict=True))


def test_projected_osmnx_graph(ox_graph, walk: lc.StreetNetwork) -> None:
    """A projected graph (here Web Mercator) comes back to the same arcs and lengths."""
    net = lc.network_from_osmnx(ox.project_graph(ox_graph, to_crs="EPSG:3857"), mode="walk")
    a, b = _arcs(net), _arcs(walk)
    assert a.keys() == b.keys()
    np.testing.assert_allclose([a[k] for k in b], list(b.values()), atol=1e-6)


def test_graphml_round_trip(ox_graph, walk: lc.StreetNetwork, tmp_path: Path) -> None:
    path = tmp_path / "sample.graphml"
    ox.save_graphml(ox_graph, path)
    _same_network(lc.network_from_graphml(path, mode="walk"), walk)


def test_to_osmnx_and_back(walk: lc.StreetNetwork) -> None:
    g = lc.network_to_osmnx(walk)
    assert g.graph["crs"] == walk.crs.to_string()
    assert g.number_of_edges() == walk.n_arcs
    back = lc.network_from_osmnx(g, mode="walk", filter_ways=False)
    _same_network(back, walk)
    # osmnx's own routing runs on it
    u, v = int(walk.node_id[0]), int(walk.node_id[-1])
    route = ox.routing.shortest_path(g, u, v, weight="length")
    assert route[0] == u
    assert route[-1] == v


def test_graph_without_crs_is_refused(ox_graph) -> None:
    g = ox_graph.copy()
    del g.graph["crs"]
    with pytest.raises(lc.NoCrsError):
        lc.network_from_osmnx(g)
    with pytest.raises(lc.InputFileError, match="filter_ways=False"):
        lc.network_from_osmnx(lc.network_to_osmnx(lc.load_network(
            lc.datasets.get_path("chengdu_central") / "chengdu_central.osm", "walk")))


def test_pandana_engine_equals_ours(walk: lc.StreetNetwork) -> None:
    """engine='pandana' (nearest_pois) and the compiled search agree on the sample."""
    pytest.importorskip("pandana")
    rng = np.random.default_rng(3)
    f = rng.choice(walk.n_nodes, 40, replace=False)  # facilities on nodes: no leg
    fac = gpd.GeoDataFrame({"category": np.where(np.arange(40) % 2, "clinic", "school")},
                           geometry=gpd.points_from_xy(walk.x[f], walk.y[f]), crs=walk.crs)
    o = rng.choice(walk.n_nodes, 2000, replace=False)
    homes = gpd.GeoDataFrame(geometry=gpd.points_from_xy(walk.x[o] + 2.0, walk.y[o]),
                             crs=walk.crs)
    ours = lc.nearest(walk, origins=homes, facilities=fac, max_dist_m=1500)
    theirs = lc.nearest(walk, origins=homes, facilities=fac, max_dist_m=1500,
                        engine="pandana")
    for c in ("clinic", "school"):
        a, b = ours[f"dist_m__{c}"].to_numpy(), theirs[f"dist_m__{c}"].to_numpy()
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
        assert np.isfinite(a).sum() > 200
        # pandana stores edge weights as float32
        np.testing.assert_allclose(a[np.isfinite(a)], b[np.isfinite(b)], atol=0.05)


def test_network_from_pandana(walk: lc.StreetNetwork) -> None:
    import pandas as pd

    tails = walk.arc_tails()
    frames = {"nodes_df": pd.DataFrame({"x": walk.lon, "y": walk.lat},
                                       index=walk.node_id),
              "edges_df": pd.DataFrame({"from": walk.node_id[tails],
                                        "to": walk.node_id[walk.indices],
                                        "distance": walk.length_m})}
    net = lc.network_from_pandana(frames, crs="EPSG:4326")
    _same_network(net, walk)


def _undirected(net: lc.StreetNetwork) -> dict[tuple[int, int], float]:
    return {(min(a, b), max(a, b)): d for (a, b), d in _arcs(net).items()}


def test_osmnx_ebike_filter(ox_graph, sample_osm: Path) -> None:
    """The e-bike filter applies to an osmnx graph: no motorway or bicycle=no edge; every
    street of the OSM file's e-bike network is there with its length (the bidirectional
    osmnx graph ignores one-way rules, so its largest component holds more streets)."""
    net = lc.network_from_osmnx(ox_graph, mode="ebike")
    assert net.mode == "ebike"
    ebike = lc.load_network(sample_osm, "ebike")
    a, b = _undirected(net), _undirected(ebike)
    assert b.keys() <= a.keys()
    np.testing.assert_allclose([a[k] for k in b], list(b.values()), atol=1e-6)
    walk_only = _undirected(lc.network_from_osmnx(ox_graph, mode="walk")).keys() - a.keys()
    assert walk_only  # footways without bicycle=yes and the like are not ridden
    forbidden = {(min(int(u), int(v)), max(int(u), int(v)))
                 for u, v, d in ox_graph.edges(data=True)
                 if d.get("highway") in ("motorway", "motorway_link")
                 or d.get("motorroad") == "yes" or d.get("bicycle") in ("no", "use_sidepath")}
    assert forbidden  # the sample has such ways
    assert not forbidden & a.keys()
    # e-bike times: 15 km/h at most, never the graph's car speeds
    moving = net.time_s > 0
    kmh = net.length_m[moving] / net.time_s[moving] * 3.6
    assert float(kmh.max()) <= 15.0 + 1e-6
