"""Sites: where the next facilities should go, and accepting them as a what-if scenario.

The question is answered by the library (:func:`lifecircle.site.site_selection`,
through :mod:`dashboards.sites`); the answer stays in the browser (``site-result``)
until the planner saves its sites as a named scenario on the server.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, ctx, dcc, html

from dashboards.callbacks import category_options
from dashboards.components import KEEP, dropdown_labels, field, text
from dashboards.mapblock import drawn_for_view, map_block, register_view_sync
from dashboards.sites import (
    CANDIDATE_SUFFIXES,
    MAX_UPLOAD_BYTES,
    accept_sites,
    model_options,
    run_sites,
    sites_map,
    sites_status,
    sites_table,
    target_options,
)
from dashboards.state import get_state

dash.register_page(__name__, path="/sites", order=4, title="lifecircle",
                   label_key="page_sites")

_DEFAULT_CATEGORY = "kindergarten"


def _default_category() -> str:
    values = [o["value"] for o in category_options("zh")]
    return _DEFAULT_CATEGORY if _DEFAULT_CATEGORY in values else (values[0] if values else "")


def layout(**_query: Any) -> html.Div:
    """Question, map with candidates and sites, ranked table, accept button."""
    get_state().warm()  # networks for the first edit, loaded while the page is read
    controls = [
        field("sites_model", dcc.Dropdown(
            id="site-model", labels=dropdown_labels("zh"), options=model_options("zh"),
            value="mclp", clearable=False, style={"width": "290px"}, **KEEP)),
        field("category", dcc.Dropdown(
            id="site-category", labels=dropdown_labels("zh"),
            options=category_options("zh"), value=_default_category(),
            clearable=False, style={"width": "220px"}, **KEEP)),
        field("sites_complex", dcc.Dropdown(
            id="site-complex", labels=dropdown_labels("zh"),
            options=category_options("zh"), value=[], multi=True,
            style={"width": "300px"}, **KEEP)),
        field("sites_target_field", dcc.Dropdown(
            id="site-target", labels=dropdown_labels("zh"), options=target_options("zh"),
            value=None, style={"width": "230px"}, placeholder="—", **KEEP)),
        field("sites_n", dcc.Input(id="site-n", type="number", min=1, step=1, value=3,
                                  style={"width": "70px"}, **KEEP)),
        field("sites_threshold", dcc.Input(id="site-threshold", type="number", min=0,
                                          max=100, step="any",
                                          style={"width": "80px"}, **KEEP)),
        field("sites_spacing", dcc.Input(id="site-spacing", type="number", min=1,
                                        step="any", style={"width": "80px"}, **KEEP)),
        field("sites_capacity", dcc.Input(id="site-capacity", type="number", min=0,
                                         step="any", style={"width": "90px"}, **KEEP)),
        field("sites_existing_capacity", dcc.Input(
            id="site-existing-capacity", type="number", min=0, step="any",
            style={"width": "90px"}, **KEEP)),
        field("sites_budget", dcc.Input(id="site-budget", type="number", min=0, step="any",
                                       style={"width": "90px"}, **KEEP)),
        field("sites_cost", dcc.Input(id="site-cost", type="number", min=0, step="any",
                                     style={"width": "90px"}, **KEEP)),
        html.Button(text("sites_run"), id="site-run", n_clicks=0),
    ]
    candidates = [
        dcc.Upload(html.Button(text("sites_upload")), id="site-upload", multiple=False,
                   max_size=MAX_UPLOAD_BYTES, accept=",".join(CANDIDATE_SUFFIXES)),
        html.Span(id="site-upload-name", className="lc-note"),
        html.Button("×", id="site-upload-clear", n_clicks=0, title="clear"),
        field("sites_path", dcc.Input(id="site-cand-path", type="text", maxLength=300,
                                     placeholder="candidates.geojson",
                                     style={"width": "220px"}, **KEEP)),
    ]
    accept = [
        field("scenario_name", dcc.Input(id="site-name", type="text", maxLength=80,
                                         style={"width": "180px"})),
        html.Button(text("sites_accept"), id="site-accept", n_clicks=0),
        html.Div(id="site-message", className="lc-message", role="status"),
    ]
    return html.Div([
        html.Div(controls, className="lc-controls"),
        html.Div(candidates, className="lc-controls"),
        dcc.Loading([dcc.Store(id="site-result", storage_type="memory"),
                     html.Div(id="site-status", className="lc-note")]),
        html.Div([
            html.Div(map_block("site", height_px=540), className="lc-col-map"),
            html.Div([html.Div(id="site-table-box"),
                      html.Div(accept, className="lc-controls")], className="lc-col-side"),
        ], className="lc-row"),
    ], className="lc-page")


def _run(n_clicks: int, model: Any, category: Any, n: Any, threshold: Any, spacing: Any,
         target: Any, capacity: Any, existing_capacity: Any, budget: Any, cost: Any,
         upload: Any, upload_name: Any, cand_path: Any, hosted: Any, lang: str) -> Any:
    if not n_clicks:
        return dash.no_update
    return run_sites(model, category, n, threshold, spacing, target, lang,
                     capacity=capacity, existing_capacity=existing_capacity, budget=budget,
                     cost_per_site=cost, upload=upload, upload_name=upload_name,
                     candidates_path=cand_path, complex_categories=hosted)


def _upload_name(name: Any, contents: Any) -> str:
    return str(name)[:120] if contents and isinstance(name, str) else ""


def _clear_upload(n_clicks: int) -> tuple[Any, Any]:
    if not n_clicks:
        return dash.no_update, dash.no_update
    return None, None


def _accept(n_clicks: int, data: Any, name: Any, lang: str) -> Any:
    if not n_clicks or ctx.triggered_id != "site-accept":
        return dash.no_update
    return accept_sites(data, name, lang)


def _options(lang: str) -> tuple[Any, ...]:
    labels = dropdown_labels(lang)
    return (model_options(lang), category_options(lang), target_options(lang),
            category_options(lang), labels, labels, labels, labels)


callback(Output("site-model", "options"), Output("site-category", "options"),
         Output("site-target", "options"), Output("site-complex", "options"),
         Output("site-model", "labels"), Output("site-category", "labels"),
         Output("site-target", "labels"), Output("site-complex", "labels"),
         Input("app-lang", "value"))(_options)
callback(Output("site-result", "data"), Input("site-run", "n_clicks"),
         State("site-model", "value"), State("site-category", "value"),
         State("site-n", "value"), State("site-threshold", "value"),
         State("site-spacing", "value"), State("site-target", "value"),
         State("site-capacity", "value"), State("site-existing-capacity", "value"),
         State("site-budget", "value"), State("site-cost", "value"),
         State("site-upload", "contents"), State("site-upload", "filename"),
         State("site-cand-path", "value"), State("site-complex", "value"),
         State("app-lang", "value"), prevent_initial_call=True)(_run)
callback(Output("site-upload-name", "children"), Input("site-upload", "filename"),
         Input("site-upload", "contents"))(_upload_name)
callback(Output("site-upload", "contents"), Output("site-upload", "filename"),
         Input("site-upload-clear", "n_clicks"), prevent_initial_call=True)(_clear_upload)
callback(Output("site-status", "children"), Output("site-table-box", "children"),
         Input("site-result", "data"), Input("app-lang", "value"))(
    lambda data, lang: (sites_status(data, lang), sites_table(data, lang)))
callback(Output("site-graph", "figure"), Output("site-legend", "children"),
         Input("site-result", "data"), Input("site-category", "value"),
         Input("app-lang", "value"), Input("site-view", "data"))(drawn_for_view(sites_map))
callback(Output("site-message", "children"), Input("site-accept", "n_clicks"),
         State("site-result", "data"), State("site-name", "value"),
         State("app-lang", "value"), prevent_initial_call=True)(_accept)
register_view_sync("site")
