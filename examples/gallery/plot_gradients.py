r"""
Gradients through depth: measured against the mean-field recursion
==================================================================

Backpropagation multiplies the error signal :math:`\delta^l` by
:math:`W^{l+1\top}` and :math:`\varphi'(z^l)` at every layer, so its squared norm
changes by the factor :math:`\sigma_w^2 E[\varphi'(z)^2]` per layer — :math:`\chi_1`
at the fixed point.  Below the critical line the gradients vanish with depth,
above it they explode.

:func:`satsim.gradients.gradient_moments` measures
:math:`\lVert\delta^l\rVert^2` in freshly initialized networks (with a Student-t
interval over independent networks) next to the mean-field prediction.
"""

import matplotlib.pyplot as plt

from satsim import gradients, init

sizes = [50] + [50] * 8 + [10]
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
for i, scale in enumerate([0.5, 1.0, 2.0]):
    weights = init.VarianceScaling(scale, "fan_in", "normal")
    res = gradients.gradient_moments(sizes, weights, "tanh", bias=None, n_probe=20,
                                     networks=4, rng=i)
    t = res.to_frame()
    ax.errorbar(t["layer"], t["delta_sq"],
                yerr=[t["delta_sq"] - t["delta_sq_ci_low"], t["delta_sq_ci_high"] - t["delta_sq"]],
                fmt="o", color=f"C{i}", capsize=2, label=f"σ_w² = {scale} (measured)")
    ax.plot(t["layer"], t["delta_sq_predicted"], color=f"C{i}", linestyle="--")
ax.set_yscale("log")
ax.set_xlabel("layer")
ax.set_ylabel("‖δˡ‖² / N (dashed: mean field)")
ax.legend(fontsize="small")
plt.show()
