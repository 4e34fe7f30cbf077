"""The map: server-drawn grid images on longitude/latitude axes, with overlays.

:class:`MapContext` is built once per run (cell lookup, unit outlines and labels in
lon/lat, population class breaks). :func:`map_figure` draws one window of one view:

- the grid layer as a PNG of exactly the plot's pixel size (:mod:`dashboards.raster`);
- a transparent hover lattice (one point every few pixels) whose hover and click
  events the server answers by looking up the cell under the pointer
  (:func:`cell_info`);
- main streets, water and green drawn into that image (:func:`overlay_masks`);
- unit outlines clipped to the window, unit names (the finest level that stays
  readable), facilities in the window, a scale bar.

Everything sent depends on the window and the screen, not on the number of cells.
All user text (facility and unit names) is HTML-escaped before plotly sees it.
"""

from __future__ import annotations

import html
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import shapely
from matplotlib.path import Path as MplPath

from access.crs import WGS84
from dashboards import raster
from dashboards.i18n import STRINGS, tr
from dashboards.overlay import Overlay
from lifecircle.maps import geometry_path, path_masks

__all__ = ["CLASS_COLOURS", "HOVER_PX", "LAYERS", "MapContext", "cell_classes", "cell_info",
           "legend_items", "map_figure", "overlay_masks", "tile_images",
           "window_from_view"]

#: Walking-time classes (upper bounds, minutes) and their colours.
TIME_BOUNDS_MIN = (5.0, 10.0, 15.0, 20.0)
CLASS_COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027")
_TIME_KEYS = ("class_0_5", "class_5_10", "class_10_15", "class_15_20", "class_20_plus")
POP_COLOURS = ("#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026")
COVER_COLOURS = ("#b8d8be", "#7b3294")
LAYERS = ("time", "population", "uncovered")
#: One hover point every HOVER_PX screen pixels.
HOVER_PX = 6
#: Most unit names drawn at once.
MAX_LABELS = 40
#: Most facility markers of one kind drawn at once.
MAX_MARKERS = 4000
#: Above this many facilities of the category in view, the base run's are drawn as
#: dots in the grid image instead of as vector markers: hundreds of SVG markers make
#: the browser's redraw of every pan and zoom slow. Zoomed in, they are markers again,
#: with their names on hover (a cell's hover names its nearest facility either way).
MAX_VECTOR_MARKERS = 150
#: Radius of a facility dot in the image, pixels.
DOT_RADIUS_PX = 4
#: Margins of the map figure around the plot area, in pixels.
MARGIN_PX = {"l": 70, "r": 10, "t": 16, "b": 40}
_FAC_COLOUR = "#1f4e9e"


