"""lifecircle: can every resident reach the services a city plan promises?

The import name and public API of the product. The layers below it:

- :mod:`access` — foundation (errors, CRS contract, rejects, messages) and the
  routing and coverage engine (OSM → CSR street networks, snapping, multi-source
  shortest paths, coverage, targets);
- :mod:`gridded_pop` and :mod:`facilities` — loaders onto one analysis grid and one
  facility table;
- :mod:`lifecircle` — the application: study-area files, the run, what-if scenarios,
  results, the ``lifecircle`` command.

Examples
--------
>>> import lifecircle as lc
>>> area = lc.load_study_area(lc.datasets.get_path("chengdu_central") / "area.toml")
>>> result = lc.run(area)  # doctest: +SKIP
"""

from __future__ import annotations

from access.errors import (
    ConfigError,
    CrsMismatchError,
    InputFileError,
    LifecircleError,
    NoCrsError,
)
from access.network import StreetNetwork, load_network
from access.targets import evaluate_targets, load_catalogue
from lifecircle import datasets
from lifecircle.pipeline import RunResult, run, write_outputs
from lifecircle.scenario import Scenario
from lifecircle.study_area import StudyArea, load_study_area

__all__ = [
    "ConfigError",
    "CrsMismatchError",
    "InputFileError",
    "LifecircleError",
    "NoCrsError",
    "RunResult",
    "Scenario",
    "StreetNetwork",
    "StudyArea",
    "datasets",
    "evaluate_targets",
    "load_catalogue",
    "load_network",
    "load_study_area",
    "run",
    "write_outputs",
]
__version__ = "0.1.0"
