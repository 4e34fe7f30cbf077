"""The rejects table: every input row that was not used, with its reason.

Loaders append to one :class:`RejectLog`; the run writes it to ``rejects.csv``.
Nothing is dropped silently: a row is either used or listed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["REASONS", "RejectLog"]

#: Reason codes with their Chinese and English descriptions.
REASONS: dict[str, tuple[str, str]] = {
    "missing_coordinates": ("坐标缺失", "missing coordinates"),
    "incomplete_area": ("多边形不完整，无法组装成面（位置为现有成员的中心）",
                        "incomplete multipolygon, not assembled (shown at the centre of the "
                        "members present)"),
    "invalid_value": ("数值无效", "invalid value"),
    "wrong_crs": ("坐标系错误", "wrong coordinate system"),
    "outside_study_area": ("位于研究区外", "outside the study area"),
    "unknown_category": ("类别未知", "unknown category"),
    "duplicate": ("重复记录（已合并）", "duplicate (merged)"),
    "unreachable": ("距路网过远，不可达", "unreachable from the network"),
    "below_street_level": ("附近无地面道路，接入隧道/地下/室内路段（仍计入）",
                           "no street-level way nearby; joined a tunnel, underground or "
                           "indoor way (still used)"),
    "disconnected": ("不在最大连通路网内", "not in the largest connected network component"),
    "no_population": ("无人口", "no population"),
    "no_matching_unit": ("无对应的行政区划边界", "no matching unit boundary"),
    "missing_node_refs": ("道路引用的节点不在文件中（数据被裁剪），道路在该处断开",
                          "street nodes missing from the file (clipped extract); ways cut there"),
}


@dataclass
class RejectLog:
    """Collects rejected input rows.

    Each entry names the source file, the row (1-based data row, or an OSM id),
    a reason code from :data:`REASONS`, and free-text detail.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)

    #: Columns of :meth:`to_frame`.
    COLUMNS = ("kind", "source", "row", "reason", "reason_zh", "reason_en", "detail",
               "detail_en", "lon", "lat", "population")

    def add(
        self,
        source: str,
        row: int | str | None,
        reason: str,
        detail: str | tuple[str, str] = "",
        *,
        kind: str = "",
        lon: float | None = None,
        lat: float | None = None,
        population: float | None = None,
    ) -> None:
        """Record one rejected row.

        Parameters
        ----------
        source
            File name (or other source label) the row came from.
        row
            1-based data row number, or an identifier such as an OSM id.
        reason
            One of the keys of :data:`REASONS`.
        detail
            What exactly was wrong, e.g. the offending value: a ``(zh, en)`` pair, or
            one text for both (a value quoted from the input).
        kind
            What the row is: ``"facility"``, ``"cell"``, ``"population"``, ``"network"``.
        lon, lat
            WGS-84 position where known, so rejects can be mapped.
        population
            Persons carried by the row where that applies (conservation checks).
        """
        if reason not in REASONS:
            raise ValueError(f"unknown reject reason {reason!r}; known: {sorted(REASONS)}")
        zh, en = (detail, detail) if isinstance(detail, str) else detail
        self.rows.append(
            {
                "kind": kind,
                "source": str(source),
                "row": row,
                "reason": reason,
                "reason_zh": REASONS[reason][0],
                "reason_en": REASONS[reason][1],
                "detail": zh,
                "detail_en": en,
                "lon": lon,
                "lat": lat,
                "population": population,
            }
        )

    def extend(self, other: RejectLog) -> None:
        """Append every row of ``other``."""
        self.rows.extend(other.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def to_frame(self) -> pd.DataFrame:
        """The rejects as a DataFrame, columns :attr:`COLUMNS` (``detail`` in Chinese,
        ``detail_en`` in English)."""
        return pd.DataFrame(self.rows, columns=list(self.COLUMNS))

    def count(self, *, kind: str | None = None, reason: str | None = None,
              source: str | None = None) -> int:
        """Number of rows matching every given filter."""
        return sum(
            1
            for r in self.rows
            if (kind is None or r["kind"] == kind)
            and (reason is None or r["reason"] == reason)
            and (source is None or r["source"] == str(source))
        )
