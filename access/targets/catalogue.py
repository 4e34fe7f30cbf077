"""The target catalogue: plan targets as data, plan profiles and study-area overrides.

``access/catalogue/targets.toml`` lists every target of the Kaifeng, Zhengzhou, Xinxiang
and Lankao plans and the GB 50180-2018 life-circle thresholds; ``<profile>.toml`` selects
the targets one plan states, with its own numbers. :func:`load_catalogue` reads them,
applies a study-area file's ``[targets]`` table (see :mod:`access.targets` for the keys)
and builds one typed target per entry (:mod:`access.targets.model`).

Every problem found is reported: one problem raises its own error
(:class:`~access.errors.ConfigError` or :class:`~access.errors.UnknownKeyError`),
several raise a :class:`CatalogueError` listing them all, one per line.
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from access import vocabulary
from access.config import check_keys, get_typed
from access.errors import ConfigError, UnknownKeyError, suggest
from access.i18n import say
from access.targets.model import (
    CATEGORY_KEYS,
    GROUPS,
    KINDS,
    SETTLEMENTS,
    TARGET_MODES,
    TIERS,
    TYPES,
    Reach,
    Requirement,
    Target,
)

__all__ = ["CATALOGUE_DIR", "PROFILES", "CatalogueError", "load_catalogue"]

log = logging.getLogger(__name__)

#: Folder of the shipped catalogue and plan profiles.
CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "catalogue"

#: Plan profiles shipped with the product.
PROFILES = ("kaifeng", "zhengzhou", "xinxiang", "lankao")

_COMMON_FIELDS = ("id", "name_zh", "name_en", "kind", "categories", "threshold", "comparison",
                  "group", "source", "clause", "confidence", "note_zh", "note_en", "tier")
_REACH_FIELDS = ("scope", "mode", "max_time_min", "max_dist_m")
#: Fields each kind takes beyond the common ones.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "circle": (*_REACH_FIELDS, "radius_by_area"),
    "completeness": ("scope", "level"),
    "unit_count": ("unit_levels", "min_count", "min_count_rules", "ownership", "reach_m"),
    "unit_share": ("unit_levels", "min_count", "min_count_rules", "ownership", "reach_m"),
    "provision": ("capacity_field", "per_persons", "unit_levels"),
    "capacity_share": ("ownership", "capacity_field"),
    "fca": (*_REACH_FIELDS, "capacity_field", "per_persons", "ratio_threshold", "kernel"),
}
_TARGET_FIELDS = _COMMON_FIELDS + tuple(dict.fromkeys(
    f for fields in KIND_FIELDS.values() for f in fields))
_OVERRIDE_KEYS = ("profile", "drop", "thresholds", "modify", "add", "settlement",
                  "extra_categories")
_PROFILE_KEYS = ("name_zh", "name_en", "targets", "thresholds", "modify")
_SETTLEMENT_KEYS = ("level", "default", *SETTLEMENTS)
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_TOL = 1e-9


class CatalogueError(ConfigError):
    """Several problems in the targets: catalogue, profile or study-area ``[targets]``.

    Attributes
    ----------
    problems
        Every problem, each a :class:`~access.errors.ConfigError` naming its
        file and key.
    """

    def __init__(self, problems: list[ConfigError]) -> None:
        super().__init__(f"{len(problems)} problems in the targets:\n"
                         + "\n".join(f"  - {p}" for p in problems))
        self.problems = list(problems)
        self.path = problems[0].path
        self.key = problems[0].key


class _Problems:
    """Collects configuration errors instead of stopping at the first."""

    def __init__(self) -> None:
        self.items: list[ConfigError] = []

    def take(self, fn: Callable[..., Any], *args: Any, on_error: Any = None,
             **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, or ``on_error`` with its error recorded."""
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            self.items.append(exc)
            return on_error

    def add(self, exc: ConfigError) -> None:
        self.items.append(exc)

    def raise_if_any(self) -> None:
        if len(self.items) == 1:
            raise self.items[0]
        if self.items:
            raise CatalogueError(self.items)


def _keys(p: _Problems, table: Mapping[str, Any], allowed: Iterable[str], *, where: str,
          path: Path | None) -> None:
    """Record every unknown key of ``table``, not just the first."""
    allowed = list(allowed)
    for key in table:
        p.take(check_keys, {key: None}, allowed, where=where, path=path)


# ---------------------------------------------------------------------------
# Value checks (each raises one ConfigError)
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


