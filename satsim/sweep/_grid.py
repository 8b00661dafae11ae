"""Grids of cells: products, zipped axes, random designs, the stable key of a cell's
parameters, and cell functions that run many cells at once (see :mod:`satsim.sweep`)."""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import inspect
import itertools
import json
import math
import textwrap
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from satsim._validation import check_int, check_rng
from satsim.sweep._store import Cell


def _canonical(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"sweep parameters must be finite; got {value!r}")
        return float(repr(value))
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, bool | int | str) or value is None:
        return value
    raise TypeError(f"sweep parameters must be JSON values (numbers, strings, lists); "
                    f"got {type(value).__name__}")


def _key(params: Mapping[str, Any]) -> str:
    text = json.dumps(_canonical(dict(params)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code_fingerprint(fn: Any) -> str | None:
    """A digest of the code a cell function runs, so that a store can tell when the
    function changed under it (``None`` when the code cannot be read).

    The function's name and source, parsed and dumped without its docstrings (so comments,
    docstrings and formatting do not count, and the digest is the same in every
    interpreter); a :class:`Batched` function by its ``fn_many``, ``by`` and
    ``max_size``; a :func:`functools.partial` by its function and arguments; a callable
    object by its class's ``__call__`` and its attributes.  Only the function's own
    body is read: a change in a helper it calls is not seen.
    """
    h = hashlib.sha256()
    try:
        _fingerprint_into(h, fn, depth=0)
    except (OSError, TypeError, ValueError, SyntaxError, RecursionError):
        return None
    return h.hexdigest()[:16]


def _fingerprint_into(h: Any, fn: Any, depth: int) -> None:
    if depth > 8:
        raise RecursionError("cell function wrapped too deeply")
    if isinstance(fn, Batched):
        h.update(f"batched:{fn.by!r}:{fn.max_size!r}".encode())
        _fingerprint_into(h, fn.fn_many, depth + 1)
        return
    if isinstance(fn, functools.partial):
        from satsim.sweep._store import canonical

        h.update(json.dumps(canonical({"args": list(fn.args), "keywords": fn.keywords}),
                            sort_keys=True).encode())
        _fingerprint_into(h, fn.func, depth + 1)
        return
    fn = inspect.unwrap(fn)
    if isinstance(fn, types.MethodType):
        fn = fn.__func__
    if not isinstance(fn, types.FunctionType | types.BuiltinFunctionType):
        from satsim.sweep._store import canonical

        state = dict(vars(fn)) if hasattr(fn, "__dict__") else {}
        h.update(f"{type(fn).__module__}.{type(fn).__qualname__}".encode())
        h.update(json.dumps(canonical(state), sort_keys=True).encode())
        _fingerprint_into(h, type(fn).__call__, depth + 1)
        return
    if isinstance(fn, types.BuiltinFunctionType):
        h.update(f"builtin:{fn.__module__}.{fn.__qualname__}".encode())
        return
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    for node in ast.walk(tree):  # docstrings are not code
        body = getattr(node, "body", None)
        if (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    h.update(f"{fn.__qualname__}:".encode())  # not the module: one file, two import names
    h.update(ast.dump(tree, annotate_fields=False, include_attributes=False).encode())


@dataclasses.dataclass(frozen=True)
class Batched:
    """A cell function that can run many cells in one computation (:func:`batched`).

    Called as an ordinary cell function ``(params, rng)`` it runs a batch of one, so
    every executor can use it.
    """

    fn_many: Callable[[list[dict], list[np.random.Generator]], list[Any]]
    by: tuple[str, ...]
    max_size: int | None = None

    def __call__(self, params: dict, rng: np.random.Generator) -> Any:
        out = self.fn_many([params], [rng])
        if not isinstance(out, list | tuple) or len(out) != 1:
            raise TypeError(f"batched function {_name(self.fn_many)} must return a list "
                            f"with one result per cell; got {type(out).__name__}")
        return out[0]

    def groups(self, cells: list[Cell]) -> list[list[Cell]]:
        """Cells whose ``by`` parameters agree, in chunks of at most ``max_size``
        (the grid's order kept within each group; the largest total size first when
        the grid knows sizes)."""
        by_key: dict[str, list[Cell]] = {}
        for c in cells:
            k = json.dumps(_canonical({b: c.params.get(b) for b in self.by}),
                           sort_keys=True)
            by_key.setdefault(k, []).append(c)
        size = self.max_size or max((len(g) for g in by_key.values()), default=1)
        out = [g[i:i + size] for g in by_key.values() for i in range(0, len(g), size)]
        if any(c.size is not None for c in cells):  # the costliest batches first
            out.sort(key=lambda g: -sum(c.size or 0.0 for c in g))
        return out


def _name(fn: Any) -> str:
    if isinstance(fn, Batched):
        return f"batched({_name(fn.fn_many)})"
    return getattr(fn, "__qualname__", None) or type(fn).__qualname__


def batched(fn_many: Callable[[list[dict], list[np.random.Generator]], list[Any]], *,
            by: Iterable[str], max_size: int | None = None) -> Batched:
    """Wrap a function of many cells for :func:`run` (see "Batched cells" above).

    Parameters
    ----------
    fn_many : callable
        ``fn_many(params_list, rngs)`` returning one JSON result per cell, in order;
        each ``rngs[i]`` is cell i's own generator (seeded from the root seed and the
        cell's key, exactly as for an unbatched cell).  Module-level, so that it
        pickles.
    by : iterable of str
        Parameter names whose values must agree within a batch (e.g. the network's
        depth and width).
    max_size : int, optional
        At most this many cells per batch.

    Returns
    -------
    Batched
    """
    if not callable(fn_many):
        raise TypeError(f"`fn_many` must be callable; got fn_many={fn_many!r}")
    names = tuple(by) if not isinstance(by, str) else (by,)
    if not all(isinstance(b, str) and b for b in names):
        raise TypeError(f"`by` must be parameter names; got by={by!r}")
    if max_size is not None:
        max_size = check_int("max_size", max_size, minimum=1)
    return Batched(fn_many=fn_many, by=names, max_size=max_size)


class Grid:
    """An ordered collection of cells with distinct keys."""

    def __init__(self, cells: Iterable[Cell]):
        self.cells: list[Cell] = []
        seen = set()
        for c in cells:
            if c.key not in seen:
                seen.add(c.key)
                self.cells.append(c)

    def __len__(self) -> int:
        return len(self.cells)

    def __iter__(self):
        return iter(self.cells)

    def __add__(self, other: Grid) -> Grid:
        return Grid([*self.cells, *other.cells])

    def with_sizes(self, size: Callable[[dict], float]) -> Grid:
        """Attach a cost estimate per cell (submitted largest-first)."""
        return Grid(dataclasses.replace(c, size=float(size(c.params))) for c in self.cells)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"key": c.key, **c.params} for c in self.cells])


