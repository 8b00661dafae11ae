r"""The mean-field view of a PyTorch model in :func:`satsim.torch.layer_statistics`.

Per layer, the realised mean-field parameters — :math:`\sigma_w^2 = \text{fan\_in}\cdot
\mathrm{Var}\,W` and :math:`\sigma_b^2 = \mathrm{Var}\,b` (ddof 0 over the tensor; 0
without a bias) — and, for the activation applied to the layer's z, the quantities of
:mod:`satsim.meanfield` for a deep stack of such layers: ``chi1`` (χ1 at the fixed
point q*), ``phase`` ("ordered" for χ1 < 1, "chaotic" for χ1 > 1),
``critical_sigma_w2`` (the σ_w² with χ1 = 1 at this σ_b²,
:func:`satsim.meanfield.critical_weight_variance`) and ``distance_to_critical``
(σ_w² minus it).

Carried through depth.  A *chain* starts at a layer whose input is measured — the
module's input x, or the input of a layer where the chain breaks — with, per input
i and receptive-field position p, :math:`q(i, p) = \sigma_w^2\lVert a_{ip}\rVert^2/
\text{fan\_in} + \sigma_b^2` (centred weights: the mean-field law).  It continues
to the next layer in forward order when that layer's input *is* the previous
layer's activation of its z (checked on the values; a ``Flatten`` or eval-mode
``Dropout`` between changes nothing), by the length map
(:func:`satsim.meanfield.length_map`)

.. math::

    q^{l}(i) = \sigma_w^2(l)\;\overline{\textstyle\int\!Dz\,
    \varphi_{l-1}\big(\sqrt{q^{l-1}(i, p)}\,z\big)^2}^{\,p} + \sigma_b^2(l),

averaged over the previous layer's positions (a convolution's patch is read as
fan_in draws of the same law; zero padding at the borders is ignored).  The layer's
own measured input is *not* used, so the carried prediction can disagree with the
measurement.  ``q_meanfield`` is the mixture mean :math:`\frac1n\sum_i q^l(i)`,
``z_std_meanfield`` its square root and ``saturated_meanfield`` the mixture
:math:`\frac1n\sum_i` ``predicted_fraction``:math:`(\sqrt{q^l(i)})`;
``chi1_at_q`` is :math:`\sigma_w^2\,\frac1n\sum_i\int\!Dz\,\varphi'(\sqrt{q^l(i)}z)^2`,
the local slope at the carried q rather than at q*.

``prediction`` says per layer which of these holds: "from the input" (the layer's
input is x), "carried" (the length map from the layer before), "predicted: <how>"
(the input is another tensor whose per-example moments the view knows —
:mod:`satsim.torch._blocks`: after a LayerNorm or a train-mode BatchNorm, which reset
q, and the activation module after one; a residual sum A + B, whose second moments
add (Yang & Schoenholz 2017); an earlier layer's output), or "not predicted:
<reason>" — after another normalization layer (GroupNorm, RMSNorm, an eval-mode
BatchNorm …; named), an attention output (softmax-weighted mixture of value
vectors), an input that is none of these (a scaled residual sum, an activation
applied to a sum, another functional operation in ``forward``), an activation
satsim does not model, or a layer called more than once.  There the chain restarts
from the layer's measured input, as at the first layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from satsim import meanfield
from satsim.activations import Activation
from satsim.meanfield._gaussian import kernel
from satsim.saturation import predicted_fraction
from satsim.torch import _blocks
from satsim.torch._capture import _activation_of

_NORM_NAMES = ("Norm",)  # LayerNorm, BatchNorm1d/2d/3d, GroupNorm, RMSNorm, InstanceNorm*


def _same(a: torch.Tensor, b: np.ndarray) -> bool:
    """a equals b up to a reshape and the rounding of a's dtype."""
    av = a.detach().to(torch.float64).reshape(-1).cpu().numpy()
    bv = b.reshape(-1)
    if av.size != bv.size:
        return False
    scale = float(np.max(np.abs(bv))) if bv.size else 0.0
    eps = float(torch.finfo(a.dtype).eps) if a.is_floating_point() else 0.0
    return bool(np.allclose(av, bv, rtol=100 * eps, atol=100 * eps * max(scale, 1.0)))


