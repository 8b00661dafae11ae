r"""PyTorch bridge: satsim's statistics for a user's own ``nn.Module``.

Imported only on request (``import satsim.torch``); ``import satsim`` never imports
PyTorch.  Three functions:

* :func:`init_` — initialize every ``Linear``/``Conv*`` layer of a module with any
  satsim initializer (``satsim.torch.init_(model, "he_normal", rng=0)``), so a user
  can compare schemes on their own architecture;
* :func:`layer_statistics` — run one input batch through the module with forward
  hooks and report per layer the realised weight variance against the variance its
  init convention predicts, the pre-activation z's mean, std and saturated fraction
  with confidence intervals, and satsim's prediction of each from that layer's
  weights and inputs (:class:`LayerStatisticsResult`);
* :func:`load_weights` — load a state dict from ``.safetensors`` or a
  ``torch.save`` file *without* unpickling arbitrary objects
  (``torch.load(..., weights_only=True)``).  The module itself is always the
  user's: satsim never loads a pickled model.

Layout and fans are PyTorch's (DESIGN §3.8): a ``Linear`` weight is
``(fan_out, fan_in)``, a convolution's ``(out, in/groups, *kernel)`` with
:math:`\text{fan\_in} = \text{in/groups}\cdot\prod\text{kernel}`; a transposed
convolution's weight is ``(in, out/groups, *kernel)`` and, as in
``torch.nn.init._calculate_fan_in_and_fan_out`` (which PyTorch's own default init
uses), its dimension 1 is read as fan_in all the same.

What is measured.  For each layer the batch's pre-activations
:math:`z_{icp}` (input i, unit — output feature or channel — c, position p: the
spatial positions of a convolution, the extra leading dimensions of a ``Linear``)
are collected by a forward hook.  The activation "that follows" a layer is the
activation module whose input *is* that z (a ``Flatten`` or eval-mode ``Dropout``
in between changes nothing; a ``BatchNorm``, a residual sum or a functional
``torch.tanh`` does — then no activation is seen, and ``activation=`` says which one
to assume; it never replaces a detected one: only ``activation_override=`` does, per
layer by name).  Mapped modules: ``Tanh``, ``Sigmoid``, ``ReLU``, ``LeakyReLU``
(slope in [0, 1)), ``ELU``, ``Softplus`` (β = 1), ``GELU`` (exact form),
``Hardtanh`` (±1), ``Softsign`` and ``Identity`` (linear); any other activation
module (``SiLU``, ``Softmax`` …) is named in ``activation_module`` with no
saturation columns.

Attention.  A ``MultiheadAttention`` is measured as four dense layers: its query,
key and value projections (rows ``name.q``, ``name.k``, ``name.v``; z computed by a
forward hook from the module's inputs and its ``in_proj_weight`` thirds, or
``q/k/v_proj_weight``) and ``name.out_proj``, whose z is the module's output and whose
input — the heads' concatenated outputs — comes from running the module's own forward
once more with ``out_proj`` set to the identity (restored afterwards).  PyTorch's fused
"fast path" for attention and Transformer layers, which skips submodule hooks, is
switched off for the forward pass.  No activation is assumed for these rows; a
``TransformerEncoderLayer``'s ``linear1`` takes the layer's ``activation`` function
(``F.relu`` → relu, ``F.gelu`` → gelu).

Predictions.  Treat the layer's weights as i.i.d. with their realised mean
:math:`m_w` and variance :math:`v_w` (ddof 0 over the tensor), and the bias likewise
(:math:`m_b`, :math:`v_b`; 0 without a bias).  Then for an input patch
:math:`x_{ip}` (the receptive field of position p, with the layer's padding)

.. math::

    z \mid x_{ip} \;\sim\; \Big(m_w \textstyle\sum_j x_{ipj} + m_b,\;
    v_w \lVert x_{ip}\rVert^2 + v_b\Big),

with the patch sums computed by the layer's own convolution of x and x² with a
ones kernel (stride, padding mode, dilation and groups respected).  The predicted
z is the equal-weight mixture over inputs and positions: ``z_mean_predicted`` its
mean, ``z_std_predicted`` the square root of its second central moment
:math:`\overline{\sigma^2_{ip}} + \overline{(\mu_{ip} - \bar\mu)^2}`, and
``saturated_predicted`` the mixture of normal tail probabilities
(:func:`satsim.saturation.predicted_fraction`, as
:func:`~satsim.saturation.predicted_fraction_mixture` does for a dense layer).

These one-layer-back predictions cannot disagree much with the measurement: they
condition on the layer's actual input.  The mean-field columns
(:mod:`satsim.torch._meanfield`) carry q through depth from the module's input
instead, label each layer "from the input", "carried", "predicted: <how>" (after a
LayerNorm or train-mode BatchNorm, which reset q; a residual sum, whose second
moments add — :mod:`satsim.torch._blocks`) or "not predicted: <reason>" (another
normalization, attention output, an unrecognised sum, shared layer, unmodelled
activation), and give the realised σ_w², σ_b², χ1, phase and the σ_w² on the
critical line.

Intervals (``estimand=``).  The weights of a given model are fixed; what varies is
the input, and the units and positions of one input share it, so the inputs — not
the values — are the independent draws.

* ``"model"`` (default): this network's units on the distribution the batch was
  drawn from; the interval is one-way cluster-robust over inputs — the per-input
  means :math:`\bar v_i` give :math:`\hat\theta \pm t_{n-1}\, s_{\bar v}/\sqrt n`.
  For a dense layer's saturated fraction this is
  ``satsim.saturation.fraction(z.T, estimand="probe_set")``: transposed, the inputs
  are the clusters.  (``fraction(z, estimand="probe_set")`` is the other conditional
  — on the probes, with units random — the wrong one for fixed weights.)
* ``"population"``: a *new* network drawn from the same weight law fed a new
  input: two-way cluster-robust over inputs and units (channels; Cameron, Gelbach &
  Miller 2011), as :func:`satsim.saturation.fraction`'s ``"population"`` estimand,
  with :math:`t_{\min(n, m) - 1}`.  This is what the predictions above estimate for
  a freshly initialized layer (conditional on the layers before it).

The mean uses :math:`v = z`; the std an interval for the variance with
:math:`v = (z - \bar z)^2` (estimating :math:`\bar z` has no first-order effect),
whose ends are square-rooted; the saturated fraction :math:`v = 1\{z \text{
saturated}\}`, clipped to [0, 1], with a Wilson interval over the clusters when
every cluster agrees (variance 0).  All are large-sample intervals.

References
----------
Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2011). Robust inference with
multiway clustering. *J. Bus. Econ. Stat.* 29(2), 238–249.
"""

