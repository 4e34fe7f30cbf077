"""Text the user sees, in Chinese and English.

``t("key", lang)`` returns the text in ``lang`` (``"zh"`` or ``"en"``). Chinese is the
default everywhere: planners here read Chinese first.
"""

from __future__ import annotations

__all__ = ["LANGS", "MESSAGES", "t"]

LANGS = ("zh", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    "study_area": ("研究区", "Study area"),
    "crs": ("分析坐标系", "Analysis CRS"),
    "grid": ("分析网格", "Analysis grid"),
    "cells_in_area": ("研究区内网格数", "Cells in the study area"),
    "populated_cells": ("有人口网格数", "Populated cells"),
    "network": ("路网", "Street network"),
    "partitions": ("分区运行：{n} 个分区，计算共 {s:.1f} 秒，单个工作进程内存峰值 {mb:.0f} MB",
                   "Partitioned run: {n} partitions, {s:.1f} s of routing, worker peak memory "
                   "{mb:.0f} MB"),
    "mode": ("方式", "Mode"),
    "walk": ("步行", "walk"),
    "ebike": ("电动自行车", "e-bike"),
    "drive": ("驾车", "drive"),
    "nodes": ("节点", "Nodes"),
    "arcs": ("有向边", "Arcs"),
    "dropped_nodes": ("剔除的孤立节点", "Nodes dropped (islands)"),
    "missing_node_refs": ("缺失节点引用", "Missing node refs"),
    "population": ("人口", "Population"),
    "group": ("人群", "Group"),
    "persons": ("人数", "Persons"),
    "notes": ("说明", "Notes"),
    "facilities": ("设施", "Facilities"),
    "category": ("类别", "Category"),
    "count": ("数量", "Count"),
    "unreachable": ("不可达", "Unreachable"),
    "median_time": ("人口加权步行时间中位数(分)", "Median walk (min, pop.-weighted)"),
    "within_5": ("5分钟内", "≤ 5 min"),
    "within_10": ("10分钟内", "≤ 10 min"),
    "within_15": ("15分钟内", "≤ 15 min"),
    "travel": ("步行可达性（按人口）", "Walking access (share of residents)"),
    "rejects": ("未采用的输入记录", "Input rows not used"),
    "kind": ("对象", "Kind"),
    "reason": ("原因", "Reason"),
    "targets": ("规划目标评估", "Plan targets"),
    "outputs": ("输出文件", "Outputs"),
    "data_warnings": ("数据完整性提示：设施数量远低于GB 50180配置要求",
                      "Data completeness: far fewer facilities than GB 50180 implies"),
    "data_warning_note": ("缺的可能是数据而不是设施（OpenStreetMap在中国城市常不完整）；"
                          "使用这些类别的目标结果会低估实际水平。",
                          "The data, not the city, may be what is missing (OpenStreetMap is "
                          "often incomplete in Chinese cities); targets using these "
                          "categories understate provision."),
    "per_10k": ("每万人", "Per 10,000"),
    "expected_per_10k": ("GB 50180 每万人", "GB 50180 per 10,000"),
    "kind_cell": ("网格", "cell"),
    "kind_facility": ("设施", "facility"),
    "kind_population": ("人口", "population"),
    "kind_network": ("路网", "network"),
    "done": ("完成，用时 {s:.1f} 秒", "Done in {s:.1f} s"),
    "error": ("错误", "Error"),
    "running": ("正在分析：{name}", "Analysing: {name}"),
    "no_facilities": ("（数据中无此类设施）", "(no facility of this kind in the data)"),
    "history_recorded": ("已记入运行历史：#{id} {label}（{path}）",
                         "Recorded in the run history as #{id} {label} ({path})"),
    "history_same": ("与已记录的运行 #{id} {label} 输入和参数相同，未重复记录（{path}）",
                     "Same inputs and parameters as recorded run #{id} {label}; not recorded "
                     "again ({path})"),
    "history_empty": ("运行历史中还没有记录", "No run recorded yet"),
    "history_title": ("运行历史", "Run history"),
    "history_id": ("编号", "Id"),
    "history_date": ("日期（UTC）", "Date (UTC)"),
    "history_label": ("批次", "Label"),
    "history_version": ("版本", "Version"),
    "history_met": ("达标目标", "Targets met"),
    "report_of": ("报告对象：运行 #{id} {label}", "Report of run #{id} {label}"),
    "inputs_changed": ("注意：{n} 个输入文件自该次运行记录以来已修改或移走：",
                       "Note: {n} input files changed or moved since the run was recorded:"),
    "compare_summary": ("与运行 #{then} 相比：{n} 项目标有变化，"
                        "新增设施 {added} 处，减少 {removed} 处",
                        "Against run #{then}: {n} targets changed, {added} facilities added, "
                        "{removed} removed"),
    "site_title": ("选址：{category}（{model}，目标 {target}）",
                   "Site selection: {category} ({model}, target {target})"),
    "site_model_mclp": ("新增 N 处覆盖人口最多", "best N new sites (maximal covering)"),
    "site_model_lscp": ("达到目标所需最少选址", "fewest sites reaching the threshold"),
    "site_model_p_median": ("平均出行距离最短", "shortest average trip (p-median)"),
    "site_model_p_center": ("最远居民距离最短", "worst-served resident (p-center)"),
    "site_model_capacitated": ("按学位/床位容量覆盖", "places available (capacitated)"),
    "site_model_least_important": ("撤并影响最小的现有设施",
                                   "existing facilities that matter least"),
    "site_status_optimal": ("已证明最优", "proven optimal"),
    "site_status_time_limit": ("达到时限，给出当前最好解", "time limit: best solution found"),
    "site_status_greedy": ("贪心解（附可证上界）", "greedy answer (certified bound)"),
    "site_rank": ("序号", "Rank"),
    "site_id": ("选址编号", "Site"),
    "site_lonlat": ("经纬度 WGS-84", "lon/lat WGS-84"),
    "site_lonlat_gcj": ("经纬度 GCJ-02（高德）", "lon/lat GCJ-02 (Amap)"),
    "site_unit": ("所在单元", "Unit"),
    "site_marginal": ("新增覆盖人口", "Residents added"),
    "site_loss": ("单独撤并减少覆盖人口", "Residents lost if closed alone"),
    "site_objective": ("目标函数值", "Objective"),
    "site_bound": ("最优界", "Bound"),
    "site_gap": ("最优性差距", "Optimality gap"),
    "site_status": ("求解状态", "Status"),
    "site_n_sites": ("选址数", "Sites"),
    "site_candidates": ("候选点数", "Candidates"),
    "site_share_before": ("目标覆盖率（现状）", "Target share now"),
    "site_share_promised": ("目标覆盖率（选址后，预计）", "Target share with the sites"),
    "site_mean_dist": ("人口加权平均距离（米）", "Mean distance, pop.-weighted (m)"),
    "site_worst_dist": ("最远居民距离（米）", "Worst distance (m)"),
    "site_served": ("获得学位/床位的人数：现状 {b:,.0f} → 选址后 {a:,.0f}",
                    "Residents with a place: {b:,.0f} now → {a:,.0f} with the sites"),
    "site_targets": ("相关规划目标：现状 → 选址后",
                     "Targets involving the category: now → with the sites"),
    "site_before": ("现状", "Now"),
    "site_after": ("选址后", "With sites"),
}


def t(key: str, lang: str = "zh", **fmt: object) -> str:
    """The message ``key`` in ``lang``, formatted with ``fmt``."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    zh, en = MESSAGES[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text
