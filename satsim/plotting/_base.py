"""The figure base class, its registry of kinds, and the helpers the kinds share:
panels, groups, legends, coinciding series (see :mod:`satsim.plotting`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

from satsim.plotting._style import (
    style,
)
from satsim.plotting._ticks import (
    _fit_ticks,
)


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
    themselves and the valid ones).

    Parameters
    ----------
    d : Mapping[str, Any]
        The figure's fields plus its ``"kind"`` (one of :data:`KINDS`), as written by
        ``Plot.to_dict()`` (possibly after a JSON round trip: lists given for the
        tuple fields ``size``, ``band``, ``errors`` and ``interval`` become tuples).
        It is not modified.

    Returns
    -------
    Plot
        A new figure of the class registered for ``d["kind"]``, built from the other
        entries (and validated by that class).

    Raises
    ------
    ValueError
        If ``d["kind"]`` is missing or is not a known kind; the message lists the kinds.
    TypeError
        If ``d`` has a field the kind does not have; the message lists the valid fields.
    """
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
