"""Exceptions raised by lifecircle.

Every exception derives from :class:`LifecircleError` and from the builtin that
fits it best, so callers can catch either. Input errors carry the file, the row
and the parameter they concern; their message names all three.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "ConfigError",
    "CrsError",
    "CrsMismatchError",
    "IncompleteRunError",
    "InputFileError",
    "LifecircleError",
    "NoCrsError",
    "NoWalkableWaysError",
    "NotOsmFileError",
    "OutputLockedError",
    "PartitionError",
    "SchedulerUnreachableError",
    "StudyAreaError",
    "UnknownKeyError",
    "suggest",
]


class LifecircleError(Exception):
    """Base class of every error lifecircle raises on purpose."""


class InputFileError(LifecircleError, ValueError):
    """A problem with an input file, located as precisely as possible.

    Parameters
    ----------
    message
        What is wrong, in plain words.
    path
        The file concerned.
    row
        Row number (1-based data row, as a spreadsheet shows it) where known.
    column
        Column or parameter name where known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.row = row
        self.column = column
        self.reason = message
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class NotOsmFileError(InputFileError):
    """The file is not an OSM XML or PBF file."""


class NoWalkableWaysError(InputFileError):
    """The OSM file holds no way usable by the requested travel mode."""


class CrsError(InputFileError):
    """Base class of coordinate reference system problems."""


class NoCrsError(CrsError):
    """A spatial input has no CRS and none was stated for it."""


class CrsMismatchError(CrsError):
    """A stated CRS contradicts the one found in the file, or coordinates do not fit it."""


class ConfigError(LifecircleError, ValueError):
    """A study-area file is invalid."""

    def __init__(self, message: str, *, path: str | Path | None = None, key: str | None = None):
        self.path = None if path is None else Path(path)
        self.key = key
        where = [str(self.path)] if self.path is not None else []
        if key is not None:
            where.append(f"key '{key}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class UnknownKeyError(ConfigError, KeyError):
    """A study-area file uses a key that does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return ValueError.__str__(self)


class IncompleteRunError(LifecircleError, RuntimeError):
    """A results folder is not a complete run (no valid completion marker, or a file
    missing, truncated or changed since the run wrote it)."""

    def __init__(self, message: str, *, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {message}")


class OutputLockedError(LifecircleError, RuntimeError):
    """Another run is writing to the same output folder."""

    def __init__(self, message: str, *, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {message}")
class PartitionError(InputFileError):
    """A partitioned run cannot start: a partition has no streets, or the partition
    units do not cover the study area."""


class SchedulerUnreachableError(LifecircleError, ConnectionError):
    """The Dask scheduler of a partitioned run cannot be reached."""


def suggest(word: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


class StudyAreaError(ConfigError):
    """Every problem found in a study-area file, reported together.

    Parameters
    ----------
    problems
        ``(key, message)`` pairs: the key path (``network.path``,
        ``population[2].table``) or None for the whole file, and what is wrong
        with it, including how to fix it.
    path
        The study-area file.

    Attributes
    ----------
    problems
        The pairs given; ``key`` is the first problem's key.
    """

    def __init__(self, problems: list[tuple[str | None, str]], *,
                 path: str | Path | None = None) -> None:
        if not problems:
            raise ValueError("StudyAreaError needs at least one problem")
        self.problems = list(problems)
        first_key, first_msg = self.problems[0]
        super().__init__(first_msg, path=path, key=first_key)
        if len(self.problems) > 1:
            head = f"{self.path}: " if self.path is not None else ""
            lines = [f"{head}{len(self.problems)} problems in the study-area file "
                     f"(研究区文件有 {len(self.problems)} 处错误):"]
            lines += [f"  {k}: {m}" if k else f"  {m}" for k, m in self.problems]
            self.args = ("\n".join(lines),)
