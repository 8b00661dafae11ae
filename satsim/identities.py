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

The test.  :math:`R = \widehat{\operatorname{Var}}(S) / \sum_i a_i^2
\widehat{\operatorname{Var}}(X_i)` estimates :math:`\rho = 1 + 2\sum_{i<j} a_i a_j
\operatorname{Cov}_{ij} / \sum_i a_i^2 \sigma_i^2`; H0 is ρ = 1.

* ``method="asymptotic"`` (default) — valid without normality.  With the
  influence function of a variance, :math:`\mathrm{IF}(y) = (y-\mu)^2 - \sigma^2`,
  the delta method gives :math:`\operatorname{Var}(R) \approx \operatorname{Var}(g)
  / (n U^2)` with :math:`g = (S - \bar S)^2 - R \sum_i a_i^2 (X_i - \bar X_i)^2` and
  U the denominator.  For one variable this is the familiar
  :math:`\operatorname{Var}(s^2) \approx (\mu_4 - \sigma^4)/n`: the fourth moments
  enter, which is why a chi-square interval is wrong for heavy tails.  The
  interval and Wald test are on :math:`\log R` (better coverage for a ratio).
* ``method="normal_theory"`` — the chi-square interval
  :math:`(n-1)\hat V / \chi^2_{n-1}` for Var(S), with the denominator treated as
  known.  It *assumes normal S*; under heavy tails its size is wrong
  (:func:`calibrate` shows it).
* ``method="bootstrap"`` — :func:`scipy.stats.bootstrap` over rows (BCa interval);
  p-value :math:`(1 + \#\{|\log R^*_b - \log R| \ge |\log R|\})/(B + 1)`.

The interval has confidence level 1 − α, so ``reject`` ⇔ 1 ∉ CI (asymptotic and
normal theory).  With ``margin`` m, TOST tests H0: |ρ − 1| ≥ m against
H1: 1 − m < ρ < 1 + m: equivalence ⇔ the 1 − 2α interval lies inside
(1 − m, 1 + m).

Streaming.  The asymptotic and normal-theory methods read ``components`` in row
chunks over two passes (means, then centred sums), so temporary memory is
O(chunk · k + k²), never a copy of the data.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from satsim._docstrings import fill
from satsim._namespace import public_dir
from satsim._results import Plottable, Result, result
from satsim._validation import check_array, check_choice, check_int, check_real, check_rng
from satsim._warnings import DegenerateDistributionWarning, MonteCarloPrecisionWarning

__all__ = [
    "MAX_PAIRWISE_K",
    "SMALL_N",
    "CalibrationResult",
    "SumVarianceResult",
    "calibrate",
    "check_sum_variance",
]

__dir__ = public_dir(globals())

_METHODS = ("asymptotic", "normal_theory", "bootstrap")
#: Largest k for which the k×k covariance matrix (pairwise decomposition) is formed.
MAX_PAIRWISE_K = 4096
#: Below this many draws the asymptotic test warns (its size exceeds α; measured by
#: satsim.calibrate for normal components: 0.41 at n = 5, 0.12 at 30, 0.06 at 100).
SMALL_N = 100