#: columns the store adds to every record: grids may not use them as parameter names
RESERVED = ("key", "status", "attempts", "duration", "cell_seed", "error")


def _cells(rows: Iterable[dict], fixed: Mapping[str, Any]) -> Grid:
    out = []
    for row in rows:
        params = {**fixed, **row}
        clash = sorted(set(params) & set(RESERVED))
        if clash:
            raise ValueError(f"sweep parameter name(s) {clash} are reserved for the store's "
                             f"own columns {RESERVED}")
        for name, value in params.items():
            try:
                _canonical(value)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"`{name}`: {exc}; got {name}={value!r}") from None
        out.append(Cell(params=_canonical(params), key=_key(params)))
    return Grid(out)


def _axes(axes: Mapping[str, Any]) -> dict[str, list]:
    if not axes:
        raise ValueError("a grid needs at least one named parameter")
    out = {}
    for name, values in axes.items():
        if isinstance(values, str) or not isinstance(values, Iterable):
            raise TypeError(f"`{name}` must be a sequence of values; got {name}={values!r}")
        out[name] = list(values)
        if not out[name]:
            raise ValueError(f"`{name}` must not be empty")
    return out


def product(fixed: Mapping[str, Any] | None = None, **axes: Iterable) -> Grid:
    """Full factorial design: every combination of the axes' values.

    Parameters
    ----------
    fixed : mapping, optional
        Parameters shared by every cell (added to each cell's dictionary).
    **axes : iterable
        One axis per parameter name: the values it takes.

    Returns
    -------
    Grid
        One cell per combination, the last axis varying fastest.
    """
    ax = _axes(axes)
    names = list(ax)
    rows = (dict(zip(names, combo, strict=True)) for combo in itertools.product(*ax.values()))
    return _cells(rows, fixed or {})


def zipped(fixed: Mapping[str, Any] | None = None, **axes: Iterable) -> Grid:
    """Axes of equal length zipped together (one cell per position).

    Parameters
    ----------
    fixed : mapping, optional
        Parameters shared by every cell (added to each cell's dictionary).
    **axes : iterable
        One axis per parameter name, all of the same length.

    Returns
    -------
    Grid
        One cell per position.
    """
    ax = _axes(axes)
    lengths = {len(v) for v in ax.values()}
    if len(lengths) != 1:
        raise ValueError(f"zipped axes must have equal lengths; got "
                         f"{ {k: len(v) for k, v in ax.items()} }")
    rows = (dict(zip(ax, combo, strict=True)) for combo in zip(*ax.values(), strict=True))
    return _cells(rows, fixed or {})


def random_design(n: int, *, rng: Any = None, fixed: Mapping[str, Any] | None = None,
                  **samplers: Callable[[np.random.Generator], Any]) -> Grid:
    """``n`` cells with each parameter drawn by ``sampler(rng)`` (e.g.
    ``lambda g: float(g.uniform(0.5, 4))``).

    Parameters
    ----------
    n : int
        Number of cells (≥ 1).
    rng : None, int, SeedSequence, BitGenerator or Generator, optional
        Source of randomness for the samplers (SPEC 7).
    fixed : mapping, optional
        Parameters shared by every cell (added to each cell's dictionary).
    **samplers : callable
        One per parameter name: a function of a :class:`numpy.random.Generator`
        returning the parameter's value.

    Returns
    -------
    Grid
        ``n`` cells.
    """
    n = check_int("n", n, minimum=1)
    rng = check_rng(rng)
    for name, s in samplers.items():
        if not callable(s):
            raise TypeError(f"`{name}` must be a callable taking a Generator; got {s!r}")
    rows = ({name: s(rng) for name, s in samplers.items()} for _ in range(n))
    return _cells(rows, fixed or {})
