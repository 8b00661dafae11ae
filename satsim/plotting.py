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

import base64
import contextlib
import dataclasses
import functools
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from satsim._namespace import public_dir

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

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

#: more series than this on one axes cannot be told apart: facet instead
MAX_SERIES = 8

_CB = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4",
       "#949494", "#ece133", "#56b4e9"]  # seaborn "colorblind"
_EXTRA = ["#1b4f72", "#7d3c98", "#117864", "#922b21", "#b7950b", "#34495e"]


def _initializer_names() -> tuple[str, ...]:
    from satsim import init

    return init.names()


def color_for(label: Any, fallback: int = 0) -> str:
    """The colour of a series: fixed per initializer across the whole report.

    A label that is, or contains as a word, a registered initializer's name gets
    that initializer's colour; any other label gets the ``fallback``-th colour.
    """
    names = _initializer_names()
    palette = _CB + _EXTRA
    text = str(label)
    words = re.split(r"[^A-Za-z0-9_]+", text)
    for i, name in enumerate(names):
        if name == text or name in words:
            return palette[i % len(palette)]
    return palette[fallback % len(palette)]


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The report's look, for the drawing inside the block only (``rc_context``)."""
    import matplotlib as mpl
    import seaborn as sns

    rc = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper", font_scale=1.1),
          "svg.fonttype": "none",  # SVG text stays text: selectable, searchable
          "font.family": "DejaVu Sans", "axes.titleweight": "bold",
          "legend.frameon": False, "figure.dpi": 100}
    with mpl.rc_context(rc):
        yield


