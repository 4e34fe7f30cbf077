"""Start-up check: the engine package ``access`` must be lifecircle's own.

PySAL's accessibility package is also installed under the top-level name
``access``. Where both are installed, one shadows the other and lifecircle would
fail later with confusing errors, so importing :mod:`lifecircle` checks first.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["ENGINE_MARKER", "check_engine_package"]

#: Name defined in lifecircle's ``access/__init__.py`` and in no other package.
ENGINE_MARKER = "__lifecircle_engine__"


def check_engine_package() -> None:
    """Raise ImportError, saying what to do, when ``access`` is not lifecircle's engine."""
    spec = importlib.util.find_spec("access")
    if spec is None or spec.origin is None:
        raise ImportError("lifecircle's engine package 'access' is missing; reinstall "
                          "lifecircle (pip install --force-reinstall lifecircle)")
    origin = Path(spec.origin)
    try:
        ours = ENGINE_MARKER in origin.read_text(encoding="utf-8", errors="replace")
    except OSError:
        ours = False
    if not ours:
        raise ImportError(
            f"the package 'access' found at {origin.parent} is not lifecircle's engine: "
            "another package with that top-level name is installed (PySAL's 'access' "
            "accessibility package uses it too). Install lifecircle in its own virtual "
            "environment (python -m venv .venv), or remove the other one "
            "(pip uninstall access) if you do not need it.")
