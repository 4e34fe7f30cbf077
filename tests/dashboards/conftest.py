"""The bundled sample run, computed once for the dashboard tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.state import DashboardState, set_state
from lifecircle.pipeline import RunResult, run
from lifecircle.study_area import default_area_path, load_study_area


@pytest.fixture(scope="session")
def sample_result() -> RunResult:
    """The central-Chengdu sample, analysed."""
    return run(load_study_area(default_area_path()))


@pytest.fixture
def state(sample_result: RunResult, tmp_path: Path) -> DashboardState:
    """Dashboard state on the sample, as ``create_app`` installs it (scenarios in tmp)."""
    st = DashboardState(sample_result, out_dir=tmp_path / "run")
    set_state(st)
    return st