# --------------------------------------------------------------------------- base
def _check_str(name: str, value: Any, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or (not optional and not value):
        raise TypeError(f"`{name}` must be a non-empty string; got {name}={value!r}")


def _drawable_text(name: str, value: str) -> str:
    """Text the figure draws, composed (NFC); a combining mark left over (an "L" with
    U+0302 has no precomposed form) is an error: SVG text in a browser and matplotlib's
    own renderers draw it as a separate mark ("L◌"), and so does mathtext's ``\\hat``."""
    import unicodedata

    text = unicodedata.normalize("NFC", value)
    for i, c in enumerate(text):
        if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me"):
            after = f" after {text[i - 1]!r}" if i else ""
            raise ValueError(
                f"`{name}` has the combining character U+{ord(c):04X} "
                f"({unicodedata.name(c, 'unnamed')}){after}, which the figure would draw as "
                f"a separate mark: write it in words; got {name}={value!r}")
    return text


def _is_text_field(name: str) -> bool:
    """Fields holding text the figure draws (titles, axis and legend labels)."""
    return name in ("title", "xlabel", "ylabel", "labels") or name.endswith(("_label",
                                                                               "_title"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Plot:
    """Fields every figure has: which table, the title and caption, axis labels."""

    KIND: ClassVar[str] = ""
    #: drawn as PNG (dense images) rather than SVG
    raster: ClassVar[bool] = False

    id: str
    table: str
    title: str
    caption: str
    xlabel: str = ""
    ylabel: str = ""
    size: tuple[float, float] = (6.4, 3.6)

    def __post_init__(self) -> None:
        for name in ("id", "table", "title", "caption"):
            _check_str(name, getattr(self, name))
        for name in ("xlabel", "ylabel"):
            _check_str(name, getattr(self, name), optional=True)
        if (not isinstance(self.size, tuple | list) or len(self.size) != 2
                or not all(isinstance(v, int | float) and v > 0 for v in self.size)):
            raise ValueError(f"`size` must be (width, height) in inches; got size={self.size!r}")
        object.__setattr__(self, "size", tuple(float(v) for v in self.size))
        for name in self.column_fields():
            value = getattr(self, name)
            cols = value if isinstance(value, tuple | list) else [value]
            for c in cols:
                _check_str(name, c, optional=True)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not _is_text_field(f.name) or value is None:
                continue
            if isinstance(value, str):
                object.__setattr__(self, f.name, _drawable_text(f.name, value))
            elif isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
                object.__setattr__(self, f.name,
                                   tuple(_drawable_text(f.name, v) for v in value))

    def column_fields(self) -> tuple[str, ...]:
        """Names of the fields that hold column names of ``table``."""
        return ()

    def columns(self) -> list[str]:
        out: list[str] = []
        for name in self.column_fields():
            value = getattr(self, name)
            for c in (value if isinstance(value, tuple | list) else [value]):
                if c is not None and c not in out:
                    out.append(c)
        return out

    def _frame(self, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        if self.table not in tables:
            raise ValueError(f"figure {self.id!r} needs table {self.table!r}; the tables are "
                             f"{sorted(tables)}")
        frame = tables[self.table]
        missing = [c for c in self.columns() if c not in frame.columns]
        if missing:
            raise ValueError(f"figure {self.id!r}: table {self.table!r} has no column(s) "
                             f"{missing}; it has {list(frame.columns)}")
        return frame

    def render(self, tables: Mapping[str, pd.DataFrame], *, fig: Figure | None = None
               ) -> Figure:
        """Draw onto ``fig`` (or a new figure) and return it (``ValueError`` when the
        table has no rows: there is nothing to draw)."""
        frame = self._frame(tables)
        if frame.empty:
            raise ValueError(f"figure {self.id!r}: table {self.table!r} has no rows")
        with style():
            if fig is None:
                from matplotlib.figure import Figure as MplFigure

                fig = MplFigure(figsize=self.size, layout="constrained")
            self._draw(fig, frame, tables)
            _fit_ticks(fig.axes)
            if self.title:
                fig.suptitle(self.title, fontweight="bold")
        return fig

    def _draw(self, fig: Figure, frame: pd.DataFrame,
              tables: Mapping[str, pd.DataFrame]) -> None:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["kind"] = self.KIND
        return d


_KINDS: dict[str, type[Plot]] = {}


def _kind(cls: type[Plot]) -> type[Plot]:
    _KINDS[cls.KIND] = cls
    return cls


def figure_from_dict(d: Mapping[str, Any]) -> Plot:
    """Rebuild a figure from ``Plot.to_dict()`` (unknown kinds and fields name
    themselves and the valid ones)."""
    d = dict(d)
    kind = d.pop("kind", None)
    if kind not in _KINDS:
        raise ValueError(f"figure kind must be one of {sorted(_KINDS)}; got kind={kind!r}")
    cls = _KINDS[kind]
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - valid)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {unknown}; valid fields: "
                        f"{sorted(valid)}")
    for key in ("size", "band", "errors", "interval"):
        if isinstance(d.get(key), list):
            d[key] = tuple(d[key])
    return cls(**d)


KINDS = ("line", "scatter", "density", "qq", "heatmap", "bar", "interval",
         "saturation_hero")


# --------------------------------------------------------------------------- helpers
def _panels(frame: pd.DataFrame, col: str | None) -> list[tuple[Any, pd.DataFrame]]:
    if col is None:
        return [(None, frame)]
    return list(frame.groupby(col, sort=False))


def _groups(frame: pd.DataFrame, hue: str | None) -> list[tuple[Any, pd.DataFrame]]:
    if hue is None:
        return [(None, frame)]
    return list(frame.groupby(hue, sort=False))


def _grid(fig: Figure, n: int, *, sharex: bool, sharey: bool, wrap: int = 3) -> list[Axes]:
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    ncols = min(n, wrap)
    nrows = math.ceil(n / ncols)
    axes = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=False).ravel()
    engine = fig.get_layout_engine()
    if ncols > 1 and isinstance(engine, ConstrainedLayoutEngine):
        # side-by-side panels: the last x label of one and the first of the next
        # would otherwise read as one number ("125 0")
        engine.set(w_pad=0.08)
    for ax in axes[n:]:
        ax.set_visible(False)
    return list(axes[:n])


def _label(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        raise TypeError("a legend entry would read True/False: give the series a column of "
                        "words instead")
    return str(value)


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


def _legend(fig: Figure, handles: list, labels: list[str], title: str | None) -> None:
    if not handles:
        return
    # outside the axes, right of them: a legend never covers data
    fig.legend(handles, labels, loc="outside right center", title=title, fontsize=8,
               title_fontsize=8)


def _style_handles(measured: str, ref: str | None) -> tuple[list, list[str]]:
    from matplotlib.lines import Line2D

    if ref is None:
        return [], []
    return ([Line2D([], [], color="0.3", lw=1.5), Line2D([], [], color="0.3", lw=1.2, ls="--")],
            [measured, ref])


# --------------------------------------------------------------------------- coinciding series
#: two curves closer than this fraction of the panel's y range at every x are drawn on
#: top of each other (about a line width on a report-sized panel)
_COINCIDE = 0.015


def _coinciding(curves: Sequence[tuple[pd.Series, pd.Series]], *, span: float, log: bool
                ) -> dict[int, tuple[int, int]]:
    """Curves that would hide each other: index → (its place j, size k) in its group.

    Two curves coincide when they have the same x values and their y values differ by
    at most :data:`_COINCIDE` × ``span`` everywhere (log10 y on a log axis); groups are
    what "coincide" links, in the curves' order.  Curves in no group are left out.
    """
    def values(y: pd.Series) -> np.ndarray:
        v = np.asarray(y, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(np.where(v > 0, v, np.nan)) if log else v

    xs = [np.asarray(x, float) for x, _ in curves]
    ys = [values(y) for _, y in curves]
    tol = _COINCIDE * span
    parent = list(range(len(curves)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a in range(len(curves)):
        for b in range(a + 1, len(curves)):
            same_nan = np.array_equal(np.isnan(ys[a]), np.isnan(ys[b]))
            if (same_nan and np.array_equal(xs[a], xs[b]) and len(xs[a])
                    and np.nanmax(np.abs(ys[a] - ys[b]), initial=0.0) <= tol):
                parent[root(b)] = root(a)
    groups: dict[int, list[int]] = {}
    for i in range(len(curves)):
        groups.setdefault(root(i), []).append(i)
    return {i: (j, len(g)) for g in groups.values() if len(g) > 1 for j, i in enumerate(g)}


def _span(frame: pd.DataFrame, columns: Sequence[str], *, log: bool) -> float:
    """The y range the panel shows (log10 units on a log axis); 1 if it is empty."""
    v = frame[list(columns)].to_numpy(float).ravel()
    v = v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)]
    if log:
        v = np.log10(v)
    return float(v.max() - v.min()) if len(v) and v.max() > v.min() else 1.0


def _interleave(j: int, k: int, *, gaps: bool) -> Any:
    """The line style of the j-th of k coinciding lines: dashes that take turns, so
    every colour shows along the shared path.  Without ``gaps`` the turns join up into
    one solid-looking line of alternating colours; with them they form a dashed line
    of alternating colours (a prediction).  Alone (k = 1): solid or "--"."""
    if k == 1:
        return "--" if gaps else "-"
    on = 3.0  # dash length in line widths (matplotlib scales dashes by the width)
    step = 2 * on if gaps else on
    period = k * step
    return ((period - j * step) % period, (on, period - on))


# --------------------------------------------------------------------------- kinds
@_kind
@dataclasses.dataclass(frozen=True, kw_only=True)
class LinePlot(Plot):
    """``y`` against ``x``, one line per ``hue`` value, one panel per ``col`` value.

    ``band=(low, high)`` shades an interval; ``ref`` draws a second column dashed in the
    same colour (a prediction or a bound), labelled ``ref_label`` in the legend.  Series
    that coincide at the drawn scale (same x, y within :data:`_COINCIDE` of the panel's
    range everywhere; e.g. two initializers of equal variance) take turns along their
    path in alternating dashes, their markers nested, so every one of them shows.
    """

    KIND: ClassVar[str] = "line"
    x: str
    y: str
    hue: str | None = None
    col: str | None = None
    band: tuple[str, str] | None = None
    ref: str | None = None
    ref_label: str = "prediction"
    measured_label: str = "measured"
    hue_title: str | None = None
    logx: bool = False
    logy: bool = False
    integer_x: bool = False
    marker: str = "o"
    sharey: bool = True

    def column_fields(self) -> tuple[str, ...]:
        return ("x", "y", "hue", "col", "band", "ref")

    def _draw(self, fig: Figure, frame: pd.DataFrame,
              tables: Mapping[str, pd.DataFrame]) -> None:
        from matplotlib.lines import Line2D

        panels = _panels(frame, self.col)
        axes = _grid(fig, len(panels), sharex=True, sharey=self.sharey)
        shown = [c for c in (self.y, self.ref, *(self.band or ())) if c is not None]
        handles: dict[str, Any] = {}
        coinciding: set[str] = set()  # which kinds of line ("solid", "dashed") coincide
        for ax, (pval, pframe) in zip(axes, panels, strict=True):
            groups = [(label, g.sort_values(self.x)) for label, g in _groups(pframe, self.hue)]
            if len(groups) > MAX_SERIES:
                raise ValueError(f"figure {self.id!r}: {len(groups)} series on one axes "
                                 f"(at most {MAX_SERIES}); facet with `col`")
            # series that would hide one another take turns along their shared path
            # (and their markers nest), so each of them shows
            span = _span(frame if self.sharey else pframe, shown, log=self.logy)
            solid = _coinciding([(g[self.x], g[self.y]) for _, g in groups], span=span,
                                log=self.logy)
            dashed = _coinciding([(g[self.x], g[self.ref]) for _, g in groups], span=span,
                                 log=self.logy) if self.ref is not None else {}
            coinciding |= {kind for kind, found in (("solid", solid), ("dashed", dashed))
                           if found}
            for i, (label, g) in enumerate(groups):
                color = color_for(label, i)
                j, k = solid.get(i, (0, 1))
                ax.plot(g[self.x], g[self.y], ls=_interleave(j, k, gaps=False),
                        marker=self.marker or None, markersize=3 + 1.5 * (k - 1 - j), lw=1.5,
                        color=color)
                if label is not None:
                    handles.setdefault(_label(label), Line2D(
                        [], [], color=color, lw=1.5, marker=self.marker or None, markersize=3))
                if self.band is not None:
                    lo, hi = self.band
                    ax.fill_between(g[self.x], g[lo], g[hi], alpha=0.2, color=color, lw=0)
                if self.ref is not None:
                    j, k = dashed.get(i, (0, 1))
                    ax.plot(g[self.x], g[self.ref], ls=_interleave(j, k, gaps=True), lw=1.2,
                            color=color, zorder=3)
            _scales(ax, logx=self.logx, logy=self.logy, integer_x=self.integer_x)
            if pval is not None:
                ax.set_title(f"{self.col} = {pval}" if not isinstance(pval, str) else pval,
                             fontsize=9)
            ax.set_xlabel(self.xlabel)
        axes[0].set_ylabel(self.ylabel)
        sh, sl = _style_handles(self.measured_label, self.ref_label if self.ref else None)
        if coinciding:  # the key to the alternating colours, drawn as they are
            gaps = "solid" not in coinciding
            sh.append(tuple(Line2D([], [], color=c, lw=1.5, ls=_interleave(j, 2, gaps=gaps))
                            for j, c in enumerate(("0.15", "0.65"))))
            sl.append("coinciding lines: colours alternate")
        _legend(fig, [*handles.values(), *sh], [*handles, *sl], self.hue_title)


@_kind
@dataclasses.dataclass(frozen=True, kw_only=True)
class ScatterPlot(Plot):
    """Points ``y`` against ``x`` (per ``hue``); ``identity`` adds the line y = x."""

    KIND: ClassVar[str] = "scatter"
    x: str
    y: str
    hue: str | None = None
    hue_title: str | None = None
    identity: bool = False
    logx: bool = False
    logy: bool = False

    def column_fields(self) -> tuple[str, ...]:
        return ("x", "y", "hue")

    def _draw(self, fig: Figure, frame: pd.DataFrame,
              tables: Mapping[str, pd.DataFrame]) -> None:
        from matplotlib.lines import Line2D

        ax = fig.subplots()
        groups = _groups(frame, self.hue)
        handles: list[Any] = []
        labels: list[str] = []
        for i, (label, g) in enumerate(groups):
            sc = ax.scatter(g[self.x], g[self.y], s=18, color=color_for(label, i), alpha=0.85,
                            zorder=3)
            if label is not None:
                handles.append(sc)
                labels.append(_label(label))
        if self.identity:
            vals = pd.concat([frame[self.x], frame[self.y]]).astype(float)
            vals = vals[np.isfinite(vals) & ((vals > 0) if (self.logx or self.logy) else True)]
            lims = [float(vals.min()), float(vals.max())]
            ax.plot(lims, lims, color="0.35", lw=1, ls=":", zorder=2)
            handles.append(Line2D([], [], color="0.35", lw=1, ls=":"))
            labels.append("y = x")
        _scales(ax, logx=self.logx, logy=self.logy)
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        _legend(fig, handles, labels, self.hue_title)


@_kind
@dataclasses.dataclass(frozen=True, kw_only=True)
class DensityPlot(Plot):
    """Pre-binned densities (``x`` = bin centre, ``y`` = density), one panel per ``col``
    value, each on its own scale; ``ref`` overlays a reference density (dashed, drawn
    on top so it stays visible)."""

    KIND: ClassVar[str] = "density"
    x: str
    y: str
    col: str | None = None
    ref: str | None = None
    ref_label: str = "fitted normal"
    measured_label: str = "Monte Carlo"

    def column_fields(self) -> tuple[str, ...]:
        return ("x", "y", "col", "ref")

    def _draw(self, fig: Figure, frame: pd.DataFrame,
              tables: Mapping[str, pd.DataFrame]) -> None:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        panels = _panels(frame, self.col)
        axes = _grid(fig, len(panels), sharex=False, sharey=False)
        for i, (ax, (pval, g)) in enumerate(zip(axes, panels, strict=True)):
            g = g.sort_values(self.x)
            color = color_for(pval, i)
            ax.fill_between(g[self.x], g[self.y], step="mid", alpha=0.35, color=color, lw=0)
            ax.step(g[self.x], g[self.y], where="mid", color=color, lw=1)
            if self.ref is not None:
                ax.plot(g[self.x], g[self.ref], ls="--", lw=1.4, color="black", zorder=4)
            if pval is not None:
                ax.set_title(str(pval), fontsize=9)
            ax.set_xlabel(self.xlabel)
        axes[0].set_ylabel(self.ylabel)
        handles: list = [Patch(color="0.55", alpha=0.5)]
        labels = [self.measured_label]
        if self.ref is not None:
            handles.append(Line2D([], [], ls="--", lw=1.4, color="black"))
            labels.append(self.ref_label)
        _legend(fig, handles, labels, None)


@_kind
@dataclasses.dataclass(frozen=True, kw_only=True)
class QQPlot(Plot):
    """Sample against theoretical quantiles, one panel per ``col`` value, with y = x."""

    KIND: ClassVar[str] = "qq"
    x: str
    y: str
    col: str | None = None

    def column_fields(self) -> tuple[str, ...]:
        return ("x", "y", "col")

    def _draw(self, fig: Figure, frame: pd.DataFrame,
              tables: Mapping[str, pd.DataFrame]) -> None:
        from matplotlib.lines import Line2D

        panels = _panels(frame, self.col)
        axes = _grid(fig, len(panels), sharex=False, sharey=False)
        for i, (ax, (pval, g)) in enumerate(zip(axes, panels, strict=True)):
            ax.scatter(g[self.x], g[self.y], s=8, color=color_for(pval, i), alpha=0.8, zorder=3)
            lims = [float(min(g[self.x].min(), g[self.y].min())),
                    float(max(g[self.x].max(), g[self.y].max()))]
            ax.plot(lims, lims, color="0.3", lw=1, ls=":", zorder=2)
            if pval is not None:
                ax.set_title(str(pval), fontsize=9)
            ax.set_xlabel(self.xlabel)
        axes[0].set_ylabel(self.ylabel)
        _legend(fig, [Line2D([], [], color="0.3", lw=1, ls=":")], ["y = x"], None)


@_kind
@dataclasses.dataclass(frozen=True, kw_only=True)
class HeatmapPlot(Plot):
    """``value`` over the (``x``, ``y``) grid, with an optional curve from another
    table (``line_table``: columns ``line_x``, ``line_y``).  Drawn as a raster."""

    KIND: ClassVar[str] = "heatmap"
    raster: ClassVar[bool] = True
    x: str
    y: str
    value: str
    value_label: str = ""
    line_table: str | None = None
    line_x: str | None = None
    line_y: str | None = None
    line_label: str = ""
    cmap: str = "viridis"
    vmax: float | None = None

    def column_fields(self) -> tuple[str, ...]:
        return ("x", "y", "value")

    def _draw(self, fig: Figure, frame: pd.DataFrame,
              tables: Mapping[str, pd.DataFrame]) -> None:
        from matplotlib.lines import Line2D

        ax = fig.subplots()
        grid = frame.pivot_table(index=self.y, columns=self.x, values=self.value)
        xs, ys = grid.columns.to_numpy(float), grid.index.to_numpy(float)
        mesh = ax.pcolormesh(xs, ys, grid.to_numpy(), shading="nearest", cmap=self.cmap,
                             vmax=self.vmax, rasterized=True)
        fig.colorbar(mesh, ax=ax, label=self.value_label or self.value)
        if self.line_table is not None:
            if self.line_table not in tables:
                raise ValueError(f"figure {self.id!r} needs table {self.line_table!r}")
            lt = tables[self.line_table]
            inside = (lt[self.line_x] >= xs.min()) & (lt[self.line_x] <= xs.max())
            ax.plot(lt[self.line_x][inside], lt[self.line_y][inside], color="red", lw=1.8)
            ax.set_xlim(xs.min(), xs.max())
            _legend(fig, [Line2D([], [], color="red", lw=1.8)], [self.line_label], None)
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)


@_kind
@dataclasses.dataclass(frozen=True, kw_only=True)
class BarPlot(Plot):
    """Horizontal bars of ``value`` per ``category`` (long labels stay readable), with
    ``errors=(low, high)`` interval whiskers, ``marker`` a second column drawn as a
    diamond (a prediction), and ``reference`` a vertical line (e.g. ratio 1)."""

    KIND: ClassVar[str] = "bar"
    category: str
    value: str
    hue: str | None = None
    hue_title: str | None = None
    errors: tuple[str, str] | None = None
    marker: str | None = None
    marker_label: str = "prediction"
    reference: float | None = None

    def column_fields(self) -> tuple[str, ...]:
        return ("category", "value", "hue", "errors", "marker")

    def _draw(self, fig: Figure, frame: pd.DataFrame,
              tables: Mapping[str, pd.DataFrame]) -> None:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        ax = fig.subplots()
        n = len(frame)
        pos = np.arange(n)[::-1]
        hues = frame[self.hue].map(_label) if self.hue else pd.Series([None] * n)
        levels = list(dict.fromkeys(hues))
        colors = [color_for(h, levels.index(h)) if self.hue else color_for(c, 0)
                  for h, c in zip(hues, frame[self.category], strict=True)]
        ax.barh(pos, frame[self.value], color=colors, alpha=0.8, height=0.7)
        if self.errors is not None:
            lo, hi = self.errors
            v = frame[self.value].to_numpy(float)
            ax.errorbar(v, pos, xerr=[v - frame[lo].to_numpy(float),
                                      frame[hi].to_numpy(float) - v],
                        fmt="none", ecolor="0.15", capsize=3, lw=1, zorder=4)
        handles: list = []
        labels: list[str] = []
        if self.hue:
            for i, h in enumerate(levels):
                handles.append(Patch(color=color_for(h, i), alpha=0.8))
                labels.append(str(h))
        if self.marker is not None:
            ax.scatter(frame[self.marker], pos, marker="D", s=30, color="black", zorder=5)
            handles.append(Line2D([], [], marker="D", ls="", color="black"))
            labels.append(self.marker_label)
        if self.reference is not None:
            ax.axvline(self.reference, color="0.3", lw=1, ls=":")
        ax.set_yticks(pos, [str(c) for c in frame[self.category]])
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        ax.grid(axis="y", visible=False)
        _legend(fig, handles, labels, self.hue_title)


@_kind
@dataclasses.dataclass(frozen=True, kw_only=True)
class IntervalPlot(Plot):
    """One labelled row per ``category`` value (a forest plot): ``value`` as a point
    with its ``interval=(low, high)`` whisker, ``marker`` a second column drawn across
    it as a thin black bar (a prediction), ``reference`` a vertical line, ``logx`` for
    values that span decades.  Every point says what it is, however many rows there
    are and however close their values (a scatter of them needs a legend entry per
    point, and hides equal ones)."""

    KIND: ClassVar[str] = "interval"
    category: str
    value: str
    interval: tuple[str, str] | None = None
    marker: str | None = None
    value_label: str = "estimate"
    marker_label: str = "prediction"
    reference: float | None = None
    logx: bool = False

    def column_fields(self) -> tuple[str, ...]:
        return ("category", "value", "interval", "marker")

    def _draw(self, fig: Figure, frame: pd.DataFrame,
              tables: Mapping[str, pd.DataFrame]) -> None:
        from matplotlib.lines import Line2D

        if self.logx:
            drawn = [self.value, *(self.interval or ())] + ([self.marker] if self.marker else [])
            for c in drawn:
                low = float(frame[c].min())
                if not low > 0:
                    raise ValueError(f"figure {self.id!r}: `logx` needs positive values; "
                                     f"column {c!r} has {low:g}")
        ax = fig.subplots()
        pos = np.arange(len(frame))[::-1]
        names = [_label(c) for c in frame[self.category]]
        colors = [color_for(c, i) for i, c in enumerate(names)]
        v = frame[self.value].to_numpy(float)
        handle: Any = Line2D([], [], color="0.3", marker="o", ls="", markersize=5)
        if self.interval is not None:
            lo, hi = (frame[c].to_numpy(float) for c in self.interval)
            ax.hlines(pos, lo, hi, colors=colors, lw=1.6, zorder=2)
            for end in (lo, hi):  # caps
                ax.scatter(end, pos, marker="|", s=40, c=colors, linewidths=1.4, zorder=2)
            handle = Line2D([], [], color="0.3", marker="o", lw=1.6, markersize=5)
        ax.scatter(v, pos, s=30, c=colors, zorder=3)
        handles: list = [handle]
        labels = [self.value_label]
        if self.marker is not None:
            # a thin bar across the row: a prediction on top of its estimate leaves
            # the point and its whisker visible on either side
            ax.scatter(frame[self.marker], pos, marker="|", s=150, color="black",
                       linewidths=1.3, zorder=4)
            handles.append(Line2D([], [], marker="|", ls="", color="black", markersize=11,
                                  markeredgewidth=1.3))
            labels.append(self.marker_label)
        if self.reference is not None:
            ax.axvline(self.reference, color="0.3", lw=1, ls=":")
        _scales(ax, logx=self.logx)
        ax.set_yticks(pos, names)
        ax.set_ylim(-0.7, len(frame) - 0.3)
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        ax.grid(axis="y", visible=False)
        _legend(fig, handles, labels, None)


@_kind
@dataclasses.dataclass(frozen=True, kw_only=True)
class SaturationHero(Plot):
    """The picture the argument is about: σ(z) and σ′(z) on top, below them the
    density of z under each initializer (``hue`` values of ``table``, one row
    each) on the same z axis, the saturated region |z| > ``threshold`` shaded and
    each initializer's predicted saturated fraction (``predictions`` table:
    ``hue`` → ``prediction``) written on its row."""

    KIND: ClassVar[str] = "saturation_hero"
    x: str = "z"
    y: str = "density"
    hue: str = "initializer"
    ref: str | None = None
    predictions: str = ""
    prediction: str = "predicted_saturated"
    labels: tuple[str, ...] = ()
    threshold: float = 4.59512
    activation: str = "sigmoid"
    zlim: float = 60.0
    size: tuple[float, float] = (6.8, 5.2)

    def column_fields(self) -> tuple[str, ...]:
        return ("x", "y", "hue", "ref")

    def _draw(self, fig: Figure, frame: pd.DataFrame,
              tables: Mapping[str, pd.DataFrame]) -> None:
        from satsim import activations

        groups = _groups(frame, self.hue)
        pred = tables[self.predictions].set_index(self.hue)[self.prediction] \
            if self.predictions else None
        axes = fig.subplots(1 + len(groups), 1, sharex=True,
                            gridspec_kw={"height_ratios": [1.1] + [1] * len(groups)})
        act = activations.get(self.activation)
        z = np.linspace(-self.zlim, self.zlim, 2001)
        top = axes[0]
        top.plot(z, act.fn(z), color="black", lw=1.5, label=f"{self.activation}(z)")
        top.plot(z, act.grad(z), color="black", lw=1.2, ls="--",
                 label=f"{self.activation}′(z)")
        top.set_ylabel("output")
        top.legend(loc="center right", fontsize=8, frameon=True, framealpha=0.9)
        for i, (label, g) in enumerate(groups):
            ax = axes[1 + i]
            g = g.sort_values(self.x)
            g = g[(g[self.x] >= -self.zlim) & (g[self.x] <= self.zlim)]
            color = color_for(label, i)
            ax.fill_between(g[self.x], g[self.y], step="mid", color=color, alpha=0.45, lw=0)
            ax.step(g[self.x], g[self.y], where="mid", color=color, lw=1)
            ax.set_ylabel("density")
            name = self.labels[i] if i < len(self.labels) else str(label)
            text = name
            if pred is not None and label in pred.index:
                text += f"\npredicted saturated: {100 * float(pred[label]):.3g}%"
            ax.text(0.99, 0.92, text, transform=ax.transAxes, ha="right", va="top",
                    fontsize=8.5, bbox={"facecolor": "white", "alpha": 0.85, "lw": 0})
            ax.set_ylim(0, float(g[self.y].max()) * 1.25 if len(g) else 1)
        for ax in axes:
            for side in (-1, 1):
                lo, hi = sorted((side * self.threshold, side * self.zlim))
                ax.axvspan(lo, hi, color="#d55e00", alpha=0.08, lw=0)
        axes[0].text(0.01, 0.95, f"shaded: saturated (|z| > {self.threshold:.3g})",
                     transform=axes[0].transAxes, fontsize=8, va="top", color="#a04000")
        axes[-1].set_xlabel(self.xlabel or "z")
        axes[-1].set_xlim(-self.zlim, self.zlim)


# --------------------------------------------------------------------------- output
def _prefix_ids(svg: str, prefix: str) -> str:
    """Make an SVG's ids unique in a page that inlines several figures."""
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', svg)


def to_svg(fig: Figure, *, prefix: str = "fig") -> str:
    """SVG markup of a figure (text as text; ids prefixed with ``prefix``)."""
    import matplotlib as mpl

    buf = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and doctype for inlining
    return _prefix_ids(text, prefix)


def to_png(fig: Figure, dpi: int = 130) -> bytes:
    """PNG bytes of a figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def to_data_uri(payload: bytes, mime: str = "image/png") -> str:
    """A ``data:`` URI embedding bytes (for self-contained HTML)."""
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")


# --------------------------------------------------------------------------- results
def _axes(ax: Axes | None, size: tuple[float, float] = (6.0, 3.6)) -> Axes:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(figsize=size, layout="constrained").subplots()


def _plot_preactivation(res: Any, ax: Axes | None) -> Axes:
    """Monte Carlo density of z (histogram) with the closed-form normal (dashed)."""
    ax = _axes(ax)
    edges, counts = np.asarray(res.hist_edges, float), np.asarray(res.hist_counts, float)
    widths = np.diff(edges)
    density = counts / (max(res.n, 1) * widths)
    ax.stairs(density, edges, fill=True, alpha=0.4, color=_CB[0], label="Monte Carlo")
    z = np.linspace(edges[0], edges[-1], 400)
    s = math.sqrt(res.theory_var) if res.theory_var > 0 else float("nan")
    if np.isfinite(s) and s > 0:
        ax.plot(z, np.exp(-0.5 * ((z - res.theory_mean) / s) ** 2) / (s * math.sqrt(2 * math.pi)),
                ls="--", color="black", lw=1.3, label=f"N({res.theory_mean:.3g}, {s:.3g}²)")
    ax.set_xlabel("z = w·x + b")
    ax.set_ylabel("density")
    ax.legend(loc="upper right", fontsize=8, frameon=True)
    return ax


def _plot_sum_variance(res: Any, ax: Axes | None) -> Axes:
    """The variance ratio with its CI against 1 (and the equivalence margin)."""
    ax = _axes(ax, (5.0, 1.8))
    ax.errorbar([res.ratio], [0], xerr=[[res.ratio - res.ci_low], [res.ci_high - res.ratio]],
                fmt="o", color=_CB[3] if res.reject else _CB[0], capsize=4)
    ax.axvline(1.0, color="0.3", ls=":", lw=1)
    if res.margin:
        ax.axvspan(1 - res.margin, 1 + res.margin, color=_CB[2], alpha=0.12, lw=0,
                   label=f"equivalence margin ±{res.margin:g}")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_yticks([])
    ax.set_xlabel(f"Var(Σ X) / Σ Var(X) with {100 * (1 - res.alpha):g}% CI ({res.method})")
    return ax


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _proportion_window(lo: float, hi: float, estimate: float) -> tuple[float, float]:
    """The x range that shows an interval: the interval and a third of its width on
    either side, kept inside [0, 1] but for a small margin, so that neither a negative
    proportion nor a point on the spine shows."""
    width = hi - lo
    pad = width / 3 if width > 0 else max(abs(estimate) / 10, 1e-12)
    margin = (width + 2 * pad) / 20
    return max(lo - pad, -margin), min(hi + pad, 1 + margin)


def _plot_proportion(res: Any, ax: Axes | None) -> Axes:
    """The proportion as a point with its confidence interval (error bar), on an axis
    scaled to the interval, the numbers written above it: 1.75e-4 reads as well as
    0.837 (tiny proportions are labelled in units of a power of ten)."""
    from matplotlib.ticker import FuncFormatter

    ax = _axes(ax, (5.0, 1.7))
    est, lo, hi = float(res.estimate), float(res.ci_low), float(res.ci_high)
    left, right = _proportion_window(lo, hi, est)
    ax.errorbar([est], [0], xerr=[[est - lo], [hi - est]], fmt="o", color=_CB[3],
                markersize=6, capsize=6, lw=1.6, zorder=3)
    ax.set_xlim(left, right)
    ax.set_ylim(-1, 1.4)
    ax.set_yticks([])
    ax.grid(axis="y", visible=False)
    label = f"saturated fraction ({res.activation}, {res.criterion})"
    exponent = math.floor(math.log10(right)) if 0 < right < 0.01 else 0
    unit = 10.0 ** exponent
    if exponent:
        # "0.00015" and a "1e-4" offset in the corner are hard to read: ticks in units
        label += f", in units of 10{str(exponent).translate(_SUPERSCRIPT)}"
    ax.xaxis.set_major_locator(_locator_classes()[0]())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _plain(round(v / unit, 12))))
    ax.set_xlabel(label)
    text = (f"estimate {est:.3g}; {100 * res.confidence_level:g}% CI [{lo:.3g}, {hi:.3g}] "
            f"({res.method}, n = {res.n:,})")
    per_unit = np.asarray(getattr(res, "per_unit", np.array([])), float).ravel()
    if per_unit.size > 1:
        text += (f"\nper unit: median {np.median(per_unit):.3g}, range "
                 f"{per_unit.min():.3g} to {per_unit.max():.3g} ({per_unit.size:,} units)")
    ax.text(0.5, 0.95, text, transform=ax.transAxes, ha="center", va="top", fontsize=8)
    return ax


def _deep_title(res: Any) -> str:
    """The title, e.g. "tanh, nielsen, width 500"; per-layer entries joined
    ("tanh/relu", "widths 300-100-10"; a LayerMomentsResult's "sizes 784-300-100-10")."""

    def names(v: Any) -> str:
        return v if isinstance(v, str) else "/".join(dict.fromkeys(v))

    sizes = getattr(res, "sizes", None)
    if sizes is not None:
        shape = "sizes " + "-".join(map(str, sizes))
    elif isinstance(res.width, int):
        shape = f"width {res.width}"
    else:
        shape = "widths " + "-".join(map(str, res.width))
    return f"{names(res.activation)}, {names(res.weights)}, {shape}"


def _plot_deep(res: Any, ax: Axes | None) -> Axes:
    """Saturated fraction per layer (band) with the mean-field prediction (dashed);
    a prediction alone (LayerMomentsResult) draws only the dashed line."""
    ax = _axes(ax)
    t = res.to_frame()
    if "saturated" in t.columns:
        ax.plot(t.layer, t.saturated, marker="o", color=_CB[0], label="measured")
    if {"saturated_ci_low", "saturated_ci_high"} <= set(t.columns):
        ax.fill_between(t.layer, t.saturated_ci_low, t.saturated_ci_high, color=_CB[0],
                        alpha=0.2, lw=0)
    if "saturated_predicted" in t.columns:
        ax.plot(t.layer, t.saturated_predicted, ls="--", color="black", label="mean field")
    _scales(ax, integer_x=True)
    ax.set_xlabel("layer")
    ax.set_ylabel("saturated fraction")
    ax.set_title(_deep_title(res), fontsize=9)
    ax.legend(fontsize=8)
    return ax


def _plot_phase(res: Any, ax: Axes | None) -> Axes:
    """χ1 over (σ_w², σ_b²) with the critical line χ1 = 1."""
    ax = _axes(ax)
    t = res.to_frame()
    grid = t.pivot_table(index="bias_variance", columns="weight_variance", values="chi1")
    xs, ys = grid.columns.to_numpy(float), grid.index.to_numpy(float)
    mesh = ax.pcolormesh(xs, ys, grid.to_numpy(), shading="nearest", cmap="coolwarm",
                         rasterized=True)
    ax.figure.colorbar(mesh, ax=ax, label="χ1")
    if grid.to_numpy().min() < 1 < grid.to_numpy().max():
        ax.contour(xs, ys, grid.to_numpy(), levels=[1.0], colors="black", linewidths=1.2)
    ax.set_xlabel("σ_w²")
    ax.set_ylabel("σ_b²")
    ax.set_title(f"{res.activation}: order (χ1 < 1) and chaos (χ1 > 1)", fontsize=9)
    return ax


def _plot_history(res: Any, ax: Any) -> Any:
    """Accuracy, cost and saturation per epoch (three panels; one given Axes: accuracy)."""
    e = res.epochs_frame()
    if ax is None:
        from matplotlib.figure import Figure as MplFigure

        axes = MplFigure(figsize=(9.0, 2.8), layout="constrained").subplots(1, 3)
    elif isinstance(ax, Sequence | np.ndarray):
        axes = list(ax)
    else:
        axes = [ax]
    panels = [("accuracy", ["train_accuracy", "validation_accuracy"]),
              ("cost", ["train_cost", "validation_cost"])]
    for a, (name, cols) in zip(axes, panels, strict=False):
        for i, c in enumerate(cols):
            if c in e and e[c].notna().any():
                a.plot(e.epoch, e[c], marker="o", ms=3, color=_CB[i], label=c.split("_")[0])
        a.set_ylabel(name)
    if len(axes) >= 3:
        layers = pd.DataFrame(res.layers)
        if len(layers) and "saturated" in layers:
            for i, (layer, g) in enumerate(layers.groupby("layer")):
                axes[2].plot(g.epoch, g.saturated, marker="o", ms=3, color=_CB[i % 10],
                             label=f"layer {layer}")
        axes[2].set_ylabel("saturated fraction")
    for a in axes:
        a.set_xlabel("epoch")
        _scales(a, integer_x=True)
        if a.get_legend_handles_labels()[1]:
            a.legend(fontsize=8)
    return axes if len(axes) > 1 else axes[0]


def _plot_gradients(res: Any, ax: Axes | None) -> Axes:
    """Per-layer ‖δ^l‖²/N_l (band: CI over networks) with the mean-field backward
    recursion (dashed), log scale."""
    ax = _axes(ax)
    t = res.to_frame()
    ax.plot(t.layer, t.delta_sq, marker="o", color=_CB[0], label="measured ‖∂C/∂z‖²/N")
    if t.delta_sq_ci_low.notna().all():
        ax.fill_between(t.layer, t.delta_sq_ci_low.clip(lower=1e-300), t.delta_sq_ci_high,
                        color=_CB[0], alpha=0.2, lw=0)
    ax.plot(t.layer, t.delta_sq_predicted, ls="--", color="black", label="mean field")
    ax.set_yscale("log")
    _scales(ax, integer_x=True)
    ax.set_xlabel("layer")
    ax.set_ylabel("gradient second moment per unit")
    ax.set_title(f"{res.activation}, {res.weights}, sizes {'-'.join(map(str, res.sizes))}",
                 fontsize=9)
    ax.legend(fontsize=8)
    return ax


def _plot_jacobian(res: Any, ax: Axes | None) -> Axes:
    """Normalised variance of the Jacobian's squared singular values against depth
    (error bars: CI over networks) with the free-probability line (dashed)."""
    ax = _axes(ax)
    t = res.to_frame()
    v, lo, hi = t.normalized_variance, t.normalized_variance_ci_low, t.normalized_variance_ci_high
    yerr = None
    if lo.notna().all():
        yerr = np.vstack([(v - lo).to_numpy(), (hi - v).to_numpy()])
    ax.errorbar(t.depth, v, yerr=yerr, fmt="o", color=_CB[0], capsize=3, label="measured")
    ax.plot(t.depth, t.normalized_variance_predicted, ls="--", color="black",
            label="free probability")
    _scales(ax, integer_x=True)
    ax.set_xlabel("depth L")
    ax.set_ylabel("Var(s²) / E(s²)²")
    ax.set_title(f"{res.activation}, {res.weights} weights, width {res.width}, "
                 f"χ1 = {res.chi1:.3g}", fontsize=9)
    ax.legend(fontsize=8)
    return ax


def _plot_layer_jacobian(res: Any, ax: Axes | None) -> Axes:
    """Mean singular value of each layer's Jacobian per initializer (markers) with
    the prediction (dashed)."""
    ax = _axes(ax)
    t = res.to_frame()
    for i, (name, g) in enumerate(_groups(t, "weights")):
        color = color_for(name, i)
        ax.plot(g.layer, g.mean_sv, marker="o", color=color, label=f"{name}")
        ax.plot(g.layer, g.mean_sv_predicted, ls="--", color=color)
    _scales(ax, integer_x=True)
    ax.set_xlabel("layer")
    ax.set_ylabel("mean singular value of ∂x^l/∂x^(l−1)")
    ax.set_title(f"{res.activation}, width {res.width} (dashed: prediction)", fontsize=9)
    ax.legend(fontsize=8)
    return ax


def _plot_layer_statistics(res: Any, ax: Axes | None, value: str = "saturated") -> Axes:
    """A torch model's measured ``value`` per layer with its interval (dots and
    whiskers) and the prediction (diamonds), layers top to bottom in forward order."""
    frame = res.table
    if value == "saturated":
        frame = frame[frame["activation"].notna()]
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(6.0, 1.2 + 0.4 * len(frame)), layout="constrained").subplots()
    pos = np.arange(len(frame))[::-1]
    v = frame[value].to_numpy(float)
    err = [v - frame[f"{value}_ci_low"].to_numpy(float),
           frame[f"{value}_ci_high"].to_numpy(float) - v]
    ax.errorbar(v, pos, xerr=err, fmt="o", capsize=3,
                label=f"measured ({100 * res.confidence_level:g}% CI)")
    ax.scatter(frame[f"{value}_predicted"], pos, marker="D", color="black", zorder=5,
               label="predicted")
    ax.set_yticks(pos, list(frame["layer"]))
    ax.set_xlabel(value.replace("_", " "))
    ax.legend(loc="best", fontsize=8)
    return ax


_RESULT_PLOTS = {
    "LayerStatisticsResult": _plot_layer_statistics,
    "PreactivationResult": _plot_preactivation,
    "SumVarianceResult": _plot_sum_variance,
    "ProportionResult": _plot_proportion,
    "DeepPropagationResult": _plot_deep,
    "LayerMomentsResult": _plot_deep,
    "PhaseDiagramResult": _plot_phase,
    "History": _plot_history,
    "GradientMomentsResult": _plot_gradients,
    "JacobianSpectrumResult": _plot_jacobian,
    "LayerJacobianResult": _plot_layer_jacobian,
}


def plot_result(res: Any, ax: Any = None, **kwargs: Any) -> Any:
    """Draw a result (what its ``.plot(ax=None, **kwargs)`` does; the keywords are the
    result's own, validated by its ``plot``); returns the Axes."""
    draw = _RESULT_PLOTS.get(type(res).__name__)
    if draw is None:
        raise TypeError(f"{type(res).__name__} has nothing to plot; plottable results: "
                        f"{sorted(_RESULT_PLOTS)}")
    with style():
        from matplotlib.axes import Axes as MplAxes

        out = draw(res, ax, **kwargs)
        _fit_ticks([out] if isinstance(out, MplAxes) else list(np.ravel(out)))
    return out
