"""Residents and facilities join the network at street level, never a tunnel below them."""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer

from access.network import StreetNetwork, load_network, snap, snap_outlines, snap_points
from access.osm import haversine_m, is_ground_level
from access.travel import nearest_facilities
from facilities import load_taxonomy
from facilities.read_osm import read_osm
from lifecircle.routing import snap_to_networks
from tests.conftest import write_osm

UTM48 = CRS.from_epsg(32648)
X0, Y0 = 400_000.0, 3_320_000.0  # central Chengdu, UTM 48N
_TO_LONLAT = Transformer.from_crs(UTM48, "EPSG:4326", always_xy=True)


def _ll(x: float, y: float) -> tuple[float, float]:
    lon, lat = _TO_LONLAT.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def tunnel_city(path: Path) -> dict[str, object]:
    """An 800 m square ring road, a north-south street across it and, 5 m north of the
    centre line, a 800 m service tunnel (``layer=-1``) under the blocks, joined to the
    ring at both portals.

    Returns the node positions (metres from the origin) and the ways.
    """
    pos: dict[int, tuple[float, float]] = {}
    nid = iter(range(1, 10_000))
    ring: list[int] = []
    corners = [(0, 0), (800, 0), (800, 800), (0, 800)]
    for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1], strict=True):
        for t in range(8):
            k = next(nid)
            pos[k] = (ax + (bx - ax) * t / 8, ay + (by - ay) * t / 8)
            ring.append(k)
    ring.append(ring[0])
    by_xy = {v: k for k, v in pos.items()}
    street = [by_xy[(400.0, 0.0)]]
    for y in range(100, 800, 100):
        k = next(nid)
        pos[k] = (400.0, float(y))
        street.append(k)
    street.append(by_xy[(400.0, 800.0)])
    tunnel = [by_xy[(0.0, 400.0)]]
    for x in range(50, 800, 50):
        k = next(nid)
        pos[k] = (float(x), 405.0)
        tunnel.append(k)
    tunnel.append(by_xy[(800.0, 400.0)])
    ways = [
        (ring, {"highway": "secondary"}),
        (street, {"highway": "residential", "bridge": "no"}),
        (tunnel, {"highway": "service", "tunnel": "yes", "layer": "-1"}),
    ]
    write_osm(path, {k: _ll(*xy) for k, xy in pos.items()}, ways)
    return {"pos": pos, "ways": ways, "tunnel": tunnel}


def street_oracle(city: dict[str, object], net: StreetNetwork) -> nx.Graph:
    """networkx graph of the street-level ways only (arcs measured on the sphere),
    node positions as stored in the file (7 decimals)."""
    at = {int(k): i for i, k in enumerate(net.node_id)}
    g = nx.Graph()
    for refs, tags in city["ways"]:
        if tags.get("tunnel") == "yes":
            continue
        for a, b in itertools.pairwise(refs):
            i, j = at[a], at[b]
            g.add_edge(a, b, weight=float(haversine_m(net.lon[i], net.lat[i], net.lon[j],
                                                      net.lat[j])))
    for k in g.nodes:
        g.nodes[k]["xy"] = (net.x[at[k]], net.y[at[k]])
    return g


@pytest.fixture
def city(tmp_path: Path) -> tuple[dict[str, object], Path]:
    path = tmp_path / "tunnel_city.osm"
    return tunnel_city(path), path


