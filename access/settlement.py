"""Settlement classes (urban, town, village) and the words planners use for them.

The targets engine scopes targets by settlement class; a units file classifies
its units in a column that may say ``城区``, ``镇`` or ``村`` as well as ``urban``,
``town`` or ``village``. :func:`parse_settlement` maps every accepted word to its
class, so the study-area check and the pipeline read the column the same way.
"""

from __future__ import annotations

__all__ = ["ACCEPTED_SETTLEMENT_WORDS", "SETTLEMENTS", "SETTLEMENT_NAMES", "parse_settlement"]

#: Settlement classes, in the order targets list them.
SETTLEMENTS: tuple[str, ...] = ("urban", "town", "village")

#: Class -> (name_zh, name_en).
SETTLEMENT_NAMES: dict[str, tuple[str, str]] = {
    "urban": ("城区", "urban"),
    "town": ("镇区", "town"),
    "village": ("村庄", "village"),
}

_WORDS: dict[str, tuple[str, ...]] = {
    "urban": ("urban", "city", "城区", "市区", "街道", "城市", "中心城区", "主城区"),
    "town": ("town", "township", "城镇", "镇", "集镇", "建制镇", "镇区"),
    "village": ("village", "rural", "乡", "村", "农村", "行政村", "乡村", "村庄"),
}

#: Accepted word (lower case, no spaces) -> settlement class.
_LOOKUP: dict[str, str] = {w.lower(): cls for cls, words in _WORDS.items() for w in words}

#: Every accepted word, for messages.
ACCEPTED_SETTLEMENT_WORDS: str = "; ".join(
    f"{cls}: {'/'.join(words)}" for cls, words in _WORDS.items())


def parse_settlement(value: object) -> str | None:
    """The settlement class a cell of a settlement column names.

    Parameters
    ----------
    value
        Text such as ``"城区"``, ``"镇"``, ``"village"`` (case and spaces ignored).

    Returns
    -------
    str or None
        ``"urban"``, ``"town"`` or ``"village"``; None for an empty or missing value.

    Raises
    ------
    ValueError
        The text names no settlement class; the message lists the accepted words.
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = "".join(str(value).split()).lower()
    if not text:
        return None
    try:
        return _LOOKUP[text]
    except KeyError:
        raise ValueError(f"'{value}' is not a settlement class; accepted: "
                         f"{ACCEPTED_SETTLEMENT_WORDS}") from None
