"""The product's shared vocabulary: population groups, facility category keys and
the GB 50180-2018 life-circle levels, each stated once.

Every layer reads them from here: the loaders (:mod:`gridded_pop`,
:mod:`facilities`), the targets engine and the application. The facility
taxonomy (``facilities/taxonomy.toml``) attaches names and matching rules to
exactly the keys of :data:`CATEGORY_KEYS`; the life-circle levels come from
``catalogue/gb50180.toml``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from access.errors import UnknownKeyError, suggest

__all__ = ["CATEGORY_KEYS", "GROUPS", "GroupKey", "LifeCircleLevel", "category_levels",
           "check_group", "life_circle_levels"]

#: A population group key, the keys of :data:`GROUPS` in their order (for typed models).
GroupKey = Literal["total", "age_60_plus", "age_0_2", "age_3_5"]

#: Population group key -> (name_zh, name_en). Cells carry ``pop_<group>``.
GROUPS: dict[str, tuple[str, str]] = {
    "total": ("常住人口", "total population"),
    "age_60_plus": ("60岁及以上人口", "people aged 60 and over"),
    "age_0_2": ("3岁以下婴幼儿（0–2岁）", "children under 3 (aged 0-2)"),
    "age_3_5": ("3–5岁幼儿", "children aged 3-5"),
}

#: Facility category keys shared by the whole product (targets refer to them; the
#: taxonomy gives each its names and matching rules; a study area may add more).
CATEGORY_KEYS: tuple[str, ...] = (
    "kindergarten", "nursery", "primary_school", "junior_middle_school",
    "community_health_centre", "community_health_station", "township_health_centre",
    "village_clinic", "clinic", "hospital", "emergency_station", "eldercare_institution",
    "eldercare_service_centre", "eldercare_daycare", "fitness_site", "sports_centre",
    "sports_ground", "park", "culture_centre", "culture_station", "library",
    "convenience_store", "fresh_market", "community_service_station", "pharmacy",
)

_GB50180 = Path(__file__).resolve().parent / "catalogue" / "gb50180.toml"


def check_group(group: str, *, path: str | Path | None = None, key: str = "group") -> str:
    """Return ``group`` if it is a known group key, else raise.

    Raises
    ------
    UnknownKeyError
        The key is not in :data:`GROUPS`; the message suggests the closest one.
    """
    if group not in GROUPS:
        raise UnknownKeyError(
            f"unknown population group '{group}'{suggest(group, GROUPS)}; valid groups: "
            + ", ".join(GROUPS), path=path, key=key)
    return group


@dataclass(frozen=True)
class LifeCircleLevel:
    """One GB 50180-2018 life-circle level.

    Attributes
    ----------
    key
        ``"5min"``, ``"10min"`` or ``"15min"``.
    minutes
        The level's walking time.
    max_dist_m
        Walking reach of the level's facilities.
    pop_min, pop_max
        Residents one life circle of this level serves.
    name_zh, name_en
        Names shown to users.
    lower
        Key of the next lower level ("" for the lowest): levels do not nest.
    categories
        Facility categories the level requires.
    min_area_m2
        ``(category, m²)`` pairs: a facility of the category with a known area
        counts at this level only from that area up (sports grounds by size).
    """

    key: str
    minutes: int
    max_dist_m: float
    pop_min: float
    pop_max: float
    name_zh: str
    name_en: str
    lower: str
    categories: tuple[str, ...]
    min_area_m2: tuple[tuple[str, float], ...] = ()


@cache
def life_circle_levels() -> dict[str, LifeCircleLevel]:
    """The GB 50180-2018 levels by key, lowest first."""
    with _GB50180.open("rb") as fh:
        data = tomllib.load(fh)
    levels = {k: LifeCircleLevel(key=k, minutes=int(v["minutes"]),
                                 max_dist_m=float(v["max_dist_m"]),
                                 pop_min=float(v["pop_min"]), pop_max=float(v["pop_max"]),
                                 name_zh=v["name_zh"], name_en=v["name_en"],
                                 lower=v["lower"], categories=tuple(v["categories"]),
                                 min_area_m2=tuple((c, float(a)) for c, a in
                                                   v.get("min_area_m2", {}).items()))
              for k, v in data["level"].items()}
    return dict(sorted(levels.items(), key=lambda kv: kv[1].minutes))


def category_levels() -> dict[str, tuple[int, ...]]:
    """Category -> the levels (in minutes, ascending) at which GB 50180 lists it."""
    out: dict[str, list[int]] = {}
    for lv in life_circle_levels().values():
        for c in lv.categories:
            out.setdefault(c, []).append(lv.minutes)
    return {c: tuple(sorted(m)) for c, m in out.items()}
