"""The public Hypothesis strategies produce valid objects (and satsim's laws hold on them)."""

import math
import warnings

import numpy as np
import pytest
import scipy
from hypothesis import find, given, settings

from satsim import inputs, testing, theory
from satsim._warnings import DegenerateDistributionWarning


@given(testing.distributions())
def test_distributions_have_finite_fourth_moments(dist):
    _, var, kurt = (float(v) for v in dist.stats(moments="mvk"))
    assert math.isfinite(kurt) and var > 0


@settings(max_examples=40)
@given(testing.initializers(), testing.fans(64), testing.seeds())
def test_initializers_sample_within_support_with_nonnegative_variance(ini, fans, seed):
    fan_in, fan_out = fans
    assert ini.variance(fan_in, fan_out) >= 0
    w = ini.sample((fan_out, fan_in), rng=seed)
    lo, hi = ini.support(fan_in, fan_out)
    assert w.shape == (fan_out, fan_in) and lo <= w.min() and w.max() <= hi


@settings(max_examples=40)
@given(testing.input_models(), testing.seeds())
def test_input_models_have_consistent_moments(model, seed):
    assert model.sum_var >= 0 and model.sq_norm_mean >= 0
    X = model.sample(5, rng=seed)
    assert X.shape == (5, model.n_in)
    # Cauchy–Schwarz: (E Σx)² ≤ n · E‖x‖²
    assert model.sum_mean**2 <= model.n_in * model.sq_norm_mean * (1 + 1e-9) + 1e-9


@settings(max_examples=30)
@given(testing.initializers(), testing.input_models())
def test_theory_variance_is_nonnegative_for_any_pairing(ini, model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDistributionWarning)
        th = theory.preactivation_moments(ini, model)
    assert th.var >= 0 and math.isfinite(th.mean)


@given(testing.component_matrices())
def test_component_matrices_shape(X):
    assert X.ndim == 2 and X.shape[0] >= 2 and X.shape[1] >= 2 and np.all(np.isfinite(X))


# ------------------------------------------------------------------ readable examples
@given(testing.distributions(finite_kurtosis=False))
def test_distribution_reprs_are_the_code_that_builds_them(dist):
    text = repr(dist)
    assert text.startswith("scipy.stats.") and "object at 0x" not in text
    again = eval(text, {"scipy": scipy})  # the repr is code, by design
    assert again.dist.name == dist.dist.name
    assert again.args == dist.args and again.kwds == dist.kwds


def test_falsifying_examples_print_readable_distributions():
    @settings(max_examples=5, derandomize=True, database=None)
    @given(testing.distributions())
    def always_fails(dist):
        raise AssertionError("boom")

    with pytest.raises(AssertionError) as info:
        always_fails()
    report = "\n".join(getattr(info.value, "__notes__", []))
    assert "dist=scipy.stats." in report and "object at 0x" not in report, report


# ------------------------------------------------------------------ degenerate inputs
@settings(max_examples=40)
@given(testing.input_models(784))
def test_input_models_are_not_all_zero_by_default(model):
    # E‖x‖² = 0 iff every draw is the zero vector (Fixed(n_in=784, nonzero=0) before)
    assert model.n_in == 784 and model.sq_norm_mean > 0


@pytest.mark.parametrize("tiny", [5e-324, 1e-200, -1e-170])
def test_tiny_entries_whose_squares_underflow_are_not_a_nonzero_input(tiny):
    # Found by Hypothesis' default (random) profile: Fixed(n_in=784) of values whose
    # squares underflow to 0.0, so E‖x‖² = 0 although no entry is 0
    from satsim.testing import _nonzero

    x = _nonzero(np.full(784, tiny))
    assert inputs.Fixed(x).sq_norm_mean > 0


def test_degenerate_input_models_on_request():
    zero = find(testing.input_models(784, degenerate=True), lambda m: m.sq_norm_mean == 0)
    assert zero.n_in == 784 and not zero.sample(3, rng=0).any()


# ------------------------------------------------------------------ sound property tests
def _docstring_recipe() -> dict:
    """The code block of the satsim.testing docstring, executed as written."""
    import textwrap

    doc = testing.__doc__
    block = doc[doc.rindex(".. code-block:: python") + len(".. code-block:: python"):]
    block = block[:block.index("``tests/test_testing.py``")]
    namespace: dict = {}
    exec(compile(textwrap.dedent(block), "satsim.testing docstring", "exec"), namespace)
    return namespace


# The recipe: a Bonferroni level over the examples, an exact test (permutation) with
# enough resamples to reach it (α(B + 1) ≥ 1), and the power side, so that a test that
# cannot reject fails.  ρ = 0.5 in the power side: Var(X₁ + X₂) = 3, not 2; at n = 300
# log R / se ≈ 5, far past α = 1e-4.
_RECIPE = _docstring_recipe()
test_independent_variances_add = _RECIPE["test_independent_variances_add"]
test_correlated_variances_do_not = _RECIPE["test_correlated_variances_do_not"]


def test_the_recipe_controls_the_false_rejection_rate():
    assert _RECIPE["ALPHA"] * _RECIPE["N_EXAMPLES"] <= 1e-3
    assert _RECIPE["ALPHA"] * (_RECIPE["B"] + 1) >= 1
