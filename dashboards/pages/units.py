"""Units: per district/township table, sortable, exportable to Excel and CSV."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, ctx, dcc, html

from dashboards.callbacks import (
    export_units,
    finer_level,
    parent_options,
    render_units,
)
from dashboards.components import dropdown_labels, field, text
from dashboards.i18n import STRINGS, tr
from dashboards.state import get_state

dash.register_page(__name__, path="/units", order=2, title="lifecircle",
                   label_key="page_units")


def level_options(levels: list[str], lang: str) -> list[dict[str, str]]:
    """Unit levels of the run, named in ``lang`` when the level is a known one."""
    return [{"label": tr(f"level_{lv}", lang) if f"level_{lv}" in STRINGS else lv,
             "value": lv} for lv in levels]


def layout(**_query: Any) -> html.Div:
    """Level choice, export buttons and the table."""
    levels = list(get_state().result.units)
    return html.Div([
        html.Div([
            field("level", dcc.Dropdown(
                id="un-level", labels=dropdown_labels("zh"), options=level_options(levels, "zh"),
                value=levels[0] if levels else None, clearable=False, persistence=True,
                persistence_type="session", style={"width": "200px"})),
            html.Div(field("parent_unit", dcc.Dropdown(
                id="un-parent", labels=dropdown_labels("zh"), options=[], value="",
                clearable=False, style={"width": "200px"})), id="un-parent-box",
                style={"display": "none"}),
            html.Button(text("export_csv"), id="un-export-csv", n_clicks=0),
            html.Button(text("export_xlsx"), id="un-export-xlsx", n_clicks=0),
        ], className="lc-controls"),
        dcc.Download(id="un-download"),
        html.P(text("drill_help"), className="lc-help"),
        dcc.Loading(html.Div(id="un-body"), type="default")], className="lc-page")


def _download(_csv: int, _xlsx: int, level: str, lang: str,
              edits: list[dict[str, Any]]) -> Any:
    if ctx.triggered_id not in ("un-export-csv", "un-export-xlsx") or not (_csv or _xlsx):
        return dash.no_update
    fmt = "xlsx" if ctx.triggered_id == "un-export-xlsx" else "csv"
    return export_units(fmt, level, lang, edits)


callback(Output("un-level", "options"), Output("un-level", "labels"),
         Input("app-lang", "value"))(
    lambda lang: (level_options(list(get_state().result.units), lang), dropdown_labels(lang)))
callback(Output("un-body", "children"), Input("un-level", "value"),
         Input("app-lang", "value"), Input("app-edits", "data"),
         Input("un-parent", "value"))(render_units)


def _parents(level: Any, lang: Any) -> tuple[Any, Any]:
    opts, shown = parent_options(level, lang)
    return opts, {"display": "block" if shown else "none"}


def _drill(active: Any, data: Any, level: Any, lang: Any) -> tuple[Any, Any]:
    """A click on a unit of a level with units below opens those units."""
    down = finer_level(level) if isinstance(level, str) else None
    if down is None or not isinstance(active, dict) or not isinstance(data, list):
        return dash.no_update, dash.no_update
    i = active.get("row")
    row = data[i] if isinstance(i, int) and 0 <= i < len(data) else None
    uid = row.get(tr("col_unit_id", lang)) if isinstance(row, dict) else None
    if uid is None:
        return dash.no_update, dash.no_update
    return down, str(uid)


callback(Output("un-parent", "options"), Output("un-parent-box", "style"),
         Input("un-level", "value"), Input("app-lang", "value"))(_parents)
callback(Output("un-level", "value"), Output("un-parent", "value"),
         Input("un-table", "active_cell"), State("un-table", "data"),
         State("un-level", "value"), State("app-lang", "value"),
         prevent_initial_call=True)(_drill)
callback(Output("un-download", "data"), Input("un-export-csv", "n_clicks"),
         Input("un-export-xlsx", "n_clicks"), State("un-level", "value"),
         State("app-lang", "value"), State("app-edits", "data"),
         prevent_initial_call=True)(_download)
