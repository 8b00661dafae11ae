r"""What distribution does z have?  Fits, normality tests, theory and the CLT's speed.

* :func:`fit_distribution` — maximum-likelihood fits of candidate families
  (``scipy.stats``' ``fit``), ranked by AIC :math:`= 2p - 2\ell` (or BIC
  :math:`= p \ln n - 2\ell`), with Akaike weights and QQ data.
* :func:`normality` — a battery of normality tests that are valid when the mean
  and variance are estimated from the same data: Lilliefors (statsmodels' table of
  simulated critical values up to n = 1600; beyond it Stephens' modified
  statistic :math:`D(\sqrt n - 0.01 + 0.85/\sqrt n)` [2]_, whose null law hardly
  depends on n, is referred to the table at n = 1600, because statsmodels' own
  extrapolation is liberal there: measured size 0.059 at n = 5000, 0.065–0.073 at
  20 000, 0.088–0.096 at 100 000 for α = 0.05, against 0.048–0.056 this way),
  Anderson–Darling with Stephens' estimated-parameter correction (statsmodels
  ``normal_ad``), Cramér–von Mises by parametric Monte Carlo
  (``scipy.stats.goodness_of_fit``, which refits on every simulated sample),
  Shapiro–Wilk (on a random subsample of at most 5000, the range of its p-value
  approximation), Jarque–Bera and D'Agostino's K².  A plain Kolmogorov–Smirnov
  test with fitted parameters is *not* offered: its p-values are far too large.
  The family is adjusted for multiple testing (statsmodels ``multipletests``,
  Holm by default); ``reject`` means at least one adjusted p-value ≤ α.  Every
  test is location–scale invariant, and the sample is standardised first
  (divided by a power of two, centred, divided by its standard deviation), so the
  result is the same for data in units of 1e-300 or 1e300.
* :func:`compare_to_theory` — the fitted σ of a Monte Carlo run against the
  closed-form σ of :mod:`satsim.theory`, with a kurtosis-aware interval.
* :func:`clt_speed` — how fast :math:`z = \sum_{j \le n} w_j` becomes normal: the
  Kolmogorov distance :math:`\sup_t |F_n(t) - \Phi(t)|` of the standardised sum
  (standardised with the *exact* mean and variance, so no parameter is
  estimated) against the Berry–Esseen bound :math:`C \rho / (\sigma^3 \sqrt n)`,
  :math:`\rho = E|w - \mu|^3`, C = 0.4748 for identically distributed summands
  (Shevtsova 2011).  The Monte Carlo distance carries sampling noise of order
  :math:`1/\sqrt{N}`; the DKW half-width :math:`\sqrt{\ln(2/\alpha)/(2N)}` bounds it.

References
----------
.. [1] H. W. Lilliefors, "On the Kolmogorov–Smirnov test for normality with mean
   and variance unknown", JASA 62 (1967).
.. [2] M. A. Stephens, "EDF statistics for goodness of fit and some comparisons",
   JASA 69 (1974).
.. [3] I. Shevtsova, "On the absolute constants in the Berry–Esseen type
   inequalities for identically distributed summands", arXiv:1111.6554 (2011).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from satsim._docstrings import fill
from satsim._namespace import public_dir
from satsim._results import Result, result
from satsim._validation import check_array, check_choice, check_int, check_real, check_rng
from satsim.init import Initializer, Orthogonal, Sparse, as_initializer
from satsim.init._catalogue import _ScipyElementwise

__all__ = [
    "BERRY_ESSEEN_C_IID",
    "BERRY_ESSEEN_C_NONIID",
    "DEFAULT_CANDIDATES",
    "LILLIEFORS_TABLE_MAX_N",
    "CLTResult",
    "FitResult",
    "NormalityResult",
    "TheoryComparisonResult",
    "clt_speed",
    "compare_to_theory",
    "fit_distribution",
    "normality",
]

__dir__ = public_dir(globals())

#: Berry–Esseen constant for i.i.d. summands (Shevtsova 2011).
BERRY_ESSEEN_C_IID = 0.4748
#: Berry–Esseen constant for independent, non-identically distributed summands
#: (Shevtsova 2010).
BERRY_ESSEEN_C_NONIID = 0.5600

#: Largest n of statsmodels' simulated Lilliefors table (critical values from 10⁷
#: simulations); above it :func:`normality` uses Stephens' modified statistic.
LILLIEFORS_TABLE_MAX_N = 1600

#: Default candidate families of :func:`fit_distribution` (scipy.stats names).
DEFAULT_CANDIDATES = ("norm", "t", "logistic", "laplace", "gennorm")
_QQ_POINTS = 1000
#: draws an (n, k) array of i.i.d. weights: sampler(n, k, rng)
_Sampler = Callable[[int, int, np.random.Generator], np.ndarray]


def _check_sample(name: str, z: Any, *, minimum: int) -> np.ndarray:
    x = check_array(name, z)
    if x.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D array; got an array of shape {x.shape}")
    if x.size < minimum:
        raise ValueError(f"`{name}` must have at least {minimum} values; got {x.size}")
    return x


def _hazen(m: int) -> np.ndarray:
    """Plotting positions (i − 0.5)/m (Hazen), i = 1..m."""
    return (np.arange(1, m + 1) - 0.5) / m


# --------------------------------------------------------------------------- MLE fits
@result
class FitResult(Result):
    """Ranked maximum-likelihood fits.  ``best`` is the scipy name of the simplest
    candidate within ``tolerance`` of the lowest criterion (:func:`fit_distribution`)."""

    _title = "Maximum-likelihood fits of z"

    n: int
    criterion: str
    best: str
    tolerance: float
    distributions: tuple[str, ...]
    params: tuple[tuple[float, ...], ...]
    param_names: tuple[tuple[str, ...], ...]
    loglik: np.ndarray
    aic: np.ndarray
    bic: np.ndarray
    quantile_levels: np.ndarray
    sample_quantiles: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate, lowest criterion first: ``distribution``, ``params``
        (a dict), ``n_params``, ``loglik``, ``aic``, ``bic``, ``delta`` (criterion minus
        the lowest), ``akaike_weight`` (exp(−Δ/2) normalised), ``supported`` (Δ ≤
        ``tolerance``), ``best`` (the row the field ``best`` names), ``rank``."""
        crit = self.aic if self.criterion == "aic" else self.bic
        finite = np.isfinite(crit)
        best = np.min(crit[finite]) if finite.any() else math.nan
        delta = crit - best
        weight = np.where(finite, np.exp(-0.5 * np.where(finite, delta, 0.0)), 0.0)
        weight = weight / weight.sum() if weight.sum() > 0 else weight
        frame = pd.DataFrame(
            {
                "distribution": self.distributions,
                "params": [dict(zip(n, p, strict=True)) for n, p in
                           zip(self.param_names, self.params, strict=True)],
                "n_params": [len(p) for p in self.params],
                "loglik": self.loglik,
                "aic": self.aic,
                "bic": self.bic,
                "delta": delta,
                "akaike_weight": weight,
                "supported": finite & (np.where(finite, delta, np.inf) <= self.tolerance),
                "best": [d == self.best for d in self.distributions],
                "n": self.n,
            }
        )
        frame = frame.sort_values("delta", kind="stable", na_position="last").reset_index(drop=True)
        frame["rank"] = np.arange(1, len(frame) + 1)
        return frame

    def frozen(self, name: str | None = None) -> Any:
        """The fitted frozen scipy distribution (default: the best)."""
        name = self.best if name is None else check_choice("name", name, self.distributions)
        i = self.distributions.index(name)
        return getattr(stats, name)(*self.params[i])

    def qq(self, name: str | None = None) -> pd.DataFrame:
        """QQ data against a fitted candidate (default: the best): ``probability``
        (Hazen positions), ``theoretical`` and ``sample`` quantiles."""
        dist = self.frozen(name)
        return pd.DataFrame(
            {
                "probability": self.quantile_levels,
                "theoretical": dist.ppf(self.quantile_levels),
                "sample": self.sample_quantiles,
            }
        )

    def _summary_header(self) -> list[str]:
        frame = self.to_frame()
        others = [d for d, ok in zip(frame["distribution"], frame["supported"], strict=True)
                  if ok and d != self.best]
        tie = (f" (simplest within Δ{self.criterion.upper()} ≤ {self.tolerance:g} of the "
               f"lowest; also there: {', '.join(others)})" if others else "")
        return [f"n={self.n}  ranked by {self.criterion.upper()}  best: {self.best}{tie}"]


