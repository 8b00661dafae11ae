r"""Mean-field signal propagation through deep networks (Poole et al. 2016;
Schoenholz et al. 2017), and the saturated fraction it predicts per layer.

Convention: a layer of width N has weights :math:`W_{ij} \sim (0, \sigma_w^2/N)`
(``weight_variance`` is :math:`\sigma_w^2`, the variance times fan_in) and biases
:math:`b_i \sim (0, \sigma_b^2)`; :math:`z^l = W^l \varphi(z^{l-1}) + b^l`.  Write
:math:`\int\!Dz\, f(z) = E f(Z)`, Z ~ N(0, 1).

Length map and fixed point
    :math:`q^l = \sigma_w^2 \int\!Dz\, \varphi(\sqrt{q^{l-1}}\, z)^2 + \sigma_b^2`;
    :func:`fixed_point` returns the :math:`q^*` reached by iterating from ``q0``
    (found by bisection on :math:`q \mapsto \mathcal{V}(q) - q`, which the iteration
    approaches monotonically), or inf if the map diverges.
Correlation map
    :math:`c^l = \frac{1}{q^*}\big[\sigma_w^2 \int\!Dz_1 Dz_2\, \varphi(u_1)\varphi(u_2)
    + \sigma_b^2\big]`, :math:`u_1 = \sqrt{q^*} z_1`,
    :math:`u_2 = \sqrt{q^*}(c z_1 + \sqrt{1-c^2} z_2)`; c = 1 is always a fixed point.
    Its slope there is :math:`\chi_1 = \sigma_w^2 \int\!Dz\, \varphi'(\sqrt{q^*} z)^2`:
    χ1 < 1 is the ordered phase (c* = 1), χ1 > 1 the chaotic phase (a stable c* < 1),
    χ1 = 1 the critical line (:func:`critical_weight_variance`).
Depth scales
    :math:`\xi_q^{-1} = -\ln\big(\chi_1 + \sigma_w^2 \int\!Dz\, \varphi''(\sqrt{q^*}z)
    \varphi(\sqrt{q^*}z)\big)` and :math:`\xi_c^{-1} = -\ln \chi_c`, with
    :math:`\chi_c = \sigma_w^2 \int\!Dz_1Dz_2\, \varphi'(u_1)\varphi'(u_2)` at c*
    (= χ1 in the ordered phase).  Schoenholz et al.: networks train when depth ≲ 6 ξ_c.

Quadrature.  Plain Gauss–Hermite fails for saturating activations at large q
(f(√q z) has a feature of width 1/√q at z = 0 that its nodes miss: 4% error for
tanh at q = 400).  The 1-D integrals use a composite Gauss–Legendre rule on
geometric panels around 0 (600 nodes, relative error ≲ 1e-13 for 1e-8 ≤ q ≤ 1e6,
exact to rounding for relu-like activations, ~1e-5 for hard_tanh); 2-D integrals
use a coarser tensor rule (≲ 1e-6 for q ≤ 25) for a few points and 48 × 48
Gauss–Hermite (~1e-5 at q ≤ 4) on grids.

Anchors (tests): tanh's critical σ_w² is 1 at σ_b² = 0 and ≈ 1.7610 at σ_b² = 0.05
(Schoenholz et al. 2017, Fig. 1); ReLU has :math:`q^l = \tfrac12\sigma_w^2 q^{l-1} +
\sigma_b^2`, :math:`\chi_1 = \sigma_w^2/2`, critical point (2, 0) — He initialization.

:func:`propagate` runs the Monte Carlo counterpart: inputs through L random
layers, per-layer variance of z, Glorot & Bengio's activation statistics (mean,
std, 98th percentile), the saturated fraction with its cluster-robust CI, the
empirical χ1 (growth of a random tangent vector, i.e. the Jacobian) and the
correlation of input pairs — each next to its mean-field prediction, including
:func:`satsim.saturation.predicted_fraction` at :math:`\sqrt{q^l}`: the bridge
between saturation and depth.

References
----------
.. [1] B. Poole et al., "Exponential expressivity in deep neural networks through
   transient chaos", NeurIPS 2016.
.. [2] S. Schoenholz et al., "Deep information propagation", ICLR 2017.
.. [3] X. Glorot, Y. Bengio, AISTATS 2010 (per-layer activation statistics).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss
from scipy import optimize

from satsim._docstrings import fill
from satsim._namespace import public_dir
from satsim._results import Plottable, Result, result
from satsim._validation import check_array, check_int, check_real, check_rng
from satsim.activations import Activation, as_activation

__all__ = [
    "DeepPropagationResult",
    "PhaseDiagramResult",
    "chi1",
    "correlation_fixed_point",
    "correlation_map",
    "critical_line",
    "critical_weight_variance",
    "depth_scales",
    "fixed_point",
    "length_map",
    "phase_diagram",
    "propagate",
    "saturation_at_fixed_point",
]

__dir__ = public_dir(globals())

#: an elementwise function of an array (an activation or one of its derivatives)
_Fn = Callable[[np.ndarray], np.ndarray]


def _composite_rule(
    kmin: int, kmax: int, n: int, top: float = 13.0
) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre rule for E f(Z), Z ~ N(0, 1).

    Panels [0, 2^kmin], [2^k, 2^(k+1)] ... [2^kmax, top] and their mirror images, n
    Legendre nodes each, weights times the normal density.  The breakpoint at 0 makes
    kinks there harmless, and the geometric panels resolve the narrow feature of
    f(√q z) near z = 0 (width ~1/√q) for any q up to ~4^(−kmin).
    """
    x, w = leggauss(n)
    edges = [0.0, *(2.0**k for k in range(kmin, kmax + 1)), top]
    z = np.concatenate([(b - a) / 2 * x + (a + b) / 2 for a, b in itertools.pairwise(edges)])
    wz = np.concatenate([(b - a) / 2 * w for a, b in itertools.pairwise(edges)]) * np.exp(
        -0.5 * z * z) / math.sqrt(2 * math.pi)
    return np.concatenate([-z[::-1], z]), np.concatenate([wz[::-1], wz])


