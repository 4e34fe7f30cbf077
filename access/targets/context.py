"""What every evaluator shares: the engine's inputs and results, and the per-run context.

:class:`TargetInputs` is what the pipeline hands the engine, :class:`TargetResults`
what it gets back; :class:`Context` is the per-run view of the inputs (population
columns, settlement classes, scopes, reaches, unit tables) the evaluators of
:mod:`access.targets.evaluators` read, and :class:`Outcome` what each of them returns.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from access import coverage
from access.i18n import say
from access.targets.model import (
    SETTLEMENTS,
    CircleTarget,
    CompletenessTarget,
    FcaTarget,
    RoutedTarget,
    Target,
)

__all__ = ["SETTLEMENT_ZH", "Context", "Outcome", "TargetInputs", "TargetResults", "compare",
           "unit_ids"]

log = logging.getLogger(__name__)

#: Targets with a settlement scope.
Scoped = CircleTarget | CompletenessTarget | FcaTarget

#: Tolerance of threshold comparisons, relative to the threshold.
TOL = 1e-9


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
    crs
        The metric CRS of the cells' ``x``/``y``, for the gap areas' lon/lat (NaN
        without it).
    shared
        Per-cell work kept for the next evaluation on the same cells (each cell's
        settlement class and unit codes): a dict the caller keeps, valid while the
        rows, the ``unit__`` and ``settlement`` columns and ``units`` stay the same
        (what-if scenarios of one run change only facilities and times). None:
        computed for each evaluation.
    """

    cells: pd.DataFrame
    facilities: pd.DataFrame
    units: dict[str, pd.DataFrame] = field(default_factory=dict)
    walk_speed_kmh: dict[str, float] = field(default_factory=lambda: {"total": 4.0})
    catchments: Callable[[str, float], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
    data_warnings: dict[str, tuple[str, str]] = field(default_factory=dict)
    groups_derived: dict[str, tuple[str, str]] = field(default_factory=dict)
    crs: Any = None
    shared: dict[str, Any] | None = None


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
        Per failed circle/completeness target, its gap areas (what one new
        facility could serve; see :mod:`access.targets.gaps`): ``target_id, rank,
        group, residents, n_cells, radius_m, x, y, lon, lat, center_cell_id``,
        ``unit__<level>`` and ``unit_name__<level>`` of the centre; rank 1 holds the
        most residents.
    gap_cells
        The area of every uncovered populated cell: ``target_id, rank, cell_id``.
    """

    targets: pd.DataFrame
    units: pd.DataFrame
    cell_flags: pd.DataFrame
    gaps: pd.DataFrame
    gap_cells: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["target_id", "rank", "cell_id"]))




def _unit_id(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    s = str(v).strip()
    if isinstance(v, float) and v.is_integer():
        s = str(int(v))
    return s or None


def unit_ids(values: pd.Series | Iterable[Any]) -> list[str | None]:
    """Unit ids as strings, None for missing (NaN, None, empty).

    Each distinct value is converted once: a column of 640,000 cells holds a few
    hundred units.
    """
    arr = values if isinstance(values, pd.Series) \
        else np.asarray(list(values), dtype=object)
    if not len(arr):
        return []
    codes, conv = _unit_codes(arr)
    return [conv[c] for c in codes]


def _unit_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """``(codes, ids)``: ``ids[codes[i]]`` is :func:`unit_ids` of item ``i``; the last
    id is None (code -1, missing, picks it). Each distinct value is converted once."""
    codes, uniq = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes), [_unit_id(v) for v in uniq] + [None]


@dataclass
class Outcome:
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
    gap_radius_m: np.ndarray | None = None
    mode: str = ""


class Context:
    """Per-run view of the inputs shared by every target."""

    def __init__(self, inputs: TargetInputs) -> None:
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
        self.settlement_note: tuple[str, str] | None = None
        shared = inputs.shared
        hit = shared.get("settlement") if shared is not None else None
        if hit is not None and len(hit[1]) == self.n:
            self.settlement_known, self.settlement, self.settlement_note = hit
        else:
            self._settle(cells, inputs)
            if shared is not None:
                shared["settlement"] = (self.settlement_known, self.settlement,
                                        self.settlement_note)
        self.unit_levels = [c.removeprefix("unit__") for c in cells.columns
                            if c.startswith("unit__")]
        self.fac_categories = set(fac["category"].astype(str))
        self._cell_units: dict[str, tuple[np.ndarray, np.ndarray]] = \
            shared.setdefault("cell_units", {}) if shared is not None else {}
        self._settlement_codes: tuple[np.ndarray, list[Any]] | None = \
            shared.get("settlement_codes") if shared is not None else None

    def _settle(self, cells: pd.DataFrame, inputs: TargetInputs) -> None:
        """Each cell's settlement class, from its column or the unit tables."""
        settlement = self._settlement_from_units(cells, inputs.units)
        if "settlement" in cells.columns:
            settlement = cells["settlement"].astype(object).where(
                cells["settlement"].notna(), None).to_numpy(dtype=object)
        self.settlement_known = settlement is not None
        if settlement is not None:
            missing = pd.isna(settlement)  # None: the values are classes or None
            bad = sorted({str(v) for v in pd.unique(settlement[~missing])} - set(SETTLEMENTS))
            if bad:
                raise ValueError(f"settlement has values {bad}; valid: {SETTLEMENTS}")
            self.settlement = settlement
            n_none = int(missing.sum())
            if n_none:
                self.settlement_note = (
                    f"{n_none} 个网格无城乡分类，不计入任何范围",
                    f"{n_none} cells without a settlement class are outside every scope")
        else:
            self.settlement = np.full(self.n, "urban", dtype=object)

    def cell_units(self, level: str) -> tuple[np.ndarray, np.ndarray]:
        """Unit of each cell as ``(code, ids)``: ``ids[code]`` is the cell's unit id
        (as :func:`unit_ids` gives it), code -1 for none; ``ids`` sorted. Computed
        once per level, so per-unit sums are group-bys on integer codes."""
        hit = self._cell_units.get(level)
        if hit is None:
            # the distinct values' ids, sorted: no conversion per cell
            codes, conv = _unit_codes(self.cells[f"unit__{level}"])
            ucode, uniq = pd.factorize(pd.Series(conv[:-1], dtype=object), sort=True,
                                       use_na_sentinel=True)
            hit = (np.append(ucode, -1)[codes].astype(np.int64),
                   np.asarray(uniq, dtype=object))
            self._cell_units[level] = hit
        return hit

    def prepare(self) -> None:
        """Work out now what evaluations read later: each unit level's cell codes and
        the settlement codes (kept in :attr:`TargetInputs.shared` when given)."""
        for level in self.unit_levels:
            self.cell_units(level)
        self._settlement_code()

    def _settlement_code(self) -> tuple[np.ndarray, list[Any]]:
        """Each cell's settlement as ``(code, classes)``, code -1 for none."""
        if self._settlement_codes is None:
            code, uniq = pd.factorize(self.settlement, use_na_sentinel=True)
            self._settlement_codes = (code, list(uniq))
            if self.inputs.shared is not None:
                self.inputs.shared["settlement_codes"] = self._settlement_codes
        return self._settlement_codes

    @staticmethod
    def _settlement_from_units(cells: pd.DataFrame, units: Mapping[str, pd.DataFrame],
                               ) -> np.ndarray | None:
        """Settlement class of each cell (object array, None for none) from a unit
        table's ``settlement`` column."""
        for level, table in units.items():
            col = f"unit__{level}"
            if "settlement" not in table.columns or col not in cells.columns:
                continue
            mapping = {}
            for uid, s in zip(unit_ids(table["unit_id"]), table["settlement"], strict=True):
                if uid is not None and isinstance(s, str) and s.strip():
                    mapping[uid] = s.strip()
            if not mapping:
                continue
            log.info(say("log_settlement_from_units", level=level))
            codes, ids = _unit_codes(cells[col])  # one lookup per unit, not per cell
            lookup = np.array([mapping.get(u) if u is not None else None for u in ids],
                              dtype=object)
            return lookup[codes]
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

    def scope_mask(self, target: Scoped, out: Outcome) -> np.ndarray | None:
        """Cells in the target's scope, or None (no data) with the reason."""
        if not self.settlement_known:
            if "urban" not in target.scope:
                out.reasons.append((
                    "无城乡分类（缺少settlement列，研究区文件也未划分单元），无法确定"
                    f"{'、'.join(SETTLEMENT_ZH[s] for s in target.scope)}范围",
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

    def reach_per_cell(self, target: RoutedTarget, mode: str = "walk",
                       ) -> tuple[np.ndarray, str]:
        """Per-cell reach for ``mode`` and its unit: metres walking, minutes otherwise."""
        pairs = dict(target.max_time_min or target.max_dist_m or ())
        values = np.full(self.n, np.nan)
        for s, v in pairs.items():
            values[self.settlement == s] = v
        if target.max_time_min is None:
            return values, "m"
        if mode != "walk":
            return values, "min"
        return coverage.time_to_dist_m(values, self.speed(target.group)), "m"

    def mode_per_cell(self, target: RoutedTarget) -> np.ndarray:
        """Travel mode of each cell: the target's mode for the cell's settlement class."""
        modes = dict(target.modes)
        code, uniq = self._settlement_code()
        # one mode per settlement class; the last entry serves cells without a class (-1)
        lookup = np.array([modes.get(s, "") for s in uniq] + [""], dtype=object)
        return lookup[code]

    def units_table(self, level: str) -> tuple[pd.DataFrame, bool]:
        """Units of a level (unit_id as str); True when the list is complete."""
        if level in self.inputs.units:
            df = self.inputs.units[level].copy()
            if "unit_id" not in df.columns:
                raise ValueError(f"TargetInputs.units[{level!r}] lacks the 'unit_id' column")
            df["unit_id"] = pd.Series(unit_ids(df["unit_id"]), index=df.index, dtype=object)
            if "name" not in df.columns:
                df["name"] = df["unit_id"]
            return df, True
        ids: set[str] = set()
        for frame in (self.cells, self.fac):
            col = f"unit__{level}"
            if col in frame.columns:
                ids |= {u for u in unit_ids(frame[col]) if u is not None}
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
        code, ids = self.cell_units(level)
        keep = code >= 0
        s = pd.Series(pop[keep]).groupby(code[keep]).sum()
        s.index = pd.Index(ids[s.index.to_numpy()], dtype=object)
        return s.reindex(units["unit_id"]).fillna(0.0)

    def facilities_of(self, categories: Iterable[str]) -> pd.DataFrame:
        return self.fac[self.fac["category"].astype(str).isin(list(categories))]


SETTLEMENT_ZH = {"urban": "城区", "town": "镇区", "village": "村庄"}

def compare(value: float, target: Target) -> bool:
    tol = TOL * max(1.0, abs(target.threshold))
    if target.comparison == "<=":
        return bool(value <= target.threshold + tol)
    return bool(value >= target.threshold - tol)
