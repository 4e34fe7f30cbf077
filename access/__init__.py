"""lifecircle's access core: study areas, street networks, travel times, coverage and targets."""

from access.errors import (
    ConfigError,
    CrsMismatchError,
    InputFileError,
    LifecircleError,
    NoCrsError,
)

__all__ = ["ConfigError", "CrsMismatchError", "InputFileError", "LifecircleError", "NoCrsError"]
__version__ = "0.1.0"
