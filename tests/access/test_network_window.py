"""Windowed reads of network cache entries: the same network as clipping the whole one."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from access import network as network_mod
from access.network import StreetNetwork, cache_networks, load_network, open_cached

#: Every array of a network (a cache entry also holds its window index).
ARRAYS = network_mod._NET_ARRAYS


def assert_same(a: StreetNetwork, b: StreetNetwork) -> None:
    assert (a.mode, a.crs, a.source, a.source_sha256) == (b.mode, b.crs, b.source,
                                                          b.source_sha256)
    assert a.report == b.report
    for name in ARRAYS:
        va, vb = getattr(a, name), getattr(b, name)
        if va is None or vb is None:
            assert va is None, name
            assert vb is None, name
            continue
        assert type(va) is np.ndarray, name  # a copy, not a view of the file
        assert va.dtype == vb.dtype, name
        np.testing.assert_array_equal(va, vb, err_msg=name)


def boxes(net: StreetNetwork, n: int, seed: int) -> list[tuple[float, float, float, float]]:
    """Random boxes over the network's extent, the whole extent, a box with no node and
    one that is a single node's point."""
    rng = np.random.default_rng(seed)
    lo0, lo1, la0, la1 = net.lon.min(), net.lon.max(), net.lat.min(), net.lat.max()
    out = []
    for _ in range(n):
        a, b = np.sort(rng.uniform(lo0, lo1, 2))
        c, d = np.sort(rng.uniform(la0, la1, 2))
        out.append((float(a), float(c), float(b), float(d)))
    i = int(rng.integers(net.n_nodes))
    out += [(float(lo0), float(la0), float(lo1), float(la1)),
            (float(lo1) + 1, float(la1) + 1, float(lo1) + 2, float(la1) + 2),
            (float(net.lon[i]), float(net.lat[i]), float(net.lon[i]), float(net.lat[i]))]
    return out


@pytest.mark.parametrize("block_nodes", [16, 4096])
@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_window_equals_clip(mode: str, block_nodes: int, cache: Path, sample_osm: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network_mod, "BLOCK_NODES", block_nodes)
    whole = load_network(sample_osm, mode, use_cache=False)
    assert cache_networks(sample_osm, [mode], crs=whole.crs) == [mode]
    opened = open_cached(whole.source_sha256, mode, whole.crs)
    assert opened is not None
    assert (opened.n_nodes, opened.n_arcs) == (whole.n_nodes, whole.n_arcs)
    weights = ["length_m"] + (["time_s"] if mode == "drive" else [])
    for w in weights:
        assert opened.min_cost_per_m(w) == whole.min_cost_per_m(w) > 0
    sizes = []
    for box in boxes(whole, 25, seed=7):
        part = opened.window(box)
        assert_same(part, whole.clip(box))
        sizes.append(part.n_nodes)
    assert 0 in sizes
    assert whole.n_nodes in sizes
    assert max(sizes[:25]) > 0


def test_min_cost_per_m_is_a_lower_bound(sample_osm: Path) -> None:
    """No arc costs less per metre of straight line, and some arc costs exactly that."""
    net = load_network(sample_osm, "drive", use_cache=False)
    tail, head = net.arc_tails(), net.indices
    span = np.hypot(net.x[head] - net.x[tail], net.y[head] - net.y[tail])
    for w in ("length_m", "time_s"):
        ratio = net.weights(w)[span > 0] / span[span > 0]
        assert net.min_cost_per_m(w) == pytest.approx(ratio.min(), rel=0, abs=0)
        assert (ratio >= net.min_cost_per_m(w)).all()
    # arc lengths are along the ellipsoid, spans in UTM metres: within its scale factor
    assert net.min_cost_per_m("length_m") >= 0.99


def test_changed_entry_is_found_and_rebuilt(cache: Path, sample_osm: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """A valid archive whose lengths changed opens for windows (the key is right), but
    cache_networks finds it by its checksum, says so, and rebuilds it."""
    whole = load_network(sample_osm, "walk", use_cache=False)
    cache_networks(sample_osm, ["walk"], crs=whole.crs)
    entry, = cache.glob("network-*.npz")
    with np.load(entry) as z:
        data = {k: z[k] for k in z.files}
    data["length_m"] = data["length_m"] * 0.1
    np.savez(entry, **data)
    assert open_cached(whole.source_sha256, "walk", whole.crs) is not None
    with caplog.at_level(logging.WARNING, logger="access.network"):
        assert cache_networks(sample_osm, ["walk"], crs=whole.crs) == ["walk"]
    assert any("not usable" in r.msg.text("en") for r in caplog.records)
    opened = open_cached(whole.source_sha256, "walk", whole.crs)
    assert opened is not None
    opened.verify()
    box = (float(whole.lon.min()), float(whole.lat.min()), float(whole.lon.max()),
           float(whole.lat.max()))
    assert_same(opened.window(box), whole.clip(box))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="access.network"):
        assert cache_networks(sample_osm, ["walk"], crs=whole.crs) == []
    assert not caplog.records


@pytest.mark.parametrize("damage", ["truncate", "compressed", "other_mode", "empty"])
def test_unreadable_entry_is_not_opened(damage: str, cache: Path, sample_osm: Path) -> None:
    whole = load_network(sample_osm, "walk", use_cache=False)
    cache_networks(sample_osm, ["walk"], crs=whole.crs)
    entry, = cache.glob("network-*.npz")
    raw = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(raw[: len(raw) // 2])
    elif damage == "empty":
        entry.write_bytes(b"")
    else:
        with np.load(entry) as z:
            data = {k: z[k] for k in z.files}
        if damage == "compressed":
            np.savez_compressed(entry, **data)
        else:
            data["meta"] = np.array(str(data["meta"]).replace('"walk"', '"drive"'))
            np.savez(entry, **data)
    assert open_cached(whole.source_sha256, "walk", whole.crs) is None
    assert cache_networks(sample_osm, ["walk"], crs=whole.crs) == ["walk"]
    assert open_cached(whole.source_sha256, "walk", whole.crs) is not None
