"""What changed between two recorded runs: targets, units and facilities.

:func:`compare_runs` reads two records of a :class:`lifecircle.history.History` and
returns a :class:`Comparison`: each target's value then and now and the change,
targets newly met or lost, units that improved or fell behind, and facilities added
or removed. Facilities are matched by id, then by name and category within
``name_match_m``, then by category and location within ``location_match_m``; only
those left unmatched count as added or removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifecircle.history import History, RunRecord

__all__ = ["Comparison", "compare_runs", "match_facilities"]

#: Values closer than this count as unchanged (floating-point noise, not a change).
VALUE_TOL = 1e-9


@dataclass(frozen=True)
class Comparison:
    """Differences between an earlier run (``then``) and a later one (``now``).

    Attributes
    ----------
    then, now
        The two records.
    targets
        One row per target in either run: ``target_id, name_zh, name_en,
        value_then, value_now, change, status_then, status_now, changed``.
    newly_met, lost
        Target ids met now but not then, and met then but not now.
    units_improved, units_worse
        Per-unit rows whose value rose / fell (or whose verdict flipped):
        ``target_id, level, unit_id, name, value_then, value_now, change,
        met_then, met_now``.
    facilities_added, facilities_removed
        Facilities only in ``now`` / only in ``then`` (``facility_id, name,
        category, lon, lat``).
    facilities_matched
        Facilities matched other than by id (renamed or moved): ``facility_id_then,
        facility_id_now, name, category, how``.
    """

    then: RunRecord
    now: RunRecord
    targets: pd.DataFrame
    newly_met: list[str]
    lost: list[str]
    units_improved: pd.DataFrame
    units_worse: pd.DataFrame
    facilities_added: pd.DataFrame
    facilities_removed: pd.DataFrame
    facilities_matched: pd.DataFrame

    @property
    def changed_targets(self) -> pd.DataFrame:
        """Rows of :attr:`targets` whose value or verdict changed."""
        return self.targets[self.targets["changed"]]


def _metres(lon1: np.ndarray, lat1: np.ndarray, lon2: float, lat2: float) -> np.ndarray:
    """Great-circle distance in metres (haversine)."""
    r = 6_371_008.8
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(a))


def match_facilities(then: pd.DataFrame, now: pd.DataFrame, *, name_match_m: float = 300.0,
                     location_match_m: float = 30.0,
                     ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Added, removed and otherwise-matched facilities between two facility lists.

    Parameters
    ----------
    then, now
        Facility lists with ``facility_id, name, category, lon, lat``.
    name_match_m
        Same name and category within this distance: the same facility (re-surveyed).
    location_match_m
        Same category within this distance: the same facility (renamed or re-keyed).

    Returns
    -------
    (added, removed, matched)
    """
    same_id = set(then["facility_id"]) & set(now["facility_id"])
    old = then[~then["facility_id"].isin(same_id)].reset_index(drop=True)
    new = now[~now["facility_id"].isin(same_id)].reset_index(drop=True)
    used_old: set[int] = set()
    used_new: set[int] = set()
    matched = []
    for how, radius, by_name in (("name", name_match_m, True),
                                 ("location", location_match_m, False)):
        for j, f in new.iterrows():
            if j in used_new:
                continue
            cand = old[(old["category"] == f["category"]) & ~old.index.isin(used_old)]
            if by_name:
                cand = cand[cand["name"].notna() & (cand["name"] == f["name"])]
            if cand.empty:
                continue
            d = _metres(cand["lon"].to_numpy(float), cand["lat"].to_numpy(float),
                        float(f["lon"]), float(f["lat"]))
            k = int(np.argmin(d))
            if d[k] <= radius:
                i = int(cand.index[k])
                used_old.add(i)
                used_new.add(int(j))
                matched.append({"facility_id_then": old.at[i, "facility_id"],
                                "facility_id_now": f["facility_id"], "name": f["name"],
                                "category": f["category"], "how": how,
                                "moved_m": float(d[k])})
    added = new[~new.index.isin(used_new)].reset_index(drop=True)
    removed = old[~old.index.isin(used_old)].reset_index(drop=True)
    cols = ["facility_id_then", "facility_id_now", "name", "category", "how", "moved_m"]
    return added, removed, pd.DataFrame(matched, columns=cols)


def _changed(a: pd.Series, b: pd.Series) -> pd.Series:
    both_nan = a.isna() & b.isna()
    diff = (a - b).abs() > VALUE_TOL
    return ~both_nan & (diff | (a.isna() != b.isna()))


def compare_runs(history: History, then: str | int, now: str | int | None = None,
                 ) -> Comparison:
    """Compare two recorded runs.

    Parameters
    ----------
    history
        The run history.
    then
        Id or label of the earlier run.
    now
        Id or label of the later run (default: the latest recorded run).

    Raises
    ------
    lifecircle.history.HistoryError
        Unknown id or label, or nothing recorded.
    """
    r_then = history.get(then)
    r_now = history.latest() if now is None else history.get(now)
    t0, t1 = history.targets(r_then.run_id), history.targets(r_now.run_id)
    t = t1[["target_id", "name_zh", "name_en", "value", "status"]].merge(
        t0[["target_id", "name_zh", "name_en", "value", "status"]], on="target_id",
        how="outer", suffixes=("_now", "_then"))
    for c in ("name_zh", "name_en"):
        t[c] = t[f"{c}_now"].fillna(t[f"{c}_then"])
    t = t.rename(columns={"value_now": "value_now", "value_then": "value_then"})
    t["change"] = t["value_now"] - t["value_then"]
    t["changed"] = _changed(t["value_now"], t["value_then"]) | (
        t["status_now"].fillna("") != t["status_then"].fillna(""))
    order = {tid: i for i, tid in enumerate(list(t1["target_id"]) + list(t0["target_id"]))}
    t = t.assign(_o=t["target_id"].map(order)).sort_values("_o")
    targets = t[["target_id", "name_zh", "name_en", "value_then", "value_now", "change",
                 "status_then", "status_now", "changed"]].reset_index(drop=True)
    newly_met = targets.loc[(targets["status_now"] == "met")
                            & (targets["status_then"] != "met"), "target_id"].tolist()
    lost = targets.loc[(targets["status_then"] == "met")
                       & (targets["status_now"] != "met"), "target_id"].tolist()

    key = ["target_id", "level", "unit_id"]
    u0, u1 = history.units(r_then.run_id), history.units(r_now.run_id)
    u = u1[[*key, "name", "value", "met"]].merge(u0[[*key, "value", "met"]], on=key,
                                                  how="inner", suffixes=("_now", "_then"))
    u["change"] = u["value_now"] - u["value_then"]
    moved = _changed(u["value_now"], u["value_then"])
    flip = u["met_now"].fillna(False).astype(bool) != u["met_then"].fillna(False).astype(bool)
    up = (moved & (u["change"] > 0)) | (flip & u["met_now"].fillna(False).astype(bool))
    down = (moved & (u["change"] < 0)) | (flip & u["met_then"].fillna(False).astype(bool))
    cols = [*key, "name", "value_then", "value_now", "change", "met_then", "met_now"]
    added, removed, matched = match_facilities(history.facilities(r_then.run_id),
                                               history.facilities(r_now.run_id))
    return Comparison(then=r_then, now=r_now, targets=targets, newly_met=newly_met, lost=lost,
                      units_improved=u.loc[up, cols].reset_index(drop=True),
                      units_worse=u.loc[down & ~up, cols].reset_index(drop=True),
                      facilities_added=added, facilities_removed=removed,
                      facilities_matched=matched)
