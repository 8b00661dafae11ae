r"""Many same-architecture networks trained by mini-batch SGD as one stacked computation.

A grid of cells that share an architecture (the trainability study's depth × σ_w² ×
seed grid) trains S networks that differ only in their initial weights and their
mini-batches.  :func:`train_stack` stacks the S copies of each layer into one array
and runs every layer of every network as one batched matrix product, so the Python
and dispatch cost of a step is paid once for the stack instead of S times.

Maths.  Network s has weights :math:`W^l_s` (``(fan_out, fan_in)``, DESIGN §3.8) and
biases :math:`b^l_s`; its mini-batch at step t is the rows :math:`I_{s,t}` of the
training set (``batches[s, t]``, m rows).  Stacking along a leading axis,
:math:`A^{l}` is (S, m, n_l) and one step is, for every s at once,

.. math::

    Z^l_s = A^{l-1}_s W^{l\top}_s + \mathbf 1 b^{l\top}_s, \qquad A^l_s = \varphi_l(Z^l_s),

    \delta^L_s = \partial C/\partial Z^L_s, \qquad
    \delta^{l}_s = (\delta^{l+1}_s W^{l+1}_s) \odot \varphi_l'(Z^l_s),

    W^l_s \leftarrow W^l_s - \tfrac{\eta}{m}\, \delta^{l\top}_s A^{l-1}_s, \qquad
    b^l_s \leftarrow b^l_s - \tfrac{\eta}{m}\, \delta^{l\top}_s \mathbf 1,

the formulas of :meth:`satsim.nn.Network._backprop` and ``_update`` (plain SGD, mean
gradient over the mini-batch).  ``np.matmul`` on (S, ·, ·) stacks and ``torch.bmm`` /
``torch.baddbmm`` compute each slice s from slice s of their operands only: no
number of one network enters another's, so a network whose parameters overflow to
inf or NaN leaves the rest of the stack exactly as if it had trained alone.

What it supports.  Plain mini-batch SGD (no momentum, dropout or regularisation),
hidden and output activations from a small table of exact types — ``tanh``,
``relu``, ``sigmoid``, ``linear``, ``leaky_relu`` (any slope), plus ``softmax``
output — whose φ' is taken from φ(z) as :class:`~satsim.nn.Network` does, and every
cost of :mod:`satsim.nn.costs` (softmax + log-likelihood, sigmoid + cross-entropy,
quadratic with any of those outputs).  Anything else is refused with an error that
names it and lists what is supported.

Batching does not change results.  Network s's numbers are those of the same
network trained alone on ``batches[s]`` up to floating-point rounding (the
matrix products of a stack and of a single network may round differently; in
practice NumPy's are bit-identical); ``tests/test_batched.py`` compares a stack, each
member alone, :meth:`satsim.nn.Network.fit` fed the same mini-batches, and the torch backend
against each other.  Randomness stays per cell: the caller draws each network's
initial weights and mini-batch rows from that cell's own generator (SPEC 7), so a
cell's result does not depend on which other cells share its stack.

Backends.  ``backend="numpy"`` (default) computes in the networks' dtype with
``np.matmul`` on stacks and preallocated buffers.  ``backend="torch"``
(:mod:`satsim.nn._torch`, the optional extra ``satsim[torch]``) moves X, the one-hot
labels and every mini-batch's row indices to ``device`` once, gathers each step's
rows there, and runs ``torch.baddbmm``/``torch.bmm``; its dtype is the networks'
on the CPU (float64 by default, the rounding-level twin of NumPy) and float32 on
CUDA unless ``dtype`` says otherwise.  On CUDA one SGD step is captured in a CUDA
graph and replayed (``cuda_graph``): a depth-30 step is a few hundred small
kernels whose launch cost a replay removes.  The captured step is the same
function the CPU runs eagerly on the same static buffers (its CPU twin, which the
tests run).

Divergence.  A network whose parameters become non-finite is flagged
(``StackResult.diverged``, with the first checkpoint at which it was seen);
training of the whole stack continues — NaN stays within its own slice.  Floating-
point warnings (overflow, invalid) are silenced inside training for the same
reason :meth:`satsim.nn.Network.fit` silences them: their consequence is reported once, by the
flag.  Final parameters are written back into every network (each network's own
dtype, new C-contiguous NumPy arrays), so code that reads ``net.weights`` works
after training.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import special

from satsim._namespace import public_dir
from satsim._results import Result, result
from satsim._validation import check_choice, check_real
from satsim.nn._spec import _Spec, _spec, supported_activations

__all__ = ["StackResult", "supported_activations", "train_stack"]

__dir__ = public_dir(globals())

#: bytes of one layer's activations in a validation pass (as Network._evaluate)
_EVAL_BYTES = 1 << 24


# --------------------------------------------------------------------------- result
@result
class StackResult(Result):
    """One network's run in :func:`train_stack`.

    Attributes
    ----------
    steps : tuple of int
        The checkpoint steps (0 = before training).
    validation_accuracy : tuple of float
        Validation accuracy at each checkpoint (NaN when no validation set was given).
    diverged : bool
        Some weight or bias was non-finite at a checkpoint or at the end.
    diverged_at : int or None
        The first checkpoint step (or the last step) at which a non-finite parameter
        was seen: the divergence happened at or before it.
    """

    _title = "Stacked SGD run"

    steps: tuple[int, ...]
    validation_accuracy: tuple[float, ...]
    diverged: bool
    diverged_at: int | None

    @property
    def curve(self) -> list[dict[str, Any]]:
        """``[{"step": …, "validation_accuracy": …}, …]`` (the trainability study's form)."""
        return [{"step": s, "validation_accuracy": a}
                for s, a in zip(self.steps, self.validation_accuracy, strict=True)]

    @property
    def final_accuracy(self) -> float:
        """Validation accuracy at the last checkpoint (NaN without one)."""
        return self.validation_accuracy[-1] if self.validation_accuracy else math.nan

    def to_frame(self) -> pd.DataFrame:
        """One row per checkpoint: ``step``, ``validation_accuracy``, ``diverged``
        (whether divergence had been seen by that step)."""
        at = math.inf if self.diverged_at is None else self.diverged_at
        return pd.DataFrame({"step": list(self.steps),
                             "validation_accuracy": list(self.validation_accuracy),
                             "diverged": [s >= at for s in self.steps]})


# --------------------------------------------------------------------------- engine
class _Engine(Protocol):
    """A stack of S networks being trained (NumPy here, torch in :mod:`._torch`)."""

    def run(self, start: int, stop: int) -> None:
        """SGD steps ``start`` … ``stop - 1`` of the batches it was given."""

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(S,) fraction of rows of X each network classifies as y."""

    def finite(self) -> np.ndarray:
        """(S,) bool: all of a network's parameters are finite."""

    def parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The stacks (S, out, in) and (S, out) as NumPy arrays."""


def _hidden_np(kind: str, slope: float, z: np.ndarray) -> None:
    """φ(z) in place (the values of the satsim activation's ``fn``)."""
    if kind == "tanh":
        np.tanh(z, out=z)
    elif kind == "sigmoid":
        special.expit(z, out=z)
    elif kind == "relu":
        np.maximum(z, 0, out=z)
    elif kind == "leaky_relu":
        np.multiply(z, slope, out=z, where=z <= 0)


def _dphi_np(kind: str, slope: float, d: np.ndarray, a: np.ndarray, t: np.ndarray) -> None:
    """d ← d ⊙ φ'(z), φ' from a = φ(z) (1 − a², a(1 − a), [a > 0]); t: scratch."""
    if kind == "tanh":
        np.multiply(a, a, out=t)
        np.subtract(1, t, out=t)
        d *= t
    elif kind == "sigmoid":
        np.subtract(1, a, out=t)
        t *= a
        d *= t
    elif kind == "relu":
        d *= a > 0
    elif kind == "leaky_relu":  # a > 0 ⇔ z > 0 for every slope in [0, 1)
        np.multiply(d, slope, out=d, where=a <= 0)


def _output_np(kind: str, slope: float, z: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Output activation of z into ``out`` (softmax row-wise, as Network's Softmax)."""
    if kind == "softmax":
        np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)
        return out
    out[...] = z
    _hidden_np(kind, slope, out)
    return out


def _grad_z_np(kind: str, slope: float, z: np.ndarray) -> np.ndarray:
    """φ'(z) from z (the activation's ``grad``), for the quadratic cost's output δ."""
    if kind == "sigmoid":
        return special.expit(z) * special.expit(-z)
    if kind == "tanh":
        t = np.tanh(z)
        return 1 - t * t
    if kind == "relu":
        return (z > 0).astype(z.dtype)
    if kind == "leaky_relu":
        return np.where(z > 0, 1.0, slope).astype(z.dtype)
    return np.ones_like(z)


class _NumpyStack:
    """The NumPy engine: (S, ·, ·) stacks, ``np.matmul`` per layer, buffers reused
    across steps (no allocation in the loop beyond NumPy's temporaries).

    Weights are held transposed, (S, in, out) C-contiguous: the forward product
    :math:`A W^\top` is then a plain NN product, which OpenBLAS runs up to 3× faster
    than the NT product on a transposed view at these small sizes (width 64, batch
    32), and no slower elsewhere (measured with ``np.matmul`` on stacks)."""

    def __init__(self, spec: _Spec, weights: list[np.ndarray], biases: list[np.ndarray],
                 X: np.ndarray, Y: np.ndarray, batches: np.ndarray, eta: float) -> None:
        self.spec, self.X, self.Y, self.batches = spec, X, Y, batches
        dt = X.dtype
        self.WT = [np.ascontiguousarray(W.transpose(0, 2, 1), dtype=dt) for W in weights]
        self.b = [np.array(b, dtype=dt, order="C") for b in biases]
        S, m = batches.shape[0], batches.shape[2]
        widths = spec.sizes[1:]
        self.x = np.empty((S, m, spec.sizes[0]), dt)
        self.y = np.empty((S, m, spec.sizes[-1]), dt)
        self.z = [np.empty((S, m, w), dt) for w in widths]
        self.out = np.empty((S, m, widths[-1]), dt)
        self.d = [np.empty((S, m, w), dt) for w in widths]
        self.t = [np.empty((S, m, w), dt) for w in widths[:-1]]
        self.gW = [np.empty_like(WT) for WT in self.WT]
        self.gb = [np.empty_like(b) for b in self.b]
        self.step_size = dt.type(eta / m)  # as Network._update: η/m in the dtype

    def _delta(self, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        kind, slope = self.spec.layers[-1]
        d = np.subtract(a, y, out=self.d[-1])
        if self.spec.cost == "quadratic":
            if kind == "softmax":  # Jacobian of softmax: diag(a) − a aᵀ
                d = a * (d - np.sum(a * d, axis=-1, keepdims=True))
            else:
                d *= _grad_z_np(kind, slope, z)
        return d  # cross-entropy / log-likelihood: a − y

    def _step(self, rows: np.ndarray) -> None:
        spec, last = self.spec, len(self.WT) - 1
        # mode="clip": the rows are valid (checked), and "raise" would buffer `out`
        a = np.take(self.X, rows, axis=0, out=self.x, mode="clip")
        y = np.take(self.Y, rows, axis=0, out=self.y, mode="clip")
        acts = [a]
        for i in range(last + 1):
            z = np.matmul(a, self.WT[i], out=self.z[i])
            z += self.b[i][:, None, :]
            kind, slope = spec.layers[i]
            if i < last:
                _hidden_np(kind, slope, z)  # z's buffer now holds φ(z)
                a = z
                acts.append(a)
            else:
                a = _output_np(kind, slope, z, self.out)
        delta = self._delta(z, a, y)
        step = self.step_size
        for i in range(last, -1, -1):
            WT = self.WT[i]
            if i:  # δW, before W moves
                d = np.matmul(delta, WT.transpose(0, 2, 1), out=self.d[i - 1])
            # scale δ (m × out) rather than the gradient (in × out): one pass fewer
            delta *= step
            WT -= np.matmul(acts[i].transpose(0, 2, 1), delta, out=self.gW[i])  # (η/m)(δᵀA)ᵀ
            self.b[i] -= np.add.reduce(delta, axis=1, out=self.gb[i])
            if i:
                kind, slope = spec.layers[i - 1]
                _dphi_np(kind, slope, d, acts[i], self.t[i - 1])
                delta = d

    def run(self, start: int, stop: int) -> None:
        for t in range(start, stop):
            self._step(self.batches[:, t])

    def _forward(self, X: np.ndarray) -> np.ndarray:
        """Output activations (S, rows, classes); X (rows, n_in) is shared by the stack."""
        a: np.ndarray = X
        for i, (WT, b) in enumerate(zip(self.WT, self.b, strict=True)):
            z = np.matmul(a, WT)  # (rows, in) @ (S, in, out) broadcasts to (S, rows, out)
            z += b[:, None, :]
            kind, slope = self.spec.layers[i]
            if i < len(self.WT) - 1:
                _hidden_np(kind, slope, z)
                a = z
            else:
                a = _output_np(kind, slope, z, np.empty_like(z))
        return a

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        S = self.WT[0].shape[0]
        chunk = max(256, _EVAL_BYTES // (X.dtype.itemsize * S * max(self.spec.sizes[1:])))
        correct = np.zeros(S, np.int64)
        for s in range(0, X.shape[0], chunk):
            a = self._forward(X[s : s + chunk])
            correct += np.count_nonzero(np.argmax(a, axis=-1) == y[s : s + chunk], axis=1)
        return correct / X.shape[0]

    def finite(self) -> np.ndarray:
        ok = np.ones(self.WT[0].shape[0], bool)
        for P in (*self.WT, *self.b):
            # one sum per network: any NaN/inf makes it non-finite (a finite sum that
            # overflows is checked exactly)
            total = P.reshape(P.shape[0], -1).sum(axis=1)
            bad = ~np.isfinite(total)
            if bad.any():
                ok[bad] &= np.isfinite(P[bad].reshape(int(bad.sum()), -1)).all(axis=1)
        return ok

    def parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [WT.transpose(0, 2, 1) for WT in self.WT], self.b


# --------------------------------------------------------------------------- validation
#: what train_stack reads and writes back on each network (satsim.nn.Network has them;
#: checked by attribute so that this module, which Network uses, does not import it)
_NETWORK_ATTRIBUTES = ("sizes", "activations", "output", "cost", "dtype", "weights", "biases",
                       "fit")


def _is_network(obj: Any) -> bool:
    return all(hasattr(obj, a) for a in _NETWORK_ATTRIBUTES) and not isinstance(obj, type)


def _check_networks(networks: Any) -> list[Any]:
    if _is_network(networks) or not isinstance(networks, Sequence) or not networks:
        raise TypeError("`networks` must be a non-empty sequence of satsim.nn.Network; "
                        f"got networks={networks!r:.80}")
    nets = list(networks)
    for i, net in enumerate(nets):
        if not _is_network(net):
            raise TypeError(f"`networks[{i}]` must be a satsim.nn.Network; got {net!r:.80}")
    first = nets[0]
    for i, net in enumerate(nets[1:], start=1):
        for what, a, b in (("sizes", net.sizes, first.sizes),
                           ("activations", net.activations, first.activations),
                           ("output", net.output.name, first.output.name),
                           ("cost", net.cost.name, first.cost.name),
                           ("dtype", net.dtype, first.dtype)):
            if a != b:
                raise ValueError(f"`networks` must share one architecture; networks[{i}] has "
                                 f"{what}={a!r}, networks[0] has {what}={b!r}")
    if len({id(net) for net in nets}) != len(nets):
        raise ValueError("`networks` lists the same Network object more than once; each "
                         "entry is trained and written back separately")
    return nets


def _check_batches(batches: Any, S: int, n: int) -> np.ndarray:
    try:
        idx = np.asarray(batches)
    except ValueError:  # ragged
        raise ValueError("`batches` must be an (S, steps, batch_size) array of row indices "
                         "(one (steps, batch_size) array per network, all the same shape)"
                         ) from None
    if idx.dtype == object or idx.ndim != 3:
        raise ValueError("`batches` must be an (S, steps, batch_size) array of row indices; "
                         f"got shape {idx.shape}")
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"`batches` must hold integer row indices; got dtype {idx.dtype}")
    if idx.shape[0] != S:
        raise ValueError(f"`batches` must have one entry per network ({S}); got shape "
                         f"{idx.shape}")
    if idx.shape[2] < 1:
        raise ValueError(f"`batches` must have batch_size >= 1 rows per step; got shape "
                         f"{idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"`batches` must hold row indices in [0, {n - 1}] (rows of X); got "
                         f"indices in [{idx.min()}, {idx.max()}]")
    return idx.astype(np.intp, copy=False)


def _check_checkpoints(checkpoints: Any, steps: int) -> tuple[int, ...]:
    if checkpoints is None:
        return (0, steps) if steps else (0,)
    if isinstance(checkpoints, str) or not isinstance(checkpoints, Sequence | np.ndarray):
        raise TypeError(f"`checkpoints` must be a sequence of step numbers; got "
                        f"checkpoints={checkpoints!r:.80}")
    cps = list(checkpoints)
    if not cps or not all(isinstance(c, int | np.integer) and not isinstance(c, bool)
                          for c in cps):
        raise ValueError(f"`checkpoints` must be a non-empty sequence of integer steps; "
                         f"got checkpoints={cps!r:.80}")
    if any(c < 0 or c > steps for c in cps) or any(b <= a for a, b in itertools.pairwise(cps)):
        raise ValueError(f"`checkpoints` must be increasing steps in [0, {steps}] (the "
                         f"number of steps in `batches`); got checkpoints={cps!r:.80}")
    return tuple(int(c) for c in cps)


def _check_dtype(dtype: Any) -> np.dtype | None:
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt not in (np.float32, np.float64):
        raise ValueError(f"`dtype` must be None, float32 or float64; got dtype={dtype!r}")
    return dt


# --------------------------------------------------------------------------- driver
def train_stack(
    networks: Sequence[Any],
    X: Any,
    y: Any,
    *,
    batches: Any,
    eta: float,
    checkpoints: Sequence[int] | None = None,
    validation: tuple[Any, Any] | None = None,
    backend: str = "numpy",
    device: Any = None,
    dtype: Any = None,
    cuda_graph: bool | None = None,
) -> list[StackResult]:
    r"""Train S same-architecture networks by plain mini-batch SGD as one stack.

    Parameters
    ----------
    networks : sequence of Network
        Already-initialized networks sharing ``sizes``, activations, output, cost and
        dtype (so each one's initialization is exactly what one-by-one code draws).
        Their parameters are replaced by the trained ones.
    X, y : arrays (n, sizes[0]) and (n,) int labels
        The training rows, shared by the stack.
    batches : int array (S, steps, batch_size)
        ``batches[s, t]`` are the rows of X in network s's mini-batch at step t (one
        ``(steps, batch_size)`` array per network; draw them from each cell's own
        generator).
    eta : float
        Learning rate η > 0; each step moves by η times the mean gradient.
    checkpoints : sequence of int, optional
        Increasing steps in [0, steps] at which validation accuracy is measured and
        divergence checked (0 = before training).  Default ``(0, steps)``.
    validation : (X_val, y_val), optional
        Without it the accuracies are NaN.
    backend : {"numpy", "torch"}, default "numpy"
    device : str or torch.device, optional
        Torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"`` …); default CPU.  NumPy
        accepts only None or ``"cpu"``.
    dtype : {None, float32, float64}
        Computation dtype; default the networks' (float32 for torch on CUDA).
    cuda_graph : bool, optional
        Capture one SGD step in a CUDA graph and replay it (default: on CUDA).
        ``True`` needs a CUDA device.

    Returns
    -------
    list of StackResult
        One per network, in order.

    Raises
    ------
    ValueError
        An architecture the engine does not implement
        (:func:`satsim.nn.batched.supported_activations`),
        networks that differ, bad batches, checkpoints, device (``"CUDA is not
        available …"``) or dtype; each message names the parameter.
    """
    nets = _check_networks(networks)
    spec = _spec(nets[0], "networks")
    X, y = nets[0]._check_xy(X, y)
    idx = _check_batches(batches, len(nets), X.shape[0])
    eta = check_real("eta", eta, low=0.0, low_inclusive=False)
    cps = _check_checkpoints(checkpoints, idx.shape[1])
    if validation is not None:
        if not isinstance(validation, tuple | list) or len(validation) != 2:
            raise TypeError("`validation` must be a pair (X_val, y_val); got "
                            f"validation={validation!r:.80}")
        Xv, yv = nets[0]._check_xy(*validation, name="validation X")
    backend = check_choice("backend", backend, ("numpy", "torch"))
    dt = _check_dtype(dtype)
    if cuda_graph is not None and not isinstance(cuda_graph, bool):
        raise TypeError(f"`cuda_graph` must be None, True or False; got cuda_graph={cuda_graph!r}")
    weights = [np.stack([net.weights[i] for net in nets]) for i in range(len(spec.sizes) - 1)]
    biases = [np.stack([net.biases[i] for net in nets]) for i in range(len(spec.sizes) - 1)]
    Y = nets[0]._onehot(y)
    engine: _Engine
    if backend == "numpy":
        if device is not None and device != "cpu":
            raise ValueError(f"`device` needs backend='torch' (NumPy runs on the CPU); got "
                             f"device={device!r}")
        if cuda_graph:
            raise ValueError("`cuda_graph=True` needs backend='torch' and a CUDA device")
        dt = nets[0].dtype if dt is None else dt
        engine = _NumpyStack(spec, weights, biases, X.astype(dt, copy=False),
                             Y.astype(dt, copy=False), idx, eta)
        if validation is not None:
            Xv = Xv.astype(dt, copy=False)
    else:
        from satsim.nn import _torch

        engine = _torch.TorchStack(spec, weights, biases, X, Y, idx, eta, device=device,
                                   dtype=dt, default_dtype=nets[0].dtype, cuda_graph=cuda_graph)

    S = len(nets)
    acc = np.full((S, len(cps)), np.nan)
    seen: list[int | None] = [None] * S
    done = 0

    def check(step: int) -> None:
        for s in np.flatnonzero(~engine.finite()):
            if seen[s] is None:
                seen[s] = step

    # a diverging member overflows; that is reported by its flag, not by warnings
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for j, c in enumerate(cps):
            engine.run(done, c)
            done = c
            if validation is not None:
                acc[:, j] = engine.accuracy(Xv, yv)
            check(c)
        if done < idx.shape[1]:
            engine.run(done, idx.shape[1])
            check(idx.shape[1])
    Ws, bs = engine.parameters()
    for s, net in enumerate(nets):
        net.weights = [np.array(W[s], dtype=net.dtype, order="C") for W in Ws]
        net.biases = [np.array(b[s], dtype=net.dtype, order="C") for b in bs]
    return [StackResult(steps=cps, validation_accuracy=tuple(float(a) for a in acc[s]),
                        diverged=seen[s] is not None, diverged_at=seen[s])
            for s in range(S)]