#: 1-D rule (600 nodes): relative error ≲ 1e-13 for smooth and relu-like activations
#: over 1e-8 ≤ q ≤ 1e6; ~1e-5 for hard_tanh (its kinks at |u| = 1 fall inside panels).
_Z1, _W1 = _composite_rule(-20, 3, 12)
#: 2-D rules: the tensor product of a coarser composite rule (208² nodes; relative
#: error ≲ 1e-6 for q ≤ 25, ~1e-3 at q = 500) for small batches, and 48-node
#: Gauss–Hermite (error ~1e-5 for q ≤ 4, growing with q) for grids.
_Z2, _W2 = _composite_rule(-8, 3, 8)
_Z2_FAST, _W2_FAST = hermegauss(48)
_W2_FAST = _W2_FAST / math.sqrt(2 * math.pi)
_SMALL_BATCH = 64
_Q_MAX = 1e30


def _gauss(f: _Fn, q: np.ndarray) -> np.ndarray:
    """E f(√q Z), vectorised over the array q."""
    u = np.sqrt(q)[..., None] * _Z1
    return f(u) @ _W1


def _gauss2(f: _Fn, g: _Fn, q: np.ndarray, c: np.ndarray) -> np.ndarray:
    """E f(u1) g(u2) with (u1, u2) centred normal, variances q, correlation c."""
    q, c = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(c, dtype=float))
    nodes, weights = (_Z2, _W2) if q.size <= _SMALL_BATCH else (_Z2_FAST, _W2_FAST)
    s = np.sqrt(q)[..., None, None]
    cc = c[..., None, None]
    z1 = nodes[:, None]
    z2 = nodes[None, :]
    u1 = s * z1
    u2 = s * (cc * z1 + np.sqrt(np.clip(1 - cc * cc, 0, None)) * z2)
    vals = f(u1) * g(u2)
    return np.einsum("...ij,i,j->...", vals, weights, weights)


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
    r""":math:`\mathcal V(q) = \sigma_w^2 \int\!Dz\,\varphi(\sqrt q\, z)^2 + \sigma_b^2`."""
    act = as_activation(activation)
    sw, sb = _variances(weight_variance, bias_variance)
    q = np.asarray(q, dtype=float)
    if not (np.all(np.isfinite(q)) and np.all(q >= 0)):
        raise ValueError(f"`q` must be finite and >= 0; got q={q!r}")
    return _out(sw * _gauss(lambda u: act.fn(u) ** 2, q) + sb)