@dataclass
class MapContext:
    """What every map of a run shares, built once (:meth:`from_result`).

    Attributes
    ----------
    lookup
        Cell under a lon/lat point (:class:`dashboards.raster.GridLookup`).
    bounds
        ``(lon0, lat0, lon1, lat1)`` of the study area.
    unit_outlines
        Level -> simplified unit outlines in lon/lat (shapely geometries).
    unit_labels
        Level -> frame ``unit_id, name, lon, lat`` (a point inside each unit).
    pop_breaks
        Group -> upper bounds of the population classes (persons per cell).
    levels
        Unit levels, coarsest first.
    """

    lookup: raster.GridLookup
    bounds: tuple[float, float, float, float]
    unit_outlines: dict[str, np.ndarray] = field(default_factory=dict)
    unit_labels: dict[str, pd.DataFrame] = field(default_factory=dict)
    pop_breaks: dict[str, tuple[float, ...]] = field(default_factory=dict)
    levels: list[str] = field(default_factory=list)

    @classmethod
    def from_result(cls, result: Any) -> MapContext:
        """The map context of a run (cells, grid, units, CRS)."""
        cells = result.cells
        spec = result.population.spec
        lookup = raster.GridLookup(spec, cells["row"].to_numpy(), cells["col"].to_numpy(),
                                   result.crs)
        x0, y0, x1, y1 = (float(v) for v in result.boundary_lonlat.bounds)
        bounds = (x0, y0, x1, y1)
        outlines: dict[str, np.ndarray] = {}
        labels: dict[str, pd.DataFrame] = {}
        # coarsest level first: fewest units
        levels = sorted(result.unit_polygons, key=lambda lv: len(result.unit_polygons[lv]))
        for level in levels:
            gdf = result.unit_polygons[level]
            ext = max(bounds[2] - bounds[0], bounds[3] - bounds[1])
            lonlat = gdf.to_crs(WGS84)
            geoms = shapely.simplify(lonlat.geometry.to_numpy(), ext / 3000,
                                     preserve_topology=True)
            outlines[level] = shapely.boundary(geoms)
            # a name goes where the unit meets the study area (a unit may reach far beyond)
            inside = shapely.intersection(lonlat.geometry.to_numpy(), result.boundary_lonlat)
            whole = shapely.is_empty(inside)
            inside[whole] = lonlat.geometry.to_numpy()[whole]
            pts = shapely.point_on_surface(inside)
            labels[level] = pd.DataFrame({"unit_id": gdf["unit_id"].astype(str).to_numpy(),
                                          "name": gdf["name"].astype(str).to_numpy(),
                                          "lon": shapely.get_x(pts),
                                          "lat": shapely.get_y(pts)})
        breaks: dict[str, tuple[float, ...]] = {}
        for col in cells.columns:
            if col.startswith("pop_"):
                v = cells[col].to_numpy(float)
                v = v[v > 0]
                if len(v):
                    q = np.quantile(v, [0.2, 0.4, 0.6, 0.8])
                    breaks[col[4:]] = tuple(float(_round_nice(x)) for x in q)
        return cls(lookup, bounds, outlines, labels, breaks, levels)


def _round_nice(x: float) -> float:
    if x <= 0:
        return 0.0
    p = 10 ** math.floor(math.log10(x))
    return round(x / p * 2) / 2 * p if x >= 1 else round(x, 2)


