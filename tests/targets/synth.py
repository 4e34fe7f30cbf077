"""Synthetic study areas for the target engine, with distances known by hand.

Cells are 100 m squares on a small grid; a facility sits at a cell centre and
the "network" distance is the straight-line distance between cell centres, so
every expected number can be worked out on paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from access import vocabulary
from access.targets import CATALOGUE_DIR, TargetInputs

CELL_M = 100.0


@dataclass
class Fac:
    """A facility placed at a grid cell."""

    category: str
    row: int
    col: int
    capacity: float = float("nan")
    ownership: str = ""
    area_m2: float = float("nan")
    units: dict[str, str] | None = None


def make_inputs(n_rows: int, n_cols: int, facilities: Sequence[Fac], *,
                pop: dict[str, np.ndarray] | None = None,
                cell_units: dict[str, np.ndarray] | None = None,
                units: dict[str, pd.DataFrame] | None = None,
                settlement: np.ndarray | None = None,
                residential_m2: np.ndarray | None = None,
                drive_speed_kmh: float | None = None,
                ebike_speed_kmh: float | None = None,
                with_catchments: bool = True,
                walk_speed_kmh: dict[str, float] | None = None,
                data_warnings: dict[str, tuple[str, str]] | None = None) -> TargetInputs:
    """Build :class:`TargetInputs` on an ``n_rows x n_cols`` grid of 100 m cells."""
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    x = (cols + 0.5) * CELL_M
    y = (n_rows - rows - 0.5) * CELL_M
    cells = pd.DataFrame({"cell_id": np.arange(rows.size), "row": rows, "col": cols,
                          "x": x, "y": y, "area_m2": CELL_M * CELL_M})
    cells["residential_m2"] = (np.full(rows.size, np.nan) if residential_m2 is None
                               else residential_m2)
    for group, values in (pop or {"total": np.ones(rows.size)}).items():
        cells[f"pop_{group}"] = np.asarray(values, dtype=float)
    for level, values in (cell_units or {}).items():
        cells[f"unit__{level}"] = pd.Series(list(values), dtype=object)
    if settlement is not None:
        cells["settlement"] = pd.Series(list(settlement), dtype=object)
    fac = pd.DataFrame({
        "facility_id": [f"f{i}" for i in range(len(facilities))],
        "category": [f.category for f in facilities],
        "capacity": [f.capacity for f in facilities],
        "ownership": [f.ownership for f in facilities],
        "area_m2": [f.area_m2 for f in facilities],
        "fx": [(f.col + 0.5) * CELL_M for f in facilities],
        "fy": [(n_rows - f.row - 0.5) * CELL_M for f in facilities],
    })
    levels = sorted({k for f in facilities for k in (f.units or {})})
    for level in levels:
        fac[f"unit__{level}"] = pd.Series([(f.units or {}).get(level) for f in facilities],
                                          dtype=object)
    for cat in sorted(set(fac["category"])):
        sub = fac[fac["category"] == cat]
        d = np.hypot(x[:, None] - sub["fx"].to_numpy()[None, :],
                     y[:, None] - sub["fy"].to_numpy()[None, :])
        cells[f"dist_m__{cat}"] = d.min(axis=1)
        if drive_speed_kmh is not None:
            cells[f"drive_time_min__{cat}"] = d.min(axis=1) / (drive_speed_kmh * 1000 / 60)
        if ebike_speed_kmh is not None:
            cells[f"ebike_time_min__{cat}"] = d.min(axis=1) / (ebike_speed_kmh * 1000 / 60)

    def catchments(category: str, max_dist_m: float):
        sub = fac[fac["category"] == category]
        d = np.hypot(x[:, None] - sub["fx"].to_numpy()[None, :],
                     y[:, None] - sub["fy"].to_numpy()[None, :])
        ci, fi = np.nonzero(d <= max_dist_m)
        return fi, ci, d[ci, fi]

    return TargetInputs(
        cells=cells, facilities=fac.drop(columns=["fx", "fy"]), units=units or {},
        walk_speed_kmh=walk_speed_kmh or {"total": 4.0},
        catchments=catchments if with_catchments else None,
        data_warnings=data_warnings or {}, groups_derived={})


def catalogue_5min_in_minutes(tmp_path: Path) -> Path:
    """The shipped catalogue with GB 50180 levels of its own: the 5-minute level in minutes."""
    text = (CATALOGUE_DIR / "targets.toml").read_text(encoding="utf-8")
    for key, lv in vocabulary.life_circle_levels().items():
        reach = "max_time_min = 5" if key == "5min" else f"max_dist_m = {lv.max_dist_m}"
        cats = ", ".join(f'"{c}"' for c in lv.categories)
        text += f'\n[life_circle.{key}]\n{reach}\nlower = "{lv.lower}"\ncategories = [{cats}]\n'
    path = tmp_path / "cat.toml"
    path.write_text(text, encoding="utf-8")
    return path
