"""The moment test of Var(ΣX) = ΣVar X (:func:`check_sum_variance`, see
:mod:`satsim.identities`)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from satsim._docstrings import fill
from satsim._results import Plottable, Result, result
from satsim._validation import check_choice, check_int, check_real, check_rng
from satsim._warnings import (
    ApproximationWarning,
    DegenerateDistributionWarning,
    MonteCarloPrecisionWarning,
)
from satsim.identities._moments import (
    _check_components,
    _check_weights,
    _moments,
    _scaled_centred,
    _skewness_index,
    _top_pairs,
    _unscale,
)
from satsim.identities._resampling import _bootstrap, _exp, _permutation

_METHODS = ("asymptotic", "normal_theory", "bootstrap", "permutation")
_NAN_POLICIES = ("raise", "omit", "propagate")
#: Largest k for which the k×k covariance matrix (pairwise decomposition) is formed.
MAX_PAIRWISE_K = 4096
#: Below this many draws the asymptotic test warns (its size exceeds α; measured by
#: satsim.calibrate for normal components: 0.41 at n = 5, 0.12 at 30, 0.06 at 100).
SMALL_N = 100
#: The asymptotic and bootstrap tests warn when the estimated γ²/n (``skewness_index``)
#: exceeds this.  Chosen from calibration (k = 2 unless stated, α = 0.05): measured
#: size ≥ 0.067 wherever the median index was above it (exponential and Poisson(0.3)
#: at n = 200: 0.05–0.08; Bernoulli(0.1) at n = 500: 0.10; lognormal(σ = 1) at
#: n = 4000, k = 3: 0.07; lognormal(σ = 1.5) at n = 4000: 1 to 60) and ≤ 0.063
#: wherever it was below (exponential n ≥ 1000: 0.004–0.014; Bernoulli(0.1), k = 4,
#: n = 4000: 0.005; gamma(0.5), k = 3: 0.008; lognormal(0.5), k = 4: 0.002).
SKEWNESS_LIMIT = 0.02


@result
class SumVarianceResult(Result, Plottable):
    r"""Outcome of :func:`check_sum_variance`.

    Attributes
    ----------
    var_sum : float
        :math:`\widehat{\operatorname{Var}}(S)`, S = Σ a_i X_i (data units; may be
        inf/0 for data beyond ≈1e±154, see "Scale" in the module docstring).
    sum_of_vars : float
        :math:`\sum_i a_i^2 \widehat{\operatorname{Var}}(X_i)` (data units).
    ratio, ci_low, ci_high : float
        var_sum / sum_of_vars and its 1 − α confidence interval (scale-free).
    se_log_ratio : float
        Standard error of log(ratio) (NaN for the bootstrap and normal theory).
    p_value, reject : float, bool
        Test of H0 "the identity holds" (ratio = 1) at level ``alpha``; NaN and
        False mean "no decision".
    equivalence_p_value, equivalent : float or None, bool or None
        TOST within ±``margin`` (None when no margin).
    covariance_term : float
        var_sum − sum_of_vars = 2 Σ_{i<j} a_i a_j Ĉov_ij (exact on the sample).
    component_var : numpy.ndarray
        :math:`\widehat{\operatorname{Var}}(X_i)`.
    names : tuple of str or None
        Column names of a DataFrame input (None for arrays: the labels are then
        ``X0, X1, …``; see :meth:`label`).
    pair_i, pair_j, pair_cov, pair_corr, pair_contribution : numpy.ndarray
        The pairs with the largest ``|2 a_i a_j Ĉov_ij|``, largest first (positions,
        covariance, correlation, contribution in data units).
    pair_ratio_contribution : numpy.ndarray
        2 a_i a_j Ĉov_ij / sum_of_vars: the pair's part of ratio − 1 (over all pairs
        these add up to ratio − 1 exactly).
    pair_share : numpy.ndarray
        2 a_i a_j Ĉov_ij / covariance_term.  Meaningful when the covariance term is
        clearly non-zero; on independent data the term is noise around 0 and a
        share can be far outside [0, 1] (``|share|`` of 10 or more is common) without
        meaning anything.
    skewness_index : float
        :math:`\hat\gamma^2 / n`, the estimated skewness diagnostic of the
        asymptotic test (see the module docstring; NaN when not computed).
    n_omitted : int
        Rows dropped by ``nan_policy="omit"``.
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
    pair_ratio_contribution: np.ndarray
    pair_share: np.ndarray
    ddof: int
    names: tuple[str, ...] | None = None
    skewness_index: float = math.nan
    n_omitted: int = 0
    nan_policy: str = "raise"

    @property
    def confidence_level(self) -> float:
        return 1.0 - self.alpha

    def label(self, i: int) -> str:
        """The name of component ``i`` (its DataFrame column, else ``X{i}``)."""
        return self.names[i] if self.names is not None else f"X{i}"

    def to_frame(self) -> pd.DataFrame:
        """One row: ``estimate`` (the ratio), ``ci_low``, ``ci_high``, ``p_value``,
        ``reject``, ``n``, the two variances, the covariance term, the TOST columns,
        ``skewness_index`` and ``n_omitted``."""
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
                "skewness_index": [self.skewness_index],
                "n_omitted": [self.n_omitted],
            }
        )

    def pairs_frame(self) -> pd.DataFrame:
        """The largest pairwise contributions 2 a_i a_j Ĉov_ij, largest first.

        Columns: ``i``, ``j`` (positions), ``name_i``, ``name_j`` (the components'
        names), ``cov``, ``corr``, ``contribution`` (data units),
        ``ratio_contribution`` (the pair's part of ratio − 1) and
        ``share_of_covariance_term`` (contribution / covariance term: see
        ``pair_share`` for why it is only meaningful when the identity fails).
        """
        return pd.DataFrame(
            {
                "i": self.pair_i,
                "j": self.pair_j,
                "name_i": [self.label(int(i)) for i in self.pair_i],
                "name_j": [self.label(int(j)) for j in self.pair_j],
                "cov": self.pair_cov,
                "corr": self.pair_corr,
                "contribution": self.pair_contribution,
                "ratio_contribution": self.pair_ratio_contribution,
                "share_of_covariance_term": self.pair_share,
            }
        )

    def components_frame(self) -> pd.DataFrame:
        """One row per component: ``name``, ``weight`` (a_i), ``var`` (its sample
        variance, data units)."""
        return pd.DataFrame(
            {
                "name": [self.label(i) for i in range(self.k)],
                "weight": self.weights,
                "var": self.component_var,
            }
        )

    def _summary_header(self) -> list[str]:
        if math.isnan(self.p_value):
            verdict = "no decision"
        else:
            verdict = "REJECTED" if self.reject else "not rejected"
        lines = [
            f"method={self.method}  n={self.n}  k={self.k}  alpha={self.alpha:g}: "
            f"identity {verdict}"
        ]
        if self.ratio == 0.0 and self.reject:
            lines.append("the sum is constant over the draws: the components cancel exactly")
        elif self.pair_i.size and self.reject:
            lines.append(
                f"largest covariance contribution: {self.label(int(self.pair_i[0]))}, "
                f"{self.label(int(self.pair_j[0]))} "
                f"({self.pair_contribution[0]:.4g} of {self.covariance_term:.4g}; "
                f"{self.pair_ratio_contribution[0]:+.3g} of ratio − 1 = {self.ratio - 1:+.3g})"
            )
        return lines


