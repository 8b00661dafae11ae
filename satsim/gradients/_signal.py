"""The backward signal: per-layer ‖δ‖² and ‖∂C/∂W‖² measured through
:mod:`satsim.nn`'s backprop against the mean-field backward recursion (see
:mod:`satsim.gradients`)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from satsim._moments import t_quantile
from satsim._results import Plottable, Result, result
from satsim._validation import check_array, check_choice, check_int, check_real, check_rng
from satsim.activations import Activation, as_activation
from satsim.meanfield import _gaussian
from satsim.meanfield._propagation import _check_sizes, _input_q, _layers, _mean_field

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
    half = (t_quantile(level, n - 1) * per_network.std(axis=0, ddof=1)
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
