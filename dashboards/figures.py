"""Figures and tables of the dashboard, as pure functions of library results.

Nothing here computes coverage, medians or verdicts: those come from the run
(:class:`lifecircle.pipeline.RunResult`), a scenario (:class:`dashboards.state.View`),
:mod:`lifecircle.summary` and :mod:`access.targets`. This module only arranges them for
display: the scorecard, access lines, unit tables, scenario comparisons and exports.
The map lives in :mod:`dashboards.mapview`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from access.safe_io import csv_bytes, xlsx_bytes
from dashboards.i18n import STRINGS, tr
from lifecircle.scenario import compare_scenarios
from lifecircle.summary import access_table

__all__ = [
    "TIME_CLASSES_MIN",
    "comparison_frame",
    "coverage_rows",
    "edits_lines",
    "frame_to_csv_bytes",
    "frame_to_excel_bytes",
    "nearest_facility",
    "readable",
    "scorecard_frame",
    "source_label",
    "time_classes",
    "unit_parents",
    "units_frame",
]

#: Upper bounds of the walking-time classes of the map, minutes.
TIME_CLASSES_MIN = (5.0, 10.0, 15.0, 20.0)
_STATUS_COLOURS = {"met": "#1a9850", "not_met": "#d73027", "no_data": "#9e9e9e"}
_SOURCE_RE = re.compile(r"^(?P<zh>.*) / (?P<en>.*) \[(?P<key>[^\]]+)\]$")


# ---------------------------------------------------------------------------
# Scorecard
# ---------------------------------------------------------------------------
def source_label(source: str, lang: str) -> str:
    """The ``lang`` half of a target's rendered source (``"zh / en [key]; ..."``)."""
    parts = []
    for part in str(source or "").split("; "):
        m = _SOURCE_RE.match(part)
        parts.append(m.group(lang) if m else part)
    return "；".join(p for p in parts if p) if lang == "zh" else "; ".join(p for p in parts if p)


def format_value(value: Any, unit: str, lang: str) -> str:
    """A target value with its unit: ``31.3%``, ``4.50 每千人``; ``—`` when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "—"
    value = float(value)
    if unit == "share":
        return f"{value:.1%}"
    key = f"unit_{unit}"

    label = tr(key, lang) if key in STRINGS else unit
    return f"{value:.2f} {label}"


def format_threshold(threshold: float, comparison: str, unit: str, lang: str) -> str:
    """``≥ 90.0%``, ``≤ 300 m``-style threshold text."""
    cmp = "≥" if comparison == ">=" else "≤"
    return f"{cmp} {format_value(threshold, unit, lang)}"


def readable(text: str, labels: dict[str, str] | None) -> str:
    """``text`` with every category or group key (``community_health_centre``) replaced
    by its display name: the library's notes name categories by key."""
    if not labels or not text:
        return text
    pattern = _key_pattern(tuple(sorted(labels, key=len, reverse=True)))
    return pattern.sub(lambda m: labels.get(m.group(0), m.group(0)), text)


@functools.lru_cache(maxsize=8)
def _key_pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(re.escape(k) for k in keys)
                      + r")(?![A-Za-z0-9_])")


def scorecard_frame(targets: pd.DataFrame, *, lang: str = "zh",
                    compare: pd.DataFrame | None = None,
                    labels: dict[str, str] | None = None) -> pd.DataFrame:
    """The scorecard: one row per target, display strings in ``lang``.

    Parameters
    ----------
    targets
        ``TargetResults.targets`` of the view shown.
    lang
        ``"zh"`` or ``"en"``.
    compare
        Targets table of a scenario: adds its value, result and the change.
    labels
        Category and group key -> display name, for the notes (:func:`readable`).

    Returns
    -------
    DataFrame
        Columns ``id, target, value, threshold, status, source, note, status_key``
        (and ``scenario_value, scenario_status, change, scenario_status_key`` with
        ``compare``). ``status_key`` is ``met``/``not_met``/``no_data`` for styling.
    """
    rows = []
    other = compare.set_index("id") if compare is not None else None
    for r in targets.itertuples(index=False):
        note = r.reason_zh if lang == "zh" else r.reason_en
        warn = r.warning_zh if lang == "zh" else r.warning_en
        if r.status != "no_data" and isinstance(warn, str) and warn:
            note = warn
        row = {
            "id": r.id,
            "target": r.name_zh if lang == "zh" else r.name_en,
            "value": format_value(r.value, r.unit, lang),
            "threshold": format_threshold(r.threshold, r.comparison, r.unit, lang),
            "status": tr(f"status_{r.status}", lang),
            "source": source_label(r.source, lang),
            "note": readable(note, labels) if isinstance(note, str) else "",
            "status_key": r.status,
        }
        if other is not None:
            if r.id in other.index:
                o = other.loc[r.id]
                row["scenario_value"] = format_value(o["value"], o["unit"], lang)
                row["scenario_status"] = tr(f"status_{o['status']}", lang)
                row["scenario_status_key"] = o["status"]
                row["change"] = _change_text(r.value, o["value"], r.unit)
            else:
                row.update(scenario_value="—", scenario_status="—",
                           scenario_status_key="no_data", change="")
        rows.append(row)
    cols = ["id", "target", "value", "threshold", "status", "source", "note", "status_key"]
    if other is not None:
        cols += ["scenario_value", "scenario_status", "change", "scenario_status_key"]
    return pd.DataFrame(rows, columns=cols)