def _fixed_point(act: Activation, sw: np.ndarray, sb: np.ndarray, q0: float) -> np.ndarray:
    def G(q: np.ndarray) -> np.ndarray:
        return sw * _gauss(lambda u: act.fn(u) ** 2, q) + sb - q

    shape = sw.shape
    q0a = np.full(shape, q0)
    g0 = G(q0a)
    # q0 is itself a fixed point up to quadrature rounding (e.g. ReLU at (2, 0))
    g0 = np.where(np.abs(g0) <= 1e-12 * max(1.0, q0), 0.0, g0)
    up = g0 > 0
    lo = np.where(up, q0a, 0.0)
    hi = np.where(up, q0a, q0a)
    # upward: double hi until G(hi) ≤ 0 (or give up: the map diverges)
    hi_up = np.where(up, np.maximum(2.0 * q0a, 1.0), hi)
    pending = up.copy()
    while pending.any():
        g = G(hi_up)
        done = g <= 0
        pending &= ~done
        grow = pending & (hi_up < _Q_MAX)
        if not grow.any():
            break
        hi_up = np.where(grow, hi_up * 2.0, hi_up)
    diverged = pending
    hi = np.where(up, hi_up, hi)
    for _ in range(64):  # bisection: 2^-64 of the bracket, below float resolution
        mid = 0.5 * (lo + hi)
        gm = G(mid)
        # invariant: G(lo) ≥ 0 ≥ G(hi) for up; for down, G(lo) ≥ 0 > G(hi=q0)
        lo = np.where(gm > 0, mid, lo)
        hi = np.where(gm > 0, hi, mid)
    q = 0.5 * (lo + hi)
    q = np.where(g0 == 0, q0a, q)
    return np.where(diverged, np.inf, q)


def fixed_point(weight_variance: Any, bias_variance: Any, *, activation: Any = "tanh",
                q0: float = 1.0) -> float | np.ndarray:
    r"""The fixed point :math:`q^*` of the length map reached from ``q0``.

    Vectorised over (broadcast) ``weight_variance`` and ``bias_variance``.  Returns
    inf where the map diverges (e.g. ReLU with σ_w² > 2).

    Examples
    --------
    >>> round(fixed_point(1.5, 0.05, activation="relu"), 6)  # σ_b²/(1 − σ_w²/2)
    0.2
    """
    act = as_activation(activation)
    sw, sb = _variances(weight_variance, bias_variance)
    q0 = check_real("q0", q0, low=0.0, low_inclusive=False)
    return _out(_fixed_point(act, sw, sb, q0))


def _chi1(act: Activation, sw: np.ndarray, q: np.ndarray) -> np.ndarray:
    qq = np.where(np.isfinite(q), q, 0.0)
    return np.where(np.isfinite(q), sw * _gauss(lambda u: act.grad(u) ** 2, qq), np.inf)


def chi1(weight_variance: Any, bias_variance: Any, *, activation: Any = "tanh",
         q0: float = 1.0) -> float | np.ndarray:
    r""":math:`\chi_1 = \sigma_w^2 \int\!Dz\,\varphi'(\sqrt{q^*} z)^2` at the fixed point."""
    act = as_activation(activation)
    sw, sb = _variances(weight_variance, bias_variance)
    q = _fixed_point(act, sw, sb, check_real("q0", q0, low=0.0, low_inclusive=False))
    return _out(_chi1(act, sw, q))


def critical_weight_variance(bias_variance: Any, *, activation: Any = "tanh",
                             bracket: tuple[float, float] = (1e-3, 100.0)) -> float:
    """The σ_w² on the critical line χ1(σ_w², σ_b²) = 1 for a given σ_b².

    Raises ``ValueError`` if χ1 − 1 does not change sign on ``bracket``.
    """
    act = as_activation(activation)
    sb = check_real("bias_variance", bias_variance, low=0.0)
    lo, hi = bracket

    def f(sw: float) -> float:
        arr = np.asarray(sw, dtype=float)
        return float(_chi1(act, arr, _fixed_point(act, arr, np.asarray(sb), 1.0))) - 1.0

    flo, fhi = f(lo), f(hi)
    if flo > 0 or fhi < 0:
        raise ValueError(
            f"χ1 − 1 does not change sign for σ_w² in {bracket} (activation={act.name!r}, "
            f"bias_variance={sb})"
        )
    # bisection, not brentq: near σ_b² = 0 the function is flat to rounding just above
    # the root (χ1 − 1 = O((σ_w² − 1)²)), where interpolating methods stall
    return float(optimize.bisect(f, lo, hi, xtol=1e-11, maxiter=200))


def critical_line(bias_variances: Any, *, activation: Any = "tanh") -> np.ndarray:
    """σ_w² on the critical line χ1 = 1 for each σ_b² (see :func:`critical_weight_variance`)."""
    b = check_array("bias_variances", bias_variances, ndim=1)
    return np.array([critical_weight_variance(v, activation=activation) for v in b])


