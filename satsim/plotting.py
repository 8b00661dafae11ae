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
log axes get plain-number tick labels; legend titles and entries are words; one colour
per initializer across the whole report (:func:`color_for`).  Figures are vector
(SVG, :func:`to_svg`, text kept as text) except where a raster is the better choice
(:class:`HeatmapPlot`, ``raster = True``: :func:`to_png`).

Kinds: :class:`LinePlot`, :class:`ScatterPlot`, :class:`DensityPlot`,
:class:`QQPlot`, :class:`HeatmapPlot`, :class:`BarPlot`, :class:`SaturationHero`.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import math
import re
from collections.abc import Iterator, Mapping, Sequence
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

    def column_fields(self) -> tuple[str, ...]:
        """Names of the fields that hold column names of :attr:`table`."""
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
        """Draw onto ``fig`` (or a new figure) and return it."""
        frame = self._frame(tables)
        with style():
            if fig is None:
                from matplotlib.figure import Figure as MplFigure

                fig = MplFigure(figsize=self.size, layout="constrained")
            self._draw(fig, frame, tables)
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
    """Rebuild a figure from :meth:`Plot.to_dict` (unknown kinds and fields name
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
    for key in ("size", "band", "errors"):
        if isinstance(d.get(key), list):
            d[key] = tuple(d[key])
    return cls(**d)


KINDS = ("line", "scatter", "density", "qq", "heatmap", "bar", "saturation_hero")


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
    ncols = min(n, wrap)
    nrows = math.ceil(n / ncols)
    axes = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return list(axes[:n])


def _label(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        raise TypeError("a legend entry would read True/False: give the series a column of "
                        "words instead")
    return str(value)


def _adaptive_log_locator() -> Any:
    """Log ticks at 1, 2, 5 × 10^k over up to ~2.5 decades, and at powers of ten (at most
    ~7 of them, skipping decades if need be) beyond: labels never crowd."""
    import numpy as np
    from matplotlib.ticker import LogLocator

    class _Adaptive(LogLocator):
        def tick_values(self, vmin: float, vmax: float) -> Any:
            if vmin > 0 and vmax > 0 and np.isfinite(vmin) and np.isfinite(vmax):
                span = abs(math.log10(vmax) - math.log10(vmin))
                if span <= 2.5:
                    self.set_params(subs=(1.0, 2.0, 5.0), numticks=8)
                else:
                    self.set_params(subs=(1.0,), numticks=7)
            return super().tick_values(vmin, vmax)

    return _Adaptive(base=10, subs=(1.0, 2.0, 5.0), numticks=8)


def _scales(ax: Axes, *, logx: bool = False, logy: bool = False, integer_x: bool = False,
            integer_y: bool = False) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    def plain(v: float, _pos: Any) -> str:
        return f"{v:g}"

    if logx:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(_adaptive_log_locator())
        ax.xaxis.set_major_formatter(FuncFormatter(plain))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, p: ""))
    if logy:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(_adaptive_log_locator())
        ax.yaxis.set_major_formatter(FuncFormatter(plain))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, p: ""))
    # at most ~6 integer ticks: small facets stay legible
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    if integer_y:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))


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


# --------------------------------------------------------------------------- kinds
@_kind
@dataclasses.dataclass(frozen=True, kw_only=True)
class LinePlot(Plot):
    """``y`` against ``x``, one line per ``hue`` value, one panel per ``col`` value.

    ``band=(low, high)`` shades an interval; ``ref`` draws a second column dashed in the
    same colour (a prediction or a bound), labelled ``ref_label`` in the legend.
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
        panels = _panels(frame, self.col)
        axes = _grid(fig, len(panels), sharex=True, sharey=self.sharey)
        handles: dict[str, Any] = {}
        for ax, (pval, pframe) in zip(axes, panels, strict=True):
            groups = _groups(pframe, self.hue)
            if len(groups) > MAX_SERIES:
                raise ValueError(f"figure {self.id!r}: {len(groups)} series on one axes "
                                 f"(at most {MAX_SERIES}); facet with `col`")
            for i, (label, g) in enumerate(groups):
                g = g.sort_values(self.x)
                color = color_for(label, i)
                (line,) = ax.plot(g[self.x], g[self.y], marker=self.marker or None,
                                  markersize=3, lw=1.5, color=color)
                if label is not None:
                    handles.setdefault(_label(label), line)
                if self.band is not None:
                    lo, hi = self.band
                    ax.fill_between(g[self.x], g[lo], g[hi], alpha=0.2, color=color, lw=0)
                if self.ref is not None:
                    ax.plot(g[self.x], g[self.ref], ls="--", lw=1.2, color=color, zorder=3)
            _scales(ax, logx=self.logx, logy=self.logy, integer_x=self.integer_x)
            if pval is not None:
                ax.set_title(f"{self.col} = {pval}" if not isinstance(pval, str) else pval,
                             fontsize=9)
            ax.set_xlabel(self.xlabel)
        axes[0].set_ylabel(self.ylabel)
        sh, sl = _style_handles(self.measured_label, self.ref_label if self.ref else None)
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
class SaturationHero(Plot):
    """The picture the argument is about: σ(z) and σ′(z) on top, below them the
    density of z under each initializer (``hue`` values of :attr:`table`, one row
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


def _plot_proportion(res: Any, ax: Axes | None) -> Axes:
    """The saturated fraction with its interval (and per-unit fractions if kept)."""
    ax = _axes(ax, (5.0, 2.4))
    per_unit = np.asarray(getattr(res, "per_unit", np.array([])), float).ravel()
    if per_unit.size > 1:
        ax.hist(per_unit, bins=min(40, max(5, per_unit.size // 5)), color=_CB[0], alpha=0.4,
                density=True, label="per unit")
    ax.axvspan(res.ci_low, res.ci_high, color=_CB[3], alpha=0.2, lw=0,
               label=f"{100 * res.confidence_level:g}% CI ({res.method})")
    ax.axvline(res.estimate, color=_CB[3], lw=1.5, label=f"estimate {res.estimate:.3g}")
    ax.set_xlabel(f"saturated fraction ({res.activation}, {res.criterion})")
    ax.legend(loc="upper right", fontsize=8)
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


_RESULT_PLOTS = {
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


def plot_result(res: Any, ax: Any = None) -> Any:
    """Draw a result (what its ``.plot(ax=None)`` does); returns the Axes."""
    draw = _RESULT_PLOTS.get(type(res).__name__)
    if draw is None:
        raise TypeError(f"{type(res).__name__} has nothing to plot; plottable results: "
                        f"{sorted(_RESULT_PLOTS)}")
    with style():
        return draw(res, ax)
