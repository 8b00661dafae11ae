"""Tick placement that leaves room for every label (see :mod:`satsim.plotting`)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes



# --------------------------------------------------------------------------- ticks
#: room between neighbouring tick labels, in font sizes (x: side by side, y: stacked),
#: so that neighbours read as separate numbers, not as "50100200"
_TICK_GAP = {"x": 0.8, "y": 0.3}


def _inside(locs: Any, lo: float, hi: float) -> np.ndarray:
    locs = np.asarray(locs, float)
    tol = 1e-9 * max(abs(lo), abs(hi), 1e-300)
    return locs[(locs >= lo - tol) & (locs <= hi + tol)]


def _labels_fit(axis: Any, vmin: float, vmax: float, locs: Any) -> bool:
    """Whether the labels of the ticks ``locs`` that lie in [vmin, vmax] fit along the
    axis at its drawn length, :data:`_TICK_GAP` apart.  Labels are measured with the
    axis's formatter and tick-label font (in points, so the answer does not depend on
    the output's dpi)."""
    from matplotlib import cbook
    from matplotlib.textpath import text_to_path

    ax = axis.axes
    fig = ax.get_figure(root=True)
    lo, hi = sorted((float(vmin), float(vmax)))
    shown = _inside(locs, lo, hi)
    if len(shown) < 2 or fig is None or not axis.majorTicks:
        return True
    scale = axis.get_transform()
    ends, pos = (scale.transform(np.asarray(v, float).reshape(-1, 1)).ravel()
                 for v in ([lo, hi], shown))
    horizontal = axis.axis_name == "x"
    length = (ax.bbox.width if horizontal else ax.bbox.height) * 72.0 / fig.dpi
    if not (np.all(np.isfinite(pos)) and ends[1] > ends[0] and length > 0):
        return True
    pos = (pos - ends[0]) / (ends[1] - ends[0]) * length
    prop = axis.majorTicks[0].label1.get_fontproperties()
    size = prop.get_size_in_points()
    texts = axis.major.formatter.format_ticks(list(shown))
    if horizontal:
        extent = np.array([text_to_path.get_text_width_height_descent(
            t, prop, ismath=cbook.is_math_text(t))[0] if t else 0.0 for t in texts])
    else:  # stacked labels: one line height each
        extent = np.array([1.2 * size if t else 0.0 for t in texts])
    keep = extent > 0
    pos, extent = pos[keep], extent[keep]
    need = (extent[1:] + extent[:-1]) / 2 + _TICK_GAP[axis.axis_name] * size
    return bool(np.all(np.diff(pos) >= need))