def saturation_at_fixed_point(
    weight_variance: Any, bias_variance: Any, *, activation: Any = "tanh",
    epsilon: float = 0.01, criterion: str | None = None,
) -> float | np.ndarray:
    r"""Predicted saturated fraction of a deep layer at the length fixed point:
    :func:`satsim.saturation.predicted_fraction` at std :math:`\sqrt{q^*}` — the bridge
    between saturation and depth.  Where the length map diverges (q* = inf) the
    limit of the formula as the std grows is returned."""
    from satsim.saturation import predicted_fraction

    act = as_activation(activation)
    sw, sb = _variances(weight_variance, bias_variance)
    q = _fixed_point(act, sw, sb, 1.0)
    std = np.sqrt(np.where(np.isfinite(q), q, 1e300))
    return _out(np.asarray(predicted_fraction(std, activation=act, epsilon=epsilon,
                                              criterion=criterion)))


def correlation_map(c: Any, weight_variance: Any, bias_variance: Any, *,
                    activation: Any = "tanh") -> float | np.ndarray:
    """One step of the correlation map at the length fixed point q*."""
    act = as_activation(activation)
    sw, sb = _variances(weight_variance, bias_variance)
    c = np.asarray(c, dtype=float)
    if not (np.all(c >= -1) and np.all(c <= 1)):
        raise ValueError(f"`c` must lie in [-1, 1]; got c={c!r}")
    q = _fixed_point(act, sw, sb, 1.0)
    return _out(_cmap(act, sw, sb, q, c))


def _cmap(act: Activation, sw: np.ndarray, sb: np.ndarray, q: np.ndarray,
          c: np.ndarray) -> np.ndarray:
    return (sw * _gauss2(act.fn, act.fn, q, c) + sb) / q


def _correlation_fixed_point(act: Activation, sw: np.ndarray, sb: np.ndarray, q: np.ndarray,
                             chi: np.ndarray) -> np.ndarray:
    """c* (1 in the ordered phase; bisection on [0, 1) in the chaotic phase)."""
    cstar = np.ones(np.broadcast(sw, q).shape)
    chaotic = np.isfinite(q) & (chi > 1) & (q > 0)
    if not chaotic.any():
        return cstar
    swc, sbc, qc = (np.broadcast_to(a, cstar.shape)[chaotic] for a in (sw, sb, q))
    lo = np.zeros(swc.shape)
    hi = np.full(swc.shape, 1 - 1e-9)
    h_lo = _cmap(act, swc, sbc, qc, lo) - lo
    for _ in range(45):
        mid = 0.5 * (lo + hi)
        h = _cmap(act, swc, sbc, qc, mid) - mid
        lo = np.where(h > 0, mid, lo)
        hi = np.where(h > 0, hi, mid)
    result = np.where(h_lo <= 0, 0.0, 0.5 * (lo + hi))
    cstar[chaotic] = result
    return cstar


def correlation_fixed_point(weight_variance: Any, bias_variance: Any, *,
                            activation: Any = "tanh") -> float | np.ndarray:
    """The stable fixed point c* of the correlation map (1 in the ordered phase)."""
    act = as_activation(activation)
    sw, sb = _variances(weight_variance, bias_variance)
    q = _fixed_point(act, sw, sb, 1.0)
    return _out(_correlation_fixed_point(act, sw, sb, q, _chi1(act, sw, q)))


