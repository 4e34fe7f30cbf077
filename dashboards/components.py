"""Small layout building blocks shared by the pages.

Static text carries a pattern-matching id ``{"type": "lc-tr", "key": key}``; one
callback of the app rewrites every such text when the language changes, so page
layouts can be static (every component id exists when the page loads).
"""

from __future__ import annotations

import warnings
from typing import Any

from dash import dash_table, html

from dashboards.i18n import tr

__all__ = ["TR_TYPE", "data_table", "dropdown_labels", "field", "text", "translate_all"]

TR_TYPE = "lc-tr"


def text(key: str, *, lang: str = "zh", suffix: str = "") -> html.Span:
    """A translatable text span; ``suffix`` keeps ids unique when a key repeats."""
    return html.Span(tr(key, lang), id={"type": TR_TYPE, "key": f"{key}{suffix}"})


def field(key: str, component: Any, *, lang: str = "zh") -> html.Div:
    """A labelled control."""
    return html.Div([html.Label(text(key, lang=lang)), component], className="lc-field")


def dropdown_labels(lang: str) -> dict[str, str]:
    """The built-in texts of ``dcc.Dropdown`` ("Search", "Select All"...) in ``lang``."""
    keys = ("select_all", "deselect_all", "selected_count", "search", "clear_search",
            "clear_selection", "no_options_found")
    return {k: tr(f"dd_{k}", lang) for k in keys}


def translate_all(ids: list[dict[str, str]], lang: str) -> list[str]:
    """Texts of the translatable spans ``ids`` in ``lang`` (``key#n`` uses ``key``)."""
    lang = lang if lang in ("zh", "en") else "zh"
    return [tr(i["key"].split("#", 1)[0], lang) for i in ids]


def data_table(**props: Any) -> dash_table.DataTable:
    """A ``dash_table.DataTable``.

    Dash 4 announces the table's future move out of the core with a
    DeprecationWarning on every construction; the table works and nothing in this
    product can act on the notice, so exactly that warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*The dash_table.DataTable will be removed",
                                category=DeprecationWarning)
        return dash_table.DataTable(**props)
