r"""Mean-field signal propagation through deep networks (Poole et al. 2016;
Schoenholz et al. 2017), and the saturated fraction it predicts per layer.

Convention: a layer of width N has centred weights :math:`W_{ij} \sim (0, \sigma_w^2/N)`
(``weight_variance`` is :math:`\sigma_w^2`, the variance times fan_in) and centred biases
:math:`b_i \sim (0, \sigma_b^2)`; :math:`z^l = W^l \varphi(z^{l-1}) + b^l`.  Write
:math:`\int\!Dz\, f(z) = E f(Z)`, Z ~ N(0, 1).

Length map and fixed point
    :math:`q^l = \mathcal{V}(q^{l-1}) = \sigma_w^2 \int\!Dz\, \varphi(\sqrt{q^{l-1}}\, z)^2
    + \sigma_b^2`; :func:`fixed_point` returns the :math:`q^*` reached by iterating from
    ``q0`` (a root of :math:`\mathcal{V}(q) - q`, bracketed on the side of ``q0`` the
    iteration moves to and found by safeguarded Newton steps), or inf if the map diverges.
Correlation map
    :math:`c^l = \frac{1}{q^*}\big[\sigma_w^2 \int\!Dz_1 Dz_2\, \varphi(u_1)\varphi(u_2)
    + \sigma_b^2\big]`, :math:`u_1 = \sqrt{q^*} z_1`,
    :math:`u_2 = \sqrt{q^*}(c z_1 + \sqrt{1-c^2} z_2)`; c = 1 is always a fixed point.
    Its slope is :math:`\sigma_w^2\int\!Dz_1Dz_2\,\varphi'(u_1)\varphi'(u_2)` (Price's
    theorem), :math:`\chi_1 = \sigma_w^2 \int\!Dz\, \varphi'(\sqrt{q^*} z)^2` at c = 1:
    χ1 < 1 is the ordered phase (c* = 1), χ1 > 1 the chaotic phase (a stable c* < 1),
    χ1 = 1 the critical line (:func:`critical_weight_variance`, :func:`critical_point`).
    On [0, 1] the map is increasing and convex (its Mehler series in c has non-negative
    coefficients), so Newton's method from c = 0 rises monotonically to c*.
Depth scales
    :math:`\xi_q^{-1} = -\ln \mathcal{V}'(q^*)`, with
    :math:`\mathcal{V}'(q) = \sigma_w^2 \frac{d}{dq}\!\int\!Dz\,\varphi(\sqrt q z)^2 =
    \sigma_w^2\, E[u\varphi(u)\varphi'(u)]/q` (Stein; :math:`= \chi_1 + \sigma_w^2
    \int\!Dz\,\varphi\varphi''` for smooth φ — the form needs no φ'', whose atoms at the
    kinks of a piecewise-linear φ a pointwise φ'' would miss), and
    :math:`\xi_c^{-1} = -\ln \chi_c`, :math:`\chi_c = \sigma_w^2 \int\!Dz_1Dz_2\,
    \varphi'(u_1)\varphi'(u_2)` at c* (= χ1 in the ordered phase).  Schoenholz et al.:
    networks train when depth ≲ 6 ξ_c.

Accuracy.  The Gaussian integrals come from :mod:`satsim.meanfield._gaussian`: closed forms for
linear, relu, leaky_relu, hard_tanh (Φ, φ and Owen's T) and erf (Williams 1997), exact
to rounding; for the other activations a 600-node composite rule in one dimension
(relative error ≲ 1e-13 for 1e-8 ≤ q ≤ 1e6) and a conditional rule in two (≲ 1e-12
absolute for tanh and sigmoid, ≲ 1e-11 relative for the others, for q up to 1e4 and c
up to 1 − 1e-7).  Every point is computed with the same rule whether it is evaluated alone or
in a grid, so a point of :func:`phase_diagram` equals the point call to ~1e-12.  The
root finders stop at relative steps of 1e-14 (q*) and absolute steps of 1e-12 (c*).

Anchors (tests): tanh's critical σ_w² is 1 at σ_b² = 0 and ≈ 1.7610 at σ_b² = 0.05
(Schoenholz et al. 2017, Fig. 1); ReLU has :math:`q^l = \tfrac12\sigma_w^2 q^{l-1} +
\sigma_b^2`, :math:`\chi_1 = \sigma_w^2/2`, critical point (2, 0) — He initialization;
erf's critical line is :math:`\sigma_w^2 = \tfrac{\pi}{4}\sqrt{1+4q^*}` with
:math:`\sigma_b^2 = q^* - \tfrac12\sqrt{1+4q^*}\arcsin\frac{2q^*}{1+2q^*}`.

:func:`propagate` runs the Monte Carlo counterpart: inputs through L random
layers, per-layer variance of z, Glorot & Bengio's activation statistics (mean,
std, 98th percentile), the saturated fraction with its population CI (two-way over
probes and units), the empirical χ1 (growth of a random tangent vector, i.e. the Jacobian) and the
correlation of input pairs — each next to its mean-field prediction.  The prediction
follows every input separately (its own length map from its own :math:`q^1 =
\mathrm{Var}(w)\lVert x\rVert^2 + \sigma_b^2`) and averages over the inputs: the
saturated fraction is the mixture :math:`\frac1n\sum_x` ``predicted_fraction``
:math:`(\sqrt{q^l(x)})`, the bridge between saturation and depth for real data.
:func:`layer_moments` is that prediction alone, deterministic, for an architecture
given as ``sizes`` (e.g. 784-300-100-10).  Both take per-layer widths, activations
and initializers, and the mean field then follows each layer's own fans:
:math:`\sigma_w^2(l) = n_{l-1}\mathrm{Var}_w(n_{l-1}, n_l)`, :math:`\sigma_b^2(l)`
from the layer's fans, :math:`q^l` from :math:`q^{l-1}` through the previous layer's
activation (both live in :mod:`satsim.meanfield._propagation`).

Backward signal propagation — gradient moments per layer and the input–output
Jacobian's spectrum, measured and predicted: see :mod:`satsim.gradients`.

References
----------
.. [1] B. Poole et al., "Exponential expressivity in deep neural networks through
   transient chaos", NeurIPS 2016.
.. [2] S. Schoenholz et al., "Deep information propagation", ICLR 2017.
.. [3] X. Glorot, Y. Bengio, AISTATS 2010 (per-layer activation statistics).
.. [4] C. K. I. Williams, "Computing with infinite networks", NeurIPS 1997.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from satsim._namespace import public_dir
from satsim._results import Plottable, Result, result
from satsim._validation import check_array, check_real
from satsim.activations import as_activation
from satsim.meanfield import _gaussian
from satsim.meanfield._propagation import (
    DeepPropagationResult,
    LayerMomentsResult,
    layer_moments,
    propagate,
)

__all__ = [
    "CriticalPointResult",
    "DeepPropagationResult",
    "LayerMomentsResult",
    "PhaseDiagramResult",
    "chi1",
    "correlation_fixed_point",
    "correlation_map",
    "critical_line",
    "critical_point",
    "critical_weight_variance",
    "depth_scales",
    "fixed_point",
    "layer_moments",
    "length_map",
    "phase_diagram",
    "propagate",
    "saturation_at_fixed_point",
]

__dir__ = public_dir(globals())

_Kernel = _gaussian.Kernel
#: the length map is declared divergent once the upward bracket passes this q
_Q_MAX = 1e30
#: q*: relative step below which Newton stops; c*: absolute step
_Q_RTOL = 1e-14
_C_ATOL = 1e-12


def _variances(weight_variance: Any, bias_variance: Any) -> tuple[np.ndarray, np.ndarray]:
    sw = np.asarray(weight_variance, dtype=float)
    sb = np.asarray(bias_variance, dtype=float)
    if not (np.all(np.isfinite(sw)) and np.all(sw > 0)):
        raise ValueError(
            f"`weight_variance` must be finite and > 0; got weight_variance={weight_variance!r}"
        )
    if not (np.all(np.isfinite(sb)) and np.all(sb >= 0)):
        raise ValueError(
            f"`bias_variance` must be finite and >= 0; got bias_variance={bias_variance!r}"
        )
    sw, sb = np.broadcast_arrays(sw, sb)
    return sw, sb


def _out(x: np.ndarray) -> float | np.ndarray:
    return float(x) if np.ndim(x) == 0 else x


def length_map(q: Any, weight_variance: Any, bias_variance: Any, *,
               activation: Any = "tanh") -> float | np.ndarray:
    r""":math:`\mathcal V(q) = \sigma_w^2 \int\!Dz\,\varphi(\sqrt q\, z)^2 + \sigma_b^2`
    (vectorised; closed form for linear, relu, leaky_relu, hard_tanh and erf).

    Parameters
    ----------
    q : float or array_like
        Variance of the previous layer's pre-activations (≥ 0).
    weight_variance : float or array_like
        σ_w²: each weight's variance times its fan-in (weights ~ N(0, σ_w²/N)); > 0.
    bias_variance : float or array_like
        σ_b², the biases' variance; ≥ 0.  Broadcast against ``weight_variance``.
    activation : Activation or str, default "tanh"
        Activation φ, or the name of a registered one (:func:`satsim.activations.get`).

    Returns
    -------
    float or ndarray
        :math:`\mathcal V(q)`, the next layer's pre-activation variance (a float for
        scalar inputs, else an array of the broadcast shape).
    """
    kern = _gaussian.kernel(as_activation(activation))
    sw, sb = _variances(weight_variance, bias_variance)
    q = np.asarray(q, dtype=float)
    if not (np.all(np.isfinite(q)) and np.all(q >= 0)):
        raise ValueError(f"`q` must be finite and >= 0; got q={q!r}")
    return _out(sw * kern.moment2(q) + sb)


def _bracketed_newton(x: np.ndarray, f: np.ndarray, df: np.ndarray, lo: np.ndarray,
                      hi: np.ndarray, active: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One safeguarded Newton step at the active points of a root search of f (f > 0
    below the root): the bracket [lo, hi] shrinks by the sign of f (in place), the step
    is x − f/df, and a step that leaves the bracket is replaced by bisection.  Returns
    the new x and the active brackets."""
    pos = f > 0
    lo[active] = np.where(pos, x, lo[active])
    hi[active] = np.where(pos, hi[active], x)
    la, ha = lo[active], hi[active]
    with np.errstate(divide="ignore", invalid="ignore"):
        xn = x - f / df
    inside = np.isfinite(xn) & (xn > la) & (xn < ha)
    return np.where(inside, xn, 0.5 * (la + ha)), la, ha


