"""The coverage report (体检报告): HTML, PDF, Excel workbook, GeoPackage and maps.

:func:`write_report` turns a run (:class:`lifecircle.report_data.ReportData`) into a
report folder:

- ``report.html`` — self-contained (images embedded as data URIs, no script, no web
  font), readable offline: scorecard, one section per failing target with its map of
  uncovered residents and the failing-unit list (问题台账), top gap areas, "no data"
  targets with the reason, data sources and confidence, comparison with an earlier run
  and trend charts, methodology, reproducibility;
- ``report.pdf`` — the same page printed by headless Chromium (or Edge/Chrome on
  Windows: the same ``--headless --print-to-pdf`` flags);
- ``report.xlsx`` — one sheet per target group, per-unit results, failing units,
  rejects and metadata; frozen headers, number formats, Chinese column names; no cell
  text can run as a formula;
- ``report.gpkg`` — cells, facilities, units and gaps, for QGIS and ArcGIS;
- ``maps/*.png`` and ``maps/*.svg`` — every map on its own.

A report folder is written whole (a temporary folder renamed into place) and never
replaces an existing one unless ``force=True``.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
import shapely
from openpyxl import Workbook
from openpyxl.cell import _writer as _openpyxl_writer
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from pyproj import Transformer

from access.errors import LifecircleError
from access.i18n import MESSAGES, t
from access.i18n import say as i18n_say
from access.network import file_sha256
from access.safe_io import neutralise
from lifecircle.compare import Comparison, compare_runs
from lifecircle.gpkg_styles import Graduated, LayerStyleDef, write_layer_styles
from lifecircle.history import (
    History,
    HistoryError,
    RunRecord,
    find_histories,
    history_of_run,
    software_version,
)
from lifecircle.maps import LayerStyle, MapCanvas, save_figure, trend_chart
from lifecircle.report_data import ReportData, street_segments
from lifecircle.report_sites import GapSites, best_sites
from lifecircle.results import gap_polygons

__all__ = ["PdfError", "ReportExistsError", "ReportJob", "Trend", "find_browser",
           "neutralise_formula", "print_pdf", "printing_pdf", "report_run", "target_group",
           "write_report"]

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("report_templates")


class ReportExistsError(LifecircleError, FileExistsError):
    """The report folder exists already (a report is never overwritten silently)."""


class PdfError(LifecircleError, RuntimeError):
    """The PDF could not be printed (no Chromium/Chrome/Edge, or it failed)."""


@dataclass(frozen=True)
class Trend:
    """Target values over three or more recorded runs.

    Attributes
    ----------
    records
        The runs, oldest first.
    values
        Rows per run (same order), columns target ids.
    """

    records: Sequence[RunRecord]
    values: pd.DataFrame


# ---------------------------------------------------------------------- texts
#: Report texts shared with the rest of the product under their own key.
_SHARED_TEXTS = frozenset({"reason", "notes"})


def _t(key: str, lang: str, **kw: Any) -> str:
    """A report text from the message catalogue (:mod:`access.i18n`, keys ``report_*``)."""
    return t(key if key in _SHARED_TEXTS else f"report_{key}", lang, **kw)


#: Target id prefixes -> group (a sheet of the workbook; its name ``report_group_<key>``).
GROUPS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("life_circle", "convenience"), "life_circle"),
    (("health", "emergency"), "health"),
    (("eldercare",), "eldercare"),
    (("kindergarten", "childcare", "nursery", "primary_school", "junior_middle", "schools"),
     "education"),
    (("fitness", "sports", "park"), "sport"),
    (("culture",), "culture"),
)


def target_group(target_id: str, lang: str = "zh") -> str:
    """The group (sheet) a target belongs to, from its id."""
    for prefixes, key in GROUPS:
        if target_id.startswith(prefixes):
            return _t(f"group_{key}", lang)
    return _t("group_other", lang)


def _fmt(value: Any, unit: str, lang: str) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    if not np.isfinite(v):
        return "—"
    if unit == "share":
        return f"{v:.1%}"
    lab = t(f"unit_{unit}", lang) if unit in ("per_1000", "m2_per_person") else unit
    return f"{v:.2f} {lab}"


def _flags(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(known, true)`` boolean arrays of a flag column (bool, nullable or ``"True"`` text)."""
    if pd.api.types.is_bool_dtype(s) and not isinstance(s.dtype, pd.BooleanDtype):
        v = s.to_numpy(bool)
        return np.ones(len(v), bool), v
    known = s.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(s) or isinstance(s.dtype, pd.BooleanDtype):
        return known, s.fillna(False).astype(bool).to_numpy()
    text = s.astype(str).str.strip().str.lower()
    return known, (text == "true").to_numpy() & known


