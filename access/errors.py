"""Exceptions raised by lifecircle.

Every exception derives from :class:`LifecircleError` and from the builtin that
fits it best, so callers can catch either. Input errors carry the file, the row
and the parameter they concern; their message names all three.
"""

from __future__ import annotations

import difflib
import re
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


#: English phrases of common messages and their Chinese, applied in order by
#: :meth:`LifecircleError.text` (a message none matches is shown as it is).
_ZH_PHRASES: tuple[tuple[str, str], ...] = (
    (r"unknown key in \[([^\]]*)\]", r"[\1] 中有未知的键"),
    (r" \(did you mean '([^']*)'\?\)", r"（是否应为 '\1'？）"),
    (r"; valid keys: ", "；可用的键："),
    (r"; valid kinds: ", "；可用的类型："),
    (r"^file not found: (.*)$", r"文件不存在：\1"),
    (r"^file not found$", "文件不存在"),
    (r"^study area file not found$", "研究区文件不存在"),
    (r"^not valid TOML \((.*)\)$", r"不是有效的 TOML（\1）"),
    (r"^not a file$", "不是文件"),
    (r"^no column '([^']*)'", r"没有列 '\1'"),
    (r"; columns: ", "；现有列："),
    (r" \(columns: ([^)]*)\)", r"（现有列：\1）"),
    (r"^cannot read the (\w+) file \((.*)\)$", r"无法读取\1文件（\2）"),
    (r"^cannot read the file as (.*?) \((.*)\)$", r"无法按\1读取该文件（\2）"),
    (r"^expected (.*), got (.*)$", r"应为 \1，实际为 \2"),
    (r"^missing required key$", "缺少必填的键"),
    (r"^the file records no CRS", "文件未记录坐标系"),
    (r"appears twice", "重复出现"),
)


class LifecircleError(Exception):
    """Base class of every error lifecircle raises on purpose."""

    def text(self, lang: str = "zh") -> str:
        """The message in ``lang``: where (file, row, column, key) and what.

        In Chinese the location is written in Chinese and common messages are
        translated; a message without a translation keeps its English words.
        """
        if lang != "zh":
            return str(self)
        where = []
        path = getattr(self, "path", None)
        if path is not None:
            where.append(f"文件 {path}")
        row = getattr(self, "row", None)
        if row is not None:
            where.append(f"第 {row} 行")
        column = getattr(self, "column", None)
        if column is not None:
            where.append(f"列 '{column}'")
        key = getattr(self, "key", None)
        if key is not None:
            where.append(f"键 '{key}'")
        zh = getattr(self, "zh", None) or _to_zh(getattr(self, "reason", None) or str(self))
        return f"{'，'.join(where)}：{zh}" if where else zh


def _to_zh(message: str) -> str:
    for pattern, repl in _ZH_PHRASES:
        message = re.sub(pattern, repl, message)
    return message


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
        zh: str | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.row = row
        self.column = column
        self.reason = message
        self.zh = zh
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

    def __init__(self, message: str, *, path: str | Path | None = None, key: str | None = None,
                 zh: str | None = None):
        self.path = None if path is None else Path(path)
        self.key = key
        self.reason = message
        self.zh = zh
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

    def text(self, lang: str = "zh") -> str:
        """Every problem, one per line, in ``lang``."""
        if lang != "zh" or len(self.problems) == 1:
            return super().text(lang)
        head = f"文件 {self.path}：" if self.path is not None else ""
        lines = [f"{head}研究区文件有 {len(self.problems)} 处错误："]
        lines += [f"  键 '{k}'：{_to_zh(m)}" if k else f"  {_to_zh(m)}" for k, m in self.problems]
        return "\n".join(lines)
