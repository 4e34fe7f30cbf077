"""The map widget shared by the map and what-if pages.

:func:`map_block` lays out the graph, its legend and the info line under the pointer;
:func:`register_view_sync` adds the browser-side callback that reports the window the
user sees (after pan, zoom or a resize) so the server draws the grid for exactly
that window and pixel size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import ClientsideFunction, Input, Output, State, clientside_callback, dcc, html
from dash.exceptions import PreventUpdate

__all__ = ["drawn_for_view", "map_block", "register_view_sync"]

_GRAPH_CONFIG: dcc.Graph.Config = {"displaylogo": False, "scrollZoom": True,
                                    "modeBarButtonsToRemove": ["select2d", "lasso2d",
                                                               "autoScale2d", "toImage"]}


def map_block(prefix: str, *, height_px: int) -> html.Div:
    """Graph ``<prefix>-graph``, view store, legend, info line and access summary."""
    return html.Div([
        dcc.Store(id=f"{prefix}-view", storage_type="memory"),
        dcc.Graph(id=f"{prefix}-graph", config=_GRAPH_CONFIG,
                  style={"height": f"{height_px}px"}, className="lc-map"),
        html.Div(id=f"{prefix}-legend"),
        html.Div(id=f"{prefix}-info", className="lc-info", role="status"),
    ], className="lc-map-block")


def register_view_sync(prefix: str) -> None:
    """Report the shown window (``{"x", "y", "w", "h"}``) to ``<prefix>-view``."""
    clientside_callback(
        ClientsideFunction(namespace="lifecircle", function_name="mapView"),
        Output(f"{prefix}-view", "data"),
        Input(f"{prefix}-graph", "relayoutData"), Input(f"{prefix}-graph", "figure"),
        State(f"{prefix}-graph", "id"), State(f"{prefix}-view", "data"))


def drawn_for_view(render: Callable[..., Any]) -> Callable[..., Any]:
    """``render`` called only once the browser has said the graph's size (last argument).

    The first drawing then has the window's own size and aspect, and a page opening
    draws its map once instead of twice.
    """
    def wrapped(*args: Any) -> Any:
        if not args or args[-1] is None:
            raise PreventUpdate
        return render(*args)

    wrapped.__name__ = getattr(render, "__name__", "render")
    wrapped.__doc__ = render.__doc__
    return wrapped
