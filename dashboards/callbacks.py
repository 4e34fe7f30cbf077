"""Callback bodies of the pages, as plain functions.

The page modules in :mod:`dashboards.pages` only wire these to component ids; each
function takes the control values (and the session's edits) and returns what the
outputs show, so it can be tested without a browser. Library errors become a
message for the user, never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import logging
import math
import threading
from collections.abc import Iterator
from typing import Any

import pandas as pd
from dash import dcc, html
from dash.dash_table.DataTable import DataTable
from werkzeug.exceptions import BadRequest

from access.crs import lonlat_to_metric, metric_to_lonlat
from access.errors import LifecircleError
from access.i18n import t
from dashboards import figures, mapview
from dashboards.components import data_table
from dashboards.i18n import tr
from dashboards.server import current_user, require_editor
from dashboards.state import (
    EditFormatError,
    ProfileError,
    ScenarioCache,
    View,
    build_scenario,
    check_edits,
    check_profile,
    get_state,
)
from dashboards.store import (
    StoreError,
    check_name,
    edits_from_geojson,
    edits_from_xlsx,
    edits_to_geojson,
    edits_to_xlsx,
)

__all__ = [
    "category_options",
    "checked_category",
    "checked_edits",
    "checked_lang",
    "client_errors",
    "coarser_level",
    "compare_table",
    "completeness_table",
    "coverage_list",
    "default_category",
    "delete_saved",
    "edit_from_click",
    "export_scenario",
    "export_units",
    "finer_level",
    "highlight_options",
    "import_scenario",
    "legend_block",
    "load_saved",
    "parent_options",
    "point_info",
    "render_map",
    "render_overview",
    "render_units",
    "render_whatif",
    "save_scenario",
    "saved_options",
    "scorecard_table",
    "who",
]

log = logging.getLogger(__name__)

Edits = list[dict[str, Any]]


def _error_box(exc: Exception, lang: str) -> html.Div:
    return html.Div([html.B(f"{tr('error', lang)}: "), str(exc)], className="lc-error",
                    role="alert")


@contextlib.contextmanager
def client_errors() -> Iterator[None]:
    """Requests of the wrong shape become HTTP 400 with the reason, never a 500."""
    try:
        yield
    except (EditFormatError, ProfileError, StoreError) as exc:
        raise BadRequest(str(exc)) from exc


def checked_lang(lang: Any) -> str:
    """``lang`` if ``"zh"`` or ``"en"``, else HTTP 400."""
    if lang not in ("zh", "en"):
        raise BadRequest("lang must be 'zh' or 'en'")
    return str(lang)


def checked_edits(edits: Any) -> Edits:
    """The session's edits if of the documented shape, else HTTP 400."""
    with client_errors():
        return check_edits(edits, set(get_state().categories))


def checked_category(category: Any) -> str:
    """A category of the taxonomy, else HTTP 400."""
    if not isinstance(category, str) or category not in get_state().categories:
        raise BadRequest(f"unknown category {str(category)[:40]!r}")
    return category


def _view(edits: Edits | None, *, profile: str | None = None,
          name: str = "scenario") -> View:
    state = get_state()
    with client_errors():
        edits = check_edits(edits, set(state.categories))
        prof = check_profile(profile, state.result.area.base_dir)
        return state.cache.view(edits or [], profile=prof, name=name)


