"""The input-output Jacobian: its spectrum at depth (free probability) and one
layer's singular values (Glorot & Bengio 2010) (see :mod:`satsim.gradients`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from satsim._results import Plottable, Result, result
from satsim._validation import check_choice, check_int, check_real, check_rng
from satsim.activations import Activation, as_activation
from satsim.gradients._signal import (
    WEIGHT_KINDS,
    _t_interval,
)
from satsim.meanfield import _gaussian
from satsim.meanfield._propagation import _input_q, _layers, _mean_field


# --------------------------------------------------------------------------- Jacobian
def _grad_moments(act: Activation, q: float) -> tuple[float, float]:
    """(E φ'(u)², E φ'(u)⁴), u ~ N(0, q), with the forward maps' quadrature."""
    kern = _gaussian.kernel(act)
    m2 = float(kern.grad_moment2(np.asarray(q)))
    m4 = float(_gaussian.expect(lambda u: act.grad(u) ** 4, np.asarray(q)))
    return m2, m4


@result
class JacobianSpectrumResult(Result, Plottable):
    """Squared singular values of the input–output Jacobian of random networks.

    ``eigenvalues`` has shape (len(depths), networks, width): the spectrum of
    :math:`JJ^\\top` of every network at every recorded depth (read-only)."""

    _title = "Input-output Jacobian spectrum vs free probability"

    activation: str
    weights: str
    width: int
    depths: tuple[int, ...]
    networks: int
    weight_variance: float
    bias_variance: float
    q_star: float
    chi1: float
    kappa_d: float
    kappa_w: float
    confidence_level: float
    eigenvalues: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        r"""One row per recorded depth: ``depth``, ``mean`` (of the squared singular
        values: mean over networks of :math:`\mathrm{tr}\,JJ^\top/N`) with
        ``mean_ci_low``/``_high`` and ``mean_predicted`` (:math:`\chi_1^L`),
        ``variance`` (mean over networks of each spectrum's variance) with its
        interval and ``variance_predicted`` (:math:`\chi_1^{2L} L(\kappa_W +
        \kappa_D)`), ``normalized_variance`` (variance / mean², per network, then
        averaged) and ``normalized_variance_predicted`` (:math:`L(\kappa_W +
        \kappa_D)`); intervals are Student-t over the networks."""
        lam = self.eigenvalues
        per_mean = lam.mean(axis=2).T  # (networks, depths)
        per_var = lam.var(axis=2).T
        m, m_lo, m_hi = _t_interval(per_mean, self.confidence_level)
        v, v_lo, v_hi = _t_interval(per_var, self.confidence_level)
        nv, nv_lo, nv_hi = _t_interval(per_var / per_mean**2, self.confidence_level)
        depth = np.asarray(self.depths, dtype=float)
        slope = self.kappa_w + self.kappa_d
        mean_pred = self.chi1**depth
        return pd.DataFrame({
            "depth": np.asarray(self.depths), "mean": m, "mean_ci_low": m_lo,
            "mean_ci_high": m_hi, "mean_predicted": mean_pred, "variance": v,
            "variance_ci_low": v_lo, "variance_ci_high": v_hi,
            "variance_predicted": mean_pred**2 * depth * slope,
            "normalized_variance": nv, "normalized_variance_ci_low": nv_lo,
            "normalized_variance_ci_high": nv_hi,
            "normalized_variance_predicted": depth * slope,
            "networks": self.networks, "width": self.width,
        })

    def spectrum_frame(self, bins: int = 60) -> pd.DataFrame:
        """Histogram of log10 of the pooled squared singular values per depth:
        ``depth``, ``log10_low``, ``log10_high``, ``density`` (per unit of log10)."""
        bins = check_int("bins", bins, minimum=1)
        rows = []
        for j, d in enumerate(self.depths):
            lam = self.eigenvalues[j].ravel()
            lam = np.log10(lam[lam > 0])
            if not lam.size:
                continue
            dens, edges = np.histogram(lam, bins=bins, density=True)
            rows.append(pd.DataFrame({"depth": d, "log10_low": edges[:-1],
                                      "log10_high": edges[1:], "density": dens}))
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
            columns=["depth", "log10_low", "log10_high", "density"])

    def _summary_header(self) -> list[str]:
        return [f"{self.activation}, {self.weights} weights, width {self.width}; "
                f"σ_w² = {self.weight_variance:.6g}, σ_b² = {self.bias_variance:.6g}, "
                f"q* = {self.q_star:.6g}, χ1 = {self.chi1:.6g}"]


