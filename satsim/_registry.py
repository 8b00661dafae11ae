"""Named registries of families (initializers, activations): one lookup, one error style.

A :class:`Registry` holds the built-in presets and the user's entries, and resolves
everything a user may pass where an initializer or activation is expected:

* an instance of the family's base class, as is;
* a subclass of it (instantiated with no arguments);
* a registered name — built-in, added with ``register``, or declared by an installed
  package in the entry-point group ``satsim.initializers`` / ``satsim.activations``
  (``my_init = "mypkg.inits:my_init"``), loaded on first use;
* ``"module:attr"`` (``"mypkg.inits:my_init"``), imported by name (never from a file
  path, never from the current directory unless it is on ``sys.path``);
* a plain function, wrapped by the family's ``wrap`` (an initializer's
  ``f(shape, rng) -> ndarray``, an activation's ``f(z) -> ndarray``).

Process and Dask workers are fresh interpreters: :func:`snapshot` captures the user's
registrations and :class:`WithRegistrations` re-installs them before a sweep cell runs,
so a name registered in the parent resolves in every worker (entry points and
``module:attr`` names resolve there by themselves).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import inspect
import sys
from collections.abc import Callable, Mapping
from typing import Any

from satsim._validation import check_choice

__all__ = ["Registry", "WithRegistrations", "construct", "install", "load_attr", "snapshot"]


def construct(registry: Mapping[str, Callable], what: str, name: Any, params: dict) -> Any:
    """``registry[name](**params)``; an unknown name lists the valid ones, an unknown
    parameter lists those the entry takes."""
    check_choice("name", name, registry)
    factory = registry[name]
    try:
        accepted = tuple(inspect.signature(factory).parameters)
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        accepted = ()
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "no parameters"
        raise TypeError(f"{what} {name!r} got unexpected parameter(s) {', '.join(unknown)}; "
                        f"it takes {takes}")
    return factory(**params)


def load_attr(spec: str, param: str) -> Any:
    """The object named by ``"module:attr"`` (``attr`` may be dotted); one-line errors."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"`{param}` must look like 'module:attr'; got {param}={spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or whatever the module raises at import
        raise ValueError(f"`{param}`: cannot import {module_name!r} for {spec!r} "
                         f"({type(exc).__name__}: {exc})") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"`{param}`: module {module_name!r} has no attribute {attr!r} "
                             f"(from {param}={spec!r})") from None
    return obj


