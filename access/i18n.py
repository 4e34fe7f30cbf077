"""Text the user sees, in Chinese and English: the product's one message catalogue.

``t("key", lang)`` returns the text in ``lang`` (``"zh"`` or ``"en"``). Chinese is the
default everywhere: planners here read Chinese first. Log messages and progress bars
use :func:`say` / :func:`bar` and come out in the language :func:`set_lang` chose
(the command line sets it from ``--lang``). :data:`MESSAGES` holds every
message of the command line, the outputs and the dashboard (whose ``tr()`` in
:mod:`dashboards.i18n` reads this same table); add new text here, in both languages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["LANGS", "MESSAGES", "Say", "bar", "current_lang", "language", "say", "set_lang", "t"]

LANGS = ("zh", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    "study_area": ("研究区", "Study area"),
    "crs": ("分析坐标系", "Analysis CRS"),
    "grid": ("分析网格", "Analysis grid"),
    "cells_in_area": ("研究区内网格数", "Cells in the study area"),
    "populated_cells": ("有人口网格数", "Populated cells"),
    "network": ("路网", "Street network"),
    "partitions": ("分区运行：{n} 个分区、{g} 个合并计算组，计算共 {s:.1f} 秒，"
                   "单个工作进程内存峰值 {mb:.0f} MB",
                   "Partitioned run: {n} partitions and {g} groups, {s:.1f} s of routing, "
                   "worker peak memory {mb:.0f} MB"),
    "mode": ("方式", "Mode"),
    "walk": ("步行", "walk"),
    "ebike": ("电动自行车", "e-bike"),
    "drive": ("驾车", "drive"),
    "nodes": ("节点", "Nodes"),
    "arcs": ("有向边", "Arcs"),
    "dropped_nodes": ("剔除的孤立节点", "Nodes dropped (islands)"),
    "missing_node_refs": ("缺失节点引用", "Missing node refs"),
    "population": ("人口", "Population"),
    "persons": ("人数", "Persons"),
    "notes": ("说明", "Notes"),
    "facilities": ("设施", "Facilities"),
    "count": ("数量", "Count"),
    "unreachable_pop": ("不可达人口", "Residents reaching none"),
    "unreachable_cells": ("不可达网格", "Cells reaching none"),
    "unreachable_note": ("不可达：步行 {km:g} 公里（含两端接驳）内没有该类设施，"
                         "或所在网格距路网过远",
                         "Reaching none: no facility of the category within {km:g} km on foot "
                         "(access legs included), or the cell is too far from every street"),
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
    "report_of": ("报告对象：运行 #{id} {label}（运行历史 {path}）",
                  "Report of run #{id} {label} (run history {path})"),
    "inputs_changed": ("注意：{n} 个输入文件自该次运行记录以来已修改或移走：",
                       "Note: {n} input files changed or moved since the run was recorded:"),
    "compare_summary": ("与运行 #{then} 相比：{n} 项目标有变化，"
                        "新增设施 {added} 处，减少 {removed} 处",
                        "Against run #{then}: {n} targets changed, {added} facilities added, "
                        "{removed} removed"),
    # ---- the dashboard (dashboards.i18n.tr) ----
    # shell
    "app_title": ("15分钟生活圈 · 公共服务可达性", "15-minute life circle · access to services"),
    "language": ("语言", "Language"),
    "page_overview": ("目标总览", "Overview"),
    "page_map": ("可达性地图", "Map"),
    "page_units": ("分区统计", "Units"),
    "page_whatif": ("情景推演", "What-if"),
    "page_sites": ("选址", "Sites"),
    "loading": ("正在计算…", "Computing…"),
    # sites page
    "sites_model": ("选址问题", "Question"),
    "sites_model_mclp": ("最佳 N 处新址（覆盖最多居民）", "Best N new sites (most residents)"),
    "sites_model_lscp": ("达到目标比例的最少新址", "Fewest new sites to a threshold"),
    "sites_model_p_median": ("平均出行最短（p-中位）", "Shortest average trip (p-median)"),
    "sites_model_p_center": ("最远居民最近（p-中心）", "Worst-served resident (p-center)"),
    "sites_model_least_important": ("影响最小的现有设施（撤并）",
                                   "Least-needed existing facilities (closing)"),
    "sites_model_capacitated": ("学位/床位有保障的最佳 N 处（容量）",
                                "Best N sites with places (capacity)"),
    "sites_model_colocated": ("社区综合服务中心合设选址（生活圈完整度）",
                              "Co-located service complexes (life-circle completeness)"),
    "sites_complex": ("综合服务中心合设类别", "Categories the complex hosts"),
    "sites_need_complex": ("请选择综合服务中心合设的类别（至少两类）",
                           "choose the categories the complex hosts (two or more)"),
    "sites_capacity": ("新址容量（学位/床位，可选）", "Places per new site (optional)"),
    "sites_existing_capacity": ("现有设施容量（未知时，可选）",
                                "Places of existing ones if unknown (optional)"),
    "sites_budget": ("总预算（可选）", "Budget (optional)"),
    "sites_cost": ("每处费用（可选）", "Cost per site (optional)"),
    "sites_upload": ("上传候选点/闲置地块文件", "Upload candidate points or parcels"),
    "sites_path": ("或研究区文件夹内的候选文件路径",
                   "or a candidate file in the study-area folder"),
    "sites_bad_positive": ("{what}须为正数", "{what} must be a positive number"),
    "sites_bad_file_type": ("不支持的候选文件类型：{name}（可用 {types}）",
                            "candidate file type not read: {name} (use {types})"),
    "sites_file_too_large": ("候选文件 {name} 超过 {mb} MB",
                             "candidate file {name} exceeds {mb} MB"),
    "sites_file_unreadable": ("候选文件 {name} 上传不完整，请重新上传",
                              "candidate file {name} arrived incomplete: upload it again"),
    "sites_path_outside": ("候选文件 {path} 不在研究区文件夹 {folder} 内",
                           "candidate file {path} is not inside the study-area folder {folder}"),
    "sites_path_missing": ("找不到候选文件 {path}", "no candidate file {path}"),
    "sites_placed_share": ("目标人群在可达范围内获得学位/床位的比例：{b} → {a}",
                           "Share of the group with a place within reach: {b} → {a}"),
    "sites_worst": ("可改善居民中的最远距离：{b} → {a} 米；处于该距离的人口 {pb} → {pa}",
                    "Worst trip among residents a site can help: {b} → {a} m; residents at it "
                    "{pb} → {pa}"),
    "sites_target_field": ("目标（可选）", "Target (optional)"),
    "sites_n": ("数量 N", "Number N"),
    "sites_threshold": ("目标比例 %（可选）", "Threshold % (optional)"),
    "sites_spacing": ("候选点间距 米（可选）", "Candidate spacing m (optional)"),
    "sites_run": ("计算选址", "Find sites"),
    "sites_accept": ("采纳为情景", "Accept as scenario"),
    "sites_help": ("选择问题、设施类别和数量 N（或目标比例），点“计算选址”。结果为精确最优解"
                  "（给出最优性差距与界）；可将选址采纳为情景，在“情景推演”页查看。",
                  "Choose a question, a category and N (or a threshold), then “Find sites”. "
                  "Answers are solved exactly (with the optimality gap and bound); accept "
                  "the sites as a scenario to open it on the What-if page."),
    "sites_need_n": ("请填写数量 N", "Give the number N"),
    "sites_bad_n": ("数量 N 须为整数", "N must be a whole number"),
    "sites_too_many": ("{n} 处选址超过一个情景可容纳的 {max} 项修改",
                      "{n} sites are more than the {max} edits a scenario holds"),
    "sites_bad_threshold": ("目标比例须在 0 与 100 之间",
                            "The threshold must be between 0 and 100"),
    "sites_bad_spacing": ("候选点间距须为正数", "The candidate spacing must be positive"),
    "sites_status": ("求解状态", "Status"),
    "sites_status_optimal": ("已证明最优", "proven optimal"),
    "sites_status_time_limit": ("达到时限（给出界）", "time limit reached (bound given)"),
    "sites_status_greedy": ("贪心解（给出界）", "greedy answer (bound given)"),
    "sites_objective": ("目标函数", "objective"),
    "sites_bound": ("界", "bound"),
    "sites_gap": ("差距", "gap"),
    "sites_time": ("用时", "time"),
    "sites_target": ("目标", "Target"),
    "sites_n_candidates": ("候选点", "candidates"),
    "sites_n_sites": ("选址", "sites"),
    "sites_share": ("覆盖比例（现状 → 承诺）", "Share covered (now → promised)"),
    "sites_mean_dist": ("人均出行距离", "Mean trip"),
    "sites_unit_residents": ("人", "residents"),
    "sites_unit_person_m": ("人·米", "person·m"),
    "sites_col_rank": ("序号", "Rank"),
    "sites_col_name": ("名称", "Name"),
    "sites_col_unit": ("所在单元", "Unit"),
    "sites_col_added": ("新增覆盖人口", "Residents added"),
    "sites_col_lost": ("单独关闭时失去覆盖人口", "Residents lost if closed alone"),
    "sites_candidates": ("候选点", "Candidates"),
    "sites_chosen": ("选址", "Chosen sites"),
    "sites_closed": ("拟撤并设施", "Facilities to close"),
    "sites_nothing_to_accept": ("请先计算选址", "Find sites first"),
    "sites_scenario": ("选址", "sites"),
    # overview
    "profile": ("规划口径", "Plan profile"),
    "profile_all": ("研究区目标清单（全部）", "Study-area catalogue (all)"),
    "profile_kaifeng": ("开封市", "Kaifeng"),
    "profile_zhengzhou": ("郑州市", "Zhengzhou"),
    "profile_xinxiang": ("新乡市", "Xinxiang"),
    "profile_lankao": ("兰考县", "Lankao"),
    "col_id": ("编号", "Id"),
    "col_target": ("目标", "Target"),
    "col_value": ("数值", "Value"),
    "col_value_area": ("面积口径", "By area"),
    "col_threshold": ("目标值", "Threshold"),
    "col_status": ("结果", "Result"),
    "col_source": ("依据", "Source plan"),
    "col_note": ("说明", "Note"),
    "col_base": ("现状", "Current"),
    "col_scenario": ("情景", "Scenario"),
    "col_change": ("变化", "Change"),
    "status_met": ("达标", "met"),
    "status_not_met": ("未达标", "not met"),
    "status_no_data": ("无数据", "no data"),
    "summary_counts": ("达标 {met} 项，未达标 {not_met} 项，无数据 {no_data} 项",
                       "{met} met, {not_met} not met, {no_data} without data"),
    "scenario_note": ("当前显示情景“{name}”（{n} 项设施变更）",
                      "Showing scenario “{name}” ({n} facility edits)"),
    # units of values
    "unit_share": ("%", "%"),
    "unit_per_1000": ("每千人", "per 1000"),
    "unit_m2_per_person": ("平方米/人", "m²/person"),
    "unit_min": ("分钟", "min"),
    "unit_persons": ("人", "persons"),
    "unit_m": ("米", "m"),
    # map
    "category": ("设施类别", "Facility category"),
    "layer": ("图层", "Layer"),
    "layer_time": ("步行时间", "Walking time"),
    "layer_pop": ("人口", "Population"),
    "group": ("人群", "Population group"),
    "group_total": ("常住人口", "all residents"),
    "group_age_60_plus": ("60岁及以上", "aged 60+"),
    "group_age_0_2": ("0–2岁", "aged 0–2"),
    "group_age_3_5": ("3–5岁", "aged 3–5"),
    "highlight": ("高亮未覆盖网格", "Highlight uncovered cells"),
    "highlight_none": ("不高亮", "none"),
    "highlight_15": ("该类设施步行15分钟以外", "beyond 15 min walk of this category"),
    "streets": ("显示街道", "Show streets"),
    "class_0_5": ("≤5分钟", "≤ 5 min"),
    "class_5_10": ("5–10分钟", "5–10 min"),
    "class_10_15": ("10–15分钟", "10–15 min"),
    "class_15_20": ("15–20分钟", "15–20 min"),
    "class_20_plus": (">20分钟或不可达", "> 20 min or unreachable"),
    "legend_streets": ("街道", "streets"),
    "legend_uncovered": ("未覆盖的有人口网格", "uncovered populated cells"),
    "legend_added": ("新增设施", "added facility"),
    "legend_removed": ("拆除设施", "removed facility"),
    "walk_time_to": ("至最近{cat}步行时间", "Walk to nearest {cat}"),
    "persons_per_cell": ("人/网格", "persons per cell"),
    "hover_cell": ("网格", "cell"),
    "hover_pop": ("人口", "population"),
    "hover_time": ("步行", "walk"),
    "hover_drive": ("驾车", "drive"),
    "hover_unit": ("所属区", "unit"),
    "axis_x": ("东坐标 (米)", "Easting (m)"),
    "axis_y": ("北坐标 (米)", "Northing (m)"),
    "map_note": ("坐标系 {crs}；网格 {cell:g} 米。底图为研究区自身路网，不使用互联网地图。",
                 "CRS {crs}; {cell:g} m cells. Background: the study area's own streets, "
                 "no internet map tiles."),
    "map_note_tiles": ("底图来自配置的瓦片服务。", "Background from the configured tile server."),
    "coverage_line": ("{cat}：{n} 处；{w15} 的{group}步行15分钟内可达，人口加权中位数 {med}",
                      "{cat}: {n} facilities; {w15} of {group} within 15 min walk, "
                      "median {med}"),
    # units page
    "level": ("统计层级", "Unit level"),
    "level_county": ("县（市、区）", "county"),
    "level_district": ("区", "district"),
    "level_township": ("乡镇", "township"),
    "level_subdistrict": ("街道", "subdistrict"),
    "level_village": ("行政村", "village"),
    "level_community": ("社区", "community"),
    "col_unit_id": ("编码", "Code"),
    "col_unit_name": ("名称", "Name"),
    "col_population": ("人口", "Population"),
    "col_failing": ("未达标规则", "Failing rules"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "export_xlsx": ("导出 Excel", "Export Excel"),
    "no_units": ("研究区未配置统计单元", "The study area defines no units"),
    "coverage_of": ("{name}", "{name}"),
    # what-if
    "action": ("操作", "Action"),
    "action_add": ("新增设施", "add a facility"),
    "action_remove": ("拆除最近设施", "remove the nearest facility"),
    "whatif_help": ("选择操作后在地图上点击，或输入经纬度后点“应用”；"
                    "移动设施：先点设施，再点新位置。",
                    "Choose an action and click the map, or enter longitude/latitude and "
                    "press “Apply”; to move a facility click it, then its new place."),
    "lon": ("经度", "Longitude"),
    "lat": ("纬度", "Latitude"),
    "apply": ("应用", "Apply"),
    "undo": ("撤销", "Undo"),
    "reset": ("清空", "Clear"),
    "scenario_name": ("情景名称", "Scenario name"),
    "save": ("保存情景", "Save scenario"),
    "compare": ("对比情景", "Compare scenarios"),
    "edits": ("设施变更", "Facility edits"),
    "no_edits": ("尚无变更：当前为现状。", "No edits yet: this is the current situation."),
    "edit_add": ("新增 {cat}（{lon:.5f}, {lat:.5f}）", "add {cat} at ({lon:.5f}, {lat:.5f})"),
    "edit_remove": ("拆除 {cat} {fid}", "remove {cat} {fid}"),
    "eval_time": ("重算 {cats}，用时 {s:.2f} 秒", "Recomputed {cats} in {s:.2f} s"),
    "nothing_near": ("点击位置 {dist:.0f} 米内没有{cat}",
                     "No {cat} within {dist:.0f} m of the click"),
    "saved": ("已保存情景“{name}”", "Saved scenario “{name}”"),
    "default_scenario": ("情景", "scenario"),
    "base": ("现状", "current"),
    "bad_number": ("经纬度须为数字", "Longitude and latitude must be numbers"),
    "load_failed": ("无法加载分析结果", "Cannot load the results"),
    # map (server-drawn)
    "layer_uncovered": ("未覆盖人口", "Uncovered residents"),
    "legend_water": ("水域", "water"),
    "legend_green": ("绿地", "green space"),
    "legend_street_major": ("主干路", "main streets"),
    "legend_street_secondary": ("次干路", "secondary streets"),
    "legend_street_tertiary": ("支路", "tertiary streets"),
    "legend_covered": ("已覆盖的有人口网格", "covered populated cells"),
    "no_facility_yet": ("该类设施尚无现状点位，可在“情景推演”中新增。",
                        "No facility of this category yet: add some on the What-if page."),
    "none_yet": ("暂无", "none yet"),
    "map_info_help": ("将鼠标移到地图上查看网格信息。",
                      "Point at the map to see what a cell holds."),
    "map_info_outside": ("指针处不在分析网格内。", "The pointer is outside the analysis grid."),
    "unreachable": ("不可达", "unreachable"),
    "nearest": ("最近设施", "nearest"),
    # what-if (server-side scenarios)
    "action_move": ("移动设施", "move a facility"),
    "action_capacity": ("修改规模", "edit capacity"),
    "capacity": ("规模（床位/学位）", "Capacity (beds/places)"),
    "capacity_needed": ("请先填写规模。", "Enter a capacity first."),
    "move_picked": ("已选中设施 {fid}，请在地图上点击新位置。",
                    "Picked facility {fid}: click its new position on the map."),
    "saved_scenarios": ("已保存情景", "Saved scenarios"),
    "load": ("打开", "Open"),
    "delete": ("删除", "Delete"),
    "deleted": ("已删除情景“{name}”", "Deleted scenario “{name}”"),
    "loaded": ("已打开情景“{name}”", "Opened scenario “{name}”"),
    "choose_saved": ("请先选择一个已保存情景。", "Choose a saved scenario first."),
    "export_geojson": ("导出 GeoJSON", "Export GeoJSON"),
    "import": ("导入情景", "Import scenario"),
    "imported": ("已导入情景“{name}”（{n} 项变更）", "Imported scenario “{name}” ({n} edits)"),
    "role_editor": ("编辑", "editor"),
    "role_viewer": ("只读", "read-only"),
    "filter_placeholder": ("筛选…", "filter…"),
    "dd_select_all": ("全选", "Select all"),
    "dd_deselect_all": ("全不选", "Deselect all"),
    "dd_selected_count": ("已选 {num_selected} 项", "{num_selected} selected"),
    "dd_search": ("搜索", "Search"),
    "dd_clear_search": ("清除搜索", "Clear search"),
    "dd_clear_selection": ("清除选择", "Clear selection"),
    "dd_no_options_found": ("无匹配项", "No options found"),
    "clause": ("规划依据", "Plan clause"),
    "clause_help": ("点击表中一行查看该目标的规划依据与说明。",
                    "Click a row to see the target's plan clause and notes."),
    "parent_unit": ("上级单元", "Parent unit"),
    "all_units": ("全部", "all"),
    "drill_help": ("点击某一行，查看其下一级单元（如区→乡镇/街道）。",
                   "Click a row to open the units below it (e.g. district → township)."),
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
    "site_worst_change": ("可改善居民中的最远距离（米）：现状 {b:,.0f} → 选址后 {a:,.0f}；"
                          "处于该距离的人口 {pb:,.1f} → {pa:,.1f}",
                          "Worst trip among residents a candidate can help (m): {b:,.0f} now "
                          "→ {a:,.0f} with the sites; residents at that trip {pb:,.1f} → "
                          "{pa:,.1f}"),
    "site_pc_not_lowered": ("{n} 处新址无法缩短可改善居民中的最远距离 {r:,.0f} 米（计至 {cap:,.0f} "
                            "米）：至少需要 {k} 处；所选各处使处于该距离的人口由 {pb:,.1f} 减至 "
                            "{pa:,.1f}",
                            "{n} new sites cannot shorten the worst trip among residents a "
                            "candidate can help ({r:,.0f} m, trips counted up to {cap:,.0f} m): "
                            "that takes at least {k} sites; the sites chosen bring the residents "
                            "at that trip from {pb:,.1f} down to {pa:,.1f}"),
    "site_pc_unhelped": ("{p:,.1f} 名居民附近没有比现有设施更近的候选点（最远 {d:,.0f} 米），"
                         "任何选址都不能改善，未计入最远距离",
                         "{p:,.1f} residents have no candidate nearer than their present trip "
                         "(up to {d:,.0f} m): no site can help them, so they are left out of "
                         "the worst trip"),
    "site_cand_excluded": ("生成候选点时排除了水域上的街道节点 {water} 个、距现有同类设施不足 "
                           "{d:g} 米的 {near} 个",
                           "generated candidates leave out {water} street nodes on water and "
                           "{near} within {d:g} m of an existing facility of the category"),
    "site_complex_unused": ("目标 {target} 不要求以下类别，不计入完整度：{cats}",
                            "target {target} does not require {cats}: not scored"),
    "site_model_colocated": ("综合服务中心（多类设施合设）", "co-located service complexes"),
    "site_placed_share": ("目标人群（{group}）在可达范围内获得学位/床位的比例：现状 {b:.2%} → "
                          "选址后 {a:.2%}",
                          "Share of the target group ({group}) with a place within reach: "
                          "{b:.2%} now → {a:.2%} with the sites"),
    "site_pc_none": ("没有候选点能缩短任何居民的出行距离：未选址",
                     "no candidate shortens any resident's trip: no site chosen"),
    # ---- the coverage report (lifecircle.report) ----
    "report_note_area_unreadable": (
        "无法读取研究区文件，地图不含单元边界和路网：{err}",
        "the study-area file cannot be read; maps lack unit boundaries and streets: {err}"),
    "report_note_units_unreadable": ("单元文件无法读取：{err}", "units file unreadable: {err}"),
    "report_note_streets_unreadable": ("路网无法读取：{err}", "street network unreadable: {err}"),
    "report_group_life_circle": ("生活圈", "Life circle"),
    "report_group_health": ("医疗卫生", "Health"),
    "report_group_eldercare": ("养老", "Elder care"),
    "report_group_education": ("教育托育", "Education"),
    "report_group_sport": ("体育健身", "Sport and parks"),
    "report_group_culture": ("文化", "Culture"),
    "report_group_other": ("其他", "Other"),
    "report_sheet_units": ("各单元结果", "Units"),
    "report_sheet_failing": ("未达标单元", "Failing units"),
    "report_sheet_rejects": ("未采用记录", "Rejects"),
    "report_sheet_meta": ("元数据", "Metadata"),
    "report_meta_key": ("项目", "Item"),
    "report_meta_value": ("内容", "Value"),
    "report_col_id": ("编号", "Id"),
    "report_col_name_zh": ("目标名称", "Target (zh)"),
    "report_col_name_en": ("目标名称（英文）", "Target (en)"),
    "report_col_kind": ("类型", "Kind"),
    "report_col_value": ("现状值", "Value"),
    "report_col_value_area": ("现状值（按面积）", "Value (area)"),
    "report_col_threshold": ("目标值", "Threshold"),
    "report_col_unit": ("单位", "Unit"),
    "report_col_comparison": ("比较", "Comparison"),
    "report_col_met": ("是否达标", "Met"),
    "report_col_status": ("结论", "Status"),
    "report_col_population_base": ("人口基数", "Population base"),
    "report_col_n_units": ("单元数", "Units"),
    "report_col_scope": ("适用范围", "Scope"),
    "report_col_source": ("依据", "Source"),
    "report_col_clause": ("条款", "Clause"),
    "report_col_confidence": ("可信度", "Confidence"),
    "report_col_reason_zh": ("原因", "Reason (zh)"),
    "report_col_reason_en": ("原因（英文）", "Reason (en)"),
    "report_col_warning_zh": ("提示", "Warning (zh)"),
    "report_col_warning_en": ("提示（英文）", "Warning (en)"),
    "report_col_area_base": ("面积基数", "Area base"),
    "report_col_mode": ("出行方式", "Travel mode"),
    "report_col_group": ("指标组", "Group"),
    "report_ucol_target_id": ("目标编号", "Target id"),
    "report_ucol_level": ("层级", "Level"),
    "report_ucol_unit_id": ("单元编码", "Unit id"),
    "report_ucol_name": ("单元名称", "Unit"),
    "report_ucol_detail": ("明细", "Detail"),
    "report_layer_cells": ("网格：人口、步行时间与覆盖",
                           "Cells: population, walking time and coverage"),
    "report_layer_facilities": ("设施", "Facilities"),
    "report_layer_units": ("单元与未达标目标", "Units and targets not met"),
    "report_layer_gaps": ("缺口区域", "Gap areas"),
    "report_layer_sites": ("建议新增点位", "Proposed new sites"),
    "report_sites_not_computed": ("未计算新增点位：{err}", "no new sites computed: {err}"),
    "report_sites_none": ("无可选点位：{err}", "no new sites: {err}"),
    "report_sites_time_spent": (
        "报告的选址时间已用完；请运行 lifecircle site -c {cat} --add {n} --target {tid}",
        "the report's time for sites is spent; run lifecircle site -c {cat} --add {n} "
        "--target {tid}"),
    "report_report": ("公共服务设施可达性体检报告", "Public service accessibility report"),
    "report_generated": ("生成时间", "Generated"),
    "report_run_label": ("批次", "Run"),
    "report_scorecard": ("目标达标情况总览", "Scorecard"),
    "report_summary": (
        "达标 {met} 项，未达标 {not_met} 项，无数据 {no_data} 项",
        "{met} met, {not_met} not met, {no_data} without data"),
    "report_target": ("目标", "Target"),
    "report_value": ("现状值", "Value"),
    "report_threshold": ("目标值", "Threshold"),
    "report_status": ("结论", "Verdict"),
    "report_confidence": ("依据可信度", "Source confidence"),
    "report_note": ("说明", "Note"),
    "report_met": ("达标", "met"),
    "report_not_met": ("未达标", "not met"),
    "report_no_data": ("无数据", "no data"),
    "report_failing": ("未达标目标", "Targets not met"),
    "report_uncovered_map": ("{name}：未覆盖居民分布", "{name}: residents not covered"),
    "report_uncovered_legend": ("未覆盖人口（人/格）", "Residents not covered (persons per cell)"),
    "report_population_map": ("人口分布与设施", "Population and facilities"),
    "report_population_legend": ("人口（人/格）", "Population (persons per cell)"),
    "report_facilities_legend": ("设施", "facilities"),
    "report_ledger": ("问题台账：未达标单元", "Issue ledger: units not meeting the target"),
    "report_unit": ("单元", "Unit"),
    "report_level": ("层级", "Level"),
    "report_detail": ("明细", "Detail"),
    "report_all_units_met": ("各单元均达标。", "Every unit meets it."),
    "report_ledger_more": (
        "另有 {n} 个未达标单元，见工作簿“未达标单元”表。",
        "{n} more units fall short: see the workbook's failing-units sheet."),
    "report_gaps": ("缺口最大的区域", "Largest gap areas"),
    "report_gap_rank": ("序号", "Rank"),
    "report_gap_pop": ("未覆盖人口", "Residents not covered"),
    "report_gap_cells": ("网格数", "Cells"),
    "report_gap_where": ("位置（经度, 纬度）", "Where (lon, lat)"),
    "report_gap_radius": ("范围半径（米）", "Radius (m)"),
    "report_units_style": ("按未达标目标数着色", "Coloured by the number of targets not met"),
    "report_gaps_how": (
        "每个缺口区域内的未覆盖居民都在其中心的可达半径内：一处新设施即可覆盖。",
        "Every resident a gap area leaves uncovered lies within reach of its centre: one new "
        "facility there could serve them all."),
    "report_sites": ("建议新增设施点位", "Best new sites"),
    "report_site_adds": ("新增覆盖人口", "Residents it adds"),
    "report_site_map": ("建议新增点位", "proposed new sites"),
    "report_sites_how": (
        "选址：在未覆盖居民附近的路网节点中，按最大覆盖模型（MCLP，{method}）选出 {n} 处{catego"
        "ry}，同一可达标准；合计新增覆盖 {adds} 人，目标值可由 {before} 提高到 {after}。详细结"
        "果：lifecircle site -c {cat} --add {n} --target {tid}",
        "Sites: street nodes near the residents not covered, the {n} best {category} sites by "
        "maximal covering (MCLP, {method}), same reach as the target; together they add {adds} "
        "residents, taking the target from {before} to {after}. Full answer: lifecircle site "
        "-c {cat} --add {n} --target {tid}"),
    "report_method_greedy": (
        "贪心求解，至多比最优少 {gap}",
        "greedy, at most {gap} below the best"),
    "report_method_exact": ("精确求解，最优", "exact, optimal"),
    "report_method_exact_gap": (
        "精确求解（限时），至多比最优少 {gap}",
        "exact within a time limit, at most {gap} below the best"),
    "report_no_data_title": ("无法评价的目标", "Targets that could not be evaluated"),
    "report_sources": ("数据来源与可信度", "Data sources and confidence"),
    "report_source_file": ("文件", "File"),
    "report_sha256": ("SHA-256", "SHA-256"),
    "report_modified": ("修改日期", "Modified"),
    "report_conf_legend": (
        "依据可信度：V 已核对规划/标准原文；S 二手来源；M 常用值，未核对原文。",
        "Source confidence: V read in the plan or standard; S secondary source; M commonly "
        "cited, not confirmed."),
    "report_warnings": ("数据提示", "Data warnings"),
    "report_accounting": ("人口核算", "Population accounting"),
    "report_rejects_n": (
        "未采用的输入记录 {n} 条（详见工作簿“未采用记录”表）。",
        "{n} input rows not used (see the workbook's rejects sheet)."),
    "report_compare": ("与上一批次对比", "Change since an earlier run"),
    "report_compare_head": (
        "本批次 #{now} {now_label}（{now_date}）对比 #{then} {then_label}（{then_date}）",
        "This run #{now} {now_label} ({now_date}) against #{then} {then_label} ({then_date})"),
    "report_then": ("上次", "Then"),
    "report_now": ("本次", "Now"),
    "report_change": ("变化", "Change"),
    "report_newly_met": ("新达标", "Newly met"),
    "report_lost": ("不再达标", "No longer met"),
    "report_units_up": ("改善的单元", "Units that improved"),
    "report_units_down": ("退步的单元", "Units that fell behind"),
    "report_fac_added": ("新增设施", "Facilities added"),
    "report_fac_removed": ("减少设施", "Facilities removed"),
    "report_fac_matched": ("更名或移位的设施", "Facilities renamed or moved"),
    "report_none": ("无", "none"),
    "report_name": ("名称", "Name"),
    "report_category": ("类别", "Category"),
    "report_no_changes": ("目标值均无变化。", "No target value changed."),
    "report_trend": ("历次趋势", "Trend over recorded runs"),
    "report_method": ("方法说明", "Methodology"),
    "report_method_travel": (
        "出行模型：网格中心沿直线步行至最近路网节点，再沿路网最短路径至设施所在节点，最后直线步"
        "行至设施。步行速度按人群设定（{speeds} 千米/小时）；驾车按 maxspeed 或道路等级默认车速"
        "并遵守单行规则。",
        "Travel model: a straight walk from the cell centre to its nearest street node, the "
        "shortest path along the street network, and a straight walk from the facility's node "
        "to the facility. Walking speeds per group: {speeds} km/h; driving uses maxspeed or "
        "class default speeds and one-way rules."),
    "report_method_crs": (
        "分析坐标系：{crs}（研究区中心所在的 UTM 带），网格边长 {cs:g} 米。",
        "Analysis CRS: {crs} (the UTM zone of the study area's centre); grid cells of {cs:g} m."),
    "report_method_snap": (
        "吸附：距最近路网节点超过 {snap:g} 米的网格和设施视为不可达，列入未采用记录，其居民计为"
        "未覆盖。",
        "Snapping: cells and facilities farther than {snap:g} m from every street node are "
        "unreachable, listed in the rejects, their residents uncovered."),
    "report_method_net": (
        "路网：{mode} 网络 {nodes:,} 个节点、{arcs:,} 条有向边（来自 {src}）。",
        "Network: {mode} network of {nodes:,} nodes and {arcs:,} arcs (from {src})."),
    "report_method_targets": (
        "目标判定：覆盖类目标按居住人口计算在规定时间（距离）内可达的比例；单元类目标逐单元判定"
        "；配置类目标按每千人指标计算。",
        "Verdicts: circle targets are the share of residents within the stated time "
        "(distance); unit targets are judged unit by unit; provision targets per 1000 "
        "residents."),
    "report_repro": ("可复现信息", "Reproducibility"),
    "report_version": ("软件版本", "Software version"),
    "report_fingerprint": ("批次指纹", "Run fingerprint"),
    "report_inputs_changed": (
        "注意：以下输入文件自该批次记录以来已被修改或移走，本报告反映的是记录时的数据：",
        "Note: these input files changed or moved since the run was recorded; this report "
        "shows the data as recorded:"),
    "report_inputs_same": (
        "输入文件与记录时一致。",
        "Input files unchanged since the run was recorded."),
    "report_not_recorded": ("该批次未记入运行历史。", "This run is not in the run history."),
    "report_data_source_line": (
        "数据来源：路网与设施 © OpenStreetMap 贡献者（ODbL）；人口：{pop}；坐标系 {crs}；lifeci"
        "rcle {version}",
        "Sources: streets and facilities © OpenStreetMap contributors (ODbL); population: {pop}"
        "; CRS {crs}; lifecircle {version}"),
    "gap_title": ("各未达标目标最大的缺口区域（一处新设施可服务的范围）",
                  "Largest gap area of each target not met (what one new facility could serve)"),
    "gap_target": ("目标", "Target"),
    "gap_residents": ("未覆盖人口", "Residents not covered"),
    "gap_cells_n": ("网格数", "Cells"),
    "gap_radius": ("半径（米）", "Radius (m)"),
    "gap_unit": ("所在单元", "Unit"),
    "gap_lonlat": ("中心经纬度（WGS-84）", "Centre lon, lat (WGS-84)"),
    "gap_n_areas": ("缺口区域数", "Gap areas"),
    "gap_note": ("缺口区域：以未覆盖人口最多的网格为中心、目标服务半径内的未覆盖网格，依次划分；"
                 "全部区域见 gaps.csv，网格归属见 gap_cells.parquet",
                 "Gap areas: around the cell with the most uncovered residents within the "
                 "target's reach, the uncovered cells within that reach, one area after "
                 "another; every area in gaps.csv, the cells of each in gap_cells.parquet"),
    # -- log messages (shown with -v; warnings always) ------------------------------
    "level_DEBUG": ("调试", "DEBUG"),
    "level_INFO": ("信息", "INFO"),
    "level_WARNING": ("警告", "WARNING"),
    "level_ERROR": ("错误", "ERROR"),
    "level_CRITICAL": ("严重错误", "CRITICAL"),
    "log_reprojecting": ("{what}：坐标从 {src} 转换到 {dst}",
                         "reprojecting {what} from {src} to {dst}"),
    "log_settlement_replaced": ("网格原有的城乡分类已按研究区文件的单元划分替换",
                                "settlement column replaced by the study-area classification"),
    "log_settlement_unknown": ("城乡分类列出的单元不在网格中：{units}",
                               "settlement classification names units not in the cells: "
                               "{units}"),
    "log_no_settlement": ("网格没有城乡分类：全部按城区处理",
                          "cells carry no settlement class: every cell treated as urban"),
    "log_settlement_from_units": ("城乡分类取自 {level} 单元",
                                  "settlement classes taken from the {level} units"),
    "log_profile": ("目标方案 {profile}：{n} 项目标", "target profile {profile}: {n} targets"),
    "log_osm_ways": ("{file}：{mode}道路 {ways} 条，节点 {nodes} 个，有向边 {arcs} 条"
                     "（缺失节点引用 {missing} 个）",
                     "{file}: {ways} {mode} ways, {nodes} nodes, {arcs} arcs ({missing} missing "
                     "node references)"),
    "log_components": ("{source} {mode}路网：保留 {n_comp} 个连通分量中最大的一个"
                       "（{kept}/{total} 个节点），剔除 {dropped} 个节点、{arcs} 条有向边",
                       "{source} {mode} network: kept the largest of {n_comp} components "
                       "({kept} of {total} nodes); dropped {dropped} nodes and {arcs} arcs"),
    "log_cache_hit": ("{file} 的{mode}路网取自缓存 {entry}",
                      "{mode} network of {file} loaded from cache {entry}"),
    "log_cache_bad": ("{file} 的{mode}路网缓存 {entry} 不可用（{why}），正在重建",
                      "network cache entry {entry} for the {mode} network of {file} is not "
                      "usable ({why}); rebuilding it"),
    "log_window_from_file": ("分区 {partition}：缓存中没有可用的{mode}路网，"
                             "改为从路网文件读取其范围",
                             "partition {partition}: no usable cached {mode} network; "
                             "reading its box from the network file"),
    "log_cache_write": ("无法写入缓存 {entry}（{why}）",
                        "could not write the cache {entry} ({why})"),
    "log_landuse_broken": ("{file}：跳过 {n} 个几何无效的用地面",
                           "{file}: {n} land-use areas with broken geometry were skipped"),
    "log_landcover": ("{file}：居住用地 {res:.2f} 平方公里，建筑 {bld:.2f} 平方公里，"
                      "水域 {water:.2f} 平方公里",
                      "{file}: residential {res:.2f} km², buildings {bld:.2f} km², "
                      "water {water:.2f} km²"),
    "log_pop_no_unit": ("{n:.1f} 人不在任何单元内", "{n:.1f} persons lie in no unit"),
    "log_units_overlap": ("单元相互重叠：部分人口被重复计入",
                          "units overlap: some persons are counted in more than one unit"),
    "log_file_detail": ("{file}：{detail}", "{file}: {detail}"),
    "log_invalid_rows": ("{file}：{n} 行的“{column}”无效，已列入未采用记录",
                         "{file}: {n} row(s) with invalid '{column}' listed as rejects"),
    "log_repair_geoms": ("{file}：修复 {n} 个无效几何", "{file}: repairing {n} invalid geometries"),
    "log_census_missing": ("{source}：研究区内以下单元没有人口数：{units}",
                           "{source}: units without population figure in the study area: "
                           "{units}"),
    "log_repair_boundary": ("修复研究区边界（几何无效）",
                            "repairing the study area boundary (invalid geometry)"),
    "log_no_total": ("没有人口数据源提供总人口", "no population source gives the total population"),
    "log_coords_gcj02": ("坐标由 GCJ-02 转换为 WGS-84",
                         "converting coordinates from GCJ-02 to WGS-84"),
    "log_coords_bd09": ("坐标由 BD-09 转换为 WGS-84",
                        "converting coordinates from BD-09 to WGS-84"),
    "log_coords_cgcs2000": ("坐标由 CGCS2000（EPSG:4490）转换为 WGS-84（EPSG:4326）",
                            "transforming coordinates from CGCS2000 (EPSG:4490) to WGS-84 "
                            "(EPSG:4326)"),
    "log_osm_no_facilities": ("{label}：没有设施要素", "{label}: no facility elements"),
    "log_osm_facilities": ("{label}：设施要素 {n} 个（{unknown} 个无法归类）",
                           "{label}: {n} facility elements ({unknown} without a category)"),
    "log_gbk": ("{file} 不是 UTF-8 编码，按 GB18030（GBK）读取",
                "{file} is not UTF-8; read it as GB18030 (GBK)"),
    "log_table_format": ("{file}：编码 {enc}，分隔符 {delim}",
                         "{file}: encoding {enc}, delimiter {delim}"),
    "log_source_rows": ("{source}：{n} 行，可用 {usable} 行",
                        "{source}: {n} rows, {usable} usable"),
    "log_facilities_kept": ("设施：{rows} 行中保留 {kept} 处；{merged} 处作为重复记录合并",
                            "facilities: {kept} kept from {rows} rows; {merged} merged as "
                            "duplicates"),
    "log_graph_network": ("{source} 图（{nodes} 个节点、{edges} 条边）转为{mode}路网，坐标系 {crs}",
                          "{source} graph ({nodes} nodes, {edges} edges) as a {mode} network "
                          "in {crs}"),
    "log_report_written": ("报告已写入 {path}，用时 {s:.1f} 秒",
                           "report written to {path} in {s:.1f} s"),
    "log_history_recorded": ("已记入运行 #{id}：{path}", "recorded run #{id} in {path}"),
    "log_partition_cache_bad": ("忽略无法读取的分区缓存 {path}（{why}）",
                                "ignoring unreadable partition cache {path} ({why})"),
    "log_partition_keep_failed": ("无法保存分区结果 {path}（{why}）",
                                  "could not keep partition result {path} ({why})"),
    "log_partitions_cached": ("{n} / {total} 个分区取自 {root}",
                              "{n} of {total} partitions taken from {root}"),
    "log_partitions_resent": ("人口数据在研究区之外另有 {n} 个有人居住的网格：分区连同它们重新计算",
                              "the population adds {n} inhabited cells outside the study "
                              "area: the partitions are sent again with them"),
    "log_partition_groups": ("{modes}按 {n} 组相邻分区合并计算（缓冲区相对分区较大）",
                             "{modes} routed for {n} groups of neighbouring partitions "
                             "(their buffer is long against the partitions)"),
    "log_partitions": ("按 {by} 分为 {n} 个分区；缓冲区（米）{buffers}",
                       "{n} partitions by {by}; buffers {buffers} m"),
    "log_sites_catalogue": ("目标目录无法读取，不给出选址：{why}",
                            "targets catalogue unreadable, no sites: {why}"),
    "log_sites_done": ("{target} 选址：{method} {status}，用时 {s:.1f} 秒",
                       "sites for {target}: {method} {status} in {s:.1f} s"),
    "log_cjk_font": ("地图中文字体：{family}（{path}）", "CJK font for maps: {family} ({path})"),
    "log_api_reprojected": ("{what} 由 {src} 转换到路网坐标系 {dst}",
                            "{what} reprojected from {src} to the network's {dst}"),
    "log_memory": ("本次运行约需 {gb:.2f} GB 内存（{n} 个网格）",
                   "the run needs about {gb:.2f} GB for {n} cells"),
    "log_utm": ("分析坐标系 {crs}（{name}），即研究区中心所在的 UTM 带",
                "analysis CRS {crs} ({name}), the UTM zone of the study area's centre"),
    "log_unnamed": ("{n} 处无名称设施按类别、单元和编号命名",
                    "{n} facilities without a name labelled by category, unit and id"),
    "log_unit_lost": ("{column}：{n:.1f} 人所在网格不属于任何单元",
                      "{column}: {n:.1f} persons lie in cells of no unit"),
    "log_below_street_cell": ("{n} 个网格在 {d:.0f} 米内没有地面道路节点，接入隧道、地下或室内道路",
                              "{n} cell(s) have no street-level node within {d:.0f} m and join "
                              "a tunnel, underground or indoor way"),
    "log_below_street_facility": ("{n} 处设施在 {d:.0f} 米内没有地面道路节点，接入隧道、地下或"
                                  "室内道路",
                                  "{n} facility(s) have no street-level node within {d:.0f} m "
                                  "and join a tunnel, underground or indoor way"),
    "log_no_facilities_for": ("数据中没有目标所需的 {n} 类设施：{cats}",
                              "no facilities in the data for {n} categories targets need: "
                              "{cats}"),
    "log_whatif_unavailable": ("无法进行情景模拟：{why}", "what-if not available: {why}"),
    "log_networks_loaded": ("{modes} 路网及接入关系已载入，用时 {s:.1f} 秒",
                            "{modes} network(s) and joins loaded in {s:.1f} s"),
    "log_whatif_loaded": ("情景模拟所需的步行路网、网格列和接入关系已载入，用时 {s:.1f} 秒",
                          "walking network, cell columns and joins for what-if loaded in "
                          "{s:.1f} s"),
    "log_overlay_cache_bad": ("地图底图缓存 {path} 无法读取（{why}），正在重建",
                              "map overlay cache {path} unreadable ({why}): rebuilding"),
    "log_open_sample": ("没有 {path}：打开内置样例", "no {path}: opening the bundled sample"),
    "log_scenario_evaluated": ("情景已评估，用时 {s:.2f} 秒（重新计算：{cats}）",
                               "scenario evaluated in {s:.2f} s (rerouted {cats})"),
    "log_scenarios_not_kept": ("无法在 {path} 旁保存情景（{why}）",
                               "cannot keep scenarios beside {path} ({why})"),
    "log_scenarios_temporary": ("保存的情景只保留到 {path} 被删除为止",
                                "saved scenarios last only until {path} is removed"),
    "log_no_background": ("无法从 {path} 生成地图底图（{why}）",
                          "no map background from {path} ({why})"),
    # progress bars
    "bar_run": ("生命圈分析", "lifecircle"),
    "bar_targets": ("规划目标", "targets"),
    "bar_ways": ("读取{mode}道路", "reading {mode} ways"),
    "bar_raster": ("栅格", "raster"),
    "bar_census": ("普查单元", "census units"),
    "bar_sources": ("人口数据源", "population sources"),
    "bar_osm": ("读取 {label}", "reading {label}"),
    "bar_partitions": ("分区", "partitions"),
    "unit_ways": (" 条道路", " ways"),
    "unit_block": (" 块", "block"),
    "unit_unit": (" 个单元", "unit"),
    "unit_source": (" 个数据源", "source"),
    "unit_objects": (" 个要素", " objects"),
    "unit_partition": (" 个分区", " partition"),
    "unit_stage": (" 步", " stage"),
    "stage_boundary": ("研究区边界", "boundary"),
    "stage_network": ("路网", "network"),
    "stage_population": ("人口", "population"),
    "stage_facilities": ("设施", "facilities"),
    "stage_snapping": ("接入路网", "snapping"),
    "stage_routing": ("路径计算", "routing"),
    "stage_units": ("单元统计", "units"),
    "stage_targets": ("规划目标", "targets"),
}


_current = ["zh"]


def set_lang(lang: str) -> None:
    """Set the language of log messages and progress bars (``"zh"`` by default)."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    _current[0] = lang


