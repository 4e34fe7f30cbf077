"""One evaluator per kind of target: the numbers behind each verdict.

Each evaluator takes a typed target (:mod:`access.targets.model`) and the run's
:class:`~access.targets.context.Context` and returns an
:class:`~access.targets.context.Outcome`: value, status, reasons, warnings,
per-unit rows, per-cell flags and, for shares of residents, the mask of
uncovered cells the gap list is made of. The numbers come from
:mod:`access.coverage`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from access import coverage
from access.modes import MODES, mode_label
from access.targets.context import SETTLEMENT_ZH, TOL, Context, Outcome, compare, unit_ids
from access.targets.model import (
    TARGET_MODES,
    CapacityShareTarget,
    CircleTarget,
    CompletenessTarget,
    FcaTarget,
    ProvisionTarget,
    Requirement,
    Target,
    UnitRuleTarget,
)

__all__ = ["EVALUATORS", "evaluate_one"]


def _facilities_or_reason(target: Target, ctx: Context, out: Outcome) -> pd.DataFrame | None:
    """The target's facilities, or None with the "no such facilities" reason recorded."""
    fac = ctx.facilities_of(target.categories)
    if fac.empty:
        out.reasons.append((f"数据中没有以下类别的设施：{'、'.join(target.categories)}",
                            f"no facilities of {', '.join(target.categories)} in the data"))
        return None
    return fac


def _category_warnings(target: Target, ctx: Context, out: Outcome) -> None:
    for cat in target.categories:
        if cat in ctx.inputs.data_warnings:
            zh, en = ctx.inputs.data_warnings[cat]
            out.warnings.append((f"{cat}：{zh}", f"{cat}: {en}"))
    if target.group in ctx.inputs.groups_derived and not isinstance(target, UnitRuleTarget):
        zh, en = ctx.inputs.groups_derived[target.group]
        out.warnings.append((f"{target.group}：{zh}", f"{target.group}: {en}"))


def _no_pop(target: Target, out: Outcome) -> None:
    out.reasons.append((f"缺少人口组 {target.group}（pop_{target.group}）",
                        f"population group {target.group} not available "
                        f"(no pop_{target.group} column)"))


def _share_per_unit(ctx: Context, target: Target, in_scope: np.ndarray, pop: np.ndarray,
                    covered: np.ndarray, out: Outcome,
                    cell_mode: np.ndarray | None = None) -> None:
    """Per-unit coverage rows for every unit level the cells carry.

    ``cell_mode`` (travel mode per cell) gives each row the modes its verdict used.
    """
    if cell_mode is None:
        cell_mode = np.full(ctx.n, "", dtype=object)
    for level in ctx.unit_levels:
        code, ids = ctx.cell_units(level)
        keep = in_scope & (code >= 0)
        if not keep.any():
            continue
        frame = pd.DataFrame({"code": code[keep], "pop": pop[keep],
                              "cov": np.where(covered[keep], pop[keep], 0.0),
                              "mode": cell_mode[keep]})
        agg = frame.groupby("code", sort=True)[["pop", "cov"]].sum()
        # distinct (unit, mode) pairs first: a few rows instead of one per cell
        modes = frame[["code", "mode"]].drop_duplicates().groupby("code", sort=True)[
            "mode"].agg(lambda m: "+".join(x for x in TARGET_MODES if x in set(m)))
        names = ctx.units_table(level)[0].set_index("unit_id")["name"] \
            if level in ctx.inputs.units else None
        for c, p_sum, c_sum in zip(agg.index.to_numpy(), agg["pop"].to_numpy(),
                                   agg["cov"].to_numpy(), strict=True):
            uid = ids[c]
            value = c_sum / p_sum if p_sum > 0 else float("nan")
            out.unit_rows.append({
                "target_id": target.id, "level": level, "unit_id": uid,
                "name": names.get(uid, uid) if names is not None else uid,
                "value": value, "threshold": target.threshold,
                "met": None if math.isnan(value) else compare(value, target),
                "detail": f"{p_sum:.0f} 人中覆盖 {c_sum:.0f} 人",
                "detail_en": f"covered {c_sum:.0f} of {p_sum:.0f} persons",
                "mode": modes[c],
            })



