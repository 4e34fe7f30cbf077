"""The facility category taxonomy: data in ``taxonomy.toml``, matching logic here.

A :class:`Taxonomy` maps what sources say about a facility (OSM tags, an Amap
type code, a type text, a name, a category label) to one category key. The
shipped taxonomy is read from ``facilities/taxonomy.toml``; a study-area file
extends or overrides it with ``[[categories]]`` tables (:func:`load_taxonomy`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError

from access import vocabulary
from access.config import StrictModel, check_keys, get_typed, validation_problems
from access.errors import ConfigError

__all__ = [
    "Category",
    "CategoryTable",
    "LevelSpec",
    "OsmRule",
    "Taxonomy",
    "category_table",
    "category_table_problems",
    "load_taxonomy",
    "parse_osm_rule",
]

TAXONOMY_PATH = Path(__file__).with_name("taxonomy.toml")

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_CODE_RE = re.compile(r"^\d{2}(\d{2}(\d{2})?)?$")
_COND_RE = re.compile(r"^\s*([^=~!&\s][^=~!&]*?)\s*(=|~|!~)\s*(.+?)\s*$")

_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class CategoryTable(StrictModel):
    """One ``[[categories]]`` table of a study-area file: a new category or an override."""

    key: str = Field(pattern=_KEY_RE.pattern, description="category key, e.g. kindergarten")
    name_zh: _Text | None = None
    name_en: _Text | None = None
    level: int | None = Field(None, ge=0, le=60,
                              description="life-circle minutes (5, 10, 15); 0 removes it")
    also_levels: list[int] = Field(default_factory=list)
    per_circle: float | None = Field(None, gt=0, le=1000)
    capacity_unit: str | None = None
    osm: list[_Text] = Field(default_factory=list, description="OSM tag rules")
    amap_typecodes: list[Annotated[str, Field(pattern=_CODE_RE.pattern)]] = Field(
        default_factory=list)
    name_patterns: list[_Text] = Field(default_factory=list)
    aliases: list[_Text] = Field(default_factory=list)
    replace_rules: bool = False


_CATEGORY_KEYS = tuple(CategoryTable.model_fields)


def category_table_problems(table: object, *, where: str) -> list[tuple[str, str]]:
    """Every type, range and unknown-key mistake of one ``[[categories]]`` table."""
    if not isinstance(table, Mapping):
        return [(where, f"expected a table, got {table!r}")]
    try:
        CategoryTable.model_validate(dict(table))
    except ValidationError as exc:
        return validation_problems(exc, CategoryTable, prefix=where)
    return []
_RULE_FIELDS = ("osm", "amap_typecodes", "name_patterns", "aliases")


@dataclass(frozen=True)
class OsmRule:
    """One OSM tag rule: every condition must hold.

    Attributes
    ----------
    text
        The rule as written, e.g. ``"amenity=school&name~小学"``.
    conditions
        ``(key, op, values)`` triples; ``op`` is ``"="`` (exact value, ``*`` for
        any), ``"~"`` (value contains a text) or ``"!~"`` (absent or contains none).
    """

    text: str
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]

    @property
    def specificity(self) -> tuple[int, int]:
        """``(number of conditions, number of exact-value conditions)``."""
        exact = sum(1 for _, op, vals in self.conditions if op == "=" and vals != ("*",))
        return (len(self.conditions), exact)

    @property
    def keys(self) -> set[str]:
        """OSM keys the rule reads."""
        return {k for k, _, _ in self.conditions}

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Whether ``tags`` satisfy every condition."""
        for key, op, values in self.conditions:
            value = tags.get(key)
            if op == "!~":
                if value is not None and any(v in value.lower() for v in values):
                    return False
                continue
            if value is None:
                return False
            if op == "=":
                if values != ("*",) and value not in values:
                    return False
            elif not any(v in value.lower() for v in values):
                return False
        return True


