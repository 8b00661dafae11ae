r"""Moments estimated by Monte Carlo, for initializers that do not declare them.

An initializer a user writes — a function ``f(shape, rng) -> ndarray`` wrapped by
:func:`from_function`, or an :class:`~satsim.init.Initializer` subclass implementing
only :meth:`~satsim.init.Initializer.draw` — has no closed-form moments unless it
declares them.  The moments it does not declare are *estimated*:

* ``R`` independent layers of shape ``(fan_out, fan_in)`` are drawn from a generator
  seeded by the fans alone (so an estimate is reproducible and the same in every
  process), with :math:`R = \max(8, \min(64, \lceil 2^{20}/(\text{fan\_in}\,
  \text{fan\_out})\rceil))`;
* the mean is the grand mean :math:`\hat\mu`; the variance of one weight is
  :math:`\hat\sigma^2 = \frac{1}{R}\sum_r u_r \cdot \frac{NR}{NR-1}` with
  :math:`u_r = \frac1N\sum_{ij} (W^{(r)}_{ij} - \hat\mu)^2` over the N entries of layer r;
* its confidence interval is the t interval of the R per-layer values :math:`u_r`
  (layers are independent even when the entries of one layer are not, as in an
  orthogonal or sparse scheme), at ``confidence_level = 0.95``;
* skewness and excess kurtosis are the pooled sample moments.

:meth:`~satsim.init.Initializer.moments` reports every moment with an ``exact`` flag,
so reports can label estimated values as such.
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from satsim._moments import t_quantile
from satsim._results import Result, result

if TYPE_CHECKING:
    from satsim.init._catalogue import Initializer

__all__ = ["WeightMoments", "check_draw", "estimate_moments"]

#: entries drawn for an estimate (at least 8 and at most 64 layers)
_TARGET_ENTRIES = 2**20
_CONFIDENCE = 0.95


@result
class WeightMoments(Result):
    """Moments of one weight of an initializer at given fans.

    Attributes
    ----------
    mean, variance, skewness, excess_kurtosis : float
    variance_ci_low, variance_ci_high : float
        95% interval for the variance (equal to ``variance`` when it is exact).
    exact : dict
        ``{"mean": bool, "variance": bool, ...}``: closed form (True) or Monte Carlo.
    n_layers, n_draws : int
        Layers and entries behind the estimates (0 when every moment is exact).
    """

    _title = "Weight moments"

    initializer: str
    fan_in: int
    fan_out: int
    mean: float
    variance: float
    variance_ci_low: float
    variance_ci_high: float
    skewness: float
    excess_kurtosis: float
    exact: dict
    n_layers: int
    n_draws: int

    @property
    def estimated(self) -> bool:
        """True if any moment is a Monte Carlo estimate."""
        return not all(self.exact.values())

    def to_frame(self) -> pd.DataFrame:
        rows = []
        for stat in ("mean", "variance", "skewness", "excess_kurtosis"):
            value = getattr(self, stat)
            low = self.variance_ci_low if stat == "variance" else math.nan
            high = self.variance_ci_high if stat == "variance" else math.nan
            rows.append({"initializer": self.initializer, "fan_in": self.fan_in,
                         "fan_out": self.fan_out, "statistic": stat, "estimate": value,
                         "ci_low": low, "ci_high": high,
                         "method": "exact" if self.exact[stat] else "monte_carlo",
                         "n": 0 if self.exact[stat] else self.n_draws})
        return pd.DataFrame(rows)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:120]


def check_draw(value: Any, shape: tuple[int, ...], who: str) -> np.ndarray:
    """A user initializer's draw as a float64 array of ``shape``, or a one-line error."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{who} must return a numpy array of shape {shape}; got "
                        f"{_describe(value)}")
    if value.shape != tuple(shape):
        raise ValueError(f"{who} returned shape {value.shape} for shape={tuple(shape)}; it "
                         f"must return an array of exactly the shape asked for")
    if value.dtype.kind not in "fiu":
        raise TypeError(f"{who} must return real numbers; got dtype {value.dtype}")
    out = value.astype(np.float64, copy=False)
    if not np.isfinite(out).all():
        bad = "NaN" if np.isnan(out).any() else "infinite values"
        raise ValueError(f"{who} returned {bad} for shape={tuple(shape)}")
    return out


def _seed(init: Initializer, fan_in: int, fan_out: int) -> np.random.SeedSequence:
    # seeded by the fans and the initializer's name: reproducible in every process
    digest = hashlib.sha256(f"{init.name}|{fan_in}|{fan_out}".encode()).digest()
    return np.random.SeedSequence(int.from_bytes(digest[:8], "little"))


def estimate_moments(init: Initializer, fan_in: int, fan_out: int) -> dict[str, float]:
    """Monte Carlo moments of one weight (see the module docstring); cached per fans and
    per the initializer's repr (so changing a public attribute re-estimates).

    One layer is held at a time: per-layer power sums about a shift c (the first
    layer's mean, against cancellation) give the global central moments by the
    binomial expansion, and each layer's :math:`u_r` about the global mean."""
    cache = _cache(init)
    key = (fan_in, fan_out, repr(init))
    if cache is not None and key in cache:
        return cache[key]
    n = fan_in * fan_out
    reps = max(8, min(64, -(-_TARGET_ENTRIES // n)))
    rng = np.random.default_rng(_seed(init, fan_in, fan_out))
    layer = np.empty((fan_out, fan_in))
    sums = np.empty((reps, 4))  # per layer: mean of y, y², y³, y⁴ with y = w − c
    shift = 0.0
    for r in range(reps):
        init._fill_layer(layer, fan_in, fan_out, rng)
        if r == 0:
            shift = float(layer.mean())
        y = layer - shift
        y2 = y * y
        sums[r] = (y.mean(), y2.mean(), (y2 * y).mean(), (y2 * y2).mean())
    m1, m2, m3, m4 = sums.mean(axis=0)
    a = m1  # global mean − shift
    mu = shift + a
    u = sums[:, 1] - 2 * a * sums[:, 0] + a * a  # each layer's mean square about mu
    total = n * reps
    var = float(u.mean()) * total / (total - 1)
    half = t_quantile(_CONFIDENCE, reps - 1) * float(u.std(ddof=1)) / math.sqrt(reps)
    c2 = m2 - a * a
    if var > 0 and c2 > 0:
        c3 = m3 - 3 * a * m2 + 2 * a**3
        c4 = m4 - 4 * a * m3 + 6 * a * a * m2 - 3 * a**4
        skew, kurt = float(c3 / c2**1.5), float(c4 / c2**2 - 3.0)
    else:
        skew = kurt = math.nan
    out = {"mean": float(mu), "variance": var, "variance_ci_low": max(var - half, 0.0),
           "variance_ci_high": var + half, "skewness": skew, "excess_kurtosis": kurt,
           "n_layers": reps, "n_draws": total}
    if cache is not None:
        cache[key] = out
    return out


def _cache(init: Initializer) -> dict | None:
    try:
        return init.__dict__.setdefault("_satsim_moment_cache", {})
    except AttributeError:  # a slotted user class: no caching
        return None


# --------------------------------------------------------------------------- functions