from __future__ import annotations

import importlib
import math
import os
import pickle
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from satsim import init as _init
from satsim._docstrings import fill
from satsim._moments import t_quantile
from satsim._namespace import public_dir
from satsim._results import Plottable, Result, result
from satsim._validation import check_choice, check_real
from satsim.activations import CRITERIA, Activation, as_activation
from satsim.saturation import predicted_fraction

try:  # the bridge's one third-party requirement beyond satsim's own
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("satsim.torch needs PyTorch: pip install 'satsim[torch]'") from exc

__all__ = ["InitResult", "LayerGradientsResult", "LayerStatisticsResult", "init_",
           "init_report", "layer_gradients", "layer_statistics", "load_weights"]

__dir__ = public_dir(globals())

from satsim.torch import _meanfield as _torch_meanfield
from satsim.torch._capture import _as_batch, _check_module, _named_layers
from satsim.torch._gradients import LayerGradientsResult, layer_gradients
from satsim.torch._initialize import (
    _BIAS_TAG,
    _REPORT_TAG,
    _WEIGHT_TAG,
    InitResult,
    init_,
    init_report,
    scheme_variance,
)

_ESTIMANDS = ("model", "population")


# --------------------------------------------------------------------------- validation
_Spec = tuple[str, Any]  # ("none" | "all" | "map" | "list", value)


