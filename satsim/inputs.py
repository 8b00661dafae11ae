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

:class:`Fixed` and :class:`Rows` are the two models defined by a stored array and
share one base for it: the array is validated, copied, made read-only (also after
unpickling), and decides equality and the hash — by type and values, not label —
so ``nielsen() == nielsen()`` and equal models hash equal.  The other models are
frozen dataclasses, equal when their parameters are.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
from typing import Any, ClassVar

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


class _ArrayInput(InputModel):
    """Base of the input models defined by a stored array (:class:`Fixed`,
    :class:`Rows`): one place for validation, immutability, equality and hashing.

    Subclasses are frozen dataclasses whose first field, named :attr:`_field`,
    holds the array (``ndim`` :attr:`_ndim`).  The array is validated with the
    field's name, copied (the caller's array is never aliased), stored as float64
    with ``-0.0`` normalised to ``0.0`` and made read-only.  Equality is by type and
    values (``np.array_equal``); ``label`` is a display name and takes no part.  The
    hash is that of a digest of the values, so equal models hash equal.
    """

    _field: ClassVar[str]
    _ndim: ClassVar[int]
    label: str

    def __post_init__(self) -> None:
        arr = check_array(self._field, getattr(self, self._field), ndim=self._ndim).copy()
        arr += 0.0  # IEEE: -0.0 + 0.0 == +0.0, so equal arrays have equal bytes
        arr.setflags(write=False)
        object.__setattr__(self, self._field, arr)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # pickle and copy.deepcopy restore arrays writeable: keep the stored one read-only
        for key, value in state.items():
            object.__setattr__(self, key, value)
        self._array.setflags(write=False)

    @property
    def _array(self) -> np.ndarray:
        arr: np.ndarray = getattr(self, self._field)
        return arr

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _ArrayInput) or type(other) is not type(self):
            return NotImplemented
        return np.array_equal(self._array, other._array)

    def __hash__(self) -> int:
        # the stored array is a private read-only copy, so the values do not change;
        # blake2b over its buffer (no copy) keeps hashing a large data matrix cheap
        digest = hashlib.blake2b(np.ascontiguousarray(self._array).data, digest_size=16)
        return hash((type(self).__qualname__, self._array.shape, digest.digest()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()}, label={self.label!r})"

    @abc.abstractmethod
    def _describe(self) -> str: ...


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Fixed(_ArrayInput):
    """One fixed input vector ``x`` (every draw returns it).

    Equal vectors give equal (and equally hashed) models, whatever their ``label``.
    """

    _field = "x"
    _ndim = 1

    x: np.ndarray
    fixed: bool = dataclasses.field(default=True, init=False)
    label: str = dataclasses.field(default="fixed", kw_only=True)

    def _describe(self) -> str:
        return f"n_in={self.n_in}, nonzero={int(np.count_nonzero(self.x))}"

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

    Parameters
    ----------
    n_in : int, default 1000
        Input size (positive).
    active : int, default 500
        Number of ones, in [0, n_in].

    Returns
    -------
    Fixed
        The fixed input :math:`x = (1, \\dots, 1, 0, \\dots, 0)`, labelled
        ``"nielsen(n_in, active)"``.

    Raises
    ------
    ValueError
        ``n_in`` not a positive integer, ``active`` negative or above ``n_in``.
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
class Rows(_ArrayInput):
    """Rows of a real data matrix ``X`` (n_rows, n_in), drawn uniformly with replacement.

    The moments are those of the empirical distribution of the rows: e.g.
    ``sum_var`` is the population (``ddof=0``) variance of the row sums.  Equal
    matrices give equal (and equally hashed) models, whatever their ``label``.
    """

    _field = "X"
    _ndim = 2

    X: np.ndarray
    label: str = dataclasses.field(default="rows", kw_only=True)

    def _describe(self) -> str:
        return f"n_rows={self.X.shape[0]}, n_in={self.n_in}"

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
    """An :class:`InputModel` as is; a 1-D array as :class:`Fixed`.

    Parameters
    ----------
    value : InputModel or array_like
        An input model, or one fixed input vector (array, list or tuple).
    param : str, default "inputs"
        The argument's name, used in error messages.

    Returns
    -------
    InputModel
        ``value`` itself, or ``Fixed(value)`` for a vector.

    Raises
    ------
    TypeError
        ``value`` is neither an input model nor an array, list or tuple.
    ValueError
        The vector is not 1-D, is empty or has non-finite entries.
    """
    if isinstance(value, InputModel):
        return value
    if isinstance(value, np.ndarray | list | tuple):
        return Fixed(check_array(param, value, ndim=1))
    raise TypeError(
        f"`{param}` must be an InputModel (e.g. satsim.inputs.nielsen()) or a 1-D array; "
        f"got {param}={value!r}"
    )
