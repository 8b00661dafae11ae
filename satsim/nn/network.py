r"""A fully vectorised NumPy multilayer perceptron with saturation telemetry.

The design follows Nielsen's ``network2.py`` — the code behind the initialization
argument — with the per-example loop replaced by matrix-based backpropagation over
the whole mini-batch, and with what that code leaves out.

Layout and maths.  Weights are ``(fan_out, fan_in)`` as in Nielsen and PyTorch;
a batch is a matrix whose *rows* are examples, so a layer computes
:math:`Z = A W^\top + b`.  With :math:`\delta^L = \partial C/\partial Z^L` from the
cost (:mod:`satsim.nn.costs`), backpropagation is

.. math::

    \delta^l = (\delta^{l+1} W^{l+1}) \odot \varphi'(Z^l) \odot M^l, \qquad
    \nabla_{W^l} = \delta^{l\top} A^{l-1}, \qquad \nabla_{b^l} = \mathbf 1^\top \delta^l,

with :math:`M^l` the inverted-dropout mask (entries 0 or 1/(1−p)).  The update of
a mini-batch of m examples out of n, learning rate η, regularisation λ:

* L2 (Nielsen's convention, cost + λ/(2n) Σw²):
  :math:`w \leftarrow (1 - \eta\lambda/n)\, w - (\eta/m) \nabla_w`; biases are not
  regularised;
* L1 (cost + λ/n Σ|w|): :math:`w \leftarrow w - (\eta\lambda/n)\operatorname{sgn} w -
  (\eta/m)\nabla_w`, sgn(0) = 0;
* momentum μ > 0: :math:`v \leftarrow \mu v - \eta g`, :math:`w \leftarrow w + v`,
  with g the regularised mean gradient.

Schedules.  ``early_stopping=n`` stops after n epochs without a new best validation
accuracy; ``schedule=k`` halves η after k epochs without improvement and stops once
η < η₀/128 (Nielsen ch. 3's suggested schedule).  Both need ``validation``.

Divergence.  A learning rate far too large does not fail loudly by itself: with
η = 1e3 a 784-30-10 sigmoid network lands at chance accuracy with a cost hundreds to
millions of times its starting value, and every later epoch is wasted.  After
epoch 0 and every epoch, :meth:`Network.fit` therefore computes the cost (data term
plus regulariser) on its fixed probe subset and stops when it is non-finite, when
any weight or bias is non-finite, or when it exceeds ``divergence`` (default 10)
times its epoch-0 value: it emits a :class:`~satsim._warnings.TrainingDivergenceWarning`
and returns the history so far with ``stopped_early=True`` and the reason in
``stop_reason``.  Stopping rather than only warning because nothing useful can
follow a non-finite weight, and a cost ten times that of the untrained network
means the run has destroyed what the initialization gave it.  While the check is on,
NumPy's floating-point warnings (overflow, invalid) inside training are silenced:
their consequence, a non-finite cost or weight, is reported once, by this warning.
A bounded cost cannot trip the ratio (the quadratic cost of sigmoid outputs is at
most half the number of classes), so there only non-finite values are caught.
``divergence=None`` switches the check off.

Architecture.  ``activation`` is one activation for every hidden layer or a sequence
with one per hidden layer (``len(sizes) - 2``), e.g. ``Network([784, 300, 100, 10],
activation=["tanh", "relu"])``; forward and backward passes, telemetry and saved files
use each layer's own.  ``init`` is an initializer (one family for every layer) or the
data-dependent :class:`~satsim.nn.LSUV` (Mishkin & Matas 2016), which rescales each
layer's base weights to unit pre-activation variance on a batch and records what it did
in ``Network.init_report``.

Randomness.  One ``rng`` (SPEC 7) seeds the initial weights; :meth:`Network.fit`
takes its own ``rng`` for shuffling, dropout masks and the telemetry probe subset
(default: a stream spawned from the network's generator).  The caller's arrays
are never modified.

Telemetry.  At epoch 0 (before training) and after every epoch, on a fixed probe
subset of the training data, each layer's pre-activations (under the layer's
``activation`` name) are summarised (mean, std, 1/50/99th percentiles), the
saturated fraction is measured with
:func:`satsim.saturation.fraction` (same criteria and defaults; its interval is
the population one, two-way cluster-robust over probe inputs and units, since the
probes are a sample of the data and, at epoch 0, the units a sample of the
initializer — the estimand the saturation predictions are about), the dead
fraction for relu-like units with :func:`satsim.saturation.dead_fraction`, and the
gradient and weight norms are recorded.  ``telemetry=False`` skips all of it;
nothing telemetry-related runs inside the mini-batch loop either way.

Cost of monitoring.  Each record (epoch 0 and every epoch) passes the probe rows
forward once, in the network's dtype: their output gives the divergence check its
probe cost and, with telemetry, one backward pass the gradients, the statistics
their z.  The training-set monitor (``monitor_training``) gets cost and accuracy from
one batched forward pass over its rows (chunks of about 16 MB of activations); when
its rows include the probe's — always with the ``"auto"`` sizes, and whenever all
rows are monitored — the probe's pass serves them and only the other rows are
passed, and when they lie inside the probe nothing more is passed.  The validation
set costs one forward pass.  Nothing is computed twice.

The ``"auto"`` defaults of ``monitor_size`` and ``probe_size`` hold this work to a
fixed share of the training it monitors.  Counting multiply-adds, with
:math:`F = \sum_l n_{l-1} n_l` per row and :math:`U = \sum_{l\ge1} n_l` values per
row, an epoch on n rows costs :math:`3Fn` (forward, δ and gradient products), the
monitor :math:`Fm`, and the probe :math:`p\,(2F + cU)` beyond its forward pass (the
backward pass, and statistics at about c = 2000 multiply-adds' worth a value:
percentile partitions, saturation counts and their two-way variance).  Giving them
1.5% of an epoch each per record,

.. math::

    m = \operatorname{clip}(0.045\,n,\; 200,\; 5000), \qquad
    p = \operatorname{clip}\Bigl(\frac{0.045\,n F}{2F + cU},\; 20,\; 1000\Bigr),

both at most n.  A one-epoch fit (two records) then pays about 6% on top of its
training, plus a fixed cost per layer of its statistics (about 0.2 ms: 6 ms a record
for 31 layers, mostly :func:`satsim.saturation.fraction`'s own); more epochs pay less
per epoch.  Where a floor decides (the monitor's below about 4,400 rows) the share
grows: the floors keep the standard errors stated in :meth:`Network.fit`
meaningful.  For 5,000 rows: m = 225 and p = 34 (784-100-100-10), 53
(784-1000-1000-10) or 20 (784-100×30-10); for 50,000 rows of 784-30-10: 2250 and 420.
The model counts the NumPy engine's products; under ``backend="torch"`` on a GPU the
training is faster and the (NumPy) monitoring's share larger.
``benchmarks/bench_training.py --monitoring`` measures the ratios.

Speed.  Plain SGD (no momentum, no dropout) runs a fused step: preallocated per-layer
buffers, tanh/sigmoid/relu applied in place with φ' taken from φ(z), and BLAS writing
z, δ and the updated W and b in place (:meth:`Network._fused_epoch`); other settings,
and :meth:`Network._backprop` itself, use the unfused path, equal to rounding.  BLAS
threads are left as the caller set them: for the small products of mini-batch training
on a machine with few cores one thread (``threadpoolctl.threadpool_limits(1)``) is often
faster (on 2 cores, two OpenBLAS threads took 1.7–3.7× as long as one at width 100,
1.0–1.5× at width 300 and 0.56–0.89× from width 1000 on:
``benchmarks/bench_training.py --blas-scaling``).  The thread count changes the
rounding of BLAS sums, so results agree across thread counts to rounding, not bit for
bit.

Backends.  ``backend="torch"`` (optional extra ``satsim[torch]``; ``device="cpu"``,
``"cuda"`` …) runs the mini-batch loop of :meth:`Network.fit` on PyTorch — the engine
of :func:`satsim.nn.batched.train_stack` with a stack of one network
(:mod:`satsim.nn._torch`) — in the network's dtype (pass ``dtype=np.float32`` for
speed on a GPU).  The parameters stay NumPy arrays: they are copied to the device
when ``fit`` starts and back after every epoch, and everything outside the loop
(History, telemetry, the divergence check, schedules, :meth:`Network.accuracy`,
:meth:`Network.save`) is the NumPy code on those copies.  Shuffles come from the same
``rng`` stream, so a float64 CPU torch fit equals the NumPy fit to rounding (tested).
Supported: plain SGD with L2 or L1 regularisation; ``momentum`` and ``dropout`` are refused, as are
activations outside :func:`satsim.nn.batched.supported_activations`.  A CUDA device
without CUDA is an error at construction.  Saved files hold NumPy weights only;
``Network.load(path, backend="torch", device=...)`` puts a loaded network back on
a torch backend.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from satsim._namespace import public_dir
from satsim._validation import check_choice, check_int, check_real, check_rng
from satsim.activations import Activation, as_activation
from satsim.init import Initializer, as_initializer
from satsim.nn import _sgd
from satsim.nn import io as _io
from satsim.nn._monitor import Monitor, check_monitor_sizes
from satsim.nn.costs import COSTS, Cost
from satsim.nn.history import History
from satsim.nn.lsuv import LSUV, LSUVResult, _calibrate

if TYPE_CHECKING:  # torch is imported only when a torch backend is used
    from satsim.nn._torch import FitEngine

__all__ = ["History", "Network", "Softmax"]

__dir__ = public_dir(globals())

#: bytes of one layer's activations in an evaluation pass (cost and accuracy of a whole
#: data set): rows are taken this many bytes' worth at a time.  Large chunks, because
#: every BLAS call may wake its thread pool (costly on a busy machine), bounded, because
#: the whole set at once would need (rows × widest layer) per layer
_EVAL_BYTES = 1 << 24

class Softmax:
    """Row-wise softmax output layer (not elementwise, so not in satsim.activations)."""

    name = "softmax"

    def fn(self, z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)
        return e


def _output(name: Any) -> Softmax | Activation:
    if isinstance(name, str) and name == "softmax":
        return Softmax()
    return as_activation(name, param="output")


class Network:
    """A multilayer perceptron trained by mini-batch SGD.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first: ``[784, 30, 10]``.
    activation : Activation, str or sequence of them, default "sigmoid"
        Hidden-layer activation (:mod:`satsim.activations`), or one per hidden layer
        (``len(sizes) - 2`` entries, first hidden layer first).
    output : {"sigmoid", "softmax"} or an activation name, default "sigmoid"
    cost : {"cross_entropy", "quadratic", "log_likelihood"}, default "cross_entropy"
        cross_entropy needs a sigmoid output, log_likelihood a softmax output.
    init : Initializer, str or LSUV, default "nielsen"
        Weight initializer (N(0, 1/fan_in)); ``"standard_normal"`` is Nielsen's
        "large" initialization.  :class:`~satsim.nn.LSUV` ``(X_batch)`` draws from its
        base initializer, then calibrates every layer on the batch (LSUV needs data, so
        the name ``"lsuv"`` alone is an error).
    bias_init : Initializer, str or None, default "standard_normal"
    dtype : numpy float dtype, default float64
    rng : seed or Generator, optional
        Draws the initial weights (SPEC 7).
    backend : {"numpy", "torch"}, default "numpy"
        Engine of :meth:`fit`'s mini-batch loop (module docstring, "Backends").
    device : str or torch.device, optional
        Torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``; default the CPU); with
        ``backend="numpy"`` only None or ``"cpu"``.

    Attributes
    ----------
    activation : Activation or tuple of Activation
        As given: one for every hidden layer, or a tuple with one per hidden layer.
    activations : tuple of Activation
        One per hidden layer, always.
    init_report : LSUVResult or None
        What a data-dependent ``init`` (LSUV) did to each layer; None otherwise.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: Any = "sigmoid",
        output: Any = "sigmoid",
        cost: str = "cross_entropy",
        init: Any = "nielsen",
        bias_init: Any = "standard_normal",
        dtype: Any = np.float64,
        rng: Any = None,
        backend: str = "numpy",
        device: Any = None,
    ):
        if isinstance(sizes, str) or not isinstance(sizes, Sequence):
            raise TypeError(f"`sizes` must be a sequence of layer widths; got sizes={sizes!r}")
        if len(sizes) < 2:
            raise ValueError(f"`sizes` must have at least 2 layers (input and output); "
                             f"got sizes={list(sizes)!r}")
        self.sizes = [check_int(f"sizes[{i}]", s, minimum=1) for i, s in enumerate(sizes)]
        n_hidden = len(self.sizes) - 2
        self.activation: Activation | tuple[Activation, ...]
        if isinstance(activation, list | tuple):
            if len(activation) != n_hidden:
                raise ValueError(
                    f"`activation` has {len(activation)} entries; give one per hidden layer "
                    f"(len(sizes) - 2 = {n_hidden}) or a single activation; got "
                    f"activation={list(activation)!r}")
            self.activations = tuple(as_activation(a, param=f"activation[{i}]")
                                     for i, a in enumerate(activation))
            self.activation = self.activations
        else:
            self.activation = as_activation(activation)
            self.activations = (self.activation,) * n_hidden
        self.output = _output(output)
        # every layer's φ, the output's last: the passes look a layer's up by index
        self._layer_acts: list[Any] = [*self.activations, self.output]
        check_choice("cost", cost, COSTS)
        self.cost: Cost = COSTS[cost]()
        if self.cost.outputs is not None and self.output.name not in self.cost.outputs:
            raise ValueError(
                f"cost={cost!r} needs output in {self.cost.outputs}; "
                f"got output={self.output.name!r}"
            )
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise ValueError(f"`dtype` must be float32 or float64; got dtype={dtype!r}") from None
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"`dtype` must be float32 or float64; got dtype={self.dtype}")
        if isinstance(init, str) and init == "lsuv":
            raise ValueError("init='lsuv' needs a batch of data: pass "
                             "init=satsim.nn.LSUV(X_batch) (e.g. a few hundred training rows); "
                             "got init='lsuv'")
        self.init: Initializer | LSUV
        if isinstance(init, LSUV):
            if init.X.shape[1] != self.sizes[0]:
                raise ValueError(f"the LSUV batch `X` must have sizes[0]={self.sizes[0]} "
                                 f"columns; got X with shape {init.X.shape}")
            self.init, base = init, init.base
        else:
            self.init = base = as_initializer(init, param="init")
        self.bias_init = None if bias_init is None else as_initializer(bias_init, param="bias_init")
        self.backend, self.device = "numpy", "cpu"
        self._set_backend(backend, device)  # before drawing: a bad device wastes nothing
        self.rng = check_rng(rng)
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        #: the JSON metadata of the file a network was loaded from (:meth:`load`); empty
        #: for a network built here
        self.metadata: dict[str, Any] = {}
        for fan_in, fan_out in itertools.pairwise(self.sizes):
            W = base.sample((fan_out, fan_in), rng=self.rng)
            self.weights.append(W.astype(self.dtype))
            if self.bias_init is None:
                self.biases.append(np.zeros(fan_out, dtype=self.dtype))
            else:
                b = self.bias_init.sample((fan_out,), rng=self.rng, fans=(fan_in, fan_out))
                self.biases.append(b.astype(self.dtype))
        self.init_report: LSUVResult | None = None
        if isinstance(self.init, LSUV):
            self.init_report = _calibrate(self.init, self.weights, self.biases,
                                         self.activations, stacklevel=3)

    def _set_backend(self, backend: str, device: Any) -> None:
        """Validate and set :attr:`backend` and :attr:`device` (a torch device's name)."""
        backend = check_choice("backend", backend, ("numpy", "torch"))
        if backend == "numpy":
            if device is not None and device != "cpu":
                raise ValueError(f"`device` needs backend='torch' (NumPy runs on the CPU); "
                                 f"got device={device!r}")
            self.backend, self.device = "numpy", "cpu"
            return
        from satsim.nn import _torch
        from satsim.nn._spec import _spec

        dev = _torch.resolve_device(device)
        _spec(self, "backend='torch'")  # refuses what the torch engine does not implement
        self.backend, self.device = "torch", str(dev)

    @property
    def activation_names(self) -> str | list[str]:
        """The hidden activation's name, or a list with one per hidden layer."""
        if isinstance(self.activation, Activation):
            return self.activation.name
        return [a.name for a in self.activation]

    def __repr__(self) -> str:
        where = (f", backend='torch', device={self.device!r}" if self.backend == "torch"
                 else "")
        return (f"Network(sizes={self.sizes}, activation={self.activation_names!r}, "
                f"output={self.output.name!r}, cost={self.cost.name!r}, init={self.init.name!r}, "
                f"dtype={self.dtype.name}{where})")

    # ------------------------------------------------------------------ data checks
    def _check_xy(self, X: Any, y: Any, name: str = "X") -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"`{name}` must have shape (n, {self.sizes[0]}); got {X.shape}")
        if X.shape[0] == 0:
            raise ValueError(f"`{name}` must have at least one row; got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number):
            raise TypeError(f"`{name}` must be numeric; got dtype {X.dtype}")
        X = X.astype(self.dtype, copy=False)
        # one pass without a temporary: any NaN/inf makes the sum non-finite; only a
        # non-finite sum (or an overflow of a finite one) pays for the exact check
        with np.errstate(over="ignore", invalid="ignore"):
            total = X.sum()
        if not np.isfinite(total) and not np.all(np.isfinite(X)):
            raise ValueError(f"`{name}` must contain only finite values")
        y = np.asarray(y)
        label = "y" if name == "X" else f"{name} labels"
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"`{label}` must be a 1-D array with one label per row of `{name}` "
                             f"({X.shape[0]}); got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            whole = np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y))
            if whole and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise TypeError(f"`{label}` must hold integer class labels; got dtype {y.dtype}")
        k = self.sizes[-1]
        if y.size and (y.min() < 0 or y.max() >= k):
            raise ValueError(f"`{label}` must lie in [0, {k - 1}] (the output width); "
                             f"got labels in [{y.min()}, {y.max()}]")
        return X, y.astype(np.intp, copy=False)

    def _onehot(self, y: np.ndarray) -> np.ndarray:
        Y = np.zeros((y.shape[0], self.sizes[-1]), dtype=self.dtype)
        Y[np.arange(y.shape[0]), y] = 1
        return Y

    # ------------------------------------------------------------------ forward
    @overload
    def _forward(self, X: np.ndarray, *, keep: Literal[False] = False) -> np.ndarray: ...

    @overload
    def _forward(
        self, X: np.ndarray, *, keep: Literal[True]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]: ...

    def _forward(
        self, X: np.ndarray, *, keep: bool = False
    ) -> np.ndarray | tuple[list[np.ndarray], list[np.ndarray]]:
        """Return (zs, activations) if keep else the output activation."""
        a = X
        zs, acts = [], [X]
        phis = self._layer_acts
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = a @ W.T
            z += b
            a = phis[i].fn(z)
            if keep:
                zs.append(z)
                acts.append(a)
        return (zs, acts) if keep else a

    def feedforward(self, X: Any) -> np.ndarray:
        """Output activations for the rows of X, shape (n, sizes[-1])."""
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"`X` must have shape (n, {self.sizes[0]}); got {X.shape}")
        return self._forward(X)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class of each row (argmax of the output)."""
        return np.argmax(self.feedforward(X), axis=1)

    def accuracy(self, X: Any, y: Any) -> float:
        """Fraction of rows of X classified as y."""
        X, y = self._check_xy(X, y)
        return self._evaluate(X, y, 0.0, "l2", X.shape[0])[1]

    def total_cost(self, X: Any, y: Any, lmbda: float = 0.0, *,
                   regularization: str = "l2") -> float:
        """Mean cost over the rows plus the regulariser (λ/2n Σw² or λ/n Σ|w|)."""
        X, y = self._check_xy(X, y)
        return self._total_cost(X, y, lmbda, regularization, X.shape[0])

    def _total_cost(self, X: np.ndarray, y: np.ndarray, lmbda: float, regularization: str,
                    n_reg: int) -> float:
        return self._evaluate(X, y, lmbda, regularization, n_reg)[0]

    def _evaluate(self, X: np.ndarray, y: np.ndarray, lmbda: float, regularization: str,
                  n_reg: int, chunk: int | None = None) -> tuple[float, float]:
        """(total cost, accuracy) of the rows from one forward pass in the network's
        dtype, ``chunk`` rows at a time (memory stays O(chunk × widest layer)).

        The cost is the mean data term plus the regulariser with n = ``n_reg`` (the
        training-set size, Nielsen's convention also for the validation cost)."""
        total, correct = self._eval_sums(X, y, chunk=chunk)
        cost = total / X.shape[0] + self._penalty(lmbda, regularization, n_reg)
        return float(cost), correct / X.shape[0]

    def _eval_sums(self, X: np.ndarray, y: np.ndarray, rows: np.ndarray | None = None,
                   chunk: int | None = None) -> tuple[float, int]:
        """(summed data cost, number correct) over the rows of X — or over
        ``X[rows]``, gathered a chunk at a time — from one forward pass."""
        if chunk is None:
            chunk = max(256, _EVAL_BYTES // (self.dtype.itemsize * max(self.sizes[1:])))
        total, correct = 0.0, 0
        phis = self._layer_acts
        onehot = np.eye(self.sizes[-1], dtype=self.dtype)
        count = X.shape[0] if rows is None else rows.shape[0]
        for start in range(0, count, chunk):
            if rows is None:
                a = X[start : start + chunk]
                yc = y[start : start + chunk]
            else:
                take = rows[start : start + chunk]
                a, yc = np.take(X, take, axis=0), y[take]
            for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
                z = a @ W.T
                z += b
                a = phis[i].fn(z)
            total += self.cost.fn(z, a, onehot[yc])
            correct += int(np.count_nonzero(np.argmax(a, axis=1) == yc))
        return total, correct

    def _penalty(self, lmbda: float, regularization: str, n: int) -> float:
        """The regulariser: λ/(2n) Σw² (L2) or λ/n Σ|w| (L1)."""
        if not lmbda:
            return 0.0
        if regularization == "l2":
            return 0.5 * lmbda / n * sum(float(np.sum(W * W)) for W in self.weights)
        return lmbda / n * sum(float(np.sum(np.abs(W))) for W in self.weights)

    # ------------------------------------------------------------------ backprop
    def _output_delta(self, z: np.ndarray, a: np.ndarray, Y: np.ndarray) -> np.ndarray:
        if isinstance(self.output, Softmax) and self.cost.name == "quadratic":
            d = a - Y  # Jacobian of softmax: diag(a) − a aᵀ
            return a * (d - np.sum(a * d, axis=1, keepdims=True))
        return self.cost.delta(z, a, Y, self.output)

    def _backprop(
        self, X: np.ndarray, Y: np.ndarray, masks: list[np.ndarray] | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Summed gradients (∇W, ∇b) over the batch rows."""
        grads_w, grads_b, _ = self._backprop_zs(X, Y, masks)
        return grads_w, grads_b

    def _backprop_zs(
        self, X: np.ndarray, Y: np.ndarray, masks: list[np.ndarray] | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """:meth:`_backprop` and the pre-activations of its forward pass (telemetry)."""
        zs, acts, outs = self._forward_keep(X, masks)
        grads_w, grads_b = self._backward(zs, acts, outs, Y, masks)
        return grads_w, grads_b, zs

    def _forward_keep(
        self, X: np.ndarray, masks: list[np.ndarray] | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """The forward pass of :meth:`_backprop_zs`: every layer's z, its activation
        (after dropout; X first) and the hidden layers' φ(z) before dropout."""
        a = X
        zs, acts, outs = [], [X], []
        last = len(self.weights) - 1
        phis = self._layer_acts
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = a @ W.T
            z += b
            if i == last:
                a = self.output.fn(z)
            else:
                a = phis[i].fn(z)
                outs.append(a)  # φ(z) before dropout, for φ' from the output
                if masks is not None:
                    a = a * masks[i]
            zs.append(z)
            acts.append(a)
        return zs, acts, outs

    def _backward(
        self, zs: list[np.ndarray], acts: list[np.ndarray], outs: list[np.ndarray],
        Y: np.ndarray, masks: list[np.ndarray] | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Summed gradients from a kept forward pass (:meth:`_forward_keep`)."""
        last = len(self.weights) - 1
        phis = self._layer_acts
        delta = self._output_delta(zs[-1], acts[-1], Y)
        grads_w: list[np.ndarray] = []  # filled from the last layer down, then reversed
        grads_b: list[np.ndarray] = []
        for i in range(last, -1, -1):
            grads_w.append(delta.T @ acts[i])
            grads_b.append(delta.sum(axis=0))
            if i:
                delta = delta @ self.weights[i]
                delta *= phis[i - 1].grad_from(zs[i - 1], outs[i - 1])
                if masks is not None:
                    delta *= masks[i - 1]
        return grads_w[::-1], grads_b[::-1]

    # ------------------------------------------------------------------ training
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int,
        batch_size: int,
        eta: float,
        lmbda: float = 0.0,
        regularization: str = "l2",
        momentum: float = 0.0,
        dropout: float = 0.0,
        validation: tuple[Any, Any] | None = None,
        early_stopping: int | None = None,
        schedule: int | None = None,
        telemetry: bool = True,
        monitor_training: bool = True,
        monitor_size: int | Literal["auto"] | None = "auto",
        probe_size: int | Literal["auto"] = "auto",
        epsilon: float = 0.01,
        divergence: float | None = 10.0,
        rng: Any = None,
    ) -> History:
        r"""Train by mini-batch SGD; return the :class:`History`.

        Parameters
        ----------
        X, y : arrays (n, sizes[0]) and (n,) int labels
        epochs, batch_size : int
        eta : float
            Learning rate η > 0.
        lmbda : float, default 0
            Regularisation λ ≥ 0 (Nielsen's name).
        regularization : {"l2", "l1"}
        momentum : float in [0, 1), default 0
        dropout : float in [0, 1), default 0
            Inverted dropout probability on hidden layers (training only).
        validation : (X_val, y_val), optional
        early_stopping : int, optional
            Stop after this many epochs without a new best validation accuracy.
        schedule : int, optional
            Halve η after this many epochs without improvement; stop below η₀/128.
        telemetry : bool, default True
            Per-layer statistics on a fixed probe subset each epoch (and epoch 0).
        monitor_training : bool, default True
            Record training cost and accuracy each epoch (one batched forward pass
            per epoch, in the network's dtype).
        monitor_size : int, None or "auto", default "auto"
            Training rows that ``monitor_training`` evaluates, a fixed random subset
            drawn once per fit from a spawned stream (training itself is unchanged):
            ``min(n, monitor_size)`` rows, all rows with None, or with ``"auto"``
            :math:`m = \operatorname{clip}(0.045\,n, 200, 5000)` rows (at most n)
            that contain the probe's, so that one forward pass serves both (module
            docstring, "Cost of monitoring").  A uniform m-subset of n rows estimates
            the training accuracy A with standard error

            .. math::

                \sqrt{\frac{A(1-A)}{m}\,\frac{n-m}{n-1}} \le \frac{1}{2\sqrt m},

            at most 0.035 at the floor (m = 200) and 0.0071 at the cap (m = 5000);
            the cost's is :math:`s_c/\sqrt m` (:math:`s_c` the rows' costs' spread).
        probe_size : int or "auto", default "auto"
            Rows of the fixed probe subset on which telemetry and the divergence
            check are computed: ``min(n, probe_size)`` rows drawn from ``rng`` first,
            or with ``"auto"`` :math:`p = \operatorname{clip}(0.045\,nF/(2F + cU),
            20, 1000)` rows (at most n; the first p rows of that 1000-row draw, so the
            shuffles that follow are those of ``probe_size=1000``; module docstring).
            What p bounds: the saturated fraction :math:`\hat s` of a layer of H units
            averages :math:`s_{ij} = s + a_i + b_j + e_{ij}` (probe row i, unit j),
            so :math:`\operatorname{Var}\hat s = \sigma_a^2/p + \sigma_b^2/H +
            \sigma_e^2/(pH)` with :math:`\sigma_a^2 \le s(1-s)`: the probe's share of
            its standard error is at most :math:`1/(2\sqrt p)` — 0.11 at the floor,
            0.016 at the cap, much less when rows differ little — and the recorded
            two-way cluster-robust interval (``saturated_ci_low``/``_high``)
            estimates all three terms, so it shows the precision reached (its t has
            min(p, H) − 1 degrees of freedom).  ``grad_norm`` is the norm of the
            probe's mean gradient :math:`\bar g_p`, and :math:`E\lVert\bar g_p\rVert^2
            = \lVert\nabla C\rVert^2 + \operatorname{tr}\Sigma\,(n-p)/(p(n-1))`
            (Σ the per-row gradients' covariance): a noise floor that shrinks as
            :math:`1/\sqrt p`, so compare gradient norms at one ``probe_size``
            (pass it explicitly).  The divergence check's probe cost has standard
            error :math:`s_c/\sqrt p`, far below the factor ``divergence`` it tests.
        epsilon : float, default 0.01
            Saturation criterion (as :func:`satsim.saturation.fraction`).
        divergence : float > 1 or None, default 10
            Stop, with a :class:`~satsim._warnings.TrainingDivergenceWarning`, when
            the cost on the probe subset exceeds ``divergence`` × its epoch-0 value or
            when the cost or a parameter becomes non-finite (module docstring).
            ``None``: no check.
        rng : seed or Generator, optional
            Shuffling, dropout and the probe subset (default: spawned from the
            network's generator).

        With ``backend="torch"`` the mini-batch loop runs on the network's device;
        ``momentum`` and ``dropout`` must then be 0 (module docstring, "Backends").
        """
        X, y = self._check_xy(X, y)
        n = X.shape[0]
        epochs = check_int("epochs", epochs, minimum=0)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        eta = check_real("eta", eta, low=0.0, low_inclusive=False)
        lmbda = check_real("lmbda", lmbda, low=0.0)
        regularization = check_choice("regularization", regularization, ("l2", "l1"))
        momentum = check_real("momentum", momentum, low=0.0, high=1.0, high_inclusive=False)
        dropout = check_real("dropout", dropout, low=0.0, high=1.0, high_inclusive=False)
        val: tuple[np.ndarray, np.ndarray] | None = None
        if validation is not None:
            if not isinstance(validation, tuple | list) or len(validation) != 2:
                raise TypeError("`validation` must be a pair (X_val, y_val)")
            val = self._check_xy(*validation, name="validation X")
        elif early_stopping is not None or schedule is not None:
            raise ValueError("`early_stopping` and `schedule` need `validation` data")
        if early_stopping is not None:
            early_stopping = check_int("early_stopping", early_stopping, minimum=1)
        if schedule is not None:
            schedule = check_int("schedule", schedule, minimum=1)
        sizes = check_monitor_sizes(probe_size, monitor_size)
        if divergence is not None:
            divergence = check_real("divergence", divergence, low=1.0, low_inclusive=False)
        if self.backend == "torch":
            for name, value in (("momentum", momentum), ("dropout", dropout)):
                if value:
                    raise ValueError(f"`{name}` is not supported with backend='torch' (plain "
                                     f"SGD with L2 or L1 only); got {name}={value!r}")
        rng = self.rng.spawn(1)[0] if rng is None else check_rng(rng)

        Y = self._onehot(y)
        monitor = Monitor(self, X, y, Y, rng=rng, sizes=sizes, telemetry=telemetry,
                          monitor_training=monitor_training, divergence=divergence,
                          validation=val, lmbda=lmbda, regularization=regularization,
                          epsilon=epsilon)
        velocity_w = [np.zeros_like(W) for W in self.weights] if momentum else None
        velocity_b = [np.zeros_like(b) for b in self.biases] if momentum else None
        eta0, best, since_best = eta, -math.inf, 0
        # plain SGD (the common case, and the trainability study's) takes the fused path
        engine: FitEngine | None = None
        if self.backend == "torch":
            from satsim.nn import _torch

            engine, plan = _torch.FitEngine(self, X, Y), None
        else:
            plan = None if (dropout or momentum) else self._fused_plan(min(batch_size, n))

        history = monitor.history
        # while the divergence check is on, overflow/invalid results surface once, as a
        # non-finite cost or parameter, instead of as a stream of NumPy RuntimeWarnings
        quiet = (np.errstate(over="ignore", invalid="ignore") if divergence is not None
                 else contextlib.nullcontext())
        with quiet:
            monitor.record(0, eta)
            if monitor.diverged(0, eta):
                return history.result()
            for epoch in range(1, epochs + 1):
                perm = rng.permutation(n)
                if engine is not None:
                    engine.epoch(perm, batch_size, eta, lmbda, regularization, n)
                    engine.write_back(self)
                elif plan is not None:
                    self._fused_epoch(plan, X, Y, perm, eta, lmbda, regularization, n)
                else:
                    self._sgd_epoch(X, Y, perm, batch_size, eta, lmbda, regularization,
                                    momentum, dropout, velocity_w, velocity_b, rng)
                monitor.record(epoch, eta)
                if monitor.diverged(epoch, eta):
                    break
                if val is not None and (early_stopping or schedule):
                    acc = history.epochs[-1]["validation_accuracy"]
                    if acc > best:
                        best, since_best = acc, 0
                    else:
                        since_best += 1
                    if early_stopping and since_best >= early_stopping:
                        history.stopped_early, history.stop_reason = True, (
                            f"no improvement in {early_stopping} epochs")
                        break
                    if schedule and since_best >= schedule:
                        eta, since_best = eta / 2, 0
                        if eta < eta0 / 128:
                            history.stopped_early, history.stop_reason = True, "eta < eta0/128"
                            break
        return history.result()

    def _sgd_epoch(self, X: np.ndarray, Y: np.ndarray, perm: np.ndarray, batch_size: int,
                   eta: float, lmbda: float, regularization: str, momentum: float,
                   dropout: float, velocity_w: list[np.ndarray] | None,
                   velocity_b: list[np.ndarray] | None, rng: np.random.Generator) -> None:
        """One epoch of mini-batch SGD with momentum and/or inverted dropout (the
        general path; plain SGD takes :meth:`_fused_epoch`)."""
        n = X.shape[0]
        hidden = len(self.weights) - 1
        keep = self.dtype.type(1.0 - dropout)
        Xs, Ys = X[perm], Y[perm]
        for s in range(0, n, batch_size):
            xb, yb = Xs[s : s + batch_size], Ys[s : s + batch_size]
            m = xb.shape[0]
            masks = None
            if dropout:
                masks = [(rng.random((m, self.sizes[i + 1])) < keep).astype(self.dtype)
                         / keep for i in range(hidden)]
            gw, gb = self._backprop(xb, yb, masks)
            self._update(gw, gb, m, n, eta, lmbda, regularization, momentum,
                         velocity_w, velocity_b)

    # ------------------------------------------------------------------ fused SGD step
    def _fused_plan(self, batch: int) -> _sgd._FusedPlan | None:
        """Buffers for the fused epoch (:func:`satsim.nn._sgd.fused_plan`), or None."""
        return _sgd.fused_plan(self, batch)

    def _fused_epoch(self, plan: _sgd._FusedPlan, X: np.ndarray, Y: np.ndarray,
                     order: np.ndarray, eta: float, lmbda: float, regularization: str,
                     n: int) -> None:
        """One fused plain-SGD epoch (:func:`satsim.nn._sgd.fused_epoch`)."""
        _sgd.fused_epoch(self, plan, X, Y, order, eta, lmbda, regularization, n)

    def _update(self, gw: list[np.ndarray], gb: list[np.ndarray], m: int, n: int, eta: float,
                lmbda: float, regularization: str, momentum: float,
                vw: list[np.ndarray] | None, vb: list[np.ndarray] | None) -> None:
        step = self.dtype.type(eta / m)
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if momentum:
                assert vw is not None and vb is not None  # allocated by fit() when momentum > 0
                g = gw[i] / m
                if lmbda:
                    g += (lmbda / n) * (W if regularization == "l2" else np.sign(W))
                vw[i] *= momentum
                vw[i] -= eta * g
                W += vw[i]
                vb[i] *= momentum
                vb[i] -= eta * gb[i] / m
                b += vb[i]
                continue
            if lmbda:
                if regularization == "l2":
                    W *= self.dtype.type(1.0 - eta * lmbda / n)  # Nielsen's weight decay
                else:
                    W -= self.dtype.type(eta * lmbda / n) * np.sign(W)
            gw[i] *= step
            W -= gw[i]
            b -= step * gb[i]

    def _telemetry(self, epoch: int, zs: list[np.ndarray], gw: list[np.ndarray],
                   gb: list[np.ndarray], epsilon: float) -> list[dict[str, Any]]:
        """Per-layer records from the probe's pre-activations ``zs`` and summed
        gradients (:meth:`_forward_keep`, :meth:`_backward`)."""
        from satsim.saturation import dead_fraction, fraction

        rows_n = zs[0].shape[0]
        # location and spread, the layers of one shape in one call each: the same numbers
        # as layer by layer (order statistics; reductions along contiguous rows), without
        # a deep network's per-layer call overhead
        summary: dict[int, tuple[float, ...]] = {}
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, z in enumerate(zs):
            groups.setdefault(z.shape, []).append(i)
        for idx in groups.values():
            S = (zs[idx[0]].reshape(1, -1) if len(idx) == 1
                 else np.stack([zs[i] for i in idx]).reshape(len(idx), -1))
            pct = np.percentile(S, (1, 50, 99), axis=1)  # one partition per row, three ranks
            mean, std = S.mean(axis=1), S.std(axis=1)
            for j, i in enumerate(idx):
                summary[i] = (float(mean[j]), float(std[j]), *(float(v) for v in pct[:, j]))
        rows = []
        for i, z in enumerate(zs):
            act = self._layer_acts[i]
            z_mean, z_std, p01, p50, p99 = summary[i]
            row = {
                "epoch": epoch,
                "layer": i + 1,
                "activation": act.name,
                "z_mean": z_mean,
                "z_std": z_std,
                "z_p01": p01,
                "z_p50": p50,
                "z_p99": p99,
                "grad_norm": float(np.sqrt(np.sum(gw[i] ** 2) + np.sum(gb[i] ** 2)) / rows_n),
                "weight_norm": float(np.linalg.norm(self.weights[i])),
            }
            sat = lo = hi = dead = math.nan
            if isinstance(act, Activation) and z.shape[1] >= 2:
                z64 = z.astype(np.float64)
                try:
                    res = fraction(z64, activation=act, epsilon=epsilon, estimand="population")
                    sat, lo, hi = res.estimate, res.ci_low, res.ci_high
                except ValueError:  # e.g. an activation that has no saturation criterion
                    pass
                if act.name in ("relu", "leaky_relu"):
                    dead = dead_fraction(z64, activation=act).estimate
            row.update(saturated=sat, saturated_ci_low=lo, saturated_ci_high=hi, dead=dead)
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the network to ``path`` (.npz with JSON metadata), atomically."""
        _io.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, *, backend: str = "numpy",
             device: Any = None) -> Network:
        """Read a network written by :meth:`save` (validated; never half-loads).

        Files hold NumPy weights only: ``backend`` and ``device`` say where the loaded
        network trains (as in the constructor)."""
        net = _io.load(path)
        net._set_backend(backend, device)
        return net


_io._register(Network)  # the class satsim.nn.io.load builds
