"""CSV/Excel facility tables: Amap format, encodings, delimiters and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import openpyxl
import osmium
import pytest
import shapely

from access.crs import lonlat_to_metric
from access.errors import ConfigError, CrsMismatchError, InputFileError
from access.rejects import RejectLog
from facilities import load_facilities, parse_facility_sources, wgs84_to_gcj02
from tests.facilities.conftest import CHENGDU_OSM

STREET = "顺城大街"
AMAP_HEADER = ["名称", "类型", "类型编码", "地址", "location", "pname", "cityname", "adname",
               "adcode"]


def load(tmp_path, tables, taxonomy, boundary, crs, rejects=None):
    sources = parse_facility_sources(tables, base_dir=tmp_path, path=tmp_path / "area.toml")
    return load_facilities(sources, boundary=boundary, crs=crs, taxonomy=taxonomy,
                           rejects=rejects if rejects is not None else RejectLog())


@pytest.fixture(scope="module")
def streets() -> dict[str, shapely.Geometry]:
    """Named highways of the bundled Chengdu OSM file, WGS-84 lines."""
    lines: dict[str, list] = {}
    fp = osmium.FileProcessor(str(CHENGDU_OSM)).with_locations()
    for obj in fp:
        if obj.is_way() and "highway" in obj.tags and "name" in obj.tags:
            xy = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if len(xy) >= 2:
                lines.setdefault(obj.tags["name"], []).append(shapely.LineString(xy))
    return {k: shapely.MultiLineString(v) for k, v in lines.items()}


def street_points(line: shapely.Geometry, n: int) -> np.ndarray:
    """Midpoints of the ``n`` longest segments (away from junctions)."""
    segs = []
    for part in line.geoms:
        c = np.asarray(part.coords)
        for a, b in itertools.pairwise(c):
            segs.append((np.hypot(*(b - a)), (a + b) / 2))
    segs.sort(key=lambda s: -s[0])
    return np.array([m for _, m in segs[:n]])


def test_amap_csv_lands_on_the_right_street(tmp_path, write_csv, streets, taxonomy,
                                            chengdu_boundary, chengdu_crs):
    pts = street_points(streets[STREET], 6)
    g_lon, g_lat = wgs84_to_gcj02(pts[:, 0], pts[:, 1])
    prefixes = ["东城根街", "人民中路", "金河路口", "西御河沿", "骡马市街", "红星路北"]
    rows = [[f"{prefixes[i]}幼儿园", "科教文化服务;学校;幼儿园", "141204", "顺城大街",
             f"{g_lon[i]:.6f},{g_lat[i]:.6f}", "四川省", "成都市", "青羊区", "510105"]
            for i in range(len(pts))]
    write_csv("amap.csv", AMAP_HEADER, rows, encoding="utf-8-sig")
    fac = load(tmp_path, [{"kind": "table", "path": "amap.csv", "coords": "gcj02"}],
               taxonomy, chengdu_boundary, chengdu_crs)
    assert len(fac) == len(pts)
    assert set(fac["category"]) == {"kindergarten"}
    assert set(fac["admin_code"]) == {"510105"}
    x, y = lonlat_to_metric(fac["lon"].to_numpy(), fac["lat"].to_numpy(), chengdu_crs)
    names = list(streets)
    metric = shapely.transform(
        [streets[k] for k in names],
        lambda c: np.column_stack(lonlat_to_metric(c[:, 0], c[:, 1], chengdu_crs)))
    for xi, yi in zip(x, y, strict=True):
        d = shapely.distance(metric, shapely.Point(xi, yi))
        assert names[int(np.argmin(d))] == STREET
        assert d.min() < 3.0
    # the same file read as WGS-84 lies hundreds of metres away: conversion matters
    fac_raw = load(tmp_path, [{"kind": "table", "path": "amap.csv", "coords": "wgs84"}],
                   taxonomy, chengdu_boundary, chengdu_crs)
    xr, yr = lonlat_to_metric(fac_raw["lon"].to_numpy(), fac_raw["lat"].to_numpy(), chengdu_crs)
    street_m = metric[names.index(STREET)]
    assert min(shapely.distance(street_m, shapely.Point(a, b)) for a, b in zip(xr, yr,
                                                                              strict=True)) > 50


def test_gbk_csv_detected(tmp_path, write_csv, taxonomy, chengdu_boundary, chengdu_crs):
    write_csv("gbk.csv", ["名称", "经度", "纬度", "床位数", "性质"],
              [["成华区人民医院", 104.1015, 30.6752, "300张", "公办"],
               ["某某幼儿园", 104.0950, 30.6700, "", "民办普惠"]], encoding="gbk")
    fac = load(tmp_path, [{"kind": "table", "path": "gbk.csv", "coords": "wgs84"}],
               taxonomy, chengdu_boundary, chengdu_crs)
    rec = fac.set_index("name")
    assert rec.loc["成华区人民医院", "category"] == "hospital"
    assert rec.loc["成华区人民医院", "capacity"] == 300
    assert rec.loc["成华区人民医院", "ownership"] == "public"
    assert rec.loc["某某幼儿园", "ownership"] == "inclusive"
    assert np.isnan(rec.loc["某某幼儿园", "capacity"])


def test_gbk_csv_stated_as_utf8(tmp_path, write_csv, taxonomy, chengdu_boundary, chengdu_crs):
    write_csv("gbk.csv", ["name", "lng", "lat"], [["ok", 104.10, 30.67], ["幼儿园", 104.1, 30.6]],
              encoding="gbk")
    with pytest.raises(InputFileError) as info:
        load(tmp_path, [{"kind": "table", "path": "gbk.csv", "coords": "wgs84",
                         "encoding": "utf-8"}], taxonomy, chengdu_boundary, chengdu_crs)
    assert type(info.value) is InputFileError
    assert info.value.row == 3
    assert info.value.column == "encoding"
    assert "gbk.csv" in str(info.value)
    assert "GB18030" in str(info.value)


def test_utf8_csv_stated_as_gbk(tmp_path, write_csv, taxonomy, chengdu_boundary, chengdu_crs):
    write_csv("u.csv", ["名称", "经度", "纬度"], [["幼儿园", 104.1, 30.67]])
    with pytest.raises(InputFileError, match="UTF-8") as info:
        load(tmp_path, [{"kind": "table", "path": "u.csv", "coords": "wgs84",
                         "encoding": "gbk"}], taxonomy, chengdu_boundary, chengdu_crs)
    assert type(info.value) is InputFileError


def test_semicolon_detected(tmp_path, write_csv, taxonomy, chengdu_boundary, chengdu_crs):
    write_csv("semi.csv", ["name", "type", "lng", "lat"],
              [["A Kindergarten", "kindergarten", "104.10", "30.67"],
               ["B 小学", "", "104.09", "30.68"]], delimiter=";")
    fac = load(tmp_path, [{"kind": "table", "path": "semi.csv", "coords": "wgs84"}],
               taxonomy, chengdu_boundary, chengdu_crs)
    assert sorted(fac["category"]) == ["kindergarten", "primary_school"]


def test_wrong_delimiter_stated(tmp_path, write_csv, taxonomy, chengdu_boundary, chengdu_crs):
    write_csv("semi.csv", ["名称", "经度", "纬度"], [["某幼儿园", "104.10", "30.67"]],
              delimiter=";")
    with pytest.raises(InputFileError) as info:
        load(tmp_path, [{"kind": "table", "path": "semi.csv", "coords": "wgs84",
                         "delimiter": ","}], taxonomy, chengdu_boundary, chengdu_crs)
    assert type(info.value) is InputFileError
    assert info.value.row == 1
    assert info.value.column == "经度/lng"
    assert "delimiter = ';'" in str(info.value)


def test_swapped_lat_lon(tmp_path, write_csv, taxonomy, chengdu_boundary, chengdu_crs):
    write_csv("swap.csv", ["名称", "经度", "纬度"],
              [["甲幼儿园", "30.67", "104.10"], ["乙幼儿园", "30.68", "104.09"]])
    with pytest.raises(CrsMismatchError) as info:
        load(tmp_path, [{"kind": "table", "path": "swap.csv", "coords": "wgs84"}],
             taxonomy, chengdu_boundary, chengdu_crs)
    assert type(info.value) is CrsMismatchError
    assert info.value.row == 2
    assert info.value.column == "经度/纬度"
    assert "swapped" in str(info.value)


def test_text_in_numeric_column(tmp_path, write_csv, taxonomy, chengdu_boundary, chengdu_crs):
    write_csv("t.csv", ["名称", "经度", "纬度", "学位数"],
              [["甲幼儿园", "104.10", "30.67", "180"], ["乙幼儿园", "104.09", "三十", "90"],
               ["丙幼儿园", "104.08", "30.66", "约两百"]])
    with pytest.raises(InputFileError) as info:
        load(tmp_path, [{"kind": "table", "path": "t.csv", "coords": "wgs84"}],
             taxonomy, chengdu_boundary, chengdu_crs)
    err = info.value
    assert type(err) is InputFileError
    assert (err.row, err.column) == (3, "纬度")
    assert "'三十' is not a number" in str(err)
    assert "row 4, column '学位数'" in str(err)  # every problem is listed


def test_text_in_numeric_column_rejected_on_request(tmp_path, write_csv, taxonomy,
                                                    chengdu_boundary, chengdu_crs):
    write_csv("t.csv", ["名称", "经度", "纬度", "学位数"],
              [["甲幼儿园", "104.10", "30.67", "180"], ["乙幼儿园", "104.09", "三十", "90"],
               ["丙幼儿园", "104.08", "", "60"]])
    rejects = RejectLog()
    fac = load(tmp_path, [{"kind": "table", "path": "t.csv", "coords": "wgs84",
                           "on_error": "reject"}], taxonomy, chengdu_boundary, chengdu_crs,
               rejects)
    assert list(fac["name"]) == ["甲幼儿园"]
    assert fac["capacity"].tolist() == [180.0]
    rj = rejects.to_frame().set_index("row")
    assert rj.loc[3, "reason"] == "invalid_value"
    assert "纬度" in rj.loc[3, "detail"]
    assert rj.loc[4, "reason"] == "missing_coordinates"
    assert set(rj["kind"]) == {"facility"}


def test_excel_with_chinese_headers(tmp_path, taxonomy, chengdu_boundary, chengdu_crs):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "卫生机构"
    ws.append(["序号", "机构名称", "类别", "经度", "纬度", "编制床位", "办学性质", "行政区划代码"])
    ws.append([1, "猛追湾街道社区卫生服务中心", "社区卫生服务中心", 104.0930, 30.6650, 40, "公办",
               510108])
    ws.append([2, "双桥子社区卫生服务站", None, 104.1050, 30.6600, None, None, 510108])
    ws.append([3, "某某公司", None, 104.1000, 30.6700, None, None, 510108])
    ws.append([None] * 8)  # an empty row holds no record
    wb.save(tmp_path / "register.xlsx")
    rejects = RejectLog()
    fac = load(tmp_path, [{"kind": "table", "path": "register.xlsx", "coords": "cgcs2000",
                           "sheet": "卫生机构"}], taxonomy, chengdu_boundary, chengdu_crs,
               rejects)
    rec = fac.set_index("name")
    assert rec.loc["猛追湾街道社区卫生服务中心", "category"] == "community_health_centre"
    assert rec.loc["猛追湾街道社区卫生服务中心", "capacity"] == 40
    assert rec.loc["双桥子社区卫生服务站", "category"] == "community_health_station"
    assert rec.loc["双桥子社区卫生服务站", "admin_code"] == "510108"
    assert rejects.count(reason="unknown_category") == 1
    assert rejects.rows[0]["row"] == 4
    assert fac.attrs["rows_in"]["register.xlsx"] == 3


def test_excel_missing_sheet(tmp_path, taxonomy, chengdu_boundary, chengdu_crs):
    wb = openpyxl.Workbook()
    wb.active.append(["名称", "经度", "纬度"])
    wb.save(tmp_path / "r.xlsx")
    with pytest.raises(InputFileError, match="no sheet named") as info:
        load(tmp_path, [{"kind": "table", "path": "r.xlsx", "coords": "wgs84", "sheet": "x"}],
             taxonomy, chengdu_boundary, chengdu_crs)
    assert type(info.value) is InputFileError
    assert info.value.column == "sheet"


def test_fixed_category_and_columns_mapping(tmp_path, write_csv, taxonomy, chengdu_boundary,
                                            chengdu_crs):
    write_csv("c.csv", ["机构", "X", "Y"], [["甲", "104.10", "30.67"], ["乙", "104.09", "30.68"]])
    fac = load(tmp_path, [{"kind": "table", "path": "c.csv", "coords": "wgs84",
                           "category": "eldercare_daycare",
                           "columns": {"name": "机构", "lon": "X", "lat": "Y"}}],
               taxonomy, chengdu_boundary, chengdu_crs)
    assert set(fac["category"]) == {"eldercare_daycare"}
    assert sorted(fac["name"]) == ["乙", "甲"]


def test_unknown_fixed_category(tmp_path, write_csv, taxonomy, chengdu_boundary, chengdu_crs):
    write_csv("c.csv", ["名称", "经度", "纬度"], [["甲", "104.10", "30.67"]])
    with pytest.raises(ConfigError, match="did you mean 'kindergarten'") as info:
        load(tmp_path, [{"kind": "table", "path": "c.csv", "coords": "wgs84",
                         "category": "kindergarden"}], taxonomy, chengdu_boundary, chengdu_crs)
    assert type(info.value) is ConfigError
