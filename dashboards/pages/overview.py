"""Overview: the scorecard of every target, filterable by plan profile."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html

from access.targets import PROFILES
from dashboards.callbacks import clause_panel, render_overview
from dashboards.components import dropdown_labels, field
from dashboards.i18n import tr

dash.register_page(__name__, path="/", order=0, title="lifecircle", label_key="page_overview")


def profile_options(lang: str) -> list[dict[str, str]]:
    """The study area's own catalogue, then the shipped plan profiles."""
    return [{"label": tr("profile_all", lang), "value": ""}] + [
        {"label": tr(f"profile_{p}", lang), "value": p} for p in PROFILES]


def layout(**_query: Any) -> html.Div:
    """Profile filter and the scorecard (filled by callbacks)."""
    return html.Div([
        html.Div([field("profile", dcc.Dropdown(
            id="ov-profile", labels=dropdown_labels("zh"),
            options=profile_options("zh"), value="", clearable=False,
            persistence=True, persistence_type="session", style={"width": "320px"}))],
            className="lc-controls"),
        html.Div(id="ov-clause", className="lc-clause-box"),
        dcc.Loading(html.Div(id="ov-body"), type="default")], className="lc-page")


callback(Output("ov-profile", "options"), Output("ov-profile", "labels"),
         Input("app-lang", "value"))(
    lambda lang: (profile_options(lang), dropdown_labels(lang)))
callback(Output("ov-body", "children"), Input("ov-profile", "value"),
         Input("app-lang", "value"), Input("app-edits", "data"),
         Input("app-scenario-name", "data"))(render_overview)
callback(Output("ov-clause", "children"), Input("ov-scorecard", "active_cell"),
         State("app-lang", "value"), State("ov-scorecard", "data"),
         prevent_initial_call=True)(
    lambda active, lang, data: clause_panel(active, data, lang))