def _count(value: Any, *, where: str, key: str, path: Path | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"expected a non-negative integer, got {value!r}", path=path,
                          key=f"{where}.{key}")
    return value


def _choice(value: Any, choices: Iterable[str], *, where: str, key: str,
            path: Path | None) -> str:
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"invalid value {value!r}{suggest(str(value), choices)}; "
                          f"valid: {', '.join(choices)}", path=path, key=f"{where}.{key}")
    return value


def _choices(p: _Problems, value: Any, choices: Iterable[str], *, where: str, key: str,
             path: Path | None) -> tuple[str, ...]:
    """A list of strings each among ``choices``; every bad item is recorded."""
    items = p.take(_as_str_list, value, where=where, key=key, path=path, on_error=[])
    out = [p.take(_choice, v, choices, where=where, key=key, path=path) for v in items]
    return tuple(v for v in out if v is not None)


def _reach(value: Any, *, where: str, key: str, path: Path | None) -> Reach | None:
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


# ---------------------------------------------------------------------------
# Life-circle levels
# ---------------------------------------------------------------------------
def _requirements(level: str, life_circle: Mapping[str, Any], *,
                  path: Path | None) -> tuple[Requirement, ...]:
    """The level's own types and every lower level's, strictest reach per type."""
    by_cat: dict[tuple[str, float], Requirement] = {}
    seen: set[str] = set()
    current = level
    while current:
        if current in seen:
            raise ConfigError(f"life-circle levels loop at {current!r}", path=path,
                              key=f"life_circle.{current}")
        seen.add(current)
        spec = life_circle[current]
        min_area = dict(spec.get("min_area_m2", {}))
        for cat in spec["categories"]:
            # walking down the levels, a lower level's reach replaces a higher one's:
            # a type listed at several levels must be within the lowest level's reach;
            # a type with a minimum size at a level is a requirement of its own there
            area = float(min_area.get(cat, 0.0))
            by_cat[(cat, area)] = Requirement(cat, current, spec.get("max_dist_m"),
                                              spec.get("max_time_min"), area)
        current = spec.get("lower", "")
    first = {c: i for i, c in reversed(list(enumerate(k[0] for k in by_cat)))}
    return tuple(sorted(by_cat.values(), key=lambda r: first[r.category]))


def _gb50180_table() -> dict[str, dict[str, Any]]:
    """The GB 50180-2018 levels of :mod:`access.vocabulary` as a ``[life_circle]`` table."""
    return {k: {"max_dist_m": lv.max_dist_m, "lower": lv.lower,
                "categories": list(lv.categories), "min_area_m2": dict(lv.min_area_m2)}
            for k, lv in vocabulary.life_circle_levels().items()}


def _parse_life_circle(p: _Problems, table: Any, *, path: Path) -> dict[str, dict[str, Any]]:
    if not isinstance(table, Mapping) or not table:
        p.add(ConfigError("missing [life_circle] levels", path=path, key="life_circle"))
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, spec in table.items():
        where = f"life_circle.{name}"
        if not isinstance(spec, Mapping):
            p.add(ConfigError("expected a table", path=path, key=where))
            continue
        _keys(p, spec, ("max_dist_m", "max_time_min", "lower", "categories", "min_area_m2"),
              where=where, path=path)
        min_area: dict[str, float] = {}
        raw_area = spec.get("min_area_m2", {})
        if not isinstance(raw_area, Mapping):
            p.add(ConfigError("expected a table {category = m²}", path=path,
                              key=f"{where}.min_area_m2"))
        else:
            for cat, a in raw_area.items():
                if p.take(_choice, cat, CATEGORY_KEYS, where=where, key="min_area_m2",
                          path=path) is None:
                    continue
                v = p.take(_number, a, where=where, key=f"min_area_m2.{cat}", path=path,
                           positive=True)
                if v is not None:
                    min_area[cat] = v
        if ("max_dist_m" in spec) == ("max_time_min" in spec):
            p.add(ConfigError("give exactly one of max_dist_m and max_time_min", path=path,
                              key=where))
        lower = p.take(get_typed, spec, "lower", str, where=where, path=path, default="")
        raw_cats = p.take(get_typed, spec, "categories", list, where=where, path=path,
                          default=[], on_error=[])
        cats = _choices(p, raw_cats, CATEGORY_KEYS, where=where, key="categories", path=path)
        out[name] = {
            "categories": list(cats), "lower": lower or "", "min_area_m2": min_area,
            "max_dist_m": p.take(_number, spec["max_dist_m"], where=where, key="max_dist_m",
                                 path=path, positive=True) if "max_dist_m" in spec else None,
            "max_time_min": p.take(_number, spec["max_time_min"], where=where,
                                   key="max_time_min", path=path, positive=True)
            if "max_time_min" in spec else None,
        }
    for name, spec in out.items():
        if spec["lower"] and spec["lower"] not in out:
            p.add(ConfigError(f"unknown lower level {spec['lower']!r}"
                              f"{suggest(spec['lower'], out)}", path=path,
                              key=f"life_circle.{name}.lower"))
            spec["lower"] = ""
    return out