def _fixed_point(kern: _Kernel, sw: np.ndarray, sb: np.ndarray, q0: float) -> np.ndarray:
    """q* reached from q0 for every (σ_w², σ_b²) (broadcast arrays)."""
    sw, sb = np.broadcast_arrays(np.asarray(sw, dtype=float), np.asarray(sb, dtype=float))
    shape = sw.shape
    sw, sb = sw.ravel(), sb.ravel()
    n = sw.size

    def G(x: np.ndarray, i: np.ndarray) -> np.ndarray:
        return sw[i] * kern.moment2(x) + sb[i] - x

    every = np.arange(n)
    x = np.full(n, float(q0))
    g0 = G(x, every)
    # q0 is itself a fixed point up to quadrature rounding (e.g. ReLU at (2, 0))
    moving = np.abs(g0) > 1e-12 * max(1.0, q0)
    up = moving & (g0 > 0)
    # bracket with G(lo) ≥ 0 ≥ G(hi): upward, double hi until G(hi) ≤ 0 (or the map
    # diverges); downward, [0, q0] with G(0) = σ_w² φ(0)² + σ_b² ≥ 0
    lo = np.where(up, float(q0), 0.0)
    hi = np.full(n, float(q0))
    diverged = np.zeros(n, dtype=bool)
    pending = np.flatnonzero(up)
    step = max(2.0 * q0, 1.0)
    while pending.size:
        hi[pending] = step
        # G(hi) ≤ 0 beyond rounding: at q ≫ σ_b²/ε, V(q) − q = σ_b² is lost to rounding
        # for a map that diverges only linearly (relu at σ_w² = 2)
        done = G(hi[pending], pending) < -4e-16 * step
        lo[pending[~done]] = step
        pending = pending[~done]
        if step >= _Q_MAX:
            diverged[pending] = True
            break
        step *= 2.0
    # q* = 0 is where the iteration dies out (σ_b² = 0, φ(0) = 0, ordered phase)
    can_vanish = (sb == 0) & (kern.moment2(np.zeros(1))[0] == 0)
    active = np.flatnonzero(moving & ~diverged)
    x[active] = np.where(up[active], lo[active], hi[active])  # start on q0's side
    for _ in range(200):
        if not active.size:
            break
        xa = x[active]
        m2, slope = kern.length_terms(xa)
        g = sw[active] * m2 + sb[active] - xa
        d = sw[active] * slope - 1.0
        xn, la, ha = _bracketed_newton(xa, g, d, lo, hi, active)
        done = (g == 0) | (np.abs(xn - xa) <= _Q_RTOL * xn) | (ha - la <= _Q_RTOL * ha)
        vanish = can_vanish[active] & (xn <= 1e-60 * max(q0, 1.0))
        x[active] = np.where(vanish, 0.0, np.where(g == 0, xa, xn))
        active = active[~(done | vanish)]
    return np.where(diverged, np.inf, x).reshape(shape)