def _break_reason(call: Any, prev_act: Activation | None, prev_module: str | None) -> str:
    norms = [m for m in call.between if any(k in m for k in _NORM_NAMES)]
    if norms:
        return f"not predicted: after {', '.join(dict.fromkeys(norms))}"
    if prev_act is None and prev_module is not None:
        return f"not predicted: the activation before it ({prev_module}) is not modelled"
    return ("not predicted: its input is not the previous layer's activation (a residual "
            "sum or another functional operation in forward)")


def _start_q(calls: list[Any], v_w: float, v_b: float) -> np.ndarray:
    """q(i, p) from the layer's measured input: patch sums of squares s2, every call's
    positions together."""
    s2 = np.concatenate([c.s2.reshape(c.s2.shape[0], -1) for c in calls], axis=1)
    return v_w * s2 + v_b


def view(rows: list[dict[str, Any]], calls_by_layer: list[list[Any]],
         acts: list[Activation | None], x: torch.Tensor, *, epsilon: float,
         delta: float, norms: Sequence[Any] = ()) -> list[dict[str, np.ndarray]]:
    """Add the mean-field columns to ``rows`` (one per layer, forward order); return
    per layer the per-input ``q_meanfield`` (mean over positions) and
    ``dphi2_meanfield`` (the mean over positions of E φ'(z)², z ~ N(0, q(i, p)); NaN
    without an activation), for the per-input table and the backward view.
    ``norms``: the LayerNorm/BatchNorm calls (:class:`~satsim.torch._capture._NormCall`),
    whose outputs the chain can continue from (:mod:`satsim.torch._blocks`)."""
    per_input: list[dict[str, np.ndarray]] = []
    stream = _blocks.Stream()
    xf = x.detach().to(torch.float64).reshape(x.shape[0], -1).cpu().numpy()
    stream.add(_blocks.Known(xf, xf.mean(axis=1), (xf * xf).mean(axis=1), "x",
                             "from the input", eps=_blocks._eps(x)))
    pending = sorted(norms, key=lambda c: c.seq)
    # the previous layer: its activation, q(i, p), first call and number of calls
    prev: tuple[Activation | None, np.ndarray, Any, int] | None = None
    for row, calls, act in zip(rows, calls_by_layer, acts, strict=True):
        call = calls[0]
        while pending and pending[0].seq < call.seq:
            _norm(stream, pending.pop(0))
        fan_in = int(row["fan_in"])
        v_w = float(row["weight_var"])
        v_b = 0.0 if math.isnan(row["bias_var"]) else float(row["bias_var"])
        sw, sb = fan_in * v_w, v_b
        label, known = _label(call, calls, prev, row["layer"], x, stream)
        if label == "carried" and prev is not None:
            p_act, p_q, _, _ = prev
            m2 = (p_q if p_act is None else kernel(p_act).moment2(p_q)).mean(axis=1)
            q = (sw * m2 + sb)[:, None]
        elif known is not None:
            q = (sw * known.m2 + sb)[:, None]
        else:
            q = _start_q(calls, v_w, v_b)
        row.update(_columns(label, sw, sb, q, act, row.get("criterion"), epsilon, delta))
        per_input.append({"q_meanfield": q.mean(axis=1), "dphi2_meanfield": _dphi2(act, q)})
        if len(calls) == 1:
            _blocks.layer_outputs(stream, row["layer"], call.z, q, act)
        prev = (act, q, call, len(calls))
    return per_input