def _per_layer(param: str, value: Any, names: list[str],
               resolve: Callable[[str, Any], Any]) -> _Spec:
    """Normalise a per-layer option: one value, a dict by layer name, or a list."""
    if value is None:
        return "none", None
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"`{param}` names layers the module does not have: "
                             f"{', '.join(map(repr, unknown))}; its Linear/Conv layers are "
                             f"{', '.join(map(repr, names))}")
        return "map", {k: resolve(f"{param}[{k!r}]", v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return "list", [resolve(f"{param}[{i}]", v) for i, v in enumerate(value)]
    return "all", resolve(param, value)


def _resolve_activation(param: str, value: Any) -> Activation | None:
    return None if value is None else as_activation(value, param=param)


def _resolve_criterion(param: str, value: Any) -> str | None:
    return None if value is None else check_choice(param, value, CRITERIA)


def _pick(spec: _Spec, index: int, name: str, default: Any) -> Any:
    kind, value = spec
    if kind == "all":
        return value
    if kind == "map":
        return value.get(name, default)
    if kind == "list":
        return value[index]
    return default


_UNSET: Any = object()


def _overrides(value: Any, names: list[str], act_spec: _Spec) -> dict[str, Activation | None]:
    """``activation_override`` as {layer: activation}; a layer that ``activation`` (a
    dict) also names with a different activation is an error naming both."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError("`activation_override` must be a dict mapping layer names to "
                        f"activations (or None); got activation_override={value!r:.80}")
    out = _per_layer("activation_override", value, names, _resolve_activation)[1]
    kind, given = act_spec
    for name, act in out.items():
        if kind == "map" and name in given and given[name] != act:
            raise ValueError(
                f"layer {name!r} is given two activations: activation[{name!r}]="
                f"{_act_name(given[name])} and activation_override[{name!r}]="
                f"{_act_name(act)}; name it in one of the two")
    return out


def _act_name(act: Activation | None) -> str:
    return "None" if act is None else repr(act.name)


def _choose_activation(name: str, index: int, act_spec: _Spec,
                       override: dict[str, Activation | None], seen: nn.Module | None,
                       no_scalar: bool) -> tuple[Activation | None, str | None]:
    """The activation assumed for layer ``name`` and where it came from.

    An override wins; otherwise a detected activation module is kept — a per-layer
    ``activation`` entry that disagrees with it is an error, and one value for every
    layer applies only where no activation module was seen and the layer is neither
    the module's output (the logits, whose activation is the loss's business) nor an
    attention projection (``no_scalar``)."""
    if name in override:
        return override[name], "override"
    kind, _ = act_spec
    given = _pick(act_spec, index, name, _UNSET) if kind in ("map", "list") else _UNSET
    if seen is not None:
        detected = _activation_of(seen)
        if given is not _UNSET and given != detected:
            what = (f"{type(seen).__name__} ({_act_name(detected)})" if detected is not None
                    else f"{type(seen).__name__} (which satsim does not model)")
            entry = (f"activation[{name!r}]" if kind == "map" else f"activation[{index}]")
            raise ValueError(
                f"layer {name!r}: {entry}={_act_name(given)} conflicts with the activation "
                f"module the forward pass applies to its z, {what}; to replace the detected "
                f"activation pass activation_override={{{name!r}: {_act_name(given)}}}")
        return detected, "detected"
    if given is not _UNSET:
        return given, (None if given is None else "given")
    if kind == "all" and not no_scalar:
        return act_spec[1], "given"
    return None, None


from satsim.torch._capture import (  # noqa: E402  (after the torch import check)
    _activation_of,
    _Call,
    _Projection,
    _run,
)


# --------------------------------------------------------------------------- statistics
def _clustered_mean(v: np.ndarray, estimand: str) -> tuple[float, float, int]:
    """Mean of v (inputs, units, positions), its standard error and t degrees of
    freedom: one-way over inputs (``"model"``) or two-way over inputs and units."""
    est = float(v.mean())
    n, m, _ = v.shape
    if estimand == "model":
        return est, float(v.mean(axis=(1, 2)).std(ddof=1)) / math.sqrt(n), n - 1
    if m < 2:
        return est, math.nan, 0
    e = v - est
    total = float(v.size) ** 2
    e_in, e_unit, e_cell = e.sum(axis=(1, 2)), e.sum(axis=(0, 2)), e.sum(axis=2)
    v_in = n / (n - 1) * float(e_in @ e_in) / total
    v_unit = m / (m - 1) * float(e_unit @ e_unit) / total
    v_cell = n * m / (n * m - 1) * float(np.sum(e_cell * e_cell)) / total
    # the variance of the mean is at least each one-way term (CGM's sum can fall below)
    var = max(v_in + v_unit - v_cell, v_in, v_unit)
    return est, math.sqrt(var), min(n, m) - 1


def _half_width(se: float, df: int, level: float) -> float:
    if df < 1 or not math.isfinite(se):
        return math.nan
    return t_quantile(level, df) * se


def _proportion_interval(sat: np.ndarray, estimand: str, level: float
                         ) -> tuple[float, float, float, str]:
    from statsmodels.stats.proportion import proportion_confint

    p, se, df = _clustered_mean(sat.astype(np.float64), estimand)
    if df < 1:
        return p, math.nan, math.nan, "none"
    if se > 0:
        half = _half_width(se, df, level)
        name = "input_cluster_t" if estimand == "model" else "two_way_cluster_t"
        return p, max(0.0, p - half), min(1.0, p + half), name
    # every cluster alike (typically none or all saturated): Wilson with the clusters as
    # the Bernoulli draws (conservative), as satsim.saturation.fraction does
    draws = df + 1
    k = round(p * draws)
    lo, hi = proportion_confint(k, draws, alpha=1 - level, method="wilson")
    return p, (0.0 if k == 0 else float(lo)), (1.0 if k == draws else float(hi)), \
        "wilson_inputs" if estimand == "model" else "wilson_clusters"


def _units_layout(layer: Any, z: torch.Tensor) -> np.ndarray:
    """z as float64 (inputs, units, positions)."""
    if isinstance(layer, nn.Linear | _Projection):
        z = z.movedim(-1, 1)
    return z.to(torch.float64).reshape(z.shape[0], z.shape[1], -1).cpu().numpy()


def _moments(t: torch.Tensor | None) -> tuple[float, float]:
    if t is None:
        return math.nan, math.nan
    a = t.detach().to(torch.float64).cpu().numpy()
    return float(a.mean()), float(a.var())


def _layer_rows(name: str, calls: list[_Call], act: Activation | None, act_module: str | None,
                crit: str | None, convention: Any, estimand: str, level: float,
                epsilon: float, delta: float) -> tuple[dict[str, Any], pd.DataFrame]:
    layer = calls[0].layer
    z = np.concatenate([_units_layout(layer, c.z) for c in calls], axis=2)
    s1 = np.concatenate([c.s1 for c in calls], axis=2)
    s2 = np.concatenate([c.s2 for c in calls], axis=2)
    if not np.all(np.isfinite(z)):
        raise ValueError(f"layer {name!r} produced non-finite pre-activations (inf or NaN)")
    n, units, positions = z.shape
    shape = tuple(layer.weight.shape)
    fan_in, fan_out = _init.fans(shape)
    m_w, v_w = _moments(layer.weight)
    m_b, v_b = _moments(layer.bias)
    w_conv = getattr(layer, _WEIGHT_TAG, None) or convention
    b_conv = getattr(layer, _BIAS_TAG, None) or convention

    # measured
    z_mean, se, df = _clustered_mean(z, estimand)
    h = _half_width(se, df, level)
    dev2 = (z - z_mean) ** 2
    var, se_var, _ = _clustered_mean(dev2, estimand)
    h_var = _half_width(se_var, df, level)
    # prediction: each (input, group, position) patch gives z's conditional law
    mb, vb = (0.0, 0.0) if layer.bias is None else (m_b, v_b)
    mu = m_w * s1 + mb
    sd = np.sqrt(v_w * s2 + vb)
    mu_bar = float(mu.mean())
    row: dict[str, Any] = {
        "layer": name, "kind": getattr(layer, "_satsim_kind", type(layer).__name__),
        "fan_in": fan_in, "fan_out": fan_out,
        "weight_shape": shape, "convention": w_conv.name,
        "weight_mean": m_w, "weight_var": v_w,
        "weight_var_convention": scheme_variance(w_conv, (fan_in, fan_out), shape),
        "bias_mean": m_b, "bias_var": v_b,
        "bias_var_convention": (math.nan if layer.bias is None
                                else scheme_variance(b_conv, (fan_in, fan_out))),
        "activation": None if act is None else act.name, "activation_module": act_module,
        "criterion": crit, "n_inputs": n, "n_units": units, "n_positions": positions,
        "z_mean": z_mean, "z_mean_ci_low": z_mean - h, "z_mean_ci_high": z_mean + h,
        "z_mean_predicted": mu_bar,
        "z_std": math.sqrt(var), "z_std_ci_low": math.sqrt(max(var - h_var, 0.0)),
        "z_std_ci_high": math.sqrt(var + h_var),
        "z_std_predicted": math.sqrt(float(np.mean(sd * sd)) + float(np.mean((mu - mu_bar) ** 2))),
        "saturated": math.nan, "saturated_ci_low": math.nan, "saturated_ci_high": math.nan,
        "saturated_predicted": math.nan, "saturated_method": None,
    }
    per_input = {
        "layer": name, "input": np.arange(n), "z_mean": z.mean(axis=(1, 2)),
        "z_std": z.std(axis=(1, 2)), "saturated": np.full(n, math.nan),
        "z_mean_predicted": mu.mean(axis=(1, 2)),
        "z_std_predicted": np.sqrt(np.mean(sd * sd, axis=(1, 2))
                                   + np.var(mu.reshape(n, -1), axis=1)),
        "saturated_predicted": np.full(n, math.nan),
    }
    if act is not None:
        try:
            sat = act.is_saturated(z, crit, epsilon=epsilon, delta=delta)
        except ValueError as exc:
            raise ValueError(f"layer {name!r} ({act.name}): {exc}") from None
        p, lo, hi, method = _proportion_interval(sat, estimand, level)
        pred = np.asarray(predicted_fraction(sd, mean=mu, activation=act, criterion=crit,
                                             epsilon=epsilon, delta=delta))
        row.update(saturated=p, saturated_ci_low=lo, saturated_ci_high=hi,
                   saturated_predicted=float(pred.mean()), saturated_method=method)
        per_input.update(saturated=sat.mean(axis=(1, 2)),
                         saturated_predicted=pred.mean(axis=(1, 2)))
    return row, pd.DataFrame(per_input)


# --------------------------------------------------------------------------- result
@result
class LayerStatisticsResult(Result, Plottable):
    """Per-layer statistics of one forward pass of a PyTorch module.

    ``table`` (also :meth:`to_frame`) has one row per ``Linear``/``Conv*`` layer that
    ran, in forward order, with the columns described in :func:`layer_statistics`;
    ``per_input`` the per-input summaries behind the intervals (``layer``, ``input``,
    ``z_mean``, ``z_std``, ``saturated`` and their ``*_predicted``).  ``not_run``
    names the layers of the module that the forward pass never called.
    """

    _title = "Layer statistics (satsim.torch)"

    table: pd.DataFrame
    per_input: pd.DataFrame
    estimand: str
    confidence_level: float
    epsilon: float
    delta: float
    n_inputs: int
    not_run: tuple[str, ...] = ()
    #: "train": batch normalization by the batch's statistics; "eval": running ones
    batchnorm: str = "train"

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _summary_header(self) -> list[str]:
        lines = [f"{self.n_inputs} inputs; {100 * self.confidence_level:g}% intervals for "
                 f"estimand={self.estimand!r}; epsilon={self.epsilon:g}, delta={self.delta:g}; "
                 f"batch normalization in {self.batchnorm} mode"]
        if self.not_run:
            lines.append(f"not run by forward: {', '.join(self.not_run)}")
        return lines

    #: the columns :meth:`summary` and ``repr`` show (every column is in :meth:`to_frame`)
    _MAIN = ("layer", "kind", "fan_in", "weight_var", "weight_var_convention", "activation",
             "z_std", "z_std_predicted", "z_std_meanfield", "saturated", "saturated_ci_low",
             "saturated_ci_high", "saturated_predicted", "saturated_meanfield", "prediction")

    def _main_table(self, digits: int, rows: int | None = None) -> str:
        frame = self.table[list(self._MAIN)]
        if rows is not None:
            frame = frame.head(rows)
        with pd.option_context("display.width", 160, "display.max_columns", 30):
            return frame.to_string(index=False, float_format=lambda v: f"{v:.{digits}g}")

    def summary(self, digits: int = 4) -> str:
        """The main columns, rounded to ``digits`` significant digits (every column is
        in :meth:`to_frame`)."""
        return "\n".join([self._title, "=" * len(self._title), *self._summary_header(),
                          self._main_table(digits)])

    def __repr__(self) -> str:
        more = len(self.table) - self._REPR_ROWS
        tail = [f"… {more} more layers (.to_frame())"] if more > 0 else []
        return "\n".join([f"<{type(self).__name__}: {self.n_inputs} inputs, "
                          f"estimand={self.estimand!r}>",
                          self._main_table(4, self._REPR_ROWS), *tail])

    def plot(self, ax: Any = None, *, value: str = "saturated") -> Any:  # type: ignore[override]
        """Measured ``value`` per layer with its interval (dots and whiskers) and the
        prediction (diamonds); ``value`` is "saturated", "z_std" or "z_mean".  Returns
        the Axes (drawn by the plotting backend; matplotlib is imported there, never by
        computing the result)."""
        check_choice("value", value, ("saturated", "z_std", "z_mean"))
        if value == "saturated" and self.table["activation"].isna().all():
            raise ValueError("no layer has an activation to saturate; pass "
                             "value='z_std' or name activations in layer_statistics")
        return Plottable.plot(self, ax, value=value)


# --------------------------------------------------------------------------- public API
@fill
def layer_statistics(
    module: Any,
    x: Any,
    *,
    activation: Any = None,
    activation_override: Any = None,
    criterion: Any = None,
    epsilon: float = 0.01,
    delta: float = 0.01,
    convention: Any = "torch_linear",
    estimand: str = "model",
    batchnorm: str = "train",
    confidence_level: float = 0.95,
) -> LayerStatisticsResult:
    r"""Per-layer weight, pre-activation and saturation statistics of ``module`` on ``x``.

    Runs ``module(x)`` once under ``torch.no_grad()`` with forward hooks on every
    ``Linear``/``Conv*``/``ConvTranspose*`` layer and activation module, in eval mode
    (no dropout) except for batch normalization layers (``BatchNorm*``,
    ``InstanceNorm*`` with running statistics): those run in train mode by default,
    normalizing by the batch's own mean and variance as the first training step
    does — at initialization their running statistics are 0 and 1, so an eval-mode
    forward makes them near identities and misreports every layer after them.  Their
    running statistics and ``num_batches_tracked`` are written back afterwards
    (``state_dict`` is unchanged to the bit); the hooks are removed and every
    submodule's training flag restored, even if the forward pass raises.  See the
    module docstring for how the following activation is found, the predictions and
    the intervals.

    Parameters
    ----------
    module : torch.nn.Module
    x : torch.Tensor or array_like
        One batch of inputs, the batch along the first dimension (at least 2).  An
        array is converted with the module's floating dtype and device.  Every
        layer's input and output must keep the batch as their first dimension.
    activation : str, Activation, dict or list, optional
        The activation applied to each layer's z when the module does not show it
        (a functional ``torch.tanh`` in ``forward``).  It never replaces an activation
        the forward pass applies (a detected module):

        * one value applies to every layer where no activation module was seen,
          except the module's output layer (its z is what ``module(x)`` returns: the
          logits, whose "activation" belongs to the loss);
        * a dict maps layer names (as in ``named_modules``) to an activation or None;
          a list gives one per layer that runs, in forward order.  An entry for a layer
          whose detected activation differs (None included) raises ``ValueError``;
          an entry equal to it is accepted.

        The ``activation_source`` column says which rule set each layer's activation.
    activation_override : dict, optional
        Layer name → activation (or None) that *replaces* whatever the layer's z is
        seen to go through — the one way to model, say, a ``SiLU`` with a registered
        activation, or to measure the logits as tanh.  A layer named here and, with a
        different activation, in a dict ``activation`` is an error naming both.
    criterion : str, dict or list, optional
        Saturation criterion (see :mod:`satsim.activations`), given like
        ``activation``; default each activation's own.
    epsilon, delta : float, default 0.01
        Parameters of the ``"output"`` and ``"derivative"`` criteria.
    convention : Initializer or str, default "torch_linear"
        The initializer whose variance ``weight_var_convention`` (and
        ``bias_var_convention``) report for layers :func:`init_` did not initialize.
        PyTorch's default ``reset_parameters`` is ``kaiming_uniform_(a=√5)`` for
        weights and U(±1/√fan_in) for biases: both ``"torch_linear"``,
        Var = 1/(3 fan_in).  Layers initialized by :func:`init_` report the
        initializer recorded there.
    estimand : {"model", "population"}, default "model"
        What the intervals are for: this model's units (inputs are the independent
        draws) or a new network from the same weight law (two-way clusters).
    batchnorm : {"train", "eval"}, default "train"
        How batch normalization layers normalize: by the batch's statistics
        (``"train"``; a layer's z then depends on the whole batch, which the
        intervals — treating inputs as independent — ignore, an O(1/n) coupling) or
        by their running statistics (``"eval"``: a trained model at inference).
    %(confidence_level)s

    Returns
    -------
    LayerStatisticsResult
        ``table`` columns: ``layer``, ``kind``, ``fan_in``, ``fan_out``,
        ``weight_shape``, ``convention``, ``weight_mean``, ``weight_var`` (realised,
        ddof 0), ``weight_var_convention``, ``bias_mean``, ``bias_var``,
        ``bias_var_convention``, ``activation`` (satsim name or None),
        ``activation_module`` (the PyTorch module applied to z, if any),
        ``activation_source`` ("detected", "given", "override" or None),
        ``is_output`` (the layer's z is the module's output),
        ``criterion``, ``n_inputs``, ``n_units`` (features or channels),
        ``n_positions``, ``z_mean``, ``z_std`` (ddof 0, pooled over inputs, units and
        positions) and ``saturated``, each with ``*_ci_low``, ``*_ci_high`` and
        ``*_predicted``, and ``saturated_method``.  Saturation columns are NaN for a
        layer without an activation.  The mean-field view
        (:mod:`satsim.torch._meanfield`): ``prediction`` ("from the input",
        "carried", "predicted: <how>" after a LayerNorm, a train-mode BatchNorm or a
        residual sum, or "not predicted: <reason>" after another normalization
        layer, an attention output, an unrecognised sum …), ``sigma_w2``, ``sigma_b2``,
        ``q_meanfield``, ``z_std_meanfield`` and ``saturated_meanfield`` (carried
        through depth by the length map, not from the layer's measured input),
        ``chi1_at_q``, ``chi1``, ``phase``, ``critical_sigma_w2`` and
        ``distance_to_critical``.

    Raises
    ------
    TypeError
        ``module`` is not an ``nn.Module``; ``x`` is not a tensor or numeric array.
    ValueError
        No Linear/Conv layer (in the module, or run by forward); a batch of fewer than
        2 inputs; unknown activation or criterion names (the message lists the
        valid ones) or layer names; a criterion that does not apply to a layer's
        activation.

    Examples
    --------
    >>> import numpy as np, torch, satsim.torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.Tanh(),
    ...                           torch.nn.Linear(100, 10))
    >>> x = np.random.default_rng(0).random((256, 784))   # pixel-like inputs in [0, 1)
    >>> _ = satsim.torch.init_(net, "standard_normal", rng=0)  # Nielsen's large weights
    >>> res = satsim.torch.layer_statistics(net, x)
    >>> res.table.loc[0, ["saturated", "saturated_predicted"]].astype(float).round(2).tolist()
    [0.9, 0.89]
    >>> _ = satsim.torch.init_(net, "nielsen", rng=0)   # N(0, 1/fan_in)
    >>> float(satsim.torch.layer_statistics(net, x).table.saturated[0]) < 1e-3
    True
    """
    _check_module(module)
    names = [n for n, _ in _named_layers(module)]
    xt = _as_batch(x, module)
    act_spec = _per_layer("activation", activation, names, _resolve_activation)
    crit_spec = _per_layer("criterion", criterion, names, _resolve_criterion)
    override = _overrides(activation_override, names, act_spec)
    epsilon = check_real("epsilon", epsilon, low=0.0, high=0.5, low_inclusive=False,
                         high_inclusive=False)
    delta = check_real("delta", delta, low=0.0, high=1.0, low_inclusive=False,
                       high_inclusive=False)
    level = check_real("confidence_level", confidence_level, low=0.0, high=1.0,
                       low_inclusive=False, high_inclusive=False)
    estimand = check_choice("estimand", estimand, _ESTIMANDS)
    batchnorm = check_choice("batchnorm", batchnorm, ("train", "eval"))
    conv_init = _init.as_initializer(convention, param="convention")

    by_layer: dict[str, list[_Call]] = {}
    norms: list[Any] = []
    for name, call in _run(module, xt, batchnorm, norms):
        by_layer.setdefault(name, []).append(call)  # a layer called twice: more positions
    if not by_layer:
        raise ValueError("no Linear or Conv layer of `module` ran in module(x); got layers "
                         f"{', '.join(map(repr, names))}")
    for param, spec in (("activation", act_spec), ("criterion", crit_spec)):
        if spec[0] == "list" and len(spec[1]) != len(by_layer):
            raise ValueError(f"`{param}` as a list needs one entry per layer that runs "
                             f"({len(by_layer)}: {', '.join(map(repr, by_layer))}); got "
                             f"{len(spec[1])} entries")
    rows, per_input, acts = [], [], []
    for i, (name, calls) in enumerate(by_layer.items()):
        module_seen = calls[0].act_module
        is_output = any(c.is_output for c in calls)
        act, source = _choose_activation(name, i, act_spec, override, module_seen,
                                         is_output or calls[0].attention)
        crit = None if act is None else (_pick(crit_spec, i, name, None)
                                         or act.default_criterion)
        row, frame = _layer_rows(name, calls, act,
                                 None if module_seen is None else type(module_seen).__name__,
                                 crit, conv_init, estimand, level, epsilon, delta)
        row.update(activation_source=source, is_output=is_output)
        acts.append(act)
        rows.append(row)
        per_input.append(frame)
    extra = _torch_meanfield.view(rows, list(by_layer.values()), acts, xt, epsilon=epsilon,
                                  delta=delta, norms=norms)
    for frame, more in zip(per_input, extra, strict=True):
        for col, values in more.items():
            frame[col] = values
    return LayerStatisticsResult(
        table=pd.DataFrame(rows), per_input=pd.concat(per_input, ignore_index=True),
        estimand=estimand, confidence_level=level, epsilon=epsilon, delta=delta,
        n_inputs=int(xt.shape[0]), not_run=tuple(n for n in names if n not in by_layer),
        batchnorm=batchnorm)


#: the most a weights file may expand to in memory, unless the module itself is larger
#: (then twice its own parameters and buffers): the same 256 MiB as the dataset readers
_MAX_WEIGHT_BYTES = 256 * 2**20


def _check_weights_size(module: Any, path: str) -> None:
    """Refuse, before reading, a weights file that would expand beyond the limit: a
    PyTorch file is a zip archive whose entries may be compressed (a 2.9 MB file held
    3.25 GB of zeros), so the sum of its entries' declared sizes counts; any other file
    counts its size on disk."""
    import zipfile

    own = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    limit = max(_MAX_WEIGHT_BYTES, 2 * own)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                size = sum(info.file_size for info in archive.infolist())
        else:
            size = os.path.getsize(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"`path` {path!r} cannot be read: {exc}") from None
    if size > limit:
        raise ValueError(f"`path` {path!r} would expand to {size / 2**20:.0f} MiB in memory, "
                         f"above the limit of {limit / 2**20:.0f} MiB (256 MiB, or twice "
                         "the module's own parameters); it is not this module's weights")


def load_weights(module: Any, path: Any, *, strict: bool = True) -> Any:
    """Load a state dict into ``module`` without unpickling arbitrary objects.

    ``.safetensors`` files are read with the ``safetensors`` package (an
    ``ImportError`` says how to install it when it is missing); anything else with
    ``torch.load(path, weights_only=True, map_location="cpu")``, which rebuilds
    tensors and plain containers only and refuses every other object.  The tensors
    are copied into the module's own parameters (dtype and device kept) by
    ``module.load_state_dict(state, strict=strict)``.  Layers whose weights are
    loaded lose the initializer :func:`init_` recorded on them.

    Parameters
    ----------
    module : torch.nn.Module
        The user's module (satsim never loads a pickled model).
    path : str or os.PathLike
    strict : bool, default True
        Passed to ``load_state_dict``: every key must match.

    Returns
    -------
    torch.nn.Module
        ``module``, with the weights loaded.

    Raises
    ------
    ValueError
        The file holds anything other than tensors and plain containers (a pickled
        object), or not a mapping of names to tensors; it would expand beyond 256 MiB
        (or twice the module's own size) in memory; it is not a readable safetensors
        file.
    """
    _check_module(module)
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"`path` must be a str or os.PathLike; got path={path!r:.80}")
    path = os.fspath(path)
    if not isinstance(strict, bool):
        raise TypeError(f"`strict` must be True or False; got strict={strict!r}")
    if str(path).endswith(".safetensors"):
        try:  # optional, imported by name (no static dependency)
            reader = importlib.import_module("safetensors.torch")
        except ImportError:
            raise ImportError("reading .safetensors files needs the safetensors package: "
                              "pip install safetensors") from None
        _check_weights_size(module, path)
        try:
            state: Any = reader.load_file(path, device="cpu")
        except Exception as exc:  # SafetensorError is no ValueError; a header may lie
            raise ValueError(f"`path` {path!r} is not a readable safetensors file "
                             f"({type(exc).__name__}: {str(exc)[:200]})") from None
    else:
        _check_weights_size(module, path)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            detail = next((ln.strip() for ln in str(exc).splitlines()
                           if "Unsupported" in ln), "")
            raise ValueError(
                f"`path` {path!r} holds objects other than tensors and plain containers, "
                "so it was refused: satsim loads weights with torch.load(weights_only=True) "
                "and never unpickles arbitrary objects; save a state dict "
                "(torch.save(model.state_dict(), path)) or use safetensors"
                + (f" ({detail})" if detail else "")) from None
    if not (isinstance(state, Mapping) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                               for k, v in state.items())):
        raise ValueError(f"`path` {path!r} must hold a state dict (a mapping of names to "
                         f"tensors); got a {type(state).__name__}")
    module.load_state_dict(state, strict=strict)
    vars(module).pop(_REPORT_TAG, None)
    for name, m in module.named_modules():
        for pname, tag in (("weight", _WEIGHT_TAG), ("bias", _BIAS_TAG)):
            key = f"{name}.{pname}" if name else pname
            if key in state and tag in vars(m):
                delattr(m, tag)
    return module