def fixed_point(weight_variance: Any, bias_variance: Any, *, activation: Any = "tanh",
                q0: float = 1.0) -> float | np.ndarray:
    r"""The fixed point :math:`q^*` of the length map reached from ``q0``.

    Vectorised over (broadcast) ``weight_variance`` and ``bias_variance``.  Returns
    inf where the map diverges (e.g. ReLU with σ_w² > 2) and 0 where the iteration
    dies out (σ_b² = 0 and φ(0) = 0 in the ordered phase).

    Parameters
    ----------
    weight_variance : float or array_like
        σ_w²: each weight's variance times its fan-in (weights ~ N(0, σ_w²/N)); > 0.
    bias_variance : float or array_like
        σ_b², the biases' variance; ≥ 0.  Broadcast against ``weight_variance``.
    activation : Activation or str, default "tanh"
        Activation φ, or the name of a registered one (:func:`satsim.activations.get`).
    q0 : float, default 1.0
        Starting value of the length map's iteration (> 0); the fixed point reached
        from it is returned.

    Returns
    -------
    float or ndarray
        q* (a float for scalar inputs, else an array of the broadcast shape).

    Examples
    --------
    >>> round(fixed_point(1.5, 0.05, activation="relu"), 6)  # σ_b²/(1 − σ_w²/2)
    0.2
    """
    kern = _gaussian.kernel(as_activation(activation))
    sw, sb = _variances(weight_variance, bias_variance)
    q0 = check_real("q0", q0, low=0.0, low_inclusive=False)
    return _out(_fixed_point(kern, sw, sb, q0))


