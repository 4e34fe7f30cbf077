"""Conservation on the real WorldPop age/sex rasters of Wuhan (ten files, persons 60+)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import CRS

from access.rejects import RejectLog
from gridded_pop import GridSpec, build_population, parse_population_sources

PUBLISHED_60_PLUS = 1_942_653  # persons aged 60+ in the ten rasters together


def _tables(wuhan_dir: Path) -> list[dict]:
    paths = sorted(p.name for p in wuhan_dir.glob("pop_*_wuhan.tif"))
    assert len(paths) == 10
    return [{"kind": "raster", "paths": paths, "group": "age_60_plus"}]


def test_ten_rasters_hold_the_published_total(wuhan_dir: Path) -> None:
    total = 0.0
    for p in sorted(wuhan_dir.glob("pop_*_wuhan.tif")):
        with rasterio.open(p) as ds:
            total += float(ds.read(1, masked=True).sum(dtype=np.float64))
    assert total == pytest.approx(PUBLISHED_60_PLUS, abs=1.0)


def test_wuhan_onto_500m_grid_conserves(wuhan_dir: Path, wuhan_boundary) -> None:
    spec = GridSpec.from_bounds(wuhan_boundary.bounds, 500.0, CRS.from_epsg(32650))
    sources = parse_population_sources(_tables(wuhan_dir), base_dir=wuhan_dir,
                                       path=wuhan_dir / "study.toml")
    rejects = RejectLog()
    pg = build_population(sources, spec, boundary=wuhan_boundary, rejects=rejects)
    (acc,) = pg.accounting.itertuples()
    # the window covers the whole raster here: every person of the files is read
    assert acc.population_in == pytest.approx(PUBLISHED_60_PLUS, abs=1.0)
    balance = acc.on_grid + acc.outside_area + acc.rejected
    assert abs(acc.population_in - balance) <= 1e-6 * acc.population_in
    assert pg.total("age_60_plus") == pytest.approx(acc.on_grid, rel=1e-12)
    # the rasters are cut to Wuhan's outline, so only a sliver falls outside
    assert 0 < acc.outside_area < 0.01 * acc.population_in
    assert len(rejects) == 0
    assert pg.groups["age_60_plus"][~pg.in_area & (pg.area_in_m2 == 0)].sum() == 0


def test_wuhan_centre_at_100m_conserves(wuhan_dir: Path, wuhan_boundary) -> None:
    c = wuhan_boundary.centroid
    box = shapely.intersection(shapely.box(c.x - 8000, c.y - 8000, c.x + 8000, c.y + 8000),
                               wuhan_boundary)
    spec = GridSpec.from_bounds(box.bounds, 100.0, CRS.from_epsg(32650))
    sources = parse_population_sources(_tables(wuhan_dir), base_dir=wuhan_dir,
                                       path=wuhan_dir / "study.toml")
    pg = build_population(sources, spec, boundary=box, rejects=RejectLog())
    (acc,) = pg.accounting.itertuples()
    assert acc.population_in < PUBLISHED_60_PLUS  # a window of the rasters only
    assert abs(acc.population_in - (acc.on_grid + acc.outside_area)) <= 1e-6 * acc.population_in
    assert acc.on_grid > 10_000
    # 100 m cells in the centre of a city of millions: some cells hold dozens of elders
    assert pg.groups["age_60_plus"].max() > 20