# ---------------------------------------------------------------------------
# Scorecard (overview and what-if)
# ---------------------------------------------------------------------------
def scorecard_table(frame: pd.DataFrame, *, lang: str, table_id: str,
                    compact: bool = False) -> DataTable:
    """A scorecard frame (:func:`figures.scorecard_frame`) as a coloured DataTable.

    Sortable and filterable; ``compact`` leaves out the short source column (the
    whole plan clause and notes show on a click, :func:`clause_panel`).
    """
    labels = {"id": tr("col_id", lang), "target": tr("col_target", lang),
              "value": tr("col_value", lang) if "scenario_value" not in frame
              else tr("col_base", lang),
              "threshold": tr("col_threshold", lang), "status": tr("col_status", lang),
              "scenario_value": tr("col_scenario", lang),
              "scenario_status": f"{tr('col_scenario', lang)} · {tr('col_status', lang)}",
              "change": tr("col_change", lang), "source": tr("col_source", lang),
              "note": tr("col_note", lang)}
    # the target's id stays in the rows (row ids, the clause panel) but is not shown:
    # planners read the target's name
    order = ["target", "value", "threshold", "status"]
    if "scenario_value" in frame:
        order += ["scenario_value", "scenario_status", "change"]
    if not compact:
        order += ["source_short"]
        labels["source_short"] = tr("col_source", lang)
        frame = frame.assign(source_short=[s if len(s) <= 24 else s[:23] + "…"
                                           for s in frame["source"].astype(str)])
    style: list[dict[str, Any]] = []
    for col, key_col in (("status", "status_key"), ("scenario_status", "scenario_status_key")):
        if col not in frame:
            continue
        for key, colour in figures._STATUS_COLOURS.items():
            style.append({"if": {"filter_query": f'{{{key_col}}} = "{key}"', "column_id": col},
                          "color": "white", "backgroundColor": colour, "fontWeight": "bold"})
    style.append({"if": {"column_id": "change", "filter_query": '{change} contains "+"'},
                  "color": "#1a9850", "fontWeight": "bold"})
    return data_table(
        id=table_id, data=frame.to_dict("records"),
        columns=[{"name": labels[c], "id": c} for c in order],
        sort_action="native", filter_action="native", page_action="none",
        filter_options={"placeholder_text": tr("filter_placeholder", lang),
                        "case": "insensitive"},
        style_data_conditional=style,
        style_cell={"textAlign": "left", "whiteSpace": "normal", "height": "auto",
                    "fontSize": "13px", "maxWidth": "420px", "padding": "4px"},
        style_header={"fontWeight": "bold", "backgroundColor": "#eef1f5"},
        style_table={"overflowX": "auto"})


def render_overview(profile: str | None, lang: str, edits: Edits | None = None,
                    scenario_name: str | None = None) -> list[Any]:
    """Overview page: status counts and the scorecard of ``profile``.

    With edits, the scenario's values stand beside the current ones.
    """
    try:
        base = _view([], profile=profile)
        scen = _view(edits, profile=profile, name=scenario_name or "scenario") if edits \
            else None
    except LifecircleError as exc:
        return [_error_box(exc, lang)]
    if base.targets is None:
        return [html.P(tr("status_no_data", lang))]
    targets = base.targets.targets
    compare = scen.targets.targets if scen is not None and scen.targets is not None else None
    frame = figures.scorecard_frame(targets, lang=lang, compare=compare)
    shown = compare if compare is not None else targets
    counts = figures.status_counts(shown)
    out: list[Any] = [html.P(tr("summary_counts", lang, **counts), id="ov-counts",
                             className="lc-counts")]
    if scen is not None:
        out.append(html.P(tr("scenario_note", lang, name=scen.name, n=len(edits or [])),
                          className="lc-note"))
    out.append(scorecard_table(frame, lang=lang, table_id="ov-scorecard"))
    return out


def clause_panel(active: Any, data: Any, lang: Any) -> Any:
    """The plan clause and notes of the scorecard row clicked (``active_cell``)."""
    lang = checked_lang(lang)
    if not active or not isinstance(data, list):
        return html.P(tr("clause_help", lang), className="lc-help")
    if not isinstance(active, dict) or not isinstance(active.get("row_id", active.get("row")),
                                                      int | str):
        raise BadRequest("active_cell must be an object with a row")
    rid = active.get("row_id")
    row = next((r for r in data if isinstance(r, dict) and r.get("id") == rid), None)
    if row is None:
        i = active.get("row")
        row = data[i] if isinstance(i, int) and 0 <= i < len(data) else None
    if not isinstance(row, dict):
        return html.P(tr("clause_help", lang), className="lc-help")
    return html.Div([html.B(f"{row.get('target', '')}"), html.Br(),
                     html.Span(f"{tr('clause', lang)}: {row.get('source', '')}"), html.Br(),
                     html.Span(str(row.get("note", "")))], className="lc-clause")


# ---------------------------------------------------------------------------
# Map
# ---------------------------------------------------------------------------
def coverage_list(rows: list[dict[str, Any]], *, category: str, group: str,
                  lang: str) -> html.Div:
    """One line of :func:`figures.coverage_rows` for the chosen category."""
    row = next((r for r in rows if r["category"] == category), None)
    if row is None:
        return html.Div(tr("no_facility_yet", lang), className="lc-note")
    med = row["median_min"]
    med_text = "—" if med != med else (f"> {figures.TIME_CLASSES_MIN[-1]:.0f}"
                                       if med == float("inf") else f"{med:.1f}")
    return html.Div(tr("coverage_line", lang, cat=row["label"], n=row["count"],
                       w15=f"{row['within_15']:.1%}", group=tr(f"group_{group}", lang),
                       med=f"{med_text} {tr('unit_min', lang)}"), className="lc-note")


