"""`lifecircle report` finds the history a run recorded, without extra flags.

A run with ``--out out/2026Q3`` records in ``out/lifecircle-history`` and names that
folder in its ``run.json``; a plain ``lifecircle report`` in the project folder, and
``lifecircle report --results out/2026Q3`` from anywhere, report that run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lifecircle.cli import app
from lifecircle.history import History, find_histories, history_of_run
from tests.report.test_report import _area


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Path:
    """A project folder with one CLI run recorded in out/lifecircle-history."""
    root = tmp_path_factory.mktemp("project")
    area = _area(root, sample_dir)
    res = CliRunner().invoke(app, ["run", "--area", str(area), "--out",
                                   str(root / "out" / "2026Q3"), "--label", "2026 Q3", "-q"])
    assert res.exit_code == 0, res.output
    return root


def test_run_json_names_its_history(project: Path) -> None:
    meta = json.loads((project / "out" / "2026Q3" / "run.json").read_text(encoding="utf-8"))
    hist = project / "out" / "lifecircle-history"
    assert meta["history"] == {"folder": str(hist), "relative": "../lifecircle-history"}
    assert (hist / "history.sqlite").is_file()
    assert history_of_run(project / "out" / "2026Q3") == hist
    assert find_histories(project) == [hist]
    assert [r.label for r in History(hist).runs()] == ["2026 Q3"]


def test_plain_report_finds_the_run(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    res = CliRunner().invoke(app, ["report", "--out", "rep", "--no-pdf"], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert "#1 2026 Q3" in res.output
    assert "out/lifecircle-history" in res.output
    assert (project / "rep" / "report.html").is_file()
    res = CliRunner().invoke(app, ["history"], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert "2026 Q3" in res.output


def test_results_flag_from_elsewhere(project: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["report", "--results", str(project / "out" / "2026Q3"),
                                   "--out", "rep", "--no-pdf", "--lang", "en"],
                             terminal_width=400)
    assert res.exit_code == 0, res.output
    assert "Report of run #1 2026 Q3" in res.output
    html = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert "2026 Q3" in html
    res = CliRunner().invoke(app, ["history", "--results", str(project / "out" / "2026Q3")])
    assert res.exit_code == 0, res.output
    assert "2026 Q3" in res.output


def test_moved_project_still_finds_its_history(project: Path, tmp_path: Path) -> None:
    # the whole project copied elsewhere: run.json's relative path leads to the copy
    moved = tmp_path / "moved"
    shutil.copytree(project / "out", moved / "out")
    run_dir = moved / "out" / "2026Q3"
    assert history_of_run(run_dir) == moved / "out" / "lifecircle-history"
    res = CliRunner().invoke(app, ["report", "--results", str(run_dir), "--out",
                                   str(tmp_path / "rep"), "--no-pdf"], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert "#1 2026 Q3" in res.output


def test_history_chosen_with_flag_is_found_again(project: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # a run recorded in a history folder of the planner's choosing
    area = project / "area" / "area.toml"
    out = tmp_path / "results" / "Q4"
    res = CliRunner().invoke(app, ["run", "--area", str(area), "--out", str(out),
                                   "--history", str(tmp_path / "archive"), "--label", "Q4",
                                   "-q"])
    assert res.exit_code == 0, res.output
    assert history_of_run(out) == tmp_path / "archive"
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["report", "--out", "rep", "--no-pdf"], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert "Q4" in res.output
    assert "archive" in res.output


def test_plain_report_without_any_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["report", "--out", "rep"], terminal_width=400)
    assert res.exit_code == 2
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    assert "lifecircle run" in lines[0]
    assert "--results" in lines[0]
    assert not (tmp_path / "rep").exists()
