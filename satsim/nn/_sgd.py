"""The fused mini-batch SGD epoch of :class:`satsim.nn.Network` (plain SGD, no momentum
or dropout): preallocated per-layer buffers, φ applied in place, BLAS writing z, δ and
the updated parameters directly.  :meth:`Network.fit` uses it when it applies; results
equal the general path (``_backprop`` then ``_update``) up to rounding (tested)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special
from scipy.linalg import blas

from satsim.activations import ReLU, Sigmoid, Tanh

if TYPE_CHECKING:
    from satsim.nn.network import Network

#: hidden activations whose φ the fused step applies in place (and whose φ' it computes
#: from φ(z) alone); exact types only, so a subclass keeps its own methods
_INPLACE: dict[str, Any] = {"tanh": np.tanh, "sigmoid": special.expit,
                            "relu": lambda z, out: np.maximum(z, 0, out=out)}
_INPLACE_TYPES = {Tanh: "tanh", Sigmoid: "sigmoid", ReLU: "relu"}


class _FusedPlan:
    """Per-fit buffers of :func:`fused_epoch`: one (batch, width) array per
    layer for z (φ(z) in place where possible), for δ and for φ', and the BLAS
    routines of the network's dtype (``?gemm``/``?gemv``, which write a destination
    in place when it is Fortran-contiguous — a C-ordered array's transpose)."""

    def __init__(self, net: Network, batch: int) -> None:
        dt, widths = net.dtype, net.sizes[1:]
        self.batch = batch
        self.gemm, self.gemv = blas.get_blas_funcs(("gemm", "gemv"), dtype=dt)
        self.kinds = [_INPLACE_TYPES.get(type(phi), "generic") for phi in net.activations]
        self.kinds.append("output")
        self.x = np.empty((batch, net.sizes[0]), dt)
        self.y = np.empty((batch, net.sizes[-1]), dt)
        self.z = [np.empty((batch, w), dt) for w in widths]
        self.d = [np.empty((batch, w), dt) for w in widths[:-1]]
        self.t = [np.empty((batch, w), dt) for w in widths[:-1]]
        self.sign: list[np.ndarray] = []  # sgn W for L1, allocated on first use
        self.ones = np.ones(batch, dt)


def fused_plan(self: Network, batch: int) -> _FusedPlan | None:
    """Buffers and kernels for :func:`fused_epoch`, or None (then fit takes the
    general path) when a parameter is not a writeable C-contiguous array of the
    network's dtype (BLAS must update it in place, not a converted copy)."""
    if not all(P.flags.c_contiguous and P.flags.writeable and P.dtype == self.dtype
               for P in itertools.chain(self.weights, self.biases)):
        return None
    return _FusedPlan(self, batch)

def fused_epoch(self: Network, plan: _FusedPlan, X: np.ndarray, Y: np.ndarray, order: np.ndarray,
                 eta: float, lmbda: float, regularization: str, n: int) -> None:
    r"""One epoch of plain mini-batch SGD over the rows of X (one-hot Y) taken in
    ``order``: the maths of :meth:`Network._backprop` then :meth:`Network._update`, fused.

    Each mini-batch's rows are gathered into a preallocated buffer (no shuffled
    copy of the whole data set: for 50,000 images that copy, with its page faults,
    took from a sixth to more than a whole epoch of 784-30-10 training).  The same
    operations with fewer passes over memory: preallocated buffers, φ applied in
    place, each BLAS call writing its destination directly (in Fortran
    terms a C-ordered ``W`` is :math:`W^\top`): :math:`Z = \mathbf 1 b^\top + A
    W^\top` (gemm with β = 1 onto a copy of b), :math:`\delta^{l-1} = \delta^l W^l`
    (taken before :math:`W^l` moves), and the update itself :math:`W \leftarrow
    (1-\eta\lambda/n) W - (\eta/m)\,\delta^\top A` and :math:`b \leftarrow b -
    (\eta/m)\,\delta^\top\mathbf 1` (gemm/gemv with α = −η/m, β = decay: no gradient
    array).  Results differ from the unfused path only by rounding."""
    # gemm(α, a, b, β, c, trans_a, trans_b, overwrite_c): c ← α op(a) op(b) + β c in
    # place (positional: keyword parsing is a fifth of a small call's cost)
    gemm, gemv = plan.gemm, plan.gemv
    Ws, bs, kinds, phis = self.weights, self.biases, plan.kinds, self._layer_acts
    last = len(Ws) - 1
    l2 = bool(lmbda) and regularization == "l2"
    decay = 1.0 - eta * lmbda / n if l2 else 1.0
    shrink = self.dtype.type(eta * lmbda / n) if lmbda and not l2 else None
    if shrink is not None and not plan.sign:
        plan.sign = [np.empty_like(W) for W in Ws]
    acts: list[np.ndarray] = [X] * (last + 1)
    zs: list[np.ndarray] = list(acts)
    for s in range(0, order.shape[0], plan.batch):
        rows = order[s : s + plan.batch]
        m = rows.shape[0]
        # mode="clip": the rows are valid, and "raise" would buffer `out`
        a = acts[0] = np.take(X, rows, axis=0, out=plan.x[:m], mode="clip")
        yb = np.take(Y, rows, axis=0, out=plan.y[:m], mode="clip")
        for i in range(last + 1):
            z = zs[i] = plan.z[i][:m]
            z[...] = bs[i]
            gemm(1.0, Ws[i].T, a.T, 1.0, z.T, 1, 0, 1)
            kind = kinds[i]
            if kind == "generic":
                a = phis[i].fn(z)
            elif kind == "output":
                a = self.output.fn(z)
            else:  # in place: z's buffer now holds φ(z); the derivative needs only that
                _INPLACE[kind](z, out=z)
                a = z
            if i < last:
                acts[i + 1] = a
        delta = self._output_delta(z, a, yb)
        step = -eta / m
        for i in range(last, -1, -1):
            W = Ws[i]
            if i:
                d = plan.d[i - 1][:m]
                gemm(1.0, W.T, delta.T, 0.0, d.T, 0, 0, 1)  # δW, before W moves
            if shrink is not None:
                np.sign(W, out=plan.sign[i])
                plan.sign[i] *= shrink
                W -= plan.sign[i]
            gemm(step, acts[i].T, delta.T, decay, W.T, 0, 1, 1)
            gemv(step, delta.T, plan.ones[:m], beta=1.0, y=bs[i], overwrite_y=1)
            if i:
                a_prev, kind = acts[i], kinds[i - 1]
                t = plan.t[i - 1][:m]
                if kind == "tanh":  # 1 − a²
                    np.multiply(a_prev, a_prev, out=t)
                    np.subtract(1, t, out=t)
                    d *= t
                elif kind == "sigmoid":  # a(1 − a)
                    np.subtract(1, a_prev, out=t)
                    t *= a_prev
                    d *= t
                elif kind == "relu":  # z > 0 ⇔ a > 0
                    d *= a_prev > 0
                else:
                    d *= phis[i - 1].grad_from(zs[i - 1], a_prev)
                delta = d
