r"""
How many sigmoid neurons saturate, and how much slower they learn
=================================================================

A sigmoid neuron is *saturated* when its output is within 1% of 0 or 1
(:math:`|z| > \ln 99 \approx 4.6`, where :math:`\sigma'(z) < 0.01`).  For
:math:`z \sim N(0, s^2)` the saturated fraction is
:math:`2\Phi(-4.6/s)`: about 84% for Nielsen's N(0, 1) weights
(:math:`s = \sqrt{501}`), essentially none for N(0, 1/n_in) weights
(:math:`s = \sqrt{1.5}`).  A saturated hidden neuron passes back a gradient
scaled by :math:`\sigma'(z) < 0.01`, so its weights learn slowly; cross-entropy
cancels :math:`\sigma'` for the *output* layer only.

:func:`satsim.saturation.predicted_fraction` is the closed form;
:func:`satsim.saturation.fraction` measures it on Monte Carlo draws of z with a
confidence interval.
"""

import matplotlib.pyplot as plt
import numpy as np

import satsim
from satsim import activations, inputs, saturation

stds = np.geomspace(0.3, 40, 80)
predicted = saturation.predicted_fraction(stds)

measured = []
for name in ["nielsen", "he_normal", "standard_normal"]:
    res = satsim.simulate(name, inputs.nielsen(1000, 500), n_samples=4_000, keep=4_000,
                          rng=1)
    sat = saturation.fraction(res.samples)
    measured.append((name, res.std, sat))
    print(f"{name:16s} std z = {res.std:6.2f}  saturated {sat.estimate:.3f} "
          f"[{sat.ci_low:.3f}, {sat.ci_high:.3f}]")

sigmoid = activations.get("sigmoid")
z = np.linspace(-12, 12, 400)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
ax1.plot(stds, predicted, color="0.3", label="closed form")
for name, std, sat in measured:
    ax1.errorbar([std], [sat.estimate],
                 yerr=[[sat.estimate - sat.ci_low], [sat.ci_high - sat.estimate]],
                 fmt="o", capsize=3, label=name)
ax1.set_xscale("log")
ax1.set_xlabel("std of z")
ax1.set_ylabel("saturated fraction")
ax1.legend(fontsize="small")
ax2.plot(z, sigmoid.fn(z), label="σ(z)")
ax2.plot(z, sigmoid.grad(z), label="σ′(z)")
ax2.axvspan(-12, -np.log(99), color="0.9")
ax2.axvspan(np.log(99), 12, color="0.9", label="saturated")
ax2.set_xlabel("z")
ax2.legend(fontsize="small")
plt.show()
