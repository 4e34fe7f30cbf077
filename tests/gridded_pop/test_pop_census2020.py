"""Age groups from each county's 2020 census age structure (the bundled table)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from access.errors import ConfigError, InputFileError
from access.rejects import RejectLog
from gridded_pop import build_population, parse_population_sources
from gridded_pop.census2020 import (
    CENSUS2020_GROUPS,
    census2020_shares,
    census2020_table,
    county_code,
)

SHARED_XLSX = (Path(__file__).resolve().parents[3] / "shared" / "data"
               / "china_county_census_2020" / "census_county_2020_v1.xlsx")
BASE = {"kind": "census", "table": "district_population_2020.csv",
        "boundaries": "districts.geojson", "join_column": "gb",
        "value_column": "population_2020"}
CHENGDU5 = {"510104": "锦江区", "510105": "青羊区", "510106": "金牛区", "510107": "武侯区",
            "510108": "成华区"}


def test_lankao_county() -> None:
    t = census2020_table()
    r = t.loc["410225"]
    assert r["county"] == "兰考县"
    assert r["prefecture"] == "开封市"
    assert int(r["total"]) == 777_278
    # shares by hand from the bands: ages spread uniformly within a band
    assert r["share_age_0_2"] == pytest.approx((r["age_0"] + r["age_1_4"] / 2) / 777_278)
    assert r["share_age_3_5"] == pytest.approx((r["age_1_4"] / 2 + r["age_5_9"] / 5) / 777_278)
    assert r["share_age_60_plus"] == pytest.approx(r["age_60_plus"] / 777_278)
    assert int(t.loc["410200", "total"]) == 4_824_016  # 开封市
    assert int(t.loc["410100", "total"]) == 12_600_574  # 郑州市


@pytest.mark.skipif(not SHARED_XLSX.exists(), reason="shared census workbook not available")
def test_table_matches_the_census_workbook() -> None:
    df = pd.read_excel(SHARED_XLSX)
    df = df[df["区划代码"].notna()]
    df.index = df["区划代码"].astype(np.int64).astype(str)
    t = census2020_table()
    assert len(t) == len(df)
    for code in ("410225", *CHENGDU5):
        row = df.loc[code]
        assert t.loc[code, "total"] == row["人口数_合计"]
        sixty = sum(row[f"{s}_{b}"] for s in "男女" for b in
                    ("60到64岁", "65到69岁", "70到74岁", "75到79岁", "80到84岁", "85岁以上"))
        assert t.loc[code, "age_60_plus"] == sixty
        assert t.loc[code, "age_1_4"] == row["男_1到4岁"] + row["女_1到4岁"]


@pytest.mark.parametrize(("key", "code"), [
    ("410225", "410225"), ("156510104", "510104"), (410225, "410225"),
    ("410225100", "410225"), ("410225100201", "410225"), ("4102", None), ("兰考", None)])
def test_county_code(key: object, code: str | None) -> None:
    assert county_code(key) == code


def test_chengdu_districts_from_the_table(chengdu_dir: Path, chengdu_spec,
                                          chengdu_boundary) -> None:
    """The sample's five central districts get their own shares, matched by gb code."""
    sources = parse_population_sources([{**BASE, "shares": "census2020"}],
                                       base_dir=chengdu_dir, path=chengdu_dir / "area.toml")
    assert dict(sources[0].shares) == dict.fromkeys(CENSUS2020_GROUPS, "census2020")
    pg = build_population(sources, chengdu_spec, boundary=chengdu_boundary,
                          rejects=RejectLog(), osm_path=chengdu_dir / "chengdu_central.osm")
    census = pd.read_csv(chengdu_dir / "district_population_2020.csv", dtype={"gb": str})
    shares = census2020_shares(census["gb"].tolist())
    assert dict(zip(shares["code"], shares["county"], strict=True)) == CHENGDU5
    t = census2020_table()
    acc = pg.accounting.set_index("group")
    for g in CENSUS2020_GROUPS:
        expected = sum(float(p) * t.loc[c, f"share_{g}"]
                       for p, c in zip(census["population_2020"], shares["code"], strict=True))
        assert acc.loc[g, "population_in"] == pytest.approx(expected, rel=1e-12)
        assert acc.loc[g, "derived_from"] == "census2020"
        # groups are shares of the total cell by cell, each district its own share
        assert 0 < pg.total(g) < pg.total()
    # Chengdu's centre is older than the 0.1798 of the city's bulletin in some districts
    sixty = shares.set_index("county")["age_60_plus"]
    assert sixty["青羊区"] == pytest.approx(181_228 / t.loc["510105", "total"])
    assert sixty.max() - sixty.min() > 0.01
    # the note names every county and its shares
    note_en = next(en for _, en in pg.notes if "2020 census by county" in en)
    for code, name in CHENGDU5.items():
        assert f"{name} ({code})" in note_en
    assert "half of 1-4" in note_en
    assert "age_60_plus" in pg.derived_groups


def test_census2020_needs_census_codes(chengdu_dir: Path, chengdu_spec, chengdu_boundary,
                                       tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="census source"):
        parse_population_sources([{"kind": "vector", "path": "x.gpkg", "value_column": "p",
                                   "shares": "census2020"}], base_dir=tmp_path,
                                 path=tmp_path / "area.toml")
    with pytest.raises(ConfigError, match="census2020"):
        parse_population_sources([{**BASE, "shares": "census2021"}], base_dir=chengdu_dir,
                                 path=chengdu_dir / "area.toml")
    # a unit code the census does not know is named with its row
    for name in ("districts.geojson", "chengdu_central.osm"):
        shutil.copy(chengdu_dir / name, tmp_path / name)
    census = pd.read_csv(chengdu_dir / "district_population_2020.csv", dtype={"gb": str})
    census.loc[2, "gb"] = "156999999"
    census.to_csv(tmp_path / "district_population_2020.csv", index=False)
    gj = (tmp_path / "districts.geojson").read_text(encoding="utf-8")
    (tmp_path / "districts.geojson").write_text(gj.replace("156510106", "156999999"),
                                                encoding="utf-8")
    sources = parse_population_sources([{**BASE, "shares": "census2020"}], base_dir=tmp_path,
                                       path=tmp_path / "area.toml")
    with pytest.raises(InputFileError, match="156999999") as exc:
        build_population(sources, chengdu_spec, boundary=chengdu_boundary,
                         rejects=RejectLog(), osm_path=tmp_path / "chengdu_central.osm")
    assert "row 3" in str(exc.value)
