"""Fixtures for the facility tests: the bundled Chengdu sample and small test utilities."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import CRS

from access.crs import utm_crs_for_lonlat
from facilities import load_taxonomy
from facilities.taxonomy import Taxonomy

REPO = Path(__file__).resolve().parents[2]
CHENGDU = REPO / "lifecircle" / "datasets" / "chengdu_central"
CHENGDU_OSM = CHENGDU / "chengdu_central.osm"
KOUVOLA_PBF = Path(__file__).resolve().parent / "data" / "kouvola_small.osm.pbf"


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="session")
def chengdu_boundary() -> shapely.Geometry:
    """Union of the five central districts (CGCS2000 -> WGS-84)."""
    districts = gpd.read_file(CHENGDU / "districts.geojson").to_crs(4326)
    return districts.union_all()


@pytest.fixture(scope="session")
def chengdu_crs() -> CRS:
    return utm_crs_for_lonlat(104.086, 30.690)


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write rows to a CSV file with a chosen encoding and delimiter."""

    def _write(name: str, header: Sequence[str], rows: Sequence[Sequence[object]], *,
               encoding: str = "utf-8", delimiter: str = ",") -> Path:
        path = tmp_path / name
        with path.open("w", encoding=encoding, newline="") as fh:
            w = csv.writer(fh, delimiter=delimiter)
            w.writerow(header)
            w.writerows(rows)
        return path

    return _write
