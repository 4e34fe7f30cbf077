"""Cleaning facility records: study-area test, duplicate merging, stable ids.

Pure functions of arrays and record frames; the loader (:mod:`facilities.load`)
wires them together and writes the rejects.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence

import numpy as np
import shapely
from scipy.spatial import cKDTree

__all__ = ["facility_id", "find_duplicates", "inside_area", "names_similar", "normalise_name"]

_BRACKETS = re.compile(r"[（(\[【].*?[）)\]】]")
_PUNCT = re.compile(r"[\s\-_·.,，。、'\"“”‘’:：;；/\\]+")


def inside_area(lon: np.ndarray, lat: np.ndarray, boundary: shapely.Geometry) -> np.ndarray:
    """Whether each WGS-84 point lies in (or on the edge of) ``boundary``; NaN is False."""
    lon = np.asarray(lon, float)
    lat = np.asarray(lat, float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    out = np.zeros(lon.shape, dtype=bool)
    if ok.any():
        shapely.prepare(boundary)
        out[ok] = shapely.intersects_xy(boundary, lon[ok], lat[ok])
    return out


def normalise_name(name: str) -> str:
    """Name for comparison: bracketed parts, spaces and punctuation removed, lower case."""
    return _PUNCT.sub("", _BRACKETS.sub("", str(name))).lower()


def names_similar(a: str, b: str, *, min_ratio: float = 0.6) -> bool:
    """Whether two facility names denote the same facility.

    Both must be non-empty. They match when equal after :func:`normalise_name`,
    when one contains the other (at least two characters), or when their
    difflib similarity ratio reaches ``min_ratio``.
    """
    na, nb = normalise_name(a), normalise_name(b)
    if not na or not nb:
        return False
    if na == nb:
        return True
    if min(len(na), len(nb)) >= 2 and (na in nb or nb in na):
        return True
    return difflib.SequenceMatcher(None, na, nb).ratio() >= min_ratio


def find_duplicates(x_m: np.ndarray, y_m: np.ndarray, categories: Sequence[str],
                    names: Sequence[str], *, dist_m: float, min_ratio: float = 0.6
                    ) -> np.ndarray:
    """Assign each record to the record it duplicates.

    Records are taken in the order given (earlier = higher precedence). A record
    not yet assigned keeps itself; every later unassigned record of the same
    category within ``dist_m`` metres and with a similar name
    (:func:`names_similar`) is merged into it.

    Parameters
    ----------
    x_m, y_m
        Metric coordinates.
    categories, names
        Per record.
    dist_m
        Merge distance in metres.

    Returns
    -------
    numpy.ndarray
        ``keeper[i]``: index of the record that ``i`` is merged into (``i`` itself
        for kept records).
    """
    n = len(x_m)
    keeper = np.arange(n)
    if n == 0 or dist_m <= 0:
        return keeper
    cats = np.asarray(categories, dtype=object)
    for cat in dict.fromkeys(cats):
        idx = np.flatnonzero(cats == cat)
        if len(idx) < 2:
            continue
        tree = cKDTree(np.column_stack([x_m[idx], y_m[idx]]))
        assigned = np.zeros(len(idx), dtype=bool)
        for a in range(len(idx)):
            if assigned[a]:
                continue
            assigned[a] = True
            for b in sorted(tree.query_ball_point([x_m[idx[a]], y_m[idx[a]]], r=dist_m)):
                if b <= a or assigned[b]:
                    continue
                if names_similar(names[idx[a]], names[idx[b]], min_ratio=min_ratio):
                    assigned[b] = True
                    keeper[idx[b]] = idx[a]
    return keeper


def facility_id(source: str, source_row: str) -> str:
    """Stable identifier of a facility: a hash of its source label and row."""
    digest = hashlib.sha1(f"{source}\x1f{source_row}".encode()).hexdigest()
    return f"f{digest[:12]}"
