"""The bundled sample, analysed once for the site-selection tests."""

from __future__ import annotations

import pytest

from lifecircle.pipeline import RunResult, run
from lifecircle.study_area import default_area_path, load_study_area


@pytest.fixture(scope="session")
def sample_run() -> RunResult:
    """The central-Chengdu sample, analysed."""
    return run(load_study_area(default_area_path()))
