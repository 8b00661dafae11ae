r"""Input models: what the weights of a neuron are multiplied by.

An input model describes the vector :math:`x \in \mathbb{R}^{n_{in}}` in
:math:`z = w \cdot x + b`.  It is either *fixed* (one vector, as in Nielsen's
argument: 1000 inputs of which 500 are 1 and the rest 0) or *random* (a fresh
vector per draw).  Each model knows the exact moments the theory needs
(:mod:`satsim.theory`):

* ``sum_mean``  :math:`= E[\sum_j x_j]`,
* ``sum_var``   :math:`= \operatorname{Var}(\sum_j x_j)`,
* ``sq_norm_mean`` :math:`= E\lVert x\rVert^2 = \sum_j E[x_j^2]`,

and, for models with i.i.d. coordinates, the per-coordinate ``mean`` E[x] and
``second_moment`` E[x²].  For a fixed x, ``sum_var`` is 0 and ``sq_norm_mean`` is
:math:`\lVert x \rVert^2`.

:class:`Rows` resamples the rows of a real data matrix with replacement; its
moments are those of the empirical distribution of the rows (population
convention, ``ddof=0``), which is exactly the law being sampled.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

import numpy as np

from satsim._docstrings import fill
from satsim._namespace import public_dir
from satsim._validation import (
    check_array,
    check_int,
    check_interval,
    check_probability,
    check_real,
    check_rng,
)

__all__ = [
    "Bernoulli",
    "Fixed",
    "Gaussian",
    "InputModel",
    "Rows",
    "Uniform",
    "as_input_model",
    "nielsen",
]

__dir__ = public_dir(globals())


class InputModel(abc.ABC):
    """Base class of input models.  ``n_in`` is the input dimension."""

    n_in: int
    #: True when every draw is the same vector (then its attribute ``x`` holds it).
    fixed: bool = False

    @fill
    def sample(self, n: int, *, rng: Any = None) -> np.ndarray:
        """Draw ``n`` input vectors.

        Parameters
        ----------
        n : int
            Number of vectors.
        %(rng)s

        Returns
        -------
        numpy.ndarray of float64, shape ``(n, n_in)``
        """
        n = check_int("n", n, minimum=1)
        return self._sample(n, check_rng(rng))

    @abc.abstractmethod
    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    @property
    @abc.abstractmethod
    def sum_mean(self) -> float:
        """:math:`E[\\sum_j x_j]`."""

    @property
    @abc.abstractmethod
    def sum_var(self) -> float:
        """:math:`\\operatorname{Var}(\\sum_j x_j)` (0 for a fixed input)."""

    @property
    @abc.abstractmethod
    def sq_norm_mean(self) -> float:
        """:math:`E\\lVert x \\rVert^2`."""


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Fixed(InputModel):
    """One fixed input vector ``x`` (every draw returns it)."""

    x: np.ndarray
    fixed: bool = dataclasses.field(default=True, init=False)
    label: str = dataclasses.field(default="fixed", kw_only=True)

    def __post_init__(self) -> None:
        x = check_array("x", self.x, ndim=1).copy()
        x.setflags(write=False)
        object.__setattr__(self, "x", x)

    def __repr__(self) -> str:
        nonzero = int(np.count_nonzero(self.x))
        return f"Fixed(n_in={self.n_in}, nonzero={nonzero}, label={self.label!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fixed) and np.array_equal(self.x, other.x)

    __hash__ = None  # type: ignore[assignment]

    @property
    def n_in(self) -> int:  # type: ignore[override]
        return int(self.x.shape[0])

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.broadcast_to(self.x, (n, self.n_in)).copy()

    @property
    def sum_mean(self) -> float:
        return float(self.x.sum())

    @property
    def sum_var(self) -> float:
        return 0.0

    @property
    def sq_norm_mean(self) -> float:
        return float(self.x @ self.x)

    @property
    def fourth_power_sum(self) -> float:
        """:math:`\\sum_j x_j^4` (enters the kurtosis of z)."""
        return float(np.sum(self.x**4))


def nielsen(n_in: int = 1000, active: int = 500) -> Fixed:
    """Nielsen's input: ``active`` ones followed by ``n_in - active`` zeros.

    With N(0, 1) weights and bias, :math:`z` then has variance ``active + 1``
    (501 for the defaults, std ≈ 22.4); with N(0, 1/n_in) weights it has
    variance ``active/n_in + 1`` (1.5, std ≈ 1.22).  Position does not matter for
    exchangeable weights, so the ones come first.
    """
    n_in = check_int("n_in", n_in, minimum=1)
    active = check_int("active", active, minimum=0)
    if active > n_in:
        raise ValueError(f"`active` must be at most n_in={n_in}; got active={active}")
    x = np.zeros(n_in)
    x[:active] = 1.0
    return Fixed(x, label=f"nielsen({n_in}, {active})")


class _IIDInput(InputModel):
    """Random input with i.i.d. coordinates of mean :attr:`mean`, E[x²] :attr:`second_moment`."""

    @property
    @abc.abstractmethod
    def mean(self) -> float: ...

    @property
    @abc.abstractmethod
    def second_moment(self) -> float: ...

    @property
    def var(self) -> float:
        """Variance of one coordinate."""
        return max(self.second_moment - self.mean**2, 0.0)

    @property
    def sum_mean(self) -> float:
        return self.n_in * self.mean

    @property
    def sum_var(self) -> float:
        return self.n_in * self.var

    @property
    def sq_norm_mean(self) -> float:
        return self.n_in * self.second_moment


@dataclasses.dataclass(frozen=True)
class Bernoulli(_IIDInput):
    """Coordinates i.i.d. Bernoulli(p): random binary pixels, on with probability p."""

    n_in: int
    p: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_in", check_int("n_in", self.n_in, minimum=1))
        object.__setattr__(self, "p", check_probability("p", self.p))

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return (rng.random((n, self.n_in)) < self.p).astype(np.float64)

    @property
    def mean(self) -> float:
        return self.p

    @property
    def second_moment(self) -> float:
        return self.p

    @property
    def var(self) -> float:
        return self.p * (1.0 - self.p)


@dataclasses.dataclass(frozen=True)
class Gaussian(_IIDInput):
    """Coordinates i.i.d. N(mean, std²)."""

    n_in: int
    loc: float = 0.0
    scale: float = 1.0

    def __init__(self, n_in: int, mean: float = 0.0, std: float = 1.0):
        object.__setattr__(self, "n_in", check_int("n_in", n_in, minimum=1))
        object.__setattr__(self, "loc", check_real("mean", mean))
        object.__setattr__(self, "scale", check_real("std", std, low=0.0))

    def __repr__(self) -> str:
        return f"Gaussian(n_in={self.n_in}, mean={self.loc!r}, std={self.scale!r})"

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        out = rng.standard_normal((n, self.n_in))
        out *= self.scale
        out += self.loc
        return out

    @property
    def mean(self) -> float:
        return self.loc

    @property
    def second_moment(self) -> float:
        return self.loc**2 + self.scale**2

    @property
    def var(self) -> float:
        return self.scale**2


@dataclasses.dataclass(frozen=True)
class Uniform(_IIDInput):
    """Coordinates i.i.d. U(low, high) (e.g. grey levels in [0, 1])."""

    n_in: int
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_in", check_int("n_in", self.n_in, minimum=1))
        low, high = check_interval("low", self.low, "high", self.high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        out = rng.random((n, self.n_in))
        out *= self.high - self.low
        out += self.low
        return out

    @property
    def mean(self) -> float:
        return 0.5 * (self.low + self.high)

    @property
    def second_moment(self) -> float:
        return (self.low**2 + self.low * self.high + self.high**2) / 3.0

    @property
    def var(self) -> float:
        return (self.high - self.low) ** 2 / 12.0


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Rows(InputModel):
    """Rows of a real data matrix ``X`` (n_rows, n_in), drawn uniformly with replacement.

    The moments are those of the empirical distribution of the rows: e.g.
    ``sum_var`` is the population (``ddof=0``) variance of the row sums.
    """

    X: np.ndarray
    label: str = dataclasses.field(default="rows", kw_only=True)

    def __post_init__(self) -> None:
        X = check_array("X", self.X, ndim=2).copy()
        X.setflags(write=False)
        object.__setattr__(self, "X", X)

    def __repr__(self) -> str:
        return f"Rows(n_rows={self.X.shape[0]}, n_in={self.n_in}, label={self.label!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rows) and np.array_equal(self.X, other.X)

    __hash__ = None  # type: ignore[assignment]

    @property
    def n_in(self) -> int:  # type: ignore[override]
        return int(self.X.shape[1])

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.X[rng.integers(0, self.X.shape[0], size=n)]

    @property
    def sum_mean(self) -> float:
        return float(self.X.sum(axis=1).mean())

    @property
    def sum_var(self) -> float:
        return float(self.X.sum(axis=1).var())

    @property
    def sq_norm_mean(self) -> float:
        return float(np.einsum("ij,ij->i", self.X, self.X).mean())


def as_input_model(value: Any, *, param: str = "inputs") -> InputModel:
    """An :class:`InputModel` as is; a 1-D array as :class:`Fixed`."""
    if isinstance(value, InputModel):
        return value
    if isinstance(value, np.ndarray | list | tuple):
        return Fixed(check_array(param, value, ndim=1))
    raise TypeError(
        f"`{param}` must be an InputModel (e.g. satsim.inputs.nielsen()) or a 1-D array; "
        f"got {param}={value!r}"
    )
