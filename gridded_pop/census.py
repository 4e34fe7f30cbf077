"""Census totals per administrative unit, disaggregated onto the analysis grid.

For each unit (district, township) with a population figure:

1. Only the part of the unit inside the study area counts, in proportion to its
   area: ``P_in = P × area(unit ∩ study area) / area(unit)``; the rest is
   reported as outside the study area.
2. ``P_in`` is spread over the cells of ``unit ∩ study area`` dasymetrically, by
   the weights of :class:`~gridded_pop.ancillary.DasymetricWeights` applied to
   OSM residential land, buildings and other dry land; water gets nobody.
3. Where the unit has no residential land and no building inside the study area
   (or no ancillary data was asked for) its people are spread uniformly over its
   dry land (over its whole area if it is all water), and a note says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from tqdm.auto import tqdm

from access.crs import to_metric
from access.errors import InputFileError
from access.i18n import bar, say
from access.rejects import RejectLog
from gridded_pop._result import SourceResult
from gridded_pop.ancillary import DasymetricWeights, LandCover
from gridded_pop.census2020 import CENSUS2020, CENSUS2020_GROUPS, census2020_shares
from gridded_pop.errors import PopulationUnitsError
from gridded_pop.grid import GridSpec
from gridded_pop.groups import GROUPS
from gridded_pop.overlay import polygon_cell_areas
from gridded_pop.sources import CensusSource
from gridded_pop.vector import read_vector_file, valid_counts

__all__ = ["dasymetric_weights", "load_census_source", "read_census_table"]

log = logging.getLogger(__name__)


def _key_strings(series: pd.Series) -> pd.Series:
    """Join keys as text; integral numbers lose a trailing '.0'."""
    if pd.api.types.is_numeric_dtype(series):
        num = series.to_numpy(dtype=float, na_value=np.nan)
        if np.all(np.isnan(num) | (num == np.round(num))):
            return pd.Series([None if np.isnan(v) else str(int(v)) for v in num],
                             index=series.index, dtype=object)
    return series.map(lambda v: None if pd.isna(v) else str(v).strip())


def read_census_table(path: Path, *, join_column: str, encoding: str = "utf-8-sig",
                      ) -> pd.DataFrame:
    """Read a census CSV with every column as text; duplicate keys are an error.

    Raises
    ------
    InputFileError
        Unreadable file, wrong encoding, missing join column, or a unit listed twice.
    """
    try:
        table = pd.read_csv(path, dtype=str, encoding=encoding, keep_default_na=False)
    except UnicodeDecodeError as exc:
        raise InputFileError(f"the file is not valid {encoding} text; set encoding = "
                             "\"gb18030\" for GBK files", path=path) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(f"cannot read the file as CSV ({exc})", path=path) from exc
    table.columns = [str(c).strip() for c in table.columns]
    if join_column not in table.columns:
        raise InputFileError(f"no column '{join_column}'; columns: " + ", ".join(table.columns),
                             path=path, column=join_column)
    keys = table[join_column].str.strip()
    dup = keys.duplicated() & (keys != "")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputFileError(f"unit '{keys.iloc[i]}' is listed twice", path=path, row=i + 1,
                             column=join_column)
    table[join_column] = keys
    return table


def _share_column(table: pd.DataFrame, column: str, *, path: Path, group: str) -> np.ndarray:
    if column not in table.columns:
        raise InputFileError(f"no column '{column}' for the share of '{group}'; columns: "
                             + ", ".join(table.columns), path=path, column=column)
    raw = table[column].str.strip()
    values = pd.to_numeric(raw.str.rstrip("%"), errors="coerce").to_numpy(dtype=float,
                                                                          na_value=np.nan)
    pct = raw.str.endswith("%").to_numpy()
    values = np.where(pct, values / 100, values)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputFileError(f"share '{raw.iloc[i]}' is not a fraction", path=path, row=i + 1,
                             column=column)
    over = values > 1
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise PopulationUnitsError(
            f"share {raw.iloc[i]} is more than the whole; give fractions (0.1929) or "
            "percentages with a % sign (19.29%)", path=path, row=i + 1, column=column)
    return values


def _census2020_column(table: pd.DataFrame, source: CensusSource, group: str,
                       rows: np.ndarray) -> np.ndarray:
    """Share of ``group`` per row from the 2020 census table, matched by admin code."""
    shares = census2020_shares(table[source.join_column].tolist())
    missing = np.flatnonzero(rows & shares["code"].isna().to_numpy())
    if len(missing):
        i = int(missing[0])
        others = ", ".join(str(table[source.join_column].iloc[j]) for j in missing[1:6])
        raise InputFileError(
            f"'{table[source.join_column].iloc[i]}' is no administrative code of the 2020 "
            f"census table (6-digit county codes, optionally prefixed by 156, or 9/12-digit "
            f"township/village codes){'; also ' + others if others else ''}: give shares "
            f"as fractions instead of \"{CENSUS2020}\"", path=source.table, row=i + 1,
            column=source.join_column)
    return shares[group].to_numpy(float)


def _census2020_note(table: pd.DataFrame, source: CensusSource,
                     rows: np.ndarray) -> tuple[str, str]:
    """Which counties and shares the 2020 census table gave, as a (zh, en) note."""
    shares = census2020_shares(table[source.join_column].tolist())
    groups = [g for g in CENSUS2020_GROUPS if source.shares.get(g) == CENSUS2020]
    zh_parts, en_parts = [], []
    seen = set()
    for i in np.flatnonzero(rows):
        r = shares.iloc[i]
        if r["code"] in seen:
            continue
        seen.add(r["code"])
        zh_parts.append(f"{r['county']}（{r['code']}）" + "、".join(
            f"{GROUPS[g][0]} {r[g]:.2%}" for g in groups))
        en_parts.append(f"{r['county']} ({r['code']}) " + ", ".join(
            f"{g} {r[g]:.2%}" for g in groups))
    return (f"{source.label}：各单元年龄结构取自2020年第七次人口普查分县数据"
            f"（年龄段内按单岁均匀分布，0–2岁 = 0岁 + 1–4岁的一半）：{'；'.join(zh_parts)}",
            f"{source.label}: age structure of each unit from the 2020 census by county "
            f"(ages uniform within a 5-year band: 0-2 = age 0 + half of 1-4): "
            f"{'; '.join(en_parts)}")


def dasymetric_weights(clip: shapely.Geometry, spec: GridSpec, *, cover: LandCover | None,
                       weights: DasymetricWeights) -> tuple[np.ndarray, np.ndarray, str]:
    """Weight of each cell of ``clip`` for spreading a unit's residents.

    Parameters
    ----------
    clip
        The part of the unit inside the study area (analysis CRS).
    cover
        Ancillary land cover, or None for uniform density.
    weights
        Weight per m² of each land-cover class.

    Returns
    -------
    cell_id, weight, method
        Cells with a positive weight; ``method`` is ``"dasymetric"``,
        ``"uniform_land"`` (no residential land or building: uniform over dry
        land) or ``"uniform"``.
    """
    if cover is not None:
        lc = cover.clipped(clip)
        land = shapely.difference(clip, lc.water)
        has_homes = lc.residential.area > 0 or lc.building.area > 0
        if has_homes:
            r_id, r_a = polygon_cell_areas(lc.residential, spec)
            b_id, b_a = polygon_cell_areas(lc.building, spec)
            l_id, l_a = polygon_cell_areas(land, spec)
            ids = np.concatenate([r_id, b_id, l_id, r_id])
            w = np.concatenate([weights.residential * r_a, weights.building * b_a,
                                weights.other * l_a, -weights.other * r_a])
            uniq, inv = np.unique(ids, return_inverse=True)
            cell_w = np.maximum(np.bincount(inv, weights=w), 0.0)
            keep = cell_w > 0
            if cell_w[keep].sum() > 0:
                return uniq[keep], cell_w[keep], "dasymetric"
        if land.area > 0:
            ids, area = polygon_cell_areas(land, spec)
            return ids, area, "uniform_land"
    ids, area = polygon_cell_areas(clip, spec)
    return ids, area, "uniform"


@dataclass
class _Acc:
    grid: np.ndarray
    population_in: float = 0.0
    outside: float = 0.0
    rejected: float = 0.0
    notes: list[tuple[str, str]] = field(default_factory=list)


_METHOD_TEXT = {
    "dasymetric": ("按居住用地与建筑面积分配", "spread by residential land and buildings"),
    "uniform_land": ("无居住用地或建筑数据，按陆地面积均匀分配",
                     "no residential land or buildings mapped: spread evenly over dry land"),
    "uniform": ("按面积均匀分配", "spread evenly by area"),
}


def load_census_source(source: CensusSource, spec: GridSpec, *, boundary: shapely.Geometry,
                       cover: LandCover | None, rejects: RejectLog,
                       progress: bool = False) -> dict[str, SourceResult]:
    """Disaggregate a census table onto the grid, for its group and derived groups.

    Parameters
    ----------
    source
        The parsed ``[[population]]`` table.
    spec
        The analysis grid.
    boundary
        Study area polygon in ``spec.crs``.
    cover
        Ancillary land cover (None: uniform density).
    rejects
        Receives rows with invalid values or no matching boundary.
    progress
        Show a progress bar over units.

    Returns
    -------
    dict
        Group -> :class:`SourceResult` (already clipped to the study area): the
        source's group, and one per share in ``source.shares``.
    """
    assert source.table is not None
    assert source.boundaries is not None
    table = read_census_table(source.table, join_column=source.join_column,
                              encoding=source.encoding)
    values, ok = valid_counts(table, source.value_column, path=source.table, rejects=rejects,
                              label=source.label)
    keys = table[source.join_column]
    no_key = ok & (keys == "").to_numpy()
    for i in np.flatnonzero(no_key):
        rejects.add(source.label, int(i) + 1, "no_matching_unit",
                    (f"'{source.join_column}' 为空", f"empty '{source.join_column}'"),
                    kind="population",
                    population=float(values[i]))
    factors: dict[str, np.ndarray] = {source.group: np.ones(len(table))}
    census_notes: list[tuple[str, str]] = []
    for group, share in source.shares.items():
        if share == CENSUS2020:
            factors[group] = _census2020_column(table, source, group, ok & ~no_key)
        else:
            factors[group] = (np.full(len(table), float(share)) if isinstance(share, float)
                              else _share_column(table, share, path=source.table,
                                                 group=group))
    if any(v == CENSUS2020 for v in source.shares.values()):
        census_notes.append(_census2020_note(table, source, ok & ~no_key))

    units = read_vector_file(source.boundaries)
    bcol = source.boundaries_join_column or source.join_column
    if bcol not in units.columns:
        cols = [str(c) for c in units.columns if c != "geometry"]
        raise InputFileError(f"no column '{bcol}'; columns: " + ", ".join(cols),
                             path=source.boundaries, column=bcol)
    units = to_metric(units, spec.crs, source=source.boundaries, stated=source.crs)
    ukeys = _key_strings(units[bcol])
    geoms = shapely.make_valid(units.geometry.to_numpy())
    by_key: dict[str, shapely.Geometry] = {}
    for k, g in zip(ukeys, geoms, strict=True):
        if k is None or g is None or shapely.is_empty(g):
            continue
        by_key[k] = g if k not in by_key else shapely.union(by_key[k], g)

    accs = {g: _Acc(np.zeros(spec.n_cells)) for g in factors}
    methods: dict[str, list[str]] = {}
    n_rejected = int((~ok).sum() + no_key.sum())
    for i in np.flatnonzero(no_key):
        for g, acc in accs.items():
            acc.population_in += factors[g][i] * float(values[i])
            acc.rejected += factors[g][i] * float(values[i])
    shapely.prepare(boundary)
    rows = np.flatnonzero(ok & ~no_key)
    for i in tqdm(rows, disable=not progress, desc=bar("bar_census"), unit=bar("unit_unit")):
        key = keys.iloc[i]
        p_u = float(values[i])
        for g, acc in accs.items():
            acc.population_in += factors[g][i] * p_u
        geom = by_key.get(key)
        if geom is None or geom.area <= 0:
            rejects.add(source.label, int(i) + 1, "no_matching_unit",
                        (f"{source.boundaries.name} 中没有 {bcol} = '{key}' 的边界",
                         f"no boundary with {bcol} = '{key}' in {source.boundaries.name}"),
                        kind="population", population=p_u)
            n_rejected += 1
            for g, acc in accs.items():
                acc.rejected += factors[g][i] * p_u
            continue
        clip = shapely.intersection(geom, boundary)
        share_in = min(1.0, clip.area / geom.area)
        placed = 0.0
        contrib = None
        if share_in > 0 and p_u > 0:
            ids, w, method = dasymetric_weights(clip, spec, cover=cover, weights=source.weights)
            methods.setdefault(method, []).append(key)
            if w.sum() > 0:
                contrib = (ids, p_u * share_in * w / w.sum())
                placed = float(contrib[1].sum())
        for g, acc in accs.items():
            f = factors[g][i]
            if contrib is not None:
                acc.grid[contrib[0]] += f * contrib[1]
            acc.outside += f * (p_u - placed)
        log.debug("%s %s: %.0f persons, %.1f%% of its area in the study area", source.label,
                  key, p_u, 100 * share_in)

    # units inside the study area without a population figure
    known = set(keys[ok & ~no_key])
    missing = sorted(k for k, g in by_key.items()
                     if k not in known and shapely.intersects(g, boundary)
                     and shapely.intersection(g, boundary).area > 0.001 * spec.cell_size_m ** 2)
    notes: list[tuple[str, str]] = list(census_notes)
    for method, ks in methods.items():
        zh, en = _METHOD_TEXT[method]
        if method != "dasymetric" or len(methods) > 1:
            notes.append((f"{source.label}：{', '.join(ks)} {zh}",
                          f"{source.label}: {', '.join(ks)} {en}"))
    if methods.get("dasymetric"):
        wt = source.weights
        notes.append((f"{source.label}：普查人口按研究区内面积比例计入，并按居住用地（权重"
                      f"{wt.residential:g}）、建筑（{wt.building:g}）与其他陆地（{wt.other:g}）"
                      "分配到网格",
                      f"{source.label}: census totals counted in proportion to the unit area "
                      f"inside the study area and spread by residential land (weight "
                      f"{wt.residential:g}), buildings ({wt.building:g}) and other dry land "
                      f"({wt.other:g})"))
    if missing:
        notes.append((f"{source.label}：以下单元位于研究区内但无人口数据：{', '.join(missing)}",
                      f"{source.label}: these units lie in the study area but have no "
                      f"population figure: {', '.join(missing)}"))
        log.warning(say("log_census_missing", source=source.label, units=", ".join(missing)))
    out = {}
    for g, acc in accs.items():
        out[g] = SourceResult(acc.grid.reshape(spec.shape), acc.population_in,
                              outside=acc.outside, rejected=acc.rejected,
                              rejected_rows=n_rejected, clipped=True, notes=list(notes))
    return out
