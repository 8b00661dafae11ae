"""Input handling and moments of :func:`satsim.identities.check_sum_variance`: components
from arrays or DataFrames (names kept, ``nan_policy``), weights, and the one-pass,
scale-free sample moments the tests are built from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from satsim._validation import check_array


# --------------------------------------------------------------------------- input
def _chunk_rows(k: int) -> int:
    return max(1, 2**20 // max(k, 1))


def _as_float_array(components: Any) -> np.ndarray:
    """``components`` as float64, naming the first entry that is not a number."""
    try:
        return np.asarray(components, dtype=np.float64)
    except (TypeError, ValueError):
        pass
    try:
        obj = np.asarray(components, dtype=object)
    except (TypeError, ValueError):  # ragged nesting
        obj = None
    if obj is not None and obj.ndim == 2:
        for (r, c), value in np.ndenumerate(obj):
            try:
                float(value)
            except (TypeError, ValueError):
                raise TypeError(
                    "`components` must be an array of real numbers; the entry at row "
                    f"{r}, column {c} is {value!r} ({type(value).__name__})"
                ) from None
    text = repr(components)
    text = text if len(text) <= 80 else text[:77] + "..."
    raise TypeError(f"`components` must be an array of real numbers; got components={text}")


def _frame_to_array(frame: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    names = tuple(str(c) for c in frame.columns)
    for col, dtype in frame.dtypes.items():
        numeric = pd.api.types.is_bool_dtype(dtype) or (
            pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
        )
        if not numeric:
            raise TypeError(
                f"`components` column {str(col)!r} is not numeric (dtype {dtype}); pass only "
                "the numeric columns, e.g. frame.select_dtypes('number')"
            )
    return frame.to_numpy(dtype=np.float64, na_value=np.nan), names


def _check_components(
    components: Any, nan_policy: str
) -> tuple[np.ndarray, tuple[str, ...] | None, int, bool]:
    """(X, names, rows omitted, has NaN under "propagate")."""
    names: tuple[str, ...] | None = None
    if isinstance(components, pd.DataFrame):
        X, names = _frame_to_array(components)
    else:
        X = _as_float_array(components)
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
    finite = np.isfinite(X)
    if finite.all():
        return X, names, 0, False
    bad_mask = ~finite if nan_policy == "raise" else np.isinf(X)
    if bad_mask.any():
        r, c = (int(v) for v in np.argwhere(bad_mask)[0])
        where = f"row {r}, column {c}" + (f" ({names[c]!r})" if names is not None else "")
        hint = (" (nan_policy='omit' drops rows with NaN)"
                if math.isnan(float(X[r, c])) else "")
        raise ValueError(
            f"`components` must contain only finite values; found {float(X[r, c])!r} at "
            f"{where}{hint}"
        )
    if nan_policy == "propagate":
        return X, names, 0, True
    keep = ~np.isnan(X).any(axis=1)
    omitted = int(X.shape[0] - keep.sum())
    X = X[keep]
    if X.shape[0] < 2:
        raise ValueError(
            "`components` must have at least 2 rows without NaN for nan_policy='omit'; "
            f"{omitted} of {omitted + X.shape[0]} rows contain NaN"
        )
    return X, names, omitted, False


def _check_weights(weights: Any, k: int, names: tuple[str, ...] | None) -> np.ndarray:
    if weights is None:
        return np.ones(k)
    by_name = isinstance(weights, Mapping) or (
        isinstance(weights, pd.Series) and not isinstance(weights.index, pd.RangeIndex)
    )
    if by_name:
        if names is None:
            raise ValueError(
                "`weights` given by name needs `components` with named columns (a "
                f"DataFrame); got weights={weights!r:.80}"
            )
        keyed = {str(key): value for key, value in weights.items()}
        missing = [name for name in names if name not in keyed]
        unknown = [key for key in keyed if key not in names]
        if missing or unknown:
            raise ValueError(
                "`weights` must name every column of `components` exactly once; "
                f"missing {missing[:10]}, unknown {unknown[:10]} (columns: {list(names)[:10]})"
            )
        weights = [keyed[name] for name in names]
    a = check_array("weights", weights, ndim=1)
    if a.shape[0] != k:
        raise ValueError(
            f"`weights` must have one entry per column of `components` (k={k}); "
            f"got {a.shape[0]} entries"
        )
    return a


# --------------------------------------------------------------------------- moments
class _Moments(NamedTuple):
    """Centred sums of the data rescaled by powers of two (see "Scale").

    Column i is divided by ``2**col_exp[i]`` (so |X_i| < 1 after rescaling) and its
    weight becomes ``b_i = a_i 2**(col_exp[i] - top_exp)``, so that
    ``a_i (X_i − μ_i) = 2**top_exp · b_i C_i`` exactly.
    """

    col_exp: np.ndarray  # int exponents e_i
    top_exp: int  # E
    b: np.ndarray  # rescaled weights, |b_i| < 1
    mu: np.ndarray  # means of the rescaled columns
    sum_d: np.ndarray  # Σ C_i²
    sum_c3: np.ndarray  # Σ C_i³
    sum_ds: float  # Σ s², s = Σ b_i C_i
    sum_ds2: float  # Σ s⁴
    sum_dst: float  # Σ s² t, t = Σ b_i² C_i²
    sum_t2: float  # Σ t²
    gram: np.ndarray | None  # Σ C Cᵀ (k×k)


def _moments(X: np.ndarray, a: np.ndarray, pairwise: bool) -> _Moments:
    """Chunked passes over X: column scales and sums, then centred sums (a third
    pass, for the means, only if the raw sums overflow)."""
    n, k = X.shape
    step = _chunk_rows(k)
    amax = np.zeros(k)
    raw_sum = np.zeros(k)
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, n, step):
            chunk = X[start : start + step]
            np.maximum(amax, np.maximum(chunk.max(axis=0), -chunk.min(axis=0)), out=amax)
            raw_sum += chunk.sum(axis=0)
    # amax = f·2^e with f in [0.5, 1): dividing by 2^e is exact and leaves |x| < 1
    col_exp = np.frexp(amax)[1].astype(np.int64)
    a_exp = np.frexp(a)[1].astype(np.int64)
    live = (a != 0.0) & (amax > 0.0)
    top_exp = int(np.max(a_exp[live] + col_exp[live])) if live.any() else 0
    with np.errstate(under="ignore"):
        b = np.ldexp(a, col_exp - top_exp)  # |b_i| < 1; a negligible column underflows to 0
    if np.all(np.isfinite(raw_sum)):
        # scaling by 2**-e commutes exactly with the sum: no second pass needed
        mu = _rescale(raw_sum / n, col_exp)
    else:  # the raw sums overflowed (|x| near 1e308): sum the rescaled columns
        col_sum = np.zeros(k)
        for start in range(0, n, step):
            col_sum += _rescale(X[start : start + step], col_exp).sum(axis=0)
        mu = col_sum / n
    b2 = b * b
    sum_d = np.zeros(k)
    sum_c3 = np.zeros(k)
    sum_ds = sum_ds2 = sum_dst = sum_t2 = 0.0
    gram = np.zeros((k, k)) if pairwise else None
    with np.errstate(under="ignore"):
        for start in range(0, n, step):
            C = _rescale(X[start : start + step], col_exp)
            C -= mu
            cs = C @ b
            ds = cs * cs
            D = C * C
            t = D @ b2
            sum_d += D.sum(axis=0)
            sum_c3 += np.einsum("ij,ij->j", D, C)
            sum_ds += float(ds.sum())
            sum_ds2 += float(ds @ ds)
            sum_dst += float(ds @ t)
            sum_t2 += float(t @ t)
            if gram is not None:
                gram += C.T @ C
    return _Moments(col_exp, top_exp, b, mu, sum_d, sum_c3, sum_ds, sum_ds2, sum_dst,
                    sum_t2, gram)


def _rescale(X: np.ndarray, col_exp: np.ndarray) -> np.ndarray:
    """``X / 2**col_exp`` column-wise (a new array), exact up to underflow."""
    with np.errstate(under="ignore"):
        if col_exp.min() >= -1023:  # every factor 2**-e is a float: multiply (fast)
            return X * np.ldexp(1.0, -col_exp)
        return np.ldexp(X, -col_exp)  # subnormal data: 2**-e itself would overflow


def _scaled_centred(X: np.ndarray, m: _Moments) -> np.ndarray:
    """The whole rescaled, centred data (for the resampling methods)."""
    C = _rescale(X, m.col_exp)
    C -= m.mu
    return C


def _unscale(value: Any, exponent: Any) -> Any:
    """``value · 2**exponent`` in data units: inf or 0 where not representable."""
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(value, exponent)


def _skewness_index(m: _Moments, n: int) -> float:
    r"""Estimated :math:`\gamma^2/n` for the product terms of g (independence formula)."""
    s = m.b * m.b * (m.sum_d / n)
    top = float(s.max())
    if not top > 0.0:
        return math.nan
    # γ is invariant under s → c·s, e → c^1.5·e: normalise by the largest s
    with np.errstate(under="ignore", over="ignore", divide="ignore", invalid="ignore"):
        s = s / top
        e = m.b**3 * (m.sum_c3 / n) / top**1.5
        # Σ_{i<j} x_i x_j as Σ_j x_j Σ_{i<j} x_i: no cancellation when one term dominates
        var_q = np.float64(s[1:] @ np.cumsum(s)[:-1])
        third = np.float64(e[1:] @ np.cumsum(e)[:-1])
        gamma = third / var_q**1.5
    # one component carrying (almost) all the variance: no pair to be skewed about
    return float(gamma * gamma / n) if np.isfinite(gamma) else math.nan


def _top_pairs(
    gram: np.ndarray, b: np.ndarray, col_exp: np.ndarray, top_exp: int, denom: float,
    sum_of_vars_s: float, cov_term_s: float, top: int,
) -> tuple[np.ndarray, ...]:
    """Largest |2 b_i b_j Ĉov_ij| (rescaled units), reported in data units."""
    k = b.shape[0]
    cov = gram / denom
    contrib = 2.0 * np.outer(b, b) * cov
    iu, ju = np.triu_indices(k, 1)
    values = contrib[iu, ju]
    m = min(top, values.size)
    if m == 0:
        empty = np.empty(0)
        return (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), empty, empty, empty,
                empty, empty)
    order = np.argpartition(-np.abs(values), m - 1)[:m]
    order = order[np.argsort(-np.abs(values[order]), kind="stable")]
    i, j = iu[order], ju[order]
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov[i, j] / (sd[i] * sd[j])
    top_values = values[order]
    share = top_values / cov_term_s if cov_term_s != 0.0 else np.full(m, math.nan)
    ratio_part = top_values / sum_of_vars_s if sum_of_vars_s > 0 else np.full(m, math.nan)
    return (i, j, _unscale(cov[i, j], col_exp[i] + col_exp[j]), corr,
            _unscale(top_values, 2 * top_exp), ratio_part, share)


