"""Figures and tables of the dashboard, as pure functions of library results.

Nothing here computes coverage, medians or verdicts: those come from the run
(:class:`lifecircle.pipeline.RunResult`), a scenario (:class:`dashboards.state.View`),
:mod:`lifecircle.summary` and :mod:`access.targets`. This module only arranges them for
display: formatted tables, a grid heatmap in the analysis CRS, street lines and
facility markers, and exports.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from access.crs import metric_to_lonlat
from access.safe_io import csv_bytes, xlsx_bytes
from dashboards.i18n import STRINGS, tr
from lifecircle.scenario import compare_scenarios
from lifecircle.summary import access_table

__all__ = [
    "TIME_CLASSES_MIN",
    "cell_grid",
    "comparison_frame",
    "coverage_rows",
    "edits_lines",
    "frame_to_csv_bytes",
    "frame_to_excel_bytes",
    "map_figure",
    "nearest_facility",
    "scorecard_frame",
    "source_label",
    "street_lines",
    "time_classes",
    "uncovered_mask",
    "units_frame",
]

#: Upper bounds of the walking-time classes of the map, minutes.
TIME_CLASSES_MIN = (5.0, 10.0, 15.0, 20.0)
_CLASS_KEYS = ("class_0_5", "class_5_10", "class_10_15", "class_15_20", "class_20_plus")
_CLASS_COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027")
_STATUS_COLOURS = {"met": "#1a9850", "not_met": "#d73027", "no_data": "#9e9e9e"}
_FAC_COLOURS = ("#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
                "#ff7f0e", "#2ca02c", "#7f7f7f", "#393b79", "#637939", "#843c39",
                "#7b4173", "#3182bd", "#e6550d", "#31a354")
_SOURCE_RE = re.compile(r"^(?P<zh>.*) / (?P<en>.*) \[(?P<key>[^\]]+)\]$")


# ---------------------------------------------------------------------------
# Scorecard
# ---------------------------------------------------------------------------
def source_label(source: str, lang: str) -> str:
    """The ``lang`` half of a target's rendered source (``"zh / en [key]; ..."``)."""
    parts = []
    for part in str(source or "").split("; "):
        m = _SOURCE_RE.match(part)
        parts.append(m.group(lang) if m else part)
    return "；".join(p for p in parts if p) if lang == "zh" else "; ".join(p for p in parts if p)