# --------------------------------------------------------------------------- the test
def _deterministic(
    ratio: float, log_r: float, n: int, margin: float | None
) -> tuple[float, float, float, float | None]:
    """CI, p-value and TOST p-value when the standard error is (numerically) zero."""
    nan = math.nan
    if n < SMALL_N:  # too few draws to tell "no uncertainty" from "cannot measure it"
        return nan, nan, nan, None if margin is None else nan
    p_value = 1.0 if abs(log_r) <= 1e-12 else 0.0
    eq_p = None if margin is None else (0.0 if abs(ratio - 1.0) < margin else 1.0)
    return ratio, ratio, p_value, eq_p


def _warn_approximation(method: str, n: int, degenerate: bool, skew: float) -> None:
    """The warnings of a test used where its approximation is poor (stacklevel: the
    caller of :func:`check_sum_variance`)."""
    if method == "asymptotic" and n < SMALL_N:
        warnings.warn(
            f"method='asymptotic' with n={n} < {SMALL_N} draws: the normal approximation "
            "makes the test liberal (measured size ≈ 0.12 at n = 30, 0.06 at n = 100 for "
            "α = 0.05); prefer method='permutation' or more draws",
            MonteCarloPrecisionWarning,
            stacklevel=3,
        )
    elif method in ("asymptotic", "bootstrap") and not degenerate and skew > SKEWNESS_LIMIT:
        warnings.warn(
            f"method={method!r}: the components are too skewed for n={n} draws "
            f"(estimated γ²/n = {skew:.3g} > {SKEWNESS_LIMIT:g}, γ the skewness of the "
            "products (X_i − μ_i)(X_j − μ_j) behind the test), so its normal approximation "
            "is poor and the test is liberal (measured size at α = 0.05: 0.07–0.09 for "
            "exponential components at n = 200, 0.13–0.14 for lognormal(σ = 1.5) at "
            "n = 4000); use method='permutation' (exact for independent components) or "
            "more draws",
            ApproximationWarning,
            stacklevel=3,
        )


