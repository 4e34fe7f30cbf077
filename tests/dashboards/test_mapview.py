"""The server-drawn map: pixels against the cells, windows, overlays, escaping."""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pyproj import Transformer
from scipy.spatial import cKDTree

from access.network import file_sha256
from dashboards import mapview, raster
from dashboards.figures import time_classes
from dashboards.overlay import load_overlay
from dashboards.state import base_view
from lifecircle.pipeline import RunResult


@pytest.fixture(scope="module")
def ctx(sample_result: RunResult) -> mapview.MapContext:
    return mapview.MapContext.from_result(sample_result)


def _png_indices(fig: object) -> np.ndarray:
    src = fig.layout.images[-1].source  # type: ignore[attr-defined]
    im = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert im.mode == "P"
    return np.asarray(im)


@pytest.mark.parametrize(("frac", "size"), [((0.0, 1.0, 0.0, 1.0), (500, 420)),
                                            ((0.3, 0.6, 0.35, 0.6), (360, 300)),
                                            ((0.45, 0.5, 0.45, 0.5), (200, 180))])
def test_map_image_equals_the_cells_classes(sample_result: RunResult,
                                            ctx: mapview.MapContext,
                                            frac: tuple[float, ...],
                                            size: tuple[int, int]) -> None:
    lon0, lat0, lon1, lat1 = ctx.bounds
    w = raster.Window(lon0 + frac[0] * (lon1 - lon0), lon0 + frac[1] * (lon1 - lon0),
                      lat0 + frac[2] * (lat1 - lat0), lat0 + frac[3] * (lat1 - lat0), *size)
    fig = mapview.map_figure(ctx, base_view(sample_result), window=w,
                             category="primary_school", layer="time", group="total",
                             highlight=None, lang="zh", cat_label="小学")
    got = _png_indices(fig)
    assert got.shape == (size[1], size[0])
    expected, sel = _oracle_classes(sample_result, w)
    np.testing.assert_array_equal(got.ravel()[sel], expected[sel])
    assert (expected != raster.NO_CLASS).any()


def test_streets_in_the_image_leave_the_other_pixels_to_the_cells(
        sample_result: RunResult, ctx: mapview.MapContext, tmp_path: Path) -> None:
    """Streets, water and green are drawn into the grid image; elsewhere the classes hold."""
    ov = load_overlay(sample_result.area.network.path, tmp_path, tolerance_deg=1e-4)
    lon0, lat0, lon1, lat1 = ctx.bounds
    w = raster.Window(lon0 + 0.3 * (lon1 - lon0), lon0 + 0.6 * (lon1 - lon0),
                      lat0 + 0.35 * (lat1 - lat0), lat0 + 0.6 * (lat1 - lat0), 360, 300)
    fig = mapview.map_figure(ctx, base_view(sample_result), window=w,
                             category="primary_school", layer="time", group="total",
                             highlight=None, lang="zh", cat_label="小学", overlay=ov)
    got = _png_indices(fig).ravel()
    masks = mapview.overlay_masks(ov, w)
    drawn = np.zeros(got.shape, bool)
    for m, _, _ in masks:
        drawn |= m.ravel()
    assert 0.01 < drawn.mean() < 0.6  # streets are there, and most pixels are cells
    n_classes = len(mapview.CLASS_COLOURS)
    assert (got[drawn] >= n_classes).all()
    assert (got[drawn] != raster.NO_CLASS).all()
    expected, sel = _oracle_classes(sample_result, w)
    keep = sel & ~drawn
    np.testing.assert_array_equal(got[keep], expected[keep])
    assert not any(t.type == "scatter" and t.x is not None and len(t.x) > 1
                   and t.name == "主干路" for t in fig.data)  # no street vertices sent


