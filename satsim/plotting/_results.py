"""``.plot()`` of satsim's results: the plotting backend the results call by name
(:data:`satsim._results.PLOT_BACKEND`), so compute modules never import plotting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

from satsim.plotting._base import (
    _groups,
)
from satsim.plotting._style import (
    _CB,
    color_for,
    style,
)
from satsim.plotting._ticks import (
    _fit_ticks,
    _locator_classes,
    _plain,
    _scales,
)


# --------------------------------------------------------------------------- results
def new_figure(size: tuple[float, float]) -> Any:
    """A new figure for ``.plot()`` with no Axes given.

    Inside IPython (a Jupyter notebook, an IPython shell) through pyplot, so the figure
    shows the way pandas' and seaborn's do (the inline backend displays it at the end
    of the cell); anywhere else a bare matplotlib ``Figure``, which touches no global
    state (the report, worker processes, scripts: save it with ``ax.figure.savefig``)."""
    import sys

    ipython = sys.modules.get("IPython")
    if ipython is not None and ipython.get_ipython() is not None:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=size, layout="constrained")
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def _axes(ax: Axes | None, size: tuple[float, float] = (6.0, 3.6)) -> Axes:
    if ax is not None:
        return ax
    return new_figure(size).subplots()


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
        axes = new_figure((9.0, 2.8)).subplots(1, 3)
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
        ax = new_figure((6.0, 1.2 + 0.4 * len(frame))).subplots()
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
    result's own, validated by its ``plot``); returns the Axes.

    The drawing is done inside :func:`style` and its tick labels are thinned so that
    none touch.

    Parameters
    ----------
    res : object
        The result to draw: a ``LayerStatisticsResult``, ``PreactivationResult``,
        ``SumVarianceResult``, ``ProportionResult``, ``DeepPropagationResult``,
        ``LayerMomentsResult``, ``PhaseDiagramResult``, ``History``,
        ``GradientMomentsResult``, ``JacobianSpectrumResult`` or ``LayerJacobianResult``
        (chosen by its class name).
    ax : matplotlib.axes.Axes or sequence of Axes, optional
        Where to draw; ``None`` (the default) draws on a new figure: inside IPython
        (a notebook) a pyplot figure, so it shows at the end of the cell; elsewhere a
        bare matplotlib ``Figure`` (no global state).  A ``History`` takes up to three
        Axes (accuracy, cost, saturated fraction); one Axes gets the accuracy panel only.
    **kwargs
        Passed to the result's drawing function; only ``LayerStatisticsResult`` takes
        one, ``value`` (the column drawn, default ``"saturated"``).

    Returns
    -------
    matplotlib.axes.Axes or list of Axes
        The Axes drawn on; a list of them for a ``History`` drawn on more than one.

    Raises
    ------
    TypeError
        If ``res`` is of a class that has nothing to plot (the message lists those that
        have), or if ``kwargs`` holds a keyword its drawing function does not take.
    """
    draw = _RESULT_PLOTS.get(type(res).__name__)
    if draw is None:
        raise TypeError(f"{type(res).__name__} has nothing to plot; plottable results: "
                        f"{sorted(_RESULT_PLOTS)}")
    with style():
        from matplotlib.axes import Axes as MplAxes

        out = draw(res, ax, **kwargs)
        _fit_ticks([out] if isinstance(out, MplAxes) else list(np.ravel(out)))
    return out
