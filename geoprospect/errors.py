"""One exception hierarchy for geoprospect.

Every error a user can cause derives from :class:`GeoprospectError`; its message names the
file (and row or feature where there is one), what is wrong, and what to do about it.
"""

from __future__ import annotations

from pathlib import Path


class GeoprospectError(Exception):
    """Base class of every error raised by geoprospect on purpose."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        feature: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.row = row
        self.feature = feature
        self.hint = hint
        self.reason = message
        where = []
        if self.path:
            where.append(self.path)
        if row is not None:
            where.append(f"row {row}")
        if feature is not None:
            where.append(f"feature {feature}")
        text = (": ".join([", ".join(where), message]) if where else message)
        if hint:
            text += f"\n  How to fix: {hint}"
        super().__init__(text)


class ParameterError(GeoprospectError, ValueError):
    """An argument is out of range or not one of the allowed choices.

    Also a :class:`ValueError`, so code that guards a call with ``except ValueError`` keeps
    working; the message names the parameter and the hint the option or config key that sets it.
    """


class InputError(GeoprospectError):
    """An input file is missing, unreadable or holds data that cannot be used."""


class ColumnError(InputError):
    """A column named by the user (or needed by the tool) is missing or unusable."""


class ValueParseError(InputError):
    """A value that must be numeric is not."""


class CRSError(InputError):
    """A coordinate reference system is missing, unknown or inconsistent."""


class GeometryError(InputError):
    """Vector geometries are empty, invalid or of the wrong type."""


class CategoricalError(InputError):
    """A raster of class codes cannot be read as classes (non-integer values, too many classes,
    a requested class absent); the hint names the key or option that fixes it."""


class DepositError(InputError):
    """Known deposits are unusable (none inside the grid, ...)."""


class GridError(GeoprospectError):
    """A grid specification is inconsistent (bounds, resolution, shape)."""


class ConfigError(GeoprospectError):
    """A run configuration is invalid."""


class OutputError(GeoprospectError):
    """An output cannot be written (exists already, read-only folder, disk full)."""


class ModelError(GeoprospectError):
    """A model or checkpoint does not fit the data (band mismatch, unknown architecture)."""


class FoldError(GeoprospectError):
    """A held-out fold or test block would hold no deposit: evaluating on it would say nothing."""


# -- geochemistry (preparation, element selection, kriging) -----------------------------------


class GeochemError(InputError):
    """Geochemical values cannot be prepared as asked."""


class CensoringError(GeochemError):
    """Censored (below detection) values cannot be handled as asked (all censored, no limit, ...)."""


class CensoredValueError(ValueParseError):
    """A cell is neither a number, a censored value, nor empty."""


class ConstantElementError(GeochemError):
    """An element has (almost) no variation, so it cannot be standardised or ranked."""


class TransformError(GeochemError):
    """A transform cannot be applied (log of a non-positive value, ...)."""


class SelectionError(GeochemError):
    """Element selection is impossible (no sample near a deposit, too few samples, ...)."""


class KrigingError(GeochemError):
    """Kriging cannot be run on these points (too few, all identical, singular system)."""