def window_from_view(ctx: MapContext, view: dict[str, Any] | None,
                     default_px: tuple[int, int] = (1000, 640)) -> raster.Window:
    """The window of a ``{"x": [lon0, lon1], "y": [lat0, lat1], "w", "h"}`` view.

    Without a view, the whole study area at ``default_px``; with ``{"w", "h",
    "whole": true}`` (the graph's size in pixels, before anything is drawn), the whole
    study area in the plot area of a graph of that size (:data:`MARGIN_PX` taken off).

    Raises
    ------
    ValueError
        The view is not of that shape, or its numbers are not finite.
    """
    if not view:
        lon0, lat0, lon1, lat1 = ctx.bounds
        pad_x, pad_y = (lon1 - lon0) * 0.03, (lat1 - lat0) * 0.03
        return _fit_aspect(lon0 - pad_x, lon1 + pad_x, lat0 - pad_y, lat1 + pad_y,
                           *default_px)
    if not isinstance(view, dict):
        raise ValueError("map view must be an object")
    if view.get("whole"):
        try:
            gw, gh = int(view["w"]), int(view["h"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"map view is malformed ({exc})") from exc
        m = MARGIN_PX
        return window_from_view(ctx, None, (min(max(gw - m["l"] - m["r"], 50), 4000),
                                            min(max(gh - m["t"] - m["b"], 50), 4000)))
    try:
        x0, x1 = (float(v) for v in view["x"])
        y0, y1 = (float(v) for v in view["y"])
        w, h = int(view["w"]), int(view["h"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"map view is malformed ({exc})") from exc
    lon0, lat0, lon1, lat1 = ctx.bounds
    if x1 < lon0 or x0 > lon1 or y1 < lat0 or y0 > lat1:
        return window_from_view(ctx, None, (max(w, 1), max(h, 1)))  # lost: show it all
    return raster.Window(x0, x1, y0, y1, w, h)


def _fit_aspect(lon0: float, lon1: float, lat0: float, lat1: float, w: int, h: int
                ) -> raster.Window:
    """Widen the window so that one pixel spans the same metres both ways."""
    k = math.cos(math.radians((lat0 + lat1) / 2))
    dx_m, dy_m = (lon1 - lon0) * k, lat1 - lat0
    if dx_m / w < dy_m / h:
        extra = (dy_m / h * w / k - (lon1 - lon0)) / 2
        lon0, lon1 = lon0 - extra, lon1 + extra
    else:
        extra = (dx_m / w * h - (lat1 - lat0)) / 2
        lat0, lat1 = lat0 - extra, lat1 + extra
    return raster.Window(lon0, lon1, lat0, lat1, w, h)


def cell_classes(cells: pd.DataFrame, *, layer: str, category: str, group: str,
                 highlight: str | None, pop_breaks: dict[str, tuple[float, ...]]
                 ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class of every cell for ``layer`` and the colours of the classes.

    ``time``: 5/10/15/20-minute walking classes of ``category`` (unreachable is the
    last class); ``population``: persons of ``group`` by :attr:`MapContext.pop_breaks`
    (empty cells transparent); ``uncovered``: populated cells covered (0) or not (1)
    by ``highlight`` (a target id's ``covered__<id>`` flag, or ``"time15"``).
    """
    pop_col = f"pop_{group}" if f"pop_{group}" in cells else "pop_total"
    pop = cells[pop_col].to_numpy(float)
    if layer == "population":
        breaks = pop_breaks.get(pop_col[4:], (1.0, 10.0, 50.0, 100.0))
        return raster.class_values(pop, breaks, valid=pop > 0), POP_COLOURS
    if layer == "uncovered":
        if highlight and highlight != "time15" and f"covered__{highlight}" in cells:
            flag = cells[f"covered__{highlight}"]
            unc = flag.eq(False).fillna(False).to_numpy(bool)
        else:
            col = f"time_min__{category}"
            t = cells[col].to_numpy(float) if col in cells else np.full(len(cells), np.inf)
            unc = ~(t <= 15.0)
        return np.where(pop > 0, unc.astype(np.uint8), raster.NO_CLASS).astype(np.uint8), \
            COVER_COLOURS
    col = f"time_min__{category}"
    t = cells[col].to_numpy(float) if col in cells else np.full(len(cells), np.inf)
    return raster.class_values(t, TIME_BOUNDS_MIN), CLASS_COLOURS


def legend_items(*, layer: str, group: str, cat_label: str, highlight_label: str,
                 lang: str, pop_breaks: dict[str, tuple[float, ...]]
                 ) -> tuple[str, list[tuple[str, str]]]:
    """Legend title and ``(colour, label)`` rows of a layer."""
    if layer == "population":
        b = pop_breaks.get(group, pop_breaks.get("total", (1.0, 10.0, 50.0, 100.0)))
        edges = [0.0, *b]
        rows = [f"{edges[i]:g}–{edges[i + 1]:g}" for i in range(len(b))] + [f"> {b[-1]:g}"]
        gl = tr(f"group_{group}", lang) if f"group_{group}" in STRINGS else group
        return (f"{gl} · {tr('persons_per_cell', lang)}",
                list(zip(POP_COLOURS, rows, strict=True)))
    if layer == "uncovered":
        return (highlight_label, [(COVER_COLOURS[0], tr("legend_covered", lang)),
                                  (COVER_COLOURS[1], tr("legend_uncovered", lang))])
    return (tr("walk_time_to", lang, cat=cat_label),
            [(c, tr(k, lang)) for c, k in zip(CLASS_COLOURS, _TIME_KEYS, strict=True)])


def _in_window(lon: np.ndarray, lat: np.ndarray, w: raster.Window) -> np.ndarray:
    return (lon >= w.lon0) & (lon <= w.lon1) & (lat >= w.lat0) & (lat <= w.lat1)


def _lines(geoms: np.ndarray, w: raster.Window) -> tuple[np.ndarray, np.ndarray]:
    """Outlines clipped to the window as lon/lat arrays with NaN separators.

    Arrays, not lists: plotly validates a list element by element, an array at once.
    """
    geoms = geoms[shapely.intersects(geoms, shapely.box(w.lon0, w.lat0, w.lon1, w.lat1))]
    clipped = shapely.clip_by_rect(geoms, w.lon0, w.lat0, w.lon1, w.lat1)
    parts = shapely.get_parts(shapely.get_parts(clipped[~shapely.is_empty(clipped)]))
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]  # LineString, LinearRing
    if not len(parts):
        return np.empty(0), np.empty(0)
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    # one NaN row after each part
    breaks = np.flatnonzero(np.diff(idx)) + 1
    xy = np.insert(np.round(coords, 5), breaks, np.nan, axis=0)
    xy = np.vstack([xy, [np.nan, np.nan]])
    return xy[:, 0], xy[:, 1]


def _esc(s: Any) -> str:
    return html.escape("" if s is None or (isinstance(s, float) and math.isnan(s)) else str(s))


def map_figure(ctx: MapContext, view: Any, *, window: raster.Window, category: str,
               layer: str, group: str, highlight: str | None, lang: str,
               cat_label: str, base_facility_ids: set[str] | None = None,
               show_units: bool = True, tiles_url: str | None = None,
               overlay: Overlay | None = None) -> go.Figure:
    """The map of ``view`` (base run or scenario) in ``window``.

    Parameters
    ----------
    ctx
        The run's :class:`MapContext`.
    view
        Has ``cells`` (rows in the run's order) and ``facilities`` (``lon``, ``lat``,
        ``category``, ``name``, ``facility_id``).
    window
        Lon/lat window and its size in pixels.
    category, layer, group, highlight
        What :func:`cell_classes` draws.
    lang
        ``"zh"`` or ``"en"``.
    cat_label
        Display name of ``category``.
    base_facility_ids
        Facilities of the base run; others are drawn as added ones.
    show_units
        Draw unit outlines and names.
    tiles_url
        ``{z}/{x}/{y}`` template of an intranet raster tile server drawn beneath the
        grid (the browser loads the tiles from it); none by default.
    overlay
        Main streets, water and green of the study area's OSM file
        (:mod:`dashboards.overlay`), drawn into the grid image (one image per update,
        however many streets are in view; :func:`overlay_masks`), with legend entries.
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {LAYERS}, got {layer!r}")
    cls, colours = cell_classes(view.cells, layer=layer, category=category, group=group,
                                highlight=highlight, pop_breaks=ctx.pop_breaks)
    positions = ctx.lookup.cells_in_window(window)
    drawn = overlay is not None and len(overlay) > 0
    masks = window_masks(overlay, window) if drawn and overlay else []
    shown, added = _facilities_shown(view, window, category, base_facility_ids)
    dots = len(shown) > MAX_VECTOR_MARKERS
    if dots:  # many markers: dots in the image, not SVG the browser redraws per pan
        masks = [*masks, (_dot_mask(shown, window), _FAC_COLOUR, 1.0)]
    png = raster.render_png(cls, positions, colours, masks)
    fig = go.Figure()
    # hover lattice: events only, never drawn
    nx = max(2, math.ceil(window.width_px / HOVER_PX))
    ny = max(2, math.ceil(window.height_px / HOVER_PX))
    hx = np.round(window.lon0 + (np.arange(nx) + 0.5) * (window.lon1 - window.lon0) / nx, 6)
    hy = np.round(window.lat0 + (np.arange(ny) + 0.5) * (window.lat1 - window.lat0) / ny, 6)
    fig.add_trace(go.Heatmap(x=hx, y=hy, z=np.zeros((ny, nx), np.int8), opacity=0,
                             showscale=False, hoverinfo="none", name="hover",
                             showlegend=False))
    if drawn and overlay:
        _add_overlay_legend(fig, overlay, lang)
    if show_units and ctx.levels:
        widths = np.linspace(2.2, 0.8, len(ctx.levels))
        for level, width in zip(ctx.levels, widths, strict=True):
            xs, ys = _lines(ctx.unit_outlines[level], window)
            lvl = tr(f"level_{level}", lang) if f"level_{level}" in STRINGS else level
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip",
                                     name=_esc(lvl), showlegend=False,
                                     line={"color": "rgba(110,40,150,0.85)",
                                           "width": float(width), "dash": "dash"}))
        lab = _labels_for(ctx, window)
        if lab is not None and len(lab):
            fig.add_trace(go.Scatter(
                x=lab["lon"].round(5), y=lab["lat"].round(5), mode="text",
                text=[_esc(n) for n in lab["name"]], hoverinfo="skip", showlegend=False,
                name="units", textfont={"size": 13, "color": "#1b1b3a"}))
    _add_facilities(fig, shown, added, lang=lang, cat_label=cat_label, as_dots=dots)
    _add_scale_bar(fig, window, lang)
    k = math.cos(math.radians((window.lat0 + window.lat1) / 2))
    grid_image = {"source": raster.png_data_url(png), "xref": "x", "yref": "y",
                  "x": window.lon0, "y": window.lat1, "sizex": window.lon1 - window.lon0,
                  "sizey": window.lat1 - window.lat0, "sizing": "stretch",
                  "layer": "below", "opacity": 0.7 if tiles_url else 0.9}
    fig.update_layout(
        # tiles first (drawn beneath), the grid image last
        images=[*(tile_images(window, tiles_url) if tiles_url else []), grid_image],
        # fixed margins (room for the edge tick labels): a margin that grew would shrink
        # the plot area under the image drawn for its exact size
        margin={**MARGIN_PX, "autoexpand": False}, plot_bgcolor="#f4f4f0",
        paper_bgcolor="white", clickmode="event", dragmode="pan", hovermode="closest",
        # the legend inside the plot area: above it, it would push the top margin and
        # squeeze the image the server drew for the plot area's exact size
        showlegend=True, legend={"orientation": "h", "y": 0.995, "x": 0.005,
                                 "yanchor": "top", "xanchor": "left",
                                 "bgcolor": "rgba(255,255,255,0.75)"},
        xaxis={"range": [window.lon0, window.lon1], "showgrid": True,
               "gridcolor": "rgba(0,0,0,0.08)", "zeroline": False, "tickformat": ".2f",
               "ticksuffix": "°E", "constrain": "domain"},
        yaxis={"range": [window.lat0, window.lat1], "showgrid": True,
               "gridcolor": "rgba(0,0,0,0.08)", "zeroline": False, "tickformat": ".2f",
               "ticksuffix": "°N", "scaleanchor": "x", "scaleratio": 1 / k,
               "constrain": "domain"},
        meta={"w": window.width_px, "h": window.height_px},
        uirevision="map")
    return fig


def _tile_lat(y: int, z: int) -> float:
    n = math.pi - 2 * math.pi * y / 2**z
    return math.degrees(math.atan(math.sinh(n)))


def tile_images(w: raster.Window, url: str, *, max_tiles: int = 64) -> list[dict[str, Any]]:
    """Layout images of the web-map tiles (``{z}/{x}/{y}``) covering the window.

    The zoom level gives tiles of about screen resolution; each tile is placed by its
    lon/lat edges (inside a tile the Mercator stretch is below a pixel at city zooms).
    """
    span = w.lon1 - w.lon0
    z = max(0, min(19, math.floor(math.log2(360.0 / span * w.width_px / 256))))

    def tx(lon: float) -> int:
        return int((lon + 180.0) / 360.0 * 2**z)

    def ty(lat: float) -> int:
        r = math.radians(max(min(lat, 85.05), -85.05))
        return int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * 2**z)

    xs = range(tx(w.lon0), tx(w.lon1) + 1)
    ys = range(ty(w.lat1), ty(w.lat0) + 1)
    if len(xs) * len(ys) > max_tiles:
        return []
    out = []
    for x in xs:
        for y in ys:
            lon_l = x / 2**z * 360.0 - 180.0
            lon_r = (x + 1) / 2**z * 360.0 - 180.0
            lat_t, lat_b = _tile_lat(y, z), _tile_lat(y + 1, z)
            out.append({"source": url.format(z=z, x=x, y=y), "xref": "x", "yref": "y",
                        "x": lon_l, "y": lat_t, "sizex": lon_r - lon_l,
                        "sizey": lat_t - lat_b, "sizing": "stretch", "layer": "below"})
    return out


#: Street class -> colour, opacity and width in pixels.
STREET_STYLE = {"major": ("#464646", 0.85, 2.4), "secondary": ("#505050", 0.7, 1.6),
                "tertiary": ("#5a5a5a", 0.55, 1.0)}
#: Area kind -> fill colour and opacity, outline colour and opacity.
AREA_STYLE = {"water": ("#5096e6", 0.45, "#286ec8", 0.8),
              "green": ("#5ab45a", 0.25, "#288c3c", 0.6)}
_PT_PER_PX = 0.72  # masks are drawn at 100 pixels per inch
_LINE_ON, _FILL_ON = 96, 128  # mask alpha from which a pixel is drawn


#: Overlay masks of the last windows drawn (a what-if edit redraws the window shown).
_MASKS: OrderedDict[tuple[int, raster.Window], tuple[Overlay, list[Any]]] = OrderedDict()
_MASKS_LOCK = threading.Lock()
_MASKS_KEPT = 6


def window_masks(ov: Overlay, w: raster.Window) -> list[tuple[np.ndarray, str, float]]:
    """:func:`overlay_masks`, kept for the last few windows.

    The streets do not change with the cells drawn under them: redrawing the same
    window (a what-if edit, another layer) reuses its masks. The masks are read only.
    """
    key = (id(ov), w)
    with _MASKS_LOCK:
        hit = _MASKS.get(key)
        if hit is not None and hit[0] is ov:
            _MASKS.move_to_end(key)
            return list(hit[1])
    masks = overlay_masks(ov, w)
    for m, _, _ in masks:
        m.flags.writeable = False
    with _MASKS_LOCK:
        _MASKS[key] = (ov, masks)
        while len(_MASKS) > _MASKS_KEPT:
            _MASKS.popitem(last=False)
    return list(masks)


def overlay_masks(ov: Overlay, w: raster.Window) -> list[tuple[np.ndarray, str, float]]:
    """Green, water and streets (main streets last) in the window as image overlays.

    ``(mask, colour, opacity)`` per layer, for :func:`dashboards.raster.render_png`:
    the shapes, simplified to about a pixel (:meth:`Overlay.at_scale`) and taken where
    their bounds meet the window, are rasterised by :func:`lifecircle.maps.path_masks`,
    the report maps' own drawing (which clips them to the image).
    """
    deg = (w.lon1 - w.lon0) / max(w.width_px, 1)

    def visible(kind: str) -> np.ndarray:
        geoms, b = ov.at_scale(kind, deg)
        return geoms[(b[:, 2] >= w.lon0) & (b[:, 0] <= w.lon1) & (b[:, 3] >= w.lat0)
                     & (b[:, 1] <= w.lat1)]

    layers: list[tuple[MplPath, float, bool]] = []
    styles: list[tuple[str, float, int]] = []
    for kind in ("green", "water"):
        if not len(getattr(ov, kind)):
            continue
        fill, fill_op, line, line_op = AREA_STYLE[kind]
        polys = visible(kind)
        path = geometry_path(polys[shapely.area(polys) >= deg ** 2], filled=True)
        if path is not None:
            layers += [(path, 0.0, True), (path, 0.8 * _PT_PER_PX, False)]
            styles += [(fill, fill_op, _FILL_ON), (line, line_op, _LINE_ON)]
    for cls in reversed(list(ov.streets)):  # finest first: the main streets on top
        lines = visible(cls)
        path = geometry_path(lines[shapely.length(lines) >= 3 * deg])
        if path is not None:
            colour, opacity, width_px = STREET_STYLE.get(cls, ("#5a5a5a", 0.5, 1.0))
            layers.append((path, width_px * _PT_PER_PX, False))
            styles.append((colour, opacity, _LINE_ON))
    if not layers:
        return []
    masks = path_masks(layers, (w.lon0, w.lon1, w.lat0, w.lat1),
                       (w.height_px, w.width_px))
    return [(m >= on, colour, opacity)
            for m, (colour, opacity, on) in zip(masks, styles, strict=True)]


def _add_overlay_legend(fig: go.Figure, ov: Overlay, lang: str) -> None:
    """Legend entries of the overlay drawn in the image (traces with no points)."""
    for kind in ("water", "green"):
        if len(getattr(ov, kind)):
            fill, _, line, _ = AREA_STYLE[kind]
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", hoverinfo="skip",
                                     name=_esc(tr(f"legend_{kind}", lang)),
                                     marker={"symbol": "square", "size": 12, "color": fill,
                                             "line": {"color": line, "width": 1}}))
    if "major" in ov.streets and len(ov.streets["major"]):
        colour, _, width_px = STREET_STYLE["major"]
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", hoverinfo="skip",
                                 name=_esc(tr("legend_street_major", lang)),
                                 line={"color": colour, "width": width_px}))


