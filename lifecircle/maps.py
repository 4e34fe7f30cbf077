"""Static maps and charts for printed reports (matplotlib, no internet tiles).

A map shows one cell layer (e.g. residents a target leaves uncovered) over the study
area's own street network, with unit boundaries and names, longitude/latitude ticks
along a graticule, a scale bar, a north arrow, a legend with units and a data-source
line. Chinese text uses a real CJK font found through matplotlib's font manager
(:func:`cjk_font`); without one, :class:`FontNotFoundError` says how to install it
rather than drawing boxes.

:class:`MapCanvas` draws the parts every map shares once (the street network as a
raster backdrop, boundaries, graticule) so a report with many maps stays fast.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
import shapely
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrow, Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.text import Text
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from pyproj import CRS, Transformer

from access.errors import LifecircleError
from access.i18n import say

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = ["CJK_FAMILIES", "FontNotFoundError", "LayerStyle", "MapCanvas", "cjk_font",
           "geometry_path", "path_masks", "trend_chart"]

log = logging.getLogger(__name__)

#: Font families tried in order (Debian's fonts-noto-cjk first; Windows fonts last).
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC",
                "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
                "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "SimSun")


class FontNotFoundError(LifecircleError, RuntimeError):
    """No font able to draw Chinese text is installed."""


@dataclass(frozen=True)
class CjkFont:
    """A font that draws Chinese: its family name and file."""

    family: str
    path: Path


_FONT: CjkFont | None = None


def _has_glyphs(path: str, text: str = "覆盖率图例北") -> bool:
    try:
        font = FT2Font(path)
    except (OSError, RuntimeError):
        return False
    return all(font.get_char_index(ord(ch)) != 0 for ch in text)


def cjk_font() -> CjkFont:
    """The CJK font maps use, found through matplotlib's font manager.

    Raises
    ------
    FontNotFoundError
        No installed font draws Chinese (on Debian: ``apt-get install fonts-noto-cjk``;
        on Windows, Microsoft YaHei ships with the system).
    """
    global _FONT
    if _FONT is not None:
        return _FONT
    for family in CJK_FAMILIES:
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=family),
                                         fallback_to_default=False)
        except ValueError:
            continue
        if _has_glyphs(path):
            _FONT = CjkFont(family=family, path=Path(path))
            log.info(say("log_cjk_font", family=family, path=path))
            return _FONT
    raise FontNotFoundError(
        "no font able to draw Chinese was found (tried "
        f"{', '.join(CJK_FAMILIES)}); install one, e.g. 'apt-get install fonts-noto-cjk' "
        "on Debian/Ubuntu")


def _rc() -> dict[RcKeyType, Any]:
    font = cjk_font()
    return {"font.family": "sans-serif",
            "font.sans-serif": [font.family, "DejaVu Sans"],
            "axes.unicode_minus": False, "svg.fonttype": "path", "svg.hashsalt": "lifecircle",
            "path.simplify": True}


@dataclass(frozen=True)
class LayerStyle:
    """Classes and colours of a cell layer.

    Attributes
    ----------
    bounds
        Class boundaries (n + 1 values for n classes).
    colors
        One colour per class.
    title
        Legend title, with the unit (e.g. ``"未覆盖人口（人/格）"``).
    labels
        Legend label per class (default: ``a–b``).
    """

    bounds: tuple[float, ...]
    colors: tuple[str, ...]
    title: str
    labels: tuple[str, ...] | None = None

    def legend_labels(self) -> list[str]:
        if self.labels is not None:
            return list(self.labels)
        b = self.bounds
        out = []
        for i in range(len(b) - 1):
            hi = "+" if not np.isfinite(b[i + 1]) else f"–{b[i + 1]:g}"
            out.append(f"{b[i]:g}{hi}")
        return out


def _pin_font(fig: Figure) -> Figure:
    """Give every text of the figure the CJK font itself, whatever the rcParams at save time."""
    family = [cjk_font().family, "DejaVu Sans"]
    for text in fig.findobj(Text):
        text.set_fontfamily(family)
    return fig


def _nice(x: float) -> float:
    """A round number (1, 2 or 5 × 10^k) not larger than ``x``."""
    k = 10.0 ** np.floor(np.log10(x))
    for m in (5, 2, 1):
        if m * k <= x:
            return m * k
    return k


def path_masks(paths: Sequence[tuple[MplPath, float, bool]],
               extent: tuple[float, float, float, float], shape: tuple[int, int]
               ) -> list[np.ndarray]:
    """Alpha masks (uint8, ``shape``) of matplotlib paths drawn over ``extent``.

    Parameters
    ----------
    paths
        ``(path, line width in points, filled)`` per mask; the raster has 100 pixels
        per inch, so one point is 100/72 pixels.
    extent
        ``(x0, x1, y0, y1)`` of the raster in the paths' coordinates; row 0 is the
        top (``y1``) edge and pixel ``(j, i)`` covers one ``shape``-th of it.
    shape
        Rows and columns of the raster.
    """
    n_rows, n_cols = shape
    out: list[np.ndarray] = []
    with mpl.rc_context({"agg.path.chunksize": 20000}):
        # a hair more than the size: Agg rounds the canvas down, never a pixel short
        fig = Figure(figsize=((n_cols + 0.01) / 100, (n_rows + 0.01) / 100), dpi=100)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        fig.patch.set_alpha(0)
        canvas = FigureCanvasAgg(fig)
        for path, width_pt, filled in paths:
            # add_artist, not add_patch: the limits are set, and add_patch would walk
            # every vertex in Python to update them
            patch = PathPatch(path, fill=filled, facecolor="black" if filled else "none",
                              edgecolor="black", linewidth=width_pt, antialiased=True)
            ax.add_artist(patch)
            canvas.draw()
            out.append(np.asarray(canvas.buffer_rgba())[:n_rows, :n_cols, 3].copy())
            patch.remove()
    return out


def geometry_path(geoms: np.ndarray, *, filled: bool = False) -> MplPath | None:
    """One compound matplotlib path of shapely lines (or of polygon rings, ``filled``).

    None when there is nothing to draw.
    """
    parts = shapely.get_parts(np.asarray(geoms, object))
    if filled:
        parts = parts[shapely.get_type_id(parts) == 3]  # Polygon
        parts = shapely.get_rings(parts)
    else:
        # lines as they are, polygons by their rings
        parts = np.concatenate([parts[np.isin(shapely.get_type_id(parts), (1, 2))],
                                shapely.get_rings(parts[shapely.get_type_id(parts) == 3])])
    if not len(parts):
        return None
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    codes = np.full(len(coords), MplPath.LINETO, MplPath.code_type)
    codes[np.r_[0, np.flatnonzero(np.diff(idx)) + 1]] = MplPath.MOVETO
    return MplPath(coords, codes)


class MapCanvas:
    """The shared part of every map of one study area.

    Parameters
    ----------
    crs
        Metric CRS of the coordinates given.
    extent
        ``(x_min, y_min, x_max, y_max)`` in ``crs``.
    units
        Unit polygons in ``crs`` with a ``name`` column (or None).
    streets
        Street segments ``(n, 2, 2)`` in ``crs`` (or None).
    source_line
        Data-source line printed under each map.
    lang
        ``"zh"`` or ``"en"``: language of the fixed map furniture.
    width_in
        Figure width in inches (height follows the extent).
    dpi
        Resolution of PNG output.
    """

    def __init__(self, crs: CRS, extent: tuple[float, float, float, float], *,
                 units: gpd.GeoDataFrame | None = None,
                 streets: np.ndarray | None = None, source_line: str = "",
                 lang: str = "zh", width_in: float = 8.0, dpi: int = 130) -> None:
        self.crs = crs
        x0, y0, x1, y1 = extent
        pad = 0.02 * max(x1 - x0, y1 - y0)
        self.extent = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        self.units = units
        self.source_line = source_line
        self.lang = lang
        self.dpi = dpi
        w, h = self.extent[2] - self.extent[0], self.extent[3] - self.extent[1]
        self.map_w_in = width_in
        self.map_h_in = min(max(width_in * h / w, 3.0), 11.0)
        self._rc = _rc()
        self._pixel_cache: dict[tuple[int, int, int, float],
                                tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._streets = self._street_backdrop(streets) if streets is not None else None
        self._to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        self._from_lonlat = Transformer.from_crs("EPSG:4326", crs, always_xy=True)

    # ---------------------------------------------------------- shared layers
    @property
    def raster_shape(self) -> tuple[int, int]:
        """Rows and columns of the map's composite raster."""
        w, h = self.extent[2] - self.extent[0], self.extent[3] - self.extent[1]
        n_cols = int(self.map_w_in * 0.9 * self.dpi)
        return max(1, round(n_cols * h / w)), n_cols

    def _street_backdrop(self, segments: np.ndarray) -> np.ndarray:
        """The street network drawn once: an alpha mask (uint8) of the raster's shape."""
        # one compound path (move-to, line-to per segment): Agg strokes it in C, where a
        # LineCollection builds a Python Path per segment (minutes for a municipality)
        seg = np.asarray(segments, dtype=float).reshape(-1, 2, 2)
        codes = np.tile(np.array([MplPath.MOVETO, MplPath.LINETO], MplPath.code_type),
                        len(seg))
        x0, y0, x1, y1 = self.extent
        with mpl.rc_context(self._rc):
            return path_masks([(MplPath(seg.reshape(-1, 2), codes), 0.4, False)],
                              (x0, x1, y0, y1), self.raster_shape)[0]

    def _pixel_cells(self, x: np.ndarray, y: np.ndarray, cell_size_m: float) -> np.ndarray:
        """Index of the cell under each raster pixel (-1: none), computed once per layout.

        Every map of a report draws the same cells, so the pixel -> cell lookup is kept
        (keyed by the coordinate arrays, which are held so their ids stay theirs).
        """
        key = (id(x), id(y), len(x), float(cell_size_m))
        hit = self._pixel_cache.get(key)
        if hit is not None:
            return hit[2]
        n_rows, n_cols = self.raster_shape
        x0, y0, x1, y1 = self.extent
        px = (x1 - x0) / n_cols
        py = (y1 - y0) / n_rows
        cs = float(cell_size_m)
        gx0, gy1 = x.min() - cs / 2, y.max() + cs / 2
        col = np.round((x - x.min()) / cs).astype(np.int64)
        row = np.round((y.max() - y) / cs).astype(np.int64)
        grid = np.full((row.max() + 1, col.max() + 1), -1, dtype=np.int64)
        grid[row, col] = np.arange(len(x))
        cx = x0 + (np.arange(n_cols) + 0.5) * px
        cy = y1 - (np.arange(n_rows) + 0.5) * py
        gc = np.floor((cx - gx0) / cs).astype(np.int64)
        gr = np.floor((gy1 - cy) / cs).astype(np.int64)
        okc = (gc >= 0) & (gc < grid.shape[1])
        okr = (gr >= 0) & (gr < grid.shape[0])
        pix = np.full((n_rows, n_cols), -1, dtype=np.int64)
        pix[np.ix_(okr, okc)] = grid[np.ix_(gr[okr], gc[okc])]
        self._pixel_cache = {key: (x, y, pix)}  # one layout at a time
        return pix

    def _cell_raster(self, x: np.ndarray, y: np.ndarray, values: np.ndarray,
                     cell_size_m: float, style: LayerStyle) -> np.ndarray:
        """RGBA (uint8) of the classed cells on the raster, streets composited on top."""
        cls = np.digitize(np.asarray(values, dtype=float), style.bounds) - 1
        cls[~np.isfinite(values) | (cls < 0) | (cls >= len(style.colors))] = -1
        # the class of each pixel's cell; a pixel without a cell reads the appended -1
        pix = np.append(cls, -1).astype(np.int16)[self._pixel_cells(x, y, cell_size_m)]
        lut = np.zeros((len(style.colors) + 1, 4), dtype=np.float32)
        for i, c in enumerate(style.colors):
            lut[i] = (*to_rgb(c), 0.85)
        if self._streets is None:
            return (lut[pix] * 255).astype(np.uint8)  # -1 -> last row: transparent
        # grey streets over the cells ("over" compositing), tabulated once per class and
        # street alpha level: one lookup per pixel instead of arithmetic on every pixel
        a = (np.arange(256, dtype=np.float32) / 255.0 * 0.55)[None, :]  # street alpha
        cell_a = lut[:, 3][:, None]
        under = cell_a * (1 - a)
        out_a = a + under
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(out_a > 0, 1 / out_a, 0)
        table = np.empty((len(lut), 256, 4), dtype=np.float32)
        table[..., :3] = (0.45 * a[..., None] + lut[:, None, :3] * under[..., None]) \
            * scale[..., None]
        table[..., 3] = out_a
        table8 = (np.clip(table, 0, 1) * 255).astype(np.uint8)
        return table8[pix, self._streets]

    def _graticule(self, ax: Axes) -> None:
        x0, y0, x1, y1 = self.extent
        lon, lat = self._to_lonlat.transform([x0, x1, x0, x1], [y0, y0, y1, y1])
        lon_lo, lon_hi, lat_lo, lat_hi = min(lon), max(lon), min(lat), max(lat)
        step = _nice(max(lon_hi - lon_lo, lat_hi - lat_lo) / 4)
        dec = max(0, int(-np.floor(np.log10(step))))
        xt, xl, yt, yl = [], [], [], []
        for v in np.arange(np.ceil(lon_lo / step) * step, lon_hi, step):
            la = np.linspace(lat_lo - step, lat_hi + step, 50)
            x, y = self._from_lonlat.transform(np.full_like(la, v), la)
            ax.plot(x, y, color="#c8c8c8", lw=0.4, ls=":", zorder=1)
            xb = float(np.interp(y0, y, x))
            if x0 < xb < x1:
                xt.append(xb)
                xl.append(f"{v:.{dec}f}°E")
        for v in np.arange(np.ceil(lat_lo / step) * step, lat_hi, step):
            lo = np.linspace(lon_lo - step, lon_hi + step, 50)
            x, y = self._from_lonlat.transform(lo, np.full_like(lo, v))
            ax.plot(x, y, color="#c8c8c8", lw=0.4, ls=":", zorder=1)
            yb = float(np.interp(x0, x, y))
            if y0 < yb < y1:
                yt.append(yb)
                yl.append(f"{v:.{dec}f}°N")
        ax.set_xticks(xt, xl, fontsize=7)
        ax.set_yticks(yt, yl, fontsize=7, rotation=90, va="center")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)

    def _scale_bar(self, ax: Axes) -> None:
        x0, y0, x1, y1 = self.extent
        length = _nice((x1 - x0) / 5)
        bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
        h = 0.008 * (y1 - y0)
        for i in range(2):
            ax.add_patch(Rectangle((bx + i * length / 2, by), length / 2, h, zorder=6,
                                   facecolor="black" if i == 0 else "white",
                                   edgecolor="black", lw=0.6))
        label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
        ax.text(bx, by + 2 * h, "0", fontsize=7, ha="center", zorder=6)
        ax.text(bx + length, by + 2 * h, label, fontsize=7, ha="center", zorder=6)

    def _north_arrow(self, ax: Axes) -> None:
        x0, y0, x1, y1 = self.extent
        ax_, ay = x1 - 0.05 * (x1 - x0), y1 - 0.13 * (y1 - y0)
        ln = 0.07 * (y1 - y0)
        ax.add_patch(FancyArrow(ax_, ay, 0, ln, width=0.008 * (x1 - x0),
                                head_width=0.03 * (x1 - x0), head_length=0.03 * (y1 - y0),
                                length_includes_head=True, color="black", zorder=6))
        ax.text(ax_, ay + ln * 1.12, "北 N" if self.lang == "zh" else "N", ha="center",
                va="bottom", fontsize=8, fontweight="bold", zorder=6)

    # ---------------------------------------------------------------- drawing
    def figure(self, title: str, *, x: np.ndarray | None = None, y: np.ndarray | None = None,
               values: np.ndarray | None = None, cell_size_m: float | None = None,
               style: LayerStyle | None = None, points: pd.DataFrame | None = None,
               points_label: str | None = None,
               markers: Sequence[tuple[float, float, str]] = (),
               sites: Sequence[tuple[float, float, str]] = (),
               sites_label: str | None = None) -> Figure:
        """A map figure: a classed cell layer over the shared backdrop.

        Parameters
        ----------
        title
            Map title (Chinese is fine).
        x, y, values
            Cell centres (``crs``) and the value per cell; NaN or below the first
            class bound is not drawn.
        cell_size_m
            Cell size for the raster.
        style
            Classes, colours and legend title.
        points
            Optional points (``x``, ``y`` columns) drawn as small markers.
        points_label
            Legend label for ``points``.
        markers
            Numbered markers ``(x, y, text)`` (e.g. gap areas).
        sites
            Proposed new sites ``(x, y, text)``, drawn as labelled green squares.
        sites_label
            Legend label for ``sites``.
        """
        with mpl.rc_context(self._rc):
            fig = Figure(figsize=(self.map_w_in, self.map_h_in + 0.9), dpi=self.dpi)
            ax = fig.add_axes((0.08, 0.1, 0.9, 0.8))
            ax.set_aspect("equal")
            ex = (self.extent[0], self.extent[2], self.extent[1], self.extent[3])
            handles: list[object] = []
            if x is not None and values is not None and style is not None and len(x):
                if y is None or cell_size_m is None:
                    raise ValueError("a cell layer needs x, y, values and cell_size_m")
                img = self._cell_raster(x, y, values, float(cell_size_m), style)
                handles += [Patch(facecolor=c, label=lab)
                            for c, lab in zip(style.colors, style.legend_labels(),
                                              strict=True)]
            else:
                img = self._cell_raster(np.zeros(1), np.zeros(1), np.full(1, np.nan), 1.0,
                                        LayerStyle((0.0, 1.0), ("#ffffff",), ""))
            ax.imshow(img, extent=ex, zorder=2, interpolation="none")
            if self.units is not None and len(self.units):
                self.units.boundary.plot(ax=ax, color="#333333", lw=0.9, zorder=4)
                box = shapely.box(ex[0], ex[2], ex[1], ex[3])
                for geom, name in zip(self.units.geometry, self.units["name"], strict=True):
                    part = shapely.intersection(geom, box)
                    if part.is_empty or part.area < 0.01 * box.area:
                        continue
                    p = part.representative_point()
                    ax.text(p.x, p.y, str(name), fontsize=8, ha="center", va="center",
                            zorder=7, color="#111111",
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                                  "alpha": 0.6})
            if points is not None and len(points):
                ax.scatter(points["x"], points["y"], s=9, marker="^", c="#1f4e9c",
                           edgecolors="white", linewidths=0.3, zorder=5)
                if points_label:
                    handles.append(Line2D([], [], marker="^", ls="", color="#1f4e9c",
                                              label=points_label))
            for mx, my, text in markers:
                ax.annotate(text, (mx, my), fontsize=8, fontweight="bold", color="white",
                            ha="center", va="center", zorder=8,
                            bbox={"boxstyle": "circle,pad=0.2", "fc": "#c0392b",
                                  "ec": "white"})
            for mx, my, text in sites:
                ax.annotate(text, (mx, my), fontsize=7, fontweight="bold", color="white",
                            ha="center", va="center", zorder=9,
                            bbox={"boxstyle": "square,pad=0.25", "fc": "#1e8449",
                                  "ec": "white"})
            if len(sites) and sites_label:
                handles.append(Line2D([], [], marker="s", ls="", color="#1e8449",
                                      label=sites_label))
            self._graticule(ax)
            ax.set_xlabel("")
            ax.set_ylabel("")
            self._scale_bar(ax)
            self._north_arrow(ax)
            if handles:
                ax.legend(handles=handles, title=style.title if style else None, fontsize=7,
                          title_fontsize=7, loc="lower right", framealpha=0.85)
            ax.set_title(title, fontsize=12)
            if self.source_line:
                fig.text(0.08, 0.02, self.source_line, fontsize=6.5, color="#555555")
        return _pin_font(fig)


