r"""Layer-sequential unit-variance initialization (LSUV; Mishkin & Matas 2016).

A data-dependent initializer of :class:`~satsim.nn.Network`: ``Network(sizes,
init=LSUV(X_batch))`` draws every weight matrix from the ``base`` initializer
(orthogonal by default, as the paper's Algorithm 1 pre-initializes) and the biases from
the network's ``bias_init``, then calibrates the layers in order, first to last
(output layer included).  For layer l, with :math:`A^{l-1}` the batch propagated through
the already-calibrated layers 1 … l−1 (the network's activations and dtype; :math:`A^0 =
X`):

.. math::

    Z^l = A^{l-1} W^{l\top} + b^l, \qquad
    v = \operatorname{Var}(Z^l) = \frac{1}{mn_l}\sum_{i,j}\big(Z^l_{ij} - \bar Z^l\big)^2,
    \qquad W^l \leftarrow W^l \sqrt{\text{target}/v},

repeated until :math:`|v - \text{target}| < \text{tol}` or ``max_iter`` rescalings.  The
variance is that of the layer's whole pre-activation "output blob" :math:`B_L` of the
paper — over the m batch rows and the :math:`n_l` units together, about the grand mean,
``ddof=0`` — computed in float64 whatever the network's dtype.  The paper's target is
1; ``target`` generalises it (the update is the paper's :math:`W/\sqrt v` at target 1).

Biases are not rescaled; the paper's networks start them at 0, and so should these
(``bias_init="zeros"``): :class:`~satsim.nn.Network`'s default N(0, 1) biases have
variance 1 by themselves, the target.  Since the grand
variance includes the spread of the biases over units, a layer whose biases alone have
:math:`\operatorname{Var}_j b_j \ge \text{target} + \text{tol}` can never reach the
target: :math:`v \to \operatorname{Var}_j b_j` as W shrinks.  A layer that ends
``max_iter`` rescalings outside the tolerance (or whose z has zero variance, so there is
nothing to rescale) is reported by one
:class:`~satsim._warnings.ConvergenceWarning` naming the layers, and recorded with
``converged=False`` in ``Network.init_report``
(an :class:`LSUVResult`).

References
----------
.. [1] D. Mishkin, J. Matas, "All you need is a good init", ICLR 2016, Algorithm 1.
.. [2] A. Saxe, J. McClelland, S. Ganguli, "Exact solutions to the nonlinear dynamics
   of learning in deep linear neural networks", ICLR 2014 (the orthogonal base).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from satsim._namespace import public_dir
from satsim._results import Result, result
from satsim._validation import check_array, check_int, check_real
from satsim._warnings import ConvergenceWarning

if TYPE_CHECKING:
    from satsim.init import Initializer

__all__ = ["LSUV", "LSUVResult"]

__dir__ = public_dir(globals())


@dataclasses.dataclass(frozen=True, eq=False, repr=False, init=False)
class LSUV:
    """LSUV as the ``init`` of :class:`~satsim.nn.Network` (module docstring).

    Parameters
    ----------
    X : array_like (m, sizes[0])
        The calibration batch: at least 2 finite rows (Mishkin & Matas use one
        mini-batch; a few hundred training rows give the variance to a few percent).
        A read-only float64 copy is kept.
    base : Initializer or str, default "orthogonal"
        Draws the weights before calibration.
    tol : float > 0, default 0.1
        Stop rescaling a layer once :math:`|\\operatorname{Var} z - \\text{target}| <`
        ``tol`` (the paper's Tol_var).
    max_iter : int >= 1, default 10
        Most rescalings per layer (the paper's T_max).
    target : float > 0, default 1.0
        The pre-activation variance each layer is calibrated to.

    Examples
    --------
    >>> import numpy as np
    >>> from satsim.nn import LSUV, Network
    >>> X = np.random.default_rng(0).random((200, 20))
    >>> net = Network([20, 30, 5], activation="tanh", init=LSUV(X), bias_init="zeros", rng=1)
    >>> bool(np.all(np.abs(net.init_report.to_frame().var_after - 1) < 0.1))
    True
    """

    X: np.ndarray
    base: Initializer
    tol: float
    max_iter: int
    target: float
    #: recorded as the network's ``init`` name (e.g. in saved files)
    name: str = dataclasses.field(default="lsuv", init=False)

    def __init__(self, X: ArrayLike, *, base: Any = "orthogonal", tol: float = 0.1,
                 max_iter: int = 10, target: float = 1.0) -> None:
        from satsim.init import as_initializer

        batch = np.array(check_array("X", X, ndim=2, min_rows=2), dtype=np.float64)
        batch.setflags(write=False)
        object.__setattr__(self, "X", batch)
        object.__setattr__(self, "base", as_initializer(base, param="base"))
        object.__setattr__(self, "tol", check_real("tol", tol, low=0.0, low_inclusive=False))
        object.__setattr__(self, "max_iter", check_int("max_iter", max_iter, minimum=1))
        object.__setattr__(self, "target", check_real("target", target, low=0.0,
                                                      low_inclusive=False))

    def __repr__(self) -> str:
        m, n = self.X.shape
        return (f"LSUV(<batch of {m} rows x {n}>, base={self.base.name!r}, tol={self.tol!r}, "
                f"max_iter={self.max_iter!r}, target={self.target!r})")


@result
class LSUVResult(Result):
    """What LSUV did to each layer: rescalings, the cumulative scale applied to W, and
    Var z on the calibration batch before and after (module docstring)."""

    _title = "LSUV initialization (Mishkin & Matas 2016)"

    base: str
    tol: float
    max_iter: int
    target: float
    n_rows: int
    iterations: tuple[int, ...]
    scale: tuple[float, ...]
    var_before: tuple[float, ...]
    var_after: tuple[float, ...]
    converged: tuple[bool, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row per layer: ``layer``, ``iterations`` (rescalings), ``scale`` (the
        product of the factors W was multiplied by), ``var_before`` (Var z with the
        base weights, the earlier layers calibrated), ``var_after`` and
        ``converged`` (:math:`|` ``var_after`` − target| < tol)."""
        return pd.DataFrame({
            "layer": np.arange(1, len(self.scale) + 1), "iterations": list(self.iterations),
            "scale": list(self.scale), "var_before": list(self.var_before),
            "var_after": list(self.var_after), "converged": list(self.converged),
        })

    def _summary_header(self) -> list[str]:
        return [f"base {self.base!r}, target {self.target:g} ± {self.tol:g}, "
                f"{self.n_rows} calibration rows, at most {self.max_iter} rescalings"]

    def to_json(self) -> dict[str, Any]:
        """The result as JSON values (for a saved network's metadata)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in ((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))}

    @classmethod
    def from_json(cls, data: Any) -> LSUVResult:
        """Inverse of :meth:`to_json`, checking every value (the file is untrusted);
        raises ValueError saying what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        if set(data) != names:
            raise ValueError(f"expected the keys {sorted(names)}; got {sorted(map(str, data))}")

        def real(v: Any) -> bool:
            return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)

        def whole(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 0

        if not isinstance(data["base"], str):
            raise ValueError("'base' must be a name")
        for key in ("tol", "target"):
            if not real(data[key]):
                raise ValueError(f"{key!r} must be a finite number")
        for key in ("max_iter", "n_rows"):
            if not whole(data[key]):
                raise ValueError(f"{key!r} must be a non-negative integer")
        columns = ("iterations", "scale", "var_before", "var_after", "converged")
        lengths = {len(data[k]) if isinstance(data[k], list) else -1 for k in columns}
        if len(lengths) != 1 or -1 in lengths:
            raise ValueError(f"{', '.join(columns)} must be lists of one equal length")
        checks = {"iterations": whole, "scale": real, "var_before": real, "var_after": real,
                  "converged": lambda v: isinstance(v, bool)}
        for key, ok in checks.items():
            if not all(ok(v) for v in data[key]):
                raise ValueError(f"{key!r} holds a value of the wrong kind")
        return cls(base=data["base"], tol=float(data["tol"]), max_iter=data["max_iter"],
                   target=float(data["target"]), n_rows=data["n_rows"],
                   iterations=tuple(data["iterations"]),
                   scale=tuple(float(v) for v in data["scale"]),
                   var_before=tuple(float(v) for v in data["var_before"]),
                   var_after=tuple(float(v) for v in data["var_after"]),
                   converged=tuple(data["converged"]))


def _variance(z: np.ndarray) -> float:
    """Var over rows and units together, about the grand mean, ddof=0, in float64."""
    return float(np.var(z, dtype=np.float64))


def _calibrate(lsuv: LSUV, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
              activations: Sequence[Any], *, stacklevel: int = 2) -> LSUVResult:
    """Rescale ``weights`` in place, layer by layer (Algorithm 1).

    ``activations[i].fn`` maps layer i's z to the next layer's input (only the hidden
    layers' are used); the batch is cast to the weights' dtype.  Warns with a
    :class:`~satsim._warnings.ConvergenceWarning` for the layers left outside the
    tolerance."""
    a = lsuv.X.astype(weights[0].dtype)
    target, tol = lsuv.target, lsuv.tol
    iterations, scales, before, after, converged = [], [], [], [], []
    problems = []
    last = len(weights) - 1
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = a @ W.T
        z += b
        v = v0 = _variance(z)
        scale, steps = 1.0, 0
        while abs(v - target) >= tol and steps < lsuv.max_iter and v > 0:
            factor = math.sqrt(target / v)
            W *= W.dtype.type(factor)
            scale *= factor
            steps += 1
            z = a @ W.T
            z += b
            v = _variance(z)
        ok = abs(v - target) < tol
        iterations.append(steps)
        scales.append(scale)
        before.append(v0)
        after.append(v)
        converged.append(ok)
        if not ok:
            vb = _variance(b)
            if v == 0:
                why = "z has zero variance on the batch: nothing to rescale"
            elif vb >= target - tol:
                why = (f"Var z = {v:.4g}: its biases alone have Var = {vb:.4g} over units, "
                       f"which rescaling W cannot remove (a bias initializer with less "
                       f"variance, e.g. bias_init='zeros', can converge)")
            else:
                why = f"Var z = {v:.4g} after {steps} rescalings"
            problems.append(f"layer {i + 1} ({why})")
        if i < last:
            a = activations[i].fn(z)
    if problems:
        warnings.warn(
            f"LSUV did not bring Var z within tol={tol:g} of target={target:g} in "
            f"max_iter={lsuv.max_iter} rescalings for {'; '.join(problems)}; those layers "
            "keep their last scale (Network.init_report has the details)",
            ConvergenceWarning, stacklevel=stacklevel)
    return LSUVResult(base=lsuv.base.name, tol=tol, max_iter=lsuv.max_iter, target=target,
                      n_rows=lsuv.X.shape[0], iterations=tuple(iterations),
                      scale=tuple(scales), var_before=tuple(before), var_after=tuple(after),
                      converged=tuple(converged))
