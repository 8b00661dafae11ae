r"""Modern blocks in the mean-field view (:mod:`satsim.torch._meanfield`): the tensors
whose per-example moments the view knows, normalization layers and residual sums.

The state.  For a tensor h of the forward pass (the module's input, a layer's z or
its activation, a normalization's output, a residual sum) the view keeps, per
example i, the per-coordinate mean and mean square over its features and positions,

.. math::

    m_1(i) = \overline{h_{ij}}^{\,j}, \qquad m_2(i) = \overline{h_{ij}^2}^{\,j},

predicted, not measured (except for the module's input x, where they are the data's).
A layer fed h has, under the mean-field law (independent centred weights of variance
:math:`\sigma_w^2/\text{fan\_in}`, biases of variance :math:`\sigma_b^2`),
:math:`q(i) = \sigma_w^2\, m_2(i) + \sigma_b^2`.  A layer's z has :math:`m_1 = 0`,
:math:`m_2 = q`; its activation :math:`\varphi(z)` has :math:`m_1 = E\varphi(\sqrt q Z)`
and :math:`m_2 = E\varphi(\sqrt q Z)^2` (Z ~ N(0, 1); :func:`satsim.meanfield.length_map`'s
integrals).  Which tensor a layer's input is, is decided on the values (up to the
rounding of the model's dtype), never on the code of ``forward``.

LayerNorm.  :math:`y_{ij} = \gamma_j \hat h_{ij} + \beta_j` with
:math:`\hat h_{ij} = (h_{ij} - \bar h_i)/\sqrt{v_i + \varepsilon}` over the normalized
features, :math:`v_i` the example's (biased) variance.  Exactly
:math:`\overline{\hat h_{ij}}^{\,j} = 0` and :math:`\overline{\hat h_{ij}^2}^{\,j} =
v_i/(v_i + \varepsilon)`, whatever came before; treating the realised
:math:`(\gamma_j, \beta_j)` as unrelated to :math:`\hat h_{ij}` (exact for constant γ
and β, as PyTorch initializes them: 1 and 0)

.. math::

    m_2(i) = \overline{\gamma^2}\,\frac{v_i}{v_i+\varepsilon} + \overline{\beta^2},
    \qquad m_1(i) = \bar\beta .

The factor :math:`v_i/(v_i+\varepsilon)` is read from the LayerNorm's input (the one
place its input enters; it differs from 1 by :math:`\varepsilon/v_i`, 1e-5 for v = 1):
LayerNorm *resets* q every block, so nothing earlier needs to be carried.  An activation
module applied to y sees, per feature, :math:`u_{ij} \sim N(\beta_j,\,
\gamma_j^2 v_i/(v_i+\varepsilon))` (a normal law over features at width → ∞):
:math:`m_2 = \overline{E\varphi(\beta_j + \gamma_j\sqrt{f_i}Z)^2}^{\,j}`, likewise
:math:`m_1`.

BatchNorm in train mode (at initialization; Ioffe & Szegedy 2015).  Each channel c is
normalized over the batch (and positions): its batch mean is 0 and mean square
:math:`f_c = v_c/(v_c + \varepsilon)` exactly.  Per example, at width → ∞, the
normalized pre-activation of channel c is :math:`N(0, r_i)` with :math:`r_i =
\lVert a_i - \bar a\rVert^2 / \overline{\lVert a_{i'} - \bar a\rVert^2}` (a the layer's
input, ā its batch mean), whose batch mean is 1.  The view takes :math:`r_i = 1` for
every example — the per-example spread needs the batch's Gram matrix carried through
depth (Yang et al. 2019), which it does not carry — so

.. math::

    m_2 = \overline{\gamma^2}\,\bar f + \overline{\beta^2},\qquad m_1 = \bar\beta,

the same for every example, :math:`\bar f` the channels' mean factor (exact in its
batch mean for constant γ; an example whose input is far
from the batch's centre is mispredicted; and a finite batch of n standardised values
has lighter tails than N(0, 1), an O(1/n) bias — +1.5–2 % in E tanh² at n = 32).
In eval mode (running statistics) a BatchNorm is not predicted.  Its *gradient* is not
predicted either (:mod:`satsim.torch._gradients`): batch normalization at initialization makes
gradients explode with depth (Yang et al. 2019), which the gradient-independence
recursion does not model.

Residual sums (Yang & Schoenholz 2017, "Mean field residual networks: on the edge of
chaos", the full-residual network :math:`x^{l} = x^{l-1} + V\varphi(Wx^{l-1} + b) + a`).
A tensor s that equals, to rounding, :math:`s = A + B` for two known tensors — A the
stream, B the output of a later layer (its z, or its activation) — has

.. math::

    m_2^{s}(i) = m_2^{A}(i) + m_2^{B}(i) + 2\,m_1^{A}(i)\,m_1^{B}(i),
    \qquad m_1^{s} = m_1^{A} + m_1^{B}.

Why the cross term is only that: :math:`\overline{A_{ij}B_{ij}}^{\,j}` with
:math:`B_j = (V\varphi(\cdot))_j` — V's row j is independent of A and centred, so
:math:`E[A_jB_j] = 0` (B a z: :math:`m_1^B = 0`, the variances add); with B an
activation :math:`\varphi(w_j\cdot A + b_j)`, :math:`w_j` fresh, the dependence of
:math:`z_j` on the single coordinate :math:`A_j` is :math:`O(1/\sqrt{\text{width}})`, so
:math:`E[A_jB_j] \to m_1^A m_1^B`.  For Yang & Schoenholz's branch
(Linear→φ→Linear, their :math:`\sigma_v^2, \sigma_a^2` the second Linear's
:math:`\sigma_w^2, \sigma_b^2`) this is their forward recursion

.. math::

    p^{l} = p^{l-1} + \sigma_v^2\,E\varphi\big(\sqrt{\sigma_w^2 p^{l-1}+\sigma_b^2}\,Z\big)^2
    + \sigma_a^2 ,

p the stream's per-coordinate second moment: q accumulates over the blocks instead of
settling at a fixed point (linearly in depth for bounded φ, geometrically for ReLU).
Assumptions: independent centred weights, width → ∞, the skip the identity (a
projection shortcut is a layer and is followed as such; a scaled sum
:math:`A + \alpha B` or an activation applied *to* the sum is not recognised and keeps
"not predicted").

References
----------
.. [1] G. Yang, S. Schoenholz, "Mean field residual networks: on the edge of chaos",
   NeurIPS 2017.
.. [2] G. Yang, J. Pennington, V. Rao, J. Sohl-Dickstein, S. Schoenholz, "A mean
   field theory of batch normalization", ICLR 2019.
.. [3] J. L. Ba, J. R. Kiros, G. E. Hinton, "Layer normalization", 2016.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from satsim.activations import Activation
from satsim.meanfield._gaussian import expect, kernel

#: how many of the latest layer outputs are tried as a residual branch
_BRANCHES = 4


@dataclass
class Known:
    """A tensor of the forward pass with its predicted per-example moments."""

    values: np.ndarray  # (n, -1) float64
    m1: np.ndarray  # (n,)
    m2: np.ndarray  # (n,)
    name: str
    #: what a layer fed this tensor is labelled
    label: str
    #: a layer's z or activation (a residual branch can end there)
    branch: bool = False
    #: the rounding unit of the tensor's dtype
    eps: float = float(np.finfo(np.float64).eps)


def _flat(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).reshape(t.shape[0], -1).cpu().numpy()


def _eps(t: torch.Tensor) -> float:
    return float(torch.finfo(t.dtype).eps) if t.is_floating_point() else 0.0


def _close(a: np.ndarray, b: np.ndarray, eps: float, scale: float) -> bool:
    """a equals b up to rounding at ``scale`` (the largest magnitude involved)."""
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=100 * eps,
                                                   atol=100 * eps * max(scale, 1.0)))


class Stream:
    """The known tensors, in forward order; :meth:`resolve` says which one an input is."""

    def __init__(self) -> None:
        self.known: list[Known] = []
        self.n_sums = 0

    def add(self, k: Known) -> Known:
        self.known.append(k)
        return k

    def find(self, u: np.ndarray, eps: float) -> Known | None:
        scale = float(np.max(np.abs(u))) if u.size else 0.0
        for k in reversed(self.known):
            if k.values.shape == u.shape and _close(u, k.values, max(eps, k.eps), scale):
                return k
        return None

    def resolve(self, t: torch.Tensor) -> Known | None:
        """The known tensor ``t`` is, or the residual sum A + B of two known tensors
        it is (registered, so that later inputs find it)."""
        u, eps = _flat(t), _eps(t)
        found = self.find(u, eps)
        if found is not None:
            return found
        scale = float(np.max(np.abs(u))) if u.size else 0.0
        branches = [j for j, k in enumerate(self.known) if k.branch][-_BRANCHES:]
        for jb in reversed(branches):
            b = self.known[jb]
            if b.values.shape != u.shape:
                continue
            d = u - b.values
            for a in reversed(self.known[:jb]):
                if a.values.shape == u.shape and _close(d, a.values, max(eps, a.eps, b.eps),
                                                        scale):
                    self.n_sums += 1
                    name = f"h{self.n_sums}"
                    return self.add(Known(
                        u, a.m1 + b.m1, a.m2 + b.m2 + 2 * a.m1 * b.m1, name,
                        f"predicted: a residual sum {name} = {a.name} + {b.name} (Yang & "
                        "Schoenholz 2017: second moments add)", eps=eps))
        return None


def layer_outputs(stream: Stream, name: str, z: torch.Tensor, q: np.ndarray,
                  act: Activation | None) -> None:
    """Register a layer's z (m1 = 0, m2 = q) and, with a modelled activation, φ(z)."""
    zf, eps = _flat(z), _eps(z)
    stream.add(Known(zf, np.zeros(q.shape[0]), q.mean(axis=1), f"{name}.z",
                     f"predicted: the z of {name}", branch=True, eps=eps))
    if act is None or act.name == "linear":
        return
    try:
        kern = kernel(act)
        m2 = np.asarray(kern.moment2(q)).mean(axis=1)
        m1 = expect(act.fn, q).mean(axis=1)
    except (ValueError, NotImplementedError, ArithmeticError):
        return
    stream.add(Known(act.fn(zf), m1, m2, f"{act.name}({name}.z)",
                     f"predicted: the activation of {name}", branch=True, eps=eps))


