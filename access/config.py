"""Helpers for reading the study-area file's tables strictly.

Each package parses its own section (``[network]``, ``[[population]]``,
``[[facilities]]`` ...) with these helpers so that every unknown key, wrong type
or missing file is reported with the file, the key and a suggestion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, get_args, overload

from pydantic import BaseModel, ConfigDict, ValidationError

from access.errors import ConfigError, UnknownKeyError, suggest

__all__ = ["StrictModel", "check_keys", "get_path", "get_typed", "key_path",
           "validation_problems"]


def check_keys(table: Mapping[str, Any], allowed: Iterable[str], *, where: str,
               path: str | Path | None = None) -> None:
    """Raise :class:`UnknownKeyError` for the first key of ``table`` not in ``allowed``.

    Parameters
    ----------
    table
        The parsed TOML table.
    allowed
        Valid keys.
    where
        Dotted name of the table, e.g. ``"network"`` or ``"population[2]"``.
    path
        The study-area file.
    """
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            raise UnknownKeyError(
                f"unknown key in [{where}]{suggest(key, allowed)}; valid keys: "
                + ", ".join(sorted(allowed)),
                path=path, key=f"{where}.{key}")


def get_typed(table: Mapping[str, Any], key: str, types: type | tuple[type, ...], *,
              where: str, path: str | Path | None = None, default: Any = ...,
              ) -> Any:
    """Read ``table[key]`` and check its type; missing keys take ``default`` or raise."""
    if key not in table:
        if default is ...:
            raise ConfigError(f"required key missing in [{where}]", path=path,
                              key=f"{where}.{key}")
        return default
    value = table[key]
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        names = (types.__name__ if isinstance(types, type)
                 else " or ".join(t.__name__ for t in types))
        raise ConfigError(f"expected {names}, got {value!r}", path=path, key=f"{where}.{key}")
    return value


@overload
def get_path(table: Mapping[str, Any], key: str, *, base_dir: Path, where: str,
             path: str | Path | None = None, must_exist: bool = True) -> Path: ...


@overload
def get_path(table: Mapping[str, Any], key: str, *, base_dir: Path, where: str,
             path: str | Path | None = None, must_exist: bool = True,
             default: None) -> Path | None: ...


def get_path(table: Mapping[str, Any], key: str, *, base_dir: Path, where: str,
             path: str | Path | None = None, must_exist: bool = True,
             default: Any = ...) -> Path | None:
    """Read a file path relative to the study-area file's folder.

    Without ``default`` a missing key is an error and the result is a path;
    with ``default=None`` a missing key gives None.
    """
    value = get_typed(table, key, str, where=where, path=path, default=default)
    if value is None or value is default:
        return value
    p = (base_dir / value).resolve()
    if must_exist and not p.exists():
        raise ConfigError(f"file not found: {p}", path=path, key=f"{where}.{key}")
    return p


class StrictModel(BaseModel):
    """Base of the study-area file's table models: strict types, no unknown keys.

    Numbers refuse ``inf`` and ``nan``; a string is never read as a number; a
    key the model does not declare is an error.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def _fields_at(model: Any, loc: tuple[Any, ...]) -> list[str] | None:
    """Field names of the model reached by following ``loc`` from ``model``."""
    ann: Any = model
    for part in loc:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            if not isinstance(part, str) or part not in ann.model_fields:
                return None
            ann = ann.model_fields[part].annotation
            continue
        ann = _unwrap(ann)
        if ann is None:
            return None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            if not isinstance(part, str) or part not in ann.model_fields:
                return None
            ann = ann.model_fields[part].annotation
    ann = _unwrap(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return list(ann.model_fields)
    return None


def _unwrap(ann: Any) -> Any:
    """The model inside ``X | None``, ``list[X]`` or ``dict[str, X]``."""
    for _ in range(4):
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return ann
        args = [a for a in get_args(ann) if a is not type(None)]
        if not args:
            return None
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        ann = models[0] if models else args[-1]
    return None


def key_path(loc: Iterable[Any], prefix: str = "") -> str:
    """``("units", 0, "path")`` -> ``"units[1].path"`` (tables numbered from 1)."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_problems(exc: ValidationError, model: type[BaseModel], *,
                        prefix: str = "") -> list[tuple[str, str]]:
    """Turn a pydantic error into ``(key path, message)`` pairs, one per mistake.

    Unknown keys get a "did you mean" suggestion and the list of valid keys;
    values out of range say the range; wrong types show the value given.
    """
    problems: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        key = key_path(loc, prefix)
        etype = err["type"]
        value = err.get("input")
        ctx = err.get("ctx") or {}
        if etype == "extra_forbidden":
            allowed = _fields_at(model, loc[:-1]) or []
            where = key_path(loc[:-1], prefix) or "top level"
            msg = (f"unknown key in [{where}]{suggest(str(loc[-1]), allowed)}; valid keys: "
                   + ", ".join(sorted(allowed)))
        elif etype == "missing":
            where = key_path(loc[:-1], prefix) or "top level"
            msg = f"required key missing in [{where}]"
        elif etype in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            msg = f"{value!r} is out of range: {err['msg'].lower()}"
            msg = msg.replace("input should be", "must be")
        elif etype in ("finite_number",):
            msg = f"{value!r} is not a finite number"
        elif etype == "literal_error":
            expected = str(ctx.get("expected", ""))
            choices = [c.strip(" '") for c in expected.replace(" or ", ",").split(",")]
            msg = (f"{value!r} is not one of {expected}"
                   f"{suggest(str(value), [c for c in choices if c])}")
        else:
            msg = err["msg"]
            if value is not None and not isinstance(value, dict | list):
                msg += f", got {value!r}"
        problems.append((key, msg))
    return problems