# ---------------------------------------------------------------------- formula safety
def neutralise_formula(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, prefixed with ``'``.

    The project's one rule (:func:`access.safe_io.neutralise`): numbers pass unchanged;
    text starting with ``= + - @`` (a tab, a carriage return or an apostrophe) gets a
    leading apostrophe, so Excel shows it as text.
    """
    return neutralise(value)


# ---------------------------------------------------------------------- browser
def find_browser() -> str | None:
    """Path of a Chromium-family browser for printing (env ``LIFECIRCLE_BROWSER`` first)."""
    env = os.environ.get("LIFECIRCLE_BROWSER")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome", "msedge"):
        p = shutil.which(name)
        if p:
            return p
    for p in (r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
              r"C:\Program Files\Google\Chrome\Application\chrome.exe"):
        if Path(p).is_file():
            return p
    return None


def print_pdf(html: Path, pdf: Path, *, browser: str | None = None,
              timeout_s: float = 120.0) -> Path:
    """Print an HTML file to PDF with headless Chromium (Chrome/Edge take the same flags).

    Raises
    ------
    PdfError
        No browser found, or it failed or wrote nothing.
    """
    with printing_pdf(html, pdf, browser=browser, timeout_s=timeout_s):
        pass
    return pdf


@contextmanager
def printing_pdf(html: Path, pdf: Path, *, browser: str | None = None,
                 timeout_s: float = 120.0) -> Iterator[None]:
    """Print ``html`` to ``pdf`` while the body of the ``with`` runs; wait at its end.

    The browser prints in its own process, so other files of a report are written
    meanwhile.

    Raises
    ------
    PdfError
        No browser found, or it failed or wrote nothing.
    """
    exe = browser or find_browser()
    if exe is None:
        raise PdfError("no Chromium, Chrome or Edge found to print the PDF; install one "
                       "(Debian: apt-get install chromium), set LIFECIRCLE_BROWSER, or use "
                       "--no-pdf")
    with tempfile.TemporaryDirectory(prefix="lifecircle-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               "--disable-extensions", "--no-first-run", f"--user-data-dir={profile}",
               f"--print-to-pdf={pdf}", html.resolve().as_uri()]
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as exc:
            raise PdfError(f"printing the PDF failed ({exc})") from exc
        try:
            yield
            _, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise PdfError(f"printing the PDF failed ({exc})") from exc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    if proc.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        err = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise PdfError(f"{exe} could not print the PDF (exit {proc.returncode}: {err[0]})")


# ---------------------------------------------------------------------- pieces
def _uncovered(cells: pd.DataFrame, target_id: str) -> np.ndarray | None:
    col = f"covered__{target_id}"
    if col not in cells.columns:
        return None
    known, covered = _flags(cells[col])
    return np.where(known & ~covered, cells["pop_total"].to_numpy(float), np.nan)


def _classes(values: np.ndarray, colors: tuple[str, ...]) -> tuple[float, ...]:
    """Class bounds from quantiles of the positive values (round numbers)."""
    v = values[np.isfinite(values) & (values > 0)]
    if not len(v):
        return (0.5, 1.0)
    q = np.quantile(v, np.linspace(0, 1, len(colors) + 1)[1:-1])
    bounds = [0.5]
    for x in q:
        r = float(np.round(x, -int(np.floor(np.log10(max(x, 1))))))
        if r > bounds[-1]:
            bounds.append(r)
    bounds.append(np.inf)
    return tuple(bounds)


def _style(values: np.ndarray, colors: tuple[str, ...], title: str) -> LayerStyle:
    bounds = _classes(values, colors)
    n = len(bounds) - 1
    pick = np.round(np.linspace(0, len(colors) - 1, n)).astype(int) if n > 1 else [-1]
    return LayerStyle(bounds, tuple(colors[i] for i in pick), title)


UNCOVERED_COLORS = ("#fde0c5", "#facba6", "#f59e72", "#e4683f", "#b53018")
POP_COLORS = ("#e8f1fa", "#c4dbf0", "#8fbbe0", "#4f8fc7", "#1f5a9c")


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _gap_rows(data: ReportData, target_id: str, n: int, lang: str) -> list[dict[str, Any]]:
    """The ``n`` largest gap areas of a target.

    Reads both gap tables: gap areas (``rank, residents, radius_m, lon, lat,
    unit_name__<level>``: every uncovered resident in reach of one new facility at the
    centre) and the connected clusters of earlier runs (``population``, no lon/lat).
    """
    g = data.gaps
    if g.empty or "target_id" not in g.columns:
        return []
    pop_col = "residents" if "residents" in g.columns else "population"
    g = g[g["target_id"] == target_id]
    g = (g.sort_values("rank") if "rank" in g.columns
         else g.sort_values(pop_col, ascending=False)).head(n)
    if g.empty:
        return []
    gx, gy = g["x"].to_numpy(float), g["y"].to_numpy(float)
    if "lon" in g.columns and "lat" in g.columns and g["lon"].notna().all():
        lon, lat = g["lon"].to_numpy(float), g["lat"].to_numpy(float)
    else:
        tr = Transformer.from_crs(data.crs, "EPSG:4326", always_xy=True)
        lon, lat = tr.transform(gx, gy)
    unit_name = [""] * len(g)
    named = [c for c in g.columns if c.startswith("unit_name__")]
    if named:
        # the finest level present (the last one with a name), e.g. the street
        for c in named:
            for i, v in enumerate(g[c]):
                if isinstance(v, str) and v:
                    unit_name[i] = v
    elif data.unit_polygons:
        poly = next(iter(data.unit_polygons.values()))
        tree = shapely.STRtree(poly.geometry.to_numpy())
        pi, ui = tree.query(shapely.points(gx, gy), predicate="intersects")
        names = poly["name"].astype(str).to_numpy()
        for p, u in zip(pi, ui, strict=True):
            unit_name[p] = names[u]
    radius = (g["radius_m"].to_numpy(float) if "radius_m" in g.columns
              else np.full(len(g), np.nan))
    pops = g[pop_col].to_numpy(float)
    cells = g["n_cells"].to_numpy() if "n_cells" in g.columns else np.zeros(len(g), int)
    return [{"rank": i + 1, "population": f"{pops[i]:,.0f}", "cells": int(cells[i]),
             "radius": f"{radius[i]:,.0f}" if np.isfinite(radius[i]) else "",
             "where": f"{lon[i]:.5f}, {lat[i]:.5f}", "unit": unit_name[i],
             "x": float(gx[i]), "y": float(gy[i])} for i in range(len(g))]


def _site_rows(gs: GapSites | None, lang: str) -> tuple[list[dict[str, Any]], str, str]:
    """Rows of the best-new-sites table, the sentence saying how they were chosen, and
    the note when there are none."""
    if gs is None:
        return [], "", ""
    if gs.sites.empty:
        return [], "", (gs.note[0] if lang == "zh" else gs.note[1]) if gs.note else ""
    rows = [{"rank": int(s.rank), "label": f"S{int(s.rank)}", "unit": s.unit,
             "where": f"{s.lon:.5f}, {s.lat:.5f}", "adds": f"{s.marginal_pop:,.0f}",
             "x": float(s.x), "y": float(s.y)} for s in gs.sites.itertuples()]
    gap = f"{gs.gap:.1%}" if np.isfinite(gs.gap) else "—"
    if gs.method == "greedy":
        how = _t("method_greedy", lang, gap=gap)
    elif gs.status == "optimal":
        how = _t("method_exact", lang)
    else:
        how = _t("method_exact_gap", lang, gap=gap)
    text = _t("sites_how", lang, method=how, n=len(rows),
              category=gs.category_zh if lang == "zh" else gs.category_en,
              adds=f"{gs.sites['marginal_pop'].sum():,.0f}",
              before=_fmt(gs.share_before, "share", lang),
              after=_fmt(gs.share_promised, "share", lang), cat=gs.category,
              tid=gs.target_id)
    return rows, text, ""


def _source_files(data: ReportData, record: RunRecord | None) -> list[dict[str, str]]:
    items: list[tuple[str, str]]
    if record is not None:
        items = list(record.checksums.items())
    else:
        items = []
        for m in data.meta.get("networks", {}).values():
            items.append((m.get("source", ""), m.get("sha256", "")))
    out = []
    for path, sha in items:
        p = Path(path)
        mod = ""
        if p.is_file():
            mod = datetime.fromtimestamp(p.stat().st_mtime, UTC).strftime("%Y-%m-%d")
        out.append({"file": p.name, "sha256": sha, "modified": mod})
    return out


# ---------------------------------------------------------------------- writers
def _write_excel(data: ReportData, path: Path, *, lang: str,
                 meta_rows: list[tuple[str, str]]) -> Path:
    """The workbook: one sheet per target group, units, failing units, rejects, metadata."""
    tcols = ("id", "name_zh", "name_en", "kind", "value", "value_area", "threshold", "unit",
             "comparison", "met", "status", "population_base", "n_units", "scope", "source",
             "clause", "confidence", "reason_zh", "reason_en", "warning_zh", "warning_en",
             "area_base", "mode", "group")
    ucols = ("target_id", "level", "unit_id", "name", "value", "threshold", "met", "detail",
             "mode")
    share_cols = {"value", "value_area", "threshold"}
    wb = Workbook()
    wb.remove(wb.active)
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDE7F3")

    def sheet(title: str, df: pd.DataFrame, names: tuple[str, ...] | None, prefix: str = "col",
              *, share_of: pd.Series | None = None) -> None:
        ws = wb.create_sheet(title[:31])
        cols = list(df.columns)
        heads = [_t(f"{prefix}_{c}" if f"report_{prefix}_{c}" in MESSAGES else f"col_{c}",
                    lang) if names and c in names else c for c in cols]
        ws.append(heads)
        for cell in ws[1]:
            cell.font = header_font
            cell.fill = header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for i, row in enumerate(df.itertuples(index=False)):
            vals: list[bool | int | float | str | None] = []
            for v in row:
                if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                    vals.append(None)
                elif isinstance(v, np.bool_ | bool):
                    vals.append(bool(v))
                elif isinstance(v, np.integer):
                    vals.append(int(v))
                elif isinstance(v, np.floating | float):
                    vals.append(float(v))
                else:
                    vals.append(neutralise_formula(str(v)))
            ws.append(vals)
            is_share = share_of is not None and share_of.iloc[i] == "share"
            for j, c in enumerate(cols):
                cell = ws.cell(row=i + 2, column=j + 1)
                if isinstance(cell.value, float):
                    cell.number_format = ("0.0%" if is_share and c in share_cols
                                          else "#,##0.00")
                elif isinstance(cell.value, int) and not isinstance(cell.value, bool):
                    cell.number_format = "#,##0"
        ws.freeze_panes = "B2" if len(cols) > 1 else "A2"
        ws.auto_filter.ref = ws.dimensions
        for j, c in enumerate(cols, start=1):
            width = 14 if c not in ("source", "clause", "reason_zh", "reason_en", "detail",
                                    "warning_zh", "warning_en", "name_zh", "name_en") else 36
            ws.column_dimensions[get_column_letter(j)].width = width

    tg = data.targets
    if not tg.empty:
        groups = tg["id"].map(lambda i: target_group(str(i), lang))
        for g in dict.fromkeys(groups):
            part = tg[groups == g].reset_index(drop=True)
            sheet(g, part, tcols, share_of=part["unit"].reset_index(drop=True))
    un = data.units
    units_share = None
    if not un.empty and not tg.empty:
        units_share = un["target_id"].map(dict(zip(tg["id"], tg["unit"], strict=True)))
    sheet(_t("sheet_units", lang), un, ucols, "ucol",
          share_of=None if units_share is None else units_share.reset_index(drop=True))
    if not un.empty:
        failing_mask = ~pd.Series(_flags(un["met"])[1], index=un.index)
        failing = un[failing_mask].reset_index(drop=True)
        sheet(_t("sheet_failing", lang), failing, ucols, "ucol",
              share_of=None if units_share is None
              else units_share[failing_mask].reset_index(drop=True))
    else:
        sheet(_t("sheet_failing", lang), un, ucols, "ucol")
    sheet(_t("sheet_rejects", lang), data.rejects, None)
    meta = pd.DataFrame(meta_rows, columns=["key", "value"])
    sheet(_t("sheet_meta", lang), meta, ("key", "value"), "meta")
    tmp = path.with_suffix(".tmp.xlsx")
    with _exact_numbers():
        wb.save(tmp)
    tmp.replace(path)
    return path


@contextmanager
def _exact_numbers() -> Iterator[None]:
    """Write numbers to the workbook so that they read back exactly as in the CSV files.

    openpyxl writes ``%.16g``, which changes the last digit of some doubles.
    """
    original = _openpyxl_writer.safe_string

    def exact(value: Any) -> str:
        if isinstance(value, float) and np.isfinite(value):
            return repr(value)
        return original(value)

    _openpyxl_writer.safe_string = exact
    try:
        yield
    finally:
        _openpyxl_writer.safe_string = original


#: Gap areas are written with their outlines up to this many member cells in all (a
#: larger run's gap layer holds the centres as points).
MAX_GAP_OUTLINE_CELLS = 300_000

#: GeoPackage layers: key -> ASCII table name (the title, ``report_layer_<key>``, is the
#: layer's identifier in the reader's language).
GPKG_LAYERS = {"cells": "cells", "facilities": "facilities", "units": "units",
               "gaps": "gap_areas", "sites": "new_sites"}


def _write_gpkg(data: ReportData, path: Path, *, lang: str,
                sites: dict[str, GapSites] | None = None) -> Path:
    """Cells (polygons), facilities, units (with failing-target counts), gap points and
    the proposed new sites."""
    tmp = path.with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)

    def write(key: str, gdf: gpd.GeoDataFrame) -> None:
        name = GPKG_LAYERS[key]
        gdf = gdf.copy()
        for c in gdf.columns:
            if c != "geometry" and gdf[c].dtype == object:
                gdf[c] = gdf[c].map(lambda v: None if v is None or v is pd.NA else str(v))
        gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", use_arrow=True,
                    layer_options={"IDENTIFIER": _t(f"layer_{key}", lang),
                                   "DESCRIPTION": f"{_t(f'layer_{key}', 'zh')} / "
                                                  f"{_t(f'layer_{key}', 'en')}"})

    cells = data.cells
    keep = [c for c in cells.columns
            if c in ("cell_id", "x", "y") or c.startswith(("pop_", "time_min__", "covered__",
                                                            "unit__"))]
    cs = data.cell_size_m / 2
    x, y = cells["x"].to_numpy(float), cells["y"].to_numpy(float)
    geom = shapely.box(x - cs, y - cs, x + cs, y + cs)
    cdf = pd.DataFrame(cells[keep]).copy()
    for c in cdf.columns:
        if c.startswith("covered__"):
            known, true = _flags(cdf[c])
            cdf[c] = pd.array(true, dtype="boolean")
            cdf.loc[~known, c] = pd.NA
        elif pd.api.types.is_float_dtype(cdf[c]):
            cdf[c] = cdf[c].where(np.isfinite(cdf[c]))
    write("cells", gpd.GeoDataFrame(cdf, geometry=geom, crs=data.crs))
    pop_style = _style(cdf["pop_total"].to_numpy(float) if "pop_total" in cdf else np.zeros(0),
                       POP_COLORS, _t("population_legend", lang))
    gap_geometry = "point"
    fac = data.facilities
    fcols = [c for c in ("facility_id", "category", "name", "source", "capacity", "ownership",
                         "lon", "lat", "snap_dist_m", "reachable") if c in fac.columns]
    write("facilities", gpd.GeoDataFrame(pd.DataFrame(fac[fcols]), geometry=fac.geometry.values,
                                         crs=data.crs))
    parts = []
    for level, poly in data.unit_polygons.items():
        u = poly[["unit_id", "name", "geometry"]].copy()
        u["level"] = level
        if not data.units.empty:
            lu = data.units[data.units["level"] == level]
            fail = lu[~_flags(lu["met"])[1]].groupby(
                lu["unit_id"].astype(str))["target_id"].agg(lambda s: ";".join(s))
            u["failing_targets"] = u["unit_id"].map(fail).fillna("")
            u["n_failing"] = u["failing_targets"].map(lambda s: len(s.split(";")) if s else 0)
        parts.append(u)
    if parts:
        write("units", gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=data.crs))
    if not data.gaps.empty and "x" in data.gaps.columns:
        g = data.gaps.drop(columns=["cell_ids"], errors="ignore")
        if "rank" not in g.columns:  # clusters of earlier runs: rank by residents
            pop_col = "residents" if "residents" in g.columns else "population"
            g = g.assign(rank=g.groupby("target_id")[pop_col].rank(
                method="first", ascending=False).astype(int))
        members = data.gap_cells
        if (members is not None and data.grid is not None and "rank" in data.gaps.columns
                and len(members) <= MAX_GAP_OUTLINE_CELLS):
            # each area's outline: the union of its cells (as the run's own gaps.gpkg)
            write("gaps", gap_polygons(g, members, data.grid, data.crs))
            gap_geometry = "polygon"
        else:
            write("gaps", gpd.GeoDataFrame(g, geometry=gpd.points_from_xy(g["x"], g["y"]),
                                           crs=data.crs))
    found = [gs.sites.assign(target_id=gs.target_id, category=gs.category)
             for gs in (sites or {}).values() if not gs.sites.empty]
    if found:
        sd = pd.concat(found, ignore_index=True)
        sd = sd[["target_id", "category", "rank", "unit", "lon", "lat", "marginal_pop",
                 "cumulative_pop", "x", "y"]]
        write("sites", gpd.GeoDataFrame(sd, geometry=gpd.points_from_xy(sd["x"], sd["y"]),
                                        crs=data.crs))
    write_layer_styles(tmp, _gpkg_styles(lang, pop_style, gap_geometry))
    tmp.replace(path)
    return path


def _graduated(column: str, style: LayerStyle, top: float) -> Graduated:
    """A map style's classes as graduated colours (the open top class ends at ``top``)."""
    bounds = [float(b) for b in style.bounds]
    bounds[-1] = max(top, bounds[-2] + 1.0) if not np.isfinite(bounds[-1]) else bounds[-1]
    return Graduated(column, bounds, list(style.colors), style.legend_labels())


def _gpkg_styles(lang: str, pop_style: LayerStyle,
                 gap_geometry: str = "point") -> list[LayerStyleDef]:
    """Each report layer's default style for QGIS: the report maps' colours."""
    def name(key: str) -> str:
        return _t(f"layer_{key}", lang)

    failing = Graduated("n_failing", (-0.5, 0.5, 2.5, 5.5, 1e6),
                        ("#f7f7f7", "#fcd5b5", "#f59e72", "#d7301f"), ("0", "1–2", "3–5", "6+"))
    return [
        LayerStyleDef("cells", name("cells"), "polygon", stroke=None,
                      graduated=_graduated("pop_total", pop_style, 1e9),
                      description=_t("population_legend", lang)),
        LayerStyleDef("facilities", name("facilities"), "point", fill="#1f4e9c",
                      stroke="#ffffff", stroke_width_mm=0.2, marker="triangle", size_mm=2.2),
        LayerStyleDef("units", name("units"), "polygon", stroke="#222222",
                      stroke_width_mm=0.4, label="name",
                      graduated=failing,
                      description=_t("units_style", lang)),
        (LayerStyleDef("gap_areas", name("gaps"), "polygon", fill=None,
                       stroke="#c0392b", stroke_width_mm=0.6, label="rank")
         if gap_geometry == "polygon" else
         LayerStyleDef("gap_areas", name("gaps"), "point", fill="#c0392b", stroke="#ffffff",
                       marker="circle", size_mm=4.0, label="rank")),
        LayerStyleDef("new_sites", name("sites"), "point", fill="#1e8449", stroke="#ffffff",
                      marker="square", size_mm=3.6, label="rank"),
    ]


def _status_text(status: str, lang: str) -> str:
    return _t(status, lang) if status in ("met", "not_met", "no_data") else status


def write_report(data: ReportData, out_dir: str | Path, *, lang: str = "zh",
                 record: RunRecord | None = None, comparison: Comparison | None = None,
                 trend: Trend | None = None, pdf: bool = True, svg: bool = False,
                 force: bool = False,
                 version: str | None = None, browser: str | None = None, max_gaps: int = 5,
                 max_ledger: int = 40, streets: np.ndarray | None = None,
                 sites: int = 3, sites_method: str = "greedy", sites_budget_s: float = 15.0,
                 progress: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Write a run's report to a new folder.

    Parameters
    ----------
    data
        The run (:meth:`ReportData.from_result` or :meth:`ReportData.from_folder`).
    out_dir
        Report folder; must not exist yet (or be empty) unless ``force``.
    lang
        ``"zh"`` (default) or ``"en"``.
    record
        The run's history record: adds the label, reproducibility block and a check of
        whether its inputs changed since.
    comparison
        From :func:`lifecircle.compare.compare_runs`: adds the change section.
    trend
        Three or more runs: adds a trend chart per target.
    pdf
        Also print ``report.pdf`` with headless Chromium/Chrome/Edge.
    svg
        Also write every map as SVG (beside the PNG files).
    force
        Replace an existing report folder.
    version
        lifecircle version for the reproducibility block (default: installed).
    browser
        Browser executable for the PDF (default: :func:`find_browser`).
    max_gaps
        Gap areas listed per failing target.
    max_ledger
        Failing units listed per target in the HTML and PDF, worst first (the workbook
        lists all).
    streets
        Street segments ``(n, 2, 2)`` for the maps (default: from the study area's own
        OSM file, :func:`lifecircle.report_data.street_segments`).
    sites
        Best new sites shown per failing walking target (:mod:`lifecircle.report_sites`;
        0: none).
    sites_method, sites_budget_s
        As ``method`` and ``budget_s`` of :func:`lifecircle.report_sites.best_sites`.
    progress
        Called with the name of each step.

    Returns
    -------
    dict
        Name -> path of each file written (``html``, ``pdf``, ``xlsx``, ``gpkg``,
        ``map_<id>_png`` ...).

    Raises
    ------
    ReportExistsError
        The folder exists and is not empty, and ``force`` is False.
    PdfError
        The PDF could not be printed.
    """
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise ReportExistsError(f"{out}: a report folder exists here; give a new --out "
                                "folder or --force to replace it")
    say = progress or (lambda _s: None)
    version = software_version() if version is None else version
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)  # a report folder like any other, not mkdtemp's 0700
    try:
        files = _build(data, work, lang=lang, record=record, comparison=comparison,
                       trend=trend, pdf=pdf, svg=svg, version=version, browser=browser,
                       max_gaps=max_gaps, max_ledger=max_ledger, streets=streets,
                       sites=sites, sites_method=sites_method,
                       sites_budget_s=sites_budget_s, say=say)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            work.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.info(i18n_say("log_report_written", path=out, s=time.perf_counter() - t0))
    return {k: out / p.relative_to(work) for k, p in files.items()}


def _build(data: ReportData, work: Path, *, lang: str, record: RunRecord | None,
           comparison: Comparison | None, trend: Trend | None, pdf: bool, svg: bool,
           version: str,
           browser: str | None, max_gaps: int, max_ledger: int, streets: np.ndarray | None,
           sites: int, sites_method: str, sites_budget_s: float,
           say: Callable[[str], None],
           ) -> dict[str, Path]:
    files: dict[str, Path] = {}
    maps_dir = work / "maps"
    maps_dir.mkdir()
    tg = data.targets
    status = tg["status"].astype(str) if not tg.empty else pd.Series(dtype=str)
    counts = {k: int((status == k).sum()) for k in ("met", "not_met", "no_data")}
    name_col = "name_zh" if lang == "zh" else "name_en"
    reason_col = "reason_zh" if lang == "zh" else "reason_en"
    warn_col = "warning_zh" if lang == "zh" else "warning_en"

    # ------------------------------------------------------------- maps
    say("maps")
    pop_label = "; ".join(
        str(s) for s in data.accounting.get("source", pd.Series(dtype=str)).dropna().unique()
    ) if not data.accounting.empty else ""
    source_line = _t("data_source_line", lang, pop=pop_label or "—", crs=data.crs.to_string(),
                     version=version)
    cells = data.cells
    x, y = cells["x"].to_numpy(float), cells["y"].to_numpy(float)
    polys = next(iter(data.unit_polygons.values()), None)
    if len(x):
        extent = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    elif polys is not None:
        extent = tuple(polys.total_bounds)
    else:
        extent = (0.0, 0.0, 1.0, 1.0)
    if streets is None:
        streets = street_segments(data)
    canvas = MapCanvas(data.crs, extent, units=polys, streets=streets,
                       source_line=source_line, lang=lang)
    images: dict[str, str] = {}

    def emit(key: str, fig: Any) -> str:
        png = maps_dir / f"{key}.png"
        save_figure(fig, png)
        files[f"map_{key}_png"] = png
        if svg:
            files[f"map_{key}_svg"] = save_figure(fig, maps_dir / f"{key}.svg")
        uri = _data_uri(png.read_bytes())
        images[key] = uri
        return uri

    pop = cells["pop_total"].to_numpy(float) if "pop_total" in cells else np.zeros(len(x))
    fac = data.facilities
    fac_pts = pd.DataFrame({"x": fac.geometry.x, "y": fac.geometry.y}) if len(fac) else None
    emit("population", canvas.figure(
        _t("population_map", lang), x=x, y=y, values=pop, cell_size_m=data.cell_size_m,
        style=_style(pop, POP_COLORS, _t("population_legend", lang)),
        points=fac_pts, points_label=_t("facilities_legend", lang)))

    # ------------------------------------------------------------- new sites
    fail_ids = [str(i) for i in tg.loc[status == "not_met", "id"]] if not tg.empty else []
    gap_sites: dict[str, GapSites] = {}
    if sites > 0 and fail_ids:
        say("sites")
        gap_sites = best_sites(data, fail_ids, n=sites, method=sites_method,
                               budget_s=sites_budget_s)

    # ------------------------------------------------------------- failing targets
    say("targets")
    failing = []
    units = data.units
    for r in tg[status == "not_met"].to_dict("records") if not tg.empty else []:
        tid = str(r["id"])
        gaps = _gap_rows(data, tid, max_gaps, lang)
        site_rows, sites_how, sites_note = _site_rows(gap_sites.get(tid), lang)
        unc = _uncovered(cells, tid)
        img = None
        if unc is not None:
            style = _style(unc, UNCOVERED_COLORS, _t("uncovered_legend", lang))
            fig = canvas.figure(_t("uncovered_map", lang, name=r[name_col]), x=x, y=y,
                                values=unc, cell_size_m=data.cell_size_m, style=style,
                                markers=[(g["x"], g["y"], str(g["rank"])) for g in gaps],
                                sites=[(s["x"], s["y"], s["label"]) for s in site_rows],
                                sites_label=_t("site_map", lang))
            img = emit(f"uncovered_{tid}", fig)
        ledger = []
        ledger_more = 0
        if not units.empty:
            lu = units[(units["target_id"] == tid).to_numpy() & ~_flags(units["met"])[1]]
            lu = lu.sort_values("value")
            ledger_more = max(0, len(lu) - max_ledger)
            ledger = [{"level": u["level"], "unit_id": u["unit_id"], "name": u["name"],
                       "value": _fmt(u["value"], str(r["unit"]), lang),
                       "threshold": _fmt(u["threshold"], str(r["unit"]), lang),
                       "detail": u.get("detail", "")}
                      for u in lu.head(max_ledger).to_dict("records")]
        failing.append({"id": tid, "name": r[name_col], "value": _fmt(r["value"], r["unit"], lang),
                        "threshold": f"{r['comparison']} {_fmt(r['threshold'], r['unit'], lang)}",
                        "reason": r.get(reason_col) if isinstance(r.get(reason_col), str) else "",
                        "warning": r.get(warn_col) if isinstance(r.get(warn_col), str) else "",
                        "image": img, "ledger": ledger, "ledger_more": ledger_more,
                        "gaps": gaps, "sites": site_rows, "sites_how": sites_how,
                        "sites_note": sites_note})

    scorecard = [{"id": str(r["id"]), "name": r[name_col],
                  "value": _fmt(r["value"], r["unit"], lang),
                  "threshold": f"{r['comparison']} {_fmt(r['threshold'], r['unit'], lang)}",
                  "status": str(r["status"]),
                  "status_text": _status_text(str(r["status"]), lang),
                  "confidence": r.get("confidence", "")}
                 for r in (tg.to_dict("records") if not tg.empty else [])]
    no_data = [{"id": str(r["id"]), "name": r[name_col],
                "reason": r.get(reason_col) if isinstance(r.get(reason_col), str) else ""}
               for r in (tg[status == "no_data"].to_dict("records") if not tg.empty else [])]
    warnings = [{"name": r[name_col], "text": r[warn_col]}
                for r in (tg.to_dict("records") if not tg.empty else [])
                if isinstance(r.get(warn_col), str) and r[warn_col]]

    # ------------------------------------------------------------- comparison, trend
    compare_ctx = None
    if comparison is not None:
        c = comparison
        names = dict(zip(c.targets["target_id"], c.targets[name_col], strict=True))
        units_of = dict(zip(tg["id"], tg["unit"], strict=True)) if not tg.empty else {}

        def urows(df: pd.DataFrame) -> list[dict[str, str]]:
            return [{"target": names.get(u["target_id"], u["target_id"]), "name": u["name"],
                     "then": _fmt(u["value_then"], units_of.get(u["target_id"], ""), lang),
                     "now": _fmt(u["value_now"], units_of.get(u["target_id"], ""), lang)}
                    for u in df.to_dict("records")]

        def frows(df: pd.DataFrame) -> list[dict[str, str]]:
            return [{"id": f["facility_id"], "name": f["name"] or "", "category": f["category"],
                     "where": f"{f['lon']:.5f}, {f['lat']:.5f}"} for f in df.to_dict("records")]

        ch = c.changed_targets
        compare_ctx = {
            "head": _t("compare_head", lang, now=c.now.run_id, now_label=c.now.label or "",
                       now_date=c.now.created_utc[:10], then=c.then.run_id,
                       then_label=c.then.label or "", then_date=c.then.created_utc[:10]),
            "targets": [{"id": r["target_id"], "name": r[name_col],
                         "then": _fmt(r["value_then"], units_of.get(r["target_id"], ""), lang),
                         "now": _fmt(r["value_now"], units_of.get(r["target_id"], ""), lang),
                         "change": (_fmt(r["change"], units_of.get(r["target_id"], ""), lang)
                                    if pd.notna(r["change"]) else "—"),
                         "status_then": _status_text(str(r["status_then"]), lang),
                         "status_now": _status_text(str(r["status_now"]), lang)}
                        for r in ch.to_dict("records")],
            "newly_met": [names.get(i, i) for i in c.newly_met],
            "lost": [names.get(i, i) for i in c.lost],
            "units_up": urows(c.units_improved), "units_down": urows(c.units_worse),
            "added": frows(c.facilities_added), "removed": frows(c.facilities_removed),
            "matched": [{"then": m["facility_id_then"], "now": m["facility_id_now"],
                         "name": m["name"] or "", "category": m["category"]}
                        for m in c.facilities_matched.to_dict("records")]}
    trend_ctx = []
    if trend is not None and len(trend.records) >= 3 and not tg.empty:
        say("trend")
        labels = [r.label or f"#{r.run_id}" for r in trend.records]
        for r in tg.to_dict("records"):
            tid = str(r["id"])
            if tid not in trend.values.columns or trend.values[tid].isna().all():
                continue
            fig = trend_chart(trend.values[tid].to_numpy(float), title=r[name_col],
                              labels=labels, threshold=float(r["threshold"]),
                              ylabel=_fmt(0, r["unit"], lang).split(" ", 1)[-1]
                              if r["unit"] != "share" else "%")
            trend_ctx.append({"name": r[name_col], "image": emit(f"trend_{tid}", fig)})

    # ------------------------------------------------------------- sources, method, repro
    changed = record.changed_inputs() if record is not None else []
    meta = data.meta
    speeds = ", ".join(f"{k} {v:g}" for k, v in meta.get("walk_speed_kmh", {}).items())
    snap = data.area.network.snap_max_dist_m if data.area is not None else float("nan")
    method = [_t("method_travel", lang, speeds=speeds),
              _t("method_crs", lang, crs=f"{meta.get('crs')} {meta.get('crs_name', '')}",
                 cs=data.cell_size_m),
              _t("method_snap", lang, snap=snap)]
    for mode, n in meta.get("networks", {}).items():
        method.append(_t("method_net", lang, mode=mode, nodes=int(n.get("nodes", 0)),
                         arcs=int(n.get("arcs", 0)), src=n.get("source", "")))
    method.append(_t("method_targets", lang))
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta_rows = [("study_area", str(data.area_path)), ("title", data.title(lang)),
                 ("crs", str(meta.get("crs"))), ("cell_size_m", f"{data.cell_size_m:g}"),
                 ("generated_utc", generated), ("lifecircle_version", version)]
    if record is not None:
        meta_rows += [("run_id", str(record.run_id)), ("label", record.label or ""),
                      ("recorded_utc", record.created_utc), ("fingerprint", record.fingerprint),
                      ("inputs_changed_since", "; ".join(changed))]
        meta_rows += [(f"sha256:{Path(p).name}", s) for p, s in record.checksums.items()]

    # ------------------------------------------------------------- files
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined)
    html = env.get_template("report.html.j2").render(
        lang=lang, t=lambda k, **kw: _t(k, lang, **kw), title=data.title(lang),
        colon="：" if lang == "zh" else ": ", semi="；" if lang == "zh" else "; ",
        sep="、" if lang == "zh" else ", ", lp="（" if lang == "zh" else " (",
        rp="）" if lang == "zh" else ")",
        generated=generated, record=record, counts=counts, scorecard=scorecard,
        failing=failing, no_data=no_data, warnings=warnings, images=images,
        compare=compare_ctx, trend=trend_ctx, method=method,
        sources=_source_files(data, record), changed=changed, version=version,
        accounting=data.accounting.to_dict("records") if not data.accounting.empty else [],
        n_rejects=len(data.rejects), notes=[n[0] if lang == "zh" else n[1]
                                            for n in data.notes],
        conf_legend=_t("conf_legend", lang))
    files["html"] = work / "report.html"
    files["html"].write_text(html, encoding="utf-8")

    def tables() -> None:
        say("workbook")
        files["xlsx"] = _write_excel(data, work / "report.xlsx", lang=lang,
                                     meta_rows=meta_rows)
        say("geopackage")
        files["gpkg"] = _write_gpkg(data, work / "report.gpkg", lang=lang, sites=gap_sites)

    if pdf:  # the browser prints while the workbook and the GeoPackage are written
        say("pdf")
        with printing_pdf(files["html"], work / "report.pdf", browser=browser):
            tables()
        files["pdf"] = work / "report.pdf"
    else:
        tables()
    return files


@dataclass(frozen=True)
class ReportJob:
    """What :func:`report_run` wrote and found.

    Attributes
    ----------
    files
        Name -> path of each file written.
    record
        The run's history record (None when the run folder is not recorded).
    changed_inputs
        Input files changed since the run was recorded.
    comparison
        The comparison with an earlier run, when asked for.
    history
        The history file read (None when the run folder is not recorded).
    """

    files: dict[str, Path]
    record: RunRecord | None
    changed_inputs: list[str]
    comparison: Comparison | None
    history: Path | None = None


def _histories(history_dir: str | Path | None, run_dir: str | Path | None) -> list[History]:
    """The history to read: ``--history``, else the one the run folder names, else found."""
    if history_dir is not None:
        return [History(history_dir)]
    if run_dir is not None:
        return [History(history_of_run(run_dir))]
    found = find_histories()
    if not found:
        here = Path.cwd()
        raise HistoryError(
            "no run recorded yet: no run history here (lifecircle-history in this folder "
            "or one below, or named by a run folder's run.json); run 'lifecircle run' "
            "first, or give --results DIR or --history DIR",
            path=here / "lifecircle-history")
    return [History(f) for f in found]


def _find_record(*, history_dir: str | Path | None, run_dir: str | Path | None,
                 area: str | Path | None, ref: str | None,
                 ) -> tuple[History, RunRecord | None]:
    """The history and the record a report is of (see :func:`report_run`)."""
    histories = _histories(history_dir, run_dir)
    if run_dir is not None and ref is None:
        history = histories[0]
        runs = history.runs()
        want = str(Path(run_dir).resolve())
        mine = [r for r in runs if r.out_dir == want]
        if not mine:  # the project folder moved: the same outputs, by their targets.csv
            tcsv = Path(run_dir) / "targets.csv"
            sha = file_sha256(tcsv) if tcsv.is_file() else None
            mine = [r for r in runs if sha is not None and r.targets_sha256 == sha]
        current = [r for r in mine if r.outputs_current()]
        found = current or mine
        return history, (found[-1] if found else None)
    if len(histories) == 1:
        h = histories[0]
        if ref is not None:
            return h, h.get(ref)
        return h, h.latest(area_path=area)
    hits: list[tuple[History, RunRecord]] = []
    errors: list[HistoryError] = []
    for h in histories:
        try:
            hits.append((h, h.get(ref) if ref is not None else h.latest(area_path=area)))
        except HistoryError as exc:
            errors.append(exc)
    if not hits:
        raise errors[0]
    if ref is not None and len(hits) > 1:
        where = ", ".join(str(h.folder) for h, _ in hits)
        raise HistoryError(f"run '{ref}' is in several run histories ({where}); choose one "
                           "with --history", path=hits[-1][0].path)
    # the most recently recorded run of all the histories found
    return max(hits, key=lambda hr: hr[1].created_utc)


def report_run(out_dir: str | Path, *, history_dir: str | Path | None = None,
               run_dir: str | Path | None = None, area: str | Path | None = None,
               ref: str | None = None, compare: str | None = None, lang: str = "zh",
               pdf: bool = True, svg: bool = False, force: bool = False,
               progress: Callable[[str], None] | None = None) -> ReportJob:
    """Write the report of a recorded run (or of a run folder), with its comparison.

    The run is, in order: ``ref`` (id or label in the history), the run folder
    ``run_dir``, the latest recorded run of the study area ``area``, or the latest
    recorded run.

    The history is ``history_dir``; else the one the run folder ``run_dir`` names in its
    ``run.json`` (:func:`lifecircle.history.history_of_run`); else every history found
    in the current folder (:func:`lifecircle.history.find_histories`), of which the
    most recently recorded run is taken. So after ``lifecircle run --out out/2026Q3``
    a plain ``lifecircle report`` reports that run.

    Parameters
    ----------
    out_dir
        The new report folder.
    history_dir
        The history folder (default: see above).
    run_dir, area, ref
        Which run (see above).
    compare
        Id or label of an earlier run to compare with.
    lang, pdf, svg, force, progress
        As :func:`write_report`.

    Raises
    ------
    lifecircle.history.HistoryError
        No run recorded yet, an unknown id or label, or a corrupt history file.
    """
    history, record = _find_record(history_dir=history_dir, run_dir=run_dir, area=area,
                                   ref=ref)
    if run_dir is None:
        assert record is not None
        if record.out_dir is None or not record.outputs_current():
            raise HistoryError(
                f"the outputs of run #{record.run_id} are no longer in {record.out_dir} (a "
                "later run replaced them); re-run it or give its folder with --results",
                path=history.path)
        run_dir = record.out_dir
    data = ReportData.from_folder(run_dir)
    comparison = None
    if compare is not None:
        if record is None:
            raise HistoryError(f"{run_dir} is not in the run history, so it cannot be "
                               "compared; record it with 'lifecircle run --history'",
                               path=history.path)
        comparison = compare_runs(history, compare, record.run_id)
    trend = None
    if record is not None:
        same = [r for r in history.runs()
                if r.area_path == record.area_path and r.run_id <= record.run_id]
        if len(same) >= 3:
            trend = Trend(same, history.trend([r.run_id for r in same]))
    files = write_report(data, out_dir, lang=lang, record=record, comparison=comparison,
                         trend=trend, pdf=pdf, svg=svg, force=force, progress=progress)
    changed = record.changed_inputs() if record is not None else []
    return ReportJob(files=files, record=record, changed_inputs=changed,
                     comparison=comparison,
                     history=history.path if record is not None else None)
