"""Base pieces for result objects (DESIGN.md §3.2).

Results are frozen, slotted, keyword-only dataclasses named ``<Thing>Result``.
They hold raw unrounded numbers plus the inputs that define the run, expose a tidy
``to_frame()`` and render (rounded) only in ``summary()`` / ``__str__``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, dataclass_transform

import pandas as pd

__all__ = ["Plottable", "Result", "result"]

_T = TypeVar("_T")


# dataclass_transform tells type checkers that ``@result`` builds a frozen, keyword-only
# dataclass, so they check the generated ``__init__`` (field names and types) at every
# construction site.  (``frozen_default`` is a keyword of Python 3.12's signature; on 3.11
# the runtime accepts it through ``**kwargs`` and type checkers read it all the same.)
@dataclass_transform(
    kw_only_default=True, frozen_default=True, field_specifiers=(dataclasses.field,)
)
def result(cls: type[_T]) -> type[_T]:
    """Class decorator: ``dataclass(frozen=True, slots=True, kw_only=True)``; the repr
    is :class:`Result`'s short one, not the dataclass's field dump."""
    return dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)(cls)


class Result:
    """Mixin giving results a common text rendering.

    Subclasses implement :meth:`to_frame`; ``summary()`` renders that frame with
    ``digits`` significant digits.  Rounding happens here and only here.
    """

    __slots__ = ()

    _title: str = "Result"

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def _summary_header(self) -> list[str]:
        return []

    def summary(self, digits: int = 4) -> str:
        """A human-readable table of the result, rounded to ``digits`` significant digits."""
        frame = self.to_frame()
        with pd.option_context("display.width", 120, "display.max_columns", 30):
            body = frame.to_string(
                index=False,
                float_format=lambda v: f"{v:.{digits}g}",
            )
        lines = [self._title, "=" * len(self._title), *self._summary_header(), body]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    #: lines of the table shown by ``repr`` (the whole table is ``to_frame()``)
    _REPR_ROWS = 6

    def __repr__(self) -> str:
        """A few lines: the title and the head of the tidy table (no raw arrays)."""
        frame = self.to_frame()
        with pd.option_context("display.width", 100, "display.max_columns", 8,
                               "display.max_colwidth", 24):
            body = frame.head(self._REPR_ROWS).to_string(
                index=False, float_format=lambda v: f"{v:.4g}")
        more = len(frame) - self._REPR_ROWS
        tail = [f"… {more} more rows (.to_frame())"] if more > 0 else []
        return "\n".join([f"<{type(self).__name__}: {self._title}>", body, *tail])

    def _repr_html_(self) -> str:
        """The tidy table, for notebooks."""
        frame = self.to_frame()
        table = frame.head(50).to_html(index=False, float_format=lambda v: f"{v:.4g}",
                                       border=0)
        more = len(frame) - 50
        note = f"<p>… {more} more rows</p>" if more > 0 else ""
        import html

        return f"<div><strong>{html.escape(type(self).__name__)}</strong>: " \
               f"{html.escape(self._title)}{table}{note}</div>"


#: The module that draws results: it must define ``plot_result(result, ax=None, **kw)``.
#: Results know its *name*, not its code — pandas' plotting-backend pattern
#: (``pandas.options.plotting.backend``): the compute layer has no import edge to the
#: plotting layer, matplotlib is loaded on the first ``.plot()`` only, and another
#: backend can be named here.
PLOT_BACKEND = "satsim.plotting"


class Plottable:
    """Mixin: ``.plot(ax=None)`` draws the result with the plotting backend
    (:data:`PLOT_BACKEND`, by default :func:`satsim.plotting.plot_result`) and returns
    what it returns (the Axes)."""

    __slots__ = ()

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        import importlib

        backend = importlib.import_module(PLOT_BACKEND)
        return backend.plot_result(self, ax=ax, **kwargs)


def frame_from_records(records: list[dict[str, Any]]) -> pd.DataFrame:
    """A DataFrame from a list of row dicts, preserving column order."""
    return pd.DataFrame.from_records(records)
