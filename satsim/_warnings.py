"""Typed warnings (DESIGN.md §3.4).

Every warning satsim emits is a subclass of :class:`SatsimWarning`, so users can
filter the whole family (``warnings.simplefilter("ignore", SatsimWarning)``) or a
single kind.  Warnings mark *degenerate but legal* situations; invalid input raises.
"""

from __future__ import annotations

__all__ = [
    "ApproximationWarning",
    "ConvergenceWarning",
    "DegenerateDistributionWarning",
    "MonteCarloPrecisionWarning",
    "SatsimWarning",
    "TrainingDivergenceWarning",
]


class SatsimWarning(UserWarning):
    """Base class of every warning emitted by satsim."""


class DegenerateDistributionWarning(SatsimWarning):
    """A quantity has zero variance (e.g. a constant initializer), so a ratio or a
    standardised moment is undefined and reported as NaN."""


class MonteCarloPrecisionWarning(SatsimWarning):
    """The Monte Carlo standard error is larger than the precision asked for, or the
    sample is too small for the asymptotic approximation used."""


class ApproximationWarning(SatsimWarning):
    """The approximation behind a p-value or interval is known to be poor for these
    data (e.g. the normal approximation of a studentized statistic when the
    components are strongly skewed for the number of draws), so the test's size may
    exceed its nominal level.  The message names the method to use instead."""


class TrainingDivergenceWarning(SatsimWarning):
    """Training diverged: the cost became non-finite, or grew past a set multiple of
    its value before training (typically a learning rate far too large).  Emitted by
    :meth:`satsim.nn.Network.fit`, which then stops and says why in
    ``History.stop_reason``."""


class ConvergenceWarning(SatsimWarning):
    """An iterative procedure stopped at its iteration limit without meeting its
    tolerance, and its result is used as it stands: e.g. LSUV initialization
    (:class:`satsim.nn.LSUV`) leaving a layer's pre-activation variance outside
    ``tol`` of the target — typically because the biases alone have more variance than
    the target, which rescaling the weights cannot remove."""
