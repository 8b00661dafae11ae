"""The initializer classes behind :mod:`satsim.init` (see its docstring for the maths,
the presets and the PyTorch/Keras semantics).  Import them from ``satsim.init``."""


from __future__ import annotations

import abc
import dataclasses
import inspect
import math
from typing import Any, ClassVar

import numpy as np
from scipy import special, stats

from satsim._docstrings import fill
from satsim._validation import (
    check_choice,
    check_int,
    check_interval,
    check_probability,
    check_real,
    check_rng,
    check_shape,
)
from satsim._warnings import DegenerateDistributionWarning

#: Standard deviation of N(0, 1) truncated to (−2, 2): the constant Keras and JAX divide
#: by so that a truncated normal has the variance asked for (Keras hard-codes
#: 0.87962566103423978).  Computed here from scipy rather than copied.
TRUNCATED_NORMAL_STD: float = float(math.sqrt(stats.truncnorm(-2.0, 2.0).var()))


def _fans_from_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) for a weight of ``shape`` in layout ``(fan_out, fan_in, *kernel)``.

    A 1-D shape (a bias) gets fan_in = fan_out = its length, as in Keras; pass
    ``fans=`` explicitly to sample a bias with its layer's fans.
    """
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _matrix_fans(shape: int | tuple[int, ...]) -> tuple[int, int]:
    """Fans of the ``(out, in·k)`` matrix a coupled preset draws for ``shape``."""
    shape = check_shape("shape", shape, ndim=range(1, 6))
    if len(shape) < 2:
        return _fans_from_shape(shape)
    return math.prod(shape[1:]), shape[0]


def _snake(name: str) -> str:
    import re

    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _check_fans(fan_in: Any, fan_out: Any) -> tuple[int, int]:
    return check_int("fan_in", fan_in, minimum=1), check_int("fan_out", fan_out, minimum=1)


class Initializer(abc.ABC):
    """Base class: a distribution for the entries of a weight (or bias) array.

    Notes
    -----
    **Writing your own.** Subclass and implement the public hook :meth:`draw`;
    everything else (sampling with validation, the rows of independent neurons, conv
    fans, the moments) comes from the base class::

        class Laplace(satsim.init.Initializer):
            def __init__(self, scale=1.0):
                self.scale = scale

            def draw(self, shape, fan_in, fan_out, rng):
                b = self.scale / math.sqrt(2 * fan_in)   # Var = 2b² = scale²/fan_in
                return rng.laplace(0.0, b, size=shape)

            def variance(self, fan_in, fan_out):       # optional: the exact variance
                return self.scale**2 / fan_in

    Moments you do not override (:meth:`mean`, :meth:`variance`, :meth:`skewness`,
    :meth:`excess_kurtosis`) are estimated by Monte Carlo from :meth:`draw` (see
    :meth:`moments`, which says which are exact).  The name defaults to the class name
    in snake case (``"laplace"``), and the repr lists the public attributes.  Set the
    class attribute ``elementwise = False`` if the entries of one layer are coupled (as
    in an orthogonal scheme).  The built-in presets are frozen dataclasses that fill
    preallocated arrays directly (a private fast path).
    """

    #: Whether entries are i.i.d. (so any array shape can be sampled).  Orthogonal and
    #: sparse initializers couple the entries of one layer and need a 2-D shape.
    elementwise: ClassVar[bool] = True

    name: str

    def __new__(cls, *args: Any, **kwargs: Any) -> Initializer:
        if cls is Initializer:
            raise TypeError("Initializer is the base class: subclass it and implement "
                            "draw(shape, fan_in, fan_out, rng)")
        return super().__new__(cls)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # a user subclass without a name gets its class name in snake case; classes that
        # declare a ``name`` field (the dataclass presets) are left alone
        if (cls.__module__ != __name__ and not hasattr(cls, "name")
                and "name" not in inspect.get_annotations(cls)):
            cls.name = _snake(cls.__name__)

    def __repr__(self) -> str:
        attrs = {k: v for k, v in vars(self).items() if not k.startswith("_")
                 and k != "name"} if hasattr(self, "__dict__") else {}
        inner = ", ".join(f"{k}={v!r}" for k, v in attrs.items())
        sep = ", " if inner else ""
        return f"{type(self).__name__}({inner}{sep}name={self.name!r})"

    # -- the public hook -----------------------------------------------------------
    def draw(self, shape: tuple[int, ...], fan_in: int, fan_out: int,
             rng: np.random.Generator) -> np.ndarray:
        """Return a new float array of ``shape`` drawn from this initializer.

        The one method a subclass must implement.  ``shape`` is ``(fan_out, fan_in,
        *kernel)`` for a layer, ``(n,)`` for a bias and ``(n, fan_in)`` for the rows of
        ``n`` independent neurons; ``fan_in``/``fan_out`` are the fans to scale by (PyTorch's
        for convolutions; a bias gets its layer's); ``rng`` is a
        :class:`numpy.random.Generator` — use only it, so results depend on the seed alone.
        The result must be a finite real array of exactly ``shape``.
        """
        if type(self)._fill is Initializer._fill:
            raise NotImplementedError(
                f"{type(self).__name__} must implement draw(shape, fan_in, fan_out, rng)")
        out = np.empty(shape, dtype=np.float64)
        self._fill_layer(out, fan_in, fan_out, rng)
        return out

    # -- sampling ---------------------------------------------------------------
    @fill
    def sample(
        self,
        shape: int | tuple[int, ...],
        *,
        rng: Any = None,
        fans: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """Draw an array of weights.

        Parameters
        ----------
        shape : int or tuple of int
            ``(fan_out, fan_in)`` for a dense layer, ``(fan_out, fan_in, *kernel)``
            for a convolution, ``(n,)`` for a bias.
        %(rng)s
        fans : (int, int), optional
            ``(fan_in, fan_out)`` to use instead of the ones implied by ``shape``;
            needed to sample a bias with its layer's fans (e.g. ``torch_linear``).

        Returns
        -------
        numpy.ndarray of float64, shape ``shape``
        """
        shape = check_shape("shape", shape, ndim=range(1, 6))
        if fans is None:
            fan_in, fan_out = _fans_from_shape(shape)
        else:
            if not isinstance(fans, tuple | list) or len(fans) != 2:
                raise TypeError(f"`fans` must be a pair (fan_in, fan_out); got fans={fans!r}")
            fan_in, fan_out = _check_fans(*fans)
        if not self.elementwise and len(shape) < 2:
            raise ValueError(
                f"`shape` must have at least 2 dimensions for the {self.name!r} initializer "
                f"(it couples the entries of a layer); got shape={shape!r}"
            )
        rng = check_rng(rng)
        out = np.empty(shape, dtype=np.float64)
        self._fill_layer(out, fan_in, fan_out, rng)
        return out

    @fill
    def sample_rows(
        self,
        n: int,
        fan_in: int,
        fan_out: int,
        *,
        rng: Any = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Incoming weight vectors of ``n`` *independent* neurons.

        Each row has the law of one row of a ``(fan_out, fan_in)`` layer drawn by
        :meth:`sample`; different rows are independent (rows of one sampled layer
        are not, for :class:`Orthogonal` and :class:`Sparse`).

        Parameters
        ----------
        n : int
            Number of neurons.
        %(fans)s
        %(rng)s
        out : numpy.ndarray, optional
            C-contiguous float64 array of shape ``(n, fan_in)`` to fill in place.

        Returns
        -------
        numpy.ndarray, shape ``(n, fan_in)``
        """
        n = check_int("n", n, minimum=1)
        fan_in, fan_out = _check_fans(fan_in, fan_out)
        if out is None:
            out = np.empty((n, fan_in), dtype=np.float64)
        elif out.shape != (n, fan_in) or out.dtype != np.float64 or not out.flags.c_contiguous:
            raise ValueError(
                f"`out` must be a C-contiguous float64 array of shape {(n, fan_in)}; "
                f"got shape {out.shape}, dtype {out.dtype}"
            )
        self._fill_rows(out, fan_in, fan_out, check_rng(rng))
        return out

    def _fill(self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator) -> None:
        """Fill ``out`` (any shape, C-contiguous float64) with i.i.d. draws of one entry
        (the presets' fast path; a user subclass implements :meth:`draw` instead)."""
        if type(self).draw is Initializer.draw:
            raise NotImplementedError(
                f"{type(self).__name__} must implement draw(shape, fan_in, fan_out, rng)")
        from satsim.init._estimate import check_draw

        out[...] = check_draw(self.draw(out.shape, fan_in, fan_out, rng), out.shape,
                              f"initializer {self.name!r} ({type(self).__name__}.draw)")

    def _fill_layer(
        self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> None:
        self._fill(out, fan_in, fan_out, rng)

    def _gaussian_scale(self, fan_in: int, fan_out: int) -> float | None:
        """σ if one weight is exactly σ·N(0, 1) drawn by ``standard_normal`` (lets the
        Monte Carlo engine fold σ into x instead of rescaling every weight); else None."""
        return None

    def _fill_rows(
        self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> None:
        if self.elementwise or type(self)._fill_layer is not Initializer._fill_layer:
            self._fill(out, fan_in, fan_out, rng)
            return
        # coupled entries (a user scheme with elementwise = False): each neuron's row
        # comes from its own independently drawn layer, so rows are independent
        layer = np.empty((fan_out, fan_in))
        for i in range(out.shape[0]):
            self._fill_layer(layer, fan_in, fan_out, rng)
            out[i] = layer[i % fan_out]

    # -- moments ---------------------------------------------------------------------
    def _estimated(self, fan_in: int, fan_out: int) -> dict[str, float]:
        from satsim.init._estimate import estimate_moments

        return estimate_moments(self, *_check_fans(fan_in, fan_out))

    def _exact(self, stat: str) -> bool:
        """Whether :meth:`moments` reports ``stat`` as a closed form."""
        cls = type(self)
        if cls.__module__ == __name__:  # the presets: every moment is a closed form
            return True
        return getattr(cls, stat) is not getattr(Initializer, stat)

    def mean(self, fan_in: int, fan_out: int) -> float:
        """Expected value of one weight (estimated by Monte Carlo unless overridden)."""
        return self._estimated(fan_in, fan_out)["mean"]

    def variance(self, fan_in: int, fan_out: int) -> float:
        """Realised variance of one weight (including any truncation correction;
        estimated by Monte Carlo unless overridden)."""
        return self._estimated(fan_in, fan_out)["variance"]

    def excess_kurtosis(self, fan_in: int, fan_out: int) -> float:
        """Excess kurtosis :math:`E[(w-\\mu)^4]/\\sigma^4 - 3` of one weight (NaN if σ = 0;
        estimated by Monte Carlo unless overridden)."""
        return self._estimated(fan_in, fan_out)["excess_kurtosis"]

    def support(self, fan_in: int, fan_out: int) -> tuple[float, float]:
        """Closed interval ``(low, high)`` containing every possible draw ((−inf, inf)
        unless overridden)."""
        return -math.inf, math.inf

    def skewness(self, fan_in: int, fan_out: int) -> float:
        """Skewness :math:`E[(w-\\mu)^3]/\\sigma^3` of one weight; 0 for every symmetric
        law (all presets), NaN if σ = 0; estimated by Monte Carlo for a user scheme
        that does not override it."""
        if not self._exact("skewness"):
            return self._estimated(fan_in, fan_out)["skewness"]
        if self.variance(fan_in, fan_out) == 0.0:
            return _degenerate_kurtosis(self, "skewness")
        return 0.0

    def moments(self, fan_in: int, fan_out: int) -> Any:
        """Mean, variance (with a 95% interval when estimated), skewness and excess
        kurtosis of one weight, each flagged exact or Monte Carlo
        (:class:`satsim.init.WeightMoments`)."""
        from satsim.init._estimate import WeightMoments

        fan_in, fan_out = _check_fans(fan_in, fan_out)
        exact = {s: self._exact(s) for s in ("mean", "variance", "skewness",
                                               "excess_kurtosis")}
        est = self._estimated(fan_in, fan_out) if not all(exact.values()) else None
        var = self.variance(fan_in, fan_out)
        low = high = var
        if est is not None and not exact["variance"]:
            low, high = est["variance_ci_low"], est["variance_ci_high"]
        return WeightMoments(
            initializer=self.name, fan_in=fan_in, fan_out=fan_out,
            mean=self.mean(fan_in, fan_out), variance=var, variance_ci_low=low,
            variance_ci_high=high, skewness=self.skewness(fan_in, fan_out),
            excess_kurtosis=self.excess_kurtosis(fan_in, fan_out), exact=exact,
            n_layers=0 if est is None else int(est["n_layers"]),
            n_draws=0 if est is None else int(est["n_draws"]))

    def moment_fans(self, shape: int | tuple[int, ...]) -> tuple[int, int]:
        r"""The ``(fan_in, fan_out)`` at which the moment methods describe an entry of a
        weight of ``shape``.

        The moment methods take fans, but for a scheme that couples the entries of a
        layer the law of one entry follows the matrix that is drawn, not the fans it is
        scaled by.  A convolution kernel ``(out, in, *kernel)`` has PyTorch's fans
        (in·k, out·k), k = ∏ kernel; :class:`Orthogonal` and :class:`Sparse` draw it, as
        PyTorch's ``orthogonal_`` does, as one ``(out, in·k)`` matrix, so their moments
        are those of that matrix, fans (in·k, out).  By default (every elementwise
        scheme, and every dense layer) these are :func:`satsim.init.fans` of ``shape``;
        override it in a coupled user scheme whose law follows the shape in another way.

        Parameters
        ----------
        shape : int or tuple of int
            The weight's shape, ``(fan_out, fan_in)`` or ``(out, in, *kernel)``.

        Returns
        -------
        (int, int)
            ``(fan_in, fan_out)`` to pass to :meth:`~Initializer.variance`,
            :meth:`~Initializer.moments` and the other moment methods.

        Examples
        --------
        >>> from satsim import init
        >>> init.get("orthogonal").moment_fans((16, 3, 3, 3))   # drawn as a 16 × 27 matrix
        (27, 16)
        >>> init.fans((16, 3, 3, 3))
        (27, 144)
        """
        return _fans_from_shape(check_shape("shape", shape, ndim=range(1, 6)))

    def std(self, fan_in: int, fan_out: int) -> float:
        """Standard deviation of one weight."""
        return math.sqrt(self.variance(fan_in, fan_out))

    def fourth_central_moment(self, fan_in: int, fan_out: int) -> float:
        """:math:`\\mu_4 = E[(w-\\mu)^4] = \\sigma^4 (\\gamma_2 + 3)`; 0 for a constant."""
        var = self.variance(fan_in, fan_out)
        if var == 0.0:
            return 0.0
        return var**2 * (self.excess_kurtosis(fan_in, fan_out) + 3.0)


class _ScipyElementwise(Initializer):
    """Elementwise initializer whose one-weight law is a frozen ``scipy.stats`` distribution.

    Moments come from scipy (exact, closed form), so they are never re-derived here.
    """

    @abc.abstractmethod
    def weight_distribution(self, fan_in: int, fan_out: int) -> Any:
        """The frozen ``scipy.stats`` distribution of one weight."""

    def _dist(self, fan_in: int, fan_out: int) -> Any:
        return self.weight_distribution(*_check_fans(fan_in, fan_out))

    def mean(self, fan_in: int, fan_out: int) -> float:
        return float(self._dist(fan_in, fan_out).mean())

    def variance(self, fan_in: int, fan_out: int) -> float:
        return float(self._dist(fan_in, fan_out).var())

    def excess_kurtosis(self, fan_in: int, fan_out: int) -> float:
        return float(self._dist(fan_in, fan_out).stats(moments="k"))

    def skewness(self, fan_in: int, fan_out: int) -> float:
        if self.variance(fan_in, fan_out) == 0.0:
            return _degenerate_kurtosis(self, "skewness")
        return float(self._dist(fan_in, fan_out).stats(moments="s"))

    def support(self, fan_in: int, fan_out: int) -> tuple[float, float]:
        low, high = self._dist(fan_in, fan_out).support()
        return float(low), float(high)


def _fill_normal(out: np.ndarray, loc: float, scale: float, rng: np.random.Generator) -> None:
    rng.standard_normal(out=out)
    if scale != 1.0:
        out *= scale
    if loc != 0.0:
        out += loc


def _fill_uniform(out: np.ndarray, low: float, high: float, rng: np.random.Generator) -> None:
    rng.random(out=out)
    out *= high - low
    out += low


def _fill_truncnorm(
    out: np.ndarray, a: float, b: float, loc: float, scale: float, rng: np.random.Generator
) -> None:
    """Inverse-CDF sampling (as JAX does): exact, and consumes one uniform per entry, so
    draws do not depend on how an array is split into pieces."""
    rng.random(out=out)
    if a <= 0.0 <= b:
        # Φ(a), Φ(b) are well conditioned when the interval contains the mode.
        pa, pb = special.ndtr(a), special.ndtr(b)
        out *= pb - pa
        out += pa
        special.ndtri(out, out=out)
    else:  # far-tail intervals: scipy's tail-accurate inverse
        out[...] = stats.truncnorm.ppf(out, a, b)
    out *= scale
    out += loc


@dataclasses.dataclass(frozen=True, init=False, repr=False)
class Normal(_ScipyElementwise):
    """N(mean, std²), independent of the fans (PyTorch ``nn.init.normal_``).

    Stored as ``loc`` = mean and ``scale`` = std (scipy's names), since ``mean()``
    and ``std()`` are the moment methods every initializer has.
    """

    loc: float = 0.0
    scale: float = 1.0
    name: str = "normal"

    def __init__(self, mean: float = 0.0, std: float = 1.0, *, name: str = "normal"):
        object.__setattr__(self, "loc", check_real("mean", mean))
        object.__setattr__(self, "scale", check_real("std", std, low=0.0))
        object.__setattr__(self, "name", name)

    def __repr__(self) -> str:
        return f"Normal(mean={self.loc!r}, std={self.scale!r}, name={self.name!r})"

    def weight_distribution(self, fan_in: int, fan_out: int) -> Any:
        return stats.norm(self.loc, self.scale)

    def _fill(self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator) -> None:
        _fill_normal(out, self.loc, self.scale, rng)

    def _gaussian_scale(self, fan_in: int, fan_out: int) -> float | None:
        return self.scale if self.loc == 0.0 else None

    def excess_kurtosis(self, fan_in: int, fan_out: int) -> float:
        _check_fans(fan_in, fan_out)
        if self.scale == 0.0:
            return _degenerate_kurtosis(self)
        return 0.0


@dataclasses.dataclass(frozen=True)
class Uniform(_ScipyElementwise):
    """U(low, high), independent of the fans (PyTorch ``nn.init.uniform_``)."""

    low: float = 0.0
    high: float = 1.0
    name: str = dataclasses.field(default="uniform", kw_only=True)

    def __post_init__(self) -> None:
        low, high = check_interval("low", self.low, "high", self.high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def weight_distribution(self, fan_in: int, fan_out: int) -> Any:
        return stats.uniform(self.low, self.high - self.low)

    def _fill(self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator) -> None:
        _fill_uniform(out, self.low, self.high, rng)


@dataclasses.dataclass(frozen=True, init=False, repr=False)
class TruncatedNormal(_ScipyElementwise):
    r"""N(mean, std²) restricted to ``(mean + a·std, mean + b·std)``, *not* rescaled.

    Its variance is smaller than std²: for a = −2, b = 2 it is
    :math:`\text{std}^2 (1 - 4\varphi(2)/(\Phi(2)-\Phi(-2))) \approx 0.7737\,\text{std}^2`.
    ``a``, ``b`` are in units of std (scipy's convention, and Keras' fixed ±2);
    PyTorch's ``trunc_normal_`` takes absolute bounds, the same at mean 0, std 1.
    Stored as ``loc``/``scale`` (scipy's names).
    """

    loc: float = 0.0
    scale: float = 1.0
    a: float = -2.0
    b: float = 2.0
    name: str = "truncated_normal"

    def __init__(
        self,
        mean: float = 0.0,
        std: float = 1.0,
        a: float = -2.0,
        b: float = 2.0,
        *,
        name: str = "truncated_normal",
    ):
        a, b = check_interval("a", a, "b", b)
        object.__setattr__(self, "loc", check_real("mean", mean))
        object.__setattr__(self, "scale", check_real("std", std, low=0.0, low_inclusive=False))
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "name", name)

    def __repr__(self) -> str:
        return (
            f"TruncatedNormal(mean={self.loc!r}, std={self.scale!r}, a={self.a!r}, "
            f"b={self.b!r}, name={self.name!r})"
        )

    def weight_distribution(self, fan_in: int, fan_out: int) -> Any:
        return stats.truncnorm(self.a, self.b, loc=self.loc, scale=self.scale)

    def _fill(self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator) -> None:
        _fill_truncnorm(out, self.a, self.b, self.loc, self.scale, rng)


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")


@dataclasses.dataclass(frozen=True)
class VarianceScaling(_ScipyElementwise):
    r"""The variance-scaling family: Var(w) = scale / n with n chosen by ``mode``.

    Parameters
    ----------
    scale : float, default 1.0
        Positive multiplier of 1/n.
    mode : {"fan_in", "fan_out", "fan_avg"}
        Which fan n is: fan_in, fan_out or their mean.
    distribution : {"normal", "truncated_normal", "uniform"}
        ``"normal"``: N(0, scale/n), untruncated (PyTorch semantics).
        ``"truncated_normal"``: a normal cut at ±2 raw std and divided by
        :data:`TRUNCATED_NORMAL_STD`, so the realised variance is exactly scale/n
        (Keras/JAX semantics; note Keras' ``"normal"`` means this).
        ``"uniform"``: U(±√(3 scale/n)).
    """

    scale: float = 1.0
    mode: str = "fan_in"
    distribution: str = "normal"
    name: str = dataclasses.field(default="variance_scaling", kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "scale", check_real("scale", self.scale, low=0.0, low_inclusive=False)
        )
        object.__setattr__(self, "mode", check_choice("mode", self.mode, _MODES))
        object.__setattr__(
            self,
            "distribution",
            check_choice("distribution", self.distribution, _DISTRIBUTIONS),
        )

    def target_variance(self, fan_in: int, fan_out: int) -> float:
        """scale / n (equal to ``variance()`` for every ``distribution``)."""
        fan_in, fan_out = _check_fans(fan_in, fan_out)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[
            self.mode
        ]
        return self.scale / n

    def weight_distribution(self, fan_in: int, fan_out: int) -> Any:
        var = self.target_variance(fan_in, fan_out)
        if self.distribution == "normal":
            return stats.norm(0.0, math.sqrt(var))
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return stats.uniform(-limit, 2.0 * limit)
        return stats.truncnorm(-2.0, 2.0, scale=math.sqrt(var) / TRUNCATED_NORMAL_STD)

    def _gaussian_scale(self, fan_in: int, fan_out: int) -> float | None:
        if self.distribution != "normal":
            return None
        return math.sqrt(self.target_variance(fan_in, fan_out))

    def _fill(self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator) -> None:
        std = math.sqrt(self.target_variance(fan_in, fan_out))
        if self.distribution == "normal":
            _fill_normal(out, 0.0, std, rng)
        elif self.distribution == "uniform":
            limit = math.sqrt(3.0) * std
            _fill_uniform(out, -limit, limit, rng)
        else:
            _fill_truncnorm(out, -2.0, 2.0, 0.0, std / TRUNCATED_NORMAL_STD, rng)


def _degenerate_kurtosis(init: Initializer, what: str = "excess kurtosis") -> float:
    import warnings

    warnings.warn(
        f"the {init.name!r} initializer has zero variance, so its {what} is "
        "undefined; returning NaN",
        DegenerateDistributionWarning,
        stacklevel=3,
    )
    return math.nan


@dataclasses.dataclass(frozen=True)
class Constant(Initializer):
    """Every entry equals ``value`` (biases: ``zeros``/``constant``)."""

    value: float = 0.0
    name: str = dataclasses.field(default="constant", kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", check_real("value", self.value))

    def _fill(self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator) -> None:
        out.fill(self.value)

    def mean(self, fan_in: int, fan_out: int) -> float:
        return self.value

    def variance(self, fan_in: int, fan_out: int) -> float:
        return 0.0

    def excess_kurtosis(self, fan_in: int, fan_out: int) -> float:
        return _degenerate_kurtosis(self)

    def support(self, fan_in: int, fan_out: int) -> tuple[float, float]:
        return self.value, self.value


@dataclasses.dataclass(frozen=True)
class Orthogonal(Initializer):
    r"""A Haar-distributed (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014).

    For a ``(rows, cols)`` layer, the rows are orthonormal when rows ≤ cols and
    the columns otherwise (the QR of a Gaussian matrix with the sign fix of
    Mezzadri 2007, as PyTorch's ``orthogonal_``).  Each entry is ``gain`` times a
    coordinate of a uniform unit vector in :math:`\mathbb{R}^d`, d = max(rows, cols):

    .. math::

        E w = 0, \quad \operatorname{Var} w = \frac{\text{gain}^2}{d}, \quad
        \gamma_2 = -\frac{6}{d + 2}, \quad |w| \le \text{gain}.

    A convolution kernel ``(out, in, *kernel)`` is drawn as one ``(out, in·k)``
    matrix, so d = max(out, in·k), not the larger of PyTorch's fans: evaluate the
    moments at :meth:`~Initializer.moment_fans` of the kernel's shape.
    """

    gain: float = 1.0
    name: str = dataclasses.field(default="orthogonal", kw_only=True)

    elementwise: ClassVar[bool] = False

    def __post_init__(self) -> None:
        gain = check_real("gain", self.gain, low=0.0, low_inclusive=False)
        object.__setattr__(self, "gain", gain)

    def _fill(  # used only through the two methods below
        self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> None:
        raise NotImplementedError

    def _fill_layer(
        self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> None:
        rows = out.shape[0]
        cols = out.size // rows
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # Mezzadri's fix: makes Q Haar-distributed
        if rows < cols:
            q = q.T
        out.reshape(rows, cols)[...] = self.gain * q

    def _fill_rows(
        self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> None:
        # One row of a Haar (fan_out, fan_in) layer is the first fan_in coordinates of a
        # uniform unit vector in R^d, d = max(fan_in, fan_out).
        d = max(fan_in, fan_out)
        if d == fan_in:
            rng.standard_normal(out=out)
            norms = np.linalg.norm(out, axis=1, keepdims=True)
        else:
            full = rng.standard_normal((out.shape[0], d))
            norms = np.linalg.norm(full, axis=1, keepdims=True)
            out[...] = full[:, :fan_in]
        out *= self.gain / norms

    def mean(self, fan_in: int, fan_out: int) -> float:
        _check_fans(fan_in, fan_out)
        return 0.0

    def variance(self, fan_in: int, fan_out: int) -> float:
        return self.gain**2 / max(_check_fans(fan_in, fan_out))

    def moment_fans(self, shape: int | tuple[int, ...]) -> tuple[int, int]:
        return _matrix_fans(shape)

    def excess_kurtosis(self, fan_in: int, fan_out: int) -> float:
        return -6.0 / (max(_check_fans(fan_in, fan_out)) + 2.0)

    def support(self, fan_in: int, fan_out: int) -> tuple[float, float]:
        _check_fans(fan_in, fan_out)
        return -self.gain, self.gain


@dataclasses.dataclass(frozen=True, init=False, repr=False)
class Sparse(Initializer):
    r"""Sparse initialization (Martens 2010; PyTorch ``nn.init.sparse_``).

    In each column of a ``(fan_out, fan_in)`` layer exactly
    :math:`k = \lceil \text{sparsity}\cdot\text{fan\_out} \rceil` entries, at random
    rows, are zero; the rest are N(0, std²).  One entry is therefore zero with
    probability :math:`q = k/\text{fan\_out}` and, with :math:`p = 1 - q`,

    .. math::

        \operatorname{Var} w = p\,\text{std}^2, \qquad \gamma_2 = 3/p - 3.

    A convolution kernel ``(out, in, *kernel)`` is drawn as one ``(out, in·k)`` matrix
    (k zeros per column of ``out`` rows), so the moments of its entries are those at
    :meth:`~Initializer.moment_fans` of the kernel's shape, fan_out = out.
    """

    sparsity: float = 0.1
    scale: float = 0.01
    name: str = "sparse"

    elementwise: ClassVar[bool] = False

    def __init__(self, sparsity: float = 0.1, std: float = 0.01, *, name: str = "sparse"):
        object.__setattr__(self, "sparsity", check_probability("sparsity", sparsity))
        object.__setattr__(self, "scale", check_real("std", std, low=0.0, low_inclusive=False))
        object.__setattr__(self, "name", name)

    def __repr__(self) -> str:
        return f"Sparse(sparsity={self.sparsity!r}, std={self.scale!r}, name={self.name!r})"

    def _zero_fraction(self, fan_out: int) -> float:
        return math.ceil(self.sparsity * fan_out) / fan_out

    def _fill(self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def _fill_layer(
        self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> None:
        rows = out.shape[0]
        view = out.reshape(rows, -1)
        _fill_normal(view, 0.0, self.scale, rng)
        k = math.ceil(self.sparsity * rows)
        if k:
            # For each column, the k rows with the smallest uniform keys: a uniformly
            # random k-subset per column.
            idx = np.argsort(rng.random(view.shape), axis=0, kind="stable")[:k]
            np.put_along_axis(view, idx, 0.0, axis=0)

    def _fill_rows(
        self, out: np.ndarray, fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> None:
        # Within one row the columns' zero patterns are independent, each zero with
        # probability q = k/fan_out: exactly the law of one row of a sampled layer.
        q = self._zero_fraction(fan_out)
        _fill_normal(out, 0.0, self.scale, rng)
        if q > 0.0:
            out[rng.random(out.shape) < q] = 0.0

    def mean(self, fan_in: int, fan_out: int) -> float:
        _check_fans(fan_in, fan_out)
        return 0.0

    def variance(self, fan_in: int, fan_out: int) -> float:
        _, fan_out = _check_fans(fan_in, fan_out)
        return (1.0 - self._zero_fraction(fan_out)) * self.scale**2

    def moment_fans(self, shape: int | tuple[int, ...]) -> tuple[int, int]:
        return _matrix_fans(shape)

    def excess_kurtosis(self, fan_in: int, fan_out: int) -> float:
        _, fan_out = _check_fans(fan_in, fan_out)
        p = 1.0 - self._zero_fraction(fan_out)
        if p == 0.0:
            return _degenerate_kurtosis(self)
        return 3.0 / p - 3.0

    def support(self, fan_in: int, fan_out: int) -> tuple[float, float]:
        _, fan_out = _check_fans(fan_in, fan_out)
        if self._zero_fraction(fan_out) == 1.0:
            return 0.0, 0.0
        return -math.inf, math.inf
