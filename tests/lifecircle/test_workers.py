"""The lean entry point: what ``lifecircle`` imports before a command runs, and when
it starts a partitioned run's worker processes and local cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lifecircle import workers
from lifecircle.workers import (
    WORKER_MODULES,
    ClusterOptions,
    start_cluster_early,
    starts_local_workers,
    take_early_cluster,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "--partition", "county"], True),
    (["run", "--area", "a.toml", "--partition=tiles", "--workers", "4"], True),
    (["run", "--partition", "county", "--scheduler", "tcp://h:8786"], False),
    (["run", "--partition", "county", "--scheduler=tcp://h:8786"], False),
    (["run", "--area", "a.toml"], False),
    (["report", "--partition", "county"], False),
    (["serve"], False),
    ([], False),
])
def test_which_commands_start_local_workers(argv: list[str], expected: bool) -> None:
    assert starts_local_workers(argv) is expected


def test_worker_modules_are_importable() -> None:
    for name in WORKER_MODULES:
        __import__(name)


def test_the_command_imports_neither_dash_nor_the_library_up_front() -> None:
    """``import app`` (the console script's first step) stays light: Dash is for
    ``serve`` only, the library is imported by the command that runs."""
    code = ("import sys, app; print(','.join(m for m in ('dash', 'plotly', 'distributed', "
            "'lifecircle.pipeline', 'geopandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == ""


def test_app_still_gives_the_dashboard_names() -> None:
    import app
    from dashboards import shell

    assert app.create_app is shell.create_app
    assert app.DEFAULT_HOST == "127.0.0.1"
    with pytest.raises(AttributeError):
        app.no_such_name  # noqa: B018


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "--partition", "county"], ClusterOptions(2, "auto")),
    (["run", "--partition=county", "--workers=3", "--worker-memory", "2GB"],
     ClusterOptions(3, "2GB")),
    (["run", "--partition", "county", "--workers", "many"], None),
    (["run", "--partition", "county", "--workers", "0"], None),
])
def test_cluster_options_read_from_the_command_line(argv: list[str],
                                                    expected: ClusterOptions | None) -> None:
    assert workers._cluster_options(argv) == expected


def _square(x: int) -> int:
    return x * x


def test_early_cluster_is_taken_by_a_run_with_its_options() -> None:
    """A cluster started from the command line serves the run asking for it; a run with
    other options gets none (the early one is closed), and nothing is started for
    other commands."""
    assert not start_cluster_early(["run", "--area", "a.toml"])
    assert take_early_cluster(ClusterOptions(1)) is None
    assert start_cluster_early(["run", "--partition", "county", "--workers", "1"])
    early = take_early_cluster(ClusterOptions(1))
    assert early is not None
    try:
        assert early.client().submit(_square, 7).result() == 49
        assert len(early.client().scheduler_info()["workers"]) == 1
    finally:
        early.close()
    assert take_early_cluster(ClusterOptions(1)) is None  # taken once

    assert start_cluster_early(["run", "--partition", "county", "--workers", "1"])
    assert take_early_cluster(ClusterOptions(2)) is None  # other options: closed
    assert workers._EARLY is None
