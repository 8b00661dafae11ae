r"""Activation functions with exact derivatives, ranges and saturation criteria.

One family serves the statistics (:mod:`satsim.saturation`,
:mod:`satsim.meanfield`) and the training engine.  Every activation has

* ``fn(z)``, ``grad(z)`` (:math:`\varphi'`) and ``grad2(z)`` (the pointwise
  :math:`\varphi''`), finite for every finite z in float16, float32 and float64 (no
  overflow/invalid warnings, no NaN) and returned in the input's floating dtype
  (integers and lists become float64).  At a kink ``grad2`` is the pointwise value of
  the smooth pieces: the atoms of the distributional φ'' (hard_tanh:
  :math:`\delta(z+1) - \delta(z-1)`; relu: :math:`\delta(z)`) are not representable,
  so :mod:`satsim.meanfield` never integrates ``grad2`` (see :mod:`satsim.meanfield._gaussian`);
* ``range`` — the closure of its image, e.g. (0, 1) for the sigmoid;
* ``max_grad`` — :math:`\sup_z \varphi'(z)`;
* :meth:`Activation.saturation_bounds` — the z-interval outside which a unit
  counts as saturated under a named criterion.

Saturation criteria (DESIGN §3.6: conventions are named parameters)
--------------------------------------------------------------------
``"output"`` (default for bounded activations; ``epsilon = 0.01``)
    The output lies within ``epsilon`` × (width of the range) of a bound.  Sigmoid:
    :math:`\sigma(z) < \epsilon` or :math:`> 1-\epsilon` ⇔
    :math:`|z| > \ln\frac{1-\epsilon}{\epsilon}` (ln 99 ≈ 4.595 at ε = 0.01).  Tanh:
    :math:`|\tanh z| > 1 - 2\epsilon` ⇔ :math:`|z| > \tfrac12\ln\frac{1-\epsilon}{\epsilon}`
    (atanh 0.98 ≈ 2.298) — the same criterion, since tanh z = 2σ(2z) − 1.
``"derivative"`` (default for elu, softplus, gelu; ``delta = 0.01``)
    :math:`\varphi'(z) < \delta \cdot \sup \varphi'`: the unit passes back less than
    δ of the largest possible gradient.  Sigmoid: σ' < δ/4.
``"tanh97"``
    The ``|tanh z| > 0.97`` convention (e.g. Glorot & Bengio's saturation plots):
    the ``"output"`` criterion at ε = 0.015, for any bounded activation.
``"inactive"`` (default for relu and leaky_relu)
    z ≤ 0: the unit outputs 0 (ReLU) and passes back no gradient (or ``slope``
    of it).  A *dead* unit is inactive for every probe input — see
    :func:`satsim.saturation.dead_fraction`.

``linear`` never saturates: its bounds are (−inf, inf).

``erf`` (:math:`\varphi(z) = \mathrm{erf}(z)`) is the activation whose mean-field
integrals are all closed forms (Williams 1997); it serves as the exact reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from satsim._namespace import public_dir
from satsim._registry import Registry
from satsim.activations._builtin import (
    _REGISTRY,
    CRITERIA,
    ELU,
    GELU,
    Activation,
    Erf,
    HardTanh,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softplus,
    Softsign,
    Tanh,
)
from satsim.activations._custom import make_activation

__all__ = [
    "CRITERIA",
    "ELU",
    "GELU",
    "Activation",
    "Erf",
    "HardTanh",
    "LeakyReLU",
    "Linear",
    "ReLU",
    "Sigmoid",
    "Softplus",
    "Softsign",
    "Tanh",
    "as_activation",
    "from_function",
    "get",
    "names",
    "register",
    "unregister",
]

__dir__ = public_dir(globals())


def _wrap(fn: Any, name: str, param: str) -> Activation:
    return make_activation(fn, name=name, param=param)


_ACTIVATIONS = Registry("activation", Activation, _REGISTRY, "satsim.activations", _wrap,
                        owner=__name__)


def from_function(
    fn: Callable, grad: Callable | None = None, *, name: str | None = None,
    grad2: Callable | None = None, range: Any = None,
    default_criterion: str | None = None, check: bool = True,
) -> Activation:
    r"""An activation from a function ``fn(z) -> ndarray`` (elementwise, float64 in and out).

    Parameters
    ----------
    fn : callable
        φ, finite for finite z.
    grad, grad2 : callable, optional
        φ' and φ''.  When not given they are five-point central differences (step
        :math:`h = 2^{-8}\max(1,|z|)`, error :math:`O(h^4)`; the estimated error of φ' is
        the result's ``grad_error``).  A given ``grad`` is checked against that rule on
        [−10, 10] (relative tolerance 1e-4) unless ``check=False``: a mismatch is a
        ``ValueError`` naming ``grad``.
    name : str, optional
        Default ``fn.__name__``.
    range : (float, float), optional
        Closure of φ's image; default estimated from φ on [−10⁴, 10⁴].
    default_criterion : {"output", "derivative", "tanh97"}, optional
        Saturation criterion when none is given; default "output" for a bounded φ,
        "derivative" otherwise.
    check : bool, default True
        Compare a given ``grad`` with the five-point rule before accepting it.

    Returns
    -------
    Activation
        A ``FunctionActivation`` whose ``fn``, ``grad`` and ``grad2`` evaluate in float64
        and return the input's floating dtype; ``range``, ``max_grad`` and the saturation
        bounds are computed from φ.

    Raises
    ------
    TypeError
        ``fn``, ``grad`` or ``grad2`` is not callable, or ``range`` is not a pair.
    ValueError
        ``fn`` fails on an array or is not finite on [−10, 10]; ``fn`` is nowhere
        increasing on [−20, 20]; ``grad`` disagrees with the differences of ``fn``;
        ``range`` does not have low < high; ``default_criterion`` is not one of the three.

    Notes
    -----
    The result works in :mod:`satsim.saturation`, :mod:`satsim.meanfield` (its Gaussian
    integrals by quadrature), ``propagate`` and :class:`satsim.nn.Network`.  See
    :mod:`satsim.activations._custom` for the numerical rules.
    """
    return make_activation(fn, grad, name=name, grad2=grad2, range=range,
                           default_criterion=default_criterion, check=check)


def register(name: str, fn: Any, grad: Callable | None = None, *, overwrite: bool = False,
             **options: Any) -> None:
    """Make an activation available by name everywhere (``activation="name"``,
    ``satsim analyze --activation name``).

    ``fn`` is an :class:`Activation` (instance or subclass) or a function φ, built with
    :func:`from_function` (``grad`` and ``options`` — ``grad2``, ``range``,
    ``default_criterion``, ``check`` — as there).  A clash with an existing name is a
    ``ValueError`` unless ``overwrite=True``.  As for initializers, sweeps re-install
    registrations in their workers, and installed packages can declare names in the
    entry-point group ``satsim.activations``.

    Parameters
    ----------
    name : str
        The name to register.
    fn : Activation, Activation subclass or callable
        The activation, or a function φ(z) of an array.
    grad : callable, optional
        φ'(z), for a function ``fn``; numerical when omitted (:func:`from_function`).
    overwrite : bool, default False
        Replace an existing registration of ``name`` instead of raising.
    **options
        ``grad2``, ``range``, ``default_criterion``, ``check``, passed to
        :func:`from_function` for a function ``fn``.
    """
    if isinstance(fn, Activation) or (isinstance(fn, type) and issubclass(fn, Activation)):
        if grad is not None or options:
            raise TypeError("`grad` and options apply to a function, not to an Activation")
        _ACTIVATIONS.register(name, fn, overwrite=overwrite)
        return
    if not isinstance(name, str):
        raise ValueError(f"`name` must be a string; got name={name!r}")
    _ACTIVATIONS.register(name, from_function(fn, grad, name=name, **options),
                          overwrite=overwrite)


def unregister(name: str) -> None:
    """Remove a name added by :func:`register`.

    Parameters
    ----------
    name : str
        A name added by :func:`register`.
    """
    _ACTIVATIONS.unregister(name)


def names() -> tuple[str, ...]:
    """Registered activation names (built-ins, then the user's).

    Returns
    -------
    tuple of str
    """
    return _ACTIVATIONS.names()


def get(name: str, **params: Any) -> Activation:
    """Construct an activation by name (``get("leaky_relu", slope=0.2)``); also an entry
    point of the group ``satsim.activations`` or ``"module:attr"``.

    Parameters
    ----------
    name : str
        A registered name, an entry point's name or ``"module:attr"``.
    **params
        The activation's parameters (e.g. ``slope`` for ``leaky_relu``).

    Returns
    -------
    Activation
    """
    return _ACTIVATIONS.get(name, params)


def as_activation(value: Any, *, param: str = "activation") -> Activation:
    """An :class:`Activation` as is; otherwise a registered name, ``"module:attr"``, an
    Activation subclass or a plain function φ (wrapped by :func:`from_function`).

    Parameters
    ----------
    value : Activation, str, Activation subclass or callable
        What the user passed: an instance (returned unchanged), a registered name or an
        entry point's name, ``"module:attr"``, a subclass (built without arguments) or a
        function φ(z) of an array.
    param : str, default "activation"
        The argument's name, used in error messages.

    Returns
    -------
    Activation
        The resolved activation.

    Raises
    ------
    ValueError
        An unknown name (the message lists the registered ones), a ``"module:attr"`` that
        cannot be imported, or a function rejected by :func:`from_function`.
    TypeError
        Any other type (an initializer included), a subclass that needs parameters, or a
        ``"module:attr"`` pointing at something that is neither an activation nor a
        function written in Python.
    """
    return _ACTIVATIONS.resolve(value, param)
