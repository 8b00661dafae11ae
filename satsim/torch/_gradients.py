r"""Per-layer gradients of a PyTorch model on one probe batch
(:func:`satsim.torch.layer_gradients`).

What is computed.  One forward and one backward pass of the summed loss
:math:`L = \sum_i L_i` over the batch (per-example losses :math:`L_i`).  For every
``Linear``/``Conv*``/``ConvTranspose*`` layer that runs, a forward hook keeps the
layer's input :math:`a_i` and a tensor hook on its output z keeps

.. math::

    \delta_i = \frac{\partial L}{\partial z_i}
    \quad (\text{all units and positions of example } i),

and the per-example weight gradient is the layer's vector–Jacobian product at that
example's input,

.. math::

    g_i = \Big(\frac{\partial z_i}{\partial W}\Big)^{\!\top}\delta_i ,\qquad
    \sum_i g_i = \frac{\partial L}{\partial W},

(``torch.func.vjp`` of the layer's own functional form, vectorised over examples
with ``torch.func.vmap``; a layer called several times adds its calls; a weight
tied between two modules gets one row per module, each that module's share of the
tensor's gradient).  A ``MultiheadAttention``'s projections are not modules that
run (PyTorch applies their weights inside the attention function), so they have no
row here.  For a
``Linear`` applied once per example this is :math:`g_i = \delta_i a_i^\top`, so
:math:`\lVert g_i\rVert^2 = \lVert\delta_i\rVert^2\lVert a_i\rVert^2` exactly.
When the examples do not interact — no batch normalization in train mode — z_i
depends on example i alone, so :math:`\delta_i = \partial L_i/\partial z_i` and
:math:`g_i = \partial L_i/\partial W`: the per-example gradients.  With batch
normalization in train mode (the default at initialization, as in
:func:`satsim.torch.layer_statistics`) δ_i also carries the other examples' losses
through the batch statistics, and g_i is example i's share of the batch gradient.

Reported per layer (estimand: the mean over the input distribution the batch was
drawn from, the weights fixed): ``delta_sq`` = mean of :math:`\lVert\delta_i\rVert^2`
and ``grad_w_sq`` = mean of :math:`\lVert g_i\rVert_F^2`, each with a t interval over
inputs (:math:`\bar v \pm t_{n-1}\, s_v/\sqrt n`; a large-sample interval — squared
norms are skewed), and ``grad_w_sq_batch`` = :math:`\lVert\partial\bar L/\partial W\rVert_F^2`
for the batch-mean loss :math:`\bar L = L/n` (the gradient an SGD step on this batch
takes; no interval: one number per batch).

Mean-field backward prediction (``delta_sq_meanfield``, ``grad_w_sq_meanfield``,
label ``backward_prediction``).  From the forward mean-field view
(:mod:`satsim.torch._meanfield`, detected activations) each layer has per input a
carried :math:`q^l(i)`.  Under the gradient-independence assumption (Schoenholz et
al. 2017, §3; :mod:`satsim.gradients`)

.. math::

    E\lVert\delta^l(i)\rVert^2 = \sigma_w^2(l+1)\,
    \int\!Dz\,\varphi_l'\big(\sqrt{q^l(i)}\,z\big)^2\;
    \lVert\delta^{l+1}(i)\rVert^2 ,

anchored on the measured :math:`\lVert\delta(i)\rVert^2` of the last layer and
carried down (predicted, not re-measured, so it can disagree), then
:math:`\lVert g_i\rVert^2 \approx \lVert\delta^l(i)\rVert^2\lVert a_i\rVert^2`
with the measured input norm.  It is claimed ("carried") only where the layer above
is a dense layer whose input is this layer's activation (the forward label
"carried"), both applied once per example; elsewhere the row says "not predicted"
with the reason, and the recursion restarts from the measured δ ("anchor").  Across
a train-mode BatchNorm the reason is its own: the batch statistics couple the
examples' gradients, and Yang et al. (2019, "A mean field theory of batch
normalization") show the gradients then explode with depth at initialization — a
growth this recursion does not model, so the layer below a BatchNorm is not predicted
even where the forward view predicts q after it.  Residual sums and LayerNorm
(forward: :mod:`satsim.torch._blocks`) are not followed backward either.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from satsim import init as _init
from satsim._docstrings import fill
from satsim._moments import t_quantile
from satsim._results import Result, result
from satsim._validation import check_choice, check_real, check_rng
from satsim.torch._capture import (
    _LAYERS,
    _activation_of,
    _as_batch,
    _check_module,
    _named_layers,
    _run,
    forward_modes,
)
from satsim.torch._meanfield import view

#: examples per vectorised vjp (memory: this many copies of a layer's weight)
_CHUNK = 64


def default_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy of ``out`` as logits (n, classes) against labels y."""
    return F.cross_entropy(out, y, reduction="none")


