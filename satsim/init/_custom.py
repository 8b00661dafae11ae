"""User initializers: a plain sampling function ``f(shape, rng)`` wrapped by
:func:`from_function` as a :class:`FunctionInitializer`, with its declared moments (the
ones it does not declare are estimated by :mod:`satsim.init._estimate`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from satsim.init._catalogue import Initializer
from satsim.init._estimate import check_draw

__all__ = ["FunctionInitializer", "from_function"]


def _declared(value: Any, name: str) -> Callable[[int, int], float] | None:
    if value is None:
        return None
    if callable(value):
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number, a function (fan_in, fan_out) -> float or "
                        f"None; got {name}={value!r}") from None
    if not math.isfinite(v) or (name == "variance" and v < 0):
        raise ValueError(f"`{name}` must be finite{' and ≥ 0' if name == 'variance' else ''}; "
                         f"got {name}={value!r}")
    return _Const(v)


@dataclasses.dataclass(frozen=True)
class _Const:
    value: float

    def __call__(self, fan_in: int, fan_out: int) -> float:
        return self.value


class FunctionInitializer(Initializer):
    """An initializer from a sampling function ``f(shape, rng) -> ndarray``.

    ``shape`` is ``(fan_out, fan_in, *kernel)`` (or ``(n,)`` for a bias, or
    ``(n, fan_in)`` for the rows of ``n`` independent neurons) and ``rng`` a
    :class:`numpy.random.Generator`; ``f`` must return a finite real array of exactly
    that shape.  Build one with :func:`satsim.init.from_function`.
    """

    def __init__(self, fn: Callable, *, name: str | None = None, variance: Any = None,
                 mean: Any = None, elementwise: bool = True) -> None:
        if not callable(fn):
            raise TypeError(f"`fn` must be a function f(shape, rng) -> ndarray; got "
                            f"fn={fn!r}")
        self.fn = fn
        self.name = name if name is not None else getattr(fn, "__name__", "function")
        self._variance = _declared(variance, "variance")
        self._mean = _declared(mean, "mean")
        if not isinstance(elementwise, bool):
            raise TypeError(f"`elementwise` must be True or False; got "
                            f"elementwise={elementwise!r}")
        self.elementwise = elementwise  # type: ignore[misc]

    def __repr__(self) -> str:
        var = "declared" if self._variance is not None else "estimated"
        return (f"FunctionInitializer({getattr(self.fn, '__qualname__', self.fn)!r}, "
                f"name={self.name!r}, variance={var})")

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, FunctionInitializer) and type(other) is type(self)
                and self._key() == other._key())

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple:
        return (self.fn, self.name, self._variance, self._mean, self.elementwise)

    def draw(self, shape: tuple[int, ...], fan_in: int, fan_out: int,
             rng: np.random.Generator) -> np.ndarray:
        return check_draw(self.fn(tuple(shape), rng), tuple(shape),
                          f"initializer {self.name!r}")

    def _exact(self, stat: str) -> bool:
        return {"mean": self._mean, "variance": self._variance}.get(stat) is not None

    def mean(self, fan_in: int, fan_out: int) -> float:
        if self._mean is not None:
            return float(self._mean(fan_in, fan_out))
        return super().mean(fan_in, fan_out)

    def variance(self, fan_in: int, fan_out: int) -> float:
        if self._variance is not None:
            return float(self._variance(fan_in, fan_out))
        return super().variance(fan_in, fan_out)


def from_function(fn: Callable, *, name: str | None = None, variance: Any = None,
                  mean: Any = None, elementwise: bool = True,
                  param: str = "fn") -> Initializer:
    """Wrap ``f(shape, rng) -> ndarray`` as an initializer (documented in satsim.init)."""
    init = FunctionInitializer(fn, name=name, variance=variance, mean=mean,
                               elementwise=elementwise)
    # one probe draw now, so a broken function fails here with the parameter's name
    try:
        init.sample((3, 2), rng=np.random.default_rng(0))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"`{param}`: {exc}") from None
    except Exception as exc:
        raise ValueError(f"`{param}`: initializer {init.name!r} failed on shape=(3, 2): "
                         f"{type(exc).__name__}: {exc}") from None
    return init