def test_cell_above_tunnel_snaps_to_street_and_matches_oracle(city) -> None:
    info, path = city
    net = load_network(path, "walk", crs=UTM48, use_cache=False)
    pos = info["pos"]
    # every tunnel node except the two portals (shared with the ring) is below street level
    below_ids = set(info["tunnel"][1:-1])
    np.testing.assert_array_equal(~net.ground, np.isin(net.node_id, list(below_ids)))
    assert net.report["nodes_below_street_level"] == len(below_ids)
    x = np.array([430.0, 120.0, 700.0]) + X0
    y = np.array([410.0, 150.0, 395.0]) + Y0
    # the nearest node of any kind of the first cell is a tunnel node ...
    any_dist = np.hypot(net.x - x[0], net.y - y[0])
    assert int(net.node_id[np.argmin(any_dist)]) in below_ids
    s = snap_points(net, x, y, max_dist_m=500)
    assert not s.below_street.any()
    assert net.ground[s.node].all()
    # ... yet it joins the street node at (400, 400), 31.6 m away
    assert int(net.node_id[s.node[0]]) == street_node(pos, 400.0, 400.0)
    assert s.dist_m[0] == pytest.approx(np.hypot(30, 10), abs=0.05)
    node, leg = snap(net, x, y, max_dist_m=500)
    np.testing.assert_array_equal(node, s.node)
    np.testing.assert_array_equal(leg, s.dist_m)

    # a clinic on the street at (405, 600): distance = leg + street path + leg
    fx, fy = np.array([X0 + 405.0]), np.array([Y0 + 600.0])
    f = snap_points(net, fx, fy, max_dist_m=500)
    near = nearest_facilities(net, s.node, s.dist_m, f.node, f.dist_m, ["clinic"])
    g = street_oracle(info, net)
    ground_ids = list(g.nodes)
    gxy = np.array([g.nodes[k]["xy"] for k in ground_ids])
    fac_k = ground_ids[int(np.argmin(np.hypot(gxy[:, 0] - fx[0], gxy[:, 1] - fy[0])))]
    fac_leg = float(np.hypot(*(gxy[ground_ids.index(fac_k)] - [fx[0], fy[0]])))
    for i in range(len(x)):
        d = np.hypot(gxy[:, 0] - x[i], gxy[:, 1] - y[i])
        k = ground_ids[int(np.argmin(d))]
        expected = float(d.min()) + nx.shortest_path_length(g, k, fac_k, weight="weight") \
            + fac_leg
        assert near.cost[0, i] == pytest.approx(expected, abs=1e-6)
    assert near.cost[0, 0] == pytest.approx(np.hypot(30, 10) + 200 + 5, rel=0.01)
    # joined to the tunnel, the same cell would be more than a kilometre from the clinic
    tunnel_node = np.array([int(np.argmin(any_dist))])
    old = nearest_facilities(net, tunnel_node, np.array([any_dist.min()]), f.node, f.dist_m,
                             ["clinic"])
    assert old.cost[0, 0] > 1000


def street_node(pos: dict[int, tuple[float, float]], x: float, y: float) -> int:
    return next(k for k, v in pos.items() if v == (x, y))


def test_fallback_below_street_only_when_no_street_node_in_reach(city) -> None:
    _, path = city
    net = load_network(path, "walk", crs=UTM48, use_cache=False)
    # 8 m from a tunnel node, 100 m from every street node
    x, y = np.array([X0 + 200.0]), np.array([Y0 + 397.0])
    far = snap_points(net, x, y, max_dist_m=500)
    assert net.ground[far.node[0]]
    assert not far.below_street[0]
    near_only = snap_points(net, x, y, max_dist_m=20)
    assert near_only.below_street[0]
    assert not net.ground[near_only.node[0]]
    assert near_only.dist_m[0] == pytest.approx(8.0, abs=0.05)
    none = snap_points(net, x, y, max_dist_m=5)
    assert none.node[0] == -1
    assert not none.below_street[0]


def test_outline_joins_nearest_street_node_to_its_edge(city) -> None:
    info, path = city
    net = load_network(path, "walk", crs=UTM48, use_cache=False)
    # a school ground from (420, 200) to (700, 380): its centre is nearer the tunnel
    poly = shapely.box(X0 + 420, Y0 + 200, X0 + 700, Y0 + 380)
    s = snap_outlines(net, np.array([poly], dtype=object), max_dist_m=500)
    assert int(net.node_id[s.node[0]]) in (street_node(info["pos"], 400.0, 200.0),
                                           street_node(info["pos"], 400.0, 300.0))
    assert s.dist_m[0] == pytest.approx(20.0, abs=0.05)
    assert not s.below_street[0]
    # a polygon holding a street node is reached at that node with no leg
    inside = shapely.box(X0 + 350, Y0 + 50, X0 + 450, Y0 + 150)
    s2 = snap_outlines(net, np.array([inside], dtype=object), max_dist_m=500)
    assert int(net.node_id[s2.node[0]]) == street_node(info["pos"], 400.0, 100.0)
    assert s2.dist_m[0] == 0.0