# ---------------------------------------------------------------------------
# One target
# ---------------------------------------------------------------------------
def _parse_target(raw: Mapping[str, Any], *, where: str, path: Path | None,
                  sources: Mapping[str, Mapping[str, str]],
                  life_circle: Mapping[str, Any], categories: tuple[str, ...],
                  ) -> tuple[Target | None, list[ConfigError]]:
    """Validate one raw target table; the target (None if invalid) and every problem."""
    p = _Problems()
    _keys(p, raw, _TARGET_FIELDS, where=where, path=path)

    def text(key: str, default: Any = ...) -> str:
        return p.take(get_typed, raw, key, str, where=where, path=path, default=default)

    tid = text("id")
    if isinstance(tid, str) and not _ID_RE.match(tid):
        p.add(ConfigError(f"target id {tid!r} must be lower-case letters, digits and '_'",
                          path=path, key=f"{where}.id"))
    kind = p.take(_choice, raw.get("kind"), KINDS, where=where, key="kind", path=path)
    kw: dict[str, Any] = {
        "id": tid, "name_zh": text("name_zh"), "name_en": text("name_en"),
        "threshold": p.take(_number, raw.get("threshold"), where=where, key="threshold",
                            path=path),
        "comparison": p.take(_choice, raw.get("comparison", ">="), (">=", "<="), where=where,
                             key="comparison", path=path),
        "clause": text("clause", ""), "note_zh": text("note_zh", ""),
        "note_en": text("note_en", ""),
        "confidence": p.take(_choice, raw.get("confidence", "M"), ("V", "S", "M"),
                             where=where, key="confidence", path=path),
        "group": p.take(_choice, raw.get("group", "total"), GROUPS, where=where, key="group",
                        path=path),
        "tier": p.take(_choice, raw.get("tier", "plan"), TIERS, where=where, key="tier",
                       path=path),
    }
    src = p.take(_as_str_list, raw.get("source", []), where=where, key="source", path=path,
                 on_error=["?"])
    if not src:
        p.add(ConfigError("every target needs a source", path=path, key=f"{where}.source"))
    kw["source"] = tuple(src)
    kw["source_text"] = _render_sources(src, sources)
    kw["categories"] = _choices(p, raw.get("categories", []), categories, where=where,
                                key="categories", path=path)
    if kind is None:
        return None, p.items
    if kind != "completeness" and "categories" not in raw:
        p.add(ConfigError("needs at least one facility category", path=path,
                          key=f"{where}.categories"))
    for key in raw:
        if key in _TARGET_FIELDS and key not in _COMMON_FIELDS and key not in KIND_FIELDS[kind]:
            p.add(ConfigError(f"not used by kind '{kind}'", path=path, key=f"{where}.{key}"))

    fields = KIND_FIELDS[kind]
    if "scope" in fields:
        scope = _choices(p, raw.get("scope", list(SETTLEMENTS)), SETTLEMENTS, where=where,
                         key="scope", path=path)
        if not scope and "scope" in raw:
            p.add(ConfigError("scope must not be empty", path=path, key=f"{where}.scope"))
        kw["scope"] = tuple(s for s in SETTLEMENTS if s in scope) or SETTLEMENTS
    if "mode" in fields:
        kw["modes"] = p.take(_modes, raw.get("mode", "walk"), scope=kw["scope"], where=where,
                             path=path)
        _parse_reach(p, raw, kw, kind=kind, where=where, path=path)
    if kind == "circle":
        kw["radius_by_area"] = p.take(_radius_by_area, raw.get("radius_by_area", []),
                                      where=where, path=path, on_error=())
    if kind == "completeness":
        level = p.take(_choice, raw.get("level"), life_circle, where=where, key="level",
                       path=path)
        if level is not None:
            kw["level"] = level
            kw["requirements"] = p.take(_requirements, level, life_circle, path=path,
                                        on_error=())
            kw["categories"] = tuple(dict.fromkeys(r.category for r in kw["requirements"]))
    if "unit_levels" in fields:
        levels = p.take(_as_str_list, raw.get("unit_levels", []), where=where,
                        key="unit_levels", path=path, on_error=[])
        if kind in ("unit_count", "unit_share") and not levels:
            p.add(ConfigError("needs unit_levels", path=path, key=f"{where}.unit_levels"))
        kw["unit_levels"] = tuple(levels)
    if "min_count" in fields:
        kw["min_count"] = p.take(_count, raw.get("min_count", 1), where=where,
                                 key="min_count", path=path, on_error=1)
        kw["min_count_rules"] = _min_count_rules(p, raw.get("min_count_rules", []),
                                                 where=where, path=path)
    if "reach_m" in fields and raw.get("reach_m") is not None:
        # 0 switches the reach off: only the unit's own facilities count
        reach = p.take(_number, raw["reach_m"], where=where, key="reach_m", path=path)
        if reach is not None and reach < 0:
            p.add(ConfigError(f"must be 0 (off) or positive, got {reach:g}", path=path,
                              key=f"{where}.reach_m"))
        elif reach:
            kw["reach_m"] = reach
    if "ownership" in fields:
        own = _choices(p, raw.get("ownership", []), ("public", "private", "inclusive"),
                       where=where, key="ownership", path=path)
        if kind == "capacity_share" and not own:
            p.add(ConfigError("needs ownership", path=path, key=f"{where}.ownership"))
        kw["ownership"] = own
    if "capacity_field" in fields:
        kw["capacity_field"] = p.take(_choice, raw.get("capacity_field", "capacity"),
                                      ("capacity", "area_m2"), where=where,
                                      key="capacity_field", path=path)
    if "per_persons" in fields:
        kw["per_persons"] = p.take(_number, raw.get("per_persons", 1000), where=where,
                                   key="per_persons", path=path, positive=True)
    if kind == "fca":
        kw["ratio_threshold"] = p.take(_number, raw.get("ratio_threshold"), where=where,
                                       key="ratio_threshold", path=path)
        kw["kernel"] = p.take(_choice, raw.get("kernel", "uniform"), ("uniform", "gaussian"),
                              where=where, key="kernel", path=path)
    if p.items:
        return None, p.items
    return TYPES[kind](**kw), []