def _labels_for(ctx: MapContext, w: raster.Window) -> pd.DataFrame | None:
    """Names of the finest unit level with at most :data:`MAX_LABELS` units in view."""
    chosen = None
    for level in ctx.levels:
        lab = ctx.unit_labels[level]
        inside = lab[_in_window(lab["lon"].to_numpy(), lab["lat"].to_numpy(), w)]
        if chosen is None or len(inside) <= MAX_LABELS:
            chosen = inside
        if len(inside) > MAX_LABELS:
            break
    if chosen is not None and len(chosen) > MAX_LABELS:
        chosen = chosen.iloc[:MAX_LABELS]
    return chosen


def _fac_text(df: pd.DataFrame, lang: str, cat_label: str) -> list[str]:
    names = df["name"].to_numpy(object)
    fids = df["facility_id"].to_numpy(object)
    out = []
    for n, f in zip(names, fids, strict=True):
        name = n if isinstance(n, str) and n else f
        out.append(f"{_esc(cat_label)}<br>{_esc(name)}")
    return out


def _facilities_shown(view: Any, w: raster.Window, category: str,
                      base_ids: set[str] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The facilities of ``category`` in the window: those of the base run (at most
    :data:`MAX_MARKERS`) and those a what-if added."""
    fac = view.facilities
    sel = fac[fac["category"] == category]
    sel = sel[_in_window(sel["lon"].to_numpy(float), sel["lat"].to_numpy(float), w)]
    if base_ids is not None:
        # the few shown, looked up in the set (isin would convert the whole set)
        is_new = np.array([f not in base_ids for f in sel["facility_id"].to_numpy(object)],
                          dtype=bool)
        kept, added = sel[~is_new], sel[is_new]
    else:
        kept, added = sel, sel.iloc[:0]
    return kept.iloc[:MAX_MARKERS], added


def _dot_mask(fac: pd.DataFrame, w: raster.Window) -> np.ndarray:
    """A disc of :data:`DOT_RADIUS_PX` pixels at each facility, in the window's image."""
    mask = np.zeros((w.height_px, w.width_px), dtype=bool)
    col = np.floor((fac["lon"].to_numpy(float) - w.lon0) / (w.lon1 - w.lon0)
                   * w.width_px).astype(np.int64)
    row = np.floor((w.lat1 - fac["lat"].to_numpy(float)) / (w.lat1 - w.lat0)
                   * w.height_px).astype(np.int64)
    r = DOT_RADIUS_PX
    dy, dx = np.nonzero(np.hypot(*np.mgrid[-r:r + 1, -r:r + 1]) <= r + 0.25)
    rr, cc = (row[:, None] + dy - r).ravel(), (col[:, None] + dx - r).ravel()
    inside = (rr >= 0) & (rr < w.height_px) & (cc >= 0) & (cc < w.width_px)
    mask[rr[inside], cc[inside]] = True
    return mask


def _add_facilities(fig: go.Figure, kept: pd.DataFrame, added: pd.DataFrame, *, lang: str,
                    cat_label: str, as_dots: bool) -> None:
    """Markers of the shown facilities, with their names on hover; with ``as_dots``
    the base run's are dots in the image already: a legend entry only."""
    if as_dots:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", hoverinfo="skip",
                                 name=_esc(cat_label),
                                 marker={"size": 9, "color": _FAC_COLOUR}))
    else:
        fig.add_trace(go.Scatter(
            x=kept["lon"].round(6), y=kept["lat"].round(6), mode="markers",
            name=_esc(cat_label), text=_fac_text(kept, lang, cat_label),
            hovertemplate="%{text}<extra></extra>",
            customdata=kept["facility_id"].astype(str).tolist(),
            marker={"size": 9, "color": _FAC_COLOUR, "line": {"width": 1, "color": "white"}}))
    if len(added):
        fig.add_trace(go.Scatter(
            x=added["lon"].round(6), y=added["lat"].round(6), mode="markers",
            name=_esc(tr("legend_added", lang)), text=_fac_text(added, lang, cat_label),
            hovertemplate="%{text}<extra></extra>",
            customdata=added["facility_id"].astype(str).tolist(),
            marker={"size": 15, "symbol": "star", "color": "#000000",
                    "line": {"width": 1, "color": "white"}}))