def _oracle_classes(sample_result: RunResult, w: raster.Window
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Walking-time class of the cell under each pixel centre, and pixels clear of edges."""
    # oracle: exact projection of every pixel centre, nearest cell centre (Chebyshev)
    cells = sample_result.cells
    spec = sample_result.population.spec
    half = spec.cell_size_m / 2
    lon, lat = w.pixel_centres()
    glon, glat = np.meshgrid(lon, lat)
    tf = Transformer.from_crs("EPSG:4326", sample_result.crs, always_xy=True)
    x, y = tf.transform(glon.ravel(), glat.ravel())
    tree = cKDTree(np.column_stack([cells["x"], cells["y"]]))
    d, i = tree.query(np.column_stack([x, y]), p=np.inf)
    inside = d < half
    clear = np.abs(d - half) > 0.5  # not within half a metre of a cell edge
    expected = np.full(len(x), raster.NO_CLASS)
    cls = time_classes(cells["time_min__primary_school"].to_numpy()).astype(int)
    expected[inside] = cls[i[inside]]
    assert clear.mean() > 0.95
    return expected, clear


def test_population_and_uncovered_layers(sample_result: RunResult,
                                         ctx: mapview.MapContext) -> None:
    cells = sample_result.cells
    cls, colours = mapview.cell_classes(cells, layer="population", category="park",
                                        group="total", highlight=None,
                                        pop_breaks=ctx.pop_breaks)
    pop = cells["pop_total"].to_numpy()
    assert (cls[pop <= 0] == raster.NO_CLASS).all()
    assert set(np.unique(cls[pop > 0])) <= set(range(len(colours)))
    cls, _ = mapview.cell_classes(cells, layer="uncovered", category="park", group="total",
                                  highlight="time15", pop_breaks=ctx.pop_breaks)
    t = cells["time_min__park"].to_numpy()
    assert (cls[(pop > 0) & (t <= 15)] == 0).all()
    assert (cls[(pop > 0) & ~(t <= 15)] == 1).all()


def test_classes_close_at_their_bound() -> None:
    got = raster.class_values(np.array([0, 5, 5.01, 15, 20, 20.5, np.inf, np.nan]),
                              mapview.TIME_BOUNDS_MIN)
    assert got.tolist() == [0, 0, 1, 2, 3, 4, 4, 4]


def test_payload_scales_with_the_screen(sample_result: RunResult,
                                        ctx: mapview.MapContext) -> None:
    view = base_view(sample_result)
    sizes = []
    for px in ((400, 300), (1600, 1000)):
        w = mapview.window_from_view(ctx, None, default_px=px)
        fig = mapview.map_figure(ctx, view, window=w, category="park", layer="time",
                                 group="total", highlight=None, lang="en", cat_label="park")
        sizes.append(len(fig.to_json()))
        assert _png_indices(fig).shape == (w.height_px, w.width_px)
    assert sizes[1] < 1_000_000


def test_unit_names_lonlat_ticks_scale_bar(sample_result: RunResult,
                                           ctx: mapview.MapContext) -> None:
    w = mapview.window_from_view(ctx, None)
    fig = mapview.map_figure(ctx, base_view(sample_result), window=w, category="park",
                             layer="time", group="total", highlight=None, lang="zh",
                             cat_label="公园")
    names = set(sample_result.units["district"]["name"])
    text = [t for t in fig.data if getattr(t, "mode", None) == "text"]
    assert text
    assert set(text[0].text) <= names
    assert len(text[0].text) >= 1
    assert fig.layout.xaxis.ticksuffix == "°E"
    assert fig.layout.yaxis.scaleratio == pytest.approx(
        1 / math.cos(math.radians((w.lat0 + w.lat1) / 2)))
    assert fig.layout.annotations[0].text.endswith(("km", " m"))


def test_user_text_is_escaped(sample_result: RunResult, ctx: mapview.MapContext) -> None:
    view = base_view(sample_result)
    fac = view.facilities.copy()
    i = fac.index[fac["category"] == "park"][0]
    fac.loc[i, "name"] = '<a href="http://evil">点我</a><b style="x">'
    view = type(view)(view.name, view.cells, fac, view.targets, view.completeness)
    w = mapview.window_from_view(ctx, None)
    fig = mapview.map_figure(ctx, view, window=w, category="park", layer="time",
                             group="total", highlight=None, lang="zh", cat_label="<i>公园</i>")
    texts = " ".join(str(t.text) for t in fig.data if t.text is not None)
    names = " ".join(str(t.name) for t in fig.data)
    assert "<a href" not in texts
    assert "&lt;a href=&quot;http://evil&quot;&gt;" in texts
    assert "<i>" not in names


def test_window_rejects_nonsense() -> None:
    for bad in ((1.0, 0.0, 0.0, 1.0, 10, 10), (0.0, 1.0, 0.0, math.nan, 10, 10),
                (0.0, 1.0, 0.0, 1.0, 0, 10), (0.0, 400.0, 0.0, 1.0, 10, 10)):
        with pytest.raises(ValueError, match=r"window|width_px|height_px"):
            raster.Window(*bad)
    assert raster.Window(0.0, 1.0, 0.0, 1.0, 10**6, 10).width_px == raster.MAX_SIDE_PX


def test_intranet_tiles_sit_beneath_the_grid(sample_result: RunResult,
                                             ctx: mapview.MapContext) -> None:
    w = mapview.window_from_view(ctx, None)
    url = "http://tiles.intranet/{z}/{x}/{y}.png"
    fig = mapview.map_figure(ctx, base_view(sample_result), window=w, category="park",
                             layer="time", group="total", highlight=None, lang="zh",
                             cat_label="公园", tiles_url=url)
    tiles = fig.layout.images[:-1]
    assert tiles
    assert all(t.source.startswith("http://tiles.intranet/") for t in tiles)
    west = min(t.x for t in tiles)
    east = max(t.x + t.sizex for t in tiles)
    assert west <= w.lon0
    assert east >= w.lon1
    assert fig.layout.images[-1].source.startswith("data:image/png")
    plain = mapview.map_figure(ctx, base_view(sample_result), window=w, category="park",
                               layer="time", group="total", highlight=None, lang="zh",
                               cat_label="公园")
    assert len(plain.layout.images) == 1  # nothing fetched from anywhere by default


def test_overlay_from_the_areas_own_osm_is_cached(sample_result: RunResult,
                                                   ctx: mapview.MapContext,
                                                   tmp_path: Path) -> None:
    osm = sample_result.area.network.path
    ov = load_overlay(osm, tmp_path, tolerance_deg=1e-4)
    assert len(ov.streets["major"]) > 10
    cache = tmp_path / "map_overlay.geojson"
    doc = json.loads(cache.read_text(encoding="utf-8"))
    assert doc["osm_sha256"] == file_sha256(osm)
    stamp = cache.stat().st_mtime_ns
    again = load_overlay(osm, tmp_path, tolerance_deg=1e-4)
    assert cache.stat().st_mtime_ns == stamp  # read from the cache, not rebuilt
    assert len(again) == len(ov)
    w = mapview.window_from_view(ctx, None)
    fig = mapview.map_figure(ctx, base_view(sample_result), window=w, category="park",
                             layer="time", group="total", highlight=None, lang="zh",
                             cat_label="公园", overlay=again)
    names = [t.name for t in fig.data]
    assert "主干路" in names
    # a stale cache (another OSM file) is rebuilt
    doc["osm_sha256"] = "0" * 64
    cache.write_text(json.dumps(doc), encoding="utf-8")
    load_overlay(osm, tmp_path, tolerance_deg=1e-4)
    assert json.loads(cache.read_text(encoding="utf-8"))["osm_sha256"] == file_sha256(osm)


def test_many_facilities_are_dots_in_the_image(sample_result: RunResult,
                                               ctx: mapview.MapContext,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Above MAX_VECTOR_MARKERS facilities in view, the base run's are drawn into the
    image at their own pixels (a legend entry stays); below, they are hoverable markers."""
    w = mapview.window_from_view(ctx, None)
    view = base_view(sample_result)
    kw = {"window": w, "category": "primary_school", "layer": "time", "group": "total",
          "highlight": None, "lang": "zh", "cat_label": "小学"}
    markers = mapview.map_figure(ctx, view, **kw)
    shown = [t for t in markers.data if t.name == "小学"]
    assert len(shown) == 1
    assert len(shown[0].x) > 1
    monkeypatch.setattr(mapview, "MAX_VECTOR_MARKERS", 0)
    dots = mapview.map_figure(ctx, view, **kw)
    legend = [t for t in dots.data if t.name == "小学"]
    assert len(legend) == 1
    assert list(legend[0].x) == [None]
    plain, dotted = _png_indices(markers), _png_indices(dots)
    im = Image.open(io.BytesIO(base64.b64decode(
        dots.layout.images[-1].source.split(",", 1)[1])))
    palette = np.asarray(im.getpalette(), np.uint8).reshape(-1, 3)
    colour = tuple(int(mapview._FAC_COLOUR[i:i + 2], 16) for i in (1, 3, 5))
    lon, lat = np.asarray(shown[0].x, float), np.asarray(shown[0].y, float)
    col = np.floor((lon - w.lon0) / (w.lon1 - w.lon0) * w.width_px).astype(int)
    row = np.floor((w.lat1 - lat) / (w.lat1 - w.lat0) * w.height_px).astype(int)
    for r, c in zip(row, col, strict=True):
        assert tuple(palette[dotted[r, c]]) == colour
    # away from every dot the image is the one drawn with markers
    far = np.ones_like(plain, dtype=bool)
    for r, c in zip(row, col, strict=True):
        far[max(r - 6, 0):r + 7, max(c - 6, 0):c + 7] = False
    np.testing.assert_array_equal(palette[dotted[far]], palette[plain[far]])
