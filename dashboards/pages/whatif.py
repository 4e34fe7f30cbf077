"""What-if: add, move, re-size or remove facilities and see coverage and targets change.

The session's edits live in the browser (``app-edits``); named scenarios are saved
on the server (:class:`dashboards.store.ScenarioStore`) where every user of the
server sees them, with their author.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, ctx, dcc, html

from dashboards.callbacks import (
    category_options,
    compare_table,
    default_category,
    delete_saved,
    edit_from_click,
    export_scenario,
    import_scenario,
    load_saved,
    point_info,
    render_map,
    render_whatif,
    save_scenario,
    saved_options,
)
from dashboards.components import KEEP, dropdown_labels, field, text
from dashboards.i18n import tr
from dashboards.mapblock import drawn_for_view, map_block, register_view_sync
from dashboards.state import get_state

dash.register_page(__name__, path="/whatif", order=3, title="lifecircle",
                   label_key="page_whatif")

ACTIONS = ("add", "move", "capacity", "remove")


def _action_options(lang: str) -> list[dict[str, str]]:
    return [{"label": tr(f"action_{a}", lang), "value": a} for a in ACTIONS]


def layout(**_query: Any) -> html.Div:
    """Controls, map, scorecard, saved scenarios and comparison (filled by callbacks)."""
    # networks and the cells' target work for the first edit, done while the page is read
    get_state().warm(whatif=True)
    edit_controls = [
        field("category", dcc.Dropdown(
            id="wi-category", labels=dropdown_labels("zh"),
            options=category_options("zh"), value=default_category(),
            clearable=False, style={"width": "250px"}, **KEEP)),
        field("action", dcc.RadioItems(id="wi-action", value="add", inline=True,
                                       options=_action_options("zh"), **KEEP)),
        field("capacity", dcc.Input(id="wi-capacity", type="number", min=0, step="any",
                                    style={"width": "90px"})),
        field("lon", dcc.Input(id="wi-lon", type="number", step="any",
                               style={"width": "120px"})),
        field("lat", dcc.Input(id="wi-lat", type="number", step="any",
                               style={"width": "110px"})),
        html.Button(text("apply"), id="wi-apply", n_clicks=0),
        html.Button(text("undo"), id="wi-undo", n_clicks=0),
        html.Button(text("reset"), id="wi-reset", n_clicks=0),
    ]
    saved_controls = [
        field("scenario_name", dcc.Input(id="wi-name", type="text", debounce=True,
                                         maxLength=80, style={"width": "150px"}, **KEEP)),
        html.Button(text("save"), id="wi-save", n_clicks=0),
        field("saved_scenarios", dcc.Dropdown(id="wi-saved", labels=dropdown_labels("zh"),
                                              options=[], value=None,
                                              style={"width": "220px"},
                                              placeholder="—")),
        html.Button(text("load"), id="wi-load", n_clicks=0),
        html.Button(text("delete"), id="wi-delete", n_clicks=0),
        html.Button(text("export_geojson"), id="wi-export-geojson", n_clicks=0),
        html.Button(text("export_xlsx", suffix="#wi"), id="wi-export-xlsx", n_clicks=0),
        dcc.Upload(html.Button(text("import")), id="wi-upload", multiple=False,
                   accept=".geojson,.json,.xlsx"),
    ]
    return html.Div([
        dcc.Store(id="wi-moving", storage_type="memory"),
        dcc.Store(id="wi-saved-rev", storage_type="memory", data=0),
        dcc.Download(id="wi-download"),
        html.Div(edit_controls, className="lc-controls"),
        html.Div(saved_controls, className="lc-controls"),
        html.P(text("whatif_help"), className="lc-help"),
        html.Div(id="wi-message", className="lc-message", role="status"),
        html.Div([
            html.Div(map_block("wi", height_px=540), className="lc-col-map"),
            html.Div([html.Div(id="wi-status", className="lc-note"),
                      html.Div(id="wi-edits"), html.Div(id="wi-coverage"),
                      html.Div(id="wi-completeness-box")], className="lc-col-side"),
        ], className="lc-row"),
        dcc.Loading(html.Div(id="wi-scorecard-box")),
        html.Div([field("compare", dcc.Dropdown(
            id="wi-compare-select", labels=dropdown_labels("zh"), options=[], value=[],
            multi=True, style={"minWidth": "320px"}))],
                 className="lc-controls"),
        html.Div(id="wi-compare-box"),
    ], className="lc-page")


def _edit(click: Any, _apply: int, _undo: int, _reset: int, _load: int, upload: Any,
          action: str, category: str, lon: Any, lat: Any, capacity: Any, moving: Any,
          saved_name: Any, filename: Any, edits: list[dict[str, Any]] | None,
          lang: str) -> tuple[Any, Any, Any, Any]:
    trig = ctx.triggered_id
    nu = dash.no_update
    clicks = {"wi-apply": _apply, "wi-undo": _undo, "wi-reset": _reset, "wi-load": _load}
    if trig in clicks and not clicks[trig]:
        return nu, nu, nu, nu
    if trig == "wi-reset":
        return [], "", None, nu
    if trig == "wi-undo":
        return list(edits or [])[:-1], "", None, nu
    if trig == "wi-load":
        if not saved_name:
            return nu, tr("choose_saved", lang), nu, nu
        return load_saved(saved_name), tr("loaded", lang, name=saved_name), None, saved_name
    if trig == "wi-upload":
        if upload is None:
            return nu, nu, nu, nu
        new_edits, name, msg = import_scenario(upload, filename, lang=lang)
        if new_edits is None:
            return nu, msg, nu, nu
        return new_edits, msg, None, name
    if trig == "wi-apply":
        new, msg = edit_from_click(edits, action=action, category=category, lang=lang,
                                   lon=lon, lat=lat, capacity=capacity, moving=moving)
    elif trig == "wi-graph" and click:
        p = (click.get("points") or [{}])[0] if isinstance(click, dict) else {}
        new, msg = edit_from_click(edits, action=action, category=category, lang=lang,
                                   lon=p.get("x") if isinstance(p, dict) else None,
                                   lat=p.get("y") if isinstance(p, dict) else None,
                                   capacity=capacity, moving=moving)
    else:
        return nu, nu, nu, nu
    if msg.startswith("PICK:"):
        return nu, tr("move_picked", lang, fid=msg[5:]), msg[5:], nu
    return new, msg, None, nu


def _render(edits: list[dict[str, Any]] | None, category: str, lang: str,
            name: str | None) -> tuple[Any, ...]:
    out = render_whatif(edits, category, lang, name)
    return (out["scorecard"], out["coverage"], out["completeness"], out["edits"],
            out["status"])


def _save(_n: int, _d: int, name: Any, selected: Any, edits: Any, lang: str,
          rev: int) -> tuple[Any, Any]:
    if ctx.triggered_id == "wi-save" and _n:
        return save_scenario(name, edits, lang=lang), (rev or 0) + 1
    if ctx.triggered_id == "wi-delete" and _d and selected:
        return delete_saved(selected, lang=lang), (rev or 0) + 1
    return dash.no_update, dash.no_update


def _saved_lists(_rev: Any, _lang: Any, current: Any) -> tuple[Any, Any, Any]:
    opts = saved_options()
    names = [o["value"] for o in opts]
    compare = [n for n in (current or []) if n in names] or names[-3:]
    return opts, opts, compare


def _export(_g: int, _x: int, name: Any, edits: Any) -> Any:
    if ctx.triggered_id == "wi-export-geojson" and _g:
        return export_scenario("geojson", name, edits)
    if ctx.triggered_id == "wi-export-xlsx" and _x:
        return export_scenario("xlsx", name, edits)
    return dash.no_update


def _options(lang: str) -> tuple[Any, ...]:
    labels = dropdown_labels(lang)
    return category_options(lang), _action_options(lang), labels, labels, labels


callback(Output("wi-category", "options"), Output("wi-action", "options"),
         Output("wi-category", "labels"), Output("wi-saved", "labels"),
         Output("wi-compare-select", "labels"), Input("app-lang", "value"))(_options)
callback(Output("app-edits", "data"), Output("wi-message", "children"),
         Output("wi-moving", "data"), Output("wi-name", "value"),
         Input("wi-graph", "clickData"), Input("wi-apply", "n_clicks"),
         Input("wi-undo", "n_clicks"), Input("wi-reset", "n_clicks"),
         Input("wi-load", "n_clicks"), Input("wi-upload", "contents"),
         State("wi-action", "value"), State("wi-category", "value"),
         State("wi-lon", "value"), State("wi-lat", "value"), State("wi-capacity", "value"),
         State("wi-moving", "data"), State("wi-saved", "value"),
         State("wi-upload", "filename"), State("app-edits", "data"),
         State("app-lang", "value"), prevent_initial_call=True)(_edit)
callback(Output("wi-graph", "figure"), Output("wi-legend", "children"),
         Output("wi-info", "children", allow_duplicate=True),
         Input("wi-category", "value"), Input("app-lang", "value"),
         Input("app-edits", "data"), Input("wi-view", "data"),
         prevent_initial_call="initial_duplicate")(
    drawn_for_view(lambda cat, lang, edits, view: render_map(
        cat, "time", "total", "time15", lang, edits, view, show_summary=False)))
callback(Output("wi-info", "children"), Input("wi-graph", "hoverData"),
         State("wi-category", "value"), State("app-lang", "value"),
         State("app-edits", "data"), prevent_initial_call=True)(
    lambda hover, cat, lang, edits: point_info(hover, cat, "total", lang, edits))
callback(Output("wi-scorecard-box", "children"), Output("wi-coverage", "children"),
         Output("wi-completeness-box", "children"), Output("wi-edits", "children"),
         Output("wi-status", "children"),
         Input("app-edits", "data"), Input("wi-category", "value"),
         Input("app-lang", "value"), Input("app-scenario-name", "data"))(_render)
callback(Output("app-scenario-name", "data"), Input("wi-name", "value"),
         prevent_initial_call=True)(lambda name: name if isinstance(name, str) and name
                                    else None)
callback(Output("wi-message", "children", allow_duplicate=True),
         Output("wi-saved-rev", "data"),
         Input("wi-save", "n_clicks"), Input("wi-delete", "n_clicks"),
         State("wi-name", "value"), State("wi-saved", "value"), State("app-edits", "data"),
         State("app-lang", "value"), State("wi-saved-rev", "data"),
         prevent_initial_call=True)(_save)
callback(Output("wi-saved", "options"), Output("wi-compare-select", "options"),
         Output("wi-compare-select", "value"),
         Input("wi-saved-rev", "data"), Input("app-lang", "value"),
         State("wi-compare-select", "value"))(_saved_lists)
callback(Output("wi-download", "data"), Input("wi-export-geojson", "n_clicks"),
         Input("wi-export-xlsx", "n_clicks"), State("wi-name", "value"),
         State("app-edits", "data"), prevent_initial_call=True)(_export)
callback(Output("wi-compare-box", "children"), Input("wi-compare-select", "value"),
         Input("app-lang", "value"))(lambda names, lang: compare_table(names, lang=lang))
register_view_sync("wi")
