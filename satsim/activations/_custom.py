r"""User activations: a function, its derivatives (given or numerical) and its range.

:class:`FunctionActivation` turns ``fn(z) -> ndarray`` into a full
:class:`~satsim.activations.Activation`, usable in the saturation criteria, the mean
field (:mod:`satsim.meanfield._gaussian` integrates it by quadrature), ``propagate`` and
``Network``.

Numerical derivatives (when ``grad``/``grad2`` are not given)
-------------------------------------------------------------
φ' is the five-point central difference

.. math::

    \varphi'(z) \approx \frac{-\varphi(z+2h) + 8\varphi(z+h) - 8\varphi(z-h)
                               + \varphi(z-2h)}{12h},\qquad h = 2^{-8}\max(1, |z|),

computed in float64, with truncation error :math:`h^4\varphi^{(5)}/30` and rounding
error about :math:`\epsilon\,|\varphi|/h`; φ'' is the same rule applied to φ'.
:attr:`FunctionActivation.grad_error` is the largest difference, over 401 points on
[−10, 10], between this rule at h and at 2h — an estimate (16/15 of it, by Richardson)
of the error of the 2h rule, hence an upper estimate for the h rule's.

A given ``grad`` is checked against the numerical one on the same points: a relative
difference above ``1e-4`` (far above the rule's error for a smooth φ, far below any
real mistake such as a factor or sign) is a ``ValueError`` naming ``grad``.  Points
within ``4h`` of a kink are excluded by trying the check also on a shifted grid.

Range and largest derivative
----------------------------
The range, if not given, is estimated: on each side φ is evaluated at |z| = 10²…10⁶;
a side is bounded when φ stops changing there (to 10⁻⁹ of its scale) or its steps
shrink geometrically (softsign's and arctan's 1/z tails; the limit is extrapolated),
and the bound is then the extreme of φ over [−10⁴, 10⁴] or that limit; growing or
constant steps (z, √z, log z) make the side infinite.  Pass ``range=`` when you know
it.  ``max_grad`` is the maximum of φ' (of secant slopes with δ = 10⁻⁶ when φ' is
numerical, which cannot overshoot at a kink) over a grid on [−20, 20] refined by a
bounded scalar search.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import optimize

from satsim.activations._builtin import CRITERIA, Activation

__all__ = ["FunctionActivation", "make_activation"]

_CHECK_POINTS = np.linspace(-10.0, 10.0, 401) + 0.0123456789  # off round numbers (kinks)
_REL_TOL = 1e-4


def _h(z: np.ndarray) -> np.ndarray:
    return 2.0**-8 * np.maximum(1.0, np.abs(z))


def _five_point(f: Callable[[np.ndarray], np.ndarray], z: np.ndarray,
                scale: float = 1.0) -> np.ndarray:
    h = _h(z) * scale
    return (-f(z + 2 * h) + 8 * f(z + h) - 8 * f(z - h) + f(z - 2 * h)) / (12 * h)


def _call(fn: Callable, z: np.ndarray, who: str) -> np.ndarray:
    # a user's φ may overflow on the way to a finite limit (1/cosh(z)² at large z)
    with np.errstate(over="ignore", under="ignore"):
        out = fn(z)
    if not isinstance(out, np.ndarray):
        out = np.asarray(out, dtype=np.float64)
    if out.shape != z.shape:
        raise ValueError(f"{who} must be elementwise: it returned shape {out.shape} for an "
                         f"input of shape {z.shape}")
    if out.dtype.kind not in "fiu":
        raise TypeError(f"{who} must return real numbers; got dtype {out.dtype}")
    return out.astype(np.float64, copy=False)


def _as_float64(z: Any) -> tuple[np.ndarray, np.dtype]:
    """z in float64 (the user's φ is evaluated there) and the dtype to return: the
    input's floating dtype, float64 for integers and lists (as the built-ins)."""
    zf = np.asarray(z)
    return zf.astype(np.float64), (zf.dtype if zf.dtype.kind == "f" else np.dtype(np.float64))


@dataclasses.dataclass(frozen=True, eq=True)
class FunctionActivation(Activation):
    """An activation from ``fn`` (and optionally its derivatives); see the module notes.

    Build one with :func:`satsim.activations.register` or
    :func:`satsim.activations.from_function`.
    """

    func: Callable = dataclasses.field(repr=False)
    derivative: Callable | None = dataclasses.field(default=None, repr=False)
    second_derivative: Callable | None = dataclasses.field(default=None, repr=False)
    name: str = "custom"  # type: ignore[misc]  # per instance here, a ClassVar on presets
    image: tuple[float, float] = (-math.inf, math.inf)
    peak: float = 0.0
    peak_grad: float = 1.0
    default_criterion: str = "derivative"  # type: ignore[misc]
    #: estimated error of the numerical φ' (0 when ``grad`` was given)
    grad_error: float = 0.0

    def __repr__(self) -> str:
        grad = "given" if self.derivative is not None else "numerical"
        return f"FunctionActivation(name={self.name!r}, range={self.image}, grad={grad})"

    def _f64(self, z: np.ndarray) -> np.ndarray:
        return _call(self.func, z, f"activation {self.name!r}")

    def fn(self, z: Any) -> np.ndarray:
        z64, dtype = _as_float64(z)
        return self._f64(z64).astype(dtype, copy=False)

    def grad(self, z: Any) -> np.ndarray:
        z64, dtype = _as_float64(z)
        if self.derivative is not None:
            g = _call(self.derivative, z64, f"the derivative of {self.name!r}")
        else:
            g = _five_point(self._f64, z64)
        return g.astype(dtype, copy=False)

    def grad2(self, z: Any) -> np.ndarray:
        z64, dtype = _as_float64(z)
        if self.second_derivative is not None:
            g2 = _call(self.second_derivative, z64, f"the second derivative of {self.name!r}")
        else:
            g2 = _five_point(lambda t: self.grad(t).astype(np.float64), z64)
        return g2.astype(dtype, copy=False)

    @property
    def range(self) -> tuple[float, float]:
        return self.image

    @property
    def max_grad(self) -> float:
        return self.peak_grad

    def _grad_peak(self) -> float:
        return self.peak


def _tail_limit(f: Callable[[np.ndarray], np.ndarray], sign: float,
                scale: float) -> float | None:
    """lim φ(z) as z → sign·∞, or None if φ is unbounded there: φ at |z| = 10²…10⁶;
    constant (to 1e-9 of φ's scale) → that value; steps shrinking geometrically
    (each < ½ the previous, as for softsign's or arctan's 1/z tails) → the value plus
    the geometric remainder; anything else (growing, constant steps: z, √z, log z) →
    unbounded."""
    v = f(sign * 10.0 ** np.arange(2, 7))
    if not np.all(np.isfinite(v)):
        return None
    d = np.diff(v)
    if abs(d[-1]) <= 1e-9 * scale:
        return float(v[-1])
    steps = np.abs(d)
    if np.all(steps[1:] < 0.5 * steps[:-1]) and np.all(np.sign(d) == np.sign(d[-1])):
        r = steps[-1] / steps[-2]
        return float(v[-1] + d[-1] * r / (1.0 - r))
    return None


def _estimate_range(f: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float]:
    zs = np.linspace(-1e4, 1e4, 200_001)  # spacing 0.1
    grid = f(zs)
    scale = max(1.0, float(np.max(np.abs(grid))) if np.all(np.isfinite(grid)) else 1.0)

    def extreme(sign: float) -> float:
        # the grid's extreme, refined by a bounded search between its neighbours
        i = int(np.argmin(sign * grid))
        a, b = zs[max(i - 1, 0)], zs[min(i + 1, zs.size - 1)]
        res = optimize.minimize_scalar(lambda t: sign * float(f(np.array([t]))[0]),
                                       bounds=(a, b), method="bounded",
                                       options={"xatol": 1e-12})
        return float(min(sign * grid[i], res.fun) * sign)

    left, right = _tail_limit(f, -1.0, scale), _tail_limit(f, 1.0, scale)
    # a bounded side: the smaller (larger) of the grid's extreme and the tail's limit
    # (a minimum inside, as swish's, or a limit approached from inside, as softsign's)
    lo = -math.inf if left is None else min(extreme(1.0), left)
    hi = math.inf if right is None else max(extreme(-1.0), right)
    return lo, hi


def _peak(g: Callable[[np.ndarray], np.ndarray],
          f: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[float, float]:
    """(argmax, max) of φ' on [−20, 20] (grid off round numbers, refined by a bounded
    search).  With a numerical φ' (``f`` given) the maximum is taken over secant slopes
    (φ(z + δ) − φ(z))/δ, δ = 10⁻⁶: by the mean value theorem a secant never exceeds
    sup φ', so a kink (relu's) cannot make it overshoot as a difference rule
    straddling it does; rounding adds ~1e-10·|φ|."""
    if f is not None:
        def slope(z: np.ndarray) -> np.ndarray:
            return (f(z + 1e-6) - f(z)) / 1e-6
        g = slope
    grid = np.linspace(-20.0, 20.0, 8001) + 0.000731
    vals = g(grid)
    i = int(np.argmax(vals))
    lo, hi = max(i - 1, 0), min(i + 1, grid.size - 1)
    if hi > lo:
        res = optimize.minimize_scalar(lambda t: -float(g(np.array([t]))[0]),
                                       bounds=(grid[lo], grid[hi]), method="bounded",
                                       options={"xatol": 1e-10})
        if -res.fun >= vals[i]:
            return float(res.x), float(-res.fun)
    return float(grid[i]), float(vals[i])


def _check_grad(f: Callable, g: Callable, name: str) -> None:
    for shift in (0.0, 0.00731):
        z = _CHECK_POINTS + shift
        fd = _five_point(f, z)
        given = g(z)
        err = np.abs(given - fd) / np.maximum(1.0, np.abs(fd))
        # a kink makes the difference rule wrong within 4h of it: accept a grid on which
        # every point agrees
        if np.all(err <= _REL_TOL):
            return
        worst = int(np.argmax(err))
    raise ValueError(f"`grad` disagrees with finite differences of `fn` for activation "
                     f"{name!r}: at z={z[worst]:.6g} grad={given[worst]:.8g} but the "
                     f"five-point difference is {fd[worst]:.8g} (relative error "
                     f"{err[worst]:.2g} > {_REL_TOL:g})")


def make_activation(fn: Callable, grad: Callable | None = None, *, name: str | None = None,
                    grad2: Callable | None = None, range: Any = None,
                    default_criterion: str | None = None, param: str = "fn",
                    check: bool = True) -> FunctionActivation:
    """Validate ``fn`` (and ``grad``) and build a :class:`FunctionActivation`."""
    if not callable(fn):
        raise TypeError(f"`{param}` must be a function z -> phi(z); got {param}={fn!r}")
    label = name if name is not None else getattr(fn, "__name__", "custom")
    for what, value in (("grad", grad), ("grad2", grad2)):
        if value is not None and not callable(value):
            raise TypeError(f"`{what}` must be a function or None; got {what}={value!r}")

    def f(z: np.ndarray) -> np.ndarray:
        return _call(fn, z, f"`{param}` ({label!r})")

    try:
        probe = f(_CHECK_POINTS)
    except (TypeError, ValueError):
        raise
    except Exception as exc:
        raise ValueError(f"`{param}` ({label!r}) failed on an array input: "
                         f"{type(exc).__name__}: {exc}") from None
    if not np.all(np.isfinite(probe)):
        raise ValueError(f"`{param}` ({label!r}) must be finite for finite z; got non-finite "
                         f"values on [-10, 10]")
    grad_error = 0.0
    if grad is not None:
        def g(z: np.ndarray) -> np.ndarray:
            return _call(grad, z, f"`grad` of {label!r}")

        if check:
            _check_grad(f, g, label)
    else:
        def g(z: np.ndarray) -> np.ndarray:
            return _five_point(f, z)

        grad_error = float(np.max(np.abs(_five_point(f, _CHECK_POINTS)
                                         - _five_point(f, _CHECK_POINTS, 2.0))))
    if range is None:
        with np.errstate(over="ignore", invalid="ignore"):
            image = _estimate_range(f)
    else:
        if not isinstance(range, tuple | list) or len(range) != 2:
            raise TypeError(f"`range` must be a pair (low, high); got range={range!r}")
        image = (float(range[0]), float(range[1]))
        if not image[0] < image[1]:
            raise ValueError(f"`range` must have low < high; got range={range!r}")
    peak, peak_grad = _peak(g, f if grad is None else None)
    # rounding noise of a difference rule is ~1e-16·|φ|/h: a decreasing φ must not pass
    if not peak_grad > 1e-8 * max(1.0, float(np.max(np.abs(probe)))):
        raise ValueError(f"`{param}` ({label!r}) must be increasing somewhere (satsim's "
                         f"saturation criteria assume φ rises; pass -φ for a decreasing "
                         f"one): its largest derivative on [-20, 20] is {peak_grad:.3g}")
    bounded = math.isfinite(image[0]) and math.isfinite(image[1])
    if default_criterion is None:
        default_criterion = "output" if bounded else "derivative"
    elif default_criterion not in CRITERIA or default_criterion == "inactive":
        raise ValueError(f"`default_criterion` must be one of 'output', 'derivative', "
                         f"'tanh97'; got default_criterion={default_criterion!r}")
    return FunctionActivation(func=fn, derivative=grad, second_derivative=grad2, name=label,
                              image=image, peak=peak, peak_grad=peak_grad,
                              default_criterion=default_criterion, grad_error=grad_error)