def _continuous(name: str) -> Any:  # a scipy.stats.rv_continuous
    dist = getattr(stats, name, None) if isinstance(name, str) else None
    if not isinstance(dist, stats.rv_continuous):
        raise ValueError(
            f"`candidates` must name scipy.stats continuous distributions "
            f"(e.g. {', '.join(map(repr, DEFAULT_CANDIDATES))}); got {name!r}"
        )
    return dist


def fit_distribution(
    z: Any,
    *,
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    criterion: str = "aic",
    tolerance: float = 2.0,
) -> FitResult:
    r"""Fit candidate distributions to ``z`` by maximum likelihood and rank them.

    Each candidate gets its maximum-likelihood parameters (``scipy.stats``' ``fit``) and
    :math:`\text{AIC} = 2k - 2\ell` or :math:`\text{BIC} = k\ln n - 2\ell` (k
    parameters, ℓ the maximised log-likelihood).  Candidates whose criterion is within
    ``tolerance`` of the lowest, :math:`\Delta \le 2` by default, are equally supported
    by the data (Burnham & Anderson 2002, §2.6), and ``best`` is the one with the
    fewest parameters among them; among equally simple ones, the earlier in
    ``candidates`` (so list your hypothesis first: the default starts with the normal,
    the central limit theorem's prediction).  This matters because the defaults nest:
    Student's t (ν → ∞) and the generalised normal (β = 2) contain
    the normal, so on normal data the larger model's extra parameter buys a
    log-likelihood gain of about χ²₁/2, which puts its AIC below the normal's with
    probability P(χ²₁ > 2) ≈ 0.16 — a plain argmin would then call normal data
    "gennorm".  With the tolerance it does so only when χ²₁ > 6 (p ≈ 0.014 for one
    nested candidate), and a same-size rival such as the logistic must beat the normal
    by more than the tolerance.  ``tolerance=0`` is the plain argmin.

    Parameters
    ----------
    z : array_like, 1-D
        The sample (e.g. ``simulate(..., keep=k).samples``); at least 10 values.
    candidates : sequence of str
        Names of ``scipy.stats`` continuous distributions.  Default: normal,
        Student t, logistic, Laplace, generalised normal.
    criterion : {"aic", "bic"}
        Ranking criterion.
    tolerance : float, default 2.0
        Candidates within this much of the lowest criterion count as equally
        supported; ``best`` is the simplest of them.  Non-negative.

    Returns
    -------
    FitResult

    References
    ----------
    K. P. Burnham and D. R. Anderson, *Model Selection and Multimodel Inference*, 2nd
    ed., Springer (2002), §2.6.
    """
    x = _check_sample("z", z, minimum=10)
    if isinstance(candidates, str) or not isinstance(candidates, Sequence) or not candidates:
        raise TypeError(f"`candidates` must be a non-empty sequence of names; got {candidates!r}")
    dists = [_continuous(c) for c in candidates]
    criterion = check_choice("criterion", criterion, ("aic", "bic"))
    tolerance = check_real("tolerance", tolerance, low=0.0)
    n = x.size
    params: list[tuple[float, ...]] = []
    names: list[tuple[str, ...]] = []
    values: list[float] = []
    for dist in dists:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            # optimiser chatter (overflow in trial points) is not the user's concern;
            # a failed fit shows as NaN log-likelihood
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                p = tuple(float(v) for v in dist.fit(x))
                value = float(np.sum(dist.logpdf(x, *p)))
            except (ValueError, RuntimeError, FloatingPointError):
                p, value = (math.nan,) * (dist.numargs + 2), math.nan
        shapes = tuple(dist.shapes.split(", ")) if dist.shapes else ()
        params.append(p)
        names.append((*shapes, "loc", "scale"))
        values.append(value)
    ll = np.array(values)
    k = np.array([len(p) for p in params], dtype=float)
    aic = 2 * k - 2 * ll
    bic = k * math.log(n) - 2 * ll
    crit = np.where(np.isfinite(aic if criterion == "aic" else bic),
                    aic if criterion == "aic" else bic, np.inf)
    # the simplest candidate within `tolerance` of the lowest (ties: the earlier one);
    # every fit failed (all inf): all are "supported", so the first of the fewest
    # parameters is named, as before
    supported = np.flatnonzero(crit <= np.min(crit) + tolerance)
    best = candidates[int(min(supported, key=lambda i: (k[i], i)))]
    levels = _hazen(min(n, _QQ_POINTS))
    quantiles = np.quantile(x, levels)
    for arr in (ll, aic, bic, levels, quantiles):
        arr.setflags(write=False)
    return FitResult(
        n=n, criterion=criterion, best=best, tolerance=tolerance,
        distributions=tuple(candidates),
        params=tuple(params), param_names=tuple(names), loglik=ll, aic=aic, bic=bic,
        quantile_levels=levels, sample_quantiles=quantiles,
    )


