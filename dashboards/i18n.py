"""Text of the dashboard, in Chinese and English.

``tr("key", lang)`` returns the label in ``lang`` (``"zh"`` or ``"en"``); Chinese is
the default. The labels live in the product's one message catalogue,
:data:`access.i18n.MESSAGES` (``STRINGS`` here is that same table).
"""

from __future__ import annotations

from access.i18n import LANGS, MESSAGES, t

__all__ = ["LANGS", "STRINGS", "tr"]

STRINGS = MESSAGES


def tr(key: str, lang: str = "zh", **fmt: object) -> str:
    """The label ``key`` in ``lang``, formatted with ``fmt``.

    Raises
    ------
    ValueError
        ``lang`` is not ``"zh"`` or ``"en"``.
    KeyError
        No label of that key.
    """
    return t(key, lang, **fmt)
