"""What the stacked and torch training engines know of a network's architecture: each
layer's activation as a kind they implement (:func:`supported_activations`), and the
cost (shared by :mod:`satsim.nn.batched`, :mod:`satsim.nn._torch` and
:class:`satsim.nn.Network`, which all sit above it)."""

from __future__ import annotations

from typing import Any

from satsim._results import result
from satsim.activations import Activation, LeakyReLU, Linear, ReLU, Sigmoid, Tanh

#: the activations the stacked engines implement, by exact type (a subclass may
#: change fn or grad, so it is not assumed to be its parent)
_KINDS: dict[type[Activation], str] = {Tanh: "tanh", ReLU: "relu", Sigmoid: "sigmoid",
                                       Linear: "linear", LeakyReLU: "leaky_relu"}

def supported_activations() -> tuple[str, ...]:
    """Names of the hidden/output activations :func:`train_stack` and the torch
    backend implement (``softmax`` is also accepted as an output).

    Returns
    -------
    tuple of str
        ``"tanh"``, ``"relu"``, ``"sigmoid"``, ``"linear"``, ``"leaky_relu"``: the
        activations the stacked and torch engines compute (any other is a
        ``ValueError`` there; :class:`~satsim.nn.network.Network` trains it in NumPy).
    """
    return tuple(_KINDS.values())


# --------------------------------------------------------------------------- spec
@result
class _Spec:
    """What the engines need to know about the (shared) architecture: each layer's
    activation as ``(kind, slope)`` (slope only for leaky_relu), the last one the
    output's (kind ``"softmax"`` included), and the cost's name."""

    sizes: tuple[int, ...]
    layers: tuple[tuple[str, float], ...]
    cost: str


def _kind(act: Any, what: str) -> tuple[str, float]:
    kind = _KINDS.get(type(act))
    if kind is None:
        name = getattr(act, "name", repr(act))
        raise ValueError(f"{what} {name!r} is not supported by the stacked/torch engine; "
                         f"supported: {', '.join(map(repr, supported_activations()))}")
    return kind, float(act.slope) if isinstance(act, LeakyReLU) else 0.0


def _spec(net: Any, param: str) -> _Spec:
    """The engine spec of ``net``, or a ValueError naming ``param`` and what is missing."""
    layers = [_kind(a, f"`{param}`: hidden activation") for a in net.activations]
    if net.output.name == "softmax" and not isinstance(net.output, Activation):
        layers.append(("softmax", 0.0))
    else:
        layers.append(_kind(net.output, f"`{param}`: output"))
    return _Spec(sizes=tuple(net.sizes), layers=tuple(layers), cost=net.cost.name)
