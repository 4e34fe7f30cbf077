"""Small layout building blocks shared by the pages.

Static text carries a pattern-matching id ``{"type": "lc-tr", "key": key}``; one
callback of the app rewrites every such text when the language changes, so page
layouts can be static (every component id exists when the page loads).
"""

from __future__ import annotations

import warnings
from typing import Any, Literal, TypedDict

from dash import dcc, html
from dash.dash_table.DataTable import DataTable

from dashboards.i18n import tr

__all__ = ["KEEP", "TR_TYPE", "Persistence", "data_table", "dropdown_labels", "field", "text",
           "translate_all"]

TR_TYPE = "lc-tr"


class Persistence(TypedDict):
    """The persistence keywords a Dash control accepts."""

    persistence: bool
    persistence_type: Literal["local", "session", "memory"]


KEEP: Persistence = {"persistence": True, "persistence_type": "session"}
"""A control keeps the user's choice for the browser session (``**KEEP``)."""


def text(key: str, *, lang: str = "zh", suffix: str = "") -> html.Span:
    """A translatable text span; ``suffix`` keeps ids unique when a key repeats."""
    return html.Span(tr(key, lang), id={"type": TR_TYPE, "key": f"{key}{suffix}"})


def field(key: str, component: Any, *, lang: str = "zh") -> html.Div:
    """A labelled control."""
    return html.Div([html.Label(text(key, lang=lang)), component], className="lc-field")


def dropdown_labels(lang: str) -> dcc.Dropdown.Labels:
    """The built-in texts of ``dcc.Dropdown`` ("Search", "Select All"...) in ``lang``."""
    return {"select_all": tr("dd_select_all", lang),
            "deselect_all": tr("dd_deselect_all", lang),
            "selected_count": tr("dd_selected_count", lang),
            "search": tr("dd_search", lang),
            "clear_search": tr("dd_clear_search", lang),
            "clear_selection": tr("dd_clear_selection", lang),
            "no_options_found": tr("dd_no_options_found", lang)}


def translate_all(ids: list[dict[str, str]], lang: str) -> list[str]:
    """Texts of the translatable spans ``ids`` in ``lang`` (``key#n`` uses ``key``)."""
    lang = lang if lang in ("zh", "en") else "zh"
    return [tr(i["key"].split("#", 1)[0], lang) for i in ids]


def data_table(**props: Any) -> DataTable:
    """A ``dash_table.DataTable``.

    Dash 4 announces the table's future move out of the core with a
    DeprecationWarning on every construction; the table works and nothing in this
    product can act on the notice, so exactly that warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*The dash_table.DataTable will be removed",
                                category=DeprecationWarning)
        return DataTable(**props)
