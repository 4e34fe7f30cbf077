"""Street networks to and from osmnx, GraphML and pandana.

Notebook users often hold a network already: an osmnx graph (``graph_from_xml``,
``graph_from_place`` done elsewhere, ``load_graphml``), or a pandana/UrbanAccess
network stored as HDF5. These functions turn them into a
:class:`~access.network.StreetNetwork`, the CSR graph every routing function of
lifecircle takes, and back.

An osmnx graph keeps the OSM way tags it was built with (``highway``, ``access``,
``oneway``, ``maxspeed``...). :func:`network_from_osmnx` applies lifecircle's own
mode filter to those tags (so a graph built without a filter, as ``graph_from_xml``
builds it, loses its motorways for walking and e-bikes) and its own speed rules for
driving and riding an e-bike, so a graph from the same OSM file gives the same
network as :func:`lifecircle.load_network`. Directions are the graph's own: osmnx
has already turned one-way rules into directed edges (its rules, for cars).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from pyproj import CRS, Transformer

from access.crs import WGS84, utm_crs_for_lonlat
from access.errors import InputFileError, NoCrsError
from access.i18n import say
from access.network import StreetNetwork, build_network
from access.osm import (
    EBIKE_HIGHWAY_SPEED_KMH,
    MODES,
    RawArcs,
    drive_directions,
    drive_speed_kmh,
    ebike_directions,
    ebike_speed_kmh,
    haversine_m,
    walk_allowed,
)

__all__ = ["network_from_graphml", "network_from_osmnx", "network_from_pandana",
           "network_to_osmnx"]

log = logging.getLogger(__name__)

#: Way tags a graph edge may carry that the mode filters read.
_FILTER_TAGS = ("highway", "access", "foot", "service", "area", "oneway", "junction",
                "motor_vehicle", "motorcar", "maxspeed", "bicycle", "tunnel", "layer",
                "indoor", "location", "motorroad", "vehicle", "cycleway")


def _tag(value: Any) -> str | None:
    """An osmnx edge attribute as one OSM tag value (osmnx lists merged values)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, list | tuple):
        return str(value[0]) if value else None
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _graph_crs(G: nx.Graph, crs: Any) -> CRS:
    found = G.graph.get("crs")
    if found is None and crs is None:
        raise NoCrsError("the graph records no CRS (G.graph['crs']); pass crs=...",
                         column="crs")
    if found is not None and crs is not None and CRS.from_user_input(found) != \
            CRS.from_user_input(crs):
        raise NoCrsError(f"crs={crs!r} contradicts the graph's own CRS {found!r}", column="crs")
    return CRS.from_user_input(found if found is not None else crs)


