"""Saved scenarios, kept on the server beside the results folder (SQLite).

``<results>.scenarios.sqlite`` sits next to the results folder ``<results>`` so that a
new run, which replaces the folder as a whole, keeps them.

Every user of one dashboard server sees the same scenarios; they survive page
reloads and server restarts. Each scenario is a name, its edits (the JSON of
:func:`dashboards.state.check_edits`), its author and its times. Scenarios export to
and import from GeoJSON (one feature per edit) and Excel (one row per edit).
"""

from __future__ import annotations

import builtins
import datetime as dt
import io
import json
import math
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from access.errors import LifecircleError

__all__ = ["SavedScenario", "ScenarioStore", "StoreError", "edits_from_geojson",
           "edits_from_xlsx", "edits_to_geojson", "edits_to_xlsx", "path_beside"]

FILE_NAME = "scenarios.sqlite"
MAX_NAME = 80
_FIELDS = ("action", "category", "facility_id", "lon", "lat", "name", "capacity")


class StoreError(LifecircleError, ValueError):
    """A scenario name, file or operation that cannot be accepted."""


@dataclass(frozen=True)
class SavedScenario:
    """One saved scenario."""

    name: str
    edits: list[dict[str, Any]]
    author: str
    created_utc: str
    updated_utc: str


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def check_name(name: Any) -> str:
    """A scenario name: text, stripped, 1..:data:`MAX_NAME` characters, no control chars."""
    if not isinstance(name, str):
        raise StoreError("a scenario name must be text")
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise StoreError(f"a scenario name needs 1 to {MAX_NAME} printable characters")
    return name


def path_beside(results_dir: str | Path) -> Path:
    """Where the scenarios of a results folder live: ``<folder>.scenarios.sqlite`` beside it.

    Beside, not inside: a new run replaces the results folder as a whole (written
    aside and swapped in), and the scenarios must outlive it.
    """
    out = Path(results_dir).absolute()
    return out.parent / f"{out.name}.{FILE_NAME}"


