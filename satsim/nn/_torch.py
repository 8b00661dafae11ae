r"""The PyTorch engine behind ``backend="torch"``: stacked SGD on any torch device.

Imported only when a torch backend is asked for (``import satsim`` and ``import
satsim.nn`` never import PyTorch).  Two users:

* :func:`satsim.nn.batched.train_stack` — :class:`TorchStack`, S networks with
  their mini-batch row indices moved to the device once;
* :meth:`satsim.nn.Network.fit` with ``backend="torch"`` — :class:`FitEngine`, a
  stack of one fed each epoch's shuffled order; the History, telemetry and
  divergence checks stay NumPy's, on weights copied back after every epoch.

The maths is :mod:`satsim.nn.batched`'s (plain mini-batch SGD, φ' from φ(z)); here
a layer is ``torch.baddbmm(b, A, Wᵀ)`` forward, and the update is one
``W.baddbmm_(δᵀ, A, beta=decay, alpha=−η/m)`` —
:math:`W \leftarrow (1-\eta\lambda/n) W - (\eta/m)\,\delta^\top A`, the fused
NumPy step's gemm — with L1's :math:`-(\eta\lambda/n)\operatorname{sgn} W` before it.

Devices and dtypes.  ``device`` is anything ``torch.device`` accepts; a CUDA device
without CUDA is one ``ValueError`` line (``"CUDA is not available …"``).  The
compute dtype is the networks' on the CPU (float64 there is NumPy's rounding-level
twin) and float32 on CUDA unless one is asked for.  Global torch settings (threads,
TF32, determinism) are left as the caller set them.

CUDA graphs.  A depth-30 step is a few hundred small kernels, and at small widths
their launch cost is most of the step.  :class:`TorchStack` therefore runs every
step through one static index buffer: the step's rows are copied into it, then
:meth:`TorchStack._static_step` runs — eagerly on the CPU (the twin the tests
run), or, on CUDA, as the replay of a graph captured once from that same function
(after two warm-up steps on a side stream whose effect on the parameters is
undone, so the captured run is step for step the eager one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

try:
    import torch
except ImportError as exc:  # pragma: no cover - the test environment has torch
    raise ImportError("backend='torch' needs PyTorch: pip install 'satsim[torch]'") from exc

if TYPE_CHECKING:
    from satsim.nn._spec import _Spec
    from satsim.nn.network import Network

_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
#: bytes of one layer's activations in a validation pass (as Network._evaluate)
_EVAL_BYTES = 1 << 24


def resolve_device(device: Any) -> torch.device:
    """``device`` as a usable ``torch.device`` (None: the CPU), or one clear error."""
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"`device` must be a torch device such as 'cpu', 'cuda' or "
                         f"'cuda:1'; got device={device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no GPU found"
            raise ValueError(f"CUDA is not available (torch {torch.__version__}, {build}); "
                             f"use device='cpu'; got device={device!r}")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"CUDA device {dev.index} does not exist (this machine has "
                             f"{torch.cuda.device_count()}); got device={device!r}")
    elif dev.type != "cpu":
        try:
            torch.empty(0, device=dev)
        except (RuntimeError, AssertionError) as exc:
            raise ValueError(f"torch device {str(dev)!r} is not usable here "
                             f"({str(exc).splitlines()[0]}); got device={device!r}") from None
    return dev


def compute_dtype(dtype: np.dtype | None, dev: torch.device,
                  default: np.dtype) -> np.dtype:
    """The compute dtype: as asked, else float32 on CUDA and ``default`` elsewhere."""
    if dtype is not None:
        return np.dtype(dtype)
    return np.dtype(np.float32) if dev.type == "cuda" else np.dtype(default)


# --------------------------------------------------------------------------- activations
def _hidden_(kind: str, slope: float, z: torch.Tensor) -> None:
    """φ(z) in place."""
    if kind == "tanh":
        z.tanh_()
    elif kind == "sigmoid":
        z.sigmoid_()
    elif kind == "relu":
        z.relu_()
    elif kind == "leaky_relu":
        torch.nn.functional.leaky_relu_(z, slope)


def _dphi(kind: str, slope: float, d: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """d ⊙ φ'(z) with φ' from a = φ(z) (in place where the kind allows)."""
    if kind == "tanh":
        return d.mul_(torch.mul(a, a).neg_().add_(1))  # 1 − a²
    if kind == "sigmoid":
        return d.mul_(torch.rsub(a, 1).mul_(a))  # (1 − a) a
    if kind == "relu":
        return d.mul_(a > 0)
    if kind == "leaky_relu":  # a > 0 ⇔ z > 0
        return torch.where(a > 0, d, d * slope)
    return d


def _output(kind: str, slope: float, z: torch.Tensor) -> torch.Tensor:
    if kind == "softmax":
        e = (z - z.amax(dim=-1, keepdim=True)).exp_()
        return e.div_(e.sum(dim=-1, keepdim=True))
    a = z.clone()
    _hidden_(kind, slope, a)
    return a


def _grad_z(kind: str, slope: float, z: torch.Tensor) -> torch.Tensor:
    """φ'(z) from z, for the quadratic cost's output δ."""
    if kind == "sigmoid":
        return torch.sigmoid(z) * torch.sigmoid(-z)
    if kind == "tanh":
        t = torch.tanh(z)
        return 1 - t * t
    if kind == "relu":
        return (z > 0).to(z.dtype)
    if kind == "leaky_relu":
        return torch.where(z > 0, torch.ones_like(z), torch.full_like(z, slope))
    return torch.ones_like(z)


# --------------------------------------------------------------------------- the stack
class _Core:
    """S networks' parameters on a device and one SGD step of all of them."""

    def __init__(self, spec: _Spec, weights: list[np.ndarray], biases: list[np.ndarray],
                 X: np.ndarray, Y: np.ndarray, dev: torch.device, dtype: np.dtype) -> None:
        self.spec, self.dev, self.np_dtype = spec, dev, np.dtype(dtype)
        td = _DTYPES[self.np_dtype]

        def put(a: np.ndarray) -> torch.Tensor:  # a copy: never the caller's memory
            return torch.tensor(np.asarray(a), dtype=td, device=dev)

        self.W = [put(W) for W in weights]  # (S, out, in)
        self.b = [put(b[:, None, :]) for b in biases]  # (S, 1, out): broadcasts over rows
        # moved once; read only, so on the CPU in the same dtype it may share X's memory
        self.X = torch.as_tensor(np.asarray(X)).to(device=dev, dtype=td)
        self.Y = torch.as_tensor(np.asarray(Y)).to(device=dev, dtype=td)
        self._val: tuple[np.ndarray, torch.Tensor, torch.Tensor] | None = None

    def step(self, rows: torch.Tensor, eta: float, decay: float = 1.0,
             shrink: float = 0.0) -> None:
        """One SGD step of every network on its rows ``rows[s]`` ((S, m) indices)."""
        layers, last = self.spec.layers, len(self.W) - 1
        S, m = rows.shape
        flat = rows.reshape(-1)
        a = self.X.index_select(0, flat).view(S, m, -1)  # gathered on the device
        y = self.Y.index_select(0, flat).view(S, m, -1)
        acts = [a]
        z = a
        for i in range(last + 1):
            z = torch.baddbmm(self.b[i], a, self.W[i].transpose(1, 2))
            if i < last:
                _hidden_(*layers[i], z)  # z's storage now holds φ(z)
                a = z
                acts.append(a)
        out = _output(*layers[-1], z)
        delta = out - y  # cross-entropy / log-likelihood
        if self.spec.cost == "quadratic":
            if layers[-1][0] == "softmax":  # Jacobian of softmax: diag(a) − a aᵀ
                delta = out * (delta - (out * delta).sum(dim=-1, keepdim=True))
            else:
                delta = delta * _grad_z(*layers[-1], z)
        alpha = -eta / m
        for i in range(last, -1, -1):
            W = self.W[i]
            d = torch.bmm(delta, W) if i else delta  # δW, before W moves
            if shrink:
                W.sub_(torch.sign(W).mul_(shrink))
            W.baddbmm_(delta.transpose(1, 2), acts[i], beta=decay, alpha=alpha)
            self.b[i].add_(delta.sum(dim=1, keepdim=True), alpha=alpha)
            if i:
                delta = _dphi(*layers[i - 1], d, acts[i])

    def _forward(self, X: torch.Tensor) -> torch.Tensor:
        layers, last = self.spec.layers, len(self.W) - 1
        a = X.expand(self.W[0].shape[0], -1, -1)  # one X for the stack (a view)
        for i in range(last + 1):
            z = torch.baddbmm(self.b[i], a, self.W[i].transpose(1, 2))
            if i < last:
                _hidden_(*layers[i], z)
                a = z
        return _output(*layers[-1], z)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(S,) accuracy on the rows of X; X and y go to the device once per array."""
        if self._val is None or self._val[0] is not X:
            td = _DTYPES[self.np_dtype]
            self._val = (X, torch.as_tensor(X).to(device=self.dev, dtype=td),
                         torch.as_tensor(np.asarray(y, np.int64)).to(self.dev))
        _, Xv, yv = self._val
        S = self.W[0].shape[0]
        chunk = max(256, _EVAL_BYTES // (self.np_dtype.itemsize * S * max(self.spec.sizes[1:])))
        correct = torch.zeros(S, dtype=torch.int64, device=self.dev)
        with torch.no_grad():
            for s in range(0, Xv.shape[0], chunk):
                out = self._forward(Xv[s : s + chunk])
                correct += (out.argmax(dim=-1) == yv[s : s + chunk]).sum(dim=1)
        return correct.cpu().numpy() / X.shape[0]

    def finite(self) -> np.ndarray:
        ok = torch.ones(self.W[0].shape[0], dtype=torch.bool, device=self.dev)
        for P in (*self.W, *self.b):
            ok &= torch.isfinite(P).flatten(1).all(dim=1)
        return ok.cpu().numpy()

    def parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return ([W.cpu().numpy() for W in self.W],
                [b[:, 0, :].cpu().numpy() for b in self.b])


class TorchStack(_Core):
    """:func:`~satsim.nn.batched.train_stack`'s torch engine: every step's rows copied
    into one static index buffer, then the step on it — eager, or a CUDA graph's replay."""

    def __init__(self, spec: _Spec, weights: list[np.ndarray], biases: list[np.ndarray],
                 X: np.ndarray, Y: np.ndarray, batches: np.ndarray, eta: float, *,
                 device: Any, dtype: np.dtype | None, default_dtype: np.dtype,
                 cuda_graph: bool | None) -> None:
        dev = resolve_device(device)
        if cuda_graph and dev.type != "cuda":
            raise ValueError(f"`cuda_graph=True` needs a CUDA device; got device={device!r}")
        super().__init__(spec, weights, biases, X, Y, dev,
                         compute_dtype(dtype, dev, default_dtype))
        self.eta = eta
        self.batches = torch.as_tensor(np.asarray(batches, np.int64)).to(dev)  # moved once
        self.idx = torch.empty(batches.shape[0], batches.shape[2], dtype=torch.int64,
                               device=dev)
        self.use_graph = dev.type == "cuda" if cuda_graph is None else cuda_graph
        self.graph: Any = None  # torch.cuda.CUDAGraph once captured

    def _static_step(self) -> None:
        """The step on the static buffer: the function a CUDA graph captures."""
        self.step(self.idx, self.eta)

    def _capture(self) -> None:  # pragma: no cover - needs CUDA (run on a GPU machine)
        saved = [P.clone() for P in (*self.W, *self.b)]
        side = torch.cuda.Stream(self.dev)
        side.wait_stream(torch.cuda.current_stream(self.dev))
        with torch.cuda.stream(side):  # warm-up (cuBLAS handles, allocator) off-graph
            for _ in range(2):
                self._static_step()
        torch.cuda.current_stream(self.dev).wait_stream(side)
        for P, Q in zip((*self.W, *self.b), saved, strict=True):
            P.copy_(Q)  # undo the warm-up: the graph's first replay is step `start`
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._static_step()

    def run(self, start: int, stop: int) -> None:
        for t in range(start, stop):
            self.idx.copy_(self.batches[:, t])
            if self.use_graph:  # pragma: no cover - CUDA only
                if self.graph is None:
                    self._capture()
                self.graph.replay()
            else:
                self._static_step()