def legend_block(layer: str, group: str, category: str, highlight: str | None,
                 lang: str) -> html.Div:
    """The legend of a map layer as HTML (colour swatches and labels)."""
    state = get_state()
    hl = next((o["label"] for o in highlight_options(lang) if o["value"] == (highlight or "")),
              tr("highlight_15", lang))
    title, rows = mapview.legend_items(
        layer=layer, group=group, cat_label=state.category_label(category, lang),
        highlight_label=hl, lang=lang, pop_breaks=state.map.pop_breaks)
    return html.Div([html.Div(title, className="lc-legend-title"), *[
        html.Span([html.Span(className="lc-swatch", style={"background": c}), label],
                  className="lc-legend-item") for c, label in rows]], className="lc-legend")


def render_map(category: Any, layer: Any, group: Any, highlight: Any, lang: Any,
               edits: Any = None, map_view: Any = None, *,
               show_summary: bool = True) -> tuple[Any, Any, Any]:
    """Map page: the figure, its legend and the access line of the chosen category.

    ``map_view`` is the window the browser shows (``{"x", "y", "w", "h"}``); the grid
    image is drawn for exactly that window and size.
    """
    state = get_state()
    lang = checked_lang(lang)
    category = checked_category(category)
    if layer not in mapview.LAYERS:
        raise BadRequest(f"unknown layer {str(layer)[:40]!r}")
    group = group if isinstance(group, str) and f"pop_{group}" in state.result.cells \
        else "total"
    try:
        window = mapview.window_from_view(state.map, map_view)
        if map_view:
            window = mapview._fit_aspect(window.lon0, window.lon1, window.lat0, window.lat1,
                                         window.width_px, window.height_px)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    try:
        view = _view(edits)
    except LifecircleError as exc:
        return {}, html.Div(), _error_box(exc, lang)
    fig = mapview.map_figure(state.map, view, window=window, category=category, layer=layer,
                             group=group, highlight=highlight or None, lang=lang,
                             cat_label=state.category_label(category, lang),
                             base_facility_ids=state.base_ids, tiles_url=state.tiles_url,
                             overlay=state.overlay)
    summary: Any = html.Div()
    if show_summary:
        # the line does not depend on the window: pan and zoom reuse it
        key = (_edits_key(edits), category, group, lang)
        summary = state.summaries.get(key)
        if summary is None:
            rows = figures.coverage_rows(state.result, view, lang=lang, group=group,
                                         categories=[category])
            summary = coverage_list(rows, category=category, group=group, lang=lang)
            state.summaries.put(key, summary)
    return fig, legend_block(layer, group, category, highlight, lang), summary


def _edits_key(edits: Any) -> str:
    return ScenarioCache.key(list(edits or []), None)


def point_info(event: Any, category: Any, group: Any, lang: Any,
               edits: Any = None) -> Any:
    """What the cell under the pointer holds (hover or click event of the map)."""
    state = get_state()
    lang = checked_lang(lang)
    category = checked_category(category)
    lonlat = _event_lonlat(event)
    if lonlat is None:
        return tr("map_info_help", lang)
    try:
        view = _view(edits)
    except LifecircleError:
        view = _view([])
    group = group if isinstance(group, str) and f"pop_{group}" in view.cells else "total"
    info = mapview.cell_info(state.map, view, lonlat[0], lonlat[1], category=category,
                             group=group, lang=lang,
                             cat_label=state.category_label(category, lang),
                             unit_names=state.unit_names)
    if info is None:
        return tr("map_info_outside", lang)
    walk = info["walk_min"]
    walk_text = f"{walk:.1f} {tr('unit_min', lang)}" if math.isfinite(walk) \
        else tr("unreachable", lang)
    parts = [f"{lonlat[0]:.5f}°E {lonlat[1]:.5f}°N",
             f"{tr('hover_pop', lang)}: {info['pop']:,.0f}",
             f"{tr('hover_time', lang)} → {info['category']}: {walk_text}"]
    if info["nearest_name"]:
        parts.append(f"{tr('nearest', lang)}: {info['nearest_name']}")
    if info["units"]:
        parts.append(" / ".join(info["units"]))
    return html.Span(" · ".join(parts), id="map-info-text")