class ScenarioStore:
    """Saved scenarios in one SQLite file.

    Parameters
    ----------
    folder
        Folder of ``scenarios.sqlite`` (created if missing), when ``path`` is not given.
    path
        The SQLite file itself (see :meth:`for_results`).
    """

    @classmethod
    def for_results(cls, results_dir: str | Path) -> ScenarioStore:
        """The scenarios of a results folder, kept beside it (:func:`path_beside`).

        Scenarios an earlier version kept inside the folder (``<folder>/scenarios.sqlite``)
        are copied beside it the first time.
        """
        path = path_beside(results_dir)
        old = Path(results_dir) / FILE_NAME
        if not path.exists() and old.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(old) as src, sqlite3.connect(path) as dst:
                src.backup(dst)
        return cls(path.parent, path=path)

    def __init__(self, folder: str | Path, *, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else Path(folder) / FILE_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute("CREATE TABLE IF NOT EXISTS scenarios (name TEXT PRIMARY KEY, "
                        "edits TEXT NOT NULL, author TEXT NOT NULL, created_utc TEXT NOT NULL, "
                        "updated_utc TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=10)
        con.execute("PRAGMA journal_mode=WAL")
        return con

    def list(self) -> list[SavedScenario]:
        """Every saved scenario, oldest first."""
        with self._lock, self._connect() as con:
            rows = con.execute("SELECT name, edits, author, created_utc, updated_utc "
                               "FROM scenarios ORDER BY rowid").fetchall()
        return [SavedScenario(r[0], json.loads(r[1]), r[2], r[3], r[4]) for r in rows]

    def get(self, name: str) -> SavedScenario | None:
        """The scenario called ``name``, or None."""
        with self._lock, self._connect() as con:
            r = con.execute("SELECT name, edits, author, created_utc, updated_utc "
                            "FROM scenarios WHERE name = ?", (name,)).fetchone()
        return None if r is None else SavedScenario(r[0], json.loads(r[1]), r[2], r[3], r[4])

    def save(self, name: str, edits: builtins.list[dict[str, Any]], *,
             author: str) -> SavedScenario:
        """Save (or replace) scenario ``name`` by ``author``."""
        name = check_name(name)
        now = _now()
        text = json.dumps(edits, ensure_ascii=False, sort_keys=True)
        with self._lock, self._connect() as con:
            con.execute("INSERT INTO scenarios VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO "
                        "UPDATE SET edits = excluded.edits, author = excluded.author, "
                        "updated_utc = excluded.updated_utc", (name, text, author, now, now))
        saved = self.get(name)
        assert saved is not None
        return saved

    def delete(self, name: str) -> bool:
        """Delete scenario ``name``; False when there was none."""
        with self._lock, self._connect() as con:
            cur = con.execute("DELETE FROM scenarios WHERE name = ?", (name,))
        return cur.rowcount > 0


def edits_to_geojson(name: str, edits: list[dict[str, Any]]) -> bytes:
    """A GeoJSON FeatureCollection: one feature per edit (Point where it has lon/lat)."""
    feats = []
    for i, e in enumerate(edits):
        geom = ({"type": "Point", "coordinates": [e["lon"], e["lat"]]}
                if e.get("lon") is not None and e.get("lat") is not None else None)
        props = {k: e.get(k) for k in _FIELDS if k not in ("lon", "lat")}
        feats.append({"type": "Feature", "geometry": geom,
                      "properties": {"order": i + 1, **props}})
    doc = {"type": "FeatureCollection", "name": name, "lifecircle_scenario": name,
           "features": feats}
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def edits_from_geojson(data: bytes) -> tuple[str | None, list[dict[str, Any]]]:
    """Name and edits of a GeoJSON written by :func:`edits_to_geojson`.

    Raises
    ------
    StoreError
        Not JSON, not a FeatureCollection, or features without ``action``.
    """
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"not a GeoJSON file ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" \
            or not isinstance(doc.get("features"), list):
        raise StoreError("not a GeoJSON FeatureCollection")
    edits = []
    for i, f in enumerate(doc["features"]):
        props = f.get("properties") if isinstance(f, dict) else None
        if not isinstance(props, dict) or "action" not in props:
            raise StoreError(f"feature {i + 1} has no 'action' property")
        e = {k: props[k] for k in _FIELDS if props.get(k) is not None and k not in ("lon", "lat")}
        geom = f.get("geometry")
        if isinstance(geom, dict) and geom.get("type") == "Point":
            coords = geom.get("coordinates")
            if not (isinstance(coords, list) and len(coords) >= 2):
                raise StoreError(f"feature {i + 1}: point without coordinates")
            e["lon"], e["lat"] = coords[0], coords[1]
        edits.append(e)
    name = doc.get("lifecircle_scenario") or doc.get("name")
    return (name if isinstance(name, str) else None), edits


def _cell_text(v: Any) -> Any:
    """Text that Excel could read as a formula is written with a leading apostrophe."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def edits_to_xlsx(name: str, edits: list[dict[str, Any]]) -> bytes:
    """An .xlsx workbook: sheet ``edits``, one row per edit, scenario name in A1's sheet title."""
    wb = Workbook()
    ws = wb.active
    ws.title = "edits"
    ws.append(["scenario", *_FIELDS])
    for e in edits:
        ws.append([_cell_text(name), *[_cell_text(e.get(k)) for k in _FIELDS]])
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c.value, str):
                c.data_type = "s"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def edits_from_xlsx(data: bytes) -> tuple[str | None, list[dict[str, Any]]]:
    """Name and edits of a workbook written by :func:`edits_to_xlsx`.

    Raises
    ------
    StoreError
        Not a workbook, or no ``action`` column.
    """
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException
        raise StoreError(f"not an Excel workbook ({type(exc).__name__})") from exc
    ws = wb.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    if not rows or "action" not in rows[0]:
        raise StoreError("the first sheet has no 'action' column")
    head = [str(h) if h is not None else "" for h in rows[0]]
    name = None
    edits = []
    for r in rows[1:]:
        rec = dict(zip(head, r, strict=False))
        if rec.get("action") is None:
            continue
        if name is None and isinstance(rec.get("scenario"), str):
            name = rec["scenario"].removeprefix("'")
        e = {}
        for k in _FIELDS:
            v = rec.get(k)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            e[k] = v.removeprefix("'") if isinstance(v, str) and v[:2] in (
                "'=", "'+", "'-", "'@", "'\t", "'\r") else v
        edits.append(e)
    return name, edits
