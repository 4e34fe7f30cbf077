"""Overview: the scorecard of every target, filterable by plan profile."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from access.targets import PROFILES
from dashboards.callbacks import render_overview
from dashboards.components import field
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
            id="ov-profile", options=profile_options("zh"), value="", clearable=False,
            persistence=True, persistence_type="session", style={"width": "320px"}))],
            className="lc-controls"),
        dcc.Loading(html.Div(id="ov-body"), type="default")], className="lc-page")


callback(Output("ov-profile", "options"), Input("app-lang", "value"))(profile_options)
callback(Output("ov-body", "children"), Input("ov-profile", "value"),
         Input("app-lang", "value"), Input("app-edits", "data"),
         Input("app-scenario-name", "data"))(render_overview)
