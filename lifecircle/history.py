"""Run history: every finished run recorded in an append-only SQLite store.

A record holds what a later report needs to say what changed: the inputs' checksums
and the run's parameters, the software version, the date, the planner's label
(``"2026 Q4"``), every target verdict, every per-unit result and the facility list.
The store lives in a history folder (``history.sqlite``); the default folder is
``lifecircle-history`` beside the run's output folder (:func:`default_history_dir`).

- **Append-only.** Triggers refuse every ``UPDATE`` and ``DELETE`` of a record.
- **Whole or nothing.** A run is recorded in one transaction, after its outputs are
  complete; a run that failed or was interrupted leaves no record.
- **Idempotent.** A run whose inputs, parameters and software version equal a
  recorded run's (its *fingerprint*) is not recorded again: :meth:`History.record`
  returns the existing record and says so.
- **Never overwritten.** A file that is not a lifecircle history, or fails SQLite's
  integrity check, raises :class:`HistoryError` and is left as it is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from access.errors import InputFileError
from access.i18n import say
from access.network import file_sha256

__all__ = ["HISTORY_FILE", "History", "HistoryError", "RunRecord", "default_history_dir",
           "find_histories", "history_of_run", "input_checksums", "record_run", "run_params",
           "software_version"]

log = logging.getLogger(__name__)

HISTORY_FILE = "history.sqlite"
SCHEMA_VERSION = 1
_APP_ID = "lifecircle-history"
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL UNIQUE,
    created_utc TEXT NOT NULL,
    label TEXT,
    area_name TEXT NOT NULL,
    area_title_zh TEXT,
    area_title_en TEXT,
    area_path TEXT NOT NULL,
    out_dir TEXT,
    version TEXT NOT NULL,
    params_json TEXT NOT NULL,
    checksums_json TEXT NOT NULL,
    targets_sha256 TEXT,
    n_targets INTEGER NOT NULL,
    n_met INTEGER NOT NULL,
    n_not_met INTEGER NOT NULL,
    n_no_data INTEGER NOT NULL
);
CREATE TABLE run_targets (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    target_id TEXT NOT NULL,
    name_zh TEXT, name_en TEXT, kind TEXT,
    value REAL, threshold REAL, unit TEXT, comparison TEXT,
    met INTEGER, status TEXT NOT NULL,
    reason_zh TEXT, reason_en TEXT,
    PRIMARY KEY (run_id, target_id)
);
CREATE TABLE run_units (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    target_id TEXT NOT NULL, level TEXT NOT NULL, unit_id TEXT NOT NULL,
    name TEXT, value REAL, threshold REAL, met INTEGER, detail TEXT,
    PRIMARY KEY (run_id, target_id, level, unit_id)
);
CREATE TABLE run_facilities (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    facility_id TEXT NOT NULL, name TEXT, category TEXT, lon REAL, lat REAL,
    PRIMARY KEY (run_id, facility_id)
);
"""
_TABLES = ("meta", "runs", "run_targets", "run_units", "run_facilities")
_APPEND_ONLY = "".join(
    f"CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON {t} BEGIN "
    f"SELECT RAISE(ABORT, 'the run history is append-only'); END;\n"
    for t in _TABLES[1:] for op in ("UPDATE", "DELETE"))


class HistoryError(InputFileError):
    """The run history is missing, corrupt, or holds no run matching the request."""


@dataclass(frozen=True)
class RunRecord:
    """One recorded run (a row of :meth:`History.runs`).

    Attributes
    ----------
    run_id
        Number of the record, counting from 1.
    fingerprint
        SHA-256 over input checksums, parameters and version: equal runs share it.
    created_utc
        When it was recorded (ISO 8601, UTC).
    label
        The planner's label (e.g. ``"2026 Q4"``), or None.
    area_name, area_title_zh, area_title_en, area_path
        The study area.
    out_dir
        Output folder of the run.
    version
        lifecircle version that made it.
    params
        Run parameters (grid, travel, network settings).
    checksums
        Input file path -> SHA-256 when the run was made.
    targets_sha256
        SHA-256 of the run's ``targets.csv`` (tells whether ``out_dir`` still holds
        this run's outputs).
    n_targets, n_met, n_not_met, n_no_data
        Target verdict counts.
    """

    run_id: int
    fingerprint: str
    created_utc: str
    label: str | None
    area_name: str
    area_title_zh: str | None
    area_title_en: str | None
    area_path: str
    out_dir: str | None
    version: str
    params: dict[str, Any]
    checksums: dict[str, str]
    targets_sha256: str | None
    n_targets: int
    n_met: int
    n_not_met: int
    n_no_data: int

    def changed_inputs(self) -> list[str]:
        """Input files whose content differs from when the run was made (or are gone)."""
        changed = []
        for path, sha in self.checksums.items():
            p = Path(path)
            if not p.is_file() or file_sha256(p) != sha:
                changed.append(path)
        return changed

    def outputs_current(self) -> bool:
        """Whether ``out_dir`` still holds this run's outputs (its ``targets.csv``)."""
        if self.out_dir is None or self.targets_sha256 is None:
            return self.out_dir is not None and Path(self.out_dir).is_dir()
        p = Path(self.out_dir) / "targets.csv"
        return p.is_file() and file_sha256(p) == self.targets_sha256