def network_from_osmnx(G: nx.MultiDiGraph, *, mode: str = "walk", crs: Any = None,
                       metric_crs: CRS | None = None, filter_ways: bool = True,
                       source: str = "osmnx") -> StreetNetwork:
    """A :class:`~access.network.StreetNetwork` from an osmnx graph.

    Parameters
    ----------
    G
        An osmnx ``MultiDiGraph`` (projected or not): nodes with ``x``/``y``, edges
        with ``length`` in metres or, failing that, measured here on the sphere.
    mode
        ``"walk"``, ``"ebike"`` or ``"drive"``. An e-bike network keeps the edges
        :func:`access.osm.ebike_directions` allows (no motorways or expressways,
        no ``bicycle=no``, footways only where bicycles may go) at the speeds of
        :func:`access.osm.ebike_speed_kmh`; the graph's ``speed_kph`` (car
        speeds) is not used.
    crs
        The CRS of the node coordinates, only if ``G.graph`` records none.
    metric_crs
        Metric CRS of the result; None picks the UTM zone of the graph's centre.
    filter_ways
        Apply lifecircle's way filter and speed rules for ``mode`` to the edges'
        tags (edges without a ``highway`` tag are dropped, as in an OSM file). Give
        False for a graph that carries no OSM tags.
    source
        Name recorded as the network's source.

    Returns
    -------
    StreetNetwork
        Largest connected component, nodes numbered in spatial order.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if G.number_of_nodes() == 0:
        raise InputFileError("the graph has no nodes", path=source)
    src = _graph_crs(G, crs)
    nodes = list(G.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    x = np.fromiter((float(G.nodes[n]["x"]) for n in nodes), float, len(nodes))
    y = np.fromiter((float(G.nodes[n]["y"]) for n in nodes), float, len(nodes))
    if src.is_geographic:
        lon, lat = x, y
    else:
        lon, lat = Transformer.from_crs(src, WGS84, always_xy=True).transform(x, y)
        lon, lat = np.asarray(lon), np.asarray(lat)
    us: list[int] = []
    vs: list[int] = []
    lengths: list[float] = []
    speeds: list[float] = []
    seen: set[tuple[int, int, Any]] = set()
    for u, v, k, data in G.edges(keys=True, data=True):
        tags = {t: s for t in _FILTER_TAGS if (s := _tag(data.get(t))) is not None}
        # osmnx stores the one-way rule as a bool after building directed edges
        tags.pop("oneway", None)
        length = data.get("length")
        length_m = float(length) if length is not None else float(
            haversine_m(lon[index[u]], lat[index[u]], lon[index[v]], lat[index[v]]))
        if mode == "walk":
            if filter_ways and not walk_allowed(tags):
                continue
            # walking ignores one-way rules: every street can be walked both ways
            for a, b in ((u, v), (v, u)):
                key = (index[a], index[b], k)
                if key not in seen:
                    seen.add(key)
                    us.append(index[a])
                    vs.append(index[b])
                    lengths.append(length_m)
                    speeds.append(np.nan)
        elif mode == "ebike":
            if filter_ways and not ebike_directions(tags)[0]:
                continue
            if "highway" not in tags:
                raise InputFileError(
                    f"edge ({u}, {v}) has no 'highway' tag: an e-bike network needs the "
                    "OSM way tags", path=source)
            us.append(index[u])
            vs.append(index[v])
            lengths.append(length_m)
            # unfiltered, a class the e-bike table lacks rides at the table's top speed
            speeds.append(ebike_speed_kmh(tags) if tags["highway"] in EBIKE_HIGHWAY_SPEED_KMH
                          else max(EBIKE_HIGHWAY_SPEED_KMH.values()))
        else:
            speed = data.get("speed_kph")
            if filter_ways:
                fwd, _ = drive_directions(tags)
                if not fwd:
                    continue
                if speed is None:
                    speed = drive_speed_kmh(tags)
            if speed is None:
                raise InputFileError(
                    f"edge ({u}, {v}) has no 'speed_kph' and no 'highway' tag to take a "
                    "speed from; run osmnx.routing.add_edge_speeds(G) first", path=source)
            us.append(index[u])
            vs.append(index[v])
            lengths.append(length_m)
            speeds.append(float(speed))
    if not us:
        raise InputFileError(
            f"no edge of the graph is usable for '{mode}'"
            + (" (none passes the OSM way filter; give filter_ways=False for a graph "
               "without OSM tags)" if filter_ways else ""), path=source)
    node_id = np.fromiter((int(n) if str(n).lstrip("-").isdigit() else i
                           for i, n in enumerate(nodes)), np.int64, len(nodes))
    raw = RawArcs(node_id=node_id, lon=lon, lat=lat, u=np.asarray(us, np.int64),
                  v=np.asarray(vs, np.int64), length_m=np.asarray(lengths, float),
                  speed_kmh=np.asarray(speeds, float), ways_used=0, missing_refs=0,
                  ways_by_highway={})
    keep = raw.u != raw.v
    if not keep.all():
        raw = RawArcs(node_id=raw.node_id, lon=raw.lon, lat=raw.lat, u=raw.u[keep],
                      v=raw.v[keep], length_m=raw.length_m[keep],
                      speed_kmh=raw.speed_kmh[keep], ways_used=0, missing_refs=0,
                      ways_by_highway={})
    if metric_crs is None:
        metric_crs = utm_crs_for_lonlat(lon, lat)
    log.info(say("log_graph_network", source=source, nodes=len(nodes),
                 edges=G.number_of_edges(), mode=say(mode), crs=metric_crs.to_string()))
    return build_network(raw, mode=mode, crs=metric_crs, source=source)


def network_from_graphml(path: str | Path, *, mode: str = "walk", crs: Any = None,
                         metric_crs: CRS | None = None,
                         filter_ways: bool = True) -> StreetNetwork:
    """A network from a GraphML file saved by osmnx (``osmnx.save_graphml``).

    GraphML stores every attribute as text; node ``x``/``y`` and edge ``length``
    and ``speed_kph`` are read as numbers. See :func:`network_from_osmnx`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError("file not found", path=path)
    try:
        G = nx.read_graphml(path, force_multigraph=True)
    except Exception as exc:  # networkx raises several parser errors
        raise InputFileError(f"cannot read as GraphML ({exc})", path=path) from exc
    for _, d in G.nodes(data=True):
        for k in ("x", "y"):
            if k not in d:
                raise InputFileError(f"a node has no '{k}' attribute", path=path, column=k)
            d[k] = float(d[k])
    for _, _, d in G.edges(data=True):
        for k in ("length", "speed_kph"):
            if k in d:
                d[k] = float(d[k])
    return network_from_osmnx(G, mode=mode, crs=crs, metric_crs=metric_crs,
                              filter_ways=filter_ways, source=path.name)


