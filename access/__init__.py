"""Foundation and engine of lifecircle.

Errors, CRS contract, rejects, messages, street networks, travel times, coverage
and targets: arrays in, arrays out. The application is :mod:`lifecircle`.
"""

from access.errors import (
    ConfigError,
    CrsMismatchError,
    InputFileError,
    LifecircleError,
    NoCrsError,
)

__all__ = ["ConfigError", "CrsMismatchError", "InputFileError", "LifecircleError", "NoCrsError"]
#: Marks this package as lifecircle's engine (see ``lifecircle._check``).
__lifecircle_engine__ = True