def parse_osm_rule(text: str) -> OsmRule:
    """Parse a rule such as ``"amenity=clinic|doctors&name~卫生院"``.

    Raises
    ------
    ValueError
        If the rule is malformed.
    """
    conditions = []
    for part in text.split("&"):
        m = _COND_RE.match(part)
        if not m:
            raise ValueError(f"malformed OSM rule condition {part!r} in {text!r}; "
                             "write key=value, key=v1|v2, key=*, key~text or key!~text")
        key, op, raw = m.groups()
        values = tuple(v.strip() for v in raw.split("|"))
        if any(not v for v in values):
            raise ValueError(f"empty value in OSM rule {text!r}")
        if op != "=":
            values = tuple(v.lower() for v in values)
        conditions.append((key, op, values))
    if all(op == "!~" for _, op, _ in conditions):
        raise ValueError(f"OSM rule {text!r} needs at least one positive condition")
    return OsmRule(text=text, conditions=tuple(conditions))


@dataclass(frozen=True)
class LevelSpec:
    """A GB 50180-2018 life-circle level."""

    minutes: int
    pop_min: float
    pop_max: float
    walk_m: float
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Category:
    """A facility category.

    Attributes
    ----------
    key
        Stable identifier used across the product (``"kindergarten"``).
    name_zh, name_en
        Names shown to users.
    level
        GB 50180-2018 life-circle level in minutes (5, 10, 15) or None.
    also_levels
        Further levels at which the standard asks for the same kind of facility.
    per_circle
        Facilities expected per life circle of ``level`` (completeness check).
    capacity_unit
        What capacity counts (``"beds"``, ``"places"``, ``"seats"``, ``"area_m2"``) or None.
    osm_rules, amap_typecodes, name_patterns, aliases
        Mapping rules, see ``taxonomy.toml``.
    """

    key: str
    name_zh: str
    name_en: str
    level: int | None = None
    also_levels: tuple[int, ...] = ()
    per_circle: float = 1.0
    capacity_unit: str | None = None
    osm_rules: tuple[OsmRule, ...] = ()
    amap_typecodes: tuple[str, ...] = ()
    name_patterns: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def levels(self) -> tuple[int, ...]:
        """Every level the category appears at, ascending."""
        lv = set(self.also_levels)
        if self.level is not None:
            lv.add(self.level)
        return tuple(sorted(lv))


