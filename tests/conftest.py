"""Shared fixtures: an isolated network cache and small OSM files written on the fly."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from lifecircle.datasets import get_path

# property tests draw the same examples on every run and machine
settings.register_profile("lifecircle", derandomize=True, deadline=None)
settings.load_profile("lifecircle")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the network cache of the test run out of the user's home."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LIFECIRCLE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """Folder of the bundled central-Chengdu sample."""
    return get_path("chengdu_central")


@pytest.fixture(scope="session")
def sample_osm(sample_dir: Path) -> Path:
    """The bundled OSM extract."""
    return sample_dir / "chengdu_central.osm"


def write_osm(path: Path, nodes: dict[int, tuple[float, float]],
              ways: list[tuple[list[int], dict[str, str]]]) -> Path:
    """Write a minimal OSM XML file: ``nodes`` id -> (lon, lat); ``ways`` (refs, tags)."""
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", '<osm version="0.6" generator="test">']
    for nid, (lon, lat) in nodes.items():
        lines.append(f'  <node id="{nid}" lat="{lat:.7f}" lon="{lon:.7f}" version="1"/>')
    for k, (refs, tags) in enumerate(ways, start=1):
        lines.append(f'  <way id="{k}" version="1">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f'    <tag k="{a}" v="{b}"/>' for a, b in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
