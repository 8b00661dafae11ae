r"""Hypothesis strategies for property-testing variance identities and initializers.

Requires ``hypothesis`` (the ``test`` extra); ``import satsim`` does not import
this module.

Strategies
----------

::

    distributions()       frozen scipy.stats laws (finite fourth moments by default), with
                          readable reprs: ``scipy.stats.lognorm(0.5, scale=2.0)``
    initializers()        satsim initializers with valid parameters
    input_models(n_in)    satsim input models (no all-zero input unless ``degenerate=True``)
    component_matrices()  (n, k) float arrays of moderate, finite values
    fans()                (fan_in, fan_out) pairs
    seeds()               integer seeds for ``rng=``

Property tests of a *stochastic* identity
-----------------------------------------
An exact identity on the sample (``Var(x + y) == Var x + Var y + 2 Cov`` with
sample moments) is asserted to rounding and needs no α: prefer it where it exists.
A statement about the *population* — "the variances of independent components
add" — can only be tested, and a test at level α rejects a true H0 with
probability α.  So the natural property

.. code-block:: python

    @given(testing.distributions(), testing.seeds())
    def test_bienayme(dist, seed):
        X = components.independent(dist, 4000, k=3, rng=seed)
        assert not identities.check_sum_variance(X).reject   # WRONG

is *meant* to fail: Hypothesis runs 100 examples (60 in satsim's profile), each a
fresh data set, so with α = 0.05 some example rejects with probability
1 − 0.95⁶⁰ ≈ 0.95, and Hypothesis reports it (shrunk to the simplest law and seed
that reject, e.g. ``scipy.stats.uniform(0.0, 1.0)``, ``seed=1``).  A sound property
test fixes three things:

* **What to assert**: ``not res.reject`` at a per-example level α, i.e. "the
  p-value is not extreme" — not the point estimate (``ratio == 1`` fails always)
  nor a loose tolerance on it (its noise depends on the law).
* **Which α**: the false-alarm budget of the whole run divided by the number of
  examples, ``α = 1e-3 / max_examples`` (Bonferroni).  Each example is an
  independent data set, and Hypothesis runs at most ``max_examples`` of them on a
  passing run (shrinking only starts after a failure), so
  P(the run fails | the identity holds) ≤ max_examples · α = 1e-3.  With
  ``derandomize=True`` and ``database=None`` the run is the same every time: a
  pass stays a pass, and nothing replays extra examples; ``deadline=None`` because
  a permutation test's run time depends on the machine's load, not on correctness.
* **A test whose size is right that far out in the tail**, for every law the
  strategy can draw.  The asymptotic test is not (its size is 0.09–0.14 for skewed
  laws even at α = 0.05, and its tail is worse); the permutation test is exact for
  independent components, for any law and n, provided ``n_resamples`` B satisfies
  α(B + 1) ≥ 1 — below that it can never reject and the property is vacuous.  Pair
  it with the power side (a dependent case must reject at the same α), so that a
  test that never rejects fails.

.. code-block:: python

    from hypothesis import given, settings
    from satsim import components, identities, testing

    N_EXAMPLES = 10
    ALPHA = 1e-3 / N_EXAMPLES          # P(any false rejection in the run) ≤ 1e-3
    B = 2 * round(1 / ALPHA) - 1       # α(B + 1) = 2: the test can reject

    @settings(max_examples=N_EXAMPLES, derandomize=True, database=None, deadline=None)
    @given(testing.distributions(), testing.seeds())
    def test_independent_variances_add(dist, seed):
        X = components.independent(dist, 300, k=2, rng=seed)
        res = identities.check_sum_variance(X, alpha=ALPHA, method="permutation",
                                            n_resamples=B, rng=seed)
        assert not res.reject, res

    @settings(max_examples=N_EXAMPLES, derandomize=True, database=None, deadline=None)
    @given(testing.seeds())
    def test_correlated_variances_do_not(seed):
        X = components.correlated_pair(300, inflation=0.5, rng=seed)
        res = identities.check_sum_variance(X, alpha=ALPHA, method="permutation",
                                            n_resamples=B, rng=seed)
        assert res.reject, res

``tests/test_testing.py`` runs exactly these two properties.

Degenerate inputs.  ``input_models()`` does not generate inputs that are zero in
every draw (``nielsen(n, 0)``, an all-zero ``Fixed`` or ``Rows``, ``Bernoulli(n, 0)``,
``Gaussian(n, 0, 0)``) unless ``degenerate=True``: with x ≡ 0, z = b exactly and every
identity over the weights is 0 = 0, which satsim reports with a
``DegenerateDistributionWarning`` and NaN — legal, but left to itself Hypothesis
shrinks towards zero and would make that edge case the first example of every
property.  Tests of the edge case itself ask for it.
"""