def format_value(value: Any, unit: str, lang: str) -> str:
    """A target value with its unit: ``31.3%``, ``4.50 每千人``; ``—`` when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "—"
    value = float(value)
    if unit == "share":
        return f"{value:.1%}"
    key = f"unit_{unit}"

    label = tr(key, lang) if key in STRINGS else unit
    return f"{value:.2f} {label}"


def format_threshold(threshold: float, comparison: str, unit: str, lang: str) -> str:
    """``≥ 90.0%``, ``≤ 300 m``-style threshold text."""
    cmp = "≥" if comparison == ">=" else "≤"
    return f"{cmp} {format_value(threshold, unit, lang)}"


def scorecard_frame(targets: pd.DataFrame, *, lang: str = "zh",
                    compare: pd.DataFrame | None = None) -> pd.DataFrame:
    """The scorecard: one row per target, display strings in ``lang``.

    Parameters
    ----------
    targets
        ``TargetResults.targets`` of the view shown.
    lang
        ``"zh"`` or ``"en"``.
    compare
        Targets table of a scenario: adds its value, result and the change.

    Returns
    -------
    DataFrame
        Columns ``id, target, value, threshold, status, source, note, status_key``
        (and ``scenario_value, scenario_status, change, scenario_status_key`` with
        ``compare``). ``status_key`` is ``met``/``not_met``/``no_data`` for styling.
    """
    rows = []
    other = compare.set_index("id") if compare is not None else None
    for r in targets.itertuples(index=False):
        note = r.reason_zh if lang == "zh" else r.reason_en
        warn = r.warning_zh if lang == "zh" else r.warning_en
        if r.status != "no_data" and isinstance(warn, str) and warn:
            note = warn
        row = {
            "id": r.id,
            "target": r.name_zh if lang == "zh" else r.name_en,
            "value": format_value(r.value, r.unit, lang),
            "threshold": format_threshold(r.threshold, r.comparison, r.unit, lang),
            "status": tr(f"status_{r.status}", lang),
            "source": source_label(r.source, lang),
            "note": note if isinstance(note, str) else "",
            "status_key": r.status,
        }
        if other is not None:
            if r.id in other.index:
                o = other.loc[r.id]
                row["scenario_value"] = format_value(o["value"], o["unit"], lang)
                row["scenario_status"] = tr(f"status_{o['status']}", lang)
                row["scenario_status_key"] = o["status"]
                row["change"] = _change_text(r.value, o["value"], r.unit)
            else:
                row.update(scenario_value="—", scenario_status="—",
                           scenario_status_key="no_data", change="")
        rows.append(row)
    cols = ["id", "target", "value", "threshold", "status", "source", "note", "status_key"]
    if other is not None:
        cols += ["scenario_value", "scenario_status", "change", "scenario_status_key"]
    return pd.DataFrame(rows, columns=cols)


def _change_text(before: Any, after: Any, unit: str) -> str:
    try:
        b, a = float(before), float(after)
    except (TypeError, ValueError):
        return ""
    if not (np.isfinite(b) and np.isfinite(a)) or math.isclose(a, b, abs_tol=1e-12):
        return ""
    d = a - b
    return f"{d * 100:+.1f} pp" if unit == "share" else f"{d:+.2f}"


def status_counts(targets: pd.DataFrame) -> dict[str, int]:
    """Number of targets per status (``met``, ``not_met``, ``no_data``)."""
    counts = targets["status"].value_counts()
    return {k: int(counts.get(k, 0)) for k in ("met", "not_met", "no_data")}


def comparison_frame(views: list[Any], *, base: Any, lang: str = "zh") -> pd.DataFrame:
    """Saved scenarios side by side (via :func:`lifecircle.scenario.compare_scenarios`).

    ``views`` carry ``name`` and ``targets``; ``base`` is the run. Values are
    formatted in ``lang``; columns are ``target``, ``threshold`` and, per scenario,
    ``<name>`` (value and result).
    """
    table = compare_scenarios(views, base=base)
    if table.empty:
        return pd.DataFrame()
    out = pd.DataFrame({
        tr("col_target", lang): table["name_zh" if lang == "zh" else "name_en"],
        tr("col_threshold", lang): [format_value(t, u, lang)
                                    for t, u in zip(table["threshold"], table["unit"],
                                                    strict=True)],
    })
    names = ["base"] + [v.name for v in views]
    for name in names:
        vals, stats = table[f"{name}:value"], table[f"{name}:status"]
        label = tr("base", lang) if name == "base" else name
        out[label] = [f"{format_value(v, u, lang)} · {tr(f'status_{s}', lang)}"
                      for v, s, u in zip(vals, stats, table["unit"], strict=True)]
    return out


# ---------------------------------------------------------------------------
# Map
# ---------------------------------------------------------------------------
def time_classes(minutes: np.ndarray) -> np.ndarray:
    """Class index 0..4 of walking times (≤5, 5–10, 10–15, 15–20, >20 or unreachable)."""
    m = np.asarray(minutes, float)
    m = np.where(np.isnan(m), np.inf, m)
    return np.searchsorted(np.asarray(TIME_CLASSES_MIN), m, side="left").astype(float)


def cell_grid(cells: pd.DataFrame, spec: Any, values: np.ndarray) -> np.ndarray:
    """Per-cell ``values`` placed on the ``n_rows × n_cols`` grid, NaN elsewhere."""
    z = np.full((spec.n_rows, spec.n_cols), np.nan)
    z[cells["row"].to_numpy(int), cells["col"].to_numpy(int)] = np.asarray(values, float)
    return z


def _axes(spec: Any) -> tuple[np.ndarray, np.ndarray]:
    cs = spec.cell_size_m
    x = spec.x_min + (np.arange(spec.n_cols) + 0.5) * cs
    y = spec.y_max - (np.arange(spec.n_rows) + 0.5) * cs
    return x, y


def street_lines(network: Any) -> tuple[np.ndarray, np.ndarray]:
    """Street segments of a network as x/y arrays with NaN separators (one trace)."""
    u, v = network.edge_lines()
    x, y = np.asarray(network.x, float), np.asarray(network.y, float)
    sep = np.full(len(u), np.nan)
    return (np.column_stack([x[u], x[v], sep]).ravel(),
            np.column_stack([y[u], y[v], sep]).ravel())


def uncovered_mask(cells: pd.DataFrame, *, category: str, highlight: str | None,
                   group: str = "total") -> np.ndarray:
    """Populated cells to highlight as not covered.

    ``highlight`` is ``None`` (nothing), ``"time15"`` (beyond 15 minutes' walk of
    ``category``, as the run computed it) or a target id (the run's
    ``covered__<id>`` flag is False).
    """
    pop = cells[f"pop_{group}"].to_numpy(float) if f"pop_{group}" in cells else \
        cells["pop_total"].to_numpy(float)
    populated = pop > 0
    if not highlight:
        return np.zeros(len(cells), bool)
    if highlight == "time15":
        col = f"time_min__{category}"
        if col not in cells:
            return populated
        t = cells[col].to_numpy(float)
        return populated & ~(t <= 15.0)
    col = f"covered__{highlight}"
    if col not in cells:
        return np.zeros(len(cells), bool)
    flag = cells[col]
    return populated & flag.eq(False).fillna(False).to_numpy(bool)


def _fmt_min(v: float, lang: str) -> str:
    if not np.isfinite(v):
        return "—"
    return f"{v:.1f} {tr('unit_min', lang)}"


def _hover_text(cells: pd.DataFrame, *, category: str, cat_label: str, group: str,
                lang: str, unit_names: dict[str, str]) -> list[str]:
    pop = cells[f"pop_{group}"].to_numpy(float)
    tcol, dcol = f"time_min__{category}", f"drive_time_min__{category}"
    walk = cells[tcol].to_numpy(float) if tcol in cells else np.full(len(cells), np.nan)
    drive = cells[dcol].to_numpy(float) if dcol in cells else None
    unit_col = next((c for c in cells.columns if c.startswith("unit__")), None)
    units = cells[unit_col].to_numpy(object) if unit_col else None
    glabel = tr(f"group_{group}", lang)
    out = []
    for i, cid in enumerate(cells["cell_id"].to_numpy()):
        parts = [f"{tr('hover_cell', lang)} {int(cid)}",
                 f"{tr('hover_pop', lang)} ({glabel}): {pop[i]:,.0f}",
                 f"{tr('hover_time', lang)} → {cat_label}: {_fmt_min(walk[i], lang)}"]
        if drive is not None:
            parts.append(f"{tr('hover_drive', lang)} → {cat_label}: {_fmt_min(drive[i], lang)}")
        if units is not None and units[i] is not None:
            parts.append(f"{tr('hover_unit', lang)}: {unit_names.get(str(units[i]), units[i])}")
        out.append("<br>".join(parts))
    return out


def _discrete_scale(colours: tuple[str, ...]) -> list[list[Any]]:
    n = len(colours)
    scale: list[list[Any]] = []
    for i, c in enumerate(colours):
        scale.append([i / n, c])
        scale.append([(i + 1) / n, c])
    return scale


def _unit_names(result: Any) -> dict[str, str]:
    names: dict[str, str] = {}
    for table in result.units.values():
        names.update(zip(table["unit_id"].astype(str), table["name"].astype(str), strict=True))
    return names


def map_figure(result: Any, view: Any, *, category: str, lang: str = "zh",
               layer: str = "time", group: str = "total", highlight: str | None = "time15",
               show_streets: bool = True, tiles_url: str | None = None,
               height_px: int = 720) -> go.Figure:
    """The grid map of a view.

    Parameters
    ----------
    result
        The loaded run (grid, networks, CRS, base facilities).
    view
        The base run or a scenario (``cells``, ``facilities``).
    category
        Facility category whose walking time colours the grid.
    layer
        ``"time"`` (5/10/15/20-minute classes) or ``"population"`` (persons of
        ``group`` per cell).
    group
        Population group shown in the hover text and the population layer.
    highlight
        What :func:`uncovered_mask` highlights.
    show_streets
        Draw the walking network.
    tiles_url
        Raster tile URL template; when given the map is drawn on those tiles in
        longitude/latitude, otherwise offline in the analysis CRS.
    """
    if tiles_url:
        return _tile_map(result, view, category=category, lang=lang, layer=layer, group=group,
                         highlight=highlight, tiles_url=tiles_url, height_px=height_px)
    cells = view.cells
    spec = result.population.spec
    gx, gy = _axes(spec)
    tax = result.taxonomy
    cat_label = tax.label(category, lang) if tax is not None and category in tax else category
    if f"pop_{group}" not in cells:
        group = "total"
    text = cell_grid(cells, spec, np.arange(len(cells))).astype(float)
    texts = _hover_text(cells, category=category, cat_label=cat_label, group=group, lang=lang,
                        unit_names=_unit_names(result))
    hover = np.array([*texts, ""], dtype=object)
    idx = np.where(np.isnan(text), len(cells), text).astype(int)
    text_grid = hover[idx]
    fig = go.Figure()
    if layer == "population":
        z = cell_grid(cells, spec, cells[f"pop_{group}"].to_numpy(float))
        fig.add_trace(go.Heatmap(
            x=gx, y=gy, z=z, text=text_grid, hovertemplate="%{text}<extra></extra>",
            colorscale="YlOrRd", name=tr("layer_pop", lang),
            colorbar={"title": {"text": f"{tr(f'group_{group}', lang)}<br>"
                                        f"{tr('persons_per_cell', lang)}"}}))
    else:
        col = f"time_min__{category}"
        minutes = cells[col].to_numpy(float) if col in cells else np.full(len(cells), np.inf)
        z = cell_grid(cells, spec, time_classes(minutes))
        fig.add_trace(go.Heatmap(
            x=gx, y=gy, z=z, zmin=-0.5, zmax=4.5, text=text_grid,
            hovertemplate="%{text}<extra></extra>", name=tr("layer_time", lang),
            colorscale=_discrete_scale(_CLASS_COLOURS), opacity=0.85,
            colorbar={"title": {"text": tr("walk_time_to", lang, cat=cat_label)},
                      "tickvals": list(range(5)),
                      "ticktext": [tr(k, lang) for k in _CLASS_KEYS]}))
    mask = uncovered_mask(cells, category=category, highlight=highlight, group=group)
    if mask.any():
        fig.add_trace(go.Scatter(
            x=cells["x"].to_numpy(float)[mask], y=cells["y"].to_numpy(float)[mask],
            mode="markers", hoverinfo="skip", name=tr("legend_uncovered", lang),
            marker={"symbol": "x-thin", "size": 4, "line": {"width": 1,
                                                            "color": "rgba(40,0,60,0.45)"}}))
    if show_streets and "walk" in result.networks:
        sx, sy = street_lines(result.networks["walk"])
        fig.add_trace(go.Scatter(
            x=sx, y=sy, mode="lines", hoverinfo="skip", name=tr("legend_streets", lang),
            line={"color": "rgba(60,60,60,0.45)", "width": 0.8}))
    _add_facilities(fig, result, view, category=category, lang=lang)
    x0, y1 = spec.x_min, spec.y_max
    x1 = x0 + spec.n_cols * spec.cell_size_m
    y0 = y1 - spec.n_rows * spec.cell_size_m
    fig.update_layout(
        height=height_px, margin={"l": 60, "r": 10, "t": 10, "b": 50},
        plot_bgcolor="#f4f4f0", paper_bgcolor="white", clickmode="event",
        legend={"orientation": "h", "y": -0.08, "x": 0},
        xaxis={"title": {"text": tr("axis_x", lang)}, "range": [x0, x1], "showgrid": False,
               "zeroline": False, "tickformat": ".0f"},
        yaxis={"title": {"text": tr("axis_y", lang)}, "range": [y0, y1], "showgrid": False,
               "zeroline": False, "scaleanchor": "x", "scaleratio": 1, "tickformat": ".0f"},
        uirevision=category)
    return fig


def _facility_groups(result: Any, view: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(kept base facilities, added facilities, removed base facilities) of a view."""
    base_ids = set(result.facilities["facility_id"])
    fac = view.facilities
    in_view = set(fac["facility_id"])
    kept = fac[fac["facility_id"].isin(base_ids)]
    added = fac[~fac["facility_id"].isin(base_ids)]
    removed = result.facilities[~result.facilities["facility_id"].isin(in_view)]
    return kept, added, removed