def _area_share(ctx: Context, in_scope: np.ndarray, pop: np.ndarray, covered: np.ndarray,
                out: Outcome) -> None:
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
def _eval_circle(target: CircleTarget, ctx: Context) -> Outcome:
    out = Outcome()
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
    cell_mode = ctx.mode_per_cell(target)
    covered = np.zeros(ctx.n, dtype=bool)
    radius_m = np.full(ctx.n, np.nan)
    for mode in target.modes_used:
        sel = in_scope & (cell_mode == mode)
        if not sel.any():
            continue
        reach, _ = ctx.reach_per_cell(target, mode)
        radius_m[sel] = _straight_reach_m(reach, mode, target)[sel]
        if mode != "walk":
            cols = [f"{mode}_time_min__{c}" for c in present
                    if f"{mode}_time_min__{c}" in ctx.cells.columns]
            if not cols:
                zh, en = mode_label(mode, "zh"), mode_label(mode, "en")
                out.reasons.append((f"缺少{zh}出行时间（{mode}_time_min__*）",
                                    f"no {en} travel times ({mode}_time_min__* columns)"))
                return out
            time_min = np.min(np.column_stack(
                [ctx.cells[c].to_numpy(dtype=float) for c in cols]), axis=1)
            covered |= coverage.covered_mask(time_min, reach) & sel
            if mode == "ebike":
                out.reasons.append(_EBIKE_REASON)
        elif target.radius_by_area:
            covered |= _covered_by_area_radius(target, ctx, present, out) & sel
        else:
            dist = np.min(np.column_stack(
                [np.nan_to_num(ctx.cells[f"dist_m__{c}"].to_numpy(dtype=float), nan=np.inf)
                 for c in present]), axis=1)
            covered |= coverage.covered_mask(dist, reach) & sel
    if len(target.modes_used) > 1:
        txt_zh = "，".join(f"{SETTLEMENT_ZH[s]}{mode_label(m, 'zh')}" for s, m in target.modes
                          if s in target.scope)
        txt_en = ", ".join(f"{s} {mode_label(m, 'en')}" for s, m in target.modes
                           if s in target.scope)
        out.reasons.append((f"出行方式：{txt_zh}", f"travel modes: {txt_en}"))
    _finish_share(target, ctx, out, pop, in_scope, covered, cell_mode)
    out.gap_radius_m = radius_m
    if "walk" in target.modes_used and target.max_time_min is not None \
            and (in_scope & (cell_mode == "walk")).any():
        out.reasons.append((f"步行速度 {ctx.speed(target.group):g} 公里/小时",
                            f"walking speed {ctx.speed(target.group):g} km/h"))
    return out


_EBIKE_REASON = (
    f"电动自行车按道路等级速度（一般道路 {MODES['ebike'].speed_kmh['primary']:g} 公里/小时，"
    "限速更低处取限速），不走高速公路、快速路和禁止自行车的道路",
    f"e-bike at class speeds ({MODES['ebike'].speed_kmh['primary']:g} km/h on ordinary roads, "
    "lower where maxspeed is lower), never on motorways, expressways or ways closed to "
    "bicycles")


def _straight_reach_m(reach: np.ndarray, mode: str, target: CircleTarget) -> np.ndarray:
    """Straight-line radius of a gap area: the walking reach in metres; a reach in
    minutes of another mode at that mode's ordinary road speed; by facility size the
    smallest radius (what any new facility serves)."""
    if mode != "walk":
        speeds = MODES[mode].speed_kmh
        kmh = speeds.get("primary", max(speeds.values(), default=MODES[mode].leg_speed_kmh))
        return reach * kmh * 1000.0 / 60.0
    if target.radius_by_area:
        return np.where(np.isfinite(reach), target.radius_by_area[0][1], np.nan)
    return reach


def _covered_by_area_radius(target: CircleTarget, ctx: Context, present: list[str],
                            out: Outcome) -> np.ndarray:
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


def _finish_share(target: Target, ctx: Context, out: Outcome, pop: np.ndarray,
                  in_scope: np.ndarray, covered: np.ndarray,
                  cell_mode: np.ndarray | None = None) -> None:
    scope_pop = float(pop[in_scope].sum())
    flag = pd.array(np.where(in_scope, covered, False), dtype="boolean")
    flag[~in_scope] = pd.NA
    out.flags[f"covered__{target.id}"] = flag
    if not scope_pop > 0:
        out.reasons.append(("范围内无人口", "no residents in the target's scope"))
        return
    out.value = coverage.weighted_share(np.where(in_scope, pop, 0.0), covered)
    out.population_base = scope_pop
    out.status = "met" if compare(out.value, target) else "not_met"
    _area_share(ctx, in_scope, pop, covered, out)
    _share_per_unit(ctx, target, in_scope, pop, covered, out, cell_mode)
    out.gap_mask = in_scope & ~covered & (pop > 0)


def _reach_m(req: Requirement, speed_kmh: float) -> float:
    """A requirement's reach in metres (it sets exactly one of distance and time)."""
    if req.max_dist_m is not None:
        return req.max_dist_m
    assert req.max_time_min is not None
    return coverage.time_to_dist_m(req.max_time_min, speed_kmh)