class _Preset:
    """A registered instance: calling it returns the instance (picklable, unlike a lambda)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self) -> Any:
        return self.value

    def __repr__(self) -> str:
        return repr(self.value)


class Registry:
    """Built-in presets plus user entries for one family.

    Parameters
    ----------
    what : str
        ``"initializer"`` or ``"activation"`` (used in messages).
    base : type
        The family's base class.
    builtins : dict
        Name → factory of the built-in presets.
    group : str
        Entry-point group third-party packages use to declare named entries.
    wrap : callable ``(obj, name, param) -> base``
        Turns a plain function into a family member.
    owner : str
        The module that creates the registry (``__name__``): a worker process that
        receives registrations imports it by name, so this module knows registries,
        not the families that have one.
    """

    def __init__(self, what: str, base: type, builtins: Mapping[str, Callable], group: str,
                 wrap: Callable[[Any, str, str], Any], *, owner: str) -> None:
        self.what, self.base, self.group, self.wrap = what, base, group, wrap
        #: the module that creates this registry on import (a worker imports it by name)
        self.owner = owner
        self.builtins = dict(builtins)
        self.user: dict[str, Callable] = {}
        _ALL[what] = self

    # -- the table -------------------------------------------------------------------
    @property
    def table(self) -> dict[str, Callable]:
        return {**self.builtins, **self.user}

    def names(self) -> tuple[str, ...]:
        return tuple(self.table)

    def register(self, name: Any, factory: Any, *, overwrite: bool = False) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"`name` must be a Python identifier-like string (letters, "
                             f"digits, underscores); got name={name!r}")
        if not isinstance(overwrite, bool):
            raise TypeError(f"`overwrite` must be True or False; got overwrite={overwrite!r}")
        if name in self.table and not overwrite:
            raise ValueError(f"{self.what} {name!r} is already registered "
                             f"({self.table[name]!r}); pass overwrite=True to replace it")
        if isinstance(factory, self.base):
            entry: Callable = _Preset(factory)
        elif callable(factory):
            entry = factory
        else:
            raise TypeError(f"`factory` must be a {self.base.__name__}, a subclass of it or a "
                            f"callable returning one; got factory={factory!r}")
        self._check_factory(name, entry)
        self.user[name] = entry

    def _check_factory(self, name: str, entry: Callable) -> None:
        try:
            sig = inspect.signature(entry)
        except (TypeError, ValueError):
            return
        required = [p for p in sig.parameters.values()
                    if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        hint = ""
        if self.what == "initializer":
            hint = ("; to register a sampling function f(shape, rng) write "
                    "register(name, satsim.init.from_function(f))")
        if required:  # get(name) calls it without parameters
            raise TypeError(f"`factory` for {self.what} {name!r} must be callable without "
                            f"arguments (parameters with defaults only); it requires "
                            f"{', '.join(p.name for p in required)}{hint}")
        made = entry()
        if not isinstance(made, self.base):
            raise TypeError(f"`factory` for {self.what} {name!r} must return a "
                            f"{self.base.__name__}; it returned {type(made).__name__}{hint}")

    def unregister(self, name: str) -> None:
        if name not in self.user:
            mine = ", ".join(map(repr, self.user)) or "none"
            raise ValueError(f"`name` must be a user-registered {self.what}; got name={name!r} "
                             f"(registered by the user: {mine})")
        del self.user[name]

    # -- lookup ----------------------------------------------------------------------
    def _entry_point(self, name: str) -> Any:
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            if ep.name == name:
                try:
                    return ep.load()
                except Exception as exc:
                    raise ValueError(f"{self.what} {name!r} (entry point {ep.value!r} of group "
                                     f"{self.group!r}) failed to load: "
                                     f"{type(exc).__name__}: {exc}") from None
        return None

    def get(self, name: Any, params: dict) -> Any:
        table = self.table
        if isinstance(name, str) and name not in table:
            obj = load_attr(name, "name") if ":" in name else self._entry_point(name)
            if obj is not None:
                if params:
                    return self._from_object(obj, name, "name", params)
                return self._from_object(obj, name, "name")
        return self._named(construct(table, self.what, name, params), name)

    def _named(self, made: Any, name: Any) -> Any:
        """A user entry's object carries the name it was registered under, so a grid or
        a report that writes ``made.name`` can look it up again."""
        if name in self.user and getattr(made, "name", None) != name:
            made = copy.copy(made)
            with contextlib.suppress(AttributeError, TypeError):
                object.__setattr__(made, "name", name)
        return made

    def resolve(self, value: Any, param: str) -> Any:
        if isinstance(value, self.base):
            return value
        for other in _ALL.values():  # an activation where an initializer belongs, …
            if other is not self and isinstance(value, other.base):
                raise TypeError(f"`{param}` must be an {self.base.__name__}, a function, a "
                                f"registered name or 'module:attr'; got an "
                                f"{other.base.__name__}: {param}={value!r}")
        if isinstance(value, str):
            table = self.table
            if value in table:
                return self._named(construct(table, self.what, value, {}), value)
            if ":" in value:
                return self._from_object(load_attr(value, param), value, param)
            obj = self._entry_point(value)
            if obj is not None:
                return self._from_object(obj, value, param)
            raise ValueError(
                f"`{param}` must be an {self.base.__name__} or one of "
                f"{', '.join(map(repr, table))} (or a function, or 'module:attr'); "
                f"got {param}={value!r}")
        if isinstance(value, type) or callable(value):
            return self._from_object(value, None, param)
        raise TypeError(f"`{param}` must be an {self.base.__name__}, a function, a registered "
                        f"name or 'module:attr'; got {param}={value!r}")

    def _from_object(self, obj: Any, spec: str | None, param: str,
                     params: dict | None = None) -> Any:
        if isinstance(obj, self.base):
            made = obj
        elif isinstance(obj, type) and issubclass(obj, self.base):
            try:
                made = obj(**(params or {}))
            except TypeError as exc:
                raise TypeError(f"`{param}`: {obj.__name__} cannot be built without "
                                f"parameters ({exc}); pass an instance") from None
        elif isinstance(obj, type):
            raise TypeError(f"`{param}` must be a {self.base.__name__} subclass, instance or "
                            f"function; got the class {obj.__name__}")
        elif callable(obj) and spec is not None and ":" in spec and not _function_like(obj):
            # a name typed on a command line must not run whatever it points at
            # (`--activation os:system` would call os.system on an array)
            raise TypeError(f"`{param}`: {spec!r} is {type(obj).__name__} "
                            f"{getattr(obj, '__qualname__', '')!s:.60}, not an "
                            f"{self.base.__name__} or a function written for satsim; a "
                            f"'module:attr' name must point at one of those")
        elif callable(obj):
            if params:
                made = obj(**params)
                if not isinstance(made, self.base):
                    raise TypeError(f"`{param}`: {spec!r} called with {params} returned "
                                    f"{type(made).__name__}, not a {self.base.__name__}")
            else:
                made = self.wrap(obj, _default_name(obj, spec), param)
        else:
            raise TypeError(f"`{param}`: {spec!r} is a {type(obj).__name__}, not a "
                            f"{self.base.__name__} or a function")
        if spec is not None and ":" in spec:
            _remember_spec(made, spec)
        return made


def _function_like(obj: Any) -> bool:
    """A function written in Python (``def``), a ``functools.partial`` of one, or a
    NumPy ufunc: what a ``module:attr`` name may resolve to besides a registry's own
    kind.  Built-ins (``os.system``), methods, other callables and the standard
    library's functions (``shutil.rmtree``) are refused."""
    if isinstance(obj, functools.partial):
        return _function_like(obj.func)
    if type(obj).__name__ == "ufunc":
        return True
    top = str(getattr(obj, "__module__", "") or "").partition(".")[0]
    # the standard library's functions (os, shutil, subprocess …) are never a scheme
    return inspect.isfunction(obj) and top not in sys.stdlib_module_names


