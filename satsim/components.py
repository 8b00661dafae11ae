r"""Component matrices for the variance identities: the standard cases.

Every function returns an ``(n_draws, k)`` float64 array, one row per joint draw
of :math:`(X_1, \dots, X_k)`, ready for
:func:`satsim.identities.check_sum_variance`.

Cases where Bienaymé's identity holds (uncorrelated components):

* :func:`independent` — independent columns from frozen ``scipy.stats``
  distributions with finite variance.  Infinite kurtosis (Student t with
  2 < df ≤ 4, Pareto tails) is allowed: under independence the test of
  :func:`~satsim.identities.check_sum_variance` needs only second moments of the
  products :math:`(X_i - \mu_i)(X_j - \mu_j)`, and its measured size is nominal
  for t(3.5) and t(2.5); but its confidence interval is then a confidence set for
  ρ = 1 only — away from 1 the ratio's variance involves the missing fourth moment,
  so the interval's coverage there (and the equivalence test built on it) is not
  guaranteed.
* :func:`products` — :math:`X_j = w_j x_j` for an initializer and an input model,
  with the randomness stated explicitly by ``over``:

  - ``"weights"``: fixed input x (drawn once if the model is random), fresh weight
    row per draw — the variance the initialization argument is about;
  - ``"inputs"``: one fixed weight row, a fresh input per draw — holds when the
    input coordinates are uncorrelated (i.i.d. models), fails for real pixels;
  - ``"both"``: fresh weights and inputs per draw — holds when E[w] = 0 or the
    inputs are uncorrelated.

Counterexamples, where it must fail and the decomposition must find the covariance:

* :func:`shared_component` — :math:`X_i = E_i + \lambda Y` with one common Y:
  every pair has covariance :math:`\lambda^2`;
* :func:`correlated_gaussian` — any covariance matrix;
* :func:`correlated_pair` — two standard normals with correlation chosen so
  Var(X_1 + X_2) is inflated by a given fraction (the power benchmark);
* :func:`reused_weight` — one weight per draw reused for every input,
  :math:`X_j = w x_j`: perfectly correlated columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from satsim._docstrings import fill
from satsim._namespace import public_dir
from satsim._validation import check_array, check_choice, check_int, check_real, check_rng
from satsim.init import as_initializer
from satsim.inputs import as_input_model

__all__ = [
    "correlated_gaussian",
    "correlated_pair",
    "independent",
    "products",
    "reused_weight",
    "shared_component",
]

__dir__ = public_dir(globals())


def _check_frozen(name: str, dist: Any) -> Any:
    if isinstance(dist, stats.rv_continuous | stats.rv_discrete) and not dist.shapes:
        dist = dist()  # e.g. rv_discrete(values=...): nothing to fix but the freeze
    if not (hasattr(dist, "rvs") and hasattr(dist, "stats") and hasattr(dist, "dist")):
        raise TypeError(
            f"`{name}` must be a frozen scipy.stats distribution (e.g. scipy.stats.t(5)); "
            f"got {name}={dist!r}"
        )
    var = float(dist.stats(moments="v"))
    if not (math.isfinite(var) and var > 0):
        raise ValueError(
            f"`{name}` must have a finite, positive variance (Bienaymé's identity is about "
            f"variances); got {dist.dist.name} with args {dist.args} (variance {var})"
        )
    return dist


@fill
def independent(
    distributions: Any, n_draws: int, *, k: int | None = None, rng: Any = None
) -> np.ndarray:
    """Independent columns from frozen ``scipy.stats`` distributions.

    Parameters
    ----------
    distributions : frozen distribution or sequence of them
        One per column, or a single one repeated ``k`` times; each with a finite,
        positive variance (infinite kurtosis is allowed: see the module docstring
        for what the variance test's interval then means).
    n_draws : int
        Number of rows.
    k : int, optional
        Number of columns when a single distribution is given (default 2).
    %(rng)s

    Returns
    -------
    numpy.ndarray, shape (n_draws, k)
        Column j holds ``n_draws`` independent draws from the j-th distribution.

    Raises
    ------
    TypeError
        A distribution that is not a frozen ``scipy.stats`` distribution.
    ValueError
        A distribution without a finite, positive variance; an empty sequence; ``k``
        given with a sequence; ``n_draws`` or ``k`` not a positive integer.
    """
    n_draws = check_int("n_draws", n_draws, minimum=1)
    if isinstance(distributions, Sequence) and not isinstance(distributions, str):
        if k is not None:
            raise ValueError("`k` must not be given with a sequence of distributions")
        dists = [_check_frozen(f"distributions[{i}]", d) for i, d in enumerate(distributions)]
        if not dists:
            raise ValueError("`distributions` must not be empty")
    else:
        k = 2 if k is None else check_int("k", k, minimum=1)
        dists = [_check_frozen("distributions", distributions)] * k
    rng = check_rng(rng)
    out = np.empty((n_draws, len(dists)))
    for j, d in enumerate(dists):
        out[:, j] = d.rvs(size=n_draws, random_state=rng)
    return out


@fill
def products(
    weights: Any,
    inputs: Any,
    n_draws: int,
    *,
    over: str = "weights",
    fan_out: int | None = None,
    rng: Any = None,
) -> np.ndarray:
    """Components :math:`X_j = w_j x_j` of one neuron's pre-activation.

    Parameters
    ----------
    %(initializer)s
    inputs : InputModel or 1-D array
        Input model (a 1-D array is a fixed input); ``k = inputs.n_in``.
    n_draws : int
        Number of rows.
    over : {"weights", "inputs", "both"}, default "weights"
        Which randomness the rows (and so the variances) are taken over; see the
        module docstring.
    fan_out : int, optional
        Layer width for fan-dependent initializers (default ``n_in``); the fan-in is
        ``n_in``.
    %(rng)s

    Returns
    -------
    numpy.ndarray, shape (n_draws, n_in)
        Row r holds :math:`X_j = w_{rj} x_{rj}`, whose sum is the pre-activation
        :math:`z = w \\cdot x` (no bias) of draw r.

    Raises
    ------
    TypeError
        ``weights`` is not an initializer or ``inputs`` not an input model or 1-D array.
    ValueError
        An unknown initializer name or ``over``, or ``n_draws``/``fan_out`` not a
        positive integer.
    """
    w_init = as_initializer(weights, param="weights")
    model = as_input_model(inputs, param="inputs")
    n_draws = check_int("n_draws", n_draws, minimum=1)
    over = check_choice("over", over, ("weights", "inputs", "both"))
    n_in = model.n_in
    fan_out = n_in if fan_out is None else check_int("fan_out", fan_out, minimum=1)
    rng = check_rng(rng)
    if over == "weights":
        # a fixed model returns its x without touching rng; a random one is drawn once
        x = model.sample(1, rng=rng)[0]
        return w_init.sample_rows(n_draws, n_in, fan_out, rng=rng) * x
    if over == "inputs":
        w = w_init.sample_rows(1, n_in, fan_out, rng=rng)[0]
        return model.sample(n_draws, rng=rng) * w
    W = w_init.sample_rows(n_draws, n_in, fan_out, rng=rng)
    return W * model.sample(n_draws, rng=rng)


@fill
def reused_weight(
    weights: Any, inputs: Any, n_draws: int, *, fan_out: int | None = None, rng: Any = None
) -> np.ndarray:
    """The same weight reused for every input: :math:`X_j = w\\, x_j` with one w per draw.

    Var(Σ X_j) = (Σ x_j)² Var(w) instead of Σ x_j² Var(w) — the identity fails as
    badly as it can.  The input is fixed (drawn once if the model is random).

    Parameters
    ----------
    %(initializer)s
    inputs : InputModel or 1-D array
        Input model (a 1-D array is a fixed input); ``k = inputs.n_in``.
    n_draws : int
        Number of rows.
    fan_out : int, optional
        Layer width for fan-dependent initializers (default ``n_in``).
    %(rng)s

    Returns
    -------
    numpy.ndarray, shape (n_draws, n_in)
        Row r is :math:`w_r x`: one weight with the law of a weight of the layer times
        the fixed input.

    Raises
    ------
    TypeError
        ``weights`` is not an initializer or ``inputs`` not an input model or 1-D array.
    ValueError
        An unknown initializer name, or ``n_draws``/``fan_out`` not a positive integer.
    """
    w_init = as_initializer(weights, param="weights")
    model = as_input_model(inputs, param="inputs")
    n_draws = check_int("n_draws", n_draws, minimum=1)
    n_in = model.n_in
    fan_out = n_in if fan_out is None else check_int("fan_out", fan_out, minimum=1)
    rng = check_rng(rng)
    x = model.sample(1, rng=rng)[0]  # a fixed model returns its x without touching rng
    # one weight per draw, with the law of a weight of this layer
    w = w_init.sample_rows(n_draws, n_in, fan_out, rng=rng)[:, :1]
    return w * x


@fill
def shared_component(n_draws: int, k: int, *, loading: float = 0.5, rng: Any = None) -> np.ndarray:
    """:math:`X_i = E_i + \\lambda Y` with i.i.d. N(0, 1) :math:`E_i` and one shared
    N(0, 1) Y: Var X_i = 1 + λ², Cov(X_i, X_j) = λ².

    Parameters
    ----------
    n_draws, k : int
        Number of rows and of columns (positive).
    loading : float, default 0.5
        λ.
    %(rng)s

    Returns
    -------
    numpy.ndarray, shape (n_draws, k)
        Rows of :math:`X = E + \\lambda Y \\mathbf{1}`, so that
        :math:`\\operatorname{Var}\\sum_i X_i = k(1 + \\lambda^2) + k(k-1)\\lambda^2`.

    Raises
    ------
    ValueError
        ``n_draws`` or ``k`` not a positive integer, or ``loading`` not finite.
    """
    n_draws = check_int("n_draws", n_draws, minimum=1)
    k = check_int("k", k, minimum=1)
    loading = check_real("loading", loading)
    rng = check_rng(rng)
    E = rng.standard_normal((n_draws, k))
    Y = rng.standard_normal((n_draws, 1))
    return E + loading * Y


@fill
def correlated_gaussian(
    n_draws: int, cov: Any, *, mean: Any = None, rng: Any = None
) -> np.ndarray:
    """Multivariate normal rows with covariance ``cov`` (symmetric positive semi-definite).

    Parameters
    ----------
    n_draws : int
        Number of rows.
    cov : array_like, shape (k, k)
        Covariance matrix Σ, symmetric positive semi-definite.
    mean : array_like, shape (k,), optional
        Mean vector μ (default zeros).
    %(rng)s

    Returns
    -------
    numpy.ndarray, shape (n_draws, k)
        Independent rows :math:`X \\sim N(\\mu, \\Sigma)` (sampled through the
        eigendecomposition of Σ).

    Raises
    ------
    ValueError
        ``cov`` not square, not symmetric or with a negative eigenvalue (beyond
        rounding), ``mean`` of the wrong length, or ``n_draws`` not a positive integer.
    """
    n_draws = check_int("n_draws", n_draws, minimum=1)
    C = check_array("cov", cov, ndim=2)
    k = C.shape[0]
    if C.shape != (k, k):
        raise ValueError(f"`cov` must be a square (k, k) matrix; got shape {C.shape}")
    if not np.allclose(C, C.T, rtol=1e-12, atol=1e-12):
        raise ValueError("`cov` must be symmetric")
    eig = np.linalg.eigvalsh(C)
    if eig.min() < -1e-10 * max(1.0, eig.max()):
        raise ValueError(
            f"`cov` must be positive semi-definite; its smallest eigenvalue is {eig.min():.3g}"
        )
    mu = np.zeros(k) if mean is None else check_array("mean", mean, ndim=1)
    if mu.shape != (k,):
        raise ValueError(f"`mean` must have length k={k}; got {mu.shape[0]}")
    rng = check_rng(rng)
    return rng.multivariate_normal(mu, C, size=n_draws, method="eigh")


@fill
def correlated_pair(n_draws: int, *, inflation: float = 0.05, rng: Any = None) -> np.ndarray:
    """Two N(0, 1) columns with correlation ρ = ``inflation``, so that
    Var(X_1 + X_2) = 2(1 + inflation): the identity is off by that fraction.

    Parameters
    ----------
    n_draws : int
        Number of rows.
    inflation : float, default 0.05
        The correlation ρ, in [−1, 1].
    %(rng)s

    Returns
    -------
    numpy.ndarray, shape (n_draws, 2)
        Rows of a bivariate normal with unit variances and correlation ρ.

    Raises
    ------
    ValueError
        ``inflation`` outside [−1, 1] or ``n_draws`` not a positive integer.
    """
    inflation = check_real("inflation", inflation, low=-1.0, high=1.0)
    cov = np.array([[1.0, inflation], [inflation, 1.0]])
    return correlated_gaussian(n_draws, cov, rng=rng)