def chi1(weight_variance: Any, bias_variance: Any, *, activation: Any = "tanh",
         q0: float = 1.0) -> float | np.ndarray:
    r""":math:`\chi_1 = \sigma_w^2 \int\!Dz\,\varphi'(\sqrt{q^*} z)^2` at the fixed point.
    Where q* diverges it is the limit q → ∞ for the closed-form activations (σ_w²/2 for
    relu) and inf otherwise.

    Parameters
    ----------
    weight_variance : float or array_like
        σ_w²: each weight's variance times its fan-in (weights ~ N(0, σ_w²/N)); > 0.
    bias_variance : float or array_like
        σ_b², the biases' variance; ≥ 0.  Broadcast against ``weight_variance``.
    activation : Activation or str, default "tanh"
        Activation φ, or the name of a registered one (:func:`satsim.activations.get`).
    q0 : float, default 1.0
        Starting value of the length map's iteration (> 0); the fixed point reached
        from it is returned.

    Returns
    -------
    float or ndarray
        χ1 (a float for scalar inputs, else an array of the broadcast shape); > 1 is
        the chaotic phase, < 1 the ordered one.
    """
    kern = _gaussian.kernel(as_activation(activation))
    sw, sb = _variances(weight_variance, bias_variance)
    q = _fixed_point(kern, sw, sb, check_real("q0", q0, low=0.0, low_inclusive=False))
    return _out(kern.chi1(sw, q))


# --------------------------------------------------------------------------- critical line
@result
class CriticalPointResult(Result):
    """The point (σ_w², σ_b²) on the critical line χ1 = 1, with q* and χ1 there.

    ``bracket`` is the σ_w² interval on which χ1 − 1 changed sign; ``n_evaluations``
    counts the χ1 evaluations (each a fixed-point solve) of the search."""

    _title = "Critical point (order-to-chaos transition)"

    activation: str
    bias_variance: float
    weight_variance: float
    q_star: float
    chi1: float
    bracket: tuple[float, float]
    n_evaluations: int

    def to_frame(self) -> pd.DataFrame:
        """One row: ``activation``, ``bias_variance``, ``weight_variance``, ``q_star``,
        ``chi1``, ``bracket_low``, ``bracket_high``, ``n_evaluations``."""
        return pd.DataFrame([{
            "activation": self.activation, "bias_variance": self.bias_variance,
            "weight_variance": self.weight_variance, "q_star": self.q_star,
            "chi1": self.chi1, "bracket_low": self.bracket[0],
            "bracket_high": self.bracket[1], "n_evaluations": self.n_evaluations,
        }])


#: the automatic bracket search stops at σ_w² ∈ [2^-40, 2^40]
_SEARCH_DOUBLINGS = 40


