"""GCJ-02 / BD-09 conversions against published reference pairs and by round trip."""

from __future__ import annotations

import numpy as np
import prcoords
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from facilities.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")


def dist_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# Reference pairs published with the widely used coordtransform package
# (wandergis/coordtransform, test/app.js), input (116.404, 39.915).
def test_wgs84_to_gcj02_matches_published_pair():
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41024449916938, abs=1e-9)
    assert float(lat) == pytest.approx(39.91640428150164, abs=1e-9)


def test_gcj02_to_bd09_matches_published_pair():
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41036949371029, abs=1e-9)
    assert float(lat) == pytest.approx(39.92133699351021, abs=1e-9)


def test_inverses_match_published_pairs_within_a_metre():
    # the published inverses are one-step approximations; ours iterate to the exact
    # inverse, so they agree to well under a metre, not to the last digit
    lon, lat = gcj02_to_wgs84(116.404, 39.915)
    assert dist_m(lon, lat, 116.39775550083061, 39.91359571849836) < 1.0
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    assert dist_m(lon, lat, 116.39762729119315, 39.90865673957631) < 1.0


def test_alibaba_cloud_reference_pair():
    # Alibaba Cloud address-purification TransferCoord example: GCJ02 (120.026268,
    # 30.279164) = BD09 (120.032768, 30.285238) = WGS84 (120.021519, 30.281543),
    # six decimals (0.1 m resolution); its WGS84 comes from an approximate inverse.
    lon, lat = gcj02_to_bd09(120.026268, 30.279164)
    assert dist_m(lon, lat, 120.032768, 30.285238) < 0.3
    lon, lat = gcj02_to_wgs84(120.026268, 30.279164)
    assert dist_m(lon, lat, 120.021519, 30.281543) < 2.5
    lon, lat = wgs84_to_gcj02(120.021519, 30.281543)
    assert dist_m(lon, lat, 120.026268, 30.279164) < 2.5


def test_agrees_with_prcoords():
    rng = np.random.default_rng(7)
    lon = rng.uniform(75, 134, 200)
    lat = rng.uniform(19, 53, 200)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    b_lon, b_lat = wgs84_to_bd09(lon, lat)
    for i in range(len(lon)):
        ref = prcoords.wgs_gcj(prcoords.Coords(lat[i], lon[i]))
        assert g_lon[i] == pytest.approx(ref.lon, abs=1e-9)
        assert g_lat[i] == pytest.approx(ref.lat, abs=1e-9)
        ref_b = prcoords.wgs_bd(prcoords.Coords(lat[i], lon[i]))
        assert b_lon[i] == pytest.approx(ref_b.lon, abs=1e-8)
        assert b_lat[i] == pytest.approx(ref_b.lat, abs=1e-8)


def test_offset_is_hundreds_of_metres_in_chengdu():
    lon, lat = wgs84_to_gcj02(104.07, 30.67)
    assert 200 < dist_m(104.07, 30.67, lon, lat) < 800


@settings(max_examples=200, deadline=None)
@given(st.floats(73.7, 135.0), st.floats(18.2, 53.5))
def test_round_trip_under_a_metre_in_china(lon, lat):
    assert dist_m(lon, lat, *gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))) < 1.0
    assert dist_m(lon, lat, *bd09_to_wgs84(*wgs84_to_bd09(lon, lat))) < 1.0
    assert dist_m(lon, lat, *bd09_to_gcj02(*gcj02_to_bd09(lon, lat))) < 1.0


def test_round_trip_vectorised():
    rng = np.random.default_rng(11)
    lon = rng.uniform(100, 120, 5000)
    lat = rng.uniform(22, 42, 5000)
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert dist_m(lon, lat, *back).max() < 0.01


@pytest.mark.parametrize(("lon", "lat"), [(2.35, 48.85), (-74.0, 40.7), (26.9, 60.5),
                                          (151.2, -33.9)])
def test_identity_outside_china(lon, lat):
    assert not in_china(lon, lat)
    assert tuple(map(float, wgs84_to_gcj02(lon, lat))) == (lon, lat)
    assert tuple(map(float, gcj02_to_wgs84(lon, lat))) == (lon, lat)


def test_nan_propagates_and_others_convert():
    lon, _lat = gcj02_to_wgs84(np.array([104.07, np.nan]), np.array([30.67, 30.0]))
    assert np.isnan(lon[1])
    assert np.isfinite(lon[0])
    assert lon[0] != 104.07


def test_to_wgs84_dispatch():
    g = wgs84_to_gcj02(104.07, 30.67)
    assert dist_m(104.07, 30.67, *to_wgs84(*g, "gcj02")) < 0.01
    b = wgs84_to_bd09(104.07, 30.67)
    assert dist_m(104.07, 30.67, *to_wgs84(*b, "bd09")) < 0.01
    assert dist_m(104.07, 30.67, *to_wgs84(104.07, 30.67, "cgcs2000")) < 1.0
    with pytest.raises(ValueError, match="unknown coordinate system"):
        to_wgs84(104.07, 30.67, "web_mercator")