def _event_lonlat(event: Any) -> tuple[float, float] | None:
    """Lon/lat of a plotly hover/click event, None when it has none.

    Raises
    ------
    werkzeug.exceptions.BadRequest
        The event is not of plotly's shape or its coordinates are not numbers.
    """
    if not event:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("points"), list):
        raise BadRequest("map event must be an object with a list of points")
    if not event["points"]:
        return None
    p = event["points"][0]
    if not isinstance(p, dict):
        raise BadRequest("map event point must be an object")
    x, y = p.get("x"), p.get("y")
    if isinstance(x, bool) or isinstance(y, bool) or not isinstance(x, int | float) \
            or not isinstance(y, int | float) or not (math.isfinite(x) and math.isfinite(y)):
        raise BadRequest("map event coordinates must be finite numbers")
    return float(x), float(y)


def highlight_options(lang: str) -> list[dict[str, Any]]:
    """Choices of the highlight dropdown: 15 minutes, then each circle target."""
    result = get_state().result
    opts = [{"label": tr("highlight_15", lang), "value": "time15"}]
    if result.targets is not None:
        tt = result.targets.targets.set_index("id")
        for c in result.targets.cell_flags.columns:
            if c.startswith("covered__"):
                tid = c[len("covered__"):]
                name = tt.loc[tid, "name_zh" if lang == "zh" else "name_en"] \
                    if tid in tt.index else tid
                opts.append({"label": str(name), "value": tid})
    return opts


_PREFERRED = ("primary_school", "kindergarten", "clinic", "park")


def default_category() -> str:
    """The first preferred category the run has, else its first category."""
    state = get_state()
    cats = state.result.categories or state.categories
    return next((c for c in _PREFERRED if c in cats), cats[0] if cats else "")


def category_options(lang: str) -> list[dict[str, str]]:
    """Every category of the taxonomy (those without facilities yet too), in ``lang``."""
    state = get_state()
    routed = set(state.result.categories)
    return [{"label": state.category_label(c, lang) + ("" if c in routed else
                                                        f" ({tr('none_yet', lang)})"),
             "value": c} for c in state.categories]

# ---------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------
def coarser_level(level: str) -> str | None:
    """The unit level just above ``level`` (fewer units), or None."""
    levels = get_state().map.levels
    i = levels.index(level) if level in levels else 0
    return levels[i - 1] if i > 0 else None


def finer_level(level: str) -> str | None:
    """The unit level just below ``level`` (more units), or None."""
    levels = get_state().map.levels
    i = levels.index(level) if level in levels else len(levels)
    return levels[i + 1] if i + 1 < len(levels) else None


def parent_options(level: Any, lang: Any) -> tuple[list[dict[str, str]], bool]:
    """Units of the level above ``level`` to filter by, and whether there is such a level."""
    lang = checked_lang(lang)
    state = get_state()
    up = coarser_level(level) if isinstance(level, str) else None
    if up is None:
        return [], False
    table = state.result.units[up]
    return ([{"label": tr("all_units", lang), "value": ""}]
            + [{"label": str(n), "value": str(u)}
               for u, n in zip(table["unit_id"], table["name"], strict=True)]), True


def render_units(level: str | None, lang: str, edits: Edits | None = None,
                 parent: str | None = None) -> list[Any]:
    """Units page: the sortable per-unit table (or why there is none).

    With ``parent`` (a unit of the level above), only its units are listed.
    """
    lang = checked_lang(lang)
    state = get_state()
    result = state.result
    if not result.units:
        return [html.P(tr("no_units", lang))]
    level = level if level in result.units else next(iter(result.units))
    try:
        frame = figures.units_frame(result, _view(edits), level=level, lang=lang)
    except LifecircleError as exc:
        return [_error_box(exc, lang)]
    up = coarser_level(level)
    if parent and up is not None:
        parents = figures.unit_parents(result.cells, level, up)
        ids = frame[tr("col_unit_id", lang)].astype(str)
        frame = frame[[parents.get(u) == str(parent) for u in ids]]
    fail_col = tr("col_failing", lang)
    return [data_table(
        id="un-table", data=frame.to_dict("records"),
        columns=[{"name": c, "id": c, "type": "numeric" if pd.api.types.is_numeric_dtype(
            frame[c]) else "text"} for c in frame.columns],
        sort_action="native", filter_action="native", page_action="none",
        filter_options={"placeholder_text": tr("filter_placeholder", lang),
                        "case": "insensitive"},
        style_cell={"textAlign": "left", "whiteSpace": "normal", "height": "auto",
                    "fontSize": "13px", "padding": "4px", "maxWidth": "160px"},
        style_cell_conditional=[{"if": {"column_id": fail_col}, "maxWidth": "480px",
                                 "minWidth": "320px"}],
        style_header={"fontWeight": "bold", "backgroundColor": "#eef1f5"},
        style_table={"overflowX": "auto"})]


