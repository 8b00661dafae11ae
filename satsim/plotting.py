"""Figures from result tables (seaborn/matplotlib; never imported by ``import satsim``).

:func:`build` turns a :class:`satsim.study.FigureSpec` and the study's tables into a
matplotlib figure with one consistent theme, labelled axes (units in the labels)
and a title; the caption travels with the spec into the report.  Kinds:

``line``     y vs x per ``hue``; ``options``: ``band=(lo, hi)`` columns for a CI band,
             ``ref`` a column drawn dashed (a prediction or bound), ``logx``/``logy``
``scatter``  y vs x per ``hue``; ``identity=True`` adds y = x
``hist``     pre-binned: ``x`` = bin centre, ``y`` = density; ``ref`` = overlay density
``qq``       sample vs theoretical quantiles per ``hue`` with the identity line
``heatmap``  ``options["value"]`` over the (x, y) grid; ``contour=(column, level)`` and
             ``line=(x, y)`` columns of another table (``line_table``) overlay curves
``bar``      y per x (and hue), ``options["err"]=(lo, hi)`` error bars
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # headless: reports are rendered to files

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from satsim._namespace import public_dir

if TYPE_CHECKING:
    from satsim.study import FigureSpec

__all__ = ["KINDS", "build", "to_data_uri", "to_png"]

__dir__ = public_dir(globals())

KINDS = ("line", "scatter", "hist", "qq", "heatmap", "bar")
_THEME = {"style": "whitegrid", "context": "paper", "palette": "colorblind"}


def _groups(frame: pd.DataFrame, hue: str | None) -> list[tuple[Any, pd.DataFrame]]:
    if hue is None:
        return [(None, frame)]
    return list(frame.groupby(hue, sort=False))


def build(spec: FigureSpec, tables: dict[str, pd.DataFrame]) -> Figure:
    """Draw ``spec`` from ``tables``; return the matplotlib Figure."""
    if spec.kind not in KINDS:
        raise ValueError(f"figure kind must be one of {KINDS}; got {spec.kind!r}")
    if spec.table not in tables:
        raise ValueError(f"figure {spec.id!r} needs table {spec.table!r}, which the study "
                         f"does not have (tables: {sorted(tables)})")
    frame = tables[spec.table]
    opts = dict(spec.options or {})
    sns.set_theme(**_THEME)
    fig, ax = plt.subplots(figsize=opts.get("size", (6.4, 3.8)))
    if spec.kind in ("line", "scatter", "qq"):
        for label, g in _groups(frame, spec.hue):
            g = g.sort_values(spec.x) if spec.kind == "line" else g
            lab = None if label is None else str(label)
            if spec.kind == "line":
                (line,) = ax.plot(g[spec.x], g[spec.y], marker=opts.get("marker", "o"),
                                  markersize=3, label=lab)
                if "band" in opts:
                    lo, hi = opts["band"]
                    ax.fill_between(g[spec.x], g[lo], g[hi], alpha=0.2, color=line.get_color())
                if "ref" in opts:
                    ax.plot(g[spec.x], g[opts["ref"]], ls="--", color=line.get_color(), lw=1)
            else:
                ax.scatter(g[spec.x], g[spec.y], s=opts.get("s", 12), label=lab, alpha=0.8)
        if spec.kind == "qq" or opts.get("identity"):
            lims = [min(frame[spec.x].min(), frame[spec.y].min()),
                    max(frame[spec.x].max(), frame[spec.y].max())]
            ax.plot(lims, lims, color="0.3", lw=1, ls=":", label="y = x")
    elif spec.kind == "hist":
        for label, g in _groups(frame, spec.hue):
            g = g.sort_values(spec.x)
            (line,) = ax.step(g[spec.x], g[spec.y], where="mid",
                              label=None if label is None else str(label))
            if "ref" in opts:
                ax.plot(g[spec.x], g[opts["ref"]], ls="--", color=line.get_color(), lw=1)
    elif spec.kind == "heatmap":
        value = opts["value"]
        grid = frame.pivot_table(index=spec.y, columns=spec.x, values=value)
        xs, ys = grid.columns.to_numpy(float), grid.index.to_numpy(float)
        mesh = ax.pcolormesh(xs, ys, grid.to_numpy(), shading="nearest",
                             cmap=opts.get("cmap", "viridis"),
                             vmax=opts.get("vmax"), vmin=opts.get("vmin"))
        fig.colorbar(mesh, ax=ax, label=opts.get("value_label", value))
        if "contour" in opts:
            col, level = opts["contour"]
            cgrid = frame.pivot_table(index=spec.y, columns=spec.x, values=col)
            ax.contour(xs, ys, cgrid.to_numpy(), levels=[level], colors="white", linewidths=1.2)
        if "line_table" in opts:
            lt = tables[opts["line_table"]]
            lx, ly = opts["line"]
            ax.plot(lt[lx], lt[ly], color=opts.get("line_color", "red"), lw=1.5,
                    label=opts.get("line_label"))
    else:  # bar
        sns.barplot(data=frame, x=spec.x, y=spec.y, hue=spec.hue, ax=ax, errorbar=None)
        if "err" in opts:
            lo, hi = opts["err"]
            # the bars are the axes' Rectangle patches, in drawing order
            bars = [p for p in ax.patches if isinstance(p, Rectangle)]
            centers = [p.get_x() + p.get_width() / 2 for p in bars][: len(frame)]
            if len(centers) == len(frame):
                ax.errorbar(centers, frame[spec.y], yerr=[frame[spec.y] - frame[lo],
                            frame[hi] - frame[spec.y]], fmt="none", ecolor="0.2", capsize=3)
        ax.tick_params(axis="x", rotation=opts.get("rotate", 0))
    if opts.get("logx"):
        ax.set_xscale("log")
    if opts.get("logy"):
        ax.set_yscale("log")
    ax.set_xlabel(spec.xlabel)
    ax.set_ylabel(spec.ylabel)
    ax.set_title(spec.title)
    _, labels = ax.get_legend_handles_labels()
    if labels:
        ax.legend(title=spec.hue, fontsize=7, title_fontsize=7)
    fig.tight_layout()
    return fig


def to_png(fig: Figure, dpi: int = 110) -> bytes:
    """PNG bytes of a figure (closes it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def to_data_uri(png: bytes) -> str:
    """A ``data:`` URI embedding PNG bytes (for self-contained HTML)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
