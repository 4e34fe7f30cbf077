"""The project's own checks, run with the tests so CI runs them: ruff, mypy, layer contracts."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_clean() -> None:
    if shutil.which("ruff") is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    proc = _run("ruff", "check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_layers_import_one_way() -> None:
    """access < gridded_pop | facilities < lifecircle < dashboards < app.py (pyproject)."""
    proc = _run(sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                "lint_imports_command()")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_mypy_clean() -> None:
    """The project's own code type-checks (``[tool.mypy]`` in pyproject.toml)."""
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


_LOG_LEVELS = {"info", "warning", "error", "exception", "critical"}


def test_log_messages_come_from_the_catalogue() -> None:
    """Every log line a user can see is a catalogue message (``access.i18n.say``), so it is
    Chinese by default and English with --lang en: no English text written into a log call."""
    found = []
    files = [ROOT / "app.py", *(p for pkg in ("access", "gridded_pop", "facilities",
                                               "lifecircle", "dashboards")
                                for p in sorted((ROOT / pkg).rglob("*.py")))]
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in _LOG_LEVELS and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("log", "logger", "logging") and node.args):
                continue
            first = node.args[0]
            text = (first.value if isinstance(first, ast.Constant) and isinstance(first.value, str)
                    else "".join(v.value for v in first.values if isinstance(v, ast.Constant))
                    if isinstance(first, ast.JoinedStr) else "")
            if re.search(r"[A-Za-z]{3,}", text):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text[:60]!r}")
    assert not found, "log text outside access/i18n.py (use say(key, ...)):\n" + "\n".join(found)
