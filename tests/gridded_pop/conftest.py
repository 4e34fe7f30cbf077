"""Fixtures for the population-grid tests: synthetic rasters and the real sample files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import CRS

from access.crs import lonlat_to_metric
from gridded_pop.grid import GridSpec

CHENGDU = Path(__file__).resolve().parents[2] / "lifecircle" / "datasets" / "chengdu_central"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
WUHAN = SHARED / "worldpop_wuhan_60plus"
UTM48 = CRS.from_epsg(32648)
UTM50 = CRS.from_epsg(32650)


def write_raster(path: Path, values: np.ndarray, transform: Affine, crs: object | None, *,
                 nodata: float | None = None, units: str | None = None,
                 tiled: bool = False) -> Path:
    """Write a single-band float GeoTIFF."""
    values = np.asarray(values)
    profile = {"driver": "GTiff", "height": values.shape[0], "width": values.shape[1],
               "count": 1, "dtype": values.dtype if values.dtype != np.float64 else "float64",
               "transform": transform, "nodata": nodata}
    if crs is not None:
        profile["crs"] = crs if not isinstance(crs, CRS) else crs.to_wkt()
    if tiled:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(values, 1)
        if units:
            ds.units = (units,)
    return path


@pytest.fixture
def raster_writer(tmp_path: Path) -> Callable[..., Path]:
    """``raster_writer(name, values, transform, crs, **kw)`` -> path in tmp_path."""
    def make(name: str, values: np.ndarray, transform: Affine, crs: object | None,
             **kw: object) -> Path:
        return write_raster(tmp_path / name, values, transform, crs, **kw)
    return make


@pytest.fixture(scope="session")
def chengdu_boundary() -> shapely.Polygon:
    """The Chengdu sample's OSM bounds box in UTM 48N."""
    lon = [104.0421, 104.1296, 104.1296, 104.0421]
    lat = [30.6528, 30.6528, 30.7279, 30.7279]
    x, y = lonlat_to_metric(np.array(lon), np.array(lat), UTM48)
    return shapely.Polygon(list(zip(x, y, strict=True)))


@pytest.fixture(scope="session")
def chengdu_spec(chengdu_boundary: shapely.Polygon) -> GridSpec:
    """100 m grid over the Chengdu sample."""
    return GridSpec.from_bounds(chengdu_boundary.bounds, 100.0, UTM48)


@pytest.fixture(scope="session")
def wuhan_boundary() -> shapely.Geometry:
    """Wuhan's boundary in UTM 50N (the shipped file has one stray character, repaired here)."""
    if not WUHAN.exists():
        pytest.skip("shared WorldPop sample data not available")
    text = (WUHAN / "wuhan-boundary.geojson").read_text(encoding="utf-8")
    gdf = gpd.read_file(text.replace(',m"name"', ',"name"'))
    return gdf.to_crs(UTM50).union_all()


@pytest.fixture(scope="session")
def chengdu_dir() -> Path:
    """Folder of the bundled Chengdu sample."""
    return CHENGDU


@pytest.fixture(scope="session")
def wuhan_dir() -> Path:
    """Folder of the real WorldPop Wuhan 60+ rasters."""
    if not WUHAN.exists():
        pytest.skip("shared WorldPop sample data not available")
    return WUHAN
