"""lifecircle: can every resident reach the services a city plan promises?

The import name and public API of the product, re-exported here osmnx-style:
``import lifecircle as lc`` then ``lc.run``, ``lc.travel_times``, ``lc.nearest``...
GeoDataFrames go in and out with their CRS checked, and every numeric name carries
its unit. The layers below (see ``docs/architecture.md``):

- :mod:`access` — foundation (errors, CRS contract, rejects, messages) and the
  routing and coverage engine (OSM → CSR street networks, snapping, multi-source
  shortest paths, coverage, targets);
- :mod:`gridded_pop` and :mod:`facilities` — loaders onto one analysis grid and one
  facility table;
- :mod:`lifecircle` — the application: study-area files, the run, what-if scenarios,
  results (:func:`write_run` / :func:`read_run`), interop with osmnx and pandana, the
  ``lifecircle`` command.

Examples
--------
>>> import lifecircle as lc
>>> area = lc.load_study_area(lc.datasets.get_path("chengdu_central") / "area.toml")
>>> result = lc.run(area)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib as _importlib
import importlib.metadata as _metadata
from typing import TYPE_CHECKING, Any

from lifecircle._check import check_engine_package

check_engine_package()

from access.errors import (  # noqa: E402  (after the name-clash check)
    ConfigError,
    CrsMismatchError,
    InputFileError,
    LifecircleError,
    NoCrsError,
    StudyAreaError,
)

if TYPE_CHECKING:  # the lazily loaded names below, for type checkers
    from access.network import StreetNetwork, load_network
    from access.targets import TargetResults, load_catalogue
    from lifecircle import datasets
    from lifecircle.api import coverage, evaluate_targets, nearest, travel_times, with_profile
    from lifecircle.area_models import study_area_schema
    from lifecircle.compare import Comparison, compare_runs
    from lifecircle.history import History, HistoryError, RunRecord, record_run
    from lifecircle.interop import (
        network_from_graphml,
        network_from_osmnx,
        network_from_pandana,
        network_to_osmnx,
    )
    from lifecircle.pipeline import RunResult, run
    from lifecircle.report import ReportExistsError, report_run, write_report
    from lifecircle.report_data import ReportData
    from lifecircle.results import RunData, read_run, write_outputs, write_run
    from lifecircle.scenario import Scenario
    from lifecircle.site import (
        SiteError,
        SiteProblem,
        SiteResult,
        site_selection,
        write_sites,
    )
    from lifecircle.study_area import StudyArea, load_study_area

#: Public names loaded on first use (PEP 562), for start-up speed: ``import
#: lifecircle`` -- paid by every command, by the dashboard and by every Dask worker
#: of a partitioned run -- imports only the error types. ``lc.run``,
#: ``lc.report_run`` etc. import their module the first time they are looked up, so
#: a command or a worker pays for what it uses (a partitioned run's worker does not
#: import the targets engine, the report stack or geopandas' readers it never calls).
_LAZY: dict[str, str] = {
    **dict.fromkeys(("StreetNetwork", "load_network"), "access.network"),
    **dict.fromkeys(("TargetResults", "load_catalogue"), "access.targets"),
    **dict.fromkeys(("coverage", "evaluate_targets", "nearest", "travel_times",
                     "with_profile"), "lifecircle.api"),
    "study_area_schema": "lifecircle.area_models",
    "datasets": "lifecircle.datasets",
    **dict.fromkeys(("Comparison", "compare_runs"), "lifecircle.compare"),
    **dict.fromkeys(("History", "HistoryError", "RunRecord", "record_run"),
                    "lifecircle.history"),
    **dict.fromkeys(("network_from_graphml", "network_from_osmnx", "network_from_pandana",
                     "network_to_osmnx"), "lifecircle.interop"),
    **dict.fromkeys(("RunResult", "run"), "lifecircle.pipeline"),
    **dict.fromkeys(("ReportExistsError", "report_run", "write_report"), "lifecircle.report"),
    "ReportData": "lifecircle.report_data",
    **dict.fromkeys(("RunData", "read_run", "write_outputs", "write_run"),
                    "lifecircle.results"),
    "Scenario": "lifecircle.scenario",
    **dict.fromkeys(("SiteError", "SiteProblem", "SiteResult", "site_selection",
                     "write_sites"), "lifecircle.site"),
    **dict.fromkeys(("StudyArea", "load_study_area"), "lifecircle.study_area"),
}


def __getattr__(name: str) -> Any:
    """Import a lazily loaded public name (:data:`_LAZY`) on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    imported = _importlib.import_module(module)
    value = imported if module == f"{__name__}.{name}" else getattr(imported, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Comparison",
    "ConfigError",
    "CrsMismatchError",
    "History",
    "HistoryError",
    "InputFileError",
    "LifecircleError",
    "NoCrsError",
    "ReportData",
    "ReportExistsError",
    "RunData",
    "RunRecord",
    "RunResult",
    "Scenario",
    "SiteError",
    "SiteProblem",
    "SiteResult",
    "StreetNetwork",
    "StudyArea",
    "StudyAreaError",
    "TargetResults",
    "__version__",
    "compare_runs",
    "coverage",
    "datasets",
    "evaluate_targets",
    "load_catalogue",
    "load_network",
    "load_study_area",
    "nearest",
    "network_from_graphml",
    "network_from_osmnx",
    "network_from_pandana",
    "network_to_osmnx",
    "read_run",
    "record_run",
    "report_run",
    "run",
    "site_selection",
    "study_area_schema",
    "travel_times",
    "with_profile",
    "write_outputs",
    "write_report",
    "write_run",
    "write_sites",
]

try:
    __version__ = _metadata.version("lifecircle")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
