"""Named registries of families (initializers, activations): one lookup, one error style."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from satsim._validation import check_choice

__all__ = ["construct", "resolve"]


def construct(registry: Mapping[str, Callable], what: str, name: Any, params: dict) -> Any:
    """``registry[name](**params)``; an unknown name lists the valid ones, an unknown
    parameter lists those the entry takes."""
    check_choice("name", name, registry)
    factory = registry[name]
    accepted = tuple(inspect.signature(factory).parameters)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "no parameters"
        raise TypeError(f"{what} {name!r} got unexpected parameter(s) {', '.join(unknown)}; "
                        f"it takes {takes}")
    return factory(**params)


def resolve(value: Any, registry: Mapping[str, Callable], base: type, what: str,
            param: str) -> Any:
    """``value`` if it is a ``base`` instance, else the registered entry of that name."""
    if isinstance(value, base):
        return value
    if isinstance(value, str):
        if value not in registry:
            raise ValueError(f"`{param}` must be an {base.__name__} or one of "
                             f"{', '.join(map(repr, registry))}; got {param}={value!r}")
        return construct(registry, what, value, {})
    raise TypeError(f"`{param}` must be an {base.__name__} or a registered name; "
                    f"got {param}={value!r}")