def _add_scale_bar(fig: go.Figure, w: raster.Window, lang: str) -> None:
    length_m = raster.scale_bar_m(w)
    k = math.cos(math.radians((w.lat0 + w.lat1) / 2))
    dlon = length_m / (111_320.0 * k)
    x0 = w.lon0 + 0.03 * (w.lon1 - w.lon0)
    y0 = w.lat0 + 0.04 * (w.lat1 - w.lat0)
    text = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    fig.add_shape(type="line", x0=x0, x1=x0 + dlon, y0=y0, y1=y0, xref="x", yref="y",
                  line={"color": "black", "width": 4})
    fig.add_annotation(x=x0 + dlon / 2, y=y0, xref="x", yref="y", text=text,
                       showarrow=False, yshift=12, font={"size": 12},
                       bgcolor="rgba(255,255,255,0.75)")


def cell_info(ctx: MapContext, view: Any, lon: float, lat: float, *, category: str,
              group: str, lang: str, cat_label: str, unit_names: dict[str, str]
              ) -> dict[str, Any] | None:
    """What the cell under ``lon``/``lat`` holds, or None outside the grid.

    Returns ``cell_id``, ``pop``, ``walk_min``, ``nearest_id``, ``nearest_name``
    and ``units`` (names, coarsest level first).
    """
    pos = int(ctx.lookup.cells_at(np.array([lon]), np.array([lat]))[0])
    if pos < 0:
        return None
    cells = view.cells
    row = cells.iloc[pos]
    pop_col = f"pop_{group}" if f"pop_{group}" in cells else "pop_total"
    t = row.get(f"time_min__{category}", np.nan)
    fid = row.get(f"nearest__{category}")
    name = None
    if isinstance(fid, str) and fid:
        fac = view.facilities
        hit = fac.loc[fac["facility_id"] == fid, "name"]
        name = str(hit.iloc[0]) if len(hit) and isinstance(hit.iloc[0], str) else None
    units = [unit_names.get(str(row[f"unit__{lv}"]), str(row[f"unit__{lv}"]))
             for lv in ctx.levels if f"unit__{lv}" in cells and row[f"unit__{lv}"] is not None
             and not (isinstance(row[f"unit__{lv}"], float) and math.isnan(row[f"unit__{lv}"]))]
    return {"cell_id": int(row["cell_id"]), "pop": float(row[pop_col]),
            "walk_min": float(t) if t is not None else math.nan,
            "nearest_id": fid if isinstance(fid, str) else None,
            "nearest_name": name or (fid if isinstance(fid, str) else None),
            "units": units, "category": cat_label}
