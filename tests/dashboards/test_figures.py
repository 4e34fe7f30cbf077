"""Figure and table builders, on the sample run."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from dashboards import figures
from dashboards.state import ScenarioCache, base_view
from lifecircle.pipeline import RunResult
from lifecircle.summary import access_table


def test_time_classes_bounds() -> None:
    got = figures.time_classes(np.array([0, 5, 5.01, 10, 14.9, 15, 20, 20.5, np.inf, np.nan]))
    assert got.tolist() == [0, 0, 1, 1, 2, 2, 3, 4, 4, 4]


def test_scorecard_frame_reads_library_verdicts(sample_result: RunResult) -> None:
    targets = sample_result.targets.targets
    frame = figures.scorecard_frame(targets, lang="en")
    assert frame["id"].tolist() == targets["id"].tolist()
    row = frame.set_index("id").loc["convenience_15"]
    value = float(targets.set_index("id").loc["convenience_15", "value"])
    assert row["value"] == f"{value:.1%}"
    assert row["threshold"] == "≥ 100.0%"
    assert row["status"] == "not met"
    assert "Kaifeng" in row["source"]
    assert "开封" not in row["source"]
    zh = figures.scorecard_frame(targets, lang="zh").set_index("id")
    assert zh.loc["convenience_15", "status"] == "未达标"
    assert zh.loc["life_circle_15", "value"] == "—"


def test_scorecard_compare_shows_change(sample_result: RunResult) -> None:
    base = sample_result.targets.targets
    other = base.copy()
    other.loc[other["id"] == "park_radius", "value"] += 0.05
    frame = figures.scorecard_frame(base, lang="en", compare=other).set_index("id")
    assert frame.loc["park_radius", "change"] == "+5.0 pp"
    assert frame.loc["convenience_15", "change"] == ""


def test_source_label_splits_languages() -> None:
    text = "甲规划 / Plan A [000]; 乙 / B [001]"
    assert figures.source_label(text, "zh") == "甲规划；乙"
    assert figures.source_label(text, "en") == "Plan A; B"
    assert figures.source_label("free text", "en") == "free text"


def test_coverage_rows_are_the_library_table(sample_result: RunResult) -> None:
    rows = figures.coverage_rows(sample_result, base_view(sample_result), lang="en")
    assert rows == access_table(sample_result, lang="en")


def test_units_frame_and_exports(sample_result: RunResult) -> None:
    frame = figures.units_frame(sample_result, base_view(sample_result), level="district",
                                lang="en")
    assert len(frame) == len(sample_result.units["district"])
    tu = sample_result.targets.units
    row = tu[(tu["target_id"] == "convenience_15") & (tu["unit_id"] == "156510105")].iloc[0]
    col = next(c for c in frame.columns if c.endswith("(%)") and "onvenience" in c)
    got = frame.set_index("Code").loc["156510105", col]
    assert got == pytest.approx(round(row["value"] * 100, 1))
    assert "Failing rules" in frame
    csv = figures.frame_to_csv_bytes(frame)
    assert csv.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig", dtype={"Code": str})
    assert back["Code"].tolist() == frame["Code"].tolist()
    xlsx = pd.read_excel(io.BytesIO(figures.frame_to_excel_bytes(frame)), dtype={"Code": str})
    assert xlsx.shape == frame.shape


def test_comparison_frame(sample_result: RunResult) -> None:
    cache = ScenarioCache(sample_result)
    view = cache.view([{"action": "add", "category": "park", "lon": 104.08, "lat": 30.69}],
                      name="one park")
    frame = figures.comparison_frame([view], base=sample_result, lang="en")
    assert list(frame.columns) == ["Target", "Threshold", "current", "one park"]
    assert len(frame) == len(sample_result.targets.targets)


def test_nearest_facility(sample_result: RunResult) -> None:
    view = base_view(sample_result)
    fac = sample_result.facilities
    park = fac[fac["category"] == "park"].iloc[0]
    x, y = park.geometry.x, park.geometry.y
    assert figures.nearest_facility(view, "park", x + 10, y) == park["facility_id"]
    assert figures.nearest_facility(view, "park", x + 1e5, y) is None
    assert figures.nearest_facility(view, "no_such", x, y) is None


def test_unit_parents_by_majority_of_cells() -> None:
    cells = pd.DataFrame({"unit__township": ["t1", "t1", "t1", "t2", "t2", None],
                          "unit__district": ["d1", "d1", "d2", "d2", "d2", "d1"]})
    assert figures.unit_parents(cells, "township", "district") == {"t1": "d1", "t2": "d2"}
    assert figures.unit_parents(cells, "township", "county") == {}


def test_units_page_population_is_the_library_unit_population(
        sample_result: RunResult) -> None:
    units = sample_result.units["district"].set_index("unit_id")
    by_cell = sample_result.cells.groupby("unit__district")["pop_total"].sum()
    frame = figures.units_frame(sample_result, base_view(sample_result), level="district",
                                lang="en")
    shown = frame.set_index("Code")["Population"]
    assert set(shown.index) == set(by_cell.index)
    for uid, p in shown.items():
        assert p == round(by_cell[uid])
        assert p == round(units.at[uid, "pop_total"])


def test_notes_name_categories_not_keys() -> None:
    labels = {"community_health_centre": "社区卫生服务中心", "park": "公园",
              "age_60_plus": "60岁及以上"}
    text = "community_health_centre：数据中无此类设施；age_60_plus：由比例推算；parking park"
    out = figures.readable(text, labels)
    assert out == "社区卫生服务中心：数据中无此类设施；60岁及以上：由比例推算；parking 公园"
    assert figures.readable(text, None) == text