@dataclass
class Taxonomy:
    """Categories and the rules that map source records onto them.

    Attributes
    ----------
    categories
        Category key -> :class:`Category`, in priority order (ties go to the first).
    levels
        Life-circle minutes -> :class:`LevelSpec`.
    capacity_units
        Unit code -> ``(name_zh, name_en)``.
    name_exclude
        Names containing one of these texts are not classified by name.
    osm_report_unmatched
        OSM elements matching one of these rules but no category are rejected as
        ``unknown_category``; other unmatched elements are not facility rows.
    """

    categories: dict[str, Category]
    levels: dict[int, LevelSpec] = field(default_factory=dict)
    capacity_units: dict[str, tuple[str, str]] = field(default_factory=dict)
    name_exclude: tuple[str, ...] = ()
    osm_report_unmatched: tuple[OsmRule, ...] = ()

    def __post_init__(self) -> None:
        self._build_index()

    def _build_index(self) -> None:
        order = {k: i for i, k in enumerate(self.categories)}
        pats = [(p.lower(), order[c.key], c.key) for c in self.categories.values()
                for p in c.name_patterns]
        self._name_index = sorted(pats, key=lambda t: (-len(t[0]), t[1]))
        codes = [(code, order[c.key], c.key) for c in self.categories.values()
                 for code in c.amap_typecodes]
        self._code_index = sorted(codes, key=lambda t: (-len(t[0]), t[1]))
        self._majors = {c.key: {code[:2] for code in c.amap_typecodes}
                        for c in self.categories.values()}
        labels: dict[str, str] = {}
        for c in self.categories.values():
            for label in (c.key, c.name_zh, c.name_en, *c.aliases):
                labels.setdefault(label.strip().lower(), c.key)
        self._labels = labels
        rules = [(r.specificity, order[c.key], r, c.key) for c in self.categories.values()
                 for r in c.osm_rules]
        self._osm_index = sorted(rules, key=lambda t: (-t[0][0], -t[0][1], t[1]))

    # -- lookups ---------------------------------------------------------------
    def __contains__(self, key: object) -> bool:
        return key in self.categories

    def label(self, key: str, lang: str = "en") -> str:
        """Category name in ``lang`` (``"zh"`` or ``"en"``)."""
        c = self.categories[key]
        return c.name_zh if lang == "zh" else c.name_en

    def osm_keys(self) -> set[str]:
        """Every OSM key read by a rule (for pre-filtering OSM files)."""
        keys: set[str] = set()
        for c in self.categories.values():
            for r in c.osm_rules:
                keys |= {k for k, op, _ in r.conditions if op != "!~"}
        for r in self.osm_report_unmatched:
            keys |= r.keys
        keys.discard("name")
        return keys

    def match_osm(self, tags: Mapping[str, str]) -> str | None:
        """Category of an OSM element, or None."""
        for _, _, rule, key in self._osm_index:
            if rule.matches(tags):
                return key
        return None

    def osm_reportable(self, tags: Mapping[str, str]) -> bool:
        """Whether an unmatched OSM element is worth listing as a reject."""
        return any(r.matches(tags) for r in self.osm_report_unmatched)

    def match_label(self, text: str) -> str | None:
        """Category whose key, Chinese or English name or alias equals ``text``."""
        return self._labels.get(str(text).strip().lower())

    def match_typecode(self, code: str) -> str | None:
        """Category of an Amap type code (longest matching prefix), or None.

        Amap joins several codes with ``|``; the first that matches is used.
        """
        for part in str(code).split("|"):
            part = part.strip()
            if not part:
                continue
            for prefix, _, key in self._code_index:
                if part.startswith(prefix):
                    return key
        return None

    def _typecode_allows(self, key: str, code: str) -> bool:
        majors = self._majors.get(key)
        if not code or not majors:
            return True
        return any(part.strip()[:2] in majors for part in code.split("|"))

    def match_name(self, name: str, *, typecode: str = "") -> str | None:
        """Category from a facility name (longest pattern), or None.

        Names containing a ``name_exclude`` text are not classified. When the
        record has an Amap type code and the candidate category lists codes, the
        major class (first two digits) must agree, so that a bus stop named after
        a school is not taken for the school.
        """
        text = str(name).strip().lower()
        if not text or any(x.lower() in text for x in self.name_exclude):
            return None
        for pat, _, key in self._name_index:
            if pat in text and self._typecode_allows(key, typecode):
                return key
        return None

    def match_type_text(self, type_text: str, *, typecode: str = "") -> str | None:
        """Category from an Amap type text such as ``科教文化服务;学校;幼儿园``.

        Segments are tried from the most specific (last) to the most general.
        """
        segments = [s for s in re.split(r"[;|；]", str(type_text)) if s.strip()]
        for seg in reversed(segments):
            seg_l = seg.strip().lower()
            for pat, _, key in self._name_index:
                if pat in seg_l and self._typecode_allows(key, typecode):
                    return key
        return None

    def classify(self, *, label: str = "", name: str = "", typecode: str = "",
                 type_text: str = "") -> tuple[str | None, str]:
        """Category of a table record and how it was found.

        Order: the category label column, the name, the Amap type code, the type
        text. Returns ``(key or None, how)`` with ``how`` one of ``"label"``,
        ``"name"``, ``"typecode"``, ``"type"``, ``""``.
        """
        if label and (key := self.match_label(label)):
            return key, "label"
        if name and (key := self.match_name(name, typecode=typecode)):
            return key, "name"
        if typecode and (key := self.match_typecode(typecode)):
            return key, "typecode"
        if type_text and (key := self.match_type_text(type_text, typecode=typecode)):
            return key, "type"
        return None, ""


