"""Terminal rendering of the verdicts: a fixed-width table, Chinese or English."""

from __future__ import annotations

import math
import unicodedata

import pandas as pd

from access.modes import mode_label
from access.targets.context import TargetResults
from access.targets.model import UNIT_LABELS

__all__ = ["format_summary"]

_STATUS_TEXT = {"met": ("达标", "met"), "not_met": ("未达标", "NOT MET"),
                "no_data": ("无数据", "no data")}
_HEADERS = {"zh": ("编号", "目标", "出行方式", "数值", "目标值", "结果", "说明"),
            "en": ("id", "target", "mode", "value", "threshold", "result", "note")}
_ADVISORY_TITLE = ("参考指标（规划原文中未找到出处，或为分析指标；不计入达标统计）：",
                   "Advisory (not found in the plans' text, or analysis measures; not counted "
                   "above):")


def _mode_text(mode: object, lang: str) -> str:
    """``walk`` -> 步行; ``urban:walk;town:ebike`` -> 步行/电动自行车 (distinct, in order)."""
    if not isinstance(mode, str) or not mode:
        return ""
    names = [part.split(":")[-1] for part in mode.split(";")]
    return "/".join(mode_label(m, lang) for m in dict.fromkeys(names))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    out, w = "", 0
    for ch in text:
        cw = _width(ch)
        if w + cw > width - 1:
            return out + "…"
        out += ch
        w += cw
    return out


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _fmt_value(value: float, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "share":
        return f"{value:.1%}"
    return f"{value:.2f}"


def format_summary(results: TargetResults, *, lang: str = "zh") -> str:
    """Readable table of the verdicts for a terminal.

    Parameters
    ----------
    results
        From :func:`evaluate_targets`.
    lang
        ``"zh"`` or ``"en"``.
    """
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    i = 0 if lang == "zh" else 1
    table = results.targets
    group = (table["group"] if "group" in table.columns
             else pd.Series("plan", index=table.index)).fillna("plan")
    body: list[tuple[str, ...]] = []
    advisory: list[tuple[str, ...]] = []
    for r, g in zip(table.itertuples(index=False), group, strict=True):
        cmp = "≥" if r.comparison == ">=" else "≤"
        unit_label = UNIT_LABELS.get(r.unit, (r.unit, r.unit))[i] if r.unit != "share" else ""
        thr = f"{cmp} {_fmt_value(float(r.threshold), r.unit)} {unit_label}".rstrip()
        note = r.reason_zh if lang == "zh" else r.reason_en
        if r.status != "no_data":
            # a verdict's caveat first: data that may be incomplete, else its reasons
            note = (r.warning_zh if lang == "zh" else r.warning_en) or note
        row = (r.id, r.name_zh if lang == "zh" else r.name_en,
               _mode_text(getattr(r, "mode", ""), lang), _fmt_value(r.value, r.unit), thr,
               _STATUS_TEXT[r.status][i], _clip(note or "", 48))
        (advisory if g == "advisory" else body).append(row)
    head = _HEADERS[lang]
    limits = (24, 30, 16, 9, 18, 8, 48)
    widths = [min(limit, max([_width(head[j])] + [_width(_clip(b[j], limit))
                                                  for b in body + advisory]))
              for j, limit in enumerate(limits)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(head, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]

    def add(rows: list[tuple[str, ...]]) -> None:
        for b in rows:
            lines.append("  ".join(_pad(_clip(c, w) if _width(c) > w else c, w)
                                   for c, w in zip(b, widths, strict=True)).rstrip())

    add(body)
    counts = table.loc[(group != "advisory").to_numpy(), "status"].value_counts()
    n_met, n_not, n_nd = (int(counts.get(k, 0)) for k in ("met", "not_met", "no_data"))
    if lang == "zh":
        lines.append(f"达标 {n_met} 项，未达标 {n_not} 项，无数据 {n_nd} 项")
    else:
        lines.append(f"{n_met} met, {n_not} not met, {n_nd} without data")
    if advisory:
        lines.append("")
        lines.append(_ADVISORY_TITLE[i])
        add(advisory)
    return "\n".join(lines)