def _first_fitting(axis: Any, vmin: float, vmax: float, candidates: list[np.ndarray]
                   ) -> np.ndarray:
    """The first candidate tick set (finest first) whose labels fit; failing all of
    them, the coarsest one's middle tick alone (one label always fits)."""
    for locs in candidates:
        if axis is None or _labels_fit(axis, vmin, vmax, locs):
            return locs
    shown = _inside(candidates[-1], *sorted((vmin, vmax)))
    return shown[len(shown) // 2:][:1] if len(shown) else candidates[-1]


@functools.cache
def _locator_classes() -> tuple[type, type]:
    """The two fitted locators (classes made on first use: matplotlib is imported only
    when a figure is drawn)."""
    from matplotlib.ticker import LogLocator, MaxNLocator

    class Memo:
        """The last answer, kept: matplotlib asks a locator for its ticks dozens of times
        per drawing, for the same view at the same size."""

        _last: tuple[Any, np.ndarray] | None = None
        axis: Any

        def _memo(self, vmin: float, vmax: float, compute: Callable[[], Any]) -> Any:
            key: tuple[Any, ...] = (vmin, vmax)
            if self.axis is not None:
                box = self.axis.axes.bbox
                key += (box.width, box.height, self.axis.get_figure(root=True).dpi,
                        id(self.axis.major.formatter))
            if self._last is None or self._last[0] != key:
                self._last = (key, compute())
            return self._last[1]

    class LinearTicks(Memo, MaxNLocator):
        """Round ticks (1, 2, 2.5, 5 × 10^k steps; whole numbers with ``integer``):
        at most ``most`` intervals (by default matplotlib's density for the axis's
        length, at most 9), fewer when the labels would touch."""

        def __init__(self, *, integer: bool = False, most: int | None = None) -> None:
            super().__init__(nbins=most or 9, steps=[1, 2, 2.5, 5, 10], integer=integer)
            self.most = most

        def tick_values(self, vmin: float, vmax: float) -> Any:
            return self._memo(vmin, vmax, lambda: self._fitted(vmin, vmax))

        def _fitted(self, vmin: float, vmax: float) -> Any:
            most = self.most or 9
            if self.most is None and self.axis is not None:
                most = int(min(most, max(1, self.axis.get_tick_space())))
            candidates: list[np.ndarray] = []
            for n in range(most, 0, -1):
                self.set_params(nbins=n)
                locs = np.asarray(super().tick_values(vmin, vmax), float)
                if not any(np.array_equal(locs, c) for c in candidates):
                    candidates.append(locs)
            self.set_params(nbins=self.most or 9)
            return _first_fitting(self.axis, vmin, vmax, candidates)

    class LogTicks(Memo, LogLocator):
        """Log ticks at 1-2-5, then 1-3, then 1 × 10^k, then every 2nd, 3rd, … power of
        ten: the finest set whose labels fit at the axis's drawn size.  Within about one
        decade (fewer than two such ticks in view), round linear ticks, as matplotlib's
        own log locator does."""

        def __init__(self) -> None:
            super().__init__(base=10.0)

        def tick_values(self, vmin: float, vmax: float) -> Any:
            lo, hi = sorted((float(vmin), float(vmax)))
            if self.axis is None or not (lo > 0 and np.isfinite(hi)):
                return super().tick_values(vmin, vmax)
            return self._memo(lo, hi, lambda: self._fitted(lo, hi))

        def _fitted(self, lo: float, hi: float) -> Any:
            e0, e1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
            candidates = []
            for subs in ((1.0, 2.0, 5.0), (1.0, 3.0), (1.0,)):
                locs = np.array([s * 10.0 ** e for e in range(e0, e1 + 1) for s in subs])
                if len(_inside(locs, lo, hi)) >= 2:
                    candidates.append(_inside(locs, lo, hi))
            if not candidates:
                linear = LinearTicks()
                linear.set_axis(self.axis)
                return linear.tick_values(lo, hi)
            for stride in (2, 3, 4, 5, 10, 20, 50, 100):
                locs = _inside([10.0 ** e for e in range(e0, e1 + 1) if e % stride == 0],
                               lo, hi)
                if len(locs):
                    candidates.append(locs)
                if len(locs) < 2:
                    break
            return _first_fitting(self.axis, lo, hi, candidates)

    return LinearTicks, LogTicks


def _plain(v: float, _pos: Any = None) -> str:
    return f"{v:g}"


def _scales(ax: Axes, *, logx: bool = False, logy: bool = False, integer_x: bool = False,
            integer_y: bool = False) -> None:
    """Log axes (plain-number labels) and integer axes, their ticks thinned to what fits."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    linear_ticks, log_ticks = _locator_classes()
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    for axis, log, integer in ((ax.xaxis, logx, integer_x), (ax.yaxis, logy, integer_y)):
        if integer:  # at most ~6 whole-number ticks: small facets stay legible
            axis.set_major_locator(linear_ticks(integer=True, most=5))
        elif log:
            axis.set_major_locator(log_ticks())
            axis.set_major_formatter(FuncFormatter(_plain))
            axis.set_minor_formatter(NullFormatter())


def _fit_ticks(axes: Iterable[Axes]) -> None:
    """Default (automatic) linear ticks become fitted ones, so that no two tick labels
    touch whatever the panel's size; locators a figure chose itself are kept."""
    from matplotlib.ticker import AutoLocator

    linear_ticks, _ = _locator_classes()
    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            if type(axis.get_major_locator()) is AutoLocator and axis.get_scale() == "linear":
                axis.set_major_locator(linear_ticks())
