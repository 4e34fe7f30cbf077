"""Travel distances against independent computations (networkx, scipy) and exact lattices."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from access import _dijkstra
from access.network import StreetNetwork, build_network, load_network, snap
from access.osm import RawArcs
from access.travel import (
    catchment_pairs,
    dist_to_time_min,
    k_nearest_facilities,
    nearest_facilities,
    time_to_dist_m,
)

UTM48 = CRS.from_epsg(32648)


def lattice(n: int, spacing_m: float = 100.0) -> StreetNetwork:
    """An n x n street lattice with arcs of exactly ``spacing_m`` both ways."""
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    ids = (ii * n + jj).ravel()
    u, v = [], []
    for i in range(n):
        for j in range(n):
            if j + 1 < n:
                u.append(i * n + j)
                v.append(i * n + j + 1)
            if i + 1 < n:
                u.append(i * n + j)
                v.append((i + 1) * n + j)
    u, v = np.array(u), np.array(v)
    raw = RawArcs(node_id=ids.astype(np.int64), lon=104.0 + jj.ravel() * 0.001,
                  lat=30.0 + ii.ravel() * 0.001, u=np.concatenate([u, v]),
                  v=np.concatenate([v, u]), length_m=np.full(2 * len(u), spacing_m),
                  speed_kmh=np.full(2 * len(u), np.nan))
    return build_network(raw, mode="walk", crs=UTM48)


def super_source_oracle(net: StreetNetwork, src: np.ndarray, leg: np.ndarray) -> np.ndarray:
    """scipy Dijkstra from a virtual source joined to every facility node by its leg."""
    n = net.n_nodes
    rows = np.concatenate([net.arc_tails(), np.full(len(src), n)])
    cols = np.concatenate([net.indices, src])
    w = np.concatenate([net.length_m, leg])
    w = np.where(w > 0, w, 1e-12)  # scipy drops explicit zeros from sparse matrices
    return dijkstra(csr_matrix((w, (rows, cols)), shape=(n + 1, n + 1)), indices=n)[:n]


def test_lattice_known_answers() -> None:
    n = 9
    net = lattice(n)
    node_of = {int(k): i for i, k in enumerate(net.node_id)}
    fac_ids = np.array([0, 4 * n + 4])  # corner and centre
    fac_node = np.array([node_of[k] for k in fac_ids])
    cell_node = np.arange(net.n_nodes)
    res = nearest_facilities(net, cell_node, np.zeros(net.n_nodes), fac_node,
                             np.array([0.0, 25.0]), ["a", "a"])
    i, j = np.divmod(net.node_id, n)
    expected = np.minimum((i + j) * 100.0, (np.abs(i - 4) + np.abs(j - 4)) * 100.0 + 25.0)
    np.testing.assert_allclose(res.cost[0], expected, atol=1e-9)
    # the facility index says which one is nearest
    nearer_corner = (i + j) * 100.0 < (np.abs(i - 4) + np.abs(j - 4)) * 100.0 + 25.0
    np.testing.assert_array_equal(res.facility[0][nearer_corner], 0)
    np.testing.assert_array_equal(res.facility[0][~nearer_corner], 1)


def test_lattice_k_nearest_and_limit() -> None:
    net = lattice(6)
    node_of = {int(k): i for i, k in enumerate(net.node_id)}
    fac = np.array([node_of[0], node_of[5], node_of[35]])
    origin = np.array([node_of[7]])  # (1, 1)
    cost, which = k_nearest_facilities(net, origin, np.array([10.0]), fac, np.zeros(3), 3)
    np.testing.assert_allclose(cost[0], [210.0, 510.0, 810.0])
    np.testing.assert_array_equal(which[0], [0, 1, 2])
    cost, which = k_nearest_facilities(net, origin, np.array([10.0]), fac, np.zeros(3), 3,
                                       max_cost=600.0)
    np.testing.assert_allclose(cost[0], [210.0, 510.0, np.inf])
    np.testing.assert_array_equal(which[0], [0, 1, -1])


def test_sample_against_networkx(sample_osm: Path) -> None:
    """Nearest-facility distances on the real sample agree with networkx within 0.5 m."""
    net = load_network(sample_osm, "walk")
    rng = np.random.default_rng(7)
    fac_node = rng.choice(net.n_nodes, 40, replace=False)
    fac_leg = rng.uniform(0, 200, 40)
    cats = np.array(["clinic", "school"] * 20, dtype=object)
    origin = rng.choice(net.n_nodes, 300, replace=False)
    origin_leg = rng.uniform(0, 100, 300)
    res = nearest_facilities(net, origin, origin_leg, fac_node, fac_leg, cats)
    g = net.to_networkx()
    for c in ("clinic", "school"):
        sel = np.flatnonzero(cats == c)
        # networkx: a virtual source wired to each facility node by its leg
        g2 = g.copy()
        for f in sel:
            g2.add_edge("src", int(fac_node[f]), length_m=float(fac_leg[f]))
        ref = nx.single_source_dijkstra_path_length(g2, "src", weight="length_m")
        expected = np.array([ref.get(int(o), np.inf) for o in origin]) + origin_leg
        got = res.cost[res.row(c)]
        assert np.max(np.abs(got - expected)) < 0.5
        # the facility reported is one whose own distance matches
        fac = res.facility[res.row(c)]
        assert set(fac.tolist()) <= set(sel.tolist())


def test_sample_against_scipy_all_nodes(sample_osm: Path) -> None:
    net = load_network(sample_osm, "walk")
    rng = np.random.default_rng(3)
    src = rng.choice(net.n_nodes, 25, replace=False)
    leg = rng.uniform(0, 300, 25)
    got, _ = _dijkstra.multi_source(net.indptr, net.indices, net.length_m, src, leg)
    ref = super_source_oracle(net, src, leg)
    assert np.max(np.abs(got - ref)) < 0.5


def test_many_categories_with_and_without_threads(sample_osm: Path) -> None:
    """Categories searched in parallel threads or one after another (a worker of a
    local cluster) give the same labels and nearest sources, each equal to scipy's."""
    net = load_network(sample_osm, "walk")
    rng = np.random.default_rng(11)
    sources = [(rng.choice(net.n_nodes, k, replace=False), rng.uniform(0, 300, k))
               for k in (1, 7, 40)]
    par = _dijkstra.multi_source_many(net.indptr, net.indices, net.length_m, sources,
                                      max_dist=2500.0)
    try:
        _dijkstra.use_threads(False)
        ser = _dijkstra.multi_source_many(net.indptr, net.indices, net.length_m, sources,
                                          max_dist=2500.0)
    finally:
        _dijkstra.use_threads(True)
    np.testing.assert_array_equal(ser[0], par[0])
    np.testing.assert_array_equal(ser[1], par[1])
    for c, (src, leg) in enumerate(sources):
        ref = super_source_oracle(net, src, leg)
        ref = np.where(ref <= 2500.0, ref, np.inf)
        np.testing.assert_allclose(ser[0][c], ref, atol=0.5)