def _change_text(before: Any, after: Any, unit: str) -> str:
    try:
        b, a = float(before), float(after)
    except (TypeError, ValueError):
        return ""
    if not (np.isfinite(b) and np.isfinite(a)) or math.isclose(a, b, abs_tol=1e-12):
        return ""
    d = a - b
    return f"{d * 100:+.1f} pp" if unit == "share" else f"{d:+.2f}"


def status_counts(targets: pd.DataFrame) -> dict[str, int]:
    """Number of targets per status (``met``, ``not_met``, ``no_data``)."""
    counts = targets["status"].value_counts()
    return {k: int(counts.get(k, 0)) for k in ("met", "not_met", "no_data")}


def comparison_frame(views: list[Any], *, base: Any, lang: str = "zh") -> pd.DataFrame:
    """Saved scenarios side by side (via :func:`lifecircle.scenario.compare_scenarios`).

    ``views`` carry ``name`` and ``targets``; ``base`` is the run. Values are
    formatted in ``lang``; columns are ``target``, ``threshold`` and, per scenario,
    ``<name>`` (value and result).
    """
    table = compare_scenarios(views, base=base)
    if table.empty:
        return pd.DataFrame()
    out = pd.DataFrame({
        tr("col_target", lang): table["name_zh" if lang == "zh" else "name_en"],
        tr("col_threshold", lang): [format_value(t, u, lang)
                                    for t, u in zip(table["threshold"], table["unit"],
                                                    strict=True)],
    })
    names = ["base"] + [v.name for v in views]
    for name in names:
        vals, stats = table[f"{name}:value"], table[f"{name}:status"]
        label = tr("base", lang) if name == "base" else name
        out[label] = [f"{format_value(v, u, lang)} · {tr(f'status_{s}', lang)}"
                      for v, s, u in zip(vals, stats, table["unit"], strict=True)]
    return out


# ---------------------------------------------------------------------------
# Map
# ---------------------------------------------------------------------------
def time_classes(minutes: np.ndarray) -> np.ndarray:
    """Class index 0..4 of walking times (≤5, 5–10, 10–15, 15–20, >20 or unreachable)."""
    m = np.asarray(minutes, float)
    m = np.where(np.isnan(m), np.inf, m)
    return np.searchsorted(np.asarray(TIME_CLASSES_MIN), m, side="left").astype(float)


def nearest_facility(view: Any, category: str, x_m: float, y_m: float, *,
                     max_dist_m: float = 300.0) -> str | None:
    """Id of the ``category`` facility of ``view`` nearest to (``x_m``, ``y_m``).

    None when none lies within ``max_dist_m`` (straight line, analysis CRS).
    """
    fac = view.facilities
    sel = fac[fac["category"] == category]
    if sel.empty:
        return None
    d = np.hypot(sel.geometry.x.to_numpy() - x_m, sel.geometry.y.to_numpy() - y_m)
    i = int(np.argmin(d))
    return str(sel["facility_id"].iloc[i]) if d[i] <= max_dist_m else None