# -- reading -------------------------------------------------------------------
def _str_list(table: Mapping[str, Any], key: str, *, where: str, path: Path | None
              ) -> tuple[str, ...] | None:
    if key not in table:
        return None
    value = get_typed(table, key, list, where=where, path=path)
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError("expected a list of non-empty strings", path=path,
                          key=f"{where}.{key}")
    return tuple(v.strip() for v in value)


def _category_fields(table: Mapping[str, Any], *, where: str, path: Path | None,
                     levels: Mapping[int, LevelSpec], units: Mapping[str, Any]
                     ) -> dict[str, Any]:
    """Validate one category table and return the fields it sets."""
    check_keys(table, _CATEGORY_KEYS, where=where, path=path)
    out: dict[str, Any] = {}
    for name in ("name_zh", "name_en"):
        if name in table:
            out[name] = get_typed(table, name, str, where=where, path=path).strip()
            if not out[name]:
                raise ConfigError("must not be empty", path=path, key=f"{where}.{name}")
    if "level" in table:
        lv = get_typed(table, "level", int, where=where, path=path)
        if lv != 0 and lv not in levels:
            raise ConfigError(f"level must be one of {sorted(levels)} (or 0 for none), got {lv}",
                              path=path, key=f"{where}.level")
        out["level"] = lv or None
    if "also_levels" in table:
        also = get_typed(table, "also_levels", list, where=where, path=path)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v in levels for v in also):
            raise ConfigError(f"also_levels must list levels among {sorted(levels)}",
                              path=path, key=f"{where}.also_levels")
        out["also_levels"] = tuple(also)
    if "per_circle" in table:
        pc = float(get_typed(table, "per_circle", (int, float), where=where, path=path))
        if not pc > 0:
            raise ConfigError("per_circle must be positive", path=path,
                              key=f"{where}.per_circle")
        out["per_circle"] = pc
    if "capacity_unit" in table:
        unit = get_typed(table, "capacity_unit", str, where=where, path=path)
        if unit not in units:
            raise ConfigError(f"unknown capacity_unit {unit!r}; known: {sorted(units)}",
                              path=path, key=f"{where}.capacity_unit")
        out["capacity_unit"] = unit
    if (rules := _str_list(table, "osm", where=where, path=path)) is not None:
        try:
            out["osm_rules"] = tuple(parse_osm_rule(r) for r in rules)
        except ValueError as exc:
            raise ConfigError(str(exc), path=path, key=f"{where}.osm") from exc
    if (codes := _str_list(table, "amap_typecodes", where=where, path=path)) is not None:
        bad = [c for c in codes if not _CODE_RE.match(c)]
        if bad:
            raise ConfigError(f"Amap type codes are 2, 4 or 6 digits, got {bad[0]!r}",
                              path=path, key=f"{where}.amap_typecodes")
        out["amap_typecodes"] = codes
    for name in ("name_patterns", "aliases"):
        if (vals := _str_list(table, name, where=where, path=path)) is not None:
            out[name] = vals
    return out


def _read_shipped(path: Path) -> Taxonomy:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    # GB 50180 levels and which categories each lists: the shared vocabulary
    levels = {lv.minutes: LevelSpec(minutes=lv.minutes, pop_min=lv.pop_min,
                                    pop_max=lv.pop_max, walk_m=lv.max_dist_m,
                                    name_zh=lv.name_zh, name_en=lv.name_en)
              for lv in vocabulary.life_circle_levels().values()}
    missing = [k for k in vocabulary.CATEGORY_KEYS if k not in data["categories"]]
    if missing:
        raise ConfigError(f"the taxonomy has no table for the product's categories "
                          f"{', '.join(missing)}", path=path, key="categories")
    by_level = vocabulary.category_levels()
    units = {k: (v["name_zh"], v["name_en"]) for k, v in data["capacity_units"].items()}
    categories = {}
    for key, table in data["categories"].items():
        where = f"categories.{key}"
        fields = _category_fields(table, where=where, path=path, levels=levels, units=units)
        if key in by_level and "level" not in fields:
            fields["level"], fields["also_levels"] = by_level[key][0], by_level[key][1:]
        categories[key] = Category(key=key, **fields)
    matching = data.get("matching", {})
    return Taxonomy(
        categories=categories,
        levels=levels,
        capacity_units=units,
        name_exclude=tuple(matching.get("name_exclude", ())),
        osm_report_unmatched=tuple(parse_osm_rule(r)
                                   for r in matching.get("osm_report_unmatched", ())),
    )