@pytest.mark.parametrize(("tags", "ground"), [
    ({"highway": "footway"}, True),
    ({"highway": "footway", "tunnel": "yes"}, False),
    ({"highway": "footway", "tunnel": "building_passage"}, False),
    ({"highway": "footway", "tunnel": "no"}, True),
    ({"highway": "service", "layer": "-4"}, False),
    ({"highway": "service", "layer": "1"}, True),
    ({"highway": "corridor", "indoor": "yes"}, False),
    ({"highway": "footway", "location": "underground"}, False),
    ({"highway": "footway", "level": "-1;0"}, False),
    ({"highway": "footway", "level": "0"}, True),
    ({"highway": "footway", "layer": "x"}, True),
])
def test_ground_level_rules(tags: dict[str, str], ground: bool) -> None:
    assert is_ground_level(tags) is ground


def test_polygon_facility_entrance_or_outline(city, tmp_path: Path) -> None:
    """An area with an entrance joins at the entrance; one without, at its edge."""
    info, path = city
    net = load_network(path, "walk", crs=UTM48, use_cache=False)
    nodes = {9001: (420, 200), 9002: (700, 200), 9003: (700, 380), 9004: (420, 380),
             9011: (440, 500), 9012: (700, 500), 9013: (700, 700), 9014: (440, 700),
             9015: (700, 600)}
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", '<osm version="0.6" generator="test">']
    for k, (x, y) in nodes.items():
        lon, lat = _ll(x, y)
        lines.append(f'<node id="{k}" lat="{lat:.7f}" lon="{lon:.7f}" version="1">')
        if k == 9015:
            lines.append('<tag k="entrance" v="main"/>')
        lines.append("</node>")
    for wid, refs in ((1, [9001, 9002, 9003, 9004, 9001]),
                      (2, [9011, 9012, 9015, 9013, 9014, 9011])):
        lines.append(f'<way id="{wid}" version="1">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines.append('<tag k="amenity" v="kindergarten"/><tag k="name" v="幼儿园"/></way>')
    lines.append("</osm>")
    fac_path = tmp_path / "kindergartens.osm"
    fac_path.write_text("\n".join(lines), encoding="utf-8")

    rec = read_osm(fac_path, load_taxonomy(), crs=UTM48).set_index("source_row")
    # no entrance: at the centroid, outline kept; with one: at the entrance, no outline
    assert isinstance(rec.at["w1", "outline"], shapely.Polygon)
    assert rec.at["w2", "outline"] is None
    assert (rec.at["w2", "lon"], rec.at["w2", "lat"]) == pytest.approx(_ll(700, 600), abs=1e-6)

    outlines = load_facilities_outlines(rec)
    x = np.array([X0 + 560.0, X0 + 700.0])
    y = np.array([Y0 + 290.0, Y0 + 600.0])
    cols = snap_to_networks({"walk": net}, x, y, max_dist_m=500, outlines=outlines)
    # the area without an entrance joins the street 20 m west of its edge, though its
    # centre is 30 m from the tunnel below
    assert int(net.node_id[cols["node"][0]]) in (street_node(info["pos"], 400.0, 200.0),
                                                  street_node(info["pos"], 400.0, 300.0))
    assert cols["snap_dist_m"][0] == pytest.approx(20.0, abs=0.05)
    # the entrance joins the nearest street-level node to it: the ring road, 100 m east
    assert int(net.node_id[cols["node"][1]]) == street_node(info["pos"], 800.0, 600.0)
    assert not cols["snap_below_street"].any()


def load_facilities_outlines(rec) -> np.ndarray:
    """Outlines of the records in the test's metric CRS."""
    out = np.full(len(rec), None, dtype=object)
    has = rec["outline"].notna().to_numpy()
    out[has] = gpd.GeoSeries(list(rec["outline"][has]), crs="EPSG:4326").to_crs(UTM48)
    return out
