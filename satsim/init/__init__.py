r"""Weight and bias initializers with exact moments.

Every initializer is a small frozen object that can

* draw a weight array (:meth:`Initializer.sample`, layout ``(fan_out, fan_in)``
  as in Nielsen's ``network2.py`` and PyTorch, so that ``z = W @ x + b``);
* draw the incoming weight vectors of *independent* neurons
  (:meth:`Initializer.sample_rows`, used by the Monte Carlo engine);
* state the exact law of one weight: :meth:`~Initializer.mean`,
  :meth:`~Initializer.variance` (the *realised* variance, including any
  truncation correction), :meth:`~Initializer.excess_kurtosis` and
  :meth:`~Initializer.support`.

The scale-dependent initializers are one family, :class:`VarianceScaling`
(Keras' name), whose weights have variance

.. math::

    \operatorname{Var}(w) = \frac{\text{scale}}{n}, \qquad
    n = \begin{cases} \text{fan\_in} & \text{mode="fan\_in"} \\
                      \text{fan\_out} & \text{mode="fan\_out"} \\
                      (\text{fan\_in} + \text{fan\_out})/2 & \text{mode="fan\_avg"}
        \end{cases}

drawn from a normal, a uniform :math:`U(\pm\sqrt{3\,\text{scale}/n})`, or a
normal truncated at ±2 raw standard deviations and rescaled by the standard
deviation of N(0, 1) restricted to (−2, 2) (0.8796256610342398) so that the
realised variance is exactly scale/n — the Keras/JAX convention.

The named presets (:func:`names`, :func:`get`) are thin constructors:

==================  =====================================================  ========================
preset              law of one weight                                      source
==================  =====================================================  ========================
standard_normal     N(0, 1)                                                Nielsen ch. 3 ("large")
nielsen             N(0, 1/fan_in)                                         Nielsen ch. 3
lecun_normal        N(0, 1/fan_in)                                         LeCun et al. 1998
lecun_uniform       U(±√(3/fan_in))                                        LeCun et al. 1998
glorot_normal       N(0, 2/(fan_in + fan_out))                             Glorot & Bengio 2010
glorot_uniform      U(±√(6/(fan_in + fan_out)))                            Glorot & Bengio 2010
he_normal           N(0, 2/fan_in)                                         He et al. 2015
he_uniform          U(±√(6/fan_in))                                        He et al. 2015
orthogonal          Haar-orthogonal × gain; Var = gain²/max(fans)          Saxe et al. 2014
torch_linear        U(±1/√fan_in), Var = 1/(3 fan_in) (weights and bias)   PyTorch ``nn.Linear``
truncated_normal    N(mean, std²) cut at mean ± 2 std, *uncorrected*       PyTorch/Keras
normal, uniform     N(mean, std²), U(low, high)                            PyTorch ``nn.init``
zeros, constant     the constant 0 / ``value`` (biases)                    PyTorch ``nn.init``
sparse              N(0, std²) with a fraction ``sparsity`` of each        Martens 2010;
                    column set to zero                                     PyTorch ``sparse_``
==================  =====================================================  ========================

PyTorch vs Keras semantics.  The ``*_normal`` presets are *untruncated*, as in
PyTorch's ``kaiming_normal_``/``xavier_normal_``; pass
``distribution="truncated_normal"`` for Keras' ``HeNormal``/``GlorotNormal``/
``LecunNormal`` (truncated at ±2 raw std and variance-corrected).  The
``truncated_normal`` preset is *not* corrected (PyTorch ``trunc_normal_`` and Keras
``TruncatedNormal``): its variance is :math:`\approx 0.7737\,\text{std}^2`.  Its
cut points ``a``, ``b`` are in units of ``std`` around ``mean`` (scipy's
``truncnorm`` convention); PyTorch's ``trunc_normal_`` takes absolute bounds, which
coincide with these at its defaults (mean 0, std 1, a = −2, b = 2).  Keras stores
kernels as ``(fan_in, fan_out)``, the transpose of satsim's layout.

References
----------
.. [1] M. Nielsen, *Neural Networks and Deep Learning*, ch. 3, "Weight initialization".
.. [2] X. Glorot, Y. Bengio, "Understanding the difficulty of training deep
   feedforward neural networks", AISTATS 2010.
.. [3] K. He et al., "Delving deep into rectifiers", ICCV 2015.
.. [4] A. Saxe et al., "Exact solutions to the nonlinear dynamics of learning in
   deep linear neural networks", ICLR 2014.
.. [5] F. Mezzadri, "How to generate random matrices from the classical compact
   groups", Notices AMS 54 (2007).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from satsim._namespace import public_dir
from satsim._registry import Registry
from satsim._validation import check_choice, check_real, check_shape
from satsim.init._catalogue import (
    TRUNCATED_NORMAL_STD,
    Constant,
    Initializer,
    Normal,
    Orthogonal,
    Sparse,
    TruncatedNormal,
    Uniform,
    VarianceScaling,
    _fans_from_shape,
)
from satsim.init._custom import FunctionInitializer
from satsim.init._custom import from_function as _from_function
from satsim.init._estimate import WeightMoments

__all__ = [
    "TRUNCATED_NORMAL_STD",
    "Constant",
    "FunctionInitializer",
    "Initializer",
    "Normal",
    "Orthogonal",
    "Sparse",
    "TruncatedNormal",
    "Uniform",
    "VarianceScaling",
    "WeightMoments",
    "as_initializer",
    "fans",
    "from_function",
    "gain",
    "get",
    "names",
    "register",
    "unregister",
]

__dir__ = public_dir(globals())


def fans(shape: int | tuple[int, ...]) -> tuple[int, int]:
    r"""``(fan_in, fan_out)`` of a weight array of ``shape``.

    The layout is PyTorch's: ``(fan_out, fan_in)`` for a dense layer and
    ``(out_channels, in_channels // groups, *kernel)`` for a convolution, so

    .. math::

        \text{fan\_in} = \text{in}\cdot\prod\text{kernel},\qquad
        \text{fan\_out} = \text{out}\cdot\prod\text{kernel},

    as ``torch.nn.init._calculate_fan_in_and_fan_out`` computes them.  A 1-D shape
    (a bias) has fan_in = fan_out = its length (Keras' convention; PyTorch refuses it).
    Every initializer's :meth:`~Initializer.sample` uses these fans unless ``fans=``
    is given.

    Parameters
    ----------
    shape : int or tuple of int
        Shape of the weight array, 1 to 5 dimensions.

    Returns
    -------
    fan_in, fan_out : int
    """
    return _fans_from_shape(check_shape("shape", shape, ndim=range(1, 6)))


# --------------------------------------------------------------------------- gains
def _gain_leaky_relu(param: float | None) -> float:
    slope = 0.01 if param is None else check_real("param", param)
    return math.sqrt(2.0 / (1.0 + slope**2))


_GAINS: dict[str, Callable[[float | None], float]] = {
    "linear": lambda p: 1.0,
    "identity": lambda p: 1.0,
    "conv1d": lambda p: 1.0,
    "conv2d": lambda p: 1.0,
    "conv3d": lambda p: 1.0,
    "conv_transpose1d": lambda p: 1.0,
    "conv_transpose2d": lambda p: 1.0,
    "conv_transpose3d": lambda p: 1.0,
    "sigmoid": lambda p: 1.0,
    "tanh": lambda p: 5.0 / 3.0,
    "relu": lambda p: math.sqrt(2.0),
    "leaky_relu": _gain_leaky_relu,
    "selu": lambda p: 3.0 / 4.0,
}


def gain(nonlinearity: str, param: float | None = None) -> float:
    r"""Recommended gain for a nonlinearity, as PyTorch's ``nn.init.calculate_gain``.

    ======================  ==============================================
    nonlinearity            gain
    ======================  ==============================================
    linear, conv*, sigmoid  1
    tanh                    5/3
    relu                    √2
    leaky_relu              :math:`\sqrt{2/(1+s^2)}`, s = ``param`` (default 0.01)
    selu                    3/4
    ======================  ==============================================

    ``param`` is only meaningful for ``leaky_relu``; passing it for another
    nonlinearity raises ``ValueError`` (PyTorch silently ignores it).

    Parameters
    ----------
    nonlinearity : str
        One of ``"linear"``, ``"identity"``, ``"conv1d"``, ``"conv2d"``, ``"conv3d"``,
        ``"conv_transpose1d"``, ``"conv_transpose2d"``, ``"conv_transpose3d"``,
        ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"selu"``.
    param : float, optional
        The negative slope s of ``"leaky_relu"`` (default 0.01).

    Returns
    -------
    float
        The gain g; a ``VarianceScaling`` with ``scale = g**2`` and fan-in mode gives
        :math:`\mathrm{Var}\,w = g^2/\text{fan\_in}`.

    Raises
    ------
    ValueError
        An unknown ``nonlinearity`` (the valid ones are listed), ``param`` given for
        a nonlinearity other than ``"leaky_relu"``, or a non-finite ``param``.
    TypeError
        ``param`` is not a real number.
    """
    check_choice("nonlinearity", nonlinearity, _GAINS)
    if param is not None and nonlinearity != "leaky_relu":
        raise ValueError(
            f"`param` is only used by nonlinearity='leaky_relu'; got param={param!r} "
            f"for nonlinearity={nonlinearity!r}"
        )
    return _GAINS[nonlinearity](param)


# --------------------------------------------------------------------------- registry
def _normal_distribution(distribution: str) -> str:
    return check_choice("distribution", distribution, ("normal", "truncated_normal"))


def _standard_normal() -> Initializer:
    return Normal(0.0, 1.0, name="standard_normal")


def _nielsen() -> Initializer:
    return VarianceScaling(1.0, "fan_in", "normal", name="nielsen")


def _lecun_normal(distribution: str = "normal") -> Initializer:
    return VarianceScaling(1.0, "fan_in", _normal_distribution(distribution), name="lecun_normal")


def _lecun_uniform() -> Initializer:
    return VarianceScaling(1.0, "fan_in", "uniform", name="lecun_uniform")


def _glorot_normal(distribution: str = "normal") -> Initializer:
    return VarianceScaling(
        1.0, "fan_avg", _normal_distribution(distribution), name="glorot_normal"
    )


def _glorot_uniform() -> Initializer:
    return VarianceScaling(1.0, "fan_avg", "uniform", name="glorot_uniform")


def _he_normal(distribution: str = "normal") -> Initializer:
    return VarianceScaling(2.0, "fan_in", _normal_distribution(distribution), name="he_normal")


def _he_uniform() -> Initializer:
    return VarianceScaling(2.0, "fan_in", "uniform", name="he_uniform")


def _orthogonal(gain: float = 1.0) -> Initializer:
    return Orthogonal(gain, name="orthogonal")


def _torch_linear() -> Initializer:
    # kaiming_uniform_(a=√5) gives bound √(6/((1+5)·fan_in)) = 1/√fan_in, and the bias
    # U(±1/√fan_in): both are VarianceScaling(1/3, "fan_in", "uniform").
    return VarianceScaling(1.0 / 3.0, "fan_in", "uniform", name="torch_linear")


def _truncated_normal(
    mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> Initializer:
    return TruncatedNormal(mean, std, a, b, name="truncated_normal")


def _normal(mean: float = 0.0, std: float = 1.0) -> Initializer:
    return Normal(mean, std, name="normal")


def _uniform(low: float = 0.0, high: float = 1.0) -> Initializer:
    return Uniform(low, high, name="uniform")


def _zeros() -> Initializer:
    return Constant(0.0, name="zeros")


def _constant(value: float = 0.0) -> Initializer:
    return Constant(value, name="constant")


def _sparse(sparsity: float = 0.1, std: float = 0.01) -> Initializer:
    return Sparse(sparsity, std, name="sparse")


_REGISTRY: dict[str, Callable[..., Initializer]] = {
    "standard_normal": _standard_normal,
    "nielsen": _nielsen,
    "lecun_normal": _lecun_normal,
    "lecun_uniform": _lecun_uniform,
    "glorot_normal": _glorot_normal,
    "glorot_uniform": _glorot_uniform,
    "he_normal": _he_normal,
    "he_uniform": _he_uniform,
    "orthogonal": _orthogonal,
    "torch_linear": _torch_linear,
    "truncated_normal": _truncated_normal,
    "normal": _normal,
    "uniform": _uniform,
    "zeros": _zeros,
    "constant": _constant,
    "sparse": _sparse,
}


def _wrap(fn: Any, name: str, param: str) -> Initializer:
    return _from_function(fn, name=name, param=param)


_INITIALIZERS = Registry("initializer", Initializer, _REGISTRY, "satsim.initializers", _wrap,
                         owner=__name__)


def from_function(
    fn: Callable, *, name: str | None = None, variance: Any = None, mean: Any = None,
    elementwise: bool = True,
) -> Initializer:
    r"""An initializer from a plain sampling function ``fn(shape, rng) -> ndarray``.

    Parameters
    ----------
    fn : callable
        Called as ``fn(shape, rng)`` with ``shape`` a tuple — ``(fan_out, fan_in,
        *kernel)`` for a layer, ``(n,)`` for a bias, ``(n, fan_in)`` for the rows of
        ``n`` independent neurons — and ``rng`` a :class:`numpy.random.Generator`; must
        return a finite real numpy array of exactly ``shape``.  It is called once on
        ``shape=(3, 2)`` right away, so a broken function fails here.  Fans are those of
        :func:`fans` (compute them from ``shape`` the same way if the law depends on them).
    name : str, optional
        Default ``fn.__name__``.
    variance, mean : float or callable ``(fan_in, fan_out) -> float``, optional
        The exact moments, if known.  Those not given are estimated by Monte Carlo
        (R independent layers, a t interval over the per-layer values; see
        :meth:`Initializer.moments`) and reported as estimated.
    elementwise : bool, default True
        False if ``fn`` couples the entries of one layer (rows of independent neurons
        are then taken from independently drawn layers).

    Returns
    -------
    Initializer
        A ``FunctionInitializer`` that samples with ``fn`` and reports the declared
        moments as exact, the others as Monte Carlo estimates.

    Raises
    ------
    TypeError
        ``fn`` is not callable, ``variance``/``mean`` is neither a number nor a
        function, ``elementwise`` is not a bool, or the probe call raised TypeError.
    ValueError
        A declared moment is not finite (or a negative variance), or the probe call on
        ``shape=(3, 2)`` fails or returns a wrong shape or non-finite values.

    Notes
    -----
    Anywhere an initializer is accepted, a plain function is wrapped this way
    (``Network(sizes, init=my_init)``); use :func:`from_function` to declare the
    variance or a name, and :func:`register` to use it by name.
    """
    return _from_function(fn, name=name, variance=variance, mean=mean,
                          elementwise=elementwise)


def register(name: str, factory: Any, *, overwrite: bool = False) -> None:
    """Make an initializer available by name everywhere (``simulate``, ``Network``,
    ``propagate``, sweeps, studies, ``satsim analyze --init NAME``).

    Parameters
    ----------
    name : str
        An identifier-like name.  A clash with a built-in or earlier registration is a
        ``ValueError`` unless ``overwrite=True``.
    factory : Initializer, Initializer subclass or callable returning an Initializer
        ``get(name, **params)`` calls ``factory(**params)``.  To register a sampling
        function ``f(shape, rng)`` wrap it first: ``register("mine", from_function(f))``.
    overwrite : bool, default False
        Replace an existing registration of ``name`` instead of raising.

    Raises
    ------
    ValueError
        ``name`` is not identifier-like, or is taken and ``overwrite`` is False.
    TypeError
        ``factory`` is neither an initializer nor callable, needs arguments, or does not
        return an :class:`Initializer`; ``overwrite`` is not a bool.

    Notes
    -----
    Registrations live in this process; :func:`satsim.sweep.run` re-installs them in
    its process and Dask workers (so the factory must be picklable: a module-level
    function or class, not a lambda).  Command-line runs see names registered by an
    installed package through the entry-point group ``satsim.initializers``
    (``[project.entry-points."satsim.initializers"] my_init = "mypkg.inits:my_init"``)
    or given as ``module:attr``.
    """
    _INITIALIZERS.register(name, factory, overwrite=overwrite)


def unregister(name: str) -> None:
    """Remove a name added by :func:`register` (built-ins cannot be removed).

    Parameters
    ----------
    name : str
        A name registered by the user in this process.

    Raises
    ------
    ValueError
        ``name`` was not registered by the user (the message lists those that were).
    """
    _INITIALIZERS.unregister(name)


def names() -> tuple[str, ...]:
    """Names of the built-in presets, then the user's registrations, in order.

    Returns
    -------
    tuple of str
        Every name :func:`get` and :func:`as_initializer` accept without an entry point
        or ``"module:attr"``.
    """
    return _INITIALIZERS.names()


def get(name: str, **params: Any) -> Initializer:
    """Construct a registered preset by name.

    Parameters
    ----------
    name : str
        One of :func:`names`, an entry point of the group ``satsim.initializers``, or
        ``"module:attr"``.
    **params
        Parameters of the preset (e.g. ``gain`` for ``"orthogonal"``,
        ``distribution="truncated_normal"`` for the ``*_normal`` presets).

    Returns
    -------
    Initializer
        The preset built with ``params``; a user registration carries the name it was
        registered under.

    Raises
    ------
    ValueError
        Unknown ``name`` (the message lists the valid ones) or bad parameter value.
    TypeError
        A parameter the preset does not take (the message lists those it does).
    """
    return _INITIALIZERS.get(name, params)


def as_initializer(value: Any, *, param: str = "weights") -> Initializer:
    """Resolve anything accepted as an initializer: an :class:`Initializer`, a subclass,
    a registered name, ``"module:attr"`` or a plain function ``f(shape, rng)``
    (wrapped by :func:`from_function`).

    Parameters
    ----------
    value : Initializer, str, Initializer subclass or callable
        An instance (returned unchanged), a registered name or an entry point's name,
        ``"module:attr"``, a subclass (built without arguments) or a sampling function
        ``f(shape, rng)``.
    param : str, default "weights"
        The argument's name, used in error messages.

    Returns
    -------
    Initializer
        The resolved initializer.

    Raises
    ------
    ValueError
        An unknown name (the message lists the registered ones), a ``"module:attr"``
        that cannot be imported, or a function rejected by :func:`from_function`.
    TypeError
        Any other type (an activation included), a subclass that needs parameters, or a
        ``"module:attr"`` pointing at something that is neither an initializer nor a
        function written in Python.
    """
    return _INITIALIZERS.resolve(value, param)