def load_taxonomy(extensions: list[dict] | None = None, *, base_dir: Path | None = None,
                  path: Path | None = None) -> Taxonomy:
    """The shipped taxonomy, extended or overridden by ``[[categories]]`` tables.

    Parameters
    ----------
    extensions
        The study-area file's ``[[categories]]`` tables. Each needs ``key``. A new
        key also needs ``name_zh`` and ``name_en``; an existing key overrides the
        fields given, and its rule lists (``osm``, ``amap_typecodes``,
        ``name_patterns``, ``aliases``) are added to the shipped ones unless
        ``replace_rules = true``. ``level = 0`` removes a level. User categories
        come before shipped ones when rules tie.
    base_dir
        Folder of the study-area file (kept for symmetry with the other parsers).
    path
        The study-area file, for error messages.

    Returns
    -------
    Taxonomy

    Raises
    ------
    ConfigError, UnknownKeyError
        For an invalid ``[[categories]]`` table.
    """
    del base_dir  # no file references in [[categories]] tables
    shipped = _read_shipped(TAXONOMY_PATH)
    if not extensions:
        return shipped
    cats = dict(shipped.categories)
    user_first: list[str] = []
    for i, table in enumerate(extensions, start=1):
        where = f"categories[{i}]"
        if not isinstance(table, Mapping):
            raise ConfigError("expected a table", path=path, key=where)
        key = get_typed(table, "key", str, where=where, path=path)
        if not _KEY_RE.match(key):
            raise ConfigError(f"category key {key!r} must be lower-case letters, digits and '_'",
                              path=path, key=f"{where}.key")
        fields = _category_fields(table, where=where, path=path, levels=shipped.levels,
                                  units=shipped.capacity_units)
        replace_rules = get_typed(table, "replace_rules", bool, where=where, path=path,
                                  default=False)
        if key in cats:
            old = cats[key]
            if not replace_rules:
                for name in _RULE_FIELDS:
                    attr = "osm_rules" if name == "osm" else name
                    if attr in fields:
                        fields[attr] = tuple(getattr(old, attr)) + tuple(fields[attr])
            cats[key] = replace(old, **fields)
        else:
            for name in ("name_zh", "name_en"):
                if name not in fields:
                    raise ConfigError(f"a new category needs {name}", path=path,
                                      key=f"{where}.{name}")
            cats[key] = Category(key=key, **fields)
        if key not in user_first:
            user_first.append(key)
    ordered = {k: cats[k] for k in user_first}
    ordered.update({k: v for k, v in cats.items() if k not in ordered})
    return Taxonomy(categories=ordered, levels=shipped.levels,
                    capacity_units=shipped.capacity_units, name_exclude=shipped.name_exclude,
                    osm_report_unmatched=shipped.osm_report_unmatched)


def category_table(taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """The taxonomy as plain rows (for reports and the dashboard)."""
    return [
        {
            "key": c.key, "name_zh": c.name_zh, "name_en": c.name_en, "level": c.level,
            "levels": list(c.levels), "capacity_unit": c.capacity_unit,
            "osm": [r.text for r in c.osm_rules], "amap_typecodes": list(c.amap_typecodes),
        }
        for c in taxonomy.categories.values()
    ]