def save_figure(fig: Figure, path: Path, *, dpi: int | None = None) -> Path:
    """Save a figure (format from the suffix: ``.png`` or ``.svg``) with the CJK font."""
    with mpl.rc_context(_rc()):
        if path.suffix == ".png":
            path.write_bytes(_png_bytes(fig, dpi=dpi))
        else:
            fig.savefig(path, dpi=dpi, metadata={"Date": None})
    return path


def _png_bytes(fig: Figure, *, dpi: int | None = None) -> bytes:
    """The figure as a 256-colour PNG.

    A map has few colours besides the anti-aliased edges, so a palette image looks the
    same at about a third of the bytes: a report embeds its maps, and the browser that
    prints the PDF reads them all.
    """
    old_dpi = fig.get_dpi()
    if dpi is not None:
        fig.set_dpi(dpi)
    try:
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
    finally:
        fig.set_dpi(old_dpi)
    img = Image.fromarray(rgba, "RGBA").convert("RGB")
    pal = img.quantize(256, method=Image.Quantize.FASTOCTREE)
    info = PngInfo()
    info.add_text("Software", "lifecircle")
    buf = io.BytesIO()
    pal.save(buf, format="PNG", compress_level=3, pnginfo=info)
    return buf.getvalue()


def figure_png(fig: Figure) -> bytes:
    """PNG bytes of a figure (drawn with the CJK font)."""
    with mpl.rc_context(_rc()):
        return _png_bytes(fig)


def trend_chart(values: pd.DataFrame, *, title: str, labels: Sequence[str],
                threshold: float | None = None, ylabel: str = "") -> Figure:
    """A line chart of one target over several runs.

    Parameters
    ----------
    values
        One value per run, in run order.
    title
        Chart title.
    labels
        x-axis label per run (e.g. the run labels).
    threshold
        The target's threshold, drawn as a dashed line.
    ylabel
        y-axis label with the unit.
    """
    with mpl.rc_context(_rc()):
        fig = Figure(figsize=(5.5, 2.6), dpi=110)
        ax = fig.add_axes((0.12, 0.22, 0.84, 0.65))
        ax.plot(range(len(values)), values, marker="o", color="#1f4e9c")
        if threshold is not None and np.isfinite(threshold):
            ax.axhline(threshold, color="#c0392b", ls="--", lw=0.8)
        ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    return _pin_font(fig)