def _weight_sampler(kind: str, sw: float) -> Any:
    from satsim.init import Orthogonal, VarianceScaling

    if kind == "gaussian":
        return VarianceScaling(sw, "fan_in", "normal")
    return Orthogonal(math.sqrt(sw))


def jacobian_spectrum(
    depth: int | Sequence[int] = 10,
    width: int = 500,
    *,
    weights: str = "gaussian",
    activation: Any = "tanh",
    weight_variance: float | None = None,
    bias_variance: float = 0.0,
    networks: int = 10,
    confidence_level: float = 0.95,
    rng: Any = None,
) -> JacobianSpectrumResult:
    r"""Squared singular values of :math:`J = \partial x^L/\partial x^0 = D_L W_L
    \cdots D_1 W_1` over random square networks, with the free-probability mean and
    variance (module docstring).

    Parameters
    ----------
    depth : int or sequence of int, default 10
        Number of layers L, or several depths recorded along one network (the
        Jacobian of the first L layers, for every L given).
    width : int, default 500
        Units per layer (and the input dimension).
    weights : {"gaussian", "orthogonal"}, default "gaussian"
        i.i.d. :math:`N(0, \sigma_w^2/N)` weights, or :math:`\sigma_w` times a Haar
        orthogonal matrix (the same variance per entry).
    activation : Activation or str, default "tanh"
    weight_variance : float > 0, optional
        σ_w².  Default: the critical value for ``bias_variance``
        (:func:`satsim.meanfield.critical_weight_variance`).
    bias_variance : float >= 0, default 0.0
        σ_b² (biases :math:`N(0, \sigma_b^2)`).
    networks : int, default 10
    confidence_level : float, default 0.95
    rng : None, int, SeedSequence, BitGenerator or Generator, optional
        Source of randomness (SPEC 7); every network has its own spawned stream.

    Returns
    -------
    JacobianSpectrumResult

    Raises
    ------
    ValueError
        A bad argument (named), or a length map that diverges (q* = inf) at the
        given variances.
    """
    from satsim.meanfield import critical_weight_variance, fixed_point

    if isinstance(depth, list | tuple | np.ndarray):
        if len(depth) == 0:
            raise ValueError("`depth` must have at least one entry; got depth=[]")
        depths = sorted({check_int(f"depth[{i}]", d, minimum=1) for i, d in enumerate(depth)})
    else:
        depths = [check_int("depth", depth, minimum=1)]
    width = check_int("width", width, minimum=2)
    kind = check_choice("weights", weights, WEIGHT_KINDS)
    act = as_activation(activation)
    sb = check_real("bias_variance", bias_variance, low=0.0)
    if weight_variance is None:
        sw = critical_weight_variance(sb, activation=act)
    else:
        sw = check_real("weight_variance", weight_variance, low=0.0, low_inclusive=False)
    networks = check_int("networks", networks, minimum=1)
    level = check_real("confidence_level", confidence_level, low=0.0, high=1.0,
                       low_inclusive=False, high_inclusive=False)
    q = float(fixed_point(sw, sb, activation=act))
    if not math.isfinite(q):
        raise ValueError(f"the length map diverges at weight_variance={sw!r}, "
                         f"bias_variance={sb!r} (activation={act.name!r}): no fixed point "
                         f"to put the input at")
    rng = check_rng(rng)
    m2, m4 = _grad_moments(act, q)
    chi = sw * m2
    kappa_d = m4 / m2**2 - 1.0 if m2 > 0 else math.nan
    kappa_w = 1.0 if kind == "gaussian" else 0.0
    sampler = _weight_sampler(kind, sw)
    L = depths[-1]
    lam = np.empty((len(depths), networks, width))
    for k, child in enumerate(rng.spawn(networks)):
        x = act.fn(math.sqrt(q) * child.standard_normal(width))  # E z¹² = q*
        J = np.eye(width)
        j = 0
        for layer in range(1, L + 1):
            W = sampler.sample((width, width), rng=child)
            h = W @ x
            if sb > 0:
                h += math.sqrt(sb) * child.standard_normal(width)
            J = act.grad(h)[:, None] * (W @ J)
            x = act.fn(h)
            if layer == depths[j]:
                lam[j, k] = np.clip(np.linalg.eigvalsh(J @ J.T), 0.0, None)
                j += 1
    lam.setflags(write=False)
    return JacobianSpectrumResult(
        activation=act.name, weights=kind, width=width, depths=tuple(depths),
        networks=networks, weight_variance=sw, bias_variance=sb, q_star=q, chi1=chi,
        kappa_d=kappa_d, kappa_w=kappa_w, confidence_level=level, eigenvalues=lam)


