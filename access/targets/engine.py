"""The targets engine: settlement classes and the evaluation of a catalogue on a study area."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from access.errors import ConfigError
from access.i18n import bar, say
from access.targets.catalogue import check_settlement_table
from access.targets.context import Context, TargetInputs, TargetResults, unit_ids
from access.targets.evaluators import evaluate_one
from access.targets.gaps import GAP_CELL_COLUMNS, empty_gaps, gap_areas
from access.targets.model import SETTLEMENTS, RoutedTarget, Target

__all__ = ["TARGET_COLUMNS", "UNIT_COLUMNS", "apply_settlement", "evaluate_targets",
           "prepare_targets"]

log = logging.getLogger(__name__)

TARGET_COLUMNS = ["id", "name_zh", "name_en", "kind", "value", "value_area", "area_base",
                   "threshold", "unit", "comparison", "met", "status", "population_base",
                   "n_units", "scope", "source", "clause", "confidence", "reason_zh",
                   "reason_en", "warning_zh", "warning_en", "mode", "group"]
UNIT_COLUMNS = ["target_id", "level", "unit_id", "name", "value", "threshold", "met", "detail",
                "detail_en", "mode"]


def apply_settlement(inputs: TargetInputs, table: Mapping[str, Any], *,
                     path: Path | None = None) -> TargetInputs:
    """Classify cells as urban / town / village from the study area's unit lists.

    Parameters
    ----------
    inputs
        The engine inputs; their cells need the ``unit__<level>`` column.
    table
        ``[targets.settlement]``: ``level``, lists ``urban``, ``town``,
        ``village`` of unit ids, optional ``default`` class for unlisted units
        (without it they stay unclassified and fall outside every scope).
    path
        The study-area file, for error messages.

    Returns
    -------
    TargetInputs
        A copy whose cells carry a ``settlement`` column.
    """
    check_settlement_table(table, path=path)
    level = table["level"]
    col = f"unit__{level}"
    if col not in inputs.cells.columns:
        raise ConfigError(f"the cells carry no '{level}' units to classify", path=path,
                          key="targets.settlement.level")
    mapping = {uid: s for s in SETTLEMENTS for uid in table.get(s, [])}
    units = unit_ids(inputs.cells[col])
    default = table.get("default")
    settlement = [mapping.get(u, default) if u is not None else default for u in units]
    cells = inputs.cells.copy()
    if "settlement" in cells.columns:
        log.info(say("log_settlement_replaced"))
    cells["settlement"] = pd.Series(settlement, index=cells.index, dtype=object)
    unknown = sorted(set(mapping) - {u for u in units if u is not None})
    if unknown:
        log.warning(say("log_settlement_unknown", units=", ".join(unknown[:10])))
    return replace(inputs, cells=cells)



def prepare_targets(inputs: TargetInputs) -> None:
    """Work out the per-cell work evaluations share, into ``inputs.shared``, now.

    Each cell's settlement class and the cells' unit codes of every level are what
    :func:`evaluate_targets` on the same cells (other facilities, other times)
    reuses from :attr:`TargetInputs.shared`; an evaluation that follows then costs
    what the next ones do. Nothing is done when ``inputs.shared`` is None.
    """
    if inputs.shared is not None:
        Context(inputs).prepare()


def evaluate_targets(targets: list[Target], inputs: TargetInputs, *,
                     progress: bool = False) -> TargetResults:
    """Evaluate every target on a study area.

    Parameters
    ----------
    targets
        From :func:`load_catalogue`.
    inputs
        The study area's cells, facilities and units.
    progress
        Show a progress bar.

    Returns
    -------
    TargetResults
        Verdicts, unit results, cell flags and the gap areas. A target whose input
        is missing has status ``no_data`` with the reason, never a value of 0.
    """
    ctx = Context(inputs)
    if not ctx.settlement_known:
        log.info(say("log_no_settlement"))
    rows, unit_rows, gap_frames, gap_members = [], [], [], []
    flags: dict[str, Any] = {"cell_id": inputs.cells["cell_id"].to_numpy()}
    for target in tqdm(targets, desc=bar("bar_targets"), disable=not progress):
        out = evaluate_one(target, ctx)
        if target.note_zh or target.note_en:
            out.reasons.append((target.note_zh, target.note_en))
        flags.update(out.flags)
        unit_rows.extend(out.unit_rows)
        pop = ctx.pop(target.group)
        if out.status == "not_met" and out.gap_mask is not None and pop is not None:
            radius = (out.gap_radius_m if out.gap_radius_m is not None
                      else np.full(ctx.n, np.nan))
            areas, members = gap_areas(target.id, target.group, ctx, out.gap_mask, pop,
                                       radius, crs=inputs.crs)
            gap_frames.append(areas)
            gap_members.append(members)
        met = None if out.status == "no_data" else out.status == "met"
        rows.append({
            "id": target.id, "name_zh": target.name_zh, "name_en": target.name_en,
            "kind": target.kind, "value": out.value, "value_area": out.value_area,
            "area_base": out.area_base, "threshold": target.threshold, "unit": target.unit,
            "comparison": target.comparison, "met": met, "status": out.status,
            "population_base": out.population_base, "n_units": out.n_units,
            "scope": target.scope_text, "source": target.source_text, "clause": target.clause,
            "confidence": target.confidence,
            "reason_zh": "；".join(r[0] for r in out.reasons if r[0]),
            "reason_en": "; ".join(r[1] for r in out.reasons if r[1]),
            "warning_zh": "；".join(w[0] for w in out.warnings),
            "warning_en": "; ".join(w[1] for w in out.warnings),
            "mode": target.mode if isinstance(target, RoutedTarget) else out.mode,
            "group": target.tier,
        })
        log.debug("target %s: %s (value %s)", target.id, out.status, out.value)
    table = pd.DataFrame(rows, columns=TARGET_COLUMNS)
    table["met"] = table["met"].astype(object)
    units = pd.DataFrame(unit_rows, columns=UNIT_COLUMNS)
    kept = [g for g in gap_frames if not g.empty]
    gaps = (pd.concat(kept, ignore_index=True) if kept
            else empty_gaps(ctx.unit_levels))
    kept = [g for g in gap_members if not g.empty]
    cells = (pd.concat(kept, ignore_index=True) if kept
             else pd.DataFrame(columns=GAP_CELL_COLUMNS))
    return TargetResults(targets=table, units=units, cell_flags=pd.DataFrame(flags),
                         gaps=gaps, gap_cells=cells)

