"""Helpers for reading the study-area file's tables strictly.

Each package parses its own section (``[network]``, ``[[population]]``,
``[[facilities]]`` ...) with these helpers so that every unknown key, wrong type
or missing file is reported with the file, the key and a suggestion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from access.errors import ConfigError, UnknownKeyError, suggest

__all__ = ["check_keys", "get_path", "get_typed"]


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


def get_path(table: Mapping[str, Any], key: str, *, base_dir: Path, where: str,
             path: str | Path | None = None, must_exist: bool = True,
             default: Any = ...) -> Path | None:
    """Read a file path relative to the study-area file's folder."""
    value = get_typed(table, key, str, where=where, path=path, default=default)
    if value is None or value is default:
        return value
    p = (base_dir / value).resolve()
    if must_exist and not p.exists():
        raise ConfigError(f"file not found: {p}", path=path, key=f"{where}.{key}")
    return p
