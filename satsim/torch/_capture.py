"""Capture for :mod:`satsim.torch`: which activation follows a layer, and the forward
hooks that record every Linear/Conv layer's input, output z and patch norms (hooks
removed and training flags restored in ``finally``; see :func:`_run`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from satsim.activations import Activation
from satsim.activations import get as _activation

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
#: the layers satsim initializes and measures
_LAYERS = (nn.Linear, *_CONV, *_CONV_T)


# --------------------------------------------------------------------------- validation
def _check_module(module: Any) -> None:
    if not isinstance(module, nn.Module):
        raise TypeError(f"`module` must be a torch.nn.Module; got module={module!r:.80}")


def _named_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers measured, by name; a MultiheadAttention gives its q, k, v
    projections (``name.q`` …) before its ``out_proj``."""
    layers: list[tuple[str, nn.Module]] = []
    for name, m in module.named_modules():
        if isinstance(m, nn.MultiheadAttention):
            layers += [(f"{name}.{p}" if name else p, m) for p in "qkv"]
        elif isinstance(m, _LAYERS):
            layers.append((name or type(m).__name__, m))
    if not layers:
        raise ValueError(f"`module` has no Linear or Conv layer to work on; got a "
                         f"{type(module).__name__} (layers satsim handles: "
                         f"{', '.join(t.__name__ for t in _LAYERS)})")
    return layers