def test_pruned_search_gives_the_same_answers(sample_osm: Path) -> None:
    """A search told the straight-line lower bound to a box of origins (a partition's
    own cells in a wider network) gives those origins the costs and nearest
    facilities of the search without it, by walking and by car, while setting fewer
    labels."""
    from lifecircle.routing import cells_lower_bound

    rng = np.random.default_rng(5)
    for mode, weight, limit in (("walk", "length_m", 1500.0), ("drive", "time_s", 240.0)):
        net = load_network(sample_osm, mode)
        cx, cy = np.median(net.x), np.median(net.y)
        inner = np.flatnonzero((np.abs(net.x - cx) < 800) & (np.abs(net.y - cy) < 800))
        origins = rng.choice(inner, min(300, len(inner)), replace=False)
        leg = rng.uniform(0, 50, len(origins))
        fac = rng.choice(net.n_nodes, 60, replace=False)
        cat = np.array(["a", "b", "c"] * 20, dtype=object)
        bound = cells_lower_bound(net, origins, weight)
        assert (bound[origins] == 0).all()
        assert bound.max() > 0
        kw = {"max_cost": limit, "weight": weight, "leg_speed_kmh": 15.0}
        fac_leg = rng.uniform(0, 30, 60)
        full = nearest_facilities(net, origins, leg, fac, fac_leg, cat, **kw)
        pruned = nearest_facilities(net, origins, leg, fac, fac_leg, cat, **kw,
                                    lower_bound=bound)
        assert np.isfinite(full.cost).any()
        np.testing.assert_array_equal(pruned.cost, full.cost)
        np.testing.assert_array_equal(pruned.facility, full.facility)
        w = net.weights(weight)
        d_full, _ = _dijkstra.multi_source(net.indptr, net.indices, w, fac, np.zeros(60),
                                           max_dist=limit)
        d_pruned, _ = _dijkstra.multi_source_many(net.indptr, net.indices, w,
                                                  [(fac, np.zeros(60))], max_dist=limit,
                                                  lower=bound)
        assert np.isfinite(d_pruned).sum() < np.isfinite(d_full).sum()
        np.testing.assert_array_equal(d_pruned[0][origins], d_full[origins])


def test_k_nearest_against_scipy(sample_osm: Path) -> None:
    net = load_network(sample_osm, "walk")
    rng = np.random.default_rng(11)
    src = rng.choice(net.n_nodes, 30, replace=False)
    leg = rng.uniform(0, 100, 30)
    w = np.where(net.length_m > 0, net.length_m, 1e-12)
    full = dijkstra(csr_matrix((w, (net.arc_tails(), net.indices)),
                               shape=(net.n_nodes, net.n_nodes)), indices=src) + leg[:, None]
    origin = np.arange(net.n_nodes)
    cost, which = k_nearest_facilities(net, origin, np.zeros(net.n_nodes), src, leg, 4)
    ref = np.sort(full, axis=0)[:4].T
    assert np.max(np.abs(cost - ref)) < 0.5
    # reported facilities are distinct and their distances match
    picked = full[which, origin[:, None]]
    assert np.max(np.abs(picked - cost)) < 0.5
    assert all(len(set(r)) == 4 for r in which.tolist())


