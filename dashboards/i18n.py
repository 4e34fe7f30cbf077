"""Text of the dashboard, in Chinese and English.

``tr("key", lang)`` returns the label in ``lang`` (``"zh"`` or ``"en"``); Chinese is
the default. Every label, legend and unit the dashboard shows comes from
:data:`STRINGS`.
"""

from __future__ import annotations

__all__ = ["LANGS", "STRINGS", "tr"]

LANGS = ("zh", "en")

STRINGS: dict[str, tuple[str, str]] = {
    # shell
    "app_title": ("15分钟生活圈 · 公共服务可达性", "15-minute life circle · access to services"),
    "language": ("语言", "Language"),
    "page_overview": ("目标总览", "Overview"),
    "page_map": ("可达性地图", "Map"),
    "page_units": ("分区统计", "Units"),
    "page_whatif": ("情景推演", "What-if"),
    "study_area": ("研究区", "Study area"),
    "loading": ("正在计算…", "Computing…"),
    "error": ("错误", "Error"),
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
}


def tr(key: str, lang: str = "zh", **fmt: object) -> str:
    """The label ``key`` in ``lang``, formatted with ``fmt``.

    Raises
    ------
    ValueError
        ``lang`` is not ``"zh"`` or ``"en"``.
    KeyError
        No label of that key.
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    zh, en = STRINGS[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text
