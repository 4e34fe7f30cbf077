"""The bundled sample run, computed once for the dashboard tests."""

from __future__ import annotations

import pytest

from access.pipeline import RunResult, run
from access.study_area import default_area_path, load_study_area
from dashboards.state import DashboardState, set_state


@pytest.fixture(scope="session")
def sample_result() -> RunResult:
    """The central-Chengdu sample, analysed."""
    return run(load_study_area(default_area_path()))


@pytest.fixture
def state(sample_result: RunResult) -> DashboardState:
    """Dashboard state on the sample, as ``create_app`` installs it."""
    st = DashboardState(sample_result)
    set_state(st)
    return st