# --------------------------------------------------------------------------- Network.fit
class FitEngine(_Core):
    """``Network.fit`` with ``backend="torch"``: a stack of one, an epoch at a time."""

    def __init__(self, net: Network, X: np.ndarray, Y: np.ndarray) -> None:
        from satsim.nn._spec import _spec

        dev = resolve_device(net.device)
        super().__init__(_spec(net, "backend='torch'"), [W[None] for W in net.weights],
                         [b[None] for b in net.biases], X, Y, dev, net.dtype)

    def epoch(self, order: np.ndarray, batch_size: int, eta: float, lmbda: float,
              regularization: str, n: int) -> None:
        """Mini-batches of ``batch_size`` rows in ``order`` (the last one may be short),
        with Nielsen's L2 decay or L1 shrinkage for λ > 0 (as ``Network._update``)."""
        decay = 1.0 - eta * lmbda / n if lmbda and regularization == "l2" else 1.0
        shrink = eta * lmbda / n if lmbda and regularization == "l1" else 0.0
        rows = torch.as_tensor(np.asarray(order, np.int64)).to(self.dev)
        for s in range(0, rows.shape[0], batch_size):
            self.step(rows[s : s + batch_size].view(1, -1), eta, decay, shrink)

    def write_back(self, net: Network) -> None:
        """Copy the parameters into the network's NumPy arrays (in place when they are
        writeable arrays of its dtype, so references held elsewhere stay current)."""
        Ws, bs = self.parameters()
        for params, new in ((net.weights, Ws), (net.biases, bs)):
            for i, P in enumerate(new):
                if params[i].flags.writeable and params[i].dtype == net.dtype:
                    params[i][...] = P[0]
                else:
                    params[i] = np.array(P[0], dtype=net.dtype)