def export_units(fmt: str, level: str | None, lang: str,
                 edits: Edits | None = None) -> dict[str, Any]:
    """The units table as a download (``fmt`` ``"csv"`` or ``"xlsx"``)."""
    result = get_state().result
    level = level if level in result.units else next(iter(result.units))
    frame = figures.units_frame(result, _view(edits), level=level, lang=lang)
    stem = f"{result.area.name}_{level}_units"
    if fmt == "xlsx":
        return dcc.send_bytes(figures.frame_to_excel_bytes(frame, sheet=level),
                              f"{stem}.xlsx")
    return dcc.send_bytes(figures.frame_to_csv_bytes(frame), f"{stem}.csv")


# ---------------------------------------------------------------------------
# What-if
# ---------------------------------------------------------------------------
def edit_from_click(edits: Any, *, action: Any, category: Any, lang: Any,
                    lon: Any = None, lat: Any = None, x_m: Any = None, y_m: Any = None,
                    capacity: Any = None, moving: Any = None) -> tuple[Edits, str]:
    """Apply one click (WGS-84 lon/lat, or metres of the analysis CRS) to the edits.

    ``action``: ``add`` a ``category`` facility there; ``remove`` the nearest
    ``category`` facility within 300 m; ``capacity`` sets the nearest one's capacity;
    ``move`` moves facility ``moving`` (picked by an earlier click) there. Returns the
    new edits and a message ("" when fine). Edits that do not apply leave the list
    unchanged and say why; edits of the wrong shape are HTTP 400.
    """
    state = get_state()
    result = state.result
    lang = checked_lang(lang)
    edits = checked_edits(edits)
    category = checked_category(category)
    if action not in ("add", "remove", "move", "capacity"):
        raise BadRequest(f"unknown action {str(action)[:40]!r}")
    try:
        if x_m is not None and y_m is not None:
            lo, la = metric_to_lonlat_one(float(x_m), float(y_m))
            lon, lat = lo, la
        if lon is None or lat is None or isinstance(lon, bool) or isinstance(lat, bool):
            return edits, tr("bad_number", lang)
        lon, lat = float(lon), float(lat)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return edits, tr("bad_number", lang)
    except (TypeError, ValueError):
        return edits, tr("bad_number", lang)
    xs, ys = lonlat_to_metric([lon], [lat], result.crs)
    x, y = float(xs[0]), float(ys[0])
    if action == "move" and moving:
        new: dict[str, Any] = {"action": "move", "facility_id": str(moving), "lon": lon,
                               "lat": lat}
    elif action == "add":
        new = {"action": "add", "category": category, "lon": lon, "lat": lat}
        if capacity is not None and capacity != "":
            new["capacity"] = capacity
    else:
        view = _view(edits)
        fid = figures.nearest_facility(view, category, x, y, max_dist_m=300.0)
        if fid is None:
            return edits, tr("nothing_near", lang, dist=300.0,
                             cat=state.category_label(category, lang))
        if action == "move":
            return edits, f"PICK:{fid}"
        if action == "capacity":
            if capacity is None or capacity == "":
                return edits, tr("capacity_needed", lang)
            new = {"action": "capacity", "facility_id": fid, "capacity": capacity}
        else:
            new = {"action": "remove", "facility_id": fid}
    try:
        with client_errors():
            build_scenario(state.routable(("walk",)), [*edits, new])
    except BadRequest:
        return edits, tr("bad_number", lang)
    except LifecircleError as exc:
        return edits, f"{tr('error', lang)}: {exc}"
    edits = [*edits, new]
    _evaluate_soon(edits)
    return edits, ""


