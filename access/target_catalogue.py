"""The target catalogue: plan targets as data, plan profiles and study-area overrides.

``access/catalogue/targets.toml`` lists every target of the Kaifeng, Zhengzhou, Xinxiang
and Lankao plans and the GB 50180-2018 life-circle thresholds; ``<profile>.toml`` selects
the targets one plan states, with its own numbers. :func:`load_catalogue` reads them and
applies a study-area file's ``[targets]`` table (see :mod:`access.targets` for the keys).
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from access.config import check_keys, get_typed
from access.errors import ConfigError, UnknownKeyError, suggest

__all__ = ["CATALOGUE_DIR", "CATEGORY_KEYS", "GROUPS", "KINDS", "PROFILES", "SETTLEMENTS",
           "UNIT_LABELS", "Requirement", "Target", "load_catalogue"]

log = logging.getLogger(__name__)

#: Folder of the shipped catalogue and plan profiles.
CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"

#: Plan profiles shipped with the product.
PROFILES = ("kaifeng", "zhengzhou", "xinxiang", "lankao")

#: Kinds of target the engine evaluates.
KINDS = ("circle", "completeness", "unit_count", "unit_share", "provision", "capacity_share",
         "fca")

#: Settlement classes a target's scope is made of.
SETTLEMENTS = ("urban", "town", "village")

#: Population groups (columns ``pop_<group>`` of the cells).
GROUPS = ("total", "age_60_plus", "age_0_2", "age_3_5")

#: Facility category keys shared by the whole product.
CATEGORY_KEYS = (
    "kindergarten", "nursery", "primary_school", "junior_middle_school",
    "community_health_centre", "community_health_station", "township_health_centre",
    "village_clinic", "clinic", "hospital", "emergency_station", "eldercare_institution",
    "eldercare_service_centre", "eldercare_daycare", "fitness_site", "sports_centre",
    "sports_ground", "park", "culture_centre", "culture_station", "library",
    "convenience_store", "fresh_market", "community_service_station", "pharmacy",
)

_UNIT_KINDS = ("unit_count", "unit_share")
_REACH_KINDS = ("circle", "fca")
_TARGET_FIELDS = (
    "id", "name_zh", "name_en", "kind", "categories", "threshold", "comparison", "mode",
    "max_time_min", "max_dist_m", "radius_by_area", "group", "scope", "level", "unit_levels",
    "min_count", "min_count_rules", "ownership", "capacity_field", "per_persons",
    "ratio_threshold", "kernel", "source", "clause", "confidence", "note_zh", "note_en",
)
_OVERRIDE_KEYS = ("profile", "drop", "thresholds", "modify", "add", "settlement",
                  "extra_categories")
_PROFILE_KEYS = ("name_zh", "name_en", "targets", "thresholds", "modify")
_SETTLEMENT_KEYS = ("level", "default", *SETTLEMENTS)
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_TOL = 1e-9

#: Labels of the value units, (zh, en).
UNIT_LABELS: dict[str, tuple[str, str]] = {
    "share": ("比例", "share"),
    "per_1000": ("每千人", "per 1000"),
    "m2_per_person": ("平方米/人", "m²/person"),
}


# ---------------------------------------------------------------------------
# Catalogue objects
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Requirement:
    """One facility type a life-circle level requires, with its own reach.

    Exactly one of ``max_dist_m`` and ``max_time_min`` is set.
    """

    category: str
    level: str
    max_dist_m: float | None = None
    max_time_min: float | None = None


@dataclass(frozen=True)
class Target:
    """One target of the catalogue, validated.

    Reach fields (``max_time_min``, ``max_dist_m``) hold ``(settlement, value)``
    pairs, one per settlement class; a single number in the catalogue applies to
    every class. ``source`` holds the source keys or texts, ``source_text`` the
    readable rendering.
    """

    id: str
    name_zh: str
    name_en: str
    kind: str
    threshold: float
    comparison: str = ">="
    categories: tuple[str, ...] = ()
    mode: str = "walk"
    max_time_min: tuple[tuple[str, float], ...] | None = None
    max_dist_m: tuple[tuple[str, float], ...] | None = None
    radius_by_area: tuple[tuple[float, float], ...] = ()
    group: str = "total"
    scope: tuple[str, ...] = SETTLEMENTS
    level: str | None = None
    requirements: tuple[Requirement, ...] = ()
    unit_levels: tuple[str, ...] = ()
    min_count: int = 1
    min_count_rules: tuple[tuple[str, float, int], ...] = ()
    ownership: tuple[str, ...] = ()
    capacity_field: str = "capacity"
    per_persons: float = 1000.0
    ratio_threshold: float | None = None
    kernel: str = "uniform"
    source: tuple[str, ...] = ()
    source_text: str = ""
    clause: str = ""
    confidence: str = "M"
    note_zh: str = ""
    note_en: str = ""

    @property
    def unit(self) -> str:
        """Unit of the measured value: ``share``, ``per_1000``, ``m2_per_person`` ..."""
        if self.kind != "provision":
            return "share"
        if self.capacity_field == "area_m2" and self.per_persons == 1:
            return "m2_per_person"
        if self.per_persons == 1000:
            return "per_1000"
        return f"per_{self.per_persons:g}"

    @property
    def scope_text(self) -> str:
        """Scope as written in the results table, e.g. ``urban+town`` or a unit level."""
        if self.kind in _UNIT_KINDS:
            return "+".join(self.unit_levels)
        if self.kind in ("provision", "capacity_share"):
            return "study_area"
        return "+".join(self.scope)


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------
def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from None


def _as_str_list(value: Any, *, where: str, key: str, path: Path | None) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"expected a list of strings, got {value!r}", path=path,
                          key=f"{where}.{key}")
    return list(value)


def _number(value: Any, *, where: str, key: str, path: Path | None,
            positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"expected a number, got {value!r}", path=path, key=f"{where}.{key}")
    if positive and not value > 0:
        raise ConfigError(f"must be positive, got {value!r}", path=path, key=f"{where}.{key}")
    return float(value)


def _choice(value: Any, choices: Iterable[str], *, where: str, key: str,
            path: Path | None) -> str:
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"invalid value {value!r}{suggest(str(value), choices)}; "
                          f"valid: {', '.join(choices)}", path=path, key=f"{where}.{key}")
    return value


def _reach(value: Any, *, where: str, key: str, path: Path | None,
           ) -> tuple[tuple[str, float], ...] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        check_keys(value, SETTLEMENTS, where=f"{where}.{key}", path=path)
        return tuple((s, _number(value[s], where=f"{where}.{key}", key=s, path=path,
                                 positive=True)) for s in SETTLEMENTS if s in value)
    v = _number(value, where=where, key=key, path=path, positive=True)
    return tuple((s, v) for s in SETTLEMENTS)


def _render_sources(keys: Iterable[str], sources: Mapping[str, Mapping[str, str]]) -> str:
    parts = []
    for k in keys:
        if k in sources:
            parts.append(f"{sources[k]['zh']} / {sources[k]['en']} [{k}]")
        else:
            parts.append(k)
    return "; ".join(parts)


def _requirements(level: str, life_circle: Mapping[str, Any], *, where: str,
                  path: Path | None) -> tuple[Requirement, ...]:
    """The level's own types and every lower level's, strictest reach per type."""
    by_cat: dict[str, Requirement] = {}
    seen: set[str] = set()
    current = level
    while current:
        if current in seen:
            raise ConfigError(f"life-circle levels loop at {current!r}", path=path,
                              key=f"life_circle.{current}")
        seen.add(current)
        spec = life_circle[current]
        for cat in spec["categories"]:
            # walking down the levels, a lower level's reach replaces a higher one's:
            # a type listed at several levels must be within the lowest level's reach
            by_cat[cat] = Requirement(cat, current, spec.get("max_dist_m"),
                                      spec.get("max_time_min"))
        current = spec.get("lower", "")
    return tuple(by_cat.values())


def _parse_life_circle(table: Any, *, path: Path) -> dict[str, dict[str, Any]]:
    if not isinstance(table, Mapping) or not table:
        raise ConfigError("missing [life_circle] levels", path=path, key="life_circle")
    out = {}
    for name, spec in table.items():
        where = f"life_circle.{name}"
        check_keys(spec, ("max_dist_m", "max_time_min", "lower", "categories"), where=where,
                   path=path)
        if ("max_dist_m" in spec) == ("max_time_min" in spec):
            raise ConfigError("give exactly one of max_dist_m and max_time_min", path=path,
                              key=where)
        lower = get_typed(spec, "lower", str, where=where, path=path, default="")
        cats = _as_str_list(get_typed(spec, "categories", list, where=where, path=path),
                            where=where, key="categories", path=path)
        for cat in cats:
            _choice(cat, CATEGORY_KEYS, where=where, key="categories", path=path)
        out[name] = {
            "categories": cats, "lower": lower,
            "max_dist_m": _number(spec["max_dist_m"], where=where, key="max_dist_m", path=path,
                                  positive=True) if "max_dist_m" in spec else None,
            "max_time_min": _number(spec["max_time_min"], where=where, key="max_time_min",
                                    path=path, positive=True) if "max_time_min" in spec else None,
        }
    for name, spec in out.items():
        if spec["lower"] and spec["lower"] not in out:
            raise ConfigError(f"unknown lower level {spec['lower']!r}"
                              f"{suggest(spec['lower'], out)}", path=path,
                              key=f"life_circle.{name}.lower")
    return out


def _parse_target(raw: Mapping[str, Any], *, where: str, path: Path | None,
                  sources: Mapping[str, Mapping[str, str]],
                  life_circle: Mapping[str, Any], categories: tuple[str, ...]) -> Target:
    """Validate one raw target table and build a :class:`Target`."""
    check_keys(raw, _TARGET_FIELDS, where=where, path=path)

    def text(key: str, default: Any = ...) -> str:
        return get_typed(raw, key, str, where=where, path=path, default=default)

    tid = text("id")
    if not _ID_RE.match(tid):
        raise ConfigError(f"target id {tid!r} must be lower-case letters, digits and '_'",
                          path=path, key=f"{where}.id")
    kind = _choice(text("kind"), KINDS, where=where, key="kind", path=path)
    kw: dict[str, Any] = {
        "id": tid, "kind": kind, "name_zh": text("name_zh"), "name_en": text("name_en"),
        "threshold": _number(raw.get("threshold"), where=where, key="threshold", path=path),
        "comparison": _choice(raw.get("comparison", ">="), (">=", "<="), where=where,
                              key="comparison", path=path),
        "clause": text("clause", ""), "note_zh": text("note_zh", ""),
        "note_en": text("note_en", ""),
        "confidence": _choice(raw.get("confidence", "M"), ("V", "S", "M"), where=where,
                              key="confidence", path=path),
        "group": _choice(raw.get("group", "total"), GROUPS, where=where, key="group",
                         path=path),
    }
    src = _as_str_list(raw.get("source", []), where=where, key="source", path=path)
    if not src:
        raise ConfigError("every target needs a source", path=path, key=f"{where}.source")
    kw["source"] = tuple(src)
    kw["source_text"] = _render_sources(src, sources)
    cats = _as_str_list(raw.get("categories", []), where=where, key="categories", path=path)
    for cat in cats:
        _choice(cat, categories, where=where, key="categories", path=path)
    if kind != "completeness" and not cats:
        raise ConfigError("needs at least one facility category", path=path,
                          key=f"{where}.categories")
    kw["categories"] = tuple(cats)
    scope = _as_str_list(raw.get("scope", list(SETTLEMENTS)), where=where, key="scope",
                         path=path)
    for s in scope:
        _choice(s, SETTLEMENTS, where=where, key="scope", path=path)
    if not scope:
        raise ConfigError("scope must not be empty", path=path, key=f"{where}.scope")
    kw["scope"] = tuple(s for s in SETTLEMENTS if s in scope)
    kw["mode"] = _choice(raw.get("mode", "walk"), ("walk", "drive"), where=where, key="mode",
                         path=path)

    if kind in _REACH_KINDS:
        t = _reach(raw.get("max_time_min"), where=where, key="max_time_min", path=path)
        d = _reach(raw.get("max_dist_m"), where=where, key="max_dist_m", path=path)
        if (t is None) == (d is None):
            raise ConfigError("give exactly one of max_time_min and max_dist_m", path=path,
                              key=f"{where}.max_time_min")
        if kw["mode"] == "drive" and t is None:
            raise ConfigError("a drive target needs max_time_min", path=path,
                              key=f"{where}.max_time_min")
        reach = t if t is not None else d
        missing = [s for s in kw["scope"] if s not in dict(reach)]
        if missing:
            raise ConfigError(f"no reach given for scope {missing}", path=path,
                              key=f"{where}.{'max_time_min' if t else 'max_dist_m'}")
        if kind == "fca" and len({v for _, v in reach}) != 1:
            raise ConfigError("a 2SFCA catchment needs one reach for every settlement",
                              path=path, key=f"{where}.max_time_min")
        kw["max_time_min"], kw["max_dist_m"] = t, d
        rba = raw.get("radius_by_area", [])
        if not isinstance(rba, list) or not all(
                isinstance(p, list) and len(p) == 2 for p in rba):
            raise ConfigError("expected a list of [min_area_m2, radius_m] pairs", path=path,
                              key=f"{where}.radius_by_area")
        kw["radius_by_area"] = tuple(sorted(
            (_number(a, where=where, key="radius_by_area", path=path),
             _number(r, where=where, key="radius_by_area", path=path, positive=True))
            for a, r in rba))
    else:
        for key in ("max_time_min", "max_dist_m", "radius_by_area"):
            if key in raw:
                raise ConfigError(f"not used by kind '{kind}'", path=path, key=f"{where}.{key}")

    if kind == "completeness":
        level = _choice(raw.get("level"), life_circle, where=where, key="level", path=path)
        kw["level"] = level
        kw["requirements"] = _requirements(level, life_circle, where=where, path=path)
        kw["categories"] = tuple(r.category for r in kw["requirements"])

    if kind in _UNIT_KINDS or kind == "provision":
        levels = _as_str_list(raw.get("unit_levels", []), where=where, key="unit_levels",
                              path=path)
        if kind in _UNIT_KINDS and not levels:
            raise ConfigError("needs unit_levels", path=path, key=f"{where}.unit_levels")
        kw["unit_levels"] = tuple(levels)
    if kind in _UNIT_KINDS:
        mc = raw.get("min_count", 1)
        if isinstance(mc, bool) or not isinstance(mc, int) or mc < 0:
            raise ConfigError(f"expected a non-negative integer, got {mc!r}", path=path,
                              key=f"{where}.min_count")
        kw["min_count"] = mc
        rules = raw.get("min_count_rules", [])
        if not isinstance(rules, list):
            raise ConfigError("expected a list of tables", path=path,
                              key=f"{where}.min_count_rules")
        parsed = []
        for i, rule in enumerate(rules, start=1):
            rw = f"{where}.min_count_rules[{i}]"
            if not isinstance(rule, Mapping):
                raise ConfigError("expected a table", path=path, key=rw)
            check_keys(rule, ("group", "min_pop", "min_count"), where=rw, path=path)
            g = _choice(rule.get("group", "total"), GROUPS, where=rw, key="group", path=path)
            n = rule.get("min_count")
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ConfigError(f"expected a non-negative integer, got {n!r}", path=path,
                                  key=f"{rw}.min_count")
            parsed.append((g, _number(rule.get("min_pop"), where=rw, key="min_pop",
                                      path=path), n))
        kw["min_count_rules"] = tuple(parsed)
    if kind in ("unit_count", "unit_share", "capacity_share"):
        own = _as_str_list(raw.get("ownership", []), where=where, key="ownership", path=path)
        for o in own:
            _choice(o, ("public", "private", "inclusive"), where=where, key="ownership",
                    path=path)
        if kind == "capacity_share" and not own:
            raise ConfigError("needs ownership", path=path, key=f"{where}.ownership")
        kw["ownership"] = tuple(own)
    if kind in ("provision", "capacity_share", "fca"):
        kw["capacity_field"] = _choice(raw.get("capacity_field", "capacity"),
                                       ("capacity", "area_m2"), where=where,
                                       key="capacity_field", path=path)
    if kind in ("provision", "fca"):
        kw["per_persons"] = _number(raw.get("per_persons", 1000), where=where,
                                    key="per_persons", path=path, positive=True)
    if kind == "fca":
        kw["ratio_threshold"] = _number(raw.get("ratio_threshold"), where=where,
                                        key="ratio_threshold", path=path)
        kw["kernel"] = _choice(raw.get("kernel", "uniform"), ("uniform", "gaussian"),
                               where=where, key="kernel", path=path)
    allowed_by_kind = {
        "unit_levels": ("provision", *_UNIT_KINDS), "min_count": _UNIT_KINDS,
        "min_count_rules": _UNIT_KINDS, "ownership": ("capacity_share", *_UNIT_KINDS),
        "capacity_field": ("provision", "capacity_share", "fca"),
        "per_persons": ("provision", "fca"), "ratio_threshold": ("fca",),
        "kernel": ("fca",), "level": ("completeness",),
    }
    for key, kinds in allowed_by_kind.items():
        if key in raw and kind not in kinds:
            raise ConfigError(f"not used by kind '{kind}'", path=path, key=f"{where}.{key}")
    return Target(**kw)


def _resolve_profile(profile: str, *, base_dir: Path | None, path: Path | None) -> Path:
    if profile in PROFILES:
        return CATALOGUE_DIR / f"{profile}.toml"
    if profile.endswith(".toml"):
        p = Path(profile)
        if not p.is_absolute():
            p = (base_dir or Path.cwd()) / p
        if not p.exists():
            raise ConfigError(f"profile file not found: {p}", path=path, key="targets.profile")
        return p
    raise ConfigError(f"unknown profile {profile!r}{suggest(profile, PROFILES)}; shipped "
                      f"profiles: {', '.join(PROFILES)} (or give a .toml path)", path=path,
                      key="targets.profile")


def _apply_modify(raws: dict[str, dict[str, Any]], table: Any, *, where: str,
                  path: Path | None) -> None:
    if not isinstance(table, Mapping):
        raise ConfigError("expected a table of target ids", path=path, key=where)
    for tid, fields in table.items():
        if tid not in raws:
            raise UnknownKeyError(f"unknown target id{suggest(tid, raws)}", path=path,
                                  key=f"{where}.{tid}")
        if not isinstance(fields, Mapping):
            raise ConfigError("expected a table of target fields", path=path,
                              key=f"{where}.{tid}")
        check_keys(fields, [f for f in _TARGET_FIELDS if f != "id"], where=f"{where}.{tid}",
                   path=path)
        if "max_dist_m" in fields and "max_time_min" not in fields:
            raws[tid].pop("max_time_min", None)  # switching a reach from minutes to metres
        if "max_time_min" in fields and "max_dist_m" not in fields:
            raws[tid].pop("max_dist_m", None)
        raws[tid].update(fields)


def _apply_thresholds(raws: dict[str, dict[str, Any]], table: Any, *, where: str,
                      path: Path | None) -> None:
    if not isinstance(table, Mapping):
        raise ConfigError("expected a table: target id = threshold", path=path, key=where)
    for tid, value in table.items():
        if tid not in raws:
            raise UnknownKeyError(f"unknown target id{suggest(tid, raws)}", path=path,
                                  key=f"{where}.{tid}")
        raws[tid]["threshold"] = _number(value, where=where, key=tid, path=path)


def _check_settlement_table(table: Any, *, path: Path | None) -> None:
    if not isinstance(table, Mapping):
        raise ConfigError("expected a table", path=path, key="targets.settlement")
    check_keys(table, _SETTLEMENT_KEYS, where="targets.settlement", path=path)
    get_typed(table, "level", str, where="targets.settlement", path=path)
    if "default" in table:
        _choice(table["default"], SETTLEMENTS, where="targets.settlement", key="default",
                path=path)
    seen: dict[str, str] = {}
    for s in SETTLEMENTS:
        for uid in _as_str_list(table.get(s, []), where="targets.settlement", key=s, path=path):
            if uid in seen and seen[uid] != s:
                raise ConfigError(f"unit {uid!r} is both {seen[uid]} and {s}", path=path,
                                  key=f"targets.settlement.{s}")
            seen[uid] = s


def load_catalogue(*, profile: str | None = None, overrides: Mapping[str, Any] | None = None,
                   base_dir: Path | None = None, path: Path | None = None,
                   config_path: Path | None = None) -> list[Target]:
    """Load the target catalogue, apply a plan profile and a study area's overrides.

    Parameters
    ----------
    profile
        Shipped profile name (``kaifeng``, ``zhengzhou``, ``xinxiang``,
        ``lankao``) or a path to a profile file. Without a profile every
        catalogue target is returned. The ``profile`` key of ``overrides`` is
        used when this is None.
    overrides
        The study-area file's ``[targets]`` table: ``profile``, ``drop``,
        ``thresholds``, ``modify``, ``add``, ``settlement``, ``extra_categories``.
        Keys are checked strictly.
    base_dir
        Folder of the study-area file, for relative profile paths.
    path
        Catalogue file to use instead of the shipped ``targets.toml``.
    config_path
        The study-area file, named in error messages.

    Returns
    -------
    list of Target
        In catalogue order, then added targets.

    Raises
    ------
    UnknownKeyError
        For an unknown key, target id or profile field (with a suggestion).
    ConfigError
        For any invalid value.
    """
    cat_path = Path(path) if path is not None else CATALOGUE_DIR / "targets.toml"
    data = _read_toml(cat_path)
    check_keys(data, ("schema_version", "sources", "life_circle", "target"), where="catalogue",
               path=cat_path)
    sources = data.get("sources", {})
    for key, entry in sources.items():
        check_keys(entry, ("zh", "en"), where=f"sources.{key}", path=cat_path)
    life_circle = _parse_life_circle(data.get("life_circle"), path=cat_path)
    raws: dict[str, dict[str, Any]] = {}
    origin: dict[str, tuple[str, Path | None]] = {}
    for i, entry in enumerate(data.get("target", []), start=1):
        tid = entry.get("id")
        if not isinstance(tid, str):
            raise ConfigError("missing id", path=cat_path, key=f"target[{i}].id")
        if tid in raws:
            raise ConfigError(f"duplicate target id {tid!r}", path=cat_path,
                              key=f"target[{i}].id")
        raws[tid] = dict(entry)
        origin[tid] = (f"target[{i}]", cat_path)

    ov = dict(overrides or {})
    check_keys(ov, _OVERRIDE_KEYS, where="targets", path=config_path)
    extra = _as_str_list(ov.get("extra_categories", []), where="targets",
                         key="extra_categories", path=config_path)
    categories = CATEGORY_KEYS + tuple(c for c in extra if c not in CATEGORY_KEYS)
    if "settlement" in ov:
        _check_settlement_table(ov["settlement"], path=config_path)

    prof = profile if profile is not None else ov.get("profile")
    if profile is not None and "profile" in ov and ov["profile"] != profile:
        raise ConfigError(f"profile {profile!r} given twice with different values "
                          f"({ov['profile']!r} in the study-area file)", path=config_path,
                          key="targets.profile")
    selected = list(raws)
    if prof is not None:
        if not isinstance(prof, str):
            raise ConfigError(f"expected a string, got {prof!r}", path=config_path,
                              key="targets.profile")
        ppath = _resolve_profile(prof, base_dir=base_dir, path=config_path)
        pdata = _read_toml(ppath)
        check_keys(pdata, _PROFILE_KEYS, where="profile", path=ppath)
        selected = _as_str_list(pdata.get("targets", []), where="profile", key="targets",
                                path=ppath)
        for tid in selected:
            if tid not in raws:
                raise UnknownKeyError(f"unknown target id {tid!r}{suggest(tid, raws)}",
                                      path=ppath, key="profile.targets")
        _apply_thresholds(raws, pdata.get("thresholds", {}), where="thresholds", path=ppath)
        _apply_modify(raws, pdata.get("modify", {}), where="modify", path=ppath)
        for tid in pdata.get("modify", {}):
            origin[tid] = (f"modify.{tid}", ppath)
        log.info("target profile %s: %d targets", prof, len(selected))

    for tid in _as_str_list(ov.get("drop", []), where="targets", key="drop",
                            path=config_path):
        if tid not in selected:
            raise UnknownKeyError(f"cannot drop {tid!r}: not among the selected targets"
                                  f"{suggest(tid, selected)}", path=config_path,
                                  key="targets.drop")
        selected.remove(tid)
    sel_raws = {tid: raws[tid] for tid in selected}
    _apply_thresholds(sel_raws, ov.get("thresholds", {}), where="targets.thresholds",
                      path=config_path)
    _apply_modify(sel_raws, ov.get("modify", {}), where="targets.modify", path=config_path)
    for tid in ov.get("modify", {}):
        origin[tid] = (f"targets.modify.{tid}", config_path)
    adds = ov.get("add", [])
    if not isinstance(adds, list):
        raise ConfigError("expected an array of tables [[targets.add]]", path=config_path,
                          key="targets.add")
    for i, entry in enumerate(adds, start=1):
        if not isinstance(entry, Mapping):
            raise ConfigError("expected a table", path=config_path, key=f"targets.add[{i}]")
        tid = entry.get("id")
        if tid in raws:
            raise ConfigError(f"target id {tid!r} already exists in the catalogue; use "
                              f"[targets.modify.{tid}] to change it", path=config_path,
                              key=f"targets.add[{i}].id")
        if not isinstance(tid, str):
            raise ConfigError("missing id", path=config_path, key=f"targets.add[{i}].id")
        sel_raws[tid] = dict(entry)
        raws[tid] = sel_raws[tid]
        origin[tid] = (f"targets.add[{i}]", config_path)

    out = []
    for tid, raw in sel_raws.items():
        where, src_path = origin[tid]
        out.append(_parse_target(raw, where=where, path=src_path, sources=sources,
                                 life_circle=life_circle, categories=categories))
    return out