def software_version() -> str:
    """The installed lifecircle version (``"unknown"`` when not installed)."""
    try:
        return importlib.metadata.version("lifecircle")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def default_history_dir(out_dir: str | Path) -> Path:
    """``lifecircle-history`` beside the output folder ``out_dir``."""
    return Path(out_dir).resolve().parent / "lifecircle-history"


def history_of_run(out_dir: str | Path) -> Path:
    """The history folder a run folder was recorded in.

    Read from the run's ``run.json`` (``history``: the folder relative to the run folder,
    then its absolute path, whichever holds a history file), so a history chosen with
    ``lifecircle run --history`` is found again, also after the project folder moved.
    Without that entry (runs written before it, or from the Python API), the default
    :func:`default_history_dir` beside the run folder.
    """
    out = Path(out_dir)
    default = default_history_dir(out)
    try:
        meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default
    entry = meta.get("history") if isinstance(meta, dict) else None
    if not isinstance(entry, dict):
        return default
    found = [Path(os.path.normpath(out.absolute() / str(entry["relative"])))
             if entry.get("relative") else None,
             Path(str(entry["folder"])) if entry.get("folder") else None]
    for folder in found:
        if folder is not None and (folder / HISTORY_FILE).is_file():
            return folder
    return next((f for f in found if f is not None), default)


def find_histories(root: str | Path | None = None) -> list[Path]:
    """History folders a plain ``lifecircle report`` or ``lifecircle history`` finds.

    Looked for under ``root`` (default: the current folder): ``lifecircle-history``
    itself and one folder down (``lifecircle run --out out/2026Q3`` records in
    ``out/lifecircle-history``), and the histories named by the run folders (``run.json``)
    up to two folders down. Only folders holding a history file are returned, each once.
    """
    base = Path.cwd() if root is None else Path(root)
    cands = [base / "lifecircle-history", *sorted(base.glob("*/lifecircle-history"))]
    for meta in (*sorted(base.glob("*/run.json")), *sorted(base.glob("*/*/run.json"))):
        cands.append(history_of_run(meta.parent))
    seen: dict[str, Path] = {}
    for c in cands:
        if (c / HISTORY_FILE).is_file():
            seen.setdefault(str(c.resolve()), c)
    return list(seen.values())


def _collect_paths(obj: Any, found: set[Path], depth: int = 0) -> None:
    if depth > 6 or obj is None:
        return
    if isinstance(obj, Path):
        if obj.is_file():
            found.add(obj.resolve())
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _collect_paths(getattr(obj, f.name), found, depth + 1)
    elif hasattr(type(obj), "model_fields"):  # pydantic models
        for name in type(obj).model_fields:
            _collect_paths(getattr(obj, name, None), found, depth + 1)
    elif isinstance(obj, dict):
        for v in obj.values():
            _collect_paths(v, found, depth + 1)
    elif isinstance(obj, list | tuple | set | frozenset):
        for v in obj:
            _collect_paths(v, found, depth + 1)


def input_checksums(area: Any) -> dict[str, str]:
    """SHA-256 of every input file a study area names, and of the study-area file.

    Parameters
    ----------
    area
        A :class:`lifecircle.study_area.StudyArea`.

    Returns
    -------
    dict
        Absolute path -> SHA-256, sorted by path.
    """
    found: set[Path] = {Path(area.path).resolve()}
    _collect_paths(area, found)
    return {str(p): file_sha256(p) for p in sorted(found)}