from __future__ import annotations

from typing import Any

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
    """Non-negative integer seeds.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of int
        Integers in [0, 2³² − 1], valid ``rng=`` arguments (shrinking towards 0).
    """
    return st.integers(0, 2**32 - 1)


def fans(max_fan: int = 4096) -> st.SearchStrategy[tuple[int, int]]:
    """(fan_in, fan_out) pairs in [1, max_fan].

    Parameters
    ----------
    max_fan : int, default 4096
        Largest fan drawn.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of (int, int)
        Independent ``(fan_in, fan_out)``, each in [1, max_fan].
    """
    return st.tuples(st.integers(1, max_fan), st.integers(1, max_fan))


# ------------------------------------------------------------------ readable laws
def _frozen_repr(self: Any) -> str:
    args = [repr(v) for v in self.args] + [f"{k}={v!r}" for k, v in self.kwds.items()]
    return f"scipy.stats.{self.dist.name}({', '.join(args)})"


# Frozen scipy distributions print as "<...rv_continuous_frozen object at 0x...>".
# These subclasses add only a repr that is the code to rebuild them, so falsifying
# examples and assertion messages can be read (and pasted).
_ReadableContinuous = type(
    "rv_continuous_frozen", (type(stats.norm()),), {"__repr__": _frozen_repr})
_ReadableDiscrete = type(
    "rv_discrete_frozen", (type(stats.bernoulli(0.5)),), {"__repr__": _frozen_repr})