def _eval_completeness(target: CompletenessTarget, ctx: Context) -> Outcome:
    out = Outcome()
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
    limits = np.array([_reach_m(r, speed) for r in reqs])
    dist = np.column_stack([_requirement_dist(r, limit, ctx, out)
                            for r, limit in zip(reqs, limits, strict=True)])
    _, missing = coverage.completeness(pop, dist, limits)
    covered = ~missing.any(axis=1) & in_scope
    cats = np.array([r.label for r in reqs], dtype=object)
    out.flags[f"missing_types__{target.id}"] = pd.Series(
        [";".join(cats[m]) if s else "" for m, s in zip(missing, in_scope, strict=True)],
        dtype=object).to_numpy()
    _finish_share(target, ctx, out, pop, in_scope, covered)
    # a gap area is what one facility of the nearest-reaching missing type serves
    out.gap_radius_m = np.min(np.where(missing, limits[None, :], np.inf), axis=1)
    if out.status != "no_data":
        per_type = [(r.label, coverage.circle_coverage(np.where(in_scope, pop, 0.0),
                                                          dist[:, j], limits[j]))
                    for j, r in enumerate(reqs)]
        worst = sorted(per_type, key=lambda p: p[1])[:3]
        txt = ", ".join(f"{c} {v:.1%}" for c, v in worst)
        out.reasons.append((f"覆盖率最低的设施类型：{txt}", f"least covered types: {txt}"))
    return out


def _requirement_dist(req: Requirement, limit_m: float, ctx: Context,
                      out: Outcome) -> np.ndarray:
    """Per cell, the distance to the nearest facility meeting the requirement.

    A requirement with a minimum area (a medium or large sports ground) counts
    the facilities of at least that area or of unknown area, found within the
    reach through the facility-cell pairs; cells with none get ``inf``. Without
    any known area, or without the pairs, every facility of the category counts.
    """
    dist = np.nan_to_num(ctx.cells[f"dist_m__{req.category}"].to_numpy(dtype=float),
                         nan=np.inf)
    if not req.min_area_m2:
        return dist
    sub = ctx.facilities_of([req.category])
    area = (sub["area_m2"].to_numpy(dtype=float) if "area_m2" in sub.columns
            else np.full(len(sub), np.nan))
    if not np.isfinite(area).any():
        out.warnings.append((f"{req.category} 面积未知：任何规模都计入 {req.level} 级",
                             f"{req.category} sizes unknown: every one counts at the "
                             f"{req.level} level"))
        return dist
    if ctx.inputs.catchments is None:
        out.warnings.append((f"缺少设施—网格距离对：{req.category} 不按面积区分",
                             f"no facility-cell pairs: {req.category} not told apart by size"))
        return dist
    ok = ~(area < req.min_area_m2)  # large enough, or of unknown size
    fi, ci, d = ctx.inputs.catchments(req.category, float(limit_m))
    fi, ci, d = np.asarray(fi, dtype=np.int64), np.asarray(ci, dtype=np.int64), np.asarray(d)
    keep = ok[fi] & (d <= limit_m)
    sized = np.full(ctx.n, np.inf)
    np.minimum.at(sized, ci[keep], d[keep])
    n_small = int((area < req.min_area_m2).sum())
    if n_small:
        out.warnings.append((f"{n_small} 处 {req.category} 面积小于 {req.min_area_m2:g} 平方米，"
                             f"不计入 {req.level} 级",
                             f"{n_small} {req.category} smaller than {req.min_area_m2:g} m² "
                             f"not counted at the {req.level} level"))
    return sized