def _evaluate_soon(edits: Edits) -> None:
    """Start evaluating ``edits`` now, while the browser asks for the pages' update.

    The scorecard and the map callbacks that follow find the evaluation running (the
    cache lets them wait for it) or done, instead of starting it a round trip later.
    An error is left for them to report.
    """
    cache = get_state().cache

    def work() -> None:
        with contextlib.suppress(Exception):
            cache.view(edits)

    threading.Thread(target=work, name="evaluate-edit", daemon=True).start()


def metric_to_lonlat_one(x_m: float, y_m: float) -> tuple[float, float]:
    """WGS-84 lon/lat of a point in the run's metric CRS."""
    lo, la = metric_to_lonlat([x_m], [y_m], get_state().result.crs)
    return float(lo[0]), float(la[0])


def completeness_table(view: View, *, lang: str) -> DataTable:
    """Facility counts against GB 50180 norms for a view (computed by the library)."""
    comp = view.completeness
    comp = comp[comp["expected_min_per_10k"].notna()]
    name = "name_zh" if lang == "zh" else "name_en"
    data = [{"category": r[name], "count": int(r["count"]),
             "per_10k": f"{r['per_10k']:.2f}",
             "expected": f"{r['expected_min_per_10k']:.2f}–{r['expected_max_per_10k']:.2f}"}
            for _, r in comp.iterrows()]
    cols = [("category", "category"), ("count", "count"), ("per_10k", "per_10k"),
            ("expected", "expected_per_10k")]
    return data_table(
        id="wi-completeness", data=data,
        columns=[{"name": t(key, lang), "id": cid} for cid, key in cols],
        page_action="none", style_cell={"textAlign": "left", "fontSize": "12px"},
        style_header={"fontWeight": "bold", "backgroundColor": "#eef1f5"})


def render_whatif(edits: Any, category: Any, lang: Any,
                  scenario_name: Any = None) -> dict[str, Any]:
    """What-if page outputs besides the map: scorecard, access, completeness, edits, status.

    Returns a dict with keys ``scorecard``, ``coverage``, ``completeness``,
    ``edits``, ``status``.
    """
    state = get_state()
    result = state.result
    lang = checked_lang(lang)
    category = checked_category(category)
    edits = checked_edits(edits)
    name = scenario_name if isinstance(scenario_name, str) and scenario_name \
        else tr("default_scenario", lang)
    try:
        view = _view(edits, name=name)
    except LifecircleError as exc:
        view = _view([])
        status: Any = _error_box(exc, lang)
    else:
        cats = [state.category_label(c, lang) for c in view.changed_categories]
        status = tr("eval_time", lang, cats="、".join(cats) if lang == "zh" else ", ".join(cats),
                    s=view.elapsed_s) if edits else tr("no_edits", lang)
    base = _view([])
    frame = figures.scorecard_frame(
        base.targets.targets, lang=lang,
        compare=view.targets.targets if view.targets is not None else None,
        labels=state.key_labels(lang))
    shown = sorted(set(view.changed_categories) | {category})
    # the base run's lines do not change with the edits: computed once per category
    key = ("whatif-base", tuple(shown), lang)
    base_rows = state.summaries.get(key)
    if base_rows is None:
        base_rows = {r["category"]: r for r in figures.coverage_rows(
            result, base, lang=lang, categories=shown)}
        state.summaries.put(key, base_rows)
    same = view.cells is base.cells and view.facilities is base.facilities
    rows = list(base_rows.values()) if same else \
        figures.coverage_rows(result, view, lang=lang, categories=shown)
    cov = html.Ul([html.Li(
        f"{r['label']}: {r['count']} · ≤15 {tr('unit_min', lang)} "
        f"{base_rows[r['category']]['within_15'] if r['category'] in base_rows else 0:.1%}"
        f" → {r['within_15']:.1%}")
        for r in rows if r["category"] in shown], id="wi-coverage-list")
    lines = figures.edits_lines(edits, result, lang=lang)
    return {"scorecard": scorecard_table(frame, lang=lang, table_id="wi-scorecard",
                                         compact=True),
            "coverage": cov, "completeness": completeness_table(view, lang=lang),
            "edits": html.Ol([html.Li(s) for s in lines]) if lines else
            html.P(tr("no_edits", lang)),
            "status": status}


