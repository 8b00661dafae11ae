"""The :class:`Activation` base class, the saturation criteria and the built-in
activations (see :mod:`satsim.activations`)."""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy import optimize, special

from satsim._validation import check_choice, check_real

if TYPE_CHECKING:
    import pandas as pd

CRITERIA = ("output", "derivative", "tanh97", "inactive")


def _float(z: Any) -> np.ndarray:
    """Float array in the input's floating dtype (float64 for ints and lists)."""
    arr = np.asarray(z)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def _like(out: Any, z: np.ndarray) -> np.ndarray:
    """``out`` in z's dtype (scipy.special computes float16 input in float32/64)."""
    return np.asarray(out).astype(z.dtype, copy=False)


#: |z| beyond which exp(−z²/2) underflows in every float dtype (e^{−800} = 0 in float64);
#: clipping there keeps z² finite in float16 (40² = 1600 < 65504)
_GAUSS_CLIP = 40.0


def _gauss_clip(z: np.ndarray) -> np.ndarray:
    return np.clip(z, -_GAUSS_CLIP, _GAUSS_CLIP)


def _check_epsilon(epsilon: Any) -> float:
    return check_real("epsilon", epsilon, low=0.0, high=0.5, low_inclusive=False,
                      high_inclusive=False)


def _check_delta(delta: Any) -> float:
    return check_real("delta", delta, low=0.0, high=1.0, low_inclusive=False,
                      high_inclusive=False)