def _fac_hover(df: pd.DataFrame, result: Any, lang: str) -> list[str]:
    tax = result.taxonomy
    out = []
    for r in df.itertuples(index=False):
        label = tax.label(r.category, lang) if tax is not None and r.category in tax \
            else r.category
        name = r.name if isinstance(r.name, str) and r.name else r.facility_id
        out.append(f"{label}<br>{name}<br>{r.lon:.5f}, {r.lat:.5f}")
    return out


def _add_facilities(fig: go.Figure, result: Any, view: Any, *, category: str,
                    lang: str) -> None:
    kept, added, removed = _facility_groups(result, view)
    tax = result.taxonomy
    cats = sorted(set(result.facilities["category"]))
    for i, c in enumerate(cats):
        sel = kept[kept["category"] == c]
        if sel.empty:
            continue
        label = tax.label(c, lang) if tax is not None and c in tax else c
        fig.add_trace(go.Scatter(
            x=sel.geometry.x, y=sel.geometry.y, mode="markers", name=label,
            text=_fac_hover(sel, result, lang), hovertemplate="%{text}<extra></extra>",
            visible=True if c == category else "legendonly",
            marker={"size": 9 if c == category else 7, "color": _FAC_COLOURS[i % 16],
                    "line": {"width": 1, "color": "white"}}))
    if len(added):
        fig.add_trace(go.Scatter(
            x=added.geometry.x, y=added.geometry.y, mode="markers",
            name=tr("legend_added", lang), text=_fac_hover(added, result, lang),
            hovertemplate="%{text}<extra></extra>",
            marker={"size": 14, "symbol": "star", "color": "#000000",
                    "line": {"width": 1, "color": "white"}}))
    if len(removed):
        fig.add_trace(go.Scatter(
            x=removed.geometry.x, y=removed.geometry.y, mode="markers",
            name=tr("legend_removed", lang), text=_fac_hover(removed, result, lang),
            hovertemplate="%{text}<extra></extra>",
            marker={"size": 12, "symbol": "x", "color": "#000000"}))


