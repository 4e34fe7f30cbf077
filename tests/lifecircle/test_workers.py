"""The lean entry point: what ``lifecircle`` imports before a command runs, and when
it starts a partitioned run's worker processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lifecircle.workers import WORKER_MODULES, starts_local_workers

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