def _as_batch(x: Any, module: nn.Module) -> torch.Tensor:
    """``x`` as a tensor (arrays take the module's floating dtype and device)."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        arr = None if isinstance(x, str | bytes) else np.asarray(x)
        if arr is None or arr.dtype.kind not in "biuf":
            raise TypeError(f"`x` must be a torch.Tensor or a numeric array (a batch of "
                            f"inputs); got x={x!r:.80}")
        ref = next((p for p in module.parameters() if p.is_floating_point()), None)
        dtype = ref.dtype if ref is not None and arr.dtype.kind == "f" else None
        t = torch.as_tensor(arr, dtype=dtype, device=None if ref is None else ref.device)
    if t.ndim < 1 or t.shape[0] < 2:
        raise ValueError("`x` must be a batch of at least 2 inputs along its first "
                         f"dimension (intervals need 2 inputs); got shape {tuple(t.shape)}")
    return t



# --------------------------------------------------------------------------- activations
def _activation_of(mod: nn.Module) -> Activation | None:
    """The satsim activation a PyTorch activation module computes, if satsim has it."""
    if isinstance(mod, nn.Tanh):
        return _activation("tanh")
    if isinstance(mod, nn.Sigmoid):
        return _activation("sigmoid")
    if isinstance(mod, nn.ReLU):
        return _activation("relu")
    if isinstance(mod, nn.LeakyReLU):
        slope = float(mod.negative_slope)
        return _activation("leaky_relu", slope=slope) if 0.0 <= slope < 1.0 else None
    if isinstance(mod, nn.ELU):
        return _activation("elu", alpha=float(mod.alpha)) if mod.alpha > 0 else None
    if isinstance(mod, nn.Softplus):  # the threshold only switches to z for z·β > 20
        return _activation("softplus") if mod.beta == 1 else None
    if isinstance(mod, nn.GELU):
        return _activation("gelu") if mod.approximate == "none" else None
    if isinstance(mod, nn.Hardtanh):  # ReLU6 is a Hardtanh(0, 6): not mapped
        return _activation("hard_tanh") if (mod.min_val, mod.max_val) == (-1, 1) else None
    if isinstance(mod, nn.Softsign):
        return _activation("softsign")
    if isinstance(mod, nn.Identity):
        return _activation("linear")
    return None


def _is_activation_module(mod: nn.Module) -> bool:
    return (isinstance(mod, nn.Identity)
            or (type(mod).__module__ == "torch.nn.modules.activation"
                and not isinstance(mod, nn.MultiheadAttention)))


# --------------------------------------------------------------------------- attention
class _Projection:
    """One of a ``MultiheadAttention``'s query, key and value projections, measured as a
    dense layer: ``weight`` (E, in) and ``bias`` (E,) are views of the module's
    parameters (the thirds of ``in_proj_weight``/``in_proj_bias``, or
    ``q/k/v_proj_weight``); the initializer :func:`init_` recorded on the module."""

    def __init__(self, mha: nn.MultiheadAttention, which: str) -> None:
        e, j = mha.embed_dim, "qkv".index(which)
        if mha._qkv_same_embed_dim:
            self.weight = mha.in_proj_weight[j * e:(j + 1) * e]
        else:
            self.weight = getattr(mha, f"{which}_proj_weight")
        bias = mha.in_proj_bias
        self.bias = None if bias is None else bias[j * e:(j + 1) * e]
        self._satsim_kind = f"MultiheadAttention.{which}"
        for tag in ("_satsim_init", "_satsim_bias_init"):
            if tag in vars(mha):
                setattr(self, tag, getattr(mha, tag))


def _attention_input(mha: nn.MultiheadAttention, args: tuple, kwargs: dict) -> torch.Tensor:
    """The input of ``out_proj``: the heads' outputs concatenated, got by running the
    module's own forward again with ``out_proj`` set to the identity (no bias) —
    every mask and layout option handled by PyTorch itself.  Eval mode, no grad."""
    w, b = mha.out_proj.weight, mha.out_proj.bias
    saved = (w.detach().clone(), None if b is None else b.detach().clone())
    try:
        w.copy_(torch.eye(w.shape[0], dtype=w.dtype, device=w.device))
        if b is not None:
            b.zero_()
        out = mha.forward(*args, **{**kwargs, "need_weights": False})
    finally:
        w.copy_(saved[0])
        if b is not None and saved[1] is not None:
            b.copy_(saved[1])
    return out[0]


# --------------------------------------------------------------------------- capture
@dataclass
class _Call:
    """One forward call of a layer: its z (original layout, copied before any in-place
    activation) and the per-patch input sums Σx, ‖x‖², shape (inputs, groups, positions)."""

    layer: Any
    z: torch.Tensor
    s1: np.ndarray
    s2: np.ndarray
    act_module: nn.Module | None = None
    #: z (up to a reshape) is what the module returned: the logits layer
    is_output: bool = False
    #: z feeds an attention (q, k, v, or is its output): no elementwise activation
    attention: bool = False
    #: the layer's input (detached copy, original layout), for the mean-field chain
    inp: torch.Tensor | None = None
    #: types of the other modules called since the previous layer (norms, dropout …)
    between: tuple[str, ...] = ()
    #: order among the recorded layer and normalization calls
    seq: int = -1


#: normalization layers whose output the mean-field view predicts
_PREDICTED_NORMS = (nn.LayerNorm, nn.modules.batchnorm._BatchNorm)


@dataclass
class _NormCall:
    """One forward call of a ``LayerNorm`` or ``BatchNorm*``: its input and output
    (``z``, detached copies, original layout), whether it normalized by the batch's
    statistics (``training``), and the activation module applied to its output."""

    module: nn.Module
    inp: torch.Tensor
    z: torch.Tensor
    training: bool
    name: str
    act_module: nn.Module | None = None
    seq: int = -1


def _patch_sums(mod: Any, x: torch.Tensor, z: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[0]
    xd = x.detach().to(torch.float64)
    if isinstance(mod, nn.Linear | _Projection):
        s1, s2 = xd.sum(-1), (xd * xd).sum(-1)
        return (s1.reshape(n, 1, -1).cpu().numpy(), s2.reshape(n, 1, -1).cpu().numpy())
    groups, kernel = mod.groups, tuple(mod.kernel_size)
    if isinstance(mod, _CONV):
        # the layer's own forward (padding mode included) with a ones kernel: output
        # channel g sums the patch over group g's input channels
        ones = torch.ones((groups, mod.in_channels // groups, *kernel), dtype=torch.float64,
                          device=xd.device)

        def conv(t: torch.Tensor) -> torch.Tensor:
            return mod._conv_forward(t, ones, None)
    else:
        dims = len(kernel)
        out_pad = mod._output_padding(x, list(z.shape[-dims:]), list(mod.stride),
                                      list(mod.padding), list(kernel), dims,
                                      list(mod.dilation))
        ones = torch.ones((mod.in_channels, 1, *kernel), dtype=torch.float64, device=xd.device)
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[dims - 1]

        def conv(t: torch.Tensor) -> torch.Tensor:
            return fn(t, ones, None, mod.stride, mod.padding, out_pad, groups, mod.dilation)
    return (conv(xd).reshape(n, groups, -1).cpu().numpy(),
            conv(xd * xd).reshape(n, groups, -1).cpu().numpy())


@dataclass
class _Recorder:
    batch: int
    calls: list[tuple[str, _Call]] = field(default_factory=list)
    pending: _Call | _NormCall | None = None
    seen: list[str] = field(default_factory=list)
    norms: list[_NormCall] = field(default_factory=list)
    n_events: int = 0

    def _next(self) -> int:
        self.n_events += 1
        return self.n_events

    def other_hook(self, mod: nn.Module, args: tuple) -> None:
        """Forward pre-hook on every other leaf module: what ran between two layers."""
        self.seen.append(type(mod).__name__)

    def _record(self, name: str, call: _Call, inp: torch.Tensor) -> None:
        call.inp = inp.detach().clone()
        call.seq = self._next()
        call.between = tuple(self.seen)
        self.seen = []
        self.calls.append((name, call))

    def layer_hook(self, name: str) -> Callable[..., None]:
        def hook(mod: nn.Module, args: tuple, out: Any) -> None:
            self.pending = None
            if not (args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor)):
                raise TypeError(f"layer {name!r} was called with a non-tensor input or output")
            if out.ndim < 1 or out.shape[0] != self.batch or args[0].shape[0] != self.batch:
                raise ValueError(
                    f"layer {name!r} saw input shape {tuple(args[0].shape)} and output shape "
                    f"{tuple(out.shape)}; layer_statistics needs every layer's first dimension "
                    f"to be the batch of x ({self.batch} inputs)")
            call = _Call(mod, out.detach().clone(), *_patch_sums(mod, args[0], out))
            self._record(name, call, args[0])
            self.pending = call

        return hook

    def _check_batch(self, name: str, *tensors: torch.Tensor) -> None:
        if any(t.ndim < 1 or t.shape[0] != self.batch for t in tensors):
            raise ValueError(
                f"layer {name!r} saw shapes {[tuple(t.shape) for t in tensors]}; "
                "layer_statistics needs every layer's first dimension to be the batch of x "
                f"({self.batch} inputs)")

    def attention_hook(self, name: str) -> Callable[..., None]:
        """Forward hook (with kwargs) on a MultiheadAttention: q, k, v from its inputs
        and in-projection, and out_proj's z (the attention output) and input."""
        def hook(mod: nn.MultiheadAttention, args: tuple, kwargs: dict, out: Any) -> None:
            self.pending = None
            inputs = list(args[:3]) + [kwargs[k] for k in ("query", "key", "value")[len(args):]
                                       if k in kwargs]
            if len(inputs) != 3 or not all(isinstance(t, torch.Tensor) for t in inputs):
                raise TypeError(f"attention {name!r} was called without query, key and "
                                "value tensors")
            self._check_batch(name, *inputs)
            for which, inp in zip("qkv", inputs, strict=True):
                proj = _Projection(mod, which)
                z = F.linear(inp, proj.weight, proj.bias).detach().clone()
                self._record(f"{name}.{which}", _Call(proj, z, *_patch_sums(proj, inp, z),
                                                      attention=True), inp)
                self.seen = list(self.calls[-1][1].between)  # q, k, v share what came before
            self.seen = []
            a = _attention_input(mod, args, kwargs)
            z = (out[0] if isinstance(out, tuple) else out).detach().clone()
            self._check_batch(name, a, z)
            call = _Call(mod.out_proj, z, *_patch_sums(mod.out_proj, a, z), attention=True)
            self._record(f"{name}.out_proj" if name else "out_proj", call, a)
            self.pending = call

        return hook

    def norm_hook(self, name: str) -> Callable[..., None]:
        """Forward hook on a LayerNorm/BatchNorm: its input and output, for the
        mean-field view; the activation applied to the output is looked for next."""
        def hook(mod: nn.Module, args: tuple, out: Any) -> None:
            self.pending = None
            if not (args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor)
                    and args[0].ndim >= 1 and args[0].shape[0] == self.batch):
                return  # not on the batch: the view simply finds no prediction after it
            call = _NormCall(mod, args[0].detach().clone(), out.detach().clone(),
                             bool(mod.training), name, seq=self._next())
            self.norms.append(call)
            self.pending = call

        return hook

    def activation_hook(self, mod: nn.Module, args: tuple) -> None:
        # a forward *pre*-hook: an in-place activation (ReLU(inplace=True)) has not yet
        # overwritten its input
        call = self.pending
        if call is None or not args or not isinstance(args[0], torch.Tensor):
            return
        if call.act_module is not None and not isinstance(call.act_module, nn.Identity):
            return  # a real activation already claimed z (an Identity is a placeholder)
        inp = args[0]
        if (inp.numel() == call.z.numel() and inp.dtype == call.z.dtype
                and torch.equal(inp.detach().reshape(-1), call.z.reshape(-1))):
            call.act_module = mod