# --------------------------------------------------------------------------- normality
@result
class NormalityResult(Result):
    """A battery of normality tests with a multiple-testing adjustment."""

    _title = "Normality of z (parameters estimated from the data)"

    n: int
    tests: tuple[str, ...]
    statistic: np.ndarray
    p_value: np.ndarray
    p_adjusted: np.ndarray
    n_used: np.ndarray
    notes: tuple[str, ...]
    alpha: float
    correction: str
    reject: bool

    def to_frame(self) -> pd.DataFrame:
        """One row per test: ``test``, ``statistic``, ``p_value``, ``p_adjusted``,
        ``reject`` (adjusted p ≤ α), ``n`` (values used), ``note``."""
        return pd.DataFrame(
            {
                "test": self.tests,
                "statistic": self.statistic,
                "p_value": self.p_value,
                "p_adjusted": self.p_adjusted,
                "reject": self.p_adjusted <= self.alpha,
                "n": self.n_used,
                "note": self.notes,
            }
        )

    def _summary_header(self) -> list[str]:
        verdict = "normality REJECTED" if self.reject else "normality not rejected"
        return [f"n={self.n}  alpha={self.alpha:g}  correction={self.correction}: {verdict}"]


_CORRECTIONS = ("holm", "bonferroni", "fdr_bh", "sidak", "holm-sidak", "hommel", "none")


