"""What each loader hands back to :func:`gridded_pop.build.build_population`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SourceResult"]


@dataclass
class SourceResult:
    """One source's persons on the grid and its accounting.

    Attributes
    ----------
    grid
        ``spec.shape`` persons per cell.
    population_in
        Persons read from the source (valid values only).
    outside
        Persons that fell outside the grid (or, when ``clipped``, outside the
        study area).
    rejected
        Persons in rows that could not be placed (e.g. no geometry).
    rejected_rows
        Rows or pixels rejected, including those with invalid values (whose
        persons are unknown and so not in ``population_in``).
    clipped
        True when ``grid`` already holds only persons inside the study area.
    notes
        ``(zh, en)`` remarks for the outputs.
    """

    grid: np.ndarray
    population_in: float
    outside: float = 0.0
    rejected: float = 0.0
    rejected_rows: int = 0
    clipped: bool = False
    notes: list[tuple[str, str]] = field(default_factory=list)

    def scaled(self, factor: float) -> SourceResult:
        """The same result with every population multiplied by ``factor``."""
        return SourceResult(self.grid * factor, self.population_in * factor,
                            self.outside * factor, self.rejected * factor,
                            self.rejected_rows, self.clipped, list(self.notes))