def _asymptotic(log_r: float, se: float, alpha: float, margin: float | None
                ) -> tuple[float, float, float, float | None]:
    """Wald interval and test of log R = 0 with the delta-method standard error, and the
    TOST p-value of |R − 1| < margin."""
    zq = stats.norm.ppf(1.0 - alpha / 2.0)
    ci_low, ci_high = _exp(log_r - zq * se), _exp(log_r + zq * se)
    p_value = float(2.0 * stats.norm.sf(abs(log_r) / se))
    eq_p = None
    if margin is not None:
        lower = stats.norm.sf((log_r - math.log(1.0 - margin)) / se)
        upper = stats.norm.cdf((log_r - math.log(1.0 + margin)) / se)
        eq_p = float(max(lower, upper))
    return ci_low, ci_high, p_value, eq_p


def _normal_theory(ratio: float, n: int, alpha: float, margin: float | None
                   ) -> tuple[float, float, float, float | None]:
    """(n − 1)·R ~ χ²_{n−1} under H0 if the sum is normal and ΣVar were known."""
    df = n - 1
    stat = df * ratio
    chi = stats.chi2(df)
    ci_low = df * ratio / chi.ppf(1.0 - alpha / 2.0)
    ci_high = df * ratio / chi.ppf(alpha / 2.0)
    p_value = float(min(1.0, 2.0 * min(chi.cdf(stat), chi.sf(stat))))
    eq_p = None
    if margin is not None:
        lower = chi.sf(stat / (1.0 - margin))  # H0: ρ ≤ 1 − m
        upper = chi.cdf(stat / (1.0 + margin))  # H0: ρ ≥ 1 + m
        eq_p = float(max(lower, upper))
    return ci_low, ci_high, p_value, eq_p