def _standardise(x: np.ndarray) -> np.ndarray:
    """(x − x̄)/s after an exact power-of-two rescaling, so that no square over- or
    underflows whatever the units (every test below is location–scale invariant)."""
    y = np.ldexp(x, -int(np.frexp(np.max(np.abs(x)))[1]))  # exact: |y| < 1
    y = y - y.mean()
    return y / y.std()


def _stephens(n: int) -> float:
    """Stephens' factor for the KS statistic with estimated normal parameters."""
    return math.sqrt(n) - 0.01 + 0.85 / math.sqrt(n)


def _lilliefors(x: np.ndarray, rng: np.random.Generator) -> tuple[float, float, int, str]:
    """(statistic, p-value, n used, note); valid p-values for every n (module docstring)."""
    from statsmodels.stats.diagnostic import lilliefors

    n = x.size
    stat, p = lilliefors(x, dist="norm", pvalmethod="table")
    if n <= LILLIEFORS_TABLE_MAX_N:
        return float(stat), float(p), n, (
            "statsmodels; p-value interpolated from its simulated table, bounded to "
            "[0.001, 0.99]")
    try:
        from statsmodels.stats._lilliefors import get_lilliefors_table
    except ImportError:  # pragma: no cover - statsmodels moved its table
        sub = rng.choice(x, size=LILLIEFORS_TABLE_MAX_N, replace=False)
        stat, p = lilliefors(sub, dist="norm", pvalmethod="table")
        return float(stat), float(p), sub.size, (
            f"random subsample of {sub.size} (the range of statsmodels' table)")
    m = LILLIEFORS_TABLE_MAX_N
    p = get_lilliefors_table(dist="norm").prob(stat * _stephens(n) / _stephens(m), m)
    return float(stat), float(p), n, (
        f"p-value of Stephens' modified statistic D(√n − 0.01 + 0.85/√n) from statsmodels' "
        f"table at n = {m} (its extrapolation beyond is liberal), bounded to [0.001, 0.99]")


