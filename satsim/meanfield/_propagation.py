r"""Signal propagation through a given architecture: Monte Carlo (:func:`propagate`) and
the deterministic mean-field moments per layer (:func:`layer_moments`).  Re-exported by
:mod:`satsim.meanfield`, whose docstring has the maps.

Architecture.  Layer l (l = 1 … L) maps :math:`n_{l-1}` inputs to :math:`n_l` units,
:math:`z^l = W^l \varphi_{l-1}(z^{l-1}) + b^l` (:math:`\varphi_0` = identity on the
input x), with centred weights of variance :math:`\mathrm{Var}\,w^l =
\sigma_w^2(l)/n_{l-1}` and biases of variance :math:`\sigma_b^2(l)`, both as the layer's
initializers give them for its own fans: :math:`\sigma_w^2(l) = n_{l-1}\,
\mathrm{Var}_w(n_{l-1}, n_l)`, :math:`\sigma_b^2(l) = \mathrm{Var}_b(n_{l-1}, n_l)`.
A scalar width, activation or initializer is the same for every layer; a sequence gives
one per layer.

Mean field per input.  Every input x is followed separately:

.. math::

    q^1(x) = \mathrm{Var}(w^1)\,\lVert x\rVert^2 + \sigma_b^2(1), \qquad
    q^l(x) = \sigma_w^2(l) \int\!Dz\, \varphi_{l-1}\big(\sqrt{q^{l-1}(x)}\, z\big)^2
    + \sigma_b^2(l),

the pair correlations by the correlation map of :math:`\varphi_{l-1}` with
:math:`\sigma_w^2(l), \sigma_b^2(l)`, and the Jacobian's growth at layer l ≥ 2 by
:math:`\chi_1^l(x) = \sigma_w^2(l) \int\!Dz\, \varphi_{l-1}'(\sqrt{q^{l-1}(x)} z)^2`,
averaged over the inputs with the expected squared tangent norms
:math:`\prod_{k<l}\chi_1^k(x)` as weights (what the ratio of mean squared tangents over
inputs measures).  Layer 1 has no χ1 (NaN: nothing acts on the input before it).  The
per-layer summaries average over the inputs: :math:`\bar q^l = \frac1n\sum_x q^l(x)`
(the second moment of the mixture of :math:`N(0, q^l(x))`), and the predicted saturated
fraction is the mixture :math:`\frac1n\sum_x` ``predicted_fraction``
:math:`(\sqrt{q^l(x)})` under :math:`\varphi_l`.  The Gaussian integrals are those of
:mod:`satsim.meanfield._gaussian` (closed forms where they exist).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from satsim._docstrings import fill
from satsim._results import Plottable, Result, result
from satsim._validation import check_array, check_choice, check_int, check_real, check_rng
from satsim.activations import CRITERIA, Activation, as_activation
from satsim.meanfield import _gaussian

if TYPE_CHECKING:
    from satsim.init import Initializer

__all__ = ["DeepPropagationResult", "LayerMomentsResult", "layer_moments", "propagate"]


# --------------------------------------------------------------------------- architecture
@dataclasses.dataclass(frozen=True, slots=True)
class _Layer:
    """One dense layer z = W φ_prev(z_prev) + b, resolved."""

    fan_in: int
    fan_out: int
    weights: Initializer
    #: applied to this layer's z; None for an output that is not elementwise (softmax)
    activation: Activation | None
    activation_name: str
    var_w: float  # Var w, the layer's initializer at its own fans
    weight_variance: float  # σ_w² = fan_in · Var w
    bias_variance: float


def _is_sequence(value: Any) -> bool:
    return isinstance(value, list | tuple) or (isinstance(value, np.ndarray) and value.ndim > 0)


def _layers(sizes: Sequence[int], weights: Sequence[Initializer], bias: Initializer | None,
            acts: Sequence[Activation | None], names: Sequence[str]) -> list[_Layer]:
    out = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        var_w = weights[i].variance(fan_in, fan_out)
        sb = 0.0 if bias is None else bias.variance(fan_in, fan_out)
        out.append(_Layer(fan_in=fan_in, fan_out=fan_out, weights=weights[i],
                          activation=acts[i], activation_name=names[i], var_w=var_w,
                          weight_variance=var_w * fan_in, bias_variance=sb))
    return out


def _per_layer_count(name: str, value: Any) -> int | None:
    """Number of entries of a per-layer sequence (None for a scalar)."""
    if not _is_sequence(value):
        return None
    if len(value) == 0:
        raise ValueError(f"`{name}` must have at least one entry (one per layer); "
                         f"got {name}={list(value)!r}")
    return len(value)


def _resolve_depth(depth: Any, per_layer: dict[str, Any]) -> int:
    """``depth`` given, or the common length of the per-layer sequences, or 20."""
    counts = {k: n for k, v in per_layer.items() if (n := _per_layer_count(k, v)) is not None}
    if depth is not None:
        depth = check_int("depth", depth, minimum=1)
        for key, n in counts.items():
            if n != depth:
                raise ValueError(f"`{key}` has {n} entries (one per layer) but depth={depth}; "
                                 f"give {depth} entries or leave `depth` out")
        return depth
    if not counts:
        return 20
    (first, n), *rest = counts.items()
    for key, m in rest:
        if m != n:
            raise ValueError(f"`{key}` has {m} entries but `{first}` has {n}; "
                             f"give one entry per layer in each")
    return n


def _initializers(weights: Any, n: int) -> list[Initializer]:
    from satsim.init import as_initializer

    if _is_sequence(weights):
        return [as_initializer(w, param=f"weights[{i}]") for i, w in enumerate(weights)]
    return [as_initializer(weights, param="weights")] * n


def _name(values: Sequence[str], scalar: bool) -> str | tuple[str, ...]:
    return values[0] if scalar else tuple(values)


# --------------------------------------------------------------------------- mean field
@dataclasses.dataclass(frozen=True, slots=True)
class _MeanFieldLayer:
    q: np.ndarray  # q^l(x), one per input
    chi1: float  # tangent-weighted mean of χ1^l(x) over the inputs (NaN for layer 1)
    corr: np.ndarray | None  # c^l of the input pairs (rows 2k, 2k + 1), if followed


def _input_q(layer: _Layer, X: np.ndarray) -> np.ndarray:
    """q¹(x) = Var(w) ‖x‖² + σ_b² for every row x, with the first layer's fans."""
    sq = np.einsum("ij,ij->i", X, X)
    return layer.var_w * sq + layer.bias_variance


