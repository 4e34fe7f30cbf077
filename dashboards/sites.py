"""Site selection page ("选址 Sites"), as plain functions.

:func:`run_sites` asks the library (:func:`lifecircle.site.site_selection`) one siting
question and returns what the page keeps in the browser (a JSON-safe dict: summary,
ranked sites, candidates, the targets before/after and the what-if edits the sites
become). The other functions only draw that answer (status line, ranked table, map
markers) or save its edits as a named scenario the what-if page opens. Nothing here
computes coverage: every figure shown comes from the library's answer.
"""

from __future__ import annotations

import base64
import binascii
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from dash import html
from werkzeug.exceptions import BadRequest

from access.errors import LifecircleError
from dashboards.callbacks import (
    checked_category,
    checked_lang,
    render_map,
    save_scenario,
)
from dashboards.components import data_table
from dashboards.i18n import tr
from dashboards.state import MAX_EDITS, get_state
from lifecircle.site import SiteProblem, site_selection

__all__ = ["SITE_MODELS", "accept_sites", "candidate_file", "model_options", "run_sites",
           "sites_map", "sites_status", "sites_table", "target_name", "target_options"]

#: Questions the page asks, in the order shown.
SITE_MODELS = ("mclp", "lscp", "p_median", "p_center", "capacitated", "least_important",
               "colocated")
#: Candidate files the page accepts (uploaded or inside the study-area folder).
CANDIDATE_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp", ".kml", ".fgb")
#: Largest candidate file the page takes as an upload, bytes.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Seconds the solver may use for one question asked from the page.
TIME_LIMIT_S = 60.0
_CAND_COLOUR = "rgba(255,255,255,0.85)"
_SITE_COLOUR = "#d7191c"
_CLOSE_COLOUR = "#2c2c2c"


def model_options(lang: str) -> list[dict[str, str]]:
    """The siting questions as dropdown options in ``lang``."""
    return [{"label": tr(f"sites_model_{m}", lang), "value": m} for m in SITE_MODELS]


def target_options(lang: str) -> list[dict[str, str]]:
    """Circle targets of the run, labelled by their names in ``lang`` (the library picks
    the category's first one when none is chosen)."""
    result = get_state().result
    if result.targets is None:
        return []
    opts = []
    for c in result.targets.cell_flags.columns:
        if c.startswith("covered__"):
            tid = c[len("covered__"):]
            opts.append({"label": target_name(tid, lang), "value": tid})
    return opts


def target_name(tid: Any, lang: str) -> str:
    """A target's name in ``lang`` (its id only when the run does not know it)."""
    result = get_state().result
    if result.targets is None or tid is None:
        return str(tid or "")
    tt = result.targets.targets.set_index("id")
    if tid not in tt.index:
        return str(tid)
    return str(tt.loc[tid, "name_zh" if lang == "zh" else "name_en"])


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, (bool, np.bool_)):
            out[k] = bool(v)
        elif isinstance(v, (int, np.integer)):
            out[k] = int(v)
        elif isinstance(v, (float, np.floating)):
            out[k] = _num(v)
        elif v is None or isinstance(v, str):
            out[k] = v
        else:
            out[k] = str(v)
    return out


def _int_arg(v: Any, what: str) -> int | None:
    if v is None or v == "":
        return None
    f = _num(v)
    if f is None or f != int(f):
        raise ValueError(what)
    return int(f)


def _positive(v: Any, message: str) -> float | None:
    """A positive number from a form field (None when empty); ValueError otherwise."""
    if v is None or v == "":
        return None
    f = _num(v)
    if f is None or f <= 0:
        raise ValueError(message)
    return f


