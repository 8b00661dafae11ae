r"""Bienaymé's identity, checked with tests whose size and power are verified.

For random variables :math:`X_1, \dots, X_k` and constants :math:`a_i`,

.. math::

    \operatorname{Var}\Big(\sum_i a_i X_i\Big)
      = \sum_i a_i^2 \operatorname{Var}(X_i)
      + 2 \sum_{i<j} a_i a_j \operatorname{Cov}(X_i, X_j),

so the variances add exactly when the components are uncorrelated.  The
initialization argument uses it for :math:`z = \sum_j w_j x_j + b`.  On a sample
the identity holds *exactly* with sample moments (the decomposition returned by
:func:`check_sum_variance` is that algebra, to rounding); the question a test
answers is whether the population covariance term is zero.

Which randomness.  Each row of ``components`` is one joint draw of
:math:`(X_1, \dots, X_k)`; variances are taken over the rows.  For products
:math:`X_j = w_j x_j` (:func:`satsim.components.products`) the rows may redraw
the weights for a fixed input (variance over weights), the inputs for fixed
weights (variance over inputs), or both; the identity's truth can differ between
these (real pixels are correlated, so over inputs it fails).

The statistic.  :math:`R = \widehat{\operatorname{Var}}(S) / U`, with
:math:`U = \sum_i a_i^2 \widehat{\operatorname{Var}}(X_i)`, estimates
:math:`\rho = 1 + 2\sum_{i<j} a_i a_j \operatorname{Cov}_{ij} / \sum_i a_i^2 \sigma_i^2`;
H0 is ρ = 1.  On the sample :math:`R - 1 = 2 \sum_{i<j} a_i a_j \widehat{\operatorname{Cov}}_{ij}
/ U` exactly, and for *independent* components
:math:`\operatorname{Var}(\widehat{\operatorname{Cov}}_{ij}) = \sigma_i^2 \sigma_j^2 / n`, so
under H0

.. math::

    \operatorname{Var}(R) \approx \frac{2}{n}\Big(1 - \frac{\sum_i a_i^4 \sigma_i^4}
    {\sigma_S^4}\Big), \qquad \sigma_S^2 = \sum_i a_i^2 \sigma_i^2 ,

with no fourth moment in it.  Fourth moments enter away from H0 (the variance of a
variance is :math:`(\mu_4 - \sigma^4)/n`) and for components that are uncorrelated
but dependent, where :math:`\operatorname{Var}(\widehat{\operatorname{Cov}}_{ij})
= E[(X_i - \mu_i)^2 (X_j - \mu_j)^2] / n` (e.g. :math:`w_j x_j` over weights *and*
inputs with correlated input coordinates: :math:`E w = 0` makes them uncorrelated,
the shared brightness of the pixels makes their squares correlated).

The tests (``method``).

* ``"asymptotic"`` (default) — valid without normality.  With the influence
  function of a variance, :math:`\mathrm{IF}(y) = (y-\mu)^2 - \sigma^2`, the delta
  method gives :math:`\operatorname{Var}(\log R) \approx \operatorname{Var}(g) /
  (n \hat V^2)` with :math:`g = (S - \bar S)^2 - R \sum_i a_i^2 (X_i - \bar X_i)^2`;
  the interval and Wald test are on :math:`\log R` (better coverage for a ratio).
  The standard error is estimated from the data, so it is right under H0 for
  independent components (it needs only second moments of the products
  :math:`(X_i - \mu_i)(X_j - \mu_j)`, which exist whenever the variances do: the
  measured size is 0.054 for t(3.5) and 0.060 for t(2.5) components, whose kurtosis
  is infinite, over 3000 replications at n = 4000),
  for dependent-but-uncorrelated ones, and (with finite fourth moments) away from
  H0.  With an infinite fourth moment the *interval* is a confidence set only at
  ρ = 1 (test inversion): away from 1 the ratio's sampling variance is infinite
  and its coverage is not guaranteed.

  Where it is liberal.  The Wald statistic behaves like a studentized mean of g,
  whose two-sided size error is of order :math:`\gamma^2/n` (Hall 1992), γ the
  skewness of g.  Under independence :math:`\gamma = \sum_{i<j} e_i e_j /
  (\sum_{i<j} s_i s_j)^{3/2}` with :math:`s_i = a_i^2 \sigma_i^2` and
  :math:`e_i = a_i^3 E(X_i - \mu_i)^3` — for two standardised components the
  product :math:`\gamma_1 \gamma_2` of their skewnesses.  It is large for skewed,
  heavy-tailed components at moderate n.  Measured sizes at α = 0.05 (binomial
  calibration, k = 2): 0.13–0.14 for lognormal(σ = 1.5) at n = 4000, 0.07–0.09 for
  exponential and Poisson(0.3) at n = 200, 0.093 for Bernoulli(0.1) at n = 500, against
  0.04–0.06 for normal, uniform, t(5), lognormal(0.5), Bernoulli(0.1) (k = 4) and
  exponential (n ≥ 1000).  The test estimates :math:`\hat\gamma^2 / n` from the
  sample moments of the components (reported as ``skewness_index``) and emits an
  :class:`~satsim._warnings.ApproximationWarning` naming ``method="permutation"``
  when it exceeds :data:`SKEWNESS_LIMIT`; below :data:`SMALL_N` draws it warns for
  any data (:class:`~satsim._warnings.MonteCarloPrecisionWarning`).  For laws
  without a third moment (Student t with df ≤ 3) the sample skewness is noise and
  the warning can fire on symmetric data (24% of samples for t(2.5) at n = 4000):
  the recommended method is then merely safer, not necessary.
* ``"permutation"`` — a studentized permutation test: each column is permuted
  independently ``n_resamples`` = B times (which keeps every marginal law and
  destroys all dependence), the statistic is :math:`T = \log R / \widehat{se}`
  recomputed on every permutation, and :math:`p = (1 + \#\{|T^*| \ge |T|\})/(B + 1)`.
  For independent components (rows i.i.d.) the permuted data have the same law as
  the data, so :math:`P(p \le \alpha) \le \alpha` *exactly*, for any n and any law:
  it is the method for skewed or discrete components and small n (measured size
  0.049, 0.049 and 0.054 over 1000 replications for those lognormal, exponential and
  Poisson cases).  For components that are uncorrelated but dependent it is
  asymptotically valid through the studentization (DiCiccio and Romano 2017), not
  exact (measured 0.043 for the brightness example below).  The interval is
  :math:`\log R \pm q^* \widehat{se}` with :math:`q^*` the permutation critical
  value of :math:`|T^*|`, so 1 ∉ CI ⇔ reject (up to ties); away from ρ = 1 its
  coverage is approximate, as the asymptotic one's.  With :math:`\alpha (B + 1) < 1`
  it cannot reject (the interval is :math:`[0, \infty)`): take B ≥ 1/α.  Cost
  :math:`O(B n k)` (about 0.3 s for B = 99 at n = 4000, k = 50).
* ``"normal_theory"`` — the chi-square interval :math:`(n-1)\hat V / \chi^2_{n-1}`
  for Var(S), with the denominator U treated as known.  Its error is not about
  tails: it uses :math:`\operatorname{Var}(R) = 2/n` (chi-square for normal S),
  ignoring that U is estimated from the same draws and positively correlated with
  the numerator.  Under independence the truth is the formula above, whatever the
  tails, so it is *conservative* for small k (measured size ≈ 0.003–0.015 at k = 2
  and 0.02–0.03 at k = 4 for normal, t(5) and lognormal components, against the
  first-order 2Φ(−1.96·√(2/v)) = 0.006 and 0.024, v = n Var(R); nominal as k grows
  with comparable variances), and *anti-conservative* (0.11–0.16) for components
  that are uncorrelated but dependent, such as :math:`w_j x_j` over weights *and*
  inputs whose pixels share a random brightness (0.117 for 8 pixels, where the
  asymptotic test has 0.047).
* ``"bootstrap"`` — :func:`scipy.stats.bootstrap` over rows (BCa interval);
  p-value :math:`(1 + \#\{|\log R^*_b - \log R| \ge |\log R|\})/(B + 1)`.  Liberal in
  the same skewed regime as the asymptotic test (0.077 for lognormal(σ = 1.5),
  n = 4000), and warns there too.

The interval has confidence level 1 − α, so ``reject`` ⇔ 1 ∉ CI (asymptotic,
permutation and normal theory).  With ``margin`` m, TOST tests H0: ``|ρ − 1| ≥ m``
against H1: 1 − m < ρ < 1 + m: equivalence ⇔ the 1 − 2α interval lies inside
(1 − m, 1 + m).  A CI that excludes 1 *and* lies inside the margin gives
``reject`` and ``equivalent`` together: the sum's variance differs from the sum of
variances detectably, but by less than m (with many draws a 2% excess is both).

Degenerate samples.

* All weighted component variances zero: the ratio is 0/0, NaN, no decision
  (``reject`` False), with a :class:`~satsim._warnings.DegenerateDistributionWarning`.
* Var(S) = 0 although the components vary — perfect cancellation, e.g.
  :math:`X_2 = -X_1`: the ratio is 0, the identity fails as badly as it can.  With
  at least :data:`SMALL_N` draws the result says so: ``ratio = ci_low = ci_high =
  0``, ``p_value = 0``, ``reject`` True and (with a margin) ``equivalent`` False,
  whatever the method; with fewer draws (a few rows of a discrete law can cancel by
  chance) the p-value and interval are NaN.  It is warned as degenerate too.
* A zero standard error with a non-zero ratio (one weight reused for every
  component, so every :math:`X_i` is a multiple of the same draw): deterministic,
  the interval collapses to the ratio and p is 0 (or 1 if the ratio is exactly 1);
  below :data:`SMALL_N` draws (n = 2 always gives 0) no decision.

Scale.  Every statistic is computed on the data rescaled column by column by
powers of two (exact in floating point) and the weights rescaled to match, so no
intermediate square or fourth power overflows or underflows: ``ratio``, the
interval, the p-values, the decisions, correlations and shares are the same for
data in units of 1e-300 or 1e300.  The variances, covariances and contributions
are reported in the data's own squared units and may themselves be ``inf`` or
0.0 when those squares are not representable in float64 (beyond about 1e±154).

Names.  A :class:`pandas.DataFrame` keeps its column names: in the summary, in
:meth:`SumVarianceResult.pairs_frame` (``name_i``, ``name_j``) and
:meth:`SumVarianceResult.components_frame`; ``weights`` may then be given by name
(a dict or a Series indexed by column name).

Missing values (``nan_policy``, scipy's convention).  ``"raise"`` (default: a NaN
in simulated draws is a bug upstream) refuses NaN; ``"omit"`` drops every row with
a NaN (listwise: a row is one *joint* draw, so a row missing a component is not
one), reporting how many in ``n_omitted``; ``"propagate"`` returns NaN statistics
and ``reject`` False.  Infinite values are refused under every policy.

Streaming.  The asymptotic and normal-theory methods read ``components`` in row
chunks over two passes (scales and means, then centred sums), so temporary memory
is O(chunk · k + k²), never a copy of the data (the permutation and bootstrap
methods, and ``nan_policy="omit"``, need one).

References
----------
.. [1] P. Hall, *The Bootstrap and Edgeworth Expansion*, Springer (1992), §2.6
   (Edgeworth expansion of the studentized mean).
.. [2] C. J. DiCiccio and J. P. Romano, "Robust permutation tests for correlation
   and regression coefficients", JASA 112 (2017).
"""

from __future__ import annotations

from satsim._namespace import public_dir
from satsim.identities._calibration import CalibrationResult, calibrate
from satsim.identities._sumvar import (
    MAX_PAIRWISE_K,
    SKEWNESS_LIMIT,
    SMALL_N,
    SumVarianceResult,
    check_sum_variance,
)

__all__ = [
    "MAX_PAIRWISE_K",
    "SKEWNESS_LIMIT",
    "SMALL_N",
    "CalibrationResult",
    "SumVarianceResult",
    "calibrate",
    "check_sum_variance",
]

__dir__ = public_dir(globals())
