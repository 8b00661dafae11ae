r"""
Order, chaos and the trainable depth 6ξ_c
=========================================

In a deep tanh network with weight variance :math:`\sigma_w^2/N` and bias variance
:math:`\sigma_b^2`, the variance of z settles to a fixed point :math:`q^*`, and
:math:`\chi_1 = \sigma_w^2 E[\varphi'(z)^2]` decides whether small differences
between inputs shrink (:math:`\chi_1 < 1`, ordered) or grow
(:math:`\chi_1 > 1`, chaotic).  The correlation depth scale :math:`\xi_c`
diverges at the critical line :math:`\chi_1 = 1`; networks train up to a depth of
about :math:`6\xi_c` (Schoenholz et al. 2017).

:func:`satsim.meanfield.phase_diagram` evaluates these on a grid;
:func:`satsim.meanfield.critical_line` gives the critical :math:`\sigma_w^2` for
each :math:`\sigma_b^2`.
"""

import matplotlib.pyplot as plt
import numpy as np

from satsim import meanfield

weight_variances = np.linspace(0.5, 4.0, 36)
bias_variances = np.array([0.01, 0.05, 0.3])
phase = meanfield.phase_diagram(weight_variances, bias_variances, correlation=False)
critical = meanfield.critical_line(bias_variances)
print("critical σ_w² for σ_b² =", bias_variances, ":", np.round(critical, 3))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
for i, sb in enumerate(bias_variances):
    ax1.plot(weight_variances, phase.chi1[i], label=f"σ_b² = {sb}")
    ax2.plot(weight_variances, 6 * phase.xi_c[i], label=f"σ_b² = {sb}")
    ax2.axvline(critical[i], color=f"C{i}", linestyle=":")
ax1.axhline(1.0, color="0.5", linestyle="--")
ax1.set_xlabel("σ_w²")
ax1.set_ylabel("χ1")
ax1.legend(fontsize="small")
ax2.set_yscale("log")
ax2.set_xlabel("σ_w²")
ax2.set_ylabel("trainable depth 6ξ_c (ordered phase)")
plt.show()
