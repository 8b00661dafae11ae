"""Rounding for display: the one place numbers are rounded (results keep raw values)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["fmt", "pct"]


def fmt(value: Any, digits: int = 4) -> str:
    """Round for display (the only place numbers are rounded).

    Parameters
    ----------
    value : Any
        A bool, integer, float, None or anything else.
    digits : int, default 4
        Significant digits of a float.

    Returns
    -------
    str
        ``"yes"``/``"no"`` for a bool; an integer in full; a float to ``digits``
        significant digits (``format(value, ".4g")``), in scientific notation with
        ``digits − 1`` decimals when ``|value| ≥ 1e5`` or ``< 1e-3`` (``"1.235e6"``,
        ``"2.000e-4"``), ``"0"`` for zero, ``"∞"``/``"−∞"``, and ``"–"`` for NaN or None;
        ``str(value)`` for anything else.
    """
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        value = float(value)
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if value == 0:
            return "0"
        if abs(value) >= 1e5 or abs(value) < 1e-3:
            return f"{value:.{max(digits - 1, 1)}e}".replace("e-0", "e-").replace("e+0", "e")
        return f"{value:.{digits}g}"
    if value is None:
        return "–"
    return str(value)


def pct(value: float, digits: int = 3) -> str:
    """A proportion as a percentage, ``digits`` significant digits (0.8373 → "83.7%")."""
    return f"{fmt(100 * float(value), digits)}%"