class _Law:
    """``scipy.stats.NAME`` as a callable building a readable frozen distribution;
    its repr is what Hypothesis prints for ``st.builds(_Law(NAME), ...)``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dist = getattr(stats, name)

    def __call__(self, *args: float, **kwds: float) -> Any:
        kind = _ReadableDiscrete if isinstance(self.dist, stats.rv_discrete) \
            else _ReadableContinuous
        return kind(self.dist, *args, **kwds)

    def __repr__(self) -> str:
        return f"scipy.stats.{self.name}"


def distributions(*, finite_kurtosis: bool = True) -> st.SearchStrategy[Any]:
    """Frozen ``scipy.stats`` distributions: normal, uniform, Student t, gamma,
    lognormal with σ ≤ 1, Bernoulli, Laplace, logistic, beta.

    With ``finite_kurtosis=True`` (default) every law has a finite fourth moment
    (Student t with df ≥ 4.5); with False, Student t with 2.1 ≤ df ≤ 4 and Pareto
    with shape in [2.1, 4] are added: finite variance, infinite kurtosis (see
    :mod:`satsim.components` for what the variance test's interval then means).
    Each value prints as the code that builds it, e.g. ``scipy.stats.t(5.0, 0.0, 1.0)``.

    Parameters
    ----------
    finite_kurtosis : bool, default True
        Only laws with a finite fourth moment; False adds heavy-tailed laws with finite
        variance.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Frozen ``scipy.stats`` distributions (locations in [−10, 10] and scales in
        [0.1, 10] where the law takes them), each with a finite, positive variance.
    """
    pos = st.floats(0.1, 10.0)
    loc = st.floats(-10.0, 10.0)
    laws = [
        st.builds(_Law("norm"), loc, pos),
        st.builds(_Law("uniform"), loc, pos),
        st.builds(_Law("t"), st.floats(4.5, 50.0), loc, pos),
        st.builds(_Law("gamma"), st.floats(0.5, 20.0), loc, pos),
        st.builds(_Law("lognorm"), st.floats(0.05, 1.0), scale=pos),
        st.builds(_Law("bernoulli"), st.floats(0.02, 0.98)),
        st.builds(_Law("laplace"), loc, pos),
        st.builds(_Law("logistic"), loc, pos),
        st.builds(_Law("beta"), st.floats(0.5, 5.0), st.floats(0.5, 5.0)),
    ]
    if not finite_kurtosis:
        laws += [
            st.builds(_Law("t"), st.floats(2.1, 4.0), loc, pos),
            st.builds(_Law("pareto"), st.floats(2.1, 4.0), scale=pos),
        ]
    return st.one_of(*laws)


def initializers() -> st.SearchStrategy[init.Initializer]:
    """Registered presets and family members with valid parameters.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of Initializer
        A preset from :func:`satsim.init.names` (built-ins and any user registrations
        present when the strategy is created), a ``VarianceScaling`` with scale in
        [0.01, 10] and any mode and distribution, or a ``Normal``, ``TruncatedNormal``,
        ``Orthogonal`` or ``Sparse`` with valid parameters.
    """
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


def _nonzero(x: np.ndarray) -> np.ndarray:
    """``x`` with its first entry set to 1 if its squares sum to 0 (shrinks to a
    one-hot).  Squares, not entries: a vector of tiny non-zero values (5e-324, 1e-200)
    has E‖x‖² = 0.0 in float64, which is the degenerate case this excludes."""
    if float(np.sum(x * x)) > 0:
        return x
    y = x.copy()
    y.flat[0] = 1.0
    return y


def input_models(
    n_in: int | st.SearchStrategy[int] | None = None, *, degenerate: bool = False
) -> st.SearchStrategy[inputs.InputModel]:
    """Fixed inputs, Nielsen inputs, Bernoulli, Gaussian, Uniform and Rows models.

    ``degenerate=False`` (default) never generates an input that is zero in every
    draw (see the module docstring); ``True`` allows them (``nielsen(n, 0)``, zero
    arrays, p = 0, a N(0, 0) input).

    Parameters
    ----------
    n_in : int or SearchStrategy of int, optional
        The input size: fixed, drawn from a strategy, or (default) drawn from [1, 64].
    degenerate : bool, default False
        Also generate inputs that are zero in every draw.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of InputModel
        ``Fixed`` vectors and ``Rows`` tables (1–20 rows) with entries in [−5, 5],
        ``nielsen(n, active)``, ``Bernoulli``, ``Gaussian`` and ``Uniform`` models of
        size ``n_in``.
    """
    sizes = st.integers(1, 64) if n_in is None else (
        n_in if isinstance(n_in, st.SearchStrategy) else st.just(n_in)
    )

    def build(n: int) -> st.SearchStrategy[inputs.InputModel]:
        moderate = st.floats(-5.0, 5.0)
        vectors = arrays(np.float64, n, elements=moderate)
        tables = arrays(np.float64, st.tuples(st.integers(1, 20), st.just(n)),
                        elements=moderate)
        if not degenerate:
            vectors, tables = vectors.map(_nonzero), tables.map(_nonzero)
        gaussian = st.builds(inputs.Gaussian, st.just(n), moderate, st.floats(0.0, 3.0))
        return st.one_of(
            st.builds(inputs.Fixed, vectors),
            st.integers(0 if degenerate else 1, n).map(lambda a: inputs.nielsen(n, a)),
            st.builds(inputs.Bernoulli, st.just(n),
                      st.floats(0.0, 1.0) if degenerate else st.floats(0.01, 1.0)),
            gaussian if degenerate else gaussian.filter(lambda g: g.sq_norm_mean > 0),
            st.builds(lambda lo, w: inputs.Uniform(n, lo, lo + w), moderate, st.floats(0.1, 5.0)),
            st.builds(inputs.Rows, tables),
        )

    return sizes.flatmap(build)


def component_matrices(
    n_draws: st.SearchStrategy[int] | None = None,
    k: st.SearchStrategy[int] | None = None,
    *,
    bound: float = 1e3,
) -> st.SearchStrategy[np.ndarray]:
    """(n_draws, k) float64 arrays with finite entries in [−bound, bound].

    Parameters
    ----------
    n_draws : SearchStrategy of int, optional
        Number of rows; default integers in [2, 40].
    k : SearchStrategy of int, optional
        Number of columns; default integers in [2, 6].
    bound : float, default 1e3
        Largest magnitude of an entry.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of numpy.ndarray
        Arrays of shape ``(n_draws, k)`` ready for
        :func:`satsim.identities.check_sum_variance`.
    """
    n_draws = st.integers(2, 40) if n_draws is None else n_draws
    k = st.integers(2, 6) if k is None else k
    return arrays(
        np.float64,
        st.tuples(n_draws, k),
        elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False),
    )