def _tile_map(result: Any, view: Any, *, category: str, lang: str, layer: str, group: str,
              highlight: str | None, tiles_url: str, height_px: int) -> go.Figure:
    """The same content on a raster tile server (only when one is configured)."""
    cells = view.cells
    tax = result.taxonomy
    cat_label = tax.label(category, lang) if tax is not None and category in tax else category
    if f"pop_{group}" not in cells:
        group = "total"
    lon, lat = _cells_lonlat(result, cells)
    hover = _hover_text(cells, category=category, cat_label=cat_label, group=group, lang=lang,
                        unit_names=_unit_names(result))
    fig = go.Figure()
    if layer == "population":
        fig.add_trace(go.Scattermap(
            lon=lon, lat=lat, mode="markers", text=hover, hovertemplate="%{text}<extra></extra>",
            name=tr("layer_pop", lang),
            marker={"size": 7, "color": cells[f"pop_{group}"].to_numpy(float),
                    "colorscale": "YlOrRd", "opacity": 0.7, "showscale": True}))
    else:
        col = f"time_min__{category}"
        minutes = cells[col].to_numpy(float) if col in cells else np.full(len(cells), np.inf)
        cls = time_classes(minutes).astype(int)
        for k, key in enumerate(_CLASS_KEYS):
            sel = cls == k
            fig.add_trace(go.Scattermap(
                lon=lon[sel], lat=lat[sel], mode="markers", name=tr(key, lang),
                text=[h for h, s in zip(hover, sel, strict=True) if s],
                hovertemplate="%{text}<extra></extra>",
                marker={"size": 7, "color": _CLASS_COLOURS[k], "opacity": 0.7}))
    mask = uncovered_mask(cells, category=category, highlight=highlight, group=group)
    if mask.any():
        fig.add_trace(go.Scattermap(
            lon=lon[mask], lat=lat[mask], mode="markers", name=tr("legend_uncovered", lang),
            hoverinfo="skip", marker={"size": 4, "color": "rgb(120,0,160)"}))
    kept, added, _ = _facility_groups(result, view)
    sel = kept[kept["category"] == category]
    fig.add_trace(go.Scattermap(lon=sel["lon"], lat=sel["lat"], mode="markers", name=cat_label,
                                text=_fac_hover(sel, result, lang),
                                hovertemplate="%{text}<extra></extra>",
                                marker={"size": 10, "color": "#1f77b4"}))
    if len(added):
        fig.add_trace(go.Scattermap(lon=added["lon"], lat=added["lat"], mode="markers",
                                    name=tr("legend_added", lang),
                                    marker={"size": 14, "color": "#000000"}))
    c = result.boundary_lonlat.centroid
    fig.update_layout(
        height=height_px, margin={"l": 0, "r": 0, "t": 0, "b": 0}, clickmode="event",
        map={"style": "white-bg", "center": {"lon": c.x, "lat": c.y}, "zoom": 12,
             "layers": [{"sourcetype": "raster", "source": [tiles_url], "below": "traces"}]},
        legend={"orientation": "h", "y": 0})
    return fig