def _parse_reach(p: _Problems, raw: Mapping[str, Any], kw: dict[str, Any], *, kind: str,
                 where: str, path: Path | None) -> None:
    """``max_time_min`` / ``max_dist_m`` of a circle or 2SFCA target."""
    t = p.take(_reach, raw.get("max_time_min"), where=where, key="max_time_min", path=path)
    d = p.take(_reach, raw.get("max_dist_m"), where=where, key="max_dist_m", path=path)
    if ("max_time_min" in raw) == ("max_dist_m" in raw):
        p.add(ConfigError("give exactly one of max_time_min and max_dist_m", path=path,
                          key=f"{where}.max_time_min"))
        return
    timed = sorted({m for s, m in kw.get("modes") or () if s in kw["scope"] and m != "walk"})
    if timed and "max_time_min" not in raw:
        p.add(ConfigError(f"a {'/'.join(timed)} target needs max_time_min (an e-bike or "
                          "drive reach is a time)", path=path, key=f"{where}.max_time_min"))
    if timed and kind == "fca":
        p.add(ConfigError("a 2SFCA catchment is walked: mode must be 'walk'", path=path,
                          key=f"{where}.mode"))
    if timed and raw.get("radius_by_area"):
        p.add(ConfigError("radius_by_area is a walking radius: mode must be 'walk'",
                          path=path, key=f"{where}.radius_by_area"))
    reach = t if t is not None else d
    if reach is None:
        return
    missing = [s for s in kw.get("scope", ()) if s not in dict(reach)]
    if missing:
        p.add(ConfigError(f"no reach given for scope {missing}", path=path,
                          key=f"{where}.{'max_time_min' if t else 'max_dist_m'}"))
    if kind == "fca" and len({v for _, v in reach}) != 1:
        p.add(ConfigError("a 2SFCA catchment needs one reach for every settlement",
                          path=path, key=f"{where}.max_time_min"))
    kw["max_time_min"], kw["max_dist_m"] = t, d


