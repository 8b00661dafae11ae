"""Calibration of a test of a variance identity: its size and power over spawned
replications, graded with a binomial test (:func:`satsim.identities.calibrate`).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from satsim._docstrings import fill
from satsim._results import Result, result
from satsim._validation import check_choice, check_int, check_real, check_rng


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

    if check is None:
        from satsim.identities._sumvar import check_sum_variance

        check = check_sum_variance

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
