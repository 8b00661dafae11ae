"""The public Hypothesis strategies produce valid objects (and satsim's laws hold on them)."""

import math
import warnings

import numpy as np
from hypothesis import given, settings

from satsim import testing, theory
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
