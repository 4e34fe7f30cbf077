"""Target types: one frozen dataclass per kind of target.

Every target shares the fields of :class:`Target` (identity, threshold, sources,
notes); each kind adds only the fields it uses, so a circle has a reach and a
mode but no ``min_count``, a unit rule has unit levels but no reach. The
``kind`` class attribute names the kind as the catalogue writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from access import vocabulary
from access.settlement import SETTLEMENTS

__all__ = [
    "CATEGORY_KEYS",
    "GROUPS",
    "KINDS",
    "SETTLEMENTS",
    "TARGET_MODES",
    "TIERS",
    "UNIT_LABELS",
    "CapacityShareTarget",
    "CircleTarget",
    "CompletenessTarget",
    "FcaTarget",
    "ProvisionTarget",
    "Requirement",
    "RoutedTarget",
    "Target",
    "UnitCountTarget",
    "UnitRuleTarget",
    "UnitShareTarget",
]

#: Population groups (columns ``pop_<group>`` of the cells), from the shared vocabulary.
GROUPS = tuple(vocabulary.GROUPS)

#: Facility category keys shared by the whole product (from the shared vocabulary).
CATEGORY_KEYS = vocabulary.CATEGORY_KEYS

#: Labels of the value units, (zh, en).
UNIT_LABELS: dict[str, tuple[str, str]] = {
    "share": ("比例", "share"),
    "per_1000": ("每千人", "per 1000"),
    "m2_per_person": ("平方米/人", "m²/person"),
}

#: Scorecard groups of targets.
TIERS = ("plan", "standard", "advisory")

#: Reach per settlement class: ``(settlement, value)`` pairs.
Reach = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Requirement:
    """One facility type a life-circle level requires, with its own reach.

    Exactly one of ``max_dist_m`` and ``max_time_min`` is set. ``min_area_m2``
    (0: any) counts only facilities of at least that area, or of unknown area.
    """

    category: str
    level: str
    max_dist_m: float | None = None
    max_time_min: float | None = None
    min_area_m2: float = 0.0

    @property
    def label(self) -> str:
        """The category, with its minimum area when it has one."""
        return f"{self.category}>={self.min_area_m2:g}m2" if self.min_area_m2 else self.category


@dataclass(frozen=True, kw_only=True)
class Target:
    """Fields every target has.

    Attributes
    ----------
    id, name_zh, name_en
        Identifier and names.
    threshold, comparison
        Target value and how the measured value compares (``>=`` or ``<=``).
    categories
        Facility category keys the target counts.
    group
        Population group the target is about (``total``, ``age_60_plus`` ...).
    source, source_text
        Source keys (or free texts) and their readable rendering.
    clause
        The plan's own words.
    confidence
        ``V`` read in the plan or standard, ``S`` secondary source, ``M``
        commonly cited but not confirmed.
    note_zh, note_en
        Caveats reported with the result.
    tier
        Scorecard group: ``plan`` (stated in a plan, with its clause),
        ``standard`` (a national standard's threshold) or ``advisory`` (commonly
        cited, not found in the plans' text; shown apart from the verdicts).
    """

    kind: ClassVar[str] = ""

    id: str
    name_zh: str
    name_en: str
    threshold: float
    comparison: str = ">="
    categories: tuple[str, ...] = ()
    group: str = "total"
    source: tuple[str, ...] = ()
    source_text: str = ""
    clause: str = ""
    confidence: str = "M"
    note_zh: str = ""
    note_en: str = ""
    tier: str = "plan"

    @property
    def unit(self) -> str:
        """Unit of the measured value: ``share``, ``per_1000``, ``m2_per_person`` ..."""
        return "share"

    @property
    def scope_text(self) -> str:
        """Scope as written in the results table, e.g. ``urban+town`` or a unit level."""
        return "+".join(getattr(self, "scope", SETTLEMENTS))


#: Travel modes a target can name (:mod:`access.modes`).
TARGET_MODES = ("walk", "ebike", "drive")


@dataclass(frozen=True, kw_only=True)
class RoutedTarget(Target):
    """A target measured by travel from each cell: a scope, a reach and a mode.

    ``modes`` holds ``(settlement, mode)`` pairs, one per settlement class:
    ``health_15`` is walked in urban units and ridden by e-bike in towns and
    villages. ``max_time_min`` or ``max_dist_m`` (exactly one) holds the reach
    per settlement class; e-bike and car reaches are always in minutes.
    """

    scope: tuple[str, ...] = SETTLEMENTS
    modes: tuple[tuple[str, str], ...] = tuple((s, "walk") for s in SETTLEMENTS)
    max_time_min: Reach | None = None
    max_dist_m: Reach | None = None

    @property
    def mode(self) -> str:
        """The mode, or ``urban:walk;town:ebike;...`` when it differs by settlement."""
        used = [(s, m) for s, m in self.modes if s in self.scope]
        if len({m for _, m in used}) == 1:
            return used[0][1]
        return ";".join(f"{s}:{m}" for s, m in used)

    def mode_of(self, settlement: str) -> str:
        """Mode used in one settlement class."""
        return dict(self.modes).get(settlement, "walk")

    @property
    def modes_used(self) -> tuple[str, ...]:
        """Distinct modes over the scope, in :data:`TARGET_MODES` order."""
        used = {m for s, m in self.modes if s in self.scope}
        return tuple(m for m in TARGET_MODES if m in used)


@dataclass(frozen=True, kw_only=True)
class CircleTarget(RoutedTarget):
    """Share of the residents in scope within a reach of any of the categories.

    ``radius_by_area`` gives larger facilities a larger radius
    (``(min_area_m2, radius_m)`` pairs, ascending; walking only).
    """

    kind: ClassVar[str] = "circle"

    radius_by_area: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, kw_only=True)
class CompletenessTarget(Target):
    """Share of the residents in scope who reach every type a life-circle level requires."""

    kind: ClassVar[str] = "completeness"

    scope: tuple[str, ...] = SETTLEMENTS
    level: str = ""
    requirements: tuple[Requirement, ...] = ()


@dataclass(frozen=True, kw_only=True)
class UnitRuleTarget(Target):
    """Units (townships, villages ...) holding at least ``min_count`` facilities.

    ``min_count_rules`` raise the count where a unit's population is large:
    ``(group, min_pop, min_count)`` triples. ``ownership`` restricts the
    facilities counted (``public``, ``private``, ``inclusive``). ``reach_m``
    (optional) accepts, for a unit short of its own facilities, one within that
    network distance instead: the mean distance of the unit's residents to the
    nearest facility of the categories (a village clinic shared with a
    neighbouring village).
    """

    unit_levels: tuple[str, ...] = ()
    min_count: int = 1
    min_count_rules: tuple[tuple[str, float, int], ...] = ()
    ownership: tuple[str, ...] = ()
    reach_m: float | None = None

    @property
    def scope_text(self) -> str:
        return "+".join(self.unit_levels)


@dataclass(frozen=True, kw_only=True)
class UnitCountTarget(UnitRuleTarget):
    """Every unit of the levels holds the facilities (the threshold is usually 1.0)."""

    kind: ClassVar[str] = "unit_count"


@dataclass(frozen=True, kw_only=True)
class UnitShareTarget(UnitRuleTarget):
    """A share of the units of the levels holds the facilities."""

    kind: ClassVar[str] = "unit_share"


@dataclass(frozen=True, kw_only=True)
class ProvisionTarget(Target):
    """Capacity (beds, places, m²) per ``per_persons`` residents of the group."""

    kind: ClassVar[str] = "provision"

    capacity_field: str = "capacity"
    per_persons: float = 1000.0
    unit_levels: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        if self.capacity_field == "area_m2" and self.per_persons == 1:
            return "m2_per_person"
        if self.per_persons == 1000:
            return "per_1000"
        return f"per_{self.per_persons:g}"

    @property
    def scope_text(self) -> str:
        return "study_area"


@dataclass(frozen=True, kw_only=True)
class CapacityShareTarget(Target):
    """Share of the capacity held by facilities of the given ownership."""

    kind: ClassVar[str] = "capacity_share"

    ownership: tuple[str, ...] = ()
    capacity_field: str = "capacity"

    @property
    def scope_text(self) -> str:
        return "study_area"


@dataclass(frozen=True, kw_only=True)
class FcaTarget(RoutedTarget):
    """Share of the residents in scope whose 2SFCA supply ratio reaches ``ratio_threshold``."""

    kind: ClassVar[str] = "fca"

    capacity_field: str = "capacity"
    per_persons: float = 1000.0
    ratio_threshold: float = 0.0
    kernel: str = "uniform"


#: Kind name -> target type.
TYPES: dict[str, type[Target]] = {t.kind: t for t in (
    CircleTarget, CompletenessTarget, UnitCountTarget, UnitShareTarget, ProvisionTarget,
    CapacityShareTarget, FcaTarget)}

#: Kinds of target the engine evaluates.
KINDS = tuple(TYPES)
