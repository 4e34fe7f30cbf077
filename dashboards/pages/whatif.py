"""What-if: add or remove facilities on the map and see coverage and targets change."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, ctx, dcc, html

from dashboards.callbacks import (
    add_saved,
    category_options,
    compare_table,
    default_category,
    edit_from_click,
    render_whatif,
)
from dashboards.components import field, text
from dashboards.i18n import tr

dash.register_page(__name__, path="/whatif", order=3, title="lifecircle",
                   label_key="page_whatif")


def _action_options(lang: str) -> list[dict[str, str]]:
    return [{"label": tr("action_add", lang), "value": "add"},
            {"label": tr("action_remove", lang), "value": "remove"}]


def layout(**_query: Any) -> html.Div:
    """Controls, map, scorecard and comparison (filled by callbacks)."""
    keep = {"persistence": True, "persistence_type": "session"}
    controls = [
        field("category", dcc.Dropdown(
            id="wi-category", options=category_options("zh"), value=default_category(),
            clearable=False, style={"width": "220px"}, **keep)),
        field("action", dcc.RadioItems(id="wi-action", value="add", inline=True,
                                       options=_action_options("zh"), **keep)),
        field("lon", dcc.Input(id="wi-lon", type="number", step="any",
                               style={"width": "150px"})),
        field("lat", dcc.Input(id="wi-lat", type="number", step="any",
                               style={"width": "150px"})),
        html.Button(text("apply"), id="wi-apply", n_clicks=0),
        html.Button(text("undo"), id="wi-undo", n_clicks=0),
        html.Button(text("reset"), id="wi-reset", n_clicks=0),
        field("scenario_name", dcc.Input(id="wi-name", type="text", debounce=True,
                                         style={"width": "140px"}, **keep)),
        html.Button(text("save"), id="wi-save", n_clicks=0),
    ]
    return html.Div([
        html.Div(controls, className="lc-controls"),
        html.P(text("whatif_help"), className="lc-help"),
        html.Div(id="wi-message", className="lc-message", role="status"),
        html.Div([
            html.Div(dcc.Loading(dcc.Graph(id="wi-graph", config={"displaylogo": False},
                                           style={"height": "580px"})),
                     className="lc-col-map"),
            html.Div([html.Div(id="wi-status", className="lc-note"),
                      html.Div(id="wi-edits"), html.Div(id="wi-coverage"),
                      html.Div(id="wi-completeness-box")], className="lc-col-side"),
        ], className="lc-row"),
        dcc.Loading(html.Div(id="wi-scorecard-box")),
        html.Div([field("compare", dcc.Dropdown(id="wi-compare-select", options=[], value=[],
                                                multi=True, style={"minWidth": "320px"}))],
                 className="lc-controls"),
        html.Div(id="wi-compare-box"),
    ], className="lc-page")


def _edit(click: Any, _apply: int, _undo: int, _reset: int, action: str, category: str,
          lon: Any, lat: Any, edits: list[dict[str, Any]] | None,
          lang: str) -> tuple[Any, Any]:
    trig = ctx.triggered_id
    edits = list(edits or [])
    clicks = {"wi-apply": _apply, "wi-undo": _undo, "wi-reset": _reset}
    if trig in clicks and not clicks[trig]:
        return dash.no_update, dash.no_update
    if trig == "wi-reset":
        return [], ""
    if trig == "wi-undo":
        return edits[:-1], ""
    if trig == "wi-apply":
        return edit_from_click(edits, action=action, category=category, lang=lang,
                               lon=lon, lat=lat)
    if trig == "wi-graph" and click and click.get("points"):
        p = click["points"][0]
        if "lon" in p and "lat" in p:
            return edit_from_click(edits, action=action, category=category, lang=lang,
                                   lon=p["lon"], lat=p["lat"])
        if "x" in p and "y" in p:
            return edit_from_click(edits, action=action, category=category, lang=lang,
                                   x_m=p["x"], y_m=p["y"])
    return dash.no_update, dash.no_update


def _render(edits: list[dict[str, Any]] | None, category: str, lang: str,
            name: str | None) -> tuple[Any, ...]:
    out = render_whatif(edits, category, lang, name)
    return (out["figure"], out["scorecard"], out["coverage"], out["completeness"],
            out["edits"], out["status"])


def _save(_n: int, name: str | None, edits: list[dict[str, Any]] | None,
          saved: dict[str, Any] | None, lang: str) -> tuple[Any, Any]:
    if not _n:
        return dash.no_update, dash.no_update
    return add_saved(saved, name, edits, lang=lang)


def _compare_options(saved: dict[str, Any] | None) -> tuple[Any, Any]:
    names = list(saved or {})
    return [{"label": n, "value": n} for n in names], names[-3:]


def _options(lang: str) -> tuple[Any, Any]:
    return category_options(lang), _action_options(lang)


callback(Output("wi-category", "options"), Output("wi-action", "options"),
         Input("app-lang", "value"))(_options)
callback(Output("app-edits", "data"), Output("wi-message", "children"),
         Input("wi-graph", "clickData"), Input("wi-apply", "n_clicks"),
         Input("wi-undo", "n_clicks"), Input("wi-reset", "n_clicks"),
         State("wi-action", "value"), State("wi-category", "value"),
         State("wi-lon", "value"), State("wi-lat", "value"), State("app-edits", "data"),
         State("app-lang", "value"), prevent_initial_call=True)(_edit)
callback(Output("wi-graph", "figure"), Output("wi-scorecard-box", "children"),
         Output("wi-coverage", "children"), Output("wi-completeness-box", "children"),
         Output("wi-edits", "children"), Output("wi-status", "children"),
         Input("app-edits", "data"), Input("wi-category", "value"),
         Input("app-lang", "value"), Input("app-scenario-name", "data"))(_render)
callback(Output("app-scenario-name", "data"), Input("wi-name", "value"),
         prevent_initial_call=True)(lambda name: name or None)
callback(Output("app-saved", "data"), Output("wi-message", "children", allow_duplicate=True),
         Input("wi-save", "n_clicks"), State("wi-name", "value"), State("app-edits", "data"),
         State("app-saved", "data"), State("app-lang", "value"),
         prevent_initial_call=True)(_save)
callback(Output("wi-compare-select", "options"), Output("wi-compare-select", "value"),
         Input("app-saved", "data"))(_compare_options)
callback(Output("wi-compare-box", "children"), Input("wi-compare-select", "value"),
         Input("app-saved", "data"),
         Input("app-lang", "value"))(lambda names, saved, lang: compare_table(
             saved, names, lang=lang))
