"""Hypothesis strategies for property-testing variance identities and initializers.

Requires ``hypothesis`` (the ``test`` extra); ``import satsim`` does not import
this module.  Example — Bienaymé on any independent components::

    from hypothesis import given
    from satsim import components, identities, testing

    @given(testing.distributions(), testing.seeds())
    def test_independent_sums_pass(dist, seed):
        X = components.independent(dist, 4000, k=3, rng=seed)
        identities.check_sum_variance(X)   # reject with probability ≈ α

Strategies
----------
distributions()       frozen scipy.stats laws with finite fourth moments
initializers()        satsim initializers with valid parameters
input_models(n_in)    satsim input models
component_matrices()  (n, k) float arrays of moderate, finite values
fans()                (fan_in, fan_out) pairs
seeds()               integer seeds for ``rng=``
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from satsim import init, inputs
from satsim._namespace import public_dir

__all__ = [
    "component_matrices",
    "distributions",
    "fans",
    "initializers",
    "input_models",
    "seeds",
]

__dir__ = public_dir(globals())


def seeds() -> st.SearchStrategy[int]:
    """Non-negative integer seeds."""
    return st.integers(0, 2**32 - 1)


def fans(max_fan: int = 4096) -> st.SearchStrategy[tuple[int, int]]:
    """(fan_in, fan_out) pairs in [1, max_fan]."""
    return st.tuples(st.integers(1, max_fan), st.integers(1, max_fan))


def distributions() -> st.SearchStrategy:
    """Frozen ``scipy.stats`` distributions with finite fourth moment: normal,
    uniform, Student t with df > 4, gamma, lognormal with σ ≤ 1, Bernoulli,
    Laplace, logistic, beta."""
    pos = st.floats(0.1, 10.0)
    loc = st.floats(-10.0, 10.0)
    return st.one_of(
        st.builds(stats.norm, loc, pos),
        st.builds(lambda a, w: stats.uniform(a, w), loc, pos),
        st.builds(stats.t, st.floats(4.5, 50.0), loc, pos),
        st.builds(stats.gamma, st.floats(0.5, 20.0), loc, pos),
        st.builds(lambda s, scale: stats.lognorm(s, scale=scale), st.floats(0.05, 1.0), pos),
        st.builds(stats.bernoulli, st.floats(0.02, 0.98)),
        st.builds(stats.laplace, loc, pos),
        st.builds(stats.logistic, loc, pos),
        st.builds(stats.beta, st.floats(0.5, 5.0), st.floats(0.5, 5.0)),
    )


def initializers() -> st.SearchStrategy[init.Initializer]:
    """Registered presets and family members with valid parameters."""
    presets = st.sampled_from(init.names()).map(init.get)
    family = st.builds(
        init.VarianceScaling,
        st.floats(0.01, 10.0),
        st.sampled_from(["fan_in", "fan_out", "fan_avg"]),
        st.sampled_from(["normal", "truncated_normal", "uniform"]),
    )
    others = st.one_of(
        st.builds(init.Normal, st.floats(-1, 1), st.floats(0.01, 3.0)),
        st.builds(init.TruncatedNormal, st.floats(-1, 1), st.floats(0.01, 3.0),
                  st.floats(-3.0, -0.5), st.floats(0.5, 3.0)),
        st.builds(init.Orthogonal, st.floats(0.1, 3.0)),
        st.builds(init.Sparse, st.floats(0.0, 0.9), st.floats(0.01, 1.0)),
    )
    return st.one_of(presets, family, others)


def input_models(n_in: int | st.SearchStrategy[int] | None = None) -> st.SearchStrategy:
    """Fixed inputs, Nielsen inputs, Bernoulli, Gaussian, Uniform and Rows models."""
    sizes = st.integers(1, 64) if n_in is None else (
        n_in if isinstance(n_in, st.SearchStrategy) else st.just(n_in)
    )

    def build(n: int) -> st.SearchStrategy:
        moderate = st.floats(-5.0, 5.0)
        return st.one_of(
            st.builds(inputs.Fixed, arrays(np.float64, n, elements=moderate)),
            st.integers(0, n).map(lambda a: inputs.nielsen(n, a)),
            st.builds(inputs.Bernoulli, st.just(n), st.floats(0.0, 1.0)),
            st.builds(inputs.Gaussian, st.just(n), moderate, st.floats(0.0, 3.0)),
            st.builds(lambda lo, w: inputs.Uniform(n, lo, lo + w), moderate, st.floats(0.1, 5.0)),
            st.builds(inputs.Rows,
                      arrays(np.float64, st.tuples(st.integers(1, 20), st.just(n)),
                             elements=moderate)),
        )

    return sizes.flatmap(build)


def component_matrices(
    n_draws: st.SearchStrategy[int] | None = None,
    k: st.SearchStrategy[int] | None = None,
    *,
    bound: float = 1e3,
) -> st.SearchStrategy[np.ndarray]:
    """(n_draws, k) float64 arrays with finite entries in [−bound, bound]."""
    n_draws = st.integers(2, 40) if n_draws is None else n_draws
    k = st.integers(2, 6) if k is None else k
    return arrays(
        np.float64,
        st.tuples(n_draws, k),
        elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False),
    )
