"""Age structure of every Chinese county from the 2020 census (bundled table).

``gridded_pop/data/census2020_age.csv`` (see ``PROVENANCE.md`` there) holds, per
6-digit administrative code, the resident population and the persons aged 0,
1–4, 5–9 and 60+. The shares of the population groups are derived with ages
spread uniformly within a band:

* ``age_0_2`` = (age 0 + ½ × ages 1–4) / total;
* ``age_3_5`` = (½ × ages 1–4 + ⅕ × ages 5–9) / total;
* ``age_60_plus`` = ages 60+ / total.

A study area asks for them with ``shares = "census2020"`` on a census population
source whose join column holds administrative codes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["CENSUS2020", "CENSUS2020_GROUPS", "census2020_shares", "census2020_table",
           "county_code"]

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
