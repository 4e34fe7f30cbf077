"""Plan targets: the catalogue (data) and its evaluation on a study area.

The catalogue ``access/catalogue/targets.toml`` lists every target of the
Kaifeng, Zhengzhou, Xinxiang and Lankao plans and of the national standards
behind them; ``access/catalogue/<profile>.toml`` selects the targets one plan
states, with that plan's numbers. A study-area file's ``[targets]`` table can
pick a profile, drop targets, change thresholds or fields and add its own:

.. code-block:: toml

    [targets]
    profile = "kaifeng"                 # or a path to a profile file
    drop = ["emergency_15"]
    extra_categories = ["library_branch"]

    [targets.thresholds]
    fitness_10_urban = 0.95

    [targets.modify.culture_15_20]
    max_time_min = { urban = 15, town = 15, village = 20 }

    [targets.settlement]                # classify units when cells carry no settlement
    level = "township"
    town = ["410225100", "410225101"]
    village = ["410225200"]
    default = "urban"

    [[targets.add]]
    id = "pharmacy_10"
    name_zh = "10分钟药店服务圈"
    name_en = "Pharmacy within 10 minutes"
    kind = "circle"
    categories = ["pharmacy"]
    max_time_min = 10
    threshold = 0.9
    source = "local plan"
    clause = "10分钟可达药店"
    confidence = "M"

:func:`evaluate_targets` applies the targets to a :class:`TargetInputs` (cells
with distances and population, facilities, units) and returns a
:class:`TargetResults`: one verdict per target (met / not met / no data, with
the reason), per-unit results, per-cell flags and the gap areas (uncovered
residents grouped around the places where one new facility would serve most).

The package is split by concern:

- :mod:`access.targets.model` — one frozen dataclass per kind of target
  (:class:`CircleTarget`, :class:`CompletenessTarget`, :class:`UnitCountTarget`,
  :class:`UnitShareTarget`, :class:`ProvisionTarget`,
  :class:`CapacityShareTarget`, :class:`FcaTarget`), all :class:`Target`;
- :mod:`access.targets.catalogue` — reading the catalogue, profiles and
  overrides into typed targets, reporting every problem found;
- :mod:`access.targets.context` — the engine's inputs, results and per-run context;
- :mod:`access.targets.evaluators` — one evaluator per kind;
- :mod:`access.targets.gaps` — gap areas: what one new facility within the reach would serve;
- :mod:`access.targets.engine` — :func:`evaluate_targets` and :func:`apply_settlement`;
- :mod:`access.targets.render` — the terminal summary.
"""

from access.targets.catalogue import CATALOGUE_DIR, PROFILES, CatalogueError, load_catalogue
from access.targets.context import TargetInputs, TargetResults
from access.targets.engine import apply_settlement, evaluate_targets, prepare_targets
from access.targets.model import (
    CATEGORY_KEYS,
    GROUPS,
    KINDS,
    SETTLEMENTS,
    TARGET_MODES,
    TIERS,
    UNIT_LABELS,
    CapacityShareTarget,
    CircleTarget,
    CompletenessTarget,
    FcaTarget,
    ProvisionTarget,
    Requirement,
    RoutedTarget,
    Target,
    UnitCountTarget,
    UnitRuleTarget,
    UnitShareTarget,
)
from access.targets.render import format_summary

__all__ = [
    "CATALOGUE_DIR",
    "CATEGORY_KEYS",
    "GROUPS",
    "KINDS",
    "PROFILES",
    "SETTLEMENTS",
    "TARGET_MODES",
    "TIERS",
    "UNIT_LABELS",
    "CapacityShareTarget",
    "CatalogueError",
    "CircleTarget",
    "CompletenessTarget",
    "FcaTarget",
    "ProvisionTarget",
    "Requirement",
    "RoutedTarget",
    "Target",
    "TargetInputs",
    "TargetResults",
    "UnitCountTarget",
    "UnitRuleTarget",
    "UnitShareTarget",
    "apply_settlement",
    "evaluate_targets",
    "format_summary",
    "load_catalogue",
    "prepare_targets",
]