@fill
def normality(
    z: Any,
    *,
    alpha: float = 0.05,
    correction: str = "holm",
    rng: Any = None,
    max_shapiro: int = 5000,
    max_monte_carlo: int = 2000,
    n_mc_samples: int = 999,
) -> NormalityResult:
    """Test normality of ``z`` with tests valid for estimated mean and variance.

    Parameters
    ----------
    z : array_like, 1-D
        At least 20 values (D'Agostino's K² needs them).
    alpha : float, default 0.05
        Family-wise level after ``correction``.
    correction : str, default "holm"
        A statsmodels ``multipletests`` method, or "none".
    %(rng)s
        Draws the subsamples and the Monte Carlo samples.
    max_shapiro : int, default 5000
        Shapiro–Wilk runs on a random subsample of at most this size (scipy's
        p-value approximation is validated up to 5000).
    max_monte_carlo : int, default 2000
        Subsample size for the Monte Carlo Cramér–von Mises test (each of the
        ``n_mc_samples`` simulated samples is refitted).
    n_mc_samples : int, default 999
        Monte Carlo samples; p-value (k + 1)/(n_mc_samples + 1).

    Returns
    -------
    NormalityResult
    """
    from statsmodels.stats.diagnostic import normal_ad
    from statsmodels.stats.multitest import multipletests

    x = _check_sample("z", z, minimum=20)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_inclusive=False,
                       high_inclusive=False)
    correction = check_choice("correction", correction, _CORRECTIONS)
    max_shapiro = check_int("max_shapiro", max_shapiro, minimum=20)
    max_monte_carlo = check_int("max_monte_carlo", max_monte_carlo, minimum=20)
    n_mc_samples = check_int("n_mc_samples", n_mc_samples, minimum=1)
    rng = check_rng(rng)
    n = x.size
    if np.ptp(x) == 0:
        raise ValueError("`z` is constant; normality tests are undefined for zero variance")
    x = _standardise(x)

    def subsample(m: int) -> np.ndarray:
        return x if n <= m else rng.choice(x, size=m, replace=False)

    rows = [("lilliefors", *_lilliefors(x, rng))]
    stat, p = normal_ad(x)
    rows.append(("anderson_darling", stat, p, n, "statsmodels normal_ad (Stephens' correction)"))
    sub = subsample(max_monte_carlo)
    mc = stats.goodness_of_fit(stats.norm, sub, statistic="cvm", n_mc_samples=n_mc_samples,
                               rng=rng)
    rows.append(("cramer_von_mises_mc", mc.statistic, mc.pvalue, sub.size,
                 f"scipy goodness_of_fit, {n_mc_samples} parametric-bootstrap samples"))
    sub = subsample(max_shapiro)
    sw = stats.shapiro(sub)
    rows.append(("shapiro_wilk", sw.statistic, sw.pvalue, sub.size,
                 "random subsample" if sub.size < n else ""))
    jb = stats.jarque_bera(x)
    rows.append(("jarque_bera", jb.statistic, jb.pvalue, n, "asymptotic chi-square(2)"))
    k2 = stats.normaltest(x)
    rows.append(("dagostino_k2", k2.statistic, k2.pvalue, n, "asymptotic chi-square(2)"))

    names = tuple(r[0] for r in rows)
    pvals = np.array([float(r[2]) for r in rows])
    if correction == "none":
        adjusted = pvals.copy()
    else:
        adjusted = multipletests(pvals, alpha=alpha, method=correction)[1]
    arrays = [np.array([float(r[1]) for r in rows]), pvals, adjusted,
              np.array([r[3] for r in rows])]
    for arr in arrays:
        arr.setflags(write=False)
    return NormalityResult(
        n=n, tests=names, statistic=arrays[0], p_value=pvals, p_adjusted=adjusted,
        n_used=arrays[3], notes=tuple(r[4] for r in rows), alpha=alpha, correction=correction,
        reject=bool(np.any(adjusted <= alpha)),
    )