# ---------------------------------------------------------------------------
# Access summary and units
# ---------------------------------------------------------------------------
def coverage_rows(result: Any, view: Any, *, lang: str = "zh", group: str = "total",
                  categories: list[str] | None = None) -> list[dict[str, Any]]:
    """:func:`lifecircle.summary.access_table` of a view (base run or scenario).

    ``categories`` limits the rows to those (a page showing one category computes one
    row, not one per category: on a city each row sorts every cell).
    """
    proxy = dataclasses.replace(result, cells=view.cells, facilities=view.facilities)
    return access_table(proxy, lang=lang, group=group, categories=categories)


def units_frame(result: Any, view: Any, *, level: str, lang: str = "zh") -> pd.DataFrame:
    """Per-unit table: population, the value of every unit-level result, failing rules.

    Values come from ``targets.units`` of the view (one column per target); the
    failing rules are the targets whose unit row is not met.
    """
    units = result.units.get(level)
    if units is None:
        return pd.DataFrame()
    id_c, name_c, pop_c = (tr("col_unit_id", lang), tr("col_unit_name", lang),
                           tr("col_population", lang))
    out = pd.DataFrame({id_c: units["unit_id"].astype(str), name_c: units["name"].astype(str),
                        pop_c: units["pop_total"].round(0)})
    if view.targets is None:
        return out
    tu = view.targets.units
    tu = tu[tu["level"] == level]
    names = view.targets.targets.set_index("id")
    name_col = "name_zh" if lang == "zh" else "name_en"
    failing: dict[str, list[str]] = {}
    for tid, part in tu.groupby("target_id", sort=False):
        label = str(names.loc[tid, name_col]) if tid in names.index else str(tid)
        unit = str(names.loc[tid, "unit"]) if tid in names.index else "share"
        vals = dict(zip(part["unit_id"].astype(str), part["value"], strict=True))
        col = f"{label} ({tr('unit_share', lang)})" if unit == "share" else label
        out[col] = [(round(float(vals[u]) * 100, 1) if unit == "share" else
                     round(float(vals[u]), 2)) if u in vals and pd.notna(vals[u]) else None
                    for u in out[id_c]]
        for u in part.loc[part["met"].eq(False), "unit_id"].astype(str):
            failing.setdefault(u, []).append(label)
    sep = "；" if lang == "zh" else "; "
    out[tr("col_failing", lang)] = [sep.join(failing.get(u, [])) for u in out[id_c]]
    return out


def unit_parents(cells: pd.DataFrame, fine: str, coarse: str) -> dict[str, str]:
    """Parent (``coarse`` level unit) of each ``fine`` unit: the one holding most of its cells."""
    fc, cc = f"unit__{fine}", f"unit__{coarse}"
    if fc not in cells or cc not in cells:
        return {}
    pairs = cells[[fc, cc]].dropna()
    if pairs.empty:
        return {}
    counts = pairs.astype(str).groupby([fc, cc], sort=True).size().reset_index(name="n")
    best = counts.sort_values(["n", cc], ascending=[False, True]).drop_duplicates(fc)
    return dict(zip(best[fc], best[cc], strict=True))


def frame_to_csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV in UTF-8 with a byte-order mark, formula-looking text neutralised
    (:func:`access.safe_io.csv_bytes`)."""
    return csv_bytes(df)


def frame_to_excel_bytes(df: pd.DataFrame, *, sheet: str = "units") -> bytes:
    """An .xlsx workbook holding ``df``, every text cell stored as text, never a formula
    (:func:`access.safe_io.xlsx_bytes`)."""
    return xlsx_bytes({sheet: df})


def edits_lines(edits: list[dict[str, Any]], result: Any, *, lang: str = "zh") -> list[str]:
    """One readable line per edit."""
    tax = result.taxonomy
    base = result.facilities.set_index("facility_id")
    out = []
    for e in edits:
        if e.get("action") == "add":
            cat = e.get("category", "")
            label = tax.label(cat, lang) if tax is not None and cat in tax else cat
            out.append(tr("edit_add", lang, cat=label, lon=float(e["lon"]),
                          lat=float(e["lat"])))
        else:
            fid = str(e.get("facility_id", ""))
            cat = str(base.loc[fid, "category"]) if fid in base.index else ""
            label = tax.label(cat, lang) if tax is not None and cat in tax else cat
            name = base.loc[fid, "name"] if fid in base.index else ""
            out.append(tr("edit_remove", lang, cat=label, fid=name or fid))
    return out
