"""Completeness of facility data against GB 50180 life-circle populations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from access.rejects import RejectLog
from facilities import (
    completeness_check,
    completeness_warnings,
    load_facilities,
    parse_facility_sources,
)
from tests.facilities.conftest import CHENGDU


def frame(**counts: int) -> pd.DataFrame:
    return pd.DataFrame({"category": [k for k, n in counts.items() for _ in range(n)]})


def test_expected_ranges(taxonomy):
    check = completeness_check(frame(kindergarten=10), 100_000, taxonomy).set_index("category")
    kg = check.loc["kindergarten"]
    assert kg["count"] == 10
    assert kg["per_10k"] == pytest.approx(1.0)
    assert kg["expected_min_per_10k"] == pytest.approx(10_000 / 12_000)
    assert kg["expected_max_per_10k"] == pytest.approx(2.0)
    assert kg["status"] == "ok"
    jm = check.loc["junior_middle_school"]
    assert jm["expected_min_per_10k"] == pytest.approx(0.1)
    assert jm["status"] == "none"
    assert np.isnan(check.loc["hospital", "expected_min_per_10k"])
    assert set(check.index) == set(taxonomy.categories)


def test_low_status_and_bilingual_messages(taxonomy, caplog):
    # 5 kindergartens for 500,000 residents: 0.1 per 10,000 against 0.83-2.0
    check = completeness_check(frame(kindergarten=5, hospital=3), 500_000, taxonomy)
    kg = check.set_index("category").loc["kindergarten"]
    assert kg["status"] == "low"
    assert "the data, not the city" in kg["message_en"].lower()
    assert "数据" in kg["message_zh"]
    assert "幼儿园" in kg["message_zh"]
    assert any("幼儿园" in r.getMessage() and "kindergarten" in r.msg.text("en").lower()
               for r in caplog.records if r.levelname == "WARNING")
    warn = completeness_warnings(check, ["kindergarten", "hospital"])
    assert len(warn) == 1  # hospitals have no norm
    assert warn[0][1] == kg["message_en"]
    assert completeness_warnings(completeness_check(frame(kindergarten=80), 500_000, taxonomy),
                                 ["kindergarten"]) == []


def test_bundled_sample_is_flagged(taxonomy, chengdu_boundary, chengdu_crs):
    sources = parse_facility_sources([{"kind": "osm", "path": "chengdu_central.osm"}],
                                     base_dir=CHENGDU, path=CHENGDU / "area.toml")
    fac = load_facilities(sources, boundary=chengdu_boundary, crs=chengdu_crs,
                          taxonomy=taxonomy, rejects=RejectLog())
    pop = pd.read_csv(CHENGDU / "district_population_2020.csv")["population_2020"].sum()
    status = completeness_check(fac, float(pop), taxonomy).set_index("category")["status"]
    assert status["kindergarten"] == "low"
    assert status["eldercare_institution"] == "none"


@pytest.mark.parametrize("pop", [0, -5, float("nan")])
def test_bad_population(taxonomy, pop):
    with pytest.raises(ValueError, match="population_total"):
        completeness_check(frame(kindergarten=1), pop, taxonomy)


def test_warn_off_logs_nothing(taxonomy, caplog):
    check = completeness_check(frame(kindergarten=5), 500_000, taxonomy, warn=False)
    assert check.set_index("category").loc["kindergarten", "status"] == "low"
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