# --------------------------------------------------------------------------- theory
@result
class TheoryComparisonResult(Result):
    """Fitted (MLE) σ of z against the closed-form σ."""

    _title = "Fitted σ of z vs closed form"

    n: int
    fitted_std: float
    theory_std: float
    ci_low: float
    ci_high: float
    ratio: float
    p_value: float
    reject: bool
    confidence_level: float

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "statistic": ["std"],
                "estimate": [self.fitted_std],
                "ci_low": [self.ci_low],
                "ci_high": [self.ci_high],
                "theory": [self.theory_std],
                "ratio": [self.ratio],
                "p_value": [self.p_value],
                "reject": [self.reject],
                "n": [self.n],
            }
        )


@fill
def compare_to_theory(result: Any, *, confidence_level: float = 0.95) -> TheoryComparisonResult:
    r"""Compare the normal MLE :math:`\hat\sigma = \sqrt{M_2/n}` of a Monte Carlo run
    with its closed-form σ.

    The interval is the kurtosis-aware one of
    :meth:`satsim.montecarlo.PreactivationResult.var_ci` (square-rooted; the MLE
    and the ddof=1 estimate differ by a factor √((n−1)/n), negligible at Monte
    Carlo sizes and applied here); the test of σ² = σ²_theory is the matching Wald test.

    Parameters
    ----------
    result : PreactivationResult
        From :func:`satsim.montecarlo.simulate`.
    %(confidence_level)s

    Returns
    -------
    TheoryComparisonResult
        ``fitted_std`` :math:`= s\sqrt{(n-1)/n}`, its interval ``ci_low``/``ci_high``,
        ``theory_std``, ``ratio`` (fitted/theory; NaN when the theory σ is 0), and the
        two-sided Wald test :math:`p = 2\,\bar\Phi(|s^2 - \sigma^2_{theory}| /
        \mathrm{SE}(s^2))` with ``reject`` = :math:`p \le 1 - \text{level}` (``p_value``
        is NaN when the standard error is 0).

    Raises
    ------
    TypeError
        ``result`` is not a ``PreactivationResult``.
    ValueError
        ``confidence_level`` not in (0, 1).
    """
    from satsim.montecarlo import PreactivationResult

    if not isinstance(result, PreactivationResult):
        raise TypeError(
            "`result` must be a PreactivationResult from satsim.simulate; "
            f"got {type(result).__name__}"
        )
    level = check_real("confidence_level", confidence_level, low=0.0, high=1.0,
                       low_inclusive=False, high_inclusive=False)
    n = result.n
    shrink = math.sqrt((n - 1) / n)
    low, high = result.var_ci(level)
    se = result.var_se()
    p = float(2 * stats.norm.sf(abs(result.var - result.theory_var) / se)) if se > 0 else math.nan
    fitted = result.std * shrink
    return TheoryComparisonResult(
        n=n, fitted_std=fitted, theory_std=result.theory_std,
        ci_low=math.sqrt(low) * shrink, ci_high=math.sqrt(high) * shrink,
        ratio=fitted / result.theory_std if result.theory_std > 0 else math.nan,
        p_value=p, reject=bool(p <= 1 - level), confidence_level=level,
    )