def run_params(area: Any) -> dict[str, Any]:
    """The run's parameters as plain JSON values (network, grid, travel settings)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if hasattr(v, "model_dump"):
            return plain(v.model_dump())
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        if isinstance(v, Path):
            return v.name
        if isinstance(v, str | int | float | bool) or v is None:
            return v
        return str(v)

    return {"metric_crs": str(area.metric_crs), "network": plain(area.network),
            "grid": plain(area.grid), "travel": plain(area.travel),
            "targets": plain(area.targets)}


def _fingerprint(checksums: dict[str, str], params: dict[str, Any], version: str) -> str:
    # file names and contents, not folders: a copied study area is the same input
    files = sorted((Path(p).name, sha) for p, sha in checksums.items())
    doc = json.dumps({"files": files, "params": params, "version": version},
                     sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


def _num(v: Any) -> float | None:
    if v is None or v is pd.NA:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def _flag(v: Any) -> int | None:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, str):
        return {"true": 1, "false": 0}.get(v.strip().lower())
    return int(bool(v))


def _text(v: Any) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    return str(v)


class History:
    """The run history in ``folder/history.sqlite``.

    Opening checks an existing file (SQLite header, ``PRAGMA integrity_check``, the
    schema); a file that fails raises :class:`HistoryError` and is never written to.
    The file is created on the first :meth:`record`.

    Parameters
    ----------
    folder
        The history folder.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / HISTORY_FILE
        if self.path.exists():
            self._check()

    # ---------------------------------------------------------------- storage
    def _check(self) -> None:
        p = self.path
        if not p.is_file():
            raise HistoryError("the run history is not a file", path=p)
        with p.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
        if head != _SQLITE_MAGIC:
            raise HistoryError("not a lifecircle run history (not an SQLite file); the file "
                               "is left untouched: move it aside or give another --history",
                               path=p)
        try:
            with closing(sqlite3.connect(f"file:{p}?mode=ro", uri=True)) as con:
                ok = con.execute("PRAGMA integrity_check").fetchall()
                if ok != [("ok",)]:
                    raise HistoryError(
                        f"the run history is corrupt (integrity check: {ok[0][0]}); the file "
                        "is left untouched: restore it from a backup or move it aside",
                        path=p)
                tables = {r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
                missing = [t for t in _TABLES if t not in tables]
                meta = dict(con.execute("SELECT key, value FROM meta")) if "meta" in tables \
                    else {}
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"the run history is corrupt ({exc}); the file is left "
                               "untouched: restore it from a backup or move it aside",
                               path=p) from exc
        if missing or meta.get("app") != _APP_ID:
            raise HistoryError("not a lifecircle run history (tables missing: "
                               f"{', '.join(missing) or 'none'}); the file is left untouched",
                               path=p)
        if int(meta.get("schema_version", 0)) > SCHEMA_VERSION:
            raise HistoryError(f"written by a newer lifecircle (schema "
                               f"{meta['schema_version']}); upgrade lifecircle", path=p)

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        if not write and not self.path.exists():
            raise HistoryError("no run recorded yet: run 'lifecircle run' first (or give the "
                               "history folder with --history)",
                               path=self.path)
        if write and not self.path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            # each process builds its own new file; the first to link it in wins, so two
            # runs creating the history at once never replace a database in use
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.new")
            tmp.unlink(missing_ok=True)
            try:
                with closing(sqlite3.connect(tmp)) as con:
                    con.executescript(_SCHEMA + _APPEND_ONLY)
                    con.executemany("INSERT INTO meta VALUES (?, ?)",
                                    [("app", _APP_ID),
                                     ("schema_version", str(SCHEMA_VERSION))])
                    con.commit()
                with suppress(FileExistsError):
                    os.link(tmp, self.path)
            finally:
                tmp.unlink(missing_ok=True)
        uri = f"file:{self.path}?mode={'rw' if write else 'ro'}"
        con = sqlite3.connect(uri, uri=True)
        try:
            yield con
        finally:
            con.close()

    # ---------------------------------------------------------------- writing
    def record(self, *, area: Any, targets: pd.DataFrame | None, units: pd.DataFrame | None,
               facilities: pd.DataFrame, out_dir: str | Path | None, version: str,
               label: str | None = None, checksums: dict[str, str] | None = None,
               params: dict[str, Any] | None = None, targets_sha256: str | None = None,
               now: datetime | None = None) -> tuple[RunRecord, bool]:
        """Record a finished run, unless an identical one is recorded already.

        Parameters
        ----------
        area
            The study area (:class:`lifecircle.study_area.StudyArea`).
        targets, units
            The run's ``targets.csv`` and ``units.csv`` tables (None without targets).
        facilities
            Facility table with ``facility_id``, ``name``, ``category`` and either
            ``lon``/``lat`` columns or a geometry in any CRS.
        out_dir
            Where the run's outputs are.
        version
            lifecircle version.
        label
            The planner's label, e.g. ``"2026 Q4"``.
        checksums, params
            Default to :func:`input_checksums` and :func:`run_params` of ``area``.
        targets_sha256
            SHA-256 of the written ``targets.csv``.
        now
            Recording time (default: now, UTC).

        Returns
        -------
        (RunRecord, bool)
            The record, and whether it is new (False: an identical run was recorded
            before and is returned instead).
        """
        checksums = input_checksums(area) if checksums is None else checksums
        params = run_params(area) if params is None else params
        fp = _fingerprint(checksums, params, version)
        if self.path.exists():
            with self._connect() as con:
                row = con.execute("SELECT run_id FROM runs WHERE fingerprint = ?",
                                  (fp,)).fetchone()
            if row is not None:
                return self.get(str(row[0])), False
        tg = targets if targets is not None else pd.DataFrame(
            columns=["id", "status", "met"])
        status = tg["status"].astype(str) if len(tg) else pd.Series(dtype=str)
        created = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
        fac_rows = _facility_rows(facilities)
        try:
            with self._connect(write=True) as con, con:
                cur = con.execute(
                    "INSERT INTO runs (fingerprint, created_utc, label, area_name, area_title_zh,"
                    " area_title_en, area_path, out_dir, version, params_json, checksums_json,"
                    " targets_sha256, n_targets, n_met, n_not_met, n_no_data)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (fp, created, label, area.name, area.title_zh, area.title_en,
                     str(Path(area.path).resolve()),
                     None if out_dir is None else str(Path(out_dir).resolve()), version,
                     json.dumps(params, ensure_ascii=False, sort_keys=True),
                     json.dumps(checksums, ensure_ascii=False), targets_sha256, len(tg),
                     int((status == "met").sum()), int((status == "not_met").sum()),
                     int((status == "no_data").sum())))
                assert cur.lastrowid is not None  # set by the INSERT above
                run_id = cur.lastrowid
                con.executemany(
                    "INSERT INTO run_targets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(run_id, str(r["id"]), _text(r.get("name_zh")), _text(r.get("name_en")),
                      _text(r.get("kind")), _num(r.get("value")), _num(r.get("threshold")),
                      _text(r.get("unit")), _text(r.get("comparison")), _flag(r.get("met")),
                      str(r["status"]), _text(r.get("reason_zh")), _text(r.get("reason_en")))
                     for r in tg.to_dict("records")])
                if units is not None and len(units):
                    con.executemany(
                        "INSERT INTO run_units VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(run_id, str(r["target_id"]), str(r["level"]), str(r["unit_id"]),
                          _text(r.get("name")), _num(r.get("value")), _num(r.get("threshold")),
                          _flag(r.get("met")), _text(r.get("detail")))
                         for r in units.to_dict("records")])
                con.executemany("INSERT INTO run_facilities VALUES (?, ?, ?, ?, ?, ?)",
                                [(run_id, *row) for row in fac_rows])
        except sqlite3.IntegrityError:
            # another process recorded the identical run between the check and the insert
            with self._connect() as con:
                row = con.execute("SELECT run_id FROM runs WHERE fingerprint = ?",
                                  (fp,)).fetchone()
            if row is None:
                raise
            return self.get(str(row[0])), False
        log.info(say("log_history_recorded", id=run_id, path=self.path))
        return self.get(str(run_id)), True

    # ---------------------------------------------------------------- reading
    def runs(self) -> list[RunRecord]:
        """Every recorded run, oldest first (empty when nothing is recorded yet)."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            rows = con.execute("SELECT * FROM runs ORDER BY run_id").fetchall()
        return [_record(r) for r in rows]

    def get(self, ref: str | int) -> RunRecord:
        """The run with this id (``"3"``, ``"#3"``) or label (the latest with it).

        Raises
        ------
        HistoryError
            Nothing recorded, or no run has this id or label.
        """
        runs = self.runs()
        if not runs:
            raise HistoryError("no run recorded yet: run 'lifecircle run' first (or give the "
                               "history folder with --history)",
                               path=self.path)
        key = str(ref).strip()
        by_label = [r for r in runs if r.label == key]
        if by_label:
            return by_label[-1]
        digits = key.lstrip("#")
        if digits.isdigit():
            for r in runs:
                if r.run_id == int(digits):
                    return r
        labels = ", ".join(f"#{r.run_id} {r.label or ''}".strip() for r in runs[-8:])
        raise HistoryError(f"no recorded run with id or label '{key}' (recorded: {labels})",
                           path=self.path)

    def latest(self, *, area_path: str | Path | None = None) -> RunRecord:
        """The latest recorded run (of the study area ``area_path`` when given)."""
        runs = self.runs()
        if area_path is not None:
            want = str(Path(area_path).resolve())
            runs = [r for r in runs if r.area_path == want]
        if not runs:
            where = f" for {area_path}" if area_path is not None else ""
            raise HistoryError(f"no run recorded yet{where}: run 'lifecircle run' first",
                               path=self.path)
        return runs[-1]

    def _frame(self, sql: str, run_id: int) -> pd.DataFrame:
        with self._connect() as con:
            return pd.read_sql_query(sql, con, params=(run_id,))

    def targets(self, run_id: int) -> pd.DataFrame:
        """Recorded target verdicts of a run (``met`` as nullable boolean)."""
        df = self._frame("SELECT * FROM run_targets WHERE run_id = ? ORDER BY rowid", run_id)
        df["met"] = df["met"].astype("Int64").astype("boolean")
        return df.drop(columns="run_id")

    def units(self, run_id: int) -> pd.DataFrame:
        """Recorded per-unit results of a run."""
        df = self._frame("SELECT * FROM run_units WHERE run_id = ? ORDER BY rowid", run_id)
        df["met"] = df["met"].astype("Int64").astype("boolean")
        return df.drop(columns="run_id")

    def facilities(self, run_id: int) -> pd.DataFrame:
        """Recorded facility list of a run (id, name, category, lon, lat)."""
        return self._frame("SELECT * FROM run_facilities WHERE run_id = ? ORDER BY rowid",
                           run_id).drop(columns="run_id")

    def trend(self, run_ids: list[int]) -> pd.DataFrame:
        """Target values over several runs: rows ``run_id``, columns target ids."""
        with self._connect() as con:
            q = ",".join("?" * len(run_ids))
            df = pd.read_sql_query(
                f"SELECT run_id, target_id, value FROM run_targets WHERE run_id IN ({q})",
                con, params=run_ids)
        return df.pivot(index="run_id", columns="target_id", values="value")


def _record(r: sqlite3.Row) -> RunRecord:
    d = dict(r)
    d["params"] = json.loads(d.pop("params_json"))
    d["checksums"] = json.loads(d.pop("checksums_json"))
    return RunRecord(**d)


def _facility_rows(fac: pd.DataFrame) -> list[tuple[Any, ...]]:
    """``(facility_id, name, category, lon, lat)`` per facility, in WGS-84."""
    if not len(fac):
        return []
    if "lon" in fac.columns and "lat" in fac.columns and fac["lon"].notna().all():
        lon, lat = fac["lon"].to_numpy(float), fac["lat"].to_numpy(float)
    else:
        pts = fac.geometry.to_crs("EPSG:4326")
        lon, lat = pts.x.to_numpy(), pts.y.to_numpy()
    names = fac["name"] if "name" in fac.columns else pd.Series([None] * len(fac))
    return [(str(i), _text(n), _text(c), float(x), float(y))
            for i, n, c, x, y in zip(fac["facility_id"], names, fac["category"], lon, lat,
                                     strict=True)]


def record_run(history: History, result: Any, out_dir: str | Path, *,
               label: str | None = None, version: str | None = None,
               ) -> tuple[RunRecord, bool]:
    """Record a run whose outputs were written completely to ``out_dir``.

    Parameters
    ----------
    history
        The run history.
    result
        The :class:`lifecircle.pipeline.RunResult`.
    out_dir
        Where its outputs were written.
    label
        The planner's label, e.g. ``"2026 Q4"``.
    version
        lifecircle version (default: installed).

    Returns
    -------
    (RunRecord, bool)
        As :meth:`History.record`.
    """
    tg = result.targets
    targets_csv = Path(out_dir) / "targets.csv"
    return history.record(
        area=result.area, targets=None if tg is None else tg.targets,
        units=None if tg is None else tg.units, facilities=result.facilities,
        out_dir=out_dir, version=software_version() if version is None else version,
        label=label,
        targets_sha256=file_sha256(targets_csv) if targets_csv.is_file() else None)