def test_catchments_against_scipy(sample_osm: Path) -> None:
    net = load_network(sample_osm, "walk")
    rng = np.random.default_rng(5)
    fac = rng.choice(net.n_nodes, 12, replace=False)
    fleg = rng.uniform(0, 50, 12)
    origin = rng.choice(net.n_nodes, 2000)  # repeated nodes on purpose
    oleg = rng.uniform(0, 80, 2000)
    f, o, d = catchment_pairs(net, fac, fleg, origin, oleg, max_dist_m=800.0)
    w = np.where(net.length_m > 0, net.length_m, 1e-12)
    full = dijkstra(csr_matrix((w, (net.arc_tails(), net.indices)),
                               shape=(net.n_nodes, net.n_nodes)), indices=fac)
    total = full[:, origin] + fleg[:, None] + oleg[None, :]
    ref_f, ref_o = np.nonzero(total <= 800.0)
    assert len(f) == len(ref_f)
    np.testing.assert_array_equal(f, ref_f)
    np.testing.assert_array_equal(o, ref_o)
    assert np.max(np.abs(d - total[ref_f, ref_o])) < 0.5


def test_unreachable_origins_and_empty_category(sample_osm: Path) -> None:
    net = load_network(sample_osm, "walk")
    node, leg = snap(net, np.array([net.x[10], net.x[10] + 5e4]),
                     np.array([net.y[10], net.y[10]]), max_dist_m=500)
    res = nearest_facilities(net, node, leg, np.array([10]), np.array([0.0]), ["a"],
                             categories=["a", "b"])
    assert res.cost[0, 0] == pytest.approx(0.0)
    assert np.isinf(res.cost[0, 1])
    assert res.facility[0, 1] == -1
    assert np.isinf(res.cost[1]).all()
    assert (res.facility[1] == -1).all()


def test_deterministic_routing(sample_osm: Path) -> None:
    net = load_network(sample_osm, "walk")
    rng = np.random.default_rng(1)
    fac = rng.choice(net.n_nodes, 50)
    cats = rng.choice(["a", "b", "c"], 50)
    runs = [nearest_facilities(net, np.arange(net.n_nodes), np.zeros(net.n_nodes), fac,
                               np.zeros(50), cats) for _ in range(3)]
    for r in runs[1:]:
        np.testing.assert_array_equal(r.cost, runs[0].cost)
        np.testing.assert_array_equal(r.facility, runs[0].facility)


def test_speed_conversions() -> None:
    assert time_to_dist_m(15, 4.0) == pytest.approx(1000.0)
    assert dist_to_time_min(1000.0, 4.0) == pytest.approx(15.0)
    assert dist_to_time_min(800.0, 3.2) == pytest.approx(15.0)
    with pytest.raises(ValueError, match="speed_kmh"):
        dist_to_time_min(1.0, 0.0)


@st.composite
def random_graph(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    n = draw(st.integers(2, 40))
    m = draw(st.integers(1, 120))
    u = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)))
    v = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)))
    w = np.array(draw(st.lists(st.floats(0, 500, allow_nan=False), min_size=m, max_size=m)))
    keep = u != v
    return u[keep], v[keep], w[keep], n


@settings(max_examples=150, deadline=None)
@given(g=random_graph(), data=st.data(), delta=st.sampled_from([None, 0.5, 7.0, 250.0]),
       limit=st.sampled_from([np.inf, 300.0]))
def test_multi_source_property(g, data, delta, limit) -> None:
    """Any graph, any bucket width, any limit: the same as scipy's Dijkstra."""
    u, v, w, n = g
    order = np.lexsort((w, v, u))
    u, v, w = u[order], v[order], w[order]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    k = data.draw(st.integers(1, n))
    src = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)))
    leg = np.array(data.draw(st.lists(st.floats(0, 900, allow_nan=False), min_size=k,
                                      max_size=k)))
    got, near = _dijkstra.multi_source(indptr, v.astype(np.int32), w, src, leg,
                                       max_dist=limit, delta=delta)
    # networkx as the oracle: exact with zero weights; a virtual source "s" wired to each
    # source node by its leg; parallel arcs added longest first so the shortest stays
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    arcs = [(int(a), int(b), float(c)) for a, b, c in zip(u, v, w, strict=True)]
    arcs += [("s", int(a), float(c)) for a, c in zip(src, leg, strict=True)]
    for a, b, c in sorted(arcs, key=lambda t: -t[2]):
        g.add_edge(a, b, w=c)
    lengths = nx.single_source_dijkstra_path_length(g, "s", weight="w")
    ref = np.array([lengths.get(i, np.inf) for i in range(n)])
    ref = np.where(ref <= limit, ref, np.inf)
    np.testing.assert_allclose(got, ref, atol=1e-6)
    reached = np.isfinite(got)
    assert (near[reached] >= 0).all()
    assert (near[~reached] == -1).all()
