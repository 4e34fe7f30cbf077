"""Is the facility data complete enough to judge the city by?

GB 50180-2018 sizes each life circle by the residents it serves (5-minute:
5,000–12,000; 10-minute: 15,000–25,000; 15-minute: 50,000–100,000) and lists
the facilities each circle has. So a category of level L should appear at
least ``per_circle`` times per L-circle population: a kindergarten per 5,000–
12,000 residents is 0.83–2.0 per 10,000. Counts far below that range more
likely mean incomplete data (typical of OpenStreetMap in Chinese cities) than a
city without kindergartens; results computed from such data carry the warning
(:func:`completeness_warnings`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from access.i18n import Say
from facilities.taxonomy import Taxonomy

__all__ = ["COMPLETENESS_COLUMNS", "completeness_check", "completeness_warnings",
           "completeness_warnings_by_category"]

log = logging.getLogger(__name__)

COMPLETENESS_COLUMNS = [
    "category", "name_zh", "name_en", "level", "count", "unnamed", "per_10k",
    "expected_min_per_10k",
    "expected_max_per_10k", "expected_min_count", "status", "message_zh", "message_en",
]


def completeness_check(facilities: pd.DataFrame, population_total: float, taxonomy: Taxonomy,
                       *, low_share: float = 0.5, warn: bool = True) -> pd.DataFrame:
    """Facility counts per 10,000 residents against the GB 50180 expectation.

    Parameters
    ----------
    facilities
        The facility table (needs a ``category`` column).
    population_total
        Residents of the study area.
    taxonomy
        Supplies levels, ``per_circle`` and life-circle populations.
    low_share
        Status is ``"low"`` when the count per 10,000 is below this share of the
        expected minimum.
    warn
        Log a warning per low or missing category (off for repeated what-if runs).

    Returns
    -------
    pandas.DataFrame
        One row per taxonomy category (:data:`COMPLETENESS_COLUMNS`). ``status``:
        ``"none"`` (no facility at all), ``"low"`` (far below the expectation) or
        ``"ok"`` (at least ``low_share`` of it, or no expectation: categories the
        standard does not place in a life circle have NaN expectations).

    Raises
    ------
    ValueError
        If ``population_total`` is not a positive number.
    """
    if not (isinstance(population_total, int | float) and math.isfinite(population_total)
            and population_total > 0):
        raise ValueError(f"population_total must be a positive number, got {population_total!r}")
    counts = facilities["category"].value_counts() if len(facilities) else pd.Series(dtype=int)
    if len(facilities) and ("name_generated" in facilities or "name" in facilities):
        no_name = (facilities["name_generated"].eq(True) if "name_generated" in facilities
                   else facilities["name"].fillna("").astype(str).str.strip() == "")
        unnamed = facilities.loc[no_name.to_numpy(), "category"].value_counts()
    else:
        unnamed = pd.Series(dtype=int)
    rows = []
    for key, cat in taxonomy.categories.items():
        n = int(counts.get(key, 0))
        per_10k = n / population_total * 1e4
        lo = hi = lo_count = np.nan
        if cat.level is not None and cat.level in taxonomy.levels:
            lv = taxonomy.levels[cat.level]
            lo = cat.per_circle * 1e4 / lv.pop_max
            hi = cat.per_circle * 1e4 / lv.pop_min
            lo_count = lo * population_total / 1e4
        if n == 0:
            status = "none"
        elif np.isfinite(lo) and per_10k < low_share * lo:
            status = "low"
        else:
            status = "ok"
        zh, en = _messages(cat.name_zh, cat.name_en, cat.level, n, per_10k, lo, hi, lo_count,
                           status)
        rows.append({
            "category": key, "name_zh": cat.name_zh, "name_en": cat.name_en,
            "level": cat.level if cat.level is not None else pd.NA, "count": n,
            "unnamed": int(unnamed.get(key, 0)),
            "per_10k": per_10k, "expected_min_per_10k": lo, "expected_max_per_10k": hi,
            "expected_min_count": lo_count, "status": status, "message_zh": zh,
            "message_en": en,
        })
        if warn and status != "ok" and np.isfinite(lo):
            log.warning(Say(zh, en))
    table = pd.DataFrame(rows, columns=COMPLETENESS_COLUMNS)
    table["level"] = table["level"].astype("Int64")
    return table


def _messages(name_zh: str, name_en: str, level: int | None, n: int, per_10k: float,
              lo: float, hi: float, lo_count: float, status: str) -> tuple[str, str]:
    if not np.isfinite(lo):
        if n == 0:
            return (f"{name_zh}：数据中没有此类设施（国标未规定配置数量）。",
                    f"{name_en}: none in the data (GB 50180 sets no count for it).")
        return (f"{name_zh}：{n}处，每万人{per_10k:.2f}处（国标未规定配置数量）。",
                f"{name_en}: {n} in the data, {per_10k:.2f} per 10,000 residents "
                "(GB 50180 sets no count for it).")
    expect_zh = (f"按GB 50180 {level}分钟生活圈人口规模应约为每万人{lo:.2f}–{hi:.2f}处"
                 f"（至少约{lo_count:.0f}处）")
    expect_en = (f"GB 50180 {level}-minute life circles imply {lo:.2f}–{hi:.2f} per 10,000 "
                 f"(at least about {lo_count:.0f})")
    if status == "ok":
        return (f"{name_zh}：{n}处，每万人{per_10k:.2f}处；{expect_zh}。",
                f"{name_en}: {n} in the data, {per_10k:.2f} per 10,000 residents; {expect_en}.")
    have_zh = "数据中没有此类设施" if n == 0 else f"仅{n}处，每万人{per_10k:.2f}处"
    have_en = "none in the data" if n == 0 else f"only {n} in the data, {per_10k:.2f} per 10,000"
    return (
        f"{name_zh}：{have_zh}，{expect_zh}。缺的可能是数据而不是设施（如OpenStreetMap在中国城市"
        "常不完整），据此计算的指标会低估实际配置水平。",
        f"{name_en}: {have_en}; {expect_en}. The data, not the city, may be what is missing "
        "(OpenStreetMap is often incomplete in Chinese cities); targets computed on it "
        "understate provision.",
    )


def completeness_warnings(check: pd.DataFrame, categories: Iterable[str] | None = None
                          ) -> list[tuple[str, str]]:
    """``(message_zh, message_en)`` of categories flagged ``low`` or ``none`` by the norm.

    Parameters
    ----------
    check
        Result of :func:`completeness_check`.
    categories
        Restrict to these keys (e.g. the categories a target uses); default all.

    Returns
    -------
    list of tuple of str
        Warnings to carry into a target's results; empty when the data look complete.
    """
    sel = check[check["status"].isin(["low", "none"]) & check["expected_min_per_10k"].notna()]
    if categories is not None:
        sel = sel[sel["category"].isin(list(categories))]
    return list(zip(sel["message_zh"], sel["message_en"], strict=True))


def completeness_warnings_by_category(check: pd.DataFrame,
                                      categories: Iterable[str] | None = None,
                                      ) -> dict[str, tuple[str, str]]:
    """Category -> ``(message_zh, message_en)``: :func:`completeness_warnings` keyed by
    category, computed in one pass (a what-if asks for many categories at a time)."""
    sel = check[check["status"].isin(["low", "none"]) & check["expected_min_per_10k"].notna()]
    if categories is not None:
        sel = sel[sel["category"].isin(list(categories))]
    out: dict[str, tuple[str, str]] = {}
    for c, zh, en in zip(sel["category"], sel["message_zh"], sel["message_en"], strict=True):
        out.setdefault(str(c), (zh, en))
    return out
