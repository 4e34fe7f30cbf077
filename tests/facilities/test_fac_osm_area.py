"""Outline areas of OSM facilities (area_m2), kept before the outline becomes a point."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from access.rejects import RejectLog
from facilities import FACILITY_COLUMNS, load_facilities, parse_facility_sources
from facilities.read_osm import read_osm

X0, Y0 = 404_000.0, 3_396_000.0  # metres in the Chengdu UTM zone (48N)


def _grounds(path: Path, crs) -> Path:
    """A 40 x 60 m pitch, a 50 x 50 m pitch with an entrance, a 30 x 100 m sports
    centre as a multipolygon, a fitness station node and an open-way track."""
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    nodes: dict[int, tuple[float, float]] = {}
    nid = 1

    def rect(x0, y0, w, h):
        nonlocal nid
        ids = []
        for dx, dy in [(0, 0), (w, 0), (w, h), (0, h)]:
            nodes[nid] = to_ll.transform(x0 + dx, y0 + dy)
            ids.append(nid)
            nid += 1
        return [*ids, ids[0]]

    pitch = rect(X0, Y0, 40, 60)
    gate = rect(X0 + 200, Y0, 50, 50)
    centre = rect(X0 + 400, Y0, 30, 100)
    nodes[900] = to_ll.transform(X0 + 600, Y0)
    nodes[901] = to_ll.transform(X0 + 700, Y0)
    nodes[902] = to_ll.transform(X0 + 700, Y0 + 80)
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", '<osm version="0.6" generator="test">']
    for i, (lon, lat) in nodes.items():
        tags = {gate[0]: '<tag k="entrance" v="main"/>',
                900: '<tag k="leisure" v="fitness_station"/>'}.get(i, "")
        lines.append(f'  <node id="{i}" lat="{lat:.8f}" lon="{lon:.8f}" version="1">{tags}</node>')

    def way(wid, refs, tags):
        lines.extend([f'  <way id="{wid}" version="1">', *(f'    <nd ref="{r}"/>' for r in refs),
                      *(f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()), "  </way>"])

    way(1, pitch, {"leisure": "pitch", "sport": "basketball"})
    way(2, gate, {"leisure": "pitch"})
    way(3, centre, {})
    way(4, [901, 902], {"leisure": "track"})
    lines += ['  <relation id="1" version="1">', '    <member type="way" ref="3" role="outer"/>',
              '    <tag k="type" v="multipolygon"/>', '    <tag k="leisure" v="sports_centre"/>',
              "  </relation>", "</osm>"]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_outline_areas(tmp_path, taxonomy, chengdu_crs):
    rec = read_osm(_grounds(tmp_path / "g.osm", chengdu_crs), taxonomy,
                   crs=chengdu_crs).set_index("source_row")
    assert rec.loc["w1", "area_m2"] == pytest.approx(2400, abs=1)
    # placed at its entrance, its area is kept all the same
    assert rec.loc["w2", "area_m2"] == pytest.approx(2500, abs=1)
    assert rec.loc["r1", "category"] == "sports_centre"
    assert rec.loc["r1", "area_m2"] == pytest.approx(3000, abs=1)
    # a node and an open way have no area
    assert np.isnan(rec.loc["n900", "area_m2"])
    assert np.isnan(rec.loc["w4", "area_m2"])


def test_facility_table_carries_area(tmp_path, taxonomy, chengdu_crs):
    _grounds(tmp_path / "g.osm", chengdu_crs)
    boundary = gpd.GeoSeries([shapely.box(X0 - 1000, Y0 - 1000, X0 + 2000, Y0 + 2000)],
                             crs=chengdu_crs).to_crs("EPSG:4326").iloc[0]
    sources = parse_facility_sources([{"kind": "osm", "path": "g.osm"}], base_dir=tmp_path,
                                     path=tmp_path / "area.toml")
    fac = load_facilities(sources, boundary=boundary, crs=chengdu_crs, taxonomy=taxonomy,
                          rejects=RejectLog())
    assert list(fac.columns) == FACILITY_COLUMNS
    areas = dict(zip(fac["source_row"], fac["area_m2"], strict=True))
    assert areas["w1"] == pytest.approx(2400, abs=1)
    assert areas["r1"] == pytest.approx(3000, abs=1)
    assert np.isnan(areas["n900"])