# --------------------------------------------------------------------------- per layer
def mean_singular_value(weight_variance: float, q: float, *, activation: Any = "tanh",
                        n_grid: int = 1000) -> float:
    r"""Large-width mean singular value of a square layer Jacobian :math:`D W`,
    :math:`W_{ij} \sim (0, \sigma_w^2/N)` i.i.d., :math:`D = \mathrm{diag}\,
    \varphi'(h)`, :math:`h_i \sim N(0, q)` — from the Marchenko–Pastur–Silverstein
    equation (module docstring), on a grid of ``n_grid`` singular values.

    Parameters
    ----------
    weight_variance : float > 0
        σ_w² of the layer.
    q : float >= 0
        Variance of the layer's pre-activations h.
    activation : Activation or str, default "tanh"
        φ; only φ' enters, as :math:`t = \sigma_w^2\varphi'(h)^2`.
    n_grid : int, default 1000
        Midpoint grid on [0, 2√max t] for the density of s (error ~1e-5 relative).

    Returns
    -------
    float
        :math:`\int s\,\rho(s)\,ds` for the limiting singular-value density ρ of
        :math:`DW`; 0 when φ' vanishes on the whole support (e.g. relu at q = 0).

    Raises
    ------
    ValueError
        ``weight_variance`` not positive, ``q`` negative, ``n_grid`` below 10, or an
        unknown activation.

    Examples
    --------
    >>> round(mean_singular_value(1.0, 0.0), 4)  # the quarter circle: 8/(3π)
    0.8488
    """
    sw = check_real("weight_variance", weight_variance, low=0.0, low_inclusive=False)
    q = check_real("q", q, low=0.0)
    n_grid = check_int("n_grid", n_grid, minimum=10)
    act = as_activation(activation)
    if q == 0:
        t, w = np.array([sw * float(act.grad(np.zeros(1))[0]) ** 2]), np.ones(1)
    else:
        z, w = _gaussian._Z1, _gaussian._W1
        # nodes whose weight is below 1e-17 of the largest add nothing at float64
        big = w > 1e-17 * w.max()
        t = sw * act.grad(math.sqrt(q) * z[big]) ** 2
        w = w[big] / w[big].sum()
    keep = t > 0
    t, w = t[keep], w[keep]
    if not t.size:
        return 0.0
    smax = 2.0 * math.sqrt(float(t.max())) * 1.001  # the support ends below 2√max t
    ds = smax / n_grid
    s_grid = (np.arange(n_grid)[::-1] + 0.5) * ds  # midpoints, from the top down
    eta = 1e-9 * smax**2  # the mean's bias from the imaginary part is O(η)

    def residual(m: complex, zc: complex) -> tuple[complex, complex]:
        r = 1.0 + t * m
        f = -zc + complex(np.sum(w * t / r)) - 1.0 / m
        df = -complex(np.sum(w * t * t / (r * r))) + 1.0 / (m * m)
        return f, df

    m = complex(-1.0 / (s_grid[0] ** 2 + 1j * eta))
    total = 0.0
    with np.errstate(all="ignore"):  # rejected trial steps may overflow
        for s in s_grid:
            zc = complex(s * s, eta)
            f, df = residual(m, zc)
            for _ in range(100):
                step = f / df if df != 0 else 0.0
                if not (abs(step) > 1e-14 * abs(m)):
                    break
                # Newton with backtracking: accept a step only if it lowers |F|
                for _ in range(40):
                    trial = m - step
                    if trial.imag < 0:  # the Stieltjes transform maps C+ to C+
                        trial = trial.conjugate()
                    ft, dft = residual(trial, zc)
                    if math.isfinite(abs(ft)) and abs(ft) < abs(f):
                        break
                    step *= 0.5
                else:
                    break
                m, f, df = trial, ft, dft
            total += s * 2.0 * s * m.imag / math.pi
    # units with φ' = 0 (relu) put an atom of mass `mass0` at s = 0, which adds
    # nothing to the mean; dropping their t = 0 leaves the equation unchanged
    return float(total * ds)


