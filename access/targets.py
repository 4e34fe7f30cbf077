"""Plan targets: the catalogue (data) and its evaluation on a study area.

The catalogue ``access/catalogue/targets.toml`` lists every target of the
Kaifeng, Zhengzhou, Xinxiang and Lankao plans and of the national standards
behind them; ``access/catalogue/<profile>.toml`` selects the targets one plan
states, with that plan's numbers. A study-area file's ``[targets]`` table can
pick a profile, drop targets, change thresholds or fields and add its own:

.. code-block:: toml

    [targets]
    profile = "kaifeng"                 # or a path to a profile file
    drop = ["emergency_15"]
    extra_categories = ["library_branch"]

    [targets.thresholds]
    fitness_10_urban = 0.95

    [targets.modify.culture_15_20]
    max_time_min = { urban = 15, town = 15, village = 20 }

    [targets.settlement]                # classify units when cells carry no settlement
    level = "township"
    town = ["410225100", "410225101"]
    village = ["410225200"]
    default = "urban"

    [[targets.add]]
    id = "pharmacy_10"
    name_zh = "10分钟药店服务圈"
    name_en = "Pharmacy within 10 minutes"
    kind = "circle"
    categories = ["pharmacy"]
    max_time_min = 10
    threshold = 0.9
    source = "local plan"
    clause = "10分钟可达药店"
    confidence = "M"

:func:`evaluate_targets` applies the targets to a :class:`TargetInputs` (cells
with distances and population, facilities, units) and returns a
:class:`TargetResults`: one verdict per target (met / not met / no data, with
the reason), per-unit results, per-cell flags and the gap list of uncovered
population clusters. The numbers come from :mod:`access.coverage`.

Gap clusters use 8-neighbour connectivity by default: cells touching at a
corner are one cell size apart and read as one area on the map. Only uncovered
cells with residents in the target's scope form clusters.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from access import coverage
from access.errors import ConfigError
from access.target_catalogue import (
    _TOL,
    _UNIT_KINDS,
    CATALOGUE_DIR,
    CATEGORY_KEYS,
    GROUPS,
    KINDS,
    PROFILES,
    SETTLEMENTS,
    UNIT_LABELS,
    Requirement,
    Target,
    _check_settlement_table,
    load_catalogue,
)

__all__ = [
    "CATALOGUE_DIR",
    "CATEGORY_KEYS",
    "GROUPS",
    "KINDS",
    "PROFILES",
    "SETTLEMENTS",
    "Requirement",
    "Target",
    "TargetInputs",
    "TargetResults",
    "apply_settlement",
    "evaluate_targets",
    "format_summary",
    "load_catalogue",
]

log = logging.getLogger(__name__)


@dataclass
class TargetInputs:
    """Everything the engine needs about one study area, assembled by the pipeline.

    Attributes
    ----------
    cells
        One row per analysis cell in the study area (populated or not):
        ``cell_id``, ``row``, ``col``, ``x``, ``y`` (metres), ``area_m2``,
        ``residential_m2`` (may be all NaN), ``pop_<group>`` per available group,
        ``dist_m__<category>`` (walking network distance to the nearest facility,
        ``inf`` when none within the search limit; the column is absent when the
        category has no facility at all), optional ``drive_time_min__<category>``,
        ``unit__<level>`` (unit id or None) per unit level present and an
        optional ``settlement`` (``urban`` | ``town`` | ``village``).
    facilities
        ``facility_id``, ``category``, ``capacity`` (NaN unknown), ``ownership``
        (``public`` | ``private`` | ``inclusive`` | ``""``), ``unit__<level>``...,
        ``area_m2`` (NaN unknown).
    units
        Level -> table (``unit_id``, ``name``, ``pop_<group>``...) of every unit of
        that level, including units without any facility.
    walk_speed_kmh
        Walking speed per group; a group without its own speed uses ``total``.
    catchments
        ``catchments(category, max_dist_m) -> (fac_idx, cell_idx, dist_m)``: every
        facility-cell pair within ``max_dist_m``; ``fac_idx`` is the position
        among the facilities of that category (in table order), ``cell_idx`` the
        position in ``cells``. None when not available.
    data_warnings
        Category -> (zh, en) completeness warning carried by targets using it.
    groups_derived
        Group -> (zh, en) note when the group was derived from shares.
    """

    cells: pd.DataFrame
    facilities: pd.DataFrame
    units: dict[str, pd.DataFrame] = field(default_factory=dict)
    walk_speed_kmh: dict[str, float] = field(default_factory=lambda: {"total": 4.0})
    catchments: Callable[[str, float], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
    data_warnings: dict[str, tuple[str, str]] = field(default_factory=dict)
    groups_derived: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class TargetResults:
    """Verdicts of :func:`evaluate_targets`.

    Attributes
    ----------
    targets
        One row per target: ``id, name_zh, name_en, kind, value, value_area,
        area_base, threshold, unit, comparison, met, status, population_base,
        n_units, scope, source, clause, confidence, reason_zh, reason_en,
        warning_zh, warning_en``. ``status`` is ``met``, ``not_met`` or
        ``no_data``; ``met`` is None for ``no_data``.
    units
        One row per unit and target: ``target_id, level, unit_id, name, value,
        threshold, met, detail``.
    cell_flags
        ``cell_id`` plus, per circle/completeness target, ``covered__<id>``
        (nullable boolean, NA outside the target's scope), per completeness
        target ``missing_types__<id>`` (``;``-joined category keys) and per 2SFCA
        target ``score__<id>`` (supply per ``per_persons`` persons).
    gaps
        Per failed circle/completeness target, the connected clusters of
        uncovered populated cells: ``target_id, cluster_id, n_cells, population,
        x, y, cell_ids``, ranked by population (cluster 1 is the largest).
    """

    targets: pd.DataFrame
    units: pd.DataFrame
    cell_flags: pd.DataFrame
    gaps: pd.DataFrame



# ---------------------------------------------------------------------------
# Settlement classification from the study-area file
# ---------------------------------------------------------------------------
def apply_settlement(inputs: TargetInputs, table: Mapping[str, Any], *,
                     path: Path | None = None) -> TargetInputs:
    """Classify cells as urban / town / village from the study area's unit lists.

    Parameters
    ----------
    inputs
        The engine inputs; their cells need the ``unit__<level>`` column.
    table
        ``[targets.settlement]``: ``level``, lists ``urban``, ``town``,
        ``village`` of unit ids, optional ``default`` class for unlisted units
        (without it they stay unclassified and fall outside every scope).
    path
        The study-area file, for error messages.

    Returns
    -------
    TargetInputs
        A copy whose cells carry a ``settlement`` column.
    """
    _check_settlement_table(table, path=path)
    level = table["level"]
    col = f"unit__{level}"
    if col not in inputs.cells.columns:
        raise ConfigError(f"the cells carry no '{level}' units to classify", path=path,
                          key="targets.settlement.level")
    mapping = {uid: s for s in SETTLEMENTS for uid in table.get(s, [])}
    units = _unit_ids(inputs.cells[col])
    default = table.get("default")
    settlement = [mapping.get(u, default) if u is not None else default for u in units]
    cells = inputs.cells.copy()
    if "settlement" in cells.columns:
        log.info("settlement column replaced by the study-area classification")
    cells["settlement"] = pd.Series(settlement, index=cells.index, dtype=object)
    unknown = sorted(set(mapping) - {u for u in units if u is not None})
    if unknown:
        log.warning("settlement classification names units not in the cells: %s",
                    ", ".join(unknown[:10]))
    return replace(inputs, cells=cells)


# ---------------------------------------------------------------------------
# Evaluation helpers
# ---------------------------------------------------------------------------
def _unit_ids(values: pd.Series | Iterable[Any]) -> list[str | None]:
    """Unit ids as strings, None for missing (NaN, None, empty)."""
    out: list[str | None] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            out.append(None)
        else:
            s = str(v).strip()
            if isinstance(v, float) and v.is_integer():
                s = str(int(v))
            out.append(s or None)
    return out


@dataclass
class _Outcome:
    value: float = float("nan")
    value_area: float = float("nan")
    area_base: str = ""
    status: str = "no_data"
    population_base: float = float("nan")
    n_units: float = float("nan")
    reasons: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    unit_rows: list[dict[str, Any]] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)
    gap_mask: np.ndarray | None = None


class _Context:
    """Per-run view of the inputs shared by every target."""

    def __init__(self, inputs: TargetInputs, *, connectivity: int) -> None:
        cells = inputs.cells
        need = ["cell_id", "row", "col", "x", "y", "area_m2"]
        missing = [c for c in need if c not in cells.columns]
        if missing:
            raise ValueError(f"TargetInputs.cells lacks columns {missing}")
        fac = inputs.facilities
        if "category" not in fac.columns:
            raise ValueError("TargetInputs.facilities lacks the 'category' column")
        self.inputs = inputs
        self.cells = cells
        self.fac = fac
        self.n = len(cells)
        self.connectivity = connectivity
        self.settlement_note: tuple[str, str] | None = None
        settlement = self._settlement_from_units(cells, inputs.units)
        if "settlement" in cells.columns:
            settlement = list(cells["settlement"].astype(object)
                              .where(cells["settlement"].notna(), None))
        self.settlement_known = settlement is not None
        if settlement is not None:
            bad = sorted({str(v) for v in settlement if v is not None and v not in SETTLEMENTS})
            if bad:
                raise ValueError(f"settlement has values {bad}; valid: {SETTLEMENTS}")
            self.settlement = np.array(settlement, dtype=object)
            n_none = int(sum(v is None for v in settlement))
            if n_none:
                self.settlement_note = (
                    f"{n_none} 个网格无城乡分类，不计入任何范围",
                    f"{n_none} cells without a settlement class are outside every scope")
        else:
            self.settlement = np.full(self.n, "urban", dtype=object)
        self.unit_levels = [c.removeprefix("unit__") for c in cells.columns
                            if c.startswith("unit__")]
        self.fac_categories = set(fac["category"].astype(str))

    @staticmethod
    def _settlement_from_units(cells: pd.DataFrame, units: Mapping[str, pd.DataFrame],
                               ) -> list[str | None] | None:
        """Settlement class of each cell from a unit table's ``settlement`` column."""
        for level, table in units.items():
            col = f"unit__{level}"
            if "settlement" not in table.columns or col not in cells.columns:
                continue
            mapping = {}
            for uid, s in zip(_unit_ids(table["unit_id"]), table["settlement"], strict=True):
                if uid is not None and isinstance(s, str) and s.strip():
                    mapping[uid] = s.strip()
            if not mapping:
                continue
            log.info("settlement classes taken from the %s units", level)
            return [mapping.get(u) if u is not None else None for u in _unit_ids(cells[col])]
        return None

    # -- columns -----------------------------------------------------------
    def pop(self, group: str) -> np.ndarray | None:
        col = f"pop_{group}"
        if col not in self.cells.columns:
            return None
        return np.nan_to_num(self.cells[col].to_numpy(dtype=float), nan=0.0)

    def speed(self, group: str) -> float:
        speeds = self.inputs.walk_speed_kmh
        if group in speeds:
            return float(speeds[group])
        if "total" in speeds:
            return float(speeds["total"])
        raise ValueError(f"walk_speed_kmh has no speed for group {group!r} nor 'total'")

    def has_category(self, cat: str) -> bool:
        return f"dist_m__{cat}" in self.cells.columns or cat in self.fac_categories

    def scope_mask(self, target: Target, out: _Outcome) -> np.ndarray | None:
        """Cells in the target's scope, or None (no data) with the reason."""
        if not self.settlement_known:
            if "urban" not in target.scope:
                out.reasons.append((
                    "无城乡分类（缺少settlement列，研究区文件也未划分单元），无法确定"
                    f"{'、'.join(_SETTLEMENT_ZH[s] for s in target.scope)}范围",
                    "no settlement classification (no settlement column and no unit "
                    f"classification in the study-area file): cannot find the "
                    f"{'/'.join(target.scope)} cells"))
                return None
            out.reasons.append(("无城乡分类：全部网格按城区处理",
                                "no settlement classification: every cell treated as urban"))
            return np.ones(self.n, dtype=bool)
        if self.settlement_note is not None:
            out.warnings.append(self.settlement_note)
        return np.isin(self.settlement, list(target.scope))

    def reach_per_cell(self, target: Target) -> tuple[np.ndarray, str]:
        """Per-cell reach and its unit (``m`` or ``min``)."""
        pairs = dict(target.max_time_min or target.max_dist_m or ())
        values = np.array([pairs.get(s, np.nan) if s is not None else np.nan
                           for s in self.settlement], dtype=float)
        if target.max_time_min is None:
            return values, "m"
        if target.mode == "drive":
            return values, "min"
        return coverage.time_to_dist_m(values, self.speed(target.group)), "m"

    def units_table(self, level: str) -> tuple[pd.DataFrame, bool]:
        """Units of a level (unit_id as str); True when the list is complete."""
        if level in self.inputs.units:
            df = self.inputs.units[level].copy()
            if "unit_id" not in df.columns:
                raise ValueError(f"TargetInputs.units[{level!r}] lacks the 'unit_id' column")
            df["unit_id"] = pd.Series(_unit_ids(df["unit_id"]), index=df.index, dtype=object)
            if "name" not in df.columns:
                df["name"] = df["unit_id"]
            return df, True
        ids: set[str] = set()
        for frame in (self.cells, self.fac):
            col = f"unit__{level}"
            if col in frame.columns:
                ids |= {u for u in _unit_ids(frame[col]) if u is not None}
        df = pd.DataFrame({"unit_id": pd.Series(sorted(ids), dtype=object)})
        df["name"] = df["unit_id"]
        return df, False

    def unit_pop(self, level: str, units: pd.DataFrame, group: str) -> pd.Series | None:
        """Population of the group per unit id (from the units table, else the cells)."""
        col = f"pop_{group}"
        if col in units.columns:
            return pd.Series(units[col].to_numpy(dtype=float), index=units["unit_id"])
        ucol = f"unit__{level}"
        pop = self.pop(group)
        if pop is None or ucol not in self.cells.columns:
            return None
        ids = _unit_ids(self.cells[ucol])
        s = pd.Series(pop).groupby(pd.Series(ids, dtype=object)).sum()
        return s.reindex(units["unit_id"]).fillna(0.0)

    def facilities_of(self, categories: Iterable[str]) -> pd.DataFrame:
        return self.fac[self.fac["category"].astype(str).isin(list(categories))]


_SETTLEMENT_ZH = {"urban": "城区", "town": "镇区", "village": "村庄"}


def _facilities_or_reason(target: Target, ctx: _Context, out: _Outcome) -> pd.DataFrame | None:
    """The target's facilities, or None with the "no such facilities" reason recorded."""
    fac = ctx.facilities_of(target.categories)
    if fac.empty:
        out.reasons.append((f"数据中没有以下类别的设施：{'、'.join(target.categories)}",
                            f"no facilities of {', '.join(target.categories)} in the data"))
        return None
    return fac


def _category_warnings(target: Target, ctx: _Context, out: _Outcome) -> None:
    for cat in target.categories:
        if cat in ctx.inputs.data_warnings:
            zh, en = ctx.inputs.data_warnings[cat]
            out.warnings.append((f"{cat}：{zh}", f"{cat}: {en}"))
    if target.group in ctx.inputs.groups_derived and target.kind not in _UNIT_KINDS:
        zh, en = ctx.inputs.groups_derived[target.group]
        out.warnings.append((f"{target.group}：{zh}", f"{target.group}: {en}"))


def _no_pop(target: Target, out: _Outcome) -> None:
    out.reasons.append((f"缺少人口组 {target.group}（pop_{target.group}）",
                        f"population group {target.group} not available "
                        f"(no pop_{target.group} column)"))


def _share_per_unit(ctx: _Context, target: Target, in_scope: np.ndarray, pop: np.ndarray,
                    covered: np.ndarray, out: _Outcome) -> None:
    """Per-unit coverage rows for every unit level the cells carry."""
    for level in ctx.unit_levels:
        ids = np.array(_unit_ids(ctx.cells[f"unit__{level}"]), dtype=object)
        keep = in_scope & np.array([u is not None for u in ids])
        if not keep.any():
            continue
        frame = pd.DataFrame({"unit_id": ids[keep], "pop": pop[keep],
                              "cov": np.where(covered[keep], pop[keep], 0.0)})
        agg = frame.groupby("unit_id", sort=True)[["pop", "cov"]].sum()
        names = ctx.units_table(level)[0].set_index("unit_id")["name"] \
            if level in ctx.inputs.units else None
        for uid, row in agg.iterrows():
            value = row["cov"] / row["pop"] if row["pop"] > 0 else float("nan")
            out.unit_rows.append({
                "target_id": target.id, "level": level, "unit_id": uid,
                "name": names.get(uid, uid) if names is not None else uid,
                "value": value, "threshold": target.threshold,
                "met": None if math.isnan(value) else _compare(value, target),
                "detail": f"covered {row['cov']:.0f} of {row['pop']:.0f} persons",
            })


def _compare(value: float, target: Target) -> bool:
    tol = _TOL * max(1.0, abs(target.threshold))
    if target.comparison == "<=":
        return bool(value <= target.threshold + tol)
    return bool(value >= target.threshold - tol)


def _area_share(ctx: _Context, in_scope: np.ndarray, pop: np.ndarray, covered: np.ndarray,
                out: _Outcome) -> None:
    res = (ctx.cells["residential_m2"].to_numpy(dtype=float)
           if "residential_m2" in ctx.cells.columns else np.full(ctx.n, np.nan))
    res_scope = res[in_scope]
    if np.isfinite(res_scope).any() and np.nansum(res_scope) > 0:
        weight = np.where(in_scope, np.nan_to_num(res, nan=0.0), 0.0)
        out.area_base = "residential_m2"
    else:
        area = ctx.cells["area_m2"].to_numpy(dtype=float)
        weight = np.where(in_scope & (pop > 0), np.nan_to_num(area, nan=0.0), 0.0)
        out.area_base = "populated_cell_area"
    share = coverage.weighted_share(weight, covered)
    out.value_area = share


# ---------------------------------------------------------------------------
# Kinds
# ---------------------------------------------------------------------------
def _eval_circle(target: Target, ctx: _Context) -> _Outcome:
    out = _Outcome()
    _category_warnings(target, ctx, out)
    present = [c for c in target.categories if ctx.has_category(c)
               and f"dist_m__{c}" in ctx.cells.columns]
    absent = [c for c in target.categories if c not in present]
    if not present:
        out.reasons.append((f"数据中没有以下类别的设施：{'、'.join(target.categories)}",
                            f"no facilities of {', '.join(target.categories)} in the data"))
        return out
    if absent:
        out.warnings.append((f"数据中没有 {'、'.join(absent)} 设施，覆盖率可能偏低",
                             f"no {', '.join(absent)} facilities in the data; coverage may be "
                             "understated"))
    pop = ctx.pop(target.group)
    if pop is None:
        _no_pop(target, out)
        return out
    in_scope = ctx.scope_mask(target, out)
    if in_scope is None:
        return out
    reach, reach_unit = ctx.reach_per_cell(target)
    if target.mode == "drive":
        cols = [f"drive_time_min__{c}" for c in present
                if f"drive_time_min__{c}" in ctx.cells.columns]
        if not cols:
            out.reasons.append(("缺少驾车时间（drive_time_min__*）",
                                "no drive travel times (drive_time_min__* columns)"))
            return out
        time_min = np.min(np.column_stack([ctx.cells[c].to_numpy(dtype=float) for c in cols]),
                          axis=1)
        covered = coverage.covered_mask(time_min, reach)
    elif target.radius_by_area:
        covered = _covered_by_area_radius(target, ctx, present, out)
    else:
        dist = np.min(np.column_stack(
            [np.nan_to_num(ctx.cells[f"dist_m__{c}"].to_numpy(dtype=float), nan=np.inf)
             for c in present]), axis=1)
        covered = coverage.covered_mask(dist, reach)
    covered = covered & in_scope
    _finish_share(target, ctx, out, pop, in_scope, covered)
    if reach_unit == "m" and target.max_time_min is not None:
        out.reasons.append((f"步行速度 {ctx.speed(target.group):g} 公里/小时",
                            f"walking speed {ctx.speed(target.group):g} km/h"))
    return out


def _covered_by_area_radius(target: Target, ctx: _Context, present: list[str],
                            out: _Outcome) -> np.ndarray:
    smallest = target.radius_by_area[0][1]
    largest = max(r for _, r in target.radius_by_area)
    if ctx.inputs.catchments is None:
        out.reasons.append((f"无逐设施距离，全部按 {smallest:g} 米服务半径计算",
                            f"no per-facility distances: every facility given the "
                            f"{smallest:g} m radius"))
        dist = np.min(np.column_stack(
            [np.nan_to_num(ctx.cells[f"dist_m__{c}"].to_numpy(dtype=float), nan=np.inf)
             for c in present]), axis=1)
        return coverage.covered_mask(dist, smallest)
    covered = np.zeros(ctx.n, dtype=bool)
    n_unknown = 0
    for cat in present:
        fac = ctx.facilities_of([cat])
        area = (fac["area_m2"].to_numpy(dtype=float) if "area_m2" in fac.columns
                else np.full(len(fac), np.nan))
        radius = np.full(len(fac), smallest)
        for min_area, r in target.radius_by_area:
            radius = np.where(np.isfinite(area) & (area >= min_area), r, radius)
        n_unknown += int((~np.isfinite(area)).sum())
        fi, ci, d = ctx.inputs.catchments(cat, largest)
        covered |= coverage.covered_by_facility_radius(ctx.n, fi, ci, d, radius)
    if n_unknown:
        out.warnings.append((f"{n_unknown} 处设施面积未知，按 {smallest:g} 米服务半径计算",
                             f"{n_unknown} facilities of unknown area given the {smallest:g} m "
                             "radius"))
    return covered


def _finish_share(target: Target, ctx: _Context, out: _Outcome, pop: np.ndarray,
                  in_scope: np.ndarray, covered: np.ndarray) -> None:
    scope_pop = float(pop[in_scope].sum())
    flag = pd.array(np.where(in_scope, covered, False), dtype="boolean")
    flag[~in_scope] = pd.NA
    out.flags[f"covered__{target.id}"] = flag
    if not scope_pop > 0:
        out.reasons.append(("范围内无人口", "no residents in the target's scope"))
        return
    out.value = coverage.weighted_share(np.where(in_scope, pop, 0.0), covered)
    out.population_base = scope_pop
    out.status = "met" if _compare(out.value, target) else "not_met"
    _area_share(ctx, in_scope, pop, covered, out)
    _share_per_unit(ctx, target, in_scope, pop, covered, out)
    out.gap_mask = in_scope & ~covered & (pop > 0)


def _eval_completeness(target: Target, ctx: _Context) -> _Outcome:
    out = _Outcome()
    _category_warnings(target, ctx, out)
    reqs = target.requirements
    absent = [r.category for r in reqs if f"dist_m__{r.category}" not in ctx.cells.columns]
    if absent:
        out.reasons.append((f"数据中没有以下类别的设施：{'、'.join(absent)}，无法判断生活圈是否配齐",
                            f"no facilities of {', '.join(absent)} in the data: completeness "
                            "cannot be judged"))
        return out
    pop = ctx.pop(target.group)
    if pop is None:
        _no_pop(target, out)
        return out
    in_scope = ctx.scope_mask(target, out)
    if in_scope is None:
        return out
    speed = ctx.speed(target.group)
    limits = np.array([r.max_dist_m if r.max_dist_m is not None
                       else coverage.time_to_dist_m(r.max_time_min, speed) for r in reqs])
    dist = np.column_stack([np.nan_to_num(ctx.cells[f"dist_m__{r.category}"]
                                          .to_numpy(dtype=float), nan=np.inf) for r in reqs])
    _, missing = coverage.completeness(pop, dist, limits)
    covered = ~missing.any(axis=1) & in_scope
    cats = np.array([r.category for r in reqs], dtype=object)
    out.flags[f"missing_types__{target.id}"] = pd.Series(
        [";".join(cats[m]) if s else "" for m, s in zip(missing, in_scope, strict=True)],
        dtype=object).to_numpy()
    _finish_share(target, ctx, out, pop, in_scope, covered)
    if out.status != "no_data":
        per_type = [(r.category, coverage.circle_coverage(np.where(in_scope, pop, 0.0),
                                                          dist[:, j], limits[j]))
                    for j, r in enumerate(reqs)]
        worst = sorted(per_type, key=lambda p: p[1])[:3]
        txt = ", ".join(f"{c} {v:.1%}" for c, v in worst)
        out.reasons.append((f"覆盖率最低的设施类型：{txt}", f"least covered types: {txt}"))
    return out


def _eval_unit_rule(target: Target, ctx: _Context) -> _Outcome:
    out = _Outcome()
    _category_warnings(target, ctx, out)
    fac = _facilities_or_reason(target, ctx, out)
    if fac is None:
        return out
    levels = [lv for lv in target.unit_levels
              if lv in ctx.inputs.units or f"unit__{lv}" in ctx.fac.columns]
    if not levels:
        out.reasons.append((f"数据中没有 {'/'.join(target.unit_levels)} 级单元",
                            f"unit level {'/'.join(target.unit_levels)} not in the data"))
    if target.ownership:
        own = fac["ownership"].fillna("").astype(str) if "ownership" in fac.columns \
            else pd.Series("", index=fac.index)
        if (own == "").all():
            out.reasons.append(("设施产权/性质（公办、普惠）未知",
                                "facility ownership (public/inclusive) unknown"))
            return out
        n_unknown = int((own == "").sum())
        if n_unknown:
            out.warnings.append((f"{n_unknown} 处设施性质未知，未计入",
                                 f"{n_unknown} facilities of unknown ownership not counted"))
        fac = fac[own.isin(list(target.ownership)).to_numpy()]
    if not levels:
        return out
    n_met = n_total = 0
    pop_total = 0.0
    for level in levels:
        ucol = f"unit__{level}"
        if ucol not in ctx.fac.columns:
            out.reasons.append((f"设施没有 {level} 级单元编码，无法按单元计数",
                                f"facilities carry no {level} unit: cannot count per unit"))
            continue
        units, complete = ctx.units_table(level)
        if not complete:
            out.warnings.append((f"{level} 级单元只来自设施和网格的编码："
                                 "没有任何设施的单元无法发现",
                                 f"{level} units known only from facility/cell codes: units "
                                 "without any facility cannot be seen"))
        counts = pd.Series(_unit_ids(fac[ucol]), dtype=object).value_counts()
        unassigned = int(pd.Series(_unit_ids(fac[ucol]), dtype=object).isna().sum())
        if unassigned:
            out.warnings.append((f"{unassigned} 处设施没有 {level} 单元编码，未计入",
                                 f"{unassigned} facilities without a {level} unit not counted"))
        outside = sorted(set(counts.index) - set(units["unit_id"]))
        if outside:
            out.warnings.append((f"{len(outside)} 个设施单元编码不在 {level} 单元表中",
                                 f"{len(outside)} facility unit codes not in the {level} "
                                 "unit table"))
        required = np.full(len(units), target.min_count, dtype=int)
        for group, min_pop, n in target.min_count_rules:
            upop = ctx.unit_pop(level, units, group)
            if upop is None:
                out.warnings.append((f"缺少 {level} 单元的 {group} 人口，未应用“人口≥{min_pop:g}"
                                     f"需{n}处”规则",
                                     f"no {group} population for {level} units: rule "
                                     f"'>= {n} where population >= {min_pop:g}' not applied"))
                continue
            required = np.where(upop.to_numpy(dtype=float) >= min_pop,
                                np.maximum(required, n), required)
        upop_total = ctx.unit_pop(level, units, "total")
        if upop_total is not None:
            pop_total += float(np.nansum(upop_total.to_numpy(dtype=float)))
        for (_, unit), need in zip(units.iterrows(), required, strict=True):
            have = int(counts.get(unit["unit_id"], 0))
            ok = have >= need
            n_met += ok
            n_total += 1
            out.unit_rows.append({
                "target_id": target.id, "level": level, "unit_id": unit["unit_id"],
                "name": unit["name"], "value": float(have), "threshold": float(need),
                "met": bool(ok),
                "detail": f"{have} of {need} required ({', '.join(target.categories)})",
            })
    if n_total == 0:
        if not out.reasons:
            out.reasons.append(("没有可评价的单元", "no units to evaluate"))
        return out
    out.value = n_met / n_total
    out.n_units = float(n_total)
    out.population_base = pop_total if pop_total > 0 else float("nan")
    out.status = "met" if _compare(out.value, target) else "not_met"
    failing = [r["name"] for r in out.unit_rows if r["met"] is False]
    if failing:
        shown = "、".join(str(f) for f in failing[:10])
        more = f" … (+{len(failing) - 10})" if len(failing) > 10 else ""
        out.reasons.append((f"未达标单元 {len(failing)} 个：{shown}{more}",
                            f"{len(failing)} failing units: {shown}{more}"))
    return out


def _capacities(target: Target, ctx: _Context, fac: pd.DataFrame, out: _Outcome,
                ) -> np.ndarray | None:
    fieldname = target.capacity_field
    cap = (fac[fieldname].to_numpy(dtype=float) if fieldname in fac.columns
           else np.full(len(fac), np.nan))
    known = np.isfinite(cap)
    label = ("容量（床位/学位）", "capacity") if fieldname == "capacity" else ("面积", "area")
    if not known.any():
        out.reasons.append((f"设施{label[0]}未知（{fieldname} 全为空）",
                            f"facility {label[1]} unknown ({fieldname} is empty for all "
                            f"{len(fac)} facilities)"))
        return None
    if not known.all():
        k = int((~known).sum())
        out.warnings.append((f"{k}/{len(cap)} 处设施{label[0]}未知，数值为下限",
                             f"{k} of {len(cap)} facilities without {label[1]}: the value is a "
                             "lower bound"))
    return cap


def _eval_provision(target: Target, ctx: _Context) -> _Outcome:
    out = _Outcome()
    _category_warnings(target, ctx, out)
    fac = _facilities_or_reason(target, ctx, out)
    if fac is None:
        return out
    cap = _capacities(target, ctx, fac, out)
    if cap is None:
        return out
    pop = ctx.pop(target.group)
    if pop is None:
        _no_pop(target, out)
        return out
    out.value = coverage.provision_ratio(cap, pop, per_persons=target.per_persons)
    if math.isnan(out.value):
        out.reasons.append(("研究区无人口", "no residents in the study area"))
        return out
    out.population_base = float(pop.sum())
    out.status = "met" if _compare(out.value, target) else "not_met"
    for level in target.unit_levels:
        ucol = f"unit__{level}"
        if ucol not in ctx.fac.columns or not (level in ctx.inputs.units
                                               or ucol in ctx.cells.columns):
            continue
        units, _ = ctx.units_table(level)
        upop = ctx.unit_pop(level, units, target.group)
        if upop is None:
            continue
        ucap = pd.Series(np.nan_to_num(cap, nan=0.0)).groupby(
            pd.Series(_unit_ids(fac[ucol]), dtype=object)).sum()
        for (_, unit), p in zip(units.iterrows(), upop.to_numpy(dtype=float), strict=True):
            c = float(ucap.get(unit["unit_id"], 0.0))
            value = coverage.provision_ratio(np.array([c]), np.array([p]),
                                             per_persons=target.per_persons)
            out.unit_rows.append({
                "target_id": target.id, "level": level, "unit_id": unit["unit_id"],
                "name": unit["name"], "value": value, "threshold": target.threshold,
                "met": None if math.isnan(value) else _compare(value, target),
                "detail": f"{c:g} {target.capacity_field} / {p:.0f} persons ({target.group})",
            })
    return out


def _eval_capacity_share(target: Target, ctx: _Context) -> _Outcome:
    out = _Outcome()
    _category_warnings(target, ctx, out)
    fac = _facilities_or_reason(target, ctx, out)
    if fac is None:
        return out
    cap = _capacities(target, ctx, fac, out)
    if cap is None:
        return out
    own = (fac["ownership"].fillna("").astype(str).to_numpy() if "ownership" in fac.columns
           else np.full(len(fac), "", dtype=object))
    if (own == "").all():
        out.reasons.append(("设施产权/性质（公办、普惠）未知",
                            "facility ownership (public/inclusive) unknown"))
        return out
    known = np.isfinite(cap)
    if ((own == "") & known).any():
        out.warnings.append(("部分设施性质未知，其容量只计入分母",
                             "some facilities of unknown ownership: their capacity counts "
                             "only in the total"))
    total = float(cap[known].sum())
    if not total > 0:
        out.reasons.append(("设施容量合计为0", "total capacity is zero"))
        return out
    out.value = float(cap[known & np.isin(own, list(target.ownership))].sum()) / total
    out.status = "met" if _compare(out.value, target) else "not_met"
    return out


def _eval_fca(target: Target, ctx: _Context) -> _Outcome:
    out = _Outcome()
    _category_warnings(target, ctx, out)
    if ctx.inputs.catchments is None:
        out.reasons.append(("缺少设施—网格距离对（catchments），无法计算两步移动搜索法",
                            "no facility-cell distance pairs (catchments): 2SFCA not computed"))
        return out
    if target.mode != "walk":
        out.reasons.append(("两步移动搜索法只支持步行距离",
                            "2SFCA supports walking distances only"))
        return out
    fac = _facilities_or_reason(target, ctx, out)
    if fac is None:
        return out
    cap_all = _capacities(target, ctx, fac, out)
    if cap_all is None:
        return out
    pop = ctx.pop(target.group)
    if pop is None:
        _no_pop(target, out)
        return out
    in_scope = ctx.scope_mask(target, out)
    if in_scope is None:
        return out
    first = (target.max_time_min or target.max_dist_m)[0][1]
    max_dist_m = (coverage.time_to_dist_m(first, ctx.speed(target.group))
                  if target.max_time_min is not None else first)
    supply, fi_all, ci_all, d_all = [], [], [], []
    offset = 0
    for cat in target.categories:
        sub = ctx.facilities_of([cat])
        if sub.empty:
            continue
        fi, ci, d = ctx.inputs.catchments(cat, max_dist_m)
        supply.append(sub[target.capacity_field].to_numpy(dtype=float)
                      if target.capacity_field in sub.columns else np.full(len(sub), np.nan))
        fi_all.append(np.asarray(fi, dtype=np.int64) + offset)
        ci_all.append(np.asarray(ci, dtype=np.int64))
        d_all.append(np.asarray(d, dtype=float))
        offset += len(sub)
    score = coverage.two_step_fca(np.concatenate(supply), pop, np.concatenate(fi_all),
                                  np.concatenate(ci_all), np.concatenate(d_all),
                                  max_dist_m=max_dist_m, kernel=target.kernel)
    score = score * target.per_persons
    out.flags[f"score__{target.id}"] = np.where(in_scope, score, np.nan)
    ok = score >= target.ratio_threshold - _TOL * max(1.0, abs(target.ratio_threshold))
    scope_pop = float(pop[in_scope].sum())
    if not scope_pop > 0:
        out.reasons.append(("范围内无人口", "no residents in the target's scope"))
        return out
    out.value = float(pop[in_scope & ok].sum() / scope_pop)
    out.population_base = scope_pop
    out.status = "met" if _compare(out.value, target) else "not_met"
    out.reasons.append((f"集水范围 {max_dist_m:.0f} 米，{target.kernel} 核",
                        f"catchment {max_dist_m:.0f} m, {target.kernel} kernel"))
    return out


_EVALUATORS: dict[str, Callable[[Target, _Context], _Outcome]] = {
    "circle": _eval_circle,
    "completeness": _eval_completeness,
    "unit_count": _eval_unit_rule,
    "unit_share": _eval_unit_rule,
    "provision": _eval_provision,
    "capacity_share": _eval_capacity_share,
    "fca": _eval_fca,
}

_TARGET_COLUMNS = ["id", "name_zh", "name_en", "kind", "value", "value_area", "area_base",
                   "threshold", "unit", "comparison", "met", "status", "population_base",
                   "n_units", "scope", "source", "clause", "confidence", "reason_zh",
                   "reason_en", "warning_zh", "warning_en"]
_UNIT_COLUMNS = ["target_id", "level", "unit_id", "name", "value", "threshold", "met", "detail"]
_GAP_COLUMNS = ["target_id", "cluster_id", "n_cells", "population", "x", "y", "cell_ids"]


def _gaps(target: Target, ctx: _Context, mask: np.ndarray, pop: np.ndarray) -> pd.DataFrame:
    labels = coverage.uncovered_clusters(ctx.cells["row"].to_numpy(),
                                         ctx.cells["col"].to_numpy(), mask, pop,
                                         connectivity=ctx.connectivity)
    if not labels.any():
        return pd.DataFrame(columns=_GAP_COLUMNS)
    sel = labels > 0
    frame = pd.DataFrame({
        "cluster_id": labels[sel], "pop": pop[sel],
        "x": ctx.cells["x"].to_numpy(dtype=float)[sel],
        "y": ctx.cells["y"].to_numpy(dtype=float)[sel],
        "cell_id": ctx.cells["cell_id"].to_numpy()[sel],
    })
    frame["px"] = frame["x"] * frame["pop"]
    frame["py"] = frame["y"] * frame["pop"]
    agg = frame.groupby("cluster_id", sort=True).agg(
        n_cells=("cell_id", "size"), population=("pop", "sum"), px=("px", "sum"),
        py=("py", "sum"), cell_ids=("cell_id", lambda s: ";".join(str(int(v)) for v in s)))
    agg["x"] = agg["px"] / agg["population"]
    agg["y"] = agg["py"] / agg["population"]
    agg = agg.reset_index()
    agg.insert(0, "target_id", target.id)
    return agg[_GAP_COLUMNS]


def evaluate_targets(targets: list[Target], inputs: TargetInputs, *, connectivity: int = 8,
                     progress: bool = False) -> TargetResults:
    """Evaluate every target on a study area.

    Parameters
    ----------
    targets
        From :func:`load_catalogue`.
    inputs
        The study area's cells, facilities and units.
    connectivity
        Neighbourhood of gap clusters: 8 (default, corner-touching cells join) or 4.
    progress
        Show a progress bar.

    Returns
    -------
    TargetResults
        Verdicts, unit results, cell flags and the gap list. A target whose input
        is missing has status ``no_data`` with the reason, never a value of 0.
    """
    ctx = _Context(inputs, connectivity=connectivity)
    if not ctx.settlement_known:
        log.info("cells carry no settlement class: every cell treated as urban")
    rows, unit_rows, gap_frames = [], [], []
    flags: dict[str, Any] = {"cell_id": inputs.cells["cell_id"].to_numpy()}
    for target in tqdm(targets, desc="targets", disable=not progress):
        out = _EVALUATORS[target.kind](target, ctx)
        if target.note_zh or target.note_en:
            out.reasons.append((target.note_zh, target.note_en))
        flags.update(out.flags)
        unit_rows.extend(out.unit_rows)
        if out.status == "not_met" and out.gap_mask is not None:
            pop = ctx.pop(target.group)
            gap_frames.append(_gaps(target, ctx, out.gap_mask, pop))
        met = None if out.status == "no_data" else out.status == "met"
        rows.append({
            "id": target.id, "name_zh": target.name_zh, "name_en": target.name_en,
            "kind": target.kind, "value": out.value, "value_area": out.value_area,
            "area_base": out.area_base, "threshold": target.threshold, "unit": target.unit,
            "comparison": target.comparison, "met": met, "status": out.status,
            "population_base": out.population_base, "n_units": out.n_units,
            "scope": target.scope_text, "source": target.source_text, "clause": target.clause,
            "confidence": target.confidence,
            "reason_zh": "；".join(r[0] for r in out.reasons if r[0]),
            "reason_en": "; ".join(r[1] for r in out.reasons if r[1]),
            "warning_zh": "；".join(w[0] for w in out.warnings),
            "warning_en": "; ".join(w[1] for w in out.warnings),
        })
        log.debug("target %s: %s (value %s)", target.id, out.status, out.value)
    table = pd.DataFrame(rows, columns=_TARGET_COLUMNS)
    table["met"] = table["met"].astype(object)
    units = pd.DataFrame(unit_rows, columns=_UNIT_COLUMNS)
    gaps = (pd.concat([g for g in gap_frames if not g.empty], ignore_index=True)
            if any(not g.empty for g in gap_frames) else pd.DataFrame(columns=_GAP_COLUMNS))
    return TargetResults(targets=table, units=units, cell_flags=pd.DataFrame(flags),
                         gaps=gaps)


# ---------------------------------------------------------------------------
# Terminal summary
# ---------------------------------------------------------------------------
_STATUS_TEXT = {"met": ("达标", "met"), "not_met": ("未达标", "NOT MET"),
                "no_data": ("无数据", "no data")}
_HEADERS = {"zh": ("编号", "目标", "数值", "目标值", "结果", "说明"),
            "en": ("id", "target", "value", "threshold", "result", "note")}


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    out, w = "", 0
    for ch in text:
        cw = _width(ch)
        if w + cw > width - 1:
            return out + "…"
        out += ch
        w += cw
    return out


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _fmt_value(value: float, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "share":
        return f"{value:.1%}"
    return f"{value:.2f}"


def format_summary(results: TargetResults, *, lang: str = "zh") -> str:
    """Readable table of the verdicts for a terminal.

    Parameters
    ----------
    results
        From :func:`evaluate_targets`.
    lang
        ``"zh"`` or ``"en"``.
    """
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    i = 0 if lang == "zh" else 1
    lines = []
    body = []
    for r in results.targets.itertuples(index=False):
        cmp = "≥" if r.comparison == ">=" else "≤"
        unit_label = UNIT_LABELS.get(r.unit, (r.unit, r.unit))[i] if r.unit != "share" else ""
        thr = f"{cmp} {_fmt_value(float(r.threshold), r.unit)} {unit_label}".rstrip()
        note = r.reason_zh if lang == "zh" else r.reason_en
        if r.status != "no_data":
            # a verdict's caveat first: data that may be incomplete, else its reasons
            note = (r.warning_zh if lang == "zh" else r.warning_en) or note
        body.append((r.id, r.name_zh if lang == "zh" else r.name_en,
                     _fmt_value(r.value, r.unit), thr, _STATUS_TEXT[r.status][i],
                     _clip(note or "", 48)))
    head = _HEADERS[lang]
    limits = (24, 30, 9, 18, 8, 48)
    widths = [min(limit, max([_width(head[j])] + [_width(_clip(b[j], limit)) for b in body]))
              for j, limit in enumerate(limits)]
    lines.append("  ".join(_pad(h, w) for h, w in zip(head, widths, strict=True)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for b in body:
        lines.append("  ".join(_pad(_clip(c, w) if _width(c) > w else c, w)
                               for c, w in zip(b, widths, strict=True)).rstrip())
    counts = results.targets["status"].value_counts()
    n_met, n_not, n_nd = (int(counts.get(k, 0)) for k in ("met", "not_met", "no_data"))
    if lang == "zh":
        lines.append(f"达标 {n_met} 项，未达标 {n_not} 项，无数据 {n_nd} 项")
    else:
        lines.append(f"{n_met} met, {n_not} not met, {n_nd} without data")
    return "\n".join(lines)
