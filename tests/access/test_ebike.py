"""The e-bike (电动自行车) network: which ways it uses, its speeds, and routing on it.

The arc count on the bundled sample is checked against a filter written here from
the rules stated in ``access/catalogue/modes.toml``, reading the file with pyosmium
independently of :mod:`access.osm`. Routing is checked against networkx.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest

from access.modes import MODES, TIME_MODES, load_modes
from access.network import load_network
from access.osm import ebike_directions, ebike_speed_kmh, read_arcs
from access.travel import nearest_facilities
from tests.conftest import write_osm

# The stated rules, written out again: the ridden highway classes ...
RIDDEN = {"trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link",
          "tertiary", "tertiary_link", "unclassified", "residential", "road",
          "living_street", "service", "cycleway", "track", "path", "footway", "pedestrian"}
BIKE_OK = {"yes", "designated", "permissive", "official"}


def expected_directions(t: dict[str, str]) -> int:
    """Number of directions an e-bike may ride a way (0, 1 or 2)."""
    hw = t.get("highway", "")
    if hw not in RIDDEN or t.get("area") == "yes":
        return 0
    b = t.get("bicycle", "")
    if b in ("no", "use_sidepath") or t.get("motorroad") == "yes":
        return 0
    if hw in ("footway", "pedestrian") and b not in BIKE_OK:
        return 0
    if (t.get("access") in ("no", "private") or t.get("vehicle") in ("no", "private")
            or t.get("service") == "private") and b not in BIKE_OK:
        return 0
    if t.get("oneway:bicycle") == "no" or t.get("cycleway", "").startswith("opposite"):
        return 2
    if t.get("oneway") in ("yes", "true", "1", "-1", "reverse"):
        return 1
    if t.get("junction") in ("roundabout", "circular") and t.get("oneway") != "no":
        return 1
    return 2


def test_sample_arcs_match_an_independent_tag_filter(sample_osm: Path) -> None:
    n_arcs = 0
    forbidden_seen = motorway_seen = 0
    for way in osmium.FileProcessor(str(sample_osm), osmium.osm.WAY | osmium.osm.NODE) \
            .with_locations().with_filter(osmium.filter.EntityFilter(osmium.osm.WAY)):
        t = dict(way.tags)
        if "highway" not in t:
            continue
        forbidden_seen += t.get("bicycle") == "no"
        motorway_seen += t["highway"] in ("motorway", "motorway_link")
        k = expected_directions(t)
        refs = [n.ref for n in way.nodes if n.location.valid()]
        # consecutive distinct nodes make one arc per direction
        n_arcs += k * sum(a != b for a, b in itertools.pairwise(refs))
    assert forbidden_seen > 0
    assert motorway_seen > 0
    raw = read_arcs(sample_osm, "ebike")
    assert len(raw.u) == n_arcs
    assert not {"motorway", "motorway_link"} & set(raw.ways_by_highway)
    # the network built from it keeps every ridden class, strongly connected
    net = load_network(sample_osm, "ebike")
    assert net.time_s is not None
    assert net.n_arcs <= n_arcs
    assert set(net.report["ways_by_highway"]) <= RIDDEN


@pytest.mark.parametrize(("tags", "dirs"), [
    ({"highway": "motorway"}, (False, False)),
    ({"highway": "trunk", "motorroad": "yes"}, (False, False)),
    ({"highway": "primary", "bicycle": "no"}, (False, False)),
    ({"highway": "footway"}, (False, False)),
    ({"highway": "footway", "bicycle": "yes"}, (True, True)),
    ({"highway": "track"}, (True, True)),
    ({"highway": "path", "access": "no"}, (False, False)),
    ({"highway": "path", "access": "no", "bicycle": "designated"}, (True, True)),
    ({"highway": "residential", "oneway": "yes"}, (True, False)),
    ({"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}, (True, True)),
    ({"highway": "secondary", "oneway": "-1"}, (False, True)),
    ({"highway": "steps"}, (False, False)),
])
def test_ebike_directions(tags, dirs) -> None:
    assert ebike_directions(tags) == dirs


def test_ebike_speed_table_capped_by_maxspeed() -> None:
    assert ebike_speed_kmh({"highway": "primary"}) == 15.0
    assert ebike_speed_kmh({"highway": "track"}) == 12.0
    assert ebike_speed_kmh({"highway": "residential", "maxspeed": "10"}) == 10.0
    assert ebike_speed_kmh({"highway": "primary", "maxspeed": "60"}) == 15.0
    assert ebike_speed_kmh({"highway": "primary", "maxspeed": "5 mph"}) == pytest.approx(8.04672)
    assert ebike_speed_kmh({"highway": "primary", "maxspeed": "none"}) == 15.0


def test_mode_table() -> None:
    assert set(MODES) == {"walk", "ebike", "drive"}
    assert TIME_MODES == ("ebike", "drive")
    assert "motorway" not in MODES["ebike"].speed_kmh
    assert all(v <= 25.0 for v in MODES["ebike"].speed_kmh.values())  # GB 17761-2018


def test_bad_mode_table(tmp_path: Path) -> None:
    p = tmp_path / "modes.toml"
    p.write_text('[ebike]\nname_zh = "x"\nname_en = "x"\nweight = "time_s"\n'
                 'leg_speed_kmh = 10\nmax_time_min = 60\n[ebike.speed_kmh]\nprimary = -1\n',
                 encoding="utf-8")
    with pytest.raises(ValueError, match="primary"):
        load_modes(p)


def test_small_file_times_by_hand(tmp_path: Path) -> None:
    """1 km of primary (15 km/h) then 0.5 km of track capped at 6 km/h: 4 + 5 minutes."""
    # 0.009 degrees of latitude = 1000.8 m on the sphere used by access.osm
    nodes = {1: (104.0, 30.0), 2: (104.0, 30.009), 3: (104.0, 30.0135),
             4: (104.001, 30.0), 5: (104.001, 30.009)}
    ways = [([1, 2], {"highway": "primary"}),
            ([2, 3], {"highway": "track", "maxspeed": "6"}),
            ([4, 5], {"highway": "motorway"}),
            ([1, 4], {"highway": "footway"}),
            ([5, 2], {"highway": "primary", "bicycle": "no"})]
    path = write_osm(tmp_path / "t.osm", nodes, ways)
    net = load_network(path, "ebike", use_cache=False)
    assert net.n_nodes == 3
    g = net.to_networkx("time_s")
    idx = {int(k): i for i, k in enumerate(net.node_id)}
    t = nx.shortest_path_length(g, idx[1], idx[3], weight="time_s")
    d1 = net.length_m.sum() / 2  # both directions of both ways
    assert t == pytest.approx((1000.8 / (15 / 3.6)) + (d1 - 1000.8) / (6 / 3.6), rel=1e-3)
    assert t / 60 == pytest.approx(4.0 + 5.0, abs=0.05)


def test_ebike_routing_against_networkx(sample_osm: Path) -> None:
    net = load_network(sample_osm, "ebike")
    rng = np.random.default_rng(11)
    fac_node = rng.choice(net.n_nodes, 30, replace=False)
    fac_leg = rng.uniform(0, 200, 30)
    cats = np.array(["clinic", "school", "park"] * 10, dtype=object)
    origin = rng.choice(net.n_nodes, 300, replace=False)
    origin_leg = rng.uniform(0, 150, 300)
    leg_kmh = MODES["ebike"].leg_speed_kmh
    res = nearest_facilities(net, origin, origin_leg, fac_node, fac_leg, cats,
                             weight="time_s", leg_speed_kmh=leg_kmh)
    g = net.to_networkx("time_s")
    for c in ("clinic", "school", "park"):
        sel = np.flatnonzero(cats == c)
        # a virtual source joined to each facility node by its leg: the engine searches
        # outward from the facilities along the arcs' own direction (one-way rules kept)
        rg = g.copy()
        for f in sel:
            rg.add_edge("src", int(fac_node[f]), time_s=float(fac_leg[f]) / (leg_kmh / 3.6))
        ref = nx.single_source_dijkstra_path_length(rg, "src", weight="time_s")
        expected = np.array([ref.get(int(o), np.inf) for o in origin]) \
            + origin_leg / (leg_kmh / 3.6)
        got = res.cost[res.row(c)]
        assert np.all(np.isfinite(got) == np.isfinite(expected))
        fin = np.isfinite(expected)
        assert np.max(np.abs(got[fin] - expected[fin])) < 0.05
