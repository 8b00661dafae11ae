"""Typed warnings (DESIGN.md §3.4).

Every warning satsim emits is a subclass of :class:`SatsimWarning`, so users can
filter the whole family (``warnings.simplefilter("ignore", SatsimWarning)``) or a
single kind.  Warnings mark *degenerate but legal* situations; invalid input raises.
"""

from __future__ import annotations

__all__ = [
    "DegenerateDistributionWarning",
    "MonteCarloPrecisionWarning",
    "SatsimWarning",
]


class SatsimWarning(UserWarning):
    """Base class of every warning emitted by satsim."""


class DegenerateDistributionWarning(SatsimWarning):
    """A quantity has zero variance (e.g. a constant initializer), so a ratio or a
    standardised moment is undefined and reported as NaN."""


class MonteCarloPrecisionWarning(SatsimWarning):
    """The Monte Carlo standard error is larger than the precision asked for, or the
    sample is too small for the asymptotic approximation used."""