def saved_options() -> list[dict[str, str]]:
    """Saved scenarios of this server as dropdown options (name · author)."""
    return [{"label": f"{s.name} · {s.author}", "value": s.name}
            for s in get_state().store.list()]


def save_scenario(name: Any, edits: Any, *, lang: Any) -> str:
    """Save the current edits on the server under ``name``; editors only (else 403)."""
    lang = checked_lang(lang)
    user = require_editor()
    edits = checked_edits(edits)
    store = get_state().store
    with client_errors():
        if not isinstance(name, str) or not name.strip():
            name = f"{tr('default_scenario', lang)} {len(store.list()) + 1}"
        name = check_name(name)
        try:
            build_scenario(get_state().routable(("walk",)), edits, name=name)
        except EditFormatError:
            raise
        except LifecircleError as exc:
            return f"{tr('error', lang)}: {exc}"
        store.save(name, edits, author=user.name)
    return tr("saved", lang, name=name)


def load_saved(name: Any) -> Edits:
    """Edits of saved scenario ``name`` (HTTP 400 when there is none)."""
    if not isinstance(name, str):
        raise BadRequest("scenario name must be text")
    saved = get_state().store.get(name)
    if saved is None:
        raise BadRequest(f"no saved scenario {name[:40]!r}")
    return saved.edits


def delete_saved(name: Any, *, lang: Any) -> str:
    """Delete a saved scenario; editors only."""
    lang = checked_lang(lang)
    require_editor()
    if not isinstance(name, str) or not get_state().store.delete(name):
        raise BadRequest("no such saved scenario")
    return tr("deleted", lang, name=name)


def export_scenario(fmt: Any, name: Any, edits: Any) -> dict[str, Any]:
    """The current edits as a GeoJSON or Excel download."""
    edits = checked_edits(edits)
    name = name if isinstance(name, str) and name.strip() else "scenario"
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:60] or "scenario"
    if fmt == "xlsx":
        return dcc.send_bytes(edits_to_xlsx(name, edits), f"{stem}.xlsx")
    if fmt == "geojson":
        return dcc.send_bytes(edits_to_geojson(name, edits), f"{stem}.geojson")
    raise BadRequest("format must be 'geojson' or 'xlsx'")


def import_scenario(contents: Any, filename: Any, *, lang: Any) -> tuple[Any, str, str]:
    """Edits, name and a message from an uploaded GeoJSON or Excel scenario file."""
    lang = checked_lang(lang)
    if not isinstance(contents, str) or "," not in contents or not isinstance(filename, str):
        raise BadRequest("upload must be a data URL and a file name")
    try:
        data = base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("upload is not base64") from exc
    try:
        if filename.lower().endswith((".xlsx", ".xlsm")):
            name, edits = edits_from_xlsx(data)
        else:
            name, edits = edits_from_geojson(data)
        check_edits(edits, set(get_state().categories))
        build_scenario(get_state().routable(("walk",)), edits)
    except LifecircleError as exc:
        return None, "", f"{tr('error', lang)}: {filename}: {exc}"
    name = name or filename.rsplit(".", 1)[0]
    return edits, name, tr("imported", lang, name=name, n=len(edits))


def compare_table(names: Any, *, lang: Any) -> Any:
    """Saved scenarios side by side with the current situation."""
    lang = checked_lang(lang)
    store = get_state().store
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadRequest("compare selection must be a list of names")
    saved = [s for s in (store.get(n) for n in names) if s is not None]
    if not saved:
        return html.Div()
    try:
        views = [dataclasses.replace(_view(s.edits, name=s.name), name=s.name) for s in saved]
    except LifecircleError as exc:
        return _error_box(exc, lang)
    frame = figures.comparison_frame(views, base=get_state().result, lang=lang)
    return data_table(
        id="wi-compare", data=frame.to_dict("records"),
        columns=[{"name": c, "id": c} for c in frame.columns], page_action="none",
        sort_action="native",
        style_cell={"textAlign": "left", "fontSize": "12px", "whiteSpace": "normal",
                    "height": "auto"},
        style_header={"fontWeight": "bold", "backgroundColor": "#eef1f5"})


def who(lang: str) -> str:
    """The signed-in user and role, for the header."""
    u = current_user()
    return f"{u.name} · {tr('role_' + u.role, lang)}"
