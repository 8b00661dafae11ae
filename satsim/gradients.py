r"""Backward signal propagation at initialization: the gradient's second moment per
layer and the spectrum of the input–output Jacobian, measured in NumPy networks and
predicted by mean-field theory and free probability.

Conventions are those of :mod:`satsim.meanfield`: layer l maps :math:`n_{l-1}` inputs
to :math:`N_l = n_l` units, :math:`z^l = W^l \varphi_{l-1}(z^{l-1}) + b^l` with
:math:`\mathrm{Var}\,w^l = \sigma_w^2(l)/n_{l-1}` and :math:`\mathrm{Var}\,b^l =
\sigma_b^2(l)` at the layer's own fans, and :math:`q^l(x)` the forward length map of
each input (:mod:`satsim.meanfield._propagation`, reused, not re-derived).  Gaussian
expectations come from :mod:`satsim.meanfield._gaussian` (closed forms where they exist,
the 600-node composite rule otherwise), the quadrature of the forward maps.

Gradient moments (:func:`gradient_moments`)
    For one example, :math:`\delta^l = \partial C/\partial z^l` obeys the backward
    recursion :math:`\delta^l = (W^{l+1\top}\delta^{l+1}) \odot \varphi_l'(z^l)`.
    Treating :math:`W^{l+1}` as independent of :math:`\delta^{l+1}` and of
    :math:`z^l` (the gradient-independence assumption of Schoenholz et al. 2017, §3;
    exact as the widths grow, Yang 2020), :math:`E(W^\top\delta)_j^2 =
    \mathrm{Var}(w^{l+1})\lVert\delta^{l+1}\rVert^2`, so for each input x

    .. math::

        E\lVert\delta^l\rVert^2 = \sigma_w^2(l+1)\,
        \int\!Dz\,\varphi_l'\big(\sqrt{q^l(x)}\,z\big)^2\; E\lVert\delta^{l+1}\rVert^2,
        \qquad \tilde q^l = \frac{E\lVert\delta^l\rVert^2}{N_l}
        = \tilde q^{l+1}\,\sigma_w^2(l+1)\frac{N_{l+1}}{N_l}\,E\varphi_l'(z^l)^2,

    i.e. a factor :math:`\chi_1` per layer going down when the widths are equal and
    the signal sits at its fixed point (Schoenholz et al. 2017, eq. (9)).  The
    recursion predicts *ratios* between layers; it is anchored on the measured
    :math:`\lVert\delta^L(x)\rVert^2` of the top layer, input by input, and the
    per-input predictions are averaged over the inputs (as the forward mixture of
    :func:`satsim.meanfield.layer_moments`).  The per-example weight gradient is the
    outer product :math:`\partial C/\partial W^l = \delta^l a^{l-1\top}`, so
    :math:`\lVert\partial C/\partial W^l\rVert^2 = \lVert\delta^l\rVert^2
    \lVert a^{l-1}\rVert^2` exactly, and with δ independent of a (mean field)
    :math:`E\lVert\partial C/\partial W^l\rVert^2 \approx E\lVert\delta^l\rVert^2\,
    n_{l-1}\,E\varphi_{l-1}(z^{l-1})^2` (:math:`\lVert x\rVert^2` for l = 1).

    Cost.  ``cost="direction"`` (default) sets :math:`\partial C/\partial z^L = u`,
    :math:`u \sim N(0, I)` drawn afresh for every example and network — the
    cost :math:`C = u\cdot z^L` with a linear output, which is what the
    mean-field recursion assumes (δ^L independent of everything below).
    ``cost="quadratic"`` is Nielsen's quadratic cost with a sigmoid output and random
    one-hot targets (δ^L from the network's own cost); its δ^L depends on z^L, and
    the anchoring on the measured top layer absorbs that.

    Measurement.  All the inputs of a network are backpropagated at once, as rows
    of one batch, in :class:`satsim.nn.Network`'s own formulas (its forward pass,
    its activations' φ', the recursion above on row batches); rows never mix, so
    row r's :math:`\delta^l_r` and :math:`a^{l-1}_r` are example r's, and its two
    norms come without forming any gradient matrix.  (This equals backpropagating
    each example alone to rounding, at the cost of two matrix products per layer
    for the whole batch.)

Input–output Jacobian (:func:`jacobian_spectrum`)
    With :math:`x^0` at the fixed point (:math:`x^0 = \varphi(h^0)`, :math:`h^0 \sim
    N(0, q^*)`, so every layer's pre-activation has variance :math:`q^*`), the
    Jacobian of the last layer's *activation* with respect to the input (Pennington,
    Schoenholz & Ganguli 2017, eq. (2)) is

    .. math::

        J = \frac{\partial x^L}{\partial x^0} = D_L W_L \cdots D_1 W_1, \qquad
        D_l = \mathrm{diag}\,\varphi'(h^l).

    Its squared singular values are the eigenvalues of :math:`JJ^\top`.  By
    asymptotic freeness of the :math:`D_l^2` and :math:`W_lW_l^\top` (PSG 2017 §3),
    the S-transform of :math:`JJ^\top` is the product of theirs.  For a law with
    moments :math:`m_1, m_2`, inverting :math:`\psi(z) = m_1 z + m_2 z^2 + O(z^3)`
    gives :math:`S(z) = \frac{1+z}{z}\psi^{-1}(z) = \frac1{m_1}\big(1 - \frac{m_2 -
    m_1^2}{m_1^2} z + O(z^2)\big)`, so the product of 2L such factors has

    .. math::

        M_1 = \prod_l m_1(W_lW_l^\top)\,m_1(D_l^2) = \prod_l \chi_1(l), \qquad
        \frac{V}{M_1^2} = \sum_l \Big[\kappa_W + \frac{E\varphi'(h)^4}
        {(E\varphi'(h)^2)^2} - 1\Big],

    with :math:`M_1` the mean and V the variance of the squared singular values,
    :math:`\kappa_W = 1` for Gaussian weights (Marchenko–Pastur law of ratio 1:
    :math:`m_2 = 2m_1^2`) and 0 for orthogonal ones (:math:`WW^\top = \sigma_w^2 I`).
    ReLU's :math:`D^2` is a Bernoulli(½) mask: :math:`\kappa_D = 1`.  At
    criticality (:math:`\chi_1 = 1`) the variance grows linearly with depth, the
    Gaussian slope exceeding the orthogonal one by exactly 1.  (Checked: for linear
    Gaussian layers the limit is the Fuss–Catalan law, :math:`m_2 = L + 1`; the
    tests compare every case with Monte Carlo.)  Finite width adds a relative error
    of order :math:`L/N` (for one real Wishart factor :math:`m_2 = 2 + 1/N`).

Per-layer Jacobians (:func:`layer_jacobian`)
    Glorot & Bengio (2010, §4.2.2) report the average singular value of the layer
    Jacobian :math:`J^l = \partial x^l/\partial x^{l-1} = D_l W_l` in 1000-unit tanh
    networks: about 0.5 with the "standard" U(±1/√n) (``"torch_linear"``) and 0.8
    with the normalized U(±√6/√(n_in + n_out)) (``"glorot_uniform"``) — as
    reported.  Its mean square is :math:`\sigma_w^2(l)\,E\varphi'(z^l)^2` in closed
    form.  Its mean singular value needs the whole spectrum: :math:`J^{l\top}J^l =
    \frac1n X^\top T X` with :math:`T = \sigma_w^2 D_l^2`, whose limiting Stieltjes
    transform solves the Marchenko–Pastur–Silverstein equation (ratio 1)
    :math:`m(z) = \big(-z + \int \frac{t\,dH(t)}{1 + t\,m(z)}\big)^{-1}`, H the law
    of :math:`\sigma_w^2\varphi'(\sqrt q Z)^2` on the quadrature nodes.  It is solved
    by Newton's method with continuation along a grid of singular values s (the
    density of s, :math:`2s\,\mathrm{Im}\,m(s^2 + i0)/\pi`, is bounded where that of
    s² is not); the mean is accurate to ~1e-5 (at q = 0 it is the quarter-circle
    value :math:`\frac{8}{3\pi}\sigma_w`, a test).

References
----------
.. [1] S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein, "Deep information
   propagation", ICLR 2017, §3 (backpropagation of gradients).
.. [2] J. Pennington, S. Schoenholz, S. Ganguli, "Resurrecting the sigmoid in deep
   learning through dynamical isometry: theory and practice", NeurIPS 2017, §3.
.. [3] X. Glorot, Y. Bengio, "Understanding the difficulty of training deep
   feedforward neural networks", AISTATS 2010, §4.2.2.
.. [4] G. Yang, "Tensor programs III: neural matrix laws", arXiv:2009.10685 (2020)
   (the gradient-independence assumption).
.. [5] J. W. Silverstein, Z. D. Bai, "On the empirical distribution of eigenvalues of
   a class of large dimensional random matrices", J. Multivariate Anal. 54 (1995).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from satsim._namespace import public_dir
from satsim._results import Plottable, Result, result
from satsim._validation import check_array, check_choice, check_int, check_real, check_rng
from satsim.activations import Activation, as_activation
from satsim.meanfield import _gaussian
from satsim.meanfield._propagation import _check_sizes, _input_q, _layers, _mean_field

__all__ = [
    "GradientMomentsResult",
    "JacobianSpectrumResult",
    "LayerJacobianResult",
    "backprop_example",
    "gradient_moments",
    "jacobian_spectrum",
    "layer_jacobian",
    "mean_singular_value",
]

__dir__ = public_dir(globals())

COSTS = ("direction", "quadratic")
WEIGHT_KINDS = ("gaussian", "orthogonal")


# --------------------------------------------------------------------------- helpers
def _t_interval(per_network: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """Mean over axis 0 and its Student-t interval (the networks are i.i.d.)."""
    n = per_network.shape[0]
    mean = per_network.mean(axis=0)
    if n < 2:
        nan = np.full(mean.shape, np.nan)
        return mean, nan, nan
    half = (stats.t.ppf(0.5 + level / 2, n - 1) * per_network.std(axis=0, ddof=1)
            / math.sqrt(n))
    return mean, mean - half, mean + half


# rows of one backward pass in gradient_moments: the forward pass it keeps (z and a of
# every layer) stays within about this many bytes (64 MiB), whatever n_probe is
_CHUNK_BYTES = 1 << 26


def _backward(
    net: Any, X: np.ndarray, output_delta: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    r"""Backpropagation of every row of ``X`` at once through a
    :class:`satsim.nn.Network`, in the network's own formulas: its forward pass
    (``Network._forward``), its activations' :math:`\varphi'` (``grad_from``, as in
    ``Network._backprop``) and :math:`\delta^{l} = (\delta^{l+1} W^{l+1}) \odot
    \varphi_l'(z^l)` on row batches.

    ``output_delta(z^L, a^L)`` gives :math:`\delta^L` (n, N_L).  Yields ``(i, δ, a)``
    for the layers from the top down (``i`` = l − 1, zero-based): δ = :math:`\delta^l`,
    shape (n, N_l), and a = :math:`a^{l-1}`, (n, n_{l−1}), the layer's input.  Row r's
    per-example gradients are :math:`\partial C_r/\partial b^l = \delta^l_r` and
    :math:`\partial C_r/\partial W^l = \delta^l_r a^{l-1\top}_r`; rows never mix.
    """
    zs, acts = net._forward(X, keep=True)
    phis = [*net.activations, net.output]  # every layer's φ, the output's last
    delta = output_delta(zs[-1], acts[-1])
    for i in range(len(net.weights) - 1, -1, -1):
        yield i, delta, acts[i]
        if i:
            delta = delta @ net.weights[i]  # a new array: the yielded δ stays intact
            delta *= phis[i - 1].grad_from(zs[i - 1], acts[i])


def _per_example_norms(
    net: Any, X: np.ndarray, top: Callable[..., np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-example :math:`\lVert\delta^l\rVert^2` and :math:`\lVert\partial
    C/\partial W^l\rVert^2 = \lVert\delta^l\rVert^2\lVert a^{l-1}\rVert^2` (the
    weight gradient is an outer product), each of shape (n, L), from
    :func:`_backward` on chunks of rows (at most :data:`_CHUNK_BYTES` of kept forward
    pass each).  ``top(z^L, a^L, rows)`` gives :math:`\delta^L` of the rows ``rows``
    (a slice of X's rows) from their output z and a."""
    n, n_layers = X.shape[0], len(net.weights)
    d_sq = np.empty((n, n_layers))
    a_sq = np.empty((n, n_layers))
    kept = 2 * net.dtype.itemsize * sum(net.sizes[1:])  # z and a of every layer, per row
    chunk = max(64, _CHUNK_BYTES // kept)
    for s in range(0, n, chunk):
        rows = slice(s, s + chunk)
        for i, delta, a in _backward(net, X[rows], functools.partial(top, rows=rows)):
            d_sq[rows, i] = np.einsum("ij,ij->i", delta, delta)
            a_sq[rows, i] = np.einsum("ij,ij->i", a, a)
    return d_sq, d_sq * a_sq


def backprop_example(net: Any, x: Any, y: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-example gradients (∂C/∂W^l, ∂C/∂b^l = δ^l), l = 1 … L, of one input row
    through :class:`satsim.nn.Network`: the batched backpropagation of
    :func:`gradient_moments` on a batch of one, with the network's cost.

    ``x`` has shape (sizes[0],), ``y`` (sizes[-1],): the target in the network's
    cost (for a linear output with the quadratic cost, :math:`\\delta^L = z^L - y`).

    Parameters
    ----------
    net : satsim.nn.Network
        The network, with its weights, activations, output layer and cost.
    x : array_like, shape (sizes[0],)
        One input row.
    y : array_like, shape (sizes[-1],)
        Its target (e.g. a one-hot label).

    Returns
    -------
    grad_w : list of numpy.ndarray
        :math:`\\partial C/\\partial W^l = \\delta^l a^{l-1\\top}`, shape
        ``(sizes[l], sizes[l-1])``, for l = 1 … L, in the network's dtype.
    grad_b : list of numpy.ndarray
        :math:`\\partial C/\\partial b^l = \\delta^l`, shape ``(sizes[l],)``.

    Raises
    ------
    ValueError
        ``x`` or ``y`` does not have the shape of one row.
    """
    x = np.asarray(x, dtype=net.dtype)
    y = np.asarray(y, dtype=net.dtype)
    if x.shape != (net.sizes[0],):
        raise ValueError(f"`x` must have shape ({net.sizes[0]},) (one input row); "
                         f"got an array of shape {x.shape}")
    if y.shape != (net.sizes[-1],):
        raise ValueError(f"`y` must have shape ({net.sizes[-1]},) (one target row); "
                         f"got an array of shape {y.shape}")
    n_layers = len(net.weights)
    gw: list[np.ndarray] = [np.empty(0)] * n_layers
    gb: list[np.ndarray] = [np.empty(0)] * n_layers
    for i, delta, a in _backward(net, x[None, :],
                                 lambda z, a: net._output_delta(z, a, y[None, :])):
        gw[i], gb[i] = np.outer(delta[0], a[0]), delta[0].copy()
    return gw, gb


# --------------------------------------------------------------------------- gradients
@result
class GradientMomentsResult(Result, Plottable):
    """Per-layer squared gradient norms at initialization, measured and predicted.

    ``sizes`` is the architecture (input first), ``activation`` the hidden layers'
    activation, ``output`` the output layer's, ``weights``/``bias`` the initializers'
    names, ``cost`` the backward signal (module docstring), ``n_inputs`` the inputs
    per network, ``shared_inputs`` whether every network saw the same ones (given
    ``X``) or fresh Gaussian ones, ``networks`` the independent networks."""

    _title = "Backward signal propagation: gradient moments vs mean field"

    sizes: tuple[int, ...]
    weights: str
    bias: str | None
    activation: str
    output: str
    cost: str
    n_inputs: int
    shared_inputs: bool
    networks: int
    confidence_level: float
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        r"""One row per layer: ``layer``, ``fan_in``, ``width``, ``activation`` (of the
        layer's z; φ' of it enters δ^l), ``weight_variance`` (σ_w²(l)),
        ``bias_variance``; ``delta_sq`` (mean over networks and inputs of
        :math:`\lVert\delta^l\rVert^2/N_l`) with ``delta_sq_ci_low``/``_high``
        (Student-t over the networks of the per-network means over their inputs:
        with fresh Gaussian inputs per network an interval for the expectation over
        networks and inputs; with a given ``X``, shared by all networks, for the
        expectation over networks given those inputs, which is what the per-input
        prediction is for) and ``delta_sq_predicted``;
        ``grad_w_sq`` (:math:`\lVert\partial C/\partial W^l\rVert^2` per example) with
        its interval and ``grad_w_sq_predicted``; ``ratio`` and ``ratio_predicted``
        (:math:`\tilde q^l/\tilde q^{l+1}`, NaN for the top layer),
        ``backward_factor`` (the mean over inputs of the recursion's factor
        :math:`\sigma_w^2(l+1)E\varphi_l'(z^l)^2`, χ1 at a fixed point; NaN for the top
        layer), then ``n_inputs`` and ``networks``."""
        return self.table.copy()

    def _summary_header(self) -> list[str]:
        return [f"sizes {'-'.join(map(str, self.sizes))}; {self.activation}, "
                f"{self.weights}; cost {self.cost}; {self.n_inputs} inputs × "
                f"{self.networks} networks"]


def gradient_moments(
    sizes: Sequence[int],
    weights: Any = "nielsen",
    activation: Any = "tanh",
    *,
    bias: Any = "standard_normal",
    X: Any = None,
    n_probe: int = 100,
    networks: int = 10,
    cost: str = "direction",
    confidence_level: float = 0.95,
    rng: Any = None,
) -> GradientMomentsResult:
    r"""Per-layer :math:`\lVert\partial C/\partial z^l\rVert^2` and
    :math:`\lVert\partial C/\partial W^l\rVert^2` of freshly initialized
    :class:`satsim.nn.Network` s, next to the mean-field backward recursion.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, as :class:`satsim.nn.Network` takes them.
    weights : Initializer or str, default "nielsen"
        Weight initializer for every layer (the network's ``init``).
    activation : Activation or str, default "tanh"
        Hidden-layer activation.
    bias : Initializer, str or None, default "standard_normal"
        Bias initializer (the network's ``bias_init``); None: zero biases.
    X : array_like (n, sizes[0]), optional
        Inputs (e.g. real data rows), the same for every network.  Default:
        ``n_probe`` fresh standard normal rows for each network.
    n_probe : int, default 100
        Number of Gaussian inputs when ``X`` is not given.
    networks : int, default 10
        Independent random networks (≥ 2 for an interval).
    cost : {"direction", "quadratic"}, default "direction"
        ``"direction"``: :math:`\partial C/\partial z^L = u \sim N(0, I)` with a linear
        output (the recursion's assumption); ``"quadratic"``: Nielsen's quadratic
        cost with a sigmoid output and random one-hot targets.
    confidence_level : float, default 0.95
    rng : None, int, SeedSequence, BitGenerator or Generator, optional
        Source of randomness (SPEC 7); the inputs and every network get their own
        spawned stream.

    Returns
    -------
    GradientMomentsResult

    Notes
    -----
    The norms are those of per-example gradients, not of a mini-batch mean: each
    network's inputs go through one batched backward pass whose rows are the
    examples (:math:`\lVert\partial C/\partial W^l\rVert^2 = \lVert\delta^l\rVert^2
    \lVert a^{l-1}\rVert^2` row by row), in chunks of rows that keep the stored
    forward pass near 64 MiB.  :func:`backprop_example` is the same computation for
    one input.  See the module docstring for the recursion.
    """
    from satsim.init import as_initializer
    from satsim.nn import Network

    sizes_ = _check_sizes(sizes)
    if len(sizes_) < 3:
        raise ValueError(f"`sizes` must have at least one hidden layer (3 entries); "
                         f"got sizes={list(sizes_)!r}")
    w_init = as_initializer(weights, param="weights")
    b_init = None if bias is None else as_initializer(bias, param="bias")
    act = as_activation(activation)
    cost = check_choice("cost", cost, COSTS)
    networks = check_int("networks", networks, minimum=1)
    level = check_real("confidence_level", confidence_level, low=0.0, high=1.0,
                       low_inclusive=False, high_inclusive=False)
    rng = check_rng(rng)
    input_rng, *net_rngs = rng.spawn(networks + 1)
    if X is None:
        # fresh Gaussian inputs for every network: the per-network means are then
        # i.i.d. over networks *and* inputs, and the interval is for that population
        n_probe = check_int("n_probe", n_probe, minimum=1)
        X_all = input_rng.standard_normal((networks, n_probe, sizes_[0]))
        shared = False
    else:
        X = check_array("X", X, ndim=2)
        if X.shape[1] != sizes_[0]:
            raise ValueError(f"`X` must have shape (n, {sizes_[0]}) (sizes[0] columns); "
                             f"got an array of shape {X.shape}")
        X_all = np.broadcast_to(X, (networks, *X.shape))
        shared = True
    n_in, n_layers = X_all.shape[1], len(sizes_) - 1
    out_name = "linear" if cost == "direction" else "sigmoid"
    out_act = as_activation(out_name)

    # ---- measured: per network, per input, per layer; all of a network's inputs
    # backpropagated at once, each row its own example
    d_sq = np.empty((networks, n_in, n_layers))
    w_sq = np.empty((networks, n_in, n_layers))
    for k, child in enumerate(net_rngs):
        net_rng, sig_rng = child.spawn(2)
        net = Network(sizes_, activation=act, output=out_name, cost="quadratic",
                      init=w_init, bias_init=b_init, rng=net_rng)
        top: Callable[..., np.ndarray]
        if cost == "direction":
            U = sig_rng.standard_normal((n_in, sizes_[-1]))

            def top(z: np.ndarray, a: np.ndarray, rows: slice, U: np.ndarray = U,
                    ) -> np.ndarray:
                return U[rows]  # δ^L = ∂(u·z^L)/∂z^L = u
        else:
            Y = np.eye(sizes_[-1])[sig_rng.integers(0, sizes_[-1], n_in)]

            def top(z: np.ndarray, a: np.ndarray, rows: slice, net: Any = net,
                    Y: np.ndarray = Y) -> np.ndarray:
                return net._output_delta(z, a, Y[rows])  # Nielsen's quadratic cost
        d_sq[k], w_sq[k] = _per_example_norms(net, X_all[k], top)

    # ---- mean field: the forward q^l(x) of every (network, input) row, then the
    # backward recursion per row, anchored on that row's measured ‖δ^L‖²
    rows_x = X_all.reshape(networks * n_in, sizes_[0])
    acts: list[Activation | None] = [*([act] * (n_layers - 1)), out_act]
    layers = _layers(sizes_, [w_init] * n_layers, b_init, acts,
                     [act.name] * (n_layers - 1) + [out_act.name])
    mf = _mean_field(layers, _input_q(layers[0], rows_x))
    kern = _gaussian.kernel(act)
    pred_d = np.empty((networks * n_in, n_layers))  # E‖δ^l(x)‖² (totals)
    pred_d[:, -1] = d_sq[:, :, -1].reshape(-1)
    back = np.full(n_layers, np.nan)  # the per-layer factor σ_w²(l+1) E φ'(z^l)²
    for li in range(n_layers - 2, -1, -1):
        factor = layers[li + 1].weight_variance * kern.grad_moment2(mf[li].q)
        pred_d[:, li] = pred_d[:, li + 1] * factor
        back[li] = float(np.mean(factor))
    a_sq = np.empty((networks * n_in, n_layers))  # E‖a^{l−1}(x)‖²
    a_sq[:, 0] = np.einsum("ij,ij->i", rows_x, rows_x)
    for li in range(1, n_layers):
        a_sq[:, li] = sizes_[li] * kern.moment2(mf[li - 1].q)
    pred_w = pred_d * a_sq

    widths = np.asarray(sizes_[1:], dtype=float)
    d_mean, d_lo, d_hi = _t_interval(d_sq.mean(axis=1) / widths, level)
    g_mean, g_lo, g_hi = _t_interval(w_sq.mean(axis=1), level)
    d_pred = pred_d.mean(axis=0) / widths
    rows = []
    for li, layer in enumerate(layers):
        last = li == n_layers - 1
        rows.append({
            "layer": li + 1, "fan_in": layer.fan_in, "width": layer.fan_out,
            "activation": layer.activation_name, "weight_variance": layer.weight_variance,
            "bias_variance": layer.bias_variance,
            "delta_sq": d_mean[li], "delta_sq_ci_low": d_lo[li], "delta_sq_ci_high": d_hi[li],
            "delta_sq_predicted": d_pred[li],
            "grad_w_sq": g_mean[li], "grad_w_sq_ci_low": g_lo[li],
            "grad_w_sq_ci_high": g_hi[li], "grad_w_sq_predicted": float(pred_w[:, li].mean()),
            "ratio": math.nan if last else d_mean[li] / d_mean[li + 1],
            "ratio_predicted": math.nan if last else d_pred[li] / d_pred[li + 1],
            "backward_factor": back[li],
            "n_inputs": n_in, "networks": networks,
        })
    return GradientMomentsResult(
        sizes=tuple(sizes_), weights=w_init.name, bias=None if b_init is None else b_init.name,
        activation=act.name, output=out_name, cost=cost, n_inputs=n_in,
        shared_inputs=shared, networks=networks, confidence_level=level,
        table=pd.DataFrame(rows))


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
