r"""
The width of z under N(0, 1) and N(0, 1/n_in) weights
=====================================================

Nielsen's input has ``n_in = 1000`` entries, 500 of them 1 and the rest 0.  With
weights and bias drawn from N(0, 1), :math:`z = \sum_j w_j x_j + b` is a sum of 501
independent N(0, 1) terms, so :math:`z \sim N(0, 501)`: a standard deviation of
:math:`\sqrt{501} \approx 22.4`.  Scaling the weights to N(0, 1/n_in) leaves
:math:`\operatorname{Var} z = 500/1000 + 1 = 1.5`.

:func:`satsim.simulate` draws z in streamed chunks and keeps the closed form next
to the estimate; ``res.plot()`` draws the density of
the draws against the normal the theory predicts.
"""

import matplotlib.pyplot as plt

import satsim
from satsim import inputs

x = inputs.nielsen(1000, 500)
wide = satsim.simulate("standard_normal", x, n_samples=5_000, keep=5_000, rng=0)
narrow = satsim.simulate("nielsen", x, n_samples=5_000, keep=5_000, rng=0)
print(f"N(0, 1) weights:      std z = {wide.std:.2f}  (theory {wide.theory_std:.2f})")
print(f"N(0, 1/n_in) weights: std z = {narrow.std:.2f}  (theory {narrow.theory_std:.2f})")

fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
wide.plot(ax=axes[0])
axes[0].set_title("weights N(0, 1)")
narrow.plot(ax=axes[1])
axes[1].set_title("weights N(0, 1/n_in)")
plt.show()