def _modes(value: Any, *, scope: tuple[str, ...], where: str, path: Path | None,
           ) -> tuple[tuple[str, str], ...]:
    """``mode``: one mode, or a table of modes per settlement class covering the scope."""
    if isinstance(value, Mapping):
        check_keys(value, SETTLEMENTS, where=f"{where}.mode", path=path)
        missing = [s for s in scope if s not in value]
        if missing:
            raise ConfigError(f"no mode given for scope {missing}", path=path,
                              key=f"{where}.mode")
        return tuple((s, _choice(value[s], TARGET_MODES, where=f"{where}.mode", key=s,
                                 path=path)) for s in SETTLEMENTS if s in value)
    m = _choice(value, TARGET_MODES, where=where, key="mode", path=path)
    return tuple((s, m) for s in SETTLEMENTS)


def _radius_by_area(rba: Any, *, where: str, path: Path | None,
                    ) -> tuple[tuple[float, float], ...]:
    if not isinstance(rba, list) or not all(isinstance(q, list) and len(q) == 2 for q in rba):
        raise ConfigError("expected a list of [min_area_m2, radius_m] pairs", path=path,
                          key=f"{where}.radius_by_area")
    return tuple(sorted(
        (_number(a, where=where, key="radius_by_area", path=path),
         _number(r, where=where, key="radius_by_area", path=path, positive=True))
        for a, r in rba))


def _min_count_rules(p: _Problems, rules: Any, *, where: str, path: Path | None,
                     ) -> tuple[tuple[str, float, int], ...]:
    if not isinstance(rules, list):
        p.add(ConfigError("expected a list of tables", path=path,
                          key=f"{where}.min_count_rules"))
        return ()
    parsed = []
    for i, rule in enumerate(rules, start=1):
        rw = f"{where}.min_count_rules[{i}]"
        if not isinstance(rule, Mapping):
            p.add(ConfigError("expected a table", path=path, key=rw))
            continue
        _keys(p, rule, ("group", "min_pop", "min_count"), where=rw, path=path)
        g = p.take(_choice, rule.get("group", "total"), GROUPS, where=rw, key="group",
                   path=path)
        n = p.take(_count, rule.get("min_count"), where=rw, key="min_count", path=path)
        pop = p.take(_number, rule.get("min_pop"), where=rw, key="min_pop", path=path)
        if g is not None and n is not None and pop is not None:
            parsed.append((g, pop, n))
    return tuple(parsed)


# ---------------------------------------------------------------------------
# Profiles and overrides
# ---------------------------------------------------------------------------
def _resolve_profile(profile: str, *, base_dir: Path | None, path: Path | None) -> Path:
    if profile in PROFILES:
        return CATALOGUE_DIR / f"{profile}.toml"
    if profile.endswith(".toml"):
        q = Path(profile)
        if not q.is_absolute():
            q = (base_dir or Path.cwd()) / q
        if not q.exists():
            raise ConfigError(f"profile file not found: {q}", path=path, key="targets.profile")
        return q
    raise ConfigError(f"unknown profile {profile!r}{suggest(profile, PROFILES)}; shipped "
                      f"profiles: {', '.join(PROFILES)} (or give a .toml path)", path=path,
                      key="targets.profile")


def _apply_modify(p: _Problems, raws: dict[str, dict[str, Any]], table: Any, *, where: str,
                  path: Path | None) -> list[str]:
    """Apply ``[modify.<id>]`` tables; the ids modified."""
    if not isinstance(table, Mapping):
        p.add(ConfigError("expected a table of target ids", path=path, key=where))
        return []
    done = []
    for tid, fields in table.items():
        if tid not in raws:
            p.add(UnknownKeyError(f"unknown target id{suggest(tid, raws)}", path=path,
                                  key=f"{where}.{tid}"))
            continue
        if not isinstance(fields, Mapping):
            p.add(ConfigError("expected a table of target fields", path=path,
                              key=f"{where}.{tid}"))
            continue
        n = len(p.items)
        _keys(p, fields, [f for f in _TARGET_FIELDS if f != "id"], where=f"{where}.{tid}",
              path=path)
        if len(p.items) > n:
            continue
        if "max_dist_m" in fields and "max_time_min" not in fields:
            raws[tid].pop("max_time_min", None)  # switching a reach from minutes to metres
        if "max_time_min" in fields and "max_dist_m" not in fields:
            raws[tid].pop("max_dist_m", None)
        raws[tid].update(fields)
        done.append(tid)
    return done


