"""The resampling methods of :func:`satsim.identities.check_sum_variance`: the studentized
permutation test (``method="permutation"``) and the bootstrap (``method="bootstrap"``).

See :mod:`satsim.identities` for what each guarantees.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def _exp(x: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.exp(x))


def _largest_count(alpha: float, n_resamples: int) -> int:
    """Largest r with (1 + r)/(B + 1) ≤ α: a count of more extreme resamples that
    still rejects (−1: the test cannot reject)."""
    r = math.floor(alpha * (n_resamples + 1)) - 1
    while r >= 0 and (1 + r) / (n_resamples + 1) > alpha:
        r -= 1
    while (2 + r) / (n_resamples + 1) <= alpha:
        r += 1
    return r


def _studentized(P: np.ndarray, b: np.ndarray, denom: int, u: float) -> np.ndarray:
    """T = log R / se(log R) for each of m stacked data sets P, shape (m, n, k), of
    rescaled centred columns (P is overwritten).  U = Σ b² Var is the same for all."""
    n = P.shape[1]
    with np.errstate(divide="ignore", invalid="ignore", under="ignore", over="ignore"):
        ds = np.square(P @ b)
        t = np.square(P, out=P) @ (b * b)
        sum_ds = ds.sum(axis=1)
        ratio = sum_ds / denom / u
        mean_g = (sum_ds - ratio * u * denom) / n
        var_g = (np.einsum("ij,ij->i", ds, ds) - 2.0 * ratio * np.einsum("ij,ij->i", ds, t)
                 + ratio**2 * np.einsum("ij,ij->i", t, t)) / n - mean_g**2
        se = np.sqrt(np.maximum(var_g, 0.0) / n) / (sum_ds / denom)
        lr = np.log(ratio)  # −inf where a permutation cancels exactly: most extreme
        # a zero standard error makes T = ±inf (0, by nan_to_num, if the ratio is 1)
        T = np.where(se > 0, lr / se, np.sign(lr) * np.inf)
    return np.nan_to_num(T, nan=0.0, posinf=np.inf, neginf=-np.inf)


def _permutation(
    C: np.ndarray,
    b: np.ndarray,
    denom: int,
    u: float,
    log_r: float,
    se: float,
    alpha: float,
    margin: float | None,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[float, float, float, float | None]:
    """Studentized permutation test on rescaled, centred data C: every column permuted
    independently, in batches of whole resamples."""
    n, k = C.shape
    boot = np.empty(n_resamples)
    batch = max(1, 2**20 // (n * k))
    for start in range(0, n_resamples, batch):
        m = min(batch, n_resamples - start)
        # m stacked replicas, columns 1..k−1 of each shuffled on their own (permuting
        # column 0 as well would add nothing: only the rows' pairing matters)
        P = np.empty((m, n, k))
        P[:, :, 0] = C[:, 0]
        P[:, :, 1:] = rng.permuted(np.broadcast_to(C[:, 1:], (m, n, k - 1)), axis=1)
        boot[start : start + m] = _studentized(P, b, denom, u)
    # The observed statistic by the same code as the permuted ones.  With discrete
    # components many permutations reproduce the observed value exactly in theory and
    # differ from it only by rounding (of log R ≈ 0 in particular); they must count as
    # "as extreme", or the test turns liberal (0.08 for Poisson(0.3) at n = 200).
    t_obs = float(_studentized(C[None].copy(), b, denom, u)[0])
    tol = 1e-9 * max(1.0, abs(t_obs))
    size = n_resamples + 1.0
    p_value = (1.0 + np.count_nonzero(np.abs(boot) >= abs(t_obs) - tol)) / size
    r = _largest_count(alpha, n_resamples)
    q = math.inf if r < 0 else float(-np.partition(-np.abs(boot), r)[r])
    ci_low, ci_high = _exp(log_r - q * se), _exp(log_r + q * se)
    eq_p = None
    if margin is not None:
        lo = (log_r - math.log(1.0 - margin)) / se  # large: evidence against ρ ≤ 1 − m
        hi = (log_r - math.log(1.0 + margin)) / se  # small: evidence against ρ ≥ 1 + m
        p_lo = (1.0 + np.count_nonzero(boot >= lo - 1e-9 * max(1.0, abs(lo)))) / size
        p_hi = (1.0 + np.count_nonzero(boot <= hi + 1e-9 * max(1.0, abs(hi)))) / size
        eq_p = float(max(p_lo, p_hi))
    return ci_low, ci_high, float(p_value), eq_p


def _bootstrap(
    C: np.ndarray,
    b: np.ndarray,
    ddof: int,
    alpha: float,
    margin: float | None,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[float, float, float, float | None]:
    n, k = C.shape
    b2 = b * b

    def ratio_stat(x: np.ndarray, axis: int = -1) -> np.ndarray:
        # scipy passes shape (k, ..., n) with the resampled axis last
        s = np.tensordot(b, x, axes=(0, 0))
        v = np.var(s, axis=-1, ddof=ddof)
        u = np.tensordot(b2, np.var(x, axis=-1, ddof=ddof), axes=(0, 0))
        return v / u

    batch = max(1, 2**22 // (n * k))
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        res = stats.bootstrap(
            (C,), ratio_stat, n_resamples=n_resamples, vectorized=True, axis=0,
            confidence_level=1.0 - alpha, method="BCa", batch=batch, rng=rng,
        )
        ratio = float(ratio_stat(C.T))
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


