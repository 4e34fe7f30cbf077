"""The worked example in docs/python_api.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "python_api.md"


def test_python_api_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 6
    namespace: dict[str, object] = {}
    for i, code in enumerate(blocks, start=1):
        exec(compile(code, f"{DOC.name} block {i}", "exec"), namespace)
    assert 0.0 <= namespace["share"] <= 1.0