def _apply_thresholds(p: _Problems, raws: dict[str, dict[str, Any]], table: Any, *,
                      where: str, path: Path | None) -> None:
    if not isinstance(table, Mapping):
        p.add(ConfigError("expected a table: target id = threshold", path=path, key=where))
        return
    for tid, value in table.items():
        if tid not in raws:
            p.add(UnknownKeyError(f"unknown target id{suggest(tid, raws)}", path=path,
                                  key=f"{where}.{tid}"))
            continue
        v = p.take(_number, value, where=where, key=tid, path=path)
        if v is not None:
            raws[tid]["threshold"] = v


def check_settlement_table(table: Any, *, path: Path | None) -> None:
    """Check ``[targets.settlement]``; raise on the first problem."""
    p = _Problems()
    _check_settlement_table(p, table, path=path)
    p.raise_if_any()


def _check_settlement_table(p: _Problems, table: Any, *, path: Path | None) -> None:
    if not isinstance(table, Mapping):
        p.add(ConfigError("expected a table", path=path, key="targets.settlement"))
        return
    _keys(p, table, _SETTLEMENT_KEYS, where="targets.settlement", path=path)
    p.take(get_typed, table, "level", str, where="targets.settlement", path=path)
    if "default" in table:
        p.take(_choice, table["default"], SETTLEMENTS, where="targets.settlement",
               key="default", path=path)
    seen: dict[str, str] = {}
    for s in SETTLEMENTS:
        for uid in p.take(_as_str_list, table.get(s, []), where="targets.settlement", key=s,
                          path=path, on_error=[]):
            if uid in seen and seen[uid] != s:
                p.add(ConfigError(f"unit {uid!r} is both {seen[uid]} and {s}", path=path,
                                  key=f"targets.settlement.{s}"))
            seen[uid] = s


