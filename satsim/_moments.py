r"""Exact, mergeable streaming moments (Chan et al. 1979; Pébay 2008).

:class:`StreamingMoments` holds the count, mean and the central sums
:math:`M_p = \sum_i (x_i - \bar x)^p` for p = 2, 3, 4, plus min and max.  Two
summaries combine exactly (up to rounding) with Pébay's pairwise update, so a
stream of any length is summarised in O(1) memory and the result does not depend
on how the stream was cut, only on the order of the merges.

References
----------
.. [1] T. F. Chan, G. H. Golub, R. J. LeVeque, "Updating formulae and a pairwise
   algorithm for computing sample variances", Stanford CS report 79-773 (1979).
.. [2] P. Pébay, "Formulas for robust, one-pass parallel computation of covariances
   and arbitrary-order statistical moments", Sandia report SAND2008-6212 (2008).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

__all__ = ["StreamingMoments", "t_quantile"]


@functools.lru_cache(maxsize=1024)
def t_quantile(level: float, df: int) -> float:
    r"""Two-sided critical value :math:`t_{df}^{-1}(1/2 + \text{level}/2)` of a
    ``level`` interval (``scipy.stats.t.ppf``, cached: per-layer intervals recorded
    every epoch ask for the same few values, and one ppf call costs more than the
    interval's arithmetic)."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, df))


@dataclasses.dataclass(slots=True)
class StreamingMoments:
    """Running count, mean, central sums M2–M4, min and max of a stream."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    m3: float = 0.0
    m4: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    @classmethod
    def of(cls, x: np.ndarray) -> StreamingMoments:
        """Summary of a 1-D array (two-pass: mean first, then central sums)."""
        n = int(x.shape[0])
        if n == 0:
            return cls()
        mean = float(x.mean())
        d = x - mean
        d2 = d * d
        return cls(
            n=n,
            mean=mean,
            m2=float(d2.sum()),
            m3=float(np.dot(d2, d)),
            m4=float(np.dot(d2, d2)),
            min=float(x.min()),
            max=float(x.max()),
        )

    def merge(self, other: StreamingMoments) -> StreamingMoments:
        """Combine with ``other`` in place (Pébay 2008, eqs. 2.1 and 3.1) and return self."""
        if other.n == 0:
            return self
        if self.n == 0:
            (self.n, self.mean, self.m2, self.m3, self.m4, self.min, self.max) = (
                other.n, other.mean, other.m2, other.m3, other.m4, other.min, other.max
            )
            return self
        na, nb = self.n, other.n
        n = na + nb
        delta = other.mean - self.mean
        dn = delta / n
        dn2 = dn * dn
        t = delta * dn * na * nb  # δ² na nb / n
        m4 = (
            self.m4
            + other.m4
            + t * dn2 * (na * na - na * nb + nb * nb)
            + 6.0 * dn2 * (na * na * other.m2 + nb * nb * self.m2)
            + 4.0 * dn * (na * other.m3 - nb * self.m3)
        )
        m3 = (
            self.m3
            + other.m3
            + t * dn * (na - nb)
            + 3.0 * dn * (na * other.m2 - nb * self.m2)
        )
        self.m2 = self.m2 + other.m2 + t
        self.m3, self.m4 = m3, m4
        self.mean = self.mean + nb * dn
        self.n = n
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        return self

    def var(self, ddof: int = 1) -> float:
        """Sample variance M2/(n − ddof); NaN when n ≤ ddof."""
        return self.m2 / (self.n - ddof) if self.n > ddof else math.nan

    def skewness(self) -> float:
        """Sample skewness g1 = m3/m2^{3/2} with m_p = M_p/n (scipy's ``bias=True``)."""
        if self.n == 0 or self.m2 == 0.0:
            return math.nan
        return math.sqrt(self.n) * self.m3 / self.m2**1.5

    def excess_kurtosis(self) -> float:
        """Sample excess kurtosis g2 = m4/m2² − 3 (scipy's ``fisher=True, bias=True``)."""
        if self.n == 0 or self.m2 == 0.0:
            return math.nan
        return self.n * self.m4 / self.m2**2 - 3.0