def _depth_scales(
    act: Activation, sw: np.ndarray, sb: np.ndarray, q: np.ndarray, chi: np.ndarray,
    cstar: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    def scale(slope: np.ndarray) -> np.ndarray:
        # ξ = −1/ln(slope) for a contracting map (slope < 1); inf at slope ≥ 1
        # (criticality, where perturbations neither die nor grow exponentially)
        with np.errstate(divide="ignore", invalid="ignore"):
            xi = -1.0 / np.log(np.where(slope < 1, slope, 0.5))
        return np.where(np.isfinite(q), np.where(slope < 1, xi, np.inf), np.nan)

    qq = np.where(np.isfinite(q), q, 0.0)
    slope_q = np.abs(chi + sw * _gauss(lambda u: act.grad2(u) * act.fn(u), qq))
    chi_c = np.where(cstar < 1, sw * _gauss2(act.grad, act.grad, qq, cstar), chi)
    return scale(slope_q), scale(chi_c), chi_c


def depth_scales(weight_variance: Any, bias_variance: Any, *,
                 activation: Any = "tanh") -> tuple[Any, Any]:
    r"""(ξ_q, ξ_c): depth scales of the length and correlation maps (inf at criticality)."""
    act = as_activation(activation)
    sw, sb = _variances(weight_variance, bias_variance)
    q = _fixed_point(act, sw, sb, 1.0)
    chi = _chi1(act, sw, q)
    cstar = _correlation_fixed_point(act, sw, sb, q, chi)
    xi_q, xi_c, _ = _depth_scales(act, sw, sb, q, chi, cstar)
    return _out(xi_q), _out(xi_c)


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
    """Evaluate the mean-field quantities on a grid (vectorised quadrature).

    Parameters
    ----------
    weight_variances, bias_variances : 1-D array_like
        Grid axes (σ_w² > 0, σ_b² ≥ 0).
    activation : Activation or str
    correlation : bool, default True
        Also compute c* and ξ_c in the chaotic phase (2-D quadrature; slower).
    """
    act = as_activation(activation)
    # copies: the result's arrays are frozen, the caller's must not be
    w = check_array("weight_variances", weight_variances, ndim=1).copy()
    b = check_array("bias_variances", bias_variances, ndim=1).copy()
    sb, sw = np.meshgrid(b, w, indexing="ij")
    sw, sb = _variances(sw, sb)
    q = _fixed_point(act, sw, sb, 1.0)
    chi = _chi1(act, sw, q)
    if correlation:
        cstar = _correlation_fixed_point(act, sw, sb, q, chi)
    else:
        cstar = np.where(chi > 1, np.nan, 1.0)
    xi_q, xi_c, _ = _depth_scales(act, sw, sb, q, chi, np.nan_to_num(cstar, nan=1.0))
    if not correlation:
        xi_c = np.where(chi > 1, np.nan, xi_c)
    arrays = [w, b, q, chi, cstar, xi_q, xi_c]
    for arr in arrays:
        arr.setflags(write=False)
    return PhaseDiagramResult(activation=act.name, weight_variance=w, bias_variance=b,
                              q_star=q, chi1=chi, c_star=cstar, xi_q=xi_q, xi_c=xi_c)


# --------------------------------------------------------------------------- Monte Carlo
@result
class DeepPropagationResult(Result, Plottable):
    """Per-layer Monte Carlo statistics next to their mean-field predictions."""

    _title = "Deep signal propagation: Monte Carlo vs mean field"

    activation: str
    weights: str
    depth: int
    width: int
    n_probe: int
    weight_variance: float
    bias_variance: float
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """One row per layer: ``layer``, ``q`` and ``q_meanfield`` (mean z² per unit),
        ``act_mean``, ``act_std``, ``act_p98`` (Glorot & Bengio), ``saturated``,
        ``saturated_ci_low``/``_high`` (cluster-robust over units),
        ``saturated_predicted`` (predicted_fraction at √q_meanfield), ``chi1`` and
        ``chi1_meanfield`` (at q^{l−1}), ``corr`` and ``corr_meanfield`` (input pairs)."""
        return self.table.copy()


def _mf_corr_step(act: Activation, sw: float | np.ndarray, sb: float | np.ndarray, q_prev: Any,
                  c_prev: Any) -> np.ndarray:
    """One step of the correlation recursion away from the fixed point."""
    cross = _gauss2(act.fn, act.fn, np.asarray(q_prev), np.asarray(c_prev))
    qn = sw * _gauss(lambda u: act.fn(u) ** 2, np.asarray(q_prev)) + sb
    return (sw * cross + sb) / qn


@fill
def propagate(
    weights: Any = "nielsen",
    activation: Any = "tanh",
    *,
    depth: int = 20,
    width: int = 500,
    X: Any = None,
    n_probe: int = 200,
    input_correlation: float = 0.5,
    bias: Any = "standard_normal",
    epsilon: float = 0.01,
    rng: Any = None,
) -> DeepPropagationResult:
    r"""Propagate probe inputs through ``depth`` random layers of ``width`` units.

    Parameters
    ----------
    %(initializer)s
    activation : Activation or str, default "tanh"
    depth, width : int
    X : array_like (n_probe, n_in), optional
        Probe inputs (e.g. real data rows).  Default: ``n_probe`` Gaussian inputs of
        dimension ``width``, in pairs with correlation ``input_correlation`` (for the
        correlation map).
    n_probe : int, default 200
        Number of probe inputs when ``X`` is not given (rounded up to even).
    input_correlation : float, default 0.5
        Correlation within the default probe pairs.
    %(bias)s
    epsilon : float, default 0.01
        Saturation criterion of :func:`satsim.saturation.fraction`.
    %(rng)s

    Returns
    -------
    DeepPropagationResult
    """
    from satsim.init import as_initializer
    from satsim.saturation import fraction, predicted_fraction

    w_init = as_initializer(weights, param="weights")
    act = as_activation(activation)
    depth = check_int("depth", depth, minimum=1)
    width = check_int("width", width, minimum=2)
    rho = check_real("input_correlation", input_correlation, low=-1.0, high=1.0)
    b_init = None if bias is None else as_initializer(bias, param="bias")
    rng = check_rng(rng)
    if X is None:
        n_probe = check_int("n_probe", n_probe, minimum=2)
        half = -(-n_probe // 2)
        a = rng.standard_normal((half, width))
        e = rng.standard_normal((half, width))
        b = rho * a + math.sqrt(1 - rho * rho) * e
        X = np.empty((2 * half, width))
        X[0::2], X[1::2] = a, b
        paired = True
    else:
        X = check_array("X", X, ndim=2)
        paired = False
    n_in = X.shape[1]
    sw = w_init.variance(width, width) * width
    sb = 0.0 if b_init is None else b_init.variance(width, width)

    h = X.T.copy()  # (units, probes): column = one probe input
    tangent = rng.standard_normal(h.shape)  # random direction for the Jacobian
    q_mf = float(w_init.variance(n_in, width) * n_in * np.mean(X * X) + sb)
    c_mf = math.nan
    if paired:  # input correlation of the probe pairs (only the default probes are paired)
        c_mf = float(np.mean(np.sum(X[0::2] * X[1::2], axis=1) / np.sqrt(
            np.sum(X[0::2] ** 2, axis=1) * np.sum(X[1::2] ** 2, axis=1))))
    rows = []
    prev_phi_grad = None
    q_prev_mf = q_mf
    for layer in range(1, depth + 1):
        fan_in = h.shape[0]
        W = w_init.sample((width, fan_in), rng=rng)
        z = W @ h
        if b_init is not None:
            z += b_init.sample((width,), rng=rng, fans=(fan_in, width))[:, None]
        t_in = tangent if prev_phi_grad is None else prev_phi_grad * tangent
        t_out = W @ t_in
        chi_emp = float(np.mean(t_out**2) / np.mean(tangent**2)) if layer > 1 else math.nan
        tangent = t_out
        phi = act.fn(z)
        sat = fraction(z.T, activation=act, epsilon=epsilon)
        if paired:
            za, zb = z[:, 0::2], z[:, 1::2]
            corr = float(np.mean(np.sum(za * zb, 0) / np.sqrt(np.sum(za**2, 0) * np.sum(zb**2, 0))))
        else:
            corr = math.nan
        if layer > 1:
            chi_mf = float(_chi1(act, np.asarray(sw), np.asarray(q_prev_mf)))
            if paired:
                c_mf = float(_mf_corr_step(act, sw, sb, q_prev_mf, c_mf))
            q_mf = float(length_map(q_prev_mf, sw, sb, activation=act))
        else:
            chi_mf = math.nan
            if paired and q_mf > 0:
                c_mf = float(c_mf * (q_mf - sb) / q_mf + sb / q_mf)
        rows.append({
            "layer": layer,
            "q": float(np.mean(z * z)),
            "q_meanfield": q_mf,
            "act_mean": float(phi.mean()),
            "act_std": float(phi.std()),
            "act_p98": float(np.percentile(phi, 98)),
            "saturated": sat.estimate,
            "saturated_ci_low": sat.ci_low,
            "saturated_ci_high": sat.ci_high,
            "saturated_predicted": predicted_fraction(math.sqrt(q_mf), activation=act,
                                                      epsilon=epsilon),
            "chi1": chi_emp,
            "chi1_meanfield": chi_mf,
            "corr": corr,
            "corr_meanfield": c_mf if paired else math.nan,
        })
        q_prev_mf = q_mf
        prev_phi_grad = act.grad(z)
        h = phi
    return DeepPropagationResult(activation=act.name, weights=w_init.name, depth=depth,
                                 width=width, n_probe=X.shape[0], weight_variance=sw,
                                 bias_variance=sb, table=pd.DataFrame(rows))
