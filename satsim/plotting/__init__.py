"""Typed figures: one small class per kind, drawn from tidy tables onto matplotlib.

Each figure is a frozen dataclass whose fields say what to draw (columns of a study's
table, labels, scales); a misspelt field is a ``TypeError`` naming it
(:func:`figure_from_dict` lists the valid ones).  :meth:`Plot.render` draws onto a
given matplotlib ``Figure`` (or a new one) inside a style context and returns it; the
report, the studies and users call the same classes.  Nothing here calls
``matplotlib.use`` or changes global rcParams or the seaborn theme: the style is a
``matplotlib.rc_context`` around each drawing, and matplotlib itself is imported only
when a figure is drawn (``import satsim.plotting`` is cheap).

Conventions every kind follows: at most :data:`MAX_SERIES` series per axes (more is
an error: facet with ``col`` instead); legends are figure legends outside the axes,
so they never cover data; integer quantities (epoch, layer, depth) get integer ticks;
log axes get plain-number tick labels; ticks are thinned to what the labels leave room
for at the drawn size, so no two tick labels touch; lines that would hide one another
take turns (alternating dashes, nested markers, a key in the legend); legend titles
and entries are words; drawn text has no combining characters (fonts draw them as a
separate mark); one colour per initializer across the whole report (:func:`color_for`).
Figures are vector (SVG, :func:`to_svg`, text kept as text) except where a raster is
the better choice (:class:`HeatmapPlot`, ``raster = True``: :func:`to_png`).

Kinds: :class:`LinePlot`, :class:`ScatterPlot`, :class:`DensityPlot`,
:class:`QQPlot`, :class:`HeatmapPlot`, :class:`BarPlot`, :class:`IntervalPlot`,
:class:`SaturationHero`.
"""

from __future__ import annotations

from satsim._namespace import public_dir
from satsim.plotting._base import (
    KINDS,
    Plot,
    figure_from_dict,
)
from satsim.plotting._marks import (
    BarPlot,
    DensityPlot,
    HeatmapPlot,
    IntervalPlot,
    LinePlot,
    QQPlot,
    SaturationHero,
    ScatterPlot,
)
from satsim.plotting._output import (
    to_data_uri,
    to_png,
    to_svg,
)
from satsim.plotting._results import (
    plot_result,
)
from satsim.plotting._style import (
    MAX_SERIES,
    color_for,
    style,
)

__all__ = [
    "KINDS",
    "MAX_SERIES",
    "BarPlot",
    "DensityPlot",
    "HeatmapPlot",
    "IntervalPlot",
    "LinePlot",
    "Plot",
    "QQPlot",
    "SaturationHero",
    "ScatterPlot",
    "color_for",
    "figure_from_dict",
    "plot_result",
    "style",
    "to_data_uri",
    "to_png",
    "to_svg",
]

__dir__ = public_dir(globals())