def _norm(stream: _blocks.Stream, call: Any) -> None:
    """A normalization call: its input may be a residual sum to remember; its output
    (and the activation module after it) is predicted."""
    stream.resolve(call.inp)
    _blocks.norm_outputs(stream, call, None if call.act_module is None
                         else _activation_of(call.act_module))


def _label(call: Any, calls: list[Any], prev: tuple[Activation | None, np.ndarray, Any, int]
           | None, name: str, x: torch.Tensor, stream: _blocks.Stream
           ) -> tuple[str, _blocks.Known | None]:
    """The layer's prediction label, and the known tensor its input is (when the label
    is a ``predicted: …`` one)."""
    if len(calls) > 1:
        return f"not predicted: the layer is called {len(calls)} times (shared)", None
    if call.inp is not None and _same(call.inp, x.detach().to(torch.float64).numpy()):
        return "from the input", None
    if call.attention and name.endswith("out_proj"):
        return ("not predicted: attention output (a softmax-weighted mixture of value "
                "vectors)"), None
    if prev is not None and prev[3] > 1:
        return f"not predicted: the layer before it is called {prev[3]} times (shared)", None
    p_act: Activation | None = None
    p_module: str | None = None
    if prev is not None and prev[2].inp is not None:
        p_act, _, p_call, _ = prev
        phi = (p_call.z.to(torch.float64).cpu().numpy() if p_act is None
               else p_act.fn(p_call.z.to(torch.float64).cpu().numpy()))
        p_module = None if p_call.act_module is None else type(p_call.act_module).__name__
        if (call.inp is not None and (p_act is not None or p_module is None)
                and _same(call.inp, phi)):
            return "carried", None
    known = None if call.inp is None else stream.resolve(call.inp)
    if known is not None:
        return known.label, known
    if prev is not None and prev[2].inp is not None:
        return _break_reason(call, p_act, p_module), None
    # the first layer, fed something other than x
    if call.between and any(k in m for m in call.between for k in _NORM_NAMES):
        return _break_reason(call, None, None), None
    return ("not predicted: its input is not the module's input (a functional operation "
            "in forward)"), None


def _dphi2(act: Activation | None, q: np.ndarray) -> np.ndarray:
    if act is None:
        return np.full(q.shape[0], math.nan)
    try:
        return np.asarray(kernel(act).grad_moment2(q)).mean(axis=1)
    except (ValueError, NotImplementedError, ArithmeticError):
        return np.full(q.shape[0], math.nan)


def _columns(label: str, sw: float, sb: float, q: np.ndarray, act: Activation | None,
             crit: str | None, epsilon: float, delta: float) -> dict[str, Any]:
    q_i = q.mean(axis=1)
    out: dict[str, Any] = {
        "prediction": label, "sigma_w2": sw, "sigma_b2": sb,
        "q_meanfield": float(q_i.mean()), "z_std_meanfield": math.sqrt(float(q_i.mean())),
        "saturated_meanfield": math.nan, "chi1_at_q": math.nan, "chi1": math.nan,
        "phase": None, "critical_sigma_w2": math.nan, "distance_to_critical": math.nan}
    if act is None or sw <= 0:
        return out
    try:
        kern = kernel(act)
        out["chi1_at_q"] = float(sw * np.mean(kern.grad_moment2(q)))
        out["saturated_meanfield"] = float(np.mean(predicted_fraction(
            np.sqrt(q), activation=act, criterion=crit, epsilon=epsilon, delta=delta)))
        chi = float(meanfield.chi1(sw, sb, activation=act))
        out["chi1"] = chi
        out["phase"] = "ordered" if chi < 1 else ("chaotic" if chi > 1 else "critical")
        crit_sw = float(meanfield.critical_weight_variance(sb, activation=act))
        out["critical_sigma_w2"] = crit_sw
        out["distance_to_critical"] = sw - crit_sw
    except (ValueError, NotImplementedError, ArithmeticError):
        pass  # no critical line for this activation and σ_b² (or no kernel): NaN
    return out
