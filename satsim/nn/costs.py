r"""Cost functions as small strategy objects (after Nielsen's ``network2.py``).

Each cost has ``fn(z, a, y)`` — the summed cost of a batch, :math:`\sum_x C_x` —
and ``delta(z, a, y)`` — :math:`\partial C_x/\partial z^L`, the output-layer error of
every example.  ``y`` is one-hot, shape (batch, classes); ``z``, ``a`` likewise.

* ``quadratic`` (any output): :math:`C_x = \tfrac12\lVert a - y\rVert^2`,
  :math:`\delta^L = (a-y)\odot\varphi'(z)` (for softmax, the full Jacobian);
* ``cross_entropy`` (sigmoid output):
  :math:`C_x = -\sum_j y_j\ln a_j + (1-y_j)\ln(1-a_j)`, :math:`\delta^L = a - y`;
* ``log_likelihood`` (softmax output): :math:`C_x = -\ln a_{y}`, :math:`\delta^L = a - y`.

The cross-entropy and log-likelihood values are computed from the logits z
(:math:`\ln(1+e^{z}) - yz` and :math:`\operatorname{logsumexp}(z) - z_y`), so they stay
finite where ``a`` rounds to 0 or 1 — Nielsen's ``np.nan_to_num`` is not needed.
Softmax + log-likelihood has the same δ as sigmoid + cross-entropy (Nielsen ch. 3,
problem "softmax and log-likelihood"), which a test checks.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from satsim._namespace import public_dir

__all__ = ["COSTS", "Cost", "CrossEntropyCost", "LogLikelihoodCost", "QuadraticCost"]

__dir__ = public_dir(globals())


class Cost(abc.ABC):
    name: str
    #: output layers this cost is defined for (None: any)
    outputs: tuple[str, ...] | None = None

    @abc.abstractmethod
    def fn(self, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> float:
        """Summed cost of the batch."""

    @abc.abstractmethod
    def delta(self, z: np.ndarray, a: np.ndarray, y: np.ndarray, output: Any) -> np.ndarray:
        """∂C_x/∂z^L for every example (same shape as z); ``output`` is the output layer."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class QuadraticCost(Cost):
    name = "quadratic"

    def fn(self, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> float:
        d = a - y
        return 0.5 * float(np.einsum("ij,ij->", d, d))

    def delta(self, z: np.ndarray, a: np.ndarray, y: np.ndarray, output: Any) -> np.ndarray:
        return (a - y) * output.grad(z)


class CrossEntropyCost(Cost):
    name = "cross_entropy"
    outputs = ("sigmoid",)

    def fn(self, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> float:
        # −[y ln σ(z) + (1−y) ln(1−σ(z))] = ln(1 + e^z) − y z
        return float(np.sum(np.logaddexp(0, z) - y * z))

    def delta(self, z: np.ndarray, a: np.ndarray, y: np.ndarray, output: Any) -> np.ndarray:
        return a - y


class LogLikelihoodCost(Cost):
    name = "log_likelihood"
    outputs = ("softmax",)

    def fn(self, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> float:
        # Σ_rows log Σ_k e^{z_k} with each row's max shifted out, as
        # scipy.special.logsumexp computes it but without its per-call overhead (0.36 ms
        # on a 225 × 10 batch, more than the sum: this runs at every monitored epoch);
        # a non-finite max (a diverged network) is not shifted, so the cost is inf/nan
        m = z.max(axis=1, keepdims=True)
        m[~np.isfinite(m)] = 0.0
        lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
        return float(np.sum(lse) - np.einsum("ij,ij->", z, y))

    def delta(self, z: np.ndarray, a: np.ndarray, y: np.ndarray, output: Any) -> np.ndarray:
        return a - y


COSTS: dict[str, type[Cost]] = {
    c.name: c for c in (QuadraticCost, CrossEntropyCost, LogLikelihoodCost)
}