# --------------------------------------------------------------------------- CLT speed
@result
class CLTResult(Result):
    """Kolmogorov distance of the standardised sum to N(0, 1) vs the Berry–Esseen bound."""

    _title = "CLT speed: Kolmogorov distance vs Berry–Esseen bound"

    weights: str
    n_in: np.ndarray
    distance: np.ndarray
    dkw_halfwidth: np.ndarray
    bound: np.ndarray
    rho_over_sigma3: float
    constant: float
    n_samples: int
    excess_kurtosis: float

    def to_frame(self) -> pd.DataFrame:
        """One row per n_in: ``n_in``, ``distance``, ``dkw_halfwidth`` (95% Monte Carlo
        noise bound), ``berry_esseen_bound``, ``ratio`` (distance/bound), ``n``."""
        return pd.DataFrame(
            {
                "weights": self.weights,
                "n_in": self.n_in,
                "distance": self.distance,
                "dkw_halfwidth": self.dkw_halfwidth,
                "berry_esseen_bound": self.bound,
                "ratio": self.distance / self.bound,
                "n": self.n_samples,
            }
        )


def _freeze(dist: Any) -> Any:
    """Freeze a scipy distribution without shape parameters (e.g. ``rv_discrete(values=...)``)."""
    try:
        return dist()
    except TypeError as exc:
        raise TypeError(
            f"`weights` must be a *frozen* scipy.stats distribution; {dist.name} needs its "
            f"shape parameters ({dist.shapes})"
        ) from exc


