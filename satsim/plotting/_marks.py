"""The figure kinds: one frozen dataclass per kind (see :mod:`satsim.plotting`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

from satsim.plotting._base import (
    Plot,
    _coinciding,
    _grid,
    _groups,
    _interleave,
    _kind,
    _label,
    _legend,
    _panels,
    _span,
    _style_handles,
)
from satsim.plotting._style import (
    MAX_SERIES,
    color_for,
)
from satsim.plotting._ticks import (
    _scales,
)


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