def _default_name(obj: Any, spec: str | None) -> str:
    if spec is not None:
        return spec
    return getattr(obj, "__name__", type(obj).__name__)


def _remember_spec(made: Any, spec: str) -> None:
    """Record on an object where it came from, so grids can name it (best effort: slots
    or frozen objects without a ``__dict__`` keep their own name)."""
    with contextlib.suppress(AttributeError, TypeError):
        object.__setattr__(made, "_satsim_spec", spec)


# --------------------------------------------------------------------------- workers
_ALL: dict[str, Registry] = {}


def snapshot() -> dict[str, tuple[str, dict[str, Callable]]]:
    """The user registrations of every family, with the module that owns its registry
    (to re-install in a worker process)."""
    return {what: (reg.owner, dict(reg.user)) for what, reg in _ALL.items() if reg.user}


def install(snap: Mapping[str, tuple[str, Mapping[str, Callable]]]) -> None:
    """Re-install registrations captured by :func:`snapshot`; each family's registry
    is created by importing its owner module (by name)."""
    for what, (owner, entries) in snap.items():
        if what not in _ALL:
            importlib.import_module(owner)
        _ALL[what].user.update(entries)


class WithRegistrations:
    """A picklable wrapper that installs the parent's registrations, then calls ``fn``."""

    def __init__(self, fn: Callable,
                 snap: Mapping[str, tuple[str, Mapping[str, Callable]]]) -> None:
        self.fn, self.snap = fn, dict(snap)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        install(self.snap)
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"WithRegistrations({self.fn!r})"