def _decide(method: str, X: np.ndarray, m: Any, ratio: float, log_r: float, se: float,
            degenerate: bool, n: int, ddof: int, denom: int, sum_of_vars_s: float,
            alpha: float, margin: float | None, n_resamples: int,
            rng: np.random.Generator) -> tuple[float, float, float, float | None, float]:
    """``(ci_low, ci_high, p_value, equivalence p-value, se of log R)`` by ``method``
    (the standard error is NaN for the methods that do not use it)."""
    if method in ("asymptotic", "permutation") and degenerate:
        return (*_deterministic(ratio, log_r, n, margin), se)
    if method == "asymptotic":
        return (*_asymptotic(log_r, se, alpha, margin), se)
    if method == "permutation":
        return (*_permutation(_scaled_centred(X, m), m.b, denom, sum_of_vars_s, log_r, se,
                              alpha, margin, n_resamples, rng), se)
    if method == "normal_theory":
        return (*_normal_theory(ratio, n, alpha, margin), math.nan)
    return (*_bootstrap(_scaled_centred(X, m), m.b, ddof, alpha, margin, n_resamples, rng),
            math.nan)


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
    nan_policy: str = "raise",
) -> SumVarianceResult:
    r"""Test :math:`\operatorname{Var}(\sum a_i X_i) = \sum a_i^2 \operatorname{Var}(X_i)`.

    The statistic is :math:`R = \widehat{\operatorname{Var}}(S) / \sum_i a_i^2
    \widehat{\operatorname{Var}}(X_i)` with S = Σ a_i X_i, and H0 is
    ρ = 1 (no net covariance); see the module docstring for
    the four methods, their validity and the regimes where each fails.

    Parameters
    ----------
    components : array_like or pandas.DataFrame, shape (n_draws, k)
        Joint draws of :math:`X_1..X_k`, one row per draw; k ≥ 2, n_draws ≥ 2.
        A DataFrame's column names are kept (summary,
        :meth:`~SumVarianceResult.pairs_frame`); its columns must be numeric.
    weights : array_like, dict or pandas.Series, shape (k,), optional
        The constants :math:`a_i` (default all ones: a plain sum).  A dict, or a
        Series with a non-default index, gives them by column name.
    alpha : float, default 0.05
        Level of the test; the interval has confidence 1 − α.
    margin : float, optional
        Relative equivalence margin m in (0, 1) for TOST: "the variances agree
        within ±m".
    method : {"asymptotic", "permutation", "normal_theory", "bootstrap"}
        "asymptotic" (delta method, default); "permutation" (studentized, exact
        for independent components — use it for skewed or discrete components or
        few draws); "normal_theory" (chi-square; conservative for small k); and
        "bootstrap" (BCa).
    %(rng)s
        Used by ``method="permutation"`` and ``"bootstrap"`` only.
    ddof : int, default 1
        Delta degrees of freedom of every sample variance and covariance.
    top_pairs : int, default 10
        How many of the largest pairwise covariance contributions to report.
    n_resamples : int, default 1999
        Permutations or bootstrap resamples B.  The permutation test can reject
        only when α(B + 1) ≥ 1.
    nan_policy : {"raise", "omit", "propagate"}, default "raise"
        What a NaN does (scipy's convention): refuse, drop the rows holding one,
        or make the result NaN (``reject`` False).

    Returns
    -------
    SumVarianceResult

    Warns
    -----
    ApproximationWarning
        ``method="asymptotic"`` or ``"bootstrap"`` on components so skewed for n
        (:math:`\hat\gamma^2/n >` :data:`SKEWNESS_LIMIT`) that the test is liberal;
        the message recommends ``method="permutation"``.
    MonteCarloPrecisionWarning
        ``method="asymptotic"`` with fewer than :data:`SMALL_N` draws.
    DegenerateDistributionWarning
        Some component has zero sample variance (reported, not an error); all
        weighted variances are zero (ratio NaN); or the sum is constant although
        the components vary (perfect cancellation: ratio 0, rejected).

    Examples
    --------
    >>> import numpy as np, pandas as pd, satsim
    >>> X = np.random.default_rng(2).uniform(size=(4000, 3))
    >>> res = satsim.identities.check_sum_variance(X)
    >>> bool(res.reject), round(res.ratio, 2)
    (False, 1.01)
    >>> frame = pd.DataFrame(np.random.default_rng(1).exponential(size=(200, 2)),
    ...                      columns=["w1x1", "w2x2"])
    >>> res = satsim.identities.check_sum_variance(frame, method="permutation", rng=2)
    >>> res.pairs_frame()[["name_i", "name_j"]].iloc[0].tolist()
    ['w1x1', 'w2x2']
    """
    X, names, omitted, has_nan = _check_components(
        components, check_choice("nan_policy", nan_policy, _NAN_POLICIES))
    n, k = X.shape
    a = _check_weights(weights, k, names)
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

    nan = math.nan
    no_pairs: dict[str, Any] = dict(
        pair_i=np.empty(0, dtype=np.intp), pair_j=np.empty(0, dtype=np.intp),
        pair_cov=np.empty(0), pair_corr=np.empty(0), pair_contribution=np.empty(0),
        pair_ratio_contribution=np.empty(0), pair_share=np.empty(0),
    )
    undecided: dict[str, Any] = dict(
        ci_low=nan, ci_high=nan, se_log_ratio=nan, p_value=nan, reject=False,
        equivalence_p_value=None if margin is None else nan,
        equivalent=None if margin is None else False,
    )
    if has_nan:  # nan_policy="propagate"
        return SumVarianceResult(
            n=n, k=k, var_sum=nan, sum_of_vars=nan, ratio=nan, alpha=alpha, method=method,
            margin=margin, covariance_term=nan, weights=a, component_var=np.full(k, nan),
            ddof=ddof, names=names, nan_policy=nan_policy, **undecided, **no_pairs,
        )

    pairwise = k <= MAX_PAIRWISE_K and top_pairs > 0
    m = _moments(X, a, pairwise)
    denom = n - ddof
    v_s = m.sum_d / denom  # rescaled component variances
    var_sum_s = m.sum_ds / denom
    sum_of_vars_s = float((m.b * m.b) @ v_s)
    cov_term_s = var_sum_s - sum_of_vars_s
    two_e = 2 * m.top_exp
    zero = np.flatnonzero((v_s == 0.0) & (a != 0.0))
    if zero.size:
        shown = [names[i] for i in zero[:10]] if names is not None else zero[:10].tolist()
        warnings.warn(
            f"component(s) {shown} have zero sample variance; they add nothing "
            "to either side of the identity",
            DegenerateDistributionWarning,
            stacklevel=2,
        )
    if m.gram is not None:  # formed iff pairwise
        i, j, cov, corr, contrib, ratio_part, share = _top_pairs(
            m.gram, m.b, m.col_exp, m.top_exp, denom, sum_of_vars_s, cov_term_s, top_pairs)
        pairs: dict[str, Any] = dict(
            pair_i=i, pair_j=j, pair_cov=cov, pair_corr=corr, pair_contribution=contrib,
            pair_ratio_contribution=ratio_part,
            pair_share=share,
        )
    else:
        pairs = no_pairs
    common: dict[str, Any] = dict(
        n=n, k=k, var_sum=float(_unscale(var_sum_s, two_e)),
        sum_of_vars=float(_unscale(sum_of_vars_s, two_e)), alpha=alpha, method=method,
        margin=margin, covariance_term=float(_unscale(cov_term_s, two_e)), weights=a,
        component_var=_unscale(v_s, 2 * m.col_exp), ddof=ddof, names=names,
        n_omitted=omitted, nan_policy=nan_policy, **pairs,
    )
    if sum_of_vars_s == 0.0:
        warnings.warn(
            "the weighted component variances (and so the variance of the sum) are all "
            "zero; the ratio is undefined",
            DegenerateDistributionWarning,
            stacklevel=2,
        )
        return SumVarianceResult(ratio=nan, **undecided, **common)
    if var_sum_s == 0.0:
        # perfect cancellation: the most extreme failure, not a missing answer
        decided = n >= SMALL_N
        warnings.warn(
            f"Σ a_i X_i is constant over the {n} draws although the components vary: "
            "they cancel exactly (e.g. X_2 = −X_1), so the ratio is 0 and "
            + ("the identity is rejected (p = 0, CI [0, 0])" if decided else
               f"with fewer than {SMALL_N} draws no decision is made"),
            DegenerateDistributionWarning,
            stacklevel=2,
        )
        if not decided:
            return SumVarianceResult(ratio=0.0, **undecided, **common)
        return SumVarianceResult(
            ratio=0.0, ci_low=0.0, ci_high=0.0, se_log_ratio=nan, p_value=0.0, reject=True,
            equivalence_p_value=None if margin is None else 1.0,
            equivalent=None if margin is None else False, **common,
        )
    ratio = var_sum_s / sum_of_vars_s
    log_r = math.log(ratio)
    # delta-method standard error of log R (rescaled sums: the units cancel)
    mean_g = (m.sum_ds - ratio * (sum_of_vars_s * denom)) / n
    var_g = (m.sum_ds2 - 2.0 * ratio * m.sum_dst + ratio**2 * m.sum_t2) / n - mean_g**2
    se = math.sqrt(max(var_g, 0.0) / n) / var_sum_s
    # A (numerically) zero standard error: with few draws the sample cannot measure
    # the uncertainty (n = 2 always gives 0) — no decision; with n ≥ SMALL_N it means
    # the ratio is deterministic (e.g. one weight reused for every component, so
    # every X_i is a multiple of the same draw) and the identity holds or fails exactly.
    degenerate = not se > 1e-12 * max(1.0, abs(log_r))
    skew = _skewness_index(m, n)

    _warn_approximation(method, n, degenerate, skew)
    ci_low, ci_high, p_value, eq_p, se = _decide(
        method, X, m, ratio, log_r, se, degenerate, n, ddof, denom, sum_of_vars_s, alpha,
        margin, n_resamples, rng)

    reject = bool(p_value <= alpha)  # NaN (no decision) compares False
    equivalent = None if eq_p is None else bool(eq_p <= alpha)  # eq_p is None iff margin is
    return SumVarianceResult(
        ratio=ratio, ci_low=float(ci_low), ci_high=float(ci_high), se_log_ratio=se,
        p_value=float(p_value), reject=reject, equivalence_p_value=eq_p, equivalent=equivalent,
        skewness_index=skew, **common,
    )
