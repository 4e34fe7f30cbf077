"""Fixtures shared by the engine's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty network cache folder, used by everything the test runs."""
    d = tmp_path / "cache"
    monkeypatch.setenv("LIFECIRCLE_CACHE_DIR", str(d))
    return d
