"""Age structure of every Chinese county from the 2020 census (bundled table).

``gridded_pop/data/census2020_age.csv`` (see ``PROVENANCE.md`` there) holds, per
6-digit administrative code, the resident population and the persons aged 0,
1–4, 5–9 and 60+. The shares of the population groups are derived with ages
spread uniformly within a band:

* ``age_0_2`` = (age 0 + ½ × ages 1–4) / total;
* ``age_3_5`` = (½ × ages 1–4 + ⅕ × ages 5–9) / total;
* ``age_60_plus`` = ages 60+ / total.

A study area asks for them with ``shares = "census2020"`` on a census population
source whose join column holds administrative codes, or on a raster or vector source
of the total population when the study area's units (``[[units]]``) carry
administrative codes as ids: each cell then takes the shares of the county its
unit lies in (:func:`cell_counties`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gridded_pop.grid import GridSpec

__all__ = ["CENSUS2020", "CENSUS2020_GROUPS", "CellCounties", "cell_counties",
           "census2020_shares", "census2020_table", "county_code"]

#: The value of ``shares`` (or of one group's share) asking for the census table.
CENSUS2020 = "census2020"
#: Groups the table gives shares for.
CENSUS2020_GROUPS = ("age_60_plus", "age_0_2", "age_3_5")


@functools.cache
def census2020_table() -> pd.DataFrame:
    """The bundled table with the three group shares added, indexed by ``code``."""
    ref = resources.files("gridded_pop") / "data" / "census2020_age.csv"
    with resources.as_file(ref) as path:
        df = pd.read_csv(path, dtype={"code": str})
    total = df["total"].to_numpy(float)
    df["share_age_0_2"] = (df["age_0"] + 0.5 * df["age_1_4"]) / total
    df["share_age_3_5"] = (0.5 * df["age_1_4"] + 0.2 * df["age_5_9"]) / total
    df["share_age_60_plus"] = df["age_60_plus"] / total
    return df.set_index("code")


def county_code(key: object) -> str | None:
    """The 6-digit code of the county (or prefecture, province) an admin code names.

    Accepts 6-digit codes (``410225``), codes with the country prefix 156
    (``156510104``, as in the bundled sample) and township or village codes of 9 or
    12 digits (their first six digits). None when the key is no such code.
    """
    digits = re.sub(r"\D", "", str(key))
    if len(digits) == 9 and digits.startswith("156"):
        return digits[3:]
    if len(digits) in (6, 9, 12):
        return digits[:6]
    return None


def census2020_shares(keys: Sequence[object]) -> pd.DataFrame:
    """Group shares for each admin code in ``keys`` (one row per key, in order).

    Returns
    -------
    pandas.DataFrame
        ``key, code, province, prefecture, county, total, age_60_plus, age_0_2,
        age_3_5`` (shares as fractions); ``code`` is None and the shares NaN for a
        key matching no row of the table.
    """
    table = census2020_table()
    rows = []
    for key in keys:
        code = county_code(key)
        if code is None or code not in table.index:
            rows.append({"key": key, "code": None, "province": "", "prefecture": "",
                         "county": "", "total": np.nan,
                         **dict.fromkeys(CENSUS2020_GROUPS, np.nan)})
            continue
        r = table.loc[code]
        rows.append({"key": key, "code": code, "province": r["province"],
                     "prefecture": r["prefecture"], "county": r["county"],
                     "total": float(r["total"]),
                     **{g: float(r[f"share_{g}"]) for g in CENSUS2020_GROUPS}})
    return pd.DataFrame(rows)


@dataclass
class CellCounties:
    """The county of every analysis cell, found through the study area's units.

    Attributes
    ----------
    level
        The units level whose ids are administrative codes.
    code
        ``spec.shape`` array of 6-digit county codes (``""`` where none is known).
    unmatched_units
        Ids of that level's units that name no county of the table.
    """

    level: str
    code: np.ndarray
    unmatched_units: list[str]


def cell_counties(spec: GridSpec, units: Mapping[str, Any],
                  weights: np.ndarray | None = None) -> CellCounties | None:
    """County of each cell from the units level whose ids are county (or finer) codes.

    Of the levels given, the one with the largest share of ids naming a county of
    the table is used (ties: the one with more units). A cell takes the unit its
    centre lies in; a cell with ``weights > 0`` whose centre lies in no unit takes
    the nearest unit.

    Parameters
    ----------
    spec
        The analysis grid.
    units
        Level -> GeoDataFrame with ``unit_id`` and polygons in ``spec.crs``.
    weights
        ``spec.shape`` persons; cells with persons are always given a unit.

    Returns
    -------
    CellCounties or None
        None when no level has an id naming a county of the table.
    """
    table = census2020_table()
    best: tuple[float, int, str] | None = None
    for level, gdf in units.items():
        if not len(gdf):
            continue
        codes = [county_code(u) for u in gdf["unit_id"]]
        hit = sum(c is not None and c in table.index for c in codes) / len(codes)
        if hit > 0 and (best is None or (hit, len(gdf)) > best[:2]):
            best = (hit, len(gdf), level)
    if best is None:
        return None
    level = best[2]
    gdf = units[level]
    unit_code = np.array([c if c is not None and c in table.index else ""
                          for c in map(county_code, gdf["unit_id"])], dtype=object)
    x, y = spec.cell_centres()
    pts = shapely.points(x, y)
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    tree = shapely.STRtree(geoms)
    pi, ui = tree.query(pts, predicate="intersects")
    which = np.full(pts.size, -1, dtype=np.int64)
    # first unit listed wins where polygons overlap
    order = np.lexsort((ui, pi))
    pi, ui = pi[order], ui[order]
    first = np.r_[True, pi[1:] != pi[:-1]] if pi.size else np.zeros(0, bool)
    which[pi[first]] = ui[first]
    if weights is not None:
        lost = np.flatnonzero((which < 0) & (np.asarray(weights).ravel() > 0))
        if lost.size:
            li, ni = tree.query_nearest(pts[lost], all_matches=False)
            which[lost[li]] = ni
    code = np.where(which >= 0, unit_code[np.maximum(which, 0)], "").astype(object)
    unmatched = [str(u) for u, c in zip(gdf["unit_id"], unit_code, strict=True) if not c]
    return CellCounties(level=level, code=code.reshape(spec.shape), unmatched_units=unmatched)