def current_lang() -> str:
    """The language :func:`set_lang` set (``"zh"`` unless changed)."""
    return _current[0]


@contextmanager
def language(lang: str) -> Iterator[None]:
    """Log and show progress in ``lang`` inside the block, then restore the language."""
    before = _current[0]
    set_lang(lang)
    try:
        yield
    finally:
        _current[0] = before


class Say:
    """A message in both languages, shown in the current language when it is rendered.

    Log calls pass one as the message (``log.warning(say("key", n=3))``): the record
    renders it when a handler formats it, in the language :func:`set_lang` chose.
    """

    __slots__ = ("en", "zh")

    def __init__(self, zh: str, en: str) -> None:
        self.zh = zh
        self.en = en

    def __str__(self) -> str:
        return self.zh if _current[0] == "zh" else self.en

    def __repr__(self) -> str:
        return f"Say({self.zh!r}, {self.en!r})"

    def text(self, lang: str) -> str:
        """The message in ``lang``."""
        return self.zh if lang == "zh" else self.en


def say(key: str, **fmt: object) -> Say:
    """Message ``key`` of :data:`MESSAGES` in both languages; ``fmt`` values that are
    :class:`Say` are filled in each message's own language."""
    zh, en = MESSAGES[key]

    def fill(text: str, lang: str) -> str:
        vals = {k: v.text(lang) if isinstance(v, Say) else v for k, v in fmt.items()}
        return text.format(**vals) if fmt else text

    return Say(fill(zh, "zh"), fill(en, "en"))


def bar(key: str, **fmt: object) -> str:
    """Progress-bar label ``key`` in the current language."""
    return str(say(key, **fmt))


def t(key: str, lang: str = "zh", **fmt: object) -> str:
    """The message ``key`` in ``lang``, formatted with ``fmt``."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    zh, en = MESSAGES[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text
