"""Base pieces for result objects (DESIGN.md §3.2).

Results are frozen, slotted, keyword-only dataclasses named ``<Thing>Result``.
They hold raw unrounded numbers plus the inputs that define the run, expose a tidy
``to_frame()`` and render (rounded) only in ``summary()`` / ``__str__``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

__all__ = ["Result", "result"]


def result(cls: type) -> type:
    """Class decorator: ``dataclass(frozen=True, slots=True, kw_only=True)``."""
    return dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)


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


def frame_from_records(records: list[dict[str, Any]]) -> pd.DataFrame:
    """A DataFrame from a list of row dicts, preserving column order."""
    return pd.DataFrame.from_records(records)