@result
class LayerJacobianResult(Result, Plottable):
    """Singular values of the per-layer Jacobians :math:`D_l W_l` of deep networks,
    one set of networks per weight initializer (Glorot & Bengio 2010, §4.2.2)."""

    _title = "Per-layer Jacobian singular values (Glorot & Bengio)"

    activation: str
    weights: tuple[str, ...]
    width: int
    depth: int
    networks: int
    bias: str | None
    confidence_level: float
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        r"""One row per initializer and layer: ``weights``, ``layer``,
        ``weight_variance`` (σ_w²), ``q`` (the mean-field q^l of the layer's z),
        ``mean_sv`` (average singular value of :math:`D_lW_l`, mean over networks) with
        ``mean_sv_ci_low``/``_high`` (Student-t over networks) and
        ``mean_sv_predicted`` (Marchenko–Pastur–Silverstein), ``rms_sv`` (root mean
        squared singular value) and ``rms_sv_predicted`` (:math:`\sqrt{\sigma_w^2
        E\varphi'(z^l)^2}`, closed form), ``networks``."""
        return self.table.copy()

    def _summary_header(self) -> list[str]:
        return [f"{self.activation}, width {self.width}, depth {self.depth}; "
                f"{self.networks} networks per initializer"]


def layer_jacobian(
    weights: Any = ("torch_linear", "glorot_uniform"),
    activation: Any = "tanh",
    *,
    width: int = 1000,
    depth: int = 5,
    bias: Any = "zeros",
    networks: int = 2,
    confidence_level: float = 0.95,
    rng: Any = None,
) -> LayerJacobianResult:
    r"""Average singular value of every layer's Jacobian :math:`\partial x^l/\partial
    x^{l-1} = D_l W_l` of square ``depth``-layer networks fed a standard normal
    input, for each weight initializer, with the mean-field predictions.

    Defaults reproduce Glorot & Bengio's (2010) setting: 1000 tanh units per layer,
    zero biases, their "standard" U(±1/√n) (``"torch_linear"``: σ_w² = 1/3) and
    "normalized" U(±√6/√(n_in+n_out)) (``"glorot_uniform"``: σ_w² = 1) inits, for
    which they report ≈ 0.5 and ≈ 0.8 (as reported; the tests compare the Monte Carlo
    with this module's prediction, and the two inits in the published direction).

    Parameters
    ----------
    weights : Initializer, str or sequence of them, default ("torch_linear", "glorot_uniform")
        The weight initializers to compare (at least one).
    activation : Activation or str, default "tanh"
        φ of every layer.
    width : int, default 1000
        Units per layer (≥ 2); every layer is square.
    depth : int, default 5
        Number of layers (≥ 1).
    bias : Initializer, str or None, default "zeros"
        Bias initializer; None for no bias.
    networks : int, default 2
        Networks per initializer; each is fed one fresh N(0, I) input.
    confidence_level : float, default 0.95
        Level of the Student-t intervals over networks, in (0, 1).
    rng : None, int, SeedSequence, BitGenerator or Generator, optional
        SPEC 7; every (initializer, network) pair has its own spawned stream.

    Returns
    -------
    LayerJacobianResult
        One row per initializer and layer (see its ``to_frame``): the measured mean
        and rms singular values of :math:`D_l W_l` with intervals, and the predictions
        — :func:`mean_singular_value` at the layer's mean-field :math:`q^l`, and
        :math:`\sqrt{\sigma_w^2\,E\,\varphi'(z^l)^2}` for the rms.

    Raises
    ------
    ValueError
        No initializer, ``width`` below 2, ``depth`` or ``networks`` below 1,
        ``confidence_level`` not in (0, 1), or an unknown initializer or activation.
    """
    from satsim.init import as_initializer

    names = list(weights) if isinstance(weights, list | tuple) else [weights]
    if not names:
        raise ValueError("`weights` must name at least one initializer; got weights=()")
    inits = [as_initializer(w, param=f"weights[{i}]") for i, w in enumerate(names)]
    act = as_activation(activation)
    width = check_int("width", width, minimum=2)
    depth = check_int("depth", depth, minimum=1)
    b_init = None if bias is None else as_initializer(bias, param="bias")
    networks = check_int("networks", networks, minimum=1)
    level = check_real("confidence_level", confidence_level, low=0.0, high=1.0,
                       low_inclusive=False, high_inclusive=False)
    rng = check_rng(rng)
    kern = _gaussian.kernel(act)
    rows = []
    for init, init_rng in zip(inits, rng.spawn(len(inits)), strict=True):
        sizes = [width] * (depth + 1)
        acts: list[Activation | None] = [act] * depth
        layers = _layers(sizes, [init] * depth, b_init, acts, [act.name] * depth)
        mean_sv = np.empty((networks, depth))
        rms_sv = np.empty((networks, depth))
        q_net = np.empty((networks, depth))
        for k, child in enumerate(init_rng.spawn(networks)):
            x = child.standard_normal(width)
            q_x = _mean_field(layers, _input_q(layers[0], x[None, :]))
            q_net[k] = [float(m.q[0]) for m in q_x]
            for li in range(depth):
                W = init.sample((width, width), rng=child)
                h = W @ x
                if b_init is not None:
                    h += b_init.sample((width,), rng=child, fans=(width, width))
                A = act.grad(h)[:, None] * W
                s2 = np.clip(np.linalg.eigvalsh(A @ A.T), 0.0, None)
                mean_sv[k, li] = np.sqrt(s2).mean()
                rms_sv[k, li] = math.sqrt(s2.mean())
                x = act.fn(h)
        m, lo, hi = _t_interval(mean_sv, level)
        for li, layer in enumerate(layers):
            q = float(q_net[:, li].mean())  # the same for every N(0, I) input, up to ‖x‖²
            sw = layer.weight_variance
            rows.append({
                "weights": init.name, "layer": li + 1, "weight_variance": sw, "q": q,
                "mean_sv": m[li], "mean_sv_ci_low": lo[li], "mean_sv_ci_high": hi[li],
                "mean_sv_predicted": mean_singular_value(sw, q, activation=act),
                "rms_sv": float(rms_sv[:, li].mean()),
                "rms_sv_predicted": math.sqrt(sw * float(kern.grad_moment2(np.asarray(q)))),
                "networks": networks,
            })
    return LayerJacobianResult(
        activation=act.name, weights=tuple(i.name for i in inits), width=width, depth=depth,
        networks=networks, bias=None if b_init is None else b_init.name,
        confidence_level=level, table=pd.DataFrame(rows))
