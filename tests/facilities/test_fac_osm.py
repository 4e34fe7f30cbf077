"""OSM facilities from the bundled Chengdu XML and the Kouvola PBF."""

from __future__ import annotations

from pathlib import Path

import pytest

from access.errors import NotOsmFileError
from access.rejects import RejectLog
from facilities import load_facilities, parse_facility_sources
from facilities.read_osm import read_osm
from tests.facilities.conftest import CHENGDU, CHENGDU_OSM, KOUVOLA_PBF

KINDERGARTEN_NODES = {"n1947467021", "n1956611053", "n1958204370", "n4772476122",
                      "n5742665988"}


@pytest.fixture(scope="module")
def chengdu_records(taxonomy, chengdu_crs):
    return read_osm(CHENGDU_OSM, taxonomy, crs=chengdu_crs)


def test_chengdu_yields_schools_kindergartens_hospitals(chengdu_records):
    by_cat = chengdu_records.groupby("category")["source_row"].apply(set)
    # the five amenity=kindergarten nodes, plus schools whose name says 幼儿园
    assert by_cat["kindergarten"] >= KINDERGARTEN_NODES
    assert len(by_cat["kindergarten"]) == 8
    n_schools = sum(len(by_cat[k]) for k in ("primary_school", "junior_middle_school", "school"))
    assert n_schools == 55 - 3  # every amenity=school but the three named 幼儿园
    assert len(by_cat["hospital"]) == 28
    assert len(by_cat["park"]) == 29
    assert "成都市建设路小学东区" in set(
        chengdu_records.loc[chengdu_records["category"] == "primary_school", "name"])


def test_chengdu_record_locations(chengdu_records):
    rec = chengdu_records.set_index("source_row").loc["n1947467021"]
    assert rec["name"] == "省建一公司幼儿园"
    assert rec["lon"] == pytest.approx(104.0860455)
    assert rec["lat"] == pytest.approx(30.6796065)
    ways = chengdu_records[chengdu_records["source_row"].str.startswith("w")]
    assert len(ways) > 50
    assert ways["lon"].between(104.0, 104.2).all()
    assert ways["lat"].between(30.6, 30.8).all()
    rel = chengdu_records[chengdu_records["source_row"].str.startswith("r")]
    assert list(rel["category"]) == ["library"]


def test_kouvola_pbf_school_and_kindergarten(taxonomy):
    from pyproj import CRS

    rec = read_osm(KOUVOLA_PBF, taxonomy, crs=CRS.from_epsg(32635))
    cats = dict(zip(rec["source_row"], rec["category"], strict=True))
    assert cats["n1324225776"] == "kindergarten"
    assert cats["w180464603"] == "school"
    school = rec.set_index("source_row").loc["w180464603"]
    assert school["name"] == "Helilän koulu"
    assert 26.9 < school["lon"] < 27.0
    assert 60.5 < school["lat"] < 60.55


def test_not_an_osm_file(tmp_path: Path, taxonomy, chengdu_crs):
    bad = tmp_path / "x.osm"
    bad.write_text("this is not xml", encoding="utf-8")
    with pytest.raises(NotOsmFileError) as info:
        read_osm(bad, taxonomy, crs=chengdu_crs)
    assert type(info.value) is NotOsmFileError
    assert "x.osm" in str(info.value)


def test_osm_accounting(taxonomy, chengdu_boundary, chengdu_crs):
    sources = parse_facility_sources([{"kind": "osm", "path": "chengdu_central.osm"}],
                                     base_dir=CHENGDU, path=CHENGDU / "area.toml")
    rejects = RejectLog()
    fac = load_facilities(sources, boundary=chengdu_boundary, crs=chengdu_crs,
                          taxonomy=taxonomy, rejects=rejects)
    rows_in = fac.attrs["rows_in"]["chengdu_central.osm"]
    assert rows_in == len(fac) + rejects.count(kind="facility")
    assert fac["facility_id"].is_unique
    assert (fac["category"] == "kindergarten").sum() >= 5
    assert fac.crs == chengdu_crs
    # deterministic: a second run gives the same table
    again = load_facilities(sources, boundary=chengdu_boundary, crs=chengdu_crs,
                            taxonomy=taxonomy, rejects=RejectLog())
    assert again["facility_id"].tolist() == fac["facility_id"].tolist()
