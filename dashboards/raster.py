"""Grid layers drawn on the server as PNG images of the visible window.

The browser never receives one value per cell: for a window in longitude/latitude
and a size in screen pixels, :meth:`GridLookup.cells_in_window` finds the cell under
every pixel centre, and :func:`render_png` colours those cells by class into a
palette PNG. The payload therefore scales with the screen, not with the number of
cells. The same lookup answers "which cell is under the pointer".

Pixel centres are transformed to the analysis CRS exactly on a coarse lattice of
knots (every :data:`KNOT_PX` pixels) and bilinearly in between; over a few pixels
the projection is affine to well under a millimetre.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from pyproj import CRS, Transformer

__all__ = ["KNOT_PX", "NO_CLASS", "GridLookup", "Window", "class_values", "png_data_url",
           "render_png", "scale_bar_m"]

#: Spacing of exactly transformed pixel centres; the rest are interpolated.
KNOT_PX = 16
#: Class index of pixels with no cell (transparent).
NO_CLASS = 255
#: Largest image side drawn, pixels.
MAX_SIDE_PX = 2400


@dataclass(frozen=True)
class Window:
    """A lon/lat window drawn ``width_px`` × ``height_px`` pixels.

    Attributes
    ----------
    lon0, lon1, lat0, lat1
        West, east, south and north edges (WGS-84 degrees).
    width_px, height_px
        Image size in pixels (clipped to 1..:data:`MAX_SIDE_PX`).
    """

    lon0: float
    lon1: float
    lat0: float
    lat1: float
    width_px: int
    height_px: int

    def __post_init__(self) -> None:
        vals = (self.lon0, self.lon1, self.lat0, self.lat1)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in vals):
            raise ValueError(f"window edges must be finite numbers, got {vals}")
        if not (self.lon1 > self.lon0 and self.lat1 > self.lat0):
            raise ValueError("window must have east > west and north > south")
        if not (self.lon0 >= -180 and self.lon1 <= 180 and self.lat0 >= -90
                and self.lat1 <= 90):
            raise ValueError("window must lie within longitude ±180 and latitude ±90")
        for name in ("width_px", "height_px"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
            object.__setattr__(self, name, min(v, MAX_SIDE_PX))

    def pixel_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitudes of the pixel columns and latitudes of the pixel rows (north first)."""
        lon = self.lon0 + (np.arange(self.width_px) + 0.5) * (self.lon1 - self.lon0) \
            / self.width_px
        lat = self.lat1 - (np.arange(self.height_px) + 0.5) * (self.lat1 - self.lat0) \
            / self.height_px
        return lon, lat


