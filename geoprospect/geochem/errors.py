"""Errors of the geochemistry preparation and element selection stages."""

from __future__ import annotations

from geoprospect.errors import InputError, ValueParseError


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