class _Capture:
    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.calls: dict[str, list[dict[str, Any]]] = {}
        self.layers: dict[str, Any] = {}

    def hook(self, name: str) -> Callable[..., Any]:
        def fn(mod: nn.Module, args: tuple, out: Any) -> Any:
            if not (args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor)):
                raise TypeError(f"layer {name!r} was called with a non-tensor input or output")
            if out.shape[0] != self.batch or args[0].shape[0] != self.batch:
                raise ValueError(
                    f"layer {name!r} saw input shape {tuple(args[0].shape)} and output shape "
                    f"{tuple(out.shape)}; layer_gradients needs every layer's first dimension "
                    f"to be the batch of x ({self.batch} inputs)")
            rec: dict[str, Any] = {"a": args[0].detach(), "delta": None}
            self.calls.setdefault(name, []).append(rec)
            self.layers[name] = mod

            def keep(g: torch.Tensor) -> None:
                rec["delta"] = g.detach()

            out.register_hook(keep)
            # hand on a copy: an in-place activation then modifies the copy, and the
            # hook above sees the gradient at z itself
            return out.clone()

        return fn


def _per_example_weight_grad_sq(layer: Any, calls: list[dict[str, Any]]) -> np.ndarray:
    """‖g_i‖_F² per example, g_i summed over the layer's calls."""
    weight = layer.weight
    bias = getattr(layer, "bias", None)

    def z_of(w: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(layer, {"weight": w, **(
            {"bias": bias.detach()} if bias is not None else {})}, (a[None],))[0]

    def g_of(a: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        vjp = torch.func.vjp(lambda w: z_of(w, a), weight.detach())[1]
        return vjp(d)[0]

    per_call = torch.func.vmap(g_of, chunk_size=_CHUNK)
    n = calls[0]["a"].shape[0]
    out = np.empty(n)
    for lo in range(0, n, _CHUNK):
        g = torch.stack([per_call(c["a"][lo:lo + _CHUNK], c["delta"][lo:lo + _CHUNK])
                         for c in calls]).sum(0)
        out[lo:lo + _CHUNK] = g.to(torch.float64).pow(2).flatten(1).sum(1).cpu().numpy()
    return out


def _t_interval(v: np.ndarray, level: float) -> tuple[float, float, float]:
    est = float(v.mean())
    half = t_quantile(level, len(v) - 1) * float(v.std(ddof=1)) / math.sqrt(
        len(v))
    return est, est - half, est + half


def compute(module: nn.Module, x: torch.Tensor, y: torch.Tensor,
            loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], batchnorm: str,
            level: float) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """(table, per_input, mean loss) for :func:`satsim.torch.layer_gradients`."""
    n = int(x.shape[0])
    cap = _Capture(n)
    handles: list[Any] = []
    with forward_modes(module, batchnorm, handles):
        for name, m in module.named_modules():
            if isinstance(m, _LAYERS):
                handles.append(m.register_forward_hook(cap.hook(name or type(m).__name__)))
        with torch.enable_grad():
            out = module(x)
            if not isinstance(out, torch.Tensor):
                raise TypeError("layer_gradients needs module(x) to return a tensor; got "
                                f"a {type(out).__name__}")
            losses = loss(out, y)
            if not (isinstance(losses, torch.Tensor) and losses.shape == (n,)):
                raise ValueError("`loss` must return one loss per example, shape "
                                 f"({n},); got {getattr(losses, 'shape', type(losses))}")
            weights = [cap.layers[k].weight for k in cap.calls]
            grads = torch.autograd.grad(losses.sum(), weights, allow_unused=True)
    rows, frames = [], []
    for (name, calls), gw in zip(cap.calls.items(), grads, strict=True):
        layer = cap.layers[name]
        for c in calls:  # a z that does not reach the loss has gradient 0
            if c["delta"] is None:
                c["delta"] = torch.zeros_like(layer(c["a"]))
        d_sq_np = torch.stack([c["delta"].to(torch.float64).pow(2).flatten(1).sum(1)
                               for c in calls]).sum(0).cpu().numpy()
        g_sq = _per_example_weight_grad_sq(layer, calls)
        d_est, d_lo, d_hi = _t_interval(d_sq_np, level)
        g_est, g_lo, g_hi = _t_interval(g_sq, level)
        batch = math.nan if gw is None else float((gw.to(torch.float64) / n).pow(2).sum())
        rows.append({"layer": name, "kind": type(layer).__name__, "n_inputs": n,
                     "delta_sq": d_est, "delta_sq_ci_low": d_lo, "delta_sq_ci_high": d_hi,
                     "grad_w_sq": g_est, "grad_w_sq_ci_low": g_lo, "grad_w_sq_ci_high": g_hi,
                     "grad_w_sq_batch": batch})
        a_sq = torch.stack([c["a"].to(torch.float64).pow(2).flatten(1).sum(1)
                            for c in calls]).sum(0).cpu().numpy()
        frames.append(pd.DataFrame({"layer": name, "input": np.arange(n),
                                    "delta_sq": d_sq_np, "grad_w_sq": g_sq, "a_sq": a_sq}))
    return (pd.DataFrame(rows), pd.concat(frames, ignore_index=True) if frames
            else pd.DataFrame(), float(losses.detach().to(torch.float64).mean()))


# --------------------------------------------------------------------------- backward view
def _forward_view(module: nn.Module, x: torch.Tensor, batchnorm: str
                  ) -> tuple[list[dict[str, Any]], list[dict[str, np.ndarray]]]:
    """The forward mean-field view (:mod:`satsim.torch._meanfield`) with the detected
    activations: its rows (forward order) and per-input q and E φ'²."""
    by_layer: dict[str, list[Any]] = {}
    norms: list[Any] = []
    for name, call in _run(module, x, batchnorm, norms):
        by_layer.setdefault(name, []).append(call)
    rows, acts = [], []
    for name, calls in by_layer.items():
        layer = calls[0].layer
        w = layer.weight.detach().to(torch.float64)
        b = layer.bias
        act = None if calls[0].act_module is None else _activation_of(calls[0].act_module)
        rows.append({"layer": name, "fan_in": _init.fans(tuple(w.shape))[0],
                     "weight_var": float(w.var(unbiased=False)),
                     "bias_var": (math.nan if b is None
                                  else float(b.detach().to(torch.float64).var(unbiased=False))),
                     "criterion": None if act is None else act.default_criterion,
                     "dense": isinstance(layer, nn.Linear) and calls[0].z.ndim == 2
                     and len(calls) == 1})
        acts.append(act)
    per_input = view(rows, list(by_layer.values()), acts, x, epsilon=0.01, delta=0.01,
                     norms=norms)
    return rows, per_input


def backward_view(table: pd.DataFrame, per: pd.DataFrame, module: nn.Module, x: torch.Tensor,
                  batchnorm: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""Add the mean-field backward prediction (see the module docstring) to the
    gradient table, walking down from the last layer."""
    rows, fwd = _forward_view(module, x, batchnorm)
    order = [r["layer"] for r in rows]
    table = table.copy()
    per = per.copy()
    labels = dict.fromkeys(table.layer, "not predicted: not in the forward view")
    d_pred: dict[str, float] = {}
    g_pred: dict[str, float] = {}
    per["delta_sq_meanfield"] = math.nan
    running: np.ndarray | None = None  # predicted ‖δ^{l+1}(i)‖² of the layer above
    for k in range(len(order) - 1, -1, -1):
        name = order[k]
        if name not in labels:  # an attention projection: no gradient row
            running = None
            continue
        mine = (per.layer == name).to_numpy()
        measured = per.loc[mine, "delta_sq"].to_numpy()
        above = rows[k + 1] if k + 1 < len(rows) else None
        reason = None
        if running is None or above is None:
            reason = "anchor: the measured δ (the recursion starts here)"
        elif "BatchNorm" in above["prediction"]:
            reason = ("not predicted: BatchNorm's gradient explosion at init (Yang et al. "
                      "2019) grows with depth; not modelled")
        elif above["prediction"] != "carried":
            reason = ("not predicted: the layer above does not take this layer's activation "
                      f"as its input ({above['prediction']})")
        elif not (rows[k]["dense"] and above["dense"]):
            reason = ("not predicted: the recursion is for dense layers applied once per "
                      "example")
        elif not np.all(np.isfinite(fwd[k]["dphi2_meanfield"])):
            reason = "not predicted: no activation satsim models on this layer's z"
        if reason is None and running is not None and above is not None:
            sw_above = above["fan_in"] * above["weight_var"]
            pred = sw_above * fwd[k]["dphi2_meanfield"] * running
            labels[name] = "carried"
            d_pred[name] = float(pred.mean())
            g_pred[name] = float(np.mean(pred * per.loc[mine, "a_sq"].to_numpy()))
            per.loc[mine, "delta_sq_meanfield"] = pred
            running = pred
        else:
            labels[name] = str(reason)
            running = measured  # anchor the layers below on the measurement
    table["backward_prediction"] = [labels[n] for n in table.layer]
    table["delta_sq_meanfield"] = [d_pred.get(n, math.nan) for n in table.layer]
    table["grad_w_sq_meanfield"] = [g_pred.get(n, math.nan) for n in table.layer]
    return table, per


@result
class LayerGradientsResult(Result):
    """Per-layer gradient norms of one probe batch (:func:`satsim.torch.layer_gradients`).

    ``table`` (also :meth:`to_frame`): ``layer``, ``kind``, ``n_inputs``,
    ``delta_sq`` (mean ‖δ_i‖²), ``grad_w_sq`` (mean ‖g_i‖_F²), each with
    ``*_ci_low``/``*_ci_high``, and ``grad_w_sq_batch`` (‖∂L̄/∂W‖_F² of the batch-mean
    loss), and the mean-field backward view: ``backward_prediction``,
    ``delta_sq_meanfield``, ``grad_w_sq_meanfield``; ``per_input`` the per-example
    values behind the intervals (and ``a_sq``, ``delta_sq_meanfield``).  ``loss`` is the
    batch's mean loss; ``labels`` says where the targets came from.
    """

    _title = "Layer gradients (satsim.torch)"

    table: pd.DataFrame
    per_input: pd.DataFrame
    loss: float
    labels: str
    batchnorm: str
    confidence_level: float
    n_inputs: int

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _summary_header(self) -> list[str]:
        return [f"{self.n_inputs} inputs, mean loss {self.loss:.4g} ({self.labels}); "
                f"{100 * self.confidence_level:g}% t intervals over inputs; batch "
                f"normalization in {self.batchnorm} mode"]


@fill
def layer_gradients(
    module: Any,
    x: Any,
    y: Any = None,
    *,
    loss: Any = None,
    batchnorm: str = "train",
    confidence_level: float = 0.95,
    rng: Any = None,
) -> LayerGradientsResult:
    r"""Per-layer backward statistics of ``module`` on one probe batch: the squared
    norms of :math:`\delta = \partial L/\partial z` and of the weight gradient.

    One forward and one backward pass of the summed loss, in eval mode except batch
    normalization (train mode by default, buffers written back; see
    :func:`layer_statistics`); hooks removed, flags restored, ``.grad`` of the
    parameters untouched (``torch.autograd.grad``).  What is computed, the
    per-example estimand and the intervals are in :mod:`satsim.torch._gradients`:
    for examples that do not interact, ``delta_sq`` is the mean of
    :math:`\lVert\partial L_i/\partial z_i\rVert^2` and ``grad_w_sq`` the mean of
    :math:`\lVert\partial L_i/\partial W\rVert_F^2` (for a ``Linear``:
    :math:`\lVert\delta_i\rVert^2\lVert a_i\rVert^2`), with t intervals over inputs.

    Parameters
    ----------
    module : torch.nn.Module
    x : torch.Tensor or array_like
        The probe batch (at least 2 inputs along the first dimension).
    y : torch.Tensor or array_like, optional
        Targets for the loss.  With the default loss and ``y=None``, labels are drawn
        uniformly from the output's classes with ``rng`` (the loss at initialization
        is then about :math:`\ln C` whatever the data).
    loss : callable, optional
        ``loss(output, y) -> Tensor`` of shape (n,): one loss per example (as
        ``reduction="none"``).  Default: cross-entropy of ``module(x)`` as logits
        (shape (n, C)) against ``y``.
    batchnorm : {"train", "eval"}, default "train"
    %(confidence_level)s
    %(rng)s

    Returns
    -------
    LayerGradientsResult

    Raises
    ------
    TypeError
        ``module``, ``x`` or ``loss`` of the wrong type.
    ValueError
        No layer; fewer than 2 inputs; the default loss on an output that is not
        (n, C) logits; a loss that does not return one value per example.

    Examples
    --------
    >>> import numpy as np, torch, satsim.torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(20, 50), torch.nn.Tanh(),
    ...                           torch.nn.Linear(50, 10))
    >>> _ = satsim.torch.init_(net, "glorot_normal", rng=0)
    >>> res = satsim.torch.layer_gradients(net, np.random.default_rng(1).random((64, 20)), rng=2)
    >>> list(res.table.layer)
    ['0', '2']
    """
    _check_module(module)
    _named_layers(module)
    xt = _as_batch(x, module)
    n = int(xt.shape[0])
    if loss is not None and not callable(loss):
        raise TypeError(f"`loss` must be a callable loss(output, y) or None; got loss={loss!r:.80}")
    batchnorm = check_choice("batchnorm", batchnorm, ("train", "eval"))
    level = check_real("confidence_level", confidence_level, low=0.0, high=1.0,
                       low_inclusive=False, high_inclusive=False)
    gen = check_rng(rng)
    labels = "y given"
    if loss is None:
        loss = default_loss
        with torch.no_grad(), forward_modes(module, batchnorm):  # the number of classes
            out = module(xt)
        if not (isinstance(out, torch.Tensor) and out.ndim == 2 and out.shape[0] == n):
            raise ValueError("the default loss (cross-entropy of the output as logits) needs "
                             f"module(x) to return (n, classes) = ({n}, C); got "
                             f"{getattr(out, 'shape', type(out).__name__)}; pass `loss=`")
        if y is None:
            y = gen.integers(0, out.shape[1], size=n)
            labels = f"labels drawn uniformly from {out.shape[1]} classes"
        y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y,
                            dtype=torch.long, device=out.device)
    elif y is not None and not isinstance(y, torch.Tensor):
        y = torch.as_tensor(np.asarray(y))
    table, per_input, mean_loss = compute(module, xt, y, loss, batchnorm, level)
    if len(table):
        table, per_input = backward_view(table, per_input, module, xt, batchnorm)
    return LayerGradientsResult(table=table, per_input=per_input, loss=mean_loss,
                                labels=labels, batchnorm=batchnorm, confidence_level=level,
                                n_inputs=n)
