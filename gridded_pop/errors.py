"""Errors specific to population inputs (subclasses of :mod:`access.errors`)."""

from __future__ import annotations

from access.errors import InputFileError

__all__ = ["NoOverlapError", "PopulationUnitsError"]


class PopulationUnitsError(InputFileError):
    """Population values do not fit the units stated for them.

    Raised, for example, when a raster said to hold persons per pixel holds
    values only a density (persons per km²) can reach, or when a share is given
    as a percentage where a fraction is expected.
    """


class NoOverlapError(InputFileError):
    """A population source does not overlap the study area at all."""
