"""The study-area file: strict keys with suggestions, relative paths, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from access.errors import ConfigError, InputFileError, StudyAreaError
from lifecircle.study_area import default_area_path, load_study_area


@pytest.fixture
def area_dir(tmp_path: Path, sample_dir: Path) -> Path:
    """A copy of the bundled sample, to edit."""
    dst = tmp_path / "area"
    shutil.copytree(sample_dir, dst)
    return dst


def edit(area_dir: Path, old: str, new: str) -> Path:
    path = area_dir / "area.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_sample_parses(sample_dir: Path) -> None:
    area = load_study_area(default_area_path())
    assert area.network.path == sample_dir / "chengdu_central.osm"
    assert area.network.modes == ("walk", "drive")
    assert area.travel.walk_speed_kmh == {"total": 4.0, "age_60_plus": 3.2}
    assert area.grid.cell_size_m == 100
    assert [u.level for u in area.units] == ["district"]
    assert len(area.population) == 1
    assert len(area.facilities) == 1


def test_unknown_key_suggests(area_dir: Path) -> None:
    path = edit(area_dir, "snap_max_dist_m = 500", "snap_max_dist = 500")
    with pytest.raises(StudyAreaError) as info:
        load_study_area(path)
    msg = str(info.value)
    assert "area.toml" in msg
    assert "network.snap_max_dist" in msg
    assert "did you mean 'snap_max_dist_m'" in msg


def test_unknown_top_level_key(area_dir: Path) -> None:
    path = edit(area_dir, "[grid]", "[gird]")
    with pytest.raises(StudyAreaError, match="did you mean 'grid'"):
        load_study_area(path)


def test_missing_network_file(area_dir: Path) -> None:
    path = edit(area_dir, 'path = "chengdu_central.osm"', 'path = "nowhere.osm"')
    with pytest.raises(ConfigError, match=r"network\.path.*nowhere\.osm"):
        load_study_area(path)


@pytest.mark.parametrize(("old", "new", "key"), [
    ("cell_size_m = 100", "cell_size_m = -5", "grid.cell_size_m"),
    ("cell_size_m = 100", 'cell_size_m = "100"', "grid.cell_size_m"),
    ("total = 4.0", "total = 0", "travel.walk_speed_kmh.total"),
    ("k_nearest = 3", "k_nearest = 0", "travel.k_nearest"),
    ('modes = ["walk", "drive"]', 'modes = ["walk", "bus"]', "network.modes[2]"),
])
def test_bad_values(area_dir: Path, old: str, new: str, key: str) -> None:
    path = edit(area_dir, old, new)
    with pytest.raises(ConfigError) as info:
        load_study_area(path)
    assert info.value.key == key


def test_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "area.toml"
    path.write_text("this is = = not toml", encoding="utf-8")
    with pytest.raises(InputFileError, match="not valid TOML"):
        load_study_area(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        load_study_area(tmp_path / "none.toml")