def _affine(mod: nn.Module, size: int) -> tuple[np.ndarray, np.ndarray]:
    g = getattr(mod, "weight", None)
    b = getattr(mod, "bias", None)
    gamma = (np.ones(size) if g is None
             else g.detach().to(torch.float64).reshape(-1).cpu().numpy())
    beta = (np.zeros(size) if b is None
            else b.detach().to(torch.float64).reshape(-1).cpu().numpy())
    return gamma, beta


def _act_moments(act: Activation, gamma: np.ndarray, beta: np.ndarray,
                 f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Per example, the means over features j of :math:`E\varphi(\beta_j + \gamma_j
    \sqrt{f_i} Z)` and of its square."""
    if np.all(beta == 0) and np.all(gamma == gamma[0]):
        q = gamma[0] ** 2 * f
        return expect(act.fn, q), np.asarray(kernel(act).moment2(q))
    # realised (γ_j, β_j) that differ: one integral per distinct pair, at the examples'
    # mean factor f̄ (the factors differ from 1, and from each other, by ε/v only)
    pairs, counts = np.unique(np.stack([gamma, beta], axis=1), axis=0, return_counts=True)
    fbar = float(np.mean(f))
    m1 = np.zeros(f.shape)
    m2 = np.zeros(f.shape)
    for (g, b), c in zip(pairs, counts, strict=True):
        def phi(v: np.ndarray, g: float = float(g), b: float = float(b)) -> np.ndarray:
            return np.asarray(act.fn(b + g * v))

        def phi2(v: np.ndarray, g: float = float(g), b: float = float(b)) -> np.ndarray:
            return np.asarray(act.fn(b + g * v)) ** 2

        m1 += c * float(expect(phi, fbar))
        m2 += c * float(expect(phi2, fbar))
    return m1 / counts.sum(), m2 / counts.sum()


def norm_outputs(stream: Stream, call: Any, act: Activation | None) -> None:
    """Register a LayerNorm's (or train-mode BatchNorm's) output and, with a modelled
    activation module after it, that activation's output (module docstring)."""
    mod, inp = call.module, call.inp.detach().to(torch.float64)
    n, eps = inp.shape[0], float(mod.eps)
    kind = type(mod).__name__
    if isinstance(mod, nn.LayerNorm):
        dims = tuple(range(inp.ndim - len(mod.normalized_shape), inp.ndim))
        v = inp.var(dim=dims, unbiased=False)
        f = (v / (v + eps)).reshape(n, -1).mean(dim=1).cpu().numpy()
        gamma, beta = _affine(mod, math.prod(mod.normalized_shape))
        what = f"{kind} (q reset per example: mean(γ²)·v/(v+ε) + mean(β²))"
    elif isinstance(mod, nn.modules.batchnorm._BatchNorm) and call.training and inp.ndim >= 2:
        dims = (0, *range(2, inp.ndim))
        v = inp.var(dim=dims, unbiased=False).cpu().numpy()
        gamma, beta = _affine(mod, inp.shape[1])
        f = np.full(n, float(np.mean(v / (v + eps))))  # the channels' mean factor
        what = (f"{kind} in train mode (each channel's batch mean square γ²·v/(v+ε) + β²; "
                "the same for every example)")
    else:
        return
    m2 = float(np.mean(gamma**2)) * f + float(np.mean(beta**2))
    m1 = np.full(n, float(np.mean(beta)))
    stream.add(Known(_flat(call.z), m1, m2, call.name,
                     f"predicted: after {what}", eps=_eps(call.z)))
    if act is None or act.name == "linear":
        return
    try:
        a1, a2 = _act_moments(act, gamma, beta, f)
    except (ValueError, NotImplementedError, ArithmeticError):
        return
    stream.add(Known(act.fn(_flat(call.z)), a1, a2, f"{act.name}({call.name})",
                     f"predicted: after {what} and {act.name}", eps=_eps(call.z)))