def _tensors(out: Any) -> list[torch.Tensor]:
    """The tensors in a module's output (a tensor, or tuples, lists and dicts of them)."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, tuple | list):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors(o)]
    return []


def _mark_outputs(calls: list[tuple[str, _Call]], out: Any) -> None:
    """Mark the calls whose z the module returned as it is (up to a reshape: a
    ``Flatten`` or eval-mode ``Dropout`` after the last layer changes nothing)."""
    outs = [t.detach() for t in _tensors(out)]
    for _, call in calls:
        call.is_output = any(
            t.numel() == call.z.numel() and t.dtype == call.z.dtype
            and torch.equal(t.reshape(-1), call.z.reshape(-1)) for t in outs)


#: normalization layers whose train and eval forwards differ (batch vs running statistics)
_BATCH_NORMS = (nn.modules.batchnorm._NormBase,)


def _norm_state(module: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Copies of every normalization layer's buffers (running mean and variance,
    ``num_batches_tracked``), to be written back after a train-mode forward."""
    return [(b, b.detach().clone()) for m in module.modules() if isinstance(m, _BATCH_NORMS)
            for b in m.buffers(recurse=False)]


def _transformer_activations(module: nn.Module, calls: list[tuple[str, _Call]]) -> None:
    """A ``TransformerEncoderLayer``/``DecoderLayer`` applies its ``activation`` to
    ``linear1``'s z as a function (``F.relu``, ``F.gelu``: no module to hook); read it
    from the layer's attribute."""
    functions = {F.relu: nn.ReLU(), F.gelu: nn.GELU()}
    owners = {id(m.linear1): functions.get(m.activation) for m in module.modules()
              if isinstance(m, nn.TransformerEncoderLayer | nn.TransformerDecoderLayer)
              and not isinstance(m.activation, nn.Module)}
    for _, call in calls:
        if call.act_module is None and owners.get(id(call.layer)) is not None:
            call.act_module = owners[id(call.layer)]