class GridLookup:
    """Which row of a cells table lies under a lon/lat point.

    Parameters
    ----------
    spec
        The analysis grid (:class:`gridded_pop.GridSpec`: ``x_min``, ``y_max``,
        ``cell_size_m``, ``n_rows``, ``n_cols``).
    rows, cols
        Grid row and column of each cell of the table.
    crs
        Metric CRS of the grid.
    """

    def __init__(self, spec: object, rows: np.ndarray, cols: np.ndarray, crs: CRS) -> None:
        self.x_min = float(spec.x_min)  # type: ignore[attr-defined]
        self.y_max = float(spec.y_max)  # type: ignore[attr-defined]
        self.cell_size_m = float(spec.cell_size_m)  # type: ignore[attr-defined]
        self.n_rows = int(spec.n_rows)  # type: ignore[attr-defined]
        self.n_cols = int(spec.n_cols)  # type: ignore[attr-defined]
        self.index = np.full((self.n_rows, self.n_cols), -1, np.int32)
        self.index[np.asarray(rows, np.int64), np.asarray(cols, np.int64)] = np.arange(
            len(rows), dtype=np.int32)
        self._to_metric = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)

    def cells_at_metric(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Table position of the cell containing each metric point (-1 outside)."""
        col = np.floor((np.asarray(x, float) - self.x_min) / self.cell_size_m)
        row = np.floor((self.y_max - np.asarray(y, float)) / self.cell_size_m)
        ok = (col >= 0) & (col < self.n_cols) & (row >= 0) & (row < self.n_rows)
        out = np.full(col.shape, -1, np.int32)
        out[ok] = self.index[row[ok].astype(np.int64), col[ok].astype(np.int64)]
        return out

    def cells_at(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Table position of the cell under each lon/lat point (-1 outside every cell)."""
        x, y = self._to_metric.transform(np.asarray(lon, float), np.asarray(lat, float))
        return self.cells_at_metric(np.asarray(x), np.asarray(y))

    def cells_in_window(self, window: Window) -> np.ndarray:
        """``height_px × width_px`` table positions of the cells under the pixel centres."""
        lon, lat = window.pixel_centres()
        ki = _knots(window.width_px)
        kj = _knots(window.height_px)
        klon = np.interp(ki, np.arange(window.width_px), lon)
        klat = np.interp(kj, np.arange(window.height_px), lat)
        glon, glat = np.meshgrid(klon, klat)
        kx, ky = self._to_metric.transform(glon, glat)
        x = _bilinear(np.asarray(kx), kj, ki, window.height_px, window.width_px)
        y = _bilinear(np.asarray(ky), kj, ki, window.height_px, window.width_px)
        return self.cells_at_metric(x, y)


def _knots(n: int) -> np.ndarray:
    """Pixel positions transformed exactly: every KNOT_PX pixels and the last one."""
    k = np.arange(0, n, KNOT_PX, dtype=float)
    return k if k[-1] == n - 1 else np.append(k, n - 1)


def _bilinear(values: np.ndarray, kj: np.ndarray, ki: np.ndarray, h: int, w: int
              ) -> np.ndarray:
    """Values known at knot rows ``kj`` and columns ``ki``, interpolated to ``h × w``."""
    cols = np.empty((values.shape[0], w))
    for r in range(values.shape[0]):
        cols[r] = np.interp(np.arange(w), ki, values[r])
    out = np.empty((h, w))
    jj = np.arange(h)
    pos = np.interp(jj, kj, np.arange(len(kj)))
    lo = np.minimum(np.floor(pos).astype(np.int64), len(kj) - 1)
    hi = np.minimum(lo + 1, len(kj) - 1)
    frac = (pos - lo)[:, None]
    out[:] = cols[lo] * (1 - frac) + cols[hi] * frac
    return out


def class_values(values: np.ndarray, bounds: tuple[float, ...], *,
                 valid: np.ndarray | None = None) -> np.ndarray:
    """Class index (uint8) of ``values`` by upper ``bounds``; NaN is the last class.

    A value equal to a bound falls in the class it closes (``5.0`` min is "≤ 5").
    Cells where ``valid`` is False get :data:`NO_CLASS`.
    """
    v = np.asarray(values, float)
    v = np.where(np.isnan(v), np.inf, v)
    cls = np.searchsorted(np.asarray(bounds, float), v, side="left").astype(np.uint8)
    if valid is not None:
        cls[~np.asarray(valid, bool)] = NO_CLASS
    return cls


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def render_png(cell_class: np.ndarray, positions: np.ndarray,
               colours: tuple[str, ...],
               overlays: Sequence[tuple[np.ndarray, str, float]] = ()) -> bytes:
    """A palette PNG: pixel ``(j, i)`` has colour ``colours[cell_class[positions[j, i]]]``.

    Pixels with no cell (position -1) or class :data:`NO_CLASS` are transparent.
    ``overlays`` are ``(mask, "#rrggbb", opacity)`` drawn over the classes in turn
    where the mask (boolean, the image's shape) is set, e.g. streets, water, green:
    each blend of an overlay colour with what lies under it gets a palette entry of
    its own after the classes', so pixels of class ``k`` left uncovered keep index
    ``k``.
    """
    cls = np.asarray(cell_class, np.uint8)
    pos = np.asarray(positions)
    img: np.ndarray = np.full(pos.shape, NO_CLASS, np.uint8)
    inside = pos >= 0
    img[inside] = cls[pos[inside]]
    img[img >= len(colours)] = NO_CLASS
    entries: list[tuple[float, ...]] = [(*(v / 255 for v in _rgb(c)), 1.0) for c in colours]
    under_none = (0.0, 0.0, 0.0, 0.0)
    for mask, colour, opacity in overlays:
        m = np.asarray(mask, bool)
        if not m.any():
            continue
        top = tuple(v / 255 for v in _rgb(colour))
        remap = np.arange(256, dtype=np.uint8)
        for u in np.unique(img[m]):
            r, g, b, a = entries[u] if u != NO_CLASS else under_none
            out_a = opacity + a * (1 - opacity)
            blend = tuple((t * opacity + v * a * (1 - opacity)) / out_a
                          for t, v in zip(top, (r, g, b), strict=True))
            entry = (*blend, out_a)
            if entry not in entries:
                if len(entries) >= NO_CLASS:
                    raise ValueError("too many overlay colours for one palette image")
                entries.append(entry)
            remap[u] = entries.index(entry)
        img[m] = remap[img[m]]
    palette = np.zeros((256, 3), np.uint8)
    alpha = np.full(256, 255, np.uint8)
    alpha[NO_CLASS] = 0
    for k, (r, g, b, a) in enumerate(entries):
        palette[k] = [round(r * 255), round(g * 255), round(b * 255)]
        alpha[k] = round(a * 255)
    im = Image.frombytes("P", (img.shape[1], img.shape[0]), img.tobytes())
    im.putpalette(palette.ravel().tolist())
    buf = io.BytesIO()
    if (alpha[:NO_CLASS] == 255).all():
        im.save(buf, format="PNG", transparency=NO_CLASS, compress_level=6)
    else:
        im.save(buf, format="PNG", transparency=alpha.tobytes(), compress_level=6)
    return buf.getvalue()


def png_data_url(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URL of PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def scale_bar_m(window: Window) -> float:
    """A round length (1, 2 or 5 × 10^k m) near a fifth of the window's width."""
    lat = math.radians((window.lat0 + window.lat1) / 2)
    width_m = (window.lon1 - window.lon0) * 111_320.0 * math.cos(lat)
    target = width_m / 5
    p = 10 ** math.floor(math.log10(max(target, 1e-9)))
    return float(max(m for m in (p, 2 * p, 5 * p) if m <= target) if target >= p else p)
