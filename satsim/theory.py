r"""Closed-form moments of the pre-activation :math:`z = w \cdot x + b`.

Assume the coordinates of one neuron's weight vector w have a common mean
:math:`\mu_w` and variance :math:`\sigma_w^2` and are uncorrelated (true for every
preset: i.i.d. for the elementwise ones, exchangeable and uncorrelated for
orthogonal rows), that w, x and b are independent, and write
:math:`S = \sum_j x_j`.  Conditioning on x,

.. math::

    E[z \mid x] = \mu_w S + \mu_b, \qquad
    \operatorname{Var}(z \mid x) = \sigma_w^2 \lVert x \rVert^2 + \sigma_b^2,

so by the law of total variance

.. math::

    E z = \mu_w E[S] + \mu_b, \qquad
    \operatorname{Var} z = \sigma_w^2\, E\lVert x\rVert^2 + \mu_w^2 \operatorname{Var} S
                           + \sigma_b^2 .

For a fixed x, Var S = 0 and this is :math:`\sigma_w^2 \lVert x\rVert^2 + \sigma_b^2`
(Bienaymé's identity); for i.i.d. coordinates it is
:math:`n_{in}(\sigma_w^2 E[x^2] + \mu_w^2 \operatorname{Var} x) + \sigma_b^2`.
Nielsen's numbers follow: N(0, 1) weights and bias on 500 ones out of 1000 give
Var z = 501 (std ≈ 22.38); N(0, 1/1000) weights give 500/1000 + 1 = 1.5 (std ≈ 1.2247).

For a fixed x and independent weight coordinates all cumulants add,
:math:`\kappa_r(z) = \kappa_r(w) \sum_j x_j^r + \kappa_r(b)`, giving the exact
skewness :math:`\kappa_3/\operatorname{Var}^{3/2}` and excess kurtosis
:math:`\kappa_4(z)/\operatorname{Var}(z)^2` — the quantity whose decay with n_in
measures how fast the CLT makes z Gaussian.  For an orthogonal row,
:math:`w\cdot x = \text{gain}\,\lVert x\rVert\, u_1` with :math:`u_1` one coordinate of a
uniform unit vector in :math:`\mathbb{R}^d`, so
:math:`\kappa_4(w\cdot x) = \text{gain}^4 \lVert x\rVert^4 (3/(d(d+2)) - 3/d^2)`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from satsim._namespace import public_dir
from satsim._results import Result, result
from satsim._validation import check_int
from satsim.init import Initializer, Orthogonal, as_initializer
from satsim.inputs import Fixed, InputModel, as_input_model

__all__ = ["PreactivationTheory", "preactivation_moments"]

__dir__ = public_dir(globals())


@result
class PreactivationTheory(Result):
    """Exact mean, variance and (fixed inputs) skewness and excess kurtosis of z."""

    _title = "Pre-activation z = w·x + b: closed form"

    mean: float
    var: float
    skewness: float
    excess_kurtosis: float
    fan_in: int
    fan_out: int
    weights: Initializer
    inputs: InputModel
    bias: Initializer | None

    @property
    def std(self) -> float:
        return math.sqrt(self.var)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "statistic": ["mean", "var", "std", "skewness", "excess_kurtosis"],
                "theory": [self.mean, self.var, self.std, self.skewness, self.excess_kurtosis],
            }
        )


def _resolve_layer(
    weights: Any, inputs: Any, bias: Any, fan_out: Any
) -> tuple[Initializer, InputModel, Initializer | None, int, int]:
    weights = as_initializer(weights, param="weights")
    inputs = as_input_model(inputs, param="inputs")
    bias = None if bias is None else as_initializer(bias, param="bias")
    if bias is not None and not bias.elementwise:
        raise ValueError(
            f"`bias` must be an elementwise initializer (a vector cannot be {bias.name!r}); "
            f"got bias={bias!r}"
        )
    fan_in = inputs.n_in
    fan_out = fan_in if fan_out is None else check_int("fan_out", fan_out, minimum=1)
    return weights, inputs, bias, fan_in, fan_out


def _dot_fourth_cumulant(weights: Initializer, x: Fixed, fan_in: int, fan_out: int) -> float:
    var = weights.variance(fan_in, fan_out)
    if var == 0.0:
        return 0.0
    if isinstance(weights, Orthogonal):
        d = max(fan_in, fan_out)
        return weights.gain**4 * x.sq_norm_mean**2 * (3.0 / (d * (d + 2.0)) - 3.0 / d**2)
    gamma2 = weights.excess_kurtosis(fan_in, fan_out)
    return gamma2 * var**2 * x.fourth_power_sum


def preactivation_moments(
    weights: Any,
    inputs: Any,
    *,
    bias: Any = "standard_normal",
    fan_out: int | None = None,
) -> PreactivationTheory:
    r"""Exact moments of :math:`z = w \cdot x + b` for one neuron.

    Parameters
    ----------
    weights : Initializer or str
        Weight initializer or registered name.
    inputs : InputModel or 1-D array
        Input model; an array is a fixed input.  ``fan_in`` is ``inputs.n_in``.
    bias : Initializer, str or None, default "standard_normal"
        Bias initializer (sampled with the layer's fans) or ``None`` for no bias.
    fan_out : int, optional
        Width of the layer the neuron belongs to (matters for ``fan_out``/``fan_avg``
        modes and orthogonal weights).  Default: ``fan_in`` (a square layer).

    Returns
    -------
    PreactivationTheory
        ``mean``, ``var``, ``std``, ``skewness`` and ``excess_kurtosis`` (the last two
        NaN for random inputs, where z is a scale mixture and the cumulant formula
        above does not apply, and when Var z = 0).
    """
    weights, inputs, bias, fan_in, fan_out = _resolve_layer(weights, inputs, bias, fan_out)
    mu_w = weights.mean(fan_in, fan_out)
    var_w = weights.variance(fan_in, fan_out)
    mu_b = 0.0 if bias is None else bias.mean(fan_in, fan_out)
    var_b = 0.0 if bias is None else bias.variance(fan_in, fan_out)
    mean = mu_w * inputs.sum_mean + mu_b
    var = var_w * inputs.sq_norm_mean + mu_w**2 * inputs.sum_var + var_b
    skew = kurt = math.nan
    if isinstance(inputs, Fixed) and var > 0.0:
        # Cumulants of independent summands add; a zero-variance part contributes 0.
        k3 = k4 = 0.0
        if var_w > 0.0:
            k3 = weights.skewness(fan_in, fan_out) * var_w**1.5 * float(np.sum(inputs.x**3))
            k4 = _dot_fourth_cumulant(weights, inputs, fan_in, fan_out)
        if var_b > 0.0:
            k3 += bias.skewness(fan_in, fan_out) * var_b**1.5
            k4 += bias.excess_kurtosis(fan_in, fan_out) * var_b**2
        skew, kurt = k3 / var**1.5, k4 / var**2
    return PreactivationTheory(
        mean=mean,
        var=var,
        skewness=skew,
        excess_kurtosis=kurt,
        fan_in=fan_in,
        fan_out=fan_out,
        weights=weights,
        inputs=inputs,
        bias=bias,
    )