@contextmanager
def forward_modes(module: nn.Module, batchnorm: str,
                  handles: list[Any] | None = None) -> Iterator[None]:
    """Eval mode, except normalization layers in train mode when ``batchnorm="train"``,
    and PyTorch's fused attention fast path (which bypasses submodule hooks) off.
    On exit, whatever happens: ``handles`` removed, the fast path flag, the
    normalization buffers and every submodule's training flag restored."""
    flags = [(m, m.training) for m in module.modules()]
    saved = _norm_state(module) if batchnorm == "train" else []
    fastpath = torch.backends.mha.get_fastpath_enabled()
    try:
        torch.backends.mha.set_fastpath_enabled(False)
        module.eval()
        if batchnorm == "train":
            for m in module.modules():
                if isinstance(m, _BATCH_NORMS):
                    m.train()
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        for h in handles or ():
            h.remove()
        with torch.no_grad():
            for buf, copy in saved:
                buf.copy_(copy)
        for m, flag in flags:  # pre-order: a parent's train() first, then its children's
            m.train(flag)


def _run(module: nn.Module, x: torch.Tensor, batchnorm: str = "train",
         norms: list[_NormCall] | None = None) -> list[tuple[str, _Call]]:
    """Forward x once (no grad) with hooks, in :func:`forward_modes`; the calls of
    LayerNorm/BatchNorm layers are appended to ``norms`` when it is given."""
    rec = _Recorder(int(x.shape[0]))
    handles: list[Any] = []
    with forward_modes(module, batchnorm, handles):
        for name, m in module.named_modules():
            if isinstance(m, nn.MultiheadAttention):
                handles.append(m.register_forward_hook(
                    rec.attention_hook(name), with_kwargs=True))
            elif isinstance(m, _LAYERS):
                handles.append(m.register_forward_hook(rec.layer_hook(name or type(m).__name__)))
            elif _is_activation_module(m):
                handles.append(m.register_forward_pre_hook(rec.activation_hook))
            elif norms is not None and isinstance(m, _PREDICTED_NORMS):
                handles.append(m.register_forward_hook(rec.norm_hook(name)))
            if not isinstance(m, _LAYERS) and not any(True for _ in m.children()):
                handles.append(m.register_forward_pre_hook(rec.other_hook))
        with torch.no_grad():
            out = module(x)
        _mark_outputs(rec.calls, out)
        _transformer_activations(module, rec.calls)
    if norms is not None:
        norms.extend(rec.norms)
    return rec.calls
