"""Fixtures of the target-engine tests."""

from __future__ import annotations

import numpy as np
import pytest

from tests.targets.synth import make_inputs


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture
def build():
    """The :func:`make_inputs` builder (a fixture, so test modules need no imports)."""
    return make_inputs
