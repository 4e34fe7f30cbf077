"""Callback bodies of the pages, as plain functions.

The page modules in :mod:`dashboards.pages` only wire these to component ids; each
function takes the control values (and the session's edits) and returns what the
outputs show, so it can be tested without a browser. Library errors become a
message for the user, never a traceback.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pandas as pd
from dash import dash_table, dcc, html

from access.crs import lonlat_to_metric, metric_to_lonlat
from access.errors import LifecircleError
from access.i18n import t
from dashboards import figures
from dashboards.components import data_table
from dashboards.i18n import tr
from dashboards.state import View, build_scenario, get_state

__all__ = [
    "add_saved",
    "category_options",
    "compare_table",
    "completeness_table",
    "coverage_list",
    "default_category",
    "edit_from_click",
    "export_units",
    "highlight_options",
    "render_map",
    "render_overview",
    "render_units",
    "render_whatif",
    "scorecard_table",
]

log = logging.getLogger(__name__)

Edits = list[dict[str, Any]]


def _error_box(exc: Exception, lang: str) -> html.Div:
    return html.Div([html.B(f"{tr('error', lang)}: "), str(exc)], className="lc-error",
                    role="alert")


def _view(edits: Edits | None, *, profile: str | None = None,
          name: str = "scenario") -> View:
    return get_state().cache.view(edits or [], profile=profile or None, name=name)


# ---------------------------------------------------------------------------
# Scorecard (overview and what-if)
# ---------------------------------------------------------------------------
def scorecard_table(frame: pd.DataFrame, *, lang: str, table_id: str,
                    compact: bool = False) -> dash_table.DataTable:
    """A scorecard frame (:func:`figures.scorecard_frame`) as a coloured DataTable.

    ``compact`` leaves out the source and note columns.
    """
    labels = {"id": tr("col_id", lang), "target": tr("col_target", lang),
              "value": tr("col_value", lang) if "scenario_value" not in frame
              else tr("col_base", lang),
              "threshold": tr("col_threshold", lang), "status": tr("col_status", lang),
              "scenario_value": tr("col_scenario", lang),
              "scenario_status": f"{tr('col_scenario', lang)} · {tr('col_status', lang)}",
              "change": tr("col_change", lang), "source": tr("col_source", lang),
              "note": tr("col_note", lang)}
    order = ["id", "target", "value", "threshold", "status"]
    if "scenario_value" in frame:
        order += ["scenario_value", "scenario_status", "change"]
    if not compact:
        order += ["source", "note"]
    style: list[dict[str, Any]] = []
    for col, key_col in (("status", "status_key"), ("scenario_status", "scenario_status_key")):
        if col not in frame:
            continue
        for key, colour in figures._STATUS_COLOURS.items():
            style.append({"if": {"filter_query": f'{{{key_col}}} = "{key}"', "column_id": col},
                          "color": "white", "backgroundColor": colour, "fontWeight": "bold"})
    style.append({"if": {"column_id": "change", "filter_query": '{change} contains "+"'},
                  "color": "#1a9850", "fontWeight": "bold"})
    return data_table(
        id=table_id, data=frame.to_dict("records"),
        columns=[{"name": labels[c], "id": c} for c in order],
        sort_action="native", page_action="none", style_data_conditional=style,
        style_cell={"textAlign": "left", "whiteSpace": "normal", "height": "auto",
                    "fontSize": "13px", "maxWidth": "420px", "padding": "4px"},
        style_header={"fontWeight": "bold", "backgroundColor": "#eef1f5"},
        style_table={"overflowX": "auto"})


def render_overview(profile: str | None, lang: str, edits: Edits | None = None,
                    scenario_name: str | None = None) -> list[Any]:
    """Overview page: status counts and the scorecard of ``profile``.

    With edits, the scenario's values stand beside the current ones.
    """
    try:
        base = _view([], profile=profile)
        scen = _view(edits, profile=profile, name=scenario_name or "scenario") if edits \
            else None
    except LifecircleError as exc:
        return [_error_box(exc, lang)]
    if base.targets is None:
        return [html.P(tr("status_no_data", lang))]
    targets = base.targets.targets
    compare = scen.targets.targets if scen is not None and scen.targets is not None else None
    frame = figures.scorecard_frame(targets, lang=lang, compare=compare)
    shown = compare if compare is not None else targets
    counts = figures.status_counts(shown)
    out: list[Any] = [html.P(tr("summary_counts", lang, **counts), id="ov-counts",
                             className="lc-counts")]
    if scen is not None:
        out.append(html.P(tr("scenario_note", lang, name=scen.name, n=len(edits or [])),
                          className="lc-note"))
    out.append(scorecard_table(frame, lang=lang, table_id="ov-scorecard"))
    return out


# ---------------------------------------------------------------------------
# Map
# ---------------------------------------------------------------------------
def coverage_list(rows: list[dict[str, Any]], *, category: str, group: str,
                  lang: str) -> html.Div:
    """One line of :func:`figures.coverage_rows` for the chosen category."""
    row = next((r for r in rows if r["category"] == category), None)
    if row is None:
        return html.Div()
    med = row["median_min"]
    med_text = "—" if med != med else (f"> {figures.TIME_CLASSES_MIN[-1]:.0f}"
                                       if med == float("inf") else f"{med:.1f}")
    return html.Div(tr("coverage_line", lang, cat=row["label"], n=row["count"],
                       w15=f"{row['within_15']:.1%}", group=tr(f"group_{group}", lang),
                       med=f"{med_text} {tr('unit_min', lang)}"), className="lc-note")


def render_map(category: str, layer: str, group: str, highlight: str | None,
               streets: bool, lang: str, edits: Edits | None = None,
               *, graph_height_px: int = 720) -> tuple[Any, Any]:
    """Map page: the figure and the access line of the chosen category."""
    state = get_state()
    try:
        view = _view(edits)
    except LifecircleError as exc:
        return {}, _error_box(exc, lang)
    fig = figures.map_figure(state.result, view, category=category, lang=lang, layer=layer,
                             group=group, highlight=highlight or None,
                             show_streets=bool(streets), tiles_url=state.tiles_url,
                             height_px=graph_height_px)
    rows = figures.coverage_rows(state.result, view, lang=lang, group=group)
    return fig, coverage_list(rows, category=category, group=group, lang=lang)


def highlight_options(lang: str) -> list[dict[str, Any]]:
    """Choices of the highlight dropdown: none, 15 minutes, each circle target."""
    result = get_state().result
    opts = [{"label": tr("highlight_none", lang), "value": ""},
            {"label": tr("highlight_15", lang), "value": "time15"}]
    if result.targets is not None:
        tt = result.targets.targets.set_index("id")
        for c in result.targets.cell_flags.columns:
            if c.startswith("covered__"):
                tid = c[len("covered__"):]
                name = tt.loc[tid, "name_zh" if lang == "zh" else "name_en"] \
                    if tid in tt.index else tid
                opts.append({"label": str(name), "value": tid})
    return opts


_PREFERRED = ("primary_school", "kindergarten", "clinic", "park")


def default_category() -> str:
    """The first preferred category the run has, else its first category."""
    cats = get_state().result.categories
    return next((c for c in _PREFERRED if c in cats), cats[0] if cats else "")


def category_options(lang: str) -> list[dict[str, str]]:
    """Routed categories, labelled in ``lang``."""
    result = get_state().result
    tax = result.taxonomy
    return [{"label": tax.label(c, lang) if tax is not None else c, "value": c}
            for c in result.categories]


# ---------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------
def render_units(level: str | None, lang: str, edits: Edits | None = None) -> list[Any]:
    """Units page: the sortable per-unit table (or why there is none)."""
    result = get_state().result
    if not result.units:
        return [html.P(tr("no_units", lang))]
    level = level if level in result.units else next(iter(result.units))
    try:
        frame = figures.units_frame(result, _view(edits), level=level, lang=lang)
    except LifecircleError as exc:
        return [_error_box(exc, lang)]
    fail_col = tr("col_failing", lang)
    return [data_table(
        id="un-table", data=frame.to_dict("records"),
        columns=[{"name": c, "id": c, "type": "numeric" if pd.api.types.is_numeric_dtype(
            frame[c]) else "text"} for c in frame.columns],
        sort_action="native", filter_action="native", page_action="none",
        style_cell={"textAlign": "left", "whiteSpace": "normal", "height": "auto",
                    "fontSize": "13px", "padding": "4px", "maxWidth": "160px"},
        style_cell_conditional=[{"if": {"column_id": fail_col}, "maxWidth": "480px",
                                 "minWidth": "320px"}],
        style_header={"fontWeight": "bold", "backgroundColor": "#eef1f5"},
        style_table={"overflowX": "auto"})]


def export_units(fmt: str, level: str | None, lang: str,
                 edits: Edits | None = None) -> dict[str, Any]:
    """The units table as a download (``fmt`` ``"csv"`` or ``"xlsx"``)."""
    result = get_state().result
    level = level if level in result.units else next(iter(result.units))
    frame = figures.units_frame(result, _view(edits), level=level, lang=lang)
    stem = f"{result.area.name}_{level}_units"
    if fmt == "xlsx":
        return dcc.send_bytes(figures.frame_to_excel_bytes(frame, sheet=level),
                              f"{stem}.xlsx")
    return dcc.send_bytes(figures.frame_to_csv_bytes(frame), f"{stem}.csv")


# ---------------------------------------------------------------------------
# What-if
# ---------------------------------------------------------------------------
def edit_from_click(edits: Edits | None, *, action: str, category: str, lang: str,
                    x_m: float | None = None, y_m: float | None = None,
                    lon: float | None = None, lat: float | None = None,
                    ) -> tuple[Edits, str]:
    """Apply one click (metres of the analysis CRS, or WGS-84 lon/lat) to the edits.

    ``action`` ``"add"`` adds a ``category`` facility there; ``"remove"`` removes
    the nearest ``category`` facility within 300 m. Returns the new edits and a
    message ("" when fine). Invalid edits leave the list unchanged and say why.
    """
    state = get_state()
    result = state.result
    edits = list(edits or [])
    try:
        if x_m is None or y_m is None:
            if lon is None or lat is None:
                return edits, tr("bad_number", lang)
            lon, lat = float(lon), float(lat)
            xs, ys = lonlat_to_metric([lon], [lat], result.crs)
            x_m, y_m = float(xs[0]), float(ys[0])
        else:
            lo, la = metric_to_lonlat([float(x_m)], [float(y_m)], result.crs)
            lon, lat = float(lo[0]), float(la[0])
    except (TypeError, ValueError):
        return edits, tr("bad_number", lang)
    if action == "remove":
        view = _view(edits)
        fid = figures.nearest_facility(view, category, x_m, y_m, max_dist_m=300.0)
        tax = result.taxonomy
        if fid is None:
            label = tax.label(category, lang) if tax is not None and category in tax \
                else category
            return edits, tr("nothing_near", lang, dist=300.0, cat=label)
        new = {"action": "remove", "facility_id": fid}
    else:
        new = {"action": "add", "category": category, "lon": lon, "lat": lat}
    try:
        build_scenario(result, [*edits, new])
    except LifecircleError as exc:
        return edits, f"{tr('error', lang)}: {exc}"
    return [*edits, new], ""


def completeness_table(view: View, *, lang: str) -> dash_table.DataTable:
    """Facility counts against GB 50180 norms for a view (computed by the library)."""
    comp = view.completeness
    comp = comp[comp["expected_min_per_10k"].notna()]
    name = "name_zh" if lang == "zh" else "name_en"
    data = [{"category": r[name], "count": int(r["count"]),
             "per_10k": f"{r['per_10k']:.2f}",
             "expected": f"{r['expected_min_per_10k']:.2f}–{r['expected_max_per_10k']:.2f}"}
            for _, r in comp.iterrows()]
    cols = [("category", "category"), ("count", "count"), ("per_10k", "per_10k"),
            ("expected", "expected_per_10k")]

    return data_table(
        id="wi-completeness", data=data,
        columns=[{"name": t(key, lang), "id": cid} for cid, key in cols],
        page_action="none", style_cell={"textAlign": "left", "fontSize": "12px"},
        style_header={"fontWeight": "bold", "backgroundColor": "#eef1f5"})


def render_whatif(edits: Edits | None, category: str, lang: str,
                  scenario_name: str | None = None) -> dict[str, Any]:
    """What-if page outputs: map, scorecard (current vs scenario), access, completeness.

    Returns a dict with keys ``figure``, ``scorecard``, ``coverage``,
    ``completeness``, ``edits``, ``status``.
    """
    state = get_state()
    result = state.result
    name = scenario_name or tr("default_scenario", lang)
    try:
        view = _view(edits, name=name)
    except LifecircleError as exc:
        view = _view([])
        status: Any = _error_box(exc, lang)
    else:
        tax = result.taxonomy
        cats = [tax.label(c, lang) if tax is not None and c in tax else c
                for c in view.changed_categories]
        status = tr("eval_time", lang, cats="、".join(cats) if lang == "zh" else ", ".join(cats),
                    s=view.elapsed_s) if edits else tr("no_edits", lang)
    fig = figures.map_figure(result, view, category=category, lang=lang,
                             highlight="time15", tiles_url=state.tiles_url, height_px=560)
    base = _view([])
    frame = figures.scorecard_frame(
        base.targets.targets, lang=lang,
        compare=view.targets.targets if view.targets is not None else None)
    rows = figures.coverage_rows(result, view, lang=lang)
    base_rows = {r["category"]: r for r in figures.coverage_rows(result, base, lang=lang)}
    cov = html.Ul([html.Li(
        f"{r['label']}: {r['count']} · ≤15 {tr('unit_min', lang)} "
        f"{base_rows[r['category']]['within_15']:.1%} → {r['within_15']:.1%}")
        for r in rows if r["category"] in set(view.changed_categories) | {category}],
        id="wi-coverage-list")
    lines = figures.edits_lines(edits or [], result, lang=lang)
    return {"figure": fig,
            "scorecard": scorecard_table(frame, lang=lang, table_id="wi-scorecard",
                                         compact=True),
            "coverage": cov, "completeness": completeness_table(view, lang=lang),
            "edits": html.Ol([html.Li(s) for s in lines]) if lines else
            html.P(tr("no_edits", lang)),
            "status": status}


def add_saved(saved: dict[str, Edits] | None, name: str | None, edits: Edits | None,
              *, lang: str) -> tuple[dict[str, Edits], str]:
    """Save the current edits under ``name`` (a default name when empty)."""
    saved = dict(saved or {})
    name = (name or "").strip() or f"{tr('default_scenario', lang)} {len(saved) + 1}"
    saved[name] = list(edits or [])
    return saved, tr("saved", lang, name=name)


def compare_table(saved: dict[str, Edits] | None, names: list[str] | None,
                  *, lang: str) -> Any:
    """Saved scenarios side by side with the current situation."""
    saved = saved or {}
    names = [n for n in (names or []) if n in saved]
    if not names:
        return html.Div()
    try:
        views = [dataclasses.replace(_view(saved[n], name=n), name=n) for n in names]
    except LifecircleError as exc:
        return _error_box(exc, lang)
    frame = figures.comparison_frame(views, base=get_state().result, lang=lang)
    return data_table(
        id="wi-compare", data=frame.to_dict("records"),
        columns=[{"name": c, "id": c} for c in frame.columns], page_action="none",
        sort_action="native",
        style_cell={"textAlign": "left", "fontSize": "12px", "whiteSpace": "normal",
                    "height": "auto"},
        style_header={"fontWeight": "bold", "backgroundColor": "#eef1f5"})