def critical_point(bias_variance: Any, *, activation: Any = "tanh",
                   bracket: tuple[float, float] | None = None) -> CriticalPointResult:
    r"""The σ_w² on the critical line :math:`\chi_1(\sigma_w^2, \sigma_b^2) = 1` for a
    given σ_b², with :math:`q^*` and :math:`\chi_1` there.

    Parameters
    ----------
    bias_variance : float >= 0
    activation : Activation or str, default "tanh"
    bracket : (float, float), optional
        σ_w² interval on which χ1 − 1 changes sign.  Default: found by doubling or
        halving σ_w² from 1 until χ1 − 1 changes sign (within [2^-40, 2^40]).

    Raises
    ------
    ValueError
        If χ1 − 1 does not change sign on ``bracket`` (or on the search range), or
        if χ1 jumps across 1 without taking the value 1 (e.g. gelu at small σ_b²,
        where the fixed point reached from q0 = 1 jumps from 0 to a divergent
        branch); the message names the activation and the bias variance.

    Returns
    -------
    CriticalPointResult
        The critical σ_w² with q* and χ1 there, the final bracket and the number of
        evaluations.

    Notes
    -----
    The root is found by bisection to a relative width of 1e-13.  At σ_b² = 0 with
    φ(0) = 0 the ordered side has q* = 0 and χ1 = σ_w² φ'(0)², and the root is returned
    as 1/φ'(0)² exactly (tanh: 1, erf: π/4).  Where q* diverges at the root (relu,
    softplus, linear with σ_b² > 0) the end of the final bracket closer to χ1 = 1 is
    returned; a final bracket with ``|χ1 − 1| > 1e-3`` at both ends is a jump, not a root.
    """
    act = as_activation(activation)
    kern = _gaussian.kernel(act)
    sb = check_real("bias_variance", bias_variance, low=0.0)
    calls = [0]

    def f(sw: float) -> float:
        calls[0] += 1
        arr = np.asarray(sw, dtype=float)
        return float(kern.chi1(arr, _fixed_point(kern, arr, np.asarray(sb), 1.0))) - 1.0

    def no_root(lo: float, hi: float) -> ValueError:
        return ValueError(
            f"χ1 − 1 does not change sign for σ_w² in [{lo:g}, {hi:g}] "
            f"(activation={act.name!r}, bias_variance={sb!r}): no order-to-chaos "
            f"transition found there")

    if bracket is not None:
        try:
            lo, hi = (float(v) for v in bracket)
        except (TypeError, ValueError):
            raise TypeError(f"`bracket` must be a pair of real numbers; got "
                            f"bracket={bracket!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
            raise ValueError(f"`bracket` must satisfy 0 < low < high (finite); got "
                             f"bracket={bracket!r}")
        flo, fhi = f(lo), f(hi)
        if flo > 0 or fhi < 0:
            raise no_root(lo, hi)
    else:
        # from σ_w² = 1, double while ordered or halve while chaotic until χ1 − 1
        # changes sign (or is 0)
        lo = hi = 1.0
        flo = fhi = f(1.0)
        for _ in range(_SEARCH_DOUBLINGS):
            if flo == 0 or fhi == 0 or flo < 0 < fhi:
                break
            if fhi < 0:
                lo, flo = hi, fhi
                hi *= 2.0
                fhi = f(hi)
            else:
                hi, fhi = lo, flo
                lo /= 2.0
                flo = f(lo)
        if not (flo == 0 or fhi == 0 or flo < 0 < fhi):
            raise no_root(min(lo, 2.0**-_SEARCH_DOUBLINGS), max(hi, 2.0**_SEARCH_DOUBLINGS))
    search = (lo, hi)
    # bisection, not brentq: near σ_b² = 0 the function is flat to rounding on the
    # chaotic side (χ1 − 1 = O((σ_w² − σ_c²)²)), where interpolating methods stall
    while flo != 0 and fhi != 0 and hi - lo > 1e-13 * hi:
        mid = 0.5 * (lo + hi)
        fmid = f(mid)
        if fmid <= 0:
            lo, flo = mid, fmid
        else:
            hi, fhi = mid, fmid
    root = lo if abs(flo) <= abs(fhi) else hi
    # a genuine root has χ1 → 1 from both sides; where q* diverges at the root (relu,
    # softplus) χ1 reaches 1 only as q* → ∞, slowly (1 − O(q*^-1/2) for softplus)
    if min(abs(flo), abs(fhi)) > 1e-3:
        raise ValueError(
            f"χ1 jumps from {flo + 1:.6g} to {fhi + 1:.6g} at σ_w² ≈ {root:.12g} "
            f"(activation={act.name!r}, bias_variance={sb!r}): the fixed point reached "
            f"from q0 = 1 changes branch there, so χ1 never equals 1")
    if sb == 0 and float(kern.moment2(np.zeros(1))[0]) == 0:
        # φ(0) = 0: on the ordered side q* = 0 and χ1 = σ_w² φ'(0)² exactly, so a root at
        # 1/φ'(0)² is that; bisection on the flat chaotic side finds it only to ~√ε
        exact = 1.0 / float(kern.grad_moment2(np.zeros(1))[0])
        if abs(exact - root) <= 1e-6 * root:
            root = exact
    sw = np.asarray(root)
    q = _fixed_point(kern, sw, np.asarray(sb), 1.0)
    return CriticalPointResult(activation=act.name, bias_variance=sb, weight_variance=root,
                               q_star=float(q), chi1=float(kern.chi1(sw, q)),
                               bracket=search, n_evaluations=calls[0])


def critical_weight_variance(bias_variance: Any, *, activation: Any = "tanh",
                             bracket: tuple[float, float] | None = None) -> float:
    """The σ_w² on the critical line χ1(σ_w², σ_b²) = 1 for a given σ_b²
    (:func:`critical_point`'s ``weight_variance``; it also reports q* and χ1).

    Raises ``ValueError`` if χ1 − 1 does not change sign on ``bracket`` or, by default,
    on the automatic search range.

    Parameters
    ----------
    bias_variance : float
        σ_b² ≥ 0.
    activation : Activation or str, default "tanh"
        Activation φ, or the name of a registered one (:func:`satsim.activations.get`).
    bracket : (float, float), optional
        An interval of σ_w² on which χ1 − 1 changes sign; by default it is searched
        for.

    Returns
    -------
    float
        The critical σ_w².

    Examples
    --------
    >>> round(critical_weight_variance(0.0, activation="relu"), 9)  # He initialization
    2.0
    """
    return critical_point(bias_variance, activation=activation,
                          bracket=bracket).weight_variance


def critical_line(bias_variances: Any, *, activation: Any = "tanh") -> np.ndarray:
    """σ_w² on the critical line χ1 = 1 for each σ_b² (see :func:`critical_point`).

    Parameters
    ----------
    bias_variances : 1-D array_like
        Values of σ_b² ≥ 0.
    activation : Activation or str, default "tanh"
        Activation φ, or the name of a registered one (:func:`satsim.activations.get`).

    Returns
    -------
    ndarray
        The critical σ_w² for each σ_b², in the order given.
    """
    b = check_array("bias_variances", bias_variances, ndim=1)
    return np.array([critical_weight_variance(v, activation=activation) for v in b])


def saturation_at_fixed_point(
    weight_variance: Any, bias_variance: Any, *, activation: Any = "tanh",
    epsilon: float = 0.01, criterion: str | None = None,
) -> float | np.ndarray:
    r"""Predicted saturated fraction of a deep layer at the length fixed point:
    :func:`satsim.saturation.predicted_fraction` at std :math:`\sqrt{q^*}` — the bridge
    between saturation and depth.  Where the length map diverges (q* = inf) the
    limit of the formula as the std grows is returned.

    Parameters
    ----------
    weight_variance : float or array_like
        σ_w²: each weight's variance times its fan-in (weights ~ N(0, σ_w²/N)); > 0.
    bias_variance : float or array_like
        σ_b², the biases' variance; ≥ 0.  Broadcast against ``weight_variance``.
    activation : Activation or str, default "tanh"
        Activation φ, or the name of a registered one (:func:`satsim.activations.get`).
    epsilon : float, default 0.01
        Saturation tolerance, as in :func:`satsim.saturation.predicted_fraction`.
    criterion : str, optional
        Saturation criterion, as in :func:`satsim.saturation.predicted_fraction`
        (default: the activation's own).

    Returns
    -------
    float or ndarray
        The predicted saturated fraction in [0, 1] (a float for scalar inputs).
    """
    from satsim.saturation import predicted_fraction

    act = as_activation(activation)
    sw, sb = _variances(weight_variance, bias_variance)
    q = _fixed_point(_gaussian.kernel(act), sw, sb, 1.0)
    std = np.sqrt(np.where(np.isfinite(q), q, 1e300))
    return _out(np.asarray(predicted_fraction(std, activation=act, epsilon=epsilon,
                                              criterion=criterion)))


# --------------------------------------------------------------------------- correlations
def correlation_map(c: Any, weight_variance: Any, bias_variance: Any, *,
                    activation: Any = "tanh") -> float | np.ndarray:
    r"""One step of the correlation map at the length fixed point q*:
    :math:`\big(\sigma_w^2 E\varphi(u_1)\varphi(u_2) + \sigma_b^2\big)/q^*`
    (NaN where q* diverges).

    Parameters
    ----------
    c : float or array_like
        Correlation of two inputs' pre-activations in the previous layer, in [-1, 1].
    weight_variance : float or array_like
        σ_w²: each weight's variance times its fan-in (weights ~ N(0, σ_w²/N)); > 0.
    bias_variance : float or array_like
        σ_b², the biases' variance; ≥ 0.  Broadcast against ``weight_variance``.
    activation : Activation or str, default "tanh"
        Activation φ, or the name of a registered one (:func:`satsim.activations.get`).

    Returns
    -------
    float or ndarray
        The next layer's correlation (a float for scalar inputs).
    """
    kern = _gaussian.kernel(as_activation(activation))
    sw, sb = _variances(weight_variance, bias_variance)
    c = np.asarray(c, dtype=float)
    if not (np.all(c >= -1) and np.all(c <= 1)):
        raise ValueError(f"`c` must lie in [-1, 1]; got c={c!r}")
    q = _fixed_point(kern, sw, sb, 1.0)
    # q* = 0 (the signal dies out): the map's limit as q → 0, e.g. χ1·c for smooth φ;
    # q* = inf (the length map diverges): NaN
    finite = np.isfinite(q)
    qd = np.where(finite, np.where(q > 0, q, 1e-300), 1.0)
    return _out(np.where(finite, (sw * kern.cross(qd, qd, c)[0] + sb) / qd, np.nan))


def _correlation_fixed_point(kern: _Kernel, sw: np.ndarray, sb: np.ndarray, q: np.ndarray,
                             chi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(c*, χ_c): c* = 1 and χ_c = χ1 in the ordered phase (c* NaN where q* = inf); in
    the chaotic phase the root of h(c) = C(c) − c on [0, 1) by Newton from c = 0 (h is
    convex with h(1) = 0, so the iterates rise monotonically to c*), safeguarded by
    bisection."""
    shape = np.broadcast(sw, q).shape
    cstar = np.where(np.broadcast_to(np.isfinite(q), shape), 1.0, np.nan)  # NaN: q* = inf
    chi_c = np.broadcast_to(chi, shape).astype(float)
    chaotic = np.isfinite(q) & (chi > 1) & (q > 0)
    if not chaotic.any():
        return cstar, chi_c
    swc, sbc, qc = (np.broadcast_to(a, shape)[chaotic] for a in (sw, sb, q))
    n = swc.size
    c, lo, hi = np.zeros(n), np.zeros(n), np.ones(n)  # h(lo) ≥ 0 > h(hi) for hi < 1
    slope = np.empty(n)
    active = np.arange(n)
    for _ in range(100):
        if not active.size:
            break
        ca, qa = c[active], qc[active]
        m_phi, m_grad = kern.cross(qa, qa, ca)
        h = (swc[active] * m_phi + sbc[active]) / qa - ca
        slope[active] = swc[active] * m_grad
        dh = slope[active] - 1.0
        cn, la, ha = _bracketed_newton(ca, h, dh, lo, hi, active)
        # h(0) ≤ 0: c = 0 is the stable fixed point (odd φ with σ_b² = 0)
        stop = ((ca == 0) & (h <= 0)) | (np.abs(cn - ca) <= _C_ATOL) | (ha - la <= _C_ATOL)
        c[active] = np.where((ca == 0) & (h <= 0), 0.0, cn)
        active = active[~stop]
    cstar[chaotic] = c
    chi_c[chaotic] = slope
    return cstar, chi_c


def correlation_fixed_point(weight_variance: Any, bias_variance: Any, *,
                            activation: Any = "tanh") -> float | np.ndarray:
    """The stable fixed point c* of the correlation map (1 in the ordered phase, NaN
    where q* diverges).

    Parameters
    ----------
    weight_variance : float or array_like
        σ_w²: each weight's variance times its fan-in (weights ~ N(0, σ_w²/N)); > 0.
    bias_variance : float or array_like
        σ_b², the biases' variance; ≥ 0.  Broadcast against ``weight_variance``.
    activation : Activation or str, default "tanh"
        Activation φ, or the name of a registered one (:func:`satsim.activations.get`).

    Returns
    -------
    float or ndarray
        c* (a float for scalar inputs, else an array of the broadcast shape).
    """
    kern = _gaussian.kernel(as_activation(activation))
    sw, sb = _variances(weight_variance, bias_variance)
    q = _fixed_point(kern, sw, sb, 1.0)
    return _out(_correlation_fixed_point(kern, sw, sb, q, kern.chi1(sw, q))[0])


def _depth_scale(slope: np.ndarray, q: np.ndarray) -> np.ndarray:
    # ξ = −1/ln(slope) for a contracting map (slope < 1); inf at slope ≥ 1
    # (criticality, where perturbations neither die nor grow exponentially)
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = -1.0 / np.log(np.where(slope < 1, slope, 0.5))
    return np.where(np.isfinite(q), np.where(slope < 1, xi, np.inf), np.nan)


def _length_slope(kern: _Kernel, sw: np.ndarray, q: np.ndarray) -> np.ndarray:
    """𝒱'(q*) = σ_w² d/dq E φ(√q Z)² (Stein form)."""
    qq = np.where(np.isfinite(q), q, 0.0)
    return np.abs(sw * kern.moment2_slope(qq))


def depth_scales(weight_variance: Any, bias_variance: Any, *,
                 activation: Any = "tanh") -> tuple[Any, Any]:
    r"""(ξ_q, ξ_c): depth scales of the length and correlation maps (inf at criticality,
    NaN where q* diverges).  :math:`\xi_q = -1/\ln\mathcal V'(q^*)`,
    :math:`\xi_c = -1/\ln\chi_c`.

    Parameters
    ----------
    weight_variance : float or array_like
        σ_w²: each weight's variance times its fan-in (weights ~ N(0, σ_w²/N)); > 0.
    bias_variance : float or array_like
        σ_b², the biases' variance; ≥ 0.  Broadcast against ``weight_variance``.
    activation : Activation or str, default "tanh"
        Activation φ, or the name of a registered one (:func:`satsim.activations.get`).

    Returns
    -------
    xi_q, xi_c : float or ndarray
        The length and correlation depth scales (in layers); a network is trainable
        to a depth of about 6ξ_c.
    """
    kern = _gaussian.kernel(as_activation(activation))
    sw, sb = _variances(weight_variance, bias_variance)
    q = _fixed_point(kern, sw, sb, 1.0)
    _, chi_c = _correlation_fixed_point(kern, sw, sb, q, kern.chi1(sw, q))
    return (_out(_depth_scale(_length_slope(kern, sw, q), q)),
            _out(_depth_scale(chi_c, q)))


# --------------------------------------------------------------------------- phase diagram
@result
class PhaseDiagramResult(Result, Plottable):
    """q*, χ1, c*, ξ_q and ξ_c on a (σ_b², σ_w²) grid (arrays of shape (n_b, n_w))."""

    _title = "Mean-field phase diagram"

    activation: str
    weight_variance: np.ndarray
    bias_variance: np.ndarray
    q_star: np.ndarray
    chi1: np.ndarray
    c_star: np.ndarray
    xi_q: np.ndarray
    xi_c: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per grid point, with ``phase`` ∈ {ordered, chaotic}."""
        sb, sw = np.meshgrid(self.bias_variance, self.weight_variance, indexing="ij")
        return pd.DataFrame(
            {
                "bias_variance": sb.ravel(),
                "weight_variance": sw.ravel(),
                "q_star": self.q_star.ravel(),
                "chi1": self.chi1.ravel(),
                "c_star": self.c_star.ravel(),
                "xi_q": self.xi_q.ravel(),
                "xi_c": self.xi_c.ravel(),
                "phase": np.where(self.chi1.ravel() > 1, "chaotic", "ordered"),
            }
        )


def phase_diagram(weight_variances: Any, bias_variances: Any, *, activation: Any = "tanh",
                  correlation: bool = True) -> PhaseDiagramResult:
    """Evaluate the mean-field quantities on a grid (vectorised).

    Every grid point is computed exactly as the point functions (:func:`fixed_point`,
    :func:`chi1`, :func:`correlation_fixed_point`, :func:`depth_scales`) compute it.

    Parameters
    ----------
    weight_variances, bias_variances : 1-D array_like
        Grid axes (σ_w² > 0, σ_b² ≥ 0).
    activation : Activation or str
    correlation : bool, default True
        Also compute c* and ξ_c in the chaotic phase (two-dimensional integrals; slower).
        With ``False`` they are NaN there.

    Returns
    -------
    PhaseDiagramResult
        Arrays of shape ``(len(bias_variances), len(weight_variances))``.
    """
    act = as_activation(activation)
    kern = _gaussian.kernel(act)
    # copies: the result's arrays are frozen, the caller's must not be
    w = check_array("weight_variances", weight_variances, ndim=1).copy()
    b = check_array("bias_variances", bias_variances, ndim=1).copy()
    sb, sw = np.meshgrid(b, w, indexing="ij")
    sw, sb = _variances(sw, sb)
    q = _fixed_point(kern, sw, sb, 1.0)
    chi = kern.chi1(sw, q)
    if correlation:
        cstar, chi_c = _correlation_fixed_point(kern, sw, sb, q, chi)
    else:
        cstar = np.where(chi > 1, np.nan, 1.0)
        chi_c = np.where(chi > 1, np.nan, chi)
    xi_q = _depth_scale(_length_slope(kern, sw, q), q)
    xi_c = _depth_scale(chi_c, q)
    if not correlation:
        xi_c = np.where(chi > 1, np.nan, xi_c)
    arrays = [w, b, q, chi, cstar, xi_q, xi_c]
    for arr in arrays:
        arr.setflags(write=False)
    return PhaseDiagramResult(activation=act.name, weight_variance=w, bias_variance=b,
                              q_star=q, chi1=chi, c_star=cstar, xi_q=xi_q, xi_c=xi_c)