def _read_catalogue(p: _Problems, cat_path: Path,
                    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]],
                               dict[str, tuple[str, Path | None]]]:
    """Sources, life-circle levels, raw targets by id and where each was defined."""
    data = _read_toml(cat_path)
    _keys(p, data, ("schema_version", "sources", "life_circle", "target"), where="catalogue",
          path=cat_path)
    sources = data.get("sources", {})
    for key, entry in sources.items():
        _keys(p, entry, ("zh", "en"), where=f"sources.{key}", path=cat_path)
    # GB 50180 levels come from the shared vocabulary; a catalogue file may replace them
    life_circle = _parse_life_circle(p, data.get("life_circle", _gb50180_table()),
                                     path=cat_path)
    raws: dict[str, dict[str, Any]] = {}
    origin: dict[str, tuple[str, Path | None]] = {}
    for i, entry in enumerate(data.get("target", []), start=1):
        tid = entry.get("id")
        if not isinstance(tid, str):
            p.add(ConfigError("missing id", path=cat_path, key=f"target[{i}].id"))
            continue
        if tid in raws:
            p.add(ConfigError(f"duplicate target id {tid!r}", path=cat_path,
                              key=f"target[{i}].id"))
            continue
        raws[tid] = dict(entry)
        origin[tid] = (f"target[{i}]", cat_path)
    return sources, life_circle, raws, origin


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
        One typed target (:mod:`access.targets.model`) per entry, in catalogue
        order, then added targets.

    Raises
    ------
    UnknownKeyError
        For an unknown key, target id or profile field (with a suggestion).
    ConfigError
        For any invalid value.
    CatalogueError
        When several problems are found: all of them, one per line.
    """
    p = _Problems()
    cat_path = Path(path) if path is not None else CATALOGUE_DIR / "targets.toml"
    sources, life_circle, raws, origin = _read_catalogue(p, cat_path)

    ov = dict(overrides or {})
    _keys(p, ov, _OVERRIDE_KEYS, where="targets", path=config_path)
    extra = p.take(_as_str_list, ov.get("extra_categories", []), where="targets",
                   key="extra_categories", path=config_path, on_error=[])
    categories = CATEGORY_KEYS + tuple(c for c in extra if c not in CATEGORY_KEYS)
    if "settlement" in ov:
        _check_settlement_table(p, ov["settlement"], path=config_path)

    prof = profile if profile is not None else ov.get("profile")
    if profile is not None and "profile" in ov and ov["profile"] != profile:
        p.add(ConfigError(f"profile {profile!r} given twice with different values "
                          f"({ov['profile']!r} in the study-area file)", path=config_path,
                          key="targets.profile"))
    selected = list(raws)
    if prof is not None:
        n = len(p.items)
        selected = _apply_profile(p, prof, raws, origin, base_dir=base_dir,
                                  config_path=config_path)
        if len(p.items) > n:
            p.raise_if_any()  # what follows names targets the profile selects

    for tid in p.take(_as_str_list, ov.get("drop", []), where="targets", key="drop",
                      path=config_path, on_error=[]):
        if tid not in selected:
            p.add(UnknownKeyError(f"cannot drop {tid!r}: not among the selected targets"
                                  f"{suggest(tid, selected)}", path=config_path,
                                  key="targets.drop"))
            continue
        selected.remove(tid)
    sel_raws = {tid: raws[tid] for tid in selected}
    _apply_thresholds(p, sel_raws, ov.get("thresholds", {}), where="targets.thresholds",
                      path=config_path)
    for tid in _apply_modify(p, sel_raws, ov.get("modify", {}), where="targets.modify",
                             path=config_path):
        origin[tid] = (f"targets.modify.{tid}", config_path)
    _add_targets(p, ov.get("add", []), raws, sel_raws, origin, config_path=config_path)

    out = []
    for tid, raw in sel_raws.items():
        where, src_path = origin[tid]
        target, problems = _parse_target(raw, where=where, path=src_path, sources=sources,
                                         life_circle=life_circle, categories=categories)
        p.items.extend(problems)
        if target is not None:
            out.append(target)
    p.raise_if_any()
    return out


def _apply_profile(p: _Problems, prof: Any, raws: dict[str, dict[str, Any]],
                   origin: dict[str, tuple[str, Path | None]], *, base_dir: Path | None,
                   config_path: Path | None) -> list[str]:
    """Apply a plan profile to the raw targets; the ids it selects."""
    if not isinstance(prof, str):
        p.add(ConfigError(f"expected a string, got {prof!r}", path=config_path,
                          key="targets.profile"))
        return list(raws)
    ppath = p.take(_resolve_profile, prof, base_dir=base_dir, path=config_path)
    if ppath is None:
        return list(raws)
    pdata = p.take(_read_toml, ppath, on_error={})
    _keys(p, pdata, _PROFILE_KEYS, where="profile", path=ppath)
    selected = p.take(_as_str_list, pdata.get("targets", []), where="profile", key="targets",
                      path=ppath, on_error=[])
    for tid in selected:
        if tid not in raws:
            p.add(UnknownKeyError(f"unknown target id {tid!r}{suggest(tid, raws)}",
                                  path=ppath, key="profile.targets"))
    _apply_thresholds(p, raws, pdata.get("thresholds", {}), where="thresholds", path=ppath)
    for tid in _apply_modify(p, raws, pdata.get("modify", {}), where="modify", path=ppath):
        origin[tid] = (f"modify.{tid}", ppath)
    log.info(say("log_profile", profile=prof, n=len(selected)))
    return [tid for tid in selected if tid in raws]


def _add_targets(p: _Problems, adds: Any, raws: dict[str, dict[str, Any]],
                 sel_raws: dict[str, dict[str, Any]],
                 origin: dict[str, tuple[str, Path | None]], *,
                 config_path: Path | None) -> None:
    """``[[targets.add]]``: new targets of the study area."""
    if not isinstance(adds, list):
        p.add(ConfigError("expected an array of tables [[targets.add]]", path=config_path,
                          key="targets.add"))
        return
    for i, entry in enumerate(adds, start=1):
        if not isinstance(entry, Mapping):
            p.add(ConfigError("expected a table", path=config_path, key=f"targets.add[{i}]"))
            continue
        tid = entry.get("id")
        if tid in raws:
            p.add(ConfigError(f"target id {tid!r} already exists in the catalogue; use "
                              f"[targets.modify.{tid}] to change it", path=config_path,
                              key=f"targets.add[{i}].id"))
            continue
        if not isinstance(tid, str):
            p.add(ConfigError("missing id", path=config_path, key=f"targets.add[{i}].id"))
            continue
        sel_raws[tid] = dict(entry)
        raws[tid] = sel_raws[tid]
        origin[tid] = (f"targets.add[{i}]", config_path)