@result
class SumVarianceResult(Result, Plottable):
    r"""Outcome of :func:`check_sum_variance`.

    Attributes
    ----------
    var_sum : float
        :math:`\widehat{\operatorname{Var}}(S)`, S = Σ a_i X_i.
    sum_of_vars : float
        :math:`\sum_i a_i^2 \widehat{\operatorname{Var}}(X_i)`.
    ratio, ci_low, ci_high : float
        var_sum / sum_of_vars and its 1 − α confidence interval.
    se_log_ratio : float
        Standard error of log(ratio) (NaN for the bootstrap).
    p_value, reject : float, bool
        Test of H0 "the identity holds" (ratio = 1) at level ``alpha``.
    equivalence_p_value, equivalent : float or None, bool or None
        TOST within ±``margin`` (None when no margin).
    covariance_term : float
        var_sum − sum_of_vars = 2 Σ_{i<j} a_i a_j Ĉov_ij (exact on the sample).
    component_var : numpy.ndarray
        :math:`\widehat{\operatorname{Var}}(X_i)`.
    pair_i, pair_j, pair_cov, pair_corr, pair_contribution : numpy.ndarray
        The pairs with the largest |2 a_i a_j Ĉov_ij|, largest first.
    """

    _title = "Variance of a sum: Var(Σ a_i X_i) vs Σ a_i² Var(X_i)"

    n: int
    k: int
    var_sum: float
    sum_of_vars: float
    ratio: float
    ci_low: float
    ci_high: float
    se_log_ratio: float
    p_value: float
    reject: bool
    alpha: float
    method: str
    margin: float | None
    equivalence_p_value: float | None
    equivalent: bool | None
    covariance_term: float
    weights: np.ndarray
    component_var: np.ndarray
    pair_i: np.ndarray
    pair_j: np.ndarray
    pair_cov: np.ndarray
    pair_corr: np.ndarray
    pair_contribution: np.ndarray
    ddof: int

    @property
    def confidence_level(self) -> float:
        return 1.0 - self.alpha

    def to_frame(self) -> pd.DataFrame:
        """One row: ``estimate`` (the ratio), ``ci_low``, ``ci_high``, ``p_value``,
        ``reject``, ``n``, the two variances, the covariance term and TOST columns."""
        return pd.DataFrame(
            {
                "statistic": ["var_ratio"],
                "estimate": [self.ratio],
                "ci_low": [self.ci_low],
                "ci_high": [self.ci_high],
                "p_value": [self.p_value],
                "reject": [self.reject],
                "n": [self.n],
                "k": [self.k],
                "var_sum": [self.var_sum],
                "sum_of_vars": [self.sum_of_vars],
                "covariance_term": [self.covariance_term],
                "method": [self.method],
                "alpha": [self.alpha],
                "margin": [self.margin],
                "equivalence_p_value": [self.equivalence_p_value],
                "equivalent": [self.equivalent],
            }
        )

    def pairs_frame(self) -> pd.DataFrame:
        """The largest pairwise contributions 2 a_i a_j Ĉov_ij, with their share of
        the covariance term."""
        total = self.covariance_term
        share = self.pair_contribution / total if total != 0 else np.full_like(
            self.pair_contribution, np.nan
        )
        return pd.DataFrame(
            {
                "i": self.pair_i,
                "j": self.pair_j,
                "cov": self.pair_cov,
                "corr": self.pair_corr,
                "contribution": self.pair_contribution,
                "share_of_covariance_term": share,
            }
        )

    def _summary_header(self) -> list[str]:
        verdict = "REJECTED" if self.reject else "not rejected"
        lines = [
            f"method={self.method}  n={self.n}  k={self.k}  alpha={self.alpha:g}: "
            f"identity {verdict}"
        ]
        if self.pair_i.size and self.reject:
            lines.append(
                f"largest covariance contribution: X{self.pair_i[0]}, X{self.pair_j[0]} "
                f"({self.pair_contribution[0]:.4g} of {self.covariance_term:.4g})"
            )
        return lines


