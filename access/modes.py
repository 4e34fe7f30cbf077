"""Travel modes as data: walk, e-bike (电动自行车) and car, read from ``catalogue/modes.toml``.

A :class:`TravelMode` holds what routing needs to know about a mode: the arc
weight it is routed on (metres for walking, seconds otherwise), its speed table
per OSM ``highway`` class, the speed of the straight access legs and the search
limit. Which ways a mode may use is decided by the filters of :mod:`access.osm`;
every mode is routed by the same engine (:mod:`access.travel`).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MODES", "MODES_FILE", "TIME_MODES", "TravelMode", "load_modes", "mode_label"]

#: The shipped mode table.
MODES_FILE = Path(__file__).resolve().parent / "catalogue" / "modes.toml"

_KEYS = ("name_zh", "name_en", "weight", "leg_speed_kmh", "max_time_min", "speed_kmh")


@dataclass(frozen=True)
class TravelMode:
    """One travel mode.

    Attributes
    ----------
    name
        ``walk``, ``ebike`` or ``drive``.
    name_zh, name_en
        Names shown to users.
    weight
        Arc weight routed on: ``length_m`` (walk) or ``time_s``.
    leg_speed_kmh
        Speed on the straight legs to and from the network.
    max_time_min
        Default search limit.
    speed_kmh
        Speed per ``highway`` value (km/h); empty for walking, whose speed is
        set per population group by the study area.
    """

    name: str
    name_zh: str
    name_en: str
    weight: str
    leg_speed_kmh: float
    max_time_min: float
    speed_kmh: Mapping[str, float] = field(default_factory=dict)


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or not value > 0:
        raise ValueError(f"{MODES_FILE}: {where} must be a positive number, got {value!r}")
    return float(value)


def load_modes(path: Path = MODES_FILE) -> dict[str, TravelMode]:
    """Read the mode table; raises ValueError naming the file and key on a bad entry."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    out = {}
    for name, spec in data.items():
        if name == "schema_version":
            continue
        unknown = sorted(set(spec) - set(_KEYS))
        if unknown:
            raise ValueError(f"{path}: unknown keys {unknown} in [{name}]")
        weight = spec.get("weight")
        if weight not in ("length_m", "time_s"):
            raise ValueError(f"{path}: [{name}].weight must be length_m or time_s")
        speeds = {k: _positive(v, f"[{name}.speed_kmh].{k}")
                  for k, v in spec.get("speed_kmh", {}).items()}
        if weight == "time_s" and not speeds:
            raise ValueError(f"{path}: [{name}] is routed on time and needs a speed table")
        out[name] = TravelMode(
            name=name, name_zh=str(spec["name_zh"]), name_en=str(spec["name_en"]),
            weight=weight, leg_speed_kmh=_positive(spec["leg_speed_kmh"], f"[{name}]"),
            max_time_min=_positive(spec["max_time_min"], f"[{name}]"), speed_kmh=speeds)
    return out


#: The shipped modes, by name.
MODES: dict[str, TravelMode] = load_modes()

#: Modes routed on time (``<mode>_time_min__<category>`` columns).
TIME_MODES = tuple(m for m, spec in MODES.items() if spec.weight == "time_s")


def mode_label(mode: str, lang: str = "zh") -> str:
    """Name of a mode for users (the key itself when unknown)."""
    spec = MODES.get(mode)
    if spec is None:
        return mode
    return spec.name_zh if lang == "zh" else spec.name_en