def _eval_unit_rule(target: UnitRuleTarget, ctx: Context) -> Outcome:
    out = Outcome()
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
    n_met = n_total = n_by_reach = 0
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
        counts = pd.Series(unit_ids(fac[ucol]), dtype=object).value_counts()
        unassigned = int(pd.Series(unit_ids(fac[ucol]), dtype=object).isna().sum())
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
        reach = _reach_distances(target, ctx, level, out)
        cats, cats_zh = ", ".join(target.categories), "、".join(target.categories)
        for (_, unit), need in zip(units.iterrows(), required, strict=True):
            have = int(counts.get(unit["unit_id"], 0))
            ok = have >= need
            detail = f"{have} of {need} required ({cats})"
            detail_zh = f"应有 {need} 处，现有 {have} 处（{cats_zh}）"
            if not ok and reach is not None and target.reach_m is not None:
                near = reach.get(unit["unit_id"], math.inf)
                ok = near <= target.reach_m
                if ok:
                    n_by_reach += 1
                    detail = (f"not in the unit ({have} of {need}); one within "
                              f"{target.reach_m:g} m: residents' mean distance {near:.0f} m")
                    detail_zh = (f"单元内没有（现有 {have} 处，应有 {need} 处），但 "
                                 f"{target.reach_m:g} 米内有：居民平均距离 {near:.0f} 米")
                else:
                    far = (f"{near:.0f} m" if math.isfinite(near) else "not reachable")
                    far_zh = (f"{near:.0f} 米" if math.isfinite(near) else "不可达")
                    detail = (f"not in the unit ({have} of {need} required, {cats}) and none "
                              f"within {target.reach_m:g} m (residents' mean distance {far})")
                    detail_zh = (f"单元内没有（应有 {need} 处，现有 {have} 处，{cats_zh}），"
                                 f"{target.reach_m:g} 米内也没有（居民平均距离 {far_zh}）")
            n_met += ok
            n_total += 1
            out.unit_rows.append({
                "target_id": target.id, "level": level, "unit_id": unit["unit_id"],
                "name": unit["name"], "value": float(have), "threshold": float(need),
                "met": bool(ok), "detail": detail_zh, "detail_en": detail,
            })
    if n_total == 0:
        if not out.reasons:
            out.reasons.append(("没有可评价的单元", "no units to evaluate"))
        return out
    out.value = n_met / n_total
    out.n_units = float(n_total)
    out.population_base = pop_total if pop_total > 0 else float("nan")
    out.status = "met" if compare(out.value, target) else "not_met"
    failing = [r["name"] for r in out.unit_rows if r["met"] is False]
    if failing:
        shown = "、".join(str(f) for f in failing[:10])
        more = f" … (+{len(failing) - 10})" if len(failing) > 10 else ""
        within = (f"，{target.reach_m:g} 米内也没有" if target.reach_m is not None else "")
        within_en = (f" and none within {target.reach_m:g} m" if target.reach_m is not None
                     else "")
        out.reasons.append((f"未达标单元 {len(failing)} 个（单元内不足{within}）：{shown}{more}",
                            f"{len(failing)} failing units (short in the unit{within_en}): "
                            f"{shown}{more}"))
    if n_by_reach:
        out.reasons.append((f"{n_by_reach} 个单元内没有，但 {target.reach_m:g} 米内有，计为达标",
                            f"{n_by_reach} units have none of their own but one within "
                            f"{target.reach_m:g} m: counted as met"))
    return out


def _reach_distances(target: UnitRuleTarget, ctx: Context, level: str,
                     out: Outcome) -> dict[str, float] | None:
    """Per unit, the residents' mean network distance to the nearest facility of the target.

    Weighted by the unit's total population (plain mean over its cells when the
    unit has no residents); ``inf`` when a cell reaches none. None when the
    target has no reach or the cells cannot say it (a warning is recorded).
    """
    if target.reach_m is None:
        return None
    ucol = f"unit__{level}"
    cols = [f"dist_m__{c}" for c in target.categories if f"dist_m__{c}" in ctx.cells.columns]
    if ucol not in ctx.cells.columns or not cols:
        out.warnings.append((f"网格没有 {level} 单元编码或到设施的距离：{target.reach_m:g} 米"
                             "范围内的设施未计入",
                             f"cells carry no {level} unit or distance to the facilities: "
                             f"facilities within {target.reach_m:g} m not counted"))
        return None
    if target.ownership:
        out.warnings.append(("范围内的设施不区分产权/性质",
                             "facilities within reach are counted whatever their ownership"))
    dist = np.nan_to_num(ctx.cells[cols].to_numpy(dtype=float), nan=np.inf).min(axis=1)
    pop = ctx.pop("total")
    pop = np.zeros(ctx.n) if pop is None else np.nan_to_num(pop, nan=0.0)
    frame = pd.DataFrame({"unit": pd.Series(unit_ids(ctx.cells[ucol]), dtype=object),
                          "dist": dist, "pop": pop}).dropna(subset=["unit"])
    result: dict[str, float] = {}
    for uid, g in frame.groupby("unit", sort=False):
        d, w = g["dist"].to_numpy(), g["pop"].to_numpy()
        if w.sum() > 0:
            d, w = d[w > 0], w[w > 0]
            result[str(uid)] = (math.inf if np.isinf(d).any()
                                else float(np.average(d, weights=w)))
        else:
            result[str(uid)] = math.inf if np.isinf(d).any() else float(d.mean())
    return result


_Capacity = ProvisionTarget | CapacityShareTarget | FcaTarget