def _cells_lonlat(result: Any, cells: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return metric_to_lonlat(cells["x"].to_numpy(float), cells["y"].to_numpy(float), result.crs)


def nearest_facility(view: Any, category: str, x_m: float, y_m: float, *,
                     max_dist_m: float = 300.0) -> str | None:
    """Id of the ``category`` facility of ``view`` nearest to (``x_m``, ``y_m``).

    None when none lies within ``max_dist_m`` (straight line, analysis CRS).
    """
    fac = view.facilities
    sel = fac[fac["category"] == category]
    if sel.empty:
        return None
    d = np.hypot(sel.geometry.x.to_numpy() - x_m, sel.geometry.y.to_numpy() - y_m)
    i = int(np.argmin(d))
    return str(sel["facility_id"].iloc[i]) if d[i] <= max_dist_m else None


# ---------------------------------------------------------------------------
# Access summary and units
# ---------------------------------------------------------------------------
def coverage_rows(result: Any, view: Any, *, lang: str = "zh",
                  group: str = "total") -> list[dict[str, Any]]:
    """:func:`lifecircle.summary.access_table` of a view (base run or scenario)."""
    proxy = dataclasses.replace(result, cells=view.cells, facilities=view.facilities)
    return access_table(proxy, lang=lang, group=group)


def units_frame(result: Any, view: Any, *, level: str, lang: str = "zh") -> pd.DataFrame:
    """Per-unit table: population, the value of every unit-level result, failing rules.

    Values come from ``targets.units`` of the view (one column per target); the
    failing rules are the targets whose unit row is not met.
    """
    units = result.units.get(level)
    if units is None:
        return pd.DataFrame()
    id_c, name_c, pop_c = (tr("col_unit_id", lang), tr("col_unit_name", lang),
                           tr("col_population", lang))
    out = pd.DataFrame({id_c: units["unit_id"].astype(str), name_c: units["name"].astype(str),
                        pop_c: units["pop_total"].round(0)})
    if view.targets is None:
        return out
    tu = view.targets.units
    tu = tu[tu["level"] == level]
    names = view.targets.targets.set_index("id")
    name_col = "name_zh" if lang == "zh" else "name_en"
    failing: dict[str, list[str]] = {}
    for tid, part in tu.groupby("target_id", sort=False):
        label = str(names.loc[tid, name_col]) if tid in names.index else str(tid)
        unit = str(names.loc[tid, "unit"]) if tid in names.index else "share"
        vals = dict(zip(part["unit_id"].astype(str), part["value"], strict=True))
        col = f"{label} ({tr('unit_share', lang)})" if unit == "share" else label
        out[col] = [(round(float(vals[u]) * 100, 1) if unit == "share" else
                     round(float(vals[u]), 2)) if u in vals and pd.notna(vals[u]) else None
                    for u in out[id_c]]
        for u in part.loc[part["met"].eq(False), "unit_id"].astype(str):
            failing.setdefault(u, []).append(label)
    sep = "；" if lang == "zh" else "; "
    out[tr("col_failing", lang)] = [sep.join(failing.get(u, [])) for u in out[id_c]]
    return out


def frame_to_csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV in UTF-8 with a byte-order mark, formula-looking text neutralised
    (:func:`access.safe_io.csv_bytes`)."""
    return csv_bytes(df)


def frame_to_excel_bytes(df: pd.DataFrame, *, sheet: str = "units") -> bytes:
    """An .xlsx workbook holding ``df``, every text cell stored as text, never a formula
    (:func:`access.safe_io.xlsx_bytes`)."""
    return xlsx_bytes({sheet: df})


def edits_lines(edits: list[dict[str, Any]], result: Any, *, lang: str = "zh") -> list[str]:
    """One readable line per edit."""
    tax = result.taxonomy
    base = result.facilities.set_index("facility_id")
    out = []
    for e in edits:
        if e.get("action") == "add":
            cat = e.get("category", "")
            label = tax.label(cat, lang) if tax is not None and cat in tax else cat
            out.append(tr("edit_add", lang, cat=label, lon=float(e["lon"]),
                          lat=float(e["lat"])))
        else:
            fid = str(e.get("facility_id", ""))
            cat = str(base.loc[fid, "category"]) if fid in base.index else ""
            label = tax.label(cat, lang) if tax is not None and cat in tax else cat
            name = base.loc[fid, "name"] if fid in base.index else ""
            out.append(tr("edit_remove", lang, cat=label, fid=name or fid))
    return out
