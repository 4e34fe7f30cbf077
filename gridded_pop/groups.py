"""Population groups: the keys every stage uses, with Chinese and English names.

Stated once in :mod:`access.vocabulary`; re-exported here for the loaders.
"""

from __future__ import annotations

from access.vocabulary import GROUPS, check_group

__all__ = ["GROUPS", "check_group"]