def _input_corr(layer: _Layer, X: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """c¹ of the input pairs (rows 2k, 2k + 1)."""
    dots = np.einsum("ij,ij->i", X[0::2], X[1::2])
    with np.errstate(divide="ignore", invalid="ignore"):
        return (layer.var_w * dots + layer.bias_variance) / np.sqrt(q1[0::2] * q1[1::2])


def _mean_field(layers: Sequence[_Layer], q1: np.ndarray,
                c1: np.ndarray | None = None) -> list[_MeanFieldLayer]:
    """The per-input length map (and correlation map of the pairs, when ``c1`` is given)
    through every layer, with χ1 — the one mean-field recursion of :func:`propagate`
    and :func:`layer_moments` (module docstring)."""

    q_x, c_pair = q1, c1
    tangent_weight = np.ones(q_x.shape[0])  # E‖t^{l−1}(x)‖², up to a common factor
    out = [_MeanFieldLayer(q=q_x, chi1=math.nan, corr=c_pair)]
    for prev, layer in itertools.pairwise(layers):
        if prev.activation is None:  # not reached: only an output layer may have none
            raise ValueError(f"layer {prev.activation_name!r} has no elementwise activation")
        kern = _gaussian.kernel(prev.activation)
        sw, sb = layer.weight_variance, layer.bias_variance
        chi_x = kern.chi1(np.asarray(sw), q_x)
        total = tangent_weight.sum()
        chi_mf = float(np.sum(tangent_weight * chi_x) / total) if total > 0 else float(
            np.mean(chi_x))
        tangent_weight = tangent_weight * chi_x
        peak = tangent_weight.max()
        if np.isfinite(peak) and peak > 0:
            tangent_weight /= peak
        q_next = sw * kern.moment2(q_x) + sb
        if c_pair is not None:
            qa, qb = q_x[0::2], q_x[1::2]
            cross = kern.cross(qa, qb, np.nan_to_num(c_pair))[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                c_pair = (sw * cross + sb) / np.sqrt(q_next[0::2] * q_next[1::2])
        q_x = q_next
        out.append(_MeanFieldLayer(q=q_x, chi1=chi_mf, corr=c_pair))
    return out


def _predicted_saturation(q: np.ndarray, act: Activation | None, *, epsilon: float,
                          criterion: str | None = None, delta: float = 0.01) -> float:
    """The mixture over inputs of predicted_fraction(√q^l(x)) (NaN without an
    elementwise activation)."""
    from satsim.saturation import predicted_fraction

    if act is None:
        return math.nan
    pred = np.asarray(predicted_fraction(np.sqrt(q), activation=act, epsilon=epsilon,
                                         criterion=criterion, delta=delta))
    return float(np.mean(pred))


# --------------------------------------------------------------------------- Monte Carlo
@result
class DeepPropagationResult(Result, Plottable):
    """Per-layer Monte Carlo statistics next to their mean-field predictions.

    ``activation``, ``weights`` and ``width`` are as given: one name or int for every
    layer, or a tuple with one per layer.  ``weight_variance`` and ``bias_variance``
    are σ_w² and σ_b² of the hidden-to-hidden layers (fans ``(width, width)``) when
    ``width`` and ``weights`` are scalars, else tuples with each layer's (the table
    has them per layer either way)."""

    _title = "Deep signal propagation: Monte Carlo vs mean field"

    activation: str | tuple[str, ...]
    weights: str | tuple[str, ...]
    depth: int
    width: int | tuple[int, ...]
    n_probe: int
    weight_variance: float | tuple[float, ...]
    bias_variance: float | tuple[float, ...]
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """One row per layer: ``layer``, ``q`` and ``q_meanfield`` (mean z² over units
        and inputs; the prediction averages the per-input q^l(x)), ``act_mean``,
        ``act_std``, ``act_p98`` (Glorot & Bengio), ``saturated``,
        ``saturated_ci_low``/``_high`` (the population interval: two-way
        cluster-robust over probe inputs — pairs for the default probes — and units),
        ``saturated_predicted`` (the mixture over inputs of predicted_fraction at
        √q^l(x)), ``chi1`` and ``chi1_meanfield`` (χ1 at q^{l−1}(x), averaged with the
        inputs' expected tangent norms as weights), ``corr`` and ``corr_meanfield``
        (mean over the default probe pairs of their correlation), then the layer's
        ``fan_in``, ``width`` (its units), ``activation``, ``weight_variance`` (σ_w² =
        fan_in · Var w) and ``bias_variance``."""
        return self.table.copy()


@fill
def propagate(
    weights: Any = "nielsen",
    activation: Any = "tanh",
    *,
    depth: int | None = None,
    width: int | Sequence[int] = 500,
    X: Any = None,
    n_probe: int = 200,
    input_correlation: float = 0.5,
    bias: Any = "standard_normal",
    epsilon: float = 0.01,
    rng: Any = None,
) -> DeepPropagationResult:
    r"""Propagate probe inputs through ``depth`` random layers.

    The mean-field columns follow each probe input x separately — its own
    :math:`q^1(x) = \mathrm{Var}(w)\lVert x\rVert^2 + \sigma_b^2` through the length map of
    every layer, with each layer's own fans (module :mod:`satsim.meanfield._propagation`) — and
    average over the inputs, as the measured columns do; for real data, whose rows
    differ in norm, this mixture is what the Monte Carlo measures (for layer 1 it is
    :func:`satsim.saturation.predicted_fraction_mixture`).  The weights and biases are
    taken as centred.

    Parameters
    ----------
    weights : Initializer, str or sequence of them
        Weight initializer or registered name (see :func:`satsim.init.names`), or one
        per layer.
    activation : Activation, str or sequence of them, default "tanh"
        Applied to every layer's z, or one per layer (``activation[l-1]`` to layer l's).
    depth : int, optional
        Number of layers.  Default: the length of the per-layer sequences given
        (``width``, ``activation``, ``weights``), else 20; given together with them
        it must equal their length.
    width : int or sequence of int, default 500
        Units per layer (each ≥ 2): one for every layer, or one per layer, e.g.
        ``[300, 100, 10]`` for a 784-300-100-10 network fed 784-dimensional ``X``.
    X : array_like (n_probe, n_in), optional
        Probe inputs (e.g. real data rows).  Default: ``n_probe`` Gaussian inputs of
        dimension ``width`` (the first layer's width when per-layer), in pairs with
        correlation ``input_correlation`` (for the correlation map).
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

    Raises
    ------
    ValueError
        A per-layer sequence whose length differs from ``depth`` or from another
        per-layer sequence (the message names both), a width below 2 (``width[i]``
        for a sequence), or a bad ``X``.
    """
    from satsim.saturation import fraction

    depth = _resolve_depth(depth, {"width": width, "activation": activation,
                                   "weights": weights})
    w_inits = _initializers(weights, depth)
    if _is_sequence(activation):
        acts = [as_activation(a, param=f"activation[{i}]") for i, a in enumerate(activation)]
    else:
        acts = [as_activation(activation)] * depth
    if isinstance(width, list | tuple | np.ndarray):
        widths = [check_int(f"width[{i}]", w, minimum=2) for i, w in enumerate(width)]
    else:
        widths = [check_int("width", width, minimum=2)] * depth
    rho = check_real("input_correlation", input_correlation, low=-1.0, high=1.0)
    from satsim.init import as_initializer

    b_init = None if bias is None else as_initializer(bias, param="bias")
    rng = check_rng(rng)
    if X is None:
        n_probe = check_int("n_probe", n_probe, minimum=2)
        half = -(-n_probe // 2)
        a = rng.standard_normal((half, widths[0]))
        e = rng.standard_normal((half, widths[0]))
        b = rho * a + math.sqrt(1 - rho * rho) * e
        X = np.empty((2 * half, widths[0]))
        X[0::2], X[1::2] = a, b
        paired = True
    else:
        X = check_array("X", X, ndim=2)
        paired = False
    layers = _layers([X.shape[1], *widths], w_inits, b_init, acts, [a.name for a in acts])
    scalar = not (_is_sequence(width) or _is_sequence(weights))
    if scalar:  # the hidden-to-hidden layers' variances, as before per-layer widths
        sw: float | tuple[float, ...] = w_inits[0].variance(widths[0], widths[0]) * widths[0]
        sb: float | tuple[float, ...] = (0.0 if b_init is None
                                         else b_init.variance(widths[0], widths[0]))
    else:
        sw = tuple(layer.weight_variance for layer in layers)
        sb = tuple(layer.bias_variance for layer in layers)

    q1 = _input_q(layers[0], X)
    meanfield = _mean_field(layers, q1, _input_corr(layers[0], X, q1) if paired else None)

    h = X.T.copy()  # (units, probes): column = one probe input
    tangent = rng.standard_normal(h.shape)  # random direction for the Jacobian
    clusters = np.repeat(np.arange(X.shape[0] // 2), 2) if paired else None
    rows = []
    prev_phi_grad = None
    for number, (layer, mf) in enumerate(zip(layers, meanfield, strict=True), start=1):
        act = acts[number - 1]
        W = layer.weights.sample((layer.fan_out, layer.fan_in), rng=rng)
        z = W @ h
        if b_init is not None:
            z += b_init.sample((layer.fan_out,), rng=rng,
                               fans=(layer.fan_in, layer.fan_out))[:, None]
        t_in = tangent if prev_phi_grad is None else prev_phi_grad * tangent
        t_out = W @ t_in
        chi_emp = float(np.mean(t_out**2) / np.mean(tangent**2)) if number > 1 else math.nan
        tangent = t_out
        phi = act.fn(z)
        # population interval (two-way over probes and units); the paired probes of the
        # default input are correlated, so each pair is one probe cluster
        sat = fraction(z.T, activation=act, epsilon=epsilon, estimand="population",
                       probe_clusters=clusters)
        if paired:
            za, zb = z[:, 0::2], z[:, 1::2]
            corr = float(np.mean(np.sum(za * zb, 0) / np.sqrt(np.sum(za**2, 0) * np.sum(zb**2, 0))))
        else:
            corr = math.nan
        rows.append({
            "layer": number,
            "q": float(np.mean(z * z)),
            "q_meanfield": float(np.mean(mf.q)),
            "act_mean": float(phi.mean()),
            "act_std": float(phi.std()),
            "act_p98": float(np.percentile(phi, 98)),
            "saturated": sat.estimate,
            "saturated_ci_low": sat.ci_low,
            "saturated_ci_high": sat.ci_high,
            "saturated_predicted": _predicted_saturation(mf.q, act, epsilon=epsilon),
            "chi1": chi_emp,
            "chi1_meanfield": mf.chi1,
            "corr": corr,
            "corr_meanfield": float(np.mean(mf.corr)) if mf.corr is not None else math.nan,
            "fan_in": layer.fan_in,
            "width": layer.fan_out,
            "activation": act.name,
            "weight_variance": layer.weight_variance,
            "bias_variance": layer.bias_variance,
        })
        prev_phi_grad = act.grad(z)
        h = phi
    return DeepPropagationResult(
        activation=_name([a.name for a in acts], not _is_sequence(activation)),
        weights=_name([w.name for w in w_inits], not _is_sequence(weights)), depth=depth,
        width=widths[0] if not _is_sequence(width) else tuple(widths), n_probe=X.shape[0],
        weight_variance=sw, bias_variance=sb, table=pd.DataFrame(rows))


# --------------------------------------------------------------------------- deterministic
@result
class LayerMomentsResult(Result, Plottable):
    """Mean-field moments of every layer's pre-activations for an architecture.

    ``sizes`` is the architecture (input first), ``activation`` one name per layer
    (the output layer's included: ``"linear"`` when none was given), ``weights`` the
    initializer's name (or one per layer), ``bias`` the bias initializer's name (None:
    no bias).  ``n_inputs`` is the number of rows of ``X`` (None when ``input_q``
    gave q¹ directly)."""

    _title = "Mean-field moments per layer"

    sizes: tuple[int, ...]
    weights: str | tuple[str, ...]
    bias: str | None
    activation: tuple[str, ...]
    epsilon: float
    criterion: str | None
    n_inputs: int | None
    input_q: float | None
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """One row per layer: ``layer``, ``fan_in``, ``fan_out``, ``activation``,
        ``weight_variance`` (σ_w² = fan_in · Var w), ``bias_variance`` (σ_b²), ``q``
        (mean over the inputs of q^l(x)), ``z_std`` (√q: the standard deviation of the
        mixture of the N(0, q^l(x)), the distribution of a unit's z over inputs and
        initializations), ``saturated_predicted`` (the mixture over inputs of
        predicted_fraction(√q^l(x)) under the layer's activation and the criterion; NaN
        where the criterion does not apply to it, as in the training telemetry) and
        ``chi1`` (the mean-field χ1 of the layer, NaN for layer 1)."""
        return self.table.copy()

    def _summary_header(self) -> list[str]:
        arch = "-".join(map(str, self.sizes))
        inputs = (f"{self.n_inputs} input rows" if self.n_inputs is not None
                  else f"q¹ = {self.input_q:g}")
        return [f"sizes {arch}; {inputs}"]


def _architecture_activations(activation: Any, output: Any, n_layers: int
                              ) -> tuple[list[Activation | None], list[str]]:
    """Per-layer activations (hidden ones from ``activation``, the output's from
    ``output`` or the last entry of a full-length sequence) and their names."""

    def out_act(value: Any, param: str) -> tuple[Activation | None, str]:
        if value is None:
            return as_activation("linear"), "linear"
        if isinstance(value, str) and value == "softmax":
            return None, "softmax"
        act = as_activation(value, param=param)
        return act, act.name

    n_hidden = n_layers - 1
    if _is_sequence(activation):
        if len(activation) == n_layers:
            if output is not None:
                raise ValueError(
                    f"`activation` has {len(activation)} entries, one per layer, so the "
                    f"output layer's is its last; `output` must then be None; got "
                    f"output={output!r}")
            hidden = list(activation[:-1])
            last = out_act(activation[-1], f"activation[{n_hidden}]")
        elif len(activation) == n_hidden:
            hidden = list(activation)
            last = out_act(output, "output")
        else:
            raise ValueError(
                f"`activation` has {len(activation)} entries; give one per hidden layer "
                f"(len(sizes) - 2 = {n_hidden}), one per layer ({n_layers}) or a single one")
        acts: list[Activation | None] = [
            as_activation(a, param=f"activation[{i}]") for i, a in enumerate(hidden)]
    else:
        acts = [as_activation(activation)] * n_hidden
        last = out_act(output, "output")
    names = [a.name for a in acts if a is not None]
    acts.append(last[0])
    names.append(last[1])
    return acts, names


def _judged(act: Activation | None, criterion: str | None, *, epsilon: float,
            delta: float) -> bool:
    """Whether ``criterion`` applies to ``act`` (e.g. "output" needs a bounded one)."""
    if act is None:
        return False
    try:
        act.saturation_bounds(criterion, epsilon=epsilon, delta=delta)
    except ValueError:
        return False
    return True


def _check_sizes(sizes: Any) -> list[int]:
    """``sizes``: a sequence of at least 2 positive ints (input first)."""
    if isinstance(sizes, str) or not _is_sequence(sizes):
        raise TypeError(f"`sizes` must be a sequence of layer widths; got sizes={sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"`sizes` must have at least 2 layers (input and output); "
                         f"got sizes={list(sizes)!r}")
    return [check_int(f"sizes[{i}]", s, minimum=1) for i, s in enumerate(sizes)]


def layer_moments(
    sizes: Sequence[int],
    weights: Any = "nielsen",
    activation: Any = "tanh",
    *,
    output: Any = None,
    bias: Any = "standard_normal",
    X: Any = None,
    input_q: float | None = None,
    epsilon: float = 0.01,
    criterion: str | None = None,
    delta: float = 0.01,
) -> LayerMomentsResult:
    r"""Mean-field prediction of every layer's pre-activation moments and saturation for
    an architecture ``sizes`` (deterministic).

    For each layer l: σ_w²(l) and σ_b²(l) from the initializers at the layer's own fans,
    :math:`q^l(x)` by the length map of the previous layer's activation from
    :math:`q^1(x) = \mathrm{Var}(w^1)\lVert x\rVert^2 + \sigma_b^2(1)` (the rows of
    ``X``) or from ``q¹ = input_q``, and the summaries over inputs described in
    :meth:`LayerMomentsResult.to_frame` — what a freshly initialized network's measured
    per-layer z (e.g. :class:`satsim.nn.Network`'s telemetry at epoch 0) is predicted
    to show.  The same recursion as :func:`propagate`'s mean-field columns.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, as :class:`satsim.nn.Network` takes them:
        ``[784, 300, 100, 10]``.
    weights : Initializer, str or sequence of them, default "nielsen"
        One initializer for every layer, or one per layer (``len(sizes) - 1``).
    activation : Activation, str or sequence, default "tanh"
        The hidden layers' activation, or one per hidden layer (``len(sizes) - 2``),
        or one per layer (``len(sizes) - 1``, the last the output layer's).
    output : Activation, str or None, default None
        The output layer's activation (None: linear; ``"softmax"``, which is not
        elementwise, has no saturation: NaN).
    bias : Initializer, str or None, default "standard_normal"
        Bias initializer (sampled with each layer's fans); None: no bias.
    X : array_like (n, sizes[0]), optional
        Input rows (e.g. real data).  Exactly one of ``X`` and ``input_q`` is needed.
    input_q : float >= 0, optional
        q¹, the variance of every first-layer pre-activation, directly.
    epsilon, criterion, delta
        The saturation criterion, as in :func:`satsim.saturation.predicted_fraction`
        (``criterion=None``: each activation's default).

    Returns
    -------
    LayerMomentsResult

    Examples
    --------
    >>> res = layer_moments([784, 300, 100, 10], "nielsen", "tanh", input_q=1.5)
    >>> [round(v, 4) for v in res.to_frame().q]
    [1.5, 1.4683, 1.4644]
    """
    from satsim.init import as_initializer

    sizes = _check_sizes(sizes)
    n_layers = len(sizes) - 1
    if _is_sequence(weights) and len(weights) != n_layers:
        raise ValueError(f"`weights` has {len(weights)} entries; give one per layer "
                         f"(len(sizes) - 1 = {n_layers}) or a single initializer")
    w_inits = _initializers(weights, n_layers)
    acts, names = _architecture_activations(activation, output, n_layers)
    b_init = None if bias is None else as_initializer(bias, param="bias")
    if (X is None) == (input_q is None):
        raise ValueError("layer_moments needs the inputs: pass exactly one of `X` (rows, "
                         f"shape (n, {sizes[0]})) and `input_q` (q¹); got "
                         + ("neither" if X is None else "both"))
    if criterion is not None:
        check_choice("criterion", criterion, CRITERIA)
    epsilon = check_real("epsilon", epsilon, low=0.0, high=0.5, low_inclusive=False,
                         high_inclusive=False)
    delta = check_real("delta", delta, low=0.0, high=1.0, low_inclusive=False,
                       high_inclusive=False)
    layers = _layers(sizes, w_inits, b_init, acts, names)
    if X is not None:
        X = check_array("X", X, ndim=2)
        if X.shape[1] != sizes[0]:
            raise ValueError(f"`X` must have shape (n, {sizes[0]}) (sizes[0] columns); "
                             f"got an array of shape {X.shape}")
        q1 = _input_q(layers[0], X)
        n_inputs, q_in = X.shape[0], None
    else:
        q_in = check_real("input_q", input_q, low=0.0)
        q1, n_inputs = np.array([q_in]), None
    rows = []
    for number, (layer, mf) in enumerate(zip(layers, _mean_field(layers, q1), strict=True),
                                         start=1):
        q = float(np.mean(mf.q))
        sat = math.nan
        if _judged(layer.activation, criterion, epsilon=epsilon, delta=delta):
            sat = _predicted_saturation(mf.q, layer.activation, epsilon=epsilon,
                                        criterion=criterion, delta=delta)
        rows.append({
            "layer": number, "fan_in": layer.fan_in, "fan_out": layer.fan_out,
            "activation": layer.activation_name, "weight_variance": layer.weight_variance,
            "bias_variance": layer.bias_variance, "q": q, "z_std": math.sqrt(q),
            "saturated_predicted": sat, "chi1": mf.chi1,
        })
    return LayerMomentsResult(
        sizes=tuple(sizes), weights=_name([w.name for w in w_inits], not _is_sequence(weights)),
        bias=None if b_init is None else b_init.name, activation=tuple(names),
        epsilon=epsilon, criterion=criterion, n_inputs=n_inputs, input_q=q_in,
        table=pd.DataFrame(rows))