def _weight_law(weights: Any) -> tuple[str, Any, Any, Any, Any, _Sampler | None]:
    """(label, mean, var, rho = E|w − μ|³, excess kurtosis, sampler(n, k, rng))."""
    if isinstance(weights, stats.rv_continuous | stats.rv_discrete):
        weights = _freeze(weights)
    if hasattr(weights, "rvs") and hasattr(weights, "dist"):
        dist = weights
        mean, var, kurt = (float(v) for v in dist.stats(moments="mvk"))
        rho = float(dist.expect(lambda t: np.abs(t - mean) ** 3))
        label = dist.dist.name + (str(dist.args) if dist.args else "")
        if hasattr(dist.dist, "xk"):  # rv_discrete(values=(xk, pk))
            label = f"discrete(values={dist.dist.xk.tolist()})"

        def sampler(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
            return np.asarray(dist.rvs(size=(n, k), random_state=rng), dtype=float)

        return label, mean, var, rho, kurt, sampler
    init = as_initializer(weights, param="weights")
    if isinstance(init, Orthogonal):
        raise ValueError(
            "`weights` must have independent entries for the Berry–Esseen bound; "
            "orthogonal rows are dependent"
        )
    return init.name, init, None, None, None, None


def _initializer_rho(init: Initializer, fan_in: int, fan_out: int) -> float:
    mean = init.mean(fan_in, fan_out)
    if isinstance(init, _ScipyElementwise):
        return float(init.weight_distribution(fan_in, fan_out).expect(
            lambda t: np.abs(t - mean) ** 3))
    if isinstance(init, Sparse):
        p = 1.0 - init._zero_fraction(fan_out)
        return p * 2.0 * math.sqrt(2.0 / math.pi) * init.scale**3  # E|N(0,s²)|³ = 2√(2/π)s³
    raise ValueError(f"no third absolute moment is available for the {init.name!r} initializer")


@fill
def clt_speed(
    weights: Any,
    n_in: int | Sequence[int],
    *,
    n_samples: int = 100_000,
    fan_out: int | None = None,
    rng: Any = None,
) -> CLTResult:
    r"""Kolmogorov distance of :math:`(z - E z)/\operatorname{sd}(z)` to N(0, 1) for
    :math:`z = \sum_{j=1}^{n} w_j`, against Berry–Esseen.

    Parameters
    ----------
    weights : Initializer, str or frozen scipy.stats distribution
        Law of one weight (e.g. ``scipy.stats.uniform(-1, 2)``, a Rademacher
        ``scipy.stats.rv_discrete(values=([-1, 1], [0.5, 0.5]))``, ``"sparse"``,
        ``"truncated_normal"``).  Fan-dependent initializers use fan_in = fan_out = n;
        standardisation removes the scale anyway.
    n_in : int or sequence of int
        Numbers of summands.
    n_samples : int, default 100000
        Monte Carlo draws of z per n.
    fan_out : int, optional
        Layer width for fan-dependent initializers (default: n, a square layer).
    %(rng)s

    Returns
    -------
    CLTResult
    """
    if isinstance(n_in, int | np.integer):
        n_in = [n_in]
    ns = np.array([check_int(f"n_in[{i}]", v, minimum=1) for i, v in enumerate(n_in)])
    if ns.size == 0:
        raise ValueError("`n_in` must contain at least one value")
    n_samples = check_int("n_samples", n_samples, minimum=10)
    if fan_out is not None:
        fan_out = check_int("fan_out", fan_out, minimum=1)
    rng = check_rng(rng)
    label, a, b, c, d, sampler = _weight_law(weights)
    distances, bounds = [], []
    rho_ratio = kurt = math.nan
    for n, stream in zip(ns, rng.spawn(ns.size), strict=True):
        n = int(n)
        if sampler is None:  # an Initializer: stream z through the Monte Carlo engine
            from satsim.inputs import nielsen
            from satsim.montecarlo import simulate

            init = a
            fo = n if fan_out is None else fan_out
            mean, var = init.mean(n, fo), init.variance(n, fo)
            if var <= 0:
                raise ValueError(
                    f"`weights` must have positive variance; {init.name!r} has variance 0 at "
                    f"fan_in={n}, fan_out={fo}"
                )
            rho, kurt = _initializer_rho(init, n, fo), init.excess_kurtosis(n, fo)
            z = simulate(init, nielsen(n, n), bias=None, n_samples=n_samples, keep=n_samples,
                         fan_out=fo, rng=stream).samples
        else:
            mean, var, rho, kurt = a, b, c, d
            z = np.empty(n_samples)
            step = max(1, 2**20 // n)
            for start in range(0, n_samples, step):
                m = min(step, n_samples - start)
                z[start : start + m] = sampler(m, n, stream).sum(axis=1)
        if var <= 0:
            raise ValueError(f"`weights` must have positive variance; got variance {var}")
        standard = (z - n * mean) / math.sqrt(n * var)
        distances.append(stats.kstest(standard, "norm").statistic)
        rho_ratio = rho / var**1.5
        bounds.append(BERRY_ESSEEN_C_IID * rho_ratio / math.sqrt(n))
    dkw = math.sqrt(math.log(2 / 0.05) / (2 * n_samples))
    arrays = [ns, np.array(distances), np.full(ns.size, dkw), np.array(bounds)]
    for arr in arrays:
        arr.setflags(write=False)
    return CLTResult(
        weights=label, n_in=arrays[0], distance=arrays[1], dkw_halfwidth=arrays[2],
        bound=arrays[3], rho_over_sigma3=rho_ratio, constant=BERRY_ESSEEN_C_IID,
        n_samples=n_samples, excess_kurtosis=float(kurt),
    )