def candidate_file(contents: Any, filename: Any, path: Any, lang: str,
                   ) -> tuple[Path | None, Path | None, str]:
    """Where the candidates of one question are: an upload written to a temporary
    folder, or a path inside the study-area folder.

    Returns
    -------
    file, tmp_dir, shown_name
        The file (None: generate candidates), the temporary folder to remove after
        the question (uploads only) and the name messages should show.

    Raises
    ------
    ValueError
        With the one-line reason shown on the page: a file type the page does not
        read, an upload too large or not base64, a path outside the study-area
        folder or missing.
    BadRequest
        Values of the wrong type from the browser.
    """
    if contents not in (None, ""):
        if not isinstance(contents, str) or not isinstance(filename, str):
            raise BadRequest("an upload is a data URL and a file name")
        name = Path(filename).name
        suffix = "".join(Path(name).suffixes[-1:]).lower()
        if suffix not in CANDIDATE_SUFFIXES:
            raise ValueError(tr("sites_bad_file_type", lang, name=name[:80],
                                types=" ".join(CANDIDATE_SUFFIXES)))
        _, _, b64 = contents.partition(",")
        if len(b64) > MAX_UPLOAD_BYTES * 4 // 3 + 8:
            raise ValueError(tr("sites_file_too_large", lang, name=name[:80],
                                mb=MAX_UPLOAD_BYTES // 2**20))
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(tr("sites_file_unreadable", lang, name=name[:80])) from None
        tmp = Path(tempfile.mkdtemp(prefix="lifecircle-candidates-"))
        target = tmp / f"candidates{suffix}"
        target.write_bytes(raw)
        return target, tmp, name
    if path not in (None, ""):
        if not isinstance(path, str):
            raise BadRequest("the candidate path must be text")
        base = Path(get_state().result.area.base_dir).resolve()
        given = Path(path.strip())
        full = (given if given.is_absolute() else base / given).resolve()
        if not full.is_relative_to(base):
            raise ValueError(tr("sites_path_outside", lang, path=path[:200], folder=str(base)))
        if not full.is_file():
            raise ValueError(tr("sites_path_missing", lang, path=path[:200]))
        if full.suffix.lower() not in CANDIDATE_SUFFIXES:
            raise ValueError(tr("sites_bad_file_type", lang, name=full.name[:80],
                                types=" ".join(CANDIDATE_SUFFIXES)))
        return full, None, str(full.relative_to(base))
    return None, None, ""


def run_sites(model: Any, category: Any, n: Any, threshold_pct: Any, spacing_m: Any,
              target: Any, lang: Any, *, capacity: Any = None, existing_capacity: Any = None,
              budget: Any = None, cost_per_site: Any = None, upload: Any = None,
              upload_name: Any = None, candidates_path: Any = None,
              complex_categories: Any = None) -> dict[str, Any]:
    """Answer one siting question on the dashboard's run.

    Parameters
    ----------
    model
        One of :data:`SITE_MODELS`.
    category
        Facility category to site.
    n
        Number of sites (to add, or to close for ``least_important``); unused by ``lscp``.
    threshold_pct
        ``lscp``: share of the target's residents to reach, in percent; empty = the
        target's own threshold.
    spacing_m
        Spacing of generated candidates in metres; empty = the library's default.
    target
        Circle target id; empty = the category's first walking target.
    lang
        ``"zh"`` or ``"en"``.
    capacity, existing_capacity
        ``capacitated``: places of a new site (unless the candidate file has a
        ``capacity`` column) and of an existing facility of unknown capacity.
    budget, cost_per_site
        ``mclp``: the total budget, and the cost of a candidate without a ``cost``
        of its own.
    upload, upload_name
        An uploaded candidate file (``dcc.Upload`` contents, a data URL) and its name.
    candidates_path
        Or a candidate file inside the study-area folder (relative to it).
    complex_categories
        ``colocated``: the categories one service complex (社区综合服务中心) hosts;
        each chosen site becomes one new facility of every one of them.

    Returns
    -------
    dict
        ``ok`` (bool), ``message`` (the library's one-line reason when not ok),
        ``model``, ``category``, ``target``, ``summary``, ``elapsed_s``, ``sites``
        (ranked records), ``candidates`` (``lon``, ``lat``, ``chosen`` lists),
        ``targets`` (before/after records) and ``edits`` (what-if edits of the sites).
        Malformed values (not text, not a number) give HTTP 400.
    """
    lang = checked_lang(lang)
    category = checked_category(category)
    if model not in SITE_MODELS:
        raise BadRequest(f"unknown model {str(model)[:40]!r}")
    if target is not None and target != "" and not isinstance(target, str):
        raise BadRequest("target must be text")
    if complex_categories in (None, ""):
        complex_categories = []
    if not isinstance(complex_categories, list):
        raise BadRequest("the complex's categories are a list")
    hosted = tuple(dict.fromkeys(checked_category(c) for c in complex_categories))
    base = {"ok": False, "model": model, "category": category, "target": target or None}
    try:
        n_int = _int_arg(n, tr("sites_bad_n", lang))
        pct = _num(threshold_pct) if threshold_pct not in (None, "") else None
        if threshold_pct not in (None, "") and (pct is None or not 0 < pct <= 100):
            raise ValueError(tr("sites_bad_threshold", lang))
        spacing = _num(spacing_m) if spacing_m not in (None, "") else None
        if spacing_m not in (None, "") and (spacing is None or spacing <= 0):
            raise ValueError(tr("sites_bad_spacing", lang))
        numbers = {k: _positive(v, tr("sites_bad_positive", lang, what=tr(key, lang)))
                   for k, v, key in (("capacity", capacity, "sites_capacity"),
                                     ("existing_capacity", existing_capacity,
                                      "sites_existing_capacity"),
                                     ("budget", budget, "sites_budget"),
                                     ("cost_per_site", cost_per_site, "sites_cost"))}
        cand_file, tmp_dir, shown = candidate_file(upload, upload_name, candidates_path, lang)
    except ValueError as exc:
        return {**base, "message": str(exc)}
    try:
        if model == "colocated" and len(hosted) < 2:
            return {**base, "message": tr("sites_need_complex", lang)}
        if model != "lscp" and n_int is None and not (model == "mclp"
                                                      and numbers["budget"] is not None):
            return {**base, "message": tr("sites_need_n", lang)}
        fields: dict[str, Any] = {"category": category, "model": model,
                                  "target": target or None, "time_limit_s": TIME_LIMIT_S}
        if model != "lscp":
            fields["n"] = n_int
        if model == "lscp" and pct is not None:
            fields["threshold"] = pct / 100.0
        if spacing is not None:
            fields["spacing_m"] = spacing
        if model == "capacitated":
            fields["capacity"] = numbers["capacity"]
            fields["existing_capacity"] = numbers["existing_capacity"]
        if model == "mclp":
            fields["budget"] = numbers["budget"]
        if model == "colocated":
            fields["complex"] = hosted
        fields["cost_per_site"] = numbers["cost_per_site"]
        if cand_file is not None:
            fields["candidates"] = cand_file
        t0 = time.perf_counter()
        try:
            res = site_selection(get_state().routable(), SiteProblem(**fields))
        except LifecircleError as exc:
            msg = str(exc)
            if cand_file is not None:
                msg = msg.replace(str(cand_file), shown).replace(cand_file.name, shown)
            return {**base, "message": msg}
        elapsed = time.perf_counter() - t0
    finally:
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    sites = res.sites
    closing = model == "least_important"
    records = []
    units = sorted(c for c in sites.columns if c.startswith("unit_name__"))
    for r in sites.drop(columns="geometry").to_dict("records"):
        unit = next((str(r[c]) for c in reversed(units) if r.get(c)), "")
        label = r.get("name") or (r.get("facility_id") if closing else
                                  f"{tr('sites_scenario', lang)} {r['rank']}")
        rec = {"rank": r["rank"], "name": label, "lon": r["lon"], "lat": r["lat"], "unit": unit,
               "pop": r["loss_alone_pop"] if closing else r["marginal_pop"]}
        if closing:
            rec["facility_id"] = r["facility_id"]
        else:
            rec["capacity"] = r.get("capacity")
        records.append(_clean(rec))
    if closing:
        edits = [{"action": "remove", "facility_id": str(r["facility_id"])} for r in records]
    else:
        edits = []
        for r in records:
            for cat in (hosted if model == "colocated" else (category,)):
                e = {"action": "add", "category": cat, "lon": r["lon"], "lat": r["lat"],
                     "name": str(r["name"])[:200]}
                if r.get("capacity") is not None:
                    e["capacity"] = r["capacity"]
                edits.append(e)
    cand = res.candidates
    cands: dict[str, list[Any]] = {"lon": [], "lat": [], "chosen": []}
    if len(cand) and "lon" in cand.columns:
        cands = {"lon": np.round(cand["lon"].to_numpy(float), 6).tolist(),
                 "lat": np.round(cand["lat"].to_numpy(float), 6).tolist(),
                 "chosen": cand["chosen"].astype(bool).tolist()}
    tcols = ["id", "name_zh", "name_en", "threshold", "unit", "value_before", "status_before",
             "value_after", "status_after", "promised"]
    targets = [_clean(r) for r in res.targets[tcols].to_dict("records")]
    notes = [zh if lang == "zh" else en for zh, en in res.notes]
    return {**base, "ok": True, "message": "", "target": res.target,
            "summary": _clean(res.summary), "elapsed_s": elapsed, "sites": records,
            "candidates": cands, "targets": targets, "edits": edits, "notes": notes}


def _fmt(v: Any, spec: str = ",.0f") -> str:
    return "—" if v is None else format(v, spec)


def _target_name(data: dict[str, Any], lang: str) -> str:
    """The answered target's name in ``lang`` (never its internal id when it has a name)."""
    tid = data.get("target")
    col = "name_zh" if lang == "zh" else "name_en"
    for t in data.get("targets") or []:
        if isinstance(t, dict) and t.get("id") == tid and t.get(col):
            return str(t[col])
    return target_name(tid, lang)


def sites_status(data: Any, lang: Any) -> Any:
    """Status line of an answer: status, objective, bound, gap, time, before → promised."""
    lang = checked_lang(lang)
    if not isinstance(data, dict):
        return html.P(tr("sites_help", lang), className="lc-help")
    if not data.get("ok"):
        return html.Div([html.B(f"{tr('error', lang)}: "), str(data.get("message", ""))[:500]],
                        className="lc-error", role="alert", id="site-error")
    s = data.get("summary") or {}
    model = data.get("model")
    unit = {"p_median": tr("sites_unit_person_m", lang), "p_center": tr("unit_m", lang)}.get(
        str(model), tr("sites_unit_residents", lang))
    status = str(s.get("status", ""))
    key = f"sites_status_{status}"
    lines = [
        f"{tr('sites_status', lang)}: {tr(key, lang) if key in _STATUS_KEYS else status} · "
        f"{tr('sites_objective', lang)} {_fmt(s.get('objective'))} {unit} · "
        f"{tr('sites_bound', lang)} {_fmt(s.get('bound'))} · "
        f"{tr('sites_gap', lang)} {_fmt(s.get('gap'), '.2%')} · "
        f"{tr('sites_time', lang)} {_fmt(data.get('elapsed_s'), '.1f')} s",
        f"{tr('sites_target', lang)} {_target_name(data, lang)} · "
        f"{tr('sites_n_candidates', lang)} {_fmt(s.get('n_candidates'))} · "
        f"{tr('sites_n_sites', lang)} {_fmt(s.get('n_sites'))}",
    ]
    if s.get("share_promised") is not None:
        lines.append(f"{tr('sites_share', lang)}: {_fmt(s.get('share_before'), '.2%')} → "
                     f"{_fmt(s.get('share_promised'), '.2%')}")
    if s.get("placed_share_before") is not None:
        lines.append(tr("sites_placed_share", lang, b=_fmt(s.get("placed_share_before"), ".2%"),
                        a=_fmt(s.get("placed_share_after"), ".2%")))
    if s.get("worst_before_m") is not None:
        lines.append(tr("sites_worst", lang, b=_fmt(s.get("worst_before_m")),
                        a=_fmt(s.get("worst_after_m")), pb=_fmt(s.get("at_worst_before_pop")),
                        pa=_fmt(s.get("at_worst_after_pop"))))
    if s.get("mean_dist_m") is not None:
        lines.append(f"{tr('sites_mean_dist', lang)}: {_fmt(s['mean_dist_m'], ',.0f')} "
                     f"{tr('unit_m', lang)}")
    items: list[Any] = [html.Div(t) for t in lines]
    name_col = "name_zh" if lang == "zh" else "name_en"
    for t in data.get("targets") or []:
        if t.get("value_before") is None and t.get("value_after") is None:
            continue
        items.append(html.Div(
            f"{t.get(name_col) or t.get('id')}: {_fmt(t.get('value_before'), '.2%')} → "
            f"{_fmt(t.get('value_after'), '.2%')}", className="lc-note"))
    items += [html.Div(n, className="lc-note") for n in data.get("notes") or []]
    return html.Div(items, id="site-summary")


_STATUS_KEYS = {"sites_status_optimal", "sites_status_time_limit", "sites_status_greedy"}


def sites_table(data: Any, lang: Any) -> Any:
    """Ranked table of the chosen sites (or the facilities to close)."""
    lang = checked_lang(lang)
    if not isinstance(data, dict) or not data.get("ok"):
        return html.Div()
    closing = data.get("model") == "least_important"
    pop_key = "sites_col_lost" if closing else "sites_col_added"
    cols = [("rank", "sites_col_rank"), ("name", "sites_col_name"), ("lon", "lon"),
            ("lat", "lat"), ("unit", "sites_col_unit"), ("pop", pop_key)]
    rows = [{k: (round(r[k], 6) if k in ("lon", "lat") and r.get(k) is not None
                 else round(r[k]) if k == "pop" and r.get(k) is not None else r.get(k))
             for k, _ in cols} for r in data.get("sites") or []]
    return data_table(id="site-table", data=rows,
                      columns=[{"name": tr(key, lang), "id": k} for k, key in cols],
                      page_size=20, style_table={"overflowX": "auto"},
                      style_cell={"fontSize": "13px", "padding": "3px 6px"})


def sites_map(data: Any, category: Any, lang: Any, map_view: Any = None
              ) -> tuple[Any, Any]:
    """The map page's picture with the candidates and the chosen sites as markers.

    Before an answer it shows the walking time to ``category``; with one, the
    target's uncovered residents beneath candidates (grey) and chosen sites (red,
    numbered by rank; dark crosses for facilities to close).
    """
    answered = isinstance(data, dict) and data.get("ok")
    if answered:
        category = data.get("category")
        highlight = data.get("target")
        fig, legend, _ = render_map(category, "uncovered", "total", highlight, lang, None,
                                    map_view, show_summary=False)
    else:
        fig, legend, _ = render_map(category, "time", "total", "time15", lang, None,
                                    map_view, show_summary=False)
    if not answered or not isinstance(fig, go.Figure):
        return fig, legend
    lang = checked_lang(lang)
    cand = data.get("candidates") or {}
    lon = np.asarray(cand.get("lon") or [], dtype=float)
    lat = np.asarray(cand.get("lat") or [], dtype=float)
    if len(lon):
        fig.add_trace(go.Scatter(x=lon, y=lat, mode="markers", hoverinfo="skip",
                                 name=tr("sites_candidates", lang),
                                 marker={"size": 5, "color": _CAND_COLOUR,
                                         "line": {"color": "#555", "width": 0.6}}))
    sites = data.get("sites") or []
    if sites:
        closing = data.get("model") == "least_important"
        fig.add_trace(go.Scatter(
            x=[s["lon"] for s in sites], y=[s["lat"] for s in sites],
            mode="markers+text", text=[str(s["rank"]) for s in sites],
            textposition="top center", textfont={"size": 13, "color": "#1b1b1b"},
            hovertext=[f"{s['rank']}. {s['name']} · {_fmt(s.get('pop'))}" for s in sites],
            hoverinfo="text",
            name=tr("sites_closed" if closing else "sites_chosen", lang),
            marker={"size": 14, "symbol": "x" if closing else "star",
                    "color": _CLOSE_COLOUR if closing else _SITE_COLOUR,
                    "line": {"color": "white", "width": 1}}))
    return fig, legend


def accept_sites(data: Any, name: Any, lang: Any) -> str:
    """Save the answer's sites as what-if edits under scenario ``name`` (editors only).

    Returns the message shown beside the button; the what-if page lists the
    scenario among the saved ones.
    """
    lang = checked_lang(lang)
    if not isinstance(data, dict) or not data.get("ok") or not data.get("edits"):
        return tr("sites_nothing_to_accept", lang)
    if len(data["edits"]) > MAX_EDITS:
        return tr("sites_too_many", lang, n=len(data["edits"]), max=MAX_EDITS)
    if not isinstance(name, str) or not name.strip():
        name = (f"{tr('sites_scenario', lang)} "
                f"{get_state().category_label(str(data.get('category')), lang)} "
                f"{len(data['edits'])}")
    return save_scenario(name, data["edits"], lang=lang)
