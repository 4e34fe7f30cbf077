"""Population groups: the keys every stage uses, with Chinese and English names."""

from __future__ import annotations

from pathlib import Path

from access.errors import UnknownKeyError, suggest

__all__ = ["GROUPS", "check_group"]

#: Group key -> (name_zh, name_en). Targets name the group they serve by key.
GROUPS: dict[str, tuple[str, str]] = {
    "total": ("常住人口", "total population"),
    "age_60_plus": ("60岁及以上人口", "people aged 60 and over"),
    "age_0_2": ("3岁以下婴幼儿（0–2岁）", "children under 3 (aged 0-2)"),
    "age_3_5": ("3–5岁幼儿", "children aged 3-5"),
}


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