def network_to_osmnx(network: StreetNetwork) -> nx.MultiDiGraph:
    """The network as an osmnx-style ``MultiDiGraph`` in its metric CRS.

    Nodes are keyed by OSM node id with ``x``/``y`` (metres), ``lon``/``lat``;
    edges carry ``length`` (metres) and, for driving, ``travel_time`` (seconds)
    and ``speed_kph``. ``G.graph["crs"]`` is the metric CRS, so osmnx functions
    that expect a projected graph accept it.
    """
    G = nx.MultiDiGraph(crs=network.crs.to_string(), mode=network.mode,
                        source=network.source)
    ids = network.node_id.tolist()
    G.add_nodes_from((ids[i], {"x": float(network.x[i]), "y": float(network.y[i]),
                               "lon": float(network.lon[i]), "lat": float(network.lat[i])})
                     for i in range(network.n_nodes))
    tails = network.arc_tails()
    heads = network.indices
    for j in range(network.n_arcs):
        attrs: dict[str, float] = {"length": float(network.length_m[j])}
        if network.time_s is not None:
            attrs["travel_time"] = float(network.time_s[j])
            attrs["speed_kph"] = float(network.length_m[j] / network.time_s[j] * 3.6) \
                if network.time_s[j] > 0 else 0.0
        G.add_edge(ids[tails[j]], ids[heads[j]], **attrs)
    return G


def network_from_pandana(net: Any, *, crs: Any, weight: str | None = None) -> StreetNetwork:
    """A walking network from a pandana ``Network`` (e.g. ``pandana.Network.from_hdf5(path)``).

    Parameters
    ----------
    net
        A pandana network, or a mapping with its ``nodes_df`` (``x``, ``y``) and
        ``edges_df`` (``from``, ``to`` and one weight column).
    crs
        CRS of the node coordinates (pandana records none).
    weight
        Edge column holding lengths in metres; default the first weight column.
        Edges are walked both ways, as pandana's two-way networks are.
    """
    nodes = net["nodes_df"] if isinstance(net, Mapping) else net.nodes_df
    edges = net["edges_df"] if isinstance(net, Mapping) else net.edges_df
    wcol = weight or next(c for c in edges.columns if c not in ("from", "to"))
    G = nx.MultiDiGraph(crs=crs)
    G.add_nodes_from((int(i), {"x": float(x), "y": float(y)}) for i, x, y in
                     zip(nodes.index, nodes["x"], nodes["y"], strict=True))
    G.add_edges_from((int(f), int(t), {"length": float(w)}) for f, t, w in
                     zip(edges["from"], edges["to"], edges[wcol], strict=True))
    return network_from_osmnx(G, mode="walk", filter_ways=False, source="pandana")
