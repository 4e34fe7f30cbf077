"""Map: walking time to the nearest facility of a category, population, uncovered cells."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dashboards.callbacks import (
    category_options,
    default_category,
    highlight_options,
    render_map,
)
from dashboards.components import field
from dashboards.i18n import tr
from dashboards.state import get_state

dash.register_page(__name__, path="/map", order=1, title="lifecircle", label_key="page_map")


def _layer_options(lang: str) -> list[dict[str, str]]:
    return [{"label": tr("layer_time", lang), "value": "time"},
            {"label": tr("layer_pop", lang), "value": "population"}]


def _group_options(lang: str) -> list[dict[str, str]]:
    return [{"label": tr(f"group_{g}", lang), "value": g}
            for g in get_state().result.population.groups]


def _streets_options(lang: str) -> list[dict[str, str]]:
    return [{"label": tr("streets", lang), "value": "on"}]


def layout(**_query: Any) -> html.Div:
    """Controls, the map and its access line."""
    keep = {"persistence": True, "persistence_type": "session"}
    return html.Div([
        html.Div([
            field("category", dcc.Dropdown(
                id="map-category", options=category_options("zh"), value=default_category(),
                clearable=False, style={"width": "240px"}, **keep)),
            field("layer", dcc.RadioItems(id="map-layer", value="time", inline=True,
                                          options=_layer_options("zh"), **keep)),
            field("group", dcc.Dropdown(id="map-group", value="total", clearable=False,
                                        options=_group_options("zh"),
                                        style={"width": "160px"}, **keep)),
            field("highlight", dcc.Dropdown(
                id="map-highlight", options=highlight_options("zh"), value="time15",
                clearable=False, style={"width": "300px"}, **keep)),
            dcc.Checklist(id="map-streets", value=["on"], options=_streets_options("zh"),
                          **keep),
        ], className="lc-controls"),
        dcc.Loading(dcc.Graph(id="map-graph", config={"displaylogo": False},
                              style={"height": "740px"}), type="default"),
        html.Div(id="map-summary")], className="lc-page")


def _options(lang: str) -> tuple[Any, ...]:
    return (category_options(lang), _layer_options(lang), _group_options(lang),
            highlight_options(lang), _streets_options(lang))


def _update(category: str, layer: str, group: str, highlight: str, streets: list[str],
            lang: str, edits: list[dict[str, Any]]) -> tuple[Any, Any]:
    return render_map(category, layer, group, highlight, "on" in (streets or []), lang, edits)


callback(Output("map-category", "options"), Output("map-layer", "options"),
         Output("map-group", "options"), Output("map-highlight", "options"),
         Output("map-streets", "options"), Input("app-lang", "value"))(_options)
callback(Output("map-graph", "figure"), Output("map-summary", "children"),
         Input("map-category", "value"), Input("map-layer", "value"),
         Input("map-group", "value"), Input("map-highlight", "value"),
         Input("map-streets", "value"), Input("app-lang", "value"),
         Input("app-edits", "data"))(_update)
