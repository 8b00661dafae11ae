"""Argument validation shared by every public function (DESIGN.md §3.3).

Each helper takes the *parameter name* and the value, normalises the value and
raises ``TypeError`` (wrong kind) or ``ValueError`` (right kind, bad value) with a
message that names the parameter and echoes what was passed, e.g.
``"`fan_in` must be a positive integer; got fan_in=0"``.  Never ``assert``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "check_array",
    "check_choice",
    "check_int",
    "check_interval",
    "check_probability",
    "check_real",
    "check_rng",
    "check_shape",
]


def _echo(name: str, value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{name}={text}"


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` as a Python ``int``, checking it is an integer ``>= minimum``.

    Booleans and floats (even ``3.0``) are rejected: a fan size of ``2.5`` or
    ``True`` is always a bug upstream.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        kind = "a positive integer" if minimum == 1 else "an integer"
        raise TypeError(f"`{name}` must be {kind}; got {_echo(name, value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        if minimum == 1:
            kind = "a positive integer"
        elif minimum == 0:
            kind = "a non-negative integer"
        else:
            kind = f"an integer >= {minimum}"
        raise ValueError(f"`{name}` must be {kind}; got {_echo(name, value)}")
    return value


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    finite: bool = True,
) -> float:
    """Return ``value`` as a ``float`` within the given bounds.

    ``finite=True`` (default) rejects NaN and ±inf.  NaN is always rejected.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {_echo(name, value)}")
    value = float(value)
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"`{name}` must be a finite real number; got {_echo(name, value)}")
    bad_low = low is not None and (value < low or (not low_inclusive and value == low))
    bad_high = high is not None and (value > high or (not high_inclusive and value == high))
    if bad_low or bad_high:
        lo = "" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
        hi = "" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
        if low is not None and high is not None:
            what = f"in {lo}, {hi}"
        elif low is not None:
            what = (">= " if low_inclusive else "> ") + f"{low:g}"
        else:
            what = ("<= " if high_inclusive else "< ") + f"{high:g}"
        raise ValueError(f"`{name}` must be {what}; got {_echo(name, value)}")
    return value


def check_interval(low_name: str, low: Any, high_name: str, high: Any) -> tuple[float, float]:
    """Two finite reals with ``low < high`` (e.g. the ends of a uniform law)."""
    lo = check_real(low_name, low)
    hi = check_real(high_name, high)
    if not hi > lo:
        raise ValueError(f"`{high_name}` must be greater than `{low_name}`; "
                         f"got {low_name}={lo!r}, {high_name}={hi!r}")
    return lo, hi


def check_probability(name: str, value: Any) -> float:
    """A real number in ``[0, 1]``."""
    return check_real(name, value, low=0.0, high=1.0)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Check that ``value`` is one of ``choices`` (strings); list them if not."""
    choices = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(
            f"`{name}` must be a string, one of {', '.join(map(repr, choices))}; "
            f"got {_echo(name, value)}"
        )
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {', '.join(map(repr, choices))}; got {_echo(name, value)}"
        )
    return value


def check_shape(name: str, value: Any, *, ndim: Sequence[int] = (1, 2)) -> tuple[int, ...]:
    """A shape: an int or a tuple of positive ints with ``len`` in ``ndim``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        value = (value,)
    if not isinstance(value, tuple | list):
        raise TypeError(f"`{name}` must be a tuple of positive integers; got {_echo(name, value)}")
    shape = tuple(check_int(f"{name}[{i}]", v, minimum=1) for i, v in enumerate(value))
    if len(shape) not in ndim:
        dims = " or ".join(str(d) for d in ndim)
        raise ValueError(f"`{name}` must have {dims} dimension(s); got {_echo(name, value)}")
    return shape


def check_array(
    name: str,
    value: Any,
    *,
    ndim: int | None = None,
    finite: bool = True,
    min_rows: int = 1,
) -> np.ndarray:
    """Convert to a float64 array, checking dimension, size and finiteness."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"`{name}` must be an array of real numbers; got {_echo(name, value)}"
        ) from exc
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(
            f"`{name}` must be a {ndim}-D array; got an array of shape {arr.shape}"
        )
    if arr.ndim >= 1 and arr.shape[0] < min_rows:
        raise ValueError(
            f"`{name}` must have at least {min_rows} row(s); got an array of shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"`{name}` must not be empty; got an array of shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"`{name}` must contain only finite values; found {float(arr[tuple(bad)])!r} "
            f"at index {tuple(int(i) for i in bad)}"
        )
    return arr


def check_rng(rng: Any) -> np.random.Generator:
    """Normalise ``rng`` per SPEC 7: ``None``, an int seed, a ``SeedSequence``, a
    ``BitGenerator`` or a ``Generator``.  Legacy ``RandomState`` is refused: it
    cannot spawn independent streams."""
    if isinstance(rng, np.random.RandomState):
        raise TypeError(
            "`rng` must be None, an int, a SeedSequence, a BitGenerator or a Generator; "
            "got a legacy numpy.random.RandomState (use numpy.random.default_rng instead)"
        )
    if isinstance(rng, bool | np.bool_ | float):
        raise TypeError(f"`rng` must be None, an int seed or a Generator; got {_echo('rng', rng)}")
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"`rng` must be None, an int seed, a SeedSequence, a BitGenerator or a "
            f"Generator; got {_echo('rng', rng)}"
        ) from exc