class Activation(abc.ABC):
    """Base class of activations (frozen dataclasses)."""

    name: ClassVar[str]
    #: criterion used when none is given
    default_criterion: ClassVar[str] = "derivative"

    @abc.abstractmethod
    def fn(self, z: Any) -> np.ndarray:
        """:math:`\\varphi(z)`."""

    @abc.abstractmethod
    def grad(self, z: Any) -> np.ndarray:
        """:math:`\\varphi'(z)` (one-sided choice at kinks: the right derivative at 0
        for relu-like functions, 0 at ±1 for hard_tanh)."""

    def grad_from(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """φ'(z) given also a = φ(z): lets backpropagation reuse the forward pass
        (σ' = a(1 − a), tanh' = 1 − a²).  Default: :meth:`grad`."""
        return self.grad(z)

    @abc.abstractmethod
    def grad2(self, z: Any) -> np.ndarray:
        """:math:`\\varphi''(z)` (0 on linear pieces; kinks are measure-zero)."""

    @property
    @abc.abstractmethod
    def range(self) -> tuple[float, float]:
        """Closure of the image of φ."""

    @property
    @abc.abstractmethod
    def max_grad(self) -> float:
        """:math:`\\sup_z \\varphi'(z)`."""

    def __call__(self, z: Any) -> np.ndarray:
        return self.fn(z)

    @property
    def bounded(self) -> bool:
        lo, hi = self.range
        return math.isfinite(lo) and math.isfinite(hi)

    # -- saturation ----------------------------------------------------------------
    def saturation_bounds(
        self, criterion: str | None = None, *, epsilon: float = 0.01, delta: float = 0.01
    ) -> tuple[float, float]:
        """``(z_low, z_high)``: a unit is saturated iff z < z_low or z > z_high
        (``"inactive"``: iff z ≤ z_low = 0, with z_high = +inf).

        Parameters
        ----------
        criterion : {"output", "derivative", "tanh97", "inactive"}, optional
            Default: this activation's :attr:`default_criterion`.
        epsilon : float in (0, 1/2), default 0.01
            Fraction of the output range (``"output"``).
        delta : float in (0, 1), default 0.01
            Fraction of the largest derivative (``"derivative"``).
        """
        criterion = self.default_criterion if criterion is None else check_choice(
            "criterion", criterion, CRITERIA
        )
        if criterion in ("output", "tanh97"):
            eps = 0.015 if criterion == "tanh97" else _check_epsilon(epsilon)
            if not self.bounded:
                raise ValueError(
                    f"criterion={criterion!r} needs a bounded activation; {self.name!r} has "
                    f"range {self.range}; use criterion='derivative' or 'inactive'"
                )
            return self._output_bounds(eps)
        if criterion == "derivative":
            return self._derivative_bounds(_check_delta(delta))
        if not isinstance(self, ReLU | LeakyReLU):
            raise ValueError(
                f"criterion='inactive' applies to relu and leaky_relu; got {self.name!r}"
            )
        return 0.0, math.inf

    def is_saturated(
        self, z: Any, criterion: str | None = None, *, epsilon: float = 0.01,
        delta: float = 0.01,
    ) -> np.ndarray:
        """Boolean array: which pre-activations ``z`` are saturated under ``criterion``
        (see :meth:`saturation_bounds`; ``"inactive"`` is z ≤ 0)."""
        criterion = self.default_criterion if criterion is None else criterion
        lo, hi = self.saturation_bounds(criterion, epsilon=epsilon, delta=delta)
        z = np.asarray(z)
        if criterion == "inactive":
            return z <= lo
        return (z < lo) | (z > hi)

    def _output_bounds(self, eps: float) -> tuple[float, float]:
        lo, hi = self.range
        width = hi - lo
        return self._inverse(lo + eps * width), self._inverse(hi - eps * width)

    def _inverse(self, a: float) -> float:
        """z with φ(z) = a for a strictly increasing φ (numerical by default)."""
        return _solve_increasing(lambda z: float(self.fn(z)) - a)

    def _derivative_bounds(self, delta: float) -> tuple[float, float]:
        """Generic: find where φ' crosses δ·max φ' on each side of its argmax."""
        target = delta * self.max_grad
        peak = self._grad_peak()
        left = _solve_increasing(lambda z: float(self.grad(z)) - target, hi=peak)
        right = _solve_increasing(lambda z: target - float(self.grad(z)), lo=peak)
        return left, right

    def _grad_peak(self) -> float:
        return 0.0

    def threshold_frame(self, epsilon: float = 0.01, delta: float = 0.01) -> pd.DataFrame:
        """A table of this activation's z-thresholds under every applicable criterion."""
        import pandas as pd

        rows = []
        for criterion in CRITERIA:
            try:
                lo, hi = self.saturation_bounds(criterion, epsilon=epsilon, delta=delta)
            except ValueError:
                continue
            rows.append({"activation": self.name, "criterion": criterion,
                         "z_low": lo, "z_high": hi})
        return pd.DataFrame(rows)


def _solve_increasing(f: Callable[[float], float], lo: float = -math.inf,
                      hi: float = math.inf) -> float:
    """Root of an increasing function; ±inf if it has the same sign everywhere."""
    a = lo if math.isfinite(lo) else -1.0
    b = hi if math.isfinite(hi) else 1.0
    while f(a) > 0:
        if not math.isfinite(lo) and a > -1e6:
            a *= 2.0
        else:
            return -math.inf
    while f(b) < 0:
        if not math.isfinite(hi) and b < 1e6:
            b = b * 2.0 if b > 0 else 1.0
        else:
            return math.inf
    if f(a) == 0:
        return a
    return float(optimize.brentq(f, a, b, xtol=1e-14, rtol=1e-14))


@dataclasses.dataclass(frozen=True)
class Sigmoid(Activation):
    r""":math:`\sigma(z) = 1/(1+e^{-z})` (``scipy.special.expit``: no overflow)."""

    name: ClassVar[str] = "sigmoid"
    default_criterion: ClassVar[str] = "output"

    def fn(self, z: Any) -> np.ndarray:
        z = _float(z)
        return _like(special.expit(z), z)

    def grad(self, z: Any) -> np.ndarray:
        z = _float(z)
        return _like(special.expit(z) * special.expit(-z), z)

    def grad_from(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return a * (1 - a)

    def grad2(self, z: Any) -> np.ndarray:
        z = _float(z)
        s = special.expit(z)
        return _like(s * special.expit(-z) * (1 - 2 * s), z)

    @property
    def range(self) -> tuple[float, float]:
        return 0.0, 1.0

    @property
    def max_grad(self) -> float:
        return 0.25

    def _output_bounds(self, eps: float) -> tuple[float, float]:
        t = math.log((1 - eps) / eps)
        return -t, t

    def _derivative_bounds(self, delta: float) -> tuple[float, float]:
        # σ(1−σ) = δ/4 ⇒ σ = (1 ± √(1−δ))/2
        s = (1 + math.sqrt(1 - delta)) / 2
        t = math.log(s / (1 - s))
        return -t, t


@dataclasses.dataclass(frozen=True)
class Tanh(Activation):
    """Hyperbolic tangent."""

    name: ClassVar[str] = "tanh"
    default_criterion: ClassVar[str] = "output"

    def fn(self, z: Any) -> np.ndarray:
        return np.tanh(_float(z))

    def grad(self, z: Any) -> np.ndarray:
        t = np.tanh(_float(z))
        return 1 - t * t

    def grad_from(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return 1 - a * a

    def grad2(self, z: Any) -> np.ndarray:
        t = np.tanh(_float(z))
        return -2 * t * (1 - t * t)

    @property
    def range(self) -> tuple[float, float]:
        return -1.0, 1.0

    @property
    def max_grad(self) -> float:
        return 1.0

    def _output_bounds(self, eps: float) -> tuple[float, float]:
        t = 0.5 * math.log((1 - eps) / eps)  # atanh(1 − 2ε)
        return -t, t

    def _derivative_bounds(self, delta: float) -> tuple[float, float]:
        t = math.atanh(math.sqrt(1 - delta))
        return -t, t


@dataclasses.dataclass(frozen=True)
class ReLU(Activation):
    """max(z, 0)."""

    name: ClassVar[str] = "relu"
    default_criterion: ClassVar[str] = "inactive"

    def fn(self, z: Any) -> np.ndarray:
        return np.maximum(_float(z), 0)

    def grad(self, z: Any) -> np.ndarray:
        z = _float(z)
        return (z > 0).astype(z.dtype)

    def grad2(self, z: Any) -> np.ndarray:
        return np.zeros_like(_float(z))

    @property
    def range(self) -> tuple[float, float]:
        return 0.0, math.inf

    @property
    def max_grad(self) -> float:
        return 1.0

    def _derivative_bounds(self, delta: float) -> tuple[float, float]:
        return 0.0, math.inf


@dataclasses.dataclass(frozen=True)
class LeakyReLU(Activation):
    """z for z > 0, ``slope`` · z otherwise (PyTorch's default slope 0.01)."""

    slope: float = 0.01
    name: ClassVar[str] = "leaky_relu"
    default_criterion: ClassVar[str] = "inactive"

    def __post_init__(self) -> None:
        object.__setattr__(self, "slope", check_real("slope", self.slope, low=0.0, high=1.0,
                                                     high_inclusive=False))

    def fn(self, z: Any) -> np.ndarray:
        z = _float(z)
        return np.where(z > 0, z, self.slope * z).astype(z.dtype, copy=False)

    def grad(self, z: Any) -> np.ndarray:
        z = _float(z)
        return np.where(z > 0, 1.0, self.slope).astype(z.dtype, copy=False)

    def grad2(self, z: Any) -> np.ndarray:
        return np.zeros_like(_float(z))

    @property
    def range(self) -> tuple[float, float]:
        return (-math.inf if self.slope > 0 else 0.0), math.inf

    @property
    def max_grad(self) -> float:
        return 1.0

    def _derivative_bounds(self, delta: float) -> tuple[float, float]:
        return (0.0 if self.slope < delta else -math.inf), math.inf


@dataclasses.dataclass(frozen=True)
class ELU(Activation):
    """z for z > 0, α(e^z − 1) otherwise (Clevert et al. 2016)."""

    alpha: float = 1.0
    name: ClassVar[str] = "elu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "alpha", check_real("alpha", self.alpha, low=0.0,
                                                     low_inclusive=False))

    def fn(self, z: Any) -> np.ndarray:
        z = _float(z)
        neg = self.alpha * np.expm1(np.minimum(z, 0))  # never exponentiates a large z
        return np.where(z > 0, z, neg).astype(z.dtype, copy=False)

    def grad(self, z: Any) -> np.ndarray:
        z = _float(z)
        return np.where(z > 0, 1.0, self.alpha * np.exp(np.minimum(z, 0))).astype(
            z.dtype, copy=False)

    def grad2(self, z: Any) -> np.ndarray:
        z = _float(z)
        return np.where(z > 0, 0.0, self.alpha * np.exp(np.minimum(z, 0))).astype(
            z.dtype, copy=False)

    @property
    def range(self) -> tuple[float, float]:
        return -self.alpha, math.inf

    @property
    def max_grad(self) -> float:
        return max(1.0, self.alpha)

    def _derivative_bounds(self, delta: float) -> tuple[float, float]:
        target = delta * self.max_grad
        if target >= 1.0:  # unreachable for delta < 1 unless alpha > 1
            return math.inf, math.inf
        return math.log(target / self.alpha) if target < self.alpha else 0.0, math.inf


@dataclasses.dataclass(frozen=True)
class Softplus(Activation):
    """ln(1 + e^z) (``numpy.logaddexp``: no overflow)."""

    name: ClassVar[str] = "softplus"

    def fn(self, z: Any) -> np.ndarray:
        z = _float(z)
        return np.logaddexp(np.zeros((), z.dtype), z)

    def grad(self, z: Any) -> np.ndarray:
        z = _float(z)
        return _like(special.expit(z), z)

    def grad2(self, z: Any) -> np.ndarray:
        z = _float(z)
        return _like(special.expit(z) * special.expit(-z), z)

    @property
    def range(self) -> tuple[float, float]:
        return 0.0, math.inf

    @property
    def max_grad(self) -> float:
        return 1.0

    def _derivative_bounds(self, delta: float) -> tuple[float, float]:
        return math.log(delta / (1 - delta)), math.inf  # σ(z) < δ


@dataclasses.dataclass(frozen=True)
class Softsign(Activation):
    """z / (1 + |z|)."""

    name: ClassVar[str] = "softsign"
    default_criterion: ClassVar[str] = "output"

    def fn(self, z: Any) -> np.ndarray:
        z = _float(z)
        return z / (1 + np.abs(z))

    def grad(self, z: Any) -> np.ndarray:
        z = _float(z)
        r = 1 / (1 + np.abs(z))  # (1 + |z|)² itself overflows for |z| > √max
        return r * r

    def grad2(self, z: Any) -> np.ndarray:
        z = _float(z)
        r = 1 / (1 + np.abs(z))
        return -2 * np.sign(z) * r * r * r

    @property
    def range(self) -> tuple[float, float]:
        return -1.0, 1.0

    @property
    def max_grad(self) -> float:
        return 1.0

    def _output_bounds(self, eps: float) -> tuple[float, float]:
        a = 1 - 2 * eps  # |z|/(1+|z|) = a
        t = a / (1 - a)
        return -t, t

    def _derivative_bounds(self, delta: float) -> tuple[float, float]:
        t = 1 / math.sqrt(delta) - 1
        return -t, t


@dataclasses.dataclass(frozen=True)
class HardTanh(Activation):
    r"""clip(z, −1, 1).

    ``grad2`` is 0 wherever it exists; the distributional second derivative is
    :math:`\delta(z+1) - \delta(z-1)`, whose atoms matter wherever φ'' multiplies a
    function that is non-zero at ±1 (the mean-field slope :math:`E[\varphi\varphi'']`
    gets :math:`-2\,p_u(1)` from them); :mod:`satsim.meanfield` uses closed forms.
    """

    name: ClassVar[str] = "hard_tanh"
    default_criterion: ClassVar[str] = "output"

    def fn(self, z: Any) -> np.ndarray:
        return np.clip(_float(z), -1, 1)

    def grad(self, z: Any) -> np.ndarray:
        z = _float(z)
        return (np.abs(z) < 1).astype(z.dtype)

    def grad2(self, z: Any) -> np.ndarray:
        return np.zeros_like(_float(z))

    @property
    def range(self) -> tuple[float, float]:
        return -1.0, 1.0

    @property
    def max_grad(self) -> float:
        return 1.0

    def _output_bounds(self, eps: float) -> tuple[float, float]:
        t = 1 - 2 * eps
        return -t, t

    def _derivative_bounds(self, delta: float) -> tuple[float, float]:
        return -1.0, 1.0


_SQRT_2PI = math.sqrt(2 * math.pi)
#: minimum of zΦ(z), attained at z ≈ −0.7518
_GELU_MIN = float(optimize.minimize_scalar(
    lambda t: t * special.ndtr(t), bounds=(-2, 0), method="bounded",
    options={"xatol": 1e-12}).fun)


@dataclasses.dataclass(frozen=True)
class GELU(Activation):
    """z Φ(z), the exact (erf) form (Hendrycks & Gimpel 2016)."""

    name: ClassVar[str] = "gelu"

    def fn(self, z: Any) -> np.ndarray:
        z = _float(z)
        return _like(z * special.ndtr(z), z)

    def grad(self, z: Any) -> np.ndarray:
        z = _float(z)
        c = _gauss_clip(z)  # zφ(z) is 0 to every precision beyond |z| = 40
        return _like(special.ndtr(z) + c * np.exp(-0.5 * c * c) / _SQRT_2PI, z)

    def grad2(self, z: Any) -> np.ndarray:
        # (2 − z²)φ(z): clipping first keeps z² finite (z² overflowed to inf in
        # float16 at |z| ≥ 256 and float32 at 1e19, and inf · 0 was NaN)
        c = _gauss_clip(_float(z))
        return (2 - c * c) * np.exp(-0.5 * c * c) / _SQRT_2PI

    @property
    def range(self) -> tuple[float, float]:
        return _GELU_MIN, math.inf

    @property
    def max_grad(self) -> float:
        # φ'' = 0 at z = √2: the derivative peaks there at ≈ 1.1289
        return float(self.grad(math.sqrt(2.0)))

    def _grad_peak(self) -> float:
        return math.sqrt(2.0)

    def _derivative_bounds(self, delta: float) -> tuple[float, float]:
        # GELU's derivative is negative for z < −0.75 and has its minimum at −√2
        # (φ'' = (2 − z²)φ(z)); on (−∞, −√2) |φ'| rises from 0, so the saturated left
        # tail is where |φ'| < δ·max.  (|φ'| also dips to 0 near z = −0.75, an isolated
        # crossing, not saturation.)  The right side tends to 1 and never saturates.
        target = delta * self.max_grad
        left = _solve_increasing(lambda t: -float(self.grad(t)) - target, hi=-math.sqrt(2.0))
        return left, math.inf


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


@dataclasses.dataclass(frozen=True)
class Erf(Activation):
    r"""The error function :math:`\mathrm{erf}(z) = \frac{2}{\sqrt\pi}\int_0^z
    e^{-t^2}dt`, a sigmoid-shaped activation with range (−1, 1) whose Gaussian
    integrals are all closed forms (Williams 1997): with u ~ N(0, q),

    .. math::

        E\,\mathrm{erf}(u)^2 = \tfrac{2}{\pi}\arcsin\frac{2q}{1+2q},\qquad
        E\,\mathrm{erf}'(u)^2 = \frac{4}{\pi\sqrt{1+4q}}.

    φ' = (2/√π) e^{−z²}, φ'' = −2z φ'.  Saturation: ``"output"`` (default) at
    |z| > erfinv(1 − 2ε); ``"derivative"`` at |z| > √(ln 1/δ).
    """

    name: ClassVar[str] = "erf"
    default_criterion: ClassVar[str] = "output"

    def fn(self, z: Any) -> np.ndarray:
        z = _float(z)
        return _like(special.erf(z), z)

    def grad(self, z: Any) -> np.ndarray:
        c = _gauss_clip(_float(z))
        return _TWO_OVER_SQRT_PI * np.exp(-c * c)

    def grad2(self, z: Any) -> np.ndarray:
        c = _gauss_clip(_float(z))
        return -2 * _TWO_OVER_SQRT_PI * c * np.exp(-c * c)

    @property
    def range(self) -> tuple[float, float]:
        return -1.0, 1.0

    @property
    def max_grad(self) -> float:
        return _TWO_OVER_SQRT_PI

    def _output_bounds(self, eps: float) -> tuple[float, float]:
        t = float(special.erfinv(1 - 2 * eps))
        return -t, t

    def _derivative_bounds(self, delta: float) -> tuple[float, float]:
        t = math.sqrt(-math.log(delta))  # e^{−z²} = δ
        return -t, t


@dataclasses.dataclass(frozen=True)
class Linear(Activation):
    """The identity (never saturates)."""

    name: ClassVar[str] = "linear"

    def fn(self, z: Any) -> np.ndarray:
        return _float(z).copy()

    def grad(self, z: Any) -> np.ndarray:
        return np.ones_like(_float(z))

    def grad2(self, z: Any) -> np.ndarray:
        return np.zeros_like(_float(z))

    @property
    def range(self) -> tuple[float, float]:
        return -math.inf, math.inf

    @property
    def max_grad(self) -> float:
        return 1.0

    def _derivative_bounds(self, delta: float) -> tuple[float, float]:
        return -math.inf, math.inf


_REGISTRY: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus, Softsign, HardTanh, GELU, Linear,
                Erf)
}