def _chunk_rows(k: int) -> int:
    return max(1, 2**20 // max(k, 1))


def _moments_two_pass(
    X: np.ndarray, a: np.ndarray, ddof: int, pairwise: bool
) -> tuple[np.ndarray, np.ndarray, float, float, float, float, np.ndarray | None]:
    """Centred sums needed by every method, reading X in row chunks."""
    n, k = X.shape
    step = _chunk_rows(k)
    col_sum = np.zeros(k)
    for start in range(0, n, step):
        col_sum += X[start : start + step].sum(axis=0)
    mu = col_sum / n
    a2 = a * a
    sum_d = np.zeros(k)  # Σ (X_i − μ_i)²
    sum_ds = sum_ds2 = sum_dst = sum_t2 = 0.0
    gram = np.zeros((k, k)) if pairwise else None
    for start in range(0, n, step):
        C = X[start : start + step] - mu
        cs = C @ a
        ds = cs * cs
        D = C * C
        t = D @ a2
        sum_d += D.sum(axis=0)
        sum_ds += float(ds.sum())
        sum_ds2 += float(ds @ ds)
        sum_dst += float(ds @ t)
        sum_t2 += float(t @ t)
        if gram is not None:
            gram += C.T @ C
    return mu, sum_d, sum_ds, sum_ds2, sum_dst, sum_t2, gram


def _top_pairs(
    gram: np.ndarray, a: np.ndarray, denom: float, top: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    k = a.shape[0]
    cov = gram / denom
    contrib = 2.0 * np.outer(a, a) * cov
    iu, ju = np.triu_indices(k, 1)
    values = contrib[iu, ju]
    m = min(top, values.size)
    if m == 0:
        empty = np.empty(0)
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), empty, empty, empty
    order = np.argpartition(-np.abs(values), m - 1)[:m]
    order = order[np.argsort(-np.abs(values[order]), kind="stable")]
    i, j = iu[order], ju[order]
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov[i, j] / (sd[i] * sd[j])
    return i, j, cov[i, j], corr, values[order]


def _check_components(components: Any) -> np.ndarray:
    X = check_array("components", components, finite=False)
    if X.ndim != 2:
        raise ValueError(
            f"`components` must be a 2-D array (n_draws, k), one row per joint draw; "
            f"got an array of shape {X.shape}"
        )
    if X.shape[0] < 2:
        raise ValueError(f"`components` must have at least 2 rows (draws); got shape {X.shape}")
    if X.shape[1] < 2:
        raise ValueError(
            "`components` must have at least 2 columns (a sum needs two terms); "
            f"got shape {X.shape}"
        )
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(
            f"`components` must contain only finite values; found {float(X[tuple(bad)])!r} at "
            f"row {int(bad[0])}, column {int(bad[1])}"
        )
    return X


@fill
def check_sum_variance(
    components: Any,
    *,
    weights: Any = None,
    alpha: float = 0.05,
    margin: float | None = None,
    method: str = "asymptotic",
    rng: Any = None,
    ddof: int = 1,
    top_pairs: int = 10,
    n_resamples: int = 1999,
) -> SumVarianceResult:
    r"""Test :math:`\operatorname{Var}(\sum a_i X_i) = \sum a_i^2 \operatorname{Var}(X_i)`.

    Parameters
    ----------
    components : array_like, shape (n_draws, k)
        Joint draws of :math:`X_1..X_k`, one row per draw; k ≥ 2, n_draws ≥ 2.
    weights : array_like, shape (k,), optional
        The constants :math:`a_i` (default all ones: a plain sum).
    alpha : float, default 0.05
        Level of the test; the interval has confidence 1 − α.
    margin : float, optional
        Relative equivalence margin m in (0, 1) for TOST: "the variances agree
        within ±m".
    method : {"asymptotic", "normal_theory", "bootstrap"}
        See the module docstring; only "normal_theory" assumes normality.
    %(rng)s
        Used by ``method="bootstrap"`` only.
    ddof : int, default 1
        Delta degrees of freedom of every sample variance and covariance.
    top_pairs : int, default 10
        How many of the largest pairwise covariance contributions to report.
    n_resamples : int, default 1999
        Bootstrap resamples (``method="bootstrap"``).

    Returns
    -------
    SumVarianceResult

    Warns
    -----
    DegenerateDistributionWarning
        Some component has zero sample variance (reported, not an error); if all
        weighted variances are zero the ratio is NaN.

    Examples
    --------
    >>> import numpy as np, satsim
    >>> X = np.random.default_rng(0).uniform(size=(4000, 3))
    >>> res = satsim.identities.check_sum_variance(X)
    >>> bool(res.reject), round(res.ratio, 2)
    (False, 1.0)
    """
    X = _check_components(components)
    n, k = X.shape
    if weights is None:
        a = np.ones(k)
    else:
        a = check_array("weights", weights, ndim=1)
        if a.shape[0] != k:
            raise ValueError(
                f"`weights` must have one entry per column of `components` (k={k}); "
                f"got {a.shape[0]} entries"
            )
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    if margin is not None:
        margin = check_real("margin", margin, low=0.0, high=1.0, low_inclusive=False,
                            high_inclusive=False)
    method = check_choice("method", method, _METHODS)
    ddof = check_int("ddof", ddof, minimum=0)
    if ddof >= n:
        raise ValueError(f"`ddof` must be smaller than the number of draws n={n}; got ddof={ddof}")
    top_pairs = check_int("top_pairs", top_pairs, minimum=0)
    n_resamples = check_int("n_resamples", n_resamples, minimum=1)
    rng = check_rng(rng)

    pairwise = k <= MAX_PAIRWISE_K and top_pairs > 0
    _, sum_d, sum_ds, sum_ds2, sum_dst, sum_t2, gram = _moments_two_pass(X, a, ddof, pairwise)
    denom = n - ddof
    comp_var = sum_d / denom
    var_sum = sum_ds / denom
    sum_of_vars = float((a * a) @ comp_var)
    zero = np.flatnonzero((comp_var == 0.0) & (a != 0.0))
    if zero.size:
        warnings.warn(
            f"component(s) {zero[:10].tolist()} have zero sample variance; they add nothing "
            "to either side of the identity",
            DegenerateDistributionWarning,
            stacklevel=2,
        )
    if gram is not None:  # formed iff pairwise
        pair_i, pair_j, pair_cov, pair_corr, pair_contrib = _top_pairs(gram, a, denom, top_pairs)
    else:
        pair_i = pair_j = np.empty(0, dtype=np.intp)
        pair_cov = pair_corr = pair_contrib = np.empty(0)

    nan = math.nan
    common = dict(
        n=n, k=k, var_sum=var_sum, sum_of_vars=sum_of_vars, alpha=alpha, method=method,
        margin=margin, covariance_term=var_sum - sum_of_vars, weights=a, component_var=comp_var,
        pair_i=pair_i, pair_j=pair_j, pair_cov=pair_cov, pair_corr=pair_corr,
        pair_contribution=pair_contrib, ddof=ddof,
    )
    if sum_of_vars == 0.0 or var_sum == 0.0:
        warnings.warn(
            "the weighted component variances (or the variance of the sum) are all zero; "
            "the ratio is undefined",
            DegenerateDistributionWarning,
            stacklevel=2,
        )
        return SumVarianceResult(
            ratio=nan, ci_low=nan, ci_high=nan, se_log_ratio=nan, p_value=nan, reject=False,
            equivalence_p_value=None if margin is None else nan,
            equivalent=None if margin is None else False, **common,
        )
    ratio = var_sum / sum_of_vars
    log_r = math.log(ratio)

    if method == "asymptotic" and n < SMALL_N:
        warnings.warn(
            f"method='asymptotic' with n={n} < {SMALL_N} draws: the normal approximation "
            "makes the test liberal (measured size ≈ 0.12 at n = 30, 0.06 at n = 100 for "
            "α = 0.05); prefer method='bootstrap' or more draws",
            MonteCarloPrecisionWarning,
            stacklevel=2,
        )
    if method == "asymptotic":
        mean_g = (sum_ds - ratio * (sum_of_vars * denom)) / n
        var_g = (sum_ds2 - 2.0 * ratio * sum_dst + ratio**2 * sum_t2) / n - mean_g**2
        se = math.sqrt(max(var_g, 0.0) / n) / var_sum
        # A (numerically) zero standard error: with few draws the sample cannot measure
        # the uncertainty (n = 2 always gives 0) — no decision; with n ≥ SMALL_N it means
        # the ratio is deterministic (e.g. one weight reused for every component, so
        # every X_i is a multiple of the same draw) and the identity holds or fails exactly.
        degenerate = not se > 1e-12 * max(1.0, abs(log_r))
        zq = stats.norm.ppf(1.0 - alpha / 2.0)
        exact = abs(log_r) <= 1e-12
        if degenerate and n < SMALL_N:
            ci_low = ci_high = p_value = nan
        elif degenerate:
            ci_low = ci_high = ratio
            p_value = 1.0 if exact else 0.0
        else:
            ci_low, ci_high = math.exp(log_r - zq * se), math.exp(log_r + zq * se)
            p_value = float(2.0 * stats.norm.sf(abs(log_r) / se))
        eq_p = None
        if margin is not None:
            if degenerate and n < SMALL_N:
                eq_p = nan
            elif degenerate:
                eq_p = 0.0 if abs(ratio - 1.0) < margin else 1.0
            else:
                lower = stats.norm.sf((log_r - math.log(1.0 - margin)) / se)
                upper = stats.norm.cdf((log_r - math.log(1.0 + margin)) / se)
                eq_p = float(max(lower, upper))
    elif method == "normal_theory":
        se = nan
        df = n - 1
        stat = df * var_sum / sum_of_vars  # ~ χ²_{n−1} under H0 if S is normal
        chi = stats.chi2(df)
        ci_low = df * ratio / chi.ppf(1.0 - alpha / 2.0)
        ci_high = df * ratio / chi.ppf(alpha / 2.0)
        p_value = float(min(1.0, 2.0 * min(chi.cdf(stat), chi.sf(stat))))
        eq_p = None
        if margin is not None:
            lower = chi.sf(stat / (1.0 - margin))  # H0: ρ ≤ 1 − m
            upper = chi.cdf(stat / (1.0 + margin))  # H0: ρ ≥ 1 + m
            eq_p = float(max(lower, upper))
    else:
        se = nan
        ci_low, ci_high, p_value, eq_p = _bootstrap(X, a, ddof, alpha, margin, n_resamples, rng)

    reject = bool(p_value <= alpha)  # NaN (no decision) compares False
    equivalent = None if eq_p is None else bool(eq_p <= alpha)  # eq_p is None iff margin is
    return SumVarianceResult(
        ratio=ratio, ci_low=float(ci_low), ci_high=float(ci_high), se_log_ratio=se,
        p_value=float(p_value), reject=reject, equivalence_p_value=eq_p, equivalent=equivalent,
        **common,
    )


def _bootstrap(
    X: np.ndarray,
    a: np.ndarray,
    ddof: int,
    alpha: float,
    margin: float | None,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[float, float, float, float | None]:
    n, k = X.shape
    a2 = a * a

    def ratio_stat(x: np.ndarray, axis: int = -1) -> np.ndarray:
        # scipy passes shape (k, ..., n) with the resampled axis last
        s = np.tensordot(a, x, axes=(0, 0))
        v = np.var(s, axis=-1, ddof=ddof)
        u = np.tensordot(a2, np.var(x, axis=-1, ddof=ddof), axes=(0, 0))
        return v / u

    batch = max(1, 2**22 // (n * k))
    res = stats.bootstrap(
        (X,), ratio_stat, n_resamples=n_resamples, vectorized=True, axis=0,
        confidence_level=1.0 - alpha, method="BCa", batch=batch, rng=rng,
    )
    ratio = float(ratio_stat(X.T))
    boot = np.log(res.bootstrap_distribution)
    log_r = math.log(ratio)
    extreme = np.count_nonzero(np.abs(boot - log_r) >= abs(log_r))
    p_value = (extreme + 1.0) / (boot.size + 1.0)
    eq_p = None
    if margin is not None:
        # percentile TOST: the two one-sided bootstrap p-values
        lower = (np.count_nonzero(boot <= math.log(1.0 - margin)) + 1.0) / (boot.size + 1.0)
        upper = (np.count_nonzero(boot >= math.log(1.0 + margin)) + 1.0) / (boot.size + 1.0)
        eq_p = float(max(lower, upper))
    ci = res.confidence_interval
    return float(ci.low), float(ci.high), p_value, eq_p


# --------------------------------------------------------------------------- calibration
@result
class CalibrationResult(Result):
    """Empirical size (under ``null``) and power (under ``alternative``) of a test,
    each with a binomial confidence interval."""

    _title = "Calibration of a test: empirical size and power"

    replications: int
    alpha: float
    size: float
    size_ci_low: float
    size_ci_high: float
    size_p_value: float
    rejections_null: int
    power: float | None
    power_ci_low: float | None
    power_ci_high: float | None
    rejections_alternative: int | None
    confidence_level: float
    ci_method: str

    def to_frame(self) -> pd.DataFrame:
        """Rows ``size`` and (if an alternative was run) ``power``: ``estimate``,
        ``ci_low``, ``ci_high``, ``rejections``, ``n`` (replications), ``nominal``
        and, for size, the binomial-test ``p_value`` of size = α."""
        rows = [
            {
                "statistic": "size",
                "estimate": self.size,
                "ci_low": self.size_ci_low,
                "ci_high": self.size_ci_high,
                "rejections": self.rejections_null,
                "n": self.replications,
                "nominal": self.alpha,
                "p_value": self.size_p_value,
            }
        ]
        if self.power is not None:
            rows.append(
                {
                    "statistic": "power",
                    "estimate": self.power,
                    "ci_low": self.power_ci_low,
                    "ci_high": self.power_ci_high,
                    "rejections": self.rejections_alternative,
                    "n": self.replications,
                    "nominal": math.nan,
                    "p_value": math.nan,
                }
            )
        return pd.DataFrame(rows)


def _takes_rng(func: Callable) -> bool:
    try:
        return "rng" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _rejection_count(
    check: Callable[..., Any],
    generate: Callable[[np.random.Generator], Any],
    streams: Sequence[np.random.Generator],
) -> tuple[int, Any]:
    """(rejections, first outcome)."""
    pass_rng = _takes_rng(check)
    count = 0
    first = None
    for stream in streams:
        data_rng, test_rng = stream.spawn(2)
        data = generate(data_rng)
        outcome = check(data, rng=test_rng) if pass_rng else check(data)
        reject = getattr(outcome, "reject", outcome)
        if not isinstance(reject, bool | np.bool_):
            raise TypeError(
                "`check` must return a bool or an object with a boolean `reject` attribute; "
                f"got {type(outcome).__name__}"
            )
        count += bool(reject)
        if first is None:
            first = outcome
    return count, first


@fill
def calibrate(
    check: Callable | None = None,
    *,
    null: Callable,
    alternative: Callable | None = None,
    replications: int = 400,
    rng: Any = None,
    alpha: float | None = None,
    confidence_level: float = 0.95,
    ci_method: str = "wilson",
) -> CalibrationResult:
    """Empirical size and power of a test, on independent spawned streams.

    Parameters
    ----------
    check : callable, optional
        ``check(data)`` or ``check(data, rng=...)`` returning a bool or an object
        with a ``reject`` attribute.  Default: :func:`check_sum_variance`.
    null, alternative : callable
        ``null(rng) -> data``: one data set drawn under H0 (resp. H1).
    replications : int, default 400
        Independent replications per scenario.
    %(rng)s
    alpha : float, optional
        Nominal level.  Default: the ``alpha`` attribute of the first result (e.g. a
        SumVarianceResult's), else 0.05.
    %(confidence_level)s
    ci_method : str, default "wilson"
        Binomial interval (statsmodels ``proportion_confint`` method).

    Returns
    -------
    CalibrationResult
        ``size`` with its CI and the two-sided binomial-test p-value of
        "size = α" (scipy ``binomtest``); ``power`` with its CI.
    """
    from statsmodels.stats.proportion import proportion_confint

    check = check_sum_variance if check is None else check
    for name, func in (("check", check), ("null", null)):
        if not callable(func):
            raise TypeError(f"`{name}` must be callable; got {name}={func!r}")
    if alternative is not None and not callable(alternative):
        raise TypeError(f"`alternative` must be callable; got alternative={alternative!r}")
    replications = check_int("replications", replications, minimum=1)
    check_real("confidence_level", confidence_level, low=0.0, high=1.0,
               low_inclusive=False, high_inclusive=False)
    ci_method = check_choice("ci_method", ci_method,
                             ("wilson", "normal", "agresti_coull", "beta", "jeffreys",
                              "binom_test"))
    if alpha is not None:
        alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_inclusive=False,
                           high_inclusive=False)
    rng = check_rng(rng)
    null_streams, alt_streams = rng.spawn(2)
    k0, first = _rejection_count(check, null, null_streams.spawn(replications))
    if alpha is None:
        # the level the check itself used (its result's `alpha`), else 0.05
        alpha = float(getattr(first, "alpha", 0.05) or 0.05)
    lo0, hi0 = proportion_confint(k0, replications, alpha=1 - confidence_level, method=ci_method)
    size_p = stats.binomtest(k0, replications, alpha).pvalue
    power = lo1 = hi1 = k1 = None
    if alternative is not None:
        k1, _ = _rejection_count(check, alternative, alt_streams.spawn(replications))
        power = k1 / replications
        lo1, hi1 = (float(v) for v in proportion_confint(
            k1, replications, alpha=1 - confidence_level, method=ci_method))
    return CalibrationResult(
        replications=replications, alpha=alpha, size=k0 / replications,
        size_ci_low=float(lo0), size_ci_high=float(hi0), size_p_value=float(size_p),
        rejections_null=k0, power=power, power_ci_low=lo1, power_ci_high=hi1,
        rejections_alternative=k1, confidence_level=confidence_level, ci_method=ci_method,
    )
