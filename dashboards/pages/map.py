"""Map: walking time to the nearest facility of a category, population, uncovered cells.

The grid is an image the server draws for the window on screen; hovering or clicking
asks the server what the cell under the pointer holds.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboards.callbacks import (
    category_options,
    default_category,
    highlight_options,
    point_info,
    render_map,
)
from dashboards.components import KEEP, dropdown_labels, field
from dashboards.i18n import STRINGS, tr
from dashboards.mapblock import drawn_for_view, map_block, register_view_sync
from dashboards.state import get_state

dash.register_page(__name__, path="/map", order=1, title="lifecircle", label_key="page_map")


def _layer_options(lang: str) -> list[dict[str, str]]:
    return [{"label": tr("layer_time", lang), "value": "time"},
            {"label": tr("layer_pop", lang), "value": "population"},
            {"label": tr("layer_uncovered", lang), "value": "uncovered"}]


def _group_options(lang: str) -> list[dict[str, str]]:
    return [{"label": tr(f"group_{g}", lang) if f"group_{g}" in STRINGS else g, "value": g}
            for g in get_state().result.population.groups]


def layout(**_query: Any) -> html.Div:
    """Controls, the map, its legend and the access line."""
    return html.Div([
        html.Div([
            field("category", dcc.Dropdown(
                id="map-category", labels=dropdown_labels("zh"),
                options=category_options("zh"), value=default_category(),
                clearable=False, style={"width": "260px"}, **KEEP)),
            field("layer", dcc.RadioItems(id="map-layer", value="time", inline=True,
                                          options=_layer_options("zh"), **KEEP)),
            field("group", dcc.Dropdown(id="map-group", labels=dropdown_labels("zh"),
                                        value="total", clearable=False,
                                        options=_group_options("zh"),
                                        style={"width": "150px"}, **KEEP)),
            field("highlight", dcc.Dropdown(
                id="map-highlight", labels=dropdown_labels("zh"),
                options=highlight_options("zh"), value="time15",
                clearable=False, style={"width": "280px"}, **KEEP)),
        ], className="lc-controls"),
        map_block("map", height_px=640),
        html.Div(id="map-summary")], className="lc-page")


def _options(lang: str) -> tuple[Any, ...]:
    labels = dropdown_labels(lang)
    return (category_options(lang), _layer_options(lang), _group_options(lang),
            highlight_options(lang), labels, labels, labels)


callback(Output("map-category", "options"), Output("map-layer", "options"),
         Output("map-group", "options"), Output("map-highlight", "options"),
         Output("map-category", "labels"), Output("map-group", "labels"),
         Output("map-highlight", "labels"), Input("app-lang", "value"))(_options)
callback(Output("map-graph", "figure"), Output("map-legend", "children"),
         Output("map-summary", "children"),
         Input("map-category", "value"), Input("map-layer", "value"),
         Input("map-group", "value"), Input("map-highlight", "value"),
         Input("app-lang", "value"), Input("app-edits", "data"),
         Input("map-view", "data"))(drawn_for_view(render_map))
callback(Output("map-info", "children"), Input("map-graph", "hoverData"),
         Input("map-graph", "clickData"), State("map-category", "value"),
         State("map-group", "value"), State("app-lang", "value"), State("app-edits", "data"),
         prevent_initial_call=True)(lambda hover, click, cat, group, lang, edits: point_info(
             dash.ctx.triggered[0]["value"] if dash.ctx.triggered else None, cat, group,
             lang, edits))
register_view_sync("map")
