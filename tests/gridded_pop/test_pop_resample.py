"""Sum-preserving resampling: hand-checked cases and conservation properties."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS

from gridded_pop.grid import GridSpec
from gridded_pop.resample import (
    auto_supersample,
    overlap_matrix_1d,
    quad_areas,
    resample_exact,
    resample_supersample,
)

UTM = CRS.from_epsg(32650)
# 2x2 raster of 100 m pixels spanning x 50..250, y 50..250; grid 3x3 of 100 m from (0, 300)
VALUES_2X2 = np.array([[1.0, 2.0], [3.0, 4.0]])
T_2X2 = Affine(100.0, 0.0, 50.0, 0.0, -100.0, 250.0)
SPEC_3X3 = GridSpec(crs=UTM, x_min=0.0, y_max=300.0, cell_size_m=100.0, n_rows=3, n_cols=3)
# each pixel splits in quarters over the four cells it straddles
EXPECTED_3X3 = np.array([[0.25, 0.75, 0.5],
                         [1.0, 2.5, 1.5],
                         [0.75, 1.75, 1.0]])


def _corners(t: Affine, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    cc, rr = np.meshgrid(np.arange(shape[1] + 1.0), np.arange(shape[0] + 1.0))
    return t.a * cc + t.b * rr + t.c, t.d * cc + t.e * rr + t.f


def test_overlap_matrix_hand_checked() -> None:
    w = overlap_matrix_1d(np.array([0.0, 1.0, 2.0]), np.array([0.5, 1.5, 2.5])).toarray()
    np.testing.assert_allclose(w, [[0.5, 0.5], [0.0, 0.5]])
    with pytest.raises(ValueError, match="increasing"):
        overlap_matrix_1d(np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0]))


def test_2x2_half_cell_offset_exact() -> None:
    out = resample_exact(VALUES_2X2, T_2X2, SPEC_3X3)
    np.testing.assert_allclose(out, EXPECTED_3X3, rtol=0, atol=1e-12)


def test_2x2_half_cell_offset_supersampled() -> None:
    cx, cy = _corners(T_2X2, VALUES_2X2.shape)
    out = resample_supersample(VALUES_2X2, cx, cy, SPEC_3X3, k=2)
    np.testing.assert_allclose(out, EXPECTED_3X3, rtol=0, atol=1e-12)


def test_flipped_axes_give_the_same_result() -> None:
    # the same raster stored bottom-up and right-to-left
    t = Affine(-100.0, 0.0, 250.0, 0.0, 100.0, 50.0)
    out = resample_exact(VALUES_2X2[::-1, ::-1], t, SPEC_3X3)
    np.testing.assert_allclose(out, EXPECTED_3X3, atol=1e-12)


def test_rotation_is_refused_by_exact() -> None:
    with pytest.raises(ValueError, match="rotation"):
        resample_exact(VALUES_2X2, Affine(100.0, 1.0, 0.0, 0.0, -100.0, 0.0), SPEC_3X3)


def test_coarse_pixel_spread_over_fine_cells() -> None:
    # one 300 m pixel exactly over the 3x3 grid: 9 equal parts
    out = resample_exact(np.array([[9.0]]), Affine(300.0, 0, 0, 0, -300.0, 300.0), SPEC_3X3)
    np.testing.assert_allclose(out, np.ones((3, 3)), atol=1e-12)


def test_pixels_outside_grid_are_not_on_it() -> None:
    t = Affine(100.0, 0.0, 250.0, 0.0, -100.0, 300.0)  # half of column 0 on the grid
    out = resample_exact(np.array([[2.0, 5.0]]), t, SPEC_3X3)
    assert out.sum() == pytest.approx(1.0)
    assert out[0, 2] == pytest.approx(1.0)


def test_supersample_nonfinite_corners_fall_outside() -> None:
    cx, cy = _corners(T_2X2, VALUES_2X2.shape)
    cx[0, 0] = np.nan
    out = resample_supersample(VALUES_2X2, cx, cy, SPEC_3X3, k=2)
    assert out.sum() < VALUES_2X2.sum()
    assert np.isfinite(out).all()
    with pytest.raises(ValueError, match="k must"):
        resample_supersample(VALUES_2X2, cx, cy, SPEC_3X3, k=0)


def test_auto_supersample_and_quad_areas() -> None:
    assert auto_supersample(90.0, 100.0) == 4
    assert auto_supersample(1000.0, 100.0) == 32
    assert auto_supersample(30.0, 500.0) == 1
    assert auto_supersample(float("nan"), 100.0) == 1
    cx, cy = _corners(Affine(10.0, 0, 0, 0, -20.0, 0), (2, 3))
    np.testing.assert_allclose(quad_areas(cx, cy), np.full((2, 3), 200.0))


values_st = st.integers(1, 6).flatmap(lambda n: st.integers(1, 6).flatmap(
    lambda m: st.lists(st.floats(0, 1e4, allow_nan=False), min_size=n * m, max_size=n * m)
    .map(lambda v: np.array(v).reshape(n, m))))


@settings(max_examples=60, deadline=None)
@given(values=values_st, px=st.floats(10, 400), py=st.floats(10, 400),
       x0=st.floats(-500, 1500), y0=st.floats(-500, 1500), cell=st.sampled_from([50.0, 100.0]))
def test_exact_conserves(values: np.ndarray, px: float, py: float, x0: float, y0: float,
                         cell: float) -> None:
    spec = GridSpec(crs=UTM, x_min=0.0, y_max=1000.0, cell_size_m=cell,
                    n_rows=int(1000 / cell), n_cols=int(1000 / cell))
    t = Affine(px, 0.0, x0, 0.0, -py, y0)
    out = resample_exact(values, t, spec)
    assert (out >= 0).all()
    # share of each pixel on the grid, computed independently from the extents
    fx = np.clip(np.minimum(x0 + px * (np.arange(values.shape[1]) + 1), 1000)
                 - np.maximum(x0 + px * np.arange(values.shape[1]), 0), 0, None) / px
    fy = np.clip(np.minimum(y0 - py * np.arange(values.shape[0]), 1000)
                 - np.maximum(y0 - py * (np.arange(values.shape[0]) + 1), 0), 0, None) / py
    expected = float((values * fy[:, None] * fx[None, :]).sum())
    assert out.sum() == pytest.approx(expected, rel=1e-9, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(values=values_st, px=st.floats(20, 300), angle=st.floats(-0.3, 0.3),
       x0=st.floats(0, 800), y0=st.floats(200, 1000), k=st.integers(1, 6))
def test_supersample_conserves(values: np.ndarray, px: float, angle: float, x0: float,
                               y0: float, k: int) -> None:
    spec = GridSpec(crs=UTM, x_min=-2000.0, y_max=3000.0, cell_size_m=100.0, n_rows=50,
                    n_cols=50)
    c, s = np.cos(angle), np.sin(angle)
    t = Affine(px * c, -px * s, x0, px * s, -px * c, y0)  # rotated pixels, all on the grid
    cx, cy = _corners(t, values.shape)
    out = resample_supersample(values, cx, cy, spec, k=k)
    assert out.sum() == pytest.approx(values.sum(), rel=1e-9, abs=1e-6)
    assert (out >= 0).all()