def _capacities(target: _Capacity, ctx: Context, fac: pd.DataFrame, out: Outcome,
                ) -> np.ndarray | None:
    fieldname = target.capacity_field
    cap = (fac[fieldname].to_numpy(dtype=float) if fieldname in fac.columns
           else np.full(len(fac), np.nan))
    known = np.isfinite(cap)
    label = ("容量（床位/学位）", "capacity") if fieldname == "capacity" else ("面积", "area")
    if not known.any():
        why = (("：设施均为点位，没有轮廓面积", ": all are points, without an outline")
               if fieldname == "area_m2" else ("", ""))
        out.reasons.append((f"设施{label[0]}未知（{fieldname} 全为空{why[0]}）",
                            f"facility {label[1]} unknown ({fieldname} is empty for all "
                            f"{len(fac)} facilities{why[1]})"))
        return None
    if not known.all():
        k = int((~known).sum())
        out.warnings.append((f"{k}/{len(cap)} 处设施{label[0]}未知，数值为下限",
                             f"{k} of {len(cap)} facilities without {label[1]}: the value is a "
                             "lower bound"))
    return cap


def _eval_provision(target: ProvisionTarget, ctx: Context) -> Outcome:
    out = Outcome()
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
    out.status = "met" if compare(out.value, target) else "not_met"
    if target.capacity_field == "area_m2":
        known = np.isfinite(cap)
        total = float(cap[known].sum())
        per_cat = ", ".join(f"{c} {int(n)}" for c, n in
                            fac.loc[known, "category"].value_counts().sort_index().items())
        out.reasons.append((
            f"场地面积合计 {total:,.0f} 平方米，来自 {int(known.sum())} 处设施的轮廓面积"
            f"（OSM 多边形或矢量面，按米制坐标计算；{per_cat}）",
            f"sports area {total:,.0f} m² from the outlines of {int(known.sum())} facilities "
            f"(OSM polygons or vector polygons, measured in the metric CRS; {per_cat})"))
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
            pd.Series(unit_ids(fac[ucol]), dtype=object)).sum()
        for (_, unit), p in zip(units.iterrows(), upop.to_numpy(dtype=float), strict=True):
            c = float(ucap.get(unit["unit_id"], 0.0))
            value = coverage.provision_ratio(np.array([c]), np.array([p]),
                                             per_persons=target.per_persons)
            out.unit_rows.append({
                "target_id": target.id, "level": level, "unit_id": unit["unit_id"],
                "name": unit["name"], "value": value, "threshold": target.threshold,
                "met": None if math.isnan(value) else compare(value, target),
                "detail": f"{c:g} {target.capacity_field} / {p:.0f} 人（{target.group}）",
                "detail_en": f"{c:g} {target.capacity_field} / {p:.0f} persons "
                             f"({target.group})",
            })
    return out


def _eval_capacity_share(target: CapacityShareTarget, ctx: Context) -> Outcome:
    out = Outcome()
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
    out.status = "met" if compare(out.value, target) else "not_met"
    return out


def _eval_fca(target: FcaTarget, ctx: Context) -> Outcome:
    out = Outcome()
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
    reach = target.max_time_min or target.max_dist_m
    assert reach is not None  # the catalogue sets exactly one of them
    first = reach[0][1]
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
    ok = score >= target.ratio_threshold - TOL * max(1.0, abs(target.ratio_threshold))
    scope_pop = float(pop[in_scope].sum())
    if not scope_pop > 0:
        out.reasons.append(("范围内无人口", "no residents in the target's scope"))
        return out
    out.value = float(pop[in_scope & ok].sum() / scope_pop)
    out.population_base = scope_pop
    out.status = "met" if compare(out.value, target) else "not_met"
    out.reasons.append((f"集水范围 {max_dist_m:.0f} 米，{target.kernel} 核",
                        f"catchment {max_dist_m:.0f} m, {target.kernel} kernel"))
    return out



EVALUATORS: dict[type[Target], Callable[..., Outcome]] = {
    CircleTarget: _eval_circle,
    CompletenessTarget: _eval_completeness,
    UnitRuleTarget: _eval_unit_rule,
    ProvisionTarget: _eval_provision,
    CapacityShareTarget: _eval_capacity_share,
    FcaTarget: _eval_fca,
}


def evaluate_one(target: Target, ctx: Context) -> Outcome:
    """The outcome of one target: the evaluator of its type (or of a parent type)."""
    for cls in type(target).__mro__:
        if cls in EVALUATORS:
            return EVALUATORS[cls](target, ctx)
    raise TypeError(f"no evaluator for targets of type {type(target).__name__}")
